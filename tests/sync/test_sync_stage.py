"""The sync stage: pose2d files -> sync.json (offsets, drift, the common timeline), checked through the 3D it gives."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from calibration.io import write_calibration
from pipeline.common.landmarks import BODY_JOINTS
from pipeline.contracts import SessionInputError
from pipeline.contracts.pose2d import write_pose2d
from pipeline.contracts.pose3d import read_pose3d
from pipeline.contracts.sync import read_sync
from pipeline.sync.stage import sync_session
from pipeline.synthetic.athlete import simulate
from pipeline.synthetic.rig import virtual_rig
from pipeline.synthetic.views import write_pose2d_session
from pipeline.triangulate.stage import triangulate_session

FPS = 30.0


def _session(tmp_path, sim, *, cams=None, **kwargs):
    """pose2d files of ``sim`` seen by ``cams`` (default the 4-camera virtual rig), and their calibration."""
    cams = cams or virtual_rig(4)
    paths = write_pose2d_session(tmp_path, sim.xyz, cams, fps=FPS, **kwargs)
    return paths, write_calibration(tmp_path / "calibration.toml", cams, {}), cams


def test_sync_and_triangulate_recover_the_athlete_and_the_offsets(tmp_path, athlete, body_error_mm):
    paths, calib, _ = _session(tmp_path, athlete, delay_frames={1: 3, 2: 7})
    sync = sync_session(paths, tmp_path / "sync.json")
    assert sync["method"] == "xcorr"  # no timestamps: offsets are estimated
    saved = json.loads((tmp_path / "sync.json").read_text())
    # camera 1 started 3 frames late: its frame 0 is reference time 0.1 s
    assert abs(saved["cameras"]["cam1"]["offset_s"] - 3 / FPS) < 0.4 / FPS
    assert abs(saved["cameras"]["cam2"]["offset_s"] - 7 / FPS) < 0.4 / FPS
    info = triangulate_session(paths, calib, tmp_path / "sync.json", tmp_path / "pose3d.npz")
    assert info["sync_method"] == "xcorr" and info["cameras"] == ["cam0", "cam1", "cam2", "cam3"]
    assert body_error_mm(tmp_path / "pose3d.npz", athlete) < 15
    assert read_pose3d(tmp_path / "pose3d.npz").info["reprojection_px"]["median_body_joints"] < 3
    pose = read_pose3d(tmp_path / "pose3d.npz")
    assert pose.xyz.dtype == np.float32 and pose.xyz.shape[1:] == (33, 3)
    # each timeline instant knows its frame in every camera: cam1 started 3 frames late, cam2 7
    assert pose.cameras == ["cam0", "cam1", "cam2", "cam3"] and pose.view_frame.shape == (4, len(pose.t))
    expected = np.round(pose.t[None] * FPS - np.array([0, 3, 7, 0])[:, None]).astype(int)
    filmed = expected >= 0  # the timeline spans what two cameras film: a late camera has no frame at first
    assert (pose.view_frame[filmed] == expected[filmed]).mean() > 0.99 and (pose.view_frame[~filmed] == -1).all()
    assert ((pose.view_person == 0) == (pose.view_frame >= 0)).all()
    assert pose.err.shape == pose.ncams.shape == pose.xyz.shape[:2] and pose.t.shape == pose.xyz.shape[:1]


def test_timestamps_are_used_when_every_camera_has_them(tmp_path, athlete, body_error_mm):
    paths, calib, _ = _session(tmp_path, athlete, delay_frames={3: 5}, t_source="timestamps")
    sync = sync_session(paths, tmp_path / "sync.json")
    assert sync["method"] == "timestamps"
    assert all(c["offset_s"] == 0.0 for c in sync["cameras"].values())
    # the span at least two cameras film: from the first frame on; cam3, 5 frames late, has a gap there
    assert sync["timeline"][0] == pytest.approx(0.0)
    assert sync["cameras"]["cam3"]["covered_s"][0] == pytest.approx(5 / FPS, abs=1e-6)
    assert sync["cameras"]["cam3"]["covered_share"] == pytest.approx(1 - 5 / len(sync["timeline"]), abs=1e-3)
    triangulate_session(paths, calib, tmp_path / "sync.json", tmp_path / "pose3d.npz")
    assert body_error_mm(tmp_path / "pose3d.npz", athlete) < 15


def test_too_few_cameras_with_detections_is_an_error_naming_them(tmp_path, athlete):
    paths, _, _ = _session(tmp_path, athlete, cams=virtual_rig(3), empty={"cam0", "cam2"})
    with pytest.raises(SessionInputError, match=r"only 1 camera.*cam0 .*cam0\.npz.*cam2"):
        sync_session(paths, tmp_path / "sync.json")
    assert not (tmp_path / "sync.json").exists()


def test_cameras_of_different_frame_rates_and_lengths_meet_on_one_timeline(tmp_path, athlete):
    """cam3 films at 25 fps and stops 2 s early; the others at 30 fps: one 25 fps timeline over the whole session."""
    paths, calib, cams = _session(tmp_path, athlete)
    t25 = np.arange(0.0, athlete.t[-1] - 2.0, 1 / 25.0)
    xyz25 = np.stack([np.stack([np.interp(t25, athlete.t, athlete.xyz[:, j, k]) for k in range(3)], -1)
                      for j in range(33)], 1)
    xy = cams[3].project(xyz25.reshape(-1, 3)).reshape(len(t25), 33, 2)
    write_pose2d(paths["cam3"], xy, np.full(xy.shape[:2], 0.9), t25, fps=25.0)
    sync = sync_session(paths, tmp_path / "sync.json")
    assert abs(sync["cameras"]["cam3"]["offset_s"]) < 0.4 / 25
    assert 1 / np.median(np.diff(sync["timeline"])) == pytest.approx(25.0, rel=1e-3)
    # the session keeps its length; cam3's last 2 s are a gap for cam3 alone
    assert sync["timeline"][-1] == pytest.approx(athlete.t[-1], abs=1 / 25)
    assert sync["cameras"]["cam3"]["covered_s"][1] <= t25[-1] + 1e-9
    assert 0.85 < sync["cameras"]["cam3"]["covered_share"] < 0.95
    triangulate_session(paths, calib, tmp_path / "sync.json", tmp_path / "pose3d.npz")
    pose = read_pose3d(tmp_path / "pose3d.npz")
    xyz, t = pose.xyz, pose.t
    truth = np.stack([np.stack([np.interp(t, athlete.t, athlete.xyz[:, j, k]) for k in range(3)], -1) for j in range(33)], 1)
    assert 1000 * np.nanmedian(np.linalg.norm(xyz - truth, axis=-1)[:, list(BODY_JOINTS)]) < 15


def _interp_body(sim, times):
    return np.stack([np.stack([np.interp(times, sim.t, sim.xyz[:, j, k]) for k in range(3)], -1) for j in range(33)], 1)


def test_clock_drift_is_estimated_over_a_long_set_and_applied(tmp_path):
    """cam2's frames are timed at 30 fps but it films at 29.94 fps (drift +0.2 %): 0.5 s late after 4 minutes."""
    sim = simulate("deadlift", 60, seed=5, fps=60.0)
    cams = virtual_rig(4)
    rng = np.random.default_rng(0)
    paths = {}
    n = int((sim.t[-1] - 1.0) * FPS)
    for cam, (start, drift) in zip(cams, [(0.0, 0.0), (0.1, 0.0), (0.2, 0.002), (0.0, 0.0)]):
        t_cam = np.arange(n) / FPS
        xy = cam.project(_interp_body(sim, start + t_cam * (1 + drift)).reshape(-1, 3)).reshape(n, 33, 2)
        paths[cam.name] = tmp_path / "pose2d" / f"{cam.name}.npz"
        write_pose2d(paths[cam.name], xy + rng.normal(0, 1.0, xy.shape), np.full((n, 33), 0.9), t_cam, fps=FPS)
    calib = write_calibration(tmp_path / "calibration.toml", cams, {})
    sync = sync_session(paths, tmp_path / "sync.json")["cameras"]
    assert sync["cam2"]["drift"] == pytest.approx(0.002, abs=2e-4) and sync["cam2"]["windows"] >= 3
    assert abs(sync["cam1"]["drift"]) < 2e-4 and sync["cam2"]["offset_s"] == pytest.approx(0.2, abs=0.4 / FPS)
    triangulate_session(paths, calib, tmp_path / "sync.json", tmp_path / "pose3d.npz")
    pose = read_pose3d(tmp_path / "pose3d.npz")
    xyz, t = pose.xyz, pose.t
    err = np.linalg.norm(xyz - _interp_body(sim, t), axis=-1)[:, list(BODY_JOINTS)]
    assert 1000 * np.nanpercentile(err, 95) < 12  # 6 mm here; 26 mm with the drift left uncorrected
    from pipeline.report.capture import capture_html

    page = capture_html(read_pose3d(tmp_path / "pose3d.npz").info, read_sync(tmp_path / "sync.json"))
    assert re.search(r"drift \+(19|20|21)\d\d ppm", page)  # the report shows it
