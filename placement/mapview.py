"""The planner's map: a ``folium.Map`` with toggleable layers, that also works without internet.

:func:`build_map` draws, each as a layer in the layer control:

* local areas shaded by the load on their cap (or by population when no proposal exists yet);
* designated areas (dashed outline, kind in the tooltip) and the municipal boundary;
* public-transport stops sized by departures per hour 06–20 and lines drawn from the GTFS shapes
  (or from the stop sequences when the feed has no shapes), coloured per route;
* amenities, one layer per category;
* dwellings coloured by a score, clustered so that thousands of points stay responsive;
* proposals with a popup (household, size, score and its parts, the alternatives).

Every text shown goes through :func:`placement.i18n.t` (Danish or English).

Offline use: folium loads Leaflet, jQuery, Bootstrap and more from public CDNs. With
``asset_base`` set, the map references only files under that URL: Leaflet, jQuery and
Leaflet.markercluster, installed from the npm registry with ``npm ci --prefix app`` (versions in
``app/package.json``) and copied into ``app/static/vendor`` by :func:`install_assets`. Streamlit
serves ``app/static`` at ``/app/static`` when ``server.enableStaticServing = true``, hence the
default base :data:`DEFAULT_ASSET_BASE`. Bootstrap and Font Awesome are not needed because the map
uses no ``folium.Icon`` markers (only circle markers and GeoJSON layers).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import math
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import folium
import numpy as np
import pandas as pd
from branca.colormap import LinearColormap
from branca.element import MacroElement
from folium.plugins import FastMarkerCluster
from folium.template import Template

from placement._errors import ConfigError
from placement.i18n import LABELS, percent, t
from placement.schema import AMENITY_CATEGORIES

if TYPE_CHECKING:
    import geopandas as gpd
    import gtfs_kit

    from placement.config import Policy
    from placement.dataset import Dataset

__all__ = [
    "CDN_BASE",
    "DEFAULT_ASSET_BASE",
    "FOCUS_ZOOM",
    "PACKAGES",
    "TILE_PRESETS",
    "TileSource",
    "asset_urls",
    "build_map",
    "household_at",
    "household_view",
    "install_assets",
    "missing_assets",
    "proposal_layer",
    "proposal_positions",
    "route_lines",
    "selection_layer",
    "stop_service_table",
    "tile_source",
    "value_colormap",
]

logger = logging.getLogger(__name__)

# ----------------------------------------------------------------------------------------------
# Front-end assets
# ----------------------------------------------------------------------------------------------

#: URL under which Streamlit serves ``app/static/vendor`` (``server.enableStaticServing``).
DEFAULT_ASSET_BASE = "/app/static/vendor"
#: Where the same files are fetched from when no ``asset_base`` is given (needs internet).
CDN_BASE = "https://cdn.jsdelivr.net/npm"
#: npm packages and the exact versions pinned in ``app/package.json``.
PACKAGES: dict[str, str] = {
    "leaflet": "1.9.4",
    "jquery": "3.7.1",
    "leaflet.markercluster": "1.5.3",
    "leaflet.sync": "0.2.4",
}
# (folium resource name, package, path in the package, "js" | "css")
_MAP_ASSETS: tuple[tuple[str, str, str, str], ...] = (
    ("leaflet", "leaflet", "dist/leaflet.js", "js"),
    ("jquery", "jquery", "dist/jquery.min.js", "js"),
    ("leaflet_css", "leaflet", "dist/leaflet.css", "css"),
)
_CLUSTER_ASSETS: tuple[tuple[str, str, str, str], ...] = (
    ("markerclusterjs", "leaflet.markercluster", "dist/leaflet.markercluster.js", "js"),
    ("markerclustercss", "leaflet.markercluster", "dist/MarkerCluster.css", "css"),
    ("markerclusterdefaultcss", "leaflet.markercluster", "dist/MarkerCluster.Default.css", "css"),
)
# two maps that pan and zoom together (the What-if comparison)
_SYNC_ASSETS: tuple[tuple[str, str, str, str], ...] = (
    ("Leaflet.Sync", "leaflet.sync", "L.Map.Sync.js", "js"),
)
# images that leaflet.css refers to (the layer-control icon, default marker images)
_LEAFLET_IMAGES = ("layers.png", "layers-2x.png", "marker-icon.png", "marker-icon-2x.png",
                   "marker-shadow.png")
#: Files copied by :func:`install_assets`, as (package, path inside the package).
VENDOR_FILES: tuple[tuple[str, str], ...] = (
    *((pkg, path) for _, pkg, path, _ in (*_MAP_ASSETS, *_CLUSTER_ASSETS, *_SYNC_ASSETS)),
    *(("leaflet", f"dist/images/{name}") for name in _LEAFLET_IMAGES),
)


def _asset_url(package: str, path: str, base: str | None) -> str:
    if base is None:
        return f"{CDN_BASE}/{package}@{PACKAGES[package]}/{path}"
    return f"{base.rstrip('/')}/{package}/{path}"


def asset_urls(asset_base: str | None, *, cluster: bool = False, sync: bool = False
               ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """JavaScript and CSS resources of the map, as folium's ``(name, url)`` lists.

    Parameters
    ----------
    asset_base
        URL of the vendor folder (for example :data:`DEFAULT_ASSET_BASE`); the file of package
        ``p`` at ``dist/x.js`` is then ``{asset_base}/p/dist/x.js``. ``None``: the same pinned
        versions from :data:`CDN_BASE`.
    cluster
        Return the Leaflet.markercluster resources instead of the map's own.
    sync
        Return the Leaflet.Sync resources (two maps that move together) instead.

    Returns
    -------
    tuple of (list, list)
        ``(default_js, default_css)``.

    Examples
    --------
    >>> js, css = asset_urls("/app/static/vendor")
    >>> js[0]
    ('leaflet', '/app/static/vendor/leaflet/dist/leaflet.js')
    """
    assets = _SYNC_ASSETS if sync else _CLUSTER_ASSETS if cluster else _MAP_ASSETS
    js = [(name, _asset_url(pkg, path, asset_base)) for name, pkg, path, kind in assets
          if kind == "js"]
    css = [(name, _asset_url(pkg, path, asset_base)) for name, pkg, path, kind in assets
           if kind == "css"]
    return js, css


def missing_assets(vendor_dir: str | Path) -> list[str]:
    """List the vendor files absent from ``vendor_dir`` (empty when the map can work offline).

    Parameters
    ----------
    vendor_dir
        Folder served at the asset base, normally ``app/static/vendor``.

    Returns
    -------
    list of str
        Missing files as ``package/path``, in the order of ``VENDOR_FILES``.
    """
    root = Path(vendor_dir)
    return [f"{pkg}/{path}" for pkg, path in VENDOR_FILES if not (root / pkg / path).is_file()]


def install_assets(app_dir: str | Path, *, vendor_dir: str | Path | None = None) -> list[Path]:
    """Copy the map's front-end files from ``app/node_modules`` into ``app/static/vendor``.

    Run ``npm ci --prefix app`` first (it installs the versions locked in
    ``app/package-lock.json``). Files already up to date are left alone, so calling this at every
    app start is cheap.

    Parameters
    ----------
    app_dir
        The folder holding ``package.json`` and ``node_modules``.
    vendor_dir
        Target folder; default ``{app_dir}/static/vendor``.

    Returns
    -------
    list of Path
        The vendor files (all of ``VENDOR_FILES``), whether copied now or already present.

    Raises
    ------
    ConfigError
        If a package is not installed, has another version than :data:`PACKAGES` pins, or lacks
        a file; the message says which and how to fix it.
    """
    app = Path(app_dir)
    modules = app / "node_modules"
    target = Path(vendor_dir) if vendor_dir is not None else app / "static" / "vendor"
    problems: list[str] = []
    for pkg, version in PACKAGES.items():
        manifest = modules / pkg / "package.json"
        if not manifest.is_file():
            problems.append(f"{pkg} is not installed in {modules}")
            continue
        found = json.loads(manifest.read_text(encoding="utf-8")).get("version")
        if found != version:
            problems.append(f"{pkg}: expected version {version}, found {found}")
    for pkg, path in VENDOR_FILES:
        if (modules / pkg / "package.json").is_file() and not (modules / pkg / path).is_file():
            problems.append(f"{pkg}/{path} is missing in {modules}")
    if problems:
        msg = ("map assets: " + "; ".join(problems)
               + f". Run `npm ci --prefix {app}` (versions are locked in app/package-lock.json).")
        raise ConfigError(msg)
    out: list[Path] = []
    copied = 0
    for pkg, path in VENDOR_FILES:
        src = modules / pkg / path
        dst = target / pkg / path
        out.append(dst)
        data = src.read_bytes()
        if dst.is_file() and dst.read_bytes() == data:
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.name}.tmp")
        shutil.copyfile(src, tmp)
        tmp.replace(dst)
        copied += 1
    logger.info("map assets in %s: %s files, %s copied", target, len(out), copied)
    return out


# ----------------------------------------------------------------------------------------------
# Tiles
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TileSource:
    """A background map.

    Attributes
    ----------
    url : str
        ``kind="xyz"``: a URL template with ``{z}``, ``{x}``, ``{y}`` in Web Mercator;
        ``kind="wms"``: the WMS endpoint (queried in EPSG:3857).
    attribution : str
        Credit shown in the map corner (required by the tile providers' terms).
    kind : str
        ``"xyz"`` or ``"wms"``.
    layers : str
        WMS layer name(s) (``kind="wms"`` only).
    max_zoom : int
        Highest zoom level offered.
    """

    url: str
    attribution: str
    kind: str = "xyz"
    layers: str = ""
    max_zoom: int = 19


#: Ready-made background maps. ``{token}`` is replaced by :func:`tile_source`'s ``token``.
TILE_PRESETS: dict[str, TileSource] = {
    "openstreetmap": TileSource(
        url="https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        attribution='&copy; <a href="https://www.openstreetmap.org/copyright">'
                    "OpenStreetMap</a> contributors",
    ),
    "dataforsyningen_skaermkort": TileSource(
        url="https://api.dataforsyningen.dk/topo_skaermkort_DAF?token={token}",
        attribution="Skærmkort &copy; Klimadatastyrelsen (Dataforsyningen)",
        kind="wms",
        layers="dtk_skaermkort",
        max_zoom=20,
    ),
}


def tile_source(tiles: str, *, attribution: str | None = None,
                token: str | None = None) -> TileSource:
    """Resolve a preset name or a URL template into a :class:`TileSource`.

    Parameters
    ----------
    tiles
        A key of :data:`TILE_PRESETS`, or an XYZ URL template containing ``{z}/{x}/{y}``.
    attribution
        Credit for a URL template (required then); overrides a preset's credit.
    token
        Access token filled into ``{token}`` (Dataforsyningen presets need one; it is free from
        dataforsyningen.dk and ends up in the page the browser loads).

    Returns
    -------
    TileSource

    Raises
    ------
    ConfigError
        Unknown preset, a URL without ``{z}``/``{x}``/``{y}``, a missing attribution or token.

    Examples
    --------
    >>> tile_source("openstreetmap").kind
    'xyz'
    """
    if tiles in TILE_PRESETS:
        src = TILE_PRESETS[tiles]
    elif all(part in tiles for part in ("{z}", "{x}", "{y}")):
        if not attribution:
            msg = "tiles: a tile URL template needs an attribution (the provider's credit line)"
            raise ConfigError(msg)
        src = TileSource(url=tiles, attribution=attribution)
    else:
        msg = (f"tiles: expected one of {', '.join(TILE_PRESETS)} or a URL template with "
               f"{{z}}/{{x}}/{{y}}, got {tiles!r}")
        raise ConfigError(msg)
    url = src.url
    if "{token}" in url:
        if not token:
            msg = f"tiles: {tiles} needs a token (free from dataforsyningen.dk)"
            raise ConfigError(msg)
        url = url.replace("{token}", token)
    return TileSource(url=url, attribution=attribution or src.attribution, kind=src.kind,
                      layers=src.layers, max_zoom=src.max_zoom)


# ----------------------------------------------------------------------------------------------
# Colours and small helpers
# ----------------------------------------------------------------------------------------------

#: Low → high colours of value colormaps (red, yellow, green: colour-blind tolerant ColorBrewer).
VALUE_COLORS = ("#d73027", "#fee08b", "#1a9850")
#: Light → dark colours of the area shading.
AREA_COLORS = ("#f7fbff", "#6baed6", "#08306b")
_LOAD_COLORS = ("#ffffcc", "#fd8d3c", "#bd0026")
#: Colours of amenity categories (same order as ``schema.AMENITY_CATEGORIES``), then routes.
PALETTE = ("#1f78b4", "#33a02c", "#e31a1c", "#ff7f00", "#6a3d9a", "#b15928", "#a6cee3",
           "#b2df8a", "#fb9a99", "#fdbf6f", "#cab2d6", "#8dd3c7")
_NEUTRAL = "#636363"
#: Fixed colour index per amenity category, so a category keeps its colour across maps.
AMENITY_INDEX: dict[str, int] = {c: i for i, c in enumerate(AMENITY_CATEGORIES)}
_PROPOSAL_COLOR = "#7a0177"
#: Ring colour of a proposal by its decision status (``store.proposal_status``).
STATUS_COLORS: dict[str, str] = {"proposed": _PROPOSAL_COLOR, "approved": "#1b7837",
                                 "locked": "#00441b", "rejected": "#b2182b"}
#: Letter on an amenity's square symbol, per category.
AMENITY_SYMBOLS: dict[str, str] = {
    "school": "S", "upper_secondary": "U", "daycare": "D", "association": "F",
    "library_culture": "B", "supermarket": "K", "doctor": "L", "jobcenter": "J",
    "language_school": "C", "stop": "H"}
#: Grey marker clusters: the counts never borrow the red-yellow-green of the scores.
_CLUSTER_ICON = """function (cluster) {
    var n = cluster.getChildCount();
    var size = n < 10 ? 26 : (n < 100 ? 32 : 38);
    return L.divIcon({html: '<div style="width:' + size + 'px;height:' + size + 'px;'
        + 'line-height:' + size + 'px;border-radius:50%;background:rgba(99,99,99,0.75);'
        + 'color:#fff;font:bold 11px sans-serif;text-align:center;border:2px solid #fff">'
        + n + '</div>', className: 'placement-cluster', iconSize: L.point(size, size)});
}"""
#: Colour of a dwelling whose value is unknown (no data): light grey, never a value colour.
NO_DATA_COLOR = "#d9d9d9"


def value_colormap(values: Sequence[float] | np.ndarray,
                   colors: Sequence[str] = VALUE_COLORS) -> LinearColormap:
    """Linear colormap over the finite range of ``values`` (lowest → first colour).

    The highest value gets exactly the last colour. A constant (or empty) series gets the range
    ``[v, v + 1]`` so that it still has a valid scale.

    Examples
    --------
    >>> cm = value_colormap([0.2, 0.5, 0.9])
    >>> cm.rgb_hex_str(0.9) == cm.rgb_hex_str(cm.vmax)
    True
    """
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    lo = float(arr.min()) if arr.size else 0.0
    hi = float(arr.max()) if arr.size else 1.0
    if hi <= lo:
        hi = lo + 1.0
    return LinearColormap(list(colors), vmin=lo, vmax=hi)


def _fmt(value: object, digits: int = 2) -> str:
    if value is None or value is pd.NA:
        return "–"
    if isinstance(value, float | np.floating):
        if not math.isfinite(float(value)):
            return "–"
        return f"{float(value):.{digits}f}"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}".replace(",", "\u202f")
    return str(value)


def _esc(value: object) -> str:
    # Escape for HTML that folium puts inside a JavaScript template literal (popups, plain
    # tooltips): besides < > & and quotes, a backquote ends the literal, "${" starts an
    # expression and a backslash an escape sequence ("\\x3c" is "<"): all become references.
    return (html.escape(_fmt(value)).replace("\\", "&#92;").replace("`", "&#96;")
            .replace("$", "&#36;"))


def _column(df: pd.DataFrame, *names: str) -> pd.Series | None:
    for name in names:
        if name in df.columns:
            return df[name]
    return None


def _by_id(df: pd.DataFrame, id_col: str) -> pd.DataFrame:
    """Frame indexed by ``id_col`` as str (from a column or the index)."""
    out = df.set_index(id_col) if id_col in df.columns else df.copy()
    out.index = out.index.astype(str)
    return out


class _Legend(MacroElement):
    """A Leaflet control in the bottom-left corner holding plain HTML (no external assets)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control({position: "bottomleft"});
        {{ this.get_name() }}.onAdd = function (map) {
            var div = L.DomUtil.create("div", "placement-legend");
            div.innerHTML = {{ this.html|tojson }};
            L.DomEvent.disableClickPropagation(div);
            L.DomEvent.disableScrollPropagation(div);
            return div;
        };
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, title: str, body: str, *, open_: bool = False) -> None:
        super().__init__()
        self._name = "Legend"
        # a <details> element: the legend folds away to its title and never covers the map
        self.html = (
            '<details class="placement-legend-box"' + (" open" if open_ else "") + ' style="'
            'background:rgba(255,255,255,0.9);padding:4px 8px;border-radius:4px;'
            'font:12px/1.4 sans-serif;max-width:240px;max-height:45vh;overflow:auto;'
            'box-shadow:0 0 4px rgba(0,0,0,0.3)">'
            f'<summary style="cursor:pointer"><b>{html.escape(title)}</b></summary>'
            + body + "</details>"
        )


class _ProposalMarkers(MacroElement):
    """The proposal rings of a layer, drawn by a loop from one JSON list (fast to build).

    Each row is ``[lat, lon, colour, tooltip HTML, popup HTML, selected]``; the HTML is escaped
    by the caller and passed as JSON data, never inside a JavaScript template literal.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function () {
            var rows = {{ this.rows|tojson }};
            for (var i = 0; i < rows.length; i++) {
                var r = rows[i];
                if (r[5]) {  // the selected household: a wide orange ring under its own
                    L.circleMarker([r[0], r[1]], {radius: 15, color: "#ff7f00", weight: 5,
                                                  fill: false, interactive: false})
                        .addTo({{ this._parent.get_name() }});
                }
                L.circleMarker([r[0], r[1]], {radius: 9, color: r[2], weight: 3, fill: true,
                                              fillOpacity: 0.0})
                    .bindTooltip(r[3]).bindPopup(r[4], {maxWidth: 320})
                    .addTo({{ this._parent.get_name() }});
            }
        })();
        {% endmacro %}
    """)

    def __init__(self, rows: list[list[Any]]) -> None:
        super().__init__()
        self._name = "ProposalMarkers"
        self.rows = rows


class _MetricScale(MacroElement):
    """A scale bar in metres and kilometres only (Leaflet's default also shows miles)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        L.control.scale({metric: true, imperial: false}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self) -> None:
        super().__init__()
        self._name = "MetricScale"


def _gradient_html(title: str, cmap: LinearColormap, digits: int = 2) -> str:
    stops = ", ".join(cmap.rgb_hex_str(cmap.vmin + (cmap.vmax - cmap.vmin) * k / 4)
                      for k in range(5))
    return (f"<div><b>{html.escape(title)}</b>"
            f'<div style="height:10px;background:linear-gradient(to right, {stops})"></div>'
            f'<div style="display:flex;justify-content:space-between">'
            f"<span>{cmap.vmin:.{digits}f}</span><span>{cmap.vmax:.{digits}f}</span></div></div>")


def _amenity_icon_html(colour: str, letter: str) -> str:
    return (f'<div style="width:14px;height:14px;background:{colour};color:#fff;'
            f'border:1px solid #252525;border-radius:2px;font:bold 10px/14px sans-serif;'
            f'text-align:center">{html.escape(letter)}</div>')


def _symbol_html(colour: str, letter: str, text: str) -> str:
    return (f'<div><span style="display:inline-block;width:12px;height:12px;margin-right:4px;'
            f'background:{colour};color:#fff;border-radius:2px;font:bold 9px/12px sans-serif;'
            f'text-align:center;vertical-align:middle">{html.escape(letter)}</span>'
            f"{html.escape(text)}</div>")


def _swatch_html(color: str, text: str, *, dashed: bool = False, round_: bool = True) -> str:
    border = f"2px {'dashed' if dashed else 'solid'} {color}"
    fill = "transparent" if dashed else color
    radius = "50%" if round_ else "0"
    return (f'<div><span style="display:inline-block;width:10px;height:10px;margin-right:4px;'
            f'border:{border};background:{fill};border-radius:{radius}"></span>'
            f"{html.escape(text)}</div>")


_Line = list[tuple[float, float]]


def _feature_collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    # GeoJsonTooltip puts property values into innerHTML unescaped: escape every text here
    for feature in features:
        props = feature.get("properties") or {}
        for key, value in props.items():
            if key != "_style" and isinstance(value, str):
                props[key] = html.escape(value)
    return {"type": "FeatureCollection", "features": features}


def _geo_features(gdf: gpd.GeoDataFrame, props: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"type": "Feature", "id": str(i), "properties": p, "geometry": geom.__geo_interface__}
        for i, (geom, p) in enumerate(zip(gdf.geometry, props, strict=True))
        if geom is not None and not geom.is_empty
    ]


def _style_from_props(feature: dict[str, Any]) -> dict[str, Any]:
    return feature["properties"]["_style"]


def _tooltip(fields: list[str], aliases: list[str]) -> folium.GeoJsonTooltip:
    return folium.GeoJsonTooltip(fields=fields, aliases=aliases, sticky=True)


# ----------------------------------------------------------------------------------------------
# Stops and lines from a GTFS feed
# ----------------------------------------------------------------------------------------------


def stop_service_table(feed: gtfs_kit.Feed, service_date: dt.date | str | None = None, *,
                       start_hour: int = 6, end_hour: int = 20) -> pd.DataFrame:
    """Departures per hour at every stop on one service date.

    Parameters
    ----------
    feed
        The GTFS feed.
    service_date
        Service date (``datetime.date``, ``"YYYY-MM-DD"`` or ``"YYYYMMDD"``); default
        ``placement.accessibility.default_service_date(feed)`` (a Tuesday or Wednesday).
    start_hour, end_hour
        Time window ``[start_hour, end_hour)`` in hours after midnight.

    Returns
    -------
    pandas.DataFrame
        One row per stop with coordinates, sorted by ``stop_id``: ``stop_id``, ``stop_name``
        (``""`` when absent), ``stop_lat``, ``stop_lon`` (degrees), ``departures`` (vehicles
        leaving the stop in the window), ``departures_per_hour`` (departures / window hours).
    """
    from placement import transit
    from placement.accessibility import default_service_date

    day = service_date if service_date is not None else default_service_date(feed)
    tt = transit.build_timetable(feed, day)
    deps = transit.stop_departures(tt, start_hour * 3600, end_hour * 3600)
    names = feed.stops.drop_duplicates("stop_id").set_index(
        feed.stops.drop_duplicates("stop_id")["stop_id"].astype(str))
    name_col = names["stop_name"] if "stop_name" in names.columns else pd.Series(dtype=object)
    table = pd.DataFrame({
        "stop_id": tt.stop_ids,
        "stop_name": [str(v) if pd.notna(v) else "" for v in name_col.reindex(tt.stop_ids)],
        "stop_lat": tt.stop_lat,
        "stop_lon": tt.stop_lon,
        "departures": deps,
        "departures_per_hour": deps / max(end_hour - start_hour, 1),
    })
    ok = np.isfinite(table["stop_lat"]) & np.isfinite(table["stop_lon"])
    return table[ok].reset_index(drop=True)


def route_lines(feed: gtfs_kit.Feed) -> list[tuple[str, str, str, list[_Line]]]:
    """Compute the lines of a feed's routes as the map draws them.

    Parameters
    ----------
    feed
        A GTFS feed (``placement.gtfs.load_gtfs``).

    Returns
    -------
    list of tuple
        Per route: ``(route_id, label, colour, lines)``, each line a list of ``(lon, lat)``
        (from the feed's shapes, or its stops in order where a trip has no shape). Pass it to
        :func:`build_map` as ``lines`` to draw many maps of one feed without computing it again.
    """
    return _route_lines(feed)


def _route_lines(feed: gtfs_kit.Feed) -> list[tuple[str, str, str, list[_Line]]]:
    """Per route: (route_id, label, colour, list of lines as (lon, lat) lists)."""
    routes = feed.routes.copy()
    routes["route_id"] = routes["route_id"].astype(str)
    routes = routes.sort_values("route_id", kind="stable")
    trips = feed.trips.copy()
    trips["route_id"] = trips["route_id"].astype(str)
    trips["trip_id"] = trips["trip_id"].astype(str)
    shapes = getattr(feed, "shapes", None)
    use_shapes = (shapes is not None and len(shapes) > 0 and "shape_id" in trips.columns
                  and trips["shape_id"].notna().any())
    lines_by_route: dict[str, list[_Line]] = {}
    if use_shapes:
        sh = shapes.copy()
        sh["shape_id"] = sh["shape_id"].astype(str)
        sh = sh.sort_values(["shape_id", "shape_pt_sequence"], kind="stable")
        coords = {sid: list(zip(g["shape_pt_lon"].astype(float), g["shape_pt_lat"].astype(float),
                                strict=True)) for sid, g in sh.groupby("shape_id", sort=True)}
        pairs = trips.dropna(subset=["shape_id"])[["route_id", "shape_id"]].astype(str)
        for rid, g in pairs.drop_duplicates().sort_values(["route_id", "shape_id"]).groupby(
                "route_id", sort=True):
            lines_by_route[rid] = [coords[s] for s in g["shape_id"] if s in coords
                                   and len(coords[s]) >= 2]
    # routes without a shape: draw each distinct stop sequence of their trips
    missing = set(routes["route_id"]) - {rid for rid, lines in lines_by_route.items() if lines}
    if missing:
        st = feed.stop_times[["trip_id", "stop_id", "stop_sequence"]].copy()
        st["trip_id"] = st["trip_id"].astype(str)
        st["stop_id"] = st["stop_id"].astype(str)
        st = st.sort_values(["trip_id", "stop_sequence"], kind="stable")
        stops = feed.stops.drop_duplicates("stop_id")
        pos = dict(zip(stops["stop_id"].astype(str),
                       zip(pd.to_numeric(stops["stop_lon"], errors="coerce"),
                           pd.to_numeric(stops["stop_lat"], errors="coerce"), strict=True),
                       strict=True))
        route_of = dict(zip(trips["trip_id"], trips["route_id"], strict=True))
        seen: dict[str, set[tuple[str, ...]]] = {}
        for tid, g in st.groupby("trip_id", sort=True):
            rid = route_of.get(tid)
            if rid not in missing:
                continue
            seq = tuple(g["stop_id"])
            if seq in seen.setdefault(rid, set()):
                continue
            seen[rid].add(seq)
            line = [pos[s] for s in seq if s in pos and all(map(math.isfinite, pos[s]))]
            if len(line) >= 2:
                lines_by_route.setdefault(rid, []).append(line)
    out = []
    for k, row in enumerate(routes.itertuples(index=False)):
        rid = row.route_id
        if rid not in lines_by_route or not lines_by_route[rid]:
            continue
        label = next((str(v) for v in (getattr(row, "route_short_name", None),
                                         getattr(row, "route_long_name", None))
                      if v is not None and pd.notna(v) and str(v).strip()), rid)
        colour = getattr(row, "route_color", None)
        colour = (f"#{colour}" if isinstance(colour, str) and len(colour) == 6
                  and all(c in "0123456789abcdefABCDEF" for c in colour)
                  else PALETTE[k % len(PALETTE)])
        out.append((rid, label, colour, lines_by_route[rid]))
    return out


# ----------------------------------------------------------------------------------------------
# The map
# ----------------------------------------------------------------------------------------------


def _dwelling_values(dwellings: pd.DataFrame, access: pd.DataFrame | None, color_by: str,
                     policy: Policy | None) -> tuple[np.ndarray | None, str]:
    """Value per dwelling (aligned with ``dwellings``) and the label key of what it is."""
    if access is None:
        return None, ""
    acc = _by_id(access, "dwelling_id")
    ids = dwellings["dwelling_id"].astype(str)
    if color_by in acc.columns:
        vals = pd.to_numeric(acc[color_by], errors="coerce").reindex(ids)
        key = "field.score" if color_by == "score" else f"term.{color_by}"
        return vals.to_numpy(dtype=float, na_value=np.nan), key if key in LABELS else color_by
    from placement import score
    from placement.config import Policy as _Policy

    pol = policy if policy is not None else _Policy()
    terms = score.dwelling_terms(acc, scoring=pol.scoring)
    if color_by == "score":
        n = len(terms)
        nan = np.full(n, np.nan)
        parts = {"transit": terms["transit"].to_numpy(),
                 "community": terms["community"].to_numpy(), "family": nan, "anchor": nan}
        parts["no_data"] = (np.isnan(parts["transit"]) * score.NO_DATA_BITS["transit"]
                            + np.isnan(parts["community"]) * score.NO_DATA_BITS["community"])
        vals = np.where(score.any_measured(parts, pol), score.combine(parts, pol), np.nan)
        series = pd.Series(vals, index=terms.index)
        label = "field.dwelling_score"
    elif color_by in terms.columns:
        series = terms[color_by]
        label = f"term.{color_by}"
    else:
        msg = (f"color_by: {color_by!r} is neither a column of the access table nor one of "
               f"score, {', '.join(terms.columns)}")
        raise ConfigError(msg)
    return series.reindex(ids).to_numpy(dtype=float, na_value=np.nan), label


def _alternatives_text(alternatives: pd.DataFrame | None, language: str = "da"
                       ) -> dict[str, str]:
    """Per household: its alternatives in one line (score in percent, difference in points)."""
    if alternatives is None or len(alternatives) == 0:
        return {}
    alt = alternatives.copy()
    alt["household_id"] = alt["household_id"].astype(str)
    if "rank" in alt.columns:
        alt = alt.sort_values(["household_id", "rank"], kind="stable")
    n = len(alt)
    scores = alt["score"].tolist() if "score" in alt.columns else [None] * n
    diffs = alt["score_diff"].tolist() if "score_diff" in alt.columns else [None] * n
    takers = alt["taken_by"].tolist() if "taken_by" in alt.columns else [None] * n
    out: dict[str, list[str]] = {}
    for hid, did, score, diff, taken in zip(alt["household_id"], alt["dwelling_id"].astype(str),
                                            scores, diffs, takers, strict=True):
        bits = [percent(score, language)]
        if diff is not None and pd.notna(diff):
            bits.append(percent(float(diff), language, signed=True, points=True))
        if taken is not None and pd.notna(taken):
            bits.append(t("card.alt_taken", language, household=taken))
        out.setdefault(hid, []).append(f"{did} ({', '.join(bits)})")
    return {hid: "; ".join(parts) for hid, parts in sorted(out.items())}


def proposal_positions(dataset: Dataset, proposals: pd.DataFrame, *,
                       spread_m: float = 12.0) -> pd.DataFrame:
    """Where each placed household's proposal is drawn: at its dwelling, spread when shared.

    Proposals whose dwellings share a position (one building) are put on a small circle of
    ``spread_m`` metres around it, so that each has its own marker and a click never opens
    the wrong household.

    Returns
    -------
    pandas.DataFrame
        ``household_id``, ``dwelling_id``, ``lat``, ``lon`` (drawn position), sorted by
        household id; households without a (known) dwelling are left out.
    """
    pos = dataset.dwellings.assign(
        dwelling_id=dataset.dwellings["dwelling_id"].astype(str)).set_index("dwelling_id")
    p = proposals[["household_id", "dwelling_id"]].dropna(subset=["dwelling_id"]).assign(
        household_id=lambda d: d["household_id"].astype(str),
        dwelling_id=lambda d: d["dwelling_id"].astype(str))
    p = p[p["dwelling_id"].isin(pos.index)].sort_values("household_id", kind="stable")
    lat = pos["lat"].reindex(p["dwelling_id"]).to_numpy(dtype=float)
    lon = pos["lon"].reindex(p["dwelling_id"]).to_numpy(dtype=float)
    key = pd.Series([f"{a:.5f},{b:.5f}" for a, b in zip(lat, lon, strict=True)])
    k = key.groupby(key).cumcount().to_numpy()
    n = key.map(key.value_counts()).to_numpy()
    angle = 2 * np.pi * k / np.maximum(n, 1)
    r_lat = spread_m / 111_320.0
    r_lon = spread_m / (111_320.0 * np.maximum(np.cos(np.radians(lat)), 1e-6))
    shared = n > 1
    lat = np.where(shared, lat + r_lat * np.sin(angle), lat)
    lon = np.where(shared, lon + r_lon * np.cos(angle), lon)
    return pd.DataFrame({"household_id": p["household_id"].to_numpy(),
                         "dwelling_id": p["dwelling_id"].to_numpy(), "lat": lat, "lon": lon})


def household_at(positions: pd.DataFrame, lat: float, lon: float, *,
                 tolerance_m: float = 3.0) -> str | None:
    """Return the household whose proposal marker is at (``lat``, ``lon``), or None.

    ``positions`` is :func:`proposal_positions`; the nearest marker within ``tolerance_m``.
    """
    if not len(positions):
        return None
    dy = (positions["lat"].to_numpy() - lat) * 111_320.0
    dx = (positions["lon"].to_numpy() - lon) * 111_320.0 * math.cos(math.radians(lat))
    dist = np.hypot(dx, dy)
    i = int(np.argmin(dist))
    return str(positions["household_id"].iloc[i]) if dist[i] <= tolerance_m else None


#: Zoom level the map goes to when a household is chosen outside the map (a street or two).
FOCUS_ZOOM = 15


def household_view(positions: pd.DataFrame, household_id: str | None, *,
                   zoom: int = FOCUS_ZOOM) -> tuple[tuple[float, float], int] | None:
    """Return where the map goes when a household is chosen: its proposal's marker and a zoom.

    Parameters
    ----------
    positions
        :func:`proposal_positions` (drawn positions, spread when a building is shared).
    household_id
        The chosen household; None or one without a drawn proposal gives None.
    zoom
        Zoom level to show the marker at.

    Returns
    -------
    tuple or None
        ``((lat, lon), zoom)``, the centre being the household's own (spread) marker.
    """
    if household_id is None or not len(positions):
        return None
    hit = positions[positions["household_id"].astype(str) == str(household_id)]
    if not len(hit):
        return None
    lat, lon = float(hit["lat"].iloc[0]), float(hit["lon"].iloc[0])
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    return (lat, lon), int(zoom)


def selection_layer(lat: float, lon: float, label: str) -> folium.FeatureGroup:
    """Make a layer that rings the selected proposal (added without redrawing the map)."""
    fg = folium.FeatureGroup(name=label, control=False)
    folium.CircleMarker(location=[lat, lon], radius=15, color="#ff7f00", weight=4, fill=False,
                        interactive=False).add_to(fg)
    return fg


def _proposal_popup(row: pd.Series, alt_text: str, language: str) -> str:
    lines = [
        (t("field.household", language), _esc(row.get("household_id"))),
        (t("field.dwelling", language), _esc(row.get("dwelling_id"))),
    ]
    status = row.get("status") if "status" in row.index else None
    if status is not None and pd.notna(status) and f"status.{status}" in LABELS:
        lines.append((t("col.status", language), html.escape(t(f"status.{status}", language))))
    if "persons" in row.index:
        lines.append((t("field.persons", language), _esc(row["persons"])))
    no_data = str(row["no_data"]) if "no_data" in row.index and pd.notna(row["no_data"]) else ""
    unknown = {s.strip() for s in no_data.split(",") if s.strip()}
    if "score" in row.index:
        v = row["score"]
        lines.append((t("field.score", language), html.escape(percent(v, language))))
    for term in ("transit", "community", "family", "anchor", "spread"):
        if term in row.index:
            v = row[term]
            empty = "field.no_data" if term in unknown else "field.not_applicable"
            shown = html.escape(percent(v, language) if v is not None and pd.notna(v)
                                else t(empty, language))
            lines.append((t(f"term.{term}", language), shown))
    lines.append((t("field.alternatives", language),
                  _esc(alt_text) if alt_text else html.escape(t("field.none", language))))
    rows = "".join(f"<tr><th style='text-align:left;padding-right:6px'>{html.escape(k)}</th>"
                   f"<td>{v}</td></tr>" for k, v in lines)
    return f"<table>{rows}</table>"


def _proposal_legend(statuses: set[str] | None, lang: str) -> list[str]:
    if statuses is None:
        return [_swatch_html(_PROPOSAL_COLOR, t("legend.proposal", lang), dashed=True)]
    return [_swatch_html(STATUS_COLORS[s], f"{t('legend.proposal', lang)}: "
                                           f"{t(f'status.{s}', lang).lower()}", dashed=True)
            for s in STATUS_COLORS if s in statuses]


def proposal_layer(dataset: Dataset, proposals: pd.DataFrame,
                   alternatives: pd.DataFrame | None = None,
                   language: str = "da", *, selected: str | None = None) -> folium.FeatureGroup:
    """Draw the proposals as one layer: a ring per placed household, coloured by status.

    The same layer :func:`build_map` draws; on its own it can be added to a map that is
    already shown (``streamlit_folium``'s ``feature_group_to_add``) without drawing the map
    again. ``proposals`` as for :func:`build_map`, optionally with ``status``
    (:data:`STATUS_COLORS`); positions as :func:`proposal_positions`. The ``selected``
    household gets a wide orange ring around its own.
    """
    lang = language
    alt_text = _alternatives_text(alternatives, lang)
    fg = folium.FeatureGroup(name=t("layer.proposals", lang))
    by_hh = proposals.assign(household_id=proposals["household_id"].astype(str)
                             ).drop_duplicates("household_id")
    records = dict(zip(by_hh["household_id"], by_hh.to_dict("records"), strict=True))
    rows = []
    for place in proposal_positions(dataset, proposals).itertuples(index=False):
        hid = str(place.household_id)
        row = pd.Series(records[hid])
        text = alt_text.get(hid, "")
        if not text and "alternatives" in row.index and pd.notna(row["alternatives"]):
            text = str(row["alternatives"])
        status = str(row.get("status", "proposed")) if "status" in row.index else "proposed"
        rows.append([round(float(place.lat), 7), round(float(place.lon), 7),
                     STATUS_COLORS.get(status, _PROPOSAL_COLOR),
                     f"{_esc(t('field.household', lang))} {_esc(hid)}",
                     _proposal_popup(row, text, lang), hid == selected])
    _ProposalMarkers(rows).add_to(fg)
    return fg


def build_map(
    dataset: Dataset,
    *,
    access: pd.DataFrame | None = None,
    proposals: Any = None,
    alternatives: pd.DataFrame | None = None,
    area_table: pd.DataFrame | None = None,
    amenities: gpd.GeoDataFrame | None = None,
    feed: gtfs_kit.Feed | None = None,
    stops: pd.DataFrame | None = None,
    lines: list[tuple[str, str, str, list[_Line]]] | None = None,
    service_date: dt.date | str | None = None,
    policy: Policy | None = None,
    color_by: str = "score",
    language: str = "da",
    tiles: TileSource | str | None = None,
    asset_base: str | None = None,
    max_points: int = 20_000,
    cluster_below_zoom: int = 15,
    proposal_legend: bool = False,
) -> folium.Map:
    """Build the planner's map of a dataset and, optionally, a proposal.

    Parameters
    ----------
    dataset
        A loaded dataset (``placement.dataset.load_dataset``): boundary, areas, designated areas
        and dwellings are drawn from it.
    access
        Table indexed by (or with a column) ``dwelling_id``. Dwellings are coloured by its
        ``color_by`` column; when that column is absent, ``color_by`` may be ``"score"`` (the
        policy-weighted mean of the dwelling's transit and community terms, 0–1, as for a
        household without children or anchor) or a term of ``score.dwelling_terms``
        (``transit``, ``community``, ``daycare``, ``school``). ``None``: one neutral colour.
    proposals
        A ``placement.optimizer.propose.Proposal``, or a DataFrame with ``household_id``,
        ``dwelling_id`` and any of ``persons``, ``score``, ``transit``, ``community``,
        ``family``, ``anchor``, ``spread`` (0–1) and ``alternatives`` (text). Households without
        a dwelling are skipped. A Proposal also supplies ``alternatives`` and ``area_table``.
    alternatives
        ``household_id``, ``dwelling_id``, ``score``, optional ``rank`` and ``score_diff``
        (as ``Proposal.alternatives``); listed in the popups.
    area_table
        Per local area: ``area_id``, ``persons_placed`` (or ``placed_persons``),
        ``cap_persons``, ``share_of_cap`` (load / cap) and optionally ``name``. ``None``: areas
        are shaded by population.
    amenities
        Output of ``placement.osm.amenities_from_file`` (``osm_id``, ``category``, ``name``,
        Point geometry in EPSG:4326); one layer per category.
    feed
        GTFS feed: stops sized by departures per hour 06–20 on ``service_date`` and lines per
        route. ``None``: no transit layers (unless ``stops`` is given).
    stops
        Precomputed stop table (as :func:`stop_service_table`); used instead of ``feed`` for the
        stops layer.
    lines
        Precomputed route lines (as :func:`route_lines` of ``feed``); used instead of computing
        them from ``feed``.
    service_date
        Service date for the departures (default: ``accessibility.default_service_date``).
    policy
        Weights and thresholds for a computed dwelling score (default ``Policy()``).
    color_by
        What colours the dwellings (see ``access``).
    language
        ``"da"`` or ``"en"``: every label on the map.
    tiles
        ``None``: no background map (the vector layers still show, fully offline). A
        :class:`TileSource`, a key of :data:`TILE_PRESETS` without token, or an XYZ URL template
        (see :func:`tile_source`).
    asset_base
        URL of the vendor folder (for example :data:`DEFAULT_ASSET_BASE`): the page then loads
        no script or stylesheet from the internet. ``None``: the pinned versions from the CDN.
    max_points
        At most this many dwellings are drawn (a deterministic, evenly spaced selection by
        ``dwelling_id``; the legend says so). Clustering keeps up to tens of thousands responsive.
    cluster_below_zoom
        Dwellings are clustered below this zoom level and shown one by one from it.
    proposal_legend
        Without ``proposals``: still list the proposal colours per status in the legend (for
        a map whose proposals come as a separate :func:`proposal_layer`).

    Returns
    -------
    folium.Map
        Render with ``m.get_root().render()`` or show with ``streamlit_folium.st_folium``.

    Raises
    ------
    ConfigError
        Unknown language, tiles or ``color_by``.
    """
    t("layer.areas", language)  # validates the language up front
    lang = language
    if proposals is not None and not isinstance(proposals, pd.DataFrame):
        if alternatives is None:
            alternatives = getattr(proposals, "alternatives", None)
        if area_table is None:
            area_table = getattr(proposals, "areas", None)
        proposals = proposals.assignments
    if isinstance(tiles, str):
        tiles = tile_source(tiles)

    bounds = dataset.boundary.total_bounds if len(dataset.boundary) else (
        dataset.areas.total_bounds)
    west, south, east, north = (float(v) for v in bounds)
    m = folium.Map(location=[(south + north) / 2, (west + east) / 2], zoom_start=12,
                   tiles=None, control_scale=False, prefer_canvas=True)
    # without a tile layer Leaflet knows no zoom limit, which marker clustering needs
    m.options["max_zoom"] = tiles.max_zoom if tiles is not None else 19
    js, css = asset_urls(asset_base)
    m.default_js = js  # instance attributes: folium's class lists stay untouched
    m.default_css = css
    if tiles is not None:
        if tiles.kind == "wms":
            folium.WmsTileLayer(url=tiles.url, layers=tiles.layers, fmt="image/png",
                                attr=tiles.attribution, name="background", control=False,
                                max_zoom=tiles.max_zoom).add_to(m)
        else:
            folium.TileLayer(tiles=tiles.url, attr=tiles.attribution, name="background",
                             control=False, max_zoom=tiles.max_zoom).add_to(m)
    if all(map(math.isfinite, (west, south, east, north))):
        m.fit_bounds([[south, west], [north, east]])
    legend: list[str] = []

    # municipal boundary
    if len(dataset.boundary):
        fg = folium.FeatureGroup(name=t("layer.boundary", lang))
        folium.GeoJson(
            _feature_collection(_geo_features(dataset.boundary, [
                {"_style": {"color": "#252525", "weight": 2, "fill": False}}
                for _ in range(len(dataset.boundary))])),
            style_function=_style_from_props, interactive=False,
        ).add_to(fg)
        fg.add_to(m)

    # local areas
    areas = dataset.areas
    if len(areas):
        ids = areas["area_id"].astype(str)
        names = areas["name"].astype(str).to_numpy()
        pop = pd.to_numeric(areas["population"], errors="coerce").to_numpy(dtype=float)
        if area_table is not None:
            at = _by_id(area_table, "area_id").reindex(ids)
            placed = _column(at, "persons_placed", "placed_persons")
            cap = _column(at, "cap_persons")
            share = _column(at, "share_of_cap")
            share_v = (pd.to_numeric(share, errors="coerce").to_numpy(dtype=float)
                       if share is not None else np.full(len(ids), np.nan))
            # a cap of 0 with anyone there is an infinite share: the top colour, said in words
            finite = share_v[np.isfinite(share_v)]
            cmap = LinearColormap(list(_LOAD_COLORS), vmin=0.0,
                                  vmax=max(1.0, float(finite.max(initial=0.0))))
            shade = share_v
            legend.append(_gradient_html(t("legend.share_of_cap", lang), cmap))
            fields = ["name", "placed", "cap", "share"]
            aliases = [t("field.area", lang), t("field.persons_placed", lang),
                       t("field.cap_persons", lang), t("field.share_of_cap", lang)]
            props = [{"name": n,
                      "placed": _fmt(placed.iloc[i]) if placed is not None else "–",
                      "cap": _fmt(cap.iloc[i]) if cap is not None else "–",
                      "share": (f"{share_v[i]:.0%}" if math.isfinite(share_v[i])
                                else t("field.over_zero_cap", lang) if share_v[i] > 0
                                else "–")}
                     for i, n in enumerate(names)]
        else:
            cmap = value_colormap(pop, AREA_COLORS)
            shade = pop
            legend.append(_gradient_html(t("legend.population", lang), cmap, digits=0))
            fields = ["name", "population"]
            aliases = [t("field.area", lang), t("field.population", lang)]
            props = [{"name": n, "population": _fmt(int(p)) if math.isfinite(p) else "–"}
                     for n, p in zip(names, pop, strict=True)]
        for p, v in zip(props, shade, strict=True):
            fill = (cmap.rgb_hex_str(float(np.clip(v, cmap.vmin, cmap.vmax)))
                    if math.isfinite(v) or (v > 0) else "#bdbdbd")
            p["_style"] = {"color": "#525252", "weight": 1, "fillColor": fill,
                           "fillOpacity": 0.45}
        folium.GeoJson(
            _feature_collection(_geo_features(areas, props)), name=t("layer.areas", lang),
            style_function=_style_from_props, tooltip=_tooltip(fields, aliases),
        ).add_to(m)

    # designated areas
    des = dataset.designated
    if des is not None and len(des):
        props = [{"name": str(n), "kind": t(f"kind.{k}", lang) if f"kind.{k}" in LABELS
                  else str(k),
                  "_style": {"color": "#d95f02", "weight": 2.5, "dashArray": "6 4",
                             "fill": False}}
                 for n, k in zip(des["name"], des["kind"], strict=True)]
        folium.GeoJson(
            _feature_collection(_geo_features(des, props)), name=t("layer.designated", lang),
            style_function=_style_from_props,
            tooltip=_tooltip(["name", "kind"], [t("field.name", lang), t("field.kind", lang)]),
        ).add_to(m)
        legend.append(_swatch_html("#d95f02", t("legend.designated", lang), dashed=True,
                                   round_=False))

    # public transport: lines first (drawn below the stops)
    if feed is not None or lines is not None:
        routes = lines if lines is not None else _route_lines(feed)
        if routes:
            features = [
                {"type": "Feature", "id": f"{rid}-{j}",
                 "properties": {"route": label, "_style": {"color": colour, "weight": 3,
                                                           "opacity": 0.8}},
                 "geometry": {"type": "LineString", "coordinates": [list(c) for c in line]}}
                for rid, label, colour, lines in routes for j, line in enumerate(lines)
            ]
            folium.GeoJson(
                _feature_collection(features), name=t("layer.lines", lang),
                style_function=_style_from_props,
                tooltip=_tooltip(["route"], [t("field.route", lang)]),
            ).add_to(m)
        if stops is None and feed is not None:
            stops = stop_service_table(feed, service_date)
    if stops is not None and len(stops):
        dph = pd.to_numeric(stops["departures_per_hour"], errors="coerce").fillna(0.0).to_numpy()
        names_s = (stops["stop_name"].fillna("").astype(str) if "stop_name" in stops.columns
                   else stops["stop_id"].astype(str))
        features = [
            {"type": "Feature", "id": str(sid),
             "properties": {"stop": nm or str(sid), "dph": f"{d:.1f}",
                            "_style": {"radius": float(3.0 + 2.0 * min(math.sqrt(d), 6.0)),
                                       "color": "#08519c" if d > 0 else _NEUTRAL,
                                       "fillColor": "#4292c6" if d > 0 else "#bdbdbd",
                                       "fill": True, "fillOpacity": 0.8, "weight": 1}},
             "geometry": {"type": "Point", "coordinates": [float(lon), float(lat)]}}
            for sid, nm, lat, lon, d in zip(stops["stop_id"], names_s, stops["stop_lat"],
                                            stops["stop_lon"], dph, strict=True)
        ]
        folium.GeoJson(
            _feature_collection(features), name=t("layer.stops", lang),
            marker=folium.CircleMarker(radius=4), style_function=_style_from_props,
            tooltip=_tooltip(["stop", "dph"], [t("field.stop", lang),
                                               t("field.departures_per_hour", lang)]),
        ).add_to(m)
        legend.append(_swatch_html("#4292c6", t("legend.stop_size", lang)))

    # amenities, one layer per category
    if amenities is not None and len(amenities):
        known = [c for c in AMENITY_CATEGORIES if c in set(amenities["category"].astype(str))]
        extra = sorted(set(amenities["category"].astype(str)) - set(AMENITY_CATEGORIES))
        for k, cat in enumerate([*known, *extra]):
            sub = amenities[amenities["category"].astype(str) == cat]
            sub = sub.sort_values("osm_id", kind="stable") if "osm_id" in sub.columns else sub
            label = t(f"category.{cat}", lang) if f"category.{cat}" in LABELS else cat
            colour = PALETTE[(AMENITY_INDEX.get(cat, len(AMENITY_INDEX) + k)) % len(PALETTE)]
            points = sub.geometry.representative_point()
            names_a = sub["name"].fillna("").astype(str) if "name" in sub.columns else [""] * len(
                sub)
            features = [
                {"type": "Feature", "id": str(i),
                 "properties": {"name": nm or label, "category": label},
                 "geometry": {"type": "Point", "coordinates": [float(pt.x), float(pt.y)]}}
                for i, (pt, nm) in enumerate(zip(points, names_a, strict=True))
            ]
            fg = folium.FeatureGroup(name=f"{t('layer.amenities', lang)}: {label}", show=False)
            letter = AMENITY_SYMBOLS.get(cat, cat[:1].upper())
            folium.GeoJson(
                _feature_collection(features),
                # a square with a letter: an amenity never looks like a (round) stop
                marker=folium.Marker(icon=folium.DivIcon(
                    html=_amenity_icon_html(colour, letter), icon_size=(16, 16),
                    icon_anchor=(8, 8), class_name="placement-amenity")),
                tooltip=_tooltip(["name", "category"], [t("field.name", lang),
                                                        t("field.category", lang)]),
            ).add_to(fg)
            fg.add_to(m)
            legend.append(_symbol_html(colour, letter, label))

    # dwellings
    dw = dataset.dwellings
    if len(dw):
        dw = dw.assign(dwelling_id=dw["dwelling_id"].astype(str)).sort_values(
            "dwelling_id", kind="stable").reset_index(drop=True)
        values, value_key = _dwelling_values(dw, access, color_by, policy)
        value_label = t(value_key, lang) if value_key in LABELS else value_key
        total = len(dw)
        if total > max_points:
            keep = np.unique(np.linspace(0, total - 1, max_points).round().astype(int))
            if values is not None and np.isfinite(values).any():
                keep = np.union1d(keep, [int(np.nanargmax(values))])  # the best stays visible
            dw = dw.iloc[keep].reset_index(drop=True)
            values = values[keep] if values is not None else None
            note = t("legend.sampled", lang, shown=len(dw), total=total)
            legend.append(f"<div><i>{html.escape(note)}</i></div>")
        if values is not None:
            cmap = value_colormap(values)
            colours = [cmap.rgb_hex_str(float(v)) if math.isfinite(v) else NO_DATA_COLOR
                       for v in values]
            legend.append(_gradient_html(
                t("legend.dwelling_value", lang, what=value_label), cmap))
            n_no_data = int((~np.isfinite(values)).sum())
            if n_no_data:
                legend.append(_swatch_html(NO_DATA_COLOR, t("legend.no_data", lang,
                                                            n=n_no_data)))
        else:
            colours = [_NEUTRAL] * len(dw)
        rows = []
        for i, r in enumerate(dw.itertuples(index=False)):
            tip = [f"<b>{html.escape(t('field.dwelling', lang))}</b> {_esc(r.dwelling_id)}"]
            if getattr(r, "address", None) is not None and pd.notna(r.address):
                tip.append(f"{html.escape(t('field.address', lang))}: {_esc(r.address)}")
            if getattr(r, "rooms", None) is not None and pd.notna(r.rooms):
                tip.append(f"{html.escape(t('field.rooms', lang))}: {_esc(int(r.rooms))}")
            if getattr(r, "rent_dkk", None) is not None and pd.notna(r.rent_dkk):
                tip.append(f"{html.escape(t('field.rent_dkk', lang))}: "
                           f"{_esc(round(float(r.rent_dkk)))}")
            if values is not None:
                shown = (_esc(values[i]) if math.isfinite(values[i])
                         else html.escape(t("field.no_data", lang)))
                tip.append(f"{html.escape(value_label)}: {shown}")
            rows.append([round(float(r.lat), 6), round(float(r.lon), 6), colours[i],
                         "<br>".join(tip)])
        callback = (
            "function (row) {"
            " var m = L.circleMarker(new L.LatLng(row[0], row[1]), {radius: 6, color: '#252525',"
            " weight: 1, fillColor: row[2], fillOpacity: 0.9});"
            " m.bindTooltip(row[3]); return m; }"
        )
        cluster = FastMarkerCluster(rows, callback=callback, name=t("layer.dwellings", lang),
                                    disableClusteringAtZoom=cluster_below_zoom,
                                    chunkedLoading=True, icon_create_function=_CLUSTER_ICON)
        cjs, ccss = asset_urls(asset_base, cluster=True)
        cluster.default_js = cjs
        cluster.default_css = ccss
        cluster.add_to(m)

    # proposals
    if proposals is not None and len(proposals):
        proposal_layer(dataset, proposals, alternatives, lang).add_to(m)
        statuses = (set(proposals["status"].dropna().astype(str))
                    if "status" in proposals.columns else None)
        legend.extend(_proposal_legend(statuses, lang))
    elif proposal_legend:
        legend.extend(_proposal_legend(set(STATUS_COLORS), lang))

    if legend:
        _Legend(t("legend.title", lang), "".join(legend)).add_to(m)
    _MetricScale().add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    return m
