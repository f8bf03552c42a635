"""``pose2d/{cam}.npz``: one camera's 2D landmarks (written by detect, read by sync and triangulate).

Contents: ``xy`` (F,33,2) float32 distorted pixels (the centre of the first
pixel is 0, OpenCV's convention), NaN where missing; ``conf`` (F,33) float32
(BlazePose's landmark visibility, 0 where missing); ``t`` (F,) float64 seconds
on the camera's clock; ``fps``; ``size`` (w, h); ``t_source`` ("timestamps":
one clock shared by the cameras, or "fps": frame index / fps); ``video`` and
``model_complexity``. A frame without a person keeps its row, so frame i stays
frame i.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from pipeline.common.atomic import write_npz
from pipeline.common.landmarks import N_LANDMARKS
from pipeline.common.timebase import frame_rate
from pipeline.contracts import ContractError, MissingFileError, SessionInputError

log = logging.getLogger(__name__)

T_SOURCES = ("timestamps", "fps")
MIN_CAMERAS = 2


@dataclass
class Pose2D:
    xy: np.ndarray  # (F, 33, 2) float32 pixels
    conf: np.ndarray  # (F, 33) float32
    t: np.ndarray  # (F,) float64 seconds
    fps: float
    size: tuple[int, int] | None
    t_source: str
    video: str
    model_complexity: int | None
    path: Path | None = None

    @property
    def detection_rate(self) -> float:
        """Fraction of frames with a person (any finite landmark)."""
        return detection_rate(self.xy)

    @property
    def detected(self) -> bool:
        """False when no frame has a person: the camera never saw anyone."""
        return self.detection_rate > 0


def detection_rate(xy: np.ndarray) -> float:
    xy = np.asarray(xy)
    return float(np.isfinite(xy).all(-1).any(-1).mean()) if xy.shape[0] else 0.0


def write_pose2d(path: str | Path, xy: np.ndarray, conf: np.ndarray, t: np.ndarray, *, fps: float | None = None,
                 size: tuple[int, int] | None = None, t_source: str = "fps", video: str = "",
                 model_complexity: int | None = None) -> Path:
    """Write one camera's landmarks atomically; ``fps`` defaults to the rate of ``t``."""
    xy, conf, t = np.asarray(xy, np.float32), np.asarray(conf, np.float32), np.asarray(t, np.float64)
    _check_arrays(xy, conf, t, Path(path))
    if t_source not in T_SOURCES:
        raise ContractError(f"{path}: t_source must be one of {T_SOURCES}, got {t_source!r}")
    extras = {"fps": np.float64(fps or frame_rate(t, "mean")), "t_source": np.array(t_source), "video": np.array(str(video))}
    if size is not None:
        extras["size"] = np.array(size, dtype=np.int32)
    if model_complexity is not None:
        extras["model_complexity"] = np.int32(model_complexity)
    write_npz(path, xy=xy, conf=conf, t=t, **extras)
    return Path(path)


def read_pose2d(path: str | Path) -> Pose2D:
    """Read and check one camera's pose2d file; errors name the file and what to do."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"pose2d file {path} does not exist; run the detection stage (hingecap detect) first")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (ValueError, OSError, EOFError) as exc:
        raise ContractError(f"{path}: not a readable pose2d .npz file ({exc}); delete it and rerun the detection") from None
    missing = [k for k in ("xy", "conf", "t") if k not in data]
    if missing:
        raise ContractError(f"{path}: lacks {', '.join(missing)} (a pose2d file holds xy, conf and t)")
    xy, conf, t = data["xy"], data["conf"], data["t"]
    _check_arrays(xy, conf, t, path)
    extra = lambda key, default=None: data[key].item() if key in data and data[key].ndim == 0 else default  # noqa: E731
    size = tuple(int(v) for v in data["size"]) if "size" in data and data["size"].shape == (2,) else None
    mc = extra("model_complexity")
    return Pose2D(xy.astype(np.float32), conf.astype(np.float32), t.astype(np.float64),
                  float(extra("fps", 0.0) or frame_rate(t, "mean")), size, str(extra("t_source", "fps")),
                  str(extra("video", "")), None if mc is None else int(mc), path)


def read_pose2d_files(paths: Mapping[str, str | Path]) -> dict[str, Pose2D]:
    """Every camera's pose2d file, by camera name."""
    return {cam: read_pose2d(p) for cam, p in paths.items()}


def split_detected(cams: Mapping[str, Pose2D]) -> tuple[dict[str, Pose2D], list[str]]:
    """The cameras that saw the athlete, and the names of those that never did; too few left is an error."""
    empty = [c for c, lm in cams.items() if not lm.detected]
    kept = {c: lm for c, lm in cams.items() if lm.detected}
    if len(kept) < MIN_CAMERAS:
        raise SessionInputError(
            f"only {len(kept)} camera(s) detected the athlete ({', '.join(kept) or 'none'}); "
            f"no detections in: {', '.join(f'{c} ({cams[c].path})' for c in empty)}. "
            f"At least {MIN_CAMERAS} are needed: check these videos show the athlete")
    for c in empty:
        log.warning("camera %s: no person detected in %s; continuing with %s", c, cams[c].path, ", ".join(kept))
    return kept, empty


def _check_arrays(xy: np.ndarray, conf: np.ndarray, t: np.ndarray, path: Path) -> None:
    F = xy.shape[0] if xy.ndim else -1
    if xy.shape != (F, N_LANDMARKS, 2) or conf.shape != (F, N_LANDMARKS) or t.shape != (F,):
        raise ContractError(f"{path}: expected xy (F,{N_LANDMARKS},2), conf (F,{N_LANDMARKS}), t (F,) for one F; "
                            f"got xy {xy.shape}, conf {conf.shape}, t {t.shape}")
