"""How the back's profile is fused from the cameras, and which neutral it is measured from, against the truth.

On the through-video benchmark's cached sessions (run `python benchmarks/accuracy_video.py --prepare-only` first),
the back's edges of every camera are measured once (pipeline.analyze.spine_silhouette.camera_edges, the real masks
and detected landmarks); then each fusion of the views and each neutral reference gives the rounding at every true
rep's bottom (the mean of the 5 timeline frames around it, minus the neutral), scored against the figure's own back
(pipeline.evaluation.figure_truth.back_profile, bottom minus standing). The last row is an oracle: the levels hung
from the figure's own hip centre (the detected hips moved along the figure's trunk axis to it), which is what a
perfect registration of the levels on the body would give. Printed as a markdown table; the figures in
docs/accuracy.md ("What limits the back measurement") come from it.

    python benchmarks/back_view_fusion.py [--root resources/accuracy_video]
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.analyze import spine_silhouette as ss  # noqa: E402
from pipeline.common.landmarks import INDEX  # noqa: E402
from pipeline.analyze.silhouette_measures import (EARLY_DESCENT_DEG, MIN_REFERENCE_FRAMES,  # noqa: E402
                                                  neutral_reference)

FUSIONS = {
    "innermost depth (shipped)": lambda e: ss.fuse_views(e["edge"], e["phi"], e["side"])["profile"],
    "innermost distance along each line": lambda e: ss.fuse_views(e["edge"] / np.cos(np.radians(e["phi"])),
                                                                  e["phi"], e["side"])["profile"],
    "the best view's depth only": lambda e: _best_only(e),
    "innermost depth, views within 20 deg of the dorsal axis": lambda e: ss.fuse_views(e["edge"], e["phi"], e["side"],
                                                                                        max_phi=20.0)["profile"],
}


SIDE_ON_PHI = 15.0  # a neutral read on the views this close to the dorsal axis only (a row of the table)


def _best_only(e) -> np.ndarray:
    fused = ss.fuse_views(e["edge"], e["phi"], e["side"])
    cam = np.maximum(fused["camera"], 0)
    prof = np.take_along_axis(e["edge"], cam[None, :, None], 0)[0]
    return np.where((fused["camera"] >= 0)[:, None], prof, np.nan)


def _neutral(flex: np.ndarray, s: dict, how: str, edges: str = "edges") -> float:
    """Session ``s``'s neutral back angle by rule ``how``, ``flex`` its back angle per frame from ``s[edges]``."""
    standing, hip_flex = s["standing"], s["hip_flex"]
    if how == "standing (shipped)":
        return neutral_reference(flex, hip_flex, standing)[0]
    if how == f"standing, views within {SIDE_ON_PHI:.0f} deg of the dorsal axis":  # else the shipped rule
        e = s[edges]
        side_on = ss.flexion_angle(ss.fuse_views(e["edge"], e["phi"], e["side"], max_phi=SIDE_ON_PHI)["profile"],
                                   s["chord"])
        ref = neutral_reference(side_on, hip_flex, standing)
        return ref[0] if ref[1] == "standing" else neutral_reference(flex, hip_flex, standing)[0]
    with np.errstate(invalid="ignore"):
        early = (hip_flex >= EARLY_DESCENT_DEG[0]) & (hip_flex <= EARLY_DESCENT_DEG[1])
    sets = {"early in the descents": (early, standing),
            "standing and early descents": (standing | early,)}[how]
    for sel in sets:
        if np.isfinite(flex[sel]).sum() >= MIN_REFERENCE_FRAMES:
            return float(np.nanmedian(flex[sel]))
    return float("nan")


def load_session(spec, root: Path) -> dict:
    """The session's per-camera edges, the frames around each true bottom, and the figure's true rounding there."""
    from calibration.io import read_calibration
    from pipeline.analyze.silhouette_measures import load_views, standing_chord
    from pipeline.contracts.kinematics import read_kinematics
    from pipeline.contracts.pose3d import read_pose3d
    from pipeline.evaluation import figure_truth
    from pipeline.evaluation.accuracy_video import _session_paths, true_standing
    from pipeline.evaluation.video_sessions import load_spec_json
    from pipeline.synthetic.footage import load_truth_arrays

    p = _session_paths(spec, root)
    pose, kin = read_pose3d(p["pose3d"]), read_kinematics(p["results"] / "kinematics.csv")
    views = load_views(pose, p["silhouettes"], read_calibration(p["calibration"]), p["calibration"])
    xyz = pose.xyz.astype(np.float64)
    facing = np.stack([kin["facing_x"], kin["facing_y"], np.zeros(len(kin))], -1)
    standing = kin["standing"].to_numpy(bool)
    chord = standing_chord(xyz, standing)
    xyz = ss.bridge_gaps(xyz, int(round(pose.fps)))[0]
    edges = ss.camera_edges(xyz, facing, views, chord)
    truth, sj = load_truth_arrays(p["video"]), load_spec_json(p["video"])
    _, physique, _ = spec.look()
    txyz, fps = truth["xyz"].astype(np.float64), float(truth["fps"])
    to_true = np.clip(np.round(pose.t * fps).astype(int), 0, len(txyz) - 1)
    facing_true, _, chord_true, stand_frames = true_standing(truth, sj)
    # the oracle: both hip landmarks moved along the figure's trunk axis until their centre sits at the figure's
    hips = [INDEX["left_hip"], INDEX["right_hip"]]
    _, _, axis_true, _ = ss.trunk_frame(txyz[to_true], facing_true[to_true])
    along = np.sum((xyz[:, hips].mean(1) - txyz[to_true][:, hips].mean(1)) * axis_true, -1)
    at_true_hips = xyz.copy()
    at_true_hips[:, hips] -= np.nan_to_num(along)[:, None, None] * axis_true[:, None]
    edges_true_hip = ss.camera_edges(at_true_hips, facing, views, chord)
    bottoms = np.asarray(sj["rep_frames"])[:, 1]

    def true_flex(frames):
        prof = figure_truth.back_profile(txyz, truth["spine"], truth["spine_sigma"], physique, facing_true, frames,
                                         chord_true)
        return ss.flexion_angle(prof, chord_true)

    truth_standing = float(np.nanmean(true_flex(stand_frames)))
    return {"name": spec.name, "edges": edges, "edges_true_hip": edges_true_hip, "chord": chord, "standing": standing,
            "hip_flex": kin["hip_flex"].to_numpy(), "bottoms": np.abs(to_true[:, None] - bottoms[None]).argmin(0),
            "truth": true_flex(bottoms) - truth_standing, "truth_standing": truth_standing,
            "rounded": np.array(["rounded_spine" in x for x in sj["labels"]])}


def standing_by_view(sessions: list[dict]) -> list[tuple[str, int, float, float]]:
    """Each camera that saw the standing back as a side view (on at least MIN_REFERENCE_FRAMES standing frames):
    (session, camera, its lines' median angle to the dorsal axis, its standing back angle minus the figure's)."""
    out = []
    for s in sessions:
        e = s["edges"]
        for c in range(len(e["edge"])):
            one = ss.fuse_views(e["edge"][c:c + 1], e["phi"][c:c + 1], e["side"][c:c + 1])
            flex = ss.flexion_angle(one["profile"], s["chord"])
            sel = s["standing"] & np.isfinite(flex)
            if sel.sum() >= MIN_REFERENCE_FRAMES:
                out.append((s["name"], c, float(np.median(one["phi"][sel])),
                            float(np.median(flex[sel])) - s["truth_standing"]))
    return out


def score(sessions: list[dict], fusion: str, neutral: str, edges: str = "edges") -> dict:
    err, rounded, clean = [], [], []
    for s in sessions:
        flex = ss.flexion_angle(FUSIONS[fusion](s[edges]), s["chord"])
        ref = _neutral(flex, s, neutral, edges)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            value = np.array([np.nanmean(flex[max(b - 2, 0):b + 3]) for b in s["bottoms"]]) - ref
        ok = np.isfinite(value) & np.isfinite(s["truth"])
        err += list(value[ok] - s["truth"][ok])
        rounded += list(value[ok & s["rounded"]])
        clean += list(np.abs(value[ok & ~s["rounded"]]))
    e = np.abs(err)
    return {"n": len(e), "median": np.median(e), "p95": np.percentile(e, 95), "max": e.max(),
            "clean_p95": np.percentile(clean, 95), "clean_max": max(clean), "rounded_min": min(rounded)}


def main(argv=None) -> None:
    from pipeline.evaluation.video_sessions import plan

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=Path("resources/accuracy_video"))
    args = ap.parse_args(argv)
    sessions = []
    for spec in plan():
        sessions.append(load_session(spec, args.root))
        print(f"{spec.name}: edges measured", file=sys.stderr, flush=True)
    print("| fusion of the views | neutral | reps | error median | p95 | max | clean reps: abs value p95 / max "
          "| rounded reps: lowest value |")
    print("|---|---|---|---|---|---|---|---|")
    shipped = "innermost depth (shipped)"
    neutral = "standing (shipped)"
    combos = [(f, neutral, "edges") for f in FUSIONS] + [
        (shipped, n, "edges") for n in (f"standing, views within {SIDE_ON_PHI:.0f} deg of the dorsal axis",
                                        "early in the descents", "standing and early descents")] + [
        (shipped, neutral, "edges_true_hip")]
    for fusion, how, edges in combos:
        r = score(sessions, fusion, how, edges)
        label = fusion if edges == "edges" else f"{fusion}, levels hung from the figure's hip centre (oracle)"
        print(f"| {label} | {how} | {r['n']} | {r['median']:.1f} | {r['p95']:.1f} | {r['max']:.1f} "
              f"| {r['clean_p95']:.1f} / {r['clean_max']:.1f} | {r['rounded_min']:.1f} |")
    views = standing_by_view(sessions)
    print("\nThe standing back per side view, minus the figure's (deg):")
    for lo, hi in ((-1.0, SIDE_ON_PHI), (SIDE_ON_PHI, ss.MAX_PHI_DEG)):
        cls = [(n, c, v) for n, c, phi, v in views if lo < phi <= hi]
        if cls:
            d = np.array([v for _, _, v in cls])
            print(f"- views whose lines lie {max(lo, 0):.0f}-{hi:.0f} deg off the dorsal axis: {d.size} views, median "
                  f"{np.median(d):+.1f}, range {d.min():+.1f} to {d.max():+.1f} "
                  f"({', '.join(f'{n[:3]} cam{c} {v:+.1f}' for n, c, v in cls)})")


if __name__ == "__main__":
    main()
