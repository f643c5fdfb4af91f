"""The What-if comparison's difference map: what changed between two runs, on one map.

:func:`difference_map` colours the local areas by the change in persons placed (fewer: red,
more: blue, unknown: grey and said as "no data"), marks the dwellings whose household changed
(:func:`changed_dwellings`) and draws the lines a scenario cuts (:func:`cut_routes`) as
removed: dashed red. Like :func:`placement.mapview.build_map` it loads no file from the
internet when given ``asset_base``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping
from typing import Any

import folium
import numpy as np
import pandas as pd
from branca.colormap import LinearColormap
from branca.element import Figure
from folium.elements import MacroElement
from folium.plugins import DualMap

from placement.dataset import Dataset
from placement.i18n import t

__all__ = ["CUT_LINE_CLASS", "CUT_LINE_COLOR", "PICK_LINE_CLASS", "SyncedMaps",
           "changed_dwellings", "cut_routes", "difference_map", "line_picker_map", "picked_route"]

#: Colour and dash of a cut line (drawn as removed).
CUT_LINE_COLOR = "#d7301f"
CUT_LINE_DASH = "8 6"
#: CSS class of a cut line's path (the browser test finds it by this class).
CUT_LINE_CLASS = "placement-cut-line"
#: Fewer persons → red, no change → white, more → blue; unknown change → grey.
_CHANGE_COLORS = ("#b2182b", "#f7f7f7", "#2166ac")
_NO_DATA_COLOR = "#bdbdbd"
_CHANGED_COLOR = "#6a3d9a"
#: CSS class of a line's path on the line-picking map (the browser test clicks it).
PICK_LINE_CLASS = "placement-pick-line"


def _base_map(dataset: Dataset, tiles: Any, asset_base: str | None) -> folium.Map:
    """Return an empty map over the dataset's municipality, with its background and assets."""
    from placement import mapview

    bounds = dataset.boundary.total_bounds if len(dataset.boundary) else (
        dataset.areas.total_bounds)
    west, south, east, north = (float(v) for v in bounds)
    m = folium.Map(location=[(south + north) / 2, (west + east) / 2], zoom_start=12,
                   tiles=None, control_scale=False)
    m.options["max_zoom"] = 19
    js, css = mapview.asset_urls(asset_base)
    m.default_js, m.default_css = js, css
    if isinstance(tiles, str):
        tiles = mapview.tile_source(tiles)
    if tiles is not None:
        folium.TileLayer(tiles=tiles.url, attr=tiles.attribution, name="background",
                         control=False, max_zoom=tiles.max_zoom).add_to(m)
    if all(map(math.isfinite, (west, south, east, north))):
        m.fit_bounds([[south, west], [north, east]])
    return m


def changed_dwellings(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Dwellings whose household differs between two runs (placed, moved out or in).

    Parameters
    ----------
    before, after
        Proposals of the two runs: ``household_id``, ``dwelling_id`` (None: unplaced).

    Returns
    -------
    pandas.DataFrame
        ``dwelling_id``, ``household_before``, ``household_after`` (None where the dwelling
        was or is empty), sorted by dwelling id.
    """
    def holder(p: pd.DataFrame) -> pd.Series:
        placed = p.dropna(subset=["dwelling_id"])
        return pd.Series(placed["household_id"].astype(str).to_numpy(),
                         index=placed["dwelling_id"].astype(str).to_numpy(), dtype=object)

    a, b = holder(before), holder(after)
    ids = sorted(set(a.index) | set(b.index))
    out = pd.DataFrame({"dwelling_id": ids,
                        "household_before": [a.get(d) for d in ids],
                        "household_after": [b.get(d) for d in ids]}, dtype=object)
    same = out["household_before"].eq(out["household_after"]) & out["household_before"].notna()
    return out[~same].reset_index(drop=True)


def cut_routes(definition: Mapping[str, Any] | None) -> list[str]:
    """Route ids a stored scenario's definition cuts (``kind = "cut_route"``), in order."""
    if not definition:
        return []
    changes = definition.get("change", definition.get("changes", [])) or []
    return [str(c["route_id"]) for c in changes
            if isinstance(c, Mapping) and c.get("kind") == "cut_route" and "route_id" in c]


def difference_map(dataset: Dataset, changes: pd.DataFrame, changed: pd.DataFrame | None, *,
                   feed: Any = None, cut: Iterable[str] = (), language: str = "da",
                   tiles: Any = None, asset_base: str | None = None) -> folium.Map:
    """One map of what changed between two runs.

    Parameters
    ----------
    dataset
        The runs' dataset (areas, dwellings, boundary).
    changes
        :func:`placement.whatif.area_changes`: ``area_id``, ``change`` (NaN: unknown).
    changed
        :func:`changed_dwellings`: ``dwelling_id`` (household ids are not drawn); None for a
        reader who may not see where households are (no layer, nothing said about them).
    feed
        The GTFS feed, for the geometry of the cut lines.
    cut
        Route ids the compared scenario cuts (:func:`cut_routes`): drawn dashed red.
    language
        Labels' language.
    tiles, asset_base
        As for :func:`placement.mapview.build_map`.

    Returns
    -------
    folium.Map
        Drawn with SVG paths (few features), so that each cut line carries the class
        :data:`CUT_LINE_CLASS`.
    """
    from placement import mapview

    lang = language
    m = _base_map(dataset, tiles, asset_base)

    # areas by change in persons placed
    by_id = changes.assign(area_id=changes["area_id"].astype(str)).set_index("area_id")
    areas = dataset.areas
    ids = areas["area_id"].astype(str)
    delta = pd.to_numeric(by_id["change"].reindex(ids), errors="coerce").to_numpy(dtype=float)
    top = max(1.0, float(np.nanmax(np.abs(delta))) if np.isfinite(delta).any() else 1.0)
    cmap = LinearColormap(list(_CHANGE_COLORS), vmin=-top, vmax=top)
    props = []
    for i, name in enumerate(areas["name"].astype(str)):
        known = math.isfinite(delta[i])
        props.append({
            "name": name,  # escaped by the feature collection
            "change": f"{int(delta[i]):+d}" if known else t("field.no_data", lang),
            "_style": {"color": "#636363", "weight": 1, "fillOpacity": 0.6,
                       "fillColor": cmap.rgb_hex_str(delta[i]) if known else _NO_DATA_COLOR},
        })
    fg = folium.FeatureGroup(name=t("legend.area_change", lang))
    folium.GeoJson(mapview._feature_collection(mapview._geo_features(areas, props)),
                   style_function=mapview._style_from_props,
                   tooltip=mapview._tooltip(["name", "change"], [
                       t("field.area", lang), t("legend.area_change", lang)])).add_to(fg)
    fg.add_to(m)

    # dwellings whose household changed
    dw = dataset.dwellings.assign(dwelling_id=dataset.dwellings["dwelling_id"].astype(str)
                                  ).set_index("dwelling_id")
    fg = folium.FeatureGroup(name=t("layer.changed_dwellings", lang))
    n_changed = 0
    for d in ([] if changed is None else changed["dwelling_id"].astype(str)):
        if d not in dw.index:
            continue
        lat, lon = float(dw.at[d, "lat"]), float(dw.at[d, "lon"])
        if not (math.isfinite(lat) and math.isfinite(lon)):
            continue
        folium.CircleMarker([lat, lon], radius=6, color=_CHANGED_COLOR, weight=2, fill=True,
                            fill_opacity=0.8, tooltip=mapview._esc(d)).add_to(fg)
        n_changed += 1
    if changed is not None:
        fg.add_to(m)

    # lines the scenario cuts, drawn as removed
    wanted = {str(r) for r in cut}
    n_cut = 0
    if wanted and feed is not None:
        fg = folium.FeatureGroup(name=t("layer.cut_line", lang))
        for rid, label, _colour, lines in mapview._route_lines(feed):
            if rid not in wanted:
                continue
            for line in lines:
                folium.PolyLine([(lat, lon) for lon, lat in line], color=CUT_LINE_COLOR,
                                weight=4, opacity=0.9, dash_array=CUT_LINE_DASH,
                                class_name=CUT_LINE_CLASS,
                                tooltip=mapview._esc(f"{label} ({t('layer.cut_line', lang)})")
                                ).add_to(fg)
            n_cut += 1
        fg.add_to(m)

    legend = [mapview._gradient_html(t("legend.area_change", lang), cmap, digits=0),
              mapview._swatch_html(_NO_DATA_COLOR, t("field.no_data", lang), round_=False)]
    if changed is not None:
        legend.append(mapview._swatch_html(
            _CHANGED_COLOR, f"{t('layer.changed_dwellings', lang)} ({n_changed})"))
    if n_cut:
        legend.append(mapview._swatch_html(CUT_LINE_COLOR, t("layer.cut_line", lang),
                                           dashed=True, round_=False))
    mapview._Legend(t("legend.title", lang), "".join(legend), open_=True).add_to(m)
    mapview._MetricScale().add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    return m


class SyncedMaps(DualMap):
    """Two maps drawn side by side that pan and zoom together (Leaflet.Sync).

    folium's :class:`~folium.plugins.DualMap` draws the *same* layers twice; a comparison
    needs two different maps (each run's areas), so this one takes two finished maps, for
    example two :func:`placement.mapview.build_map`. ``streamlit_folium.st_folium`` draws it
    as it draws a ``DualMap``: both maps in one frame, so they move together without a rerun.

    Parameters
    ----------
    left, right
        The two maps; they are resized to half the width each.
    asset_base
        URL of the vendor folder serving ``leaflet.sync`` (see
        :func:`placement.mapview.asset_urls`); ``None``: the pinned version from the CDN.
    """

    def __init__(self, left: folium.Map, right: folium.Map, *,
                 asset_base: str | None = None) -> None:
        from placement import mapview

        MacroElement.__init__(self)  # not DualMap.__init__: it would make two empty maps
        for m, offset in ((left, 0.0), (right, 50.0)):
            m.width, m.height = (50.0, "%"), (100.0, "%")  # as folium.Map parses "50%"
            m.left, m.top, m.position = (offset, "%"), (0.0, "%"), "absolute"
        self.m1, self.m2 = left, right
        figure = Figure()
        figure.add_child(left)
        figure.add_child(right)
        figure.add_child(self)  # last, as DualMap does: its script runs after both maps
        self.children_for_m2: list[Any] = []
        self.children_for_m2_copied: list[str] = []
        self.default_js = mapview.asset_urls(asset_base, sync=True)[0]
        self.default_css: list[tuple[str, str]] = []


def line_picker_map(dataset: Dataset, feed: Any, *, selected: str | None = None,
                    language: str = "da", tiles: Any = None,
                    asset_base: str | None = None) -> folium.Map:
    """Draw the feed's lines to pick the one a scenario cuts: a click on a line chooses it.

    Each line is one GeoJSON feature whose properties carry its ``route_id`` (read back with
    :func:`picked_route`) and its public name with the mode ("201 Kildeholm – Ravnstrup
    (bus)", :func:`placement.whatif.route_choices`); the chosen line is drawn dashed red, as
    the comparison draws a cut line.

    Parameters
    ----------
    dataset
        The dataset (its boundary and local areas frame the map).
    feed
        The GTFS feed whose lines are drawn.
    selected
        ``route_id`` of the line chosen so far, if any.
    language
        Labels' language.
    tiles, asset_base
        As for :func:`placement.mapview.build_map`.

    Returns
    -------
    folium.Map
    """
    from placement import mapview
    from placement.whatif import route_choices

    lang = language
    m = _base_map(dataset, tiles, asset_base)
    outline = [{"name": str(n), "_style": {"color": "#636363", "weight": 1, "fillOpacity": 0.05,
                                          "fillColor": "#bdbdbd"}}
               for n in dataset.areas["name"]]
    folium.GeoJson(mapview._feature_collection(mapview._geo_features(dataset.areas, outline)),
                   name=t("field.area", lang), style_function=mapview._style_from_props,
                   interactive=False, control=False).add_to(m)
    labels = dict(route_choices(feed, lang))
    features = []
    for rid, _label, colour, lines in ([] if feed is None else mapview._route_lines(feed)):
        chosen = rid == selected
        style = ({"color": CUT_LINE_COLOR, "weight": 7, "opacity": 0.95,
                  "dashArray": CUT_LINE_DASH, "className": PICK_LINE_CLASS} if chosen else
                 {"color": colour, "weight": 6, "opacity": 0.8, "className": PICK_LINE_CLASS})
        for j, line in enumerate(lines):
            features.append({
                "type": "Feature", "id": f"{rid}-{j}",
                "properties": {"route_id": rid, "route": labels.get(rid, rid), "_style": style},
                "geometry": {"type": "LineString", "coordinates": [list(c) for c in line]}})
    if features:
        folium.GeoJson(mapview._feature_collection(features), name=t("layer.lines", lang),
                       style_function=mapview._style_from_props,
                       highlight_function=lambda _f: {"weight": 10, "opacity": 1.0},
                       tooltip=mapview._tooltip(["route"], [t("field.route", lang)])).add_to(m)
    legend = [mapview._swatch_html(CUT_LINE_COLOR, t("layer.cut_line", lang), dashed=True,
                                   round_=False)] if selected in labels else []
    legend.append(f"<div>{html.escape(t('whatif.pick_on_map', lang))}</div>")
    mapview._Legend(t("legend.title", lang), "".join(legend), open_=True).add_to(m)
    mapview._MetricScale().add_to(m)
    return m


def picked_route(returned: Mapping[str, Any] | None) -> str | None:
    """Return the ``route_id`` of the line last clicked on :func:`line_picker_map`, if any.

    Parameters
    ----------
    returned
        What ``streamlit_folium.st_folium`` returned for the map (its
        ``last_active_drawing`` is the clicked feature).

    Returns
    -------
    str or None
    """
    feature = (returned or {}).get("last_active_drawing") or {}
    props = feature.get("properties") if isinstance(feature, Mapping) else None
    rid = props.get("route_id") if isinstance(props, Mapping) else None
    # the map's texts are HTML-escaped (see placement.mapview): give back the id itself
    return html.unescape(rid) if isinstance(rid, str) and rid else None
