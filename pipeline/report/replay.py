"""The data the page's 3D replay animates, packed small.

Positions are millimetres in little-endian int16 (±32 m); missing points are
-32768. Series like these change little from one frame to the next, so they
are sent as frame-to-frame differences (wrapping int16 arithmetic, exact),
zlib-compressed and base64 encoded (``pack_series``): 18,000 frames × 36
points × 3 axes is 3.9 MB raw, 5.2 MB as plain base64 and about 0.5 MB
packed. The browser inflates them with its built-in DecompressionStream and
sums the differences back in one typed-array pass. Violations are sent as
frame runs per cue and the segments each cue colours; the page expands them
into a per-frame mask once at load.
"""
from __future__ import annotations

import base64
import json
import zlib

import numpy as np

from pipeline.report.session import ALL_EDGES, POINT_NAMES, SPINE_EDGES, SPINE_IDX, Session, cue_edges, rep_verdict, violation_runs

MISSING = -32768
TRAJECTORIES = {"head": SPINE_IDX["head"], "upper back": SPINE_IDX["upper_back"], "sacrum": SPINE_IDX["sacrum"],
                "left hip": POINT_NAMES.index("left_hip"), "right hip": POINT_NAMES.index("right_hip")}


def to_int16(values: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """``values * scale`` rounded to int16; NaN and what int16 cannot hold become MISSING."""
    # float32 holds every integer int16 can: no need for float64 copies of a long session's points.
    v = np.multiply(np.asarray(values, np.float32), np.float32(scale), dtype=np.float32)
    np.rint(v, out=v)
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(v) <= 32767)  # NaN compares False
    v[bad] = MISSING  # before the cast: NaN has no integer
    return v.astype("<i2")


def pack_series(values: np.ndarray) -> str:
    """(T, ...) int16 or int32 -> base64 of zlib(frame-to-frame differences), the page's ``unpack``."""
    values = np.asarray(values)
    dtype = {np.dtype("int16"): "<i2", np.dtype("int32"): "<i4"}.get(values.dtype.newbyteorder("="))
    if dtype is None:
        raise ValueError(f"pack_series packs int16 or int32 series, got {values.dtype}")
    flat = values.reshape(len(values), -1).astype(dtype, copy=False)
    # Differences in the series' own integer type wrap, exactly as the browser's typed arrays do when it
    # sums them back: exact for any values, and no wider copy of a long series.
    delta = np.diff(flat, axis=0, prepend=np.zeros((1, flat.shape[1]), dtype))
    return base64.b64encode(zlib.compress(delta.tobytes(), 6)).decode("ascii")


def unpack_series(text: str, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of pack_series (what the page does); used by the tests."""
    delta = np.frombuffer(zlib.decompress(base64.b64decode(text)), dtype).reshape(-1, int(np.prod(shape)))
    return np.cumsum(delta, axis=0, dtype=delta.dtype).reshape(-1, *shape)


def encode_points(points: np.ndarray) -> str:
    return pack_series(to_int16(points, 1000.0))


def decode_points(text: str, n_points: int) -> np.ndarray:
    """Inverse of encode_points (metres, NaN where missing); used by the tests."""
    raw = unpack_series(text, "<i2", (n_points, 3))
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
        "side": [edge_side(a, b) for a, b in ALL_EDGES],
        "trajectories": TRAJECTORIES,
        "cues": {c["id"]: {"edges": cue_edges(c.get("landmarks", [])), "words": cue_words.get(c["id"], c["id"])}
                 for c in cues},
        "runs": violation_runs(session),
        "reps": [{"index": r["index"], "start": int(r["start"]), "bottom": int(r["bottom"]), "end": int(r["end"]),
                  "verdict": rep_verdict(r)} for r in session.reps["reps"]],
    }


def edge_side(a: int, b: int) -> str:
    """The colour group of segment (a, b): left, right, centre or spine (the replay and the video overlay agree)."""
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
