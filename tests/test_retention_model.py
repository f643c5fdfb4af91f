"""The retention model: fit, out-of-time validation, the demo's documented relation."""

from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from placement.demo import CENTRE_LAT_LON
from placement.demo_history import (
    HAZARD_RATIOS,
    STAY_3Y,
    STAY_5Y,
    STOP_CAP_M,
    placement_covariates,
)
from placement.retention_model import (
    ModelSettings,
    auc,
    calibration_table,
    fit_retention_model,
    household_group,
    outcome_frame,
    predict_dwellings,
    validate_out_of_time,
)
from placement.retention_persons import RetentionError
from placement.retention_survival import cox_model, survival_frame


# --- small pieces, against independent computations -----------------------------------------
@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 5)), min_size=2, max_size=40))
def test_auc_is_the_share_of_correctly_ordered_pairs(pairs) -> None:
    y = np.array([a for a, _ in pairs], dtype=float)
    p = np.array([b for _, b in pairs], dtype=float)
    pos, neg = p[y == 1], p[y == 0]
    got = auc(y, p)
    if len(pos) == 0 or len(neg) == 0:
        assert math.isnan(got)
        return
    wins = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg)
    assert got == pytest.approx(wins / (len(pos) * len(neg)))


def test_calibration_table_covers_everyone_once() -> None:
    rng = np.random.default_rng(3)
    p = rng.random(95)
    y = (rng.random(95) < p).astype(float)
    t = calibration_table(y, p)
    assert len(t) == 10
    assert t["n"].sum() == 95
    assert t["stayers"].sum() == y.sum()
    assert t["predicted"].is_monotonic_increasing
    order = np.argsort(p, kind="stable")
    first = order[: t.at[0, "n"]]
    assert t.at[0, "observed"] == pytest.approx(y[first].mean())


def _history(n_per_group: int = 40, *, stay_a: float = 0.9, stay_b: float = 0.4,
             seed: int = 0, years: tuple[int, ...] = (2015, 2016, 2017),
             dwellings: tuple[str, str] = ("D1", "D2"), prefix: str = "") -> pd.DataFrame:
    """Households of two types in dwellings D1 (type a) and D2 (type b), periods all ended."""
    rng = np.random.default_rng(seed)
    rows = []
    k = 0
    for year in years:
        for kind, stay, dwelling in (("single", stay_a, dwellings[0]),
                                     ("couple", stay_b, dwellings[1])):
            stays = rng.random(n_per_group) < stay
            for s in stays:
                k += 1
                placed = pd.Timestamp(year, 3, 1)
                rows.append({"person_id": f"{prefix}P{k}", "household_id": f"{prefix}R{k}",
                             "placement_date": placed.date().isoformat(), "dwelling_id": dwelling,
                             "area_id": "A", "household_type": kind,
                             "moved_out_date": "" if s else
                             (placed + pd.Timedelta(days=400)).date().isoformat(),
                             "destination": "" if s else "other_municipality"})
    rows.append({"person_id": "PX", "placement_date": "2024-06-01", "dwelling_id": "D1",
                 "area_id": "A", "household_type": "single", "moved_out_date": "2025-06-01",
                 "destination": "within"})  # sets the data date after every period end
    return pd.DataFrame(rows)


def test_outcome_is_known_only_for_ended_periods_and_an_exit_on_the_end_day_is_leaving() -> None:
    h = pd.DataFrame({
        "person_id": ["a", "b", "c", "d"],
        "placement_date": ["2015-01-10", "2015-02-01", "2015-03-01", "2022-01-01"],
        "integration_end": ["2020-01-10", "2020-02-01", "2020-03-01", "2027-01-01"],
        "moved_out_date": ["2020-01-10", "2020-02-02", "", "2023-01-01"],
        "destination": ["abroad", "other_municipality", "", "other_municipality"],
    })
    p = outcome_frame(h, as_of="2024-12-31").set_index("person_id")
    assert p.at["a", "stayed"] == 0.0  # left on the last day: leaving
    assert p.at["b", "stayed"] == 1.0  # left the day after the period: stayed to its end
    assert p.at["c", "stayed"] == 1.0
    assert math.isnan(p.at["d", "stayed"])  # period not ended: censored, not a leaver


def test_with_a_light_penalty_the_fit_reproduces_the_observed_shares() -> None:
    # one categorical feature: the maximum-likelihood fit is the share of stayers per level
    h = _history()
    p = outcome_frame(h)
    m = fit_retention_model(p, ModelSettings(features=(), categorical=("household_type",),
                                             l2=1e-6))
    pred = pd.Series(m.predict(p.loc[p["stayed"].notna()]),
                     index=p.loc[p["stayed"].notna(), "household_type"])
    observed = p.loc[p["stayed"].notna()].groupby("household_type")["stayed"].mean()
    for kind, share in observed.items():
        assert pred.loc[kind].iloc[0] == pytest.approx(share, abs=1e-4)


def test_the_penalised_fit_solves_its_own_score_equations() -> None:
    h = _history(seed=4)
    acc = pd.DataFrame({"walk_stop_min": [3.0, 12.0], "n_stop_within_10min": [2, 0],
                        "departures_per_hour_500m": [6.0, 1.0]},
                       index=pd.Index(["D1", "D2"], name="dwelling_id"))
    p = outcome_frame(h, measures=acc)
    s = ModelSettings(features=("walk_stop_min",), categorical=("household_type",), l2=3.0)
    m = fit_retention_model(p, s)
    data = p.loc[p["stayed"].notna()]
    x, _ = m.design(data)
    y = data["stayed"].to_numpy(float)
    prob = m.predict(data)
    grad = x.T @ (y - prob) - s.l2 * m.coef.to_numpy()
    assert np.abs(grad).max() < 1e-6
    assert abs((y - prob).sum()) < 1e-6  # unpenalised intercept
    assert m.coef["walk_stop_min"] < 0  # D2 is far from a stop and its households leave


def test_unknown_measures_give_no_prediction_and_are_left_out_of_the_fit() -> None:
    h = pd.concat([_history(), _history(n_per_group=10, dwellings=("D3", "D2"), prefix="x")],
                  ignore_index=True)
    acc = pd.DataFrame({"departures_per_hour_500m": [6.0, np.nan, 2.0]},
                       index=pd.Index(["D1", "D2", "D3"], name="dwelling_id"))
    p = outcome_frame(h, measures=acc)
    m = fit_retention_model(p, ModelSettings(features=("departures_per_hour_500m",),
                                             categorical=()))
    assert m.left_out == int(p.loc[p["dwelling_id"] == "D2", "stayed"].notna().sum()) > 0
    pred = predict_dwellings(m, acc)
    assert math.isnan(pred["D2"])
    assert 0 < pred["D1"] < 1
    assert 0 < pred["D3"] < 1


def test_too_few_persons_is_a_clear_error() -> None:
    h = _history(n_per_group=3, years=(2015,))
    with pytest.raises(RetentionError, match="at least 30"):
        fit_retention_model(outcome_frame(h))


def test_a_model_without_signal_is_said_to_be_no_better_than_the_base_rate() -> None:
    h = _history(n_per_group=60, stay_a=0.7, stay_b=0.7, seed=11,
                 years=(2012, 2013, 2014, 2015, 2016))
    v = validate_out_of_time(outcome_frame(h), ModelSettings(features=(),
                                                             categorical=("household_type",)))
    assert list(v.by_year["cohort"]) == [2013, 2014, 2015, 2016]
    assert (v.by_year["train_cohorts"].str.startswith("2012")).all()
    assert not v.better_than_base
    assert "NOT better than the base rate" in v.words()


def test_a_model_with_signal_beats_the_base_rate_out_of_time() -> None:
    h = _history(n_per_group=60, seed=5, years=(2012, 2013, 2014, 2015))
    v = validate_out_of_time(outcome_frame(h), ModelSettings(features=(),
                                                             categorical=("household_type",)))
    assert v.better_than_base
    assert v.pooled["auc"] > 0.6
    assert v.pooled["skill"] > 0
    # pooled figures equal an independent computation over the stored predictions
    pr = v.predictions
    assert v.pooled["brier"] == pytest.approx(float(((pr["predicted"] - pr["stayed"]) ** 2)
                                                    .mean()))
    assert v.pooled["n"] == len(pr) == int(v.by_year["n"].sum())


def test_household_group_splits_off_large_families() -> None:
    got = household_group(pd.Series(["family", "single_parent", "family", "couple"]),
                          pd.Series([4, 5, 7, 2]))
    assert got.tolist() == ["family", "large_family", "large_family", "couple"]


# --- the demo's documented relation ----------------------------------------------------------
@pytest.fixture(scope="module")
def demo(demo_dir: Path):
    from placement.dataset import load_dataset

    return load_dataset(demo_dir)


def _truth(folder: Path) -> pd.DataFrame:
    dw = pd.read_csv(folder / "dwellings.csv", dtype={"dwelling_id": str})
    with zipfile.ZipFile(folder / "gtfs.zip") as z:
        stops = pd.read_csv(io.BytesIO(z.read("stops.txt")))
    cov = placement_covariates(dw["lat"].to_numpy(), dw["lon"].to_numpy(),
                               stops["stop_lat"].to_numpy(), stops["stop_lon"].to_numpy(),
                               CENTRE_LAT_LON)
    out = pd.DataFrame(cov, index=pd.Index(dw["dwelling_id"], name="dwelling_id"))
    out["stop_100m"] = (np.minimum(out["stop_m"], STOP_CAP_M) - 250.0) / 100.0
    return out[["stop_100m", "km_to_centre"]]


def test_demo_history_matches_the_published_baselines(demo) -> None:
    from lifelines import KaplanMeierFitter

    p = outcome_frame(demo.history)
    surv = survival_frame(p, as_of=p.attrs["as_of"])
    km = KaplanMeierFitter().fit(surv["duration_years"], surv["event"])
    s = km.survival_function_at_times([2.5, 3.0, 3.5, 5.0]).to_numpy()
    assert s[1] == pytest.approx(STAY_3Y, abs=0.03)
    assert s[3] == pytest.approx(STAY_5Y, abs=0.03)
    # the spike early in year 4: more leave in the half year after 3 years than in the one before
    assert (s[1] - s[2]) > 2.5 * (s[0] - s[1])


def test_cox_recovers_the_documented_hazard_ratios(demo, demo_dir: Path) -> None:
    p = outcome_frame(demo.history, measures=_truth(demo_dir))
    surv = survival_frame(p, as_of=p.attrs["as_of"])
    types = ["single", "couple", "single_parent", "large_family"]
    for t in types:
        surv[f"type_{t}"] = (surv["household_type"] == t).astype(float)
    cox = cox_model(surv, covariates=["stop_100m", "km_to_centre",
                                      *[f"type_{t}" for t in types]]).set_index("covariate")
    ref = math.log(HAZARD_RATIOS["family"])
    true = {"stop_100m": math.log(HAZARD_RATIOS["per_100m_to_stop"]),
            "km_to_centre": math.log(HAZARD_RATIOS["per_km_to_centre"]),
            **{f"type_{t}": math.log(HAZARD_RATIOS[t]) - ref for t in types}}
    est = {name: math.log(cox.at[name, "hazard_ratio"]) for name in true}
    # the placement measures: recovered closely, and inside the 95 % interval
    for name in ("stop_100m", "km_to_centre"):
        assert est[name] == pytest.approx(true[name], abs=0.1), name
        assert math.log(cox.at[name, "ci_low"]) < true[name] < math.log(cox.at[name, "ci_high"])
    # household types (about 600 households, moving together): roughly, and in the right order
    for name in (f"type_{t}" for t in types):
        assert est[name] == pytest.approx(true[name], abs=0.6), name
    assert est["type_single"] > est["type_couple"] > est["type_large_family"]
    assert est["type_single"] > 0 > est["type_large_family"]


def test_logistic_model_on_the_access_table_finds_the_direction_of_the_relation(
        demo, demo_dir: Path) -> None:
    from placement import planning

    acc = planning.accessibility(demo_dir)
    p = outcome_frame(demo.history, measures=acc, areas=demo.areas, dwellings=demo.dwellings)
    m = fit_retention_model(p)
    c = m.coef
    # further from a stop: less staying; single adults stay less than large families
    assert c["walk_stop_min"] < 0
    assert c["household_type=single"] < c["household_type=large_family"]
    assert c["household_type=couple"] < c["household_type=large_family"]
    v = validate_out_of_time(p)
    assert list(v.by_year["cohort"]) == [2017, 2018, 2019, 2020]
    assert v.better_than_base
    assert v.pooled["auc"] > 0.55


def test_an_area_or_type_the_training_rows_did_not_have_gives_no_prediction() -> None:
    h = _history()
    p = outcome_frame(h)
    m = fit_retention_model(p, ModelSettings(features=(), categorical=("household_type",
                                                                      "area_id")))
    frame = pd.DataFrame({"household_type": ["single", "single", "single", "nomad"],
                          "area_id": ["A", "ZZ", None, "A"]})
    pred = m.predict(frame)
    assert 0 < pred[0] < 1
    assert np.isnan(pred[1:]).all()  # unseen area, no area, unseen type: unknown, not a guess
