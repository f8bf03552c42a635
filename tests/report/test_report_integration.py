"""Simulated athlete -> analysis -> report: the report shows what the analysis found."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

analysis = pytest.importorskip("pipeline.analyze.stage", reason="pipeline.analyze.stage is not written yet")
synthetic = pytest.importorskip("pipeline.synthetic.athlete", reason="pipeline.synthetic.athlete is not written yet")


def test_report_of_an_analysed_synthetic_session(tmp_path):
    from pipeline.contracts.pose3d import write_pose3d
    from pipeline.report import build_report
    from pipeline.report.session import cue_edges, load_session, violation_mask

    sim = synthetic.simulate("deadlift", 4, faults={2: ["soft_knee"]}, fps=30.0, seed=1)
    T = sim.xyz.shape[0]
    d = tmp_path / "sim"
    write_pose3d(d / "pose3d.npz", sim.xyz, sim.t, fps=30.0, err=np.ones((T, 33)), ncams=np.full((T, 33), 4))
    analysis.analyze_session(d / "pose3d.npz", "deadlift", d, error_model=False)
    reps = json.loads((d / "reps.json").read_text())
    index = build_report(d, {"athlete": "Sim", "exercise": "deadlift"}, history=[])
    page = index.read_text()
    rows = re.findall(r'<tr data-start="\d+" data-end="\d+"', page)
    assert len(rows) == len(reps["reps"]) >= 3
    violated = [(r["index"], c) for r in reps["reps"] for c in r["cues"] if c["frames"] and c["verdict"] in ("warn", "fail")]
    links = re.findall(r'<a class="jump" href="#frame=(\d+)" data-frame="\d+" title', page)
    assert sorted(int(f) for f in links) == sorted(
        int(min(c["frames"])) if c["frames"] else int(r["bottom"])
        for r in reps["reps"] for c in r["cues"] if c["verdict"] in ("warn", "fail"))
    mask = violation_mask(load_session(d))
    landmarks = {c["id"]: c.get("landmarks", []) for c in reps["cues"]}
    for _, cue in violated:
        edges = cue_edges(landmarks[cue["id"]])
        if edges:
            assert mask[np.ix_(cue["frames"], edges)].all()
    flagged_reps = sorted({r for r, _ in violated})
    assert flagged_reps, "the injected fault must flag a rep"
    assert (d / "report" / "figures" / f"rep{flagged_reps[0]:02d}_side.png").is_file()
