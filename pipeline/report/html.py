"""Build a session's report: one self-contained HTML page that works offline.

Everything the page needs is inside it: the stylesheet, three.js (vendored in
assets/, MIT licence, see assets/README.md), the replay script, the replay
data, the Open3D figures (PNG) and the plots (SVG) as data URIs. The figures
are also written as PNG files in report/figures/ for use elsewhere.

Every string that comes from the user (athlete, session, notes, ...) goes
through html.escape; data for the scripts goes through replay.script_json.
"""
from __future__ import annotations

import base64
import html
import logging
import time
from concurrent.futures import ThreadPoolExecutor
import warnings
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
from tqdm import tqdm

from pipeline.common.atomic import atomic_path
from pipeline.report.capture import capture_html
from pipeline.report.session import FLAGGED, Session, bottom_frames, load_session, rep_verdict, violation_mask

log = logging.getLogger(__name__)
ASSETS = Path(__file__).with_name("assets")
VERDICT_LABEL = {"pass": "pass", "warn": "warn", "borderline": "borderline", "fail": "fail", "unreliable": "unreliable", "not_judged": "not judged"}


def e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _asset(name: str) -> str:
    path = ASSETS / name
    if not path.is_file():
        raise FileNotFoundError(f"report asset '{path}' is missing; reinstall hingecap (pip install -e .)")
    return path.read_text(encoding="utf-8")


def _script(text: str) -> str:
    # An inline script ends at the first "</script": keep any such text inside the JS literal.
    return text.replace("</script", "<\\/script").replace("<!--", "<\\!--")


def _three_js() -> str:
    # The UMD build announces its own deprecation on every load; the page does not need that in the console.
    return _asset("three.min.js").replace("console.warn('Scripts \"build/three.js\" and \"build/three.min.js\" are deprecated", "void('", 1)


def _data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def build_report(
    session_dir: str | Path, session_meta: Mapping[str, Any] | None = None, out_dir: str | Path | None = None,
    history: Iterable[Any] = (), *, figures: bool = True, timings: dict | None = None,
    videos: Mapping[str, str | Path] | None = None, proxies: Mapping[str, str | Path] | None = None,
    calibration: str | Path | None = None, pose2d: Mapping[str, str | Path] | None = None,
) -> Path:
    """Write ``{out_dir or session_dir/report}/index.html`` for one session and return its path.

    ``session_meta`` is the session's config (athlete, exercise, date, load_kg,
    notes); ``history`` lists earlier sessions of the same athlete (folders, or
    mappings with ``dir`` and their config) for the progress section.
    ``videos`` (camera -> video) or their ``proxies`` (camera -> .webm, as
    the workflow writes them), with the room's ``calibration``, give the video
    panel and each violation's picture (``pipeline.report.evidence``); without
    them the page says why it has no video. ``timings``, if given, receives
    the seconds spent per part.
    """
    from pipeline.report import evidence, plots, progress, replay

    meta = dict(session_meta or {})
    timings = timings if timings is not None else {}
    started = clock = time.perf_counter()
    steps = tqdm(total=5, desc=f"report {Path(session_dir).name}", unit="part", leave=False)

    session = load_session(session_dir)
    out = Path(out_dir) if out_dir is not None else session.dir / "report"
    cue_words = {c["id"]: c.get("words", c["id"]) for c in session.reps["cues"]}
    mask = violation_mask(session)
    log.info("read %s: %d frames at %.3g fps, %d reps, %d cues", session.dir, session.n_frames, session.fps,
             len(session.reps["reps"]), len(session.reps["cues"]))
    timings["load"] = time.perf_counter() - clock
    steps.update()

    # Open3D renders in its own process while this one builds the rest (figures3d.render_in_child).
    clock = time.perf_counter()
    render, figure_reps, figure_error = None, figure_reps_of(session), ""
    if figures and figure_reps:
        from pipeline.report.figures3d import render_in_child

        idx = [i for i, r in enumerate(session.reps["reps"]) if r["index"] in figure_reps]
        bottoms = bottom_frames(session)[idx]
        try:
            render = render_in_child(session.points[bottoms], mask[bottoms], session.facing, out / "figures", figure_reps)
        except (OSError, RuntimeError) as exc:
            figure_error = f"the renderer process could not start ({exc})"
    timings["figures_start"] = time.perf_counter() - clock

    # The stills (decoding video) run on a thread beside the plots (matplotlib): OpenCV lets go of the GIL.
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        clock = time.perf_counter()
        footage, no_video = evidence.gather_footage(session, out, videos=videos, proxies=proxies, calibration=calibration,
                                                    pose2d=pose2d)
        stills_job, video_data = None, None
        if footage is not None:
            stills_job = pool.submit(evidence.stills, session, footage, mask)
            video_data = evidence.video_payload(session, footage)
        elif videos or proxies:
            log.warning("no video panel: %s", no_video)  # videos were given: the coach expects them
        else:
            log.info("no video panel: %s", no_video)
        timings["video"] = time.perf_counter() - clock
        steps.update()

        clock = time.perf_counter()
        plot_uri = _data_uri("image/svg+xml", plots.session_plot_svg(session))
        history = list(history)
        progress_html = ""
        if history:
            table = progress.history_table(session.dir, meta, history)
            progress_html = _progress_html(table, _data_uri("image/svg+xml", progress.progress_plot_svg(table)))
        timings["plots"] = time.perf_counter() - clock
        steps.update()

        clock = time.perf_counter()
        pictures, key_frames = stills_job.result() if stills_job is not None else ({}, {})
        timings["stills_wait"] = time.perf_counter() - clock
    except BaseException:
        if render is not None:
            render.kill()  # the page is not being written: its figures are not needed
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)

    clock = time.perf_counter()
    images: dict[int, dict[str, bytes]] = {}
    if render is not None:
        from pipeline.report.figures3d import RenderError

        try:
            images = dict(zip(figure_reps, render.result()))
        except RenderError as exc:
            figure_error = str(exc)
    if figure_error:
        # The page is still worth having without the still figures: say why they are missing.
        warnings.warn(figure_error, RuntimeWarning, stacklevel=2)
    figure_html = _figures_html(session, figure_reps if figures else [], images, pictures, figure_error)
    timings["figures"] = time.perf_counter() - clock
    steps.update()

    clock = time.perf_counter()
    payload = replay.replay_payload(session, cue_words)
    payload["facing"] = session.facing.tolist()
    payload["video"] = video_data
    parts = _page(session, meta, cue_words, replay.script_json(payload), figure_html, plot_uri,
                  progress_html + capture_html(session.info, session.sync),
                  _video_html(footage, no_video, key_frames, session), pictures if footage is not None else None)
    index = out / "index.html"
    with atomic_path(index) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.writelines(parts)
    timings["page"] = time.perf_counter() - clock
    steps.update()
    steps.close()
    log.info("session %s: %d frames, %d rep(s)%s; history: %s; figures: %s; capture warnings: %d",
             session.name, session.n_frames, len(session.reps["reps"]),
             f" (no reps: {session.reps['message']})" if session.reps.get("message") else "",
             ", ".join(str(h.get("dir") if isinstance(h, Mapping) else h) for h in history) or "none",
             "rendered" if figure_html and "Not rendered" not in figure_html else "not rendered" if figure_html else "off",
             len(session.info.get("warnings") or []))
    log.info("wrote %s (%.2f MB) in %.2f s: %s", index, index.stat().st_size / 1e6, time.perf_counter() - started,
             ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()))
    return index


def figure_reps_of(session: Session) -> list[int]:
    """The reps drawn in 3D: every rep with a flagged cue, and the first clean rep to compare them with.

    Rendering costs about 40 ms a view, so drawing all 150 reps of a long
    session would take most of the report's time for cards nobody reads;
    the clean reps are in the replay.
    """
    reps = session.reps["reps"]
    flagged = [int(r["index"]) for r in reps if rep_verdict(r) in FLAGGED]
    clean = next((int(r["index"]) for r in reps if rep_verdict(r) == "pass"), None)
    return sorted(flagged + ([clean] if clean is not None else []))


# --- page parts ----------------------------------------------------------------

def _fmt(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return "–".join(_fmt(x) for x in v)
    if isinstance(v, (int, float, np.number)):
        v = float(v)
        if not np.isfinite(v):
            return "n/a"
        return f"{v:.0f}" if abs(v) >= 1000 else f"{v:.3g}"
    return e(v)


def threshold_text(comparator: str, threshold: Mapping[str, Any] | None) -> str:
    thr = dict(threshold or {})
    warn, fail = thr.get("warn"), thr.get("fail")
    comp = (comparator or "").lower()
    if comp == "abs_gt":
        parts = [f"warn |x| &gt; {_fmt(warn)}" if warn is not None else "", f"fail |x| &gt; {_fmt(fail)}" if fail is not None else ""]
    elif comp in ("above", "gt", "max", ">"):
        parts = [f"warn &gt; {_fmt(warn)}" if warn is not None else "", f"fail &gt; {_fmt(fail)}" if fail is not None else ""]
    elif comp in ("below", "lt", "min", "<"):
        parts = [f"warn &lt; {_fmt(warn)}" if warn is not None else "", f"fail &lt; {_fmt(fail)}" if fail is not None else ""]
    elif comp == "between":
        parts = [f"ok {_fmt(warn)}" if warn is not None else "", f"fail outside {_fmt(fail)}" if fail is not None else ""]
    else:
        parts = [f"{e(k)} {_fmt(v)}" for k, v in thr.items()]
    return " · ".join(p for p in parts if p) or "–"


def _summary_cards(session: Session, meta: Mapping[str, Any], cue_words: dict[str, str]) -> str:
    reps = session.reps["reps"]
    n = len(reps)
    quality = session.reps.get("summary", {}).get("quality_reps")
    if quality is None:
        quality = sum(1 for r in reps if rep_verdict(r) == "pass")
    counts = Counter(session.reps.get("summary", {}).get("violations") or {})
    if not counts:
        counts = Counter(c["id"] for r in reps for c in r.get("cues", []) if c.get("verdict") == "fail")
    top = [(cue, k) for cue, k in counts.most_common(3) if k > 0]
    top_html = "".join(
        f'<li><span class="cue-id">{e(cue)}</span> <span class="count">{k}×</span><div class="words">{e(cue_words.get(cue, ""))}</div></li>'
        for cue, k in top) or ('<li class="none">none — every rep met every cue</li>' if n else '<li class="none">no reps judged</li>')
    pct = f"{100 * quality / n:.0f}%" if n else "–"
    lowering = [r.get("lowering_s") for r in reps if r.get("lowering_s") is not None]
    rising = [r.get("rising_s") for r in reps if r.get("rising_s") is not None]
    tempo = f"{np.mean(lowering):.1f} / {np.mean(rising):.1f} s" if lowering and rising else "–"
    load = meta.get("load_kg")
    summary = session.reps.get("summary", {})
    n_border = sum(int(v) for v in (summary.get("borderline") or {}).values())
    n_unjudged = sum(int(v) for v in (summary.get("not_judged") or {}).values())
    border_hint = (f"{n_border} borderline cue{'s' if n_border != 1 else ''} to look at"
                   + (f"; {n_unjudged} not judged" if n_unjudged else "") if n_border or n_unjudged
                   else "no borderline cue")
    cards = [
        ("Reps", f"{n}", f"{session.n_frames / session.fps:.0f} s recorded at {session.fps:.0f} fps"),
        ("Quality reps", f"{quality}<span class='of'>/{n}</span>", f"{pct} with no cue violated; {border_hint}"),
        ("Load", f"{_fmt(load)} kg" if load is not None else "–", "as given in the session config" if load is not None else "not given"),
        ("Tempo", tempo, "mean lowering / rising time"),
    ]
    html_cards = "".join(f'<div class="card"><div class="label">{e(a)}</div><div class="big">{b}</div><div class="hint">{e(c)}</div></div>'
                         for a, b, c in cards)
    message = session.reps.get("message")
    # a session without reps still gets its replay and plots; the coach must see at once why nothing was judged
    notice = f'<p class="notice" id="no-reps">No reps were judged: {e(message)}</p>' if message else ""
    return (f'<section id="summary">{notice}<div class="cards">{html_cards}</div>'
            f'<div class="card wide"><div class="label">Cues most often violated</div><ol class="top-cues">{top_html}</ol></div></section>')


def _short(text: str, limit: int = 70) -> str:
    """The first words of a long reason for the cell (the whole reason is in the cell's tooltip)."""
    text = str(text)
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:(")
    return cut + " …"


def _capture_text(cue: Mapping[str, Any]) -> str:
    """Where a cell's interval comes from, for its tooltip."""
    cap = cue.get("capture") or {}
    if not cap:
        return ""
    parts = [f"{cap['cameras']:.1f} cameras" if cap.get("cameras") is not None else "",
             f"reprojection {cap['reprojection_permille']:.1f} per mille of the image"
             if cap.get("reprojection_permille") is not None else "",
             f"interval {cap['scale']:.2f}x the benchmark's typical one" if cap.get("scale") is not None else ""]
    return "capture at the bottom: " + ", ".join(p for p in parts if p)


def _pic_id(rep: int, cue: str) -> str:
    return f"pic-r{int(rep)}-{cue}"


def _rep_table(session: Session, cue_words: dict[str, str], pictures: Mapping | None = None) -> str:
    cues = session.reps["cues"]
    units = {c["id"]: c.get("unit", "") for c in cues}
    head = "".join(f'<th title="{e(cue_words.get(c["id"]))}">{e(c["id"]).replace("_", " ")}</th>' for c in cues)
    rows = []
    fps = session.fps
    for rep in session.reps["reps"]:
        by_id = {c["id"]: c for c in rep.get("cues", [])}
        cells = []
        for cue in cues:
            c = by_id.get(cue["id"])
            if c is None:
                cells.append('<td class="na">–</td>')
                continue
            verdict = c.get("verdict", "pass")
            frames = c.get("frames") or []
            jump = ""
            if verdict in FLAGGED:
                target = int(min(frames)) if frames else int(rep["bottom"])
                jump = (f'<a class="jump" href="#frame={target}" data-frame="{target}" '
                        f'title="show frame {target} in the replay and the video">&#9654; frame {target}</a>')
                if (int(rep["index"]), cue["id"]) in (pictures or {}):
                    jump += (f' <a class="pic-link" href="#{e(_pic_id(rep["index"], cue["id"]))}" '
                             f'title="the video frame with the segments coloured">&#9635; picture</a>')
            unit = units.get(cue["id"], "")
            unit_html = f' <span class="unit">{e(unit)}</span>' if unit else ""
            why = "; ".join(x for x in (c.get("reason"), c.get("note"), _capture_text(c)) if x)
            pm = (f'<span class="pm" title="the measurement\'s interval: the true value lies within it for about 92 % of '
                  f'the benchmark\'s reps">&#177;{_fmt(c["interval"])}</span>' if c.get("interval") is not None else "")
            reason = (f'<div class="why">not judged: {e(_short(c["reason"]))}</div>'
                      if verdict == "not_judged" and c.get("reason") else "")
            cells.append(
                f'<td class="cell v-{e(verdict)}"' + (f' title="{e(why)}"' if why else "") + f'><div class="val">{_fmt(c.get("value"))}{pm}{unit_html}'
                f'<span class="badge b-{e(verdict)}">{e(VERDICT_LABEL.get(verdict, verdict))}</span></div>'
                f'<div class="thr">{threshold_text(c.get("comparator", ""), c.get("threshold"))}</div>{reason}{jump}</td>')
        verdict = rep_verdict(rep)
        depth = rep.get("metrics", {}).get("hip_flex_bottom")
        tempo = f'{rep.get("lowering_s", float("nan")):.1f} / {rep.get("rising_s", float("nan")):.1f} s'
        rows.append(
            f'<tr data-start="{int(rep["start"])}" data-end="{int(rep["end"])}" class="rep-row r-{e(verdict)}">'
            f'<th scope="row"><a class="jump rep-link" href="#frame={int(rep["start"])}" data-frame="{int(rep["start"])}">Rep {int(rep["index"])}</a>'
            f'<div class="sub">{rep["start"] / fps:.1f}–{rep["end"] / fps:.1f} s</div></th>'
            f'<td class="tempo">{tempo}{"" if rep.get("reliable", True) else "<div class=warnnote>low confidence</div>"}</td>'
            f'<td class="depth">{_fmt(depth) + "°" if depth is not None else "–"}</td>'
            f'{"".join(cells)}<td><span class="badge big b-{e(verdict)}">{e(verdict)}</span></td></tr>')
    return (f'<section id="reps"><h2>Reps and cues</h2><p class="lead">Each cell: the measured value &#177; its '
            f'measurement interval, its verdict, and the threshold it was judged against. A FAIL is past the fail '
            f'threshold by more than the interval; <b>borderline</b> (amber) lies within the interval of it: the '
            f'measurement cannot tell, look at the picture; <b>not judged</b> says why. &#9654; jumps the replay and the video to the first frame that violates the cue'
            f'{"; &#9635; shows that frame from the camera with the segments involved coloured" if pictures else ""}.</p>'
            f'<div class="table-wrap"><table id="rep-table"><thead><tr><th>Rep</th><th>Tempo (down / up)</th><th title="hip flexion at the bottom">Depth</th>{head}<th>Verdict</th></tr>'
            f'</thead><tbody>{"".join(rows)}</tbody></table></div></section>')


def _figures_html(session: Session, figure_reps: list[int], images: Mapping[int, Mapping[str, bytes]],
                  pictures: Mapping[tuple[int, str], Any], figure_error: str = "") -> str:
    """One card per rep to review: each flagged cue's video picture beside the rep's 3D figure (side, front)."""
    reps = {int(r["index"]): r for r in session.reps["reps"]}
    shown = sorted(set(figure_reps) | {rep for rep, _ in pictures})
    if not shown and not figure_error:
        return ""
    cue_units = {c["id"]: c.get("unit", "") for c in session.reps["cues"]}
    cards = []
    for index in shown:
        rep = reps[index]
        verdict = rep_verdict(rep)
        bad = [c for c in rep.get("cues", []) if c.get("verdict") in FLAGGED]
        caption = ", ".join(e(c["id"]) for c in bad) if bad else "no cue violated: a clean rep to compare with"
        pics = []
        for c in bad:
            still = pictures.get((index, c["id"]))
            if still is None:
                continue
            unit = cue_units.get(c["id"], "")
            pics.append(
                f'<figure class="pic v-{e(c.get("verdict"))}" id="{e(_pic_id(index, c["id"]))}">'
                f'<a class="jump" href="#frame={still.frame}" data-frame="{still.frame}" title="show this frame in the replay and the video">'
                f'<img alt="rep {index}, {e(c["id"])}: camera {e(still.camera)} at frame {still.frame}" src="{still.uri}"></a>'
                f'<figcaption><b>{e(c["id"]).replace("_", " ")}</b> <span class="badge b-{e(c.get("verdict"))}">{e(c.get("verdict"))}</span> '
                f'{_fmt(c.get("value"))}{(" " + e(unit)) if unit else ""} · frame {still.frame} · {e(still.camera)}</figcaption></figure>')
        views = images.get(index) or {}
        figs = "".join(f'<figure class="view"><img alt="rep {index} {v} view" src="{_data_uri("image/png", views[v])}">'
                       f'<figcaption>3D, {v}</figcaption></figure>' for v in ("side", "front") if v in views)
        cards.append(f'<div class="fig-card r-{e(verdict)}"><div class="fig-head"><a class="jump" href="#frame={int(rep["bottom"])}" '
                     f'data-frame="{int(rep["bottom"])}">Rep {index}</a> <span class="badge b-{e(verdict)}">{e(verdict)}</span>'
                     f'<span class="fig-cues">{caption}</span></div><div class="views">{"".join(pics)}'
                     f'{f"<div class=views3d>{figs}</div>" if figs else ""}</div></div>')
    note = f'<p class="lead">3D figures not rendered: {e(figure_error)}</p>' if figure_error else ""
    return (f'<section id="figures"><h2>Reps to review</h2><p class="lead">Every rep with a violated or borderline cue: '
            f'the video frame where each cue is first broken, from the camera that sees the athlete most side-on, and the '
            f'bottom of the rep in 3D (Open3D). <span class="sw red"></span> segments violating a cue · '
            f'<span class="sw amber"></span> borderline (warn) · <span class="sw blue"></span> the spine model '
            f'(head, upper back, sacrum). Click a picture to play from there.</p>{note}<div class="fig-grid">{"".join(cards)}</div></section>')


def _video_html(footage, reason: str, key_frames: Mapping[int, Mapping[str, Any]], session: Session) -> str:
    """The video panel beside the replay: the player and its overlay, or why there is none, and the key frames."""
    if footage is None:
        return (f'<div id="video-panel" class="novideo" data-state="none"><div class="video-note" id="video-note">'
                f'No camera video in this report: {e(reason)}.</div></div>')
    options = "".join(f'<option value="{e(c)}"{" selected" if c == footage.best else ""}>{e(c)}'
                      f'{" (most side-on)" if c == footage.best else ""}</option>' for c in footage.cameras)
    keys = []
    for rep in session.reps["reps"]:
        k = key_frames.get(int(rep["index"])) or {}
        imgs = "".join(f'<a class="jump" href="#frame={k[w].frame}" data-frame="{k[w].frame}" title="rep {int(rep["index"])} {w}">'
                       f'<img alt="rep {int(rep["index"])} {w}" loading="lazy" src="{k[w].uri}"></a>' for w in ("start", "bottom") if w in k)
        if imgs:
            keys.append(f'<div class="key r-{e(rep_verdict(rep))}"><div class="key-head">Rep {int(rep["index"])} '
                        f'<span class="badge b-{e(rep_verdict(rep))}">{e(rep_verdict(rep))}</span></div>{imgs}</div>')
    return (f'<div id="video-panel" data-state="loading"><div class="video-head"><label>Camera <select id="camera-select">{options}'
            f'</select></label><span class="video-note" id="video-note"></span></div>'
            f'<div class="video-box" id="video-box"><video id="video" muted playsinline preload="auto"></video>'
            f'<canvas id="video-overlay"></canvas></div>'
            f'<div id="key-frames" hidden><p class="lead">Start and bottom of each rep from the most side-on camera; click one to '
            f'show it in the replay.</p><div class="keys">{"".join(keys)}</div></div></div>')


def _progress_html(table, plot_uri: str) -> str:
    rows = "".join(
        f'<tr class="{"current" if r.current else ""}"><td>{e(r.date) or "–"}</td><td>{e(r.session)}</td><td>{_fmt(r.load_kg) if r.load_kg is not None and r.load_kg == r.load_kg else "–"}</td>'
        f'<td>{int(r.reps)}</td><td>{int(r.quality_reps)}</td><td>{_fmt(r.violations_per_rep)}</td><td>{_fmt(r.depth_deg)}°</td></tr>'
        for r in table.itertuples())
    return (f'<section id="progress"><h2>Progress across sessions</h2><img class="plot" alt="progress across sessions" src="{plot_uri}">'
            f'<div class="table-wrap"><table id="progress-table"><thead><tr><th>Date</th><th>Session</th><th>Load (kg)</th><th>Reps</th>'
            f'<th>Quality reps</th><th>Violations / rep</th><th>Depth (hip flexion)</th></tr></thead><tbody>{rows}</tbody></table></div></section>')


def _replay_html(video_html: str) -> str:
    return """<section id="replay-section"><h2>Replay: 3D and video</h2>
<div class="replay-wrap">
  <div id="replay" data-frame="0" data-playing="0">
    <div id="viewport"></div>
    <div class="overlay"><span id="frame-label">frame 0</span><span id="rep-label"></span></div>
    <div class="hint-overlay">drag to orbit · wheel to zoom · double-click to reset</div>
  </div>
  """ + video_html + """
  <aside class="panel">
    <div class="row"><button id="play" type="button" title="play / pause (space)">&#9654; Play</button>
      <button id="step-back" type="button" title="previous frame (&larr;)">&#9664;&#9664;</button>
      <button id="step-fwd" type="button" title="next frame (&rarr;)">&#9654;&#9654;</button>
      <label>speed <select id="speed"><option value="0.25">0.25×</option><option value="0.5">0.5×</option>
      <option value="1" selected>1×</option><option value="2">2×</option></select></label></div>
    <div class="row"><span class="ctl-label">Jump to rep</span><div id="rep-buttons"></div></div>
    <div class="row"><span class="ctl-label">View</span><button type="button" data-view="side">side</button>
      <button type="button" data-view="front">front</button><button type="button" data-view="three">3/4</button>
      <button type="button" data-view="top">top</button></div>
    <div class="row"><span class="ctl-label">Trajectories</span><div id="traj-toggles"></div></div>
    <div class="row"><span class="ctl-label">Violated at this frame</span><ul id="now-violated"><li class="none">–</li></ul></div>
    <div class="legend"><span><span class="sw red"></span>violating a cue</span> <span><span class="sw amber"></span>borderline</span>
      <span><span class="sw blue"></span>spine</span> <span><span class="sw teal"></span>left</span> <span><span class="sw indigo"></span>right</span></div>
  </aside>
</div>
<div class="timeline"><input id="scrub" type="range" min="0" max="0" value="0" step="1" aria-label="timeline"><div id="bands"></div></div>
</section>"""


def _page(session: Session, meta: Mapping[str, Any], cue_words: dict[str, str], replay_json: str,
          figure_html: str, plot_uri: str, progress_html: str, video_html: str, pictures: Mapping) -> list[str]:
    """The page as its parts in order: written one after another, a long session's page is never copied whole."""
    athlete = meta.get("athlete") or "Athlete"
    exercise = meta.get("exercise") or session.reps.get("exercise") or ""
    date = meta.get("date") or ""
    notes = meta.get("notes")
    exercise = str(exercise).replace("_", " ").capitalize()
    sub = " · ".join(e(x) for x in (exercise, date, f"session {session.name}") if x)
    notes_html = f'<section id="notes"><h2>Notes</h2><p class="notes">{e(notes)}</p></section>' if notes else ""
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return [f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hinge report · {e(athlete)} · {e(session.name)}</title>
<style>{_asset("report.css")}</style></head>
<body>
<header class="top"><div><div class="kicker">Hip-hinge review</div><h1>{e(athlete)}</h1><div class="subtitle">{sub}</div></div>
<div class="brand">hingecap</div></header>
<main>
{_summary_cards(session, meta, cue_words)}
{notes_html}
""", _replay_html(video_html), f"""
{_rep_table(session, cue_words, pictures)}
""", figure_html, """
<section id="plots"><h2>Kinematics over time</h2><p class="lead">Reps shaded (red: a cue failed, amber: borderline), bottoms
dotted; thresholds of the cues measured on a curve drawn (dashed: warn, solid: fail), and each failed or borderline value
at its rep's bottom with its measurement interval.</p>
<img class="plot" alt="hip and knee flexion, trunk inclination, spine angle and trunk length over time" src=\"""", plot_uri, """\"></section>
""", progress_html, f"""
</main>
<footer>Generated {e(generated)} by hingecap from pose3d.npz, kinematics.csv and reps.json of session {e(session.name)}{", its camera videos (their proxies in video/ beside this page), pose2d, sync.json and the room's calibration" if pictures is not None else ""}.
3D replay: three.js (MIT licence).</footer>
<script type="application/json" id="replay-data">""", replay_json, """</script>
<script>""", _script(_three_js()), f"""</script>
<script>{_script(_asset("replay.js"))}</script>
</body></html>
"""]
