"""Exports for case handlers and GIS users: proposals CSV and GeoPackage, written atomically.

Every file is first written to a temporary file in the target folder and then moved into place
with :func:`os.replace`, so a reader never sees a half-written file and a failed export leaves
any earlier file untouched.

The CSV is made for spreadsheets: UTF-8 with a byte-order mark (so Excel detects the encoding
and shows æ, ø, å), one row per household, ISO dates (``YYYY-MM-DD HH:MM:SS``, UTC). Danish
Excel expects ``;`` between fields and ``,`` as decimal mark: ``sep=";"`` selects both.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import pandas as pd

from placement.crs import STORAGE_CRS

logger = logging.getLogger(__name__)

#: Columns of the proposals export before the score terms.
LEADING_COLUMNS = (
    "run_id",
    "household_id",
    "dwelling_id",
    "address",
    "area_id",
    "local_area",
    "score",
)
#: Columns of the proposals export after the score terms.
TRAILING_COLUMNS = (
    "status",
    "decided_by",
    "decided_at_utc",
    "decision_reason",
    "unplaced_reason",
)
#: Columns that are never score terms.
NOT_TERMS = frozenset(
    {*LEADING_COLUMNS, *TRAILING_COLUMNS, "decided_at", "persons", "locked", "kept", "no_data"}
)
#: Format of timestamps in the exports (UTC).
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
#: Layer names of the GeoPackage.
GPKG_LAYERS = ("proposals", "dwellings", "areas")
# Files SQLite-based writers (GeoPackage) may leave beside a database while writing it.
_SIDECARS = ("-journal", "-wal", "-shm")
_TEXT_COLUMNS = (
    "household_id",
    "dwelling_id",
    "address",
    "area_id",
    "local_area",
    "status",
    "decided_by",
    "decided_at_utc",
    "decision_reason",
    "unplaced_reason",
)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` when the block succeeds.

    Parameters
    ----------
    path
        Final file. Its folder must exist.

    Yields
    ------
    pathlib.Path
        Temporary file in the same folder, with the same suffix (the block writes it).

    Notes
    -----
    On any error (or interruption) the temporary file is removed and ``path`` is untouched.
    """
    final = Path(path)
    tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex}.part{final.suffix}")
    try:
        yield tmp
        tmp.replace(final)  # os.replace: atomic within one file system
    finally:
        for leftover in (tmp, *(tmp.with_name(tmp.name + s) for s in _SIDECARS)):
            leftover.unlink(missing_ok=True)


def table_terms(proposals: pd.DataFrame, terms: Sequence[str] | None = None) -> list[str]:
    """Return the score-term columns of a proposals frame.

    Parameters
    ----------
    proposals
        Proposals from the optimiser, a stored run, or :func:`proposals_table`.
    terms
        Term columns in the wanted order; ``None`` for every numeric column that is not one of
        the export's fixed columns (:data:`LEADING_COLUMNS`, :data:`TRAILING_COLUMNS`).

    Returns
    -------
    list of str
        Column names.
    """
    if terms is not None:
        missing = [t for t in terms if t not in proposals.columns]
        if missing:
            msg = f"term column(s) {', '.join(missing)} not in the proposals frame"
            raise KeyError(msg)
        return [str(t) for t in terms]
    return [
        str(c)
        for c in proposals.columns
        if c not in NOT_TERMS
        and pd.api.types.is_numeric_dtype(proposals[c])
        and not pd.api.types.is_bool_dtype(proposals[c])
    ]


def _ids(values: pd.Series) -> pd.Series:
    """Ids as text, NA kept (so "7" and 7 match)."""
    return values.astype("string")


def _dwelling_frame(dwellings: pd.DataFrame) -> pd.DataFrame:
    frame = dwellings
    if "dwelling_id" not in frame.columns:
        frame = frame.reset_index()
    return frame


def proposals_table(
    proposals: pd.DataFrame,
    dwellings: pd.DataFrame | None = None,
    areas: pd.DataFrame | None = None,
    *,
    status: pd.DataFrame | None = None,
    run_id: int | None = None,
    terms: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Build the case-handling table: one row per household, columns in export order.

    Parameters
    ----------
    proposals
        One row per household: ``household_id``, ``dwelling_id`` (NA when unplaced), ``score``,
        the score-term columns, ``unplaced_reason``. Columns already in the export (``address``,
        ``status``...) are kept when the matching argument is not given.
    dwellings
        Dwellings with ``dwelling_id`` (column or index), ``address`` and ``area_id``.
    areas
        Local areas with ``area_id`` and ``name``.
    status
        From :func:`placement.store.proposal_status`: ``household_id``, ``status``,
        ``decided_by``, ``decided_at`` (UTC), ``decision_reason``. Without it every household
        is ``proposed`` (or ``unplaced``).
    run_id
        Stored run the proposals belong to (empty when not given and not a column).
    terms
        Score-term columns (see :func:`table_terms`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`LEADING_COLUMNS`, the terms, :data:`TRAILING_COLUMNS`; numbers stay
        numbers, text columns are pandas ``string``, ``decided_at_utc`` is
        ``YYYY-MM-DD HH:MM:SS`` text.
    """
    term_columns = table_terms(proposals, terms)
    out = pd.DataFrame(index=range(len(proposals)))
    src = proposals.reset_index(drop=True)
    out["run_id"] = pd.array(
        [run_id] * len(src) if run_id is not None else src.get("run_id", [pd.NA] * len(src)),
        dtype="Int64",
    )
    out["household_id"] = _ids(src["household_id"])
    out["dwelling_id"] = _ids(src["dwelling_id"])

    if dwellings is not None:
        d = _dwelling_frame(dwellings)
        lookup = pd.DataFrame(
            {
                "dwelling_id": _ids(d["dwelling_id"]),
                "address": d["address"].astype("string") if "address" in d else pd.NA,
                "area_id": _ids(d["area_id"]) if "area_id" in d else pd.NA,
            }
        ).drop_duplicates("dwelling_id")
        joined = out[["dwelling_id"]].merge(lookup, on="dwelling_id", how="left")
        out["address"] = joined["address"].to_numpy()
        out["area_id"] = joined["area_id"].to_numpy()
    else:
        for column in ("address", "area_id"):
            out[column] = src.get(column, pd.NA)
    if areas is not None:
        names = dict(zip(_ids(areas["area_id"]), areas["name"].astype("string"), strict=True))
        out["local_area"] = [names.get(a, pd.NA) if pd.notna(a) else pd.NA for a in out["area_id"]]
    else:
        out["local_area"] = src.get("local_area", pd.NA)

    out["score"] = pd.to_numeric(src["score"]) if "score" in src else float("nan")
    for term in term_columns:
        out[term] = pd.to_numeric(src[term])

    if status is not None:
        s = status.assign(household_id=_ids(status["household_id"]))
        joined = out[["household_id"]].merge(s, on="household_id", how="left")
        out["status"] = joined["status"].to_numpy()
        out["decided_by"] = joined["decided_by"].to_numpy()
        stamps = pd.to_datetime(joined["decided_at"], utc=True)
        out["decided_at_utc"] = stamps.dt.strftime(TIMESTAMP_FORMAT).to_numpy()
        out["decision_reason"] = joined["decision_reason"].to_numpy()
    else:
        for column in ("status", "decided_by", "decided_at_utc", "decision_reason"):
            out[column] = src.get(column, pd.NA)
    unplaced = out["dwelling_id"].isna()
    missing_status = out["status"].isna()
    out.loc[missing_status & unplaced, "status"] = "unplaced"
    out.loc[missing_status & ~unplaced, "status"] = "proposed"
    out["unplaced_reason"] = src.get("unplaced_reason", pd.NA)
    for column in _TEXT_COLUMNS:
        out[column] = out[column].astype("string")
    # the terms that could not be measured ("no data"), when the proposals say
    no_data = ["no_data"] if "no_data" in src.columns else []
    if no_data:
        out["no_data"] = src["no_data"].astype("string")
    return out[[*LEADING_COLUMNS, *term_columns, *no_data, *TRAILING_COLUMNS]]


def _decimal_for(sep: str, decimal: str | None) -> str:
    if decimal is not None:
        return decimal
    return "," if sep == ";" else "."


def write_proposals_csv(
    proposals: pd.DataFrame,
    path: str | Path,
    *,
    sep: str = ",",
    decimal: str | None = None,
    dwellings: pd.DataFrame | None = None,
    areas: pd.DataFrame | None = None,
    status: pd.DataFrame | None = None,
    run_id: int | None = None,
    terms: Sequence[str] | None = None,
) -> Path:
    """Write the proposals as a spreadsheet-friendly CSV, atomically.

    Parameters
    ----------
    proposals
        Proposals from the optimiser or a stored run (see :func:`proposals_table`), or a table
        that :func:`proposals_table` already built.
    path
        CSV file to write (its folder must exist); replaced if present.
    sep : {",", ";"}
        Field separator; ``";"`` for Danish Excel.
    decimal
        Decimal mark; default ``","`` when ``sep=";"``, else ``"."``.
    dwellings, areas, status, run_id, terms
        As in :func:`proposals_table`.

    Returns
    -------
    pathlib.Path
        The written file: UTF-8 with BOM, header row, one row per household, numbers at full
        precision, empty cells for missing values.
    """
    if sep == _decimal_for(sep, decimal):
        msg = f"the separator and the decimal mark must differ, both are {sep!r}"
        raise ValueError(msg)
    table = proposals_table(proposals, dwellings, areas, status=status, run_id=run_id, terms=terms)
    final = Path(path)
    with atomic_path(final) as tmp:
        table.to_csv(
            tmp,
            sep=sep,
            decimal=_decimal_for(sep, decimal),
            index=False,
            encoding="utf-8-sig",
            lineterminator="\n",
        )
    logger.info("wrote %s proposals to %s", f"{len(table):,}", final)
    return final


def read_proposals_csv(
    path: str | Path, *, sep: str = ",", decimal: str | None = None
) -> pd.DataFrame:
    """Read a CSV written by :func:`write_proposals_csv` back into the table's types.

    Parameters
    ----------
    path
        CSV file.
    sep, decimal
        As given to :func:`write_proposals_csv`.

    Returns
    -------
    pandas.DataFrame
        Same columns and types as :func:`proposals_table`.
    """
    text = dict.fromkeys(_TEXT_COLUMNS, "string")
    frame = pd.read_csv(
        path,
        sep=sep,
        decimal=_decimal_for(sep, decimal),
        encoding="utf-8-sig",
        dtype={**text, "run_id": "Int64"},
        keep_default_na=False,
        na_values=[""],
        float_precision="round_trip",
    )
    return frame


def _points_for(dwelling_ids: pd.Series, dwellings: pd.DataFrame) -> gpd.GeoSeries:
    d = _dwelling_frame(dwellings)
    if isinstance(d, gpd.GeoDataFrame):
        geometry = d.geometry.to_crs(STORAGE_CRS)
    else:
        geometry = gpd.GeoSeries(gpd.points_from_xy(d["lon"], d["lat"]), crs=STORAGE_CRS)
    by_id = dict(zip(_ids(d["dwelling_id"]), geometry, strict=True))
    return gpd.GeoSeries(
        [by_id.get(i) if pd.notna(i) else None for i in dwelling_ids], crs=STORAGE_CRS
    )


def _for_gpkg(frame: pd.DataFrame) -> pd.DataFrame:
    """Plain column types the GeoPackage driver writes without surprises."""
    out = frame.copy()
    for column in out.columns:
        if column == getattr(out, "_geometry_column_name", None):
            continue
        dtype = out[column].dtype
        if isinstance(dtype, pd.StringDtype) or pd.api.types.is_object_dtype(dtype):
            out[column] = out[column].astype(object).where(out[column].notna(), None)
        elif isinstance(dtype, pd.DatetimeTZDtype):
            out[column] = out[column].dt.tz_convert("UTC").dt.tz_localize(None)
    return out


def write_proposals_gpkg(
    proposals: pd.DataFrame,
    dwellings: pd.DataFrame,
    areas: gpd.GeoDataFrame,
    path: str | Path,
    *,
    status: pd.DataFrame | None = None,
    run_id: int | None = None,
    terms: Sequence[str] | None = None,
) -> Path:
    """Write a GeoPackage with layers ``proposals``, ``dwellings`` and ``areas``, atomically.

    Parameters
    ----------
    proposals
        Proposals (see :func:`proposals_table`).
    dwellings
        Dwellings GeoDataFrame (or a frame with ``lat``/``lon``) with ``dwelling_id``,
        ``address``, ``area_id``.
    areas
        Local areas GeoDataFrame with ``area_id`` and ``name``.
    path
        ``.gpkg`` file to write (its folder must exist); replaced if present.
    status, run_id, terms
        As in :func:`proposals_table`.

    Returns
    -------
    pathlib.Path
        The GeoPackage, every layer in EPSG:4326. ``proposals`` has the CSV's columns and the
        proposed dwelling's point (no geometry for unplaced households).
    """
    table = proposals_table(proposals, dwellings, areas, status=status, run_id=run_id, terms=terms)
    layers = {
        "proposals": gpd.GeoDataFrame(
            _for_gpkg(table), geometry=_points_for(table["dwelling_id"], dwellings)
        ),
        "dwellings": _for_gpkg(_dwelling_gdf(dwellings)),
        "areas": _for_gpkg(gpd.GeoDataFrame(areas).to_crs(STORAGE_CRS)),
    }
    final = Path(path)
    with atomic_path(final) as tmp:
        for name, layer in layers.items():
            layer.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio")
    logger.info("wrote %s proposals, dwellings and areas to %s", f"{len(table):,}", final)
    return final


def _dwelling_gdf(dwellings: pd.DataFrame) -> gpd.GeoDataFrame:
    d = _dwelling_frame(dwellings)
    if isinstance(d, gpd.GeoDataFrame):
        return d.to_crs(STORAGE_CRS)
    return gpd.GeoDataFrame(d, geometry=gpd.points_from_xy(d["lon"], d["lat"]), crs=STORAGE_CRS)
