"""Analysis speed: a ~10-minute session (~17,000 frames at 30 fps, 150 reps) against real time.

Simulates a long deadlift set, then times the analysis stage (kinematics, reps,
cue verdicts; writing the files excluded) and reports it as a multiple of the
session's own duration. Writes the "analysis" section of docs/benchmarks.md.

    .venv/bin/python benchmarks/analysis.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._report import write_section  # noqa: E402

FPS, REPS = 30.0, 150


def main() -> None:
    from pipeline.analyze.stage import analyze
    from pipeline.synthetic.athlete import simulate

    t0 = time.perf_counter()
    sim = simulate("deadlift", REPS, fps=FPS, seed=0, faults={i: ["rounded_spine"] for i in range(5, REPS, 7)})
    t_sim = time.perf_counter() - t0
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        _, report = analyze(sim.xyz, sim.t, "deadlift", fps=FPS)
        runs.append(time.perf_counter() - t0)
    best = min(runs)
    duration = len(sim.t) / FPS
    assert report["n_reps"] == REPS, report["n_reps"]
    md = f"""## Analysis (`benchmarks/analysis.py`)
A {duration / 60:.1f}-minute deadlift session ({len(sim.t):,} frames, {REPS} reps) from the synthetic athlete:
kinematics, rep segmentation and cue verdicts (file writing excluded), best of {len(runs)}.

| step | time | vs the session's duration |
|---|---|---|
| analysis (`pipeline.analyze.stage.analyze`) | {best:.2f} s | {duration / best:,.0f}x faster than real time |
| simulation (`pipeline.synthetic_athlete.simulate`) | {t_sim:.2f} s | {duration / t_sim:,.0f}x faster than real time |
"""
    path = write_section("analysis", md)
    print(md)
    print(f"written to {path}")


if __name__ == "__main__":
    main()
