"""WalkNetwork: snapping onto edges and sparse shortest paths vs networkx and hand calculation."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import csgraph

from placement.network import WalkNetwork

SPEED_KMH = 3.6  # 1 m/s: seconds equal metres in the hand calculations


def square_graph() -> nx.MultiDiGraph:
    """A 100 m square 0-1-2-3 with both directions of each street, as osmnx gives them."""
    G = nx.MultiDiGraph(crs="EPSG:25832")
    for i, (x, y) in enumerate([(0, 0), (100, 0), (100, 100), (0, 100)]):
        G.add_node(10 + i, x=float(x), y=float(y))
    for u, v in [(10, 11), (11, 12), (12, 13), (13, 10)]:
        G.add_edge(u, v, length=100.0)
        G.add_edge(v, u, length=100.0)
    return G


def random_graph(seed: int, n_side: int = 6, drop: float = 0.25) -> nx.MultiDiGraph:
    """A jittered grid with some streets removed; edge length = straight line (metres)."""
    rng = np.random.default_rng(seed)
    G = nx.MultiDiGraph(crs="EPSG:25832")
    for i in range(n_side):
        for j in range(n_side):
            x, y = i * 100 + rng.uniform(-30, 30), j * 100 + rng.uniform(-30, 30)
            G.add_node(i * n_side + j, x=x, y=y)
    for i in range(n_side):
        for j in range(n_side):
            a = i * n_side + j
            for b in ([a + n_side] if i + 1 < n_side else []) + ([a + 1] if j + 1 < n_side else []):
                if rng.random() < drop:
                    continue
                length = math.dist(
                    (G.nodes[a]["x"], G.nodes[a]["y"]), (G.nodes[b]["x"], G.nodes[b]["y"])
                )
                G.add_edge(a, b, length=length)
                G.add_edge(b, a, length=length)
    return G


def nx_undirected(G: nx.MultiDiGraph) -> nx.Graph:
    """Independent undirected simple graph with the shortest parallel edge, in node ids."""
    H = nx.Graph()
    H.add_nodes_from(G.nodes)
    for u, v, d in G.edges(data=True):
        if u == v:
            continue
        if not H.has_edge(u, v) or H[u][v]["length"] > d["length"]:
            H.add_edge(u, v, length=d["length"])
    return H


def point_times_by_hand(net: WalkNetwork, G: nx.MultiDiGraph, xy: np.ndarray, sources: list):
    """Time (s) from the nearest source node (ids) to each point, via the two ends of its edge."""
    H = nx_undirected(G)
    dist = nx.multi_source_dijkstra_path_length(H, set(sources), weight="length")
    snap = net.snap_to_edges(xy)
    ids = net.node_ids
    out = []
    for e, off in zip(snap.edge, snap.offset_m, strict=True):
        u, v = ids[net.edge_u[e]], ids[net.edge_v[e]]
        length = net.edge_length_m[e]
        pos = off * length / net.edge_geometry[e].length
        out.append(min(dist.get(u, math.inf) + pos, dist.get(v, math.inf) + length - pos))
    return np.array(out) / net.speed_m_s


def test_matrix_is_symmetric_with_travel_seconds():
    net = WalkNetwork.from_graph(square_graph(), walk_speed_kmh=4.5)
    m = net.matrix.toarray()
    assert np.allclose(m, m.T)
    assert m[0, 1] == pytest.approx(100 / (4.5 / 3.6))  # 80 s
    assert net.matrix.nnz == 8  # 4 streets, both directions, duplicates removed


def test_parallel_edges_use_the_shortest():
    G = square_graph()
    G.add_edge(10, 11, length=60.0)  # a second, shorter way between the same nodes
    net = WalkNetwork.from_graph(G, walk_speed_kmh=SPEED_KMH)
    assert net.matrix[0, 1] == pytest.approx(60.0)
    assert net.matrix[1, 0] == pytest.approx(60.0)


def test_snap_distance_is_the_perpendicular_distance():
    net = WalkNetwork.from_graph(square_graph(), walk_speed_kmh=SPEED_KMH)
    pts = np.array([[30.0, -10.0], [70.0, 5.0], [130.0, 40.0], [-3.0, -4.0]])
    snap = net.snap_to_edges(pts)
    # nearest points: (30,0) on 0-1, (70,0) on 0-1, (100,40) on 1-2, the corner (0,0)
    assert snap.dist_m == pytest.approx([10.0, 5.0, 30.0, 5.0])
    net2, node, dist = net.with_points(pts)
    assert dist == pytest.approx([10.0, 5.0, 30.0, 5.0])
    assert node[3] == 0  # at the corner: the existing node, no new one
    # walk along the street between the snapped points: |70 - 30| = 40 m, not via the corners
    t = net2.times_s(node[:3], node[:3])
    assert t[0, 1] == pytest.approx(40.0)
    assert t[0, 2] == pytest.approx(70 + 40)  # (30,0) -> (100,0) -> (100,40)
    assert t[1, 2] == pytest.approx(30 + 40)


def test_points_beyond_max_snap_are_flagged_not_snapped():
    net = WalkNetwork.from_graph(square_graph(), walk_speed_kmh=SPEED_KMH)
    pts = np.array([[50.0, -499.0], [50.0, -501.0]])
    net2, node, dist = net.with_points(pts, max_snap_m=500.0)
    assert node[0] >= 0
    assert node[1] == -1
    assert dist == pytest.approx([499.0, 501.0])
    assert net2.n_nodes == net.n_nodes + 1


def test_points_on_the_same_spot_share_a_node():
    net = WalkNetwork.from_graph(square_graph(), walk_speed_kmh=SPEED_KMH)
    _, node, _ = net.with_points(np.array([[40.0, 3.0], [40.0, -3.0], [60.0, 1.0]]))
    assert node[0] == node[1] != node[2]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_times_match_networkx_dijkstra(seed):
    G = random_graph(seed)
    net = WalkNetwork.from_graph(G, walk_speed_kmh=4.5)
    rng = np.random.default_rng(seed)
    sources = [int(s) for s in rng.choice(list(G.nodes), size=3, replace=False)]
    src_idx = np.searchsorted(net.node_ids, sources)  # node_ids are 0..n-1 in order here
    got = net.nearest_time_s(src_idx)
    want = nx.multi_source_dijkstra_path_length(nx_undirected(G), set(sources), weight="length")
    for i, nid in enumerate(net.node_ids):
        expected = want.get(int(nid), math.inf) / net.speed_m_s
        assert got[i] == pytest.approx(expected)
    # points anywhere: snapped, then walked along their edge to either end
    xy = rng.uniform(-50, 550, size=(40, 2))
    net2, node, _ = net.with_points(xy, max_snap_m=1e9)
    got_pts = net2.nearest_time_s(src_idx)[node]
    assert got_pts == pytest.approx(point_times_by_hand(net, G, xy, sources))


def test_times_s_and_sparse_agree_and_respect_the_limit():
    G = random_graph(5)
    net = WalkNetwork.from_graph(G, walk_speed_kmh=4.5)
    src = np.arange(0, net.n_nodes, 3)
    tgt = np.arange(net.n_nodes)
    full = net.times_s(src, tgt)
    limited = net.times_s(src, tgt, limit_s=200.0, batch_bytes=8 * net.n_nodes * 2)
    assert np.array_equal(np.where(full <= 200.0, full, np.inf), limited)
    sp = net.sparse_times_s(src, tgt, limit_s=200.0).toarray()
    stored = np.isfinite(limited)
    assert np.array_equal(sp[stored], limited[stored])
    assert (sp[~stored] == 0).all()


def dense_reference(net: WalkNetwork, src: np.ndarray, tgt: np.ndarray, limit: float):
    """The former implementation: scipy's bounded Dijkstra, one dense row per source."""
    rows = np.atleast_2d(csgraph.dijkstra(net.matrix, directed=True, indices=src, limit=limit))
    return rows[:, tgt]


@settings(deadline=None, max_examples=30)
@given(seed=st.integers(0, 10_000), limit=st.floats(20.0, 900.0),
       n_src=st.integers(1, 25), n_tgt=st.integers(1, 40))
def test_sparse_times_equal_the_dense_bounded_dijkstra(seed, limit, n_src, n_tgt):
    G = random_graph(seed % 50, n_side=7)
    net = WalkNetwork.from_graph(G, walk_speed_kmh=4.5)
    rng = np.random.default_rng(seed)
    src = rng.integers(0, net.n_nodes, size=n_src)  # repeated sources and targets too
    tgt = rng.integers(0, net.n_nodes, size=n_tgt)
    ref = dense_reference(net, src, tgt, limit)
    got = net.sparse_times_s(src, tgt, limit_s=limit, method="bounded")
    assert np.array_equal(got.toarray(), net.sparse_times_s(src, tgt, limit_s=limit,
                                                            method="dense").toarray())
    dense = np.full(got.shape, np.inf)
    coo = got.tocoo()
    dense[coo.row, coo.col] = coo.data
    assert coo.nnz == np.isfinite(ref).sum()  # explicit zeros kept, nothing beyond the limit
    assert np.array_equal(dense, ref)  # bit for bit
    limits = np.sort(rng.uniform(10.0, limit, size=3))
    counts = net.count_within(src, tgt, limits, method="bounded")
    assert np.array_equal(counts, net.count_within(src, tgt, limits, method="dense"))
    full = dense_reference(net, src, tgt, np.inf)
    for k, lim in enumerate(limits):
        assert np.array_equal(counts[k], (full <= lim).sum(axis=0))


def test_count_within_equals_brute_force():
    G = random_graph(7)
    net = WalkNetwork.from_graph(G, walk_speed_kmh=4.5)
    rng = np.random.default_rng(7)
    src = rng.integers(0, net.n_nodes, size=12)  # repeats count twice
    tgt = np.arange(net.n_nodes)
    limits = np.array([60.0, 150.0, 400.0])
    counts = net.count_within(src, tgt, limits)
    full = net.times_s(src, tgt)
    for k, lim in enumerate(limits):
        assert np.array_equal(counts[k], (full <= lim).sum(axis=0))


coords = st.floats(min_value=-100, max_value=600, allow_nan=False)


@settings(deadline=None, max_examples=40)
@given(
    seed=st.integers(0, 10_000),
    pts=st.lists(st.tuples(coords, coords), min_size=2, max_size=8),
)
def test_times_are_never_below_straight_line_walking(seed, pts):
    net = WalkNetwork.from_graph(random_graph(seed, n_side=5), walk_speed_kmh=4.5)
    xy = np.array(pts)
    net2, node, _ = net.with_points(xy, max_snap_m=1e9)
    t = net2.times_s(node, node)
    # the bound holds between the snapped positions (edge lengths are straight lines here)
    snapped = net2.xy[node]
    straight = np.hypot(*(snapped[:, None, :] - snapped[None, :, :]).transpose(2, 0, 1))
    assert (t >= straight / net.speed_m_s - 1e-6).all()


@settings(deadline=None, max_examples=40)
@given(seed=st.integers(0, 10_000), a=st.integers(0, 24), b=st.integers(0, 24),
       factor=st.floats(min_value=1.0, max_value=3.0))
def test_adding_an_edge_never_makes_a_time_longer(seed, a, b, factor):
    G = random_graph(seed, n_side=5, drop=0.4)
    before = WalkNetwork.from_graph(G, walk_speed_kmh=4.5)
    length = factor * math.dist(
        (G.nodes[a]["x"], G.nodes[a]["y"]), (G.nodes[b]["x"], G.nodes[b]["y"])
    )
    G.add_edge(a, b, length=length)
    after = WalkNetwork.from_graph(G, walk_speed_kmh=4.5)
    nodes = np.arange(before.n_nodes)
    t0, t1 = before.times_s(nodes, nodes), after.times_s(nodes, nodes)
    assert (t1 <= t0 + 1e-9).all()


@pytest.mark.shared_data
@pytest.mark.slow
def test_samso_times_match_networkx(shared_data):
    from placement.osm import walk_graph_from_file

    G = walk_graph_from_file(shared_data / "osm" / "samsoe_2020-03-09.osm.bz2")
    net = WalkNetwork.from_graph(G, walk_speed_kmh=4.5)
    rng = np.random.default_rng(0)
    sources = [int(s) for s in rng.choice(net.node_ids, size=5, replace=False)]
    src_idx = np.flatnonzero(np.isin(net.node_ids, sources))
    got = net.nearest_time_s(src_idx)
    want = nx.multi_source_dijkstra_path_length(nx_undirected(G), set(sources), weight="length")
    sample = rng.choice(net.n_nodes, size=200, replace=False)
    for i in sample:
        expected = want.get(int(net.node_ids[i]), math.inf) / net.speed_m_s
        assert got[i] == pytest.approx(expected, rel=1e-9)
    # 50 "dwellings" scattered over the island, snapped onto the edges
    lo, hi = net.xy.min(axis=0), net.xy.max(axis=0)
    xy = rng.uniform(lo, hi, size=(50, 2))
    net2, node, dist = net.with_points(xy, max_snap_m=500.0)
    on = node >= 0
    assert on.any()
    assert (dist[~on] > 500).all()
    got_pts = net2.nearest_time_s(src_idx)[node[on]]
    assert got_pts == pytest.approx(point_times_by_hand(net, G, xy[on], sources), rel=1e-9)
    # never faster than the crow flies (0.1 % slack: 'length' is great-circle, xy is UTM)
    src_xy = net.xy[src_idx]
    crow = np.min(np.hypot(*(xy[on][:, None, :] - src_xy[None]).transpose(2, 0, 1)), axis=1)
    straight_s = (crow - dist[on]) / net.speed_m_s
    assert (got_pts >= straight_s * 0.999 - 1e-6).all()


def _snap_both(net: WalkNetwork, xy: np.ndarray, mask=None):
    ref = net.snap_to_edges(xy, edge_mask=mask, method="strtree")
    got = net.snap_to_edges(xy, edge_mask=mask, method="grid")
    return ref, got


@settings(deadline=None, max_examples=40)
@given(seed=st.integers(0, 10_000), n_pts=st.integers(1, 60),
       spread=st.sampled_from([5.0, 150.0, 3000.0]), masked=st.booleans())
def test_grid_snap_equals_shapely_strtree(seed, n_pts, spread, masked):
    import shapely

    G = random_graph(seed % 50, n_side=6)
    rng = np.random.default_rng(seed)
    for k, (u, v, d) in enumerate(list(G.edges(data=True))):  # some curved streets
        if k % 3 == 0:
            a = np.array([G.nodes[u]["x"], G.nodes[u]["y"]])
            b = np.array([G.nodes[v]["x"], G.nodes[v]["y"]])
            mid = (a + b) / 2 + rng.uniform(-25, 25, 2)
            d["geometry"] = shapely.LineString([a, mid, b])
    net = WalkNetwork.from_graph(G, walk_speed_kmh=4.5)
    centre = net.xy[rng.integers(0, net.n_nodes, n_pts)]
    xy = centre + rng.uniform(-spread, spread, (n_pts, 2))
    xy[: n_pts // 4] = net.xy[rng.integers(0, net.n_nodes, n_pts // 4)]  # exact ties at nodes
    mask = rng.random(len(net.edge_u)) < 0.6 if masked else None
    if mask is not None and not mask.any():
        mask[0] = True
    length = net.edge_geometry_length_m.copy()  # from the segments, before any line is made
    ref, got = _snap_both(net, xy, mask)
    assert np.array_equal(length, shapely.length(net.edge_geometry))
    assert np.array_equal(got.edge, ref.edge)  # the same edge, ties to the lowest index
    assert np.array_equal(got.dist_m, ref.dist_m)  # bit for bit (GEOS's formula)
    assert np.array_equal(got.offset_m, ref.offset_m)


def test_grid_snap_of_points_far_off_and_without_coordinates():
    net = WalkNetwork.from_graph(square_graph(), walk_speed_kmh=SPEED_KMH)
    xy = np.array([[50.0, -3.0], [1e6, 1e6], [-40_000.0, 50.0], [np.nan, 0.0]])
    ref, got = _snap_both(net, xy[:3])
    assert np.array_equal(got.edge, ref.edge)
    assert np.array_equal(got.dist_m, ref.dist_m)
    assert got.dist_m[0] == 3.0
    for method in ("grid", "strtree"):  # no coordinates: no edge, unknown offset, never snapped
        nan = net.snap_to_edges(xy[3:], method=method)
        assert nan.edge.tolist() == [-1]
        assert np.isnan(nan.offset_m[0])
        assert nan.dist_m[0] == np.inf
    with pytest.raises(ValueError, match="method"):
        net.snap_to_edges(xy, method="kdtree")


@pytest.mark.parametrize("osm", ["osm/samsoe_2020-03-09.osm.bz2",
                                 "fallback_porto_alegre/poa_osm.pbf"])
def test_grid_snap_equals_strtree_on_real_streets(shared_data, osm):
    import shapely

    from placement.osm import walk_network_from_file

    net = walk_network_from_file(shared_data / osm)
    # lengths summed from the segments (no line objects) are GEOS's lengths, bit for bit
    length = net.edge_geometry_length_m.copy()
    assert np.array_equal(length, shapely.length(net.edge_geometry))
    rng = np.random.default_rng(1)
    xy = net.xy[rng.choice(net.n_nodes, 5000)] + rng.uniform(-150, 150, (5000, 2))
    xy = np.vstack([xy, net.xy[:300]])  # node positions: ties between the edges meeting there
    ref, got = _snap_both(net, xy, net.component_edge_mask())
    assert np.array_equal(got.edge, ref.edge)
    assert np.array_equal(got.dist_m, ref.dist_m)
    assert np.array_equal(got.offset_m, ref.offset_m)


def test_offset_on_a_tie_between_segments_of_one_edge_is_geos():
    """A point as near to three segments of one U-shaped edge: the first one, as GEOS."""
    import shapely

    u_shape = shapely.LineString([(0, 0), (0, 10), (10, 10), (10, 0)])
    net = WalkNetwork(np.array([[0.0, 0.0], [10.0, 0.0]]), [0], [1], [30.0], [u_shape],
                      walk_speed_kmh=SPEED_KMH)
    xy = np.array([[5.0, 5.0], [5.0, 5.0 + 1e-9], [2.0, 7.0]])
    want = shapely.line_locate_point(u_shape, shapely.points(xy))
    for method in ("grid", "strtree"):
        got = net.snap_to_edges(xy, method=method)
        assert np.array_equal(got.offset_m, want), method
    assert want[0] == 5.0  # on the first segment


def test_negative_or_missing_edge_lengths_are_refused():
    for bad in (-1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match="edge lengths"):
            WalkNetwork(np.array([[0.0, 0.0], [1.0, 0.0]]), [0], [1], [bad], [None],
                        walk_speed_kmh=SPEED_KMH)


def test_bounded_searches_through_dead_ends_equal_scipy():
    # a comb: a street with dead-end side paths of one, two and three edges, a parallel edge
    # to a leaf and a leaf as a source (the searches do not expand a dead end)
    G = nx.MultiDiGraph(crs="EPSG:25832")
    for i in range(6):
        G.add_node(i, x=100.0 * i, y=0.0)
    nxt = 6
    for i, depth in ((1, 1), (2, 2), (4, 3)):
        prev = i
        for k in range(depth):
            G.add_node(nxt, x=100.0 * i, y=40.0 * (k + 1))
            G.add_edge(prev, nxt, length=40.0 + k)
            G.add_edge(nxt, prev, length=40.0 + k)
            prev, nxt = nxt, nxt + 1
    for i in range(5):
        G.add_edge(i, i + 1, length=100.0)
        G.add_edge(i + 1, i, length=100.0)
    G.add_edge(1, 6, length=30.0)  # a shorter parallel way to the first leaf
    net = WalkNetwork.from_graph(G, walk_speed_kmh=3.6)  # 1 m/s
    src = np.array([6, 0, 11, 5, 8])
    tgt = np.arange(net.n_nodes)
    for limit in (35.0, 150.0, 260.0, 1e4):
        ref = dense_reference(net, src, tgt, limit)
        got = net.sparse_times_s(src, tgt, limit_s=limit, method="bounded").toarray()
        got[np.isinf(ref)] = np.inf  # entries beyond the limit are not stored
        assert np.array_equal(got, ref)
    counts = net.count_within(src, tgt, np.array([50.0, 200.0, 400.0]))
    full = dense_reference(net, src, tgt, np.inf)
    for k, lim in enumerate((50.0, 200.0, 400.0)):
        assert np.array_equal(counts[k], (full <= lim).sum(axis=0))


def _edges_one_by_one(G) -> tuple[list, list, list, list]:
    """The edges ``from_graph`` keeps, by a set of keys in a loop over ``G.edges``."""
    index = {n: i for i, n in enumerate(G.nodes)}
    seen, us, vs, lengths, geoms = set(), [], [], [], []
    for u, v, d in G.edges(data=True):
        iu, iv = index[u], index[v]
        key = (min(iu, iv), max(iu, iv), round(float(d["length"]), 2))
        if key in seen:
            continue
        seen.add(key)
        us.append(iu)
        vs.append(iv)
        lengths.append(float(d["length"]))
        geoms.append(d.get("geometry"))
    return us, vs, lengths, geoms


@settings(deadline=None, max_examples=60)
@given(seed=st.integers(0, 10_000), directed=st.booleans(),
       near=st.sampled_from([0.0, 1e-9, 0.001, 0.004, 0.005, 0.006, 0.01]))
def test_from_graph_keeps_the_edges_a_set_of_keys_keeps(seed, directed, near):
    """One edge per end pair and length to the centimetre, the first in ``G.edges`` order."""
    import shapely

    rng = np.random.default_rng(seed)
    G = nx.MultiDiGraph() if directed else nx.MultiGraph()
    n = int(rng.integers(2, 9))
    ids = rng.permutation(1000)[:n] * 7 + 3  # node ids not 0..n-1
    for i in ids:
        G.add_node(int(i), x=float(rng.uniform(0, 500)), y=float(rng.uniform(0, 500)))
    # lengths near a rounding boundary (x.xx5), repeated, nudged and in both directions
    base = [2.675, 1.005, 10.0, 0.125, 7.3149999, 0.0]
    for _ in range(int(rng.integers(1, 30))):
        a, b = (int(x) for x in rng.choice(ids, 2))
        length = base[int(rng.integers(len(base)))] + near * int(rng.integers(-2, 3))
        geom = (shapely.LineString([(0, 0), (1, float(rng.uniform()))])
                if rng.random() < 0.3 else None)
        G.add_edge(a, b, length=max(length, 0.0), geometry=geom)
        if rng.random() < 0.5:
            G.add_edge(b, a, length=max(length, 0.0))
    net = WalkNetwork.from_graph(G, walk_speed_kmh=4.5)
    us, vs, lengths, geoms = _edges_one_by_one(G)
    assert net.edge_u.tolist() == us
    assert net.edge_v.tolist() == vs
    assert net.edge_length_m.tolist() == lengths
    assert [g is h for g, h in zip(net._geometry, geoms, strict=True)] == [True] * len(us)
    assert np.array_equal(net.xy, [(G.nodes[i]["x"], G.nodes[i]["y"]) for i in G.nodes])


def _random_csr(seed: int, n: int, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A random symmetric graph with tied, zero and tiny weights, as int64/float64 CSR."""
    from scipy import sparse

    rng = np.random.default_rng(seed)
    m = 3 * n
    u, v = rng.integers(0, n, m), rng.integers(0, n, m)
    keep = u != v
    u, v = u[keep], v[keep]
    w = np.round(rng.exponential(scale, len(u)), int(rng.integers(0, 3)))  # ties when rounded
    w[rng.random(len(w)) < 0.05] = 0.0
    a = sparse.coo_matrix((np.r_[w, w], (np.r_[u, v], np.r_[v, u])), shape=(n, n)).tocsr()
    a.sum_duplicates()
    return a.indptr.astype(np.int64), a.indices.astype(np.int64), a.data.astype(np.float64)


@settings(deadline=None, max_examples=150)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 120), scale=st.floats(0.5, 60.0),
       limit=st.floats(0.0, 400.0), tiny_cap=st.booleans(), single=st.booleans())
def test_bucket_queue_search_equals_the_heap_and_scipy(seed, n, scale, limit, tiny_cap,
                                                       single):
    # The bounded searches use a bucket queue (label-correcting); every reached node must get
    # exactly the heap's (Dijkstra's) float distance, within the limit and nowhere else, also
    # when the bucket entries run out and the search starts again on the heap.
    from placement import _kernels as kernels

    indptr, indices, data = _random_csr(seed, n, scale)
    q = kernels._queue(limit, len(indices))
    assert len(q[2]) == int(limit / kernels.BUCKET_S) + 1  # buckets for every limit here
    if tiny_cap:
        q = q[:4] + tuple(x[:3] for x in q[4:])
    a = int(np.random.default_rng(seed).integers(0, n))
    b = (a + 1) % n
    da, db = limit * 0.3, limit * 0.1
    if single:  # one source node, as _ball searches: b = a, not reachable a second way
        b, da, db = a, 0.0, np.inf
    from scipy import sparse

    dist, visited = np.full(n, np.inf), np.empty(n, np.int64)
    if single:
        ref = csgraph.dijkstra(csgraph_from(indptr, indices, data, n), indices=a, limit=limit)
        n_vis = kernels._ball(indptr, indices, data, a, limit, dist, visited, q)
    else:
        # scipy from a node n + 1 with ways to a and b, so that it sums da + w1 + ... as the
        # kernels do
        graph = sparse.bmat(
            [[csgraph_from(indptr, indices, data, n), sparse.csr_matrix((n, 1))],
             [sparse.csr_matrix(([da, db], ([0, 0], [a, b])), shape=(1, n)),
              sparse.csr_matrix((1, 1))]], format="csr")
        ref = csgraph.dijkstra(graph, indices=n, limit=limit)[:n]
        n_vis = kernels._ball_from_edge(indptr, indices, data, a, da, b, db, limit, dist,
                                        visited, q)
    assert sorted(visited[:n_vis]) == sorted(np.flatnonzero(np.isfinite(ref)))
    # scipy may sum paths of equal length in another order: equal up to rounding; the heap
    # search is the bit-for-bit reference
    assert np.array_equal(np.isinf(dist), np.isinf(ref))
    assert np.allclose(dist, ref, rtol=1e-12, atol=1e-9)
    heap = np.full(n, np.inf)
    kernels._heap_ball(indptr, indices, data, a, da, b, db, limit, heap, np.empty(n, np.int64),
                       q[0], q[1])
    assert np.array_equal(dist, heap)
    assert (q[2] == -1).all()  # the buckets are left empty for the next search


def csgraph_from(indptr, indices, data, n):
    """The CSR arrays as a matrix for ``csgraph`` (which keeps explicit zeros as edges)."""
    from scipy import sparse

    return sparse.csr_matrix((data, indices, indptr), shape=(n, n))


def test_limits_beyond_the_buckets_use_the_heap():
    from placement import _kernels as kernels

    assert len(kernels._queue(np.inf, 10)[2]) == 0
    assert len(kernels._queue(kernels.BUCKET_S * kernels.MAX_BUCKETS, 10)[2]) == 0
    most = kernels.BUCKET_S * kernels.MAX_BUCKETS - 1.0
    assert len(kernels._queue(most, 10)[2]) == kernels.MAX_BUCKETS
    for bad in (-1.0, -1e6, np.nan):  # nothing to bucket: the heap, no error
        assert len(kernels._queue(bad, 10)[2]) == 0
    indptr, indices, data = _random_csr(3, 60, 20.0)
    dist, heap = np.full(60, np.inf), np.full(60, np.inf)
    kernels._ball_from_edge(indptr, indices, data, 0, 0.0, 0, np.inf, np.inf, dist,
                      np.empty(60, np.int64), kernels._queue(np.inf, len(indices)))
    q = kernels._queue(np.inf, len(indices))
    kernels._heap_ball(indptr, indices, data, 0, 0.0, 0, np.inf, np.inf, heap,
                       np.empty(60, np.int64), q[0], q[1])
    assert np.array_equal(dist, heap)
    assert np.allclose(dist, csgraph.dijkstra(csgraph_from(indptr, indices, data, 60), indices=0))
    # entries running out: the bucket search says so and how far it got, buckets emptied
    q = kernels._queue(300.0, len(indices))
    small = q[:4] + tuple(x[:3] for x in q[4:])
    part, visited = np.full(60, np.inf), np.empty(60, np.int64)
    got = kernels._bucket_ball(indptr, indices, data, 0, 0.0, 0, np.inf, 300.0, part, visited,
                               *small[2:])
    assert got < 0
    assert set(np.flatnonzero(np.isfinite(part))) == set(visited[:-got - 1])
    assert (small[2] == -1).all()
