"""The report's "Capture quality" section: how far the 3D skeleton can be trusted.

It reads what the triangulate stage stored in ``pose3d.npz`` (``info``) and the
session's ``sync.json``: the cameras used and left out, each camera's sync
offset, the share of the session each camera filmed and contributed to (a
camera that started late or stopped early), left/right swaps repaired and
views excluded, reprojection error, any principal-point refinement, the share
of landmarks tracked, how steady the thigh and shank lengths were, and the
triangulation's warnings. With people matched across cameras (``info["people"]``)
it also names the athlete's rule and everyone else who was there, and a
camera whose views were mostly someone else's is "partly" used, not "yes".
A pose3d from elsewhere has no ``info``: no section.
"""
from __future__ import annotations

from html import escape as e
from typing import Any

from pipeline.contracts.pose3d import tracked_text
from pipeline.contracts.sync import Sync


def capture_html(info: dict, sync: Sync | None) -> str:
    """The section from pose3d.npz's ``info`` and the session's sync.json (None: not there)."""
    if not info:
        return ""
    sync_cams = sync.cameras if sync is not None else {}
    rows = [_camera_row(name, info, sync_cams.get(name, {}))
            for name in [*info.get("cameras", []), *info.get("left_out", {})]]
    bones = (info.get("filter") or {}).get("bones") or {}
    steady = ", ".join(f"{e(k.replace('_', ' '))} {100 * v['cv']:.1f} %" for k, v in bones.items() if v.get("cv") is not None)
    rep = info.get("reprojection_px") or {}
    facts = [
        f"sync: <b>{e(str(info.get('sync_method') or (sync.method if sync is not None else '–')))}</b>",
        f"landmarks tracked: <b>{tracked_text(info.get('tracked_pct'))}</b>",
        f"median reprojection error of the body joints: <b>{_num(rep.get('median_body_joints'), '.1f')} px</b>",
        f"bone length variation (std/mean): {steady or '–'}",
    ]
    head = ("<tr><th>Camera</th><th>Used</th><th>Sync offset</th><th>Frames contributed</th>"
            "<th>Swaps repaired (whole / arms / legs)</th>"
            "<th>Views excluded</th><th>Median reprojection</th><th>Principal point moved</th></tr>")
    warnings = "".join(f"<li>{e(w)}</li>" for w in info.get("warnings") or [])
    notes = f'<ul class="notice" id="capture-warnings" style="padding-left: 2em">{warnings}</ul>' if warnings else ""
    return (f'<section id="capture"><h2>Capture quality</h2><p class="lead">{" · ".join(facts)}</p>{notes}'
            f'{people_html(info)}<div class="table-wrap"><table id="capture-table"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table></div></section>')


def _camera_row(name: str, info: dict, sync: dict) -> str:
    left_out = (info.get("left_out") or {}).get(name)
    swaps = ((info.get("swaps") or {}).get("cameras") or {}).get(name, {})
    frames = swaps.get("frames") or 0
    swapped = " / ".join(str(swaps.get(k, 0)) for k in ("whole", "arms", "legs")) + (f" of {frames}" if frames else "") if swaps else "–"
    shift = (info.get("principal_point_shift_px") or {}).get(name)
    err = ((info.get("reprojection_px") or {}).get("per_camera_median") or {}).get(name)
    offset = sync.get("offset_s")
    cells = [
        e(name),
        "no: " + e(left_out) if left_out else _used(name, info),
        (f"{1000 * offset:+.1f} ms (confidence {sync.get('confidence', 0):.2f})"
         + (f", drift {1e6 * sync['drift']:+.0f} ppm" if sync.get("drift") else "")) if offset is not None else "–",
        _contributed((info.get("coverage") or {}).get(name)),
        swapped,
        str(swaps.get("excluded", 0)) if swaps else "–",
        f"{_num(err, '.1f')} px",
        f"({shift[0]:+.1f}, {shift[1]:+.1f}) px" if shift else "–",
    ]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _contributed(cov: dict | None) -> str:
    """'48 % (filmed 0.0-8.2 s only)' for a camera short of the session; '100 %' for a full one."""
    if not cov:
        return "–"
    text = f"{_num(cov.get('frames_pct'), '.0f')} %"
    span = cov.get("covered_s") or []
    if cov.get("short"):  # the triangulate stage's judgement (pipeline.sync.timeline.FULL_COVERAGE)
        text += f" (filmed {round(span[0], 1) + 0.0:.1f}-{round(span[1], 1) + 0.0:.1f} s only)" if len(span) == 2 \
            else " (filmed none of it)"
    return text


USED_SHARE = 0.9  # a camera that gave the athlete's view on fewer instants is "partly" used


def _used(name: str, info: dict) -> str:
    """'yes', or 'partly: ...' for a camera whose views were often not the athlete's (people matched)."""
    cam = ((info.get("people") or {}).get("cameras") or {}).get(name)
    if not cam or cam.get("athlete_share", 1.0) >= USED_SHARE:
        return "yes"
    other = cam.get("only_candidate_someone_else", 0)
    return (f"partly: the athlete's view on {100 * cam['athlete_share']:.0f} % of the instants"
            + (f"; on {other} its only person was someone else" if other else ""))


def people_html(info: dict) -> str:
    """Who the athlete is and who else was there (``info["people"]`` of the triangulate stage)."""
    people = info.get("people")
    if not people:
        return ""
    others = people.get("others") or []
    lines = [f"athlete: {e(people.get('rule', '–'))}, on {people.get('athlete_instants', 0)} of "
             f"{people.get('instants', 0)} instants"]
    if others:
        names = "; ".join(e(_person(p)) for p in others)
        lines.append(f"<b>{len(others)} other {'person' if len(others) == 1 else 'people'}</b> seen: {names}")
    else:
        lines.append("no one else seen by two cameras at once")
    cams = people.get("cameras") or {}
    moved = {c: v["reassigned"] for c, v in cams.items() if v.get("reassigned")}
    if moved:
        lines.append("views re-assigned from the person a camera's detector followed to the athlete: "
                     + ", ".join(f"{e(c)} {n}" for c, n in moved.items()))
    unmatched = {c: v["unmatched_instants"] for c, v in cams.items() if v.get("unmatched_instants")}
    if unmatched:
        lines.append("people no other camera saw at the same time (not matched): "
                     + ", ".join(f"{e(c)} on {n} instants" for c, n in unmatched.items()))
    return '<ul id="capture-people" style="padding-left: 2em">' + "".join(f"<li>{x}</li>" for x in lines) + "</ul>"


def _person(p: dict) -> str:
    cams = ", ".join(p.get("cameras") or {}) or "–"
    xy = p.get("floor_xy") or [float("nan")] * 2
    return (f"person {p.get('id')} at {p.get('t_start', 0):.1f}-{p.get('t_end', 0):.1f} s near "
            f"({xy[0]:.1f}, {xy[1]:.1f}) m, seen by {cams}")


def _num(v: Any, fmt: str) -> str:
    return format(v, fmt) if isinstance(v, (int, float)) else "–"
