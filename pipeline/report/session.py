"""Read one session's analysis outputs (docs/data-contracts.md) for the report.

Everything the report shows comes from three files: pose3d.npz, kinematics.csv
and reps.json. A missing file or column is an error that names the file and
the stage that should have written it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.landmarks import EDGES, INDEX, N_LANDMARKS, NAMES

REQUIRED_COLUMNS = (
    "frame", "t", "hip_flex", "knee_flex", "trunk_incl", "spine_angle", "trunk_length_rel",
    "head_x", "head_y", "head_z", "upper_back_x", "upper_back_y", "upper_back_z",
    "sacrum_x", "sacrum_y", "sacrum_z",
)
SPINE = ("head", "upper_back", "sacrum")
# Points drawn: the 33 landmarks, then the spine's three model points.
POINT_NAMES = tuple(NAMES) + SPINE
SPINE_IDX = {name: N_LANDMARKS + i for i, name in enumerate(SPINE)}
SPINE_EDGES = ((SPINE_IDX["sacrum"], SPINE_IDX["upper_back"]), (SPINE_IDX["upper_back"], SPINE_IDX["head"]))
ALL_EDGES: tuple[tuple[int, int], ...] = tuple(EDGES) + SPINE_EDGES
# Which landmarks each spine point is built from (a cue naming them colours the spine).
_SPINE_SOURCES = {
    "head": ("left_ear", "right_ear"), "upper_back": ("left_shoulder", "right_shoulder"),
    "sacrum": ("left_hip", "right_hip"),
}


class ReportInputError(ValueError):
    """A session file the report reads is missing or malformed; the message names it."""


@dataclass
class Session:
    name: str
    dir: Path
    points: np.ndarray      # (T, 36, 3) float32 metres: landmarks + head, upper back, sacrum
    t: np.ndarray           # (T,) seconds
    fps: float
    kin: pd.DataFrame
    reps: dict

    @property
    def n_frames(self) -> int:
        return self.points.shape[0]


def load_session(session_dir: str | Path) -> Session:
    d = Path(session_dir)
    if not d.is_dir():
        raise ReportInputError(f"session results folder '{d}' does not exist; run the workflow for this session first")
    pose_path, kin_path, reps_path = d / "pose3d.npz", d / "kinematics.csv", d / "reps.json"
    for p, stage in ((pose_path, "triangulation"), (kin_path, "analysis"), (reps_path, "analysis")):
        if not p.is_file():
            raise ReportInputError(f"'{p}' is missing: the {stage} stage writes it; run it before the report")
    try:
        with np.load(pose_path) as z:
            xyz, t = np.asarray(z["xyz"], np.float32), np.asarray(z["t"], np.float64)
            fps_arr = z["fps"] if "fps" in z.files else None
    except KeyError as exc:
        raise ReportInputError(f"'{pose_path}' lacks the array {exc}; pose3d.npz needs xyz (T,33,3) and t (T,)") from exc
    if xyz.ndim != 3 or xyz.shape[1:] != (N_LANDMARKS, 3) or t.shape != (xyz.shape[0],):
        raise ReportInputError(f"'{pose_path}': xyz must be (T,33,3) and t (T,), got {xyz.shape} and {t.shape}")
    kin = pd.read_csv(kin_path)
    missing = [c for c in REQUIRED_COLUMNS if c not in kin.columns]
    if missing:
        raise ReportInputError(f"'{kin_path}' lacks the columns {missing} (see docs/data-contracts.md)")
    if len(kin) != len(t):
        raise ReportInputError(f"'{kin_path}' has {len(kin)} rows but pose3d.npz has {len(t)} frames; rerun the analysis")
    try:
        reps = json.loads(reps_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ReportInputError(f"'{reps_path}' is not valid JSON: {exc}") from exc
    for key in ("cues", "reps"):
        if key not in reps:
            raise ReportInputError(f"'{reps_path}' lacks '{key}' (see docs/data-contracts.md)")
    fps = float(reps.get("fps") or (fps_arr if fps_arr is not None else 0) or _fps_from_t(t))
    spine = np.stack([kin[[f"{s}_x", f"{s}_y", f"{s}_z"]].to_numpy(np.float32) for s in SPINE], axis=1)
    points = np.concatenate([xyz, spine], axis=1)
    return Session(name=str(reps.get("session") or d.name), dir=d, points=points, t=t, fps=fps, kin=kin, reps=reps)


def _fps_from_t(t: np.ndarray) -> float:
    dt = np.diff(t)
    return float(1.0 / np.median(dt)) if dt.size else 30.0


def cue_edges(landmarks: list[str]) -> list[int]:
    """Indices into ALL_EDGES coloured when a cue naming ``landmarks`` is violated.

    A segment is coloured when both its ends involve the cue's landmarks (a
    spine point involves the landmarks it is built from); a cue naming single
    joints (knees) colours the segments touching them instead.
    """
    names = set(landmarks)
    for spine_name, sources in _SPINE_SOURCES.items():
        if spine_name in names:
            names.update(sources)
    members = [{n} for n in POINT_NAMES[:N_LANDMARKS]] + [set(_SPINE_SOURCES[s]) | {s} for s in SPINE]
    hit = [bool(m & names) for m in members]
    both = [i for i, (a, b) in enumerate(ALL_EDGES) if hit[a] and hit[b]]
    if both:
        return both
    return [i for i, (a, b) in enumerate(ALL_EDGES) if hit[a] or hit[b]]


WARN, FAIL = 1, 2  # levels of violation_mask: a warn is borderline, a fail a violation


def violation_mask(session: Session) -> np.ndarray:
    """(T, E) uint8: the worst level (0 none, WARN, FAIL) at which segment e breaks a cue at frame t."""
    mask = np.zeros((session.n_frames, len(ALL_EDGES)), np.uint8)
    edges = {c["id"]: cue_edges(c.get("landmarks", [])) for c in session.reps["cues"]}
    for rep in session.reps["reps"]:
        for cue in rep.get("cues", []):
            level = {"warn": WARN, "fail": FAIL}.get(cue.get("verdict"), 0)
            frames = np.asarray(cue.get("frames") or [], int)
            frames = frames[(frames >= 0) & (frames < session.n_frames)]
            if level and frames.size and edges.get(cue["id"]):
                block = np.ix_(frames, edges[cue["id"]])
                mask[block] = np.maximum(mask[block], level)
    return mask


def violation_runs(session: Session) -> list[dict]:
    """Contiguous violated frame ranges per cue and rep: [{cue, rep, level, start, end}] (end inclusive)."""
    runs = []
    for rep in session.reps["reps"]:
        for cue in rep.get("cues", []):
            frames = np.unique(np.asarray(cue.get("frames") or [], int))
            if not frames.size or cue.get("verdict") not in ("warn", "fail"):
                continue
            breaks = np.flatnonzero(np.diff(frames) > 1)
            starts = np.concatenate([[frames[0]], frames[breaks + 1]])
            ends = np.concatenate([frames[breaks], [frames[-1]]])
            runs += [{"cue": cue["id"], "rep": rep["index"], "level": cue["verdict"], "start": int(s), "end": int(e)}
                     for s, e in zip(starts, ends)]
    return runs


def bottom_frames(session: Session) -> np.ndarray:
    return np.clip(np.asarray([r["bottom"] for r in session.reps["reps"]], int), 0, session.n_frames - 1)


def facing_direction(points: np.ndarray) -> np.ndarray:
    """Unit horizontal vector the athlete faces, from heel→toe over the session (hip axis as fallback)."""
    toe = points[:, [INDEX["left_foot_index"], INDEX["right_foot_index"]]]
    heel = points[:, [INDEX["left_heel"], INDEX["right_heel"]]]
    v = np.nanmean((toe - heel).reshape(-1, 3), axis=0)
    v[2] = 0
    if not np.all(np.isfinite(v)) or np.linalg.norm(v) < 1e-6:
        lr = np.nanmean(points[:, INDEX["left_hip"]] - points[:, INDEX["right_hip"]], axis=0)
        v = np.array([lr[1], -lr[0], 0.0])  # left→right axis rotated: facing = left × up
        if not np.all(np.isfinite(v)) or np.linalg.norm(v) < 1e-6:
            v = np.array([1.0, 0.0, 0.0])
    return v / np.linalg.norm(v)


VERDICT_ORDER = {"pass": 0, "unreliable": 1, "warn": 2, "fail": 3}


def rep_verdict(rep: dict) -> str:
    """The worst verdict of a rep's cues (pass < unreliable < warn < fail)."""
    return max((c.get("verdict", "pass") for c in rep.get("cues", [])), key=lambda v: VERDICT_ORDER.get(v, 0),
               default="pass")
