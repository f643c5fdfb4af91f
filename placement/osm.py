"""OpenStreetMap loaders: the walk network and the amenities, from a file or (opt-in) online.

Files are read with pyosmium (``.osm``, ``.osm.bz2``, ``.osm.pbf``) and pre-filtered into a small
temporary OSM XML file that osmnx then turns into a graph or a GeoDataFrame. The pre-filter
matters: osmnx ``graph_from_xml`` keeps every way of a file (buildings, fences, coastline...),
so only walkable highway ways reach it, and ``features_from_xml`` only sees the tagged objects
listed in ``placement/data/amenity_tags.csv``.

The walk network used by the pipeline comes from :func:`walk_network_from_file`, which by
default skips osmnx and reads the ways straight into arrays (:mod:`placement.osm_arrays`, the
same network at about a twentieth of the memory); :func:`walk_graph_from_file` is the osmnx
path, kept for comparison and for callers that want a networkx graph.
"""

from __future__ import annotations

import csv
import logging
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import networkx as nx
import numpy as np
import osmium
import osmnx as ox
import pandas as pd
import shapely
from osmnx._errors import InsufficientResponseError
from shapely.geometry.base import BaseGeometry

from placement import settings
from placement._errors import DataError, NetworkDisabledError, Problem
from placement.crs import STORAGE_CRS, WORK_CRS, to_work
from placement.schema import AMENITY_CATEGORIES

if TYPE_CHECKING:
    from collections.abc import Mapping

    from placement.network import WalkNetwork

logger = logging.getLogger(__name__)

#: Highway values a pedestrian may use (unless the way says ``foot=no`` or access is private).
WALKABLE_HIGHWAYS: frozenset[str] = frozenset(
    {
        "footway", "path", "pedestrian", "steps", "corridor", "bridleway", "cycleway", "track",
        "living_street", "residential", "service", "unclassified", "road",
        "tertiary", "tertiary_link", "secondary", "secondary_link",
        "primary", "primary_link", "trunk", "trunk_link",
    }
)  # fmt: skip
#: ``access`` values that close a way to pedestrians unless ``foot`` re-opens it.
CLOSED_ACCESS: frozenset[str] = frozenset({"no", "private"})
#: ``foot`` values that open a way to pedestrians whatever ``access`` says.
FOOT_ALLOWED: frozenset[str] = frozenset({"yes", "designated", "permissive", "official"})
#: Ways are kept when at least one node lies within this distance of the boundary.
BOUNDARY_BUFFER_M = 1000.0

#: The tag → category table shipped with the package (columns key, value, category).
AMENITY_TAGS_CSV = Path(__file__).with_name("data") / "amenity_tags.csv"
AMENITY_COLUMNS = ("osm_id", "category", "name")
_ANY = "*"
_LINE_RE = re.compile(r"line (\d+)")
_XML_ERROR_RE = re.compile(r"XML parsing error at line (\d+), column (\d+): (.*)$")
#: File endings the loaders accept (pyosmium picks the format from the ending).
OSM_SUFFIXES = (".osm", ".osm.bz2", ".osm.gz", ".osm.pbf", ".pbf", ".xml")


@dataclass(frozen=True, slots=True)
class TagRule:
    """One row of the tag → category table.

    Attributes
    ----------
    key : str
        OSM tag key, e.g. ``amenity``.
    value : str
        OSM tag value, or ``"*"`` for any value.
    category : str
        One of :data:`placement.schema.AMENITY_CATEGORIES`.
    """

    key: str
    value: str
    category: str

    def matches(self, tags: Mapping[str, str]) -> bool:
        """Return whether an object with ``tags`` falls under this rule."""
        found = tags.get(self.key)
        return found is not None and (self.value == _ANY or found == self.value)


def amenity_tag_rules(path: str | Path | None = None) -> tuple[TagRule, ...]:
    """Read the tag → category table.

    Parameters
    ----------
    path : str or Path, optional
        A CSV with columns ``key,value,category`` (``value`` may be ``*`` for any value).
        Default: the table shipped as ``placement/data/amenity_tags.csv``.

    Returns
    -------
    tuple of TagRule
        In file order.

    Raises
    ------
    DataError
        If a column is missing or a category is not in ``schema.AMENITY_CATEGORIES``.

    Examples
    --------
    >>> rules = amenity_tag_rules()
    >>> ("amenity", "school", "school") in {(r.key, r.value, r.category) for r in rules}
    True
    """
    path = AMENITY_TAGS_CSV if path is None else Path(path)
    text = path.read_text(encoding="utf-8")
    name = path.name
    reader = csv.DictReader(text.splitlines())
    missing = {"key", "value", "category"} - set(reader.fieldnames or ())
    if missing:
        msg = f"missing column(s) {sorted(missing)}; expected the header key,value,category"
        raise DataError.single(name, msg, row=1)
    rules: list[TagRule] = []
    problems: list[Problem] = []
    for row_no, row in enumerate(reader, start=2):
        key, value, category = ((row[c] or "").strip() for c in ("key", "value", "category"))
        if category not in AMENITY_CATEGORIES:
            msg = f"unknown category {category!r}; use one of {', '.join(AMENITY_CATEGORIES)}"
            problems.append(Problem(name, row_no, "category", msg))
        elif not key or not value:
            msg = "key and value must not be empty (use '*' for any value)"
            problems.append(Problem(name, row_no, "key" if not key else "value", msg))
        else:
            rules.append(TagRule(key, value, category))
    if problems:
        raise DataError(problems)
    return tuple(rules)


def is_walkable(tags: Mapping[str, str]) -> bool:
    """Return whether a way with these OSM tags is part of the walk network.

    A way is walkable when its ``highway`` value is in :data:`WALKABLE_HIGHWAYS`, it is not an
    area (``area=yes``), not a Danish *motortrafikvej* (``motorroad=yes``), not ``foot=no`` and
    not closed by ``access=no|private`` unless ``foot`` allows walking.

    Examples
    --------
    >>> is_walkable({"highway": "residential"})
    True
    >>> is_walkable({"highway": "motorway"}), is_walkable({"building": "yes"})
    (False, False)
    >>> is_walkable({"highway": "service", "access": "private", "foot": "yes"})
    True
    """
    if tags.get("highway") not in WALKABLE_HIGHWAYS:
        return False
    if tags.get("area") == "yes" or tags.get("motorroad") == "yes":
        return False
    foot = tags.get("foot")
    if foot == "no":
        return False
    return not (tags.get("access") in CLOSED_ACCESS and foot not in FOOT_ALLOWED)


# --- file handling ---------------------------------------------------------------------------


def _check_exists(path: Path) -> None:
    if not path.is_file():
        msg = f"OSM file not found: {path}; give an .osm, .osm.bz2 or .osm.pbf file"
        raise DataError.single(path.name, msg)
    name = path.name.lower()
    if not name.endswith(OSM_SUFFIXES):
        msg = (
            f"unknown OSM file type {path.suffix!r}: give an OpenStreetMap extract ending in "
            f"{', '.join(OSM_SUFFIXES)}"
        )
        raise DataError.single(path.name, msg)


def _osm_read_error(path: Path, err: RuntimeError) -> DataError:
    """Turn a pyosmium read error into a DataError naming the file (and line)."""
    text = str(err)
    xml = _XML_ERROR_RE.search(text)
    if xml is not None:
        line = int(xml.group(1))
        what = f"XML error at line {line}, column {xml.group(2)} ({xml.group(3).strip()})"
    else:
        match = _LINE_RE.search(text)
        line = int(match.group(1)) if match else None
        what = text
    msg = (
        f"cannot read the OSM file: {what}; the file is truncated or not OSM data: "
        "download the extract again (.osm, .osm.bz2 or .osm.pbf)"
    )
    return DataError.single(path.name, msg, row=line)


def _way_pieces(way: Any) -> list[list[int]]:
    """Node id runs of a way that have a location (clipped extracts lack some nodes)."""
    pieces: list[list[int]] = [[]]
    for node in way.nodes:
        if node.location.valid():
            pieces[-1].append(node.ref)
        elif pieces[-1]:
            pieces.append([])
    return [piece for piece in pieces if len(piece) >= 2]


@contextmanager
def _removing_scratch(writer: osmium.BackReferenceWriter) -> Iterator[Any]:
    """Use a BackReferenceWriter; remove its scratch folder also when reading fails.

    pyosmium only removes that folder (in the system temp folder) when writing succeeds.
    """
    try:
        with writer:
            yield writer
    finally:
        writer.tmpdir.cleanup()


@contextmanager
def _filtered_xml(
    path: Path,
    keep: Callable[[Any], bool],
    *,
    entities: osmium.osm.osm_entity_bits,
    polygon: BaseGeometry | None,
    keys: Iterable[str],
    keep_tags: frozenset[str] | None = None,
    split_ways: bool = False,
) -> Iterator[tuple[Path, int]]:
    """Pre-filter an OSM file into a temporary OSM XML file; yield its path and the count kept.

    Tagged objects for which ``keep(obj)`` holds are written, plus the nodes and ways they
    reference (pyosmium ``BackReferenceWriter``). The file lives in a temporary folder that is
    removed afterwards; nothing is written next to the input.

    Only objects with one of the tag ``keys`` reach ``keep`` (a fast pyosmium filter; node
    locations are still read from every node). With ``keep_tags``, only these tag keys are
    written (smaller XML for osmnx to parse).
    With ``polygon`` (EPSG:4326), ways are only kept when one of their nodes lies inside it and
    nodes only when they lie inside it.
    Ways that reference nodes missing from the file (an extract clipped without complete
    ways) keep only their nodes that are present; with ``split_ways`` they are cut at the gaps
    instead (pieces after the first get new negative ids), so that no street jumps a gap.
    """
    _check_exists(path)
    entities = entities | osmium.osm.NODE
    with tempfile.TemporaryDirectory(prefix="placement-osm-") as tmp:
        out = Path(tmp) / "filtered.osm"
        n_kept = 0
        n_gaps = 0
        try:
            processor = (
                osmium.FileProcessor(str(path), entities)
                .with_locations()
                .with_filter(osmium.filter.KeyFilter(*keys))
            )
            target = osmium.io.File(str(out), "osm,add_metadata=false")
            back_ref = osmium.BackReferenceWriter(target, ref_src=str(path), overwrite=True)
            with _removing_scratch(back_ref) as writer:
                for obj in processor:
                    if obj.is_node() and not obj.tags:
                        continue
                    if not keep(obj):
                        continue
                    if polygon is not None and not _inside(obj, polygon):
                        continue
                    changes: dict[str, Any] = {}
                    if keep_tags is not None:
                        changes["tags"] = {t.k: t.v for t in obj.tags if t.k in keep_tags}
                    if obj.is_way() and not all(n.location.valid() for n in obj.nodes):
                        n_gaps += 1
                        pieces = _way_pieces(obj)
                        if not split_ways:
                            pieces = [[n.ref for n in obj.nodes if n.location.valid()]]
                        for k, refs in enumerate(pieces):
                            if len(refs) < 2:
                                continue
                            way_id = obj.id if k == 0 else -(obj.id * 1000 + k)
                            writer.add(obj.replace(id=way_id, nodes=refs, **changes))
                            n_kept += 1
                        continue
                    writer.add(obj.replace(**changes) if changes else obj)
                    n_kept += 1
        except RuntimeError as err:
            raise _osm_read_error(path, err) from err
        if n_gaps:
            logger.warning(
                "%s: %s ways reference nodes missing from the file (clipped extract); "
                "kept the parts that are present",
                path.name,
                f"{n_gaps:,}",
            )
        yield out, n_kept


def _inside(obj: Any, polygon: BaseGeometry) -> bool:
    """Whether a node, or any node of a way, lies inside ``polygon`` (relations: always)."""
    if obj.is_node():
        locs = [obj.location]
    elif obj.is_way():
        locs = [n.location for n in obj.nodes]
    else:
        return True
    coords = np.array([(loc.lon, loc.lat) for loc in locs if loc.valid()], dtype=float)
    if coords.size == 0:
        return False
    return bool(shapely.contains_xy(polygon, coords[:, 0], coords[:, 1]).any())


def _clip_polygon(boundary: gpd.GeoDataFrame | None) -> BaseGeometry | None:
    """Boundary buffered by :data:`BOUNDARY_BUFFER_M` in EPSG:25832, returned in EPSG:4326."""
    if boundary is None:
        return None
    work = to_work(boundary)
    buffered = gpd.GeoSeries([work.union_all().buffer(BOUNDARY_BUFFER_M)], crs=WORK_CRS)
    polygon = buffered.to_crs(STORAGE_CRS).iloc[0]
    shapely.prepare(polygon)
    return polygon


def header_bounds(path: str | Path) -> tuple[float, float, float, float] | None:
    """Return the ``<bounds>`` box of an OSM file's header (min lon, min lat, max lon, max lat).

    Returns None when the file has none (or cannot be read; the loaders report that).
    """
    try:
        reader = osmium.io.Reader(str(path), osmium.osm.osm_entity_bits.NOTHING)
        try:
            box = reader.header().box()
        finally:
            reader.close()
    except (RuntimeError, OSError):
        return None
    if not box.valid():
        return None
    return (box.bottom_left.lon, box.bottom_left.lat, box.top_right.lon, box.top_right.lat)


# --- walk network ----------------------------------------------------------------------------


def walk_graph_from_file(
    path: str | Path, *, boundary: gpd.GeoDataFrame | None = None
) -> nx.MultiDiGraph:
    """Build the pedestrian network from an OSM file.

    Only walkable highway ways are kept (see :func:`is_walkable`); buildings and every other way
    are dropped before osmnx builds the graph. Every street is walkable in both directions
    (``oneway`` does not apply to pedestrians). All connected components are kept: an isolated
    piece of path is dropped or snapped by the accessibility stage, not silently here.

    Parameters
    ----------
    path : str or Path
        An ``.osm``, ``.osm.bz2`` or ``.osm.pbf`` file (e.g. a national extract).
    boundary : GeoDataFrame, optional
        Municipality boundary (any CRS). When given, only ways with at least one node within
        :data:`BOUNDARY_BUFFER_M` metres of it are kept, so walks that cross the border still
        work.

    Returns
    -------
    networkx.MultiDiGraph
        osmnx graph projected to EPSG:25832 (``G.graph["crs"]``): node attributes ``x``,
        ``y`` (metres); edge attribute ``length`` (metres, great-circle length along the way)
        and the OSM tags osmnx keeps (``highway``, ``name``, ...).

    Raises
    ------
    DataError
        If the file is missing, truncated or malformed (naming the file and, when known, the
        line), or holds no walkable way.
    """
    path = Path(path)
    polygon = _clip_polygon(boundary)
    entities = osmium.osm.NODE | osmium.osm.WAY

    def keep(obj: Any) -> bool:
        return bool(obj.is_way() and is_walkable(obj.tags))

    keep_tags = frozenset({*ox.settings.useful_tags_way, "foot", "footway", "sidewalk"})
    filtered = _filtered_xml(
        path,
        keep,
        entities=entities,
        polygon=polygon,
        keys=("highway",),
        keep_tags=keep_tags,
        split_ways=True,
    )
    with filtered as (xml, n_ways):
        if n_ways == 0:
            where = " inside the boundary" if polygon is not None else ""
            msg = (
                f"no walkable highway way{where}: the file must hold the street network "
                "(highway=residential, footway, ...), not only buildings or points"
            )
            raise DataError.single(path.name, msg)
        G = ox.graph_from_xml(xml, bidirectional=True, simplify=True, retain_all=True)
    G = ox.project_graph(G, to_crs=WORK_CRS)
    logger.info(
        "walk graph from %s: %s ways -> %s nodes, %s edges",
        path.name,
        f"{n_ways:,}",
        f"{len(G):,}",
        f"{G.number_of_edges():,}",
    )
    return G


#: Ways an OSM file can become the walk network (see :func:`walk_network_from_file`).
OSM_LOADERS = ("arrays", "osmnx")


def walk_network_from_file(
    path: str | Path,
    *,
    boundary: gpd.GeoDataFrame | None = None,
    loader: str | None = None,
    walk_speed_kmh: float | None = None,
) -> WalkNetwork:
    """Build the pedestrian network of an OSM file as a :class:`~placement.network.WalkNetwork`.

    Parameters
    ----------
    path : str or Path
        An ``.osm``, ``.osm.bz2`` or ``.osm.pbf`` file.
    boundary : GeoDataFrame, optional
        Municipality boundary, as in :func:`walk_graph_from_file`.
    loader : {"arrays", "osmnx"}, optional
        ``"arrays"`` reads the ways with pyosmium straight into arrays
        (:func:`placement.osm_arrays.walk_arrays_from_file`, about a tenth of the memory);
        ``"osmnx"`` builds the osmnx graph (:func:`walk_graph_from_file`) and converts it. Both
        give the same nodes, edges, lengths and geometries. Default:
        ``placement.settings.osm_loader`` (environment ``PLACEMENT_OSM_LOADER``, else
        ``"arrays"``).
    walk_speed_kmh : float, optional
        Walking speed of the network; default
        :data:`placement.network.DEFAULT_WALK_SPEED_KMH`.

    Returns
    -------
    WalkNetwork

    Raises
    ------
    DataError
        If the file is missing, unreadable or holds no walkable way.
    ValueError
        If ``loader`` is not one of :data:`OSM_LOADERS`.
    """
    from placement.network import DEFAULT_WALK_SPEED_KMH, WalkNetwork
    from placement.osm_arrays import walk_arrays_from_file

    loader = settings.osm_loader if loader is None else loader
    speed = DEFAULT_WALK_SPEED_KMH if walk_speed_kmh is None else walk_speed_kmh
    if loader == "arrays":
        return walk_arrays_from_file(path, boundary=boundary).to_network(walk_speed_kmh=speed)
    if loader == "osmnx":
        G = walk_graph_from_file(path, boundary=boundary)
        return WalkNetwork.from_graph(G, walk_speed_kmh=speed)
    msg = f"unknown OSM loader {loader!r}; use one of {', '.join(OSM_LOADERS)}"
    raise ValueError(msg)


# --- buildings -------------------------------------------------------------------------------


def building_of_points(
    path: str | Path, lon: np.ndarray, lat: np.ndarray
) -> np.ndarray:
    """Return the OSM building (``way/<id>``) each point lies in, ``""`` where none.

    Closed ways tagged ``building=*`` are read with pyosmium (multipolygon buildings are left
    out); a point on a shared wall goes to the lowest way id.

    Parameters
    ----------
    path : str or Path
        The OSM file.
    lon, lat : numpy.ndarray
        Points in degrees (EPSG:4326).

    Returns
    -------
    numpy.ndarray of str
    """
    path = Path(path)
    _check_exists(path)
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    out = np.full(len(lon), "", dtype=object)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        return out
    pad = 0.01
    west, east = lon[ok].min() - pad, lon[ok].max() + pad
    south, north = lat[ok].min() - pad, lat[ok].max() + pad
    ids: list[int] = []
    polys: list[Any] = []
    try:
        processor = (
            osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
            .with_locations()
            .with_filter(osmium.filter.KeyFilter("building"))
        )
        for obj in processor:
            if not obj.is_way() or len(obj.nodes) < 4 or obj.nodes[0].ref != obj.nodes[-1].ref:
                continue
            locs = [n.location for n in obj.nodes]
            if not all(loc.valid() for loc in locs):
                continue
            xs = [loc.lon for loc in locs]
            ys = [loc.lat for loc in locs]
            if max(xs) < west or min(xs) > east or max(ys) < south or min(ys) > north:
                continue
            ids.append(int(obj.id))
            polys.append(shapely.Polygon(list(zip(xs, ys, strict=True))))
    except RuntimeError as err:
        raise _osm_read_error(path, err) from err
    if not polys:
        return out
    tree = shapely.STRtree(polys)
    pts = shapely.points(lon[ok], lat[ok])
    p_idx, b_idx = tree.query(pts, predicate="within")
    way = np.array(ids, dtype=np.int64)[b_idx]
    order = np.lexsort((way, p_idx))
    p_idx, way = p_idx[order], way[order]
    first = np.ones(len(p_idx), dtype=bool)
    first[1:] = p_idx[1:] != p_idx[:-1]
    pos = np.flatnonzero(ok)
    out[pos[p_idx[first]]] = [f"way/{w}" for w in way[first]]
    return out


# --- amenities -------------------------------------------------------------------------------


def _osmnx_tags(rules: tuple[TagRule, ...]) -> dict[str, bool | list[str]]:
    """Return the osmnx ``tags`` argument for these rules (``True``: any value)."""
    tags: dict[str, bool | list[str]] = {}
    for rule in rules:
        current = tags.get(rule.key)
        if rule.value == _ANY or current is True:
            tags[rule.key] = True
        else:
            tags[rule.key] = sorted({*(current or []), rule.value})  # type: ignore[misc]
    return tags


def _empty_amenities() -> gpd.GeoDataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in AMENITY_COLUMNS})
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=STORAGE_CRS), crs=STORAGE_CRS)


def categorise_features(
    features: gpd.GeoDataFrame, *, rules: tuple[TagRule, ...] | None = None
) -> gpd.GeoDataFrame:
    """Map osmnx features to amenity categories with the tag → category table.

    Parameters
    ----------
    features : GeoDataFrame
        As returned by ``osmnx.features_from_xml`` / ``features_from_place``: a MultiIndex
        ``(element, id)`` and one column per OSM tag key; any CRS.
    rules : tuple of TagRule, optional
        Default: :func:`amenity_tag_rules`.

    Returns
    -------
    GeoDataFrame
        EPSG:4326, columns ``osm_id`` (e.g. ``"node/123"``), ``category``, ``name`` (``""`` when
        untagged), geometry (Point; other geometries are reduced to a representative point
        computed in EPSG:25832). One row per (object, category), sorted by ``category`` then
        ``osm_id``, index 0..n-1.
    """
    rules = amenity_tag_rules() if rules is None else rules
    if features.empty:
        return _empty_amenities()
    element = features.index.get_level_values(0).astype(str)
    osm_ids = element + "/" + features.index.get_level_values(1).astype(str)
    names = (
        features["name"].fillna("").astype(str).to_numpy()
        if "name" in features.columns
        else np.full(len(features), "", dtype=object)
    )
    points = to_work(features.geometry).representative_point().to_crs(STORAGE_CRS)
    shapes = to_work(features.geometry).to_numpy()
    closed = np.zeros(len(features), dtype=bool)
    if "access" in features.columns:  # access=private (or no): not a place people may use
        closed = features["access"].astype("string").str.strip().str.lower().isin(
            list(CLOSED_ACCESS)).fillna(False).to_numpy(dtype=bool)
    parts = []
    for rule in rules:
        if rule.key not in features.columns:
            continue
        values = features[rule.key]
        hit = values.notna() if rule.value == _ANY else values.eq(rule.value).fillna(False)
        mask = hit.to_numpy(dtype=bool) & ~closed
        if mask.any():
            parts.append(
                pd.DataFrame(
                    {
                        "osm_id": np.asarray(osm_ids)[mask],
                        "category": rule.category,
                        "name": names[mask],
                        "geometry": points.to_numpy()[mask],
                        "_shape": shapes[mask],
                    }
                )
            )
    if not parts:
        return _empty_amenities()
    table = pd.concat(parts, ignore_index=True).drop_duplicates(subset=["osm_id", "category"])
    table = _drop_mapped_twice(table)
    table = (
        table.drop(columns="_shape")
        .sort_values(["category", "osm_id"], kind="stable")
        .reset_index(drop=True)
    )
    return gpd.GeoDataFrame(table, geometry="geometry", crs=STORAGE_CRS)


#: A node this close to an area of the same name and category is the same place, metres.
SAME_PLACE_M = 25.0


def _drop_mapped_twice(table: pd.DataFrame) -> pd.DataFrame:
    """Drop nodes that repeat an area (way or relation) of the same category and name.

    A place is often mapped twice: a node with its tags and the building or grounds around
    it, tagged the same. The node is dropped when it lies inside (or within
    :data:`SAME_PLACE_M` of) an area of the same category whose name is the same (both
    unnamed counts as the same); the area is kept. ``_shape`` holds the geometries in
    EPSG:25832.
    """
    is_node = table["osm_id"].astype(str).str.startswith("node/").to_numpy()
    shapes = table["_shape"].to_numpy()
    is_area = ~is_node & np.array([g is not None and g.geom_type in ("Polygon", "MultiPolygon")
                                   for g in shapes], dtype=bool)
    if not is_node.any() or not is_area.any():
        return table
    key = list(zip(table["category"].astype(str),
                   table["name"].astype(str).str.strip().str.casefold(), strict=True))
    drop = np.zeros(len(table), dtype=bool)
    areas_by_key: dict[tuple[str, str], list[int]] = {}
    for i in np.flatnonzero(is_area):
        areas_by_key.setdefault(key[i], []).append(int(i))
    for i in np.flatnonzero(is_node):
        for j in areas_by_key.get(key[i], ()):
            if shapes[j].distance(shapes[i]) <= SAME_PLACE_M:
                drop[i] = True
                break
    if drop.any():
        logger.info("%d places mapped twice (node and area) counted once", int(drop.sum()))
    return table.loc[~drop]


def amenities_from_file(
    path: str | Path, *, boundary: gpd.GeoDataFrame | None = None
) -> gpd.GeoDataFrame:
    """Read the amenities (schools, daycare, stops, ...) of an OSM file.

    Objects are selected and categorised with ``placement/data/amenity_tags.csv`` (see
    :func:`amenity_tag_rules`); nodes, closed ways and multipolygon relations are supported.

    Parameters
    ----------
    path : str or Path
        An ``.osm``, ``.osm.bz2`` or ``.osm.pbf`` file.
    boundary : GeoDataFrame, optional
        Municipality boundary (any CRS); amenities within :data:`BOUNDARY_BUFFER_M` metres of
        it are kept (people use the school just across the border).

    Returns
    -------
    GeoDataFrame
        See :func:`categorise_features`: EPSG:4326, columns ``osm_id``, ``category``, ``name``,
        Point geometry, sorted by (category, osm_id). Empty (same columns) when nothing matches.

    Raises
    ------
    DataError
        If the file is missing, truncated or malformed.
    """
    path = Path(path)
    rules = amenity_tag_rules()
    keys = sorted({r.key for r in rules})
    polygon = _clip_polygon(boundary)

    def keep(obj: Any) -> bool:
        tags = obj.tags
        if tags.get("access") in CLOSED_ACCESS:  # a private place does not count
            return False
        return any(rule.matches(tags) for rule in rules)

    entities = osmium.osm.NODE | osmium.osm.WAY | osmium.osm.RELATION
    filtered = _filtered_xml(path, keep, entities=entities, polygon=polygon, keys=keys)
    with filtered as (xml, n_objects):
        if n_objects == 0:
            logger.info("amenities from %s: none of the tags %s", path.name, keys)
            return _empty_amenities()
        try:
            features = ox.features_from_xml(xml, tags=_osmnx_tags(rules))
        except InsufficientResponseError:
            return _empty_amenities()
    result = categorise_features(features, rules=rules)
    if polygon is not None:  # relations are kept whole by the pre-filter: clip their points
        inside = shapely.contains_xy(polygon, result.geometry.x, result.geometry.y)
        result = result.loc[inside].reset_index(drop=True)
    logger.info(
        "amenities from %s: %s rows (%s)",
        path.name,
        f"{len(result):,}",
        ", ".join(f"{k} {v}" for k, v in result["category"].value_counts().sort_index().items()),
    )
    return result


# --- online ----------------------------------------------------------------------------------


@contextmanager
def _osmnx_cache() -> Iterator[None]:
    """Point osmnx's HTTP cache at ``settings.cache_folder/osmnx`` for the duration."""
    old = (ox.settings.use_cache, ox.settings.cache_folder, ox.settings.requests_timeout)
    ox.settings.use_cache = True
    ox.settings.cache_folder = Path(settings.cache_folder) / "osmnx"
    ox.settings.requests_timeout = settings.requests_timeout_s
    try:
        yield
    finally:
        ox.settings.use_cache, ox.settings.cache_folder, ox.settings.requests_timeout = old


def osm_from_place(
    place: str, *, network_type: str = "walk"
) -> tuple[nx.MultiDiGraph, gpd.GeoDataFrame]:
    """Download the walk network and the amenities of a place from OpenStreetMap (Overpass).

    Responses are cached by osmnx under ``settings.cache_folder / "osmnx"`` (files named by the
    hash of the query), so a second call works offline.

    Parameters
    ----------
    place : str
        A place name Nominatim resolves to a polygon, e.g. ``"Samsø Kommune, Denmark"``.
    network_type : str, default "walk"
        osmnx network type.

    Returns
    -------
    (networkx.MultiDiGraph, GeoDataFrame)
        The graph projected to EPSG:25832 and the amenities, as from the file loaders.

    Raises
    ------
    NetworkDisabledError
        Unless ``placement.settings.allow_network`` is True.
    """
    if not settings.allow_network:
        msg = (
            f"downloading OSM data for {place!r} needs network access; set "
            "PLACEMENT_ALLOW_NETWORK=1 or give an OSM file in dataset.toml [osm] file"
        )
        raise NetworkDisabledError(msg)
    rules = amenity_tag_rules()
    with _osmnx_cache():
        G = ox.graph_from_place(place, network_type=network_type, retain_all=True)
        features = ox.features_from_place(place, tags=_osmnx_tags(rules))
    G = ox.project_graph(G, to_crs=WORK_CRS)
    amenities = categorise_features(features, rules=rules)
    logger.info(
        "OSM for %r: %s nodes, %s edges, %s amenities",
        place,
        f"{len(G):,}",
        f"{G.number_of_edges():,}",
        f"{len(amenities):,}",
    )
    return G, amenities
