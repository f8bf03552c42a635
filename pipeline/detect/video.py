"""A camera's video and its frame times: opening, reading frames, the recorder's timestamp CSV."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

TIMESTAMPS_SUFFIX = ".timestamps.csv"


class DetectionError(ValueError):
    """A video or its timestamps cannot be used; the message names the file and what to do."""


def timestamps_path(video: str | Path) -> Path:
    """Where ``hingecap record`` puts a video's timestamps: ``{stem}.timestamps.csv`` beside it."""
    video = Path(video)
    return video.with_name(video.stem + TIMESTAMPS_SUFFIX)


def read_timestamps(path: str | Path) -> np.ndarray:
    """The ``t`` column (seconds) of a ``frame,t`` CSV, in frame order."""
    path = Path(path)
    if not path.is_file():
        raise DetectionError(f"timestamps file {path} does not exist")
    try:
        table = np.genfromtxt(path, delimiter=",", names=True, dtype=np.float64, ndmin=1)
    except ValueError as exc:
        raise DetectionError(f"{path}: not a 'frame,t' CSV ({exc})") from None
    names = table.dtype.names or ()
    if "frame" not in names or "t" not in names:
        raise DetectionError(f"{path}: needs a header 'frame,t' (got {','.join(names) or 'none'})")
    frame, t = table["frame"], table["t"]
    if not (np.isfinite(frame).all() and np.isfinite(t).all()):
        raise DetectionError(f"{path}: empty or non-numeric cells; every row must be 'frame,t' in seconds")
    if not np.array_equal(frame, np.arange(frame.size)):
        raise DetectionError(f"{path}: the frame column must count 0, 1, 2, ... (one row per video frame)")
    back = np.flatnonzero(np.diff(t) <= 0)
    if back.size:
        i = int(back[0])
        raise DetectionError(f"{path}: t goes backward or repeats at frame {i + 1} ({t[i]:.6f} s -> {t[i + 1]:.6f} s); "
                             "the times must increase (the recorder's clock jumped, or the rows were edited)")
    return t


def open_video(video: Path) -> tuple[cv2.VideoCapture, float, int]:
    """An opened capture, its nominal fps (0 if unknown) and its frame count as the container states it."""
    if not video.is_file():
        raise DetectionError(f"video {video} does not exist; check the session's video folder and camera names")
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        cap.release()
        raise DetectionError(f"{video}: OpenCV cannot open this video; re-encode it (e.g. ffmpeg -i IN -c:v libx264 OUT.mp4)")
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    return cap, fps if np.isfinite(fps) and fps > 0 else 0.0, max(n, 0)


def frames(cap: cv2.VideoCapture, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """BGR frames of an opened capture, up to ``max_frames``."""
    read = 0
    while max_frames is None or read < max_frames:
        ok, frame = cap.read()
        if not ok:
            return
        read += 1
        yield frame


def read_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Every BGR frame of the video at ``path``."""
    cap, _, _ = open_video(Path(path))
    try:
        yield from frames(cap)
    finally:
        cap.release()
