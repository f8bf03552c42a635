"""The built-in example: a rendered room and a rendered athlete, run through the whole workflow.

``prepare_demo`` makes the inputs the shipped ``config/config.yaml`` names
(``resources/demo/room``: a ChArUco board filmed by a virtual 4-camera rig;
``resources/demo/session``: the synthetic athlete doing deadlifts with known
faults, filmed by the same rig); ``hingecap demo`` then runs the workflow on it.
What is already there is kept, so a second ``make demo`` only re-runs what
changed.
"""
from __future__ import annotations

from pathlib import Path

from pipeline.common.paths import ROOT
from pipeline.contracts.pose3d import read_pose3d
from pipeline.contracts.reps import read_reps

DEMO_DIR = Path("resources/demo")
EXERCISE = "deadlift"
N_REPS = 5
# Faults the coach should see in the report: the two most common hinge errors.
FAULTS = {2: ["rounded_spine"], 4: ["squatting"]}


def prepare_room(room_dir: Path, *, seed: int = 0, progress: bool = True) -> Path:
    """Render the calibration videos once (ground_truth.json is written last: its presence means done)."""
    from pipeline.synthetic.room import render_room

    if not (room_dir / "ground_truth.json").is_file():
        render_room(room_dir, n_cameras=4, seed=seed, per_camera=30, per_pair=25, progress=progress)
    return room_dir


def prepare_session(session_dir: Path, room_dir: Path, *, seed: int = 3, progress: bool = True) -> Path:
    """Render the athlete with the room's (true) cameras; writes ``labels.json`` with the injected faults."""
    from pipeline.common.atomic import write_json
    from pipeline.synthetic.room import load_truth
    from pipeline.synthetic.footage import CALIBRATION, load_truth_arrays, render_session
    from pipeline.synthetic.athlete import simulate

    # render_session writes the calibration last; a rendering from before the figure had a spine is redone
    rendered = (session_dir / CALIBRATION).is_file() and "spine" in load_truth_arrays(session_dir)
    if rendered and (session_dir / "labels.json").is_file():
        return session_dir
    # the simulation is deterministic and quick: its labels can be rewritten beside an earlier rendering
    sim = simulate(EXERCISE, N_REPS, faults=FAULTS, seed=seed, yaw_deg=20)
    write_json(session_dir / "labels.json", {
        "exercise": EXERCISE, "n_reps": sim.n_reps,
        "faults": {str(k): v for k, v in FAULTS.items()},
        "cues_broken": [sorted(s) for s in sim.cue_labels()],
    })
    if not rendered:
        render_session(sim.xyz, load_truth(room_dir)[0], session_dir, fps=sim.fps, progress=progress,
                       spine=sim.spine, spine_sigma=sim.spine_sigma, truth=sim.truth)
    return session_dir


def prepare_demo(root: Path = DEMO_DIR, *, progress: bool = True) -> tuple[Path, Path]:
    room = prepare_room(Path(root) / "room", progress=progress)
    return room, prepare_session(Path(root) / "session", room, progress=progress)


def summary(session_results: Path) -> str:
    """The lines a coach reads first: reps, quality reps, cues violated, and where the report is."""
    reps = read_reps(session_results / "reps.json")
    if not reps["reps"]:
        return f"  no reps judged: {reps.get('message', 'no rep found')}"
    lines = []
    for r in reps["reps"]:
        bad = [c["id"] for c in r["cues"] if c["verdict"] == "fail"]
        border = [c["id"] for c in r["cues"] if c["verdict"] == "borderline"]
        lines.append(f"  rep {r['index']}: {', '.join(bad) or 'quality rep'}"
                     + (f" (borderline: {', '.join(border)})" if border else ""))
    lines.append(f"  {reps['summary']['quality_reps']} quality reps of {reps['n_reps']}")
    return "\n".join(lines)


def check(root: Path = DEMO_DIR, results: Path = Path("results/sessions/demo_session")) -> list[dict]:
    """The demo's verdicts against its truth: per rep, injected cue violations, cues failed, the back's
    flexion the silhouettes gave (spinal_flexion) and the rounding injected, and how far the detected hips
    and shoulders sat from the true joints along the trunk at the bottom (+ = towards the head), the bias
    that made the landmark-only trunk length unusable."""
    import json

    import numpy as np

    from pipeline.analyze.skeleton import midpoint
    from pipeline.synthetic.footage import load_truth_arrays, load_truth_motion

    labels = json.loads((Path(root) / "session" / "labels.json").read_text())
    reps = read_reps(Path(results) / "reps.json")
    pose = read_pose3d(Path(results) / "pose3d.npz")
    xyz, t = pose.xyz, pose.t
    truth_xyz, truth_fps = load_truth_motion(Path(root) / "session")
    to_truth = np.clip(np.round(t * truth_fps).astype(int), 0, len(truth_xyz) - 1)
    truth = truth_xyz[to_truth]
    rho = load_truth_arrays(Path(root) / "session").get("truth_rho")

    hips, true_hips = (midpoint(a, "left_hip", "right_hip") for a in (xyz, truth))
    shoulders, true_shoulders = (midpoint(a, "left_shoulder", "right_shoulder") for a in (xyz, truth))
    up = true_shoulders - true_hips
    up /= np.linalg.norm(up, axis=1, keepdims=True)
    rows = []
    for r, injected in zip(reps["reps"], labels["cues_broken"]):
        b = r["bottom"]
        rows.append({
            "rep": r["index"], "injected": injected,
            "failed": sorted(c["id"] for c in r["cues"] if c["verdict"] == "fail"),
            "back_flex_deg": next(c["value"] for c in r["cues"] if c["id"] == "spinal_flexion"),
            "true_rounding_deg": float(rho[to_truth[b]]) if rho is not None else float("nan"),
            "hip_error_along_trunk_cm": round(100 * float((hips[b] - true_hips[b]) @ up[b]), 1),
            "shoulder_error_along_trunk_cm": round(100 * float((shoulders[b] - true_shoulders[b]) @ up[b]), 1),
        })
    return rows


if __name__ == "__main__":  # python -m pipeline.examples.demo: the check, after make demo
    for row in check(ROOT / DEMO_DIR, ROOT / "results" / "sessions" / "demo_session"):
        print(row)
