"""Write one benchmark's section of docs/benchmarks.md, leaving the others alone."""
from __future__ import annotations

import platform
import re
from datetime import datetime, timezone
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADER = "# Benchmarks\n\nEach section is rewritten by the script named in it; figures are ratios against a peer or baseline measured in the same run.\n"


def machine() -> str:
    import os

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_section(name: str, markdown: str) -> Path:
    """Replace the section between BEGIN/END markers called ``name`` (append it if new)."""
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else HEADER
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    block = f"<!-- BEGIN {name} -->\n{markdown.rstrip()}\n\n_Measured {stamp} on {machine()}._\n<!-- END {name} -->"
    pattern = re.compile(rf"<!-- BEGIN {re.escape(name)} -->.*?<!-- END {re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text, encoding="utf-8")
    return DOC
