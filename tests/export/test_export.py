"""TRC, C3D and CSV exports read back by their own readers."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.contracts import MissingFileError
from pipeline.contracts.pose3d import read_pose3d, write_pose3d
from pipeline.export.formats import ExportError, export_session, read_trc
from pipeline.common.landmarks import NAMES


@pytest.fixture()
def session(tmp_path):
    rng = np.random.default_rng(3)
    T = 40
    xyz = rng.uniform(-1, 2, (T, 33, 3)).astype(np.float32)
    xyz[7, 4] = np.nan
    t = (np.arange(T) / 25.0).astype(np.float32)
    write_pose3d(tmp_path / "pose3d.npz", xyz, t, fps=25.0, err=np.zeros((T, 33)), ncams=np.full((T, 33), 3))
    return tmp_path, xyz.astype(np.float64), t


def test_trc_has_the_opensim_header_and_y_up_millimetres(session):
    d, xyz, t = session
    path = export_session(d, "trc")
    lines = path.read_text().splitlines()
    assert lines[0].split("\t")[:3] == ["PathFileType", "4", "(X/Y/Z)"]
    assert lines[2].split("\t")[:5] == ["25", "25", "40", "33", "mm"]
    names, tt, data, units = read_trc(path)
    assert names == list(NAMES) and units == "mm"
    np.testing.assert_allclose(tt, t, atol=1e-6)
    ok = np.isfinite(xyz).all(axis=2)
    # OpenSim is y up: (x, y, z) world -> (x, z, -y).
    np.testing.assert_allclose(data[ok][:, 0], xyz[ok][:, 0] * 1000, atol=1e-3)
    np.testing.assert_allclose(data[ok][:, 1], xyz[ok][:, 2] * 1000, atol=1e-3)
    np.testing.assert_allclose(data[ok][:, 2], -xyz[ok][:, 1] * 1000, atol=1e-3)
    assert np.isnan(data[7, 4]).all()


def test_trc_in_metres(session):
    d, xyz, _ = session
    _, _, data, units = read_trc(export_session(d, "trc", d / "m.trc", units="m"))
    assert units == "m"
    np.testing.assert_allclose(data[0, 0, 0], xyz[0, 0, 0], atol=1e-6)


def test_c3d_reads_back_with_ezc3d(session):
    import ezc3d

    d, xyz, _ = session
    c3d = ezc3d.c3d(str(export_session(d, "c3d")))
    points = c3d["data"]["points"]
    assert points.shape == (4, 33, 40)
    assert c3d["parameters"]["POINT"]["LABELS"]["value"] == list(NAMES)
    assert c3d["parameters"]["POINT"]["UNITS"]["value"] == ["mm"]
    assert c3d["parameters"]["POINT"]["RATE"]["value"][0] == pytest.approx(25.0)
    back = points[:3].transpose(2, 1, 0) / 1000.0
    ok = np.isfinite(xyz).all(axis=2)
    np.testing.assert_allclose(back[ok], xyz[ok], atol=1e-5)
    assert np.isnan(back[7, 4]).all() and c3d["data"]["meta_points"]["residuals"][0, 4, 7] < 0


def test_csv_reads_back_with_pandas(session):
    d, xyz, t = session
    table = pd.read_csv(export_session(d, "csv"))
    assert list(table.columns[:5]) == ["frame", "t", "nose_x", "nose_y", "nose_z"]
    back = table[[f"{n}_{a}" for n in NAMES for a in "xyz"]].to_numpy().reshape(-1, 33, 3)
    np.testing.assert_allclose(back, xyz, atol=1e-6)
    assert np.isnan(back[7, 4]).all()


def test_bad_requests_name_the_problem(tmp_path, session):
    d, _, _ = session
    with pytest.raises(ExportError, match="unknown export format 'fbx'"):
        export_session(d, "fbx")
    with pytest.raises(MissingFileError, match="pose3d.npz' does not exist"):
        read_pose3d(tmp_path / "missing" / "pose3d.npz")
    with pytest.raises(ExportError, match="units"):
        export_session(d, "trc", units="cm")
