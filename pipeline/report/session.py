"""Read one session's analysis outputs (docs/data-contracts.md) for the report.

Everything the report shows comes from three files: pose3d.npz, kinematics.csv
and reps.json. A missing file or column is an error that names the file and
the stage that should have written it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.common.landmarks import EDGES, N_LANDMARKS, NAMES
from pipeline.contracts.kinematics import read_kinematics
from pipeline.contracts.pose3d import read_pose3d
from pipeline.contracts.reps import read_reps
from pipeline.contracts.sync import Sync, read_sync

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
    """The report cannot be built from the session's files; the message names the file."""


@dataclass
class Session:
    name: str
    dir: Path
    points: np.ndarray      # (T, 36, 3) float32 metres: landmarks + head, upper back, sacrum
    t: np.ndarray           # (T,) seconds
    fps: float
    kin: pd.DataFrame
    reps: dict
    info: dict = field(default_factory=dict)  # the triangulation's report (pose3d.npz info)
    sync: Sync | None = None  # sync.json, when the workflow made one

    @property
    def n_frames(self) -> int:
        return self.points.shape[0]

    @property
    def facing(self) -> np.ndarray:
        """Unit horizontal vector the athlete faces over the session (the analysis's per-frame estimate)."""
        if {"facing_x", "facing_y"} <= set(self.kin.columns):
            v = np.array([np.nanmedian(self.kin["facing_x"]), np.nanmedian(self.kin["facing_y"]), 0.0])
            if np.all(np.isfinite(v)) and np.linalg.norm(v) > 1e-6:
                return v / np.linalg.norm(v)
        return np.array([1.0, 0.0, 0.0])


def load_session(session_dir: str | Path) -> Session:
    d = Path(session_dir)
    if not d.is_dir():
        raise ReportInputError(f"session results folder '{d}' does not exist; run the workflow for this session first")
    pose = read_pose3d(d / "pose3d.npz")
    kin = read_kinematics(d / "kinematics.csv", frames=pose.n_frames)
    reps = read_reps(d / "reps.json")
    sync = read_sync(d / "sync.json") if (d / "sync.json").is_file() else None
    fps = float(reps.get("fps") or pose.fps)
    spine = np.stack([kin[[f"{s}_x", f"{s}_y", f"{s}_z"]].to_numpy(np.float32) for s in SPINE], axis=1)
    points = np.concatenate([pose.xyz, spine], axis=1)
    return Session(name=str(reps.get("session") or d.name), dir=d, points=points, t=pose.t, fps=fps, kin=kin,
                   reps=reps, info=pose.info, sync=sync)


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
# Verdicts that flag a cell, with their level. "borderline" is the planned name of today's "warn" (a value
# within its uncertainty of the threshold): both are drawn amber.
LEVELS = {"warn": WARN, "borderline": WARN, "fail": FAIL}
FLAGGED = tuple(LEVELS)


def violation_mask(session: Session) -> np.ndarray:
    """(T, E) uint8: the worst level (0 none, WARN, FAIL) at which segment e breaks a cue at frame t."""
    mask = np.zeros((session.n_frames, len(ALL_EDGES)), np.uint8)
    edges = {c["id"]: cue_edges(c.get("landmarks", [])) for c in session.reps["cues"]}
    for rep in session.reps["reps"]:
        for cue in rep.get("cues", []):
            level = LEVELS.get(cue.get("verdict"), 0)
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
            if not frames.size or cue.get("verdict") not in FLAGGED:
                continue
            breaks = np.flatnonzero(np.diff(frames) > 1)
            starts = np.concatenate([[frames[0]], frames[breaks + 1]])
            ends = np.concatenate([frames[breaks], [frames[-1]]])
            level = "fail" if LEVELS[cue["verdict"]] == FAIL else "warn"
            runs += [{"cue": cue["id"], "rep": rep["index"], "level": level, "start": int(s), "end": int(e)}
                     for s, e in zip(starts, ends)]
    return runs


def bottom_frames(session: Session) -> np.ndarray:
    return np.clip(np.asarray([r["bottom"] for r in session.reps["reps"]], int), 0, session.n_frames - 1)


VERDICT_ORDER = {"pass": 0, "unreliable": 1, "not_judged": 1, "warn": 2, "borderline": 2, "fail": 3}


def rep_verdict(rep: dict) -> str:
    """The worst verdict of a rep's cues (pass < unreliable < warn or borderline < fail)."""
    return max((c.get("verdict", "pass") for c in rep.get("cues", [])), key=lambda v: VERDICT_ORDER.get(v, 0),
               default="pass")
