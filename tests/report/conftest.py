"""A small analysed session with real rendered footage, for the report's video panel and pictures."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

FPS = 30.0
LATE = 3  # cam1 starts this many frames after cam0: its clock is offset by LATE / FPS


@dataclass
class Filmed:
    dir: Path                    # the session's results folder (pose2d/, sync.json, pose3d.npz, analysis)
    videos: dict[str, Path]      # camera -> rendered mp4 (mp4v, which Chromium cannot play), all in one folder
    calibration: Path            # results/rooms/room/calibration.toml, as the workflow places it
    rig: object                  # calibration.camera.Rig, 320x240
    offsets: dict[str, float]    # camera -> sync.json offset_s
    xyz: np.ndarray              # the truth on the session's timeline (T, 33, 3)


@pytest.fixture(scope="session")
def filmed(tmp_path_factory, egl) -> Filmed:
    """Two cameras (320x240) film two quick deadlifts, the second with locked knees; cam1 starts late.

    The athlete faces 45 degrees: cam0 of ``virtual_rig`` stands in front of
    them, cam1 to their side. pose2d is the truth projected with 1 px noise,
    sync.json holds the true offsets, pose3d is the truth on the common
    timeline, then the real analysis.
    """
    from calibration.io import write_calibration
    from pipeline.analyze.stage import analyze_session
    from pipeline.contracts.pose2d import write_pose2d
    from pipeline.contracts.pose3d import write_pose3d
    from pipeline.contracts.sync import write_sync
    from pipeline.synthetic.athlete import simulate
    from pipeline.synthetic.footage import render_session
    from pipeline.synthetic.rig import virtual_rig

    root = tmp_path_factory.mktemp("filmed")
    results = root / "results"
    sim = simulate("deadlift", 2, faults={2: ["locked_knees"]}, fps=FPS, seed=3, walk=False, yaw_deg=45, tempo=0.75,
                   stand_s=0.8)
    rig = virtual_rig(4, seed=0).resized((320, 240))[:2]
    starts = {"cam0": 0, "cam1": LATE}
    videos = {}
    rng = np.random.default_rng(0)
    d = results / "sessions" / "filmed"
    (root / "videos").mkdir()
    for cam in rig:
        seen = sim.xyz[starts[cam.name]:]
        rendered = render_session(seen, [cam], root / f"render_{cam.name}", fps=FPS, progress=False)[cam.name]
        videos[cam.name] = rendered.rename(root / "videos" / rendered.name)
        xy = cam.project(seen) + rng.normal(0, 1.0, (len(seen), 33, 2))
        write_pose2d(d / "pose2d" / f"{cam.name}.npz", xy, np.full(xy.shape[:2], 0.9), np.arange(len(seen)) / FPS,
                     fps=FPS, size=cam.size, video=str(videos[cam.name]))
    timeline = np.arange(LATE, len(sim.xyz)) / FPS
    offsets = {c: starts[c] / FPS for c in starts}
    write_sync(d / "sync.json", method="xcorr", timeline=timeline,
               cameras={c: {"offset_s": offsets[c], "drift": 0.0, "confidence": 1.0} for c in starts})
    xyz = sim.xyz[LATE:]
    T = len(xyz)
    write_pose3d(d / "pose3d.npz", xyz, timeline, fps=FPS, err=np.ones((T, 33)), ncams=np.full((T, 33), 2),
                 cameras=list(starts), info={"cameras": list(starts), "left_out": {}})
    analyze_session(d / "pose3d.npz", "deadlift", d, hip_offset_m=0.0, error_model=False)
    calibration = write_calibration(results / "rooms" / "room" / "calibration.toml", rig, {})
    return Filmed(d, videos, Path(calibration), rig, offsets, xyz)
