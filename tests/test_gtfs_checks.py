"""GTFS feeds that would make the router wrong, or the loader fall over, get located messages."""

from __future__ import annotations

import copy
import datetime as dt
import logging
import zipfile
from pathlib import Path

import pytest
from gtfs_tiny import Feed, Trip, line_stops, write_feed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_gtfs import rewrite, tiny_feed, where

from placement import gtfs, transit
from placement._errors import DataError

H = 3600


def _feed(tmp_path: Path, feed: Feed | None = None) -> Path:
    return write_feed(feed or tiny_feed(), tmp_path / "feed.zip")


def _replace_bytes(path: Path, table: str, data: bytes) -> Path:
    with zipfile.ZipFile(path) as zf:
        content = {n: zf.read(n) for n in zf.namelist()}
    content[table] = data
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, raw in content.items():
            zf.writestr(name, raw)
    return path


def _problems(path: Path) -> list[tuple[str, int | None, str | None]]:
    with pytest.raises(DataError) as exc:
        gtfs.load_gtfs(path)
    return where(exc.value)


def test_departure_before_arrival_at_the_same_stop_is_refused(tmp_path):
    # A 06:00, B arrives 06:10 and departs 06:05, C 06:07: the old check saw nothing wrong
    feed = Feed(stops=line_stops(3), trips=[
        Trip("T", [("S0", 6 * H, 6 * H), ("S1", 6 * H + 600, 6 * H + 300),
                   ("S2", 6 * H + 420, None)])])
    assert _problems(_feed(tmp_path, feed)) == [("feed.zip/stop_times.txt", 3, "departure_time")]


def test_duplicate_stop_sequence_in_a_trip(tmp_path):
    path = rewrite(_feed(tmp_path), "stop_times.txt",
                   lambda t: t.replace("T1,08:05:00,08:06:00,S1,2", "T1,08:05:00,08:06:00,S1,1"))
    assert ("feed.zip/stop_times.txt", 3, "stop_sequence") in _problems(path)


def test_duplicate_service_id(tmp_path):
    path = rewrite(_feed(tmp_path), "calendar.txt",
                   lambda t: t + "EVERYDAY,0,0,0,0,0,1,1,20260101,20261231\n")
    assert _problems(path) == [("feed.zip/calendar.txt", 4, "service_id")]


@pytest.mark.parametrize(("row", "column"), [
    ("T1,08:00:00,09:00:00,0", "headway_secs"),
    ("T1,08:00:00,09:00:00,-60", "headway_secs"),
    ("T1,08:00:00,09:00:00,ten", "headway_secs"),
    ("T1,6:00,09:00:00,600", "start_time"),
    ("T1,08:00:00,9:00,600", "end_time"),
    ("T1,09:00:00,08:00:00,600", "end_time"),
    ("T1,08:00:00,08:00:00,600", "end_time"),
    ("NOPE,08:00:00,09:00:00,600", "trip_id"),
])
def test_frequencies_are_checked(tmp_path, row, column):
    path = _feed(tmp_path)
    _replace_bytes(path, "frequencies.txt",
                   f"trip_id,start_time,end_time,headway_secs\n{row}\n".encode())
    assert _problems(path) == [("feed.zip/frequencies.txt", 2, column)]


def test_good_frequencies_pass(tmp_path):
    path = _feed(tmp_path)
    _replace_bytes(path, "frequencies.txt",
                   b"trip_id,start_time,end_time,headway_secs\nT1,08:00:00,09:00:00,600\n")
    assert len(gtfs.load_gtfs(path).frequencies) == 1


def test_unknown_agency_is_a_warning(tmp_path, caplog):
    path = rewrite(_feed(tmp_path), "routes.txt", lambda t: t.replace("BUS2,A,", "BUS2,ZZ,"))
    with caplog.at_level(logging.WARNING, logger="placement.gtfs"):
        feed = gtfs.load_gtfs(path)
    assert len(feed.routes) == 2
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("routes.txt:3:agency_id" in w and "not in agency.txt" in w for w in warned)


def test_nul_bytes_are_located(tmp_path):
    path = _feed(tmp_path)
    with zipfile.ZipFile(path) as zf:
        stops = zf.read("stops.txt")
    at = stops.index(b"S1")
    _replace_bytes(path, "stops.txt", stops[:at] + b"\x00" + stops[at:])
    assert _problems(path) == [("feed.zip/stops.txt", 3, None)]


@pytest.mark.parametrize(("encode", "row", "needle"), [
    (lambda t: t.replace("Stop S2", "Stop Ærø").encode("cp1252"), 4, "not valid UTF-8"),
    (lambda t: t.encode("utf-16"), None, "UTF-16"),
    (lambda t: t.replace("Stop S1,", "Stop S1,extra,"), 3, "cells"),
])
def test_unreadable_tables_get_a_row_and_no_false_missing_table(tmp_path, encode, row, needle):
    path = _feed(tmp_path)
    with zipfile.ZipFile(path) as zf:
        text = zf.read("stops.txt").decode()
    data = encode(text)
    _replace_bytes(path, "stops.txt", data if isinstance(data, bytes) else data.encode())
    with pytest.raises(DataError) as exc:
        gtfs.load_gtfs(path)
    assert where(exc.value) == [("feed.zip/stops.txt", row, None)]
    assert needle in str(exc.value)
    assert "missing" not in str(exc.value)


def test_a_table_that_unpacks_beyond_the_cap_is_not_read(tmp_path, monkeypatch):
    path = _feed(tmp_path)
    with zipfile.ZipFile(path) as zf:
        text = zf.read("stop_times.txt")
    # 3 MB of padding compresses to a few kB, like a zip bomb in small
    _replace_bytes(path, "stop_times.txt", text + b"\n" * 3_000_000)
    monkeypatch.setenv("PLACEMENT_GTFS_MAX_TABLE_MB", "1")
    with pytest.raises(DataError) as exc:
        gtfs.load_gtfs(path)
    assert where(exc.value) == [("feed.zip/stop_times.txt", None, None)]
    assert "PLACEMENT_GTFS_MAX_TABLE_MB" in str(exc.value)
    assert "missing" not in str(exc.value)
    monkeypatch.setenv("PLACEMENT_GTFS_MAX_TABLE_MB", "10")
    assert len(gtfs.load_gtfs(path).stop_times) == 7


def test_a_member_whose_header_lies_about_its_size_is_damaged_not_read_on(tmp_path,
                                                                        monkeypatch):
    path = _feed(tmp_path)
    with zipfile.ZipFile(path) as zf:
        text = zf.read("stop_times.txt")
    _replace_bytes(path, "stop_times.txt", text + b"\n" * 3_000_000)
    real_getinfo = zipfile.ZipFile.getinfo

    def forged(self, name):
        info = copy.copy(real_getinfo(self, name))
        info.file_size = min(info.file_size, 100)  # a header claiming 100 bytes
        return info

    monkeypatch.setattr(zipfile.ZipFile, "getinfo", forged)
    with pytest.raises(DataError) as exc:
        gtfs.load_gtfs(path)
    assert ("feed.zip/stop_times.txt", None, None) in where(exc.value)
    assert "damaged" in str(exc.value)


# ---------------------------------------------------------------------------------------------
# service dates, all at once
# ---------------------------------------------------------------------------------------------
def _long_feed(tmp_path: Path, years: int) -> Path:
    end = f"{2010 + years}1231"
    services = [("WD", "1111100", "20100101", end), ("WE", "0000011", "20100101", end)]
    trips = [Trip("T1", [("S0", 8 * H, 8 * H), ("S1", 8 * H + 300, None)], service_id="WD"),
             Trip("T2", [("S0", 9 * H, 9 * H), ("S1", 9 * H + 300, None)], service_id="WE")]
    return write_feed(Feed(stops=line_stops(2), trips=trips, services=services,
                           calendar_dates=[("WD", "20100104", 2)]), tmp_path / "long.zip")


def test_service_dates_of_an_18_year_calendar_are_found_all_at_once(tmp_path, monkeypatch):
    feed = gtfs.load_gtfs(_long_feed(tmp_path, 18))

    def one_by_one(*args, **kwargs):
        msg = "service dates must not be checked one date at a time (6,940 dates: a minute)"
        raise AssertionError(msg)

    monkeypatch.setattr(transit, "active_service_ids", one_by_one)
    assert gtfs.service_date_range(feed) == (dt.date(2010, 1, 1), dt.date(2028, 12, 31))


@st.composite
def calendars(draw: st.DrawFn) -> Feed:
    n = draw(st.integers(1, 3))
    services = []
    for k in range(n):
        start = dt.date(2026, 1, 1) + dt.timedelta(days=draw(st.integers(0, 20)))
        end = start + dt.timedelta(days=draw(st.integers(0, 30)))
        flags = "".join(draw(st.sampled_from("01")) for _ in range(7))
        services.append((f"S{k}", flags, f"{start:%Y%m%d}", f"{end:%Y%m%d}"))
    exceptions = draw(st.lists(st.tuples(
        st.sampled_from([s[0] for s in services] + ["EXTRA"]),
        st.integers(0, 60).map(lambda d: f"{dt.date(2026, 1, 1) + dt.timedelta(days=d):%Y%m%d}"),
        st.sampled_from([1, 2])), max_size=6))
    trips = [Trip(f"T{k}", [("S0", 8 * H, 8 * H), ("S1", 8 * H + 60, None)], service_id=sid)
             for k, (sid, *_rest) in enumerate(services)]
    return Feed(stops=line_stops(2), trips=trips, services=services, calendar_dates=exceptions)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(calendars())
def test_service_counts_agree_with_the_day_by_day_rule(tmp_path, feed):
    path = write_feed(feed, tmp_path / "cal.zip")
    import gtfs_kit

    loaded = gtfs_kit.read_feed(path, dist_units="km")
    counts, first = gtfs.service_counts(loaded)
    for i, n in enumerate(counts):
        day = first + dt.timedelta(days=i)
        assert n == len(transit.active_service_ids(loaded, day)), day
