"""Real data: intrinsics from the Pose2Sim demo's checkerboard images vs its Qualisys calibration.

Fetches ``pose2sim==0.10.49`` (a wheel, ~50 MB) with pip into ~/.cache/hingecap once
(``pipeline.examples.pose2sim.fetch_demo``); skips with a message when the package registry
cannot be reached.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from calibration.board import BoardSpec
from calibration.board_detection import detect_room
from calibration.intrinsics import calibrate_intrinsics
from calibration.io import read_calibration
from pipeline.examples.pose2sim import DemoUnavailable, fetch_demo


@pytest.fixture(scope="module")
def calib_pose2sim_demo() -> Path:
    try:
        return fetch_demo()
    except DemoUnavailable as exc:
        pytest.skip(str(exc))


def test_intrinsics_match_qualisys_calibration(calib_pose2sim_demo):
    demo = calib_pose2sim_demo
    cfg = tomllib.loads((demo / "Config.toml").read_text())["calibration"]["calculate"]["intrinsics"]
    nx, ny = cfg["intrinsics_corners_nb"]  # Pose2Sim counts inner corners; our spec counts squares
    board = BoardSpec("checkerboard", nx + 1, ny + 1, cfg["intrinsics_square_size"] / 1000)
    folders = sorted((demo / "calibration" / "intrinsics").iterdir())
    sources = {p.name.removeprefix("int_").removesuffix("_img"): p for p in folders}
    det = detect_room(sources, board, length_check=False, progress=False)
    qualisys = {c.name: c for c in read_calibration(demo / "calibration" / "Calib.qca.txt")}
    assert set(qualisys) == set(det.cameras)
    rows = []
    for c, name in enumerate(det.cameras):
        ours = calibrate_intrinsics(det.corners[c], board, det.sizes[c], camera=name, min_views=4)
        ref = qualisys[name]
        assert ref.size == det.sizes[c]
        f_ref = ref.K[0, 0]
        df = 100 * (ours.K[0, 0] / f_ref - 1)
        dc = ours.K[:2, 2] - ref.K[:2, 2]
        rows.append(f"{name}: f {ours.K[0, 0]:.1f} vs {f_ref:.1f} px ({df:+.2f} %), principal point "
                    f"({ours.K[0, 2]:.1f}, {ours.K[1, 2]:.1f}) vs ({ref.K[0, 2]:.1f}, {ref.K[1, 2]:.1f}) px, RMS {ours.rms:.2f} px, {ours.views} views")
        assert abs(df) < 2.0
        assert np.abs(ours.K[1, 1] / ref.K[1, 1] - 1) < 0.02
        # 5-6 views pin the principal point less well than the focal length
        assert np.abs(dc).max() < 0.03 * f_ref
        assert ours.rms < 0.5
    print("\n" + "\n".join(rows))
