"""Where the repository's shipped files are (the workflow, its schemas, the default config), and what a video file is."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "workflow"
SNAKEFILE = WORKFLOW / "Snakefile"
PROFILES = WORKFLOW / "profiles"
CONFIG_SCHEMA = WORKFLOW / "schemas" / "config.schema.yaml"
CUES_SCHEMA = WORKFLOW / "schemas" / "cues.schema.yaml"
DEFAULT_CONFIG = ROOT / "config" / "config.yaml"
DEFAULT_CUES = ROOT / "config" / "cues.yaml"

# Files read as a camera's video (calibration and sessions alike).
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg")
