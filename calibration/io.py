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

Whatever the format, every camera read is checked before it is used
(``check_camera``, ``check_rig``): a size, focal lengths and principal point
that are finite and positive, a matrix without skew, at most OpenCV's five
distortion terms, finite rotation and translation, unique names and distinct
positions. Each problem is a ``CalibrationFileError`` naming the file and the
camera, never a rig that triangulates to NaN or to the wrong place.
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
# Two cameras cannot stand in one place; centres this close are a copy-paste in the file.
MIN_CAMERA_DISTANCE_M = 0.01


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
    for cam in cameras:
        check_camera(cam, path, cam.name)
    check_rig(cameras, path)
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
    check_rig(cameras, path)
    return Rig(cameras), meta


def check_camera(cam: Camera, path: str | Path, key: str) -> Camera:
    """``cam`` if every value of it can be used; else a CalibrationFileError naming the file and camera."""
    where = f"{path}: camera [{key}]" + (f" ({cam.name})" if cam.name != key else "")
    K = cam.K
    problems = []
    if not (cam.size[0] > 0 and cam.size[1] > 0):
        problems.append(f"size {list(cam.size)} must be a positive [width, height] in pixels")
    if not np.isfinite(K).all():
        problems.append(f"matrix holds NaN or infinite values ({K.tolist()})")
    elif not (K[0, 0] > 0 and K[1, 1] > 0):
        problems.append(f"focal lengths fx={K[0, 0]:g}, fy={K[1, 1]:g} must be positive pixels")
    elif abs(K[0, 1]) > 1e-3 * K[0, 0] or abs(K[1, 0]) > 1e-9 or not np.allclose(K[2], [0, 0, 1]):
        problems.append(f"matrix {K.tolist()} must be [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] (no skew)")
    for name, values in (("distortions", cam.dist), ("rotation", cam.rvec), ("translation", cam.tvec)):
        if not np.isfinite(values).all():
            problems.append(f"{name} {np.asarray(values).tolist()} holds NaN or infinite values")
    if problems:
        raise CalibrationFileError(f"{where}: " + "; ".join(problems) + ". Fix the file or calibrate the room again")
    return cam


def check_rig(cameras: Sequence[Camera], path: str | Path) -> None:
    """Unique camera names and distinct camera positions; errors name the file and the cameras."""
    names = [c.name for c in cameras]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise CalibrationFileError(f"{path}: duplicate camera name(s) {', '.join(twice)}: each camera needs its own "
                                   "name (the one its videos are named after); rename one of them")
    centres = np.array([c.center for c in cameras])
    if len(centres) > 1:
        dist = np.linalg.norm(centres[:, None] - centres[None, :], axis=-1) + np.diag(np.full(len(centres), np.inf))
        i, j = np.unravel_index(np.argmin(dist), dist.shape)
        if dist[i, j] < MIN_CAMERA_DISTANCE_M:
            raise CalibrationFileError(
                f"{path}: cameras {names[i]} and {names[j]} stand at the same position "
                f"({', '.join(f'{v:.3f}' for v in centres[i])} m, {100 * dist[i, j]:.1f} cm apart): two cameras cannot "
                "share a place, so one's rotation/translation is wrong (copied?); fix it or calibrate the room again")


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
        cameras.append(check_camera(_camera_from_table(t, key, path), path, key))
    meta = doc.get("metadata", {})
    meta = dict(meta) if isinstance(meta, dict) else {}
    meta.setdefault("format", "pose2sim" if any("fisheye" in t for t in tables.values()) else "anipose")
    return cameras, meta


def _camera_from_table(t: Mapping[str, Any], key: str, path: Path) -> Camera:
    """One [cam_i] table as a Camera; values of the wrong type or shape are an error naming the table."""
    def numbers(field: str, shapes: tuple[tuple[int, ...], ...]) -> np.ndarray:
        try:
            a = np.asarray(t[field], dtype=np.float64)
        except (TypeError, ValueError):
            a = None
        if a is None or a.shape not in shapes:
            want = " or ".join("x".join(map(str, s)) + " numbers" for s in shapes)
            raise CalibrationFileError(f"{path}: camera table [{key}]: {field} must be {want}, got {t[field]!r}")
        return a

    size = numbers("size", ((2,),))
    matrix = numbers("matrix", ((3, 3),))
    dist = numbers("distortions", tuple((n,) for n in range(0, 15)))
    if np.any(dist[5:] != 0):
        raise CalibrationFileError(f"{path}: camera table [{key}]: {dist.size} distortion terms; hingecap's lens model "
                                   "has OpenCV's five (k1 k2 p1 p2 k3): recalibrate without the rational/thin-prism terms")
    rot = numbers("rotation", ((3,), (3, 3)))
    if rot.shape == (3, 3):
        if not np.isfinite(rot).all() or not np.allclose(rot @ rot.T, np.eye(3), atol=1e-4) or np.linalg.det(rot) < 0:
            raise CalibrationFileError(f"{path}: camera table [{key}]: rotation {rot.tolist()} is not a rotation matrix")
        rot = cv2.Rodrigues(rot)[0].ravel()
    translation = numbers("translation", ((3,),))
    if not np.isfinite(size).all():
        raise CalibrationFileError(f"{path}: camera table [{key}]: size {t['size']!r} must be finite pixels")
    name = t.get("name", key)
    if not isinstance(name, (str, int)):
        raise CalibrationFileError(f"{path}: camera table [{key}]: name must be text, got {name!r}")
    return Camera(str(name), (int(round(size[0])), int(round(size[1]))), matrix, dist[:5], rot, translation)


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
        def g(element, attribute: str, name=name) -> float:
            try:
                return float(element.attrib[attribute])
            except KeyError:
                raise CalibrationFileError(f"{path}: camera {name}: <{element.tag}> lacks {attribute}") from None
            except ValueError:
                raise CalibrationFileError(f"{path}: camera {name}: <{element.tag}> {attribute}="
                                           f"{element.attrib[attribute]!r} is not a number") from None

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
        if not (np.isfinite(R).all() and np.isfinite([w, h]).all() and np.allclose(M @ M.T, np.eye(3), atol=1e-3)):
            raise CalibrationFileError(f"{path}: camera {name}: its <transform> r11..r33 is not a rotation matrix, "
                                       f"or its <fov_video> is not finite")
        cam = Camera(name, (int(round(w)), int(round(h))), K, dist, cv2.Rodrigues(R)[0].ravel(), t)
        cameras.append(check_camera(cam, path, name))
    cameras.sort(key=lambda c: natural_key(c.name))
    return cameras
