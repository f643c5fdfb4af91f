"""A feed and the municipality: clip a national feed, read stop lists, warn about coverage.

* :func:`clip_gtfs` cuts a feed (for example Rejseplanen's national GTFS, about 50,000 stops)
  down to the stops within the municipality plus a buffer and the trips that serve them, and
  caches the clipped zip in ``settings.cache_folder / "gtfs_clip"``, so that a national feed
  costs little more than a local one. :func:`placement.gtfs.load_gtfs` calls it when given a
  boundary.
* :func:`load_stop_list` reads stops without a timetable (a GTFS ``stops.txt`` alone, a zip
  holding only ``stops.txt``, or a stop list CSV such as Rejseplanen's stop list): enough for
  the walk to the nearest stop; the service level stays unknown.
* :func:`gtfs_warnings` lists what ``placement validate`` should tell about a feed: stops
  outside the municipality, a calendar that does not cover the arrival and planning dates, no
  feed at all.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
import os
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from placement import settings
from placement._errors import DataError, Problem
from placement.crs import STORAGE_CRS, WORK_CRS

if TYPE_CHECKING:
    import gtfs_kit

logger = logging.getLogger(__name__)

#: Stops this far outside the municipality are kept when a feed is clipped, metres. It covers
#: the walk to and from stops (1,200 m), changes on foot (400 m) and places just across the
#: border, with room for journeys that leave the municipality and come back.
CLIP_BUFFER_M = 5_000.0
#: Bump when the clipping changes, so cached clipped feeds are rebuilt.
CLIP_VERSION = "1"
#: Columns accepted for a stop list CSV (lower case), first match wins.
STOP_LIST_ALIASES: dict[str, tuple[str, ...]] = {
    "stop_id": ("stop_id", "id", "stop_nr", "stopnummer", "nr"),
    "stop_name": ("stop_name", "name", "stopnavn", "navn"),
    "stop_lat": ("stop_lat", "lat", "latitude", "breddegrad"),
    "stop_lon": ("stop_lon", "lon", "lng", "longitude", "laengdegrad", "længdegrad"),
    "x": ("x_utm32", "x", "utm_x", "easting"),
    "y": ("y_utm32", "y", "utm_y", "northing"),
}


# --------------------------------------------------------------------------------------------
# clipping a feed to the municipality
# --------------------------------------------------------------------------------------------
def _area(boundary: gpd.GeoDataFrame, buffer_m: float) -> Any:
    area = boundary.to_crs(WORK_CRS).geometry.union_all()
    return area.buffer(buffer_m) if buffer_m > 0 else area


def _points_in(area: Any, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    ok = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    # a cheap box test first, so that only candidates of a national list are projected
    x0, y0, x1, y1 = gpd.GeoSeries([area], crs=WORK_CRS).to_crs(STORAGE_CRS).total_bounds
    pad = 0.05  # degrees, more than the curvature of a municipality's box
    ok &= (lon >= x0 - pad) & (lon <= x1 + pad) & (lat >= y0 - pad) & (lat <= y1 + pad)
    inside = np.zeros(len(lat), dtype=bool)
    if ok.any():
        pts = gpd.GeoSeries(gpd.points_from_xy(lon[ok], lat[ok]), crs=STORAGE_CRS).to_crs(WORK_CRS)
        inside[ok] = pts.covered_by(area).to_numpy(dtype=bool)
    return inside


def _read_zip_tables(path: Path) -> dict[str, pa.Table] | None:
    """Every ``.txt`` table of the zip, all columns as text (pyarrow, fast for national feeds).

    None when the zip cannot be read this way (not a zip, not UTF-8, broken CSV): the full
    loader then reports the problem.
    """
    from placement.gtfs import _max_table_bytes

    tables: dict[str, pa.Table] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            names = {Path(n).name: n for n in zf.namelist() if n.endswith(".txt")}
            limit = _max_table_bytes()
            for short, full in sorted(names.items()):
                with zf.open(full) as member:  # never more than the loader's cap
                    raw = member.read(limit + 1)
                if len(raw) > limit:
                    return None  # the full loader reports the table as too large
                if raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                first = raw.split(b"\n", 1)[0].decode("utf-8").rstrip("\r")
                header = next(csv.reader([first]), [])
                if not header:
                    return None
                table = pa_csv.read_csv(
                    io.BytesIO(raw),
                    convert_options=pa_csv.ConvertOptions(
                        column_types=dict.fromkeys(header, pa.string()),
                        strings_can_be_null=False),
                )
                tables[short] = table.rename_columns([c.strip() for c in table.column_names])
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError, pa.ArrowException):
        return None
    return tables


def _ids(table: pa.Table, column: str) -> pa.Array:
    return pc.utf8_trim_whitespace(table.column(column))


def _keep(table: pa.Table, column: str, values: pa.Array) -> pa.Table:
    return table.filter(pc.is_in(_ids(table, column), value_set=values))


def _clip_tables(
    tables: dict[str, pa.Table], area: object
) -> tuple[dict[str, pa.Table], dict[str, int]] | None:
    """Keep the stops in ``area``, the trips serving them and what those trips refer to.

    Returns None when the tables lack what clipping needs (the full loader then reports it).
    """
    need = {"stops.txt": ("stop_id", "stop_lat", "stop_lon"),
            "stop_times.txt": ("trip_id", "stop_id"),
            "trips.txt": ("trip_id", "route_id", "service_id"),
            "routes.txt": ("route_id",)}
    for table, cols in need.items():
        if (table not in tables or not tables[table].num_rows
                or any(c not in tables[table].column_names for c in cols)):
            return None
    stops = tables["stops.txt"]

    def number(column: str) -> np.ndarray:
        text = pd.Series(_ids(stops, column).to_numpy(zero_copy_only=False))
        return pd.to_numeric(text, errors="coerce").to_numpy(float)

    inside = _points_in(area, number("stop_lat"), number("stop_lon"))
    local = pc.unique(pc.filter(_ids(stops, "stop_id"), pa.array(inside)))
    st = tables["stop_times.txt"]
    trips_kept = pc.unique(pc.filter(_ids(st, "trip_id"),
                                     pc.is_in(_ids(st, "stop_id"), value_set=local)))
    st = _keep(st, "trip_id", trips_kept)
    trips = _keep(tables["trips.txt"], "trip_id", trips_kept)
    keep_stops = pc.unique(pa.concat_arrays([local, pc.unique(_ids(st, "stop_id"))]))
    if "parent_station" in stops.column_names:
        parents = _ids(_keep(stops, "stop_id", keep_stops), "parent_station")
        keep_stops = pc.unique(pa.concat_arrays([keep_stops, parents]))
    out = dict(tables)
    out["stops.txt"] = _keep(stops, "stop_id", keep_stops)
    out["stop_times.txt"] = st
    out["trips.txt"] = trips
    routes = _keep(tables["routes.txt"], "route_id", pc.unique(_ids(trips, "route_id")))
    out["routes.txt"] = routes
    agency = tables.get("agency.txt")
    if (agency is not None and "agency_id" in agency.column_names
            and "agency_id" in routes.column_names):
        kept = _keep(agency, "agency_id", pc.unique(_ids(routes, "agency_id")))
        out["agency.txt"] = kept if kept.num_rows else agency.slice(0, 1)
    services = pc.unique(_ids(trips, "service_id"))
    for name in ("calendar.txt", "calendar_dates.txt"):
        if name in tables and "service_id" in tables[name].column_names:
            out[name] = _keep(tables[name], "service_id", services)
    if ("shapes.txt" in tables and "shape_id" in trips.column_names
            and "shape_id" in tables["shapes.txt"].column_names):
        out["shapes.txt"] = _keep(tables["shapes.txt"], "shape_id",
                                  pc.unique(_ids(trips, "shape_id")))
    if "frequencies.txt" in tables and "trip_id" in tables["frequencies.txt"].column_names:
        out["frequencies.txt"] = _keep(tables["frequencies.txt"], "trip_id", trips_kept)
    tr = tables.get("transfers.txt")
    if tr is not None and {"from_stop_id", "to_stop_id"} <= set(tr.column_names):
        ok = pc.and_(pc.is_in(_ids(tr, "from_stop_id"), value_set=keep_stops),
                     pc.is_in(_ids(tr, "to_stop_id"), value_set=keep_stops))
        out["transfers.txt"] = tr.filter(ok)
    counts = {"stops": stops.num_rows, "stops_kept": out["stops.txt"].num_rows,
              "stops_local": len(local), "trips": tables["trips.txt"].num_rows,
              "trips_kept": trips.num_rows}
    return out, counts


def _write_zip(tables: dict[str, pa.Table], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(suffix=".zip", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for table, frame in sorted(tables.items()):
                zf.writestr(table, frame.to_pandas().to_csv(index=False, lineterminator="\n"))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _clip_key(path: Path, boundary: gpd.GeoDataFrame, buffer_m: float) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    h.update(boundary.to_crs(WORK_CRS).geometry.union_all().normalize().wkb)
    h.update(f"{float(buffer_m)!r}|{CLIP_VERSION}".encode())
    return h.hexdigest()[:24]


def clip_gtfs(
    path: str | Path,
    boundary: gpd.GeoDataFrame,
    *,
    buffer_m: float = CLIP_BUFFER_M,
    use_cache: bool = True,
    out_dir: Path | None = None,
) -> Path | None:
    """Write (or reuse) a copy of a feed clipped to the municipality.

    Kept: the stops within ``buffer_m`` of the boundary, every trip that stops at one of them
    (whole, with all its stop times, so a journey along a line that leaves the municipality is
    kept), the other stops of those trips and their parent stations, and the routes, agencies,
    services, shapes, frequencies and transfers these refer to. Other tables are copied as they
    are. Journeys that need a trip touching no kept stop are lost; the buffer makes that rare.

    Parameters
    ----------
    path : str or Path
        The GTFS zip.
    boundary : geopandas.GeoDataFrame
        The municipality (any CRS).
    buffer_m : float, default :data:`CLIP_BUFFER_M`
        Metres around the boundary within which stops are kept.
    use_cache : bool, default True
        Reuse ``settings.cache_folder / "gtfs_clip" / <key> / <file name>``; the key hashes the
        feed's bytes, the boundary and the buffer.
    out_dir : Path, optional
        Folder to write the clipped zip into when ``use_cache`` is False (a new temporary
        folder otherwise; the caller removes it).

    Returns
    -------
    Path or None
        The clipped zip (same file name as the feed, in the cache), or None when the feed
        cannot be clipped (not a readable zip, or the tables clipping needs are missing): the
        caller then loads the feed as it is, which reports its problems.

    Raises
    ------
    DataError
        When no stop of the feed lies within the area, or no trip serves those stops.
    """
    path = Path(path)
    started = time.perf_counter()
    key = _clip_key(path, boundary, buffer_m)
    target = Path(settings.cache_folder) / "gtfs_clip" / key / path.name
    if use_cache and target.is_file():
        logger.info("clipped GTFS read from cache file '%s'", target)
        return target
    tables = _read_zip_tables(path)
    if tables is None:
        return None
    clipped = _clip_tables(tables, _area(boundary, buffer_m))
    if clipped is None:
        return None
    out, counts = clipped
    km = buffer_m / 1000
    if counts["stops_local"] == 0:
        msg = (f"none of the feed's {counts['stops']:,} stops lies within the municipality or "
               f"{km:g} km of it: the feed is for another area; name the municipality's feed "
               "(or the national one) in dataset.toml, or remove the [gtfs] section")
        raise DataError([Problem(path.name, None, "stops.txt", msg)])
    if counts["trips_kept"] == 0:
        msg = (f"no trip of the feed stops at any of its {counts['stops_local']:,} stops within "
               f"the municipality or {km:g} km of it: there is no timetable for this area")
        raise DataError([Problem(path.name, None, "stop_times.txt", msg)])
    if use_cache:
        _write_zip(out, target)
    else:
        folder = out_dir if out_dir is not None else Path(tempfile.mkdtemp(prefix="placement-"))
        target = folder / path.name
        _write_zip(out, target)
    logger.info("clipped GTFS %s to the municipality + %g km: %s of %s stops, %s of %s trips "
                "(%.1f s)", path.name, km, f"{counts['stops_kept']:,}", f"{counts['stops']:,}",
                f"{counts['trips_kept']:,}", f"{counts['trips']:,}",
                time.perf_counter() - started)
    return target


def load_clipped_gtfs(
    path: str | Path,
    boundary: gpd.GeoDataFrame,
    *,
    buffer_m: float = CLIP_BUFFER_M,
    dist_units: str = "km",
    use_cache: bool = True,
) -> gtfs_kit.Feed:
    """Clip a feed to the municipality (:func:`clip_gtfs`) and load the clipped copy.

    The clipped copy is checked by :func:`placement.gtfs.load_gtfs`. When it has problems, the
    whole feed is checked instead, so that every message names a row of the file the user has.

    Parameters
    ----------
    path : str or Path
        The GTFS zip.
    boundary : geopandas.GeoDataFrame
        The municipality.
    buffer_m : float
        Metres around the boundary within which stops are kept.
    dist_units : str
        As in :func:`placement.gtfs.load_gtfs`.
    use_cache : bool, default True
        Keep the clipped copy in the cache; when False it is written to a temporary folder
        and removed after loading.

    Returns
    -------
    gtfs_kit.Feed
        The clipped feed.
    """
    from placement.gtfs import load_gtfs

    path = Path(path)
    if not path.is_file():
        return load_gtfs(path, dist_units=dist_units)  # the usual "file not found"
    with tempfile.TemporaryDirectory(prefix="placement-") as tmp:
        clipped = clip_gtfs(path, boundary, buffer_m=buffer_m, use_cache=use_cache,
                            out_dir=Path(tmp))
        if clipped is None:
            return load_gtfs(path, dist_units=dist_units)
        try:
            return load_gtfs(clipped, dist_units=dist_units)
        except DataError:
            load_gtfs(path, dist_units=dist_units)  # rows of the user's file, if it fails there
            raise


# --------------------------------------------------------------------------------------------
# stop lists without timetable
# --------------------------------------------------------------------------------------------
def is_stop_list(path: str | Path) -> bool:
    """Whether a transit file is a stop list without timetable.

    Parameters
    ----------
    path : str or Path
        The file named in ``[gtfs]`` of ``dataset.toml``.

    Returns
    -------
    bool
        True for a ``.csv`` or ``.txt`` file, or a zip that holds ``stops.txt`` but no
        ``stop_times.txt``.
    """
    path = Path(path)
    if path.suffix.lower() in (".csv", ".txt"):
        return True
    try:
        with zipfile.ZipFile(path) as zf:
            names = {Path(n).name for n in zf.namelist()}
    except (zipfile.BadZipFile, OSError):
        return False
    return "stops.txt" in names and "stop_times.txt" not in names


def _capped_read(zf: zipfile.ZipFile, name: str) -> bytes | None:
    """Read a zip member; None when it unpacks to more than the loader's cap."""
    from placement.gtfs import _max_table_bytes

    limit = _max_table_bytes()
    with zf.open(name) as member:
        raw = member.read(limit + 1)
    return None if len(raw) > limit else raw


def _too_large_words() -> str:
    from placement.gtfs import _max_table_bytes

    return (f"the table unpacks to more than {_max_table_bytes() / 2**20:,.0f} MB and is not "
            "read (PLACEMENT_GTFS_MAX_TABLE_MB sets the cap)")


def _stop_list_text(path: Path) -> tuple[str, str]:
    """Text of the stop list and the name used in messages."""
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as zf:
            name = next(n for n in zf.namelist() if Path(n).name == "stops.txt")
            data = _capped_read(zf, name)
            if data is None:
                where = f"{path.name}/stops.txt"
                raise DataError.single(where, _too_large_words())
        where = f"{path.name}/stops.txt"
    else:
        data = path.read_bytes()
        where = path.name
    from placement.load import _decode

    return _decode(data)[0], where


def load_stop_list(
    path: str | Path,
    *,
    boundary: gpd.GeoDataFrame | None = None,
    buffer_m: float = CLIP_BUFFER_M,
) -> pd.DataFrame:
    """Read a list of stops without timetable.

    Accepts GTFS ``stops.txt`` (alone or in a zip) and stop list CSVs with ids, names and
    coordinates, comma or semicolon separated, UTF-8 or cp1252: columns ``stop_id`` (or ``id``),
    ``stop_name`` (or ``name``), and ``stop_lat``/``stop_lon`` (or ``lat``/``lon``) in WGS84, or
    ``x_utm32``/``y_utm32`` (or ``x``/``y``) in EPSG:25832, as Rejseplanen's stop list has.
    A first line that is not the header (Rejseplanen's "Export period ...") is skipped.

    Parameters
    ----------
    path : str or Path
        The stop list.
    boundary : geopandas.GeoDataFrame, optional
        When given, only stops within ``buffer_m`` of it are returned.
    buffer_m : float
        Metres around the boundary.

    Returns
    -------
    pandas.DataFrame
        ``stop_id``, ``stop_name``, ``stop_lat``, ``stop_lon`` (degrees, WGS84), sorted by
        ``stop_id``; GTFS stations and entrances (``location_type`` 1-4) are left out.

    Raises
    ------
    DataError
        Naming the file, row and column of every missing column and bad coordinate.
    """
    from placement.load import _sniff_sep

    path = Path(path)
    if not path.is_file():
        raise DataError.single(path.name, f"file not found: {path}")
    text, where = _stop_list_text(path)
    lines = text.splitlines()
    skip = 0
    if lines and _sniff_sep(lines[0]) == "," and lines[0].count(",") == 0 and len(lines) > 1:
        skip = 1  # a title line without any separator, e.g. "Export period 25.02.2020 - ..."
    body = "\n".join(lines[skip:])
    sep = _sniff_sep(body)
    records = list(csv.reader(io.StringIO(body, newline=""), delimiter=sep))
    if not records:
        raise DataError.single(where, "the stop list is empty")
    header = [h.strip().lower() for h in records[0]]
    pos: dict[str, int] = {}
    for key, names in STOP_LIST_ALIASES.items():
        for name in names:
            if name in header:
                pos[key] = header.index(name)
                break
    problems: list[Problem] = []
    geo = "stop_lat" in pos and "stop_lon" in pos
    utm = "x" in pos and "y" in pos
    if "stop_id" not in pos:
        problems.append(Problem(where, 1, "stop_id", "required column 'stop_id' (or 'id') is "
                                "missing"))
    if not (geo or utm):
        problems.append(Problem(where, 1, "stop_lat/stop_lon",
                                "coordinates are missing: give stop_lat and stop_lon (WGS84) "
                                "or x_utm32 and y_utm32 (EPSG:25832)"))
    if problems:
        raise DataError(problems)
    rows = [(i + 2 + skip, r) for i, r in enumerate(records[1:]) if any(c.strip() for c in r)]
    kind_pos = header.index("location_type") if "location_type" in header else None

    def cell(rec: Sequence[str], key: str) -> str:
        j = pos.get(key)
        return rec[j].strip() if j is not None and j < len(rec) else ""

    def number(raw: str) -> float:
        try:
            return float(raw.replace(",", ".")) if sep == ";" else float(raw)
        except ValueError:
            return float("nan")

    ids, names, a, b, rownum = [], [], [], [], []
    for row, rec in rows:
        if kind_pos is not None and kind_pos < len(rec) and rec[kind_pos].strip() not in ("",
                                                                                          "0"):
            continue
        sid = cell(rec, "stop_id")
        if not sid:
            problems.append(Problem(where, row, header[pos["stop_id"]], "stop_id is empty"))
            continue
        first, second = ("stop_lat", "stop_lon") if geo else ("x", "y")
        va, vb = number(cell(rec, first)), number(cell(rec, second))
        bad = not (np.isfinite(va) and np.isfinite(vb))
        if geo and not bad:
            bad = not (-90 <= va <= 90 and -180 <= vb <= 180)
        if bad:
            column = f"{header[pos[first]]}/{header[pos[second]]}"
            shown = f"{cell(rec, first)!r}, {cell(rec, second)!r}"
            problems.append(Problem(where, row, column,
                                    f"coordinates must be numbers (found {shown})"))
            continue
        ids.append(sid)
        names.append(cell(rec, "stop_name"))
        a.append(va)
        b.append(vb)
        rownum.append(row)
    if problems:
        raise DataError(problems)
    if geo:
        lat, lon = np.array(a, float), np.array(b, float)
    else:
        pts = gpd.GeoSeries(gpd.points_from_xy(a, b), crs=WORK_CRS).to_crs(STORAGE_CRS)
        lat, lon = pts.y.to_numpy(), pts.x.to_numpy()
    out = pd.DataFrame({"stop_id": ids, "stop_name": names, "stop_lat": lat, "stop_lon": lon})
    if boundary is not None and len(out):
        out = out[_points_in(_area(boundary, buffer_m), lat, lon)]
    out = out.drop_duplicates("stop_id").sort_values("stop_id", kind="stable")
    logger.info("read stop list %s: %s stops%s", path.name, f"{len(out):,}",
                "" if boundary is None else " within the municipality and its buffer")
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# warnings for `placement validate`
# --------------------------------------------------------------------------------------------
def _as_day(value: object) -> dt.date | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    try:
        return pd.Timestamp(value).date()
    except (ValueError, TypeError):
        return None


def gtfs_warnings(
    gtfs_path: str | Path | None,
    boundary: gpd.GeoDataFrame | None,
    *,
    dates: Sequence[object] = (),
    feed: gtfs_kit.Feed | None = None,
) -> list[str]:
    """Warnings about a dataset's public-transport data, in words for the planner.

    Parameters
    ----------
    gtfs_path : str, Path or None
        The file of ``[gtfs]`` (None: the dataset has none).
    boundary : geopandas.GeoDataFrame or None
        The municipality; without it the location checks are skipped.
    dates : sequence of date-like
        Dates the timetable should cover: the households' arrival dates and the dwellings'
        availability dates (the first and last of each are enough).
    feed : gtfs_kit.Feed, optional
        The feed already loaded from ``gtfs_path`` (read here when not given).

    Returns
    -------
    list of str
        One sentence per warning; empty when there is nothing to say. Never raises on bad
        data (the loader reports problems as errors).
    """
    if gtfs_path is None:
        return ["no GTFS feed: the public-transport terms (departures per hour, walk to a stop "
                "with service, journey times) are unknown for every dwelling; the walk to the "
                "nearest stop comes from the OpenStreetMap stops"]
    path = Path(gtfs_path)
    warnings: list[str] = []
    stop_list = is_stop_list(path)
    if stop_list:
        warnings.append(f"{path.name} is a stop list without timetable: the walk to the nearest "
                        "stop is measured, the service level (departures per hour) and the "
                        "journey times are unknown")
    coverage = stop_coverage(path, boundary) if boundary is not None else None
    if coverage is not None and coverage["stops"]:
        n, n_in, n_near = coverage["stops"], coverage["inside"], coverage["near"]
        km = CLIP_BUFFER_M / 1000
        if not n_near:
            warnings.append(
                f"none of the {n:,} stops of {path.name} lies within the municipality or "
                f"{km:g} km of it: the feed is for another area; accessibility stops with an "
                "error until the municipality's feed is named in dataset.toml")
        elif n_in < n:
            warnings.append(
                f"{n - n_in:,} of the {n:,} stops of {path.name} lie outside the municipality; "
                f"{n_near:,} lie within it or {km:g} km of it and are kept when the feed is "
                "clipped on load")
    if feed is None and not stop_list:
        from placement.gtfs import load_gtfs

        try:
            feed = load_gtfs(path)
        except DataError:
            return warnings  # reported as problems by the loader
    if feed is not None and not stop_list:
        warnings += _calendar_warnings(feed, path.name, dates)
    return warnings


def stop_coverage(path: str | Path, boundary: gpd.GeoDataFrame) -> dict[str, int] | None:
    """Count a feed's (or stop list's) stops inside the municipality and within the buffer.

    Reads only ``stops.txt`` (or the stop list), so it is quick on a national feed.

    Parameters
    ----------
    path : str or Path
        GTFS zip or stop list.
    boundary : geopandas.GeoDataFrame
        The municipality.

    Returns
    -------
    dict or None
        ``stops`` (with coordinates), ``inside`` (in the municipality) and ``near`` (within
        :data:`CLIP_BUFFER_M`); None when the stops cannot be read (the loader reports why).
    """
    path = Path(path)
    try:
        if is_stop_list(path):
            stops = load_stop_list(path)
            lat, lon = stops["stop_lat"].to_numpy(float), stops["stop_lon"].to_numpy(float)
        else:
            with zipfile.ZipFile(path) as zf:
                name = next(n for n in zf.namelist() if Path(n).name == "stops.txt")
                raw = _capped_read(zf, name)
                if raw is None:
                    return None  # too large: the loader says so
                frame = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False,
                                    encoding="utf-8-sig", skipinitialspace=True)
            frame.columns = [c.strip() for c in frame.columns]
            lat = pd.to_numeric(frame["stop_lat"].str.strip(), errors="coerce").to_numpy(float)
            lon = pd.to_numeric(frame["stop_lon"].str.strip(), errors="coerce").to_numpy(float)
    except (DataError, OSError, KeyError, StopIteration, ValueError, zipfile.BadZipFile,
            pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    ok = np.isfinite(lat) & np.isfinite(lon)
    lat, lon = lat[ok], lon[ok]
    return {"stops": len(lat),
            "inside": int(_points_in(_area(boundary, 0.0), lat, lon).sum()),
            "near": int(_points_in(_area(boundary, CLIP_BUFFER_M), lat, lon).sum())}


def _calendar_warnings(feed: gtfs_kit.Feed, name: str, dates: Sequence[object]) -> list[str]:
    from placement.gtfs import service_date_range

    try:
        first, last = service_date_range(feed)
    except DataError:
        return [f"no service runs on any date of the calendar of {name}: the public-transport "
                "terms are unknown"]
    days = sorted(d for d in (_as_day(v) for v in dates) if d is not None)
    if not days:
        return []
    outside = [d for d in days if d < first or d > last]
    if not outside:
        return []
    return [f"the calendar of {name} runs from {first.isoformat()} to {last.isoformat()}, "
            f"but the arrival and planning dates run from {days[0].isoformat()} to "
            f"{days[-1].isoformat()}: the timetable may not be the one that will run; "
            "journey times and departures describe the feed's own dates"]
