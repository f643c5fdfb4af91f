"""Accessibility table: walking and public-transport times from every dwelling.

One row per dwelling (index ``dwelling_id``), columns named by :mod:`placement.schema`:

* ``walk_{cat}_min``: walking minutes to the nearest amenity of each category, and
  ``n_{cat}_within_{t}min``: how many are within ``t`` minutes (one multi-source Dijkstra per
  category on a sparse graph; counts by batched bounded Dijkstra from the amenities).
* ``pt_{dest}_median_min`` / ``pt_{dest}_p80_min``: door-to-door public-transport minutes over a
  departure window (router in :mod:`placement.transit`).
* ``snap_dist_m``, ``off_network``, ``walk_stop_min``, ``departures_per_hour_500m``.

All distances are computed in EPSG:25832 on the OSM walk network (:mod:`placement.network`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.spatial import cKDTree

from placement import schema, settings
from placement._errors import ConfigError, DataError
from placement._threads import call, n_threads, run_parts
from placement.crs import STORAGE_CRS, WORK_CRS, to_storage, to_work
from placement.network import (
    DEFAULT_MAX_SNAP_M,
    DEFAULT_MIN_COMPONENT_M,
    DEFAULT_WALK_SPEED_KMH,
    WalkNetwork,
)
from placement.walk_edges import EdgeWalks, place_points

if TYPE_CHECKING:
    import gtfs_kit
    import networkx as nx

logger = logging.getLogger(__name__)

#: Bump when the computation changes, so cached tables are recomputed.
ALGORITHM_VERSION = "4"
#: The tag → category table the amenities are read with (``placement.osm.AMENITY_TAGS_CSV``;
#: named here so that checking the cache does not import osmnx).
AMENITY_TAGS_FILE = Path(__file__).with_name("data") / "amenity_tags.csv"
#: Cached tables not used for this many days are deleted when a new table is cached.
CACHE_MAX_AGE_DAYS = 30
#: At most this many cached tables are kept (the most recently used).
CACHE_MAX_ENTRIES = 32
#: Window in which departures per hour are counted ("service level").
SERVICE_WINDOW = ("06:00", "20:00")
#: Largest number of amenities (nearest the centre first) tried for one PT destination.
MAX_POINTS_PER_DESTINATION = 10
#: PT destinations that are the fastest-reached amenity of a category.
_NEAREST_OF_CATEGORY = {
    "jobcenter": "jobcenter",
    "language_school": "language_school",
    "upper_secondary": "upper_secondary",
}
#: Without ``<bounds>`` in the OSM file, its coverage is the convex hull of the walk network
#: buffered by this many metres.
COVERAGE_MARGIN_M = 250.0
#: Values of the ``walk_unknown`` column: why a dwelling's walk (and transit) access is unknown.
WALK_UNKNOWN_REASONS = {
    "off_network": "more than the snap limit from the walk network",
    "isolated_path": "only a small piece of path not joined to the walk network is near",
    "outside_osm_coverage": "outside the area the OpenStreetMap extract covers",
}
#: Radius used to find the amenity cluster that is the town centre, metres (straight line).
CENTRE_RADIUS_M = 500.0
_RAIL_ROUTE_TYPES = frozenset({2, *range(100, 118)})


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------
def parse_clock_s(text: str) -> int:
    """Parse ``"HH:MM"`` or ``"HH:MM:SS"`` (hours may exceed 23) into seconds after midnight.

    Examples
    --------
    >>> parse_clock_s("07:30")
    27000
    """
    parts = str(text).strip().split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        msg = f"expected a time as HH:MM, got {text!r}"
        raise ValueError(msg)
    h, m, *s = (int(p) for p in parts)
    if m > 59 or (s and s[0] > 59):
        msg = f"expected a time as HH:MM, got {text!r}"
        raise ValueError(msg)
    return h * 3600 + m * 60 + (s[0] if s else 0)


def _points_xy(gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> np.ndarray:
    """Coordinates in EPSG:25832 of points (other geometries: a representative point)."""
    if len(gdf) == 0:
        return np.empty((0, 2))
    geom = to_work(gdf.geometry if isinstance(gdf, gpd.GeoDataFrame) else gdf)
    arr = geom.to_numpy()
    if not (shapely.get_type_id(arr) == 0).all():  # not all points
        arr = geom.representative_point().to_numpy()
    xy = np.full((len(arr), 2), np.nan)  # NaN for a missing or empty geometry
    ok = ~(shapely.is_missing(arr) | shapely.is_empty(arr))
    xy[ok, 0], xy[ok, 1] = shapely.get_x(arr[ok]), shapely.get_y(arr[ok])
    return xy


def _lat_lon_xy(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=STORAGE_CRS).to_crs(WORK_CRS)
    return np.column_stack([pts.x.to_numpy(float), pts.y.to_numpy(float)])


def _dwelling_ids(dwellings: gpd.GeoDataFrame) -> pd.Index:
    ids = dwellings["dwelling_id"] if "dwelling_id" in dwellings.columns else dwellings.index
    ids = pd.Index(pd.Series(ids).astype(str).to_numpy(), name="dwelling_id")
    if ids.has_duplicates:
        dup = ids[ids.duplicated()].unique()[:5].tolist()
        msg = f"dwelling_id must be unique; repeated: {', '.join(dup)}"
        raise DataError.single(file="dwellings", message=msg, column="dwelling_id")
    return ids


def default_service_date(feed: gtfs_kit.Feed) -> dt.date:
    """Pick the service date used when none is given.

    The first Tuesday or Wednesday in the feed's calendar range on which at least one service
    runs (an ordinary weekday, away from Monday/Friday peculiarities); failing that, the first
    date with any service.

    Parameters
    ----------
    feed : gtfs_kit.Feed
        The timetable.

    Returns
    -------
    datetime.date

    Raises
    ------
    DataError
        If no date in the feed has any service.
    """
    from placement.transit import active_service_ids

    dates: list[str] = []
    if feed.calendar is not None and len(feed.calendar):
        dates += feed.calendar["start_date"].astype(str).tolist()
        dates += feed.calendar["end_date"].astype(str).tolist()
    if feed.calendar_dates is not None and len(feed.calendar_dates):
        dates += feed.calendar_dates["date"].astype(str).tolist()
    if not dates:
        msg = "the feed has neither calendar.txt nor calendar_dates.txt dates"
        raise DataError.single(file="gtfs", message=msg, column="calendar")
    first = dt.datetime.strptime(min(dates), "%Y%m%d").date()
    last = dt.datetime.strptime(max(dates), "%Y%m%d").date()
    days = [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]
    for wanted in ((1, 2), tuple(range(7))):
        for day in days:
            if day.weekday() in wanted and active_service_ids(feed, day):
                return day
    msg = f"no service runs on any date from {first} to {last}"
    raise DataError.single(file="gtfs", message=msg, column="calendar")


def _quantile_min(times_s: np.ndarray, q: float) -> np.ndarray:
    """Row-wise quantile in minutes with unreachable departures counted as infinitely long.

    Linear interpolation between the two order statistics around rank ``q * (n - 1)``; when
    either of them is unreachable the quantile is NaN (e.g. the median is NaN when more than
    half of the departures cannot reach the destination).
    """
    n_rows, n = times_s.shape
    if n == 0:
        return np.full(n_rows, np.nan)
    s = np.sort(times_s, axis=1)
    rank = q * (n - 1)
    lo, hi = int(np.floor(rank)), int(np.ceil(rank))
    frac = rank - lo
    a, b = s[:, lo], s[:, hi]
    ok = np.isfinite(a) & np.isfinite(b)
    out = np.full(n_rows, np.nan)
    out[ok] = a[ok] + (b[ok] - a[ok]) * frac
    return out / 60.0


def _centre_xy(
    amenity_xy: np.ndarray, rail_xy: np.ndarray | None, fallback_xy: np.ndarray
) -> tuple[np.ndarray, str]:
    """Locate the centre: the main rail station, else the densest amenity cluster."""
    if rail_xy is not None and len(rail_xy):
        return rail_xy[0], "main rail station (GTFS route_type 2 stop with most departures)"
    if len(amenity_xy):
        tree = cKDTree(amenity_xy)
        n_near = tree.query_ball_point(amenity_xy, CENTRE_RADIUS_M, return_length=True)
        return amenity_xy[int(np.argmax(n_near))], "amenity with most amenities within 500 m"
    return fallback_xy, "centroid of the dwellings (no amenities, no rail station)"


def _rail_stops_by_departures(feed: gtfs_kit.Feed, tt: Any, departures: np.ndarray) -> np.ndarray:
    """Stop indices served by rail routes, most departures first (ties by stop index)."""
    routes = feed.routes
    if routes is None or not len(routes) or tt.n_connections == 0:
        return np.empty(0, np.int64)
    rtype = pd.to_numeric(routes["route_type"], errors="coerce")
    rail_routes = set(routes.loc[rtype.isin(_RAIL_ROUTE_TYPES), "route_id"].astype(str))
    rail_trip = np.isin(tt.route_ids.astype(str), list(rail_routes))
    stops = np.unique(tt.dep_stop[rail_trip[tt.trip]])
    order = np.lexsort((stops, -departures[stops]))
    return stops[order].astype(np.int64)


# --------------------------------------------------------------------------------------------
# the computation
# --------------------------------------------------------------------------------------------
def compute_accessibility(
    dwellings: gpd.GeoDataFrame,
    graph: nx.MultiDiGraph | WalkNetwork,
    amenities: gpd.GeoDataFrame,
    *,
    feed: gtfs_kit.Feed | None = None,
    date: dt.date | str | None = None,
    window: tuple[str, str] = ("07:00", "09:00"),
    step_min: float = 2,
    walk_speed_kmh: float = DEFAULT_WALK_SPEED_KMH,
    thresholds: Sequence[int] = schema.WALK_THRESHOLDS_MIN,
    extra_points: Mapping[str, tuple[float, float]] | None = None,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    max_access_m: float = 1200.0,
    max_footpath_m: float = 400.0,
    stop_radius_m: float = 500.0,
    min_transfer_s: int = 60,
    max_travel_min: float = 180.0,
    stops: pd.DataFrame | None = None,
    coverage: Any = None,
    min_component_m: float = DEFAULT_MIN_COMPONENT_M,
) -> pd.DataFrame:
    """Compute the accessibility table, one row per dwelling.

    Parameters
    ----------
    dwellings : geopandas.GeoDataFrame
        Dwelling points in any CRS, with a ``dwelling_id`` column (else the index is the id).
    graph : networkx.MultiDiGraph or WalkNetwork
        Projected walk graph (``placement.osm.walk_graph_from_file``) or a built network.
        A given ``WalkNetwork`` keeps its own walking speed.
    amenities : geopandas.GeoDataFrame
        Points with a ``category`` column (``schema.AMENITY_CATEGORIES``), any CRS.
    feed : gtfs_kit.Feed, optional
        Timetable; without it the ``pt_*`` and ``departures_per_hour_500m`` columns are NaN and
        ``walk_stop_min`` uses the OSM stops among ``amenities``.
    date : datetime.date or str, optional
        Service date; default :func:`default_service_date`.
    window : (str, str), default ("07:00", "09:00")
        Departure window ``[start, end)``, ``HH:MM``.
    step_min : float, default 2
        Minutes between departures tried in the window.
    walk_speed_kmh : float, default 4.5
        Walking speed.
    thresholds : sequence of int, default (10, 15, 30)
        Walking minutes for the ``n_{cat}_within_{t}min`` counts.
    extra_points : mapping of str to (lat, lon), optional
        Further public-transport destinations named by the user (WGS84 degrees); each gives
        columns ``pt_{name}_median_min`` and ``pt_{name}_p80_min``.
    max_snap_m : float, default 500
        A dwelling farther than this from every walkable edge is ``off_network`` (NaN times).
    max_access_m : float, default 1200
        Longest walk to the first stop and from the last stop, metres.
    max_footpath_m : float, default 400
        Longest walk between two stops when changing, metres.
    stop_radius_m : float, default 500
        Walking distance within which departures count for ``departures_per_hour_500m``.
    min_transfer_s : int, default 60
        Time needed to change vehicle, seconds.
    max_travel_min : float, default 180
        Longer door-to-door journeys count as unreachable.
    stops : pandas.DataFrame, optional
        A stop list without timetable (``stop_lat``, ``stop_lon``, see
        :func:`placement.gtfs_area.load_stop_list`), used when there is no ``feed``: the walk
        to the nearest stop and the stop counts come from it; the service level
        (``departures_per_hour_500m``) and the ``pt_*`` times stay NaN (unknown).
    coverage : shapely geometry, optional
        Area the OSM data covers (EPSG:4326; :func:`osm_coverage`). Dwellings outside it have
        unknown walk and transit access (``walk_unknown = "outside_osm_coverage"``). None: no
        check.
    min_component_m : float, default 2000
        Pieces of the walk network shorter than this in total are not snapped onto
        (:meth:`WalkNetwork.component_edge_mask`); a dwelling near only such a piece has
        ``walk_unknown = "isolated_path"``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``dwelling_id`` (str). Times in minutes (float, NaN = unreachable or
        unknown), counts as nullable ``Int64`` (NA when unknown: the dwelling's walk access is
        unknown, or the data has no place of the category), ``snap_dist_m``, ``off_network``
        (bool), ``walk_unknown`` (str, "" when measured, else a key of
        :data:`WALK_UNKNOWN_REASONS`), ``departures_per_hour_500m`` (float, NaN without a
        timetable). Unknown is never 0. ``df.attrs`` records the
        service date, the departure window, the number of departures tried and, per
        destination, the list of ``[lat, lon]`` points it stands for.

    Notes
    -----
    Public-transport destinations: ``centre`` is the rail stop with most departures 06-20 on
    the date (GTFS ``route_type`` 2 or 100-117), else the amenity with most amenities within
    500 m. ``jobcenter``, ``language_school`` and ``upper_secondary`` are the amenities of that
    category (up to :data:`MAX_POINTS_PER_DESTINATION`, nearest the centre first); per departure
    the fastest of them counts, so it is the time to the nearest one by public transport.

    All walks run door to door: the straight path from a point to the nearest walkable edge
    (``snap_dist_m``) is part of every time (:meth:`WalkNetwork.with_doors`).

    Percentiles over departures count an unreachable departure as infinitely long; a percentile
    that falls on an unreachable departure is NaN (so the median is NaN when more than half of
    the departures cannot arrive within ``max_travel_min``).
    """
    started = time.perf_counter()
    stages: dict[str, float] = {}
    try:
        start_s, end_s = parse_clock_s(window[0]), parse_clock_s(window[1])
    except (ValueError, IndexError, TypeError) as err:
        msg = f"window: expected two times like ('07:00', '09:00'), got {window!r}"
        raise ConfigError(msg) from err
    if end_s <= start_s or not step_min > 0:
        msg = f"window {window!r} with step {step_min} min gives no departure time"
        raise ConfigError(msg)
    thresholds = tuple(int(t) for t in thresholds)
    net = (
        graph
        if isinstance(graph, WalkNetwork)
        else WalkNetwork.from_graph(graph, walk_speed_kmh=walk_speed_kmh)
    )
    speed = net.speed_m_s
    ids = _dwelling_ids(dwellings)
    dw_xy = _points_xy(dwellings)
    am_xy = _points_xy(amenities)
    am_cat = amenities["category"].astype(str).to_numpy() if len(amenities) else np.empty(0, str)

    stages["network"] = time.perf_counter() - started
    # --- timetable, stops, destinations -----------------------------------------------------
    tt = None
    stop_xy = np.empty((0, 2))
    deps_service = np.empty(0, np.int64)
    rail_xy = None
    service_date = None
    if feed is not None:
        from placement import transit

        service_date = default_service_date(feed) if date is None else transit._as_date(date)
        tt = transit.build_timetable(feed, service_date)
        stop_xy = _lat_lon_xy(tt.stop_lat, tt.stop_lon)
        deps_service = transit.stop_departures(
            tt, parse_clock_s(SERVICE_WINDOW[0]), parse_clock_s(SERVICE_WINDOW[1])
        )
        rail = _rail_stops_by_departures(feed, tt, deps_service)
        rail = rail[np.isfinite(stop_xy[rail]).all(axis=1)]
        rail_xy = stop_xy[rail] if len(rail) else None
    elif stops is not None and len(stops):
        stop_xy = _lat_lon_xy(pd.to_numeric(stops["stop_lat"]).to_numpy(float),
                              pd.to_numeric(stops["stop_lon"]).to_numpy(float))
    fallback = dw_xy.mean(axis=0) if len(dw_xy) else net.xy.mean(axis=0)
    centre_xy, centre_how = _centre_xy(am_xy, rail_xy, fallback)
    # each destination is a group of points; the journey goes to the nearest (fastest) one
    dest_xy: dict[str, np.ndarray] = {"centre": np.asarray(centre_xy, float).reshape(1, 2)}
    for dest, cat in _NEAREST_OF_CATEGORY.items():
        sel = am_xy[am_cat == cat]
        order = np.argsort(np.hypot(*(sel - centre_xy).T), kind="stable")
        dest_xy[dest] = sel[order[:MAX_POINTS_PER_DESTINATION]].reshape(-1, 2)
    for name, (lat, lon) in (extra_points or {}).items():
        dest_xy[str(name)] = _lat_lon_xy(np.array([lat]), np.array([lon]))
    dest_names = list(dest_xy)

    stages["timetable"] = time.perf_counter() - started - sum(stages.values())
    # --- one insertion of every point into the network --------------------------------------
    dest_arr = np.vstack([np.empty((0, 2)), *dest_xy.values()])
    dest_group = np.repeat(np.arange(len(dest_names)), [len(v) for v in dest_xy.values()])
    stop_ok = np.isfinite(stop_xy).all(axis=1)
    all_xy = np.vstack([dw_xy, am_xy, np.where(stop_ok[:, None], stop_xy, 0.0), dest_arr])
    all_xy = np.nan_to_num(all_xy, nan=0.0)
    edge_mask = net.component_edge_mask(min_component_m)
    snap = net.snap_to_edges(all_xy, edge_mask=edge_mask)
    points = place_points(net, all_xy, max_snap_m=max_snap_m, edge_mask=edge_mask, snap=snap)
    n_dw, n_am, n_st = len(dw_xy), len(am_xy), len(stop_xy)
    dw_on = points.on[:n_dw].copy()
    walk_unknown = np.full(n_dw, "", dtype=object)
    walk_unknown[~dw_on] = "off_network"
    off = np.flatnonzero(~dw_on)
    if len(off) and (~edge_mask).any():  # near a small piece of path only, or near nothing
        # farther than max_snap_m from every allowed edge: is a small piece nearer?
        near_any = net.snap_to_edges(dw_xy[off], edge_mask=~edge_mask).dist_m <= max_snap_m
        walk_unknown[off[near_any]] = "isolated_path"
    if coverage is not None and n_dw:
        cov = gpd.GeoSeries([coverage], crs=STORAGE_CRS).to_crs(WORK_CRS).iloc[0]
        covered = shapely.contains_xy(cov, dw_xy[:, 0], dw_xy[:, 1])
        walk_unknown[~covered] = "outside_osm_coverage"
        dw_on &= covered
    on = dw_on
    am_pt = n_dw + np.arange(n_am)
    st_pt = np.where(stop_ok, n_dw + n_am + np.arange(n_st), -1)
    if (~points.on[am_pt]).any():
        logger.warning(
            "%d amenities are over %.0f m from the walk network and are ignored",
            int((~points.on[am_pt]).sum()),
            max_snap_m,
        )
    logger.info("snapped %s dwellings (%d off-network)", f"{n_dw:,}", int((~on).sum()))

    # the table's columns in order; the frame is made once at the end (inserting ~100
    # columns one at a time into a DataFrame costs more than the searches on a small town)
    cols: dict[str, Any] = {}

    stages["snap"] = time.perf_counter() - started - sum(stages.values())
    # --- walk access per category: searches over the street nodes, points on their edges ----
    walks = EdgeWalks(net, points, np.flatnonzero(on))
    served = deps_service > 0 if tt is not None else np.zeros(0, bool)
    missing_categories: list[str] = []
    limits_s = np.array(thresholds, float) * 60.0
    walk_parts = {"walk_nearest": 0.0, "walk_counts": 0.0}
    st_on_net = (st_pt >= 0) & points.on[np.maximum(st_pt, 0)]

    def sources_of(cat: str) -> np.ndarray:
        if cat == "stop" and tt is not None:
            return st_pt[served & st_on_net]
        if cat == "stop" and len(stop_xy):  # a stop list without timetable
            return st_pt[st_on_net]
        return am_pt[(am_cat == cat) & points.on[am_pt]]

    def timed(kind: str, fn: Callable[[], np.ndarray]) -> Callable[[], tuple[str, float, Any]]:
        def run() -> tuple[str, float, Any]:
            t0 = time.perf_counter()
            got = fn()
            return kind, time.perf_counter() - t0, got
        return run

    # every category's nearest-time search and count parts in one pool of threads (compiled
    # work without the GIL; each task on its own, so the results do not depend on the split)
    cat_src = {cat: sources_of(cat) for cat in schema.AMENITY_CATEGORIES}
    tasks: list[Callable[[], tuple[str, float, Any]]] = []
    layout: list[tuple[str, int, int, Callable[[list], np.ndarray]]] = []
    for cat, src in cat_src.items():
        if len(src):
            tasks.append(timed("walk_nearest", lambda src=src: walks.nearest_s(src)))
        parts, combine = walks.count_tasks(src, limits_s)
        layout.append((cat, len(tasks), len(parts), combine))
        tasks.extend(timed("walk_counts", part) for part in parts)
    done = run_parts(call, tasks, workers=n_threads())
    for kind, seconds, _ in done:
        walk_parts[kind] += seconds  # summed over the threads
    for cat, first, n_parts, combine in layout:
        src = cat_src[cat]
        walk = np.full(n_dw, np.nan)
        if len(src):
            t = done[first - 1][2]  # the nearest search comes just before the count parts
            walk[on] = np.where(np.isfinite(t), t / 60.0, np.nan)
        else:
            missing_categories.append(cat)
        cols[schema.walk_min_col(cat)] = walk
        counts = combine([got for _, _, got in done[first:first + n_parts]])
        # NA off the network, and everywhere when there is no place of this kind in the data
        # (unknown, not 0)
        unknown = ~on if len(src) else np.ones(n_dw, bool)
        for k, thr in enumerate(thresholds):
            values = np.zeros(n_dw, np.int64)
            values[on] = counts[k]
            cols[schema.count_col(cat, thr)] = pd.arrays.IntegerArray(values, unknown.copy())

    stages["walk"] = time.perf_counter() - started - sum(stages.values())
    # --- public transport -------------------------------------------------------------------
    pt_cols = [schema.pt_col(d, s) for d in dest_names for s in ("median", "p80")]
    for c in pt_cols:
        cols[c] = np.full(n_dw, np.nan)
    dep_per_h = np.full(n_dw, np.nan)
    departure_times = np.empty(0, np.int64)
    if tt is not None:
        from placement import transit

        # the door graph (a node per point) for the walks to, from and between stops
        net2, node, _ = net.with_doors(all_xy, max_snap_m=max_snap_m, edge_mask=edge_mask,
                                       snap=snap)
        on_nodes = node[:n_dw][on]
        st_node = np.where(stop_ok, node[n_dw + n_am : n_dw + n_am + n_st], -1)
        dest_node = node[n_dw + n_am + n_st :]
        dest_node = np.where(np.isfinite(dest_arr).all(axis=1), dest_node, -1)
        step_s = max(1, round(float(step_min) * 60))
        departure_times = np.arange(start_s, end_s, step_s, dtype=np.int64)
        st_on = np.flatnonzero(st_node >= 0)
        access_limit_s = max(max_access_m, stop_radius_m) / speed
        near = net2.sparse_times_s(st_node[st_on], on_nodes, limit_s=access_limit_s).tocoo()
        # departures per hour at stops within stop_radius_m walk
        within = near.data <= stop_radius_m / speed
        hours = (parse_clock_s(SERVICE_WINDOW[1]) - parse_clock_s(SERVICE_WINDOW[0])) / 3600
        sums = np.bincount(
            near.col[within],
            weights=deps_service[st_on[near.row[within]]],
            minlength=len(on_nodes),
        )
        dep_per_h[on] = sums / hours
        keep = near.data <= max_access_m / speed
        access = sparse.csr_matrix(
            (near.data[keep], (near.col[keep], st_on[near.row[keep]])),
            shape=(len(on_nodes), tt.n_stops),
        )
        fp = net2.sparse_times_s(
            st_node[st_on], st_node[st_on], limit_s=max_footpath_m / speed
        ).tocoo()
        footpaths = sparse.csr_matrix(
            (fp.data, (st_on[fp.row], st_on[fp.col])), shape=(tt.n_stops, tt.n_stops)
        )
        max_travel_s = int(max_travel_min * 60)
        for g, d in enumerate(dest_names):
            members = dest_node[(dest_group == g) & (dest_node >= 0)]
            if len(members) == 0:
                # not measured (the place is not in the data): the columns are left out, so
                # the score and the measures treat the times as unknown, never as unreachable
                logger.warning("destination %s is missing or off the network: no PT times", d)
                del cols[schema.pt_col(d, "median")], cols[schema.pt_col(d, "p80")]
                continue
            times = np.full((len(on_nodes), len(departure_times)), np.inf)
            for d_node in members:
                from_dest = net2.nearest_time_s(np.array([d_node]), limit_s=max_travel_s)
                egress = np.full(tt.n_stops, np.inf)
                egress_ok = from_dest[st_node[st_on]] <= max_access_m / speed
                egress[st_on[egress_ok]] = from_dest[st_node[st_on]][egress_ok]
                one = transit.door_to_door_times(
                    tt,
                    access,
                    egress,
                    from_dest[on_nodes],
                    footpaths,
                    departure_times,
                    min_transfer_s=min_transfer_s,
                    max_travel_s=max_travel_s,
                )
                np.minimum(times, one, out=times)
            med = np.full(n_dw, np.nan)
            p80 = np.full(n_dw, np.nan)
            med[on] = _quantile_min(times, 0.5)
            p80[on] = _quantile_min(times, 0.8)
            cols[schema.pt_col(d, "median")] = med
            cols[schema.pt_col(d, "p80")] = p80

    stages["pt"] = time.perf_counter() - started - sum(stages.values())
    cols["snap_dist_m"] = points.snap_dist_m[:n_dw]
    cols["off_network"] = ~points.on[:n_dw]
    cols["walk_unknown"] = pd.array(walk_unknown, dtype=object)  # str values already
    cols["departures_per_hour_500m"] = dep_per_h
    out = pd.DataFrame(cols, index=ids, copy=False)  # the arrays are the table's own
    out.attrs.update(
        _attrs(service_date, window, step_min, dest_xy, centre_how, len(departure_times))
    )
    out.attrs["categories_without_places"] = missing_categories
    out.attrs["n_small_pieces"] = net.n_small_pieces(min_component_m)
    out.attrs["timetable"] = tt is not None
    logger.info(
        "accessibility for %s dwellings in %.1f s (%s)",
        f"{n_dw:,}",
        time.perf_counter() - started,
        ", ".join(f"{k} {v:.2f} s" for k, v in stages.items()),
        extra={"stage_times_s": {**stages, **walk_parts}},
    )
    return out


def osm_coverage(osm_path: str | Path, graph: nx.MultiDiGraph | WalkNetwork | None = None,
                 *, margin_m: float = COVERAGE_MARGIN_M) -> Any:
    """Area an OSM extract covers, EPSG:4326.

    The ``<bounds>`` of the file's header (what ``osmium extract``, Overpass and Geofabrik
    write) when present; else the convex hull of the walk network's nodes buffered by
    ``margin_m`` metres; None when neither is known (then nothing is flagged).

    Parameters
    ----------
    osm_path : str or Path
        The OSM file.
    graph : networkx.MultiDiGraph or WalkNetwork, optional
        The projected walk graph read from it (for the fallback).
    margin_m : float
        Buffer of the convex hull, metres.

    Returns
    -------
    shapely.Polygon or None
    """
    from placement import osm

    box = osm.header_bounds(osm_path)
    if box is not None:
        return shapely.box(*box)
    if graph is None:
        return None
    net = graph if isinstance(graph, WalkNetwork) else WalkNetwork.from_graph(graph)
    if net.n_nodes < 3:
        return None
    hull = shapely.MultiPoint(net.xy).convex_hull.buffer(margin_m)
    return gpd.GeoSeries([hull], crs=WORK_CRS).to_crs(STORAGE_CRS).iloc[0]


def unknown_counts(table: pd.DataFrame) -> dict[str, int]:
    """Dwellings whose walk access is unknown, by reason (:data:`WALK_UNKNOWN_REASONS`)."""
    if "walk_unknown" not in table.columns:
        return {}
    reasons = table["walk_unknown"].fillna("").astype(str)
    return {k: int((reasons == k).sum()) for k in WALK_UNKNOWN_REASONS if (reasons == k).any()}


def _attrs(
    service_date: dt.date | None,
    window: tuple[str, str],
    step_min: float,
    dest_xy: Mapping[str, np.ndarray],
    centre_how: str,
    n_departures: int,
) -> dict[str, Any]:
    lat_lon: dict[str, list[list[float]]] = {}
    xy_all = np.vstack([np.empty((0, 2)), *dest_xy.values()])
    pts = gpd.GeoSeries(gpd.points_from_xy(xy_all[:, 0], xy_all[:, 1]), crs=WORK_CRS)
    lon_lat = shapely.get_coordinates(pts.to_crs(STORAGE_CRS).to_numpy())  # one transform
    start = 0
    for name, xy in dest_xy.items():
        part = lon_lat[start:start + len(xy)]
        start += len(xy)
        lat_lon[name] = [[round(float(y), 7), round(float(x), 7)] for x, y in part]
    return {
        "service_date": None if service_date is None else service_date.isoformat(),
        "window": list(window),
        "step_min": float(step_min),
        "n_departures": int(n_departures),
        "destinations_lat_lon": lat_lon,
        "centre_rule": centre_how,
    }


# --------------------------------------------------------------------------------------------
# output and caching
# --------------------------------------------------------------------------------------------
def write_access_table(
    table: pd.DataFrame, dwellings: gpd.GeoDataFrame | None, path: str | Path
) -> Path:
    """Write the accessibility table atomically (temporary file, then ``os.replace``).

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`accessibility_for_dataset` (index ``dwelling_id``).
    dwellings : geopandas.GeoDataFrame or None
        Dwelling points with ``dwelling_id``; needed for ``.gpkg`` only (may be None otherwise).
    path : str or Path
        ``.csv`` (UTF-8, index as the first column ``dwelling_id``), ``.parquet`` or ``.gpkg``
        (GeoPackage, layer ``accessibility``, dwelling points in EPSG:4326).

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    ConfigError
        For another extension, or a ``.gpkg`` without dwellings (a ``ValueError`` too).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".gpkg"):
        msg = f"unknown output format {suffix!r}; use .csv, .parquet or .gpkg"
        raise ConfigError(msg)
    if suffix == ".gpkg" and dwellings is None:
        msg = "writing a .gpkg needs the dwellings (points) too"
        raise ConfigError(msg)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=suffix)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if suffix == ".csv":
            table.to_csv(tmp, index=True, float_format="%.6g")
        elif suffix == ".parquet":
            table.to_parquet(tmp, index=True)
        else:
            tmp.unlink()
            points = to_storage(dwellings).geometry.set_axis(_dwelling_ids(dwellings))
            geo = gpd.GeoDataFrame(
                table.reset_index(),
                geometry=points.reindex(table.index).to_numpy(),
                crs=STORAGE_CRS,
            )
            geo["off_network"] = geo["off_network"].astype(bool)
            geo.to_file(tmp, layer="accessibility", driver="GPKG", engine="pyogrio")
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _manifest_inputs(dataset_dir: Path) -> dict[str, Path]:
    """Files the accessibility table depends on: the manifest, boundary, OSM, GTFS, dwellings."""
    from placement.dataset import MANIFEST_NAME, read_manifest

    manifest = read_manifest(dataset_dir)
    files = {
        "manifest": Path(dataset_dir) / MANIFEST_NAME,
        "boundary": manifest.boundary.file,
        "osm": manifest.osm_file,
        "dwellings": manifest.dwellings.file,
    }
    if manifest.gtfs_file is not None:
        files["gtfs"] = manifest.gtfs_file
    return files


def cache_key(dataset_dir: str | Path, params: Mapping[str, Any]) -> str:
    """SHA-256 over the bytes of the input files, the tag table, the version and the parameters.

    The key covers the bytes of ``dataset.toml`` and the boundary, OSM, GTFS and dwellings
    files, the amenity tag → category table (:data:`AMENITY_TAGS_FILE`), the package version
    and :data:`ALGORITHM_VERSION`, and every parameter. Computing it imports neither osmnx
    nor gtfs-kit (a cache hit stays cheap).

    Parameters
    ----------
    dataset_dir : str or Path
        Dataset folder (with ``dataset.toml``).
    params : mapping
        Every parameter of the computation (JSON-serialisable).

    Returns
    -------
    str
        Hex digest; the cache file name.
    """
    files = _manifest_inputs(Path(dataset_dir))
    from placement import __version__

    payload = {
        "version": ALGORITHM_VERSION,
        "package_version": __version__,
        "amenity_tags": _file_sha256(AMENITY_TAGS_FILE),
        "files": {k: _file_sha256(p) for k, p in sorted(files.items()) if p.is_file()},
        "params": params,
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def prune_cache(folder: str | Path, *, keep: Path | None = None,
                max_age_days: float = CACHE_MAX_AGE_DAYS,
                max_entries: int = CACHE_MAX_ENTRIES) -> list[Path]:
    """Delete cached accessibility tables that are old or too many.

    A table whose file was last used (written or read) more than ``max_age_days`` ago is
    deleted, and of the rest only the ``max_entries`` most recently used are kept.

    Parameters
    ----------
    folder : str or Path
        The cache folder of the tables (``settings.cache_folder / "access"``).
    keep : Path, optional
        A table never deleted (the one just written).
    max_age_days : float
        Largest age since last use, days.
    max_entries : int
        Largest number of tables kept.

    Returns
    -------
    list of Path
        The deleted files.
    """
    now = time.time()
    entries = []
    for f in Path(folder).glob("*.parquet"):
        try:
            entries.append((f.stat().st_mtime, f))
        except OSError:  # deleted meanwhile by another process
            continue
    entries.sort(key=lambda e: (-e[0], e[1].name))
    removed: list[Path] = []
    others = [(m, f) for m, f in entries if f != keep]
    room = max_entries - (len(others) < len(entries))  # the kept table takes one place
    kept = 0
    for mtime, f in others:
        if now - mtime > max_age_days * 86_400 or kept >= room:
            try:
                f.unlink()
                removed.append(f)
            except OSError as err:
                logger.warning("could not delete the old cache file %s: %s", f, err)
            continue
        kept += 1
    if removed:
        logger.info("deleted %d old accessibility tables from the cache", len(removed))
    return removed


def _inputs_digest(dataset_dir: Path) -> str:
    files = _manifest_inputs(dataset_dir)
    text = json.dumps({k: _file_sha256(p) for k, p in sorted(files.items()) if p.is_file()})
    return hashlib.sha256(text.encode()).hexdigest()


def _remember_params(dataset_dir: Path, params: Mapping[str, Any], attrs: Mapping[str, Any]
                     ) -> None:
    """Record the date and window of the last table of these input files (for propose)."""
    record = {"date": params.get("date"), "window": list(params["window"]),
              "step_min": params["step_min"], "service_date": attrs.get("service_date")}
    path = Path(settings.cache_folder) / "access" / "last" / f"{_inputs_digest(dataset_dir)}.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(record, fh)
        Path(tmp).replace(path)
    except OSError as err:  # a read-only cache only loses the convenience
        logger.warning("could not record the access parameters in %s: %s", path, err)


def last_access_params(dataset_dir: str | Path) -> dict[str, Any] | None:
    """Return the date and window of the last accessibility table computed for a dataset.

    Used by ``placement propose`` and ``placement scenario`` so that, without ``--date`` and
    ``--window``, they use the same timetable as the last ``placement access`` run on the
    same input files (and read its cached table) instead of the default window.

    Parameters
    ----------
    dataset_dir : str or Path
        Dataset folder.

    Returns
    -------
    dict or None
        ``date`` (as given to ``access``, None = the default date), ``window`` (two ``HH:MM``
        texts), ``step_min`` and ``service_date`` (the date used); None when no table was
        computed for the current input files.
    """
    path = (Path(settings.cache_folder) / "access" / "last"
            / f"{_inputs_digest(Path(dataset_dir))}.json")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and "window" in record else None


def accessibility_for_dataset(
    dataset_dir: str | Path,
    *,
    date: dt.date | str | None = None,
    window: tuple[str, str] = ("07:00", "09:00"),
    step_min: float = 2,
    walk_speed_kmh: float = DEFAULT_WALK_SPEED_KMH,
    thresholds: Sequence[int] = schema.WALK_THRESHOLDS_MIN,
    extra_points: Mapping[str, tuple[float, float]] | None = None,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    use_cache: bool = True,
) -> pd.DataFrame:
    """Load a dataset and compute (or read from the cache) its accessibility table.

    Parameters
    ----------
    dataset_dir : str or Path
        Folder with ``dataset.toml`` (see CONTRACTS.md).
    date, window, step_min, walk_speed_kmh, thresholds, extra_points, max_snap_m
        As in :func:`compute_accessibility`.
    use_cache : bool, default True
        Read/write ``settings.cache_folder / "access" / "<sha256>.parquet"``; the key
        (:func:`cache_key`) hashes the bytes of ``dataset.toml`` and the boundary, OSM, GTFS
        and dwellings files, the amenity tag table, the package version and every parameter,
        so changing any of them recomputes. Writing a table prunes old ones
        (:func:`prune_cache`).

    Returns
    -------
    pandas.DataFrame
        As :func:`compute_accessibility`.
    """
    dataset_dir = Path(dataset_dir)
    params = {
        "date": None if date is None else str(date),
        "window": list(window),
        "step_min": float(step_min),
        "walk_speed_kmh": float(walk_speed_kmh),
        "thresholds": [int(t) for t in thresholds],
        "extra_points": {k: list(v) for k, v in sorted((extra_points or {}).items())},
        "max_snap_m": float(max_snap_m),
    }
    cache_file = None
    if use_cache:
        folder = Path(settings.cache_folder) / "access"
        cache_file = folder / f"{cache_key(dataset_dir, params)}.parquet"
        if cache_file.is_file():
            logger.info("accessibility table read from cache file '%s'", cache_file)
            table = pd.read_parquet(cache_file)
            with contextlib.suppress(OSError):  # recently used: pruning keeps it
                os.utime(cache_file)
            _remember_params(dataset_dir, params, table.attrs)
            return table
    # imported only when computing: a cache hit does not pay for osmnx and gtfs-kit
    from placement import dataset as dataset_mod
    from placement import gtfs_area, osm
    from placement.gtfs import load_gtfs

    ds = dataset_mod.load_dataset(dataset_dir)
    graph = osm.walk_network_from_file(ds.osm_path, boundary=ds.boundary,
                                       walk_speed_kmh=walk_speed_kmh)
    amenities = osm.amenities_from_file(ds.osm_path, boundary=ds.boundary)
    feed = stops = None
    if ds.gtfs_path is not None and gtfs_area.is_stop_list(ds.gtfs_path):
        stops = gtfs_area.load_stop_list(ds.gtfs_path, boundary=ds.boundary)
    elif ds.gtfs_path is not None and use_cache:
        feed = load_gtfs(ds.gtfs_path, boundary=ds.boundary)
    elif ds.gtfs_path is not None:
        feed = gtfs_area.load_clipped_gtfs(ds.gtfs_path, ds.boundary, use_cache=False)
    coverage = osm_coverage(ds.osm_path, graph)
    df = compute_accessibility(
        ds.dwellings,
        graph,
        amenities,
        feed=feed,
        date=date,
        window=window,
        step_min=step_min,
        walk_speed_kmh=walk_speed_kmh,
        thresholds=thresholds,
        extra_points=extra_points,
        max_snap_m=max_snap_m,
        stops=stops,
        coverage=coverage,
    )
    # the OSM building each dwelling lies in: its building when building_id is not given
    pts = to_storage(ds.dwellings).geometry
    df["osm_building"] = pd.array(
        osm.building_of_points(ds.osm_path, pts.x.to_numpy(float), pts.y.to_numpy(float))
        .astype(str), dtype=object)
    if cache_file is not None:
        write_access_table(df, None, cache_file)
        logger.info("accessibility table cached in '%s'", cache_file)
        prune_cache(cache_file.parent, keep=cache_file)
        _remember_params(dataset_dir, params, df.attrs)
    return df
