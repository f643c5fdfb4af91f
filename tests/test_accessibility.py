"""Accessibility table: walk times against networkx, PT journeys by hand, flags, cache, output."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from gtfs_tiny import Feed, Trip, write_feed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from test_network import random_graph

from placement import schema
from placement import settings as placement_settings
from placement.accessibility import (
    accessibility_for_dataset,
    compute_accessibility,
    write_access_table,
)

SPEED_KMH = 4.5
SPEED_M_S = SPEED_KMH / 3.6
H = 3600
M = 60
#: A spot on Zealand in EPSG:25832 metres, so the synthetic data has real coordinates.
X0, Y0 = 680_000.0, 6_150_000.0
TO_LATLON = Transformer.from_crs("EPSG:25832", "EPSG:4326", always_xy=True)


# ------------------------------------------------------------------------------------------
# An independent reference: brute-force snapping + networkx Dijkstra
# ------------------------------------------------------------------------------------------
def _edges(G: nx.MultiDiGraph) -> list[tuple[object, object, float, shapely.LineString]]:
    """Undirected edges (u, v, length, geometry u→v), each street once."""
    seen, out = set(), []
    for u, v, d in G.edges(data=True):
        key = (min(u, v), max(u, v), round(float(d["length"]), 2))
        if key in seen:
            continue
        seen.add(key)
        geom = d.get("geometry") or shapely.LineString(
            [(G.nodes[u]["x"], G.nodes[u]["y"]), (G.nodes[v]["x"], G.nodes[v]["y"])]
        )
        if geom.coords[0] != (G.nodes[u]["x"], G.nodes[u]["y"]):
            geom = shapely.reverse(geom)
        out.append((u, v, float(d["length"]), geom))
    return out


def _snap(edges, xy: np.ndarray) -> list[tuple[int, float, float]]:
    """(edge index, position along it in metres of length, snap distance) per point."""
    geoms = np.array([e[3] for e in edges], dtype=object)
    out = []
    for p in shapely.points(xy):
        dist = shapely.distance(geoms, p)
        k = int(np.argmin(dist))
        _, _, length, geom = edges[k]
        pos = geom.line_locate_point(p) * (length / geom.length if geom.length > 0 else 1.0)
        out.append((k, min(max(pos, 0.0), length), float(dist[k])))
    return out


def reference_times_s(G: nx.MultiDiGraph, src_xy: np.ndarray, dst_xy: np.ndarray) -> np.ndarray:
    """Door-to-door walking seconds (sources × destinations) by networkx Dijkstra."""
    edges = _edges(G)
    Hg = nx.Graph()
    Hg.add_nodes_from(G.nodes)
    for u, v, length, _ in edges:
        if u != v and (not Hg.has_edge(u, v) or Hg[u][v]["length"] > length):
            Hg.add_edge(u, v, length=length)
    s_snap, d_snap = _snap(edges, src_xy), _snap(edges, dst_xy)
    out = np.full((len(src_xy), len(dst_xy)), np.inf)
    for i, (ke, pos, sd) in enumerate(s_snap):
        u, v, length, _ = edges[ke]
        Hg.add_edge("src", u, length=min(pos, length - pos) if u == v else pos)
        if v != u:
            Hg.add_edge("src", v, length=length - pos)
        dist = nx.single_source_dijkstra_path_length(Hg, "src", weight="length")
        Hg.remove_node("src")
        for j, (kd, pd_, dd) in enumerate(d_snap):
            a, b, lb, _ = edges[kd]
            best = min(dist.get(a, math.inf) + pd_, dist.get(b, math.inf) + lb - pd_)
            if kd == ke:
                best = min(best, abs(pos - pd_))
            out[i, j] = sd + best + dd
    return out / SPEED_M_S


def _points(xy: np.ndarray, **cols) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=shapely.points(xy), crs="EPSG:25832")


def synthetic(seed: int, n_dw: int = 25):
    """Random graph (600 m across), dwellings and two amenity categories."""
    G = random_graph(seed)
    rng = np.random.default_rng(seed)
    dw = rng.uniform(-60, 560, size=(n_dw, 2))
    am = rng.uniform(-60, 560, size=(8, 2))
    cats = ["school"] * 5 + ["doctor"] * 3
    dwellings = _points(dw, dwelling_id=[f"D{i:02d}" for i in range(n_dw)])
    amenities = _points(am, category=cats)
    return G, dwellings, amenities, dw, am, np.array(cats)


# ------------------------------------------------------------------------------------------
# Walk access
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_walk_times_and_counts_match_networkx(seed):
    G, dwellings, amenities, dw, am, cats = synthetic(seed)
    thresholds = (2, 4, 8)
    table = compute_accessibility(dwellings, G, amenities, thresholds=thresholds)
    assert table.index.tolist() == dwellings["dwelling_id"].tolist()
    assert table.index.name == "dwelling_id"
    ref = reference_times_s(G, dw, am)
    for cat in ("school", "doctor"):
        want = ref[:, cats == cat]
        got = table[schema.walk_min_col(cat)].to_numpy()
        assert got * 60 == pytest.approx(want.min(axis=1), rel=1e-9, abs=1e-6)
        for t in thresholds:
            counts = table[schema.count_col(cat, t)].to_numpy(dtype=int)
            assert counts.tolist() == (want <= t * 60).sum(axis=1).tolist()
    # categories without amenities: NaN time, zero count
    assert table[schema.walk_min_col("daycare")].isna().all()
    assert (table[schema.count_col("daycare", 8)] == 0).all()
    # straight line between the dwelling and where it meets the network
    assert table["snap_dist_m"].to_numpy() == pytest.approx(
        [s for _, _, s in _snap(_edges(G), dw)]
    )


def test_dwelling_far_from_the_network_is_flagged_not_snapped():
    G, dwellings, amenities, *_ = synthetic(0, n_dw=3)
    far = np.array([[250.0, -800.0]])  # the grid's lowest street runs near y = 0
    dwellings = pd.concat([dwellings, _points(far, dwelling_id=["FAR"])], ignore_index=True)
    table = compute_accessibility(dwellings, G, amenities)
    row = table.loc["FAR"]
    assert bool(row["off_network"])
    assert row["snap_dist_m"] > 500
    ref_snap = _snap(_edges(G), far)[0][2]
    assert row["snap_dist_m"] == pytest.approx(ref_snap)
    assert np.isnan(row[schema.walk_min_col("school")])
    assert pd.isna(row[schema.count_col("school", 30)])
    assert not table.drop(index="FAR")["off_network"].any()


def test_walk_speed_scales_times():
    G, dwellings, amenities, *_ = synthetic(3)
    slow = compute_accessibility(dwellings, G, amenities, walk_speed_kmh=3.0)
    fast = compute_accessibility(dwellings, G, amenities, walk_speed_kmh=6.0)
    col = schema.walk_min_col("school")
    assert slow[col].to_numpy() == pytest.approx(2 * fast[col].to_numpy())


def test_bad_window_is_a_config_error():
    from placement._errors import ConfigError

    G, dwellings, amenities, *_ = synthetic(0, n_dw=2)
    for window in [("7", "09:00"), ("09:00", "07:00")]:
        with pytest.raises(ConfigError, match="window"):
            compute_accessibility(dwellings, G, amenities, window=window)


def test_duplicate_dwelling_ids_are_a_data_error():
    from placement._errors import DataError

    G, dwellings, amenities, *_ = synthetic(0, n_dw=3)
    dwellings["dwelling_id"] = ["A", "B", "A"]
    with pytest.raises(DataError, match="dwelling_id"):
        compute_accessibility(dwellings, G, amenities)


coord = st.floats(min_value=-80, max_value=580, allow_nan=False)


@settings(deadline=None, max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 1000),
    dw=st.lists(st.tuples(coord, coord), min_size=1, max_size=6),
    am=st.lists(st.tuples(coord, coord), min_size=1, max_size=4),
    extra=st.tuples(coord, coord),
)
def test_table_invariants(seed, dw, am, extra):
    """Never faster than the crow flies; one more amenity never makes a walk longer.

    (A new street can move where a dwelling meets the network, so "adding an edge never makes
    a time longer" is checked on the network itself, in test_network.py.)
    """
    G = random_graph(seed, n_side=5, drop=0.3)
    dwellings = _points(np.array(dw), dwelling_id=[f"D{i}" for i in range(len(dw))])
    amenities = _points(np.array(am), category=["school"] * len(am))
    col = schema.walk_min_col("school")
    base = compute_accessibility(dwellings, G, amenities, max_snap_m=1e6)
    t0 = base[col].to_numpy()
    crow = np.hypot(*(np.array(dw)[:, None, :] - np.array(am)[None]).transpose(2, 0, 1))
    finite = np.isfinite(t0)
    assert (t0[finite] * 60 * SPEED_M_S >= crow.min(axis=1)[finite] - 1e-6).all()
    # one more amenity
    more = pd.concat([amenities, _points(np.array([extra]), category=["school"])])
    t1 = compute_accessibility(dwellings, G, more, max_snap_m=1e6)[col].to_numpy()
    assert (np.nan_to_num(t1, nan=np.inf) <= np.nan_to_num(t0, nan=np.inf) + 1e-9).all()


# ------------------------------------------------------------------------------------------
# Public transport on a hand-made street and feed
# ------------------------------------------------------------------------------------------
def street_graph() -> nx.MultiDiGraph:
    """One straight 3 km street, a node every 100 m, at (X0 + x, Y0)."""
    G = nx.MultiDiGraph(crs="EPSG:25832")
    for k in range(31):
        G.add_node(k, x=X0 + 100.0 * k, y=Y0)
    for k in range(30):
        G.add_edge(k, k + 1, length=100.0)
        G.add_edge(k + 1, k, length=100.0)
    return G


def _stop(stop_id: str, x: float) -> tuple[str, float, float]:
    lon, lat = TO_LATLON.transform(X0 + x, Y0)
    return (stop_id, lat, lon)


def street_feed(path: Path) -> Path:
    """Bus A (300 m) → B (2700 m) at :10 and :40 from 07:10 to 09:40, 5 minutes' ride.

    Stop C (450 m) has one early trip to B; stop F (1500 m) has a trip every 10 minutes that
    serves no one in the tests. Service is removed on 2024-01-10.
    """
    trips = [
        Trip(f"AB{k}", [("A", t, t), ("B", t + 5 * M, t + 5 * M)])
        for k, t in enumerate(range(7 * H + 10 * M, 9 * H + 41 * M, 30 * M))
    ]
    trips.append(Trip("CB", [("C", 6 * H + 30 * M, 6 * H + 30 * M), ("B", 6 * H + 40 * M, None)]))
    trips += [Trip(f"F{k}", [("F", t, t), ("B", t + 4 * M, None)])
              for k, t in enumerate(range(6 * H, 8 * H, 10 * M))]
    feed = Feed(
        stops=[_stop("A", 300), _stop("B", 2700), _stop("C", 450), _stop("F", 1500)],
        trips=trips,
        services=[("EVERYDAY", "1111111", "20240101", "20241231")],
        calendar_dates=[("EVERYDAY", "20240110", 2)],
    )
    return write_feed(feed, path)


def street_table(tmp_path: Path, date: str) -> pd.DataFrame:
    import gtfs_kit as gk

    feed = gk.read_feed(street_feed(tmp_path / "gtfs.zip"), dist_units="km")
    dwellings = _points(np.array([[X0, Y0], [X0 + 2000, Y0 + 30]]), dwelling_id=["home", "mid"])
    amenities = _points(
        np.array([[X0 + 3000, Y0], [X0 + 2900, Y0], [X0 + 200, Y0]]),
        category=["jobcenter", "upper_secondary", "upper_secondary"],
    )
    lon, lat = TO_LATLON.transform(X0 + 3000, Y0)
    return compute_accessibility(
        dwellings, street_graph(), amenities, feed=feed, date=date, window=("07:00", "09:00"),
        step_min=10, extra_points={"work": (lat, lon)},
    )


def test_pt_times_by_hand(tmp_path: Path):
    table = street_table(tmp_path, "2024-01-09")
    # home: walk 300 m (4 min) to A, wait for :10/:40, ride 5 min, walk 300 m (4 min).
    # Leaving 07:00 → 19 min, 07:10 → 39, 07:20 → 29, 07:30 → 19, ... (12 departures):
    # four each of 19, 29 and 39 min; walking all the way is 3000 m = 40 min.
    # median of 12 = mean of the 6th and 7th smallest = 29; p80 at rank 8.8 → 39.
    home = table.loc["home"]
    for dest in ("work", "jobcenter"):
        assert home[schema.pt_col(dest, "median")] == pytest.approx(29, abs=0.01)
        assert home[schema.pt_col(dest, "p80")] == pytest.approx(39, abs=0.01)
    # mid (2000 m along, 30 m off the street): walking 30 + 1000 m beats the bus (F is 530 m
    # away, then 4 min ride and 300 m walk: over 15 min)
    walk_min = (30 + 1000) / SPEED_M_S / 60
    assert table.loc["mid", schema.pt_col("work", "median")] == pytest.approx(walk_min, abs=0.01)
    assert table.loc["mid", "snap_dist_m"] == pytest.approx(30, abs=1e-6)
    # the nearest of two upper-secondary schools counts: 200 m walk from home, 930 m from mid
    assert home[schema.pt_col("upper_secondary", "p80")] == pytest.approx(200 / SPEED_M_S / 60)
    assert table.loc["mid", schema.pt_col("upper_secondary", "median")] == pytest.approx(
        930 / SPEED_M_S / 60
    )
    assert len(table.attrs["destinations_lat_lon"]["upper_secondary"]) == 2
    # service level: nearest served stop A is 4 min away; within 500 m are A (6 departures
    # 06–20) and C (1 departure); B is only an arrival stop, F is 1500 m away.
    assert home["walk_stop_min"] == pytest.approx(4, abs=0.01)
    assert home["departures_per_hour_500m"] == pytest.approx(7 / 14)
    assert table.loc["mid", "departures_per_hour_500m"] == 0
    assert table.attrs["service_date"] == "2024-01-09"
    assert table.attrs["n_departures"] == 12


def test_pt_on_a_removed_service_day_is_walking(tmp_path: Path):
    table = street_table(tmp_path, "2024-01-10")  # calendar_dates removes the service
    assert table.loc["home", schema.pt_col("work", "median")] == pytest.approx(40, abs=0.01)
    assert table.loc["home", "departures_per_hour_500m"] == 0
    assert np.isnan(table.loc["home", "walk_stop_min"])  # no stop is served that day


# ------------------------------------------------------------------------------------------
# The dataset entry point: cache and output files
# ------------------------------------------------------------------------------------------
@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    import fixtures_data as fd

    folder = fd.write_dataset(tmp_path / "ds", manifest={"gtfs": {"file": "gtfs.zip"}})
    trips = [Trip(f"T{k}", [("A", 7 * H + k * 600, 7 * H + k * 600), ("B", 7 * H + k * 600 + 900,
                                                                       None)]) for k in range(20)]
    write_feed(Feed(stops=[("A", 55.3805, 11.7710), ("B", 55.4095, 11.8290)], trips=trips),
               folder / "gtfs.zip")
    return folder


def test_dataset_table_is_cached_and_recomputed_on_change(dataset, tmp_path, monkeypatch):
    import placement.accessibility as acc

    monkeypatch.setattr(placement_settings, "cache_folder", tmp_path / "cache")
    first = accessibility_for_dataset(dataset, date="2024-01-09")
    assert list(first.index) == ["D1", "D2", "D3", "D4"]
    assert first.loc["D4", "off_network"]  # ~3 km from the only street
    expected = {schema.walk_min_col(c) for c in schema.AMENITY_CATEGORIES}
    # the data holds no jobcenter, language school or upper secondary school: their PT times
    # are not measured, so their columns are left out (unknown), never filled as "unreachable"
    absent = {"jobcenter", "language_school", "upper_secondary"}
    expected |= {schema.pt_col(d, s) for d in schema.PT_DESTINATIONS if d not in absent
                 for s in ("median", "p80")}
    expected |= set(schema.ACCESS_EXTRA)
    assert expected <= set(first.columns)
    assert not {schema.pt_col(d, s) for d in absent for s in ("median", "p80")} & set(
        first.columns)
    files = sorted((tmp_path / "cache" / "access").glob("*.parquet"))
    assert len(files) == 1

    def boom(*args, **kwargs):
        msg = "recomputed although nothing changed"
        raise AssertionError(msg)

    monkeypatch.setattr(acc, "compute_accessibility", boom)
    second = accessibility_for_dataset(dataset, date="2024-01-09")
    pd.testing.assert_frame_equal(first, second)
    assert second.attrs == first.attrs
    monkeypatch.undo()
    monkeypatch.setattr(placement_settings, "cache_folder", tmp_path / "cache")
    # another parameter → another key
    accessibility_for_dataset(dataset, date="2024-01-09", walk_speed_kmh=5.0)
    assert len(list((tmp_path / "cache" / "access").glob("*.parquet"))) == 2
    # a changed input file → another key, and the new numbers
    csv = dataset / "dwellings.csv"
    text = csv.read_text(encoding="utf-8")
    assert "55.41,11.78" in text
    csv.write_text(text.replace("55.41,11.78", "55.40,11.81"), encoding="utf-8")
    third = accessibility_for_dataset(dataset, date="2024-01-09")
    assert len(list((tmp_path / "cache" / "access").glob("*.parquet"))) == 3
    assert third.loc["D2", "snap_dist_m"] != first.loc["D2", "snap_dist_m"] or (
        third.loc["D2", "walk_school_min"] != first.loc["D2", "walk_school_min"]
    )


def test_use_cache_false_writes_nothing(dataset, tmp_path, monkeypatch):
    monkeypatch.setattr(placement_settings, "cache_folder", tmp_path / "cache")
    accessibility_for_dataset(dataset, date="2024-01-09", use_cache=False)
    assert not (tmp_path / "cache").exists()


def test_write_access_table_csv_and_gpkg(tmp_path: Path):
    G, dwellings, amenities, *_ = synthetic(4, n_dw=5)
    table = compute_accessibility(dwellings, G, amenities)
    csv = write_access_table(table, None, tmp_path / "out" / "access.csv")
    back = pd.read_csv(csv, index_col="dwelling_id")
    assert back.index.tolist() == table.index.tolist()
    col = schema.walk_min_col("school")
    assert back[col].to_numpy() == pytest.approx(table[col].to_numpy(), rel=1e-5)
    gpkg = write_access_table(table, dwellings, tmp_path / "access.gpkg")
    geo = gpd.read_file(gpkg, layer="accessibility")
    assert geo.crs.to_epsg() == 4326
    assert geo["dwelling_id"].tolist() == table.index.tolist()
    pts = geo.to_crs("EPSG:25832").geometry
    assert np.allclose(np.c_[pts.x, pts.y], np.c_[dwellings.geometry.x, dwellings.geometry.y])
    with pytest.raises(ValueError, match="gpkg"):
        write_access_table(table, None, tmp_path / "x.gpkg")
    with pytest.raises(ValueError, match="xlsx"):
        write_access_table(table, dwellings, tmp_path / "x.xlsx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["access.gpkg", "out"]  # no temp left


# ------------------------------------------------------------------------------------------
# Real data: the demo municipality and Samsø
# ------------------------------------------------------------------------------------------
def test_demo_walk_times_match_networkx(demo_dir: Path):
    if not (demo_dir / "dataset.toml").is_file():
        pytest.skip("demo dataset not generated (placement demo-data)")
    from placement.dataset import load_dataset
    from placement.osm import amenities_from_file, walk_graph_from_file

    ds = load_dataset(demo_dir)
    G = walk_graph_from_file(ds.osm_path, boundary=ds.boundary)
    amenities = amenities_from_file(ds.osm_path, boundary=ds.boundary)
    sample = ds.dwellings.iloc[:: max(1, len(ds.dwellings) // 20)]
    table = compute_accessibility(sample, G, amenities)
    dw = np.c_[sample.to_crs("EPSG:25832").geometry.x, sample.to_crs("EPSG:25832").geometry.y]
    on = ~table["off_network"].to_numpy()
    am_work = amenities.to_crs("EPSG:25832")
    for cat in ("school", "supermarket", "doctor"):
        sel = am_work[am_work["category"] == cat]
        if sel.empty:
            continue
        ref = reference_times_s(G, dw[on], np.c_[sel.geometry.x, sel.geometry.y]).min(axis=1)
        got = table[schema.walk_min_col(cat)].to_numpy()[on] * 60
        assert got == pytest.approx(ref, rel=1e-9, abs=1e-6)


@pytest.mark.shared_data
@pytest.mark.slow
def test_samso_walk_times_match_networkx(shared_data: Path):
    from placement.osm import amenities_from_file, walk_graph_from_file

    osm_file = shared_data / "osm" / "samsoe_2020-03-09.osm.bz2"
    G = walk_graph_from_file(osm_file)
    amenities = amenities_from_file(osm_file)
    rng = np.random.default_rng(1)
    nodes = list(G.nodes)
    picks = rng.choice(len(nodes), size=25, replace=False)
    dw = np.array([(G.nodes[nodes[i]]["x"], G.nodes[nodes[i]]["y"]) for i in picks])
    dw = dw + rng.uniform(-150, 150, size=dw.shape)
    dwellings = _points(dw, dwelling_id=[f"S{i}" for i in range(len(dw))])
    table = compute_accessibility(dwellings, G, amenities, thresholds=(10, 30))
    on = ~table["off_network"].to_numpy()
    assert on.sum() >= 20
    am_work = amenities.to_crs("EPSG:25832")
    ref_all = reference_times_s(G, dw[on], np.c_[am_work.geometry.x, am_work.geometry.y])
    checked = 0
    for cat in ("school", "stop", "daycare"):
        sel = (am_work["category"] == cat).to_numpy()
        if not sel.any():
            continue
        checked += 1
        ref = ref_all[:, sel]
        got = table[schema.walk_min_col(cat)].to_numpy()[on] * 60
        assert got == pytest.approx(ref.min(axis=1), rel=1e-9, abs=1e-6)
        counts = table[schema.count_col(cat, 30)].to_numpy(dtype=int)[on]
        assert counts.tolist() == (ref <= 30 * 60).sum(axis=1).tolist()
    assert checked >= 2


def test_cache_hit_imports_neither_osmnx_nor_gtfs_kit(dataset, tmp_path, monkeypatch):
    import os
    import subprocess
    import sys

    monkeypatch.setattr(placement_settings, "cache_folder", tmp_path / "cache")
    first = accessibility_for_dataset(dataset, date="2024-01-09")
    code = (
        "import sys\n"
        "from placement.accessibility import accessibility_for_dataset\n"
        f"t = accessibility_for_dataset({str(dataset)!r}, date='2024-01-09')\n"
        "print(len(t), float(t['snap_dist_m'].sum()))\n"
        "print(','.join(m for m in ('osmnx', 'gtfs_kit', 'numba') if m in sys.modules))\n"
    )
    env = {**os.environ, "PLACEMENT_CACHE": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout.splitlines()
    assert out[0] == f"{len(first)} {float(first['snap_dist_m'].sum())}"  # read, not recomputed
    assert out[1] == ""  # none of the heavy packages was imported for a cache hit


def test_cache_key_covers_the_tag_table_and_the_package_version(dataset, tmp_path, monkeypatch):
    import placement
    import placement.accessibility as acc
    from placement import osm

    assert osm.AMENITY_TAGS_CSV == acc.AMENITY_TAGS_FILE  # the table amenities are read with
    params = {"window": ["07:00", "09:00"]}
    key = acc.cache_key(dataset, params)
    assert acc.cache_key(dataset, params) == key
    tags = tmp_path / "amenity_tags.csv"
    tags.write_text(acc.AMENITY_TAGS_FILE.read_text(encoding="utf-8") + "amenity,pub,library\n",
                    encoding="utf-8")
    monkeypatch.setattr(acc, "AMENITY_TAGS_FILE", tags)
    assert acc.cache_key(dataset, params) != key
    monkeypatch.undo()
    monkeypatch.setattr(placement, "__version__", "99.0")
    assert acc.cache_key(dataset, params) != key


def test_prune_cache_deletes_old_and_surplus_tables(tmp_path):
    import os
    import time

    from placement.accessibility import prune_cache

    now = time.time()
    ages_days = {"a": 0.1, "b": 1, "c": 2, "d": 3, "old": 40, "new": 0}
    for name, age in ages_days.items():
        f = tmp_path / f"{name}.parquet"
        f.write_bytes(b"x")
        os.utime(f, (now - age * 86_400, now - age * 86_400))
    (tmp_path / "other.json").write_text("{}")  # not a table: left alone
    removed = prune_cache(tmp_path, keep=tmp_path / "new.parquet", max_age_days=30,
                          max_entries=3)
    assert sorted(p.stem for p in removed) == ["c", "d", "old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a.parquet", "b.parquet", "new.parquet", "other.json"]


def test_threads_give_the_same_table_on_the_demo(demo_dir, monkeypatch):
    """Categories, snapping, counts, walks to stops and the PT lookup on 1 or 3 threads."""
    tables = []
    for threads in ("1", "3"):
        monkeypatch.setenv("PLACEMENT_THREADS", threads)
        tables.append(accessibility_for_dataset(demo_dir, use_cache=False))
    pd.testing.assert_frame_equal(tables[0], tables[1])
    assert tables[0].filter(like="_median_min").notna().to_numpy().any()
    assert tables[0].filter(like="_within_").notna().to_numpy().any()
