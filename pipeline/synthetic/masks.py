"""Exact silhouettes of the synthetic figure, in the silhouette contract's form (for tests).

``ideal_views(sim, cameras)`` renders the figure (with its spine) white on
black through every camera (pipeline.synthetic.gl, no room, no multisampling),
keeps each frame's mask as the detect stage would (a crop around the projected
landmarks, ``pipeline.contracts.silhouette.crop_mask``) and returns the
``CameraViews`` the analysis reads: what a perfect segmentation would give.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from pipeline.analyze.spine_silhouette import CameraViews
from pipeline.contracts.silhouette import CROP_SIZE, Silhouette, crop_mask
from pipeline.synthetic.figure import Physique, body_primitives


def ideal_views(xyz: np.ndarray, cameras: Sequence, *, spine: np.ndarray | None = None,
                spine_sigma: np.ndarray | None = None, physique: Physique = Physique(),
                frames: np.ndarray | None = None) -> CameraViews:
    """CameraViews of exact masks for ``frames`` of ``xyz`` (default all); the timeline is those frames."""
    from pipeline.synthetic.gl import Renderer

    frames = np.arange(len(xyz)) if frames is None else np.asarray(frames, int)
    sub = np.asarray(xyz, np.float64)[frames]
    ell, cyl = body_primitives(sub, spine=None if spine is None else np.asarray(spine)[frames],
                               spine_sigma=spine_sigma, physique=physique)
    ell, cyl = ell.copy(), cyl.copy()
    ell[..., 12:] = 1.0  # every primitive white
    cyl[..., 8:] = 1.0
    crops = np.zeros((len(cameras), len(frames), 1, CROP_SIZE, CROP_SIZE), np.uint8)
    boxes = np.full((len(cameras), len(frames), 1, 3), np.nan, np.float32)
    with Renderer(cameras, room=False, background=(0, 0, 0), samples=0) as r:
        for i in range(len(frames)):
            for c, (cam, im) in enumerate(zip(cameras, r.render(ell[i], cyl[i]))):
                mask = (im[..., 1] > 40).astype(np.float32)
                crops[c, i, 0], boxes[c, i, 0] = crop_mask(mask, cam.project(sub[i]))
    t = np.arange(len(frames), dtype=np.float64)
    sils = [Silhouette(crops[c], boxes[c], t, cam.size) for c, cam in enumerate(cameras)]
    view_frame = np.tile(np.arange(len(frames)), (len(cameras), 1))
    return CameraViews(list(cameras), sils, view_frame, np.zeros_like(view_frame))
