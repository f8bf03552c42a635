"""The session stages: pose2d files -> sync.json -> pose3d.npz (pipeline.reconstruct)."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from calibration.atomic import write_npz
from calibration.io import write_calibration
from calibration.rig import virtual_rig
from pipeline.landmarks import BODY_JOINTS, LR_SWAP
from pipeline.reconstruct import SessionInputError, read_info, sync_session, triangulate_session
from pipeline.refine import without_gauge
from pipeline.synthetic_athlete import simulate

FPS = 30.0


def _write_pose2d(path, xy, conf, t, t_source="fps"):
    write_npz(path, xy=xy.astype(np.float32), conf=conf.astype(np.float32), t=t, fps=np.float64(FPS),
              size=np.array([640, 480]), t_source=np.array(t_source))


@pytest.fixture(scope="module")
def athlete():
    # with its walk-in and walk-out: cross-correlation needs motion, not 2D noise on a still body
    return simulate("deadlift", 4, seed=1, walk=True)


def _session(tmp_path, sim, *, cams=None, delay_frames=None, noise_px=1.0, swap_frac=0.0, empty=(), t_source="fps",
             seed=0):
    """pose2d files of ``sim`` seen by ``cams``; camera c starts ``delay_frames[c]`` frames late."""
    cams = cams or virtual_rig(4)
    rng = np.random.default_rng(seed)
    delay_frames = delay_frames or {}
    paths = {}
    for i, cam in enumerate(cams):
        d = delay_frames.get(i, 0)
        xyz = sim.xyz[d:]
        xy = cam.project(xyz.reshape(-1, 3)).reshape(len(xyz), 33, 2) + rng.normal(0, noise_px, (len(xyz), 33, 2))
        conf = np.full(xy.shape[:2], 0.9)
        if swap_frac:
            swapped = rng.random(len(xy)) < swap_frac
            xy[swapped] = xy[swapped][:, list(LR_SWAP)]
        if cam.name in empty:
            xy[:] = np.nan
            conf[:] = 0
        t = np.arange(len(xy)) / FPS + (d / FPS if t_source == "timestamps" else 0.0)
        paths[cam.name] = tmp_path / "pose2d" / f"{cam.name}.npz"
        _write_pose2d(paths[cam.name], xy, conf, t, t_source)
    calib = write_calibration(tmp_path / "calibration.toml", cams, {})
    return paths, calib, cams


def _error_mm(pose3d, sim, start=0):
    with np.load(pose3d) as z:
        xyz, t = z["xyz"], z["t"]
    truth = sim.xyz[start + np.round(t * FPS).astype(int)]
    return 1000 * np.nanmedian(np.linalg.norm(xyz - truth, axis=-1)[:, list(BODY_JOINTS)])


def test_sync_and_triangulate_recover_the_athlete_and_the_offsets(tmp_path, athlete):
    paths, calib, _ = _session(tmp_path, athlete, delay_frames={1: 3, 2: 7})
    sync = sync_session(paths, tmp_path / "sync.json")
    assert sync["method"] == "xcorr"  # no timestamps: offsets are estimated
    saved = json.loads((tmp_path / "sync.json").read_text())
    # camera 1 started 3 frames late: its frame 0 is reference time 0.1 s
    assert abs(saved["cameras"]["cam1"]["offset_s"] - 3 / FPS) < 0.4 / FPS
    assert abs(saved["cameras"]["cam2"]["offset_s"] - 7 / FPS) < 0.4 / FPS
    info = triangulate_session(paths, calib, tmp_path / "sync.json", tmp_path / "pose3d.npz")
    assert info["sync_method"] == "xcorr" and info["cameras"] == ["cam0", "cam1", "cam2", "cam3"]
    assert _error_mm(tmp_path / "pose3d.npz", athlete) < 15
    assert read_info(tmp_path / "pose3d.npz")["reprojection_px"]["median_body_joints"] < 3
    with np.load(tmp_path / "pose3d.npz") as z:
        assert z["xyz"].dtype == np.float32 and z["xyz"].shape[1:] == (33, 3)
        assert z["err"].shape == z["ncams"].shape == z["xyz"].shape[:2] and z["t"].shape == z["xyz"].shape[:1]


def test_timestamps_are_used_when_every_camera_has_them(tmp_path, athlete):
    paths, calib, _ = _session(tmp_path, athlete, delay_frames={3: 5}, t_source="timestamps")
    sync = sync_session(paths, tmp_path / "sync.json")
    assert sync["method"] == "timestamps"
    assert all(c["offset_s"] == 0.0 for c in sync["cameras"].values())
    assert sync["timeline"][0] == pytest.approx(5 / FPS)  # the span every camera covers
    triangulate_session(paths, calib, tmp_path / "sync.json", tmp_path / "pose3d.npz")
    assert _error_mm(tmp_path / "pose3d.npz", athlete) < 15


def test_camera_without_detections_is_left_out_and_said(tmp_path, athlete):
    paths, calib, _ = _session(tmp_path, athlete, empty={"cam2"})
    sync = sync_session(paths, tmp_path / "sync.json", method="none")
    assert "no person" in sync["cameras"]["cam2"]["note"]
    info = triangulate_session(paths, calib, tmp_path / "sync.json", tmp_path / "pose3d.npz")
    assert info["cameras"] == ["cam0", "cam1", "cam3"] and "cam2" in info["left_out"]
    assert _error_mm(tmp_path / "pose3d.npz", athlete) < 15
    # the report's capture-quality table says so too
    from pipeline.report.capture import capture_html

    rows = capture_html(tmp_path).split("<tr>")[2:]
    assert [r.split("</td>")[0].removeprefix("<td>") for r in rows] == ["cam0", "cam1", "cam3", "cam2"]
    assert "no: no person detected" in rows[3] and "<td>yes</td>" in rows[0]


def test_too_few_cameras_with_detections_is_an_error_naming_them(tmp_path, athlete):
    paths, _, _ = _session(tmp_path, athlete, cams=virtual_rig(3), empty={"cam0", "cam2"})
    with pytest.raises(SessionInputError, match=r"only 1 camera.*cam0 .*cam0\.npz.*cam2"):
        sync_session(paths, tmp_path / "sync.json")
    assert not (tmp_path / "sync.json").exists()


def test_camera_unknown_to_the_calibration_is_an_error(tmp_path, athlete):
    paths, _, cams = _session(tmp_path, athlete)
    sync_session(paths, tmp_path / "sync.json", method="none")
    calib = write_calibration(tmp_path / "three.toml", cams[:3], {})
    with pytest.raises(SessionInputError, match=r"cam3 of the session are not in the calibration .*three\.toml"):
        triangulate_session(paths, calib, tmp_path / "sync.json", tmp_path / "pose3d.npz")
    assert not (tmp_path / "pose3d.npz").exists()


def test_calibrated_camera_without_video_is_reported_not_fatal(tmp_path, athlete):
    paths, calib, _ = _session(tmp_path, athlete)
    del paths["cam2"]  # it did not record this session
    sync_session(paths, tmp_path / "sync.json", method="none")
    info = triangulate_session(paths, calib, tmp_path / "sync.json", tmp_path / "pose3d.npz")
    assert info["cameras"] == ["cam0", "cam1", "cam3"]
    assert info["left_out"] == {"cam2": "no video in this session"}
    assert _error_mm(tmp_path / "pose3d.npz", athlete) < 15


def test_left_right_swaps_are_repaired_before_triangulation(tmp_path, athlete):
    paths, calib, _ = _session(tmp_path, athlete, swap_frac=0.25, seed=4)
    sync_session(paths, tmp_path / "sync.json", method="none")
    info = triangulate_session(paths, calib, tmp_path / "sync.json", tmp_path / "fixed.npz")
    triangulate_session(paths, calib, tmp_path / "sync.json", tmp_path / "raw.npz", repair_swaps=False)
    raw = read_info(tmp_path / "raw.npz")["reprojection_px"]["median_body_joints"]
    fixed = info["reprojection_px"]["median_body_joints"]
    assert fixed < 3 and raw > 2 * fixed
    assert _error_mm(tmp_path / "fixed.npz", athlete) < 15


def test_refine_calibration_removes_a_principal_point_offset(tmp_path, athlete):
    paths, _, cams = _session(tmp_path, athlete, seed=5)
    wrong = [c.copy() for c in cams]
    wrong[1].K[0, 2] += 12.0  # a calibration whose cam1 no longer matches its video by 12 px
    wrong[3].K[1, 2] -= 9.0
    calib = write_calibration(tmp_path / "wrong.toml", wrong, {})
    sync_session(paths, tmp_path / "sync.json", method="none")
    plain = triangulate_session(paths, calib, tmp_path / "sync.json", tmp_path / "plain.npz")
    info = triangulate_session(paths, calib, tmp_path / "sync.json", tmp_path / "refined.npz", refine_calibration=True)
    shift = np.array(list(info["principal_point_shift_px"].values()))
    # what the views can tell: the offsets, less what moving the whole athlete would explain
    true = np.zeros((4, 2))
    true[1, 0], true[3, 1] = -12.0, 9.0
    expected = without_gauge(true, wrong, np.nanmedian(athlete.xyz.reshape(-1, 3), axis=0))
    np.testing.assert_allclose(shift, expected, atol=1.0)
    assert info["reprojection_px"]["median_body_joints"] < 0.5 * plain["reprojection_px"]["median_body_joints"]
    assert _error_mm(tmp_path / "refined.npz", athlete) < _error_mm(tmp_path / "plain.npz", athlete)
    assert plain["principal_point_shift_px"] is None


def test_cameras_of_different_frame_rates_and_lengths_meet_on_one_timeline(tmp_path, athlete):
    """cam3 films at 25 fps and stops 2 s early; the others at 30 fps: one 25 fps timeline over the common span."""
    paths, calib, cams = _session(tmp_path, athlete)
    t25 = np.arange(0.0, athlete.t[-1] - 2.0, 1 / 25.0)
    xyz25 = np.stack([np.stack([np.interp(t25, athlete.t, athlete.xyz[:, j, k]) for k in range(3)], -1)
                      for j in range(33)], 1)
    xy = cams[3].project(xyz25.reshape(-1, 3)).reshape(len(t25), 33, 2)
    write_npz(paths["cam3"], xy=xy.astype(np.float32), conf=np.full(xy.shape[:2], 0.9, np.float32), t=t25,
              fps=np.float64(25.0), t_source=np.array("fps"))
    sync = sync_session(paths, tmp_path / "sync.json")
    assert abs(sync["cameras"]["cam3"]["offset_s"]) < 0.4 / 25
    assert 1 / np.median(np.diff(sync["timeline"])) == pytest.approx(25.0, rel=1e-3)
    assert sync["timeline"][-1] <= t25[-1] + 1e-9
    triangulate_session(paths, calib, tmp_path / "sync.json", tmp_path / "pose3d.npz")
    with np.load(tmp_path / "pose3d.npz") as z:
        xyz, t = z["xyz"], z["t"]
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
        _write_pose2d(paths[cam.name], xy + rng.normal(0, 1.0, xy.shape), np.full((n, 33), 0.9), t_cam)
    calib = write_calibration(tmp_path / "calibration.toml", cams, {})
    sync = sync_session(paths, tmp_path / "sync.json")["cameras"]
    assert sync["cam2"]["drift"] == pytest.approx(0.002, abs=2e-4) and sync["cam2"]["windows"] >= 3
    assert abs(sync["cam1"]["drift"]) < 2e-4 and sync["cam2"]["offset_s"] == pytest.approx(0.2, abs=0.4 / FPS)
    triangulate_session(paths, calib, tmp_path / "sync.json", tmp_path / "pose3d.npz")
    with np.load(tmp_path / "pose3d.npz") as z:
        xyz, t = z["xyz"], z["t"]
    err = np.linalg.norm(xyz - _interp_body(sim, t), axis=-1)[:, list(BODY_JOINTS)]
    assert 1000 * np.nanpercentile(err, 95) < 12  # 6 mm here; 26 mm with the drift left uncorrected
    from pipeline.report.capture import capture_html

    assert re.search(r"drift \+(19|20|21)\d\d ppm", capture_html(tmp_path))  # the report shows it
