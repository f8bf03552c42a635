"""Initial camera poses: per-view board poses, pairwise relative poses, spanning tree.

Views where two cameras see the board at the same frame give the relative pose of
the two cameras; the robust average over all such frames is an edge of the
co-visibility graph, and the poses are chained from a reference camera over the
spanning tree that keeps the edges with the most shared views.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order, connected_components, minimum_spanning_tree

from .board import BoardSpec
from .errors import DisconnectedRigError
from .geometry import compose, invert, robust_mean_pose


@dataclass
class ViewPoses:
    R: np.ndarray  # (C, F, 3, 3) board -> camera, NaN where no pose
    t: np.ndarray  # (C, F, 3)
    ok: np.ndarray  # (C, F) bool
    err: np.ndarray  # (C, F) RMS reprojection px of the single-view pose


def view_poses(corners: np.ndarray, board: BoardSpec, Ks: np.ndarray, dists: np.ndarray, usable: np.ndarray,
               max_err_px: float = 3.0) -> ViewPoses:
    """Board pose in each camera and frame where ``usable`` (C, F), by planar PnP (IPPE)."""
    C, F = usable.shape
    R = np.full((C, F, 3, 3), np.nan)
    t = np.full((C, F, 3), np.nan)
    err = np.full((C, F), np.nan)
    obj = board.object_points()
    for c, f in zip(*np.nonzero(usable)):  # one OpenCV call per view
        ok = np.isfinite(corners[c, f, :, 0])
        img = corners[c, f, ok]
        found, rvec, tvec = cv2.solvePnP(obj[ok], img, Ks[c], dists[c], flags=cv2.SOLVEPNP_IPPE)
        if not found:
            continue
        rvec, tvec = cv2.solvePnPRefineLM(obj[ok], img, Ks[c], dists[c], rvec, tvec)
        proj = cv2.projectPoints(obj[ok], rvec, tvec, Ks[c], dists[c])[0].reshape(-1, 2)
        e = float(np.sqrt(np.mean(np.sum((proj - img) ** 2, axis=1))))
        if e > max_err_px or tvec[2, 0] <= 0:
            continue
        R[c, f] = cv2.Rodrigues(rvec)[0]
        t[c, f] = tvec.ravel()
        err[c, f] = e
    return ViewPoses(R, t, np.isfinite(err), err)


def covisibility(ok: np.ndarray) -> np.ndarray:
    """(C, C) number of frames where both cameras have a board pose."""
    o = ok.astype(np.int64)
    M = o @ o.T
    np.fill_diagonal(M, 0)
    return M


def check_connected(names: list[str], covis: np.ndarray, min_shared: int = 1) -> None:
    n_comp, labels = connected_components(csr_matrix(covis >= min_shared), directed=False)
    if n_comp <= 1:
        return
    sizes = np.bincount(labels)
    main = int(np.argmax(sizes))
    groups = [[names[i] for i in np.flatnonzero(labels == g)] for g in range(n_comp) if g != main]
    lonely = [n for n in names if covis[names.index(n)].max() < min_shared]
    what = (f"camera(s) {', '.join(lonely)} never see the board at the same time as any other camera"
            if lonely else f"camera group(s) {groups} never share a board view with cameras {[names[i] for i in np.flatnonzero(labels == main)]}")
    raise DisconnectedRigError(
        f"the rig cannot be connected: {what}. Hold the board where each of these cameras and a neighbouring camera "
        "see it at once (it must be seen by two cameras in the same frame)"
    )


def chain_cameras(names: list[str], poses: ViewPoses, reference: int = 0, min_shared: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """World (= reference camera) -> camera rotations (C, 3, 3) and translations (C, 3)."""
    C = poses.ok.shape[0]
    covis = covisibility(poses.ok)
    check_connected(names, covis, min_shared)
    # maximum co-visibility spanning tree = minimum spanning tree of (max + 1 - count)
    weight = np.where(covis >= min_shared, covis.max() + 1 - covis, 0)
    tree = minimum_spanning_tree(csr_matrix(weight))
    order, pred = breadth_first_order(tree, reference, directed=False)
    R = np.zeros((C, 3, 3))
    t = np.zeros((C, 3))
    R[reference] = np.eye(3)
    for c in order[1:]:
        p = pred[c]
        both = poses.ok[c] & poses.ok[p]
        # camera p -> camera c through the board: (c <- board) after (board <- p)
        Rbp, tbp = invert(poses.R[p, both], poses.t[p, both])
        Rcp, tcp = compose(poses.R[c, both], poses.t[c, both], Rbp, tbp)
        Rm, tm, _ = robust_mean_pose(Rcp, tcp)
        R[c], t[c] = compose(Rm, tm, R[p], t[p])
    return R, t


def initial_board_poses(poses: ViewPoses, R_cam: np.ndarray, t_cam: np.ndarray, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Board -> world pose at each of ``frames`` from the camera with the best single-view fit."""
    err = np.where(poses.ok[:, frames], poses.err[:, frames], np.inf)
    best = np.argmin(err, axis=0)
    Rcb = poses.R[best, frames]
    tcb = poses.t[best, frames]
    Rwc, twc = invert(R_cam[best], t_cam[best])
    return compose(Rwc, twc, Rcb, tcb)
