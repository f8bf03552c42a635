"""Calibration boards: ChArUco (cv2.aruco) and plain checkerboards.

A board's *corners* are the inner chessboard corners, numbered as OpenCV numbers
them (row by row from the board origin); ``object_points()`` gives their (N, 3)
board coordinates in metres (z = 0, the board's printed face looks toward -z).

``squares_x``/``squares_y`` count *squares* for both board types, so a plain
checkerboard of 5 x 8 squares has 4 x 7 inner corners (Pose2Sim's
``intrinsics_corners_nb = [4, 7]``).
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

import cv2
import numpy as np

from .errors import BoardSpecError

BOARD_TYPES = ("charuco", "checkerboard")


@dataclass(frozen=True)
class BoardSpec:
    type: str
    squares_x: int
    squares_y: int
    square_length: float  # metres
    marker_length: float | None = None  # metres, ChArUco only
    dictionary: str | None = None  # e.g. DICT_4X4_50, ChArUco only

    def __post_init__(self) -> None:
        if self.type not in BOARD_TYPES:
            raise BoardSpecError(f"board type {self.type!r} is not one of {BOARD_TYPES}")
        if self.squares_x < 2 or self.squares_y < 2:
            raise BoardSpecError(f"a board needs at least 2 x 2 squares, got {self.squares_x} x {self.squares_y}")
        if not self.square_length > 0:
            raise BoardSpecError(f"square_length must be > 0 metres, got {self.square_length}")
        if self.type == "charuco":
            if self.marker_length is None or not 0 < self.marker_length < self.square_length:
                raise BoardSpecError(
                    f"a ChArUco board needs 0 < marker_length < square_length ({self.square_length} m), got {self.marker_length}"
                )
            if self.dictionary is None or not hasattr(cv2.aruco, self.dictionary):
                raise BoardSpecError(f"unknown ArUco dictionary {self.dictionary!r}; use a cv2.aruco name such as DICT_4X4_50")
            n_markers = (self.squares_x * self.squares_y) // 2
            if n_markers > _dictionary_size(self.dictionary):
                raise BoardSpecError(
                    f"a {self.squares_x}x{self.squares_y} ChArUco board needs {n_markers} markers but {self.dictionary} has only "
                    f"{_dictionary_size(self.dictionary)}; pick a larger dictionary"
                )

    # --- construction ---------------------------------------------------------
    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> "BoardSpec":
        """From the config's ``board:`` mapping (see workflow/schemas/config.schema.yaml)."""
        try:
            return cls(
                type=str(cfg.get("type", "charuco")),
                squares_x=int(cfg["squares_x"]),
                squares_y=int(cfg["squares_y"]),
                square_length=float(cfg["square_length"]),
                marker_length=None if cfg.get("marker_length") is None else float(cfg["marker_length"]),
                dictionary=cfg.get("dictionary"),
            )
        except KeyError as exc:
            raise BoardSpecError(f"board description lacks {exc.args[0]!r} (needs type, squares_x, squares_y, square_length"
                                 f"{', marker_length, dictionary' if cfg.get('type', 'charuco') == 'charuco' else ''})") from None

    @classmethod
    def parse(cls, text: str) -> "BoardSpec":
        """``charuco:5x7:0.08:0.06:DICT_4X4_50``, ``checkerboard:5x8:0.06`` or a YAML file path."""
        if Path(text).suffix.lower() in (".yaml", ".yml", ".json"):
            return cls.from_file(text)
        m = re.fullmatch(r"(charuco|checkerboard):(\d+)x(\d+):([0-9.eE+-]+)(?::([0-9.eE+-]+):(DICT_\w+))?", text.strip())
        if not m:
            raise BoardSpecError(
                f"cannot read board {text!r}; write charuco:SXxSY:SQUARE_M:MARKER_M:DICT (e.g. charuco:5x7:0.08:0.06:DICT_4X4_50), "
                "checkerboard:SXxSY:SQUARE_M (squares, not inner corners) or give a YAML file"
            )
        kind, sx, sy, sq, mk, dic = m.groups()
        if kind == "charuco" and mk is None:
            raise BoardSpecError(f"board {text!r}: a ChArUco board needs :MARKER_M:DICT after the square length")
        return cls(kind, int(sx), int(sy), float(sq), None if mk is None else float(mk), dic)

    @classmethod
    def from_file(cls, path: str | Path) -> "BoardSpec":
        import yaml

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"board file {path} does not exist")
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if "board" in data:  # a room config block may be passed as is
            data = data["board"]
        return cls.from_config(data)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    # --- geometry -------------------------------------------------------------
    @property
    def inner_corners(self) -> tuple[int, int]:
        return self.squares_x - 1, self.squares_y - 1

    @property
    def n_corners(self) -> int:
        return (self.squares_x - 1) * (self.squares_y - 1)

    @property
    def n_markers(self) -> int:
        return (self.squares_x * self.squares_y) // 2 if self.type == "charuco" else 0

    @property
    def size_m(self) -> tuple[float, float]:
        return self.squares_x * self.square_length, self.squares_y * self.square_length

    def object_points(self) -> np.ndarray:
        """(N, 3) float64 corner coordinates on the board, metres, OpenCV's order."""
        nx, ny = self.inner_corners
        gx, gy = np.meshgrid(np.arange(1, nx + 1), np.arange(1, ny + 1))
        pts = np.stack([gx.ravel(), gy.ravel(), np.zeros(gx.size)], axis=1) * self.square_length
        return pts

    def cv_board(self) -> "cv2.aruco.CharucoBoard":
        if self.type != "charuco":
            raise BoardSpecError("only ChArUco boards have an ArUco board object")
        dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, self.dictionary))
        return cv2.aruco.CharucoBoard((self.squares_x, self.squares_y), self.square_length, self.marker_length, dictionary)

    def image(self, px_per_square: int = 60) -> np.ndarray:
        """Grey image of the board's printed face, exactly the board's extent (no margin)."""
        w, h = self.squares_x * px_per_square, self.squares_y * px_per_square
        if self.type == "charuco":
            return self.cv_board().generateImage((w, h), marginSize=0, borderBits=1)
        ix, iy = np.meshgrid(np.arange(w) // px_per_square, np.arange(h) // px_per_square)
        # OpenCV's checkerboard convention: the square at the origin is black.
        return np.where((ix + iy) % 2 == 0, 0, 255).astype(np.uint8)


def _dictionary_size(name: str) -> int:
    d = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, name))
    return int(d.bytesList.shape[0])
