"""The workflow configuration: reading it, and the checks a JSON schema cannot make.

The schema (``workflow/schemas/config.schema.yaml``) is applied with
Snakemake's ``validate()``, which also fills in its defaults: by the workflow
itself (``workflow/rules/common.smk``) and here for Python callers
(``validate_config``, ``load_config``). ``schema_error`` turns a schema error
into a message naming the key. ``check_config`` catches what a schema cannot:
a session naming a room that does not exist, or an input folder that is
missing. Every message names the offending key.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import jsonschema
import yaml

from pipeline.common.paths import CONFIG_SCHEMA, VIDEO_SUFFIXES


class ConfigError(ValueError):
    """The workflow configuration is wrong; the message names the key."""


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

    try:
        validate(config, str(CONFIG_SCHEMA))
    except WorkflowError as exc:
        raise schema_error(exc) from None
    check_config(config, base=base, check_paths=check_paths)
    return config


def check_config(config: Mapping[str, Any], *, base: Path | None = None, check_paths: bool = True) -> None:
    """What the schema cannot check: rooms named by sessions exist, input folders and files exist."""
    base = Path(base) if base is not None else Path.cwd()
    rooms = config.get("rooms", {})
    for name, session in config.get("sessions", {}).items():
        if session["room"] not in rooms:
            raise ConfigError(
                f"sessions.{name}.room: room '{session['room']}' is not defined under rooms "
                f"(known rooms: {', '.join(sorted(rooms)) or 'none'})"
            )
    if check_paths:
        for name, room in rooms.items():
            if "calibration" in room:
                _require(base / room["calibration"], f"rooms.{name}.calibration", is_dir=False)
            else:
                _require(base / room["calibration_videos"], f"rooms.{name}.calibration_videos", is_dir=True)
        for name, session in config.get("sessions", {}).items():
            _require(base / session["videos"], f"sessions.{name}.videos", is_dir=True)
            session_cameras(session, base=base, key=f"sessions.{name}")


def load_config(path: str | Path, *, check_paths: bool = True) -> dict:
    """Read and validate a workflow config file; paths in it are relative to the working directory."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file '{path}' does not exist")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    return validate_config(raw, check_paths=check_paths)


def session_option(config: Mapping[str, Any], session: str, key: str) -> Any:
    """A per-session setting, falling back to the workflow-wide option."""
    return config["sessions"][session].get(key, config["options"].get(key))


def earlier_sessions(config: Mapping[str, Any], session: str) -> list[str]:
    """The same athlete's sessions that come before ``session`` (by date, then name): its report's history."""
    sessions = config["sessions"]
    athlete = sessions[session].get("athlete")
    if not athlete:
        return []
    key = lambda name: (str(sessions[name].get("date", "")), name)  # noqa: E731
    return sorted((n for n, s in sessions.items() if n != session and s.get("athlete") == athlete
                   and key(n) < key(session)), key=key)


def _require(path: Path, key: str, *, is_dir: bool) -> Path:
    if is_dir and not path.is_dir():
        raise ConfigError(f"{key}: folder '{path}' does not exist")
    if not is_dir and not path.is_file():
        raise ConfigError(f"{key}: file '{path}' does not exist")
    return path


def session_cameras(session: Mapping[str, Any], *, base: Path | None = None, key: str = "session") -> dict[str, Path]:
    """Camera name -> video path for a session: the videos in its folder, named by camera."""
    folder = (Path(base) if base else Path.cwd()) / session["videos"]
    videos = {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in VIDEO_SUFFIXES}
    wanted = session.get("cameras")
    if wanted:
        missing = [c for c in wanted if c not in videos]
        if missing:
            raise ConfigError(f"{key}.cameras: no video for camera(s) {', '.join(missing)} in '{folder}'")
        videos = {c: videos[c] for c in wanted}
    if len(videos) < 2:
        raise ConfigError(f"{key}.videos: '{folder}' holds {len(videos)} camera video(s); at least 2 are needed ({', '.join(VIDEO_SUFFIXES)})")
    return videos
