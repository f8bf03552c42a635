"""Bad videos and timestamps at the detect stage: a video cut short (its container still promising every frame)
is never taken for a complete one; times that go backward are an error naming the CSV."""
from __future__ import annotations

import struct

import cv2
import numpy as np
import pytest

from pipeline.common.stage_log import run_stage
from pipeline.contracts.pose2d import read_pose2d
from pipeline.detect.stage import detect_video
from pipeline.detect.video import DetectionError

pytest.importorskip("mediapipe")
# the test videos are plain grey frames: nobody in them is expected here
pytestmark = pytest.mark.filterwarnings("ignore::pipeline.detect.stage.NoPersonWarning")

FRAMES = 40


def _write(path, fourcc: str) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 25, (160, 120))
    for i in range(FRAMES):
        writer.write(np.full((120, 160, 3), 6 * i % 255, np.uint8))
    writer.release()


def _atoms(data: bytes):
    i = 0
    while i < len(data):
        size, kind = struct.unpack(">I4s", data[i:i + 8])
        yield kind, data[i:i + size]
        i += size


def _index_first(data: bytes) -> tuple[bytes, int]:
    """The MP4 with its index (moov) moved before the frames, as streaming encoders write it; and where frames start.

    The chunk offsets in the index (stco) move by the index's length.
    """
    parts = list(_atoms(data))
    moov = bytearray(dict(parts)[b"moov"])
    j = moov.find(b"stco")
    while j != -1:
        for k in range(struct.unpack(">I", moov[j + 8:j + 12])[0]):
            at = j + 12 + 4 * k
            moov[at:at + 4] = struct.pack(">I", struct.unpack(">I", moov[at:at + 4])[0] + len(moov))
        j = moov.find(b"stco", j + 4)
    head = b"".join(a for kind, a in parts if kind == b"ftyp")
    return head + bytes(moov) + b"".join(a for kind, a in parts if kind not in (b"ftyp", b"moov")), len(head) + len(moov)


def _truncated(tmp_path, container: str):
    """A video whose second half is missing while its header/index still states every frame."""
    if container == "mp4":
        _write(tmp_path / "full.mp4", "mp4v")
        data, frames_start = _index_first((tmp_path / "full.mp4").read_bytes())
    else:
        _write(tmp_path / "full.avi", "MJPG")
        data = (tmp_path / "full.avi").read_bytes()
        frames_start = 0
    video = tmp_path / f"cam0.{container}"
    video.write_bytes(data[: frames_start + (len(data) - frames_start) // 2])
    cap = cv2.VideoCapture(str(video))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES  # the container still promises every frame
    cap.release()
    return video


@pytest.mark.parametrize("container", ["mp4", "avi"])
def test_truncated_video_is_warned_about_logged_and_recorded(tmp_path, container, capsys):
    video = _truncated(tmp_path, container)
    log = tmp_path / "logs" / "detect_cam0.log"
    out = run_stage("pipeline.detect.stage:detect_video", log, video, tmp_path / "pose2d" / "cam0.npz", progress=False)
    pose = read_pose2d(out)
    assert pose.truncated and pose.frames_stated == FRAMES and pose.frames_decoded == len(pose.t) < FRAMES - 1
    text = log.read_text()
    assert f"its container states {FRAMES} frames but only {len(pose.t)} could be decoded" in text
    assert f"WARNING pipeline.detect.stage: {video}: its container" in text
    assert f"{len(pose.t)} frames of 160x120 decoded of {FRAMES} stated" in text
    assert "could be decoded" in capsys.readouterr().err  # on the console too


def test_complete_video_is_not_called_truncated(tmp_path):
    _write(tmp_path / "cam0.avi", "MJPG")
    pose = read_pose2d(detect_video(tmp_path / "cam0.avi", tmp_path / "cam0.npz", progress=False))
    assert not pose.truncated and pose.frames_stated is None and len(pose.t) == FRAMES


def test_timestamps_that_go_backward_name_the_csv(tmp_path):
    _write(tmp_path / "cam0.avi", "MJPG")
    csv = tmp_path / "cam0.timestamps.csv"
    t = np.arange(FRAMES) / 25
    t[7] = t[5]
    csv.write_text("frame,t\n" + "".join(f"{i},{v:.6f}\n" for i, v in enumerate(t)))
    with pytest.raises(DetectionError, match=rf"{csv}: t goes backward or repeats at frame 7"):
        detect_video(tmp_path / "cam0.avi", tmp_path / "cam0.npz", progress=False)
    assert not (tmp_path / "cam0.npz").exists()
