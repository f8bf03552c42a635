"""The common timeline of a session's cameras, and each camera's frames moved onto it.

Offset convention (sync.json): ``t_reference = t_camera + offset_s + drift * t_camera``.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from pipeline.common.timebase import frame_rate


class SyncError(ValueError):
    """A camera's timing cannot be used; the message names the camera."""


def check_timestamps(t: np.ndarray, cam: str) -> np.ndarray:
    t = np.asarray(t, dtype=np.float64)
    if t.ndim != 1 or t.size < 2:
        raise SyncError(f"camera {cam}: needs a 1-D series of at least 2 timestamps, got shape {t.shape}")
    if not np.all(np.isfinite(t)):
        raise SyncError(f"camera {cam}: timestamps contain NaN/inf; re-export its timestamp CSV")
    back = np.nonzero(np.diff(t) <= 0)[0]
    if back.size:
        i = int(back[0])
        raise SyncError(
            f"camera {cam}: timestamps go backward or repeat at frame {i + 1} ({t[i]:.6f} s -> {t[i + 1]:.6f} s); "
            "the timestamp CSV does not belong to this video or the recorder's clock jumped"
        )
    return t


MIN_CAMERAS = 2  # what triangulation needs at an instant
# A camera filming less of the timeline than this is reported as short (a frame or two at the edges is normal).
FULL_COVERAGE = 0.98


def common_timeline(times: Mapping[str, np.ndarray], fps: float | None = None) -> np.ndarray:
    """Uniform timeline over the span at least two cameras cover, at ``fps`` (default: the slowest camera's rate).

    Not the span *every* camera covers: one camera that started late or
    stopped early would cut the whole session to its length. Where a camera
    has no frames it is a gap for that camera alone (``resample_to_timeline``
    gives NaN there; ``coverage`` says how much), and the others carry the
    session. The slowest camera bounds what the cameras can jointly say, so
    sampling faster would only interpolate.
    """
    ts = {cam: check_timestamps(t, cam) for cam, t in times.items()}
    if not ts:
        raise SyncError("no cameras to synchronise")
    rate = fps or min(frame_rate(t, "mean") for t in ts.values())  # the mean rate: timestamp jitter does not move it
    start, end = _covered_span(ts, min(MIN_CAMERAS, len(ts)))
    if end <= start:
        spans = ", ".join(f"{c}: {t[0]:.2f}-{t[-1]:.2f} s" for c, t in ts.items())
        raise SyncError(f"the cameras' recordings do not overlap in time: no instant is filmed by {MIN_CAMERAS} "
                        f"cameras ({spans}); check the offsets or that the videos belong to one session")
    n = int(np.floor((end - start) * rate + 1e-9)) + 1
    return np.minimum(start + np.arange(n) / rate, end)  # no rounding past the last covered instant


def _covered_span(ts: Mapping[str, np.ndarray], k: int) -> tuple[float, float]:
    """First and last instant filmed by at least ``k`` cameras (start > end when there is none).

    The instants covered by k cameras form a union of intervals whose ends are
    recording starts and ends, so counting at those candidates is enough.
    """
    first = np.array([float(t[0]) for t in ts.values()])
    last = np.array([float(t[-1]) for t in ts.values()])
    candidates = np.concatenate([first, last])
    count = ((first[None, :] <= candidates[:, None]) & (candidates[:, None] <= last[None, :])).sum(1)
    covered = candidates[count >= k]
    return (float(covered.min()), float(covered.max())) if covered.size else (1.0, 0.0)


def coverage(times: Mapping[str, np.ndarray], timeline: np.ndarray) -> dict[str, dict[str, float | list[float]]]:
    """Per camera: the stretch of ``timeline`` its recording spans (``covered_s``) and the share of samples in it."""
    timeline = np.asarray(timeline, dtype=np.float64)
    out = {}
    for cam, t in times.items():
        t = np.asarray(t, dtype=np.float64)
        inside = (timeline >= t[0] - 1e-9) & (timeline <= t[-1] + 1e-9)
        span = [float(timeline[inside][0]), float(timeline[inside][-1])] if inside.any() else []
        out[cam] = {"covered_s": [round(v, 6) for v in span], "covered_share": round(float(inside.mean()), 4)}
    return out


def resample_to_timeline(xy: np.ndarray, conf: np.ndarray, t: np.ndarray, timeline: np.ndarray,
                         cam: str = "camera") -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation of (F, L, 2) landmarks and (F, L) confidences onto ``timeline``.

    A sample between a detection and a missing frame stays missing; times
    outside the camera's recording are NaN.
    """
    t = check_timestamps(t, cam)
    xy, conf = np.asarray(xy, dtype=np.float64), np.asarray(conf, dtype=np.float64)
    if xy.shape[0] != t.size or conf.shape[0] != t.size:
        raise SyncError(f"camera {cam}: {xy.shape[0]} frames of landmarks, {conf.shape[0]} of confidence but {t.size} timestamps")
    timeline = np.asarray(timeline, dtype=np.float64)
    hi = np.clip(np.searchsorted(t, timeline, side="right"), 1, t.size - 1)
    lo = hi - 1
    s = (timeline - t[lo]) / (t[hi] - t[lo])
    inside = (timeline >= t[0]) & (timeline <= t[-1])
    s_xy = s.reshape(-1, *([1] * (xy.ndim - 1)))
    s_c = s.reshape(-1, *([1] * (conf.ndim - 1)))
    out_xy = xy[lo] + s_xy * (xy[hi] - xy[lo])
    out_c = conf[lo] + s_c * (conf[hi] - conf[lo])
    # Exactly on a sample: take it as is (keeps a detection next to a missing frame).
    exact_lo, exact_hi = s <= 1e-9, s >= 1 - 1e-9
    out_xy[exact_lo], out_c[exact_lo] = xy[lo][exact_lo], conf[lo][exact_lo]
    out_xy[exact_hi], out_c[exact_hi] = xy[hi][exact_hi], conf[hi][exact_hi]
    out_xy[~inside], out_c[~inside] = np.nan, np.nan
    return out_xy.astype(np.float32), out_c.astype(np.float32)


def reference_times(t: np.ndarray, info: Mapping[str, float]) -> np.ndarray:
    """A camera's frame times on the reference clock (the offset convention of this module)."""
    t = np.asarray(t, dtype=np.float64)
    return t + float(info["offset_s"]) + float(info.get("drift", 0.0)) * t
