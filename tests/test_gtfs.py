"""GTFS loading: every problem of a feed at once, with table, row and column; scenario edits."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pytest
from gtfs_tiny import Feed, Trip, line_stops, write_feed

from placement import gtfs
from placement._errors import DataError


def tiny_feed() -> Feed:
    stops = line_stops(3)
    trips = [
        Trip("T1", [("S0", 8 * 3600, 8 * 3600), ("S1", 8 * 3600 + 300, 8 * 3600 + 360),
                    ("S2", 8 * 3600 + 900, 8 * 3600 + 900)], route_id="BUS1"),
        Trip("T2", [("S0", 9 * 3600, 9 * 3600), ("S2", 9 * 3600 + 600, 9 * 3600 + 600)],
             route_id="BUS1"),
        Trip("T3", [("S2", 25 * 3600, 25 * 3600), ("S0", 25 * 3600 + 600, 25 * 3600 + 600)],
             route_id="BUS2", service_id="WEEKDAY"),
    ]
    services = [("EVERYDAY", "1111111", "20260101", "20261231"),
                ("WEEKDAY", "1111100", "20260101", "20261231")]
    return Feed(stops=stops, trips=trips, services=services,
                calendar_dates=[("WEEKDAY", "20261225", 2)])


def rewrite(path: Path, table: str, edit) -> Path:
    """Apply ``edit(text) -> text`` to one table of a zip (or drop it when edit returns None)."""
    with zipfile.ZipFile(path) as zf:
        content = {n: zf.read(n).decode() for n in zf.namelist()}
    new = edit(content[table])
    if new is None:
        del content[table]
    else:
        content[table] = new
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in content.items():
            zf.writestr(name, text)
    return path


def where(err: DataError) -> list[tuple[str, int | None, str | None]]:
    return [(p.file, p.row, p.column) for p in err.problems]


def test_good_feed_loads_with_service_dates(tmp_path):
    path = write_feed(tiny_feed(), tmp_path / "feed.zip")
    feed = gtfs.load_gtfs(path)
    assert len(feed.stops) == 3
    assert gtfs.service_date_range(feed) == (dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    # 2026-12-25 is a Friday with the weekday service removed by calendar_dates
    assert gtfs.active_services(feed, "2026-12-25") == ["EVERYDAY"]
    assert gtfs.active_services(feed, "2026-12-24") == ["EVERYDAY", "WEEKDAY"]
    assert gtfs.active_services(feed, dt.date(2026, 12, 26)) == ["EVERYDAY"]  # Saturday
    assert sorted(gtfs.trips_on(feed, "2026-12-24")["trip_id"]) == ["T1", "T2", "T3"]


def test_not_a_zip(tmp_path):
    path = tmp_path / "feed.zip"
    path.write_text("stop_id,stop_name\n", encoding="utf-8")
    with pytest.raises(DataError) as exc:
        gtfs.load_gtfs(path)
    assert where(exc.value) == [("feed.zip", None, None)]
    assert "not a zip" in exc.value.problems[0].message


def test_missing_required_table_and_column_all_reported(tmp_path):
    path = write_feed(tiny_feed(), tmp_path / "feed.zip")
    rewrite(path, "agency.txt", lambda _: None)
    rewrite(path, "routes.txt", lambda t: t.replace("route_type", "kind"))
    with pytest.raises(DataError) as exc:
        gtfs.load_gtfs(path)
    assert where(exc.value) == [
        ("feed.zip/agency.txt", None, None),
        ("feed.zip/routes.txt", 1, "route_type"),
    ]


def test_row_problems_name_table_row_and_column(tmp_path):
    path = write_feed(tiny_feed(), tmp_path / "feed.zip")
    # stop_times rows: 2..8 (header is row 1); row 3 is T1 at S1
    rewrite(path, "stop_times.txt", lambda t: t.replace("T1,08:05:00", "T1,8h05").replace(
        "T2,09:10:00,09:10:00,S2", "T2,09:10:00,09:10:00,S9"))
    rewrite(path, "stops.txt", lambda t: t.replace("55.000000,11.010000", "155.000000,11.010000"))
    rewrite(path, "trips.txt", lambda t: t.replace("BUS2,WEEKDAY", "BUS7,WEEKDAY"))
    rewrite(path, "calendar.txt", lambda t: t.replace("20261231", "2026-12-31", 1))
    with pytest.raises(DataError) as exc:
        gtfs.load_gtfs(path)
    got = where(exc.value)
    assert ("feed.zip/stop_times.txt", 3, "arrival_time") in got
    assert ("feed.zip/stop_times.txt", 6, "stop_id") in got
    assert ("feed.zip/stops.txt", 3, "stop_lat") in got
    assert ("feed.zip/trips.txt", 4, "route_id") in got
    assert ("feed.zip/calendar.txt", 2, "end_date") in got


def test_times_running_backwards_are_refused(tmp_path):
    feed = tiny_feed()
    feed.trips[0].stop_times = [("S0", 8 * 3600, 8 * 3600), ("S1", 7 * 3600, 7 * 3600),
                                ("S2", 9 * 3600, 9 * 3600)]
    path = write_feed(feed, tmp_path / "feed.zip")
    with pytest.raises(DataError) as exc:
        gtfs.load_gtfs(path)
    assert where(exc.value) == [("feed.zip/stop_times.txt", 3, "arrival_time")]


def test_duplicate_ids(tmp_path):
    feed = tiny_feed()
    feed.stops = [*feed.stops, ("S1", 55.0, 11.5)]
    path = write_feed(feed, tmp_path / "feed.zip")
    with pytest.raises(DataError) as exc:
        gtfs.load_gtfs(path)
    assert where(exc.value) == [("feed.zip/stops.txt", 5, "stop_id")]


def test_missing_file(tmp_path):
    with pytest.raises(DataError) as exc:
        gtfs.load_gtfs(tmp_path / "nope.zip")
    assert exc.value.file == "nope.zip"


def test_drop_route_removes_its_trips_and_unknown_route_is_named(tmp_path):
    feed = gtfs.load_gtfs(write_feed(tiny_feed(), tmp_path / "feed.zip"))
    cut = gtfs.drop_routes(feed, ["BUS2"])
    assert sorted(cut.trips["trip_id"]) == ["T1", "T2"]
    assert "T3" not in set(cut.stop_times["trip_id"])
    with pytest.raises(DataError) as exc:
        gtfs.drop_routes(feed, ["BUS9"])
    assert where(exc.value) == [("routes.txt", None, "route_id")]
    assert "BUS9" in str(exc.value)


@pytest.mark.parametrize(("share", "left"), [(0.0, 6), (0.5, 3), (1 / 3, 4), (1.0, 0)])
def test_thin_route_keeps_the_expected_share(tmp_path, share, left):
    base = tiny_feed()
    base.trips = [Trip(f"B{i}", [("S0", 6 * 3600 + i * 1800, 6 * 3600 + i * 1800),
                                 ("S2", 6 * 3600 + i * 1800 + 600, 6 * 3600 + i * 1800 + 600)],
                       route_id="BUS1") for i in range(6)]
    feed = gtfs.load_gtfs(write_feed(base, tmp_path / "feed.zip"))
    thinned = gtfs.thin_route(feed, "BUS1", share)
    assert len(thinned.trips) == left
    # the kept trips are spread over the day, the first one always kept when any is
    if left:
        assert "B0" in set(thinned.trips["trip_id"])


def test_write_gtfs_round_trip(tmp_path):
    feed = gtfs.load_gtfs(write_feed(tiny_feed(), tmp_path / "feed.zip"))
    out = gtfs.write_gtfs(gtfs.drop_routes(feed, ["BUS2"]), tmp_path / "out" / "cut.zip")
    again = gtfs.load_gtfs(out)
    assert sorted(again.trips["trip_id"]) == ["T1", "T2"]
    assert [p.name for p in out.parent.iterdir()] == ["cut.zip"]


def test_fetch_refuses_without_network(tmp_path, monkeypatch):
    from placement import settings
    from placement._errors import NetworkDisabledError

    monkeypatch.setattr(settings, "allow_network", False)
    with pytest.raises(NetworkDisabledError):
        gtfs.fetch_gtfs("https://example.org/feed.zip", cache_dir=tmp_path)
    # a cached copy is used without the network
    cached = tmp_path / "x.zip"
    write_feed(tiny_feed(), cached)
    import hashlib

    name = hashlib.sha256(b"https://example.org/feed.zip").hexdigest()[:16] + ".zip"
    cached.rename(tmp_path / name)
    assert gtfs.fetch_gtfs("https://example.org/feed.zip", cache_dir=tmp_path).name == name


def test_truncated_zip(tmp_path):
    path = write_feed(tiny_feed(), tmp_path / "feed.zip")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError) as exc:
        gtfs.load_gtfs(path)
    assert exc.value.file == "feed.zip"
