"""The triangulate stage among other people: pose3d.npz says who else was there, which slot is the athlete,
which cameras were left out and why; the refinement refuses principal-point shifts beyond its bound."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from calibration.io import write_calibration
from pipeline.contracts.pose2d import write_pose2d
from pipeline.contracts.pose3d import read_pose3d
from pipeline.contracts.sync import write_sync
from pipeline.report.capture import capture_html
from pipeline.synthetic.athlete import simulate
from pipeline.synthetic.people import people_views
from pipeline.synthetic.rig import virtual_rig
from pipeline.triangulate.refine import guarded_principal_point_offsets, shift_bounds
from pipeline.triangulate.stage import triangulate_session

FPS = 15.0


def _session(tmp_path, people, rig, *, edit=None, seed=0):
    """pose2d files of ``people`` (N, T, 33, 3) seen by ``rig``, a sync.json (frames simultaneous) and the
    calibration; ``edit(c, xy, conf, focus, slot_of)`` may change a camera's arrays first."""
    paths = {}
    T = people.shape[1]
    t = np.arange(T) / FPS
    views = people_views(people, rig, noise_px=1.0, seed=seed)
    for c, (cam, (xy, conf, focus, slot_of)) in enumerate(zip(rig, views)):
        if edit is not None:
            edit(c, xy, conf, focus, slot_of)
        paths[cam.name] = write_pose2d(tmp_path / "pose2d" / f"{cam.name}.npz", xy, conf, t, fps=FPS, size=cam.size,
                                       focus=focus)
    write_sync(tmp_path / "sync.json", method="none", timeline=t,
               cameras={c.name: {"offset_s": 0.0, "drift": 0.0, "confidence": 1.0} for c in rig})
    write_calibration(tmp_path / "calibration.toml", rig, {})
    return paths, views




def test_pose3d_names_the_others_and_the_athletes_slots(crowd, tmp_path, caplog, body_error_mm):
    sim, rig, people = crowd
    paths, views = _session(tmp_path, people, rig)
    with caplog.at_level(logging.INFO):
        info = triangulate_session(paths, tmp_path / "calibration.toml", tmp_path / "sync.json", tmp_path / "pose3d.npz")
    pose = read_pose3d(tmp_path / "pose3d.npz")
    slot_of = np.array([v[3] for v in views])
    seen = pose.view_person >= 0
    assert seen.mean() > 0.97 and np.all(pose.view_person[seen] == np.broadcast_to(slot_of[:, :1], seen.shape)[seen])
    assert body_error_mm(tmp_path / "pose3d.npz", sim) < 15.0  # 1 px noise: the athlete's own views only
    people_info = pose.info["people"]
    assert len(people_info["others"]) == 2 and "reps" in people_info["rule"]
    assert "2 other person(s) seen: person" in caplog.text and "athlete: the person doing the reps" in caplog.text
    html = capture_html(pose.info, None)
    assert "<b>2 other people</b> seen: person" in html and "the person doing the reps inside the capture area" in html
    assert html.count("<td>yes</td>") == 4  # every camera gave the athlete's view on (nearly) every instant


def test_a_camera_that_only_ever_saw_the_coach_is_left_out_and_said_so(crowd, tmp_path):
    sim, rig, people = crowd

    def only_coach(c, xy, conf, focus, slot_of):
        if c == 3:
            xy[:, slot_of[0]] = np.nan  # the athlete never in view of cam3
            conf[:, slot_of[0]] = 0.0
            focus[:] = np.where(np.isfinite(xy[:, slot_of[1], 0, 0]), slot_of[1], -1)

    paths, _ = _session(tmp_path, people, rig, edit=only_coach)
    info = triangulate_session(paths, tmp_path / "calibration.toml", tmp_path / "sync.json", tmp_path / "pose3d.npz")
    assert "cam3" not in info["cameras"] and info["left_out"]["cam3"].startswith("never saw the athlete")
    assert any("camera cam3 never saw the athlete" in w for w in info["warnings"])
    assert "no: never saw the athlete" in capture_html(info, None)


def test_refinement_refuses_a_shift_beyond_its_bound_and_applies_a_small_one(caplog):
    """cam1's views all 40 px off (its calibration belongs to another video, or it films someone else): no shift
    beyond the bound (1.5 % of the diagonal, 12 px at 640x480) is applied, cam1 keeps its calibration and the
    refusal is logged. (cam1 and cam3 face each other: part of cam1's offset reads as cam3's until cam3 is held,
    so cam3 may be refused first; holding a correct calibration costs nothing.) A 6 px offset, a principal point
    that moved, is found and applied."""
    sim = simulate("deadlift", 1, walk=False, fps=FPS, seed=2)
    rig = virtual_rig(4, seed=1)
    views = people_views(sim.xyz[None].astype(float), rig, noise_px=0.5, seed=0)
    xy = np.stack([v[0][:, 0] for v in views])
    conf = np.stack([v[1][:, 0] for v in views])
    small = xy.copy()
    small[2] += (0.0, 6.0)
    offsets, refused = guarded_principal_point_offsets(small, conf, rig)
    assert refused == {} and offsets[2, 1] > 4.0 and np.abs(np.delete(offsets, 2, 0)).max() < 2.0
    big = xy.copy()
    big[1] += (40.0, 0.0)
    with caplog.at_level(logging.WARNING):
        offsets, refused = guarded_principal_point_offsets(big, conf, rig)
    bound = shift_bounds(rig)
    assert "cam1" in refused and np.linalg.norm(refused["cam1"]["shift_px"]) > bound[1]
    assert refused["cam1"]["bound_px"] == pytest.approx(bound[1], abs=0.1) and np.allclose(offsets[1], 0.0)
    assert (np.linalg.norm(offsets, axis=1) <= bound).all()
    assert "camera cam1 would move its principal point" in caplog.text and "refused" in caplog.text


def test_the_stage_reports_a_refused_shift_in_info_and_the_report(crowd, tmp_path):
    sim, rig, people = crowd

    def shifted(c, xy, conf, focus, slot_of):
        if c == 1:
            xy += (45.0, 0.0)

    paths, _ = _session(tmp_path, people, rig, edit=shifted)
    info = triangulate_session(paths, tmp_path / "calibration.toml", tmp_path / "sync.json", tmp_path / "pose3d.npz",
                               refine_calibration=True)
    assert "cam1" in info["principal_point_refused"] and info["principal_point_shift_px"]["cam1"] == [0.0, 0.0]
    assert any("refused to move camera cam1's principal point" in w for w in info["warnings"])
    assert "refused to move camera cam1&#x27;s principal point" in capture_html(info, None)
