"""The real-data example: the Pose2Sim demo's footage and lab calibration as a hingecap room and session.

``prepare_example`` copies the four videos and the Qualisys calibration of
Pose2Sim's ``Demo_SinglePerson`` (fetched once by ``pipeline.pose2sim_demo``)
into ``resources/pose2sim/``, where ``config/example.yaml`` expects them.
"""
from __future__ import annotations

import shutil
from pathlib import Path

EXAMPLE_CONFIG = Path("config/example.yaml")
EXAMPLE_DIR = Path("resources/pose2sim")


def prepare_example(root: str | Path = ".") -> Path:
    """Lay out the example under ``root``; returns the path of its workflow config."""
    from .pose2sim_demo import fetch_demo

    root = Path(root)
    demo = fetch_demo()
    dest = root / EXAMPLE_DIR
    videos = sorted((demo / "videos").glob("*.mp4"))
    calib = sorted((demo / "calibration").glob("*.qca.txt"))
    if len(videos) < 2 or not calib:
        raise FileNotFoundError(f"'{demo}' lacks videos/*.mp4 or calibration/*.qca.txt: the Pose2Sim package layout changed")
    (dest / "videos").mkdir(parents=True, exist_ok=True)
    for src, dst in [*((v, dest / "videos" / v.name) for v in videos), (calib[0], dest / "Calib.qca.txt")]:
        if not dst.is_file() or dst.stat().st_size != src.stat().st_size:
            shutil.copyfile(src, dst)
    return root / EXAMPLE_CONFIG
