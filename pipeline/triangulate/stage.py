"""The triangulate stage: pose2d/*.npz + sync.json + calibration.toml -> ``pose3d.npz``.

Every camera's landmarks are resampled onto the sync timeline, left/right swaps
repaired, the skeleton triangulated (numpy or cupy, chosen once here from
``device``), short gaps filled and the trajectories low-passed. A camera that
detected nobody is left out (with a note) as long as two cameras remain.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping

import numpy as np

from calibration.camera import Rig
from calibration.io import read_calibration
from pipeline.common.landmarks import BODY_JOINTS
from pipeline.common.timebase import frame_rate
from pipeline.common.xp import select_device
from pipeline.contracts import SessionInputError
from pipeline.contracts.pose2d import Pose2D, read_pose2d_files, split_detected
from pipeline.contracts.pose3d import write_pose3d
from pipeline.contracts.sync import Sync, read_sync
from pipeline.sync.timeline import reference_times, resample_to_timeline
from pipeline.triangulate.core import triangulate
from pipeline.triangulate.filtering import filter_pose3d

log = logging.getLogger(__name__)


def match_cameras(names: list[str], calibration: Rig, calibration_path: Path) -> tuple[Rig, list[str]]:
    """The calibrated camera of each session camera, in session order, and the calibrated cameras without video.

    A session camera the calibration does not know is an error; a calibrated
    camera that filmed nothing this session (unplugged, failed to record) is
    only reported, so the other cameras' work is kept.
    """
    unknown = [n for n in names if n not in calibration.names]
    if unknown:
        raise SessionInputError(
            f"camera(s) {', '.join(unknown)} of the session are not in the calibration '{calibration_path}' "
            f"(it knows {', '.join(calibration.names)}); name each video after its calibrated camera")
    unused = [c for c in calibration.names if c not in names]
    if unused:
        log.warning("calibrated camera(s) %s have no video in this session; triangulating with %s",
                    ", ".join(unused), ", ".join(names))
    return calibration.subset(names), unused


def view_frames(cams: Mapping[str, Pose2D], sync: Sync) -> tuple[np.ndarray, np.ndarray]:
    """(C, T) each camera's frame nearest to each timeline instant (-1 outside its recording, more than
    half a frame away), and (C, T) the person slot seen there (0: the one BlazePose followed; -1: nobody)."""
    frame, person = [], []
    for c, lm in cams.items():
        t_cam = reference_times(lm.t, sync.cameras[c])
        hi = np.clip(np.searchsorted(t_cam, sync.t), 1, len(t_cam) - 1)
        nearest = np.where(np.abs(t_cam[hi - 1] - sync.t) <= np.abs(t_cam[hi] - sync.t), hi - 1, hi)
        half_step = 0.5 / max(frame_rate(t_cam), 1e-9)
        nearest = np.where(np.abs(t_cam[nearest] - sync.t) <= half_step + 1e-9, nearest, -1)
        seen = np.isfinite(lm.xy).all(-1).any(-1)
        frame.append(nearest)
        person.append(np.where((nearest >= 0) & seen[np.maximum(nearest, 0)], 0, -1))
    return np.stack(frame).astype(np.int32), np.stack(person).astype(np.int8)


def on_timeline(cams: Mapping[str, Pose2D], sync: Sync) -> tuple[np.ndarray, np.ndarray]:
    """Every camera's landmarks resampled onto the sync timeline: (C, T, 33, 2) and (C, T, 33)."""
    xy, conf = zip(*(resample_to_timeline(lm.xy, lm.conf, reference_times(lm.t, sync.cameras[c]), sync.t, c)
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
    (``pipeline.triangulate.refine``), then repairs the swaps again with the
    refined cameras.

    Returns the report also stored in the file's ``info`` (JSON): cameras used
    and left out, sync method, swaps repaired, reprojection error, filtering.
    """
    calibration = Path(calibration)
    xp = select_device(device)  # the one array-module choice of this stage, passed down
    sync = read_sync(sync_json)
    cams, empty = split_detected(read_pose2d_files(pose2d))
    matched, without_video = match_cameras([*cams, *empty], Rig(read_calibration(calibration)), calibration)
    cameras = matched[:len(cams)]
    xy, conf = on_timeline(cams, sync)

    swaps: dict = {}
    offsets = None
    if repair_swaps or refine_calibration:
        from pipeline.triangulate.swaps import repair_swaps as repair

        fixed_xy, fixed_conf, swaps = repair(xy, conf, cameras, outlier_px=outlier_px, xp=xp)
        if refine_calibration:
            from pipeline.triangulate.refine import principal_point_offsets

            offsets = principal_point_offsets(fixed_xy, fixed_conf, cameras, xp=xp)
            cameras = cameras.shifted(offsets)
            # the swap decisions are surer once the views agree
            fixed_xy, fixed_conf, swaps = repair(xy, conf, cameras, outlier_px=outlier_px, xp=xp)
        if repair_swaps:
            xy, conf = fixed_xy, fixed_conf
        else:
            swaps = {}
    res = triangulate(xy, conf, cameras, xp=xp, outlier_px=outlier_px, min_ray_angle_deg=min_ray_angle_deg)
    xyz, filt = filter_pose3d(res.xyz, sync.t, max_gap_s=max_gap_s, cutoff_hz=cutoff_hz)

    info = {
        "cameras": list(cams),
        "left_out": {**{c: "no person detected" for c in empty}, **{c: "no video in this session" for c in without_video}},
        "sync_method": sync.method, "swaps": swaps,
        "principal_point_shift_px": None if offsets is None else
        {c.name: [round(float(v), 2) for v in d] for c, d in zip(cameras, offsets)},
        "reprojection_px": _error_summary(res.err, res.err_per_cam, list(cams)),
        "tracked_pct": float(100.0 * np.isfinite(res.xyz).all(-1).mean()),
        "filter": filt,
    }
    frame, person = view_frames(cams, sync)
    write_pose3d(out_npz, xyz, sync.t, err=res.err, ncams=res.ncams, xyz_raw=res.xyz, cameras=list(cams),
                 view_frame=frame, view_person=person, info=info)
    return info


def _error_summary(err: np.ndarray, err_per_cam: np.ndarray, names: list[str]) -> dict:
    body = err[:, list(BODY_JOINTS)]
    return {
        "median_all": _nanstat(np.nanmedian, err),
        "median_body_joints": _nanstat(np.nanmedian, body),
        "per_camera_median": {n: _nanstat(np.nanmedian, e) for n, e in zip(names, err_per_cam)},
    }


def _nanstat(fn, a: np.ndarray) -> float | None:
    return float(fn(a)) if np.isfinite(a).any() else None

