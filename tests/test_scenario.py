"""Scenario files: form checks, checks against the dataset, and the materialised dataset."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures_data import DWELLINGS_HEADER, DWELLINGS_ROWS, HOUSEHOLDS_HEADER, write_csv
from fixtures_data import write_dataset as write_tiny
from gtfs_tiny import Feed, Trip, write_feed

from placement import scenario as sc
from placement._errors import ConfigError
from placement.dataset import load_dataset
from placement.gtfs import load_gtfs


def tiny_feed() -> Feed:
    stops = [("S0", 55.38, 11.77), ("S1", 55.40, 11.81), ("S2", 55.41, 11.83)]
    trips = [Trip(f"A{i}", [("S0", 7 * 3600 + 900 * i, 7 * 3600 + 900 * i),
                            ("S2", 7 * 3600 + 900 * i + 600, 7 * 3600 + 900 * i + 600)],
                  route_id="201") for i in range(8)]
    trips += [Trip("B1", [("S1", 8 * 3600, 8 * 3600), ("S2", 8 * 3600 + 300, 8 * 3600 + 300)],
                   route_id="202")]
    return Feed(stops=stops, trips=trips, services=[("EVERYDAY", "1111111", "20250101",
                                                     "20271231")])


@pytest.fixture
def base(tmp_path) -> Path:
    folder = write_tiny(tmp_path / "base", manifest={"gtfs": {"file": "gtfs.zip"}})
    write_feed(tiny_feed(), folder / "gtfs.zip")
    return folder


def scenario_file(tmp_path: Path, base: Path, body: str, head: str = "") -> Path:
    path = tmp_path / "what_if.toml"
    path.write_text(f'[scenario]\nname = "What if"\ndataset = "{base}"\n{head}\n{body}',
                    encoding="utf-8")
    return path


def test_form_problems_are_all_reported_with_keys(tmp_path, base):
    path = scenario_file(tmp_path, base, """
[[change]]
kind = "arrivals"
[[change]]
kind = "thin_route"
route_id = "201"
share_removed = 1.5
[[change]]
kind = "teleport"
[[change]]
kind = "area_cap"
area_id = "A1"
max_share = 0.02
colour = "red"
""")
    with pytest.raises(ConfigError) as exc:
        sc.read_scenario(path)
    text = str(exc.value)
    assert "what_if.toml: change[1]: give either factor or file" in text
    assert "what_if.toml: change[2].share_removed: must be between 0 and 1" in text
    assert "what_if.toml: change[3].kind: must be one of" in text
    assert "what_if.toml: change[4].colour: unknown key" in text


def test_unknown_route_area_dwelling_are_errors_before_anything_runs(tmp_path, base):
    path = scenario_file(tmp_path, base, """
[[change]]
kind = "cut_route"
route_id = "999"
[[change]]
kind = "area_cap"
area_id = "Z9"
max_share = 0.01
[[change]]
kind = "withdraw_dwellings"
dwelling_ids = ["D1", "NOPE"]
[[change]]
kind = "add_dwellings"
file = "missing.csv"
""")
    with pytest.raises(ConfigError) as exc:
        sc.read_scenario(path)
    assert "change[4].file: no such file" in str(exc.value)
    path.write_text(path.read_text().replace('file = "missing.csv"', 'file = "what_if.toml"')
                    .replace('kind = "add_dwellings"', 'kind = "date"\ndate = "2026-01-05"')
                    .replace('file = "what_if.toml"', ""), encoding="utf-8")
    scen = sc.read_scenario(path)
    out = tmp_path / "out"
    with pytest.raises(ConfigError) as exc:
        sc.materialise(scen, out)
    text = str(exc.value)
    assert "change[1].route_id: route '999' is not in the feed (routes: 201, 202)" in text
    assert "change[2].area_id: area 'Z9' is not a local area" in text
    assert "change[3].dwelling_ids: not in the dataset: NOPE" in text
    assert not out.exists()


def test_cut_and_thin_route_edit_the_feed(tmp_path, base):
    path = scenario_file(tmp_path, base, """
[[change]]
kind = "cut_route"
route_id = "202"
[[change]]
kind = "thin_route"
route_id = "201"
share_removed = 0.5
""")
    folder = sc.materialise(sc.read_scenario(path), tmp_path / "out")
    feed = load_gtfs(folder / "gtfs.zip")
    assert set(feed.routes["route_id"]) == {"201"}
    assert len(feed.trips) == 4
    # files no change touches are referenced, not copied
    assert sorted(p.name for p in folder.iterdir()) == ["dataset.toml", "gtfs.zip"]
    ds = load_dataset(folder)
    assert len(ds.dwellings) == 4
    assert ds.gtfs_path == folder / "gtfs.zip"


def test_more_arrivals_factor_and_extra_file(tmp_path, base):
    extra = write_csv(tmp_path / "extra.csv", HOUSEHOLDS_HEADER[:7],
                      [["N1", "1", "0", "0", "0", "2025-05-01", "no"]])
    path = scenario_file(tmp_path, base, f"""
[[change]]
kind = "arrivals"
factor = 2
[[change]]
kind = "arrivals"
file = "{extra}"
""")
    scen = sc.read_scenario(path)
    assert scen.touches == frozenset({"households"})
    folder = sc.materialise(scen, tmp_path / "out")
    households = load_dataset(folder).households
    assert len(households) == 3 * 2 + 1
    assert households["household_id"].is_unique
    again = load_dataset(sc.materialise(scen, tmp_path / "out2")).households
    assert households.equals(again)  # deterministic


def test_withdraw_and_add_dwellings(tmp_path, base):
    row = list(DWELLINGS_ROWS[0])
    row[0] = "D9"
    added = write_csv(tmp_path / "new.csv", DWELLINGS_HEADER, [row])
    path = scenario_file(tmp_path, base, f"""
[[change]]
kind = "withdraw_dwellings"
dwelling_ids = ["D1", "D2"]
[[change]]
kind = "add_dwellings"
file = "{added}"
""")
    folder = sc.materialise(sc.read_scenario(path), tmp_path / "out")
    assert sorted(load_dataset(folder).dwellings["dwelling_id"]) == ["D3", "D4", "D9"]


def test_lift_designation_and_policy_changes(tmp_path, base):
    ds = load_dataset(base)
    did = str(ds.designated["designated_id"].iloc[0])
    path = scenario_file(tmp_path, base, f"""
[[change]]
kind = "lift_designation"
designated_id = "{did}"
[[change]]
kind = "weights"
transit = 0.7
[[change]]
kind = "area_cap"
area_id = "A2"
max_share = 0.01
[[change]]
kind = "preset"
policy = "kalundborg"
""", head='policy = "stevns"\ndate = "2026-03-02"')
    scen = sc.read_scenario(path)
    assert scen.effective_policy() == "kalundborg"
    assert scen.weight_overrides() == {"transit": 0.7}
    assert scen.area_caps() == {"A2": 0.01}
    assert str(scen.effective_date()) == "2026-03-02"
    folder = sc.materialise(scen, tmp_path / "out")
    lifted = load_dataset(folder)
    assert len(lifted.designated) == 0
    assert set(lifted.dwellings["designated_kinds"]) == {""}


def test_designate_adds_an_area_that_covers_its_dwellings(tmp_path, base):
    import geopandas as gpd
    from shapely.geometry import box

    ds = load_dataset(base)
    d1 = ds.dwellings.set_index("dwelling_id").loc["D1"]
    area = gpd.GeoDataFrame({"designated_id": ["NEW1"], "name": ["Ny blok"], "kind": ["cap_area"]},
                            geometry=[box(d1["lon"] - 0.001, d1["lat"] - 0.001,
                                          d1["lon"] + 0.001, d1["lat"] + 0.001)], crs=4326)
    area.to_file(tmp_path / "new.geojson", driver="GeoJSON", engine="pyogrio")
    path = scenario_file(tmp_path, base, """
[[change]]
kind = "designate"
file = "new.geojson"
""")
    folder = sc.materialise(sc.read_scenario(path), tmp_path / "out")
    kinds = load_dataset(folder).dwellings.set_index("dwelling_id")["designated_kinds"]
    assert "cap_area" in kinds["D1"]
    assert "cap_area" not in kinds["D4"]
    # independent check: point-in-polygon of every dwelling against the added area
    inside = load_dataset(folder).dwellings.within(area.geometry.iloc[0]).to_numpy()
    assert list(kinds.str.contains("cap_area")) == list(inside)
