"""Warnings about a dataset: things that do not stop a run but change what its numbers mean.

``placement validate`` lists problems (errors: exit 1) and, after them, warnings (exit 0): the
parts of the data that leave a score term unknown, and what follows for the scores. Each topic
is one function that takes a :class:`CheckContext` and returns a list of
:class:`DataWarning`; :data:`WARNING_CHECKS` lists them in the order they are printed. A new
topic is one more function appended to that tuple (or passed to :func:`run_checks`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import geopandas as gpd

    from placement.dataset import Manifest

__all__ = [
    "WARNING_CHECKS",
    "CheckContext",
    "DataWarning",
    "amenity_warnings",
    "boundary_warnings",
    "gtfs_missing_warnings",
    "network_warnings",
    "population_warnings",
    "run_checks",
]

logger = logging.getLogger(__name__)

#: Ids named in one warning at most (then "and N more").
MAX_IDS = 10

#: What a category without any place leaves unknown.
_CATEGORY_TERMS = {
    "school": "the family term for children 6-16",
    "daycare": "the family term for children 0-5",
    "association": "part of the community term",
    "library_culture": "part of the community term",
    "stop": "the walk to a stop in the transit term",
    "jobcenter": "the public-transport time to the jobcenter",
    "language_school": "the public-transport time to the language school",
    "upper_secondary": "the public-transport time to upper-secondary education",
    "supermarket": "the walk to a supermarket (shown, not scored)",
    "doctor": "the walk to a doctor (shown, not scored)",
}


@dataclass(frozen=True, slots=True)
class DataWarning:
    """One warning: a topic, the message in words, and the ids it concerns.

    Attributes
    ----------
    topic : str
        Short key, e.g. ``osm_coverage``, ``gtfs``.
    message : str
        What is the matter and what follows for the scores.
    ids : tuple of str
        Dwellings (or other rows) concerned, when any.
    """

    topic: str
    message: str
    ids: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"warning: {self.message}"


@dataclass
class CheckContext:
    """What the warning checks may look at (any part may be None when it could not be read).

    Attributes
    ----------
    manifest : Manifest
    boundary, areas, dwellings : geopandas.GeoDataFrame or None
    households : pandas.DataFrame or None
    graph : WalkNetwork or networkx.MultiDiGraph or None
        The walk network (deep checks only).
    amenities : geopandas.GeoDataFrame or None
        The OSM amenities (deep checks only).
    feed : gtfs_kit.Feed or None
        The GTFS feed (deep checks only, when given and readable).
    extra : dict
        Room for what further checks need.
    """

    manifest: Manifest
    boundary: gpd.GeoDataFrame | None = None
    areas: gpd.GeoDataFrame | None = None
    dwellings: gpd.GeoDataFrame | None = None
    households: pd.DataFrame | None = None
    graph: Any = None
    amenities: gpd.GeoDataFrame | None = None
    feed: Any = None
    deep: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _ids_text(ids: Sequence[str]) -> str:
    shown = ", ".join(str(i) for i in ids[:MAX_IDS])
    more = len(ids) - MAX_IDS
    return shown + (f" and {more} more" if more > 0 else "")


def boundary_warnings(ctx: CheckContext) -> list[DataWarning]:
    """Warn about a boundary merged from several features and dwellings just outside it."""
    out: list[DataWarning] = []
    b = ctx.boundary
    if b is not None and int(b.attrs.get("merged_features", 1)) > 1:
        out.append(DataWarning(
            "boundary",
            f"the boundary file {ctx.manifest.boundary.file.name} holds "
            f"{b.attrs['merged_features']} features and no municipality code field "
            "(KOMKODE): they were merged into one municipality; if the file holds several "
            "municipalities, set [boundary] code_field"))
    d = ctx.dwellings
    if b is not None and d is not None and len(d) and ctx.manifest.tolerance_m > 0:
        from placement.crs import WORK_CRS

        area = b.to_crs(WORK_CRS).geometry.union_all()
        pts = d.geometry.to_crs(WORK_CRS)
        dist = pts.distance(area).to_numpy()
        near = np.flatnonzero(dist > 0)
        if len(near):
            ids = [str(d["dwelling_id"].iloc[i]) for i in near]
            out.append(DataWarning(
                "boundary_tolerance",
                f"{len(near)} dwelling(s) lie up to {dist[near].max():.0f} m outside the "
                f"municipality boundary and are accepted ([dwellings] tolerance_m = "
                f"{ctx.manifest.tolerance_m:g}): {_ids_text(ids)}", tuple(ids)))
    return out


def population_warnings(ctx: CheckContext) -> list[DataWarning]:
    """No population per local area: caps off, spread over available dwellings."""
    a = ctx.areas
    if a is None or "population_estimated" not in a.columns or not a["population_estimated"].any():
        return []
    from placement.dataset import POPULATION_FALLBACK_WORDS

    return [DataWarning("population", POPULATION_FALLBACK_WORDS + "; add population_file to "
                        "[areas] (e.g. the Statistikbanken export of population by parish)")]


def network_warnings(ctx: CheckContext) -> list[DataWarning]:
    """Dwellings outside the OSM coverage, off the walk network or near only a small piece."""
    if ctx.graph is None or ctx.dwellings is None or not len(ctx.dwellings):
        return []
    from placement.accessibility import WALK_UNKNOWN_REASONS, _points_xy, osm_coverage
    from placement.network import (
        DEFAULT_MAX_SNAP_M,
        DEFAULT_MIN_COMPONENT_M,
        WalkNetwork,
    )

    net = ctx.graph if isinstance(ctx.graph, WalkNetwork) else WalkNetwork.from_graph(ctx.graph)
    xy = _points_xy(ctx.dwellings)
    main = net.snap_to_edges(xy, edge_mask=net.component_edge_mask()).dist_m
    near = net.snap_to_edges(xy).dist_m
    reason = np.full(len(xy), "", dtype=object)
    reason[main > DEFAULT_MAX_SNAP_M] = "off_network"
    reason[(main > DEFAULT_MAX_SNAP_M) & (near <= DEFAULT_MAX_SNAP_M)] = "isolated_path"
    coverage = osm_coverage(ctx.manifest.osm_file, net)
    if coverage is not None:
        import geopandas as gpd
        import shapely

        from placement.crs import STORAGE_CRS, WORK_CRS

        cov = gpd.GeoSeries([coverage], crs=STORAGE_CRS).to_crs(WORK_CRS).iloc[0]
        reason[~shapely.contains_xy(cov, xy[:, 0], xy[:, 1])] = "outside_osm_coverage"
    ids_all = ctx.dwellings["dwelling_id"].astype(str).to_numpy()
    n = len(xy)
    out: list[DataWarning] = []
    for key, words in WALK_UNKNOWN_REASONS.items():
        ids = [str(i) for i in ids_all[reason == key]]
        if ids:
            out.append(DataWarning(
                key,
                f"{len(ids)} of {n} dwellings lie {words}: their walk and transit terms are "
                f"unknown (no data), scored as the policy's [unknown] says (default: left out, "
                f"weights renormalised over the known terms): {_ids_text(ids)}", tuple(ids)))
    pieces = net.n_small_pieces(DEFAULT_MIN_COMPONENT_M)
    if pieces:
        out.append(DataWarning(
            "small_pieces",
            f"the walk network has {pieces} small piece(s) of path (under "
            f"{DEFAULT_MIN_COMPONENT_M:.0f} m in all) not joined to the rest: no dwelling or "
            "place is snapped onto them"))
    return out


def amenity_warnings(ctx: CheckContext) -> list[DataWarning]:
    """Amenity categories with no place at all in the OSM data."""
    if ctx.amenities is None:
        return []
    from placement.schema import AMENITY_CATEGORIES

    present = set(ctx.amenities["category"].astype(str)) if len(ctx.amenities) else set()
    missing = [c for c in AMENITY_CATEGORIES if c not in present]
    if ctx.feed is not None and "stop" in missing:
        missing.remove("stop")  # the stops come from the timetable
    if not missing:
        return []
    what = "; ".join(f"{c}: {_CATEGORY_TERMS.get(c, 'its walk time')}" for c in missing)
    return [DataWarning(
        "amenities",
        f"no place of {len(missing)} categor{'y' if len(missing) == 1 else 'ies'} in the "
        f"OpenStreetMap data ({', '.join(missing)}): these are unknown (no data) for every "
        f"dwelling, never scored 0 ({what}); add the places to OSM or to the extract",
        tuple(missing))]


def gtfs_missing_warnings(ctx: CheckContext) -> list[DataWarning]:
    """No GTFS feed: the timetable parts of the transit term are unknown."""
    if ctx.manifest.gtfs_file is not None:
        return []
    return [DataWarning(
        "gtfs",
        "no GTFS feed ([gtfs] in dataset.toml): departures per hour and public-transport "
        "times are unknown (no data) for every dwelling; the transit term is measured from "
        "the walk to the nearest OSM stop only (Rejseplanen publishes a national feed)")]


#: The warning topics, in the order ``placement validate`` prints them.
WARNING_CHECKS: tuple[Callable[[CheckContext], list[DataWarning]], ...] = (
    boundary_warnings,
    population_warnings,
    network_warnings,
    amenity_warnings,
    gtfs_missing_warnings,
)


def run_checks(
    ctx: CheckContext,
    checks: Iterable[Callable[[CheckContext], list[DataWarning]]] | None = None,
) -> list[DataWarning]:
    """Run warning checks; a check that fails is logged and skipped (warnings never stop).

    Parameters
    ----------
    ctx : CheckContext
        The loaded parts.
    checks : iterable of callables, optional
        Default :data:`WARNING_CHECKS`.

    Returns
    -------
    list of DataWarning
    """
    out: list[DataWarning] = []
    for check in WARNING_CHECKS if checks is None else checks:
        try:
            out.extend(check(ctx))
        except Exception:  # a broken check must not hide the others or stop validation
            logger.exception("warning check %s failed", getattr(check, "__name__", check))
    return out
