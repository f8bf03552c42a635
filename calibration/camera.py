"""The camera model every stage shares: OpenCV pinhole + Brown-Conrady distortion.

Conventions (DESIGN.md): camera frame x right, y down, z forward; world frame in
metres, z up; ``rvec``/``tvec`` map world to camera: ``X_cam = R @ X_world + t``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import cv2
import numpy as np


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
        """Project world points (..., 3) to distorted pixels (..., 2). NaN stays NaN."""
        pts = np.asarray(points, dtype=np.float64)
        flat = pts.reshape(-1, 3)
        out = np.full((flat.shape[0], 2), np.nan)
        ok = np.isfinite(flat).all(axis=1)
        if ok.any():
            px, _ = cv2.projectPoints(flat[ok], self.rvec, self.tvec, self.K, self.dist)
            out[ok] = px.reshape(-1, 2)
        return out.reshape(pts.shape[:-1] + (2,))

    def depth(self, points: np.ndarray) -> np.ndarray:
        """Distance along the optical axis (..., ); negative means behind the camera."""
        pts = np.asarray(points, dtype=np.float64)
        return pts @ self.R[2] + self.tvec[2]

    def copy(self) -> "Camera":
        return Camera(self.name, self.size, self.K.copy(), self.dist.copy(), self.rvec.copy(), self.tvec.copy())


def stack_projections(cameras: Sequence[Camera]) -> np.ndarray:
    """(C, 3, 4) pinhole projection matrices, in the order given."""
    return np.stack([c.P for c in cameras])


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
