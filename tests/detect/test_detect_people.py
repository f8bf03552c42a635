"""Everyone in a rendered video: the athlete measured on every frame, the others every few frames, each in a
slot of their own, their silhouettes beside; the pieces that reproduce solutions.pose's tracking; old files."""
from __future__ import annotations

import math

import numpy as np
import pytest

from calibration.floor import capture_centre, floor_points
from pipeline.common.landmarks import BODY_JOINTS, N_LANDMARKS
from pipeline.contracts.pose2d import read_pose2d, write_pose2d
from pipeline.contracts.silhouette import read_silhouette
from pipeline.detect.people import OneEuro, region_from_aux, same_centre
from pipeline.synthetic.rig import virtual_rig

pytest.importorskip("mediapipe")

FPS = 15.0


@pytest.fixture(scope="module")
def clip(tmp_path_factory, egl):
    """2.3 s of the gym scene (athlete, coach, walker from 0.5 s) seen by three cameras."""
    from pipeline.synthetic.footage import render_session
    from pipeline.synthetic.people import gym_scene

    sim, cams, others = gym_scene(3, rig_seed=1, fps=FPS)
    T = 35
    people = np.stack([sim.xyz[:T]] + [o.xyz[:T] for o in others])
    for o in others:
        o.xyz = o.xyz[:T]
    out = tmp_path_factory.mktemp("people")
    paths = render_session(sim.xyz[:T], cams, out, fps=FPS, progress=False, others=others)
    return paths, people, cams, out


def _who(xy: np.ndarray, people: np.ndarray, cam) -> np.ndarray:
    """(F,) which true person (index) each slot's landmarks (F, 33, 2) are nearest to, -1 where not measured."""
    truth = np.stack([cam.project(p.reshape(-1, 3)).reshape(p.shape[0], 33, 2) for p in people])  # (N, F, 33, 2)
    body = list(BODY_JOINTS)
    d = np.linalg.norm(xy[None][:, :, body] - truth[:, :, body], axis=-1)  # (N, F, 8)
    with np.errstate(all="ignore"):
        med = np.where(np.isnan(d).all(-1), np.inf, np.nanmedian(np.where(np.isnan(d), np.inf, d), axis=-1))
    return np.where(np.isfinite(xy).all(-1).any(-1), np.argmin(med, axis=0), -1)


def test_everyone_in_view_gets_a_slot_and_the_athlete_every_frame(clip, tmp_path):
    from pipeline.detect.stage import detect_video

    paths, people, cams, out = clip
    found = []
    for cam in cams:
        pose = read_pose2d(detect_video(paths[cam.name], tmp_path / f"{cam.name}.npz", calibration=out / "calibration.toml",
                                        silhouette=tmp_path / "sil" / f"{cam.name}.npz", progress=False))
        F = pose.xy.shape[0]
        assert pose.n_people >= 2 and pose.xy.shape == (F, pose.n_people, N_LANDMARKS, 2)
        who = np.stack([_who(pose.xy[:, p], people, cam) for p in range(pose.n_people)], axis=1)  # (F, P)
        # the slot measured on every frame is the athlete (the person standing at the capture area's centre)
        focus_who = who[np.arange(F), np.maximum(pose.focus, 0)]
        assert (pose.focus >= 0).mean() > 0.95 and (focus_who[pose.focus >= 0] == 0).mean() > 0.95
        # the others are measured every few frames, each in a slot of their own
        found.append([(who == n).any(0).sum() for n in (1, 2)])
        assert (who[:, :] > 0).any(1).mean() < 0.7
        # a slot keeps its person while tracked
        for p in range(pose.n_people):
            ids = who[:, p][who[:, p] >= 0]
            assert len(ids) == 0 or np.bincount(ids).max() >= 0.9 * len(ids)
        # each slot's silhouette crop beside its landmarks
        sil = read_silhouette(tmp_path / "sil" / f"{cam.name}.npz")
        assert sil.mask.shape[:2] == (F, pose.n_people)
        measured = np.isfinite(pose.xy).all(-1).any(-1)
        np.testing.assert_array_equal(np.isfinite(sil.box).all(-1), measured)
    # BlazePose's detector finds people by their face: the coach, turned to the athlete, is found by the two
    # cameras that see the face; the walker (entering at 0.5 s) by the camera they walk towards
    found = np.array(found)  # (cameras, [coach slots, walker slots])
    assert (found[:, 0] >= 1).sum() >= 2 and (found[:, 1] >= 1).sum() >= 1, found


def test_without_a_calibration_the_person_nearest_the_image_centre_is_followed(clip, tmp_path):
    from pipeline.detect.stage import detect_video

    paths, people, cams, out = clip
    cam = cams[0]
    pose = read_pose2d(detect_video(paths[cam.name], tmp_path / "c.npz", progress=False, max_frames=12))
    ok = pose.focus >= 0
    assert ok.mean() > 0.9 and (_who(pose.xy[np.arange(len(ok)), np.maximum(pose.focus, 0)], people[:, :12], cam)[ok] == 0).all()


def test_one_euro_filter_follows_mediapipes_formula():
    f = OneEuro(min_cutoff=0.05, beta=80.0, d_cutoff=1.0)
    assert f(0.0, np.array([10.0]), 0.01)[0] == 10.0  # the first value passes
    # second value, 1/30 s later: derivative 5 * 0.01 * 30 = 1.5, smoothed by alpha(1 Hz) at 30 Hz; cut-off 0.05 + 80 |d|
    a_d = 1 / (1 + 30 / (2 * math.pi * 1.0))
    cutoff = 0.05 + 80 * a_d * 1.5
    a = 1 / (1 + 30 / (2 * math.pi * cutoff))
    assert f(1 / 30, np.array([15.0]), 0.01)[0] == pytest.approx(a * 15 + (1 - a) * 10)
    assert f(1 / 30, np.array([99.0]), 0.01)[0] == 99.0  # a repeated time: returned as is


def test_region_from_the_auxiliary_landmarks_is_mediapipes():
    """pose_landmarks_to_roi: centre on the first point, side twice the distance to the second, the second
    straight above (rotation 0), squared on the long side and x1.25."""
    r = region_from_aux(np.array([[320.0, 240.0, 0.0], [320.0, 140.0, 0.0]]), 640, 480)
    assert (r.x_center, r.y_center) == (0.5, 0.5) and r.rotation == pytest.approx(0.0)
    assert r.width * 640 == pytest.approx(250.0) and r.height * 480 == pytest.approx(250.0)
    tilted = region_from_aux(np.array([[320.0, 240.0, 0.0], [420.0, 240.0, 0.0]]), 640, 480)
    assert tilted.rotation == pytest.approx(math.pi / 2)  # the second point to the right: turned a quarter


def test_detections_match_tracks_by_their_hip_centres():
    from mediapipe.framework.formats import rect_pb2

    r = lambda x, y, s: rect_pb2.NormalizedRect(x_center=x, y_center=y, width=s, height=s)  # noqa: E731
    assert same_centre(r(0.5, 0.5, 0.5), r(0.52, 0.5, 0.52))
    assert not same_centre(r(0.5, 0.5, 0.5), r(0.57, 0.52, 0.5))  # someone just behind, hips 0.07 apart
    assert not same_centre(r(0.5, 0.5, 0.5), r(0.51, 0.5, 0.9))  # a nearer person around the same spot


def test_feet_are_placed_on_the_floor_and_the_capture_area_is_where_the_cameras_look():
    rig = virtual_rig(4, seed=3)
    pts = np.array([[0.4, -0.3, 0.0], [1.5, 1.0, 0.0]])
    for cam in rig:
        np.testing.assert_allclose(floor_points(cam, cam.project(pts)), pts[:, :2], atol=1e-6)
    assert np.linalg.norm(capture_centre(rig)) < 0.1  # virtual_rig aims at (0, 0, 0.9) +- 5 cm
    assert np.isnan(floor_points(rig[0], np.array([np.nan, 1.0]))).all()


def test_a_one_person_file_of_before_loads_as_one_slot(tmp_path):
    xy = np.random.default_rng(0).uniform(0, 600, (6, 33, 2))
    xy[2] = np.nan
    conf = np.where(np.isfinite(xy[..., 0]), 0.8, 0.0)
    path = tmp_path / "old.npz"
    np.savez(path, xy=xy.astype(np.float32), conf=conf.astype(np.float32), t=np.arange(6) / 30.0, fps=30.0)
    pose = read_pose2d(path)
    assert pose.xy.shape == (6, 1, 33, 2) and pose.n_people == 1 and pose.focus is None
    np.testing.assert_array_equal(pose.focus_slots(), [0, 0, -1, 0, 0, 0])
    one, c = pose.followed()
    np.testing.assert_allclose(one, xy, equal_nan=True)
    # several people: the every-frame slot gives the single series sync reads
    many = np.full((6, 3, 33, 2), np.nan)
    many[:, 2] = xy
    many[::3, 0] = xy[0]
    focus = np.where(np.isfinite(xy[:, 0, 0]), 2, -1)
    pose = read_pose2d(write_pose2d(tmp_path / "new.npz", many, np.nan_to_num(many[..., 0] * 0 + 0.5), np.arange(6) / 30,
                                    focus=focus))
    np.testing.assert_allclose(pose.followed()[0], xy, equal_nan=True)
    with pytest.raises(Exception, match=r"focus must be \(F,\)"):
        write_pose2d(tmp_path / "bad.npz", many, np.zeros((6, 3, 33)), np.arange(6) / 30, focus=np.full(6, 5))
