"""The crowd the people tests share: an athlete's hinge drill, a coach standing beside, someone walking past."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.synthetic.athlete import simulate
from pipeline.synthetic.people import background_walk, coach_beside, standing, walking
from pipeline.synthetic.rig import virtual_rig

CROWD_FPS = 15.0


@pytest.fixture(scope="module")
def crowd():
    """(sim, rig, people (3, T, 33, 3): the athlete, the coach, the walker NaN while out of the room)."""
    sim = simulate("hinge_drill", 2, walk=False, stand_s=0.5, tempo=0.7, top_pause_s=0.2, bottom_pause_s=0.1,
                   fps=CROWD_FPS, seed=4)
    rig = virtual_rig(4, seed=0)
    T = len(sim.xyz)
    coach_xy = coach_beside(rig, sim.xyz)
    a, b = background_walk(rig, coach_xy)
    return sim, rig, np.stack([sim.xyz, standing(T, coach_xy, (0.0, 0.0)),
                               walking(T, CROWD_FPS, a, b, t_enter=0.5, speed=0.9)]).astype(np.float64)
