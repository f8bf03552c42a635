"""Report generation time for a 60 s session (1,800 frames at 30 fps, 12 reps) against the 2-minute budget.

Uses the analysis stage on a simulated athlete. Writes the "report" section
of docs/benchmarks.md.

    .venv/bin/python benchmarks/report.py
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._report import write_section  # noqa: E402

BUDGET_S = 120.0
SECONDS, FPS, REPS = 60.0, 30.0, 12
FAULTS = {2: ["soft_knee"], 5: ["neutral_spine", "hip_back"], 9: ["hip_back"], 11: ["soft_knee", "neutral_spine"]}


def make_session(folder: Path) -> tuple[Path, str]:
    import numpy as np

    from pipeline.analyze.stage import analyze_session
    from pipeline.contracts.pose3d import write_pose3d
    from pipeline.synthetic.athlete import simulate

    sim = simulate("deadlift", REPS, faults=FAULTS, fps=FPS, seed=0)
    short_s = SECONDS - sim.xyz.shape[0] / FPS
    if short_s > 0:  # stand longer before and after the set to reach the full minute
        sim = simulate("deadlift", REPS, faults=FAULTS, fps=FPS, seed=0, stand_s=1.2 + short_s / 2)
    T = sim.xyz.shape[0]
    write_pose3d(folder / "pose3d.npz", sim.xyz, sim.t, fps=FPS, err=np.ones((T, 33)), ncams=np.full((T, 33), 4))
    analyze_session(folder / "pose3d.npz", "deadlift", folder)
    return folder, f"synthetic athlete + analysis ({T} frames)"


def main() -> None:
    from pipeline.report import build_report

    with tempfile.TemporaryDirectory() as tmp:
        folder, source = make_session(Path(tmp) / "bench")
        history = []
        for i in range(2):
            from pipeline.synthetic.report_session import write_sample_session

            history.append({"dir": write_sample_session(Path(tmp) / f"h{i}", n_reps=REPS, seconds=SECONDS, fps=FPS,
                                                        faults={1: ["soft_knee"]}, depth_deg=85 + 4 * i),
                            "date": f"2026-11-0{i + 1}"})
        timings: dict = {}
        start = time.perf_counter()
        index = build_report(folder, {"athlete": "Benchmark", "exercise": "deadlift", "date": "2026-11-20", "load_kg": 80},
                             history=history, timings=timings)
        total = time.perf_counter() - start
        size_mb = index.stat().st_size / 1e6
        from pipeline.contracts.reps import read_reps

        n_frames = len((folder / "kinematics.csv").read_text().splitlines()) - 1
        n_reps = len(read_reps(folder / "reps.json")["reps"])
    rows = "\n".join(f"| {k} | {v:.2f} |" for k, v in timings.items())
    md = f"""## Report generation (`benchmarks/report.py`)

A {n_frames / FPS:.0f} s session ({n_frames} frames, {n_reps} reps; {source}) with two earlier sessions for the
progress section: `build_report` end to end, Open3D figures included (side + front view per rep).

| part | seconds |
|---|---|
{rows}
| **total** | **{total:.2f}** |

Budget 120 s on this machine: total / budget = **{total / BUDGET_S:.3f}** ({BUDGET_S / total:.0f}× under).
Page size {size_mb:.2f} MB (self-contained: three.js, data, figures and plots inlined)."""
    print(md)
    write_section("report", md)


if __name__ == "__main__":
    main()
