"""Per-frame kinematics of the hinge from 3D landmarks (all frames at once).

Angles in degrees, positions in metres. The columns are those of
``kinematics.csv`` in docs/data-contracts.md. Values that compare with the
athlete's standing posture (trunk length, spine angle, hip travel,
shoulder-to-ear distance) use a standing reference estimated from the
session itself: the still, upright frames (smallest hip flexion).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.ndimage import uniform_filter1d

from pipeline.common.landmarks import INDEX
from pipeline.common.timebase import frame_rate
from pipeline.analyze.skeleton import hip_centres, spine_points

UP = np.array([0.0, 0.0, 1.0])

# de Leva (1996) segment masses (fraction of body mass, male) and the centre of
# mass position along each segment (fraction from the first point).
SEGMENTS = (  # name, mass, from, to, com fraction
    ("head", 0.0694, "head", "head", 0.0),
    ("trunk", 0.4346, "upper_back", "sacrum", 0.4486),
    ("upper_arm_l", 0.0271, "left_shoulder", "left_elbow", 0.5772),
    ("upper_arm_r", 0.0271, "right_shoulder", "right_elbow", 0.5772),
    ("forearm_l", 0.0162, "left_elbow", "left_wrist", 0.4574),
    ("forearm_r", 0.0162, "right_elbow", "right_wrist", 0.4574),
    ("hand_l", 0.0061, "left_wrist", "left_hand", 0.79),
    ("hand_r", 0.0061, "right_wrist", "right_hand", 0.79),
    ("thigh_l", 0.1416, "left_hip", "left_knee", 0.4095),
    ("thigh_r", 0.1416, "right_hip", "right_knee", 0.4095),
    ("shank_l", 0.0433, "left_knee", "left_ankle", 0.4459),
    ("shank_r", 0.0433, "right_knee", "right_ankle", 0.4459),
    ("foot_l", 0.0137, "left_heel", "left_foot_index", 0.4415),
    ("foot_r", 0.0137, "right_heel", "right_foot_index", 0.4415),
)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle between vectors, degrees (NaN propagates)."""
    cos = np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def _horizontal(v: np.ndarray) -> np.ndarray:
    return v * np.array([1.0, 1.0, 0.0])


def _named_points(xyz: np.ndarray) -> dict[str, np.ndarray]:
    pts = {n: xyz[:, i] for n, i in INDEX.items()}
    pts.update(spine_points(xyz))
    for s in ("left", "right"):
        pts[f"{s}_hand"] = 0.5 * (pts[f"{s}_index"] + pts[f"{s}_pinky"])
    return pts


def centre_of_mass(xyz: np.ndarray) -> np.ndarray:
    """(T,3) whole-body centre of mass of the de Leva segment model."""
    xyz = np.asarray(xyz, dtype=np.float64)
    pts = _named_points(xyz)
    com = np.zeros(xyz.shape[:-2] + (3,))
    for _, mass, a, b, frac in SEGMENTS:
        com += mass * (pts[a] + frac * (pts[b] - pts[a]))
    return com / sum(s[1] for s in SEGMENTS)


def heel_toe_fraction(point: np.ndarray, xyz: np.ndarray) -> np.ndarray:
    """Horizontal position of ``point`` along the stance feet's heel -> toe: 0 at the heels, 1 at the toes."""
    xyz = np.asarray(xyz, dtype=np.float64)
    heel = 0.5 * (xyz[:, INDEX["left_heel"]] + xyz[:, INDEX["right_heel"]])
    toe = 0.5 * (xyz[:, INDEX["left_foot_index"]] + xyz[:, INDEX["right_foot_index"]])
    foot = _horizontal(toe - heel)
    return np.sum(_horizontal(point - heel) * foot, axis=-1) / np.sum(foot * foot, axis=-1)


def facing_direction(xyz: np.ndarray, fps: float, window_s: float = 1.0) -> np.ndarray:
    """(T,3) horizontal unit vector the athlete faces.

    Two independent estimates, averaged: the feet (heel -> toe) and the hips
    (forward = left x up). Averaged over ``window_s`` because the direction
    changes slowly and a single frame's feet are noisy.
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    feet = _horizontal(xyz[:, INDEX["left_foot_index"]] + xyz[:, INDEX["right_foot_index"]]
                       - xyz[:, INDEX["left_heel"]] - xyz[:, INDEX["right_heel"]])
    left = xyz[:, INDEX["left_hip"]] - xyz[:, INDEX["right_hip"]] + xyz[:, INDEX["left_shoulder"]] - xyz[:, INDEX["right_shoulder"]]
    hips = _horizontal(np.cross(left, UP))
    f = np.nan_to_num(_unit(feet)) + np.nan_to_num(_unit(hips))
    n = max(1, int(round(window_s * fps)))
    f = uniform_filter1d(f, size=n, axis=0, mode="nearest")
    norm = np.linalg.norm(f, axis=-1, keepdims=True)
    f = np.where(norm > 1e-6, f / np.maximum(norm, 1e-12), np.nan)
    if np.isnan(f).all():
        return np.tile([1.0, 0.0, 0.0], (len(f), 1))
    # frames with no estimate take the session's median direction
    med = _unit(np.nanmedian(f, axis=0))
    return np.where(np.isnan(f), med, f)


def standing_mask(hip_flex: np.ndarray, sacrum: np.ndarray, fps: float) -> np.ndarray:
    """Frames that show the athlete standing still and upright: the reference posture."""
    ok = np.isfinite(hip_flex)
    if not ok.any():
        return ok
    speed = np.full(len(hip_flex), np.inf)
    if len(hip_flex) > 2:
        v = np.linalg.norm(np.gradient(_horizontal(sacrum), axis=0), axis=-1) * fps
        speed = uniform_filter1d(np.nan_to_num(v, nan=np.inf), size=max(1, int(fps * 0.3)), axis=0)
    still = ok & (speed < 0.15)
    pool = hip_flex[still] if still.sum() >= max(3, int(0.2 * fps)) else hip_flex[ok]
    still = still if still.sum() >= max(3, int(0.2 * fps)) else ok
    return still & (hip_flex <= np.nanpercentile(pool, 20) + 5.0)


BONE_TOLERANCE = 0.15  # a bone more than 15 % off its session median length marks an outlier joint


def bone_length_ok(v: np.ndarray) -> np.ndarray:
    """(T, 2) per side: is the bone ``v`` (T, 2, 3) within BONE_TOLERANCE of its session median length?"""
    L = np.linalg.norm(v, axis=-1)
    med = np.nanmedian(L, axis=0, keepdims=True)
    return np.abs(L / med - 1.0) <= BONE_TOLERANCE


def _signed_flexion(proximal: np.ndarray, distal: np.ndarray, lateral: np.ndarray) -> np.ndarray:
    """Flexion angle (degrees) between a segment pointing up and one pointing down; 0 = straight.

    Positive when the distal segment swings forward (toward ``lateral x proximal``).
    """
    ang = 180.0 - _angle(proximal, distal)
    forward = np.cross(lateral, proximal)
    sign = np.where(np.sum(forward * distal, axis=-1) >= 0, 1.0, -1.0)
    return sign * ang


def compute_kinematics(xyz: np.ndarray, t: np.ndarray, *, fps: float | None = None, hip_offset_m: float = 0.0) -> pd.DataFrame:
    """All per-frame kinematics of a session: one row per frame of ``xyz`` (T,33,3)."""
    with warnings.catch_warnings():  # frames with missing landmarks give NaN, which is the answer
        warnings.simplefilter("ignore", RuntimeWarning)
        return _compute(xyz, t, fps, hip_offset_m)


def _compute(xyz: np.ndarray, t: np.ndarray, fps: float | None, hip_offset_m: float) -> pd.DataFrame:
    xyz = np.asarray(xyz, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    if xyz.ndim != 3 or xyz.shape[1:] != (33, 3):
        raise ValueError(f"landmarks must be (T,33,3), got {xyz.shape}")
    if fps is None:
        fps = frame_rate(t)
    T = len(xyz)
    sp = spine_points(xyz, hip_offset_m)
    head, ub, sacrum = sp["head"], sp["upper_back"], sp["sacrum"]
    hips = hip_centres(xyz, hip_offset_m)
    knees = xyz[:, [INDEX["left_knee"], INDEX["right_knee"]]]
    ankles = xyz[:, [INDEX["left_ankle"], INDEX["right_ankle"]]]
    shoulders = xyz[:, [INDEX["left_shoulder"], INDEX["right_shoulder"]]]
    ears = xyz[:, [INDEX["left_ear"], INDEX["right_ear"]]]
    facing = facing_direction(xyz, fps)
    # toward the athlete's left, from the smoothed facing direction rather than this frame's hips,
    # so a detector's momentary left/right swap cannot flip the sign of a flexion angle
    lateral = np.cross(UP, facing)

    trunk = ub - sacrum
    thigh = knees - hips
    shank = ankles - knees
    # hip flexion against the spine model's trunk (sacrum -> upper back), not each side's
    # shoulder - hip line: the shoulders are wider than the hips, which would add a frontal tilt
    hip_flex = _signed_flexion(np.broadcast_to(trunk[:, None], thigh.shape), thigh, lateral[:, None])
    # unsigned: a knee caving in rotates out of the sagittal plane, where a sign would flip
    # (hyperextension, the only negative case, is a few degrees at most)
    knee_flex = 180.0 - _angle(-thigh, shank)
    # a leg whose thigh or shank is far from its session length holds a misplaced joint (one view's
    # outlier ankle triangulated into the skeleton): its knee angle is not measured in that frame
    leg_ok = bone_length_ok(thigh) & bone_length_ok(shank)
    knee_flex = np.where(leg_ok, knee_flex, np.nan)
    cols: dict[str, np.ndarray] = {"frame": np.arange(T), "t": t}
    cols["hip_flex"] = np.nanmean(hip_flex, axis=1) if T else np.zeros(0)
    cols["hip_flex_l"], cols["hip_flex_r"] = hip_flex[:, 0], hip_flex[:, 1]
    cols["knee_flex"] = np.nanmean(knee_flex, axis=1) if T else np.zeros(0)
    cols["knee_flex_l"], cols["knee_flex_r"] = knee_flex[:, 0], knee_flex[:, 1]
    cols["trunk_incl"] = _angle(trunk, np.broadcast_to(UP, trunk.shape))
    cols["spine_angle"] = _angle(trunk, head - ub)
    cols["neck_angle"] = _angle(head - ub, np.broadcast_to(UP, trunk.shape))

    stand = standing_mask(cols["hip_flex"], sacrum, fps)

    def ref(values: np.ndarray) -> float:
        v = values[stand] if stand.any() else values
        return float(np.nanmedian(v)) if np.isfinite(v).any() else np.nan

    trunk_len = np.linalg.norm(trunk, axis=-1)
    cols["trunk_length"] = trunk_len
    cols["trunk_length_rel"] = trunk_len / ref(trunk_len)
    cols["spine_angle_dev"] = np.abs(cols["spine_angle"] - ref(cols["spine_angle"]))
    # the bend a rep adds to the athlete's own standing knee angle: the detector's reading of a straight
    # leg is not 0 (and differs between bodies and views), its standing reading is the athlete's zero
    cols["knee_bend"] = cols["knee_flex"] - ref(cols["knee_flex"])

    ankle_mid = ankles.mean(axis=1)
    back = -np.sum(_horizontal(sacrum - ankle_mid) * facing, axis=-1)
    cols["hip_travel"] = back - ref(back)
    thigh_len = np.nanmedian(np.linalg.norm(thigh, axis=-1), axis=0)  # (2,)
    leg_len = float(np.nanmean(thigh_len + np.nanmedian(np.linalg.norm(shank, axis=-1), axis=0)))
    cols["hip_travel_leg"] = cols["hip_travel"] / leg_len

    com = centre_of_mass(xyz)
    cols["com_x"], cols["com_y"], cols["com_z"] = com[:, 0], com[:, 1], com[:, 2]
    cols["com_heel_toe"] = heel_toe_fraction(com, xyz)

    # knee deviation in the frontal plane (normal = facing), + toward the midline, / thigh length
    left_dir = np.cross(UP, facing)
    for s, (name, medial_sign) in enumerate((("l", -1.0), ("r", 1.0))):
        def frontal(p):
            return p - np.sum(p * facing, axis=-1, keepdims=True) * facing
        hp, kn, an = frontal(hips[:, s]), frontal(knees[:, s]), frontal(ankles[:, s])
        line = _unit(an - hp)
        off = (kn - hp) - np.sum((kn - hp) * line, axis=-1, keepdims=True) * line
        cols[f"knee_dev_{name}"] = medial_sign * np.sum(off * left_dir, axis=-1) / thigh_len[s]
    cols["knee_dev"] = np.fmax(cols["knee_dev_l"], cols["knee_dev_r"])

    se = np.linalg.norm(ears - shoulders, axis=-1)
    cols["shoulder_ear_l"], cols["shoulder_ear_r"] = se[:, 0], se[:, 1]
    mid_se = np.linalg.norm(head - ub, axis=-1)
    cols["shoulder_ear"] = mid_se
    cols["shoulder_ear_rel"] = mid_se / ref(mid_se)
    # protraction: mid-shoulders ahead of the sacrum -> head line, metres, vs standing
    line = _unit(head - sacrum)
    off = (ub - sacrum) - np.sum((ub - sacrum) * line, axis=-1, keepdims=True) * line
    fwd = _unit(np.cross(lateral, line))
    prot = np.sum(off * fwd, axis=-1)
    cols["shoulder_protraction"] = prot - ref(prot)

    wrists = xyz[:, [INDEX["left_wrist"], INDEX["right_wrist"]]]
    cols["wrist_z"] = wrists[..., 2].mean(axis=1)
    # arm elevation: shoulder -> wrist from straight down, forward positive (kettlebell swing timing)
    arm = (wrists - shoulders).mean(axis=1)
    cols["arm_elev"] = np.degrees(np.arctan2(np.sum(arm * facing, axis=-1), -arm[:, 2]))
    for name, p in (("head", head), ("upper_back", ub), ("sacrum", sacrum)):
        for ax, k in zip("xyz", range(3)):
            cols[f"{name}_{ax}"] = p[:, k]
    for s, name in enumerate(("l", "r")):
        for ax, k in zip("xyz", range(3)):
            cols[f"hip_{name}_{ax}"] = hips[:, s, k]
    cols["facing_x"], cols["facing_y"] = facing[:, 0], facing[:, 1]
    cols["standing"] = stand
    df = pd.DataFrame(cols)
    df.attrs.update({"leg_length": leg_len, "thigh_length": thigh_len.tolist(), "fps": float(fps)})
    return df
