"""Sign-in with password: throttling, lockout and the audit log of every attempt.

Every attempt is written to the audit log with its time (``signin.ok``, ``signin.failed``,
``signin.locked``), the user name typed (a CPR-shaped part masked) and the client (the browser's
address as the app sees it). The failures of the last :data:`WINDOW` are counted per user name
and per client, so the limits hold across restarts and across several app processes sharing a
database:

- after a failure for a user name, its next attempt waits ``DELAY_BASE_S * 2**(failures - 1)``
  seconds (at most :data:`DELAY_MAX_S`) before the password is even checked;
- :data:`MAX_FAILURES_PER_USER` failures for one user name, or :data:`MAX_FAILURES_PER_CLIENT`
  from one client, lock sign-in for that user name (or client) until the oldest of those
  failures is :data:`WINDOW` old. A successful sign-in clears the user's count.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy import Engine

from placement import auth
from placement.db import utcnow

logger = logging.getLogger(__name__)

#: How far back failures are counted, and how long a lockout lasts at most.
WINDOW = timedelta(minutes=15)
#: Failures of one user name within :data:`WINDOW` that lock its sign-in.
MAX_FAILURES_PER_USER = 5
#: Failures from one client within :data:`WINDOW` that lock sign-in from it.
MAX_FAILURES_PER_CLIENT = 20
#: Wait after the first failure, in seconds; doubled after each further failure.
DELAY_BASE_S = 0.5
#: Longest wait before a password is checked, in seconds.
DELAY_MAX_S = 8.0
_ACTIONS = ("signin.ok", "signin.failed", "signin.locked")


@dataclass(frozen=True)
class SignInResult:
    """Outcome of a sign-in attempt.

    Attributes
    ----------
    status : {"ok", "failed", "locked"}
        What happened.
    user : User or None
        The user when ``status == "ok"``.
    retry_after_s : float
        When locked: seconds until sign-in is possible again.
    password_hash : str or None
        The user's hash after sign-in (to notice a later password change).
    """

    status: Literal["ok", "failed", "locked"]
    user: auth.User | None = None
    retry_after_s: float = 0.0
    password_hash: str | None = None


def safe_name(text: str) -> str:
    """Return a typed user name fit for the audit log: at most 64 characters, CPR masked."""
    from placement.validate import find_cpr, mask_cpr

    name = str(text).strip()[:64]
    for _ in range(5):
        hit = find_cpr(name)
        if hit is None:
            return name
        name = name.replace(hit, mask_cpr(hit))
    return "<hidden>" if find_cpr(name) else name


def _failures(engine: Engine, username: str, client: str) -> tuple[list, list]:
    """Return the times of the failures of the window that count, per user and per client."""
    from placement.audit import events_since

    now = utcnow()
    events = events_since(engine, actions=_ACTIONS, since=now - WINDOW)
    per_user: list = []
    per_client: list = []
    for row in events.itertuples(index=False):
        details = row.details or {}
        if row.entity_id == username:
            if row.action == "signin.ok":
                per_user.clear()  # a success clears the user's count
            elif row.action == "signin.failed":
                per_user.append(row.at)
        if row.action == "signin.failed" and details.get("client") == client:
            per_client.append(row.at)
    return per_user, per_client


def _log(engine: Engine, action: str, username: str, client: str, **details: object) -> None:
    from placement.audit import record_event

    record_event(engine, user=username or "-", action=action, entity="user",
                 entity_id=username or "-", details={"client": client, **details})


def sign_in(
    engine: Engine,
    users: auth.UserStore,
    username: str,
    password: str,
    *,
    client: str = "unknown",
    sleep: Callable[[float], None] = time.sleep,
) -> SignInResult:
    """Check a password with throttling and lockout; log the attempt in the audit log.

    Parameters
    ----------
    engine
        The placement database (its audit log holds the attempts).
    users
        The users file as it is now.
    username, password
        As typed.
    client
        Who is asking (the client's address); failures are also counted per client.
    sleep
        Waits the throttling delay (tests pass a recorder).

    Returns
    -------
    SignInResult
    """
    name = safe_name(username)
    client = safe_name(client) or "unknown"
    per_user, per_client = _failures(engine, name, client)
    now = utcnow()
    locked_until = None
    for times, limit in ((per_user, MAX_FAILURES_PER_USER), (per_client, MAX_FAILURES_PER_CLIENT)):
        if len(times) >= limit:
            until = sorted(times)[-limit] + WINDOW
            locked_until = until if locked_until is None else max(locked_until, until)
    if locked_until is not None and locked_until > now:
        retry = (locked_until - now).total_seconds()
        _log(engine, "signin.locked", name, client, retry_after_s=round(retry, 1))
        logger.warning("sign-in for user %r from %s locked for %.0f s", name, client, retry)
        return SignInResult("locked", retry_after_s=retry)
    failures = len(per_user)
    if failures:
        sleep(min(DELAY_BASE_S * 2 ** (failures - 1), DELAY_MAX_S))
    user = users.authenticate(username, password)
    if user is None:
        _log(engine, "signin.failed", name, client, failures_before=failures)
        return SignInResult("failed")
    upgraded = auth.rehash_if_needed(users.path, user.username, password)
    _log(engine, "signin.ok", name, client, method="password", hash_upgraded=upgraded)
    fresh = auth.load_users(users.path) if upgraded else users
    return SignInResult("ok", user=user, password_hash=fresh.password_hash(user.username))


def record_sso_sign_in(engine: Engine, user: auth.User, *, client: str = "unknown") -> None:
    """Log a sign-in through the identity provider in the audit log."""
    _log(engine, "signin.ok", user.username, safe_name(client) or "unknown", method="sso")
