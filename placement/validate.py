"""Checks on input rows: CPR numbers, duplicate ids, coordinates inside the municipality.

Every check returns a list of :class:`~placement._errors.Problem` (never raises), so that a
loader can collect the problems of a whole file and raise one
:class:`~placement._errors.DataError`. The dataset-level report is
:func:`placement.dataset.validate_dataset`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd

from placement._errors import Problem
from placement.crs import STORAGE_CRS, WORK_CRS

__all__ = [
    "check_unique",
    "cpr_problem",
    "find_cpr",
    "mask_cpr",
    "points_outside_boundary",
]

# ddmmyy-xxxx, or ten digits in a row, not part of a longer number.
_CPR_RE = re.compile(r"(?<![\d])(\d{2})(\d{2})(\d{2})(-?)(\d{4})(?![\d])")


def _valid_ddmmyy(dd: str, mm: str, yy: str) -> bool:
    """Whether ``dd mm yy`` is a calendar date in some century (1900s or 2000s)."""
    for century in (1900, 2000):
        try:
            date(century + int(yy), int(mm), int(dd))
        except ValueError:
            continue
        return True
    return False


def find_cpr(text: str) -> str | None:
    """Return the CPR-shaped part of ``text``, or None.

    CPR-shaped means ``ddmmyy-xxxx`` or ten digits whose first six form a valid ``ddmmyy``
    date, standing alone (not part of a longer number).

    Parameters
    ----------
    text : str
        A cell value as read from a file.

    Returns
    -------
    str or None
        The matching substring.

    Examples
    --------
    >>> find_cpr("010190-1234")
    '010190-1234'
    >>> find_cpr("H001") is None
    True
    >>> find_cpr("9912345678") is None  # 99-12-34 is no date
    True
    """
    for m in _CPR_RE.finditer(text):
        dd, mm, yy = m.group(1), m.group(2), m.group(3)
        if _valid_ddmmyy(dd, mm, yy):
            return m.group(0)
    return None


def mask_cpr(value: str) -> str:
    """Mask the last four digits of a CPR-shaped value: ``'010190-1234'`` → ``'010190-****'``.

    Examples
    --------
    >>> mask_cpr("0101901234")
    '010190****'
    """
    return value[:-4] + "****"


def cpr_problem(file: str, row: int | None, column: str | None, value: str) -> Problem:
    """Problem for a cell that holds a CPR-shaped value (never echoes the full value)."""
    masked = mask_cpr(value)
    msg = (
        f"value looks like a CPR number ({masked!r}); placement holds pseudonymous ids only. "
        "Replace it with a pseudonymous id (for example H001) and keep the key that links ids "
        "to persons outside this tool"
    )
    return Problem(file=file, row=row, column=column, message=msg)


def check_unique(
    values: Sequence[object], rows: Sequence[int], *, file: str, column: str
) -> list[Problem]:
    """Report every repeated value of an id column (at the repeated row).

    Parameters
    ----------
    values : sequence
        The ids, in file order; missing ids (None or NA) are skipped.
    rows : sequence of int
        Spreadsheet row of each value (header is row 1).
    file, column : str
        Where the ids come from.

    Returns
    -------
    list of Problem
        One problem per repeated occurrence, naming the row of the first one.
    """
    first: dict[object, int] = {}
    problems: list[Problem] = []
    for value, row in zip(values, rows, strict=True):
        if pd.isna(value):  # type: ignore[arg-type]
            continue
        if value in first:
            msg = (
                f"duplicate {column} {value!r} (first used in row {first[value]}); "
                "ids must be unique"
            )
            problems.append(Problem(file=file, row=row, column=column, message=msg))
        else:
            first[value] = row
    return problems


def points_outside_boundary(
    lon: np.ndarray,
    lat: np.ndarray,
    rows: Sequence[int],
    boundary: gpd.GeoDataFrame,
    *,
    file: str,
    column: str = "lat/lon",
    tolerance_m: float = 0.0,
) -> list[Problem]:
    """Report points (EPSG:4326) that lie outside the municipality boundary.

    When a point is outside but the point with lat and lon exchanged is inside, the message
    says that lat and lon look swapped.

    Parameters
    ----------
    lon, lat : numpy.ndarray
        Coordinates in degrees (EPSG:4326); NaN entries are skipped.
    rows : sequence of int
        Spreadsheet row of each point.
    boundary : geopandas.GeoDataFrame
        The municipality (any CRS; measured in EPSG:25832).
    file, column : str
        Where the points come from.
    tolerance_m : float
        Points within this many metres of the boundary count as inside.

    Returns
    -------
    list of Problem
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    ok = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    area = boundary.to_crs(WORK_CRS).geometry.union_all()
    if tolerance_m > 0:
        area = area.buffer(tolerance_m)

    def inside(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        pts = gpd.GeoSeries(gpd.points_from_xy(x, y), crs=STORAGE_CRS).to_crs(WORK_CRS)
        return pts.covered_by(area).to_numpy(dtype=bool)

    problems: list[Problem] = []
    if not ok.any():
        return problems
    idx = np.flatnonzero(ok)
    is_in = inside(lon[idx], lat[idx])
    out = idx[~is_in]
    if out.size:
        swapped_ok = np.abs(lon[out]) <= 90
        swapped_in = np.zeros(out.size, dtype=bool)
        if swapped_ok.any():
            swapped_in[swapped_ok] = inside(lat[out][swapped_ok], lon[out][swapped_ok])
        pts = gpd.GeoSeries(gpd.points_from_xy(lon[out], lat[out]), crs=STORAGE_CRS)
        dist_km = pts.to_crs(WORK_CRS).distance(area).to_numpy() / 1000.0
        for k, i in enumerate(out):
            where = f"lat {lat[i]:.6f}, lon {lon[i]:.6f}"
            if swapped_in[k]:
                msg = (
                    f"point ({where}) lies outside the municipality, but inside it with the two "
                    "numbers exchanged: lat and lon look swapped; lat is the north-south "
                    "coordinate (about 54.5-57.8 in Denmark), lon the east-west one (8-15.2)"
                )
            else:
                msg = (
                    f"point ({where}) lies outside the municipality boundary "
                    f"({dist_km[k]:.1f} km from it); check the coordinates"
                )
            problems.append(Problem(file=file, row=int(rows[i]), column=column, message=msg))
    return problems
