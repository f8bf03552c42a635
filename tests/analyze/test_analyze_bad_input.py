"""Bad cue files and analysis input: thresholds that would silently change every verdict are refused, naming the
file, the cue and the key; a broken cues file never leaves half-written outputs."""
from __future__ import annotations

import pytest
import yaml

from pipeline.analyze.cues import CueConfigError, load_cues
from pipeline.analyze.stage import analyze_session
from pipeline.common.paths import DEFAULT_CUES


def _cues(tmp_path, cue_id: str, **change) -> str:
    doc = yaml.safe_load(DEFAULT_CUES.read_text())
    cue = next(c for c in doc["cues"] if c["id"] == cue_id)
    for key, value in change.items():
        if key == "overrides":
            cue["overrides"] = value
        else:
            cue[key] = value
    path = tmp_path / "cues.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


@pytest.mark.parametrize("cue, change, message", [
    ("neutral_spine", {"warn": 25, "fail": 20}, r"cue 'neutral_spine' \(abs_gt\): warn 25 is past fail 20.*warn must be <= fail"),
    ("hip_back", {"warn": 0.1, "fail": 0.15}, r"cue 'hip_back' \(lt\): warn 0.1 is past fail 0.15.*warn must be >= fail"),
    ("soft_knee", {"warn": [4, 25], "fail": [5, 30]}, r"cue 'soft_knee' \(between\): warn range \[4, 25\] must lie inside fail range \[5, 30\]"),
    ("soft_knee", {"warn": [25, 8]}, r"cue 'soft_knee' \(between\): warn \[25, 8\] must be \[lo, hi\] with lo <= hi"),
    ("squat_hinge_confusion", {"overrides": {"deadlift": {"warn": 0.6}}},
     r"cue 'squat_hinge_confusion' \(gt\): overrides.deadlift.warn 0.6 is past overrides.deadlift.fail 0.5"),
    ("knee_tracking", {"warn": float("nan")}, r"cue 'knee_tracking' \(gt\): warn nan is not a finite number"),
])
def test_inverted_or_meaningless_thresholds_name_file_cue_and_key(tmp_path, cue, change, message):
    path = _cues(tmp_path, cue, **change)
    with pytest.raises(CueConfigError, match=message) as exc:
        load_cues(path)
    assert str(exc.value).startswith(path)


def test_cues_file_that_is_not_yaml_names_the_line(tmp_path):
    path = tmp_path / "cues.yaml"
    path.write_text("version: 1\nexercises: [deadlift\ncues: []\n")
    with pytest.raises(CueConfigError, match=rf"{path}: not valid YAML: line 3, column \d+"):
        load_cues(path)


def test_shipped_cues_pass_the_order_checks():
    assert len(load_cues().cues) >= 10


def test_analysis_with_inverted_cues_writes_nothing(tmp_path):
    from pipeline.synthetic.report_session import write_sample_session

    session = write_sample_session(tmp_path / "s", n_reps=2, seconds=6)
    out = tmp_path / "out"
    with pytest.raises(CueConfigError, match="neutral_spine"):
        analyze_session(session / "pose3d.npz", "deadlift", out, _cues(tmp_path, "neutral_spine", warn=30, fail=20))
    assert not out.exists()
