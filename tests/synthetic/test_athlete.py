"""The synthetic athlete: shapes, proportions, faults and ground truth."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.analyze.kinematics import compute_kinematics
from pipeline.common.landmarks import INDEX
from pipeline.synthetic.athlete import EXERCISES, FAULTS, simulate


def _seg(xyz, a, b):
    return np.linalg.norm(xyz[:, INDEX[a]] - xyz[:, INDEX[b]], axis=-1)


@pytest.mark.parametrize("exercise", EXERCISES)
def test_session_shape_and_rigid_segments(exercise):
    s = simulate(exercise, 3, fps=30.0, seed=1, height=1.8)
    T = len(s.t)
    assert s.xyz.shape == (T, 33, 3) and s.xyz.dtype == np.float32
    assert np.allclose(np.diff(s.t), 1 / 30.0)
    assert len(s.labels) == 3 and s.rep_frames.shape == (3, 3)
    assert (np.diff(s.rep_frames, axis=1) > 0).all() and (np.diff(s.rep_frames[:, 0]) > 0).all()
    # bones keep their length in every frame (walking included)
    for a, b, frac in (("left_hip", "left_knee", 0.245), ("right_knee", "right_ankle", 0.246)):
        L = _seg(s.xyz, a, b)
        assert np.ptp(L) < 1e-4 and L[0] == pytest.approx(frac * 1.8, rel=1e-3)
    # feet on the floor, head above everything when standing
    assert s.xyz[..., 2].min() >= 0.0
    assert s.xyz[0, INDEX["nose"], 2] > s.xyz[0, INDEX["left_shoulder"], 2] > s.xyz[0, INDEX["left_hip"], 2]


def test_height_scales_the_body():
    small, tall = simulate("hinge_drill", 1, height=1.5, seed=2), simulate("hinge_drill", 1, height=1.95, seed=2)
    ratio = _seg(tall.xyz, "left_hip", "left_knee")[0] / _seg(small.xyz, "left_hip", "left_knee")[0]
    assert ratio == pytest.approx(1.95 / 1.5, rel=1e-3)
    legs = simulate("hinge_drill", 1, height=1.7, leg_ratio=1.1, seed=2)
    assert _seg(legs.xyz, "left_hip", "left_knee")[0] == pytest.approx(0.245 * 1.7 * 1.1, rel=1e-3)


def test_standing_athlete_faces_plus_x_and_yaw_turns_it():
    s = simulate("deadlift", 1, seed=0)
    toe_minus_heel = s.xyz[0, INDEX["left_foot_index"]] - s.xyz[0, INDEX["left_heel"]]
    assert toe_minus_heel[0] > 0.15 and s.xyz[0, INDEX["left_hip"], 1] > s.xyz[0, INDEX["right_hip"], 1]
    r = simulate("deadlift", 1, seed=0, yaw_deg=90, position=(1.0, 2.0))
    assert np.allclose(r.facing, [0, 1], atol=1e-9)
    # the yawed session is the same motion, rotated and moved
    rot = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1.0]])
    assert np.allclose(s.xyz @ rot.T + [1.0, 2.0, 0.0], r.xyz, atol=1e-5)


def test_reps_go_down_and_back_up_and_truth_matches_the_model():
    s = simulate("romanian_deadlift", 4, seed=3)
    hip = s.truth["hip_flex"]
    for a, b, e in s.rep_frames:
        assert hip[b] > 70 and hip[a] < 10 and hip[e] < 10
    # the truth is what the analysis would measure on perfect landmarks
    kin = compute_kinematics(s.xyz, s.t)
    sel = ~s.truth["walking"]
    assert np.nanmax(np.abs(kin["hip_flex"].to_numpy()[sel] - hip[sel])) < 1.0
    assert np.nanmax(np.abs(kin["knee_flex"].to_numpy()[sel] - s.truth["knee_flex"][sel])) < 0.5
    assert np.nanmax(np.abs(kin["hip_travel"].to_numpy()[sel] - s.truth["hip_travel"][sel])) < 0.005
    # RDL: slow eccentric
    assert (s.body["lowering_s"] > 1.8 * s.body["rising_s"]).all()


def test_faults_change_the_rep_they_are_injected_in():
    clean = simulate("hinge_drill", 3, seed=4)
    bad = simulate("hinge_drill", 3, seed=4, faults={2: ["squatting", "rounded_spine"]})
    assert bad.labels == [set(), {"squatting", "rounded_spine"}, set()]
    assert bad.cue_labels()[1] == {"squat_hinge_confusion", "soft_knee", "neutral_spine", "spinal_flexion"}
    b1, b2 = clean.rep_frames[1, 1], bad.rep_frames[1, 1]
    assert bad.truth["knee_flex"][b2] > clean.truth["knee_flex"][b1] + 30
    # the first rep is untouched by a fault in the second
    a0, _, e0 = clean.rep_frames[0]
    assert np.allclose(clean.xyz[a0:e0], bad.xyz[a0:e0])
    # cue ids work as fault names
    alias = simulate("hinge_drill", 3, seed=4, faults={2: ["soft_knee"]})
    assert alias.labels[1] == {"locked_knees"}


def test_bad_requests_are_refused():
    with pytest.raises(ValueError, match="unknown exercise 'squat'"):
        simulate("squat", 3)
    with pytest.raises(ValueError, match="unknown fault 'wobbly'"):
        simulate("deadlift", 3, faults={1: ["wobbly"]})
    with pytest.raises(ValueError, match="rep 5"):
        simulate("deadlift", 3, faults={5: ["squatting"]})
    with pytest.raises(ValueError, match="kettlebell_swing"):
        simulate("deadlift", 3, faults={1: ["arms_lead"]})
    assert "rounded_spine" in FAULTS


def test_the_spine_runs_between_the_landmarks_and_bends_with_the_rounding_only():
    from pipeline.synthetic.athlete import SpineShape

    a = simulate("deadlift", 3, seed=4, faults={2: ["rounded_spine"]})
    b = simulate("deadlift", 3, seed=4, faults={2: ["rounded_spine"]},
                 spine_shape=SpineShape(lordosis_deg=-28, kyphosis_deg=35, bend_span=(0.05, 0.6)))
    assert np.array_equal(a.xyz, b.xyz)  # the spine's shape never moves a landmark
    hips = 0.5 * (a.xyz[:, INDEX["left_hip"]] + a.xyz[:, INDEX["right_hip"]])
    assert np.abs(a.spine[:, 0] - hips).max() < 1e-5
    assert np.abs(a.spine[:, -1] - a.truth["upper_back_true"]).max() < 1e-5
    assert a.spine.shape == (len(a.t), len(a.spine_sigma), 3)

    def bulge(sim, t):  # the curve's largest distance from its chord (m)
        p, c = sim.spine[t].astype(float), sim.spine[t, -1] - sim.spine[t, 0]
        c = c / np.linalg.norm(c)
        d = (p - p[0]) - np.outer((p - p[0]) @ c, c)
        return np.linalg.norm(d, axis=1).max()
    bottoms = a.rep_frames[:, 1]
    assert a.truth["rho"][bottoms[1]] > 45 > 15 > a.truth["rho"][bottoms[[0, 2]]].max()
    assert bulge(a, bottoms[1]) > 2 * max(bulge(a, bottoms[0]), bulge(a, bottoms[2]))


def test_body_widths_and_a_shrug_are_in_the_truth():
    narrow = simulate("hinge_drill", 1, seed=2, shoulder_width=0.9, hip_width=0.9)
    wide = simulate("hinge_drill", 1, seed=2, shoulder_width=1.1, hip_width=1.2)
    assert _seg(wide.xyz, "left_shoulder", "right_shoulder")[0] / _seg(narrow.xyz, "left_shoulder", "right_shoulder")[0] \
        == pytest.approx(1.1 / 0.9, rel=1e-3)
    assert wide.body["hip_width"] / narrow.body["hip_width"] == pytest.approx(1.2 / 0.9)
    s = simulate("deadlift", 2, seed=5, faults={2: ["shrugged_shoulders"]})
    assert s.truth["shrug_m"][s.rep_frames[1, 1]] > 0.05 > abs(s.truth["shrug_m"][s.rep_frames[0, 1]])
