"""Door-to-door walking times between points on the edges of a walk network (no node per point).

:meth:`WalkNetwork.with_doors` makes every dwelling a node: the graph grows from the street
nodes to one or two nodes per point (Samsø: 2,869 street nodes become 39,180 with 20,000
dwellings), and every search runs over all of them. Here the points stay *on* their edges: a
point is its edge, its position along the edge and its door path. A search runs over the
street nodes only, and a point's time follows from its edge's two ends (the walk along the
edge and the door path added), or from a source on the same edge directly. A door path is a
dead end and a point splits its edge into pieces that add up to the edge, so the times equal
those of the door graph (tested), up to the rounding of the sums and to the door graph's
merging of points less than 1 mm apart on one edge into one node (here each keeps its own
position, the more exact time).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from placement._threads import call, chunks, n_threads, run_parts
from placement.network import _SAME_POINT_M, EdgeSnap, WalkNetwork

#: Fewer sources than this per thread are not worth a thread of their own.
_MIN_SOURCES_PER_THREAD = 32


@dataclass(frozen=True, slots=True)
class EdgePoints:
    """Points placed on a walk network's edges.

    Attributes
    ----------
    edge : numpy.ndarray of int
        Edge of each point (``WalkNetwork.edge_u`` order), -1 when off the network.
    pos_m : numpy.ndarray of float
        Position along the edge from its ``u`` end, metres of the edge's length (NaN off the
        network).
    door_m : numpy.ndarray of float
        Length of the straight door path from the point to the edge, metres (0 within 1 mm).
    snap_dist_m : numpy.ndarray of float
        Distance to the nearest allowed edge, metres (recorded also for off-network points).
    """

    edge: np.ndarray
    pos_m: np.ndarray
    door_m: np.ndarray
    snap_dist_m: np.ndarray

    @property
    def on(self) -> np.ndarray:
        """Mask of the points on the network."""
        return self.edge >= 0


def place_points(net: WalkNetwork, xy: np.ndarray, *, max_snap_m: float,
                 edge_mask: np.ndarray | None = None,
                 snap: EdgeSnap | None = None) -> EdgePoints:
    """Snap points to the nearest allowed edge and place them on it.

    Parameters
    ----------
    net : WalkNetwork
        The street network.
    xy : numpy.ndarray, shape (n, 2)
        Points in the network's CRS (metres).
    max_snap_m : float
        Points farther than this from every allowed edge are off the network.
    edge_mask : numpy.ndarray of bool, optional
        The edges points may snap to (:meth:`WalkNetwork.component_edge_mask`).
    snap : EdgeSnap, optional
        The result of ``net.snap_to_edges(xy, edge_mask=edge_mask)`` when already computed.

    Returns
    -------
    EdgePoints
        Positions from :meth:`WalkNetwork.snap_positions` (the rule
        :meth:`WalkNetwork.with_points` splits edges by), within 1 mm of an end at that end.
    """
    pts = np.asarray(xy, dtype=float).reshape(-1, 2)
    if snap is None:
        snap = net.snap_to_edges(pts, edge_mask=edge_mask)
    idx, p, _ = net.snap_positions(snap, max_snap_m=max_snap_m)
    edge = np.full(len(pts), -1, np.int64)
    edge[idx] = snap.edge[idx]
    pos = np.full(len(pts), np.nan)
    door = np.full(len(pts), np.nan)
    length = net.edge_length_m[edge[idx]]
    # within 1 mm of an end is at that end, as in the door graph
    pos[idx] = np.where(p <= _SAME_POINT_M, 0.0, np.where(length - p <= _SAME_POINT_M, length, p))
    d = snap.dist_m[idx]
    door[idx] = np.where(d > _SAME_POINT_M, d, 0.0)
    return EdgePoints(edge, pos, door, snap.dist_m)


class EdgeWalks:
    """Walking times between points of one :class:`EdgePoints` set (compiled searches).

    Parameters
    ----------
    net : WalkNetwork
        The street network the points were placed on.
    points : EdgePoints
        All points; sources and targets are given as indices into them.
    targets : numpy.ndarray of int
        The points every query answers for (e.g. the dwellings on the network).
    """

    def __init__(self, net: WalkNetwork, points: EdgePoints, targets: np.ndarray) -> None:
        speed = net.speed_m_s
        m = net.matrix
        self._csr = (m.indptr.astype(np.int64), m.indices.astype(np.int64),
                     m.data.astype(np.float64))
        self._eu = net.edge_u.astype(np.int64)
        self._ev = net.edge_v.astype(np.int64)
        # as the matrix stores it: a 0-length edge takes a tiny positive time
        self._elen = np.maximum(net.edge_length_m.astype(np.float64) / speed, 1e-9)
        self._edge = points.edge.astype(np.int64)
        # NaN for points off the network: they are never read (sources are filtered, every
        # target must be on the network)
        self._pos = points.pos_m / speed
        self._door = points.door_m / speed
        tgt = np.asarray(targets, np.int64)
        if (self._edge[tgt] < 0).any():
            msg = "every target must be on the network"
            raise ValueError(msg)
        self._tgt = tgt
        t_edge = self._edge[tgt]
        n_e = len(self._eu)
        # the targets sorted by edge, so that the searches read them in runs
        self._t_ord = np.argsort(t_edge, kind="stable").astype(np.int64)
        self._t_back = np.empty_like(self._t_ord)  # the inverse permutation
        self._t_back[self._t_ord] = np.arange(len(tgt))
        self._t_ptr = np.r_[0, np.cumsum(np.bincount(t_edge, minlength=n_e))].astype(np.int64)
        self._t_edge = t_edge[self._t_ord]
        self._t_pos = self._pos[tgt[self._t_ord]]
        self._t_door = self._door[tgt[self._t_ord]]
        # the edges at each node that carry targets (the counts visit nothing else)
        ends = np.concatenate([self._eu, self._ev])
        which = np.concatenate([np.arange(n_e), np.arange(n_e)])
        loop = np.r_[np.zeros(n_e, bool), self._eu == self._ev]
        keep = ~loop & (np.diff(self._t_ptr) > 0)[which]
        ends, which = ends[keep], which[keep]
        order = np.argsort(ends, kind="stable")
        self._node_edge = which[order].astype(np.int64)
        self._node_ptr = np.r_[0, np.cumsum(np.bincount(ends, minlength=net.n_nodes))
                               ].astype(np.int64)

    def _sources(self, sources: np.ndarray) -> np.ndarray:
        src = np.asarray(sources, np.int64)
        return src[self._edge[src] >= 0]

    def nearest_s(self, sources: np.ndarray) -> np.ndarray:
        """Seconds from each target to the nearest source (inf when none is reachable).

        Parameters
        ----------
        sources : numpy.ndarray of int
            Point indices; points off the network are ignored.
        """
        from placement._kernels import edge_nearest

        src = self._sources(sources)
        if len(src) == 0:
            return np.full(len(self._tgt), np.inf)
        got = edge_nearest(*self._csr, self._eu, self._ev, self._elen, self._edge[src],
                           self._pos[src], self._door[src], self._t_edge, self._t_pos,
                           self._t_door, self._t_ptr)
        return got[self._t_back]

    def count_within(self, sources: np.ndarray, limits_s: np.ndarray) -> np.ndarray:
        """Count, for each target, the sources within each time limit (inclusive).

        Parameters
        ----------
        sources : numpy.ndarray of int
            Point indices; a point listed twice counts twice; off-network points are ignored.
        limits_s : numpy.ndarray of float
            Time limits, seconds.

        Returns
        -------
        numpy.ndarray of int, shape (len(limits_s), n_targets)
        """
        tasks, combine = self.count_tasks(sources, limits_s)
        return combine(run_parts(call, tasks))

    def count_tasks(self, sources: np.ndarray, limits_s: np.ndarray
                    ) -> tuple[list[Callable[[], np.ndarray]], Callable[[list], np.ndarray]]:
        """:meth:`count_within` as independent parts, for one pool of threads to run.

        Parameters
        ----------
        sources, limits_s
            As for :meth:`count_within`.

        Returns
        -------
        tasks : list of callables
            Each counts some of the sources (compiled, without the GIL); at most
            :func:`placement._threads.n_threads` of them.
        combine : callable
            Takes the tasks' results in order and returns what :meth:`count_within` returns.
        """
        from placement._kernels import edge_counts

        limits = np.asarray(limits_s, float).reshape(-1)
        src = self._sources(sources)
        n_t = len(self._tgt)
        if len(src) == 0 or len(limits) == 0:
            return [], lambda _: np.zeros((len(limits), n_t), np.int64)
        # one search per distinct place (two amenities at one place count twice)
        key = np.c_[self._edge[src], self._pos[src], self._door[src]]
        _, first, mult = np.unique(key, axis=0, return_index=True, return_counts=True)
        src = src[first]
        order = np.argsort(limits, kind="stable")
        mult = mult.astype(np.int64)

        def part(p: slice) -> Callable[[], np.ndarray]:
            def run() -> np.ndarray:  # the counts of some sources
                s = src[p]
                return edge_counts(*self._csr, self._eu, self._ev, self._elen, self._node_ptr,
                                   self._node_edge, self._edge[s], self._pos[s],
                                   self._door[s], mult[p], self._t_pos, self._t_door,
                                   self._t_ptr, limits[order])
            return run

        def combine(got: list) -> np.ndarray:
            # whole numbers: the sum is the same in any order and any split
            total = got[0].copy()
            for more in got[1:]:
                total += more
            # back to the order of the limits and of the targets (gathers, not a scatter)
            return total.take(np.argsort(order), axis=0).take(self._t_back, axis=1)

        return [part(p) for p in chunks(len(src), n_threads(), _MIN_SOURCES_PER_THREAD)], combine
