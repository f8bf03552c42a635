"""The 2D stage: MediaPipe BlazePose landmarks of one camera's video -> ``pose2d/{cam}.npz``.

File (docs/data-contracts.md): ``xy`` (F,33,2) float32 distorted pixels (the
centre of the first pixel is 0, OpenCV's convention), ``conf`` (F,33) float32
(BlazePose's landmark visibility), ``t`` (F,) float64 seconds, plus ``fps``,
``size`` (w, h), ``t_source`` ("timestamps" or "fps"), ``video`` and
``model_complexity``. A frame where no person is found keeps its row: NaN
``xy``, 0 ``conf``. Every frame is kept so that frame i stays frame i for sync.

Times come from ``{video.stem}.timestamps.csv`` beside the video (header
``frame,t``, one row per frame, seconds from one clock: what ``hingecap
record`` writes) when there is one, else frame / fps.

    python -m pipeline.detect2d VIDEO OUT.npz     (or: hingecap detect VIDEO -o OUT.npz)
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np
from tqdm import tqdm

from calibration.atomic import write_npz

from .landmarks import N_LANDMARKS

TIMESTAMPS_SUFFIX = ".timestamps.csv"


class DetectionError(ValueError):
    """A video or pose2d file cannot be used; the message names the file and what to do."""


class NoPersonWarning(UserWarning):
    """A video in which BlazePose never found a person."""


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
    return t


def _open(video: Path) -> tuple[cv2.VideoCapture, float, int]:
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


def _frames(cap: cv2.VideoCapture, max_frames: int | None) -> Iterator[np.ndarray]:
    read = 0
    while max_frames is None or read < max_frames:
        ok, frame = cap.read()
        if not ok:
            return
        read += 1
        yield frame


def _landmarks(result, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """One MediaPipe result -> (33, 2) pixels and (33,) visibility; NaN / 0 when no person."""
    if result.pose_landmarks is None:
        return np.full((N_LANDMARKS, 2), np.nan), np.zeros(N_LANDMARKS)
    lm = np.array([(p.x, p.y, p.visibility) for p in result.pose_landmarks.landmark])
    # normalised image coordinates (0..1 over the image edges) -> pixels with pixel centres at integers
    return lm[:, :2] * (w, h) - 0.5, lm[:, 2]


def pose_landmarks(frames: Iterable[np.ndarray], model_complexity: int = 1
                   ) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """BlazePose over BGR ``frames`` with one tracker: xy (F,33,2) pixels, visibility (F,33), image (w, h)."""
    import mediapipe as mp

    xys, confs, size = [], [], (0, 0)
    # One tracker per video: video mode tracks the person from frame to frame (steadier, faster).
    with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=model_complexity) as pose:
        for frame in frames:
            h, w = frame.shape[:2]
            size = (w, h)
            xy, conf = _landmarks(pose.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)), w, h)
            xys.append(xy)
            confs.append(conf)
    F = len(xys)
    return (np.asarray(xys, dtype=np.float64).reshape(F, N_LANDMARKS, 2),
            np.asarray(confs, dtype=np.float64).reshape(F, N_LANDMARKS), size)


def detect_video(video: str | Path, out: str | Path, *, model_complexity: int = 1,
                 timestamps: str | Path | None = None, max_frames: int | None = None,
                 progress: bool = True) -> Path:
    """Run BlazePose over every frame of ``video`` (up to ``max_frames``) and write ``out`` (pose2d npz).

    ``timestamps``: a ``frame,t`` CSV (default: ``{stem}.timestamps.csv``
    beside the video if present). Returns ``out``.
    """
    video, out = Path(video), Path(out)
    if model_complexity not in (0, 1):
        # mediapipe 0.10.21 ships the lite (0) and full (1) models; heavy (2) would be downloaded at run time
        raise DetectionError(f"model_complexity must be 0 (lite) or 1 (full), got {model_complexity}")
    if max_frames is not None and max_frames < 1:
        raise DetectionError(f"max_frames must be at least 1, got {max_frames}")
    ts_path = Path(timestamps) if timestamps is not None else timestamps_path(video)
    ts = read_timestamps(ts_path) if timestamps is not None or ts_path.is_file() else None
    cap, fps, n_stated = _open(video)
    total = min(n_stated, max_frames) if max_frames and n_stated else (max_frames or n_stated or None)
    try:
        frames = tqdm(_frames(cap, max_frames), total=total, desc=f"detect {video.stem}", unit="frame", disable=not progress)
        xys, confs, size = pose_landmarks(frames, model_complexity)
    finally:
        cap.release()
    F = len(xys)
    if F == 0:
        raise DetectionError(f"{video}: no frame could be decoded (empty or corrupt video); re-record or re-encode it")
    stopped_early = max_frames is not None and F == max_frames
    t, t_source = _times(F, fps, ts, ts_path, video, stopped_early)
    xy, conf = xys.astype(np.float32), confs.astype(np.float32)
    rate = detection_rate(xy)
    if rate == 0:
        msg = f"{video}: no person detected in any of its {F} frames; check that this camera sees the athlete"
        warnings.warn(msg, NoPersonWarning, stacklevel=2)  # stage logs capture warnings (pipeline.stage_log)
    write_npz(out, xy=xy, conf=conf, t=t, fps=np.float64(fps or _rate(t)), size=np.array(size, dtype=np.int32),
              t_source=np.array(t_source), video=np.array(video.name), model_complexity=np.int32(model_complexity))
    return out


def _times(F: int, fps: float, ts: np.ndarray | None, ts_path: Path, video: Path,
           stopped_early: bool) -> tuple[np.ndarray, str]:
    if ts is not None:
        # With max_frames the CSV covers the whole video and only its first F rows are used.
        if ts.size != F and not (stopped_early and ts.size > F):
            raise DetectionError(f"{ts_path}: {ts.size} timestamps but {video} has {F} frames; "
                                 "the CSV does not belong to this video (or the recording was cut)")
        return ts[:F].astype(np.float64), "timestamps"
    if fps <= 0:
        raise DetectionError(f"{video}: the video states no frame rate and there is no {timestamps_path(video).name} "
                             "beside it; pass timestamps or re-encode with a frame rate")
    return np.arange(F, dtype=np.float64) / fps, "fps"


def _rate(t: np.ndarray) -> float:
    return float((t.size - 1) / (t[-1] - t[0])) if t.size >= 2 and t[-1] > t[0] else 0.0


def detection_rate(xy: np.ndarray) -> float:
    """Fraction of frames with a person (any finite landmark)."""
    xy = np.asarray(xy)
    return float(np.isfinite(xy).all(-1).any(-1).mean()) if xy.shape[0] else 0.0


def load_pose2d(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Read and check a pose2d file: ``xy`` (F,33,2), ``conf`` (F,33), ``t`` (F,) and ``meta``.

    ``meta`` holds the file's extras (``fps``, ``size``, ``t_source``, ...)
    plus ``path``, ``detection_rate`` and ``detected`` (False when no frame
    has a person: the camera never saw anyone).
    """
    path = Path(path)
    if not path.is_file():
        raise DetectionError(f"pose2d file {path} does not exist; run the detection stage (hingecap detect) first")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (ValueError, OSError, EOFError) as exc:
        raise DetectionError(f"{path}: not a readable pose2d .npz file ({exc}); delete it and rerun the detection") from None
    missing = [k for k in ("xy", "conf", "t") if k not in data]
    if missing:
        raise DetectionError(f"{path}: lacks {', '.join(missing)} (a pose2d file holds xy, conf and t)")
    xy, conf, t = data.pop("xy"), data.pop("conf"), data.pop("t")
    F = xy.shape[0] if xy.ndim else -1
    if xy.shape != (F, N_LANDMARKS, 2) or conf.shape != (F, N_LANDMARKS) or t.shape != (F,):
        raise DetectionError(f"{path}: expected xy (F,{N_LANDMARKS},2), conf (F,{N_LANDMARKS}), t (F,) for one F; "
                             f"got xy {xy.shape}, conf {conf.shape}, t {t.shape}")
    meta = {k: (v.item() if v.ndim == 0 else v) for k, v in data.items()}
    rate = detection_rate(xy)
    meta.update(path=path, detection_rate=rate, detected=rate > 0)
    return xy.astype(np.float32), conf.astype(np.float32), t.astype(np.float64), meta


def main(argv: list[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--model-complexity", type=int, default=1)
    ap.add_argument("--max-frames", type=int, default=None)
    args = ap.parse_args(argv)
    detect_video(args.video, args.out, model_complexity=args.model_complexity, max_frames=args.max_frames)
    xy, _, _, meta = load_pose2d(args.out)
    print(f"{args.video}: person in {100 * meta['detection_rate']:.1f} % of {len(xy)} frames; wrote {args.out}")


if __name__ == "__main__":
    main()
