"""Synthetic footage: exact geometry, a figure where the landmarks are, readable videos, MediaPipe sees it."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from calibration.io import read_calibration
from pipeline.synthetic.rig import virtual_rig
from pipeline.common.landmarks import INDEX, N_LANDMARKS
from pipeline.synthetic.footage import load_ground_truth, render_session
from pipeline.synthetic.figure import MotionInputError, body_primitives


def standing_pose() -> np.ndarray:
    """A 1.75 m athlete standing at the origin, facing +x (left is +y)."""
    P = np.zeros((N_LANDMARKS, 3))

    def put(name, x, y, z):
        P[INDEX[f"left_{name}"]] = (x, y, z)
        P[INDEX[f"right_{name}"]] = (x, -y, z)

    put("ankle", 0.0, 0.11, 0.08)
    put("heel", -0.05, 0.11, 0.03)
    put("foot_index", 0.15, 0.13, 0.02)
    put("knee", 0.01, 0.10, 0.48)
    put("hip", 0.0, 0.09, 0.92)
    put("shoulder", 0.0, 0.18, 1.44)
    put("elbow", 0.0, 0.21, 1.15)
    put("wrist", 0.03, 0.21, 0.90)
    put("pinky", 0.03, 0.22, 0.82)
    put("index", 0.06, 0.20, 0.81)
    put("thumb", 0.07, 0.18, 0.86)
    put("ear", 0.0, 0.075, 1.60)
    put("eye", 0.085, 0.032, 1.625)
    put("eye_inner", 0.088, 0.018, 1.625)
    put("eye_outer", 0.08, 0.048, 1.625)
    P[INDEX["nose"]] = (0.11, 0.0, 1.585)
    P[INDEX["mouth_left"]] = (0.095, 0.025, 1.55)
    P[INDEX["mouth_right"]] = (0.095, -0.025, 1.55)
    return P


def hinge_motion(n_frames: int, depth_deg: float = 70.0) -> np.ndarray:
    """Stand -> hinge -> stand: the upper body pitches about the hips, hips back, knees soft, arms hang."""
    P0 = standing_pose()
    phase = 0.5 - 0.5 * np.cos(np.linspace(0, 2 * np.pi, n_frames))
    th = np.radians(depth_deg) * phase
    lower = ("hip", "knee", "ankle", "heel", "foot")
    upper = [i for n, i in INDEX.items() if not any(k in n for k in lower)]
    hips = [INDEX["left_hip"], INDEX["right_hip"]]
    hip_c = P0[hips].mean(axis=0)
    rel = P0[upper] - hip_c
    c, s = np.cos(th)[:, None], np.sin(th)[:, None]
    rot = np.stack([rel[:, 0] * c + rel[:, 2] * s, np.broadcast_to(rel[:, 1], c.shape[:1] + rel[:, 1].shape),
                    -rel[:, 0] * s + rel[:, 2] * c], axis=-1)
    shift = np.stack([-0.12 * phase, 0 * phase, -0.02 * phase], axis=-1)
    xyz = np.repeat(P0[None], n_frames, axis=0)
    xyz[:, upper] = hip_c + shift[:, None] + rot
    xyz[:, hips] += shift[:, None]
    for side in ("left", "right"):
        xyz[:, INDEX[f"{side}_knee"], 0] += 0.05 * phase
        sh = xyz[:, INDEX[f"{side}_shoulder"]]
        for n in ("elbow", "wrist", "pinky", "index", "thumb"):
            xyz[:, INDEX[f"{side}_{n}"]] = sh + (P0[INDEX[f"{side}_{n}"]] - P0[INDEX[f"{side}_shoulder"]])
    return xyz.astype(np.float32)


def test_marker_spheres_land_on_camera_project(egl):
    from pipeline.synthetic.gl import Renderer

    cams = virtual_rig(2, seed=3)  # with lens distortion
    # the last marker lies near the image corners, where the distortion moves it by 2-10 px
    pts = np.array([[0.3, -0.2, 1.1], [-0.6, 0.5, 0.3], [0.7, 0.6, 1.8], [0.0, 0.0, 0.9], [1.2, -1.0, 0.1]])
    ell = np.zeros((len(pts), 15), np.float32)
    ell[:, :3] = pts
    ell[:, 3:12] = (0.02 * np.eye(3)).ravel()
    ell[:, 12:] = (1.0, 0.0, 0.0)
    with Renderer(cams, room=False, background=(0, 0, 0)) as renderer:
        images = renderer.render(ell, np.zeros((0, 11), np.float32))
    for cam, img in zip(cams, images):
        assert img.shape == (480, 640, 3)
        n, labels, stats, centroids = cv2.connectedComponentsWithStats((img[..., 2] > 20).astype(np.uint8))
        assert n - 1 == len(pts), f"{cam.name}: expected {len(pts)} markers, found {n - 1}"
        found = centroids[1:]
        expected = cam.project(pts)
        d = np.linalg.norm(expected[:, None] - found[None], axis=-1).min(axis=1)
        assert d.max() < 1.0, f"{cam.name}: marker off by {d.max():.2f} px"
        # the distortion matters here: the pinhole projection alone is measurably elsewhere
        pinhole = cv2.projectPoints(pts, cam.rvec, cam.tvec, cam.K, None)[0].reshape(-1, 2)
        assert np.linalg.norm(pinhole - expected, axis=-1).max() > 2.0
        assert np.linalg.norm(pinhole[:, None] - found[None], axis=-1).min(axis=1).max() > 2.0


def test_figure_is_where_the_landmarks_are(egl):
    from pipeline.synthetic.gl import Renderer

    xyz = hinge_motion(9)[[0, 4]]  # standing and the hinge bottom
    cams = virtual_rig(2, size=(320, 240), seed=1)
    ell, cyl = body_primitives(xyz)
    with Renderer(cams, room=False, background=(0, 0, 0)) as renderer:
        for t in range(len(xyz)):
            for cam, img in zip(cams, renderer.render(ell[t], cyl[t])):
                mask = cv2.dilate((img.max(axis=2) > 8).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
                px = np.round(cam.project(xyz[t])).astype(int)
                inside = mask[px[:, 1], px[:, 0]]
                assert inside.all(), f"{cam.name} frame {t}: landmarks outside the figure: {np.flatnonzero(~inside)}"
                # and the figure is nowhere else: its pixels lie near the landmarks' bounding box
                ys, xs = np.nonzero(mask)
                lo, hi = px.min(axis=0) - 25, px.max(axis=0) + 25
                assert xs.min() >= lo[0] and xs.max() <= hi[0] and ys.min() >= lo[1] and ys.max() <= hi[1]
                assert mask.mean() < 0.25


def test_face_and_hair_are_drawn(egl):
    """MediaPipe needs the face to tell left from right: eyes, mouth and hair must be where the landmarks say."""
    from calibration.camera import Camera, look_at
    from pipeline.synthetic.gl import Renderer

    xyz = hinge_motion(1)
    rvec, tvec = look_at(np.array([1.2, 0.0, 1.6]), np.array([0.0, 0.0, 1.58]))
    cam = Camera("face", (320, 320), [[900, 0, 160], [0, 900, 160], [0, 0, 1]], np.zeros(5), rvec, tvec)
    ell, cyl = body_primitives(xyz)
    with Renderer([cam], room=False, background=(0, 0, 0)) as renderer:
        img = renderer.render(ell[0], cyl[0])[0].astype(int)  # BGR

    def pixel(name, offset=(0.0, 0.0, 0.0)):
        u, v = np.round(cam.project(xyz[0, INDEX[name]] + np.asarray(offset))).astype(int)
        return img[v, u]

    skin = pixel("nose", (-0.01, 0, 0.07))  # forehead
    assert skin[2] > skin[1] > skin[0], "the forehead is not skin-coloured"
    for eye in ("left_eye", "right_eye"):
        assert pixel(eye).sum() < 0.5 * skin.sum(), f"{eye}: no dark iris"
    for corner in ("mouth_left", "mouth_right"):
        b, g, r = pixel(corner, (0, 0.5 * (0.025 if corner == "mouth_right" else -0.025), 0))
        assert r > g + 30 and r > b + 30, f"{corner}: no red lips"
    hair = pixel("nose", (-0.05, 0, 0.14))  # above the forehead
    assert hair.sum() < 0.6 * skin.sum() and hair[2] > hair[0], "no brown hair above the forehead"


def test_render_session_writes_videos_and_ground_truth(egl, tmp_path):
    xyz = hinge_motion(6)
    cams = virtual_rig(2, seed=2)
    paths = render_session(xyz, cams, tmp_path / "s1", fps=25, size=(192, 144), progress=False)
    assert sorted(paths) == ["cam0", "cam1"]
    for name, path in paths.items():
        assert path == tmp_path / "s1" / f"{name}.mp4"
        cap = cv2.VideoCapture(str(path))
        frames = []
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(frame)
        cap.release()
        assert len(frames) == len(xyz)
        assert frames[0].shape == (144, 192, 3)
        assert frames[0].std() > 10  # a room and a figure, not a blank frame
    gt_xyz, gt_cams, fps = load_ground_truth(tmp_path / "s1")
    np.testing.assert_allclose(gt_xyz, xyz, atol=1e-6)
    assert fps == 25
    assert [c.size for c in gt_cams] == [(192, 144), (192, 144)]
    assert [c.size for c in read_calibration(tmp_path / "s1" / "calibration.toml")] == [(192, 144)] * 2
    assert not [p for p in (tmp_path / "s1").iterdir() if ".tmp" in p.name]


def test_resized_camera_scales_the_image():
    cam = virtual_rig(1, distortion=True)[0]
    small = cam.resized((320, 240))
    pts = np.array([[0.2, 0.1, 1.0], [-0.4, 0.3, 0.2]])
    # pixel edges scale by 0.5: centre u maps to (u + 0.5) / 2 - 0.5
    np.testing.assert_allclose(small.project(pts), (cam.project(pts) + 0.5) / 2 - 0.5, atol=1e-9)


def test_bad_landmarks_are_refused(tmp_path):
    xyz = hinge_motion(3)
    with pytest.raises(MotionInputError, match="shape"):
        body_primitives(xyz[:, :17])
    broken = xyz.copy()
    broken[1, INDEX["left_knee"], 0] = np.nan
    with pytest.raises(MotionInputError, match="frame 1"):
        render_session(broken, virtual_rig(1), tmp_path, progress=False)
    assert not list(tmp_path.iterdir())
    with pytest.raises(ValueError, match="unique"):
        cam = virtual_rig(1)[0]
        render_session(xyz, [cam, cam.copy()], tmp_path, progress=False)


def test_figure_follows_any_body_size():
    """Primitives scale with the landmarks: a smaller athlete gets a smaller figure."""
    xyz = hinge_motion(3)
    ell_big, cyl_big = body_primitives(xyz)
    centre = np.array([0.0, 0.0, 0.0])
    ell_small, cyl_small = body_primitives(centre + 0.8 * xyz)
    np.testing.assert_allclose(ell_small[..., :12], 0.8 * ell_big[..., :12], atol=1e-5)
    np.testing.assert_allclose(cyl_small[..., :8], 0.8 * cyl_big[..., :8], atol=1e-5)
    assert np.isfinite(ell_big).all() and np.isfinite(cyl_big).all()


def test_mediapipe_detects_the_rendered_athlete(egl, tmp_path):
    pytest.importorskip("mediapipe")
    from pipeline.detect.video import read_frames
    from pipeline.evaluation.detector_check import mediapipe_landmarks, score_camera

    xyz = hinge_motion(10, depth_deg=60.0)
    cams = virtual_rig(4)[:2]
    paths = render_session(xyz, cams, tmp_path, progress=False)
    for cam in cams:
        xy, _ = mediapipe_landmarks(read_frames(paths[cam.name]))
        score = score_camera(xy, xyz, cam)
        assert score["frames"] == len(xyz)
        assert score["detected"] >= 0.9, score
        assert score["median_pct_height"] < 3.0, score
        assert score["swap_rate"] <= 0.1, score


def test_mediapipe_detects_the_synthetic_athlete_turned_away(egl, tmp_path):
    """The analysis stage's synthetic athlete, turned (yaw 150 deg) so these cameras see its back and its side."""
    pytest.importorskip("mediapipe")
    synthetic_athlete = pytest.importorskip("pipeline.synthetic.athlete")
    from pipeline.detect.video import read_frames
    from pipeline.evaluation.detector_check import mediapipe_landmarks, score_camera

    session = synthetic_athlete.simulate("deadlift", 1, fps=30.0, seed=1, yaw_deg=150.0, walk=False)
    start, bottom, _ = session.rep_frames[0]
    xyz = session.xyz[np.linspace(start, bottom, 10).round().astype(int)]
    cams = virtual_rig(4, seed=5)[2:]  # 86 and 157 deg from the athlete's facing direction
    paths = render_session(xyz, cams, tmp_path, progress=False)
    for cam in cams:
        xy, _ = mediapipe_landmarks(read_frames(paths[cam.name]))
        score = score_camera(xy, xyz, cam)
        assert score["detected"] >= 0.9, score
        assert score["median_pct_height"] < 3.0, score
        assert score["swap_rate"] <= 0.2, score  # a side view leaves left and right ambiguous now and then


def test_spine_palette_physique_and_scene_vary_the_figure_and_the_truth_keeps_the_spine(egl, tmp_path):
    from pipeline.synthetic.athlete import simulate
    from pipeline.synthetic.figure import HAIR_STYLES, Palette, Physique
    from pipeline.synthetic.footage import load_truth_arrays
    from pipeline.synthetic.gl import Scene

    sim = simulate("hinge_drill", 1, seed=3, walk=False, stand_s=0.2)
    frames = slice(0, 6)
    ell_base, _ = body_primitives(sim.xyz[frames])
    ell_spine, _ = body_primitives(sim.xyz[frames], spine=sim.spine[frames], spine_sigma=sim.spine_sigma)
    assert ell_spine.shape[1] > ell_base.shape[1]  # the chain of the curved trunk
    rng = np.random.default_rng(0)
    looks = [(Palette.random(rng), Physique.random(rng)) for _ in range(6)]
    assert len({p.skin for p, _ in looks}) > 1 and {ph.hair for _, ph in looks} <= set(HAIR_STYLES)
    deep = body_primitives(sim.xyz[frames], physique=Physique(trunk_depth=1.2))[0]
    shallow = body_primitives(sim.xyz[frames], physique=Physique(trunk_depth=0.85))[0]
    assert np.linalg.norm(deep[0, 0, 6:9]) > np.linalg.norm(shallow[0, 0, 6:9])  # the chest's depth axis
    with pytest.raises(ValueError, match="hair"):
        Physique(hair="mohawk")
    cams = virtual_rig(1, size=(160, 120), seed=1)
    a = render_session(sim.xyz[frames], cams, tmp_path / "a", fps=30.0, progress=False, spine=sim.spine[frames],
                       spine_sigma=sim.spine_sigma, truth={k: v[frames] for k, v in sim.truth.items()})
    b = render_session(sim.xyz[frames], cams, tmp_path / "b", fps=30.0, progress=False, spine=sim.spine[frames],
                       spine_sigma=sim.spine_sigma, palette=looks[0][0], physique=looks[0][1],
                       scene=Scene.random(np.random.default_rng(5)), samples=0)
    truth = load_truth_arrays(tmp_path / "a")
    assert truth["spine"].shape == (6, len(sim.spine_sigma), 3) and "truth_rho" in truth and "truth_hip_flex" in truth
    first = [cv2.VideoCapture(str(p[cams[0].name])).read()[1] for p in (a, b)]
    assert np.abs(first[0].astype(int) - first[1].astype(int)).mean() > 10  # another look and room
