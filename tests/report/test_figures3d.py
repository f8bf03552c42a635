"""Open3D offscreen figures: non-blank images, red exactly where a cue is violated."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.report.figures3d import render_rep_figures
from pipeline.synthetic.report_session import write_sample_session
from pipeline.report.session import bottom_frames, load_session, violation_mask


def _red(img):
    return (img[..., 0] > 170) & (img[..., 1] < 90) & (img[..., 2] < 90)


def _blue(img):
    return (img[..., 2] > 150) & (img[..., 0] < 80) & (img[..., 1] < 140)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("fig")
    d = write_sample_session(out / "s", n_reps=3, seconds=9, faults={2: ["soft_knee"], 3: ["neutral_spine"]})
    s = load_session(d)
    b = bottom_frames(s)
    # A rep's frames list the violation around the bottom, so the bottom frame is coloured.
    return render_rep_figures(s.points[b], violation_mask(s)[b], s.facing, out / "png"), out / "png"


def test_figures_are_drawn_with_spine_markers(rendered):
    images, folder = rendered
    assert len(images) == 3 and sorted(p.name for p in folder.iterdir())[:2] == ["rep01_front.png", "rep01_side.png"]
    for views in images:
        for img in views.values():
            assert img.shape == (540, 480, 3) and img.dtype == np.uint8
            assert (img.sum(axis=2) < 450).mean() > 0.01  # skeleton drawn on the white background
            assert _blue(img).sum() > 100                   # the spine's three points


def test_red_only_where_a_cue_is_violated(rendered):
    images, _ = rendered
    clean, knee, spine = images
    assert _red(clean["side"]).sum() == 0 and _red(clean["front"]).sum() == 0
    for view in ("side", "front"):
        assert _red(knee[view]).sum() > 500 and _red(spine[view]).sum() > 200
    # The knee fault colours the legs (low in the image), the spine fault the trunk (high).
    rows_knee = np.nonzero(_red(knee["front"]))[0].mean()
    rows_spine = np.nonzero(_red(spine["front"]))[0].mean()
    assert rows_knee > rows_spine + 80


def test_borderline_segments_are_amber_not_red(tmp_path):
    s = load_session(write_sample_session(tmp_path / "s", n_reps=1, seconds=3, faults={1: ["soft_knee"]}))
    knee = next(c for c in s.reps["reps"][0]["cues"] if c["id"] == "soft_knee")
    knee["verdict"] = "warn"
    b = bottom_frames(s)
    (views,) = render_rep_figures(s.points[b], violation_mask(s)[b], s.facing)
    img = views["front"]
    amber = (img[..., 0] > 200) & (img[..., 1] > 110) & (img[..., 1] < 190) & (img[..., 2] < 60)
    assert _red(img).sum() == 0 and amber.sum() > 300


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match="frames must be"):
        render_rep_figures(np.zeros((1, 33, 3)), np.zeros((1, 3), bool), np.array([1.0, 0, 0]))
