"""Who is who across cameras: people matched with the calibration, followed in 3D, the athlete chosen and reported.

Synthetic views of three people (the athlete doing hinge reps, a coach standing by, someone walking past) as
the detector would give them: one slot per person in a shuffled order per camera, the athlete measured on
every frame, the others every third frame (pipeline.synthetic.people.people_views). No rendering: fast.
"""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.common.athlete import AthleteHint, AthleteSettingError, athlete_hint, athlete_name
from pipeline.common.landmarks import LR_SWAP
from pipeline.synthetic.athlete import simulate
from pipeline.synthetic.people import people_views, standing
from pipeline.synthetic.rig import virtual_rig
from pipeline.triangulate.people import athlete_views, label_free, select_athlete

FPS = 15.0


@pytest.fixture(scope="module")
def scene(crowd):  # tests/triangulate/conftest.py
    return crowd


def _stack(views):
    xy = np.stack([v[0] for v in views])
    conf = np.stack([v[1] for v in views])
    focus = np.stack([v[2] for v in views])
    slot_of = np.stack([v[3] for v in views])  # (C, N)
    return xy, conf, focus, slot_of


def test_the_athlete_is_chosen_in_every_instant_and_the_others_are_reported(scene):
    sim, rig, people = scene
    xy, conf, focus, slot_of = _stack(people_views(people, rig, noise_px=1.5, seed=1))
    t = np.arange(xy.shape[1]) / FPS
    choice = select_athlete(xy, rig, t, focus=focus)
    athlete_slot = slot_of[:, 0]
    seen = choice.slot >= 0
    # every view given to the athlete is the athlete's, and every camera gives it on (nearly) every instant
    assert np.all(choice.slot[seen] == np.broadcast_to(athlete_slot[:, None], choice.slot.shape)[seen])
    assert seen.mean(1).min() > 0.97, seen.mean(1)
    rep = choice.report
    assert rep["athlete_instants"] == rep["instants"] == len(t)
    assert "reps" in rep["rule"] and rep["athlete"]["reps"] == 2
    # the coach (all the time) and the walker (from 0.5 s while walking) are the others, with their spans
    others = sorted(rep["others"], key=lambda p: p["t_start"])
    assert len(others) == 2, others
    coach, walker = others
    # measured every third frame: first and last seen within a sample of the ends
    assert coach["t_start"] == pytest.approx(0.0, abs=0.15) and coach["t_end"] == pytest.approx(t[-1], abs=0.15)
    walk_t = t[np.isfinite(people[2]).all(axis=(1, 2))]
    assert walker["t_start"] == pytest.approx(walk_t[0], abs=0.35) and walker["t_end"] == pytest.approx(walk_t[-1], abs=0.35)
    assert np.linalg.norm(np.asarray(coach["floor_xy"]) - np.nanmedian(people[1][:, [23, 24], :2], axis=(0, 1))) < 0.2
    assert rep["never_saw_athlete"] == [] and rep["reassigned_total"] == 0
    # the athlete's own views, gathered per camera, are its landmarks
    axy, aconf = athlete_views(xy, conf, choice.slot)
    truth = np.stack([xy[c, :, athlete_slot[c]] for c in range(len(rig))])
    np.testing.assert_array_equal(np.isfinite(axy), np.isfinite(truth) & seen[..., None, None])


def test_a_camera_whose_track_jumped_to_the_coach_is_left_out_there_and_counted(scene):
    """Occlusion: the coach steps between cam1 and the athlete; cam1's detector follows the coach in the athlete's
    slot and sees the athlete nowhere. Those instants are dropped, counted, and the athlete is still chosen."""
    sim, rig, people = scene
    xy, conf, focus, slot_of = _stack(people_views(people, rig, noise_px=1.0, seed=2))
    cam, a, b = 1, 20, 45
    proj = rig[cam].project(people[1][a:b].reshape(-1, 3)).reshape(b - a, 33, 2)
    xy[cam, a:b] = np.nan
    conf[cam, a:b] = 0.0
    xy[cam, a:b, slot_of[cam, 0]] = proj  # the athlete's slot now holds the coach
    conf[cam, a:b, slot_of[cam, 0]] = 0.9
    choice = select_athlete(xy, rig, np.arange(xy.shape[1]) / FPS, focus=focus)
    assert (choice.slot[cam, a:b] == -1).all()
    others = np.delete(np.arange(len(rig)), cam)
    assert (choice.slot[others][:, a:b] == slot_of[others, 0][:, None]).all()
    assert choice.report["cameras"][rig[cam].name]["only_candidate_someone_else"] == b - a
    assert choice.report["athlete_instants"] == xy.shape[1]


def _sees_coach(rig, people) -> list[int]:
    """The cameras that have the coach (person 1) in view on most frames."""
    views = people_views(people, rig, focus_person=1, noise_px=0.0)
    return [c for c, (xy, _, _, slot_of) in enumerate(views) if np.isfinite(xy[:, slot_of[1], 0, 0]).mean() > 0.9]


def test_a_view_the_detector_did_not_follow_is_reassigned_and_counted(scene):
    """A camera's detector followed the coach on every frame; its slot of the athlete is measured every third
    frame. The athlete's views there come from the athlete's slot, and the report counts them as re-assigned."""
    sim, rig, people = scene
    xy, conf, focus, slot_of = _stack(people_views(people, rig, noise_px=1.0, seed=3))
    cam = _sees_coach(rig, people)[0]
    again = people_views(people, [rig[cam]], focus_person=1, noise_px=1.0, seed=3)[0]
    xy[cam], conf[cam], focus[cam], slot_of[cam] = again
    choice = select_athlete(xy, rig, np.arange(xy.shape[1]) / FPS, focus=focus)
    mine = choice.slot[cam] >= 0
    assert (choice.slot[cam][mine] == slot_of[cam, 0]).all() and mine.sum() >= xy.shape[1] // 3 - 2
    assert choice.report["cameras"][rig[cam].name]["reassigned"] == mine.sum()


def test_left_right_swapped_views_are_still_the_athletes(scene):
    """Matching uses label-free midpoints: a view with left and right exchanged is the same person (the swap
    repair fixes the labels later)."""
    sim, rig, people = scene
    xy, conf, focus, slot_of = _stack(people_views(people, rig, noise_px=1.0, seed=4))
    cam, s = 0, slot_of[0, 0]
    xy[cam, ::2, s] = xy[cam, ::2, s][:, list(LR_SWAP)]
    choice = select_athlete(xy, rig, np.arange(xy.shape[1]) / FPS, focus=focus)
    assert (choice.slot[cam] == s).mean() > 0.97


@pytest.mark.parametrize("kind", ["position", "nearest_camera"])
def test_the_athlete_setting_overrides_the_default_rule(scene, kind):
    """Point at the coach: the coach becomes "the athlete" (the detector, given the same setting, measured them
    on every frame)."""
    sim, rig, people = scene
    coach = np.nanmedian(people[1][:, [23, 24], :2], axis=(0, 1))
    if kind == "position":  # the coach's floor point
        setting, who = {"position": list(coach)}, 1
    else:  # a camera that sees the coach, nearest the coach: the person most often nearest it is the answer
        near = min((rig[c] for c in _sees_coach(rig, people)), key=lambda c: np.linalg.norm(c.center[:2] - coach))
        setting = {"nearest_camera": near.name}
        pelvis = people[:, :, [23, 24], :2].mean(axis=2)  # (N, T, 2) the truth, NaN where absent
        d = np.where(np.isnan(pelvis).any(-1), np.inf, np.linalg.norm(pelvis - near.center[:2], axis=-1))
        who = int(np.argmax(np.bincount(np.argmin(d, axis=0), minlength=3)))
    xy, conf, focus, slot_of = _stack(people_views(people, rig, focus_person=who, noise_px=1.0, seed=5))
    choice = select_athlete(xy, rig, np.arange(xy.shape[1]) / FPS, athlete_hint(setting), focus=focus)
    seen = choice.slot >= 0
    assert seen.any(1).sum() >= 2 and seen.any(0).mean() > 0.95
    assert np.all(choice.slot[seen] == np.broadcast_to(slot_of[:, who][:, None], choice.slot.shape)[seen])
    assert choice.rule == athlete_hint(setting).describe()


def test_without_reps_the_athlete_is_the_one_seen_most_nearest_the_centre(scene):
    """Nobody hinges (the Pose2Sim demo's case): the person seen by the most cameras nearest the capture area's
    centre, here the athlete standing at the origin rather than the coach 1.5-2 m away."""
    sim, rig, people = scene
    still = people.copy()
    still[0] = standing(people.shape[1], (0.0, 0.0), (1.0, 0.0))
    xy, conf, focus, slot_of = _stack(people_views(still, rig, noise_px=1.0, seed=6))
    choice = select_athlete(xy, rig, np.arange(xy.shape[1]) / FPS, focus=focus)
    seen = choice.slot >= 0
    assert "nobody did reps" in choice.rule
    assert np.all(choice.slot[seen] == np.broadcast_to(slot_of[:, 0][:, None], choice.slot.shape)[seen])


def test_one_person_everywhere_gives_every_view():
    sim = simulate("deadlift", 1, walk=False, fps=FPS, seed=2)
    rig = virtual_rig(3, seed=5)
    xy, conf, focus, slot_of = _stack(people_views(sim.xyz[None].astype(float), rig, noise_px=1.0, seed=0))
    choice = select_athlete(xy, rig, np.arange(xy.shape[1]) / FPS, focus=focus)
    assert (choice.slot == 0).all() and choice.report["others"] == []


def test_label_free_points_ignore_left_and_right():
    x = np.random.default_rng(0).normal(size=(4, 33, 2))
    np.testing.assert_allclose(label_free(x), label_free(x[:, list(LR_SWAP)]))


def test_athlete_setting_values():
    assert athlete_name("Anna") == "Anna" and athlete_name({"name": "Anna", "position": [0, 1]}) == "Anna"
    assert not athlete_hint("Anna").given and athlete_hint({"position": [0.5, -1]}).position == (0.5, -1.0)
    assert athlete_hint({"name": "B", "nearest_camera": "cam2"}).nearest_camera == "cam2"
    with pytest.raises(AthleteSettingError, match="not both"):
        athlete_hint({"position": [0, 0], "nearest_camera": "cam1"})
    with pytest.raises(AthleteSettingError, match=r"athlete.position: expected \[x, y\]"):
        athlete_hint({"position": [0, 0, 1]})
    rig = virtual_rig(3, seed=0)
    with pytest.raises(AthleteSettingError, match="camera 'cam9' is not calibrated.*cam0, cam1, cam2"):
        AthleteHint(nearest_camera="cam9").floor_target(rig)
    np.testing.assert_allclose(AthleteHint(nearest_camera="cam1").floor_target(rig), rig[1].center[:2])
    assert np.linalg.norm(AthleteHint().floor_target(rig)) < 0.2  # virtual_rig's cameras look at the origin
