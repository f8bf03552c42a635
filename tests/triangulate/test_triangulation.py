"""Batched triangulation: undistortion vs OpenCV, accuracy with noise/missing/outliers, xp-genericity, errors."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from calibration.camera import Camera
from pipeline.synthetic.rig import virtual_rig
from pipeline.common import xp as arrays
from pipeline.common.xp import CUPY_COMPATIBLE, gpu_available, select_device
from pipeline.synthetic.views import observe, random_points
from pipeline.triangulate.core import Triangulation, TriangulationInputError, reproject, triangulate, triangulate_flat
from pipeline.triangulate.camera_arrays import CameraParams, undistort


@pytest.fixture(scope="module")
def rig():
    return virtual_rig(4)


@pytest.fixture(scope="module")
def scene(rig):
    """20k points in a 2 m box, 2 px noise, 5 % missing, 2 % gross outliers of 200 px."""
    views = observe(random_points(20_000, seed=1), rig, seed=2)
    return views, triangulate(views.points2d, views.conf, rig, xp=np)


def _corner_heavy_pixels(cam: Camera, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w, h = cam.size
    return np.stack([rng.uniform(-0.1 * w, 1.1 * w, n), rng.uniform(-0.1 * h, 1.1 * h, n)], -1)


@pytest.mark.parametrize("iterations", [5, 20])
def test_undistort_matches_opencv(rig, iterations):
    for i, cam in enumerate(rig):
        cam = cam.copy()
        cam.dist[4] = 0.02 * (i % 2)  # and some with k3
        px = _corner_heavy_pixels(cam, 2000, i)
        if iterations == 5:  # cv2.undistortPoints' own fixed 5 iterations
            ref = cv2.undistortPoints(px.reshape(-1, 1, 2), cam.K, cam.dist).reshape(-1, 2)
        else:
            crit = (cv2.TERM_CRITERIA_COUNT, iterations, 0)
            ref = cv2.undistortPointsIter(px.reshape(-1, 1, 2), cam.K, cam.dist, None, None, crit).reshape(-1, 2)
        params = CameraParams.from_cameras([cam], np)
        x, y = undistort(px[None, :, 0], px[None, :, 1], params, np, iterations)
        np.testing.assert_allclose(np.stack([x[0], y[0]], -1), ref, atol=1e-9)


def test_undistort_inverts_projection(rig):
    """Enough iterations recover the exact ideal coordinates: project -> undistort round trip < 1e-3 px."""
    X = random_points(3000, seed=3)
    params = CameraParams.from_cameras(rig, np)
    px = np.stack([c.project(X) for c in rig])
    x, y = undistort(px[..., 0], px[..., 1], params, np, 20)
    back = reproject(X, rig)
    np.testing.assert_allclose(back, px, atol=1e-6)  # reproject == cv2.projectPoints
    R = np.stack([c.R for c in rig]); t = np.stack([c.tvec for c in rig])
    cam_pts = np.einsum("cij,nj->cni", R, X) + t[:, None]
    ideal = cam_pts[..., :2] / cam_pts[..., 2:]
    f = params.fx[:, :, None]
    assert np.max(np.abs(np.stack([x, y], -1) - ideal) * f) < 1e-3


def test_exact_without_noise(rig):
    X = random_points(500, seed=4)
    pts = np.stack([c.project(X) for c in rig])
    res = triangulate(pts, np.ones(pts.shape[:2]), rig, xp=np)
    np.testing.assert_allclose(res.xyz, X, atol=1e-9)
    assert np.all(res.ncams == 4) and np.all(res.err < 1e-6) and res.used.all()


def test_targets_median_and_outliers(scene):
    views, res = scene
    err_mm = np.linalg.norm(res.xyz - views.xyz, axis=-1) * 1000
    assert np.nanmedian(err_mm) < 10.0
    hit = views.hit
    # Points that had an outlier view but kept a majority of >= 3 good views: never pulled off by it.
    recoverable = hit & (views.good_views >= 3)
    assert recoverable.sum() > 500
    assert np.nanmax(err_mm[recoverable]) < 50.0
    assert np.isfinite(err_mm[recoverable]).all()
    # All points with an outlier view (including 2-good-view cases that are ambiguous in principle):
    assert np.mean(err_mm[hit] > 50.0) < 0.01
    assert np.nanmedian(err_mm[hit]) < 12.0
    # The outlier views are the ones dropped.
    dropped = views.outlier & ~res.used
    assert dropped.sum() / views.outlier.sum() > 0.97
    # Output contract.
    assert res.xyz.shape == (20_000, 3) and res.err.shape == (20_000,) and res.ncams.dtype == np.int32
    assert res.err_per_cam.shape == res.used.shape == (4, 20_000)
    assert np.isnan(res.err_per_cam[views.missing]).all()
    assert np.all(res.ncams == res.used.sum(0))


def test_plain_path_is_pulled_by_outliers(rig, scene):
    views, robust = scene
    plain = triangulate(views.points2d, views.conf, rig, robust=False, xp=np)
    err_plain = np.linalg.norm(plain.xyz - views.xyz, axis=-1) * 1000
    err_rob = np.linalg.norm(robust.xyz - views.xyz, axis=-1) * 1000
    clean = ~views.hit & (views.good_views >= 3)
    # Same answer where nothing is wrong; far worse where an outlier is in.
    np.testing.assert_allclose(plain.xyz[clean], robust.xyz[clean], atol=1e-9)
    assert np.nanmedian(err_plain[views.hit]) > 10 * np.nanmedian(err_rob[views.hit])
    assert np.all(plain.used == (~views.missing & (plain.ncams > 0)[None]))


def test_batch_shape_and_too_few_cameras(rig):
    """(C, T, 33, 2) in -> (T, 33, 3) out; a landmark seen by one camera only is NaN."""
    X = random_points(5 * 33, seed=5).reshape(5, 33, 3)
    pts = np.stack([c.project(X) for c in rig])
    conf = np.ones(pts.shape[:-1])
    pts[1:, 0, 0] = np.nan  # frame 0 nose: only camera 0
    conf[:, 1, 2] = 0.0  # frame 1 left eye inner: confidence 0 everywhere
    res = triangulate(pts, conf, rig, xp=np)
    assert res.xyz.shape == (5, 33, 3) and res.err.shape == (5, 33) and res.used.shape == (4, 5, 33)
    assert np.isnan(res.xyz[0, 0]).all() and res.ncams[0, 0] == 0
    assert np.isnan(res.xyz[1, 2]).all() and res.ncams[1, 2] == 0
    ok = np.isfinite(res.xyz[..., 0])
    np.testing.assert_allclose(res.xyz[ok], X[ok], atol=1e-8)


def test_confidence_weights(rig):
    """A camera with confidence ~0 barely moves the point; the same camera at full confidence does."""
    X = random_points(200, seed=6)
    pts = np.stack([c.project(X) for c in rig])
    pts[0] += 8.0  # a biased camera, under the outlier threshold
    conf = np.ones(pts.shape[:2])
    full = triangulate(pts, conf, rig, robust=False, xp=np)
    conf[0] = 1e-3
    low = triangulate(pts, conf, rig, robust=False, xp=np)
    e_full = np.linalg.norm(full.xyz - X, axis=-1).mean()
    e_low = np.linalg.norm(low.xyz - X, axis=-1).mean()
    assert e_low < 0.01 * e_full


def test_nearly_parallel_rays_are_nan(rig):
    """Two cameras facing each other see the point on almost one line: depth is not determined."""
    from calibration.camera import look_at
    K = np.array([[600.0, 0, 320], [0, 600, 240], [0, 0, 1]])
    a = Camera("a", (640, 480), K, np.zeros(5), *look_at(np.array([3.0, 0, 1]), np.array([0.0, 0, 1])))
    b = Camera("b", (640, 480), K, np.zeros(5), *look_at(np.array([-3.0, 0.2, 1]), np.array([0.0, 0, 1])))
    c = Camera("c", (640, 480), K, np.zeros(5), *look_at(np.array([0.2, 3.0, 1]), np.array([0.0, 0, 1])))
    X = np.array([[0.0, 0.0, 1.0]])
    pts = np.stack([cam.project(X) for cam in (a, b, c)])
    conf = np.ones(pts.shape[:2])
    assert np.isnan(triangulate(pts[:2], conf[:2], [a, b], xp=np).xyz).all()
    assert np.isfinite(triangulate(pts[:2], conf[:2], [a, b], xp=np, min_ray_angle_deg=0).xyz).all()
    assert np.isfinite(triangulate(pts[[0, 2]], conf[[0, 2]], [a, c], xp=np).xyz).all()


def test_chunking_does_not_change_results(rig, scene):
    views, res = scene
    small = triangulate(views.points2d[:, :3000], views.conf[:, :3000], rig, xp=np, chunk=777)
    np.testing.assert_allclose(small.xyz, res.xyz[:3000], atol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(small.used, res.used[:, :3000])


def test_bad_inputs_name_the_problem(rig):
    pts = np.zeros((4, 10, 2)); conf = np.ones((4, 10))
    with pytest.raises(TriangulationInputError, match="3 cameras were given"):
        triangulate(pts, conf, rig[:3])
    with pytest.raises(TriangulationInputError, match=r"\(cameras, \.\.\., 2\)"):
        triangulate(np.zeros((4, 10, 3)), conf, rig)
    with pytest.raises(TriangulationInputError, match="conf must have shape"):
        triangulate(pts, np.ones((4, 11)), rig)
    with pytest.raises(TriangulationInputError, match="min_cams"):
        triangulate(pts, conf, rig, min_cams=1)
    with pytest.raises(TriangulationInputError, match="outlier_px"):
        triangulate(pts, conf, rig, outlier_px=-1)
    with pytest.raises(ValueError, match="device must be one of"):
        select_device("tpu")
    with pytest.raises(TriangulationInputError, match=r"\(\.\.\., 3\)"):
        reproject(np.zeros((5, 2)), rig)


def test_device_selection_without_gpu(monkeypatch):
    monkeypatch.setattr(arrays, "gpu_available", lambda: False)
    assert select_device("auto") is np and select_device("cpu") is np
    with pytest.raises(arrays.DeviceError, match="no CUDA device"):
        select_device("gpu")
    assert arrays.get_array_module(np.zeros(3)) is np
    assert isinstance(arrays.to_numpy([1, 2]), np.ndarray)


class _RecordingXp:
    """numpy behind a gate: records every attribute the core asks its array module for."""

    def __init__(self):
        self.used: set[str] = set()

    def __getattr__(self, name):
        self.used.add(name)
        return getattr(np, name)


def test_core_uses_only_cupy_compatible_calls(rig, scene):
    """The core runs with the array module passed in and only calls what cupy provides alike.

    Without a GPU this is how the cupy path is exercised: the same source, a
    module object that is not numpy, and an audit of the names used.
    """
    views, ref = scene
    xp = _RecordingXp()
    params = CameraParams.from_cameras(rig, np)
    sl = slice(0, 4000)
    u, v = views.points2d[:, sl, 0].astype(float), views.points2d[:, sl, 1].astype(float)
    thresh = np.full((4, 1), 0.02 * np.hypot(640, 480))
    res = triangulate_flat(u, v, views.conf[:, sl].astype(float), params, xp, thresh=thresh, min_ray_angle_deg=20.0)
    assert isinstance(res, Triangulation)
    np.testing.assert_allclose(res.xyz.T, ref.xyz[sl], atol=1e-9, equal_nan=True)
    assert xp.used, "the core did not go through the array module it was given"
    assert xp.used <= CUPY_COMPATIBLE, f"not known to be cupy-compatible: {sorted(xp.used - CUPY_COMPATIBLE)}"


@pytest.mark.skipif(not gpu_available(), reason="no CUDA device: cupy path not tested")
def test_cupy_matches_numpy(rig, scene):
    import cupy as cp

    views, ref = scene
    res = triangulate(cp.asarray(views.points2d), cp.asarray(views.conf), rig, xp=cp)
    assert isinstance(res.xyz, np.ndarray)
    same = (res.used == ref.used).all(axis=0)
    assert same.mean() > 0.999  # a rounding difference may flip a near-tie in the consensus, rarely
    np.testing.assert_allclose(res.xyz[same], ref.xyz[same], atol=1e-7, equal_nan=True)
    np.testing.assert_allclose(res.err[same], ref.err[same], atol=1e-6, equal_nan=True)
    on_gpu = triangulate(cp.asarray(views.points2d), cp.asarray(views.conf), rig, keep_on_device=True)
    assert isinstance(on_gpu.xyz, cp.ndarray)
