"""The walk network read from an OSM file straight into arrays (no networkx, no osmnx).

pyosmium streams the walkable ways (same selection as :func:`placement.osm.walk_graph_from_file`:
:func:`placement.osm.is_walkable`, the boundary buffer, ways cut at nodes missing from a clipped
extract) into flat arrays; the topology is then simplified with the rules of osmnx 2.1
``simplify_graph`` on the bidirectional graph ``graph_from_xml(..., bidirectional=True,
simplify=True, retain_all=True)`` builds, so the result has the same nodes, edges, lengths and
geometries as the osmnx path, at a fraction of the memory:

* a node is kept (an *endpoint*) unless it has exactly two way segments at it, to two distinct
  neighbours (osmnx: not ``n_neighbours == 2 and degree in {2, 4}``); nodes on no segment are
  kept too;
* the interstitial nodes between two endpoints are merged into one edge whose length is the sum
  of the great-circle (haversine, earth radius 6,371,009 m) lengths of its segments, in path
  order, and whose geometry runs through them;
* pieces made only of interstitial nodes (an isolated ring) are dropped (osmnx
  ``remove_rings``);
* consecutive repeats of a node in a way are dropped first (osmnx does the same).
"""

from __future__ import annotations

import logging
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import osmium
import shapely
from pyproj import Transformer

from placement._errors import DataError
from placement.crs import STORAGE_CRS, WORK_CRS

if TYPE_CHECKING:
    import geopandas as gpd

    from placement.network import WalkNetwork

logger = logging.getLogger(__name__)

#: Earth radius osmnx uses for great-circle lengths, metres.
EARTH_RADIUS_M = 6_371_009.0


@dataclass(frozen=True, slots=True)
class WalkArrays:
    """A simplified walk network as flat arrays (projected to EPSG:25832).

    Attributes
    ----------
    node_ids : numpy.ndarray of int64
        OSM node id of each kept node.
    xy : numpy.ndarray, shape (n_nodes, 2)
        Node coordinates in EPSG:25832, metres.
    edge_u, edge_v : numpy.ndarray of int64
        End nodes (row indices into ``xy``) of each undirected edge.
    edge_length_m : numpy.ndarray of float
        Great-circle length of each edge along its way, metres.
    edge_geometry : numpy.ndarray of object
        ``shapely.LineString`` from ``u`` to ``v`` for merged edges, None for a single segment
        (the straight line).
    n_raw_nodes : int
        Nodes referenced by the walkable ways before simplification.
    n_ways : int
        Walkable ways (pieces) read.
    """

    node_ids: np.ndarray
    xy: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length_m: np.ndarray
    edge_geometry: np.ndarray
    n_raw_nodes: int
    n_ways: int

    def to_network(self, *, walk_speed_kmh: float | None = None) -> WalkNetwork:
        """Return the :class:`placement.network.WalkNetwork` of these arrays.

        Parallel edges of the same length (rounded to cm) are one edge, as in
        :meth:`WalkNetwork.from_graph`.
        """
        from placement.network import DEFAULT_WALK_SPEED_KMH, WalkNetwork

        u, v = self.edge_u, self.edge_v
        lo, hi = np.minimum(u, v), np.maximum(u, v)
        key = np.round(self.edge_length_m, 2)
        _, first = np.unique(np.stack([lo, hi, key.view(np.int64)], axis=1), axis=0,
                             return_index=True)
        first.sort()
        speed = DEFAULT_WALK_SPEED_KMH if walk_speed_kmh is None else walk_speed_kmh
        return WalkNetwork(self.xy, u[first], v[first], self.edge_length_m[first],
                           self.edge_geometry[first], walk_speed_kmh=speed,
                           node_ids=self.node_ids)


def haversine_m(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray,
                lat2: np.ndarray) -> np.ndarray:
    """Great-circle distance in metres, computed as osmnx ``distance.great_circle`` does."""
    y1, y2 = np.deg2rad(lat1), np.deg2rad(lat2)
    dy = y2 - y1
    dx = np.deg2rad(lon2) - np.deg2rad(lon1)
    h = np.sin(dy / 2) ** 2 + np.cos(y1) * np.cos(y2) * np.sin(dx / 2) ** 2
    h = np.minimum(1, h)
    return 2 * np.arcsin(np.sqrt(h)) * EARTH_RADIUS_M


def _read_ways(path: Path, polygon: Any) -> tuple[array, array, array, array, int]:
    """Stream the walkable ways: refs, lon, lat per way node and way start offsets."""
    from placement.osm import _inside, _osm_read_error, is_walkable

    refs, lons, lats = array("q"), array("d"), array("d")
    starts = array("q", [0])
    n_gaps = 0
    try:
        processor = (
            osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
            .with_locations()
            .with_filter(osmium.filter.KeyFilter("highway"))
        )
        for obj in processor:
            if not obj.is_way() or not is_walkable(obj.tags):
                continue
            if polygon is not None and not _inside(obj, polygon):
                continue
            pieces: list[list[Any]] = [[]]
            gap = False
            for node in obj.nodes:
                loc = node.location
                if loc.valid():
                    pieces[-1].append((node.ref, loc.lon, loc.lat))
                else:
                    gap = True
                    if pieces[-1]:
                        pieces.append([])
            if gap:
                n_gaps += 1
                pieces = [p for p in pieces if len(p) >= 2]
            for piece in pieces:
                last = None
                for ref, lon, lat in piece:
                    if ref == last:  # osmnx drops consecutive repeats
                        continue
                    last = ref
                    refs.append(ref)
                    lons.append(lon)
                    lats.append(lat)
                starts.append(len(refs))
    except RuntimeError as err:
        raise _osm_read_error(path, err) from err
    if n_gaps:
        logger.warning(
            "%s: %s ways reference nodes missing from the file (clipped extract); "
            "kept the parts that are present", path.name, f"{n_gaps:,}")
    return refs, lons, lats, starts, len(starts) - 1


def walk_arrays_from_file(
    path: str | Path, *, boundary: gpd.GeoDataFrame | None = None
) -> WalkArrays:
    """Read the pedestrian network of an OSM file into arrays.

    Same selection, nodes, edges and lengths as :func:`placement.osm.walk_graph_from_file`
    (the osmnx path), without building a networkx graph.

    Parameters
    ----------
    path : str or Path
        An ``.osm``, ``.osm.bz2`` or ``.osm.pbf`` file.
    boundary : GeoDataFrame, optional
        Municipality boundary; only ways with a node within
        :data:`placement.osm.BOUNDARY_BUFFER_M` of it are kept.

    Returns
    -------
    WalkArrays

    Raises
    ------
    DataError
        If the file is missing or unreadable (naming the file), or holds no walkable way.
    """
    from placement.osm import _check_exists, _clip_polygon

    path = Path(path)
    _check_exists(path)
    polygon = _clip_polygon(boundary)
    refs_a, lons_a, lats_a, starts_a, n_ways = _read_ways(path, polygon)
    if n_ways == 0:
        where = " inside the boundary" if polygon is not None else ""
        msg = (f"no walkable highway way{where}: the file must hold the street network "
               "(highway=residential, footway, ...), not only buildings or points")
        raise DataError.single(path.name, msg)
    refs = np.frombuffer(refs_a, dtype=np.int64)
    starts = np.frombuffer(starts_a, dtype=np.int64)
    ids, first, inv = np.unique(refs, return_index=True, return_inverse=True)
    inv = inv.astype(np.int64).ravel()
    lon = np.frombuffer(lons_a, dtype=float)[first]
    lat = np.frombuffer(lats_a, dtype=float)[first]
    del refs_a, lons_a, lats_a, refs, first
    n = len(ids)
    # segments: consecutive way nodes within a way
    is_seg = np.ones(len(inv), dtype=bool)
    is_seg[starts[1:] - 1] = False  # last node of each way starts no segment
    is_seg[-1] = False
    pos = np.flatnonzero(is_seg)
    su, sv = inv[pos], inv[pos + 1]
    del inv, is_seg, pos
    seg_len = haversine_m(lon[su], lat[su], lon[sv], lat[sv])
    n_seg = len(su)
    incid = np.bincount(su, minlength=n) + np.bincount(sv, minlength=n)
    pair = np.unique(np.minimum(su, sv) * n + np.maximum(su, sv))
    n_nb = np.bincount(pair // n, minlength=n) + np.bincount(pair % n, minlength=n)
    del pair
    inter = (incid == 2) & (n_nb == 2)
    # node -> incident segments (CSR)
    ends = np.concatenate([su, sv])
    seg_of = np.concatenate([np.arange(n_seg), np.arange(n_seg)])
    order = np.argsort(ends, kind="stable")
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(incid, out=ptr[1:])
    inc_seg = seg_of[order]
    del ends, seg_of, order
    to_proj = Transformer.from_crs(STORAGE_CRS, WORK_CRS, always_xy=True)
    px, py = to_proj.transform(lon, lat)
    xy_all = np.column_stack([px, py])

    su_l, sv_l, inter_l = su.tolist(), sv.tolist(), inter.tolist()
    ptr_l, inc_l, len_l = ptr.tolist(), inc_seg.tolist(), seg_len.tolist()
    used = np.zeros(n_seg, dtype=bool)
    out_u: list[int] = []
    out_v: list[int] = []
    out_len: list[float] = []
    out_geom: list[Any] = []
    for a in np.flatnonzero(~inter & (incid > 0)).tolist():
        for k in range(ptr_l[a], ptr_l[a + 1]):
            s = inc_l[k]
            b = sv_l[s] if su_l[s] == a else su_l[s]
            if not inter_l[b]:
                continue
            path_nodes = [a, b]
            total = [len_l[s]]
            first_seg, seg, cur = s, s, b
            while inter_l[cur]:
                s0, s1 = inc_l[ptr_l[cur]], inc_l[ptr_l[cur] + 1]
                seg = s1 if s0 == seg else s0
                cur = sv_l[seg] if su_l[seg] == cur else su_l[seg]
                path_nodes.append(cur)
                total.append(len_l[seg])
            if first_seg > seg:  # each chain is met from both ends: keep one
                continue
            used[[first_seg, seg]] = True
            out_u.append(a)
            out_v.append(cur)
            out_len.append(sum(total))
            out_geom.append(shapely.linestrings(xy_all[path_nodes]))
    # segments between two endpoints stay as they are
    direct = ~inter[su] & ~inter[sv]
    keep_node = ~inter
    new_index = np.cumsum(keep_node) - 1
    edge_u = new_index[np.concatenate([np.array(out_u, np.int64), su[direct]])]
    edge_v = new_index[np.concatenate([np.array(out_v, np.int64), sv[direct]])]
    lengths = np.concatenate([np.array(out_len, float), seg_len[direct]])
    geometry = np.empty(len(edge_u), dtype=object)
    geometry[: len(out_geom)] = out_geom
    arrays = WalkArrays(
        node_ids=ids[keep_node],
        xy=xy_all[keep_node],
        edge_u=edge_u,
        edge_v=edge_v,
        edge_length_m=lengths,
        edge_geometry=geometry,
        n_raw_nodes=n,
        n_ways=n_ways,
    )
    logger.info("walk arrays from %s: %s ways, %s raw nodes -> %s nodes, %s edges",
                path.name, f"{n_ways:,}", f"{n:,}", f"{len(arrays.node_ids):,}",
                f"{len(edge_u):,}")
    return arrays
