"""End to end on a real municipality the tests were not built around: Samsø (0741).

Built only from the public files in ../shared/data: the municipality and its parishes are
selected by code from the *national* DAGI files (the parish file repeats SOGNEKODE 9179
elsewhere), the OpenStreetMap extract is cut to the north of the island (partial coverage),
there is no GTFS feed and no population file, and the dwellings lie at real OSM address nodes
all over the island, without building_id. The chain validate → access → propose → report
retention must say what it does not know, and never score a dwelling without data as measured.
Expected numbers are computed here independently (address coordinates against the cut line).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import osmium
import pandas as pd
import pytest

from placement import cli

pytestmark = pytest.mark.shared_data

SAMSOE_OSM = "osm/samsoe_2020-03-09.osm.bz2"
#: The extract is cut here: only the part of the island north of this latitude is covered.
CUT_LAT = 55.9
#: The bounds of the full extract (PROVENANCE.md), west, south, east, north.
BBOX = (10.4844, 55.748, 10.735, 56.0122)
N_DWELLINGS = 40
N_HOUSEHOLDS = 28


def _cut_extract(src: Path, dst: Path, lat_min: float) -> None:
    """Write the nodes north of ``lat_min`` and the ways lying wholly there, with bounds."""
    keep: set[int] = set()

    class Nodes(osmium.SimpleHandler):
        def node(self, n: Any) -> None:
            if n.location.lat >= lat_min:
                keep.add(n.id)

    Nodes().apply_file(str(src))
    header = osmium.io.Header()
    header.add_box(osmium.osm.Box(BBOX[0], lat_min, BBOX[2], BBOX[3]))
    writer = osmium.SimpleWriter(str(dst), header=header)

    class Write(osmium.SimpleHandler):
        def node(self, n: Any) -> None:
            if n.id in keep:
                writer.add_node(n)

        def way(self, w: Any) -> None:
            if all(r.ref in keep for r in w.nodes):
                writer.add_way(w)

    Write().apply_file(str(src))
    writer.close()


def _address_nodes(src: Path) -> list[tuple[int, float, float, str]]:
    found: list[tuple[int, float, float, str]] = []

    class Addr(osmium.SimpleHandler):
        def node(self, n: Any) -> None:
            t = n.tags
            if "addr:housenumber" in t and "addr:street" in t:
                found.append((n.id, n.location.lat, n.location.lon,
                              f"{t['addr:street']} {t['addr:housenumber']}"))

    Addr().apply_file(str(src))
    return sorted(found)


@pytest.fixture(scope="module")
def samsoe_case(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The dataset folder, and the ids of the dwellings outside the cut (computed here)."""
    root = tmp_path_factory.mktemp("samsoe")
    src = shared_data / SAMSOE_OSM
    _cut_extract(src, root / "north.osm", CUT_LAT)
    nodes = _address_nodes(src)
    # every k-th address node, so the dwellings spread over the whole island
    step = len(nodes) // N_DWELLINGS
    picked = nodes[::step][:N_DWELLINGS]
    south: list[str] = []
    with (root / "dwellings.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["dwelling_id", "address", "lat", "lon", "rooms", "floor_area_m2", "rent_dkk",
                    "available_from", "permanent", "landlord", "step_free"])
        for k, (_, lat, lon, address) in enumerate(picked):
            did = f"D{k:03d}"
            if lat < CUT_LAT:
                south.append(did)
            rooms = 2 + k % 3
            w.writerow([did, address, f"{lat:.7f}", f"{lon:.7f}", rooms, 40 + 15 * rooms,
                        4_500 + 300 * rooms, "2026-01-01", "yes", "Samsø Boligforening", "yes"])
    with (root / "households.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["household_id", "adults", "children_0_5", "children_6_16",
                    "children_17_plus", "arrival_date", "step_free_needed"])
        for k in range(N_HOUSEHOLDS):
            w.writerow([f"H{k:03d}", 1 + k % 2, int(k % 3 == 0), int(k % 4 == 1), 0, "2026-02-01",
                        "no"])
    # a small made-up residence history for the retention report
    with (root / "history.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["person_id", "placement_date", "area_id", "integration_end",
                    "moved_out_date", "destination"])
        for k in range(30):
            moved = k % 4 == 0
            w.writerow([f"P{k:03d}", f"{2019 + k % 2}-03-01", ("7240", "7244", "7242")[k % 3],
                        f"{2024 + k % 2}-03-01", "2023-06-01" if moved else "",
                        "other_municipality" if moved else ""])
    (root / "dataset.toml").write_text(
        f"""[municipality]
name = "Samsø"
code = "0741"

[boundary]
file = "{shared_data / 'boundaries' / 'dk_kommuner_dagi_2014.geojson'}"

[areas]
file = "{shared_data / 'boundaries' / 'dk_sogne_dagi_2014.geojson'}"
id_field = "SOGNEKODE"
name_field = "SOGNENAVN"

[osm]
file = "north.osm"

[dwellings]
file = "dwellings.csv"

[households]
file = "households.csv"

[history]
file = "history.csv"
""",
        encoding="utf-8",
    )
    assert 0 < len(south) < N_DWELLINGS  # both parts of the island have dwellings
    return {"root": root, "south": south, "n": len(picked)}


@pytest.fixture(scope="module")
def chain(samsoe_case: dict[str, Any], tmp_path_factory: pytest.TempPathFactory,
          ) -> dict[str, Any]:
    """Run validate, access, propose and report retention once through the command line."""
    root = samsoe_case["root"]
    out = tmp_path_factory.mktemp("samsoe-out")
    results: dict[str, Any] = {"out": out}
    results["validate"] = cli.main(["validate", str(root)])
    results["access"] = cli.main(["access", str(root), "--out", str(out / "access.csv")])
    results["propose"] = cli.main(["propose", str(root), "--out", str(out / "proposals.csv")])
    results["report"] = cli.main(["report", "retention", str(root), "--year", "2024",
                                  "--out", str(out / "retention.html")])
    return results


def test_validate_warns_and_exits_0(samsoe_case: dict[str, Any], chain: dict[str, Any],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    from placement.dataset import validate_dataset

    assert chain["validate"] == 0
    report = validate_dataset(samsoe_case["root"])
    assert report.ok
    assert report.summary["areas"] == 5  # Samsø's parishes, from the national file by code
    topics = {w.topic: w for w in report.warnings}
    outside = topics["outside_osm_coverage"]
    assert set(outside.ids) == set(samsoe_case["south"])
    assert f"{len(samsoe_case['south'])} of {samsoe_case['n']} dwellings" in outside.message
    assert "unknown" in topics["gtfs"].message
    assert "caps are off" in topics["population"].message
    assert "jobcenter" in topics["amenities"].ids


def test_access_never_measures_without_data(samsoe_case: dict[str, Any],
                                            chain: dict[str, Any]) -> None:
    assert chain["access"] == 0
    acc = pd.read_csv(chain["out"] / "access.csv", dtype={"dwelling_id": str},
                      keep_default_na=True).set_index("dwelling_id")
    south = acc.index.isin(samsoe_case["south"])
    assert (acc.loc[south, "walk_unknown"] == "outside_osm_coverage").all()
    assert acc.loc[~south, "walk_unknown"].isna().all()  # "" is written as an empty cell
    walk = [c for c in acc.columns if c.startswith(("walk_", "n_")) and c != "walk_unknown"]
    assert acc.loc[south, walk].isna().all().all()  # unknown, never 0
    assert acc.loc[~south, "walk_school_min"].notna().all()
    # no timetable: service level unknown everywhere, not 0 departures
    assert acc["departures_per_hour_500m"].isna().all()
    # no jobcenter in the OSM data: its counts are unknown, not 0
    assert acc["n_jobcenter_within_30min"].isna().all()


def test_propose_places_everyone_and_reports_unknowns(samsoe_case: dict[str, Any],
                                                      chain: dict[str, Any]) -> None:
    assert chain["propose"] == 0
    out = chain["out"]
    prop = pd.read_csv(out / "proposals.csv", dtype={"dwelling_id": str, "no_data": str},
                       keep_default_na=False, na_values=[""])
    summary = json.loads((out / "proposals.summary.json").read_text(encoding="utf-8"))
    # optional fields are optional: no building_id, no population -> still a sensible plan
    assert prop["dwelling_id"].notna().all(), prop["unplaced_reason"].tolist()
    assert prop["dwelling_id"].is_unique
    assert summary["n_placed"] == N_HOUSEHOLDS
    assert any("no population per local area" in n for n in summary["notes"])
    assert any("no timetable" in n for n in summary["notes"])
    # no dwelling without data is scored as measured
    south = prop["dwelling_id"].isin(samsoe_case["south"])
    assert south.any()
    assert (~south).any()
    assert prop.loc[south, ["score", "transit", "community"]].isna().all().all()
    assert (prop.loc[south, "no_data"].str.contains("transit")).all()
    assert (prop.loc[south, "no_data"].str.contains("community")).all()
    assert prop.loc[~south, "score"].notna().all()
    assert prop.loc[~south, "no_data"].isna().all()
    # the unknowns are reported: which dwellings and how many
    unknown = summary["unknown"]["transit"]
    assert unknown["policy"] == "leave_out"
    assert unknown["dwellings_no_data"] == len(samsoe_case["south"])
    assert set(unknown["dwelling_ids"]) == set(samsoe_case["south"])
    assert unknown["placed_no_data"] == int(south.sum())
    assert summary["n_placed_no_data"] == int(south.sum())
    alt = pd.read_csv(out / "proposals.alternatives.csv", dtype={"dwelling_id": str},
                      keep_default_na=False, na_values=[""])
    alt_south = alt["dwelling_id"].isin(samsoe_case["south"])
    assert alt.loc[alt_south, "score"].isna().all()
    assert alt.loc[alt_south, "no_data"].notna().all()


def test_retention_report_says_population_fallback(chain: dict[str, Any]) -> None:
    assert chain["report"] == 0
    text = (chain["out"] / "retention.html").read_text(encoding="utf-8")
    assert "No population per local area was given" in text


def test_exclude_policy_keeps_dwellings_without_data_out(samsoe_case: dict[str, Any],
                                                         chain: dict[str, Any],
                                                         tmp_path: Path) -> None:
    """unknown = exclude: no household goes to a dwelling whose terms are unknown."""
    policy = tmp_path / "exclude.toml"
    policy.write_text('[unknown]\ntransit = "exclude"\ncommunity = "exclude"\n',
                      encoding="utf-8")
    out = tmp_path / "p.csv"
    assert cli.main(["propose", str(samsoe_case["root"]), "--policy", str(policy),
                     "--out", str(out)]) == 0
    prop = pd.read_csv(out, dtype={"dwelling_id": str})
    placed = prop["dwelling_id"].dropna()
    assert not placed.isin(samsoe_case["south"]).any()
    n_north = samsoe_case["n"] - len(samsoe_case["south"])
    assert len(placed) == min(N_HOUSEHOLDS, n_north)
    unplaced = prop.loc[prop["dwelling_id"].isna(), "unplaced_reason"]
    assert np.all(unplaced.str.len() > 0)
