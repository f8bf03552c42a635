"""Multi-person 2D detection against the single-person path it replaced: time per frame, in the same run.

Renders the gym scene of ``pipeline.synthetic.people.gym_scene`` (the athlete doing hinge reps; with 2 people
a coach standing beside; with 3 someone walking past too) through one 640x480 camera that sees all of them,
decodes it once, then times per frame, interleaved and best of ``--repeats``:

- *single*: ``mp.solutions.pose`` (one tracker, whoever it finds first), with segmentation, as the detect
  stage ran before (``pipeline.detect.blazepose.pose_landmarks``);
- *people*: ``pipeline.detect.people.track_people`` with the camera's calibration (the person nearest the
  capture area measured every frame, the others sharing 0.3 landmark runs per frame, the detector every
  0.5 s), with segmentation, as the detect stage runs now.

Frames per second per camera, the ratio of the time per frame (target: at most 1.5x) and the landmark and
detector runs per frame; wall time of the frame loop after its first 10 frames (graph start-up excluded) and
the process's CPU time (the machine may be shared). Results: docs/benchmarks.md (section "detection").

    .venv/bin/python benchmarks/detection.py [--frames 120] [--repeats 3]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._report import write_section  # noqa: E402

FPS = 30.0
WARM = 10  # frames left out of the timing: graph creation and the first detections


class Clock:
    """Wraps a frame list; the time at which each frame is asked for (so the loop's own pace is measured)."""

    def __init__(self, frames: list) -> None:
        self.frames, self.stamps = frames, []

    def __iter__(self):
        for f in self.frames:
            self.stamps.append(time.perf_counter())
            yield f
        self.stamps.append(time.perf_counter())

    def per_frame_ms(self) -> float:
        s = np.asarray(self.stamps)
        return float(1000 * (s[-1] - s[WARM]) / (len(s) - 1 - WARM))


def scene_frames(n_people: int, n_frames: int, out: Path):
    """Frames (BGR) of one camera that sees all ``n_people`` of the gym scene, the camera and the floor target."""
    from calibration.floor import capture_centre
    from pipeline.detect.video import read_frames
    from pipeline.synthetic.footage import render_session
    from pipeline.synthetic.people import gym_scene, people_views

    sim, rig, others = gym_scene(4, rig_seed=0, fps=FPS, size=(640, 480), reps=3)
    others = others[:n_people - 1]
    T = min(n_frames, len(sim.xyz))
    for o in others:
        o.xyz = o.xyz[:T]
    people = np.stack([sim.xyz[:T]] + [o.xyz for o in others]) if others else sim.xyz[None, :T]
    # the camera with everyone in view on most frames
    views = people_views(np.asarray(people, float), rig, noise_px=0.0, others_every=1)
    seen = [np.isfinite(xy[..., 0, 0]).any(0).sum() + np.isfinite(xy[..., 0, 0]).mean() for xy, *_ in views]
    cam = rig[int(np.argmax(seen))]
    render_session(sim.xyz[:T], [cam], out, fps=FPS, progress=False, others=others, size=cam.size)
    return list(read_frames(out / f"{cam.name}.mp4")), cam, capture_centre(rig)


def time_single(frames: list) -> tuple[float, float]:
    from pipeline.detect.blazepose import pose_landmarks

    clock = Clock(frames)
    cpu = time.process_time()
    pose_landmarks(clock, 1, segmentation=True)
    return clock.per_frame_ms(), 1000 * (time.process_time() - cpu) / len(frames)


def time_people(frames: list, cam, target) -> tuple[float, float, dict]:
    from pipeline.detect.people import FocusRule, track_people

    clock = Clock(frames)
    cpu = time.process_time()
    found = track_people(clock, FPS, focus=FocusRule(cam, target), segmentation=True)
    return clock.per_frame_ms(), 1000 * (time.process_time() - cpu) / len(frames), found.stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (1, 2, 3):
            frames, cam, target = scene_frames(n, args.frames, Path(tmp) / f"p{n}")
            single, people, stats = [], [], None
            for _ in range(args.repeats):  # interleaved: both paths see the same load
                single.append(time_single(frames))
                wall, cpu, stats = time_people(frames, cam, target)
                people.append((wall, cpu))
            s_wall, s_cpu = np.min(single, axis=0)
            p_wall, p_cpu = np.min(people, axis=0)
            F = stats["frames"]
            rows.append({"n": n, "frames": F, "camera": cam.name, "s_wall": s_wall, "s_cpu": s_cpu, "p_wall": p_wall,
                         "p_cpu": p_cpu, "lm": stats["landmarks"] / F, "det": stats["detector"] / F,
                         "people": np.average(np.arange(len(stats["people_per_frame"])), weights=stats["people_per_frame"])})
            print(rows[-1], flush=True)
    table = ["| people in view | single path: frames/s (ms) | multi-person path: frames/s (ms) | time per frame | CPU time per frame | landmark runs / frame | detector runs / frame | people measured / frame |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        table.append(f"| {r['n']} | {1000 / r['s_wall']:.1f} ({r['s_wall']:.1f} ms) | {1000 / r['p_wall']:.1f} ({r['p_wall']:.1f} ms) "
                     f"| **{r['p_wall'] / r['s_wall']:.2f}x** | {r['p_cpu'] / r['s_cpu']:.2f}x | {r['lm']:.2f} | {r['det']:.2f} "
                     f"| {r['people']:.2f} |")
    md = "\n".join([
        "## Multi-person detection (`benchmarks/detection.py`)",
        "",
        f"The gym scene (`pipeline.synthetic.people.gym_scene`: the athlete doing hinge reps, a coach standing beside, "
        f"someone walking past) through one 640x480 camera of `virtual_rig(4, seed=0)` that sees everyone, "
        f"{args.frames} frames at {FPS:g} fps, decoded once. *Single*: `mp.solutions.pose` with segmentation, the "
        "detect stage's path before people had slots (it follows one person). *Multi-person*: "
        "`pipeline.detect.people.track_people` with the calibration and segmentation, the detect stage's path now. "
        f"Time per frame of the frame loop after its first {WARM} frames, best of {args.repeats} interleaved runs; "
        "the ratio is multi-person over single. The target is at most 1.5x.",
        "",
        *table,
    ])
    print(md)
    print(write_section("detection", md))


if __name__ == "__main__":
    main()
