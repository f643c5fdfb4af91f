"""Loaders of placement.load: real CSV/GeoPackage/GeoJSON files written to tmp_path."""

from __future__ import annotations

import string
import warnings
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from fixtures_data import (
    DWELLING_AREAS,
    DWELLING_KINDS,
    DWELLINGS_HEADER,
    DWELLINGS_ROWS,
    HISTORY_HEADER,
    HISTORY_ROWS,
    HOUSEHOLDS_HEADER,
    HOUSEHOLDS_ROWS,
    areas_frame,
    boundary_frame,
    designated_frame,
    write_csv,
    write_geopackage,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from shapely.geometry import Point

from placement import load, schema
from placement._errors import CRSError, DataError

IDX = {name: i for i, name in enumerate(DWELLINGS_HEADER)}
HIDX = {name: i for i, name in enumerate(HOUSEHOLDS_HEADER)}


def rows_copy(rows):
    return [list(r) for r in rows]


def where(err: DataError) -> list[tuple[str, int | None, str | None]]:
    return [(p.file, p.row, p.column) for p in err.problems]


@pytest.fixture
def boundary() -> gpd.GeoDataFrame:
    return boundary_frame()


def dwellings_file(tmp_path: Path, rows=None, header=None, **kw) -> Path:
    return write_csv(
        tmp_path / "dwellings.csv", header or DWELLINGS_HEADER, rows or DWELLINGS_ROWS, **kw
    )


def households_file(tmp_path: Path, rows=None, header=None, **kw) -> Path:
    return write_csv(
        tmp_path / "households.csv", header or HOUSEHOLDS_HEADER, rows or HOUSEHOLDS_ROWS, **kw
    )


# --- good input --------------------------------------------------------------------------------
def test_dwellings_load_with_values_area_and_kinds(tmp_path, boundary):
    path = dwellings_file(tmp_path)
    gdf = load.load_dwellings(
        path, boundary=boundary, areas=areas_frame(), designated=designated_frame()
    )
    assert gdf.crs.to_epsg() == 4326
    assert list(gdf.index) == [0, 1, 2, 3]
    assert list(gdf["dwelling_id"]) == ["D1", "D2", "D3", "D4"]
    assert list(gdf["rooms"]) == [2, 3, 4, 1]
    assert gdf["rooms"].dtype == np.int64
    assert gdf["floor_area_m2"].tolist() == [55.5, 78.0, 95.0, 32.0]
    assert gdf["rent_dkk"].tolist() == [5200.0, 6400.5, 7900.0, 3900.0]
    assert gdf["available_from"].tolist() == list(
        pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-15", "2025-04-01"])
    )
    assert gdf["permanent"].tolist() == [True, True, False, True]
    assert gdf["step_free"].tolist() == [False, True, False, True]
    assert gdf["building_id"].iloc[0] == "B1"
    assert gdf["building_id"].iloc[3] is pd.NA
    assert list(gdf["area_id"]) == DWELLING_AREAS
    assert list(gdf["designated_kinds"]) == DWELLING_KINDS
    assert "x" not in gdf.columns
    assert gdf.geometry.iloc[2].equals(Point(11.83, 55.41))


def test_households_persons_and_type(tmp_path):
    df = load.load_households(households_file(tmp_path))
    assert list(df["persons"]) == [1, 4, 4]
    assert list(df["household_type"]) == ["single", "family", "single_parent"]
    assert np.isnan(df["anchor_lat"].iloc[0])
    assert df["anchor_lon"].iloc[1] == pytest.approx(11.80)
    assert df["step_free_needed"].tolist() == [False, True, False]
    couple = rows_copy(HOUSEHOLDS_ROWS)
    couple[0][HIDX["adults"]] = "2"
    df = load.load_households(households_file(tmp_path, couple))
    assert df["household_type"].iloc[0] == "couple"


def test_history_several_rows_per_person_and_na(tmp_path):
    path = write_csv(tmp_path / "residence_history.csv", HISTORY_HEADER, HISTORY_ROWS)
    df = load.load_history(path)
    assert list(df.columns) == [c.name for c in schema.HISTORY]
    assert list(df["person_id"]) == ["P1", "P2", "P2"]
    assert pd.isna(df["integration_end"].iloc[0])  # not filled in by the loader
    assert df["moved_out_date"].iloc[0] == pd.Timestamp("2021-06-30")
    assert pd.isna(df["moved_out_date"].iloc[1])
    assert list(df["destination"].fillna("-")) == ["other_municipality", "-", "within"]
    assert df["dwelling_id"].iloc[1] is pd.NA


def test_history_needs_an_id_and_a_place(tmp_path):
    rows = rows_copy(HISTORY_ROWS)
    rows[1][0] = rows[1][1] = ""  # no person_id, no household_id
    rows[2][3] = rows[2][4] = ""  # no dwelling_id, no area_id
    rows[0][6] = "2018-01-01"  # move before placement
    path = write_csv(tmp_path / "residence_history.csv", HISTORY_HEADER, rows)
    with pytest.raises(DataError) as exc:
        load.load_history(path)
    assert sorted(where(exc.value), key=str) == sorted(
        [
            ("residence_history.csv", 3, "person_id"),
            ("residence_history.csv", 4, "dwelling_id"),
            ("residence_history.csv", 2, "moved_out_date"),
        ],
        key=str,
    )


def test_history_with_only_household_and_area_columns(tmp_path):
    header = ["household_id", "placement_date", "area_id"]
    path = write_csv(tmp_path / "h.csv", header, [["H1", "2020-01-01", "A1"]])
    df = load.load_history(path)
    assert df["person_id"].isna().all()
    assert df["area_id"].iloc[0] == "A1"
    path = write_csv(tmp_path / "h.csv", ["household_id", "placement_date"], [["H1", "01-01-2020"]])
    with pytest.raises(DataError) as exc:
        load.load_history(path)
    assert where(exc.value) == [("h.csv", None, "dwelling_id")]


# --- bad input: each kind names file, row and column ---------------------------------------
def test_missing_required_column(tmp_path):
    header = [h for h in DWELLINGS_HEADER if h != "rooms"]
    rows = [
        [c for h, c in zip(DWELLINGS_HEADER, r, strict=True) if h != "rooms"]
        for r in DWELLINGS_ROWS
    ]
    with pytest.raises(DataError) as exc:
        load.load_dwellings(dwellings_file(tmp_path, rows, header))
    assert where(exc.value) == [("dwellings.csv", None, "rooms")]
    assert "missing" in exc.value.problems[0].message


def test_extra_unknown_column(tmp_path):
    header = [*DWELLINGS_HEADER, "Ejer"]
    rows = [[*r, "x"] for r in DWELLINGS_ROWS]
    with pytest.raises(DataError) as exc:
        load.load_dwellings(dwellings_file(tmp_path, rows, header))
    assert where(exc.value) == [("dwellings.csv", None, "Ejer")]
    assert "unknown column" in exc.value.problems[0].message


def test_three_bad_cells_give_three_problems(tmp_path):
    rows = rows_copy(DWELLINGS_ROWS)
    rows[0][IDX["rooms"]] = "tre"  # row 2
    rows[2][IDX["rooms"]] = "2.5"  # row 4
    rows[3][IDX["available_from"]] = "03/05/2025"  # row 5
    with pytest.raises(DataError) as exc:
        load.load_dwellings(dwellings_file(tmp_path, rows))
    assert where(exc.value) == [
        ("dwellings.csv", 2, "rooms"),
        ("dwellings.csv", 4, "rooms"),
        ("dwellings.csv", 5, "available_from"),
    ]
    assert "whole number" in exc.value.problems[0].message
    assert "'tre'" in exc.value.problems[0].message
    assert "3 problems" in str(exc.value)


@pytest.mark.parametrize("value", ["03/05/2025", "2025/05/03", "3 May 2025", "2025-13-01"])
def test_bad_date_formats_name_the_expected_format(tmp_path, value):
    rows = rows_copy(HOUSEHOLDS_ROWS)
    rows[1][HIDX["arrival_date"]] = value
    with pytest.raises(DataError) as exc:
        load.load_households(households_file(tmp_path, rows))
    assert where(exc.value) == [("households.csv", 3, "arrival_date")]
    assert "YYYY-MM-DD" in exc.value.problems[0].message


@pytest.mark.parametrize("value", ["2025-05-03", "03-05-2025", "03.05.2025", "3.5.2025"])
def test_accepted_date_formats(tmp_path, value):
    rows = rows_copy(HOUSEHOLDS_ROWS)
    rows[0][HIDX["arrival_date"]] = value
    df = load.load_households(households_file(tmp_path, rows))
    assert df["arrival_date"].iloc[0] == pd.Timestamp(2025, 5, 3)


def test_zero_rooms_and_negative_rent(tmp_path):
    rows = rows_copy(DWELLINGS_ROWS)
    rows[1][IDX["rooms"]] = "0"
    rows[2][IDX["rent_dkk"]] = "-100"
    with pytest.raises(DataError) as exc:
        load.load_dwellings(dwellings_file(tmp_path, rows))
    assert where(exc.value) == [("dwellings.csv", 3, "rooms"), ("dwellings.csv", 4, "rent_dkk")]
    assert all("greater than 0" in p.message for p in exc.value.problems)


def test_negative_children_and_bad_bool(tmp_path):
    rows = rows_copy(HOUSEHOLDS_ROWS)
    rows[0][HIDX["children_0_5"]] = "-1"
    rows[2][HIDX["step_free_needed"]] = "maybe"
    with pytest.raises(DataError) as exc:
        load.load_households(households_file(tmp_path, rows))
    assert where(exc.value) == [
        ("households.csv", 2, "children_0_5"),
        ("households.csv", 4, "step_free_needed"),
    ]


def test_duplicate_dwelling_id(tmp_path):
    rows = rows_copy(DWELLINGS_ROWS)
    rows[3][IDX["dwelling_id"]] = "D2"
    with pytest.raises(DataError) as exc:
        load.load_dwellings(dwellings_file(tmp_path, rows))
    assert where(exc.value) == [("dwellings.csv", 5, "dwelling_id")]
    assert "row 3" in exc.value.problems[0].message


def test_duplicate_household_id(tmp_path):
    rows = rows_copy(HOUSEHOLDS_ROWS)
    rows[2][0] = "H1"
    with pytest.raises(DataError) as exc:
        load.load_households(households_file(tmp_path, rows))
    assert where(exc.value) == [("households.csv", 4, "household_id")]


def test_point_outside_municipality(tmp_path, boundary):
    rows = rows_copy(DWELLINGS_ROWS)
    rows[1][IDX["lat"]], rows[1][IDX["lon"]] = "55.60", "12.10"  # Køge Bugt, far outside
    with pytest.raises(DataError) as exc:
        load.load_dwellings(dwellings_file(tmp_path, rows), boundary=boundary)
    assert where(exc.value) == [("dwellings.csv", 3, "lat/lon")]
    msg = exc.value.problems[0].message
    assert "outside the municipality" in msg
    assert "swapped" not in msg
    # distance in the message: from an independent EPSG:25832 computation
    tr = Transformer.from_crs(4326, 25832, always_xy=True)
    x, y = tr.transform(12.10, 55.60)
    poly = boundary.to_crs(25832).geometry.iloc[0]
    assert f"{poly.distance(Point(x, y)) / 1000:.1f} km" in msg


def test_swapped_lat_lon(tmp_path, boundary):
    rows = rows_copy(DWELLINGS_ROWS)
    rows[2][IDX["lat"]], rows[2][IDX["lon"]] = "11.83", "55.41"
    with pytest.raises(DataError) as exc:
        load.load_dwellings(dwellings_file(tmp_path, rows), boundary=boundary, areas=areas_frame())
    assert where(exc.value) == [("dwellings.csv", 4, "lat/lon")]
    assert "lat and lon look swapped" in exc.value.problems[0].message


def test_xy_coordinates_with_crs(tmp_path, boundary):
    tr = Transformer.from_crs(4326, 25832, always_xy=True)
    header = [
        h if h not in ("lat", "lon") else {"lat": "y", "lon": "x"}[h] for h in DWELLINGS_HEADER
    ]
    rows = rows_copy(DWELLINGS_ROWS)
    for r in rows:
        x, y = tr.transform(float(r[IDX["lon"]]), float(r[IDX["lat"]]))
        r[IDX["lat"]], r[IDX["lon"]] = f"{y:.3f}", f"{x:.3f}"
    path = dwellings_file(tmp_path, rows, header)
    gdf = load.load_dwellings(path, crs="EPSG:25832", boundary=boundary, areas=areas_frame())
    assert gdf["lat"].tolist() == pytest.approx([55.38, 55.41, 55.41, 55.38], abs=1e-7)
    assert gdf["lon"].tolist() == pytest.approx([11.77, 11.78, 11.83, 11.84], abs=1e-7)
    assert list(gdf["area_id"]) == DWELLING_AREAS
    with pytest.raises(DataError) as exc:
        load.load_dwellings(path)  # x/y without crs
    assert where(exc.value) == [("dwellings.csv", None, "x")]
    assert "crs" in exc.value.problems[0].message


def test_no_coordinates_at_all(tmp_path):
    keep = [h for h in DWELLINGS_HEADER if h not in ("lat", "lon")]
    rows = [
        [c for h, c in zip(DWELLINGS_HEADER, r, strict=True) if h in keep] for r in DWELLINGS_ROWS
    ]
    with pytest.raises(DataError) as exc:
        load.load_dwellings(dwellings_file(tmp_path, rows, keep))
    assert where(exc.value) == [("dwellings.csv", None, "lat")]


@pytest.mark.parametrize("cpr", ["010190-1234", "0101901234"])
def test_cpr_in_a_non_id_column(tmp_path, cpr):
    rows = rows_copy(DWELLINGS_ROWS)
    rows[1][IDX["landlord"]] = cpr
    rows[2][IDX["address"]] = f"Torvet 2, lejer {cpr}"
    with pytest.raises(DataError) as exc:
        load.load_dwellings(dwellings_file(tmp_path, rows))
    assert where(exc.value) == [("dwellings.csv", 3, "landlord"), ("dwellings.csv", 4, "address")]
    for problem in exc.value.problems:
        assert "pseudonymous" in problem.message
        assert cpr[:-4] + "****" in problem.message
    assert cpr not in str(exc.value)
    assert cpr[-4:] not in str(exc.value)


@pytest.mark.parametrize("cpr", ["311299-4321", "3112994321"])
def test_cpr_in_the_id_column(tmp_path, cpr):
    rows = rows_copy(HOUSEHOLDS_ROWS)
    rows[0][0] = cpr
    rows[1][0] = cpr  # also a duplicate: the CPR must not leak through that message either
    with pytest.raises(DataError) as exc:
        load.load_households(households_file(tmp_path, rows))
    assert where(exc.value) == [
        ("households.csv", 2, "household_id"),
        ("households.csv", 3, "household_id"),
    ]
    assert cpr not in str(exc.value)
    assert "4321" not in str(exc.value)


def test_cpr_in_an_unknown_column_and_non_cpr_numbers_pass(tmp_path):
    header = [*HOUSEHOLDS_HEADER, "cpr"]
    rows = [[*r, "0101901234" if i == 0 else ""] for i, r in enumerate(HOUSEHOLDS_ROWS)]
    with pytest.raises(DataError) as exc:
        load.load_households(households_file(tmp_path, rows, header))
    assert ("households.csv", 2, "cpr") in where(exc.value)
    assert ("households.csv", None, "cpr") in where(exc.value)  # unknown column too
    # ten digits that are no ddmmyy date, and 8-digit phone numbers, are fine
    rows = rows_copy(HOUSEHOLDS_ROWS)
    rows[0][0] = "9913001234"
    rows[1][0] = "tlf 22334455"
    assert len(load.load_households(households_file(tmp_path, rows))) == 3


def test_danish_excel_export_cp1252_semicolon_decimal_comma(tmp_path, boundary):
    rows = rows_copy(DWELLINGS_ROWS)
    rows[0][IDX["address"]] = "Ærøvej 7, 1. th"
    rows[1][IDX["address"]] = "Søndergade 12"
    rows[2][IDX["landlord"]] = "Boligselskabet Østå"
    for r in rows:
        for name in ("lat", "lon", "floor_area_m2", "rent_dkk"):
            r[IDX[name]] = r[IDX[name]].replace(".", ",")
    rows[3][IDX["rent_dkk"]] = "3.900,50"
    rows[0][IDX["available_from"]] = "01-01-2025"
    rows[1][IDX["available_from"]] = "01.02.2025"
    rows[0][IDX["permanent"]] = "Ja"
    rows[2][IDX["step_free"]] = "NEJ"
    header = [" Dwelling_ID", "Address ", *[h.upper() for h in DWELLINGS_HEADER[2:]]]
    path = dwellings_file(tmp_path, rows, header, sep=";", encoding="cp1252")
    assert "Æ".encode("cp1252") in path.read_bytes()
    gdf = load.load_dwellings(path, boundary=boundary, areas=areas_frame())
    assert list(gdf["address"])[:2] == ["Ærøvej 7, 1. th", "Søndergade 12"]
    assert gdf["landlord"].iloc[2] == "Boligselskabet Østå"
    assert gdf["floor_area_m2"].tolist() == [55.5, 78.0, 95.0, 32.0]
    assert gdf["rent_dkk"].tolist() == [5200.0, 6400.5, 7900.0, 3900.5]
    assert gdf["lat"].tolist() == [55.38, 55.41, 55.41, 55.38]
    assert gdf["available_from"].iloc[0] == pd.Timestamp(2025, 1, 1)
    assert gdf["available_from"].iloc[1] == pd.Timestamp(2025, 2, 1)
    assert gdf["permanent"].iloc[0]
    assert list(gdf["area_id"]) == DWELLING_AREAS


def test_utf8_bom_semicolon(tmp_path):
    rows = rows_copy(DWELLINGS_ROWS)
    rows[0][IDX["address"]] = "Åboulevarden 3"
    rows[1][IDX["rent_dkk"]] = "6400,5"
    path = dwellings_file(tmp_path, rows, sep=";", encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    gdf = load.load_dwellings(path)
    assert gdf["dwelling_id"].iloc[0] == "D1"  # BOM not glued to the first header name
    assert gdf["address"].iloc[0] == "Åboulevarden 3"
    assert gdf["rent_dkk"].iloc[1] == 6400.5


def test_ambiguous_thousands(tmp_path):
    rows = rows_copy(DWELLINGS_ROWS)
    rows[0][IDX["rent_dkk"]] = "5.200"  # in a ';' file: 5200 or 5,2?
    path = dwellings_file(tmp_path, rows, sep=";")
    with pytest.raises(DataError) as exc:
        load.load_dwellings(path)
    assert where(exc.value) == [("dwellings.csv", 2, "rent_dkk")]
    assert "ambiguous" in exc.value.problems[0].message
    rows = rows_copy(DWELLINGS_ROWS)
    rows[0][IDX["rent_dkk"]] = "5,200"  # in a ',' file (quoted)
    with pytest.raises(DataError) as exc:
        load.load_dwellings(dwellings_file(tmp_path, rows))
    assert where(exc.value) == [("dwellings.csv", 2, "rent_dkk")]


def test_empty_required_cell_and_blank_lines_keep_row_numbers(tmp_path):
    rows = rows_copy(DWELLINGS_ROWS)
    rows[3][IDX["landlord"]] = ""
    path = dwellings_file(tmp_path, rows)
    text = path.read_bytes().decode("utf-8").split("\r\n")
    text.insert(2, "")  # a blank line as row 3: rows below shift by one, as in a spreadsheet
    path.write_bytes("\r\n".join(text).encode("utf-8"))
    with pytest.raises(DataError) as exc:
        load.load_dwellings(path)
    assert where(exc.value) == [("dwellings.csv", 6, "landlord")]


def test_read_table_population(tmp_path):
    path = write_csv(tmp_path / "pop.csv", ["AREA_ID", "Population"], [["007", "12"], ["8", "x"]])
    with pytest.raises(DataError) as exc:
        load.read_table(path, schema.POPULATION)
    assert where(exc.value) == [("pop.csv", 3, "population")]


# --- geodata --------------------------------------------------------------------------------
def test_geopackage_layers_in_25832_come_back_in_4326(tmp_path):
    gpkg = write_geopackage(tmp_path / "m.gpkg")
    b = load.load_boundary(gpkg, layer="boundary", name="T", code="0999")
    assert b.crs.to_epsg() == 4326
    assert list(b.columns) == ["name", "code", "geometry"]
    assert b.geometry.iloc[0].bounds == pytest.approx((11.75, 55.37, 11.85, 55.43), abs=1e-7)
    a = load.load_areas(
        gpkg,
        layer="local_areas",
        population_file=write_csv(
            tmp_path / "p.csv", ["area_id", "population"], [["A1", "10"], ["A2", "20"], ["X9", "5"]]
        ),
    )
    assert list(a["area_id"]) == ["A1", "A2"]  # sorted
    assert list(a["name"]) == ["Vest", "Øst"]
    assert list(a["population"]) == [10, 20]
    assert list(a["integration_residents"]) == [0, 0]
    d = load.load_designated(gpkg, layer="designated_areas")
    assert list(d.columns) == ["designated_id", "name", "kind", "geometry"]
    assert d["kind"].tolist() == ["prevention"]


def test_areas_population_missing_for_an_area(tmp_path):
    gpkg = write_geopackage(tmp_path / "m.gpkg")
    pop = write_csv(tmp_path / "population.csv", ["area_id", "population"], [["A1", "10"]])
    with pytest.raises(DataError) as exc:
        load.load_areas(gpkg, layer="local_areas", population_file=pop)
    assert where(exc.value) == [("population.csv", None, "population")]
    assert "'A2'" in exc.value.problems[0].message
    with pytest.raises(DataError) as exc:
        load.load_areas(gpkg, layer="local_areas")  # no population anywhere: both areas
    assert where(exc.value) == [("m.gpkg", 1, "population"), ("m.gpkg", 2, "population")]


def test_areas_population_from_layer_and_id_mapping(tmp_path):
    gdf = areas_frame().rename(columns={"area_id": "SOGNEKODE", "name": "SOGNENAVN"})
    gdf["SOGNEKODE"] = [7002, 7001]
    gdf["population"] = [300, 400]
    gdf["integration_residents"] = [3, 4]
    path = tmp_path / "sogne.geojson"
    gdf.to_file(path, driver="GeoJSON", engine="pyogrio")
    a = load.load_areas(path, id_field="SOGNEKODE", name_field="SOGNENAVN")
    assert list(a["area_id"]) == ["7001", "7002"]
    assert list(a["population"]) == [400, 300]
    assert list(a["integration_residents"]) == [4, 3]
    with pytest.raises(DataError) as exc:
        load.load_areas(path, id_field="KODE", name_field="SOGNENAVN")
    assert where(exc.value) == [("sogne.geojson", None, "KODE")]


def test_designated_kind_must_be_known(tmp_path):
    gpkg = write_geopackage(tmp_path / "m.gpkg", kind="ghetto")
    with pytest.raises(DataError) as exc:
        load.load_designated(gpkg, layer="designated_areas")
    assert where(exc.value) == [("m.gpkg", 1, "kind")]
    assert "vulnerable" in exc.value.problems[0].message
    empty = load.load_designated(None)
    assert len(empty) == 0
    assert list(empty.columns) == ["designated_id", "name", "kind", "geometry"]


def test_geojson_without_crs_is_4326_and_layer_without_crs_needs_one(tmp_path):
    path = tmp_path / "b.geojson"
    path.write_text(boundary_frame().to_json(), encoding="utf-8")
    assert '"crs"' not in path.read_text(encoding="utf-8")
    b = load.load_boundary(path)
    assert b.crs.to_epsg() == 4326
    assert b.geometry.iloc[0].bounds == pytest.approx((11.75, 55.37, 11.85, 55.43))
    gpkg = tmp_path / "nocrs.gpkg"
    naive = boundary_frame().to_crs(25832).set_crs(None, allow_override=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pyogrio warns about the missing CRS
        naive.to_file(gpkg, layer="boundary", engine="pyogrio")
    with pytest.raises(CRSError) as exc:
        load.load_boundary(gpkg, layer="boundary")
    assert where(exc.value) == [("nocrs.gpkg", None, "crs")]
    b2 = load.load_boundary(gpkg, layer="boundary", crs="EPSG:25832")
    assert b2.geometry.iloc[0].bounds == pytest.approx((11.75, 55.37, 11.85, 55.43), abs=1e-6)


def test_missing_layer_lists_the_layers(tmp_path):
    gpkg = write_geopackage(tmp_path / "m.gpkg")
    with pytest.raises(DataError) as exc:
        load.load_boundary(gpkg, layer="kommune")
    assert where(exc.value) == [("m.gpkg", None, "layer")]
    assert "local_areas" in exc.value.problems[0].message


# --- invariants ------------------------------------------------------------------------------
@settings(deadline=None, max_examples=50)
@given(
    lon=st.floats(8.0, 15.2, allow_nan=False),
    lat=st.floats(54.5, 57.8, allow_nan=False),
)
def test_round_trip_4326_25832_4326(lon, lat):
    fwd = Transformer.from_crs(4326, 25832, always_xy=True)
    back = Transformer.from_crs(25832, 4326, always_xy=True)
    x, y = fwd.transform(lon, lat)
    lon2, lat2 = back.transform(x, y)
    assert abs(lon2 - lon) < 1e-7
    assert abs(lat2 - lat) < 1e-7
    pts = gpd.GeoSeries([Point(lon, lat)], crs=4326).to_crs(25832).to_crs(4326)
    assert abs(pts.iloc[0].x - lon) < 1e-7
    assert abs(pts.iloc[0].y - lat) < 1e-7


_ids = st.text(string.ascii_letters + "-_", min_size=1, max_size=8)
_household = st.fixed_dictionaries(
    {
        "adults": st.integers(1, 6),
        "children_0_5": st.integers(0, 4),
        "children_6_16": st.integers(0, 4),
        "children_17_plus": st.integers(0, 3),
        "arrival_date": st.dates(date(1990, 1, 1), date(2040, 12, 31)),
        "step_free_needed": st.booleans(),
        "anchor": st.one_of(
            st.none(),
            st.tuples(
                st.floats(54.5, 57.8, allow_nan=False), st.floats(8.0, 15.2, allow_nan=False)
            ),
        ),
    }
)


@settings(deadline=None, max_examples=40)
@given(
    ids=st.lists(_ids, min_size=1, max_size=8, unique=True),
    households=st.lists(_household, min_size=8, max_size=8),
    danish=st.booleans(),
    date_style=st.sampled_from(["%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y"]),
)
def test_random_valid_households_load_with_the_same_values(
    tmp_path_factory, ids, households, danish, date_style
):
    sep, encoding = (";", "cp1252") if danish else (",", "utf-8")
    rows = []
    for hid, h in zip(ids, households, strict=False):
        anchor = h["anchor"]
        lat_s = lon_s = ""
        if anchor is not None:
            lat_s, lon_s = repr(anchor[0]), repr(anchor[1])
            if danish:
                lat_s, lon_s = lat_s.replace(".", ","), lon_s.replace(".", ",")
        yes, no = ("ja", "nej") if danish else ("yes", "no")
        rows.append(
            [
                hid,
                str(h["adults"]),
                str(h["children_0_5"]),
                str(h["children_6_16"]),
                str(h["children_17_plus"]),
                h["arrival_date"].strftime(date_style),
                yes if h["step_free_needed"] else no,
                lat_s,
                lon_s,
            ]
        )
    folder = tmp_path_factory.mktemp("hh")
    path = write_csv(folder / "households.csv", HOUSEHOLDS_HEADER, rows, sep=sep, encoding=encoding)
    df = load.load_households(path)
    assert list(df["household_id"]) == list(ids)
    for k, (hid, h) in enumerate(zip(ids, households, strict=False)):
        assert df["household_id"].iloc[k] == hid
        assert df["adults"].iloc[k] == h["adults"]
        assert df["children_6_16"].iloc[k] == h["children_6_16"]
        assert df["arrival_date"].iloc[k] == pd.Timestamp(h["arrival_date"])
        assert bool(df["step_free_needed"].iloc[k]) == h["step_free_needed"]
        kids = h["children_0_5"] + h["children_6_16"] + h["children_17_plus"]
        assert df["persons"].iloc[k] == h["adults"] + kids
        if h["anchor"] is None:
            assert np.isnan(df["anchor_lat"].iloc[k])
        else:
            assert df["anchor_lat"].iloc[k] == h["anchor"][0]
            assert df["anchor_lon"].iloc[k] == h["anchor"][1]
