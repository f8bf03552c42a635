"""A procedural athlete built from BlazePose landmarks: ellipsoids and tapered capsules.

Every primitive is placed from the 33 landmarks of a frame, batched over all
frames at once, so the figure follows any motion. Proportions scale with the
landmarks (trunk length, shoulder and hip width, ear distance), so any athlete
height works. With a spine curve (``pipeline.synthetic.athlete``'s
``SyntheticSession.spine``) the chest and waist are a chain of ellipsoids along
it, so a rounded spine bends the back's silhouette (without one the trunk is
straight between hips and shoulders, whatever the spine does). ``Palette``
(colours) and ``Physique`` (trunk depth, limb girth, hair style) vary the look. The face (eyes, brows, nose, mouth, ears) and the hair matter:
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

    @classmethod
    def random(cls, rng: np.random.Generator) -> "Palette":
        """Skin from very light to very dark, clothes of any colour (dark ones included), hair black to grey."""
        skin = np.array(_SKIN[rng.integers(len(_SKIN))]) * rng.uniform(0.93, 1.05)
        hair = np.array(_HAIR[rng.integers(len(_HAIR))])

        def cloth(lo: float, hi: float) -> tuple:
            import colorsys
            return tuple(float(v) for v in colorsys.hsv_to_rgb(rng.uniform(0, 1), rng.uniform(0.0, 0.85), rng.uniform(lo, hi)))

        return cls(skin=tuple(np.clip(skin, 0, 1)), shirt=cloth(0.12, 0.95), shorts=cloth(0.08, 0.7), shoe=cloth(0.3, 0.97),
                   hair=tuple(hair), brow=tuple(hair * 0.85), lips=tuple(np.clip(skin * np.array([0.85, 0.5, 0.5]), 0, 1)))


# Skin tones from light to dark (sRGB, 0-1) and hair colours (black, browns, blonde, red, grey).
_SKIN = ((0.96, 0.80, 0.69), (0.92, 0.72, 0.58), (0.86, 0.66, 0.53), (0.78, 0.57, 0.42), (0.66, 0.46, 0.32),
         (0.55, 0.37, 0.25), (0.42, 0.27, 0.18), (0.32, 0.20, 0.14))
_HAIR = ((0.05, 0.04, 0.04), (0.24, 0.15, 0.09), (0.40, 0.26, 0.14), (0.78, 0.64, 0.38), (0.55, 0.25, 0.10),
         (0.62, 0.62, 0.62))
HAIR_STYLES = ("short", "bun", "ponytail")


@dataclass(frozen=True)
class Physique:
    """Build beyond the landmarks: trunk depth (front-to-back, x the reference), limb girth, hair style."""
    trunk_depth: float = 1.0
    girth: float = 1.0
    hair: str = "short"

    def __post_init__(self) -> None:
        if self.hair not in HAIR_STYLES:
            raise ValueError(f"hair must be one of {', '.join(HAIR_STYLES)}, got '{self.hair}'")

    @classmethod
    def random(cls, rng: np.random.Generator) -> "Physique":
        return cls(trunk_depth=float(rng.uniform(0.85, 1.2)), girth=float(rng.uniform(0.85, 1.2)),
                   hair=str(rng.choice(HAIR_STYLES)))


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


def body_primitives(xyz: np.ndarray, palette: Palette = Palette(), spine: np.ndarray | None = None,
                    spine_sigma: np.ndarray | None = None, physique: Physique = Physique()
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Ellipsoids (T, N, 15) and cylinders (T, M, 11) of the figure for landmarks ``xyz`` (T, 33, 3).

    ``spine`` (T, K, 3): the trunk axis from the hip centre to the mid-shoulders at arc fractions
    ``spine_sigma`` (K,) (default evenly spaced); the chest and waist then follow it.
    """
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
    sw = np.linalg.norm(L["left_shoulder"] - L["right_shoulder"], axis=-1)
    hw = np.linalg.norm(L["left_hip"] - L["right_hip"], axis=-1)
    depth = physique.trunk_depth * s
    girth = physique.girth * s

    if spine is None:
        top_up = _straight_trunk(b, hip_c, trunk, up, lat_sh, lat_hip, sw, hw, s, depth, pal)
    else:
        top_up = _curved_trunk(b, P, spine, spine_sigma, hip_c, trunk_len, lat_sh, lat_hip, sw, hw, s, depth, pal)

    # Arms: deltoid under a short sleeve, skin forearm, hand with a thumb.
    for side in ("left", "right"):
        sh, el, wr = L[f"{side}_shoulder"], L[f"{side}_elbow"], L[f"{side}_wrist"]
        b.sphere(sh, 0.058 * girth, pal.shirt)
        b.capsule(sh, el, 0.047 * girth, 0.037 * girth, pal.skin)
        b.capsule(sh, sh + 0.45 * (el - sh), 0.056 * girth, 0.050 * girth, pal.shirt, caps=False)
        b.capsule(el, wr, 0.037 * girth, 0.027 * girth, pal.skin)
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
        b.capsule(hp, kn, 0.085 * girth, 0.056 * girth, pal.skin)
        b.capsule(hp, hp + 0.45 * (kn - hp), 0.095 * girth, 0.080 * girth, pal.shorts, caps=False)
        b.capsule(kn, an, 0.055 * girth, 0.035 * girth, pal.skin)
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

    _head(b, L, sh_c, top_up, s, pal, physique.hair)
    return b.arrays()


def _straight_trunk(b: _Builder, hip_c, trunk, up, lat_sh, lat_hip, sw, hw, s, depth, pal) -> np.ndarray:
    """A wide, shallow chest, a narrower waist and the pelvis in shorts, straight between hips and shoulders."""
    fwd_sh = np.cross(lat_sh, up)
    fwd_hip = np.cross(lat_hip, up)
    lat_mid = _orth(lat_sh + lat_hip, up)
    fwd_mid = np.cross(lat_mid, up)
    chest = hip_c + trunk * 0.70
    b.ellipsoid(chest, lat_sh, fwd_sh, up, 0.5 * sw + 0.025 * s, 0.105 * depth, 0.20 * s, pal.shirt)
    b.ellipsoid(hip_c + trunk * 0.40 - fwd_mid * 0.005 * s[:, None], lat_mid, fwd_mid, up,
                0.5 * sw * 0.78, 0.095 * depth, 0.17 * s, pal.shirt)
    b.ellipsoid(hip_c + up * 0.035 * s[:, None], lat_hip, fwd_hip, up, 0.5 * hw + 0.085 * s, 0.105 * depth, 0.12 * s,
                pal.shorts)
    for side in (1, -1):
        glute = hip_c + side * lat_hip * (0.25 * hw)[:, None] - fwd_hip * 0.045 * s[:, None] - up * 0.02 * s[:, None]
        b.sphere(glute, 0.085 * s, pal.shorts)
    return up


def _interp_curve(spine: np.ndarray, sigma_k: np.ndarray, sig: np.ndarray) -> np.ndarray:
    """Points (T, len(sig), 3) on the polyline ``spine`` (T, K, 3) at arc fractions ``sig``."""
    i = np.clip(np.searchsorted(sigma_k, sig) - 1, 0, len(sigma_k) - 2)
    w = ((sig - sigma_k[i]) / (sigma_k[i + 1] - sigma_k[i]))[None, :, None]
    return spine[:, i] * (1 - w) + spine[:, i + 1] * w


def spine_frames(spine: np.ndarray, sigma_k: np.ndarray, sig: np.ndarray, lateral: np.ndarray):
    """Position, unit tangent, lateral and forward axes (each (T, n, 3)) along the curve at ``sig``."""
    pos = _interp_curve(spine, sigma_k, sig)
    h = 0.02
    tan = _unit(_interp_curve(spine, sigma_k, np.clip(sig + h, 0, 1)) - _interp_curve(spine, sigma_k, np.clip(sig - h, 0, 1)))
    lat = _orth(np.broadcast_to(lateral[:, None], tan.shape), tan)
    return pos, tan, lat, np.cross(lat, tan)


N_CHAIN = 20  # ellipsoids along the spine: enough overlap that the back's outline is smooth


def _curved_trunk(b: _Builder, P, spine, spine_sigma, hip_c, trunk_len, lat_sh, lat_hip, sw, hw, s, depth, pal) -> np.ndarray:
    """Chest and waist as a chain of overlapping ellipsoids centred on the spine curve, oriented by its
    tangent; the upper chest by the curve's top, the pelvis and glutes by its lower tangent."""
    spine = np.asarray(spine, dtype=np.float64)
    T = len(P)
    if spine.ndim != 3 or spine.shape[0] != T or spine.shape[2] != 3:
        raise MotionInputError(f"spine must be (T={T}, K, 3) like the landmarks, got {spine.shape}")
    sigma_k = np.linspace(0, 1, spine.shape[1]) if spine_sigma is None else np.asarray(spine_sigma, float)
    lat_mid = _unit(lat_sh + lat_hip)
    sc, dc = s[:, None], depth[:, None]
    sig = np.linspace(0.14, 0.80, N_CHAIN)
    pos, tan, lat, fwd = spine_frames(spine, sigma_k, sig, lat_mid)
    knots = np.array([0.14, 0.40, 0.62, 0.86])
    half_lat = np.stack([np.interp(sig, knots, [0.5 * h + 0.07 * q, 0.39 * w, 0.5 * w + 0.02 * q, 0.5 * w + 0.025 * q])
                         for h, w, q in zip(hw, sw, s)])  # (T, n): hips -> waist -> chest
    half_dep = np.interp(sig, knots, [0.100, 0.092, 0.105, 0.100])[None] * dc
    half_len = 2.8 * (sig[1] - sig[0]) * trunk_len * 1.02
    for j in range(N_CHAIN):
        b.ellipsoid(pos[:, j], lat[:, j], fwd[:, j], tan[:, j], half_lat[:, j], half_dep[:, j], half_len, pal.shirt)
    pos_u, tan_u, lat_u, fwd_u = spine_frames(spine, sigma_k, np.array([0.80, 0.95]), lat_sh)
    b.ellipsoid(pos_u[:, 0], lat_u[:, 1], fwd_u[:, 1], tan_u[:, 1], 0.5 * sw + 0.025 * s, 0.10 * depth, 0.13 * s, pal.shirt)
    _, tan_p, lat_p, fwd_p = spine_frames(spine, sigma_k, np.array([0.0, 0.06]), lat_hip)
    tp, lp, fp = tan_p[:, 1], lat_p[:, 1], fwd_p[:, 1]
    b.ellipsoid(hip_c + tp * 0.035 * sc, lp, fp, tp, 0.5 * hw + 0.085 * s, 0.105 * depth, 0.12 * s, pal.shorts)
    for side in (1, -1):
        glute = hip_c + side * lp * (0.25 * hw)[:, None] - fp * 0.045 * dc - tp * 0.02 * sc
        b.sphere(glute, 0.085 * s, pal.shorts)
    # the neck leaves along the curve's top tangent
    return spine_frames(spine, sigma_k, np.array([0.97]), lat_sh)[1][:, 0]


def _head(b: _Builder, L: dict, sh_c: np.ndarray, trunk_up: np.ndarray, s: np.ndarray, pal: Palette,
          hair: str = "short") -> None:
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
    if hair == "bun":  # on top of the back of the head
        b.sphere(skull_c + up * 0.09 * k - fwd * 0.09 * k, 0.045 * hs, pal.hair)
    elif hair == "ponytail":  # from the back of the head down toward the nape
        root = skull_c + up * 0.03 * k - fwd * 0.11 * k
        b.capsule(root, root - up * 0.13 * k - fwd * 0.03 * k, 0.03 * hs, 0.018 * hs, pal.hair)
