"""BlazePose's 33 landmarks: names, indices, left/right pairs, drawing edges."""
from __future__ import annotations

NAMES: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
N_LANDMARKS = len(NAMES)
INDEX: dict[str, int] = {n: i for i, n in enumerate(NAMES)}

# Index permutation that swaps every left landmark with its right twin.
LR_SWAP: tuple[int, ...] = tuple(
    INDEX[n.replace("left", "@").replace("right", "left").replace("@", "right")] for n in NAMES
)

# The joints used for accuracy figures (shoulders, hips, knees, ankles).
BODY_JOINTS: tuple[int, ...] = tuple(
    INDEX[f"{s}_{j}"] for j in ("shoulder", "hip", "knee", "ankle") for s in ("left", "right")
)

# Segments drawn in figures and the replay (pairs of indices).
EDGES: tuple[tuple[int, int], ...] = tuple(
    (INDEX[a], INDEX[b])
    for a, b in (
        ("left_ear", "left_eye"), ("right_ear", "right_eye"), ("left_eye", "nose"), ("right_eye", "nose"),
        ("mouth_left", "mouth_right"),
        ("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"),
        ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
        ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
        ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
        ("left_wrist", "left_index"), ("right_wrist", "right_index"),
        ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
        ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
        ("left_ankle", "left_heel"), ("left_heel", "left_foot_index"), ("left_ankle", "left_foot_index"),
        ("right_ankle", "right_heel"), ("right_heel", "right_foot_index"), ("right_ankle", "right_foot_index"),
    )
)
