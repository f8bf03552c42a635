"""Real footage: Pose2Sim's Demo_SinglePerson (4 synchronised 60 fps videos, Qualisys calibration).

``fetch_demo()`` downloads the ``pose2sim`` wheel once with pip (the demo ships
inside it) into ``~/.cache/hingecap`` (``$HINGECAP_CACHE``) and returns the
extracted ``Demo_SinglePerson`` folder. ``run_demo()`` runs the 2D stage, the
left/right swap repair and the triangulation on it and measures the
reprojection error of the body joints with and without the repair::

    python -m pipeline.pose2sim_demo [--out DIR] [--max-frames N]
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

VERSION = "0.10.49"
DEMO = "Pose2Sim/Demo_SinglePerson/"


class DemoUnavailable(RuntimeError):
    """The demo could not be fetched (no network, registry unreachable); the message says why."""


def cache_dir() -> Path:
    return Path(os.environ.get("HINGECAP_CACHE", Path.home() / ".cache" / "hingecap"))


def fetch_demo(version: str = VERSION) -> Path:
    """Root of ``Demo_SinglePerson`` (Config.toml, calibration/, videos/), downloaded and extracted once."""
    cache = cache_dir()
    root = cache / f"pose2sim-{version}" / DEMO
    if (root / "Config.toml").exists() and len(list((root / "videos").glob("*.mp4"))) >= 4 \
            and list((root / "calibration").glob("Calib*.qca.txt")):
        return root
    wheels = sorted(cache.glob(f"pose2sim-{version}-*.whl"))
    if not wheels:
        cache.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", f"pose2sim=={version}", "-d", str(cache)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DemoUnavailable(f"could not run pip to download pose2sim=={version}: {exc}") from None
        wheels = sorted(cache.glob(f"pose2sim-{version}-*.whl"))
        if proc.returncode != 0 or not wheels:
            errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("ERROR")] or proc.stderr.splitlines()[-1:]
            raise DemoUnavailable(f"could not download pose2sim=={version} from the package registry "
                                  f"({' '.join(errors)[-300:]}); with network access it is fetched once into {cache}")
    keep = re.compile(re.escape(DEMO) + r"(Config\.toml|calibration/.*|videos/.*)$")  # the inputs only
    try:
        with zipfile.ZipFile(wheels[-1]) as zf:
            zf.extractall(cache / f"pose2sim-{version}", [m for m in zf.namelist() if keep.match(m)])
    except zipfile.BadZipFile:
        raise DemoUnavailable(f"{wheels[-1]} is not a complete wheel (an interrupted download?); delete it") from None
    return root


def demo_cameras(root: Path) -> tuple[list, list[Path]]:
    """The demo's cameras (Qualisys calibration) and their videos, in the same order.

    Pose2Sim pairs the calibration's cameras, sorted naturally by name, with the
    video files sorted the same way; in this demo the Qualisys serials
    (cam01..cam04) are also the video names, so they are matched by name and
    the two orders are checked to agree.
    """
    from calibration.detect import natural_key
    from calibration.io import read_calibration

    calib = sorted((root / "calibration").glob("Calib*.qca.txt"))
    videos = sorted((root / "videos").glob("*.mp4"), key=lambda p: natural_key(p.stem))
    if not calib or not videos:
        raise DemoUnavailable(f"{root}: no calibration/Calib*.qca.txt or no videos/*.mp4; delete it to fetch it again")
    cams = read_calibration(calib[0])  # sorted naturally by name, as Pose2Sim does
    by_name = {v.stem: v for v in videos}
    if sorted(by_name) != sorted(c.name for c in cams) or [c.name for c in cams] != list(by_name):
        raise DemoUnavailable(f"{calib[0]}: cameras {[c.name for c in cams]} do not match the videos {list(by_name)}")
    return cams, [by_name[c.name] for c in cams]


def body_errors(xy: np.ndarray, conf: np.ndarray, cameras: Sequence, *, robust: bool = True) -> dict:
    """Reprojection error of the body joints (shoulders, hips, knees, ankles), each point's error being
    the mean over the cameras used: median and 90th percentile (px) over frames x joints, and cameras used."""
    from pipeline.landmarks import BODY_JOINTS
    from pipeline.triangulation import triangulate

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


def run_demo(out_dir: str | Path, *, max_frames: int | None = None, model_complexity: int = 1,
             progress: bool = True) -> dict:
    """2D detection, swap repair and triangulation of the demo; the figures of docs/accuracy.md.

    Writes ``out_dir/pose2d/{cam}.npz``. ``error_px`` compares the raw labels
    (plain and robust triangulation) with the repaired ones (``_compare``), with
    the calibration as shipped; ``error_px_offset_removed`` the same (repair
    included) once each camera's constant image offset (``pipeline.refine.principal_point_offsets``,
    fitted on all frames after a first repair) is removed from the
    calibration; ``offset_cross_check`` fits the offsets on one half of the
    frames and measures the other half.
    """
    from pipeline.detect2d import detect_video, load_pose2d
    from pipeline.refine import principal_point_offsets, shifted
    from pipeline.swaps import repair_swaps

    root = fetch_demo()
    cams, videos = demo_cameras(root)
    out = Path(out_dir)
    t0 = time.perf_counter()
    loaded = []
    for cam, video in zip(cams, videos):
        path = detect_video(video, out / "pose2d" / f"{cam.name}.npz", model_complexity=model_complexity,
                            max_frames=max_frames, progress=progress)
        loaded.append(load_pose2d(path))
    t_detect = time.perf_counter() - t0
    T = min(len(lm[0]) for lm in loaded)  # the demo's videos are synchronised frame for frame
    raw = (np.stack([lm[0][:T] for lm in loaded]).astype(np.float64),
           np.stack([lm[1][:T] for lm in loaded]).astype(np.float64))
    t1 = time.perf_counter()
    xy_r, conf_r, report = repair_swaps(*raw, cams)
    t_repair = time.perf_counter() - t1
    repaired = (xy_r, conf_r)

    offsets = principal_point_offsets(xy_r, conf_r, cams)
    fixed = shifted(cams, offsets)
    fixed_report = repair_swaps(*raw, fixed)  # the repair itself is surer without the offsets
    halves = (slice(0, T // 2), slice(T // 2, T))
    cross = {}
    for name, (fit, test) in {"first_to_second": halves, "second_to_first": halves[::-1]}.items():
        fitted = shifted(cams, principal_point_offsets(xy_r[:, fit], conf_r[:, fit], cams))
        cross[name] = _compare(raw, repair_swaps(*raw, fitted)[:2], fitted, test)
    return {
        "frames": T, "fps": float(loaded[0][3].get("fps", 0.0)),
        "video_sizes": {c.name: [int(v) for v in lm[3]["size"]] for c, lm in zip(cams, loaded)},
        "calibration_sizes": {c.name: list(c.size) for c in cams},
        "detection_rate": {c.name: lm[3]["detection_rate"] for c, lm in zip(cams, loaded)},
        "swaps": report,
        "swapped_pct": {n: {k: 100.0 * r[k] / r["frames"] for k in ("whole", "arms", "legs", "face", "excluded")}
                        for n, r in report["cameras"].items()},
        "error_px": _compare(raw, repaired, cams),
        "offsets_px": {c.name: [round(float(v), 2) for v in d] for c, d in zip(cams, offsets)},
        "error_px_offset_removed": _compare(raw, fixed_report[:2], fixed),
        "swaps_offset_removed": fixed_report[2],
        "offset_cross_check": cross,
        "seconds": {"detect": t_detect, "detect_per_frame": t_detect / max(1, sum(len(lm[0]) for lm in loaded)),
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
