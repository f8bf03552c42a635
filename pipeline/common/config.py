"""The workflow configuration: reading it, and the checks a JSON schema cannot make.

The schema (``workflow/schemas/config.schema.yaml``) is applied with
Snakemake's ``validate()``, which also fills in its defaults: by the workflow
itself (``workflow/rules/common.smk``) and here for Python callers
(``validate_config``, ``load_config``). ``schema_error`` turns a schema error
into a message naming the key. ``check_names`` runs first: room, session and
camera names become folder and file names under ``results/`` and Snakemake
wildcards, so they are held to ``NAME_RULE``. ``check_config`` catches what a
schema cannot: a session naming a room that does not exist, an input folder
that is missing, an output folder that would land outside ``results/``.
Every message names the offending key (and ``load_config`` the file).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Mapping

import jsonschema
import yaml

from pipeline.common.paths import CONFIG_SCHEMA, VIDEO_SUFFIXES

# Names become folders under results/, Snakemake wildcards and shell words: nothing that could climb out
# of results/ ('..', '/'), start an option ('-') or mean something to a shell or a regex engine.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
NAME_RULE = "letters, digits, '_', '.' and '-', starting with a letter or digit, without '..'"


class ConfigError(ValueError):
    """The workflow configuration is wrong; the message names the key."""


def is_safe_name(name: Any) -> bool:
    return isinstance(name, str) and bool(NAME_PATTERN.fullmatch(name)) and ".." not in name


def check_name(name: Any, key: str, what: str) -> None:
    """A ConfigError naming ``key`` unless ``name`` follows NAME_RULE."""
    if not isinstance(name, str):
        raise ConfigError(f"{key}: the {what} name {name!r} must be text; put it in quotes")
    if not is_safe_name(name):
        raise ConfigError(f"{key}: the {what} name {name!r} is not allowed: use {NAME_RULE} (it becomes a folder "
                          f"under results/); rename it")


def check_names(config: Mapping[str, Any]) -> None:
    """Room and session names, and the cameras a session lists, follow NAME_RULE (run before the schema)."""
    if not isinstance(config, Mapping):
        return  # the schema says what is wrong with it
    for section, what in (("rooms", "room"), ("sessions", "session")):
        block = config.get(section)
        if isinstance(block, Mapping):
            for name in block:
                check_name(name, f"{section}.{name}", what)
    sessions = config.get("sessions")
    for name, session in (sessions.items() if isinstance(sessions, Mapping) else ()):
        cameras = session.get("cameras") if isinstance(session, Mapping) else None
        if isinstance(cameras, list):
            for cam in cameras:
                check_name(cam, f"sessions.{name}.cameras", "camera")
            twice = sorted({c for c in cameras if cameras.count(c) > 1})
            if twice:
                raise ConfigError(f"sessions.{name}.cameras: duplicate camera(s) {', '.join(twice)}; list each camera once")


def schema_error(exc: BaseException) -> ConfigError:
    """A ConfigError naming the key from Snakemake's validate() error (it wraps jsonschema's)."""
    error = exc if isinstance(exc, jsonschema.ValidationError) else exc.__context__
    if not isinstance(error, jsonschema.ValidationError):
        return ConfigError(f"invalid configuration: {exc}")
    where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    return ConfigError(f"invalid configuration:\n  {where}: {error.message}")


def validate_config(config: dict, *, base: Path | None = None, check_paths: bool = True) -> dict:
    """Check ``config`` against the schema (filling its defaults in place) and its cross-references."""
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    check_names(config)
    try:
        validate(config, str(CONFIG_SCHEMA))
    except WorkflowError as exc:
        raise schema_error(exc) from None
    check_config(config, base=base, check_paths=check_paths)
    return config


def check_config(config: Mapping[str, Any], *, base: Path | None = None, check_paths: bool = True) -> None:
    """What the schema cannot check: rooms named by sessions exist, input folders and files exist."""
    if config.get("options", {}).get("model_complexity") == 0:
        raise ConfigError("options.model_complexity: 0 (BlazePose lite) is not in mediapipe 0.10.21's wheel and "
                          "MediaPipe would download it at run time, which hingecap does not do; use 1 (full)")
    base = Path(base) if base is not None else Path.cwd()
    check_names(config)
    _check_athletes(config)
    rooms = config.get("rooms", {})
    for name, session in config.get("sessions", {}).items():
        if session["room"] not in rooms:
            raise ConfigError(
                f"sessions.{name}.room: room '{session['room']}' is not defined under rooms "
                f"(known rooms: {', '.join(sorted(rooms)) or 'none'})"
            )
    check_outputs_inside_results(config, base)
    if check_paths:
        for name, room in rooms.items():
            if "calibration" in room:
                _require(base / room["calibration"], f"rooms.{name}.calibration", is_dir=False)
            else:
                _require(base / room["calibration_videos"], f"rooms.{name}.calibration_videos", is_dir=True)
        for name, session in config.get("sessions", {}).items():
            _require(base / session["videos"], f"sessions.{name}.videos", is_dir=True)
            session_cameras(session, base=base, key=f"sessions.{name}")


def check_outputs_inside_results(config: Mapping[str, Any], base: Path) -> None:
    """Every room's and session's output folder lies inside the results folder.

    Checked on the path as written (a results folder on a symlinked disk is fine);
    it is what a name like '../../x' would escape.
    """
    results = Path(os.path.normpath(base / str(config.get("results", "results"))))
    for section, sub in (("rooms", "rooms"), ("sessions", "sessions")):
        for name in config.get(section) or {}:
            folder = Path(os.path.normpath(results / sub / str(name)))
            if folder.parent != results / sub or folder.name != str(name):
                raise ConfigError(f"{section}.{name}: its outputs would go to '{folder}' instead of a folder of its own "
                                  f"under '{results / sub}'; rename it ({NAME_RULE})")


def read_yaml(path: str | Path, what: str = "config") -> Any:
    """Parse a YAML file; a syntax error is one line naming the file, line and column."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} file '{path}' does not exist; check the path (relative to {Path.cwd()})")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a text file ({exc.reason} at byte {exc.start}); a {what} file is YAML text") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: {yaml_problem(exc)}") from None


def yaml_problem(exc: yaml.YAMLError) -> str:
    """'line L, column C: what' from a YAML error (its problem_mark), on one line."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    what = " ".join(str(getattr(exc, "problem", None) or exc).split())
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"not valid YAML: {where}{what}"


def load_config(path: str | Path, *, check_paths: bool = True, base: Path | None = None) -> dict:
    """Read and validate a workflow config file; paths in it are relative to ``base`` (the working directory).

    Every error names the file as well as the key.
    """
    path = Path(path)
    raw = read_yaml(path)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config file holds a mapping (rooms:, sessions:, options:), not a {type(raw).__name__}")
    try:
        return validate_config(raw, base=base, check_paths=check_paths)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def results_folder(config: Mapping[str, Any], base: Path | None = None) -> Path:
    """The config's results folder, resolved from ``base`` (the working directory the workflow runs in)."""
    return ((Path(base) if base is not None else Path.cwd()) / str(config.get("results", "results"))).resolve()


def session_option(config: Mapping[str, Any], session: str, key: str) -> Any:
    """A per-session setting, falling back to the workflow-wide option."""
    return config["sessions"][session].get(key, config["options"].get(key))


def earlier_sessions(config: Mapping[str, Any], session: str) -> list[str]:
    """The same athlete's sessions that come before ``session`` (by date, then name): its report's history."""
    from pipeline.common.athlete import athlete_name

    sessions = config["sessions"]
    athlete = athlete_name(sessions[session].get("athlete"))
    if not athlete:
        return []
    key = lambda name: (str(sessions[name].get("date", "")), name)  # noqa: E731
    return sorted((n for n, s in sessions.items() if n != session and athlete_name(s.get("athlete")) == athlete
                   and key(n) < key(session)), key=key)


def _check_athletes(config: Mapping[str, Any]) -> None:
    """Each session's ``athlete`` setting can be used (pipeline.common.athlete): position or nearest_camera."""
    from pipeline.common.athlete import AthleteSettingError, athlete_hint

    for name, session in (config.get("sessions") or {}).items():
        try:
            athlete_hint(session.get("athlete"))
        except AthleteSettingError as exc:
            raise ConfigError(f"sessions.{name}.{exc}") from None


def _require(path: Path, key: str, *, is_dir: bool) -> Path:
    if is_dir and not path.is_dir():
        raise ConfigError(f"{key}: folder '{path}' does not exist")
    if not is_dir and not path.is_file():
        raise ConfigError(f"{key}: file '{path}' does not exist")
    return path


def session_cameras(session: Mapping[str, Any], *, base: Path | None = None, key: str = "session") -> dict[str, Path]:
    """Camera name -> video path for a session: the videos in its folder, named by camera."""
    folder = (Path(base) if base else Path.cwd()) / session["videos"]
    files = [p for p in sorted(folder.iterdir()) if p.suffix.lower() in VIDEO_SUFFIXES]
    videos = {p.stem: p for p in files}
    wanted = session.get("cameras")
    for cam in wanted or videos:
        same = [p.name for p in files if p.stem == cam]
        if len(same) > 1:
            raise ConfigError(f"{key}.videos: duplicate camera {cam}: {' and '.join(same)} in '{folder}' would both be "
                              f"camera {cam}; keep one (or rename the other)")
        if cam in videos and not is_safe_name(cam):
            raise ConfigError(f"{key}.videos: the video '{videos[cam]}' gives the camera name {cam!r}, which is not "
                              f"allowed: use {NAME_RULE}; rename the file (or list the other cameras under {key}.cameras)")
    if wanted:
        missing = [c for c in wanted if c not in videos]
        if missing:
            raise ConfigError(f"{key}.cameras: no video for camera(s) {', '.join(missing)} in '{folder}'")
        videos = {c: videos[c] for c in wanted}
    if len(videos) < 2:
        raise ConfigError(f"{key}.videos: '{folder}' holds {len(videos)} camera video(s); at least 2 are needed ({', '.join(VIDEO_SUFFIXES)})")
    return videos
