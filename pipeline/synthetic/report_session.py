"""A small, deterministic session in the exact shape of docs/data-contracts.md.

The report's tests and benchmark need pose3d.npz, kinematics.csv and reps.json
without running the whole workflow. The skeleton is a rigid stick figure that
hinges at the hips (trunk, head and arms rotate about the hip axis, hips move
back, knees bend slightly); the rep verdicts are chosen by the caller, so the
report's colouring can be checked against a known answer.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from pipeline.analyze.cues import METRICS
from pipeline.common.landmarks import INDEX, N_LANDMARKS
from pipeline.contracts.kinematics import write_kinematics
from pipeline.contracts.pose3d import write_pose3d
from pipeline.contracts.reps import write_reps

# Standing pose, metres, athlete facing +x, left side at +y, feet on z = 0.
_STANDING = {
    "nose": (0.10, 0.00, 1.62), "left_eye_inner": (0.09, 0.02, 1.66), "left_eye": (0.09, 0.035, 1.66),
    "left_eye_outer": (0.085, 0.05, 1.66), "right_eye_inner": (0.09, -0.02, 1.66),
    "right_eye": (0.09, -0.035, 1.66), "right_eye_outer": (0.085, -0.05, 1.66),
    "left_ear": (0.0, 0.075, 1.63), "right_ear": (0.0, -0.075, 1.63),
    "mouth_left": (0.09, 0.025, 1.57), "mouth_right": (0.09, -0.025, 1.57),
    "left_shoulder": (0.0, 0.19, 1.44), "right_shoulder": (0.0, -0.19, 1.44),
    "left_elbow": (0.0, 0.21, 1.16), "right_elbow": (0.0, -0.21, 1.16),
    "left_wrist": (0.02, 0.20, 0.90), "right_wrist": (0.02, -0.20, 0.90),
    "left_pinky": (0.03, 0.20, 0.82), "right_pinky": (0.03, -0.20, 0.82),
    "left_index": (0.05, 0.19, 0.81), "right_index": (0.05, -0.19, 0.81),
    "left_thumb": (0.06, 0.18, 0.85), "right_thumb": (0.06, -0.18, 0.85),
    "left_hip": (0.0, 0.11, 0.95), "right_hip": (0.0, -0.11, 0.95),
    "left_knee": (0.02, 0.11, 0.50), "right_knee": (0.02, -0.11, 0.50),
    "left_ankle": (0.0, 0.11, 0.08), "right_ankle": (0.0, -0.11, 0.08),
    "left_heel": (-0.05, 0.11, 0.03), "right_heel": (-0.05, -0.11, 0.03),
    "left_foot_index": (0.18, 0.12, 0.02), "right_foot_index": (0.18, -0.12, 0.02),
}
_UPPER = [INDEX[n] for n in _STANDING if not any(k in n for k in ("hip", "knee", "ankle", "heel", "foot"))]
_KNEES = [INDEX["left_knee"], INDEX["right_knee"]]
_HIPS = [INDEX["left_hip"], INDEX["right_hip"]]

CUES = [
    {"id": "neutral_spine", "words": "keep the natural curves; head, upper back and sacrum stay on the dowel",
     "metric": "spine_angle_dev", "unit": "deg",
     "landmarks": ["left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_hip", "right_hip"]},
    {"id": "hip_back", "words": "hips push back; posterior weight shift", "metric": "hip_travel_bottom",
     "unit": "leg", "landmarks": ["left_hip", "right_hip"]},
    {"id": "soft_knee", "words": "slight knee bend of about 10-20 degrees, not locked", "metric": "knee_flex_bottom",
     "unit": "deg", "landmarks": ["left_knee", "right_knee"]},
]
for _cue in CUES:  # how each metric maps onto a kinematics column, as the analysis writes it
    _cue.update(METRICS[_cue["metric"]].header())
_THRESHOLDS = {
    "neutral_spine": ("above", {"warn": 15.0, "fail": 20.0}),
    "hip_back": ("below", {"warn": 0.18, "fail": 0.15}),
    "soft_knee": ("between", {"warn": [8.0, 25.0], "fail": [5.0, 30.0]}),
}


def hinge_pose(hip_flex_deg: np.ndarray, knee_flex_deg: np.ndarray, hip_back_m: np.ndarray) -> np.ndarray:
    """(T,33,3) stick figure for per-frame hip flexion, knee flexion and backward hip travel."""
    base = np.zeros((N_LANDMARKS, 3), np.float64)
    for name, xyz in _STANDING.items():
        base[INDEX[name]] = xyz
    T = len(hip_flex_deg)
    xyz = np.repeat(base[None], T, axis=0)
    hip_centre = base[_HIPS].mean(axis=0)
    a = np.radians(hip_flex_deg)[:, None]
    rel = base[_UPPER] - hip_centre  # (U,3)
    # Rotation about the lateral (y) axis tips the trunk forward (+x), batched over frames.
    xyz[:, _UPPER, 0] = hip_centre[0] + rel[None, :, 0] * np.cos(a) + rel[None, :, 2] * np.sin(a)
    xyz[:, _UPPER, 2] = hip_centre[2] - rel[None, :, 0] * np.sin(a) + rel[None, :, 2] * np.cos(a)
    # Arms hang from the shoulders instead of turning with the trunk.
    for side in ("left", "right"):
        arm = [INDEX[f"{side}_{j}"] for j in ("elbow", "wrist", "pinky", "index", "thumb")]
        sh = INDEX[f"{side}_shoulder"]
        xyz[:, arm] = xyz[:, [sh]] + (base[arm] - base[sh])[None]
    k = np.radians(knee_flex_deg)[:, None]
    xyz[:, _KNEES, 0] += 0.45 * np.sin(k)
    xyz[:, _UPPER + _HIPS, 0] -= hip_back_m[:, None]
    xyz[:, _UPPER + _HIPS, 2] -= 0.9 * (1 - np.cos(k))
    return xyz.astype(np.float32)


def _rep_windows(n_reps: int, T: int, fps: float) -> list[tuple[int, int, int]]:
    period = T // (n_reps + 1)
    first = period // 2
    return [(first + i * period, first + i * period + int(0.45 * period), first + i * period + int(0.9 * period))
            for i in range(n_reps)]


def write_sample_session(
    out_dir: str | Path, *, n_reps: int = 4, seconds: float = 12.0, fps: float = 30.0,
    faults: dict[int, Iterable[str]] | None = None, session: str | None = None,
    exercise: str = "deadlift", depth_deg: float = 95.0, seed: int = 0,
) -> Path:
    """Write pose3d.npz, kinematics.csv and reps.json for a session; ``faults`` maps rep index (1-based) to cue ids."""
    out = Path(out_dir)
    faults = {int(k): set(v) for k, v in (faults or {}).items()}
    rng = np.random.default_rng(seed)
    T = int(round(seconds * fps))
    t = np.arange(T) / fps
    windows = _rep_windows(n_reps, T, fps)
    phase = np.zeros(T)
    for s, _, e in windows:
        idx = np.arange(s, e + 1)
        phase[idx] = np.sin(np.pi * (idx - s) / (e - s)) ** 2
    hip = depth_deg * phase
    knee = 15.0 * phase
    back = 0.18 * phase
    for rep, cues in faults.items():
        s, _, e = windows[rep - 1]
        if "soft_knee" in cues:
            knee[s:e + 1] = 40.0 * phase[s:e + 1]
        if "hip_back" in cues:
            back[s:e + 1] = 0.05 * phase[s:e + 1]
    xyz = hinge_pose(hip, knee, back) + rng.normal(0, 0.002, (T, N_LANDMARKS, 3)).astype(np.float32)
    err = np.full((T, N_LANDMARKS), 1.5, np.float32)
    write_pose3d(out / "pose3d.npz", xyz, t, fps=fps, err=err, ncams=np.full((T, N_LANDMARKS), 4))

    mid = lambda a, b: (xyz[:, INDEX[a]] + xyz[:, INDEX[b]]) / 2  # noqa: E731
    head, upper, sacrum = mid("left_ear", "right_ear"), mid("left_shoulder", "right_shoulder"), mid("left_hip", "right_hip")
    spine_dev = np.zeros(T)
    for rep, cues in faults.items():
        if "neutral_spine" in cues:
            s, _, e = windows[rep - 1]
            spine_dev[s:e + 1] = 30.0 * phase[s:e + 1]
    kin = pd.DataFrame({
        "frame": np.arange(T), "t": t, "hip_flex": hip, "knee_flex": knee, "trunk_incl": hip,
        "spine_angle": 165.0 - spine_dev, "trunk_length_rel": 1.0 - 0.002 * spine_dev,
        "hip_travel": back / 0.87, "com_heel_toe": 0.4 + 0.1 * phase, "facing_x": 1.0, "facing_y": 0.0,
    })
    for name, p in (("head", head), ("upper_back", upper), ("sacrum", sacrum)):
        for j, ax in enumerate("xyz"):
            kin[f"{name}_{ax}"] = p[:, j]
    for side in "lr":
        kin[f"hip_flex_{side}"], kin[f"knee_flex_{side}"] = hip, knee
    write_kinematics(out / "kinematics.csv", kin)

    reps, violations = [], {}
    for i, (s, b, e) in enumerate(windows, start=1):
        rep_cues = []
        values = {"neutral_spine": float(spine_dev[s:e + 1].max()), "hip_back": float(back[b] / 0.87),
                  "soft_knee": float(knee[b])}
        for cue in CUES:
            comparator, thr = _THRESHOLDS[cue["id"]]
            bad = cue["id"] in faults.get(i, ())
            frames = list(range(s + (b - s) // 2, b + (e - b) // 2)) if bad else []
            if bad:
                violations[cue["id"]] = violations.get(cue["id"], 0) + 1
            rep_cues.append({"id": cue["id"], "value": round(values[cue["id"]], 3), "comparator": comparator,
                             "threshold": thr, "verdict": "fail" if bad else "pass", "frames": frames})
        reps.append({"index": i, "start": s, "bottom": b, "end": e, "t_start": s / fps, "t_bottom": b / fps,
                     "t_end": e / fps, "lowering_s": (b - s) / fps, "rising_s": (e - b) / fps, "reliable": True,
                     "metrics": {"hip_flex_bottom": float(hip[b]), "knee_flex_bottom": float(knee[b])},
                     "cues": rep_cues})
    write_reps(out / "reps.json", {
        "session": session or out.name, "exercise": exercise, "fps": fps, "n_reps": n_reps, "cues": CUES,
        "reps": reps, "summary": {"quality_reps": sum(1 for i in range(1, n_reps + 1) if not faults.get(i)),
                                  "violations": violations},
    })
    return out
