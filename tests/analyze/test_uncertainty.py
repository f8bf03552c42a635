"""Intervals on cue values and the borderline verdict (pipeline/analyze/uncertainty.py, cues.judge)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.analyze.cues import Cue, judge
from pipeline.analyze.uncertainty import (CaptureQuality, ErrorModel, ErrorModelError, fit, interval, load_model,
                                          scale, write_model)


def _cue(comparator="gt", warn=20.0, fail=25.0) -> Cue:
    return Cue("c", "", "m", "bottom", comparator, warn, fail)


@pytest.mark.parametrize("value, u, verdict", [
    (31.0, 5.0, "fail"),        # past the fail threshold by more than its interval
    (29.0, 5.0, "borderline"),  # past it, but within the interval: the measurement cannot tell
    (21.0, 5.0, "borderline"),  # short of it, within the interval: may be past it
    (19.0, 5.0, "pass"),        # clear of it by more than the interval, and under warn
    (22.0, 2.0, "warn"),        # clear of fail by more than the interval, over warn
    (26.0, None, "fail"),       # no interval: the value is taken as exact (the old rule)
    (26.0, 0.0, "fail"),
])
def test_fail_only_beyond_the_interval_else_borderline(value, u, verdict):
    assert judge(value, _cue(), u) == verdict


def test_every_comparator_measures_the_distance_past_its_fail_threshold():
    assert judge(0.10, _cue("lt", 0.18, 0.15), 0.02) == "fail"
    assert judge(0.14, _cue("lt", 0.18, 0.15), 0.02) == "borderline"
    assert judge(-31.0, _cue("abs_gt"), 5.0) == "fail"
    assert judge(-27.0, _cue("abs_gt"), 5.0) == "borderline"
    between = _cue("between", [8, 25], [5, 30])
    assert judge(1.0, between, 3.0) == "fail"
    assert judge(6.0, between, 3.0) == "borderline"
    assert judge(15.0, between, 3.0) == "pass"
    assert judge(10.0, _cue("gt", 5.0, None), 3.0) == "warn"  # a warn-only cue is never borderline


def _model(**kw) -> ErrorModel:
    base = dict(k={"c": 2.0}, ref_cameras=4.0, ref_reprojection=8.0, max_scale=3.0)
    base.update(kw)
    return ErrorModel(**base)


def test_poorer_capture_widens_the_interval_a_better_one_never_narrows_it():
    m = _model()
    assert scale(m, 4.0, 8.0) == 1.0
    assert scale(m, 6.0, 4.0) == 1.0  # better than the benchmark's median: its error stays
    assert scale(m, 1.0, 8.0) == pytest.approx(2.0)  # a quarter of the views: twice the error
    assert scale(m, 4.0, 16.0) == pytest.approx(2.0)  # twice the reprojection error
    assert scale(m, 4.0, 8.0, cover=0.25) == pytest.approx(2.0)  # a quarter of the frames averaged
    assert interval(m, "c", 2.0, 8.0).u == pytest.approx(2.0 * np.sqrt(2.0))
    assert interval(m, "other", 4.0, 8.0) is None  # no figure for that cue: judged as exact


def test_a_capture_poorer_than_the_benchmark_ever_was_is_not_judged_and_says_why():
    iv = interval(_model(), "c", 1.0, 20.0)
    assert iv.u is None
    assert "capture poorer than any" in iv.why and "1.0 cameras" in iv.why and "20.0 per mille" in iv.why


def test_fit_covers_the_benchmark_errors_and_takes_capture_into_account():
    rng = np.random.default_rng(0)
    rows = []
    for i in range(400):
        cams = float(rng.choice([2.0, 4.0, 4.0, 4.0]))
        err = rng.normal(0, 1.0) * np.sqrt(4.0 / cams)  # the error of fewer views is larger
        rows.append({"cue": "c", "session": f"s{i % 8}", "value": 10 + err, "truth": 10.0, "cameras": cams,
                     "reprojection_permille": 8.0})
    m = fit(rows)
    assert m.ref_cameras == 4.0 and m.ref_reprojection == 8.0 and m.n == {"c": 400}
    assert 1.5 < m.k["c"] < 1.85  # the 90th percentile of |N(0, 1)| is 1.645
    u = np.array([interval(m, "c", r["cameras"], r["reprojection_permille"]).u for r in rows])
    covered = np.abs(np.array([r["value"] - r["truth"] for r in rows])) <= u
    assert 0.9 <= covered.mean() <= 0.95
    # held out: fitted on half the sessions, the other half is covered about as well
    held = fit([r for r in rows if r["session"] < "s4"])
    out = [r for r in rows if r["session"] >= "s4"]
    u = np.array([interval(held, "c", r["cameras"], r["reprojection_permille"]).u for r in out])
    assert (np.abs([r["value"] - r["truth"] for r in out]) <= u).mean() >= 0.86
    with pytest.raises(ErrorModelError, match="nothing to fit"):
        fit([{"cue": "c", "value": None, "truth": 1.0}])


def test_model_file_round_trip_and_errors_name_the_file(tmp_path):
    m = _model(n={"c": 12})
    path = write_model(tmp_path / "measurement_error.yaml", m, "a test")
    back = load_model(path)
    assert back.k == {"c": 2.0} and back.ref_cameras == 4.0 and back.max_scale == 3.0 and back.source == "a test"
    assert load_model(tmp_path / "absent.yaml") is None
    bad = tmp_path / "bad.yaml"
    bad.write_text("cues: {c: {error: -1}}\nreference_capture: {cameras: 4, reprojection_permille: 8}\nmax_scale: 2\n")
    with pytest.raises(ErrorModelError, match=str(bad)):
        load_model(bad)
    bad.write_text("cues: [1, 2]\n")
    with pytest.raises(ErrorModelError, match="reference_capture"):
        load_model(bad)


def test_capture_quality_is_read_on_the_cues_landmarks_per_image_size():
    ncams = np.full((10, 33), 4.0)
    ncams[:, 25:29] = 2.0  # knees and ankles seen by two cameras only
    err = np.full((10, 33), 4.8)  # px on a 480 px image: 10 per mille
    q = CaptureQuality.from_pose(ncams, err, 480)
    assert q.at("shoulder_pack", slice(0, 10)) == (4.0, 10.0)
    cams, _ = q.at("soft_knee", slice(0, 10))
    assert cams == pytest.approx((2 * 4 + 4 * 2) / 6)
    assert CaptureQuality.from_pose(None, err, 480) is None


def test_analyze_session_gives_each_value_its_interval_and_the_borderline_verdict(tmp_path):
    from pipeline.analyze.stage import analyze_session
    from pipeline.contracts.pose3d import write_pose3d
    from pipeline.synthetic.athlete import simulate

    sim = simulate("deadlift", 4, faults={2: ["locked_knees"]}, fps=30.0, seed=1)
    T = len(sim.xyz)
    ncams = np.full((T, 33), 4)
    write_pose3d(tmp_path / "pose3d.npz", sim.xyz, sim.t, fps=30.0, err=np.full((T, 33), 2.0), ncams=ncams)
    model = tmp_path / "model.yaml"
    write_model(model, ErrorModel({"soft_knee": 3.0, "hip_back": 0.03}, 4.0, 8.0, 2.5), "test")
    report = analyze_session(tmp_path / "pose3d.npz", "deadlift", tmp_path / "out", error_model=model)
    knee = [next(c for c in r["cues"] if c["id"] == "soft_knee") for r in report["reps"]]
    assert all(c["interval"] == pytest.approx(3.0) and c["capture"]["cameras"] == 4.0 for c in knee)
    for c in knee:  # the verdict follows the rule from the value, its interval and the threshold
        lo, hi = c["threshold"]["fail"]
        past = max(lo - c["value"], c["value"] - hi)
        assert c["verdict"] == ("fail" if past > 3.0 else "borderline" if past >= -3.0 else c["verdict"])
    assert knee[1]["verdict"] in ("fail", "borderline")  # the locked knees are flagged either way
    written = json.loads((tmp_path / "out" / "reps.json").read_text())
    assert written["summary"]["intervals"] == "measured" and "borderline" in written["summary"]
    # two cameras where a model measured on four never saw its error grow beyond 1.3x:
    # poorer than anything measured, so the knee is not judged, and the reason says so
    write_pose3d(tmp_path / "pose3d.npz", sim.xyz, sim.t, fps=30.0, err=np.full((T, 33), 2.0),
                 ncams=np.full((T, 33), 2))
    write_model(model, ErrorModel({"soft_knee": 3.0, "hip_back": 0.03}, 4.0, 8.0, 1.3), "test")
    report = analyze_session(tmp_path / "pose3d.npz", "deadlift", tmp_path / "out2", error_model=model)
    knee = [next(c for c in r["cues"] if c["id"] == "soft_knee") for r in report["reps"]]
    assert {c["verdict"] for c in knee} == {"not_judged"}
    assert all("capture poorer than any" in c["reason"] for c in knee)


def test_a_cue_whose_error_reaches_from_a_clean_rep_to_the_threshold_is_not_judged_unless_clearly_past():
    from pipeline.analyze.cues import unresolved_reason

    shrug = Cue("shoulder_pack", "", "shoulder_rise_cm", "bottom", "gt", 2.5, 3.0)
    # a clean rep reads 0 cm; the error is 4.7 cm, more than the 3 cm to the threshold
    assert judge(1.0, shrug, 4.7, clean=0.0, typical=4.7) == "not_judged"
    assert judge(5.0, shrug, 4.7, clean=0.0, typical=4.7) == "not_judged"
    assert judge(8.0, shrug, 4.7, clean=0.0, typical=4.7) == "fail"  # past it by more than the error: still seen
    assert judge(1.0, shrug, 2.0, clean=0.0, typical=2.0) == "borderline"  # a finer measurement can tell
    assert judge(0.5, shrug, 2.0, clean=0.0, typical=2.0) == "pass"
    # a poor capture widens this rep's interval past the gap: borderline, not "cannot be measured"
    assert judge(1.0, shrug, 4.0, clean=0.0, typical=2.0) == "borderline"
    why = unresolved_reason(shrug, 4.7, 0.0)
    assert "±4.7 cm" in why and "fail threshold (3 cm)" in why


def test_fit_records_a_clean_reps_typical_value_and_the_file_keeps_it(tmp_path):
    rows = [{"cue": "c", "value": v, "truth": v + 0.1, "injected": inj, "cameras": 4.0, "reprojection_permille": 8.0}
            for v, inj in ((1.0, False), (2.0, False), (3.0, False), (9.0, True))]
    m = fit(rows)
    assert m.clean == {"c": 2.0}
    assert load_model(write_model(tmp_path / "m.yaml", m, "t")).clean == {"c": 2.0}
    import dataclasses

    iv = interval(dataclasses.replace(m, max_scale=3.0), "c", 2.0, 8.0)
    assert iv.clean == 2.0 and iv.typical == m.k["c"] and iv.u > iv.typical
