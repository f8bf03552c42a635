"""`hingecap record`: video files stand in for USB cameras (OpenCV opens both)."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.detect.video import read_timestamps, timestamps_path
from pipeline.record.recorder import RecordError, dropped_frames, record
from pipeline.sync.timeline import check_timestamps, common_timeline

W, H, FPS, BITS = 160, 120, 30.0, 8


def _make_video(path: Path, n: int, fps: float = FPS) -> Path:
    """``n`` frames; frame i shows i in binary as 8 black/white stripes (survives compression)."""
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (W, H))
    assert w.isOpened()
    for i in range(n):
        img = np.zeros((H, W, 3), np.uint8)
        for b in range(BITS):
            if (i >> b) & 1:
                img[:, b * (W // BITS):(b + 1) * (W // BITS)] = 255
        w.write(img)
    w.release()
    return path


def _read_numbers(video: Path) -> list[int]:
    cap = cv2.VideoCapture(str(video))
    assert cap.isOpened(), video
    out = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        step = W // BITS
        bits = [img[10:-10, b * step + 4:(b + 1) * step - 4].mean() > 128 for b in range(BITS)]
        out.append(sum(1 << b for b, on in enumerate(bits) if on))
    cap.release()
    return out


def _read_csv(path: Path) -> np.ndarray:
    lines = path.read_text().splitlines()
    assert lines[0] == "frame,t"
    rows = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    assert np.array_equal(rows[:, 0], np.arange(len(rows)))
    return rows[:, 1]


def _check_usable(out: Path, name: str) -> tuple[list[int], np.ndarray]:
    """The camera's video decodes, has one CSV row per frame, and its timestamps pass sync's check."""
    numbers = _read_numbers(out / f"{name}.mp4")
    t = _read_csv(out / f"{name}.timestamps.csv")
    assert len(numbers) == len(t) > 0, name
    assert np.all(np.diff(t) > 0)
    check_timestamps(t, name)
    assert np.array_equal(read_timestamps(timestamps_path(out / f"{name}.mp4")), t)  # as detection reads it
    return numbers, t


def _no_temp_files(out: Path) -> None:
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("sources")
    return {"a": _make_video(d / "a.avi", 64), "b": _make_video(d / "b.avi", 64), "c": _make_video(d / "c.avi", 64),
            "short": _make_video(d / "short.avi", 20), "long1": _make_video(d / "long1.avi", 150),
            "long2": _make_video(d / "long2.avi", 150)}


def test_concurrent_cameras_one_clock(videos, tmp_path):
    out = tmp_path / "session"
    summary = record([videos["a"], videos["b"], videos["c"]], out, progress=False)
    assert summary["stopped_by"] == "sources ended"
    assert json.loads((out / "recording.json").read_text()) == summary
    starts, series = [], []
    for name in ("cam0", "cam1", "cam2"):
        numbers, t = _check_usable(out, name)
        assert numbers == list(range(64)), name  # every frame, in order, content preserved
        cam = summary["cameras"][name]
        assert cam["frames"] == 64 and cam["status"] == "ended" and cam["video"] == f"{name}.mp4"
        # (loose: a starved 2-core machine delays the odd frame; the timestamps say so honestly)
        assert cam["mean_fps"] == pytest.approx(FPS, rel=0.1) and cam["dropped"] == dropped_frames(t, FPS)
        assert 0 <= t[0] < 0.3  # relative to the common start
        # Read at the file's own rate: frame i comes about i/30 s after the first.
        assert np.median(np.abs(t - t[0] - np.arange(64) / FPS)) < 0.02
        starts.append(t[0])
        series.append(t)
    assert max(starts) - min(starts) < 0.1  # one shared clock
    assert np.max(np.abs(series[0] - series[1])) < 0.2
    timeline = common_timeline({f"cam{i}": t for i, t in enumerate(series)})
    assert timeline.size > 50
    _no_temp_files(out)


def test_stop_event_keeps_usable_files(videos, tmp_path):
    out = tmp_path / "session"
    stop = threading.Event()
    timer = threading.Timer(0.8, stop.set)
    timer.start()
    try:
        summary = record([videos["a"], videos["b"]], out, names=["left", "right"], stop_event=stop, progress=False)
    finally:
        timer.cancel()
    assert summary["stopped_by"] == "stop_event"
    for name in ("left", "right"):
        numbers, t = _check_usable(out, name)
        assert 10 <= len(numbers) < 64
        assert numbers == list(range(len(numbers)))
        assert summary["cameras"][name]["frames"] == len(numbers)
        assert summary["cameras"][name]["status"] == "ok"
    _no_temp_files(out)


def test_ctrl_c_in_cli_keeps_usable_files(videos, tmp_path):
    out = tmp_path / "session"
    exe = Path(sys.executable).with_name("hingecap")
    proc = subprocess.Popen([str(exe), "record", "--cameras", f"{videos['long1']},{videos['long2']}", "--seconds", "30",
                             str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        while not (out.is_dir() and any(p.name.startswith(".cam1.mp4") for p in out.iterdir())):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "recording did not start"
            time.sleep(0.05)
        time.sleep(0.7)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    summary = json.loads((out / "recording.json").read_text())
    assert summary["stopped_by"] == "interrupt"
    for name in ("cam0", "cam1"):
        numbers, t = _check_usable(out, name)
        assert 5 <= len(numbers) < 150 and numbers == list(range(len(numbers)))
        assert summary["cameras"][name]["frames"] == len(numbers)
        assert f"{name}: {len(numbers)} frames" in stdout
    _no_temp_files(out)


@pytest.mark.parametrize("bad", ["missing.avi", "junk.avi"])
def test_unopenable_source_names_it_and_writes_nothing(videos, tmp_path, bad):
    (tmp_path / "junk.avi").write_text("not a video")
    out = tmp_path / "session"
    with pytest.raises(RecordError, match=rf"camera cam1: cannot open '.*{bad}'"):
        record([videos["a"], tmp_path / bad], out, progress=False)
    assert not out.exists()
    res = CliRunner().invoke(app, ["record", "--cameras", f"{videos['a']},{tmp_path / bad}", str(out)])
    assert res.exit_code == 2 and bad in res.output and "cam1" in res.output
    assert not out.exists()


def test_source_ending_early_is_reported_others_continue(videos, tmp_path, capsys):
    out = tmp_path / "session"
    summary = record([videos["a"], videos["short"]], out, seconds=1.5, progress=False)
    assert summary["stopped_by"] == "seconds"
    full, short = summary["cameras"]["cam0"], summary["cameras"]["cam1"]
    assert full["status"] == "ok" and abs(full["frames"] - 45) <= 1  # 1.5 s at 30 fps, past the short one's end
    assert short["status"] == "ended early" and short["frames"] == 20 and "after 20 frames" in short["note"]
    assert "camera cam1" in capsys.readouterr().err
    assert _read_numbers(out / "cam1.mp4") == list(range(20))
    _check_usable(out, "cam0")
    _check_usable(out, "cam1")


def test_not_realtime_reads_as_fast_as_possible(videos, tmp_path):
    t0 = time.monotonic()
    summary = record([videos["a"], videos["b"]], tmp_path / "s", realtime=False, progress=False)
    assert time.monotonic() - t0 < 1.5  # the files last 2.1 s at their own rate
    for name in ("cam0", "cam1"):
        numbers, _ = _check_usable(tmp_path / "s", name)
        assert numbers == list(range(64)) and summary["cameras"][name]["frames"] == 64


def test_existing_recording_is_not_overwritten(videos, tmp_path):
    out = tmp_path / "session"
    out.mkdir()
    (out / "cam0.mp4").write_bytes(b"earlier take")
    with pytest.raises(RecordError, match="cam0.mp4"):
        record([videos["a"]], out, progress=False)
    assert (out / "cam0.mp4").read_bytes() == b"earlier take"


def test_dropped_frames_from_gaps():
    t = np.arange(30) / 30.0
    assert dropped_frames(t, 30.0) == 0
    assert dropped_frames(np.delete(t, [10, 11, 20]), 30.0) == 3
    jitter = t + np.random.default_rng(0).uniform(-0.005, 0.005, t.size)
    assert dropped_frames(jitter, 30.0) == 0
    assert dropped_frames(np.delete(t, [5]), None) == 1  # period from the median interval
