"""Who is who across cameras: every view's people matched with the calibration, followed in 3D, the athlete chosen.

Each camera's detector (``pipeline.detect.people``) keeps its people in person
slots, but a slot is only an identity within one camera. Here, on the sync
timeline:

1. **Matching per instant.** Every camera pair and every pair of their person
   slots triangulate five label-free points (the midpoints of the ears,
   shoulders, hips, knees and ankles: a view with left and right swapped
   gives the same ones, so the swap repair can still do its work later);
   every camera then takes the slot that reprojects nearest that skeleton,
   within ``ASSOCIATION_FRACTION`` of its image diagonal. A seed whose
   skeleton is no body (trunk, thigh or shank outside 0.12-1.0 m) is dropped.
   Per instant the seed with the most agreeing cameras (then the smallest
   error) makes a person out of their views; those views are taken, and the
   next person is formed from the rest, like ``core._consensus`` but over
   people. All instants at once; loops run over camera pairs, slot pairs and
   people only.
2. **Following people in 3D.** The persons of consecutive instants are linked
   when each is the other's nearest (pelvis within ``LINK_GATE_M`` plus what a
   walk covers in the gap), for gaps up to ``MAX_LINK_GAP_S``; the pieces this
   leaves (someone hidden for a while, everybody crossing) are joined when one
   ends near where and shortly before the next starts. People entering and
   leaving simply start and end pieces.
3. **The athlete** (``choose_athlete``): with an ``athlete:`` setting, the
   person most often nearest its floor position or camera; otherwise the
   person who does the reps (hip flexion rising above 45 deg from below 25 deg)
   inside the capture area (the floor seen by at least half the cameras),
   else, among those seen most, the one nearest the centre of the capture
   area. Each camera's view of the athlete at each instant is then the slot
   matched into the athlete's person: not necessarily the one the detector
   measured on every frame.
"""
from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from types import ModuleType
from typing import Sequence

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from calibration.camera import Camera
from calibration.floor import capture_centre
from pipeline.common.athlete import AthleteHint
from pipeline.common.landmarks import INDEX
from pipeline.common.timebase import frame_rate
from pipeline.triangulate.core import reproject, triangulate

log = logging.getLogger(__name__)

PAIRS = ("ear", "shoulder", "hip", "knee", "ankle")  # label-free points: the midpoints of these pairs
SHOULDER, HIP, KNEE, ANKLE = 1, 2, 3, 4  # their order in the label-free points
SEGMENTS = ((SHOULDER, HIP), (HIP, KNEE), (KNEE, ANKLE))  # trunk, thigh, shank
SEGMENT_RANGE_M = (0.12, 1.0)  # a seed skeleton with a segment outside this is no body
MIN_POINTS = 3  # label-free points a view needs to be compared
ASSOCIATION_FRACTION = 0.03  # a view belongs to a person within 3 % of its image diagonal (19 px at 640x480)
SEED_MIN_RAY_ANGLE_DEG = 5.0
MIN_VIEWS = 2
LINK_GATE_M = 0.3  # the pelvis moves less than this between linked instants (plus walking speed x gap)
WALK_MPS = 2.0
MAX_LINK_GAP_S = 0.5
REJOIN_GAP_S = 3.0  # pieces of one person are joined across a gap up to this long...
REJOIN_M = 0.75  # ... when one starts within this of where the other ended
MIN_PERSON_S = 0.3  # shorter tracks are matching noise, not people
REP_UP_DEG, REP_DOWN_DEG = 45.0, 25.0  # a rep: hip flexion above 45 deg after being below 25 deg
HINT_RADIUS_M = 1.0  # athlete.position: a person farther than this from the point is never "nearest" to it


@dataclass
class People:
    """Everyone matched on the timeline."""
    views: np.ndarray  # (K, C, T) int: person slot of camera c in group k at instant t (-1: none)
    person: np.ndarray  # (K, T) int: the person (track) of group k at instant t (-1: no group)
    pelvis: np.ndarray  # (K, T, 3) metres (NaN: no group)
    points: np.ndarray  # (K, T, 5, 3) label-free points (midpoints of ears, shoulders, hips, knees, ankles)
    n_people: int  # tracks (persons), numbered 0..n-1


@dataclass
class AthleteChoice:
    """The athlete and what the matching says about each camera and everyone else."""
    person: int  # the chosen track (-1: nobody was matched across cameras)
    slot: np.ndarray  # (C, T) int8: each camera's slot of the athlete (-1: not the athlete's view)
    rule: str  # how the athlete was chosen, in words
    report: dict = field(default_factory=dict)  # cameras, other people, views re-assigned (pose3d.npz's info)


def label_free(xy: np.ndarray) -> np.ndarray:
    """(..., 5, D) midpoints of the ears, shoulders, hips, knees and ankles of landmarks (..., 33, D)."""
    return np.stack([(xy[..., INDEX[f"left_{p}"], :] + xy[..., INDEX[f"right_{p}"], :]) / 2 for p in PAIRS], axis=-2)


def association_thresholds(cameras: Sequence[Camera]) -> np.ndarray:
    """(C,) pixels within which a view belongs to a person's skeleton."""
    return np.array([ASSOCIATION_FRACTION * float(np.hypot(*c.size)) for c in cameras])


# ----------------------------------------------------------------------------- 1. matching per instant


def _plausible(X: np.ndarray) -> np.ndarray:
    """(...,) the skeleton's segments are body-sized (a segment that cannot be measured does not count against)."""
    ok = np.ones(X.shape[:-2], bool)
    lo, hi = SEGMENT_RANGE_M
    for a, b in SEGMENTS:
        length = np.linalg.norm(X[..., a, :] - X[..., b, :], axis=-1)
        ok &= ~(np.isfinite(length) & ((length < lo) | (length > hi)))
    return ok


def _view_errors(F: np.ndarray, X: np.ndarray, cameras: Sequence[Camera]) -> np.ndarray:
    """(C, T, P) median distance (px) between each view's label-free points and the skeleton ``X`` (T, 5, 3)
    reprojected; inf where fewer than MIN_POINTS can be compared."""
    proj = reproject(X, cameras)  # (C, T, 5, 2)
    e = np.linalg.norm(F - proj[:, :, None], axis=-1)  # (C, T, P, 5)
    n = np.isfinite(e).sum(-1, keepdims=True)
    # the median of the finite values of 5: sorting puts NaN last (np.nanmedian is several times slower)
    e = np.sort(e, axis=-1)
    lo = np.take_along_axis(e, np.maximum(n - 1, 0) // 2, -1)[..., 0]
    hi = np.take_along_axis(e, np.minimum(n // 2, e.shape[-1] - 1), -1)[..., 0]
    return np.where(n[..., 0] >= MIN_POINTS, (lo + hi) / 2, np.inf)


def _hypotheses(F: np.ndarray, cameras: Sequence[Camera], tau: np.ndarray, xp: ModuleType | None):
    """Per seed (camera pair x slot pair): each camera's agreeing slot (H, C, T), the cost (H, T) and the
    seed views (H, 4) = (i, p, j, q)."""
    C, T, P = F.shape[:3]
    seen = np.isfinite(F).all(-1).sum(-1) >= MIN_POINTS  # (C, T, P)
    slots, costs, seeds = [], [], []
    for i, j in itertools.combinations(range(C), 2):
        for p, q in itertools.product(range(P), range(P)):
            both = seen[i, :, p] & seen[j, :, q]
            if not both.any():
                continue
            pts = np.stack([F[i, :, p], F[j, :, q]])
            w = np.isfinite(pts).all(-1).astype(float) * both[None, :, None]
            X = triangulate(pts, w, [cameras[i], cameras[j]], robust=False,
                            min_ray_angle_deg=SEED_MIN_RAY_ANGLE_DEG, xp=xp).xyz  # (T, 5, 3)
            X[~_plausible(X)] = np.nan
            err = _view_errors(F, X, cameras)  # (C, T, P)
            best = np.argmin(err, axis=-1)  # (C, T)
            e_best = np.take_along_axis(err, best[..., None], -1)[..., 0]
            agree = e_best <= tau[:, None]
            agree &= (best[i] == p) & (best[j] == q)  # the seed's own views must be its best fits
            slot = np.where(agree, best, -1)
            n = agree.sum(0)
            cost = np.where(agree, e_best / tau[:, None], 0.0).sum(0) / np.maximum(n, 1)
            slots.append(np.where(n >= MIN_VIEWS, slot, -1).astype(np.int16))
            costs.append(np.where(n >= MIN_VIEWS, cost, np.inf))
            seeds.append((i, p, j, q))
    if not slots:
        return np.zeros((0, C, T), np.int16), np.zeros((0, T)), np.zeros((0, 4), int)
    return np.stack(slots), np.stack(costs), np.asarray(seeds)


def _group(slots: np.ndarray, costs: np.ndarray, seeds: np.ndarray, C: int, T: int, P: int) -> np.ndarray:
    """Greedy per instant: the seed with the most free agreeing views (then the lowest cost) forms a person;
    its views are taken. Returns (K, C, T) slots of up to K = P people per instant."""
    H = len(slots)
    groups = np.full((P, C, T), -1, np.int16)
    if H == 0:
        return groups[:0]
    claimed = np.zeros((C, T, P), bool)
    ci, ti = np.arange(C)[None, :, None], np.arange(T)[None, None, :]
    hi = np.arange(H)[:, None]
    for k in range(P):
        free = (slots >= 0) & ~claimed[ci, ti, np.maximum(slots, 0)]  # (H, C, T)
        n = free.sum(1)
        seed_free = free[hi, seeds[:, 0:1], np.arange(T)] & free[hi, seeds[:, 2:3], np.arange(T)]  # (H, T)
        score = np.where(seed_free & (n >= MIN_VIEWS), n - np.minimum(costs, 0.99), -np.inf)
        best = np.argmax(score, axis=0)  # (T,)
        has = np.isfinite(score[best, np.arange(T)])
        chosen = np.where(free[best, :, np.arange(T)].T & has[None], slots[best, :, np.arange(T)].T, -1)  # (C, T)
        if not (chosen >= 0).any():
            return groups[:k]
        groups[k] = chosen
        c_idx, t_idx = np.nonzero(chosen >= 0)
        claimed[c_idx, t_idx, chosen[c_idx, t_idx]] = True
    return groups


def _group_points(F: np.ndarray, groups: np.ndarray, cameras: Sequence[Camera], tau: np.ndarray,
                  xp: ModuleType | None) -> np.ndarray:
    """(K, T, 5, 3) each group's label-free points triangulated from its views."""
    K, C, T = groups.shape
    if K == 0:
        return np.zeros((0, T, len(PAIRS), 3))
    pick = np.maximum(groups, 0)  # (K, C, T)
    pts = F[np.arange(C)[None, :, None], np.arange(T)[None, None, :], pick]  # (K, C, T, 5, 2)
    pts = np.where((groups >= 0)[..., None, None], pts, np.nan).transpose(1, 0, 2, 3, 4)  # (C, K, T, 5, 2)
    w = np.isfinite(pts).all(-1).astype(float)
    return triangulate(pts, w, cameras, outlier_px=tau, min_ray_angle_deg=SEED_MIN_RAY_ANGLE_DEG, xp=xp).xyz


def match_people(xy: np.ndarray, cameras: Sequence[Camera], fps: float, *, xp: ModuleType | None = None) -> People:
    """Everyone on the timeline: ``xy`` (C, T, P, 33, 2) each camera's person slots (NaN: not measured at or
    near that instant), ``fps`` the timeline's rate."""
    xy = np.asarray(xy)
    if xy.ndim != 5 or xy.shape[0] != len(cameras):
        raise ValueError(f"xy must be (cameras={len(cameras)}, T, P, 33, 2), got {xy.shape}")
    C, T, P = xy.shape[:3]
    F = label_free(xy).astype(np.float64)  # (C, T, P, 5, 2); the 33 landmarks stay in their own precision
    tau = association_thresholds(cameras)
    slots, costs, seeds = _hypotheses(F, cameras, tau, xp)
    groups = _group(slots, costs, seeds, C, T, P)
    X = _group_points(F, groups, cameras, tau, xp)  # (K, T, 5, 3)
    pelvis = np.where(np.isfinite(X[:, :, HIP]).all(-1, keepdims=True), X[:, :, HIP], X[:, :, SHOULDER])
    present = np.isfinite(pelvis).all(-1) & ((groups >= 0).sum(1) >= MIN_VIEWS)
    person, n = _track(np.where(present[..., None], pelvis, np.nan), fps)
    return People(groups, person, pelvis, X, n)


# ----------------------------------------------------------------------------- 2. following people in 3D


def _track(pelvis: np.ndarray, fps: float) -> tuple[np.ndarray, int]:
    """(K, T) person number of each group and the number of persons: mutual-nearest links between instants,
    then pieces joined across longer gaps."""
    K, T = pelvis.shape[:2]
    alive = np.isfinite(pelvis).all(-1)  # (K, T)
    if not alive.any():
        return np.full((K, T), -1), 0
    node = np.arange(K * T).reshape(K, T)
    succ = np.zeros((K, T), bool)
    pred = np.zeros((K, T), bool)
    rows, cols = [], []
    for lag in range(1, max(1, int(round(MAX_LINK_GAP_S * fps))) + 1):
        if lag >= T:
            break
        a, b = pelvis[:, :-lag], pelvis[:, lag:]  # (K, T-lag, 3)
        D = np.linalg.norm(a[:, None] - b[None], axis=-1)  # (K, K, T-lag): from group k at t to k' at t+lag
        free = (~succ[:, :-lag])[:, None] & (~pred[:, lag:])[None]
        D = np.where(free & np.isfinite(D), D, np.inf)
        fwd = np.argmin(D, axis=1)  # (K, T-lag)
        bwd = np.argmin(D, axis=0)  # (K, T-lag)
        k = np.arange(K)[:, None]
        t = np.arange(T - lag)[None]
        d = D[k, fwd, t]
        mutual = (bwd[fwd, t] == k) & (d <= LINK_GATE_M + WALK_MPS * lag / fps)
        kk, tt = np.nonzero(mutual)
        rows.append(node[kk, tt])
        cols.append(node[fwd[kk, tt], tt + lag])
        succ[kk, tt] = True
        pred[fwd[kk, tt], tt + lag] = True
    r, c = np.concatenate(rows) if rows else np.zeros(0, int), np.concatenate(cols) if cols else np.zeros(0, int)
    graph = coo_matrix((np.ones(len(r)), (r, c)), shape=(K * T, K * T))
    _, labels = connected_components(graph, directed=False)
    labels = labels.reshape(K, T)
    pieces = np.unique(labels[alive])
    joined = _rejoin(pieces, labels, alive, pelvis, fps)
    person = np.full((K, T), -1)
    person[alive] = joined[np.searchsorted(pieces, labels[alive])]
    return person, int(joined.max() + 1) if len(joined) else 0


def _rejoin(pieces: np.ndarray, labels: np.ndarray, alive: np.ndarray, pelvis: np.ndarray, fps: float) -> np.ndarray:
    """Person number of each piece: a piece continues the nearest earlier piece that ended within REJOIN_GAP_S
    before it started, within REJOIN_M (+ walking) of its start, and that nothing else continues."""
    K, T = labels.shape
    t_of = np.broadcast_to(np.arange(T), (K, T))
    lab, tt, pos = labels[alive], t_of[alive], pelvis[alive]
    idx = np.searchsorted(pieces, lab)
    start = np.full(len(pieces), T)
    end = np.full(len(pieces), -1)
    np.minimum.at(start, idx, tt)
    np.maximum.at(end, idx, tt)
    first = np.empty((len(pieces), 3))
    last = np.empty((len(pieces), 3))
    first[idx[tt == start[idx]]] = pos[tt == start[idx]]
    last[idx[tt == end[idx]]] = pos[tt == end[idx]]
    owner = np.arange(len(pieces))
    taken = np.zeros(len(pieces), bool)
    for b in np.argsort(start):  # a loop over pieces (tracks), not instants
        gap = (start[b] - end) / fps
        dist = np.linalg.norm(last - first[b], axis=-1)
        ok = (gap > 0) & (gap <= REJOIN_GAP_S) & ~taken & (dist <= REJOIN_M + WALK_MPS * np.minimum(gap, 0.5))
        if ok.any():
            a = int(np.argmin(np.where(ok, dist, np.inf)))
            owner[b] = owner[a]
            taken[a] = True
    _, number = np.unique(owner, return_inverse=True)
    return number


# ----------------------------------------------------------------------------- 3. the athlete


def hip_flexion(points: np.ndarray) -> np.ndarray:
    """(...,) degrees between the trunk and the thigh of label-free points (..., 5, 3): 0 standing."""
    trunk = points[..., SHOULDER, :] - points[..., HIP, :]
    thigh = points[..., KNEE, :] - points[..., HIP, :]
    cos = np.sum(trunk * thigh, -1) / (np.linalg.norm(trunk, axis=-1) * np.linalg.norm(thigh, axis=-1))
    return 180.0 - np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def _in_capture_area(pelvis: np.ndarray, cameras: Sequence[Camera]) -> np.ndarray:
    """(...,) the floor under the pelvis is seen by at least half of the cameras (and two)."""
    floor = np.concatenate([pelvis[..., :2], np.zeros(pelvis.shape[:-1] + (1,))], axis=-1)
    px = reproject(np.nan_to_num(floor), cameras)  # (C, ..., 2)
    size = np.array([c.size for c in cameras], float).reshape((len(cameras),) + (1,) * (px.ndim - 2) + (2,))
    inside = np.isfinite(px).all(-1) & (px >= 0).all(-1) & (px <= size - 1).all(-1)
    need = max(MIN_VIEWS, int(np.ceil(len(cameras) / 2)))
    return (inside.sum(0) >= need) & np.isfinite(pelvis).all(-1)


def _reps(flex: np.ndarray, inside: np.ndarray) -> int:
    """Hinge reps in one person's time-ordered hip flexion: above REP_UP_DEG after below REP_DOWN_DEG, the top
    of each counted only inside the capture area."""
    state = np.where(flex >= REP_UP_DEG, 1, np.where(flex <= REP_DOWN_DEG, -1, 0))
    keep = state != 0
    s, ins = state[keep], inside[keep]
    return int(np.sum((s[1:] == 1) & (s[:-1] == -1) & ins[1:]))


def person_summaries(people: People, cameras: Sequence[Camera], t: np.ndarray) -> list[dict]:
    """Per person: instants, time span, views per camera, reps in the capture area, median floor position."""
    out = []
    flex = hip_flexion(people.points)  # (K, T)
    inside = _in_capture_area(people.pelvis, cameras)  # (K, T)
    n_views = (people.views >= 0).sum(1)  # (K, T)
    for pid in range(people.n_people):  # a loop over people
        k, tt = np.nonzero(people.person == pid)
        order = np.argsort(tt)
        k, tt = k[order], tt[order]
        per_cam = (people.views[k, :, tt] >= 0).sum(0)  # (C,)
        out.append({
            "id": pid, "instants": int(len(tt)),
            "t_start": float(t[tt[0]]), "t_end": float(t[tt[-1]]),
            "views": int(n_views[k, tt].sum()),
            "cameras": {c.name: int(n) for c, n in zip(cameras, per_cam) if n},
            "reps": _reps(flex[k, tt], inside[k, tt]),
            "floor_xy": [round(float(v), 2) for v in np.median(people.pelvis[k, tt, :2], axis=0)],
        })
    return out


def choose_athlete(people: People, cameras: Sequence[Camera], t: np.ndarray, hint: AthleteHint) -> tuple[int, str, list]:
    """The athlete's person number, the rule in words, and everyone's summary (see the module docstring)."""
    summary = person_summaries(people, cameras, t)
    real = [s for s in summary if s["instants"] >= MIN_PERSON_S * _rate(t)] or summary
    if not real:
        return -1, "nobody was seen by two cameras at once", summary
    if hint.given:
        target = hint.floor_target(cameras)
        d = np.linalg.norm(people.pelvis[..., :2] - target, axis=-1)  # (K, T)
        d = np.where(people.person >= 0, d, np.inf)
        nearest = np.argmin(d, axis=0)  # (T,) the group nearest the target at each instant
        near_d = d[nearest, np.arange(d.shape[1])]
        ok = np.isfinite(near_d) & (near_d <= (HINT_RADIUS_M if hint.position is not None else np.inf))
        votes = np.bincount(people.person[nearest[ok], np.flatnonzero(ok)], minlength=people.n_people)
        if votes.max(initial=0) > 0:
            return int(np.argmax(votes)), hint.describe(), summary
        log.warning("nobody came near the athlete setting's target (%.2f, %.2f) m: using the default rule", *target)
    centre = capture_centre(cameras)
    most_reps = max(s["reps"] for s in real)
    doers = [s for s in real if s["reps"] == most_reps]
    seen = max(s["views"] for s in doers)
    candidates = [s for s in doers if s["views"] >= 0.8 * seen]
    best = min(candidates, key=lambda s: float(np.linalg.norm(np.asarray(s["floor_xy"]) - centre)))
    if most_reps > 0:
        rule = f"the person doing the reps inside the capture area ({most_reps})"
    else:
        rule = "nobody did reps: the person seen by the most cameras, nearest the centre of the capture area"
    return int(best["id"]), rule, summary


def _rate(t: np.ndarray) -> float:
    return frame_rate(t) if len(t) > 1 else 1.0


def select_athlete(xy: np.ndarray, cameras: Sequence[Camera], t: np.ndarray, hint: AthleteHint | None = None, *,
                   focus: np.ndarray | None = None, xp: ModuleType | None = None) -> AthleteChoice:
    """Match everyone, choose the athlete and say which slot of each camera is the athlete at each instant.

    ``xy`` (C, T, P, 33, 2) person slots on the timeline ``t`` (T,);
    ``focus`` (C, T) the slot each detector measured on every frame (for the
    count of views re-assigned, and the views taken when nobody can be
    matched across cameras). The report says, per camera, the share of
    instants it gave the athlete, the instants its only candidate was someone
    else, the views re-assigned and the instants it saw people nobody else
    matched; and who else was there.
    """
    hint = hint or AthleteHint()
    names = [c.name for c in cameras]
    people = match_people(xy, cameras, _rate(t), xp=xp)
    athlete, rule, summary = choose_athlete(people, cameras, t, hint)
    C, T = xy.shape[:2]
    slot = np.full((C, T), -1, np.int16)
    if athlete >= 0:
        k, tt = np.nonzero(people.person == athlete)
        slot[:, tt] = people.views[k, :, tt].T
    elif focus is not None:
        # nothing to match (nobody seen by two cameras at once): each camera's every-frame person, as a
        # single-person detector would give; the triangulation's own outlier rejection is all there is
        log.warning("no person was seen by two cameras at the same instant: taking each camera's every-frame person")
        slot = np.asarray(focus, np.int16)
        rule = "fallback: nobody matched across cameras; each camera's every-frame person"
    report = _report(xy, people, slot, athlete, rule, summary, names, t, focus)
    return AthleteChoice(athlete, slot.astype(np.int8), rule, report)


def athlete_views(xy: np.ndarray, conf: np.ndarray, slot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The athlete's (C, T, 33, 2) and (C, T, 33) from every slot's ``xy`` (C, T, P, 33, 2) and ``conf``
    (C, T, P, 33): slot ``slot`` (C, T) of each camera, NaN / 0 where it is -1."""
    C, T = slot.shape
    pick = np.clip(slot, 0, xy.shape[2] - 1)
    c, t = np.arange(C)[:, None], np.arange(T)[None]
    mine = slot >= 0
    return (np.where(mine[..., None, None], xy[c, t, pick], np.nan),
            np.where(mine[..., None], np.nan_to_num(conf[c, t, pick]), 0.0))


def _report(xy, people: People, slot, athlete: int, rule: str, summary: list, names: list[str], t: np.ndarray,
            focus: np.ndarray | None) -> dict:
    measured = np.isfinite(xy).all(-1).any(-1)  # (C, T, P)
    n_measured = measured.sum(-1)  # (C, T)
    present = (people.person == athlete).any(0) if athlete >= 0 else np.zeros(len(t), bool)  # (T,)
    in_group = np.zeros(measured.shape, bool)
    K = people.views.shape[0]
    for k in range(K):  # a loop over groups
        c, tt = np.nonzero(people.views[k] >= 0)
        in_group[c, tt, people.views[k][c, tt]] = True
    cams = {}
    for c, name in enumerate(names):
        mine = slot[c] >= 0
        other_only = present & ~mine & (n_measured[c] == 1)  # its one candidate is someone else
        cams[name] = {
            "athlete_instants": int(mine.sum()), "athlete_share": float(mine.mean()) if len(t) else 0.0,
            "only_candidate_someone_else": int(other_only.sum()),
            "reassigned": int((mine & (focus[c] >= 0) & (focus[c] != slot[c])).sum()) if focus is not None else 0,
            "unmatched_instants": int((measured[c] & ~in_group[c]).any(-1).sum()),
        }
    min_instants = MIN_PERSON_S * _rate(t)
    others = [s for s in summary if s["id"] != athlete and s["instants"] >= min_instants]
    return {
        "rule": rule, "athlete_instants": int(present.sum()), "instants": int(len(t)),
        "athlete": next((s for s in summary if s["id"] == athlete), None),
        "others": others, "cameras": cams,
        "never_saw_athlete": [n for n in names if cams[n]["athlete_instants"] == 0],
        "reassigned_total": int(sum(v["reassigned"] for v in cams.values())),
    }
