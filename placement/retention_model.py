"""A model of staying to the end of the integration period, and how far it can be trusted.

What it learns
--------------
From the residence history (:func:`placement.retention_persons.prepare_persons`) joined with
the placement measures of each person's first dwelling (the accessibility table, or the
measures of a stored run), a **ridge-penalised logistic regression** of *stayed in the
municipality to the end of the integration period* (no exit on or before ``integration_end``)
on the household type, the local area of first placement and the placement measures
(:data:`DEFAULT_FEATURES`). Only persons whose period ended by the data date have an outcome;
the others are censored and left out of the fit (the Cox model of
:mod:`placement.retention_survival` uses them for the curves). Rows are persons; members of a
household usually share the outcome, so the effective sample is closer to the number of
households.

Measures are prepared as the score terms are (:mod:`placement.score`): a walk time that was
measured but finds no place within reach counts as :data:`WALK_CAP_MIN`, a public-transport
time with known departures but no journey as :data:`PT_CAP_MIN`; a measure that could not be
measured is unknown: such persons are left out of the fit and such dwellings get no prediction
(NaN), never a guess. Numeric features are standardised on the training rows; categorical ones
are one-hot coded, every level kept (a level the training rows did not have, or a missing one,
is unknown: no prediction); the intercept is not penalised (penalty ``l2 / 2 *
sum(beta**2)`` on the standardised scale).

The figures are an **association, not a cause**: households were not placed at random, and
what brought a household to a dwelling may also make it stay or leave.

Out-of-time validation
----------------------
For each cohort (placement year) Y with known outcomes and at least one earlier cohort: fit on
the cohorts before Y, predict cohort Y. Reported per Y and pooled over all Y: AUC (discrimination;
0.5 is chance), the Brier score against that of the base rate (the training share of stayers
predicted for everyone) as a skill score ``1 - Brier / Brier_base``, and calibration by decile
(observed against predicted share). The model counts as **better than the base rate** when the
pooled skill is above 0 and the pooled AUC at least ``min_auc``; otherwise reports say so and
the objective term should stay off (its weight is 0 by default anyway).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from placement.retention_persons import (
    RetentionError,
    RetentionSettings,
    data_date,
    prepare_persons,
)

__all__ = [
    "DEFAULT_FEATURES",
    "PT_CAP_MIN",
    "WALK_CAP_MIN",
    "ModelSettings",
    "RetentionFit",
    "RetentionModel",
    "Validation",
    "auc",
    "calibration_table",
    "dwelling_features",
    "fit_for_dataset",
    "fit_retention_model",
    "household_group",
    "outcome_frame",
    "predict_dwellings",
    "predict_pairs",
    "validate_out_of_time",
]

logger = logging.getLogger(__name__)

#: Placement measures used when present (columns of the accessibility table / areas).
DEFAULT_FEATURES = (
    "departures_per_hour_500m",
    "walk_stop_min",
    "pt_jobcenter_median_min",
    "pt_language_school_median_min",
    "n_association_within_15min",
    "walk_daycare_min",
    "walk_school_min",
    "area_integration_share",
)
#: Categorical features.
CATEGORICAL = ("household_type", "area_id")
#: A walk time measured but without a place within reach counts as this many minutes.
WALK_CAP_MIN = 45.0
#: A public-transport time with known departures but no journey counts as this many minutes.
PT_CAP_MIN = 120.0
#: Household types of the audit, in order (see :func:`household_group`).
HOUSEHOLD_GROUPS = ("single", "couple", "single_parent", "family", "large_family")


def household_group(household_type: pd.Series, persons: pd.Series) -> pd.Series:
    """Return the household group of the audit and the model: a household of 5+ is ``large_family``.

    Parameters
    ----------
    household_type : pandas.Series
        ``single``, ``couple``, ``single_parent`` or ``family`` (as the loader derives it).
    persons : pandas.Series
        Persons in the household.

    Returns
    -------
    pandas.Series
        One of :data:`HOUSEHOLD_GROUPS` (other types are kept as they are).

    Examples
    --------
    >>> household_group(pd.Series(["family", "family", "single"]), pd.Series([4, 6, 1])).tolist()
    ['family', 'large_family', 'single']
    """
    t = household_type.astype(str).reset_index(drop=True)
    p = pd.to_numeric(persons, errors="coerce").reset_index(drop=True)
    out = t.where(~(p >= 5), "large_family")
    out.index = household_type.index
    return out


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """Settings of the retention model.

    Attributes
    ----------
    features : tuple of str
        Numeric placement measures (those missing from the data are skipped).
    categorical : tuple of str
        Categorical features (household type, area of first placement).
    l2 : float
        Ridge penalty on the standardised coefficients (100: on the demo's 900 persons with an
        outcome this predicted best out of time among 2, 20 and 100; see benchmarks/RESULTS.md).
    min_train_persons : int
        Fewest persons with an outcome a training set needs (with stayers and leavers).
    min_auc : float
        Pooled out-of-time AUC the model needs (with a positive Brier skill) to count as
        better than the base rate.
    """

    features: tuple[str, ...] = DEFAULT_FEATURES
    categorical: tuple[str, ...] = CATEGORICAL
    l2: float = 100.0
    min_train_persons: int = 30
    min_auc: float = 0.55

    def __post_init__(self) -> None:
        if not self.l2 > 0:
            msg = f"retention model: l2 must be > 0, got {self.l2!r}"
            raise RetentionError(msg)


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------
def _walk_known(frame: pd.DataFrame, cat: str) -> pd.Series:
    cols = [c for c in frame.columns if str(c).startswith(f"n_{cat}_within_")]
    if cols:
        return frame[cols[0]].notna()
    return pd.Series(False, index=frame.index)


def dwelling_features(frame: pd.DataFrame, features: tuple[str, ...]) -> pd.DataFrame:
    """Return the numeric features, prepared (capped) as the module docs say; NaN = unknown.

    Parameters
    ----------
    frame : pandas.DataFrame
        Measures per row (accessibility table columns, possibly joined to persons).
    features : tuple of str
        Feature columns; absent ones are left out of the result.

    Returns
    -------
    pandas.DataFrame
        Same index, one float column per present feature.
    """
    out = pd.DataFrame(index=frame.index)
    dep = (pd.to_numeric(frame["departures_per_hour_500m"], errors="coerce")
           if "departures_per_hour_500m" in frame.columns else None)
    for col in features:
        if col not in frame.columns:
            continue
        v = pd.to_numeric(frame[col], errors="coerce").astype(float)
        if col.startswith("walk_") and col.endswith("_min"):
            cat = col[len("walk_"):-len("_min")]
            known = _walk_known(frame, cat)
            v = v.where(v.notna() | ~known, WALK_CAP_MIN).clip(upper=WALK_CAP_MIN)
        elif col.startswith("pt_") and dep is not None:
            v = v.where(v.notna() | dep.isna(), PT_CAP_MIN).clip(upper=PT_CAP_MIN)
        out[col] = v
    return out


def outcome_frame(
    history: pd.DataFrame,
    *,
    measures: pd.DataFrame | None = None,
    areas: pd.DataFrame | None = None,
    dwellings: pd.DataFrame | None = None,
    as_of: date | pd.Timestamp | str | None = None,
    settings: RetentionSettings | None = None,
) -> pd.DataFrame:
    """Return one row per person with the outcome ``stayed`` (NaN while censored).

    Parameters
    ----------
    history : pandas.DataFrame
        Residence history (``schema.HISTORY`` rows).
    measures : pandas.DataFrame, optional
        Accessibility table by ``dwelling_id``: the placement measures at the time.
    areas, dwellings : pandas.DataFrame, optional
        As for :func:`placement.retention_persons.prepare_persons`.
    as_of : date, optional
        Data date (default: the last date in the history).
    settings : RetentionSettings, optional
        Integration period length.

    Returns
    -------
    pandas.DataFrame
        :func:`prepare_persons` columns plus ``stayed`` (1.0 stayed to the end of the
        period, 0.0 left before or on it, NaN: period not ended by ``as_of``);
        ``attrs["as_of"]`` holds the data date.
    """
    persons = prepare_persons(history, measures=measures, areas=areas, settings=settings,
                              dwellings=dwellings)
    stop = data_date(persons) if as_of is None else pd.Timestamp(as_of).normalize()
    persons = persons.loc[persons["placement_date"] <= stop].copy()
    ended = persons["integration_end"] <= stop
    left = persons["exit_date"].notna() & (persons["exit_date"] <= persons["integration_end"])
    persons["stayed"] = np.where(ended, (~left).astype(float), np.nan)
    persons.attrs["as_of"] = stop
    return persons


# --------------------------------------------------------------------------------------------
# Fit
# --------------------------------------------------------------------------------------------
@dataclass
class RetentionModel:
    """A fitted model: coefficients, the design it was fitted on and its household mix.

    Attributes
    ----------
    intercept : float
    coef : pandas.Series
        Coefficient per design column (numeric: per standard deviation; categorical:
        ``household_type=single`` etc.).
    numeric : list of str
        Numeric features used.
    mean, scale : pandas.Series
        Standardisation of the numeric features (training rows).
    levels : dict of str to list of str
        Levels of each categorical feature.
    type_mix : pandas.Series
        Share of training persons per household type (for standardised predictions).
    n, stayers : int
        Training persons and stayers among them.
    base_rate : float
        Training share of stayers.
    left_out : int
        Persons with an outcome left out for unknown measures.
    cohorts : list of int
        Training cohorts.
    """

    intercept: float
    coef: pd.Series
    numeric: list[str]
    mean: pd.Series
    scale: pd.Series
    levels: dict[str, list[str]]
    type_mix: pd.Series
    n: int
    stayers: int
    base_rate: float
    left_out: int = 0
    cohorts: list[int] = field(default_factory=list)

    def coefficients(self) -> pd.DataFrame:
        """Return the coefficients with odds ratios (per SD for numeric features)."""
        rows = [{"term": "intercept", "coef": self.intercept, "odds_ratio": np.exp(self.intercept),
                 "unit": ""}]
        for name, value in self.coef.items():
            unit = f"per SD ({self.scale[name]:.3g})" if name in self.numeric else "level"
            rows.append({"term": name, "coef": float(value), "odds_ratio": float(np.exp(value)),
                         "unit": unit})
        return pd.DataFrame(rows)

    def design(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Return the design matrix of ``frame`` and which rows are fully known."""
        x_num = dwelling_features(frame, tuple(self.numeric))
        x_num = x_num.reindex(columns=self.numeric)
        known = x_num.notna().all(axis=1).to_numpy()
        z = ((x_num - self.mean) / self.scale).to_numpy(dtype=float)
        parts = [np.nan_to_num(z, nan=0.0)]
        for col, levels in self.levels.items():
            values = _category(frame, col)
            # a level the training rows did not have (or none) is unknown, not the intercept
            known &= values.isin(levels).fillna(False).to_numpy(dtype=bool)
            parts.append(np.column_stack([(values == lv).fillna(False).to_numpy(float)
                                          for lv in levels])
                         if levels else np.zeros((len(frame), 0)))
        return np.hstack(parts) if parts else np.zeros((len(frame), 0)), known

    def linear(self, frame: pd.DataFrame) -> np.ndarray:
        """Return the linear predictor (log-odds); NaN where a measure is unknown."""
        x, known = self.design(frame)
        lp = self.intercept + x @ self.coef.to_numpy()
        return np.where(known, lp, np.nan)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Return the predicted probability of staying; NaN where a measure is unknown."""
        return _sigmoid(self.linear(frame))


def _category(frame: pd.DataFrame, col: str) -> pd.Series:
    """Return ``frame[col]`` as text, missing (NA) where absent, empty or not given."""
    if col not in frame.columns:
        return pd.Series(pd.NA, index=frame.index, dtype="string")
    values = frame[col].astype("string").str.strip()
    return values.mask(values.isin(["", "nan", "None", "<NA>"]))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))


def _ridge_logistic(x: np.ndarray, y: np.ndarray, l2: float, *, iters: int = 100
                    ) -> tuple[float, np.ndarray]:
    """Newton-Raphson for the ridge-penalised logistic regression (intercept unpenalised)."""
    n, k = x.shape
    xa = np.hstack([np.ones((n, 1)), x])
    beta = np.zeros(k + 1)
    ybar = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
    beta[0] = np.log(ybar / (1 - ybar))
    pen = np.full(k + 1, l2)
    pen[0] = 0.0
    for _ in range(iters):
        p = _sigmoid(xa @ beta)
        grad = xa.T @ (y - p) - pen * beta
        w = p * (1 - p)
        hess = (xa * w[:, None]).T @ xa + np.diag(pen) + 1e-9 * np.eye(k + 1)
        step = np.linalg.solve(hess, grad)
        beta += step
        if np.max(np.abs(step)) < 1e-10:
            break
    return float(beta[0]), beta[1:]


def fit_retention_model(persons: pd.DataFrame, settings: ModelSettings | None = None
                        ) -> RetentionModel:
    """Fit the ridge-penalised logistic model on the persons with an outcome.

    Parameters
    ----------
    persons : pandas.DataFrame
        :func:`outcome_frame` (rows with NaN ``stayed`` are ignored).
    settings : ModelSettings, optional
        Features and penalty.

    Returns
    -------
    RetentionModel

    Raises
    ------
    RetentionError
        Fewer than ``min_train_persons`` persons with an outcome and known measures, or only
        stayers or only leavers.
    """
    s = settings or ModelSettings()
    data = persons.loc[persons["stayed"].notna()]
    num = dwelling_features(data, s.features)
    num = num[[c for c in num.columns if num[c].notna().any()]]
    known = num.notna().all(axis=1)
    for c in s.categorical:
        if c in data.columns:
            known &= _category(data, c).notna()
    left_out = int((~known).sum())
    data, num = data.loc[known], num.loc[known]
    y = data["stayed"].to_numpy(dtype=float)
    if len(y) < s.min_train_persons or y.min() == y.max():
        msg = (f"retention model: {len(y)} persons with an ended integration period and known "
               f"measures ({int(y.sum()) if len(y) else 0} stayed); at least "
               f"{s.min_train_persons} with both stayers and leavers are needed")
        raise RetentionError(msg)
    sd = num.std(ddof=0)
    num = num[[c for c in num.columns if sd[c] > 0]]
    mean, scale = num.mean(), num.std(ddof=0)
    levels = {c: sorted(_category(data, c).unique()) for c in s.categorical if c in data.columns}
    model = RetentionModel(intercept=0.0, coef=pd.Series(dtype=float), numeric=list(num.columns),
                           mean=mean, scale=scale, levels=levels,
                           type_mix=data["household_type"].astype(str).value_counts(
                               normalize=True).sort_index()
                           if "household_type" in data.columns else pd.Series(dtype=float),
                           n=len(y), stayers=int(y.sum()), base_rate=float(y.mean()),
                           left_out=left_out,
                           cohorts=sorted(int(c) for c in data["cohort"].unique()))
    x, _ = model.design(data)
    b0, b = _ridge_logistic(x, y, s.l2)
    names = list(num.columns) + [f"{c}={lv}" for c, lvs in levels.items() for lv in lvs]
    model.intercept, model.coef = b0, pd.Series(b, index=names)
    return model


# --------------------------------------------------------------------------------------------
# Predictions for the plan
# --------------------------------------------------------------------------------------------
def predict_dwellings(model: RetentionModel, access: pd.DataFrame,
                      dwellings: pd.DataFrame | None = None,
                      areas: pd.DataFrame | None = None) -> pd.Series:
    """Return the standardised predicted retention of each dwelling (NaN: a measure unknown).

    The prediction is averaged over the training household mix (``model.type_mix``): the
    retention expected of the history's households at this dwelling. Household type shifts
    every dwelling of a household by the same log-odds, so it does not change which dwelling
    the model prefers for a household; :func:`predict_pairs` gives the per-household value.

    Parameters
    ----------
    model : RetentionModel
    access : pandas.DataFrame
        Accessibility table indexed by ``dwelling_id``.
    dwellings : pandas.DataFrame, optional
        ``dwelling_id``, ``area_id``: the area of each dwelling.
    areas : pandas.DataFrame, optional
        ``area_id``, ``population``, ``integration_residents``: the area concentration.

    Returns
    -------
    pandas.Series
        Indexed like ``access``.
    """
    frame = _dwelling_frame(access, dwellings, areas)
    if model.type_mix.empty or "household_type" not in model.levels:
        return pd.Series(model.predict(frame), index=access.index, dtype=float)
    total = np.zeros(len(frame))
    for t, share in model.type_mix.items():
        total += share * model.predict(frame.assign(household_type=t))
    return pd.Series(total, index=access.index, dtype=float)


def _dwelling_frame(access: pd.DataFrame, dwellings: pd.DataFrame | None,
                    areas: pd.DataFrame | None) -> pd.DataFrame:
    frame = access.copy()
    frame.index = frame.index.astype(str)
    if dwellings is not None and "area_id" in dwellings.columns and "area_id" not in frame:
        by = pd.Series(dwellings["area_id"].astype("string").to_numpy(),
                       index=dwellings["dwelling_id"].astype(str).to_numpy())
        frame["area_id"] = by.reindex(frame.index).to_numpy()
    if areas is not None and {"area_id", "population", "integration_residents"} <= set(
            areas.columns) and "area_id" in frame.columns:
        a = pd.DataFrame(areas).drop(columns="geometry", errors="ignore")
        pop = pd.to_numeric(a["population"], errors="coerce")
        share = pd.to_numeric(a["integration_residents"], errors="coerce") / pop.where(pop > 0)
        share.index = a["area_id"].astype(str)
        frame["area_integration_share"] = frame["area_id"].astype(str).map(share).astype(float)
    return frame


def predict_pairs(model: RetentionModel, household_type: np.ndarray, dwelling_ids: np.ndarray,
                  access: pd.DataFrame, dwellings: pd.DataFrame | None = None,
                  areas: pd.DataFrame | None = None) -> np.ndarray:
    """Return the predicted retention of households (by type) at dwellings (NaN: unknown).

    A household type the history does not have gets the standardised prediction of the
    dwelling (:func:`predict_dwellings`).
    """
    frame = _dwelling_frame(access, dwellings, areas)
    ids = pd.Series(dwelling_ids, dtype="string")
    ok = ids.notna() & ids.fillna("").isin(frame.index)
    rows = frame.reindex(ids.fillna("").to_numpy())
    rows.index = range(len(rows))
    types = pd.Series(np.asarray(household_type, dtype=object)).astype(str)
    seen = types.isin(model.levels.get("household_type", []))
    rows["household_type"] = types.to_numpy()
    out = model.predict(rows)
    if (~seen).any():
        std = predict_dwellings(model, access, dwellings, areas)
        std.index = std.index.astype(str)
        out = np.where(seen.to_numpy(), out, std.reindex(ids.fillna("").to_numpy()).to_numpy())
    return np.where(ok.to_numpy(), out, np.nan)


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------
def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half); NaN without both classes.

    Examples
    --------
    >>> auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.75
    """
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    pos, neg = p[y == 1], p[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    ranks = pd.Series(np.concatenate([pos, neg])).rank(method="average").to_numpy()
    r_pos = ranks[: len(pos)].sum()
    return float((r_pos - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def calibration_table(y: np.ndarray, p: np.ndarray, *, bins: int = 10) -> pd.DataFrame:
    """Observed against predicted share by decile of the prediction.

    Returns
    -------
    pandas.DataFrame
        ``decile`` (1 = lowest predictions), ``n``, ``predicted`` (mean), ``observed`` (share
        of stayers), ``stayers``.
    """
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if len(p) == 0:
        return pd.DataFrame(columns=["decile", "n", "predicted", "observed", "stayers"])
    order = np.argsort(p, kind="stable")
    groups = np.array_split(order, min(bins, len(p)))
    rows = []
    for i, g in enumerate(groups, start=1):
        rows.append({"decile": i, "n": len(g), "predicted": float(p[g].mean()),
                     "observed": float(y[g].mean()), "stayers": int(y[g].sum())})
    return pd.DataFrame(rows)


@dataclass
class Validation:
    """Out-of-time validation figures.

    Attributes
    ----------
    by_year : pandas.DataFrame
        Per test cohort: ``cohort``, ``train_cohorts``, ``n_train``, ``n``, ``stayers``,
        ``base_rate`` (training), ``observed``, ``predicted`` (mean), ``auc``, ``brier``,
        ``brier_base``, ``skill``.
    pooled : dict
        The same figures over every test cohort together.
    calibration : pandas.DataFrame
        Pooled :func:`calibration_table`.
    better_than_base : bool
        Pooled skill > 0 and pooled AUC >= ``min_auc``.
    notes : list of str
        Plain-language remarks (skipped cohorts, verdict).
    predictions : pandas.DataFrame
        ``person_id``, ``cohort``, ``stayed``, ``predicted``, ``base`` of every test person.
    """

    by_year: pd.DataFrame
    pooled: dict[str, Any]
    calibration: pd.DataFrame
    better_than_base: bool
    notes: list[str] = field(default_factory=list)
    predictions: pd.DataFrame = field(default_factory=pd.DataFrame)

    def words(self) -> str:
        """One sentence on the validation, for every place the model is used."""
        p = self.pooled
        if not p.get("n"):
            return ("The retention model could not be validated out of time (too few cohorts "
                    "with an ended integration period); its predictions are not to be relied on.")
        verdict = ("better than the base rate" if self.better_than_base
                   else "NOT better than the base rate: do not rely on it")
        return (f"Out-of-time validation ({p['n']} persons of cohorts {p['cohorts']}, each "
                f"predicted from earlier cohorts only): AUC {p['auc']:.2f}, Brier "
                f"{p['brier']:.3f} against {p['brier_base']:.3f} for the base rate (skill "
                f"{p['skill']:+.1%}) — {verdict}. An association, not a cause.")


def validate_out_of_time(persons: pd.DataFrame, settings: ModelSettings | None = None
                         ) -> Validation:
    """Train on the cohorts before Y, test on cohort Y, for every cohort Y that allows it.

    Parameters
    ----------
    persons : pandas.DataFrame
        :func:`outcome_frame`.
    settings : ModelSettings, optional

    Returns
    -------
    Validation
    """
    s = settings or ModelSettings()
    known = persons.loc[persons["stayed"].notna()]
    cohorts = sorted(int(c) for c in known["cohort"].unique())
    rows, preds, notes = [], [], []
    for y_test in cohorts[1:]:
        train = known.loc[known["cohort"] < y_test]
        test = known.loc[known["cohort"] == y_test]
        try:
            model = fit_retention_model(train, s)
        except RetentionError as err:
            notes.append(f"Cohort {y_test} not tested: {err}.")
            continue
        p = model.predict(test)
        ok = ~np.isnan(p)
        yv = test["stayed"].to_numpy(float)[ok]
        pv = p[ok]
        if len(yv) == 0:
            notes.append(f"Cohort {y_test} not tested: no person with known measures.")
            continue
        base = np.full(len(yv), model.base_rate)
        rows.append(_scores(yv, pv, base) | {
            "cohort": y_test, "train_cohorts": f"{min(model.cohorts)}-{max(model.cohorts)}",
            "n_train": model.n, "base_rate": model.base_rate})
        preds.append(pd.DataFrame({"person_id": test["person_id"].to_numpy()[ok],
                                   "cohort": y_test, "stayed": yv, "predicted": pv,
                                   "base": base}))
    cols = ["cohort", "train_cohorts", "n_train", "n", "stayers", "base_rate", "observed",
            "predicted", "auc", "brier", "brier_base", "skill"]
    by_year = pd.DataFrame(rows, columns=cols)
    if not preds:
        notes.append("No cohort could be tested out of time: the model is not validated.")
        return Validation(by_year, {"n": 0}, calibration_table(np.zeros(0), np.zeros(0)), False,
                          notes)
    allp = pd.concat(preds, ignore_index=True)
    pooled = _scores(allp["stayed"].to_numpy(), allp["predicted"].to_numpy(),
                     allp["base"].to_numpy())
    tested = sorted(allp["cohort"].unique())
    pooled["cohorts"] = f"{tested[0]}-{tested[-1]}" if len(tested) > 1 else str(tested[0])
    better = bool(pooled["skill"] > 0 and pooled["auc"] >= s.min_auc)
    notes.append("The model predicts staying better than the base rate out of time."
                  if better else
                  "The model does not predict staying better than the base rate out of time: "
                  "the retention term should stay off (weight 0).")
    cal = calibration_table(allp["stayed"].to_numpy(), allp["predicted"].to_numpy())
    return Validation(by_year, pooled, cal, better, notes, allp)


def _scores(y: np.ndarray, p: np.ndarray, base: np.ndarray) -> dict[str, Any]:
    brier = float(np.mean((p - y) ** 2))
    brier_base = float(np.mean((base - y) ** 2))
    return {"n": len(y), "stayers": int(y.sum()), "observed": float(y.mean()),
            "predicted": float(p.mean()), "auc": auc(y, p), "brier": brier,
            "brier_base": brier_base,
            "skill": 1.0 - brier / brier_base if brier_base > 0 else float("nan")}


# --------------------------------------------------------------------------------------------
# Everything a plan needs
# --------------------------------------------------------------------------------------------
@dataclass
class RetentionFit:
    """The model fitted on every cohort with an outcome, its validation and its predictions.

    Attributes
    ----------
    model : RetentionModel
    validation : Validation
    dwelling_prediction : pandas.Series
        Standardised predicted retention per dwelling (:func:`predict_dwellings`).
    base_rate : float
        Share of persons with an ended period who stayed (the history's base rate).
    as_of : pandas.Timestamp
        Data date of the history.
    """

    model: RetentionModel
    validation: Validation
    dwelling_prediction: pd.Series
    base_rate: float
    as_of: pd.Timestamp

    def summary(self, expected: float | None = None, target: float | None = None
                ) -> dict[str, Any]:
        """Return the figures to show beside any use of the model (JSON-ready)."""
        v = self.validation
        return {
            "expected_retention": expected,
            "base_rate": self.base_rate,
            "target": target,
            "n_train": self.model.n,
            "train_cohorts": self.model.cohorts,
            "validation": {k: (float(x) if isinstance(x, float | np.floating) else x)
                           for k, x in v.pooled.items()},
            "better_than_base": v.better_than_base,
            "words": v.words(),
        }


def fit_for_dataset(history: pd.DataFrame, access: pd.DataFrame, *,
                    dwellings: pd.DataFrame | None = None, areas: pd.DataFrame | None = None,
                    settings: ModelSettings | None = None,
                    retention: RetentionSettings | None = None) -> RetentionFit:
    """Fit the model on a dataset's history and the access table joined by dwelling.

    Parameters
    ----------
    history : pandas.DataFrame
        Residence history.
    access : pandas.DataFrame
        Accessibility table indexed by ``dwelling_id`` (the placement measures; for past
        placements in dwellings of this table).
    dwellings, areas : pandas.DataFrame, optional
        Area of each dwelling and area concentration.
    settings, retention : optional
        Model and retention settings.

    Returns
    -------
    RetentionFit

    Raises
    ------
    RetentionError
        Too few persons with an outcome and known measures.
    """
    persons = outcome_frame(history, measures=access, areas=areas, dwellings=dwellings,
                            settings=retention)
    model = fit_retention_model(persons, settings)
    validation = validate_out_of_time(persons, settings)
    if model.left_out:
        from placement.retention_rates import _count_text

        min_cell = retention.min_cell if retention is not None else RetentionSettings().min_cell
        validation.notes.append(f"{_count_text(model.left_out, min_cell)} persons with an "
                                "ended period were left out of the fit: a measure of their "
                                "dwelling is unknown.")
    pred = predict_dwellings(model, access, dwellings, areas)
    known = persons["stayed"].dropna()
    return RetentionFit(model, validation, pred, float(known.mean()), persons.attrs["as_of"])
