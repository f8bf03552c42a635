"""The camera model every stage shares: OpenCV pinhole + Brown-Conrady distortion, and the rig.

Conventions (DESIGN.md): camera frame x right, y down, z forward; world frame in
metres, z up; ``rvec``/``tvec`` map world to camera: ``X_cam = R @ X_world + t``.

The lens model (k1 k2 p1 p2 k3, as OpenCV's ``projectPoints``; no skew) is
written once, in ``lens_terms``: ``distort`` applies it and the triangulation
core inverts it (``pipeline.triangulate.camera_arrays.undistort``), on numpy or
cupy arrays of any shape.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence, overload

import cv2
import numpy as np


def lens_terms(x: Any, y: Any, k1: Any, k2: Any, p1: Any, p2: Any, k3: Any) -> tuple[Any, Any, Any]:
    """Radial factor and tangential shifts of ideal normalised coordinates (elementwise, broadcasting)."""
    r2 = x * x + y * y
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    dx = 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    dy = p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return radial, dx, dy


def distort(x: Any, y: Any, k1: Any, k2: Any, p1: Any, p2: Any, k3: Any) -> tuple[Any, Any]:
    """Ideal normalised coordinates -> distorted normalised coordinates."""
    radial, dx, dy = lens_terms(x, y, k1, k2, p1, p2, k3)
    return x * radial + dx, y * radial + dy


@dataclass
class Camera:
    name: str
    size: tuple[int, int]  # (width, height) in pixels
    K: np.ndarray  # (3, 3)
    dist: np.ndarray  # (5,) k1 k2 p1 p2 k3
    rvec: np.ndarray = field(default_factory=lambda: np.zeros(3))  # Rodrigues, world -> camera
    tvec: np.ndarray = field(default_factory=lambda: np.zeros(3))  # metres

    def __post_init__(self) -> None:
        self.size = (int(self.size[0]), int(self.size[1]))
        self.K = np.asarray(self.K, dtype=np.float64).reshape(3, 3)
        dist = np.zeros(5)
        given = np.asarray(self.dist, dtype=np.float64).ravel()
        dist[: min(5, given.size)] = given[:5]
        self.dist = dist
        self.rvec = np.asarray(self.rvec, dtype=np.float64).reshape(3)
        self.tvec = np.asarray(self.tvec, dtype=np.float64).reshape(3)

    @property
    def R(self) -> np.ndarray:
        return cv2.Rodrigues(self.rvec)[0]

    @property
    def center(self) -> np.ndarray:
        """Camera centre in world coordinates."""
        return -self.R.T @ self.tvec

    @property
    def P(self) -> np.ndarray:
        """3x4 projection matrix of the undistorted (pinhole) camera."""
        return self.K @ np.hstack([self.R, self.tvec[:, None]])

    def project(self, points: np.ndarray) -> np.ndarray:
        """Project world points (..., 3) to distorted pixels (..., 2), as cv2.projectPoints. NaN stays NaN."""
        pts = np.asarray(points, dtype=np.float64)
        xc = pts @ self.R.T + self.tvec
        with np.errstate(divide="ignore", invalid="ignore"):
            xd, yd = distort(xc[..., 0] / xc[..., 2], xc[..., 1] / xc[..., 2], *self.dist)
        K = self.K
        return np.stack([K[0, 0] * xd + K[0, 2], K[1, 1] * yd + K[1, 2]], axis=-1)

    def depth(self, points: np.ndarray) -> np.ndarray:
        """Distance along the optical axis (..., ); negative means behind the camera."""
        pts = np.asarray(points, dtype=np.float64)
        return pts @ self.R[2] + self.tvec[2]

    def copy(self) -> "Camera":
        return Camera(self.name, self.size, self.K.copy(), self.dist.copy(), self.rvec.copy(), self.tvec.copy())

    def resized(self, size: tuple[int, int]) -> "Camera":
        """This camera with its intrinsics scaled to an image of ``size`` (width, height)."""
        sx, sy = size[0] / self.size[0], size[1] / self.size[1]
        K = self.K.copy()
        K[0] *= sx
        K[1] *= sy
        # pixel centres are at integers: scaling keeps the image edges, not pixel 0, fixed
        K[0, 2] += 0.5 * sx - 0.5
        K[1, 2] += 0.5 * sy - 0.5
        return Camera(self.name, size, K, self.dist, self.rvec, self.tvec)

    def shifted(self, offset: Sequence[float]) -> "Camera":
        """This camera with its principal point moved by ``offset`` (dx, dy) pixels."""
        out = self.copy()
        out.K[:2, 2] += np.asarray(offset, dtype=np.float64)
        return out


class Rig(Sequence[Camera]):
    """The calibrated cameras of a room, in order, with unique names.

    Behaves as a sequence of ``Camera`` (index by position, or by name with
    ``rig["cam1"]``); the operations that used to be loose helpers over lists
    of cameras live here.
    """

    def __init__(self, cameras: Sequence[Camera]) -> None:
        self.cameras: tuple[Camera, ...] = tuple(cameras)
        names = [c.name for c in self.cameras]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"camera names must be unique in a rig, got {', '.join(duplicates)} more than once")

    @overload
    def __getitem__(self, key: int | str) -> Camera: ...
    @overload
    def __getitem__(self, key: slice) -> "Rig": ...

    def __getitem__(self, key):
        if isinstance(key, str):
            for cam in self.cameras:
                if cam.name == key:
                    return cam
            raise KeyError(f"no camera named {key!r} in the rig ({', '.join(self.names)})")
        if isinstance(key, slice):
            return Rig(self.cameras[key])
        return self.cameras[key]

    def __len__(self) -> int:
        return len(self.cameras)

    def __iter__(self) -> Iterator[Camera]:
        return iter(self.cameras)

    def __repr__(self) -> str:
        return f"Rig({', '.join(self.names)})"

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.cameras]

    def subset(self, names: Sequence[str]) -> "Rig":
        """The cameras called ``names``, in that order."""
        return Rig([self[n] for n in names])

    def shifted(self, offsets: np.ndarray) -> "Rig":
        """Copies with each principal point moved by ``offsets`` (C, 2) pixels."""
        return Rig([c.shifted(d) for c, d in zip(self.cameras, np.asarray(offsets, dtype=np.float64))])

    def resized(self, size: tuple[int, int]) -> "Rig":
        return Rig([c.resized(size) for c in self.cameras])

    def project(self, points: np.ndarray) -> np.ndarray:
        """World points (..., 3) in every camera: distorted pixels (C, ..., 2)."""
        return np.stack([c.project(points) for c in self.cameras])


def look_at(center: np.ndarray, target: np.ndarray, up: np.ndarray = np.array([0.0, 0.0, 1.0])) -> tuple[np.ndarray, np.ndarray]:
    """rvec, tvec of a camera at ``center`` looking at ``target`` with world ``up`` pointing image-up."""
    center = np.asarray(center, dtype=np.float64)
    z = np.asarray(target, dtype=np.float64) - center
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])  # rows: camera axes in world coordinates
    return cv2.Rodrigues(R)[0].ravel(), -R @ center
