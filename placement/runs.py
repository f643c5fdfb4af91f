"""Optimisation runs: store a run and its proposals in one transaction, load and list them.

A run's proposals are household-level rows: :func:`load_run` refuses them while a user without
the ``households`` permission is acting (:func:`placement.auth.acting_as`); :func:`run_summary`
is for everyone.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from placement._store_common import (
    StoreError,
    _audit,
    _float_or_none,
    _reading,
    _str_or_none,
    _transaction,
    default_user,
    to_jsonable,
)
from placement.db import Proposal, Run, as_utc, utcnow

logger = logging.getLogger(__name__)

#: Columns of a proposals frame that are stored in their own column, not as score terms.
PROPOSAL_FIXED = ("household_id", "dwelling_id", "score", "unplaced_reason")
#: Numeric columns of the optimiser's assignments that are not score terms (not stored).
NOT_TERMS = ("area_id", "persons", "locked", "kept", "run_id")
#: Keys of a run summary.
SUMMARY_KEYS = ("status", "objective", "bound", "gap", "build_s", "solve_s")

# --- Runs ------------------------------------------------------------------------------------


def _proposal_rows(run_id: int, proposals: pd.DataFrame, terms: list[str]) -> list[dict[str, Any]]:
    n = len(proposals)
    household = proposals["household_id"].tolist()
    dwelling = proposals["dwelling_id"].tolist()
    score = proposals["score"].tolist() if "score" in proposals else [None] * n
    reason = proposals["unplaced_reason"].tolist() if "unplaced_reason" in proposals else [None] * n
    term_values = {t: proposals[t].tolist() for t in terms}
    return [
        {
            "run_id": run_id,
            "household_id": _str_or_none(household[i]),
            "dwelling_id": _str_or_none(dwelling[i]),
            "score": _float_or_none(score[i]),
            "terms": {t: to_jsonable(term_values[t][i]) for t in terms},
            "unplaced_reason": _str_or_none(reason[i]),
        }
        for i in range(n)
    ]


def proposal_terms(proposals: pd.DataFrame, terms: Sequence[str] | None = None) -> list[str]:
    """Return the score-term columns of a proposals frame.

    Parameters
    ----------
    proposals
        Frame from the optimiser (see :func:`save_run`).
    terms
        Term columns to use, in this order (e.g. ``placement.score.PAIR_TERMS``); ``None`` for
        every numeric, non-boolean column not in :data:`PROPOSAL_FIXED` or :data:`NOT_TERMS`,
        in frame order.

    Returns
    -------
    list of str
        Column names.

    Raises
    ------
    StoreError
        A named term is not a column, or is one of the fixed columns.
    """
    if terms is None:
        return [
            str(c)
            for c in proposals.columns
            if c not in PROPOSAL_FIXED
            and c not in NOT_TERMS
            and pd.api.types.is_numeric_dtype(proposals[c])
            and not pd.api.types.is_bool_dtype(proposals[c])
        ]
    chosen = [str(t) for t in terms]
    bad = [t for t in chosen if t not in proposals.columns or t in PROPOSAL_FIXED]
    if bad:
        msg = (
            f"term column(s) {', '.join(bad)} are not score terms of the proposals frame "
            f"(columns: {', '.join(map(str, proposals.columns))}): nothing was written"
        )
        raise StoreError(msg)
    return chosen


def _check_proposals(proposals: pd.DataFrame) -> None:
    missing = [c for c in ("household_id", "dwelling_id") if c not in proposals.columns]
    if missing:
        msg = f"proposals frame lacks column(s) {', '.join(missing)}: nothing was written"
        raise StoreError(msg)
    households = proposals["household_id"]
    if households.isna().any():
        rows = ", ".join(str(int(i) + 2) for i in np.flatnonzero(households.isna().to_numpy())[:10])
        msg = f"proposals row(s) {rows} (header is row 1) have no household_id: nothing was written"
        raise StoreError(msg)
    duplicated = sorted(set(households[households.astype(str).duplicated()].astype(str)))
    if duplicated:
        msg = (
            f"household(s) {', '.join(duplicated[:10])} appear more than once in the proposals: "
            "nothing was written"
        )
        raise StoreError(msg)


def save_run(
    bind: Engine | Session,
    dataset_id: int,
    scenario_id: int | None = None,
    *,
    summary: Mapping[str, Any],
    proposals: pd.DataFrame,
    policy: Mapping[str, Any] | Any,
    parameters: Mapping[str, Any] | None = None,
    terms: Sequence[str] | None = None,
    user: str | None = None,
) -> int:
    """Store a run and its proposals in ONE transaction; on any error nothing is written.

    Parameters
    ----------
    bind
        Engine (commits) or open session (the caller's transaction decides).
    dataset_id
        Dataset from :func:`register_dataset`.
    scenario_id
        Scenario from :func:`save_scenario`, or ``None`` for the base policy.
    summary
        Solver outcome: ``status`` (str, required, e.g. ``"optimal"``), and optionally
        ``objective``, ``bound``, ``gap`` (relative), ``build_s`` and ``solve_s`` (seconds);
        missing or NaN values are stored empty. The whole summary is also kept as JSON.
    proposals
        One row per household as the optimiser returns it: ``household_id``, ``dwelling_id``
        (NA when unplaced), ``score``, one column per score term and ``unplaced_reason``.
    policy
        Policy as a dict or a dataclass, stored as JSON.
    parameters
        Solver and run options (time limit, gap, seed...), stored as JSON.
    terms
        Score-term columns; ``None`` for every other numeric column (see
        :func:`proposal_terms`). Other extra columns are not stored.
    user
        Who ran it; default :func:`default_user`.

    Returns
    -------
    int
        ``run_id``.

    Raises
    ------
    StoreError
        Missing columns, a household without id or listed twice, no status, or the database
        refused a row; the transaction is rolled back and nothing is written.
    """
    _check_proposals(proposals)
    if not summary.get("status"):
        msg = "summary needs a 'status' (e.g. 'optimal'): nothing was written"
        raise StoreError(msg)
    from placement import __version__

    term_columns = proposal_terms(proposals, terms)
    user = user or default_user()
    n_placed = int(proposals["dwelling_id"].notna().sum())
    try:
        with _transaction(bind) as session:
            run = Run(
                dataset_id=dataset_id,
                scenario_id=scenario_id,
                policy=to_jsonable(policy),
                parameters=to_jsonable(dict(parameters or {})),
                status=str(summary["status"]),
                objective=_float_or_none(summary.get("objective")),
                bound=_float_or_none(summary.get("bound")),
                gap=_float_or_none(summary.get("gap")),
                build_s=_float_or_none(summary.get("build_s")),
                solve_s=_float_or_none(summary.get("solve_s")),
                term_columns=term_columns,
                summary=to_jsonable(dict(summary)),
                n_households=len(proposals),
                n_placed=n_placed,
                package_version=__version__,
                created_at=utcnow(),
                created_by=user,
            )
            session.add(run)
            session.flush()
            rows = _proposal_rows(run.id, proposals, term_columns)
            if rows:
                session.execute(insert(Proposal), rows)
            _audit(
                session,
                user=user,
                action="run.save",
                entity="run",
                entity_id=run.id,
                details={
                    "dataset_id": dataset_id,
                    "scenario_id": scenario_id,
                    "status": run.status,
                    "objective": run.objective,
                    "n_households": run.n_households,
                    "n_placed": n_placed,
                },
            )
            run_id = run.id
    except IntegrityError as err:
        msg = f"run not saved, nothing was written: the database refused a row ({err.orig})"
        raise StoreError(msg) from err
    logger.info("saved run %d: %d proposals, %d placed", run_id, len(proposals), n_placed)
    return run_id


def run_summary(bind: Engine | Session, run_id: int) -> dict[str, Any]:
    """Return a stored run's summary without its household-level proposals.

    For a user without the ``households`` permission (:func:`placement.auth.acting_as`), the
    summary's ``decision_notes`` (which name households) are left out.

    Returns
    -------
    dict
        As the first item of :func:`load_run`.
    """
    from placement import auth

    with _reading(bind) as session:
        run = session.get(Run, run_id)
        if run is None:
            msg = f"no run with id {run_id} in the database"
            raise StoreError(msg)
        summary = _summary_of(run)
    if not auth.may("households") and isinstance(summary["summary"], dict):
        summary["summary"] = {
            k: v for k, v in summary["summary"].items() if k != "decision_notes"
        }
    return summary


def _summary_of(run: Run) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "dataset_id": run.dataset_id,
        "scenario_id": run.scenario_id,
        "policy": run.policy,
        "parameters": run.parameters,
        "status": run.status,
        "objective": run.objective,
        "bound": run.bound,
        "gap": run.gap,
        "build_s": run.build_s,
        "solve_s": run.solve_s,
        "terms": list(run.term_columns),
        "summary": run.summary,
        "n_households": run.n_households,
        "n_placed": run.n_placed,
        "package_version": run.package_version,
        "created_at": as_utc(run.created_at),
        "created_by": run.created_by,
    }


def load_run(bind: Engine | Session, run_id: int) -> tuple[dict[str, Any], pd.DataFrame]:
    """Load a stored run with its household-level proposals.

    Refused (:class:`placement.auth.PermissionDeniedError`) while a user without the
    ``households`` permission is acting; :func:`run_summary` is for everyone.

    Parameters
    ----------
    bind
        Engine or session.
    run_id
        Id from :func:`save_run`.

    Returns
    -------
    summary : dict
        ``run_id``, ``dataset_id``, ``scenario_id``, ``policy``, ``parameters``, ``status``,
        ``objective``, ``bound``, ``gap``, ``build_s``, ``solve_s``, ``terms`` (list),
        ``summary`` (the whole solver summary), ``n_households``, ``n_placed``,
        ``package_version``, ``created_at`` (UTC), ``created_by``.
    proposals : pandas.DataFrame
        ``household_id``, ``dwelling_id`` (None when unplaced), ``score``, the term columns in
        their saved order, ``unplaced_reason``; rows in saved order.
    """
    from placement import auth

    auth.require("households", f"the household-level proposals of run {run_id}")
    with _reading(bind) as session:
        run = session.get(Run, run_id)
        if run is None:
            msg = f"no run with id {run_id} in the database"
            raise StoreError(msg)
        summary = _summary_of(run)
        terms = list(run.term_columns)
        rows = session.execute(
            select(
                Proposal.household_id,
                Proposal.dwelling_id,
                Proposal.score,
                Proposal.terms,
                Proposal.unplaced_reason,
            )
            .where(Proposal.run_id == run_id)
            .order_by(Proposal.id)
        ).all()
    columns = ["household_id", "dwelling_id", "score", *terms, "unplaced_reason"]
    data: dict[str, list[Any]] = {c: [] for c in columns}
    for household_id, dwelling_id, score, term_values, reason in rows:
        data["household_id"].append(household_id)
        data["dwelling_id"].append(dwelling_id)
        data["score"].append(np.nan if score is None else score)
        for t in terms:
            value = term_values.get(t)
            data[t].append(np.nan if value is None else value)
        data["unplaced_reason"].append(reason)
    frame = pd.DataFrame(data, columns=columns)
    frame["score"] = frame["score"].astype("float64")
    frame["dwelling_id"] = frame["dwelling_id"].astype(object)
    return summary, frame


def list_runs(bind: Engine | Session, dataset_id: int | None = None) -> pd.DataFrame:
    """Return one row per stored run (newest last): ids, status, objective, gap, who, when."""
    query = select(
        Run.id.label("run_id"),
        Run.dataset_id,
        Run.scenario_id,
        Run.status,
        Run.objective,
        Run.bound,
        Run.gap,
        Run.n_households,
        Run.n_placed,
        Run.created_by,
        Run.created_at,
    ).order_by(Run.id)
    if dataset_id is not None:
        query = query.where(Run.dataset_id == dataset_id)
    with _reading(bind) as session:
        rows = [r._asdict() for r in session.execute(query).all()]
    for row in rows:
        row["created_at"] = as_utc(row["created_at"])
    columns = [c.name for c in query.selected_columns]
    return pd.DataFrame(rows, columns=columns)
