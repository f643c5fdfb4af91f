"""The CPR guard: every way people write a CPR number is caught; numbers that are none pass."""

from __future__ import annotations

from datetime import date, timedelta

import fixtures_data as fd
import geopandas as gpd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from placement import load
from placement._errors import DataError
from placement.dataset import read_manifest, validate_dataset
from placement.validate import find_cpr, mask_cpr

WRITTEN = ["010190 1234", "010190/1234", "010190.1234", "010190\u20131234", "01.01.90-1234",
           "010190 - 1234", "0101 90 1234", "0101901234", "010190-1234", "01-01-90-1234",
           "01/01/90 1234", "010190\u20141234", "010190 \u2013 1234"]


@pytest.mark.parametrize("text", WRITTEN)
def test_every_way_of_writing_a_cpr_number_is_caught(text):
    assert find_cpr(text) == text
    assert find_cpr(f"reason: CPR {text}, see file") == text
    masked = mask_cpr(find_cpr(text))
    assert masked.endswith("****")
    assert "1234" not in masked


@pytest.mark.parametrize("text", [
    "11.0812345678", "55.0101901234", "8.3101901234", "-11.0812345678", "12,0101901234",
    "2026-01-17", "17-01-2026", "17.01.2026", "2026-01-01 12:00:00", "H0005", "D0184",
    "tlf 22 33 44 55", "+45 22334455", "9912345678", "010190-12345", "1010190-1234",
    "0101901234567", "Skolevej 12, 4400 Kalundborg",
])
def test_numbers_that_are_no_cpr_numbers_pass(text):
    assert find_cpr(text) is None


@settings(max_examples=300, deadline=None)
@given(lon=st.floats(min_value=10.8, max_value=11.5), decimals=st.integers(6, 12))
def test_longitudes_with_many_decimals_are_never_cpr_numbers(lon, decimals):
    assert find_cpr(f"{lon:.{decimals}f}") is None


@settings(max_examples=200, deadline=None)
@given(day=st.integers(0, 365 * 99), serial=st.integers(0, 9999),
       sep=st.sampled_from(["", "-", " ", "/", ".", " - ", "\u2013"]))
def test_any_birth_date_with_any_serial_is_caught(day, serial, sep):
    born = date(1920, 1, 1) + timedelta(days=day)
    text = f"{born:%d%m%y}{sep}{serial:04d}"
    assert find_cpr(f"x {text} y") == text


def _dwellings_with(cell_column: str, value: str):
    rows = [list(r) for r in fd.DWELLINGS_ROWS]
    rows[0][fd.DWELLINGS_HEADER.index(cell_column)] = value
    return fd.DWELLINGS_HEADER, rows


def test_a_longitude_with_ten_decimals_is_loaded_not_refused(tmp_path):
    header, rows = _dwellings_with("lon", "11.0812345678")
    rows[0][fd.DWELLINGS_HEADER.index("lat")] = "55.3801901234"
    gdf = load.load_dwellings(fd.write_csv(tmp_path / "dwellings.csv", header, rows))
    assert gdf["lon"].iloc[0] == pytest.approx(11.0812345678)
    # with decimal comma in a ';' file too
    rows[0][fd.DWELLINGS_HEADER.index("lon")] = "11,0812345678"
    rows[0][fd.DWELLINGS_HEADER.index("lat")] = "55,38"
    for r in rows[1:]:
        for name in ("lat", "lon", "floor_area_m2", "rent_dkk"):
            r[fd.DWELLINGS_HEADER.index(name)] = r[fd.DWELLINGS_HEADER.index(name)].replace(
                ".", ",")
    path = fd.write_csv(tmp_path / "semi.csv", header, rows, sep=";")
    assert load.load_dwellings(path)["lon"].iloc[0] == pytest.approx(11.0812345678)


@pytest.mark.parametrize("text", WRITTEN)
def test_written_cpr_numbers_in_a_csv_are_refused_masked(tmp_path, text):
    header, rows = _dwellings_with("landlord", f"lejer {text}")
    with pytest.raises(DataError) as exc:
        load.load_dwellings(fd.write_csv(tmp_path / "dwellings.csv", header, rows))
    assert [(p.row, p.column) for p in exc.value.problems] == [(2, "landlord")]
    assert "1234" not in str(exc.value)


def test_cpr_in_geopackage_attributes_is_refused(tmp_path):
    path = tmp_path / "areas.gpkg"
    areas = fd.areas_frame()
    areas["note"] = ["ok", "kontakt 010190 1234"][: len(areas)] + ["ok"] * (len(areas) - 2)
    areas.to_file(path, layer="local_areas", engine="pyogrio")
    with pytest.raises(DataError) as exc:
        load.load_areas(path, layer="local_areas")
    cpr = [p for p in exc.value.problems if "CPR" in p.message]
    assert [(p.file, p.row, p.column) for p in cpr] == [("areas.gpkg", 2, "note")]
    assert "1234" not in str(exc.value)


def test_cpr_written_as_a_number_in_geodata_is_refused(tmp_path):
    path = tmp_path / "designated.geojson"
    designated = fd.designated_frame()
    designated["person"] = 1501901234
    gpd.GeoDataFrame(designated).to_file(path, driver="GeoJSON", engine="pyogrio")
    with pytest.raises(DataError) as exc:
        load.load_designated(path)
    assert ("person", 1) in [(p.column, p.row) for p in exc.value.problems]


def test_cpr_in_the_manifest_is_refused(tmp_path):
    folder = fd.write_dataset(
        tmp_path / "ds", manifest={"municipality": {"name": "Kontakt 010190-1234",
                                                    "code": "0999"}})
    with pytest.raises(DataError) as exc:
        read_manifest(folder)
    assert [(p.file, p.column) for p in exc.value.problems] == [("dataset.toml",
                                                                 "municipality.name")]
    assert "1234" not in str(exc.value)
    report = validate_dataset(folder)
    assert any("CPR" in p.message for p in report.problems)
