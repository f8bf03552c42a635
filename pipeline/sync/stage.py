"""The sync stage: every camera's pose2d file -> ``sync.json`` (offsets and the common timeline).

A camera that detected nobody is left out (with a note) as long as two cameras
remain, so one bad camera does not cost the session. The landmarks themselves
are resampled onto the timeline once, by the triangulate stage.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

from pipeline.contracts.pose2d import Pose2D, read_pose2d_files, split_detected
from pipeline.contracts.sync import write_sync
from pipeline.sync.offsets import estimate_drift, estimate_offsets
from pipeline.sync.timeline import SyncError, common_timeline, reference_times

SYNC_METHODS = ("auto", "timestamps", "xcorr", "none")


def resolve_sync_method(method: str, cams: Mapping[str, Pose2D]) -> str:
    """``auto``: the recorder's timestamps when every camera has them, else cross-correlation."""
    if method not in SYNC_METHODS:
        raise SyncError(f"sync method must be one of {', '.join(SYNC_METHODS)}, got {method!r}")
    if method != "auto":
        return method
    return "timestamps" if all(lm.t_source == "timestamps" for lm in cams.values()) else "xcorr"


def sync_session(pose2d: Mapping[str, str | Path], out_json: str | Path, *, method: str = "auto",
                 fps: float | None = None, reference: str | None = None, max_lag_s: float = 2.0) -> dict:
    """Estimate each camera's offset and the common timeline; write ``sync.json`` (atomically)."""
    kept, empty = split_detected(read_pose2d_files(pose2d))
    used = resolve_sync_method(method, kept)
    if used == "xcorr":
        # one series per camera: the person its detector measured on every frame, the athlete as far as one
        # camera can tell (people are matched across cameras only once the clocks agree)
        series = {c: (lm.followed()[0], lm.t) for c, lm in kept.items()}
        info = estimate_offsets(series, reference=reference, max_lag_s=max_lag_s)
        info = estimate_drift(series, info, reference=reference or next(iter(kept)), max_lag_s=max_lag_s)
    else:  # one shared clock (timestamps), or frames already simultaneous (none)
        info = {c: {"offset_s": 0.0, "drift": 0.0, "confidence": 1.0} for c in kept}
    timeline = common_timeline({c: reference_times(lm.t, info[c]) for c, lm in kept.items()}, fps)
    for c in empty:
        info[c] = {"offset_s": 0.0, "drift": 0.0, "confidence": 0.0, "note": "no person detected: left out"}
    write_sync(out_json, method=used, timeline=timeline, cameras=info)
    return {"method": used, "timeline": timeline, "cameras": info}
