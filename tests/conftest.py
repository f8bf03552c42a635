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
