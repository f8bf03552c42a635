"""The detect stage: MediaPipe BlazePose landmarks of everyone in one camera's video -> ``pose2d/{cam}.npz``.

Every person the detector finds gets a slot (``pipeline.detect.people``); the
one most likely to be the athlete is measured on every frame, the others
every few frames. With the room's calibration the athlete's likely place on
the floor (the session's ``athlete:`` setting, else the centre of the capture
area) says which person that is. Every frame is kept (a frame without a person has NaN ``xy`` and 0 ``conf``) so
that frame i stays frame i for sync. Times come from ``{video.stem}.timestamps.csv``
beside the video (header ``frame,t``, one row per frame, seconds from one
clock: what ``hingecap record`` writes) when there is one, else frame / fps.
A video whose container states more frames than can be decoded (a file cut
short) is processed as far as it goes, with a warning in the log and both
counts kept in the pose2d file, so the loss is seen downstream.
The file is described in ``pipeline.contracts.pose2d``.

    hingecap detect VIDEO -o OUT.npz [--calibration calibration.toml]
"""
from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from pipeline.contracts.pose2d import detection_rate, write_pose2d
from pipeline.contracts.silhouette import write_silhouette
from pipeline.detect.people import MAX_PEOPLE, FocusRule, track_people
from pipeline.detect.video import DetectionError, frames, open_video, read_timestamps, timestamps_path


log = logging.getLogger(__name__)
MODEL_COMPLEXITY = 1  # the only BlazePose landmark model mediapipe 0.10.21's wheel ships (full)


class NoPersonWarning(UserWarning):
    """A video in which BlazePose never found a person."""


def detect_video(video: str | Path, out: str | Path, *, model_complexity: int = MODEL_COMPLEXITY,
                 timestamps: str | Path | None = None, max_frames: int | None = None,
                 progress: bool = True, silhouette: str | Path | None = None,
                 calibration: str | Path | None = None, camera: str | None = None, athlete: Any = None,
                 max_people: int = MAX_PEOPLE) -> Path:
    """Run BlazePose over every frame of ``video`` (up to ``max_frames``) and write ``out`` (pose2d npz).

    ``timestamps``: a ``frame,t`` CSV (default: ``{stem}.timestamps.csv``
    beside the video if present). ``silhouette``: also write each person's
    segmentation crops there (pipeline.contracts.silhouette), slots as in
    ``out``. ``calibration``: the room's calibration file, whose camera
    ``camera`` (default: the video's stem) films this video; with it the
    person standing nearest the session's ``athlete`` setting (a name or
    ``{position: [x, y]}`` / ``{nearest_camera: NAME}``, see
    ``pipeline.common.athlete``; default: the centre of the capture area) is
    the one measured on every frame. ``max_people``: person slots. Returns ``out``.
    """
    video, out = Path(video), Path(out)
    if model_complexity != MODEL_COMPLEXITY:
        raise DetectionError(
            f"model_complexity must be 1 (BlazePose full), got {model_complexity}: mediapipe 0.10.21's wheel ships "
            "only the full landmark model; MediaPipe would download the lite (0) or heavy (2) one at run time, "
            "which hingecap does not do")
    if max_frames is not None and max_frames < 1:
        raise DetectionError(f"max_frames must be at least 1, got {max_frames}")
    ts_path = Path(timestamps) if timestamps is not None else timestamps_path(video)
    ts = read_timestamps(ts_path) if timestamps is not None or ts_path.is_file() else None
    focus = _focus_rule(calibration, camera or video.stem, athlete)
    start = time.perf_counter()
    cap, fps, n_stated = open_video(video)
    log.info("reading %s: %s frames stated, %s fps, times from %s", video, n_stated or "no count of", fps or "no rate",
             ts_path if ts is not None else "frame / fps")
    total = min(n_stated, max_frames) if max_frames and n_stated else (max_frames or n_stated or None)
    try:
        stream = tqdm(frames(cap, max_frames), total=total, desc=f"detect {video.stem}", unit="frame", disable=not progress)
        found = track_people(stream, fps or 30.0, focus=focus, max_people=max_people,
                             segmentation=silhouette is not None)
    finally:
        cap.release()
    F = found.xy.shape[0]
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
    xy, conf, size = found.xy.astype(np.float32), found.conf.astype(np.float32), found.size
    rate = detection_rate(xy)
    if rate == 0:
        msg = f"{video}: no person detected in any of its {F} frames; check that this camera sees the athlete"
        warnings.warn(msg, NoPersonWarning, stacklevel=2)  # stage logs capture warnings (pipeline.common.stage_log)
    if silhouette is not None:  # before pose2d, whose appearance tells that the camera is done
        write_silhouette(silhouette, found.mask, found.box, t, size=size)
    write_pose2d(out, xy, conf, t, fps=fps or None, size=size, t_source=t_source, video=video.name,
                 model_complexity=model_complexity, frames_stated=expected if truncated else None, focus=found.focus)
    took = time.perf_counter() - start
    log.info("%s: %d frames of %dx%d decoded%s, a person detected in %.1f %% of them (BlazePose model %d); "
             "%.0f ms per frame; wrote %s", video.name, F, *size, f" of {expected} stated" if truncated else "",
             100 * rate, model_complexity, 1000 * took / F, out)
    _log_found(video, found)
    return out


def _focus_rule(calibration: str | Path | None, camera: str, athlete: Any) -> FocusRule:
    """Who to measure on every frame: nearest the athlete's floor target with the calibration, else the image
    centre. A camera the calibration does not know only loses that help (triangulate names the mismatch)."""
    from pipeline.common.athlete import athlete_hint

    hint = athlete_hint(athlete)
    if calibration is None:
        log.info("no calibration given: the person nearest the image centre is measured on every frame")
        return FocusRule()
    from calibration.io import read_calibration

    rig = read_calibration(calibration)
    if camera not in rig.names:
        log.warning("camera %s is not in the calibration %s (it knows %s): the person nearest the image centre "
                    "is measured on every frame", camera, calibration, ", ".join(rig.names))
        return FocusRule()
    target = hint.floor_target(rig)
    log.info("measured on every frame: the person whose feet are nearest (%.2f, %.2f) m on the floor (%s)",
             target[0], target[1], hint.describe())
    return FocusRule(rig[camera], target)


def _log_found(video: Path, found) -> None:
    """What the detector found: people per frame, tracks, what it ran."""
    st = found.stats
    F = max(st["frames"], 1)
    log.info("%s: people measured per frame: %s; %d track(s) started in %d slot(s); %.2f landmark runs and %.2f "
             "detector runs per frame; someone measured on every frame for %.1f %% of frames", video.name,
             ", ".join(f"{n}: {c}" for n, c in enumerate(st["people_per_frame"]) if c), st["tracks_started"],
             st["slots"], st["landmarks"] / F, st["detector"] / F, 100 * st["focus_frames"] / F)


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
