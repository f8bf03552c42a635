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
# (detection)
# (sync/triangulation)
# (recording)
# (analysis)
# (report/replay/export)
# (workflow/demo)


if __name__ == "__main__":
    app()
