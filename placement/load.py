"""Read municipal tables and geodata into the frames of ``placement.schema`` (EPSG:4326).

CSV files are read as real municipal exports come: UTF-8 (with or without BOM) or cp1252,
``,`` or ``;`` separated (Danish Excel: ``;`` and decimal comma ``12,5``), header names in any
case. Each loader checks every cell and raises one :class:`~placement._errors.DataError` that
lists all problems of the file with the spreadsheet row (header = row 1) and column.
Geodata (GeoPackage layer or GeoJSON) is returned in EPSG:4326. Loading never writes anything.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS, Transformer

from placement import schema
from placement._errors import CRSError, DataError, Problem
from placement.crs import STORAGE_CRS, WORK_CRS, parse_crs
from placement.schema import Column
from placement.validate import (
    check_unique,
    cpr_problem,
    cpr_problems_in_frame,
    find_cpr,
    points_outside_boundary,
)

__all__ = [
    "load_areas",
    "load_boundary",
    "load_designated",
    "load_dwellings",
    "load_history",
    "load_households",
    "load_population",
    "read_table",
]

logger = logging.getLogger(__name__)

_TRUE = frozenset({"yes", "ja", "true", "1", "y", "j"})
_FALSE = frozenset({"no", "nej", "false", "0", "n"})
_INT_RE = re.compile(r"^[+-]?\d+(?:[.,]0+)?$")
_DOT_FLOAT_RE = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_COMMA_FLOAT_RE = re.compile(r"^[+-]?\d+,\d+$")
_DA_GROUPED_RE = re.compile(r"^[+-]?\d{1,3}(?:\.\d{3})+(?:,\d+)?$")  # 1.234,5
_EN_GROUPED_RE = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")  # 1,234.5
_ISO_DATE_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00)?)?$")
_DK_DATE_RE = re.compile(r"^(\d{1,2})[-.](\d{1,2})[-.](\d{4})$")
_COORDINATE_COLUMNS = frozenset({"lat", "lon", "x", "y", "anchor_lat", "anchor_lon"})
_DOT_OR_COMMA_NUMBER_RE = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")
_DATE_HELP = "write dates as YYYY-MM-DD (e.g. 2025-05-03); DD-MM-YYYY and DD.MM.YYYY also work"
#: Largest whole number a table holds (int64).
_INT_MAX = 2**63 - 1
#: Years a date may have (pandas' nanosecond timestamps cover 1677-09-21 to 2262-04-11).
_FIRST_YEAR, _LAST_YEAR = 1678, 2261
#: Year of an open end (9999-12-31): "no date" where the column may be empty.
_OPEN_END_YEAR = 9999
#: Id columns: pseudonymous ids need no markup, so only these characters are allowed.
_ID_COLUMNS = frozenset({"dwelling_id", "household_id", "person_id", "building_id", "area_id"})
_ID_RE = re.compile(r"^[\w\-.:/#][\w\-.:/# ]{0,63}$")
_ID_HELP = "ids are letters, digits and - _ . : / # or space, at most 64 characters"
_UTF8_HELP = (
    "save it as UTF-8: in Excel File > Save As > 'CSV UTF-8 (Comma delimited)'; in LibreOffice "
    "Save As > Text CSV with character set 'Unicode (UTF-8)'"
)


# --------------------------------------------------------------------------------------------
# CSV reading
# --------------------------------------------------------------------------------------------
@dataclass
class _Table:
    """A parsed CSV: values per schema column, spreadsheet rows, and the problems found."""

    file: str
    frame: pd.DataFrame
    rows: np.ndarray
    present: set[str]
    sep: str
    encoding: str
    problems: list[Problem] = field(default_factory=list)
    #: cells that were empty or failed to parse, per column (True = no value)
    missing: dict[str, np.ndarray] = field(default_factory=dict)

    def problem(self, row: int | None, column: str | None, message: str) -> None:
        self.problems.append(Problem(file=self.file, row=row, column=column, message=message))


def _decode(data: bytes) -> tuple[str, str]:
    """Decode file bytes: UTF-8 with BOM, UTF-8, else cp1252 (else latin-1)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


def _not_text_problem(data: bytes) -> tuple[int | None, str] | None:
    """(row, message) when the bytes are UTF-16/32 or hold NUL bytes, else None."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, f"the file is saved as UTF-16 (Unicode text), not as CSV text: {_UTF8_HELP}"
    nul = data.find(b"\x00")
    if nul < 0:
        return None
    head = data[:4096]
    # UTF-16 without a byte-order mark: every other byte of ASCII text is a NUL byte
    if head.count(b"\x00") * 3 >= len(head):
        return None, f"the file looks like UTF-16 text without a byte-order mark: {_UTF8_HELP}"
    row = data.count(b"\n", 0, nul) + 1
    return row, (
        "the file holds a NUL byte (a binary or damaged file, not CSV text): export it again "
        "as CSV"
    )


def _sniff_sep(text: str) -> str:
    """Return the separator of the header line: ``;``, tab or ``,``."""
    header = text.split("\n", 1)[0]
    counts = dict.fromkeys((";", "\t", ","), 0)
    quoted = False
    for char in header:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(counts, key=lambda s: (counts[s], s == ","))
    return best if counts[best] else ","


def _parse_float(raw: str, sep: str, column: str) -> tuple[float | None, str | None]:
    """Parse a number written with decimal point or (Danish) decimal comma."""
    text = raw.replace(" ", "").replace("\u00a0", "")
    if _DOT_FLOAT_RE.match(text):
        grouped = re.fullmatch(r"[+-]?\d{1,3}(?:\.\d{3})+", text)
        if sep == ";" and grouped and column not in _COORDINATE_COLUMNS:
            whole = text.replace(".", "")
            return None, (
                f"ambiguous number {raw!r} in a ';' file: is it {whole} or "
                f"{text.replace('.', ',')}? write {whole} (no thousands separator) or use a "
                "decimal comma"
            )
        return float(text), None
    if _DA_GROUPED_RE.match(text) and "." in text:
        return float(text.replace(".", "").replace(",", ".")), None
    if _COMMA_FLOAT_RE.match(text):
        if sep != ";" and re.fullmatch(r"[+-]?\d{1,3},\d{3}", text):
            return None, (
                f"ambiguous number {raw!r}: is the comma a decimal or a thousands separator? "
                "write it without thousands separator, with a decimal point (e.g. 1234 or 1.234)"
            )
        return float(text.replace(",", ".")), None
    if sep != ";" and _EN_GROUPED_RE.match(text) and "," in text:
        return float(text.replace(",", "")), None
    return None, f"expected a number (e.g. 12.5 or 12,5), got {raw!r}"


def _parse_int(raw: str) -> tuple[int | None, str | None]:
    text = raw.replace(" ", "")
    if _INT_RE.match(text):
        value = int(re.split(r"[.,]", text)[0])
        if abs(value) > _INT_MAX:
            return None, f"whole number {raw!r} is too large (at most {_INT_MAX:,}); check it"
        return value, None
    return None, f"expected a whole number (e.g. 3), got {raw!r}"


def _parse_date(raw: str, *, optional: bool = False) -> tuple[date | None, str | None]:
    """Parse a date; an open end (year 9999) is no date where the column may be empty."""
    value, err = _parse_date_text(raw)
    if value is None or _FIRST_YEAR <= value.year <= _LAST_YEAR:
        return value, err
    if value.year == _OPEN_END_YEAR:
        if optional:
            return None, None
        return None, (
            f"{raw!r} is an open end (no date), but this column needs a date: give the date or "
            "leave the row out"
        )
    return None, (
        f"date {raw!r} is outside the years {_FIRST_YEAR}-{_LAST_YEAR} that placement handles; "
        "check the year (an open end is 9999-12-31 or an empty cell)"
    )


def _parse_date_text(raw: str) -> tuple[date | None, str | None]:
    m = _ISO_DATE_RE.match(raw)
    if m:
        y, mo, d = (int(g) for g in m.groups())
    else:
        m = _DK_DATE_RE.match(raw)
        if not m:
            return None, f"expected a date, got {raw!r}: {_DATE_HELP}"
        d, mo, y = (int(g) for g in m.groups())
    try:
        return date(y, mo, d), None
    except ValueError:
        return None, f"{raw!r} is not a calendar date: {_DATE_HELP}"


def _parse_cell(raw: str, col: Column, sep: str) -> tuple[Any, str | None]:
    """Parse one non-empty cell; return (value, None) or (None, message)."""
    if col.kind == "str":
        if col.name in _ID_COLUMNS and not _ID_RE.match(raw):
            shown = raw if len(raw) <= 64 else raw[:60] + "..."
            return None, f"{col.name} {shown!r} has characters an id may not have: {_ID_HELP}"
        return raw, None
    if col.kind == "int":
        value, err = _parse_int(raw)
    elif col.kind == "float":
        value, err = _parse_float(raw, sep, col.name)
        if value is not None and not np.isfinite(value):
            value, err = None, f"number {raw!r} is too large to be a measurement; check it"
    elif col.kind == "date":
        return _parse_date(raw, optional=not col.required)
    elif col.kind == "bool":
        low = raw.lower()
        if low in _TRUE:
            return True, None
        if low in _FALSE:
            return False, None
        return None, f"expected yes or no (also ja/nej, true/false, 1/0), got {raw!r}"
    else:  # category
        low = raw.lower()
        if low in col.choices:
            return low, None
        return None, f"expected one of {', '.join(col.choices)}, got {raw!r}"
    if err is not None or value is None:
        return None, err
    if col.positive and value <= 0:
        return None, f"must be greater than 0, got {raw!r}"
    if col.minimum is not None and value < col.minimum:
        return None, f"must be at least {col.minimum:g}, got {raw!r}"
    return value, None


def _to_series(values: list[Any], col: Column, n: int) -> pd.Series:
    if col.kind == "int":
        if all(v is not None for v in values):
            return pd.Series(values, dtype="int64")
        return pd.Series([pd.NA if v is None else v for v in values], dtype="Int64")
    if col.kind == "float":
        return pd.Series([np.nan if v is None else v for v in values], dtype="float64")
    if col.kind == "date":
        return pd.Series(pd.to_datetime(pd.Series(values, dtype=object)), dtype="datetime64[ns]")
    if col.kind == "bool":
        if all(v is not None for v in values):
            return pd.Series(values, dtype="bool")
        return pd.Series([pd.NA if v is None else v for v in values], dtype="boolean")
    return pd.Series([pd.NA if v is None else v for v in values], dtype=object)


def _read_csv(
    path: Path,
    columns: Sequence[Column],
    *,
    required_values: Sequence[str] | None = None,
    rename: Mapping[str, str] | None = None,
) -> _Table:
    """Read and parse a CSV against ``columns``, collecting every problem.

    Parameters
    ----------
    path : Path
        The CSV file.
    columns : sequence of Column
        Schema of the table.
    required_values : sequence of str, optional
        Columns whose cells must not be empty; default: the required columns.
    rename : mapping, optional
        Schema column name → the file's own header for it (``[dwellings.columns]``).
    """
    file = path.name
    data = path.read_bytes()
    empty_frame = pd.DataFrame({c.name: _to_series([], c, 0) for c in columns})
    table = _Table(
        file=file,
        frame=empty_frame,
        rows=np.array([], dtype=int),
        present=set(),
        sep=",",
        encoding="",
        missing={c.name: np.zeros(0, dtype=bool) for c in columns},
    )
    not_text = _not_text_problem(data)
    if not_text is not None:
        table.problem(not_text[0], None, not_text[1])
        return table
    text, encoding = _decode(data)
    sep = _sniff_sep(text)
    table.sep, table.encoding = sep, encoding
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=sep))
    if not records or not any(cell.strip() for cell in records[0]):
        table.problem(1, None, "the file is empty or has no header row")
        return table
    header = _renamed([h.strip().lower() for h in records[0]], rename)
    body = [(i + 2, rec) for i, rec in enumerate(records[1:]) if any(c.strip() for c in rec)]
    known = {c.name: c for c in columns}
    if not any(name in known for name in header):
        # not this table (or not a CSV at all): say so without printing any of its content
        table.problem(
            1,
            None,
            f"the first row is not a header of this table: none of its {len(header)} name(s) is "
            f"a known column; expected columns: {', '.join(known)}. Check that dataset.toml "
            "names the right file",
        )
        return table

    # header: unknown, unnamed and duplicate columns; CPR numbers in the header itself
    positions: dict[str, int] = {}
    for j, name in enumerate(header):
        if name == "":
            if any(j < len(rec) and rec[j].strip() for _, rec in body):
                table.problem(1, f"column {j + 1}", "column has values but no name in the header")
            continue
        if find_cpr(name):
            table.problems.append(cpr_problem(file, 1, f"column {j + 1}", find_cpr(name) or ""))
        elif name in positions:
            table.problem(1, name, f"column {name!r} appears twice in the header")
        elif name not in known:
            table.problem(
                None,
                records[0][j].strip(),
                f"unknown column {records[0][j].strip()!r}; expected columns: "
                f"{', '.join(known)} (remove or rename it)",
            )
        else:
            positions[name] = j
    for col in columns:
        if col.required and col.name not in positions:
            table.problem(None, col.name, f"required column {col.name!r} is missing")
    table.present = set(positions)

    must_have = (
        set(required_values)
        if required_values is not None
        else {c.name for c in columns if c.required}
    )
    values: dict[str, list[Any]] = {c.name: [] for c in columns}
    last_row = body[-1][0] if body else None
    coordinate_positions = {j for name, j in positions.items() if name in _COORDINATE_COLUMNS}
    for row, rec in body:
        # CPR numbers in any cell of any column (also unknown ones) are refused first
        cpr_cols: set[int] = set()
        for j, cell in enumerate(rec):
            if j in coordinate_positions and _DOT_OR_COMMA_NUMBER_RE.match(cell.strip()):
                continue  # a number in a coordinate column is not a CPR number
            hit = find_cpr(cell)
            if hit:
                name = header[j] if j < len(header) and header[j] else f"column {j + 1}"
                table.problems.append(cpr_problem(file, row, name, hit))
                cpr_cols.add(j)
        if row == last_row and len(rec) < len(header):
            table.problem(
                row,
                None,
                f"the last row has {len(rec)} cells but the header has {len(header)} columns: "
                "the file looks cut off; export it again",
            )
        if len(rec) > len(header) and any(c.strip() for c in rec[len(header) :]):
            table.problem(
                row,
                None,
                f"row has {len(rec)} cells but the header has {len(header)} columns "
                f"(separator {sep!r}); check for an unquoted {sep!r} inside a value",
            )
        for col in columns:
            j = positions.get(col.name)
            raw = rec[j].strip() if j is not None and j < len(rec) else ""
            if j is None or j in cpr_cols:
                values[col.name].append(None)
                continue
            if raw == "":
                if col.name in must_have:
                    table.problem(row, col.name, f"{col.name} is empty; a value is required")
                values[col.name].append(None)
                continue
            value, err = _parse_cell(raw, col, sep)
            if err is not None:
                table.problem(row, col.name, err)
            values[col.name].append(value)
    n = len(body)
    table.rows = np.array([r for r, _ in body], dtype=int)
    table.missing = {
        name: np.array([v is None for v in vals], dtype=bool) for name, vals in values.items()
    }
    table.frame = pd.DataFrame(
        {c.name: _to_series(values[c.name], c, n) for c in columns}, index=pd.RangeIndex(n)
    )
    logger.debug("read %s: %d rows, encoding %s, separator %r", file, n, encoding, sep)
    return table


def _renamed(header: list[str], rename: Mapping[str, str] | None) -> list[str]:
    """Header with the file's own names replaced by the schema names of ``rename``."""
    if not rename:
        return header
    inverse = {str(v).strip().lower(): str(k).strip().lower() for k, v in rename.items()}
    return [inverse.get(h, h) for h in header]


def read_table(path: str | Path, columns: Sequence[Column]) -> pd.DataFrame:
    """Read a CSV into the columns of a schema table, checking every cell.

    Parameters
    ----------
    path : str or Path
        CSV file (UTF-8, UTF-8 with BOM or cp1252; ``,`` or ``;`` separated).
    columns : sequence of Column
        Schema, e.g. :data:`placement.schema.POPULATION`.

    Returns
    -------
    pandas.DataFrame
        One column per schema column (absent optional columns are all missing), index 0..n-1.

    Raises
    ------
    DataError
        Listing every problem (file, spreadsheet row, column).
    """
    table = _read_csv(Path(path), columns)
    if table.problems:
        raise DataError(table.problems)
    return table.frame


# --------------------------------------------------------------------------------------------
# Geodata
# --------------------------------------------------------------------------------------------
def _has_crs_member(path: Path) -> bool:
    """Whether a GeoJSON file carries a (pre-RFC 7946) ``crs`` member."""
    try:
        with path.open("rb") as fh:
            doc = json.load(fh)
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and "crs" in doc


def _read_geo(
    path: Path, *, layer: str | None, crs: str | None, what: str
) -> tuple[gpd.GeoDataFrame | None, list[Problem]]:
    """Read a GeoPackage layer or GeoJSON file and return it in EPSG:4326."""
    file = path.name
    try:
        gdf = gpd.read_file(path, layer=layer, engine="pyogrio")
    except pyogrio.errors.DataLayerError as err:
        layers = []
        try:
            layers = [str(name) for name, _ in pyogrio.list_layers(path)]
        except pyogrio.errors.DataSourceError:
            layers = []
        msg = f"cannot read {what} layer {layer!r}: {err}; layers in the file: {', '.join(layers)}"
        return None, [Problem(file, None, "layer", msg)]
    except (pyogrio.errors.DataSourceError, OSError) as err:
        return None, [Problem(file, None, None, f"cannot read {what} geodata: {err}")]
    is_geojson = path.suffix.lower() in {".geojson", ".json"}
    if crs is not None and (gdf.crs is None or (is_geojson and not _has_crs_member(path))):
        gdf = gdf.set_crs(parse_crs(crs), allow_override=True)
    elif gdf.crs is None:
        if is_geojson:
            gdf = gdf.set_crs(STORAGE_CRS)
        else:
            where = f"layer {layer!r}" if layer else "the file"
            msg = (
                f"{what}: {where} has no coordinate reference system; set one in the file or "
                'add crs = "EPSG:..." to its section of dataset.toml (a CRS is never guessed)'
            )
            raise CRSError.single(file, msg, column="crs")
    # CPR-shaped values in any attribute are refused, as in the CSV files
    problems: list[Problem] = cpr_problems_in_frame(gdf, file=file)
    empty = gdf.geometry.isna() | gdf.geometry.is_empty
    for i in np.flatnonzero(empty.to_numpy()):
        problems.append(Problem(file, int(i) + 1, "geometry", f"{what} feature has no geometry"))
    gdf = gdf[~empty.to_numpy()] if empty.any() else gdf
    if len(gdf) and gdf.crs is not None and gdf.crs.is_geographic:
        minx, miny, maxx, maxy = gdf.total_bounds
        if max(abs(minx), abs(maxx)) > 180 or max(abs(miny), abs(maxy)) > 90:
            msg = (
                f"{what}: coordinates ({minx:.0f}, {miny:.0f}) are not degrees although the CRS "
                f"is {gdf.crs.to_string()}; they look projected (e.g. EPSG:25832): set the right "
                'CRS in the file or with crs = "EPSG:25832" in dataset.toml'
            )
            raise CRSError.single(file, msg, column="crs")
    bad_type = ~gdf.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
    if what != "points" and bad_type.any():
        for i in np.flatnonzero(bad_type.to_numpy()):
            problems.append(
                Problem(
                    file,
                    int(i) + 1,
                    "geometry",
                    f"{what} must be polygons, got {gdf.geometry.iloc[i].geom_type}",
                )
            )
    invalid = ~gdf.geometry.is_valid
    if invalid.any():
        logger.info("%s: repaired %d invalid geometries with make_valid", file, int(invalid.sum()))
        gdf = gdf.copy()
        gdf.loc[invalid, gdf.geometry.name] = shapely.make_valid(gdf.geometry[invalid].to_numpy())
    return gdf.to_crs(STORAGE_CRS), problems


def _id_text(value: Any) -> str | None:
    """Text of an id read from geodata: 7001.0 → '7001'; missing → None."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _count_value(raw: Any) -> int | None:
    """Return a geodata attribute as a whole number >= 0 that fits int64, else None."""
    try:
        number = float(raw)
    except (TypeError, ValueError):
        return None
    if not np.isfinite(number) or number < 0 or not number.is_integer():
        return None
    value = int(raw) if isinstance(raw, int | np.integer) else int(number)
    return value if value <= _INT_MAX else None


def _join_key(value: str) -> str:
    """Key for matching area codes: digit-only codes match regardless of leading zeros."""
    return (value.lstrip("0") or "0") if value.isdigit() else value


#: Fields that hold a municipality code in national files (DAGI: KOMKODE).
CODE_FIELDS = ("komkode", "kommunekode", "municipality_code")


def _select_municipality(
    gdf: gpd.GeoDataFrame, code: str, code_field: str | None, *, file: str, what: str
) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """Keep the features of municipality ``code`` when the file has a code field.

    The field is ``code_field`` when given, else the first of :data:`CODE_FIELDS` present
    (case-insensitive). Without such a field the frame is returned unchanged. Codes match
    with or without leading zeros ("741" = "0741").
    """
    lower = {str(c).lower(): str(c) for c in gdf.columns if c != gdf.geometry.name}
    field = None
    if code_field:
        field = code_field if code_field in gdf.columns else lower.get(code_field.lower())
        if field is None:
            msg = (f"{what} have no field {code_field!r} to select municipality {code} by; "
                   f"fields: {', '.join(lower.values())}")
            return gdf, [Problem(file, None, code_field, msg)]
    else:
        field = next((lower[f] for f in CODE_FIELDS if f in lower), None)
    if field is None or not code:
        return gdf, []
    keys = [_join_key(_id_text(v) or "") for v in gdf[field]]
    keep = np.array([k == _join_key(code) for k in keys], dtype=bool)
    if not keep.any():
        found = sorted({str(_id_text(v)) for v in gdf[field]})[:10]
        msg = (f"no {what} with {field} = {code!r} (the municipality code in dataset.toml); "
               f"codes in the file include: {', '.join(found)}")
        return gdf.iloc[0:0], [Problem(file, None, field, msg)]
    if not keep.all():
        logger.info("%s: selected %d of %d %s by %s = %s", file, int(keep.sum()), len(gdf),
                    what, field, code)
    return gdf[keep], []


def load_boundary(
    path: str | Path,
    *,
    layer: str | None = None,
    crs: str | None = None,
    name: str = "",
    code: str = "",
    code_field: str | None = None,
) -> gpd.GeoDataFrame:
    """Load the municipality boundary as one (multi)polygon.

    Parameters
    ----------
    path : str or Path
        GeoPackage or GeoJSON; several features are dissolved into one.
    layer : str, optional
        GeoPackage layer.
    crs : str, optional
        CRS for a file that has none (e.g. ``"EPSG:25832"``).
    name, code : str
        Municipality name and 4-digit code, copied into the result.
    code_field : str, optional
        Field holding the municipality code (default: ``KOMKODE`` or another of
        :data:`CODE_FIELDS` when present). A national file (all municipalities) is cut to the
        features of ``code``; a file without such a field is used whole, and when it holds
        several features they are merged (``attrs["merged_features"]`` says how many).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, one row, columns ``name``, ``code``, ``geometry``.

    Raises
    ------
    DataError
        If the file cannot be read or holds no polygon; :class:`CRSError` if it has no CRS.
    """
    path = Path(path)
    gdf, problems = _read_geo(path, layer=layer, crs=crs, what="boundary")
    if gdf is not None:
        gdf, more = _select_municipality(gdf, code, code_field, file=path.name,
                                         what="boundary features")
        problems += more
    if gdf is not None and len(gdf) == 0 and not problems:
        problems.append(Problem(path.name, None, "geometry", "the boundary has no polygon"))
    if problems or gdf is None:
        raise DataError(problems)
    geom = shapely.make_valid(gdf.to_crs(WORK_CRS).geometry.union_all())
    out = gpd.GeoDataFrame({"name": [name], "code": [code]}, geometry=[geom], crs=WORK_CRS)
    out = out.to_crs(STORAGE_CRS)
    out.attrs["merged_features"] = len(gdf)
    return out


_STATBANK_LABEL = re.compile(r"^\s*(\d{3,5})\s+(.*[^\W\d_].*?)\s*$")


def _statbank_population(path: Path) -> pd.DataFrame | None:
    """Read a Statistikbanken export of population by parish, or None for another file.

    Such an export (``;``-separated, latin-1, from statistikbanken.dk, e.g. table KM1) has
    its own title and header lines, then one line per parish labelled ``"7240 Tranebjerg
    Sogn"`` with the count in Danish notation (``1.234``); with several periods the last
    column (the latest) is used. Lines of other shape (titles, footnotes) are skipped.
    """
    text, _ = _decode(path.read_bytes())
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return None
    first = [c.strip().strip('"').lower() for c in next(csv.reader([lines[0]], delimiter=";"))]
    if "area_id" in first or "area_id" in lines[0].lower():
        return None
    rows: list[tuple[int, str, str, str]] = []
    for i, line in enumerate(text.splitlines(), start=1):
        cells = [c.strip() for c in next(csv.reader([line], delimiter=";"), [])]
        labelled = [(j, m) for j, c in enumerate(cells) if (m := _STATBANK_LABEL.match(c))]
        values = [c for c in cells[labelled[-1][0] + 1:] if c] if labelled else []
        if labelled and values:
            m = labelled[-1][1]
            rows.append((i, m.group(1), m.group(2), values[-1]))
    if not rows:
        return None
    problems: list[Problem] = []
    ids: list[str] = []
    pops: list[int] = []
    lines_ok: list[int] = []
    for line_no, code, label, raw in rows:
        digits = raw.replace(".", "").replace(" ", "").replace("\xa0", "")
        if not digits.isdigit():
            problems.append(Problem(path.name, line_no, "population",
                                    f"population of {code} {label} must be a whole number "
                                    f"(Danish notation 1.234), got {raw!r}"))
            continue
        ids.append(code)
        pops.append(int(digits))
        lines_ok.append(line_no)
    problems += check_unique(ids, lines_ok, file=path.name, column="area_id")
    if problems:
        raise DataError(problems)
    logger.info("%s: Statistikbanken export, %d areas", path.name, len(ids))
    return pd.DataFrame({"area_id": pd.Series(ids, dtype=object),
                         "population": pd.Series(pops, dtype="int64"),
                         "integration_residents": pd.Series([pd.NA] * len(ids),
                                                            dtype="Int64")})


def load_population(path: str | Path) -> pd.DataFrame:
    """Load a population CSV (:data:`placement.schema.POPULATION`), one row per ``area_id``.

    A Statistikbanken export of population by parish (title lines, ``;``, latin-1, labels
    such as ``"7240 Tranebjerg Sogn"``, Danish thousands separators) is read as well.

    Raises
    ------
    DataError
        Listing every problem, including repeated ``area_id``.
    """
    path = Path(path)
    stat = _statbank_population(path)
    if stat is not None:
        return stat
    table = _read_csv(path, schema.POPULATION)
    frame = table.frame
    if "area_id" in table.present:
        table.problems += check_unique(
            list(frame["area_id"]), list(table.rows), file=table.file, column="area_id"
        )
    if table.problems:
        raise DataError(table.problems)
    return frame


def load_areas(
    path: str | Path,
    *,
    layer: str | None = None,
    id_field: str = "area_id",
    name_field: str = "name",
    population_file: str | Path | None = None,
    crs: str | None = None,
    municipality_code: str = "",
    code_field: str | None = None,
    boundary: gpd.GeoDataFrame | None = None,
    population_required: bool = True,
) -> gpd.GeoDataFrame:
    """Load the local areas (parishes or planning districts) with their population.

    Parameters
    ----------
    path : str or Path
        GeoPackage or GeoJSON with one polygon per area.
    layer : str, optional
        GeoPackage layer.
    id_field, name_field : str
        Attribute holding the area code (e.g. ``"SOGNEKODE"``) and name (``"SOGNENAVN"``).
    population_file : str or Path, optional
        CSV of :data:`placement.schema.POPULATION` keyed by area_id; without it the layer
        must have a ``population`` attribute. Codes that are not areas here are ignored.
    crs : str, optional
        CRS for a file that has none.
    municipality_code, code_field : str, optional
        Select the areas of this municipality from a national file by its code field
        (default ``KOMKODE`` when present, see :func:`load_boundary`).
    boundary : geopandas.GeoDataFrame, optional
        Without a code field, keep the areas that lie mostly (over half their area) inside
        this boundary.
    population_required : bool, default True
        False: areas without any population (no file, no field) load with population 0 and
        ``population_estimated`` True (the dataset then estimates it; see
        :func:`placement.dataset.load_dataset`).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, columns ``area_id`` (str), ``name`` (str), ``population`` (int),
        ``integration_residents`` (int, 0 when not given), ``population_estimated`` (bool),
        ``geometry``; sorted by area_id.

    Raises
    ------
    DataError
        Missing fields, repeated area ids, areas without population (all listed at once).
    """
    path = Path(path)
    file = path.name
    gdf, problems = _read_geo(path, layer=layer, crs=crs, what="local areas")
    if gdf is None:
        raise DataError(problems)
    n_read = len(gdf)
    gdf, more = _select_municipality(gdf, municipality_code, code_field, file=file,
                                     what="local areas")
    problems += more
    if len(gdf) == n_read and boundary is not None and len(gdf) and not more:
        gdf = _areas_inside(gdf, boundary)
    lower = {str(c).lower(): str(c) for c in gdf.columns if c != gdf.geometry.name}
    fields: dict[str, str | None] = {}
    for key, wanted in (("area_id", id_field), ("name", name_field)):
        found = wanted if wanted in gdf.columns else lower.get(wanted.lower())
        if found is None:
            problems.append(
                Problem(
                    file,
                    None,
                    wanted,
                    f"local areas have no field {wanted!r} (set "
                    f"{key.replace('area_', '')}_field in [areas] of dataset.toml); "
                    f"fields: {', '.join(lower.values())}",
                )
            )
        fields[key] = found
    if fields["area_id"] is None:
        raise DataError(problems)
    ids = [_id_text(v) for v in gdf[fields["area_id"]]]
    for i, v in enumerate(ids):
        if v is None or v == "":
            problems.append(Problem(file, i + 1, id_field, "area has no id"))
    problems += check_unique(ids, list(range(1, len(ids) + 1)), file=file, column=id_field)
    names = (
        ["" if pd.isna(v) else str(v) for v in gdf[fields["name"]]]
        if fields["name"] is not None
        else [""] * len(ids)
    )
    pop: list[Any] = [None] * len(ids)
    integ: list[Any] = [0] * len(ids)
    estimated = False
    if population_file is not None:
        pop_path = Path(population_file)
        try:
            pop_df = load_population(pop_path)
        except DataError as err:
            problems += err.problems
            pop_df = None
        if pop_df is not None:
            by_key = {_join_key(a): i for i, a in enumerate(pop_df["area_id"])}
            has_integ = pop_df["integration_residents"].notna()
            for k, area in enumerate(ids):
                j = by_key.get(_join_key(area)) if area else None
                if j is None:
                    problems.append(
                        Problem(
                            pop_path.name,
                            None,
                            "population",
                            f"no population for area {area!r} ({names[k]}); add a row with "
                            f"area_id {area!r}",
                        )
                    )
                    continue
                pop[k] = int(pop_df["population"].iloc[j])
                if has_integ.iloc[j]:
                    integ[k] = int(pop_df["integration_residents"].iloc[j])
            unknown = set(by_key) - {_join_key(a) for a in ids if a}
            if unknown:
                logger.info(
                    "%s: %d area codes are not areas here; ignored", pop_path.name, len(unknown)
                )
    elif lower.get("population") is None and not population_required:
        estimated = True
        pop = [0] * len(ids)
    else:
        pop_field = lower.get("population")
        integ_field = lower.get("integration_residents")
        for k, area in enumerate(ids):
            raw = gdf[pop_field].iloc[k] if pop_field else None
            if raw is None or pd.isna(raw):
                problems.append(
                    Problem(
                        file,
                        k + 1,
                        "population",
                        f"no population for area {area!r} ({names[k]}); add a population field "
                        "to the layer or population_file to [areas] in dataset.toml",
                    )
                )
                continue
            value = _count_value(raw)
            if value is None:
                problems.append(
                    Problem(
                        file,
                        k + 1,
                        "population",
                        f"population must be a whole number >= 0, got {raw!r}",
                    )
                )
                continue
            pop[k] = value
            if integ_field is not None and not pd.isna(gdf[integ_field].iloc[k]):
                raw_integ = gdf[integ_field].iloc[k]
                integ_value = _count_value(raw_integ)
                if integ_value is None:
                    problems.append(
                        Problem(
                            file,
                            k + 1,
                            "integration_residents",
                            f"integration_residents must be a whole number >= 0, got "
                            f"{raw_integ!r}",
                        )
                    )
                    continue
                integ[k] = integ_value
    if problems:
        raise DataError(problems)
    out = gpd.GeoDataFrame(
        {
            "area_id": pd.Series(ids, dtype=object),
            "name": pd.Series(names, dtype=object),
            "population": pd.Series(pop, dtype="int64"),
            "integration_residents": pd.Series(integ, dtype="int64"),
            "population_estimated": pd.Series([estimated] * len(ids), dtype=bool),
        },
        geometry=gdf.geometry.to_numpy(),
        crs=gdf.crs,
    )
    return out.sort_values("area_id", kind="stable").reset_index(drop=True)


def _areas_inside(areas: gpd.GeoDataFrame, boundary: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Areas that lie over half inside the boundary (a national file cut by overlap)."""
    work = areas.to_crs(WORK_CRS)
    muni = shapely.make_valid(boundary.to_crs(WORK_CRS).geometry.union_all())
    inside = work.geometry.intersection(muni).area.to_numpy()
    total = work.geometry.area.to_numpy()
    keep = inside > 0.5 * np.maximum(total, 1e-9)
    if keep.all() or not keep.any():
        return areas
    logger.info("kept %d of %d local areas that lie mostly inside the boundary",
                int(keep.sum()), len(areas))
    return areas[keep]


def load_designated(
    path: str | Path | None, *, layer: str | None = None, crs: str | None = None
) -> gpd.GeoDataFrame:
    """Load designated areas (vulnerable, parallel society, prevention, cap areas).

    Parameters
    ----------
    path : str or Path or None
        GeoPackage or GeoJSON with a ``kind`` attribute (one of
        :data:`placement.schema.DESIGNATED_KINDS`), optional ``designated_id`` and ``name``;
        None gives an empty frame.
    layer : str, optional
        GeoPackage layer.
    crs : str, optional
        CRS for a file that has none.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, columns ``designated_id`` (str; feature number when absent), ``name``,
        ``kind``, ``geometry``.
    """
    cols = list(schema.DESIGNATED_COLUMNS)
    if path is None:
        return gpd.GeoDataFrame(
            {c: pd.Series(dtype=object) for c in cols},
            geometry=gpd.GeoSeries([], crs=STORAGE_CRS),
            crs=STORAGE_CRS,
        )
    path = Path(path)
    file = path.name
    gdf, problems = _read_geo(path, layer=layer, crs=crs, what="designated areas")
    if gdf is None:
        raise DataError(problems)
    lower = {str(c).lower(): str(c) for c in gdf.columns if c != gdf.geometry.name}
    if "kind" not in lower:
        problems.append(
            Problem(
                file,
                None,
                "kind",
                f"designated areas need a 'kind' field ({', '.join(schema.DESIGNATED_KINDS)})",
            )
        )
        raise DataError(problems)
    kinds: list[str] = []
    for i, raw in enumerate(gdf[lower["kind"]]):
        kind = "" if raw is None or pd.isna(raw) else str(raw).strip().lower()
        if kind not in schema.DESIGNATED_KINDS:
            problems.append(
                Problem(
                    file,
                    i + 1,
                    "kind",
                    f"kind must be one of {', '.join(schema.DESIGNATED_KINDS)}, got {raw!r}",
                )
            )
        kinds.append(kind)
    if "designated_id" in lower:
        ids = [_id_text(v) or str(i + 1) for i, v in enumerate(gdf[lower["designated_id"]])]
    else:
        ids = [str(i + 1) for i in range(len(gdf))]
    problems += check_unique(ids, list(range(1, len(ids) + 1)), file=file, column="designated_id")
    names = (
        ["" if pd.isna(v) else str(v) for v in gdf[lower["name"]]]
        if "name" in lower
        else [""] * len(gdf)
    )
    if problems:
        raise DataError(problems)
    return gpd.GeoDataFrame(
        {"designated_id": ids, "name": names, "kind": kinds},
        geometry=gdf.geometry.to_numpy(),
        crs=gdf.crs,
    )


# --------------------------------------------------------------------------------------------
# Dwellings, households, history
# --------------------------------------------------------------------------------------------
def load_dwellings(
    path: str | Path,
    *,
    crs: str | None = None,
    boundary: gpd.GeoDataFrame | None = None,
    areas: gpd.GeoDataFrame | None = None,
    designated: gpd.GeoDataFrame | None = None,
    tolerance_m: float = 0.0,
    columns: Mapping[str, str] | None = None,
) -> gpd.GeoDataFrame:
    """Load the dwellings CSV (:data:`placement.schema.DWELLINGS`) as points.

    Parameters
    ----------
    path : str or Path
        CSV with lat/lon (WGS84) or x/y columns.
    crs : str, optional
        CRS of x/y (``[dwellings] crs`` in dataset.toml); required when the file has x/y.
    boundary : geopandas.GeoDataFrame, optional
        Municipality; dwellings outside it are problems (with a hint when lat/lon look
        swapped).
    areas : geopandas.GeoDataFrame, optional
        Local areas; gives ``area_id`` by spatial join in EPSG:25832 (a dwelling in no area is a
        problem).
    designated : geopandas.GeoDataFrame, optional
        Designated areas; gives ``designated_kinds``.
    tolerance_m : float
        Dwellings within this many metres of the boundary (or of an area) count as inside it.
    columns : mapping, optional
        Schema column → the file's own header (``[dwellings.columns]`` in dataset.toml), so
        that an export with its own headers loads unchanged.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, index 0..n-1, the schema columns (x/y dropped, lat/lon filled),
        ``area_id`` (str or NA without areas), ``designated_kinds`` (sorted, comma-joined,
        "" when none), geometry (Point).

    Raises
    ------
    DataError
        Listing every problem of the file.
    """
    path = Path(path)
    use_xy = False
    with_xy_cols = set(_renamed(sorted(_header_names(path)), columns))
    if not {"lat", "lon"} <= with_xy_cols and {"x", "y"} <= with_xy_cols:
        use_xy = True
    coord_cols = ("x", "y") if use_xy else ("lat", "lon")
    required = [c.name for c in schema.DWELLINGS if c.required] + list(coord_cols)
    table = _read_csv(path, schema.DWELLINGS, required_values=required, rename=columns)
    file, frame, rows = table.file, table.frame, table.rows
    present = table.present
    if present and not (set(coord_cols) <= present):
        have = sorted(present & {"lat", "lon", "x", "y"})
        table.problem(
            None,
            "lat" if "lat" not in present else "lon",
            "missing coordinates: give lat and lon columns (WGS84 degrees), or x and y with "
            f'crs = "EPSG:..." in [dwellings] of dataset.toml (found: {", ".join(have) or "none"})',
        )
    lon = frame["lon"].to_numpy(dtype=float).copy()
    lat = frame["lat"].to_numpy(dtype=float).copy()
    if use_xy:
        if crs is None:
            table.problem(
                None,
                "x",
                "the file has x/y coordinates but dataset.toml gives no crs for them: add "
                'crs = "EPSG:25832" (or the right code) to [dwellings]',
            )
        else:
            source = parse_crs(crs, key="dwellings.crs")
            tr = Transformer.from_crs(source, CRS.from_user_input(STORAGE_CRS), always_xy=True)
            lon, lat = tr.transform(frame["x"].to_numpy(float), frame["y"].to_numpy(float))
            lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    else:
        for name, lim in (("lat", 90), ("lon", 180)):
            vals = frame[name].to_numpy(dtype=float)
            for i in np.flatnonzero(np.abs(vals) > lim):
                table.problem(
                    int(rows[i]),
                    name,
                    f"{name} must be between -{lim} and {lim} degrees, got {vals[i]}",
                )
    column = "x/y" if use_xy else "lat/lon"
    if boundary is not None and len(frame):
        table.problems += points_outside_boundary(
            lon, lat, rows, boundary, file=file, column=column, tolerance_m=tolerance_m
        )
    if "dwelling_id" in present:
        table.problems += check_unique(
            list(frame["dwelling_id"]), list(rows), file=file, column="dwelling_id"
        )
    out = frame.drop(columns=["x", "y"])
    out["lat"], out["lon"] = lat, lon
    out["building_id"] = out["building_id"].astype(object)
    gdf = gpd.GeoDataFrame(out, geometry=gpd.points_from_xy(lon, lat), crs=STORAGE_CRS)
    gdf["area_id"] = pd.Series([pd.NA] * len(gdf), dtype=object)
    gdf["designated_kinds"] = ""
    finite = np.isfinite(lon) & np.isfinite(lat)
    if areas is not None and len(gdf):
        area_ids, misses = _join_areas(gdf[finite], areas, tolerance_m=tolerance_m)
        gdf.loc[finite, "area_id"] = area_ids
        outside_boundary = {p.row for p in table.problems if p.column == column}
        for i in misses:
            row = int(rows[np.flatnonzero(finite)[i]])
            if row not in outside_boundary:
                table.problem(
                    row,
                    column,
                    "the dwelling lies in none of the local areas; "
                    "check its coordinates and the areas layer",
                )
    if designated is not None and len(designated) and len(gdf):
        gdf["designated_kinds"] = _designated_kinds(gdf, designated)
    if table.problems:
        raise DataError(table.problems)
    cols = [c.name for c in schema.DWELLINGS if c.name not in ("x", "y")]
    gdf = gdf[[*cols, "area_id", "designated_kinds", "geometry"]]
    if len(gdf) == 0:
        logger.warning("%s has a header but no rows: 0 dwellings", file)
    logger.info("loaded %s dwellings from %s", f"{len(gdf):,}", file)
    return gdf


def _header_names(path: Path) -> set[str]:
    text, _ = _decode(path.read_bytes()[:65536])
    sep = _sniff_sep(text)
    first = next(csv.reader(io.StringIO(text.split("\n", 1)[0]), delimiter=sep), [])
    return {h.strip().lower() for h in first}


def _join_areas(
    points: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, *, tolerance_m: float
) -> tuple[list[Any], list[int]]:
    """Area id per point (first by area_id when on a border); positions of points in none."""
    pts = points[["geometry"]].to_crs(WORK_CRS).reset_index(drop=True)
    polys = areas[["area_id", "geometry"]].to_crs(WORK_CRS).sort_values("area_id", kind="stable")
    joined = gpd.sjoin(pts, polys, how="left", predicate="intersects")
    joined = joined[~joined.index.duplicated(keep="first")].sort_index()
    ids = list(joined["area_id"])
    misses = [i for i, v in enumerate(ids) if pd.isna(v)]
    if misses and tolerance_m > 0:
        near = gpd.sjoin_nearest(pts.iloc[misses], polys, how="left", max_distance=tolerance_m)
        near = near[~near.index.duplicated(keep="first")]
        for i, v in near["area_id"].items():
            if not pd.isna(v):
                ids[int(i)] = v
        misses = [i for i, v in enumerate(ids) if pd.isna(v)]
    return [pd.NA if pd.isna(v) else v for v in ids], misses


def _designated_kinds(points: gpd.GeoDataFrame, designated: gpd.GeoDataFrame) -> list[str]:
    pts = points[["geometry"]].to_crs(WORK_CRS).reset_index(drop=True)
    polys = designated[["kind", "geometry"]].to_crs(WORK_CRS)
    joined = gpd.sjoin(pts, polys, how="inner", predicate="intersects")
    kinds: dict[int, set[str]] = {}
    for i, kind in joined["kind"].items():
        kinds.setdefault(int(i), set()).add(str(kind))
    return [",".join(sorted(kinds.get(i, ()))) for i in range(len(pts))]


def load_households(path: str | Path, *, columns: Mapping[str, str] | None = None
                    ) -> pd.DataFrame:
    """Load the households CSV (:data:`placement.schema.HOUSEHOLDS`).

    ``columns`` maps schema columns to the file's own headers (``[households.columns]``).

    Returns
    -------
    pandas.DataFrame
        Schema columns (``anchor_lat``/``anchor_lon`` NaN when not given), plus ``persons``
        (adults + all children) and ``household_type`` (``single``, ``couple``,
        ``single_parent`` or ``family``).

    Raises
    ------
    DataError
        Listing every problem, including repeated ``household_id`` and an anchor with only
        one of its two coordinates.
    """
    table = _read_csv(Path(path), schema.HOUSEHOLDS, rename=columns)
    frame, rows, file = table.frame, table.rows, table.file
    if "household_id" in table.present:
        table.problems += check_unique(
            list(frame["household_id"]), list(rows), file=file, column="household_id"
        )
    lat_missing = table.missing["anchor_lat"]
    lon_missing = table.missing["anchor_lon"]
    for i in np.flatnonzero(lat_missing != lon_missing):
        # only when the given one parsed; a parse error is reported already
        col = "anchor_lon" if lon_missing[i] else "anchor_lat"
        table.problem(int(rows[i]), col, "give both anchor_lat and anchor_lon, or leave both empty")
    for name, lim in (("anchor_lat", 90), ("anchor_lon", 180)):
        vals = frame[name].to_numpy(dtype=float)
        for i in np.flatnonzero(np.abs(np.nan_to_num(vals)) > lim):
            table.problem(
                int(rows[i]),
                name,
                f"{name} must be between -{lim} and {lim} degrees, got {vals[i]}",
            )
    if table.problems:
        raise DataError(table.problems)
    children = frame["children_0_5"] + frame["children_6_16"] + frame["children_17_plus"]
    frame["persons"] = (frame["adults"] + children).astype("int64")
    single = frame["adults"] == 1
    kids = children > 0
    frame["household_type"] = np.select(
        [single & ~kids, ~single & ~kids, single & kids],
        ["single", "couple", "single_parent"],
        default="family",
    ).astype(object)
    if len(frame) == 0:
        logger.warning("%s has a header but no rows: 0 households", file)
    logger.info("loaded %s households from %s", f"{len(frame):,}", file)
    return frame


def load_history(path: str | Path) -> pd.DataFrame:
    """Load a residence history CSV (:data:`placement.schema.HISTORY`).

    Each row is one person (or household) with the placement and at most one move; a person
    may have several rows (one per move). ``integration_end`` is left missing when not given.

    Returns
    -------
    pandas.DataFrame
        All schema columns (NA where absent), index 0..n-1.

    Raises
    ------
    DataError
        Listing every problem: a row needs person_id or household_id, and dwelling_id or
        area_id; a move cannot precede the placement.
    """
    table = _read_csv(Path(path), schema.HISTORY)
    frame, rows = table.frame, table.rows
    for pair in (("person_id", "household_id"), ("dwelling_id", "area_id")):
        if not table.present:
            break  # the file itself was reported (empty, not text, not this table)
        if not (set(pair) & table.present):
            table.problem(
                None, pair[0], f"the file needs a {pair[0]} or a {pair[1]} column (or both)"
            )
            continue
        both_missing = table.missing[pair[0]] & table.missing[pair[1]]
        for i in np.flatnonzero(both_missing):
            table.problem(int(rows[i]), pair[0], f"give {pair[0]} or {pair[1]} (both are empty)")
    placed = frame["placement_date"]
    moved = frame["moved_out_date"]
    early = (moved < placed).to_numpy(dtype=bool)
    for i in np.flatnonzero(early):
        table.problem(
            int(rows[i]),
            "moved_out_date",
            f"moved_out_date {moved.iloc[i].date()} is before placement_date "
            f"{placed.iloc[i].date()}",
        )
    if table.problems:
        raise DataError(table.problems)
    for col in schema.HISTORY:
        if col.kind == "int":
            frame[col.name] = frame[col.name].astype("Int64")
    logger.info("loaded %s residence history rows from %s", f"{len(frame):,}", table.file)
    return frame
