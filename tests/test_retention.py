"""Retention rates, censoring, Wilson intervals, suppression and survival, checked by hand."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from placement._errors import ConfigError, DataError
from placement.load import load_history
from placement.retention import (
    MeasureSplit,
    RetentionError,
    RetentionSettings,
    RetentionTarget,
    compare_with_target,
    cox_model,
    kaplan_meier,
    logrank,
    prepare_persons,
    retention_rate,
    retention_summary,
    retention_table,
    retention_trend,
    suppress_table,
    suppression_mask,
    survival_frame,
    wilson_interval,
)

HEADER = (
    "person_id,household_id,placement_date,dwelling_id,area_id,integration_end,"
    "moved_out_date,destination,household_type,persons"
)
# A crafted history; report year 2024, integration period 5 years.
#   p01 stays.                                           end 2024-02-01  stayer
#   p02 moves within, then to another municipality.       end 2024-03-01  leaver (2022-08-01)
#   p03 moves within only.                                end 2024-04-01  stayer
#   p04 moves abroad on the day the period ends.           end 2024-06-15  leaver
#   p05 moves out the day after the period ends.           end 2024-09-01  stayer
#   p06 placed 2020: period ends 2025.                     not in 2024
#   p07 given a shorter period (integration_end 2023).     in 2023: stayer
#   p09 moves out within a year of a 2018 placement.       in 2023: leaver
#   p10 placed 2021, moves abroad the same year.           not in 2024 (event for survival)
#   p11 placed 2025: after the data date of the report.
CRAFTED = f"""{HEADER}
p01,h01,2019-02-01,d01,A1,,,,single,
p02,h02,2019-03-01,d02,A1,,2020-05-01,within,family,
p02,h02,2019-03-01,d02,A1,,2022-08-01,other_municipality,family,
p03,h03,2019-04-01,d03,A2,,2021-01-01,within,couple,
p04,h04,2019-06-15,d04,A2,,2024-06-15,abroad,couple,
p05,h05,2019-09-01,d05,A2,,2024-09-02,other_municipality,single,
p06,h06,2020-01-10,d06,A1,,,,single,
p07,h07,2019-11-01,d07,A1,2023-11-01,,,family,
p09,h09,2018-05-01,d09,A2,,2019-01-01,other_municipality,single,
p10,h10,2021-03-01,d10,A2,,2021-09-01,abroad,couple,
p11,h11,2025-03-01,d11,A1,,,,single,
"""
ONE = RetentionSettings(min_cell=1)


@pytest.fixture
def crafted(tmp_path: Path) -> pd.DataFrame:
    path = tmp_path / "residence_history.csv"
    path.write_text(CRAFTED, encoding="utf-8")
    return load_history(path)


@pytest.fixture
def persons(crafted: pd.DataFrame) -> pd.DataFrame:
    return prepare_persons(crafted, settings=ONE)


def synthetic_history(n: int = 240, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A deterministic history with measures: more departures, sooner moves (by design)."""
    rng = np.random.default_rng(seed)
    rows, measures = [], []
    for i in range(n):
        placed = pd.Timestamp("2015-01-01") + pd.Timedelta(days=int(rng.integers(0, 6 * 365)))
        dep = float(rng.choice([0.0, 1.0, 4.0, 8.0]))
        measures.append(
            {
                "dwelling_id": f"d{i:03d}",
                "departures_per_hour_500m": dep,
                "walk_stop_min": float(rng.uniform(1, 20)),
                "n_association_within_15min": int(rng.integers(0, 6)),
            }
        )
        base = {
            "person_id": f"p{i:03d}",
            "household_id": f"h{i // 2:03d}",
            "placement_date": placed,
            "dwelling_id": f"d{i:03d}",
            "area_id": "ABC"[i % 3],
            "household_type": ("single", "family", "couple")[i % 3],
            "persons": 1,
        }
        days = rng.exponential(2500 / (1 + dep / 4))
        moved = False
        if rng.random() < 0.3:
            rows.append(
                {
                    **base,
                    "moved_out_date": placed + pd.Timedelta(days=int(days / 3)),
                    "destination": "within",
                }
            )
            moved = True
        if days < 3650:
            dest = "abroad" if rng.random() < 0.2 else "other_municipality"
            rows.append(
                {
                    **base,
                    "moved_out_date": placed + pd.Timedelta(days=int(days)),
                    "destination": dest,
                }
            )
        elif not moved:
            rows.append(base)
    return pd.DataFrame(rows), pd.DataFrame(measures)


# ------------------------------------------------------------------------------------------
# Preparation
# ------------------------------------------------------------------------------------------
def test_prepare_one_row_per_person_with_exit_after_a_move_within(persons):
    assert persons["person_id"].tolist() == [
        "p01", "p02", "p03", "p04", "p05", "p06", "p07", "p09", "p10", "p11",
    ]  # fmt: skip
    p = persons.set_index("person_id")
    # p02 moved within first: the exit is the later move out of the municipality
    assert p.at["p02", "exit_date"] == pd.Timestamp("2022-08-01")
    assert p.at["p02", "exit_destination"] == "other_municipality"
    assert bool(p.at["p02", "moved_within"])
    # p03 only moved within: no exit
    assert pd.isna(p.at["p03", "exit_date"])
    assert bool(p.at["p03", "moved_within"])
    # default period: placement + 5 years; a given end is kept
    assert p.at["p01", "integration_end"] == pd.Timestamp("2024-02-01")
    assert p.at["p07", "integration_end"] == pd.Timestamp("2023-11-01")
    assert p.at["p02", "area_id"] == "A1"
    assert p.at["p06", "cohort"] == 2020


def test_integration_years_is_a_setting_and_29_february_rolls_back():
    h = pd.DataFrame({"person_id": ["a"], "placement_date": ["2020-02-29"], "area_id": ["X"]})
    p = prepare_persons(h, settings=RetentionSettings(integration_years=3))
    assert p.at[0, "integration_end"] == pd.Timestamp("2023-02-28")
    assert p.at[0, "area_id"] == "X"
    assert p.at[0, "household_type"] == "unknown"


def test_prepare_collects_every_problem_with_rows():
    h = pd.DataFrame(
        {
            "person_id": ["a", None, "c", "d", "e"],
            "placement_date": [
                "2020-01-01",
                "2020-01-01",
                "2020-13-01",
                "2020-01-01",
                "2020-05-01",
            ],
            "area_id": ["X"] * 5,
            "moved_out_date": ["2021-01-01", None, None, "2019-01-01", "2021-01-01"],
            "destination": ["mars", None, None, "abroad", None],
        }
    )
    with pytest.raises(DataError) as info:
        prepare_persons(h)
    where = {(p.row, p.column) for p in info.value.problems}
    assert where == {
        (2, "destination"),  # unknown destination
        (3, "person_id"),  # no id
        (4, "placement_date"),  # not a date
        (5, "moved_out_date"),  # before the placement
        (6, "destination"),  # a move without a destination
    }


def test_rows_of_one_person_must_agree_on_the_placement_date():
    h = pd.DataFrame(
        {
            "person_id": ["a", "a"],
            "placement_date": ["2020-01-01", "2020-02-01"],
            "area_id": ["X", "X"],
            "moved_out_date": ["2020-03-01", "2020-04-01"],
            "destination": ["within", "abroad"],
        }
    )
    with pytest.raises(DataError, match="different placement dates"):
        prepare_persons(h)


def test_measures_joined_by_dwelling_and_splits(crafted):
    measures = pd.DataFrame(
        {"departures_per_hour_500m": [4.0, 0.5], "walk_stop_min": [3.0, 15.0]},
        index=pd.Index(["d01", "d02"], name="dwelling_id"),
    )
    p = prepare_persons(crafted, measures=measures).set_index("person_id")
    assert p.at["p01", "near_served_stop"] == "yes"
    assert p.at["p02", "near_served_stop"] == "no"
    assert p.at["p03", "near_served_stop"] == "unknown"
    assert p.at["p01", "stop_within_10_min"] == "yes"
    assert p.at["p02", "stop_within_10_min"] == "no"


def test_area_concentration_from_areas(crafted):
    areas = pd.DataFrame(
        {"area_id": ["A1", "A2"], "population": [1000, 400], "integration_residents": [50, 40]}
    )
    p = prepare_persons(crafted, areas=areas).set_index("person_id")
    assert p.at["p01", "area_integration_share"] == pytest.approx(0.05)
    assert p.at["p03", "area_integration_share"] == pytest.approx(0.10)


# ------------------------------------------------------------------------------------------
# Rates: every figure by hand
# ------------------------------------------------------------------------------------------
def test_rate_2024_by_hand(persons):
    r = retention_rate(persons, year=2024)
    # p01, p03, p05 stayed; p02 (within, then away) and p04 (left on the end date) left
    assert (r.n, r.stayers, r.leavers, r.censored) == (5, 3, 2, 0)
    assert r.rate == pytest.approx(3 / 5)
    assert (r.ci_low, r.ci_high) == pytest.approx(wilson_interval(3, 5))


def test_rate_2023_includes_a_given_period_end(persons):
    r = retention_rate(persons, year=2023)
    assert (r.n, r.stayers, r.leavers) == (2, 1, 1)  # p07 stayed, p09 left


def test_censoring_with_an_earlier_data_date(persons):
    r = retention_rate(persons, year=2024, as_of="2024-08-01")
    # p05's period ends 2024-09-01, after the data date: neither stayer nor leaver
    assert (r.n, r.stayers, r.leavers, r.censored) == (4, 2, 2, 1)
    assert r.rate == pytest.approx(0.5)


def test_tables_by_area_and_household_type_by_hand(persons):
    by_area = retention_table(persons, year=2024, by="area_id").set_index("group")
    assert by_area.loc["A1", ["n", "stayers", "leavers"]].tolist() == [2, 1, 1]
    assert by_area.loc["A2", ["n", "stayers", "leavers"]].tolist() == [3, 2, 1]
    by_type = retention_table(persons, year=2024, by="household_type").set_index("group")
    assert by_type["n"].to_dict() == {"couple": 2, "family": 1, "single": 2}
    assert by_type["stayers"].to_dict() == {"couple": 1, "family": 0, "single": 2}
    assert by_type.at["family", "rate"] == 0.0
    by_cohort = retention_table(persons, year=2024, by="cohort")
    assert by_cohort["group"].tolist() == ["2019"]
    with pytest.raises(RetentionError, match="no column"):
        retention_table(persons, year=2024, by="nonsense")


def test_trend_by_year_of_period_end(persons):
    trend = retention_trend(persons, year=2024).set_index("group")
    assert trend.index.tolist() == ["2023", "2024"]
    assert trend.loc["2023", ["n", "stayers"]].tolist() == [2, 1]
    assert trend.loc["2024", ["n", "stayers"]].tolist() == [5, 3]


def test_persons_weight_counts():
    h = pd.DataFrame(
        {
            "household_id": ["h1", "h2", "h2"],
            "placement_date": ["2019-01-01", "2019-02-01", "2019-02-01"],
            "area_id": ["X", "X", "X"],
            "moved_out_date": [None, "2020-01-01", "2021-01-01"],
            "destination": [None, "within", "abroad"],
            "persons": [4, 3, 3],
        }
    )
    r = retention_rate(prepare_persons(h), year=2024)
    assert (r.n, r.stayers, r.leavers) == (7, 4, 3)


# ------------------------------------------------------------------------------------------
# Target
# ------------------------------------------------------------------------------------------
def test_target_relative_and_points(persons):
    current = retention_rate(persons, year=2024)  # 0.6
    base = retention_rate(persons, year=2023)  # 0.5
    rel = compare_with_target(current, base, RetentionTarget("relative", 0.10), min_cell=1)
    assert rel.target_rate == pytest.approx(0.55)
    assert rel.met
    assert rel.difference_points == pytest.approx(10.0)
    pts = compare_with_target(current, base, RetentionTarget("points", 0.15), min_cell=1)
    assert pts.target_rate == pytest.approx(0.65)
    assert not pts.met
    assert compare_with_target(current, base, min_cell=5).suppressed
    assert RetentionTarget("points", 0.9).target_rate(0.5) == 1.0


@pytest.mark.parametrize("kwargs", [{"mode": "percent"}, {"amount": -0.1}, {"amount": math.nan}])
def test_bad_target_is_a_config_error(kwargs):
    with pytest.raises(ConfigError, match=r"retention\.target"):
        RetentionTarget(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [({"integration_years": 0}, "integration_years"), ({"min_cell": 0}, "min_cell")],
)
def test_bad_settings_are_config_errors(kwargs, key):
    with pytest.raises(ConfigError, match=key):
        RetentionSettings(**kwargs)


def test_summary_with_baseline(crafted):
    s = retention_summary(crafted, year=2024, baseline_year=2023, settings=ONE, cox=False)
    assert s.comparison is not None
    assert s.comparison.baseline_rate == pytest.approx(0.5)
    assert s.comparison.met
    assert s.overall.n == 5
    assert s.n_persons == 10
    with pytest.raises(RetentionError, match="before the report year"):
        retention_summary(crafted, year=2024, baseline_year=2024, settings=ONE)
    no_base = retention_summary(crafted, year=2024, baseline_year=2020, settings=ONE, cox=False)
    assert no_base.comparison is None
    with pytest.raises(RetentionError, match="choose another baseline"):
        compare_with_target(no_base.overall, retention_rate(prepare_persons(crafted), year=2020))


def test_summary_for_a_year_without_period_ends_says_which_years_exist(crafted):
    s = retention_summary(crafted, year=2021, baseline_year=2019, settings=ONE)
    assert s.overall.n == 0
    assert math.isnan(s.overall.rate)
    assert s.comparison is None
    assert any("periods end between 2023 and 2030" in note for note in s.notes)
    assert any("No comparison with the target" in note for note in s.notes)
    assert not s.km.empty  # the survival curves are still there
    with pytest.raises(RetentionError, match="nobody in the residence history was placed"):
        retention_summary(crafted, year=2017)


# ------------------------------------------------------------------------------------------
# Wilson interval
# ------------------------------------------------------------------------------------------
def wilson_by_hand(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    # Newcombe (1998), method 3, written as (2np + z² ± z√(z² + 4np(1-p))) / (2(n + z²))
    p = k / n
    root = z * math.sqrt(z * z + 4 * n * p * (1 - p))
    return ((2 * n * p + z * z - root) / (2 * (n + z * z)),
            (2 * n * p + z * z + root) / (2 * (n + z * z)))  # fmt: skip


@pytest.mark.parametrize(("k", "n"), [(0, 1), (3, 5), (8, 10), (81, 263), (20, 20), (1, 1000)])
def test_wilson_against_hand_formula_and_scipy(k, n):
    low, high = wilson_interval(k, n)
    assert (low, high) == pytest.approx(wilson_by_hand(k, n), abs=1e-12)
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert (low, high) == pytest.approx((ci.low, ci.high), abs=1e-7)


def test_wilson_edge_cases():
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(3, 2)


# ------------------------------------------------------------------------------------------
# Suppression
# ------------------------------------------------------------------------------------------
def table(rows: list[tuple[str, int, int, int]]) -> pd.DataFrame:
    records = []
    for group, stayers, leavers, censored in rows:
        n = stayers + leavers
        low, high = wilson_interval(stayers, n)
        records.append(
            {"group": group, "n": n, "stayers": stayers, "leavers": leavers,
             "censored": censored, "rate": stayers / n, "ci_low": low, "ci_high": high}
        )  # fmt: skip
    return pd.DataFrame(records)


def test_primary_and_complementary_suppression():
    t = table([("a", 2, 1, 0), ("b", 30, 10, 0), ("c", 12, 8, 0), ("d", 50, 40, 0)])
    m = suppression_mask(t)
    # a is small; c (next smallest n) is hidden with it so a cannot be worked out from the total
    assert m["n"].tolist() == [True, False, True, False]
    assert m["rate"].tolist() == [True, False, True, False]
    shown = suppress_table(t)
    assert shown.at[0, "n"] == "<5"
    assert shown.at[1, "n"] == 40


def test_a_small_count_of_leavers_hides_the_rate_but_not_the_group_size():
    t = table([("a", 30, 2, 0), ("b", 12, 8, 0), ("c", 40, 40, 0)])
    m = suppression_mask(t)
    assert m["n"].tolist() == [False, False, False]
    # a's leavers (2) are small; b has the next smallest n and is hidden too
    assert m["leavers"].tolist() == [True, True, False]
    assert m["rate"].tolist() == [True, True, False]
    # without complementary suppression (e.g. the trend over years) only a is hidden
    m1 = suppression_mask(t, complementary=False)
    assert m1["rate"].tolist() == [True, False, False]


def test_censored_counts_suppressed_in_pairs():
    t = table([("a", 10, 10, 2), ("b", 10, 10, 7), ("c", 10, 10, 0)])
    assert suppression_mask(t)["censored"].tolist() == [True, True, False]


def test_custom_min_cell_label():
    t = table([("a", 5, 4, 0), ("b", 20, 20, 0), ("c", 30, 30, 0)])
    shown = suppress_table(t, min_cell=10)
    assert shown.at[0, "n"] == "<10"
    assert shown.at[1, "n"] == "<10"  # complementary
    assert shown.at[2, "n"] == 60


# ------------------------------------------------------------------------------------------
# Hypothesis: invariants of rates, intervals, counts and suppression
# ------------------------------------------------------------------------------------------
@st.composite
def histories(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 25))
    rows = []
    for i in range(n):
        placed = pd.Timestamp("2017-01-01") + pd.Timedelta(days=draw(st.integers(0, 5 * 365)))
        base = {
            "person_id": f"p{i}",
            "placement_date": placed,
            "area_id": draw(st.sampled_from(["A", "B", "C"])),
            "household_type": draw(st.sampled_from(["single", "family"])),
            "persons": draw(st.integers(1, 4)),
        }
        moves = draw(
            st.lists(
                st.tuples(st.integers(0, 3000), st.sampled_from(["within", "abroad",
                                                                "other_municipality"])),
                max_size=3,
            )
        )  # fmt: skip
        if not moves:
            rows.append(base)
        for days, dest in moves:
            rows.append(
                {**base, "moved_out_date": placed + pd.Timedelta(days=days), "destination": dest}
            )
    return pd.DataFrame(rows)


@settings(max_examples=60, deadline=None)
@given(
    history=histories(),
    year=st.integers(2021, 2023),
    as_of_day=st.integers(0, 364),
)
def test_rates_intervals_and_counts_add_up(history, year, as_of_day):
    persons = prepare_persons(history)
    as_of = pd.Timestamp(year=year, month=1, day=1) + pd.Timedelta(days=as_of_day)
    overall = retention_rate(persons, year=year, as_of=as_of)
    assert overall.stayers + overall.leavers == overall.n
    in_year = persons.loc[persons["integration_end"].dt.year == year, "persons"].sum()
    assert overall.n + overall.censored == in_year
    if overall.n:
        assert 0.0 <= overall.rate <= 1.0
        assert overall.ci_low <= overall.rate <= overall.ci_high
        assert overall.ci_low >= 0.0
        assert overall.ci_high <= 1.0
    for by in ("area_id", "household_type"):
        t = retention_table(persons, year=year, by=by, as_of=as_of)
        assert t["n"].sum() == overall.n
        assert t["stayers"].sum() == overall.stayers
        assert t["censored"].sum() == overall.censored
        counted = t.loc[t["n"] > 0]
        assert ((counted["rate"] >= 0) & (counted["rate"] <= 1)).all()
        assert (counted["ci_low"] <= counted["rate"] + 1e-12).all()
        assert (counted["rate"] <= counted["ci_high"] + 1e-12).all()
        m = suppression_mask(t)
        shown_n = t.loc[~m["n"], "n"]
        assert ((shown_n == 0) | (shown_n >= 5)).all()
        if (t["n"] > 0).sum() > 1:  # a lone hidden cell could be worked out from the total
            assert m["n"].sum() != 1
            assert m["rate"].sum() != 1
        shown = t.loc[~m["rate"] & (t["n"] > 0)]
        assert (shown[["stayers", "leavers"]] >= 5).all().all()


@settings(max_examples=40, deadline=None)
@given(history=histories())
def test_km_is_a_non_increasing_share(history):
    surv = survival_frame(prepare_persons(history), as_of="2024-12-31")
    km = kaplan_meier(surv, min_cell=1)
    s = km["survival"].to_numpy()
    assert ((s >= 0) & (s <= 1)).all()
    assert (np.diff(s) <= 1e-12).all()
    assert km["time_days"].iloc[0] == 0
    assert s[0] == 1.0 or surv.loc[surv["duration_days"] == 0, "event"].any()


# ------------------------------------------------------------------------------------------
# Survival
# ------------------------------------------------------------------------------------------
def product_limit(durations, events, weights) -> dict[int, float]:
    """Kaplan–Meier by hand: S(t) = Π over event times ≤ t of (1 - d_i / n_i)."""
    data = sorted(zip(durations, events, weights, strict=True))
    out, s = {}, 1.0
    for t in sorted({d for d, e, _ in data if e}):
        at_risk = sum(w for d, _, w in data if d >= t)
        deaths = sum(w for d, e, w in data if d == t and e)
        s *= 1 - deaths / at_risk
        out[t] = s
    return out


def test_survival_frame_durations_by_hand(persons):
    surv = survival_frame(persons, as_of="2024-12-31").set_index("person_id")
    assert "p11" not in surv.index  # placed after the data date
    assert surv.at["p10", "duration_days"] == 184  # 2021-03-01 → 2021-09-01
    assert bool(surv.at["p10", "event"])
    assert surv.at["p06", "duration_days"] == 1817  # censored at 2024-12-31
    assert not bool(surv.at["p06", "event"])
    assert bool(surv.at["p02", "event"])  # left after a move within


def test_kaplan_meier_crafted_by_hand(persons):
    surv = survival_frame(persons, as_of="2024-12-31")
    km = kaplan_meier(surv, min_cell=1).set_index("time_days")
    # 9 persons: exits at 184, 245 and 1249 days; p06 censored at 1817; exits at 1827, 1828
    expected = {
        184: Fraction(8, 9),
        245: Fraction(7, 9),
        1249: Fraction(2, 3),
        1827: Fraction(2, 3) * Fraction(4, 5),
        1828: Fraction(2, 3) * Fraction(4, 5) * Fraction(3, 4),
    }
    for day, value in expected.items():
        assert km.at[day, "survival"] == pytest.approx(float(value))
    assert km.at[0, "at_risk"] == 9
    assert km.at[1827, "at_risk"] == 5


def test_kaplan_meier_against_independent_product_limit():
    history, _ = synthetic_history()
    history["persons"] = (np.arange(len(history)) % 3 + 1)[: len(history)]
    # persons must agree within a person: take the first row's value for all rows
    history["persons"] = history.groupby("person_id")["persons"].transform("first")
    surv = survival_frame(prepare_persons(history), as_of="2023-06-30")
    km = kaplan_meier(surv, min_cell=1)
    hand = product_limit(
        surv["duration_days"].tolist(), surv["event"].tolist(), surv["persons"].tolist()
    )
    got = km.set_index("time_days")["survival"]
    for t, value in hand.items():
        assert got.loc[t] == pytest.approx(value, rel=1e-10)
    # and the curve stops where fewer than 5 remain at risk
    km5 = kaplan_meier(surv, min_cell=5)
    assert km5["at_risk"].min() >= 5


def test_kaplan_meier_leaves_out_small_groups(persons):
    surv = survival_frame(persons, as_of="2024-12-31")
    km = kaplan_meier(surv, by="area_id", min_cell=5)
    # A1 has 4 persons placed by the data date (p01, p02, p06, p07), A2 has 5
    assert set(km["group"]) == {"A2"}


def test_logrank_against_hand_computation():
    history, _ = synthetic_history()
    surv = survival_frame(prepare_persons(history), as_of="2023-12-31")
    surv["two"] = np.where(surv["area_id"] == "A", "a", "other")
    res = logrank(surv, by="two")
    assert res is not None
    # two-group log-rank by hand: (O - E)^2 / V over the distinct event times
    o_minus_e, var = 0.0, 0.0
    d, e, g = surv["duration_days"], surv["event"], surv["two"] == "a"
    for t in sorted(set(d[e])):
        at = d >= t
        n, n1 = at.sum(), (at & g).sum()
        dead = ((d == t) & e).sum()
        dead1 = ((d == t) & e & g).sum()
        o_minus_e += dead1 - dead * n1 / n
        if n > 1:
            var += dead * (n1 / n) * (1 - n1 / n) * (n - dead) / (n - 1)
    assert res.statistic == pytest.approx(o_minus_e**2 / var, rel=1e-8)
    assert res.degrees_freedom == 1
    assert logrank(surv.assign(one="x"), by="one") is None


def test_cox_model_hazard_ratios_and_association_direction():
    history, measures = synthetic_history(n=300)
    persons = prepare_persons(history, measures=measures)
    surv = survival_frame(persons, as_of="2024-12-31")
    notes: list[str] = []
    cox = cox_model(
        surv,
        covariates=["departures_per_hour_500m", "n_association_within_15min", "absent"],
        notes=notes,
    )
    assert cox["covariate"].tolist() == ["departures_per_hour_500m", "n_association_within_15min"]
    dep = cox.set_index("covariate").loc["departures_per_hour_500m"]
    # the synthetic history was made with shorter stays near frequent departures
    assert dep["hazard_ratio"] > 1
    assert dep["ci_low"] <= dep["hazard_ratio"] <= dep["ci_high"]
    assert int(cox["events"].iloc[0]) == int(surv.loc[surv["event"], "persons"].sum())
    with pytest.raises(RetentionError, match="none of the covariates"):
        cox_model(surv, covariates=["absent"])


def test_summary_with_measures_has_every_part():
    history, measures = synthetic_history(n=300)
    areas = pd.DataFrame(
        {"area_id": ["A", "B", "C"], "population": [900, 1200, 500],
         "integration_residents": [30, 10, 60]}
    )  # fmt: skip
    s = retention_summary(history, year=2023, baseline_year=2021, measures=measures, areas=areas)
    assert {"overall", "trend", "cohort", "area_id", "household_type",
            "near_served_stop", "stop_within_10_min"} <= set(s.tables)  # fmt: skip
    assert s.cox is not None
    assert "area_integration_share" in set(s.cox["covariate"])
    assert {"overall", "area_id", "near_served_stop"} <= set(s.km["grouping"])
    assert {t.grouping for t in s.logrank} >= {"area_id", "near_served_stop"}
    shown = s.shown_tables()
    assert shown["overall"].at[0, "n"] == s.overall.n


def test_custom_split_setting():
    history, measures = synthetic_history()
    split = MeasureSplit("many_associations", "n_association_within_15min", 3, title="≥ 3 assoc.")
    s = retention_summary(
        history,
        year=2023,
        measures=measures,
        settings=RetentionSettings(splits=(split,)),
        cox=False,
    )
    assert "many_associations" in s.tables
    assert "near_served_stop" not in s.tables
    assert s.cox is None
