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
reported.

It must not chase the wrong person: it sees only the athlete's views (the
triangulate stage matches people across cameras first), and
``guarded_principal_point_offsets`` refuses a shift beyond
``MAX_SHIFT_FRACTION`` of the image diagonal (12 px at 640x480, 33 px at
1920x1080): beyond the principal point's own uncertainty and drift (a good
calibration knows it to well under 1 % of the image; refocusing moves it
less), a constant shift of every view of a camera says the calibration does
not belong to this video (another resolution, a crop, another camera) or the
views are of someone else, and moving the principal point would hide that
rather than fix it. The Pose2Sim demo's real mismatch, 7-16 px on 1080x1920
videos (under 0.75 % of the diagonal), stays well inside. A refused camera
keeps its calibration and the others are refined again without it.
"""
from __future__ import annotations

from types import ModuleType
from typing import Sequence

import logging

import numpy as np

from calibration.camera import Camera, Rig

from pipeline.common.landmarks import BODY_JOINTS
from pipeline.triangulate.core import reproject, triangulate

log = logging.getLogger(__name__)

MAX_SHIFT_FRACTION = 0.015  # of the image diagonal; see the module docstring


def principal_point_offsets(xy: np.ndarray, conf: np.ndarray, cameras: Sequence[Camera], rounds: int = 3,
                            xp: ModuleType | None = None, fixed: np.ndarray | None = None) -> np.ndarray:
    """(C, 2) image shift (px) per camera that best reconciles the views' body joints.

    ``xy`` (C, T, 33, 2) distorted pixels and ``conf`` (C, T, 33), left/right
    swaps already repaired. Each round triangulates the body joints, takes each
    camera's median residual (detected - reprojected) over all frames and
    joints, and moves the principal points by it. Cameras in ``fixed`` (C,)
    bool keep theirs.
    """
    body = list(BODY_JOINTS)
    cams = Rig(cameras)
    total = np.zeros((len(cams), 2))
    hold = np.zeros(len(cams), bool) if fixed is None else np.asarray(fixed, bool)
    for _ in range(rounds):
        X = triangulate(xy[:, :, body], conf[:, :, body], cams, xp=xp).xyz
        if not np.isfinite(X).any():
            break
        resid = (xy[:, :, body] - reproject(X, cams)).reshape(len(cams), -1, 2)
        with np.errstate(all="ignore"):
            median = np.nanmedian(np.where(np.isfinite(resid), resid, np.nan), axis=1)
        shift = without_gauge(np.nan_to_num(median), cams, np.nanmedian(X.reshape(-1, 3), axis=0))
        shift[hold] = 0.0
        cams = cams.shifted(shift)
        total += shift
    return total


def shift_bounds(cameras: Sequence[Camera]) -> np.ndarray:
    """(C,) the largest principal-point shift (px) the refinement may apply: MAX_SHIFT_FRACTION of the diagonal."""
    return np.array([MAX_SHIFT_FRACTION * float(np.hypot(*c.size)) for c in cameras])


def guarded_principal_point_offsets(xy: np.ndarray, conf: np.ndarray, cameras: Sequence[Camera], *,
                                    xp: ModuleType | None = None) -> tuple[np.ndarray, dict]:
    """``principal_point_offsets`` with each camera's shift bounded (``shift_bounds``).

    The camera farthest beyond its bound keeps its calibration (shift 0) and
    the others are refined again, one camera at a time, until every applied
    shift is within bounds. Returns the applied (C, 2) shifts and, per refused camera,
    the shift it asked for and the bound, each refusal warned in the log.
    """
    cams = list(cameras)
    bound = shift_bounds(cams)
    fixed = np.zeros(len(cams), bool)
    refused: dict = {}
    while True:
        offsets = principal_point_offsets(xy, conf, cams, xp=xp, fixed=fixed)
        ratio = np.where(fixed, 0.0, np.linalg.norm(offsets, axis=1) / bound)
        if not (ratio > 1).any():
            return offsets, refused
        # one camera at a time, the farthest beyond its bound: its offset pulls the skeleton and so the others'
        c = int(np.argmax(ratio))
        refused[cams[c].name] = {"shift_px": [round(float(v), 1) for v in offsets[c]], "bound_px": round(float(bound[c]), 1)}
        log.warning("refine_calibration: camera %s would move its principal point by (%+.1f, %+.1f) px, more than "
                    "the %.1f px bound: refused, it keeps its calibration. Check that this calibration belongs to "
                    "the video (resolution, crop, camera) and that the camera films the athlete",
                    cams[c].name, *offsets[c], bound[c])
        fixed[c] = True


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
