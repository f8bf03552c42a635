"""Progress across an athlete's sessions: depth, violations per rep and quality reps over time.

A history entry is a session results folder (with reps.json), optionally with
its session config (date, load) as a mapping ``{"dir": ..., "date": ..., ...}``.
Sessions are ordered by date, then by name; the current one is marked.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from pipeline.common.config import earlier_sessions
from pipeline.contracts.kinematics import read_kinematics
from pipeline.contracts.reps import read_reps
from pipeline.report.session import ReportInputError, rep_verdict


def session_summary(session_dir: str | Path, meta: Mapping[str, Any] | None = None) -> dict:
    """One row of the progress table from a session's reps.json (and kinematics.csv for depth if needed)."""
    d = Path(session_dir)
    reps_path = d / "reps.json"
    if not reps_path.is_file():
        raise ReportInputError(f"history session '{d}' has no reps.json; run its analysis first or leave it out")
    reps = read_reps(reps_path)
    rows = reps.get("reps", [])
    depth = [r.get("metrics", {}).get("hip_flex_bottom") for r in rows]
    if rows and any(v is None for v in depth) and (d / "kinematics.csv").is_file():
        hip = read_kinematics(d / "kinematics.csv", columns=["hip_flex"])["hip_flex"].to_numpy(float)
        depth = [hip[min(int(r["bottom"]), len(hip) - 1)] if v is None else v for v, r in zip(depth, rows)]
    depth = np.array([np.nan if v is None else float(v) for v in depth], float)
    # A violation is a "fail" verdict (reps.json's summary counts the same way); "warn" is borderline.
    n_viol = sum(1 for r in rows for c in r.get("cues", []) if c.get("verdict") == "fail")
    quality = reps.get("summary", {}).get("quality_reps")
    if quality is None:
        quality = sum(1 for r in rows if rep_verdict(r) == "pass")
    meta = dict(meta or {})
    return {
        "session": str(reps.get("session") or d.name), "date": str(meta.get("date") or ""),
        "load_kg": meta.get("load_kg"), "reps": len(rows), "quality_reps": quality,
        "violations_per_rep": n_viol / len(rows) if rows else float("nan"),
        "depth_deg": float(np.nanmean(depth)) if np.isfinite(depth).any() else float("nan"),
    }


def history_table(current_dir: str | Path, current_meta: Mapping[str, Any], history: Iterable[Any]) -> pd.DataFrame:
    """Summaries of the current session and its history, oldest first; column ``current`` marks this one."""
    rows = [dict(session_summary(current_dir, current_meta), current=True)]
    for item in history:
        if isinstance(item, Mapping):
            item_dir, meta = item.get("dir"), item
        else:
            item_dir, meta = item, {}
        if item_dir is None:
            raise ReportInputError(f"history entry {dict(item)!r} has no 'dir'")
        if Path(item_dir).resolve() == Path(current_dir).resolve():
            continue
        rows.append(dict(session_summary(item_dir, meta), current=False))
    table = pd.DataFrame(rows)
    return table.sort_values(["date", "session"], kind="stable").reset_index(drop=True)


def progress_plot_svg(table: pd.DataFrame) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker  # noqa: F401  (integer ticks for counts)

    labels = [f"{d}\n{s}" if d else s for d, s in zip(table["date"], table["session"])]
    x = np.arange(len(table))
    fig, axes = plt.subplots(1, 3, figsize=(10, 2.6), constrained_layout=True)
    with plt.rc_context({"svg.fonttype": "none"}):
        for ax, (col, title, colour) in zip(axes, (
            ("depth_deg", "Depth: mean bottom hip flexion (deg)", "#1f6fb2"),
            ("violations_per_rep", "Cue violations per rep", "#d62728"),
            ("quality_reps", "Quality reps", "#2a9d8f"),
        )):
            y = table[col].to_numpy(float)
            ax.plot(x, y, "-o", color=colour, lw=1.5, ms=4)
            cur = table["current"].to_numpy(bool)
            ax.plot(x[cur], y[cur], "o", ms=9, mfc="none", mec="#222", mew=1.5)
            ax.set_title(title, fontsize=9, loc="left", fontweight="bold")
            ax.set_xticks(x, labels, fontsize=7)
            if col == "quality_reps":
                ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
            ax.grid(alpha=0.25)
            ax.spines[["top", "right"]].set_visible(False)
        buf = io.BytesIO()
        fig.savefig(buf, format="svg")
    plt.close(fig)
    return buf.getvalue()


def config_context(config: Mapping[str, Any], session: str, results: str | Path | None = None) -> tuple[dict, list[dict]]:
    """(this session's meta, its athlete's earlier analysed sessions as history entries) from the workflow config.

    The history is what the workflow's report rule gets: the same athlete's
    sessions before this one (``pipeline.common.config.earlier_sessions``)
    whose results folder already has a reps.json; a later session never
    enters an earlier session's report.
    """
    sessions = config.get("sessions") or {}
    if session not in sessions:
        raise ReportInputError(f"session '{session}' is not in the config's sessions ({', '.join(sorted(sessions)) or 'none'})")
    root = Path(results if results is not None else config.get("results", "results")) / "sessions"
    history = [dict(sessions[name], dir=root / name) for name in earlier_sessions(config, session)
               if (root / name / "reps.json").is_file()]
    from pipeline.common.athlete import athlete_name

    meta = dict(sessions[session])
    if "athlete" in meta:
        meta["athlete"] = athlete_name(meta["athlete"])  # the setting may also say how to find the athlete
    return meta, history
