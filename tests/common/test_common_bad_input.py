"""Bad input at the shared boundaries: the workflow config, stage files read through their contracts, a full disk.

Every case asserts the exception type, that the message names the culprit (file, key or camera), and that
nothing was written where the input was refused.
"""
from __future__ import annotations

import errno
import json

import numpy as np
import pytest
import yaml

from pipeline.common.atomic import DiskFullError, write_npz, write_text
from pipeline.common.config import ConfigError, load_config
from pipeline.contracts import ContractError
from pipeline.contracts.pose2d import read_pose2d, write_pose2d
from pipeline.contracts.pose3d import read_pose3d
from pipeline.contracts.sync import read_sync, write_sync


# --- the workflow config ------------------------------------------------------------------------------------------

def _inputs(tmp_path, stems=("cam0", "cam1")):
    videos = tmp_path / "videos"
    videos.mkdir(exist_ok=True)
    for stem in stems:
        (videos / stem).touch()
    (tmp_path / "calibration.toml").touch()
    return videos


def _config(tmp_path, *, sessions=None, rooms=None, stems=("cam0.mp4", "cam1.mp4")) -> dict:
    videos = _inputs(tmp_path, stems)
    return {
        "results": str(tmp_path / "results"),
        "rooms": rooms or {"lab": {"calibration": str(tmp_path / "calibration.toml")}},
        "sessions": sessions if sessions is not None else {"s1": {"room": "lab", "videos": str(videos), "exercise": "deadlift"}},
    }


def _write(tmp_path, cfg) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg) if not isinstance(cfg, str) else cfg)
    return str(path)


def _session(tmp_path, **extra):
    return {"room": "lab", "videos": str(tmp_path / "videos"), "exercise": "deadlift", **extra}


@pytest.mark.parametrize("name", ["../../../outside_results", "s1; touch pwned", "a b", "-rf", "s/1", "a..b", ".hidden"])
def test_unsafe_session_names_are_refused_naming_the_session(tmp_path, name):
    cfg = _config(tmp_path)
    cfg["sessions"] = {name: _session(tmp_path)}
    with pytest.raises(ConfigError) as exc:
        load_config(_write(tmp_path, cfg), base=tmp_path)
    msg = str(exc.value)
    assert f"sessions.{name}" in msg and "config.yaml" in msg and "letters, digits" in msg
    assert not (tmp_path / "results").exists() and not (tmp_path / "pwned").exists()


def test_a_number_as_session_name_must_be_quoted(tmp_path):
    path = _write(tmp_path, _config(tmp_path))
    text = open(path).read().replace("  s1:", "  2026:")
    with pytest.raises(ConfigError, match=r"sessions\.2026: the session name 2026 must be text; put it in quotes"):
        load_config(_write(tmp_path, text), base=tmp_path)


def test_unsafe_room_name_is_refused(tmp_path):
    cfg = _config(tmp_path, rooms={"../lab": {"calibration": str(tmp_path / "calibration.toml")}})
    cfg["sessions"]["s1"]["room"] = "../lab"
    with pytest.raises(ConfigError, match=r"rooms\.\.\./lab: the room name '\.\./lab' is not allowed"):
        load_config(_write(tmp_path, cfg), base=tmp_path)


def test_duplicate_cameras_in_a_session_list(tmp_path):
    cfg = _config(tmp_path)
    cfg["sessions"]["s1"]["cameras"] = ["cam0", "cam1", "cam0"]
    with pytest.raises(ConfigError, match=r"sessions\.s1\.cameras: duplicate camera\(s\) cam0"):
        load_config(_write(tmp_path, cfg), base=tmp_path)


def test_two_videos_of_one_camera_name_are_a_duplicate(tmp_path):
    cfg = _config(tmp_path, stems=("cam0.mp4", "cam1.mp4", "cam1.MOV"))
    with pytest.raises(ConfigError, match=r"sessions\.s1\.videos: duplicate camera cam1: cam1\.MOV and cam1\.mp4"):
        load_config(_write(tmp_path, cfg), base=tmp_path)


def test_video_whose_name_is_no_camera_name(tmp_path):
    cfg = _config(tmp_path, stems=("cam0.mp4", "cam 1;x.mp4", "cam2.mp4"))
    with pytest.raises(ConfigError, match=r"sessions\.s1\.videos: the video '.*cam 1;x\.mp4' gives the camera name"):
        load_config(_write(tmp_path, cfg), base=tmp_path)
    cfg["sessions"]["s1"]["cameras"] = ["cam0", "cam2"]  # the odd file is not one of the cameras used: fine
    assert load_config(_write(tmp_path, cfg), base=tmp_path)["sessions"]["s1"]["cameras"] == ["cam0", "cam2"]


def test_invalid_yaml_names_file_and_line(tmp_path):
    path = _write(tmp_path, "rooms:\n  lab: {calibration: x.toml\nsessions: {}\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path, base=tmp_path)
    assert str(exc.value).startswith(f"{path}: not valid YAML: line 3, column 9")
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("content, message", [
    (None, "config file '.*nope.yaml' does not exist"),
    ("- rooms\n- sessions\n", "holds a mapping .* not a list"),
    (b"\xff\xfe\x00binary", "not a text file"),
])
def test_missing_or_unreadable_config(tmp_path, content, message):
    path = tmp_path / "nope.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_config(path, base=tmp_path)


# --- a full disk --------------------------------------------------------------------------------------------------

def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_full_disk_is_one_line_naming_the_file_and_the_space(tmp_path, monkeypatch):
    from pathlib import Path

    monkeypatch.setattr(Path, "write_bytes", _enospc)
    target = tmp_path / "out" / "sync.json"
    with pytest.raises(DiskFullError) as exc:
        write_text(target, "x" * 12_000)
    msg = str(exc.value)
    assert msg.startswith(f"cannot write '{target}': no space left") and "about 12.0 kB needed" in msg
    assert "free in" in msg and "\n" not in msg and exc.value.errno == errno.ENOSPC
    assert list((tmp_path / "out").iterdir()) == []  # no partial or temporary file left


def test_full_disk_while_writing_an_npz(tmp_path, monkeypatch):
    monkeypatch.setattr(np, "savez_compressed", _enospc)
    with pytest.raises(DiskFullError, match=r"cannot write '.*pose3d\.npz'.*about 4\.0 MB needed"):
        write_npz(tmp_path / "pose3d.npz", xyz=np.zeros((10_000, 100), np.float32))
    assert list(tmp_path.iterdir()) == []


def test_other_write_errors_are_not_called_a_full_disk(tmp_path, monkeypatch):
    from pathlib import Path

    monkeypatch.setattr(Path, "write_bytes", lambda *a: (_ for _ in ()).throw(PermissionError(errno.EACCES, "denied")))
    with pytest.raises(PermissionError):
        write_text(tmp_path / "x.txt", "x")


def test_cli_reports_a_full_disk_in_one_line(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from pipeline.cli import app
    from pipeline.synthetic.report_session import write_sample_session

    session = write_sample_session(tmp_path / "s", n_reps=2, seconds=6)
    from pathlib import Path

    monkeypatch.setattr(Path, "write_bytes", _enospc)
    res = CliRunner().invoke(app, ["analyze", str(session / "pose3d.npz"), "-e", "deadlift", "-o", str(tmp_path / "out")])
    assert res.exit_code == 2, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: cannot write '") and "kinematics.csv" in lines[0]
    assert "Traceback" not in res.output


# --- stage files, through their readers -----------------------------------------------------------------------------

def _pose2d(tmp_path, **change):
    """A valid pose2d file with some of its arrays replaced (written raw, as a foreign tool would)."""
    rng = np.random.default_rng(0)
    data = {"xy": rng.uniform(0, 600, (20, 33, 2)).astype(np.float32), "conf": np.full((20, 33), 0.9, np.float32),
            "t": np.arange(20) / 30.0, "fps": np.float64(30.0), "size": np.array([640, 480], np.int32),
            "t_source": np.array("fps"), "video": np.array("cam0.mp4")}
    data.update(change)
    path = tmp_path / "cam0.npz"
    np.savez(path, **data)
    return path


def _conf(values):
    conf = np.full((20, 33), 0.9, np.float32)
    conf[3, 4] = values
    return conf


@pytest.mark.parametrize("change, message", [
    ({"conf": np.full((20, 33), 87.0, np.float32)}, r"conf must lie in \[0, 1\].*87.*0-100 scale\? divide by 100"),
    ({"conf": _conf(np.nan)}, r"conf must lie in \[0, 1\].*nan at frame 3, landmark 4"),
    ({"conf": _conf(-0.5)}, r"conf must lie in \[0, 1\].*-0.5 at frame 3"),
    ({"xy": np.full((20, 33, 2), np.inf, np.float32)}, "infinite pixel coordinates"),
    ({"t": np.where(np.arange(20) == 5, np.nan, np.arange(20) / 30.0)}, "t holds NaN or infinite times at frame 5"),
    ({"t": np.r_[np.arange(10), np.arange(10)] / 30.0}, r"times go backward or repeat at frame 10"),
    ({"size": np.array([640, 0], np.int32)}, r"size must be the image's \(width, height\)"),
    ({"size": np.array([640, 480, 3], np.int32)}, r"size must be the image's \(width, height\)"),
    ({"xy": np.full((20, 33, 2), "a")}, "xy must hold numbers"),
    ({"xy": np.zeros((0, 33, 2)), "conf": np.zeros((0, 33)), "t": np.zeros(0)}, "holds no frames"),
    ({"fps": np.float64(np.nan)}, "fps is nan"),
    ({"t_source": np.array("sundial")}, "t_source must be one of"),
])
def test_pose2d_reader_refuses_bad_values_naming_the_file(tmp_path, change, message):
    path = _pose2d(tmp_path, **change)
    with pytest.raises(ContractError, match=message) as exc:
        read_pose2d(path)
    assert str(path) in str(exc.value)


def test_pose2d_writer_refuses_a_percent_confidence(tmp_path):
    with pytest.raises(ContractError, match=r"conf must lie in \[0, 1\]"):
        write_pose2d(tmp_path / "cam0.npz", np.zeros((5, 33, 2)), np.full((5, 33), 90.0), np.arange(5) / 30)
    assert not (tmp_path / "cam0.npz").exists()


def test_pose2d_keeps_a_truncated_videos_frame_counts(tmp_path):
    path = write_pose2d(tmp_path / "cam0.npz", np.zeros((5, 33, 2)), np.full((5, 33), 0.5), np.arange(5) / 30,
                        frames_stated=12)
    pose = read_pose2d(path)
    assert pose.truncated and (pose.frames_stated, pose.frames_decoded) == (12, 5)
    assert not read_pose2d(write_pose2d(tmp_path / "full.npz", np.zeros((5, 33, 2)), np.zeros((5, 33)),
                                        np.arange(5) / 30, frames_stated=5)).truncated


def test_sync_reader_checks_each_cameras_coverage(tmp_path):
    path = write_sync(tmp_path / "sync.json", method="xcorr", timeline=np.arange(10) / 30,
                      cameras={"cam0": {"offset_s": 0.0, "confidence": 1.0, "covered_s": [0.0, 0.3], "covered_share": 1.0}})
    assert read_sync(path).cameras["cam0"]["covered_s"] == [0.0, 0.3]
    doc = json.loads(path.read_text())
    doc["cameras"]["cam0"]["covered_share"] = 1.7
    path.write_text(json.dumps(doc))
    with pytest.raises(ContractError, match=r"sync\.json': camera cam0: covered_s must be .* covered_share a share"):
        read_sync(path)


@pytest.mark.parametrize("change, message", [
    ({"t": np.r_[0.0, 0.1, 0.1, 0.3]}, "t must be finite, increasing seconds"),
    ({"t": np.r_[0.0, np.nan, 0.2, 0.3]}, "t must be finite, increasing seconds"),
    ({"xyz": np.full((4, 33, 3), np.inf)}, "xyz holds infinite coordinates"),
])
def test_pose3d_reader_refuses_bad_times_and_coordinates(tmp_path, change, message):
    data = {"xyz": np.zeros((4, 33, 3), np.float32), "t": np.arange(4) / 10, "fps": np.float64(10.0), **change}
    np.savez(tmp_path / "pose3d.npz", **data)
    with pytest.raises(ContractError, match=message) as exc:
        read_pose3d(tmp_path / "pose3d.npz")
    assert str(tmp_path / "pose3d.npz") in str(exc.value)
