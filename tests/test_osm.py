"""placement.osm on small hand-written OSM files (XML, bz2, PBF) written to tmp_path."""

from __future__ import annotations

import bz2
import csv
import math
import tempfile
from pathlib import Path

import geopandas as gpd
import networkx as nx
import osmium
import osmnx as ox
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyproj import Transformer
from shapely.geometry import Point, box

from placement import osm, schema, settings
from placement._errors import DataError, NetworkDisabledError

LAT0, LON0 = 55.0, 10.0
#: metres per degree of latitude / of longitude at 55° N (spherical, for test layouts only)
M_PER_DEG_LAT = 111_195.0
M_PER_DEG_LON = M_PER_DEG_LAT * math.cos(math.radians(LAT0))


def _tags_xml(tags: dict[str, str]) -> str:
    return "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())


def osm_xml(
    nodes: dict[int, tuple[float, float]],
    ways: list[tuple[int, list[int], dict[str, str]]] = (),  # type: ignore[assignment]
    *,
    node_tags: dict[int, dict[str, str]] | None = None,
    relations: list[tuple[int, list[tuple[str, int, str]], dict[str, str]]] = (),  # type: ignore[assignment]
) -> str:
    """OSM XML text; nodes as id -> (lat, lon), relation members as (type, ref, role)."""
    node_tags = node_tags or {}
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for nid, (lat, lon) in nodes.items():
        tags = node_tags.get(nid)
        if tags:
            lines.append(
                f'<node id="{nid}" lat="{lat:.7f}" lon="{lon:.7f}">{_tags_xml(tags)}</node>'
            )
        else:
            lines.append(f'<node id="{nid}" lat="{lat:.7f}" lon="{lon:.7f}"/>')
    for wid, refs, tags in ways:
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        lines.append(f'<way id="{wid}">{nds}{_tags_xml(tags)}</way>')
    for rid, members, tags in relations:
        mem = "".join(f'<member type="{t}" ref="{r}" role="{role}"/>' for t, r, role in members)
        lines.append(f'<relation id="{rid}">{mem}{_tags_xml(tags)}</relation>')
    lines.append("</osm>")
    return "\n".join(lines) + "\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def edge_way_ids(G: nx.MultiDiGraph) -> set[int]:
    ids: set[int] = set()
    for _, _, osmid in G.edges(data="osmid"):
        ids.update(osmid if isinstance(osmid, list) else [osmid])
    return ids


# Each way is a separate 2-node segment 200 m long, 100 m north of the previous one.
WALKABLE = {
    1: {"highway": "residential"},
    2: {"highway": "footway"},
    3: {"highway": "service", "access": "private", "foot": "yes"},
    4: {"highway": "path"},
    5: {"highway": "cycleway"},
    6: {"highway": "steps"},
    7: {"highway": "primary", "oneway": "yes"},
    8: {"highway": "track"},
    9: {"highway": "living_street", "access": "destination"},
}
NOT_WALKABLE = {
    11: {"highway": "motorway"},
    12: {"building": "yes"},
    13: {"highway": "service", "access": "private"},
    14: {"highway": "residential", "foot": "no"},
    15: {"highway": "pedestrian", "area": "yes"},
    16: {"highway": "trunk", "motorroad": "yes"},
    17: {"highway": "proposed"},
    18: {"waterway": "stream"},
    19: {"highway": "unclassified", "access": "no"},
    20: {"highway": "motorway_link"},
    21: {"highway": "construction"},
}


def segments_xml(way_tags: dict[int, dict[str, str]]) -> str:
    nodes: dict[int, tuple[float, float]] = {}
    ways = []
    for k, (wid, tags) in enumerate(sorted(way_tags.items())):
        lat = LAT0 + k * 100 / M_PER_DEG_LAT
        a, b = 1000 + 2 * k, 1001 + 2 * k
        nodes[a] = (lat, LON0)
        nodes[b] = (lat, LON0 + 200 / M_PER_DEG_LON)
        ways.append((wid, [a, b], tags))
    return osm_xml(nodes, ways)


@pytest.fixture
def segments_file(tmp_path: Path) -> Path:
    return write(tmp_path / "streets.osm", segments_xml({**WALKABLE, **NOT_WALKABLE}))


# --- walk network ----------------------------------------------------------------------------


def test_walk_graph_keeps_exactly_the_walkable_ways(segments_file: Path) -> None:
    G = osm.walk_graph_from_file(segments_file)
    assert edge_way_ids(G) == set(WALKABLE)
    # every walkable segment is usable both ways, also the oneway primary road
    assert G.number_of_edges() == 2 * len(WALKABLE)
    assert G.number_of_nodes() == 2 * len(WALKABLE)


@pytest.mark.parametrize("wid", sorted(WALKABLE))
def test_is_walkable_agrees_with_the_table(wid: int) -> None:
    assert osm.is_walkable(WALKABLE[wid])


@pytest.mark.parametrize("wid", sorted(NOT_WALKABLE))
def test_is_not_walkable(wid: int) -> None:
    assert not osm.is_walkable(NOT_WALKABLE[wid])


@given(
    highway=st.sampled_from(sorted(osm.WALKABLE_HIGHWAYS | {"motorway", "proposed", "x"})),
    access=st.sampled_from([None, "yes", "no", "private", "destination"]),
    foot=st.sampled_from([None, "yes", "no", "designated"]),
)
def test_is_walkable_rules(highway: str, access: str | None, foot: str | None) -> None:
    tags = {"highway": highway}
    if access is not None:
        tags["access"] = access
    if foot is not None:
        tags["foot"] = foot
    expected = (
        highway in osm.WALKABLE_HIGHWAYS
        and foot != "no"
        and (access not in {"no", "private"} or foot in {"yes", "designated"})
    )
    assert osm.is_walkable(tags) is expected
    assert not osm.is_walkable({**tags, "area": "yes"})


def test_walk_graph_is_projected_with_lengths(segments_file: Path) -> None:
    G = osm.walk_graph_from_file(segments_file)
    assert ox.projection.is_projected(G.graph["crs"])
    assert str(G.graph["crs"]).upper().endswith("25832")
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:25832", always_xy=True)
    x, y = to_utm.transform(LON0, LAT0)  # node 1000: start of the first way
    assert G.nodes[1000]["x"] == pytest.approx(x, abs=0.01)
    assert G.nodes[1000]["y"] == pytest.approx(y, abs=0.01)
    for u, v, length in G.edges(data="length"):
        # 200 m by construction; compare with the distance of the projected end points
        planar = math.dist((G.nodes[u]["x"], G.nodes[u]["y"]), (G.nodes[v]["x"], G.nodes[v]["y"]))
        assert length == pytest.approx(200.0, rel=0.005)
        assert length == pytest.approx(planar, rel=0.005)


def test_ways_with_missing_nodes_are_cut_at_the_gap(tmp_path: Path) -> None:
    step = 100 / M_PER_DEG_LAT
    nodes = {i: (LAT0 + i * step, LON0) for i in (1, 2, 4, 5, 6)}  # node 3 is not in the file
    path = write(tmp_path / "clipped.osm", osm_xml(nodes, [(7, [1, 2, 3, 4, 5, 6], WALKABLE[1])]))
    G = osm.walk_graph_from_file(path)
    # two pieces: 1-2 and 4-5-6 (5 is simplified away); nothing joins 2 and 4
    assert set(G.nodes) == {1, 2, 4, 6}
    assert not nx.has_path(G, 2, 4)
    assert sorted(round(d) for _, _, d in G.edges(data="length")) == [100, 100, 200, 200]


def test_no_walkable_way_is_a_data_error(tmp_path: Path) -> None:
    path = write(tmp_path / "buildings.osm", segments_xml(NOT_WALKABLE))
    with pytest.raises(DataError, match="no walkable highway way") as info:
        osm.walk_graph_from_file(path)
    assert info.value.file == "buildings.osm"


# --- amenities -------------------------------------------------------------------------------


def table_rows() -> list[dict[str, str]]:
    """The shipped tag table, read with the csv module (independently of the loader)."""
    with osm.AMENITY_TAGS_CSV.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_table_covers_every_category() -> None:
    rows = table_rows()
    assert {r["category"] for r in rows} == set(schema.AMENITY_CATEGORIES)
    assert len({(r["key"], r["value"]) for r in rows}) == len(rows)
    rules = osm.amenity_tag_rules()
    assert [(r.key, r.value, r.category) for r in rules] == [
        (r["key"], r["value"], r["category"]) for r in rows
    ]


def test_every_table_row_maps_a_node_to_its_category(tmp_path: Path) -> None:
    rows = table_rows()
    nodes, tags = {}, {}
    for i, row in enumerate(rows, start=1):
        nodes[i] = (LAT0 + i * 0.001, LON0)
        value = "sport" if row["value"] == "*" else row["value"]
        tags[i] = {row["key"]: value, "name": f"Place {i}"}
    nodes[999] = (LAT0, LON0 + 0.01)
    tags[999] = {"amenity": "bench"}  # not in the table
    path = write(tmp_path / "amenities.osm", osm_xml(nodes, node_tags=tags))
    result = osm.amenities_from_file(path)
    assert list(result.columns) == ["osm_id", "category", "name", "geometry"]
    assert result.crs == "EPSG:4326"
    got = dict(zip(result["osm_id"], result["category"], strict=True))
    assert got == {f"node/{i}": row["category"] for i, row in enumerate(rows, start=1)}
    assert set(result["name"]) == {f"Place {i}" for i in range(1, len(rows) + 1)}
    for oid, geom in zip(result["osm_id"], result.geometry, strict=True):
        lat, lon = nodes[int(oid.split("/")[1])]
        assert (geom.x, geom.y) == pytest.approx((lon, lat))
    keys = list(zip(result["category"], result["osm_id"], strict=True))
    assert keys == sorted(keys)


def square(nid0: int, lat: float, lon: float, side_m: float) -> dict[int, tuple[float, float]]:
    dlat, dlon = side_m / M_PER_DEG_LAT, side_m / M_PER_DEG_LON
    corners = [(lat, lon), (lat, lon + dlon), (lat + dlat, lon + dlon), (lat + dlat, lon)]
    return {nid0 + k: c for k, c in enumerate(corners)}


def test_polygons_and_relations_become_points_inside_them(tmp_path: Path) -> None:
    school = square(10, LAT0, LON0, 80)
    # an L-shaped (concave) hall: its centroid lies outside, a representative point does not
    hall = {
        20: (LAT0 + 0.01, LON0),
        21: (LAT0 + 0.01, LON0 + 0.004),
        22: (LAT0 + 0.0105, LON0 + 0.004),
        23: (LAT0 + 0.0105, LON0 + 0.0005),
        24: (LAT0 + 0.014, LON0 + 0.0005),
        25: (LAT0 + 0.014, LON0),
    }
    ways = [
        (100, [10, 11, 12, 13, 10], {"amenity": "school", "building": "yes", "name": "Byskolen"}),
        (200, [20, 21, 22, 23, 24, 25, 20], {}),
    ]
    rels = [(300, [("way", 200, "outer")], {"type": "multipolygon", "leisure": "sports_centre"})]
    path = write(tmp_path / "areas.osm", osm_xml({**school, **hall}, ways, relations=rels))
    result = osm.amenities_from_file(path).set_index("osm_id")
    assert set(result.index) == {"way/100", "relation/300"}
    assert result.loc["way/100", "category"] == "school"
    assert result.loc["way/100", "name"] == "Byskolen"
    assert result.loc["relation/300", "category"] == "association"
    assert result.loc["relation/300", "name"] == ""
    polys = {
        "way/100": box(LON0, LAT0, LON0 + 80 / M_PER_DEG_LON, LAT0 + 80 / M_PER_DEG_LAT),
        "relation/300": gpd.GeoSeries.from_wkt(
            [
                "POLYGON((10 55.01, 10.004 55.01, 10.004 55.0105, 10.0005 55.0105, "
                "10.0005 55.014, 10 55.014, 10 55.01))"
            ]
        ).iloc[0],
    }
    for oid, poly in polys.items():
        point = result.loc[oid, "geometry"]
        assert point.geom_type == "Point"
        assert poly.contains(point)


def test_one_object_in_two_categories_gives_two_rows(tmp_path: Path) -> None:
    tags = {
        1: {"amenity": "library", "leisure": "sports_centre", "name": "Kulturhuset"},
        2: {"amenity": "community_centre", "club": "sport"},  # two rules, one category
    }
    path = write(
        tmp_path / "both.osm", osm_xml({1: (LAT0, LON0), 2: (LAT0, LON0 + 0.01)}, node_tags=tags)
    )
    result = osm.amenities_from_file(path)
    assert sorted(zip(result["osm_id"], result["category"], strict=True)) == [
        ("node/1", "association"),
        ("node/1", "library_culture"),
        ("node/2", "association"),
    ]


def test_file_without_amenities_gives_an_empty_frame(segments_file: Path) -> None:
    result = osm.amenities_from_file(segments_file)
    assert result.empty
    assert list(result.columns) == ["osm_id", "category", "name", "geometry"]
    assert result.crs == "EPSG:4326"


def test_bad_tag_table_lists_every_problem(tmp_path: Path) -> None:
    path = write(
        tmp_path / "tags.csv",
        "key,value,category\namenity,school,school\namenity,pub,bar\nshop,,supermarket\n",
    )
    with pytest.raises(DataError) as info:
        osm.amenity_tag_rules(path)
    assert [(p.file, p.row, p.column) for p in info.value.problems] == [
        ("tags.csv", 3, "category"),
        ("tags.csv", 4, "value"),
    ]


# --- formats ---------------------------------------------------------------------------------


def mixed_xml() -> str:
    """Walkable and non-walkable ways plus amenities on nodes and a closed way."""
    nodes = {1: (LAT0, LON0), 2: (LAT0, LON0 + 0.003), 3: (LAT0 + 0.002, LON0 + 0.003)}
    nodes |= square(10, LAT0 + 0.001, LON0, 50)
    nodes[20] = (LAT0 + 0.0005, LON0 + 0.001)
    ways = [
        (1, [1, 2], {"highway": "residential", "name": "Bygaden"}),
        (2, [2, 3], {"highway": "footway"}),
        (3, [1, 3], {"highway": "motorway"}),
        (4, [10, 11, 12, 13, 10], {"amenity": "kindergarten", "name": "Mælkebøtten"}),
    ]
    return osm_xml(nodes, ways, node_tags={20: {"highway": "bus_stop", "name": "Torvet"}})


def summary(path: Path) -> tuple[set[int], list[tuple[str, str, str]]]:
    G = osm.walk_graph_from_file(path)
    amen = osm.amenities_from_file(path)
    rows = list(zip(amen["osm_id"], amen["category"], amen["name"], strict=True))
    return edge_way_ids(G), rows


EXPECTED_MIXED = (
    {1, 2},
    [("way/4", "daycare", "Mælkebøtten"), ("node/20", "stop", "Torvet")],
)


def test_plain_xml(tmp_path: Path) -> None:
    assert summary(write(tmp_path / "town.osm", mixed_xml())) == EXPECTED_MIXED


def test_bz2_input(tmp_path: Path) -> None:
    path = tmp_path / "town.osm.bz2"
    with bz2.open(path, "wt", encoding="utf-8") as fh:
        fh.write(mixed_xml())
    assert summary(path) == EXPECTED_MIXED


def test_pbf_round_trip(tmp_path: Path) -> None:
    """Write the same content as PBF with osmium's SimpleWriter, then load it."""
    xml = write(tmp_path / "town.osm", mixed_xml())
    pbf = tmp_path / "town.osm.pbf"
    writer = osmium.SimpleWriter(str(pbf))
    try:
        for obj in osmium.FileProcessor(str(xml)):
            writer.add(obj)
    finally:
        writer.close()
    assert pbf.read_bytes()[:64].find(b"OSMHeader") >= 0  # really PBF, not XML
    assert summary(pbf) == EXPECTED_MIXED
    G_xml, G_pbf = osm.walk_graph_from_file(xml), osm.walk_graph_from_file(pbf)
    assert sorted(G_xml.edges(data="length")) == sorted(G_pbf.edges(data="length"))


def test_pbf_built_from_objects(tmp_path: Path) -> None:
    pbf = tmp_path / "made.pbf"
    writer = osmium.SimpleWriter(str(pbf))
    try:
        for nid, (lat, lon) in {1: (LAT0, LON0), 2: (LAT0 + 0.001, LON0)}.items():
            writer.add_node(osmium.osm.mutable.Node(id=nid, location=(lon, lat)))
        writer.add_node(
            osmium.osm.mutable.Node(id=3, location=(LON0, LAT0), tags={"shop": "supermarket"})
        )
        writer.add_way(osmium.osm.mutable.Way(id=9, nodes=[1, 2], tags={"highway": "path"}))
    finally:
        writer.close()
    G = osm.walk_graph_from_file(pbf)
    assert edge_way_ids(G) == {9}
    assert G.edges[1, 2, 0]["length"] == pytest.approx(0.001 * M_PER_DEG_LAT, rel=0.005)
    amen = osm.amenities_from_file(pbf)
    assert list(zip(amen["osm_id"], amen["category"], strict=True)) == [("node/3", "supermarket")]


# --- clipping to a boundary ------------------------------------------------------------------


def test_clipping_keeps_what_lies_within_the_buffer(tmp_path: Path) -> None:
    # boundary: 1 km square at (LAT0, LON0); objects inside, 500 m outside (kept: within the
    # 1 km buffer), 3 km outside (dropped), and one way crossing the border (kept whole)
    km_lat, km_lon = 1000 / M_PER_DEG_LAT, 1000 / M_PER_DEG_LON
    boundary = gpd.GeoDataFrame(
        {"name": ["Test"], "code": ["0999"]},
        geometry=[box(LON0, LAT0, LON0 + km_lon, LAT0 + km_lat)],
        crs="EPSG:4326",
    )
    places = {"in": 0.5, "near": 1.5, "far": 4.0}  # km east of the west edge
    nodes: dict[int, tuple[float, float]] = {}
    ways = []
    tags: dict[int, dict[str, str]] = {}
    for k, (label, east) in enumerate(places.items()):
        a, b, c = 10 * k + 1, 10 * k + 2, 10 * k + 3
        nodes[a] = (LAT0 + 0.3 * km_lat, LON0 + east * km_lon)
        nodes[b] = (LAT0 + 0.6 * km_lat, LON0 + east * km_lon)
        nodes[c] = (LAT0 + 0.5 * km_lat, LON0 + east * km_lon + 0.0001)
        ways.append((k + 1, [a, b], {"highway": "residential", "name": label}))
        tags[c] = {"amenity": "school", "name": label}
    nodes[91], nodes[92] = (
        (LAT0 + 0.8 * km_lat, LON0 + 0.9 * km_lon),
        (LAT0 + 0.8 * km_lat, LON0 + 6 * km_lon),
    )
    ways.append((9, [91, 92], {"highway": "track"}))
    path = write(tmp_path / "region.osm", osm_xml(nodes, ways, node_tags=tags))

    G_all = osm.walk_graph_from_file(path)
    assert edge_way_ids(G_all) == {1, 2, 3, 9}
    G = osm.walk_graph_from_file(path, boundary=boundary)
    assert edge_way_ids(G) == {1, 2, 9}
    assert 92 in G.nodes  # the crossing way keeps its far end: no street is cut
    amen = osm.amenities_from_file(path, boundary=boundary)
    assert sorted(amen["name"]) == ["in", "near"]
    # the boundary may come in any CRS
    amen_utm = osm.amenities_from_file(path, boundary=boundary.to_crs("EPSG:25832"))
    assert sorted(amen_utm["name"]) == ["in", "near"]


def test_clipping_with_nothing_inside_is_a_data_error(segments_file: Path) -> None:
    far = gpd.GeoDataFrame(geometry=[Point(12.5, 55.7).buffer(0.01)], crs="EPSG:4326")
    with pytest.raises(DataError, match="inside the boundary"):
        osm.walk_graph_from_file(segments_file, boundary=far)
    assert osm.amenities_from_file(segments_file, boundary=far).empty


# --- bad input -------------------------------------------------------------------------------


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the temp folder at an empty folder, to check the loaders clean up after them."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp


def bad_files(folder: Path) -> dict[str, Path]:
    text = mixed_xml()
    files = {
        "truncated.osm": text[: len(text) // 2],
        "empty.osm": "",
        "not_osm.osm": "dwelling_id,lat,lon\nd1,55.0,10.0\n",
        "broken.osm.pbf": "this is not a protocol buffer",
    }
    out = {name: write(folder / name, body) for name, body in files.items()}
    data = bz2.compress(text.encode())
    (folder / "truncated.osm.bz2").write_bytes(data[: len(data) // 2])
    out["truncated.osm.bz2"] = folder / "truncated.osm.bz2"
    return out


@pytest.mark.parametrize("loader", [osm.walk_graph_from_file, osm.amenities_from_file])
@pytest.mark.parametrize(
    "name", ["truncated.osm", "empty.osm", "not_osm.osm", "broken.osm.pbf", "truncated.osm.bz2"]
)
def test_corrupt_files_give_a_data_error_naming_the_file(
    tmp_path: Path, private_tmp: Path, loader: object, name: str
) -> None:
    folder = tmp_path / "dataset"
    folder.mkdir()
    path = bad_files(folder)[name]
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(DataError) as info:
        loader(path)  # type: ignore[operator]
    err = info.value
    assert len(err.problems) == 1
    assert err.file == name
    assert err.column is None
    assert "cannot read the OSM file" in str(err)
    assert "Traceback" not in str(err)
    assert str(err).startswith(name)
    if name == "truncated.osm":
        assert err.row is not None
        assert err.row > 1  # the line where the XML stops
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing written next to it
    assert list(private_tmp.iterdir()) == []  # temporary files removed


def test_missing_file(tmp_path: Path) -> None:
    for loader in (osm.walk_graph_from_file, osm.amenities_from_file):
        with pytest.raises(DataError, match="OSM file not found") as info:
            loader(tmp_path / "nowhere.osm.pbf")
        assert info.value.file == "nowhere.osm.pbf"


def test_unknown_file_type(tmp_path: Path) -> None:
    path = write(tmp_path / "streets.csv", mixed_xml())
    with pytest.raises(DataError, match=r"unknown OSM file type '\.csv'"):
        osm.walk_graph_from_file(path)


def test_good_file_leaves_no_temporary_files(tmp_path: Path, private_tmp: Path) -> None:
    path = write(tmp_path / "town.osm", mixed_xml())
    osm.walk_graph_from_file(path)
    osm.amenities_from_file(path)
    assert list(private_tmp.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tmp", "town.osm"]


# --- online path -----------------------------------------------------------------------------


def test_online_path_is_refused_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_call(*args: object, **kwargs: object) -> None:
        pytest.fail("osmnx must not be called when the network is off")

    monkeypatch.setattr(settings, "allow_network", False)
    monkeypatch.setattr(ox, "graph_from_place", no_call)
    monkeypatch.setattr(ox, "features_from_place", no_call)
    with pytest.raises(NetworkDisabledError, match="PLACEMENT_ALLOW_NETWORK"):
        osm.osm_from_place("Samsø Kommune, Denmark")
