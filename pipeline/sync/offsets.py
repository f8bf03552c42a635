"""Each camera's clock offset (and drift) against a reference camera, from the landmarks alone.

Without a shared clock (no recorder timestamps), each camera's offset against
a reference camera is found by cross-correlating landmark speed (the body
moves at the same moments in every view), to a fraction of a frame. Each
landmark's (log) speed is correlated with the same landmark's in the other
view and the correlations pooled: on a synthetic hinge this is several times
less biased than correlating speeds summed over landmarks, whose mix differs
from view to view.

Offset convention: ``t_reference = t_camera + offset_s + drift * t_camera``.
``drift`` is a camera clock's rate error against the reference (a camera
that really films at 29.97 fps while its frames are timed at 30 has
drift -0.001 and, after 10 minutes, is 18 frames late); it is found by
cross-correlating one window of the set after another and fitting a line
through the offsets (``estimate_drift``).
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
from scipy.ndimage import gaussian_filter1d

from pipeline.common.timebase import frame_rate
from pipeline.sync.timeline import SyncError, check_timestamps

SMOOTH_FRAMES = 2.0  # Gaussian sigma on positions before differencing
LOG_FLOOR = 0.1  # log(speed + LOG_FLOOR * typical speed): stillness does not go to -inf


def speed_signals(xy: np.ndarray, t: np.ndarray, smooth_frames: float = SMOOTH_FRAMES) -> tuple[np.ndarray, np.ndarray]:
    """Per-landmark log 2D speed at the midpoints between frames: times (F-1,), signals (F-1, L), NaN where missing.

    Positions are smoothed first (Gaussian, NaN-aware) so detector jitter does
    not dominate slow lifts. The log turns a view's scale on a movement
    (|J d| for motion along d) into an additive constant that normalisation
    removes, and weights the moments the body stops -- zero velocity in 3D is
    zero in every view -- as much as the fast ones; on a synthetic hinge this
    roughly halves the worst offset error of plain speed.
    """
    xy = np.asarray(xy, dtype=np.float64)
    ok = np.isfinite(xy).all(-1, keepdims=True)
    if smooth_frames > 0:
        w = gaussian_filter1d(ok.astype(float), smooth_frames, axis=0, mode="nearest")
        xy = gaussian_filter1d(np.where(ok, xy, 0.0), smooth_frames, axis=0, mode="nearest") / np.maximum(w, 1e-12)
        xy = np.where(ok & (w > 0.5), xy, np.nan)
    v = np.linalg.norm(np.diff(xy, axis=0), axis=-1) / np.diff(t)[:, None]
    with np.errstate(all="ignore"):
        typical = np.nanmedian(np.where(np.isfinite(v), v, np.nan), axis=0)
    typical = np.where(np.isfinite(typical) & (typical > 0), typical, 1.0)
    return (t[:-1] + t[1:]) / 2, np.log(v + LOG_FLOOR * typical)


def _on_grid(times: np.ndarray, values: np.ndarray, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Linear resampling of (F, L) columns onto a uniform grid from times[0] at ``rate``; z-normalised per column.

    Returns the normalised signal (missing -> 0) and its validity mask.
    """
    grid = times[0] + np.arange(int(np.floor((times[-1] - times[0]) * rate + 1e-9)) + 1) / rate
    hi = np.clip(np.searchsorted(times, grid, side="right"), 1, times.size - 1)
    lo = hi - 1
    s = ((grid - times[lo]) / (times[hi] - times[lo]))[:, None]
    g = values[lo] + s * (values[hi] - values[lo])
    ok = np.isfinite(g)
    count = ok.sum(0)
    mean = np.where(ok, g, 0.0).sum(0) / np.maximum(count, 1)
    z = np.where(ok, g - mean, 0.0)
    std = np.sqrt((z * z).sum(0) / np.maximum(count, 1))
    usable = (count > 2) & (std > 0)
    z = np.where(usable, z / np.where(usable, std, 1.0), 0.0)
    return z, ok & usable


def xcorr_offset(ref: np.ndarray, ref_ok: np.ndarray, sig: np.ndarray, sig_ok: np.ndarray, rate: float,
                 max_lag_s: float) -> tuple[float, float]:
    """Lag (s) that best aligns ``sig`` to ``ref`` and a confidence in [0, 1].

    ``ref``/``sig`` are (n, L) z-normalised per-landmark speeds on the same
    grid (0 where missing, masks ``*_ok``). Each landmark is correlated with
    the same landmark in the other view and the correlations are pooled (FFT,
    all landmarks at once); the pooled correlation is normalised by the
    number of valid sample pairs at each lag and its peak refined by
    parabolic interpolation. Positive lag: ``ref`` shows a feature ``lag``
    seconds after ``sig`` does.
    """
    n = ref.shape[0] + sig.shape[0] - 1
    nfft = 1 << int(np.ceil(np.log2(n)))

    def xc(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.fft.irfft(np.fft.rfft(a, nfft, axis=0) * np.conj(np.fft.rfft(b, nfft, axis=0)), nfft, axis=0).sum(1)

    cc, pairs = xc(ref, sig), xc(ref_ok.astype(float), sig_ok.astype(float))
    max_lag = int(min(max_lag_s * rate, min(ref.shape[0], sig.shape[0]) / 2))
    lags = np.arange(-max_lag, max_lag + 1)
    r = cc[lags % nfft] / np.maximum(np.round(pairs[lags % nfft]), 1.0)
    k = int(np.argmax(r))
    frac = 0.0
    if 0 < k < r.size - 1:
        y0, y1, y2 = r[k - 1], r[k], r[k + 1]
        denom = y0 - 2 * y1 + y2
        frac = float(np.clip(0.5 * (y0 - y2) / denom, -0.5, 0.5)) if denom < 0 else 0.0
    peak = float(np.clip(r[k], 0.0, 1.0))
    lobe = max(2, int(0.25 * rate))  # a rival must lie outside the main lobe (a quarter second)
    away = np.abs(np.arange(r.size) - k) > lobe
    rival = float(np.clip(r[away].max(), 0.0, 1.0)) if away.any() else 0.0
    confidence = peak * (1.0 - rival / peak) if peak > 0 else 0.0
    return float((lags[k] + frac) / rate), float(np.clip(confidence, 0.0, 1.0))


def estimate_offsets(pose2d: Mapping[str, tuple[np.ndarray, np.ndarray]], *, reference: str | None = None,
                     max_lag_s: float = 2.0) -> dict[str, dict[str, float]]:
    """Per-camera ``offset_s`` (t_reference = t_camera + offset_s) and ``confidence`` from landmark speed.

    ``pose2d`` maps camera name to (xy (F, L, 2), t (F,)) where t is the
    camera's own frame clock (frame index / fps when there are no
    timestamps). Cameras of different frame rates are compared on a common
    grid at the fastest camera's rate. ``max_lag_s`` bounds the search: keep
    it below half a repetition's duration, or a neighbouring rep may match.
    A camera with no landmarks gets offset 0, confidence 0 and a ``note``.
    """
    if not pose2d:
        raise SyncError("no cameras to synchronise")
    speeds, empty = {}, []
    for cam, (xy, t) in pose2d.items():
        t = check_timestamps(t, cam)
        xy = np.asarray(xy)
        if xy.ndim != 3 or xy.shape[0] != t.size or xy.shape[2] != 2:
            raise SyncError(f"camera {cam}: landmarks must be (frames={t.size}, landmarks, 2), got {xy.shape}")
        if np.isfinite(xy).all(-1).sum() < 2:
            empty.append(cam)  # nothing to correlate; the others still get synchronised
            continue
        speeds[cam] = speed_signals(xy, t)
    ref = reference or next(iter(speeds), None)
    if ref is None or ref in empty:
        raise SyncError(f"reference camera {ref or '(any)'}: no landmarks detected, so no offsets can be estimated; "
                        "pick a camera that saw the athlete as reference")
    if ref not in speeds:
        raise SyncError(f"reference camera {ref!r} is not among the cameras {sorted(pose2d)}")
    if len({v.shape[1] for _, v in speeds.values()}) != 1:
        raise SyncError("cameras have different numbers of landmarks: " + ", ".join(f"{c}: {v.shape[1]}" for c, (_, v) in speeds.items()))
    rate = max(frame_rate(ts) for ts, _ in speeds.values())
    ref_z, ref_ok = _on_grid(*speeds[ref], rate)
    ref_t0 = speeds[ref][0][0]
    out = {}
    for cam, (ts, v) in speeds.items():
        if cam == ref:
            out[cam] = {"offset_s": 0.0, "drift": 0.0, "confidence": 1.0}
            continue
        z, ok = _on_grid(ts, v, rate)
        lag, conf = xcorr_offset(ref_z, ref_ok, z, ok, rate, max_lag_s)
        out[cam] = {"offset_s": lag + (ref_t0 - ts[0]), "drift": 0.0, "confidence": conf}
    for cam in empty:
        out[cam] = {"offset_s": 0.0, "drift": 0.0, "confidence": 0.0, "note": "no landmarks detected: offset unknown"}
    return out


def estimate_drift(pose2d: Mapping[str, tuple[np.ndarray, np.ndarray]], offsets: Mapping[str, Mapping[str, float]], *,
                   reference: str, window_s: float = 60.0, min_windows: int = 3,
                   max_lag_s: float = 2.0) -> dict[str, dict[str, float]]:
    """``offsets`` with each camera's ``drift`` (and its offset at t_camera = 0) fitted over windows of the set.

    The set is cut into windows of ``window_s`` on the reference clock; in
    each, every camera's offset is cross-correlated again (around the global
    estimate) and a line offset = a + drift * t_camera is fitted through the
    windows' offsets, weighted by their confidence, after dropping windows
    more than three robust deviations off. Sets shorter than ``min_windows``
    windows keep drift 0: two points say nothing about a slope's error.
    """
    t_ref = np.asarray(pose2d[reference][1], dtype=np.float64)
    n_windows = int((t_ref[-1] - t_ref[0]) // window_s)
    out = {c: dict(v) for c, v in offsets.items()}
    if n_windows < min_windows:
        return out
    edges = t_ref[0] + window_s * np.arange(n_windows + 1)
    cams = [c for c in pose2d if c != reference and offsets.get(c, {}).get("confidence", 0) > 0]
    fits: dict[str, list[tuple[float, float, float]]] = {c: [] for c in cams}
    for lo, hi in zip(edges[:-1], edges[1:]):
        window = {reference: _slice(pose2d[reference], lo, hi)}
        for c in cams:
            xy, t = pose2d[c]
            on_ref = np.asarray(t) + offsets[c]["offset_s"]
            window[c] = _slice((xy, t), lo, hi, on_ref)
        if any(len(w[1]) < 2 for w in window.values()):
            continue
        local = estimate_offsets(window, reference=reference, max_lag_s=min(max_lag_s, window_s / 4))
        for c in cams:
            t_mid = float(np.mean(window[c][1]))
            fits[c].append((t_mid, local[c]["offset_s"], local[c]["confidence"]))
    for c, rows in fits.items():
        if len(rows) < min_windows:
            continue
        tc, off, w = (np.array(v) for v in zip(*rows))
        a, b = _weighted_line(tc, off, np.maximum(w, 1e-3))
        resid = off - (a + b * tc)
        mad = 1.4826 * np.median(np.abs(resid - np.median(resid)))
        keep = np.abs(resid) <= max(3 * mad, 1e-3)  # a millisecond: sub-frame scatter is no outlier
        if min_windows <= keep.sum() < keep.size:
            a, b = _weighted_line(tc[keep], off[keep], np.maximum(w[keep], 1e-3))
        else:
            keep[:] = True
        # the slope's standard error from the windows' scatter: noise alone tilts a line through noisy
        # offsets, and a spurious drift misplaces the ends of a long set by more than it corrects
        scatter = np.std(off[keep] - (a + b * tc[keep]), ddof=2) if keep.sum() > 2 else np.inf
        se = float(scatter / (np.std(tc[keep]) * np.sqrt(keep.sum())))
        out[c].update(drift_se=se, windows=int(keep.sum()))
        if abs(b) > 3 * se:
            out[c].update(offset_s=float(a), drift=float(b))
    return out


def _slice(series: tuple[np.ndarray, np.ndarray], lo: float, hi: float, clock: np.ndarray | None = None):
    xy, t = series
    on = np.asarray(t if clock is None else clock)
    keep = (on >= lo) & (on < hi)
    return np.asarray(xy)[keep], np.asarray(t)[keep]


def _weighted_line(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    A = np.stack([np.ones_like(x), x], axis=1) * np.sqrt(w)[:, None]
    (a, b), *_ = np.linalg.lstsq(A, y * np.sqrt(w), rcond=None)
    return float(a), float(b)
