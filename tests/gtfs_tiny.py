"""Write small hand-made GTFS feeds as zip files, for tests that go through the real loaders.

A feed is described in Python (stops, trips with their stop times, services) and written as the
standard CSV tables inside a zip, which ``gtfs_kit.read_feed(path, dist_units="km")`` reads.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: A service that runs every day of 2024.
EVERY_DAY = ("EVERYDAY", "1111111", "20240101", "20241231")


def hms(seconds: int | None) -> str:
    """Format seconds after midnight as GTFS ``HH:MM:SS`` (hours may exceed 23); None → ''."""
    if seconds is None:
        return ""
    h, rest = divmod(int(seconds), 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}:{s:02d}"


@dataclass
class Trip:
    """One trip: ``stop_times`` is a list of (stop_id, arrival_s, departure_s); None = untimed."""

    trip_id: str
    stop_times: Sequence[tuple[str, int | None, int | None]]
    route_id: str = "R1"
    service_id: str = "EVERYDAY"


@dataclass
class Feed:
    """A whole feed. ``services`` rows: (service_id, "MTWTFSS" as 0/1 flags, start, end)."""

    stops: Sequence[tuple[str, float, float]]
    trips: Sequence[Trip]
    services: Sequence[tuple[str, str, str, str]] = (EVERY_DAY,)
    calendar_dates: Sequence[tuple[str, str, int]] = ()  # (service_id, YYYYMMDD, 1 add / 2 remove)
    frequencies: Sequence[tuple[str, int, int, int]] = ()  # (trip_id, start_s, end_s, headway_s)
    extra: dict[str, list[dict[str, str]]] = field(default_factory=dict)


def _csv(rows: Iterable[dict[str, object]], header: Sequence[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(header), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buf.getvalue()


def write_feed(feed: Feed, path: Path) -> Path:
    """Write ``feed`` as a GTFS zip at ``path`` and return the path."""
    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    routes = sorted({t.route_id for t in feed.trips} or {"R1"})
    tables = {
        "agency.txt": _csv(
            [{"agency_id": "A", "agency_name": "Tiny", "agency_url": "https://example.org",
              "agency_timezone": "Europe/Copenhagen"}],
            ["agency_id", "agency_name", "agency_url", "agency_timezone"],
        ),
        "stops.txt": _csv(
            [{"stop_id": s, "stop_name": f"Stop {s}", "stop_lat": f"{lat:.6f}",
              "stop_lon": f"{lon:.6f}"} for s, lat, lon in feed.stops],
            ["stop_id", "stop_name", "stop_lat", "stop_lon"],
        ),
        "routes.txt": _csv(
            [{"route_id": r, "agency_id": "A", "route_short_name": r, "route_type": 3}
             for r in routes],
            ["route_id", "agency_id", "route_short_name", "route_type"],
        ),
        "trips.txt": _csv(
            [{"route_id": t.route_id, "service_id": t.service_id, "trip_id": t.trip_id}
             for t in feed.trips],
            ["route_id", "service_id", "trip_id"],
        ),
        "stop_times.txt": _csv(
            [{"trip_id": t.trip_id, "arrival_time": hms(a), "departure_time": hms(d),
              "stop_id": s, "stop_sequence": i + 1}
             for t in feed.trips for i, (s, a, d) in enumerate(t.stop_times)],
            ["trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence"],
        ),
        "calendar.txt": _csv(
            [{"service_id": sid, **dict(zip(days, flags, strict=True)),
              "start_date": start, "end_date": end} for sid, flags, start, end in feed.services],
            ["service_id", *days, "start_date", "end_date"],
        ),
    }
    if feed.calendar_dates:
        tables["calendar_dates.txt"] = _csv(
            [{"service_id": s, "date": d, "exception_type": e} for s, d, e in feed.calendar_dates],
            ["service_id", "date", "exception_type"],
        )
    if feed.frequencies:
        tables["frequencies.txt"] = _csv(
            [{"trip_id": t, "start_time": hms(a), "end_time": hms(b), "headway_secs": h}
             for t, a, b, h in feed.frequencies],
            ["trip_id", "start_time", "end_time", "headway_secs"],
        )
    for name, rows in feed.extra.items():
        tables[name] = _csv(rows, list(rows[0]))
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in tables.items():
            zf.writestr(name, text)
    return path


def line_stops(n: int, *, lat0: float = 55.0, lon0: float = 11.0, step_deg: float = 0.01):
    """Stops ``S0 .. S{n-1}`` on a west-east line, ``step_deg`` of longitude apart."""
    return [(f"S{i}", lat0, lon0 + i * step_deg) for i in range(n)]
