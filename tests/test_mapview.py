"""The planner's map: layers, offline assets, labels in two languages, colours, popups."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import fixtures_data as fd
import folium
import geopandas as gpd
import gtfs_tiny as gt
import numpy as np
import pandas as pd
import pytest
from folium.plugins import FastMarkerCluster
from shapely.geometry import Point

from placement import mapview, schema
from placement._errors import ConfigError
from placement.dataset import load_dataset
from placement.gtfs import load_gtfs
from placement.i18n import LABELS, LANGUAGES, t

BASE = "/app/static/vendor"
HOUR = 3600


def _in(text: str, page: str) -> bool:
    """Text appears in the page as is or JSON-escaped (folium escapes non-ASCII in scripts)."""
    return text in page or json.dumps(text)[1:-1] in page


def _remote_assets(page: str) -> list[str]:
    """URLs of scripts and stylesheets loaded from the internet."""
    refs = re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"", page)
    refs += re.findall(r"<link[^>]*\bhref=\"([^\"]+)\"", page)
    return [r for r in refs if r.startswith(("http://", "https://", "//"))]


def _local_assets(page: str) -> list[str]:
    refs = re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"", page)
    refs += re.findall(r"<link[^>]*\bhref=\"([^\"]+)\"", page)
    return refs


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    folder = fd.write_dataset(tmp_path_factory.mktemp("tiny") / "ds")
    return load_dataset(folder)


def _feed_trips(n: int = 6) -> list[gt.Trip]:
    """``n`` trips S1 → S2 → S3, from 07:00 every 10 min (two stops with departures)."""
    return [gt.Trip(f"T{i}", [("S1", 7 * HOUR + i * 600, 7 * HOUR + i * 600),
                              ("S2", 7 * HOUR + i * 600 + 300, 7 * HOUR + i * 600 + 300),
                              ("S3", 7 * HOUR + i * 600 + 600, None)]) for i in range(n)]


TINY_STOPS = [("S1", 55.38, 11.77), ("S2", 55.40, 11.80), ("S3", 55.41, 11.83)]


@pytest.fixture(scope="module")
def tiny_feed(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("gtfs") / "g.zip"
    # one trip at 05:30 (outside 06-20) and one at 20:10 (outside) besides the six at 07:xx
    trips = [*_feed_trips(),
             gt.Trip("EARLY", [("S1", 5 * HOUR + 1800, 5 * HOUR + 1800),
                               ("S2", 5 * HOUR + 2100, None)]),
             gt.Trip("LATE", [("S1", 20 * HOUR + 600, 20 * HOUR + 600),
                              ("S2", 20 * HOUR + 900, None)])]
    return load_gtfs(gt.write_feed(gt.Feed(stops=TINY_STOPS, trips=trips), path))


ACCESS = pd.DataFrame({"dwelling_id": ["D1", "D2", "D3", "D4"], "score": [0.2, 0.9, 0.5, 0.4]})
PROPOSALS = pd.DataFrame({
    "household_id": ["H1", "H2", "H3"],
    "dwelling_id": pd.array(["D2", "D3", pd.NA], dtype="string"),
    "persons": [1, 4, 4],
    "score": [0.8125, 0.55, np.nan],
    "transit": [0.7, 0.4, np.nan],
    "community": [0.5, 0.3, np.nan],
    "family": [np.nan, 0.9, np.nan],
    "anchor": [np.nan, 0.6, np.nan],
})
ALTERNATIVES = pd.DataFrame({"household_id": ["H1", "H1"], "rank": [2, 1],
                             "dwelling_id": ["D4", "D1"], "score": [0.31, 0.6],
                             "score_diff": [-0.5025, -0.2125]})
AREA_TABLE = pd.DataFrame({"area_id": ["A1", "A2"], "placed_persons": [1, 4],
                           "cap_persons": [60, 40], "share_of_cap": [0.25, 1.5]})


def _amenities() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"osm_id": ["node/6", "node/7", "node/8"], "category": ["school", "daycare", "school"],
         "name": ["Byskolen", "", "Vestskolen"]},
        geometry=[Point(11.825, 55.405), Point(11.79, 55.39), Point(11.76, 55.42)],
        crs="EPSG:4326",
    )


def _full_map(ds, feed, language: str = "da", **kw) -> folium.Map:
    args = {"access": ACCESS, "proposals": PROPOSALS, "alternatives": ALTERNATIVES,
            "area_table": AREA_TABLE, "amenities": _amenities(), "feed": feed,
            "language": language, "asset_base": BASE, **kw}
    return mapview.build_map(ds, **args)


def _cluster(m: folium.Map) -> FastMarkerCluster:
    found = [c for c in m._children.values() if isinstance(c, FastMarkerCluster)]
    assert len(found) == 1
    return found[0]


# ---------------------------------------------------------------------------------------------
# labels
# ---------------------------------------------------------------------------------------------


def test_every_label_exists_in_every_language():
    for key, texts in LABELS.items():
        assert set(texts) == set(LANGUAGES), key
        assert all(text.strip() for text in texts.values()), key
    for cat in schema.AMENITY_CATEGORIES:
        assert f"category.{cat}" in LABELS
    for kind in schema.DESIGNATED_KINDS:
        assert f"kind.{kind}" in LABELS


def test_unknown_language_is_a_config_error(tiny):
    with pytest.raises(ConfigError, match="language"):
        t("layer.stops", "de")
    with pytest.raises(ConfigError, match="language"):
        mapview.build_map(tiny, language="sv")


def test_placeholders_are_filled():
    assert t("legend.sampled", "en", shown=3, total=9) == "Showing 3 of 9 dwellings"


# ---------------------------------------------------------------------------------------------
# layers, languages, offline assets
# ---------------------------------------------------------------------------------------------

LAYER_KEYS = ("layer.boundary", "layer.areas", "layer.designated", "layer.lines", "layer.stops",
              "layer.dwellings", "layer.proposals")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_layer_is_in_the_layer_control(tiny, tiny_feed, language):
    m = _full_map(tiny, tiny_feed, language)
    page = m.get_root().render()
    control = [c for c in m._children.values() if isinstance(c, folium.LayerControl)]
    assert len(control) == 1
    names = list(control[0].overlays)
    expected = [t(k, language) for k in LAYER_KEYS]
    expected += [f"{t('layer.amenities', language)}: {t(f'category.{c}', language)}"
                 for c in ("school", "daycare")]
    assert sorted(names) == sorted(expected)
    for name in expected:
        assert _in(name, page), name


def test_danish_and_english_labels_switch(tiny, tiny_feed):
    da = _full_map(tiny, tiny_feed, "da").get_root().render()
    en = _full_map(tiny, tiny_feed, "en").get_root().render()
    for key in (*LAYER_KEYS, "legend.title", "field.household", "term.transit",
                "field.share_of_cap"):
        da_text, en_text = t(key, "da"), t(key, "en")
        if da_text == en_text:
            continue
        assert _in(da_text, da), key
        assert not _in(en_text, da), key
        assert _in(en_text, en), key
        assert not _in(da_text, en), key


def test_only_local_assets_when_asset_base_is_set(tiny, tiny_feed):
    page = _full_map(tiny, tiny_feed).get_root().render()
    assert _remote_assets(page) == []
    local = _local_assets(page)
    assert local, "the map must load Leaflet"
    assert all(ref.startswith(BASE + "/") for ref in local)
    for needed in ("leaflet/dist/leaflet.js", "leaflet/dist/leaflet.css",
                   "jquery/dist/jquery.min.js",
                   "leaflet.markercluster/dist/leaflet.markercluster.js"):
        assert f"{BASE}/{needed}" in local
    # no Bootstrap or Font Awesome, and nothing else reaches out to the internet either
    assert "bootstrap" not in page.lower()
    assert "AwesomeMarkers" not in page


def test_without_asset_base_the_pinned_cdn_versions_are_used(tiny):
    page = mapview.build_map(tiny).get_root().render()
    remote = _remote_assets(page)
    assert f"{mapview.CDN_BASE}/leaflet@1.9.4/dist/leaflet.js" in remote
    assert all(r.startswith(mapview.CDN_BASE) for r in remote)


def test_folium_class_defaults_are_not_changed(tiny):
    before_map = list(folium.Map.default_js)
    before_cluster = list(FastMarkerCluster.default_js)
    mapview.build_map(tiny, access=ACCESS, asset_base=BASE).get_root().render()
    assert folium.Map.default_js == before_map
    assert FastMarkerCluster.default_js == before_cluster
    plain = folium.Map(tiles=None).get_root().render()
    assert "cdn.jsdelivr.net/npm/leaflet@" in plain


def test_vector_layers_without_tiles(tiny):
    m = mapview.build_map(tiny, tiles=None, asset_base=BASE)
    assert not [c for c in m._children.values() if isinstance(c, folium.TileLayer)]
    page = m.get_root().render()
    assert _in(t("layer.areas", "da"), page)
    assert '"maxZoom": 19' in page  # marker clustering needs a zoom limit without tiles


# ---------------------------------------------------------------------------------------------
# popups, colours, areas, stops and lines
# ---------------------------------------------------------------------------------------------


def _popups(page: str) -> list[str]:
    """Popup HTML of the proposal rings (a JSON list of rows in the page's script)."""
    import json

    out = []
    for blob in re.findall(r"var rows = (\[.*?\]);\n", page):
        out += [row[4] for row in json.loads(blob)]
    return out


def test_popups_show_household_score_parts_and_alternatives(tiny, tiny_feed):
    page = _full_map(tiny, tiny_feed, "en").get_root().render()
    popups = _popups(page)
    h1 = [p for p in popups if "<td>H1</td>" in p]
    assert len(h1) == 1
    p = h1[0]
    assert "<td>D2</td>" in p
    assert "<th style='text-align:left;padding-right:6px'>Score</th><td>81%</td>" in p
    assert "Public transport</th><td>70%</td>" in p
    assert "Community</th><td>50%</td>" in p
    assert "Daycare and school</th><td>not applicable</td>" in p
    # alternatives in rank order with score and difference
    assert "D1 (60%, -21 pp); D4 (31%, -50 pp)" in p
    h2 = [p for p in popups if "<td>H2</td>" in p]
    assert len(h2) == 1
    assert "Closeness to anchor place</th><td>60%</td>" in h2[0]
    assert "Alternatives</th><td>none</td>" in h2[0]
    # H3 has no dwelling: no marker, no popup
    assert not [p for p in popups if "<td>H3</td>" in p]


def test_proposal_object_and_text_alternatives(tiny):
    text = PROPOSALS.assign(alternatives=["D9 (0.7)", "", ""]).drop(columns=["family", "anchor"])
    prop = SimpleNamespace(assignments=text, alternatives=None, areas=AREA_TABLE)
    page = mapview.build_map(tiny, proposals=prop, language="en").get_root().render()
    popups = "".join(_popups(page))
    assert "Alternatives</th><td>D9 (0.7)</td>" in popups
    assert "Daycare and school" not in popups  # the column is absent, so the row is too
    assert _in(t("legend.share_of_cap", "en"), page)  # the area table came with the proposal


def test_highest_score_gets_the_top_colour(tiny):
    m = mapview.build_map(tiny, access=ACCESS, asset_base=BASE)
    rows = {r[3].split("</b> ")[1].split("<br>")[0]: r for r in _cluster(m).data}
    assert set(rows) == {"D1", "D2", "D3", "D4"}
    top, bottom = mapview.VALUE_COLORS[-1], mapview.VALUE_COLORS[0]
    assert rows["D2"][2] == top  # score 0.9, the highest
    assert rows["D1"][2] == bottom  # score 0.2, the lowest
    assert rows["D3"][2] not in (top, bottom)
    assert (rows["D2"][0], rows["D2"][1]) == (55.41, 11.78)
    page = m.get_root().render()
    assert top in page


def test_computed_dwelling_score_orders_colours(tiny):
    # no 'score' column: the transit and community terms of the access table decide
    access = pd.DataFrame({
        "departures_per_hour_500m": [0.0, 8.0, 2.0, 1.0],
        "walk_stop_min": [30.0, 2.0, 10.0, 12.0],
        "walk_association_min": [40.0, 3.0, 20.0, 25.0],
        "walk_library_culture_min": [40.0, 4.0, 20.0, 25.0],
        "n_association_within_15min": [0, 6, 1, 1],
    }, index=pd.Index(["D1", "D2", "D3", "D4"], name="dwelling_id"))
    m = mapview.build_map(tiny, access=access, language="en")
    rows = {r[3].split("</b> ")[1].split("<br>")[0]: r for r in _cluster(m).data}
    assert rows["D2"][2] == mapview.VALUE_COLORS[-1]
    assert rows["D1"][2] == mapview.VALUE_COLORS[0]
    assert "Dwelling score (transit and community): 1.00" in rows["D2"][3]
    m2 = mapview.build_map(tiny, access=access, color_by="community", language="en")
    assert "Community: 1.00" in _cluster(m2).data[1][3]
    with pytest.raises(ConfigError, match="color_by"):
        mapview.build_map(tiny, access=access, color_by="nonsense")


def test_max_points_keeps_the_best_dwelling(tiny):
    m = mapview.build_map(tiny, access=ACCESS, max_points=2, language="en")
    ids = [r[3].split("</b> ")[1].split("<br>")[0] for r in _cluster(m).data]
    assert "D2" in ids
    assert len(ids) == 3  # D1 and D4 (evenly spaced) plus the best, D2
    assert _in(t("legend.sampled", "en", shown=3, total=4), m.get_root().render())


def test_areas_are_shaded_by_load_or_population(tiny):
    loaded = mapview.build_map(tiny, area_table=AREA_TABLE, language="en").get_root().render()
    assert "150%" in loaded
    assert "25%" in loaded
    assert _in("Persons placed", loaded)
    plain = mapview.build_map(tiny, language="en").get_root().render()
    assert _in(t("legend.population", "en"), plain)
    assert '"population": "1\u202f200"' in plain or '"population": "1\\u202f200"' in plain
    # the over-cap area (A2, east) gets the darkest load colour
    m = mapview.build_map(tiny, area_table=AREA_TABLE)
    geo = next(c for c in m._children.values()
           if isinstance(c, folium.GeoJson) and c.layer_name == t("layer.areas", "da"))
    fills = {f["properties"]["name"]: f["properties"]["_style"]["fillColor"]
             for f in geo.data["features"]}
    assert fills["Øst"] == "#bd0026"
    assert fills["Vest"] != fills["Øst"]


def test_designated_kind_in_tooltip(tiny):
    page = mapview.build_map(tiny, language="da").get_root().render()
    assert _in(t("kind.prevention", "da"), page)
    assert _in("Torvekvarteret", page)


def test_stop_service_table_counts_departures_06_to_20(tiny_feed):
    table = mapview.stop_service_table(tiny_feed, "2024-03-05")
    by_id = table.set_index("stop_id")
    # S1 and S2: six departures between 07:00 and 08:00, the 05:30 and 20:10 trips fall outside;
    # S3 is only ever the last stop
    assert by_id.loc["S1", "departures"] == 6
    assert by_id.loc["S2", "departures"] == 6
    assert by_id.loc["S3", "departures"] == 0
    assert by_id.loc["S1", "departures_per_hour"] == pytest.approx(6 / 14)
    assert by_id.loc["S1", "stop_name"] == "Stop S1"


def test_stops_sized_by_service_and_lines_from_stop_sequences(tiny, tiny_feed):
    m = mapview.build_map(tiny, feed=tiny_feed, service_date="2024-03-05", language="en")
    geos = {c.layer_name: c for c in m._children.values() if isinstance(c, folium.GeoJson)}
    stops = {f["id"]: f["properties"] for f in geos["Stops"].data["features"]}
    assert stops["S1"]["_style"]["radius"] > stops["S3"]["_style"]["radius"]
    assert stops["S1"]["dph"] == "0.4"
    lines = geos["Lines"].data["features"]
    coords = sorted(tuple(map(tuple, f["geometry"]["coordinates"])) for f in lines)
    # two distinct stop sequences: S1-S2-S3 and S1-S2 (the early and late trips)
    assert coords == sorted([((11.77, 55.38), (11.80, 55.40), (11.83, 55.41)),
                             ((11.77, 55.38), (11.80, 55.40))])
    assert {f["properties"]["route"] for f in lines} == {"R1"}



def test_precomputed_stops_and_lines_draw_the_same_layers(tiny, tiny_feed):
    """The app computes the stop table and lines once; the map drawn from them is the same."""
    def layers(m: folium.Map) -> dict:
        return {c.layer_name: c.data["features"] for c in m._children.values()
                if isinstance(c, folium.GeoJson)}

    day = "2024-03-05"
    from_feed = layers(mapview.build_map(tiny, feed=tiny_feed, service_date=day,
                                         language="en"))
    given = layers(mapview.build_map(
        tiny, stops=mapview.stop_service_table(tiny_feed, day),
        lines=mapview.route_lines(tiny_feed), language="en"))
    assert from_feed["Stops"]
    assert from_feed["Lines"]
    assert given == from_feed

def test_lines_follow_shapes_and_are_coloured_per_route(tiny, tmp_path):
    shape = [(55.38, 11.77), (55.39, 11.775), (55.40, 11.80), (55.41, 11.83)]
    extra = {
        "shapes.txt": [{"shape_id": "SH1", "shape_pt_lat": f"{lat}", "shape_pt_lon": f"{lon}",
                        "shape_pt_sequence": str(k)} for k, (lat, lon) in enumerate(shape)],
        "trips.txt": [{"route_id": "R1", "service_id": "EVERYDAY", "trip_id": "T0",
                       "shape_id": "SH1"},
                      {"route_id": "R2", "service_id": "EVERYDAY", "trip_id": "T1",
                       "shape_id": ""}],
    }
    trips = _feed_trips(2)
    trips[1].route_id = "R2"
    feed = load_gtfs(gt.write_feed(gt.Feed(stops=TINY_STOPS, trips=trips, extra=extra),
                                   tmp_path / "g.zip"))
    m = mapview.build_map(tiny, feed=feed, language="en")
    geos = {c.layer_name: c for c in m._children.values() if isinstance(c, folium.GeoJson)}
    lines = {f["properties"]["route"]: f for f in geos["Lines"].data["features"]}
    assert sorted(lines) == ["R1", "R2"]
    assert [tuple(c) for c in lines["R1"]["geometry"]["coordinates"]] == [
        (lon, lat) for lat, lon in shape]
    # R2's trip has no shape: drawn through its stops
    assert [tuple(c) for c in lines["R2"]["geometry"]["coordinates"]] == [
        (lon, lat) for _, lat, lon in TINY_STOPS]
    assert lines["R1"]["properties"]["_style"]["color"] == mapview.PALETTE[0]
    assert lines["R2"]["properties"]["_style"]["color"] == mapview.PALETTE[1]


def test_amenities_one_layer_per_category(tiny):
    m = mapview.build_map(tiny, amenities=_amenities(), language="en")
    groups = {c.layer_name: c for c in m._children.values() if isinstance(c, folium.FeatureGroup)}
    school = groups["Amenities: School"]
    (geo,) = [c for c in school._children.values() if isinstance(c, folium.GeoJson)]
    assert sorted(f["properties"]["name"] for f in geo.data["features"]) == [
        "Byskolen", "Vestskolen"]
    daycare = groups["Amenities: Daycare"]
    (geo,) = [c for c in daycare._children.values() if isinstance(c, folium.GeoJson)]
    assert [f["properties"]["name"] for f in geo.data["features"]] == ["Daycare"]  # unnamed


# ---------------------------------------------------------------------------------------------
# tiles
# ---------------------------------------------------------------------------------------------


def test_tile_presets_and_templates(tiny):
    page = mapview.build_map(tiny, tiles="openstreetmap").get_root().render()
    assert "tile.openstreetmap.org/{z}/{x}/{y}.png" in page
    src = mapview.tile_source("dataforsyningen_skaermkort", token="abc123")
    assert src.kind == "wms"
    assert "token=abc123" in src.url
    assert "{token}" not in src.url
    wms = mapview.build_map(tiny, tiles=src).get_root().render()
    assert "dtk_skaermkort" in wms
    assert "token=abc123" in wms
    own = mapview.tile_source("https://tiles.example/{z}/{x}/{y}.png", attribution="Example")
    assert own.url.endswith("{y}.png")
    assert own.attribution == "Example"


@pytest.mark.parametrize(("tiles", "kwargs", "match"), [
    ("nosuchpreset", {}, "expected one of"),
    ("https://tiles.example/{z}/{x}/{y}.png", {}, "attribution"),
    ("dataforsyningen_skaermkort", {}, "token"),
])
def test_bad_tiles_are_config_errors(tiles, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        mapview.tile_source(tiles, **kwargs)


# ---------------------------------------------------------------------------------------------
# front-end assets from npm
# ---------------------------------------------------------------------------------------------


def test_package_json_pins_the_versions_the_map_uses(repo_root: Path):
    pkg = json.loads((repo_root / "app" / "package.json").read_text(encoding="utf-8"))
    assert pkg["dependencies"] == mapview.PACKAGES
    lock = json.loads((repo_root / "app" / "package-lock.json").read_text(encoding="utf-8"))
    for name, version in mapview.PACKAGES.items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version


def test_install_assets_explains_a_missing_npm_install(tmp_path):
    with pytest.raises(ConfigError, match="npm ci --prefix"):
        mapview.install_assets(tmp_path)
    assert len(mapview.missing_assets(tmp_path / "static" / "vendor")) == len(
        mapview.VENDOR_FILES)


def test_install_assets_copies_every_file_the_map_references(repo_root, tmp_path, tiny):
    app = repo_root / "app"
    if not (app / "node_modules").is_dir():
        pytest.skip("app/node_modules is absent: run `npm ci --prefix app`")
    vendor = tmp_path / "vendor"
    files = mapview.install_assets(app, vendor_dir=vendor)
    assert mapview.missing_assets(vendor) == []
    for (pkg, path), dst in zip(mapview.VENDOR_FILES, files, strict=True):
        assert dst.read_bytes() == (app / "node_modules" / pkg / path).read_bytes()
    again = mapview.install_assets(app, vendor_dir=vendor)  # idempotent
    assert again == files
    # every script and stylesheet of a full map resolves to an installed file
    m = mapview.build_map(tiny, access=ACCESS, asset_base="/vendor")
    for ref in _local_assets(m.get_root().render()):
        assert (tmp_path / ref.lstrip("/")).is_file(), ref
    assert b"Leaflet 1.9.4" in (vendor / "leaflet" / "dist" / "leaflet.js").read_bytes()


# ---------------------------------------------------------------------------------------------
# the demo dataset
# ---------------------------------------------------------------------------------------------


def test_demo_map(demo_dir: Path):
    if not (demo_dir / "dataset.toml").is_file():
        pytest.skip("data/geo/demo is absent: run `placement demo-data`")
    from placement.osm import amenities_from_file

    ds = load_dataset(demo_dir)
    feed = load_gtfs(ds.gtfs_path) if ds.gtfs_path is not None else None
    amenities = amenities_from_file(ds.osm_path, boundary=ds.boundary)
    ids = ds.dwellings["dwelling_id"].astype(str).sort_values().tolist()
    scores = np.linspace(0.0, 1.0, len(ids))
    access = pd.DataFrame({"dwelling_id": ids, "score": scores})
    m = mapview.build_map(ds, access=access, feed=feed, amenities=amenities, language="en",
                          asset_base=BASE)
    page = m.get_root().render()
    assert _remote_assets(page) == []
    for key in ("layer.boundary", "layer.areas", "layer.dwellings"):
        assert _in(t(key, "en"), page)
    if feed is not None:
        assert _in(t("layer.stops", "en"), page)
        assert _in(t("layer.lines", "en"), page)
    rows = _cluster(m).data
    assert len(rows) == len(ids)
    best = [r for r in rows if f"</b> {ids[-1]}<br>" in r[3]]
    assert best
    assert best[0][2] == mapview.VALUE_COLORS[-1]


def test_household_view_goes_to_the_households_own_marker(demo_plan):
    ds = demo_plan.dataset
    rows = demo_plan.assignments[["household_id", "dwelling_id"]].dropna().head(3).copy()
    rows = rows.astype(str).reset_index(drop=True)
    rows.loc[1, "dwelling_id"] = rows.loc[0, "dwelling_id"]  # two households, one building
    positions = mapview.proposal_positions(ds, rows)
    dw = ds.dwellings.assign(dwelling_id=ds.dwellings["dwelling_id"].astype(str)).set_index(
        "dwelling_id")
    seen = []
    for hid, did in zip(rows["household_id"], rows["dwelling_id"], strict=True):
        (lat, lon), zoom = mapview.household_view(positions, hid)
        assert zoom == mapview.FOCUS_ZOOM
        # the marker the household is drawn at: within the 12 m spread of its dwelling
        dy = (lat - dw.at[did, "lat"]) * 111_320.0
        dx = (lon - dw.at[did, "lon"]) * 111_320.0 * np.cos(np.radians(lat))
        assert np.hypot(dx, dy) <= 12.0 + 1e-6
        assert mapview.household_at(positions, lat, lon) == hid
        seen.append((lat, lon))
    assert seen[0] != seen[1]  # the spread markers of one building differ
    assert mapview.household_view(positions, "no-such-household") is None
    assert mapview.household_view(positions, None) is None
    assert mapview.household_view(positions.iloc[0:0], rows["household_id"].iloc[0]) is None
