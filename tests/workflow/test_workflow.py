"""The Snakemake workflow end to end: rendered video -> MediaPipe -> 3D -> reps -> report, and its resilience.

Every run uses its own working directory (``snakemake -d``), so runs never
share Snakemake's locks or metadata, and absolute paths in their configs.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline.synthetic.rig import virtual_rig
from pipeline.common.landmarks import BODY_JOINTS
from pipeline.synthetic.footage import CALIBRATION, render_session
from pipeline.synthetic.athlete import simulate

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
CUES = str(REPO / "config" / "cues.yaml")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, egl):
    """Four cameras film the synthetic athlete: three deadlifts, the second with a rounded back."""
    root = tmp_path_factory.mktemp("footage")
    sim = simulate("deadlift", 3, faults={2: ["rounded_spine"]}, seed=3, walk=False, yaw_deg=20)
    render_session(sim.xyz, virtual_rig(4, seed=0), root / "videos", fps=sim.fps, progress=False,
                   spine=sim.spine, spine_sigma=sim.spine_sigma)
    return root / "videos", sim


def _config(tmp_path: Path, sessions: dict, *, options: dict | None = None, calibration: Path | None = None) -> Path:
    cfg = {
        "results": str(tmp_path / "results"),
        "rooms": {"lab": {"calibration": str(calibration)}},
        "sessions": {name: {"room": "lab", "exercise": "deadlift", "athlete": "A", "hip_offset_m": 0.0, **s}
                     for name, s in sessions.items()},
        "options": {"cues": CUES, "figures": False, **(options or {})},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _snakemake(config: Path, workdir: Path, *args: str, profile: str = "local", timeout: int = 600,
               **popen) -> subprocess.CompletedProcess:
    cmd = [str(SNAKEMAKE), "--snakefile", str(REPO / "workflow" / "Snakefile"), "--profile",
           str(REPO / "workflow" / "profiles" / profile), "--configfile", str(config), "-d", str(workdir), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **popen)


def test_workflow_turns_videos_into_a_report_with_the_injected_fault(rendered, tmp_path):
    videos, sim = rendered
    cfg = _config(tmp_path, {"s1": {"videos": str(videos)}}, calibration=videos / CALIBRATION)
    proc = _snakemake(cfg, tmp_path, "--cores", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "results" / "sessions" / "s1"
    assert sorted(p.stem for p in (out / "pose2d").glob("*.npz")) == ["cam0", "cam1", "cam2", "cam3"]

    with np.load(out / "pose3d.npz") as z:
        xyz, t, info = z["xyz"], z["t"], json.loads(str(z["info"]))
    assert info["sync_method"] == "xcorr"  # no timestamp files: offsets estimated (true offsets are 0)
    frames = np.clip(np.round(t * sim.fps).astype(int), 0, len(sim.xyz) - 1)
    err = np.linalg.norm(xyz - sim.xyz[frames], axis=-1)[:, list(BODY_JOINTS)]
    assert np.nanmedian(err) < 0.04  # MediaPipe on the rendered figure: a few cm

    reps = json.loads((out / "reps.json").read_text())
    assert reps["n_reps"] == 3
    cue = [{c["id"]: c for c in r["cues"]} for r in reps["reps"]]
    # the back measured in the silhouettes: only the rounded rep bends beyond the athlete's neutral back
    verdicts = [c["spinal_flexion"]["verdict"] for c in cue]
    assert verdicts[1] == "fail" and verdicts[0] != "fail" and verdicts[2] != "fail", verdicts
    # the rounded rep's neutral_spine is flagged: FAIL when past its threshold by more than its interval, else borderline
    ns = cue[1]["neutral_spine"]
    past = abs(ns["value"]) - ns["threshold"]["fail"]
    assert ns["interval"] > 0 and past > -ns["interval"]
    assert ns["verdict"] == ("fail" if past > ns["interval"] else "borderline"), ns
    # through the detector the clean backs read up to about 24 deg of change (the benchmark's error: docs/accuracy.md);
    # the rounded one stands well clear of them
    clean = max(cue[0]["spinal_flexion"]["value"], cue[2]["spinal_flexion"]["value"])
    assert cue[1]["spinal_flexion"]["value"] > 25 and cue[1]["spinal_flexion"]["value"] > clean + 10
    page = (out / "report" / "index.html").read_text()
    table = page[page.index('id="rep-table"'):]
    assert table[:table.index("</tbody>")].count("<tr") == 1 + 3  # header + one row per rep
    capture = page[page.index('id="capture-table"'):]
    assert capture[:capture.index("</tbody>")].count("<td>yes</td>") == 4  # every camera used
    _assert_every_job_logged_its_story(tmp_path / "results", proc.stderr)


# What each job's log must say: what it read, what it decided, how long it took.
STORY = {"calibrate": ["converted"], "detect": ["reading ", "person detected in", "ms per frame"],
         "sync": ["sync method xcorr", "camera cam0: offset"],
         "triangulate": ["landmarks tracked", "contributed to", "reprojection"],
         "analyze": ["3 rep(s) found", "rep 2: ", "verdicts: "], "report": ["3 rep(s)", "wrote "]}


def _assert_every_job_logged_its_story(results: Path, console: str) -> None:
    logs = sorted(results.rglob("*.log"))
    assert len(logs) == 1 + 4 + 4, [p.name for p in logs]  # calibrate, 4 x detect, sync ... report
    for log in logs:
        text = log.read_text()
        for phrase in STORY[log.stem.split("_")[0]]:
            assert phrase in text, f"{log} lacks {phrase!r}:\n{text}"
        assert " done in " in text.splitlines()[-1], f"{log}:\n{text}"
    assert "[s1 detect_cam2] INFO: cam2.mp4:" in console and "[s1 analyze] INFO: rep 2:" in console


def test_config_errors_stop_the_run_before_any_work(rendered, tmp_path):
    videos, _ = rendered
    calib = videos / CALIBRATION
    cases = {
        "typo": ({"s1": {"videos": str(videos), "exercize": "deadlift"}}, r"sessions.s1.*exercize"),
        "missing room": ({"s1": {"videos": str(videos)}}, r"sessions.s1.room: room 'gym'"),
        "missing folder": ({"s1": {"videos": str(tmp_path / "nowhere")}}, r"sessions.s1.videos: folder .*nowhere"),
    }
    for name, (sessions, message) in cases.items():
        work = tmp_path / name.replace(" ", "_")
        work.mkdir()
        cfg = _config(work, sessions, calibration=calib)
        if name == "missing room":
            raw = yaml.safe_load(cfg.read_text())
            raw["sessions"]["s1"]["room"] = "gym"
            cfg.write_text(yaml.safe_dump(raw))
        proc = _snakemake(cfg, work, "--cores", "1", timeout=120)
        assert proc.returncode != 0, name
        assert re.search(message, proc.stdout + proc.stderr), (name, proc.stderr[-2000:])
        assert not (work / "results").exists(), name


def test_slurm_profile_resolves_every_rule(rendered, tmp_path):
    videos, _ = rendered
    cfg = _config(tmp_path, {"s1": {"videos": str(videos)}, "s2": {"videos": str(videos), "date": "2027-01-01"}},
                  calibration=videos / CALIBRATION)
    proc = _snakemake(cfg, tmp_path, "--dry-run", profile="slurm", timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = dict(line.split()[:2] for line in proc.stdout.splitlines()
                  if line.split()[:1] and line.split()[0] in {"calibrate", "detect", "sync", "triangulate", "analyze", "report"})
    assert counts == {"calibrate": "1", "detect": "8", "sync": "2", "triangulate": "2", "analyze": "2", "report": "2"}
    assert not (tmp_path / "results").exists()
    # a cluster job asks for a GPU only when the config asks for one
    assert "gres" not in proc.stdout
    gpu = _config(tmp_path, {"s1": {"videos": str(videos)}}, options={"device": "gpu"}, calibration=videos / CALIBRATION)
    proc = _snakemake(gpu, tmp_path, "--dry-run", profile="slurm", timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    triangulate_job = proc.stdout.split("rule triangulate:")[1].split("\nrule ")[0]
    assert "slurm_extra='--gres=gpu:1'" in triangulate_job and proc.stdout.count("--gres") == 1


def _linked_session(src: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    for video in src.glob("*.mp4"):
        os.symlink(video, dest / video.name)
    return dest


def test_broken_camera_video_fails_only_its_session_and_names_the_file(rendered, tmp_path):
    videos, _ = rendered
    good = _linked_session(videos, tmp_path / "good")
    bad = _linked_session(videos, tmp_path / "bad")
    (bad / "cam1.mp4").unlink()
    (bad / "cam1.mp4").write_bytes(np.random.default_rng(0).bytes(4096))  # not a video
    cfg = _config(tmp_path, {"good": {"videos": str(good)}, "bad": {"videos": str(bad)}},
                  options={"max_frames": 40}, calibration=videos / CALIBRATION)
    results = tmp_path / "results" / "sessions"
    targets = [str(results / s / "pose3d.npz") for s in ("good", "bad")]
    proc = _snakemake(cfg, tmp_path, "--cores", "2", *targets)
    assert proc.returncode != 0
    assert (results / "good" / "pose3d.npz").is_file()
    assert not (results / "bad" / "pose3d.npz").exists()
    log = (results / "bad" / "logs" / "detect_cam1.log").read_text()
    assert str(bad / "cam1.mp4") in log and str(bad / "cam1.mp4") in proc.stderr


def test_killed_run_resumes_without_redoing_finished_work(rendered, tmp_path):
    videos, _ = rendered
    cfg = _config(tmp_path, {"s1": {"videos": str(videos)}}, options={"max_frames": 60},
                  calibration=videos / CALIBRATION)
    pose2d = tmp_path / "results" / "sessions" / "s1" / "pose2d"
    target = str(tmp_path / "results" / "sessions" / "s1" / "pose3d.npz")
    cmd = [str(SNAKEMAKE), "--snakefile", str(REPO / "workflow" / "Snakefile"), "--profile",
           str(REPO / "workflow" / "profiles" / "local"), "--configfile", str(cfg), "-d", str(tmp_path),
           "--cores", "1", target]
    run = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    logs = tmp_path / "results" / "sessions" / "s1" / "logs"
    deadline = time.monotonic() + 240
    # one core: the second camera's job starts once Snakemake has recorded the first as finished
    while time.monotonic() < deadline and len(list(logs.glob("detect_*.log"))) < 2:
        time.sleep(0.05)
    finished = {p.name: p.stat().st_mtime_ns for p in pose2d.glob("[!.]*.npz")}
    os.killpg(run.pid, signal.SIGKILL)  # as a power cut would: no clean-up
    run.wait()
    assert 1 <= len(finished) < 4
    for name in finished:  # whatever has a final name is complete
        with np.load(pose2d / name) as z:
            assert z["xy"].shape[0] == 60 and z["xy"].shape[-2:] == (33, 2)  # (frames, people, 33, 2)
    assert not (tmp_path / "results" / "sessions" / "s1" / "pose3d.npz").exists()

    # a killed Snakemake leaves its lock behind: the user is told to unlock, then reruns
    locked = _snakemake(cfg, tmp_path, "--cores", "2", target)
    assert locked.returncode != 0 and "--unlock" in locked.stderr
    assert _snakemake(cfg, tmp_path, "--unlock").returncode == 0
    proc = _snakemake(cfg, tmp_path, "--cores", "2", target)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {p.name: p.stat().st_mtime_ns for p in pose2d.glob("[!.]*.npz") if p.name in finished} == finished
    # the killed job's temporary file went when its job was redone: only the four outputs remain
    assert sorted(p.name for p in pose2d.iterdir()) == ["cam0.npz", "cam1.npz", "cam2.npz", "cam3.npz"]


def test_recorder_timestamps_drive_the_sync(rendered, tmp_path):
    """Videos with hingecap record's {cam}.timestamps.csv beside them are synchronised on those times."""
    videos, sim = rendered
    session = _linked_session(videos, tmp_path / "recorded")
    starts = {"cam0": 0.0, "cam1": 0.004, "cam2": 0.011, "cam3": 0.007}  # each camera's first frame on the shared clock
    for cam, start in starts.items():
        frames = np.arange(len(sim.xyz))
        rows = "\n".join(f"{i},{start + i / sim.fps:.6f}" for i in frames)
        (session / f"{cam}.timestamps.csv").write_text("frame,t\n" + rows + "\n")
    cfg = _config(tmp_path, {"rec": {"videos": str(session)}}, options={"max_frames": 30},
                  calibration=videos / CALIBRATION)
    sync_json = tmp_path / "results" / "sessions" / "rec" / "sync.json"
    proc = _snakemake(cfg, tmp_path, "--cores", "2", str(sync_json))
    assert proc.returncode == 0, proc.stderr[-3000:]
    sync = json.loads(sync_json.read_text())
    assert sync["method"] == "timestamps"
    # the span at least two cameras film: from the second camera's first frame to the second-last one's last
    second_first, second_last = sorted(starts.values())[1], sorted(starts.values())[-2]
    assert sync["t"][0] == pytest.approx(second_first, abs=1e-6)
    assert sync["t"][-1] <= second_last + 29 / sim.fps + 1e-6
