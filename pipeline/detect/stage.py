"""The detect stage: MediaPipe BlazePose landmarks of one camera's video -> ``pose2d/{cam}.npz``.

Every frame is kept (a frame without a person has NaN ``xy`` and 0 ``conf``) so
that frame i stays frame i for sync. Times come from ``{video.stem}.timestamps.csv``
beside the video (header ``frame,t``, one row per frame, seconds from one
clock: what ``hingecap record`` writes) when there is one, else frame / fps.
A video whose container states more frames than can be decoded (a file cut
short) is processed as far as it goes, with a warning in the log and both
counts kept in the pose2d file, so the loss is seen downstream.
The file is described in ``pipeline.contracts.pose2d``.

    hingecap detect VIDEO -o OUT.npz
"""
from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pipeline.contracts.pose2d import detection_rate, write_pose2d
from pipeline.contracts.silhouette import write_silhouette
from pipeline.detect.blazepose import pose_landmarks
from pipeline.detect.video import DetectionError, frames, open_video, read_timestamps, timestamps_path


log = logging.getLogger(__name__)


class NoPersonWarning(UserWarning):
    """A video in which BlazePose never found a person."""


def detect_video(video: str | Path, out: str | Path, *, model_complexity: int = 1,
                 timestamps: str | Path | None = None, max_frames: int | None = None,
                 progress: bool = True, silhouette: str | Path | None = None) -> Path:
    """Run BlazePose over every frame of ``video`` (up to ``max_frames``) and write ``out`` (pose2d npz).

    ``timestamps``: a ``frame,t`` CSV (default: ``{stem}.timestamps.csv``
    beside the video if present). ``silhouette``: also write the person's
    segmentation crops there (pipeline.contracts.silhouette). Returns ``out``.
    """
    video, out = Path(video), Path(out)
    if model_complexity not in (0, 1):
        # mediapipe 0.10.21 ships the lite (0) and full (1) models; heavy (2) would be downloaded at run time
        raise DetectionError(f"model_complexity must be 0 (lite) or 1 (full), got {model_complexity}")
    if max_frames is not None and max_frames < 1:
        raise DetectionError(f"max_frames must be at least 1, got {max_frames}")
    ts_path = Path(timestamps) if timestamps is not None else timestamps_path(video)
    ts = read_timestamps(ts_path) if timestamps is not None or ts_path.is_file() else None
    start = time.perf_counter()
    cap, fps, n_stated = open_video(video)
    log.info("reading %s: %s frames stated, %s fps, times from %s", video, n_stated or "no count of", fps or "no rate",
             ts_path if ts is not None else "frame / fps")
    total = min(n_stated, max_frames) if max_frames and n_stated else (max_frames or n_stated or None)
    try:
        stream = tqdm(frames(cap, max_frames), total=total, desc=f"detect {video.stem}", unit="frame", disable=not progress)
        xys, confs, size, masks, boxes = pose_landmarks(stream, model_complexity, segmentation=silhouette is not None)
    finally:
        cap.release()
    F = len(xys)
    if F == 0:
        raise DetectionError(f"{video}: no frame could be decoded (empty or corrupt video); re-record or re-encode it")
    stopped_early = max_frames is not None and F == max_frames
    expected = min(n_stated, max_frames) if max_frames else n_stated
    # some containers estimate their count from the duration, a frame off; more missing is a cut file
    truncated = F < expected - 1
    if truncated:
        log.warning("%s: its container states %d frames but only %d could be decoded (%.0f %% missing at the end): "
                    "the file is truncated or damaged; using the frames that decode; re-copy or re-export the video "
                    "to get them all", video, n_stated, F, 100 * (1 - F / expected))
    t, t_source = _times(F, fps, ts, ts_path, video, stopped_early or truncated)
    xy, conf = xys.astype(np.float32), confs.astype(np.float32)
    rate = detection_rate(xy)
    if rate == 0:
        msg = f"{video}: no person detected in any of its {F} frames; check that this camera sees the athlete"
        warnings.warn(msg, NoPersonWarning, stacklevel=2)  # stage logs capture warnings (pipeline.common.stage_log)
    if silhouette is not None:  # before pose2d, whose appearance tells that the camera is done
        write_silhouette(silhouette, masks, boxes, t, size=size)
    write_pose2d(out, xy, conf, t, fps=fps or None, size=size, t_source=t_source, video=video.name,
                 model_complexity=model_complexity, frames_stated=expected if truncated else None)
    took = time.perf_counter() - start
    log.info("%s: %d frames of %dx%d decoded%s, person detected in %.1f %% of them (BlazePose model %d); "
             "%.0f ms per frame; wrote %s", video.name, F, *size, f" of {expected} stated" if truncated else "",
             100 * rate, model_complexity, 1000 * took / F, out)
    return out


def _times(F: int, fps: float, ts: np.ndarray | None, ts_path: Path, video: Path,
           stopped_early: bool) -> tuple[np.ndarray, str]:
    if ts is not None:
        # With max_frames (or a truncated video) the CSV covers the whole video and only its first F rows are used.
        if ts.size != F and not (stopped_early and ts.size > F):
            raise DetectionError(f"{ts_path}: {ts.size} timestamps but {video} has {F} frames; "
                                 "the CSV does not belong to this video (or the recording was cut)")
        return ts[:F].astype(np.float64), "timestamps"
    if fps <= 0:
        raise DetectionError(f"{video}: the video states no frame rate and there is no {timestamps_path(video).name} "
                             "beside it; pass timestamps or re-encode with a frame rate")
    return np.arange(F, dtype=np.float64) / fps, "fps"
