"""The spine model and hip joint centres built from BlazePose landmarks.

BlazePose has no spine landmark, so the spine is modelled by the three contact
points of the coaching article's dowel drill (README.md, "Analysing a session"):
head = midpoint of the ears, upper back = midpoint of the shoulders (a C7/T1
proxy), sacrum = midpoint of the hips (a pelvis proxy).

Hip joint centres: the hip landmarks, optionally moved up the trunk axis
(mid-hips -> mid-shoulders) by ``hip_offset_m`` (``settings.hip_offset_m`` in
config/cues.yaml, or per session in config/config.yaml). The shipped value is
0: no correction. A constant 3.5 cm had been shipped on the claim that
MediaPipe's hip landmark sits 3-4 cm below the joint centre on real people;
nothing in this project measured that on people, and through video on the
rendered athletes (docs/accuracy.md, through-video benchmark) the detected hip
is within about 2 cm of the joint centre standing and rides 2-8 cm *up* the
trunk in deep hip flexion, so a constant upward shift makes the hip and knee
angles worse (knees near extension read 4-15 deg off with it, within a few
degrees without). Keep the knob for landmarks whose offset you have measured
against markers on your own athletes; moving both hips along the trunk leaves
the trunk direction (trunk inclination, the spine angle) unchanged and changes
the thigh direction, hence hip and knee flexion and the backward hip travel.
"""
from __future__ import annotations

import numpy as np

from pipeline.common.landmarks import INDEX

SPINE_POINTS = ("head", "upper_back", "sacrum")
_PAIRS = {"head": ("left_ear", "right_ear"), "upper_back": ("left_shoulder", "right_shoulder"),
          "sacrum": ("left_hip", "right_hip")}


def midpoint(xyz: np.ndarray, a: str, b: str) -> np.ndarray:
    return 0.5 * (xyz[..., INDEX[a], :] + xyz[..., INDEX[b], :])


def spine_points(xyz: np.ndarray, hip_offset_m: float = 0.0) -> dict[str, np.ndarray]:
    """{head, upper_back, sacrum}: (T,3) each, from (T,33,3) landmarks; sacrum = mid hip joint centres."""
    pts = {name: midpoint(xyz, *pair) for name, pair in _PAIRS.items()}
    if hip_offset_m:
        pts["sacrum"] = hip_centres(xyz, hip_offset_m).mean(axis=-2)
    return pts


def hip_centres(xyz: np.ndarray, hip_offset_m: float = 0.0) -> np.ndarray:
    """(T,2,3) left and right hip joint centres; see the module note on ``hip_offset_m``."""
    hips = np.stack([xyz[..., INDEX["left_hip"], :], xyz[..., INDEX["right_hip"], :]], axis=-2)
    if hip_offset_m:
        axis = midpoint(xyz, "left_shoulder", "right_shoulder") - midpoint(xyz, "left_hip", "right_hip")
        axis = axis / np.linalg.norm(axis, axis=-1, keepdims=True)
        hips = hips + hip_offset_m * axis[..., None, :]
    return hips
