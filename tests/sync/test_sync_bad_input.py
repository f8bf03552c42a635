"""Bad or odd input to the sync stage: a camera that started late or stopped early keeps the session's length
(its missing stretch is its own gap, warned about and recorded); unusable 2D files and recordings are errors
naming the file or the cameras, and no sync.json is written."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from pipeline.contracts import ContractError
from pipeline.contracts.pose2d import read_pose2d, write_pose2d
from pipeline.contracts.sync import read_sync
from pipeline.sync.stage import sync_session
from pipeline.sync.timeline import SyncError
from pipeline.synthetic.rig import virtual_rig
from pipeline.synthetic.views import write_pose2d_session

FPS = 30.0


def _keep(path, frames: slice):
    """Rewrite one camera's pose2d file with only ``frames`` of it (as a camera cut short would give)."""
    pose = read_pose2d(path)
    write_pose2d(path, pose.xy[frames], pose.conf[frames], pose.t[frames], fps=pose.fps, size=pose.size,
                 t_source=pose.t_source)


@pytest.mark.parametrize("cut, method", [("end", "none"), ("start", "timestamps"), ("end", "xcorr")])
def test_a_short_camera_keeps_the_session_length_and_is_reported(tmp_path, athlete, caplog, cut, method):
    paths = write_pose2d_session(tmp_path, athlete.xyz, virtual_rig(4), fps=FPS, t_source="timestamps")
    half = len(athlete.xyz) // 2
    _keep(paths["cam2"], slice(0, half) if cut == "end" else slice(half, None))
    with caplog.at_level(logging.INFO):
        sync = sync_session(paths, tmp_path / "sync.json", method=method)
    t = read_sync(tmp_path / "sync.json").t
    assert len(t) == pytest.approx(len(athlete.xyz), abs=1) and t[-1] - t[0] == pytest.approx(athlete.t[-1], abs=0.05)
    cam2 = sync["cameras"]["cam2"]
    assert cam2["covered_share"] == pytest.approx(0.5, abs=0.02)
    assert all(sync["cameras"][c]["covered_share"] > 0.99 for c in ("cam0", "cam1", "cam3"))
    lo, hi = cam2["covered_s"]
    assert (lo, hi) == ((pytest.approx(t[0], abs=0.05), pytest.approx(t[half], abs=0.1)) if cut == "end"
                        else (pytest.approx(t[half], abs=0.1), pytest.approx(t[-1], abs=0.05)))
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("camera cam2 films only 50 %" in w and "gap for this camera" in w for w in warned), warned


def test_percent_confidences_stop_the_sync_naming_the_file(tmp_path, athlete):
    paths = write_pose2d_session(tmp_path, athlete.xyz[:90], virtual_rig(3), fps=FPS)
    with np.load(paths["cam1"]) as z:
        data = dict(z)
    data["conf"] = data["conf"] * 100  # a detector that reports 0-100
    np.savez(paths["cam1"], **data)
    with pytest.raises(ContractError, match=r"cam1\.npz: conf must lie in \[0, 1\].*0-100 scale"):
        sync_session(paths, tmp_path / "sync.json")
    assert not (tmp_path / "sync.json").exists()


def test_recordings_that_never_overlap_name_every_camera(tmp_path, athlete):
    paths = write_pose2d_session(tmp_path, athlete.xyz[:120], virtual_rig(2), fps=FPS, t_source="timestamps")
    pose = read_pose2d(paths["cam1"])
    write_pose2d(paths["cam1"], pose.xy, pose.conf, pose.t + 60.0, t_source="timestamps")  # a minute after cam0 stopped
    with pytest.raises(SyncError, match=r"no instant is filmed by 2 cameras \(cam0: 0.00-3.97 s, cam1: 60.00-63.97 s\)"):
        sync_session(paths, tmp_path / "sync.json")
    assert not (tmp_path / "sync.json").exists()
