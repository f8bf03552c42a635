"""MediaPipe BlazePose (mediapipe 0.10.21, offline models in the wheel) over a stream of frames.

Besides the 33 landmarks, BlazePose's segmentation gives the person's
silhouette; it is kept as a crop around the person (pipeline.contracts.silhouette).
"""
from __future__ import annotations

from typing import Iterable

import cv2
import numpy as np

from pipeline.common.landmarks import N_LANDMARKS
from pipeline.contracts.silhouette import CROP_SIZE, crop_mask


def _landmarks(result, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """One MediaPipe result -> (33, 2) pixels and (33,) visibility; NaN / 0 when no person."""
    if result.pose_landmarks is None:
        return np.full((N_LANDMARKS, 2), np.nan), np.zeros(N_LANDMARKS)
    lm = np.array([(p.x, p.y, p.visibility) for p in result.pose_landmarks.landmark])
    # normalised image coordinates (0..1 over the image edges) -> pixels with pixel centres at integers
    return lm[:, :2] * (w, h) - 0.5, lm[:, 2]


def pose_landmarks(frames: Iterable[np.ndarray], model_complexity: int = 1, *, segmentation: bool = False
                   ) -> tuple[np.ndarray, np.ndarray, tuple[int, int], np.ndarray | None, np.ndarray | None]:
    """BlazePose over BGR ``frames`` with one tracker.

    Returns xy (F,33,2) pixels, visibility (F,33), the image size (w, h) and,
    with ``segmentation``, the person's mask crops (F,1,S,S) uint8 and their
    boxes (F,1,3) (else None, None).
    """
    import mediapipe as mp

    xys, confs, masks, boxes, size = [], [], [], [], (0, 0)
    # One tracker per video: video mode tracks the person from frame to frame (steadier, faster).
    with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=model_complexity,
                                enable_segmentation=segmentation) as pose:
        for frame in frames:
            h, w = frame.shape[:2]
            size = (w, h)
            result = pose.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            xy, conf = _landmarks(result, w, h)
            xys.append(xy)
            confs.append(conf)
            if segmentation:
                found = result.segmentation_mask is not None and np.isfinite(xy).any()
                crop, box = (crop_mask(result.segmentation_mask, xy) if found else
                             (np.zeros((CROP_SIZE, CROP_SIZE), np.uint8), np.full(3, np.nan, np.float32)))
                masks.append(crop)
                boxes.append(box)
    F = len(xys)
    xy = np.asarray(xys, dtype=np.float64).reshape(F, N_LANDMARKS, 2)
    conf = np.asarray(confs, dtype=np.float64).reshape(F, N_LANDMARKS)
    if not segmentation:
        return xy, conf, size, None, None
    return (xy, conf, size, np.asarray(masks, np.uint8).reshape(F, 1, CROP_SIZE, CROP_SIZE),
            np.asarray(boxes, np.float32).reshape(F, 1, 3))
