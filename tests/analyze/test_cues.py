"""The cue rule engine and config/cues.yaml validation."""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from pipeline.analyze.cues import DEFAULT_CUES, METRICS, CueConfigError, load_cues, select_cues, violates

CUES_MD_IDS = {"neutral_spine", "spinal_flexion", "hip_back", "soft_knee", "squat_hinge_confusion", "knee_tracking",
               "weight_on_heels", "shoulder_pack", "hip_mobility", "depth_consistency"}


def _write(tmp_path, mutate):
    data = yaml.safe_load(DEFAULT_CUES.read_text())
    mutate(data)
    p = tmp_path / "cues.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_shipped_config_has_every_cue_of_cues_md_and_valid_metrics():
    cfg = load_cues()
    ids = {c["id"] for c in cfg.cues}
    assert CUES_MD_IDS <= ids and {"slow_eccentric", "hips_before_arms"} <= ids
    assert all(c["metric"] in METRICS for c in cfg.cues)
    assert set(cfg.exercises) == {"hinge_drill", "deadlift", "romanian_deadlift", "kettlebell_swing"}


def test_exercise_overrides_and_exercise_specific_cues():
    cfg = load_cues()
    knee = {ex: next(c for c in cfg.for_exercise(ex) if c.id == "soft_knee") for ex in ("hinge_drill", "deadlift")}
    assert knee["hinge_drill"].fail == [5, 30]
    assert knee["deadlift"].fail[1] > knee["hinge_drill"].fail[1]  # the deadlift allows more knee bend
    rdl = {c.id for c in cfg.for_exercise("romanian_deadlift")}
    swing = {c.id for c in cfg.for_exercise("kettlebell_swing")}
    assert "slow_eccentric" in rdl and "slow_eccentric" not in swing
    assert "hips_before_arms" in swing and "hips_before_arms" not in rdl


def test_comparators():
    v = np.array([1.0, 5.0, 9.0, np.nan])
    assert violates(v, "gt", 4).tolist() == [False, True, True, False]
    assert violates(v, "lt", 4).tolist() == [True, False, False, False]
    assert violates(v, "between", [2, 8]).tolist() == [True, False, True, False]
    assert violates(np.array([-6.0, 3.0]), "abs_gt", 5).tolist() == [True, False]
    assert not violates(v, "gt", None).any()


def test_unknown_exercise_cue_metric_are_errors_that_name_the_key(tmp_path):
    cfg = load_cues()
    with pytest.raises(CueConfigError, match="unknown exercise 'squat'"):
        cfg.for_exercise("squat")
    with pytest.raises(CueConfigError, match="unknown cue 'nope'"):
        select_cues(cfg.for_exercise("deadlift"), ["soft_knee", "nope"])

    def bad_metric(d):
        d["cues"][0]["metric"] = "spine_wobble"
    with pytest.raises(CueConfigError, match="cue 'neutral_spine' has unknown metric 'spine_wobble'"):
        load_cues(_write(tmp_path, bad_metric))

    def bad_override(d):
        d["cues"][3]["overrides"] = {"sumo_deadlift": {"fail": [5, 60]}}
    with pytest.raises(CueConfigError, match="unknown exercise 'sumo_deadlift'"):
        load_cues(_write(tmp_path, bad_override))

    def schema_error(d):
        d["cues"][1]["comparator"] = "bigger"
    with pytest.raises(CueConfigError, match=r"cues/1/comparator"):
        load_cues(_write(tmp_path, schema_error))

    def between_needs_pair(d):
        d["cues"][3]["fail"] = 30
    with pytest.raises(CueConfigError, match="soft_knee.*\\[lo, hi\\]"):
        load_cues(_write(tmp_path, between_needs_pair))

    def duplicate(d):
        d["cues"].append(dict(d["cues"][0]))
    with pytest.raises(CueConfigError, match="defined twice"):
        load_cues(_write(tmp_path, duplicate))
    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        load_cues(tmp_path / "missing.yaml")


def _judge(values, phase="rep", metric="back_flex_change_absmax", reasons=None, bottom=(8, 11)):
    """One rep (frames 0-19, bottom window ``bottom``) judged by a cue on column values."""
    import pandas as pd

    from pipeline.analyze.cues import Cue, evaluate
    from pipeline.analyze.reps import Rep

    col = METRICS[metric].column
    kin = pd.DataFrame({col: np.asarray(values, float)})
    cue = Cue("c", "words", metric, phase, "gt", 20.0, 25.0)
    rep = Rep(0, (bottom[0] + bottom[1]) // 2, 19, True, bottom)
    return evaluate([cue], kin, [rep], [{}], reasons)[0][0]


def test_not_judged_says_why_and_a_gap_is_judged_from_what_is_there_where_sound():
    base = np.linspace(0, 10, 20)
    nothing = _judge(np.full(20, np.nan), reasons={"side_view": np.full(20, "no camera sees the athlete side-on")})
    assert nothing["verdict"] == "not_judged" and nothing["reason"] == "no camera sees the athlete side-on"
    assert nothing["value"] is None and nothing["frames"] == []

    # a violation seen in part of the rep stands, and says it was judged from part of it
    seen = np.where(np.arange(20) < 12, base + 30, np.nan)
    r = _judge(seen)
    assert r["verdict"] == "fail" and r["note"].startswith("judged from 12 of 20 frames")

    # a pass needs the bottom, where the worst would be: a gap over the bottom is not a pass
    hidden = base.copy()
    hidden[7:13] = np.nan
    r = _judge(hidden)
    assert r["verdict"] == "not_judged" and "landmark gap" in r["reason"]
    # ... while a gap away from the bottom still gives a pass, with a note
    early = base.copy()
    early[1:4] = np.nan
    r = _judge(early)
    assert r["verdict"] == "pass" and "17 of 20" in r["note"]

    # an averaged bottom window is judged from a third of its frames or more
    bottom = np.full(20, 10.0)
    bottom[9:12] = np.nan  # 1 of 4 bottom frames left
    assert _judge(bottom, phase="bottom", metric="back_flex_bottom")["verdict"] == "not_judged"
    bottom[9] = 10.0  # 2 of 4
    r = _judge(bottom, phase="bottom", metric="back_flex_bottom")
    assert r["verdict"] == "pass" and r["value"] == 10.0 and "2 of 4" in r["note"]
