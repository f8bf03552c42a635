"""Bad input through ``hingecap run``: several sessions in one run, some broken; each broken one fails alone with
its job log naming the culprit, the others run to their outputs untouched, every job's log says what it did.
Then the command line itself: a missing or broken config, unsafe names, the results-folder lock, targets.

The sessions start from pose2d files (projected landmarks, as the detect stage would write them) so the run
costs seconds per job rather than MediaPipe's minutes; the detect stage's own logs are checked in
tests/workflow/test_workflow.py on rendered video.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest
import tomli_w
import yaml
from typer.testing import CliRunner

from calibration.io import write_calibration
from pipeline.cli import app
from pipeline.cli.lock import LOCK_NAME, ResultsLockedError, results_lock
from pipeline.cli.workflow import workflow_command
from pipeline.contracts.pose2d import read_pose2d, write_pose2d
from pipeline.synthetic.athlete import simulate
from pipeline.synthetic.rig import virtual_rig
from pipeline.synthetic.views import write_pose2d_session

REPO = Path(__file__).resolve().parents[2]
CUES = str(REPO / "config" / "cues.yaml")
FPS = 30.0


def _session_inputs(root: Path, results: Path, name: str, sim, cams) -> Path:
    """Empty stand-in videos (older) and the detect stage's pose2d files (newer), so Snakemake starts at sync."""
    videos = root / "videos" / name
    videos.mkdir(parents=True)
    for cam in cams:
        (videos / f"{cam.name}.mp4").touch()
        os.utime(videos / f"{cam.name}.mp4", (time.time() - 3600,) * 2)
    write_pose2d_session(results / "sessions" / name, sim.xyz, cams, fps=FPS, seed=1)
    return videos


def _rewrite(path: Path, **change) -> None:
    with np.load(path) as z:
        data = dict(z)
    data.update(change)
    np.savez(path, **data)


def _hingecap(*args: str, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _finished_session(results: Path, name: str, cams) -> None:
    """An earlier session already through its analysis (files in the order the workflow writes them)."""
    from pipeline.analyze.stage import analyze_session
    from pipeline.sync.stage import sync_session
    from pipeline.triangulate.stage import triangulate_session

    out = results / "sessions" / name
    paths = {c.name: out / "pose2d" / f"{c.name}.npz" for c in cams}
    sync_session(paths, out / "sync.json")
    triangulate_session(paths, results / "rooms" / "lab" / "calibration.toml", out / "sync.json", out / "pose3d.npz")
    analyze_session(out / "pose3d.npz", "deadlift", out, CUES, hip_offset_m=0.0, require_reps=False)


@pytest.fixture(scope="module")
def broken_run(tmp_path_factory):
    """One ``hingecap run`` over an earlier finished session, a session whose cam2 stopped half-way, a session
    with percent confidences and a room whose calibration has a NaN focal length."""
    root = tmp_path_factory.mktemp("bad_run")
    results = root / "results"
    sim = simulate("deadlift", 3, seed=1, walk=True)
    cams = virtual_rig(4)
    calib = write_calibration(root / "lab.toml", cams, {})
    doc = tomllib.loads(calib.read_text())
    doc["cam_1"]["matrix"][0][0] = math.nan
    (root / "broken.toml").write_text(tomli_w.dumps(doc))
    sessions = {}
    for name, date in (("a.early", "2026-01-01"), ("short", "2026-02-01"), ("conf100", "2026-03-01")):
        videos = _session_inputs(root, results, name, sim, cams)
        sessions[name] = {"room": "lab", "videos": str(videos), "exercise": "deadlift", "athlete": "A", "date": date,
                          "hip_offset_m": 0.0}
    write_calibration(results / "rooms" / "lab" / "calibration.toml", cams, {})  # the room, calibrated before
    _finished_session(results, "a.early", cams)
    pose2d = lambda s, c: results / "sessions" / s / "pose2d" / f"{c}.npz"  # noqa: E731
    pose = read_pose2d(pose2d("short", "cam2"))
    half = len(pose.t) // 2
    write_pose2d(pose2d("short", "cam2"), pose.xy[:half], pose.conf[:half], pose.t[:half], size=pose.size)
    with np.load(pose2d("conf100", "cam1")) as z:
        _rewrite(pose2d("conf100", "cam1"), conf=z["conf"] * 100)  # a detector reporting 0-100
    cfg = {"results": "results", "sessions": sessions,
           "rooms": {"lab": {"calibration": str(calib)}, "broken": {"calibration": str(root / "broken.toml")}},
           "options": {"cues": CUES, "figures": False}}
    (root / "config.yaml").write_text(yaml.safe_dump(cfg))
    before = {p: p.stat().st_mtime_ns for p in results.rglob("*") if p.is_file()}
    targets = ["results/sessions/short/report/index.html", "results/sessions/conf100/sync.json",
               "results/rooms/broken/calibration.toml"]
    proc = _hingecap("run", "--config", "config.yaml", "--cores", "2", *targets, cwd=root)
    return root, results, sim, proc, before


def test_each_broken_input_fails_alone_naming_the_culprit(broken_run):
    root, results, _, proc, _ = broken_run
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    sessions = results / "sessions"
    # percent confidences: the sync job stops, naming the file
    assert not (sessions / "conf100" / "sync.json").exists()
    log = (sessions / "conf100" / "logs" / "sync.log").read_text()
    culprit = "results/sessions/conf100/pose2d/cam1.npz"  # as the config names the results folder
    assert f"{culprit}: conf must lie in [0, 1]" in log and "0-100 scale" in log and culprit in out
    # a NaN focal length: the room's calibrate job stops, naming file and camera
    assert not (results / "rooms" / "broken" / "calibration.toml").exists()
    log = (results / "rooms" / "broken" / "calibrate.log").read_text()
    assert f"{root / 'broken.toml'}: camera [cam_1] (cam1): matrix holds NaN" in log


def test_good_sessions_finish_untouched_and_a_short_camera_keeps_the_session(broken_run):
    root, results, sim, proc, before = broken_run
    short = results / "sessions" / "short"
    # nothing that existed was rewritten: the earlier session's outputs, every 2D file, the room's calibration
    assert {p: p.stat().st_mtime_ns for p in before} == before
    assert (results / "sessions" / "a.early" / "reps.json") in before
    # cam2 stopped half-way: the session keeps its full length, its reps and verdicts, and says so
    with np.load(short / "pose3d.npz") as z:
        assert z["xyz"].shape[0] == len(sim.xyz)
        info = json.loads(str(z["info"]))
    assert info["coverage"]["cam2"]["covered_share"] == pytest.approx(0.5, abs=0.01)
    reps = json.loads((short / "reps.json").read_text())
    early = json.loads((results / "sessions" / "a.early" / "reps.json").read_text())
    assert reps["n_reps"] == early["n_reps"] == 3
    assert [[c["verdict"] for c in r["cues"]] for r in reps["reps"]] == [[c["verdict"] for c in r["cues"]] for r in early["reps"]]
    page = (short / "report" / "index.html").read_text()
    assert "camera cam2 filmed only 50 % of the session" in page and "50 % (filmed 0.0-" in page
    # the earlier session (a name with a dot) is found by name for the athlete's progress
    progress = page[page.index('id="progress-table"'):]
    assert "a.early" in progress[:progress.index("</table>")]
    log = (short / "logs" / "sync.log").read_text()
    assert "camera cam2 films only 50 % of the session" in log
    assert "[short sync] WARNING: camera cam2 films only 50 %" in proc.stderr  # the console too
    # the run's lock was released when it ended
    assert (results / LOCK_NAME).is_file()
    with results_lock(results):
        pass


def test_every_job_log_says_what_it_did(broken_run):
    _, results, _, proc, _ = broken_run
    logs = {str(p.relative_to(results)): p.read_text() for p in results.rglob("*.log")}
    assert sorted(logs) == ["rooms/broken/calibrate.log", "sessions/conf100/logs/sync.log",
                            "sessions/short/logs/analyze.log", "sessions/short/logs/report.log",
                            "sessions/short/logs/sync.log", "sessions/short/logs/triangulate.log"]
    expected = {"sync": ["sync method xcorr", "camera cam0: offset", "camera cam2 films only 50 % of the session"],
                "triangulate": ["landmarks tracked", "camera cam2: contributed to 49.", "took"],
                "analyze": ["3 rep(s) found", "rep 1: ", "verdicts: ", "quality rep(s) of 3"],
                "report": ["history: results/sessions/a.early", "wrote results/sessions/short/report/index.html"]}
    for name, text in logs.items():
        stage = Path(name).stem
        if "ERROR" in text:
            assert name in ("rooms/broken/calibrate.log", "sessions/conf100/logs/sync.log"), text
            continue
        for phrase in expected[stage]:
            assert phrase in text, f"{name} lacks {phrase!r}:\n{text}"
        assert " done in " in text.splitlines()[-1], name
    assert "[short triangulate] INFO:" in proc.stderr


# --- the command line ----------------------------------------------------------------------------------------------

def _minimal(tmp_path: Path, sessions: dict | None = None, results: str = "results") -> Path:
    videos = tmp_path / "videos"
    videos.mkdir(exist_ok=True)
    for cam in ("cam0", "cam1"):
        (videos / f"{cam}.mp4").touch()
    calib = write_calibration(tmp_path / "lab.toml", virtual_rig(2), {})
    cfg = {"results": results, "rooms": {"lab": {"calibration": str(calib)}},
           "sessions": sessions or {"s1": {"room": "lab", "videos": str(videos), "exercise": "deadlift"}}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _no_traceback(res) -> None:
    assert "Traceback" not in res.output and res.exception is None or isinstance(res.exception, SystemExit)


def test_missing_config_is_one_clear_message(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["run", "--config", "nowhere.yaml"])
    assert res.exit_code == 2 and f"config file '{tmp_path / 'nowhere.yaml'}' does not exist" in res.output
    _no_traceback(res)
    res = CliRunner().invoke(app, ["run"])  # no --config and no config/config.yaml here
    assert res.exit_code == 2 and "(no --config given, so the default); pass --config FILE" in res.output


def test_invalid_yaml_names_file_and_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text("rooms:\n  lab:\n    calibration: x.toml\n   sessions: {}\n")
    res = CliRunner().invoke(app, ["run", "--config", "bad.yaml"])
    assert res.exit_code == 2 and f"{tmp_path / 'bad.yaml'}: not valid YAML: line 4" in res.output
    _no_traceback(res)
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("name", ["s1; touch pwned", "../../../outside_results", "$(touch pwned)"])
def test_unsafe_session_name_stops_the_run_before_snakemake(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    cfg = _minimal(tmp_path, {name: {"room": "lab", "videos": str(tmp_path / "videos"), "exercise": "deadlift"}})
    res = CliRunner().invoke(app, ["run", "--config", str(cfg)])
    assert res.exit_code == 2 and f"sessions.{name}: the session name" in res.output and "not allowed" in res.output
    assert "MissingInputException" not in res.output
    assert not (tmp_path / "results").exists() and not (tmp_path / "pwned").exists()
    assert not list(tmp_path.parent.glob("outside_results*")) and not (tmp_path / ".snakemake").exists()


def test_snakemake_run_directly_gives_the_same_name_error(tmp_path):
    cfg = _minimal(tmp_path, {"s1 && touch pwned": {"room": "lab", "videos": str(tmp_path / "videos"),
                                                     "exercise": "deadlift"}})
    proc = subprocess.run([str(Path(sys.executable).parent / "snakemake"), "--snakefile", str(REPO / "workflow" / "Snakefile"),
                           "--configfile", str(cfg), "-d", str(tmp_path), "--cores", "1", "--dry-run"],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode != 0
    assert "hingecap: sessions.s1 && touch pwned: the session name 's1 && touch pwned' is not allowed" in proc.stderr
    assert "MissingInputException" not in proc.stderr and not (tmp_path / "pwned").exists()


def test_a_second_run_on_the_same_results_folder_is_refused_whatever_its_folder(tmp_path, monkeypatch):
    one, two = tmp_path / "one", tmp_path / "two" / "deeper"
    one.mkdir()
    two.mkdir(parents=True)
    cfg_one = _minimal(one, results="../shared/results")
    cfg_two = _minimal(two, results="../../shared/results")
    shared = (tmp_path / "shared" / "results").resolve()
    with results_lock(shared):  # the first run, started in folder one
        monkeypatch.chdir(two)
        res = CliRunner().invoke(app, ["run", "--config", str(cfg_two)])
        assert res.exit_code == 2, res.output
        assert f"another hingecap run is using {shared} (pid {os.getpid()} since " in res.output
        assert f"remove {shared / LOCK_NAME} if that run died" in res.output
        assert not (two / ".snakemake").exists()  # Snakemake was never started
        with pytest.raises(ResultsLockedError):
            with results_lock(one / "../shared/results"):
                pass
    with results_lock(shared):  # free again once the holder let go
        pass
    assert cfg_one.is_file()


def test_targets_are_targets_not_config_files():
    cmd = workflow_command("my.yaml", targets=["results/sessions/s1/pose3d.npz", "results/sessions/s2/sync.json"],
                           extra=["--dry-run"])
    from snakemake.cli import get_argument_parser

    args = get_argument_parser().parse_args(cmd[3:])
    assert args.targets == ["results/sessions/s1/pose3d.npz", "results/sessions/s2/sync.json"]
    assert [str(p) for p in args.configfile] == ["my.yaml"] and args.dryrun


def test_a_filesystem_without_locks_is_said_not_fatal(tmp_path, monkeypatch, capsys):
    import errno
    import fcntl

    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with results_lock(tmp_path / "results"):
        pass
    assert f"warning: cannot lock {tmp_path / 'results' / LOCK_NAME} (No locks available)" in capsys.readouterr().err
