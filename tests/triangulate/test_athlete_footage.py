"""The athlete among others, on rendered footage, through detect, sync and triangulate as the workflow runs them.

A coach stands 1.5-2 m beside the athlete and someone walks past behind them (pipeline.synthetic.people.gym_scene)
in two rigs, 3 and 4 cameras. The athlete must be the one chosen at every instant, its body joints' 3D error
within 20 % of the same session rendered without the others, and the report must name the others. About a
minute per rig on 2 cores (480x360, 15 fps, 5.3 s).
"""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.common.landmarks import BODY_JOINTS, INDEX
from pipeline.contracts.pose3d import read_pose3d
from pipeline.contracts.silhouette import read_silhouette

pytest.importorskip("mediapipe")

FPS = 15.0


def _run(out, sim, rig, others):
    """Render, detect (with the calibration and silhouettes), sync by cross-correlation, triangulate."""
    from pipeline.detect.stage import detect_video
    from pipeline.sync.stage import sync_session
    from pipeline.synthetic.footage import render_session
    from pipeline.triangulate.stage import triangulate_session

    videos = render_session(sim.xyz, rig, out / "videos", fps=FPS, progress=False, others=others)
    calibration = out / "videos" / "calibration.toml"
    pose2d = {c: detect_video(v, out / "pose2d" / f"{c}.npz", calibration=calibration, progress=False,
                              silhouette=out / "silhouette" / f"{c}.npz") for c, v in videos.items()}
    sync_session(pose2d, out / "sync.json")
    info = triangulate_session(pose2d, calibration, out / "sync.json", out / "pose3d.npz")
    return read_pose3d(out / "pose3d.npz"), info


@pytest.fixture(scope="module", params=[(3, 1), (4, 0)], ids=["3 cameras", "4 cameras"])
def runs(request, tmp_path_factory, egl):
    from pipeline.synthetic.people import gym_scene

    n, seed = request.param
    sim, rig, others = gym_scene(n, rig_seed=seed, fps=FPS)
    root = tmp_path_factory.mktemp(f"gym{n}")
    crowd = _run(root / "crowd", sim, rig, others)
    alone = _run(root / "alone", sim, rig, [])
    return sim, rig, others, crowd, alone, root


def _per_instant(pose, xyz):
    """(T,) median distance (m) of the triangulated body joints from ``xyz`` (T_truth, 33, 3) at each instant."""
    truth = xyz[np.clip(np.round(pose.t * FPS).astype(int), 0, len(xyz) - 1)]
    d = np.linalg.norm(pose.xyz_raw - truth, axis=-1)[:, list(BODY_JOINTS)]
    with np.errstate(all="ignore"):
        return np.where(np.isnan(d).all(1), np.inf, np.nanmedian(np.where(np.isnan(d), np.inf, d), axis=1))


def test_the_athlete_is_chosen_at_every_instant(runs):
    sim, rig, others, (pose, info), _, _ = runs
    mine = _per_instant(pose, sim.xyz)
    theirs = np.min([_per_instant(pose, np.nan_to_num(o.xyz, nan=1e3)) for o in others], axis=0)
    tracked = np.isfinite(mine)
    assert tracked.mean() > 0.95
    assert (mine[tracked] < theirs[tracked]).all() and (mine[tracked] < 0.25).all()
    people = info["people"]
    assert people["athlete_instants"] == people["instants"] == len(pose.t) and "reps" in people["rule"]


def test_the_error_is_within_20_percent_of_the_session_without_the_others(runs, body_error_mm):
    sim, rig, others, _, _, root = runs
    crowd, alone = (body_error_mm(root / k / "pose3d.npz", sim) for k in ("crowd", "alone"))
    print(f"\n{len(rig)} cameras: body joints' median 3D error {crowd:.1f} mm among others, {alone:.1f} mm alone")
    assert crowd <= 1.2 * alone


def test_the_report_names_the_others_and_the_athletes_slots_hold_the_athlete(runs):
    from pipeline.report.capture import capture_html

    sim, rig, others, (pose, info), _, root = runs
    named = info["people"]["others"]
    coach_xy = np.nanmedian(others[0].xyz[:, [23, 24], :2], axis=(0, 1))
    assert any(np.linalg.norm(np.asarray(p["floor_xy"]) - coach_xy) < 0.3 for p in named), named
    assert len(named) == len(others)  # the coach and the walker
    html = capture_html(info, None)
    assert f"<b>{len(named)} other people</b> seen: person" in html and "seen by cam" in html
    # view_person: each camera's slot of the athlete, whose silhouette covers the athlete's trunk there
    trunk = sim.xyz[:, [INDEX["left_shoulder"], INDEX["right_shoulder"], INDEX["left_hip"], INDEX["right_hip"]]].mean(1)
    for c, name in enumerate(pose.cameras):
        sil = read_silhouette(root / "crowd" / "silhouette" / f"{name}.npz")
        ok = (pose.view_person[c] >= 0) & (pose.view_frame[c] >= 0)
        f, p = pose.view_frame[c][ok], pose.view_person[c][ok]
        u, v = rig[name].project(trunk[f]).T
        assert ok.mean() > 0.8 and np.median(sil.sample(f, p, u, v)) > 0.8, name
