"""Retention for a small municipality: censoring at the data date, pooled years, filled gaps."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixtures_data import HISTORY_HEADER, write_dataset

from placement.cli import main
from placement.load import load_history
from placement.report import summary_sentences
from placement.retention import (
    RetentionSettings,
    prepare_persons,
    report_years,
    retention_summary,
)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def value(rows, table, group, measure) -> str:
    (hit,) = [r["value"] for r in rows
              if (r["table"], r["group"], r["measure"]) == (table, group, measure)]
    return hit


# ------------------------------------------------------------------------------------------
# a year after the data: censored, no rate
# ------------------------------------------------------------------------------------------
def _last_date(demo_dir: Path) -> pd.Timestamp:
    """The latest placement or move date of the demo history, read straight from the file."""
    raw = pd.read_csv(demo_dir / "residence_history.csv", dtype=str)
    dates = pd.to_datetime(pd.concat([raw["placement_date"], raw["moved_out_date"]]).dropna())
    return dates.max()


def test_year_after_the_data_has_no_rate(demo_dir: Path):
    history = load_history(demo_dir / "residence_history.csv")
    summary = retention_summary(history, year=2030, cox=False)
    assert summary.as_of == _last_date(demo_dir)  # the last move in the history
    assert summary.overall.n == 0  # before: 87 of 102 "stayed"
    assert summary.overall.stayers == 0
    ends_2030 = pd.to_datetime(history["integration_end"]).dt.year == 2030
    persons_2030 = history.loc[ends_2030].drop_duplicates("person_id")["persons"].sum()
    assert summary.overall.censored == persons_2030 > 0
    assert summary.years == [2021, 2022, 2023, 2024, 2025]
    assert any("covers the years 2021-2025" in n for n in summary.notes)
    assert "no retention rate for 2030" in summary_sentences(summary)[0]


def test_cli_year_after_the_data(demo_dir: Path, tmp_path: Path):
    out = tmp_path / "r2030.html"
    assert main(["report", "retention", str(demo_dir), "--year", "2030", "--out", str(out)]) == 0
    rows = read_csv(out.with_suffix(".csv"))
    assert value(rows, "overall", "all", "n") == "0"
    assert value(rows, "meta", "", "as_of") == _last_date(demo_dir).date().isoformat()
    # an explicit data date is respected
    assert main(["report", "retention", str(demo_dir), "--year", "2025", "--out", str(out),
                 "--as-of", "2025-12-31"]) == 0
    assert value(read_csv(out.with_suffix(".csv")), "meta", "", "as_of") == "2025-12-31"


def test_report_years_are_those_the_data_covers():
    h = pd.DataFrame({"person_id": ["a", "b", "c"],
                      "placement_date": ["2015-03-01", "2017-06-01", "2021-01-10"],
                      "moved_out_date": ["", "2022-05-01", ""],
                      "destination": ["", "abroad", ""]})
    persons = prepare_persons(h)
    # periods end 2020-03-01, 2022-06-01, 2026-01-10; the data ends 2022-05-01
    assert report_years(persons) == [2020]
    assert report_years(persons, as_of="2022-12-31") == [2020, 2022]


# ------------------------------------------------------------------------------------------
# area from the dwelling, household type from the household size
# ------------------------------------------------------------------------------------------
def test_area_of_first_placement_from_the_dwelling():
    h = pd.DataFrame({"person_id": ["a", "b", "c", "d"],
                      "placement_date": ["2019-01-01"] * 4,
                      "dwelling_id": ["D1", "D3", "D9", ""],
                      "area_id": ["", "", "", "A2"]})
    dwellings = pd.DataFrame({"dwelling_id": ["D1", "D2", "D3"], "area_id": ["A1", "A1", "A2"]})
    persons = prepare_persons(h, dwellings=dwellings)
    assert persons.set_index("person_id")["area_id"].to_dict() == {
        "a": "A1", "b": "A2", "c": "unknown", "d": "A2"}
    assert persons.attrs["area_from_dwelling"] == 2
    assert prepare_persons(h)["area_id"].tolist() == ["unknown", "unknown", "unknown", "A2"]


def test_report_for_a_dataset_takes_the_area_from_the_dwellings_file(tmp_path: Path):
    rows = [[f"P{i}", f"H{i}", "2019-03-01", "D1" if i % 2 else "D3", "", "", "", "", "single",
             "1"] for i in range(12)]
    folder = write_dataset(tmp_path / "ds", history=(HISTORY_HEADER, rows))
    out = tmp_path / "r.html"
    assert main(["report", "retention", str(folder), "--year", "2024", "--out", str(out),
                 "--as-of", "2024-12-31"]) == 0
    csv_rows = read_csv(out.with_suffix(".csv"))
    groups = {r["group"] for r in csv_rows if r["table"] == "area_id"}
    assert groups == {"A1 Vest", "A2 Øst"}
    assert value(csv_rows, "area_id", "A1 Vest", "n") == "6"


def test_household_type_from_persons_per_household():
    h = pd.DataFrame({
        "person_id": ["a", "b1", "b2", "c1", "c2", "c3", "d", "e"],
        "household_id": ["A", "B", "B", "C", "C", "C", "D", "E"],
        "placement_date": ["2019-01-01"] * 8,
        "household_type": ["", "", "", "", "", "", "", "family"],
        "persons": [1, 1, 1, 1, 1, 2, 6, 3],
    })
    types = prepare_persons(h).set_index("person_id")["household_type"].to_dict()
    assert types == {"a": "single", "b1": "2 persons", "b2": "2 persons", "c1": "3-4 persons",
                     "c2": "3-4 persons", "c3": "3-4 persons", "d": "5+ persons",
                     "e": "family"}


# ------------------------------------------------------------------------------------------
# pooled periods for a small municipality
# ------------------------------------------------------------------------------------------
def small_history(per_year: int = 22, leavers: dict[int, int] | None = None) -> pd.DataFrame:
    """``per_year`` single persons placed each year 2016-2020 (periods end 2021-2025)."""
    leavers = leavers or {2021: 6, 2022: 5, 2023: 7, 2024: 6, 2025: 3}
    rows = []
    for year in range(2016, 2021):
        for i in range(per_year):
            placed = pd.Timestamp(year=year, month=1 + i % 12, day=1 + i)
            gone = i < leavers[year + 5]
            rows.append({
                "person_id": f"P{year}{i:02d}", "household_id": f"H{year}{i:02d}",
                "placement_date": placed.date().isoformat(),
                "area_id": "A1" if i % 3 else "A2",
                "moved_out_date": (placed + pd.DateOffset(years=3)).date().isoformat()
                if gone else "",
                "destination": "other_municipality" if gone else "",
                "household_type": "single",
            })
    # the data runs to the end of 2025
    rows.append({"person_id": "LAST", "household_id": "HL", "placement_date": "2025-12-31",
                 "area_id": "A1", "household_type": "single"})
    return pd.DataFrame(rows)


def test_small_year_gets_a_pooled_rate_said_in_words():
    summary = retention_summary(small_history(), year=2025, cox=False)
    o = summary.overall
    assert (o.n, o.leavers) == (22, 3)  # 3 leavers: the year's rate may not be published
    assert summary.mask("overall").loc[0, "rate"]
    assert summary.pooled_years == (2023, 2025)
    p = summary.pooled
    # independent count: 3 years x 22 persons, 7 + 6 + 3 leavers
    assert (p.n, p.leavers, p.stayers) == (66, 16, 50)
    assert p.rate == pytest.approx(50 / 66)
    assert not summary.mask("pooled").loc[0, ["n", "stayers", "leavers", "rate"]].any()
    sentences = summary_sentences(summary, municipality="Småby")
    pooled = [s for s in sentences if "pooled" in s]
    assert pooled
    assert "of the 66 persons" in pooled[0]
    assert "2023-2025" in pooled[0]
    assert any("too small to publish" in n for n in summary.notes)
    trend = summary.tables["trend_pooled"].set_index("group")
    assert list(trend.index) == ["2021-2023", "2022-2024", "2023-2025"]
    assert trend.loc["2021-2023", "leavers"] == 6 + 5 + 7


def test_large_enough_year_is_not_pooled():
    summary = retention_summary(small_history(leavers=dict.fromkeys(range(2021, 2026), 8)),
                                year=2025, cox=False)
    assert summary.pooled is None
    assert "pooled" not in summary.tables


def test_pooling_can_be_switched_off():
    summary = retention_summary(small_history(), year=2025, cox=False,
                                settings=RetentionSettings(pool_years=1))
    assert summary.pooled is None


@pytest.mark.parametrize("per_year", [6, 14, 22])
def test_every_published_count_is_suppressed_below_five(tmp_path: Path, per_year: int):
    from placement.report import write_retention_report

    rng = np.random.default_rng(per_year)
    leavers = {y: int(rng.integers(0, per_year // 2 + 1)) for y in range(2021, 2026)}
    out = tmp_path / "r.html"
    paths = write_retention_report(small_history(per_year, leavers), year=2025, out=out)
    rows = read_csv(paths.csv)
    counts = [r for r in rows if r["measure"] in ("n", "stayers", "leavers", "censored")
              and not r["table"].startswith(("km_", "cox", "logrank"))]
    assert any(r["table"] == "pooled" for r in counts) or leavers[2025] >= 5
    for r in counts:
        assert r["value"] == "<5" or int(r["value"]) == 0 or int(r["value"]) >= 5, r
    # a rate shown never rests on a count below 5 of the same row
    by_row: dict[tuple[str, str], dict[str, str]] = {}
    for r in rows:
        by_row.setdefault((r["table"], r["group"]), {})[r["measure"]] = r["value"]
    for (table, _), cells in by_row.items():
        if "rate" in cells and cells["rate"] not in ("", "<5") and table != "target":
            assert all(cells[c] != "<5" for c in ("n", "stayers", "leavers")), (table, cells)


# ------------------------------------------------------------------------------------------
# measures from the command line
# ------------------------------------------------------------------------------------------
def test_cli_measures_bring_near_stop_groups_and_the_cox_model(demo_dir, demo_plan, tmp_path):
    access = tmp_path / "access.csv"
    demo_plan.access.to_csv(access)
    out = tmp_path / "r.html"
    assert main(["report", "retention", str(demo_dir), "--year", "2025", "--out", str(out)]) == 0
    plain = read_csv(out.with_suffix(".csv"))
    assert "near_served_stop" not in {r["table"] for r in plain}
    assert "departures_per_hour_500m" not in {r["group"] for r in plain if r["table"] == "cox"}
    assert main(["report", "retention", str(demo_dir), "--year", "2025", "--out", str(out),
                 "--measures", str(access)]) == 0
    rows = read_csv(out.with_suffix(".csv"))
    assert {"near_served_stop", "stop_within_10_min"} <= {r["table"] for r in rows}
    covariates = {r["group"] for r in rows if r["table"] == "cox"}
    assert {"departures_per_hour_500m", "n_association_within_15min"} <= covariates


def test_cli_measures_of_a_stored_run(demo_dir, demo_plan, tmp_path):
    from placement import db, planning

    url = f"sqlite:///{tmp_path / 'p.db'}"
    db.upgrade(url)
    run_id = planning.store_plan(db.open_engine(url), demo_plan)
    out = tmp_path / "r.html"
    assert main(["report", "retention", str(demo_dir), "--year", "2025", "--out", str(out),
                 "--run", str(run_id), "--db", url]) == 0
    assert "near_served_stop" in {r["table"] for r in read_csv(out.with_suffix(".csv"))}


def test_cli_bad_measures_file_is_a_message(demo_dir, tmp_path, capsys):
    bad = tmp_path / "m.csv"
    bad.write_text("id,x\n1,2\n", encoding="utf-8")
    assert main(["report", "retention", str(demo_dir), "--year", "2025", "--out",
                 str(tmp_path / "r.html"), "--measures", str(bad)]) == 1
    assert "has no dwelling_id column" in capsys.readouterr().err
