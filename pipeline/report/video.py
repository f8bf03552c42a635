"""The camera videos beside the replay: browser-playable proxies, each camera's frame at each instant of
the timeline, the 3D skeleton reprojected into a camera, and still pictures with the skeleton drawn on.

Proxies: Chromium cannot play the MPEG-4 part 2 (mp4v) files OpenCV and many
USB recorders write, so each camera's video is re-encoded once as VP8 WebM
(OpenCV's own FFmpeg writes it), downscaled to ``PROXY_HEIGHT`` pixels, same
frames at the same rate, so proxy frame *i* is video frame *i* is pose2d row
*i*. Frames are streamed one at a time: memory does not grow with the length.

Timing (sync.json): ``t_reference = t_camera + offset_s + drift * t_camera``,
so the camera's clock at a timeline instant is ``(t_ref - offset_s) / (1 +
drift)``; its frame is the nearest of the camera's own frame times (pose2d
``t``), -1 where the camera was not filming.
"""
from __future__ import annotations

import base64
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import cv2
import numpy as np

from calibration.camera import Camera, Rig
from pipeline.common.atomic import atomic_path
from pipeline.common.timebase import frame_rate
from pipeline.report.replay import edge_side
from pipeline.report.session import ALL_EDGES, FAIL, WARN

log = logging.getLogger(__name__)

PROXY_HEIGHT = 360
PROXY_SUFFIX = ".webm"
# Colours shared with the 3D replay (assets/replay.js COLOURS), as BGR for OpenCV.
_HEX = {"left": 0x1F9E89, "right": 0x7A55C7, "centre": 0x8A94A6, "spine": 0x1A5CCC, "fail": 0xD62728, "warn": 0xF0A000}
BGR = {k: (v & 0xFF, (v >> 8) & 0xFF, v >> 16) for k, v in _HEX.items()}


class VideoInputError(ValueError):
    """A camera video cannot be read or its proxy written; the message names the file."""


@dataclass(frozen=True)
class Proxy:
    path: Path
    size: tuple[int, int]  # (width, height)
    fps: float
    n_frames: int


def proxy_size(size: tuple[int, int], height: int = PROXY_HEIGHT) -> tuple[int, int]:
    """(width, height) of the proxy of a ``size`` video: ``height`` high (never upscaled), even sides for VP8."""
    w, h = int(size[0]), int(size[1])
    if h <= height:
        return w - w % 2, h - h % 2
    return int(round(w * height / h / 2)) * 2, height


def _open(path: Path) -> cv2.VideoCapture:
    if not path.is_file():
        raise VideoInputError(f"video '{path}' does not exist; give the session's camera videos")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise VideoInputError(f"OpenCV cannot open the video '{path}'; check that it plays, or re-export it as mp4")
    return cap


def write_proxy(video: str | Path, out: str | Path, *, height: int = PROXY_HEIGHT, fps: float | None = None) -> Proxy:
    """Re-encode ``video`` as a VP8 WebM proxy at ``out`` (atomically), ``height`` pixels high.

    ``fps`` defaults to the video's own rate; every frame is kept.
    """
    video, out = Path(video), Path(out)
    clock = time.perf_counter()
    cap = _open(video)
    try:
        src = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        rate = float(fps or cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not np.isfinite(rate) or rate <= 0 or min(src) <= 0:
            raise VideoInputError(f"'{video}' reports no frame rate or size ({rate} fps, {src[0]}x{src[1]}); "
                                  "re-export it with a constant frame rate")
        size = proxy_size(src, height)
        n = 0
        with atomic_path(out) as tmp:
            writer = cv2.VideoWriter(str(tmp), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*"VP80"), rate, size)
            if not writer.isOpened():
                raise VideoInputError(f"OpenCV cannot write a VP8 WebM video at '{out}' (its FFmpeg lacks libvpx?); "
                                      "install opencv-python-headless from PyPI, whose FFmpeg has it")
            try:
                while True:
                    ok, frame = cap.read()
                    if not ok:
                        break
                    if frame.shape[1] != size[0] or frame.shape[0] != size[1]:
                        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
                    writer.write(frame)
                    n += 1
            finally:
                writer.release()
            if n == 0:
                raise VideoInputError(f"no frame of '{video}' could be decoded; check that it plays")
    finally:
        cap.release()
    seconds = time.perf_counter() - clock
    log.info("proxy %s: %d frames %dx%d at %.3g fps from %s (%dx%d), %.1f MB in %.1f s (%.1f ms/frame)", out, n,
             size[0], size[1], rate, video, src[0], src[1], out.stat().st_size / 1e6, seconds, 1000 * seconds / n)
    return Proxy(out, size, rate, n)


def read_proxy(path: str | Path) -> Proxy:
    """A proxy's size, rate and frame count (from its header)."""
    path = Path(path)
    cap = _open(path)
    try:
        size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        fps, n = float(cap.get(cv2.CAP_PROP_FPS)), int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        cap.release()
    if not (fps > 0 and n > 0 and min(size) > 0):
        raise VideoInputError(f"proxy '{path}' reports {n} frames at {fps} fps; delete it so that it is written again")
    return Proxy(path, size, fps, n)


def camera_frames(t_ref: np.ndarray, t_cam: np.ndarray, offset_s: float = 0.0, drift: float = 0.0) -> np.ndarray:
    """(T,) int32: the camera frame (index into ``t_cam``) nearest each timeline time, -1 where it was not filming.

    ``t_cam`` is the camera's own frame times (pose2d ``t``); ``offset_s`` and
    ``drift`` its entry in sync.json.
    """
    t_cam = np.asarray(t_cam, np.float64)
    if t_cam.ndim != 1 or t_cam.size == 0:
        return np.full(len(t_ref), -1, np.int32)
    local = (np.asarray(t_ref, np.float64) - float(offset_s)) / (1.0 + float(drift))
    hi = np.clip(np.searchsorted(t_cam, local), 1, max(1, t_cam.size - 1))
    lo = hi - 1
    if t_cam.size == 1:
        nearest = np.zeros(local.shape, np.int64)
    else:
        nearest = np.where(np.abs(local - t_cam[lo]) <= np.abs(t_cam[hi] - local), lo, hi)
    rate = frame_rate(t_cam)
    half = (0.5 / rate if rate > 0 else 0.0) + 1e-9
    outside = (local < t_cam[0] - half) | (local > t_cam[-1] + half)
    return np.where(outside, -1, nearest).astype(np.int32)


def overlay_points(points: np.ndarray, camera: Camera, size: tuple[int, int]) -> np.ndarray:
    """(..., 3) world points -> (..., 2) pixels of ``camera``'s image scaled to ``size``; NaN behind the camera."""
    cam = camera.resized(size) if tuple(size) != tuple(camera.size) else camera
    pts = np.asarray(points, np.float64)
    xy = cam.project(pts)
    xy[cam.depth(pts) <= 0] = np.nan
    return xy


def best_camera(rig: Rig, names: Sequence[str], facing: np.ndarray, target: np.ndarray | None = None) -> tuple[str, dict[str, float]]:
    """The camera among ``names`` that sees the athlete most side-on, and every camera's score.

    Score: |cos| of the angle between the camera's view of the athlete (the ray
    from its centre to ``target``, the athlete's median position; its optical
    axis when there is none) and the athlete's left-right axis (horizontal,
    perpendicular to ``facing``). 1 is exactly side-on; a camera straight in
    front, behind or overhead scores about 0.
    """
    if not names:
        raise ValueError("best_camera needs at least one camera")
    f = np.array([facing[0], facing[1], 0.0], np.float64)
    f /= max(np.linalg.norm(f), 1e-12)
    lateral = np.array([f[1], -f[0], 0.0])
    scores = {}
    for name in names:
        cam = rig[name]
        ray = (np.asarray(target, np.float64) - cam.center) if target is not None and np.all(np.isfinite(target)) else cam.R[2]
        ray = ray / max(np.linalg.norm(ray), 1e-12)
        scores[name] = float(abs(ray @ lateral))
    return max(names, key=lambda n: (round(scores[n], 6), -list(names).index(n))), scores


def draw_skeleton(image: np.ndarray, xy: np.ndarray, levels: np.ndarray | None = None, *, width: float = 2.0) -> np.ndarray:
    """Draw the segments of ALL_EDGES at pixels ``xy`` (P,2) on a BGR ``image`` (in place; returned).

    ``levels`` (E,) gives each segment's violation level: FAIL red and thick,
    WARN (borderline) amber and thick, else its side's colour. A dark outline
    keeps the lines legible on any background.
    """
    levels = np.zeros(len(ALL_EDGES), np.uint8) if levels is None else np.asarray(levels)
    sides = [edge_side(a, b) for a, b in ALL_EDGES]
    shift = 4  # sub-pixel precision for cv2's anti-aliased lines
    scale = 1 << shift
    ok = np.isfinite(xy).all(axis=1) & (np.abs(np.nan_to_num(xy)) < 30000).all(axis=1)
    order = np.argsort(levels, kind="stable")  # violated segments on top
    thin, thick = max(1, int(round(width))), max(2, int(round(2.2 * width)))
    for k in order:
        a, b = ALL_EDGES[k]
        if not (ok[a] and ok[b]):
            continue
        level = int(levels[k])
        colour = BGR["fail"] if level >= FAIL else BGR["warn"] if level == WARN else BGR[sides[k]]
        w = thick if level else thin
        p, q = tuple(int(v) for v in np.round(xy[a] * scale)), tuple(int(v) for v in np.round(xy[b] * scale))
        cv2.line(image, p, q, (20, 20, 20), w + 2, cv2.LINE_AA, shift)
        cv2.line(image, p, q, colour, w, cv2.LINE_AA, shift)
    return image


def read_frames(path: str | Path, frames: Iterable[int], *, workers: int = 1) -> dict[int, np.ndarray]:
    """BGR images of the requested frames of a video (by index; those it does not have are left out).

    The frames are read in order, split into ``workers`` runs read side by
    side, each with its own decoder (OpenCV seeks and decodes without holding
    the GIL): a seek decodes from the previous key frame, which is most of
    the cost.
    """
    wanted = sorted({int(f) for f in frames if int(f) >= 0})
    if not wanted:
        return {}
    path = Path(path)
    _open(path).release()  # a missing or unreadable video is an error here, not in a worker
    runs = [run for run in np.array_split(np.array(wanted), max(1, min(workers, len(wanted) // 8))) if len(run)]
    if len(runs) == 1:
        return _read_run(path, wanted)
    from concurrent.futures import ThreadPoolExecutor

    out: dict[int, np.ndarray] = {}
    with ThreadPoolExecutor(max_workers=len(runs)) as pool:
        for part in pool.map(lambda run: _read_run(path, [int(f) for f in run]), runs):
            out.update(part)
    return out


def _read_run(path: Path, wanted: list[int]) -> dict[int, np.ndarray]:
    out: dict[int, np.ndarray] = {}
    cap = _open(path)
    try:
        pos = 0  # the frame the next read returns
        for f in wanted:
            # A few frames ahead, decoding forward is cheaper than a seek (which decodes from the last key frame).
            if not 0 <= f - pos <= 4:
                cap.set(cv2.CAP_PROP_POS_FRAMES, f)
                pos = f
            while pos < f and cap.grab():
                pos += 1
            ok, image = cap.read()
            if not ok:
                break
            out[f] = image
            pos = f + 1
    finally:
        cap.release()
    return out


def athlete_box(xy: np.ndarray, size: tuple[int, int], *, margin: float = 0.25, aspect: float = 4 / 3) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the part of a ``size`` image around the points ``xy`` (P,2), ``margin`` of their extent
    added on each side, widened to ``aspect`` (width / height) and kept inside the image; the whole image
    when no point is in it."""
    w, h = size
    pts = xy[np.isfinite(xy).all(axis=1)]
    pts = pts[(pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)]
    if len(pts) < 2:
        return 0, 0, w, h
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    centre = (lo + hi) / 2
    bw, bh = (hi - lo) * (1 + 2 * margin)
    bh = max(bh, bw / aspect, 0.25 * h)  # a body seen end-on is thin: keep some context around it
    bw = bh * aspect
    if bw > w:  # no room for the aspect: as wide as the image
        bw, bh = w, min(h, w / aspect)
    if bh > h:
        bh, bw = h, min(w, h * aspect)
    x0 = int(round(min(max(centre[0] - bw / 2, 0), w - bw)))
    y0 = int(round(min(max(centre[1] - bh / 2, 0), h - bh)))
    return x0, y0, x0 + int(round(bw)), y0 + int(round(bh))


def crop_to_width(image: np.ndarray, box: tuple[int, int, int, int], width: int) -> tuple[np.ndarray, float]:
    """``image`` cut to ``box`` and scaled to ``width`` pixels wide, with the scale applied."""
    x0, y0, x1, y1 = box
    part = image[y0:y1, x0:x1]
    scale = width / max(1, part.shape[1])
    size = (width, max(1, int(round(part.shape[0] * scale))))
    return cv2.resize(part, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR), scale


def jpeg_data_uri(image: np.ndarray, quality: int = 80) -> str:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise VideoInputError("OpenCV could not encode a still as JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def proxies_for(videos: Mapping[str, str | Path], folder: str | Path, *, height: int = PROXY_HEIGHT,
                workers: int = 2) -> dict[str, Proxy]:
    """The proxy of each camera video in ``folder/{cam}.webm``, written unless one newer than its video is there.

    Cameras are encoded side by side on ``workers`` threads (OpenCV decodes and
    encodes without holding the GIL); a proxy is kept while it is newer than
    its video, so rebuilding a report (new cues, a new session in the
    athlete's history) does not encode the videos again.
    """
    from concurrent.futures import ThreadPoolExecutor

    def one(item):
        cam, video = item
        video, target = Path(video), Path(folder) / f"{cam}{PROXY_SUFFIX}"
        if target.is_file() and video.is_file() and target.stat().st_mtime >= video.stat().st_mtime:
            try:
                proxy = read_proxy(target)
                if proxy.size[1] == proxy_size(proxy.size, height)[1]:
                    log.info("proxy %s is newer than %s: kept", target, video)
                    return cam, proxy
            except VideoInputError:
                pass  # unreadable: written again below
        return cam, write_proxy(video, target, height=height)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return dict(pool.map(one, videos.items()))
