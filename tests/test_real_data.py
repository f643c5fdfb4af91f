"""The loaders on the real public data in ../shared/data (see its PROVENANCE.md).

Skipped cleanly where the folder is absent. Expected counts are those stated in PROVENANCE.md;
the checks against them are computed here independently (geometry in EPSG:25832, plain json
and pandas reading), never by the loader under test.
"""

from __future__ import annotations

import bz2
import csv
import json
import re
import time
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import box

from placement import cli, gtfs, load, osm
from placement._errors import DataError
from placement.validate import points_outside_boundary

pytestmark = pytest.mark.shared_data

UTM = "EPSG:25832"
#: KOMKODE -> (name, parishes, Rejseplanen stops), as in PROVENANCE.md
CASES = {
    "0390": ("Vordingborg", 27, 397),
    "0336": ("Stevns", 17, 236),
    "0326": ("Kalundborg", 33, 598),
    "0707": ("Norddjurs", 36, 296),
    "0741": ("Samsø", 5, 29),
}
SAMSOE_OSM = "osm/samsoe_2020-03-09.osm.bz2"
POA = "fallback_porto_alegre"
#: central Porto Alegre, about 2.9 km x 2.8 km (lon/lat)
POA_BBOX = (-51.235, -30.045, -51.205, -30.02)
POA_UTM = "EPSG:31982"  # SIRGAS 2000 / UTM zone 22S


def _features(path: Path, code: str) -> dict[str, Any]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    feats = [f for f in doc["features"] if f["properties"]["KOMKODE"] == code]
    return {"type": "FeatureCollection", "features": feats}


@pytest.fixture(scope="module")
def case_files(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Per municipality: boundary and parishes as separate GeoJSON files, and a population CSV.

    The sources have no population, so a placeholder count (100 per parish) is written.
    """
    root = tmp_path_factory.mktemp("cases")
    out: dict[str, Any] = {}
    for code in CASES:
        folder = root / code
        folder.mkdir()
        bnd = _features(shared_data / "boundaries" / "case_kommuner.geojson", code)
        sogne = _features(shared_data / "boundaries" / "case_sogne.geojson", code)
        (folder / "boundary.geojson").write_text(json.dumps(bnd), encoding="utf-8")
        (folder / "parishes.geojson").write_text(json.dumps(sogne), encoding="utf-8")
        ids = [f["properties"]["SOGNEKODE"] for f in sogne["features"]]
        with (folder / "population.csv").open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["area_id", "population"])
            writer.writerows([i, 100 + k] for k, i in enumerate(ids))
        out[code] = {"folder": folder, "ids": ids, "sogne": sogne}
    return out


def _boundary(case_files: dict[str, Any], code: str) -> gpd.GeoDataFrame:
    return load.load_boundary(
        case_files[code]["folder"] / "boundary.geojson", name=CASES[code][0], code=code
    )


# --- boundaries and parishes -----------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(CASES))
def test_parishes_add_up_to_the_municipality(case_files: dict[str, Any], code: str) -> None:
    folder = case_files[code]["folder"]
    boundary = _boundary(case_files, code)
    assert len(boundary) == 1
    assert boundary.crs == "EPSG:4326"
    assert (boundary.loc[0, "name"], boundary.loc[0, "code"]) == (CASES[code][0], code)
    areas = load.load_areas(
        folder / "parishes.geojson",
        id_field="SOGNEKODE",
        name_field="SOGNENAVN",
        population_file=folder / "population.csv",
    )
    assert len(areas) == CASES[code][1]
    assert areas["area_id"].is_unique
    assert list(areas["area_id"]) == sorted(case_files[code]["ids"])
    names = {f["properties"]["SOGNEKODE"]: f["properties"]["SOGNENAVN"]
             for f in case_files[code]["sogne"]["features"]}  # fmt: skip
    assert dict(zip(areas["area_id"], areas["name"], strict=True)) == names
    expected_pop = {i: 100 + k for k, i in enumerate(case_files[code]["ids"])}
    assert dict(zip(areas["area_id"], areas["population"], strict=True)) == expected_pop
    assert (areas["integration_residents"] == 0).all()

    muni = boundary.to_crs(UTM).geometry.iloc[0]
    parish_area = areas.to_crs(UTM).area.sum()
    assert parish_area == pytest.approx(muni.area, rel=0.01)
    union = areas.to_crs(UTM).union_all()
    assert union.symmetric_difference(muni).area < 0.01 * muni.area
    # AREAL_KM2 of the source was computed in EPSG:25832 as well
    km2 = sum(f["properties"]["AREAL_KM2"] for f in case_files[code]["sogne"]["features"])
    assert parish_area / 1e6 == pytest.approx(km2, rel=0.001)


def test_parishes_without_population_are_reported(case_files: dict[str, Any]) -> None:
    folder = case_files["0336"]["folder"]
    with pytest.raises(DataError) as info:
        load.load_areas(folder / "parishes.geojson", id_field="SOGNEKODE", name_field="SOGNENAVN")
    problems = info.value.problems
    assert len(problems) == CASES["0336"][1]
    assert {(p.file, p.column) for p in problems} == {("parishes.geojson", "population")}
    assert sorted(p.row for p in problems) == list(range(1, CASES["0336"][1] + 1))


def test_population_file_missing_a_parish(case_files: dict[str, Any], tmp_path: Path) -> None:
    folder = case_files["0741"]["folder"]
    rows = (folder / "population.csv").read_text(encoding="utf-8").splitlines()
    short = tmp_path / "population.csv"
    short.write_text("\n".join(rows[:-1]) + "\n", encoding="utf-8")  # last parish left out
    with pytest.raises(DataError) as info:
        load.load_areas(
            folder / "parishes.geojson",
            id_field="SOGNEKODE",
            name_field="SOGNENAVN",
            population_file=short,
        )
    (problem,) = info.value.problems
    assert problem.file == "population.csv"
    assert case_files["0741"]["ids"][-1] in problem.message


def test_no_designated_areas_gives_an_empty_frame() -> None:
    # none of the case municipalities has a designated area with geometry (PROVENANCE.md)
    designated = load.load_designated(None)
    assert designated.empty
    assert list(designated.columns) == ["designated_id", "name", "kind", "geometry"]


# --- stops ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stop_list(shared_data: Path) -> pd.DataFrame:
    path = shared_data / "transit" / "rejseplanen_stoppesteder_dk_2020.csv"
    return pd.read_csv(path, dtype={"stop_id": str, "KOMKODE": str})


def test_stop_list_coordinates_agree(stop_list: pd.DataFrame) -> None:
    assert len(stop_list) == 38_864
    to_utm = Transformer.from_crs("EPSG:4326", UTM, always_xy=True)
    x, y = to_utm.transform(stop_list["stop_lon"].to_numpy(), stop_list["stop_lat"].to_numpy())
    assert np.abs(x - stop_list["x_utm32"].to_numpy()).max() < 1.0
    assert np.abs(y - stop_list["y_utm32"].to_numpy()).max() < 1.0


@pytest.mark.parametrize("code", sorted(CASES))
def test_stops_lie_in_their_municipality(
    case_files: dict[str, Any], stop_list: pd.DataFrame, shared_data: Path, code: str
) -> None:
    boundary = _boundary(case_files, code)
    stops = stop_list[stop_list["KOMKODE"] == code].reset_index(drop=True)
    assert len(stops) == CASES[code][2]
    geo = gpd.read_file(shared_data / "transit" / "case_stops_rejseplanen_2020.geojson")
    geo = geo[geo["KOMKODE"] == code]
    assert sorted(geo["stop_id"].astype(str)) == sorted(stops["stop_id"])

    rows = np.arange(len(stops)) + 2
    lon, lat = stops["stop_lon"].to_numpy(), stops["stop_lat"].to_numpy()
    strict = points_outside_boundary(lon, lat, rows, boundary, file="stops.csv", tolerance_m=1.0)
    outside = {p.row for p in strict}
    nearest = set(rows[(stops["KOM_MATCH"] == "nearest_2km").to_numpy()])
    assert outside == nearest  # exactly the stops matched to the nearest municipality
    assert points_outside_boundary(lon, lat, rows, boundary, file="s", tolerance_m=2000.0) == []


# --- Samsø OpenStreetMap ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def samsoe(shared_data: Path, case_files: dict[str, Any]) -> dict[str, Any]:
    """Walk graph and amenities of Samsø, loaded once, clipped to the boundary; with timings."""
    boundary = _boundary(case_files, "0741")
    path = shared_data / SAMSOE_OSM
    t0 = time.perf_counter()
    graph = osm.walk_graph_from_file(path, boundary=boundary)
    t1 = time.perf_counter()
    amenities = osm.amenities_from_file(path, boundary=boundary)
    t2 = time.perf_counter()
    return {
        "boundary": boundary,
        "graph": graph,
        "amenities": amenities,
        "seconds": (t1 - t0, t2 - t1),
    }


def test_samsoe_walk_graph(samsoe: dict[str, Any]) -> None:
    G = samsoe["graph"]
    assert 2_000 < G.number_of_nodes() < 5_000
    assert 2 * G.number_of_nodes() < G.number_of_edges() < 4 * G.number_of_nodes()
    # every street both ways: each edge has its reverse with the same length
    for u, v, k, length in G.edges(keys=True, data="length"):
        back = [d["length"] for d in G.get_edge_data(v, u).values()]
        assert min(abs(b - length) for b in back) < 1e-6, (u, v, k)
    total_km = sum(length for *_, length in G.edges(data="length")) / 2 / 1000
    assert 300 < total_km < 1_000  # an island of 114 km² with a dense path network
    largest = max(nx.weakly_connected_components(G), key=len)
    assert len(largest) > 0.95 * G.number_of_nodes()
    # all nodes on (or just off the generalised coast of) the island
    island = samsoe["boundary"].to_crs(UTM).geometry.iloc[0]
    xy = np.array([(d["x"], d["y"]) for _, d in G.nodes(data=True)])
    dist = shapely.distance(island, shapely.points(xy))
    assert dist.max() < osm.BOUNDARY_BUFFER_M
    assert (dist == 0).mean() > 0.95


def test_samsoe_walk_graph_matches_the_unclipped_one(
    samsoe: dict[str, Any], shared_data: Path
) -> None:
    # the whole extract is Samsø: clipping must not lose anything
    G_all = osm.walk_graph_from_file(shared_data / SAMSOE_OSM)
    assert set(G_all.nodes) == set(samsoe["graph"].nodes)
    assert G_all.number_of_edges() == samsoe["graph"].number_of_edges()


def test_samsoe_amenities(samsoe: dict[str, Any]) -> None:
    amen = samsoe["amenities"]
    counts = amen["category"].value_counts().to_dict()
    # PROVENANCE.md: 4 schools, 2 kindergartens, 1 library, 4 sports centres, 11 pitches,
    # 3 community centres, 51 bus stops
    assert counts["school"] == 4
    assert counts["daycare"] == 2
    assert counts["association"] == 4 + 11 + 3
    # 51 bus stops, and the ferry harbours (amenity=ferry_terminal) are stops too: 3 of the 5
    # ferry_terminal tags are on nodes or closed ways, which amenities are read from
    assert counts["stop"] == 51 + 3
    culture = set(amen.loc[amen["category"] == "library_culture", "name"])
    assert "Tranebjerg Bibliotek" in culture
    assert {"Tranebjerg Skole", "Nordby Friskole"} <= set(
        amen.loc[amen["category"] == "school", "name"]
    )
    assert amen["osm_id"].str.fullmatch(r"(node|way|relation)/\d+").all()
    assert (amen.geometry.geom_type == "Point").all()
    island = samsoe["boundary"].to_crs(UTM).geometry.iloc[0]
    assert amen.to_crs(UTM).distance(island).max() < osm.BOUNDARY_BUFFER_M


def test_samsoe_osm_stops_match_rejseplanen(
    samsoe: dict[str, Any], stop_list: pd.DataFrame
) -> None:
    amen = samsoe["amenities"]
    osm_stops = amen[amen["category"] == "stop"].to_crs(UTM)
    rp = stop_list[stop_list["KOMKODE"] == "0741"]
    rp_pts = gpd.GeoSeries(gpd.points_from_xy(rp["x_utm32"], rp["y_utm32"]), crs=UTM)
    nearest = np.array([osm_stops.distance(p).min() for p in rp_pts])
    assert nearest.max() < 500
    assert np.median(nearest) < 50


def test_samsoe_load_time(samsoe: dict[str, Any]) -> None:
    walk_s, amenities_s = samsoe["seconds"]
    assert walk_s < 60
    assert amenities_s < 60


# --- Porto Alegre (non-Danish fallback: real PBF and real GTFS) -------------------------------


@pytest.fixture(scope="module")
def poa_bbox() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": ["centro"]}, geometry=[box(*POA_BBOX)], crs="EPSG:4326")


def test_porto_alegre_pbf_clipped(shared_data: Path, poa_bbox: gpd.GeoDataFrame) -> None:
    path = shared_data / POA / "poa_osm.pbf"
    G = osm.walk_graph_from_file(path, boundary=poa_bbox)
    assert 1_000 < G.number_of_nodes() < 10_000
    # distances in the local UTM zone (22S); the clip buffer is measured in EPSG:25832, which
    # shrinks it to about 660 m this far from Denmark: fine for a fallback test city
    nodes = gpd.GeoSeries(
        gpd.points_from_xy(
            [d["x"] for _, d in G.nodes(data=True)], [d["y"] for _, d in G.nodes(data=True)]
        ),
        crs=G.graph["crs"],
    ).to_crs(POA_UTM)
    dist = nodes.distance(poa_bbox.to_crs(POA_UTM).geometry.iloc[0]).to_numpy()
    assert (dist == 0).mean() > 0.4
    assert (dist < 1000).mean() > 0.99
    assert dist.max() < 3000  # ways that cross the edge are kept whole, nothing far away
    amen = osm.amenities_from_file(path, boundary=poa_bbox)
    assert (amen["category"] == "stop").sum() > 100


def test_porto_alegre_gtfs(shared_data: Path, poa_bbox: gpd.GeoDataFrame) -> None:
    feed = gtfs.load_gtfs(shared_data / POA / "poa_eptc.zip")
    assert gtfs.service_date_range(feed) == (date(2019, 4, 15), date(2019, 7, 15))
    assert len(feed.routes) == 115
    assert len(feed.trips) == 2_374
    assert len(feed.stops) == 3_986
    assert len(feed.stop_times) == 130_019
    # the GTFS stops in the bbox have an OSM bus stop nearby (same city, same streets)
    stops = feed.stops
    pts = gpd.GeoSeries(gpd.points_from_xy(stops["stop_lon"], stops["stop_lat"]), crs=4326)
    in_box = pts[pts.within(poa_bbox.geometry.iloc[0])].to_crs(POA_UTM)
    amen = osm.amenities_from_file(shared_data / POA / "poa_osm.pbf", boundary=poa_bbox)
    osm_stops = amen[amen["category"] == "stop"].to_crs(POA_UTM)
    nearest = np.array([osm_stops.distance(p).min() for p in in_box])
    assert len(nearest) > 100
    assert (nearest < 100).mean() > 0.75


# --- a whole dataset folder from the Samsø parts ----------------------------------------------

DWELLINGS_HEADER = (
    "dwelling_id,address,lat,lon,rooms,floor_area_m2,rent_dkk,available_from,permanent,"
    "landlord,step_free"
)
HOUSEHOLDS_CSV = """household_id,adults,children_0_5,children_6_16,children_17_plus,arrival_date,step_free_needed
H1,1,0,0,0,2025-03-01,no
H2,2,1,2,0,2025-04-15,no
H3,1,2,0,0,2025-05-01,yes
"""  # noqa: E501


def _dwelling_rows(sogne: dict[str, Any]) -> list[str]:
    """Two dwellings per parish, at points computed to lie inside it."""
    parishes = gpd.GeoDataFrame.from_features(sogne["features"], crs="EPSG:4326")
    rows = []
    for k, (code, geom) in enumerate(zip(parishes["SOGNEKODE"], parishes.geometry, strict=True)):
        point = geom.representative_point()
        rows.append(f"D{k}a,Testvej {k},{point.y:.6f},{point.x:.6f},3,72.5,6200,2025-02-01,yes,"
                    f"Samsø Boligselskab,no")  # fmt: skip
        inner = geom.buffer(-0.001).representative_point()
        assert geom.contains(inner), code
        rows.append(f"D{k}b,Testvej {k}B,{inner.y:.6f},{inner.x:.6f},2,55,5100,2025-03-01,yes,"
                    f"Samsø Boligselskab,yes")  # fmt: skip
    return rows


def _write_dataset(
    folder: Path, case: dict[str, Any], osm_file: Path, dwellings: list[str]
) -> Path:
    folder.mkdir()
    src = case["folder"]
    for name in ("boundary.geojson", "parishes.geojson", "population.csv"):
        (folder / name).write_bytes((src / name).read_bytes())
    (folder / "dwellings.csv").write_text(
        "\n".join([DWELLINGS_HEADER, *dwellings]) + "\n", encoding="utf-8"
    )
    (folder / "households.csv").write_text(HOUSEHOLDS_CSV, encoding="utf-8")
    (folder / "dataset.toml").write_text(
        f"""[municipality]
name = "Samsø"
code = "0741"

[boundary]
file = "boundary.geojson"

[areas]
file = "parishes.geojson"
id_field = "SOGNEKODE"
name_field = "SOGNENAVN"
population_file = "population.csv"

[osm]
file = {json.dumps(str(osm_file))}

[dwellings]
file = "dwellings.csv"

[households]
file = "households.csv"
""",
        encoding="utf-8",
    )
    return folder


def test_samsoe_dataset_validates(
    case_files: dict[str, Any],
    shared_data: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    case = case_files["0741"]
    osm_file = (shared_data / SAMSOE_OSM).resolve()  # absolute path, not copied
    folder = _write_dataset(tmp_path / "samsoe", case, osm_file, _dwelling_rows(case["sogne"]))
    before = sorted(p.name for p in folder.iterdir())
    assert cli.main(["validate", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "The dataset is valid" in out  # then ", with N warnings" when there are any
    assert "municipality: Samsø (0741)" in out
    assert "areas: 5" in out
    assert "dwellings: 10" in out
    assert "households: 3" in out
    assert re.search(r"^walk_nodes: \d{4}$", out, re.MULTILINE)
    assert re.search(r"^amenities: .*\bschool=4\b.*\bstop=54\b", out, re.MULTILINE)
    assert sorted(p.name for p in folder.iterdir()) == before  # validate writes nothing


def test_broken_samsoe_dataset_lists_file_row_column(
    case_files: dict[str, Any],
    shared_data: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    case = case_files["0741"]
    # a truncated copy of the OSM extract (in tmp_path, never in the repository)
    raw = bz2.decompress((shared_data / SAMSOE_OSM).read_bytes())
    broken_osm = tmp_path / "samsoe_cut.osm"
    broken_osm.write_bytes(raw[: len(raw) // 10])
    rows = _dwelling_rows(case["sogne"])
    rows[1] = rows[1].replace(",2,55,", ",to,55,")  # row 3: rooms is not a number
    rows[2] = rows[2].replace(",55.", ",56.5")  # row 4: latitude far north of Samsø
    folder = _write_dataset(tmp_path / "broken", case, broken_osm, rows)
    assert cli.main(["validate", str(folder)]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert any(re.fullmatch(r"dwellings\.csv:3:rooms: .*whole number.*'to'.*", ln) for ln in lines)
    assert any(re.fullmatch(r"dwellings\.csv:4:lat/lon: .+", ln) for ln in lines)
    osm_lines = [ln for ln in lines if ln.startswith("samsoe_cut.osm:")]
    assert osm_lines
    assert all(
        re.fullmatch(r"samsoe_cut\.osm:\d+: cannot read the OSM file.+", ln) for ln in osm_lines
    )
    assert "Traceback" not in captured.out + captured.err
    assert "problems found" in captured.err


def test_samsoe_year_in_batches(
    case_files: dict[str, Any],
    shared_data: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The year simulation and a weekly batch on real Samsø boundaries, parishes and OSM."""
    case = case_files["0741"]
    osm_file = (shared_data / SAMSOE_OSM).resolve()
    folder = _write_dataset(tmp_path / "samsoe", case, osm_file, _dwelling_rows(case["sogne"]))
    out = tmp_path / "year"
    assert cli.main(["year", "simulate", str(folder), "--out", str(out), "--scenarios",
                     "2"]) == 0
    table = pd.read_csv(out / "methods.csv")
    assert (table["ratio_to_hindsight"] <= 1 + 1e-9).all()
    assert (table.loc[table["method"] == "hindsight", "households_placed"] == 3).all()
    batch = tmp_path / "batch.csv"
    assert cli.main(["propose", str(folder), "--batch-until", "2025-04-01", "--out",
                     str(batch)]) == 0
    b = pd.read_csv(batch).set_index("household_id")
    assert b.loc["H1", "status"] in ("placed", "waits")
    assert b.loc["H3", "status"] == "later"


def test_samsoe_review_alternatives_keep_the_area_cap_and_building_limit(
    case_files: dict[str, Any], shared_data: Path, tmp_path: Path
) -> None:
    """On real Samsø parishes: every offered alternative keeps the cap and the building limit."""
    from placement import planning, review

    case = case_files["0741"]
    osm_file = (shared_data / SAMSOE_OSM).resolve()
    folder = _write_dataset(tmp_path / "samsoe", case, osm_file, _dwelling_rows(case["sogne"]))
    plan = planning.make_plan(folder, "default")
    base = review.review_base(plan.dataset, plan.access, plan.policy)
    props = plan.assignments[["household_id", "dwelling_id"]]
    ds, r = plan.dataset, plan.policy.rules
    persons = dict(zip(ds.households["household_id"].astype(str), ds.households["persons"],
                       strict=True))
    area_of = dict(zip(ds.dwellings["dwelling_id"].astype(str),
                       ds.dwellings["area_id"].astype("string"), strict=True))
    pop = dict(zip(ds.areas["area_id"].astype(str), ds.areas["population"], strict=True))
    res = (dict(zip(ds.areas["area_id"].astype(str),
                    ds.areas["integration_residents"].fillna(0), strict=True))
           if "integration_residents" in ds.areas.columns else {})
    alts = review.all_alternatives(base, props, k=10_000)
    assert len(alts)
    placed = props.dropna(subset=["dwelling_id"]).astype(str)
    for row in alts.itertuples(index=False):
        area = area_of[row.dwelling_id]
        if r.area_cap and pd.notna(area):
            share = r.area_max_share.get(str(area), r.max_area_share)
            cap = np.floor(share * float(pop[str(area)]) + 1e-9) - float(res.get(str(area), 0))
            others = sum(int(persons[h]) for h, d in zip(placed["household_id"],
                                                          placed["dwelling_id"], strict=True)
                         if h != row.household_id and str(area_of[d]) == str(area))
            assert others + int(persons[row.household_id]) <= cap + 1e-9
        assert review.check_assignment(base, row.household_id, row.dwelling_id, "en",
                                       proposals=props) == []
    # what would place a household: each dwelling listed breaks exactly the rule it names,
    # the cap and the building limit counted too
    for hid in ds.households["household_id"].astype(str):
        away = review.one_rule_away(base, hid, language="en", limit=10_000, proposals=props)
        for row in away.itertuples(index=False):
            assert review.check_assignment(base, hid, row.dwelling_id, "en",
                                           proposals=props) == [row.rule_text]
