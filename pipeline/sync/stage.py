"""The sync stage: every camera's pose2d file -> ``sync.json`` (offsets and the common timeline).

A camera that detected nobody is left out (with a note) as long as two cameras
remain, so one bad camera does not cost the session. The timeline spans what
at least two cameras filmed; a camera that started late or stopped early keeps
its share (``covered_s``, ``covered_share``), is warned about, and its missing
stretch becomes a gap for that camera alone. The landmarks themselves are
resampled onto the timeline once, by the triangulate stage.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping

from pipeline.contracts.pose2d import Pose2D, read_pose2d_files, split_detected
from pipeline.contracts.sync import write_sync
from pipeline.sync.offsets import estimate_drift, estimate_offsets
from pipeline.sync.timeline import FULL_COVERAGE, SyncError, common_timeline, coverage, reference_times

log = logging.getLogger(__name__)

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
    cams = read_pose2d_files(pose2d)
    for c, lm in cams.items():
        log.info("read %s: camera %s, %d frames over %.2f s (times from %s), person in %.1f %% of them",
                 lm.path, c, len(lm.t), lm.t[-1] - lm.t[0], lm.t_source, 100 * lm.detection_rate)
    kept, empty = split_detected(cams)
    used = resolve_sync_method(method, kept)
    if used == "xcorr":
        # one series per camera: the person its detector measured on every frame, the athlete as far as one
        # camera can tell (people are matched across cameras only once the clocks agree)
        series = {c: (lm.followed()[0], lm.t) for c, lm in kept.items()}
        info = estimate_offsets(series, reference=reference, max_lag_s=max_lag_s)
        info = estimate_drift(series, info, reference=reference or next(iter(kept)), max_lag_s=max_lag_s)
    else:  # one shared clock (timestamps), or frames already simultaneous (none)
        info = {c: {"offset_s": 0.0, "drift": 0.0, "confidence": 1.0} for c in kept}
    times = {c: reference_times(lm.t, info[c]) for c, lm in kept.items()}
    timeline = common_timeline(times, fps)
    for c, cov in coverage(times, timeline).items():
        info[c].update(cov)
    for c in empty:
        info[c] = {"offset_s": 0.0, "drift": 0.0, "confidence": 0.0, "covered_s": [], "covered_share": 0.0,
                   "note": "no person detected: left out"}
    _log_sync(used, timeline, info, method)
    write_sync(out_json, method=used, timeline=timeline, cameras=info)
    return {"method": used, "timeline": timeline, "cameras": info}


def _log_sync(used: str, timeline, info: Mapping[str, Mapping], asked: str) -> None:
    log.info("sync method %s%s; timeline %s-%s s at %.2f fps (%d samples), the span at least two cameras filmed",
             used, f" (asked: {asked})" if asked != used else "", _s(timeline[0]), _s(timeline[-1]),
             (len(timeline) - 1) / max(timeline[-1] - timeline[0], 1e-9), len(timeline))
    for c, i in info.items():
        if i.get("note"):
            log.warning("camera %s: %s", c, i["note"])
            continue
        log.info("camera %s: offset %+.1f ms, drift %+.0f ppm, confidence %.2f; films %.1f %% of the timeline",
                 c, 1000 * i["offset_s"], 1e6 * i.get("drift", 0.0), i["confidence"], 100 * i["covered_share"])
        if i["covered_share"] < FULL_COVERAGE:
            span = i["covered_s"]
            where = f"{_s(span[0])}-{_s(span[1])} s" if span else "none of it"
            log.warning("camera %s films only %.0f %% of the session (%s of %s-%s s): it started late or stopped "
                        "early; the rest is a gap for this camera and the other cameras carry the session there",
                        c, 100 * i["covered_share"], where, _s(timeline[0]), _s(timeline[-1]))


def _s(t: float) -> str:
    """Seconds to 0.01 s, without the '-0.00' of a timeline that starts a hair before zero."""
    return f"{round(float(t), 2) + 0.0:.2f}"
