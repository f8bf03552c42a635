"""How sure a cue's value is: the through-video benchmark's error, scaled by this capture's quality.

Each cue's value comes with a half-width ``u``: the value is within ``u`` of the
truth for about 92 % of the benchmark's (rep, cue) pairs (rendered sessions run
through MediaPipe and every stage, ``benchmarks/accuracy_video.py``), widened
where this capture is poorer than the benchmark's typical one:

    u = k_cue * scale,   scale = max(1, sqrt(C_ref / C)) * max(1, R / R_ref) / sqrt(cover)

- ``C``: cameras that triangulated the cue's landmarks around the rep's bottom
  (fewer views, noisier 3D: the error of a mean of C views falls as 1/sqrt(C));
- ``R``: their reprojection error in thousandths of the image's shorter side (a
  camera whose 2D disagrees with the others, or a poor calibration, shows here
  first; per mille of the image so 640x480 and 1920x1080 rigs compare);
- ``cover``: the share of the cue's frames that were measured (a mean over a
  third of the frames is noisier than over all of them);
- ``k_cue``: fitted on the benchmark as the 92nd percentile of
  ``|value - truth| / scale`` (``fit``), so a capture as good as the
  benchmark's median gets the benchmark's own error and a poorer one more.
  The scale never shrinks an interval: a capture better than the benchmark's
  median keeps the benchmark's error.

A cue whose interval at the typical capture is as wide as the distance from a
typical clean rep's value (``clean``: the benchmark's median over reps without
the fault) to the fail threshold cannot tell a clean rep from a faulty one,
however good the capture: unless the value lies past
the threshold by more than the interval, it is ``not_judged`` and says so
(``pipeline.analyze.cues.judge``). On the benchmark this is the shoulder
shrug: BlazePose reads about half of a shrug, and its error (about 4 cm)
exceeds the 3 cm between a normal rep and the fail threshold.

A capture poorer than anything the model was measured on (``scale`` beyond the
largest the benchmark saw, ``max_scale``) gets no interval: its cue is
``not_judged`` and says why, because nobody has measured how wrong it may be.

The model lives in ``config/measurement_error.yaml``: written by ``write_model``
(the benchmark, with ``--fit-error-model``), read by ``load_model`` (the
analyze stage). Without the file cues are judged without intervals, and the
log says so.
"""
from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import yaml

from pipeline.common.atomic import write_text
from pipeline.common.landmarks import INDEX
from pipeline.common.paths import ROOT

log = logging.getLogger(__name__)

DEFAULT_MODEL = ROOT / "config" / "measurement_error.yaml"
# The share of the benchmark's errors an interval covers (before the finite-sample correction). 0.90 covered
# 89.9 % of the errors of sessions held out of the fit: a little more margin keeps a new session above 90 %.
COVERAGE = 0.92
QUALITY_WINDOW = 3  # frames either side of a rep's bottom over which the capture quality is read

_BODY = ("left_shoulder", "right_shoulder", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
         "right_ankle")
# The landmarks each cue's value rests on: their capture quality widens its interval.
CUE_LANDMARKS: dict[str, tuple[str, ...]] = {
    "neutral_spine": ("left_shoulder", "right_shoulder", "left_hip", "right_hip"),
    "spinal_flexion": ("left_shoulder", "right_shoulder", "left_hip", "right_hip"),
    "hip_back": ("left_hip", "right_hip", "left_ankle", "right_ankle"),
    "soft_knee": ("left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"),
    "squat_hinge_confusion": ("left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"),
    "knee_tracking": ("left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"),
    "weight_on_heels": ("left_ankle", "right_ankle", "left_heel", "right_heel", "left_foot_index",
                        "right_foot_index"),
    "shoulder_pack": ("left_shoulder", "right_shoulder", "left_hip", "right_hip"),
}


class ErrorModelError(ValueError):
    """config/measurement_error.yaml is invalid; the message names the file and the key."""


@dataclass(frozen=True)
class ErrorModel:
    """Per cue, the benchmark's error at the reference capture quality (``k``, in the cue's units)."""
    k: Mapping[str, float]
    ref_cameras: float
    ref_reprojection: float  # per mille of the image's shorter side
    max_scale: float
    n: Mapping[str, int] = field(default_factory=dict)
    source: str = ""
    clean: Mapping[str, float] = field(default_factory=dict)  # a clean rep's typical value, per cue


@dataclass(frozen=True)
class CaptureQuality:
    """Per frame and landmark: cameras used (T, 33) and reprojection error in per mille of the image's shorter side."""
    cameras: np.ndarray
    reprojection: np.ndarray

    @classmethod
    def from_pose(cls, ncams, err_px, image_side: float | None) -> "CaptureQuality | None":
        """From pose3d's ``ncams`` and ``err`` (px); None when either is missing."""
        if ncams is None or err_px is None:
            return None
        h = float(image_side) if image_side and np.isfinite(image_side) and image_side > 0 else np.nan
        return cls(np.asarray(ncams, float), 1000.0 * np.asarray(err_px, float) / h)

    def at(self, cue_id: str, frames: slice) -> tuple[float, float]:
        """Mean cameras and median reprojection (per mille) of the cue's landmarks over ``frames``."""
        lms = [INDEX[n] for n in CUE_LANDMARKS.get(cue_id, _BODY)]
        c, r = self.cameras[frames][:, lms], self.reprojection[frames][:, lms]
        cams = float(np.nanmean(c)) if np.isfinite(c).any() else float("nan")
        rep = float(np.nanmedian(r)) if np.isfinite(r).any() else float("nan")
        return cams, rep


def image_side(rig, cameras) -> float | None:
    """The median shorter image side (px) of the session's cameras in ``rig`` (None: no calibration)."""
    if rig is None:
        return None
    sides = [min(c.size) for c in rig if c.name in set(cameras)] or [min(c.size) for c in rig]
    return float(np.median(sides)) if sides else None


def quality_window(bottom: int, n_frames: int) -> slice:
    return slice(max(bottom - QUALITY_WINDOW, 0), min(bottom + QUALITY_WINDOW + 1, n_frames))


def scale(model: ErrorModel, cameras: float, reprojection: float, cover: float = 1.0) -> float:
    """How much wider than the benchmark's typical error this capture's is (>= 1; NaN inputs count as typical)."""
    s = 1.0
    if np.isfinite(cameras) and cameras > 0:
        s *= max(1.0, float(np.sqrt(model.ref_cameras / cameras)))
    if np.isfinite(reprojection) and model.ref_reprojection > 0:
        s *= max(1.0, reprojection / model.ref_reprojection)
    if np.isfinite(cover) and 0 < cover < 1:
        s /= float(np.sqrt(cover))
    return s


@dataclass(frozen=True)
class Interval:
    """A value's half-width ``u`` (None: not judged, ``why`` says why) and what it was made of."""
    u: float | None
    scale: float
    cameras: float
    reprojection: float
    why: str = ""
    clean: float | None = None  # a clean rep's typical value on the benchmark
    typical: float | None = None  # the interval at the benchmark's typical capture

    def as_json(self) -> dict:
        r = lambda x, d=2: None if x is None or not np.isfinite(x) else round(float(x), d)  # noqa: E731
        out = {"cameras": r(self.cameras), "reprojection_permille": r(self.reprojection, 1), "scale": r(self.scale)}
        if self.clean is not None:
            out["typical_clean"] = r(self.clean, 4)
        if self.typical is not None:
            out["typical_interval"] = r(self.typical, 4)
        return out


def interval(model: ErrorModel | None, cue_id: str, cameras: float, reprojection: float,
             cover: float = 1.0) -> Interval | None:
    """The cue's interval for this capture; None when the model has no figure for the cue."""
    if model is None or cue_id not in model.k:
        return None
    s = scale(model, cameras, reprojection, cover)
    if s > model.max_scale:
        parts = []
        if np.isfinite(cameras):
            parts.append(f"{cameras:.1f} cameras see its joints (typically {model.ref_cameras:.1f})")
        if np.isfinite(reprojection):
            parts.append(f"reprojection {reprojection:.1f} per mille of the image (typically "
                         f"{model.ref_reprojection:.1f})")
        if cover < 1:
            parts.append(f"{100 * cover:.0f} % of its frames measured")
        return Interval(None, s, cameras, reprojection,
                        "capture poorer than any the measurement error was measured on (" + "; ".join(parts) +
                        f": {s:.1f}x the typical error, at most {model.max_scale:.1f}x measured)")
    return Interval(float(model.k[cue_id]) * s, s, cameras, reprojection, clean=model.clean.get(cue_id),
                    typical=float(model.k[cue_id]))


# --------------------------------------------------------------------------------------------------------------
# The model file: fitted on the benchmark's rows, read by the analyze stage
# --------------------------------------------------------------------------------------------------------------

def fit(rows: Iterable[Mapping], coverage: float = COVERAGE) -> ErrorModel:
    """An error model from benchmark rows ({cue, value, truth, cameras, reprojection_permille}).

    ``k`` per cue is the ``coverage`` quantile of ``|value - truth| / scale``, taken one rank higher for the
    sample's size (the (n+1) correction: with n errors, the next one falls under the k-th largest with
    probability k/(n+1)), so that the intervals also cover errors the fit has not seen.
    """
    rows = [r for r in rows if r.get("value") is not None and r.get("truth") is not None]
    if not rows:
        raise ErrorModelError("no benchmark rows with both a value and a truth: nothing to fit")
    cams = np.array([_num(r.get("cameras")) for r in rows])
    rep = np.array([_num(r.get("reprojection_permille")) for r in rows])
    ref = ErrorModel({}, float(np.nanmedian(cams)) if np.isfinite(cams).any() else 1.0,
                     float(np.nanmedian(rep)) if np.isfinite(rep).any() else 0.0, np.inf)
    s = np.array([scale(ref, c, p) for c, p in zip(cams, rep)])
    k, n, clean = {}, {}, {}
    for cue in sorted({r["cue"] for r in rows}):
        m = np.array([r["cue"] == cue for r in rows])
        e = np.array([abs(float(r["value"]) - float(r["truth"])) for r, keep in zip(rows, m) if keep]) / s[m]
        q = min(1.0, coverage * (len(e) + 1) / len(e))
        k[cue], n[cue] = float(np.quantile(e, q, method="higher")), int(len(e))
        values = [float(r["value"]) for r, keep in zip(rows, m) if keep and r.get("injected") is False]
        if values:
            clean[cue] = float(np.median(values))
    return ErrorModel(k, ref.ref_cameras, ref.ref_reprojection, float(s.max()), n, clean=clean)


def write_model(path: str | Path, model: ErrorModel, source: str) -> Path:
    """config/measurement_error.yaml, atomically, with where its figures come from."""
    doc = {
        "what": "each cue's measurement error on the through-video benchmark (rendered sessions through MediaPipe "
                "and every stage), used by the analyze stage to give each value an interval: "
                "see pipeline/analyze/uncertainty.py",
        "source": source, "written": _dt.date.today().isoformat(), "coverage": COVERAGE,
        "reference_capture": {"cameras": round(model.ref_cameras, 3),
                              "reprojection_permille": round(model.ref_reprojection, 3)},
        "max_scale": round(model.max_scale, 3),
        "cues": {c: {"error": float(f"{model.k[c]:.4g}"), "n": int(model.n.get(c, 0)),
                     **({"clean": float(f"{model.clean[c]:.4g}")} if c in model.clean else {})}
                 for c in sorted(model.k)},
    }
    write_text(path, yaml.safe_dump(doc, sort_keys=False, width=110))
    return Path(path)


def load_model(path: str | Path | None = None) -> ErrorModel | None:
    """The model in ``path`` (default config/measurement_error.yaml); None, logged, when there is none."""
    path = Path(path) if path is not None else DEFAULT_MODEL
    if not path.is_file():
        log.warning("no measurement-error model at %s: cue values get no interval and no 'borderline' verdict", path)
        return None
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ErrorModelError(f"{path}: not valid YAML: {exc}") from None
    try:
        ref = doc["reference_capture"]
        model = ErrorModel({c: float(v["error"]) for c, v in doc["cues"].items()}, float(ref["cameras"]),
                           float(ref["reprojection_permille"]), float(doc["max_scale"]),
                           {c: int(v.get("n", 0)) for c, v in doc["cues"].items()}, str(doc.get("source", "")),
                           {c: float(v["clean"]) for c, v in doc["cues"].items() if v.get("clean") is not None})
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ErrorModelError(f"{path}: expected reference_capture (cameras, reprojection_permille), max_scale and "
                              f"cues (each with an error): {type(exc).__name__} {exc}") from None
    bad = [c for c, v in model.k.items() if not (np.isfinite(v) and v >= 0)]
    if bad or not model.ref_cameras > 0 or not model.max_scale >= 1:
        raise ErrorModelError(f"{path}: errors must be finite and >= 0 ({', '.join(bad) or 'ok'}), "
                              f"reference cameras > 0 and max_scale >= 1")
    return model


def _num(x) -> float:
    return float(x) if x is not None else float("nan")
