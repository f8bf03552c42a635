"""Room calibration from board detections: intrinsics, extrinsics, bundle adjustment, floor frame.

``calibrate_room`` is what the CLI (``hingecap calibrate``) and the Snakemake rule
``calibrate`` call; ``calibrate_detections`` is the same minus video reading, so
tests and benchmarks can feed it detections directly.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from .board import BoardSpec
from .bundle import BundleResult, Observations, bundle_adjust
from .camera import Camera
from calibration.board_detection import Detections, detect_room
from .errors import CalibrationError
from .extrinsics import chain_cameras, initial_board_poses, view_poses
from .geometry import matrix_to_rvec
from .intrinsics import calibrate_intrinsics, usable_views
from .io import read_calibration_with_metadata, write_calibration
from .world import choose_floor_view, static_run, to_world, world_from_floor_board

log = logging.getLogger(__name__)


@dataclass
class CalibrationResult:
    cameras: list[Camera]
    metadata: dict
    bundle: BundleResult
    floor_frame: int  # video frame index of the floor view
    views: np.ndarray  # rows of the detections used in the bundle adjustment


def _bundle_views(ok: np.ndarray, floor_row: int, per_camera_single: int, max_views: int) -> np.ndarray:
    """Rows to adjust: every multi-camera view (evenly thinned to ``max_views``), a few single-camera views per camera, the floor view."""
    ncams = ok.sum(axis=0)
    multi = np.flatnonzero(ncams >= 2)
    if len(multi) > max_views:
        multi = multi[np.linspace(0, len(multi) - 1, max_views).round().astype(int)]
    singles = []
    for c in range(ok.shape[0]):  # loop over cameras, not frames
        only = np.flatnonzero(ok[c] & (ncams == 1))
        if len(only) > per_camera_single:
            only = only[np.linspace(0, len(only) - 1, per_camera_single).round().astype(int)]
        singles.append(only)
    return np.unique(np.concatenate([multi, *singles, [floor_row]]))


def calibrate_detections(det: Detections, *, floor_frame: int | None = None, refine_intrinsics: bool = True,
                         fix_k3: bool = True, min_views: int = 4, max_intrinsic_views: int = 40,
                         max_bundle_views: int = 200, single_views_per_camera: int = 40) -> CalibrationResult:
    board = det.board
    names = det.cameras
    C = len(names)
    # 1. intrinsics, each camera on its own
    intr = [calibrate_intrinsics(det.corners[c], board, det.sizes[c], camera=names[c], min_views=min_views,
                                 max_views=max_intrinsic_views, fix_k3=fix_k3) for c in range(C)]
    Ks = np.stack([i.K for i in intr])
    dists = np.stack([i.dist for i in intr])
    for name, i in zip(names, intr):
        log.info("intrinsics %s: f=%.1f px, RMS %.3f px over %d views", name, i.K[0, 0], i.rms, i.views)
    # 2. single-view board poses and the chained camera poses
    usable = usable_views(det.corners, board)
    poses = view_poses(det.corners, board, Ks, dists, usable)
    R_cam, t_cam = chain_cameras(names, poses) if C > 1 else (np.eye(3)[None], np.zeros((1, 3)))
    # 3. floor view
    if floor_frame is None:
        floor_row = choose_floor_view(det.corners, poses.ok)
    else:
        hits = np.flatnonzero(det.frames == int(floor_frame))
        if not len(hits):
            raise CalibrationError(f"floor_frame {floor_frame} is not among the detected frames (every {det.frames[1] - det.frames[0] if len(det.frames) > 1 else 1}th "
                                   f"frame of {int(det.frames[-1]) + 1}); pick one of those or detect with step=1")
        floor_row = int(hits[0])
        if not poses.ok[:, floor_row].any():
            raise CalibrationError(f"floor_frame {floor_frame}: no camera sees the whole board in that frame; "
                                   "name a frame where the board lies on the floor in view of the cameras")
    # a board lying still for several frames: average its corners, the floor view sets the world's "up"
    run = static_run(det.corners, poses.ok, floor_row)
    corners = det.corners
    if len(run) > 1:
        corners = corners.copy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # corners unseen in the whole run stay NaN
            corners[:, floor_row] = np.nanmean(det.corners[:, run], axis=1)
    # 4. bundle adjustment over the views that tie cameras together
    views = _bundle_views(poses.ok, floor_row, single_views_per_camera if refine_intrinsics else 0, max_bundle_views)
    R_b, t_b = initial_board_poses(poses, R_cam, t_cam, views)
    obs = Observations.from_corners(corners, views, poses.ok[:, views])
    ba = bundle_adjust(obs, board.object_points(), R_cam, t_cam, Ks, dists, R_b, t_b,
                       refine_intrinsics=refine_intrinsics, fix_k3=fix_k3)
    # 5. floor-aligned world frame
    floor_idx = int(np.flatnonzero(views == floor_row)[0])
    R_w, t_w = world_from_floor_board(ba.R_board[floor_idx], ba.t_board[floor_idx])
    R_final, t_final = to_world(ba.R_cam, ba.t_cam, R_w, t_w)
    rvecs = matrix_to_rvec(R_final)
    cameras = [Camera(names[c], det.sizes[c], ba.K[c], ba.dist[c], rvecs[c], t_final[c]) for c in range(C)]
    views_per_cam = np.bincount(obs.cam, minlength=C)  # observations (corners) per camera
    n_views = poses.ok[:, views].sum(axis=1)
    metadata = {
        "adjusted": True,
        "error": float(np.sqrt(np.mean(np.sum(ba.residuals ** 2, axis=1)))),
        "board": board.to_dict(),
        "rms_px": {n: round(float(r), 4) for n, r in zip(names, ba.rms_per_camera)},
        "intrinsics_rms_px": {n: round(i.rms, 4) for n, i in zip(names, intr)},
        "views": {n: int(v) for n, v in zip(names, n_views)},
        "corners": {n: int(v) for n, v in zip(names, views_per_cam)},
        "floor_frame": int(det.frames[floor_row]),
        "floor_frames_averaged": int(len(run)),
        "floor_cameras": [names[c] for c in np.flatnonzero(poses.ok[:, floor_row])],
        "frames_sampled": int(len(det.frames)),
        "refined_intrinsics": bool(refine_intrinsics),
    }
    if det.sources:
        metadata["sources"] = {n: str(s) for n, s in zip(names, det.sources)}
    return CalibrationResult(cameras, metadata, ba, int(det.frames[floor_row]), views)


def calibrate_room(room_dir: str | Path | Mapping[str, str | Path], board: BoardSpec, output: str | Path | None = None, *,
                   floor_frame: int | None = None, step: int | None = None, length_check: bool = True,
                   refine_intrinsics: bool = True, progress: bool = True) -> CalibrationResult:
    """Detect the board in every camera of ``room_dir``, calibrate, and write ``output`` (atomically)."""
    det = detect_room(room_dir, board, step=step, length_check=length_check, progress=progress)
    result = calibrate_detections(det, floor_frame=floor_frame, refine_intrinsics=refine_intrinsics)
    if output is not None:
        write_calibration(output, result.cameras, result.metadata)
    return result


def convert_calibration(source: str | Path, output: str | Path) -> list[Camera]:
    """Rewrite an anipose/Pose2Sim TOML or Qualisys .qca.txt calibration as hingecap's TOML."""
    cameras, meta = read_calibration_with_metadata(source)
    meta = {k: v for k, v in meta.items() if isinstance(v, (str, int, float, bool, list, dict))}
    meta["converted_from"] = str(source)
    write_calibration(output, cameras, meta)
    return cameras


def calibrate_from_config(room: Mapping, output: str | Path, *, progress: bool = False) -> list[Camera]:
    """The Snakemake rule's entry: a room's config block -> ``output`` (converted file or fresh calibration)."""
    if room.get("calibration"):
        cameras = convert_calibration(room["calibration"], output)
        log.info("converted %s (%d cameras)", room["calibration"], len(cameras))
        return cameras
    result = calibrate_room(room["calibration_videos"], BoardSpec.from_config(room["board"]), output,
                            floor_frame=room.get("floor_frame"), progress=progress)
    for name, rms in result.metadata["rms_px"].items():
        log.info("%s: RMS %.3f px after bundle adjustment", name, rms)
    log.info("floor frame %s; wrote %s", result.floor_frame, output)
    return result.cameras
