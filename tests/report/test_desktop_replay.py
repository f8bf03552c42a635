"""`hingecap replay`: clear refusal without a display; per-frame colours match the violations."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline.report.desktop_replay import BAD_RGB, WARN_RGB, NoDisplayError, frame_colours, replay
from pipeline.synthetic.report_session import write_sample_session
from pipeline.report.session import FAIL, WARN, load_session, violation_mask


def test_without_a_display_it_says_so(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from pipeline.cli import app

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(NoDisplayError, match=r"needs a display \(DISPLAY/WAYLAND_DISPLAY not set\)"):
        replay(tmp_path)
    res = CliRunner().invoke(app, ["replay", str(tmp_path)])
    assert res.exit_code == 2 and "needs a display" in res.output


def test_frame_colours_are_red_exactly_where_violated(tmp_path):
    s = load_session(write_sample_session(tmp_path / "s", n_reps=2, seconds=5, faults={1: ["soft_knee"], 2: ["hip_back"]}))
    next(c for c in s.reps["reps"][1]["cues"] if c["id"] == "hip_back")["verdict"] = "warn"
    mask = violation_mask(s)
    colours = frame_colours(mask)
    assert colours.shape == mask.shape + (3,)
    red = np.all(np.isclose(colours, BAD_RGB), axis=-1)
    amber = np.all(np.isclose(colours, WARN_RGB), axis=-1)
    assert (mask == FAIL).any() and np.array_equal(red, mask == FAIL)
    assert (mask == WARN).any() and np.array_equal(amber, mask == WARN)


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="xvfb-run is not installed (make system-deps installs xvfb)")
def test_replay_window_plays_frames_on_a_virtual_display(tmp_path):
    d = write_sample_session(tmp_path / "s", n_reps=2, seconds=5)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    res = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24", sys.executable, "-m", "pipeline.cli",
                          "replay", str(d), "--seconds", "2"], capture_output=True, text=True, timeout=120, env=env,
                         cwd=Path(__file__).resolve().parents[2])
    assert res.returncode == 0, res.stderr[-2000:]
    shown = int(re.search(r"replay closed after (\d+) frames", res.stdout).group(1))
    assert shown > 5  # the animation advanced while the window was open
