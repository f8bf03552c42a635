"""A rep compared with the athlete's own other reps at the same hip flexion.

Some quantities change with the posture through the detector alone: the
hip -> shoulder distance shortens as the hips flex (BlazePose's hip landmark
rides up the trunk, the shoulders read lower bent over), by an amount that
depends on the body and the views. Neither a standing value nor a constant is
then the right reference; the athlete's other reps are: their frames (lowering,
bottom, rising) at the same hip flexion as this rep's bottom. The rep itself is
left out, so a fault in one rep stands out of its session; a fault in every
rep does not (a limitation this reference cannot avoid).
"""
from __future__ import annotations

import numpy as np

from pipeline.analyze.reps import Rep

NEAR_DEG = 3.0  # other reps' frames within this much hip flexion of the rep's bottom
MIN_FRAMES = 15  # ... or at least this many of the nearest ones


def other_reps_reference(values: np.ndarray, hip_flex: np.ndarray, reps: list[Rep], i: int) -> float:
    """Median of ``values`` over the frames of every rep but ``reps[i]`` whose hip flexion is closest to
    rep i's bottom (mean over its bottom window); NaN when no other rep has such a frame."""
    b0, b1 = reps[i].bottom_window
    with np.errstate(invalid="ignore"):
        target = np.nanmean(hip_flex[b0:b1 + 1]) if np.isfinite(hip_flex[b0:b1 + 1]).any() else np.nan
    if not np.isfinite(target):
        return float("nan")
    others = np.zeros(len(values), bool)
    for j, r in enumerate(reps):
        if j != i:
            others[r.start:r.end + 1] = True
    cand = np.flatnonzero(others & np.isfinite(values) & np.isfinite(hip_flex))
    if not cand.size:
        return float("nan")
    dist = np.abs(hip_flex[cand] - target)
    k = min(MIN_FRAMES, cand.size)
    limit = max(NEAR_DEG, np.partition(dist, k - 1)[k - 1])
    return float(np.median(values[cand[dist <= limit]]))
