"""Export a session's 3D landmarks (pose3d.npz) as TRC (OpenSim), C3D or CSV.

- TRC: OpenSim's marker file. OpenSim's ground frame is y up, so the export
  turns the world frame (z up) by -90° about x: (x, y, z) -> (x, z, -y), a
  proper rotation, in millimetres by default. Missing markers are empty fields.
- C3D: written and read with ezc3d; lab frame as is (z up), millimetres,
  missing points NaN with residual -1 (the C3D convention for "invalid").
- CSV: one row per frame, ``frame, t, {landmark}_x/_y/_z`` in metres, world frame.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.common.atomic import atomic_path, write_text
from pipeline.common.landmarks import NAMES
from pipeline.contracts.pose3d import read_pose3d

FORMATS = ("trc", "c3d", "csv")
_UNITS = {"mm": 1000.0, "m": 1.0}


class ExportError(ValueError):
    """The session cannot be exported as asked; the message names the file or option."""


def _z_up_to_y_up(xyz: np.ndarray) -> np.ndarray:
    return np.stack([xyz[..., 0], xyz[..., 2], -xyz[..., 1]], axis=-1)


def write_trc(path: str | Path, xyz: np.ndarray, t: np.ndarray, fps: float, *, units: str = "mm",
              names: tuple[str, ...] = NAMES, y_up: bool = True) -> Path:
    if units not in _UNITS:
        raise ExportError(f"TRC units must be one of {sorted(_UNITS)}, got '{units}'")
    T, M = xyz.shape[:2]
    data = (_z_up_to_y_up(xyz) if y_up else np.asarray(xyz)) * _UNITS[units]
    header = [
        f"PathFileType\t4\t(X/Y/Z)\t{Path(path).name}",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
        f"{fps:.6g}\t{fps:.6g}\t{T}\t{M}\t{units}\t{fps:.6g}\t1\t{T}",
        "Frame#\tTime\t" + "\t\t\t".join(names) + "\t\t",
        "\t\t" + "\t".join(f"X{i}\tY{i}\tZ{i}" for i in range(1, M + 1)),
        "",
    ]
    table = pd.DataFrame(data.reshape(T, M * 3))
    table.insert(0, "time", t)
    table.insert(0, "frame", np.arange(1, T + 1))
    body = table.to_csv(sep="\t", header=False, index=False, na_rep="", float_format="%.6f", lineterminator="\n")
    write_text(path, "\n".join(header) + "\n" + body)
    return Path(path)


def read_trc(path: str | Path) -> tuple[list[str], np.ndarray, np.ndarray, str]:
    """(marker names, t (T,), xyz (T,M,3) in the file's units and axes, units) from a TRC file."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    if len(lines) < 6 or not lines[0].startswith("PathFileType"):
        raise ExportError(f"'{path}' is not a TRC file (first line must start with PathFileType)")
    keys, values = lines[1].split("\t"), lines[2].split("\t")
    meta = dict(zip(keys, values))
    names = [n for n in lines[3].split("\t")[2:] if n]
    n_markers = int(meta["NumMarkers"])
    if len(names) != n_markers:
        raise ExportError(f"'{path}': header names {len(names)} markers but NumMarkers is {n_markers}")
    table = pd.read_csv(io.StringIO("\n".join(lines[6:])), sep="\t", header=None).to_numpy(float)
    return names, table[:, 1], table[:, 2:2 + 3 * n_markers].reshape(len(table), n_markers, 3), meta["Units"]


def write_c3d(path: str | Path, xyz: np.ndarray, fps: float, *, names: tuple[str, ...] = NAMES) -> Path:
    import ezc3d

    c3d = ezc3d.c3d()
    c3d["parameters"]["POINT"]["RATE"]["value"] = [float(fps)]
    c3d["parameters"]["POINT"]["LABELS"]["value"] = list(names)
    c3d["parameters"]["POINT"]["UNITS"]["value"] = ["mm"]
    T, M = xyz.shape[:2]
    points = np.ones((4, M, T))
    points[:3] = np.transpose(np.asarray(xyz, np.float64) * 1000.0, (2, 1, 0))
    c3d["data"]["points"] = points
    residuals = np.where(np.isfinite(xyz).all(axis=2).T, 0.0, -1.0)[None]
    c3d["data"]["meta_points"] = {"residuals": residuals, "camera_masks": np.zeros((7, M, T), bool)}
    with atomic_path(path) as tmp:
        c3d.write(str(tmp))
    return Path(path)


def write_csv(path: str | Path, xyz: np.ndarray, t: np.ndarray, *, names: tuple[str, ...] = NAMES) -> Path:
    T, M = xyz.shape[:2]
    columns = [f"{n}_{a}" for n in names for a in "xyz"]
    table = pd.DataFrame(np.asarray(xyz).reshape(T, M * 3), columns=columns)
    table.insert(0, "t", t)
    table.insert(0, "frame", np.arange(T))
    write_text(path, table.to_csv(index=False, float_format="%.6f"))
    return Path(path)


def export_session(session_dir: str | Path, fmt: str, out: str | Path | None = None, *, units: str = "mm") -> Path:
    """Write ``session_dir``'s landmarks as ``fmt`` (trc, c3d, csv); default ``{session_dir}/export/pose3d.{fmt}``."""
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format '{fmt}'; choose one of {', '.join(FORMATS)}")
    pose = read_pose3d(Path(session_dir) / "pose3d.npz")
    xyz, t, fps = pose.xyz.astype(np.float64), pose.t, pose.fps
    target = Path(out) if out is not None else Path(session_dir) / "export" / f"pose3d.{fmt}"
    if fmt == "trc":
        return write_trc(target, xyz, t, fps, units=units)
    if fmt == "c3d":
        return write_c3d(target, xyz, fps)
    return write_csv(target, xyz, t)
