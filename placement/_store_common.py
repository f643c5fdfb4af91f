"""Helpers shared by the repository modules (store, decisions, audit): transactions, JSON, audit.

Every write opens one transaction (:func:`placement.db.write_session`) or joins the caller's
session; every text that a person or a file brings into the database passes :func:`check_texts`
first, so that no CPR-shaped value is ever stored (the audit log keeps what it is given for ever).
"""

from __future__ import annotations

import dataclasses
import getpass
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from placement._errors import PlacementError
from placement.db import AuditLog, utcnow, write_session

#: Environment variable naming the person recorded in the audit log (default: login name).
USER_ENV_VAR = "PLACEMENT_USER"


class StoreError(PlacementError):
    """A write was refused or failed; nothing was written."""


class CprInTextError(StoreError, ValueError):
    """A text to be stored looks like a CPR number; nothing was written."""


def _texts(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Yield (where, text) for every string inside ``value`` (dict keys and values, lists)."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if str(key).endswith("sha256"):
                continue  # hex digests computed by placement, not text from a person or file
            yield from _texts(str(key), f"{where} (key)")
            yield from _texts(item, f"{where}.{key}")
    elif isinstance(value, list | tuple | set | frozenset):
        for i, item in enumerate(value):
            yield from _texts(item, f"{where}[{i}]")


def check_texts(items: Iterable[tuple[str, Any]]) -> None:
    """Refuse texts that contain a CPR-shaped value before anything is written.

    Parameters
    ----------
    items
        ``(what, value)`` pairs: what the text is (for the message, e.g. ``"reason"``) and the
        value (a string, or a dict or list holding strings, which are all checked).

    Raises
    ------
    CprInTextError
        Naming every text that holds a CPR-shaped value (masked), and saying nothing was
        written.
    """
    from placement.validate import find_cpr, mask_cpr

    found = []
    for what, value in items:
        for where, text in _texts(value, what):
            hit = find_cpr(text)
            if hit is not None:
                found.append(f"{where}: {mask_cpr(hit)}")
    if found:
        msg = (
            "refused, nothing was written: a value shaped like a CPR number is never stored "
            "(placement holds pseudonymous ids only); remove it from "
            + "; ".join(found)
        )
        raise CprInTextError(msg)


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
    check_texts([("audit details", to_jsonable(dict(details or {}))), ("user", user)])
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
