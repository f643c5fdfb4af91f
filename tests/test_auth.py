"""Users file: hashed passwords only, roles and their permissions, failed sign-ins logged."""

from __future__ import annotations

import hashlib
import logging
import statistics
import time

import pytest

from placement import auth, db, settings, signin, store
from placement._errors import ConfigError


def test_add_and_authenticate(tmp_path, caplog):
    path = tmp_path / "users.toml"
    auth.add_user(path, "mette", "s3cret-long-enough", "coordinator", name="Mette")
    auth.add_user(path, "per", "another-one-here", "planner")
    text = path.read_text(encoding="utf-8")
    assert "s3cret-long-enough" not in text
    assert "scrypt$" in text
    store = auth.load_users(path)
    user = store.authenticate("mette", "s3cret-long-enough")
    assert user is not None
    assert user.role == "coordinator"
    assert user.can("decide")
    with caplog.at_level(logging.WARNING, logger="placement.auth"):
        assert store.authenticate("mette", "wrong") is None
        assert store.authenticate("nobody", "x") is None
    assert "failed sign-in for user 'mette'" in caplog.text
    planner = store.authenticate("per", "another-one-here")
    assert planner is not None
    assert not planner.can("households")
    assert planner.can("scenarios")


def test_roles_permissions():
    assert auth.ROLES["viewer"] == frozenset({"aggregates"})
    assert "households" not in auth.ROLES["planner"]
    assert auth.User("v", "V", "viewer").can("aggregates")
    assert not auth.User("v", "V", "viewer").can("scenarios")


def test_plain_password_and_bad_role_are_refused(tmp_path):
    path = tmp_path / "users.toml"
    path.write_text('[users.a]\nrole = "admin"\npassword = "hunter2"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        auth.load_users(path)
    assert "users.toml: users.a.role: must be one of" in str(exc.value)
    assert "users.toml: users.a.password: must be a hash" in str(exc.value)


def test_hash_is_salted_and_verifies():
    a, b = auth.hash_password("pw"), auth.hash_password("pw")
    assert a != b
    assert auth.verify_password("pw", a)
    assert auth.verify_password("pw", b)
    assert not auth.verify_password("pw ", a)
    assert not auth.verify_password("pw", "garbage")


# --- cost, upgrade of old hashes, timing -----------------------------------------------------


def test_default_cost_is_owasp_minimum(monkeypatch):
    monkeypatch.setattr(settings, "cheap_password_hashes_for_tests", False)
    encoded = auth.hash_password("correct horse battery")
    assert encoded.split("$")[1:4] == [str(2**17), "8", "1"]
    assert auth.verify_password("correct horse battery", encoded)
    assert not auth.needs_rehash(encoded)


def test_an_old_hash_is_upgraded_on_the_next_sign_in(tmp_path, engine):
    path = tmp_path / "users.toml"
    old = hashlib.scrypt(b"old-but-long-password", salt=b"0" * 16, n=2**14, r=8, p=1, dklen=32)
    path.write_text('[users.mette]\nrole = "coordinator"\npassword = "scrypt$16384$8$1$'
                    f'{(b"0" * 16).hex()}${old.hex()}"\n', encoding="utf-8")
    assert auth.needs_rehash(auth.load_users(path).password_hash("mette"))
    result = signin.sign_in(engine, auth.load_users(path), "mette", "old-but-long-password")
    assert result.status == "ok"
    new = auth.load_users(path).password_hash("mette")
    assert not auth.needs_rehash(new)
    assert new == result.password_hash
    assert auth.load_users(path).authenticate("mette", "old-but-long-password") is not None
    logged = store.audit_entries(engine)
    assert logged["action"].tolist() == ["signin.ok"]
    assert logged["details"].iloc[0]["hash_upgraded"] is True


def test_unknown_user_costs_a_hash_check_like_a_wrong_password(tmp_path, monkeypatch):
    monkeypatch.setattr(auth, "TEST_SCRYPT_N", 2**14)  # costly enough to time (about 40 ms)
    path = tmp_path / "users.toml"
    auth.add_user(path, "mette", "s3cret-long-enough", "coordinator")
    users = auth.load_users(path)
    checked: list[str] = []
    real = auth.verify_password

    def spy(password: str, encoded: str) -> bool:
        checked.append(encoded)
        return real(password, encoded)

    monkeypatch.setattr(auth, "verify_password", spy)
    assert users.authenticate("nobody", "whatever-typed") is None
    assert users.authenticate("mette", "wrong-password-typed") is None
    assert len(checked) == 2
    # the same cost for both: the dummy hash is of the current parameters
    assert checked[0].split("$")[1:4] == checked[1].split("$")[1:4]
    monkeypatch.setattr(auth, "verify_password", real)

    def median_time(name: str) -> float:
        times = []
        for _ in range(7):
            start = time.perf_counter()
            users.authenticate(name, "wrong-password-typed")
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    unknown, wrong = median_time("nobody"), median_time("mette")
    assert unknown > 0.5 * wrong  # was 0.004 ms against 120 ms before


# --- writing the users file ------------------------------------------------------------------


def test_a_quote_in_the_name_and_a_crafted_email_cannot_break_the_file(tmp_path):
    path = tmp_path / "users.toml"
    auth.add_user(path, "per", "planner-password", "planner",
                  name='Per "the planner" \\ Østergård')
    auth.add_user(path, "vera", "viewer-password", "viewer",
                  name='x"\nrole = "coordinator"\n[users.evil]\nrole = "coordinator"'
                  .replace("\n", " "))
    users = auth.load_users(path)
    assert sorted(users.users) == ["per", "vera"]
    assert users.users["per"][0].name == 'Per "the planner" \\ Østergård'
    assert users.users["vera"][0].role == "viewer"
    crafted = 'a@b.dk"\n[users.evil]\nrole = "coordinator"\npassword = "scrypt$1$1$1$00$00'
    with pytest.raises(ConfigError, match="not an e-mail address"):
        auth.add_user(path, "evil2", "evil-password-long", "viewer", email=crafted)
    with pytest.raises(ConfigError, match="user name"):
        auth.add_user(path, 'x"]\n[users.y', "evil-password-long", "viewer")
    assert sorted(auth.load_users(path).users) == ["per", "vera"]
    assert all(u.role != "coordinator" for u, _ in auth.load_users(path).users.values())


@pytest.mark.parametrize("password", ["", "   ", "short", "mette"])
def test_empty_short_or_obvious_passwords_are_refused(tmp_path, password):
    path = tmp_path / "users.toml"
    with pytest.raises(ConfigError, match="password"):
        auth.add_user(path, "mette", password, "coordinator")
    assert not path.exists()


def test_remove_and_new_password_take_effect_without_a_restart(tmp_path):
    path = tmp_path / "users.toml"
    auth.add_user(path, "mette", "s3cret-long-enough", "coordinator")
    auth.add_user(path, "per", "planner-password", "planner")
    live = auth.UsersFile(path)
    mette = live.current().authenticate("mette", "s3cret-long-enough")
    assert mette is not None
    auth.set_password(path, "mette", "a-new-long-password")
    assert live.current().authenticate("mette", "s3cret-long-enough") is None
    assert live.current().authenticate("mette", "a-new-long-password") is not None
    auth.remove_user(path, "mette")
    assert live.current().current(mette) is None
    assert live.current().authenticate("mette", "a-new-long-password") is None
    with pytest.raises(ConfigError, match="no user"):
        auth.remove_user(path, "mette")
    with pytest.raises(ConfigError, match="no user"):
        auth.set_password(path, "nobody", "a-new-long-password")


# --- throttling, lockout, audit log ----------------------------------------------------------


@pytest.fixture
def engine(tmp_path):
    url = f"sqlite:///{(tmp_path / 'placement.db').as_posix()}"
    db.upgrade(url)
    engine = db.open_engine(url)
    yield engine
    engine.dispose()


def test_wrong_passwords_slow_down_then_lock_out_and_are_logged(tmp_path, engine):
    path = tmp_path / "users.toml"
    auth.add_user(path, "mette", "s3cret-long-enough", "coordinator")
    users = auth.load_users(path)
    waits: list[float] = []
    for _ in range(signin.MAX_FAILURES_PER_USER):
        result = signin.sign_in(engine, users, "mette", "wrong", client="10.0.0.1",
                                sleep=waits.append)
        assert result.status == "failed"
    assert waits == [0.5, 1.0, 2.0, 4.0]  # before the 2nd, 3rd, 4th and 5th attempt
    # now even the right password is refused for a while
    locked = signin.sign_in(engine, users, "mette", "s3cret-long-enough", client="10.0.0.2",
                            sleep=waits.append)
    assert locked.status == "locked"
    assert 0 < locked.retry_after_s <= signin.WINDOW.total_seconds()
    # another user is not locked (the client is, only after many more failures)
    auth.add_user(path, "per", "planner-password", "planner")
    ok = signin.sign_in(engine, auth.load_users(path), "per", "planner-password",
                        client="10.0.0.1", sleep=waits.append)
    assert ok.status == "ok"
    assert ok.user is not None
    assert ok.user.username == "per"
    log = store.audit_entries(engine)
    assert log["action"].tolist() == ["signin.failed"] * 5 + ["signin.locked", "signin.ok"]
    assert log["entity_id"].tolist() == ["mette"] * 6 + ["per"]
    assert log["details"].iloc[0]["client"] == "10.0.0.1"
    assert log["at"].notna().all()


def test_lockout_per_client_and_a_cpr_typed_as_user_name_is_masked(tmp_path, engine):
    users = auth.load_users(_users(tmp_path))
    for i in range(signin.MAX_FAILURES_PER_CLIENT):
        assert signin.sign_in(engine, users, f"guess{i}", "x", client="10.9.9.9",
                              sleep=lambda _s: None).status == "failed"
    assert signin.sign_in(engine, users, "mette", "s3cret-long-enough", client="10.9.9.9",
                          sleep=lambda _s: None).status == "locked"
    assert signin.sign_in(engine, users, "mette", "s3cret-long-enough", client="10.1.1.1",
                          sleep=lambda _s: None).status == "ok"
    signin.sign_in(engine, users, "010190-1234", "x", client="10.1.1.1", sleep=lambda _s: None)
    last = store.audit_entries(engine).iloc[-1]
    assert last["entity_id"] == "010190-****"


def test_a_success_clears_the_user_count(tmp_path, engine):
    users = auth.load_users(_users(tmp_path))
    for _ in range(signin.MAX_FAILURES_PER_USER - 1):
        signin.sign_in(engine, users, "mette", "wrong", sleep=lambda _s: None)
    assert signin.sign_in(engine, users, "mette", "s3cret-long-enough",
                          sleep=lambda _s: None).status == "ok"
    waits: list[float] = []
    assert signin.sign_in(engine, users, "mette", "wrong", sleep=waits.append).status == "failed"
    assert signin.sign_in(engine, users, "mette", "wrong", sleep=waits.append).status == "failed"
    assert waits == [0.5]  # one failure since the success, not five


def _users(tmp_path):
    path = tmp_path / "users.toml"
    auth.add_user(path, "mette", "s3cret-long-enough", "coordinator")
    return path


def test_household_rows_are_refused_to_a_role_without_them():
    viewer = auth.User("vera", "Vera", "viewer")
    with auth.acting_as(viewer):
        with pytest.raises(auth.PermissionDeniedError, match="vera \\(viewer\\) may not see"):
            auth.require("households", "household-level proposals")
        with auth.aggregating():
            auth.require("households", "household-level proposals")
    with auth.acting_as(auth.User("m", "M", "coordinator")):
        auth.require("households", "household-level proposals")
    auth.require("households", "household-level proposals")  # nobody acting: the operator


def test_cli_user_add_passwd_remove(tmp_path, capsys):
    from placement.cli import main

    path = tmp_path / "users.toml"
    assert main(["user", "add", "mette", "--role", "coordinator", "--users", str(path),
                 "--password", ""]) == 1
    assert "password is empty" in capsys.readouterr().err
    assert not path.exists()
    assert main(["user", "add", "mette", "--role", "coordinator", "--users", str(path),
                 "--password", "s3cret-long-enough", "--name", 'Mette "M" Ø']) == 0
    assert main(["user", "add", "x", "--role", "viewer", "--users", str(path),
                 "--password", "s3cret-long-enough",
                 "--email", 'a@b.dk"\n[users.evil]\nrole = "coordinator"']) == 1
    assert main(["user", "passwd", "mette", "--users", str(path),
                 "--password", "another-long-password"]) == 0
    assert auth.load_users(path).authenticate("mette", "another-long-password") is not None
    assert main(["user", "remove", "mette", "--users", str(path)]) == 0
    assert auth.load_users(path).users == {}
    assert main(["user", "remove", "mette", "--users", str(path)]) == 1
    assert "no user 'mette'" in capsys.readouterr().err
