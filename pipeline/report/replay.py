"""The data the page's 3D replay animates, packed small.

Positions are millimetres in little-endian int16 (±32 m), base64 encoded:
1,800 frames × 36 points × 3 axes is 390 kB raw, 520 kB encoded, and the
browser decodes it with one typed-array view instead of parsing a million JSON
numbers. Missing points are -32768. Violations are sent as frame runs per cue
and the segments each cue colours; the page expands them into a per-frame
mask once at load.
"""
from __future__ import annotations

import base64
import json

import numpy as np

from pipeline.report.session import ALL_EDGES, POINT_NAMES, SPINE_EDGES, SPINE_IDX, Session, cue_edges, rep_verdict, violation_runs

MISSING = -32768
TRAJECTORIES = {"head": SPINE_IDX["head"], "upper back": SPINE_IDX["upper_back"], "sacrum": SPINE_IDX["sacrum"],
                "left hip": POINT_NAMES.index("left_hip"), "right hip": POINT_NAMES.index("right_hip")}


def encode_points(points: np.ndarray) -> str:
    mm = np.round(np.asarray(points, np.float64) * 1000.0)
    bad = ~np.isfinite(mm) | (np.abs(mm) > 32767)
    packed = np.where(bad, MISSING, mm).astype("<i2")
    return base64.b64encode(packed.tobytes()).decode("ascii")


def decode_points(text: str, n_points: int) -> np.ndarray:
    """Inverse of encode_points (metres, NaN where missing); used by the tests."""
    raw = np.frombuffer(base64.b64decode(text), "<i2").reshape(-1, n_points, 3)
    out = raw.astype(np.float32) / 1000.0
    out[raw == MISSING] = np.nan
    return out


def replay_payload(session: Session, cue_words: dict[str, str]) -> dict:
    cues = session.reps["cues"]
    return {
        "fps": session.fps,
        "n_frames": session.n_frames,
        "t0": float(session.t[0]) if session.n_frames else 0.0,
        "n_points": len(POINT_NAMES),
        "points": encode_points(session.points),
        "edges": [list(e) for e in ALL_EDGES],
        "spine_edges": [ALL_EDGES.index(e) for e in SPINE_EDGES],
        "spine_points": list(SPINE_IDX.values()),
        "side": [_side(a, b) for a, b in ALL_EDGES],
        "trajectories": TRAJECTORIES,
        "cues": {c["id"]: {"edges": cue_edges(c.get("landmarks", [])), "words": cue_words.get(c["id"], c["id"])}
                 for c in cues},
        "runs": violation_runs(session),
        "reps": [{"index": r["index"], "start": int(r["start"]), "bottom": int(r["bottom"]), "end": int(r["end"]),
                  "verdict": rep_verdict(r)} for r in session.reps["reps"]],
    }


def _side(a: int, b: int) -> str:
    names = POINT_NAMES[a] + POINT_NAMES[b]
    if a >= SPINE_IDX["head"] or b >= SPINE_IDX["head"]:
        return "spine"
    if names.count("left") == 2:
        return "left"
    if names.count("right") == 2:
        return "right"
    return "centre"


def script_json(obj) -> str:
    """JSON safe to place inside <script>: no '</' (ends the element) or '<!--' (script data state)."""
    text = json.dumps(obj, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
