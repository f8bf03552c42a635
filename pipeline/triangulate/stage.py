"""The triangulate stage: pose2d/*.npz + sync.json + calibration.toml -> ``pose3d.npz``.

Every camera's people are put on the sync timeline and matched across cameras
(``pipeline.triangulate.people``); the athlete is chosen and each camera's
view of the athlete taken from that person's detections. Then the athlete's
left/right swaps are repaired, the skeleton triangulated (numpy or cupy,
chosen once here from ``device``), short gaps filled and the trajectories
low-passed. A camera that detected nobody, or never saw the athlete, is left
out (with a note) as long as two cameras remain.

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
from typing import Any, Mapping

import numpy as np

from calibration.camera import Rig
from calibration.io import read_calibration
from pipeline.common.athlete import AthleteHint, athlete_hint
from pipeline.common.landmarks import BODY_JOINTS
from pipeline.common.timebase import frame_rate
from pipeline.common.xp import select_device
from pipeline.contracts import SessionInputError
from pipeline.contracts.pose2d import MIN_CAMERAS, Pose2D, read_pose2d_files, split_detected
from pipeline.contracts.pose3d import tracked_text, write_pose3d
from pipeline.contracts.sync import Sync, read_sync
from pipeline.sync.timeline import FULL_COVERAGE, reference_times, resample_to_timeline
from pipeline.triangulate.core import triangulate
from pipeline.triangulate.filtering import filter_pose3d
from pipeline.triangulate.people import AthleteChoice, select_athlete

HOLD_S = 0.25  # a person measured every few frames is held this long for the matching across cameras

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


def view_frames(cams: Mapping[str, Pose2D], sync: Sync, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(C, T) each camera's frame nearest to each timeline instant (-1 outside its recording, more than
    half a frame away), and (C, T) the athlete's person slot there (``slots``, -1 where the camera had no
    view of the athlete or no frame)."""
    frame = []
    for c, lm in cams.items():
        t_cam = reference_times(lm.t, sync.cameras[c])
        hi = np.clip(np.searchsorted(t_cam, sync.t), 1, len(t_cam) - 1)
        nearest = np.where(np.abs(t_cam[hi - 1] - sync.t) <= np.abs(t_cam[hi] - sync.t), hi - 1, hi)
        half_step = 0.5 / max(frame_rate(t_cam), 1e-9)
        frame.append(np.where(np.abs(t_cam[nearest] - sync.t) <= half_step + 1e-9, nearest, -1))
    frame = np.stack(frame).astype(np.int32)
    return frame, np.where(frame >= 0, slots, -1).astype(np.int8)


def nearest_measured(xy: np.ndarray, t_cam: np.ndarray, timeline: np.ndarray, max_dt: float) -> np.ndarray:
    """(T, P) the frame of each slot's measurement nearest in time to each instant, -1 if none within ``max_dt``.

    The detector measures the people it does not focus on every few frames;
    the matching across cameras compares views at the same instant, so such a
    person is held at their nearest measurement (a walker covers about 0.2 m
    in a tenth of a second, well inside the matching's tolerance).
    """
    F, P = xy.shape[:2]
    out = np.full((len(timeline), P), -1, np.int64)
    measured = np.isfinite(xy).all(-1).any(-1)  # (F, P)
    for p in range(P):  # a loop over person slots
        idx = np.flatnonzero(measured[:, p])
        if not len(idx):
            continue
        ts = t_cam[idx]
        hi = np.clip(np.searchsorted(ts, timeline), 0, len(idx) - 1)
        lo = np.maximum(hi - 1, 0)
        j = np.where(np.abs(ts[lo] - timeline) <= np.abs(ts[hi] - timeline), lo, hi)
        out[:, p] = np.where(np.abs(ts[j] - timeline) <= max_dt, idx[j], -1)
    return out


def _gather(a: np.ndarray, frames: np.ndarray, fill: float) -> np.ndarray:
    """``a`` (F, P, ...) at ``frames`` (T, P) per slot; ``fill`` where the frame is -1."""
    out = a[np.maximum(frames, 0), np.arange(a.shape[1])]
    return np.where((frames >= 0).reshape(frames.shape + (1,) * (a.ndim - 2)), out, fill)


def people_on_timeline(cams: Mapping[str, Pose2D], sync: Sync) -> tuple[np.ndarray, np.ndarray]:
    """Every camera's person slots held onto the timeline for the matching, (C, T, P, 33, 2) with P the most
    slots of any camera, and each camera's every-frame (focus) slot at each instant, (C, T)."""
    P = max(lm.n_people for lm in cams.values())
    xy = np.full((len(cams), len(sync.t), P, 33, 2), np.nan, np.float32)
    focus = np.full((len(cams), len(sync.t)), -1, np.int16)
    for c, (name, lm) in enumerate(cams.items()):
        t_cam = reference_times(lm.t, sync.cameras[name])
        xy[c, :, :lm.n_people] = _gather(lm.xy, nearest_measured(lm.xy, t_cam, sync.t, HOLD_S), np.nan)
        fslot = lm.focus_slots()
        hi = np.clip(np.searchsorted(t_cam, sync.t), 1, len(t_cam) - 1)
        nearest = np.where(np.abs(t_cam[hi - 1] - sync.t) <= np.abs(t_cam[hi] - sync.t), hi - 1, hi)
        focus[c] = fslot[nearest]
    return xy, focus


def athlete_on_timeline(cams: Mapping[str, Pose2D], sync: Sync, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The athlete's landmarks in every camera on the timeline, (C, T, 33, 2) and (C, T, 33): the slot
    ``slots`` (C, T) says (confidence 0 elsewhere), linearly resampled where both neighbouring frames measured
    it, else its measurement within half a frame."""
    xy_out, conf_out = [], []
    T = len(sync.t)
    for c, (name, lm) in enumerate(cams.items()):
        t_cam = reference_times(lm.t, sync.cameras[name])
        xy, conf = resample_to_timeline(lm.xy, lm.conf, t_cam, sync.t, name)  # (T, P, 33, 2)
        near = nearest_measured(lm.xy, t_cam, sync.t, 0.5 / max(frame_rate(t_cam), 1e-9) + 1e-9)
        gap = ~np.isfinite(xy).all(-1)  # (T, P, 33)
        xy = np.where(gap[..., None], _gather(lm.xy, near, np.nan), xy)
        conf = np.where(gap, _gather(lm.conf, near, 0.0), conf)
        pick = np.clip(slots[c], 0, lm.n_people - 1)
        mine = (slots[c] >= 0)[:, None]
        xy_out.append(np.where(mine[..., None], xy[np.arange(T), pick], np.nan))
        conf_out.append(np.where(mine, conf[np.arange(T), pick], 0.0))
    return np.stack(xy_out), np.nan_to_num(np.stack(conf_out), nan=0.0)


def choose_views(cams: Mapping[str, Pose2D], sync: Sync, cameras: Rig, hint: AthleteHint, *,
                 xp=None) -> AthleteChoice:
    """Match everyone across cameras and choose the athlete (``pipeline.triangulate.people``; when nobody is
    seen by two cameras at once, each camera's every-frame person)."""
    xy, focus = people_on_timeline(cams, sync)
    return select_athlete(xy, cameras, sync.t, hint, focus=focus, xp=xp)


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


def triangulate_session(pose2d: Mapping[str, str | Path], calibration: str | Path, sync_json: str | Path,
                        out_npz: str | Path, *, device: str = "auto", repair_swaps: bool = True,
                        refine_calibration: bool = False, outlier_px: float | None = None,
                        min_ray_angle_deg: float = 20.0, max_gap_s: float = 0.25,
                        cutoff_hz: float | None = 6.0, athlete: Any = None) -> dict:
    """Match people, choose the athlete, repair left/right swaps, triangulate and filter; write ``pose3d.npz``.

    ``athlete``: the session's ``athlete`` setting (a name, or a mapping with
    ``position: [x, y]`` or ``nearest_camera``; ``pipeline.common.athlete``)
    overriding the default choice of the athlete. ``refine_calibration`` first
    moves each camera's principal point by the constant offset the athlete's
    body joints show against the other cameras (``pipeline.triangulate.refine``,
    shifts beyond its bound refused), then repairs the swaps again with the
    refined cameras.

    Returns the report also stored in the file's ``info`` (JSON): cameras used
    and left out, the athlete and the other people, sync method, swaps
    repaired, reprojection error, filtering.
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
    log.info("person slots per camera: %s", ", ".join(f"{c} {lm.n_people}" for c, lm in cams.items()))
    choice = choose_views(cams, sync, cameras, athlete_hint(athlete), xp=xp)
    never = [c for i, c in enumerate(cams) if not (choice.slot[i] >= 0).any()]
    if len(cams) - len(never) < MIN_CAMERAS:
        raise SessionInputError(f"only {len(cams) - len(never)} camera(s) saw the athlete ({choice.rule}); cameras "
                                f"that saw only other people: {', '.join(never) or 'none'}. At least {MIN_CAMERAS} "
                                "are needed: check the athlete setting and that the cameras film the athlete")
    keep = [i for i, c in enumerate(cams) if c not in never]
    for c in never:
        log.warning("camera %s left out: it never saw the athlete (only other people)", c)
    cams = {c: cams[c] for c in list(cams) if c not in never}
    cameras = cameras.subset(list(cams))
    slots = choice.slot[keep]
    _log_people(choice)
    xy, conf = athlete_on_timeline(cams, sync, slots)

    swaps: dict = {}
    offsets = None
    refused: dict = {}
    if repair_swaps or refine_calibration:
        from pipeline.triangulate.swaps import repair_swaps as repair

        fixed_xy, fixed_conf, swaps = repair(xy, conf, cameras, outlier_px=outlier_px, xp=xp)
        if refine_calibration:
            from pipeline.triangulate.refine import guarded_principal_point_offsets

            offsets, refused = guarded_principal_point_offsets(fixed_xy, fixed_conf, cameras, xp=xp)
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
        "left_out": {**{c: "no person detected" for c in empty},
                     **{c: "never saw the athlete (only other people)" for c in never},
                     **{c: "no video in this session" for c in without_video}},
        "people": choice.report,
        "sync_method": sync.method, "swaps": swaps,
        "principal_point_shift_px": None if offsets is None else
        {c.name: [round(float(v), 2) for v in d] for c, d in zip(cameras, offsets)},
        "principal_point_refused": refused or None,
        "reprojection_px": _error_summary(res.err, res.err_per_cam, list(cams)),
        "tracked_pct": tracked,
        "coverage": _coverage(cams, sync, np.asarray(res.used)),
        "resized": resized,
        "filter": filt,
    }
    info["warnings"] = _warnings(info, cams, sync) + _people_warnings(info)
    for line in info["warnings"]:
        log.warning("%s", line)
    _log_result(info, swaps, time.perf_counter() - start)
    frame, person = view_frames(cams, sync, slots)
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


def _people_warnings(info: dict) -> list[str]:
    """What the report must say about the people: refused refinements, cameras that mostly saw someone else."""
    out = []
    for c, r in (info.get("principal_point_refused") or {}).items():
        out.append(f"refine_calibration refused to move camera {c}'s principal point by ({r['shift_px'][0]:+.1f}, "
                   f"{r['shift_px'][1]:+.1f}) px, more than its {r['bound_px']:.1f} px bound: it keeps its calibration; "
                   "check that the calibration belongs to this video and that the camera films the athlete")
    for c, why in (info.get("left_out") or {}).items():
        if why.startswith("never saw the athlete"):
            out.append(f"camera {c} never saw the athlete, only other people: left out")
    for c, v in ((info.get("people") or {}).get("cameras") or {}).items():
        if c in info["cameras"] and v["athlete_share"] < 0.5:
            out.append(f"camera {c} gave the athlete's view on only {100 * v['athlete_share']:.0f} % of the instants"
                       + (f"; on {v['only_candidate_someone_else']} its only person was someone else"
                          if v["only_candidate_someone_else"] else ""))
    return out


def _log_people(choice: AthleteChoice) -> None:
    """The stage log says who was there and what each camera gave the athlete."""
    rep = choice.report
    log.info("athlete: %s; on %d of %d instants", choice.rule, rep.get("athlete_instants", 0), rep.get("instants", 0))
    for name, c in (rep.get("cameras") or {}).items():
        log.info("camera %s: the athlete's view on %.1f %% of instants; %d view(s) re-assigned from the person the "
                 "detector followed; %d instant(s) where its only person was someone else; %d instant(s) with people "
                 "no other camera matched", name, 100 * c["athlete_share"], c["reassigned"],
                 c["only_candidate_someone_else"], c["unmatched_instants"])
    others = rep.get("others") or []
    if others:
        log.info("%d other person(s) seen: %s", len(others), "; ".join(describe_person(p) for p in others))
    else:
        log.info("no other person seen by two cameras at once")


def describe_person(p: dict) -> str:
    """One person of the report in words: when, where and which cameras saw them."""
    cams = ", ".join(f"{c} {n}" for c, n in p["cameras"].items())
    return (f"person {p['id']} at {_s(p['t_start'])}-{_s(p['t_end'])} s near ({p['floor_xy'][0]:.1f}, "
            f"{p['floor_xy'][1]:.1f}) m, {p['instants']} instants (views per camera: {cams})")


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

