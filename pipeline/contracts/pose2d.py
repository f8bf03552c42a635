"""``pose2d/{cam}.npz``: one camera's 2D landmarks of every person (written by detect, read by sync and triangulate).

Contents: ``xy`` (F,P,33,2) float32 distorted pixels (the centre of the first
pixel is 0, OpenCV's convention) of up to P people per frame, NaN where a
person slot was not measured; ``conf`` (F,P,33) float32 (BlazePose's landmark
visibility, 0 where not measured); ``focus`` (F,) int8 the slot the detector
measured on every frame, its guess of the athlete (-1: nobody tracked); ``t``
(F,) float64 seconds on the camera's clock; ``fps``; ``size`` (w, h);
``t_source`` ("timestamps": one clock shared by the cameras, or "fps": frame
index / fps); ``video`` and ``model_complexity``; ``frames_stated`` and
``frames_decoded`` when the video's container promised more frames than could
be decoded (a truncated file). A slot keeps its person while the detector
tracks them (identity within one camera; across cameras the triangulate stage
matches people). A frame without a person keeps its row, so frame i stays
frame i. Files of one person per frame, ``xy`` (F,33,2) as written before
people had slots, still load (as P = 1, focus 0 where seen).
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
    xy: np.ndarray  # (F, P, 33, 2) float32 pixels, P person slots
    conf: np.ndarray  # (F, P, 33) float32
    t: np.ndarray  # (F,) float64 seconds
    fps: float
    size: tuple[int, int] | None
    t_source: str
    video: str
    model_complexity: int | None
    path: Path | None = None
    frames_stated: int | None = None  # the container's frame count, when more than decoded (truncated video)
    frames_decoded: int | None = None
    focus: np.ndarray | None = None  # (F,) int8 the detector's every-frame slot (-1: none); default: see focus_slots

    @property
    def n_people(self) -> int:
        """Person slots in the file (P)."""
        return int(self.xy.shape[1])

    @property
    def truncated(self) -> bool:
        """The video stated more frames than could be decoded: its end is missing."""
        return self.frames_stated is not None and self.frames_decoded is not None and self.frames_stated > self.frames_decoded

    @property
    def detection_rate(self) -> float:
        """Fraction of frames with a person (any slot with a finite landmark)."""
        return detection_rate(self.xy)

    @property
    def detected(self) -> bool:
        """False when no frame has a person: the camera never saw anyone."""
        return self.detection_rate > 0

    def focus_slots(self) -> np.ndarray:
        """(F,) the slot the detector followed on every frame (-1: nobody): ``focus``, or for a file
        without it the measured slot of most frames (the first where several)."""
        if self.focus is not None:
            return self.focus.astype(np.int64)
        seen = np.isfinite(self.xy).all(-1).any(-1)  # (F, P)
        order = np.argsort(-seen.sum(0), kind="stable")  # most-seen slot first
        first = order[np.argmax(seen[:, order], axis=1)]
        return np.where(seen.any(1), first, -1)

    def followed(self) -> tuple[np.ndarray, np.ndarray]:
        """One person per frame: (F, 33, 2) and (F, 33) of the focus slot, NaN / 0 where nobody. What needs
        a single series per camera (clock sync) reads this: the person the detector kept measuring."""
        slot = self.focus_slots()
        F = len(slot)
        pick = np.maximum(slot, 0)
        xy = self.xy[np.arange(F), pick]
        conf = self.conf[np.arange(F), pick]
        none = slot < 0
        return np.where(none[:, None, None], np.nan, xy), np.where(none[:, None], 0.0, conf).astype(np.float32)


def detection_rate(xy: np.ndarray) -> float:
    """Share of frames with anyone: ``xy`` (F, 33, 2) or (F, P, 33, 2)."""
    xy = np.asarray(xy)
    if not xy.shape[0]:
        return 0.0
    seen = np.isfinite(xy).all(-1).any(-1)
    return float(seen.reshape(xy.shape[0], -1).any(-1).mean())


def write_pose2d(path: str | Path, xy: np.ndarray, conf: np.ndarray, t: np.ndarray, *, fps: float | None = None,
                 size: tuple[int, int] | None = None, t_source: str = "fps", video: str = "",
                 model_complexity: int | None = None, frames_stated: int | None = None,
                 focus: np.ndarray | None = None) -> Path:
    """Write one camera's landmarks atomically: ``xy`` (F,P,33,2) or one person (F,33,2); ``fps`` defaults
    to the rate of ``t``.

    ``frames_stated``: the frame count the video's container gave, stored
    (with ``frames_decoded``) when it is more than the frames written.
    ``focus`` (F,): the every-frame slot (default: slot 0 where it was seen).
    """
    xy, conf = _with_person_axis(np.asarray(xy, np.float32), np.asarray(conf, np.float32))
    t = np.asarray(t, np.float64)
    _check_arrays(xy, conf, t, Path(path))
    if t_source not in T_SOURCES:
        raise ContractError(f"{path}: t_source must be one of {T_SOURCES}, got {t_source!r}")
    if focus is None:
        focus = np.where(np.isfinite(xy[:, 0]).all(-1).any(-1), 0, -1)
    focus = np.asarray(focus)
    _check_focus(focus, t, xy.shape[1], Path(path))
    extras = {"fps": np.float64(fps or frame_rate(t, "mean")), "t_source": np.array(t_source),
              "video": np.array(str(video)), "focus": focus.astype(np.int8)}
    if size is not None:
        extras["size"] = np.array(size, dtype=np.int32)
        _check_size(extras["size"], Path(path))
    if model_complexity is not None:
        extras["model_complexity"] = np.int32(model_complexity)
    if frames_stated is not None and frames_stated > len(t):
        extras["frames_stated"], extras["frames_decoded"] = np.int64(frames_stated), np.int64(len(t))
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
    except Exception as exc:  # noqa: BLE001 -- see NPZ_DAMAGE in pipeline/contracts
        raise ContractError(f"{path}: not a readable pose2d .npz file ({exc}); delete it and rerun the detection") from None
    missing = [k for k in ("xy", "conf", "t") if k not in data]
    if missing:
        raise ContractError(f"{path}: lacks {', '.join(missing)} (a pose2d file holds xy, conf and t)")
    xy, conf, t = data["xy"], data["conf"], data["t"]
    if xy.ndim == 3 and conf.ndim == 2:  # one person per frame, written before people had slots
        xy, conf = _with_person_axis(xy, conf)
    _check_arrays(xy, conf, t, path)
    focus = data.get("focus")
    if focus is not None:
        _check_focus(focus, t, xy.shape[1], path)
    size = _check_size(data["size"], path) if "size" in data else None
    try:
        fps = float(_scalar(data, "fps", 0.0) or 0.0)
        mc = _scalar(data, "model_complexity")
        mc = None if mc is None else int(mc)
        stated, decoded = _scalar(data, "frames_stated"), _scalar(data, "frames_decoded")
        stated, decoded = (None, None) if stated is None or decoded is None else (int(stated), int(decoded))
    except (TypeError, ValueError) as exc:
        raise ContractError(f"{path}: fps, model_complexity, frames_stated and frames_decoded must be numbers ({exc}); "
                            "rerun the detection") from None
    if not np.isfinite(fps) or fps < 0:
        raise ContractError(f"{path}: fps is {fps}; it must be a positive frame rate (rerun the detection)")
    t_source = str(_scalar(data, "t_source", "fps"))
    if t_source not in T_SOURCES:
        raise ContractError(f"{path}: t_source must be one of {T_SOURCES}, got {t_source!r}")
    return Pose2D(xy.astype(np.float32), conf.astype(np.float32), t.astype(np.float64),
                  fps or frame_rate(t, "mean"), size, t_source, str(_scalar(data, "video", "")), mc, path,
                  stated, decoded, None if focus is None else focus.astype(np.int8))


def _scalar(data: Mapping[str, np.ndarray], key: str, default=None):
    """A 0-d entry of the file as a Python value (``default`` when absent or not 0-d)."""
    return data[key].item() if key in data and data[key].ndim == 0 else default


def read_pose2d_files(paths: Mapping[str, str | Path]) -> dict[str, Pose2D]:
    """Every camera's pose2d file, by camera name."""
    return {cam: read_pose2d(p) for cam, p in paths.items()}


def split_detected(cams: Mapping[str, Pose2D]) -> tuple[dict[str, Pose2D], list[str]]:
    """The cameras that saw anyone, and the names of those that never did; too few left is an error.
    (Whether the people a camera saw include the athlete is for the triangulate stage to say.)"""
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


def _with_person_axis(xy: np.ndarray, conf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One person per frame (F,33,2), (F,33) as one person slot (F,1,33,2), (F,1,33); 4D input unchanged."""
    if xy.ndim == 3:
        return xy[:, None], conf[:, None] if conf.ndim == 2 else conf
    return xy, conf


def _check_focus(focus: np.ndarray, t: np.ndarray, P: int, path: Path) -> None:
    if focus.shape != t.shape or focus.dtype.kind not in "iu" or focus.min(initial=0) < -1 or focus.max(initial=0) >= P:
        raise ContractError(f"{path}: focus must be (F,) = {t.shape} integer slots in -1..{P - 1}, got "
                            f"{focus.shape} {focus.dtype}; delete the file and rerun the detection")


def _check_arrays(xy: np.ndarray, conf: np.ndarray, t: np.ndarray, path: Path) -> None:
    F = xy.shape[0] if xy.ndim else -1
    P = xy.shape[1] if xy.ndim == 4 else -1
    if xy.shape != (F, P, N_LANDMARKS, 2) or P < 1 or conf.shape != (F, P, N_LANDMARKS) or t.shape != (F,):
        raise ContractError(f"{path}: expected xy (F,P,{N_LANDMARKS},2) (or (F,{N_LANDMARKS},2) for one person), "
                            f"conf (F,P,{N_LANDMARKS}), t (F,) for one F; got xy {xy.shape}, conf {conf.shape}, t {t.shape}")
    for name, a in (("xy", xy), ("conf", conf), ("t", t)):
        if a.dtype.kind not in "fiu":
            raise ContractError(f"{path}: {name} must hold numbers, got {a.dtype}; rerun the detection")
    if F == 0:
        raise ContractError(f"{path}: holds no frames; rerun the detection on a video with frames")
    if np.isinf(xy).any():
        raise ContractError(f"{path}: xy holds infinite pixel coordinates (missing landmarks are NaN); rerun the detection")
    with np.errstate(invalid="ignore"):
        bad = ~((conf >= 0) & (conf <= 1))  # NaN is out of range too
    if bad.any():
        f, *_, lm = (int(i) for i in np.argwhere(bad)[0])
        raise ContractError(f"{path}: conf must lie in [0, 1] (a probability), found {conf[tuple(np.argwhere(bad)[0])]} "
                            f"at frame {f}, landmark {lm} (range {np.nanmin(conf):g} to {np.nanmax(conf):g}"
                            f"{'; a 0-100 scale? divide by 100' if np.nanmax(conf) > 1 else ''}); fix the file or rerun the detection")
    if not np.isfinite(t).all():
        raise ContractError(f"{path}: t holds NaN or infinite times at frame {int(np.flatnonzero(~np.isfinite(t))[0])}; "
                            "every frame needs its time in seconds")
    steps = np.diff(t)
    if (steps <= 0).any():
        i = int(np.flatnonzero(steps <= 0)[0])
        raise ContractError(f"{path}: times go backward or repeat at frame {i + 1} ({t[i]:.6f} s -> {t[i + 1]:.6f} s); "
                            "the timestamps do not belong to this video")


def _check_size(size: np.ndarray, path: Path) -> tuple[int, int]:
    size = np.asarray(size)
    if size.shape != (2,) or size.dtype.kind not in "iuf" or not np.all(np.isfinite(size)) or np.any(size <= 0):
        raise ContractError(f"{path}: size must be the image's (width, height) in pixels, got {size.tolist()}")
    return int(size[0]), int(size[1])
