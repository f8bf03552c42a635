"""``kinematics.csv``: per-frame spine points, hip centres, joint angles and centre of mass (written by analyze).

One row per pose3d frame; the columns are those of
``pipeline.analyze.kinematics.compute_kinematics`` (docs/data-contracts.md).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

from pipeline.common.atomic import write_text
from pipeline.contracts import ContractError, MissingFileError

# What every reader may rely on.
REQUIRED_COLUMNS = (
    "frame", "t", "hip_flex", "knee_flex", "trunk_incl", "spine_angle", "trunk_length_rel",
    "head_x", "head_y", "head_z", "upper_back_x", "upper_back_y", "upper_back_z",
    "sacrum_x", "sacrum_y", "sacrum_z", "facing_x", "facing_y",
)


def write_kinematics(path: str | Path, kin: pd.DataFrame) -> Path:
    """Write the table atomically (``standing`` as 0/1)."""
    missing = [c for c in REQUIRED_COLUMNS if c not in kin.columns]
    if missing:
        raise ContractError(f"{path}: the kinematics table lacks the columns {missing}")
    out = kin.copy()
    if "standing" in out.columns:
        out["standing"] = out["standing"].astype(int)
    write_text(path, out.to_csv(index=False, float_format="%.6g"))
    return Path(path)


def read_kinematics(path: str | Path, columns: Sequence[str] | None = None, *, frames: int | None = None) -> pd.DataFrame:
    """Read the table (only ``columns`` if given) and check it; ``frames``: the row count it must have."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"'{path}' is missing: the analysis stage writes it; run it before the report")
    try:
        kin = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ContractError(f"'{path}' is not a kinematics table: {exc}") from None
    wanted = REQUIRED_COLUMNS if columns is None else tuple(columns)
    missing = [c for c in wanted if c not in kin.columns]
    if missing:
        raise ContractError(f"'{path}' lacks the columns {missing} (see docs/data-contracts.md)")
    if frames is not None and len(kin) != frames:
        raise ContractError(f"'{path}' has {len(kin)} rows but pose3d.npz has {frames} frames; rerun the analysis")
    return kin if columns is None else kin[list(columns)]
