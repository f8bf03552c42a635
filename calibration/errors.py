"""Errors a user can fix. Each message names the camera or file and what to do."""
from __future__ import annotations


class CalibrationError(ValueError):
    """Calibration input that cannot give a calibration; the message says why."""


class BoardSpecError(CalibrationError):
    """The board description does not match what the cameras see or is malformed."""


class BoardNotSeenError(CalibrationError):
    """A camera never (or too rarely) shows the board."""


class TooFewViewsError(CalibrationError):
    """Not enough board views to estimate a camera's intrinsics."""


class DisconnectedRigError(CalibrationError):
    """Some cameras never see the board at the same time as any other camera."""


class VideoLengthError(CalibrationError):
    """The cameras' videos have very different lengths (not the same recording?)."""


class VideoReadError(FileNotFoundError):
    """A camera's video or image folder is missing or cannot be decoded."""


class CalibrationFileError(CalibrationError):
    """A calibration file cannot be read (unknown format or missing fields)."""
