"""Walk network as a sparse matrix: snapping points onto edges and multi-source shortest paths.

A :class:`WalkNetwork` holds the node coordinates (EPSG:25832, metres), the undirected edges
with their length and geometry, and a ``scipy.sparse`` matrix of edge travel times in seconds
at a walking speed. Points (dwellings, amenities, stops) are snapped to the nearest point on
the nearest *edge*; :meth:`WalkNetwork.with_points` splits the edges at those points so that
every point becomes a node and the walk along the edge to its end nodes is counted exactly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from placement._threads import chunks, n_threads, run_parts

if TYPE_CHECKING:
    import networkx as nx

logger = logging.getLogger(__name__)

#: Default walking speed, km/h.
DEFAULT_WALK_SPEED_KMH = 4.5
#: Default largest distance from a point to the nearest walkable edge before it is flagged, m.
DEFAULT_MAX_SNAP_M = 500.0
#: Connected pieces of the walk network with less walkable length than this are *small
#: pieces* (a path mapped without its connection): points are not snapped onto them, metres.
DEFAULT_MIN_COMPONENT_M = 2000.0
#: Positions closer than this to an edge end (or to each other) share one node, metres.
_SAME_POINT_M = 1e-3
#: Largest dense block (sources × nodes float64) one batched Dijkstra may return, bytes.
BATCH_BYTES = 64 * 2**20
#: Up to this many (source, node) entries, the many-source searches use scipy's dense bounded
#: Dijkstra (cheap at this size, no compiled code to load); beyond it, the compiled searches
#: whose cost grows with the ball sizes only. Both give the same times, bit for bit.
DENSE_MAX_ENTRIES = 20_000_000
_METHODS = ("auto", "dense", "bounded")


def _use_bounded(method: str, n_sources: int, n_nodes: int) -> bool:
    if method not in _METHODS:
        msg = f"method must be one of {', '.join(_METHODS)}, got {method!r}"
        raise ValueError(msg)
    if method == "auto":
        return n_sources * n_nodes > DENSE_MAX_ENTRIES
    return method == "bounded"


#: From this many points on, :meth:`WalkNetwork.snap_to_edges` uses the compiled grid search
#: (loading the compiled code costs about 0.7 s once per process; shapely's STRtree takes
#: 10-20 microseconds per point); from 1,000 on once the compiled code is loaded anyway.
GRID_SNAP_MIN_POINTS = 20_000
_SNAP_METHODS = ("auto", "grid", "strtree")
#: The grid search settles the points within about this distance of an edge; farther points
#: (rare: off the map) go to shapely's STRtree.
_GRID_SEARCH_M = 2_000.0


def _use_grid(method: str, n_points: int) -> bool:
    if method not in _SNAP_METHODS:
        msg = f"method must be one of {', '.join(_SNAP_METHODS)}, got {method!r}"
        raise ValueError(msg)
    if method == "auto":
        import sys

        loaded = "placement._kernels" in sys.modules
        return n_points >= GRID_SNAP_MIN_POINTS or (loaded and n_points >= 1_000)
    return method == "grid"


def _grid_nearest(segments: tuple[np.ndarray, ...],
                  pts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest edge for each point, by a grid of the edges' segments.

    ``segments`` is ``(ax, ay, bx, by, edge)``: each segment's ends and its edge, the segments
    of one edge consecutive and in order along it (:meth:`WalkNetwork._segments`). Returns
    the edge (-2 where the grid search leaves the point to another method, i.e. farther than
    about 2 km from every edge), the distance and the offset along the edge (as
    ``shapely.line_locate_point`` measures it).
    """
    from placement._kernels import grid_build, grid_nearest, segment_starts

    ax, ay, bx, by, seg_edge = segments
    n = len(pts)
    if len(ax) == 0:
        return np.full(n, -2, np.int64), np.full(n, np.inf), np.full(n, np.nan)
    lo = np.array([min(ax.min(), bx.min()), min(ay.min(), by.min())])
    hi = np.array([max(ax.max(), bx.max()), max(ay.max(), by.max())])
    width, height = max(hi[0] - lo[0], 1.0), max(hi[1] - lo[1], 1.0)
    # about four cells per segment: fewer segments to measure per point (Samsø: 25 % less
    # time than one cell per segment), for a grid index of a few bytes per segment more
    cell = max(0.5 * np.sqrt(width * height / len(ax)), 5.0)
    nx, ny = int(width // cell) + 1, int(height // cell) + 1
    ptr, seg = grid_build(ax, ay, bx, by, float(lo[0]), float(lo[1]), float(cell), nx, ny)
    start = segment_starts(ax, ay, bx, by, seg_edge)
    r_cap = int(np.ceil(_GRID_SEARCH_M / cell))
    px, py = np.ascontiguousarray(pts[:, 0]), np.ascontiguousarray(pts[:, 1])

    def part(p: slice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # compiled, no GIL
        return grid_nearest(px[p], py[p], ax, ay, bx, by, seg_edge, start, ptr, seg,
                            float(lo[0]), float(lo[1]), float(cell), nx, ny, r_cap)

    # each point on its own: split over the cores, the same result
    got = run_parts(part, chunks(n, n_threads(), 4_096))  # at least one part, maybe empty
    edge, dist, offset = (np.concatenate([g[k] for g in got]) for k in range(3))
    return edge, dist, offset


@dataclass(frozen=True, slots=True)
class EdgeSnap:
    """Where points lie on the network.

    Attributes
    ----------
    edge : numpy.ndarray of int
        Index of the nearest edge (into ``WalkNetwork.edge_u``), -1 for an empty network or a
        point without coordinates (its offset NaN, its distance inf).
    offset_m : numpy.ndarray of float
        Distance along the edge geometry from its ``u`` end to the snapped point, metres.
    dist_m : numpy.ndarray of float
        Straight-line distance from the point to the snapped point (the snap distance), metres.
    """

    edge: np.ndarray
    offset_m: np.ndarray
    dist_m: np.ndarray


def _first_of_each_edge(u: np.ndarray, v: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Positions of the first edge of each ``(min(u, v), max(u, v), round(length, 2))``, in order.

    The directed edges of a graph that stand for one undirected edge (a two-way street in
    both directions, or parallel ways of the same length to the centimetre) are one edge;
    Python's ``round`` decides, as a set of such keys would.
    """
    m = len(u)
    if m == 0:
        return np.zeros(0, np.int64)
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    order = np.lexsort((np.arange(m), length, hi, lo))  # by end pair, length, position
    lo_o, hi_o, key = lo[order], hi[order], length[order]
    new_pair = np.r_[True, (lo_o[1:] != lo_o[:-1]) | (hi_o[1:] != hi_o[:-1])]
    pair = np.cumsum(new_pair) - 1
    # only where one pair of ends has edges of different lengths can the rounding join two
    new_length = new_pair | np.r_[True, key[1:] != key[:-1]]
    mixed = (np.bincount(pair, weights=new_length) > 1)[pair]
    if mixed.any():  # rounding keeps the order by length (it never decreases)
        key = key.copy()
        key[mixed] = [round(x, 2) for x in key[mixed].tolist()]
    start = np.flatnonzero(new_pair | np.r_[True, key[1:] != key[:-1]])
    return np.sort(np.minimum.reduceat(order, start))


class WalkNetwork:
    """An undirected walk network with travel times in seconds.

    Parameters
    ----------
    xy : numpy.ndarray, shape (n_nodes, 2)
        Node coordinates in a projected CRS (metres), EPSG:25832 in placement.
    edge_u, edge_v : numpy.ndarray of int
        End nodes (row indices into ``xy``) of each undirected edge.
    edge_length_m : numpy.ndarray of float
        Walking length of each edge, metres.
    edge_geometry : numpy.ndarray of shapely.LineString or None
        Geometry of each edge, running from ``u`` to ``v``; None stands for the straight line
        from ``u`` to ``v`` (built only when the geometry is first used).
    walk_speed_kmh : float
        Walking speed; edge travel time = length / speed.
    node_ids : numpy.ndarray, optional
        Original node ids (osmnx node ids); inserted point nodes get -1.

    Notes
    -----
    Parallel edges are kept for snapping; the travel-time matrix uses the shortest of them.
    Self-loops never shorten a path and are left out of the matrix (points on them still snap).
    """

    def __init__(
        self,
        xy: np.ndarray,
        edge_u: np.ndarray,
        edge_v: np.ndarray,
        edge_length_m: np.ndarray,
        edge_geometry: np.ndarray,
        *,
        walk_speed_kmh: float = DEFAULT_WALK_SPEED_KMH,
        node_ids: np.ndarray | None = None,
    ) -> None:
        if not walk_speed_kmh > 0:
            msg = f"walk_speed_kmh must be positive, got {walk_speed_kmh}"
            raise ValueError(msg)
        self.xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        self.edge_u = np.asarray(edge_u, dtype=np.int64)
        self.edge_v = np.asarray(edge_v, dtype=np.int64)
        self.edge_length_m = np.asarray(edge_length_m, dtype=float)
        if not (np.isfinite(self.edge_length_m) & (self.edge_length_m >= 0)).all():
            # the compiled searches rely on it (each node is settled once)
            msg = "edge lengths must be finite and not negative"
            raise ValueError(msg)
        self._geometry = np.asarray(edge_geometry, dtype=object)
        self.walk_speed_kmh = float(walk_speed_kmh)
        n = len(self.xy)
        self.node_ids = np.full(n, -1, dtype=np.int64) if node_ids is None else np.asarray(node_ids)
        self._matrix: sparse.csr_matrix | None = None
        self._tree: shapely.STRtree | None = None
        self._geometry_filled = False
        self._geometry_length: np.ndarray | None = None
        self._labels: np.ndarray | None = None
        self._segment_table: tuple[np.ndarray, ...] | None = None

    # --- construction ----------------------------------------------------------------------
    @classmethod
    def from_graph(
        cls, G: nx.MultiDiGraph, *, walk_speed_kmh: float = DEFAULT_WALK_SPEED_KMH
    ) -> WalkNetwork:
        """Build from a projected osmnx graph.

        Parameters
        ----------
        G : networkx.MultiDiGraph or networkx.MultiGraph
            Projected graph (node attributes ``x``, ``y`` in metres; edge attribute ``length``
            in metres; optional ``geometry``), as returned by ``placement.osm``.
        walk_speed_kmh : float, default 4.5
            Walking speed.

        Returns
        -------
        WalkNetwork
            Directions are ignored (pedestrians walk both ways).

        Examples
        --------
        >>> import networkx as nx
        >>> G = nx.MultiDiGraph(crs="EPSG:25832")
        >>> G.add_node(1, x=0.0, y=0.0); G.add_node(2, x=90.0, y=0.0)
        >>> _ = G.add_edge(1, 2, length=90.0)
        >>> net = WalkNetwork.from_graph(G, walk_speed_kmh=3.6)
        >>> float(net.matrix[0, 1])
        90.0
        """
        crs = G.graph.get("crs")
        if crs is not None:
            from pyproj import CRS

            if not CRS.from_user_input(crs).is_projected:
                msg = f"the walk graph must be projected (ox.project_graph); got {crs}"
                raise ValueError(msg)
        node_ids = np.fromiter(G.nodes, dtype=np.int64, count=G.number_of_nodes())
        index = {nid: i for i, nid in enumerate(node_ids.tolist())}
        xy = np.array([(d["x"], d["y"]) for _, d in G.nodes(data=True)], float).reshape(-1, 2)
        us, vs, ds = [], [], []
        if G.is_directed():  # the adjacency dicts as they are: the order of G.edges
            for u, nbrs in G.adjacency():
                iu = index[u]
                for v, keyed in nbrs.items():
                    iv = index[v]
                    for d in keyed.values():
                        us.append(iu)
                        vs.append(iv)
                        ds.append(d)
        else:  # each undirected edge once, in the direction networkx reports it
            for u, v, d in G.edges(data=True):
                us.append(index[u])
                vs.append(index[v])
                ds.append(d)
        u_all, v_all = np.array(us, np.int64), np.array(vs, np.int64)
        length_all = np.array([float(d["length"]) for d in ds], float)
        # both directions of a two-way street are one undirected edge
        keep = _first_of_each_edge(u_all, v_all, length_all)
        edge_u, edge_v, lengths = u_all[keep], v_all[keep], length_all[keep]
        geoms = [ds[k].get("geometry") for k in keep.tolist()]  # None: straight, made if needed
        geometry = np.empty(len(geoms), dtype=object)
        geometry[:] = geoms
        net = cls(
            xy,
            edge_u,
            edge_v,
            lengths,
            geometry,
            walk_speed_kmh=walk_speed_kmh,
            node_ids=node_ids,
        )
        logger.info("walk network: %s nodes, %s edges", f"{net.n_nodes:,}", f"{len(edge_u):,}")
        return net

    # --- properties ------------------------------------------------------------------------
    @property
    def edge_geometry(self) -> np.ndarray:
        """Geometry of each edge (``shapely.LineString`` from ``u`` to ``v``)."""
        if not self._geometry_filled:  # straight lines for edges without one, made once
            missing = np.flatnonzero(np.equal(self._geometry, None))
            if len(missing):
                geom = self._geometry.copy()
                geom[missing] = shapely.linestrings(np.stack(
                    [self.xy[self.edge_u[missing]], self.xy[self.edge_v[missing]]], axis=1))
                self._geometry = geom
            self._geometry_filled = True
        return self._geometry

    @property
    def edge_geometry_length_m(self) -> np.ndarray:
        """Length of each edge's drawn geometry, metres (may differ from ``edge_length_m``)."""
        if self._geometry_length is None:
            ax, ay, bx, by, edge = self._segments()
            dx, dy = bx - ax, by - ay
            # summed segment by segment in order along each edge, as GEOS measures a line
            self._geometry_length = np.bincount(edge, weights=np.sqrt(dx * dx + dy * dy),
                                                minlength=len(self.edge_u))
        return self._geometry_length

    def _segments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every edge's straight segments: ``(ax, ay, bx, by, edge)`` (worked out once).

        The segments of one edge are consecutive and in order from its ``u`` end; an edge
        without a drawn geometry is the one segment between its ends (no line object made).
        """
        if self._segment_table is None:
            drawn = np.flatnonzero(~np.equal(self._geometry, None))
            coords, which = shapely.get_coordinates(self._geometry[drawn], return_index=True)
            same = which[1:] == which[:-1]
            straight = np.flatnonzero(np.equal(self._geometry, None))
            a = np.concatenate([coords[:-1][same], self.xy[self.edge_u[straight]]])
            b = np.concatenate([coords[1:][same], self.xy[self.edge_v[straight]]])
            edge = np.concatenate([drawn[which[:-1][same]], straight]).astype(np.int64)
            self._segment_table = (a[:, 0].copy(), a[:, 1].copy(), b[:, 0].copy(),
                                   b[:, 1].copy(), edge)
        return self._segment_table

    def _geometries(self, edges: np.ndarray) -> np.ndarray:
        """Geometries of some edges, straight lines made for those without one (not kept)."""
        if self._geometry_filled:
            return self._geometry[edges]
        geom = self._geometry[edges]
        missing = np.flatnonzero(np.equal(geom, None))
        if len(missing):
            e = np.asarray(edges)[missing]
            geom[missing] = shapely.linestrings(
                np.stack([self.xy[self.edge_u[e]], self.xy[self.edge_v[e]]], axis=1))
        return geom

    def _component_labels(self) -> np.ndarray:
        """Return the connected piece of each node (computed once)."""
        if self._labels is None:
            _, self._labels = csgraph.connected_components(self.matrix, directed=False)
        return self._labels

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.xy)

    @property
    def speed_m_s(self) -> float:
        """Walking speed in metres per second."""
        return self.walk_speed_kmh / 3.6

    @property
    def matrix(self) -> sparse.csr_matrix:
        """Symmetric CSR matrix of edge travel times, seconds (min over parallel edges)."""
        if self._matrix is None:
            keep = self.edge_u != self.edge_v
            u, v = self.edge_u[keep], self.edge_v[keep]
            # 0-length edges are stored as a tiny positive time: explicit zeros are no edge
            w = np.maximum(self.edge_length_m[keep] / self.speed_m_s, 1e-9)
            n = self.n_nodes
            key = np.concatenate([u * n + v, v * n + u])  # row-major position of each entry
            data = np.concatenate([w, w])
            order = np.argsort(key)
            key = key[order]
            start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else key
            # duplicates (parallel edges) must be reduced with min, not summed
            data = np.minimum.reduceat(data[order], start) if len(key) else data
            key = key[start]
            indptr = np.zeros(n + 1, np.int64)
            np.cumsum(np.bincount(key // n, minlength=n), out=indptr[1:])
            self._matrix = sparse.csr_matrix((data, key % n, indptr), shape=(n, n))
        return self._matrix

    # --- snapping --------------------------------------------------------------------------
    def component_edge_mask(self, min_length_m: float = DEFAULT_MIN_COMPONENT_M) -> np.ndarray:
        """Edges that lie in a connected piece of meaningful size.

        Parameters
        ----------
        min_length_m : float, default 2000
            A piece counts when its edges add up to at least this length; the largest piece
            always counts.

        Returns
        -------
        numpy.ndarray of bool
            One flag per edge (``edge_u`` order).
        """
        if len(self.edge_u) == 0:
            return np.zeros(0, dtype=bool)
        label = self._component_labels()
        length = np.bincount(label[self.edge_u], weights=self.edge_length_m,
                             minlength=int(label.max()) + 1)
        big = length >= min_length_m
        big[int(np.argmax(length))] = True
        return big[label[self.edge_u]]

    def n_small_pieces(self, min_length_m: float = DEFAULT_MIN_COMPONENT_M) -> int:
        """Count the connected pieces with edges shorter in total than ``min_length_m``."""
        if len(self.edge_u) == 0:
            return 0
        label = self._component_labels()
        used = np.unique(label[self.edge_u])
        length = np.bincount(label[self.edge_u], weights=self.edge_length_m,
                             minlength=int(label.max()) + 1)[used]
        return int(max(0, (length < min_length_m).sum() - (length.max() < min_length_m)))

    def snap_to_edges(self, xy: np.ndarray, *, edge_mask: np.ndarray | None = None,
                      method: str = "auto") -> EdgeSnap:
        """Find the nearest point on the nearest edge for each point.

        Parameters
        ----------
        xy : numpy.ndarray, shape (n, 2)
            Points in the network's CRS (metres).
        edge_mask : numpy.ndarray of bool, optional
            Only these edges are snap targets (e.g. :meth:`component_edge_mask`).
        method : {"auto", "grid", "strtree"}
            ``"grid"``: the edges' segments in a uniform grid searched ring by ring around
            each point (compiled, :func:`placement._kernels.grid_nearest`); ``"strtree"``:
            shapely's ``STRtree.query_nearest``. Both give the same edges and distances
            (tested); ``"auto"`` takes the grid from :data:`GRID_SNAP_MIN_POINTS` points on
            (from 1,000 once the compiled code is loaded), where it is the faster one.

        Returns
        -------
        EdgeSnap
            Nearest edge, offset along it and the snap distance in metres. Ties go to the
            lowest edge index (deterministic).
        """
        pts = np.asarray(xy, dtype=float).reshape(-1, 2)
        n = len(pts)
        allowed = (np.arange(len(self.edge_u)) if edge_mask is None
                   else np.flatnonzero(np.asarray(edge_mask, dtype=bool)))
        if n == 0 or len(allowed) == 0:
            return EdgeSnap(np.full(n, -1, np.int64), np.full(n, np.nan), np.full(n, np.inf))
        edge_of = np.full(n, -2, np.int64)
        dist_of = np.full(n, np.inf)
        offset = np.full(n, np.nan)
        if _use_grid(method, n):
            segments = self._segments()
            if edge_mask is not None:
                keep = np.asarray(edge_mask, dtype=bool)[segments[4]]
                segments = tuple(part[keep] for part in segments)
            edge_of, dist_of, offset = _grid_nearest(segments, pts)
        rest = np.flatnonzero(edge_of == -2)
        if len(rest):
            points = shapely.points(pts[rest])
            if edge_mask is None:
                if self._tree is None:
                    self._tree = shapely.STRtree(self.edge_geometry)
                tree = self._tree
            else:
                tree = shapely.STRtree(self._geometries(allowed))
            pairs, dists = tree.query_nearest(points, return_distance=True,
                                              all_matches=True)
            pairs = np.vstack([pairs[0], allowed[pairs[1]]])
            # keep the lowest edge index among equidistant edges
            order = np.lexsort((pairs[1], pairs[0]))
            src, edge, dist = pairs[0][order], pairs[1][order], dists[order]
            first = np.ones(len(src), bool)
            first[1:] = src[1:] != src[:-1]
            edge_of[rest[src[first]]] = edge[first]
            dist_of[rest[src[first]]] = dist[first]
            found = edge_of[rest] >= 0
            offset[rest[found]] = shapely.line_locate_point(
                self._geometries(edge_of[rest[found]]), points[found])
        edge_of[edge_of < 0] = -1  # no edge found (a point without coordinates)
        offset[edge_of < 0] = np.nan
        return EdgeSnap(edge_of, offset, dist_of)

    def snap_positions(self, snap: EdgeSnap, *, max_snap_m: float = DEFAULT_MAX_SNAP_M,
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions along their edges, in metres of edge length, of the points on the network.

        Parameters
        ----------
        snap : EdgeSnap
            The result of :meth:`snap_to_edges`.
        max_snap_m : float, default 500
            Points farther than this from their edge are off the network.

        Returns
        -------
        on : numpy.ndarray of int
            Indices of the points on the network (an edge found within ``max_snap_m``).
        pos_m : numpy.ndarray of float
            Their position from the edge's ``u`` end: the offset along the geometry scaled to
            the edge's length (an edge's length may differ from its drawn geometry), clipped
            to ``[0, length]``.
        scale : numpy.ndarray of float
            Edge length over geometry length for each of them (1 for a 0-length geometry).
        """
        on = np.flatnonzero((snap.edge >= 0) & (snap.dist_m <= max_snap_m))
        edge = snap.edge[on]
        length = self.edge_length_m[edge]
        geom_len = self.edge_geometry_length_m[edge]
        scale = np.divide(length, geom_len, out=np.ones(len(on)), where=geom_len > 0)
        return on, np.clip(snap.offset_m[on] * scale, 0.0, length), scale

    def with_points(
        self, xy: np.ndarray, *, max_snap_m: float = DEFAULT_MAX_SNAP_M,
        edge_mask: np.ndarray | None = None, snap: EdgeSnap | None = None,
    ) -> tuple[WalkNetwork, np.ndarray, np.ndarray]:
        """Insert points into the network by splitting the edges they snap to.

        Parameters
        ----------
        xy : numpy.ndarray, shape (n, 2)
            Points in the network's CRS (metres).
        max_snap_m : float, default 500
            Points farther than this from every edge are not inserted (flagged off-network).
        edge_mask : numpy.ndarray of bool, optional
            Only these edges are snap targets.
        snap : EdgeSnap, optional
            ``self.snap_to_edges(xy, edge_mask=edge_mask)`` when already computed.

        Returns
        -------
        network : WalkNetwork
            A new network whose first ``self.n_nodes`` nodes are this network's nodes.
        node : numpy.ndarray of int
            Node of each point in the new network; -1 for off-network points.
        snap_dist_m : numpy.ndarray of float
            Distance from each point to the network, metres (recorded also when flagged).

        Notes
        -----
        An edge of length ``L`` with points at offsets ``0 < p1 <= ... <= pk < L`` (measured
        along its geometry and scaled to ``L``) becomes the chain ``u - p1 - ... - pk - v``, so
        the walk from a point to either end of its edge is exact. Points at the same offset
        share one node; a point at an end shares the end node.
        """
        pts = np.asarray(xy, dtype=float).reshape(-1, 2)
        if snap is None:
            snap = self.snap_to_edges(pts, edge_mask=edge_mask)
        node = np.full(len(pts), -1, np.int64)
        on, pos_m, scale = self.snap_positions(snap, max_snap_m=max_snap_m)
        if len(on) == 0:
            return self._copy(), node, snap.dist_m
        edge = snap.edge[on]
        length = self.edge_length_m[edge]
        at_u = pos_m <= _SAME_POINT_M
        at_v = (length - pos_m) <= _SAME_POINT_M
        node[on[at_u]] = self.edge_u[edge[at_u]]
        node[on[at_v & ~at_u]] = self.edge_v[edge[at_v & ~at_u]]
        inner = ~(at_u | at_v)
        i_pts, i_edge, i_pos = on[inner], edge[inner], pos_m[inner]
        order = np.lexsort((i_pos, i_edge))
        i_pts, i_edge, i_pos = i_pts[order], i_edge[order], i_pos[order]
        # one new node per distinct (edge, position)
        new = np.ones(len(i_pts), bool)
        new[1:] = (i_edge[1:] != i_edge[:-1]) | (i_pos[1:] - i_pos[:-1] > _SAME_POINT_M)
        new_idx = self.n_nodes + np.cumsum(new) - 1
        node[i_pts] = new_idx
        n_new = int(new.sum())
        u_new, e_new, p_new = new_idx[new], i_edge[new], i_pos[new]
        geom_pos = p_new / np.where(scale[inner][order][new] > 0, scale[inner][order][new], 1.0)
        new_xy = shapely.get_coordinates(
            shapely.line_interpolate_point(self.edge_geometry[e_new], geom_pos)
        )
        # chains: for each split edge, u - p1 - ... - pk - v
        split = np.unique(e_new)
        keep = np.ones(len(self.edge_u), bool)
        keep[split] = False
        starts = np.ones(n_new, bool)
        starts[1:] = e_new[1:] != e_new[:-1]
        prev_node = np.where(starts, self.edge_u[e_new], np.roll(u_new, 1))
        prev_pos = np.where(starts, 0.0, np.roll(p_new, 1))
        ends = np.ones(n_new, bool)
        ends[:-1] = e_new[1:] != e_new[:-1]
        seg_u = np.concatenate([prev_node, u_new[ends]])
        seg_v = np.concatenate([u_new, self.edge_v[e_new[ends]]])
        seg_len = np.concatenate([p_new - prev_pos, self.edge_length_m[e_new[ends]] - p_new[ends]])
        seg_xy = np.vstack([self.xy, new_xy])
        seg_geom = np.full(len(seg_u), None, dtype=object)  # straight pieces
        net = WalkNetwork(
            seg_xy,
            np.concatenate([self.edge_u[keep], seg_u]),
            np.concatenate([self.edge_v[keep], seg_v]),
            np.concatenate([self.edge_length_m[keep], seg_len]),
            np.concatenate([self.edge_geometry[keep], seg_geom]),
            walk_speed_kmh=self.walk_speed_kmh,
            node_ids=np.concatenate([self.node_ids, np.full(n_new, -1, self.node_ids.dtype)]),
        )
        return net, node, snap.dist_m

    def with_doors(
        self, xy: np.ndarray, *, max_snap_m: float = DEFAULT_MAX_SNAP_M,
        edge_mask: np.ndarray | None = None, snap: EdgeSnap | None = None,
    ) -> tuple[WalkNetwork, np.ndarray, np.ndarray]:
        """Insert points with a straight *door path* from each point to the network.

        Like :meth:`with_points`, but every point farther than 1 mm from its edge gets its own
        node at its true position, joined to its snapped position by a straight edge as long as
        the snap distance. Walking times then run door to door: the walk from the dwelling to
        the street is counted, and no time is shorter than the straight line between two doors
        (when edge lengths are at least their straight lines). A door path is a dead end, so it
        never shortens a walk between other points.

        Parameters
        ----------
        xy : numpy.ndarray, shape (n, 2)
            Points in the network's CRS (metres).
        max_snap_m : float, default 500
            Points farther than this from every edge are not inserted (flagged off-network).
        edge_mask : numpy.ndarray of bool, optional
            Only these edges are snap targets (:meth:`component_edge_mask`: no point is
            snapped onto a small piece of path not joined to the network).
        snap : EdgeSnap, optional
            ``self.snap_to_edges(xy, edge_mask=edge_mask)`` when already computed.

        Returns
        -------
        network : WalkNetwork
            A new network whose first ``self.n_nodes`` nodes are this network's nodes.
        node : numpy.ndarray of int
            Door node of each point; -1 for off-network points.
        snap_dist_m : numpy.ndarray of float
            Length of each door path (distance to the network), metres.
        """
        pts = np.asarray(xy, dtype=float).reshape(-1, 2)
        net, node, dist = self.with_points(pts, max_snap_m=max_snap_m, edge_mask=edge_mask,
                                           snap=snap)
        door = np.flatnonzero((node >= 0) & (dist > _SAME_POINT_M))
        if len(door) == 0:
            return net, node, dist
        door_node = net.n_nodes + np.arange(len(door))
        xy_all = np.vstack([net.xy, pts[door]])
        geom = np.full(len(door), None, dtype=object)  # straight door paths
        out = WalkNetwork(
            xy_all,
            np.concatenate([net.edge_u, door_node]),
            np.concatenate([net.edge_v, node[door]]),
            np.concatenate([net.edge_length_m, dist[door]]),
            np.concatenate([net._geometry, geom]),
            walk_speed_kmh=self.walk_speed_kmh,
            node_ids=np.concatenate([net.node_ids, np.full(len(door), -1, net.node_ids.dtype)]),
        )
        node = node.copy()
        node[door] = door_node
        return out, node, dist

    def _copy(self) -> WalkNetwork:
        return WalkNetwork(
            self.xy,
            self.edge_u,
            self.edge_v,
            self.edge_length_m,
            self._geometry,
            walk_speed_kmh=self.walk_speed_kmh,
            node_ids=self.node_ids,
        )

    # --- shortest paths --------------------------------------------------------------------
    def nearest_time_s(self, sources: np.ndarray, *, limit_s: float = np.inf) -> np.ndarray:
        """Return the walking time from every node to the nearest source (one Dijkstra run).

        Parameters
        ----------
        sources : numpy.ndarray of int
            Source node indices (negative entries are ignored).
        limit_s : float, default inf
            Stop searching beyond this time; farther nodes get ``inf``.

        Returns
        -------
        numpy.ndarray, shape (n_nodes,)
            Seconds; ``inf`` where no source is reachable (within ``limit_s``).
        """
        src = np.unique(np.asarray(sources, np.int64))
        src = src[src >= 0]
        if len(src) == 0:
            return np.full(self.n_nodes, np.inf)
        return csgraph.dijkstra(
            self.matrix, directed=True, indices=src, min_only=True, limit=limit_s
        )

    def _blocks(self, sources: np.ndarray, limit_s: float, batch_bytes: int):
        """Yield ``(start, rows)``: Dijkstra rows (seconds) for consecutive batches of sources."""
        batch = max(1, batch_bytes // (8 * max(self.n_nodes, 1)))
        for start in range(0, len(sources), batch):
            rows = csgraph.dijkstra(
                self.matrix, directed=True, indices=sources[start : start + batch], limit=limit_s
            )
            yield start, np.atleast_2d(rows)

    def times_s(
        self,
        sources: np.ndarray,
        targets: np.ndarray,
        *,
        limit_s: float = np.inf,
        batch_bytes: int = BATCH_BYTES,
    ) -> np.ndarray:
        """Return walking times from each source node to each target node (batched).

        Parameters
        ----------
        sources, targets : numpy.ndarray of int
            Node indices (all must be >= 0).
        limit_s : float, default inf
            Times beyond this are ``inf`` (bounds each search, which makes it fast).
        batch_bytes : int
            Largest dense block one Dijkstra call may return (sources × nodes × 8 bytes).

        Returns
        -------
        numpy.ndarray, shape (len(sources), len(targets))
            Seconds, ``inf`` where farther than ``limit_s`` or unreachable.
        """
        src = np.asarray(sources, np.int64)
        tgt = np.asarray(targets, np.int64)
        out = np.full((len(src), len(tgt)), np.inf)
        if len(src) == 0 or len(tgt) == 0:
            return out
        for start, rows in self._blocks(src, limit_s, batch_bytes):
            out[start : start + len(rows)] = rows[:, tgt]
        return out

    def _csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        m = self.matrix
        return (m.indptr.astype(np.int64), m.indices.astype(np.int64),
                m.data.astype(np.float64))

    def sparse_times_s(
        self,
        sources: np.ndarray,
        targets: np.ndarray,
        *,
        limit_s: float,
        method: str = "auto",
    ) -> sparse.csr_matrix:
        """Return walking times within ``limit_s`` as a sparse (sources × targets) matrix, s.

        One bounded Dijkstra per distinct source node visits only the nodes within
        ``limit_s`` (compiled, :func:`placement._kernels.ball_pairs`), so the cost grows with
        the number of pairs within the limit, not with sources × nodes. Only pairs within the
        limit are stored; a time of 0 (source and target on the same node) is stored as an
        explicit zero. The times equal those of ``scipy.sparse.csgraph.dijkstra`` with
        ``limit=limit_s``, which small problems use (:data:`DENSE_MAX_ENTRIES`).

        Parameters
        ----------
        sources, targets : numpy.ndarray of int
            Node indices (all must be >= 0); a node may be listed more than once.
        limit_s : float
            Longest time kept, seconds (inclusive).
        method : {"auto", "dense", "bounded"}
            "dense": scipy's batched Dijkstra (rows over all nodes); "bounded": the compiled
            search; "auto": dense up to :data:`DENSE_MAX_ENTRIES` source-node entries.

        Returns
        -------
        scipy.sparse.csr_matrix, shape (len(sources), len(targets))
        """
        src = np.asarray(sources, np.int64)
        tgt = np.asarray(targets, np.int64)
        shape = (len(src), len(tgt))
        if len(src) == 0 or len(tgt) == 0:
            return sparse.csr_matrix(shape)
        if not _use_bounded(method, len(src), self.n_nodes):
            return self._dense_sparse_times(src, tgt, limit_s)
        from placement._kernels import ball_pairs

        # targets by node (several targets may share a node): where each node's start in
        # ``order`` and how many, for a lookup per pair
        order = np.argsort(tgt, kind="stable")
        is_target = np.zeros(self.n_nodes, bool)
        is_target[tgt] = True
        per_node = np.bincount(tgt, minlength=self.n_nodes)
        start = np.r_[0, np.cumsum(per_node)[:-1]]
        one_each = per_node.max() <= 1  # one target per node (the usual case): no repeats
        # search once per distinct source node
        uniq, inverse = np.unique(src, return_inverse=True)
        csr = self._csr()

        def part(p: slice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # compiled, no GIL
            # the rows of the sources ``uniq[p]``: pairs per row, their columns and times
            per_src, node, d = ball_pairs(*csr, uniq[p], float(limit_s), is_target)
            lo = start[node]
            if one_each:
                return per_src, order[lo], d
            reps = per_node[node]
            within = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
            ends = np.r_[0, np.cumsum(reps)][np.cumsum(per_src)]  # repeats summed per row
            per_row = np.diff(np.r_[0, ends])
            return per_row, order[np.repeat(lo, reps) + within], np.repeat(d, reps)

        # the sources split over the cores; one row per distinct source node, in order
        parts = run_parts(part, chunks(len(uniq), n_threads(), 64))
        indptr = np.r_[0, np.cumsum(np.concatenate([q[0] for q in parts]))]
        by_node = sparse.csr_matrix((np.concatenate([q[2] for q in parts]),
                                     np.concatenate([q[1] for q in parts]), indptr),
                                    shape=(len(uniq), len(tgt)))
        by_node.sort_indices()  # once per distinct node, before rows are repeated
        if len(uniq) == len(src) and (src == uniq).all():
            return by_node
        # every source listed gets the row of its node (the rows in the order given); the
        # row copies keep their columns sorted, which ``sort_indices`` confirms
        out = by_node[inverse]
        out.sort_indices()
        return out

    def _dense_sparse_times(self, src: np.ndarray, tgt: np.ndarray, limit_s: float
                            ) -> sparse.csr_matrix:
        r_all, c_all, d_all = [], [], []
        for start, rows in self._blocks(src, limit_s, BATCH_BYTES):
            sub = rows[:, tgt]
            r, c = np.nonzero(np.isfinite(sub))
            r_all.append(r + start)
            c_all.append(c)
            d_all.append(sub[r, c])
        r, c, d = np.concatenate(r_all), np.concatenate(c_all), np.concatenate(d_all)
        return sparse.csr_matrix((d, (r, c)), shape=(len(src), len(tgt)))

    def count_within(
        self,
        sources: np.ndarray,
        targets: np.ndarray,
        limits_s: np.ndarray,
        *,
        method: str = "auto",
    ) -> np.ndarray:
        """Count, for each target, the sources within each time limit.

        One bounded Dijkstra per distinct source node up to the largest limit, adding the
        source's multiplicity to every node it reaches (compiled,
        :func:`placement._kernels.ball_counts`): the cost grows with the number of
        (source, node) pairs within the limit, and memory with the number of nodes.

        Parameters
        ----------
        sources : numpy.ndarray of int
            Source node indices; a node listed twice counts twice (two amenities at one place).
        targets : numpy.ndarray of int
            Target node indices.
        limits_s : numpy.ndarray of float
            Time limits, seconds (inclusive).
        method : {"auto", "dense", "bounded"}
            As in :meth:`sparse_times_s`.

        Returns
        -------
        numpy.ndarray of int, shape (len(limits_s), len(targets))
        """
        limits = np.asarray(limits_s, float).reshape(-1)
        tgt = np.asarray(targets, np.int64)
        uniq, mult = np.unique(np.asarray(sources, np.int64), return_counts=True)
        if len(uniq) == 0 or len(tgt) == 0 or len(limits) == 0:
            return np.zeros((len(limits), len(tgt)), np.int64)
        if not _use_bounded(method, len(uniq), self.n_nodes):
            counts = np.zeros((len(limits), len(tgt)), np.int64)
            for start, rows in self._blocks(uniq, float(limits.max()), BATCH_BYTES):
                sub = rows[:, tgt]
                w = mult[start : start + len(rows)]
                for k, lim in enumerate(limits):
                    counts[k] += w @ (sub <= lim)
            return counts
        from placement._kernels import ball_counts

        counts = ball_counts(*self._csr(), uniq, mult.astype(np.int64), limits)
        return counts[:, tgt]
