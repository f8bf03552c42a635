"""Left/right swap repair on synthetic views with known swaps and bystanders."""
from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.synthetic.rig import virtual_rig
from pipeline.common.landmarks import BODY_JOINTS, INDEX, LR_SWAP, N_LANDMARKS
from pipeline.triangulate.core import TriangulationInputError
from pipeline.triangulate.swaps import GROUPS, SwapInputError, body_left_axis, find_swaps, repair_swaps
from pipeline.synthetic.athlete import simulate
from pipeline.triangulate.core import triangulate

KINDS = ("none", "whole", "arms", "legs")


def _perm(kind: str) -> np.ndarray:
    p = np.arange(N_LANDMARKS)
    groups = {"none": (), "whole": ("face", "arms", "legs"), "arms": ("arms",), "legs": ("legs",)}[kind]
    for g in groups:
        idx = np.asarray(GROUPS[g])
        p[idx] = np.asarray(LR_SWAP)[idx]
    return p


def _project(xyz: np.ndarray, cams) -> np.ndarray:
    return np.stack([c.project(xyz) for c in cams])


@pytest.fixture(scope="module")
def scene():
    """A deadlift (walk-in, 3 reps, walk-out) seen by 4 cameras, 2 px noise, 20 % of views swapped, 3 % bystanders."""
    rng = np.random.default_rng(7)
    xyz = simulate("deadlift", 3, fps=30.0, seed=4, yaw_deg=35.0).xyz.astype(np.float64)
    cams = virtual_rig(4)
    C, T = len(cams), len(xyz)
    clean = _project(xyz, cams) + rng.normal(0, 2.0 / np.sqrt(2), (C, T, N_LANDMARKS, 2))
    conf = rng.uniform(0.6, 1.0, (C, T, N_LANDMARKS))
    # 20 % of camera-frames swapped: 12 % the whole body, 4 % the arms only, 4 % the legs only
    kind = rng.choice(4, size=(C, T), p=[0.8, 0.12, 0.04, 0.04])
    # and 20 frames where 3 of 4 cameras swap the whole body: most cameras are wrong there
    majority = rng.choice(T, 20, replace=False)
    kind[:3, majority] = 1
    kind[3, majority] = 0
    xy = clean.copy()
    for k in range(1, 4):
        sel = kind == k
        xy[sel] = xy[sel][:, _perm(KINDS[k])]
    # a bystander (the same body 1.5 m to the side of the camera's view) in 3 % of the frames, one camera each
    by = np.zeros((C, T), bool)
    frames = rng.choice(np.setdiff1d(np.arange(T), majority), int(0.03 * T), replace=False)
    by[rng.integers(0, C, frames.size), frames] = True
    for c, cam in enumerate(cams):
        side = cam.R[0] * np.array([1.0, 1.0, 0.0])  # the camera's image x axis, horizontal
        shifted = cam.project(xyz + 1.5 * side / np.linalg.norm(side))
        xy[c, by[c]] = shifted[by[c]] + rng.normal(0, 1.4, shifted[by[c]].shape)
    kind[by] = 0
    return dict(xyz=xyz, cams=cams, clean=clean, xy=xy, conf=conf, kind=kind, bystander=by)


def test_swaps_are_found_and_bystanders_excluded(scene):
    res = find_swaps(scene["xy"], scene["conf"], scene["cams"])
    kind, by = scene["kind"], scene["bystander"]
    truth_arms = np.isin(kind, (1, 2))
    truth_legs = np.isin(kind, (1, 3))
    found_right = (res.swapped["arms"] == truth_arms) & (res.swapped["legs"] == truth_legs)
    swapped = (kind > 0) & ~by
    clean = (kind == 0) & ~by
    recovered = found_right[swapped].mean()
    false_repairs = (res.swapped["arms"] | res.swapped["legs"])[clean].sum()
    print(f"\n{swapped.sum()} swapped views, {recovered:.2%} recovered; {false_repairs} false repairs "
          f"of {clean.sum()} clean views; {res.excluded[by].mean():.0%} of {by.sum()} bystanders excluded, "
          f"{res.excluded[~by].sum()} other views excluded")
    assert recovered >= 0.98
    assert false_repairs == 0
    # the face follows the whole-body swaps, wherever swapping it moves its landmarks visibly (4x the noise);
    # seen from behind its left and right points lie a few pixels apart and either labelling fits
    face = np.asarray(GROUPS["face"])
    sep = np.linalg.norm(scene["clean"][:, :, face] - scene["clean"][:, :, np.asarray(LR_SWAP)[face]], axis=-1).mean(-1)
    visible = (sep > 8.0) & ~by
    assert visible.mean() > 0.3
    assert (res.swapped["face"] == (kind == 1))[visible].mean() >= 0.98
    assert res.excluded[by].all()
    assert res.excluded[~by].mean() < 0.002
    kinds = res.kinds()
    for k in (1, 2, 3):
        assert np.mean(kinds[KINDS[k]][kind == k]) >= 0.98, KINDS[k]


def test_repair_brings_the_3d_error_back(scene):
    cams, xyz = scene["cams"], scene["xyz"]
    body = list(BODY_JOINTS)

    def err_mm(xy, conf):
        X = triangulate(xy, conf, cams).xyz[:, body]
        return np.linalg.norm(X - xyz[:, body], axis=-1) * 1000

    reference = err_mm(scene["clean"], scene["conf"])
    naive = err_mm(scene["xy"], scene["conf"])
    xy, conf, report = repair_swaps(scene["xy"], scene["conf"], cams)
    repaired = err_mm(xy, conf)
    print(f"\nbody joints, median 3D error: no swaps {np.nanmedian(reference):.1f} mm, swapped {np.nanmedian(naive):.1f} mm "
          f"(p95 {np.nanpercentile(naive, 95):.0f}), repaired {np.nanmedian(repaired):.1f} mm "
          f"(p95 {np.nanpercentile(repaired, 95):.0f}); report {json.dumps(report['cameras'])}")
    assert np.nanmedian(repaired) < 1.1 * np.nanmedian(reference)
    assert np.nanpercentile(repaired, 95) < 1.5 * np.nanpercentile(reference, 95)
    assert np.nanpercentile(naive, 95) > 3 * np.nanpercentile(repaired, 95)
    assert np.isfinite(repaired).mean() > 0.99
    # the report: plain numbers per camera, as pose3d.npz's info (JSON) stores it
    json.dumps(report)
    kind, by = scene["kind"], scene["bystander"]
    for c, cam in enumerate(cams):
        row = report["cameras"][cam.name]
        assert row["excluded"] == by[c].sum()
        assert row["whole"] + row["arms"] + row["legs"] == pytest.approx((kind[c] > 0).sum(), abs=3)
        assert np.all(conf[c][by[c]] == 0)


def test_body_left_axis_points_left():
    xyz = simulate("hinge_drill", 1, fps=30.0, seed=1, yaw_deg=-70.0).xyz.astype(np.float64)
    left = body_left_axis(xyz)
    v = xyz[:, INDEX["left_hip"]] - xyz[:, INDEX["right_hip"]]
    cos = np.sum(left * v / np.linalg.norm(v, axis=-1, keepdims=True), -1)
    assert np.all(cos > 0.8)
    assert np.all(np.sum(body_left_axis(xyz[:, LR_SWAP]) * left, -1) > 0.99)  # labels do not change it


def test_two_cameras_and_missing_views():
    """Two cameras cannot outvote each other: nothing is excluded; a camera that saw nobody stays as it is."""
    xyz = simulate("deadlift", 1, fps=15.0, seed=2, walk=False).xyz.astype(np.float64)
    cams = virtual_rig(4)[:2]
    xy = _project(xyz, cams)
    conf = np.ones(xy.shape[:3])
    xy[1, 5:10] = np.nan
    conf[1, 5:10] = 0
    xy[0, 20:25] = xy[0, 20:25][:, :, :][:, LR_SWAP]
    new_xy, new_conf, report = repair_swaps(xy, conf, cams)
    assert new_xy.shape == xy.shape and new_conf.shape == conf.shape
    assert all(r["excluded"] == 0 for r in report["cameras"].values())
    assert report["cameras"]["cam0"]["whole"] == 5 and report["cameras"]["cam1"]["whole"] == 0
    np.testing.assert_allclose(new_xy[0, 20:25], _project(xyz, cams)[0, 20:25])
    assert np.isnan(new_xy[1, 5:10]).all()


def test_bad_inputs_are_refused():
    cams = virtual_rig(3)
    xy = np.zeros((3, 4, N_LANDMARKS, 2))
    with pytest.raises(SwapInputError, match="2 cameras were given"):
        repair_swaps(xy, np.ones((3, 4, N_LANDMARKS)), cams[:2])
    with pytest.raises(SwapInputError, match="conf must be"):
        repair_swaps(xy, np.ones((3, 4, 17)), cams)
    with pytest.raises(SwapInputError, match=r"\(cameras, frames, 33, 2\)"):
        repair_swaps(xy[:, :, :17], np.ones((3, 4, 17)), cams)
    with pytest.raises(TriangulationInputError, match="outlier_px"):
        repair_swaps(xy, np.ones((3, 4, N_LANDMARKS)), cams, outlier_px=-1)
