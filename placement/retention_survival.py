"""Survival after placement: Kaplan–Meier curves, log-rank tests and the Cox model.

Definitions: see :mod:`placement.retention`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from placement.report_text import say
from placement.retention_persons import DAYS_PER_YEAR, RetentionError


@dataclass(frozen=True, slots=True)
class LogRankResult:
    """Log-rank test of equal survival across the groups of one grouping.

    Attributes
    ----------
    grouping : str
        Column the persons were grouped by.
    statistic : float
        Chi-square test statistic.
    degrees_freedom : int
        Number of groups minus one.
    p_value : float
        P-value of the test.
    n_groups : int
        Groups compared.
    """

    grouping: str
    statistic: float
    degrees_freedom: int
    p_value: float
    n_groups: int


# --------------------------------------------------------------------------------------------
# Survival
# --------------------------------------------------------------------------------------------
def survival_frame(persons: pd.DataFrame, *, as_of: date | pd.Timestamp | str) -> pd.DataFrame:
    """Return time to leaving the municipality for every person placed by ``as_of``.

    Returns
    -------
    pandas.DataFrame
        ``persons`` with ``duration_days`` (int, placement to exit or to ``as_of``),
        ``duration_years`` (days / 365.25) and ``event`` (bool: left by ``as_of``).
    """
    stop = pd.Timestamp(as_of).normalize()
    sub = persons.loc[persons["placement_date"] <= stop].copy()
    event = sub["exit_date"].notna() & (sub["exit_date"] <= stop)
    end = sub["exit_date"].where(event, stop)
    sub["duration_days"] = (end - sub["placement_date"]).dt.days.astype(int)
    sub["duration_years"] = sub["duration_days"] / DAYS_PER_YEAR
    sub["event"] = event.astype(bool)
    return sub


KM_COLUMNS = (
    "grouping",
    "group",
    "time_days",
    "time_years",
    "survival",
    "ci_low",
    "ci_high",
    "at_risk",
    "n_group",
)


def kaplan_meier(surv: pd.DataFrame, *, by: str | None = None, min_cell: int = 5) -> pd.DataFrame:
    """Kaplan–Meier estimate of staying in the municipality, overall or per group.

    Parameters
    ----------
    surv
        Output of :func:`survival_frame`.
    by
        Grouping column, or None for one curve of everyone.
    min_cell
        Groups with fewer persons are left out, and each curve stops before the first time
        at which fewer than ``min_cell`` persons remain at risk (nobody can be singled out).

    Returns
    -------
    pandas.DataFrame
        Columns ``grouping`` (``"overall"`` or ``by``), ``group``, ``time_days``,
        ``time_years``, ``survival`` (share still resident), ``ci_low``, ``ci_high``
        (lifelines' 95 % exponential Greenwood interval), ``at_risk`` (persons) and
        ``n_group``; the first row of each curve is time 0 with survival 1.
    """
    from lifelines import KaplanMeierFitter

    parts = (
        [("overall", "all", surv)]
        if by is None
        else [(by, str(g), part) for g, part in surv.groupby(surv[by].astype(str), sort=True)]
    )
    frames = []
    for grouping, group, part in parts:
        n_group = int(part["persons"].sum())
        if n_group < min_cell or part.empty:
            continue
        kmf = KaplanMeierFitter()
        kmf.fit(
            part["duration_days"].to_numpy(dtype=float),
            event_observed=part["event"].to_numpy(dtype=bool),
            weights=part["persons"].to_numpy(dtype=float),
            label="s",
        )
        sf = kmf.survival_function_["s"]
        ci = kmf.confidence_interval_
        at_risk = kmf.event_table["at_risk"]
        curve = pd.DataFrame(
            {
                "grouping": grouping,
                "group": group,
                "time_days": sf.index.to_numpy().astype(int),
                "time_years": sf.index.to_numpy() / DAYS_PER_YEAR,
                "survival": sf.to_numpy(),
                "ci_low": ci.iloc[:, 0].to_numpy(),
                "ci_high": ci.iloc[:, 1].to_numpy(),
                "at_risk": at_risk.reindex(sf.index).to_numpy().round().astype(int),
                "n_group": n_group,
            }
        )
        curve = curve.loc[curve["at_risk"] >= min_cell]
        frames.append(curve)
    if not frames:
        return pd.DataFrame(columns=list(KM_COLUMNS))
    return pd.concat(frames, ignore_index=True)[list(KM_COLUMNS)]


def logrank(surv: pd.DataFrame, *, by: str, min_cell: int = 5) -> LogRankResult | None:
    """Log-rank test that the groups of ``by`` have the same time-to-exit distribution.

    Groups with fewer than ``min_cell`` persons are left out (as in the curves). Uses
    ``lifelines.statistics.multivariate_logrank_test`` (for two groups it equals
    ``logrank_test``).

    Returns
    -------
    LogRankResult or None
        None when fewer than two groups remain.
    """
    from lifelines.statistics import multivariate_logrank_test

    groups = surv[by].astype(str)
    sizes = surv.groupby(groups)["persons"].sum()
    keep = groups.isin(sizes.index[sizes >= min_cell])
    sub = surv.loc[keep]
    n_groups = int(groups[keep].nunique())
    if n_groups < 2:
        return None
    res = multivariate_logrank_test(
        sub["duration_days"].to_numpy(dtype=float),
        groups[keep].to_numpy(),
        event_observed=sub["event"].to_numpy(dtype=bool),
        weights=sub["persons"].to_numpy(dtype=float),
    )
    return LogRankResult(
        grouping=by,
        statistic=float(res.test_statistic),
        degrees_freedom=n_groups - 1,
        p_value=float(res.p_value),
        n_groups=n_groups,
    )


COX_COLUMNS = ("covariate", "hazard_ratio", "ci_low", "ci_high", "p_value", "n", "events")


def cox_model(
    surv: pd.DataFrame, *, covariates: Sequence[str], notes: list[str] | None = None,
    language: str = "en",
) -> pd.DataFrame:
    """Fit a Cox proportional-hazards model of leaving the municipality.

    The hazard ratios show *association*, not cause: households are not placed at random,
    and what drew them to a dwelling may also make them stay or leave.

    Parameters
    ----------
    surv
        Output of :func:`survival_frame`, with the covariate columns.
    covariates
        Numeric columns, hazard ratio per one unit of each. Rows with a missing covariate are
        left out; a covariate without variation is dropped.
    notes
        List that receives plain-language remarks (dropped rows, lifelines warnings).
    language
        Language of those remarks (``"en"`` or ``"da"``).

    Returns
    -------
    pandas.DataFrame
        Columns ``covariate``, ``hazard_ratio``, ``ci_low``, ``ci_high`` (95 %), ``p_value``,
        ``n`` (persons) and ``events``. When the history has several persons per household,
        robust (sandwich) intervals clustered on ``household_id`` are used.

    Raises
    ------
    RetentionError
        No usable covariate, or the model does not converge.
    """
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError

    notes = notes if notes is not None else []
    cols = [c for c in covariates if c in surv.columns]
    if not cols:
        msg = "Cox model: none of the covariates " + ", ".join(covariates) + " is in the data"
        raise RetentionError(msg)
    data = surv[[*cols, "duration_days", "event", "persons", "household_id"]].copy()
    for c in cols:
        data[c] = pd.to_numeric(data[c], errors="coerce").astype(float)
    complete = data[cols].notna().all(axis=1)
    if (~complete).any():
        notes.append(say("n.cox_left_out", language, n=int((~complete).sum())))
    data = data.loc[complete]
    constant = [c for c in cols if data[c].nunique() < 2]
    if constant:
        notes.append(say("n.cox_constant", language, names=", ".join(constant)))
    cols = [c for c in cols if c not in constant]
    if not cols:
        msg = "Cox model: no covariate varies between persons"
        raise RetentionError(msg)
    data["duration_days"] = data["duration_days"].clip(lower=0.5)
    data["event"] = data["event"].astype(int)
    fit_cols = [*cols, "duration_days", "event", "persons"]
    cluster = None
    hid = data["household_id"]
    if hid.notna().all() and hid.duplicated().any():
        cluster = "household_id"
        fit_cols.append("household_id")
    frame = data[fit_cols].reset_index(drop=True)
    cph = CoxPHFitter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            cph.fit(
                frame,
                duration_col="duration_days",
                event_col="event",
                weights_col="persons",
                cluster_col=cluster,
                robust=cluster is not None,
            )
        except (ConvergenceError, np.linalg.LinAlgError, ZeroDivisionError) as err:
            msg = f"Cox model did not converge: {err}".split("\n")[0]
            raise RetentionError(msg) from err
    for w in caught:
        text = str(w.message).strip().split("\n")[0]
        notes.append(say("n.cox_warning", language, text=text))
    s = cph.summary
    return pd.DataFrame(
        {
            "covariate": list(s.index),
            "hazard_ratio": s["exp(coef)"].to_numpy(),
            "ci_low": s["exp(coef) lower 95%"].to_numpy(),
            "ci_high": s["exp(coef) upper 95%"].to_numpy(),
            "p_value": s["p"].to_numpy(),
            "n": int(frame["persons"].sum()),
            "events": int(frame.loc[frame["event"] == 1, "persons"].sum()),
        },
        columns=list(COX_COLUMNS),
    )

