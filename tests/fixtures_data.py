"""Helpers that write a tiny dataset in standard formats to a folder (for the real loaders).

The municipality is a 0.10° x 0.06° square near 55.4 N 11.8 E (Zealand) split into two local
areas (A1 west, A2 east), with one designated 'prevention' area inside A2, four dwellings and
three households.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
from shapely.geometry import box

WEST, SOUTH, EAST, NORTH = 11.75, 55.37, 11.85, 55.43
MID_LON = 11.80
DESIGNATED_BOX = (11.82, 55.40, 11.84, 55.42)

DWELLINGS_HEADER = [
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
]
DWELLINGS_ROWS = [
    [
        "D1",
        "Skolevej 1",
        "55.38",
        "11.77",
        "2",
        "55.5",
        "5200",
        "2025-01-01",
        "yes",
        "Bo A",
        "no",
        "B1",
    ],
    [
        "D2",
        "Skolevej 3",
        "55.41",
        "11.78",
        "3",
        "78",
        "6400.5",
        "2025-02-01",
        "yes",
        "Bo A",
        "yes",
        "B1",
    ],
    ["D3", "Torvet 2", "55.41", "11.83", "4", "95", "7900", "2025-03-15", "no", "Bo B", "no", ""],
    [
        "D4",
        "Havnen 9",
        "55.38",
        "11.84",
        "1",
        "32",
        "3900",
        "2025-04-01",
        "yes",
        "Privat",
        "yes",
        "",
    ],
]
#: area and designated kinds of each dwelling above (independent of the loader)
DWELLING_AREAS = ["A1", "A1", "A2", "A2"]
DWELLING_KINDS = ["", "", "prevention", ""]

HOUSEHOLDS_HEADER = [
    "household_id",
    "adults",
    "children_0_5",
    "children_6_16",
    "children_17_plus",
    "arrival_date",
    "step_free_needed",
    "anchor_lat",
    "anchor_lon",
]
HOUSEHOLDS_ROWS = [
    ["H1", "1", "0", "0", "0", "2025-03-01", "no", "", ""],
    ["H2", "2", "1", "1", "0", "2025-03-10", "yes", "55.40", "11.80"],
    ["H3", "1", "0", "2", "1", "2025-04-02", "no", "", ""],
]

HISTORY_HEADER = [
    "person_id",
    "household_id",
    "placement_date",
    "dwelling_id",
    "area_id",
    "integration_end",
    "moved_out_date",
    "destination",
    "household_type",
    "persons",
]
HISTORY_ROWS = [
    ["P1", "H9", "2019-05-01", "D1", "", "", "2021-06-30", "other_municipality", "single", "1"],
    ["P2", "H8", "2019-08-15", "", "A2", "2024-08-15", "", "", "family", "4"],
    ["P2", "H8", "2019-08-15", "", "A2", "2024-08-15", "2022-01-01", "within", "family", "4"],
]

POPULATION_HEADER = ["area_id", "population", "integration_residents"]
POPULATION_ROWS = [["A1", "1200", "15"], ["A2", "800", ""]]

OSM_XML = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="placement tests">
  <node id="1" lat="55.3800" lon="11.7700" version="1"/>
  <node id="2" lat="55.3900" lon="11.7900" version="1"/>
  <node id="3" lat="55.4000" lon="11.8100" version="1"/>
  <node id="4" lat="55.4100" lon="11.8300" version="1"/>
  <node id="5" lat="55.4100" lon="11.7800" version="1"/>
  <node id="6" lat="55.4050" lon="11.8250" version="1">
    <tag k="amenity" v="school"/>
    <tag k="name" v="Byskolen"/>
  </node>
  <way id="10" version="1">
    <nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/>
    <tag k="highway" v="residential"/>
  </way>
  <way id="11" version="1">
    <nd ref="2"/><nd ref="5"/>
    <tag k="highway" v="footway"/>
  </way>
</osm>
"""


def write_csv(
    path: Path,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    sep: str = ",",
    encoding: str = "utf-8",
) -> Path:
    """Write a CSV exactly as given (strings), quoting where needed."""
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh, delimiter=sep, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def boundary_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"navn": ["Testkommune"]}, geometry=[box(WEST, SOUTH, EAST, NORTH)], crs="EPSG:4326"
    )


def areas_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"area_id": ["A2", "A1"], "name": ["Øst", "Vest"]},
        geometry=[box(MID_LON, SOUTH, EAST, NORTH), box(WEST, SOUTH, MID_LON, NORTH)],
        crs="EPSG:4326",
    )


def designated_frame(kind: str = "prevention") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"designated_id": ["V1"], "name": ["Torvekvarteret"], "kind": [kind]},
        geometry=[box(*DESIGNATED_BOX)],
        crs="EPSG:4326",
    )


def write_geopackage(path: Path, *, work_crs: bool = True, kind: str = "prevention") -> Path:
    """Write layers boundary, local_areas, designated_areas (in EPSG:25832 by default)."""
    crs = "EPSG:25832" if work_crs else "EPSG:4326"
    boundary_frame().to_crs(crs).to_file(path, layer="boundary", engine="pyogrio")
    areas_frame().to_crs(crs).to_file(path, layer="local_areas", engine="pyogrio")
    designated_frame(kind).to_crs(crs).to_file(path, layer="designated_areas", engine="pyogrio")
    return path


MANIFEST = {
    "municipality": {"name": "Testkommune", "code": "0999"},
    "boundary": {"file": "municipality.gpkg", "layer": "boundary"},
    "areas": {
        "file": "municipality.gpkg",
        "layer": "local_areas",
        "population_file": "population.csv",
    },
    "designated": {"file": "municipality.gpkg", "layer": "designated_areas"},
    "osm": {"file": "streets.osm"},
    "dwellings": {"file": "dwellings.csv"},
    "households": {"file": "households.csv"},
    "history": {"file": "residence_history.csv"},
}


def manifest_text(sections: dict[str, dict[str, object]]) -> str:
    lines: list[str] = []
    for section, body in sections.items():
        lines.append(f"[{section}]")
        for key, value in body.items():
            lines.append(f'{key} = "{value}"' if isinstance(value, str) else f"{key} = {value}")
        lines.append("")
    return "\n".join(lines)


def write_manifest(folder: Path, sections: dict[str, dict[str, object]]) -> Path:
    path = folder / "dataset.toml"
    path.write_text(manifest_text(sections), encoding="utf-8")
    return path


def write_dataset(
    folder: Path,
    *,
    dwellings: tuple[Sequence[str], Sequence[Sequence[str]]] | None = None,
    households: tuple[Sequence[str], Sequence[Sequence[str]]] | None = None,
    history: tuple[Sequence[str], Sequence[Sequence[str]]] | None = None,
    manifest: dict[str, dict[str, object]] | None = None,
) -> Path:
    """Write the tiny dataset to ``folder`` and return the folder.

    ``dwellings``/``households``/``history`` replace the default (header, rows);
    ``manifest`` replaces whole sections of the default manifest (an empty dict drops one).
    """
    folder.mkdir(parents=True, exist_ok=True)
    write_geopackage(folder / "municipality.gpkg")
    write_csv(folder / "population.csv", POPULATION_HEADER, POPULATION_ROWS)
    (folder / "streets.osm").write_text(OSM_XML, encoding="utf-8")
    write_csv(folder / "dwellings.csv", *(dwellings or (DWELLINGS_HEADER, DWELLINGS_ROWS)))
    write_csv(folder / "households.csv", *(households or (HOUSEHOLDS_HEADER, HOUSEHOLDS_ROWS)))
    write_csv(folder / "residence_history.csv", *(history or (HISTORY_HEADER, HISTORY_ROWS)))
    sections = {k: dict(v) for k, v in MANIFEST.items()}
    for key, body in (manifest or {}).items():
        if body:
            sections[key] = dict(body)
        else:
            sections.pop(key, None)
    write_manifest(folder, sections)
    return folder
