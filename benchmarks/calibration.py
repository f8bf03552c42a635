"""Room calibration: hingecap vs aniposelib's ``CameraGroup.calibrate_rows`` on the same detections.

Renders the virtual 4-camera room (640x480), detects the ChArUco board once, adds
0.5 px (RMS, 2D) noise to every corner, then calibrates with both. Camera errors
are measured after the best rigid alignment of each solution's camera centres to
the truth (aniposelib has no floor frame); ours is also reported in its own
floor-aligned world frame.

    .venv/bin/python benchmarks/calibration.py [--keep DIR]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._report import write_section  # noqa: E402
from calibration.board import BoardSpec  # noqa: E402
from calibration.calibrate import calibrate_detections  # noqa: E402
from calibration.camera import Camera  # noqa: E402
from calibration.board_detection import detect_room  # noqa: E402
from pipeline.synthetic.room import load_truth, render_room  # noqa: E402

NOISE_PX = 0.5


def rigid_align(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R, t minimising |R src + t - dst| (Kabsch)."""
    ms, md = src.mean(0), dst.mean(0)
    U, _, Vt = np.linalg.svd((src - ms).T @ (dst - md))
    D = np.diag([1, 1, np.sign(np.linalg.det(Vt.T @ U.T))])
    R = Vt.T @ D @ U.T
    return R, md - R @ ms


def camera_errors(est: list[Camera], truth: list[Camera], align: bool) -> dict:
    centres = np.array([c.center for c in est])
    R_a, t_a = rigid_align(centres, np.array([c.center for c in truth])) if align else (np.eye(3), np.zeros(3))
    pos, rot, foc = [], [], []
    for e, t in zip(est, truth):
        pos.append(1000 * np.linalg.norm(R_a @ e.center + t_a - t.center))
        dR = (e.R @ R_a.T) @ t.R.T  # estimated world->camera, re-expressed in the aligned frame
        rot.append(np.degrees(np.arccos(np.clip((np.trace(dR) - 1) / 2, -1, 1))))
        foc.append(100 * abs(e.K[0, 0] / t.K[0, 0] - 1))
    return {"pos_mm": np.array(pos), "rot_deg": np.array(rot), "focal_pct": np.array(foc)}


def anipose_rows(det) -> list[list[dict]]:
    rows = []
    for c in range(len(det.cameras)):
        cam_rows = []
        for f in np.flatnonzero(det.counts()[c] > 0):  # aniposelib's input format is per-frame dicts
            ids = np.flatnonzero(np.isfinite(det.corners[c, f, :, 0]))
            cam_rows.append({"framenum": int(det.frames[f]), "corners": det.corners[c, f, ids].reshape(-1, 1, 2).astype(np.float32),
                             "ids": ids.reshape(-1, 1).astype(np.int32)})
        rows.append(cam_rows)
    return rows


def run_anipose(det) -> tuple[list[Camera], float, float]:
    from aniposelib.boards import CharucoBoard
    from aniposelib.cameras import Camera as ACamera
    from aniposelib.cameras import CameraGroup

    b = det.board
    bits, size = int(b.dictionary.split("_")[1][0]), int(b.dictionary.split("_")[2])
    board = CharucoBoard(b.squares_x, b.squares_y, b.square_length, b.marker_length, marker_bits=bits, dict_size=size)
    group = CameraGroup([ACamera(name=n, size=s) for n, s in zip(det.cameras, det.sizes)])
    rows = anipose_rows(det)
    ba_seconds = []
    inner = group.bundle_adjust_iter

    def timed_bundle_adjust(*args, **kwargs):  # time aniposelib's bundle adjustment on its own too
        t = time.perf_counter()
        out = inner(*args, **kwargs)
        ba_seconds.append(time.perf_counter() - t)
        return out

    group.bundle_adjust_iter = timed_bundle_adjust
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        group.calibrate_rows(rows, board, verbose=False)
    seconds = time.perf_counter() - t0
    cams = [Camera(c.get_name(), c.get_size(), c.get_camera_matrix(), c.get_distortions(), c.get_rotation(), c.get_translation())
            for c in group.cameras]
    return cams, seconds, sum(ba_seconds)


def fmt(errs: dict) -> str:
    return (f"{errs['pos_mm'].mean():.1f} / {errs['pos_mm'].max():.1f} | {errs['rot_deg'].mean():.3f} / {errs['rot_deg'].max():.3f} | "
            f"{errs['focal_pct'].mean():.3f} / {errs['focal_pct'].max():.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", help="render the room into this folder (kept) instead of a temporary one")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        room = Path(args.keep or tmp)
        render_room(room, n_cameras=4, per_camera=30, per_pair=25, seed=0, progress=False)
        truth, truth_json = load_truth(room)
        det = detect_room(room, BoardSpec.from_config(truth_json["board"]), progress=False)
    rng = np.random.default_rng(42)
    det.corners = det.corners + rng.normal(0, NOISE_PX / np.sqrt(2), det.corners.shape)

    t0 = time.perf_counter()
    ours = calibrate_detections(det)
    ours_total = time.perf_counter() - t0
    ani_cams, ani_total, ani_ba = run_anipose(det)

    e_ours_floor = camera_errors(ours.cameras, truth, align=False)
    e_ours = camera_errors(ours.cameras, truth, align=True)
    e_ani = camera_errors(ani_cams, truth, align=True)
    n_obs = len(ours.bundle.residuals)
    md = [
        "## Room calibration (`benchmarks/calibration.py`)",
        "",
        f"Virtual room: 4 cameras 640x480 at 3-4 m, ChArUco 5x7 (0.16 m squares), {len(det.frames)} frames, "
        f"{NOISE_PX} px RMS noise added to every detected corner; both tools get the same detections.",
        "Errors: mean / max over cameras, after the best rigid alignment of the camera centres to the truth.",
        "",
        "| tool | total time (s) | bundle adjustment (s) | position error (mm) | rotation error (deg) | focal error (%) |",
        "|---|---|---|---|---|---|",
        f"| hingecap `calibrate_detections` | {ours_total:.1f} | {ours.bundle.seconds:.1f} ({n_obs} corners, {ours.bundle.nfev} evaluations) | {fmt(e_ours)} |",
        f"| aniposelib 0.8 `calibrate_rows` | {ani_total:.1f} | {ani_ba:.1f} (`bundle_adjust_iter`) | {fmt(e_ani)} |",
        f"| hingecap, own floor frame (no alignment) | | | {fmt(e_ours_floor)} |",
        "",
        f"Speed: bundle adjustment {ani_ba / ours.bundle.seconds:.1f}x faster than aniposelib's, whole calibration "
        f"{ani_total / ours_total:.1f}x faster; position error ratio (ours/aniposelib, mean) "
        f"{e_ours['pos_mm'].mean() / e_ani['pos_mm'].mean():.2f}, rotation {e_ours['rot_deg'].mean() / e_ani['rot_deg'].mean():.2f}, "
        f"focal {e_ours['focal_pct'].mean() / max(e_ani['focal_pct'].mean(), 1e-9):.2f}.",
    ]
    text = "\n".join(md)
    print(text)
    write_section("calibration", text)


if __name__ == "__main__":
    main()
