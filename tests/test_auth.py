"""Users file: hashed passwords only, roles and their permissions, failed sign-ins logged."""

from __future__ import annotations

import logging

import pytest

from placement import auth
from placement._errors import ConfigError


def test_add_and_authenticate(tmp_path, caplog):
    path = tmp_path / "users.toml"
    auth.add_user(path, "mette", "s3cret-long", "coordinator", name="Mette")
    auth.add_user(path, "per", "another-one", "planner")
    text = path.read_text(encoding="utf-8")
    assert "s3cret-long" not in text
    assert "scrypt$" in text
    store = auth.load_users(path)
    user = store.authenticate("mette", "s3cret-long")
    assert user is not None
    assert user.role == "coordinator"
    assert user.can("decide")
    with caplog.at_level(logging.WARNING, logger="placement.auth"):
        assert store.authenticate("mette", "wrong") is None
        assert store.authenticate("nobody", "x") is None
    assert "failed sign-in for user 'mette'" in caplog.text
    planner = store.authenticate("per", "another-one")
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
