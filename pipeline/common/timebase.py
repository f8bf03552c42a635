"""The one place a frame rate is derived from frame times (seconds)."""
from __future__ import annotations

import numpy as np


def frame_rate(t, method: str = "median") -> float:
    """Frames per second of the times ``t``; 0.0 when they hold fewer than two increasing samples.

    ``median``: 1 / the median step, which a dropped frame does not move (a
    uniform timeline, a video's frame clock). ``mean``: frames over the span,
    which timestamp jitter does not move (a recorder's per-frame timestamps).
    """
    t = np.asarray(t, dtype=np.float64).ravel()
    if t.size < 2:
        return 0.0
    if method == "median":
        step = float(np.median(np.diff(t)))
    elif method == "mean":
        step = float(t[-1] - t[0]) / (t.size - 1)
    else:
        raise ValueError(f"frame_rate method must be 'median' or 'mean', got {method!r}")
    return 1.0 / step if np.isfinite(step) and step > 0 else 0.0
