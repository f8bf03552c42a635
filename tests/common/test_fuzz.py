"""Fuzz: seeded random corruptions of a valid pose2d file, calibration file and workflow config.

Each corrupted input either gives a clear error -- one of the project's error types, its message naming the
file (or, for a session's cameras, the camera) -- or a correct result. Never a traceback of an unexpected
exception type, never a silent NaN-filled output. The corruptions are bounded (a fixed count per file kind,
one seed) so the test stays fast and any failure replays exactly: the assertion message gives the case.
"""
from __future__ import annotations

import os
import random
import tomllib

import numpy as np
import pytest
import tomli_w
import yaml

from calibration.errors import CalibrationError
from calibration.io import read_calibration, write_calibration
from pipeline.common.config import ConfigError, is_safe_name, load_config
from pipeline.common.landmarks import BODY_JOINTS
from pipeline.contracts import ContractError
from pipeline.contracts.pose3d import read_pose3d
from pipeline.sync.stage import sync_session
from pipeline.sync.timeline import SyncError
from pipeline.synthetic.athlete import simulate
from pipeline.synthetic.rig import virtual_rig
from pipeline.synthetic.views import write_pose2d_session
from pipeline.triangulate.stage import triangulate_session

N_POSE2D, N_CALIBRATION, N_CONFIG = 30, 30, 60
SEED = int(os.environ.get("HINGECAP_FUZZ_SEED", "15"))  # another seed explores further: HINGECAP_FUZZ_SEED=7 pytest ...
FPS = 30.0
SESSION_ERRORS = (ContractError, SyncError, CalibrationError, FileNotFoundError)


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    sim = simulate("deadlift", 1, seed=4, walk=False)
    xyz = sim.xyz[::2][:75]  # 5 s at 15 fps of the hinge: enough motion for the cross-correlation
    cams = virtual_rig(4)
    paths = write_pose2d_session(root, xyz, cams, fps=FPS / 2, seed=3)
    calib = write_calibration(root / "calibration.toml", cams, {})
    return root, xyz, cams, paths, calib


def _body_error_mm(pose3d, xyz) -> float:
    pose = read_pose3d(pose3d)
    frames = np.clip(np.round(pose.t * FPS / 2).astype(int), 0, len(xyz) - 1)
    return 1000 * float(np.nanmedian(np.linalg.norm(pose.xyz - xyz[frames], axis=-1)[:, list(BODY_JOINTS)]))


def _process(paths, calib, out):
    sync_session(paths, out / "sync.json")
    return triangulate_session(paths, calib, out / "sync.json", out / "pose3d.npz")


def _names_culprit(exc: BaseException, path, camera: str | None = None) -> bool:
    msg = str(exc)
    return str(path) in msg or (camera is not None and f"camera {camera}" in msg)


# --- pose2d ----------------------------------------------------------------------------------------------------------

BAD_NUMBERS = (np.nan, np.inf, -np.inf, -1.0, 1.5, 100.0, 1e9, -1e9, 0.0)


def _corrupt_pose2d(data: dict, rng: random.Random, path) -> str:
    """Corrupt one camera's arrays in place (or its bytes); returns what was done."""
    F = len(data["t"])
    a, b = sorted(rng.sample(range(F + 1), 2))
    kind = rng.choice(["conf", "xy", "t", "dtype", "drop", "extra", "shape", "bytes", "truncate"])
    if kind == "conf":
        v = rng.choice(BAD_NUMBERS)
        data["conf"] = data["conf"].copy()
        data["conf"][a:b, ..., rng.randrange(33)] = v  # any person slot axis between frames and landmarks
        return f"conf[{a}:{b}] = {v}"
    if kind == "xy":
        v = rng.choice(BAD_NUMBERS)
        data["xy"] = data["xy"].copy()
        data["xy"][a:b, ..., rng.randrange(33), rng.randrange(2)] = v
        return f"xy[{a}:{b}] = {v}"
    if kind == "t":
        v = rng.choice([np.nan, np.inf, -1.0, 0.0])
        data["t"] = data["t"].copy()
        data["t"][a:b] = v
        return f"t[{a}:{b}] = {v}"
    if kind == "dtype":
        key = rng.choice(["xy", "conf", "t"])
        data[key] = data[key].astype(rng.choice(["U8", "bool", "complex64"]))
        return f"{key} as {data[key].dtype}"
    if kind == "drop":
        key = rng.choice(list(data))
        del data[key]
        return f"without {key}"
    if kind == "extra":
        key = rng.choice(["fps", "size", "t_source", "model_complexity", "frames_stated", "frames_decoded", "focus"])
        data[key] = np.array(rng.choice([np.nan, -5.0, 0, "x", [0, 0], [1.0, 2.0, 3.0], [640, 480]]))
        return f"{key} = {data[key].tolist()}"
    if kind == "shape":
        key = rng.choice(["xy", "conf", "t"])
        data[key] = data[key][: max(1, F // 2)] if rng.random() < 0.5 else data[key].reshape(F, -1)[..., :1]
        return f"{key} reshaped to {data[key].shape}"
    np.savez(path, **data)
    raw = bytearray(path.read_bytes())
    if kind == "bytes":
        for _ in range(rng.randint(1, 20)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
    else:
        raw = raw[: rng.randrange(len(raw))]
    path.write_bytes(bytes(raw))
    return f"{kind} of the file"


def test_fuzzed_pose2d_files_give_a_clear_error_or_a_correct_result(valid, tmp_path):
    root, xyz, cams, paths, calib = valid
    rng = random.Random(SEED)
    outcomes = {"error": 0, "result": 0}
    for i in range(N_POSE2D):
        cam = rng.choice(cams).name
        case = tmp_path / f"case{i}"
        case.mkdir()
        files = {c: case / f"{c}.npz" for c in paths}
        for c, p in paths.items():
            files[c].write_bytes(p.read_bytes())
        with np.load(files[cam], allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
        what = _corrupt_pose2d(data, rng, files[cam])
        if "file" not in what:
            np.savez(files[cam], **data)
        label = f"case {i}: {cam} {what}"
        try:
            info = _process(files, calib, case)
        except SESSION_ERRORS as exc:
            assert _names_culprit(exc, files[cam], cam), f"{label}: {type(exc).__name__}: {exc}"
            outcomes["error"] += 1
            continue
        except Exception as exc:  # noqa: BLE001 -- the point: anything else is a bug
            pytest.fail(f"{label}: unexpected {type(exc).__name__}: {exc}")
        assert info["tracked_pct"] > 90, f"{label}: {info['tracked_pct']:.1f} % tracked"
        assert _body_error_mm(case / "pose3d.npz", xyz) < 15, label
        outcomes["result"] += 1
    print(f"\npose2d fuzz: {outcomes}")
    assert outcomes["error"] > 5 and outcomes["result"] >= 1  # both kinds of outcome were exercised


# --- calibration -----------------------------------------------------------------------------------------------------

BAD_VALUES = (float("nan"), float("inf"), -1.0, 0.0, 1e12, "text", [], [1.0, 2.0], [[1.0]], True)


def _corrupt_calibration(doc: dict, rng: random.Random) -> tuple[str | None, str]:
    """Corrupt the TOML document in place; returns (text to write instead, what was done)."""
    tables = [k for k in doc if k != "metadata"]
    key = rng.choice(tables)
    kind = rng.choice(["value", "element", "drop", "name", "pose", "text"])
    if kind == "value":
        field = rng.choice(["size", "matrix", "distortions", "rotation", "translation", "name"])
        doc[key][field] = rng.choice(BAD_VALUES)
        return None, f"[{key}] {field} = {doc[key][field]!r}"
    if kind == "element":
        field = rng.choice(["matrix", "distortions", "rotation", "translation", "size"])
        value = doc[key][field]
        v = rng.choice(BAD_VALUES[:5])
        if field == "matrix":
            r, c = rng.randrange(3), rng.randrange(3)
            value[r][c] = v
            where = f"{field}[{r}][{c}]"
        else:
            j = rng.randrange(len(value))
            value[j] = v
            where = f"{field}[{j}]"
        return None, f"[{key}] {where} = {v!r}"
    if kind == "drop":
        field = rng.choice(["size", "matrix", "distortions", "rotation", "translation"])
        del doc[key][field]
        return None, f"[{key}] without {field}"
    other = rng.choice([t for t in tables if t != key])
    if kind == "name":
        doc[key]["name"] = doc[other]["name"]
        return None, f"[{key}] named like [{other}]"
    if kind == "pose":
        doc[key]["rotation"], doc[key]["translation"] = doc[other]["rotation"], doc[other]["translation"]
        return None, f"[{key}] placed where [{other}] is"
    text = tomli_w.dumps(doc)
    cut = rng.randrange(len(text))
    return text[:cut] + rng.choice(["", "=", "[", "\x00", "]]"]) + text[cut + 1:], f"text broken at {cut}"


def test_fuzzed_calibration_files_give_a_clear_error_or_a_usable_rig(valid, tmp_path):
    root, xyz, cams, paths, calib = valid
    rng = random.Random(SEED)
    outcomes = {"error": 0, "result": 0}
    for i in range(N_CALIBRATION):
        doc = tomllib.loads(calib.read_text())
        text, what = _corrupt_calibration(doc, rng)
        path = tmp_path / f"calibration{i}.toml"
        path.write_text(text if text is not None else tomli_w.dumps(doc))
        label = f"case {i}: {what}"
        case = tmp_path / f"case{i}"
        case.mkdir()
        try:
            read_calibration(path)
            info = _process(paths, path, case)
        except SESSION_ERRORS as exc:
            assert _names_culprit(exc, path), f"{label}: {type(exc).__name__}: {exc}"
            outcomes["error"] += 1
            continue
        except Exception as exc:  # noqa: BLE001
            pytest.fail(f"{label}: unexpected {type(exc).__name__}: {exc}")
        # accepted: a finite rig; a camera spoiled that way is outvoted by the other three, or the session says so
        assert info["tracked_pct"] > 0 and np.isfinite(read_pose3d(case / "pose3d.npz").xyz).any(), label
        error = _body_error_mm(case / "pose3d.npz", xyz)
        assert error < 15 or info["warnings"], f"{label}: {error:.0f} mm off without a warning"
        outcomes["result"] += 1
    print(f"\ncalibration fuzz: {outcomes}")
    assert outcomes["error"] > 5 and outcomes["result"] >= 1


# --- config ----------------------------------------------------------------------------------------------------------

NASTY_NAMES = ("../../../outside_results", "s1; rm -rf ~", "a b", "-v", "$(id)", "s/1", "..", "", "ünï", "a..b", 7)
NASTY_VALUES = (None, 7, -1, 3.5, True, "", "nowhere/at/all", [], {}, ["x"], {"x": 1}, "../../etc")


def _leaves(obj, path=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, (*path, k))
    yield path


def _corrupt_config(doc: dict, rng: random.Random) -> tuple[str | None, str]:
    paths = [p for p in _leaves(doc) if p]
    where = rng.choice(paths)
    parent = doc
    for k in where[:-1]:
        parent = parent[k]
    kind = rng.choice(["value", "drop", "rename", "add", "text"])
    if kind == "value":
        parent[where[-1]] = rng.choice(NASTY_VALUES)
        return None, f"{'.'.join(map(str, where))} = {parent[where[-1]]!r}"
    if kind == "drop":
        del parent[where[-1]]
        return None, f"without {'.'.join(map(str, where))}"
    if kind == "rename":
        new = rng.choice(NASTY_NAMES)
        parent[new] = parent.pop(where[-1])
        return None, f"{'.'.join(map(str, where))} renamed {new!r}"
    if kind == "add":
        parent[rng.choice(["extra", "sessionz", "room"])] = rng.choice(NASTY_VALUES)
        return None, f"unknown key beside {'.'.join(map(str, where))}"
    text = yaml.safe_dump(doc)
    cut = rng.randrange(len(text))
    return text[:cut] + rng.choice(["\t", ":", "- ", "{", "'", "\n  x"]) + text[cut:], f"text broken at {cut}"


def test_fuzzed_configs_give_a_config_error_naming_the_file_or_a_safe_config(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    for cam in ("cam0", "cam1"):
        (videos / f"{cam}.mp4").touch()
    (tmp_path / "lab.toml").touch()
    valid = {"results": "results", "rooms": {"lab": {"calibration": "lab.toml"}},
             "sessions": {"s1": {"room": "lab", "videos": "videos", "exercise": "deadlift", "athlete": "A"},
                          "s2": {"room": "lab", "videos": "videos", "exercise": "deadlift", "cameras": ["cam0", "cam1"]}},
             "options": {"sync": "auto", "max_gap_s": 0.25, "figures": False}}
    rng = random.Random(SEED)
    outcomes = {"error": 0, "result": 0}
    for i in range(N_CONFIG):
        doc = yaml.safe_load(yaml.safe_dump(valid))
        text, what = _corrupt_config(doc, rng)
        path = tmp_path / f"config{i}.yaml"
        path.write_text(text if text is not None else yaml.safe_dump(doc))
        label = f"case {i}: {what}"
        try:
            cfg = load_config(path, base=tmp_path)
        except ConfigError as exc:
            assert str(exc).startswith(f"{path}: ") or str(exc).startswith(f"config file '{path}'"), f"{label}: {exc}"
            outcomes["error"] += 1
            continue
        except Exception as exc:  # noqa: BLE001
            pytest.fail(f"{label}: unexpected {type(exc).__name__}: {exc}")
        assert all(is_safe_name(n) for n in [*cfg["sessions"], *cfg["rooms"]]), label
        assert all(s["room"] in cfg["rooms"] for s in cfg["sessions"].values()), label
        outcomes["result"] += 1
    print(f"\nconfig fuzz: {outcomes}")
    assert outcomes["error"] > 20 and outcomes["result"] >= 1
