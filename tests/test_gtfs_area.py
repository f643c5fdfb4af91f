"""A feed and the municipality: clipping national feeds, stop lists, ferries, validate warnings."""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from gtfs_tiny import Feed, Trip, write_feed
from pyproj import Transformer
from test_accessibility import X0, Y0, _points, _stop, street_feed, street_graph

from placement import gtfs, gtfs_area, transit
from placement import settings as placement_settings
from placement._errors import DataError
from placement.accessibility import compute_accessibility

H = 3600
TO_UTM = Transformer.from_crs("EPSG:4326", "EPSG:25832", always_xy=True)


def municipality(x0: float = X0 - 500, x1: float = X0 + 3500) -> gpd.GeoDataFrame:
    """A box around the hand-made street of test_accessibility (EPSG:25832 metres)."""
    return gpd.GeoDataFrame(geometry=[shapely.box(x0, Y0 - 500, x1, Y0 + 500)],
                            crs="EPSG:25832").to_crs("EPSG:4326")


def local_and_national(tmp_path: Path, copies: int = 3) -> tuple[Path, Path]:
    """The street feed, and the same feed plus far-away copies (a 'national' feed)."""
    local = street_feed(tmp_path / "local.zip")
    with zipfile.ZipFile(local) as zf:
        tables = {n: pd.read_csv(zf.open(n), dtype=str, keep_default_na=False)
                  for n in zf.namelist()}
    merged = {n: [t] for n, t in tables.items()}
    for k in range(1, copies + 1):
        for name, frame in tables.items():
            f = frame.copy()
            for col in ("stop_id", "trip_id", "route_id", "service_id", "agency_id"):
                if col in f.columns:
                    f[col] = f"c{k}_" + f[col]
            if "stop_lon" in f.columns:
                f["stop_lon"] = (pd.to_numeric(f["stop_lon"]) + 2.0 * k).astype(str)
            merged[name].append(f)
    national = tmp_path / "national.zip"
    with zipfile.ZipFile(national, "w") as zf:
        for name, parts in merged.items():
            zf.writestr(name, pd.concat(parts).to_csv(index=False))
    return local, national


def connections(tt: transit.Timetable) -> list[tuple]:
    return sorted(zip(tt.stop_ids[tt.dep_stop], tt.stop_ids[tt.arr_stop], tt.dep_s.tolist(),
                      tt.arr_s.tolist(), tt.trip_ids[tt.trip], strict=True))


# ------------------------------------------------------------------------------------------
# clipping
# ------------------------------------------------------------------------------------------
def test_national_feed_is_clipped_to_the_local_timetable(tmp_path: Path):
    local, national = local_and_national(tmp_path)
    whole = gtfs.load_gtfs(national)
    assert len(whole.stops) == 16
    clipped = gtfs.load_gtfs(national, boundary=municipality())
    assert sorted(clipped.stops["stop_id"]) == ["A", "B", "C", "F"]
    assert set(clipped.trips["trip_id"]) == set(gtfs.load_gtfs(local).trips["trip_id"])
    date = "2024-01-09"
    assert connections(transit.build_timetable(clipped, date)) == connections(
        transit.build_timetable(gtfs.load_gtfs(local), date))
    # the accessibility table is the same as with the local feed
    dwellings = _points(np.array([[X0, Y0], [X0 + 2000, Y0 + 30]]), dwelling_id=["h", "m"])
    amenities = _points(np.array([[X0 + 3000, Y0]]), category=["jobcenter"])
    a = compute_accessibility(dwellings, street_graph(), amenities, feed=clipped, date=date)
    b = compute_accessibility(dwellings, street_graph(), amenities,
                              feed=gtfs.load_gtfs(local), date=date)
    pd.testing.assert_frame_equal(a, b)


def test_a_trip_that_leaves_the_municipality_is_kept_whole(tmp_path: Path):
    far = _stop("FAR", 30_000)  # 26.5 km east of the municipality
    feed = Feed(stops=[_stop("A", 300), _stop("B", 2700), far, _stop("X", 60_000)],
                trips=[Trip("OUT", [("A", 7 * H, 7 * H), ("FAR", 8 * H, 8 * H)]),
                       Trip("AWAY", [("FAR", 9 * H, 9 * H), ("X", 10 * H, 10 * H)]),
                       Trip("IN", [("A", 7 * H, 7 * H), ("B", 7 * H + 600, 7 * H + 600)])],
                services=[("EVERYDAY", "1111111", "20240101", "20241231")])
    path = write_feed(feed, tmp_path / "regional.zip")
    clipped = gtfs.load_gtfs(path, boundary=municipality())
    assert sorted(clipped.trips["trip_id"]) == ["IN", "OUT"]
    assert sorted(clipped.stops["stop_id"]) == ["A", "B", "FAR"]
    assert len(clipped.stop_times[clipped.stop_times["trip_id"] == "OUT"]) == 2


def test_clipping_reads_no_table_beyond_the_cap(tmp_path: Path, monkeypatch):
    """A zip member that unpacks to more than the cap is refused on the clipped path too."""
    local, _ = local_and_national(tmp_path, copies=1)
    with zipfile.ZipFile(local) as zf:
        tables = {n: zf.read(n) for n in zf.namelist()}
    tables["stop_times.txt"] += b"\n" * 3_000_000  # compresses to a few kB
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in tables.items():
            zf.writestr(name, data)
    monkeypatch.setenv("PLACEMENT_GTFS_MAX_TABLE_MB", "1")
    with pytest.raises(DataError) as exc:
        gtfs.load_gtfs(bomb, boundary=municipality())
    assert "PLACEMENT_GTFS_MAX_TABLE_MB" in str(exc.value)


def test_clipped_feed_is_cached_and_rebuilt_when_the_feed_changes(tmp_path, monkeypatch):
    monkeypatch.setattr(placement_settings, "cache_folder", tmp_path / "cache")
    _, national = local_and_national(tmp_path, copies=1)
    first = gtfs_area.clip_gtfs(national, municipality())
    assert first is not None
    assert first.name == "national.zip"
    assert first.is_relative_to(tmp_path / "cache" / "gtfs_clip")
    stamp = first.stat().st_mtime_ns
    assert gtfs_area.clip_gtfs(national, municipality()) == first
    assert first.stat().st_mtime_ns == stamp  # read from the cache, not rewritten
    other = gtfs_area.clip_gtfs(national, municipality(x1=X0 + 1000))
    assert other != first
    (tmp_path / "b").mkdir()
    local, _ = local_and_national(tmp_path / "b", copies=0)
    assert gtfs_area.clip_gtfs(local, municipality()) not in (first, other)


def test_feed_of_another_area_is_a_clear_error(tmp_path: Path):
    path = street_feed(tmp_path / "elsewhere.zip")
    far_away = gpd.GeoDataFrame(geometry=[shapely.box(10.0, 56.5, 10.1, 56.6)], crs="EPSG:4326")
    with pytest.raises(DataError) as err:
        gtfs.load_gtfs(path, boundary=far_away)
    (problem,) = err.value.problems
    assert (problem.file, problem.column) == ("elsewhere.zip", "stops.txt")
    assert "none of the feed's 4 stops" in problem.message


def test_problem_in_a_kept_trip_names_the_row_of_the_users_file(tmp_path: Path):
    _, national = local_and_national(tmp_path, copies=2)
    with zipfile.ZipFile(national) as zf:
        content = {n: zf.read(n).decode() for n in zf.namelist()}
    lines = content["stop_times.txt"].splitlines()
    # put the local rows last, so that their rows differ between the file and the clipped copy
    header, body = lines[0], lines[1:]
    local = [r for r in body if not r.startswith("c")]
    far = [r for r in body if r.startswith("c")]
    local[0] = local[0].replace("07:10:00", "7h10", 1)
    content["stop_times.txt"] = "\n".join([header, *far, *local]) + "\n"
    with zipfile.ZipFile(national, "w") as zf:
        for name, text in content.items():
            zf.writestr(name, text)
    with pytest.raises(DataError) as err:
        gtfs.load_gtfs(national, boundary=municipality())
    rows = {(p.file, p.row, p.column) for p in err.value.problems}
    assert ("national.zip/stop_times.txt", len(far) + 2, "arrival_time") in rows


# ------------------------------------------------------------------------------------------
# header-only tables
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("table", ["stop_times.txt", "stops.txt", "trips.txt", "routes.txt",
                                   "agency.txt"])
def test_header_only_table_gets_a_located_message(tmp_path: Path, table: str):
    path = street_feed(tmp_path / "feed.zip")
    with zipfile.ZipFile(path) as zf:
        content = {n: zf.read(n).decode() for n in zf.namelist()}
    content[table] = content[table].splitlines()[0] + "\n"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in content.items():
            zf.writestr(name, text)
    with pytest.raises(DataError) as err:
        gtfs.load_gtfs(path)
    assert [(p.file, p.row) for p in err.value.problems] == [(f"feed.zip/{table}", 2)]
    assert "header but no rows" in err.value.problems[0].message


def test_all_tables_header_only_lists_each(tmp_path: Path):
    path = street_feed(tmp_path / "feed.zip")
    with zipfile.ZipFile(path) as zf:
        content = {n: zf.read(n).decode().splitlines()[0] + "\n" for n in zf.namelist()}
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in content.items():
            zf.writestr(name, text)
    with pytest.raises(DataError) as err:
        gtfs.load_gtfs(path)
    files = {p.file for p in err.value.problems}
    assert {f"feed.zip/{t}" for t in gtfs.REQUIRED_TABLES} <= files
    assert {"feed.zip/calendar.txt", "feed.zip/calendar_dates.txt"} <= files


def test_header_only_stop_times_via_the_cli_is_a_message_not_a_traceback(tmp_path, capsys):
    import fixtures_data as fd

    from placement.cli import main

    folder = fd.write_dataset(tmp_path / "ds", manifest={"gtfs": {"file": "gtfs.zip"}})
    write_feed(Feed(stops=[("A", 55.3805, 11.7710)], trips=[]), folder / "gtfs.zip")
    assert main(["access", str(folder), "--out", str(tmp_path / "a.csv")]) == 1
    err = capsys.readouterr().err
    assert "gtfs.zip/stop_times.txt:2: the table has a header but no rows" in err
    assert "Traceback" not in err


# ------------------------------------------------------------------------------------------
# ferries
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("route_type", [3, 4, 1200])
def test_ferry_routes_are_routed_like_buses(tmp_path: Path, route_type: int):
    path = street_feed(tmp_path / "feed.zip")
    with zipfile.ZipFile(path) as zf:
        content = {n: zf.read(n).decode() for n in zf.namelist()}
    content["routes.txt"] = content["routes.txt"].replace(",3\n", f",{route_type}\n")
    assert f",{route_type}\n" in content["routes.txt"]
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in content.items():
            zf.writestr(name, text)
    feed = gtfs.load_gtfs(path)
    dwellings = _points(np.array([[X0, Y0]]), dwelling_id=["home"])
    amenities = _points(np.array([[X0 + 3000, Y0]]), category=["jobcenter"])
    table = compute_accessibility(dwellings, street_graph(), amenities, feed=feed,
                                  date="2024-01-09", step_min=10)
    # the same journey as test_pt_times_by_hand: 19/29/39 min → median 29
    assert table.loc["home", "pt_jobcenter_median_min"] == pytest.approx(29, abs=0.01)
    assert table.loc["home", "departures_per_hour_500m"] == pytest.approx(7 / 14)


def test_osm_ferry_terminal_is_a_stop(tmp_path: Path):
    from placement.osm import amenities_from_file

    path = tmp_path / "harbour.osm"
    path.write_text(
        "<?xml version='1.0' encoding='UTF-8'?>\n<osm version='0.6'>\n"
        "<node id='1' lat='55.95' lon='10.60' version='1'>"
        "<tag k='amenity' v='ferry_terminal'/><tag k='name' v='Sælvig Havn'/></node>\n"
        "<node id='2' lat='55.96' lon='10.61' version='1'>"
        "<tag k='highway' v='bus_stop'/></node>\n</osm>\n", encoding="utf-8")
    stops = amenities_from_file(path)
    assert sorted(stops.loc[stops["category"] == "stop", "osm_id"]) == ["node/1", "node/2"]


# ------------------------------------------------------------------------------------------
# stop lists without timetable
# ------------------------------------------------------------------------------------------
def rejseplanen_style(path: Path) -> Path:
    """A stop list as Rejseplanen exports it: a title line, ';', cp1252, UTM 32 metres."""
    text = ("Export period 25.02.2020 - 24.02.2021\n"
            "Stop nr;Stopnavn;x_utm32;y_utm32\n"
            f"1;Ærø Færgehavn;{X0 + 300:.0f};{Y0:.0f}\n"
            f"2;Søby;{X0 + 2700:.0f};{Y0:.0f}\n"
            f"3;Langt væk;{X0 + 90_000:.0f};{Y0:.0f}\n")
    text = text.replace("Stop nr", "stop_id").replace("Stopnavn", "stop_name")
    path.write_bytes(text.encode("cp1252"))
    return path


def test_stop_list_csv_rejseplanen_style(tmp_path: Path):
    path = rejseplanen_style(tmp_path / "stoppesteder.csv")
    assert gtfs_area.is_stop_list(path)
    stops = gtfs_area.load_stop_list(path)
    assert stops["stop_id"].tolist() == ["1", "2", "3"]
    assert stops["stop_name"].iloc[0] == "Ærø Færgehavn"
    x, y = TO_UTM.transform(stops["stop_lon"].to_numpy(), stops["stop_lat"].to_numpy())
    np.testing.assert_allclose(x[:2], [X0 + 300, X0 + 2700], atol=0.01)
    np.testing.assert_allclose(y[:2], [Y0, Y0], atol=0.01)
    clipped = gtfs_area.load_stop_list(path, boundary=municipality())
    assert clipped["stop_id"].tolist() == ["1", "2"]


def test_stop_list_bad_rows_are_located(tmp_path: Path):
    path = tmp_path / "stops.csv"
    path.write_text("stop_id,stop_name,stop_lat,stop_lon\n1,A,55.1,11.2\n2,B,north,11.3\n"
                    ",C,55.2,11.4\n4,D,95,11\n")
    with pytest.raises(DataError) as err:
        gtfs_area.load_stop_list(path)
    assert [(p.row, p.column) for p in err.value.problems] == [
        (3, "stop_lat/stop_lon"), (4, "stop_id"), (5, "stop_lat/stop_lon")]
    path.write_text("name,lat\nA,55\n")
    with pytest.raises(DataError) as err:
        gtfs_area.load_stop_list(path)
    assert {p.column for p in err.value.problems} == {"stop_id", "stop_lat/stop_lon"}


def test_gtfs_zip_with_only_stops_is_a_stop_list(tmp_path: Path):
    path = street_feed(tmp_path / "feed.zip")
    assert not gtfs_area.is_stop_list(path)
    with zipfile.ZipFile(path) as zf:
        stops_txt = zf.read("stops.txt")
    only = tmp_path / "stops_only.zip"
    with zipfile.ZipFile(only, "w") as zf:
        zf.writestr("stops.txt", stops_txt)
    assert gtfs_area.is_stop_list(only)
    assert sorted(gtfs_area.load_stop_list(only)["stop_id"]) == ["A", "B", "C", "F"]


def test_stop_list_gives_walk_to_stop_and_unknown_service(tmp_path: Path):
    stops = gtfs_area.load_stop_list(rejseplanen_style(tmp_path / "s.csv"),
                                     boundary=municipality())
    dwellings = _points(np.array([[X0, Y0], [X0 + 2000, Y0 + 30]]), dwelling_id=["h", "m"])
    amenities = _points(np.array([[X0 + 3000, Y0]]), category=["jobcenter"])
    table = compute_accessibility(dwellings, street_graph(), amenities, stops=stops)
    speed = 4.5 / 3.6
    assert table.loc["h", "walk_stop_min"] == pytest.approx(300 / speed / 60, abs=0.01)
    assert table.loc["m", "walk_stop_min"] == pytest.approx((30 + 700) / speed / 60, abs=0.01)
    assert table["departures_per_hour_500m"].isna().all()  # unknown, never 0
    assert table.filter(like="pt_").isna().all().all()
    assert table.loc["h", "n_stop_within_10min"] == 1
    # without any stop data the walk to a stop is unknown too
    bare = compute_accessibility(dwellings, street_graph(), amenities)
    assert bare["walk_stop_min"].isna().all()
    assert bare["departures_per_hour_500m"].isna().all()


def test_dataset_with_a_stop_list(tmp_path: Path):
    import fixtures_data as fd

    from placement.accessibility import accessibility_for_dataset

    folder = fd.write_dataset(tmp_path / "ds", manifest={"gtfs": {"file": "stops.csv"}})
    (folder / "stops.csv").write_text("stop_id,stop_name,stop_lat,stop_lon\n"
                                      "A,Torvet,55.3805,11.7710\nZ,Far,56.9,8.3\n")
    table = accessibility_for_dataset(folder, use_cache=False)
    assert table["walk_stop_min"].notna().any()
    assert table["departures_per_hour_500m"].isna().all()


def test_rejseplanen_stop_list_for_samsoe(shared_data: Path):
    boundary = gpd.read_file(shared_data / "boundaries" / "case_kommuner.geojson")
    samsoe = boundary[boundary["KOMKODE"] == "0741"]
    path = shared_data / "transit" / "rejseplanen_stoppesteder_dk_2020.csv"
    stops = gtfs_area.load_stop_list(path, boundary=samsoe)
    rp = pd.read_csv(path, dtype={"stop_id": str, "KOMKODE": str})
    assert set(rp.loc[rp["KOMKODE"] == "0741", "stop_id"]) <= set(stops["stop_id"])
    assert len(stops) < 60  # an island: the 5 km buffer reaches no mainland stop


# ------------------------------------------------------------------------------------------
# warnings for validate
# ------------------------------------------------------------------------------------------
def test_no_feed_warns_that_timetable_terms_are_unknown():
    (warning,) = gtfs_area.gtfs_warnings(None, municipality())
    assert "unknown" in warning


def test_feed_from_another_continent_and_old_calendar_warn(tmp_path: Path):
    path = street_feed(tmp_path / "feed.zip")
    elsewhere = gpd.GeoDataFrame(geometry=[shapely.box(-51.3, -30.1, -51.1, -29.9)],
                                 crs="EPSG:4326")
    warnings = gtfs_area.gtfs_warnings(path, elsewhere, dates=["2026-03-01", "2026-10-01"])
    assert len(warnings) == 2
    assert "none of the 4 stops of feed.zip" in warnings[0]
    assert "runs from 2024-01-01 to 2024-12-31" in warnings[1]
    assert "2026-03-01 to 2026-10-01" in warnings[1]
    assert gtfs_area.gtfs_warnings(path, municipality(), dates=["2024-05-01"]) == []


def test_partly_outside_feed_says_how_many(tmp_path: Path):
    _, national = local_and_national(tmp_path, copies=2)
    (warning,) = gtfs_area.gtfs_warnings(national, municipality())
    assert warning.startswith("8 of the 12 stops of national.zip lie outside")


def test_validate_lists_the_gtfs_warnings(tmp_path: Path, capsys):
    import fixtures_data as fd

    from placement.cli import main

    folder = fd.write_dataset(tmp_path / "ds", manifest={"gtfs": {"file": "gtfs.zip"}})
    far = [("A", -30.03, -51.22), ("B", -30.02, -51.21)]
    trips = [Trip("T", [("A", 7 * H, 7 * H), ("B", 7 * H + 600, 7 * H + 600)])]
    write_feed(Feed(stops=far, trips=trips,
                    services=[("EVERYDAY", "1111111", "20190101", "20191231")]),
               folder / "gtfs.zip")
    assert main(["validate", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "none of the 2 stops of gtfs.zip" in out
    assert "runs from 2019-01-01 to 2019-12-31" in out


def test_validate_with_a_stop_list(tmp_path: Path, capsys):
    import fixtures_data as fd

    from placement.cli import main

    folder = fd.write_dataset(tmp_path / "ds", manifest={"gtfs": {"file": "stops.csv"}})
    (folder / "stops.csv").write_text("stop_id,stop_name,stop_lat,stop_lon\n"
                                      "A,Torvet,55.3805,11.7710\nZ,Far,56.9,8.3\n")
    assert main(["validate", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "stops: 2" in out
    assert "warning: stops.csv is a stop list without timetable" in out
    assert "warning: 1 of the 2 stops of stops.csv lie outside the municipality" in out


def test_validate_checks_the_kept_part_of_a_large_feed(tmp_path: Path, capsys):
    import fixtures_data as fd

    from placement.cli import main

    folder = fd.write_dataset(tmp_path / "ds", manifest={"gtfs": {"file": "gtfs.zip"}})
    near = [("A", 55.3805, 11.7710), ("B", 55.4095, 11.8290)]
    far = [("X", 57.0, 9.9), ("Y", 57.05, 9.95)]
    trips = [Trip("T", [("A", 7 * H, 7 * H), ("B", 7 * H + 600, 7 * H + 600)]),
             Trip("FAR", [("X", 7 * H, 7 * H), ("Y", 7 * H + 600, 7 * H + 600)])]
    write_feed(Feed(stops=near + far, trips=trips), folder / "gtfs.zip")
    assert main(["validate", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "2 of the 4 stops of gtfs.zip lie outside the municipality" in out
    assert "gtfs_service: 2024-01-01 to 2024-12-31" in out


def test_a_destination_missing_from_the_data_is_unknown_not_unreachable(tmp_path: Path):
    """No language school in the data: its times are unknown, never scored as unreachable."""
    from placement.config import Scoring
    from placement.score import dwelling_terms

    feed = gtfs.load_gtfs(street_feed(tmp_path / "feed.zip"))
    dwellings = _points(np.array([[X0, Y0]]), dwelling_id=["home"])
    amenities = _points(np.array([[X0 + 3000, Y0]]), category=["jobcenter"])
    table = compute_accessibility(dwellings, street_graph(), amenities, feed=feed,
                                  date="2024-01-09", step_min=10)
    assert "pt_language_school_median_min" not in table.columns
    assert table.loc["home", "pt_jobcenter_median_min"] == pytest.approx(29, abs=0.01)
    s = Scoring()
    got = dwelling_terms(table, scoring=s).loc["home", "transit"]
    # an independent mean over the three measured parts (departures, walk to stop, jobcenter)
    def lin(t, full, zero):
        return min(1.0, max(0.0, (zero - t) / (zero - full)))
    parts = [min(1.0, table.loc["home", "departures_per_hour_500m"] / s.good_departures_per_hour),
             lin(table.loc["home", "walk_stop_min"], s.walk_stop_full_min, s.walk_stop_zero_min),
             lin(table.loc["home", "pt_jobcenter_median_min"], s.pt_full_min, s.pt_zero_min)]
    assert got == pytest.approx(sum(parts) / 3)


def test_a_stop_list_beyond_the_unpack_cap_is_not_read(tmp_path: Path, monkeypatch):
    """A zip holding only stops.txt that unpacks past the cap is refused, not read."""
    path = tmp_path / "stops_only.zip"
    rows = "".join(f"S{k},Stop {k},55.{k:04d},11.5\n" for k in range(200))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("stops.txt", "stop_id,stop_name,stop_lat,stop_lon\n" + rows)
    monkeypatch.setenv("PLACEMENT_GTFS_MAX_TABLE_MB", "0.001")  # about 1 kB
    with pytest.raises(DataError) as exc:
        gtfs_area.load_stop_list(path)
    assert "PLACEMENT_GTFS_MAX_TABLE_MB" in str(exc.value)
    assert gtfs_area.stop_coverage(path, municipality()) is None  # not read past the cap
