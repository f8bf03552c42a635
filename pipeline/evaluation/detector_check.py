"""Does MediaPipe see the rendered athlete where the ground truth says it is?

Runs BlazePose (``mp.solutions.pose``, video mode, one instance per camera)
over rendered footage and scores it against ``Camera.project`` of the true
landmarks: detection rate, 2D error (pixels and percent of body height) and the
left/right swap rate. Used by the renderer's tests and its benchmark.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from calibration.camera import Camera

from pipeline.common.landmarks import BODY_JOINTS, LR_SWAP


def mediapipe_landmarks(frames: Iterable[np.ndarray], model_complexity: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """xy (F, 33, 2) pixels (NaN where no person) and visibility (F, 33) of BGR ``frames``."""
    from pipeline.detect.blazepose import pose_landmarks

    xy, vis, *_ = pose_landmarks(frames, model_complexity)
    return xy, vis


def body_height_px(xyz: np.ndarray, camera: Camera, head_top: float = 0.12) -> np.ndarray:
    """(T,) image length of a vertical segment as tall as the athlete standing at its feet.

    The athlete's height is taken as the highest landmark over the whole motion
    plus ``head_top`` metres (eyes to crown), so it does not shrink in a hinge.
    """
    feet = xyz[:, list(BODY_JOINTS[-2:])].mean(axis=1)
    feet[:, 2] = 0.0
    top = feet.copy()
    top[:, 2] = np.nanmax(xyz[..., 2]) + head_top
    return np.linalg.norm(camera.project(top) - camera.project(feet), axis=-1)


def score_camera(xy: np.ndarray, xyz: np.ndarray, camera: Camera, joints: Sequence[int] = BODY_JOINTS) -> dict:
    """Detection rate, 2D error of ``joints`` and L/R swap rate of detections ``xy`` (F,33,2) vs truth ``xyz``."""
    n = min(len(xy), len(xyz))
    xy, xyz = xy[:n], xyz[:n]
    truth = camera.project(xyz)
    joints = list(joints)
    detected = np.isfinite(xy[:, joints]).all(axis=(1, 2))
    err = np.linalg.norm(xy[:, joints] - truth[:, joints], axis=-1)  # (F, J)
    swapped = np.linalg.norm(xy[:, joints] - truth[:, list(np.asarray(LR_SWAP)[joints])], axis=-1)
    is_swap = detected & (np.nanmean(swapped, axis=1) < np.nanmean(err, axis=1))
    height = body_height_px(xyz, camera)
    rel = err / height[:, None]
    per_joint = np.nanmedian(err[detected], axis=0) if detected.any() else np.full(len(joints), np.nan)
    return {
        "camera": camera.name,
        "frames": int(n),
        "detected": float(detected.mean()),
        "median_px": float(np.nanmedian(err[detected])) if detected.any() else float("nan"),
        "median_pct_height": float(100 * np.nanmedian(rel[detected])) if detected.any() else float("nan"),
        "swap_rate": float(is_swap.sum() / max(detected.sum(), 1)),
        "body_height_px": float(np.median(height)),
        "median_px_per_joint": per_joint.tolist(),
    }
