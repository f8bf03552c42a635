"""Per-camera intrinsics (K + distortion) from board views, with the RMS error."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .board import BoardSpec
from .errors import TooFewViewsError

MIN_CORNERS = 6  # fewer corners give a poorly constrained view (and collinear sets break OpenCV)


@dataclass
class Intrinsics:
    K: np.ndarray
    dist: np.ndarray  # (5,)
    rms: float  # px, over the views used
    views: int


def usable_views(corners: np.ndarray, board: BoardSpec, min_corners: int = MIN_CORNERS) -> np.ndarray:
    """(..., F) bool: views with enough corners, not all on one board row or column."""
    seen = np.isfinite(corners[..., 0])
    nx, ny = board.inner_corners
    grid = seen.reshape(seen.shape[:-1] + (ny, nx))
    rows = grid.any(axis=-1).sum(axis=-1)
    cols = grid.any(axis=-2).sum(axis=-1)
    return (seen.sum(axis=-1) >= min_corners) & (rows >= 2) & (cols >= 2)


def pick_views(corners: np.ndarray, board: BoardSpec, max_views: int, min_corners: int = MIN_CORNERS) -> np.ndarray:
    """Indices of at most ``max_views`` usable views, spread evenly over the recording."""
    idx = np.flatnonzero(usable_views(corners, board, min_corners))
    if len(idx) > max_views:
        idx = idx[np.linspace(0, len(idx) - 1, max_views).round().astype(int)]
    return idx


def calibrate_intrinsics(corners: np.ndarray, board: BoardSpec, size: tuple[int, int], *, camera: str = "camera",
                         min_views: int = 4, max_views: int = 40, fix_k3: bool = True,
                         min_corners: int = MIN_CORNERS) -> Intrinsics:
    """``corners`` (F, N, 2) of one camera, NaN where unseen -> intrinsics via cv2.calibrateCamera."""
    views = pick_views(corners, board, max_views, min_corners)
    if len(views) < min_views:
        raise TooFewViewsError(
            f"camera {camera}: only {len(views)} view(s) show at least {min_corners} board corners; intrinsics need "
            f"{min_views} or more. Film the board closer to this camera, tilted in several directions and covering the image"
        )
    obj = board.object_points().astype(np.float32)
    obj_pts, img_pts = [], []
    for v in views:  # OpenCV wants one array per view
        ok = np.isfinite(corners[v, :, 0])
        obj_pts.append(obj[ok])
        img_pts.append(corners[v, ok].astype(np.float32))
    flags = cv2.CALIB_FIX_K3 if fix_k3 else 0
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-10)
    size = tuple(int(s) for s in size)
    rms, K, dist, _, _, _, _, per_view = cv2.calibrateCameraExtended(obj_pts, img_pts, size, None, None, flags=flags,
                                                                     criteria=criteria)
    per_view = per_view.ravel()
    # one badly detected view (motion blur, a corner snapped to a marker) skews everything: drop it once
    bad = per_view > max(3 * np.median(per_view), 1.0)
    if bad.any() and (~bad).sum() >= min_views:
        keep = np.flatnonzero(~bad)
        obj_pts, img_pts = [obj_pts[i] for i in keep], [img_pts[i] for i in keep]
        rms, K, dist, _, _ = cv2.calibrateCamera(obj_pts, img_pts, size, None, None, flags=flags, criteria=criteria)
    return Intrinsics(K, np.asarray(dist, float).ravel()[:5], float(rms), len(obj_pts))
