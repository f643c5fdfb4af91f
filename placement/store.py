"""Repository functions: register datasets, save scenarios, runs and residence history.

Every function that writes does so in one transaction (:func:`placement.db.write_session`) and
appends a row to the audit log in the same transaction: a write that fails leaves nothing
behind, and every row that is written has its audit entry. Each function takes an ``Engine``
(opened with :func:`placement.db.open_engine`) and commits, or an open ``Session``, in which case
the caller's transaction decides.

Runs live in :mod:`placement.runs`, decisions and the dwellings they hold in
:mod:`placement.decisions`, the audit log in :mod:`placement.audit`; their public functions are
also available here (``store.save_run``, ``store.decide``, ``store.audit_entries``...), so callers
need one import.
"""

from __future__ import annotations

import hashlib
import logging
import tomllib
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from placement._errors import DataError
from placement._store_common import (
    USER_ENV_VAR,
    CprInTextError,
    StoreError,
    _audit,
    _missing,
    _reading,
    _str_or_none,
    _transaction,
    check_texts,
    default_user,
    to_jsonable,
)
from placement.audit import audit_entries, events_since, record_event
from placement.db import (
    Dataset,
    DatasetDwelling,
    DatasetFile,
    ResidenceHistory,
    Scenario,
    as_utc,
    utcnow,
)
from placement.decisions import (
    STATUS_BY_ACTION,
    STATUSES,
    Action,
    DecisionConflictError,
    DecisionError,
    active_allocations,
    decide,
    decisions_for,
    municipality_of,
    proposal_status,
    release,
)
from placement.runs import (
    list_runs,
    load_run,
    proposal_terms,
    run_summary,
    save_run,
)

__all__ = [
    "STATUSES",
    "STATUS_BY_ACTION",
    "USER_ENV_VAR",
    "Action",
    "CprInTextError",
    "DataError",
    "DecisionConflictError",
    "DecisionError",
    "StoreError",
    "active_allocations",
    "audit_entries",
    "check_texts",
    "dataset_dwellings",
    "dataset_files",
    "dataset_folder",
    "decide",
    "decisions_for",
    "default_user",
    "events_since",
    "hash_dataset",
    "list_runs",
    "load_history",
    "load_run",
    "load_scenario",
    "manifest_municipality",
    "municipality_of",
    "proposal_status",
    "proposal_terms",
    "record_event",
    "register_dataset",
    "release",
    "run_summary",
    "save_history",
    "save_run",
    "save_scenario",
    "to_jsonable",
]

logger = logging.getLogger(__name__)

MANIFEST = "dataset.toml"
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


def manifest_municipality(dataset_dir: str | Path) -> str:
    """Return the municipality a dataset folder is of: its manifest's code, else its name.

    Decisions and allocations hold per municipality, across every version of its data.

    Parameters
    ----------
    dataset_dir
        Dataset folder.

    Returns
    -------
    str
        ``[municipality] code`` of ``dataset.toml``; else ``[municipality] name``; else the
        folder name.
    """
    folder = Path(dataset_dir)
    try:
        content = tomllib.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return folder.resolve().name
    table = content.get("municipality", {})
    if not isinstance(table, dict):
        return folder.resolve().name
    return str(table.get("code") or table.get("name") or folder.resolve().name).strip()


def _add_dwellings(session: Session, dataset_id: int, dwelling_ids: Iterable[Any]) -> int:
    ids = sorted({str(d) for d in dwelling_ids if not _missing(d)})
    if not ids:
        return 0
    known = session.scalars(
        select(DatasetDwelling.id).where(DatasetDwelling.dataset_id == dataset_id).limit(1)
    ).first()
    if known is not None:
        return 0
    session.execute(
        insert(DatasetDwelling), [{"dataset_id": dataset_id, "dwelling_id": d} for d in ids]
    )
    return len(ids)


def register_dataset(
    bind: Engine | Session,
    dataset_dir: str | Path,
    *,
    name: str | None = None,
    user: str | None = None,
    dwelling_ids: Iterable[Any] | None = None,
    municipality: str | None = None,
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
    dwelling_ids
        The dataset's dwelling ids (``dataset.dwellings["dwelling_id"]``), recorded once, so
        that a decision naming another dwelling is refused.
    municipality
        Municipality key; default :func:`manifest_municipality`.

    Returns
    -------
    int
        ``dataset_id``: the same id for the same file contents.

    Raises
    ------
    CprInTextError
        The name, folder or a file name holds a CPR-shaped value; nothing is written.
    """
    found_name, content_sha256, files = hash_dataset(dataset_dir)
    user = user or default_user()
    municipality = municipality or manifest_municipality(dataset_dir)
    shown_name = name or found_name
    check_texts(
        [
            ("dataset name", shown_name),
            ("municipality", municipality),
            ("dataset folder", str(Path(dataset_dir).resolve())),
            ("file", files["path"].tolist()),
        ]
    )
    with _transaction(bind) as session:
        existing = session.scalars(
            select(Dataset.id).where(Dataset.content_sha256 == content_sha256).order_by(Dataset.id)
        ).first()
        if existing is not None:
            logger.info("dataset %s already registered as %d", dataset_dir, existing)
            if dwelling_ids is not None:
                _add_dwellings(session, existing, dwelling_ids)
            return existing
        dataset = Dataset(
            name=shown_name,
            source_path=str(Path(dataset_dir).resolve()),
            content_sha256=content_sha256,
            created_at=utcnow(),
            created_by=user,
            municipality=municipality,
        )
        session.add(dataset)
        session.flush()
        n_dwellings = _add_dwellings(
            session, dataset.id, [] if dwelling_ids is None else dwelling_ids
        )
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
                "municipality": municipality,
                "source_path": dataset.source_path,
                "content_sha256": content_sha256,
                "files": files.to_dict(orient="records"),
                "dwellings": n_dwellings,
            },
        )
        logger.info("registered dataset %s as %d (%d files)", dataset_dir, dataset.id, len(files))
        return dataset.id


def dataset_dwellings(bind: Engine | Session, dataset_id: int) -> list[str]:
    """Return the recorded dwelling ids of a dataset, sorted (empty when none were given)."""
    with _reading(bind) as session:
        return list(
            session.scalars(
                select(DatasetDwelling.dwelling_id)
                .where(DatasetDwelling.dataset_id == dataset_id)
                .order_by(DatasetDwelling.dwelling_id)
            )
        )


def dataset_folder(bind: Engine | Session, dataset_id: int) -> tuple[Path, str]:
    """Return the folder a dataset was registered from and the content hash it had then.

    Raises
    ------
    StoreError
        No dataset with that id.
    """
    with _reading(bind) as session:
        row = session.get(Dataset, dataset_id)
        if row is None:
            msg = f"no dataset with id {dataset_id} in the database"
            raise StoreError(msg)
        return Path(row.source_path), str(row.content_sha256)


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
    check_texts([("scenario name", name), ("scenario", to_jsonable(dict(definition)))])
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
