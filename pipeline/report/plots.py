"""Time-series plots of the session (matplotlib, Agg): angles and trunk length with reps and thresholds.

Each panel shades the reps and draws the thresholds of the cues whose metric
is measured on that panel's series (each cue in reps.json names its column).
Plots are returned as SVG bytes so the page can inline them as images.

A long session has more frames than the plot has pixels: each series is cut
to the minimum and maximum of every pixel column (``decimate``), which draws
the same picture (peaks included) from a few thousand points instead of
18,000, and the reps are drawn as one shaded collection per colour, not one
artist per rep; a 10-minute plot takes well under a second instead of 20.
"""
from __future__ import annotations

import io

import numpy as np

from pipeline.report.session import FLAGGED, Session, rep_verdict

# (panel title, unit, [(column, label, colour)])
PANELS = (
    ("Hip and knee flexion", "deg", [("hip_flex", "hip", "#1f6fb2"), ("knee_flex", "knee", "#e08a00")]),
    ("Trunk inclination", "deg", [("trunk_incl", "trunk", "#2a9d8f")]),
    ("Back flexion in the silhouettes (change from the athlete's neutral)", "deg",
     [("back_flex_change", "back", "#6a4c93")]),
    ("Trunk length (relative to standing)", "", [("trunk_length_rel", "trunk length", "#444b55")]),
)
WARN_COLOUR, FAIL_COLOUR = "#e0a100", "#d62728"
PLOT_COLUMNS = 1000  # the series' resolution along time: more than the ~700 px the page shows the plot at
MAX_REP_LABELS = 40  # rep numbers written on a panel; more would overlap


def threshold_lines(reps: dict, kin=None) -> dict[str, list[tuple[float, str, str]]]:
    """{column: [(value, 'warn'|'fail', cue id)]} for cues measured on a plotted column.

    Each cue in reps.json says how its metric maps onto a kinematics column
    (``column``, ``scale``, ``offset``: metric = offset + scale x column), so a
    threshold is drawn at (threshold - offset) / scale on that column's curve.
    A deviation from standing (``deviation_of``) is drawn at the standing value
    ± the threshold (standing = median outside the reps, needs ``kin``).
    """
    columns = {c for _, _, series in PANELS for c, _, _ in series}
    thresholds = {}
    for rep in reps.get("reps", []):
        for cue in rep.get("cues", []):
            thresholds.setdefault(cue["id"], cue.get("threshold") or {})
    lines: dict[str, list] = {}
    for cue in reps.get("cues", []):
        col, deviation = cue.get("column"), cue.get("deviation_of")
        if col in columns and not cue.get("ratio_of"):
            scale, offset = float(cue.get("scale", 1.0)), float(cue.get("offset", 0.0))
            transform = lambda v, k=scale, o=offset: ((v - o) / k,)  # noqa: E731
        elif deviation in columns and kin is not None:
            col, base = deviation, _standing_value(kin, deviation, reps)
            transform = lambda v, b=base: (b - v, b + v)  # noqa: E731
        else:
            continue
        for level in ("warn", "fail"):
            values = thresholds.get(cue["id"], {}).get(level)
            for v in np.atleast_1d(values if values is not None else []):
                if isinstance(v, (int, float, np.number)) and np.isfinite(v):
                    for drawn in transform(float(v)):
                        lines.setdefault(col, []).append((float(drawn), level, cue["id"]))
    return lines


def interval_marks(reps: dict) -> dict[str, list[tuple[float, float, float, str]]]:
    """{column: [(t, value, half-width, verdict)]}: each flagged cell's value and interval at its rep's bottom,
    on the curve its metric is read from (cues measured directly on a plotted column)."""
    columns = {c for _, _, series in PANELS for c, _, _ in series}
    header = {c["id"]: c for c in reps.get("cues", [])}
    marks: dict[str, list] = {}
    for rep in reps.get("reps", []):
        for cue in rep.get("cues", []):
            h = header.get(cue["id"], {})
            if (cue.get("verdict") not in FLAGGED or cue.get("interval") is None or cue.get("value") is None
                    or h.get("column") not in columns or h.get("ratio_of") or not isinstance(cue["value"], (int, float))):
                continue
            k, o = float(h.get("scale", 1.0)), float(h.get("offset", 0.0))
            marks.setdefault(h["column"], []).append(
                (float(rep["t_bottom"]), (float(cue["value"]) - o) / k, float(cue["interval"]) / abs(k), cue["verdict"]))
    return marks


def _standing_value(kin, col: str, reps: dict) -> float:
    values = kin[col].to_numpy(float)
    outside = np.ones(len(values), bool)
    for rep in reps.get("reps", []):
        outside[max(int(rep["start"]), 0):int(rep["end"]) + 1] = False
    pool = values[outside] if np.isfinite(values[outside]).any() else values
    return float(np.nanmedian(pool))


def decimate(t: np.ndarray, y: np.ndarray, columns: int = PLOT_COLUMNS) -> tuple[np.ndarray, np.ndarray]:
    """(t, y) cut to each time column's minimum and maximum, in time order; an all-NaN column stays a gap."""
    t, y = np.asarray(t, float), np.asarray(y, float)
    if len(t) <= 2 * columns:
        return t, y
    col = np.minimum(((t - t[0]) / max(t[-1] - t[0], 1e-12) * columns).astype(int), columns - 1)
    finite = np.isfinite(y)
    starts = np.flatnonzero(np.r_[True, np.diff(col) != 0])
    # Sorting by (column, value) puts each column's minimum first and its maximum last.
    order = np.lexsort((np.where(finite, y, np.inf), col))
    low = order[starts]
    order = np.lexsort((np.where(finite, -y, np.inf), col))
    high = order[starts]
    first, second = np.minimum(low, high), np.maximum(low, high)
    tt = np.stack([t[first], t[second]], 1).ravel()
    yy = np.stack([y[first], y[second]], 1).ravel()
    yy[np.repeat(~finite[low], 2)] = np.nan  # a column without a value is a gap in the line
    return tt, yy


def session_plot_svg(session: Session) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = session.kin["t"].to_numpy(float)
    lines = threshold_lines(session.reps, session.kin)
    marks = interval_marks(session.reps)
    # Fixed margins: constrained layout measures every text on the figure, seconds for a long session's labels.
    fig, axes = plt.subplots(len(PANELS), 1, figsize=(10, 2.1 * len(PANELS)), sharex=True)
    fig.subplots_adjust(left=0.07, right=0.985, top=0.965, bottom=0.06, hspace=0.32)
    with plt.rc_context({"svg.fonttype": "none"}):
        for i, (ax, (title, unit, series)) in enumerate(zip(axes, PANELS)):
            _shade_reps(ax, session, t, numbers=i == 0)
            for col, label, colour in series:
                if col not in session.kin:  # the back needs silhouettes: a session without them has no curve
                    ax.text(0.5, 0.5, f"not measured in this session ({col})", transform=ax.transAxes, ha="center",
                            va="center", fontsize=9, color="#777")
                    continue
                ax.plot(*decimate(t, session.kin[col].to_numpy(float)), color=colour, lw=1.4, label=label)
                for tb, value, half, verdict in marks.get(col, []):  # a flagged value with its interval
                    ax.errorbar(tb, value, yerr=half, fmt="o", ms=4, capsize=3, lw=1.2,
                                color=FAIL_COLOUR if verdict == "fail" else WARN_COLOUR, zorder=5)
                for value, level, cue in lines.get(col, []):
                    ax.axhline(value, color=WARN_COLOUR if level == "warn" else FAIL_COLOUR, lw=0.9,
                               ls="--" if level == "warn" else "-", alpha=0.9)
                    ax.annotate(f"{cue} {level}", (1.0, value), xycoords=("axes fraction", "data"), fontsize=7,
                                ha="right", va="bottom", color=FAIL_COLOUR if level == "fail" else "#8a6400")
            ax.set_title(title, loc="left", fontsize=10, fontweight="bold", color="#222")
            ax.set_ylabel(unit)
            ax.grid(alpha=0.25)
            ax.spines[["top", "right"]].set_visible(False)
            if len(series) > 1:
                # above the panel, right: inside it would cover the curves and the rep numbers
                ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False, ncol=len(series),
                          borderaxespad=0.1)
        axes[-1].set_xlabel("time (s)")
        axes[-1].set_xlim(t[0], t[-1])
        buf = io.BytesIO()
        fig.savefig(buf, format="svg")
    plt.close(fig)
    return buf.getvalue()


def _shade_reps(ax, session: Session, t: np.ndarray, numbers: bool = True) -> None:
    reps = session.reps["reps"]
    if not reps:
        return
    n = len(t)
    at = np.array([[min(max(int(r[k]), 0), n - 1) for k in ("start", "bottom", "end")] for r in reps])
    # red: a cue failed; amber: the worst is borderline (or a warn); blue: clean
    level = np.array([2 if rep_verdict(r) == "fail" else 1 if rep_verdict(r) in FLAGGED else 0 for r in reps])
    band = ax.get_xaxis_transform()  # x in data, y in axes fraction: the band spans the panel's height
    for flagged, colour in ((0, "#e3ecf7"), (1, "#f8e7bf"), (2, "#f6d5d5")):
        chosen = at[level == flagged]
        if len(chosen):
            ax.broken_barh(list(zip(t[chosen[:, 0]], t[chosen[:, 2]] - t[chosen[:, 0]])), (0, 1), transform=band,
                           facecolors=colour, alpha=0.7, lw=0)
    ax.vlines(t[at[:, 1]], 0, 1, transform=band, colors="#9aa5b1", lw=0.6, linestyles=":")
    step = int(np.ceil(len(reps) / MAX_REP_LABELS))
    for rep, (_, b, _) in list(zip(reps, at))[::step] if numbers else ():
        ax.annotate(str(rep["index"]), (t[b], 1.0), xycoords=("data", "axes fraction"), fontsize=7,
                    ha="center", va="top", color="#555")

