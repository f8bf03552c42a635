# What every stage's rules share: the checked config, the results layout, each session's cameras.
# Functions only; the steps themselves are in one .smk file per stage.
import re
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

from pipeline.common.athlete import athlete_name
from pipeline.common.config import (ConfigError, check_config, check_names, earlier_sessions, schema_error,
                                    session_cameras, session_option)
from pipeline.common.stage_log import run_stage

min_version("8.20")


# `--configfile other.yaml` replaces the default config instead of merging into it.
if not config:

    configfile: "config/config.yaml"


try:
    check_names(config)  # before the schema, whose message for a bad name is hard to read
    validate(config, "../schemas/config.schema.yaml")
    check_config(config)
except WorkflowError as exc:
    raise SystemExit(f"hingecap: {schema_error(exc)}") from None
except ConfigError as exc:
    raise SystemExit(f"hingecap: {exc}") from None

RESULTS = config["results"]
OPTIONS = config["options"]
SESSIONS = config["sessions"]
CAMERAS = {name: session_cameras(s, key=f"sessions.{name}") for name, s in SESSIONS.items()}


def session_dir(session):
    return f"{RESULTS}/sessions/{session}"


def room_calibration(session):
    return f"{RESULTS}/rooms/{SESSIONS[session]['room']}/calibration.toml"


def all_reports():
    return [f"{session_dir(s)}/report/index.html" for s in SESSIONS]


def pose2d_files(wildcards):
    return {cam: f"{session_dir(wildcards.session)}/pose2d/{cam}.npz" for cam in CAMERAS[wildcards.session]}


def silhouette_files(wildcards):
    """Every camera's silhouette, for the analysis; none when a camera's 2D file is there without its
    silhouette (2D landmarks made elsewhere, or before detect wrote silhouettes): asking for it would
    re-detect and overwrite that file. The analysis then says the back and the feet were not judged."""
    files = {cam: f"{session_dir(wildcards.session)}/silhouette/{cam}.npz" for cam in CAMERAS[wildcards.session]}
    pose2d = pose2d_files(wildcards)
    if any(Path(pose2d[cam]).exists() and not Path(sil).exists() for cam, sil in files.items()):
        return {}
    return files


def report_videos(wildcards):
    return {cam: str(video) for cam, video in CAMERAS[wildcards.session].items()}


def calibration_input(wildcards):
    room = config["rooms"][wildcards.room]
    return room["calibration"] if room.get("calibration") else room["calibration_videos"]


def camera_video(wildcards):
    video = CAMERAS[wildcards.session][wildcards.cam]
    stamps = video.with_name(f"{video.stem}.timestamps.csv")
    return {"video": str(video), **({"timestamps": str(stamps)} if stamps.is_file() else {})}


def report_history(wildcards):
    return [f"{session_dir(s)}/reps.json" for s in earlier_sessions(config, wildcards.session)]


def session_meta(wildcards):
    keys = ("athlete", "exercise", "date", "load_kg", "notes")
    meta = {k: v for k, v in SESSIONS[wildcards.session].items() if k in keys}
    if "athlete" in meta:
        meta["athlete"] = athlete_name(meta["athlete"])  # the setting may also say how to find the athlete
    return meta


def athlete_setting(session):
    # how to tell the athlete from other people (pipeline.common.athlete); None: the default rule
    return SESSIONS[session].get("athlete")


def history_entries(wildcards):
    # by session name, never re-derived from a path: a folder name need not be a session's name
    return [{"dir": Path(session_dir(s)), **SESSIONS[s]} for s in earlier_sessions(config, wildcards.session)]


def session_pattern():
    """The wildcard constraint matching exactly the configured sessions ('.' in a name is not a regex wildcard)."""
    return "|".join(re.escape(s) for s in SESSIONS) or "(?!)"


def gpu_request(wildcards):
    # a cluster job asks for a GPU only when the config asks for one (device: gpu)
    return "'--gres=gpu:1'" if OPTIONS["device"] == "gpu" else ""


def camera_inputs(rule_input):
    """The per-camera pose2d files among a step's named inputs."""
    return {name: path for name, path in rule_input.items() if name in CAMERA_NAMES}


CAMERA_NAMES = {cam for cams in CAMERAS.values() for cam in cams}
