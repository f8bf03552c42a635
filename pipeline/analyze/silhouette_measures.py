"""Per-frame measurements that need the cameras' silhouettes, added to the kinematics table.

- the back (``pipeline.analyze.spine_silhouette``): ``back_flex`` (deg, the
  lumbar vs thoracic line angle of the back's profile, + = rounded), and
  ``back_flex_change`` (deg, its change from the athlete's own neutral back:
  the median while standing, or, when no camera saw the back side-on while
  the athlete stood (hanging arms hide it in oblique views), early in the
  descents, at 15-40 deg of hip flexion, where the back has not yet had to
  round and the arms hang clear of it),
  with ``back_camera`` (the camera whose view gave it), ``back_phi`` (deg,
  how far that view's sampling lines were from the dorsal axis),
  ``back_side_deg`` (deg, how far the view was from side-on) and
  ``back_cover`` (share of the back's levels measured);
- the feet (``pipeline.analyze.footprint``): ``com_footprint``, the centre of
  mass along the shoes' footprints (0 = the back of the heels, 1 = the tips of
  the shoes), and the footprint ends ``foot_{l,r}_heel_{x,y,z}`` /
  ``foot_{l,r}_toe_{x,y,z}``.

Also returned, per ``Metric.needs``, why a frame has no value (the cue engine
turns that into a ``not_judged`` verdict with its reason) and how a frame's
value was obtained when that is worth a note (across a landmark gap).
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from pipeline.analyze import footprint as fp
from pipeline.analyze import spine_silhouette as ss
from pipeline.analyze.kinematics import centre_of_mass
from pipeline.common.landmarks import INDEX

log = logging.getLogger(__name__)

NO_SILHOUETTES = "no silhouettes for this session (the detect stage writes silhouette/{cam}.npz)"
NO_SIDE_VIEW = "no camera sees the athlete side-on"
NO_STANDING_VIEW = "the back was never seen side-on while upright: its neutral shape is unknown"
FEET_UNSEEN = "the feet are not seen by at least 3 cameras"
BRIDGED = "measured across a landmark gap: the trunk's place bridged, the back's edge from the masks"
SET_RADIUS_M = 0.6  # hips farther than this from where the athlete stood: walking in or out, not the set


def load_views(pose, silhouettes: Mapping[str, str | Path], rig, calibration: str | Path) -> ss.CameraViews | None:
    """The cameras of ``pose`` (Pose3D) with their calibration (``rig``, read from the file ``calibration``) and
    silhouette files; None when pose3d.npz has no per-camera frame map (written before it had one)."""
    from pipeline.contracts import ContractError
    from pipeline.contracts.silhouette import read_silhouette

    if pose.view_frame is None or pose.view_person is None or not pose.cameras:
        log.warning("%s has no view_frame/view_person: rerun the triangulation to judge the back and the feet",
                    pose.path)
        return None
    missing = [c for c in pose.cameras if c not in silhouettes]
    if missing:
        raise ContractError(f"no silhouette file given for camera(s) {', '.join(missing)} of {pose.path}; "
                            "the analyze stage needs silhouette/{cam}.npz of every camera pose3d.npz used")
    unknown = [c for c in pose.cameras if c not in rig.names]
    if unknown:
        raise ContractError(f"camera(s) {', '.join(unknown)} of {pose.path} are not in the calibration {calibration}")
    sils = [read_silhouette(silhouettes[c]) for c in pose.cameras]
    for c, s in zip(pose.cameras, sils):
        if int(np.max(pose.view_frame[pose.cameras.index(c)], initial=-1)) >= len(s.t):
            raise ContractError(f"{s.path}: {len(s.t)} frames, but {pose.path} refers to later frames of {c}; "
                                "rerun the detection and triangulation of this session")
    return ss.CameraViews(rig.subset(pose.cameras), sils, np.asarray(pose.view_frame), np.asarray(pose.view_person))


def add_silhouette_measures(kin: pd.DataFrame, xyz: np.ndarray, fps: float, views: ss.CameraViews | None,
                            *, bridge_s: float = 1.0) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Add the columns of the module note to ``kin`` (in place); returns the per-frame reasons and notes."""
    T = len(kin)
    nan = np.full(T, np.nan)
    if views is None:
        for col in ("back_flex", "back_flex_change", "back_phi", "back_side_deg", "back_cover", "com_footprint"):
            kin[col] = nan
        kin["back_camera"] = ""
        reason = np.full(T, NO_SILHOUETTES, dtype=object)
        return {"side_view": reason, "footprint": reason.copy()}, {}
    xyz = np.asarray(xyz, dtype=np.float64)
    standing = kin["standing"].to_numpy(bool)
    facing = np.stack([kin["facing_x"], kin["facing_y"], np.zeros(T)], -1)
    t0 = time.perf_counter()
    reasons = {"side_view": _back(kin, xyz, fps, views, facing, standing, bridge_s),
               "footprint": _feet(kin, xyz, views, standing)}
    log.info("silhouettes of %d cameras over %d frames measured in %.1f s: back seen side-on in %.0f %% of the "
             "frames, footprints in %.0f %%", len(views.cameras), T, time.perf_counter() - t0,
             100 * np.isfinite(kin["back_flex"]).mean(), 100 * np.isfinite(kin["com_footprint"]).mean())
    bridged = kin["back_bridged"].to_numpy(bool) & np.isfinite(kin["back_flex"].to_numpy())
    notes = {"side_view": np.where(bridged, BRIDGED, "").astype(object)}
    return reasons, notes


def standing_chord(xyz: np.ndarray, standing: np.ndarray) -> float:
    """The athlete's hip-centre -> mid-shoulders distance standing (m), the back's reference length."""
    from pipeline.analyze.skeleton import midpoint

    L = np.linalg.norm(midpoint(xyz, "left_shoulder", "right_shoulder") - midpoint(xyz, "left_hip", "right_hip"), axis=-1)
    sel = standing & np.isfinite(L)
    return float(np.median(L[sel])) if sel.any() else float(np.nanmedian(L))


def _back(kin, xyz, fps, views, facing, standing, bridge_s) -> np.ndarray:
    chord = standing_chord(xyz, standing)
    prof = ss.back_profile(xyz, facing, views, chord, max_bridge=int(round(bridge_s * fps)))
    flex = ss.flexion_angle(prof["profile"], chord)
    kin["back_flex"] = flex
    ref, ref_from = neutral_reference(flex, kin["hip_flex"].to_numpy(), standing)
    kin["back_flex_change"] = flex - ref
    names = np.array(views.names + [""], dtype=object)
    kin["back_camera"] = names[prof["camera"]]  # -1 -> ""
    kin["back_phi"], kin["back_side_deg"], kin["back_cover"] = prof["phi"], prof["side_deg"], prof["cover"]
    kin["back_best_side_deg"] = prof["best_side_deg"]
    kin["back_bridged"] = prof["bridged"].astype(int)
    why = np.where(np.isfinite(flex), np.where(np.isfinite(ref), "", NO_STANDING_VIEW),
                   np.where(prof["landmarks_ok"], NO_SIDE_VIEW, "landmark gap")).astype(object)
    log.info("back: standing chord %.3f m; the athlete's neutral back angle %s; views used: %s", chord,
             "unknown (no side view while standing or early in a descent)" if not np.isfinite(ref)
             else f"{ref:.1f} deg ({ref_from})",
             ", ".join(f"{n} {np.mean(kin['back_camera'] == n):.0%}" for n in views.names))
    return why


MIN_REFERENCE_FRAMES = 5
EARLY_DESCENT_DEG = (15.0, 40.0)


def neutral_reference(flex: np.ndarray, hip_flex: np.ndarray, standing: np.ndarray) -> tuple[float, str]:
    """The athlete's own neutral back angle and where it came from (standing, or early in the descents)."""
    sel = standing & np.isfinite(flex)
    if sel.sum() >= MIN_REFERENCE_FRAMES:
        return float(np.median(flex[sel])), "standing"
    with np.errstate(invalid="ignore"):
        early = (hip_flex >= EARLY_DESCENT_DEG[0]) & (hip_flex <= EARLY_DESCENT_DEG[1]) & np.isfinite(flex)
    if early.sum() >= MIN_REFERENCE_FRAMES:
        return float(np.median(flex[early])), "early in the descents"
    return float("nan"), "none"


def _feet(kin, xyz, views, standing) -> np.ndarray:
    floor = fp.floor_height(xyz, standing)
    per_frame = fp.footprints(xyz, views, floor)
    # the set: the frames the hips stay near their standing place (walking in and out excluded)
    hips = 0.5 * (xyz[:, INDEX["left_hip"], :2] + xyz[:, INDEX["right_hip"], :2])
    home = np.nanmedian(hips[standing], axis=0) if standing.any() else np.nanmedian(hips, axis=0)
    in_set = np.linalg.norm(hips - home, axis=-1) < SET_RADIUS_M
    prints = fp.base_of_support(per_frame, xyz, in_set)
    heel = 0.5 * (prints["left_heel"] + prints["right_heel"])
    toe = 0.5 * (prints["left_toe"] + prints["right_toe"])
    foot = (toe - heel) * np.array([1.0, 1.0, 0.0])
    com = centre_of_mass(xyz)
    with np.errstate(invalid="ignore", divide="ignore"):
        kin["com_footprint"] = np.sum((com - heel) * foot, -1) / np.sum(foot * foot, -1)
    for side, s in (("left", "l"), ("right", "r")):
        for end in ("heel", "toe"):
            for k, ax in enumerate("xyz"):
                kin[f"foot_{s}_{end}_{ax}"] = prints[f"{side}_{end}"][:, k]
    log.info("feet: floor at z = %.3f m; footprint slice %.0f cm above it", floor, 100 * fp.SLICE_M)
    return np.where(np.isfinite(kin["com_footprint"]), "", FEET_UNSEEN).astype(object)
