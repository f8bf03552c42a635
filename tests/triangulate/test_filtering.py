"""Gap filling, zero-phase low-pass per valid segment, bone-length report."""
from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.triangulate.filtering import FilterInputError, fill_gaps, filter_pose3d
from pipeline.common.landmarks import INDEX

FPS = 60.0


def _motion(T: int, L: int = 33, seed: int = 0):
    """Smooth known trajectories (sum of low-frequency sinusoids) for every landmark, metres."""
    rng = np.random.default_rng(seed)
    t = np.arange(T) / FPS
    f = rng.uniform(0.2, 1.5, (3, L, 3))
    ph = rng.uniform(0, 2 * np.pi, (3, L, 3))
    a = rng.uniform(0.05, 0.2, (3, L, 3))
    xyz = (a * np.sin(2 * np.pi * f * t[:, None, None, None] + ph)).sum(1)  # (T, L, 3)
    return t, xyz


@pytest.mark.parametrize("method,tol_mm", [("linear", 40.0), ("cubic", 8.0)])
def test_short_gaps_filled_accurately_long_gaps_stay(method, tol_mm):
    t, truth = _motion(600)
    xyz = truth.copy()
    xyz[100:106, :5] = np.nan  # 6 frames = 0.1 s: short
    xyz[300:360, 5:10] = np.nan  # 1 s: long
    xyz[:4, 10] = np.nan  # leading gap: never extrapolated
    out = fill_gaps(xyz, t, max_gap_s=0.15, method=method)
    err = np.abs(out[100:106, :5] - truth[100:106, :5]).max() * 1000
    assert err < tol_mm
    assert np.isnan(out[300:360, 5:10]).all()
    assert np.isnan(out[:4, 10]).all()
    np.testing.assert_array_equal(out[~np.isnan(xyz)], xyz[~np.isnan(xyz)])


def test_gap_just_over_the_limit_stays_missing():
    t, truth = _motion(200)
    xyz = truth.copy()
    xyz[50:60, 0] = np.nan  # 10 frames = 0.1667 s
    assert np.isnan(fill_gaps(xyz, t, max_gap_s=0.15)[50:60, 0]).all()
    assert np.isfinite(fill_gaps(xyz, t, max_gap_s=0.17)[50:60, 0]).all()


def test_lowpass_reduces_noise_without_lag_and_keeps_long_gaps():
    t, truth = _motion(1200, seed=1)
    rng = np.random.default_rng(2)
    noisy = truth + rng.normal(0, 0.01, truth.shape)
    noisy[500:600, 3] = np.nan  # long gap inside one landmark's data
    out, report = filter_pose3d(noisy, t, max_gap_s=0.1, cutoff_hz=6.0)
    assert out.dtype == np.float32 and out.shape == truth.shape
    assert np.isnan(out[500:600, 3]).all()
    ok = np.isfinite(out)
    rms_in = np.sqrt(np.nanmean((noisy - truth)[ok] ** 2))
    rms_out = np.sqrt(np.mean((out - truth)[ok] ** 2))
    assert rms_out < 0.5 * rms_in  # white noise keeps ~sqrt(6 / 30) of its power below 6 Hz
    # Zero phase: the filtered signal is best aligned with the truth at lag 0.
    x, y = truth[200:1000, 0, 0], out[200:1000, 0, 0].astype(float)
    lags = range(-5, 6)
    errs = [np.mean((np.roll(y, k) - x)[10:-10] ** 2) for k in lags]
    assert list(lags)[int(np.argmin(errs))] == 0
    assert report["missing_after"] == 100 and report["filled"] == 0
    json.dumps(report)  # serialisable for pose3d.npz's bone_cv / logs


def test_zero_phase_on_sinusoid():
    t = np.arange(600) / FPS
    xyz = np.zeros((600, 1, 3))
    xyz[:, 0, 0] = np.sin(2 * np.pi * 1.0 * t)
    out, _ = filter_pose3d(xyz, t, max_gap_s=0.1, cutoff_hz=8.0)
    # A causal Butterworth would delay a 1 Hz sine by tens of ms; filtfilt by none.
    mid = slice(100, 500)
    np.testing.assert_allclose(out[mid, 0, 0], xyz[mid, 0, 0], atol=2e-3)


def test_short_segments_left_unfiltered_and_counted():
    t, truth = _motion(300)
    xyz = truth.copy()
    xyz[:, 0] += np.random.default_rng(0).normal(0, 0.01, (300, 3))
    xyz[100:150, 0] = xyz[160:300, 0] = np.nan
    xyz[:50, 0] = np.nan  # landmark 0 keeps frames 50..99 (50) and 150..159 (10)
    out, report = filter_pose3d(xyz, t, max_gap_s=0.0, cutoff_hz=6.0)
    assert report["segments_too_short_to_filter"] == 1
    np.testing.assert_allclose(out[150:160, 0], xyz[150:160, 0], rtol=1e-6)  # untouched
    assert not np.allclose(out[50:100, 0], xyz[50:100, 0])  # filtered


def test_bone_length_report():
    t, xyz = _motion(300)
    xyz = xyz * 0
    rng = np.random.default_rng(3)
    xyz[:, INDEX["left_knee"], 2] = 0.45 + rng.normal(0, 0.01, 300)  # thigh 0.45 m +- 1 cm
    xyz[:, INDEX["left_hip"], 2] = 0.9
    xyz[:, INDEX["right_knee"], 2] = 0.45
    xyz[:, INDEX["right_hip"], 2] = 0.9
    _, report = filter_pose3d(xyz, t, max_gap_s=0.1, cutoff_hz=None)
    thigh_l = report["bones"]["thigh_l"]
    assert abs(thigh_l["mean_m"] - 0.45) < 0.003 and 0.015 < thigh_l["cv"] < 0.03
    assert report["bones"]["thigh_r"]["cv"] < 1e-9
    assert set(report["bones"]) == {"thigh_l", "thigh_r", "shank_l", "shank_r"}
    xyz[:, INDEX["left_ankle"]] = np.nan  # never seen: reported as unknown, in valid JSON
    _, report = filter_pose3d(xyz, t, max_gap_s=0.1, cutoff_hz=6.0)
    assert report["bones"]["shank_l"] == {"mean_m": None, "std_m": None, "cv": None, "frames": 0}
    json.loads(json.dumps(report, allow_nan=False))


def test_bad_filter_input():
    t, xyz = _motion(100)
    with pytest.raises(FilterInputError, match="Nyquist"):
        filter_pose3d(xyz, t, max_gap_s=0.1, cutoff_hz=40.0)
    with pytest.raises(FilterInputError, match=r"\(frames, landmarks, 3\)"):
        filter_pose3d(xyz[..., :2], t, max_gap_s=0.1, cutoff_hz=6.0)
    with pytest.raises(FilterInputError, match="increase"):
        filter_pose3d(xyz, t[::-1], max_gap_s=0.1, cutoff_hz=6.0)
    with pytest.raises(FilterInputError, match="linear' or 'cubic"):
        fill_gaps(xyz, t, max_gap_s=0.1, method="spline")
