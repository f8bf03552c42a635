"""A session's 2D landmarks -> one synchronised, triangulated, filtered 3D skeleton.

Two stages, each one Snakemake rule and one function here:

``sync_session``        pose2d/{cam}.npz            -> sync.json
``triangulate_session`` pose2d/*.npz + sync.json
                        + calibration.toml          -> pose3d.npz

A camera that detected nobody is left out of both (with a note) as long as two
cameras remain, so one bad camera does not cost the session.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from calibration.atomic import json_default, write_npz
from calibration.camera import Camera
from calibration.io import read_calibration

from .filtering import filter_pose3d
from .sync import (SyncError, common_timeline, estimate_drift, estimate_offsets, reference_times,
                   resample_to_timeline, write_sync_json)
from .triangulation import triangulate

log = logging.getLogger(__name__)

SYNC_METHODS = ("auto", "timestamps", "xcorr", "none")
MIN_CAMERAS = 2


class SessionInputError(ValueError):
    """A session's inputs do not fit together; the message names the camera or file."""


@dataclass
class CameraLandmarks:
    xy: np.ndarray  # (F, 33, 2) distorted pixels, NaN = missing
    conf: np.ndarray  # (F, 33)
    t: np.ndarray  # (F,) seconds, the camera's own clock
    t_source: str  # "timestamps" (one shared clock) or "fps" (frame index / fps)
    path: Path

    @property
    def detected(self) -> bool:
        return bool(np.isfinite(self.xy).all(-1).any())


def load_landmarks(paths: Mapping[str, str | Path]) -> dict[str, CameraLandmarks]:
    """Read every camera's pose2d file (docs/data-contracts.md); errors name the file."""
    from .detect2d import load_pose2d

    out = {}
    for cam, path in paths.items():
        xy, conf, t, meta = load_pose2d(path)
        out[cam] = CameraLandmarks(xy, conf, t, str(meta.get("t_source", "fps")), Path(path))
    return out


def split_detected(cams: Mapping[str, CameraLandmarks]) -> tuple[dict[str, CameraLandmarks], list[str]]:
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


def resolve_sync_method(method: str, cams: Mapping[str, CameraLandmarks]) -> str:
    """``auto``: the recorder's timestamps when every camera has them, else cross-correlation."""
    if method not in SYNC_METHODS:
        raise SyncError(f"sync method must be one of {', '.join(SYNC_METHODS)}, got {method!r}")
    if method != "auto":
        return method
    return "timestamps" if all(lm.t_source == "timestamps" for lm in cams.values()) else "xcorr"


def sync_session(pose2d: Mapping[str, str | Path], out_json: str | Path, *, method: str = "auto",
                 fps: float | None = None, reference: str | None = None, max_lag_s: float = 2.0) -> dict:
    """Estimate each camera's offset and the common timeline; write ``sync.json`` (atomically)."""
    cams = load_landmarks(pose2d)
    kept, empty = split_detected(cams)
    used = resolve_sync_method(method, kept)
    if used == "xcorr":
        series = {c: (lm.xy, lm.t) for c, lm in kept.items()}
        info = estimate_offsets(series, reference=reference, max_lag_s=max_lag_s)
        info = estimate_drift(series, info, reference=reference or next(iter(kept)), max_lag_s=max_lag_s)
    else:  # one shared clock (timestamps), or frames already simultaneous (none)
        info = {c: {"offset_s": 0.0, "drift": 0.0, "confidence": 1.0} for c in kept}
    # the landmarks themselves are resampled once, by the triangulate stage
    timeline = common_timeline({c: reference_times(lm.t, info[c]) for c, lm in kept.items()}, fps)
    for c in empty:
        info[c] = {"offset_s": 0.0, "drift": 0.0, "confidence": 0.0, "note": "no person detected: left out"}
    write_sync_json(out_json, method=used, timeline=timeline, cameras=info)
    return {"method": used, "timeline": timeline, "cameras": info}


def read_sync_json(path: str | Path) -> dict:
    path = Path(path)
    try:
        sync = json.loads(path.read_text())
        sync["t"] = np.asarray(sync["t"], dtype=np.float64)
        sync["cameras"]
    except FileNotFoundError:
        raise SessionInputError(f"'{path}' does not exist: run the sync stage first") from None
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise SessionInputError(f"'{path}' is not a sync file (docs/data-contracts.md): {exc}") from None
    return sync


def match_cameras(names: list[str], calibration: list[Camera], calibration_path: Path) -> tuple[list[Camera], list[str]]:
    """The calibrated camera of each session camera, in session order, and the calibrated cameras without video.

    A session camera the calibration does not know is an error; a calibrated
    camera that filmed nothing this session (unplugged, failed to record) is
    only reported, so the other cameras' work is kept.
    """
    by_name = {c.name: c for c in calibration}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise SessionInputError(
            f"camera(s) {', '.join(unknown)} of the session are not in the calibration '{calibration_path}' "
            f"(it knows {', '.join(by_name)}); name each video after its calibrated camera")
    unused = [c for c in by_name if c not in names]
    if unused:
        log.warning("calibrated camera(s) %s have no video in this session; triangulating with %s",
                    ", ".join(unused), ", ".join(names))
    return [by_name[n] for n in names], unused


def on_timeline(cams: Mapping[str, CameraLandmarks], sync: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Every camera's landmarks resampled onto the sync timeline: (C, T, 33, 2) and (C, T, 33)."""
    timeline = sync["t"]
    xy, conf = zip(*(resample_to_timeline(lm.xy, lm.conf, reference_times(lm.t, sync["cameras"][c]), timeline, c)
                     for c, lm in cams.items()))
    return np.stack(xy), np.nan_to_num(np.stack(conf), nan=0.0)


def triangulate_session(pose2d: Mapping[str, str | Path], calibration: str | Path, sync_json: str | Path,
                        out_npz: str | Path, *, device: str = "auto", repair_swaps: bool = True,
                        refine_calibration: bool = False, outlier_px: float | None = None,
                        min_ray_angle_deg: float = 20.0, max_gap_s: float = 0.25,
                        cutoff_hz: float | None = 6.0) -> dict:
    """Resample, repair left/right swaps, triangulate and filter; write ``pose3d.npz`` (atomically).

    ``refine_calibration`` first moves each camera's principal point by the
    constant offset its body joints show against the other cameras
    (``pipeline.refine``), then repairs the swaps again with the refined cameras.

    Returns the report also stored in the file's ``info`` (JSON): cameras used
    and left out, sync method, swaps repaired, reprojection error, filtering.
    """
    calibration = Path(calibration)
    sync = read_sync_json(sync_json)
    cams, empty = split_detected(load_landmarks(pose2d))
    matched, without_video = match_cameras([*cams, *empty], read_calibration(calibration), calibration)
    cameras = matched[:len(cams)]
    xy, conf = on_timeline(cams, sync)

    swaps: dict = {}
    offsets = None
    if repair_swaps or refine_calibration:
        from .swaps import repair_swaps as repair

        fixed_xy, fixed_conf, swaps = repair(xy, conf, cameras, outlier_px=outlier_px)
        if refine_calibration:
            from .refine import principal_point_offsets, shifted

            offsets = principal_point_offsets(fixed_xy, fixed_conf, cameras, device=device)
            cameras = shifted(cameras, offsets)
            # the swap decisions are surer once the views agree
            fixed_xy, fixed_conf, swaps = repair(xy, conf, cameras, outlier_px=outlier_px)
        if repair_swaps:
            xy, conf = fixed_xy, fixed_conf
        else:
            swaps = {}
    res = triangulate(xy, conf, cameras, device=device, outlier_px=outlier_px, min_ray_angle_deg=min_ray_angle_deg)
    t = sync["t"]
    xyz, filt = filter_pose3d(res.xyz, t, max_gap_s=max_gap_s, cutoff_hz=cutoff_hz)

    info = {
        "cameras": list(cams),
        "left_out": {**{c: "no person detected" for c in empty}, **{c: "no video in this session" for c in without_video}},
        "sync_method": sync.get("method"), "swaps": swaps,
        "principal_point_shift_px": None if offsets is None else
        {c.name: [round(float(v), 2) for v in d] for c, d in zip(cameras, offsets)},
        "reprojection_px": _error_summary(res.err, res.err_per_cam, list(cams)),
        "tracked_pct": float(100.0 * np.isfinite(res.xyz).all(-1).mean()),
        "filter": filt,
    }
    fps = 1.0 / float(np.median(np.diff(t))) if t.size >= 2 else 0.0
    write_npz(out_npz, xyz=xyz, err=res.err.astype(np.float32), ncams=res.ncams.astype(np.int16),
              t=t, fps=np.float64(fps), xyz_raw=res.xyz.astype(np.float32),
              cameras=np.array(list(cams)), info=np.array(json.dumps(info, default=json_default)))
    return info


def _error_summary(err: np.ndarray, err_per_cam: np.ndarray, names: list[str]) -> dict:
    from .landmarks import BODY_JOINTS

    body = err[:, list(BODY_JOINTS)]
    return {
        "median_all": _nanstat(np.nanmedian, err),
        "median_body_joints": _nanstat(np.nanmedian, body),
        "per_camera_median": {n: _nanstat(np.nanmedian, e) for n, e in zip(names, err_per_cam)},
    }


def _nanstat(fn, a: np.ndarray) -> float | None:
    return float(fn(a)) if np.isfinite(a).any() else None


def read_info(pose3d: str | Path) -> dict:
    """The triangulation report stored in a pose3d.npz (empty for files from elsewhere)."""
    with np.load(pose3d, allow_pickle=False) as z:
        return json.loads(str(z["info"])) if "info" in z.files else {}
