"""A parametric synthetic athlete performing hip-hinge reps, with exact ground truth.

Every analysis stage is checked against this model: it yields BlazePose's 33
landmarks for a body of given height and limb ratios doing N reps of a hinge
drill, a conventional deadlift, a Romanian deadlift or a kettlebell swing, with
faults injected per rep, plus the true joint angles and rep frames.

World frame (DESIGN.md): metres, z up, floor at z = 0. Before the optional
``yaw_deg``/``position`` transform the athlete stands at the origin **facing
+x with the left side toward +y**; ``yaw_deg`` turns the athlete about z
(counter-clockwise seen from above), so the analysis cannot rely on the
facing direction.

Model (sagittal plane, then lateral offsets):
- feet flat on the floor; the shank tilts by ``a`` (knee forward positive),
  the knee flexes by ``k``, so the thigh pitches by ``beta = k - a``;
- ``a`` is solved in closed form so that the hips travel back by the rep's
  target distance ``d`` relative to the ankles; hip flexion ``h`` then sets the
  trunk lean ``theta = h - beta`` (the lean of the sacrum -> upper-back chord);
- the trunk is two halves: rounding the spine by ``rho`` bends them about the
  mid-back, which shortens the chord by ``cos(rho/2)`` and tips the neck base
  and head forward; the head rotates about a neck pivot just above and behind
  the mid-shoulders;
- shoulders shrug along the upper-trunk axis; knees cave by rotating the knee
  about the hip-ankle axis (segment lengths kept); a forward weight shift
  rotates the whole body above the ankles forward about the ankle axis;
- the hip landmark is placed at the hip joint centre (see pipeline.analyze.skeleton);
- the spine itself (``SyntheticSession.spine``) is a smooth curve from the hip
  centre to the shoulder centre whose shape is the athlete's own natural curves
  (``SpineShape``: lumbar lordosis, thoracic kyphosis) plus the rep's rounding
  ``rho`` spread over the lumbar and lower thoracic spine; it is fitted between
  the landmarks, so it never moves them, and the rendered figure's trunk follows
  it (pipeline.synthetic.figure), so a rounded back bends in the silhouette.

Segment lengths are fractions of height from Winter's anthropometric table
(Biomechanics and Motor Control of Human Movement, 4th ed., fig. 4.1).
All arrays are built for every frame at once (no per-frame Python loop).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter1d

from pipeline.analyze import kinematics  # the same segment-mass model as the analysis, for the true centre of mass
from pipeline.common.landmarks import INDEX, N_LANDMARKS

EXERCISES = ("hinge_drill", "deadlift", "romanian_deadlift", "kettlebell_swing")
FAULTS = (
    "rounded_spine", "squatting", "locked_knees", "hips_not_back", "knees_caving", "weight_on_toes",
    "shrugged_shoulders", "shallow_depth", "fast_eccentric", "arms_lead",
)
# Which cue each injected fault should trip: the ground truth of the accuracy figures.
FAULT_CUES: dict[str, tuple[str, ...]] = {
    "rounded_spine": ("neutral_spine", "spinal_flexion"),
    "squatting": ("squat_hinge_confusion", "soft_knee"),
    "locked_knees": ("soft_knee",),
    # Balance ties the hips and the centre of mass together: with the trunk leaning
    # forward, hips that stay over the ankles carry the weight onto the toes, and
    # shifting the weight forward brings the hips forward (the article: "if your
    # weight is forward on the balls of your feet, you're likely squatting").
    "hips_not_back": ("hip_back", "weight_on_heels"),
    "knees_caving": ("knee_tracking",),
    "weight_on_toes": ("weight_on_heels", "hip_back"),
    "shrugged_shoulders": ("shoulder_pack",),
    "shallow_depth": ("depth_consistency",),
    "fast_eccentric": ("slow_eccentric",),
    "arms_lead": ("hips_before_arms",),
}
# Faults may also be named by the cue they break (as the report's tests do).
FAULT_ALIASES = {
    "neutral_spine": "rounded_spine", "spinal_flexion": "rounded_spine", "squat_hinge_confusion": "squatting",
    "soft_knee": "locked_knees", "hip_back": "hips_not_back", "knee_tracking": "knees_caving",
    "weight_on_heels": "weight_on_toes", "shoulder_pack": "shrugged_shoulders",
    "depth_consistency": "shallow_depth", "slow_eccentric": "fast_eccentric", "hips_before_arms": "arms_lead",
}
# Faults that only make sense for some exercises.
EXERCISE_FAULTS = {
    "fast_eccentric": ("romanian_deadlift",),
    "arms_lead": ("kettlebell_swing",),
}


@dataclass(frozen=True)
class Style:
    """One exercise's clean bottom position and tempo (ranges drawn per rep)."""
    hip_flex: tuple[float, float]  # deg at the bottom
    knee_flex: tuple[float, float]  # deg at the bottom
    squat_knee: tuple[float, float]  # deg at the bottom when squatting
    hip_back: tuple[float, float]  # backward hip travel at the bottom, x leg length
    lowering_s: tuple[float, float]
    rising_s: tuple[float, float]
    top_pause_s: float
    bottom_pause_s: float


STYLES = {
    "hinge_drill": Style((85, 100), (12, 21), (58, 75), (0.23, 0.32), (1.2, 1.6), (1.0, 1.4), 0.6, 0.3),
    "deadlift": Style((100, 112), (30, 42), (72, 90), (0.22, 0.30), (1.1, 1.5), (1.0, 1.4), 0.8, 0.5),
    "romanian_deadlift": Style((80, 95), (12, 21), (58, 75), (0.23, 0.32), (2.4, 3.2), (0.9, 1.2), 0.5, 0.2),
    "kettlebell_swing": Style((72, 88), (14, 22), (58, 75), (0.23, 0.32), (0.55, 0.7), (0.4, 0.5), 0.15, 0.0),
}


@dataclass(frozen=True)
class SpineShape:
    """An athlete's natural spine curves and where a rounding bends it.

    Curves are changes of the trunk axis's tangent angle (deg, + = flexion: the
    tangent tips forward going up) along the arc from the hip centre (0) to the
    shoulder centre (1): lordosis (extension, negative) over the lowest
    ``lordosis_span``, kyphosis over ``kyphosis_span``, and a rep's rounding
    ``rho`` spread over ``bend_span`` (lumbar and lower thoracic spine).
    """
    lordosis_deg: float = -20.0
    kyphosis_deg: float = 25.0
    lordosis_span: tuple[float, float] = (0.0, 0.35)
    kyphosis_span: tuple[float, float] = (0.45, 1.0)
    bend_span: tuple[float, float] = (0.10, 0.75)

    @classmethod
    def random(cls, rng: np.random.Generator) -> "SpineShape":
        """A plausible athlete: flatter or more curved backs, rounding lower or higher."""
        return cls(lordosis_deg=float(rng.uniform(-30, -10)), kyphosis_deg=float(rng.uniform(15, 38)),
                   bend_span=(float(rng.uniform(0.04, 0.2)), float(rng.uniform(0.6, 0.85))))


SPINE_SIGMA = np.linspace(0.0, 1.0, 13)  # arc-length fractions of the spine curve's points


@dataclass
class SyntheticSession:
    exercise: str
    xyz: np.ndarray  # (T,33,3) float32
    t: np.ndarray  # (T,) seconds
    fps: float
    labels: list[set[str]]  # per rep: the faults injected
    rep_frames: np.ndarray  # (R,3) int: start, bottom, end
    truth: dict[str, np.ndarray]  # per frame: hip_flex, knee_flex, hip_travel (m), com_heel_toe...
    body: dict[str, float] = field(default_factory=dict)  # height, leg length, thigh length, ...
    facing: np.ndarray = field(default_factory=lambda: np.array([1.0, 0.0]))  # unit xy
    # (T,K,3) world: trunk axis from the hip centre (sigma 0) to the mid-shoulders before any shrug (sigma 1)
    spine: np.ndarray | None = None
    spine_sigma: np.ndarray | None = None  # (K,) arc-length fraction of each spine point

    @property
    def n_reps(self) -> int:
        return len(self.labels)

    def cue_labels(self) -> list[set[str]]:
        """Per rep, the cues its faults should violate."""
        return [{c for f in faults for c in FAULT_CUES[f]} for faults in self.labels]


def canonical_faults(names) -> set[str]:
    out = set()
    for n in names:
        n = FAULT_ALIASES.get(n, n)
        if n not in FAULT_CUES:
            raise ValueError(f"unknown fault '{n}': use one of {', '.join(FAULTS)} (or a cue id of config/cues.yaml)")
        out.add(n)
    return out


def _ease(u: np.ndarray) -> np.ndarray:
    """Smooth 0 -> 1 with zero velocity at both ends."""
    u = np.clip(u, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * u)


def _rotate_about(points: np.ndarray, pivot: np.ndarray, axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rodrigues rotation of points (T,...,3) about unit axes (T,3) through pivots (T,3) by angles (T,)."""
    v = points - pivot[:, None]
    k = axis[:, None]
    c, s = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    return pivot[:, None] + v * c + np.cross(k, v) * s + k * np.sum(k * v, axis=-1, keepdims=True) * (1 - c)


def _smoothstep(x: np.ndarray, a: float, b: float) -> np.ndarray:
    u = np.clip((x - a) / max(b - a, 1e-9), 0.0, 1.0)
    return u * u * (3 - 2 * u)


def _interp_rows(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """np.interp of every row of fp (T,n) at x (K,) on the shared increasing xp (n,)."""
    i = np.clip(np.searchsorted(xp, x) - 1, 0, len(xp) - 2)
    w = (x - xp[i]) / (xp[i + 1] - xp[i])
    return fp[:, i] * (1 - w) + fp[:, i + 1] * w


def spine_curve(sacrum: np.ndarray, upper_back: np.ndarray, rho: np.ndarray, fwd: np.ndarray,
                shape: SpineShape = SpineShape(), sigma: np.ndarray = SPINE_SIGMA, n_int: int = 241) -> np.ndarray:
    """(T,K,3) smooth trunk axis from ``sacrum`` to ``upper_back`` (both (T,3)), in their sagittal plane.

    The tangent angle along the arc is the natural curves of ``shape`` + ``rho``
    (rad, (T,)) spread over ``shape.bend_span`` by a smoothstep. The integrated
    curve is rotated and scaled in the sagittal plane (spanned by "up" and the
    unit horizontal forward ``fwd`` (T,3)) so that its ends are exactly
    ``sacrum`` and ``upper_back``: the landmarks do not move.
    """
    s = np.linspace(0.0, 1.0, n_int)
    neutral = (np.radians(shape.lordosis_deg) * _smoothstep(s, *shape.lordosis_span)
               + np.radians(shape.kyphosis_deg) * _smoothstep(s, *shape.kyphosis_span))
    phi = neutral[None] + rho[:, None] * _smoothstep(s, *shape.bend_span)[None]  # (T,n)
    # 2D curve (a = forward, b = up) of unit arc length, tangent angle measured from "up"
    da, db = np.sin(phi), np.cos(phi)
    ds = s[1] - s[0]
    zero = np.zeros((len(phi), 1))
    a = np.concatenate([zero, np.cumsum(0.5 * (da[:, 1:] + da[:, :-1]) * ds, axis=1)], axis=1)
    b = np.concatenate([zero, np.cumsum(0.5 * (db[:, 1:] + db[:, :-1]) * ds, axis=1)], axis=1)
    chord = upper_back - sacrum
    up = np.array([0.0, 0.0, 1.0])
    ca, cb = np.sum(chord * fwd, -1), np.sum(chord * up, -1)  # the chord in (forward, up) coordinates
    ang = np.arctan2(ca, cb) - np.arctan2(a[:, -1], b[:, -1])
    scale = np.hypot(ca, cb) / np.hypot(a[:, -1], b[:, -1])
    c, sn = np.cos(ang)[:, None], np.sin(ang)[:, None]
    a2 = scale[:, None] * (a * c + b * sn)  # rotate (a, b) from "up" toward "forward" by ang
    b2 = scale[:, None] * (-a * sn + b * c)
    a_k, b_k = _interp_rows(sigma, s, a2), _interp_rows(sigma, s, b2)
    return sacrum[:, None] + a_k[..., None] * fwd[:, None] + b_k[..., None] * up


def _draw_reps(exercise: str, n_reps: int, faults: dict[int, set[str]], rng: np.random.Generator,
               fault_rng: np.random.Generator, depth_scale: float,
               top_pause_s: float | None, bottom_pause_s: float | None, tempo: float) -> dict[str, np.ndarray]:
    """Per-rep bottom values and phase durations, faults applied."""
    st = STYLES[exercise]
    u = lambda lo_hi: rng.uniform(*lo_hi, n_reps)  # noqa: E731
    athlete_depth = rng.uniform(*st.hip_flex)  # each athlete has a typical depth; reps vary around it
    r = {
        "hip_flex": (athlete_depth + rng.uniform(-4, 4, n_reps)) * depth_scale,
        "knee_flex": u(st.knee_flex),
        "hip_back": u(st.hip_back),
        "rho": rng.uniform(0, 14, n_reps),  # spine flexion, deg (a neutral spine is not perfectly rigid)
        "neck": rng.uniform(-8, 6, n_reps),  # head up (-) or tucked (+) relative to the upper trunk
        "shrug": rng.uniform(-0.08, 0.10, n_reps),  # x neck length, + toward the ears
        "knee_in": rng.uniform(-0.03, 0.035, n_reps),  # knee toward the midline at the bottom, x thigh length
        "lean_fwd": rng.uniform(-1.5, 1.0, n_reps),  # deg whole-body rotation about the ankles
        "lowering_s": u(st.lowering_s) * tempo,
        "rising_s": u(st.rising_s) * tempo,
        "arm_lag_s": rng.uniform(0.10, 0.18, n_reps),
    }
    rng = fault_rng  # fault magnitudes come from their own stream: a fault changes only its rep
    for i, fs in faults.items():
        if "rounded_spine" in fs:
            r["rho"][i] = rng.uniform(50, 66)
            r["neck"][i] = rng.uniform(14, 24)
        if "squatting" in fs:
            r["knee_flex"][i] = rng.uniform(*st.squat_knee)
        if "locked_knees" in fs:
            r["knee_flex"][i] = rng.uniform(0.0, 2.5)
        if "hips_not_back" in fs:  # hips stay over the ankles; leaning back a little to stay balanced
            r["hip_back"][i] = rng.uniform(0.02, 0.08)
            r["lean_fwd"][i] = rng.uniform(-2.0, -1.0)
        if "knees_caving" in fs:
            r["knee_in"][i] = rng.uniform(0.12, 0.2)
        if "weight_on_toes" in fs:  # the body tips forward over the ankles, the hips come forward
            r["hip_back"][i] = rng.uniform(0.09, 0.14)
            r["lean_fwd"][i] = rng.uniform(2.0, 4.0)
        if "shrugged_shoulders" in fs:
            r["shrug"][i] = rng.uniform(0.3, 0.42)
        if "shallow_depth" in fs:  # a partial rep: less hip and (proportionally) less knee bend
            ratio = 1.0 - rng.uniform(26, 36) / r["hip_flex"][i]
            r["hip_flex"][i] *= ratio
            r["knee_flex"][i] *= ratio ** 0.75
        if "fast_eccentric" in fs:
            r["lowering_s"][i] = r["rising_s"][i] * rng.uniform(0.5, 0.75)
        if "arms_lead" in fs:
            r["arm_lag_s"][i] = rng.uniform(-0.16, -0.09)
    r["top_pause_s"] = np.full(n_reps, st.top_pause_s if top_pause_s is None else top_pause_s)
    r["bottom_pause_s"] = np.full(n_reps, st.bottom_pause_s if bottom_pause_s is None else bottom_pause_s)
    return r


def simulate(
    exercise: str,
    n_reps: int,
    *,
    faults: dict[int, list[str]] | None = None,
    fps: float = 30.0,
    seed: int = 0,
    height: float = 1.75,
    leg_ratio: float = 1.0,
    arm_ratio: float = 1.0,
    tempo: float = 1.0,
    top_pause_s: float | None = None,
    bottom_pause_s: float | None = None,
    depth_scale: float = 1.0,
    walk: bool = True,
    stand_s: float = 1.2,
    yaw_deg: float = 0.0,
    position: tuple[float, float] = (0.0, 0.0),
    shoulder_width: float = 1.0,
    hip_width: float = 1.0,
    spine_shape: SpineShape = SpineShape(),
) -> SyntheticSession:
    """Simulate a set of ``n_reps`` reps of ``exercise``.

    ``faults`` maps a 1-based rep number to fault names (``FAULTS``, or the id
    of the cue they break). ``tempo`` scales every phase duration; pauses at
    the top/bottom default to the exercise's style. ``walk`` adds a walk-in
    before and a walk-out after the set.
    """
    if exercise not in STYLES:
        raise ValueError(f"unknown exercise '{exercise}': use one of {', '.join(EXERCISES)}")
    if n_reps < 1:
        raise ValueError("n_reps must be at least 1")
    rng = np.random.default_rng(seed)
    fault_sets = {int(k) - 1: canonical_faults(v) for k, v in (faults or {}).items()}
    for i, fs in fault_sets.items():
        if not 0 <= i < n_reps:
            raise ValueError(f"fault given for rep {i + 1} but the set has {n_reps} reps")
        for f in fs:
            if exercise not in EXERCISE_FAULTS.get(f, (exercise,)):
                raise ValueError(f"fault '{f}' applies only to {', '.join(EXERCISE_FAULTS[f])}, not {exercise}")
    reps = _draw_reps(exercise, n_reps, fault_sets, rng, np.random.default_rng([seed, 1]), depth_scale,
                      top_pause_s, bottom_pause_s, tempo)

    # --- timeline: walk-in, stand, reps, stand, walk-out ----------------------
    walk_s = 1.6 if walk else 0.0
    dur = reps["lowering_s"] + reps["bottom_pause_s"] + reps["rising_s"] + reps["top_pause_s"]
    rep_t0 = walk_s + stand_s + np.concatenate([[0.0], np.cumsum(dur)[:-1]])
    set_end = rep_t0[-1] + dur[-1]
    total = set_end + stand_s + walk_s
    T = int(np.floor(total * fps)) + 1
    t = np.arange(T) / fps

    # progress p: 0 standing, 1 at the bottom; ri = the rep each frame belongs to
    ri = np.clip(np.searchsorted(rep_t0, t, side="right") - 1, 0, n_reps - 1)
    u = t - rep_t0[ri]
    tl, tb, tr = reps["lowering_s"][ri], reps["bottom_pause_s"][ri], reps["rising_s"][ri]
    in_set = (t >= rep_t0[0]) & (t < set_end)
    p = np.select([u < tl, u < tl + tb, u < tl + tb + tr], [_ease(u / tl), 1.0, 1.0 - _ease((u - tl - tb) / tr)], 0.0)
    p = np.where(in_set, p, 0.0)

    def per_rep(key: str, standing: float) -> np.ndarray:
        return standing + p * (reps[key][ri] - standing)

    # --- body dimensions -------------------------------------------------------
    H = float(height)
    Ls, Lt = 0.246 * H * leg_ratio, 0.245 * H * leg_ratio
    ankle_h = 0.039 * H
    leg_len = Ls + Lt  # hip joint centre to ankle, as the analysis measures it
    trunk_len = 0.288 * H  # hip joint centres to shoulder joints
    hip_hw, sh_hw = 0.052 * H * hip_width, 0.1 * H * shoulder_width
    neck_len = 0.1 * H  # neck pivot to the ears
    upper_arm, forearm, hand = 0.186 * H * arm_ratio, 0.146 * H * arm_ratio, 0.06 * H * arm_ratio
    foot_back, foot_fwd = 0.036 * H, 0.112 * H

    rad = np.radians
    h = rad(per_rep("hip_flex", rng.uniform(-2.0, 2.0)))
    k = rad(per_rep("knee_flex", rng.uniform(2.0, 5.0)))
    d = per_rep("hip_back", 0.0) * leg_len
    rho = rad(per_rep("rho", 0.0))
    neck = rad(per_rep("neck", 0.0))
    shrug = per_rep("shrug", 0.0) * neck_len
    # knee rotation about the hip-ankle axis that puts the knee knee_in x Lt toward the midline at
    # the bottom; the knee can only leave that axis as far as its flexion allows (at most 85 deg)
    kb = rad(reps["knee_flex"])
    reach = Ls * np.sin(kb) / np.sqrt(Lt ** 2 + Ls ** 2 + 2 * Lt * Ls * np.cos(kb))
    psi = np.arcsin(np.clip(reps["knee_in"] / np.maximum(reach, 1e-6), -np.sin(rad(85)), np.sin(rad(85))))
    valgus = p * psi[ri]
    lean = rad(per_rep("lean_fwd", 0.0))

    # shank tilt a so that the hips sit d behind the ankles: Lt sin(k-a) - Ls sin(a) = d
    A, B = Lt * np.sin(k), Lt * np.cos(k) + Ls
    a = np.arccos(np.clip(d / np.hypot(A, B), -1, 1)) - np.arctan2(B, A)
    a = a + lean  # forward weight shift: the body above the ankles rotates forward as one piece
    beta = k - a
    theta = h - beta  # trunk chord lean from vertical

    # --- walking: legs swing, body translates (top-down legs) -----------------
    walk_w = np.zeros(T)
    x_root = np.zeros(T)
    swing = np.zeros(T)
    if walk:
        t_in_end, t_out = walk_s, set_end + stand_s
        walk_w = np.clip(np.maximum((t_in_end - t) / 0.3, (t - t_out) / 0.3), 0, 1)
        x_root = np.where(t < t_in_end, -1.3 * (1 - _ease(t / t_in_end)), 0.0)
        x_root = np.where(t > t_out, -1.3 * _ease((t - t_out) / walk_s), x_root)
        swing = np.sin(2 * np.pi * 1.0 * t)
    side = np.array([1.0, -1.0])  # left, right
    phase = swing[:, None] * side[None]  # (T,2)
    k_side = (1 - walk_w)[:, None] * k[:, None] + walk_w[:, None] * rad(8 + 25 * np.clip(phase, 0, 1))
    beta_walk = rad(18) * phase  # thigh pitch, knee forward positive
    beta_side = (1 - walk_w)[:, None] * beta[:, None] + walk_w[:, None] * beta_walk
    a_side = k_side - beta_side
    z = np.zeros(T)

    # --- legs from the ankles up (set) or the hips down (walking) -------------
    ankle_y = hip_hw * side
    # hip height/position over each ankle in the sagittal plane
    hip_above_ankle_x = Ls * np.sin(a_side) - Lt * np.sin(beta_side)
    hip_above_ankle_z = Ls * np.cos(a_side) + Lt * np.cos(beta_side)
    # pelvis: both hips share x, z; the straighter (stance) leg carries it, the other foot lifts
    pelvis_z = ankle_h + np.max(hip_above_ankle_z, axis=1)
    pelvis_x = x_root + np.where(walk_w > 0, 0.0, hip_above_ankle_x[:, 0])
    hip = np.stack([np.broadcast_to(pelvis_x[:, None], (T, 2)), np.broadcast_to(ankle_y, (T, 2)),
                    np.broadcast_to(pelvis_z[:, None], (T, 2))], axis=-1)
    knee = hip + Lt * np.stack([np.sin(beta_side), np.zeros((T, 2)), -np.cos(beta_side)], axis=-1)
    ankle = knee + Ls * np.stack([-np.sin(a_side), np.zeros((T, 2)), -np.cos(a_side)], axis=-1)
    toe_out = rad(rng.uniform(4, 12))
    foot_dir = np.stack([np.full(2, np.cos(toe_out)), side * np.sin(toe_out), np.zeros(2)], axis=-1)  # (2,3)
    heel = ankle + (-foot_back * foot_dir)[None] + np.array([0, 0, 0.012 * H - ankle_h])
    toe = ankle + (foot_fwd * foot_dir)[None] + np.array([0, 0, 0.01 * H - ankle_h])
    # knees cave: rotate about the hip-ankle axis, + toward the midline
    axis = ankle - hip
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    knee = np.stack([_rotate_about(knee[:, s:s + 1], hip[:, s], axis[:, s], valgus * side[s])[:, 0] for s in range(2)], axis=1)

    # --- trunk, neck, head ----------------------------------------------------
    sacrum = hip.mean(axis=1)
    lower = np.stack([np.sin(theta - rho / 2), z, np.cos(theta - rho / 2)], axis=-1)
    upper_dir = np.stack([np.sin(theta + rho / 2), z, np.cos(theta + rho / 2)], axis=-1)
    upper_fwd = np.stack([np.cos(theta + rho / 2), z, -np.sin(theta + rho / 2)], axis=-1)
    upper_back = sacrum + trunk_len / 2 * (lower + upper_dir)
    lat = np.array([0.0, 1.0, 0.0])
    shoulders = upper_back[:, None] + sh_hw * side[None, :, None] * lat + shrug[:, None, None] * upper_dir[:, None]
    pivot = upper_back + 0.02 * H * upper_dir - 0.012 * H * upper_fwd
    eta = theta + rho / 2 + neck
    hd = np.stack([np.sin(eta), z, np.cos(eta)], axis=-1)  # head up axis
    hf = np.stack([np.cos(eta), z, -np.sin(eta)], axis=-1)  # head forward axis
    ear_mid = pivot + neck_len * 0.8 * hd - 0.004 * H * hf

    def face(fwd: float, up: float, lateral: float) -> np.ndarray:
        return ear_mid + fwd * H * hf + up * H * hd + lateral * H * lat

    pts = np.zeros((T, N_LANDMARKS, 3))
    for name, (f, up_, lt) in {
        "nose": (0.064, -0.006, 0), "left_eye_inner": (0.052, 0.012, 0.011), "left_eye": (0.05, 0.012, 0.019),
        "left_eye_outer": (0.046, 0.012, 0.026), "right_eye_inner": (0.052, 0.012, -0.011),
        "right_eye": (0.05, 0.012, -0.019), "right_eye_outer": (0.046, 0.012, -0.026),
        "left_ear": (0, 0, 0.043), "right_ear": (0, 0, -0.043),
        "mouth_left": (0.055, -0.03, 0.013), "mouth_right": (0.055, -0.03, -0.013),
    }.items():
        pts[:, INDEX[name]] = face(f, up_, lt)

    # --- arms: hang under gravity (bar, dowel), or swing the bell -------------
    if exercise == "kettlebell_swing":
        # the arms follow the hips with a per-rep lag (negative: the arms lead), blended smoothly between reps
        lag = gaussian_filter1d(np.where(in_set, reps["arm_lag_s"][ri], 0.0), sigma=0.08 * fps, mode="nearest")
        p_arm = np.interp(t - lag, t, p)
        # arm angle from straight down, forward positive: between the legs at the bottom, chest height at the top
        alpha = np.where(in_set, rad(95) + p_arm * (rad(-30) - rad(95)), 0.0)
        alpha = np.where(in_set & (u < 0.25) & (ri == 0), alpha * _ease(u / 0.25), alpha)  # lift the bell to start
    else:
        alpha = np.zeros(T)
    arm_dir = np.stack([np.sin(alpha), z, -np.cos(alpha)], axis=-1)
    inward = rad(6)  # hands slightly inside the shoulders (grip)
    for s, nm in enumerate(("left", "right")):
        sh = shoulders[:, s]
        d_arm = arm_dir + np.array([0.0, -side[s] * np.sin(inward), 0.0])
        d_arm /= np.linalg.norm(d_arm, axis=-1, keepdims=True)
        elbow = sh + upper_arm * d_arm
        wrist = elbow + forearm * d_arm
        pts[:, INDEX[f"{nm}_shoulder"]] = sh
        pts[:, INDEX[f"{nm}_elbow"]] = elbow
        pts[:, INDEX[f"{nm}_wrist"]] = wrist
        pts[:, INDEX[f"{nm}_index"]] = wrist + hand * d_arm + 0.01 * H * np.array([1.0, 0, 0])
        pts[:, INDEX[f"{nm}_pinky"]] = wrist + 0.8 * hand * d_arm + side[s] * 0.012 * H * lat
        pts[:, INDEX[f"{nm}_thumb"]] = wrist + 0.5 * hand * d_arm - side[s] * 0.012 * H * lat + 0.01 * H * np.array([1.0, 0, 0])
        pts[:, INDEX[f"{nm}_hip"]] = hip[:, s]
        pts[:, INDEX[f"{nm}_knee"]] = knee[:, s]
        pts[:, INDEX[f"{nm}_ankle"]] = ankle[:, s]
        pts[:, INDEX[f"{nm}_heel"]] = heel[:, s]
        pts[:, INDEX[f"{nm}_foot_index"]] = toe[:, s]

    # the spine between the landmarks (the figure's trunk follows it; nothing above moves)
    spine = spine_curve(sacrum, upper_back, rho, np.broadcast_to(np.array([1.0, 0.0, 0.0]), sacrum.shape),
                        spine_shape)

    # --- ground truth before the world transform (it is invariant to it) ------
    # the skeleton's own joint angles: trunk = the true sacrum -> upper-back chord (before any shrug)
    thigh_v = knee - hip
    shank_v = ankle - knee
    knee_true = np.degrees(np.arccos(np.clip(np.sum(thigh_v * shank_v, -1) / (Lt * Ls), -1, 1)))
    trunk_u = (upper_back - sacrum) / np.linalg.norm(upper_back - sacrum, axis=-1, keepdims=True)
    cos_h = np.sum(trunk_u[:, None] * thigh_v, -1) / Lt
    hip_true = np.degrees(np.pi - np.arccos(np.clip(cos_h, -1, 1)))
    # signed: extension (thigh behind the trunk line) is negative
    fwd_perp = np.stack([np.cos(theta), z, -np.sin(theta)], axis=-1)
    sign = np.sign(np.sum(fwd_perp[:, None] * thigh_v, -1) + 1e-12)
    hip_true = np.where(sign < 0, -hip_true, hip_true)
    ankle_mid = ankle.mean(axis=1)
    travel = -(sacrum[:, 0] - ankle_mid[:, 0])
    travel = travel - np.median(travel[(p == 0) & (walk_w == 0)]) if ((p == 0) & (walk_w == 0)).any() else travel
    com = kinematics.centre_of_mass(pts)
    truth = {
        "hip_flex": hip_true.mean(axis=1),
        "hip_flex_l": hip_true[:, 0], "hip_flex_r": hip_true[:, 1],
        "knee_flex": knee_true.mean(axis=1), "knee_flex_l": knee_true[:, 0], "knee_flex_r": knee_true[:, 1],
        "hip_travel": travel, "progress": p, "walking": walk_w > 0,
        "com_heel_toe": kinematics.heel_toe_fraction(com, pts),
        # the rep's spine rounding beyond the athlete's natural curves (deg), the shoulder shrug (m, along
        # the upper trunk) and the head's tuck (deg)
        "rho": np.degrees(rho), "shrug_m": shrug, "neck_deg": np.degrees(neck),
    }

    # --- world transform --------------------------------------------------------
    yaw = rad(yaw_deg)
    Rz = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
    shift = np.array([position[0], position[1], 0.0])
    xyz = pts @ Rz.T + shift
    spine_w = spine @ Rz.T + shift
    truth["upper_back_true"] = upper_back @ Rz.T + shift  # the mid-shoulders without the shrug, world

    # true rep frames: start of lowering, middle of the bottom pause, end of rising
    start = np.round((rep_t0) * fps).astype(int)
    bottom = np.round((rep_t0 + reps["lowering_s"] + reps["bottom_pause_s"] / 2) * fps).astype(int)
    end = np.round((rep_t0 + reps["lowering_s"] + reps["bottom_pause_s"] + reps["rising_s"]) * fps).astype(int)
    labels = [set(fault_sets.get(i, set())) for i in range(n_reps)]
    body = {"height": H, "leg_length": leg_len, "thigh_length": Lt, "shank_length": Ls, "trunk_length": trunk_len,
            "shoulder_width": 2 * sh_hw, "hip_width": 2 * hip_hw,
            "lordosis_deg": spine_shape.lordosis_deg, "kyphosis_deg": spine_shape.kyphosis_deg,
            "bend_span": spine_shape.bend_span,
            "lowering_s": reps["lowering_s"], "rising_s": reps["rising_s"], "arm_lag_s": reps["arm_lag_s"]}
    return SyntheticSession(exercise=exercise, xyz=xyz.astype(np.float32), t=t, fps=float(fps), labels=labels,
                            rep_frames=np.stack([start, bottom, np.minimum(end, T - 1)], axis=1), truth=truth,
                            body=body, facing=Rz[:2, 0].copy(),
                            spine=spine_w.astype(np.float32), spine_sigma=SPINE_SIGMA.copy())
