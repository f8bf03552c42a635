"""Load and check the workflow configuration before any work starts.

JSON Schema catches typos and wrong types; the checks here catch what a schema
cannot: a session naming a room that does not exist, or an input folder that
is missing. Every message names the offending key.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "config" / "schemas" / "config.schema.yaml"
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v")


class ConfigError(ValueError):
    """The workflow configuration is wrong; the message names the key."""


def _key_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(top level)"


def validate_config(config: Mapping[str, Any], *, base: Path | None = None, check_paths: bool = True) -> dict:
    """Validate ``config`` against the schema and its cross-references; return it with defaults filled."""
    schema = yaml.safe_load(SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  {_key_path(e)}: {e.message}" for e in errors[:10]]
        raise ConfigError("invalid configuration:\n" + "\n".join(lines))
    cfg = dict(config)
    cfg.setdefault("sessions", {})
    cfg.setdefault("results", "results")
    cfg["options"] = {**schema_defaults(schema["$defs"]["options"]), **(cfg.get("options") or {})}
    base = Path(base) if base is not None else Path.cwd()
    rooms = cfg.get("rooms", {})
    for name, session in cfg.get("sessions", {}).items():
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
        for name, session in cfg.get("sessions", {}).items():
            _require(base / session["videos"], f"sessions.{name}.videos", is_dir=True)
            session_cameras(session, base=base, key=f"sessions.{name}")
    return cfg


def schema_defaults(schema: Mapping[str, Any]) -> dict:
    """The ``default`` of each property of an object schema (JSON Schema does not fill them in)."""
    return {k: v["default"] for k, v in schema.get("properties", {}).items() if "default" in v}


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
