"""Schedule-based public-transport routing: door-to-door travel times from a GTFS timetable.

The router works on one *service day*. :func:`build_timetable` turns a ``gtfs_kit.Feed`` into the
elementary *connections* of that day (one vehicle going from one stop to the next), and
:func:`door_to_door_times` answers, for many origins and many departure times at once, "how long
does it take to reach this destination by walking and public transport, leaving at time t?".

Model of a journey (the brute-force check in ``tests/test_transit.py`` encodes the same rules):

* The traveller leaves the origin at ``t``, walks to a stop ``s`` (``access[o, s]`` seconds) and
  boards any vehicle departing from ``s`` at or after ``t + access``.
* Staying seated on the same trip costs nothing (a trip that visits a stop twice is fine).
* Changing vehicle at the alighting stop needs ``min_transfer_s``; changing via a footpath to
  another stop needs ``footpath_s + min_transfer_s``. At most one footpath per change (pass a
  transitively closed footpath matrix if longer walks between stops are wanted).
* From the stop where the traveller leaves the last vehicle, they walk ``egress[s]`` seconds to
  the destination.
* The answer is the minimum of that and walking all the way (``direct_walk_s``); journeys longer
  than ``max_travel_s`` count as unreachable (``inf``).

Algorithm: a backward *profile* Connection Scan (Dibbelt, Pajor, Strasser, Wagner, "Connection
Scan Algorithm", 2018) per destination builds, for every stop, the Pareto set of (departure
time at the stop, earliest arrival at the destination). The origins and departure times are
then answered by one merge pass over these profiles per access entry. The scan and the
lookup run compiled (numba, :func:`placement._kernels.profile_scan`); the pure-Python scan it
replaces is kept as :func:`_profile_scan_reference` and gives the same profiles (tested on the
demo and the Porto Alegre feeds). ``benchmarks/transit.py`` times both, in connections
scanned per second.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import weakref
from bisect import bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from placement._threads import chunks, n_threads, run_parts

if TYPE_CHECKING:
    import gtfs_kit

logger = logging.getLogger(__name__)

#: Seconds in a day; GTFS times past midnight exceed it.
DAY_S = 86_400
#: Earth radius used to interpolate stop times by straight-line distance, in metres.
EARTH_RADIUS_M = 6_371_000.0
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True, eq=False)
class Timetable:
    """The connections of one service day, sorted by departure time.

    A *connection* is one vehicle running from one stop to the next stop of its trip without
    stopping in between.

    Attributes
    ----------
    stop_ids : numpy.ndarray
        ``(n_stops,)`` str: GTFS ``stop_id`` of every stop index, sorted. Every stop of the feed
        has an index, also stops without departures, so that access/egress matrices built from
        ``feed.stops`` line up with it.
    stop_lat, stop_lon : numpy.ndarray
        ``(n_stops,)`` float degrees (WGS84) of each stop, NaN where the feed has none.
    dep_stop, arr_stop : numpy.ndarray
        ``(n_conn,)`` int32 stop indices where the connection departs and arrives.
    dep_s, arr_s : numpy.ndarray
        ``(n_conn,)`` int32 seconds after midnight of the service date. Times past midnight exceed
        86 400; trips of the previous service day that run past midnight are included shifted by
        -86 400 s.
    trip : numpy.ndarray
        ``(n_conn,)`` int32 trip index (into ``trip_ids``/``route_ids``).
    trip_ids : numpy.ndarray
        ``(n_trips,)`` str GTFS ``trip_id`` of each trip index. A trip of the previous day carries
        the suffix ``"@-1d"``, a run expanded from ``frequencies.txt`` ``"#<start seconds>"``.
    route_ids : numpy.ndarray
        ``(n_trips,)`` str GTFS ``route_id`` of each trip index.
    service_date : datetime.date
        The service date whose midnight is time 0.
    """

    stop_ids: np.ndarray
    stop_lat: np.ndarray
    stop_lon: np.ndarray
    dep_stop: np.ndarray
    arr_stop: np.ndarray
    dep_s: np.ndarray
    arr_s: np.ndarray
    trip: np.ndarray
    trip_ids: np.ndarray
    route_ids: np.ndarray
    service_date: dt.date

    @property
    def n_stops(self) -> int:
        """Number of stops (length of ``stop_ids``)."""
        return len(self.stop_ids)

    @property
    def n_connections(self) -> int:
        """Number of connections."""
        return len(self.dep_s)

    def stop_index(self, stop_ids: object) -> np.ndarray:
        """Return the stop indices of GTFS ``stop_id`` values.

        Parameters
        ----------
        stop_ids
            One id or a sequence of ids, all present in the timetable.

        Returns
        -------
        numpy.ndarray
            int64 indices into ``stop_ids``.

        Raises
        ------
        KeyError
            If an id is not a stop of the feed.
        """
        ids = np.atleast_1d(np.asarray(stop_ids, dtype=object)).astype(str)
        idx = np.searchsorted(self.stop_ids, ids)
        idx_clipped = np.minimum(idx, max(len(self.stop_ids) - 1, 0))
        bad = (idx >= len(self.stop_ids)) | (self.stop_ids[idx_clipped] != ids)
        if bad.any():
            msg = f"unknown stop_id(s): {', '.join(ids[bad][:5])}"
            raise KeyError(msg)
        return idx.astype(np.int64)


# ----------------------------------------------------------------------------------------------
# Building the timetable
# ----------------------------------------------------------------------------------------------


def _as_date(date: dt.date | str) -> dt.date:
    if isinstance(date, dt.datetime):
        return date.date()
    if isinstance(date, dt.date):
        return date
    text = str(date).strip()
    try:
        if len(text) == 8 and text.isdigit():
            return dt.datetime.strptime(text, "%Y%m%d").date()
        return dt.date.fromisoformat(text)
    except ValueError as err:
        msg = f"date must be a datetime.date, 'YYYY-MM-DD' or 'YYYYMMDD', got {date!r}"
        raise ValueError(msg) from err


def active_service_ids(feed: gtfs_kit.Feed, date: dt.date | str) -> set[str]:
    """Return the ``service_id`` values that run on a date.

    A service runs when ``calendar.txt`` covers the date (``start_date`` ≤ date ≤ ``end_date`` and
    the weekday column is 1) and ``calendar_dates.txt`` does not remove it (``exception_type`` 2),
    or when ``calendar_dates.txt`` adds it (``exception_type`` 1).

    Parameters
    ----------
    feed
        A feed read by ``gtfs_kit.read_feed`` (or ``placement.gtfs.load_gtfs``).
    date
        The service date.

    Returns
    -------
    set of str
        Active service ids.
    """
    day = _as_date(date)
    ymd = day.strftime("%Y%m%d")
    active: set[str] = set()
    cal = feed.calendar
    if cal is not None and len(cal):
        start = cal["start_date"].astype(str).str.strip()
        end = cal["end_date"].astype(str).str.strip()
        flag = pd.to_numeric(cal[_WEEKDAYS[day.weekday()]], errors="coerce").fillna(0)
        runs = (start <= ymd) & (end >= ymd) & (flag.to_numpy() == 1)
        active = set(cal.loc[runs.to_numpy(), "service_id"].astype(str))
    cd = feed.calendar_dates
    if cd is not None and len(cd):
        on_day = cd[cd["date"].astype(str).str.strip() == ymd]
        kind = pd.to_numeric(on_day["exception_type"], errors="coerce").to_numpy()
        sids = on_day["service_id"].astype(str).to_numpy()
        active |= set(sids[kind == 1])
        active -= set(sids[kind == 2])
    return active


def _active_trip_ids(feed: gtfs_kit.Feed, date: dt.date) -> np.ndarray:
    services = active_service_ids(feed, date)
    trips = feed.trips
    mask = trips["service_id"].astype(str).isin(services).to_numpy()
    return np.unique(trips.loc[mask, "trip_id"].astype(str).to_numpy())


def _parse_hms_fast(text: pd.Series) -> np.ndarray | None:
    """Parse stripped ``H:MM:SS`` texts (1-3 hour digits) with array arithmetic.

    None when any non-empty text has another form (the general parser then decides).
    """
    arr = text.to_numpy(dtype=object, na_value="").astype(str)
    n = len(arr)
    out = np.full(n, np.nan)
    width = arr.dtype.itemsize // 4
    if n == 0 or width == 0:
        return out
    if width > 9:
        return None
    codes = arr.view(np.uint32).reshape(n, width).astype(np.int64) - 48
    length = np.char.str_len(arr)
    rows = np.flatnonzero(length > 0)
    ln = length[rows]
    if len(rows) == 0:
        return out
    if ln.min() < 7:
        return None
    c = codes[rows]

    def at(k: np.ndarray) -> np.ndarray:
        return c[np.arange(len(rows)), k]

    s2, s1, m2, m1 = at(ln - 1), at(ln - 2), at(ln - 4), at(ln - 5)
    digits = np.c_[s2, s1, m2, m1]
    ok = ((digits >= 0) & (digits <= 9)).all(axis=1)
    ok &= (at(ln - 3) == ord(":") - 48) & (at(ln - 6) == ord(":") - 48)
    hours = np.zeros(len(rows), np.int64)
    for k in range(3):
        used = k < ln - 6
        d = c[:, k]
        ok &= ~used | ((d >= 0) & (d <= 9))
        hours = np.where(used, hours * 10 + d, hours)
    if not ok.all():
        return None
    out[rows] = (hours * 3600 + (m1 * 10 + m2) * 60 + (s1 * 10 + s2)).astype(float)
    return out


def _parse_gtfs_time_s(values: pd.Series) -> np.ndarray:
    """Parse ``H:MM:SS`` strings (hours may exceed 23) to float seconds, NaN where empty.

    Each distinct text is parsed once (a timetable repeats its times: a day has at most
    86,400 seconds, a national feed millions of stop times).
    """
    codes, uniques = pd.factorize(pd.Series(values).to_numpy(dtype=object))
    parsed = np.r_[_parse_distinct_times_s(pd.Series(uniques, dtype=object)), np.nan]
    return parsed[codes]  # code -1 (a missing value) reads the NaN at the end


def _parse_distinct_times_s(values: pd.Series) -> np.ndarray:
    text = values.astype("string").str.strip()
    fast = _parse_hms_fast(text)
    if fast is not None:
        return fast
    text = text.mask(text == "")
    parts = text.str.split(":", expand=True)
    out = np.full(len(values), np.nan)
    if parts.shape[1] < 3:
        return out
    h = pd.to_numeric(parts[0], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    m = pd.to_numeric(parts[1], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    s = pd.to_numeric(parts[2], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return h * 3600 + m * 60 + s


def _stop_table(feed: gtfs_kit.Feed) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    stops = feed.stops
    ids = stops["stop_id"].astype(str).to_numpy()
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    keep = np.r_[True, ids[1:] != ids[:-1]]
    lat = pd.to_numeric(stops["stop_lat"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    lon = pd.to_numeric(stops["stop_lon"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return ids[keep], lat[order][keep], lon[order][keep]


def interpolate_trip_times(
    stop_times: pd.DataFrame, stop_lat: np.ndarray, stop_lon: np.ndarray, stop_index: np.ndarray
) -> pd.DataFrame:
    """Fill missing stop times by linear interpolation along each trip.

    Real feeds often give times only at timepoints (or, like Porto Alegre's, only at the first
    and last stop). A missing time is interpolated between the previous and the next timed stop
    of the same trip in proportion to the straight-line distance travelled between the stops
    (by stop count where the stops have no coordinates or the distance is zero), truncated to
    whole seconds as GTFS tools do (gtfs-lib, used by R5, truncates; with rounding a change
    without slack could look possible half a second early). Stops before the first or after
    the last timed stop of a trip are dropped.

    Parameters
    ----------
    stop_times
        Rows of ``stop_times.txt`` with ``trip_id``, ``stop_sequence``, ``arrival_time``,
        ``departure_time`` (GTFS ``H:MM:SS`` strings).
    stop_lat, stop_lon
        Degrees per row's stop (aligned with ``stop_times`` rows), NaN when unknown.
    stop_index
        Stop index per row (aligned with ``stop_times`` rows).

    Returns
    -------
    pandas.DataFrame
        Columns ``trip_id`` (str), ``stop`` (int), ``arr_s``, ``dep_s`` (int seconds), sorted by
        trip and stop sequence.
    """
    # sorted by trip and stop sequence, stable: the trip ids factorised in their sorted order
    # (a hash pass, then a sort of the distinct ids only) and the rows ordered by integer keys
    trip_code, trip_uniques = pd.factorize(
        stop_times["trip_id"].astype(str).to_numpy(dtype=object), sort=True
    )
    seq = pd.to_numeric(stop_times["stop_sequence"]).to_numpy(dtype=np.int64)
    order = np.lexsort((seq, trip_code))
    trip_code = trip_code[order]
    stop = np.asarray(stop_index, dtype=np.int64)[order]
    arr = _parse_gtfs_time_s(stop_times["arrival_time"])[order]
    dep = _parse_gtfs_time_s(stop_times["departure_time"])[order]
    arr = np.where(np.isnan(arr), dep, arr)
    dep = np.where(np.isnan(dep), arr, dep)
    early = dep < arr  # a vehicle cannot leave before it arrives (load_gtfs refuses such feeds)
    if early.any():
        logger.warning("%s stop_times rows depart before they arrive; their departure is taken "
                       "as the arrival", int(early.sum()))
        dep = np.where(early, arr, dep)
    n = len(trip_code)
    idx = np.arange(n)
    same_trip_prev = np.r_[False, trip_code[1:] == trip_code[:-1]]
    # straight-line distance from the previous stop of the trip (0 at a trip's first stop)
    lat = np.radians(np.asarray(stop_lat, dtype=float)[order])
    lon = np.radians(np.asarray(stop_lon, dtype=float)[order])
    seg = np.zeros(n)
    if n > 1:
        dlat = lat[1:] - lat[:-1]
        dlon = lon[1:] - lon[:-1]
        a = np.sin(dlat / 2) ** 2 + np.cos(lat[1:]) * np.cos(lat[:-1]) * np.sin(dlon / 2) ** 2
        seg[1:] = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0, 1)))
    seg = np.where(same_trip_prev & np.isfinite(seg), seg, 0.0)
    cum = np.cumsum(seg)
    known = ~np.isnan(arr)
    prev_k = np.maximum.accumulate(np.where(known, idx, -1))
    next_k = np.minimum.accumulate(np.where(known, idx, n)[::-1])[::-1]
    ok = known.copy()
    fill = ~known & (prev_k >= 0) & (next_k < n)
    if fill.any():
        p = prev_k[fill]
        q = next_k[fill]
        same = (trip_code[p] == trip_code[fill]) & (trip_code[q] == trip_code[fill])
        i = idx[fill]
        span = cum[q] - cum[p]
        by_dist = (cum[i] - cum[p]) / np.where(span > 0, span, 1)
        frac = np.where(span > 0, by_dist, (i - p) / (q - p))
        # truncate (a tiny epsilon keeps exact whole seconds whole despite floating point)
        t = np.floor(dep[p] + frac * (arr[q] - dep[p]) + 1e-9)
        t_all = np.full(len(i), np.nan)
        t_all[same] = t[same]
        arr[i] = t_all
        dep[i] = t_all
        ok[i] = same
    dropped = int((~ok).sum())
    if dropped:
        logger.warning("dropped %s stop_times rows outside the timed part of their trip", dropped)
    out = pd.DataFrame(
        {
            "trip_id": np.asarray(trip_uniques, dtype=object)[trip_code[ok]],
            "stop": stop[ok],
            "arr_s": np.rint(arr[ok]).astype(np.int64),
            "dep_s": np.rint(dep[ok]).astype(np.int64),
        }
    )
    return out


def _expand_frequencies(times: pd.DataFrame, feed: gtfs_kit.Feed) -> pd.DataFrame:
    """Replace trips listed in ``frequencies.txt`` by one run per headway."""
    freq = getattr(feed, "frequencies", None)
    if freq is None or not len(freq):
        return times
    freq = freq[freq["trip_id"].astype(str).isin(set(times["trip_id"]))]
    if not len(freq):
        return times
    start = _parse_gtfs_time_s(freq["start_time"])
    end = _parse_gtfs_time_s(freq["end_time"])
    headway = pd.to_numeric(freq["headway_secs"], errors="coerce").to_numpy(dtype=float)
    freq_trips = freq["trip_id"].astype(str).to_numpy()
    runs = []
    grouped = dict(tuple(times.groupby("trip_id", sort=False)))
    for trip_id, t0, t1, h in zip(freq_trips, start, end, headway, strict=True):
        if not (np.isfinite(t0) and np.isfinite(t1) and np.isfinite(h) and h > 0):
            continue
        template = grouped[trip_id]
        base = int(template["dep_s"].iloc[0])
        for run_start in np.arange(int(t0), int(t1), int(h)):
            run = template.copy()
            shift = int(run_start) - base
            run["arr_s"] += shift
            run["dep_s"] += shift
            run["trip_id"] = f"{trip_id}#{int(run_start)}"
            runs.append(run)
    rest = times[~times["trip_id"].isin(set(freq_trips))]
    return pd.concat([rest, *runs], ignore_index=True) if runs else rest


def _day_connections(
    feed: gtfs_kit.Feed,
    trip_ids: np.ndarray,
    stop_ids: np.ndarray,
    stop_lat: np.ndarray,
    stop_lon: np.ndarray,
) -> pd.DataFrame:
    """Return the connections (unshifted times) of the given trips, with their trip ids."""
    st = feed.stop_times
    st = st[st["trip_id"].astype(str).isin(set(trip_ids))]
    cols = ["trip_id", "gtfs_trip_id", "dep_stop", "arr_stop", "dep_s", "arr_s"]
    if not len(st):
        return pd.DataFrame({c: pd.Series(dtype=object if c == "trip_id" else int) for c in cols})
    sid = st["stop_id"].astype(str).to_numpy()
    # a hash lookup in the (unique) stop ids: linear, where a binary search of 2 million
    # strings took seconds
    stop_idx = pd.Index(stop_ids).get_indexer(sid)
    known = stop_idx >= 0
    if not known.all():
        logger.warning("ignored %s stop_times rows with a stop_id not in stops", (~known).sum())
        st = st[known]
        stop_idx = stop_idx[known]
    times = interpolate_trip_times(st, stop_lat[stop_idx], stop_lon[stop_idx], stop_idx)
    times["gtfs_trip_id"] = times["trip_id"]
    expanded = _expand_frequencies(times, feed)
    if expanded is not times:  # runs added at the end (without, the rows are in trip order)
        expanded = expanded.sort_values(["trip_id"], kind="stable").reset_index(drop=True)
    times = expanded
    tid = times["trip_id"].to_numpy()
    nxt = np.r_[tid[1:] == tid[:-1], False]
    i = np.flatnonzero(nxt)
    conn = pd.DataFrame(
        {
            "trip_id": tid[i],
            "gtfs_trip_id": times["gtfs_trip_id"].to_numpy()[i],
            "dep_stop": times["stop"].to_numpy()[i],
            "arr_stop": times["stop"].to_numpy()[i + 1],
            "dep_s": times["dep_s"].to_numpy()[i],
            "arr_s": times["arr_s"].to_numpy()[i + 1],
        }
    )
    backwards = conn["arr_s"] < conn["dep_s"]
    if backwards.any():
        logger.warning("dropped %s connections that arrive before they depart", backwards.sum())
        conn = conn[~backwards]
    return conn


def build_timetable(feed: gtfs_kit.Feed, date: dt.date | str) -> Timetable:
    """Build the connections usable on one service date.

    Includes every trip whose service runs on ``date`` (``calendar.txt`` plus the additions and
    removals of ``calendar_dates.txt``, see :func:`active_service_ids`) and the part after
    midnight of the trips of the previous service date that run past 24:00:00, shifted by
    -86 400 s (a 24:30:00 departure of yesterday is usable at 00:30 today). Missing intermediate
    stop times are interpolated (:func:`interpolate_trip_times`) and ``frequencies.txt`` trips are
    expanded into one run per headway.

    Parameters
    ----------
    feed
        A feed read by ``gtfs_kit.read_feed`` (or ``placement.gtfs.load_gtfs``).
    date
        Service date: a ``datetime.date``, ``"YYYY-MM-DD"`` or ``"YYYYMMDD"``.

    Returns
    -------
    Timetable
        Connections sorted by departure time (then arrival time, trip and order in the trip).
    """
    started = time.perf_counter()
    day = _as_date(date)
    stop_ids, stop_lat, stop_lon = _stop_table(feed)
    today = _day_connections(feed, _active_trip_ids(feed, day), stop_ids, stop_lat, stop_lon)
    yesterday = _day_connections(
        feed, _active_trip_ids(feed, day - dt.timedelta(days=1)), stop_ids, stop_lat, stop_lon
    )
    yesterday = yesterday[yesterday["dep_s"] >= DAY_S].copy()
    yesterday["dep_s"] -= DAY_S
    yesterday["arr_s"] -= DAY_S
    conn = pd.concat([today, yesterday], ignore_index=True)
    # a trip is its id and day ("@-1d" marks yesterday's), numbered in the sorted order of
    # those keys; the keys are made for the distinct ids only, not for every connection
    c0, u0 = pd.factorize(today["trip_id"].to_numpy(dtype=object))
    c1, u1 = pd.factorize(yesterday["trip_id"].to_numpy(dtype=object))
    keys = np.array([str(u) for u in u0] + [f"{u}@-1d" for u in u1], dtype=object)
    key_codes, trip_ids = pd.factorize(keys, sort=True)
    trip_codes = key_codes[np.r_[c0, len(u0) + c1]]
    trip_ids = np.asarray(trip_ids, dtype=str)
    route_of = dict(
        zip(feed.trips["trip_id"].astype(str), feed.trips["route_id"].astype(str), strict=True)
    )
    gtfs_trip = np.empty(len(trip_ids), dtype=object)
    gtfs_trip[trip_codes] = conn["gtfs_trip_id"].to_numpy()
    route_ids = np.array([route_of.get(t, "") for t in gtfs_trip], dtype=str)
    dep_s = conn["dep_s"].to_numpy(dtype=np.int64)
    arr_s = conn["arr_s"].to_numpy(dtype=np.int64)
    # by departure, arrival, trip, then the order within the trip (rows of a trip are
    # consecutive): a stable sort of integer keys
    by_time = np.lexsort((np.arange(len(conn)), trip_codes, arr_s, dep_s))
    tt = Timetable(
        stop_ids=stop_ids.astype(str),
        stop_lat=stop_lat,
        stop_lon=stop_lon,
        dep_stop=conn["dep_stop"].to_numpy(dtype=np.int32)[by_time],
        arr_stop=conn["arr_stop"].to_numpy(dtype=np.int32)[by_time],
        dep_s=dep_s[by_time].astype(np.int32),
        arr_s=arr_s[by_time].astype(np.int32),
        trip=trip_codes[by_time].astype(np.int32),
        trip_ids=trip_ids,
        route_ids=route_ids,
        service_date=day,
    )
    logger.info(
        "timetable for %s: %s connections on %s trips, %s stops (%.2f s)",
        day,
        f"{tt.n_connections:,}",
        f"{len(trip_ids):,}",
        f"{tt.n_stops:,}",
        time.perf_counter() - started,
    )
    return tt


def stop_departures(tt: Timetable, start_s: int, end_s: int) -> np.ndarray:
    """Count departures per stop in a time window.

    Parameters
    ----------
    tt
        The timetable.
    start_s, end_s
        Window ``[start_s, end_s)`` in seconds after midnight of the service date.

    Returns
    -------
    numpy.ndarray
        ``(n_stops,)`` int64: number of vehicles leaving each stop in the window (the last stop of
        a trip is not a departure).
    """
    in_window = (tt.dep_s >= start_s) & (tt.dep_s < end_s)
    return np.bincount(tt.dep_stop[in_window], minlength=tt.n_stops).astype(np.int64)


# ----------------------------------------------------------------------------------------------
# Routing
# ----------------------------------------------------------------------------------------------


def _check_inputs(
    tt: Timetable,
    access: sp.csr_matrix,
    egress: np.ndarray,
    direct_walk_s: np.ndarray,
    footpaths: sp.csr_matrix,
    departure_times_s: np.ndarray,
    min_transfer_s: int,
) -> None:
    n_origins = access.shape[0]
    problems = []
    if access.shape[1] != tt.n_stops:
        problems.append(f"access has {access.shape[1]} columns, the timetable {tt.n_stops} stops")
    if egress.shape != (tt.n_stops,):
        problems.append(f"egress has shape {egress.shape}, expected ({tt.n_stops},)")
    if direct_walk_s.shape != (n_origins,):
        problems.append(f"direct_walk_s has shape {direct_walk_s.shape}, expected ({n_origins},)")
    if footpaths.shape != (tt.n_stops, tt.n_stops):
        problems.append(f"footpaths has shape {footpaths.shape}, expected square of {tt.n_stops}")
    if departure_times_s.ndim != 1:
        problems.append("departure_times_s must be one-dimensional")
    if min_transfer_s < 0:
        problems.append(f"min_transfer_s must be >= 0 seconds, got {min_transfer_s}")
    for name, values in (("access", access.data), ("footpaths", footpaths.data)):
        if values.size and not (np.all(np.isfinite(values)) and values.min() >= 0):
            problems.append(f"{name} must store finite walking seconds >= 0")
    if np.any(egress < 0) or np.any(np.isnan(egress)):
        problems.append("egress must be >= 0 (np.inf where the destination is too far)")
    if problems:
        msg = "door_to_door_times: " + "; ".join(problems)
        raise ValueError(msg)


def _scan_order(dep_s: np.ndarray, arr_s: np.ndarray, *, backward: bool,
                min_transfer_s: int) -> tuple[list[int], list[int]]:
    """:func:`_scan_order_array` as lists (for the pure-Python scans)."""
    order, restart = _scan_order_array(dep_s, arr_s, backward=backward,
                                       min_transfer_s=min_transfer_s)
    return order.tolist(), restart.tolist()


def _scan_order_array(dep_s: np.ndarray, arr_s: np.ndarray, *, backward: bool,
                      min_transfer_s: int) -> tuple[np.ndarray, np.ndarray]:
    """Order in which a connection scan visits connections (sorted by departure, arrival).

    With a change time of 0 s, a zero-length ride arriving at ``t`` can feed another zero-length
    ride departing at the same ``t``, whichever comes first in the sort. Each block of
    zero-length connections with the same departure is then visited as many times as it has
    connections, which settles every chain inside the block (profiles only improve).

    Returns ``(order, restart)``: ``restart`` is aligned with ``order``, ``-L`` where the
    first pass over a block of ``L`` connections begins, ``+L`` where a repeated pass begins,
    0 elsewhere. A scan keeps the state of the block's trips from before its first pass and
    starts every repeated pass from it: on a trip, only the connections after a connection
    (before it, scanning backwards) are reachable from it, also when a pass comes again.
    """
    n = len(dep_s)
    idx = np.arange(n)
    zero = dep_s == arr_s
    if min_transfer_s > 0 or n < 2 or not zero.any():
        return (idx[::-1] if backward else idx), np.zeros(n, np.int64)
    start = np.r_[True, ~zero[1:] | ~zero[:-1] | (dep_s[1:] != dep_s[:-1])]
    starts = np.flatnonzero(start)
    sizes = np.diff(np.r_[starts, n])
    multi = np.flatnonzero((sizes > 1) & zero[starts])
    pieces: list[np.ndarray] = []
    passes: list[tuple[int, int, int]] = []  # (start in order, length, pass number)
    prev = 0
    at = 0
    for b in multi:
        s, e = int(starts[b]), int(starts[b] + sizes[b])
        pieces.append(idx[prev:s])
        at += s - prev
        size = e - s
        for k in range(size):
            pieces.append(idx[s:e])
            passes.append((at, size, k))
            at += size
        prev = e
    pieces.append(idx[prev:])
    order = np.concatenate(pieces)
    restart = np.zeros(len(order), np.int64)
    total = len(order)
    for pos, size, k in passes:
        if backward:  # the same passes from the end: the last one comes first
            restart[total - pos - size] = -size if k == size - 1 else size
        else:
            restart[pos] = -size if k == 0 else size
    return (order[::-1] if backward else order), restart


#: Scan inputs per timetable and (change time, window): the same for every destination.
_SCAN_ARRAYS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _scan_arrays(tt: Timetable, mt: int, lo_s: int, hi_s: int) -> tuple[np.ndarray, ...]:
    """Return the window's connections as int64 arrays, the scan order and the profile room."""
    per_tt = _SCAN_ARRAYS.setdefault(tt, {})
    key = (mt, lo_s, hi_s)
    if key not in per_tt:
        if len(per_tt) >= 4:  # a few windows per timetable are enough
            per_tt.clear()
        window = np.flatnonzero((tt.dep_s >= lo_s) & (tt.arr_s <= hi_s))
        dep_stop = tt.dep_stop[window].astype(np.int64)
        base = np.r_[0, np.cumsum(np.bincount(dep_stop, minlength=tt.n_stops))]
        order, restart = _scan_order_array(tt.dep_s[window], tt.arr_s[window],
                                           backward=True, min_transfer_s=mt)
        per_tt[key] = (order.astype(np.int64), restart, dep_stop,
                       tt.arr_stop[window].astype(np.int64),
                       tt.dep_s[window].astype(np.int64), tt.arr_s[window].astype(np.int64),
                       tt.trip[window].astype(np.int64), base.astype(np.int64))
    return per_tt[key]


def _profile_scan(
    tt: Timetable,
    egress: np.ndarray,
    footpaths: sp.csr_matrix,
    min_transfer_s: int,
    lo_s: int,
    hi_s: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Backward profile connection scan towards one destination (compiled).

    The same scan as :func:`_profile_scan_reference`, step for step, in
    :func:`placement._kernels.profile_scan`. Returns ``(ptr, dep, arr, n_scanned)`` with the
    profiles as the reference returns them and the number of connections scanned.
    """
    from placement._kernels import profile_scan

    order, restart, dep_stop, arr_stop, dep_s, arr_s, trip, base = _scan_arrays(
        tt, int(min_transfer_s), int(lo_s), int(hi_s))
    nd, aa, ln = profile_scan(
        order, restart, dep_stop, arr_stop, dep_s, arr_s, trip, len(tt.trip_ids),
        egress.astype(np.float64), footpaths.indptr.astype(np.int64),
        footpaths.indices.astype(np.int64), footpaths.data.astype(np.float64),
        int(min_transfer_s), base,
    )
    ptr = np.r_[0, np.cumsum(ln)].astype(np.int64)
    # entry q of stop s (reversed: departure ascending) is nd[base[s] + ln[s] - 1 - q]
    stop_of = np.repeat(np.arange(tt.n_stops), ln)
    q = np.arange(ptr[-1]) - ptr[stop_of]
    src = base[stop_of] + ln[stop_of] - 1 - q
    dep = (-nd[src]).astype(np.int64)
    return ptr, dep, aa[src], len(order)


def _profile_scan_reference(
    tt: Timetable,
    egress: np.ndarray,
    footpaths: sp.csr_matrix,
    min_transfer_s: int,
    lo_s: int,
    hi_s: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward profile connection scan towards one destination (pure Python reference).

    Returns the profiles of all stops as three flat arrays sorted by (stop, departure): for stop
    ``s`` the entries ``ptr[s]:ptr[s+1]`` of ``dep`` (ascending) and ``arr`` (ascending: the
    earliest arrival at the destination when boarding at ``s`` at or after ``dep``).
    """
    n_stops = tt.n_stops
    window = np.flatnonzero((tt.dep_s >= lo_s) & (tt.arr_s <= hi_s))
    dep_stop = tt.dep_stop[window].tolist()
    arr_stop = tt.arr_stop[window].tolist()
    dep_s = tt.dep_s[window].tolist()
    arr_s = tt.arr_s[window].tolist()
    trip = tt.trip[window].tolist()
    inf = float("inf")
    egress_l = egress.astype(float).tolist()
    fp_ptr = footpaths.indptr.tolist()
    fp_idx = footpaths.indices.tolist()
    fp_s = footpaths.data.astype(float).tolist()
    # per stop: -departure (ascending as we scan backwards) and arrival (descending)
    neg_dep: list[list[int]] = [[] for _ in range(n_stops)]
    arr_at: list[list[float]] = [[] for _ in range(n_stops)]
    trip_best = [inf] * len(tt.trip_ids)
    mt = min_transfer_s
    order, restart = _scan_order(tt.dep_s[window], tt.arr_s[window], backward=True,
                                 min_transfer_s=mt)
    saved = [inf] * len(tt.trip_ids)
    for pos, c in enumerate(order):
        if restart[pos]:  # a block's passes start from the trips' state before it
            for j in order[pos:pos + abs(restart[pos])]:
                if restart[pos] < 0:
                    saved[trip[j]] = trip_best[trip[j]]
                else:
                    trip_best[trip[j]] = saved[trip[j]]
        v = arr_stop[c]
        ta = arr_s[c]
        k = trip[c]
        best = trip_best[k]  # staying seated
        reach = ta + egress_l[v]  # alight and walk to the destination
        if reach < best:
            best = reach
        nd = neg_dep[v]  # change vehicle at the same stop
        if nd:
            i = bisect_right(nd, -(ta + mt)) - 1
            if i >= 0 and arr_at[v][i] < best:
                best = arr_at[v][i]
        for j in range(fp_ptr[v], fp_ptr[v + 1]):  # change vehicle via a footpath
            w = fp_idx[j]
            nd = neg_dep[w]
            if w == v or not nd:
                continue
            i = bisect_right(nd, -(ta + fp_s[j] + mt)) - 1
            if i >= 0 and arr_at[w][i] < best:
                best = arr_at[w][i]
        if best == inf:
            continue
        trip_best[k] = best
        u = dep_stop[c]
        au = arr_at[u]
        if not au or best < au[-1]:
            nu = neg_dep[u]
            td = -dep_s[c]
            if au and nu[-1] == td:
                au[-1] = best
            else:
                nu.append(td)
                au.append(best)
    sizes = np.fromiter((len(a) for a in arr_at), dtype=np.int64, count=n_stops)
    ptr = np.r_[0, np.cumsum(sizes)]
    dep = np.fromiter((-d for nd in neg_dep for d in reversed(nd)), dtype=np.int64, count=ptr[-1])
    arr = np.fromiter((a for au in arr_at for a in reversed(au)), dtype=float, count=ptr[-1])
    return ptr, dep, arr


def door_to_door_times(
    tt: Timetable,
    access: sp.csr_matrix,
    egress: np.ndarray,
    direct_walk_s: np.ndarray,
    footpaths: sp.csr_matrix,
    departure_times_s: np.ndarray,
    *,
    min_transfer_s: int = 60,
    max_travel_s: int = 3 * 3600,
) -> np.ndarray:
    """Door-to-door travel time by walking and public transport to one destination.

    Parameters
    ----------
    tt
        Timetable of the service day (:func:`build_timetable`).
    access
        ``(n_origins, n_stops)`` CSR matrix: walking seconds from each origin to each stop. Only
        stored entries are reachable (an explicit 0 is a stop at the door).
    egress
        ``(n_stops,)`` walking seconds from each stop to the destination, ``np.inf`` where too far.
    direct_walk_s
        ``(n_origins,)`` walking seconds from each origin to the destination (``np.inf`` where too
        far).
    footpaths
        ``(n_stops, n_stops)`` CSR matrix: walking seconds between stops, used to change vehicle
        (one footpath per change; the diagonal is ignored).
    departure_times_s
        ``(n_dep,)`` times the traveller leaves the origin, seconds after midnight of the service
        date.
    min_transfer_s
        Seconds needed to change vehicle (0 or more), added to the footpath time when changing
        stop.
    max_travel_s
        Longest travel time counted; longer journeys are ``np.inf``.

    Returns
    -------
    numpy.ndarray
        ``(n_origins, n_dep)`` float seconds: arrival at the destination minus departure from the
        origin, the smaller of public transport (with waiting) and walking all the way; ``np.inf``
        where the destination cannot be reached within ``max_travel_s``.

    See Also
    --------
    earliest_arrival : one origin and one departure time at a time (the reference algorithm).

    Notes
    -----
    Per call: one backward profile connection scan over the connections departing in
    ``[min(departure_times_s), max(departure_times_s) + max_travel_s]``, then one compiled
    merge over the departure times per access entry. Call once per destination.
    """
    started = time.perf_counter()
    access = sp.csr_matrix(access)
    footpaths = sp.csr_matrix(footpaths)
    egress = np.asarray(egress, dtype=float)
    direct_walk_s = np.asarray(direct_walk_s, dtype=float)
    deps = np.asarray(departure_times_s, dtype=np.int64)
    _check_inputs(tt, access, egress, direct_walk_s, footpaths, deps, min_transfer_s)
    n_origins = access.shape[0]
    out = np.full((n_origins, deps.size), np.inf)
    if deps.size == 0 or n_origins == 0:
        return out
    lo_s = int(deps.min())
    hi_s = int(deps.max()) + int(max_travel_s)
    scan_started, scan_cpu = time.perf_counter(), time.thread_time()
    ptr, pdep, parr, n_scanned = _profile_scan(tt, egress, footpaths, int(min_transfer_s),
                                               lo_s, hi_s)
    scan_s, scan_cpu_s = time.perf_counter() - scan_started, time.thread_time() - scan_cpu
    # per origin and departure: the best arrival over its access stops (compiled merge)
    from placement._kernels import profile_lookup

    width = hi_s - lo_s + 2
    n_entries = len(pdep)
    if n_entries:
        indptr = access.indptr.astype(np.int64)
        indices = access.indices.astype(np.int64)
        walk = np.ceil(access.data).astype(np.int64)

        def rows(p: slice) -> None:  # origins on their own: rows of ``out`` split over threads
            profile_lookup(indptr[p.start:p.stop + 1], indices, walk, deps, lo_s, width, ptr,
                           pdep, parr, out[p])

        run_parts(rows, chunks(n_origins, n_threads(), 2_048))
    out = np.minimum(out, direct_walk_s[:, None])
    out[out > max_travel_s] = np.inf
    logger.info(
        "door_to_door_times: %s origins × %s departures, %s connections scanned in %.3f s, "
        "%s profile entries (%.2f s)",
        f"{n_origins:,}",
        deps.size,
        f"{n_scanned:,}",
        scan_s,
        f"{n_entries:,}",
        time.perf_counter() - started,
        extra={"connections_scanned": n_scanned, "scan_s": scan_s, "scan_cpu_s": scan_cpu_s},
    )
    return out


def earliest_arrival(
    tt: Timetable,
    access_s: np.ndarray,
    egress: np.ndarray,
    footpaths: sp.csr_matrix,
    departure_s: int,
    *,
    min_transfer_s: int = 60,
) -> float:
    """Earliest arrival at one destination by public transport from one origin and time.

    The plain (forward) Connection Scan for a single query, with the same journey rules as
    :func:`door_to_door_times` but without the walking-only alternative. It is the reference
    used in the tests and the baseline of ``benchmarks/transit.py``.

    Parameters
    ----------
    tt
        Timetable of the service day.
    access_s
        ``(n_stops,)`` walking seconds from the origin to each stop, ``np.inf`` where too far.
    egress
        ``(n_stops,)`` walking seconds from each stop to the destination, ``np.inf`` where too far.
    footpaths
        ``(n_stops, n_stops)`` CSR walking seconds between stops.
    departure_s
        Time the traveller leaves the origin, seconds after midnight.
    min_transfer_s
        Seconds needed to change vehicle.

    Returns
    -------
    float
        Arrival time at the destination in seconds after midnight, ``inf`` if no journey exists.
    """
    footpaths = sp.csr_matrix(footpaths)
    inf = float("inf")
    ready = (departure_s + np.ceil(np.asarray(access_s, dtype=float))).tolist()
    egress_l = np.asarray(egress, dtype=float).tolist()
    fp_ptr, fp_idx = footpaths.indptr.tolist(), footpaths.indices.tolist()
    fp_s = footpaths.data.astype(float).tolist()
    on_trip = [False] * len(tt.trip_ids)
    best = inf
    first = int(np.searchsorted(tt.dep_s, departure_s, side="left"))
    dep_stop, arr_stop = tt.dep_stop.tolist(), tt.arr_stop.tolist()
    dep_s, arr_s, trip = tt.dep_s.tolist(), tt.arr_s.tolist(), tt.trip.tolist()
    order, restart = _scan_order(tt.dep_s[first:], tt.arr_s[first:], backward=False,
                                 min_transfer_s=min_transfer_s)
    saved = [False] * len(tt.trip_ids)
    for pos, i in enumerate(order):
        c = first + i
        if restart[pos]:  # a block's passes start from the trips' state before it
            for j in order[pos:pos + abs(restart[pos])]:
                k = trip[first + j]
                if restart[pos] < 0:
                    saved[k] = on_trip[k]
                else:
                    on_trip[k] = saved[k]
        td = dep_s[c]
        if td >= best:
            break
        k = trip[c]
        if not on_trip[k]:
            if ready[dep_stop[c]] > td:
                continue
            on_trip[k] = True
        v, ta = arr_stop[c], arr_s[c]
        best = min(best, ta + egress_l[v])
        change = ta + min_transfer_s
        if change < ready[v]:
            ready[v] = change
        for j in range(fp_ptr[v], fp_ptr[v + 1]):
            w = fp_idx[j]
            if w != v and change + fp_s[j] < ready[w]:
                ready[w] = change + fp_s[j]
    return best
