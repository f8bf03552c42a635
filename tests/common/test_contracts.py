"""One reader and one writer per stage file: what is written reads back, and a malformed file is an error
that names it."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.common.timebase import frame_rate
from pipeline.contracts import ContractError, MissingFileError
from pipeline.contracts.kinematics import REQUIRED_COLUMNS, read_kinematics, write_kinematics
from pipeline.contracts.pose2d import read_pose2d, write_pose2d
from pipeline.contracts.pose3d import read_pose3d, write_pose3d
from pipeline.contracts.reps import read_reps, write_reps
from pipeline.contracts.sync import read_sync, write_sync


def test_pose2d_round_trip(tmp_path):
    xy = np.random.default_rng(0).uniform(0, 600, (5, 33, 2))
    xy[2] = np.nan
    conf = np.where(np.isfinite(xy[..., 0]), 0.8, 0.0)
    path = write_pose2d(tmp_path / "cam0.npz", xy, conf, np.arange(5) / 30, size=(640, 480), video="cam0.mp4",
                        model_complexity=1)
    pose = read_pose2d(path)
    assert pose.xy.dtype == np.float32 and pose.xy.shape == (5, 1, 33, 2)  # one person slot
    assert np.allclose(pose.xy[:, 0], xy, equal_nan=True)
    assert pose.fps == pytest.approx(30) and pose.size == (640, 480) and pose.t_source == "fps"
    assert pose.video == "cam0.mp4" and pose.model_complexity == 1 and pose.detection_rate == pytest.approx(0.8)
    with pytest.raises(ContractError, match="t_source"):
        write_pose2d(tmp_path / "x.npz", xy, conf, np.arange(5) / 30, t_source="guess")


def test_pose3d_round_trip_and_bad_files(tmp_path):
    xyz = np.zeros((4, 33, 3))
    path = write_pose3d(tmp_path / "pose3d.npz", xyz, np.arange(4) / 25, err=np.ones((4, 33)), cameras=["a", "b"],
                        info={"tracked_pct": 100.0})
    pose = read_pose3d(path)
    assert pose.fps == pytest.approx(25) and pose.cameras == ["a", "b"] and pose.info == {"tracked_pct": 100.0}
    assert pose.ncams is None and pose.err.shape == (4, 33)
    np.savez(tmp_path / "wrong.npz", xyz=np.zeros((4, 17, 3)), t=np.arange(4.0))
    with pytest.raises(ContractError, match=r"wrong\.npz': xyz must be \(T,33,3\)"):
        read_pose3d(tmp_path / "wrong.npz")
    with pytest.raises(MissingFileError, match="triangulation stage"):
        read_pose3d(tmp_path / "none.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(ContractError, match="junk.npz"):
        read_pose3d(tmp_path / "junk.npz")


def test_sync_reader_checks_the_timeline_and_the_offsets(tmp_path):
    path = tmp_path / "sync.json"
    path.write_text(json.dumps({"method": "xcorr", "t": [0.0, 0.1, 0.05], "cameras": {}}))
    with pytest.raises(ContractError, match="increasing"):
        read_sync(path)
    path.write_text(json.dumps({"method": "xcorr", "t": [0.0, 0.1], "cameras": {"cam0": {"confidence": 1}}}))
    with pytest.raises(ContractError, match="cam0 has no finite offset_s"):
        read_sync(path)
    path.write_text("{")
    with pytest.raises(ContractError, match="not a sync file"):
        read_sync(path)
    write_sync(path, method="none", timeline=np.arange(3) / 30, cameras={"cam0": {"offset_s": 0.0}})
    assert read_sync(path).fps == pytest.approx(30)


def test_kinematics_and_reps_readers_name_what_is_missing(tmp_path):
    kin = pd.DataFrame({c: np.zeros(3) for c in REQUIRED_COLUMNS})
    kin["standing"] = [True, False, True]
    path = write_kinematics(tmp_path / "kinematics.csv", kin)
    back = read_kinematics(path, frames=3)
    assert back["standing"].tolist() == [1, 0, 1]
    with pytest.raises(ContractError, match="has 3 rows but pose3d.npz has 4"):
        read_kinematics(path, frames=4)
    with pytest.raises(ContractError, match="lacks the columns"):
        write_kinematics(tmp_path / "k.csv", kin.drop(columns=["hip_flex"]))
    reps = tmp_path / "reps.json"
    reps.write_text("[]")
    with pytest.raises(ContractError, match="JSON object"):
        read_reps(reps)
    write_reps(reps, {"cues": [], "reps": [{"index": 1, "start": 0, "bottom": 1, "end": 2}]})
    assert read_reps(reps)["reps"][0]["bottom"] == 1
    reps.write_text(json.dumps({"cues": [], "reps": [{"index": 1}]}))
    with pytest.raises(ContractError, match="start, bottom and end"):
        read_reps(reps)


def test_frame_rate_is_one_rule_with_two_estimators():
    t = np.arange(10) / 30.0
    assert frame_rate(t) == pytest.approx(30) and frame_rate(t, "mean") == pytest.approx(30)
    dropped = np.delete(t, 5)  # a dropped frame does not move the median step
    assert frame_rate(dropped) == pytest.approx(30) and frame_rate(dropped, "mean") < 30
    assert frame_rate([1.0]) == 0.0 and frame_rate([1.0, 1.0]) == 0.0
