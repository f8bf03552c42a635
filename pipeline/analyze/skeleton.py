"""The spine model and hip joint centres built from BlazePose landmarks.

BlazePose has no spine landmark, so the spine is modelled by the three contact
points of the coaching article's dowel drill (README.md, "Analysing a session"):
head = midpoint of the ears, upper back = midpoint of the shoulders (a C7/T1
proxy), sacrum = midpoint of the hips (a pelvis proxy).

Hip joint centres: MediaPipe's hip landmark sits about 3-4 cm below the true
hip joint centre (benchmarks/render_body.py measures the offset on rendered
footage). The hip joint centres are the hip landmarks moved up along the trunk
axis (mid-hips -> mid-shoulders) by ``hip_offset_m``; the shipped
config/cues.yaml sets ``settings.hip_offset_m: 0.035``. Why along the trunk
and why a constant: the offset comes from where the detector puts the pelvis
point within the pelvis, so it moves with the pelvis; standing, the trunk axis
is vertical, which is the direction the offset is measured in. Moving both
hips along the trunk leaves the trunk direction (so trunk inclination and the
spine angle) unchanged and fixes the thigh direction, so hip and knee flexion
and the backward hip travel stop depending on the offset: in the accuracy
batch (docs/accuracy.md, hips 3.5 cm low) the correction takes the 95th-percentile
errors of hip / knee flexion from 5.8 / 6.1 to 2.1 / 2.3 deg and of hip travel
from 3.6 to 1.0 cm, and the soft_knee recall from 0.77 to 1.0. The
sacrum is the midpoint of the corrected centres. Set ``hip_offset_m: 0`` for
landmarks that already are joint centres (marker-based, the raw synthetic
athlete) and for the project's rendered synthetic footage, on whose procedural
body MediaPipe puts the hips within ~1 cm of the joint centres
(docs/benchmarks.md, render_body; docs/accuracy.md shows that end to end).
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
