"""Refine a calibration's principal points on a session's own body joints.

A calibration made on another day, with another tool, or for a video that was
cropped on export can leave every view of a camera off by the same few pixels:
the Pose2Sim demo's Qualisys calibration puts all body joints of cam01 14 px
and of cam03 16 px away from where the other cameras place them, in every
frame. Such an offset is a principal point (or a rotation of a fraction of a
degree) that no longer matches the video, not detector noise. Shifting each
camera's principal point by the median residual of the body joints, a few
times, removes it. It can also absorb a detector bias that depends on the
view, so it is opt-in (``options.refine_calibration``) and the shifts are
reported; shifts of more than a few tens of pixels mean the calibration does
not belong to the footage.
"""
from __future__ import annotations

from types import ModuleType
from typing import Sequence

import numpy as np

from calibration.camera import Camera, Rig

from pipeline.common.landmarks import BODY_JOINTS
from pipeline.triangulate.core import reproject, triangulate


def principal_point_offsets(xy: np.ndarray, conf: np.ndarray, cameras: Sequence[Camera], rounds: int = 3,
                            xp: ModuleType | None = None) -> np.ndarray:
    """(C, 2) image shift (px) per camera that best reconciles the views' body joints.

    ``xy`` (C, T, 33, 2) distorted pixels and ``conf`` (C, T, 33), left/right
    swaps already repaired. Each round triangulates the body joints, takes each
    camera's median residual (detected - reprojected) over all frames and
    joints, and moves the principal points by it.
    """
    body = list(BODY_JOINTS)
    cams = Rig(cameras)
    total = np.zeros((len(cams), 2))
    for _ in range(rounds):
        X = triangulate(xy[:, :, body], conf[:, :, body], cams, xp=xp).xyz
        if not np.isfinite(X).any():
            break
        resid = (xy[:, :, body] - reproject(X, cams)).reshape(len(cams), -1, 2)
        shift = without_gauge(np.nan_to_num(np.nanmedian(resid, axis=1)), cams, np.nanmedian(X.reshape(-1, 3), axis=0))
        cams = cams.shifted(shift)
        total += shift
    return total


def without_gauge(shift: np.ndarray, cameras: Sequence[Camera], centre: np.ndarray, eps: float = 1e-3) -> np.ndarray:
    """``shift`` (C, 2) less the part a translation of the whole body would explain.

    Moving the athlete by a few millimetres shifts every view by a nearly
    constant amount, so those combinations of image shifts cannot be told from
    a calibration error; leaving them out keeps the refined cameras (and the
    skeleton) where the calibration put them, in the room's floor frame.
    """
    base = reproject(centre, cameras)  # (C, 2)
    G = np.stack([(reproject(centre + eps * e, cameras) - base).ravel() / eps for e in np.eye(3)], axis=1)  # (2C, 3)
    v = shift.ravel()
    coef, *_ = np.linalg.lstsq(G, v, rcond=None)
    return (v - G @ coef).reshape(shift.shape)
