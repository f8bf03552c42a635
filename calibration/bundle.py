"""Bundle adjustment over camera poses, board poses and (optionally) intrinsics.

One residual pair per observed corner, computed for all observations at once;
scipy's least_squares gets the Jacobian's sparsity (each residual depends on one
camera and one board pose) so finite differences cost a few dozen evaluations,
and a robust loss so a few bad corners cannot pull the solution.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares
from scipy.sparse import coo_matrix, csr_matrix, diags
from scipy.sparse.linalg import spsolve

from .camera import distort
from .geometry import rodrigues

N_POSE = 6
INTRINSIC_NAMES = ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2", "k3")


@dataclass
class Observations:
    cam: np.ndarray  # (M,) camera index
    view: np.ndarray  # (M,) board-pose index
    point: np.ndarray  # (M,) board corner index
    xy: np.ndarray  # (M, 2) detected pixels

    @classmethod
    def from_corners(cls, corners: np.ndarray, views: np.ndarray, use: np.ndarray) -> "Observations":
        """``corners`` (C, F, N, 2); ``views`` (V,) frame rows to use; ``use`` (C, V) camera-view pairs to keep."""
        sub = corners[:, views]
        seen = np.isfinite(sub[..., 0]) & use[..., None]
        c, v, p = np.nonzero(seen)
        return cls(c, v, p, sub[c, v, p])


@dataclass
class BundleResult:
    R_cam: np.ndarray  # (C, 3, 3) world -> camera
    t_cam: np.ndarray  # (C, 3)
    K: np.ndarray  # (C, 3, 3)
    dist: np.ndarray  # (C, 5)
    R_board: np.ndarray  # (V, 3, 3) board -> world
    t_board: np.ndarray  # (V, 3)
    residuals: np.ndarray  # (M, 2) final reprojection residuals, px
    rms_per_camera: np.ndarray  # (C,)
    nfev: int
    seconds: float


def _intrinsic_vector(K: np.ndarray, dist: np.ndarray) -> np.ndarray:
    return np.concatenate([K[:, 0, 0:1], K[:, 1, 1:2], K[:, 0, 2:3], K[:, 1, 2:3], dist[:, :5]], axis=1)


class BundleProblem:
    def __init__(self, obs: Observations, object_points: np.ndarray, R_cam, t_cam, K, dist, R_board, t_board, *,
                 refine_intrinsics: bool = True, fix_k3: bool = True, fixed_camera: int = 0) -> None:
        self.obs = obs
        self.P = object_points
        self.C = len(R_cam)
        self.V = len(R_board)
        self.fixed = fixed_camera
        self.free_cams = np.array([c for c in range(self.C) if c != fixed_camera], int)
        n_int = 8 if fix_k3 else 9
        self.int_idx = np.arange(n_int) if refine_intrinsics else np.arange(0)
        self.intr0 = _intrinsic_vector(K, dist)
        # rotations are solved as small corrections of the initial ones (R = R0 @ exp(w)), so the
        # parameters stay near 0, far from the rotation vector's singularity at half a turn
        self.R_cam0 = np.asarray(R_cam, float)
        self.R_board0 = np.asarray(R_board, float)
        self.cam0 = np.concatenate([np.zeros((self.C, 3)), t_cam], axis=1)
        self.x0 = np.concatenate([
            self.cam0[self.free_cams].ravel(),
            np.concatenate([np.zeros((self.V, 3)), t_board], axis=1).ravel(),
            self.intr0[:, self.int_idx].ravel(),
        ])
        self.n_cam = len(self.free_cams) * N_POSE
        self.n_board = self.V * N_POSE

    def unpack(self, x: np.ndarray):
        cam = self.cam0.copy()
        cam[self.free_cams] = x[: self.n_cam].reshape(-1, N_POSE)
        board = x[self.n_cam: self.n_cam + self.n_board].reshape(-1, N_POSE)
        intr = self.intr0.copy()
        if len(self.int_idx):
            intr[:, self.int_idx] = x[self.n_cam + self.n_board:].reshape(self.C, -1)
        return cam, board, intr

    def project(self, x: np.ndarray) -> np.ndarray:
        cam, board, intr = self.unpack(x)
        o = self.obs
        Rb = (self.R_board0 @ rodrigues(board[:, :3]))[o.view]
        Rc = (self.R_cam0 @ rodrigues(cam[:, :3]))[o.cam]
        Xw = (Rb @ self.P[o.point][:, :, None])[..., 0] + board[o.view, 3:]
        Xc = (Rc @ Xw[:, :, None])[..., 0] + cam[o.cam, 3:]
        i = intr[o.cam]  # fx fy cx cy k1 k2 p1 p2 k3 per observation
        xd, yd = distort(Xc[:, 0] / Xc[:, 2], Xc[:, 1] / Xc[:, 2], *i[:, 4:9].T)
        return np.stack([i[:, 0] * xd + i[:, 2], i[:, 1] * yd + i[:, 3]], axis=1)

    def residuals(self, x: np.ndarray) -> np.ndarray:
        return (self.project(x) - self.obs.xy).ravel()

    def _columns(self):
        """(kind, slot) groups of parameter columns that no residual shares: one evaluation pair each."""
        o = self.obs
        cam_slot = np.full(self.C, -1)
        cam_slot[self.free_cams] = np.arange(len(self.free_cams))
        groups = []
        for k in range(N_POSE):
            rows_ok = cam_slot[o.cam] >= 0
            groups.append((cam_slot[self.free_cams] * N_POSE + k, rows_ok, cam_slot[o.cam] * N_POSE + k,
                           1e-6))
        for k in range(N_POSE):
            groups.append((self.n_cam + np.arange(self.V) * N_POSE + k, np.ones(len(o.cam), bool),
                           self.n_cam + o.view * N_POSE + k, 1e-6))
        n_i = len(self.int_idx)
        for k in range(n_i):
            step = 1e-3 if self.int_idx[k] < 4 else 1e-6  # pixels for fx fy cx cy, unitless for distortion
            groups.append((self.n_cam + self.n_board + np.arange(self.C) * n_i + k, np.ones(len(o.cam), bool),
                           self.n_cam + self.n_board + o.cam * n_i + k, step))
        return groups

    def jacobian(self, x: np.ndarray) -> csr_matrix:
        """Sparse Jacobian by central differences, perturbing every camera (or board) at once per slot."""
        M = len(self.obs.cam)
        rows, cols, vals = [], [], []
        for perturbed, rows_ok, col_of_obs, h in self._columns():
            dx = np.zeros_like(x)
            dx[perturbed] = h
            d = ((self.project(x + dx) - self.project(x - dx)) / (2 * h))[rows_ok]  # (m, 2)
            obs_idx = np.flatnonzero(rows_ok)
            rows.append(np.concatenate([2 * obs_idx, 2 * obs_idx + 1]))
            cols.append(np.concatenate([col_of_obs[rows_ok]] * 2))
            vals.append(np.concatenate([d[:, 0], d[:, 1]]))
        return coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(2 * M, len(self.x0))).tocsr()

    def sparsity(self) -> coo_matrix:
        o = self.obs
        M = len(o.cam)
        rows, cols = [], []
        res_rows = np.stack([2 * np.arange(M), 2 * np.arange(M) + 1], axis=1)  # (M, 2)

        def link(mask: np.ndarray, first_col: np.ndarray, width: int) -> None:
            r = res_rows[mask][:, :, None] + np.zeros((1, 1, width), int)
            c = first_col[mask][:, None, None] + np.arange(width)[None, None, :] + np.zeros((1, 2, 1), int)
            rows.append(r.ravel()), cols.append(c.ravel())

        cam_slot = np.full(self.C, -1)
        cam_slot[self.free_cams] = np.arange(len(self.free_cams))
        link(cam_slot[o.cam] >= 0, cam_slot[o.cam] * N_POSE, N_POSE)
        link(np.ones(M, bool), self.n_cam + o.view * N_POSE, N_POSE)
        n_i = len(self.int_idx)
        if n_i:
            link(np.ones(M, bool), self.n_cam + self.n_board + o.cam * n_i, n_i)
        r, c = np.concatenate(rows), np.concatenate(cols)
        return coo_matrix((np.ones(len(r)), (r, c)), shape=(2 * M, len(self.x0)))


def solve_lm(prob: BundleProblem, f_scale: float = 1.0, max_iter: int = 100, tol: float = 1e-10) -> tuple[np.ndarray, int]:
    """Levenberg-Marquardt on the soft-L1 cost, each step solved exactly on the sparse normal equations.

    Iteratively reweighted: the soft-L1 weight 1/sqrt(1 + (e/f_scale)^2) per corner
    (e = its residual length) turns the robust cost into weighted least squares.
    """
    def robust(r):
        z = np.sum(r.reshape(-1, 2) ** 2, axis=1) / f_scale ** 2
        cost = float(np.sum(2 * f_scale ** 2 * (np.sqrt(1 + z) - 1)))
        return cost, np.repeat(1 / np.sqrt(1 + z), 2)

    x = prob.x0.copy()
    r = prob.residuals(x)
    cost, w = robust(r)
    lam, nfev = 1e-4, 1
    for _ in range(max_iter):
        J = prob.jacobian(x)
        A = (J.T @ diags(w) @ J).tocsc()
        g = J.T @ (w * r)
        damp = diags(np.maximum(A.diagonal(), 1e-12))
        improved = False
        while lam < 1e12:
            dx = spsolve(A + lam * damp, -g)
            r_new = prob.residuals(x + dx)
            nfev += 1
            new_cost, w_new = robust(r_new)
            if np.isfinite(new_cost) and new_cost < cost:
                improved = True
                break
            lam *= 10
        if not improved:
            break
        gain = cost - new_cost
        x, r, w = x + dx, r_new, w_new
        cost = new_cost
        lam = max(lam / 10, 1e-12)
        if gain < tol * cost or np.abs(dx).max() < 1e-12:
            break
    return x, nfev


def bundle_adjust(obs: Observations, object_points: np.ndarray, R_cam, t_cam, K, dist, R_board, t_board, *,
                  refine_intrinsics: bool = True, fix_k3: bool = True, loss: str = "soft_l1", f_scale: float = 1.0,
                  max_nfev: int = 200, fixed_camera: int = 0, verbose: int = 0, solver: str = "lm") -> BundleResult:
    """Adjust everything to minimise the robust reprojection error.

    ``solver="lm"``: sparse direct Levenberg-Marquardt (soft-L1 via reweighting), fast;
    ``solver="scipy"``: scipy.optimize.least_squares (trf + lsmr) with ``jac_sparsity``
    and ``loss``; both minimise the same cost (the tests check they agree).
    """
    import time

    prob = BundleProblem(obs, object_points, R_cam, t_cam, K, dist, R_board, t_board,
                         refine_intrinsics=refine_intrinsics, fix_k3=fix_k3, fixed_camera=fixed_camera)
    t0 = time.perf_counter()
    if solver == "lm" and loss == "soft_l1":
        x, nfev = solve_lm(prob, f_scale)
    else:
        sol = least_squares(prob.residuals, prob.x0, jac_sparsity=prob.sparsity(), loss=loss, f_scale=f_scale,
                            x_scale="jac", method="trf", max_nfev=max_nfev, ftol=1e-10, xtol=1e-10, gtol=1e-10, verbose=verbose,
                            # lsmr's default tolerances stall on this ill-conditioned problem (hundreds of steps)
                            tr_options={"atol": 1e-14, "btol": 1e-14, "maxiter": 4 * len(prob.x0)})
        x, nfev = sol.x, sol.nfev
    seconds = time.perf_counter() - t0
    cam, board, intr = prob.unpack(x)
    res = (prob.project(x) - obs.xy)
    sq = np.sum(res ** 2, axis=1)
    rms = np.sqrt(np.bincount(obs.cam, sq, minlength=prob.C) / np.maximum(np.bincount(obs.cam, minlength=prob.C), 1))
    Kout = np.zeros((prob.C, 3, 3))
    Kout[:, 0, 0], Kout[:, 1, 1], Kout[:, 0, 2], Kout[:, 1, 2], Kout[:, 2, 2] = intr[:, 0], intr[:, 1], intr[:, 2], intr[:, 3], 1
    return BundleResult(prob.R_cam0 @ rodrigues(cam[:, :3]), cam[:, 3:], Kout, intr[:, 4:9],
                        prob.R_board0 @ rodrigues(board[:, :3]), board[:, 3:],
                        res, rms, int(nfev), seconds)
