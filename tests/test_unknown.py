"""Unknown is never zero; optional means optional.

Each defect named in the issue about real municipalities gets a test here: unknown terms are
NaN and follow the policy's [unknown] choice, dwellings near only a small piece of path or
outside the OSM coverage are unknown, places mapped twice count once, private places do not
count, a missing building_id is no building, population is optional, national files are cut
by code, the Statistikbanken export loads, and column names can be mapped.
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from fixtures_data import DWELLINGS_HEADER, DWELLINGS_ROWS, write_csv, write_dataset
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from placement import checks, load, osm
from placement._errors import DataError
from placement.accessibility import compute_accessibility, osm_coverage
from placement.config import Policy, load_policy
from placement.dataset import load_dataset, validate_dataset
from placement.measures import area_caps, plan_measures
from placement.optimizer import propose
from placement.optimizer.synthetic import make_instance
from placement.score import NO_DATA_BITS, PAIR_TERMS, combine, dwelling_terms, pair_terms

UTM = "EPSG:25832"
X0, Y0 = 600_000.0, 6_150_000.0


# --- score: unknown is NaN, measured-but-far is 0 ----------------------------------------------


def test_missing_walk_is_zero_when_measured_and_unknown_when_not():
    access = pd.DataFrame(
        {
            "walk_school_min": [np.nan, np.nan, 4.0],
            "n_school_within_15min": pd.array([0, pd.NA, 1], dtype="Int64"),
        },
        index=["far", "no_data", "near"],
    )
    t = dwelling_terms(access, scoring=Policy().scoring)
    assert t.loc["far", "school"] == 0.0  # measured: no school within reach
    assert np.isnan(t.loc["no_data", "school"])  # not measured: unknown, never 0
    assert t.loc["near", "school"] == 1.0


def test_without_timetable_transit_is_the_walk_to_a_stop_and_pt_unknown():
    s = Policy().scoring
    access = pd.DataFrame(
        {
            "walk_stop_min": [5.0, np.nan, np.nan],
            "n_stop_within_15min": pd.array([1, pd.NA, 3], dtype="Int64"),
            "departures_per_hour_500m": [np.nan, np.nan, 8.0],
            "pt_jobcenter_median_min": [np.nan, np.nan, np.nan],
        },
        index=["no_feed", "off_network", "feed_no_journey"],
    )
    t = dwelling_terms(access, scoring=s)
    assert t.loc["no_feed", "transit"] == 1.0  # the walk only; departures/pt unknown
    assert np.isnan(t.loc["off_network", "transit"])
    # with a timetable a missing journey is measured: 0 (and the walk NaN with counts: 0)
    assert t.loc["feed_no_journey", "transit"] == pytest.approx((1.0 + 0.0 + 0.0) / 3)


def _terms(transit, community, family, anchor, no_data):
    return {"transit": np.array(transit, float), "community": np.array(community, float),
            "family": np.array(family, float), "anchor": np.array(anchor, float),
            "no_data": np.array(no_data, np.int8)}


def test_policy_choices_for_unknown_terms():
    fam, com, tra = NO_DATA_BITS["family"], NO_DATA_BITS["community"], NO_DATA_BITS["transit"]
    t = _terms([0.8, 0.8, np.nan], [np.nan, 0.4, np.nan], [np.nan, np.nan, np.nan],
               [np.nan, np.nan, np.nan], [com, fam, tra | com])
    w = Policy().weights
    leave = combine(t, Policy())
    assert leave[0] == pytest.approx(0.8)  # community left out, weights renormalised
    assert leave[1] == pytest.approx((w.transit * 0.8 + w.community * 0.4)
                                     / (w.transit + w.community))
    assert leave[2] == pytest.approx(0.5)  # nothing known: the neutral value
    neutral = combine(t, load_policy("default").with_overrides(
        unknown={"community": "neutral", "family": "neutral", "neutral_value": 0.3}))
    assert neutral[0] == pytest.approx((w.transit * 0.8 + w.community * 0.3)
                                       / (w.transit + w.community))
    assert neutral[1] == pytest.approx((w.transit * 0.8 + w.community * 0.4 + w.family * 0.3)
                                       / (w.transit + w.community + w.family))


def test_family_not_applicable_differs_from_unknown():
    dterms = pd.DataFrame({"transit": [0.5], "community": [0.5], "daycare": [np.nan],
                           "school": [np.nan]})
    out = pair_terms(h=np.array([0, 1]), d=np.array([0, 0]),
                     has_0_5=np.array([True, False]), has_6_16=np.array([False, False]),
                     anchor_lat=np.full(2, np.nan), anchor_lon=np.full(2, np.nan),
                     dw_lat=np.array([55.0]), dw_lon=np.array([11.0]), dterms=dterms,
                     scoring=Policy().scoring)
    assert np.isnan(out["family"]).all()
    assert out["no_data"][0] & NO_DATA_BITS["family"]  # children 0-5, no daycare data
    assert not out["no_data"][1] & NO_DATA_BITS["family"]  # no children: not applicable


score = st.one_of(st.just(math.nan), st.floats(0, 1))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(score, score, score, score, st.booleans(), st.booleans()),
                min_size=1, max_size=20))
def test_leave_out_is_the_mean_over_known_terms(rows):
    """Invariant: never an unknown term scored 0; the score is the mean over known terms."""
    v = np.array([r[:4] for r in rows], float)
    unknown = np.array([[r[4], r[5], False, False] for r in rows], bool)
    v[unknown] = np.nan
    mask = unknown[:, 0] * NO_DATA_BITS["transit"] + unknown[:, 1] * NO_DATA_BITS["community"]
    names = PAIR_TERMS[:4]  # transit, community, family, anchor (retention: weight 0, no model)
    t = {name: v[:, k] for k, name in enumerate(names)}
    t["no_data"] = mask.astype(np.int8)
    pol = Policy()
    got = combine(t, pol)
    w = np.array([getattr(pol.weights, n) for n in names])
    for i in range(len(rows)):
        ok = ~np.isnan(v[i])
        if ok.any():
            want = float((w[ok] * v[i, ok]).sum() / w[ok].sum())
        else:
            want = pol.unknown.neutral_value if unknown[i].any() else 0.0
        assert got[i] == pytest.approx(want)
        assert 0.0 <= got[i] <= 1.0


# --- accessibility: small pieces and coverage --------------------------------------------------


def _graph() -> nx.MultiDiGraph:
    """A 5 km street along y = Y0, and a 100 m path not joined to it 400 m north."""
    G = nx.MultiDiGraph(crs=UTM)
    for i in range(11):
        G.add_node(i, x=X0 + 500.0 * i, y=Y0)
        if i:
            G.add_edge(i - 1, i, length=500.0)
    G.add_node(100, x=X0 + 2000.0, y=Y0 + 400.0)
    G.add_node(101, x=X0 + 2100.0, y=Y0 + 400.0)
    G.add_edge(100, 101, length=100.0)
    return G


def _points(ids: list[str], xy: list[tuple[float, float]], **cols) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"dwelling_id": ids, **cols},
                            geometry=[shapely.Point(p) for p in xy], crs=UTM)


def test_dwellings_are_not_snapped_onto_a_small_piece():
    dw = _points(["near_both", "near_piece_only", "on_street"],
                 [(X0 + 2050, Y0 + 450), (X0 + 2050, Y0 + 700), (X0 + 1000, Y0 + 10)])
    am = gpd.GeoDataFrame({"category": ["school"]}, geometry=[shapely.Point(X0 + 3000, Y0)],
                          crs=UTM)
    acc = compute_accessibility(dw, _graph(), am)
    # the nearest path is the small piece (50 m), but it leads nowhere: snapped to the street
    assert acc.loc["near_both", "snap_dist_m"] == pytest.approx(450.0)
    assert acc.loc["near_both", "walk_unknown"] == ""
    assert acc.loc["near_both", "walk_school_min"] == pytest.approx(
        (450 + 950) / (4.5 / 3.6) / 60, rel=1e-6)
    assert acc.loc["near_piece_only", "walk_unknown"] == "isolated_path"
    assert np.isnan(acc.loc["near_piece_only", "walk_school_min"])
    assert pd.isna(acc.loc["near_piece_only", "n_school_within_30min"])
    assert acc.attrs["n_small_pieces"] == 1
    # no place of a category: counts unknown for every dwelling, not 0
    assert acc["n_daycare_within_30min"].isna().all()
    assert "daycare" in acc.attrs["categories_without_places"]


def test_dwellings_outside_the_coverage_are_unknown():
    dw = _points(["inside", "outside"], [(X0 + 1000, Y0 + 10), (X0 + 4900, Y0 + 10)])
    am = gpd.GeoDataFrame({"category": ["school"]}, geometry=[shapely.Point(X0 + 3000, Y0)],
                          crs=UTM)
    cover = gpd.GeoSeries([box(X0 - 100, Y0 - 100, X0 + 4000, Y0 + 100)], crs=UTM)
    acc = compute_accessibility(dw, _graph(), am, coverage=cover.to_crs("EPSG:4326").iloc[0])
    assert acc.loc["outside", "walk_unknown"] == "outside_osm_coverage"
    assert np.isnan(acc.loc["outside", "walk_school_min"])  # near a street, yet unknown
    assert not acc.loc["outside", "off_network"]
    assert acc.loc["inside", "walk_school_min"] > 0
    t = dwelling_terms(acc, scoring=Policy().scoring)
    assert t.loc["outside"].isna().all()


def test_coverage_from_bounds_or_the_hull(tmp_path: Path):
    with_bounds = tmp_path / "b.osm"
    with_bounds.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n'
        '<bounds minlat="55.1" minlon="10.1" maxlat="55.2" maxlon="10.3"/>\n</osm>\n',
        encoding="utf-8")
    assert osm_coverage(with_bounds).bounds == pytest.approx((10.1, 55.1, 10.3, 55.2))
    without = tmp_path / "n.osm"
    without.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n</osm>\n',
                       encoding="utf-8")
    hull = gpd.GeoSeries([osm_coverage(without, _graph())], crs="EPSG:4326").to_crs(UTM).iloc[0]
    assert hull.contains(shapely.Point(X0 + 2500, Y0 + 200))
    assert not hull.contains(shapely.Point(X0 + 2500, Y0 + 1000))


# --- OSM: places mapped twice, private places --------------------------------------------------


def test_place_mapped_as_node_and_building_counts_once_private_not(tmp_path: Path):
    lat, lon = 55.0, 10.0
    d = 0.0005
    nodes = {1: (lat - d, lon - d), 2: (lat - d, lon + d), 3: (lat + d, lon + d),
             4: (lat + d, lon - d), 10: (lat, lon), 11: (lat + 0.01, lon), 12: (lat, lon + 0.02)}
    tags = {10: {"amenity": "school", "name": "Byskolen"},
            11: {"amenity": "school", "name": "Friskolen"},
            12: {"amenity": "kindergarten", "name": "Privat", "access": "private"}}
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
    for nid, (a, b) in nodes.items():
        t = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.get(nid, {}).items())
        lines.append(f'<node id="{nid}" lat="{a}" lon="{b}">{t}</node>')
    lines.append('<way id="5"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/>'
                 '<tag k="building" v="school"/><tag k="amenity" v="school"/>'
                 '<tag k="name" v="Byskolen"/></way>')
    lines.append("</osm>")
    path = tmp_path / "places.osm"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    am = osm.amenities_from_file(path)
    schools = am[am["category"] == "school"]
    assert sorted(schools["osm_id"]) == ["node/11", "way/5"]  # Byskolen once, Friskolen
    assert "daycare" not in set(am["category"])  # access=private does not count


def test_integration_residents_not_given_is_said_in_the_notes():
    hh, dw, areas, acc = make_instance(20, 30, seed=4)
    pol = Policy()
    given = areas.assign(integration_residents=0)
    assert not any("integration programme" in n
                   for n in propose(hh, dw, given, acc, pol).summary["notes"])
    notes = propose(hh, dw, areas.drop(columns="integration_residents", errors="ignore"), acc,
                    pol).summary["notes"]
    assert any(f"not given for {len(areas)} of {len(areas)} local areas" in n for n in notes)


# --- optional building_id ----------------------------------------------------------------------


def test_missing_building_id_is_no_building():
    hh, dw, areas, acc = make_instance(30, 40, seed=3)
    pol = Policy().with_overrides(rules={"area_cap": False})
    own = dw.assign(building_id=[f"B{i}" for i in range(len(dw))])
    none = dw.assign(building_id=None)
    n_own = propose(hh, own, areas, acc, pol).summary["n_placed"]
    n_none = propose(hh, none, areas, acc, pol).summary["n_placed"]
    n_absent = propose(hh, dw.drop(columns="building_id"), areas, acc, pol).summary["n_placed"]
    assert n_none == n_own == n_absent
    assert n_own > pol.rules.max_households_per_building


# --- optional population, Statistikbanken export, column names --------------------------------


STATBANK = (
    "Folketal den 1. i kvartalet efter sogn og tid\r\n"
    '"";"2025K3";"2026K1"\r\n'
    '"7240 Tranebjerg Sogn";"1.234";"1.240"\r\n'
    '"7241 Besser Sogn";"512";"509"\r\n'
    '"7244 Nordby Sogn";"2.001";"2.010"\r\n'
    "\r\n"
    "Kilde: Danmarks Statistik (talene her er opdigtede)\r\n"
)


def test_statistikbanken_export_loads(tmp_path: Path):
    path = tmp_path / "folketal.csv"
    path.write_bytes(STATBANK.encode("latin-1"))
    pop = load.load_population(path)
    assert dict(zip(pop["area_id"], pop["population"], strict=True)) == {
        "7240": 1240, "7241": 509, "7244": 2010}  # the latest period, Danish 1.234 = 1234


def test_statistikbanken_bad_value_is_located(tmp_path: Path):
    path = tmp_path / "folketal.csv"
    path.write_bytes(STATBANK.replace('"512";"509"', '"512";".."').encode("latin-1"))
    with pytest.raises(DataError) as err:
        load.load_population(path)
    (problem,) = err.value.problems
    assert (problem.file, problem.row, problem.column) == ("folketal.csv", 4, "population")
    assert "7241 Besser Sogn" in problem.message


def test_without_population_the_plan_is_made_with_caps_off(tmp_path: Path):
    folder = write_dataset(tmp_path / "ds")
    text = (folder / "dataset.toml").read_text(encoding="utf-8")
    (folder / "dataset.toml").write_text(text.replace('population_file = "population.csv"\n',
                                                      ""), encoding="utf-8")
    ds = load_dataset(folder)
    assert ds.areas["population_estimated"].all()
    counts = ds.dwellings["area_id"].value_counts()
    assert dict(zip(ds.areas["area_id"], ds.areas["population"], strict=True)) == {
        a: int(counts.get(a, 0)) for a in ds.areas["area_id"]}
    report = validate_dataset(folder, deep=False)
    assert report.ok
    assert "population" in {w.topic for w in report.warnings}
    _, _, _, acc = make_instance(len(ds.households), len(ds.dwellings))
    acc.index = ds.dwellings["dwelling_id"].astype(str).to_numpy()
    res = propose(ds.households, ds.dwellings, ds.areas, acc, Policy())
    assert any("no population per local area" in n for n in res.summary["notes"])
    assert res.summary["n_placed"] > 0


def test_column_names_mapped_in_the_manifest(tmp_path: Path):
    danish = {"dwelling_id": "Lejemål nr", "address": "Adresse", "rooms": "Værelser",
              "rent_dkk": "Husleje"}
    header = [danish.get(c, c) for c in DWELLINGS_HEADER]
    folder = write_dataset(tmp_path / "ds", dwellings=(header, DWELLINGS_ROWS))
    with pytest.raises(DataError):
        load_dataset(folder)
    mapping = "".join(f'"{k}" = "{v}"\n' for k, v in danish.items())
    with (folder / "dataset.toml").open("a", encoding="utf-8") as fh:
        fh.write(f"\n[dwellings.columns]\n{mapping}")
    ds = load_dataset(folder)
    assert list(ds.dwellings["dwelling_id"]) == [r[0] for r in DWELLINGS_ROWS]
    assert list(ds.dwellings["rooms"]) == [int(r[4]) for r in DWELLINGS_ROWS]


# --- national files ------------------------------------------------------------------------------


def _two_municipalities(path: Path, with_code: bool = True) -> Path:
    props = {"KOMKODE": ["0101", "0102"]} if with_code else {"navn": ["a", "b"]}
    gpd.GeoDataFrame(props, geometry=[box(11.0, 55.0, 11.1, 55.1), box(11.1, 55.0, 11.2, 55.1)],
                     crs="EPSG:4326").to_file(path, driver="GeoJSON", engine="pyogrio")
    return path


def test_boundary_selected_by_code_never_merged_silently(tmp_path: Path):
    path = _two_municipalities(tmp_path / "dk.geojson")
    one = load.load_boundary(path, code="0102")
    assert one.to_crs(UTM).area.iloc[0] == pytest.approx(
        gpd.GeoSeries([box(11.1, 55.0, 11.2, 55.1)], crs="EPSG:4326").to_crs(UTM).area.iloc[0])
    with pytest.raises(DataError, match="KOMKODE"):
        load.load_boundary(path, code="0999")
    merged = load.load_boundary(_two_municipalities(tmp_path / "x.geojson", with_code=False),
                                code="0101")
    assert merged.attrs["merged_features"] == 2
    ctx = checks.CheckContext(manifest=_FakeManifest(tmp_path / "x.geojson"), boundary=merged)
    (warning,) = checks.boundary_warnings(ctx)
    assert "merged" in warning.message


class _FakeManifest:
    def __init__(self, boundary_file: Path) -> None:
        self.boundary = type("S", (), {"file": boundary_file})()
        self.tolerance_m = 0.0


def test_coastal_dwellings_within_the_tolerance_are_accepted_with_a_warning(tmp_path: Path):
    rows = [list(r) for r in DWELLINGS_ROWS]
    rows[0][2], rows[0][3] = "55.3685", "11.78"  # about 170 m south of the boundary (55.37)
    rows[1][2], rows[1][3] = "55.355", "11.78"  # about 1.7 km: a problem
    folder = write_dataset(tmp_path / "ds", dwellings=(DWELLINGS_HEADER, rows))
    report = validate_dataset(folder, deep=False)
    assert [(p.row, p.column) for p in report.problems if p.file == "dwellings.csv"] == [
        (3, "lat/lon")]
    rows[1] = list(DWELLINGS_ROWS[1])
    write_csv(folder / "dwellings.csv", DWELLINGS_HEADER, rows)
    report = validate_dataset(folder, deep=False)
    assert report.ok
    tol = [w for w in report.warnings if w.topic == "boundary_tolerance"]
    assert len(tol) == 1
    assert tol[0].ids == (rows[0][0],)


# --- measures: shares over the households with data ---------------------------------------------


def test_family_share_is_over_families_with_data():
    plan = pd.DataFrame({"household_id": ["a", "b", "c"], "dwelling_id": ["d1", "d2", "d3"]})
    hh = pd.DataFrame({"household_id": ["a", "b", "c"], "persons": [3, 3, 3],
                       "children_0_5": [1, 1, 1], "children_6_16": [0, 0, 0]})
    dw = pd.DataFrame({"dwelling_id": ["d1", "d2", "d3"], "area_id": ["A", "A", "A"]})
    acc = pd.DataFrame({"walk_daycare_min": [5.0, 40.0, np.nan],
                        "n_daycare_within_15min": pd.array([1, 0, pd.NA], dtype="Int64"),
                        "departures_per_hour_500m": [3.0, np.nan, np.nan],
                        "n_association_within_15min": pd.array([2, 4, pd.NA], dtype="Int64")},
                       index=["d1", "d2", "d3"])
    areas = pd.DataFrame({"area_id": ["A"], "name": ["A"], "population": [1000],
                          "integration_residents": [0]})
    m = plan_measures(plan, hh, dw, acc, areas, area_caps(areas, 0.05))
    assert m["families_daycare_school_15min"] == pytest.approx(0.5)  # 1 of 2 with data
    assert m["families_with_walk_data"] == 2
    assert m["share_near_served_stop"] == pytest.approx(1.0)  # 1 of 1 with data
    assert m["persons_with_stop_data"] == 3
    assert m["mean_associations_15min"] == pytest.approx(3.0)
    assert m["households_with_association_data"] == 2


# --- OSM building as the building of a dwelling without building_id ----------------------------


def test_osm_building_is_the_fallback_building(tmp_path: Path):
    from placement.optimizer.model import building_codes

    lat, lon, d = 55.0, 10.0, 0.0005
    text = ('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n'
            f'<node id="1" lat="{lat - d}" lon="{lon - d}"/>'
            f'<node id="2" lat="{lat - d}" lon="{lon + d}"/>'
            f'<node id="3" lat="{lat + d}" lon="{lon + d}"/>'
            f'<node id="4" lat="{lat + d}" lon="{lon - d}"/>\n'
            '<way id="7"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/>'
            '<tag k="building" v="apartments"/></way>\n</osm>\n')
    path = tmp_path / "b.osm"
    path.write_text(text, encoding="utf-8")
    got = osm.building_of_points(path, np.array([lon, lon + 0.0001, lon + 0.01]),
                                 np.array([lat, lat, lat]))
    assert got.tolist() == ["way/7", "way/7", ""]
    dw = pd.DataFrame({"dwelling_id": ["a", "b", "c"], "building_id": [None, None, None]})
    acc = pd.DataFrame({"osm_building": got}, index=["a", "b", "c"])
    codes = building_codes(dw, acc)
    assert codes[0] == codes[1]  # the same block of flats
    assert codes[2] != codes[0]  # outside any building: its own
    given = building_codes(dw.assign(building_id=["X", "Y", None]), acc)
    assert len(set(given.tolist())) == 3  # building_id wins where given


# --- the map says "no data", in a colour of its own ----------------------------------------------


def test_map_shows_no_data_not_a_low_score(tmp_path: Path):
    from placement import mapview

    ds = load_dataset(write_dataset(tmp_path / "ds"))
    ids = ds.dwellings["dwelling_id"].astype(str).tolist()
    acc = pd.DataFrame({"walk_association_min": [5.0] + [np.nan] * (len(ids) - 1),
                        "n_association_within_15min": pd.array(
                            [3] + [pd.NA] * (len(ids) - 1), dtype="Int64")},
                       index=pd.Index(ids, name="dwelling_id"))
    html_text = mapview.build_map(ds, access=acc, language="en").get_root().render()
    assert mapview.NO_DATA_COLOR in html_text
    assert f"Dwelling: no data ({len(ids) - 1})" in html_text
    row = pd.Series({"household_id": "H1", "dwelling_id": ids[1], "score": np.nan,
                     "transit": np.nan, "family": np.nan, "no_data": "transit"})
    popup = mapview._proposal_popup(row, "", "en")
    assert "no data" in popup  # score and transit unknown
    assert "not applicable" in popup  # family: no children


def test_no_data_of_a_stored_plan_matches_the_proposal():
    """The app's no-data column (from a stored plan) says what the optimiser said."""
    from placement.score import no_data_for_plan

    hh, dw, areas, acc = make_instance(20, 30, seed=5)
    acc = acc.copy()
    gone = acc.index[::3]
    for c in acc.columns:
        if c.startswith(("walk_", "n_", "pt_", "departures")):
            acc.loc[gone, c] = np.nan
    res = propose(hh, dw, areas, acc, Policy())
    a = res.assignments
    got = no_data_for_plan(a, hh, acc, scoring=Policy().scoring)
    want = a["no_data"].fillna("").astype(str)
    assert (got.to_numpy() == want.to_numpy()).all()
    assert (want != "").any()


def test_family_exclude_keeps_families_out_of_dwellings_without_daycare_or_school_data():
    hh, dw, areas, acc = make_instance(40, 60, seed=7)
    acc = acc.copy()
    gone = acc.index[::2]
    for c in ("walk_daycare_min", "walk_school_min"):
        acc.loc[gone, c] = np.nan
    for c in [c for c in acc.columns if c.startswith(("n_daycare", "n_school"))]:
        acc[c] = acc[c].astype("Float64")
        acc.loc[gone, c] = pd.NA
    pol = Policy().with_overrides(unknown={"family": "exclude"},
                                  rules={"area_cap": False})
    res = propose(hh, dw, areas, acc, pol)
    a = res.assignments.merge(hh[["household_id", "children_0_5", "children_6_16"]],
                              on="household_id")
    kids = (a["children_0_5"] > 0) | (a["children_6_16"] > 0)
    placed = a["dwelling_id"].notna()
    assert not a.loc[kids & placed, "dwelling_id"].isin(gone).any()
    assert a.loc[~kids & placed, "dwelling_id"].isin(gone).any()  # others may go there
    assert (a.loc[placed, "no_data"].fillna("") == "").all()
