"""Where BlazePose puts the hip centre and the shoulders along the trunk, against the figure's joints, by hip flexion.

The back's angle is read on levels hung from the detected hip centre (pipeline.analyze.spine_silhouette), and the
figure's own surface reads about 4 deg per cm that the hip centre moves along the trunk (docs/accuracy.md, "What
limits the back measurement"). This prints, per cached benchmark session, how far the detected hip centre and
mid-shoulders lie from the figure's along its trunk axis (cm, + = toward the head) while standing, and their drift
from that standing offset at 15-40, 40-70 and 70+ deg of hip flexion, with the detected and true changes of the
hip -> shoulder distance. A drift that differs between standing and the bottom is an error of the back's
rounding; one the chord's change tracks could be corrected from the landmarks, one it does not track could not.

    python benchmarks/hip_drift.py [--root resources/accuracy_video]   # after accuracy_video.py --prepare-only
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BINS = ((15.0, 40.0), (40.0, 70.0), (70.0, 180.0))


def session_drift(spec, root: Path) -> dict:
    """Per frame of one session: hip flexion, standing, the hip centre's and shoulders' offsets along the figure's
    trunk (cm), the detected and the true hip -> shoulder distance (cm)."""
    from pipeline.analyze import spine_silhouette as ss
    from pipeline.analyze.skeleton import midpoint
    from pipeline.contracts.kinematics import read_kinematics
    from pipeline.contracts.pose3d import read_pose3d
    from pipeline.evaluation.accuracy_video import _session_paths, true_standing
    from pipeline.evaluation.video_sessions import load_spec_json
    from pipeline.synthetic.footage import load_truth_arrays

    p = _session_paths(spec, root)
    pose, kin = read_pose3d(p["pose3d"]), read_kinematics(p["results"] / "kinematics.csv")
    truth, sj = load_truth_arrays(p["video"]), load_spec_json(p["video"])
    xyz = pose.xyz.astype(np.float64)
    txyz = truth["xyz"].astype(np.float64)[np.clip(np.round(pose.t * float(truth["fps"])).astype(int), 0,
                                                   len(truth["xyz"]) - 1)]
    facing_true = np.broadcast_to(true_standing(truth, sj)[0][:1], (len(txyz), 3))
    _, _, e_u, _ = ss.trunk_frame(txyz, facing_true)  # the figure's trunk axis, in its sagittal plane
    H, Ht = (midpoint(a, "left_hip", "right_hip") for a in (xyz, txyz))
    S, St = (midpoint(a, "left_shoulder", "right_shoulder") for a in (xyz, txyz))
    return {"hip_flex": kin["hip_flex"].to_numpy(), "standing": kin["standing"].to_numpy(bool),
            "hip": 100 * np.sum((H - Ht) * e_u, -1), "shoulders": 100 * np.sum((S - St) * e_u, -1),
            "chord": 100 * np.linalg.norm(S - H, axis=-1), "chord_true": 100 * np.linalg.norm(St - Ht, axis=-1)}


def row(name: str, d: dict) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        st = d["standing"]
        base = {k: np.nanmedian(d[k][st]) for k in ("hip", "shoulders", "chord", "chord_true")}
        cells = [f"{base['hip']:+.1f} / {base['shoulders']:+.1f}"]
        for lo, hi in BINS:
            m = (d["hip_flex"] >= lo) & (d["hip_flex"] < hi)
            if m.sum() < 5:
                cells.append("-")
                continue
            drift = [np.nanmedian(d[k][m]) - base[k] for k in ("hip", "shoulders", "chord", "chord_true")]
            cells.append("{:+.1f} / {:+.1f} (chord {:+.1f}, true {:+.1f})".format(*drift))
    return f"| {name} | " + " | ".join(cells) + " |"


def main(argv=None) -> None:
    from pipeline.evaluation.video_sessions import plan

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=Path("resources/accuracy_video"))
    args = ap.parse_args(argv)
    print("| session | standing: hip / shoulders off (cm) | " + " | ".join(
        f"{lo:.0f}-{hi:.0f} deg: hip / shoulder drift (chord change, true)" if hi < 180 else
        f"{lo:.0f}+ deg: hip / shoulder drift (chord change, true)" for lo, hi in BINS) + " |")
    print("|---|---|" + "---|" * len(BINS))
    for spec in plan():
        print(row(spec.name, session_drift(spec, args.root)), flush=True)


if __name__ == "__main__":
    main()
