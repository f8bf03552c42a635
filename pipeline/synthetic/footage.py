"""Synthetic footage: a procedural athlete filmed by a calibrated rig, with exact ground truth.

``render_session(xyz, cameras, out_dir)`` renders the figure of
``pipeline.synthetic.figure`` following landmarks ``xyz`` (T, 33, 3) through every
camera's full OpenCV model (``pipeline.synthetic.gl``) and writes, atomically::

    out_dir/{camera}.mp4          one video per camera (mp4v)
    out_dir/ground_truth.npz      xyz (T,33,3) float32 world metres, t (T,), fps
                                  (+ spine (T,K,3), spine_sigma (K,) and any per-frame truth given); with
                                  other people also others_xyz (N,T,33,3), NaN where one is not in the room
    out_dir/calibration.toml      the cameras (anipose TOML, calibration.io)

``others``: more people in the room (``pipeline.synthetic.people.Bystander``:
landmarks and clothes), for instance a coach standing by and someone walking
past; each is drawn in the frames where their landmarks are finite.

MediaPipe detects the figure; its hip landmark sits 3-4 cm below the true hip
joint centre, so comparisons with the ground truth should allow for that.

    python -m pipeline.synthetic.footage POSE.npz CALIBRATION.toml OUT_DIR [--fps 30]
"""
from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
from tqdm import tqdm

from pipeline.common.atomic import atomic_path, write_npz
from calibration.camera import Camera, Rig

from pipeline.synthetic.figure import MotionInputError, Palette, Physique, body_primitives, validate_landmarks

GROUND_TRUTH = "ground_truth.npz"
CALIBRATION = "calibration.toml"


class VideoWriteError(OSError):
    """A camera's video could not be opened for writing."""


def render_session(xyz: np.ndarray, cameras: Sequence[Camera], out_dir: str | Path, fps: float = 30.0,
                   size: tuple[int, int] | None = None, progress: bool = True, *, room: bool = True,
                   seed: int = 0, spine: np.ndarray | None = None, spine_sigma: np.ndarray | None = None,
                   palette: Palette | None = None, physique: Physique | None = None, scene=None,
                   truth: dict[str, np.ndarray] | None = None, samples: int = 4, others: Sequence = ()
                   ) -> dict[str, Path]:
    """Render one ``{camera}.mp4`` per camera of the figure following ``xyz``; returns name -> video path.

    ``size`` rescales every camera to that image size (width, height); the
    ground truth written beside the videos holds the cameras actually used.
    ``spine``/``spine_sigma`` (pipeline.synthetic.athlete's) bend the figure's
    trunk; ``palette``, ``physique`` and ``scene`` (pipeline.synthetic.gl.Scene)
    vary its look and the room's; ``truth`` (per-frame arrays, e.g. the
    simulation's ``truth``) is stored in ground_truth.npz as ``truth_{key}``.
    ``samples``: multisampling (0 renders 2-4x faster on a software GL, with jaggier edges).
    ``others``: ``Bystander``-like objects (``xyz`` (T, 33, 3) NaN where
    absent, ``palette``) drawn too, each in their own clothes.
    """
    from calibration.io import write_calibration

    from pipeline.synthetic.gl import Renderer

    xyz = validate_landmarks(xyz)
    if not cameras:
        raise ValueError("render_session needs at least one camera")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    cams = Rig(cameras).resized(size) if size is not None else Rig(cameras)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ellipsoids, cylinders = body_primitives(xyz, palette or Palette(), spine=spine, spine_sigma=spine_sigma,
                                            physique=physique or Physique())
    extra = [_figure_frames(o.xyz, o.palette, len(xyz)) for o in others]
    paths = {c.name: out / f"{c.name}.mp4" for c in cams}
    scene_kw = {} if scene is None else {"scene": scene}
    with Renderer(cams, room=room, seed=seed, samples=samples, **scene_kw) as renderer, contextlib.ExitStack() as stack:
        writers = []
        for cam in cams:
            tmp = stack.enter_context(atomic_path(paths[cam.name]))
            writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), cam.size)
            if not writer.isOpened():
                raise VideoWriteError(f"{paths[cam.name]}: OpenCV cannot open an mp4v video writer for camera "
                                      f"{cam.name} ({cam.size[0]}x{cam.size[1]}); check the folder is writable")
            stack.callback(writer.release)
            writers.append(writer)
        for t in tqdm(range(len(xyz)), desc="render", unit="frame", disable=not progress):
            ell = np.concatenate([ellipsoids[t]] + [e[t] for e, _ in extra if t in e])
            cyl = np.concatenate([cylinders[t]] + [c[t] for _, c in extra if t in c])
            for writer, image in zip(writers, renderer.render(ell, cyl)):
                writer.write(image)
    more = {} if spine is None else {"spine": np.asarray(spine, np.float32),
                                     "spine_sigma": np.asarray(spine_sigma if spine_sigma is not None
                                                               else np.linspace(0, 1, np.shape(spine)[1]), np.float32)}
    more.update({f"truth_{k}": np.asarray(v) for k, v in (truth or {}).items()
                 if np.ndim(v) >= 1 and len(v) == len(xyz) and np.asarray(v).dtype != object})
    if len(others):
        more["others_xyz"] = np.stack([np.asarray(o.xyz, np.float32) for o in others])
    write_npz(out / GROUND_TRUTH, xyz=xyz.astype(np.float32), t=(np.arange(len(xyz)) / fps).astype(np.float32),
              fps=np.float32(fps), **more)
    write_calibration(out / CALIBRATION, cams, {"source": "pipeline.synthetic.footage (exact synthetic cameras)"})
    return paths


def _figure_frames(xyz: np.ndarray, palette: Palette, n_frames: int) -> tuple[dict, dict]:
    """One more person's primitives by frame (only the frames where all their landmarks are finite)."""
    xyz = np.asarray(xyz, np.float64)
    if xyz.ndim != 3 or len(xyz) != n_frames:
        raise MotionInputError(f"another person's landmarks must be ({n_frames}, 33, 3) like the athlete's, got {xyz.shape}")
    present = np.flatnonzero(np.isfinite(xyz).all(axis=(1, 2)))
    if not len(present):
        return {}, {}
    ell, cyl = body_primitives(xyz[present], palette)
    return dict(zip(present.tolist(), ell)), dict(zip(present.tolist(), cyl))


def load_others(out_dir: str | Path) -> np.ndarray:
    """(N, T, 33, 3) the other people of a rendered session (NaN where absent); (0, T, 33, 3) if none."""
    with np.load(Path(out_dir) / GROUND_TRUTH) as data:
        return data["others_xyz"] if "others_xyz" in data else np.zeros((0,) + data["xyz"].shape, np.float32)


def load_truth_motion(out_dir: str | Path) -> tuple[np.ndarray, float]:
    """xyz (T,33,3) and fps of a rendered session's ground truth."""
    path = Path(out_dir) / GROUND_TRUTH
    if not path.exists():
        raise FileNotFoundError(f"{path}: no ground truth here; render the session with pipeline.synthetic.footage first")
    with np.load(path) as data:
        return data["xyz"], float(data["fps"])


def load_truth_arrays(out_dir: str | Path) -> dict[str, np.ndarray]:
    """Every array of a rendered session's ground_truth.npz (xyz, t, fps, spine, truth_* ...)."""
    path = Path(out_dir) / GROUND_TRUTH
    if not path.exists():
        raise FileNotFoundError(f"{path}: no ground truth here; render the session with pipeline.synthetic.footage first")
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def load_ground_truth(out_dir: str | Path) -> tuple[np.ndarray, Rig, float]:
    """xyz (T,33,3), cameras and fps of a rendered session."""
    from calibration.io import read_calibration

    xyz, fps = load_truth_motion(out_dir)
    return xyz, read_calibration(Path(out_dir) / CALIBRATION), fps


def main(argv: Sequence[str] | None = None) -> None:
    from calibration.io import read_calibration

    ap = argparse.ArgumentParser(prog="python -m pipeline.synthetic.footage", description=__doc__.split("\n")[0])
    ap.add_argument("pose", type=Path, help="npz with xyz (T,33,3) world metres (and optionally fps)")
    ap.add_argument("calibration", type=Path, help="calibration file of the cameras to film with")
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--fps", type=float, default=None, help="frame rate (default: the pose file's, else 30)")
    args = ap.parse_args(argv)
    if not args.pose.exists():
        raise FileNotFoundError(f"{args.pose}: pose file not found")
    with np.load(args.pose) as data:
        if "xyz" not in data:
            raise MotionInputError(f"{args.pose}: no 'xyz' array (T,33,3) in this file")
        xyz = data["xyz"]
        fps = args.fps or (float(data["fps"]) if "fps" in data else 30.0)
    paths = render_session(xyz, read_calibration(args.calibration), args.out_dir, fps=fps)
    for name, path in paths.items():
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
