"""Headless OpenGL renderer for synthetic footage: instanced ellipsoids and tapered cylinders in a room.

moderngl on an EGL context (Mesa's software GL where there is no GPU). Every
primitive of a frame is drawn in one instanced call per primitive type, so a
frame costs a handful of draw calls whatever the figure looks like.

Projection is exact for the OpenCV camera model: the GL projection is built
from K so the pinhole image matches ``Camera.project`` of the undistorted
camera, rendered on a canvas large enough to hold the whole distorted view;
the lens distortion is then applied by ``cv2.remap`` with the per-camera map of
``pipeline.synthetic.room.distortion_maps`` (distorted pixel -> canvas pixel).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from calibration.camera import Camera
from pipeline.synthetic.room import DistortionMaps, distortion_maps

ELLIPSOID_FIELDS = 15  # centre (3), axes matrix columns (9), colour (3)
CYLINDER_FIELDS = 11  # end a (3), end b (3), radius a, radius b, colour (3)


class RenderContextError(RuntimeError):
    """No OpenGL context could be created (no EGL/Mesa libraries?)."""


_VERTEX_COMMON = """
#version 330
uniform mat4 view_proj;   // world -> clip of the undistorted canvas
"""

_ELLIPSOID_VS = _VERTEX_COMMON + """
in vec3 in_pos;           // unit sphere vertex (also its normal)
in vec3 i_center;
in mat3 i_axes;           // columns: semi-axes in world coordinates
in vec3 i_color;
out vec3 v_normal;
out vec3 v_color;
out vec3 v_world;
void main() {
    vec3 p = i_center + i_axes * in_pos;
    v_normal = transpose(inverse(i_axes)) * in_pos;
    v_color = i_color;
    v_world = p;
    gl_Position = view_proj * vec4(p, 1.0);
}
"""

_CYLINDER_VS = _VERTEX_COMMON + """
in vec3 in_pos;           // (cos t, sin t, h) on a unit cylinder, h in [0, 1]
in vec3 i_a;
in vec3 i_b;
in vec2 i_r;
in vec3 i_color;
out vec3 v_normal;
out vec3 v_color;
out vec3 v_world;
void main() {
    vec3 d = i_b - i_a;
    float len = max(length(d), 1e-6);
    vec3 w = d / len;
    vec3 helper = abs(w.z) < 0.9 ? vec3(0.0, 0.0, 1.0) : vec3(1.0, 0.0, 0.0);
    vec3 u = normalize(cross(w, helper));
    vec3 v = cross(w, u);
    vec3 radial = in_pos.x * u + in_pos.y * v;
    float r = mix(i_r.x, i_r.y, in_pos.z);
    vec3 p = i_a + d * in_pos.z + r * radial;
    // a cone's normal leans toward its thin end
    v_normal = radial - w * (i_r.y - i_r.x) / len;
    v_color = i_color;
    v_world = p;
    gl_Position = view_proj * vec4(p, 1.0);
}
"""

_ROOM_VS = _VERTEX_COMMON + """
in vec3 in_pos;
in vec3 in_normal;
in vec2 in_uv;
in vec3 in_color;
out vec3 v_normal;
out vec3 v_color;
out vec3 v_world;
out vec2 v_uv;
void main() {
    v_normal = in_normal;
    v_color = in_color;
    v_world = in_pos;
    v_uv = in_uv;
    gl_Position = view_proj * vec4(in_pos, 1.0);
}
"""

_LIGHTING = """
uniform vec3 eye;
uniform vec3 key;         // unit direction toward the key light
uniform vec3 fill;        // unit direction toward the fill light
uniform vec4 light;       // ambient, key, fill, specular strengths
vec3 shade(vec3 base, vec3 n_in) {
    vec3 n = normalize(n_in);
    vec3 to_eye = normalize(eye - v_world);
    if (dot(n, to_eye) < 0.0) n = -n;  // inside faces of open cylinders
    float diffuse = light.y * max(dot(n, key), 0.0) + light.z * max(dot(n, fill), 0.0);
    // a little light from the viewer so no side of the figure is black
    diffuse += 0.12 * max(dot(n, to_eye), 0.0);
    vec3 h = normalize(key + to_eye);
    float spec = light.w * pow(max(dot(n, h), 0.0), 24.0);
    return base * (light.x + diffuse) + spec;
}
"""


@dataclass(frozen=True)
class Scene:
    """Lighting and room tones (the defaults are the original gym). Directions point toward the lights."""
    key_dir: tuple[float, float, float] = (0.35, 0.45, 1.0)
    fill_dir: tuple[float, float, float] = (-0.6, -0.3, 0.4)
    ambient: float = 0.28
    key: float = 0.62
    fill: float = 0.22
    specular: float = 0.08
    floor: tuple[float, float, float] = (0.62, 0.43, 0.27)  # plank colour
    walls: tuple[tuple[float, float, float], ...] = ((0.74, 0.72, 0.68), (0.70, 0.70, 0.70), (0.78, 0.76, 0.72),
                                                     (0.66, 0.67, 0.69))

    @classmethod
    def random(cls, rng: np.random.Generator) -> "Scene":
        """Dim to bright, light from any side and height, pale to dark walls, light to dark floors."""
        az, el = rng.uniform(0, 2 * np.pi), rng.uniform(0.3, 1.3)
        key_dir = (float(np.cos(az) * np.cos(el)), float(np.sin(az) * np.cos(el)), float(np.sin(el)))
        fill_dir = (-key_dir[0], -key_dir[1], float(rng.uniform(0.2, 0.8)))
        wall = rng.uniform(0.25, 0.85) * np.array([1.0, 1.0, 1.0]) + rng.uniform(-0.06, 0.06, 3)
        walls = tuple(tuple(float(v) for v in np.clip(wall * rng.uniform(0.92, 1.08), 0, 1)) for _ in range(4))
        floor = np.array([0.62, 0.43, 0.27]) * rng.uniform(0.4, 1.4) + rng.uniform(-0.08, 0.08, 3)
        return cls(key_dir=key_dir, fill_dir=fill_dir, ambient=float(rng.uniform(0.18, 0.38)),
                   key=float(rng.uniform(0.4, 0.85)), fill=float(rng.uniform(0.1, 0.35)),
                   specular=float(rng.uniform(0.02, 0.12)), floor=tuple(float(v) for v in np.clip(floor, 0, 1)), walls=walls)

    def uniforms(self) -> dict:
        def unit(v):
            v = np.asarray(v, float)
            return tuple(float(x) for x in v / np.linalg.norm(v))
        return {"key": unit(self.key_dir), "fill": unit(self.fill_dir),
                "light": (self.ambient, self.key, self.fill, self.specular)}

# Fragments are written as BGR so the framebuffer reads straight into OpenCV order.
_BODY_FS = """
#version 330
in vec3 v_normal;
in vec3 v_color;
in vec3 v_world;
out vec4 f_color;
""" + _LIGHTING + """
void main() {
    f_color = vec4(clamp(shade(v_color, v_normal), 0.0, 1.0).bgr, 1.0);
}
"""

_ROOM_FS = """
#version 330
uniform sampler2D floor_tex;
in vec3 v_normal;
in vec3 v_color;
in vec3 v_world;
in vec2 v_uv;
out vec4 f_color;
""" + _LIGHTING + """
void main() {
    vec3 base = v_color;
    if (v_uv.x >= 0.0) base = texture(floor_tex, v_uv).rgb;
    f_color = vec4(clamp(shade(base, v_normal), 0.0, 1.0).bgr, 1.0);
}
"""


def sphere_mesh(n_lat: int = 12, n_lon: int = 20) -> np.ndarray:
    """Triangles of a unit sphere, (N, 3) float32 vertex positions (= normals)."""
    lat = np.linspace(0, np.pi, n_lat + 1)
    lon = np.linspace(0, 2 * np.pi, n_lon + 1)
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    grid = np.stack([np.sin(la) * np.cos(lo), np.sin(la) * np.sin(lo), np.cos(la)], axis=-1)
    return _grid_triangles(grid)


def cylinder_mesh(n_around: int = 16, n_along: int = 2) -> np.ndarray:
    """Triangles of an open unit cylinder, (N, 3) float32 ``(cos t, sin t, h)``."""
    h = np.linspace(0, 1, n_along + 1)
    t = np.linspace(0, 2 * np.pi, n_around + 1)
    hh, tt = np.meshgrid(h, t, indexing="ij")
    grid = np.stack([np.cos(tt), np.sin(tt), hh], axis=-1)
    return _grid_triangles(grid)


def _grid_triangles(grid: np.ndarray) -> np.ndarray:
    a, b = grid[:-1, :-1], grid[1:, :-1]
    c, d = grid[1:, 1:], grid[:-1, 1:]
    tris = np.stack([a, b, c, a, c, d], axis=2).reshape(-1, 3)
    return np.ascontiguousarray(tris, dtype=np.float32)


def floor_texture(size: int = 512, seed: int = 0, base: tuple[float, float, float] = (0.62, 0.43, 0.27)) -> np.ndarray:
    """RGB uint8 wooden-plank texture: planks of varying tone with dark seams and grain."""
    rng = np.random.default_rng(seed)
    n_rows = 8
    row_h = size // n_rows
    plank_len = size // 2
    y, x = np.mgrid[0:size, 0:size]
    row = y // row_h
    shift = (rng.integers(0, plank_len, n_rows))[row]
    plank = (x + shift) // plank_len + row * 4
    tone = rng.uniform(0.75, 1.15, plank.max() + 1)[plank]
    grain = 0.06 * np.sin(2 * np.pi * (y / row_h * 3.0 + rng.uniform(0, 1, plank.max() + 1)[plank])
                          + 0.02 * x)
    img = np.asarray(base, float)[None, None, :] * (tone + grain)[..., None]
    seam = ((y % row_h) < 2) | (((x + shift) % plank_len) < 2)
    img[seam] *= 0.45
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def room_mesh(half_size: float = 6.0, height: float = 3.0, plank_m: float = 1.6,
              tones: Sequence[tuple[float, float, float]] = Scene.walls) -> np.ndarray:
    """Floor (textured) and four plain walls: (N, 11) float32 pos, normal, uv, colour.

    uv < 0 marks untextured surfaces. Walls differ slightly in tone so the
    room's corners are visible, as in a real gym.
    """
    s, h = half_size, height
    rows = []

    def quad(corners, normal, color, uv=None):
        uv = np.full((4, 2), -1.0) if uv is None else uv
        for i in (0, 1, 2, 0, 2, 3):
            rows.append([*corners[i], *normal, *uv[i], *color])

    floor = np.array([[-s, -s, 0], [s, -s, 0], [s, s, 0], [-s, s, 0]], float)
    quad(floor, (0, 0, 1), (1, 1, 1), uv=(floor[:, :2] + s) / plank_m)
    skirting = 0.1
    for k, (axis, sign) in enumerate([(0, 1), (1, 1), (0, -1), (1, -1)]):
        normal = np.zeros(3)
        normal[axis] = -sign
        other = 1 - axis

        def wall(z0, z1):
            c = np.zeros((4, 3))
            c[:, axis] = sign * s
            c[:, other] = [-s, s, s, -s]
            c[:, 2] = [z0, z0, z1, z1]
            return c

        quad(wall(skirting, h), normal, tones[k])
        quad(wall(0.0, skirting), normal, (0.25, 0.25, 0.27))
    return np.asarray(rows, dtype=np.float32)


def projection_matrix(camera: Camera, maps: DistortionMaps, near: float = 0.05, far: float = 50.0) -> np.ndarray:
    """4x4 world -> clip matrix of ``camera``'s pinhole model drawn on the distortion canvas.

    Canvas pixel ``i`` holds undistorted pixel ``origin + i`` (OpenCV pixel centres
    at integers), and GL window row 0 is canvas row 0, so the framebuffer reads
    top row first with no flip. That mirrors y, which only flips triangle
    winding; culling is off so it does not matter.
    """
    if maps.supersample != 1:
        raise ValueError("projection_matrix expects distortion maps with supersample=1")
    wc, hc = maps.canvas_size
    K = camera.K
    ox, oy = maps.origin
    to_ndc = np.array([
        [2 * K[0, 0] / wc, 2 * K[0, 1] / wc, 2 * (K[0, 2] - ox + 0.5) / wc - 1, 0],
        [0, 2 * K[1, 1] / hc, 2 * (K[1, 2] - oy + 0.5) / hc - 1, 0],
        [0, 0, (far + near) / (far - near), -2 * far * near / (far - near)],
        [0, 0, 1, 0],
    ])
    Rt = np.eye(4)
    Rt[:3, :3] = camera.R
    Rt[:3, 3] = camera.tvec
    return to_ndc @ Rt


@dataclass
class _CameraView:
    camera: Camera
    maps: DistortionMaps
    view_proj: bytes
    eye: tuple[float, float, float]


class Renderer:
    """Draws instanced ellipsoids and tapered cylinders into each camera's distorted image.

    One renderer holds one GL context and one framebuffer per canvas size; make
    one per process and reuse it for every frame and camera.
    """

    def __init__(self, cameras: Sequence[Camera], *, room: bool = True, background: tuple[int, int, int] = (90, 90, 90),
                 samples: int = 4, seed: int = 0, scene: Scene = Scene()) -> None:
        try:
            import moderngl
        except ImportError as exc:  # pragma: no cover - dependency is declared
            raise RenderContextError("moderngl is not installed: pip install moderngl") from exc
        try:
            self.ctx = moderngl.create_standalone_context(backend="egl")
        except Exception as exc:
            raise RenderContextError(
                f"cannot create a headless OpenGL (EGL) context: {exc}. "
                "Install the Debian packages libegl1 libegl-mesa0 libgl1-mesa-dri (make system-deps)."
            ) from exc
        self.background = np.asarray(background, float) / 255.0
        self.scene = scene
        self.samples = samples
        self.views = [self._view(c) for c in cameras]
        ctx = self.ctx
        ctx.enable(moderngl.DEPTH_TEST)
        self.ellipsoid_prog = ctx.program(vertex_shader=_ELLIPSOID_VS, fragment_shader=_BODY_FS)
        self.cylinder_prog = ctx.program(vertex_shader=_CYLINDER_VS, fragment_shader=_BODY_FS)
        self.sphere_vbo = ctx.buffer(sphere_mesh().tobytes())
        self.cylinder_vbo = ctx.buffer(cylinder_mesh().tobytes())
        self.ellipsoid_inst = ctx.buffer(reserve=ELLIPSOID_FIELDS * 4 * 64, dynamic=True)
        self.cylinder_inst = ctx.buffer(reserve=CYLINDER_FIELDS * 4 * 64, dynamic=True)
        self._build_vaos()
        self.room_vao = None
        if room:
            self.room_prog = ctx.program(vertex_shader=_ROOM_VS, fragment_shader=_ROOM_FS)
            tex = floor_texture(seed=seed, base=scene.floor)
            self.floor_tex = ctx.texture(tex.shape[1::-1], 3, tex.tobytes())
            self.floor_tex.build_mipmaps()
            self.floor_tex.repeat_x = self.floor_tex.repeat_y = True
            self.floor_tex.anisotropy = 1.0
            # walls stay behind every camera: a camera outside the room would film a wall
            reach = max(float(np.linalg.norm(v.camera.center[:2])) for v in self.views)
            self.room_vbo = ctx.buffer(room_mesh(half_size=max(6.0, reach + 2.0), tones=scene.walls).tobytes())
            self.room_vao = ctx.vertex_array(
                self.room_prog, [(self.room_vbo, "3f 3f 2f 3f", "in_pos", "in_normal", "in_uv", "in_color")])
        self._fbos: dict[tuple[int, int], tuple] = {}

    @staticmethod
    def _view(camera: Camera) -> _CameraView:
        maps = distortion_maps(camera, 1)
        vp = projection_matrix(camera, maps).T.astype("f4").tobytes()  # GL reads column-major
        return _CameraView(camera, maps, vp, tuple(float(v) for v in camera.center))

    def _build_vaos(self) -> None:
        ctx = self.ctx
        self.ellipsoid_vao = ctx.vertex_array(self.ellipsoid_prog, [
            (self.sphere_vbo, "3f", "in_pos"),
            (self.ellipsoid_inst, "3f 9f 3f/i", "i_center", "i_axes", "i_color"),
        ])
        self.cylinder_vao = ctx.vertex_array(self.cylinder_prog, [
            (self.cylinder_vbo, "3f", "in_pos"),
            (self.cylinder_inst, "3f 3f 2f 3f/i", "i_a", "i_b", "i_r", "i_color"),
        ])

    def _framebuffers(self, size: tuple[int, int]):
        if size not in self._fbos:
            ctx = self.ctx
            ms = ctx.framebuffer(color_attachments=[ctx.renderbuffer(size, 3, samples=self.samples)],
                                 depth_attachment=ctx.depth_renderbuffer(size, samples=self.samples))
            plain = ctx.framebuffer(color_attachments=[ctx.renderbuffer(size, 3)]) if self.samples else ms
            self._fbos[size] = (ms, plain)
        return self._fbos[size]

    def _upload(self, buffer_name: str, data: np.ndarray, fields: int) -> int:
        data = np.ascontiguousarray(data, dtype=np.float32).reshape(-1, fields)
        buf = getattr(self, buffer_name)
        if data.nbytes > buf.size:
            buf.orphan(data.nbytes * 2)
            self._build_vaos()
            buf = getattr(self, buffer_name)
        if len(data):
            buf.write(data.tobytes())
        return len(data)

    def render(self, ellipsoids: np.ndarray, cylinders: np.ndarray) -> list[np.ndarray]:
        """BGR uint8 images (H, W, 3), one per camera, of one frame's primitives.

        ``ellipsoids`` (N, 15): centre, semi-axis matrix (3 columns), colour RGB in [0, 1];
        ``cylinders`` (M, 11): end a, end b, radius at a, radius at b, colour.
        """
        n_ell = self._upload("ellipsoid_inst", ellipsoids, ELLIPSOID_FIELDS)
        n_cyl = self._upload("cylinder_inst", cylinders, CYLINDER_FIELDS)
        images = []
        bg = tuple(self.background[::-1])  # BGR like the fragments
        for view in self.views:
            ms, plain = self._framebuffers(view.maps.canvas_size)
            ms.use()
            ms.clear(*bg, 1.0, depth=1.0)
            progs = [self.ellipsoid_prog, self.cylinder_prog]
            if self.room_vao is not None:
                progs.append(self.room_prog)
                self.floor_tex.use(0)
            for prog in progs:
                prog["view_proj"].write(view.view_proj)
                prog["eye"].value = view.eye
                for name, value in self.scene.uniforms().items():
                    prog[name].value = value
            if self.room_vao is not None:
                self.room_vao.render()
            if n_ell:
                self.ellipsoid_vao.render(instances=n_ell)
            if n_cyl:
                self.cylinder_vao.render(instances=n_cyl)
            if plain is not ms:
                self.ctx.copy_framebuffer(plain, ms)
            w, h = view.maps.canvas_size
            canvas = np.frombuffer(plain.read(components=3, alignment=1), np.uint8).reshape(h, w, 3)
            images.append(cv2.remap(canvas, view.maps.map_x, view.maps.map_y, cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REPLICATE))
        return images

    def release(self) -> None:
        self.ctx.release()

    def __enter__(self) -> "Renderer":
        return self

    def __exit__(self, *exc) -> None:
        self.release()
