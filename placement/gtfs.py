"""GTFS feeds: validated loading with gtfs-kit, service dates, edits for what-if scenarios.

A feed is read with :func:`gtfs_kit.read_feed` after the zip has been checked table by table:
every problem (a missing required file or column, an id that does not exist, a time that does
not parse, times that run backwards within a trip) is collected and raised at once as a
:class:`~placement._errors.DataError` whose problems name ``feed.zip/table.txt``, the row as a
spreadsheet shows it (header = row 1) and the column.

The online path (:func:`fetch_gtfs`) downloads a feed by URL into the cache folder; it is refused
unless network access is switched on (``PLACEMENT_ALLOW_NETWORK=1``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import os
import re
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import gtfs_kit
import numpy as np
import pandas as pd

from placement import settings
from placement._errors import DataError, NetworkDisabledError, Problem

logger = logging.getLogger(__name__)

#: Tables a feed must contain (besides calendar.txt and/or calendar_dates.txt).
REQUIRED_TABLES: tuple[str, ...] = ("agency.txt", "stops.txt", "routes.txt", "trips.txt",
                                    "stop_times.txt")
#: Required columns per table.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "agency.txt": ("agency_name", "agency_url", "agency_timezone"),
    "stops.txt": ("stop_id",),
    "routes.txt": ("route_id", "route_type"),
    "trips.txt": ("route_id", "service_id", "trip_id"),
    "stop_times.txt": ("trip_id", "stop_id", "stop_sequence"),
    "calendar.txt": ("service_id", "monday", "tuesday", "wednesday", "thursday", "friday",
                     "saturday", "sunday", "start_date", "end_date"),
    "calendar_dates.txt": ("service_id", "date", "exception_type"),
    "shapes.txt": ("shape_id", "shape_pt_lat", "shape_pt_lon", "shape_pt_sequence"),
}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_TIME_RE = re.compile(r"^\s*(\d{1,3}):([0-5]\d):([0-5]\d)\s*$")
_DATE_RE = r"^\d{8}$"
#: Problems listed per table and column before the rest are summarised in one line.
_MAX_PER_COLUMN = 25


class _Collector:
    """Collects problems per table, at most ``_MAX_PER_COLUMN`` rows per (table, column, kind)."""

    def __init__(self, zip_name: str) -> None:
        self.zip_name = zip_name
        self.problems: list[Problem] = []

    def add(self, table: str, row: int | None, column: str | None, message: str) -> None:
        self.problems.append(Problem(f"{self.zip_name}/{table}", row, column, message))

    def rows(self, table: str, mask: pd.Series | np.ndarray, column: str, message: str,
             values: pd.Series | None = None) -> None:
        """Add one problem per row where ``mask`` is true (``values`` quoted in the message)."""
        idx = np.flatnonzero(np.asarray(mask, dtype=bool))
        for i in idx[:_MAX_PER_COLUMN]:
            shown = f" (found {values.iloc[i]!r})" if values is not None else ""
            self.add(table, int(i) + 2, column, message + shown)
        if len(idx) > _MAX_PER_COLUMN:
            self.add(table, None, column,
                     f"{len(idx) - _MAX_PER_COLUMN} more rows with the same problem: {message}")


def _read_tables(path: Path, col: _Collector) -> dict[str, pd.DataFrame]:
    """Read every .txt table of the zip as strings; report a bad zip or missing tables."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = {Path(n).name: n for n in zf.namelist() if n.endswith(".txt")}
            tables: dict[str, pd.DataFrame] = {}
            for short, full in sorted(names.items()):
                raw = zf.read(full)
                try:
                    frame = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False,
                                        encoding="utf-8-sig", skipinitialspace=True)
                except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as e:
                    col.add(short, None, None, f"cannot be read as CSV: {e}")
                    continue
                frame.columns = [c.strip() for c in frame.columns]
                tables[short] = frame
    except zipfile.BadZipFile:
        col.add("", None, None, "is not a zip file; a GTFS feed is a zip of .txt tables")
        return {}
    except OSError as err:
        col.add("", None, None, f"cannot be read: {err.strerror or err}")
        return {}
    for table in REQUIRED_TABLES:
        if table not in tables:
            col.add(table, None, None, "required table is missing from the feed")
    if "calendar.txt" not in tables and "calendar_dates.txt" not in tables:
        col.add("calendar.txt", None, None,
                "the feed has neither calendar.txt nor calendar_dates.txt; one is required")
    for table, frame in tables.items():
        for column in REQUIRED_COLUMNS.get(table, ()):
            if column not in frame.columns:
                col.add(table, 1, column, f"required column {column!r} is missing")
    return tables


def _time_seconds(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parse ``H:MM:SS`` (hours may exceed 24); return seconds (NaN if empty) and a bad mask."""
    text = values.astype(str).str.strip()
    parts = text.str.extract(_TIME_RE)
    ok = parts[0].notna().to_numpy()
    empty = (text == "").to_numpy()
    secs = np.full(len(text), np.nan)
    if ok.any():
        p = parts[ok].astype(int).to_numpy()
        secs[ok] = p[:, 0] * 3600 + p[:, 1] * 60 + p[:, 2]
    return secs, ~ok & ~empty


def _check_tables(tables: dict[str, pd.DataFrame], col: _Collector) -> None:
    """Row-level checks across tables; every problem is added to ``col``."""

    def has(table: str, *columns: str) -> bool:
        return table in tables and all(c in tables[table].columns for c in columns)

    def unique(table: str, column: str) -> None:
        if has(table, column):
            ids = tables[table][column].str.strip()
            col.rows(table, ids == "", column, f"{column} is empty")
            col.rows(table, ids.duplicated(keep="first") & (ids != ""), column,
                     f"duplicate {column}", ids)

    unique("stops.txt", "stop_id")
    unique("routes.txt", "route_id")
    unique("trips.txt", "trip_id")

    if has("stops.txt", "stop_lat", "stop_lon"):
        stops = tables["stops.txt"]
        kind = stops.get("location_type", pd.Series("", index=stops.index)).str.strip()
        needs = kind.isin(["", "0", "1", "2"])
        for column, lo, hi in (("stop_lat", -90, 90), ("stop_lon", -180, 180)):
            num = pd.to_numeric(stops[column].str.strip(), errors="coerce")
            bad = needs & (num.isna() | (num < lo) | (num > hi))
            col.rows("stops.txt", bad, column,
                     f"{column} must be a number between {lo} and {hi}", stops[column])
    elif has("stops.txt"):
        for column in ("stop_lat", "stop_lon"):
            if column not in tables["stops.txt"].columns:
                col.add("stops.txt", 1, column, f"required column {column!r} is missing")

    if has("routes.txt", "route_type"):
        rt = pd.to_numeric(tables["routes.txt"]["route_type"].str.strip(), errors="coerce")
        col.rows("routes.txt", rt.isna() | (rt < 0), "route_type",
                 "route_type must be a whole number (0 tram, 2 rail, 3 bus, ...)",
                 tables["routes.txt"]["route_type"])

    services: set[str] = set()
    if has("calendar.txt", *REQUIRED_COLUMNS["calendar.txt"]):
        cal = tables["calendar.txt"]
        services |= set(cal["service_id"].str.strip())
        for day in _WEEKDAYS:
            col.rows("calendar.txt", ~cal[day].str.strip().isin(["0", "1"]), day,
                     f"{day} must be 0 or 1", cal[day])
        for column in ("start_date", "end_date"):
            bad = ~cal[column].str.strip().str.match(_DATE_RE) | pd.to_datetime(
                cal[column].str.strip(), format="%Y%m%d", errors="coerce").isna()
            col.rows("calendar.txt", bad, column, f"{column} must be a date YYYYMMDD", cal[column])
        backwards = cal["start_date"].str.strip() > cal["end_date"].str.strip()
        col.rows("calendar.txt", backwards, "end_date", "end_date is before start_date")
    if has("calendar_dates.txt", *REQUIRED_COLUMNS["calendar_dates.txt"]):
        cd = tables["calendar_dates.txt"]
        services |= set(cd["service_id"].str.strip())
        bad = pd.to_datetime(cd["date"].str.strip(), format="%Y%m%d", errors="coerce").isna()
        col.rows("calendar_dates.txt", bad, "date", "date must be a date YYYYMMDD", cd["date"])
        col.rows("calendar_dates.txt", ~cd["exception_type"].str.strip().isin(["1", "2"]),
                 "exception_type", "exception_type must be 1 (added) or 2 (removed)",
                 cd["exception_type"])

    if has("trips.txt", "route_id", "service_id") and has("routes.txt", "route_id"):
        trips = tables["trips.txt"]
        routes = set(tables["routes.txt"]["route_id"].str.strip())
        col.rows("trips.txt", ~trips["route_id"].str.strip().isin(routes), "route_id",
                 "route_id is not in routes.txt", trips["route_id"])
        if services:
            col.rows("trips.txt", ~trips["service_id"].str.strip().isin(services), "service_id",
                     "service_id is in neither calendar.txt nor calendar_dates.txt",
                     trips["service_id"])

    if has("stop_times.txt", "trip_id", "stop_id", "stop_sequence"):
        st = tables["stop_times.txt"]
        if has("trips.txt", "trip_id"):
            known = set(tables["trips.txt"]["trip_id"].str.strip())
            col.rows("stop_times.txt", ~st["trip_id"].str.strip().isin(known), "trip_id",
                     "trip_id is not in trips.txt", st["trip_id"])
        if has("stops.txt", "stop_id"):
            known = set(tables["stops.txt"]["stop_id"].str.strip())
            col.rows("stop_times.txt", ~st["stop_id"].str.strip().isin(known), "stop_id",
                     "stop_id is not in stops.txt", st["stop_id"])
        seq = pd.to_numeric(st["stop_sequence"].str.strip(), errors="coerce")
        col.rows("stop_times.txt", seq.isna() | (seq < 0), "stop_sequence",
                 "stop_sequence must be a whole number >= 0", st["stop_sequence"])
        times: dict[str, np.ndarray] = {}
        for column in ("arrival_time", "departure_time"):
            if column in st.columns:
                secs, bad = _time_seconds(st[column])
                col.rows("stop_times.txt", bad, column,
                         f"{column} must be a time HH:MM:SS (hours may exceed 24 after midnight)",
                         st[column])
                times[column] = secs
        if "arrival_time" in times and "departure_time" in times:
            dep = np.where(np.isnan(times["departure_time"]), times["arrival_time"],
                           times["departure_time"])
            arr = np.where(np.isnan(times["arrival_time"]), dep, times["arrival_time"])
            frame = pd.DataFrame({"trip": st["trip_id"].str.strip(), "seq": seq,
                                  "arr": arr, "dep": dep, "pos": np.arange(len(st))})
            frame = frame.dropna(subset=["seq"]).sort_values(["trip", "seq"], kind="stable")
            prev_dep = frame.groupby("trip")["dep"].transform(
                lambda s: s.ffill().shift(1))
            back = (frame["arr"] < prev_dep).to_numpy()
            mask = np.zeros(len(st), dtype=bool)
            mask[frame["pos"].to_numpy()[back]] = True
            col.rows("stop_times.txt", mask, "arrival_time",
                     "the vehicle arrives before it left the previous stop of its trip")
            ends = frame.groupby("trip").agg(first=("pos", "first"), last=("pos", "last"))
            untimed = np.zeros(len(st), dtype=bool)
            for column in ("first", "last"):
                pos = ends[column].to_numpy()
                untimed[pos[np.isnan(dep[pos])]] = True
            col.rows("stop_times.txt", untimed, "departure_time",
                     "the first and last stop of a trip need arrival and departure times")


def _header_only_problems(tables: dict[str, pd.DataFrame], col: _Collector) -> None:
    """Add one located problem (row 2) per required table with a header and no rows."""
    calendars = [t for t in ("calendar.txt", "calendar_dates.txt") if t in tables]
    empty_calendar = bool(calendars) and all(not len(tables[t]) for t in calendars)
    for table in (*REQUIRED_TABLES, *(calendars if empty_calendar else ())):
        if table in tables and not len(tables[table]):
            col.add(table, 2, None, "the table has a header but no rows; a feed needs at least "
                    "one row here (was the export cut off or filtered to nothing?)")


def load_gtfs(
    path: str | Path,
    *,
    dist_units: str = "km",
    boundary: gpd.GeoDataFrame | None = None,
    buffer_m: float | None = None,
) -> gtfs_kit.Feed:
    """Read and check a GTFS zip.

    Parameters
    ----------
    path : str or Path
        The feed (a zip of GTFS ``.txt`` tables).
    dist_units : str
        Distance unit of ``shape_dist_traveled`` in the feed, passed to gtfs-kit.
    boundary : geopandas.GeoDataFrame, optional
        The municipality: when given, the feed is clipped on load to the stops within
        ``buffer_m`` of it and the trips serving them, and the clipped copy is cached
        (:func:`placement.gtfs_area.clip_gtfs`), so a national feed costs little more than a
        local one.
    buffer_m : float, optional
        Metres around the boundary (default :data:`placement.gtfs_area.CLIP_BUFFER_M`).

    Returns
    -------
    gtfs_kit.Feed
        The feed, with shapes when the zip has them.

    Raises
    ------
    DataError
        With every problem of the feed: not a zip, a required table or column missing,
        unknown ids, unparsable dates and times, trips whose times run backwards.
    """
    if boundary is not None:
        from placement import gtfs_area

        buffer = gtfs_area.CLIP_BUFFER_M if buffer_m is None else float(buffer_m)
        return gtfs_area.load_clipped_gtfs(path, boundary, buffer_m=buffer,
                                           dist_units=dist_units)
    path = Path(path)
    col = _Collector(path.name)
    if not path.is_file():
        raise DataError.single(path.name, f"file not found: {path}")
    tables = _read_tables(path, col)
    if not col.problems:
        _header_only_problems(tables, col)
    if not col.problems:
        _check_tables(tables, col)
    if col.problems:
        # the zip-level problems are named after the zip itself, without a trailing '/'
        raise DataError([Problem(p.file.rstrip("/"), p.row, p.column, p.message)
                         for p in col.problems])
    try:
        feed = gtfs_kit.read_feed(path, dist_units=dist_units)
    except Exception as err:  # gtfs-kit raises plain exceptions; give the user the file
        raise DataError.single(path.name, f"gtfs-kit could not read the feed: {err}") from err
    logger.info("read GTFS %s: %d stops, %d routes, %d trips", path.name, len(feed.stops),
                len(feed.routes), len(feed.trips))
    return feed


def service_date_range(feed: gtfs_kit.Feed) -> tuple[dt.date, dt.date]:
    """Return the first and last date on which any service runs.

    Parameters
    ----------
    feed : gtfs_kit.Feed
        A feed from :func:`load_gtfs`.

    Returns
    -------
    tuple of datetime.date
        First and last service date.

    Raises
    ------
    DataError
        When no service runs on any date.
    """
    dates = feed.get_dates()
    active = [d for d in dates if len(active_services(feed, d))]
    if not active:
        raise DataError([Problem("gtfs", None, "calendar.txt",
                                 "no service runs on any date of the feed's calendar")])
    return (dt.datetime.strptime(active[0], "%Y%m%d").date(),
            dt.datetime.strptime(active[-1], "%Y%m%d").date())


def active_services(feed: gtfs_kit.Feed, date: dt.date | str) -> list[str]:
    """Return the sorted service ids running on ``date`` (calendar and its exceptions).

    Parameters
    ----------
    feed : gtfs_kit.Feed
        A feed.
    date : datetime.date or str
        The day (``YYYY-MM-DD`` or ``YYYYMMDD`` as text).

    Returns
    -------
    list of str
        Service ids.
    """
    from placement.transit import active_service_ids

    return sorted(active_service_ids(feed, date))


def trips_on(feed: gtfs_kit.Feed, date: dt.date | str) -> pd.DataFrame:
    """Return the trips running on ``date`` (rows of ``feed.trips``).

    Parameters
    ----------
    feed : gtfs_kit.Feed
        A feed.
    date : datetime.date or str
        The day.

    Returns
    -------
    pandas.DataFrame
        The active trips.
    """
    services = set(active_services(feed, date))
    return feed.trips[feed.trips["service_id"].astype(str).isin(services)].copy()


def drop_routes(feed: gtfs_kit.Feed, route_ids: Sequence[str]) -> gtfs_kit.Feed:
    """Return a copy of the feed without the given routes (a bus line cut).

    Parameters
    ----------
    feed : gtfs_kit.Feed
        A feed.
    route_ids : sequence of str
        Routes to remove; each must exist.

    Returns
    -------
    gtfs_kit.Feed
        The edited feed (trips and stop times of the routes removed).

    Raises
    ------
    DataError
        When a route id is not in the feed.
    """
    _require_routes(feed, route_ids)
    keep = sorted(set(feed.routes["route_id"].astype(str)) - {str(r) for r in route_ids})
    return feed.restrict_to_routes(keep)


def thin_route(feed: gtfs_kit.Feed, route_id: str, share_removed: float) -> gtfs_kit.Feed:
    """Return a copy of the feed with a share of one route's trips removed (a line thinned).

    Trips are removed evenly over the day: of each route's trips sorted by first departure,
    every k-th is kept so that ``round(n * (1 - share_removed))`` remain, per service id.

    Parameters
    ----------
    feed : gtfs_kit.Feed
        A feed.
    route_id : str
        The route to thin; must exist.
    share_removed : float
        Share of its trips to remove, in [0, 1].

    Returns
    -------
    gtfs_kit.Feed
        The edited feed.
    """
    _require_routes(feed, [route_id])
    if not 0.0 <= share_removed <= 1.0:
        msg = f"share_removed must be between 0 and 1, got {share_removed}"
        raise ValueError(msg)
    trips = feed.trips
    first = (feed.stop_times.assign(_s=_time_seconds(feed.stop_times["departure_time"]
                                                     .fillna(""))[0])
             .groupby("trip_id")["_s"].min())
    ours = trips[trips["route_id"].astype(str) == str(route_id)].copy()
    ours["_first"] = ours["trip_id"].map(first)
    drop: list[str] = []
    for _, group in ours.sort_values(["_first", "trip_id"]).groupby("service_id", sort=True):
        n = len(group)
        keep_n = round(n * (1.0 - share_removed))
        keep_pos = set(np.unique(np.floor(np.arange(keep_n) * n / max(keep_n, 1)).astype(int)))
        drop += [t for i, t in enumerate(group["trip_id"].astype(str)) if i not in keep_pos]
    remaining = sorted(set(trips["trip_id"].astype(str)) - set(drop))
    return feed.restrict_to_trips(remaining)


def _require_routes(feed: gtfs_kit.Feed, route_ids: Sequence[str]) -> None:
    known = set(feed.routes["route_id"].astype(str))
    missing = [str(r) for r in route_ids if str(r) not in known]
    if missing:
        names = ", ".join(sorted(known)[:30])
        raise DataError([Problem("routes.txt", None, "route_id",
                                 f"route {m!r} is not in the feed (routes: {names})")
                         for m in missing])


def write_gtfs(feed: gtfs_kit.Feed, path: str | Path) -> Path:
    """Write a feed as a GTFS zip, atomically (temporary file, then rename).

    Parameters
    ----------
    feed : gtfs_kit.Feed
        The feed.
    path : str or Path
        Target ``.zip``.

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(suffix=".zip", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        feed.to_file(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def fetch_gtfs(url: str, *, cache_dir: str | Path | None = None) -> Path:
    """Download a GTFS feed by URL into the cache, or return the cached copy.

    Parameters
    ----------
    url : str
        Address of the feed's zip.
    cache_dir : str or Path, optional
        Folder of the cache; default ``<cache>/gtfs``.

    Returns
    -------
    Path
        The cached zip (checked with :func:`load_gtfs`).

    Raises
    ------
    NetworkDisabledError
        When the file is not cached and network access is off.
    """
    folder = Path(cache_dir) if cache_dir is not None else settings.cache_folder / "gtfs"
    target = folder / (hashlib.sha256(url.encode()).hexdigest()[:16] + ".zip")
    if target.is_file():
        return target
    if not settings.allow_network:
        msg = (f"{url} is not in the cache and network access is off; set "
               "PLACEMENT_ALLOW_NETWORK=1 or download the feed and name the file in dataset.toml")
        raise NetworkDisabledError(msg)
    import requests

    response = requests.get(url, timeout=settings.requests_timeout_s)
    response.raise_for_status()
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(suffix=".zip", dir=folder)
    with os.fdopen(fd, "wb") as fh:
        fh.write(response.content)
    tmp = Path(name)
    try:
        load_gtfs(tmp)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
