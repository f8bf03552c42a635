"""One ``hingecap run`` at a time per results folder, whatever folder it was started from.

Snakemake's own lock lives in ``.snakemake/`` of the working folder, so two
runs started from different folders on the same ``results:`` both went ahead
and wrote over each other's files. ``hingecap run`` therefore takes a lock
file inside the resolved results folder before it starts Snakemake: an
exclusive ``flock`` that the kernel drops when its holders end, so a run that
died cannot leave a stale lock on a local disk. The file says who holds it,
for the message the second run prints. The lock's file descriptor is handed
to Snakemake, so the lock lasts as long as the workflow does even if the
``hingecap`` process itself is killed.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import time
from pathlib import Path
from typing import Iterator

LOCK_NAME = ".hingecap-run.lock"


class ResultsLockedError(RuntimeError):
    """Another hingecap run holds the results folder; the message says which and what to do."""


@contextlib.contextmanager
def results_lock(results: str | Path) -> Iterator[int]:
    """Hold the results folder's lock; yields the lock file's descriptor (to pass to the child process)."""
    results = Path(results).resolve()
    results.mkdir(parents=True, exist_ok=True)
    path = results / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ResultsLockedError(_held_message(results, path)) from None
        except OSError as exc:  # a network filesystem without locks: say so, and run unguarded
            print(f"warning: cannot lock {path} ({exc.strerror}); make sure no other hingecap run uses {results}",
                  file=sys.stderr)
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}\nsince {time.strftime('%Y-%m-%d %H:%M:%S')}\ncwd {os.getcwd()}\n".encode())
        yield fd
    finally:
        os.close(fd)  # releases the lock (once a child holding a copy has ended too)


def _held_message(results: Path, path: Path) -> str:
    info = dict(line.split(" ", 1) for line in _read(path).splitlines() if " " in line)
    who = f"pid {info.get('pid', '?')} since {info.get('since', '?')}"
    if info.get("cwd"):
        who += f", started in {info['cwd']}"
    return (f"another hingecap run is using {results} ({who}); wait for it to finish, or remove {path} "
            "if that run died")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
