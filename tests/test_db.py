"""Schema, migrations and engines of placement.db (SQLite files; PostgreSQL as offline SQL)."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from placement import db, store

PLACEMENT_TABLES = {
    "datasets",
    "dataset_files",
    "scenarios",
    "runs",
    "proposals",
    "decisions",
    "allocations",
    "audit_log",
    "residence_history",
}


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.as_posix()}"


@pytest.fixture
def url(tmp_path: Path) -> str:
    return sqlite_url(tmp_path / "placement.db")


def tables(url: str) -> set[str]:
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_creates_every_table_then_downgrade_removes_them(url: str) -> None:
    assert db.current_revision(url) is None
    assert db.upgrade(url) == db.head_revision()
    assert tables(url) >= PLACEMENT_TABLES | {db.VERSION_TABLE}
    # upgrading again is a no-op
    assert db.upgrade(url) == db.head_revision()

    assert db.downgrade(url, revision="0001") == "0001"
    engine = db.make_engine(url)
    with engine.connect() as connection:
        names = {ix["name"] for ix in inspect(connection).get_indexes("audit_log")}
    engine.dispose()
    assert "ix_audit_log_entity_entity_id" not in names

    assert db.downgrade(url, revision="base") is None
    assert not (tables(url) & PLACEMENT_TABLES)
    # the audit-log triggers went with the table
    with sqlite3.connect(url.removeprefix("sqlite:///")) as con:
        triggers = con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()
    assert triggers == []
    assert db.upgrade(url) == db.head_revision()
    assert tables(url) >= PLACEMENT_TABLES


def test_models_match_the_migrations(url: str) -> None:
    db.upgrade(url)
    engine = db.make_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": db.VERSION_TABLE, "compare_type": True}
        )
        diff = compare_metadata(context, db.Base.metadata)
    engine.dispose()
    assert diff == []


def test_constraint_names_follow_the_convention(url: str) -> None:
    db.upgrade(url)
    with sqlite3.connect(url.removeprefix("sqlite:///")) as con:
        sql = con.execute("SELECT sql FROM sqlite_master WHERE name = 'decisions'").fetchone()[0]
    assert "CONSTRAINT ck_decisions_action CHECK" in sql


def test_open_engine_on_an_empty_file_names_the_upgrade_command(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    with pytest.raises(db.SchemaOutdatedError, match="has no placement schema") as info:
        db.open_engine(sqlite_url(path))
    assert f"placement db upgrade --db {sqlite_url(path)}" in str(info.value)


def test_open_engine_on_a_missing_file_does_not_create_it(tmp_path: Path) -> None:
    path = tmp_path / "typo.db"
    with pytest.raises(db.SchemaOutdatedError, match="no database file") as info:
        db.open_engine(sqlite_url(path))
    assert "placement db upgrade --db" in str(info.value)
    assert not path.exists()


def test_open_engine_on_tables_without_revision(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY)")
    with pytest.raises(db.SchemaOutdatedError, match=r"tables runs but no schema revision"):
        db.open_engine(sqlite_url(path))


def test_open_engine_on_an_older_schema(url: str) -> None:
    db.upgrade(url, revision="0001")
    with pytest.raises(db.SchemaOutdatedError) as info:
        db.open_engine(url)
    message = str(info.value)
    assert "revision 0001" in message
    assert f"needs {db.head_revision()}" in message
    assert "placement db upgrade" in message
    db.upgrade(url)
    db.open_engine(url).dispose()


def test_open_engine_on_a_newer_schema(url: str) -> None:
    db.upgrade(url)
    with sqlite3.connect(url.removeprefix("sqlite:///")) as con:
        con.execute(f"UPDATE {db.VERSION_TABLE} SET version_num = '9999'")
    with pytest.raises(db.SchemaOutdatedError, match="upgrade the placement package"):
        db.open_engine(url)


def test_not_a_database_and_bad_urls_give_database_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"this is not a SQLite database, just some text" * 50)
    with pytest.raises(db.DatabaseError, match="cannot open the database"):
        db.open_engine(sqlite_url(path))
    with pytest.raises(db.DatabaseError, match="file is not a database"):
        db.upgrade(sqlite_url(path))
    with pytest.raises(db.DatabaseError, match="not a usable database URL"):
        db.open_engine("no-such-dialect://x/y")
    with pytest.raises(db.DatabaseError, match="not a usable database URL"):
        db.open_engine("not a url")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@h/db", "'mysql' is not supported; placement works with SQLite"),
        ("postgresql+psycopg2://u@h/db", "driver 'psycopg2' is not supported"),
        ("mssql+pyodbc://u:secret@h/db", "'mssql' is not supported"),
    ],
)
def test_unsupported_databases_get_a_message_not_a_traceback(url: str, message: str) -> None:
    for call in (db.open_engine, db.upgrade, db.current_revision):
        with pytest.raises(db.DatabaseError, match=message) as info:
            call(url)
        assert "secret" not in str(info.value)


def test_postgresql_without_its_driver_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed
    for url in ("postgresql+psycopg://u:secret@127.0.0.1/placement", "postgresql://u@h/db"):
        with pytest.raises(db.DatabaseError, match=r"driver \(psycopg\) is not installed: pip "
                           r"install \"placement\[postgres\]\"") as info:
            db.open_engine(url)
        assert "secret" not in str(info.value)
    from placement.cli import main

    assert main(["db", "upgrade", "--db", "postgresql+psycopg://u@127.0.0.1/placement"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: postgresql+psycopg://u@127.0.0.1/placement is a PostgreSQL")
    assert "Traceback" not in err


def test_upgrade_to_an_unknown_revision_is_a_database_error(url: str) -> None:
    with pytest.raises(db.DatabaseError, match="'0042'"):
        db.upgrade(url, revision="0042")
    assert db.current_revision(url) is None


def test_default_url_is_a_file_in_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(db.DB_ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    assert db.default_db_url() == sqlite_url(tmp_path / "placement.db")
    db.upgrade()
    assert (tmp_path / "placement.db").is_file()
    db.open_engine().dispose()
    monkeypatch.setenv(db.DB_ENV_VAR, "sqlite:///elsewhere.db")
    assert db.default_db_url() == "sqlite:///elsewhere.db"


def test_sqlite_connections_enforce_foreign_keys(url: str) -> None:
    db.upgrade(url)
    engine = db.open_engine(url)
    with pytest.raises(DBAPIError, match="FOREIGN KEY"), db.write_session(engine) as session:
        session.execute(
            text(
                "INSERT INTO dataset_files (dataset_id, path, sha256, size_bytes) "
                "VALUES (999, 'a', 'b', 1)"
            )
        )
    engine.dispose()


def test_write_session_takes_the_write_lock_at_begin(url: str) -> None:
    db.upgrade(url)
    engine = db.open_engine(url)
    other = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0, isolation_level=None)
    try:
        with db.write_session(engine) as session:
            # Only a read so far, yet the transaction holds the write lock (BEGIN IMMEDIATE).
            timeout = session.connection().exec_driver_sql("PRAGMA busy_timeout").scalar_one()
            assert timeout == db.SQLITE_BUSY_TIMEOUT_MS
            other.execute("BEGIN")
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("INSERT INTO datasets VALUES (1, 'x', 'x', 'x', 'x', 'x', 'x')")
            other.execute("ROLLBACK")
        # once committed, the other connection can write
        other.execute("INSERT INTO datasets VALUES (1, 'x', 'x', 'x', 'x', 'x', 'x')")
    finally:
        other.close()
        engine.dispose()


def test_audit_log_is_append_only(url: str, tmp_path: Path) -> None:
    db.upgrade(url)
    engine = db.open_engine(url)
    store.save_scenario(engine, name="base", definition={"a": 1}, user="anna")
    before = store.audit_entries(engine)
    assert len(before) == 1
    for sql in (
        "UPDATE audit_log SET user = 'mallory'",
        "DELETE FROM audit_log",
    ):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(sql))
    after = store.audit_entries(engine)
    assert after.to_dict(orient="records") == before.to_dict(orient="records")
    engine.dispose()


def offline_sql(url: str, *, downgrade: bool = False) -> str:
    cfg = db.alembic_config(url)
    buffer = io.StringIO()
    cfg.output_buffer = buffer
    if downgrade:
        command.downgrade(cfg, f"{db.head_revision()}:base", sql=True)
    else:
        command.upgrade(cfg, "head", sql=True)
    return buffer.getvalue()


def test_postgresql_migration_has_no_sqlite_sql() -> None:
    # No PostgreSQL server in the tests: render the migration as PostgreSQL SQL instead.
    sql = offline_sql("postgresql://user@localhost/placement")
    assert "CREATE FUNCTION placement_audit_log_append_only()" in sql
    assert "BEFORE UPDATE OR DELETE ON audit_log" in sql
    assert (
        "CREATE UNIQUE INDEX uq_allocations_active_dwelling ON allocations "
        "(dataset_id, dwelling_id) WHERE active" in sql
    )
    assert '"user" VARCHAR(200) NOT NULL' in sql
    assert "ck_decisions_action CHECK" in sql
    assert (
        "CREATE UNIQUE INDEX uq_allocations_active_municipality_dwelling ON allocations "
        "(municipality, dwelling_id) WHERE active" in sql
    )
    assert "BEFORE UPDATE OR DELETE ON decisions" in sql
    for sqlite_only in ("RAISE(ABORT", "PRAGMA", "sqlite", "active = 1", "AUTOINCREMENT"):
        assert sqlite_only not in sql
    down = offline_sql("postgresql://user@localhost/placement", downgrade=True)
    assert "DROP FUNCTION IF EXISTS placement_audit_log_append_only()" in down
    assert "DROP TABLE datasets" in down


def test_sqlite_migration_has_no_postgresql_sql() -> None:
    sql = offline_sql("sqlite:///offline.db")
    assert "RAISE(ABORT, 'audit_log is append-only" in sql
    assert "RAISE(ABORT, 'decisions are append-only" in sql
    assert "WHERE active = 1" in sql
    assert "plpgsql" not in sql
