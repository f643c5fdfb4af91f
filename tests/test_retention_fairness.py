"""The retention report's fairness section: observed retention by the audit's household groups
and by step-free need, with the report's small-cell rules, and a stored run's audit."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from placement.cli import main
from placement.report import write_retention_report
from placement.retention import retention_summary


def _history(seed: int = 3, step_free: bool = True) -> pd.DataFrame:
    """Households of 1-7 persons, one row per person; every period ends in 2024."""
    rng = np.random.default_rng(seed)
    rows = []
    k = 0
    for h in range(90):
        size = int(rng.integers(1, 8))
        kind = "single" if size == 1 else "couple" if size == 2 else "family"
        placed = pd.Timestamp(2019, 1 + h % 12, 1 + h % 28)
        end = pd.Timestamp(2024, 1 + h % 12, 1 + h % 28)
        leaves = rng.random() < 0.3
        moved = placed + pd.Timedelta(days=int(rng.integers(30, 2400)))
        need = rng.choice(["yes", "no", "no", "no", ""])
        for _ in range(size):
            k += 1
            rows.append({"person_id": f"P{k}", "household_id": f"R{h}",
                         "placement_date": placed.date().isoformat(),
                         "integration_end": end.date().isoformat(),
                         "moved_out_date": moved.date().isoformat() if leaves else "",
                         "destination": "other_municipality" if leaves else "",
                         "household_type": kind, "area_id": "A1",
                         **({"step_free_needed": need} if step_free else {})})
    return pd.DataFrame(rows)


def _independent(h: pd.DataFrame, key: pd.Series) -> dict[str, tuple[int, int]]:
    """(stayers, n) per group with plain pandas: period ends in 2024, exit on or before it."""
    end = pd.to_datetime(h["integration_end"])
    moved = pd.to_datetime(h["moved_out_date"].replace("", None))
    left = h["destination"].eq("other_municipality") & (moved <= end)
    out = {}
    for g in key.unique():
        m = key == g
        out[g] = (int((~left[m]).sum()), int(m.sum()))
    return out


def test_retention_by_audit_group_and_step_free_need_equals_a_direct_count() -> None:
    h = _history()
    s = retention_summary(h, year=2024, as_of="2024-12-31")
    size = h.groupby("household_id")["person_id"].transform("count")
    group = h["household_type"].where(size < 5, "large_family")
    need = h["step_free_needed"].map({"yes": "needs step-free", "no": "no step-free need",
                                      "": "unknown"})
    for key, col in ((group, "audit_household_type"), (need, "step_free_need")):
        table = s.tables[col].set_index("group")
        for g, (stayers, n) in _independent(h, key).items():
            assert table.at[g, "n"] == n, (col, g)
            assert table.at[g, "stayers"] == stayers, (col, g)
            assert table.at[g, "rate"] == pytest.approx(stayers / n)
    assert "large_family" in set(s.tables["audit_household_type"]["group"])
    assert any("form the group 'unknown'" in n for n in s.notes)


def test_fairness_section_suppresses_small_cells_in_html_and_csv(tmp_path: Path) -> None:
    h = _history()
    # one household of 2 to 4 persons needs step-free access: a cell below 5
    size = h.groupby("household_id")["person_id"].transform("count")
    need = h["household_id"].eq(h.loc[size.between(2, 4), "household_id"].iloc[0])
    h["step_free_needed"] = np.where(need, "yes", "no")
    paths = write_retention_report(h, year=2024, out=tmp_path / "r.html", as_of="2024-12-31")
    with paths.csv.open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["table"] == "step_free_need"]
    cells = {(r["group"], r["measure"]): r["value"] for r in rows}
    small = int(need.sum())
    assert small < 5
    assert cells[("needs step-free", "n")] == "<5"
    assert cells[("needs step-free", "rate")] == "<5"
    # the complementary cell is hidden too, so the small one cannot be worked out from the total
    assert "<5" in {cells[("no step-free need", c)] for c in ("stayers", "leavers", "n")}
    page = paths.html.read_text(encoding="utf-8")
    assert "Fairness: step-free need" in page
    for r in rows:  # no count from 1 to 4 anywhere
        if r["measure"] in ("n", "stayers", "leavers") and r["value"] not in ("", "<5"):
            assert not 0 < float(r["value"]) < 5, r


def test_a_history_without_step_free_need_says_unknown_not_zero() -> None:
    s = retention_summary(_history(step_free=False), year=2024, as_of="2024-12-31")
    assert "step_free_need" not in s.tables
    assert any("does not record step-free need" in n for n in s.notes)
    assert "audit_household_type" in s.tables


def test_report_of_a_stored_run_carries_its_fairness_audit(demo_dir: Path, demo_plan,
                                                           tmp_path: Path) -> None:
    from placement import db, planning

    url = f"sqlite:///{tmp_path / 'p.db'}"
    db.upgrade(url)
    run_id = planning.store_plan(db.open_engine(url), demo_plan)
    out = tmp_path / "r.html"
    assert main(["report", "retention", str(demo_dir), "--year", "2025", "--out", str(out),
                 "--run", str(run_id), "--db", url]) == 0
    with out.with_suffix(".csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    audit = {(r["group"], r["measure"]): r["value"] for r in rows
             if r["table"] == "fairness_all"}
    plan = f"run {run_id}: all"
    a = demo_plan.assignments
    assert audit[(plan, "share_placed@count")] == str(int(a["dwelling_id"].notna().sum()))
    assert audit[(plan, "share_placed@n")] == str(len(a))
    types = {r["group"] for r in rows if r["table"] == "fairness_household_type"}
    assert f"run {run_id}: large_family" in types
    # the demo's history has no step-free need: the note says unknown
    page = out.read_text(encoding="utf-8")
    assert f"Fairness audit, run {run_id}: step free" in page
    assert "does not record step-free need" in page
    # and observed retention by the audit's household groups is there
    assert "audit_household_type" in {r["table"] for r in rows}


def test_hidden_large_families_do_not_follow_from_the_two_household_type_tables() -> None:
    h = _history(seed=5, step_free=False)
    size = h.groupby("household_id")["person_id"].transform("count")
    big = sorted(h.loc[size >= 5, "household_id"].unique())
    h = h[(size < 5) | h["household_id"].eq(big[0])]  # one household of 5 or more persons
    s = retention_summary(h, year=2024, as_of="2024-12-31")
    shown = {k: t.set_index("group") for k, t in s.shown_tables().items()}
    audit, types = shown["audit_household_type"], shown["household_type"]
    assert audit.at["large_family", "n"] == "<5" or audit.at["large_family", "stayers"] == "<5"
    # 'family' differs between the tables by exactly the large family: it must be hidden in
    # one of them, or family (type) - family (audit) gives the hidden figures away
    for col in ("n", "stayers", "leavers"):
        assert "<5" in (audit.at["family", col], types.at["family", col]), col
    # groups the move does not touch stay as they are
    assert audit.at["single", "n"] == types.at["single", "n"]
