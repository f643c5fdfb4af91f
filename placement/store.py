"""Repository functions: register datasets, save scenarios and runs, record decisions.

Every function that writes does so in one transaction (:func:`placement.db.write_session`) and
appends a row to the audit log in the same transaction: a write that fails leaves nothing
behind, and every row that is written has its audit entry. Each function takes an ``Engine``
(opened with :func:`placement.db.open_engine`) and commits, or an open ``Session``, in which case
the caller's transaction decides.

Decisions: a dwelling can be held (approved or locked) for at most one household per dataset,
and a household holds at most one dwelling. Partial unique indexes on ``allocations`` enforce
this in the database, so two people deciding at the same moment on two connections cannot
double-book: the second gets :class:`DecisionConflictError` naming who holds the dwelling.
"""

from __future__ import annotations

import dataclasses
import getpass
import hashlib
import logging
import math
import os
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from placement._errors import DataError, PlacementError
from placement.db import (
    ACTIONS,
    HOLDING_ACTIONS,
    Allocation,
    AuditLog,
    Dataset,
    DatasetFile,
    Decision,
    Proposal,
    ResidenceHistory,
    Run,
    Scenario,
    as_utc,
    utcnow,
    write_session,
)

logger = logging.getLogger(__name__)

MANIFEST = "dataset.toml"
#: Environment variable naming the person recorded in the audit log (default: login name).
USER_ENV_VAR = "PLACEMENT_USER"
#: Columns of a proposals frame that are stored in their own column, not as score terms.
PROPOSAL_FIXED = ("household_id", "dwelling_id", "score", "unplaced_reason")
#: Numeric columns of the optimiser's assignments that are not score terms (not stored).
NOT_TERMS = ("area_id", "persons", "locked", "kept", "run_id")
#: Keys of a run summary.
SUMMARY_KEYS = ("status", "objective", "bound", "gap", "build_s", "solve_s")
HISTORY_COLUMNS = (
    "person_id",
    "household_id",
    "placement_date",
    "dwelling_id",
    "area_id",
    "integration_end",
    "moved_out_date",
    "destination",
    "household_type",
    "persons",
)
HISTORY_DATES = ("placement_date", "integration_end", "moved_out_date")
_HASH_CHUNK = 1 << 20

Action = Literal["approve", "reject", "lock", "undo"]


class StoreError(PlacementError):
    """A write was refused or failed; nothing was written."""


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


def default_user() -> str:
    """Return the person to record: ``$PLACEMENT_USER``, else the login name, else "unknown"."""
    user = os.environ.get(USER_ENV_VAR)
    if user:
        return user
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (e.g. a container without a passwd entry)
        return "unknown"


@contextmanager
def _transaction(bind: Engine | Session) -> Iterator[Session]:
    if isinstance(bind, Session):
        yield bind
        return
    with write_session(bind) as session:
        yield session


@contextmanager
def _reading(bind: Engine | Session) -> Iterator[Session]:
    if isinstance(bind, Session):
        yield bind
        return
    with Session(bind) as session:
        yield session


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def to_jsonable(value: Any) -> Any:
    """Convert ``value`` to plain JSON types (NaN becomes ``None``; Paths and dates strings).

    Parameters
    ----------
    value
        Dicts, lists, tuples, sets, dataclasses, numpy scalars and arrays, paths, dates.

    Returns
    -------
    Any
        ``None``, bool, int, float (finite), str, list or dict with str keys.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return [to_jsonable(v) for v in sorted(value, key=str)]
    if isinstance(value, list | tuple | np.ndarray):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if _missing(value):
        return None
    if isinstance(value, float) and math.isinf(value):
        return None
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return str(value)


def _float_or_none(value: Any) -> float | None:
    if _missing(value):
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _str_or_none(value: Any) -> str | None:
    return None if _missing(value) else str(value)


def _audit(
    session: Session,
    *,
    user: str,
    action: str,
    entity: str,
    entity_id: object,
    details: Mapping[str, Any] | None = None,
) -> None:
    session.add(
        AuditLog(
            at=utcnow(),
            user=user,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            details=to_jsonable(dict(details or {})),
        )
    )


# --- Datasets --------------------------------------------------------------------------------


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _manifest_files(folder: Path) -> tuple[str, list[tuple[str, Path]]]:
    """Return the dataset name and (label, path) of the manifest and every file it names."""
    manifest = folder / MANIFEST
    try:
        content = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise DataError.single(MANIFEST, f"not valid TOML: {err}") from err
    name = str(content.get("municipality", {}).get("name") or folder.name)
    files: dict[str, Path] = {MANIFEST: manifest}
    problems = []
    for section, table in content.items():
        if not isinstance(table, dict):
            continue
        for key, value in table.items():
            if key != "file" and not key.endswith("_file"):
                continue
            path = Path(str(value))
            full = path if path.is_absolute() else folder / path
            if not full.is_file():
                problems.append(
                    DataError.single(
                        MANIFEST,
                        f"[{section}] {key} = {str(value)!r}: no such file in {folder}",
                        column=f"{section}.{key}",
                    ).problems[0]
                )
                continue
            try:
                label = full.resolve().relative_to(folder.resolve()).as_posix()
            except ValueError:
                label = str(full.resolve())
            files[label] = full
    if problems:
        raise DataError(problems)
    return name, sorted(files.items())


def hash_dataset(dataset_dir: str | Path) -> tuple[str, str, pd.DataFrame]:
    """Hash the files of a dataset folder with SHA-256.

    With a ``dataset.toml`` manifest, the manifest and every file it names (keys ``file`` and
    ``*_file``) are hashed; without one, every regular file under the folder.

    Parameters
    ----------
    dataset_dir
        Dataset folder.

    Returns
    -------
    name : str
        ``[municipality] name`` of the manifest, else the folder name.
    content_sha256 : str
        SHA-256 over the sorted ``path<TAB>sha256`` lines: changes when any file changes.
    files : pandas.DataFrame
        Columns ``path`` (relative to the folder, ``/``-separated), ``sha256``, ``size_bytes``,
        sorted by path.
    """
    folder = Path(dataset_dir)
    if not folder.is_dir():
        msg = f"{folder}: not a folder"
        raise DataError.single(str(folder), msg)
    if (folder / MANIFEST).is_file():
        name, labelled = _manifest_files(folder)
    else:
        name = folder.name
        labelled = sorted(
            (p.relative_to(folder).as_posix(), p) for p in folder.rglob("*") if p.is_file()
        )
    rows = [
        {"path": label, "sha256": _sha256_file(path), "size_bytes": path.stat().st_size}
        for label, path in labelled
    ]
    files = pd.DataFrame(rows, columns=["path", "sha256", "size_bytes"])
    listing = "".join(f"{r['path']}\t{r['sha256']}\n" for r in rows)
    return name, hashlib.sha256(listing.encode("utf-8")).hexdigest(), files


def register_dataset(
    bind: Engine | Session,
    dataset_dir: str | Path,
    *,
    name: str | None = None,
    user: str | None = None,
) -> int:
    """Record a dataset folder with the SHA-256 of its files; reuse the row if unchanged.

    Parameters
    ----------
    bind
        Engine (commits) or open session (the caller commits).
    dataset_dir
        Dataset folder (see :func:`hash_dataset` for which files are hashed).
    name
        Display name; default the manifest's municipality name or the folder name.
    user
        Who registers it; default :func:`default_user`.

    Returns
    -------
    int
        ``dataset_id``: the same id for the same file contents.
    """
    found_name, content_sha256, files = hash_dataset(dataset_dir)
    user = user or default_user()
    with _transaction(bind) as session:
        existing = session.scalars(
            select(Dataset.id).where(Dataset.content_sha256 == content_sha256).order_by(Dataset.id)
        ).first()
        if existing is not None:
            logger.info("dataset %s already registered as %d", dataset_dir, existing)
            return existing
        dataset = Dataset(
            name=name or found_name,
            source_path=str(Path(dataset_dir).resolve()),
            content_sha256=content_sha256,
            created_at=utcnow(),
            created_by=user,
        )
        session.add(dataset)
        session.flush()
        session.add_all(
            DatasetFile(
                dataset_id=dataset.id,
                path=row.path,
                sha256=row.sha256,
                size_bytes=int(row.size_bytes),
            )
            for row in files.itertuples(index=False)
        )
        _audit(
            session,
            user=user,
            action="dataset.register",
            entity="dataset",
            entity_id=dataset.id,
            details={
                "name": dataset.name,
                "source_path": dataset.source_path,
                "content_sha256": content_sha256,
                "files": files.to_dict(orient="records"),
            },
        )
        logger.info("registered dataset %s as %d (%d files)", dataset_dir, dataset.id, len(files))
        return dataset.id


def dataset_files(bind: Engine | Session, dataset_id: int) -> pd.DataFrame:
    """Return the recorded files of a dataset: ``path``, ``sha256``, ``size_bytes``."""
    with _reading(bind) as session:
        rows = session.execute(
            select(DatasetFile.path, DatasetFile.sha256, DatasetFile.size_bytes)
            .where(DatasetFile.dataset_id == dataset_id)
            .order_by(DatasetFile.path)
        ).all()
    return pd.DataFrame([r._asdict() for r in rows], columns=["path", "sha256", "size_bytes"])


# --- Scenarios -------------------------------------------------------------------------------


def save_scenario(
    bind: Engine | Session,
    *,
    name: str,
    definition: Mapping[str, Any],
    dataset_id: int | None = None,
    user: str | None = None,
) -> int:
    """Store a scenario definition.

    Parameters
    ----------
    bind
        Engine (commits) or open session.
    name
        Scenario name as planners know it.
    definition
        The scenario (policy overrides, what-if changes), converted with :func:`to_jsonable`.
    dataset_id
        Dataset the scenario is for, if any.
    user
        Who saves it; default :func:`default_user`.

    Returns
    -------
    int
        ``scenario_id``.
    """
    user = user or default_user()
    with _transaction(bind) as session:
        scenario = Scenario(
            name=name,
            dataset_id=dataset_id,
            definition=to_jsonable(dict(definition)),
            created_at=utcnow(),
            created_by=user,
        )
        session.add(scenario)
        session.flush()
        _audit(
            session,
            user=user,
            action="scenario.save",
            entity="scenario",
            entity_id=scenario.id,
            details={"name": name, "dataset_id": dataset_id},
        )
        return scenario.id


def load_scenario(bind: Engine | Session, scenario_id: int) -> dict[str, Any]:
    """Return a stored scenario: ``scenario_id``, ``name``, ``dataset_id``, ``definition``..."""
    with _reading(bind) as session:
        scenario = session.get(Scenario, scenario_id)
        if scenario is None:
            msg = f"no scenario with id {scenario_id} in the database"
            raise StoreError(msg)
        return {
            "scenario_id": scenario.id,
            "name": scenario.name,
            "dataset_id": scenario.dataset_id,
            "definition": scenario.definition,
            "created_at": as_utc(scenario.created_at),
            "created_by": scenario.created_by,
        }


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


def load_run(bind: Engine | Session, run_id: int) -> tuple[dict[str, Any], pd.DataFrame]:
    """Load a stored run.

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
    with _reading(bind) as session:
        run = session.get(Run, run_id)
        if run is None:
            msg = f"no run with id {run_id} in the database"
            raise StoreError(msg)
        summary: dict[str, Any] = {
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


# --- Decisions -------------------------------------------------------------------------------


def _active_for(
    session: Session,
    dataset_id: int,
    *,
    dwelling_id: str | None = None,
    household_id: str | None = None,
) -> tuple[Allocation, Decision] | None:
    query = (
        select(Allocation, Decision)
        .join(Decision, Allocation.decision_id == Decision.id)
        .where(Allocation.dataset_id == dataset_id, Allocation.active.is_(True))
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

    held_by_household = _active_for(session, dataset_id, household_id=household_id)
    if action in HOLDING_ACTIONS and dwelling_id is not None:
        held_dwelling = _active_for(session, dataset_id, dwelling_id=dwelling_id)
        if held_dwelling is not None and held_dwelling[0].household_id != household_id:
            raise _conflict(*held_dwelling, household_id=household_id, dwelling_id=dwelling_id)
        if held_by_household is not None and held_by_household[0].dwelling_id != dwelling_id:
            raise _conflict(*held_by_household, household_id=household_id, dwelling_id=dwelling_id)
    elif action == "undo":
        if held_by_household is None or (
            dwelling_id is not None and held_by_household[0].dwelling_id != dwelling_id
        ):
            what = f"dwelling {dwelling_id}" if dwelling_id else "any dwelling"
            msg = f"nothing to undo: household {household_id} holds {what} in no decision"
            raise DecisionError(msg)
        dwelling_id = held_by_household[0].dwelling_id

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
            "run_id": run_id,
            "household_id": household_id,
            "dwelling_id": dwelling_id,
            "reason": reason,
            "released_allocation_id": released,
        },
    )
    return decision.id


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
    held that dwelling); ``undo`` releases the household's dwelling.

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
        the household holds).
    action : {"approve", "reject", "lock", "undo"}
        What is decided.
    user
        Who decides (recorded with the time).
    reason
        Why; shown in the decision history.

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
        Unknown run or household, no dwelling to decide on, nothing to undo, or no user.
    """
    if action not in ACTIONS:
        msg = f"action must be one of {', '.join(ACTIONS)}, got {action!r}"
        raise DecisionError(msg)
    if not user or not user.strip():
        msg = "a decision needs the name of the person who makes it (user)"
        raise DecisionError(msg)
    kwargs = {
        "run_id": run_id,
        "household_id": str(household_id),
        "dwelling_id": None if dwelling_id is None else str(dwelling_id),
        "action": action,
        "user": user.strip(),
        "reason": reason or "",
    }
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


def _pick(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {"household_id": kwargs["household_id"], "dwelling_id": kwargs["dwelling_id"]}


def _conflict_after_race(
    engine: Engine, *, run_id: int, household_id: str, dwelling_id: str | None
) -> DecisionConflictError | None:
    with Session(engine) as session:
        run = session.get(Run, run_id)
        if run is None:
            return None
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
            _active_for(session, run.dataset_id, dwelling_id=dwelling_id),
            _active_for(session, run.dataset_id, household_id=household_id),
        ):
            if holder is not None:
                return _conflict(*holder, household_id=household_id, dwelling_id=dwelling_id)
    return None


def decisions_for(bind: Engine | Session, dataset_id: int) -> pd.DataFrame:
    """Return every decision on a dataset, oldest first.

    Returns
    -------
    pandas.DataFrame
        ``decision_id``, ``run_id``, ``household_id``, ``dwelling_id``, ``action``,
        ``decided_by``, ``decided_at`` (UTC), ``reason``, ``holds`` (True while this decision's
        allocation is active).
    """
    query = (
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
        )
        .outerjoin(Allocation, Allocation.decision_id == Decision.id)
        .where(Decision.dataset_id == dataset_id)
        .order_by(Decision.id)
    )
    with _reading(bind) as session:
        rows = session.execute(query).all()
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
    ]
    records = [(*r[:6], as_utc(r[6]), r[7], bool(r[8])) for r in rows]
    frame = pd.DataFrame(records, columns=columns)
    frame["holds"] = frame["holds"].astype(bool)
    return frame


#: Status of a proposal in the export, by the action of the household's latest decision.
STATUS_BY_ACTION = {"approve": "approved", "lock": "locked", "reject": "rejected"}
#: Every value of the ``status`` column of :func:`proposal_status`.
STATUSES = ("proposed", "unplaced", "approved", "locked", "rejected")


def proposal_status(bind: Engine | Session, run_id: int) -> pd.DataFrame:
    """Return the decision status of every proposal of a run, for case handling.

    The status follows the household's latest decision on the proposed dwelling, on this run
    or an earlier run of the same dataset (a re-optimised run keeps the decisions it was built
    on): ``approved`` or ``locked`` while that decision still holds the dwelling, ``rejected``
    after a reject of that dwelling, otherwise ``proposed`` (nothing decided, or undone) or
    ``unplaced`` (the run found no dwelling).

    Parameters
    ----------
    bind
        Engine or session.
    run_id
        Id from :func:`save_run`.

    Returns
    -------
    pandas.DataFrame
        One row per household of the run, in saved order: ``household_id``, ``status`` (one of
        :data:`STATUSES`), ``decided_by`` (None unless approved, locked or rejected),
        ``decided_at`` (UTC, NaT likewise), ``decision_reason``.
    """
    with _reading(bind) as session:
        run = session.get(Run, run_id)
        if run is None:
            msg = f"no run with id {run_id} in the database"
            raise StoreError(msg)
        dataset_id = run.dataset_id
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
            .join(Run, Run.id == Decision.run_id)
            .outerjoin(Allocation, Allocation.decision_id == Decision.id)
            .where(Run.dataset_id == dataset_id, Run.id <= run_id)
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
    """Return the dwellings currently held on a dataset (approved or locked).

    Returns
    -------
    pandas.DataFrame
        ``household_id``, ``dwelling_id``, ``action`` ("approve" or "lock"), ``decision_id``,
        ``decided_by``, ``decided_at`` (UTC), sorted by household.
    """
    query = (
        select(
            Allocation.household_id,
            Allocation.dwelling_id,
            Allocation.action,
            Allocation.decision_id,
            Decision.decided_by,
            Decision.decided_at,
        )
        .join(Decision, Allocation.decision_id == Decision.id)
        .where(Allocation.dataset_id == dataset_id, Allocation.active.is_(True))
        .order_by(Allocation.household_id)
    )
    with _reading(bind) as session:
        rows = session.execute(query).all()
    columns = ["household_id", "dwelling_id", "action", "decision_id", "decided_by", "decided_at"]
    return pd.DataFrame([(*r[:5], as_utc(r[5])) for r in rows], columns=columns)


def audit_entries(
    bind: Engine | Session, *, entity: str | None = None, entity_id: object | None = None
) -> pd.DataFrame:
    """Return audit log rows, oldest first, optionally only those of one entity.

    Returns
    -------
    pandas.DataFrame
        ``id``, ``at`` (UTC), ``user``, ``action``, ``entity``, ``entity_id``, ``details`` (dict).
    """
    query = select(AuditLog).order_by(AuditLog.id)
    if entity is not None:
        query = query.where(AuditLog.entity == entity)
    if entity_id is not None:
        query = query.where(AuditLog.entity_id == str(entity_id))
    with _reading(bind) as session:
        rows = [
            (a.id, as_utc(a.at), a.user, a.action, a.entity, a.entity_id, a.details)
            for a in session.scalars(query)
        ]
    return pd.DataFrame(
        rows, columns=["id", "at", "user", "action", "entity", "entity_id", "details"]
    )


# --- Residence history -----------------------------------------------------------------------


def _date_or_none(value: Any) -> date | None:
    if _missing(value):
        return None
    return pd.Timestamp(value).date()


def save_history(
    bind: Engine | Session,
    *,
    dataset_id: int,
    history: pd.DataFrame,
    user: str | None = None,
) -> int:
    """Store the residence history of a dataset (columns of ``schema.HISTORY``).

    A dataset's history is stored once: the dataset id stands for its file contents, so when
    rows are already stored nothing is added.

    Parameters
    ----------
    bind
        Engine (commits) or open session.
    dataset_id
        Dataset the history belongs to.
    history
        Frame with the ``schema.HISTORY`` columns (absent optional columns are stored empty).
    user
        Who stores it; default :func:`default_user`.

    Returns
    -------
    int
        Number of rows stored for the dataset.
    """
    user = user or default_user()
    n = len(history)
    columns = {
        c: (history[c].tolist() if c in history.columns else [None] * n) for c in HISTORY_COLUMNS
    }
    rows = []
    for i in range(n):
        row: dict[str, Any] = {"dataset_id": dataset_id}
        for c in HISTORY_COLUMNS:
            value = columns[c][i]
            if c in HISTORY_DATES:
                row[c] = _date_or_none(value)
            elif c == "persons":
                row[c] = None if _missing(value) else int(value)
            else:
                row[c] = _str_or_none(value)
        rows.append(row)
    try:
        with _transaction(bind) as session:
            existing = session.scalars(
                select(ResidenceHistory.id).where(ResidenceHistory.dataset_id == dataset_id)
            ).first()
            if existing is not None:
                count = len(
                    session.scalars(
                        select(ResidenceHistory.id).where(ResidenceHistory.dataset_id == dataset_id)
                    ).all()
                )
                logger.info("history of dataset %d already stored (%d rows)", dataset_id, count)
                return count
            if rows:
                session.execute(insert(ResidenceHistory), rows)
            _audit(
                session,
                user=user,
                action="history.save",
                entity="dataset",
                entity_id=dataset_id,
                details={"rows": n},
            )
    except IntegrityError as err:
        msg = f"history not saved, nothing was written: the database refused a row ({err.orig})"
        raise StoreError(msg) from err
    return n


def load_history(bind: Engine | Session, dataset_id: int) -> pd.DataFrame:
    """Return the stored residence history of a dataset (``schema.HISTORY`` columns).

    Dates come back as ``datetime64[ns]`` (NaT where empty), ``persons`` as nullable ``Int64``.
    """
    query = (
        select(*(getattr(ResidenceHistory, c) for c in HISTORY_COLUMNS))
        .where(ResidenceHistory.dataset_id == dataset_id)
        .order_by(ResidenceHistory.id)
    )
    with _reading(bind) as session:
        rows = [tuple(r) for r in session.execute(query).all()]
    frame = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
    for c in HISTORY_DATES:
        frame[c] = pd.to_datetime(frame[c])
    frame["persons"] = frame["persons"].astype("Int64")
    return frame
