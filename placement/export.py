"""Exports for case handlers and GIS users: proposals CSV and GeoPackage, written atomically.

Every file is first written to a temporary file in the target folder and then moved into place
with :func:`os.replace`, so a reader never sees a half-written file and a failed export leaves
any earlier file untouched.

The CSV is made for spreadsheets: UTF-8 with a byte-order mark (so Excel detects the encoding
and shows æ, ø, å), one row per household, ISO dates (``YYYY-MM-DD HH:MM:SS``, UTC). Danish
Excel expects ``;`` between fields and ``,`` as decimal mark: ``sep=";"`` selects both.
Text cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``,
tab or carriage return) get a leading ``'`` (:func:`neutralise_formulas`, OWASP's rule for CSV
injection); numbers stay numbers.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
#: First characters that make a spreadsheet cell a formula (OWASP CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# a written cell that carries the neutralising quote (undone by read_proposals_csv)
_QUOTED_RE = re.compile(r"^'+[=+\-@\t\r]")
# hidden temporary files and folders of this module: .<name>.<pid>-<hex>.part<suffix> / .run
_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)-[0-9a-f]{32}\.(?:part.*|run)$")


def _neutral_cell(value: object) -> object:
    if isinstance(value, str) and (value.startswith(FORMULA_TRIGGERS) or _QUOTED_RE.match(value)):
        return "'" + value
    return value


def neutralise_text(value: str) -> str:
    """Quote one text cell that a spreadsheet would run as a formula (see neutralise_formulas).

    Examples
    --------
    >>> neutralise_text("=HYPERLINK(1)"), neutralise_text("family")
    ("'=HYPERLINK(1)", 'family')
    """
    return str(_neutral_cell(value))


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy in which no text cell can run as a spreadsheet formula.

    A text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
    leading ``'`` (OWASP's rule against CSV injection), so Excel and LibreOffice show it as
    text. A cell that already begins with quotes and then one of these gets one more quote, so
    :func:`restore_formulas` gives back the original exactly. Numbers (also negative ones, in
    numeric columns or as numbers in a mixed column) are left as numbers.

    Parameters
    ----------
    frame
        Any table about to be written as CSV (index and column names are treated alike).

    Returns
    -------
    pandas.DataFrame
        The neutralised copy.

    Examples
    --------
    >>> out = neutralise_formulas(pd.DataFrame({"a": ["=1+1", "-2", "ok"], "b": [-2.5, 1, 3]}))
    >>> out["a"].tolist(), out["b"].tolist()
    (["'=1+1", "'-2", 'ok'], [-2.5, 1.0, 3.0])
    """
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(
            series
        ):
            continue
        out[column] = series.map(_neutral_cell, na_action="ignore").astype(series.dtype)
    if not pd.api.types.is_numeric_dtype(out.index):
        out.index = out.index.map(_neutral_cell)
    out.columns = [_neutral_cell(c) for c in out.columns]
    return out


def restore_formulas(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Undo :func:`neutralise_formulas` on text columns of a table read back from CSV.

    Parameters
    ----------
    frame
        The table as read.
    columns
        Text columns to restore; default every non-numeric column.

    Returns
    -------
    pandas.DataFrame
        A copy with the added quotes removed.
    """
    out = frame.copy()
    names = columns if columns is not None else [
        c for c in out.columns if not pd.api.types.is_numeric_dtype(out[c])
    ]
    for column in names:
        series = out[column]
        out[column] = series.map(
            lambda v: v[1:] if isinstance(v, str) and _QUOTED_RE.match(v) else v,
            na_action="ignore",
        ).astype(series.dtype)
    return out


def _temp_name(final: Path, kind: str) -> Path:
    return final.with_name(f".{final.name}.{os.getpid()}-{uuid.uuid4().hex}.{kind}")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid() or os.name != "posix":
        return True  # on Windows os.kill(pid, 0) would send Ctrl+C: never guess there
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # another user's process, or no way to tell: keep its files
    return True


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Remove hidden temporary files and folders that killed exports left in ``folder``.

    An export writes ``.<name>.<pid>-<hex>.part…`` (and a run ``.<name>.<pid>-<hex>.run/``)
    before moving it into place; a process killed in between leaves it behind, with household
    data in it. Those whose process no longer runs are removed.

    Parameters
    ----------
    folder
        Folder to clean.

    Returns
    -------
    list of pathlib.Path
        What was removed.
    """
    removed: list[Path] = []
    root = Path(folder)
    if not root.is_dir():
        return removed
    for entry in sorted(root.iterdir()):
        m = _TEMP_RE.match(entry.name)
        if m is None or _pid_alive(int(m.group("pid"))):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    if removed:
        logger.info("removed %d temporary file(s) left by an interrupted export in %s",
                    len(removed), root)
    return removed


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
    Temporary files that earlier, killed exports left in the folder are removed first
    (:func:`remove_stale_temporaries`).
    """
    final = Path(path)
    remove_stale_temporaries(final.parent)
    tmp = _temp_name(final, f"part{final.suffix}")
    try:
        yield tmp
        tmp.replace(final)  # os.replace: atomic within one file system
    finally:
        for leftover in (tmp, *(tmp.with_name(tmp.name + s) for s in _SIDECARS)):
            leftover.unlink(missing_ok=True)


def write_file_set(
    files: Mapping[str, str | bytes], manifest: str | Path, build_manifest: Any
) -> dict[str, Path]:
    """Write the files of one run as a set: no reader ever sees files of two runs together.

    Every file is first written into a hidden folder beside the targets. Then the old manifest
    is removed, the files are moved into place, and the new manifest, which names every file of
    the run with its SHA-256, is moved into place last. A run is complete exactly when its
    manifest exists and names the files beside it (:func:`check_file_set`): an interruption at
    any point leaves either the earlier complete set, or files without a manifest, never a new
    file beside an old manifest. Hidden temporary files of killed writers are removed first.

    Parameters
    ----------
    files
        File name (in the manifest's folder) to its content; text is written as UTF-8.
    manifest
        The manifest file (JSON), e.g. ``proposals.summary.json``.
    build_manifest
        Callable taking ``{name: sha256}`` and returning the manifest's text.

    Returns
    -------
    dict
        File name (and the manifest's name) to its path.
    """
    final_manifest = Path(manifest)
    folder = final_manifest.parent
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(folder)
    stage = _temp_name(final_manifest, "run")
    stage.mkdir()
    try:
        digests: dict[str, str] = {}
        for name, content in files.items():
            data = content.encode("utf-8") if isinstance(content, str) else content
            with (stage / name).open("wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            digests[name] = hashlib.sha256(data).hexdigest()
        text = build_manifest(digests)
        with (stage / final_manifest.name).open("w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        final_manifest.unlink(missing_ok=True)
        for name in files:
            (stage / name).replace(folder / name)
        (stage / final_manifest.name).replace(final_manifest)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    with contextlib.suppress(OSError):  # make the renames durable where the OS allows it
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return {**{name: folder / name for name in files}, final_manifest.name: final_manifest}


def check_file_set(manifest: str | Path, digests: Mapping[str, str]) -> list[str]:
    """Names of the files a run's manifest lists that are missing or belong to another run.

    Parameters
    ----------
    manifest
        The manifest written by :func:`write_file_set`.
    digests
        ``{name: sha256}`` as the manifest lists them.

    Returns
    -------
    list of str
        Empty when the set is complete and consistent.
    """
    folder = Path(manifest).parent
    bad = []
    for name, digest in sorted(digests.items()):
        path = folder / name
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            bad.append(name)
    return bad


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
        precision, empty cells for missing values, text that would run as a formula quoted
        (:func:`neutralise_formulas`).
    """
    if sep == _decimal_for(sep, decimal):
        msg = f"the separator and the decimal mark must differ, both are {sep!r}"
        raise ValueError(msg)
    table = proposals_table(proposals, dwellings, areas, status=status, run_id=run_id, terms=terms)
    final = Path(path)
    with atomic_path(final) as tmp:
        neutralise_formulas(table).to_csv(
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
    return restore_formulas(frame, [c for c in _TEXT_COLUMNS if c in frame.columns])


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
