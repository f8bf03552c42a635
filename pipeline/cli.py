"""The ``hingecap`` command. Each command is a thin call into the packages.

Heavy imports happen inside the commands so ``hingecap --help`` stays instant.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Multi-camera 3D motion capture that judges hip-hinge form.")


class UserError(Exception):
    """Bad input the user can fix; the message names the file and what to do."""


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
    from calibration.synthetic import ROOM_BOARD, render_room

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
# (sync/triangulation)
# (recording)
# (analysis)
@app.command()
def analyze(
    pose3d: Path = typer.Argument(..., help="the session's pose3d.npz (xyz (T,33,3) metres, t seconds)"),
    exercise: str = typer.Option(..., "--exercise", "-e", help="hinge_drill, deadlift, romanian_deadlift or kettlebell_swing (the exercises of the cues file)"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="folder for kinematics.csv and reps.json (default: beside POSE3D)"),
    cues: Optional[Path] = typer.Option(None, help="cues file (default config/cues.yaml)"),
    only: list[str] = typer.Option([], "--cue", help="judge only this cue (repeat)"),
    hip_offset_m: Optional[float] = typer.Option(None, help="move the hip landmarks this far up the trunk to the hip joint centres (default: the cues file's settings.hip_offset_m; 0 for synthetic footage)"),
) -> None:
    """Measure the hinge: spine and hip trajectories, reps and each coaching cue's verdict per rep."""
    from pipeline.analysis import analyze_session

    out_dir = output if output is not None else pose3d.parent
    try:
        rep = analyze_session(pose3d, exercise, out_dir, cues, only_cues=list(only) or None, hip_offset_m=hip_offset_m)
    except (ValueError, FileNotFoundError) as exc:
        _fail(exc)
    for r in rep["reps"]:
        bad = [c["id"] for c in r["cues"] if c["verdict"] == "fail"]
        state = "unreliable (landmarks missing)" if not r["reliable"] else (", ".join(bad) or "quality rep")
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
    import yaml

    from pipeline.report import build_report
    from pipeline.report.progress import config_context

    meta: dict = {}
    past: list = []
    cfg_path = config if config is not None else Path("config/config.yaml")
    try:
        if cfg_path.is_file():
            cfg = yaml.safe_load(cfg_path.read_text()) or {}
            if config is not None or session_dir.name in (cfg.get("sessions") or {}):
                meta, past = config_context(cfg, session_dir.name, session_dir.parent.parent)
        elif config is not None:
            raise FileNotFoundError(f"config file '{config}' does not exist")
        given = {"athlete": athlete, "exercise": exercise, "date": date, "load_kg": load_kg, "notes": notes}
        meta.update({k: v for k, v in given.items() if v is not None})
        index = build_report(session_dir, meta, out, history=past + list(history), figures=figures)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        _fail(exc)
    typer.echo(f"report written: {index}")


@app.command()
def replay(
    session_dir: Path = typer.Argument(..., help="the session's results folder (results/sessions/NAME)"),
    speed: float = typer.Option(1.0, help="playback speed"),
    seconds: Optional[float] = typer.Option(None, help="close the window after this long (default: when closed)"),
) -> None:
    """Play the session's 3D skeleton in an Open3D window (needs a display)."""
    from pipeline.replay_desktop import replay as run_replay

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
    from pipeline.export import export_session

    try:
        path = export_session(session_dir, format, out, units=units)
    except (ValueError, FileNotFoundError) as exc:
        _fail(exc)
    typer.echo(f"exported: {path}")


# (workflow/demo)


if __name__ == "__main__":
    app()
