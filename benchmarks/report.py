"""Report time, memory and size for a 60 s and a 10-minute session, with 4 camera videos, against the budget.

Each session is a simulated deadlift set (the analysis stage on the simulated
athlete), seen by the 4-camera virtual rig: pose2d files (the true landmarks
projected), sync.json (each camera started a few frames late) and one 640x480
video per camera in which the projected skeleton is drawn over a textured
background (rendering the figure would take an hour for 10 minutes of 4
cameras; encoding cost depends on the pixels, not on what they show). Every
measurement runs in its own Python process, so its peak memory (ru_maxrss)
is its own:

- ``proxies``: the browser-playable proxies of the videos (``evidence.proxies_for``,
  2 threads, as the report does on the first run). For sessions over a minute
  only camera 0's video is drawn and encoded (``--encode-all`` does all four);
  the other cameras' proxies are copies of it, which costs the report the same
  (it reads their headers and a few frames) and spares a shared machine half an
  hour of encoding: the 4-camera proxy time is then 4 times camera 0's;
- ``report``: ``build_report`` with the videos, the proxies already there (what a
  rebuild costs: video panel, pictures, key frames, plots, Open3D figures);
- ``baseline``: the report of ``BASELINE`` (the last revision before the video
  panel), from ``git archive``, on the same session in the same run.

Writes the "report" section of docs/benchmarks.md.

    .venv/bin/python benchmarks/report.py [--minutes 1 10] [--baseline REV]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if __name__ == "__main__" or str(REPO) not in sys.path:  # the baseline's measurement puts its own tree first
    sys.path.insert(0, str(REPO))

from benchmarks._report import write_section  # noqa: E402

BUDGET_S, BUDGET_MB = 10.0, 300.0  # a 10-minute session's report (the proxies aside), peak resident memory
BASELINE = "219ad39"  # main before the video panel: 33 s and 898 MB for 10 minutes when this issue was filed
FPS = 30.0
DELAYS = (0, 3, 7, 1)  # frames each camera started after the first
FAULTS_60S = {2: ["soft_knee"], 5: ["neutral_spine", "hip_back"], 9: ["hip_back"], 11: ["soft_knee", "neutral_spine"]}


def make_session(root: Path, minutes: float, draw: int = 4) -> dict:
    """A simulated session with every file the report reads; returns the build_report arguments."""
    import cv2
    import numpy as np

    from calibration.io import write_calibration
    from pipeline.analyze.stage import analyze_session
    from pipeline.contracts.pose2d import write_pose2d
    from pipeline.contracts.pose3d import write_pose3d
    from pipeline.contracts.sync import write_sync
    from pipeline.report.session import ALL_EDGES
    from pipeline.synthetic.athlete import simulate
    from pipeline.synthetic.report_session import write_sample_session
    from pipeline.synthetic.rig import virtual_rig

    if minutes <= 1:  # twelve reps with long pauses, as the report's budget was first set
        reps, faults = 12, {k: ["rounded_spine" if "neutral_spine" in v else "squatting"] for k, v in FAULTS_60S.items()}
        sim = simulate("deadlift", reps, faults=faults, fps=FPS, seed=0)
        short = minutes * 60 - sim.xyz.shape[0] / FPS
        if short > 0:
            sim = simulate("deadlift", reps, faults=faults, fps=FPS, seed=0, stand_s=1.2 + short / 2)
    else:  # one long set: a rep every 3.8 s, every seventh with a fault
        reps = int(minutes * 60 / 3.8)
        faults = {i: ["rounded_spine"] if i % 3 else ["squatting"] for i in range(2, reps + 1, 7)}
        sim = simulate("deadlift", reps, faults=faults, fps=FPS, seed=0)
    d = root / "sessions" / "bench"
    rig = virtual_rig(4)
    late = max(DELAYS)
    xyz, timeline = sim.xyz[late:], sim.t[late:]
    write_sync(d / "sync.json", method="xcorr", timeline=timeline,
               cameras={c.name: {"offset_s": k / FPS, "drift": 0.0, "confidence": 1.0} for c, k in zip(rig, DELAYS)})
    T = len(xyz)
    write_pose3d(d / "pose3d.npz", xyz, timeline, fps=FPS, err=np.ones((T, 33)), ncams=np.full((T, 33), 4),
                 cameras=rig.names, info={"cameras": rig.names, "left_out": {}})
    analyze_session(d / "pose3d.npz", "deadlift", d, hip_offset_m=0.0)
    calibration = write_calibration(root / "calibration.toml", rig, {})
    background = cv2.GaussianBlur(np.random.default_rng(0).integers(40, 200, (480, 640, 3), dtype=np.uint8), (0, 0), 3)
    edges = [(a, b) for a, b in ALL_EDGES if a < 33 and b < 33]
    videos = {}
    for n, (cam, k) in enumerate(zip(rig, DELAYS)):
        seen = sim.xyz[k:]
        xy = cam.project(seen)
        write_pose2d(d / "pose2d" / f"{cam.name}.npz", xy, np.full(xy.shape[:2], 0.9), np.arange(len(seen)) / FPS,
                     fps=FPS, size=cam.size)
        videos[cam.name] = root / "videos" / f"{cam.name}.mp4"
        if n >= draw:  # a copy of camera 0's video: reading it costs the same
            shutil.copy(videos[rig[0].name], videos[cam.name])
            continue
        videos[cam.name].parent.mkdir(parents=True, exist_ok=True)
        writer = cv2.VideoWriter(str(videos[cam.name]), cv2.VideoWriter_fourcc(*"mp4v"), FPS, cam.size)
        pix = np.nan_to_num(np.round(xy * 16), nan=-1e6).clip(-1e6, 1e6).astype(np.int64)
        for f in range(len(seen)):  # writing a video is a loop over its frames
            image = background.copy()
            for a, b in edges:
                cv2.line(image, tuple(pix[f, a]), tuple(pix[f, b]), (40, 60, 230), 5, cv2.LINE_AA, 4)
            writer.write(image)
        writer.release()
    history = [{"dir": write_sample_session(root / f"h{i}", n_reps=12, seconds=60, fps=FPS,
                                            faults={1: ["soft_knee"]}, depth_deg=85 + 4 * i), "date": f"2026-11-0{i + 1}"}
               for i in range(2)]
    return {"dir": str(d), "videos": {c: str(p) for c, p in videos.items()}, "calibration": str(calibration),
            "history": [{**h, "dir": str(h["dir"])} for h in history], "frames": T, "reps": reps, "drawn": draw}


def _measure(kind: str, args: dict, out: str) -> dict:
    """Runs in its own process: one measurement, its seconds and peak memory."""
    clock = time.perf_counter()
    result: dict = {}
    if kind == "proxies":
        from pipeline.report.evidence import proxies_for

        drawn = dict(list(args["videos"].items())[:args["drawn"]])
        made = proxies_for(drawn, Path(out) / "video")
        result["bytes"] = sum(p.path.stat().st_size for p in made.values())
        result["frames"] = sum(p.n_frames for p in made.values())
        result["cameras"] = len(made)
        first = next(iter(made.values())).path
        for cam in args["videos"]:  # the cameras not encoded: a copy of camera 0's proxy, newer than their video
            if cam not in made:
                shutil.copy(first, Path(out) / "video" / f"{cam}.webm")
    else:
        from pipeline.report import build_report

        meta = {"athlete": "Benchmark", "exercise": "deadlift", "date": "2026-11-20", "load_kg": 80}
        extra = {"videos": args["videos"], "calibration": args["calibration"]} if kind == "report" else {}
        timings: dict = {}
        index = build_report(args["dir"], meta, out, history=args["history"], timings=timings, **extra)
        result["bytes"] = index.stat().st_size
        result["timings"] = timings
    result["seconds"] = time.perf_counter() - clock
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    result["rss_mb"] = own.ru_maxrss / 1024
    result["child_rss_mb"] = children.ru_maxrss / 1024
    # CPU seconds (this process's imports included): what a shared machine's load does not inflate.
    result["cpu_s"] = own.ru_utime + own.ru_stime
    result["child_cpu_s"] = children.ru_utime + children.ru_stime
    return result


def measure(kind: str, args: dict, out: Path, pythonpath: str | None = None) -> dict:
    env = dict(os.environ, PYTHONPATH=pythonpath or str(REPO))
    code = (f"import json, sys; sys.path.insert(0, {str(REPO)!r}); from benchmarks.report import _measure; "
            f"print('RESULT' + json.dumps(_measure({kind!r}, json.loads(sys.argv[1]), {str(out)!r})))")
    if pythonpath:  # the baseline: its own pipeline package, this file's _measure
        code = code.replace(f"sys.path.insert(0, {str(REPO)!r})", f"sys.path.insert(0, {pythonpath!r}); sys.path.append({str(REPO)!r})")
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(args)], env=env, capture_output=True, text=True, cwd=out.parent)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"{kind} measurement failed:\n{proc.stderr[-3000:]}")
    return json.loads(line[len("RESULT"):])


def baseline_tree(rev: str, into: Path) -> str | None:
    """The package tree of revision ``rev`` (git archive), or None when git or the revision is not there."""
    archive = into / "baseline.tar"
    try:
        subprocess.run(["git", "-C", str(REPO), "archive", "-o", str(archive), rev, "pipeline", "calibration"],
                       check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    with tarfile.open(archive) as tar:
        tar.extractall(into / "baseline", filter="data")
    return str(into / "baseline")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--baseline", default=BASELINE, help="git revision to compare with ('' for none)")
    parser.add_argument("--encode-all", action="store_true", help="draw and encode all 4 videos of long sessions too")
    parser.add_argument("--workdir", type=Path, help="keep the sessions and proxies here, and reuse those already there")
    opts = parser.parse_args()
    rows, notes = [], []
    with tempfile.TemporaryDirectory() as scratch:
        tmp = opts.workdir or Path(scratch)
        tmp.mkdir(parents=True, exist_ok=True)
        old = baseline_tree(opts.baseline, tmp) if opts.baseline else None
        if opts.baseline and old is None:
            notes.append(f"baseline {opts.baseline} not found (no git history here): no comparison")
        for minutes in opts.minutes:
            root = tmp / f"m{minutes:g}"
            clock = time.perf_counter()
            made = root / "session.json"
            if made.is_file():
                args = json.loads(made.read_text())
            else:
                args = make_session(root, minutes, 4 if opts.encode_all or minutes <= 1 else 1)
                made.write_text(json.dumps(args))
            print(f"{minutes:g} min: session made in {time.perf_counter() - clock:.0f} s ({args['frames']} frames, {args['reps']} reps)")
            out = root / "sessions" / "bench" / "report"
            encoded = root / "proxies.json"
            if encoded.is_file():
                proxies = json.loads(encoded.read_text())
                notes.append(f"{minutes:g} min: proxies measured in an earlier run ({encoded})")
            else:
                proxies = measure("proxies", args, out)
                encoded.write_text(json.dumps(proxies))
            print(f"  proxies {proxies['seconds']:.1f} s, {proxies['bytes'] / 1e6:.1f} MB")
            report = measure("report", args, out)
            print(f"  report {report['seconds']:.2f} s, {report['rss_mb']:.0f} MB (+ Open3D process {report['child_rss_mb']:.0f} MB)")
            base = measure("baseline", args, root / "baseline_report", old) if old else None
            if base:
                print(f"  baseline {base['seconds']:.2f} s, {base['rss_mb']:.0f} MB, {base['bytes'] / 1e6:.1f} MB page")
            rows.append((minutes, args, proxies, report, base))

    def ratio(new, old_value):
        return f" ({new / old_value:.2f}×)" if old_value else ""

    lines = ["| session | report (s) | CPU (s): report + Open3D process | main process peak (MB) | Open3D process peak (MB) "
             "| page (MB) | proxies: 4 cameras (s / MB) | proxy ms per camera-frame |",
             "|---|---|---|---|---|---|---|---|"]
    for minutes, args, proxies, report, base in rows:
        b = base or {}
        cpu = report.get("cpu_s", 0) + report.get("child_cpu_s", 0)
        lines.append(
            f"| {minutes:g} min ({args['frames']} frames, {args['reps']} reps) "
            f"| **{report['seconds']:.2f}**{ratio(report['seconds'], b.get('seconds'))} "
            f"| {report.get('cpu_s', 0):.1f} + {report.get('child_cpu_s', 0):.1f}{ratio(cpu, b.get('cpu_s'))} "
            f"| **{report['rss_mb']:.0f}**{ratio(report['rss_mb'], b.get('rss_mb'))} "
            f"| {report['child_rss_mb']:.0f} "
            f"| **{report['bytes'] / 1e6:.2f}**{ratio(report['bytes'], b.get('bytes'))} "
            f"| {proxies['seconds'] * 4 / proxies['cameras']:.0f} / {proxies['bytes'] * 4 / proxies['cameras'] / 1e6:.1f}"
            f"{'' if proxies['cameras'] == 4 else ' (4 × camera 0)'} "
            f"| {1000 * proxies['seconds'] / proxies['frames'] * min(2, proxies['cameras']):.1f} |")
        if base:
            lines.append(f"| {minutes:g} min, baseline {opts.baseline} (no video) | {base['seconds']:.2f} | {base.get('cpu_s', 0):.1f} "
                         f"| {base['rss_mb']:.0f} | (in process) | {base['bytes'] / 1e6:.2f} | – | – |")
    parts = "\n".join(f"- {minutes:g} min: " + ", ".join(f"{k} {v:.2f} s" for k, v in report["timings"].items())
                      for minutes, _, _, report, _ in rows)
    longest = rows[-1]
    verdict = (f"{longest[0]:g}-minute report: {longest[3]['seconds']:.1f} s against {BUDGET_S:.0f} s "
               f"({'within' if longest[3]['seconds'] <= BUDGET_S else 'over'}), main process {longest[3]['rss_mb']:.0f} MB "
               f"against {BUDGET_MB:.0f} MB ({'within' if longest[3]['rss_mb'] <= BUDGET_MB else 'over'}); the Open3D "
               f"figures render in their own process, {longest[3]['child_rss_mb']:.0f} MB at its peak (importing Open3D alone takes about 320 MB).")
    md = f"""## Report generation (`benchmarks/report.py`)

Simulated deadlift sessions with the analysis stage, 4 cameras (640x480 videos, pose2d, sync.json, calibration) and two
earlier sessions for the progress section; each figure measured in its own process (peak resident memory,
`ru_maxrss`). *report*: `build_report` with the videos, their proxies already written (a rebuild; the first
build adds the proxies' time); ratios in brackets are against the report of revision `{opts.baseline}` (before the
video panel, no video) on the same session in the same run. Proxy time is wall time on 2 threads; per camera-frame
it is thread time.

{chr(10).join(lines)}

Budget (10-minute session, proxies aside): {BUDGET_S:.0f} s and {BUDGET_MB:.0f} MB. {verdict}
On two free cores the report takes at least half its CPU seconds (the stills, the plots and the Open3D process run
side by side).
Load average while measuring: {", ".join(f"{x:.1f}" for x in os.getloadavg())} (1, 5, 15 min) on this 2-core machine shared with
other jobs: wall times are inflated accordingly, and the ratios against the baseline (measured alongside) are the steadier figure.

Where the report's time goes:
{parts}
{chr(10).join('- ' + n for n in notes)}"""
    print(md)
    write_section("report", md)


if __name__ == "__main__":
    main()
