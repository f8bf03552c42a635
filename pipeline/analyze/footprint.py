"""Where the feet are on the floor, from the silhouettes of all cameras (for the balance cue).

BlazePose's heel and toe landmarks are poor on shoes: through video they come
out several centimetres inside the shoe (heels forward, toes back), by amounts
that change with the posture, so a standing offset cannot correct them. The
shoes themselves are in every camera's segmentation mask. For each foot and
frame, a strip of points on a horizontal plane just above the floor, along the
foot's direction through its ankle, is projected into every camera; a point is
inside the shoe when all but one of the cameras that see it (at least three)
find the mask there: a slice of the visual hull that one camera's segmentation
miss, or a leg hiding the shoe in one view, does not cut. The run of inside
points through the ankle gives the heel end (back) and the toe end (front).

The floor is the plane z = f where f is estimated from the athlete's standing
frames (the lowest foot landmark, less 1 cm), so the room's calibration only
has to be z-up. Batched over frames and points; cameras are looped over.
"""
from __future__ import annotations

import numpy as np

from pipeline.common.landmarks import INDEX

SLICE_M = 0.02  # the slice's height above the floor: the sole and the shoe's lowest part
ALONG = np.arange(-0.20, 0.35, 0.004)  # metres from the ankle along the foot
ACROSS = np.array([-0.015, -0.0075, 0.0, 0.0075, 0.015])  # metres across it: a strip, not a line
MIN_CAMERAS = 3  # a point must be seen by this many cameras
MISSES_ALLOWED = 1  # ... all of which but this many must find the shoe there
FOOT_LANDMARK_ABOVE_FLOOR_M = 0.01  # heel/toe landmarks sit about this high on a shoe standing on the floor


def floor_height(xyz: np.ndarray, standing: np.ndarray) -> float:
    """The floor's z: the median over standing frames of the lowest heel/toe landmark, less 1 cm."""
    feet = xyz[:, [INDEX[f"{s}_{j}"] for s in ("left", "right") for j in ("heel", "foot_index")], 2]
    low = np.nanmin(feet, axis=1)
    sel = standing & np.isfinite(low)
    if not sel.any():
        sel = np.isfinite(low)
    if not sel.any():
        return 0.0
    return float(np.median(low[sel])) - FOOT_LANDMARK_ABOVE_FLOOR_M


def foot_directions(xyz: np.ndarray) -> dict[str, np.ndarray]:
    """Per foot, the session's median horizontal heel -> toe direction (unit, 3)."""
    out = {}
    for s in ("left", "right"):
        d = xyz[:, INDEX[f"{s}_foot_index"]] - xyz[:, INDEX[f"{s}_heel"]]
        d = d * np.array([1.0, 1.0, 0.0])
        n = np.linalg.norm(d, axis=-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            u = np.nanmedian(d / n, axis=0)
        out[s] = u / max(np.linalg.norm(u), 1e-9) if np.isfinite(u).all() else np.array([np.nan, np.nan, 0.0])
    return out


def footprints(xyz: np.ndarray, views, floor_z: float, *, chunk: int = 256, misses: int = MISSES_ALLOWED
               ) -> dict[str, np.ndarray]:
    """Heel and toe ends of each shoe's footprint: ``{side}_heel`` / ``{side}_toe`` (T,3) world points on the
    slice plane (NaN where the cameras cannot tell), and ``{side}_cameras`` (T,) how many saw the ankle's point.

    ``views``: pipeline.analyze.spine_silhouette.CameraViews.
    """
    T = len(xyz)
    dirs = foot_directions(xyz)
    out: dict[str, np.ndarray] = {}
    j0 = int(np.argmin(np.abs(ALONG)))
    idx = np.arange(len(ALONG))
    for s in ("left", "right"):
        u = dirs[s]
        v = np.array([-u[1], u[0], 0.0])
        base = xyz[:, INDEX[f"{s}_ankle"]].astype(np.float64).copy()
        base[:, 2] = floor_z + SLICE_M
        heel, toe, seen_at_ankle = np.full(T, np.nan), np.full(T, np.nan), np.zeros(T, int)
        for a in range(0, T, chunk):
            sl = slice(a, min(T, a + chunk))
            G = base[sl, None, None] + ALONG[None, :, None, None] * u + ACROSS[None, None, :, None] * v  # (t,A,B,3)
            votes = np.zeros(G.shape[:3], int)
            seen_n = np.zeros(G.shape[:3], int)
            for c, (cam, sil) in enumerate(zip(views.cameras, views.silhouettes)):
                fr, pe = views.view_frame[c, sl], views.view_person[c, sl]
                with np.errstate(invalid="ignore", divide="ignore"):
                    px = cam.project(G)
                w, h = cam.size
                seen = ((pe >= 0)[:, None, None] & np.isfinite(px).all(-1) & (px[..., 0] >= 0) & (px[..., 0] <= w - 1)
                        & (px[..., 1] >= 0) & (px[..., 1] <= h - 1) & (cam.depth(G) > 0))
                val = sil.sample(np.maximum(fr, 0)[:, None, None], np.maximum(pe, 0)[:, None, None],
                                 np.nan_to_num(px[..., 0]), np.nan_to_num(px[..., 1]))
                votes += seen & (val >= 0.5)
                seen_n += seen
            inside = (seen_n >= MIN_CAMERAS) & (votes >= seen_n - misses)
            row = inside.any(-1)  # (t,A): any point across the strip
            ok = row[:, j0] & np.isfinite(base[sl]).all(-1)
            before = np.where(~row & (idx < j0), idx, -1).max(-1)
            after = np.where(~row & (idx > j0), idx, len(ALONG)).min(-1)
            valid = ok & (before >= 0) & (after < len(ALONG))
            step = ALONG[1] - ALONG[0]
            # the shoe ends half a step beyond the last inside point
            heel[sl] = np.where(valid, ALONG[np.clip(before, 0, None)] + 0.5 * step, np.nan)
            toe[sl] = np.where(valid, ALONG[np.clip(after, 0, len(ALONG) - 1)] - 0.5 * step, np.nan)
            seen_at_ankle[sl] = seen_n[:, j0, len(ACROSS) // 2]
        out[f"{s}_heel"] = base + heel[:, None] * u
        out[f"{s}_toe"] = base + toe[:, None] * u
        out[f"{s}_cameras"] = seen_at_ankle
    return out


STANCE_M = 0.08  # an ankle within this of its set position: the foot stands where it stood (a step moves it 30 cm)


def base_of_support(prints: dict[str, np.ndarray], xyz: np.ndarray, in_set: np.ndarray) -> dict[str, np.ndarray]:
    """Each foot's heel and toe ends held at their median over the frames the foot stood still (T,3).

    The feet do not move during a hinge set, so their footprint does not
    either: the median over every frame in which the ankle stands within
    STANCE_M of its position over the set keeps a camera's passing segmentation
    miss (a cut toe) or bleed (a long heel) out of the base of support.
    Frames in which the foot is elsewhere (walking in) stay NaN.
    """
    out = {}
    for side in ("left", "right"):
        ankle = xyz[:, INDEX[f"{side}_ankle"], :2].astype(np.float64)
        ok = in_set & np.isfinite(ankle).all(-1)
        if not ok.any():
            for end in ("heel", "toe"):
                out[f"{side}_{end}"] = np.full((len(xyz), 3), np.nan)
            continue
        home = np.median(ankle[ok], axis=0)
        still = ok & (np.linalg.norm(ankle - home, axis=-1) <= STANCE_M)
        for end in ("heel", "toe"):
            p = prints[f"{side}_{end}"]
            use = still & np.isfinite(p).all(-1)
            point = np.median(p[use], axis=0) if use.sum() >= 3 else np.full(3, np.nan)
            out[f"{side}_{end}"] = np.where(still[:, None], point[None], np.nan)
    return out
