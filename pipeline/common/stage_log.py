"""Route one workflow stage's log messages, and its error, into the rule's log file.

Snakemake runs ``run:`` blocks inside its own process, so each rule opens its
log here; an exception is written there too (and raised on), so the log of a
failed job says what went wrong without the console output.
"""
from __future__ import annotations

import contextlib
import importlib
import logging
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def stage_log(path: str | Path) -> Iterator[logging.Logger]:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(min(old_level, logging.INFO) if old_level else logging.INFO)
    logging.captureWarnings(True)
    try:
        yield root
    except Exception as exc:
        root.error("%s: %s", type(exc).__name__, exc)
        raise
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()


def run_stage(entry: str, log_path: str | Path, *args: Any, **kwargs: Any) -> Any:
    """Call ``entry`` ("package.module:function", imported only now) with its messages in ``log_path``.

    What a workflow rule runs: the rule stays one line and parsing the
    workflow imports none of the stages' dependencies.
    """
    module, _, name = entry.partition(":")
    function = getattr(importlib.import_module(module), name)
    with stage_log(log_path):
        return function(*args, **kwargs)
