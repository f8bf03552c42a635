"""The 2D stage on rendered footage: BlazePose finds the athlete where the truth projects; files and errors."""
from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest

from pipeline.synthetic.rig import virtual_rig
from pipeline.contracts import ContractError
from pipeline.contracts.pose2d import read_pose2d
from pipeline.detect.stage import NoPersonWarning, detect_video
from pipeline.detect.video import DetectionError, timestamps_path
from pipeline.common.landmarks import N_LANDMARKS

pytest.importorskip("mediapipe")

FPS = 25.0


@pytest.fixture(scope="module")
def clip(tmp_path_factory, egl):
    """24 frames of a deadlift going down, 2 cameras at 320x240."""
    from pipeline.synthetic.footage import load_ground_truth, render_session
    from pipeline.synthetic.athlete import simulate

    session = simulate("deadlift", 1, fps=30.0, seed=1, walk=False)
    start, bottom, _ = session.rep_frames[0]
    xyz = session.xyz[np.linspace(start, bottom, 24).round().astype(int)]
    out = tmp_path_factory.mktemp("clip")
    paths = render_session(xyz, virtual_rig(4)[:2], out, fps=FPS, size=(320, 240), progress=False)
    gt_xyz, cams, _ = load_ground_truth(out)
    return paths, gt_xyz, cams


def test_detects_the_athlete_where_the_truth_projects(clip, tmp_path):
    from pipeline.evaluation.detector_check import score_camera

    paths, xyz, cams = clip
    for cam in cams:
        out = detect_video(paths[cam.name], tmp_path / "pose2d" / f"{cam.name}.npz", progress=False)
        pose = read_pose2d(out)
        assert pose.xy.shape == (len(xyz), 1, N_LANDMARKS, 2) and pose.xy.dtype == np.float32  # one person slot
        assert pose.conf.shape == (len(xyz), 1, N_LANDMARKS) and pose.conf.dtype == np.float32
        xy, conf, t = pose.xy[:, 0], pose.conf[:, 0], pose.t
        np.testing.assert_allclose(t, np.arange(len(xyz)) / FPS)
        assert pose.t_source == "fps" and pose.fps == pytest.approx(FPS)
        assert tuple(pose.size) == (320, 240) and pose.detected
        score = score_camera(xy.astype(np.float64), xyz, cam)
        print(f"\n{cam.name}: {score['detected']:.0%} detected, body joints {score['median_px']:.1f} px "
              f"({score['median_pct_height']:.1f} % of the body height) from the truth")
        assert pose.detection_rate == score["detected"] >= 0.9
        assert score["median_pct_height"] < 3.0
        ok = np.isfinite(xy).all(-1)
        assert np.all((conf >= 0) & (conf <= 1)) and np.all(conf[~ok] == 0)
    assert not [p for p in (tmp_path / "pose2d").iterdir() if ".tmp" in p.name]


def test_timestamps_csv_and_max_frames(clip, tmp_path):
    paths, xyz, _ = clip
    video = tmp_path / "cam0.mp4"
    video.write_bytes(paths["cam0"].read_bytes())
    t = 100.0 + np.cumsum(np.full(len(xyz), 0.04) + np.linspace(0, 0.002, len(xyz)))  # a clock with jitter
    timestamps_path(video).write_text("frame,t\n" + "".join(f"{i},{v:.6f}\n" for i, v in enumerate(t)))
    out = detect_video(video, tmp_path / "a.npz", max_frames=10, progress=False)
    pose = read_pose2d(out)
    assert pose.xy.shape[0] == 10 and pose.t_source == "timestamps"
    np.testing.assert_allclose(pose.t, t[:10], atol=1e-6)
    # a CSV with a row missing does not belong to the video
    timestamps_path(video).write_text("frame,t\n" + "".join(f"{i},{v:.6f}\n" for i, v in enumerate(t[:-1])))
    with pytest.raises(DetectionError, match=r"cam0\.timestamps\.csv.*23 timestamps.*24 frames"):
        detect_video(video, tmp_path / "b.npz", progress=False)
    assert not (tmp_path / "b.npz").exists()
    # an explicit CSV wins over the one beside the video
    other = tmp_path / "clock.csv"
    other.write_text("frame,t\n" + "".join(f"{i},{2 * i}\n" for i in range(len(xyz))))
    pose = read_pose2d(detect_video(video, tmp_path / "c.npz", timestamps=other, max_frames=3, progress=False))
    np.testing.assert_allclose(pose.t, [0.0, 2.0, 4.0])
    other.write_text("t\n1\n2\n")
    with pytest.raises(DetectionError, match="clock.csv.*frame,t"):
        detect_video(video, tmp_path / "d.npz", timestamps=other, progress=False)


def test_video_without_a_person_is_all_nan(tmp_path):
    video = tmp_path / "empty.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (160, 120))
    for i in range(8):
        writer.write(np.full((120, 160, 3), 40 + 10 * i, np.uint8))
    writer.release()
    with pytest.warns(NoPersonWarning, match="empty.mp4: no person detected in any of its 8 frames"):
        out = detect_video(video, tmp_path / "empty.npz", progress=False)
    pose = read_pose2d(out)
    assert pose.xy.shape == (8, 1, N_LANDMARKS, 2) and np.isnan(pose.xy).all() and np.all(pose.conf == 0)
    assert (pose.focus == -1).all()
    assert pose.t.shape == (8,) and not pose.detected and pose.detection_rate == 0.0


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(DetectionError, match=r"nowhere\.mp4 does not exist"):
        detect_video(tmp_path / "nowhere.mp4", tmp_path / "x.npz", progress=False)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    with pytest.raises(DetectionError, match=r"junk\.mp4: .*(cannot open|no frame)"):
        detect_video(junk, tmp_path / "x.npz", progress=False)
    assert not (tmp_path / "x.npz").exists()
    with pytest.raises(ContractError, match=r"missing\.npz does not exist.*hingecap detect"):
        read_pose2d(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"garbage")
    with pytest.raises(ContractError, match=r"bad\.npz: not a readable pose2d"):
        read_pose2d(bad)
    np.savez(tmp_path / "shape.npz", xy=np.zeros((5, 17, 2)), conf=np.zeros((5, 17)), t=np.zeros(5))
    with pytest.raises(ContractError, match=r"shape\.npz: expected xy \(F,P,33,2\)"):
        read_pose2d(tmp_path / "shape.npz")
    np.savez(tmp_path / "partial.npz", xy=np.zeros((5, 33, 2)))
    with pytest.raises(ContractError, match=r"partial\.npz: lacks conf, t"):
        read_pose2d(tmp_path / "partial.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for complexity in (0, 2):  # not in mediapipe's wheel: MediaPipe would download them
            with pytest.raises(DetectionError, match="model_complexity must be 1.*download"):
                detect_video(junk, tmp_path / "x.npz", model_complexity=complexity)


def test_silhouette_crops_cover_the_rendered_body(clip, tmp_path):
    """The segmentation crops say 'body' where the truth's trunk projects and 'background' far from it."""
    from pipeline.common.landmarks import INDEX
    from pipeline.contracts.silhouette import read_silhouette

    paths, xyz, cams = clip
    cam = cams[0]
    detect_video(paths[cam.name], tmp_path / "cam0.npz", silhouette=tmp_path / "sil" / "cam0.npz", progress=False)
    sil = read_silhouette(tmp_path / "sil" / "cam0.npz")
    assert sil.mask.shape == (len(xyz), 1, 192, 192) and sil.size == (320, 240)
    np.testing.assert_allclose(sil.t, read_pose2d(tmp_path / "cam0.npz").t)
    trunk = 0.25 * (xyz[:, INDEX["left_hip"]] + xyz[:, INDEX["right_hip"]] + xyz[:, INDEX["left_shoulder"]]
                    + xyz[:, INDEX["right_shoulder"]])  # mid-trunk: always inside the body
    u, v = cam.project(trunk).T
    frames = np.arange(len(xyz))
    inside = sil.sample(frames, 0, u, v)
    x0, y0, side = sil.box[:, 0].T
    corner = sil.sample(frames, 0, x0 + 0.03 * side, y0 + 0.03 * side)  # the crop's margin: beyond the body
    assert np.isfinite(side).all() and np.median(inside) > 0.9 and np.max(corner) < 0.1
    assert sil.sample(frames, 0, x0 - 5, y0).max() == 0.0  # outside the crop
