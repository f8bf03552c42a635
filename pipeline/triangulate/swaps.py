"""Repair BlazePose's left/right swaps with the calibration, and drop views of someone else.

BlazePose labels each camera's frame on its own and now and then calls the
left leg the right one -- the whole body, or only the arms or only the legs
(seen from behind, or side-on, it often does). One camera's swap pulls every
paired landmark towards the body's midline and inflates the reprojection error.
Geometry can tell: only one labelling of a camera agrees with the others.

The paired landmarks are split into three groups that BlazePose swaps
independently (face, arms, legs). For each group, every camera-frame gets a
state: as labelled, or swapped. Per group, batched over all frames:

1. *Seeds*: every camera pair and each relative labelling of the two
   (same / swapped) triangulates the group from those two views; every camera
   then takes the labelling that reprojects closer to that skeleton. The seed
   whose skeleton all cameras agree with best (errors capped at ``outlier_px``,
   so a view of someone else costs the same under any labelling) gives the
   first states. Seeding from pairs finds the right labelling even when half
   the cameras are swapped, which comparing each camera with all others does not.
2. *Refinement* (2 rounds, 3 or more cameras): each camera is compared with the
   skeleton triangulated (robustly) from the other cameras and takes the
   labelling that fits it better.
3. *Which side is left*: steps 1-2 only make the cameras agree with each other;
   a frame where most cameras are swapped comes out mirrored. The body decides:
   with up = ankles -> shoulders and forward = heels -> toes and ears -> nose
   (all midpoints of pairs or unpaired points, so independent of the labels),
   the left shoulder, hip and ear lie on the side of up x forward. Where the
   body cannot tell (a landmark missing, an unclear pose) the labelling closer
   to the nearest frame where it could wins; with none, most cameras are taken
   as right.
4. *The face*: its left and right points can lie a few pixels apart (seen
   from behind), where either labelling fits; there it follows the arms, as
   BlazePose swaps it with the body.

Finally a camera-frame whose body joints mostly disagree with the
(repaired) others -- farther than ``outlier_px`` -- under its best labelling
is *excluded*: a bystander, or a detection that is not a body. Its confidence
becomes 0 for that frame. With two cameras there is no third to judge: no
refinement, nothing excluded. Loops run over groups, cameras, camera pairs
and fixed rounds only; every step is batched over frames and landmarks.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from types import ModuleType
from typing import Sequence

import numpy as np

from calibration.camera import Camera

from pipeline.common.landmarks import BODY_JOINTS, INDEX, LR_SWAP, N_LANDMARKS, NAMES
from pipeline.triangulate.core import outlier_thresholds, reproject, triangulate

_PARTS = {
    "face": ("eye_inner", "eye", "eye_outer", "ear"),
    "arms": ("shoulder", "elbow", "wrist", "pinky", "index", "thumb"),
    "legs": ("hip", "knee", "ankle", "heel", "foot_index"),
}
# Landmark indices of each group (left and right); the mouth corners go with the face.
GROUPS: dict[str, tuple[int, ...]] = {
    g: tuple(sorted(INDEX[f"{s}_{p}"] for p in parts for s in ("left", "right"))
             + ([INDEX["mouth_left"], INDEX["mouth_right"]] if g == "face" else []))
    for g, parts in _PARTS.items()
}
# The pair whose side the body fixes best for each group: ears, shoulders, hips.
ANCHORS = {"face": ("left_ear", "right_ear"), "arms": ("left_shoulder", "right_shoulder"), "legs": ("left_hip", "right_hip")}
SEED_MIN_RAY_ANGLE_DEG = 5.0  # a seed pair may be narrow: the other cameras judge its skeleton anyway
REFINE_ROUNDS = 2
FACE_MARGIN_PX = 3.0  # a face labelling that fits better by less than this per landmark is no evidence
CHIRALITY_MIN_COS = 0.3  # |cos| between the anchor pair and the body's left axis needed to trust the side
EXCLUDE_FRACTION = 0.5  # a camera-frame with more than this fraction of its body joints off is excluded
EXCLUDE_MIN_JOINTS = 4


class SwapInputError(ValueError):
    """Landmarks and cameras given to the swap repair do not fit together."""


@dataclass
class SwapResult:
    swapped: dict[str, np.ndarray]  # group -> (C, T) bool: that group's left/right labels were exchanged
    excluded: np.ndarray  # (C, T) bool: the view disagrees with the others under every labelling
    side_from_body: dict[str, np.ndarray]  # group -> (T,) bool: the body fixed which side is left (else majority)

    def kinds(self) -> dict[str, np.ndarray]:
        """(C, T) masks of the swap kinds reported: whole body, arms only, legs only (excluded views left out)."""
        arms, legs, keep = self.swapped["arms"], self.swapped["legs"], ~self.excluded
        return {"whole": arms & legs & keep, "arms": arms & ~legs & keep, "legs": legs & ~arms & keep,
                "face": self.swapped["face"] & keep}

    def summary(self, names: Sequence[str]) -> dict:
        kinds = self.kinds()
        T = self.excluded.shape[1]
        cams = {n: {**{k: int(m[c].sum()) for k, m in kinds.items()}, "excluded": int(self.excluded[c].sum()),
                    "frames": int(T)} for c, n in enumerate(names)}
        return {"method": "pair-seeded multi-view labelling, side fixed by the body", "cameras": cams,
                "side_from_body_pct": {g: float(100 * m.mean()) if m.size else 0.0 for g, m in self.side_from_body.items()}}


def repair_swaps(xy: np.ndarray, conf: np.ndarray, cameras: Sequence[Camera], *,
                 outlier_px: float | Sequence[float] | None = None,
                 xp: ModuleType | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Relabel swapped views and zero the confidence of excluded ones.

    ``xy`` (C, T, 33, 2) distorted pixels, ``conf`` (C, T, 33), ``cameras`` in
    the same order. Returns the repaired ``xy``, ``conf`` and a report: per
    camera the frames swapped (``whole`` body, ``arms`` only, ``legs`` only,
    ``face``) and ``excluded``. ``xp``: the array module the triangulations run on.
    """
    res = find_swaps(xy, conf, cameras, outlier_px=outlier_px, xp=xp)
    new_xy, new_conf = apply_swaps(xy, conf, res)
    return new_xy, new_conf, res.summary([c.name for c in cameras])


def apply_swaps(xy: np.ndarray, conf: np.ndarray, res: SwapResult) -> tuple[np.ndarray, np.ndarray]:
    """``xy``, ``conf`` with each swapped group relabelled and excluded views at confidence 0."""
    perm = np.broadcast_to(np.arange(N_LANDMARKS), conf.shape).copy()  # (C, T, 33) source landmark of each label
    for g, idx in GROUPS.items():
        idx = np.asarray(idx)
        perm[..., idx] = np.where(res.swapped[g][..., None], np.asarray(LR_SWAP)[idx], idx)
    new_xy = np.take_along_axis(np.asarray(xy), perm[..., None], axis=2)
    new_conf = np.take_along_axis(np.asarray(conf), perm, axis=2)
    new_conf = np.where(res.excluded[..., None], 0, new_conf).astype(np.asarray(conf).dtype)
    return new_xy, new_conf


def find_swaps(xy: np.ndarray, conf: np.ndarray, cameras: Sequence[Camera], *,
               outlier_px: float | Sequence[float] | None = None, xp: ModuleType | None = None) -> SwapResult:
    """Which camera-frames have swapped groups, and which views disagree under every labelling."""
    cams = list(cameras)
    xy, conf = _check(xy, conf, cams)
    C, T = conf.shape[:2]
    tau = outlier_thresholds(cams, outlier_px)  # (C,)
    valid = np.isfinite(xy).all(-1) & np.isfinite(conf) & (conf > 0)
    w = np.where(valid, conf, 0.0)
    states = {}
    for g, idx in GROUPS.items():
        s = _seed_states(xy, w, cams, np.asarray(idx), tau, xp)
        if C >= 3:
            for _ in range(REFINE_ROUNDS):
                s = _refine_states(xy, w, cams, np.asarray(idx), tau, s, outlier_px, xp)
        states[g] = s
    xy_rel, w_rel = apply_swaps(xy, w, SwapResult(states, np.zeros((C, T), bool), {}))
    X = triangulate(xy_rel, w_rel, cams, outlier_px=outlier_px, xp=xp).xyz  # (T, 33, 3) with the cameras agreeing
    side = {}
    for g in GROUPS:
        flip, side[g] = _mirrored(X, states[g], valid, g)
        states[g] = np.where(flip[None] & valid[:, :, list(GROUPS[g])].any(-1), ~states[g], states[g])
    if C >= 3:
        # The face's left and right points can lie a few pixels apart (seen from behind), where either
        # labelling fits: there it goes with the arms, as BlazePose swaps it with the body.
        face = np.asarray(GROUPS["face"])
        E = _loo_errors(xy, w, cams, face, tau, states["face"], outlier_px, xp)
        weak = np.abs(E[0] - E[1]) <= FACE_MARGIN_PX * valid[:, :, face].sum(-1)
        states["face"] = np.where(weak, states["arms"], states["face"])
    res = SwapResult(states, np.zeros((C, T), bool), side)
    if C >= 3:
        res.excluded = _excluded(*apply_swaps(xy, w, res), cams, tau, outlier_px, xp)
    return res


# ----------------------------------------------------------------------------- steps


def _group_errors(P: np.ndarray, xy: np.ndarray, valid: np.ndarray, idx: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """Capped reprojection error of each camera under each labelling of the group: (2, C, T).

    ``P`` (C, T, n, 2) is the group's skeleton reprojected (NaN where it could
    not be triangulated: counts as the cap). Summed over the camera's valid
    observations, so every labelling of a camera-frame is judged on the same points.
    """
    out = []
    for src in (idx, np.asarray(LR_SWAP)[idx]):  # as labelled, swapped
        e = np.linalg.norm(P - xy[:, :, src], axis=-1)
        e = np.minimum(np.where(np.isfinite(e), e, np.inf), tau[:, None, None])
        out.append(np.where(valid[:, :, src], e, 0.0).sum(-1))
    return np.stack(out)


def _seed_states(xy: np.ndarray, w: np.ndarray, cams: list[Camera], idx: np.ndarray, tau: np.ndarray,
                 xp: ModuleType | None) -> np.ndarray:
    """States (C, T) bool from the best two-view seed per frame (see the module docstring, step 1)."""
    C, T = w.shape[:2]
    valid = w > 0
    swap_idx = np.asarray(LR_SWAP)[idx]
    best_cost = np.full(T, np.inf)
    best = np.zeros((C, T), bool)
    for i, j in itertools.combinations(range(C), 2):
        for src_j in (idx, swap_idx):  # camera j labelled as camera i, or the other way round
            pts = np.stack([xy[i][:, idx], xy[j][:, src_j]])
            X = triangulate(pts, np.stack([w[i][:, idx], w[j][:, src_j]]), [cams[i], cams[j]], robust=False,
                            min_ray_angle_deg=SEED_MIN_RAY_ANGLE_DEG, xp=xp).xyz
            E = _group_errors(reproject(X, cams), xy, valid, idx, tau)
            cost = E.min(0).sum(0)
            better = cost < best_cost
            best_cost = np.where(better, cost, best_cost)
            best = np.where(better[None], E[1] < E[0], best)
    return best


def _loo_errors(xy: np.ndarray, w: np.ndarray, cams: list[Camera], idx: np.ndarray, tau: np.ndarray,
                states: np.ndarray, outlier_px, xp: ModuleType | None) -> np.ndarray:
    """(2, C, T) errors of each camera's two labellings against the skeleton of the other cameras (robust)."""
    C = len(cams)
    valid = w > 0
    src = np.where(states[..., None], np.asarray(LR_SWAP)[idx], idx)  # (C, T, n) landmark each label reads now
    pts = np.take_along_axis(xy, src[..., None], axis=2)
    ws = np.take_along_axis(w, src, axis=2)
    E = np.empty((2,) + states.shape)
    for c in range(C):
        others = [k for k in range(C) if k != c]
        X = triangulate(pts[others], ws[others], [cams[k] for k in others], outlier_px=_pick(outlier_px, others),
                        xp=xp).xyz
        E[:, c] = _group_errors(reproject(X, [cams[c]]), xy[c:c + 1], valid[c:c + 1], idx, tau[c:c + 1])[:, 0]
    return E


def _refine_states(xy: np.ndarray, w: np.ndarray, cams: list[Camera], idx: np.ndarray, tau: np.ndarray,
                   states: np.ndarray, outlier_px, xp: ModuleType | None) -> np.ndarray:
    """Each camera takes the labelling that fits the others' skeleton better (step 2); ties keep the state."""
    E = _loo_errors(xy, w, cams, idx, tau, states, outlier_px, xp)
    return np.where(E[1] < E[0], True, np.where(E[0] < E[1], False, states))


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.where(n > 1e-9, v / np.where(n > 1e-9, n, 1.0), np.nan)


def _mid(X: np.ndarray, name: str) -> np.ndarray:
    return (X[:, INDEX[f"left_{name}"]] + X[:, INDEX[f"right_{name}"]]) / 2


def body_left_axis(X: np.ndarray) -> np.ndarray:
    """(T, 3) unit vector towards the body's left, from label-free features of the skeleton ``X`` (T, 33, 3).

    up: mid-ankles -> mid-shoulders (mid-hips -> mid-shoulders without ankles);
    forward: mid-heels -> mid-toes and mid-ears -> nose, each made
    perpendicular to up; left = up x forward. NaN where it cannot be told
    (no forward cue, or the feet and the head point opposite ways).
    """
    up = _unit(_mid(X, "shoulder") - _mid(X, "ankle"))
    up = np.where(np.isfinite(up), up, _unit(_mid(X, "shoulder") - _mid(X, "hip")))

    def flat(v: np.ndarray) -> np.ndarray:
        return _unit(v - np.sum(v * up, -1, keepdims=True) * up)

    feet = flat(_mid(X, "foot_index") - _mid(X, "heel"))
    head = flat(X[:, INDEX["nose"]] - _mid(X, "ear"))
    agree = np.nan_to_num(np.sum(feet * head, -1), nan=1.0) > 0  # one cue missing: trust the other
    fwd = _unit(np.nan_to_num(feet) + np.nan_to_num(head))
    fwd = np.where(agree[:, None], fwd, np.nan)
    return _unit(np.cross(up, fwd))


def _mirrored(X: np.ndarray, states: np.ndarray, valid: np.ndarray, group: str) -> tuple[np.ndarray, np.ndarray]:
    """Frames (T,) whose agreed labelling of ``group`` has left and right exchanged, and where the body told.

    The body's side test wins where it is clear. Elsewhere (a landmark it
    needs is missing, or the pose leaves it unclear) the labelling closer to
    the group's skeleton in the nearest frame where the body told wins -- a
    body moves far less in a frame or two than the width between its sides;
    with no such frame, the labelling that swaps fewer cameras (ties: keep).
    """
    left, right = (INDEX[n] for n in ANCHORS[group])
    v = X[:, left] - X[:, right]
    cos = np.sum(_unit(v) * body_left_axis(X), -1)
    told = np.isfinite(cos) & (np.abs(cos) >= CHIRALITY_MIN_COS)
    seen = valid[:, :, list(GROUPS[group])].any(-1)  # cameras that saw the group at all
    majority = 2 * (states & seen).sum(0) > seen.sum(0)
    flip = np.where(told, cos < 0, majority)
    if told.any() and not told.all():
        flip = np.where(told, flip, _follow_nearest(X, flip, told, group, majority))
    return flip, told


def _follow_nearest(X: np.ndarray, flip: np.ndarray, told: np.ndarray, group: str, fallback: np.ndarray) -> np.ndarray:
    """(T,) flips that match each frame's ``group`` skeleton to the nearest told frame's (``fallback`` if no landmark)."""
    T = told.size
    t = np.arange(T)
    prev = np.maximum.accumulate(np.where(told, t, -1))
    nxt = np.minimum.accumulate(np.where(told, t, T)[::-1])[::-1]
    ref = np.where((nxt < T) & ((prev < 0) | (nxt - t < t - prev)), nxt, prev)
    lefts = [i for i in GROUPS[group] if NAMES[i].startswith("left") or NAMES[i] == "mouth_left"]
    L, R = X[:, lefts], X[:, list(np.asarray(LR_SWAP)[lefts])]  # (T, P, 3)
    fr = flip[ref][:, None, None]
    ref_L, ref_R = np.where(fr, R[ref], L[ref]), np.where(fr, L[ref], R[ref])  # the told frame, labelled right
    same = np.linalg.norm(L - ref_L, axis=-1) + np.linalg.norm(R - ref_R, axis=-1)
    cross = np.linalg.norm(L - ref_R, axis=-1) + np.linalg.norm(R - ref_L, axis=-1)
    ok = np.isfinite(same) & np.isfinite(cross)
    d_same, d_cross = np.where(ok, same, 0).sum(-1), np.where(ok, cross, 0).sum(-1)
    return np.where(ok.any(-1), d_cross < d_same, fallback)


def _excluded(xy: np.ndarray, w: np.ndarray, cams: list[Camera], tau: np.ndarray, outlier_px,
              xp: ModuleType | None) -> np.ndarray:
    """(C, T) views whose body joints mostly reproject farther than ``tau`` from the others' skeleton."""
    C = len(cams)
    body = list(BODY_JOINTS)
    out = np.zeros(w.shape[:2], bool)
    for c in range(C):
        others = [k for k in range(C) if k != c]
        X = triangulate(xy[others][:, :, body], w[others][:, :, body], [cams[k] for k in others],
                        outlier_px=_pick(outlier_px, others), xp=xp).xyz
        e = np.linalg.norm(reproject(X, [cams[c]])[0] - xy[c][:, body], axis=-1)
        seen = (w[c][:, body] > 0) & np.isfinite(e)
        off = seen & (e > tau[c])
        n = seen.sum(-1)
        out[c] = (n >= EXCLUDE_MIN_JOINTS) & (off.sum(-1) > EXCLUDE_FRACTION * n)
    return out


# ----------------------------------------------------------------------------- inputs


def _pick(outlier_px, cams_idx: list[int]):
    if outlier_px is None or np.ndim(outlier_px) == 0:
        return outlier_px
    return [outlier_px[k] for k in cams_idx]


def _check(xy, conf, cams: list[Camera]) -> tuple[np.ndarray, np.ndarray]:
    xy, conf = np.asarray(xy, dtype=np.float64), np.asarray(conf, dtype=np.float64)
    if xy.ndim != 4 or xy.shape[2:] != (N_LANDMARKS, 2):
        raise SwapInputError(f"xy must be (cameras, frames, {N_LANDMARKS}, 2) pixels, got {xy.shape}; "
                             "stack one pose2d xy per camera on a common timeline")
    if conf.shape != xy.shape[:3]:
        raise SwapInputError(f"conf must be {xy.shape[:3]} (xy without its last axis), got {conf.shape}")
    if len(cams) != xy.shape[0]:
        raise SwapInputError(f"xy holds {xy.shape[0]} cameras but {len(cams)} cameras were given "
                             f"({', '.join(c.name for c in cams)}); pass them in the order of the landmarks")
    if len(cams) < 2:
        raise SwapInputError("swap repair needs at least 2 cameras")
    return xy, conf
