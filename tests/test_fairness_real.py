"""Retention model and fairness audit on a dataset built from the real Samsø data.

The dataset is the one of ``test_real_data.py`` (real boundary, parishes and OSM extract of
Samsø, made-up dwellings and households) with a made-up residence history added: data the
model and the audit were not developed on (no timetable, so every transit measure is unknown).
Skipped cleanly where ../shared/data is absent.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_real_data import SAMSOE_OSM, _dwelling_rows, _write_dataset, case_files  # noqa: F401

from placement.fairness import write_fairness_report
from placement.fairness_plans import audit_dataset

pytestmark = pytest.mark.shared_data


def _history_rows(dwellings: list[str], rng: np.random.Generator) -> list[list[str]]:
    rows = []
    k = 0
    for h in range(60):
        placed = pd.Timestamp(2012 + h % 8, 1 + h % 12, 1 + h % 27)
        dwelling = dwellings[int(rng.integers(len(dwellings)))]
        size = int(rng.integers(1, 5))
        kind = "single" if size == 1 else ("couple" if size == 2 else "family")
        leaves = rng.random() < 0.35
        moved = (placed + pd.Timedelta(days=int(rng.integers(100, 1700)))).date().isoformat()
        for _ in range(size):
            k += 1
            rows.append([f"P{k}", f"R{h}", placed.date().isoformat(), dwelling, moved if leaves
                         else "", "other_municipality" if leaves else "", kind])
    return rows


@pytest.fixture(scope="module")
def samsoe_dataset(case_files: dict[str, Any], shared_data: Path,  # noqa: F811
                   tmp_path_factory: pytest.TempPathFactory) -> Path:
    case = case_files["0741"]
    osm_file = (shared_data / SAMSOE_OSM).resolve()  # read in place, never copied
    rows = _dwelling_rows(case["sogne"])
    folder = _write_dataset(tmp_path_factory.mktemp("samsoe") / "samsoe", case, osm_file, rows)
    ids = [r.split(",")[0] for r in rows]
    with (folder / "residence_history.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["person_id", "household_id", "placement_date", "dwelling_id",
                    "moved_out_date", "destination", "household_type"])
        w.writerows(_history_rows(ids, np.random.default_rng(0)))
    with (folder / "dataset.toml").open("a", encoding="utf-8") as fh:
        fh.write('\n[history]\nfile = "residence_history.csv"\n')
    return folder


@pytest.mark.slow
def test_audit_and_model_run_on_the_samsoe_dataset(samsoe_dataset: Path, tmp_path: Path) -> None:
    audit, words = audit_dataset(samsoe_dataset, "default")
    assert "Out-of-time validation" in words
    t = audit.table
    assert set(t["plan"]) == {"as proposed (default)", "transit-weighted", "retention-weighted"}
    # no timetable: nothing is known about stops, and it is said as unknown, never 0
    stop = t.loc[t["measure"] == "share_near_served_stop"]
    assert (stop["n"] == 0).all()
    assert stop["value"].isna().all()
    pred = t.loc[t["measure"] == "predicted_retention", "value"].dropna()
    assert ((pred >= 0) & (pred <= 1)).all()
    # three households: every count is a small cell
    shown = audit.shown()
    placed = shown.loc[(shown["dimension"] == "all") & (shown["measure"] == "share_placed")]
    assert (placed["n"] == "<5").all()
    html, csv_path = write_fairness_report(audit, tmp_path / "samsoe.html", title="Samsø",
                                           validation_words=words)
    assert "Samsø" in html.read_text(encoding="utf-8")
    assert csv_path.stat().st_size > 0
    assert not math.isnan(float(t.loc[(t["dimension"] == "all")
                                      & (t["measure"] == "mean_community"), "value"].iloc[0]))


@pytest.mark.slow
def test_audit_of_a_proposed_samsoe_plan_equals_a_direct_count(samsoe_dataset: Path,
                                                               tmp_path: Path) -> None:
    """propose's audit on real data: shares and means against plain loops; unknown stays NaN."""
    from placement import planning
    from placement.fairness_plans import write_plan_fairness

    plan = planning.make_plan(samsoe_dataset, "default")
    audit, (html_path, csv_path) = write_plan_fairness({"plan": plan}, tmp_path, title="Samsø")
    t = audit.table.set_index(["dimension", "group", "measure"])
    hh = pd.read_csv(samsoe_dataset / "households.csv", dtype={"household_id": str})
    kids = hh[["children_0_5", "children_6_16", "children_17_plus"]].sum(axis=1)
    persons = hh["adults"] + kids
    group = np.where(persons >= 5, "large_family",
                     np.where(kids == 0, np.where(hh["adults"] == 1, "single", "couple"),
                              np.where(hh["adults"] == 1, "single_parent", "family")))
    need = np.where(hh["step_free_needed"].eq("yes"), "needs step-free", "no step-free need")
    a = plan.assignments.set_index(plan.assignments["household_id"].astype(str))
    a = a.reindex(hh["household_id"])
    placed = a["dwelling_id"].notna().to_numpy()
    acc = plan.access
    acc.index = acc.index.astype(str)
    for dim, key in (("all", np.full(len(hh), "all")), ("household_type", group),
                     ("step_free", need)):
        for g in set(key):
            m = key == g
            r = t.loc[(dim, g, "share_placed")]
            assert r["n"] == m.sum()
            assert r["count"] == placed[m].sum()
            assert r["value"] == pytest.approx(placed[m].mean())
            for term in ("transit", "community", "family", "anchor"):
                v = [a[term].iloc[i] for i in range(len(hh))
                     if m[i] and placed[i] and not pd.isna(a[term].iloc[i])]
                got = t.loc[(dim, g, f"mean_{term}")]
                assert got["n"] == len(v)
                if v:
                    assert got["value"] == pytest.approx(sum(v) / len(v))
                else:
                    assert math.isnan(got["value"])  # unknown, never 0
            # no timetable on Samsø: the stop share is unknown for everyone, not 0 %
            stop = t.loc[(dim, g, "share_near_served_stop")]
            assert stop["n"] == 0
            assert math.isnan(stop["value"])
    # families with daycare/school within 15 min, by hand from the walk times
    fam = []
    for i, h in hh.iterrows():
        small, school = h["children_0_5"] > 0, h["children_6_16"] > 0
        if not placed[i] or not (small or school):
            continue
        d = acc.loc[str(a["dwelling_id"].iloc[i])]
        fam.append((not small or d["walk_daycare_min"] <= 15)
                   and (not school or d["walk_school_min"] <= 15))
    got = t.loc[("all", "all", "families_daycare_school_15min")]
    assert got["n"] == len(fam)
    if fam:
        assert got["value"] == pytest.approx(np.mean(fam))
    # three households: every group's count is hidden in the files; unknown is said as unknown
    with csv_path.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    # (an empty group shows 0: nobody, not a small cell)
    assert {r["n"] for r in rows if r["measure"] == "share_placed"} == {"<5", "0"}
    assert not any(r["count"] in ("1", "2", "3", "4") for r in rows)
    assert "unknown (no data)" in html_path.read_text(encoding="utf-8")
