"""Atomic file writes shared by every stage.

A stage's output either exists complete or not at all: write to a temporary
file in the same directory, flush it to disk, then rename over the target.
A run killed half-way therefore never leaves a file that looks finished.
"""
from __future__ import annotations

import contextlib
import errno
import glob
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np


class DiskFullError(OSError):
    """An output could not be written for lack of disk space; the message is one line naming the file."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.ENOSPC, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def disk_full(target: Path, needed: int | None, written: int = 0) -> DiskFullError:
    """The one-line error for ``target``: how much it needs (at least what was written) and what is free."""
    folder = target.parent
    try:
        free = _size(shutil.disk_usage(folder).free)
    except OSError:
        free = "unknown"
    need = f"about {_size(needed)}" if needed else f"more than the {_size(written)} written before it ran out"
    return DiskFullError(f"cannot write '{target}': no space left on the device ({need} needed, {free} free in "
                         f"'{folder}'); free some space (or point results: elsewhere) and run again")


def _size(n: int | float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None, *, size_hint: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary name keeps the target's suffix (or ``suffix``) because some
    writers (numpy, OpenCV) pick the format from it. A full disk (ENOSPC,
    from the writer or the flush) becomes a ``DiskFullError`` naming ``path``
    and ``size_hint`` bytes (what the writer expects to need), and the
    partial temporary file is removed.
    """
    target = Path(path)
    try:
        with _temporary(target, suffix) as tmp_path:
            yield tmp_path
    except OSError as exc:
        if exc.errno != errno.ENOSPC or isinstance(exc, DiskFullError):
            raise
        raise disk_full(target, size_hint, getattr(exc, "written", 0)) from None


@contextlib.contextmanager
def _temporary(target: Path, suffix: str | None) -> Iterator[Path]:
    target.parent.mkdir(parents=True, exist_ok=True)
    # A writer killed outright (power cut, SIGKILL) leaves its temporary file behind; the next
    # writer of the same target (one at a time: the workflow runs one job per output) clears it.
    for stale in target.parent.glob(f".{glob.escape(target.name)}.*.tmp*"):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp" + (suffix if suffix is not None else target.suffix),
        dir=target.parent,
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes the file private; outputs are ordinary files
        os.replace(tmp_path, target)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:  # measure what got written before the partial file goes
            exc.written = tmp_path.stat().st_size if tmp_path.exists() else 0
        raise
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike, text: str) -> None:
    data = text.encode("utf-8")
    with atomic_path(path, size_hint=len(data)) as tmp:
        tmp.write_bytes(data)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path, size_hint=len(data)) as tmp:
        tmp.write_bytes(data)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, default=json_default) + "\n")


def write_npz(path: str | os.PathLike, **arrays: Any) -> None:
    # uncompressed size: what the file needs at most
    needed = sum(np.asarray(a).nbytes for a in arrays.values())
    with atomic_path(path, suffix=".npz", size_hint=needed) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)


def json_default(obj: Any) -> Any:
    """``json.dumps(default=...)`` for numpy scalars and arrays and paths."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
