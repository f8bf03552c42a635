"""``reps.json``: the reps found and each cue's verdict per rep (written by analyze, read by the reports).

Contents: ``session``, ``exercise``, ``fps``, ``n_reps``, ``cues`` (each cue's
id, words, metric, unit, phase, landmarks and how its metric maps onto a
kinematics column: ``column``, ``scale``, ``offset``), ``reps`` (frames and
times of start, bottom and end, tempo, metrics and per cue: value, comparator,
thresholds, verdict, frames), ``summary`` and, for a session without reps, a
``message`` saying why nothing was judged.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from pipeline.common.atomic import write_json
from pipeline.contracts import ContractError, MissingFileError

REQUIRED_KEYS = ("cues", "reps")


def write_reps(path: str | Path, report: Mapping[str, Any]) -> Path:
    """Write reps.json atomically."""
    missing = [k for k in REQUIRED_KEYS if k not in report]
    if missing:
        raise ContractError(f"{path}: a reps report needs {', '.join(missing)}")
    write_json(path, dict(report))
    return Path(path)


def read_reps(path: str | Path) -> dict:
    """Read and check reps.json; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"'{path}' is missing: the analysis stage writes it; run it first")
    try:
        reps = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ContractError(f"'{path}' is not valid JSON: {exc}") from None
    if not isinstance(reps, dict):
        raise ContractError(f"'{path}' must hold a JSON object (see docs/data-contracts.md)")
    for key in REQUIRED_KEYS:
        if key not in reps:
            raise ContractError(f"'{path}' lacks '{key}' (see docs/data-contracts.md)")
    for rep in reps["reps"]:
        if not all(k in rep for k in ("index", "start", "bottom", "end")):
            raise ContractError(f"'{path}': every rep needs index, start, bottom and end")
    return reps
