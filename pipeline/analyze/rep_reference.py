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

NEAR_DEG = 4.0  # another rep's frames within this much hip flexion of the rep's bottom


def other_reps_reference(values: np.ndarray, hip_flex: np.ndarray, reps: list[Rep], i: int) -> float:
    """The median over the other reps of each one's median ``values`` at the hip flexion of rep i's bottom.

    Each other rep contributes the frames of its own lowering, bottom or rising
    within NEAR_DEG of rep i's bottom hip flexion (mean over its bottom window);
    a rep that never got that deep contributes its deepest frames. Taking the
    median of the per-rep values keeps one odd rep (a rounded back shortens
    the hip -> shoulder distance too) from setting the reference. NaN when no
    other rep has a value.
    """
    b0, b1 = reps[i].bottom_window
    bottom = hip_flex[b0:b1 + 1]
    if not np.isfinite(bottom).any():
        return float("nan")
    target = float(np.nanmean(bottom))
    per_rep = []
    for j, r in enumerate(reps):
        if j == i:
            continue
        v, h = values[r.start:r.end + 1], hip_flex[r.start:r.end + 1]
        ok = np.isfinite(v) & np.isfinite(h)
        if not ok.any():
            continue
        v, h = v[ok], h[ok]
        near = np.abs(h - target) <= NEAR_DEG
        if not near.any():  # this rep stayed shallower (or went deeper): its frames closest in depth
            near = np.abs(h - target) <= np.abs(h - target).min() + 1.0
        per_rep.append(float(np.median(v[near])))
    return float(np.median(per_rep)) if per_rep else float("nan")
