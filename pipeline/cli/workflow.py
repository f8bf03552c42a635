"""``hingecap run``: the Snakemake workflow (workflow/Snakefile) with the local profile."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from pipeline.cli.lock import results_lock
from pipeline.common.config import ConfigError, load_config, results_folder
from pipeline.common.paths import PROFILES, SNAKEFILE


DEFAULT_CONFIG = Path("config") / "config.yaml"  # what the Snakefile reads without --configfile (from cwd)
# Options after which the workflow writes nothing, so need no lock on the results folder.
READ_ONLY = {"--dry-run", "-n", "--unlock", "--lint", "--summary", "--list"}


def workflow_command(configfile: str | Path | None = None, *, cores: str = "all", targets: Sequence[str] = (),
                     extra: Sequence[str] = ()) -> list[str]:
    """The Snakemake command line of ``hingecap run``.

    The targets come first: ``--configfile`` takes any number of values, so
    targets after it were read as more config files.
    """
    cmd = [sys.executable, "-m", "snakemake", *targets, "--snakefile", str(SNAKEFILE),
           "--profile", str(PROFILES / "local"), "--cores", cores, *extra]
    if configfile is not None:
        cmd += ["--configfile", str(configfile)]
    return cmd


def check_run_config(configfile: str | Path | None, cwd: Path) -> tuple[Path, dict]:
    """The config file a run will use, read and checked as the workflow will (ConfigError naming file and key)."""
    path = Path(configfile) if configfile is not None else DEFAULT_CONFIG
    path = path if path.is_absolute() else cwd / path
    if not path.is_file():
        hint = "" if configfile is not None else " (no --config given, so the default); pass --config FILE"
        raise ConfigError(f"config file '{path}' does not exist{hint}")
    return path, load_config(path, base=cwd)


def run_workflow(configfile: str | Path | None = None, *, cores: str = "all", targets: Sequence[str] = (),
                 extra: Sequence[str] = (), cwd: str | Path | None = None) -> int:
    """Run the workflow with the local profile; returns Snakemake's exit code.

    The config is checked here first, so a missing or broken file is one
    message (``ConfigError``) instead of Snakemake's traceback, and a run that
    writes holds the results folder's lock (``ResultsLockedError`` when another
    run has it).
    """
    cwd = Path(cwd or os.getcwd())
    path, config = check_run_config(configfile, cwd)
    cmd = workflow_command(path, cores=cores, targets=targets, extra=extra)
    if READ_ONLY & set(extra):
        return subprocess.run(cmd, cwd=cwd).returncode
    with results_lock(results_folder(config, cwd)) as fd:
        return subprocess.run(cmd, cwd=cwd, pass_fds=(fd,)).returncode


def lint_workflow(configfile: str | Path | None = None) -> int:
    """Snakemake's linter on the workflow; non-zero when it has anything to say.

    Without ``configfile`` the workflow is parsed with a throwaway config whose
    inputs exist (two empty camera files, a calibration file), so the linter
    runs on a fresh clone before any data is there.
    """
    import tempfile

    import yaml

    with tempfile.TemporaryDirectory(prefix="hingecap-lint-") as tmp:
        work = Path(tmp)
        if configfile is None:
            (work / "videos").mkdir()
            for cam in ("cam0", "cam1"):
                (work / "videos" / f"{cam}.mp4").touch()
            (work / "calibration.toml").touch()
            configfile = work / "config.yaml"
            configfile.write_text(yaml.safe_dump({
                "rooms": {"room": {"calibration": str(work / "calibration.toml")}},
                "sessions": {"s1": {"room": "room", "videos": str(work / "videos"), "exercise": "deadlift"}},
            }))
        cmd = [sys.executable, "-m", "snakemake", "--lint", "--snakefile", str(SNAKEFILE),
               "--configfile", str(configfile), "-d", str(work)]
        return subprocess.run(cmd).returncode


if __name__ == "__main__":  # python -m pipeline.cli.workflow: what CI runs after the tests
    raise SystemExit(lint_workflow())
