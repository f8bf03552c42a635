"""A procedural athlete built from BlazePose landmarks: ellipsoids and tapered capsules.

Every primitive is placed from the 33 landmarks of a frame, batched over all
frames at once, so the figure follows any motion. Proportions scale with the
landmarks (trunk length, shoulder and hip width, ear distance), so any athlete
height works. The face (eyes, brows, nose, mouth, ears) and the hair matter:
without them MediaPipe cannot tell front from back and swaps left and right.

Primitive arrays match ``pipeline.synthetic.gl``: ellipsoids (T, N, 15) = centre,
three semi-axis columns, RGB; cylinders (T, M, 11) = end a, end b, radius a,
radius b, RGB.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.common.landmarks import INDEX, N_LANDMARKS


class MotionInputError(ValueError):
    """Landmark array that cannot drive the figure; the message says what is wrong."""


@dataclass(frozen=True)
class Palette:
    skin: tuple = (0.86, 0.66, 0.53)
    shirt: tuple = (0.16, 0.36, 0.78)
    shorts: tuple = (0.13, 0.13, 0.16)
    shoe: tuple = (0.93, 0.93, 0.93)
    sole: tuple = (0.22, 0.22, 0.24)
    hair: tuple = (0.24, 0.15, 0.09)
    eye_white: tuple = (0.96, 0.96, 0.96)
    iris: tuple = (0.12, 0.08, 0.05)
    brow: tuple = (0.20, 0.12, 0.07)
    lips: tuple = (0.72, 0.32, 0.32)


# Reference body: 1.75 m athlete, trunk (hip centre -> shoulder centre) 0.52 m, ears 0.15 m apart.
_TRUNK_REF = 0.52
_EARS_REF = 0.15


def validate_landmarks(xyz: np.ndarray) -> np.ndarray:
    xyz = np.asarray(xyz, dtype=np.float64)
    if xyz.ndim == 2:
        xyz = xyz[None]
    if xyz.ndim != 3 or xyz.shape[1:] != (N_LANDMARKS, 3):
        raise MotionInputError(f"landmarks must have shape (T, {N_LANDMARKS}, 3) in world metres, got {xyz.shape}")
    if len(xyz) == 0:
        raise MotionInputError("landmark array has no frames")
    bad = ~np.isfinite(xyz).all(axis=(1, 2))
    if bad.any():
        raise MotionInputError(
            f"{int(bad.sum())} frame(s) have missing (NaN/inf) landmarks, first at frame {int(np.argmax(bad))}: "
            "the renderer needs every landmark; interpolate or drop those frames first")
    return xyz


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _orth(v: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """``v`` made perpendicular to unit ``axis`` and normalised."""
    return _unit(v - np.sum(v * axis, axis=-1, keepdims=True) * axis)


def _col(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x[..., None] if x.ndim == 1 else x


class _Builder:
    """Collects primitives for all frames; each call adds one primitive per frame."""

    def __init__(self, n_frames: int) -> None:
        self.T = n_frames
        self.ellipsoids: list[np.ndarray] = []
        self.cylinders: list[np.ndarray] = []

    def ellipsoid(self, center, e1, e2, e3, s1, s2, s3, color) -> None:
        """Ellipsoid at ``center`` with unit axes e1..e3 (T, 3) and semi-axes s1..s3 (scalars or (T,))."""
        cols = [np.asarray(e) * _col(np.broadcast_to(s, (self.T,))) for e, s in ((e1, s1), (e2, s2), (e3, s3))]
        self.ellipsoids.append(np.concatenate(
            [np.broadcast_to(center, (self.T, 3)), *cols, np.broadcast_to(color, (self.T, 3))], axis=1))

    def sphere(self, center, r, color) -> None:
        eye = np.broadcast_to(np.eye(3), (self.T, 3, 3))
        self.ellipsoid(center, eye[:, 0], eye[:, 1], eye[:, 2], r, r, r, color)

    def capsule(self, a, b, ra, rb, color, caps: bool = True) -> None:
        """Tapered capsule: a truncated cone closed by spheres of the end radii."""
        ra = np.broadcast_to(ra, (self.T,))
        rb = np.broadcast_to(rb, (self.T,))
        self.cylinders.append(np.concatenate(
            [np.broadcast_to(a, (self.T, 3)), np.broadcast_to(b, (self.T, 3)), ra[:, None], rb[:, None],
             np.broadcast_to(color, (self.T, 3))], axis=1))
        if caps:
            self.sphere(a, ra, color)
            self.sphere(b, rb, color)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return (np.stack(self.ellipsoids, axis=1).astype(np.float32),
                np.stack(self.cylinders, axis=1).astype(np.float32))


def body_primitives(xyz: np.ndarray, palette: Palette = Palette()) -> tuple[np.ndarray, np.ndarray]:
    """Ellipsoids (T, N, 15) and cylinders (T, M, 11) of the figure for landmarks ``xyz`` (T, 33, 3)."""
    P = validate_landmarks(xyz)
    T = len(P)
    L = {name: P[:, i] for name, i in INDEX.items()}
    b = _Builder(T)
    pal = palette

    hip_c = (L["left_hip"] + L["right_hip"]) / 2
    sh_c = (L["left_shoulder"] + L["right_shoulder"]) / 2
    trunk = sh_c - hip_c
    trunk_len = np.linalg.norm(trunk, axis=-1)
    s = trunk_len / _TRUNK_REF  # body scale
    up = _unit(trunk)
    lat_sh = _orth(L["left_shoulder"] - L["right_shoulder"], up)
    lat_hip = _orth(L["left_hip"] - L["right_hip"], up)
    fwd_sh = np.cross(lat_sh, up)
    fwd_hip = np.cross(lat_hip, up)
    lat_mid = _orth(lat_sh + lat_hip, up)
    fwd_mid = np.cross(lat_mid, up)
    sw = np.linalg.norm(L["left_shoulder"] - L["right_shoulder"], axis=-1)
    hw = np.linalg.norm(L["left_hip"] - L["right_hip"], axis=-1)

    # Trunk: a wide, shallow chest, a narrower waist, the pelvis in shorts.
    chest = hip_c + trunk * 0.70
    b.ellipsoid(chest, lat_sh, fwd_sh, up, 0.5 * sw + 0.025 * s, 0.105 * s, 0.20 * s, pal.shirt)
    b.ellipsoid(hip_c + trunk * 0.40 - fwd_mid * 0.005 * s[:, None], lat_mid, fwd_mid, up,
                0.5 * sw * 0.78, 0.095 * s, 0.17 * s, pal.shirt)
    b.ellipsoid(hip_c + up * 0.035 * s[:, None], lat_hip, fwd_hip, up, 0.5 * hw + 0.085 * s, 0.105 * s, 0.12 * s,
                pal.shorts)
    for side in (1, -1):
        glute = hip_c + side * lat_hip * (0.25 * hw)[:, None] - fwd_hip * 0.045 * s[:, None] - up * 0.02 * s[:, None]
        b.sphere(glute, 0.085 * s, pal.shorts)

    # Arms: deltoid under a short sleeve, skin forearm, hand with a thumb.
    for side in ("left", "right"):
        sh, el, wr = L[f"{side}_shoulder"], L[f"{side}_elbow"], L[f"{side}_wrist"]
        b.sphere(sh, 0.058 * s, pal.shirt)
        b.capsule(sh, el, 0.047 * s, 0.037 * s, pal.skin)
        b.capsule(sh, sh + 0.45 * (el - sh), 0.056 * s, 0.050 * s, pal.shirt, caps=False)
        b.capsule(el, wr, 0.037 * s, 0.027 * s, pal.skin)
        knuckles = (L[f"{side}_index"] + L[f"{side}_pinky"]) / 2
        along = _unit(knuckles - wr)
        hand_len = np.linalg.norm(knuckles - wr, axis=-1)
        across = _orth(L[f"{side}_index"] - L[f"{side}_pinky"], along)
        palm = np.cross(along, across)
        b.ellipsoid(wr + along * (0.55 * hand_len + 0.01 * s)[:, None], along, across, palm,
                    0.5 * hand_len + 0.03 * s, 0.042 * s, 0.018 * s, pal.skin)
        thumb = L[f"{side}_thumb"]
        b.capsule(wr + 0.35 * (thumb - wr), thumb, 0.013 * s, 0.011 * s, pal.skin)

    # Legs: thighs under shorts, skin shins, shoes from heel to toe with a dark sole.
    for side in ("left", "right"):
        hp, kn, an = L[f"{side}_hip"], L[f"{side}_knee"], L[f"{side}_ankle"]
        b.capsule(hp, kn, 0.085 * s, 0.056 * s, pal.skin)
        b.capsule(hp, hp + 0.45 * (kn - hp), 0.095 * s, 0.080 * s, pal.shorts, caps=False)
        b.capsule(kn, an, 0.055 * s, 0.035 * s, pal.skin)
        heel, toe = L[f"{side}_heel"], L[f"{side}_foot_index"]
        along = _unit(toe - heel)
        foot_len = np.linalg.norm(toe - heel, axis=-1)
        mid = (heel + toe) / 2
        foot_up = _orth(an - mid, along)
        across = np.cross(foot_up, along)
        shoe_c = mid + foot_up * 0.025 * s[:, None]
        b.ellipsoid(shoe_c, along, across, foot_up, 0.5 * foot_len + 0.025 * s, 0.048 * s, 0.045 * s, pal.shoe)
        b.ellipsoid(shoe_c - foot_up * 0.022 * s[:, None], along, across, foot_up,
                    0.5 * foot_len + 0.03 * s, 0.05 * s, 0.025 * s, pal.sole)
        b.capsule(an, an + 0.35 * (kn - an) * 0.4, 0.04 * s, 0.039 * s, pal.shoe, caps=False)

    _head(b, L, sh_c, up, s, pal)
    return b.arrays()


def _head(b: _Builder, L: dict, sh_c: np.ndarray, trunk_up: np.ndarray, s: np.ndarray, pal: Palette) -> None:
    ear_l, ear_r, nose = L["left_ear"], L["right_ear"], L["nose"]
    ears = (ear_l + ear_r) / 2
    lat = _unit(ear_l - ear_r)
    fwd = _orth(nose - ears, lat)
    up = np.cross(fwd, lat)
    hs = np.linalg.norm(ear_l - ear_r, axis=-1) / _EARS_REF
    k = hs[:, None]

    eyes = (L["left_eye"] + L["right_eye"]) / 2
    eye_depth = np.sum((eyes - ears) * fwd, axis=-1)
    eye_half = 0.5 * np.linalg.norm(L["left_eye"] - L["right_eye"], axis=-1)
    skull_lat, skull_up = 0.078 * hs, 0.115 * hs
    skull_c = ears + up * 0.02 * k
    eye_height = np.sum((eyes - skull_c) * up, axis=-1)
    # the skull's front passes just behind the eye landmarks so the eyes sit on the face
    shrink = np.sqrt(np.clip(1 - (eye_half / skull_lat) ** 2 - (eye_height / skull_up) ** 2, 0.3, 1))
    skull_fwd = np.clip((eye_depth - 0.006 * hs) / shrink, 0.07 * hs, 0.13 * hs)
    b.ellipsoid(skull_c, lat, fwd, up, skull_lat, skull_fwd, skull_up, pal.skin)
    mouth = (L["mouth_left"] + L["mouth_right"]) / 2
    mouth_height = np.sum((mouth - ears) * up, axis=-1)
    jaw_c = ears + fwd * (0.35 * eye_depth)[:, None] + up * (mouth_height - 0.01 * hs)[:, None]
    b.ellipsoid(jaw_c, lat, fwd, up, 0.062 * hs, np.sum((mouth - jaw_c) * fwd, axis=-1) - 0.002 * hs, 0.055 * hs, pal.skin)
    # neck from between the shoulders to under the skull
    b.capsule(sh_c + trunk_up * 0.03 * s[:, None], skull_c - up * 0.07 * k, 0.055 * s, 0.05 * hs, pal.skin, caps=False)

    for side, sign in (("left", 1.0), ("right", -1.0)):
        eye = L[f"{side}_eye"]
        b.ellipsoid(eye - fwd * 0.004 * k, lat, fwd, up, 0.014 * hs, 0.007 * hs, 0.009 * hs, pal.eye_white)
        b.sphere(eye + fwd * 0.0015 * k, 0.0055 * hs, pal.iris)
        b.ellipsoid(eye + up * 0.018 * k - fwd * 0.001 * k, lat, fwd, up, 0.018 * hs, 0.006 * hs, 0.004 * hs, pal.brow)
        ear = L[f"{side}_ear"]
        b.ellipsoid(ear + sign * lat * 0.004 * k - fwd * 0.005 * k, lat, fwd, up, 0.012 * hs, 0.022 * hs, 0.032 * hs,
                    pal.skin)
    bridge = (L["left_eye_inner"] + L["right_eye_inner"]) / 2
    nose_len = np.linalg.norm(nose - bridge, axis=-1)
    along = _unit(nose - bridge)
    across = _orth(lat, along)
    b.ellipsoid((bridge + nose) / 2 - fwd * 0.008 * k, along, across, np.cross(along, across),
                0.5 * nose_len + 0.006 * hs, 0.011 * hs, 0.016 * hs, pal.skin)
    mouth_half = 0.5 * np.linalg.norm(L["mouth_left"] - L["mouth_right"], axis=-1)
    b.ellipsoid(mouth, lat, fwd, up, mouth_half + 0.004 * hs, 0.006 * hs, 0.006 * hs, pal.lips)
    # hair: a cap over the top and back of the skull that leaves the face open
    b.ellipsoid(skull_c + up * 0.014 * k - fwd * 0.02 * k, lat, fwd, up, skull_lat * 1.07, skull_fwd * 1.03,
                skull_up * 1.02, pal.hair)
