"""``silhouette/{cam}.npz``: each detected person's segmentation mask in one camera (written by detect).

BlazePose's segmentation gives the body's silhouette, which the analysis
reads where the landmarks cannot tell (the shape of the back, the feet on the
floor). Full-frame masks of a long session would not fit in memory, so each
person's mask is kept inside a square crop around them, at a fixed size:

``mask`` (F, P, S, S) uint8: the soft mask (0-255) of person slot p in frame f,
inside the crop; ``box`` (F, P, 3) float32: the crop's x0, y0 and side in
image pixels (NaN where the slot is empty); ``t`` (F,) the camera's frame times
(the same as its pose2d file); ``size`` (w, h) of the video. Crop cell (i, j)
covers image pixel (x0 + (j + 0.5) * side / S - 0.5, y0 + (i + 0.5) * side / S - 0.5)
(pixel centres at integers, as in pose2d). Person slots are those of the
camera's pose2d file.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy.ndimage import map_coordinates

from pipeline.common.atomic import write_npz
from pipeline.contracts import ContractError, MissingFileError

CROP_SIZE = 192  # cells per side: about the resolution of BlazePose's own mask over a person
MARGIN = 0.25  # the crop extends the landmarks' box by this fraction of its side on each side (hair, shoes, arms)


@dataclass
class Silhouette:
    mask: np.ndarray  # (F, P, S, S) uint8
    box: np.ndarray  # (F, P, 3) float32: x0, y0, side in pixels
    t: np.ndarray  # (F,) seconds, the camera's clock
    size: tuple[int, int]
    path: Path | None = None

    @property
    def crop_size(self) -> int:
        return int(self.mask.shape[-1])

    def sample(self, frame: np.ndarray, person: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Mask values in [0, 1] at image pixels (u, v) of the given frames and person slots (all broadcast
        together), bilinear; 0 outside the crop or where the slot is empty."""
        frame, person, u, v = np.broadcast_arrays(np.asarray(frame), np.asarray(person), np.asarray(u, float),
                                                  np.asarray(v, float))
        box = self.box[frame, person]  # (..., 3)
        S = self.crop_size
        with np.errstate(invalid="ignore"):
            col = (u + 0.5 - box[..., 0]) / box[..., 2] * S - 0.5
            row = (v + 0.5 - box[..., 1]) / box[..., 2] * S - 0.5
        inside = np.isfinite(col) & np.isfinite(row) & (col >= -0.5) & (row >= -0.5) & (col <= S - 0.5) & (row <= S - 0.5)
        flat = self.mask.reshape(-1, S, S)
        layer = (frame * self.mask.shape[1] + person).astype(float)
        values = map_coordinates(flat, [np.where(inside, layer, 0.0), np.where(inside, row, 0.0),
                                        np.where(inside, col, 0.0)], order=1, mode="nearest")
        return np.where(inside, values / 255.0, 0.0)


def crop_mask(mask: np.ndarray, xy: np.ndarray, size: int = CROP_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """One person's (S, S) uint8 crop of a full-frame soft mask (H, W) in [0, 1], around their landmarks
    ``xy`` (33, 2), and the crop's box (x0, y0, side); an empty crop and NaN box without landmarks."""
    ok = np.isfinite(xy).all(-1)
    if not ok.any():
        return np.zeros((size, size), np.uint8), np.full(3, np.nan, np.float32)
    lo, hi = xy[ok].min(0), xy[ok].max(0)
    side = float(max(hi - lo)) * (1 + 2 * MARGIN) + 8.0
    x0, y0 = (lo + hi) / 2 - side / 2
    # the affine map from the crop's cells to image pixels (centres at integers in both)
    k = side / size
    M = np.array([[1 / k, 0, (-(x0 - 0.5) / k) - 0.5], [0, 1 / k, (-(y0 - 0.5) / k) - 0.5]])
    crop = cv2.warpAffine(np.asarray(mask, np.float32), M, (size, size), flags=cv2.INTER_AREA if k > 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    return np.clip(np.round(crop * 255), 0, 255).astype(np.uint8), np.array([x0, y0, side], np.float32)


def write_silhouette(path: str | Path, mask: np.ndarray, box: np.ndarray, t: np.ndarray, *, size: tuple[int, int]) -> Path:
    """Write one camera's crops atomically; ``mask`` (F, P, S, S) uint8, ``box`` (F, P, 3), ``t`` (F,)."""
    mask, box, t = np.asarray(mask), np.asarray(box, np.float32), np.asarray(t, np.float64)
    _check(mask, box, t, Path(path))
    write_npz(path, mask=mask, box=box, t=t, size=np.array(size, np.int32))
    return Path(path)


def read_silhouette(path: str | Path) -> Silhouette:
    """Read and check one camera's silhouette file; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"silhouette file {path} does not exist; run the detection stage (hingecap detect) first")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as exc:  # noqa: BLE001 -- see NPZ_DAMAGE in pipeline/contracts
        raise ContractError(f"{path}: not a readable silhouette .npz file ({exc}); delete it and rerun the detection") from None
    missing = [k for k in ("mask", "box", "t", "size") if k not in data]
    if missing:
        raise ContractError(f"{path}: lacks {', '.join(missing)} (a silhouette file holds mask, box, t and size)")
    _check(data["mask"], data["box"], data["t"], path)
    return Silhouette(data["mask"], data["box"].astype(np.float32), data["t"].astype(np.float64),
                      tuple(int(v) for v in data["size"]), path)


def _check(mask: np.ndarray, box: np.ndarray, t: np.ndarray, path: Path) -> None:
    F = t.shape[0] if t.ndim == 1 else -1
    if (mask.ndim != 4 or mask.dtype != np.uint8 or mask.shape[0] != F or mask.shape[2] != mask.shape[3]
            or box.shape != mask.shape[:2] + (3,)):
        raise ContractError(f"{path}: expected mask (F,P,S,S) uint8, box (F,P,3) and t (F,) for one F; "
                            f"got mask {mask.shape} {mask.dtype}, box {box.shape}, t {t.shape}")
