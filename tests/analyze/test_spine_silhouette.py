"""The back measured in the silhouettes (pipeline.analyze.spine_silhouette) on exact masks of the rendered figure.

The renderer's back must bend in its silhouette when the spine rounds (and stay
straight otherwise), or the through-video benchmark proves nothing; and the
measurement must read that bend, say when no camera sees the athlete side-on,
keep its result whatever the chunking, bridge a short landmark gap, and not be
moved by one camera's mask bleeding into the background.
"""
from __future__ import annotations

import numpy as np
import pytest

from calibration.camera import Camera, look_at
from pipeline.analyze import spine_silhouette as ss
from pipeline.analyze.kinematics import facing_direction
from pipeline.analyze.silhouette_measures import standing_chord
from pipeline.synthetic.athlete import SpineShape, simulate
from pipeline.synthetic.masks import ideal_views


def _camera(name, sim, azimuth_deg, dist=3.2, height=1.1, size=(320, 240)):
    """A camera ``azimuth_deg`` from the athlete's facing direction (90: its left side), aimed at its hips."""
    fx, fy = sim.facing
    a = np.radians(azimuth_deg)
    d = np.array([fx * np.cos(a) - fy * np.sin(a), fx * np.sin(a) + fy * np.cos(a), 0.0])
    hip = sim.xyz[0, 23:25].mean(0).astype(float)
    centre = np.array([hip[0], hip[1], 0.0]) + dist * d + [0, 0, height]
    rvec, tvec = look_at(centre, np.array([hip[0], hip[1], 0.75]))
    K = np.array([[300.0, 0, size[0] / 2], [0, 300.0, size[1] / 2], [0, 0, 1]])
    return Camera(name, size, K, np.zeros(5), rvec, tvec)


@pytest.fixture(scope="module")
def hinge():
    """Three deadlifts, the second with a rounded back; an athlete with flat natural curves."""
    sim = simulate("deadlift", 3, faults={2: ["rounded_spine"]}, seed=7, walk=False, yaw_deg=30,
                   spine_shape=SpineShape(lordosis_deg=-15, kyphosis_deg=20))
    b = sim.rep_frames[:, 1]
    standing = np.arange(0, 6)
    return sim, b, np.concatenate([standing, b])


def _measure(sim, views, frames, **kw):
    xyz = sim.xyz[frames].astype(float)
    stand = sim.truth["progress"][frames] == 0
    chord = standing_chord(sim.xyz.astype(float), sim.truth["progress"] == 0)
    prof = ss.back_profile(xyz, facing_direction(sim.xyz.astype(float), sim.fps)[frames], views, chord, **kw)
    return prof, ss.flexion_angle(prof["profile"], chord), stand


def test_a_rounded_back_bends_the_silhouette_and_a_neutral_one_does_not(egl, hinge):
    sim, b, frames = hinge
    cams = [_camera("side", sim, 85), _camera("front", sim, 10)]
    rho = sim.truth["rho"][b]
    for spine, what in ((sim.spine, "spine figure"), (None, "landmark-only figure")):
        views = ideal_views(sim.xyz, cams, spine=spine, spine_sigma=sim.spine_sigma, frames=frames)
        prof, angle, stand = _measure(sim, views, frames)
        bottoms = angle[~stand]
        assert np.isfinite(bottoms).all(), what
        assert (prof["camera"][~stand] == 0).all()  # the side camera, never the front one
        if spine is not None:
            # the windows see most of the rounding: the rounded rep stands out by most of its rho
            assert bottoms[1] - max(bottoms[0], bottoms[2]) > 0.5 * (rho[1] - max(rho[0], rho[2])), bottoms
            assert max(bottoms[0], bottoms[2]) < 20.0
        else:  # the straight trunk between hips and shoulders cannot show the rounding
            assert abs(bottoms[1] - bottoms[0]) < 8.0, bottoms


def test_no_side_view_is_not_measured_and_chunking_does_not_change_the_result(egl, hinge):
    sim, b, frames = hinge
    diagonal = [_camera(f"d{k}", sim, a) for k, a in enumerate((45, 135, 225, 315))]
    views = ideal_views(sim.xyz, diagonal, spine=sim.spine, spine_sigma=sim.spine_sigma, frames=frames)
    prof, angle, _ = _measure(sim, views, frames)
    assert np.isnan(angle).all() and (prof["camera"] == -1).all()
    assert np.nanmin(prof["best_side_deg"]) > 40  # the closest camera is 45 deg from side-on

    side = ideal_views(sim.xyz, [_camera("side", sim, 95)], spine=sim.spine, spine_sigma=sim.spine_sigma,
                       frames=frames)
    one = _measure(sim, side, frames, chunk=3)[1]
    many = _measure(sim, side, frames, chunk=128)[1]
    np.testing.assert_allclose(one, many)


def test_a_short_landmark_gap_is_bridged_for_placing_the_lines(egl, hinge):
    sim, b, _ = hinge
    frames = np.arange(b[1] - 6, b[1] + 7)  # around the rounded rep's bottom
    views = ideal_views(sim.xyz, [_camera("side", sim, 90)], spine=sim.spine, spine_sigma=sim.spine_sigma,
                        frames=frames)
    xyz = sim.xyz[frames].astype(float)
    gap = xyz.copy()
    gap[4:9, 23:25] = np.nan  # the hips vanish for 5 frames at the bottom
    chord = standing_chord(sim.xyz.astype(float), sim.truth["progress"] == 0)
    facing = facing_direction(sim.xyz.astype(float), sim.fps)[frames]
    full = ss.flexion_angle(ss.back_profile(xyz, facing, views, chord)["profile"], chord)
    none = ss.back_profile(gap, facing, views, chord)
    assert np.isnan(ss.flexion_angle(none["profile"], chord)[4:9]).all() and not none["landmarks_ok"][4:9].any()
    bridged = ss.back_profile(gap, facing, views, chord, max_bridge=8)
    angle = ss.flexion_angle(bridged["profile"], chord)
    assert bridged["bridged"][4:9].all() and not bridged["bridged"][:4].any()
    assert np.abs(angle - full).max() < 3.0, (angle, full)


def test_a_mask_bleeding_into_the_background_in_one_view_does_not_move_the_back(egl, hinge):
    sim, b, frames = hinge
    cams = [_camera("left", sim, 80), _camera("right", sim, -95)]
    views = ideal_views(sim.xyz, cams, spine=sim.spine, spine_sigma=sim.spine_sigma, frames=frames)
    clean = _measure(sim, views, frames)[1]
    # the left camera's mask grows a 6-cell blob over the whole upper half of its crops (its background)
    views.silhouettes[0].mask[:, :, :96, :] = np.maximum(views.silhouettes[0].mask[:, :, :96, :],
                                                         np.roll(views.silhouettes[0].mask[:, :, :96, :], -6, axis=2))
    bled = _measure(sim, views, frames)[1]
    ok = np.isfinite(clean)
    assert ok.sum() >= 3
    assert np.abs(bled[ok] - clean[ok]).max() < 3.0, (bled, clean)


def test_a_view_off_the_dorsal_axis_reads_the_backs_depth_like_a_side_view(egl, hinge):
    """An edge found on a line phi off the dorsal axis lies at depth (distance x cos phi): read as a depth, a side
    camera high above the bent-over back (lines about 28 deg off the dorsal axis) gives the level side camera's
    profile (as a distance along its line, 1/cos 28 = 13 % deeper, about 2 cm), so the innermost of several views
    compares like with like."""
    sim, b, frames = hinge
    level, high = (_measure(sim, ideal_views(sim.xyz, [_camera(n, sim, 90, height=h)], spine=sim.spine,
                                            spine_sigma=sim.spine_sigma, frames=frames), frames)[0]
                   for n, h in (("level", 1.1), ("high", 2.7)))
    bottoms = slice(len(frames) - len(b), None)
    assert np.nanmin(high["phi"][bottoms]) > 20  # the high camera's lines are well off the dorsal axis there
    diff = (high["profile"] - level["profile"])[bottoms]
    assert np.isfinite(diff).sum() > 0.5 * diff.size
    assert abs(np.nanmedian(diff)) < 0.008, np.nanmedian(diff)  # metres


def test_fusion_keeps_only_views_within_max_phi_of_the_dorsal_axis():
    """Two views see every level: one on the dorsal axis, one 25 deg off it and 1 cm shallower. All side views
    fused: the innermost (the oblique one); limited to 15 deg: the side-on one alone."""
    T, Q = 4, len(ss.LEVELS)
    edge = np.stack([np.full((T, Q), 0.12), np.full((T, Q), 0.11)])
    phi = np.stack([np.full((T, Q), 2.0), np.full((T, Q), 25.0)])
    side = np.stack([np.full(T, 3.0), np.full(T, 25.0)])
    everything = ss.fuse_views(edge, phi, side)
    side_on = ss.fuse_views(edge, phi, side, max_phi=15.0)
    assert np.allclose(everything["profile"], 0.11) and (everything["n_views"] == 2).all()
    assert np.allclose(side_on["profile"], 0.12) and (side_on["n_views"] == 1).all()
    assert (side_on["camera"] == 0).all()
