"""Synthetic multi-camera observations of known 3D points, for triangulation tests and benchmarks.

Noise is given as the RMS length of the 2D displacement (per-axis sigma =
noise_px / sqrt(2)); outliers move an observation by exactly ``outlier_px``
in a random direction; missing observations are NaN with confidence 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from calibration.camera import Camera


@dataclass
class Views:
    xyz: np.ndarray  # (N, 3) truth
    points2d: np.ndarray  # (C, N, 2) float32 distorted pixels, NaN = missing
    conf: np.ndarray  # (C, N) float32
    missing: np.ndarray  # (C, N) bool
    outlier: np.ndarray  # (C, N) bool (only where not missing)

    @property
    def hit(self) -> np.ndarray:
        """Points with at least one outlier view."""
        return self.outlier.any(axis=0)

    @property
    def good_views(self) -> np.ndarray:
        return (~self.missing & ~self.outlier).sum(axis=0)


def random_points(n: int, seed: int = 0, low=(-1.0, -1.0, 0.0), high=(1.0, 1.0, 2.0)) -> np.ndarray:
    """Uniform points in a box (default 2 x 2 x 2 m standing on the floor at the rig's centre)."""
    return np.random.default_rng(seed).uniform(low, high, (n, 3))


def observe(xyz: np.ndarray, cameras: Sequence[Camera], *, noise_px: float = 2.0, missing: float = 0.05,
            outliers: float = 0.02, outlier_px: float = 200.0, seed: int = 0) -> Views:
    """Project ``xyz`` (N, 3) into ``cameras`` and corrupt the observations."""
    rng = np.random.default_rng(seed)
    pts = np.stack([c.project(xyz) for c in cameras])
    pts = pts + rng.normal(0.0, noise_px / np.sqrt(2), pts.shape)
    miss = rng.random(pts.shape[:2]) < missing
    out = (rng.random(pts.shape[:2]) < outliers) & ~miss
    ang = rng.uniform(0, 2 * np.pi, pts.shape[:2])
    pts = pts + np.where(out[..., None], outlier_px * np.stack([np.cos(ang), np.sin(ang)], -1), 0.0)
    pts[miss] = np.nan
    conf = np.where(miss, 0.0, rng.uniform(0.6, 1.0, miss.shape))
    return Views(np.asarray(xyz, float), pts.astype(np.float32), conf.astype(np.float32), miss, out)
