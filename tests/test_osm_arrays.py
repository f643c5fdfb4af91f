"""The arrays loader (placement.osm_arrays) gives the network of the osmnx path, exactly."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scipy.sparse import csgraph
from shapely.geometry import box
from test_osm import LAT0, LON0, M_PER_DEG_LAT, M_PER_DEG_LON, osm_xml, write

from placement import osm
from placement._errors import DataError
from placement.network import WalkNetwork
from placement.osm_arrays import WalkArrays, haversine_m, walk_arrays_from_file

REPO = Path(__file__).resolve().parents[1]
DEMO_OSM = REPO / "data" / "geo" / "demo" / "streets.osm.bz2"
SAMSOE_OSM = "osm/samsoe_2020-03-09.osm.bz2"
POA_OSM = "fallback_porto_alegre/poa_osm.pbf"
POA_BBOX = (-51.235, -30.045, -51.205, -30.02)


def _table(a: np.ndarray, b: np.ndarray, length: np.ndarray, geom: np.ndarray) -> np.ndarray:
    """One row per edge: low id, high id, length, geometry length, centroid x, y; sorted."""
    cen = shapely.centroid(geom)
    rows = np.column_stack([
        np.minimum(a, b), np.maximum(a, b), length, shapely.length(geom),
        shapely.get_x(cen), shapely.get_y(cen),
    ])
    key = np.round(rows[:, 2:], 3)
    order = np.lexsort((key[:, 3], key[:, 2], key[:, 1], key[:, 0], rows[:, 1], rows[:, 0]))
    return rows[order]


def assert_same_graph(arrays: WalkArrays, G: nx.MultiDiGraph) -> None:
    """Same nodes (ids, coordinates) and edges (ends, lengths, geometries) as the osmnx graph.

    The osmnx graph holds every street in both directions: each undirected edge twice.
    """
    ids = np.fromiter(G.nodes, dtype=np.int64)
    assert sorted(arrays.node_ids.tolist()) == sorted(ids.tolist())
    xy = np.array([(G.nodes[n]["x"], G.nodes[n]["y"]) for n in ids.tolist()])
    np.testing.assert_allclose(arrays.xy[np.argsort(arrays.node_ids)], xy[np.argsort(ids)],
                               rtol=0, atol=1e-6)
    a, b, length, geom = [], [], [], []
    for u, v, data in G.edges(data=True):
        a.append(u)
        b.append(v)
        length.append(data["length"])
        line = data.get("geometry")
        if line is None:
            line = shapely.LineString([(G.nodes[u]["x"], G.nodes[u]["y"]),
                                       (G.nodes[v]["x"], G.nodes[v]["y"])])
        geom.append(line)
    ref = _table(np.array(a, np.int64), np.array(b, np.int64), np.array(length, float),
                 np.array(geom, dtype=object))
    net = arrays.to_network()  # geometries filled in for single segments
    node = arrays.node_ids
    mine = _table(np.repeat(node[arrays.edge_u], 2), np.repeat(node[arrays.edge_v], 2),
                  np.repeat(arrays.edge_length_m, 2),
                  np.repeat(WalkNetwork(arrays.xy, arrays.edge_u, arrays.edge_v,
                                        arrays.edge_length_m, arrays.edge_geometry,
                                        node_ids=node).edge_geometry, 2))
    assert net.n_nodes == len(node)
    assert mine.shape == ref.shape
    np.testing.assert_array_equal(mine[:, :2], ref[:, :2])
    # 0.1 mm: the centroid of a way walked backwards differs from the forward one in the last
    # bits (a way 2-10-2 gives two parallel edges whose order after sorting is then arbitrary).
    np.testing.assert_allclose(mine[:, 2:], ref[:, 2:], rtol=0, atol=1e-4)


def assert_same_times(arrays: WalkNetwork, ref: WalkNetwork, *, n_sources: int = 20) -> None:
    """Same walk times from the same OSM nodes to every node.

    ``WalkNetwork`` merges parallel edges of the same length to the centimetre; which of two
    such edges is kept follows the order of the input, hence the tolerance of 1 cm of walking.
    """
    assert sorted(arrays.node_ids.tolist()) == sorted(ref.node_ids.tolist())
    if ref.n_nodes == 0:
        return
    pos_a, pos_r = np.argsort(arrays.node_ids), np.argsort(ref.node_ids)
    rng = np.random.default_rng(0)
    src_ids = rng.choice(ref.node_ids, size=min(n_sources, ref.n_nodes), replace=False)
    index_a = {int(n): i for i, n in enumerate(arrays.node_ids)}
    index_r = {int(n): i for i, n in enumerate(ref.node_ids)}
    da = csgraph.dijkstra(arrays.matrix, indices=[index_a[int(s)] for s in src_ids])
    dr = csgraph.dijkstra(ref.matrix, indices=[index_r[int(s)] for s in src_ids])
    np.testing.assert_array_equal(np.isinf(da[:, pos_a]), np.isinf(dr[:, pos_r]))
    np.testing.assert_allclose(da[:, pos_a], dr[:, pos_r], rtol=1e-12,
                               atol=0.01 / ref.speed_m_s)


def assert_same(path: Path, boundary: gpd.GeoDataFrame | None = None, *,
                n_sources: int = 20) -> WalkArrays:
    """The arrays loader and the osmnx path agree on ``path``; return the arrays."""
    arrays = walk_arrays_from_file(path, boundary=boundary)
    G = osm.walk_graph_from_file(path, boundary=boundary)
    assert_same_graph(arrays, G)
    assert_same_times(arrays.to_network(), WalkNetwork.from_graph(G), n_sources=n_sources)
    return arrays


def test_haversine_equals_osmnx() -> None:
    from osmnx import distance

    lon1, lat1 = np.array([10.0, -51.2, 179.9]), np.array([55.0, -30.0, 0.0])
    lon2, lat2 = np.array([10.001, -51.3, -179.9]), np.array([55.002, -30.1, 0.1])
    np.testing.assert_array_equal(haversine_m(lon1, lat1, lon2, lat2),
                                  distance.great_circle(lat1, lon1, lat2, lon2))


def test_demo_osm_same_network() -> None:
    arrays = assert_same(DEMO_OSM)
    assert len(arrays.node_ids) > 1000


def test_samsoe_same_network(shared_data: Path) -> None:
    arrays = assert_same(shared_data / SAMSOE_OSM, n_sources=50)
    assert len(arrays.node_ids) > 2000


def test_porto_alegre_clipped_same_network(shared_data: Path) -> None:
    bbox = gpd.GeoDataFrame({"name": ["centro"]}, geometry=[box(*POA_BBOX)], crs="EPSG:4326")
    arrays = assert_same(shared_data / POA_OSM, boundary=bbox, n_sources=50)
    assert len(arrays.node_ids) > 1000


def _grid_node(k: int) -> tuple[float, float]:
    row, col = divmod(k, 4)
    return (LAT0 + row * 80 / M_PER_DEG_LAT + (k % 3) * 1e-5,
            LON0 + col * 90 / M_PER_DEG_LON + (k % 2) * 2e-5)


def test_rings_loops_duplicates_and_gaps(tmp_path: Path) -> None:
    nodes = {k: _grid_node(k) for k in range(1, 17) if k != 15}  # 15 is missing: a gap
    street = {"highway": "residential"}
    ways = [
        (1, [1, 2, 3, 4], street),          # a street
        (2, [4, 8, 12, 11, 4], street),     # a loop hanging at 4 (a self-loop after merging)
        (3, [5, 6, 10, 9, 5], street),      # an isolated ring: dropped
        (4, [2, 3], {"highway": "footway"}),  # duplicates a segment of way 1
        (5, [13, 13, 14, 15, 16, 7], street),  # repeated node, then a gap at 15
        (6, [7, 7], street),                # one node only: an isolated node
    ]
    path = write(tmp_path / "cases.osm", osm_xml(nodes, ways))
    arrays = assert_same(path)
    assert 5 not in arrays.node_ids
    assert 15 not in arrays.node_ids
    assert 8 not in arrays.node_ids  # interstitial on the loop


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(ways=[[2, 10, 2, 6, 10]], missing=set())  # once failed on float noise in a centroid
@given(
    ways=st.lists(st.lists(st.integers(0, 11), min_size=1, max_size=7), min_size=1, max_size=8),
    missing=st.sets(st.integers(0, 11), max_size=2),
)
def test_random_ways_same_network_as_osmnx(
    tmp_path: Path, ways: list[list[int]], missing: set[int]
) -> None:
    nodes = {k + 1: _grid_node(k) for k in range(12) if k not in missing}
    way_list = [(w + 1, [r + 1 for r in refs], {"highway": "path"})
                for w, refs in enumerate(ways)]
    path = write(tmp_path / "random.osm", osm_xml(nodes, way_list))
    try:
        osm.walk_graph_from_file(path)
    except DataError:  # no way left with two nodes present: both loaders refuse
        with pytest.raises(DataError):
            walk_arrays_from_file(path)
        return
    except ValueError:  # osmnx cannot project a graph without edges; the arrays can
        assert len(walk_arrays_from_file(path).edge_u) == 0
        return
    assert_same(path)


def test_arrays_keep_the_boundary_clip_and_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "b.osm", osm_xml({1: (LAT0, LON0)}, [(1, [1], {"building": "yes"})]))
    with pytest.raises(DataError) as info:
        walk_arrays_from_file(path)
    assert info.value.problems[0].file == "b.osm"
    with pytest.raises(DataError):
        walk_arrays_from_file(tmp_path / "absent.osm")
    with pytest.raises(ValueError, match="unknown OSM loader"):
        osm.walk_network_from_file(DEMO_OSM, loader="networkx")


def test_walk_speed_is_the_networks() -> None:
    net = osm.walk_network_from_file(DEMO_OSM, walk_speed_kmh=3.6)
    assert net.walk_speed_kmh == 3.6
    edge = int(np.argmax(net.edge_u != net.edge_v))
    u, v = net.edge_u[edge], net.edge_v[edge]
    assert net.matrix[u, v] <= net.edge_length_m[edge] + 1e-9
