"""Per-frame kinematics against the synthetic athlete's truth."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.analyze.kinematics import centre_of_mass, compute_kinematics, facing_direction, heel_toe_fraction
from pipeline.common.landmarks import INDEX, LR_SWAP
from pipeline.analyze.skeleton import hip_centres, spine_points
from pipeline.synthetic.athlete import simulate

REQUIRED = ("frame, t, hip_flex, knee_flex, trunk_incl, spine_angle, trunk_length_rel, hip_travel, com_heel_toe, "
            "head_x, head_y, head_z, upper_back_x, upper_back_y, upper_back_z, sacrum_x, sacrum_y, sacrum_z").split(", ")


def _bottoms(sim, kin, col):
    return kin[col].to_numpy()[sim.rep_frames[:, 1]]


def test_columns_of_the_data_contract():
    sim = simulate("hinge_drill", 2, seed=0)
    kin = compute_kinematics(sim.xyz, sim.t)
    assert len(kin) == len(sim.t)
    for col in REQUIRED + ["hip_flex_l", "knee_flex_r", "knee_dev_l", "knee_dev_r", "neck_angle", "shoulder_ear_rel"]:
        assert col in kin.columns, col
    assert (kin["frame"].to_numpy() == np.arange(len(sim.t))).all()


def test_spine_points_and_hip_offset():
    sim = simulate("hinge_drill", 1, seed=0)
    sp = spine_points(sim.xyz)
    assert np.allclose(sp["head"], 0.5 * (sim.xyz[:, INDEX["left_ear"]] + sim.xyz[:, INDEX["right_ear"]]))
    # the offset moves the hip centres up the trunk by exactly that distance
    moved = hip_centres(sim.xyz, 0.035) - hip_centres(sim.xyz, 0.0)
    assert np.allclose(np.linalg.norm(moved, axis=-1), 0.035, atol=1e-6)
    up = sp["upper_back"] - sp["sacrum"]
    assert (np.sum(moved[:, 0] * up, axis=-1) > 0).all()


@pytest.mark.parametrize("yaw", [0.0, 137.0, 250.0])
def test_invariant_to_where_the_athlete_faces(yaw):
    ref = simulate("deadlift", 3, seed=5, faults={2: ["knees_caving"]})
    sim = simulate("deadlift", 3, seed=5, faults={2: ["knees_caving"]}, yaw_deg=yaw, position=(0.7, -0.4))
    k0, k1 = compute_kinematics(ref.xyz, ref.t), compute_kinematics(sim.xyz, sim.t)
    for col in ("hip_flex", "knee_flex", "hip_travel", "com_heel_toe", "knee_dev_l", "spine_angle", "trunk_incl"):
        assert np.allclose(k0[col], k1[col], atol=2e-3, equal_nan=True), col
    f = facing_direction(sim.xyz, sim.fps)[sim.rep_frames[:, 1]]
    assert np.allclose(f[:, :2], sim.facing, atol=0.02)


def test_angles_and_travel_match_the_truth():
    sim = simulate("hinge_drill", 4, seed=6, height=1.62)
    kin = compute_kinematics(sim.xyz, sim.t)
    b = sim.rep_frames[:, 1]
    assert np.allclose(_bottoms(sim, kin, "hip_flex"), sim.truth["hip_flex"][b], atol=1.0)
    assert np.allclose(_bottoms(sim, kin, "knee_flex"), sim.truth["knee_flex"][b], atol=0.5)
    assert np.allclose(_bottoms(sim, kin, "hip_travel"), sim.truth["hip_travel"][b], atol=0.005)
    # hinge: the hips travel back and the trunk tilts forward at the bottom
    assert (_bottoms(sim, kin, "hip_travel") > 0.15).all() and (_bottoms(sim, kin, "trunk_incl") > 50).all()
    # standing: angles near zero, trunk at its own length
    still = kin["standing"].to_numpy()
    assert still.sum() > 20
    assert np.abs(kin["hip_flex"][still]).max() < 8 and np.allclose(kin["trunk_length_rel"][still], 1, atol=0.01)


def test_faults_show_in_their_metric():
    sim = simulate("hinge_drill", 5, seed=7, faults={2: ["rounded_spine"], 3: ["knees_caving"], 4: ["weight_on_toes"],
                                                        5: ["shrugged_shoulders"]})
    kin = compute_kinematics(sim.xyz, sim.t)
    b = sim.rep_frames[:, 1]
    short = 1 - kin["trunk_length_rel"].to_numpy()[b]
    assert short[1] > 0.06 > short[0]
    assert kin["spine_angle_dev"].to_numpy()[b][1] > 20 > kin["spine_angle_dev"].to_numpy()[b][0]
    dev = kin["knee_dev"].to_numpy()[b]
    assert dev[2] > 0.1 > dev[0]  # caving is positive, toward the midline
    assert (kin["knee_dev_l"].to_numpy()[b][2] > 0.1) and (kin["knee_dev_r"].to_numpy()[b][2] > 0.1)
    com = kin["com_heel_toe"].to_numpy()[b]
    assert com[3] > 0.6 > com[0]
    se = 1 - kin["shoulder_ear_rel"].to_numpy()[b]
    assert se[4] > 0.25 > se[0]


def test_centre_of_mass_of_a_standing_body():
    sim = simulate("hinge_drill", 1, seed=8, height=1.8, walk=False)
    com = centre_of_mass(sim.xyz[:1])
    # about 55-57 % of height, between the feet, over the foot
    assert 0.53 * 1.8 < com[0, 2] < 0.6 * 1.8 and abs(com[0, 1]) < 0.01
    frac = heel_toe_fraction(com, sim.xyz[:1])
    assert 0.05 < frac[0] < 0.6


def test_missing_landmarks_stay_missing_and_bad_shape_is_refused():
    sim = simulate("deadlift", 2, seed=9)
    xyz = sim.xyz.copy()
    xyz[40:60, INDEX["left_knee"]] = np.nan
    kin = compute_kinematics(xyz, sim.t)
    assert kin["knee_flex_l"][40:60].isna().all() and kin["knee_flex_r"][40:60].notna().all()
    assert kin["knee_flex"][40:60].notna().all()  # the mean uses the side that is there
    with pytest.raises(ValueError, match=r"\(T,33,3\)"):
        compute_kinematics(xyz[:, :17], sim.t)


def test_a_momentary_left_right_swap_does_not_flip_the_angles():
    sim = simulate("hinge_drill", 3, seed=10, yaw_deg=30)
    xyz = sim.xyz.copy()
    frames = sim.rep_frames[:, 1] + np.array([[-3], [0], [4]])  # a few frames around each bottom
    xyz[frames.ravel()] = xyz[frames.ravel()][:, list(LR_SWAP)]
    k0, k1 = compute_kinematics(sim.xyz, sim.t), compute_kinematics(xyz, sim.t)
    for col in ("hip_flex", "knee_flex", "trunk_incl", "hip_travel"):
        assert np.allclose(k0[col], k1[col], atol=0.05), col


def test_knee_bend_is_from_standing_and_an_outlier_ankle_does_not_bend_the_knee():
    sim = simulate("romanian_deadlift", 3, seed=8, faults={2: ["locked_knees"]}, walk=False)
    kin = compute_kinematics(sim.xyz, sim.t)
    stand = sim.truth["progress"] == 0
    b = sim.rep_frames[:, 1]
    expected = sim.truth["knee_flex"][b] - np.median(sim.truth["knee_flex"][stand])
    assert np.abs(kin["knee_bend"].to_numpy()[b] - expected).max() < 1.0
    assert kin["knee_bend"].to_numpy()[b][1] < 2.0 < 8.0 < kin["knee_bend"].to_numpy()[b][[0, 2]].min()
    # one view's outlier triangulated into the skeleton: the left ankle 50 cm too high around a bottom
    xyz = sim.xyz.copy()
    xyz[b[1] - 5:b[1] + 6, INDEX["left_ankle"], 2] += 0.5
    bad = compute_kinematics(xyz, sim.t)
    assert np.isnan(bad["knee_flex_l"].to_numpy()[b[1] - 5:b[1] + 6]).all()  # that leg is not measured there
    assert abs(bad["knee_flex"].to_numpy()[b[1]] - sim.truth["knee_flex_r"][b[1]]) < 1.0  # the other leg is
