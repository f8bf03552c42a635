"""The report's video evidence: proxies, the camera chosen, timeline -> video frame, the overlay, the pictures."""
from __future__ import annotations

import base64
import re

import cv2
import numpy as np
import pytest

from calibration.camera import Camera, Rig, look_at
from pipeline.common.landmarks import INDEX
from pipeline.report.evidence import OVERLAY_POINTS, config_footage, gather_footage, stills, video_payload
from pipeline.report.html import build_report
from pipeline.report.replay import MISSING, unpack_series
from pipeline.report.session import ALL_EDGES, FAIL, WARN, load_session
from pipeline.report.video import (VideoInputError, athlete_box, best_camera, camera_frames, draw_skeleton,
                                   overlay_points, proxy_size, read_frames, write_proxy)


def _camera(name, centre, target=(0.0, 0.0, 1.0), size=(640, 480)):
    rvec, tvec = look_at(np.array(centre, float), np.array(target, float))
    K = np.array([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]])
    return Camera(name, size, K, np.array([-0.1, 0.02, 0.001, -0.001, 0.0]), rvec, tvec)


def _decode(uri: str) -> np.ndarray:
    data = base64.b64decode(uri.split(",", 1)[1])
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def _red(bgr: np.ndarray) -> np.ndarray:
    return (bgr[..., 2] > 160) & (bgr[..., 1] < 90) & (bgr[..., 0] < 90)


# --- which camera ----------------------------------------------------------------------------------

def test_best_camera_is_the_one_seeing_the_athlete_side_on():
    # The athlete at (1, 0) faces +y (the direction 90 degrees): side-on means looking along x.
    athlete = np.array([1.0, 0.0, 1.0])
    rig = Rig([
        _camera("front", (1.0, 4.0, 1.5), athlete),          # in front of them
        _camera("diagonal", (4.0, 3.0, 1.5), athlete),
        _camera("side", (-3.0, 0.4, 1.4), athlete),          # to their right, slightly ahead
        _camera("overhead", (1.05, 0.0, 5.0), athlete),      # looks down: its axis is perpendicular to facing too
    ])
    best, scores = best_camera(rig, rig.names, np.array([0.0, 1.0]), athlete)
    assert best == "side"
    assert scores["side"] > 0.95 and scores["front"] < 0.05 and scores["overhead"] < 0.05
    assert scores["front"] < scores["diagonal"] < scores["side"]
    # Only the cameras offered count (a camera left out by triangulation is not offered).
    assert best_camera(rig, ["front", "diagonal"], np.array([0.0, 1.0]), athlete)[0] == "diagonal"
    # Facing the other way round changes nothing: a side is a side.
    assert best_camera(rig, rig.names, np.array([0.0, -1.0]), athlete)[0] == "side"
    # Turned by 90 degrees, the front camera becomes the side one.
    assert best_camera(rig, rig.names, np.array([1.0, 0.0]), athlete)[0] == "front"


def test_cameras_left_out_by_triangulation_are_not_shown(filmed, tmp_path):
    s = load_session(filmed.dir)
    footage, why = gather_footage(s, tmp_path, videos=filmed.videos, calibration=filmed.calibration)
    assert why == "" and footage.cameras == ["cam0", "cam1"]
    assert footage.best == "cam1"  # the athlete faces 45 degrees: cam0 stands in front of them, cam1 to the side
    s.info["left_out"] = {"cam1": "no detections"}
    footage, _ = gather_footage(s, tmp_path, videos=filmed.videos, calibration=filmed.calibration)
    assert footage.cameras == ["cam0"] and footage.best == "cam0"
    assert footage.src == {"cam0": "video/cam0.webm"}  # relative to the page, in the page's video/ folder


# --- timeline -> video frame -----------------------------------------------------------------------

def test_timeline_frames_map_to_each_cameras_frames_with_offset_and_drift():
    fps = 30.0
    rng = np.random.default_rng(0)
    t_cam = np.cumsum(rng.uniform(0.95, 1.05, 2000) / fps)  # a recorder's jittery timestamps
    t_ref = np.arange(-20, 2100) / 29.97 + 0.1
    for offset, drift in ((0.0, 0.0), (0.37, 0.0), (-0.2, 0.002)):
        got = camera_frames(t_ref, t_cam, offset, drift)
        # Brute force: each camera frame's time on the reference clock, the nearest one to each instant.
        on_ref = t_cam + offset + drift * t_cam
        nearest = np.abs(on_ref[None, :] - t_ref[:, None]).argmin(axis=1)
        half = 0.5 * np.median(np.diff(on_ref))
        inside = (t_ref >= on_ref[0] - half) & (t_ref <= on_ref[-1] + half)
        assert np.array_equal(got[inside], nearest[inside])
        assert (got[~inside] == -1).all() and (~inside).any()
    # A 0.2 % drift is 2 s = 60 frames after 1000 s: the mapping must carry it.
    t_long = np.arange(40000) / fps
    assert camera_frames([1000.0], t_long, 0.0, 0.0)[0] == 30000
    assert camera_frames([1000.0], t_long, 0.0, 0.002)[0] == round(1000 / 1.002 * fps)  # 29940


# --- the overlay ---------------------------------------------------------------------------------

def test_overlay_lands_where_camera_project_puts_it_scaled():
    cam = _camera("c", (3.0, -2.0, 1.6))
    pts = np.array([[0.0, 0.0, 1.0], [0.3, -0.2, 0.2], [0.1, 0.4, 1.7]])
    size = proxy_size(cam.size)
    assert size == (480, 360)
    got = overlay_points(pts, cam, size)
    # Pixel centres sit at integers: the image's edges scale, so x' + 0.5 = (x + 0.5) * 480 / 640.
    expected = (cam.project(pts) + 0.5) * 0.75 - 0.5
    assert np.abs(got - expected).max() < 1e-6
    behind = overlay_points(np.array([[6.0, -4.0, 1.6]]), cam, size)  # behind the camera: not drawn
    assert np.isnan(behind).all()


def test_page_data_carries_each_cameras_frames_and_overlay(filmed, tmp_path):
    s = load_session(filmed.dir)
    footage, _ = gather_footage(s, tmp_path, videos=filmed.videos, calibration=filmed.calibration)
    payload = video_payload(s, footage)
    assert payload["best"] == "cam1" and payload["missing"] == MISSING
    for cam in payload["cameras"]:
        frames = unpack_series(cam["frames"], "<i4", ())
        # cam1 started LATE frames after cam0, and the timeline starts when both film: cam0 frame f+LATE, cam1 frame f.
        late = round(filmed.offsets["cam1"] * 30)
        assert np.array_equal(frames, np.arange(s.n_frames) + (late if cam["name"] == "cam0" else 0))
        xy = unpack_series(cam["xy"], "<i2", (len(OVERLAY_POINTS), 2))
        landmarks = [k for k, i in enumerate(OVERLAY_POINTS) if i < 33]
        truth = filmed.rig[cam["name"]].project(filmed.xyz[:, [OVERLAY_POINTS[k] for k in landmarks]])
        assert (cam["width"], cam["height"]) == (320, 240)  # a 320x240 video is not scaled
        assert np.abs(xy[:, landmarks] - truth).max() <= 0.5 + 1e-3


# --- proxies -------------------------------------------------------------------------------------

def test_proxy_is_a_webm_with_every_frame_downscaled(filmed, tmp_path):
    src = filmed.videos["cam0"]
    proxy = write_proxy(src, tmp_path / "p" / "cam0.webm", height=120)
    assert proxy.path.read_bytes()[:4] == b"\x1a\x45\xdf\xa3"  # EBML: a Matroska/WebM file
    assert proxy.size == (160, 120) and proxy.fps == pytest.approx(30.0)
    cap = cv2.VideoCapture(str(src))
    assert proxy.n_frames == int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    assert sorted(p.name for p in proxy.path.parent.iterdir()) == ["cam0.webm"]  # no temporary file left
    # Frame k of the proxy is frame k of the video: at the fastest motion it matches that frame, not a neighbour.
    frames = {}
    while True:  # the video decoded start to end, independently of read_frames
        ok, image = cap.read()
        if not ok:
            break
        frames[len(frames)] = image
    picked = read_frames(src, [0, 3, 50, 51, 52, 120, 7, len(frames) - 1, len(frames) + 5])
    assert sorted(picked) == [0, 3, 7, 50, 51, 52, 120, len(frames) - 1]  # a frame past the end is left out
    assert all(np.array_equal(picked[j], frames[j]) for j in picked)
    many = read_frames(src, range(1, len(frames), 7), workers=2)  # read by two decoders side by side
    assert sorted(many) == list(range(1, len(frames), 7)) and all(np.array_equal(many[j], frames[j]) for j in many)
    small = {j: cv2.resize(img, (160, 120), interpolation=cv2.INTER_AREA).astype(int) for j, img in frames.items()}
    motion = np.array([np.abs(small[j + 1] - small[j]).mean() for j in range(len(small) - 1)])
    k = int(np.argmax(np.minimum(motion[:-1], motion[1:]))) + 1
    shown = read_frames(proxy.path, [k])[k]
    diffs = {j: np.abs(small[j] - shown).mean() for j in (k - 2, k - 1, k, k + 1, k + 2)}
    assert min(diffs, key=diffs.get) == k, diffs
    with pytest.raises(VideoInputError, match="nope.mp4"):
        write_proxy(tmp_path / "nope.mp4", tmp_path / "x.webm")


# --- pictures ------------------------------------------------------------------------------------

def test_draw_skeleton_colours_the_violated_segment():
    xy = np.full((36, 2), np.nan)
    xy[INDEX["left_hip"]], xy[INDEX["left_knee"]] = (100, 40), (100, 160)
    xy[INDEX["right_hip"]], xy[INDEX["right_knee"]] = (200, 40), (200, 160)
    levels = np.zeros(len(ALL_EDGES), np.uint8)
    thigh = ALL_EDGES.index((INDEX["left_hip"], INDEX["left_knee"]))
    levels[thigh] = FAIL
    img = draw_skeleton(np.full((200, 300, 3), 255, np.uint8), xy, levels)
    red = _red(img)
    ys, xs = np.nonzero(red)
    assert red.sum() > 200 and abs(xs.mean() - 100) < 2 and ys.min() >= 35 and ys.max() <= 165
    assert red[100, 100] and not red[:, 150:].any()  # the right thigh is drawn, not red
    assert (img[100, 195:206] != 255).any()
    levels[thigh] = WARN
    img = draw_skeleton(np.full((200, 300, 3), 255, np.uint8), xy, levels)
    amber = (img[..., 2] > 200) & (img[..., 1] > 130) & (img[..., 1] < 190) & (img[..., 0] < 60)
    assert not _red(img).any() and amber[:, 90:111].sum() > 200


def test_athlete_box_holds_the_athlete_and_keeps_inside_the_image():
    xy = np.array([[300.0, 100.0], [340.0, 400.0], [np.nan, np.nan]])
    x0, y0, x1, y1 = athlete_box(xy, (640, 480))
    assert x0 <= 300 and x1 >= 340 and y0 <= 100 and y1 >= 400
    assert 0 <= x0 and 0 <= y0 and x1 <= 640 and y1 <= 480
    assert athlete_box(np.full((3, 2), np.nan), (640, 480)) == (0, 0, 640, 480)


def test_each_flagged_cell_gets_its_frame_with_the_segments_coloured(filmed, tmp_path):
    s = load_session(filmed.dir)
    footage, _ = gather_footage(s, tmp_path, videos=filmed.videos, calibration=filmed.calibration)
    pictures, keys = stills(s, footage)
    flagged = {(r["index"], c["id"]): c for r in s.reps["reps"] for c in r["cues"] if c["verdict"] in ("fail", "warn")}
    assert flagged and set(pictures) == set(flagged)
    for key, still in pictures.items():
        assert still.frame == min(flagged[key]["frames"]) and still.camera == "cam1"
        assert still.video_frame == still.frame  # cam1's clock is the timeline's
        img = _decode(still.uri)
        assert img.shape[1] == 480 and _red(img).sum() > 150
    # Rep 1 is clean: its key frames carry the skeleton (its side colours) but nothing red.
    assert set(keys) == {1, 2} and set(keys[1]) == {"start", "bottom"}
    for still in keys[1].values():
        img = _decode(still.uri)
        assert img.shape[1] == 200 and not _red(img).any()
        teal = (np.abs(img.astype(int) - (0x89, 0x9E, 0x1F)).sum(axis=2) < 90).sum()
        assert teal > 10  # the left side's segments


def test_report_names_why_it_has_no_video(filmed, tmp_path):
    page = build_report(filmed.dir, {}, out_dir=tmp_path / "a", figures=False).read_text()
    assert "No camera video in this report: the report was built without the camera videos." in page
    assert '"video":null' in page and not re.search(r'<video', page)
    page = build_report(filmed.dir, {}, out_dir=tmp_path / "b", figures=False, videos=filmed.videos).read_text()
    assert "no calibration was given" in page


def test_cli_report_takes_the_videos_and_calibration_from_the_config(filmed, tmp_path, monkeypatch):
    import yaml
    from typer.testing import CliRunner

    from pipeline.cli import app

    cfg = {"results": str(filmed.dir.parents[1]),
           "sessions": {"filmed": {"room": "room", "videos": str(filmed.videos["cam0"].parent), "athlete": "Film"}}}
    assert config_footage(cfg, "filmed")[0]["calibration"] == filmed.calibration
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "report"
    res = CliRunner().invoke(app, ["report", str(filmed.dir), "--config", str(path), "--no-figures", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "no video panel" not in res.output
    assert sorted(p.name for p in (out / "video").iterdir()) == ["cam0.webm", "cam1.webm"]
    assert '<video id="video"' in (out / "index.html").read_text()
    cfg["rooms"] = {}
    cfg["sessions"]["filmed"]["room"] = "elsewhere"
    path.write_text(yaml.safe_dump(cfg))
    res = CliRunner().invoke(app, ["report", str(filmed.dir), "--config", str(path), "--no-figures", "--out", str(tmp_path / "r2")])
    assert res.exit_code == 0, res.output
    assert "no video panel: the room's calibration" in res.output and "elsewhere" in res.output


def test_a_borderline_verdict_gets_its_picture_in_amber(filmed, tmp_path):
    s = load_session(filmed.dir)
    for rep in s.reps["reps"]:
        for cue in rep["cues"]:
            if cue["verdict"] == "fail":
                cue["verdict"] = "borderline"  # the planned name of a value within its uncertainty of the threshold
    footage, _ = gather_footage(s, tmp_path, videos=filmed.videos, calibration=filmed.calibration)
    pictures, _ = stills(s, footage)
    assert pictures
    for still in pictures.values():
        img = _decode(still.uri)
        amber = (img[..., 2] > 200) & (img[..., 1] > 130) & (img[..., 1] < 190) & (img[..., 0] < 70)
        assert amber.sum() > 150 and _red(img).sum() < 20


def test_a_damaged_pose2d_file_costs_its_camera_not_the_report(filmed, tmp_path):
    import shutil

    d = tmp_path / "session"
    shutil.copytree(filmed.dir, d, ignore=shutil.ignore_patterns("report"))
    (d / "pose2d" / "cam1.npz").write_bytes(b"not a numpy file")
    page = build_report(d, {}, figures=False, videos=filmed.videos, calibration=filmed.calibration).read_text()
    assert '<option value="cam0" selected>cam0 (most side-on)</option>' in page and 'value="cam1"' not in page
