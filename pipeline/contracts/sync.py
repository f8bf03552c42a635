"""``sync.json``: each camera's clock against the reference and the common timeline (written by sync).

Contents: ``method`` (timestamps | xcorr | none), ``fps`` of the timeline,
``t`` the common timeline (seconds, reference clock: the span at least two
cameras film) and per camera ``offset_s``, ``drift``, ``confidence``,
``covered_s`` ([first, last] instant of the timeline it filmed, [] for none),
``covered_share`` (share of the timeline's samples it filmed) and optional
``note``, ``drift_se``, ``windows``. Convention:
``t_reference = t_camera + offset_s + drift * t_camera``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from pipeline.common.atomic import write_json
from pipeline.common.timebase import frame_rate
from pipeline.contracts import ContractError, MissingFileError

METHODS = ("timestamps", "xcorr", "none")


@dataclass
class Sync:
    method: str
    fps: float
    t: np.ndarray  # (T,) the common timeline
    cameras: dict[str, dict[str, Any]]
    path: Path | None = None


def write_sync(path: str | Path, *, method: str, timeline: np.ndarray, cameras: Mapping[str, Mapping[str, Any]]) -> Path:
    """Write sync.json atomically."""
    if method not in METHODS:
        raise ContractError(f"{path}: sync method must be one of {', '.join(METHODS)}, got {method!r}")
    timeline = np.asarray(timeline, dtype=np.float64)
    write_json(path, {
        "method": method, "fps": frame_rate(timeline), "t": [round(float(x), 6) for x in timeline],
        "cameras": {cam: {k: _value(v) for k, v in info.items()} for cam, info in cameras.items()},
    })
    return Path(path)


def _value(v: Any) -> Any:
    if isinstance(v, str):
        return v
    if isinstance(v, (list, tuple, np.ndarray)):
        return [float(x) for x in v]
    return float(v)


def read_sync(path: str | Path) -> Sync:
    """Read and check sync.json; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"'{path}' does not exist: run the sync stage first")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        t = np.asarray(doc["t"], dtype=np.float64)
        cameras = {str(c): dict(v) for c, v in doc["cameras"].items()}
        method = str(doc["method"])
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ContractError(f"'{path}' is not a sync file (docs/data-contracts.md): {type(exc).__name__}: {exc}") from None
    if method not in METHODS:
        raise ContractError(f"'{path}': unknown sync method {method!r} (one of {', '.join(METHODS)})")
    if t.ndim != 1 or not np.all(np.isfinite(t)) or (t.size > 1 and not np.all(np.diff(t) > 0)):
        raise ContractError(f"'{path}': the timeline 't' must be finite, increasing seconds")
    for cam, info in cameras.items():
        try:
            offset = float(info.get("offset_s", np.nan))
            covered = np.asarray(info.get("covered_s", []), dtype=np.float64)
            share = float(info.get("covered_share", 1.0))
        except (TypeError, ValueError) as exc:
            raise ContractError(f"'{path}': camera {cam}: offset_s, covered_s and covered_share must be numbers ({exc})") from None
        if not np.isfinite(offset):
            raise ContractError(f"'{path}': camera {cam} has no finite offset_s")
        if covered.shape not in ((0,), (2,)) or not np.isfinite(covered).all() or not 0 <= share <= 1:
            raise ContractError(f"'{path}': camera {cam}: covered_s must be [first, last] seconds and covered_share "
                                "a share in [0, 1]; rerun the sync stage")
    return Sync(method, float(doc.get("fps") or frame_rate(t)), t, cameras, path)
