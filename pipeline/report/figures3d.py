"""Open3D offscreen figures: the skeleton at the bottom of each rep, side and front view.

Segments that violate a cue at that frame are drawn red (amber for a
borderline "warn" verdict); the spine's three
model points (head, upper back, sacrum) are marked with blue spheres. One
OffscreenRenderer is made per call and reused for every image because its
start-up (EGL context, Filament engine) costs far more than a frame.

The report renders in a child process (``render_in_child``): importing Open3D
alone takes about 320 MB and a few seconds, which the report's own process
then does not carry, the rest of the report is built meanwhile, and a crash in
the graphics stack (EGL drivers do segfault) costs the figures, not the page.

Headless machines: Open3D renders through EGL; without a display Mesa's
surfaceless platform gives a software context, so EGL_PLATFORM is set before
open3d is imported. Mesa's EGL still probes for a Wayland compositor, and
libwayland prints "error: XDG_RUNTIME_DIR is invalid or not set" on every
report when that variable is missing (as in batch jobs and containers), so a
private runtime folder is set when there is none. Post-processing (tone mapping, SSAO, anti-aliasing) and
the sun light's shadows are switched off: with them a software frame takes
seconds, without them tens of milliseconds.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pipeline.report.session import ALL_EDGES, FAIL, SPINE_EDGES, SPINE_IDX, WARN

VIOLATION_RGB = (0.86, 0.10, 0.12)
WARN_RGB = (0.96, 0.62, 0.0)
BONE_RGB = (0.30, 0.33, 0.38)
SPINE_RGB = (0.10, 0.35, 0.80)
FLOOR_RGB = (0.85, 0.86, 0.88)
_SPINE_EDGE_IDS = [ALL_EDGES.index(e) for e in SPINE_EDGES]


class RenderError(RuntimeError):
    """Open3D could not create an offscreen renderer; the message says what to install."""


def _o3d():
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("EGL_PLATFORM", "surfaceless")
    _runtime_dir()
    import open3d as o3d

    return o3d


def _runtime_dir() -> None:
    """A private XDG_RUNTIME_DIR (mode 0700, removed at exit) when the environment has no usable one."""
    current = os.environ.get("XDG_RUNTIME_DIR")
    if current and os.path.isdir(current) and os.access(current, os.W_OK):
        return
    import atexit
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="hingecap-runtime-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ["XDG_RUNTIME_DIR"] = folder


def _view_cameras(points: np.ndarray, facing: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Eye and centre for a side view (from the athlete's left) and a front view."""
    finite = points[np.isfinite(points).all(axis=1)]
    if not len(finite):  # nothing tracked at this frame: frame an empty floor where a person would stand
        finite = np.array([[0.0, 0.0, 0.0], [0.5, 0.5, 1.8]])
    lo, hi = finite.min(axis=0), finite.max(axis=0)
    centre = (lo + hi) / 2
    # A 30 degree field of view spans about half the distance: keep the body at ~2/3 of the frame.
    dist = 2.9 * max(float(np.max(hi - lo)), 1.0)
    right = np.array([facing[1], -facing[0], 0.0])  # seen from the right the athlete faces the image's right
    lift = np.array([0.0, 0.0, 0.15 * dist])
    return {"side": (centre + dist * right + lift, centre), "front": (centre + dist * facing + lift, centre)}


def render_rep_figures(
    frames: np.ndarray, violated: np.ndarray, facing: np.ndarray, out_dir: str | Path | None = None,
    *, size: tuple[int, int] = (480, 540), prefix: str = "rep", numbers: list[int] | None = None,
) -> list[dict[str, np.ndarray]]:
    """Render each skeleton in ``frames`` (R,36,3) from the side and the front.

    ``violated`` (R,E) gives each segment of ALL_EDGES its level (session.WARN
    amber, session.FAIL red; a bool array means FAIL where True). Returns one
    {"side": rgb, "front": rgb} dict of uint8 images per rep; with ``out_dir``
    also writes ``{prefix}{n:02d}_{view}.png`` there, n the rep's number
    (``numbers``, default 1..R).
    """
    frames = np.asarray(frames, np.float64)
    violated = np.asarray(violated)
    levels = violated.astype(np.uint8) * FAIL if violated.dtype == bool else violated.astype(np.uint8)
    if frames.ndim != 3 or frames.shape[1] != SPINE_IDX["sacrum"] + 1 or violated.shape != (len(frames), len(ALL_EDGES)):
        raise ValueError(f"frames must be (R,36,3) and violated (R,{len(ALL_EDGES)}); got {frames.shape}, {violated.shape}")
    o3d = _o3d()
    rendering = o3d.visualization.rendering
    try:
        renderer = rendering.OffscreenRenderer(*size)
    except Exception as exc:  # open3d raises plain RuntimeError with EGL details
        raise RenderError(
            f"Open3D could not open an offscreen renderer ({exc}); install the Debian packages libegl1 "
            "libgl1-mesa-dri mesa-vulkan-drivers (make system-deps)"
        ) from exc
    scene = renderer.scene
    scene.view.set_post_processing(False)
    scene.scene.enable_sun_light(False)
    scene.set_lighting(rendering.Open3DScene.LightingProfile.NO_SHADOWS, np.array([0.0, 0.0, -1.0]))
    scene.set_background([1.0, 1.0, 1.0, 1.0])
    line_mat = rendering.MaterialRecord()
    line_mat.shader, line_mat.line_width = "unlitLine", 6.0
    unlit = rendering.MaterialRecord()
    unlit.shader = "defaultUnlit"
    floor_mat = rendering.MaterialRecord()
    floor_mat.shader, floor_mat.line_width = "unlitLine", 1.0
    edges = np.asarray(ALL_EDGES, np.int32)
    results = []
    out = Path(out_dir) if out_dir is not None else None
    numbers = list(numbers) if numbers is not None else list(range(1, len(frames) + 1))
    try:
        for r, (pts, level) in enumerate(zip(frames, levels)):
            scene.clear_geometry()
            ok = np.isfinite(pts[edges]).all(axis=(1, 2))
            colours = np.tile(BONE_RGB, (len(edges), 1))
            colours[_SPINE_EDGE_IDS] = SPINE_RGB
            colours[level == WARN] = WARN_RGB
            colours[level >= FAIL] = VIOLATION_RGB
            bones = o3d.geometry.LineSet(o3d.utility.Vector3dVector(np.nan_to_num(pts)),
                                         o3d.utility.Vector2iVector(edges[ok]))
            bones.colors = o3d.utility.Vector3dVector(colours[ok])
            scene.add_geometry("bones", bones, line_mat)
            scene.add_geometry("floor", _floor(o3d, pts), floor_mat)
            for name, idx in SPINE_IDX.items():
                if np.isfinite(pts[idx]).all():
                    ball = o3d.geometry.TriangleMesh.create_sphere(0.03, resolution=10)
                    ball.translate(pts[idx])
                    ball.paint_uniform_color(SPINE_RGB)
                    scene.add_geometry(f"spine_{name}", ball, unlit)
            views = {}
            for view, (eye, centre) in _view_cameras(pts, facing).items():
                renderer.setup_camera(30.0, centre, eye, np.array([0.0, 0.0, 1.0]))
                views[view] = np.asarray(renderer.render_to_image()).copy()
                if out is not None:
                    _write_png(out / f"{prefix}{numbers[r]:02d}_{view}.png", views[view])
            results.append(views)
    finally:
        del renderer
    return results


def _floor(o3d, pts: np.ndarray):
    """A 2 m grid on z = 0 under the athlete, for scale."""
    cx, cy = np.nanmean(pts[:, :2], axis=0)
    ticks = np.linspace(-1.0, 1.0, 9)
    a = np.stack([np.stack([cx + ticks, np.full(9, cy - 1), np.zeros(9)], 1), np.stack([np.full(9, cx - 1), cy + ticks, np.zeros(9)], 1)])
    b = np.stack([np.stack([cx + ticks, np.full(9, cy + 1), np.zeros(9)], 1), np.stack([np.full(9, cx + 1), cy + ticks, np.zeros(9)], 1)])
    verts = np.concatenate([a.reshape(-1, 3), b.reshape(-1, 3)])
    lines = np.stack([np.arange(18), np.arange(18) + 18], axis=1)
    grid = o3d.geometry.LineSet(o3d.utility.Vector3dVector(verts), o3d.utility.Vector2iVector(lines))
    grid.paint_uniform_color(FLOOR_RGB)
    return grid


def render_pngs(frames: np.ndarray, violated: np.ndarray, facing: np.ndarray, out_dir: str | Path | None,
                numbers: list[int]) -> list[dict[str, bytes]]:
    """render_rep_figures, each image encoded as PNG once: written to ``out_dir`` and returned as bytes."""
    from pipeline.common.atomic import write_bytes

    pngs = []
    for n, views in zip(numbers, render_rep_figures(frames, violated, facing, numbers=numbers)):
        pngs.append({view: png_bytes(rgb) for view, rgb in views.items()})
        if out_dir is not None:
            for view, data in pngs[-1].items():
                write_bytes(Path(out_dir) / f"rep{n:02d}_{view}.png", data)
    return pngs


def render_in_child(frames: np.ndarray, violated: np.ndarray, facing: np.ndarray, out_dir: str | Path,
                    numbers: list[int]) -> "ChildRender":
    """Start render_pngs in a fresh Python process writing into ``out_dir``; ``result()`` waits for its PNGs.

    A plain subprocess (``python -m pipeline.report.figures3d``), not
    multiprocessing: that would re-import the caller's main script, which
    breaks any script without a ``__main__`` guard.
    """
    import os
    import pickle
    import subprocess
    import sys
    import tempfile

    out = Path(out_dir)
    err = tempfile.TemporaryFile()  # a file, not a pipe: a chatty renderer cannot fill it and stall
    root = str(Path(__file__).resolve().parents[2])  # the child imports this package as the parent does
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.report.figures3d", str(out)], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
    job = pickle.dumps((np.asarray(frames, np.float32), np.asarray(violated, np.uint8), np.asarray(facing, np.float64),
                        [int(n) for n in numbers]))
    return ChildRender(proc, job, err, out, [int(n) for n in numbers])


class ChildRender:
    """A figure-rendering process under way."""

    def __init__(self, proc, job: bytes, err, out: Path, numbers: list[int]) -> None:
        self.proc, self.job, self.err, self.out, self.numbers = proc, job, err, out, numbers
        # Hand the job over now (a pipe holds 64 kB; a long session's job is larger) so it starts rendering.
        import threading

        self._feeder = threading.Thread(target=self._feed, daemon=True)
        self._feeder.start()

    def _feed(self) -> None:
        try:
            self.proc.stdin.write(self.job)
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass  # the child died at start: result() reports why

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.err.close()

    def result(self) -> list[dict[str, bytes]]:
        self._feeder.join()
        self.proc.wait()
        self.err.seek(0)
        err = self.err.read()
        self.err.close()
        if self.proc.returncode != 0:
            lines = [ln for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
            said = next((ln for ln in reversed(lines) if "Error" in ln), lines[-1] if lines else "no message")
            raise RenderError(f"the Open3D renderer process failed (exit code {self.proc.returncode}): {said}")
        return [{view: (self.out / f"rep{n:02d}_{view}.png").read_bytes() for view in ("side", "front")}
                for n in self.numbers]


def png_bytes(rgb: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:
        raise RenderError("could not encode a figure as PNG")
    return buf.tobytes()


def _write_png(path: Path, rgb: np.ndarray) -> None:
    from pipeline.common.atomic import write_bytes

    write_bytes(path, png_bytes(rgb))


if __name__ == "__main__":  # the report's renderer process (render_in_child): the job on stdin, out_dir
    import pickle
    import sys

    _frames, _violated, _facing, _numbers = pickle.load(sys.stdin.buffer)
    try:
        render_pngs(_frames, _violated, _facing, sys.argv[1], _numbers)
    except RenderError as _exc:
        sys.exit(f"RenderError: {_exc}")
