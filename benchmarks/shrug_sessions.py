"""Three short sessions with two shrugged reps each, through MediaPipe and every stage: `shoulder_pack`'s value
against the truth per rep. Used to compare renderers (run it on two checkouts into two roots).

    python benchmarks/shrug_sessions.py ROOT
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.evaluation import accuracy_video as av  # noqa: E402
from pipeline.evaluation.video_sessions import RIGS, SessionSpec, prepare  # noqa: E402

SESSIONS = (("shrug_a", "deadlift", "ring4_640", 77), ("shrug_b", "romanian_deadlift", "low3_720", 78),
            ("shrug_c", "kettlebell_swing", "portrait5_720", 79))


def main(root: Path) -> None:
    warnings.simplefilter("ignore")
    for name, exercise, rig, seed in SESSIONS:
        spec = SessionSpec(name, exercise, 5, {2: ["shrugged_shoulders"], 4: ["shrugged_shoulders"]}, RIGS[rig],
                           seed=seed)
        prepare(spec, root)
        result = av.score_session(spec, root, av.analyze_one(spec, root))
        for r in result["rows"]:
            if r["cue"] == "shoulder_pack":
                print(f"{name} rep {r['rep']} {'shrugged' if r['injected'] else 'clean'}: value {r['value']:.2f} cm, "
                      f"truth {r['truth']:.2f} cm ({r['verdict']})", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
