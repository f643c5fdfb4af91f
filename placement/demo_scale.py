"""A larger demo municipality: the bundled one with each dwelling and household repeated.

The review page, the map and the optimiser are measured at the size of a large Danish
municipality's year (thousands of dwellings) on data that is otherwise the demo's own: the same
streets, timetable, areas and residence history. Each dwelling is repeated ``dwelling_copies``
times as another flat of a new building a few metres away (so the building limit applies to
each copy on its own), and each household ``household_copies`` times with the same make-up and
arrival date. Ids stay pseudonymous (``D0001-02``, ``H0005-02``); the first copy keeps the
original id, so the original dataset is a part of the larger one.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pandas as pd

from placement._errors import ConfigError

__all__ = ["enlarge_dataset"]

#: Metres between a dwelling and its next copy (eastward, then northward in rows of four).
COPY_SPACING_M = 6.0


def _copy_id(value: str, k: int) -> str:
    return value if k == 0 else f"{value}-{k + 1:02d}"


def enlarge_dataset(source: str | Path, out: str | Path, *, dwelling_copies: int = 12,
                    household_copies: int = 4) -> Path:
    """Write a copy of a dataset folder with its dwellings and households repeated.

    Parameters
    ----------
    source
        A dataset folder (``dataset.toml`` with ``dwellings.csv`` and ``households.csv``, as
        the bundled demo).
    out
        Folder to write (created; an existing folder is replaced only when it holds a
        ``dataset.toml``, so no other folder is ever emptied by mistake).
    dwelling_copies, household_copies
        How many times each dwelling and each household appears (1 or more).

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    ConfigError
        A copy count below 1, a source without the two tables, or an ``out`` folder that holds
        other files.
    """
    src, dst = Path(source), Path(out)
    if dwelling_copies < 1 or household_copies < 1:
        msg = "dwelling_copies and household_copies must be 1 or more"
        raise ConfigError(msg)
    for name in ("dataset.toml", "dwellings.csv", "households.csv"):
        if not (src / name).is_file():
            msg = f"{src / name}: not found (enlarge_dataset needs a demo-style dataset folder)"
            raise ConfigError(msg)
    if dst.exists():
        if not (dst / "dataset.toml").is_file() or dst.resolve() == src.resolve():
            msg = f"{dst}: exists and is not a dataset folder this function wrote; choose another"
            raise ConfigError(msg)
        shutil.rmtree(dst)
    shutil.copytree(src, dst)

    dwellings = pd.read_csv(src / "dwellings.csv", dtype=str, keep_default_na=False)
    parts = []
    for k in range(dwelling_copies):
        part = dwellings.copy()
        part["dwelling_id"] = [_copy_id(v, k) for v in part["dwelling_id"]]
        if "building_id" in part.columns:
            part["building_id"] = [_copy_id(v, k) if v else v for v in part["building_id"]]
        if k:
            east, north = (k % 4) * COPY_SPACING_M, (k // 4) * COPY_SPACING_M
            lat = pd.to_numeric(part["lat"], errors="coerce")
            lon = pd.to_numeric(part["lon"], errors="coerce")
            part["lat"] = (lat + north / 111_320.0).map(
                lambda v: "" if pd.isna(v) else f"{v:.7f}")
            part["lon"] = (lon + east / (111_320.0 * math.cos(math.radians(55.5)))).map(
                lambda v: "" if pd.isna(v) else f"{v:.7f}")
            part["address"] = [f"{a} (bolig {k + 1})" if a else a for a in part["address"]]
        parts.append(part)
    pd.concat(parts, ignore_index=True).to_csv(dst / "dwellings.csv", index=False)

    households = pd.read_csv(src / "households.csv", dtype=str, keep_default_na=False)
    parts = []
    for k in range(household_copies):
        part = households.copy()
        part["household_id"] = [_copy_id(v, k) for v in part["household_id"]]
        parts.append(part)
    pd.concat(parts, ignore_index=True).to_csv(dst / "households.csv", index=False)
    return dst
