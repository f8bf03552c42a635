"""Through-video accuracy benchmark: rendered sessions through MediaPipe and the real stages, every cue scored.

    python benchmarks/accuracy_video.py                 # render/detect what is missing, analyse, score, write docs
    python benchmarks/accuracy_video.py --jobs 2        # two sessions side by side
    python benchmarks/accuracy_video.py --prepare-only  # only render, detect, sync, triangulate (resumable)
    python benchmarks/accuracy_video.py --only s01_deadlift s04_swing --no-docs

Sessions, rigs and what is scored: pipeline/evaluation/video_sessions.py and
pipeline/evaluation/accuracy_video.py. Rendered sessions and every stage's output
are cached under resources/accuracy_video/ (git-ignored): a rerun only analyses
and scores (about a minute), a killed run resumes. Results: docs/accuracy.md
(the through-video section), docs/accuracy_video.json (per rep and cue: value,
truth, verdict, capture-quality covariates).
"""
import sys
from pathlib import Path

# the repository first: this folder's calibration.py must not shadow the calibration package
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from pipeline.evaluation.accuracy_video import main  # noqa: E402

if __name__ == "__main__":
    main()
