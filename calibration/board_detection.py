"""Board corners in every camera's video (or image folder).

A room folder holds one video or one image folder per camera, named by camera
(``cam1.mp4``, ``cam2/``...). The videos are taken to be synchronised frame by
frame: frame ``i`` of every camera is the same instant. Detection subsamples the
frames (``step``) and gives a dense (C, F, N, 2) corner array, NaN where a corner
was not seen, which is what the later stages consume.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import cv2
import numpy as np
from tqdm import tqdm

from pipeline.common.paths import VIDEO_SUFFIXES

from .board import BoardSpec
from .errors import BoardNotSeenError, BoardSpecError, VideoLengthError, VideoReadError

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}
# Dictionaries tried when the configured one finds nothing, to tell "wrong spec" from "no board".
OTHER_DICTIONARIES = ("DICT_4X4_50", "DICT_5X5_100", "DICT_6X6_250", "DICT_7X7_250", "DICT_ARUCO_ORIGINAL", "DICT_APRILTAG_36h11")


def natural_key(text: str) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text)]


@dataclass
class Detections:
    board: BoardSpec
    cameras: list[str]
    sizes: list[tuple[int, int]]  # (width, height) per camera
    frames: np.ndarray  # (F,) video frame index of each row
    corners: np.ndarray  # (C, F, N, 2) float64 pixels, NaN where not seen
    n_video_frames: list[int] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    @property
    def seen(self) -> np.ndarray:
        """(C, F, N) bool: corner detected."""
        return np.isfinite(self.corners[..., 0])

    def counts(self) -> np.ndarray:
        """(C, F) number of corners detected per camera and frame."""
        return self.seen.sum(axis=-1)

    def subset(self, cameras: Sequence[int]) -> "Detections":
        idx = list(cameras)
        return Detections(self.board, [self.cameras[i] for i in idx], [self.sizes[i] for i in idx], self.frames,
                          self.corners[idx], [self.n_video_frames[i] for i in idx] if self.n_video_frames else [],
                          [self.sources[i] for i in idx] if self.sources else [])


# --- frame sources -------------------------------------------------------------
class FrameSource:
    """Frames of one camera, from a video file or a folder of images, as grey images."""

    def __init__(self, path: str | Path, camera: str | None = None) -> None:
        self.path = Path(path)
        self.camera = camera or self.path.stem
        if not self.path.exists():
            raise VideoReadError(f"camera {self.camera}: {self.path} does not exist")
        if self.path.is_dir():
            self.images = sorted((p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_EXTS), key=lambda p: natural_key(p.name))
            if not self.images:
                raise VideoReadError(f"camera {self.camera}: image folder {self.path} holds no images ({', '.join(sorted(IMAGE_EXTS))})")
        else:
            self.images = None
            cap = cv2.VideoCapture(str(self.path))
            ok = cap.isOpened()
            self._count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if ok else 0
            ok = ok and cap.grab()
            if ok and self._count <= 0:  # some containers do not store their length: count once
                self._count = 1
                while cap.grab():
                    self._count += 1
            cap.release()
            if not ok:
                raise VideoReadError(f"camera {self.camera}: cannot decode video {self.path} (corrupt file or unsupported codec); "
                                     "re-encode it (e.g. ffmpeg -i IN -c:v libx264 OUT.mp4) or export an image folder")

    def __len__(self) -> int:
        return len(self.images) if self.images is not None else self._count

    def frames(self, indices: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
        """(index, grey image) for the wanted frame indices, in increasing order."""
        wanted = sorted(set(int(i) for i in indices))
        if self.images is not None:
            for i in wanted:
                if i < len(self.images):
                    img = cv2.imread(str(self.images[i]), cv2.IMREAD_GRAYSCALE)
                    if img is None:
                        raise VideoReadError(f"camera {self.camera}: cannot read image {self.images[i]}")
                    yield i, img
            return
        cap = cv2.VideoCapture(str(self.path))
        try:
            want = set(wanted)
            last = wanted[-1] if wanted else -1
            i = 0
            # grab() skips decoding-to-BGR of unwanted frames; seeking is unreliable across codecs
            while i <= last and cap.grab():
                if i in want:
                    ok, frame = cap.retrieve()
                    if ok:
                        yield i, cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
                i += 1
        finally:
            cap.release()


def find_camera_sources(room_dir: str | Path) -> dict[str, Path]:
    """Camera name -> video file or image folder, naturally sorted by name."""
    room = Path(room_dir)
    if not room.is_dir():
        raise VideoReadError(f"room folder {room} does not exist; it should hold one video or image folder per camera")
    found: dict[str, Path] = {}
    for p in sorted(room.iterdir(), key=lambda p: natural_key(p.name)):
        if p.name.startswith("."):
            continue
        if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES:
            name = p.stem
        elif p.is_dir() and any(q.suffix.lower() in IMAGE_EXTS for q in p.iterdir()):
            name = p.name
        else:
            continue
        if name in found:
            raise VideoReadError(f"camera {name}: both {found[name]} and {p} exist in {room}; keep one per camera")
        found[name] = p
    if not found:
        raise VideoReadError(f"room folder {room} holds no videos ({', '.join(sorted(VIDEO_SUFFIXES))}) nor image folders")
    return found


def check_lengths(sources: Mapping[str, FrameSource], tolerance: float = 0.1, slack: int = 2) -> None:
    """Synchronised recordings have (almost) the same number of frames."""
    lengths = {name: len(src) for name, src in sources.items()}
    longest = max(lengths.values())
    short = {n: k for n, k in lengths.items() if k < longest * (1 - tolerance) - slack}
    if short:
        listing = ", ".join(f"{n}: {k} frames" for n, k in lengths.items())
        raise VideoLengthError(
            f"videos of very different lengths ({listing}); camera(s) {', '.join(short)} are much shorter. "
            "Calibration needs recordings of the same moment from every camera: trim them to the same take, "
            "or pass check_lengths=False / --no-length-check if they are deliberately unsynchronised"
        )


# --- corner detectors ----------------------------------------------------------
class CornerDetector:
    """Board corners in one grey image -> (N, 2) array with NaN for unseen corners."""

    def __init__(self, board: BoardSpec, upscale: float | None = None) -> None:
        self.board = board
        self.upscale = upscale
        self.foreign_markers = 0  # markers whose id is not on the board: the spec is likely wrong
        self.own_markers = 0
        if board.type == "charuco":
            params = cv2.aruco.DetectorParameters()
            params.minMarkerPerimeterRate = 0.02
            self._charuco = cv2.aruco.CharucoDetector(board.cv_board(), cv2.aruco.CharucoParameters(), params)

    def _scale(self, img: np.ndarray) -> float:
        if self.upscale is not None:
            return self.upscale
        # small frames: markers of a few pixels are found far more reliably at twice the size
        return 2.0 if max(img.shape) <= 1000 else 1.0

    def __call__(self, img: np.ndarray) -> np.ndarray:
        out = np.full((self.board.n_corners, 2), np.nan)
        if self.board.type == "charuco":
            s = self._scale(img)
            big = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_CUBIC) if s != 1 else img
            corners, ids, _, marker_ids = self._charuco.detectBoard(big)
            if marker_ids is not None:
                m = marker_ids.ravel()
                self.foreign_markers += int((m >= self.board.n_markers).sum())
                self.own_markers += int((m < self.board.n_markers).sum())
            if ids is not None and len(ids):
                xy = corners.reshape(-1, 2) - charuco_offset()
                # cv2.resize's pixel-centre convention: x_src = (x_dst + 0.5) / s - 0.5
                out[ids.ravel()] = (xy + 0.5) / s - 0.5
            return out
        return self._checkerboard(img, out)

    def _checkerboard(self, img: np.ndarray, out: np.ndarray) -> np.ndarray:
        pattern = self.board.inner_corners
        s = min(1.0, 1000.0 / max(img.shape))  # search on a smaller copy of large frames, refine at full size
        small = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else img
        flags = cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE | cv2.CALIB_CB_FAST_CHECK
        found, corners = cv2.findChessboardCorners(small, pattern, flags=flags)
        if not found:
            return out
        pts = ((corners.reshape(-1, 2) + 0.5) / s - 0.5).astype(np.float32)
        spacing = np.median(np.linalg.norm(np.diff(pts[: pattern[0]], axis=0), axis=1))
        win = int(np.clip(spacing * 0.3, 3, 15))
        criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-3)
        pts = cv2.cornerSubPix(img, pts.reshape(-1, 1, 2), (win, win), (-1, -1), criteria)
        out[:] = pts.reshape(-1, 2)
        return out


@functools.lru_cache(maxsize=1)
def charuco_offset() -> np.ndarray:
    """Systematic shift of CharucoDetector's corners, measured once on a rendered board.

    OpenCV up to 4.12 returns ChArUco corners +0.5 px off (opencv/opencv#25539,
    fixed by #28380); measuring instead of hard-coding keeps fixed versions right.
    """
    board = BoardSpec("charuco", 5, 7, 0.04, 0.03, "DICT_4X4_50")
    px = 40
    img = np.full((7 * px + 80, 5 * px + 80), 255, np.uint8)
    img[40:-40, 40:-40] = board.image(px)
    img = cv2.GaussianBlur(img, (0, 0), 1.0)
    corners, ids, _, _ = cv2.aruco.CharucoDetector(board.cv_board()).detectBoard(img)
    if ids is None or len(ids) < board.n_corners // 2:
        return np.zeros(2)
    expected = board.object_points()[ids.ravel(), :2] / board.square_length * px + 40 - 0.5
    shift = np.median(corners.reshape(-1, 2) - expected, axis=0)
    return np.where(np.abs(shift) < 1.0, shift, 0.0)


def _other_dictionary(board: BoardSpec, source: FrameSource, n_probe: int = 8) -> str | None:
    """Name of another ArUco dictionary whose markers show up in this camera, if any."""
    probe = np.linspace(0, len(source) - 1, min(n_probe, len(source))).astype(int)
    images = [img for _, img in source.frames(probe)]
    for name in OTHER_DICTIONARIES:
        if name == board.dictionary:
            continue
        det = cv2.aruco.ArucoDetector(cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, name)))
        hits = sum(1 for img in images if (ids := det.detectMarkers(img)[1]) is not None and len(ids) >= 4)
        if hits >= 2:
            return name
    return None


def detect_camera(source: FrameSource, board: BoardSpec, frames: np.ndarray, progress: bool = True,
                  detector: CornerDetector | None = None) -> tuple[np.ndarray, tuple[int, int]]:
    """(F, N, 2) corners of one camera at the given frame indices, and its image size."""
    det = detector or CornerDetector(board)
    corners = np.full((len(frames), board.n_corners, 2), np.nan)
    row = {int(f): k for k, f in enumerate(frames)}
    size = None
    for i, img in tqdm(source.frames(frames), total=len(frames), desc=f"detect {source.camera}", unit="frame",
                       disable=not progress, leave=False):
        size = (img.shape[1], img.shape[0])
        corners[row[i]] = det(img)
    if size is None:
        raise VideoReadError(f"camera {source.camera}: no frame could be read from {source.path}")
    return corners, size


def validate_camera(name: str, source: FrameSource, board: BoardSpec, corners: np.ndarray, det: CornerDetector,
                    min_views: int) -> None:
    """Raise a clear error when a camera never shows the board or the board spec cannot be right."""
    views = int((np.isfinite(corners[..., 0]).sum(axis=-1) >= 4).sum())
    if board.type == "charuco" and det.foreign_markers > 0 and det.foreign_markers >= det.own_markers:
        raise BoardSpecError(
            f"camera {name} ({source.path}): markers of {board.dictionary} with ids beyond the board's {board.n_markers} "
            f"were seen ({det.foreign_markers} times vs {det.own_markers} on-board); the board spec seems wrong: check "
            "squares_x/squares_y and the dictionary against the printed board"
        )
    if views > 0:
        if views < min_views:
            raise BoardNotSeenError(f"camera {name} ({source.path}): the board is found in only {views} frame(s); "
                                    f"film it longer in front of this camera (at least {min_views} views)")
        return
    if board.type == "charuco":
        if det.own_markers >= 4:
            raise BoardSpecError(
                f"camera {name} ({source.path}): {det.own_markers} markers of the board were seen but no board corner "
                "could be placed; the board spec seems wrong: check squares_x/squares_y, square_length and marker_length"
            )
        other = _other_dictionary(board, source)
        if other:
            raise BoardSpecError(f"camera {name} ({source.path}): no {board.dictionary} marker found but {other} markers are; "
                                 f"the board spec seems wrong: set dictionary: {other}")
    raise BoardNotSeenError(f"camera {name} ({source.path}): the board is never detected in the video; check that this "
                            "camera filmed the board (lighting, focus, board fully in view) and that the board spec is right")


def detect_room(room: str | Path | Mapping[str, str | Path], board: BoardSpec, *, step: int | None = None,
                max_frames: int = 400, length_check: bool = True, min_views: int = 1, progress: bool = True) -> Detections:
    """Detect the board in every camera of a room folder (or a {camera: path} mapping).

    ``step`` subsamples frames (default: enough to keep at most ``max_frames`` per camera).
    """
    paths = find_camera_sources(room) if isinstance(room, (str, Path)) else {k: Path(v) for k, v in room.items()}
    sources = {name: FrameSource(path, name) for name, path in paths.items()}
    if length_check and len(sources) > 1:
        check_lengths(sources)
    longest = max(len(s) for s in sources.values())
    step = step or max(1, int(np.ceil(longest / max_frames)))
    frames = np.arange(0, longest, step)
    all_corners, sizes = [], []
    for name, src in tqdm(sources.items(), desc="detect board", unit="camera", disable=not progress):
        det = CornerDetector(board)
        corners, size = detect_camera(src, board, frames, progress, det)
        validate_camera(name, src, board, corners, det, min_views)
        all_corners.append(corners), sizes.append(size)
    return Detections(board, list(sources), sizes, frames, np.stack(all_corners),
                      [len(s) for s in sources.values()], [str(s.path) for s in sources.values()])
