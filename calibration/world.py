"""World frame from a board lying on the floor: origin on the floor, z up, metres.

The board's printed face looks toward its -z, so a board lying face up has -z
pointing up. World axes = board axes turned half a turn about x: x along the
board's first row, y = -board y, z = -board z (up, toward the cameras); the
origin is the board's outer corner next to corner 0.
"""
from __future__ import annotations

import warnings

import numpy as np

from .geometry import compose, invert

BOARD_TO_WORLD = np.diag([1.0, -1.0, -1.0])


def static_mask(corners: np.ndarray, usable: np.ndarray, static_px: float = 1.0) -> np.ndarray:
    """(F,) bool: the board did not move (median corner motion < ``static_px``) since the previous sampled frame."""
    moved = np.linalg.norm(corners[:, 1:] - corners[:, :-1], axis=-1)  # (C, F-1, N)
    both = usable[:, 1:] & usable[:, :-1]
    med = np.full(both.shape, np.inf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no corner seen in both frames: not static
        med[both] = np.nan_to_num(np.nanmedian(moved[both], axis=-1), nan=np.inf)
    still = np.zeros(usable.shape[1], bool)
    still[1:] = both.any(axis=0) & np.all(~both | (med < static_px), axis=0)
    return still


def static_run(corners: np.ndarray, usable: np.ndarray, row: int, static_px: float = 1.0) -> np.ndarray:
    """Rows of the run of static frames that ends at ``row`` (``row`` included)."""
    still = static_mask(corners, usable, static_px)
    start = row
    while start > 0 and still[start] and (usable[:, start - 1] == usable[:, row]).all():
        start -= 1
    return np.arange(start, row + 1)


def choose_floor_view(corners: np.ndarray, usable: np.ndarray, static_px: float = 1.0) -> int:
    """Row of the floor view: the last still frame among the still ones seen by the most cameras.

    ``corners`` (C, F, N, 2), ``usable`` (C, F) views with a board pose. A frame is
    still when the corners moved less than ``static_px`` (median) since the
    previous sampled frame in every camera that sees both. Without any still
    frame, the last frame seen by the most cameras.
    """
    ncams = usable.sum(axis=0)
    still = static_mask(corners, usable, static_px)
    pool = still if still.any() else ncams > 0
    if not pool.any():
        raise ValueError("no frame shows the board in any camera")
    best = pool & (ncams == ncams[pool].max())
    return int(np.flatnonzero(best)[-1])


def world_from_floor_board(R_board: np.ndarray, t_board: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R, t) mapping current-frame points to the floor world frame, given the floor board's pose (board -> current)."""
    R_bc, t_bc = invert(R_board, t_board)
    return compose(BOARD_TO_WORLD, np.zeros(3), R_bc, t_bc)


def to_world(R_cam: np.ndarray, t_cam: np.ndarray, R_w: np.ndarray, t_w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Re-express world -> camera poses (C, 3, 3), (C, 3) in the new world frame given current -> new (R_w, t_w)."""
    R_inv, t_inv = invert(R_w, t_w)
    return compose(R_cam, t_cam, R_inv[None], t_inv[None])
