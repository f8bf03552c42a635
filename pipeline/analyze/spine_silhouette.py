"""The back's shape from the body's silhouette in the cameras that see the athlete side-on.

BlazePose has no spine landmark, and its hip landmark slides up the trunk in
deep hip flexion, so a trunk measured between landmarks shortens with a
straight back. The back itself is in the segmentation mask of every view
(``silhouette/{cam}.npz``). This module measures it there:

1. **Trunk frame** from the triangulated landmarks: hip centre H, the
   hip -> shoulder chord direction e_u (in the sagittal plane), the lateral
   axis from the smoothed facing direction and the dorsal axis e_v
   (e_u x lateral: away from the belly).
2. **Levels** q = 0.05 ... 0.95 of the athlete's *standing* chord length,
   measured from the hips (so they do not follow the shoulders in a shrug).
3. For every camera and level, a **sampling line** in the trunk's
   cross-section, perpendicular to the camera's view and pointing to the back;
   in a view from the side it lies along e_v and the silhouette's edge on it is
   the back's midline. The mask is sampled bilinearly along it; the **back
   edge** is where, starting 3 cm behind the chord (the chord may lie outside a
   rounded trunk) and entering the body within 10 cm, the mask falls below 0.5
   (interpolated).
4. Edges within 1 cm of a projected upper arm, forearm, lower thigh or the head
   are dropped (the edge is theirs, not the back's), as are views within 45 deg
   of the trunk axis.
5. The **side views** of a frame are the cameras whose lines lie close to the
   dorsal axis (median angle phi <= 35 deg), which see at least 60 % of the
   levels and look at the athlete within 40 deg of side-on. Each edge's
   depth is its distance along its line times cos(phi) (the line's dorsal
   component), so that views at different phi are comparable. Per level, the
   back's profile v(q) (metres behind the chord) is the innermost of their
   edge depths: the body lies inside every camera's silhouette, an oblique view's edge
   lies farther out than the midline, and a mask that bleeds into the
   background (BlazePose's segmentation does, against similar colours) only
   moves its own camera's edge outward. No side view: the frame is not
   measured ("no camera sees the athlete side-on").
6. **Back flexion** (deg, + = rounded): the angle between straight lines fitted
   to the profile's lumbar (q 0.20-0.45) and thoracic (q 0.55-0.80) parts.
   The lowest fifth of the trunk is left out because its silhouette is the
   buttocks (which rise behind the sacrum as the hips flex), the top fifth
   because it is the shoulder girdle and the arms. A neutral back reads its
   natural curves (about -10 to +15 deg on the project's rendered athletes);
   a rounded back adds its rounding.

Frames are processed in chunks (bounded memory) and every step is vectorised
over frames, levels and samples; only cameras are looped over. Accuracy:
docs/accuracy.md (through-video benchmark).
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from pipeline.common.landmarks import INDEX

log = logging.getLogger(__name__)

LEVELS = np.linspace(0.05, 0.95, 25)  # fractions of the standing chord, from the hips
LAM = np.arange(-0.10, 0.40001, 0.003)  # metres along a sampling line (+ = toward the back)
START_M = 0.03  # the search for the back starts this far behind the chord
MAX_ENTER_M = 0.10  # ... and must enter the body within this distance
EDGE_THRESHOLD = 0.5  # mask level of the silhouette's edge
CENSOR_M = 0.01  # an edge this close to a projected limb or the head is theirs, not the back's
MIN_AXIS_DEG = 45.0  # a view closer than this to the trunk's axis cannot see the back's profile
MAX_PHI_DEG = 35.0  # a view's sampling lines must lie within this of the dorsal axis
MAX_SIDE_DEG = 40.0  # ... and it must look at the athlete within this of side-on
MIN_COVER = 0.6  # share of the levels (q 0.1-0.9) with a back edge
LUMBAR, THORACIC = (0.20, 0.45), (0.55, 0.80)  # the profile's windows whose lines give the flexion angle
# Limb radii (m) for a trunk (hip centre -> mid-shoulders) of 0.52 m, an adult of about 1.75 m; scaled by trunk length.
_ARM_R, _THIGH_R, _HEAD_R, _TRUNK_REF = 0.05, 0.085, 0.13, 0.52


@dataclass
class CameraViews:
    """What the back measurement needs from the cameras: for each camera (the order of pose3d's ``cameras``)
    its calibration, its silhouettes and, per timeline instant, the camera frame and the athlete's slot."""
    cameras: Sequence  # calibration.camera.Camera
    silhouettes: Sequence  # pipeline.contracts.silhouette.Silhouette
    view_frame: np.ndarray  # (C, T) int, -1 outside the camera's recording
    view_person: np.ndarray  # (C, T) int, -1 where the camera did not see the athlete

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.cameras]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def trunk_frame(xyz: np.ndarray, facing: np.ndarray) -> tuple[np.ndarray, ...]:
    """Hip centre H, lateral axis, chord direction e_u (sagittal plane), dorsal axis e_v, each (T,3)."""
    H = 0.5 * (xyz[:, INDEX["left_hip"]] + xyz[:, INDEX["right_hip"]])
    S = 0.5 * (xyz[:, INDEX["left_shoulder"]] + xyz[:, INDEX["right_shoulder"]])
    lat = _unit(np.cross(np.array([0.0, 0.0, 1.0]), facing))
    c = S - H
    e_u = _unit(c - np.sum(c * lat, -1, keepdims=True) * lat)
    return H, lat, e_u, np.cross(e_u, lat)


def bridge_gaps(x: np.ndarray, max_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """(T, ...) with each value's interior NaN runs of at most ``max_frames`` frames filled linearly, and the
    frames where anything was filled.

    The trunk frame only places the sampling lines: across a short landmark gap
    (the athlete nearly still at the bottom) a line placed from the frames on
    either side still crosses the back, and the edge itself comes from the mask.
    """
    x = np.array(x, dtype=np.float64)
    flat = x.reshape(len(x), -1)
    filled = np.zeros(len(x), bool)
    if max_frames <= 0 or len(x) < 3:
        return x, filled
    idx = np.arange(len(x))
    for k in np.flatnonzero(~np.isfinite(flat).all(0)):  # only the columns with gaps
        bad = ~np.isfinite(flat[:, k])
        if bad.all():
            continue
        d = np.diff(np.concatenate([[0], bad.astype(np.int8), [0]]))
        starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
        keep = (starts > 0) & (ends < len(x)) & (ends - starts <= max_frames)
        fill = np.zeros(len(x), bool)
        for a, b in zip(starts[keep], ends[keep]):  # runs, not frames
            fill[a:b] = True
        flat[fill, k] = np.interp(idx[fill], idx[~bad], flat[~bad, k])
        filled |= fill
    return flat.reshape(x.shape), filled


def _enter_exit(vals: np.ndarray, start: int, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Along the last axis from index ``start``: the first inside sample (within MAX_ENTER_M), then the first
    outside one after it. Returns the interpolated edge position (index units) and that outside index."""
    n = vals.shape[-1]
    inside = np.nan_to_num(vals, nan=0.0) >= EDGE_THRESHOLD
    idx = np.arange(n)
    ins = inside & (idx >= start)
    k_in = np.argmax(ins, -1)
    has_in = ins.any(-1) & ((k_in - start) * step <= MAX_ENTER_M)
    after = ~inside & (idx > k_in[..., None])
    has_out = after.any(-1)
    k = np.clip(np.argmax(after, -1), 1, n - 1)
    m_in = np.take_along_axis(vals, (k - 1)[..., None], -1)[..., 0]
    m_out = np.take_along_axis(vals, k[..., None], -1)[..., 0]
    frac = np.clip((m_in - EDGE_THRESHOLD) / np.maximum(m_in - m_out, 1e-6), 0, 1)
    ok = has_in & has_out & np.isfinite(m_in) & np.isfinite(m_out)
    return np.where(ok, k - 1 + frac, np.nan), k


def _point_segment_dist(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(np.sum((p - a) * ab, -1) / np.maximum(np.sum(ab * ab, -1), 1e-9), 0, 1)
    return np.linalg.norm(p - (a + t[..., None] * ab), axis=-1)


def _censor_mask(cam, xyz: np.ndarray, H: np.ndarray, pix: np.ndarray, body: float) -> np.ndarray:
    """(T, Q, K) True where image points ``pix`` (T, Q, K, 2) lie on a projected arm, lower thigh or the head."""
    with np.errstate(invalid="ignore", divide="ignore"):
        px_per_m = cam.K[0, 0] / cam.depth(H)[:, None, None]  # (T,1,1)
    near = np.zeros(pix.shape[:-1], bool)

    def proj(name):
        return cam.project(xyz[:, INDEX[name]])[:, None, None]

    for side in ("left", "right"):
        sh, el, wr, hp, kn = (proj(f"{side}_{j}") for j in ("shoulder", "elbow", "wrist", "hip", "knee"))
        r_arm = _ARM_R * body * px_per_m
        near |= _point_segment_dist(pix, sh, el) < r_arm
        near |= _point_segment_dist(pix, el, wr) < r_arm
        near |= _point_segment_dist(pix, hp + 0.35 * (kn - hp), kn) < _THIGH_R * body * px_per_m
    ears = cam.project(0.5 * (xyz[:, INDEX["left_ear"]] + xyz[:, INDEX["right_ear"]]))[:, None, None]
    near |= np.linalg.norm(pix - ears, axis=-1) < _HEAD_R * body * px_per_m
    return near


def _camera_edges(cam, sil, frames: np.ndarray, persons: np.ndarray, xyz: np.ndarray, H, lat, e_u, e_v, X,
                  body: float) -> dict[str, np.ndarray]:
    """One camera, one chunk: back edge depth (T,Q) metres behind the chord, phi (T,Q) deg, side-on angle (T,) deg."""
    w = _unit(X - cam.center)  # (T,Q,3) view rays to the levels
    wt = w - np.sum(w * e_u[:, None], -1, keepdims=True) * e_u[:, None]
    sin_axis = np.linalg.norm(wt, axis=-1)
    p = _unit(np.cross(e_u[:, None], wt))  # in the cross-section, perpendicular to the view
    p = np.where(np.sum(p * e_v[:, None], -1, keepdims=True) < 0, -p, p)  # toward the back
    pts = X[:, :, None] + LAM[None, None, :, None] * p[:, :, None]  # (T,Q,N,3)
    px = cam.project(pts)
    seen = (persons >= 0)[:, None, None]
    vals = sil.sample(np.maximum(frames, 0)[:, None, None], np.maximum(persons, 0)[:, None, None],
                      px[..., 0], px[..., 1])
    vals = np.where(seen & np.isfinite(px).all(-1), vals, np.nan)
    step = LAM[1] - LAM[0]
    start = int(np.searchsorted(LAM, START_M - 1e-9))
    e_idx, k_out = _enter_exit(vals, start, step)
    edge = LAM[0] + e_idx * step
    # censor: the samples within CENSOR_M of the edge must not lie on a limb or the head
    dk = max(1, int(round(CENSOR_M / step)))
    kk = np.clip(k_out[..., None] + np.arange(-dk - 1, dk + 1), 0, len(LAM) - 1)
    pix = np.stack([np.take_along_axis(px[..., 0], kk, -1), np.take_along_axis(px[..., 1], kk, -1)], -1)
    edge = np.where(_censor_mask(cam, xyz, H, pix, body).any(-1), np.nan, edge)
    edge = np.where(sin_axis >= np.sin(np.radians(MIN_AXIS_DEG)), edge, np.nan)
    cos_phi = np.clip(np.sum(p * e_v[:, None], -1), -1, 1)
    phi = np.degrees(np.arccos(cos_phi))
    # the edge's depth behind the chord: its distance along a line phi off the dorsal axis is not a depth, and
    # views at different phi are only comparable (for the innermost of them) as depths
    edge = edge * cos_phi
    mid = w[:, len(LEVELS) // 2]
    side = np.degrees(np.arccos(np.clip(np.abs(np.sum(mid * lat, -1)), 0, 1)))
    return {"edge": edge, "phi": phi, "side": side}


def back_profile(xyz: np.ndarray, facing: np.ndarray, views: CameraViews, chord_ref: float, *,
                 max_bridge: int = 0, chunk: int = 128) -> dict[str, np.ndarray]:
    """The back's profile per frame from the side views.

    ``xyz`` (T,33,3) filtered landmarks, ``facing`` (T,3) the smoothed facing
    direction, ``chord_ref`` the athlete's standing hip -> shoulder distance (m).
    ``max_bridge``: landmark gaps up to this many frames are bridged for placing
    the sampling lines. Returns ``profile`` (T,Q) metres behind the chord,
    ``camera`` (T,) index into ``views`` (-1: no side view), ``phi`` and
    ``side_deg`` (T,) of the chosen view, ``cover`` (T,), ``bridged`` (T,) bool (the hips or shoulders were
    bridged), ``landmarks_ok`` (T,) bool, ``n_views`` (T,) side views fused, ``best_side_deg`` (T,) the
    closest any camera came to side-on.
    """
    xyz_b, _ = bridge_gaps(xyz, max_bridge)
    trunk = [INDEX[n] for n in ("left_hip", "right_hip", "left_shoulder", "right_shoulder")]
    bridged = ~np.isfinite(xyz[:, trunk]).all((1, 2)) & np.isfinite(xyz_b[:, trunk]).all((1, 2))
    edges = camera_edges(xyz_b, facing, views, chord_ref, chunk=chunk)
    return {**fuse_views(edges["edge"], edges["phi"], edges["side"]), "bridged": bridged,
            "landmarks_ok": edges["landmarks_ok"]}


def camera_edges(xyz: np.ndarray, facing: np.ndarray, views: CameraViews, chord_ref: float, *,
                 chunk: int = 128) -> dict[str, np.ndarray]:
    """Every camera's back edge depths ``edge`` (C,T,Q) metres behind the chord, their lines' angles to the
    dorsal axis ``phi`` (C,T,Q) deg, each view's angle from side-on ``side`` (C,T) deg, and ``landmarks_ok`` (T,)."""
    T, C, Q = len(xyz), len(views.cameras), len(LEVELS)
    H, lat, e_u, e_v = trunk_frame(xyz, facing)
    lm_ok = np.isfinite(H).all(-1) & np.isfinite(e_u).all(-1)
    body = chord_ref / _TRUNK_REF
    edge = np.full((C, T, Q), np.nan)
    phi = np.full((C, T, Q), np.nan)
    side = np.full((C, T), np.nan)
    for c, (cam, sil) in enumerate(zip(views.cameras, views.silhouettes)):
        for a in range(0, T, chunk):  # chunks bound the memory: (chunk, Q, len(LAM)) samples per camera
            sl = slice(a, min(T, a + chunk))
            X = H[sl, None] + (LEVELS[None, :, None] * chord_ref) * e_u[sl, None]
            fr, pe = views.view_frame[c, sl], views.view_person[c, sl]
            persons = np.where(lm_ok[sl] & (fr >= 0), pe, -1)
            with np.errstate(invalid="ignore"):
                out = _camera_edges(cam, sil, fr, persons, xyz[sl], H[sl], lat[sl], e_u[sl], e_v[sl], X, body)
            edge[c, sl], phi[c, sl], side[c, sl] = out["edge"], out["phi"], out["side"]
    return {"edge": edge, "phi": phi, "side": side, "landmarks_ok": lm_ok}


def fuse_views(edge: np.ndarray, phi: np.ndarray, side: np.ndarray, *,
               max_phi: float = MAX_PHI_DEG) -> dict[str, np.ndarray]:
    """The side views among the cameras' edges (module note, 5; their lines within ``max_phi`` of the dorsal
    axis) and, per level, the innermost of their depths."""
    C, T = side.shape
    sel = (LEVELS >= 0.1) & (LEVELS <= 0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        cover = np.isfinite(edge[..., sel]).mean(-1)  # (C,T)
        phi_med = np.nanmedian(np.where(np.isfinite(edge), phi, np.nan), -1)  # (C,T)
    eligible = (cover >= MIN_COVER) & (phi_med <= max_phi) & (side <= MAX_SIDE_DEG)  # (C,T)
    score = np.where(eligible, phi_med, np.inf)
    best = np.argmin(score, 0)
    found = np.isfinite(np.min(score, 0))
    pick = lambda a: np.take_along_axis(a, best[None], 0)[0]  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        profile = np.nanmin(np.where(eligible[..., None], edge, np.nan), 0)  # the innermost side view per level
    profile = np.where(found[:, None], profile, np.nan)
    return {"profile": profile, "camera": np.where(found, best, -1), "n_views": eligible.sum(0),
            "phi": np.where(found, pick(phi_med), np.nan), "side_deg": np.where(found, pick(side), np.nan),
            "cover": np.where(found, pick(cover), np.nan),
            "best_side_deg": np.nanmin(np.where(np.isfinite(side), side, np.inf), 0) if C else np.full(T, np.nan)}


def _fit_slope(u: np.ndarray, v: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Least-squares slope dv/du per frame over the samples in ``window`` (Q,), ignoring NaN; (T,)."""
    ok = np.isfinite(v) & window[None]
    n = ok.sum(-1)
    w = ok.astype(float)
    uu, vv = np.where(ok, u, 0.0), np.where(ok, v, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        um, vm = uu.sum(-1) / n, vv.sum(-1) / n
        cov = np.sum(w * (uu - um[:, None]) * (vv - vm[:, None]), -1)
        var = np.sum(w * (uu - um[:, None]) ** 2, -1)
        slope = cov / var
    return np.where(n >= max(3, window.sum() // 2), slope, np.nan)


def flexion_angle(profile: np.ndarray, chord_ref: float) -> np.ndarray:
    """Angle (deg) between the lumbar and thoracic lines of the profile (T,Q); + = rounded (convex back)."""
    u = LEVELS[None] * chord_ref
    lo = _fit_slope(u, profile, (LEVELS >= LUMBAR[0]) & (LEVELS <= LUMBAR[1]))
    hi = _fit_slope(u, profile, (LEVELS >= THORACIC[0]) & (LEVELS <= THORACIC[1]))
    return np.degrees(np.arctan(lo) - np.arctan(hi))
