"""`hingecap replay SESSION`: the animated skeleton in an Open3D window.

Segments are coloured as in the report (red where they violate a cue at that
frame). Keys: space pauses, right/left step one frame while paused, Q closes.
A window needs a display; without one this says so instead of crashing deep
inside GLFW.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from pipeline.report.session import ALL_EDGES, FAIL, SPINE_EDGES, WARN, load_session, violation_mask

BONE_RGB, SPINE_RGB, BAD_RGB, WARN_RGB = (0.30, 0.33, 0.38), (0.10, 0.35, 0.80), (0.86, 0.10, 0.12), (0.96, 0.62, 0.0)


class NoDisplayError(RuntimeError):
    """There is no display to open a window on."""


def require_display() -> None:
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise NoDisplayError(
            "the desktop replay needs a display (DISPLAY/WAYLAND_DISPLAY not set): run it on a desktop, "
            "over `ssh -X`, or open the session's report/index.html in a browser for the same replay"
        )


def frame_colours(mask: np.ndarray) -> np.ndarray:
    """(T, E, 3) segment colours for every frame from violation_mask levels: base, amber (warn), red (fail)."""
    base = np.tile(np.asarray(BONE_RGB, float), (len(ALL_EDGES), 1))
    base[[ALL_EDGES.index(e) for e in SPINE_EDGES]] = SPINE_RGB
    out = np.where((mask == WARN)[..., None], np.asarray(WARN_RGB, float), base[None])
    return np.where((mask >= FAIL)[..., None], np.asarray(BAD_RGB, float), out)


def replay(session_dir: str | Path, *, speed: float = 1.0, seconds: float | None = None) -> int:
    """Open a window that plays the session until it is closed (or for ``seconds``); return the frames shown."""
    require_display()
    import open3d as o3d

    session = load_session(session_dir)
    points = np.nan_to_num(session.points.astype(np.float64))
    colours = frame_colours(violation_mask(session))
    edges = np.asarray(ALL_EDGES, np.int32)
    lines = o3d.geometry.LineSet(o3d.utility.Vector3dVector(points[0]), o3d.utility.Vector2iVector(edges))
    lines.colors = o3d.utility.Vector3dVector(colours[0])
    state = {"frame": 0, "paused": False, "t0": time.perf_counter(), "f0": 0, "shown": 0}
    started = time.perf_counter()

    vis = o3d.visualization.VisualizerWithKeyCallback()
    if not vis.create_window(f"hingecap replay · {session.name}", 1100, 800):
        raise NoDisplayError("Open3D could not open a window on this display (no OpenGL?); use the HTML report instead")
    vis.add_geometry(lines)
    vis.add_geometry(o3d.geometry.TriangleMesh.create_coordinate_frame(0.3))
    vis.get_render_option().line_width = 6.0
    vis.get_render_option().background_color = np.array([0.98, 0.98, 0.99])

    def show(f: int) -> None:
        state["frame"] = f % session.n_frames
        state["shown"] += 1
        lines.points = o3d.utility.Vector3dVector(points[state["frame"]])
        lines.colors = o3d.utility.Vector3dVector(colours[state["frame"]])
        vis.update_geometry(lines)

    def animate(vis_) -> bool:
        if seconds is not None and time.perf_counter() - started > seconds:
            vis_.close()
            return False
        if state["paused"]:
            return False
        f = state["f0"] + int((time.perf_counter() - state["t0"]) * session.fps * speed)
        if f % session.n_frames == state["frame"]:
            return False
        show(f)
        return True

    def toggle(_vis) -> bool:
        state["paused"] = not state["paused"]
        state["t0"], state["f0"] = time.perf_counter(), state["frame"]
        return False

    def step(delta: int):
        def cb(_vis) -> bool:
            if state["paused"]:
                show(state["frame"] + delta)
            return True
        return cb

    vis.register_key_callback(ord(" "), toggle)
    vis.register_key_callback(262, step(1))   # GLFW right arrow
    vis.register_key_callback(263, step(-1))  # GLFW left arrow
    vis.register_animation_callback(animate)
    vis.run()
    vis.destroy_window()
    return state["shown"]
