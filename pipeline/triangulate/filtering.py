"""Clean a triangulated skeleton over time: fill short gaps, zero-phase low-pass, bone-length report.

Never invents data across long gaps: only interior gaps up to ``max_gap_s``
are filled, and the low-pass runs separately on each contiguous stretch of
valid samples, so a gap's edges are never smeared into each other.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy.signal import butter, sosfiltfilt

from pipeline.common.landmarks import INDEX
from pipeline.common.timebase import frame_rate

BONES = {
    "thigh_l": ("left_hip", "left_knee"), "thigh_r": ("right_hip", "right_knee"),
    "shank_l": ("left_knee", "left_ankle"), "shank_r": ("right_knee", "right_ankle"),
}


class FilterInputError(ValueError):
    """The 3D trajectory or the filter settings cannot be used."""


def filter_pose3d(
    xyz: np.ndarray, t: np.ndarray, *, max_gap_s: float, cutoff_hz: float | None, order: int = 4,
    method: str = "linear",
) -> tuple[np.ndarray, dict[str, Any]]:
    """Fill gaps up to ``max_gap_s`` then low-pass at ``cutoff_hz`` (None or 0: no low-pass).

    ``xyz`` is (T, L, 3) with NaN where a landmark is missing; ``t`` (T,)
    seconds, uniformly sampled (the synchronised timeline). Returns the
    filtered copy (float32) and a JSON-serialisable report.
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    if xyz.ndim != 3 or xyz.shape[2] != 3:
        raise FilterInputError(f"xyz must be (frames, landmarks, 3), got {xyz.shape}")
    if t.shape != (xyz.shape[0],):
        raise FilterInputError(f"t must have one time per frame ({xyz.shape[0]}), got shape {t.shape}")
    if xyz.shape[0] >= 2 and not np.all(np.diff(t) > 0):
        raise FilterInputError("timestamps must increase strictly: resample to the common timeline (pipeline.sync.offsets) first")
    T, L, _ = xyz.shape
    fps = frame_rate(t)

    missing_before = int(np.isnan(xyz).any(-1).sum())
    filled = fill_gaps(xyz, t, max_gap_s=max_gap_s, method=method)
    missing_after = int(np.isnan(filled).any(-1).sum())
    if cutoff_hz and T >= 2:
        if cutoff_hz >= fps / 2:
            raise FilterInputError(
                f"cutoff {cutoff_hz} Hz must be below the Nyquist frequency {fps / 2:.2f} Hz of the {fps:.2f} fps timeline; "
                "lower filter.cutoff_hz in the config"
            )
        smoothed, n_short = lowpass_segments(filled, fps, cutoff_hz, order)
    else:
        smoothed, n_short = filled, 0
    report = {
        "fps": fps, "max_gap_s": max_gap_s, "cutoff_hz": cutoff_hz, "order": order, "gap_fill": method,
        "missing_before": missing_before, "filled": missing_before - missing_after, "missing_after": missing_after,
        "segments_too_short_to_filter": n_short,
        "bones": bone_stability(smoothed),
        "bones_raw": bone_stability(xyz),
    }
    return smoothed.astype(np.float32), report


def fill_gaps(xyz: np.ndarray, t: np.ndarray, *, max_gap_s: float, method: str = "linear") -> np.ndarray:
    """Interpolate interior NaN gaps no longer than ``max_gap_s``, all landmarks at once.

    ``linear`` joins the samples either side; ``cubic`` is a cubic Hermite
    whose end slopes come from the neighbouring valid samples (linear where a
    neighbour is missing). Gaps at the ends and longer gaps stay NaN.
    """
    if method not in ("linear", "cubic"):
        raise FilterInputError(f"gap fill method must be 'linear' or 'cubic', got {method!r}")
    T = xyz.shape[0]
    flat = xyz.reshape(T, -1, 3)
    valid = ~np.isnan(flat).any(-1)  # (T, L)
    idx = np.arange(T)[:, None]
    prev = np.maximum.accumulate(np.where(valid, idx, -1), axis=0)
    nxt = np.minimum.accumulate(np.where(valid, idx, T)[::-1], axis=0)[::-1]
    rate = frame_rate(t)
    dt = 1.0 / rate if rate > 0 else 0.0
    gap_s = (nxt - prev - 1) * dt  # duration of the missing run each sample belongs to
    fill = ~valid & (prev >= 0) & (nxt < T) & (gap_s <= max_gap_s + 1e-9)
    out = flat.copy()
    if not fill.any():
        return out.reshape(xyz.shape)
    fi, li = np.nonzero(fill)
    p, n = prev[fi, li], nxt[fi, li]
    t0, t1 = t[p], t[n]
    s = ((t[fi] - t0) / (t1 - t0))[:, None]
    x0, x1 = flat[p, li], flat[n, li]
    if method == "linear":
        out[fi, li] = x0 + s * (x1 - x0)
    else:
        # End slopes from the valid sample just outside each end of the gap (one-sided differences).
        pp = np.where(p > 0, prev[np.maximum(p - 1, 0), li], -1)
        nn = np.where(n < T - 1, nxt[np.minimum(n + 1, T - 1), li], T)
        span = (t1 - t0)[:, None]
        chord = (x1 - x0) / span
        pp_c, nn_c = np.maximum(pp, 0), np.minimum(nn, T - 1)
        m0 = np.where((pp >= 0)[:, None], (x0 - flat[pp_c, li]) / (t0 - t[pp_c] + (pp < 0))[:, None], chord)
        m1 = np.where((nn < T)[:, None], (flat[nn_c, li] - x1) / (t[nn_c] - t1 + (nn >= T))[:, None], chord)
        h00, h10, h01, h11 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s, -2 * s**3 + 3 * s**2, s**3 - s**2
        out[fi, li] = h00 * x0 + h10 * span * m0 + h01 * x1 + h11 * span * m1
    return out.reshape(xyz.shape)


def lowpass_segments(xyz: np.ndarray, fps: float, cutoff_hz: float, order: int = 4) -> tuple[np.ndarray, int]:
    """Zero-phase Butterworth low-pass on each contiguous valid run of each landmark.

    Landmarks that share a run (usually all of them) are filtered together in
    one call. Runs too short for filtfilt's edge padding stay unfiltered; the
    second value returned counts them.
    """
    sos = butter(order, cutoff_hz, btype="low", fs=fps, output="sos")
    padlen = 3 * (2 * len(sos) + 1)  # sosfiltfilt's default
    T = xyz.shape[0]
    flat = xyz.reshape(T, -1, 3)
    valid = ~np.isnan(flat).any(-1)
    # Run boundaries per landmark: +1 where a run starts, -1 one past where it ends.
    pad = np.zeros((1, valid.shape[1]), dtype=np.int8)
    edge = np.diff(np.concatenate([pad, valid.astype(np.int8), pad]), axis=0)
    starts_l, starts_t = np.nonzero(edge.T == 1)  # sorted by landmark, then time
    _, ends_t = np.nonzero(edge.T == -1)  # same order: k-th end closes k-th start
    runs: dict[tuple[int, int], list[int]] = {}
    for a, b, lm in zip(starts_t.tolist(), ends_t.tolist(), starts_l.tolist()):
        runs.setdefault((a, b), []).append(lm)
    out = flat.copy()
    too_short = 0
    for (a, b), lms in runs.items():  # one call per distinct run, over all landmarks sharing it
        if b - a <= padlen:
            too_short += len(lms)
            continue
        out[a:b, lms] = sosfiltfilt(sos, flat[a:b, lms], axis=0)
    return out.reshape(xyz.shape), too_short


def bone_stability(xyz: np.ndarray) -> dict[str, dict[str, float]]:
    """Mean, std and std/mean (cv) of thigh and shank lengths over the frames where both ends exist."""
    xyz = np.asarray(xyz, dtype=np.float64)
    out = {}
    for name, (a, b) in BONES.items():
        if xyz.shape[1] <= max(INDEX[a], INDEX[b]):
            continue
        length = np.linalg.norm(xyz[:, INDEX[a]] - xyz[:, INDEX[b]], axis=-1)
        length = length[np.isfinite(length)]
        if length.size == 0:
            out[name] = {"mean_m": None, "std_m": None, "cv": None, "frames": 0}  # None: valid JSON, unlike NaN
            continue
        mean, std = float(length.mean()), float(length.std())
        out[name] = {"mean_m": mean, "std_m": std, "cv": std / mean if mean > 0 else None, "frames": int(length.size)}
    return out
