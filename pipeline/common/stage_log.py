"""Route one workflow stage's log messages, and its error, into the rule's log file and the console.

Snakemake runs each ``run:`` block in a process of its own whose root logger
has no handler and stays at WARNING (Snakemake's own handlers sit on its
"snakemake" logger), so each rule opens its log here: the stage's records at
INFO and above (what it read, what it decided, how long it took) go to the log
file and, with the job's name in front, to the console; an exception is
written there too (and raised on), so the log of a failed job says what went
wrong without the console output.
"""
from __future__ import annotations

import contextlib
import importlib
import logging
import sys
import time
from pathlib import Path
from typing import Any, Iterator

FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

log = logging.getLogger(__name__)


def job_label(path: Path) -> str:
    """``s1 sync`` for results/sessions/s1/logs/sync.log, ``gym calibrate`` for results/rooms/gym/calibrate.log."""
    owner = path.parent.parent if path.parent.name == "logs" else path.parent
    return f"{owner.name} {path.stem}"


@contextlib.contextmanager
def stage_log(path: str | Path, *, console: bool = True) -> Iterator[logging.Logger]:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handlers: list[logging.Handler] = [logging.FileHandler(path, mode="w", encoding="utf-8")]
    handlers[0].setFormatter(logging.Formatter(FILE_FORMAT))
    if console:
        handlers.append(logging.StreamHandler(sys.stderr))
        handlers[1].setFormatter(logging.Formatter(f"[{job_label(path)}] %(levelname)s: %(message)s"))
    root = logging.getLogger()
    old_level, old_disable = root.level, logging.root.manager.disable
    for handler in handlers:
        handler.setLevel(logging.INFO)
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.disable(logging.NOTSET)  # a library that silenced logging globally must not empty the log
    logging.captureWarnings(True)
    try:
        yield root
    except Exception as exc:
        root.error("%s: %s", type(exc).__name__, exc)
        raise
    finally:
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(old_level)
        logging.disable(old_disable)


def run_stage(entry: str, log_path: str | Path, *args: Any, **kwargs: Any) -> Any:
    """Call ``entry`` ("package.module:function", imported only now) with its messages in ``log_path``.

    What a workflow rule runs: the rule stays one line and parsing the
    workflow imports none of the stages' dependencies. The log's last line
    says how long the stage took.
    """
    module, _, name = entry.partition(":")
    with stage_log(log_path):
        start = time.perf_counter()
        function = getattr(importlib.import_module(module), name)
        result = function(*args, **kwargs)
        log.info("%s done in %.1f s", entry, time.perf_counter() - start)
        return result
