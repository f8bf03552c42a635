"""Through-video accuracy: rendered sessions through MediaPipe and the real stages, every cue scored.

``python benchmarks/accuracy_video.py`` (see there). The sessions are
``pipeline.evaluation.video_sessions.plan()``; this module runs them and scores
the verdicts against the injected faults.
"""
from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np

from pipeline.common.paths import ROOT
from pipeline.evaluation.video_sessions import SessionSpec, plan, prepare

log = logging.getLogger("accuracy_video")

CACHE = ROOT / "resources" / "accuracy_video"


def _prepare_one(args: tuple[SessionSpec, Path]) -> tuple[str, float, str | None]:
    spec, root = args
    _setup_logging(root)
    t0 = time.time()
    try:
        prepare(spec, root)
    except Exception as exc:  # one broken session must not stop the others; it is reported and retried next run
        logging.getLogger("accuracy_video").exception("%s failed", spec.name)
        return spec.name, time.time() - t0, f"{type(exc).__name__}: {exc}"
    return spec.name, time.time() - t0, None


def _setup_logging(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    handlers = [logging.StreamHandler(sys.stdout), logging.FileHandler(root / "benchmark.log")]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(processName)s %(name)s: %(message)s",
                        handlers=handlers, force=True)


def prepare_all(specs: list[SessionSpec], root: Path, jobs: int = 1) -> dict[str, str]:
    """Render and run the stages for every session (skipping what is done); returns the failures."""
    failed = {}
    work = [(s, root) for s in specs]
    if jobs <= 1:
        results = map(_prepare_one, work)
    else:  # spawn: a fresh interpreter per worker (EGL and MediaPipe do not survive a fork)
        pool = mp.get_context("spawn").Pool(jobs)
        results = pool.imap_unordered(_prepare_one, work)
    for name, seconds, err in results:
        log.info("%s: %s after %.0f s", name, "ready" if err is None else f"FAILED ({err})", seconds)
        if err is not None:
            failed[name] = err
    return failed


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python benchmarks/accuracy_video.py", description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=CACHE, help="cache of rendered sessions and stage outputs")
    ap.add_argument("--only", nargs="*", help="session names (default: all of plan())")
    ap.add_argument("--jobs", type=int, default=1, help="sessions rendered/detected side by side")
    ap.add_argument("--prepare-only", action="store_true", help="render, detect, sync, triangulate; no scoring")
    ap.add_argument("--cues", type=Path, default=None, help="cues file to judge with (default: config/cues.yaml)")
    ap.add_argument("--no-docs", action="store_true", help="print the tables only")
    ap.add_argument("--doc", type=Path, default=ROOT / "docs" / "accuracy.md")
    ap.add_argument("--json", type=Path, default=ROOT / "docs" / "accuracy_video.json")
    ap.add_argument("--fit-error-model", action="store_true",
                    help="fit config/measurement_error.yaml (each cue's interval) on these sessions, then score with it")
    ap.add_argument("--error-model", type=Path, default=None,
                    help="measurement-error model to judge with (default: config/measurement_error.yaml)")
    a = ap.parse_args(argv)
    _setup_logging(a.root)
    specs = [s for s in plan() if not a.only or s.name in a.only]
    t0 = time.time()
    failed = prepare_all(specs, a.root, a.jobs)
    log.info("prepared %d sessions in %.0f s (%d failed)", len(specs) - len(failed), time.time() - t0, len(failed))
    if a.prepare_only:
        return
    ready = [s for s in specs if s.name not in failed]
    results = run_scoring(ready, a.root, a.cues, a.error_model)
    if a.fit_error_model:
        from pipeline.analyze.uncertainty import DEFAULT_MODEL, fit, write_model

        target = a.error_model or DEFAULT_MODEL
        model = fit([r for s in results for r in s["rows"]])
        write_model(target, model, f"python benchmarks/accuracy_video.py --fit-error-model: {len(results)} sessions")
        log.info("wrote %s: %s", target, ", ".join(f"{c} {k:.3g}" for c, k in model.k.items()))
        results = run_scoring(ready, a.root, a.cues, target)
    summary = summarize(results)
    command = "python benchmarks/accuracy_video.py" + (f" --only {' '.join(a.only)}" if a.only else "")
    text = markdown(results, summary, command)
    print(text)
    if not a.no_docs:
        write_docs(text, results, summary, command, a.doc, a.json)
    if failed:
        raise SystemExit(f"{len(failed)} session(s) failed: {', '.join(failed)} (see {a.root / 'benchmark.log'})")


if __name__ == "__main__":
    main()


# --------------------------------------------------------------------------------------------------------------
# Analysis and scoring
# --------------------------------------------------------------------------------------------------------------

WARN_ONLY = ("hip_mobility",)  # reported, never a violation: no precision/recall


def _session_paths(spec: SessionSpec, root: Path) -> dict:
    from pipeline.evaluation.video_sessions import session_dirs

    video_dir, res = session_dirs(spec, root)
    names = [c.name for c in spec.cameras()]
    return {"video": video_dir, "results": res, "pose3d": res / "pose3d.npz",
            "silhouettes": {c: res / "silhouette" / f"{c}.npz" for c in names},
            "calibration": video_dir / "calibration.toml"}


def analyze_one(spec: SessionSpec, root: Path, cues_path: Path | None = None, error_model: Path | None = None) -> dict:
    """Run the analyze stage's entry on one prepared session (always: it is quick and the thing measured)."""
    from pipeline.analyze.stage import analyze_session

    p = _session_paths(spec, root)
    return analyze_session(p["pose3d"], spec.exercise, p["results"], cues_path, silhouettes=p["silhouettes"],
                           calibration=p["calibration"], require_reps=False, error_model=error_model)


def _mean(x) -> float:
    x = np.asarray(x, float)
    return float(np.mean(x[np.isfinite(x)])) if np.isfinite(x).any() else float("nan")


def score_session(spec: SessionSpec, root: Path, report: dict) -> dict:
    """Per true rep and cue: injected or not, verdict, measured value, the truth, capture-quality covariates."""
    from calibration.io import read_calibration
    from pipeline.analyze.stage import analyze
    from pipeline.contracts.kinematics import read_kinematics
    from pipeline.contracts.pose3d import read_pose3d
    from pipeline.evaluation import figure_truth
    from pipeline.evaluation.video_sessions import load_spec_json
    from pipeline.analyze.kinematics import centre_of_mass
    from pipeline.analyze.uncertainty import CaptureQuality, image_side, quality_window
    from pipeline.synthetic.athlete import FAULT_CUES
    from pipeline.synthetic.footage import load_truth_arrays

    p = _session_paths(spec, root)
    pose = read_pose3d(p["pose3d"])
    rig = read_calibration(p["calibration"])
    capture = CaptureQuality.from_pose(pose.ncams, pose.err, image_side(rig, pose.cameras))
    kin = read_kinematics(p["results"] / "kinematics.csv")
    truth = load_truth_arrays(p["video"])
    sj = load_spec_json(p["video"])
    fps_true = float(truth["fps"])
    txyz = truth["xyz"].astype(np.float64)
    t_true = np.arange(len(txyz)) / fps_true
    to_true = np.clip(np.round(pose.t * fps_true).astype(int), 0, len(txyz) - 1)  # timeline frame -> truth frame
    tkin, treport = analyze(txyz, t_true, spec.exercise, fps=fps_true, require_reps=False)
    labels = [set(x) for x in sj["labels"]]
    cue_labels = [{c for f in fs for c in FAULT_CUES[f]} for fs in labels]
    rep_frames = np.asarray(sj["rep_frames"])
    _, physique, _ = spec.look()
    facing_true, _, chord_true, stand_frames = true_standing(truth, sj)
    back_stand = _mean(figure_truth.back_flexion(txyz, truth["spine"], truth["spine_sigma"], physique, facing_true,
                                                 stand_frames, chord_true))
    com_true = centre_of_mass(txyz)
    det_bottoms = np.array([to_true[r["bottom"]] for r in report["reps"]])
    true_bottoms_by_report = np.array([r["bottom"] for r in treport["reps"]])
    rows, reps_found = [], []
    for i, (s0, b, e) in enumerate(rep_frames):
        found = None
        if len(det_bottoms):
            j = int(np.argmin(np.abs(det_bottoms - b)))
            r = report["reps"][j]
            if to_true[r["start"]] <= b <= to_true[r["end"]]:
                found = r
        reps_found.append(found is not None)
        trep = None
        if len(true_bottoms_by_report):
            jt = int(np.argmin(np.abs(true_bottoms_by_report - b)))
            trep = treport["reps"][jt]
        # the figure's truth at the detected rep's bottom window (mapped to truth frames), else the true bottom
        if found is not None:
            bw = np.arange(found["bottom"] - 2, found["bottom"] + 3)
            bw = bw[(bw >= 0) & (bw < len(to_true))]
            tb = np.unique(to_true[bw])
        else:
            tb = np.array([b])
        back_true = _mean(figure_truth.back_flexion(txyz, truth["spine"], truth["spine_sigma"], physique,
                                                    facing_true, tb, chord_true))
        shoe = figure_truth.shoe_footprint(txyz, physique, tb)
        heel = 0.5 * (shoe["left_heel"] + shoe["right_heel"])
        toe = 0.5 * (shoe["left_toe"] + shoe["right_toe"])
        foot = (toe - heel) * np.array([1.0, 1.0, 0.0])
        com_fp_true = _mean(np.sum((com_true[tb] - heel) * foot, -1) / np.sum(foot * foot, -1))
        others = [k for k in range(len(rep_frames)) if k != i]
        shrug = truth.get("truth_shrug_m")
        shrug_true = (100 * (shrug[b] - np.median(shrug[rep_frames[others, 1]])) if shrug is not None and others
                      else float("nan"))
        tm = trep["metrics"] if trep is not None else {}
        truth_values = {
            "spinal_flexion": back_true - back_stand, "neutral_spine": _rep_back_absmax(
                figure_truth, txyz, truth, physique, facing_true, chord_true, back_stand,
                np.unique(to_true[found["start"]:found["end"] + 1]) if found is not None else np.array([b])),
            "weight_on_heels": com_fp_true, "shoulder_pack": shrug_true,
            "soft_knee": tm.get("knee_bend_bottom"), "squat_hinge_confusion": _ratio(tm.get("knee_flex_bottom"), tm.get("hip_flex_bottom")),
            "hip_back": tm.get("hip_travel_bottom"), "knee_tracking": None,
            "depth_consistency": tm.get("depth_dev"), "slow_eccentric": tm.get("eccentric_ratio"),
            "hips_before_arms": tm.get("hips_lead_s"), "hip_mobility": tm.get("hip_flex_max"),
        }
        if trep is not None:  # knee deviation: the same cue judged on the true landmarks
            tk = next((c for c in trep["cues"] if c["id"] == "knee_tracking"), None)
            truth_values["knee_tracking"] = tk["value"] if tk else None
        extra_truth = {"rho_deg": float(truth["truth_rho"][b]), "back_flex_true_deg": back_true,
                       "back_flex_standing_true_deg": back_stand, "com_heel_toe_true": float(truth["truth_com_heel_toe"][b]),
                       "shrug_true_cm": 100 * float(shrug[b]) if shrug is not None else None,
                       "knee_flex_true_deg": float(truth["truth_knee_flex"][b]), "hip_flex_true_deg": float(truth["truth_hip_flex"][b])}
        quality = {}
        if found is not None:
            bw0, bw1 = found["bottom"] - 3, found["bottom"] + 4
            sl = slice(max(bw0, 0), bw1)
            quality = {"gap_s": found.get("gap_s"), "reliable": found.get("reliable"),
                       "back_camera": _mode(kin["back_camera"].to_numpy()[sl]) if "back_camera" in kin else None,
                       "back_phi_deg": _mean(kin["back_phi"].to_numpy()[sl]) if "back_phi" in kin else None,
                       "back_side_deg": _mean(kin["back_side_deg"].to_numpy()[sl]) if "back_side_deg" in kin else None,
                       "best_side_deg": _mean(kin["back_best_side_deg"].to_numpy()[sl]) if "back_best_side_deg" in kin else None,
                       "back_cover": _mean(kin["back_cover"].to_numpy()[sl]) if "back_cover" in kin else None,
                       "back_flex_deg": _mean(kin["back_flex"].to_numpy()[sl]) if "back_flex" in kin else None,
                       "back_bridged_frames": int(np.nansum(kin["back_bridged"].to_numpy()[found["start"]:found["end"] + 1]))
                       if "back_bridged" in kin else None}
        for c in (found["cues"] if found is not None else []):
            # the capture quality exactly as the analyze stage reads it for the cue's interval
            ncams, permille = (capture.at(c["id"], quality_window(found["bottom"], pose.n_frames))
                               if capture is not None else (None, None))
            tv = truth_values.get(c["id"])
            rows.append({
                "session": spec.name, "exercise": spec.exercise, "rig": spec.rig.name, "n_cameras": spec.rig.n_cameras,
                "size": list(spec.rig.size), "fps": spec.rig.fps, "orientation": spec.rig.orientation,
                "rep": i + 1, "faults": sorted(labels[i]), "cue": c["id"], "injected": c["id"] in cue_labels[i],
                "clean_rep": not labels[i], "verdict": c["verdict"], "value": c["value"],
                "truth": None if tv is None or not np.isfinite(tv) else round(float(tv), 4),
                "reason": c.get("reason"), "note": c.get("note"),
                "comparator": c.get("comparator"), "threshold": c.get("threshold"), "interval": c.get("interval"),
                "typical_clean": (c.get("capture") or {}).get("typical_clean"),
                "typical_interval": (c.get("capture") or {}).get("typical_interval"),
                "cameras": None if ncams is None or not np.isfinite(ncams) else round(ncams, 2),
                "reprojection_permille": None if permille is None or not np.isfinite(permille) else round(permille, 2),
                **quality, **{k: (None if v is None or not np.isfinite(v) else round(float(v), 3)) for k, v in extra_truth.items()},
            })
    frame_err = _frame_errors(kin, tkin, to_true, truth)
    return {"name": spec.name, "exercise": spec.exercise, "rig": spec.rig.name, "reps_true": len(rep_frames),
            "reps_found": report["n_reps"], "reps_matched": int(sum(reps_found)), "rows": rows, "frame_errors": frame_err,
            "reprojection_px": pose.info.get("reprojection_px", {}).get("median_body_joints"),
            "athlete": sj.get("athlete"), "body": sj.get("body"), "look": sj.get("look")}


def true_standing(truth: dict, sj: dict) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """The figure's facing (T,3), its standing frames (T,) bool (not walking), its standing hip -> shoulder chord
    (m) and 5 of those frames to read its neutral back on."""
    from pipeline.analyze.silhouette_measures import standing_chord

    txyz = truth["xyz"].astype(np.float64)
    facing = np.tile(np.array([*sj["facing"], 0.0]), (len(txyz), 1))
    standing = truth["truth_progress"] == 0
    if "truth_walking" in truth:
        standing &= ~truth["truth_walking"].astype(bool)
    frames = np.flatnonzero(standing)[:: max(1, int(standing.sum() // 5))][:5]
    return facing, standing, standing_chord(txyz, standing), frames


def _rep_back_absmax(figure_truth, txyz, truth, physique, facing, chord, stand, frames) -> float:
    """neutral_spine's truth on its own definition: the figure's largest change of back flexion from its
    neutral over the whole rep, either way (every 3rd frame: the back bends over tenths of a second)."""
    change = figure_truth.back_flexion(txyz, truth["spine"], truth["spine_sigma"], physique, facing, frames[::3],
                                       chord) - stand
    change = change[np.isfinite(change)]
    return float(change[np.argmax(np.abs(change))]) if change.size else float("nan")


def _ratio(a, b):
    return float(a) / max(float(b), 1.0) if a is not None and b is not None else None


def _mode(values) -> str | None:
    vals = [str(v) for v in values if isinstance(v, str) and v]
    return max(set(vals), key=vals.count) if vals else None


def _frame_errors(kin, tkin, to_true, truth) -> dict:
    """Per-frame errors (measured - truth on the same definition) over the set (walking excluded)."""
    in_set = ~truth["truth_walking"].astype(bool)[to_true] if "truth_walking" in truth else np.ones(len(to_true), bool)
    out = {}
    for col, scale in (("hip_flex", 1.0), ("knee_flex", 1.0), ("knee_bend", 1.0), ("hip_travel", 100.0),
                       ("com_heel_toe", 1.0)):
        if col in kin and col in tkin:
            e = (kin[col].to_numpy(float) - tkin[col].to_numpy(float)[to_true]) * scale
            out[col] = e[in_set & np.isfinite(e)].tolist()
    return out


def run_scoring(specs: list[SessionSpec], root: Path, cues_path: Path | None = None,
                error_model: Path | None = None) -> list[dict]:
    out = []
    for spec in specs:
        t0 = time.time()
        report = analyze_one(spec, root, cues_path, error_model)
        out.append(score_session(spec, root, report))
        log.info("%s: analysed and scored in %.0f s", spec.name, time.time() - t0)
    return out


def _stats(values) -> dict:
    v = np.abs(np.asarray([x for x in values if x is not None and np.isfinite(x)], float))
    if not v.size:
        return {"n": 0, "median": None, "p95": None, "max": None}
    return {"n": int(v.size), "median": float(np.median(v)), "p95": float(np.percentile(v, 95)), "max": float(v.max())}


def summarize(results: list[dict]) -> dict:
    """Per-cue precision and recall of FAIL, not-judged counts, clean-rep false FAILs, rep counts, metric errors."""
    rows = [r for s in results for r in s["rows"]]
    cues = sorted({r["cue"] for r in rows} - set(WARN_ONLY))
    per_cue = {}
    for c in cues:
        rc = [r for r in rows if r["cue"] == c]
        fail = lambda r: r["verdict"] == "fail"  # noqa: E731
        judged = lambda r: r["verdict"] not in ("not_judged", "borderline")  # noqa: E731
        tp = sum(r["injected"] and fail(r) for r in rc)
        fp = sum(not r["injected"] and fail(r) for r in rc)
        fn = sum(r["injected"] and judged(r) and not fail(r) for r in rc)
        tn = sum(not r["injected"] and judged(r) and not fail(r) for r in rc)
        bl_f = sum(r["injected"] and r["verdict"] == "borderline" for r in rc)
        bl_c = sum(not r["injected"] and r["verdict"] == "borderline" for r in rc)
        nj_f = sum(r["injected"] and r["verdict"] == "not_judged" for r in rc)
        nj_c = sum(not r["injected"] and r["verdict"] == "not_judged" for r in rc)
        err = [r["value"] - r["truth"] for r in rc if r["value"] is not None and r["truth"] is not None]
        per_cue[c] = {"faulty": tp + fn + nj_f + bl_f, "clean": fp + tn + nj_c + bl_c, "tp": tp, "fp": fp, "fn": fn, "tn": tn,
                      "not_judged_faulty": nj_f, "not_judged_clean": nj_c,
                      "borderline_faulty": bl_f, "borderline_clean": bl_c,
                      "precision": tp / (tp + fp) if tp + fp else None,
                      "recall": tp / (tp + fn) if tp + fn else None,
                      "recall_all": tp / (tp + fn + nj_f + bl_f) if tp + fn + nj_f + bl_f else None,
                      "error": _stats(err)}
    clean = {(r["session"], r["rep"]) for r in rows if r["clean_rep"]}
    false_fail = sorted({(r["session"], r["rep"]) for r in rows if r["clean_rep"] and r["verdict"] == "fail"
                         and r["cue"] not in WARN_ONLY})
    spine = [r for r in rows if r["cue"] == "spinal_flexion" and r["value"] is not None]
    frame = {}
    for key in ("hip_flex", "knee_flex", "knee_bend", "hip_travel", "com_heel_toe"):
        frame[key] = _stats([e for s in results for e in s["frame_errors"].get(key, [])])
    return {
        "sessions": len(results), "reps_true": sum(s["reps_true"] for s in results),
        "reps_found": sum(s["reps_found"] for s in results),
        "sessions_count_exact": sum(s["reps_found"] == s["reps_true"] for s in results),
        "rigs": sorted({s["rig"] for s in results}), "clean_reps": len(clean),
        "reps_scored": len({(r["session"], r["rep"]) for r in rows}),
        "clean_false_fail": len(false_fail), "clean_false_fail_rate": len(false_fail) / len(clean) if clean else None,
        "false_fail_reps": [f"{s} rep {k}" for s, k in false_fail], "per_cue": per_cue,
        "spine_vs_figure": _stats([r["value"] - r["truth"] for r in spine if r["truth"] is not None]),
        "spine_abs_vs_figure": _stats([r["back_flex_deg"] - r["back_flex_true_deg"] for r in spine
                                       if r.get("back_flex_deg") is not None and r["back_flex_true_deg"] is not None]),
        "spine_vs_rho": _stats([r["value"] - r["rho_deg"] for r in spine if r["rho_deg"] is not None]),
        "frame_errors": frame,
        "borderline": {c: sum(r["cue"] == c and r["verdict"] == "borderline" for r in rows) for c in cues},
        "intervals": interval_figures(rows),
    }


MULTIPLIERS = (0.0, 0.5, 1.0, 1.5, 2.0)  # the intervals scaled, for the borderline / false-FAIL trade-off


def _as_cue(r: dict):
    from pipeline.analyze.cues import Cue

    thr = r.get("threshold") or {}
    return Cue(r["cue"], "", "", "", r["comparator"], thr.get("warn"), thr.get("fail"))


def interval_figures(rows: list[dict]) -> dict:
    """How well the intervals do: coverage of the truth (as shipped, and refitted without each session), clean
    reps failed although within their interval of the threshold, and the borderline / false-FAIL trade-off."""
    from pipeline.analyze.cues import excess, judge
    from pipeline.analyze.uncertainty import fit, scale

    scored = [r for r in rows if r["cue"] not in WARN_ONLY and r.get("comparator")]
    with_iv = [r for r in scored if r.get("interval") is not None and r["value"] is not None and r["truth"] is not None]
    covered = [abs(r["value"] - r["truth"]) <= r["interval"] for r in with_iv]
    # leave one session out: the model fitted on the other sessions, applied to this one's capture
    loso, per_cue = [], {}
    fitted = [r for r in scored if r["value"] is not None and r["truth"] is not None]
    for name in sorted({r["session"] for r in fitted}):
        others = [r for r in fitted if r["session"] != name]
        if not others:  # a single session: nothing to hold it out against
            continue
        model = fit(others)
        for r in (r for r in fitted if r["session"] == name and r["cue"] in model.k):
            u = model.k[r["cue"]] * scale(model, _nan(r.get("cameras")), _nan(r.get("reprojection_permille")))
            ok = abs(r["value"] - r["truth"]) <= u
            loso.append(ok)
            per_cue.setdefault(r["cue"], []).append(ok)
    inside_fail = [r for r in with_iv if r["clean_rep"] and r["verdict"] == "fail" and r["cue"] not in WARN_ONLY
                   and _fail_thr(r) is not None and abs(excess(r["value"], r["comparator"], _fail_thr(r))) <= r["interval"]]
    trade = []
    clean = {(r["session"], r["rep"]) for r in scored if r["clean_rep"]}
    judged = [r for r in scored if r["value"] is not None]  # with a value: what the rule decides on
    for m in MULTIPLIERS:
        verdict = {id(r): judge(r["value"], _as_cue(r), m * r["interval"] if r.get("interval") is not None else None,
                                r.get("typical_clean"), m * r["typical_interval"]
                                if r.get("typical_interval") is not None else None) for r in judged}
        ff = {(r["session"], r["rep"]) for r in judged if r["clean_rep"] and verdict[id(r)] == "fail"}
        faulty = [r for r in scored if r["injected"]]
        trade.append({
            "multiplier": m, "clean_false_fail": len(ff), "clean_reps": len(clean),
            "borderline_share": sum(verdict[id(r)] == "borderline" for r in judged) / max(len(judged), 1),
            "clean_borderline_share": (sum(verdict[id(r)] == "borderline" for r in judged if not r["injected"])
                                       / max(sum(not r["injected"] for r in judged), 1)),
            "not_judged_share": sum(verdict[id(r)] == "not_judged" for r in judged) / max(len(judged), 1),
            "recall_fail": sum(verdict.get(id(r)) == "fail" for r in faulty) / max(len(faulty), 1),
            "recall_flagged": sum(verdict.get(id(r)) in ("fail", "borderline") for r in faulty) / max(len(faulty), 1),
        })
    return {"pairs_with_interval": len(with_iv), "coverage": float(np.mean(covered)) if covered else None,
            "coverage_loso": float(np.mean(loso)) if loso else None,
            "coverage_loso_per_cue": {c: float(np.mean(v)) for c, v in sorted(per_cue.items())},
            "clean_fail_within_interval": [f"{r['session']} rep {r['rep']} {r['cue']}" for r in inside_fail],
            "trade_off": trade}


def _fail_thr(r: dict):
    return (r.get("threshold") or {}).get("fail")


def _nan(x) -> float:
    return float("nan") if x is None else float(x)


def _f(x, fmt=".2f", none="-") -> str:
    return none if x is None else format(x, fmt)


UNITS = {"neutral_spine": "deg", "spinal_flexion": "deg", "hip_back": "x leg", "soft_knee": "deg",
         "squat_hinge_confusion": "", "knee_tracking": "x thigh", "weight_on_heels": "heel->toe", "shoulder_pack": "cm",
         "depth_consistency": "deg", "slow_eccentric": "", "hips_before_arms": "s"}


def markdown(results: list[dict], summary: dict, command: str) -> str:
    S = summary
    lines = [
        "## Through video: rendered sessions, MediaPipe and the real stages",
        f"Regenerate: `{command}` (renders and detects what is not cached under `resources/accuracy_video/`, "
        "a session rendered for other parameters or by another `pipeline.synthetic.FOOTAGE_VERSION` included, "
        "then runs the analyze stage on every session and scores it; about 2 hours on 2 busy CPU cores the first "
        "time, about a minute after). The per-rep, per-cue values, truths, verdicts and capture-quality covariates "
        "are in [`accuracy_video.json`](accuracy_video.json).",
        "",
        f"**Measured on** {S['sessions']} sessions ({S['reps_true']} reps, {S['clean_reps']} of them clean), "
        f"{len(S['rigs'])} rigs; each session rendered by `pipeline.synthetic.footage` (the spine figure, no "
        "multisampling), BlazePose (mediapipe 0.10.21, full model, with segmentation) per camera through "
        "`detect_video`, `sync_session` on recorder-style timestamps, `triangulate_session` with the true calibration "
        "(swap repair on, 6 Hz low-pass), then `analyze_session` with the silhouettes and `config/cues.yaml`. "
        "A cue is *detected* when its verdict is `fail`; *not judged* when the measurement could not tell.",
        "",
        "| session | exercise | reps (found) | faults (rep: fault) | rig | cameras | image | fps | camera heights (m) | athlete (m) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in results:
        spec = next(x for x in plan() if x.name == s["name"])
        faults = ", ".join(f"{k}: {', '.join(v)}" for k, v in sorted(spec.faults.items()))
        h = spec.athlete()["height"]
        lines.append(f"| {s['name']} | {s['exercise']} | {s['reps_true']} ({s['reps_found']}) | {faults} | {s['rig']} | "
                     f"{spec.rig.n_cameras} | {spec.rig.size[0]}x{spec.rig.size[1]} | {spec.rig.fps:g} | "
                     f"{spec.rig.height[0]:.1f}-{spec.rig.height[1]:.1f} | {h:.2f} |")
    lines += [
        "",
        f"**Rep counts**: {S['reps_found']} found for {S['reps_true']} true reps; exact in {S['sessions_count_exact']} "
        f"of {S['sessions']} sessions.",
        "",
        f"**Clean reps with a false FAIL**: {S['clean_false_fail']} of {S['clean_reps']} "
        f"({100 * (S['clean_false_fail_rate'] or 0):.1f} %)" + (f": {', '.join(S['false_fail_reps'])}." if S['false_fail_reps'] else "."),
        "",
        "| cue | faulty reps | clean reps | TP | FP | FN | borderline (faulty / clean) | not judged (faulty / clean) | precision | recall (judged) | recall (all faulty) | value error median / p95 | interval coverage (held out) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    loso_cue = S["intervals"]["coverage_loso_per_cue"]
    for c, v in S["per_cue"].items():
        e = v["error"]
        err = f"{_f(e['median'])} / {_f(e['p95'])} {UNITS.get(c, '')} (n={e['n']})" if e["n"] else "-"
        lines.append(f"| `{c}` | {v['faulty']} | {v['clean']} | {v['tp']} | {v['fp']} | {v['fn']} | "
                     f"{v['borderline_faulty']} / {v['borderline_clean']} | "
                     f"{v['not_judged_faulty']} / {v['not_judged_clean']} | {_f(v['precision'], '.3f')} | "
                     f"{_f(v['recall'], '.3f')} | {_f(v['recall_all'], '.3f')} | {err} | "
                     f"{_f(loso_cue.get(c), '.2f')} |")
    I = S["intervals"]
    lines += [
        "",
        "A FAIL or PASS counts as judged; *borderline* (the value within its interval of the fail threshold, "
        "`pipeline/analyze/uncertainty.py`) is neither a detection nor a miss: the report shows it amber for the "
        "coach to look at. TP/FP/FN count judged verdicts only.",
        "",
        f"**Intervals** ({I['pairs_with_interval']} (rep, cue) pairs with a value, a truth and an interval): the "
        f"truth lies inside the stated interval for {100 * (I['coverage'] or 0):.1f} % of them with the shipped model "
        f"(`config/measurement_error.yaml`, fitted on these sessions), and for {100 * (I['coverage_loso'] or 0):.1f} % "
        "when each session's intervals come from a model fitted on the other sessions only (held out: the figure "
        "to expect on a new session; per cue in the table's last column). Clean reps judged FAIL although their "
        f"value lies within its interval of the threshold: {len(I['clean_fail_within_interval'])}"
        + (f" ({', '.join(I['clean_fail_within_interval'])})" if I["clean_fail_within_interval"] else "") + ".",
        "",
        "**Borderline against false FAIL**: the same values judged with every interval scaled by a multiplier "
        "(0: no interval, the old rule; 1: as shipped). A cue whose interval reaches from a typical clean rep's "
        "value to the fail threshold is not judged unless the value is past the threshold by more than the "
        "interval (on this benchmark, the shoulder shrug).",
        "",
        "| interval x | clean reps with a false FAIL | borderline (all pairs with a value) | borderline (pairs without the fault) | not judged: error too wide for the cue | faults FAILed | faults FAILed or borderline |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in I["trade_off"]:
        lines.append(f"| {t['multiplier']:g} | {t['clean_false_fail']} of {t['clean_reps']} | "
                     f"{100 * t['borderline_share']:.1f} % | {100 * t['clean_borderline_share']:.1f} % | "
                     f"{100 * t['not_judged_share']:.1f} % | "
                     f"{100 * t['recall_fail']:.1f} % | {100 * t['recall_flagged']:.1f} % |")
    sp, sa, sr = S["spine_vs_figure"], S["spine_abs_vs_figure"], S["spine_vs_rho"]
    lines += [
        "",
        f"**Spine flexion angle** (`spinal_flexion`: the back's bend at the bottom beyond the athlete's own neutral, "
        f"judged reps) against the figure's own back surface (the same lines fitted to its true midline profile, "
        f"bottom minus standing): median {_f(sp['median'], '.1f')} deg, p95 {_f(sp['p95'], '.1f')} deg, max "
        f"{_f(sp['max'], '.1f')} deg (n={sp['n']}). The absolute angle (`back_flex`, natural curves included): "
        f"median {_f(sa['median'], '.1f')}, p95 {_f(sa['p95'], '.1f')} deg. Against the injected rounding rho (spread "
        f"over the whole lumbar and lower thoracic spine, of which the two windows see about 60 %): median "
        f"{_f(sr['median'], '.1f')}, p95 {_f(sr['p95'], '.1f')} deg.",
        "",
        "| per frame, over the sets | median abs error | p95 | n |",
        "|---|---|---|---|",
    ]
    for k, v in S["frame_errors"].items():
        unit = {"hip_travel": "cm", "com_heel_toe": "heel->toe (landmarks)"}.get(k, "deg")
        lines.append(f"| {k} ({unit}) | {_f(v['median'])} | {_f(v['p95'])} | {v['n']} |")
    misses = [r for s in results for r in s["rows"] if r["cue"] not in WARN_ONLY
              and (r["injected"] != (r["verdict"] == "fail"))]
    lines += ["", "Misses (injected and not failed, or failed and not injected):", ""]
    lines += [f"- {r['session']} rep {r['rep']} ({', '.join(r['faults']) or 'clean'}): `{r['cue']}` = {r['value']} "
              f"({r['verdict']}{': ' + r['reason'] if r.get('reason') else ''}; truth {r['truth']})" for r in misses] or ["- none"]
    return "\n".join(lines) + "\n"


VIDEO_BEGIN, VIDEO_END = "<!-- BEGIN video -->", "<!-- END video -->"


def write_docs(text: str, results: list[dict], summary: dict, command: str, doc: Path, json_path: Path) -> None:
    from pipeline.common.atomic import json_default, write_json, write_text

    old = doc.read_text() if doc.is_file() else ""
    block = f"{VIDEO_BEGIN}\n{text}{VIDEO_END}"
    if VIDEO_BEGIN in old and VIDEO_END in old:
        new = old[:old.index(VIDEO_BEGIN)] + block + old[old.index(VIDEO_END) + len(VIDEO_END):]
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    write_text(doc, new)
    rows = [r for s in results for r in s["rows"]]
    sessions = [{k: v for k, v in s.items() if k not in ("rows", "frame_errors")} for s in results]
    write_json(json_path, json.loads(json.dumps({
        "command": command, "what": "per (session, rep, cue): the verdict, the measured value, the truth on the same "
                                    "definition, and capture-quality covariates; see docs/accuracy.md",
        "summary": summary, "sessions": sessions, "rows": rows}, default=json_default)))
