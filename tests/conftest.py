"""Fixtures shared by the test modules."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def egl():
    """A headless OpenGL (EGL) context can be made: the synthetic-footage renderer works here."""
    moderngl = pytest.importorskip("moderngl", reason="moderngl not installed (pip install moderngl)")
    try:
        ctx = moderngl.create_standalone_context(backend="egl")
    except Exception as exc:
        pytest.skip(f"no headless EGL OpenGL context ({exc}); install libegl1 libegl-mesa0 libgl1-mesa-dri")
    ctx.release()


@pytest.fixture(scope="session")
def athlete():
    """Four deadlifts with the walk-in and walk-out: cross-correlation needs motion, not 2D noise on a still body."""
    from pipeline.synthetic.athlete import simulate

    return simulate("deadlift", 4, seed=1, walk=True)


@pytest.fixture
def body_error_mm():
    """Median 3D error (mm) of the body joints of a pose3d.npz against a simulated athlete (frames by time)."""
    import numpy as np

    from pipeline.common.landmarks import BODY_JOINTS
    from pipeline.contracts.pose3d import read_pose3d

    def error(pose3d, sim, start=0):
        pose = read_pose3d(pose3d)
        truth = sim.xyz[start + np.round(pose.t * sim.fps).astype(int)]
        return 1000 * np.nanmedian(np.linalg.norm(pose.xyz - truth, axis=-1)[:, list(BODY_JOINTS)])

    return error
