"""Bad values and broken files get a located message, never a traceback, and hide nothing else."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import fixtures_data as fd
import pandas as pd
import pytest

from placement import load
from placement._errors import DataError
from placement.dataset import validate_dataset


def where(err: DataError) -> list[tuple[str, int | None, str | None]]:
    return [(p.file, p.row, p.column) for p in err.problems]


def _households(tmp_path: Path, rows=None, header=None, name="households.csv") -> Path:
    return fd.write_csv(tmp_path / name, header or fd.HOUSEHOLDS_HEADER,
                        rows or fd.HOUSEHOLDS_ROWS)


def _rows(rows):
    return [list(r) for r in rows]


HIDX = {n: i for i, n in enumerate(fd.HOUSEHOLDS_HEADER)}
DIDX = {n: i for i, n in enumerate(fd.DWELLINGS_HEADER)}
LOADERS = [load.load_dwellings, load.load_households, load.load_history]


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\r\n\r\n", b"  \n"])
@pytest.mark.parametrize("loader", LOADERS)
def test_an_empty_file_is_one_located_problem(tmp_path, loader, content):
    path = tmp_path / "table.csv"
    path.write_bytes(content)
    with pytest.raises(DataError) as exc:
        loader(path)
    assert where(exc.value) == [("table.csv", 1, None)]
    assert "empty" in str(exc.value)


@pytest.mark.parametrize("value", ["9223372036854775808", "-9223372036854775809",
                                   "100000000000000000000000"])
def test_whole_numbers_beyond_int64_are_located(tmp_path, value):
    rows = _rows(fd.HOUSEHOLDS_ROWS)
    rows[1][HIDX["children_0_5"]] = value
    rows[2][HIDX["adults"]] = "tre"
    with pytest.raises(DataError) as exc:
        load.load_households(_households(tmp_path, rows))
    assert where(exc.value) == [("households.csv", 3, "children_0_5"),
                                ("households.csv", 4, "adults")]
    assert "too large" in exc.value.problems[0].message


def test_largest_int64_still_loads(tmp_path):
    rows = _rows(fd.HISTORY_ROWS)
    header = fd.HISTORY_HEADER
    if "persons" in header:
        rows[0][header.index("persons")] = str(2**63 - 1)
        frame = load.load_history(fd.write_csv(tmp_path / "h.csv", header, rows))
        assert int(frame["persons"].iloc[0]) == 2**63 - 1


def test_open_end_dates_are_no_date_where_the_column_may_be_empty(tmp_path):
    header = fd.HISTORY_HEADER
    rows = _rows(fd.HISTORY_ROWS)
    rows[0][header.index("moved_out_date")] = "9999-12-31"
    rows[0][header.index("destination")] = ""
    rows[1][header.index("integration_end")] = "31-12-9999"
    frame = load.load_history(fd.write_csv(tmp_path / "h.csv", header, rows))
    assert pd.isna(frame["moved_out_date"].iloc[0])
    assert pd.isna(frame["integration_end"].iloc[1])


@pytest.mark.parametrize(("value", "needle"), [("9999-12-31", "open end"),
                                                ("1066-10-14", "outside the years"),
                                                ("2300-01-01", "outside the years"),
                                                ("01.01.1600", "outside the years")])
def test_dates_pandas_cannot_hold_are_located(tmp_path, value, needle):
    rows = _rows(fd.HOUSEHOLDS_ROWS)
    rows[0][HIDX["arrival_date"]] = value
    rows[2][HIDX["step_free_needed"]] = "maybe"
    with pytest.raises(DataError) as exc:
        load.load_households(_households(tmp_path, rows))
    assert where(exc.value) == [("households.csv", 2, "arrival_date"),
                                ("households.csv", 4, "step_free_needed")]
    assert needle in exc.value.problems[0].message


def test_a_dwellings_file_cut_in_its_last_row_is_flagged(tmp_path):
    path = fd.write_csv(tmp_path / "dwellings.csv", fd.DWELLINGS_HEADER, fd.DWELLINGS_ROWS)
    text = path.read_text(encoding="utf-8").rstrip("\r\n")
    # cut inside the last row, before its last (optional) column
    cut = text[: text.rfind(",", 0, text.rfind(","))]
    path.write_text(cut, encoding="utf-8")
    with pytest.raises(DataError) as exc:
        load.load_dwellings(path)
    last = len(fd.DWELLINGS_ROWS) + 1
    assert ("dwellings.csv", last, None) in where(exc.value)
    assert "cut off" in str(exc.value)


def test_a_history_cut_in_its_last_row_is_flagged(tmp_path):
    header = fd.HISTORY_HEADER
    path = fd.write_csv(tmp_path / "residence_history.csv", header, fd.HISTORY_ROWS)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[-1] = ",".join(lines[-1].split(",")[: len(header) - 2])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as exc:
        load.load_history(path)
    assert ("residence_history.csv", len(lines), None) in where(exc.value)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_is_named_with_how_to_save_as_utf8(tmp_path, encoding):
    path = _households(tmp_path)
    path.write_bytes(path.read_text(encoding="utf-8").encode(encoding))
    with pytest.raises(DataError) as exc:
        load.load_households(path)
    assert len(exc.value.problems) == 1
    message = exc.value.problems[0].message
    assert "UTF-16" in message
    assert "CSV UTF-8" in message


def test_nul_bytes_are_located(tmp_path):
    path = _households(tmp_path)
    data = path.read_bytes()
    at = data.index(b"H2")
    path.write_bytes(data[:at] + b"\x00" + data[at:])
    with pytest.raises(DataError) as exc:
        load.load_households(path)
    assert where(exc.value) == [("households.csv", 3, None)]


@pytest.mark.parametrize(("loader", "what"), [(load.load_dwellings, "0 dwellings"),
                                             (load.load_households, "0 households")])
def test_header_only_is_valid_with_a_warning(tmp_path, caplog, loader, what):
    header = fd.DWELLINGS_HEADER if what == "0 dwellings" else fd.HOUSEHOLDS_HEADER
    path = fd.write_csv(tmp_path / "t.csv", header, [])
    with caplog.at_level(logging.WARNING, logger="placement.load"):
        frame = loader(path)
    assert len(frame) == 0
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        f"t.csv has a header but no rows: {what}"]


def test_the_command_line_prints_the_zero_warning(tmp_path, repo_root):
    folder = fd.write_dataset(tmp_path / "ds", dwellings=(fd.DWELLINGS_HEADER, []))
    done = subprocess.run([sys.executable, "-m", "placement.cli", "validate", str(folder)],
                          capture_output=True, text=True, cwd=repo_root, check=False)
    assert "0 dwellings" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("value", ["${alert(document.cookie)}", "<b>H1</b>", "H1\"", "=H1",
                                   "@H1", "H1;2", "x" * 65])
def test_ids_are_restricted_to_a_safe_character_set(tmp_path, value):
    rows = _rows(fd.HOUSEHOLDS_ROWS)
    rows[1][0] = value
    with pytest.raises(DataError) as exc:
        load.load_households(_households(tmp_path, rows))
    assert where(exc.value) == [("households.csv", 3, "household_id")]


@pytest.mark.parametrize("value", ["H0001", "R-12/3", "Bolig 7.2", "Åbo_1", "0999:17", "7#",
                                   "-_a"])
def test_ordinary_ids_pass(tmp_path, value):
    rows = _rows(fd.HOUSEHOLDS_ROWS)
    rows[1][0] = value
    assert load.load_households(_households(tmp_path, rows))["household_id"].iloc[1] == value


# ---------------------------------------------------------------------------------------------
# dataset.toml may name any file: no content of a file in the wrong format is printed
# ---------------------------------------------------------------------------------------------
SECRET = "root:$6$secretHASHvalue:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"


@pytest.mark.parametrize("section", ["dwellings", "households", "history", "population_file"])
def test_a_manifest_pointing_at_a_foreign_file_prints_none_of_it(tmp_path, section):
    secret = tmp_path / "shadow"
    secret.write_text(SECRET, encoding="utf-8")
    sections = {k: dict(v) for k, v in fd.MANIFEST.items()}
    if section == "population_file":
        sections["areas"]["population_file"] = str(secret)
    else:
        sections[section]["file"] = str(secret)
    folder = fd.write_dataset(tmp_path / "ds", manifest=sections)
    report = validate_dataset(folder)
    text = "\n".join(str(p) for p in report.problems)
    assert report.problems
    assert "shadow" in text
    for fragment in ("root", "secretHASH", "daemon", "19000"):
        assert fragment not in text
    if section == "dwellings":  # and through the command line
        done = subprocess.run([sys.executable, "-m", "placement.cli", "validate", str(folder)],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 1
        assert "secretHASH" not in done.stdout + done.stderr


def test_a_file_with_some_known_columns_still_names_unknown_ones(tmp_path):
    header = [*fd.HOUSEHOLDS_HEADER, "Bemærkning"]
    rows = [[*r, ""] for r in fd.HOUSEHOLDS_ROWS]
    with pytest.raises(DataError) as exc:
        load.load_households(_households(tmp_path, rows, header))
    assert "unknown column 'Bemærkning'" in str(exc.value)


@pytest.mark.parametrize(("column", "value"), [("population", "many"),
                                                ("population", "1e30"),
                                                ("integration_residents", "-3"),
                                                ("integration_residents", "a few")])
def test_area_counts_that_are_no_counts_are_located(tmp_path, column, value):
    areas = fd.areas_frame()
    areas["population"] = ["1200", "800"]
    areas["integration_residents"] = ["15", "4"]
    areas.loc[areas.index[1], column] = value
    path = tmp_path / "areas.gpkg"
    areas.to_file(path, layer="local_areas", engine="pyogrio")
    with pytest.raises(DataError) as exc:
        load.load_areas(path, layer="local_areas")
    assert where(exc.value) == [("areas.gpkg", 2, column)]


def test_numbers_too_large_for_a_float_are_located(tmp_path):
    rows = [list(r) for r in fd.DWELLINGS_ROWS]
    rows[0][DIDX["floor_area_m2"]] = "1e400"
    rows[1][DIDX["rent_dkk"]] = "-1e999"
    with pytest.raises(DataError) as exc:
        load.load_dwellings(fd.write_csv(tmp_path / "dwellings.csv", fd.DWELLINGS_HEADER, rows))
    assert where(exc.value) == [("dwellings.csv", 2, "floor_area_m2"),
                                ("dwellings.csv", 3, "rent_dkk")]
