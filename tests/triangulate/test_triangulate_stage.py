"""The triangulate stage: pose2d files + sync.json + calibration -> pose3d.npz (swaps, refinement, cameras left out)."""
from __future__ import annotations

import numpy as np
import pytest

from calibration.io import write_calibration
from pipeline.contracts import SessionInputError
from pipeline.contracts.pose3d import read_pose3d
from pipeline.contracts.sync import read_sync
from pipeline.sync.stage import sync_session
from pipeline.synthetic.rig import virtual_rig
from pipeline.synthetic.views import write_pose2d_session
from pipeline.triangulate.refine import without_gauge
from pipeline.triangulate.stage import triangulate_session

FPS = 30.0


def _session(tmp_path, sim, *, cams=None, **kwargs):
    """pose2d files of ``sim`` seen by ``cams`` (default the 4-camera virtual rig), and their calibration."""
    cams = cams or virtual_rig(4)
    paths = write_pose2d_session(tmp_path, sim.xyz, cams, fps=FPS, **kwargs)
    return paths, write_calibration(tmp_path / "calibration.toml", cams, {}), cams


def test_camera_without_detections_is_left_out_and_said(tmp_path, athlete, body_error_mm):
    paths, calib, _ = _session(tmp_path, athlete, empty={"cam2"})
    sync = sync_session(paths, tmp_path / "sync.json", method="none")
    assert "no person" in sync["cameras"]["cam2"]["note"]
    info = triangulate_session(paths, calib, tmp_path / "sync.json", tmp_path / "pose3d.npz")
    assert info["cameras"] == ["cam0", "cam1", "cam3"] and "cam2" in info["left_out"]
    assert body_error_mm(tmp_path / "pose3d.npz", athlete) < 15
    # the report's capture-quality table says so too
    from pipeline.report.capture import capture_html

    rows = capture_html(info, read_sync(tmp_path / "sync.json")).split("<tr>")[2:]
    assert [r.split("</td>")[0].removeprefix("<td>") for r in rows] == ["cam0", "cam1", "cam3", "cam2"]
    assert "no: no person detected" in rows[3] and "<td>yes</td>" in rows[0]


def test_camera_unknown_to_the_calibration_is_an_error(tmp_path, athlete):
    paths, _, cams = _session(tmp_path, athlete)
    sync_session(paths, tmp_path / "sync.json", method="none")
    calib = write_calibration(tmp_path / "three.toml", cams[:3], {})
    with pytest.raises(SessionInputError, match=r"cam3 of the session are not in the calibration .*three\.toml"):
        triangulate_session(paths, calib, tmp_path / "sync.json", tmp_path / "pose3d.npz")
    assert not (tmp_path / "pose3d.npz").exists()


def test_calibrated_camera_without_video_is_reported_not_fatal(tmp_path, athlete, body_error_mm):
    paths, calib, _ = _session(tmp_path, athlete)
    del paths["cam2"]  # it did not record this session
    sync_session(paths, tmp_path / "sync.json", method="none")
    info = triangulate_session(paths, calib, tmp_path / "sync.json", tmp_path / "pose3d.npz")
    assert info["cameras"] == ["cam0", "cam1", "cam3"]
    assert info["left_out"] == {"cam2": "no video in this session"}
    assert body_error_mm(tmp_path / "pose3d.npz", athlete) < 15


def test_left_right_swaps_are_repaired_before_triangulation(tmp_path, athlete, body_error_mm):
    paths, calib, _ = _session(tmp_path, athlete, swap_frac=0.25, seed=4)
    sync_session(paths, tmp_path / "sync.json", method="none")
    info = triangulate_session(paths, calib, tmp_path / "sync.json", tmp_path / "fixed.npz")
    triangulate_session(paths, calib, tmp_path / "sync.json", tmp_path / "raw.npz", repair_swaps=False)
    raw = read_pose3d(tmp_path / "raw.npz").info["reprojection_px"]["median_body_joints"]
    fixed = info["reprojection_px"]["median_body_joints"]
    assert fixed < 3 and raw > 2 * fixed
    assert body_error_mm(tmp_path / "fixed.npz", athlete) < 15


def test_refine_calibration_removes_a_principal_point_offset(tmp_path, athlete, body_error_mm):
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
    assert body_error_mm(tmp_path / "refined.npz", athlete) < body_error_mm(tmp_path / "plain.npz", athlete)
    assert plain["principal_point_shift_px"] is None


def test_the_device_is_chosen_once_and_reaches_every_triangulation(tmp_path, athlete, monkeypatch):
    """options.device picks the array module once; the swap repair, the refinement and the final solve all get it."""
    from pipeline.triangulate import core, refine, stage, swaps

    chosen, calls = [], []
    marker = type("ChosenModule", (), {"__getattr__": lambda self, name: getattr(np, name)})()

    def select(device):
        chosen.append(device)
        return marker

    def spy(*args, xp=None, **kwargs):
        calls.append(xp)
        return core.triangulate(*args, xp=np if xp is marker else xp, **kwargs)

    monkeypatch.setattr(stage, "select_device", select)
    for module in (stage, swaps, refine):
        monkeypatch.setattr(module, "triangulate", spy)
    paths, calib, _ = _session(tmp_path, athlete, swap_frac=0.1)
    sync_session(paths, tmp_path / "sync.json", method="none")
    triangulate_session(paths, calib, tmp_path / "sync.json", tmp_path / "pose3d.npz", device="cpu",
                        refine_calibration=True)
    assert chosen == ["cpu"]
    assert len(calls) > 10 and all(xp is marker for xp in calls), {type(x).__name__ for x in calls}
