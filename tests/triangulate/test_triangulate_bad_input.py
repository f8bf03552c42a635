"""Where the 2D files and the calibration meet: videos of another size, a calibration that cannot fit, a camera
cut in half, a truncated video. Each is an error naming the camera and file, or handled on purpose and said
in the log, in pose3d.npz's info and in the report's capture-quality section."""
from __future__ import annotations

import logging

import pytest

from calibration.io import write_calibration
from pipeline.analyze.stage import analyze_session
from pipeline.contracts import SessionInputError
from pipeline.contracts.pose2d import read_pose2d, write_pose2d
from pipeline.contracts.pose3d import read_pose3d
from pipeline.contracts.sync import read_sync
from pipeline.report.capture import capture_html
from pipeline.sync.stage import sync_session
from pipeline.synthetic.rig import virtual_rig
from pipeline.synthetic.views import write_pose2d_session
from pipeline.triangulate.stage import triangulate_session

FPS = 30.0


def _run(tmp_path, paths, calib, name="pose3d.npz", sync="none"):
    sync_session(paths, tmp_path / "sync.json", method=sync)
    return triangulate_session(paths, calib, tmp_path / "sync.json", tmp_path / name)


def test_video_filmed_larger_than_calibrated_is_rescaled_and_said(tmp_path, athlete, body_error_mm, caplog):
    cams = virtual_rig(4)
    filmed = [c.resized((960, 720)) if c.name == "cam1" else c for c in cams]  # same lens, 1.5x the pixels
    paths = write_pose2d_session(tmp_path, athlete.xyz, filmed, fps=FPS)
    calib = write_calibration(tmp_path / "calibration.toml", cams, {})
    with caplog.at_level(logging.INFO):
        info = _run(tmp_path, paths, calib)
    assert info["resized"] == {"cam1": {"calibrated": [640, 480], "video": [960, 720]}}
    assert any("cam1: filmed at 960x720" in w for w in info["warnings"])
    assert any("camera cam1: filmed at 960x720, calibrated at 640x480 (same aspect ratio): intrinsics scaled by 1.500"
               in r.getMessage() for r in caplog.records)
    assert info["reprojection_px"]["per_camera_median"]["cam1"] < 3 and info["tracked_pct"] > 99
    assert body_error_mm(tmp_path / "pose3d.npz", athlete) < 15


def test_video_of_another_aspect_ratio_is_an_error_naming_camera_and_sizes(tmp_path, athlete):
    cams = virtual_rig(3)
    paths = write_pose2d_session(tmp_path, athlete.xyz[:60], cams, fps=FPS)
    pose = read_pose2d(paths["cam2"])
    write_pose2d(paths["cam2"], pose.xy, pose.conf, pose.t, size=(640, 360))
    calib = write_calibration(tmp_path / "calibration.toml", cams, {})
    with pytest.raises(SessionInputError, match=r"camera cam2: its video .*cam2\.npz was filmed at 640x360 but the "
                                                r"calibration '.*calibration\.toml' is for 640x480, another aspect ratio"):
        _run(tmp_path, paths, calib)
    assert not (tmp_path / "pose3d.npz").exists()


def test_a_calibration_nothing_can_be_triangulated_with_is_an_error(tmp_path, athlete):
    cams = virtual_rig(3)
    paths = write_pose2d_session(tmp_path, athlete.xyz[:60], cams, fps=FPS)
    behind = [c.copy() for c in cams]
    for c in behind:
        c.tvec = -c.tvec  # every camera turned to face away from the athlete
    calib = write_calibration(tmp_path / "behind.toml", behind, {})
    with pytest.raises(SessionInputError, match=r"no landmark could be triangulated in any of the 60 frames .*behind\.toml"):
        _run(tmp_path, paths, calib)
    assert not (tmp_path / "pose3d.npz").exists()


def test_a_calibration_of_another_room_is_warned_about(tmp_path, athlete):
    paths = write_pose2d_session(tmp_path, athlete.xyz[:90], virtual_rig(4), fps=FPS)
    calib = write_calibration(tmp_path / "other.toml", virtual_rig(4, seed=7), {})
    info = _run(tmp_path, paths, calib)
    assert info["tracked_pct"] < 50
    assert any(w.startswith(f"only {info['tracked_pct']:.1f} % of the landmarks could be triangulated")
               for w in info["warnings"])
    html = capture_html(info, read_sync(tmp_path / "sync.json"))
    assert "could be triangulated: check the calibration" in html and "100.0 %" not in html


def test_camera_cut_in_half_keeps_full_length_reps_and_verdicts_with_its_gap_reported(tmp_path, athlete):
    """Done when: one camera's recording stops half-way; the session is as long, has the same reps and verdicts."""
    cams = virtual_rig(4)
    calib = write_calibration(tmp_path / "calibration.toml", cams, {})
    full = write_pose2d_session(tmp_path / "full", athlete.xyz, cams, fps=FPS, seed=2)
    _run(tmp_path / "full", full, calib)
    cut = write_pose2d_session(tmp_path / "cut", athlete.xyz, cams, fps=FPS, seed=2)
    pose = read_pose2d(cut["cam2"])
    half = len(pose.t) // 2
    write_pose2d(cut["cam2"], pose.xy[:half], pose.conf[:half], pose.t[:half], size=pose.size)
    info = _run(tmp_path / "cut", cut, calib)

    whole, short = read_pose3d(tmp_path / "full" / "pose3d.npz"), read_pose3d(tmp_path / "cut" / "pose3d.npz")
    assert short.n_frames == whole.n_frames == len(athlete.xyz)
    assert info["coverage"]["cam2"]["covered_share"] == pytest.approx(0.5, abs=0.01)
    assert info["coverage"]["cam2"]["frames_pct"] == pytest.approx(50, abs=1)
    assert info["coverage"]["cam0"]["frames_pct"] > 99 and info["tracked_pct"] > 99
    assert any(w.startswith("camera cam2 filmed only 50 % of the session") for w in info["warnings"])
    html = capture_html(info, read_sync(tmp_path / "cut" / "sync.json"))
    assert f"50 % (filmed 0.0-{pose.t[half - 1]:.1f} s only)" in html and "camera cam2 filmed only 50 %" in html

    reps = {k: analyze_session(tmp_path / k / "pose3d.npz", "deadlift", tmp_path / k, hip_offset_m=0.0)
            for k in ("full", "cut")}
    assert reps["cut"]["n_reps"] == reps["full"]["n_reps"] == 4
    for a, b in zip(reps["full"]["reps"], reps["cut"]["reps"]):
        assert abs(a["bottom"] - b["bottom"]) <= 2
        assert [c["verdict"] for c in a["cues"]] == [c["verdict"] for c in b["cues"]]


def test_truncated_video_is_reported_in_info_and_report(tmp_path, athlete):
    cams = virtual_rig(3)
    paths = write_pose2d_session(tmp_path, athlete.xyz[:90], cams, fps=FPS)
    pose = read_pose2d(paths["cam0"])
    write_pose2d(paths["cam0"], pose.xy, pose.conf, pose.t, size=pose.size, video="cam0.mp4", frames_stated=150)
    info = _run(tmp_path, paths, write_calibration(tmp_path / "calibration.toml", cams, {}))
    assert "camera cam0: video cam0.mp4 is truncated: 90 of its 150 stated frames decoded" in info["warnings"]
    assert "is truncated: 90 of its 150" in capture_html(info, read_sync(tmp_path / "sync.json"))
