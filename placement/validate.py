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
    "cpr_problems_in_frame",
    "find_cpr",
    "mask_cpr",
    "points_outside_boundary",
]

# A CPR number as people write it: ddmmyy and a 4-digit serial. The date parts run together,
# or are separated by the same space, '.', '-' or '/' (01.01.90), or the year follows after a
# space (0101 90). The serial follows after an optional dash of any kind, '/', '.' or space,
# possibly with spaces around it (010190 - 1234). Not part of a longer number, and not the
# decimals of a number (11.0812345678).
_DASH = "\\-\u2010\u2011\u2012\u2013\u2014\u2212/."
_CPR_RE = re.compile(
    r"(?<![\d])(?<!\d[.,])"
    r"(?P<d>\d{2})(?:(?P<s>[ .\-/])(?P<m>\d{2})(?P=s)|(?P<m2>\d{2}) ?)(?P<y>\d{2})"
    rf"(?:[ \u00a0]*[{_DASH}][ \u00a0]*|[ \u00a0]?)"
    r"(?P<serial>\d{4})(?![\d])"
)


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

    CPR-shaped means a valid ``ddmmyy`` date and a four-digit serial, written together
    (``0101901234``) or with the separators people use: ``010190-1234``, ``010190 1234``,
    ``010190/1234``, ``010190.1234``, ``010190–1234`` (any dash), ``010190 - 1234``,
    ``01.01.90-1234``, ``0101 90 1234``. It must stand alone: part of a longer number, or the
    decimals of a number such as a longitude ``11.0812345678``, is not CPR-shaped.

    Parameters
    ----------
    text : str
        A cell value as read from a file, or any text about to be stored or exported.

    Returns
    -------
    str or None
        The matching substring.

    Examples
    --------
    >>> find_cpr("010190-1234")
    '010190-1234'
    >>> find_cpr("reason: CPR 01.01.90 - 1234")
    '01.01.90 - 1234'
    >>> find_cpr("H001") is None
    True
    >>> find_cpr("9912345678") is None  # 99-12-34 is no date
    True
    >>> find_cpr("11.0812345678") is None  # the decimals of a number
    True
    """
    for m in _CPR_RE.finditer(str(text)):
        dd, mm, yy = m.group("d"), m.group("m") or m.group("m2"), m.group("y")
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


def cpr_problems_in_frame(
    frame: pd.DataFrame, *, file: str, skip: Sequence[str] = (), first_row: int = 1
) -> list[Problem]:
    """Report every CPR-shaped value in the text and whole-number columns of a table.

    Used for the attributes of geodata (GeoPackage layers, GeoJSON properties), whose rows are
    features: the first feature is row ``first_row``.

    Parameters
    ----------
    frame : pandas.DataFrame
        The attributes (a geometry column is skipped).
    file : str
        File name for the problems.
    skip : sequence of str
        Columns not to check.
    first_row : int
        Row number of the first feature.

    Returns
    -------
    list of Problem
        One per cell, with the value masked (:func:`cpr_problem`).
    """
    problems: list[Problem] = []
    geometry = getattr(frame, "_geometry_column_name", None)
    for column in frame.columns:
        if column == geometry or column in skip:
            continue
        series = frame[column]
        if pd.api.types.is_float_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue  # a float is no CPR number (a CPR written as a number is whole)
        if isinstance(series.dtype, gpd.array.GeometryDtype):
            continue
        for i, value in enumerate(series.to_numpy()):
            if value is None or (isinstance(value, float) and np.isnan(value)):
                continue
            hit = find_cpr(str(value))
            if hit:
                problems.append(cpr_problem(file, first_row + i, str(column), hit))
    return problems


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
