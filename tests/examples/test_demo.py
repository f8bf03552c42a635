"""The demo's self-check against its injected faults (pipeline.examples.demo.check)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.common.atomic import write_json, write_npz
from pipeline.contracts.pose3d import write_pose3d
from pipeline.contracts.reps import write_reps
from pipeline.analyze.stage import analyze
from pipeline.examples.demo import FAULTS, check, summary
from pipeline.common.landmarks import INDEX
from pipeline.synthetic.athlete import simulate


@pytest.fixture()
def demo_like(tmp_path):
    """A demo folder and its results, with the detected hips 3 cm up the trunk of the truth."""
    sim = simulate("deadlift", 5, faults=FAULTS, seed=3, yaw_deg=20)
    root, results = tmp_path / "demo", tmp_path / "results"
    write_npz(root / "session" / "ground_truth.npz", xyz=sim.xyz.astype(np.float32), t=sim.t, fps=np.float32(sim.fps))
    write_json(root / "session" / "labels.json", {"cues_broken": [sorted(s) for s in sim.cue_labels()]})
    xyz = sim.xyz.copy()
    up = 0.5 * (xyz[:, INDEX["left_shoulder"]] + xyz[:, INDEX["right_shoulder"]]) \
        - 0.5 * (xyz[:, INDEX["left_hip"]] + xyz[:, INDEX["right_hip"]])
    up /= np.linalg.norm(up, axis=1, keepdims=True)
    for side in ("left_hip", "right_hip"):
        xyz[:, INDEX[side]] += 0.03 * up
    write_pose3d(results / "pose3d.npz", xyz, sim.t)
    _, reps = analyze(xyz, sim.t, "deadlift", hip_offset_m=0.0)
    write_reps(results / "reps.json", reps)
    return root, results


def test_check_pairs_each_rep_with_its_injected_faults(demo_like):
    rows = check(*demo_like)
    assert [r["rep"] for r in rows] == [1, 2, 3, 4, 5]
    # no silhouettes in this fixture: the back is not judged, so the rounded rep's spine cues cannot fail
    assert rows[1]["injected"] == ["neutral_spine", "spinal_flexion"] and rows[1]["back_flex_deg"] is None
    assert rows[3]["injected"] == ["soft_knee", "squat_hinge_confusion"] and "soft_knee" in rows[3]["failed"]
    assert all(r["hip_error_along_trunk_cm"] == pytest.approx(3.0, abs=0.15) for r in rows)
    assert all(abs(r["shoulder_error_along_trunk_cm"]) < 0.1 for r in rows)


def test_summary_names_the_failed_cues_or_why_nothing_was_judged(demo_like, tmp_path):
    _, results = demo_like
    assert "rep 4: soft_knee" in summary(results) or "rep 4: squat_hinge_confusion" in summary(results)
    reps = json.loads((results / "reps.json").read_text())
    reps.update(reps=[], n_reps=0, message="session 'x' is 1.67 s long")
    (results / "reps.json").write_text(json.dumps(reps))
    assert summary(results) == "  no reps judged: session 'x' is 1.67 s long"
