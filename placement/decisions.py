"""Decisions on proposals and the dwellings they hold (allocations), per municipality.

A dwelling can be held (approved or locked) for at most one household of a municipality, and a
household holds at most one dwelling, across every version of the municipality's data: an
updated ``households.csv`` makes a new dataset, but the approvals made on the earlier one still
hold. Partial unique indexes on ``allocations`` (municipality, dwelling) and (municipality,
household) enforce this in the database, so two people deciding at the same moment on two
connections cannot double-book: the second gets :class:`DecisionConflictError` naming who holds
the dwelling.

Decisions are never changed or deleted (the database refuses it): a change of mind is a new
decision. ``undo`` (or :func:`release`, for a household that is no longer in the data) is the
explicit, logged decision that releases an allocation; nothing else does.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Literal

import pandas as pd
from sqlalchemy import Engine, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from placement import auth
from placement._store_common import (
    StoreError,
    _audit,
    _reading,
    _transaction,
    check_texts,
)
from placement.db import (
    ACTIONS,
    HOLDING_ACTIONS,
    Allocation,
    Dataset,
    DatasetDwelling,
    Decision,
    Proposal,
    Run,
    as_utc,
    utcnow,
    write_session,
)

logger = logging.getLogger(__name__)

Action = Literal["approve", "reject", "lock", "undo"]


class DecisionError(StoreError):
    """A decision cannot be recorded (unknown run or household, nothing to undo...)."""


class DecisionConflictError(DecisionError):
    """The dwelling (or the household) is already held by another decision.

    Attributes
    ----------
    dwelling_id : str
        Dwelling that was asked for.
    household_id : str
        Household the decision was for.
    holder_household_id, holder_dwelling_id : str
        The allocation that is in the way.
    decided_by : str
        Who made the decision that holds it.
    decided_at : datetime
        When (UTC).
    """

    def __init__(
        self,
        message: str,
        *,
        dwelling_id: str,
        household_id: str,
        holder_household_id: str,
        holder_dwelling_id: str,
        decided_by: str,
        decided_at: datetime,
    ) -> None:
        super().__init__(message)
        self.dwelling_id = dwelling_id
        self.household_id = household_id
        self.holder_household_id = holder_household_id
        self.holder_dwelling_id = holder_dwelling_id
        self.decided_by = decided_by
        self.decided_at = decided_at


# --- Helpers ---------------------------------------------------------------------------------


def municipality_of(bind: Engine | Session, dataset_id: int) -> str:
    """Return the municipality key of a registered dataset (its code, else its name).

    Raises
    ------
    DecisionError
        No dataset with this id.
    """
    with _reading(bind) as session:
        return _municipality_in(session, dataset_id)


def _municipality_in(session: Session, dataset_id: int) -> str:
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        msg = f"no dataset with id {dataset_id} in the database"
        raise DecisionError(msg)
    return dataset.municipality or dataset.name


def _municipality_datasets(session: Session, municipality: str) -> list[int]:
    return list(
        session.scalars(
            select(Dataset.id).where(
                or_(
                    Dataset.municipality == municipality,
                    (Dataset.municipality.is_(None)) & (Dataset.name == municipality),
                )
            )
        )
    )


def _active_for(
    session: Session,
    municipality: str,
    *,
    dwelling_id: str | None = None,
    household_id: str | None = None,
) -> tuple[Allocation, Decision] | None:
    query = (
        select(Allocation, Decision)
        .join(Decision, Allocation.decision_id == Decision.id)
        .where(Allocation.municipality == municipality, Allocation.active.is_(True))
    )
    if dwelling_id is not None:
        query = query.where(Allocation.dwelling_id == dwelling_id)
    if household_id is not None:
        query = query.where(Allocation.household_id == household_id)
    row = session.execute(query).first()
    return None if row is None else (row[0], row[1])


def _conflict(
    allocation: Allocation, decision: Decision, *, household_id: str, dwelling_id: str
) -> DecisionConflictError:
    when = as_utc(decision.decided_at)
    stamp = when.strftime("%Y-%m-%d %H:%M:%S UTC") if when else "an unknown time"
    verb = "approved" if allocation.action == "approve" else "locked"
    if allocation.dwelling_id == dwelling_id:
        msg = (
            f"Dwelling {dwelling_id} is already {verb} for household {allocation.household_id} "
            f"by {decision.decided_by} at {stamp} (decision {decision.id}); it was not booked "
            f"for household {household_id}. Undo that decision first if it should change."
        )
    else:
        msg = (
            f"Household {household_id} already holds dwelling {allocation.dwelling_id}, "
            f"{verb} by {decision.decided_by} at {stamp} (decision {decision.id}); "
            f"dwelling {dwelling_id} was not booked. Undo that decision first."
        )
    return DecisionConflictError(
        msg,
        dwelling_id=dwelling_id,
        household_id=household_id,
        holder_household_id=allocation.household_id,
        holder_dwelling_id=allocation.dwelling_id,
        decided_by=decision.decided_by,
        decided_at=when or utcnow(),
    )


def _release(session: Session, allocation: Allocation, decision: Decision) -> None:
    allocation.active = False
    allocation.released_by_decision_id = decision.id
    allocation.released_at = decision.decided_at
    session.flush()


def _is_known_dwelling(session: Session, dataset_id: int, dwelling_id: str) -> bool:
    """Whether ``dwelling_id`` is a dwelling of the dataset.

    The dataset's dwelling ids are recorded when it is registered with them
    (:func:`placement.store.register_dataset`); for a dataset registered without them, the
    dwellings its runs proposed are the ones known.
    """
    recorded = session.scalars(
        select(DatasetDwelling.dwelling_id).where(DatasetDwelling.dataset_id == dataset_id).limit(1)
    ).first()
    if recorded is not None:
        return (
            session.scalars(
                select(DatasetDwelling.id).where(
                    DatasetDwelling.dataset_id == dataset_id,
                    DatasetDwelling.dwelling_id == dwelling_id,
                )
            ).first()
            is not None
        )
    return (
        session.scalars(
            select(Proposal.id)
            .join(Run, Run.id == Proposal.run_id)
            .where(Run.dataset_id == dataset_id, Proposal.dwelling_id == dwelling_id)
            .limit(1)
        ).first()
        is not None
    )


def _record(
    session: Session,
    *,
    dataset_id: int,
    municipality: str,
    run_id: int | None,
    household_id: str,
    dwelling_id: str | None,
    action: str,
    user: str,
    reason: str,
    held_by_household: tuple[Allocation, Decision] | None,
) -> int:
    decision = Decision(
        dataset_id=dataset_id,
        run_id=run_id,
        household_id=household_id,
        dwelling_id=dwelling_id,
        action=action,
        decided_by=user,
        decided_at=utcnow(),
        reason=reason,
    )
    session.add(decision)
    session.flush()
    released = None
    if held_by_household is not None and (
        action in HOLDING_ACTIONS
        or action == "undo"
        or (action == "reject" and held_by_household[0].dwelling_id == dwelling_id)
    ):
        released = held_by_household[0].id
        _release(session, held_by_household[0], decision)
    if action in HOLDING_ACTIONS and dwelling_id is not None:
        session.add(
            Allocation(
                dataset_id=dataset_id,
                municipality=municipality,
                household_id=household_id,
                dwelling_id=dwelling_id,
                action=action,
                decision_id=decision.id,
                active=True,
            )
        )
        session.flush()
    _audit(
        session,
        user=user,
        action=f"decision.{action}",
        entity="decision",
        entity_id=decision.id,
        details={
            "dataset_id": dataset_id,
            "municipality": municipality,
            "run_id": run_id,
            "household_id": household_id,
            "dwelling_id": dwelling_id,
            "reason": reason,
            "released_allocation_id": released,
        },
    )
    return decision.id


def _stands_rejected(session: Session, municipality: str, household_id: str,
                     dwelling_id: str) -> bool:
    """Tell whether the latest decision on this pair in the municipality is a rejection."""
    last = session.scalars(
        select(Decision.action)
        .where(Decision.dataset_id.in_(_municipality_datasets(session, municipality)),
               Decision.household_id == household_id, Decision.dwelling_id == dwelling_id)
        .order_by(Decision.id.desc())
    ).first()
    return last == "reject"


def _decide_in(
    session: Session,
    *,
    run_id: int,
    household_id: str,
    dwelling_id: str | None,
    action: str,
    user: str,
    reason: str,
) -> int:
    run = session.get(Run, run_id)
    if run is None:
        msg = f"no run with id {run_id} in the database"
        raise DecisionError(msg)
    dataset_id = run.dataset_id
    municipality = _municipality_in(session, dataset_id)
    proposed = session.scalars(
        select(Proposal).where(Proposal.run_id == run_id, Proposal.household_id == household_id)
    ).first()
    if proposed is None:
        msg = f"household {household_id} is not in run {run_id}"
        raise DecisionError(msg)
    if dwelling_id is None and action != "undo":
        dwelling_id = proposed.dwelling_id
        if dwelling_id is None:
            msg = (
                f"run {run_id} proposes no dwelling for household {household_id}: "
                "name the dwelling to decide on"
            )
            raise DecisionError(msg)
    if (
        action != "undo"
        and dwelling_id is not None
        and dwelling_id != proposed.dwelling_id
        and not _is_known_dwelling(session, dataset_id, dwelling_id)
    ):
        msg = (
            f"dwelling {dwelling_id} is not a dwelling of the data of run {run_id} "
            f"(dataset {dataset_id}): check the id; nothing was recorded"
        )
        raise DecisionError(msg)

    held_by_household = _active_for(session, municipality, household_id=household_id)
    if action in HOLDING_ACTIONS and dwelling_id is not None:
        held_dwelling = _active_for(session, municipality, dwelling_id=dwelling_id)
        if held_dwelling is not None and held_dwelling[0].household_id != household_id:
            raise _conflict(*held_dwelling, household_id=household_id, dwelling_id=dwelling_id)
        if held_by_household is not None and held_by_household[0].dwelling_id != dwelling_id:
            raise _conflict(*held_by_household, household_id=household_id, dwelling_id=dwelling_id)
    elif action == "undo":
        if held_by_household is None or (
            dwelling_id is not None and held_by_household[0].dwelling_id != dwelling_id
        ):
            # nothing held: an undo takes back a rejection that still stands (the pair may
            # then be proposed again)
            target = dwelling_id if dwelling_id is not None else proposed.dwelling_id
            if target is None or not _stands_rejected(session, municipality, household_id,
                                                      target):
                what = f"dwelling {dwelling_id}" if dwelling_id else "any dwelling"
                msg = (f"nothing to undo: household {household_id} holds {what} in no "
                       "decision and has no standing rejection")
                raise DecisionError(msg)
            return _record(session, dataset_id=dataset_id, municipality=municipality,
                           run_id=run_id, household_id=household_id, dwelling_id=target,
                           action="undo", user=user, reason=reason, held_by_household=None)
        dwelling_id = held_by_household[0].dwelling_id
    return _record(
        session,
        dataset_id=dataset_id,
        municipality=municipality,
        run_id=run_id,
        household_id=household_id,
        dwelling_id=dwelling_id,
        action=action,
        user=user,
        reason=reason,
        held_by_household=held_by_household,
    )


def _checked_user(user: str) -> str:
    if not user or not user.strip():
        msg = "a decision needs the name of the person who makes it (user)"
        raise DecisionError(msg)
    return user.strip()


# --- Writing decisions -----------------------------------------------------------------------


def decide(
    bind: Engine | Session,
    *,
    run_id: int,
    household_id: str,
    dwelling_id: str | None,
    action: Action,
    user: str,
    reason: str = "",
) -> int:
    """Record a decision on a run's proposal, refusing any double booking.

    ``approve`` and ``lock`` hold the dwelling for the household (lock: later runs must keep
    it); ``reject`` records that the proposal is turned down (and releases it if this household
    held that dwelling); ``undo`` releases the household's dwelling or, when it holds none, takes
    back a rejection of the pair that still stands. What a decision holds, it
    holds for the municipality, on every later version of its data, until an ``undo``.

    On SQLite the transaction starts with ``BEGIN IMMEDIATE`` so concurrent deciders queue;
    on every database a partial unique index makes a second active allocation of the same
    dwelling (or household) impossible, whichever connection gets there second.

    Parameters
    ----------
    bind
        Engine (commits) or open session.
    run_id
        Run whose proposal is decided on.
    household_id
        Household of the proposal (must be in the run).
    dwelling_id
        Dwelling decided on; ``None`` for the dwelling the run proposes (for ``undo``: whatever
        the household holds). Another dwelling must be a dwelling of the run's dataset.
    action : {"approve", "reject", "lock", "undo"}
        What is decided.
    user
        Who decides (recorded with the time).
    reason
        Why; shown in the decision history. A CPR-shaped value in it is refused.

    Returns
    -------
    int
        ``decision_id``.

    Raises
    ------
    DecisionConflictError
        The dwelling is held for another household, or the household holds another dwelling;
        the message names the holder, who decided it and when. Nothing is written.
    DecisionError
        Unknown run, household or dwelling, no dwelling to decide on, nothing to undo, or no
        user.
    CprInTextError
        The reason (or an id) holds a CPR-shaped value; nothing is written.
    """
    if action not in ACTIONS:
        msg = f"action must be one of {', '.join(ACTIONS)}, got {action!r}"
        raise DecisionError(msg)
    auth.require("decide", "decisions on proposals")
    kwargs = {
        "run_id": run_id,
        "household_id": str(household_id),
        "dwelling_id": None if dwelling_id is None else str(dwelling_id),
        "action": action,
        "user": _checked_user(user),
        "reason": reason or "",
    }
    check_texts(
        [
            ("reason", kwargs["reason"]),
            ("household_id", kwargs["household_id"]),
            ("dwelling_id", kwargs["dwelling_id"] or ""),
        ]
    )
    if isinstance(bind, Session):
        return _decide_in(bind, **kwargs)
    try:
        with write_session(bind) as session:
            decision_id = _decide_in(session, **kwargs)
    except IntegrityError as err:
        # Another connection committed an allocation between our check and our insert (seen
        # on databases where writers do not queue): report who holds it.
        conflict = _conflict_after_race(bind, run_id=run_id, **_pick(kwargs))
        if conflict is None:
            raise
        raise conflict from err
    logger.info(
        "decision %d: %s household %s dwelling %s by %s",
        decision_id,
        action,
        household_id,
        kwargs["dwelling_id"],
        kwargs["user"],
    )
    return decision_id


def release(
    bind: Engine | Session,
    *,
    dataset_id: int,
    household_id: str,
    user: str,
    reason: str,
) -> int:
    """Release what a household holds in the municipality of a dataset: an ``undo`` decision.

    For a household that no longer appears in any run (it left the data, or the dwelling did):
    :func:`decide` needs the household in a run, this does not.

    Parameters
    ----------
    bind
        Engine (commits) or open session.
    dataset_id
        A dataset of the municipality (the decision is recorded on it).
    household_id
        The household whose allocation is released.
    user
        Who decides.
    reason
        Why (required: a release is a decision that others will read).

    Returns
    -------
    int
        ``decision_id`` of the ``undo``.

    Raises
    ------
    DecisionError
        No reason, no user, unknown dataset, or the household holds nothing.
    """
    auth.require("decide", "decisions on proposals")
    user = _checked_user(user)
    if not reason or not reason.strip():
        msg = "a release needs a reason (it is a decision others will read)"
        raise DecisionError(msg)
    household_id = str(household_id)
    check_texts([("reason", reason), ("household_id", household_id)])
    with _transaction(bind) as session:
        municipality = _municipality_in(session, dataset_id)
        held = _active_for(session, municipality, household_id=household_id)
        if held is None:
            msg = f"nothing to release: household {household_id} holds no dwelling"
            raise DecisionError(msg)
        return _record(
            session,
            dataset_id=dataset_id,
            municipality=municipality,
            run_id=None,
            household_id=household_id,
            dwelling_id=held[0].dwelling_id,
            action="undo",
            user=user,
            reason=reason.strip(),
            held_by_household=held,
        )


def _pick(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {"household_id": kwargs["household_id"], "dwelling_id": kwargs["dwelling_id"]}


def _conflict_after_race(
    engine: Engine, *, run_id: int, household_id: str, dwelling_id: str | None
) -> DecisionConflictError | None:
    with Session(engine) as session:
        run = session.get(Run, run_id)
        if run is None:
            return None
        municipality = _municipality_in(session, run.dataset_id)
        if dwelling_id is None:
            proposed = session.scalars(
                select(Proposal.dwelling_id).where(
                    Proposal.run_id == run_id, Proposal.household_id == household_id
                )
            ).first()
            dwelling_id = proposed
        if dwelling_id is None:
            return None
        for holder in (
            _active_for(session, municipality, dwelling_id=dwelling_id),
            _active_for(session, municipality, household_id=household_id),
        ):
            if holder is not None:
                return _conflict(*holder, household_id=household_id, dwelling_id=dwelling_id)
    return None


# --- Reading decisions -----------------------------------------------------------------------


def decisions_for(bind: Engine | Session, dataset_id: int) -> pd.DataFrame:
    """Return every decision on the municipality of a dataset (all its versions), oldest first.

    Returns
    -------
    pandas.DataFrame
        ``decision_id``, ``run_id``, ``household_id``, ``dwelling_id``, ``action``,
        ``decided_by``, ``decided_at`` (UTC), ``reason``, ``holds`` (True while this decision's
        allocation is active), ``dataset_id`` (the version decided on).
    """
    columns = [
        "decision_id",
        "run_id",
        "household_id",
        "dwelling_id",
        "action",
        "decided_by",
        "decided_at",
        "reason",
        "holds",
        "dataset_id",
    ]
    auth.require("households", "the decisions on households")
    with _reading(bind) as session:
        datasets = _municipality_datasets(session, _municipality_in(session, dataset_id))
        rows = session.execute(
            select(
                Decision.id.label("decision_id"),
                Decision.run_id,
                Decision.household_id,
                Decision.dwelling_id,
                Decision.action,
                Decision.decided_by,
                Decision.decided_at,
                Decision.reason,
                Allocation.active,
                Decision.dataset_id,
            )
            .outerjoin(Allocation, Allocation.decision_id == Decision.id)
            .where(Decision.dataset_id.in_(datasets))
            .order_by(Decision.id)
        ).all()
    records = [(*r[:6], as_utc(r[6]), r[7], bool(r[8]), r[9]) for r in rows]
    frame = pd.DataFrame(records, columns=columns)
    frame["holds"] = frame["holds"].astype(bool)
    return frame


#: Status of a proposal in the export, by the action of the household's latest decision.
STATUS_BY_ACTION = {"approve": "approved", "lock": "locked", "reject": "rejected"}
#: Every value of the ``status`` column of :func:`proposal_status`.
STATUSES = ("proposed", "unplaced", "approved", "locked", "rejected")


def proposal_status(bind: Engine | Session, run_id: int) -> pd.DataFrame:
    """Return the decision status of every proposal of a run, for case handling.

    The status follows the household's latest decision on the proposed dwelling, on any version
    of the municipality's data: ``approved`` or ``locked`` while that decision still holds the
    dwelling, ``rejected`` after a reject of that dwelling, otherwise ``proposed`` (nothing
    decided, or undone) or ``unplaced`` (the run found no dwelling).

    Parameters
    ----------
    bind
        Engine or session.
    run_id
        Id from :func:`placement.store.save_run`.

    Returns
    -------
    pandas.DataFrame
        One row per household of the run, in saved order: ``household_id``, ``status`` (one of
        :data:`STATUSES`), ``decided_by`` (None unless approved, locked or rejected),
        ``decided_at`` (UTC, NaT likewise), ``decision_reason``.
    """
    auth.require("households", f"the decision status of the households of run {run_id}")
    with _reading(bind) as session:
        run = session.get(Run, run_id)
        if run is None:
            msg = f"no run with id {run_id} in the database"
            raise StoreError(msg)
        datasets = _municipality_datasets(session, _municipality_in(session, run.dataset_id))
        proposals = session.execute(
            select(Proposal.household_id, Proposal.dwelling_id)
            .where(Proposal.run_id == run_id)
            .order_by(Proposal.id)
        ).all()
        decisions = session.execute(
            select(
                Decision.household_id,
                Decision.dwelling_id,
                Decision.action,
                Decision.decided_by,
                Decision.decided_at,
                Decision.reason,
                Allocation.active,
            )
            .outerjoin(Allocation, Allocation.decision_id == Decision.id)
            .where(Decision.dataset_id.in_(datasets))
            .order_by(Decision.id)
        ).all()
    latest = {(row.household_id, row.dwelling_id): row for row in decisions}
    records = []
    for household_id, dwelling_id in proposals:
        status = "unplaced" if dwelling_id is None else "proposed"
        by = at = why = None
        last = latest.get((household_id, dwelling_id))
        if last is not None and last.action in STATUS_BY_ACTION:
            holds = last.action == "reject" or bool(last.active)
            if holds:
                status = STATUS_BY_ACTION[last.action]
                by, at, why = last.decided_by, as_utc(last.decided_at), last.reason
        records.append((household_id, status, by, at, why))
    frame = pd.DataFrame(
        records, columns=["household_id", "status", "decided_by", "decided_at", "decision_reason"]
    )
    frame["decided_at"] = pd.to_datetime(frame["decided_at"], utc=True)
    return frame


def active_allocations(bind: Engine | Session, dataset_id: int) -> pd.DataFrame:
    """Return the dwellings currently held in the municipality of a dataset (approved, locked).

    Allocations made on any version of the municipality's data are returned: they hold until
    an ``undo``.

    Returns
    -------
    pandas.DataFrame
        ``household_id``, ``dwelling_id``, ``action`` ("approve" or "lock"), ``decision_id``,
        ``decided_by``, ``decided_at`` (UTC), ``dataset_id`` (the version decided on), sorted by
        household.
    """
    auth.require("households", "the dwellings held for households")
    with _reading(bind) as session:
        municipality = _municipality_in(session, dataset_id)
        rows = session.execute(
            select(
                Allocation.household_id,
                Allocation.dwelling_id,
                Allocation.action,
                Allocation.decision_id,
                Decision.decided_by,
                Decision.decided_at,
                Allocation.dataset_id,
            )
            .join(Decision, Allocation.decision_id == Decision.id)
            .where(Allocation.municipality == municipality, Allocation.active.is_(True))
            .order_by(Allocation.household_id)
        ).all()
    columns = [
        "household_id",
        "dwelling_id",
        "action",
        "decision_id",
        "decided_by",
        "decided_at",
        "dataset_id",
    ]
    return pd.DataFrame([(*r[:5], as_utc(r[5]), r[6]) for r in rows], columns=columns)
