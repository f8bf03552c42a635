"""``hingecap run``: the Snakemake workflow (workflow/Snakefile) with the local profile."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from pipeline.common.paths import PROFILES, SNAKEFILE


def run_workflow(configfile: str | Path | None = None, *, cores: str = "all", targets: Sequence[str] = (),
                 extra: Sequence[str] = (), cwd: str | Path | None = None) -> int:
    """Run the workflow with the local profile; returns Snakemake's exit code."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE),
           "--profile", str(PROFILES / "local"), "--cores", cores]
    if configfile is not None:
        cmd += ["--configfile", str(configfile)]
    cmd += [*extra, *targets]
    return subprocess.run(cmd, cwd=cwd or os.getcwd()).returncode


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
