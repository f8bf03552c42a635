"""A virtual rig of cameras around a capture area, with known ground truth.

Used by the tests, the benchmarks and the demo: every stage can be checked
against the exact cameras that produced its input.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from calibration.camera import Camera, Rig, look_at


def virtual_rig(
    n_cameras: int = 4,
    *,
    size: tuple[int, int] = (640, 480),
    radius: tuple[float, float] = (3.0, 4.0),
    height: tuple[float, float] = (1.2, 2.0),
    target: tuple[float, float, float] = (0.0, 0.0, 0.9),
    distortion: bool = True,
    seed: int = 0,
    azimuth_deg: Sequence[float] | None = None,
    focal: tuple[float, float] = (0.85, 1.05),
) -> Rig:
    """``n_cameras`` cameras spread around the origin, looking at ``target``.

    Focal lengths, principal points, distances and heights vary per camera so
    no code can rely on identical intrinsics. World frame: metres, z up,
    origin on the floor at the centre of the capture area. ``azimuth_deg``
    places the cameras at those directions from the origin (degrees
    counter-clockwise from +x, each jittered by up to 3 deg) instead of evenly
    around it; ``focal`` is the range of focal lengths as a fraction of the
    image width (of sqrt(w h) for a portrait ``size``, w < h, so a phone
    filming upright still holds a bent-over athlete across).
    """
    rng = np.random.default_rng(seed)
    w, h = size
    if azimuth_deg is not None and len(azimuth_deg) != n_cameras:
        raise ValueError(f"azimuth_deg has {len(azimuth_deg)} entries for {n_cameras} cameras")
    cams = []
    for i in range(n_cameras):
        if azimuth_deg is None:
            azimuth = 2 * np.pi * i / n_cameras + rng.uniform(-0.25, 0.25) + np.pi / 4
        else:
            azimuth = np.radians(azimuth_deg[i] + rng.uniform(-3, 3))
        r = rng.uniform(*radius)
        center = np.array([r * np.cos(azimuth), r * np.sin(azimuth), rng.uniform(*height)])
        rvec, tvec = look_at(center, np.array(target) + rng.normal(0, 0.05, 3))
        f = (np.sqrt(w * h) if h > w else w) * rng.uniform(*focal)
        K = np.array([[f * rng.uniform(0.998, 1.002), 0, w / 2 + rng.uniform(-8, 8)],
                      [0, f, h / 2 + rng.uniform(-6, 6)],
                      [0, 0, 1]])
        dist = (
            np.array([rng.uniform(-0.15, -0.05), rng.uniform(0.0, 0.08), rng.uniform(-1e-3, 1e-3), rng.uniform(-1e-3, 1e-3), 0.0])
            if distortion else np.zeros(5)
        )
        cams.append(Camera(f"cam{i}", (w, h), K, dist, rvec, tvec))
    return Rig(cams)
