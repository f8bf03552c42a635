"""Batched rigid-motion and projection helpers (numpy, no per-point loops)."""
from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation


def rodrigues(rvecs: np.ndarray) -> np.ndarray:
    """(..., 3) rotation vectors -> (..., 3, 3) matrices."""
    r = np.asarray(rvecs, dtype=np.float64)
    theta = np.linalg.norm(r, axis=-1, keepdims=True)
    small = theta < 1e-12
    k = np.where(small, 0.0, r / np.where(small, 1.0, theta))
    kx, ky, kz = k[..., 0], k[..., 1], k[..., 2]
    zero = np.zeros_like(kx)
    Kx = np.stack([np.stack([zero, -kz, ky], -1), np.stack([kz, zero, -kx], -1), np.stack([-ky, kx, zero], -1)], -2)
    s = np.sin(theta)[..., None]
    c = np.cos(theta)[..., None]
    eye = np.broadcast_to(np.eye(3), Kx.shape)
    return eye + s * Kx + (1 - c) * (Kx @ Kx)


def matrix_to_rvec(R: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 3) rotation vectors."""
    R = np.asarray(R, dtype=np.float64)
    return Rotation.from_matrix(R.reshape(-1, 3, 3)).as_rotvec().reshape(R.shape[:-2] + (3,))


def invert(R: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of x -> R x + t, batched over leading axes."""
    Rt = np.swapaxes(R, -1, -2)
    return Rt, -(Rt @ t[..., None])[..., 0]


def compose(R1: np.ndarray, t1: np.ndarray, R2: np.ndarray, t2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R1, t1) after (R2, t2): x -> R1 (R2 x + t2) + t1."""
    return R1 @ R2, (R1 @ t2[..., None])[..., 0] + t1


def robust_mean_pose(R: np.ndarray, t: np.ndarray, max_deg: float = 5.0) -> tuple[np.ndarray, np.ndarray, int]:
    """Robust average of (K, 3, 3) rotations and (K, 3) translations.

    Rotation: chordal mean of sign-aligned quaternions over the inliers; translation:
    mean of the inliers (those within ``max_deg`` of the median-seeded rotation and
    within 3 robust sigmas of the median translation). Returns R, t, number of inliers.
    """
    q = Rotation.from_matrix(R).as_quat()
    t_med = np.median(t, axis=0)
    # seed: the pose whose translation is closest to the median, then sign-align quaternions to it
    seed = int(np.argmin(np.linalg.norm(t - t_med, axis=1)))
    q = q * np.sign(q @ q[seed])[:, None]
    ang = np.degrees((Rotation.from_quat(q) * Rotation.from_quat(q[seed]).inv()).magnitude())
    dist_t = np.linalg.norm(t - t_med, axis=1)
    mad = 1.4826 * np.median(dist_t) + 1e-9
    inl = (ang <= max(max_deg, 3 * np.median(ang))) & (dist_t <= max(3 * mad, 1e-6))
    if inl.sum() == 0:
        inl = np.ones(len(q), bool)
    M = q[inl].T @ q[inl]
    q_mean = np.linalg.eigh(M)[1][:, -1]
    return Rotation.from_quat(q_mean).as_matrix(), t[inl].mean(axis=0), int(inl.sum())
