"""Walks between points on edges (no node per point) against the door graph and by hand."""

from __future__ import annotations

import os

import numpy as np
import pytest
import shapely
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from placement.network import WalkNetwork
from placement.walk_edges import EdgeWalks, place_points
from tests.test_network import SPEED_KMH, random_graph, square_graph


def door_graph_reference(net: WalkNetwork, xy: np.ndarray, n_tgt: int, mask=None):
    """Every point a node with its door path; full times from each point to each target."""
    net2, node, _ = net.with_doors(xy, max_snap_m=500.0, edge_mask=mask)
    tgt = node[:n_tgt]
    src = node[n_tgt:]
    full = np.full((len(src), n_tgt), np.inf)
    ok_s, ok_t = src >= 0, tgt >= 0
    if ok_s.any() and ok_t.any():
        full[np.ix_(ok_s, ok_t)] = net2.times_s(src[ok_s], tgt[ok_t])
    return node, full


def assert_as_door_graph(net: WalkNetwork, xy: np.ndarray, n_tgt: int, mask, lim: np.ndarray):
    """The first ``n_tgt`` points are targets, the rest sources: same times and counts."""
    node, full = door_graph_reference(net, xy, n_tgt, mask)
    pts = place_points(net, xy, max_snap_m=500.0, edge_mask=mask)
    assert np.array_equal(pts.on, node >= 0)
    on_t = np.flatnonzero(pts.on[:n_tgt])
    assume(len(on_t))
    walks = EdgeWalks(net, pts, on_t)
    src = np.arange(n_tgt, len(xy))
    want = full[:, on_t].min(axis=0)
    got = walks.nearest_s(src)
    assert np.array_equal(np.isinf(got), np.isinf(want))
    fin = np.isfinite(want)
    # the door graph merges points < 1 mm apart on an edge: up to about 1 ms of walking
    assert got[fin] == pytest.approx(want[fin], rel=1e-9, abs=1e-2)
    # a time that close to a limit could fall either side: not a meaningful case
    assume(not (np.abs(full[np.isfinite(full)][:, None] - lim[None]) < 1e-2).any())
    counts = walks.count_within(src, lim)
    for k, t in enumerate(lim):
        assert np.array_equal(counts[k], (full[:, on_t] <= t).sum(axis=0))


def test_times_by_hand_on_the_square():
    net = WalkNetwork.from_graph(square_graph(), walk_speed_kmh=SPEED_KMH)  # 1 m/s
    xy = np.array([[50.0, -10.0],   # dwelling: edge 10-11 at 50 m, door 10 m
                   [110.0, 60.0],   # amenity: edge 11-12 at 60 m, door 10 m
                   [80.0, 5.0]])    # amenity on the dwelling's edge at 80 m, door 5 m
    pts = place_points(net, xy, max_snap_m=500.0)
    assert pts.door_m == pytest.approx([10.0, 10.0, 5.0])
    walks = EdgeWalks(net, pts, np.array([0]))
    # round the corner: 10 + 50 + 60 + 10
    assert walks.nearest_s(np.array([1])) == pytest.approx([130.0])
    # along the shared edge: 10 + 30 + 5, not by the corner (10 + 50 + 20 + 5)
    assert walks.nearest_s(np.array([1, 2])) == pytest.approx([45.0])
    counts = walks.count_within(np.array([1, 2, 2]), np.array([44.0, 45.0, 130.0]))
    assert counts[:, 0].tolist() == [0, 2, 3]  # a place listed twice counts twice
    # the rows follow the limits as given, also when they are not ascending
    counts = walks.count_within(np.array([1, 2, 2]), np.array([130.0, 44.0, 45.0]))
    assert counts[:, 0].tolist() == [3, 0, 2]


def test_off_network_points_are_ignored_and_no_source_is_inf():
    net = WalkNetwork.from_graph(square_graph(), walk_speed_kmh=SPEED_KMH)
    xy = np.array([[50.0, -10.0], [5000.0, 5000.0]])
    pts = place_points(net, xy, max_snap_m=500.0)
    assert pts.on.tolist() == [True, False]
    walks = EdgeWalks(net, pts, np.array([0]))
    assert np.isinf(walks.nearest_s(np.array([1])))
    assert walks.count_within(np.array([1]), np.array([1e9])).tolist() == [[0]]
    with pytest.raises(ValueError, match="on the network"):
        EdgeWalks(net, pts, np.array([1]))


@settings(deadline=None, max_examples=40)
@given(seed=st.integers(0, 10_000), n_tgt=st.integers(1, 40), n_src=st.integers(1, 12),
       limits=st.lists(st.floats(5.0, 900.0), min_size=1, max_size=3), masked=st.booleans())
def test_equal_to_the_door_graph(seed, n_tgt, n_src, limits, masked):
    G = random_graph(seed % 40, n_side=6, drop=0.35)
    net = WalkNetwork.from_graph(G, walk_speed_kmh=4.5)
    rng = np.random.default_rng(seed)
    xy = rng.uniform(-80, 580, size=(n_tgt + n_src, 2))
    # some sources exactly at targets, some twice at one place, some on a node
    if n_src > 1:
        xy[n_tgt] = xy[0]
        xy[-1] = xy[n_tgt]
    xy[n_tgt + n_src // 2] = net.xy[seed % net.n_nodes]
    mask = net.component_edge_mask(300.0) if masked else None
    assert_as_door_graph(net, xy, n_tgt, mask, np.array(limits))


def odd_network(rng: np.random.Generator) -> WalkNetwork:
    """Self-loops with curved geometry, curved and parallel edges, a 0-length edge."""
    n = int(rng.integers(4, 12))
    xy = rng.uniform(0, 300, (n, 2))
    xy[1] = xy[0]
    eu, ev, length, geom = [0], [1], [0.0], [None]
    for _ in range(int(rng.integers(2, 3 * n))):
        a, b = (int(x) for x in rng.integers(0, n, 2))
        kind = int(rng.integers(0, 4))
        if kind == 0 or a == b:  # a loop back to its node
            r = rng.uniform(5, 40)
            c = xy[a]
            corners = np.array([[0.0, 0.0], [r, 0.0], [r, r], [0.0, r], [0.0, 0.0]])
            g = shapely.LineString(c + corners)
            eu.append(a)
            ev.append(a)
            length.append(g.length * rng.uniform(1, 1.3))
            geom.append(g)
            continue
        g = (shapely.LineString([xy[a], (xy[a] + xy[b]) / 2 + rng.uniform(-60, 60, 2), xy[b]])
             if kind == 1 else None)
        base = g.length if g is not None else float(np.hypot(*(xy[a] - xy[b])))
        eu.append(a)
        ev.append(b)
        length.append(base * rng.uniform(1, 1.2))
        geom.append(g)
        if kind == 3:  # a parallel edge, longer
            eu.append(b)
            ev.append(a)
            length.append(length[-1] * 1.1)
            geom.append(None)
    g = np.empty(len(geom), object)
    g[:] = geom
    return WalkNetwork(xy, np.array(eu), np.array(ev), np.array(length), g, walk_speed_kmh=4.5)


@settings(deadline=None, max_examples=60)
@given(seed=st.integers(0, 100_000))
def test_equal_to_the_door_graph_on_odd_networks(seed):
    rng = np.random.default_rng(seed)
    net = odd_network(rng)
    n_tgt, n_src = int(rng.integers(1, 25)), int(rng.integers(1, 10))
    xy = rng.uniform(-30, 330, (n_tgt + n_src, 2))
    xy[rng.integers(0, len(xy), 3)] = net.xy[rng.integers(0, net.n_nodes, 3)]  # on nodes
    if n_src > 1:
        xy[n_tgt] = xy[0]
    mask = net.component_edge_mask(200.0) if seed % 3 == 0 else None
    assert_as_door_graph(net, xy, n_tgt, mask, np.sort(rng.uniform(1, 300, 3)))


@pytest.mark.shared_data
@pytest.mark.slow
def test_equal_to_the_door_graph_on_samso(shared_data):
    from placement.osm import amenities_from_file, walk_graph_from_file

    osm = shared_data / "osm" / "samsoe_2020-03-09.osm.bz2"
    G = walk_graph_from_file(osm)
    net = WalkNetwork.from_graph(G, walk_speed_kmh=4.5)
    am = amenities_from_file(osm).to_crs("EPSG:25832")
    am_xy = np.c_[am.geometry.centroid.x, am.geometry.centroid.y]
    rng = np.random.default_rng(1)
    dw_xy = net.xy[rng.integers(0, net.n_nodes, 3000)] + rng.uniform(-150, 150, (3000, 2))
    xy = np.vstack([dw_xy, am_xy])
    mask = net.component_edge_mask()
    net2, node, _ = net.with_doors(xy, edge_mask=mask)
    pts = place_points(net, xy, max_snap_m=500.0, edge_mask=mask)
    assert np.array_equal(pts.on, node >= 0)
    on_t = np.flatnonzero(pts.on[:3000])
    walks = EdgeWalks(net, pts, on_t)
    cat = am["category"].astype(str).to_numpy()
    limits = np.array([600.0, 900.0, 1800.0])
    for c in np.unique(cat):
        src = 3000 + np.flatnonzero(cat == c)
        s_node = node[src][node[src] >= 0]
        want = net2.nearest_time_s(s_node)[node[on_t]]
        got = walks.nearest_s(src)
        assert np.array_equal(np.isinf(got), np.isinf(want))
        fin = np.isfinite(want)
        assert got[fin] == pytest.approx(want[fin], rel=1e-9, abs=1e-6), c
        assert np.array_equal(walks.count_within(src, limits),
                              net2.count_within(s_node, node[on_t], limits)), c


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 500), parts=st.integers(1, 9), minimum=st.integers(1, 64))
def test_chunks_cover_every_index_once_in_order(n, parts, minimum):
    from placement._threads import chunks

    got = chunks(n, parts, minimum)
    assert np.array_equal(np.concatenate([np.arange(n)[p] for p in got]), np.arange(n))
    assert 1 <= len(got) <= parts
    assert len(got) == 1 or min(p.stop - p.start for p in got) >= minimum


def test_threads_give_the_same_snap_and_counts(monkeypatch):
    """Sources and points split over threads: the same edges, offsets, times and counts."""
    G = random_graph(7, n_side=12)
    net = WalkNetwork.from_graph(G, walk_speed_kmh=SPEED_KMH)
    rng = np.random.default_rng(3)
    xy = net.xy[rng.integers(0, net.n_nodes, 9_000)] + rng.uniform(-60, 60, (9_000, 2))
    results = []
    for threads in ("1", "3"):
        monkeypatch.setenv("PLACEMENT_THREADS", threads)
        snap = net.snap_to_edges(xy, method="grid")
        pts = place_points(net, xy, max_snap_m=500.0, snap=snap)
        walks = EdgeWalks(net, pts, np.flatnonzero(pts.on[:8_000]))
        src = 8_000 + np.arange(1_000)  # 1,000 sources: three threads of counts
        results.append((snap, walks.nearest_s(src),
                        walks.count_within(src, np.array([120.0, 300.0, 900.0]))))
        pairs = net.sparse_times_s(np.arange(net.n_nodes), np.arange(net.n_nodes),
                                   limit_s=200.0, method="bounded")  # 144 sources: 2 threads
        results[-1] = (*results[-1], pairs)
    (s1, t1, c1, p1), (s3, t3, c3, p3) = results
    assert (p1 != p3).nnz == 0
    assert p1.nnz == p3.nnz
    assert p1.nnz > net.n_nodes
    assert np.array_equal(s1.edge, s3.edge)
    assert np.array_equal(s1.offset_m, s3.offset_m)
    assert np.array_equal(t1, t3)
    assert np.array_equal(c1, c3)
    assert c1.sum() > 0


def test_threads_setting_must_be_a_number(monkeypatch):
    from placement._threads import n_threads

    for bad in ("many", "0", "-2", "1.5"):
        monkeypatch.setenv("PLACEMENT_THREADS", bad)
        with pytest.raises(ValueError, match="PLACEMENT_THREADS"):
            n_threads()
    monkeypatch.setenv("PLACEMENT_THREADS", "2")
    assert n_threads() == 2
    monkeypatch.delenv("PLACEMENT_THREADS")
    assert 1 <= n_threads() <= (os.cpu_count() or 1)


def test_cpu_quota_of_a_container(tmp_path):
    from placement._threads import cgroup_cpus

    v2, q1, p1 = tmp_path / "cpu.max", tmp_path / "quota", tmp_path / "period"
    files = (v2, q1, p1)
    assert cgroup_cpus(files) is None  # no cgroup files: no quota
    v2.write_text("150000 100000\n")
    assert cgroup_cpus(files) == 2  # 1.5 CPUs: two threads
    v2.write_text("max 100000\n")
    assert cgroup_cpus(files) is None
    v2.write_text("50000 100000\n")
    assert cgroup_cpus(files) == 1
    v2.unlink()
    q1.write_text("-1\n")
    p1.write_text("100000\n")
    assert cgroup_cpus(files) is None  # v1 without a quota
    q1.write_text("400000\n")
    assert cgroup_cpus(files) == 4
