"""The analyze stage: pose3d.npz -> kinematics.csv + reps.json (docs/data-contracts.md)."""
from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter1d

from pipeline.analyze.cues import Cue, evaluate, load_cues, select_cues
from pipeline.analyze.kinematics import compute_kinematics
from pipeline.analyze.reps import NoRepsError, Rep, bridge_nans, segment_reps
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


def rep_metrics(kin: pd.DataFrame, reps: list[Rep], fps: float, exercise: str = "") -> list[dict]:
    """Per-rep figures that are not a single kinematics column: tempo, depth, swing timing."""
    t = kin["t"].to_numpy(np.float64)
    hip = kin["hip_flex"].to_numpy(np.float64)
    hip_ext_vel = -np.gradient(hip) * fps
    arm_vel = np.gradient(kin["arm_elev"].to_numpy(np.float64)) * fps
    rows = []
    for r in reps:
        b0, b1 = r.bottom_window
        bw = slice(b0, b1 + 1)
        rising = slice(r.bottom, r.end + 1)
        m = {
            "hip_flex_bottom": float(np.nanmean(hip[bw])),
            "knee_flex_bottom": float(np.nanmean(kin["knee_flex"].to_numpy()[bw])),
            "hip_travel_bottom": float(np.nanmean(kin["hip_travel_leg"].to_numpy()[bw])),
            "hip_travel_bottom_m": float(np.nanmean(kin["hip_travel"].to_numpy()[bw])),
            "trunk_incl_bottom": float(np.nanmean(kin["trunk_incl"].to_numpy()[bw])),
            "com_heel_toe_bottom": float(np.nanmean(kin["com_heel_toe"].to_numpy()[bw])),
            # as docs/data-contracts.md: start -> bottom and bottom -> end (a bottom pause splits evenly)
            "lowering_s": float(t[r.bottom] - t[r.start]),
            "rising_s": float(t[r.end] - t[r.bottom]),
            "hip_ext_vel_peak": float(np.nanmax(hip_ext_vel[rising])) if np.isfinite(hip_ext_vel[rising]).any() else float("nan"),
        }
        m["eccentric_ratio"] = m["lowering_s"] / m["rising_s"] if m["rising_s"] > 0 else float("nan")
        # hips before arms (swings): the hip-extension velocity peak should precede the arm-elevation one
        m["hips_lead_s"] = (_peak_time(arm_vel[rising], t[rising]) - _peak_time(hip_ext_vel[rising], t[rising])
                            if exercise == "kettlebell_swing" else float("nan"))
        rows.append(m)
    depths = np.array([m["hip_flex_bottom"] for m, r in zip(rows, reps) if r.reliable])
    median = float(np.nanmedian(depths)) if depths.size else float("nan")
    for m in rows:
        m["depth_dev"] = abs(m["hip_flex_bottom"] - median)
    return rows


def analyze(xyz: np.ndarray, t: np.ndarray, exercise: str, *, cues_path=None, only_cues: list[str] | None = None,
            fps: float | None = None, session: str = "", hip_offset_m: float | None = None,
            require_reps: bool = True) -> tuple[pd.DataFrame, dict]:
    """Kinematics table and the reps.json content of one session (nothing written).

    ``hip_offset_m`` overrides the cues file's ``settings.hip_offset_m`` (see pipeline/analyze/skeleton.py).
    ``require_reps=False`` turns a session without reps (too short, or no hinge in it) into a
    report with no reps and a ``message`` saying why, so its kinematics and replay are still
    there to review; by default it is an error.
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
    verdicts = evaluate(cues, smooth, reps, metrics)
    rep_rows = []
    fails: dict[str, int] = {}
    warns: dict[str, int] = {}
    quality = 0
    for i, (r, m, v) in enumerate(zip(reps, metrics, verdicts)):
        for c in v:
            if c["verdict"] == "fail":
                fails[c["id"]] = fails.get(c["id"], 0) + 1
            elif c["verdict"] == "warn":
                warns[c["id"]] = warns.get(c["id"], 0) + 1
        quality += int(r.reliable and not any(c["verdict"] == "fail" for c in v))
        rep_rows.append({
            "index": i + 1, "start": r.start, "bottom": r.bottom, "end": r.end,
            "t_start": round(float(t[r.start]), 4), "t_bottom": round(float(t[r.bottom]), 4), "t_end": round(float(t[r.end]), 4),
            "lowering_s": round(m["lowering_s"], 3), "rising_s": round(m["rising_s"], 3), "reliable": r.reliable,
            "metrics": {k: (round(float(x), 4) if np.isfinite(x) else None) for k, x in m.items()},
            "cues": v,
        })
    report = {
        "session": session, "exercise": exercise, "fps": float(fps), "n_reps": len(reps),
        "cues": [c.header() for c in cues],
        "reps": rep_rows,
        "summary": {"quality_reps": quality, "violations": fails, "warnings": warns,
                    "unreliable_reps": sum(not r.reliable for r in reps),
                    "note": "a violation is a 'fail' verdict; a quality rep is a reliable rep with none"},
    }
    return kin, report


def _too_short_message(session: str, duration: float, frames: int, settings: dict) -> str:
    return (f"session '{session}' is {duration:.2f} s long ({frames} frames); at least "
            f"{settings.get('min_session_s', 2.0)} s are needed to find a rep: record the whole set")


def _no_reps_report(session: str, exercise: str, fps: float, cues: list[Cue], message: str) -> dict:
    return {
        "session": session, "exercise": exercise, "fps": float(fps), "n_reps": 0,
        "cues": [c.header() for c in cues], "reps": [], "message": message,
        "summary": {"quality_reps": 0, "violations": {}, "warnings": {}, "unreliable_reps": 0,
                    "note": "no reps: nothing was judged"},
    }


def analyze_session(pose3d_path, exercise: str, out_dir, cues_path=None, *, only_cues: list[str] | None = None,
                    hip_offset_m: float | None = None, require_reps: bool = True) -> dict:
    """Analyse one session's pose3d.npz; writes kinematics.csv and reps.json into ``out_dir`` atomically."""
    start = time.perf_counter()
    pose3d_path, out_dir = Path(pose3d_path), Path(out_dir)
    pose = read_pose3d(pose3d_path)
    session = out_dir.name
    log.info("read %s: %d frames at %.2f fps (%.1f s), %s of the landmark samples present; exercise %s, cues from %s",
             pose3d_path, pose.n_frames, pose.fps, pose.n_frames / pose.fps if pose.fps else 0.0,
             f"{100 * np.isfinite(pose.xyz).all(-1).mean():.1f} %", exercise, cues_path or "the default cues file")
    try:
        kin, report = analyze(pose.xyz, pose.t, exercise, cues_path=cues_path, only_cues=only_cues, fps=pose.fps,
                              session=session, hip_offset_m=hip_offset_m, require_reps=require_reps)
    except (SessionTooShortError, NoRepsError) as exc:
        raise type(exc)(f"{pose3d_path}: {exc}") from None
    _log_report(report)
    write_kinematics(out_dir / "kinematics.csv", kin)
    write_reps(out_dir / "reps.json", report)
    log.info("wrote %s and %s in %.1f s", out_dir / "kinematics.csv", out_dir / "reps.json", time.perf_counter() - start)
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
        log.info("rep %d: %.2f-%.2f s (bottom %.2f s)%s: %s", r["index"], r["t_start"], r["t_end"], r["t_bottom"],
                 "" if r["reliable"] else ", unreliable (landmarks missing)", ", ".join(failed) or "no cue failed")
    log.info("verdicts: %s; %d quality rep(s) of %d", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
             report["summary"]["quality_reps"], report["n_reps"])
