"""Bad calibration files: every value that would triangulate to NaN or to the wrong place is refused by the reader,
naming the file and the camera, and ``hingecap convert-calibration`` exits non-zero without writing."""
from __future__ import annotations

import math
import tomllib

import numpy as np
import pytest
import tomli_w

from calibration.errors import CalibrationFileError
from calibration.io import read_calibration, write_calibration
from pipeline.synthetic.rig import virtual_rig


@pytest.fixture
def good(tmp_path):
    return write_calibration(tmp_path / "good.toml", virtual_rig(3), {})


def _spoil(good, tmp_path, cam: str, field: str, value) -> tuple:
    doc = tomllib.loads(good.read_text())
    doc[cam][field] = value
    path = tmp_path / "spoiled.toml"
    path.write_text(tomli_w.dumps(doc))
    return path, doc[cam]["name"]


def _matrix(fx=500.0, fy=500.0, skew=0.0):
    return [[fx, skew, 320.0], [0.0, fy, 240.0], [0.0, 0.0, 1.0]]


@pytest.mark.parametrize("field, value, message", [
    ("matrix", _matrix(fx=math.nan), "matrix holds NaN or infinite values"),
    ("matrix", _matrix(fy=math.inf), "matrix holds NaN or infinite values"),
    ("matrix", _matrix(fx=0.0), "focal lengths fx=0, fy=500 must be positive"),
    ("matrix", _matrix(fy=-480.0), "focal lengths fx=500, fy=-480 must be positive"),
    ("matrix", _matrix(skew=40.0), r"must be \[\[fx, 0, cx\], \[0, fy, cy\], \[0, 0, 1\]\] \(no skew\)"),
    ("matrix", [[500.0, 320.0], [500.0, 240.0]], "matrix must be 3x3 numbers"),
    ("distortions", [0.1, math.nan, 0.0, 0.0, 0.0], "distortions .* holds NaN or infinite values"),
    ("distortions", [0.1, 0.01, 0.0, 0.0, 0.0, 0.2, 0.0, 0.1], "8 distortion terms; hingecap's lens model has OpenCV's five"),
    ("rotation", [0.1, math.nan, 0.0], r"rotation \[.*\] holds NaN or infinite values"),
    ("rotation", [[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 1.0]], "is not a rotation matrix"),
    ("translation", [0.0, math.inf, 3.0], r"translation \[.*\] holds NaN or infinite values"),
    ("translation", [0.0, 1.0], "translation must be 3 numbers"),
    ("size", [640, 0], r"size \[640, 0\] must be a positive \[width, height\]"),
    ("size", "640x480", "size must be 2 numbers"),
])
def test_unusable_camera_values_name_the_file_and_camera(good, tmp_path, field, value, message):
    path, name = _spoil(good, tmp_path, "cam_1", field, value)
    with pytest.raises(CalibrationFileError, match=message) as exc:
        read_calibration(path)
    assert str(path) in str(exc.value) and "cam_1" in str(exc.value)


def test_duplicate_camera_names_say_duplicate_and_name_the_file(good, tmp_path):
    path, _ = _spoil(good, tmp_path, "cam_2", "name", "cam0")
    with pytest.raises(CalibrationFileError, match=rf"{path}: duplicate camera name\(s\) cam0"):
        read_calibration(path)


def test_two_cameras_at_one_position_are_refused(good, tmp_path):
    doc = tomllib.loads(good.read_text())
    doc["cam_2"]["rotation"], doc["cam_2"]["translation"] = doc["cam_0"]["rotation"], doc["cam_0"]["translation"]
    path = tmp_path / "same.toml"
    path.write_text(tomli_w.dumps(doc))
    with pytest.raises(CalibrationFileError, match=r"cameras cam0 and cam2 stand at the same position .*0\.0 cm apart"):
        read_calibration(path)


def _qca(x2: str = "1000", focal2: str = "64000") -> str:
    """A two-camera Qualisys .qca.txt (the elements read_qca uses); camera 2's x and focal length given."""
    cams = "".join(
        f'<camera serial="{serial}" model="Miqus Video"><fov_video left="0" top="0" right="639" bottom="479"/>'
        f'<intrinsic focalLengthU="{focal}" focalLengthV="64000" centerPointU="20480" centerPointV="15360" '
        'radialDistortion1="0" radialDistortion2="0" tangentalDistortion1="0" tangentalDistortion2="0"/>'
        f'<transform x="{x}" y="-3000" z="1500" r11="1" r12="0" r13="0" r21="0" r22="0" r23="-1" r31="0" r32="1" r33="0"/>'
        "</camera>" for serial, x, focal in (("101", "0", "64000"), ("102", x2, focal2)))
    return f'<?xml version="1.0"?><calibration><cameras>{cams}</cameras></calibration>'


@pytest.mark.parametrize("x2, focal2, message", [
    ("1000", "64000", None),
    ("1000", "fast", r"camera 102: <intrinsic> focalLengthU='fast' is not a number"),
    ("0", "64000", "cameras 101 and 102 stand at the same position"),
    ("1000", "-64000", r"camera \[102\]: focal lengths fx=-1000, fy=1000 must be positive"),
])
def test_qualisys_file_values_are_checked(tmp_path, x2, focal2, message):
    path = tmp_path / "Calib.qca.txt"
    path.write_text(_qca(x2, focal2))
    if message is None:
        assert [c.name for c in read_calibration(path)] == ["101", "102"]
        return
    with pytest.raises(CalibrationFileError, match=message) as exc:
        read_calibration(path)
    assert str(path) in str(exc.value)


def test_qualisys_file_lacking_an_attribute(tmp_path):
    path = tmp_path / "Calib.qca.txt"
    path.write_text(_qca().replace(' centerPointV="15360"', "", 1))
    with pytest.raises(CalibrationFileError, match=rf"{path}: camera 101: <intrinsic> lacks centerPointV"):
        read_calibration(path)


def test_convert_calibration_exits_non_zero_and_writes_nothing(good, tmp_path):
    from typer.testing import CliRunner

    from pipeline.cli import app

    path, _ = _spoil(good, tmp_path, "cam_0", "matrix", _matrix(fx=math.nan))
    out = tmp_path / "converted.toml"
    res = CliRunner().invoke(app, ["convert-calibration", str(path), "-o", str(out)])
    assert res.exit_code == 2 and "matrix holds NaN" in res.output and str(path) in res.output
    assert not out.exists()
    res = CliRunner().invoke(app, ["convert-calibration", str(good), "-o", str(out)])
    assert res.exit_code == 0 and out.is_file()


def test_writer_refuses_a_camera_it_could_not_read_back(tmp_path):
    cams = virtual_rig(2)
    cams[1].K[0, 0] = np.nan
    with pytest.raises(CalibrationFileError, match=r"camera \[cam1\]: matrix holds NaN"):
        write_calibration(tmp_path / "c.toml", cams, {})
    assert not (tmp_path / "c.toml").exists()
