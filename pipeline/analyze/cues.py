"""The cue rule engine: config/cues.yaml -> per-rep verdicts.

A cue names a metric; a metric is a per-frame series (a kinematics column)
reduced over the cue's phase of the rep, or a per-rep quantity (tempo, depth
against the session). The engine compares the value with the cue's warn/fail
thresholds (per-exercise overrides applied) and lists the frames of the phase
where the series itself crosses the threshold, for the report to colour.

Verdicts: ``pass``, ``warn``, ``fail``, or ``not_judged`` with a ``reason``
when the measurement cannot tell (no camera sees the athlete side-on, the
feet are not seen by enough cameras, a landmark gap hides the frames that
matter). A cue is judged from what is there where that is sound, and says so
in its ``note``: a violation seen in part of the phase stands; a pass needs
the frames where the violation would be (the bottom of the rep, or a third of
an averaged window).

With a measurement interval ``u`` (``pipeline.analyze.uncertainty``: the
benchmark's error scaled by this capture's quality), a value is ``fail`` only
when it lies past the fail threshold by more than ``u``; within ``u`` of it,
either side, it is ``borderline``: the measurement cannot tell. A capture too
poor for any interval is ``not_judged`` with the reason.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import jsonschema
import numpy as np
import pandas as pd
import yaml

from pipeline.common.config import yaml_problem
from pipeline.common.landmarks import INDEX
from pipeline.common.paths import CUES_SCHEMA, DEFAULT_CUES
from pipeline.analyze.reps import Rep
from pipeline.analyze.uncertainty import Interval

class CueConfigError(ValueError):
    """config/cues.yaml is invalid; the message names the file and the key."""


@dataclass(frozen=True)
class Metric:
    """How a cue's value is measured.

    A per-frame metric is ``offset + scale * kinematics[column]`` (or the ratio
    ``column / max(ratio_of, 1)``), reduced over the cue's phase; it travels
    with the verdicts in reps.json so the report draws its thresholds on the
    column's curve without guessing. ``deviation_of`` names the column a
    deviation-from-standing metric is measured on. A metric without a column is
    a per-rep quantity (tempo, depth against the session).
    """
    unit: str
    column: str | None = None
    scale: float = 1.0
    offset: float = 0.0
    reduce: str = "mean"  # mean | max | min | absmax (largest magnitude, sign kept) over the phase (smoothed first)
    ratio_of: str | None = None
    deviation_of: str | None = None
    needs: str | None = None  # what the series needs besides landmarks: "side_view" | "footprint" (silhouettes)

    @property
    def per_frame(self) -> bool:
        return self.column is not None

    def series(self, kin: pd.DataFrame) -> np.ndarray:
        values = kin[self.column].to_numpy(np.float64)
        if self.ratio_of is not None:
            values = values / np.maximum(kin[self.ratio_of].to_numpy(np.float64), 1.0)
        return self.offset + self.scale * values

    def header(self) -> dict:
        """What the report needs to draw a threshold of this metric on a kinematics curve."""
        out = {"column": self.column, "scale": self.scale, "offset": self.offset}
        if self.ratio_of is not None:
            out["ratio_of"] = self.ratio_of
        if self.deviation_of is not None:
            out["deviation_of"] = self.deviation_of
        return out


METRICS: dict[str, Metric] = {
    # the back from the silhouettes (pipeline/analyze/spine_silhouette.py): lumbar vs thoracic line angle
    "back_flex_bottom": Metric("deg", "back_flex", needs="side_view"),
    # ... and its change from the athlete's own neutral back (silhouette_measures.neutral_reference)
    "back_flex_change_bottom": Metric("deg", "back_flex_change", deviation_of="back_flex", needs="side_view"),
    "back_flex_change_absmax": Metric("deg", "back_flex_change", reduce="absmax", deviation_of="back_flex",
                                      needs="side_view"),
    # landmark-only spine proxies, kept for comparison (they read a straight back as rounded through video)
    "spine_angle_dev": Metric("deg", "spine_angle_dev", reduce="max", deviation_of="spine_angle"),
    "trunk_shortening_pct": Metric("%", "trunk_length_rel", -100.0, 100.0, "max"),
    "hip_travel_bottom": Metric("x leg length", "hip_travel_leg"),
    "knee_bend_bottom": Metric("deg", "knee_bend", deviation_of="knee_flex"),
    "knee_flex_bottom": Metric("deg", "knee_flex"),
    "knee_hip_ratio_bottom": Metric("", "knee_flex", ratio_of="hip_flex"),
    "knee_dev_bottom": Metric("x thigh length", "knee_dev"),
    "com_footprint_bottom": Metric("heel->toe", "com_footprint", needs="footprint"),
    "com_heel_toe_bottom": Metric("heel->toe", "com_heel_toe"),
    "shoulder_rise_cm": Metric("cm"),
    "shoulder_ear_shortening_pct": Metric("%", "shoulder_ear_rel", -100.0, 100.0, "max"),
    "hip_flex_max": Metric("deg", "hip_flex", reduce="max"),
    "hip_flex_bottom": Metric("deg", "hip_flex"),
    "trunk_incl_bottom": Metric("deg", "trunk_incl"),
    "depth_dev": Metric("deg"),
    "eccentric_ratio": Metric(""),
    "hips_lead_s": Metric("s"),
    "hip_ext_vel_peak": Metric("deg/s"),
}
COMPARATORS = ("gt", "lt", "between", "abs_gt")


@dataclass
class Cue:
    id: str
    words: str
    metric: str
    phase: str
    comparator: str
    warn: Any
    fail: Any
    landmarks: list[str] = field(default_factory=list)

    @property
    def unit(self) -> str:
        return METRICS[self.metric].unit

    def header(self) -> dict:
        return {"id": self.id, "words": self.words, "metric": self.metric, "unit": self.unit,
                "phase": self.phase, "landmarks": list(self.landmarks), **METRICS[self.metric].header()}


@dataclass
class CueConfig:
    exercises: list[str]
    settings: dict
    cues: list[dict]
    path: Path

    def for_exercise(self, exercise: str) -> list[Cue]:
        if exercise not in self.exercises:
            raise CueConfigError(f"unknown exercise '{exercise}': {self.path} knows {', '.join(self.exercises)}")
        out = []
        for c in self.cues:
            if c.get("exercises") and exercise not in c["exercises"]:
                continue
            over = (c.get("overrides") or {}).get(exercise, {})
            out.append(Cue(c["id"], c["words"], c["metric"], c["phase"], c["comparator"],
                           over.get("warn", c["warn"]), over.get("fail", c["fail"]), list(c.get("landmarks", []))))
        return out


def load_cues(path: str | Path | None = None) -> CueConfig:
    """Read and validate a cues file; every error names the file and the offending key."""
    path = Path(path) if path is not None else DEFAULT_CUES
    if not path.is_file():
        raise FileNotFoundError(f"cues file '{path}' does not exist (the default is {DEFAULT_CUES})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise CueConfigError(f"{path}: not a text file ({exc.reason}); a cues file is YAML text") from None
    except yaml.YAMLError as exc:
        raise CueConfigError(f"{path}: {yaml_problem(exc)}") from None
    schema = yaml.safe_load(CUES_SCHEMA.read_text())
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        where = "/".join(str(p) for p in e.path) or "(top level)"
        raise CueConfigError(f"{path}: at '{where}': {e.message}")
    exercises = list(data["exercises"])
    seen = set()
    for c in data["cues"]:
        cid = c["id"]
        if cid in seen:
            raise CueConfigError(f"{path}: cue '{cid}' is defined twice")
        seen.add(cid)
        if c["metric"] not in METRICS:
            raise CueConfigError(f"{path}: cue '{cid}' has unknown metric '{c['metric']}'; known metrics: {', '.join(METRICS)}")
        for ex in list(c.get("exercises") or []) + list((c.get("overrides") or {}).keys()):
            if ex not in exercises:
                raise CueConfigError(f"{path}: cue '{cid}' names unknown exercise '{ex}'; known: {', '.join(exercises)}")
        for lm in c.get("landmarks", []):
            if lm not in INDEX:
                raise CueConfigError(f"{path}: cue '{cid}' names unknown landmark '{lm}'")
        for level in ("warn", "fail"):
            for thr in [c[level]] + [o.get(level) for o in (c.get("overrides") or {}).values()]:
                ok = thr is None or (isinstance(thr, list) == (c["comparator"] == "between"))
                if not ok:
                    raise CueConfigError(f"{path}: cue '{cid}': {level} must be [lo, hi] for 'between' and a number otherwise")
        check_threshold_order(c, path)
    return CueConfig(exercises, dict(data.get("settings") or {}), list(data["cues"]), path)


def check_threshold_order(cue: dict, path: Path) -> None:
    """Each cue's thresholds, and each exercise's overrides merged onto them, in an order that means something.

    A warn is the milder step on the way to a fail: for ``gt``/``abs_gt`` the
    warn value comes first (warn <= fail), for ``lt`` it is the higher one
    (warn >= fail), and for ``between`` the warn range lies inside the fail
    range. Inverted, every verdict changes meaning without a word.
    """
    comp = cue["comparator"]
    variants = {"": (cue["warn"], cue["fail"])}
    for ex, over in (cue.get("overrides") or {}).items():
        variants[f"overrides.{ex}."] = (over.get("warn", cue["warn"]), over.get("fail", cue["fail"]))
    for prefix, (warn, fail) in variants.items():
        key = f"{path}: cue '{cue['id']}' ({comp})"
        for level, thr in (("warn", warn), ("fail", fail)):
            values = thr if isinstance(thr, list) else [thr]
            if thr is not None and not np.all(np.isfinite(np.asarray(values, dtype=np.float64))):
                raise CueConfigError(f"{key}: {prefix}{level} {thr} is not a finite number")
            if comp == "between" and thr is not None and thr[0] > thr[1]:
                raise CueConfigError(f"{key}: {prefix}{level} [{thr[0]}, {thr[1]}] must be [lo, hi] with lo <= hi")
        if warn is None or fail is None:
            continue
        if comp in ("gt", "abs_gt") and warn > fail:
            raise CueConfigError(f"{key}: {prefix}warn {warn} is past {prefix}fail {fail}: with '{comp}' a value above "
                                 f"warn is borderline and above fail a violation, so warn must be <= fail; swap them")
        if comp == "lt" and warn < fail:
            raise CueConfigError(f"{key}: {prefix}warn {warn} is past {prefix}fail {fail}: with 'lt' a value below warn "
                                 "is borderline and below fail a violation, so warn must be >= fail; swap them")
        if comp == "between" and not (fail[0] <= warn[0] and warn[1] <= fail[1]):
            raise CueConfigError(f"{key}: {prefix}warn range {warn} must lie inside {prefix}fail range {fail} "
                                 "(outside warn is borderline, outside fail a violation); fix the ranges")


def select_cues(cues: list[Cue], only: list[str] | None) -> list[Cue]:
    if not only:
        return cues
    known = {c.id for c in cues}
    for cid in only:
        if cid not in known:
            raise CueConfigError(f"unknown cue '{cid}' for this exercise; known: {', '.join(sorted(known))}")
    return [c for c in cues if c.id in only]


def excess(values: np.ndarray | float, comparator: str, threshold: Any) -> np.ndarray | float:
    """How far past ``threshold`` each value lies, in the cue's units (negative: that far on the good side;
    NaN for NaN). The one place a comparator is interpreted: ``violates`` and ``judge`` read it."""
    v = np.asarray(values, dtype=np.float64)
    if comparator == "gt":
        out = v - threshold
    elif comparator == "lt":
        out = threshold - v
    elif comparator == "abs_gt":
        out = np.abs(v) - threshold
    elif comparator == "between":
        out = np.maximum(threshold[0] - v, v - threshold[1])
    else:
        raise CueConfigError(f"unknown comparator '{comparator}'; use one of {', '.join(COMPARATORS)}")
    return float(out) if out.ndim == 0 else out


def violates(values: np.ndarray | float, comparator: str, thr: Any) -> np.ndarray:
    """Elementwise: does ``values`` violate ``thr`` under ``comparator``? (NaN never violates.)"""
    if thr is None:
        return np.zeros(np.shape(values), bool)
    with np.errstate(invalid="ignore"):
        return np.asarray(excess(values, comparator, thr)) > 0


def judge(value: float, c: "Cue", u: float | None = None, clean: float | None = None,
          typical: float | None = None) -> str:
    """pass / warn / borderline / fail of a finite value; ``u``: its interval's half-width (None: exact).

    ``clean``: a clean rep's typical value, ``typical``: the interval at the benchmark's typical capture.
    When even that interval reaches from a clean rep to the fail threshold, the measurement itself cannot
    tell clean from faulty on this cue: only a value past the threshold by more than ``u`` is judged (a
    FAIL), anything else is ``not_judged`` (``unresolved_reason`` says why). A poorer capture's wider
    interval makes values borderline instead: that is the capture, not the measurement."""
    if c.fail is not None:
        past = excess(value, c.comparator, c.fail)
        if past > (u or 0.0):
            return "fail"
        if typical and clean is not None and typical >= -excess(clean, c.comparator, c.fail):
            return "not_judged"
        if u and past >= -u:
            return "borderline"
    return "warn" if c.warn is not None and violates(value, c.comparator, c.warn) else "pass"


def unresolved_reason(c: "Cue", typical: float, clean: float) -> str:
    unit = f" {c.unit}" if c.unit else ""
    return (f"the measurement's error (±{typical:.3g}{unit} on the benchmark) is as large as the distance from a "
            f"typical clean rep ({clean:.3g}{unit}) to the fail threshold ({_fmt_thr(c.fail)}{unit}): it cannot tell "
            f"a clean rep from a faulty one (a value past the threshold by more than its error would still be a FAIL)")


def _fmt_thr(t) -> str:
    return "-".join(f"{x:g}" for x in t) if isinstance(t, (list, tuple)) else f"{t:g}"


IntervalOf = Callable[[int, "Cue", float], "Interval | None"]  # (rep index, cue, share of frames measured)


def phase_window(rep: Rep, phase: str) -> tuple[int, int]:
    return {"bottom": rep.bottom_window, "rep": (rep.start, rep.end), "lowering": (rep.start, rep.bottom),
            "rising": (rep.bottom, rep.end)}[phase]


def _reduce(x: np.ndarray, how: str) -> float:
    x = x[np.isfinite(x)]
    if not x.size:
        return float("nan")
    if how == "absmax":
        return float(x[np.argmax(np.abs(x))])
    return float({"mean": np.mean, "max": np.max, "min": np.min}[how](x))


MIN_MEAN_COVER = 1 / 3  # an averaged window is judged from at least this share of its frames

REASON_LANDMARKS = "landmark gap: the athlete's joints were not triangulated there"


def _why(reasons: dict[str, np.ndarray], metric: Metric, a: int, b: int, missing: np.ndarray) -> str:
    """The most common recorded reason among the missing frames of a window (landmark gap by default)."""
    arr = reasons.get(metric.needs or "", None)
    if arr is not None:
        vals = [str(v) for v in np.asarray(arr[a:b + 1])[missing] if v]
        if vals:
            return max(set(vals), key=vals.count)
    return REASON_LANDMARKS


def _judge_value(c: Cue, value: float, iv: Interval | None) -> dict:
    """Verdict of a finite value with its interval (not judged when the capture is too poor for one)."""
    if iv is not None and iv.u is None:
        return {"value": value, "verdict": "not_judged", "reason": iv.why, "capture": iv.as_json()}
    out = {"value": value, "verdict": judge(value, c, iv.u if iv is not None else None,
                                            iv.clean if iv is not None else None,
                                            iv.typical if iv is not None else None)}
    if iv is not None:
        out["interval"], out["capture"] = iv.u, iv.as_json()
        if out["verdict"] == "not_judged":
            out["reason"] = unresolved_reason(c, iv.typical, iv.clean)
    return out


def _judge_series(c: Cue, m: Metric, window: np.ndarray, rep: Rep, a: int, reasons: dict,
                  interval_of: Callable[[float], Interval | None]) -> dict:
    """Value, verdict, interval and (when partly or not measured) the note or reason of a per-frame metric."""
    ok = np.isfinite(window)
    b = a + len(window) - 1
    value = _reduce(window, m.reduce)
    if not ok.any():
        return {"value": float("nan"), "verdict": "not_judged", "reason": _why(reasons, m, a, b, ~ok)}
    # an averaged window measured in part is as much noisier as fewer frames were averaged
    out = _judge_value(c, value, interval_of(float(ok.mean()) if m.reduce == "mean" else 1.0))
    if ok.all():
        return out
    why = _why(reasons, m, a, b, ~ok)
    if out["verdict"] == "not_judged":  # too few frames for any interval
        out["reason"] = f"{why}; only {int(ok.sum())} of {len(ok)} frames measured: {out['reason']}"
        return out
    fail = out["verdict"] == "fail"
    out["note"] = f"judged from {int(ok.sum())} of {len(ok)} frames ({why})"
    if m.reduce == "mean":
        sound = ok.mean() >= MIN_MEAN_COVER
    else:  # the worst moment: a violation seen stands; a pass needs the bottom, where it would be
        b0, b1 = rep.bottom_window
        bottom = ok[max(b0 - a, 0):max(b1 - a + 1, 0)]
        sound = fail or (bottom.size > 0 and bottom.mean() >= 0.5)
    if not sound:
        return {"value": value, "verdict": "not_judged",
                "reason": f"{why}; only {int(ok.sum())} of {len(ok)} frames measured, not where it matters"}
    return out


def evaluate(cues: list[Cue], kin: pd.DataFrame, reps: list[Rep], rep_metrics: list[dict],
             reasons: dict[str, np.ndarray] | None = None, notes: dict[str, np.ndarray] | None = None,
             interval_of: IntervalOf | None = None) -> list[list[dict]]:
    """Per rep, per cue: {id, value, comparator, threshold, verdict, frames} (+ interval / capture / reason /
    note, see the module).

    ``reasons``: per ``Metric.needs`` ("side_view", "footprint"), a (T,) array of strings saying why a frame of
    such a metric has no value ("" where it has one); ``notes``: likewise, how a frame's value was obtained
    when that is worth saying (measured across a landmark gap), "" elsewhere. ``interval_of(rep index, cue,
    share of frames measured)``: the value's interval (``pipeline.analyze.uncertainty``); None: judged exact.
    """
    reasons, notes = reasons or {}, notes or {}
    interval_of = interval_of or (lambda i, c, cover: None)
    series = {c.metric: METRICS[c.metric].series(kin) for c in cues if METRICS[c.metric].per_frame}
    out = []
    for i, (rep, rm) in enumerate(zip(reps, rep_metrics)):
        row = []
        for c in cues:
            a, b = phase_window(rep, c.phase)
            m = METRICS[c.metric]
            if m.per_frame:
                window = series[c.metric][a:b + 1]
                judged = _judge_series(c, m, window, rep, a, reasons, lambda cover: interval_of(i, c, cover))
                said = [str(v) for v in np.asarray(notes.get(m.needs or "", []))[a:b + 1] if v]
                if said and judged["verdict"] != "not_judged":
                    judged["note"] = "; ".join(x for x in (judged.get("note"), max(set(said), key=said.count)) if x)
            else:
                window, value = None, rm.get(c.metric, float("nan"))
                if np.isfinite(value):
                    judged = _judge_value(c, value, interval_of(i, c, 1.0))
                    if rm.get("_notes", {}).get(c.metric):
                        judged["note"] = rm["_notes"][c.metric]
                else:
                    judged = {"value": value, "verdict": "not_judged",
                              "reason": rm.get("_reasons", {}).get(c.metric, REASON_LANDMARKS)}
            value = judged["value"]
            entry = {"id": c.id, "value": None if not np.isfinite(value) else round(float(value), 4),
                     "comparator": c.comparator, "threshold": {"warn": c.warn, "fail": c.fail},
                     "verdict": judged["verdict"], "frames": []}
            if "interval" in judged:
                entry["interval"] = round(float(judged["interval"]), 4)
            for key in ("capture", "reason", "note"):
                if key in judged:
                    entry[key] = judged[key]
            if entry["verdict"] in ("fail", "borderline", "warn"):
                level = c.fail if entry["verdict"] in ("fail", "borderline") and c.fail is not None else c.warn
                if window is not None:
                    frames = a + np.flatnonzero(violates(window, c.comparator, level))
                    if not frames.size:
                        frames = a + np.flatnonzero(violates(window, c.comparator, c.warn))
                else:
                    frames = np.arange(a, b + 1)
                entry["frames"] = [int(f) for f in (frames if frames.size else [rep.bottom])]
            row.append(entry)
        out.append(row)
    return out
