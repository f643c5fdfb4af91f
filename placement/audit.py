"""The audit log: append-only record of every write and every sign-in (who, when, what).

The database itself refuses UPDATE and DELETE on ``audit_log`` (triggers of the migrations), so
an entry, once written, stays.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from placement._store_common import _audit, _reading, _transaction
from placement.db import AuditLog, as_utc


def record_event(
    bind: Engine | Session,
    *,
    user: str,
    action: str,
    entity: str,
    entity_id: object,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Append one entry to the audit log (in its own transaction when given an engine).

    Parameters
    ----------
    bind
        Engine (commits) or open session.
    user
        Who acted (a user name; for a failed sign-in the name that was typed).
    action
        What happened, e.g. ``"signin.failed"``.
    entity, entity_id
        What it concerns, e.g. ``"user"`` and the user name.
    details
        Extra facts, stored as JSON (a CPR-shaped text in them is refused).
    """
    with _transaction(bind) as session:
        _audit(session, user=user, action=action, entity=entity, entity_id=entity_id,
               details=details)


def events_since(
    bind: Engine | Session, *, actions: tuple[str, ...], since: datetime
) -> pd.DataFrame:
    """Return audit entries of the given actions at or after ``since`` (UTC), oldest first.

    Returns
    -------
    pandas.DataFrame
        ``id``, ``at`` (UTC), ``user``, ``action``, ``entity``, ``entity_id``, ``details``.
    """
    query = (
        select(AuditLog)
        .where(AuditLog.action.in_(actions), AuditLog.at >= since)
        .order_by(AuditLog.id)
    )
    with _reading(bind) as session:
        rows = [
            (a.id, as_utc(a.at), a.user, a.action, a.entity, a.entity_id, a.details)
            for a in session.scalars(query)
        ]
    return pd.DataFrame(
        rows, columns=["id", "at", "user", "action", "entity", "entity_id", "details"]
    )


def audit_entries(
    bind: Engine | Session, *, entity: str | None = None, entity_id: object | None = None
) -> pd.DataFrame:
    """Return audit log rows, oldest first, optionally only those of one entity.

    Returns
    -------
    pandas.DataFrame
        ``id``, ``at`` (UTC), ``user``, ``action``, ``entity``, ``entity_id``, ``details`` (dict).
    """
    from placement import auth

    auth.require("households", "the audit log (it names households)")
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
