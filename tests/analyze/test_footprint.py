"""The shoes' footprints from the silhouettes (pipeline.analyze.footprint) against the rendered figure's shoes."""
from __future__ import annotations

import numpy as np

from pipeline.analyze import footprint as fp
from pipeline.evaluation.figure_truth import shoe_footprint
from pipeline.synthetic.athlete import simulate
from pipeline.synthetic.figure import Physique
from pipeline.synthetic.masks import ideal_views
from pipeline.synthetic.rig import virtual_rig


def test_footprint_ends_are_the_shoes_ends_and_a_passing_miss_does_not_cut_the_base(egl):
    sim = simulate("romanian_deadlift", 1, seed=3, walk=False, yaw_deg=140, position=(0.2, -0.1))
    frames = np.arange(0, len(sim.xyz), 6)
    xyz = sim.xyz[frames].astype(float)
    views = ideal_views(sim.xyz, virtual_rig(4, seed=2, size=(480, 360)), frames=frames)
    standing = sim.truth["progress"][frames] == 0
    floor = fp.floor_height(xyz, standing)
    assert abs(floor) < 0.02  # the renderer's floor is z = 0
    prints = fp.footprints(xyz, views, floor)
    truth = shoe_footprint(xyz, Physique(), np.arange(len(frames)))
    facing = np.array([*sim.facing, 0.0])
    for key in ("left_heel", "left_toe", "right_heel", "right_toe"):
        err = (prints[key] - truth[key]) @ facing
        assert np.isfinite(err).mean() > 0.8, key
        # within 2.5 cm: behind a heel, three of four cameras may see the other leg (the one-miss hull's price)
        assert np.nanmedian(np.abs(err)) < 0.025 and np.nanmax(np.abs(err)) < 0.035, (key, err)
    # the landmarks' heel and toe lie inside the shoe: the footprint is the base of support, not them
    heel_lm = xyz[:, 29] @ facing
    assert np.all(prints["left_heel"] @ facing < heel_lm)

    # two cameras lose the front of the shoes in a third of the frames: the per-frame toe is cut there,
    # the base of support (median over the frames the foot stands still) is not
    cut = np.zeros(len(frames), bool)
    cut[::3] = True
    for sil in views.silhouettes[:2]:
        sil.mask[cut] = 0
    damaged = fp.footprints(xyz, views, floor)
    assert np.isnan(damaged["left_toe"][cut]).all() or (
        np.abs((damaged["left_toe"][cut] - truth["left_toe"][cut]) @ facing) > 0.05).any()
    base = fp.base_of_support(damaged, xyz, np.ones(len(frames), bool))
    err = (base["left_toe"] - truth["left_toe"]) @ facing
    assert np.nanmax(np.abs(err)) < 0.025, err
