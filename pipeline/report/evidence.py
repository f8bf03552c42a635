"""The video evidence of a report: which cameras the page plays, where each timeline frame lies in each
camera's video, the 2D skeleton over them, and the still pictures (each violation's frame, each rep's key frames).

The report reads, besides its own files: the room's calibration (to reproject
the 3D skeleton into each camera), sync.json (each camera's clock) and the
pose2d files (each camera's own frame times), and either the proxies written
by the workflow's ``report_video`` rule or the camera videos, from which it
writes the proxies itself (``hingecap report``). Without them the page has no
video panel and says why.
"""
from __future__ import annotations

import logging
import os
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from calibration.camera import Rig
from pipeline.report.replay import MISSING, pack_series, to_int16
from pipeline.report.session import ALL_EDGES, FLAGGED, SPINE_IDX, Session, violation_mask
from pipeline.report.video import (Proxy, VideoInputError, athlete_box, best_camera, camera_frames, crop_to_width,
                                   draw_skeleton, jpeg_data_uri, overlay_points, proxies_for, read_frames, read_proxy)

log = logging.getLogger(__name__)

PICTURE_WIDTH = 480   # a violation's picture
KEY_FRAME_WIDTH = 200  # a rep's start and bottom, the panel's stand-in for the video
STILLS_AT_ONCE = 24    # frames decoded and held at a time
# The points the overlay needs: the ends of the drawn segments.
OVERLAY_POINTS = sorted({i for edge in ALL_EDGES for i in edge})


@dataclass
class Footage:
    """The cameras a report shows, with their proxies and where each timeline frame lies in them."""
    rig: Rig                          # the shown cameras, in the calibration's order
    proxies: dict[str, Proxy]
    frames: dict[str, np.ndarray]     # camera -> (T,) proxy frame at each timeline frame, -1 when not filming
    best: str                         # the most side-on camera: the default
    scores: dict[str, float]          # best_camera's score per camera
    src: dict[str, str] = field(default_factory=dict)  # camera -> the proxy's address relative to the page
    sources: dict[str, Path] = field(default_factory=dict)  # camera -> the original video, when given

    @property
    def cameras(self) -> list[str]:
        return self.rig.names

    def ranked(self) -> list[str]:
        return sorted(self.cameras, key=lambda c: -self.scores[c])


def gather_footage(
    session: Session, out_dir: str | Path, *, videos: Mapping[str, str | Path] | None = None,
    proxies: Mapping[str, str | Path] | None = None, calibration: str | Path | Rig | None = None,
    pose2d: Mapping[str, str | Path] | None = None,
) -> tuple[Footage | None, str]:
    """(the footage, "") or (None, why the page has no video).

    ``proxies`` (camera -> .webm) are used as they are; otherwise the proxies
    of ``videos`` are written to ``out_dir/video/``. ``pose2d`` defaults to
    the session's ``pose2d/{cam}.npz``. Cameras left out by the triangulation
    are not shown.
    """
    from calibration.io import read_calibration
    from pipeline.contracts.pose2d import read_pose2d

    clock = time.perf_counter()
    sources = dict(proxies or videos or {})
    if not sources:
        return None, "the report was built without the camera videos"
    if calibration is None:
        return None, "no calibration was given, so the skeleton cannot be drawn over the video"
    try:
        rig = calibration if isinstance(calibration, Rig) else read_calibration(calibration)
    except (OSError, ValueError) as exc:
        return None, f"the calibration '{calibration}' cannot be read ({exc})"
    left_out = set((session.info.get("left_out") or {}))
    used = [c for c in (session.info.get("cameras") or rig.names) if c not in left_out]
    shown = []
    for cam in used:
        if cam not in rig.names:
            log.warning("camera %s: not in the calibration; not shown", cam)
        elif cam not in sources:
            log.warning("camera %s: no video given; not shown", cam)
        else:
            shown.append(cam)
    if not shown:
        return None, (f"none of the cameras used ({', '.join(used) or 'none'}) has both a video and a calibration "
                      f"(videos: {', '.join(sources) or 'none'}; calibrated: {', '.join(rig.names)})")
    times = {}
    for cam in list(shown):
        path = Path((pose2d or {}).get(cam) or session.dir / "pose2d" / f"{cam}.npz")
        if not path.is_file():
            log.warning("camera %s: no pose2d file %s, so its frame times are unknown; not shown", cam, path)
            shown.remove(cam)
            continue
        try:
            times[cam] = read_pose2d(path).t
        except ValueError as exc:  # a damaged pose2d costs that camera's video, not the report
            log.warning("camera %s: %s; not shown", cam, exc)
            shown.remove(cam)
    if not shown:
        return None, "the cameras' pose2d files (their frame times) are missing"
    try:
        if proxies:
            made = {cam: read_proxy(proxies[cam]) for cam in shown}
        else:
            made = proxies_for({cam: sources[cam] for cam in shown}, Path(out_dir) / "video")
    except VideoInputError as exc:
        return None, str(exc)
    sync = session.sync.cameras if session.sync is not None else {}
    frames = {}
    for cam in shown:
        entry = sync.get(cam) or {}
        if not entry:
            log.info("camera %s: not in sync.json; its clock is taken as the timeline's", cam)
        idx = camera_frames(session.t, times[cam], float(entry.get("offset_s", 0.0)), float(entry.get("drift", 0.0) or 0.0))
        # The video may hold fewer frames than were detected (a truncated file): those are not there to show.
        frames[cam] = np.where(idx < made[cam].n_frames, idx, -1).astype(np.int32)
    sub = rig.subset(shown)
    sacrum = session.points[:, SPINE_IDX["sacrum"]]
    target = np.nanmedian(sacrum, axis=0) if np.isfinite(sacrum).all(axis=1).any() else None
    best, scores = best_camera(sub, sub.names, session.facing, target)
    out = Path(out_dir)
    src = {cam: urllib.parse.quote(Path(os.path.relpath(made[cam].path, out)).as_posix()) for cam in sub.names}
    log.info("video panel: cameras %s (side-on score %s), default %s; left out by triangulation: %s; %.2f s",
             ", ".join(sub.names), ", ".join(f"{c} {scores[c]:.2f}" for c in sub.names), best,
             ", ".join(sorted(left_out)) or "none", time.perf_counter() - clock)
    originals = {c: Path(videos[c]) for c in sub.names if videos and c in videos and Path(videos[c]).is_file()}
    return Footage(sub, {c: made[c] for c in sub.names}, frames, best, scores, src, originals), ""


def video_payload(session: Session, footage: Footage) -> dict:
    """The page data of the video panel: per camera its proxy, frame map and the reprojected skeleton (packed)."""
    pts = session.points[:, OVERLAY_POINTS]
    cameras = []
    for cam in footage.rig:
        proxy = footage.proxies[cam.name]
        # In blocks of frames: projecting takes several float64 copies of the points, 50 MB for 10 minutes at once.
        xy = np.concatenate([to_int16(overlay_points(pts[i:i + 4096], cam, proxy.size))
                             for i in range(0, max(len(pts), 1), 4096)]) if len(pts) else to_int16(np.zeros((0, len(OVERLAY_POINTS), 2)))
        cameras.append({
            "name": cam.name, "src": footage.src[cam.name], "width": proxy.size[0], "height": proxy.size[1],
            "fps": proxy.fps, "n_frames": proxy.n_frames, "score": round(footage.scores[cam.name], 3),
            "frames": pack_series(footage.frames[cam.name]), "xy": pack_series(xy),
        })
    return {"best": footage.best, "points": OVERLAY_POINTS, "missing": MISSING, "cameras": cameras}


@dataclass
class Still:
    uri: str          # JPEG data URI
    camera: str
    frame: int        # timeline frame
    video_frame: int  # the camera's frame


def _camera_at(footage: Footage, frame: int) -> str | None:
    """The most side-on camera that was filming at timeline ``frame``."""
    return next((c for c in footage.ranked() if footage.frames[c][frame] >= 0), None)


def stills(session: Session, footage: Footage, mask: np.ndarray | None = None,
           ) -> tuple[dict[tuple[int, str], Still], dict[int, dict[str, Still]]]:
    """Each flagged cell's picture {(rep, cue): Still} and each rep's key frames {rep: {"start", "bottom"}}.

    A picture is the cue's first violating frame (the rep's bottom when the
    cue lists none) from the most side-on camera filming then, cut around the
    athlete, the segments breaking a cue at that frame drawn red (amber when
    borderline). Pictures come from the original video when it was given (its
    full resolution), key frames from the proxy (cheap to seek: short key-frame
    interval, small frames).
    """
    clock = time.perf_counter()
    mask = violation_mask(session) if mask is None else mask
    last = session.n_frames - 1
    wanted: dict[tuple, int] = {}  # ("cell", rep, cue) or ("key", rep, "start"|"bottom") -> timeline frame
    for rep in session.reps["reps"]:
        for cue in rep.get("cues", []):
            if cue.get("verdict") in FLAGGED:
                frames = cue.get("frames") or []
                wanted[("cell", int(rep["index"]), cue["id"])] = int(min(frames)) if frames else int(rep["bottom"])
        for key in ("start", "bottom"):
            wanted[("key", int(rep["index"]), key)] = int(rep[key])
    groups: dict[tuple[str, bool], dict[tuple, int]] = {}  # (camera, from the original) -> {key: frame}
    for key, frame in wanted.items():
        frame = min(max(frame, 0), last)
        cam = _camera_at(footage, frame)
        if cam is not None:
            groups.setdefault((cam, key[0] == "cell" and cam in footage.sources), {})[key] = frame
    pictures: dict[tuple[int, str], Still] = {}
    keys: dict[int, dict[str, Still]] = {}
    for (cam, original), items in groups.items():
        camera = footage.rig[cam]
        path = footage.sources[cam] if original else footage.proxies[cam].path
        ordered = sorted(items.items(), key=lambda kv: kv[1])
        # A few dozen frames at a time: a long session's key frames, or full-HD originals, would not fit at once.
        for chunk in (ordered[i:i + STILLS_AT_ONCE] for i in range(0, len(ordered), STILLS_AT_ONCE)):
            try:
                images = read_frames(path, [footage.frames[cam][f] for _, f in chunk])
            except VideoInputError as exc:
                log.warning("camera %s: %s; no pictures from it", cam, exc)
                break
            _draw_stills(session, camera, footage.frames[cam], chunk, images, mask, path, pictures, keys)
    log.info("stills: %d violation pictures, %d key frames from %s in %.2f s", len(pictures),
             sum(len(v) for v in keys.values()), ", ".join(sorted({c for c, _ in groups})) or "no camera",
             time.perf_counter() - clock)
    return pictures, keys


def _draw_stills(session, camera, video_frames, chunk, images, mask, path, pictures, keys) -> None:
    """Cut, draw and encode the stills of ``chunk`` [(key, timeline frame)] from the decoded ``images``."""
    cam = camera.name
    for key, frame in chunk:
        vf = int(video_frames[frame])
        if vf not in images:
            log.warning("camera %s: frame %d of %s could not be read; no picture for %s", cam, vf, path, key[1:])
            continue
        image = images[vf]
        size = (image.shape[1], image.shape[0])
        xy = np.full((session.points.shape[1], 2), np.nan)
        xy[OVERLAY_POINTS] = overlay_points(session.points[frame, OVERLAY_POINTS], camera, size)
        box = athlete_box(xy, size)
        image, scale = crop_to_width(image, box, PICTURE_WIDTH if key[0] == "cell" else KEY_FRAME_WIDTH)
        xy = (xy - np.array(box[:2], np.float64)) * scale
        draw_skeleton(image, xy, mask[frame], width=max(1.5, image.shape[1] / 200))
        still = Still(jpeg_data_uri(image, 80), cam, frame, vf)
        if key[0] == "cell":
            pictures[(key[1], key[2])] = still
        else:
            keys.setdefault(key[1], {})[key[2]] = still


def config_footage(config: Mapping, session: str, results: str | Path | None = None) -> tuple[dict, str]:
    """({"videos": ..., "calibration": ...}, "") for a session of the workflow config, or ({}, why not).

    What ``hingecap report`` passes to build_report: the session's camera
    videos (its ``videos`` folder, relative to the working directory as in the
    workflow) and its room's calibration under ``results/rooms/``.
    """
    from pipeline.common.config import ConfigError, session_cameras

    entry = (config.get("sessions") or {}).get(session)
    if not entry:
        return {}, f"session '{session}' is not in the config"
    try:
        videos = session_cameras(entry, key=f"sessions.{session}")
    except (ConfigError, OSError, KeyError) as exc:
        return {}, f"its videos cannot be found ({exc})"
    root = Path(results if results is not None else config.get("results", "results"))
    calibration = root / "rooms" / str(entry.get("room", "")) / "calibration.toml"
    if not calibration.is_file():
        return {}, f"the room's calibration '{calibration}' does not exist (the workflow's calibrate step writes it)"
    return {"videos": videos, "calibration": calibration}, ""
