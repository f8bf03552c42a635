"""A rendered calibration room: a ChArUco board filmed by a virtual rig.

The board is waved in front of each camera (intrinsics), held between
neighbouring cameras so pairs see it at once (extrinsics), then laid on the floor
with its origin at the world origin where all cameras see it (world frame).
Each camera's frames are rendered exactly through its distorted model: every
output pixel is mapped back to the undistorted image plane (a map computed once
per camera), then through the board-plane homography into the board's image,
sampled with ``cv2.remap`` and supersampled against aliasing.

    python -m pipeline.synthetic.room OUT_DIR [--cameras 4] [--seed 0]

writes ``OUT_DIR/<camera>.avi`` (MJPG) per camera, ``OUT_DIR/board.yaml`` and the
ground truth ``OUT_DIR/ground_truth.json`` (cameras, board poses, floor frames).
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import yaml
from tqdm import tqdm

from pipeline.common.atomic import atomic_path, write_json, write_text
from calibration.board import BoardSpec
from calibration.camera import Camera
from pipeline.synthetic.rig import virtual_rig

# A board large enough to be read on the floor from 3-4 m at 640x480.
ROOM_BOARD = BoardSpec("charuco", 5, 7, 0.16, 0.12, "DICT_4X4_50")
FLOOR_R = np.diag([1.0, -1.0, -1.0])  # board -> world for a board lying face up at the origin


@dataclass
class BoardPoses:
    R: np.ndarray  # (F, 3, 3) board -> world
    t: np.ndarray  # (F, 3) board origin in world, metres
    floor_frames: np.ndarray  # indices of the frames where the board lies on the floor


@dataclass
class DistortionMaps:
    """Where each (sub)pixel of a camera's distorted image lies on an undistorted canvas."""
    supersample: int
    origin: np.ndarray  # undistorted pixel at the canvas's first pixel centre
    canvas_size: tuple[int, int]
    map_x: np.ndarray  # (H*s, W*s) float32 canvas column of each output subpixel
    map_y: np.ndarray


def distortion_maps(camera: Camera, supersample: int = 1) -> DistortionMaps:
    """Computed once per camera: exact inverse of the distortion by iterative undistortion."""
    w, h = camera.size
    s = supersample
    u = (np.arange(w * s) + 0.5) / s - 0.5
    v = (np.arange(h * s) + 0.5) / s - 0.5
    uu, vv = np.meshgrid(u, v)
    pts = np.stack([uu.ravel(), vv.ravel()], axis=1)[:, None, :]
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-9)
    grid = cv2.undistortPointsIter(pts, camera.K, camera.dist, None, camera.K, criteria).reshape(-1, 2)
    lo = np.floor(grid.min(axis=0)) - 2
    hi = np.ceil(grid.max(axis=0)) + 2
    canvas_size = (int(np.ceil((hi[0] - lo[0]) * s)), int(np.ceil((hi[1] - lo[1]) * s)))
    # subpixel centres of an s-times finer canvas: undistorted q sits at (q - lo) * s + (s - 1) / 2
    maps = ((grid - lo) * s + (s - 1) / 2).astype(np.float32).reshape(h * s, w * s, 2)
    return DistortionMaps(s, lo, canvas_size, np.ascontiguousarray(maps[..., 0]), np.ascontiguousarray(maps[..., 1]))


def render_frame(board_img: np.ndarray, px_per_m: float, camera: Camera, maps: DistortionMaps,
                 R_wb: np.ndarray, t_wb: np.ndarray, background: int = 128) -> np.ndarray:
    """Grey image (supersampled) of the board at pose (R_wb, t_wb) seen by ``camera``.

    The board is first warped onto the undistorted image plane (a canvas), then the
    precomputed maps pull every distorted pixel from that canvas.
    """
    R_cb = camera.R @ R_wb
    t_cb = camera.R @ t_wb + camera.tvec
    bh, bw = board_img.shape
    outline = np.array([[0, 0, 0], [bw, 0, 0], [bw, bh, 0], [0, bh, 0]]) / px_per_m
    depth = outline @ R_cb[2] + t_cb[2]
    facing = (R_cb[:, 2] @ t_cb) > 0  # the printed face looks toward the board's -z
    if (depth <= 0.05).any() or not facing:
        # behind the camera or seen from the back: nothing readable in the image
        return np.full(maps.map_x.shape, background, np.uint8)
    s, lo = maps.supersample, maps.origin
    board_to_m = np.array([[1 / px_per_m, 0, 0.5 / px_per_m], [0, 1 / px_per_m, 0.5 / px_per_m], [0, 0, 1]])
    m_to_und = camera.K @ np.column_stack([R_cb[:, 0], R_cb[:, 1], t_cb])
    und_to_canvas = np.array([[s, 0, -lo[0] * s + (s - 1) / 2], [0, s, -lo[1] * s + (s - 1) / 2], [0, 0, 1]])
    H = und_to_canvas @ m_to_und @ board_to_m
    canvas = cv2.warpPerspective(board_img, H, maps.canvas_size, flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=background)
    return cv2.remap(canvas, maps.map_x, maps.map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=background)


def _facing_pose(center: np.ndarray, normal: np.ndarray, board: BoardSpec, roll: float) -> tuple[np.ndarray, np.ndarray]:
    """Board pose with its centre at ``center``, printed face toward ``normal``, rolled by ``roll`` rad."""
    z = -normal / np.linalg.norm(normal)
    down = np.array([0.0, 0.0, -1.0])
    y = down - z * (down @ z)
    y /= np.linalg.norm(y)
    x = np.cross(y, z)
    R = np.column_stack([x, y, z])
    c, s = np.cos(roll), np.sin(roll)
    R = R @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    w, h = board.size_m
    return R, center - R @ np.array([w / 2, h / 2, 0.0])


def _tilt(v: np.ndarray, rng: np.random.Generator, max_deg: float, min_deg: float = 0.0) -> np.ndarray:
    """``v`` turned by between ``min_deg`` and ``max_deg`` about a random axis perpendicular to it."""
    axis = rng.normal(size=3)
    axis -= v * (axis @ v) / (v @ v)
    axis /= np.linalg.norm(axis)
    return cv2.Rodrigues(axis * np.deg2rad(rng.uniform(min_deg, max_deg)))[0] @ v


def board_trajectory(cameras: Sequence[Camera], board: BoardSpec, *, per_camera: int = 8, per_pair: int = 8,
                     floor: int = 6, seed: int = 0) -> BoardPoses:
    """Board poses: waved before each camera, held between neighbours, then lying on the floor."""
    rng = np.random.default_rng(seed)
    Rs, ts = [], []
    centers = np.array([c.center for c in cameras])
    for cam in cameras:
        fwd = cam.R[2]
        for k in range(per_camera):
            d = rng.uniform(1.9, 2.8)
            lateral = cam.R[0] * rng.uniform(-0.35, 0.35) * d + cam.R[1] * rng.uniform(-0.25, 0.25) * d
            center = cam.center + fwd * d + lateral
            normal = _tilt(cam.center - center, rng, 50.0, 20.0)  # tilted views pin focal length and principal point
            R, t = _facing_pose(center, normal, board, rng.uniform(-0.4, 0.4))
            Rs.append(R), ts.append(t)
    order = np.argsort(np.arctan2(centers[:, 1], centers[:, 0]))
    pairs = [(order[i], order[(i + 1) % len(order)]) for i in range(len(order))] if len(order) > 2 else [(0, 1)]
    for a, b in pairs[: len(cameras)]:
        for k in range(per_pair):
            mid = (centers[a, :2] + centers[b, :2]) / 2
            center = np.array([*(mid * rng.uniform(0.3, 0.6)), rng.uniform(0.8, 1.4)]) + np.r_[rng.normal(0, 0.15, 2), 0]
            to_a = centers[a] - center
            to_b = centers[b] - center
            normal = _tilt(to_a / np.linalg.norm(to_a) + to_b / np.linalg.norm(to_b), rng, 10.0)
            R, t = _facing_pose(center, normal, board, rng.uniform(-0.3, 0.3))
            Rs.append(R), ts.append(t)
    first_floor = len(Rs)
    for _ in range(floor):
        Rs.append(FLOOR_R.copy()), ts.append(np.zeros(3))
    return BoardPoses(np.array(Rs), np.array(ts), np.arange(first_floor, len(Rs)))


def render_room(out_dir: str | Path, *, n_cameras: int = 4, board: BoardSpec = ROOM_BOARD, size: tuple[int, int] = (640, 480),
                per_camera: int = 8, per_pair: int = 8, floor: int = 6, blur_sigma: float = 0.5, noise_std: float = 2.0,
                supersample: int = 2, fps: float = 10.0, seed: int = 0, cameras: Sequence[Camera] | None = None,
                progress: bool = True) -> dict:
    """Render the room into ``out_dir``; returns the ground truth that is also written beside the videos."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cams = list(cameras) if cameras is not None else virtual_rig(n_cameras, size=size, seed=seed)
    poses = board_trajectory(cams, board, per_camera=per_camera, per_pair=per_pair, floor=floor, seed=seed + 1)
    px_per_square = 80
    board_img = board.image(px_per_square)
    px_per_m = px_per_square / board.square_length
    rng = np.random.default_rng(seed + 2)
    for cam in tqdm(cams, desc="render room", unit="camera", disable=not progress):
        maps = distortion_maps(cam, supersample)
        with atomic_path(out / f"{cam.name}.avi") as tmp:
            writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"MJPG"), fps, cam.size)
            writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 98)
            for R, t in zip(poses.R, poses.t):
                img = render_frame(board_img, px_per_m, cam, maps, R, t)
                if supersample > 1:
                    img = cv2.resize(img, cam.size, interpolation=cv2.INTER_AREA)
                if blur_sigma > 0:
                    img = cv2.GaussianBlur(img, (0, 0), blur_sigma)
                if noise_std > 0:
                    img = np.clip(img + rng.normal(0, noise_std, img.shape), 0, 255).astype(np.uint8)
                writer.write(cv2.cvtColor(img, cv2.COLOR_GRAY2BGR))
            writer.release()
    truth = {
        "board": board.to_dict(),
        "fps": fps,
        "cameras": [{"name": c.name, "size": list(c.size), "K": c.K, "dist": c.dist, "rvec": c.rvec, "tvec": c.tvec} for c in cams],
        "board_R": poses.R, "board_t": poses.t,
        "floor_frames": poses.floor_frames,
        "floor_frame": int(poses.floor_frames[-1]) if len(poses.floor_frames) else None,
    }
    write_text(out / "board.yaml", yaml.safe_dump({"board": board.to_dict()}, sort_keys=False))
    write_json(out / "ground_truth.json", truth)
    return truth


def load_truth(room_dir: str | Path) -> tuple[list[Camera], dict]:
    import json

    truth = json.loads((Path(room_dir) / "ground_truth.json").read_text())
    cams = [Camera(c["name"], c["size"], c["K"], c["dist"], c["rvec"], c["tvec"]) for c in truth["cameras"]]
    return cams, truth


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Render a virtual calibration room (one video per camera + ground truth).")
    ap.add_argument("out_dir")
    ap.add_argument("--cameras", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-camera", type=int, default=8)
    ap.add_argument("--per-pair", type=int, default=8)
    args = ap.parse_args(argv)
    render_room(args.out_dir, n_cameras=args.cameras, seed=args.seed, per_camera=args.per_camera, per_pair=args.per_pair)
    print(f"rendered room in {args.out_dir}; calibrate it with: hingecap calibrate {args.out_dir} --board {args.out_dir}/board.yaml")


if __name__ == "__main__":
    main()
