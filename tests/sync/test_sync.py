"""Sync: timestamp resampling, offset estimation by landmark-speed cross-correlation, sync.json."""
from __future__ import annotations

import functools
import json

import numpy as np
import pytest

from pipeline.synthetic.rig import virtual_rig
from pipeline.synthetic.athlete import simulate
from pipeline.contracts import ContractError
from pipeline.contracts.sync import read_sync, write_sync
from pipeline.sync.offsets import estimate_offsets
from pipeline.sync.timeline import SyncError, common_timeline, reference_times, resample_to_timeline


SIM_FPS = 300.0  # the athlete is simulated 10x finer than the cameras film it


@functools.lru_cache(maxsize=2)
def _athlete(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    s = simulate("deadlift", 4, fps=SIM_FPS, seed=seed)
    return np.asarray(s.t, float), np.asarray(s.xyz, float)


def _body(times: np.ndarray, seed: int = 0) -> np.ndarray:
    """The synthetic athlete (T, 33, 3) at arbitrary times (linear between 1/300 s samples)."""
    t, xyz = _athlete(seed)
    hi = np.clip(np.searchsorted(t, times, side="right"), 1, t.size - 1)
    w = ((times - t[hi - 1]) / (t[hi] - t[hi - 1]))[:, None, None]
    return xyz[hi - 1] + w * (xyz[hi] - xyz[hi - 1])


def _session(offsets_frames: dict[int, float], fps: dict[int, float] | None = None, seconds: float = 15.0):
    """Per camera (xy, conf, own-clock t) of the athlete seen by a 4-camera rig.

    Camera c starts ``offsets_frames[c]`` 30-fps frames after camera 0 (which
    starts 0.5 s into the simulation), so its true offset is that many frames.
    """
    cams = virtual_rig(4)
    fps = fps or {}
    out = {}
    for i, cam in enumerate(cams):
        rate = fps.get(i, 30.0)
        start = 0.5 + offsets_frames.get(i, 0.0) / 30.0
        t_own = np.arange(int(seconds * rate)) / rate
        xy = cam.project(_body(t_own + start)).astype(np.float32)
        out[cam.name] = (xy, np.ones(xy.shape[:2], np.float32), t_own)
    return out


@pytest.mark.parametrize("frames", [3.0, 1.4, -2.6])
def test_offsets_whole_and_fractional_frames(frames):
    session = _session({1: frames, 2: 0.5, 3: -5.0})
    info = estimate_offsets({c: (xy, t) for c, (xy, _, t) in session.items()}, reference="cam0")
    assert info["cam0"]["offset_s"] == 0.0
    for cam, true in (("cam1", frames), ("cam2", 0.5), ("cam3", -5.0)):
        assert info[cam]["offset_s"] * 30 == pytest.approx(true, abs=0.4), cam
        assert info[cam]["confidence"] > 0.2


def test_offset_with_different_frame_rates():
    session = _session({1: 2.4}, fps={1: 60.0})
    info = estimate_offsets({c: (xy, t) for c, (xy, _, t) in session.items()})
    assert info["cam1"]["offset_s"] == pytest.approx(2.4 / 30, abs=0.004)


def test_unrelated_camera_has_low_confidence():
    session = _session({})
    xy, conf, t = session["cam3"]
    swing = simulate("kettlebell_swing", 8, fps=30.0, seed=3).xyz[: t.size]  # another recording entirely
    other = virtual_rig(4)[3].project(np.asarray(swing, float)).astype(np.float32)
    session["cam3"] = (other, conf, t)
    info = estimate_offsets({c: (xy, t) for c, (xy, _, t) in session.items()})
    assert info["cam3"]["confidence"] < 0.5 * min(info[c]["confidence"] for c in ("cam1", "cam2"))


def test_xcorr_sync_aligns_cameras():
    session = _session({1: 3.0, 2: 1.4})
    info = estimate_offsets({c: (xy, t) for c, (xy, _, t) in session.items()})
    shifted = {c: reference_times(t, info[c]) for c, (_, _, t) in session.items()}
    timeline = common_timeline(shifted)
    resampled = {c: resample_to_timeline(xy, conf, shifted[c], timeline, c) for c, (xy, conf, _) in session.items()}
    ref = resampled["cam0"][0]
    for cam in ("cam1", "cam2"):
        # Same instants: the resampled camera matches a direct projection at the reference times.
        truth = virtual_rig(4)[int(cam[-1])].project(_body(timeline + 0.5))  # cam0's clock starts 0.5 s in
        err = np.nanmedian(np.linalg.norm(resampled[cam][0] - truth, axis=-1))
        assert err < 1.0, cam
    # the timeline runs as long as two cameras film: past cam0's last frame, cam0 is a gap (NaN)
    filmed = (timeline >= shifted["cam0"][0]) & (timeline <= shifted["cam0"][-1])
    assert np.isfinite(ref[filmed]).all() and np.isnan(ref[~filmed]).all()
    assert timeline[-1] > shifted["cam0"][-1]
    assert timeline[0] >= 0 and np.allclose(np.diff(timeline), 1 / 30)


def test_timestamps_resampling_with_jitter_and_rates():
    rng = np.random.default_rng(0)
    cams = virtual_rig(2)
    t0 = np.arange(300) / 30 + rng.uniform(-0.003, 0.003, 300)  # jittery camera clock, 30 fps
    t1 = 0.21 + np.arange(600) / 60  # a 60 fps camera started later
    pose = {}
    for cam, t in zip(cams, (t0, t1)):
        xy = cam.project(_body(t)).astype(np.float32)
        pose[cam.name] = (xy, np.ones(xy.shape[:2], np.float32), t)
    timeline = common_timeline({c: p[2] for c, p in pose.items()})
    assert timeline[0] == pytest.approx(0.21) and np.allclose(np.diff(timeline), 1 / 30, rtol=1e-3)  # slowest rate
    assert timeline[-1] <= min(t0[-1], t1[-1])
    for cam in cams:
        xy, conf = resample_to_timeline(*pose[cam.name], timeline, cam.name)
        truth = cam.project(_body(timeline))
        assert np.max(np.linalg.norm(xy - truth, axis=-1)) < 1.0
        assert xy.dtype == np.float32 and conf.shape == xy.shape[:2]


def test_missing_frames_stay_missing_outside_span_nan():
    t = np.arange(10) / 10
    xy = np.arange(20, dtype=float).reshape(10, 1, 2)
    xy[4] = np.nan
    conf = np.ones((10, 1))
    timeline = np.array([-0.1, 0.0, 0.15, 0.35, 0.4, 0.45, 0.5, 0.9, 1.0])
    out, c = resample_to_timeline(xy, conf, t, timeline)
    assert np.isnan(out[0]).all() and np.isnan(out[-1]).all()  # outside the recording
    np.testing.assert_allclose(out[1, 0], [0, 1])
    np.testing.assert_allclose(out[2, 0], [3, 4])
    assert np.isnan(out[3:6]).all()  # next to the missing frame 4 (0.4 s)
    np.testing.assert_allclose(out[6, 0], [10, 11])  # exactly on frame 5
    np.testing.assert_allclose(out[7, 0], [18, 19])


def test_backward_timestamps_name_the_camera():
    t = np.arange(10) / 30
    t[6] = t[4]
    with pytest.raises(SyncError, match=r"camera cam7: timestamps go backward.*frame 6"):
        resample_to_timeline(np.zeros((10, 33, 2)), np.ones((10, 33)), t, np.arange(5) / 30, "cam7")
    with pytest.raises(SyncError, match="camera b"):
        common_timeline({"a": np.arange(5.0), "b": np.array([0.0, 1.0, 0.5])})
    with pytest.raises(SyncError, match="do not overlap"):
        common_timeline({"a": np.arange(5.0), "b": np.arange(5.0) + 10})
    with pytest.raises(SyncError, match="reference camera c: no landmarks"):
        estimate_offsets({"a": (np.zeros((10, 2, 2)), np.arange(10.0)), "c": (np.full((10, 2, 2), np.nan), np.arange(10.0))},
                         reference="c")
    with pytest.raises(SyncError, match=r"camera b: landmarks must be \(frames=10"):
        estimate_offsets({"b": (np.zeros((9, 2, 2)), np.arange(10.0))})


def test_camera_without_detections_does_not_stop_the_others():
    session = _session({1: 3.0})
    xy, conf, t = session["cam2"]
    session["cam2"] = (np.full_like(xy, np.nan), np.zeros_like(conf), t)
    info = estimate_offsets({c: (xy, t) for c, (xy, _, t) in session.items()})
    assert info["cam2"]["confidence"] == 0.0 and "no landmarks" in info["cam2"]["note"]
    assert info["cam1"]["offset_s"] * 30 == pytest.approx(3.0, abs=0.4)


def test_write_and_read_sync_json(tmp_path):
    path = tmp_path / "s" / "sync.json"
    write_sync(path, method="xcorr", timeline=np.arange(4) / 30,
               cameras={"cam0": {"offset_s": 0.0, "drift": 0.0, "confidence": 1.0},
                        "cam1": {"offset_s": np.float64(0.1), "drift": 0.0, "confidence": 0.8}})
    data = json.loads(path.read_text())
    assert data["method"] == "xcorr" and data["fps"] == pytest.approx(30.0) and len(data["t"]) == 4
    assert data["cameras"]["cam1"] == {"offset_s": 0.1, "drift": 0.0, "confidence": 0.8}
    back = read_sync(path)
    assert back.method == "xcorr" and back.cameras["cam1"]["offset_s"] == 0.1 and back.t.shape == (4,)
    with pytest.raises(ContractError, match="method"):
        write_sync(path, method="magic", timeline=np.arange(3.0), cameras={})
