"""Generate the fictional demo municipality (Kildeholm Kommune, code 0999) from a seed.

The demo is written in the same standard formats real data comes in (OSM XML, a GTFS zip, a
GeoPackage and CSV files plus a ``dataset.toml`` manifest), so it goes through the very loaders
real data uses. Everything is drawn from ``numpy.random.default_rng(seed)`` and written with
fixed timestamps, so the same seed gives the same bytes in every file.

Geography: a market town (a jittered, gently curved street grid with a main street, footpaths,
driveways and service roads) near 55.45 N 11.75 E on Zealand, five villages linked by country
roads with farm tracks, a regional railway with three stations, four village bus lines and a
town circular. Twelve local areas (Voronoi cells around the town quarters and villages), one
designated vulnerable housing estate (Engparken), 360 vacant dwellings, 96 arriving households
and ten years (2016-2025) of residence history. The reference date is 1 January 2026.
"""

from __future__ import annotations

import bz2
import csv
import datetime as dt
import io
import logging
import math
import time
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from xml.sax.saxutils import quoteattr

import geopandas as gpd
import networkx as nx
import numpy as np
import pyogrio
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPoint, Point, Polygon

from placement.crs import STORAGE_CRS, WORK_CRS

logger = logging.getLogger(__name__)

#: Default output folder of ``placement demo-data`` (relative to the repository root).
DEFAULT_DEMO_DIR = Path("data") / "geo" / "demo"

MUNICIPALITY_NAME = "Kildeholm"
MUNICIPALITY_CODE = "0999"
TOWN = "Kildeholm"
TOWN_POSTCODE = "4470"
#: Town centre (lat, lon); the demo lies in UTM zone 32N, so EPSG:25832 applies.
CENTRE_LAT_LON = (55.45, 11.75)
#: Fixed timestamp written into every file (OSM attributes, zip entries, GeoPackage metadata).
FIXED_TIMESTAMP = "2026-01-01T00:00:00Z"
_ZIP_DATE_TIME = (2026, 1, 1, 0, 0, 0)
#: File name of the GeoPackage with boundary, local areas and designated areas.
GPKG_NAME = "municipality.gpkg"
#: Reference date: dwellings become available and households arrive after it.
REFERENCE_DATE = dt.date(2026, 1, 1)
#: Last day covered by the residence history.
HISTORY_END = dt.date(2025, 12, 31)

_NODE_SPACING_M = 32.0
_TOWN_RX_M = 1300.0
_TOWN_RY_M = 1120.0

#: Villages: name, direction from the town (degrees, counter-clockwise from east), distance (m),
#: postcode, has school, has daycare, has railway station.
_VILLAGES: tuple[tuple[str, float, float, str, bool, bool, bool], ...] = (
    ("Ravnstrup", 8.0, 5600.0, "4471", True, True, True),
    ("Egeslev", 78.0, 5200.0, "4472", True, True, False),
    ("Tornbjerg", 138.0, 6400.0, "4473", True, True, False),
    ("Lyngå", 192.0, 6000.0, "4474", False, True, True),
    ("Bøgelunde", 262.0, 5000.0, "4475", False, False, False),
)

_STREET_NAMES = (
    "Nørregade",
    "Vestergade",
    "Østergade",
    "Søndergade",
    "Skolevej",
    "Møllevej",
    "Bøgevej",
    "Egevej",
    "Ahornvej",
    "Birkevej",
    "Lindevej",
    "Rosenvej",
    "Violvej",
    "Havnevej",
    "Strandvej",
    "Engvej",
    "Markvej",
    "Toftevej",
    "Kløvervej",
    "Tjørnevej",
    "Pilevej",
    "Granvej",
    "Fyrrevej",
    "Hybenvej",
    "Syrenvej",
    "Valmuevej",
    "Smedevej",
    "Bagervej",
    "Præstevænget",
    "Kastanievej",
    "Hasselvej",
    "Ellevej",
    "Rønnebærvej",
    "Mågevej",
    "Svanevej",
    "Lærkevej",
    "Spurvevej",
)
_VILLAGE_STREETS = ("Bygaden", "Kirkevej", "Gadekæret", "Vængevej", "Skovvej", "Præstegårdsvej")
_LANDMARKS = (
    "Skovgården",
    "Højgård",
    "Bakkehuset",
    "Mosegård",
    "Engly",
    "Lundgården",
    "Kærsholm",
    "Stenhøj",
    "Vesterled",
    "Nygård",
    "Bredekær",
    "Solbakken",
    "Ulvedal",
    "Frydendal",
)
#: Farm and place names for stops in open country, after ``_LANDMARKS`` are used up.
_FARM_NAMES = tuple(
    f"{a}{b}"
    for b in ("gård", "høj", "lund", "holm", "dal", "hus")
    for a in (
        "Sten",
        "Hede",
        "Mose",
        "Eng",
        "Kær",
        "Skov",
        "Ny",
        "Vester",
        "Øster",
        "Nørre",
        "Sønder",
        "Bøge",
        "Ege",
        "Ask",
        "Lyng",
    )
)
_HOUSING_ASSOCIATIONS = (
    "Boligforeningen Kildebo",
    "Fjordly Boligselskab",
    "Egebo Almene Boliger",
    "Boligselskabet Holmparken",
)
_PRIVATE_LANDLORDS = ("Privat udlejer", "Holm Ejendomme ApS", "Nordsten Ejendomme A/S")
_ENGPARKEN_LANDLORD = "Boligforeningen Engparken"

_Coord = tuple[float, float]


# --------------------------------------------------------------------------------------------
# OSM objects
# --------------------------------------------------------------------------------------------
@dataclass(slots=True)
class _Way:
    nodes: list[int]
    tags: dict[str, str]


@dataclass(slots=True)
class _Osm:
    """OSM nodes (local metres) and ways, with ids given out in creation order."""

    xy: list[_Coord] = field(default_factory=list)
    node_tags: dict[int, dict[str, str]] = field(default_factory=dict)
    ways: list[_Way] = field(default_factory=list)

    def node(self, xy: _Coord, tags: dict[str, str] | None = None) -> int:
        self.xy.append((float(xy[0]), float(xy[1])))
        nid = len(self.xy)  # OSM ids start at 1
        if tags:
            self.node_tags[nid] = tags
        return nid

    def at(self, nid: int) -> np.ndarray:
        return np.asarray(self.xy[nid - 1])

    def way(self, nodes: list[int], tags: dict[str, str]) -> int:
        self.ways.append(_Way(nodes, tags))
        return len(self.ways)

    def densify(
        self,
        anchors: Sequence[int],
        *,
        spacing_m: float = _NODE_SPACING_M,
        lateral: Callable[[np.ndarray, np.ndarray, int], list[_Coord]] | None = None,
    ) -> list[int]:
        """Node ids along ``anchors`` with new nodes inserted about every ``spacing_m``."""
        out = [anchors[0]]
        for a, b in pairwise(anchors):
            pa, pb = self.at(a), self.at(b)
            n = max(1, round(float(_norm(pb - pa)) / spacing_m))
            pts = (
                lateral(pa, pb, n)
                if lateral
                else [tuple(pa + (pb - pa) * k / n) for k in range(1, n)]
            )
            out.extend(self.node(p) for p in pts)
            out.append(b)
        return out

    def rectangle(self, centre: np.ndarray, w_m: float, h_m: float, angle: float) -> list[int]:
        """Return the node list of a closed ``w_m`` × ``h_m`` rectangle turned by ``angle`` rad."""
        c, s = math.cos(angle), math.sin(angle)
        ids = []
        for dx, dy in (
            (-w_m / 2, -h_m / 2),
            (w_m / 2, -h_m / 2),
            (w_m / 2, h_m / 2),
            (-w_m / 2, h_m / 2),
        ):
            ids.append(self.node((centre[0] + c * dx - s * dy, centre[1] + s * dx + c * dy)))
        return [*ids, ids[0]]



def _norm(v: np.ndarray | Sequence[float]) -> float:
    """Euclidean length of a 2-vector, the same to the last bit on every processor.

    ``np.linalg.norm`` goes through BLAS, whose kernels (and so the last bit of the result) differ
    between processors; ties between equally distant grid nodes would then be broken differently
    and the demo files would not regenerate byte-identically on another machine.
    """
    return math.hypot(float(v[0]), float(v[1]))


def _norms(a: np.ndarray) -> np.ndarray:
    """Row lengths of an (n, 2) array (``np.hypot`` is exact elementwise, not BLAS)."""
    a = np.asarray(a, dtype=float)
    return np.hypot(a[:, 0], a[:, 1])

def _warp(p: np.ndarray) -> np.ndarray:
    """Bend the town grid gently so that streets are not straight lines."""
    x, y = float(p[0]), float(p[1])
    return np.array([x + 35.0 * math.sin(y / 320.0 + 0.7), y + 28.0 * math.sin(x / 410.0 + 1.9)])


def _local_to_lat_lon() -> Callable[[np.ndarray], np.ndarray]:
    """Return a function mapping local (x, y) metres to an (n, 2) array of (lat, lon).

    Local metres are EPSG:25832 offsets from the projected town centre, so distances measured
    later in the work CRS equal the distances the generator used.
    """
    to_utm = Transformer.from_crs(STORAGE_CRS, WORK_CRS, always_xy=True)
    e0, n0 = to_utm.transform(CENTRE_LAT_LON[1], CENTRE_LAT_LON[0])
    to_ll = Transformer.from_crs(WORK_CRS, STORAGE_CRS, always_xy=True)

    def convert(xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        lon, lat = to_ll.transform(xy[:, 0] + e0, xy[:, 1] + n0)
        return np.column_stack([np.asarray(lat, float), np.asarray(lon, float)])

    return convert


@dataclass(slots=True)
class _Place:
    """A settlement: its name, postcode, centre and the street nodes that belong to it."""

    name: str
    postcode: str
    centre: np.ndarray
    nodes: list[int] = field(default_factory=list)
    school: bool = True
    daycare: bool = True
    station: int | None = None
    forecourt: int | None = None


@dataclass(slots=True)
class _World:
    osm: _Osm
    streets: nx.Graph  # street nodes, edge attrs length_m, bus (bool), country (bool)
    street_name: dict[int, str]
    town: _Place
    villages: list[_Place]
    intersections: set[int]
    highways: dict[int, set[str]]
    track_pts: list[np.ndarray]


# --------------------------------------------------------------------------------------------
# Street network
# --------------------------------------------------------------------------------------------
def _add_street(
    world_osm: _Osm, g: nx.Graph, names: dict[int, str], nodes: list[int], tags: dict[str, str]
) -> None:
    hw = tags["highway"]
    bus = hw in {"primary", "secondary", "tertiary", "unclassified", "residential"}
    country = hw in {"tertiary", "unclassified"} and tags.get("_country") == "yes"
    tags.pop("_country", None)
    world_osm.way(nodes, tags)
    for a, b in pairwise(nodes):
        length = float(_norm(world_osm.at(a) - world_osm.at(b)))
        g.add_edge(a, b, length_m=length, bus=bus, country=country)
    for n in nodes:
        g.nodes[n].setdefault("highways", set()).add(hw)
    if "name" in tags:
        for n in nodes:
            names.setdefault(n, tags["name"])
            g.nodes[n].setdefault("names", []).append(tags["name"])


def _build_town(
    osm: _Osm, g: nx.Graph, names: dict[int, str], rng: np.random.Generator
) -> tuple[_Place, dict[tuple[int, int], int], set[int]]:
    xs = np.arange(-1200.0, 1201.0, 150.0)
    ys = np.arange(-1050.0, 1051.0, 150.0)

    def inside(x: float, y: float) -> bool:
        return (x / _TOWN_RX_M) ** 2 + (y / _TOWN_RY_M) ** 2 <= 1.0

    main_row = int(np.argmin(np.abs(ys)))
    main_cols = {int(np.argmin(np.abs(xs))), int(np.argmin(np.abs(xs - 150.0)))}
    # Segments of the grid: ("h", i, j) joins (i, j)-(i+1, j); ("v", i, j) joins (i, j)-(i, j+1).
    segs: list[tuple[str, int, int]] = []
    for j in range(len(ys)):
        for i in range(len(xs) - 1):
            if inside((xs[i] + xs[i + 1]) / 2, ys[j]):
                segs.append(("h", i, j))
    for i in range(len(xs)):
        for j in range(len(ys) - 1):
            if inside(xs[i], (ys[j] + ys[j + 1]) / 2):
                segs.append(("v", i, j))

    def ends(s: tuple[str, int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
        k, i, j = s
        return ((i, j), (i + 1, j)) if k == "h" else ((i, j), (i, j + 1))

    grid = nx.Graph()
    grid.add_edges_from(ends(s) for s in segs)
    kept = set(segs)
    for s in segs:  # drop a few segments for an irregular street pattern, keep it connected
        k, i, j = s
        if (k == "h" and j == main_row) or (k == "v" and i in main_cols):
            continue
        if rng.random() < 0.12:
            a, b = ends(s)
            grid.remove_edge(a, b)
            if nx.is_connected(grid) and grid.degree(a) > 0 and grid.degree(b) > 0:
                kept.discard(s)
            else:
                grid.add_edge(a, b)

    grid_pt = {
        ij: np.array([xs[ij[0]], ys[ij[1]]]) + rng.normal(0.0, 10.0, 2) for ij in sorted(grid.nodes)
    }
    inter = {ij: osm.node(tuple(_warp(p))) for ij, p in grid_pt.items()}

    def curved(a: tuple[int, int], b: tuple[int, int]) -> list[int]:
        pa, pb = grid_pt[a], grid_pt[b]
        n = max(1, round(float(_norm(pb - pa)) / _NODE_SPACING_M))
        mid = [osm.node(tuple(_warp(pa + (pb - pa) * k / n))) for k in range(1, n)]
        return [inter[a], *mid, inter[b]]

    name_iter = iter(_STREET_NAMES)
    line_names: dict[tuple[str, int], str] = {}
    for j in range(len(ys)):
        line_names["h", j] = "Algade" if j == main_row else next(name_iter)
    for i in range(len(xs)):
        if i in main_cols:
            line_names["v", i] = "Kirkegade" if xs[i] == 0 else "Stationsvej"
        else:
            line_names["v", i] = next(name_iter)

    mid_nodes: list[int] = []
    for kind, n_lines, n_steps in (("h", len(ys), len(xs) - 1), ("v", len(xs), len(ys) - 1)):
        for line in range(n_lines):
            run: list[int] = []
            for step in range(n_steps + 1):
                s = (kind, step, line) if kind == "h" else (kind, line, step)
                if step < n_steps and s in kept:
                    a, b = ends(s)
                    part = curved(a, b)
                    mid_nodes.append(part[len(part) // 2])
                    run = part if not run else run + part[1:]
                elif run:
                    name = line_names[kind, line]
                    hw = (
                        "secondary"
                        if name == "Algade"
                        else "tertiary"
                        if name in {"Kirkegade", "Stationsvej"}
                        else "residential"
                    )
                    tags = {"highway": hw, "name": name}
                    if hw == "secondary":
                        tags |= {"maxspeed": "40", "sidewalk": "both"}
                    _add_street(osm, g, names, run, tags)
                    run = []
    # Footpaths diagonally through some blocks, and a few service roads into blocks.
    blocks = [
        (i, j)
        for i in range(len(xs) - 1)
        for j in range(len(ys) - 1)
        if all(c in inter for c in ((i, j), (i + 1, j + 1), (i + 1, j), (i, j + 1)))
    ]
    for k in rng.choice(len(blocks), size=min(26, len(blocks)), replace=False):
        i, j = blocks[int(k)]
        a, b = ((i, j), (i + 1, j + 1)) if rng.random() < 0.5 else ((i + 1, j), (i, j + 1))
        _add_street(osm, g, names, curved(a, b), {"highway": "footway"})
    for k in rng.choice(len(mid_nodes), size=22, replace=False):
        start = mid_nodes[int(k)]
        angle = rng.uniform(0, 2 * math.pi)
        p0 = osm.at(start)
        ids = [start] + [
            osm.node(tuple(p0 + step * np.array([math.cos(angle), math.sin(angle)])))
            for step in (30.0, 60.0)
        ]
        service = "parking_aisle" if rng.random() < 0.5 else "driveway"
        _add_street(osm, g, names, ids, {"highway": "service", "service": service})
    town = _Place(TOWN, TOWN_POSTCODE, np.zeros(2), nodes=sorted(g.nodes))
    return town, inter, set(inter.values())


def _country_road(osm: _Osm, a: int, b: int, rng: np.random.Generator) -> list[int]:
    """Node list of a gently winding road from node ``a`` to node ``b``."""
    pa, pb = osm.at(a), osm.at(b)
    d = pb - pa
    normal = np.array([-d[1], d[0]]) / _norm(d)
    bends = [
        osm.node(tuple(pa + d * t + normal * rng.normal(0.0, 180.0))) for t in (0.3, 0.55, 0.8)
    ]
    return osm.densify([a, *bends, b], spacing_m=36.0)


def _build_village(
    osm: _Osm, g: nx.Graph, names: dict[int, str], spec: tuple, rng: np.random.Generator
) -> _Place:
    name, angle_deg, dist_m, postcode, school, daycare, _ = spec
    theta = math.radians(angle_deg)
    outward = np.array([math.cos(theta), math.sin(theta)])
    across = np.array([-outward[1], outward[0]])
    centre = dist_m * outward
    cnode = osm.node(tuple(centre))
    ends_ = {t: osm.node(tuple(centre + across * t)) for t in (-420.0, -200.0, 160.0, 400.0)}
    bygaden = osm.densify([ends_[-420.0], ends_[-200.0], cnode, ends_[160.0], ends_[400.0]])
    _add_street(osm, g, names, bygaden, {"highway": "residential", "name": "Bygaden"})
    kirke_end = osm.node(tuple(centre + outward * 420.0 + across * rng.normal(0, 40)))
    _add_street(
        osm,
        g,
        names,
        osm.densify([cnode, kirke_end]),
        {"highway": "residential", "name": "Kirkevej"},
    )
    for k, t in enumerate((-200.0, 160.0, 400.0)):
        side = 1.0 if k % 2 == 0 else -1.0
        length = rng.uniform(220.0, 340.0)
        tip = osm.node(tuple(centre + across * t + outward * side * length))
        _add_street(
            osm,
            g,
            names,
            osm.densify([ends_[t], tip]),
            {"highway": "residential", "name": _VILLAGE_STREETS[2 + k]},
        )
    nodes = sorted(n for n in g.nodes if _norm(osm.at(n) - centre) < 700.0)
    return _Place(name, postcode, centre, nodes=nodes, school=school, daycare=daycare)


def _station(
    osm: _Osm, g: nx.Graph, names: dict[int, str], near: int, offset: np.ndarray, name: str
) -> tuple[int, int, np.ndarray]:
    """Add a forecourt road from ``near`` and the station; return (station, forecourt, track)."""
    p = osm.at(near)
    forecourt = osm.node(tuple(p + offset))
    _add_street(
        osm,
        g,
        names,
        osm.densify([near, forecourt]),
        {"highway": "residential", "name": "Stationspladsen"},
    )
    unit = offset / _norm(offset)
    st = osm.node(
        tuple(p + offset + unit * 25.0),
        {
            "railway": "station",
            "public_transport": "station",
            "train": "yes",
            "name": f"{name} St.",
        },
    )
    return st, forecourt, p + offset + unit * 45.0


def _build_world(rng: np.random.Generator) -> _World:
    osm = _Osm()
    g = nx.Graph()
    names: dict[int, str] = {}
    town, inter, intersections = _build_town(osm, g, names, rng)
    villages = [_build_village(osm, g, names, spec, rng) for spec in _VILLAGES]
    town_nodes = sorted(inter.values())
    town_xy = np.array([osm.at(n) for n in town_nodes])
    for v in villages:
        # Country road from the town's edge towards the village to the village centre.
        target = v.centre / _norm(v.centre) * 1500.0
        start = town_nodes[int(np.argmin(_norms(town_xy - target)))]
        centre_node = min(v.nodes, key=lambda n: float(_norm(osm.at(n) - v.centre)))
        road = _country_road(osm, start, centre_node, rng)
        _add_street(
            osm,
            g,
            names,
            road,
            {"highway": "tertiary", "name": f"{v.name}vej", "maxspeed": "80", "_country": "yes"},
        )
        v.nodes = sorted({*v.nodes, *road[-8:]})
    for a, b, road_name in ((0, 1, "Engmarksvej"), (2, 3, "Skovbrynet"), (3, 4, "Mosevej")):
        va, vb = villages[a], villages[b]
        na = min(va.nodes, key=lambda n: float(_norm(osm.at(n) - vb.centre)))
        nb = min(vb.nodes, key=lambda n: float(_norm(osm.at(n) - va.centre)))
        road = _country_road(osm, na, nb, rng)
        _add_street(
            osm, g, names, road, {"highway": "unclassified", "name": road_name, "_country": "yes"}
        )
    # Stations: in the town (south of the grid) and in the two villages on the railway.
    south = min(town_nodes, key=lambda n: float(_norm(osm.at(n) - (150.0, -1100.0))))
    town.station, town.forecourt, town_track = _station(
        osm, g, names, south, np.array([0.0, -110.0]), TOWN
    )
    village_track: dict[str, np.ndarray] = {}
    for v, spec in zip(villages, _VILLAGES, strict=True):
        if spec[6]:
            near = min(
                v.nodes, key=lambda n, v=v: float(_norm(osm.at(n) - v.centre + (0, 250)))
            )
            v.station, v.forecourt, village_track[v.name] = _station(
                osm, g, names, near, np.array([60.0, -60.0]), v.name
            )
    # West to east: Lyngå, the town, Ravnstrup.
    track_pts = [village_track[villages[3].name], town_track, village_track[villages[0].name]]
    town.nodes = sorted(n for n in g.nodes if _norm(osm.at(n)) < 1600.0)
    highways = {n: set(d.get("highways", ())) for n, d in g.nodes(data=True)}
    return _World(osm, g, names, town, villages, intersections, highways, track_pts)


# --------------------------------------------------------------------------------------------
# Boundary and areas
# --------------------------------------------------------------------------------------------
def _boundary(points: np.ndarray, rng: np.random.Generator) -> Polygon:
    """Return a star-shaped polygon around the town centre enclosing every point with a margin."""
    angles = np.array([math.atan2(float(y), float(x)) for x, y in points])
    radii = _norms(points)
    rays = np.radians(np.arange(0.0, 360.0, 5.0))
    base = []
    for t in rays:
        diff = np.abs((angles - t + math.pi) % (2 * math.pi) - math.pi)
        near = radii[diff <= math.radians(14.0)]
        base.append(float(near.max()) if near.size else 3500.0)
    base_arr = np.maximum(np.array(base), 3500.0)
    noisy = base_arr + 1200.0 + rng.uniform(0.0, 900.0, base_arr.size)
    smooth = (np.roll(noisy, 1) + noisy + np.roll(noisy, -1)) / 3.0
    r = np.maximum(smooth, base_arr + 900.0)
    cos = np.array([math.cos(float(t)) for t in rays])
    sin = np.array([math.sin(float(t)) for t in rays])
    poly = Polygon(np.column_stack([r * cos, r * sin]))
    if not poly.is_valid or not poly.contains(MultiPoint(points)):
        msg = "demo boundary does not enclose the street network"
        raise RuntimeError(msg)
    return poly


def _areas(
    boundary: Polygon, villages: list[_Place], rng: np.random.Generator
) -> list[tuple[str, str, int, int, Polygon]]:
    """Voronoi cells of area seeds clipped to the boundary: (id, name, pop, integ, polygon)."""
    seeds: list[tuple[str, np.ndarray, int]] = [
        (f"{TOWN} Midt", np.array([0.0, 0.0]), 5200),
        (f"{TOWN} Nord", np.array([-100.0, 780.0]), 4800),
        (f"{TOWN} Øst", np.array([820.0, 60.0]), 4100),
        (f"{TOWN} Syd", np.array([60.0, -760.0]), 4600),
        (f"{TOWN} Vest", np.array([-860.0, -40.0]), 3900),
    ]
    village_pop = (2100, 1600, 1300, 1500, 900)
    seeds += [(v.name, v.centre, p) for v, p in zip(villages, village_pop, strict=True)]
    centroid = np.array(boundary.centroid.coords[0])
    for name, deg, pop in (("Skovlandet", 310.0, 700), ("Engene", 45.0, 600)):
        d = np.array([math.cos(math.radians(deg)), math.sin(math.radians(deg))])
        ray = shapely.LineString([centroid, centroid + d * 50_000.0])
        edge = np.array(ray.intersection(boundary.exterior).coords[0])
        seeds.append((name, centroid + (edge - centroid) * 0.78, pop))
    cells = shapely.voronoi_polygons(MultiPoint([s[1] for s in seeds]), extend_to=boundary)
    out = []
    for k, (name, xy, pop) in enumerate(seeds):
        cell = next(c for c in cells.geoms if c.contains(Point(xy)))
        poly = cell.intersection(boundary)
        population = round(pop * rng.uniform(0.95, 1.05))
        share = 0.035 if name.endswith("Syd") else rng.uniform(0.006, 0.02)
        out.append((f"{9001 + k}", name, population, round(population * share), poly))
    return out


# --------------------------------------------------------------------------------------------
# Writers (bytes in memory; files replaced atomically at the end)
# --------------------------------------------------------------------------------------------
def _csv_bytes(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=",", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(header)
    for row in rows:
        w.writerow(["" if v is None else v for v in row])
    return buf.getvalue().encode("utf-8")


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _osm_bytes(osm: _Osm, lat_lon: np.ndarray) -> bytes:
    lat_lon = np.round(lat_lon, 7)
    lo, hi = lat_lon.min(axis=0) - 0.002, lat_lon.max(axis=0) + 0.002
    meta = f'version="1" timestamp="{FIXED_TIMESTAMP}"'
    lines = [
        "<?xml version='1.0' encoding='UTF-8'?>",
        '<osm version="0.6" generator="placement demo">',
        f' <bounds minlat="{lo[0]:.7f}" minlon="{lo[1]:.7f}" maxlat="{hi[0]:.7f}" '
        f'maxlon="{hi[1]:.7f}"/>',
    ]

    def tag_lines(tags: dict[str, str]) -> list[str]:
        return [f"  <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in sorted(tags.items())]

    for nid in range(1, len(osm.xy) + 1):
        lat, lon = lat_lon[nid - 1]
        head = f' <node id="{nid}" {meta} lat="{lat:.7f}" lon="{lon:.7f}"'
        tags = osm.node_tags.get(nid)
        if tags:
            lines += [head + ">", *tag_lines(tags), " </node>"]
        else:
            lines.append(head + "/>")
    for wid, way in enumerate(osm.ways, start=1):
        lines.append(f' <way id="{wid}" {meta}>')
        lines += [f'  <nd ref="{n}"/>' for n in way.nodes]
        lines += [*tag_lines(way.tags), " </way>"]
    lines.append("</osm>\n")
    return bz2.compress("\n".join(lines).encode("utf-8"), compresslevel=9)


def _zip_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, files[name], compresslevel=9)
    return buf.getvalue()


def _write_gpkg(path: Path, layers: dict[str, gpd.GeoDataFrame]) -> None:
    """Write the layers to a fresh GeoPackage with a fixed creation date (byte-reproducible)."""
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FIXED_TIMESTAMP})
    try:
        for layer, gdf in layers.items():
            pyogrio.write_dataframe(gdf, path, layer=layer, driver="GPKG", append=path.exists())
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})


def _manifest() -> bytes:
    text = f"""# Fictional demo municipality written by `placement demo-data` (do not edit by hand).
[municipality]
name = "{MUNICIPALITY_NAME}"
code = "{MUNICIPALITY_CODE}"

[boundary]
file = "municipality.gpkg"
layer = "boundary"

[areas]
file = "municipality.gpkg"
layer = "local_areas"
id_field = "area_id"
name_field = "name"

[designated]
file = "municipality.gpkg"
layer = "designated_areas"

[osm]
file = "streets.osm.bz2"

[gtfs]
file = "gtfs.zip"

[dwellings]
file = "dwellings.csv"

[households]
file = "households.csv"

[history]
file = "residence_history.csv"
"""
    return text.encode("utf-8")


# --------------------------------------------------------------------------------------------
# Amenities and buildings
# --------------------------------------------------------------------------------------------
def _beside(osm: _Osm, node: int, rng: np.random.Generator, lo_m: float, hi_m: float) -> np.ndarray:
    angle = rng.uniform(0.0, 2 * math.pi)
    return osm.at(node) + rng.uniform(lo_m, hi_m) * np.array([math.cos(angle), math.sin(angle)])


def _street_nodes(world: _World, nodes: Iterable[int]) -> list[int]:
    """Return the nodes among ``nodes`` on a street cars use (not a footway or service)."""
    ok = {"residential", "secondary", "tertiary", "unclassified"}
    return [n for n in nodes if world.highways.get(n, set()) & ok]


def _add_amenities(world: _World, rng: np.random.Generator) -> dict[str, list[np.ndarray]]:
    """Tag amenities of every category as OSM nodes or closed ways; return anchor points."""
    osm = world.osm
    anchors: dict[str, list[np.ndarray]] = {}
    daycare_names = iter(
        (
            "Solsikken",
            "Mælkebøtten",
            "Regnbuen",
            "Troldehøj",
            "Spiren",
            "Myretuen",
            "Bikuben",
            "Skovmusen",
            "Humlebien",
            "Kastanjen",
        )
    )
    town_core = _street_nodes(
        world, (n for n in world.town.nodes if _norm(osm.at(n)) < 1000.0)
    )
    centre_core = [n for n in town_core if _norm(osm.at(n)) < 450.0]

    def put(
        nodes: list[int],
        tags: dict[str, str],
        *,
        polygon: bool,
        size_m: float = 60.0,
        near_m: tuple[float, float] = (25.0, 45.0),
    ) -> np.ndarray:
        node = nodes[int(rng.integers(len(nodes)))]
        if polygon:
            lo, hi = near_m
            centre = _beside(osm, node, rng, lo + size_m / 2, hi + size_m / 2)
            ring = osm.rectangle(
                centre, size_m, size_m * rng.uniform(0.6, 1.0), rng.uniform(0.0, math.pi)
            )
            osm.way(ring, tags)
        else:
            centre = _beside(osm, node, rng, *near_m)
            osm.node(tuple(centre), tags)
        return centre

    def town_set(specs: list[tuple[dict[str, str], bool, float]], pool: list[int]) -> None:
        for tags, polygon, size in specs:
            p = put(pool, tags, polygon=polygon, size_m=size)
            anchors.setdefault(tags.get("amenity") or tags.get("office") or "other", []).append(p)

    town_set(
        [
            ({"amenity": "school", "name": f"{TOWN} Skole", "isced:level": "1;2"}, True, 110.0),
            ({"amenity": "school", "name": "Nørrevang Skole"}, True, 90.0),
            ({"amenity": "school", "name": "Den Frie Skole"}, False, 0.0),
            ({"amenity": "college", "name": f"{TOWN} Gymnasium"}, True, 120.0),
            ({"amenity": "college", "name": f"{TOWN} Handelsskole"}, False, 0.0),
            ({"leisure": "sports_centre", "name": f"{TOWN}hallen"}, True, 80.0),
            ({"leisure": "pitch", "sport": "soccer", "name": "Stadion"}, True, 100.0),
            ({"leisure": "pitch", "sport": "soccer"}, True, 90.0),
            ({"amenity": "community_centre", "name": "Medborgerhuset"}, False, 0.0),
            ({"club": "sport", "sport": "soccer", "name": f"{TOWN} Boldklub"}, False, 0.0),
            ({"club": "sport", "sport": "swimming", "name": f"{TOWN} Svømmeklub"}, False, 0.0),
            ({"shop": "supermarket", "name": "Dagligvarehuset"}, True, 50.0),
            ({"shop": "supermarket", "name": "Købmandsgården"}, False, 0.0),
            ({"shop": "supermarket", "name": "SuperKøb"}, True, 45.0),
            ({"amenity": "doctors", "name": "Lægehuset Nørregade"}, False, 0.0),
            ({"amenity": "doctors", "name": "Lægerne ved Parken"}, False, 0.0),
        ],
        town_core,
    )
    town_set(
        [
            ({"amenity": "library", "name": f"{TOWN} Bibliotek"}, True, 40.0),
            ({"amenity": "arts_centre", "name": "Kulturhuset Remisen"}, True, 45.0),
            ({"office": "employment_agency", "name": f"Jobcenter {TOWN}"}, True, 40.0),
            ({"amenity": "language_school", "name": f"{TOWN} Sprogcenter"}, False, 0.0),
            ({"shop": "supermarket", "name": "Torvekøbmanden"}, False, 0.0),
            ({"amenity": "doctors", "name": "Lægehuset på Torvet"}, False, 0.0),
        ],
        centre_core,
    )
    for k in range(5):
        put(
            town_core,
            {"amenity": "kindergarten", "name": f"Børnehuset {next(daycare_names)}"},
            polygon=k % 2 == 0,
            size_m=45.0,
        )
    for v in world.villages:
        pool = _street_nodes(
            world, (n for n in v.nodes if _norm(osm.at(n) - v.centre) < 450.0)
        )
        if v.school:
            put(pool, {"amenity": "school", "name": f"{v.name} Skole"}, polygon=True, size_m=70.0)
        if v.daycare:
            put(
                pool,
                {"amenity": "kindergarten", "name": f"Børnehaven {next(daycare_names)}"},
                polygon=False,
            )
        put(
            pool, {"amenity": "community_centre", "name": f"{v.name} Forsamlingshus"}, polygon=False
        )
        if v.name in {"Ravnstrup", "Egeslev", "Tornbjerg"}:
            put(pool, {"shop": "supermarket", "name": f"{v.name} Brugs"}, polygon=False)
            put(pool, {"leisure": "pitch", "sport": "soccer"}, polygon=True, size_m=90.0)
        if v.name == "Egeslev":
            put(
                pool,
                {"leisure": "sports_centre", "name": "Egeslevhallen"},
                polygon=True,
                size_m=55.0,
            )
            put(pool, {"amenity": "doctors", "name": "Egeslev Lægepraksis"}, polygon=False)
            put(pool, {"club": "sport", "sport": "handball", "name": "Egeslev IF"}, polygon=False)
        if v.name == "Ravnstrup":
            put(pool, {"amenity": "library", "name": "Ravnstrup Bibliotek"}, polygon=False)
    return anchors


@dataclass(slots=True)
class _Plot:
    """A house site at the end of a driveway: where buildings and dwellings go."""

    xy: np.ndarray
    street: str
    place: str
    postcode: str
    building_id: str = ""
    kind: str = "house"  # house, terrace or block (flats)


def _place_of(world: _World, p: np.ndarray) -> _Place:
    """Return the settlement nearest to local point ``p`` (the town wins within 1 km)."""
    places = [world.town, *world.villages]
    return min(
        places,
        key=lambda pl: float(_norm(p - pl.centre)) - (1000.0 if pl is world.town else 0.0),
    )


def _add_plots(world: _World, rng: np.random.Generator) -> list[_Plot]:
    """Driveways, footpaths into blocks and farm tracks off the streets, with a house at each end.

    Real Danish street networks in OSM are dense with ``highway=service`` driveways and
    footpaths; each spur adds a junction and a dead end to the walk network.
    """
    osm, g = world.osm, world.streets
    plots: list[_Plot] = []
    inter = world.intersections
    for a in sorted(g.nodes):
        nbrs = sorted(g.neighbors(a))
        if len(nbrs) != 2 or a in inter:
            continue
        e0, e1 = g.edges[a, nbrs[0]], g.edges[a, nbrs[1]]
        street = world.street_name.get(a)
        if street is None or street == "Stationspladsen":
            continue
        hws = world.highways.get(a, set())
        if not hws & {"residential", "secondary", "tertiary", "unclassified"}:
            continue
        d = osm.at(nbrs[1]) - osm.at(nbrs[0])
        normal = np.array([-d[1], d[0]]) / max(float(_norm(d)), 1e-9)
        country = e0["country"] or e1["country"]
        p = osm.at(a)
        if min(float(_norm(p - osm.at(n))) for n in inter) < 30.0:
            continue
        if country:
            if rng.random() > 0.22:
                continue
            length = rng.uniform(90.0, 260.0)
            side = 1.0 if rng.random() < 0.5 else -1.0
            end = p + normal * side * length + rng.normal(0.0, 20.0, 2)
            ids = osm.densify([a, osm.node(tuple(end))], spacing_m=40.0)
            osm.way(ids, {"highway": "track", "tracktype": "grade2"})
            pl = _place_of(world, p)
            plots.append(
                _Plot(end + normal * side * 20.0, street, pl.name, pl.postcode, kind="farm")
            )
            continue
        for side in (1.0, -1.0):
            if rng.random() > 0.82:
                continue
            r = rng.random()
            length = rng.uniform(18.0, 42.0) if r < 0.78 else rng.uniform(35.0, 60.0)
            along = d / max(float(_norm(d)), 1e-9) * rng.uniform(-6.0, 6.0)
            tip = p + normal * side * length + along
            tip_id = osm.node(tuple(tip))
            if r < 0.78:
                osm.way([a, tip_id], {"highway": "service", "service": "driveway"})
            else:
                osm.way([a, tip_id], {"highway": "footway"})
            pl = _place_of(world, p)
            kind = "house"
            if pl is world.town:
                dist = float(_norm(p))
                kind = (
                    "block"
                    if dist < 650.0 and rng.random() < 0.55
                    else "terrace"
                    if rng.random() < 0.25
                    else "house"
                )
            plots.append(_Plot(tip + normal * side * 9.0, street, pl.name, pl.postcode, kind=kind))
    logger.debug("added %d plots with driveways, footpaths and tracks", len(plots))
    return plots


def _add_buildings(world: _World, plots: list[_Plot], rng: np.random.Generator) -> None:
    """Add a ``building=*`` polygon on every plot (walk graphs must leave them out)."""
    size = {
        "house": (9.0, 14.0),
        "terrace": (18.0, 30.0),
        "block": (24.0, 42.0),
        "farm": (14.0, 24.0),
    }
    tag = {"house": "house", "terrace": "terrace", "block": "apartments", "farm": "farm"}
    for k, plot in enumerate(plots, start=1):
        lo, hi = size[plot.kind]
        ring = world.osm.rectangle(
            plot.xy, rng.uniform(lo, hi), rng.uniform(8.0, 13.0), rng.uniform(0.0, math.pi)
        )
        plot.building_id = f"B{k:05d}"
        tags = {"building": tag[plot.kind], "ref": plot.building_id}
        if plot.kind == "block":
            tags["building:levels"] = str(int(rng.integers(2, 5)))
        world.osm.way(ring, tags)


# --------------------------------------------------------------------------------------------
# Public transport (GTFS)
# --------------------------------------------------------------------------------------------
@dataclass(slots=True)
class _Stop:
    stop_id: str
    name: str
    xy: np.ndarray
    node: int  # OSM node of the stop (bus_stop or station)


@dataclass(slots=True)
class _Line:
    route_id: str
    short_name: str
    long_name: str
    route_type: int
    stops: list[tuple[str, float, float]]  # (stop_id, seconds from start, metres from start)
    shape: list[tuple[np.ndarray, float]]  # (xy, metres from start)


def _hhmmss(total_s: float) -> str:
    s = round(total_s)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


class _StopMaker:
    """Choose bus stops along paths, reusing stops that earlier lines created."""

    def __init__(self, world: _World, rng: np.random.Generator) -> None:
        self.world = world
        self.rng = rng
        self.by_node: dict[int, _Stop] = {}
        self.stops: list[_Stop] = []
        self.used_names: set[str] = set()
        self.landmarks = list(dict.fromkeys((*_LANDMARKS, *_FARM_NAMES)))
        self.place_of: dict[int, str] = {}
        for v in world.villages:
            for n in v.nodes:
                self.place_of[n] = v.name

    def _unique(self, name: str) -> str:
        while name in self.used_names:
            name = f"{name.split(' (')[0]} ({self.landmarks.pop(0)})"
        self.used_names.add(name)
        return name

    def _name(self, node: int, prev: int) -> str:
        g = self.world.streets
        names = list(dict.fromkeys(g.nodes[node].get("names", [])))
        if node in self.world.intersections and len(names) >= 2:
            return self._unique(f"{names[0]}/{names[1]}")
        street = names[0] if names else "Vejen"
        if node in self.place_of:
            return self._unique(f"{self.place_of[node]}, {street}")
        if _norm(self.world.osm.at(node)) < 1600.0:
            return self._unique(street)
        return self._unique(f"{street} v/ {self.landmarks.pop(0)}")

    def station_stop(self, place: _Place) -> _Stop:
        """Return the bus stop at a station forecourt (created once)."""
        assert place.forecourt is not None
        node = place.forecourt
        if node not in self.by_node:
            xy = self.world.osm.at(node) + np.array([8.0, 0.0])
            self._create(node, xy, self._unique(f"{place.name} St."))
        return self.by_node[node]

    def _create(self, node: int, xy: np.ndarray, name: str) -> _Stop:
        stop_id = f"{1001 + len(self.stops)}"
        osm_node = self.world.osm.node(
            tuple(xy),
            {
                "highway": "bus_stop",
                "public_transport": "platform",
                "bus": "yes",
                "name": name,
                "ref": stop_id,
            },
        )
        stop = _Stop(stop_id, name, xy, osm_node)
        self.stops.append(stop)
        self.by_node[node] = stop
        return stop

    def along(self, path: list[int]) -> list[tuple[int, _Stop]]:
        """Return (index into path, stop) along ``path``; the first and last node are stops."""
        osm, g = self.world.osm, self.world.streets
        out: list[tuple[int, _Stop]] = []
        since = 0.0
        for k, node in enumerate(path):
            if k > 0:
                since += g.edges[path[k - 1], node]["length_m"]
            last = k == len(path) - 1
            country = k > 0 and g.edges[path[k - 1], node]["country"]
            in_town = _norm(osm.at(node)) < 1600.0
            spacing = 1400.0 if country else 380.0 if in_town else 300.0
            if node in self.by_node and (k == 0 or last or since >= 220.0):
                out.append((k, self.by_node[node]))
                since = 0.0
                continue
            eligible = (not in_town) or node in self.world.intersections
            if k == 0 or last or (since >= spacing and eligible):
                prev = path[k - 1] if k else path[k + 1]
                d = osm.at(node) - osm.at(prev)
                normal = np.array([-d[1], d[0]]) / max(float(_norm(d)), 1e-9)
                xy = osm.at(node) + normal * 7.0
                out.append((k, self._create(node, xy, self._name(node, prev))))
                since = 0.0
        return out


def _bus_line(
    world: _World,
    stops: _StopMaker,
    route_id: str,
    short: str,
    long_name: str,
    waypoints: list[int],
    first_stop: _Stop,
) -> _Line:
    osm, g = world.osm, world.streets
    bus_graph = g.edge_subgraph([(a, b) for a, b, d in g.edges(data=True) if d["bus"]])
    path: list[int] = [waypoints[0]]
    for a, b in pairwise(waypoints):
        path += nx.shortest_path(bus_graph, a, b, weight="length_m")[1:]
    cum_m = [0.0]
    cum_s = [0.0]
    for a, b in pairwise(path):
        e = g.edges[a, b]
        cum_m.append(cum_m[-1] + e["length_m"])
        cum_s.append(cum_s[-1] + e["length_m"] / (15.0 if e["country"] else 6.5))
    chosen = stops.along(path)
    chosen[0] = (0, first_stop)
    line_stops = []
    for n_before, (k, stop) in enumerate(chosen):
        line_stops.append((stop.stop_id, cum_s[k] + 20.0 * n_before, cum_m[k]))
    shape = [(osm.at(n), m) for n, m in zip(path, cum_m, strict=True)]
    return _Line(route_id, short, long_name, 3, line_stops, shape)


def _reverse(line: _Line) -> tuple[list[tuple[str, float, float]], list[tuple[np.ndarray, float]]]:
    total_s, total_m = line.stops[-1][1], line.shape[-1][1]
    stops = [(sid, total_s - s, total_m - m) for sid, s, m in reversed(line.stops)]
    shape = [(xy, total_m - m) for xy, m in reversed(line.shape)]
    return stops, shape


#: Service period of the demo feed (GTFS dates).
_GTFS_START = "20260101"
_GTFS_END = "20271231"


def _easter(year: int) -> dt.date:
    """Easter Sunday (Gregorian calendar, anonymous algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def _weekday_holidays() -> list[dt.date]:
    """Danish public holidays (and Christmas Eve) on Monday–Friday in the service period."""
    days: list[dt.date] = []
    for year in range(int(_GTFS_START[:4]), int(_GTFS_END[:4]) + 1):
        easter = _easter(year)
        days += [
            dt.date(year, 1, 1),
            dt.date(year, 12, 24),
            dt.date(year, 12, 25),
            dt.date(year, 12, 26),
        ]
        days += [easter + dt.timedelta(days=n) for n in (-3, -2, 1, 39, 50)]
    return sorted(d for d in days if d.weekday() < 5)


def _departures(start: str, end: str, *, peak_min: int, offpeak_min: int) -> list[int]:
    """Departure times in seconds after midnight from ``start`` to ``end`` (HH:MM, may be ≥ 24)."""

    def secs(t: str) -> int:
        h, m = t.split(":")
        return int(h) * 3600 + int(m) * 60

    out, t = [], secs(start)
    while t <= secs(end):
        out.append(t)
        peak = 6 * 3600 <= t < 9 * 3600 or 14 * 3600 <= t < 18 * 3600
        t += 60 * (peak_min if peak else offpeak_min)
    return out


def _transit(world: _World, rng: np.random.Generator) -> tuple[dict[str, bytes], list[_Stop]]:
    """Build bus lines, the train line and the GTFS tables; add bus stops to the OSM data."""
    osm = world.osm
    stops = _StopMaker(world, rng)
    town = world.town
    hub = stops.station_stop(town)
    assert town.forecourt is not None
    town_nodes = _street_nodes(world, world.town.nodes)
    town_xy = np.array([osm.at(n) for n in town_nodes])

    def nearest(p: tuple[float, float]) -> int:
        return town_nodes[int(np.argmin(_norms(town_xy - p)))]

    lines = [
        _bus_line(
            world,
            stops,
            "L1",
            "1",
            f"Bybussen {TOWN} (ringlinje)",
            [
                town.forecourt,
                nearest((700, -550)),
                nearest((820, 420)),
                nearest((0, 760)),
                nearest((-800, 350)),
                nearest((-720, -520)),
                town.forecourt,
            ],
            hub,
        )
    ]
    village_lines = (
        ("L201", "201", [0]),
        ("L202", "202", [1]),
        ("L203", "203", [2, 3]),
        ("L204", "204", [4]),
    )
    for route_id, short, idx in village_lines:
        centres = [
            min(
                world.villages[i].nodes,
                key=lambda n, i=i: float(_norm(osm.at(n) - world.villages[i].centre)),
            )
            for i in idx
        ]
        dest = " – ".join(world.villages[i].name for i in idx)
        lines.append(
            _bus_line(
                world,
                stops,
                route_id,
                short,
                f"{TOWN} St. – {dest}",
                [town.forecourt, *centres],
                hub,
            )
        )
    # Train: Lyngå St. – Kildeholm St. – Ravnstrup St. along the track points.
    rail_stops: list[_Stop] = []
    for place in (world.villages[3], town, world.villages[0]):
        assert place.station is not None
        stop = _Stop(
            f"{8001 + len(rail_stops)}", f"{place.name} St.", osm.at(place.station), place.station
        )
        rail_stops.append(stop)
    pts = world.track_pts
    seg_m = [float(_norm(b - a)) for a, b in pairwise(pts)]
    cum_m = np.concatenate([[0.0], np.cumsum(seg_m)])
    cum_s = cum_m / (95 / 3.6) + 60.0 * np.arange(len(pts))
    train = _Line(
        "R10",
        "R",
        f"Regionaltog Lyngå – {TOWN} – Ravnstrup",
        2,
        [(s.stop_id, float(t), float(m)) for s, t, m in zip(rail_stops, cum_s, cum_m, strict=True)],
        [(p, float(m)) for p, m in zip(pts, cum_m, strict=True)],
    )
    lines.insert(0, train)
    return _gtfs_tables(world, lines, [*rail_stops, *stops.stops], rng), stops.stops


def _gtfs_tables(
    world: _World, lines: list[_Line], all_stops: list[_Stop], rng: np.random.Generator
) -> dict[str, bytes]:
    to_ll = _local_to_lat_lon()
    stop_ll = to_ll(np.array([s.xy for s in all_stops]))
    stop_rows = sorted(
        (
            s.stop_id,
            s.name,
            f"{lat:.6f}",
            f"{lon:.6f}",
            0,
            1 if s.stop_id >= "8000" or int(s.stop_id) % 3 else 2,
        )
        for s, (lat, lon) in zip(all_stops, np.round(stop_ll, 7), strict=True)
    )
    trips, stop_times, shapes = [], [], []
    schedules = {
        # route: (weekday start, end, peak, offpeak), (weekend start, end, every)
        "R10": (("05:05", "23:55", 30, 30), ("07:05", "23:05", 60)),
        "L1": (("05:30", "23:00", 20, 30), ("08:00", "22:00", 60)),
    }
    village = (("05:40", "23:55", 30, 60), ("08:10", "22:10", 120))
    for line in lines:
        (wd_start, wd_end, peak, off), (we_start, we_end, we_every) = schedules.get(
            line.route_id, village
        )
        directions = [(0, line.stops, line.shape)]
        if line.route_id != "L1":
            directions.append((1, *_reverse(line)))
        for direction, d_stops, d_shape in directions:
            shape_id = f"{line.route_id}-{direction}"
            shape_ll = np.round(to_ll(np.array([p for p, _ in d_shape])), 6)
            shapes += [
                (shape_id, f"{lat:.6f}", f"{lon:.6f}", k + 1, f"{m:.1f}")
                for k, ((lat, lon), (_, m)) in enumerate(zip(shape_ll, d_shape, strict=True))
            ]
            shift = 0 if direction == 0 else 25 * 60
            head = _stop_name(d_stops[-1][0], all_stops)
            for service, deps in (
                ("WD", _departures(wd_start, wd_end, peak_min=peak, offpeak_min=off)),
                ("WE", _departures(we_start, we_end, peak_min=we_every, offpeak_min=we_every)),
            ):
                for dep in deps:
                    t0 = dep + (shift if dep + shift <= 24 * 3600 else 0)
                    trip_id = f"{line.route_id}-{service}-{direction}-{_hhmmss(t0)[:5]}"
                    trip_id = trip_id.replace(":", "")
                    trips.append((line.route_id, service, trip_id, head, direction, shape_id))
                    for seq, (stop_id, s, m) in enumerate(d_stops, start=1):
                        t = _hhmmss(t0 + 60 * round(s / 60))
                        stop_times.append((trip_id, t, t, stop_id, seq, f"{m:.1f}"))
    route_rows = [
        (
            "KT",
            line.route_id,
            line.short_name,
            line.long_name,
            line.route_type,
            "0B5394" if line.route_type == 2 else "F2A900",
        )
        for line in lines
    ]
    files = {
        "agency.txt": _csv_bytes(
            ("agency_id", "agency_name", "agency_url", "agency_timezone", "agency_lang"),
            [
                (
                    "KT",
                    f"{TOWN} Trafik (fiktiv)",
                    "https://example.org/kildeholm",
                    "Europe/Copenhagen",
                    "da",
                )
            ],
        ),
        "stops.txt": _csv_bytes(
            (
                "stop_id",
                "stop_name",
                "stop_lat",
                "stop_lon",
                "location_type",
                "wheelchair_boarding",
            ),
            stop_rows,
        ),
        "routes.txt": _csv_bytes(
            (
                "agency_id",
                "route_id",
                "route_short_name",
                "route_long_name",
                "route_type",
                "route_color",
            ),
            sorted(route_rows, key=lambda r: r[1]),
        ),
        "trips.txt": _csv_bytes(
            ("route_id", "service_id", "trip_id", "trip_headsign", "direction_id", "shape_id"),
            sorted(trips),
        ),
        "stop_times.txt": _csv_bytes(
            (
                "trip_id",
                "arrival_time",
                "departure_time",
                "stop_id",
                "stop_sequence",
                "shape_dist_traveled",
            ),
            sorted(stop_times, key=lambda r: (r[0], r[4])),
        ),
        "calendar.txt": _csv_bytes(
            (
                "service_id",
                "monday",
                "tuesday",
                "wednesday",
                "thursday",
                "friday",
                "saturday",
                "sunday",
                "start_date",
                "end_date",
            ),
            [
                ("WD", 1, 1, 1, 1, 1, 0, 0, _GTFS_START, _GTFS_END),
                ("WE", 0, 0, 0, 0, 0, 1, 1, _GTFS_START, _GTFS_END),
            ],
        ),
        # Public holidays on weekdays run the weekend timetable.
        "calendar_dates.txt": _csv_bytes(
            ("service_id", "date", "exception_type"),
            [
                (svc, day.strftime("%Y%m%d"), kind)
                for day in _weekday_holidays()
                for svc, kind in (("WD", 2), ("WE", 1))
            ],
        ),
        "shapes.txt": _csv_bytes(
            (
                "shape_id",
                "shape_pt_lat",
                "shape_pt_lon",
                "shape_pt_sequence",
                "shape_dist_traveled",
            ),
            shapes,
        ),
        "feed_info.txt": _csv_bytes(
            (
                "feed_publisher_name",
                "feed_publisher_url",
                "feed_lang",
                "feed_start_date",
                "feed_end_date",
                "feed_version",
            ),
            [
                (
                    "placement demo",
                    "https://example.org/kildeholm",
                    "da",
                    _GTFS_START,
                    _GTFS_END,
                    "demo-1",
                )
            ],
        ),
    }
    del rng
    return files


def _stop_name(stop_id: str, all_stops: list[_Stop]) -> str:
    """Name of the stop with ``stop_id`` (the trip headsign)."""
    return next(s.name for s in all_stops if s.stop_id == stop_id)


# --------------------------------------------------------------------------------------------
# Designated area, dwellings, households, residence history
# --------------------------------------------------------------------------------------------
#: The designated vulnerable housing estate (local metres): centre and half sizes.
_ENGPARKEN_CENTRE = np.array([-330.0, -520.0])
_ENGPARKEN_HALF_M = (150.0, 110.0)


def _designated_polygon() -> Polygon:
    cx, cy = _ENGPARKEN_CENTRE
    hx, hy = _ENGPARKEN_HALF_M
    return Polygon([(cx - hx, cy - hy), (cx + hx, cy - hy), (cx + hx, cy + hy), (cx - hx, cy + hy)])


def _round_to(value: float, step: float) -> float:
    return float(step * round(value / step))


_FLOORS = ("st.", "1.", "2.", "3.")
_SIDES = ("tv.", "th.", "mf.")
#: Floor area range (m²) by number of rooms.
_AREA_BY_ROOMS = {
    1: (34.0, 50.0),
    2: (52.0, 72.0),
    3: (72.0, 94.0),
    4: (90.0, 115.0),
    5: (108.0, 135.0),
}


def _dwellings(
    plots: list[_Plot],
    areas: list[tuple[str, str, int, int, Polygon]],
    designated: Polygon,
    to_ll: Callable[[np.ndarray], np.ndarray],
    rng: np.random.Generator,
    n: int = 360,
) -> tuple[bytes, list[tuple[str, str]]]:
    """Return the dwellings CSV and the (dwelling_id, area_id) of each dwelling."""
    inside = [k for k, p in enumerate(plots) if designated.contains(Point(p.xy))]
    town = [k for k, p in enumerate(plots) if p.place == TOWN and k not in set(inside)]
    villages = [k for k, p in enumerate(plots) if p.place != TOWN]
    n_inside = min(8, len(inside))
    n_village = round(0.3 * n)
    chosen_village = sorted(rng.choice(len(villages), size=n_village, replace=False))
    picks = [
        inside[int(k)] for k in sorted(rng.choice(len(inside), size=n_inside, replace=False))
    ] + [villages[int(k)] for k in chosen_village]
    # Town: flats share buildings (several dwellings per block), houses have one dwelling.
    remaining = n - len(picks)
    town_pick = sorted(rng.choice(len(town), size=remaining, replace=False))
    picks += [town[int(k)] for k in town_pick]
    numbers: dict[tuple[str, str], int] = {}
    number_of: dict[int, int] = {}
    for k in sorted(set(picks)):
        key = (plots[k].street, plots[k].place)
        numbers[key] = numbers.get(key, 0) + int(rng.integers(1, 4))
        number_of[k] = numbers[key]
    rows = []
    ids = []
    used_units: dict[int, set[str]] = {}
    jitter = rng.normal(0.0, 2.5, (len(picks), 2))
    lat_lon = to_ll(np.array([plots[k].xy for k in picks]) + jitter)
    for i, k in enumerate(picks):
        plot = plots[k]
        in_designated = k in set(inside)
        flat = plot.kind == "block" or in_designated
        if flat:
            rooms = int(rng.choice([1, 2, 3, 4], p=[0.22, 0.36, 0.3, 0.12]))
        elif plot.kind == "terrace":
            rooms = int(rng.choice([2, 3, 4], p=[0.25, 0.5, 0.25]))
        else:
            rooms = int(rng.choice([2, 3, 4, 5], p=[0.15, 0.35, 0.35, 0.15]))
        lo, hi = _AREA_BY_ROOMS[rooms]
        area_m2 = _round_to(rng.uniform(lo, hi), 0.5)
        # Monthly rent incl. a-conto heating: about 80-100 DKK per m², a little less per m² in
        # large dwellings and in the villages.
        rate = (rng.uniform(84.0, 100.0) - 0.12 * (area_m2 - 50.0)) * (
            0.92 if plot.place != TOWN else 1.0
        )
        rent = min(max(_round_to(area_m2 * rate, 25.0), 4000.0), 11000.0)
        unit = ""
        if flat:
            taken = used_units.setdefault(k, set())
            while True:
                floor = _FLOORS[int(rng.integers(len(_FLOORS)))]
                unit = f"{floor} {_SIDES[int(rng.integers(len(_SIDES)))]}"
                if unit not in taken:
                    taken.add(unit)
                    break
        step_free = (
            (unit.startswith("st.") or rng.random() < 0.25) if flat else (rng.random() < 0.35)
        )
        if in_designated:
            landlord = _ENGPARKEN_LANDLORD
        elif flat or plot.kind == "terrace":
            landlord = _HOUSING_ASSOCIATIONS[int(rng.integers(len(_HOUSING_ASSOCIATIONS)))]
        else:
            landlord = (
                _PRIVATE_LANDLORDS[int(rng.integers(len(_PRIVATE_LANDLORDS)))]
                if rng.random() < 0.6
                else _HOUSING_ASSOCIATIONS[int(rng.integers(len(_HOUSING_ASSOCIATIONS)))]
            )
        permanent = rng.random() >= 0.12
        available = REFERENCE_DATE + dt.timedelta(days=int(rng.integers(0, 270)))
        address = f"{plot.street} {number_of[k]}"
        if unit:
            address += f", {unit}"
        address += f", {plot.postcode} {plot.place}"
        dwelling_id = f"D{i + 1:04d}"
        lat, lon = lat_lon[i]
        rows.append(
            (
                dwelling_id,
                address,
                f"{lat:.7f}",
                f"{lon:.7f}",
                rooms,
                f"{area_m2:.1f}",
                f"{rent:.0f}",
                available.isoformat(),
                _yes(permanent),
                landlord,
                _yes(step_free),
                plot.building_id,
            )
        )
        area_id = next(
            (a[0] for a in areas if a[4].intersects(Point(plot.xy + jitter[i]))), areas[0][0]
        )
        ids.append((dwelling_id, area_id))
    header = (
        "dwelling_id",
        "address",
        "lat",
        "lon",
        "rooms",
        "floor_area_m2",
        "rent_dkk",
        "available_from",
        "permanent",
        "landlord",
        "step_free",
        "building_id",
    )
    return _csv_bytes(header, rows), ids


def _household_sizes(rng: np.random.Generator) -> tuple[int, int, int, int]:
    """(adults, children 0-5, 6-16, 17+) of one arriving household."""
    kind = rng.choice(
        ["single", "couple", "single_parent", "family", "large_family"],
        p=[0.3, 0.12, 0.17, 0.25, 0.16],
    )
    adults = 1 if kind in {"single", "single_parent"} else 2
    if kind == "large_family" and rng.random() < 0.3:
        adults = 3  # e.g. a grandparent
    n_children = {
        "single": 0,
        "couple": 0,
        "single_parent": int(rng.integers(1, 4)),
        "family": int(rng.integers(1, 3)),
        "large_family": 0,
    }[str(kind)]
    if kind == "large_family":
        n_children = int(rng.integers(5, 9)) - adults  # household of 5-8 persons
    ages = rng.integers(0, 19, n_children)
    return (
        adults,
        int((ages <= 5).sum()),
        int(((ages >= 6) & (ages <= 16)).sum()),
        int((ages >= 17).sum()),
    )


def _households(
    anchors: list[np.ndarray],
    to_ll: Callable[[np.ndarray], np.ndarray],
    rng: np.random.Generator,
    n: int = 96,
) -> bytes:
    """Return the households CSV: ``n`` arriving households over the coming nine months."""
    rows = []
    for i in range(n):
        adults, c05, c616, c17 = _household_sizes(rng)
        arrival = REFERENCE_DATE + dt.timedelta(days=int(rng.integers(7, 280)))
        step_free = rng.random() < 0.08
        lat = lon = ""
        if rng.random() < 0.3:
            p = anchors[int(rng.integers(len(anchors)))] + rng.normal(0.0, 15.0, 2)
            ((la, lo),) = to_ll(p)
            lat, lon = f"{la:.6f}", f"{lo:.6f}"
        rows.append(
            (
                f"H{i + 1:04d}",
                adults,
                c05,
                c616,
                c17,
                arrival.isoformat(),
                _yes(step_free),
                lat,
                lon,
            )
        )
    rows.sort(key=lambda r: (r[5], r[0]))
    header = (
        "household_id",
        "adults",
        "children_0_5",
        "children_6_16",
        "children_17_plus",
        "arrival_date",
        "step_free_needed",
        "anchor_lat",
        "anchor_lon",
    )
    return _csv_bytes(header, rows)


def _history(
    dwellings_csv: bytes,
    stops_txt: bytes,
    dwelling_areas: list[tuple[str, str]],
    rng: np.random.Generator,
    n_households: int = 600,
) -> bytes:
    """Ten years of placements (2016–2025): one row per placed person, with at most one move.

    Integration periods are five years, so the periods of the first five cohorts end within the
    history and the retention report has rates for 2021–2025 (a baseline and a report year).
    Who moves out, and when, follows the documented relation of
    :mod:`placement.demo_history` (calibrated to 81 % staying 3 years and 67 % staying 5).
    """
    from placement.demo_history import HISTORY_HEADER, history_rows

    rows = history_rows(dwellings_csv, stops_txt, dwelling_areas, _household_sizes, rng,
                        start=dt.date(HISTORY_END.year - 9, 1, 1), end=HISTORY_END,
                        centre=CENTRE_LAT_LON, n_households=n_households)
    return _csv_bytes(HISTORY_HEADER, rows)


# --------------------------------------------------------------------------------------------
# Geodata (GeoPackage)
# --------------------------------------------------------------------------------------------
def _gpkg_layers(
    boundary: Polygon, areas: list[tuple[str, str, int, int, Polygon]], designated: Polygon
) -> dict[str, gpd.GeoDataFrame]:
    """Return the three layers in EPSG:25832, coordinates rounded to centimetres."""
    to_utm = Transformer.from_crs(STORAGE_CRS, WORK_CRS, always_xy=True)
    e0, n0 = to_utm.transform(CENTRE_LAT_LON[1], CENTRE_LAT_LON[0])

    def utm(geom: shapely.Geometry) -> shapely.Geometry:
        moved = shapely.transform(geom, lambda xy: np.round(xy + np.array([e0, n0]), 2))
        return shapely.make_valid(moved) if not moved.is_valid else moved

    return {
        "boundary": gpd.GeoDataFrame(
            {"name": [f"{MUNICIPALITY_NAME} Kommune"], "code": [MUNICIPALITY_CODE]},
            geometry=[utm(boundary)],
            crs=WORK_CRS,
        ),
        "local_areas": gpd.GeoDataFrame(
            {
                "area_id": [a[0] for a in areas],
                "name": [a[1] for a in areas],
                "population": [a[2] for a in areas],
                "integration_residents": [a[3] for a in areas],
            },
            geometry=[utm(a[4]) for a in areas],
            crs=WORK_CRS,
        ),
        "designated_areas": gpd.GeoDataFrame(
            {"designated_id": ["U1"], "name": ["Engparken"], "kind": ["vulnerable"]},
            geometry=[utm(designated)],
            crs=WORK_CRS,
        ),
    }


# --------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------
def _generate(seed: int) -> tuple[dict[str, bytes], dict[str, gpd.GeoDataFrame]]:
    rng = np.random.default_rng(seed)
    world = _build_world(rng)
    anchors = _add_amenities(world, rng)
    gtfs, _ = _transit(world, rng)
    plots = _add_plots(world, rng)
    designated = _designated_polygon()
    for plot in plots:
        if designated.contains(Point(plot.xy)):
            plot.kind = "block"
    _add_buildings(world, plots, rng)
    to_ll = _local_to_lat_lon()
    boundary = _boundary(np.array(world.osm.xy), rng)
    areas = _areas(boundary, world.villages, rng)
    dwellings, dwelling_areas = _dwellings(plots, areas, designated, to_ll, rng)
    anchor_pts = [p for key in sorted(anchors) for p in anchors[key]]
    files = {
        "dataset.toml": _manifest(),
        "streets.osm.bz2": _osm_bytes(world.osm, to_ll(np.array(world.osm.xy))),
        "gtfs.zip": _zip_bytes(gtfs),
        "dwellings.csv": dwellings,
        "households.csv": _households(anchor_pts, to_ll, rng),
        "residence_history.csv": _history(dwellings, gtfs["stops.txt"], dwelling_areas, rng),
    }
    return files, _gpkg_layers(boundary, areas, designated)


def generate_demo(out: str | Path = DEFAULT_DEMO_DIR, *, seed: int = 42) -> Path:
    """Write the fictional demo municipality (Kildeholm Kommune, code 0999) into ``out``.

    The same seed gives the same bytes in every file. Files: ``dataset.toml``,
    ``municipality.gpkg`` (layers ``boundary``, ``local_areas``, ``designated_areas``,
    EPSG:25832), ``streets.osm.bz2`` (streets, buildings, amenities), ``gtfs.zip`` (one train
    line, five bus lines, 2026-2027), ``dwellings.csv``, ``households.csv`` and
    ``residence_history.csv``. Each file is written to a temporary name and then renamed, so
    a failed run leaves the previous files in place.

    Parameters
    ----------
    out : str or Path
        Folder to write into (created when missing); existing files of the same names are
        replaced, other files are left alone.
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    Path
        The folder written (absolute).
    """
    started = time.perf_counter()
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    files, layers = _generate(seed)
    tmp_gpkg = out / f".tmp-{GPKG_NAME}"
    tmp_gpkg.unlink(missing_ok=True)
    try:
        _write_gpkg(tmp_gpkg, layers)
        for name, data in files.items():
            tmp = out / f".{name}.tmp"
            tmp.write_bytes(data)
            tmp.replace(out / name)
        tmp_gpkg.replace(out / GPKG_NAME)
    finally:
        tmp_gpkg.unlink(missing_ok=True)
    logger.info(
        "demo dataset (seed %d) written to %s in %.1f s", seed, out, time.perf_counter() - started
    )
    return out
