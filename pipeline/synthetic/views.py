"""Synthetic multi-camera observations of known 3D points, for triangulation tests and benchmarks.

Noise is given as the RMS length of the 2D displacement (per-axis sigma =
noise_px / sqrt(2)); outliers move an observation by exactly ``outlier_px``
in a random direction; missing observations are NaN with confidence 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
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


def write_pose2d_session(out_dir: Path, xyz: np.ndarray, cameras: Sequence[Camera], *, fps: float,
                         delay_frames: dict[int, int] | None = None, noise_px: float = 1.0, swap_frac: float = 0.0,
                         missing: float = 0.0, empty: Sequence[str] = (), t_source: str = "fps",
                         seed: int = 0) -> dict[str, Path]:
    """``out_dir/pose2d/{cam}.npz`` of the landmarks ``xyz`` (T, 33, 3) seen by ``cameras``, as detection would write them.

    Camera c starts ``delay_frames[c]`` frames late (its own clock starts at 0,
    or on the shared clock with ``t_source="timestamps"``); each view gets
    ``noise_px`` per-axis gaussian noise, ``swap_frac`` of its frames labelled
    left/right swapped and ``missing`` of its landmarks lost; cameras in
    ``empty`` see nobody. Returns camera name -> file.
    """
    from pipeline.common.landmarks import LR_SWAP
    from pipeline.contracts.pose2d import write_pose2d

    rng = np.random.default_rng(seed)
    delay_frames = delay_frames or {}
    paths = {}
    for i, cam in enumerate(cameras):
        d = delay_frames.get(i, 0)
        seen = xyz[d:]
        xy = cam.project(seen.reshape(-1, 3)).reshape(len(seen), -1, 2) + rng.normal(0, noise_px, (len(seen), seen.shape[1], 2))
        if swap_frac:
            swapped = rng.random(len(xy)) < swap_frac
            xy[swapped] = xy[swapped][:, list(LR_SWAP)]
        if missing:
            xy[rng.random(xy.shape[:2]) < missing] = np.nan
        if cam.name in empty:
            xy[:] = np.nan
        conf = np.where(np.isfinite(xy[..., 0]), 0.9, 0.0)
        t = np.arange(len(xy)) / fps + (d / fps if t_source == "timestamps" else 0.0)
        paths[cam.name] = write_pose2d(Path(out_dir) / "pose2d" / f"{cam.name}.npz", xy, conf, t, fps=fps,
                                       size=cam.size, t_source=t_source)
    return paths
