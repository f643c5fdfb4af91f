"""The store on a real PostgreSQL server, started by the test on 127.0.0.1 in a temporary folder.

Needs Debian's ``postgresql`` package (``initdb`` and ``pg_ctl`` under
``/usr/lib/postgresql/<version>/bin``); skipped cleanly where those server binaries are absent.
The driver (psycopg) is part of the ``dev`` and ``postgres`` extras, so a missing driver fails.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from placement import db, store

pytestmark = pytest.mark.postgres
PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"


def _pg_bin() -> Path | None:
    found = sorted(Path("/").glob(PG_BIN_GLOB.lstrip("/")),
                   key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    found = [p for p in found if (p / "initdb").exists() and (p / "pg_ctl").exists()]
    return found[-1] if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user(cmd: list[str]) -> list[str]:
    # The server refuses to run as root: run it as Debian's postgres user then.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@pytest.fixture(scope="module")
def server() -> Iterator[dict[str, str]]:
    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries are absent (Debian: apt-get install postgresql)")
    import psycopg  # noqa: F401 - the driver must be installed (dev and postgres extras)

    root = Path(tempfile.mkdtemp(prefix="placement-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    root.chmod(0o700)
    superuser = "postgres" if os.geteuid() == 0 else getpass.getuser()
    subprocess.run(
        _as_server_user([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U",
                         superuser, "-E", "UTF8", "--no-instructions"]),
        check=True, capture_output=True,
    )
    port = _free_port()
    subprocess.run(
        _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"),
                         "-w", "-t", "60", "-o",
                         f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off",
                         "start"]),
        check=True, capture_output=True,
    )
    try:
        yield {"base": f"postgresql+psycopg://{superuser}@127.0.0.1:{port}",
               "superuser": superuser, "port": str(port)}
    finally:
        subprocess.run(
            _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w",
                             "stop"]),
            check=False, capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


_counter = {"n": 0}


@pytest.fixture
def pg_url(server: dict[str, str]) -> str:
    """A new, empty database on the server, upgraded to the current schema."""
    import psycopg

    _counter["n"] += 1
    name = f"placement_test_{_counter['n']}"
    with psycopg.connect(f"host=127.0.0.1 port={server['port']} user={server['superuser']} "
                         "dbname=postgres", autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    url = f"{server['base']}/{name}"
    assert db.upgrade(url) == db.head_revision()
    return url


def _run(url: str) -> tuple[int, int]:
    from test_store import SUMMARY, make_proposals, write_dataset

    engine = db.open_engine(url)
    folder = Path(tempfile.mkdtemp(prefix="placement-pg-ds-"))
    dataset_id = store.register_dataset(engine, write_dataset(folder / "ds"), user="t")
    run_id = store.save_run(engine, dataset_id, summary=SUMMARY, proposals=make_proposals(),
                            policy={}, user="t")
    engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)
    return dataset_id, run_id


def test_schema_on_postgresql_matches_the_models(pg_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = db.make_engine(pg_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": db.VERSION_TABLE, "compare_type": True}
        )
        diff = compare_metadata(context, db.Base.metadata)
    engine.dispose()
    assert diff == []
    assert db.downgrade(pg_url, revision="base") is None
    assert db.upgrade(pg_url) == db.head_revision()


def test_racing_deciders_on_postgresql(pg_url: str) -> None:
    import test_store

    _, run_id = _run(pg_url)
    test_store.test_racing_deciders_book_a_dwelling_once(pg_url, run_id)


def test_two_people_deciding_at_once_on_postgresql(pg_url: str) -> None:
    import test_store

    _, run_id = _run(pg_url)
    test_store.test_two_people_deciding_at_once_on_two_connections(pg_url, run_id)


def test_thirty_races_across_two_versions_of_the_data_book_each_dwelling_once(
    pg_url: str,
) -> None:
    from test_store import SUMMARY, make_proposals, write_dataset

    engine = db.open_engine(pg_url)
    folder = Path(tempfile.mkdtemp(prefix="placement-pg-ds-"))
    ds1 = store.register_dataset(engine, write_dataset(folder / "v1"), user="t")
    v2 = write_dataset(folder / "v2")
    (v2 / "households.csv").write_text("household_id,adults\nH000,2\nH099,1\n", encoding="utf-8")
    ds2 = store.register_dataset(engine, v2, user="t")
    assert ds1 != ds2
    runs = [store.save_run(engine, ds, summary=SUMMARY, proposals=make_proposals(6, unplaced=()),
                           policy={}) for ds in (ds1, ds2)]
    engines = [db.open_engine(pg_url) for _ in range(6)]
    outcomes: list[tuple[str, str, str]] = []
    lock = threading.Lock()

    def decide(i: int, barrier: threading.Barrier, dwelling: str) -> None:
        barrier.wait(20)
        household = f"H00{i}"
        try:
            store.decide(engines[i], run_id=runs[i % 2], household_id=household,
                         dwelling_id=dwelling, action="approve", user=f"user{i}")
            result = "booked"
        except store.DecisionConflictError:
            result = "conflict"
        with lock:
            outcomes.append((dwelling, household, result))

    for race in range(30):
        dwelling = f"D00{race % 6}"
        barrier = threading.Barrier(len(engines))
        threads = [threading.Thread(target=decide, args=(i, barrier, dwelling))
                   for i in range(len(engines))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        held = store.active_allocations(engine, ds1)
        assert held["dwelling_id"].is_unique
        assert held["household_id"].is_unique
        # release what was booked so the next race starts clean
        for row in held.itertuples():
            store.release(engine, dataset_id=ds2, household_id=row.household_id, user="t",
                          reason="next race")
    booked = [o for o in outcomes if o[2] == "booked"]
    assert len(booked) == 30  # exactly one winner per race
    assert len(outcomes) == 30 * len(engines)
    for e in engines:
        e.dispose()
    engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)


def test_decisions_and_audit_log_are_append_only_on_postgresql(pg_url: str) -> None:
    _, run_id = _run(pg_url)
    engine = db.open_engine(pg_url)
    store.decide(engine, run_id=run_id, household_id="H000", dwelling_id=None,
                 action="approve", user="anna", reason="fits")
    for sql in ("UPDATE decisions SET reason = 'edited'", "DELETE FROM decisions",
                "TRUNCATE decisions CASCADE", "UPDATE audit_log SET \"user\" = 'x'",
                "DELETE FROM audit_log", "TRUNCATE audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(sql))
    assert store.decisions_for(engine, 1)["reason"].tolist() == ["fits"]
    engine.dispose()


def test_an_app_role_without_update_or_delete_works(pg_url: str, server: dict[str, str]) -> None:
    """The README's least-privilege role: decides and writes the log, cannot edit either."""
    _, run_id = _run(pg_url)
    admin = db.make_engine(pg_url)
    name = pg_url.rsplit("/", 1)[1]
    with admin.begin() as connection:
        for sql in (
            "CREATE ROLE placement_app LOGIN",
            f"GRANT CONNECT ON DATABASE {name} TO placement_app",
            "GRANT USAGE ON SCHEMA public TO placement_app",
            "GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO placement_app",
            "GRANT UPDATE ON allocations TO placement_app",
            "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO placement_app",
        ):
            connection.execute(text(sql))
    admin.dispose()
    app_url = f"postgresql+psycopg://placement_app@127.0.0.1:{server['port']}/{name}"
    app = db.open_engine(app_url)
    store.decide(app, run_id=run_id, household_id="H000", dwelling_id=None, action="approve",
                 user="anna")
    store.decide(app, run_id=run_id, household_id="H000", dwelling_id=None, action="undo",
                 user="anna", reason="changed my mind")
    for sql in ("UPDATE decisions SET reason = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="permission denied"), app.begin() as connection:
            connection.execute(text(sql))
    assert len(store.decisions_for(app, 1)) == 2
    app.dispose()
    admin = db.make_engine(pg_url)
    with admin.begin() as connection:
        connection.execute(text("DROP OWNED BY placement_app"))
        connection.execute(text("DROP ROLE placement_app"))
    admin.dispose()


def test_upgrade_of_an_old_database_with_a_double_booking_on_postgresql(
    server: dict[str, str],
) -> None:
    import psycopg

    _counter["n"] += 1
    name = f"placement_old_{_counter['n']}"
    with psycopg.connect(f"host=127.0.0.1 port={server['port']} user={server['superuser']} "
                         "dbname=postgres", autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    url = f"{server['base']}/{name}"
    db.upgrade(url, revision="0002")
    engine = db.make_engine(url)
    with engine.begin() as connection:
        for i in (1, 2):
            connection.execute(text(
                "INSERT INTO datasets (id, name, source_path, content_sha256, created_at, "
                f"created_by) VALUES ({i}, 'Havnsø', '/nonexistent', 'h{i}', now(), 't')"))
            connection.execute(text(
                "INSERT INTO decisions (id, dataset_id, household_id, dwelling_id, action, "
                f"decided_by, decided_at, reason) VALUES ({i}, {i}, 'H{i}', 'D0184', 'approve', "
                "'anna', now(), '')"))
            connection.execute(text(
                "INSERT INTO allocations (id, dataset_id, household_id, dwelling_id, action, "
                f"decision_id, active) VALUES ({i}, {i}, 'H{i}', 'D0184', 'approve', {i}, true)"))
        connection.execute(text("SELECT setval('decisions_id_seq', 2)"))
    engine.dispose()
    assert db.upgrade(url) == db.head_revision()
    engine = db.open_engine(url)
    held = store.active_allocations(engine, 2)
    assert held[["household_id", "dwelling_id"]].values.tolist() == [["H1", "D0184"]]
    undo = store.decisions_for(engine, 1).iloc[-1]
    assert (undo["action"], undo["household_id"], undo["decided_by"]) == (
        "undo", "H2", "placement db upgrade")
    engine.dispose()
