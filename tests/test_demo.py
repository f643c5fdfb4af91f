"""The demo municipality: reproducible bytes, sizes, and readable by the project's own loaders."""

from __future__ import annotations

import csv
import datetime as dt
import io
import sqlite3
import zipfile
from pathlib import Path

import gtfs_kit
import osmnx as ox
import pandas as pd
import pytest

from placement import osm, transit
from placement.dataset import load_dataset, validate_dataset
from placement.demo import GPKG_NAME, generate_demo
from placement.schema import AMENITY_CATEGORIES, DESTINATIONS, DWELLINGS, HOUSEHOLDS
from placement.validate import find_cpr

EXPECTED_FILES = {
    "dataset.toml",
    GPKG_NAME,
    "streets.osm.bz2",
    "gtfs.zip",
    "dwellings.csv",
    "households.csv",
    "residence_history.csv",
}


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo regenerated with the default seed into a temporary folder."""
    return generate_demo(tmp_path_factory.mktemp("demo42"), seed=42)


@pytest.fixture(scope="module")
def other_seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_demo(tmp_path_factory.mktemp("demo7"), seed=7)


@pytest.fixture(scope="module")
def dataset(fresh: Path):
    return load_dataset(fresh)


@pytest.fixture(scope="module")
def walk_graph(fresh: Path, dataset):
    return osm.walk_graph_from_file(fresh / "streets.osm.bz2", boundary=dataset.boundary)


@pytest.fixture(scope="module")
def feed(fresh: Path) -> gtfs_kit.Feed:
    return gtfs_kit.read_feed(fresh / "gtfs.zip", dist_units="km")


# --- reproducibility ---------------------------------------------------------------------------
def test_writes_exactly_the_dataset_files(fresh: Path) -> None:
    assert {p.name for p in fresh.iterdir()} == EXPECTED_FILES  # no temporary files left


def test_committed_copy_is_byte_identical(fresh: Path, demo_dir: Path) -> None:
    assert {p.name for p in demo_dir.iterdir()} == EXPECTED_FILES
    differ = [
        n for n in sorted(EXPECTED_FILES) if (fresh / n).read_bytes() != (demo_dir / n).read_bytes()
    ]
    assert differ == [], f"regenerate with `placement demo-data`: {differ} differ"


def test_another_seed_gives_other_data(fresh: Path, other_seed: Path) -> None:
    for name in (
        "streets.osm.bz2",
        "gtfs.zip",
        "dwellings.csv",
        "households.csv",
        "residence_history.csv",
        GPKG_NAME,
    ):
        assert (fresh / name).read_bytes() != (other_seed / name).read_bytes(), name
    assert (fresh / "dataset.toml").read_bytes() == (other_seed / "dataset.toml").read_bytes()


def test_regenerating_over_an_existing_folder_keeps_the_bytes(fresh: Path, tmp_path: Path) -> None:
    first = generate_demo(tmp_path, seed=42)
    (first / "households.csv").write_text("spoiled")
    generate_demo(tmp_path, seed=42)
    for name in EXPECTED_FILES:
        assert (tmp_path / name).read_bytes() == (fresh / name).read_bytes(), name


def test_gtfs_zip_has_fixed_dates_and_sorted_entries(fresh: Path) -> None:
    with zipfile.ZipFile(fresh / "gtfs.zip") as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    assert {i.date_time for i in infos} == {(2026, 1, 1, 0, 0, 0)}


# --- the loaders accept it ---------------------------------------------------------------------
def test_validate_dataset_reports_no_problem(fresh: Path) -> None:
    report = validate_dataset(fresh)
    assert report.problems == ()
    assert report.summary["dwellings"] == len(load_dataset(fresh).dwellings)
    assert set(report.summary["amenities"]) == set(AMENITY_CATEGORIES)


def test_walk_graph_has_a_real_street_network(walk_graph) -> None:
    G = walk_graph
    assert G.number_of_nodes() >= 3000
    highways = {
        d["highway"] if isinstance(d["highway"], str) else d["highway"][0]
        for _, _, d in G.edges(data=True)
    }
    assert {"residential", "footway", "service", "tertiary", "secondary", "track"} <= highways
    assert "building" not in {k for _, _, d in G.edges(data=True) for k in d}


def test_every_amenity_category_is_found(fresh: Path, dataset) -> None:
    amenities = osm.amenities_from_file(fresh / "streets.osm.bz2", boundary=dataset.boundary)
    counts = amenities["category"].value_counts()
    assert set(counts.index) == set(AMENITY_CATEGORIES)
    assert counts["school"] >= 3
    assert counts["daycare"] >= 3
    assert counts["stop"] >= 20


def test_areas_and_designated_area(dataset) -> None:
    areas = dataset.areas
    assert len(areas) >= 8
    assert areas["area_id"].is_unique
    assert (areas["population"] > 0).all()
    assert (areas["integration_residents"] < areas["population"]).all()
    kinds = list(dataset.designated["kind"])
    assert kinds.count("vulnerable") == 1
    # the areas tile the municipality: their union covers the boundary
    union = areas.to_crs("EPSG:25832").union_all()
    boundary = dataset.boundary.to_crs("EPSG:25832").geometry.iloc[0]
    assert boundary.difference(union).area < 1e-6 * boundary.area  # rounding slivers only


def test_dwellings(dataset) -> None:
    d = dataset.dwellings
    assert len(d) >= 300
    assert d["dwelling_id"].is_unique
    assert {c.name for c in DWELLINGS} - {"x", "y"} <= set(d.columns)
    assert d["rent_dkk"].between(4000, 11000).all()
    # larger dwellings cost more: median rent rises with the number of rooms
    medians = d.groupby("rooms")["rent_dkk"].median()
    assert medians.is_monotonic_increasing
    assert (d["floor_area_m2"] / d["rooms"]).between(15, 55).all()
    assert 0 < (~d["permanent"]).sum() < len(d) / 2
    assert 0 < d["step_free"].sum() < len(d)
    assert (d["designated_kinds"] == "vulnerable").sum() >= 3
    assert d["area_id"].nunique() >= 8  # town quarters and villages
    assert d["building_id"].notna().all()
    assert (d["available_from"] >= pd.Timestamp("2026-01-01")).all()


def test_dwellings_lie_near_the_street_network(walk_graph, dataset) -> None:
    G = walk_graph
    pts = dataset.dwellings.to_crs("EPSG:25832")
    _, dist = ox.distance.nearest_nodes(G, pts.geometry.x, pts.geometry.y, return_dist=True)
    assert max(dist) < 80.0  # metres to the nearest walk-network node


def test_households(dataset) -> None:
    h = dataset.households
    assert len(h) >= 80
    assert h["household_id"].str.fullmatch(r"H\d{4}").all()
    assert set(h["household_type"]) == {"single", "couple", "single_parent", "family"}
    assert ((h["persons"] >= 5) & (h["persons"] <= 8)).sum() >= 5
    assert h["persons"].max() <= 8
    assert 0 < h["step_free_needed"].sum() < len(h) / 4
    assert 0 < h["anchor_lat"].notna().sum() < len(h)
    assert (h["arrival_date"] > pd.Timestamp("2026-01-01")).all()
    assert {c.name for c in HOUSEHOLDS} <= set(h.columns)


def test_history_covers_ten_years_and_every_kind_of_move(dataset) -> None:
    hist = dataset.history
    assert hist is not None
    assert hist["person_id"].str.fullmatch(r"P\d{5}").all()
    assert hist["person_id"].is_unique
    assert hist["placement_date"].min() <= pd.Timestamp("2016-03-31")
    # integration periods of five years end within the history for the 2016-2020 cohorts
    ends = hist["integration_end"].dt.year
    assert set(range(2021, 2026)) <= set(ends)
    assert hist["placement_date"].max() >= pd.Timestamp("2025-06-01")
    assert set(hist["destination"].dropna()) == set(DESTINATIONS)
    moved = hist["moved_out_date"].notna()
    assert (moved == hist["destination"].notna()).all()
    assert (hist.loc[moved, "moved_out_date"] <= pd.Timestamp("2025-12-31")).all()
    # past placements name dwellings of the dataset, and the same area the loader finds for them
    area_of = dict(zip(dataset.dwellings["dwelling_id"], dataset.dwellings["area_id"], strict=True))
    assert set(hist["dwelling_id"]) <= set(area_of)
    assert (hist["area_id"] == hist["dwelling_id"].map(area_of)).all()
    # one household id per placement: the members share date, dwelling and move
    per_household = hist.groupby("household_id")[["placement_date", "dwelling_id"]].nunique()
    assert (per_household == 1).all().all()


# --- GTFS ----------------------------------------------------------------------------------------
def test_gtfs_routes_and_calendar(feed: gtfs_kit.Feed) -> None:
    types = feed.routes["route_type"].astype(int).value_counts()
    assert types[3] >= 4
    assert types[2] >= 1
    cal = feed.calendar
    assert (cal["start_date"].astype(str) <= "20260101").all()
    assert (cal["end_date"].astype(str) >= "20271231").all()
    assert set(feed.trips["shape_id"]) <= set(feed.shapes["shape_id"])
    assert feed.agency["agency_timezone"].iloc[0] == "Europe/Copenhagen"


def test_gtfs_trips_run_forward_in_time_and_along_the_shape(feed: gtfs_kit.Feed) -> None:
    st = feed.stop_times.sort_values(["trip_id", "stop_sequence"])
    secs = st["departure_time"].astype(str).str.split(":", expand=True).astype(int)
    st = st.assign(t=secs[0] * 3600 + secs[1] * 60 + secs[2])
    grouped = st.groupby("trip_id")
    assert (grouped["t"].diff().dropna() >= 0).all()  # whole minutes: close stops may share one
    assert ((grouped["t"].max() - grouped["t"].min()) > 0).all()
    assert (grouped["shape_dist_traveled"].diff().dropna() > 0).all()
    assert (grouped.size() >= 2).all()
    assert set(st["stop_id"]) <= set(feed.stops["stop_id"])


def test_gtfs_has_a_trip_past_midnight(feed: gtfs_kit.Feed) -> None:
    late = feed.stop_times[feed.stop_times["departure_time"].astype(str) > "24:00:00"]
    assert len(late) >= 1
    # it can be used early next morning: the timetable of the next day includes it
    trip = late["trip_id"].iloc[0]
    service = feed.trips.set_index("trip_id").loc[trip, "service_id"]
    day = dt.date(2026, 3, 3) if service == "WD" else dt.date(2026, 3, 7)  # Tuesday / Saturday
    tt = transit.build_timetable(feed, day + dt.timedelta(days=1))
    assert f"{trip}@-1d" in set(tt.trip_ids)


def test_weekday_holiday_runs_the_weekend_timetable(feed: gtfs_kit.Feed) -> None:
    cd = feed.calendar_dates
    good_friday = cd[cd["date"].astype(str) == "20260403"]
    assert set(
        zip(good_friday["service_id"], good_friday["exception_type"].astype(int), strict=True)
    ) == {("WD", 2), ("WE", 1)}
    trips_of = feed.trips.set_index("trip_id")["service_id"]
    weekday = transit.build_timetable(feed, "2026-03-31")  # an ordinary Tuesday
    holiday = transit.build_timetable(feed, "2026-04-03")
    saturday = transit.build_timetable(feed, "2026-04-04")
    assert weekday.n_connections > holiday.n_connections
    base = {t.split("@")[0] for t in holiday.trip_ids if "@" not in t}
    assert {trips_of[t] for t in base} == {"WE"}
    assert {t for t in saturday.trip_ids if "@" not in t} == {
        t for t in holiday.trip_ids if "@" not in t
    }


# --- privacy -----------------------------------------------------------------------------------
def _cells(data: bytes) -> list[str]:
    return [c for row in csv.reader(io.StringIO(data.decode("utf-8"))) for c in row]


def test_no_value_looks_like_a_cpr_number(fresh: Path) -> None:
    cells: list[str] = []
    for name in ("dwellings.csv", "households.csv", "residence_history.csv"):
        cells += _cells((fresh / name).read_bytes())
    with zipfile.ZipFile(fresh / "gtfs.zip") as zf:
        for name in zf.namelist():
            cells += _cells(zf.read(name))
    with sqlite3.connect(fresh / GPKG_NAME) as con:
        for table in ("boundary", "local_areas", "designated_areas"):
            cols = [r[1] for r in con.execute(f"pragma table_info({table})") if r[1] != "geom"]
            for row in con.execute(f"select {', '.join(cols)} from {table}"):
                cells += [str(v) for v in row]
    assert len(cells) > 10_000
    assert [c for c in cells if find_cpr(c)] == []
