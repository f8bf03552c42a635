"""Rep segmentation from the hip-flexion signal.

A rep is one excursion from standing to the bottom and back. The signal is
smoothed, its standing baseline and the session's typical depth estimated, and
each excursion found as a peak (scipy.signal.find_peaks with a prominence
relative to the typical depth, so pauses, partial reps and noise do not split
or merge reps). A rep starts and ends where the signal crosses a low
hysteresis level above the baseline (or at the valley between two reps that
do not return to standing, as in kettlebell swings). Walking in or out of the
capture area keeps the mean hip flexion near zero and never reaches the level.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks


class NoRepsError(ValueError):
    """The session shows no hinge rep."""


@dataclass
class Rep:
    start: int
    bottom: int
    end: int
    reliable: bool = True  # no landmark gap longer than max_gap_s (its cues are still judged where sound)
    bottom_window: tuple[int, int] = (0, 0)  # frames at the bottom plateau, inclusive
    gap_frames: int = 0  # the longest landmark gap inside the rep


def bridge_nans(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A 1-D signal with every NaN run linearly bridged (ends held), and the NaN mask.

    Unlike ``pipeline.triangulate.filtering.fill_gaps`` (3D, short gaps only),
    this spans any gap: the callers smooth the result and put the NaNs back.
    """
    bad = ~np.isfinite(x)
    if bad.all():
        return np.zeros_like(x), bad
    idx = np.arange(len(x))
    return np.where(bad, np.interp(idx, idx[~bad], x[~bad]), x), bad


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) inclusive of each run of True."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1))


def segment_reps(hip_flex: np.ndarray, fps: float, *, smooth_s: float = 0.1, min_depth_deg: float = 20.0,
                 min_rep_s: float = 0.6, start_level: float = 0.12, settle_level: float = 0.02, partial_level: float = 0.35,
                 max_gap_s: float = 0.3, pause_s: float = 0.3, standing: np.ndarray | None = None) -> list[Rep]:
    """Reps in a hip-flexion series (degrees, one value per frame)."""
    x, gaps = bridge_nans(np.asarray(hip_flex, dtype=np.float64))
    n = len(x)
    s = gaussian_filter1d(x, sigma=max(smooth_s * fps, 0.5), mode="nearest")
    base = float(np.median(s[standing])) if standing is not None and standing.any() else float(np.percentile(s, 10))
    span = float(np.percentile(s, 99)) - base
    if span < min_depth_deg:
        raise NoRepsError(
            f"no hinge rep found: hip flexion never goes more than {span:.0f} deg beyond standing "
            f"(a rep needs at least {min_depth_deg:.0f} deg); check the exercise and that the athlete is in view")
    peaks, _ = find_peaks(s, prominence=max(min_depth_deg, 0.3 * span), distance=max(1, int(min_rep_s * fps)))
    if not len(peaks):
        raise NoRepsError("no hinge rep found in the hip-flexion signal")
    typical = float(np.median(s[peaks])) - base
    peaks = peaks[s[peaks] - base >= partial_level * typical]
    level = base + max(start_level * typical, 4.0)
    reps: list[Rep] = []
    below = s <= level
    for i, pk in enumerate(peaks):
        lo = peaks[i - 1] if i > 0 else 0
        hi = peaks[i + 1] if i + 1 < len(peaks) else n - 1
        # start: last standing frame before the peak, else the valley after the previous rep
        prev = np.flatnonzero(below[lo:pk])
        start = lo + int(prev[-1]) if prev.size else lo + int(np.argmin(s[lo:pk]))
        nxt = np.flatnonzero(below[pk:hi + 1])
        end = pk + int(nxt[0]) if nxt.size else pk + int(np.argmin(s[pk:hi + 1]))
        # refine to where the movement begins/ends: the signal back within a small band of standing
        # (the hysteresis level above only decides which frames belong to the rep)
        settle = base + max(settle_level * typical, 1.0)
        pre = np.flatnonzero(s[lo:start + 1] <= settle)
        start = lo + int(pre[-1]) if pre.size else start
        post = np.flatnonzero(s[end:hi + 1] <= settle)
        end = end + int(post[0]) if post.size else end
        if reps and start < reps[-1].end:
            start = reps[-1].end
        # bottom: the deepest point, or the centre of the bottom plateau when the athlete pauses there
        depth = s[pk] - base
        near = s[start:end + 1] >= s[pk] - max(1.5, 0.02 * depth)
        runs = [r for r in _runs(near) if r[0] <= pk - start <= r[1]]
        b0, b1 = (start + runs[0][0], start + runs[0][1]) if runs else (pk, pk)
        bottom = (b0 + b1) // 2 if b1 - b0 >= pause_s * fps else int(pk)
        gap_run = max((e - a + 1 for a, e in _runs(gaps[start:end + 1])), default=0)
        reliable = gap_run <= max_gap_s * fps and gaps[start:end + 1].mean() < 0.25
        reps.append(Rep(int(start), int(bottom), int(end), bool(reliable), (int(b0), int(b1)), int(gap_run)))
    return reps
