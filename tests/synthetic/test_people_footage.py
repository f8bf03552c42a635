"""More than one figure in the synthetic footage: each in its own clothes where its landmarks project, absent
where it is not in the room; the scene helpers place a coach beside the athlete and a walker behind."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipeline.common.landmarks import INDEX
from pipeline.synthetic.people import (COACH, WALKER, Bystander, background_walk, coach_beside, gym_scene,
                                       people_views, standing, walking)


def _chest(xyz: np.ndarray) -> np.ndarray:
    idx = [INDEX[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]
    sh = xyz[..., idx[:2], :].mean(-2)
    hip = xyz[..., idx[2:], :].mean(-2)
    return hip + 0.7 * (sh - hip)


def test_other_people_are_drawn_in_their_clothes_only_while_in_the_room(tmp_path, egl):
    from pipeline.synthetic.footage import load_others, render_session

    sim, rig, _ = gym_scene(4, rig_seed=0, fps=10.0, size=(320, 240))
    T = 6
    coach = standing(T, (1.2, 0.9), (0.0, 0.0))
    walker = walking(T, 10.0, (-1.6, -1.2), (-1.6, 1.2), t_enter=0.3, speed=1.0)  # in the room from frame 3
    cams = rig[:2]
    paths = render_session(sim.xyz[:T], cams, tmp_path, fps=10.0, progress=False,
                           others=[Bystander(coach, COACH), Bystander(walker, WALKER)])
    others = load_others(tmp_path)
    assert others.shape == (2, T, 33, 3) and np.isnan(others[1, :3]).all() and np.isfinite(others[1, 3:]).all()
    checked = 0
    for cam in cams:
        cap = cv2.VideoCapture(str(paths[cam.name]))
        frames = [cap.read()[1] for _ in range(T)]
        cap.release()
        for f, img in enumerate(frames):
            for xyz, colour, there in ((coach, COACH.shirt, True), (walker, WALKER.shirt, f >= 3),
                                       (sim.xyz, (0.16, 0.36, 0.78), True)):
                point = _chest(xyz[f]) if there else _chest(walker[3])  # where the walker will be
                u, v = np.round(cam.project(point)).astype(int)
                if not (0 <= u < 320 and 0 <= v < 240) or cam.depth(point) <= 0:
                    continue
                b, g, r = img[v, u].astype(float)
                dominant = int(np.argmax(colour))  # red shirt, green shirt, blue shirt
                shirt = [r, g, b][dominant] > 1.3 * max(np.delete([r, g, b], dominant))
                assert shirt == there, (cam.name, f, colour, (r, g, b))
                checked += 1
    assert checked >= 2 * T * 2, checked  # most people in most frames of both cameras


def test_the_coach_stands_beside_the_athlete_seen_whole_by_two_cameras():
    from pipeline.synthetic.rig import virtual_rig

    sim, rig, others = gym_scene(3, rig_seed=1)
    coach = others[0].xyz
    d = np.linalg.norm(np.nanmean(coach[:, [23, 24], :2], axis=(0, 1)) - np.nanmean(sim.xyz[:, [23, 24], :2], axis=(0, 1)))
    assert 1.4 <= d <= 2.1
    whole = 0
    for cam in rig:
        px = cam.project(coach[0])
        whole += int((px >= 0).all() and (px[:, 0] <= cam.size[0] - 1).all() and (px[:, 1] <= cam.size[1] - 1).all())
    assert whole >= 2
    with pytest.raises(ValueError, match="no place"):
        coach_beside(virtual_rig(2, seed=0, size=(64, 48), radius=(0.5, 0.6)), sim.xyz)


def test_the_walker_crosses_no_line_of_sight_and_comes_and_goes():
    from pipeline.synthetic.rig import virtual_rig

    rig = virtual_rig(4, seed=0)
    a, b = background_walk(rig, (1.7, 0.0))
    path = a + np.linspace(0, 1, 50)[:, None] * (b - a)
    angles = np.arctan2(path[:, 1], path[:, 0])
    for cam in rig:
        cam_angle = np.arctan2(cam.center[1], cam.center[0])
        assert np.min(np.abs(np.angle(np.exp(1j * (angles - cam_angle))))) > np.radians(10)
    assert np.dot((a + b) / 2, (1.7, 0.0)) < 0  # on the far side from the coach
    w = walking(40, 10.0, a, b, t_enter=0.5, speed=1.0)
    present = np.isfinite(w).all(axis=(1, 2))
    assert not present[:5].any() and present[5] and not present[-1]
    views = people_views(w[None], rig, noise_px=0.0)
    assert all(np.isnan(xy[~present]).all() for xy, *_ in views)
