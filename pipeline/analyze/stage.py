"""The analyze stage: pose3d.npz (+ the cameras' silhouettes) -> kinematics.csv + reps.json (docs/data-contracts.md)."""
from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter1d

from pipeline.analyze.cues import Cue, evaluate, load_cues, select_cues
from pipeline.analyze.kinematics import compute_kinematics
from pipeline.analyze.rep_reference import other_reps_reference
from pipeline.analyze.reps import NoRepsError, Rep, bridge_nans, segment_reps
from pipeline.analyze.silhouette_measures import add_silhouette_measures, load_views
from pipeline.analyze.uncertainty import (DEFAULT_MODEL, CaptureQuality, ErrorModel, image_side, interval,
                                          load_model, quality_window)
from pipeline.common.timebase import frame_rate
from pipeline.contracts.kinematics import write_kinematics
from pipeline.contracts.pose3d import read_pose3d
from pipeline.contracts.reps import write_reps

__all__ = ["analyze_session", "analyze", "SessionTooShortError", "NoRepsError"]

log = logging.getLogger(__name__)


class SessionTooShortError(ValueError):
    """The session is too short to hold a rep."""


def smooth_columns(kin: pd.DataFrame, fps: float, sigma_s: float) -> pd.DataFrame:
    """Gaussian-smoothed copy of the numeric columns; gaps stay NaN."""
    out = kin.copy()
    if sigma_s <= 0:
        return out
    for col in kin.columns:
        if col in ("frame", "t", "standing") or not np.issubdtype(kin[col].dtype, np.floating):
            continue
        x, bad = bridge_nans(kin[col].to_numpy(np.float64))
        y = gaussian_filter1d(x, sigma=sigma_s * fps, mode="nearest")
        out[col] = np.where(bad, np.nan, y)
    return out


def _peak_time(x: np.ndarray, t: np.ndarray) -> float:
    """Time of the maximum of x with parabolic sub-frame refinement."""
    if not np.isfinite(x).any():
        return float("nan")
    i = int(np.nanargmax(x))
    if 0 < i < len(x) - 1 and np.isfinite(x[i - 1:i + 2]).all():
        den = x[i - 1] - 2 * x[i] + x[i + 1]
        if den < 0:
            return float(t[i] + 0.5 * (x[i - 1] - x[i + 1]) / den * (t[1] - t[0]))
    return float(t[i])


MIN_BOTTOM_COVER = 1 / 3  # a rep's bottom value needs at least this share of its bottom frames measured


def _bottom_mean(kin: pd.DataFrame, col: str, bw: slice) -> float:
    x = kin[col].to_numpy(np.float64)[bw] if col in kin.columns else np.array([np.nan])
    ok = np.isfinite(x)
    return float(np.mean(x[ok])) if ok.any() and ok.mean() >= MIN_BOTTOM_COVER else float("nan")


def _cover_note(kin: pd.DataFrame, col: str, bw: slice) -> str | None:
    x = kin[col].to_numpy(np.float64)[bw]
    ok = np.isfinite(x)
    return None if ok.all() else f"judged from {int(ok.sum())} of {len(ok)} bottom frames (landmark gap)"


def rep_metrics(kin: pd.DataFrame, reps: list[Rep], fps: float, exercise: str = "") -> list[dict]:
    """Per-rep figures: each cue metric's bottom value, tempo, depth, swing timing, shoulder rise.

    ``_reasons``/``_notes`` (metric -> text) say why a per-rep value is missing or how it was judged.
    """
    t = kin["t"].to_numpy(np.float64)
    hip = kin["hip_flex"].to_numpy(np.float64)
    trunk = kin["trunk_length"].to_numpy(np.float64)
    hip_ext_vel = -np.gradient(hip) * fps
    arm_vel = np.gradient(kin["arm_elev"].to_numpy(np.float64)) * fps
    rows = []
    for r in reps:
        b0, b1 = r.bottom_window
        bw = slice(b0, b1 + 1)
        rising = slice(r.bottom, r.end + 1)
        m = {
            "hip_flex_bottom": _bottom_mean(kin, "hip_flex", bw),
            "knee_flex_bottom": _bottom_mean(kin, "knee_flex", bw),
            "knee_bend_bottom": _bottom_mean(kin, "knee_bend", bw),
            "hip_travel_bottom": _bottom_mean(kin, "hip_travel_leg", bw),
            "hip_travel_bottom_m": _bottom_mean(kin, "hip_travel", bw),
            "trunk_incl_bottom": _bottom_mean(kin, "trunk_incl", bw),
            "com_heel_toe_bottom": _bottom_mean(kin, "com_heel_toe", bw),
            "com_footprint_bottom": _bottom_mean(kin, "com_footprint", bw),
            "back_flex_bottom": _bottom_mean(kin, "back_flex", bw),
            # as docs/data-contracts.md: start -> bottom and bottom -> end (a bottom pause splits evenly)
            "lowering_s": float(t[r.bottom] - t[r.start]),
            "rising_s": float(t[r.end] - t[r.bottom]),
            "hip_ext_vel_peak": float(np.nanmax(hip_ext_vel[rising])) if np.isfinite(hip_ext_vel[rising]).any() else float("nan"),
        }
        m["eccentric_ratio"] = m["lowering_s"] / m["rising_s"] if m["rising_s"] > 0 else float("nan")
        # hips before arms (swings): the hip-extension velocity peak should precede the arm-elevation one
        m["hips_lead_s"] = (_peak_time(arm_vel[rising], t[rising]) - _peak_time(hip_ext_vel[rising], t[rising])
                            if exercise == "kettlebell_swing" else float("nan"))
        m["_reasons"], m["_notes"] = {}, {}
        rows.append(m)
    for r, m in zip(reps, rows):  # per-rep values read at the bottom say how much of it they saw
        bw = slice(r.bottom_window[0], r.bottom_window[1] + 1)
        note = _cover_note(kin, "hip_flex", bw)
        if note:
            m["_notes"]["depth_dev"] = m["_notes"]["shoulder_rise_cm"] = note
    # a shrug: the shoulders further from the hips than in the athlete's other reps at the same hip flexion
    for i, m in enumerate(rows):
        ref = other_reps_reference(trunk, hip, reps, i) if len(reps) > 1 else float("nan")
        m["shoulder_rise_cm"] = 100.0 * (_bottom_mean(kin, "trunk_length", slice(reps[i].bottom_window[0],
                                                                                   reps[i].bottom_window[1] + 1)) - ref)
        if not np.isfinite(m["shoulder_rise_cm"]):
            m["_reasons"]["shoulder_rise_cm"] = ("a shrug is judged against the athlete's other reps: this session "
                                                 "has none to compare with" if len(reps) < 2 else
                                                 "landmark gap at the bottom of the rep")
    depths = np.array([m["hip_flex_bottom"] for m, r in zip(rows, reps) if r.reliable and np.isfinite(m["hip_flex_bottom"])])
    median = float(np.nanmedian(depths)) if depths.size else float("nan")
    for m in rows:
        m["depth_dev"] = abs(m["hip_flex_bottom"] - median)
        if not np.isfinite(m["depth_dev"]):
            m["_reasons"]["depth_dev"] = "landmark gap at the bottom of the rep: its depth was not seen"
    return rows


def analyze(xyz: np.ndarray, t: np.ndarray, exercise: str, *, cues_path=None, only_cues: list[str] | None = None,
            fps: float | None = None, session: str = "", hip_offset_m: float | None = None,
            require_reps: bool = True, views=None, error_model: ErrorModel | None = None,
            quality: CaptureQuality | None = None) -> tuple[pd.DataFrame, dict]:
    """Kinematics table and the reps.json content of one session (nothing written).

    ``hip_offset_m`` overrides the cues file's ``settings.hip_offset_m`` (see pipeline/analyze/skeleton.py).
    ``require_reps=False`` turns a session without reps (too short, or no hinge in it) into a
    report with no reps and a ``message`` saying why, so its kinematics and replay are still
    there to review; by default it is an error. ``views``
    (``pipeline.analyze.spine_silhouette.CameraViews``): the cameras and their silhouettes, for the
    back and the feet; without them those cues are not judged. ``error_model`` and the capture's
    ``quality`` (``pipeline.analyze.uncertainty``) give each value its interval and the verdicts their
    borderline; without a model values are judged as exact.
    """
    cfg = load_cues(cues_path)
    cues: list[Cue] = select_cues(cfg.for_exercise(exercise), only_cues)
    st = dict(cfg.settings)
    if hip_offset_m is not None:
        st["hip_offset_m"] = float(hip_offset_m)
    xyz = np.asarray(xyz, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    if xyz.ndim != 3 or xyz.shape[1:] != (33, 3) or len(t) != len(xyz):
        raise ValueError(f"pose3d must hold xyz (T,33,3) and t (T,), got xyz {xyz.shape} and t {t.shape}")
    if fps is None:
        fps = frame_rate(t)
    duration = len(t) / fps if fps > 0 else 0.0
    if np.isnan(xyz).all():
        raise ValueError(f"session '{session}': every landmark is missing (NaN); check the detection and triangulation")
    too_short = duration < st.get("min_session_s", 2.0)
    if too_short and require_reps:
        raise SessionTooShortError(_too_short_message(session, duration, len(t), st))
    kin = compute_kinematics(xyz, t, fps=fps, hip_offset_m=st.get("hip_offset_m", 0.0))
    reasons, notes = add_silhouette_measures(kin, xyz, fps, views, bridge_s=st.get("silhouette_bridge_s", 1.0))
    smooth = smooth_columns(kin, fps, st.get("smooth_s", 0.1))
    try:
        if too_short:
            raise SessionTooShortError(_too_short_message(session, duration, len(t), st))
        reps = segment_reps(kin["hip_flex"].to_numpy(), fps, smooth_s=st.get("smooth_s", 0.1),
                            min_depth_deg=st.get("min_depth_deg", 20.0), min_rep_s=st.get("min_rep_s", 0.6),
                            partial_level=st.get("partial_level", 0.35), max_gap_s=st.get("max_gap_s", 0.3),
                            standing=kin["standing"].to_numpy(bool))
    except NoRepsError as exc:
        if require_reps:
            raise NoRepsError(f"session '{session}' ({exercise}, {duration:.1f} s): {exc}") from None
        return kin, _no_reps_report(session, exercise, fps, cues, f"no hinge rep found in this {duration:.1f} s session: {exc}")
    except SessionTooShortError as exc:
        return kin, _no_reps_report(session, exercise, fps, cues, str(exc))
    metrics = rep_metrics(smooth, reps, fps, exercise)
    verdicts = evaluate(cues, smooth, reps, metrics, reasons, notes,
                        _interval_of(error_model, quality, reps, len(t)))
    rep_rows = []
    fails: dict[str, int] = {}
    warns: dict[str, int] = {}
    borderline: dict[str, int] = {}
    not_judged: dict[str, int] = {}
    n_quality = n_borderline = 0
    for i, (r, m, v) in enumerate(zip(reps, metrics, verdicts)):
        for c in v:
            counts = {"fail": fails, "warn": warns, "borderline": borderline, "not_judged": not_judged}.get(c["verdict"])
            if counts is not None:
                counts[c["id"]] = counts.get(c["id"], 0) + 1
        n_quality += int(not any(c["verdict"] == "fail" for c in v))
        n_borderline += int(any(c["verdict"] == "borderline" for c in v) and not any(c["verdict"] == "fail" for c in v))
        rep_rows.append({
            "index": i + 1, "start": r.start, "bottom": r.bottom, "end": r.end,
            "t_start": round(float(t[r.start]), 4), "t_bottom": round(float(t[r.bottom]), 4), "t_end": round(float(t[r.end]), 4),
            "lowering_s": round(m["lowering_s"], 3), "rising_s": round(m["rising_s"], 3), "reliable": r.reliable,
            "gap_s": round(r.gap_frames / fps, 3),
            "metrics": {k: (round(float(x), 4) if np.isfinite(x) else None) for k, x in m.items() if not k.startswith("_")},
            "cues": v,
        })
    report = {
        "session": session, "exercise": exercise, "fps": float(fps), "n_reps": len(reps),
        "cues": [c.header() for c in cues],
        "reps": rep_rows,
        "summary": {"quality_reps": n_quality, "violations": fails, "warnings": warns, "borderline": borderline,
                    "borderline_reps": n_borderline, "not_judged": not_judged,
                    "unreliable_reps": sum(not r.reliable for r in reps),
                    "intervals": "measured" if error_model is not None else "none: no measurement-error model",
                    "note": "a violation is a 'fail' verdict: the value past the fail threshold by more than its "
                            "interval; a quality rep is a rep with none; 'borderline': within its interval of the "
                            "fail threshold (the measurement cannot tell; borderline_reps counts the quality reps "
                            "with one); a cue the "
                            "measurement could not tell is 'not_judged' (its reason says why); an unreliable rep "
                            "overlaps a landmark gap longer than max_gap_s (its cues are judged from what is there "
                            "where that is sound, with a note)"},
    }
    return kin, report


def _interval_of(model: ErrorModel | None, quality: CaptureQuality | None, reps: list, n_frames: int):
    """evaluate()'s interval_of: each cue's interval from the capture quality around its rep's bottom."""
    if model is None:
        return None

    def of(i: int, cue, cover: float):
        cams, rep = (quality.at(cue.id, quality_window(reps[i].bottom, n_frames)) if quality is not None
                     else (float("nan"), float("nan")))
        return interval(model, cue.id, cams, rep, cover)
    return of


def _too_short_message(session: str, duration: float, frames: int, settings: dict) -> str:
    return (f"session '{session}' is {duration:.2f} s long ({frames} frames); at least "
            f"{settings.get('min_session_s', 2.0)} s are needed to find a rep: record the whole set")


def _no_reps_report(session: str, exercise: str, fps: float, cues: list[Cue], message: str) -> dict:
    return {
        "session": session, "exercise": exercise, "fps": float(fps), "n_reps": 0,
        "cues": [c.header() for c in cues], "reps": [], "message": message,
        "summary": {"quality_reps": 0, "violations": {}, "warnings": {}, "borderline": {}, "borderline_reps": 0,
                    "not_judged": {}, "unreliable_reps": 0,
                    "note": "no reps: nothing was judged"},
    }


def analyze_session(pose3d_path, exercise: str, out_dir, cues_path=None, *, only_cues: list[str] | None = None,
                    hip_offset_m: float | None = None, require_reps: bool = True,
                    silhouettes: Mapping[str, str | Path] | None = None, calibration: str | Path | None = None,
                    error_model: str | Path | None | bool = None) -> dict:
    """Analyse one session's pose3d.npz; writes kinematics.csv and reps.json into ``out_dir`` atomically.

    ``silhouettes`` (camera -> silhouette/{cam}.npz) and the room's ``calibration`` let the analysis
    measure the back and the feet in the images; without them those cues are ``not_judged``.
    ``error_model``: the measurement-error model (default config/measurement_error.yaml) that gives each
    value its interval; ``False`` judges the values as exact (no interval, no borderline).
    """
    t0 = time.perf_counter()
    pose3d_path, out_dir = Path(pose3d_path), Path(out_dir)
    pose = read_pose3d(pose3d_path)
    session = out_dir.name
    rig = None
    if calibration is not None:  # read once: the back, the feet and the capture quality all use it
        from calibration.io import read_calibration

        rig = read_calibration(calibration)
    views = None
    if silhouettes and rig is not None:
        views = load_views(pose, {k: Path(v) for k, v in silhouettes.items()}, rig, calibration)
    log.info("read %s: %d frames at %.2f fps (%.1f s), %s of the landmark samples present; exercise %s, cues from %s",
             pose3d_path, pose.n_frames, pose.fps, pose.n_frames / pose.fps if pose.fps else 0.0,
             f"{100 * np.isfinite(pose.xyz).all(-1).mean():.1f} %", exercise, cues_path or "the default cues file")
    log.info("cameras %s; silhouettes %s", ", ".join(pose.cameras) or "-", "used" if views is not None else
             "not given: the back and feet cues will not be judged")
    model = load_model(error_model) if error_model is not False else None
    if error_model is False:
        log.info("judged without intervals (error_model=False): values taken as exact")
    quality = CaptureQuality.from_pose(pose.ncams, pose.err, image_side(rig, pose.cameras))
    if model is not None:
        log.info("intervals from %s (benchmark: %s); capture quality %s", error_model or DEFAULT_MODEL,
                 model.source or "?", "from pose3d's cameras and reprojection error" if quality is not None else
                 "unknown (pose3d has no ncams/err): the benchmark's typical capture assumed")
    try:
        kin, report = analyze(pose.xyz, pose.t, exercise, cues_path=cues_path, only_cues=only_cues, fps=pose.fps,
                              session=session, hip_offset_m=hip_offset_m, require_reps=require_reps, views=views,
                              error_model=model, quality=quality)
    except (SessionTooShortError, NoRepsError) as exc:
        raise type(exc)(f"{pose3d_path}: {exc}") from None
    _log_report(report)
    write_kinematics(out_dir / "kinematics.csv", kin)
    write_reps(out_dir / "reps.json", report)
    log.info("wrote %s and %s in %.1f s", out_dir / "kinematics.csv", out_dir / "reps.json", time.perf_counter() - t0)
    return report


def _log_report(report: dict) -> None:
    """What was found and judged: each rep's times and failed cues, the verdict counts."""
    if not report["reps"]:
        log.warning("no reps judged: %s", report.get("message", "no rep found"))
        return
    log.info("%d rep(s) found; cues judged: %s", report["n_reps"], ", ".join(c["id"] for c in report["cues"]) or "none")
    counts: Counter = Counter()
    for r in report["reps"]:
        counts.update(c["verdict"] for c in r["cues"])
        failed = [c["id"] for c in r["cues"] if c["verdict"] == "fail"]
        failed += [f'{c["id"]} (borderline)' for c in r["cues"] if c["verdict"] == "borderline"]
        unjudged = [f'{c["id"]} ({c.get("reason", "?")})' for c in r["cues"] if c["verdict"] == "not_judged"]
        log.info("rep %d: %.2f-%.2f s (bottom %.2f s)%s: %s%s", r["index"], r["t_start"], r["t_end"], r["t_bottom"],
                 "" if r["reliable"] else ", unreliable (landmarks missing)", ", ".join(failed) or "no cue failed",
                 f"; not judged: {'; '.join(unjudged)}" if unjudged else "")
    log.info("verdicts: %s; %d quality rep(s) of %d", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
             report["summary"]["quality_reps"], report["n_reps"])
