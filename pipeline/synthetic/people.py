"""Other people in the room for the synthetic footage: a coach standing by, someone walking past.

Both are BlazePose landmarks (T, 33, 3) in world metres like the athlete of
``pipeline.synthetic.athlete`` (built from its standing pose and its walk, so
they have the same body), NaN in the frames a person is not in the room.
``pipeline.synthetic.footage.render_session(..., others=[...])`` draws them
in their own clothes (``COACH``, ``WALKER``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from pipeline.common.landmarks import INDEX
from pipeline.synthetic.figure import Palette

# Clothes, skin and hair that differ from the athlete's default palette (blue shirt, dark shorts).
COACH = Palette(skin=(0.55, 0.38, 0.28), shirt=(0.80, 0.15, 0.12), shorts=(0.20, 0.30, 0.20), hair=(0.08, 0.06, 0.05))
WALKER = Palette(skin=(0.95, 0.80, 0.70), shirt=(0.20, 0.65, 0.30), shorts=(0.55, 0.50, 0.40), hair=(0.70, 0.55, 0.25))


@dataclass
class Bystander:
    """Someone else in the room: landmarks (T, 33, 3) world metres, NaN where absent, and their clothes."""
    xyz: np.ndarray
    palette: Palette = COACH


def _yaw(xyz: np.ndarray, degrees: float) -> np.ndarray:
    a = np.radians(degrees)
    Rz = np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])
    return xyz @ Rz.T


def _pelvis_xy(xyz: np.ndarray) -> np.ndarray:
    return (xyz[..., INDEX["left_hip"], :2] + xyz[..., INDEX["right_hip"], :2]) / 2


def standing(n_frames: int, position: Sequence[float], facing: Sequence[float], *, height: float = 1.8,
             seed: int = 2) -> np.ndarray:
    """A person standing at floor ``position`` (x, y) facing the floor point ``facing``, for ``n_frames``."""
    from pipeline.synthetic.athlete import simulate

    pose = simulate("hinge_drill", 1, seed=seed, walk=False, height=height).xyz[0].astype(np.float64)
    pose[:, :2] -= _pelvis_xy(pose)
    d = np.asarray(facing, float) - np.asarray(position, float)
    pose = _yaw(pose, np.degrees(np.arctan2(d[1], d[0])))  # the simulated body faces +x
    pose[:, :2] += np.asarray(position, float)
    return np.repeat(pose[None], n_frames, axis=0)


def walking(n_frames: int, fps: float, start: Sequence[float], end: Sequence[float], *, t_enter: float = 0.0,
            speed: float = 0.9, height: float = 1.7, seed: int = 3) -> np.ndarray:
    """A person walking in a straight line from floor point ``start`` to ``end`` at ``speed`` (m/s), entering at
    ``t_enter`` seconds and gone once arrived (NaN outside). The gait is the synthetic athlete's walk-in
    (1 Hz leg swing), looped in place and carried along the line."""
    from pipeline.synthetic.athlete import simulate

    s = simulate("hinge_drill", 1, seed=seed, walk=True, height=height, fps=fps)
    steady = np.flatnonzero(s.truth["walking"] & (s.t < 1.25))[: int(round(fps))]  # one 1 s gait cycle
    cycle = s.xyz[steady].astype(np.float64)
    cycle[..., :2] -= _pelvis_xy(cycle)[:, None]
    start, end = np.asarray(start, float), np.asarray(end, float)
    direction = (end - start) / np.linalg.norm(end - start)
    cycle = _yaw(cycle, np.degrees(np.arctan2(direction[1], direction[0])))
    t = np.arange(n_frames) / fps - t_enter
    travelled = speed * t
    inside = (t >= 0) & (travelled <= np.linalg.norm(end - start))
    out = np.full((n_frames,) + cycle.shape[1:], np.nan)
    idx = np.flatnonzero(inside)
    out[idx] = cycle[idx % len(cycle)]
    out[idx, :, :2] += (start + travelled[idx, None] * direction)[:, None]
    return out


def _image_boxes(xyz: np.ndarray, cameras: Sequence) -> np.ndarray:
    """(C, 4) x0, y0, x1, y1 pixel box of landmarks ``xyz`` (..., 33, 3) over all their frames, per camera."""
    pts = np.asarray(xyz, float).reshape(-1, 3)
    pts = pts[np.isfinite(pts).all(-1)]
    out = []
    for cam in cameras:
        px = cam.project(pts)
        out.append([*np.nanmin(px, 0), *np.nanmax(px, 0)])
    return np.asarray(out)


def coach_beside(cameras: Sequence, athlete_xyz: np.ndarray, distances: Sequence[float] = (1.5, 1.75, 2.0),
                 height: float = 1.8) -> np.ndarray:
    """(x, y) floor point 1.5-2 m from the athlete where a standing coach is seen whole by at least two cameras
    and overlaps the athlete (over the whole set) in no camera's image, with the widest gap between the two.

    The athlete among others is the subject of the tests; a coach hiding or hidden by the athlete in some view
    is another (see tests/triangulate/test_people.py), since BlazePose's landmarks of two overlapping people
    mix whatever the matching does.
    """
    ath = np.asarray(athlete_xyz, float)
    centre = np.nanmean(ath[:, [INDEX["left_hip"], INDEX["right_hip"]], :2].reshape(-1, 2), axis=0)
    a_box = _image_boxes(ath, cameras)  # (C, 4)
    size = np.array([c.size for c in cameras], float)
    template = standing(1, (0.0, 0.0), (1.0, 0.0), height=height)[0]
    best, best_gap = None, -np.inf
    for dist in distances:
        for ang in np.radians(np.arange(0, 360, 5)):
            pos = centre + dist * np.array([np.cos(ang), np.sin(ang)])
            body = _yaw(template, np.degrees(np.arctan2(*(centre - pos)[::-1])))
            body[:, :2] += pos
            box = _image_boxes(body, cameras)
            whole = (box[:, :2] >= 0).all(1) & (box[:, 2:] <= size - 1).all(1)
            if whole.sum() < 2:
                continue
            in_view = (box[:, 2] > 0) & (box[:, 0] < size[:, 0])
            # horizontal gap between the two boxes in each camera that has the coach in view (negative: overlap)
            gap = np.maximum(box[:, 0] - a_box[:, 2], a_box[:, 0] - box[:, 2]) / size[:, 0]
            worst = float(np.min(np.where(in_view, gap, np.inf)))
            if worst > best_gap:
                best, best_gap = pos, worst
    if best is None:
        raise ValueError("no place 1.5-2 m from the athlete where two cameras see a coach whole")
    return best


def background_walk(cameras: Sequence, away_from: Sequence[float], athlete_xy: Sequence[float] = (0.0, 0.0), *,
                    radius: float = 1.6, margin_deg: float = 15.0) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) floor points of a straight walk ``radius`` from the athlete across the gap between two
    cameras (as seen from the athlete) that lies farthest from ``away_from`` (the coach): the walker crosses
    no camera's line of sight to the athlete, so they pass behind the athlete for the camera opposite the gap
    and beside the athlete for the two around it."""
    a = np.asarray(athlete_xy, float)
    az = np.sort([np.arctan2(*(np.asarray(c.center[:2]) - a)[::-1]) for c in cameras])
    gaps = np.diff(np.concatenate([az, az[:1] + 2 * np.pi]))
    mids = az + gaps / 2
    d = np.asarray(away_from, float) - a
    away = np.arctan2(d[1], d[0])
    k = int(np.argmax(np.abs(np.angle(np.exp(1j * (mids - away))))))
    half = radius * np.tan(max(gaps[k] / 2 - np.radians(margin_deg), np.radians(5)))
    centre = a + radius * np.array([np.cos(mids[k]), np.sin(mids[k])])
    along = np.array([-np.sin(mids[k]), np.cos(mids[k])])
    return centre - half * along, centre + half * along


def people_views(people: np.ndarray, cameras: Sequence, *, focus_person: int = 0, others_every: int = 3,
                 noise_px: float = 1.0, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """What ``pipeline.detect.people`` would give per camera for ``people`` (N, T, 33, 3) (NaN: absent).

    Returns per camera ``(xy (T, N, 33, 2), conf (T, N, 33), focus (T,), slot_of (N,))``: every person in a
    slot of their own, slots shuffled per camera (``slot_of[n]`` is person n's slot); ``focus_person``
    measured on every frame it is in view, the others every ``others_every`` frames (each at its own phase);
    a person is in view when most of their body joints project inside the image in front of the camera.
    Gaussian noise of ``noise_px`` per axis.
    """
    from pipeline.common.landmarks import BODY_JOINTS

    rng = np.random.default_rng(seed)
    N, T = people.shape[:2]
    out = []
    for cam in cameras:
        slot_of = rng.permutation(N)
        xy = np.full((T, N, 33, 2), np.nan)
        conf = np.zeros((T, N, 33))
        focus = np.full(T, -1)
        w, h = cam.size
        for n in range(N):  # a loop over people
            pts = people[n].reshape(-1, 3)
            ok = np.isfinite(pts).all(-1)
            px = np.full((len(pts), 2), np.nan)
            px[ok] = cam.project(pts[ok])
            depth = np.full(len(pts), np.nan)
            depth[ok] = cam.depth(pts[ok])
            px = px.reshape(T, 33, 2) + rng.normal(0.0, noise_px, (T, 33, 2))
            inside = (px >= 0).all(-1) & (px[..., 0] <= w - 1) & (px[..., 1] <= h - 1) & (depth.reshape(T, 33) > 0)
            in_view = inside[:, list(BODY_JOINTS)].mean(-1) > 0.5
            sampled = np.ones(T, bool) if n == focus_person else (np.arange(T) % others_every == n % others_every)
            keep = in_view & sampled
            xy[keep, slot_of[n]] = px[keep]
            conf[keep, slot_of[n]] = 0.9
            if n == focus_person:
                focus[keep] = slot_of[n]
        out.append((xy, conf, focus, slot_of))
    return out


def gym_scene(n_cameras: int = 4, *, rig_seed: int = 0, fps: float = 15.0, size: tuple[int, int] = (480, 360),
              reps: int = 2, walker: bool = True, seed: int = 4):
    """The athlete doing ``reps`` quick hinge drills at the origin, a coach standing 1.5-2 m away
    (``coach_beside``) and, with ``walker``, someone walking past behind them (``background_walk``, from 0.5 s),
    filmed by ``virtual_rig(n_cameras, seed=rig_seed, size=size)``. Returns (athlete session, rig, bystanders)."""
    from pipeline.synthetic.athlete import simulate
    from pipeline.synthetic.rig import virtual_rig

    sim = simulate("hinge_drill", reps, walk=False, stand_s=0.5, tempo=0.7, top_pause_s=0.2, bottom_pause_s=0.1,
                   fps=fps, seed=seed)
    rig = virtual_rig(n_cameras, seed=rig_seed, size=size)
    T = len(sim.xyz)
    coach_xy = coach_beside(rig, sim.xyz)
    others = [Bystander(standing(T, coach_xy, (0.0, 0.0)), COACH)]
    if walker:
        a, b = background_walk(rig, coach_xy)
        others.append(Bystander(walking(T, fps, a, b, t_enter=0.5, speed=0.8), WALKER))
    return sim, rig, others
