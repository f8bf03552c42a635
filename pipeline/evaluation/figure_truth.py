"""What the rendered figure really shows: its back's profile and its shoes' footprints, for scoring.

The silhouette measurements (pipeline.analyze.spine_silhouette, .footprint)
are scored against the figure's own surfaces, sliced the same way: the back's
profile in the figure's true sagittal plane at the same levels of the true
standing chord, the shoes along their true foot axis at the same height above
the floor. Inside tests on the figure's ellipsoids (pipeline.synthetic.figure),
for the few frames scored.
"""
from __future__ import annotations

import numpy as np

from pipeline.analyze import spine_silhouette as ss
from pipeline.analyze.footprint import SLICE_M
from pipeline.common.landmarks import INDEX
from pipeline.synthetic.figure import N_CHAIN, Physique, body_primitives

R = np.arange(-0.10, 0.40001, 0.001)  # metres along the dorsal axis
N_TRUNK = N_CHAIN + 4  # chain, upper chest, pelvis, two glutes: the first ellipsoids of a curved trunk


def _inside(points: np.ndarray, ell: np.ndarray) -> np.ndarray:
    """points (..., 3) inside any ellipsoid of ell (N, 15) (centre, 3 semi-axis columns, colour)."""
    inside = np.zeros(points.shape[:-1], bool)
    for e in ell:
        A = e[3:12].reshape(3, 3).T  # columns = semi-axis vectors
        y = np.linalg.solve(A, (points - e[:3]).reshape(-1, 3).T).T
        inside |= (np.sum(y * y, -1) <= 1.0).reshape(points.shape[:-1])
    return inside


def back_profile(xyz: np.ndarray, spine: np.ndarray, sigma: np.ndarray, physique: Physique, facing: np.ndarray,
                 frames: np.ndarray, chord_ref: float) -> np.ndarray:
    """The figure's true back profile (len(frames), Q) at ``frames``: metres behind its true chord along its true
    dorsal axis, at the measurement's levels."""
    frames = np.asarray(frames, int)
    ell, _ = body_primitives(xyz[frames], spine=spine[frames], spine_sigma=sigma, physique=physique)
    H, lat, e_u, e_v = ss.trunk_frame(xyz[frames].astype(np.float64), facing[frames])
    prof = np.full((len(frames), len(ss.LEVELS)), np.nan)
    for i in range(len(frames)):
        P = H[i] + ss.LEVELS[:, None, None] * chord_ref * e_u[i] + R[None, :, None] * e_v[i]  # (Q,R,3)
        ins = _inside(P, ell[i, :N_TRUNK].astype(np.float64))
        start = int(np.searchsorted(R, ss.START_M))
        k_in = np.argmax(ins[:, start:], -1) + start
        after = ~ins & (np.arange(len(R)) > k_in[:, None])
        k = np.argmax(after, -1)
        ok = ins[:, start:].any(-1) & after.any(-1)
        prof[i] = np.where(ok, R[k - 1] + 0.5 * (R[1] - R[0]), np.nan)
    return prof


def back_flexion(xyz: np.ndarray, spine: np.ndarray, sigma: np.ndarray, physique: Physique, facing: np.ndarray,
                 frames: np.ndarray, chord_ref: float) -> np.ndarray:
    """The figure's true back flexion (deg, the measurement's definition) at ``frames``."""
    return ss.flexion_angle(back_profile(xyz, spine, sigma, physique, facing, frames, chord_ref), chord_ref)


def shoe_footprint(xyz: np.ndarray, physique: Physique, frames: np.ndarray) -> dict[str, np.ndarray]:
    """Per foot, the heel and toe ends (len(frames), 3) of the figure's shoe at SLICE_M above the floor (z = 0),
    along the foot's horizontal heel -> toe axis through the ankle."""
    frames = np.asarray(frames, int)
    ell, _ = body_primitives(xyz[frames], physique=physique)
    along = np.arange(-0.25, 0.40001, 0.001)
    out = {}
    for side in ("left", "right"):
        X = xyz[frames].astype(np.float64)
        d = X[:, INDEX[f"{side}_foot_index"]] - X[:, INDEX[f"{side}_heel"]]
        d[:, 2] = 0
        u = d / np.linalg.norm(d, axis=-1, keepdims=True)
        base = X[:, INDEX[f"{side}_ankle"]].copy()
        base[:, 2] = SLICE_M
        heel, toe = np.full((len(frames), 3), np.nan), np.full((len(frames), 3), np.nan)
        for i in range(len(frames)):
            P = base[i] + along[:, None] * u[i]
            # only the shoe ellipsoids near this foot: those whose centre lies within 20 cm of the ankle
            near = np.linalg.norm(ell[i, :, :3] - X[i, INDEX[f"{side}_ankle"]], axis=-1) < 0.2
            ins = _inside(P, ell[i, near].astype(np.float64))
            if ins.any():
                idx = np.flatnonzero(ins)
                heel[i], toe[i] = P[idx[0]], P[idx[-1]]
        out[f"{side}_heel"], out[f"{side}_toe"] = heel, toe
    return out

