"""The triangulate stage: pose2d/*.npz + sync.json + calibration.toml -> ``pose3d.npz``.

Every camera's landmarks are resampled onto the sync timeline, left/right swaps
repaired, the skeleton triangulated (numpy or cupy, chosen once here from
``device``), short gaps filled and the trajectories low-passed. A camera that
detected nobody is left out (with a note) as long as two cameras remain.

What the 2D files and the calibration must agree on is checked here, where
they meet: a video filmed at another size than its calibration is rescaled
when the aspect ratio is the same (said in the log and ``info``) and an error
otherwise. Each camera's share of the session (a camera that started late or
stopped early) and anything else worth a warning go into ``info`` for the
report; a calibration that lets nothing be triangulated is an error, never
an all-NaN pose3d.npz.
"""
from __future__ import annotations

import logging
import time
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
from pipeline.contracts.pose3d import tracked_text, write_pose3d
from pipeline.contracts.sync import Sync, read_sync
from pipeline.sync.timeline import FULL_COVERAGE, reference_times, resample_to_timeline
from pipeline.triangulate.core import triangulate
from pipeline.triangulate.filtering import filter_pose3d

log = logging.getLogger(__name__)

ASPECT_TOLERANCE = 0.005  # 854x480 is 16:9 rounded to whole pixels; 1920x1088 (codec padding) is not
LOW_TRACKING_PCT = 50.0
# A camera this far off the others (and by this much) does not fit its calibration; the others outvote it.
MISFIT_PX, MISFIT_RATIO = 5.0, 3.0


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


def fit_image_sizes(cameras: Rig, cams: Mapping[str, Pose2D], calibration_path: Path) -> tuple[Rig, dict]:
    """The calibrated cameras rescaled to the size their videos were filmed at (same aspect ratio only).

    A camera calibrated at 640x480 and filmed at 960x720 is the same lens at
    another resolution: its intrinsics scale. A different aspect ratio is a
    crop or another camera mode, which no scaling fixes.
    """
    fitted, resized = [], {}
    for cam in cameras:
        size = cams[cam.name].size
        if size is None or tuple(size) == tuple(cam.size):
            fitted.append(cam)
            continue
        (w, h), (cw, ch) = size, cam.size
        if abs(w * ch - h * cw) > ASPECT_TOLERANCE * cw * h:
            raise SessionInputError(
                f"camera {cam.name}: its video {cams[cam.name].path} was filmed at {w}x{h} but the calibration "
                f"'{calibration_path}' is for {cw}x{ch}, another aspect ratio (a crop or another camera mode); film at "
                f"{cw}x{ch} (or the same shape) or calibrate the room again at {w}x{h}")
        log.warning("camera %s: filmed at %dx%d, calibrated at %dx%d (same aspect ratio): intrinsics scaled by %.3f",
                    cam.name, w, h, cw, ch, w / cw)
        fitted.append(cam.resized((w, h)))
        resized[cam.name] = {"calibrated": [cw, ch], "video": [w, h]}
    return Rig(fitted), resized


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
    start = time.perf_counter()
    calibration = Path(calibration)
    xp = select_device(device)  # the one array-module choice of this stage, passed down
    sync = read_sync(sync_json)
    cams, empty = split_detected(read_pose2d_files(pose2d))
    matched, without_video = match_cameras([*cams, *empty], Rig(read_calibration(calibration)), calibration)
    cameras, resized = fit_image_sizes(matched[:len(cams)], cams, calibration)
    log.info("read %d pose2d files, %s (sync %s, %d samples over %.2f s) and %s; triangulating on %s with %s",
             len(cams) + len(empty), sync_json, sync.method, len(sync.t), sync.t[-1] - sync.t[0], calibration,
             xp.__name__, ", ".join(cams))
    for c, why in {**{c: "no person detected" for c in empty}, **{c: "no video in this session" for c in without_video}}.items():
        log.warning("camera %s left out: %s", c, why)
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
    tracked = float(100.0 * np.isfinite(res.xyz).all(-1).mean())
    if tracked == 0:
        raise SessionInputError(
            f"no landmark could be triangulated in any of the {len(sync.t)} frames from {', '.join(cams)}: the views "
            f"do not meet in 3D. Check that the calibration '{calibration}' belongs to this room and these cameras "
            "(names, order, units in metres) and that the videos show the same moment (sync)")
    xyz, filt = filter_pose3d(res.xyz, sync.t, max_gap_s=max_gap_s, cutoff_hz=cutoff_hz)

    info = {
        "cameras": list(cams),
        "left_out": {**{c: "no person detected" for c in empty}, **{c: "no video in this session" for c in without_video}},
        "sync_method": sync.method, "swaps": swaps,
        "principal_point_shift_px": None if offsets is None else
        {c.name: [round(float(v), 2) for v in d] for c, d in zip(cameras, offsets)},
        "reprojection_px": _error_summary(res.err, res.err_per_cam, list(cams)),
        "tracked_pct": tracked,
        "coverage": _coverage(cams, sync, np.asarray(res.used)),
        "resized": resized,
        "filter": filt,
    }
    info["warnings"] = _warnings(info, cams, sync)
    for line in info["warnings"]:
        log.warning("%s", line)
    _log_result(info, swaps, time.perf_counter() - start)
    frame, person = view_frames(cams, sync)
    write_pose3d(out_npz, xyz, sync.t, err=res.err, ncams=res.ncams, xyz_raw=res.xyz, cameras=list(cams),
                 view_frame=frame, view_person=person, info=info)
    log.info("wrote %s", out_npz)
    return info


def _coverage(cams: Mapping[str, Pose2D], sync: Sync, used: np.ndarray) -> dict:
    """Per camera: the share of the timeline it filmed (sync.json) and of the frames it contributed 3D points to."""
    contributed = used.any(axis=-1)  # (C, T): the camera entered at least one landmark of the frame
    out = {}
    for c, frames in zip(cams, contributed):
        entry = sync.cameras.get(c, {})
        share = entry.get("covered_share", 1.0)
        out[c] = {"covered_s": entry.get("covered_s"), "covered_share": share, "short": share < FULL_COVERAGE,
                  "frames_pct": round(float(100.0 * frames.mean()), 2)}
    return out


def _warnings(info: dict, cams: Mapping[str, Pose2D], sync: Sync) -> list[str]:
    """What the report must say about this capture besides its tables: each a sentence naming the camera."""
    out = []
    for c, cov in info["coverage"].items():
        if cov["short"]:
            share, span = cov["covered_share"], cov["covered_s"] or []
            where = f"{_s(span[0])}-{_s(span[1])} s" if len(span) == 2 else "none"
            out.append(f"camera {c} filmed only {100 * share:.0f} % of the session ({where} of "
                       f"{_s(sync.t[0])}-{_s(sync.t[-1])} s); its missing stretch is a gap filled by the other cameras")
    for c, lm in cams.items():
        if lm.truncated:
            out.append(f"camera {c}: video {lm.video or lm.path} is truncated: {lm.frames_decoded} of its "
                       f"{lm.frames_stated} stated frames decoded")
    for c, r in info["resized"].items():
        out.append(f"camera {c}: filmed at {r['video'][0]}x{r['video'][1]}, calibrated at {r['calibrated'][0]}x"
                   f"{r['calibrated'][1]}; its intrinsics were scaled to the video")
    per_cam = {c: e for c, e in info["reprojection_px"]["per_camera_median"].items() if e is not None}
    for c, err in per_cam.items():
        others = [e for o, e in per_cam.items() if o != c]
        typical = float(np.median(others)) if others else None
        if typical is not None and err > MISFIT_PX and err > MISFIT_RATIO * typical:
            out.append(f"camera {c}: its views sit {err:.1f} px (median) from the 3D points, the other cameras' "
                       f"{typical:.1f} px: its calibration (or sync) does not fit its video; check them "
                       "(refine_calibration fixes a shifted principal point only)")
    if info["tracked_pct"] < LOW_TRACKING_PCT:
        out.append(f"only {info['tracked_pct']:.1f} % of the landmarks could be triangulated: check the calibration "
                   "and the sync before trusting this session")
    return out


def _log_result(info: dict, swaps: dict, took: float) -> None:
    for c, cov in info["coverage"].items():
        sw = (swaps.get("cameras") or {}).get(c, {})
        log.info("camera %s: contributed to %.1f %% of the frames; median reprojection %s px; swaps repaired "
                 "(whole/arms/legs/face) %s; views excluded %s", c, cov["frames_pct"],
                 _fmt(info["reprojection_px"]["per_camera_median"].get(c)),
                 "/".join(str(sw.get(k, 0)) for k in ("whole", "arms", "legs", "face")) if sw else "not checked",
                 sw.get("excluded", 0) if sw else "-")
    filt = info["filter"] or {}
    log.info("%s of the landmarks tracked; body joints' median reprojection %s px; landmark samples missing %s, "
             "%s of them filled (gaps up to %s s), %s left as gaps; took %.1f s", tracked_text(info["tracked_pct"]),
             _fmt(info["reprojection_px"]["median_body_joints"]), filt.get("missing_before", "-"),
             filt.get("filled", "-"), filt.get("max_gap_s", "-"), filt.get("missing_after", "-"), took)


def _s(t: float) -> str:
    """Seconds to 0.1 s, without the '-0.0' of a timeline that starts a hair before zero."""
    return f"{round(t, 1) + 0.0:.1f}"


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def _error_summary(err: np.ndarray, err_per_cam: np.ndarray, names: list[str]) -> dict:
    body = err[:, list(BODY_JOINTS)]
    return {
        "median_all": _nanstat(np.nanmedian, err),
        "median_body_joints": _nanstat(np.nanmedian, body),
        "per_camera_median": {n: _nanstat(np.nanmedian, e) for n, e in zip(names, err_per_cam)},
    }


def _nanstat(fn, a: np.ndarray) -> float | None:
    return float(fn(a)) if np.isfinite(a).any() else None

