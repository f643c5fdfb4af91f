"""The What-if difference map: areas by change, dwellings with another household, cut lines."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from placement import mapcompare
from placement.dataset import load_dataset
from placement.gtfs import load_gtfs


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["D1", "D2", "D3", "D4", None]), min_size=4, max_size=4),
       st.lists(st.sampled_from(["D1", "D2", "D3", "D4", None]), min_size=4, max_size=4))
def test_changed_dwellings_are_those_whose_household_differs(a, b):
    def plan(dws):  # a dwelling holds at most one household
        seen, out = set(), []
        for d in dws:
            out.append(d if d not in seen else None)
            seen.add(d)
        return pd.DataFrame({"household_id": ["H1", "H2", "H3", "H4"], "dwelling_id": out})

    before, after = plan(a), plan(b)
    got = mapcompare.changed_dwellings(before, after)
    holder_a = {d: h for h, d in zip(before["household_id"], before["dwelling_id"],
                                     strict=True) if d}
    holder_b = {d: h for h, d in zip(after["household_id"], after["dwelling_id"],
                                     strict=True) if d}
    want = sorted(d for d in set(holder_a) | set(holder_b) if holder_a.get(d) != holder_b.get(d))
    assert got["dwelling_id"].tolist() == want
    for row in got.itertuples(index=False):
        assert row.household_before == holder_a.get(row.dwelling_id)
        assert row.household_after == holder_b.get(row.dwelling_id)


def test_cut_routes_of_a_definition():
    d = {"scenario": {"name": "x"}, "change": [{"kind": "arrivals", "factor": 2},
                                               {"kind": "cut_route", "route_id": "L201"},
                                               {"kind": "thin_route", "route_id": "L202"}]}
    assert mapcompare.cut_routes(d) == ["L201"]
    assert mapcompare.cut_routes(None) == []
    assert mapcompare.cut_routes({"change": []}) == []


def test_difference_map_colours_areas_marks_dwellings_and_draws_the_cut_dashed(demo_dir):
    ds = load_dataset(demo_dir)
    feed = load_gtfs(ds.gtfs_path, boundary=ds.boundary)
    ids = ds.areas["area_id"].astype(str).tolist()
    change = [3.0, -3.0, np.nan] + [0.0] * (len(ids) - 3)
    changes = pd.DataFrame({"area_id": ids, "change": change})
    changed = pd.DataFrame({"dwelling_id": ds.dwellings["dwelling_id"].astype(str).head(4)})
    cut = str(feed.routes["route_id"].iloc[1])
    m = mapcompare.difference_map(ds, changes, changed, feed=feed, cut=[cut], language="en",
                                  asset_base="/app/static/vendor")
    page = m.get_root().render()
    # offline: every script and stylesheet from the app's own folder
    assert all(u.startswith("/app/static/vendor/")
               for u in re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', page))
    # the cut line: dashed red, with its class, named in the legend
    assert mapcompare.CUT_LINE_CLASS in page
    assert f'"dashArray": "{mapcompare.CUT_LINE_DASH}"' in page
    assert mapcompare.CUT_LINE_COLOR in page
    assert "Cut line" in page
    # areas: more persons blue, fewer red, unknown grey and said as "no data"
    fills = re.findall(r'"fillColor": "(#[0-9a-f]{6})"', page)
    assert "#2166ac" in fills  # +3 is the top of the scale
    assert "#b2182b" in fills  # -3 the bottom
    assert "#bdbdbd" in fills  # unknown
    assert "no data" in page
    assert "Dwellings with another household (4)" in page
    # without a cut nothing is drawn as removed
    plain = mapcompare.difference_map(ds, changes, changed, language="en",
                                      asset_base="/app/static/vendor").get_root().render()
    assert mapcompare.CUT_LINE_CLASS not in plain
    # a reader who may not see households: no dwelling layer, and no count of 0 said
    areas_only = mapcompare.difference_map(ds, changes, None, language="en").get_root().render()
    assert "Dwellings with another household" not in areas_only


def test_synced_maps_draw_two_different_maps_that_follow_each_other(demo_dir):
    from streamlit_folium import _get_map_string

    from placement.mapview import build_map

    ds = load_dataset(demo_dir)
    ids = ds.areas["area_id"].astype(str)
    left_table = pd.DataFrame({"area_id": ids, "name": ds.areas["name"], "persons_placed": 7,
                               "cap_persons": 70, "share_of_cap": 0.1})
    right_table = left_table.assign(persons_placed=63, share_of_cap=0.9)
    pair = mapcompare.SyncedMaps(
        build_map(ds, area_table=left_table, language="en", asset_base="/app/static/vendor"),
        build_map(ds, area_table=right_table, language="en", asset_base="/app/static/vendor"),
        asset_base="/app/static/vendor")
    page = pair.get_root().render()
    # offline: Leaflet.Sync from the app's own folder, nothing from a CDN
    urls = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', page)
    assert "/app/static/vendor/leaflet.sync/L.Map.Sync.js" in urls
    assert all(u.startswith("/app/static/vendor/") for u in urls)
    # side by side, each half with its own run
    left, right = pair.m1.get_name(), pair.m2.get_name()
    assert f"{left}.sync({right})" in page
    assert f"{right}.sync({left})" in page
    assert pair.m1.width == (50.0, "%")
    assert pair.m2.left == (50.0, "%")
    halves = page.split(f"var {right} = L.map(")
    assert len(halves) == 2
    assert '"share": "10%"' in halves[0]
    assert '"share": "90%"' not in halves[0]
    assert '"share": "90%"' in halves[1]
    assert '"share": "10%"' not in halves[1]
    # the way streamlit_folium draws it: two maps in one frame, synced both ways
    script = _get_map_string(pair)
    assert "var map_div = L.map(" in script
    assert "var map_div2 = L.map(" in script
    assert "map_div.sync(map_div2)" in script
    assert "map_div2.sync(map_div)" in script


def test_line_picker_map_offers_every_line_and_marks_the_chosen_one(demo_dir):
    from placement.whatif import route_choices

    ds = load_dataset(demo_dir)
    feed = load_gtfs(ds.gtfs_path, boundary=ds.boundary)
    hostile = '<img src=x onerror="alert(1)">'
    feed.routes.loc[feed.routes.index[0], "route_long_name"] = hostile
    rids = [str(r) for r in feed.routes["route_id"]]
    chosen = rids[1]
    m = mapcompare.line_picker_map(ds, feed, selected=chosen, language="en",
                                   asset_base="/app/static/vendor")
    page = m.get_root().render()
    assert all(u.startswith("/app/static/vendor/")
               for u in re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', page))
    # every line that runs is one clickable feature carrying its route_id
    drawn = set(re.findall(r'"route_id": "([^"]+)"', page))
    assert drawn == {r for r, _ in route_choices(feed, "en")}
    assert mapcompare.PICK_LINE_CLASS in page
    # the chosen line only is drawn dashed red, and the legend says so
    # (folium writes the style once per set of features: "case <route>-<n>: return {...}")
    styled = re.findall(r'((?:case "[^"]+": )+)\s*return (\{[^}]*\})', page)
    dashed = {c.rsplit("-", 1)[0] for cases, style in styled if "dashArray" in style
              for c in re.findall(r'case "([^"]+)"', cases)}
    assert dashed == {chosen}
    assert "Cut line" in page
    assert "Click a line to cut it in the scenario" in page
    # a hostile line name reaches the page escaped, never as markup
    assert hostile not in page
    # (folium's JSON writes "&" as \u0026: the browser reads "&lt;img", shown as text)
    assert "\\u0026lt;img src=x" in page
    # nothing chosen: nothing dashed, no cut line in the legend
    plain = mapcompare.line_picker_map(ds, feed, language="da").get_root().render()
    assert '"dashArray"' not in plain
    assert "en linje for at nedl" in plain


def test_picked_route_reads_the_clicked_line():
    feature = {"properties": {"route_id": "L&amp;1", "route": "x"}}
    assert mapcompare.picked_route({"last_active_drawing": feature}) == "L&1"
    assert mapcompare.picked_route(None) is None
    assert mapcompare.picked_route({}) is None
    assert mapcompare.picked_route({"last_active_drawing": None}) is None
    assert mapcompare.picked_route({"last_active_drawing": {"properties": {}}}) is None
    assert mapcompare.picked_route({"last_active_drawing": {"properties": {"route_id": ""}}}) \
        is None
