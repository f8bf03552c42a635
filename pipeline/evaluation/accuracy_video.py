"""Through-video accuracy: rendered sessions through MediaPipe and the real stages, every cue scored.

``python benchmarks/accuracy_video.py`` (see there). The sessions are
``pipeline.evaluation.video_sessions.plan()``; this module runs them and scores
the verdicts against the injected faults.
"""
from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import sys
import time
from pathlib import Path

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
    a = ap.parse_args(argv)
    _setup_logging(a.root)
    specs = [s for s in plan() if not a.only or s.name in a.only]
    t0 = time.time()
    failed = prepare_all(specs, a.root, a.jobs)
    log.info("prepared %d sessions in %.0f s (%d failed)", len(specs) - len(failed), time.time() - t0, len(failed))
    if a.prepare_only:
        return


if __name__ == "__main__":
    main()
