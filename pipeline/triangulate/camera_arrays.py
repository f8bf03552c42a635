"""The rig's camera model on whole arrays, numpy or cupy: projection and its inverse, undistortion.

The lens model itself is ``calibration.camera.lens_terms``. Points are held
as separate x and y arrays of shape (C, N) -- one row per camera -- so every
step is an elementwise operation over all cameras and points at once; the
per-camera parameters broadcast as (C, 1) columns.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any, Sequence

import numpy as np

from calibration.camera import Camera, distort, lens_terms

# OpenCV's cv::undistortPoints runs 5 fixed-point iterations. Each iteration
# shrinks the error about tenfold for webcam-like lenses (virtual rig, k1 down
# to -0.15: 3e-5 px after 5, 1e-8 px after 8), so 8 leaves margin for
# stronger lenses at little cost.
DEFAULT_ITERATIONS = 8


@dataclass(frozen=True)
class CameraParams:
    """The rig's parameters as (C, 1) columns (R (C, 3, 3), t (C, 3)) on one array module.

    Like cv2.projectPoints / cv2.undistortPoints (and so ``Camera.project``),
    the model has no skew: K[0, 1] is ignored.
    """

    fx: Any
    fy: Any
    cx: Any
    cy: Any
    k1: Any
    k2: Any
    p1: Any
    p2: Any
    k3: Any
    R: Any  # (C, 3, 3) world -> camera
    t: Any  # (C, 3)
    names: tuple[str, ...]

    @property
    def n(self) -> int:
        return len(self.names)

    @property
    def lens(self) -> tuple[Any, Any, Any, Any, Any]:
        return self.k1, self.k2, self.p1, self.p2, self.k3

    @classmethod
    def from_cameras(cls, cameras: Sequence[Camera], xp: ModuleType = np, dtype: Any = None) -> "CameraParams":
        if len(cameras) == 0:
            raise ValueError("no cameras given: triangulation needs a calibrated rig of at least 2 cameras")
        dtype = dtype or xp.float64
        K = np.stack([c.K for c in cameras])
        D = np.stack([c.dist for c in cameras])

        def col(a: np.ndarray) -> Any:
            return xp.asarray(np.ascontiguousarray(a, dtype=np.float64).reshape(-1, 1), dtype=dtype)

        return cls(
            fx=col(K[:, 0, 0]), fy=col(K[:, 1, 1]), cx=col(K[:, 0, 2]), cy=col(K[:, 1, 2]),
            k1=col(D[:, 0]), k2=col(D[:, 1]), p1=col(D[:, 2]), p2=col(D[:, 3]), k3=col(D[:, 4]),
            R=xp.asarray(np.stack([c.R for c in cameras]), dtype=dtype),
            t=xp.asarray(np.stack([c.tvec for c in cameras]), dtype=dtype),
            names=tuple(c.name for c in cameras),
        )


def undistort(u: Any, v: Any, cam: CameraParams, xp: ModuleType, iterations: int = DEFAULT_ITERATIONS) -> tuple[Any, Any]:
    """Distorted pixels (C, N) -> ideal normalised image coordinates (C, N).

    OpenCV's iterative method (``cv2.undistortPoints``): fixed-point iteration
    x <- (x0 - tangential(x)) / radial(x). Where the radial factor turns
    negative (far outside the calibrated field) the point keeps its
    distorted coordinates, as OpenCV does. NaN stays NaN.
    """
    y0 = (v - cam.cy) / cam.fy
    x0 = (u - cam.cx) / cam.fx
    x, y = x0, y0
    frozen = xp.zeros(x0.shape, dtype=bool)
    for _ in range(iterations):
        radial, dx, dy = lens_terms(x, y, *cam.lens)
        frozen = frozen | (radial <= 0)
        x = xp.where(frozen, x0, (x0 - dx) / radial)
        y = xp.where(frozen, y0, (y0 - dy) / radial)
    return x, y


def distort_to_pixels(x: Any, y: Any, cam: CameraParams) -> tuple[Any, Any]:
    """Ideal normalised coordinates (C, N) -> distorted pixels (C, N)."""
    xd, yd = distort(x, y, *cam.lens)
    return cam.fx * xd + cam.cx, cam.fy * yd + cam.cy


def to_camera(X: Any, cam: CameraParams) -> tuple[Any, Any, Any]:
    """World points given as three (N,) arrays -> camera-frame coordinates, each (C, N)."""
    R, t = cam.R, cam.t
    xc = R[:, 0, 0:1] * X[0] + R[:, 0, 1:2] * X[1] + R[:, 0, 2:3] * X[2] + t[:, 0:1]
    yc = R[:, 1, 0:1] * X[0] + R[:, 1, 1:2] * X[1] + R[:, 1, 2:3] * X[2] + t[:, 1:2]
    zc = R[:, 2, 0:1] * X[0] + R[:, 2, 1:2] * X[1] + R[:, 2, 2:3] * X[2] + t[:, 2:3]
    return xc, yc, zc


def project(X: Any, cam: CameraParams, xp: ModuleType) -> tuple[Any, Any, Any]:
    """World points (3, N) -> distorted pixels u, v (C, N) and depth (C, N).

    Points at or behind a camera project to NaN in that camera.
    """
    xc, yc, zc = to_camera(X, cam)
    front = zc > 0
    safe = xp.where(front, zc, 1.0)
    u, v = distort_to_pixels(xc / safe, yc / safe, cam)
    return xp.where(front, u, xp.nan), xp.where(front, v, xp.nan), zc
