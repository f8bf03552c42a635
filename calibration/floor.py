"""The calibrated floor: where a rig's cameras look, and where a pixel's ray meets the floor.

The world frame of a calibration has z up and the floor at z = 0 (the board
laid flat, see calibration/world.py). People stand on it, so one camera alone
can place a person on the floor from their feet, and the capture area is where
the cameras, aimed at the athlete, look.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from calibration.camera import Camera


def floor_points(camera: Camera, pixels: np.ndarray, z: float = 0.0) -> np.ndarray:
    """(..., 2) world x, y where the rays through distorted ``pixels`` (..., 2) meet the plane at height ``z``;
    NaN for a ray that does not come down to it (above the horizon, or a NaN pixel)."""
    pixels = np.asarray(pixels, np.float64)
    flat = pixels.reshape(-1, 2)
    ok = np.isfinite(flat).all(-1)
    n = np.full((len(flat), 2), np.nan)
    if ok.any():
        n[ok] = cv2.undistortPoints(flat[ok].reshape(-1, 1, 2), camera.K, camera.dist).reshape(-1, 2)
    rays = np.concatenate([n, np.ones((len(n), 1))], axis=1) @ camera.R  # (N, 3) world directions (R^T d)
    centre = camera.center
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (z - centre[2]) / rays[:, 2]
    hit = centre[:2] + s[:, None] * rays[:, :2]
    hit[~(s > 0)] = np.nan
    return hit.reshape(pixels.shape[:-1] + (2,))


def capture_centre(cameras: Sequence[Camera]) -> np.ndarray:
    """(x, y) on the floor under the point nearest to every camera's optical axis (least squares).

    Cameras are aimed at where the athlete works; the calibration board that
    set the origin may have lain anywhere they all saw it. With fewer than two
    cameras, or axes that do not cross (all parallel), the floor origin.
    """
    A = np.zeros((3, 3))
    b = np.zeros(3)
    for cam in cameras:
        d = cam.R[2]  # the optical axis in world coordinates
        M = np.eye(3) - np.outer(d, d)
        A += M
        b += M @ cam.center
    if len(cameras) < 2 or np.linalg.cond(A) > 1e8:
        return np.zeros(2)
    return np.linalg.solve(A, b)[:2]


def camera_floor_xy(camera: Camera) -> np.ndarray:
    """(x, y) of the floor point under a camera."""
    return np.asarray(camera.center[:2], float)
