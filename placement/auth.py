"""Users, roles and passwords for the app.

Users live in a TOML file with salted scrypt hashes, never passwords::

    [users.mette]
    name = "Mette (boligkoordinator)"
    role = "coordinator"
    password = "scrypt$16384$8$1$<salt hex>$<hash hex>"

Roles and what they may do:

=============  ======================  ================  =========  ==========
role           household-level rows    decide            scenarios  aggregates
=============  ======================  ================  =========  ==========
coordinator    yes                     yes               yes        yes
planner        no                      no                yes        yes
viewer         no                      no                no         yes
=============  ======================  ================  =========  ==========

``placement user add NAME --role ROLE`` writes a hash into the file. Where an identity provider
is configured through Streamlit's own login (``st.login``), the app maps the provider's e-mail
to a user of this file instead of asking for a password.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path

from placement._errors import ConfigError

logger = logging.getLogger(__name__)

ROLES: dict[str, frozenset[str]] = {
    "coordinator": frozenset({"households", "decide", "scenarios", "aggregates"}),
    "planner": frozenset({"scenarios", "aggregates"}),
    "viewer": frozenset({"aggregates"}),
}
_N, _R, _P = 2**14, 8, 1


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
        The encoded hash.
    """
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, encoded: str) -> bool:
    """Check ``password`` against an encoded hash in constant time.

    Parameters
    ----------
    password : str
        Password typed by the user.
    encoded : str
        Hash from :func:`hash_password`.

    Returns
    -------
    bool
        Whether they match (False for a malformed hash).
    """
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r),
                             p=int(p), dklen=len(digest) // 2)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


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
        if entry is None or not verify_password(password, entry[1]):
            logger.warning("failed sign-in for user %r", username)
            return None
        logger.info("user %r signed in", username)
        return entry[0]

    def by_email(self, email: str) -> User | None:
        """Return the user with this e-mail (identity-provider sign-in), if any."""
        for user, _ in self.users.values():
            if user.email and user.email.lower() == email.lower():
                return user
        return None


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
    problems: list[str] = []
    users: dict[str, tuple[User, str]] = {}
    for username, body in sorted(data.get("users", {}).items()):
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


def add_user(path: str | Path, username: str, password: str, role: str, *, name: str = "",
             email: str = "") -> Path:
    """Add or replace a user in the users file (written atomically).

    Parameters
    ----------
    path : str or Path
        The TOML file (created when missing).
    username, password, role : str
        The user; role one of :data:`ROLES`.
    name, email : str
        Display name and e-mail (optional).

    Returns
    -------
    Path
        The file.
    """
    if role not in ROLES:
        msg = f"role must be one of {', '.join(ROLES)}, got {role!r}"
        raise ConfigError(msg)
    path = Path(path)
    existing = load_users(path).users if path.exists() else {}
    entries = {u: (user, h) for u, (user, h) in existing.items()}
    entries[username] = (User(username, name or username, role, email),
                         hash_password(password))
    lines = ["# Users of the placement app: passwords are salted scrypt hashes.", ""]
    for uname, (user, encoded) in sorted(entries.items()):
        lines += [f'[users."{uname}"]', f'name = "{user.name}"', f'role = "{user.role}"',
                  f'email = "{user.email}"', f'password = "{encoded}"', ""]
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)
    return path
