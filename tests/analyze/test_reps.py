"""Rep segmentation: exact counts through the camera pipeline, pauses, partial reps, walking."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.evaluation.accuracy import observe
from pipeline.analyze.kinematics import compute_kinematics
from pipeline.analyze.reps import NoRepsError, segment_reps
from pipeline.synthetic.athlete import EXERCISES, simulate


def _reps(xyz, sim):
    kin = compute_kinematics(xyz, sim.t, fps=sim.fps, hip_offset_m=0.035)
    return segment_reps(kin["hip_flex"].to_numpy(), sim.fps, standing=kin["standing"].to_numpy())


@pytest.mark.parametrize("exercise", EXERCISES)
def test_rep_count_exact_through_projection_noise_and_triangulation(exercise):
    sim = simulate(exercise, 8, seed=11, faults={3: ["shallow_depth"], 6: ["squatting"]}, yaw_deg=200, height=1.6)
    xyz, path = observe(sim, noise_px=2.0, seed=3)
    reps = _reps(xyz, sim)
    assert len(reps) == 8, path
    found = np.array([r.bottom for r in reps])
    assert np.abs(found - sim.rep_frames[:, 1]).max() <= 0.2 * sim.fps  # bottoms within 0.2 s
    for r, (a, b, e) in zip(reps, sim.rep_frames):
        assert r.start <= b <= r.end and abs(r.start - a) < 0.8 * sim.fps and abs(r.end - e) < 0.8 * sim.fps


def test_long_pauses_at_the_top_and_bottom_do_not_split_or_merge_reps():
    sim = simulate("deadlift", 5, seed=12, top_pause_s=2.5, bottom_pause_s=1.5)
    xyz, _ = observe(sim, seed=1)
    reps = _reps(xyz, sim)
    assert len(reps) == 5
    for r, (a, b, e) in zip(reps, sim.rep_frames):
        lo, hi = r.bottom_window
        assert hi - lo > 0.8 * sim.fps  # the plateau is found, the bottom is its centre
        assert abs(r.bottom - b) <= 3


def test_partial_reps_and_fast_tempo_count():
    sim = simulate("hinge_drill", 9, seed=13, tempo=0.6, faults={2: ["shallow_depth"], 5: ["shallow_depth"], 8: ["shallow_depth"]})
    xyz, _ = observe(sim, seed=2)
    assert len(_reps(xyz, sim)) == 9


def test_walking_in_and_out_is_not_a_rep():
    sim = simulate("romanian_deadlift", 3, seed=14, walk=True)
    assert sim.truth["walking"][:10].all()
    reps = _reps(sim.xyz, sim)
    assert len(reps) == 3
    assert reps[0].start > np.flatnonzero(~sim.truth["walking"])[0]


def test_no_reps_is_an_error_that_says_so():
    sim = simulate("hinge_drill", 1, seed=15)
    xyz = np.repeat(sim.xyz[:1], 200, axis=0)  # standing still
    kin = compute_kinematics(xyz, np.arange(200) / 30.0)
    with pytest.raises(NoRepsError, match="no hinge rep"):
        segment_reps(kin["hip_flex"].to_numpy(), 30.0)


def test_a_rep_over_a_long_gap_is_unreliable():
    sim = simulate("deadlift", 4, seed=16)
    xyz = sim.xyz.copy()
    a, b, e = sim.rep_frames[2]
    xyz[b - 10:b + 10] = np.nan  # 0.67 s of nothing at the bottom of rep 3
    reps = _reps(xyz, sim)
    assert len(reps) == 4
    assert [r.reliable for r in reps] == [True, True, False, True]


@pytest.mark.parametrize("fps", [25.0, 60.0])
def test_frame_rate_does_not_matter(fps):
    sim = simulate("kettlebell_swing", 10, seed=17, fps=fps)
    xyz, _ = observe(sim, seed=4)
    reps = _reps(xyz, sim)
    assert len(reps) == 10
    assert np.abs(np.array([r.bottom for r in reps]) - sim.rep_frames[:, 1]).max() <= 0.1 * fps
