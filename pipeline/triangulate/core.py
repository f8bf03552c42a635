"""Batched, confidence-weighted, outlier-robust triangulation (numpy or cupy).

All frames x landmarks are flattened to N points and solved at once (in
chunks that bound memory); Python loops run only over cameras, camera pairs
and fixed iteration counts.

The linear solve: in ideal normalised coordinates camera c contributes two
rows r = x p3 - p1, y p3 - p2 of [R|t]; the point minimises
sum_c w_c |r . (X, 1)|^2, a 3x3 symmetric system solved in closed form
(adjugate), elementwise over all points. The residual r . (X, 1) equals
depth_c * (normalised reprojection error), so weighting by conf * f_c^2 / depth_c^2
(depth from a first solve) makes it the confidence-weighted pixel error: one
reweighting turns the algebraic DLT into a near-geometric triangulation.

Outlier rejection: points whose cameras all reproject within ``outlier_px``
are done. The rest (a few percent) are re-triangulated from every camera pair;
the pair whose solution agrees with the most cameras (then with the smallest
error) wins, the point is re-solved from the cameras that agree with it, and
cameras still beyond the threshold are dropped once more. This finds the good
cameras even when two of four are wrong, which dropping the worst camera of
an all-camera solve does not.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Sequence

import numpy as np

from calibration.camera import Camera

from pipeline.common.xp import get_array_module, to_numpy
from pipeline.triangulate.camera_arrays import DEFAULT_ITERATIONS, CameraParams, project, undistort

OUTLIER_FRACTION_OF_DIAGONAL = 0.02  # default outlier threshold: 2 % of the image diagonal (16 px at 640x480)
CHUNK = {"numpy": 1 << 14, "cupy": 1 << 23}  # cache-sized chunks on the CPU, large ones on the GPU


class TriangulationInputError(ValueError):
    """Arrays given to the triangulation do not match each other or the cameras."""


@dataclass
class Triangulation:
    xyz: Any  # (..., 3) metres, world frame; NaN where fewer than min_cams good cameras
    err: Any  # (...,) mean reprojection error in pixels over the cameras used
    ncams: Any  # (...,) number of cameras used
    err_per_cam: Any  # (C, ...) reprojection error of every camera that saw the point (NaN elsewhere)
    used: Any  # (C, ...) cameras used for the point


def triangulate(
    points2d: Any,
    conf: Any,
    cameras: Sequence[Camera],
    *,
    robust: bool = True,
    min_cams: int = 2,
    xp: ModuleType | None = None,
    outlier_px: float | Sequence[float] | None = None,
    min_ray_angle_deg: float = 20.0,
    undistort_iterations: int = DEFAULT_ITERATIONS,
    chunk: int | None = None,
    keep_on_device: bool = False,
) -> Triangulation:
    """Triangulate (C, ..., 2) distorted pixel coordinates seen by ``cameras``.

    ``conf`` (C, ...) weighs each observation (0 or NaN = not seen, as is a NaN
    coordinate). ``outlier_px`` is the reprojection error beyond which a camera
    is an outlier for a point (one value or one per camera; default 2 % of each
    image's diagonal). Points whose rays are nearly parallel -- the cameras
    used meet at less than ``min_ray_angle_deg`` (or more than 180 minus it),
    so depth is barely determined -- are NaN too (0 disables).
    ``robust=False`` gives the plain weighted solve from all cameras.
    ``xp``: the array module to compute with (numpy or cupy; a stage picks it
    once with ``pipeline.common.xp.select_device``); default: the module of
    ``points2d``. Results are numpy arrays unless ``keep_on_device``.
    ``err_per_cam`` is reported for every camera that saw the point, used or not.
    """
    cams = list(cameras)
    pts_shape, conf_shape = _check_inputs(points2d, conf, cams, min_cams)
    xp = xp or get_array_module(points2d)
    C = len(cams)
    batch_shape = conf_shape[1:]
    n = int(np.prod(batch_shape, dtype=np.int64))
    params = CameraParams.from_cameras(cams, xp)
    thresh = xp.asarray(outlier_thresholds(cams, outlier_px).reshape(-1, 1))

    move = to_numpy if xp is np else xp.asarray
    pts = move(points2d).reshape(C, n, 2)
    w_all = move(conf).reshape(C, n)
    out_X = xp.empty((3, n), dtype=xp.float64)
    out_err = xp.empty(n, dtype=xp.float64)
    out_ncams = xp.empty(n, dtype=xp.int32)
    out_ecam = xp.empty((C, n), dtype=xp.float64)
    out_used = xp.empty((C, n), dtype=bool)
    step = chunk or CHUNK.get(xp.__name__, 1 << 16)
    for start in range(0, n, step):  # bounded memory: a few chunk-sized arrays per camera
        sl = slice(start, min(n, start + step))
        u = xp.asarray(pts[:, sl, 0], dtype=xp.float64)
        v = xp.asarray(pts[:, sl, 1], dtype=xp.float64)
        w = xp.asarray(w_all[:, sl], dtype=xp.float64)
        res = triangulate_flat(u, v, w, params, xp, robust=robust, min_cams=min_cams, thresh=thresh,
                               undistort_iterations=undistort_iterations, min_ray_angle_deg=min_ray_angle_deg)
        out_X[:, sl], out_err[sl], out_ncams[sl] = res.xyz, res.err, res.ncams
        out_ecam[:, sl], out_used[:, sl] = res.err_per_cam, res.used

    conv = (lambda a: a) if keep_on_device else to_numpy
    return Triangulation(
        xyz=conv(out_X.T.reshape(batch_shape + (3,))),
        err=conv(out_err.reshape(batch_shape)),
        ncams=conv(out_ncams.reshape(batch_shape)),
        err_per_cam=conv(out_ecam.reshape((C,) + batch_shape)),
        used=conv(out_used.reshape((C,) + batch_shape)),
    )


def reproject(xyz: Any, cameras: Sequence[Camera]) -> Any:
    """Project world points (..., 3) into every camera: distorted pixels (C, ..., 2), NaN behind a camera."""
    xp = get_array_module(xyz)
    xyz = xp.asarray(xyz, dtype=xp.float64)
    if xyz.shape[-1:] != (3,):
        raise TriangulationInputError(f"reproject needs points of shape (..., 3), got {tuple(xyz.shape)}")
    params = CameraParams.from_cameras(list(cameras), xp)
    flat = xyz.reshape(-1, 3).T
    u, v, _ = project(flat, params, xp)
    return xp.stack([u, v], axis=-1).reshape((params.n,) + xyz.shape[:-1] + (2,))


# ----------------------------------------------------------------------------- core


def triangulate_flat(
    u: Any, v: Any, w: Any, cam: CameraParams, xp: ModuleType, *, robust: bool = True, min_cams: int = 2,
    thresh: Any = None, undistort_iterations: int = DEFAULT_ITERATIONS, min_ray_angle_deg: float = 0.0,
) -> Triangulation:
    """The core on flat arrays: pixels ``u``, ``v`` and weights ``w`` of shape (C, N), on module ``xp``.

    Returns a Triangulation whose xyz is (3, N) (coordinates first, for
    elementwise work) and the others (N,) / (C, N).
    """
    valid = xp.isfinite(u) & xp.isfinite(v) & xp.isfinite(w) & (w > 0)
    w0 = xp.where(valid, w, 0.0) * ((cam.fx + cam.fy) / 2) ** 2  # confidence x pixels per normalised unit, squared
    xn, yn = undistort(xp.where(valid, u, cam.cx), xp.where(valid, v, cam.cy), cam, xp, undistort_iterations)
    terms = _normal_terms(xn, yn, cam, xp)
    if thresh is None:
        thresh = xp.full((cam.n, 1), xp.inf)
    nvalid = xp.sum(valid, axis=0)
    min_ratio = float(np.sin(np.radians(min_ray_angle_deg) / 2) ** 2)

    X, err_cam, sums = _solve_refined(terms, w0, u, v, valid, cam, xp)
    used = valid
    if robust:
        bad = valid & ~(err_cam <= thresh)  # NaN/inf error (behind a camera) counts as bad
        suspect = xp.nonzero(xp.any(bad, axis=0) & (nvalid >= min_cams))[0]
        if suspect.size:
            X_s, e_s, used_s, s_s = _consensus(
                terms[:, :, suspect], w0[:, suspect], u[:, suspect], v[:, suspect], valid[:, suspect],
                cam, xp, thresh, min_cams, min_ratio,
            )
            X[:, suspect], err_cam[:, suspect], sums[:, suspect] = X_s, e_s, s_s
            used = used.copy()
            used[:, suspect] = used_s
    ncams = xp.sum(used, axis=0).astype(xp.int32)
    ok = ncams >= min_cams
    if min_ratio > 0:
        ok = ok & (_weakest_axis_ratio(sums, xp) >= min_ratio)
    X = xp.where(ok, X, xp.nan)
    used = used & ok
    err_used = xp.where(used, err_cam, 0.0)
    err = xp.where(ok, xp.sum(err_used, axis=0) / xp.maximum(ncams, 1), xp.nan)
    return Triangulation(xyz=X, err=err, ncams=xp.where(ok, ncams, 0), err_per_cam=err_cam, used=used)


def _normal_terms(xn: Any, yn: Any, cam: CameraParams, xp: ModuleType) -> Any:
    """Per-camera contributions to the normal equations, (9, C, N): 6 of the 3x3 matrix, 3 of the right side."""
    R, t = cam.R, cam.t
    a1 = [xn * R[:, 2, k:k + 1] - R[:, 0, k:k + 1] for k in range(3)]
    a2 = [yn * R[:, 2, k:k + 1] - R[:, 1, k:k + 1] for k in range(3)]
    b1 = xn * t[:, 2:3] - t[:, 0:1]
    b2 = yn * t[:, 2:3] - t[:, 1:2]
    out = xp.empty((9,) + xn.shape, dtype=xn.dtype)
    for i, (j, k) in enumerate(((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))):
        out[i] = a1[j] * a1[k] + a2[j] * a2[k]
    for k in range(3):
        out[6 + k] = a1[k] * b1 + a2[k] * b2
    return out


def _solve(terms: Any, weights: Any, xp: ModuleType) -> tuple[Any, Any]:
    """Weighted sum over cameras (9, N) and its closed-form 3x3 solve (3, N), NaN where singular."""
    s = xp.einsum("kcn,cn->kn", terms, weights)  # (9, N); einsum avoids a (9, C, N) temporary
    m00, m01, m02, m11, m12, m22, g0, g1, g2 = s
    c00 = m11 * m22 - m12 * m12
    c01 = m02 * m12 - m01 * m22
    c02 = m01 * m12 - m02 * m11
    c11 = m00 * m22 - m02 * m02
    c12 = m01 * m02 - m00 * m12
    c22 = m00 * m11 - m01 * m01
    det = m00 * c00 + m01 * c01 + m02 * c02
    scale = (m00 + m11 + m22) ** 3
    # Relative determinant below 1e-12: the rays are (nearly) parallel or fewer than 2 cameras.
    inv = xp.where(det > 1e-12 * scale, -1.0 / xp.where(det > 0, det, 1.0), xp.nan)
    return s, xp.stack([
        (c00 * g0 + c01 * g1 + c02 * g2) * inv,
        (c01 * g0 + c11 * g1 + c12 * g2) * inv,
        (c02 * g0 + c12 * g1 + c22 * g2) * inv,
    ])


def _weakest_axis_ratio(s: Any, xp: ModuleType) -> Any:
    """Smallest over largest eigenvalue of each 3x3 normal matrix (closed form, Smith 1961).

    For two rays meeting at angle a this is min(sin, cos)^2(a / 2): near zero
    when the rays are almost parallel (or opposite), i.e. depth along them is
    barely determined.
    """
    m00, m01, m02, m11, m12, m22 = s[:6]
    q = (m00 + m11 + m22) / 3
    d0, d1, d2 = m00 - q, m11 - q, m22 - q
    p = xp.sqrt((d0 * d0 + d1 * d1 + d2 * d2 + 2 * (m01 * m01 + m02 * m02 + m12 * m12)) / 6)
    det_b = d0 * (d1 * d2 - m12 * m12) - m01 * (m01 * d2 - m12 * m02) + m02 * (m01 * m12 - d1 * m02)
    r = xp.clip(det_b / (2 * xp.where(p > 0, p, 1.0) ** 3), -1.0, 1.0)
    phi = xp.arccos(r) / 3
    big = q + 2 * p * xp.cos(phi)
    small = q + 2 * p * xp.cos(phi + 2 * np.pi / 3)
    return xp.where(big > 0, small / xp.where(big > 0, big, 1.0), 0.0)


def _reproj_err(X: Any, u: Any, v: Any, valid: Any, cam: CameraParams, xp: ModuleType) -> tuple[Any, Any]:
    """Pixel reprojection error (C, N) through the full distortion model (inf behind a camera) and depth."""
    pu, pv, depth = project(X, cam, xp)
    e = xp.sqrt((pu - u) ** 2 + (pv - v) ** 2)
    e = xp.where(xp.isfinite(e) | ~xp.isfinite(X[0])[None], e, xp.inf)
    return xp.where(valid, e, xp.nan), depth


def _solve_refined(terms: Any, w0: Any, u: Any, v: Any, valid: Any, cam: CameraParams,
                   xp: ModuleType) -> tuple[Any, Any, Any]:
    """Solve, reweight each camera by 1 / depth^2 (pixel-error weighting), solve again.

    Returns xyz (3, N), pixel errors (C, N) and the normal-equation sums (9, N).
    """
    _, X = _solve(terms, w0, xp)
    _, _, depth = project(X, cam, xp)
    w = w0 / xp.where(depth > 1e-6, depth * depth, xp.inf)  # a camera the point is behind gets no say
    s, X2 = _solve(terms, w, xp)
    X = xp.where(xp.isfinite(X2[0]), X2, X)
    err, _ = _reproj_err(X, u, v, valid, cam, xp)
    return X, err, s


def _consensus(terms: Any, w0: Any, u: Any, v: Any, valid: Any, cam: CameraParams, xp: ModuleType,
               thresh: Any, min_cams: int, min_ratio: float) -> tuple[Any, Any, Any, Any]:
    """Pair-seeded consensus for suspect points: xyz (3, M), errors (C, M), used (C, M), sums (9, M)."""
    C, M = valid.shape
    best_n = xp.full(M, -1, dtype=xp.int64)
    best_cost = xp.full(M, xp.inf)
    best_inl = xp.zeros((C, M), dtype=bool)
    for i, j in itertools.combinations(range(C), 2):
        pair = xp.zeros((C, 1))
        pair[i] = pair[j] = 1.0
        _, X = _solve(terms, w0 * pair, xp)
        err, _ = _reproj_err(X, u, v, valid, cam, xp)
        inl = valid & (err <= thresh)
        n_inl = xp.sum(inl, axis=0)
        # Score the agreeing set by its own solution: with near-opposite cameras an outlier can
        # agree with a pair by chance, but the set it forms fits worse than the true one.
        sums, X = _solve(terms, w0 * inl, xp)
        err, _ = _reproj_err(X, u, v, valid, cam, xp)
        cost = xp.sum(xp.where(inl, err, 0.0), axis=0) / xp.maximum(n_inl, 1)
        cost = cost + xp.where(_weakest_axis_ratio(sums, xp) < min_ratio, 1e6, 0.0)  # sets the gate would reject
        better = (n_inl > best_n) | ((n_inl == best_n) & (cost < best_cost))
        best_n = xp.where(better, n_inl, best_n)
        best_cost = xp.where(better, cost, best_cost)
        best_inl = xp.where(better[None], inl, best_inl)
    used = best_inl
    for _ in range(2):  # re-solve from the agreeing cameras; drop any still beyond the threshold
        X, err, _ = _solve_refined(terms, w0 * used, u, v, valid, cam, xp)
        again = valid & (err <= thresh)
        keep = xp.sum(again, axis=0) >= min_cams
        used = xp.where(keep[None], again, used)
    X, err, s = _solve_refined(terms, w0 * used, u, v, valid, cam, xp)
    return X, err, used, s


# ----------------------------------------------------------------------------- input checks


def _check_inputs(points2d: Any, conf: Any, cams: list[Camera], min_cams: int) -> tuple[tuple, tuple]:
    pshape, cshape = tuple(getattr(points2d, "shape", ())), tuple(getattr(conf, "shape", ()))
    if len(pshape) < 2 or pshape[-1] != 2:
        raise TriangulationInputError(
            f"points2d must have shape (cameras, ..., 2) in pixels, got {pshape}; stack one (frames, landmarks, 2) "
            "array per camera along a new first axis"
        )
    if pshape[0] != len(cams):
        raise TriangulationInputError(
            f"points2d holds {pshape[0]} cameras but {len(cams)} cameras were given "
            f"({', '.join(c.name for c in cams)}): pass the calibration's cameras in the order of the 2D data"
        )
    if cshape != pshape[:-1]:
        raise TriangulationInputError(f"conf must have shape {pshape[:-1]} (points2d without its last axis), got {cshape}")
    if min_cams < 2:
        raise TriangulationInputError(f"min_cams must be at least 2 (a point needs two rays), got {min_cams}")
    if len(cams) < 2:
        raise TriangulationInputError(f"triangulation needs at least 2 cameras, got {len(cams)}")
    return pshape, cshape


def outlier_thresholds(cams: Sequence[Camera], outlier_px: float | Sequence[float] | None) -> np.ndarray:
    """(C,) reprojection error in pixels beyond which a camera is an outlier for a point.

    ``outlier_px``: one value or one per camera; default 2 % of each image's diagonal.
    """
    if outlier_px is None:
        return np.array([OUTLIER_FRACTION_OF_DIAGONAL * float(np.hypot(*c.size)) for c in cams])
    vals = np.broadcast_to(np.asarray(outlier_px, dtype=np.float64), (len(cams),)).copy()
    if not np.all(np.isfinite(vals) & (vals > 0)):
        raise TriangulationInputError(f"outlier_px must be positive pixels (one value or one per camera), got {outlier_px}")
    return vals
