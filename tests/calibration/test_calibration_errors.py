"""Bad calibration input: each case gives a clear error naming the camera/file, and writes nothing."""
from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from calibration.board import BoardSpec
from calibration.calibrate import calibrate_detections, calibrate_room
from calibration.board_detection import detect_room
from calibration.errors import (BoardNotSeenError, BoardSpecError, DisconnectedRigError, TooFewViewsError,
                                VideoLengthError, VideoReadError)
from pipeline.synthetic.room import ROOM_BOARD, render_room


def _write_video(path, n_frames, size=(640, 480), seed=0):
    rng = np.random.default_rng(seed)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, size)
    for _ in range(n_frames):
        w.write(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    w.release()


@pytest.fixture(scope="module")
def calib_pair_room(tmp_path_factory):
    """Two cameras that see the board alone and together (good input for the error cases to spoil)."""
    room = tmp_path_factory.mktemp("calib_pair")
    render_room(room, n_cameras=2, per_camera=6, per_pair=5, floor=2, seed=5, progress=False)
    return room


@pytest.fixture(scope="module")
def calib_lonely_room(tmp_path_factory):
    """Two cameras that never see the board in the same frame."""
    room = tmp_path_factory.mktemp("calib_lonely")
    render_room(room, n_cameras=2, per_camera=6, per_pair=0, floor=0, seed=5, progress=False)
    return room


def _copy_room(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_camera_that_never_sees_the_board(calib_pair_room, tmp_path):
    room = _copy_room(calib_pair_room, tmp_path / "room")
    _write_video(room / "cam1.avi", 23)  # same length, only noise
    out = tmp_path / "cal.toml"
    with pytest.raises(BoardNotSeenError, match="camera cam1") as exc:
        calibrate_room(room, ROOM_BOARD, out, progress=False)
    assert "never detected" in str(exc.value)
    assert not out.exists() and not list(tmp_path.glob(".cal.toml*"))


def test_cameras_never_covisible(calib_lonely_room, tmp_path):
    out = tmp_path / "cal.toml"
    with pytest.raises(DisconnectedRigError, match="cam0, cam1|cam1, cam0") as exc:
        calibrate_room(calib_lonely_room, ROOM_BOARD, out, progress=False)
    assert "same time" in str(exc.value)
    assert not out.exists()


def test_too_few_views_for_intrinsics(calib_pair_room):
    det = detect_room(calib_pair_room, ROOM_BOARD, progress=False)
    keep = np.flatnonzero(det.counts()[0] >= 6)[:3]
    det.corners[0][np.setdiff1d(np.arange(det.corners.shape[1]), keep)] = np.nan
    with pytest.raises(TooFewViewsError, match="camera cam0: only 3 view"):
        calibrate_detections(det)


def test_missing_room_and_unreadable_video(calib_pair_room, tmp_path):
    with pytest.raises(VideoReadError, match="does not exist"):
        detect_room(tmp_path / "nope", ROOM_BOARD, progress=False)
    room = _copy_room(calib_pair_room, tmp_path / "room")
    (room / "cam1.avi").write_bytes(b"this is not a video" * 100)
    with pytest.raises(VideoReadError, match=r"camera cam1: cannot decode video .*cam1\.avi"):
        calibrate_room(room, ROOM_BOARD, tmp_path / "cal.toml", progress=False)
    assert not (tmp_path / "cal.toml").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(VideoReadError, match="holds no videos"):
        detect_room(empty, ROOM_BOARD, progress=False)


def test_videos_of_very_different_lengths(tmp_path):
    room = tmp_path / "room"
    room.mkdir()
    _write_video(room / "camA.avi", 30, (160, 120))
    _write_video(room / "camB.avi", 8, (160, 120))
    with pytest.raises(VideoLengthError, match="camB") as exc:
        detect_room(room, ROOM_BOARD, progress=False)
    assert "camA: 30 frames" in str(exc.value)


def test_wrong_dictionary_is_called_a_spec_error(calib_pair_room):
    wrong = BoardSpec("charuco", 5, 7, 0.16, 0.12, "DICT_5X5_100")
    with pytest.raises(BoardSpecError, match="DICT_4X4_50") as exc:
        detect_room(calib_pair_room, wrong, progress=False)
    assert "spec seems wrong" in str(exc.value) and "camera cam0" in str(exc.value)


def test_board_too_small_for_seen_marker_ids(calib_pair_room):
    wrong = BoardSpec("charuco", 3, 3, 0.16, 0.12, "DICT_4X4_50")  # 4 markers; the real board has 17
    with pytest.raises(BoardSpecError, match="ids beyond the board's 4"):
        detect_room(calib_pair_room, wrong, progress=False)


def test_cli_reports_error_and_exit_code(calib_lonely_room, tmp_path):
    from typer.testing import CliRunner

    from pipeline.cli import app

    out = tmp_path / "cal.toml"
    res = CliRunner().invoke(app, ["calibrate", str(calib_lonely_room), "--board", "charuco:5x7:0.16:0.12:DICT_4X4_50",
                                   "-o", str(out)])
    assert res.exit_code == 2
    assert "rig cannot be connected" in res.output
    assert not out.exists()
