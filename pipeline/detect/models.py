"""BlazePose's models from the installed mediapipe wheel, bundled for the Tasks API, offline.

mediapipe 0.10.21's wheel ships the two models ``mp.solutions.pose`` runs with
model complexity 1 (``modules/pose_detection/pose_detection.tflite`` and
``modules/pose_landmark/pose_landmark_full.tflite``) but no ``.task`` bundle
for the Tasks API, whose graphs are what let hingecap follow more than one
person. The lite and heavy landmark models are not in the wheel (MediaPipe
downloads them at run time, which hingecap never does).

``build_pose_task`` zips the wheel's two models into such a bundle, adding the
one piece of metadata the Tasks graphs need (each model's input
normalisation), and runs it once before the file appears. ``cached_pose_task``
builds it on first use into ``$HINGECAP_CACHE/models`` (default
``~/.cache/hingecap/models``) under a name that carries a hash of the
mediapipe version, both models and the bundle format, so a new wheel gets a
new bundle. About 0.6 s and 9 MB; byte-for-byte reproducible.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# Member names the Tasks PoseLandmarkerGraph looks up inside a bundle (pose_landmarker_graph.cc).
DETECTOR_NAME = "pose_detector.tflite"
LANDMARKER_NAME = "pose_landmarks_detector.tflite"
# Where mp.solutions.pose finds them inside the installed mediapipe package.
WHEEL_DETECTOR = "modules/pose_detection/pose_detection.tflite"
WHEEL_LANDMARKER = "modules/pose_landmark/pose_landmark_full.tflite"
# Input normalisation of each model, as the solutions graphs apply it (pose_detection_cpu.pbtxt: image
# to tensor range [-1, 1]; pose_landmark_by_roi_cpu.pbtxt: range [0, 1]). The Tasks graphs read it from
# the model's metadata instead: value = (pixel - mean) / std.
DETECTOR_NORM = (127.5, 127.5)
LANDMARKER_NORM = (0.0, 255.0)
BUNDLE_FORMAT = 1  # bump when the way bundles are built changes: it is part of the cache key
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member dates: the same wheel gives the same bytes


class PoseModelError(RuntimeError):
    """The pose models cannot be found, bundled or run; the message names the file and what to do."""


def cache_dir() -> Path:
    """``$HINGECAP_CACHE/models`` (default ``~/.cache/hingecap/models``)."""
    return Path(os.environ.get("HINGECAP_CACHE", Path.home() / ".cache" / "hingecap")) / "models"


def _mediapipe():
    try:
        import mediapipe
    except ImportError as exc:
        raise PoseModelError("mediapipe is not installed; pip install mediapipe==0.10.21") from exc
    return mediapipe


def wheel_models() -> tuple[Path, Path]:
    """The installed detector and full landmark model; a PoseModelError naming the missing file."""
    mp = _mediapipe()
    root = Path(mp.__file__).resolve().parent
    paths = root / WHEEL_DETECTOR, root / WHEEL_LANDMARKER
    for p in paths:
        if not p.is_file():
            raise PoseModelError(f"{p} is missing from the installed mediapipe {mp.__version__}; reinstall it "
                                 "(pip install --force-reinstall mediapipe==0.10.21)")
    return paths


def _with_image_metadata(model: bytes, mean: float, std: float, name: str) -> bytes:
    """``model`` with TFLite metadata describing one RGB image input normalised as (x - mean) / std."""
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer

    writer = metadata_writer.MetadataWriter.create(bytearray(model))
    writer.add_general_info(name, "BlazePose model from the mediapipe wheel, bundled by hingecap")
    writer.add_image_input(norm_mean=[mean], norm_std=[std])  # RGB is the default colour space
    # No output metadata: the Tasks pose graphs take the outputs by position.
    return bytes(writer.populate()[0])


def _check_normalisation(model: bytes, mean: float, std: float, what: str) -> None:
    from mediapipe.tasks.python.metadata import metadata

    md = json.loads(metadata.MetadataDisplayer.with_model_buffer(model).get_metadata_json())
    units = md["subgraph_metadata"][0]["input_tensor_metadata"][0]["process_units"]
    opts = next(u["options"] for u in units if u["options_type"] == "NormalizationOptions")
    if not (np.allclose(opts["mean"], [mean]) and np.allclose(opts["std"], [std])):
        raise PoseModelError(f"{what}: normalisation metadata came out as {opts}, expected mean {mean} std {std}")


def cache_key() -> str:
    """12 hex digits of a hash of the bundle format, the mediapipe version and both models' bytes."""
    mp = _mediapipe()
    h = hashlib.sha256(f"{BUNDLE_FORMAT}:{mp.__version__}".encode())
    for p in wheel_models():
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


def build_pose_task(dest: str | Path) -> Path:
    """Write a PoseLandmarker ``.task`` bundle of the installed wheel's models to ``dest``.

    An uncompressed zip with 4-byte aligned members (what the Tasks API
    memory-maps) holding ``pose_detector.tflite`` and
    ``pose_landmarks_detector.tflite``, each with input-normalisation metadata.
    It is run once (``verify_pose_task``) before being renamed onto ``dest``; a
    broken bundle raises PoseModelError and leaves no file.
    """
    from mediapipe.tasks.python.metadata.metadata_writers import model_asset_bundle_utils

    dest = Path(dest)
    det_path, lm_path = wheel_models()
    detector = _with_image_metadata(det_path.read_bytes(), *DETECTOR_NORM, "pose_detector")
    landmarker = _with_image_metadata(lm_path.read_bytes(), *LANDMARKER_NORM, "pose_landmarks_detector_full")
    _check_normalisation(detector, *DETECTOR_NORM, DETECTOR_NAME)
    _check_normalisation(landmarker, *LANDMARKER_NORM, LANDMARKER_NAME)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Not pipeline.common.atomic: it clears other writers' temporary files of the same target, and
    # several detect jobs may build the same bundle at once (each renames identical bytes into place).
    fd, tmp = tempfile.mkstemp(prefix=dest.name + ".", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    try:
        with model_asset_bundle_utils.AlignZipFile(tmp, mode="w", alignment=4) as zf:
            for name, data in ((DETECTOR_NAME, detector), (LANDMARKER_NAME, landmarker)):
                zf.writestr(zipfile.ZipInfo(name, date_time=ZIP_DATE), data)
        verify_pose_task(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp makes it private
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def verify_pose_task(path: str | Path) -> None:
    """Open ``path`` with PoseLandmarker and run it on one image, or raise PoseModelError.

    Loading alone proves little: a bundle with its two members swapped loads
    and fails only on the first frame.
    """
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    path = Path(path)
    try:
        with zipfile.ZipFile(path) as z:
            names = sorted(z.namelist())
    except (OSError, zipfile.BadZipFile) as exc:
        raise PoseModelError(f"{path}: not a readable .task bundle ({exc}); delete it, it is rebuilt on first use") from None
    if names != sorted([DETECTOR_NAME, LANDMARKER_NAME]):
        raise PoseModelError(f"{path}: bundle holds {names}, expected {DETECTOR_NAME} and {LANDMARKER_NAME}")
    try:
        opts = vision.PoseLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(path)),
                                            running_mode=vision.RunningMode.IMAGE, num_poses=2)
        with vision.PoseLandmarker.create_from_options(opts) as landmarker:
            landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.zeros((64, 64, 3), np.uint8)))
    except Exception as exc:  # RuntimeError / ValueError from the C++ graph
        raise PoseModelError(f"{path}: PoseLandmarker cannot run this bundle ({exc}); delete it, it is rebuilt "
                             "on first use") from exc


def cached_pose_task(directory: str | Path | None = None) -> Path:
    """The bundle for the installed wheel, built on first use into ``directory`` (default ``cache_dir()``).

    Concurrent builders are safe: each renames identical bytes into place.
    """
    directory = Path(directory) if directory is not None else cache_dir()
    path = directory / f"pose_landmarker_full-{cache_key()}.task"
    if not path.is_file():
        log.info("building the BlazePose .task bundle from the mediapipe wheel: %s", path)
        build_pose_task(path)
    return path


def unpacked_models(task: str | Path) -> tuple[Path, Path]:
    """The bundle's two models (with their metadata) as files beside it, written once.

    The Tasks sub-graphs that ``pipeline.detect.people`` drives take one model
    each, not a bundle.
    """
    task = Path(task)
    out = []
    with zipfile.ZipFile(task) as z:
        for name in (DETECTOR_NAME, LANDMARKER_NAME):
            p = task.with_name(f"{task.stem}.{name}")
            data = z.read(name)
            if not p.is_file() or p.stat().st_size != len(data):
                fd, tmp = tempfile.mkstemp(prefix=p.name + ".", suffix=".tmp", dir=p.parent)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.chmod(tmp, 0o644)
                os.replace(tmp, p)
            out.append(p)
    return out[0], out[1]
