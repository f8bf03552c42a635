"""MediaPipe BlazePose (mediapipe 0.10.21, offline models in the wheel) over a stream of frames."""
from __future__ import annotations

from typing import Iterable

import cv2
import numpy as np

from pipeline.common.landmarks import N_LANDMARKS


def _landmarks(result, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """One MediaPipe result -> (33, 2) pixels and (33,) visibility; NaN / 0 when no person."""
    if result.pose_landmarks is None:
        return np.full((N_LANDMARKS, 2), np.nan), np.zeros(N_LANDMARKS)
    lm = np.array([(p.x, p.y, p.visibility) for p in result.pose_landmarks.landmark])
    # normalised image coordinates (0..1 over the image edges) -> pixels with pixel centres at integers
    return lm[:, :2] * (w, h) - 0.5, lm[:, 2]


def pose_landmarks(frames: Iterable[np.ndarray], model_complexity: int = 1
                   ) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """BlazePose over BGR ``frames`` with one tracker: xy (F,33,2) pixels, visibility (F,33), image (w, h)."""
    import mediapipe as mp

    xys, confs, size = [], [], (0, 0)
    # One tracker per video: video mode tracks the person from frame to frame (steadier, faster).
    with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=model_complexity) as pose:
        for frame in frames:
            h, w = frame.shape[:2]
            size = (w, h)
            xy, conf = _landmarks(pose.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)), w, h)
            xys.append(xy)
            confs.append(conf)
    F = len(xys)
    return (np.asarray(xys, dtype=np.float64).reshape(F, N_LANDMARKS, 2),
            np.asarray(confs, dtype=np.float64).reshape(F, N_LANDMARKS), size)
