"""Record a session: one video and one per-frame timestamp CSV per camera, all on one clock.

One capture thread per camera grabs frames as fast as the camera delivers them
and stamps each with ``time.monotonic()`` taken right after the grab, relative
to one start time shared by all cameras; a writer thread per camera encodes the
frames (so encoding never delays a grab) and writes the matching CSV row.
``pipeline.sync.offsets`` then resamples every camera onto one timeline from these
timestamps.

Files, per camera ``name`` in the session folder:
* ``{name}.mp4`` -- the frames, in order;
* ``{name}.timestamps.csv`` -- header ``frame,t``, one row per video frame,
  ``t`` in seconds (microseconds resolution, strictly increasing);
and ``recording.json``, the per-camera summary (frames, mean fps, dropped
frames, status).

Both files of a camera are written under temporary names and renamed when the
camera's recording is closed, so a crashed recorder never leaves a video that
looks complete. A stop by Ctrl-C, ``stop_event`` or ``seconds`` closes every
file properly; the recording is kept.

A source is a device index (``cv2.VideoCapture(0)``) or anything else OpenCV
opens: a video file (read at its own frame rate when ``realtime``, so it stands
in for a camera in tests and dry runs) or a stream URL.
"""
from __future__ import annotations

import datetime as _dt
import os
import queue
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np
from tqdm import tqdm

from pipeline.common.atomic import atomic_path, write_json
from pipeline.detect.video import TIMESTAMPS_SUFFIX  # detection reads {cam}.timestamps.csv beside each video

VIDEO_EXT = ".mp4"
VIDEO_FOURCC = "mp4v"  # MPEG-4 part 2: every OpenCV/FFmpeg build writes and reads it
SUMMARY_FILE = "recording.json"
DROP_GAP = 1.5  # a gap longer than this many frame periods means frames were dropped
STALL_S = 2.0  # a live camera that delivers nothing for this long has stopped
EARLY_S = 0.5  # a camera that stops this much before the others ended early
QUEUE_FRAMES = 16  # frames buffered between a camera's grabber and its encoder
FALLBACK_FPS = 30.0  # container frame rate when the camera does not report one


class RecordError(RuntimeError):
    """A camera cannot be recorded; the message names it. Raised before anything is written."""


# --- inputs ------------------------------------------------------------------

def parse_sources(text: str) -> list[int | str]:
    """``"0,1,2"`` -> ``[0, 1, 2]``; anything that is not a whole number stays a path/URL."""
    items = [s.strip() for s in str(text).split(",")]
    if not items or any(not s for s in items):
        raise ValueError(f"--cameras '{text}': give comma-separated device indices or video paths, e.g. 0,1,2,3")
    return [int(s) if s.isdigit() else s for s in items]


def parse_size(text: str) -> tuple[int, int]:
    """``"1280x720"`` -> ``(1280, 720)``."""
    try:
        w, h = (int(v) for v in str(text).lower().split("x"))
    except ValueError:
        raise ValueError(f"size '{text}': expected WIDTHxHEIGHT, e.g. 1280x720") from None
    if w <= 0 or h <= 0:
        raise ValueError(f"size '{text}': width and height must be positive")
    return w, h


def default_names(sources: Sequence[int | str]) -> list[str]:
    """``cam{device index}`` for devices, ``cam{position in the list}`` for files and URLs."""
    return [f"cam{s}" if isinstance(s, int) else f"cam{i}" for i, s in enumerate(sources)]


def describe(source: int | str | os.PathLike) -> str:
    return f"device {source}" if isinstance(source, int) else f"'{source}'"


def _is_file(source: int | str | os.PathLike) -> bool:
    return not isinstance(source, int) and Path(source).is_file()


# --- timestamps --------------------------------------------------------------

def dropped_frames(t: Sequence[float] | np.ndarray, fps: float | None = None) -> int:
    """Frames missing from a timestamp series: each gap longer than 1.5 frame periods
    counts ``round(gap / period) - 1`` frames. The period is ``1 / fps`` when the
    nominal rate is known, else the median interval."""
    t = np.asarray(t, dtype=np.float64)
    if t.size < 2:
        return 0
    gaps = np.diff(t)
    period = 1.0 / fps if fps else float(np.median(gaps))
    if not period > 0:
        return 0
    big = gaps[gaps > DROP_GAP * period]
    return int(np.sum(np.maximum(np.rint(big / period) - 1, 1)))


# --- one camera ----------------------------------------------------------------

@dataclass
class _Camera:
    name: str
    source: int | str
    cap: Any
    paced: bool  # a file read at its own frame rate
    live: bool  # a device or stream (may stall; warmed up before the start)
    nominal_fps: float  # 0 when unknown
    video: Path
    csv: Path
    times: list[float] = field(default_factory=list)  # grabbed (capture thread)
    written: int = 0  # frames in the video and rows in the CSV so far (writer thread)
    size: tuple[int, int] | None = None
    reason: str = "recording"  # why the capture loop ended: stop, seconds, ended, failed
    note: str = ""
    end_t: float | None = None
    error: BaseException | None = None
    reported: bool = False


def _open(source: int | str, name: str, fps: float | None, size: tuple[int, int] | None) -> tuple[Any, str]:
    """Open one source; ``(capture, warning)``. Raises RecordError naming the camera."""
    if not isinstance(source, int) and "://" not in str(source) and not Path(source).exists():
        raise RecordError(f"camera {name}: cannot open {describe(source)}: no such file")
    cap = cv2.VideoCapture(source if isinstance(source, int) else str(source))
    if not cap.isOpened():
        cap.release()
        hint = (" -- is it plugged in and free (not used by another program)? `v4l2-ctl --list-devices` lists cameras"
                if isinstance(source, int) else " -- not a video OpenCV can read")
        raise RecordError(f"camera {name}: cannot open {describe(source)}{hint}")
    warning = ""
    if not _is_file(source):
        if size is not None:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
        if fps is not None:
            cap.set(cv2.CAP_PROP_FPS, fps)
        # A live camera's first frame can take a second: take it before the common start.
        ok, frame = cap.read()
        if not ok or frame is None:
            cap.release()
            raise RecordError(f"camera {name}: {describe(source)} opened but delivered no frame "
                              "(used by another program, or a mode it cannot give?)")
        got = (frame.shape[1], frame.shape[0])
        if size is not None and got != tuple(size):
            warning = f"{name}: asked for {size[0]}x{size[1]}, the camera gives {got[0]}x{got[1]}"
        got_fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        if fps is not None and got_fps and abs(got_fps - fps) > 0.5:
            warning = (warning + "; " if warning else f"{name}: ") + f"asked for {fps:g} fps, the camera reports {got_fps:g}"
    return cap, warning


def _put(q: queue.Queue, item: Any, writer: threading.Thread) -> bool:
    """Blocking put that gives up when the writer has died (False)."""
    while True:
        try:
            q.put(item, timeout=0.5)
            return True
        except queue.Full:
            if not writer.is_alive():
                return False


def _capture(cam: _Camera, q: queue.Queue, writer: threading.Thread, t0: float, seconds: float | None,
             stop: threading.Event, user_stop: threading.Event | None) -> None:
    i = 0
    first = t0
    last = -np.inf
    last_ok = time.monotonic()
    try:
        while True:
            if stop.is_set() or (user_stop is not None and user_stop.is_set()):
                cam.reason = "stop"
                break
            if cam.paced and i > 0:  # frame i is due i/fps after the file's first frame, like a camera's
                due = first + i / cam.nominal_fps
                if seconds is not None and due - t0 >= seconds:
                    cam.reason = "seconds"
                    break
                delay = due - time.monotonic()
                if delay > 0:
                    stop.wait(min(delay, 0.1))
                    continue
            elif seconds is not None and time.monotonic() - t0 >= seconds:
                cam.reason = "seconds"
                break
            ok = cam.cap.grab()
            now = time.monotonic()
            frame = None
            if ok:
                ok, frame = cam.cap.retrieve()
            if not ok or frame is None:
                if not cam.live or now - last_ok >= STALL_S:
                    cam.reason = "ended"
                    what = "end of file" if _is_file(cam.source) else f"no frame for {now - last_ok:.1f} s"
                    cam.note = f"stopped delivering frames after {i} frames at {now - t0:.2f} s ({what})"
                    break
                stop.wait(0.005)
                continue
            last_ok = now
            if i == 0:
                first = now
            if frame.ndim == 2:
                frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
            shape = (frame.shape[1], frame.shape[0])
            if cam.size is None:
                cam.size = shape
            elif shape != cam.size:
                cam.reason = "ended"
                cam.note = (f"frame size changed from {cam.size[0]}x{cam.size[1]} to {shape[0]}x{shape[1]} "
                            f"at frame {i}; recording of this camera stopped there")
                break
            # Microsecond resolution as written; never equal to the previous stamp.
            t = max(round(now - t0, 6), round(last + 1e-6, 6))
            last = t
            if not _put(q, (frame, t), writer):
                cam.reason = "failed"
                break
            cam.times.append(t)
            i += 1
    except Exception as exc:  # reported in the summary; the other cameras go on
        cam.reason, cam.error = "failed", exc
        cam.note = f"capture failed after {i} frames: {exc}"
    finally:
        cam.end_t = time.monotonic() - t0
        _put(q, None, writer)


def _write(cam: _Camera, q: queue.Queue, fps_out: float) -> None:
    item = q.get()
    if item is None:
        return
    try:
        frame, _ = item
        h, w = frame.shape[:2]
        with atomic_path(cam.video) as tmp_video, atomic_path(cam.csv) as tmp_csv:
            writer = cv2.VideoWriter(str(tmp_video), cv2.VideoWriter_fourcc(*VIDEO_FOURCC), fps_out, (w, h))
            if not writer.isOpened():
                raise RecordError(f"camera {cam.name}: cannot write {cam.video} ({VIDEO_FOURCC}, {w}x{h})")
            try:
                with open(tmp_csv, "w", encoding="utf-8", newline="") as fh:
                    fh.write("frame,t\n")
                    while item is not None:
                        frame, t = item
                        writer.write(frame)
                        fh.write(f"{cam.written},{t:.6f}\n")
                        cam.written += 1
                        item = q.get()
            finally:
                writer.release()
    except BaseException as exc:  # atomic_path removed the temporary files
        cam.reason, cam.error = "failed", exc
        cam.note = f"writing failed after {cam.written} frames: {exc}; nothing kept"
        cam.written = 0


# --- the session -----------------------------------------------------------------

def record(sources: Sequence[int | str | os.PathLike], out_dir: str | os.PathLike, *, seconds: float | None = None,
           names: Sequence[str] | None = None, fps: float | None = None, size: tuple[int, int] | None = None,
           stop_event: threading.Event | None = None, progress: bool = True, realtime: bool = True,
           overwrite: bool = False) -> dict:
    """Record every source into ``out_dir`` until ``seconds``, ``stop_event``, Ctrl-C
    (SIGINT/SIGTERM, when called from the main thread) or until every source has ended.

    ``fps`` and ``size`` (width, height) are asked of devices and streams (files
    keep theirs). ``realtime`` reads file sources at their own frame rate.
    Returns the summary also written to ``out_dir/recording.json``. Raises
    ``RecordError`` naming the camera, before anything is written, when a
    source cannot be opened (or a live one gives no first frame).
    """
    sources = [s if isinstance(s, int) else str(s) for s in sources]
    if not sources:
        raise ValueError("no cameras to record")
    names = list(names) if names is not None else default_names(sources)
    if len(names) != len(sources):
        raise ValueError(f"{len(names)} names for {len(sources)} cameras")
    if len(set(names)) != len(names):
        raise ValueError(f"camera names must differ, got {', '.join(names)} (give --names)")
    bad = [n for n in names if not n or n in (".", "..") or any(c in n for c in "/\\")]
    if bad:
        raise ValueError(f"camera name '{bad[0]}' cannot be a file name")
    if seconds is not None and not seconds > 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    if fps is not None and not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    out_dir = Path(out_dir)
    if not overwrite:
        taken = [p.name for n in names for p in (out_dir / f"{n}{VIDEO_EXT}", out_dir / f"{n}{TIMESTAMPS_SUFFIX}")
                 if p.exists()]
        if taken:
            raise RecordError(f"{out_dir} already holds {', '.join(taken)}: record into another folder "
                              "or pass overwrite (--overwrite)")

    cams: list[_Camera] = []
    warnings: list[str] = []
    try:
        for src, name in zip(sources, names):
            cap, warning = _open(src, name, fps, size)
            is_file = _is_file(src)
            nominal = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
            if not (0 < nominal < 1000):
                nominal = 0.0
            cams.append(_Camera(name=name, source=src, cap=cap, paced=bool(realtime and is_file and nominal > 0),
                                live=not is_file, nominal_fps=nominal,
                                video=out_dir / f"{name}{VIDEO_EXT}", csv=out_dir / f"{name}{TIMESTAMPS_SUFFIX}"))
            if warning:
                warnings.append(warning)
    except BaseException:
        for cam in cams:
            cam.cap.release()
        raise
    out_dir.mkdir(parents=True, exist_ok=True)

    stop = threading.Event()
    interrupted = threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        def on_signal(signum, frame):  # noqa: ARG001
            interrupted.set()
            stop.set()
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)

    bars: list[tqdm] = []
    try:
        for w in warnings:
            tqdm.write(f"warning: {w}", file=sys.stderr)
        if progress:
            bars = [tqdm(desc=cam.name, unit="frame", position=i, leave=False, file=sys.stderr, mininterval=0,
                         bar_format="{desc}: {n_fmt} frames, {elapsed}{postfix}") for i, cam in enumerate(cams)]
        started_at = _dt.datetime.now().astimezone()
        t0 = time.monotonic()  # the one clock: every timestamp is monotonic() - t0
        threads = []
        for cam in cams:
            q: queue.Queue = queue.Queue(maxsize=QUEUE_FRAMES)
            fps_out = cam.nominal_fps or fps or FALLBACK_FPS
            writer = threading.Thread(target=_write, args=(cam, q, fps_out), name=f"write-{cam.name}", daemon=True)
            grabber = threading.Thread(target=_capture, args=(cam, q, writer, t0, seconds, stop, stop_event),
                                       name=f"capture-{cam.name}", daemon=True)
            threads.append((grabber, writer))
        for grabber, writer in threads:
            writer.start()
            grabber.start()
        _monitor(cams, threads, bars, stop, stop_event)
        for _, writer in threads:
            writer.join()
    finally:
        for cam in cams:
            cam.cap.release()
        for bar in bars:
            bar.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    summary = _summary(cams, started_at, seconds, fps, size, interrupted.is_set(),
                       stop_event is not None and stop_event.is_set())
    write_json(out_dir / SUMMARY_FILE, summary)
    return summary


def _monitor(cams: list[_Camera], threads: list[tuple[threading.Thread, threading.Thread]], bars: list[tqdm],
             stop: threading.Event, user_stop: threading.Event | None) -> None:
    """Wait for the capture threads; once a second show each camera's fps and drops."""
    seen = [(time.monotonic(), 0)] * len(cams)
    next_show = time.monotonic() + 1.0
    while any(g.is_alive() for g, _ in threads):
        time.sleep(0.05)
        if user_stop is not None and user_stop.is_set():
            stop.set()
        for cam, (grabber, _) in zip(cams, threads):
            if not grabber.is_alive() and not cam.reported and cam.reason in ("ended", "failed"):
                cam.reported = True
                others = any(g.is_alive() for g, _ in threads)
                tqdm.write(f"warning: camera {cam.name}: {cam.note}" + ("; the others keep recording" if others else ""),
                           file=sys.stderr)
        now = time.monotonic()
        if bars and now >= next_show:
            next_show = now + 1.0
            for k, (cam, bar) in enumerate(zip(cams, bars)):
                n = len(cam.times)
                t_prev, n_prev = seen[k]
                rate = (n - n_prev) / (now - t_prev) if now > t_prev else 0.0
                seen[k] = (now, n)
                state = "" if threads[k][0].is_alive() else f", {cam.reason.upper()}"
                bar.n = n
                bar.set_postfix_str(f"{rate:5.1f} fps, {dropped_frames(cam.times, cam.nominal_fps)} dropped{state}",
                                    refresh=False)
                bar.refresh()
    if bars:
        for cam, bar in zip(cams, bars):
            bar.n = len(cam.times)
            bar.refresh()


def _summary(cams: list[_Camera], started_at: _dt.datetime, seconds: float | None, fps: float | None,
             size: tuple[int, int] | None, interrupted: bool, user_stopped: bool) -> dict:
    if interrupted:
        stopped_by = "interrupt"
    elif user_stopped:
        stopped_by = "stop_event"
    elif any(c.reason == "seconds" for c in cams):
        stopped_by = "seconds"
    else:
        stopped_by = "sources ended"
    last_end = max((c.end_t or 0.0) for c in cams)
    out: dict[str, Any] = {
        "started_at": started_at.isoformat(timespec="milliseconds"),
        "clock": "time.monotonic() right after each grab, seconds from one start shared by all cameras",
        "stopped_by": stopped_by,
        "duration_s": round(last_end, 3),
        "requested": {"seconds": seconds, "fps": fps, "size": list(size) if size else None},
        "cameras": {},
    }
    for cam in cams:
        t = np.asarray(cam.times[:cam.written], dtype=np.float64)
        n = int(t.size)
        if cam.reason == "failed" or cam.error is not None:
            status = "failed"
        elif n == 0:
            status = "no frames"
        elif cam.reason == "ended":
            early = stopped_by != "sources ended" or last_end - (cam.end_t or 0.0) > EARLY_S
            status = "ended early" if early else "ended"
        else:
            status = "ok"
        out["cameras"][cam.name] = {
            "source": cam.source,
            "video": cam.video.name if n else None,
            "timestamps": cam.csv.name if n else None,
            "frames": n,
            "size": list(cam.size) if cam.size and n else None,
            "nominal_fps": cam.nominal_fps or None,
            "mean_fps": round((n - 1) / float(t[-1] - t[0]), 3) if n >= 2 and t[-1] > t[0] else None,
            "dropped": dropped_frames(t, cam.nominal_fps),
            "first_t": float(t[0]) if n else None,
            "last_t": float(t[-1]) if n else None,
            "status": status,
            "note": cam.note or ("no frame was recorded" if n == 0 else ""),
        }
    return out


def summary_lines(summary: dict) -> list[str]:
    """One human line per camera, for the CLI."""
    lines = []
    for name, c in summary["cameras"].items():
        fps = f"{c['mean_fps']:.2f} fps mean" if c["mean_fps"] else "fps n/a"
        line = f"{name}: {c['frames']} frames, {fps}, {c['dropped']} dropped"
        if c["status"] not in ("ok", "ended"):
            line += f" -- {c['status'].upper()}: {c['note']}"
        lines.append(line)
    return lines
