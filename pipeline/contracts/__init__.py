"""The files passed between the workflow's stages: one reader and one writer each.

| file | module | writer (stage) | reader (stage) |
|---|---|---|---|
| ``pose2d/{cam}.npz`` | ``pose2d`` | detect | sync, triangulate |
| ``silhouette/{cam}.npz`` | ``silhouette`` | detect | analyze |
| ``sync.json`` | ``sync`` | sync | triangulate, report |
| ``pose3d.npz`` | ``pose3d`` | triangulate | analyze, report, export |
| ``kinematics.csv`` | ``kinematics`` | analyze | report |
| ``reps.json`` | ``reps`` | analyze | report (and a later session's report) |

Every reader checks what it reads and raises ``ContractError`` naming the file
and what is wrong (``MissingFileError`` when it does not exist, saying which
stage writes it). docs/data-contracts.md describes the contents.
"""
from __future__ import annotations

# NPZ_DAMAGE: the .npz readers turn *any* exception raised while numpy decodes the file into a ContractError
# naming it. Damaged bytes surface as BadZipFile, zlib.error, EOFError, NotImplementedError (zip version),
# SyntaxError or tokenize.TokenError (the array header is parsed as Python), MemoryError (a shape gone wild)
# and more: the list is numpy's and zipfile's, not ours to keep up to date.


class ContractError(ValueError):
    """A stage file is malformed; the message names the file and what is wrong."""


class MissingFileError(ContractError, FileNotFoundError):
    """A stage file does not exist; the message names it and the stage that writes it."""


class SessionInputError(ContractError):
    """A session's files do not fit together (too few cameras saw the athlete, a camera the calibration
    does not know); the message names the camera or file."""
