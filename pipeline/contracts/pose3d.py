"""``pose3d.npz``: the athlete's filtered 3D skeleton (written by triangulate; read by analyze, report, export).

Contents: ``xyz`` (T,33,3) float32 metres in the room's world frame (z up),
NaN where missing; ``t`` (T,) seconds on the common timeline and its ``fps``;
optionally ``err`` (T,33) reprojection error in pixels, ``ncams`` (T,33)
cameras used, ``xyz_raw`` (T,33,3) before gap filling and low-pass,
``cameras`` (names), ``view_frame`` (C,T) the frame of each camera nearest to
each timeline instant (-1 outside its recording) and ``view_person`` (C,T) the
athlete's person slot in that frame (-1 where that camera did not see the
athlete), so later stages can go back to a camera's own data (silhouettes,
video frames); and ``info``: the triangulation's report as JSON (cameras used
and left out, sync, swaps, reprojection error, filtering).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from pipeline.common.atomic import json_default, write_npz
from pipeline.common.landmarks import N_LANDMARKS
from pipeline.common.timebase import frame_rate
from pipeline.contracts import ContractError, MissingFileError


@dataclass
class Pose3D:
    xyz: np.ndarray  # (T, 33, 3) float32 metres
    t: np.ndarray  # (T,) float64 seconds
    fps: float
    err: np.ndarray | None = None  # (T, 33) pixels
    ncams: np.ndarray | None = None  # (T, 33)
    xyz_raw: np.ndarray | None = None  # (T, 33, 3) before filtering
    cameras: list[str] = field(default_factory=list)
    view_frame: np.ndarray | None = None  # (C, T) int32
    view_person: np.ndarray | None = None  # (C, T) int8
    info: dict = field(default_factory=dict)
    path: Path | None = None

    @property
    def n_frames(self) -> int:
        return int(self.xyz.shape[0])


def write_pose3d(path: str | Path, xyz: np.ndarray, t: np.ndarray, *, fps: float | None = None,
                 err: np.ndarray | None = None, ncams: np.ndarray | None = None, xyz_raw: np.ndarray | None = None,
                 cameras: list[str] | None = None, view_frame: np.ndarray | None = None,
                 view_person: np.ndarray | None = None, info: Mapping[str, Any] | None = None) -> Path:
    """Write the skeleton atomically; ``fps`` defaults to the rate of ``t``."""
    xyz, t = np.asarray(xyz, np.float32), np.asarray(t, np.float64)
    _check(xyz, t, Path(path))
    arrays: dict[str, Any] = {"xyz": xyz, "t": t, "fps": np.float64(fps if fps is not None else frame_rate(t))}
    if err is not None:
        arrays["err"] = np.asarray(err, np.float32)
    if ncams is not None:
        arrays["ncams"] = np.asarray(ncams, np.int16)
    if xyz_raw is not None:
        arrays["xyz_raw"] = np.asarray(xyz_raw, np.float32)
    if cameras is not None:
        arrays["cameras"] = np.array(list(cameras))
    for name, value, dtype in (("view_frame", view_frame, np.int32), ("view_person", view_person, np.int8)):
        if value is not None:
            value = np.asarray(value, dtype)
            if value.shape != (len(cameras or ()), len(t)):
                raise ContractError(f"{path}: {name} must be (cameras, frames) = ({len(cameras or ())}, {len(t)}), got {value.shape}")
            arrays[name] = value
    if info is not None:
        arrays["info"] = np.array(json.dumps(dict(info), default=json_default))
    write_npz(path, **arrays)
    return Path(path)


def read_pose3d(path: str | Path) -> Pose3D:
    """Read and check a pose3d.npz; errors name the file and the stage that writes it."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"'{path}' does not exist; run the triangulation stage for this session first")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as exc:  # noqa: BLE001 -- see NPZ_DAMAGE in pipeline/contracts
        raise ContractError(f"'{path}': not a readable pose3d .npz file ({exc}); rerun the triangulation") from None
    missing = [k for k in ("xyz", "t") if k not in data]
    if missing:
        raise ContractError(f"'{path}' lacks {', '.join(missing)} (pose3d.npz needs xyz (T,33,3) and t (T,); "
                            "see docs/data-contracts.md)")
    xyz, t = np.asarray(data["xyz"], np.float32), np.asarray(data["t"], np.float64)
    _check(xyz, t, path)
    try:
        info = json.loads(str(data["info"])) if "info" in data else {}
    except json.JSONDecodeError as exc:
        raise ContractError(f"'{path}': its info is not JSON ({exc}); rerun the triangulation") from None
    fps = float(data["fps"]) if "fps" in data else frame_rate(t)
    return Pose3D(xyz, t, fps, data.get("err"), data.get("ncams"), data.get("xyz_raw"),
                  [str(c) for c in data["cameras"]] if "cameras" in data else [], data.get("view_frame"),
                  data.get("view_person"), info, path)


def tracked_text(pct: float | None) -> str:
    """``info["tracked_pct"]`` for people: '97.3 %', and never '100.0 %' unless every landmark was tracked."""
    if not isinstance(pct, (int, float)):
        return "–"
    text = f"{pct:.1f}"
    if text == "100.0" and pct < 100.0:
        text = "99.9"
    return f"{text} %"


def _check(xyz: np.ndarray, t: np.ndarray, path: Path) -> None:
    if xyz.ndim != 3 or xyz.shape[1:] != (N_LANDMARKS, 3) or t.shape != (xyz.shape[0],):
        raise ContractError(f"'{path}': xyz must be (T,33,3) and t (T,), got xyz {xyz.shape} and t {t.shape}")
    if np.isinf(xyz).any():
        raise ContractError(f"'{path}': xyz holds infinite coordinates (missing points are NaN); rerun the triangulation")
    if not np.isfinite(t).all() or (t.size > 1 and not np.all(np.diff(t) > 0)):
        raise ContractError(f"'{path}': t must be finite, increasing seconds; rerun the triangulation")
