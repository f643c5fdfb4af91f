from __future__ import annotations

import dataclasses

import pytest

from placement._errors import ConfigError
from placement.config import PRESETS, Policy, describe_policy, load_policy


@pytest.mark.parametrize("name", PRESETS)
def test_presets_load(name):
    p = load_policy(name)
    assert p.name.lower() == name
    assert p.description


def test_presets_serve_their_goals():
    assert load_policy("stevns").rules.availability_tolerance_days == 0
    assert load_policy("stevns").rules.permanent_only
    k = load_policy("kalundborg")
    assert "vulnerable" in k.rules.excluded_area_kinds
    assert k.rules.max_households_per_building == 1
    assert k.weights.spread == max(dataclasses.asdict(k.weights).values())
    v = load_policy("vordingborg").weights
    assert v.community == max(dataclasses.asdict(v).values())
    n = load_policy("norddjurs")
    assert n.weights.family == max(dataclasses.asdict(n.weights).values())
    assert n.scoring.family_zero_min == 15


def test_every_problem_is_listed_with_file_and_key(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text(
        "[rules]\nmax_area_share = 1.5\nsize_fit = 'yes'\nfoo = 1\n"
        "excluded_area_kinds = ['slum']\n[rules.rent_ceiling_dkk]\nsingle = -5\n"
        "[weights]\ntransit = -1\n[scoring]\npt_full_min = 90\n[extra]\n",
        encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_policy(f)
    msg = str(err.value)
    for key in ("rules.max_area_share: must be <= 1, got 1.5",
                "rules.size_fit: must be true or false",
                "rules.foo: unknown key",
                "rules.excluded_area_kinds: unknown kind(s) 'slum'",
                "rules.rent_ceiling_dkk.single: must be > 0",
                "weights.transit: must be >= 0",
                "scoring.pt_full_min: must be < scoring.pt_zero_min",
                "extra: unknown table"):
        assert f"bad.toml: {key}" in msg
    assert msg.startswith("8 problems in the policy:")


def test_invalid_toml_and_missing_file(tmp_path):
    f = tmp_path / "broken.toml"
    f.write_text("[rules\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.toml: not valid TOML"):
        load_policy(f)
    with pytest.raises(ConfigError, match="no such policy file, and not a preset name"):
        load_policy(tmp_path / "nope.toml")


def test_integers_accepted_for_numbers_but_not_the_reverse():
    p = Policy.from_dict({"solver": {"time_limit_s": 5}})
    assert p.solver.time_limit_s == 5.0
    with pytest.raises(ConfigError, match=r"solver\.threads: must be a whole number"):
        Policy.from_dict({"solver": {"threads": 1.5}})


def test_overrides_are_checked():
    p = Policy().with_overrides(rules={"area_cap": False})
    assert not p.rules.area_cap
    with pytest.raises(ConfigError, match=r"rules\.max_persons_per_room"):
        Policy().with_overrides(rules={"min_persons_per_room": 3.0})


def test_describe_policy_documents_every_key():
    rows = describe_policy()
    keys = {r["key"] for r in rows}
    assert "rules.rent_ceiling_dkk.family" in keys
    assert "solver.candidate_limit" in keys
    assert all(r["doc"] for r in rows)
    # every key the default preset sets is documented
    assert {"rules.max_area_share", "weights.spread", "solver.mip_gap"} <= keys
    by_key = {r["key"]: r for r in rows}
    assert by_key["rules.max_area_share"]["unit"] == "share of population"
    assert by_key["rules.max_area_share"]["default"] == "0.05"
