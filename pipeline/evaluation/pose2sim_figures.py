"""Figures on real footage: Pose2Sim's Demo_SinglePerson (4 synchronised 60 fps videos, Qualisys calibration).

``run_demo()`` runs the 2D stage, the left/right swap repair and the
triangulation on the demo (fetched by ``pipeline.examples.pose2sim.fetch_demo``)
and measures the reprojection error of the body joints with and without the
repair and the principal-point refinement (docs/accuracy.md)::

    python -m pipeline.evaluation.pose2sim_figures [--out DIR] [--max-frames N]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from pipeline.examples.pose2sim import DemoUnavailable, demo_cameras, fetch_demo


def body_errors(xy: np.ndarray, conf: np.ndarray, cameras: Sequence, *, robust: bool = True) -> dict:
    """Reprojection error of the body joints (shoulders, hips, knees, ankles), each point's error being
    the mean over the cameras used: median and 90th percentile (px) over frames x joints, and cameras used."""
    from pipeline.common.landmarks import BODY_JOINTS
    from pipeline.triangulate.core import triangulate

    body = list(BODY_JOINTS)
    res = triangulate(xy[:, :, body], conf[:, :, body], cameras, robust=robust)
    return {"median": float(np.nanmedian(res.err)), "p90": float(np.nanpercentile(res.err, 90)),
            "cameras_used": float(res.ncams.mean())}


def _compare(raw: tuple, repaired: tuple, cameras: Sequence, frames: slice = slice(None)) -> dict:
    """naive: plain weighted DLT of the raw labels; robust: robust triangulation of the raw labels;
    repaired: robust triangulation after the swap repair."""
    (xy, conf), (xy_r, conf_r) = raw, repaired
    return {"naive": body_errors(xy[:, frames], conf[:, frames], cameras, robust=False),
            "robust": body_errors(xy[:, frames], conf[:, frames], cameras),
            "repaired": body_errors(xy_r[:, frames], conf_r[:, frames], cameras)}


def _athlete(loaded: Sequence, cams: Sequence, T: int):
    """Each camera's view of the athlete, frame for frame, as the triangulate stage chooses them
    (``pipeline.triangulate.people``): ((C, T, 33, 2), (C, T, 33)) and the choice."""
    from pipeline.triangulate.people import athlete_views, select_athlete

    P = max(lm.n_people for lm in loaded)
    xy = np.full((len(loaded), T, P, 33, 2), np.nan)
    conf = np.zeros((len(loaded), T, P, 33))
    for c, lm in enumerate(loaded):
        xy[c, :, :lm.n_people], conf[c, :, :lm.n_people] = lm.xy[:T], lm.conf[:T]
    focus = np.stack([lm.focus_slots()[:T] for lm in loaded])
    choice = select_athlete(xy, cams, np.arange(T) / loaded[0].fps, focus=focus)
    return athlete_views(xy, conf, choice.slot), choice


def run_demo(out_dir: str | Path, *, max_frames: int | None = None, model_complexity: int = 1,
             progress: bool = True) -> dict:
    """2D detection, swap repair and triangulation of the demo; the figures of docs/accuracy.md.

    Writes ``out_dir/pose2d/{cam}.npz``. ``error_px`` compares the raw labels
    (plain and robust triangulation) with the repaired ones (``_compare``), with
    the calibration as shipped; ``error_px_offset_removed`` the same (repair
    included) once each camera's constant image offset (``pipeline.triangulate.refine.principal_point_offsets``,
    fitted on all frames after a first repair) is removed from the
    calibration; ``offset_cross_check`` fits the offsets on one half of the
    frames and measures the other half.
    """
    from pipeline.contracts.pose2d import read_pose2d
    from pipeline.detect.stage import detect_video
    from pipeline.triangulate.refine import principal_point_offsets
    from pipeline.triangulate.swaps import repair_swaps

    root = fetch_demo()
    cams, videos = demo_cameras(root)
    out = Path(out_dir)
    t0 = time.perf_counter()
    loaded = []
    for cam, video in zip(cams, videos):
        path = detect_video(video, out / "pose2d" / f"{cam.name}.npz", model_complexity=model_complexity,
                            max_frames=max_frames, progress=progress)
        loaded.append(read_pose2d(path))
    t_detect = time.perf_counter() - t0
    T = min(len(lm.xy) for lm in loaded)  # the demo's videos are synchronised frame for frame
    raw, athlete = _athlete(loaded, cams, T)
    t1 = time.perf_counter()
    xy_r, conf_r, report = repair_swaps(*raw, cams)
    t_repair = time.perf_counter() - t1
    repaired = (xy_r, conf_r)

    offsets = principal_point_offsets(xy_r, conf_r, cams)
    fixed = cams.shifted(offsets)
    fixed_report = repair_swaps(*raw, fixed)  # the repair itself is surer without the offsets
    halves = (slice(0, T // 2), slice(T // 2, T))
    cross = {}
    for name, (fit, test) in {"first_to_second": halves, "second_to_first": halves[::-1]}.items():
        fitted = cams.shifted(principal_point_offsets(xy_r[:, fit], conf_r[:, fit], cams))
        cross[name] = _compare(raw, repair_swaps(*raw, fitted)[:2], fitted, test)
    return {
        "frames": T, "fps": loaded[0].fps,
        "video_sizes": {c.name: list(lm.size or ()) for c, lm in zip(cams, loaded)},
        "calibration_sizes": {c.name: list(c.size) for c in cams},
        "detection_rate": {c.name: lm.detection_rate for c, lm in zip(cams, loaded)},
        "people": athlete.report,
        "swaps": report,
        "swapped_pct": {n: {k: 100.0 * r[k] / r["frames"] for k in ("whole", "arms", "legs", "face", "excluded")}
                        for n, r in report["cameras"].items()},
        "error_px": _compare(raw, repaired, cams),
        "offsets_px": {c.name: [round(float(v), 2) for v in d] for c, d in zip(cams, offsets)},
        "error_px_offset_removed": _compare(raw, fixed_report[:2], fixed),
        "swaps_offset_removed": fixed_report[2],
        "offset_cross_check": cross,
        "seconds": {"detect": t_detect, "detect_per_frame": t_detect / max(1, sum(len(lm.xy) for lm in loaded)),
                    "repair": t_repair},
    }


def main(argv: Sequence[str] | None = None) -> None:
    import json
    import tempfile

    ap = argparse.ArgumentParser(description="2D detection, swap repair and triangulation of Pose2Sim's demo")
    ap.add_argument("--out", type=Path, default=None, help="folder for pose2d/*.npz (default: a temporary folder)")
    ap.add_argument("--max-frames", type=int, default=None)
    ap.add_argument("--model-complexity", type=int, default=1)
    args = ap.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            figures = run_demo(args.out or tmp, max_frames=args.max_frames, model_complexity=args.model_complexity)
    except DemoUnavailable as exc:
        raise SystemExit(f"error: {exc}") from None
    print(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
