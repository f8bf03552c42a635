"""Array-module and device selection: one numeric source for numpy and cupy.

A stage picks the module once at its entry (``select_device(options.device)``)
and passes it down as ``xp``; the hot paths (undistortion, triangulation,
reprojection) only call functions that numpy and cupy share with the same
meaning (``CUPY_COMPATIBLE`` lists the names they use; a test runs the core
through a recording shim to keep it that way).
"""
from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

DEVICES = ("auto", "cpu", "gpu")

# Every xp attribute the numeric core may use; all exist in cupy with numpy's semantics.
CUPY_COMPATIBLE = frozenset({
    "asarray", "ascontiguousarray", "empty", "zeros", "ones", "full", "stack", "concatenate",
    "where", "sqrt", "abs", "isfinite", "isnan", "minimum", "maximum", "nan", "inf",
    "float32", "float64", "int32", "int64", "bool_", "arange", "nonzero", "argmax", "argmin",
    "any", "all", "sum", "count_nonzero", "zeros_like", "full_like", "logical_and", "logical_not",
    "take_along_axis", "clip", "arccos", "cos", "sin", "einsum", "result_type", "newaxis", "array", "nanmean",
})


class DeviceError(ValueError):
    """The requested compute device is not available."""


def _cupy() -> ModuleType | None:
    try:
        import cupy  # noqa: F401
    except Exception:  # ImportError, or a broken CUDA install raising at import
        return None
    return cupy


def gpu_available() -> bool:
    """True when cupy imports and sees at least one CUDA device."""
    cp = _cupy()
    if cp is None:
        return False
    try:
        return cp.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no driver / no device
        return False


def select_device(device: str = "auto") -> ModuleType:
    """The array module for ``device``: ``auto`` picks cupy when a CUDA device is present."""
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "cpu":
        return np
    if gpu_available():
        return _cupy()
    if device == "gpu":
        raise DeviceError(
            "device 'gpu' requested but no CUDA device is usable (cupy missing or no GPU): "
            "install the 'gpu' extra (cupy) on a machine with an NVIDIA GPU, or use device 'auto'/'cpu'"
        )
    return np


def get_array_module(*arrays: Any) -> ModuleType:
    """cupy if any argument is a cupy array, else numpy (works without cupy installed)."""
    cp = _cupy() if any(type(a).__module__.startswith("cupy") for a in arrays) else None
    return cp if cp is not None else np


def to_numpy(a: Any) -> np.ndarray:
    """A numpy copy/view of ``a`` wherever it lives."""
    if type(a).__module__.startswith("cupy"):
        return a.get()
    return np.asarray(a)


def is_numpy(xp: ModuleType) -> bool:
    return xp is np
