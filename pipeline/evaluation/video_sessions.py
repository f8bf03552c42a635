"""The through-video benchmark's sessions: what is rendered, and running the real stages on it.

Each ``SessionSpec`` fixes an athlete (height, limb ratios, body widths, spine
shape, clothes, skin, hair), a set (exercise, reps, the faults injected per rep,
tempo, where the athlete stands and faces), a rig (cameras, image size and
orientation, frame rate, heights) and a room (lighting, floor and wall tones).
``prepare(spec, root)`` renders it once (``pipeline.synthetic.footage``) and runs
the workflow's own stage entries on the videos: ``detect_video`` (BlazePose with
its segmentation) per camera, ``sync_session`` (on the recorder-style timestamp
CSVs written beside the videos), ``triangulate_session`` with the true
calibration. Every step is skipped when its output is already there, so a
killed run resumes where it stopped; the cache lives under ``resources/``
(git-ignored). A cached render made for other parameters or by another
version of the renderer (``pipeline.synthetic.FOOTAGE_VERSION``) is not reused:
the session is rendered and detected again, and the log says why.
"""
from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

VIDEO_DIR, RESULTS_DIR = "video", "results"


@dataclass(frozen=True)
class RigSpec:
    """Cameras of one session (pipeline.synthetic.rig.virtual_rig's parameters)."""
    name: str
    n_cameras: int
    size: tuple[int, int]
    fps: float = 30.0
    height: tuple[float, float] = (1.2, 2.0)
    radius: tuple[float, float] = (3.0, 4.0)
    azimuth_deg: tuple[float, ...] | None = None  # world directions; see ``relative``
    relative: bool = False  # azimuths are relative to the direction the athlete faces
    seed: int = 0

    @property
    def orientation(self) -> str:
        return "portrait" if self.size[1] > self.size[0] else "landscape"


@dataclass(frozen=True)
class SessionSpec:
    name: str
    exercise: str
    n_reps: int
    faults: dict[int, list[str]]
    rig: RigSpec
    seed: int
    walk: bool = False
    yaw_deg: float | None = None  # None: drawn from the seed
    samples: int = 0  # multisampling of the renderer (0: fastest)

    def athlete(self) -> dict:
        """simulate()'s keyword arguments for this session's athlete, drawn from its seed."""
        from pipeline.synthetic.athlete import SpineShape

        rng = np.random.default_rng([self.seed, 11])
        kw = dict(height=float(rng.uniform(1.55, 1.95)), leg_ratio=float(rng.uniform(0.92, 1.08)),
                  arm_ratio=float(rng.uniform(0.93, 1.07)), shoulder_width=float(rng.uniform(0.88, 1.12)),
                  hip_width=float(rng.uniform(0.88, 1.18)), tempo=float(rng.uniform(0.85, 1.15)),
                  position=(float(rng.uniform(-0.3, 0.3)), float(rng.uniform(-0.3, 0.3))))
        yaw = float(rng.uniform(0, 360))
        kw["yaw_deg"] = yaw if self.yaw_deg is None else float(self.yaw_deg)
        kw["spine_shape"] = SpineShape.random(rng)
        return kw

    def look(self):
        """(Palette, Physique, Scene) of this session, drawn from its seed."""
        from pipeline.synthetic.figure import Palette, Physique
        from pipeline.synthetic.gl import Scene

        rng = np.random.default_rng([self.seed, 12])
        return Palette.random(rng), Physique.random(rng), Scene.random(rng)

    def simulate(self):
        from pipeline.synthetic.athlete import simulate

        return simulate(self.exercise, self.n_reps, faults=self.faults, fps=self.rig.fps, seed=self.seed,
                        walk=self.walk, **self.athlete())

    def cameras(self):
        from pipeline.synthetic.rig import virtual_rig

        r = self.rig
        az = r.azimuth_deg
        if az is not None and r.relative:
            az = tuple(a + self.athlete()["yaw_deg"] for a in az)
        return virtual_rig(r.n_cameras, size=r.size, height=r.height, radius=r.radius, azimuth_deg=az, seed=r.seed)

    def describe(self) -> dict:
        a = self.athlete()
        pal, phys, scene = self.look()
        out = asdict(self)
        out["athlete"] = {**{k: v for k, v in a.items() if k != "spine_shape"}, "spine_shape": asdict(a["spine_shape"])}
        out["look"] = {"palette": asdict(pal), "physique": asdict(phys), "scene": asdict(scene)}
        return out


# The rigs: 3-6 cameras, 640x480 to 1920x1080, landscape and portrait, 30 and 60 fps, camera heights 0.7-2.6 m.
RIGS = {
    "ring4_640": RigSpec("ring4_640", 4, (640, 480), 30.0, (1.2, 2.0), seed=0),
    "low3_720": RigSpec("low3_720", 3, (1280, 720), 30.0, (0.7, 1.0), azimuth_deg=(0.0, 120.0, 240.0), seed=1),
    "portrait5_720": RigSpec("portrait5_720", 5, (720, 1280), 30.0, (1.4, 2.6), seed=2),
    "ring4_640_60fps": RigSpec("ring4_640_60fps", 4, (640, 480), 60.0, (1.0, 1.8), seed=3),
    "mixed6_800": RigSpec("mixed6_800", 6, (800, 600), 30.0, (0.7, 2.6), seed=4),
    "high4_1080": RigSpec("high4_1080", 4, (1920, 1080), 30.0, (1.8, 2.6), (3.5, 4.5), seed=5),
    # three cameras in front of the athlete: the nearest is 40 deg from side-on, at the limit
    "front3_960": RigSpec("front3_960", 3, (960, 540), 30.0, (1.0, 1.6), (4.2, 4.8), azimuth_deg=(-50.0, 0.0, 50.0),
                          relative=True, seed=6),
    "ring5_640": RigSpec("ring5_640", 5, (640, 480), 30.0, (1.0, 2.2), seed=7),
    "portrait3_1080": RigSpec("portrait3_1080", 3, (1080, 1920), 30.0, (0.9, 1.6), seed=8),
    # cameras on the diagonals of an athlete facing a wall: no camera sees the athlete side-on
    "diag4_640": RigSpec("diag4_640", 4, (640, 480), 30.0, (1.2, 1.8), azimuth_deg=(45.0, 135.0, 225.0, 315.0),
                         relative=True, seed=9),
    "ring4_640_60fps_b": RigSpec("ring4_640_60fps_b", 4, (640, 480), 60.0, (0.8, 2.4), seed=10),
    "low4_720": RigSpec("low4_720", 4, (1280, 720), 30.0, (0.7, 1.2), seed=11),
    "ring3_640": RigSpec("ring3_640", 3, (640, 480), 30.0, (1.0, 1.6), seed=12),
    "mixed4_960": RigSpec("mixed4_960", 4, (960, 540), 30.0, (0.7, 2.6), seed=13),
}


def plan() -> list[SessionSpec]:
    """The benchmark's sessions: every exercise and every fault, most reps clean.

    Faults are placed by hand (one per faulty rep) so that every cue has faulty
    reps in several sessions, rigs and bodies; the rest of the variety comes from
    each session's seed.
    """
    R = RIGS
    S = SessionSpec
    return [
        S("s01_deadlift", "deadlift", 6, {2: ["rounded_spine"], 4: ["squatting"]}, R["ring4_640"], 101, walk=True),
        S("s02_hinge", "hinge_drill", 6, {2: ["shrugged_shoulders"], 4: ["rounded_spine"], 5: ["knees_caving"]},
          R["low3_720"], 102),
        S("s03_rdl", "romanian_deadlift", 5, {2: ["fast_eccentric"], 4: ["rounded_spine"]}, R["portrait5_720"], 103),
        S("s04_swing", "kettlebell_swing", 8, {2: ["arms_lead"], 4: ["rounded_spine"], 6: ["locked_knees"],
                                               7: ["shrugged_shoulders"]}, R["ring4_640_60fps"], 104),
        S("s05_deadlift", "deadlift", 6, {1: ["hips_not_back"], 3: ["weight_on_toes"], 5: ["rounded_spine"]},
          R["mixed6_800"], 105),
        S("s06_hinge", "hinge_drill", 5, {2: ["locked_knees"], 3: ["shallow_depth"], 5: ["rounded_spine"]},
          R["high4_1080"], 106),
        S("s07_rdl", "romanian_deadlift", 5, {1: ["rounded_spine"], 3: ["shrugged_shoulders"], 5: ["locked_knees"]},
          R["front3_960"], 107),
        S("s08_swing", "kettlebell_swing", 8, {3: ["hips_not_back"], 5: ["rounded_spine"], 7: ["knees_caving"]},
          R["ring5_640"], 108, walk=True),
        S("s09_deadlift", "deadlift", 5, {2: ["shrugged_shoulders"], 4: ["shallow_depth"]}, R["portrait3_1080"], 109),
        S("s10_hinge", "hinge_drill", 6, {1: ["weight_on_toes"], 3: ["squatting"], 5: ["rounded_spine"]},
          R["diag4_640"], 110, yaw_deg=0.0),
        S("s11_rdl", "romanian_deadlift", 4, {2: ["squatting"], 4: ["fast_eccentric"]}, R["ring4_640_60fps_b"], 111),
        S("s12_swing", "kettlebell_swing", 8, {2: ["shrugged_shoulders"], 4: ["arms_lead"], 6: ["weight_on_toes"]},
          R["low4_720"], 112),
        S("s13_deadlift", "deadlift", 5, {1: ["knees_caving"], 3: ["locked_knees"], 5: ["hips_not_back"]},
          R["ring3_640"], 113),
        S("s14_hinge", "hinge_drill", 6, {2: ["squatting"], 4: ["shrugged_shoulders"], 6: ["shallow_depth"]},
          R["mixed4_960"], 114),
    ]


def session_dirs(spec: SessionSpec, root: Path) -> tuple[Path, Path]:
    return Path(root) / spec.name / VIDEO_DIR, Path(root) / spec.name / RESULTS_DIR


def render(spec: SessionSpec, root: Path, *, progress: bool = False) -> Path:
    """Render the session's videos (once), the truth, the calibration and recorder-style timestamp CSVs."""
    from pipeline.common.atomic import write_json, write_text
    from pipeline.synthetic.footage import CALIBRATION, render_session

    from pipeline.synthetic import FOOTAGE_VERSION

    video_dir, _ = session_dirs(spec, root)
    if (video_dir / CALIBRATION).is_file():  # render_session writes it last
        why = stale_render(spec, video_dir)
        if why is None:
            return video_dir
        log.warning("%s: the cached render in %s is stale (%s): rendering and detecting it again", spec.name,
                    video_dir, why)
        shutil.rmtree(video_dir.parent)  # its detections and results came from the stale videos
    t0 = time.time()
    sim = spec.simulate()
    cams = spec.cameras()
    pal, phys, scene = spec.look()
    truth = {k: v for k, v in sim.truth.items()}
    render_session(sim.xyz, cams, video_dir, fps=sim.fps, progress=progress, spine=sim.spine,
                   spine_sigma=sim.spine_sigma, palette=pal, physique=phys, scene=scene, truth=truth,
                   samples=spec.samples, seed=spec.seed)
    t = np.arange(len(sim.xyz)) / sim.fps
    for cam in cams:  # one clock for all cameras, as hingecap record writes it
        write_text(video_dir / f"{cam.name}.timestamps.csv",
                   "frame,t\n" + "".join(f"{i},{v:.6f}\n" for i, v in enumerate(t)))
    write_json(video_dir / "spec.json", {**spec.describe(), "footage_version": FOOTAGE_VERSION,
                                          "labels": [sorted(x) for x in sim.labels],
                                          "rep_frames": sim.rep_frames.tolist(), "facing": sim.facing.tolist(),
                                          "body": {k: (np.asarray(v).tolist()) for k, v in sim.body.items()}})
    log.info("%s: rendered %d frames x %d cameras (%s %dx%d, %g fps) in %.0f s", spec.name, len(sim.xyz), len(cams),
             spec.rig.name, *spec.rig.size, spec.rig.fps, time.time() - t0)
    return video_dir


def stale_render(spec: SessionSpec, video_dir: Path) -> str | None:
    """Why the render cached in ``video_dir`` is not this spec's by the current renderer, or None when it is.
    Renders without a version predate it and count as version 1."""
    from pipeline.synthetic import FOOTAGE_VERSION

    path = Path(video_dir) / "spec.json"
    if not path.is_file():
        return f"{path} is missing"
    cached = load_spec_json(video_dir)
    version = cached.get("footage_version", 1)
    if version != FOOTAGE_VERSION:
        return f"rendered by footage version {version}, the renderer is now version {FOOTAGE_VERSION}"
    wanted = json.loads(json.dumps(spec.describe()))
    changed = sorted(k for k in wanted if cached.get(k) != wanted[k])
    return f"its session parameters changed ({', '.join(changed)})" if changed else None


def run_stages(spec: SessionSpec, root: Path) -> Path:
    """detect (every camera), sync and triangulate, each skipped when its output exists; returns pose3d.npz."""
    from pipeline.detect.stage import detect_video
    from pipeline.sync.stage import sync_session
    from pipeline.synthetic.footage import CALIBRATION
    from pipeline.triangulate.stage import triangulate_session

    video_dir, res = session_dirs(spec, root)
    names = [c.name for c in spec.cameras()]
    pose2d = {c: res / "pose2d" / f"{c}.npz" for c in names}
    for c in names:
        sil = res / "silhouette" / f"{c}.npz"
        if pose2d[c].is_file() and sil.is_file():
            continue
        t0 = time.time()
        detect_video(video_dir / f"{c}.mp4", pose2d[c], silhouette=sil, progress=False)
        log.info("%s: detected %s in %.0f s", spec.name, c, time.time() - t0)
    if not (res / "sync.json").is_file():
        sync_session(pose2d, res / "sync.json", method="auto")
    pose3d = res / "pose3d.npz"
    if not pose3d.is_file():
        t0 = time.time()
        triangulate_session(pose2d, video_dir / CALIBRATION, res / "sync.json", pose3d, device="cpu")
        log.info("%s: triangulated in %.0f s", spec.name, time.time() - t0)
    return pose3d


def prepare(spec: SessionSpec, root: Path) -> Path:
    render(spec, root)
    return run_stages(spec, root)


@dataclass
class Prepared:
    spec: SessionSpec
    video_dir: Path
    results_dir: Path
    extra: dict = field(default_factory=dict)


def load_spec_json(video_dir: Path) -> dict:
    return json.loads((Path(video_dir) / "spec.json").read_text())
