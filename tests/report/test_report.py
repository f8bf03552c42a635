"""The session report: inputs, payload, tables, escaping, progress and the CLI (no browser here)."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from pipeline.common.landmarks import INDEX
from pipeline.contracts import ContractError
from pipeline.report.html import build_report, threshold_text
from pipeline.report.progress import config_context, history_table
from pipeline.report.replay import decode_points, replay_payload, script_json
from pipeline.synthetic.report_session import write_sample_session
from pipeline.report.session import (ALL_EDGES, FAIL, SPINE_EDGES, WARN, ReportInputError, cue_edges, load_session,
                                     violation_mask, violation_runs)
from pipeline.report.plots import interval_marks, threshold_lines

FAULTS = {2: ["soft_knee"], 3: ["neutral_spine", "hip_back"]}
META = {"athlete": "Ann <b>O'Neil</b> & co", "exercise": "deadlift", "date": "2026-11-20", "load_kg": 62.5,
        "notes": "bar felt heavy </script><!-- <img src=x onerror=alert(1)>"}


@pytest.fixture(scope="module")
def session_dir(tmp_path_factory):
    return write_sample_session(tmp_path_factory.mktemp("s") / "s2", n_reps=4, seconds=10, faults=FAULTS)


@pytest.fixture(scope="module")
def page(session_dir):
    index = build_report(session_dir, META, figures=False)
    return index.read_text(encoding="utf-8")


def _edge(a, b):
    e = (INDEX[a], INDEX[b])
    return ALL_EDGES.index(e) if e in ALL_EDGES else ALL_EDGES.index(e[::-1])


def test_cue_edges_colour_the_named_segments():
    knees = cue_edges(["left_knee", "right_knee"])
    assert _edge("left_hip", "left_knee") in knees and _edge("right_knee", "right_ankle") in knees
    assert _edge("left_shoulder", "left_hip") not in knees
    spine = cue_edges(["left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_hip", "right_hip"])
    assert {ALL_EDGES.index(e) for e in SPINE_EDGES} <= set(spine)
    assert _edge("left_hip", "left_knee") not in spine
    trunk = cue_edges(["sacrum", "upper_back"])
    assert ALL_EDGES.index(SPINE_EDGES[0]) in trunk and ALL_EDGES.index(SPINE_EDGES[1]) not in trunk


def test_violation_mask_marks_frames_and_segments_of_each_cue(session_dir):
    s = load_session(session_dir)
    mask = violation_mask(s)
    rep2 = s.reps["reps"][1]
    knee = next(c for c in rep2["cues"] if c["id"] == "soft_knee")
    knee_edge = _edge("left_knee", "left_ankle")
    assert mask[knee["frames"], knee_edge].all()
    outside = np.setdiff1d(np.arange(s.n_frames), knee["frames"])
    assert not mask[outside, knee_edge].any()
    runs = violation_runs(s)
    assert {(r["cue"], r["rep"]) for r in runs} == {("soft_knee", 2), ("neutral_spine", 3), ("hip_back", 3)}
    assert all(r["end"] >= r["start"] and r["level"] == "fail" for r in runs)
    # A borderline (warn) verdict marks its segments at the lower level; a fail on the same segment wins.
    hip = next(c for c in s.reps["reps"][2]["cues"] if c["id"] == "hip_back")
    hip["verdict"] = "warn"
    levels = violation_mask(s)
    hips = _edge("left_hip", "right_hip")
    assert levels[hip["frames"], hips].max() == FAIL  # neutral_spine (fail) also colours the hip line
    assert levels[knee["frames"], knee_edge].min() == FAIL
    pelvis_only = cue_edges(["left_hip", "right_hip"])
    spine_cue = next(c for c in s.reps["cues"] if c["id"] == "neutral_spine")
    spine_cue["landmarks"] = ["left_ear", "right_ear"]  # take the hips out of the failing cue
    assert (violation_mask(s)[np.ix_(hip["frames"], pelvis_only)] == WARN).all()


def test_replay_payload_round_trips_positions_to_the_millimetre(session_dir):
    s = load_session(session_dir)
    s.points[3, 5] = np.nan
    payload = replay_payload(s, {})
    back = decode_points(payload["points"], payload["n_points"])
    assert back.shape == s.points.shape
    assert np.isnan(back[3, 5]).all()
    ok = np.isfinite(s.points)
    assert np.abs(back[ok] - s.points[ok]).max() <= 0.0005 + 1e-6
    assert payload["reps"][1]["verdict"] == "fail" and payload["reps"][0]["verdict"] == "pass"


def test_script_json_cannot_close_the_script_element():
    text = script_json({"notes": "</script><!-- & <b>"})
    assert "</" not in text and "<!--" not in text and "<" not in text
    assert json.loads(text) == {"notes": "</script><!-- & <b>"}


def test_page_summary_table_and_links(session_dir, page):
    s = load_session(session_dir)
    body = page.split('<table id="rep-table">')[1].split("</table>")[0]
    rows = re.findall(r'<tr data-start="(\d+)" data-end="(\d+)"', body)
    assert len(rows) == 4
    links = [int(f) for f in re.findall(r'<a class="jump" href="#frame=(\d+)" data-frame="\d+" title', body)]
    expected = sorted(min(c["frames"]) for r in s.reps["reps"] for c in r["cues"] if c["verdict"] == "fail")
    assert sorted(links) == expected
    assert "Quality reps" in page and "2<span class='of'>/4</span>" in page
    assert "62.5 kg" in page
    top = page.split('class="top-cues">')[1].split("</ol>")[0]
    assert {"soft_knee", "neutral_spine", "hip_back"} == set(re.findall(r'class="cue-id">(\w+)<', top))
    assert "ok 8–25 · fail outside 5–30" in body


def test_page_escapes_every_user_string(page):
    assert "<b>O'Neil</b>" not in page and "Ann &lt;b&gt;O&#x27;Neil&lt;/b&gt; &amp; co" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    # The only </script> tags are the page's own three.
    assert page.count("</script>") == 3
    assert "src=\"http" not in page and "href=\"http" not in page  # works offline: nothing fetched


def test_threshold_text_and_plot_lines(session_dir):
    assert threshold_text("above", {"warn": 15, "fail": 20}) == "warn &gt; 15 · fail &gt; 20"
    assert threshold_text("lt", {"warn": 0.18, "fail": 0.15}) == "warn &lt; 0.18 · fail &lt; 0.15"
    assert threshold_text("abs_gt", {"warn": None, "fail": 10}) == "fail |x| &gt; 10"
    s = load_session(session_dir)
    lines = threshold_lines(s.reps, s.kin)
    assert sorted(v for v, _, _ in lines["knee_flex"]) == [5.0, 8.0, 25.0, 30.0]
    # The landmark spine angle is no longer plotted (the back is judged in the silhouettes)...
    assert "spine_angle" not in lines
    # ... whose change from neutral is its own curve: its thresholds are drawn on it as they are
    back = {"cues": [{"id": "neutral_spine", "column": "back_flex_change", "deviation_of": "back_flex"}],
            "reps": [{"start": 0, "end": 1, "t_bottom": 0.5, "cues": [
                {"id": "neutral_spine", "threshold": {"warn": 20, "fail": 25}, "verdict": "borderline",
                 "value": 23.0, "interval": 4.0}]}]}
    assert sorted(v for v, _, _ in threshold_lines(back)["back_flex_change"]) == [20.0, 25.0]
    # a flagged value is marked at its rep's bottom with its interval; a passed one is not
    assert interval_marks(back) == {"back_flex_change": [(0.5, 23.0, 4.0, "borderline")]}
    back["reps"][0]["cues"][0]["verdict"] = "pass"
    assert interval_marks(back) == {}
    reps = {"cues": [{"id": "spinal_flexion", "metric": "trunk_shortening_pct", "unit": "%",
                      "column": "trunk_length_rel", "scale": -100.0, "offset": 100.0}],
            "reps": [{"start": 0, "end": 1, "cues": [{"id": "spinal_flexion", "threshold": {"fail": 6}}]}]}
    assert threshold_lines(reps)["trunk_length_rel"] == [(pytest.approx(0.94), "fail", "spinal_flexion")]


def test_load_session_names_the_missing_file_and_column(tmp_path, session_dir):
    with pytest.raises(ContractError, match="reps.json"):
        d = tmp_path / "x"
        d.mkdir()
        for name in ("pose3d.npz", "kinematics.csv"):
            (d / name).write_bytes((session_dir / name).read_bytes())
        load_session(d)
    (d / "reps.json").write_text((session_dir / "reps.json").read_text())
    kin = (session_dir / "kinematics.csv").read_text().replace("spine_angle", "spine_ang", 1)
    (d / "kinematics.csv").write_text(kin)
    with pytest.raises(ContractError, match=r"kinematics.csv.*spine_angle"):
        load_session(d)


def test_progress_orders_sessions_and_counts(tmp_path, session_dir):
    old = write_sample_session(tmp_path / "s0", n_reps=3, seconds=8, faults={1: ["soft_knee"], 2: ["soft_knee", "hip_back"]},
                               depth_deg=80)
    mid = write_sample_session(tmp_path / "s1", n_reps=3, seconds=8, faults={}, depth_deg=90)
    table = history_table(session_dir, {"date": "2026-11-20"}, [{"dir": mid, "date": "2026-11-13"}, {"dir": old, "date": "2026-11-06"}])
    assert table["session"].tolist() == ["s0", "s1", "s2"]
    assert table["current"].tolist() == [False, False, True]
    assert table["quality_reps"].tolist() == [1, 3, 2]
    assert table["violations_per_rep"].tolist() == pytest.approx([1.0, 0.0, 0.75])
    assert table["depth_deg"].tolist() == pytest.approx([80, 90, 95], abs=0.5)
    with pytest.raises(ReportInputError, match="reps.json"):
        history_table(session_dir, {}, [tmp_path])


def test_config_context_finds_the_athletes_earlier_analysed_sessions(tmp_path):
    for name in ("a1", "a3", "b1"):
        write_sample_session(tmp_path / "sessions" / name, n_reps=2, seconds=4)
    cfg = {"sessions": {"a1": {"athlete": "A", "date": "1"}, "a2": {"athlete": "A", "date": "2", "load_kg": 40},
                        "a0": {"athlete": "A"}, "a3": {"athlete": "A", "date": "3"}, "b1": {"athlete": "B"}}}
    meta, history = config_context(cfg, "a2", tmp_path)
    assert meta["load_kg"] == 40
    # a0 not analysed, b1 another athlete, a3 analysed but later: a report never shows the athlete's future
    assert [h["dir"].name for h in history] == ["a1"]
    assert [h["dir"].name for h in config_context(cfg, "a3", tmp_path)[1]] == ["a1"]
    with pytest.raises(ReportInputError, match="zz"):
        config_context(cfg, "zz", tmp_path)


def test_cli_report_reads_the_config_and_writes_the_page(tmp_path):
    import yaml
    from typer.testing import CliRunner

    from pipeline.cli import app

    d = write_sample_session(tmp_path / "results" / "sessions" / "c1", n_reps=2, seconds=4, faults={1: ["hip_back"]})
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({"sessions": {"c1": {"athlete": "Cli Person", "exercise": "deadlift", "room": "r", "videos": "v"}}}))
    res = CliRunner().invoke(app, ["report", str(d), "--config", str(cfg), "--no-figures", "--load-kg", "55"])
    assert res.exit_code == 0, res.output
    text = (d / "report" / "index.html").read_text()
    assert "Cli Person" in text and "55 kg" in text
    res = CliRunner().invoke(app, ["report", str(tmp_path / "nope"), "--no-figures"])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_session_without_reps_and_with_untracked_frames_still_reports(tmp_path):
    d = write_sample_session(tmp_path / "empty", n_reps=2, seconds=4)
    reps = json.loads((d / "reps.json").read_text())
    reps["reps"], reps["n_reps"], reps["summary"] = [], 0, {"quality_reps": 0, "violations": {}}
    (d / "reps.json").write_text(json.dumps(reps))
    with np.load(d / "pose3d.npz") as z:
        arrays = dict(z)
    arrays["xyz"][10:20] = np.nan
    np.savez(d / "pose3d.npz", **arrays)
    page = build_report(d, {}, history=[]).read_text()
    assert re.findall(r'<tr data-start=', page) == []
    assert "no reps judged" in page and "every rep met every cue" not in page
    assert 'id="no-reps"' not in page  # no message given: no notice

    reps["message"] = "session 'empty' is 1.67 s long (100 frames); at least 2.0 s are needed <b>"
    (d / "reps.json").write_text(json.dumps(reps))
    page = build_report(d, {}, history=[]).read_text()
    assert '<p class="notice" id="no-reps">No reps were judged: session &#x27;empty&#x27; is 1.67 s long' in page
    assert "needed &lt;b&gt;" in page  # escaped like every other string


@pytest.mark.parametrize("child", [
    "echo 'RenderError: Open3D could not open an offscreen renderer (no EGL); install libegl1' >&2; exit 1",
    "kill -SEGV $$",  # the graphics stack crashing outright
])
def test_page_is_built_without_figures_when_open3d_cannot_render(session_dir, tmp_path, monkeypatch, child):
    import sys

    fake = tmp_path / "python"
    fake.write_text(f"#!/bin/sh\n{child}\n")
    fake.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(fake))  # the renderer process is started as sys.executable -m ...
    with pytest.warns(RuntimeWarning, match="renderer process failed"):
        page = build_report(session_dir, {}, out_dir=tmp_path / "r").read_text()
    assert "3D figures not rendered: the Open3D renderer process failed" in page
    if "offscreen" in child:
        assert "Open3D could not open an offscreen renderer (no EGL)" in page
    assert len(re.findall(r'<tr data-start=', page)) == 4
    assert 'class="view"' not in page


def test_long_series_are_plotted_per_pixel_column_with_their_peaks_and_gaps():
    from pipeline.report.plots import PLOT_COLUMNS, decimate

    t = np.arange(18000) / 30.0
    y = np.sin(t)
    y[4000:4300] = np.nan  # ten seconds untracked
    y[12345], y[12346] = 170.0, -90.0  # a one-frame spike each way
    tt, yy = decimate(t, y)
    assert len(tt) == 2 * PLOT_COLUMNS and np.all(np.diff(tt) >= 0)
    assert np.nanmax(yy) == 170.0 and np.nanmin(yy) == -90.0
    gap = (tt > 4010 / 30) & (tt < 4290 / 30)
    assert gap.any() and np.isnan(yy[gap]).all()
    short = np.arange(100.0)
    assert len(decimate(short, short)[0]) == 100  # a short series is drawn as it is


def test_cells_show_the_interval_the_borderline_state_and_why_a_cue_was_not_judged(tmp_path, session_dir):
    import shutil

    d = tmp_path / "s"
    shutil.copytree(session_dir, d)
    reps = json.loads((d / "reps.json").read_text())
    rep1 = {c["id"]: c for c in reps["reps"][0]["cues"]}
    rep1["hip_back"].update(verdict="borderline", value=0.16, interval=0.03, frames=[int(reps["reps"][0]["bottom"])],
                            capture={"cameras": 3.2, "reprojection_permille": 9.5, "scale": 1.4})
    rep1["soft_knee"].update(verdict="not_judged", value=None, frames=[],
                             reason="no camera sees the knees well enough, because the coach stood in front of two of them")
    reps["summary"]["borderline"] = {"hip_back": 1}
    reps["summary"]["not_judged"] = {"soft_knee": 1}
    (d / "reps.json").write_text(json.dumps(reps))
    page = build_report(d, META, figures=False).read_text(encoding="utf-8")
    body = page.split('id="rep-table"')[1].split("</table>")[0]
    row1 = body.split("<tr")[2]
    assert 'class="cell v-borderline"' in row1 and "&#177;0.03" in row1 and ">borderline</span>" in row1
    assert "3.2 cameras" in row1 and "1.40x the benchmark" in row1  # where the interval comes from
    assert "not judged: no camera sees the knees well enough, because the coach stood in …<" in row1  # short
    assert "in front of two of them" in row1  # and whole in its tooltip
    cards = page.split('id="summary"')[1].split("</section>")[0]
    assert "1 borderline cue to look at; 1 not judged" in cards
