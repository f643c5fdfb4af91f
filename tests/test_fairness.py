"""Fairness audit: numbers against an independent computation, small cells, flags, the CLI."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from placement import cli
from placement.config import Policy, Weights
from placement.fairness import (
    FairnessSettings,
    PlanInput,
    audit_plan,
    fairness_audit,
    write_fairness_report,
)
from placement.score import NO_DATA_BITS, combine, dwelling_terms, pair_terms

TYPES = ("single", "couple", "single_parent", "family")


def _inputs(n: int = 60, seed: int = 1, weeks: bool = False) -> PlanInput:
    """A plan of ``n`` households over 2n dwellings with some unknown measures."""
    rng = np.random.default_rng(seed)
    adults = rng.integers(1, 3, n)
    kids = rng.integers(0, 5, n)
    persons = adults + kids
    htype = np.where(kids == 0, np.where(adults == 1, "single", "couple"),
                     np.where(adults == 1, "single_parent", "family"))
    c05 = np.where(kids > 0, rng.integers(0, 2, n), 0)
    hh = pd.DataFrame({"household_id": [f"H{i:03d}" for i in range(n)], "persons": persons,
                       "household_type": htype, "children_0_5": c05,
                       "children_6_16": kids - c05, "step_free_needed": rng.random(n) < 0.2})
    dw_ids = [f"D{i:03d}" for i in range(2 * n)]
    dep = rng.uniform(0, 6, 2 * n)
    dep[rng.random(2 * n) < 0.15] = np.nan
    walk_day = rng.uniform(2, 30, 2 * n)
    n_day = np.where(rng.random(2 * n) < 0.1, np.nan, 1.0)
    acc = pd.DataFrame({"departures_per_hour_500m": dep, "walk_daycare_min": walk_day,
                        "n_daycare_within_15min": n_day,
                        "walk_school_min": rng.uniform(2, 30, 2 * n),
                        "n_school_within_15min": 1.0},
                       index=pd.Index(dw_ids, name="dwelling_id"))
    placed = rng.random(n) < 0.85
    did = pd.array([dw_ids[i] if placed[i] else pd.NA for i in range(n)], dtype="string")
    a = pd.DataFrame({"household_id": hh["household_id"], "dwelling_id": did,
                      "score": np.where(placed, rng.random(n), np.nan)})
    for t in ("transit", "community", "family", "anchor", "retention"):
        v = rng.random(n)
        v[rng.random(n) < 0.2] = np.nan
        a[t] = np.where(placed, v, np.nan)
    if weeks:
        a["weeks_waited"] = np.where(rng.random(n) < 0.9, rng.uniform(0, 30, n), np.nan)
    pred = np.where(rng.random(n) < 0.1, np.nan, rng.uniform(0.4, 0.9, n))
    return PlanInput(a, hh, acc, pred)


def _independent(p: PlanInput) -> dict[tuple[str, str], tuple[float, int]]:
    """Recompute every figure for all households and per type with plain loops."""
    hh = {r.household_id: r for r in p.households.itertuples()}
    out: dict[tuple[str, str], list] = {}
    for i, r in enumerate(p.assignments.itertuples()):
        h = hh[r.household_id]
        group = "large_family" if h.persons >= 5 else h.household_type
        placed = not pd.isna(r.dwelling_id)
        vals: dict[str, float] = {"share_placed": float(placed)}
        if placed:
            d = p.access.loc[r.dwelling_id]
            for t in ("transit", "community", "family", "anchor", "retention"):
                vals[f"mean_{t}"] = getattr(r, t)
            vals["mean_score"] = r.score
            vals["predicted_retention"] = p.predicted_retention[i]
            dep = d["departures_per_hour_500m"]
            vals["share_near_served_stop"] = np.nan if np.isnan(dep) else float(dep >= 2)
            if h.children_0_5 + h.children_6_16 > 0:
                known = h.children_0_5 == 0 or not np.isnan(d["n_daycare_within_15min"])
                ok = ((h.children_0_5 == 0 or d["walk_daycare_min"] <= 15)
                      and (h.children_6_16 == 0 or d["walk_school_min"] <= 15))
                vals["families_daycare_school_15min"] = float(ok) if known else np.nan
        for g in ("all", group):
            for m, v in vals.items():
                if not (isinstance(v, float) and math.isnan(v)):
                    out.setdefault((g, m), []).append(v)
    return {k: (float(np.mean(v)), len(v)) for k, v in out.items()}


def test_audit_equals_an_independent_computation() -> None:
    p = _inputs()
    got = audit_plan(p)
    want = _independent(p)
    rows = got.loc[got["dimension"] != "step_free"].set_index(["group", "measure"])
    checked = 0
    for (g, m), (value, n) in want.items():
        assert rows.at[(g, m), "value"] == pytest.approx(value), (g, m)
        assert rows.at[(g, m), "n"] == n, (g, m)
        checked += 1
    assert checked > 20
    # a group/measure with nothing known is unknown (NaN, n = 0), never 0
    for (g, m), r in rows.iterrows():
        if (g, m) not in want:
            assert r["n"] == 0, (g, m)
            assert math.isnan(r["value"]), (g, m)


def test_a_household_with_unknown_children_is_not_counted_as_childless() -> None:
    p = _inputs()
    before = audit_plan(p).set_index(["dimension", "group", "measure"])
    key = ("all", "all", "families_daycare_school_15min")
    # a placed family with school children, counted in the families measure today
    day_known = p.access["n_daycare_within_15min"].notna()
    dw = p.assignments["dwelling_id"]
    counted = (dw.notna() & (p.households["children_6_16"] > 0)
               & ((p.households["children_0_5"] == 0)
                  | dw.map(day_known).fillna(False).astype(bool)))
    i = int(np.flatnonzero(counted.to_numpy())[0])
    hh = p.households.astype({"children_0_5": float})
    hh.loc[i, "children_0_5"] = np.nan  # its younger children's count is not known
    after = audit_plan(PlanInput(p.assignments, hh, p.access, p.predicted_retention))
    after = after.set_index(["dimension", "group", "measure"])
    # not taken for a family without small children: it leaves the measure
    assert after.at[key, "n"] == before.at[key, "n"] - 1


def test_weeks_waited_unknown_without_the_column_and_a_mean_with_it() -> None:
    audit = fairness_audit({"plan": _inputs()})
    t = audit.table.set_index(["dimension", "group", "measure"])
    assert math.isnan(t.at[("all", "all", "weeks_waited"), "value"])
    assert t.at[("all", "all", "weeks_waited"), "n"] == 0
    assert any("Weeks waited are unknown" in n for n in audit.notes)
    p = _inputs(weeks=True)
    t = audit_plan(p).set_index(["dimension", "group", "measure"])
    w = p.assignments.loc[p.assignments["dwelling_id"].notna(), "weeks_waited"].dropna()
    assert t.at[("all", "all", "weeks_waited"), "value"] == pytest.approx(w.mean())
    assert t.at[("all", "all", "weeks_waited"), "n"] == len(w)


def test_step_free_groups_add_up_to_all() -> None:
    t = audit_plan(_inputs()).set_index(["dimension", "group", "measure"])
    n_all = t.at[("all", "all", "share_placed"), "n"]
    placed_all = t.at[("all", "all", "share_placed"), "count"]
    sf = t.loc["step_free"].xs("share_placed", level="measure")
    assert sf["n"].sum() == n_all
    assert sf["count"].sum() == placed_all


def _small_cell_plan() -> PlanInput:
    # 3 single households (a small group), 20 couples, 20 families; one couple unplaced
    n = {"single": 3, "couple": 20, "family": 20}
    rows, k = [], 0
    for t, m in n.items():
        for _ in range(m):
            rows.append({"household_id": f"H{k:02d}", "persons": 1 if t == "single" else 2,
                         "household_type": t, "children_0_5": int(t == "family"),
                         "children_6_16": 0, "step_free_needed": False})
            k += 1
    hh = pd.DataFrame(rows)
    did = [f"D{i:02d}" for i in range(len(hh))]
    did[3] = None  # a couple is unplaced
    acc = pd.DataFrame({"departures_per_hour_500m": 3.0}, index=pd.Index(
        [f"D{i:02d}" for i in range(len(hh))], name="dwelling_id"))
    a = pd.DataFrame({"household_id": hh["household_id"],
                      "dwelling_id": pd.array(did, dtype="string"),
                      "score": 0.8, "transit": 0.9})
    return PlanInput(a, hh, acc)


def test_small_cells_are_suppressed_with_the_retention_rules(tmp_path: Path) -> None:
    audit = fairness_audit({"plan": _small_cell_plan()}, settings=FairnessSettings(min_cell=5))
    shown = audit.shown().set_index(["dimension", "group", "measure"])
    # 3 singles: their n and every figure are hidden ...
    assert shown.at[("household_type", "single", "share_placed"), "n"] == "<5"
    assert shown.at[("household_type", "single", "mean_transit"), "value"] == "<5"
    # ... and so is the next smallest group, or 3 would follow from all minus the rest
    assert shown.at[("household_type", "couple", "share_placed"), "n"] == "<5"
    # one unplaced couple: a count of 1 is hidden (share placed 19/20 would tell it)
    assert shown.at[("household_type", "couple", "share_placed"), "value"] == "<5"
    assert shown.at[("household_type", "family", "share_placed"), "value"] == 1.0
    assert shown.at[("household_type", "family", "share_placed"), "n"] == 20
    # the couples' other measures count their placed households (19 of 20): shown, they would
    # give the hidden unplaced count away
    for measure in ("mean_score", "mean_transit", "share_near_served_stop"):
        assert shown.at[("household_type", "couple", measure), "n"] == "<5", measure
    # all placed (a count of 0 unplaced) is shown unless zero counts are hidden too
    strict = fairness_audit({"plan": _small_cell_plan()},
                            settings=FairnessSettings(hide_zero_counts=True)).shown()
    strict = strict.set_index(["dimension", "group", "measure"])
    assert strict.at[("household_type", "family", "share_placed"), "value"] == "<5"
    # the published CSV carries the label, never the hidden number
    html, csv_path = write_fairness_report(audit, tmp_path / "f.html", title="t")
    with csv_path.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    single = next(r for r in rows if r["group"] == "single" and r["measure"] == "share_placed")
    assert single["n"] == "<5"
    assert single["value"] == "<5"
    assert single["count"] == "<5"
    assert "3" not in (single["n"], single["count"])
    page = html.read_text(encoding="utf-8")
    assert "<5" in page.replace("&lt;", "<")
    # no children: the family measures do not apply; weeks waited were not given: unknown
    assert "not applicable" in page
    assert "unknown (no data)" in page


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 12))
def test_no_shown_cell_rests_on_a_small_count(seed: int, min_cell: int) -> None:
    audit = fairness_audit({"plan": _inputs(n=40, seed=seed)},
                           settings=FairnessSettings(min_cell=min_cell))
    t, hid = audit.table, audit.hidden
    shown_n = t.loc[~hid["n"], "n"]
    assert not ((shown_n > 0) & (shown_n < min_cell)).any()
    shares = t["measure"].map(lambda m: m.startswith("share") or m.startswith("families"))
    c, n = t["count"], t["n"]
    small = shares & (((c > 0) & (c < min_cell)) | ((n - c > 0) & (n - c < min_cell)))
    assert hid.loc[small, "value"].all()


def test_disparities_beyond_the_setting_are_flagged_in_words() -> None:
    p = _small_cell_plan()
    # make families clearly worse on transit
    fam = p.households["household_type"].eq("family").to_numpy()
    p.assignments.loc[fam, "transit"] = 0.5
    audit = fairness_audit({"plan": p}, settings=FairnessSettings(score_gap=0.1))
    flags = [f for f in audit.flags if "mean transit" in f]
    assert len(flags) == 1
    assert flags[0].startswith("plan: family households")
    assert "0.50 (of 20)" in flags[0]
    assert "lower" in flags[0]
    calm = fairness_audit({"plan": p}, settings=FairnessSettings(score_gap=0.5))
    assert not [f for f in calm.flags if "mean transit" in f]


def test_the_comparison_of_targets_counts_moves_and_differences(tmp_path) -> None:
    a, b = _inputs(seed=2), _inputs(seed=2)
    b.assignments = b.assignments.copy()
    b.assignments.loc[[0, 1], "dwelling_id"] = pd.array(["D118", "D119"], dtype="string")
    audit = fairness_audit({"first": a, "second": b})
    assert audit.moved == {"second": int((a.assignments["dwelling_id"].fillna("")
                                          != b.assignments["dwelling_id"].fillna("")).sum())}
    n_moved = audit.moved["second"]
    assert 0 < n_moved < 5  # two households moved: said as "<5", in the report too
    assert audit.moved_text("second") == "<5"
    page = tmp_path / "a.html"
    write_fairness_report(audit, page)
    text = page.read_text(encoding="utf-8")
    assert "&lt;5 households get another dwelling" in text
    assert f"{n_moved} households get another dwelling" not in text
    ch = audit.changes.set_index(["dimension", "group", "measure"])
    diff = ch["second - first"]
    both = ch["first"].notna() & ch["second"].notna()
    assert np.allclose(diff[both], (ch["second"] - ch["first"])[both])


# --- the retention score term ------------------------------------------------------------------
def test_retention_term_enters_the_score_like_the_others() -> None:
    acc = pd.DataFrame({"predicted_retention": [0.8, np.nan]},
                       index=pd.Index(["D1", "D2"], name="dwelling_id"))
    pol = Policy().with_overrides(weights={"transit": 0.0, "community": 0.0, "family": 0.0,
                                           "anchor": 0.0, "retention": 1.0, "spread": 0.0})
    dt = dwelling_terms(acc, scoring=pol.scoring)
    h = np.array([0, 0])
    t = pair_terms(h=h, d=np.array([0, 1]), has_0_5=np.array([False]),
                   has_6_16=np.array([False]), anchor_lat=np.array([np.nan]),
                   anchor_lon=np.array([np.nan]), dw_lat=np.zeros(2), dw_lon=np.zeros(2),
                   dterms=dt, scoring=pol.scoring)
    assert t["retention"][0] == pytest.approx(0.8)
    assert t["no_data"][1] & NO_DATA_BITS["retention"]  # unknown prediction: "no data"
    score = combine(t, pol)
    assert score[0] == pytest.approx(0.8)
    # without a model the term applies to nobody: no "no data", and the default score is unchanged
    plain = dwelling_terms(acc.drop(columns="predicted_retention"), scoring=pol.scoring)
    t2 = pair_terms(h=h, d=np.array([0, 1]), has_0_5=np.array([False]),
                    has_6_16=np.array([False]), anchor_lat=np.array([np.nan]),
                    anchor_lon=np.array([np.nan]), dw_lat=np.zeros(2), dw_lon=np.zeros(2),
                    dterms=plain, scoring=pol.scoring)
    assert not (t2["no_data"] & NO_DATA_BITS["retention"]).any()
    assert Weights().retention == 0.0


def test_retention_weight_is_read_from_a_policy_file() -> None:
    pol = Policy.from_dict({"weights": {"retention": 0.3}})
    assert pol.weights.retention == 0.3
    assert pol.weights.total == pytest.approx(1.0 + 0.3)


# --- the command line on the demo ------------------------------------------------------------
@pytest.mark.slow
def test_cli_fairness_report_on_the_demo(demo_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "fair.html"
    assert cli.main(["report", "fairness", str(demo_dir), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Out-of-time validation" in text
    assert "association, not a cause" in text
    html = out.read_text(encoding="utf-8")
    assert "transit-weighted" in html
    assert "retention-weighted" in html
    with out.with_suffix(".csv").open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    plans = {r["plan"] for r in rows}
    assert len(plans) == 3
    all_placed = [r for r in rows if r["dimension"] == "all" and r["measure"] == "share_placed"]
    assert {r["n"] for r in all_placed} == {"96"}


def test_cli_fairness_bad_argument(tmp_path: Path, capsys) -> None:
    assert cli.main(["report", "fairness", str(tmp_path / "nothing"), "--out",
                     str(tmp_path / "x.html")]) == 2
    assert "neither a dataset folder" in capsys.readouterr().err


def test_cli_fairness_report_of_a_stored_run(demo_plan, demo_dir: Path, tmp_path: Path,
                                             capsys) -> None:
    from placement import db, planning

    url = f"sqlite:///{tmp_path / 'p.db'}"
    db.upgrade(url)
    run_id = planning.store_plan(db.open_engine(url), demo_plan)
    out = tmp_path / "run.html"
    assert cli.main(["report", "fairness", str(run_id), "--dataset", str(demo_dir), "--db", url,
                     "--no-targets", "--out", str(out)]) == 0
    capsys.readouterr()
    with out.with_suffix(".csv").open(encoding="utf-8-sig") as fh:
        rows = [r for r in csv.DictReader(fh) if r["measure"] == "share_placed"]
    assert {r["plan"] for r in rows} == {f"run {run_id}"}
    # group sizes equal a count straight from households.csv
    hh = pd.read_csv(demo_dir / "households.csv")
    persons = hh[["adults", "children_0_5", "children_6_16", "children_17_plus"]].sum(axis=1)
    kids = hh[["children_0_5", "children_6_16", "children_17_plus"]].sum(axis=1)
    group = np.where(persons >= 5, "large_family",
                     np.where(kids == 0, np.where(hh["adults"] == 1, "single", "couple"),
                              np.where(hh["adults"] == 1, "single_parent", "family")))
    want = pd.Series(group).value_counts()
    got = {r["group"]: r["n"] for r in rows if r["dimension"] == "household_type"}
    for g, n in want.items():
        assert got[g] == (str(n) if n >= 5 else "<5"), g
    placed = int(demo_plan.assignments["dwelling_id"].notna().sum())
    assert next(r for r in rows if r["dimension"] == "all")["count"] == str(placed)


def test_a_plan_with_the_retention_weight_reports_expected_retention(demo_dir: Path) -> None:
    from placement import planning

    plan = planning.make_plan(demo_dir, "default", weights={"retention": 0.5})
    a = plan.assignments
    pred = plan.access["predicted_retention"]
    placed = a["dwelling_id"].notna()
    # the score breakdown shows the term: the dwelling's prediction
    assert np.allclose(a.loc[placed, "retention"],
                       pred.reindex(a.loc[placed, "dwelling_id"].astype(str)).to_numpy())
    r = planning.retention_summary(plan)
    assert r["target"] == pytest.approx(1.1 * r["base_rate"])
    hist = plan.dataset.history
    ended = pd.to_datetime(hist["integration_end"]) <= pd.Timestamp("2025-12-31")
    left = (pd.to_datetime(hist["moved_out_date"]) <= pd.to_datetime(hist["integration_end"])) \
        & hist["destination"].isin(["other_municipality", "abroad"])
    assert r["base_rate"] == pytest.approx(1 - left[ended].mean())
    assert "Out-of-time validation" in r["words"]
    # expected retention: the persons-weighted mean of the per-household predictions
    from placement.retention_model import household_group, predict_pairs

    hh = plan.dataset.households.set_index("household_id").loc[a["household_id"]]
    p = predict_pairs(plan.retention.model,
                      household_group(hh["household_type"], hh["persons"]).to_numpy(),
                      a["dwelling_id"].to_numpy(), plan.access, plan.dataset.dwellings,
                      plan.dataset.areas)
    assert r["expected_retention"] == pytest.approx(np.average(p, weights=a["persons"]))


def test_retention_weight_without_a_history_is_a_clear_error(tmp_path: Path) -> None:
    from placement import planning
    from placement._errors import ConfigError

    class _NoHistory:
        history = None

    with pytest.raises(ConfigError, match="no residence history"):
        planning.retention_model_for(_NoHistory(), pd.DataFrame())  # type: ignore[arg-type]


def test_app_render_shows_flags_and_hidden_cells(repo_root: Path, monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.syspath_prepend(str(repo_root / "app"))

    def page() -> None:
        import fairness as page_fairness
        from test_fairness import _small_cell_plan

        from placement.fairness import FairnessSettings, fairness_audit

        p = _small_cell_plan()
        fam = p.households["household_type"].eq("family").to_numpy()
        p.assignments.loc[fam, "transit"] = 0.5
        page_fairness.render(fairness_audit({"plan": p}, settings=FairnessSettings()), "en")

    at = AppTest.from_function(page, default_timeout=60).run()
    assert not at.exception
    assert any("family households" in w.value for w in at.warning)
    cells = [c for tb in at.table for c in tb.value.to_numpy().ravel()]
    assert "<5" in cells


def test_app_render_in_danish(repo_root: Path, monkeypatch) -> None:
    """Every label, measure, flag and note in Danish; numbers in Danish; no count under 5."""
    import re

    from streamlit.testing.v1 import AppTest

    monkeypatch.syspath_prepend(str(repo_root / "app"))

    def page() -> None:
        import fairness as page_fairness
        from test_fairness import _small_cell_plan

        from placement.fairness import FairnessSettings, fairness_audit

        p = _small_cell_plan()
        fam = p.households["household_type"].eq("family").to_numpy()
        p.assignments.loc[fam, "transit"] = 0.5
        page_fairness.render(fairness_audit({"run 7": p}, settings=FairnessSettings()), "da")

    at = AppTest.from_function(page, default_timeout=60).run()
    assert not at.exception
    assert at.subheader[0].value.startswith("Lighedsanalyse")
    flags = [w.value for w in at.warning]
    assert any(f.startswith("kørsel 7: familier — gennemsnitlig score: Kollektiv trafik")
               for f in flags), flags
    assert all("households" not in f and "." not in f.split("(af")[0] for f in flags)
    cells = [str(c) for tb in at.table for c in tb.value.to_numpy().ravel()]
    labels = [str(c) for tb in at.table for c in tb.value.index] + [
        str(c) for tb in at.table for c in tb.value.columns]
    assert "andel placeret" in labels
    assert "enlige forsørgere" in labels
    assert "ingen data" in cells or "ikke relevant" in cells
    assert not any("no data" in c or "unknown" in c for c in cells)
    for c in cells:  # "85 % (af 40)": every count shown is 5 or more
        m = re.search(r"\(af ([\d.]+)\)", c)
        if m:
            assert int(m.group(1).replace(".", "")) >= 5, c
        assert not re.search(r"\d\.\d", c), c  # Danish decimal comma, never a point
    notes = [c.value for c in at.caption]
    assert any("Ventetid i uger er ukendt" in n for n in notes), notes
