"""Users, roles and passwords for the app.

Users live in a TOML file with salted scrypt hashes, never passwords::

    [users.mette]
    name = "Mette (boligkoordinator)"
    role = "coordinator"
    password = "scrypt$131072$8$1$<salt hex>$<hash hex>"

Roles and what they may do:

=============  ======================  ================  =========  ==========
role           household-level rows    decide            scenarios  aggregates
=============  ======================  ================  =========  ==========
coordinator    yes                     yes               yes        yes
planner        no                      no                yes        yes
viewer         no                      no                no         yes
=============  ======================  ================  =========  ==========

``placement user add NAME --role ROLE`` writes a hash into the file (with a TOML library, so no
value can break the file or add a key), ``placement user passwd`` sets a new password and
``placement user remove`` removes a user; the app re-reads the file when it changes, without a
restart. Where an identity provider is configured through Streamlit's own login (``st.login``),
the app maps the provider's e-mail to a user of this file instead of asking for a password.

Hashes are scrypt with OWASP's current minimum cost (N = 2^17, r = 8, p = 1); a hash of an older,
cheaper cost is replaced on the user's next sign-in. A user name that does not exist costs the
same time as a wrong password (a dummy hash is checked), so user names cannot be found by timing.

Role checks: the library functions that return household-level rows call :func:`require`, which
refuses them while a user without the ``households`` permission is acting
(:func:`acting_as`, set by the app for each page run).
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import logging
import os
import re
import secrets
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from placement import settings
from placement._errors import ConfigError, PlacementError

logger = logging.getLogger(__name__)

ROLES: dict[str, frozenset[str]] = {
    "coordinator": frozenset({"households", "decide", "scenarios", "aggregates"}),
    "planner": frozenset({"scenarios", "aggregates"}),
    "viewer": frozenset({"aggregates"}),
}
#: scrypt cost: OWASP's current minimum (N = 2^17, r = 8, p = 1; 128 MiB and about 0.3 s).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
#: The cheap cost used only where ``settings.cheap_password_hashes_for_tests`` is True.
TEST_SCRYPT_N = 2**10
#: Fewest characters of a password.
MIN_PASSWORD_LENGTH = 12
_DKLEN = 32
#: Allowed user names: letters, digits and . _ @ - (at most 64 characters).
USERNAME_RE = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
_EMAIL_RE = re.compile(r"^[^@\s\"'<>\\]+@[^@\s\"'<>\\]+\.[^@\s\"'<>\\]+$")


class PermissionDeniedError(PlacementError, PermissionError):
    """The acting user's role may not see or do this."""


def _params() -> tuple[int, int, int]:
    if settings.cheap_password_hashes_for_tests:
        return TEST_SCRYPT_N, SCRYPT_R, SCRYPT_P
    return SCRYPT_N, SCRYPT_R, SCRYPT_P


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=dklen,
                          maxmem=256 * n * r + (1 << 20))


@dataclass(frozen=True)
class User:
    """A signed-in user.

    Attributes
    ----------
    username : str
        Login name.
    name : str
        Display name.
    role : str
        One of :data:`ROLES`.
    email : str
        E-mail used by an identity provider (may be empty).
    """

    username: str
    name: str
    role: str
    email: str = ""

    def can(self, permission: str) -> bool:
        """Whether the user's role has ``permission`` (households, decide, scenarios, ...)."""
        return permission in ROLES[self.role]


# --- who is acting: role checks in the library ----------------------------------------------

_acting: contextvars.ContextVar[User | None] = contextvars.ContextVar("placement_acting_user",
                                                                       default=None)
_aggregating: contextvars.ContextVar[bool] = contextvars.ContextVar("placement_aggregating",
                                                                    default=False)


@contextmanager
def acting_as(user: User | None) -> Iterator[None]:
    """Run the block as ``user``: library functions returning household rows check its role.

    Parameters
    ----------
    user : User or None
        The signed-in user (``None``: no user, e.g. the command line run by the operator).
    """
    token = _acting.set(user)
    try:
        yield
    finally:
        _acting.reset(token)


@contextmanager
def aggregating() -> Iterator[None]:
    """Mark a block that reads household rows only to return aggregates (area tables)."""
    token = _aggregating.set(True)
    try:
        yield
    finally:
        _aggregating.reset(token)


def acting_user() -> User | None:
    """Return the user set by :func:`acting_as`, or None."""
    return _acting.get()


def may(permission: str) -> bool:
    """Whether the acting user (if any) has ``permission``; True when nobody is acting."""
    user = _acting.get()
    return user is None or _aggregating.get() or user.can(permission)


def require(permission: str, what: str) -> None:
    """Refuse ``what`` when the acting user's role lacks ``permission``.

    Nothing is refused when no user is acting (the command line) or inside
    :func:`aggregating`.

    Parameters
    ----------
    permission : str
        E.g. ``"households"``.
    what : str
        What was asked for, for the message.

    Raises
    ------
    PermissionDeniedError
        Naming the user, the role and what was refused.
    """
    user = _acting.get()
    if user is None or _aggregating.get() or user.can(permission):
        return
    msg = (f"user {user.username} ({user.role}) may not see {what}: only a role with the "
           f"'{permission}' permission may")
    raise PermissionDeniedError(msg)


# --- passwords -------------------------------------------------------------------------------


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """Return a salted scrypt hash of ``password`` as ``scrypt$n$r$p$salt$hash``.

    Parameters
    ----------
    password : str
        The password.
    salt : bytes, optional
        16 random bytes by default.

    Returns
    -------
    str
        The encoded hash, at the cost :data:`SCRYPT_N`, :data:`SCRYPT_R`, :data:`SCRYPT_P`.
    """
    salt = salt if salt is not None else secrets.token_bytes(16)
    n, r, p = _params()
    digest = _scrypt(password, salt, n, r, p, _DKLEN)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def verify_password(password: str, encoded: str) -> bool:
    """Check ``password`` against an encoded hash in constant time.

    Parameters
    ----------
    password : str
        Password typed by the user.
    encoded : str
        Hash from :func:`hash_password` (of any cost).

    Returns
    -------
    bool
        Whether they match (False for a malformed hash).
    """
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt" or int(n) > 2**20:
            return False
        got = _scrypt(password, bytes.fromhex(salt), int(n), int(r), int(p), len(digest) // 2)
    except (ValueError, TypeError, MemoryError):
        return False
    return hmac.compare_digest(got.hex(), digest)


def needs_rehash(encoded: str) -> bool:
    """Whether a hash is of another cost than the current one (and is replaced on sign-in)."""
    try:
        scheme, n, r, p, _salt, _digest = encoded.split("$")
    except ValueError:
        return True
    return scheme != "scrypt" or (int(n), int(r), int(p)) != _params()


_DUMMY: dict[tuple[int, int, int], str] = {}


def _dummy_hash() -> str:
    """Return a hash of a random password at the current cost, checked for unknown users."""
    key = _params()
    if key not in _DUMMY:
        _DUMMY[key] = hash_password(secrets.token_urlsafe(16))
    return _DUMMY[key]


def check_password(password: str, *, username: str = "") -> None:
    """Refuse a password that is empty, too short or the user name itself.

    Raises
    ------
    ConfigError
        Saying what is wrong (never echoing the password).
    """
    if not password or not password.strip():
        msg = "the password is empty: give a password"
        raise ConfigError(msg)
    if len(password) < MIN_PASSWORD_LENGTH:
        msg = (f"the password has {len(password)} characters: use at least "
               f"{MIN_PASSWORD_LENGTH} (a few words make a long password that is easy to type)")
        raise ConfigError(msg)
    if username and password.strip().lower() == username.strip().lower():
        msg = "the password must not be the user name"
        raise ConfigError(msg)


# --- the users file --------------------------------------------------------------------------


@dataclass(frozen=True)
class UserStore:
    """The users file.

    Attributes
    ----------
    path : Path
        The TOML file.
    users : dict
        username → (User, password hash).
    """

    path: Path
    users: dict[str, tuple[User, str]]

    def authenticate(self, username: str, password: str) -> User | None:
        """Return the user when the password matches; log and return None otherwise.

        An unknown user name costs the same time as a wrong password.

        Parameters
        ----------
        username : str
            Login name.
        password : str
            Password.

        Returns
        -------
        User or None
        """
        entry = self.users.get(username.strip())
        encoded = entry[1] if entry is not None else _dummy_hash()
        matches = verify_password(password, encoded)
        if entry is None or not matches:
            from placement.signin import safe_name

            logger.warning("failed sign-in for user %r", safe_name(username))
            return None
        logger.info("user %r signed in", username.strip())
        return entry[0]

    def by_email(self, email: str) -> User | None:
        """Return the user with this e-mail (identity-provider sign-in), if any."""
        for user, _ in self.users.values():
            if user.email and user.email.lower() == email.lower():
                return user
        return None

    def current(self, user: User) -> User | None:
        """Return ``user`` as the file now has it (role, name), or None when removed."""
        entry = self.users.get(user.username)
        return None if entry is None else entry[0]

    def password_hash(self, username: str) -> str | None:
        """Return the stored hash of a user (None when there is no such user)."""
        entry = self.users.get(username)
        return None if entry is None else entry[1]


def load_users(path: str | Path) -> UserStore:
    """Read a users file.

    Parameters
    ----------
    path : str or Path
        The TOML file.

    Returns
    -------
    UserStore

    Raises
    ------
    ConfigError
        Naming the file, user and key of every problem.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = f"{path.name}: no such users file ({path}); create one with `placement user add`"
        raise ConfigError(msg) from None
    except tomllib.TOMLDecodeError as err:
        msg = f"{path.name}: not valid TOML: {err}"
        raise ConfigError(msg) from None
    except UnicodeDecodeError:
        msg = f"{path.name}: not UTF-8 text"
        raise ConfigError(msg) from None
    problems: list[str] = []
    users: dict[str, tuple[User, str]] = {}
    table = data.get("users", {})
    if not isinstance(table, dict):
        msg = f"{path.name}: users: must be a table of users"
        raise ConfigError(msg)
    for username, body in sorted(table.items()):
        key = f"users.{username}"
        if not isinstance(body, dict):
            problems.append(f"{key}: must be a table")
            continue
        role = body.get("role")
        if role not in ROLES:
            problems.append(f"{key}.role: must be one of {', '.join(ROLES)}, got {role!r}")
        encoded = str(body.get("password", ""))
        if not encoded.startswith("scrypt$"):
            problems.append(f"{key}.password: must be a hash from `placement user add` "
                            "(plain passwords are not accepted)")
        if role in ROLES and encoded.startswith("scrypt$"):
            users[username] = (User(username, str(body.get("name", username)), str(role),
                                    str(body.get("email", ""))), encoded)
    if problems:
        raise ConfigError("\n".join(f"{path.name}: {p}" for p in problems))
    return UserStore(path=path, users=users)


class UsersFile:
    """A users file that is read again whenever it changes on disk (no restart needed).

    Parameters
    ----------
    path : str or Path
        The TOML file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._stamp: tuple[int, int, int] | None = None
        self._store: UserStore | None = None

    def current(self) -> UserStore:
        """Return the users as the file has them now (re-read when its stamp changed)."""
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        if self._store is None or stamp != self._stamp:
            self._store = load_users(self.path)
            self._stamp = stamp
        return self._store


_FILES: dict[Path, UsersFile] = {}


def users_file(path: str | Path) -> UsersFile:
    """Return the (shared) :class:`UsersFile` of ``path``."""
    key = Path(path).resolve()
    if key not in _FILES:
        _FILES[key] = UsersFile(key)
    return _FILES[key]


def _check_identity(username: str, role: str, name: str, email: str) -> None:
    problems = []
    if not USERNAME_RE.match(username):
        problems.append(f"user name {username[:64]!r}: use 1–64 letters, digits and . _ @ -")
    if role not in ROLES:
        problems.append(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if email and not _EMAIL_RE.match(email):
        problems.append(f"e-mail {email[:100]!r} is not an e-mail address")
    if any(ord(c) < 32 or ord(c) == 127 for c in name + email):
        problems.append("name and e-mail must not contain control characters (line breaks...)")
    if problems:
        raise ConfigError("; ".join(problems))


def _write_users(path: Path, entries: dict[str, tuple[User, str]]) -> Path:
    import tomli_w

    doc = {"users": {uname: {"name": user.name, "role": user.role, "email": user.email,
                             "password": encoded}
                     for uname, (user, encoded) in sorted(entries.items())}}
    body = "# Users of the placement app: passwords are salted scrypt hashes.\n\n"
    body += tomli_w.dumps(doc)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.chmod(0o600)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _entries(path: Path) -> dict[str, tuple[User, str]]:
    return dict(load_users(path).users) if path.exists() else {}


def add_user(path: str | Path, username: str, password: str, role: str, *, name: str = "",
             email: str = "") -> Path:
    """Add or replace a user in the users file (written atomically, with a TOML library).

    Parameters
    ----------
    path : str or Path
        The TOML file (created when missing).
    username, password, role : str
        The user; role one of :data:`ROLES`; a password of at least
        :data:`MIN_PASSWORD_LENGTH` characters.
    name, email : str
        Display name and e-mail (optional).

    Returns
    -------
    Path
        The file.

    Raises
    ------
    ConfigError
        A bad user name, role or e-mail, or an empty or short password; nothing is written.
    """
    _check_identity(username, role, name, email)
    check_password(password, username=username)
    path = Path(path)
    entries = _entries(path)
    entries[username] = (User(username, name or username, role, email), hash_password(password))
    return _write_users(path, entries)


def remove_user(path: str | Path, username: str) -> Path:
    """Remove a user from the users file; the app signs the user out at the next click.

    Raises
    ------
    ConfigError
        No such user.
    """
    path = Path(path)
    entries = _entries(path)
    if username not in entries:
        msg = f"{path.name}: no user {username[:64]!r}"
        raise ConfigError(msg)
    del entries[username]
    return _write_users(path, entries)


def set_password(path: str | Path, username: str, password: str) -> Path:
    """Give a user a new password (the user's open sessions in the app end).

    Raises
    ------
    ConfigError
        No such user, or an empty or short password.
    """
    path = Path(path)
    entries = _entries(path)
    if username not in entries:
        msg = f"{path.name}: no user {username[:64]!r}"
        raise ConfigError(msg)
    check_password(password, username=username)
    entries[username] = (entries[username][0], hash_password(password))
    return _write_users(path, entries)


def rehash_if_needed(path: str | Path, username: str, password: str) -> bool:
    """After a successful sign-in, replace a hash of an older cost by one of the current cost.

    Returns
    -------
    bool
        Whether the file was rewritten.
    """
    path = Path(path)
    entries = _entries(path)
    entry = entries.get(username)
    if entry is None or not needs_rehash(entry[1]) or not verify_password(password, entry[1]):
        return False
    entries[username] = (replace(entry[0]), hash_password(password))
    _write_users(path, entries)
    logger.info("password hash of user %r upgraded to the current cost", username)
    return True
