"""Which person is the athlete: the session's ``athlete:`` setting, read once for detect and triangulate.

A session's ``athlete`` in the workflow config is the athlete's name, or a
mapping that also says how to tell the athlete from the other people in the
room when the default rule (the person doing the reps inside the capture
area) is not wanted::

    athlete: Anna                                        # name only: the default rule
    athlete: {name: Anna, position: [0.5, -0.3]}         # the person standing nearest this floor point (m) first
    athlete: {name: Anna, nearest_camera: cam2}          # the person nearest camera cam2
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np


class AthleteSettingError(ValueError):
    """The ``athlete:`` setting cannot be used; the message says what is wrong."""


@dataclass(frozen=True)
class AthleteHint:
    """How to find the athlete: ``position`` (floor x, y in metres) or ``nearest_camera``; neither = default rule."""
    position: tuple[float, float] | None = None
    nearest_camera: str | None = None

    @property
    def given(self) -> bool:
        return self.position is not None or self.nearest_camera is not None

    def describe(self) -> str:
        if self.position is not None:
            return f"the person nearest ({self.position[0]:.2f}, {self.position[1]:.2f}) m on the floor when first seen (athlete.position)"
        if self.nearest_camera is not None:
            return f"the person nearest camera {self.nearest_camera} (athlete.nearest_camera)"
        return "the person doing the reps inside the capture area (else: seen by the most cameras, nearest its centre)"

    def floor_target(self, cameras: Sequence) -> np.ndarray:
        """(x, y) the athlete is expected near: the position, the named camera's foot point, else the centre of
        the capture area (where the cameras' optical axes meet)."""
        from calibration.floor import camera_floor_xy, capture_centre

        if self.position is not None:
            return np.asarray(self.position, float)
        if self.nearest_camera is not None:
            names = [c.name for c in cameras]
            if self.nearest_camera not in names:
                raise AthleteSettingError(f"athlete.nearest_camera: camera '{self.nearest_camera}' is not calibrated "
                                          f"(cameras: {', '.join(names)})")
            return camera_floor_xy(cameras[names.index(self.nearest_camera)])
        return capture_centre(cameras)

    def as_dict(self) -> dict:
        return {k: v for k, v in (("position", None if self.position is None else list(self.position)),
                                  ("nearest_camera", self.nearest_camera)) if v is not None}


def athlete_hint(value: Any) -> AthleteHint:
    """The hint in a session's ``athlete`` value (a name, a mapping, or None)."""
    if value is None or isinstance(value, str):
        return AthleteHint()
    if isinstance(value, AthleteHint):
        return value
    if not isinstance(value, Mapping):
        raise AthleteSettingError(f"athlete: expected a name or a mapping with name/position/nearest_camera, got {value!r}")
    position, camera = value.get("position"), value.get("nearest_camera")
    if position is not None and camera is not None:
        raise AthleteSettingError("athlete: give position or nearest_camera, not both")
    if position is not None:
        pos = np.asarray(position, float)
        if pos.shape != (2,) or not np.isfinite(pos).all():
            raise AthleteSettingError(f"athlete.position: expected [x, y] in metres on the floor, got {position!r}")
        return AthleteHint(position=(float(pos[0]), float(pos[1])))
    return AthleteHint(nearest_camera=None if camera is None else str(camera))


def athlete_name(value: Any) -> str | None:
    """The athlete's name in a session's ``athlete`` value (a name or a mapping with ``name``)."""
    if isinstance(value, Mapping):
        return value.get("name")
    return value
