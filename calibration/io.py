"""Calibration files: anipose-compatible TOML out; anipose / Pose2Sim TOML and Qualisys .qca.txt in.

Written layout (read by anipose's ``CameraGroup.load`` and by Pose2Sim)::

    [cam_0]
    name = "cam1"
    size = [640, 480]                 # width, height
    matrix = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]
    distortions = [k1, k2, p1, p2, k3]
    rotation = [rx, ry, rz]           # Rodrigues, world -> camera
    translation = [tx, ty, tz]        # metres, X_cam = R X_world + t
    [metadata]
    board = {...}, rms_px = {cam1 = 0.41, ...}, views = {cam1 = 37, ...}, date = "..."
"""
from __future__ import annotations

import tomllib
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import cv2
import numpy as np
import tomli_w

from pipeline.common.atomic import write_text
from .camera import Camera, Rig
from calibration.board_detection import natural_key
from .errors import CalibrationFileError

CAMERA_FIELDS = ("name", "size", "matrix", "distortions", "rotation", "translation")


def _plain(obj: Any) -> Any:
    """numpy values -> TOML-serialisable Python values."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [_plain(v) for v in (obj.tolist() if isinstance(obj, np.ndarray) else obj)]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def calibration_toml(cameras: Sequence[Camera], metadata: Mapping[str, Any] | None = None) -> str:
    doc: dict[str, Any] = {}
    for i, cam in enumerate(cameras):
        doc[f"cam_{i}"] = {
            "name": cam.name,
            "size": [int(cam.size[0]), int(cam.size[1])],
            "matrix": cam.K.tolist(),
            "distortions": cam.dist.tolist(),
            "rotation": cam.rvec.tolist(),
            "translation": cam.tvec.tolist(),
        }
    meta = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "units": "metres"}
    meta.update(_plain(dict(metadata or {})))
    doc["metadata"] = meta
    return tomli_w.dumps(doc)


def write_calibration(path: str | Path, cameras: Sequence[Camera], metadata: Mapping[str, Any] | None = None) -> Path:
    """Write the calibration atomically (the file is complete or absent)."""
    if not cameras:
        raise CalibrationFileError(f"{path}: refusing to write a calibration without cameras")
    names = [c.name for c in cameras]
    if len(set(names)) != len(names):
        raise CalibrationFileError(f"{path}: camera names must be unique, got {names}")
    write_text(path, calibration_toml(cameras, metadata))
    return Path(path)


# --- readers -----------------------------------------------------------------
def read_calibration(path: str | Path) -> Rig:
    """Cameras from an anipose TOML, a Pose2Sim TOML or a Qualisys .qca.txt file (auto-detected)."""
    return read_calibration_with_metadata(path)[0]


def read_calibration_with_metadata(path: str | Path) -> tuple[Rig, dict]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"calibration file {path} does not exist")
    head = path.read_bytes()[:512].lstrip()
    if head.startswith(b"<?xml") or head.startswith(b"<calibration") or path.name.lower().endswith(".qca.txt"):
        cameras, meta = read_qca(path), {"source": str(path), "format": "qualisys"}
    else:
        cameras, meta = read_toml(path)
    try:
        return Rig(cameras), meta
    except ValueError as exc:
        raise CalibrationFileError(f"{path}: {exc}") from None


def read_toml(path: str | Path) -> tuple[list[Camera], dict]:
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CalibrationFileError(f"{path} is neither TOML nor a Qualisys .qca.txt file: {exc}") from None
    tables = {k: v for k, v in doc.items() if k != "metadata" and isinstance(v, dict)}
    if not tables:
        raise CalibrationFileError(f"{path}: no camera tables found (expected [cam_0] ... with {', '.join(CAMERA_FIELDS)})")
    cameras = []
    for key in sorted(tables, key=natural_key):
        t = tables[key]
        missing = [f for f in ("size", "matrix", "distortions", "rotation", "translation") if f not in t]
        if missing:
            raise CalibrationFileError(f"{path}: camera table [{key}] lacks {', '.join(missing)}")
        if t.get("fisheye", False):
            raise CalibrationFileError(f"{path}: camera [{key}] uses the fisheye model, which hingecap does not support; "
                                       "recalibrate with the pinhole + distortion model")
        rot = np.asarray(t["rotation"], float)
        rvec = cv2.Rodrigues(rot)[0].ravel() if rot.shape == (3, 3) else rot.ravel()
        cameras.append(Camera(str(t.get("name", key)), tuple(int(round(s)) for s in t["size"]), t["matrix"],
                              t["distortions"], rvec, t["translation"]))
    meta = dict(doc.get("metadata", {}))
    meta.setdefault("format", "pose2sim" if any("fisheye" in t for t in tables.values()) else "anipose")
    return cameras, meta


def read_qca(path: str | Path, binning_factor: int = 1) -> list[Camera]:
    """Qualisys .qca.txt (XML) -> cameras, following Pose2Sim's ``calib_qca_fun``.

    Qualisys gives each camera's position (mm) and orientation as camera -> world
    with the camera looking along its -z and y up; intrinsics are in sensor
    subpixels (64 per pixel) over the full sensor, so the principal point is
    shifted by the video crop (fov_video left/top).
    """
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise CalibrationFileError(f"{path}: not a readable Qualisys calibration (XML error: {exc})") from None
    tags = root.findall("cameras/camera")
    if not tags:
        raise CalibrationFileError(f"{path}: no <cameras><camera> elements; is this a Qualisys .qca.txt file?")
    video = [t for t in tags if any(m in t.attrib.get("model", "").lower() for m in ("video", "none"))] or tags
    flip = np.diag([1.0, -1.0, -1.0])  # Qualisys camera axes (y up, looking along -z) -> OpenCV's
    cameras = []
    for tag in video:
        name = tag.attrib.get("serial", f"cam{len(cameras)}")
        fov, intr, tr = tag.find("fov_video"), tag.find("intrinsic"), tag.find("transform")
        if fov is None or intr is None or tr is None:
            raise CalibrationFileError(f"{path}: camera {name} lacks fov_video, intrinsic or transform")
        g = lambda e, k: float(e.attrib[k])  # noqa: E731
        left, top = g(fov, "left"), g(fov, "top")
        w = (g(fov, "right") - left + 1) / binning_factor
        h = (g(fov, "bottom") - top + 1) / binning_factor
        sub = 64.0 * binning_factor
        K = np.array([[g(intr, "focalLengthU") / sub, 0, g(intr, "centerPointU") / sub - left],
                      [0, g(intr, "focalLengthV") / sub, g(intr, "centerPointV") / sub - top],
                      [0, 0, 1]])
        dist = np.array([g(intr, "radialDistortion1"), g(intr, "radialDistortion2"),
                         g(intr, "tangentalDistortion1"), g(intr, "tangentalDistortion2")]) / sub
        M = np.array([[g(tr, f"r{i}{j}") for j in (1, 2, 3)] for i in (1, 2, 3)])
        position = np.array([g(tr, "x"), g(tr, "y"), g(tr, "z")]) / 1000.0
        # Pose2Sim reads the matrix by columns (camera -> world) and inverts it: world -> camera is M itself
        R = flip @ M
        t = -R @ position
        cameras.append(Camera(name, (int(round(w)), int(round(h))), K, dist, cv2.Rodrigues(R)[0].ravel(), t))
    cameras.sort(key=lambda c: natural_key(c.name))
    return cameras
