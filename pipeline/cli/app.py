"""The ``hingecap`` command. Each command is a thin call into the packages.

Heavy imports happen inside the commands so ``hingecap --help`` stays instant.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from typer.core import TyperGroup


class _Commands(TyperGroup):
    """Every command: a full disk is one line naming the file, not a traceback."""

    def invoke(self, ctx):
        from pipeline.common.atomic import DiskFullError

        try:
            return super().invoke(ctx)
        except DiskFullError as exc:
            _fail(exc)


app = typer.Typer(cls=_Commands, add_completion=False, no_args_is_help=True,
                  help="Multi-camera 3D motion capture that judges hip-hinge form.")


def _fail(exc: Exception) -> None:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


# --- commands: each block is owned by the module it calls -------------------
# (calibration)
@app.command()
def calibrate(
    room_dir: Path = typer.Argument(..., help="folder with one video or image folder per camera, named by camera"),
    board: str = typer.Option(..., "--board", "-b", help="charuco:5x7:0.08:0.06:DICT_4X4_50, checkerboard:5x8:0.06 (squares) or a YAML file"),
    output: Path = typer.Option(Path("calibration.toml"), "--output", "-o", help="calibration file to write (anipose TOML)"),
    floor_frame: Optional[int] = typer.Option(None, help="video frame where the board lies on the floor (default: last static view seen by most cameras)"),
    step: Optional[int] = typer.Option(None, help="use every STEP-th frame (default: at most 400 frames per camera)"),
    no_length_check: bool = typer.Option(False, "--no-length-check", help="accept videos of different lengths"),
    no_refine_intrinsics: bool = typer.Option(False, "--no-refine-intrinsics", help="keep per-camera intrinsics fixed in the bundle adjustment"),
) -> None:
    """Calibrate a room: intrinsics, extrinsics and a floor-aligned world frame (metres, z up)."""
    from calibration.board import BoardSpec
    from calibration.calibrate import calibrate_room
    from calibration.errors import CalibrationError

    try:
        result = calibrate_room(room_dir, BoardSpec.parse(board), output, floor_frame=floor_frame, step=step,
                                length_check=not no_length_check, refine_intrinsics=not no_refine_intrinsics)
    except (CalibrationError, FileNotFoundError) as exc:
        _fail(exc)
    meta = result.metadata
    for cam in result.cameras:
        typer.echo(f"{cam.name}: RMS {meta['rms_px'][cam.name]:.3f} px over {meta['views'][cam.name]} views, "
                   f"f = {cam.K[0, 0]:.1f} px, centre at {', '.join(f'{v:.3f}' for v in cam.center)} m")
    typer.echo(f"floor frame {meta['floor_frame']}; wrote {output}")


@app.command("synth-room")
def synth_room(
    out_dir: Path = typer.Argument(..., help="folder to write the rendered videos, board.yaml and ground_truth.json into"),
    cameras: int = typer.Option(4, help="number of cameras"),
    seed: int = typer.Option(0, help="random seed of the rig and the board motion"),
    board: Optional[str] = typer.Option(None, "--board", "-b", help="board to render (default charuco:5x7:0.16:0.12:DICT_4X4_50)"),
) -> None:
    """Render a virtual calibration room (a ChArUco board filmed by a virtual rig) with its ground truth."""
    from calibration.board import BoardSpec
    from pipeline.synthetic.room import ROOM_BOARD, render_room

    render_room(out_dir, n_cameras=cameras, seed=seed, per_camera=30, per_pair=25,
                board=BoardSpec.parse(board) if board else ROOM_BOARD)
    typer.echo(f"rendered {cameras} cameras into {out_dir}; next: hingecap calibrate {out_dir} --board {out_dir / 'board.yaml'}")


@app.command("convert-calibration")
def convert_calibration_cmd(
    source: Path = typer.Argument(..., help="anipose/Pose2Sim TOML or Qualisys .qca.txt"),
    output: Path = typer.Option(Path("calibration.toml"), "--output", "-o"),
) -> None:
    """Rewrite an existing calibration file as hingecap's (anipose-compatible) TOML."""
    from calibration.calibrate import convert_calibration
    from calibration.errors import CalibrationError

    try:
        cams = convert_calibration(source, output)
    except (CalibrationError, FileNotFoundError) as exc:
        _fail(exc)
    typer.echo(f"{len(cams)} cameras ({', '.join(c.name for c in cams)}) written to {output}")


# (detection)
@app.command()
def detect(
    video: Path = typer.Argument(..., help="one camera's video; a {stem}.timestamps.csv beside it (frame,t) gives the times"),
    output: Path = typer.Option(..., "--output", "-o", help="pose2d file to write (.npz: xy, conf, t)"),
    model_complexity: int = typer.Option(1, help="BlazePose model: 1 full (the only one in mediapipe's wheel)"),
    max_frames: Optional[int] = typer.Option(None, help="stop after this many frames"),
    timestamps: Optional[Path] = typer.Option(None, help="frame,t CSV (default: {stem}.timestamps.csv beside VIDEO, else frame / fps)"),
    calibration: Optional[Path] = typer.Option(None, "--calibration", "-c", help="the room's calibration: the person standing nearest where the athlete should be is measured on every frame"),
    camera: Optional[str] = typer.Option(None, help="this video's camera in the calibration (default: the video's stem)"),
    athlete_position: Optional[str] = typer.Option(None, help="X,Y: the floor point (m) where the athlete works (needs --calibration)"),
    athlete_camera: Optional[str] = typer.Option(None, help="the athlete is the person nearest this calibrated camera (needs --calibration)"),
) -> None:
    """2D landmarks of everyone in one video (MediaPipe BlazePose, 33 per person and frame; NaN where not measured)."""
    from pipeline.contracts import ContractError
    from pipeline.contracts.pose2d import read_pose2d
    from pipeline.detect.stage import detect_video
    from pipeline.detect.video import DetectionError

    try:
        detect_video(video, output, model_complexity=model_complexity, timestamps=timestamps, max_frames=max_frames,
                     calibration=calibration, camera=camera, athlete=_athlete_option(athlete_position, athlete_camera))
        pose = read_pose2d(output)
    except (DetectionError, ContractError, ValueError) as exc:
        _fail(exc)
    if pose.truncated:
        typer.secho(f"warning: {video} is truncated: {pose.frames_decoded} of the {pose.frames_stated} frames its "
                    "container states could be decoded", fg=typer.colors.YELLOW, err=True)
    typer.echo(f"{video}: a person detected in {100 * pose.detection_rate:.1f} % of {len(pose.xy)} frames, up to "
               f"{pose.n_people} at once (times from {pose.t_source}); wrote {output}")


def _athlete_option(position: Optional[str], camera: Optional[str]) -> Optional[dict]:
    """The ``athlete:`` setting from --athlete-position X,Y / --athlete-camera NAME (pipeline.common.athlete)."""
    from pipeline.common.athlete import athlete_hint

    if position is None and camera is None:
        return None
    value: dict = {}
    if position is not None:
        try:
            value["position"] = [float(v) for v in position.split(",")]
        except ValueError:
            raise typer.BadParameter(f"--athlete-position wants X,Y in metres, got {position!r}") from None
    if camera is not None:
        value["nearest_camera"] = camera
    athlete_hint(value)  # checks it: position [x, y], not both
    return value
# (sync/triangulation)
@app.command()
def triangulate(
    pose2d_dir: Path = typer.Argument(..., help="folder of {camera}.npz 2D landmark files (hingecap detect)"),
    calibration: Path = typer.Option(..., "--calibration", "-c", help="the room's calibration file"),
    output: Path = typer.Option(..., "--output", "-o", help="session results folder: sync.json and pose3d.npz go there"),
    sync: str = typer.Option("auto", help="auto | timestamps | xcorr | none"),
    device: str = typer.Option("auto", help="auto | cpu | gpu"),
    repair_swaps: bool = typer.Option(True, help="repair MediaPipe's left/right swaps using the other cameras"),
    refine_calibration: bool = typer.Option(False, help="shift each camera's principal point by its body joints' constant offset"),
    cutoff_hz: float = typer.Option(6.0, help="low-pass cut-off (0: none)"),
    max_gap_s: float = typer.Option(0.25, help="fill landmark gaps up to this long"),
    athlete_position: Optional[str] = typer.Option(None, help="X,Y: the athlete is the person most often nearest this floor point (m)"),
    athlete_camera: Optional[str] = typer.Option(None, help="the athlete is the person most often nearest this calibrated camera"),
) -> None:
    """Synchronise the cameras, match the people across them, choose the athlete, then triangulate, repair and
    filter the athlete's 3D skeleton (pose3d.npz)."""
    from pipeline.contracts.pose3d import tracked_text
    from pipeline.sync.stage import sync_session
    from pipeline.sync.timeline import SyncError
    from pipeline.triangulate.stage import triangulate_session

    pose2d = {p.stem: p for p in sorted(pose2d_dir.glob("*.npz"))}
    try:
        if not pose2d:
            raise FileNotFoundError(f"no 2D landmark files (*.npz) in '{pose2d_dir}': run hingecap detect first")
        sync_info = sync_session(pose2d, output / "sync.json", method=sync)
        info = triangulate_session(pose2d, calibration, output / "sync.json", output / "pose3d.npz", device=device,
                                   repair_swaps=repair_swaps, refine_calibration=refine_calibration,
                                   cutoff_hz=cutoff_hz or None, max_gap_s=max_gap_s,
                                   athlete=_athlete_option(athlete_position, athlete_camera))
    except (SyncError, ValueError, FileNotFoundError) as exc:
        _fail(exc)
    for cam, c in sync_info["cameras"].items():
        typer.echo(f"{cam}: offset {c['offset_s'] * 1000:+.1f} ms (confidence {c['confidence']:.2f})")
    rep = info["reprojection_px"]
    for line in info.get("warnings", []):
        typer.secho(f"warning: {line}", fg=typer.colors.YELLOW, err=True)
    people = info.get("people") or {}
    typer.echo(f"athlete: {people.get('rule', '-')}; {len(people.get('others') or [])} other person(s) seen")
    typer.echo(f"sync {sync_info['method']}; {tracked_text(info['tracked_pct'])} of landmarks tracked; median reprojection "
               f"error {rep['median_body_joints'] or float('nan'):.1f} px (body joints); wrote {output / 'pose3d.npz'}")


# (recording)
@app.command()
def record(
    session_dir: Path = typer.Argument(..., help="folder to write one video and one timestamp CSV per camera into"),
    cameras: str = typer.Option(..., "--cameras", "-c", help="comma-separated device indices (0,1,2,3), or video files / stream URLs standing in for cameras"),
    seconds: Optional[float] = typer.Option(None, help="stop after this many seconds (default: at Ctrl-C)"),
    names: Optional[str] = typer.Option(None, help="comma-separated camera names, one per camera (default cam{device index})"),
    fps: Optional[float] = typer.Option(None, help="frame rate to ask the cameras for"),
    size: Optional[str] = typer.Option(None, help="frame size to ask the cameras for, WxH (e.g. 1280x720)"),
    realtime: bool = typer.Option(True, help="read video-file sources at their own frame rate (--no-realtime: as fast as possible)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace videos already in SESSION_DIR"),
    progress: bool = typer.Option(True, help="show each camera's live frame rate and dropped frames"),
) -> None:
    """Record a session: one video per camera plus per-frame timestamps on one clock (stop with Ctrl-C or --seconds)."""
    from pipeline.record.recorder import RecordError, parse_size, parse_sources, record as run_record, summary_lines

    try:
        sources = parse_sources(cameras)
        cam_names = [n.strip() for n in names.split(",")] if names else None
        summary = run_record(sources, session_dir, seconds=seconds, names=cam_names, fps=fps,
                             size=parse_size(size) if size else None, progress=progress, realtime=realtime,
                             overwrite=overwrite)
    except (RecordError, ValueError) as exc:
        _fail(exc)
    for line in summary_lines(summary):
        typer.echo(line)
    typer.echo(f"stopped by {summary['stopped_by']} after {summary['duration_s']:.1f} s; "
               f"wrote {session_dir}/{{camera}}.mp4, {{camera}}.timestamps.csv and recording.json")
    if any(c["status"] not in ("ok", "ended") for c in summary["cameras"].values()):
        raise typer.Exit(code=1)


# (analysis)
@app.command()
def analyze(
    pose3d: Path = typer.Argument(..., help="the session's pose3d.npz (xyz (T,33,3) metres, t seconds)"),
    exercise: str = typer.Option(..., "--exercise", "-e", help="hinge_drill, deadlift, romanian_deadlift or kettlebell_swing (the exercises of the cues file)"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="folder for kinematics.csv and reps.json (default: beside POSE3D)"),
    cues: Optional[Path] = typer.Option(None, help="cues file (default config/cues.yaml)"),
    only: list[str] = typer.Option([], "--cue", help="judge only this cue (repeat)"),
    hip_offset_m: Optional[float] = typer.Option(None, help="move the hip landmarks this far up the trunk (default: the cues file's settings.hip_offset_m, 0)"),
    calibration: Optional[Path] = typer.Option(None, "--calibration", "-c", help="the room's calibration: with the silhouettes, the back and the feet are measured in the images"),
    silhouettes: Optional[Path] = typer.Option(None, help="folder of silhouette/{cam}.npz (default: silhouette/ beside POSE3D)"),
) -> None:
    """Measure the hinge: spine and hip trajectories, reps and each coaching cue's verdict per rep."""
    from pipeline.analyze.stage import analyze_session
    from pipeline.contracts.pose3d import read_pose3d

    out_dir = output if output is not None else pose3d.parent
    sil_dir = silhouettes if silhouettes is not None else pose3d.parent / "silhouette"
    sils = None
    if calibration is not None:
        try:
            sils = {c: sil_dir / f"{c}.npz" for c in read_pose3d(pose3d).cameras}
        except (ValueError, FileNotFoundError) as exc:
            _fail(exc)
    try:
        rep = analyze_session(pose3d, exercise, out_dir, cues, only_cues=list(only) or None, hip_offset_m=hip_offset_m,
                              silhouettes=sils, calibration=calibration)
    except (ValueError, FileNotFoundError) as exc:
        _fail(exc)
    for r in rep["reps"]:
        bad = [c["id"] for c in r["cues"] if c["verdict"] == "fail"]
        unjudged = [c["id"] for c in r["cues"] if c["verdict"] == "not_judged"]
        border = [c["id"] for c in r["cues"] if c["verdict"] == "borderline"]
        state = ((", ".join(bad) or "quality rep") + (f" (borderline: {', '.join(border)})" if border else "")
                 + (f" (not judged: {', '.join(unjudged)})" if unjudged else ""))
        typer.echo(f"rep {r['index']}: {r['t_start']:.1f}-{r['t_end']:.1f} s, hip flexion {r['metrics']['hip_flex_bottom']:.0f} deg, "
                   f"down {r['lowering_s']:.1f} s / up {r['rising_s']:.1f} s: {state}")
    typer.echo(f"{rep['summary']['quality_reps']} quality reps of {rep['n_reps']}; wrote {out_dir / 'kinematics.csv'} and {out_dir / 'reps.json'}")


# (report/replay/export)
@app.command()
def report(
    session_dir: Path = typer.Argument(..., help="the session's results folder (results/sessions/NAME)"),
    config: Optional[Path] = typer.Option(None, help="workflow config to read the session's athlete, date, load and notes from, and its athlete's earlier sessions (default: config/config.yaml if the session is in it)"),
    athlete: Optional[str] = typer.Option(None, help="overrides the config"),
    exercise: Optional[str] = typer.Option(None, help="overrides the config"),
    date: Optional[str] = typer.Option(None, help="overrides the config"),
    load_kg: Optional[float] = typer.Option(None, help="overrides the config"),
    notes: Optional[str] = typer.Option(None, help="overrides the config"),
    history: list[Path] = typer.Option([], help="an earlier session's results folder (repeat); added to those found in the config"),
    out: Optional[Path] = typer.Option(None, help="report folder (default SESSION_DIR/report)"),
    figures: bool = typer.Option(True, help="render the Open3D figures of each rep"),
) -> None:
    """Build the session's self-contained HTML report (replay, rep table, figures, plots, progress)."""
    from pipeline.common.config import ConfigError, read_yaml
    from pipeline.report import build_report
    from pipeline.report.evidence import config_footage
    from pipeline.report.progress import config_context

    meta: dict = {}
    past: list = []
    footage: dict = {}
    no_video = "no workflow config names this session, so its videos and calibration are unknown"
    cfg_path = config if config is not None else Path("config/config.yaml")
    try:
        if cfg_path.is_file():
            cfg = read_yaml(cfg_path) or {}
            if not isinstance(cfg, dict):
                raise ConfigError(f"{cfg_path}: a config file holds a mapping (rooms:, sessions:, options:)")
            if config is not None or session_dir.name in (cfg.get("sessions") or {}):
                meta, past = config_context(cfg, session_dir.name, session_dir.parent.parent)
                footage, no_video = config_footage(cfg, session_dir.name, session_dir.parent.parent)
        elif config is not None:
            raise FileNotFoundError(f"config file '{config}' does not exist")
        given = {"athlete": athlete, "exercise": exercise, "date": date, "load_kg": load_kg, "notes": notes}
        meta.update({k: v for k, v in given.items() if v is not None})
        index = build_report(session_dir, meta, out, history=past + list(history), figures=figures, **footage)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        _fail(exc)
    if no_video:
        typer.echo(f"no video panel: {no_video}")
    typer.echo(f"report written: {index}")


@app.command()
def replay(
    session_dir: Path = typer.Argument(..., help="the session's results folder (results/sessions/NAME)"),
    speed: float = typer.Option(1.0, help="playback speed"),
    seconds: Optional[float] = typer.Option(None, help="close the window after this long (default: when closed)"),
) -> None:
    """Play the session's 3D skeleton in an Open3D window (needs a display)."""
    from pipeline.report.desktop_replay import replay as run_replay

    try:
        shown = run_replay(session_dir, speed=speed, seconds=seconds)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        _fail(exc)
    typer.echo(f"replay closed after {shown} frames")


@app.command()
def export(
    session_dir: Path = typer.Argument(..., help="the session's results folder (results/sessions/NAME)"),
    format: str = typer.Option("trc", "--format", "-f", help="trc (OpenSim), c3d or csv"),
    out: Optional[Path] = typer.Option(None, help="output file (default SESSION_DIR/export/pose3d.FORMAT)"),
    units: str = typer.Option("mm", help="TRC units: mm or m"),
) -> None:
    """Export the session's 3D landmarks as TRC, C3D or CSV."""
    from pipeline.export.formats import export_session

    try:
        path = export_session(session_dir, format, out, units=units)
    except (ValueError, FileNotFoundError) as exc:
        _fail(exc)
    typer.echo(f"exported: {path}")


# (workflow/demo)
@app.command()
def run(
    configfile: Optional[Path] = typer.Option(None, "--config", help="workflow config (default config/config.yaml)"),
    cores: str = typer.Option("all", help="cores for Snakemake"),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="show the jobs without running them"),
    unlock: bool = typer.Option(False, "--unlock", help="remove the lock a killed run left behind (then run again)"),
    targets: list[str] = typer.Argument(None, help="output files to make (default: every session's report)"),
) -> None:
    """Run the whole workflow (Snakemake, local profile): every room's calibration and every session's report.

    The config is checked before Snakemake starts, and one run at a time may
    use a results folder (a lock file in it), whatever folder it is started from.
    """
    from pipeline.cli.lock import ResultsLockedError
    from pipeline.cli.workflow import run_workflow
    from pipeline.common.config import ConfigError

    extra = ["--dry-run"] if dry_run else ["--unlock"] if unlock else []
    try:
        code = run_workflow(configfile, cores=cores, targets=targets or (), extra=extra)
    except (ConfigError, ResultsLockedError) as exc:
        _fail(exc)
    raise typer.Exit(code)


def _run_to_report(config: Path, session_name: str, cores: str) -> Path:
    """Run the workflow on ``config`` from the repository root, print the session's verdicts; its results folder."""
    from pipeline.cli.workflow import run_workflow
    from pipeline.common.paths import ROOT
    from pipeline.examples.demo import summary

    from pipeline.cli.lock import ResultsLockedError
    from pipeline.common.config import ConfigError

    try:
        code = run_workflow(config, cores=cores, cwd=ROOT)
    except (ConfigError, ResultsLockedError) as exc:
        _fail(exc)
    if code:
        _fail(RuntimeError(f"the workflow failed (Snakemake exit code {code}); see the job logs under results/"))
    session = ROOT / "results" / "sessions" / session_name
    typer.echo(summary(session))
    return session


@app.command()
def demo(
    cores: str = typer.Option("all", help="cores for Snakemake"),
) -> None:
    """Render a virtual room and an athlete deadlifting with faults, then run the whole workflow on them."""
    from pipeline.common.paths import ROOT
    from pipeline.examples.demo import DEMO_DIR, check, prepare_demo

    typer.echo(f"preparing the example in {DEMO_DIR} (rendered once, then reused)")
    prepare_demo(ROOT / DEMO_DIR)
    session = _run_to_report(ROOT / "config" / "config.yaml", "demo_session", cores)
    typer.echo("against the truth (cues the injected faults break -> cues failed; the back's flexion in the silhouette):")
    for row in check(ROOT / DEMO_DIR, session):
        back = "not judged" if row["back_flex_deg"] is None else f"{row['back_flex_deg']:.0f} deg"
        typer.echo(f"  rep {row['rep']}: {', '.join(row['injected']) or 'clean'} -> {', '.join(row['failed']) or 'none'}; "
                   f"back flexion {back} (true rounding {row['true_rounding_deg']:.0f} deg), detected hips "
                   f"{row['hip_error_along_trunk_cm']:+.1f} cm along the trunk")
    typer.echo(f"report: {session / 'report' / 'index.html'}")


@app.command()
def example(
    cores: str = typer.Option("all", help="cores for Snakemake"),
) -> None:
    """Real footage: fetch the Pose2Sim demo (4 cameras, Qualisys calibration) and run the workflow to a report."""
    from pipeline.common.paths import ROOT
    from pipeline.examples.pose2sim import EXAMPLE_CONFIG, prepare_example

    try:
        config_path = prepare_example(ROOT)
    except (RuntimeError, FileNotFoundError) as exc:
        _fail(exc)
    session = _run_to_report(config_path, "pose2sim_demo", cores)
    typer.echo(f"report: {session / 'report' / 'index.html'} (config: {EXAMPLE_CONFIG})")
