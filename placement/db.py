"""Database schema (SQLAlchemy 2.x ORM), engines and Alembic migrations of placement.

The same code runs on a SQLite file (the default: ``placement.db`` in the working folder, or the
URL in the environment variable ``PLACEMENT_DB``) and on PostgreSQL
(``postgresql+psycopg://user@host/dbname``). The schema is created and upgraded only by the
Alembic migrations shipped inside the package (``placement/migrations``): call
:func:`upgrade` (the CLI's ``placement db upgrade``). :func:`open_engine` refuses a database whose
schema is older than this version of placement with :class:`SchemaOutdatedError`.

SQLite specifics (each guarded by dialect): every connection turns on foreign keys, WAL
journalling and a busy timeout, and SQLAlchemy (not the ``sqlite3`` module) emits ``BEGIN`` so
that transactions, DDL included, are real. Write transactions opened with :func:`write_session`
start with ``BEGIN IMMEDIATE``: SQLite then lets one writer in at a time and the others wait up to
:data:`SQLITE_BUSY_TIMEOUT_MS`, so two people deciding at once are serialised instead of failing
with "database is locked" halfway through.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Double,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    inspect,
    make_url,
    text,
)
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from placement._errors import PlacementError

logger = logging.getLogger(__name__)

#: Folder of the Alembic environment shipped inside the package.
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: Name of the table in which Alembic records the schema revision.
VERSION_TABLE = "placement_schema_version"
#: Environment variable with the database URL.
DB_ENV_VAR = "PLACEMENT_DB"
#: File name of the default SQLite database, in the working folder.
DEFAULT_DB_FILE = "placement.db"
#: How long a SQLite connection waits for another writer to finish, in milliseconds.
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: Decision actions.
ACTIONS = ("approve", "reject", "lock", "undo")
#: Actions that hold a dwelling for a household.
HOLDING_ACTIONS = ("approve", "lock")

ID_LEN = 200
# URL given to Alembic where only the migration scripts are read (no connection is made).
_SCRIPT_ONLY_URL = "sqlite://"
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class SchemaOutdatedError(PlacementError):
    """The database has no placement schema, or an older (or newer) one than this version needs."""


class DatabaseError(PlacementError):
    """The database cannot be opened or read (no such server, not a database file...)."""


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """Return ``value`` as an aware UTC datetime (SQLite gives back naive UTC datetimes)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


# --- Models ----------------------------------------------------------------------------------


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so migrations name constraints the same way."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Dataset(Base):
    """A dataset folder as it was when registered, identified by the hashes of its files."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(ID_LEN))
    source_path: Mapped[str] = mapped_column(Text)
    content_sha256: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(ID_LEN))
    #: The municipality the data is of (the manifest's ``[municipality] code``, else its name):
    #: decisions and allocations hold across every dataset version of one municipality.
    municipality: Mapped[str | None] = mapped_column(String(ID_LEN), index=True)


class DatasetDwelling(Base):
    """A dwelling id of a registered dataset: decisions may name only these."""

    __tablename__ = "dataset_dwellings"
    __table_args__ = (UniqueConstraint("dataset_id", "dwelling_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    dwelling_id: Mapped[str] = mapped_column(String(ID_LEN))


class DatasetFile(Base):
    """One file of a registered dataset with its SHA-256 and size."""

    __tablename__ = "dataset_files"
    __table_args__ = (UniqueConstraint("dataset_id", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)


class Scenario(Base):
    """A named what-if scenario (its definition as JSON)."""

    __tablename__ = "scenarios"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(ID_LEN))
    dataset_id: Mapped[int | None] = mapped_column(ForeignKey("datasets.id"), index=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(ID_LEN))


class Run(Base):
    """One optimisation run: policy, parameters, solver outcome, timings, package version."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    scenario_id: Mapped[int | None] = mapped_column(ForeignKey("scenarios.id"), index=True)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(40))
    objective: Mapped[float | None] = mapped_column(Double)
    bound: Mapped[float | None] = mapped_column(Double)
    gap: Mapped[float | None] = mapped_column(Double)
    build_s: Mapped[float | None] = mapped_column(Double)
    solve_s: Mapped[float | None] = mapped_column(Double)
    term_columns: Mapped[list[str]] = mapped_column(JSON)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    n_households: Mapped[int] = mapped_column(Integer)
    n_placed: Mapped[int] = mapped_column(Integer)
    package_version: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(ID_LEN))


class Proposal(Base):
    """One household's proposed dwelling in a run (dwelling ``None`` when unplaced)."""

    __tablename__ = "proposals"
    __table_args__ = (UniqueConstraint("run_id", "household_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    household_id: Mapped[str] = mapped_column(String(ID_LEN))
    dwelling_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    score: Mapped[float | None] = mapped_column(Double)
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)
    unplaced_reason: Mapped[str | None] = mapped_column(Text)


class Decision(Base):
    """A person's decision on a proposal: approve, reject, lock or undo; never changed.

    Triggers created by the migrations refuse UPDATE and DELETE on this table: a change of mind
    is a new decision (an ``undo`` releases what an approve or lock held).
    """

    __tablename__ = "decisions"
    __table_args__ = (
        CheckConstraint("action IN ('approve', 'reject', 'lock', 'undo')", name="action"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), index=True)
    household_id: Mapped[str] = mapped_column(String(ID_LEN))
    dwelling_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    action: Mapped[str] = mapped_column(String(10))
    decided_by: Mapped[str] = mapped_column(String(ID_LEN))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(Text)


class Allocation(Base):
    """A dwelling held for a household by an approve/lock decision.

    At most one *active* allocation per (municipality, dwelling) and per (municipality,
    household), across every dataset version of the municipality: partial unique indexes
    enforce it in the database, so two connections (or two versions of the data) cannot
    double-book. ``dataset_id`` is the dataset the decision was made on.
    """

    __tablename__ = "allocations"
    __table_args__ = (
        CheckConstraint("action IN ('approve', 'lock')", name="action"),
        Index(
            "uq_allocations_active_municipality_dwelling",
            "municipality",
            "dwelling_id",
            unique=True,
            sqlite_where=text("active = 1"),
            postgresql_where=text("active"),
        ),
        Index(
            "uq_allocations_active_municipality_household",
            "municipality",
            "household_id",
            unique=True,
            sqlite_where=text("active = 1"),
            postgresql_where=text("active"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    municipality: Mapped[str] = mapped_column(String(ID_LEN))
    household_id: Mapped[str] = mapped_column(String(ID_LEN))
    dwelling_id: Mapped[str] = mapped_column(String(ID_LEN))
    action: Mapped[str] = mapped_column(String(10))
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"))
    active: Mapped[bool] = mapped_column(Boolean)
    released_by_decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditLog(Base):
    """Append-only log of every write: who, when, what, on which entity, with JSON details.

    Triggers created by the migration refuse UPDATE and DELETE on this table.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_entity_entity_id", "entity", "entity_id"),
        Index("ix_audit_log_action_at", "action", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    user: Mapped[str] = mapped_column(String(ID_LEN))
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[str] = mapped_column(String(ID_LEN))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)


class ResidenceHistory(Base):
    """Residence history rows of a dataset (see ``schema.HISTORY``), for the retention report."""

    __tablename__ = "residence_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    person_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    household_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    placement_date: Mapped[date] = mapped_column(Date)
    dwelling_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    area_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    integration_end: Mapped[date | None] = mapped_column(Date)
    moved_out_date: Mapped[date | None] = mapped_column(Date)
    destination: Mapped[str | None] = mapped_column(String(40))
    household_type: Mapped[str | None] = mapped_column(String(40))
    persons: Mapped[int | None] = mapped_column(Integer)


# --- Engines ---------------------------------------------------------------------------------


def default_db_url() -> str:
    """Return the database URL used when none is given.

    Returns
    -------
    str
        ``$PLACEMENT_DB`` when set, else ``sqlite:///<working folder>/placement.db``.
    """
    return os.environ.get(DB_ENV_VAR) or f"sqlite:///{(Path.cwd() / DEFAULT_DB_FILE).as_posix()}"


def display_url(db_url: str) -> str:
    """Return ``db_url`` with any password hidden, for messages."""
    return make_url(db_url).render_as_string(hide_password=True)


@contextmanager
def database_errors(db_url: str | None, doing: str) -> Iterator[None]:
    """Turn driver and URL errors into :class:`DatabaseError` naming the database.

    Parameters
    ----------
    db_url
        URL of the database being used (shown with the password hidden).
    doing
        What was being done, e.g. ``"open"``; used in the message.

    Raises
    ------
    DatabaseError
        When the block raises a SQLAlchemy driver (DBAPI), URL or missing-driver error.
    """
    url = db_url or default_db_url()
    try:
        yield
    except (ArgumentError, NoSuchModuleError) as err:
        msg = f"cannot {doing} the database {url!r}: not a usable database URL ({err})"
        raise DatabaseError(msg) from err
    except DBAPIError as err:
        msg = f"cannot {doing} the database at {_safe_display(url)}: {err.orig}"
        raise DatabaseError(msg) from err


def _safe_display(db_url: str) -> str:
    try:
        return display_url(db_url)
    except ArgumentError:
        return "<invalid URL>"


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself (see _sqlite_on_begin): pysqlite's implicit transactions
    # would otherwise commit DDL on its own and start transactions late.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get("placement_sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


#: The one PostgreSQL driver placement is tested with (``pip install "placement[postgres]"``).
POSTGRES_DRIVER = "psycopg"
_POSTGRES_INSTALL = (
    'pip install "placement[postgres]" (in a checkout: pip install -e ".[postgres]"), which '
    "installs psycopg[binary]"
)


def supported_url(db_url: str) -> URL:
    """Return ``db_url`` parsed, refusing a database or driver placement does not support.

    ``postgresql://`` means ``postgresql+psycopg://`` (psycopg 3).

    Parameters
    ----------
    db_url
        SQLAlchemy URL.

    Returns
    -------
    sqlalchemy.engine.URL

    Raises
    ------
    DatabaseError
        Not a URL; a database other than SQLite or PostgreSQL; a PostgreSQL driver other than
        psycopg; or psycopg not installed (the message says how to install it).
    """
    try:
        url = make_url(db_url)
    except ArgumentError as err:
        msg = (
            f"not a database URL: {_safe_display(db_url)} ({err}); use sqlite:///path/placement.db "
            "or postgresql+psycopg://user@host/dbname"
        )
        raise DatabaseError(msg) from None
    backend, driver = url.get_backend_name(), url.get_driver_name()
    shown = url.render_as_string(hide_password=True)
    if backend == "sqlite":
        if driver != "pysqlite":
            msg = f"{shown}: the SQLite driver {driver!r} is not supported; use sqlite:///path.db"
            raise DatabaseError(msg)
        return url
    if backend == "postgresql":
        if "+" not in url.drivername:
            url = url.set(drivername=f"postgresql+{POSTGRES_DRIVER}")
        elif driver != POSTGRES_DRIVER:
            msg = (
                f"{shown}: the PostgreSQL driver {driver!r} is not supported; use "
                f"postgresql+{POSTGRES_DRIVER}://user@host/dbname ({_POSTGRES_INSTALL})"
            )
            raise DatabaseError(msg)
        try:
            import psycopg  # noqa: F401
        except ImportError:
            msg = (
                f"{shown} is a PostgreSQL database, but its driver (psycopg) is not installed: "
                f"{_POSTGRES_INSTALL}"
            )
            raise DatabaseError(msg) from None
        return url
    msg = (
        f"{shown}: the database {backend!r} is not supported; placement works with SQLite "
        "(sqlite:///path/placement.db) and PostgreSQL (postgresql+psycopg://user@host/dbname)"
    )
    raise DatabaseError(msg)


def make_engine(db_url: str | None = None, **kwargs: Any) -> Engine:
    """Create an engine for ``db_url`` with placement's per-connection settings.

    Does not look at the schema; use :func:`open_engine` for that.

    Parameters
    ----------
    db_url
        SQLAlchemy URL; ``None`` for :func:`default_db_url`.
    **kwargs
        Passed on to :func:`sqlalchemy.create_engine`.

    Returns
    -------
    sqlalchemy.Engine
        On SQLite: foreign keys on, WAL, busy timeout, and real transactions.
    """
    url = supported_url(db_url or default_db_url())
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
    return engine


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """Open a session in one write transaction: committed at the end, rolled back on error.

    On SQLite the transaction starts with ``BEGIN IMMEDIATE``, taking the write lock at once so
    that concurrent writers queue (for up to :data:`SQLITE_BUSY_TIMEOUT_MS`) instead of failing
    on upgrade from a read lock. Other databases use their default isolation.

    Parameters
    ----------
    engine
        Engine from :func:`open_engine` or :func:`make_engine`.

    Yields
    ------
    sqlalchemy.orm.Session
        Use it for every statement of the transaction.
    """
    bind = engine
    if engine.dialect.name == "sqlite":
        bind = engine.execution_options(placement_sqlite_begin="IMMEDIATE")
    with Session(bind, expire_on_commit=False) as session, session.begin():
        yield session


# --- Migrations ------------------------------------------------------------------------------


def alembic_config(db_url: str | None = None) -> Any:
    """Return an :class:`alembic.config.Config` for the migrations shipped with the package.

    No ``alembic.ini`` is needed: the script location is the package's ``migrations`` folder.

    Parameters
    ----------
    db_url
        SQLAlchemy URL; ``None`` for :func:`default_db_url`.

    Returns
    -------
    alembic.config.Config
    """
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    # configparser interpolates '%': escape it (URL-encoded passwords contain it).
    cfg.set_main_option("sqlalchemy.url", (db_url or default_db_url()).replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """Return the schema revision this version of placement needs (the newest migration)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(_SCRIPT_ONLY_URL)).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        msg = f"no migrations found in {MIGRATIONS_DIR}"
        raise PlacementError(msg)
    return head


def _run_alembic(db_url: str | None, fn: Any, revision: str, doing: str) -> None:
    from alembic.util import CommandError

    url = db_url or default_db_url()
    cfg = alembic_config(url)
    with database_errors(url, doing):
        engine = make_engine(url)
        try:
            with engine.begin() as connection:
                cfg.attributes["connection"] = connection
                fn(cfg, revision)
        except CommandError as err:
            msg = f"cannot {doing} the database at {display_url(url)} to {revision!r}: {err}"
            raise DatabaseError(msg) from err
        finally:
            engine.dispose()


def upgrade(db_url: str | None = None, *, revision: str = "head") -> str:
    """Create or upgrade the placement schema (``placement db upgrade``), in one transaction.

    Parameters
    ----------
    db_url
        SQLAlchemy URL; ``None`` for :func:`default_db_url`. A SQLite file is created if absent.
    revision
        Target revision; ``"head"`` (the default) is the newest.

    Returns
    -------
    str
        The revision the database is at afterwards.

    Raises
    ------
    DatabaseError
        The database cannot be reached, or ``revision`` is unknown; nothing was changed.
    """
    from alembic import command

    url = db_url or default_db_url()
    before = current_revision(url)
    _run_alembic(url, command.upgrade, revision, "upgrade")
    after = current_revision(url)
    logger.info("database %s upgraded from %s to %s", display_url(url), before or "empty", after)
    return after or ""


def downgrade(db_url: str | None = None, *, revision: str) -> str | None:
    """Downgrade the placement schema to ``revision`` (``"base"`` drops every placement table).

    Parameters
    ----------
    db_url
        SQLAlchemy URL; ``None`` for :func:`default_db_url`.
    revision
        Target revision, e.g. ``"0001"`` or ``"base"``.

    Returns
    -------
    str or None
        The revision afterwards (``None`` at base).
    """
    from alembic import command

    url = db_url or default_db_url()
    _run_alembic(url, command.downgrade, revision, "downgrade")
    return current_revision(url)


def _current_revision_on(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def current_revision(db_url: str | None = None) -> str | None:
    """Return the schema revision of the database, or ``None`` when it has no placement schema.

    Parameters
    ----------
    db_url
        SQLAlchemy URL; ``None`` for :func:`default_db_url`.
    """
    with database_errors(db_url, "read"):
        engine = make_engine(db_url)
        try:
            with engine.connect() as connection:
                return _current_revision_on(connection)
        finally:
            engine.dispose()


def _known_revisions() -> list[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(_SCRIPT_ONLY_URL))
    return [rev.revision for rev in script.walk_revisions()]


def require_current_schema(engine: Engine) -> None:
    """Raise :class:`SchemaOutdatedError` unless the database is at :func:`head_revision`.

    Parameters
    ----------
    engine
        Engine on the database to check.
    """
    url = engine.url.render_as_string(hide_password=True)
    with engine.connect() as connection:
        current = _current_revision_on(connection)
        tables = set(inspect(connection).get_table_names())
    head = head_revision()
    if current == head:
        return
    if current is None:
        found = sorted(tables & set(Base.metadata.tables))
        extra = f" (it has tables {', '.join(found)} but no schema revision)" if found else ""
        msg = (
            f"The database at {url} has no placement schema{extra}: "
            f"run `placement db upgrade --db {url}` to create it."
        )
        raise SchemaOutdatedError(msg)
    if current in _known_revisions():
        msg = (
            f"The database at {url} has schema revision {current} but this version of "
            f"placement needs {head}: run `placement db upgrade --db {url}` "
            "(back up the database first)."
        )
        raise SchemaOutdatedError(msg)
    msg = (
        f"The database at {url} has schema revision {current}, which this version of placement "
        f"does not know (it needs {head}): the database was upgraded by a newer placement; "
        "upgrade the placement package."
    )
    raise SchemaOutdatedError(msg)


def _missing_sqlite_file(backend: str, database: str | None) -> bool:
    """Whether a SQLite URL names a file that does not exist (connecting would create it)."""
    if backend != "sqlite" or not database or database == ":memory:":
        return False
    return not database.startswith("file:") and not Path(database).exists()


def open_engine(db_url: str | None = None, *, check_schema: bool = True) -> Engine:
    """Open the placement database, checking that its schema is current.

    Parameters
    ----------
    db_url
        SQLAlchemy URL (``sqlite:///path.db``, ``postgresql+psycopg://user@host/db``);
        ``None`` for ``$PLACEMENT_DB`` or ``sqlite:///placement.db``.
    check_schema
        Whether to raise when the schema is missing, older or newer than this package needs.

    Returns
    -------
    sqlalchemy.Engine

    Raises
    ------
    SchemaOutdatedError
        The schema is missing or out of date; the message names ``placement db upgrade``.
    DatabaseError
        The database cannot be reached or is not a database.
    """
    with database_errors(db_url, "open"):
        url = make_url(db_url or default_db_url())
        if check_schema and _missing_sqlite_file(url.get_backend_name(), url.database):
            shown = url.render_as_string(hide_password=True)
            msg = (
                f"There is no database file at {url.database}: "
                f"run `placement db upgrade --db {shown}` to create it."
            )
            raise SchemaOutdatedError(msg)
        engine = make_engine(db_url)
        if check_schema:
            try:
                require_current_schema(engine)
            except BaseException:
                engine.dispose()
                raise
    return engine
