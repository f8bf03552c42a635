"""BlazePose's Tasks bundle built from the mediapipe wheel: what it holds, that it runs, that it is cached and
reproducible, and what is said when it cannot be built."""
from __future__ import annotations

import hashlib
import zipfile

import pytest

from pipeline.detect import models
from pipeline.detect.models import (DETECTOR_NAME, LANDMARKER_NAME, PoseModelError, build_pose_task,
                                    cached_pose_task, verify_pose_task)

pytest.importorskip("mediapipe")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return build_pose_task(tmp_path_factory.mktemp("models") / "pose.task")


def test_the_bundle_holds_both_models_uncompressed_aligned_with_their_normalisation(bundle):
    with zipfile.ZipFile(bundle) as z:
        infos = {i.filename: i for i in z.infolist()}
        assert sorted(infos) == sorted([DETECTOR_NAME, LANDMARKER_NAME])
        assert all(i.compress_type == zipfile.ZIP_STORED for i in infos.values())
        raw = bundle.read_bytes()
        for info in infos.values():  # the Tasks API memory-maps members: 4-byte aligned data
            name_len, extra_len = (int.from_bytes(raw[info.header_offset + k:info.header_offset + k + 2], "little")
                                   for k in (26, 28))
            assert (info.header_offset + 30 + name_len + extra_len) % 4 == 0
        # detector inputs in [-1, 1], landmark model in [0, 1]: each member's metadata says so
        models._check_normalisation(z.read(DETECTOR_NAME), 127.5, 127.5, DETECTOR_NAME)
        models._check_normalisation(z.read(LANDMARKER_NAME), 0.0, 255.0, LANDMARKER_NAME)
        with pytest.raises(PoseModelError, match="expected mean 0.0 std 255.0"):
            models._check_normalisation(z.read(DETECTOR_NAME), 0.0, 255.0, DETECTOR_NAME)
    verify_pose_task(bundle)  # runs PoseLandmarker on an image


def test_the_bundle_is_byte_reproducible_and_cached_once(bundle, tmp_path):
    again = build_pose_task(tmp_path / "again.task")
    assert hashlib.sha256(again.read_bytes()).digest() == hashlib.sha256(bundle.read_bytes()).digest()
    cached = cached_pose_task(tmp_path / "cache")
    assert cached.parent == tmp_path / "cache" and cached.name == f"pose_landmarker_full-{models.cache_key()}.task"
    stamp = cached.stat().st_mtime_ns
    assert cached_pose_task(tmp_path / "cache") == cached and cached.stat().st_mtime_ns == stamp  # not rebuilt
    assert not [p for p in cached.parent.iterdir() if p.suffix == ".tmp"]


def test_a_new_bundle_format_or_wheel_gets_a_new_name(monkeypatch):
    key = models.cache_key()
    monkeypatch.setattr(models, "BUNDLE_FORMAT", models.BUNDLE_FORMAT + 1)
    assert models.cache_key() != key


def test_a_bundle_with_its_members_swapped_is_refused_naming_it(bundle, tmp_path):
    swapped = tmp_path / "swapped.task"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(swapped, "w", zipfile.ZIP_STORED) as dst:
        dst.writestr(DETECTOR_NAME, src.read(LANDMARKER_NAME))
        dst.writestr(LANDMARKER_NAME, src.read(DETECTOR_NAME))
    with pytest.raises(PoseModelError, match=r"(?s)swapped\.task: PoseLandmarker cannot run this bundle.*delete it"):
        verify_pose_task(swapped)
    (tmp_path / "junk.task").write_bytes(b"not a zip")
    with pytest.raises(PoseModelError, match=r"junk\.task: not a readable \.task bundle"):
        verify_pose_task(tmp_path / "junk.task")


def test_a_wheel_without_a_model_is_an_error_naming_the_file(monkeypatch, tmp_path):
    monkeypatch.setattr(models, "WHEEL_LANDMARKER", "modules/pose_landmark/pose_landmark_lite.tflite")
    with pytest.raises(PoseModelError, match=r"pose_landmark_lite\.tflite is missing from the installed mediapipe "
                                             r"0\.10\.\d+; reinstall it"):
        build_pose_task(tmp_path / "x.task")
    assert not list(tmp_path.iterdir())
