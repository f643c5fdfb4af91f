"""Decisions hold per municipality across dataset versions; unknown dwellings and CPR refused."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from placement import db, decisions, store

SUMMARY = {"status": "optimal", "objective": 1.0}


def write_version(folder: Path, households: list[str], dwellings: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dataset.toml").write_text(
        '[municipality]\nname = "Havnsø"\ncode = "0999"\n'
        '[dwellings]\nfile = "dwellings.csv"\n[households]\nfile = "households.csv"\n',
        encoding="utf-8",
    )
    (folder / "dwellings.csv").write_text(
        "dwelling_id,address\n" + "".join(f"{d},Vej {i}\n" for i, d in enumerate(dwellings)),
        encoding="utf-8",
    )
    (folder / "households.csv").write_text(
        "household_id,adults\n" + "".join(f"{h},2\n" for h in households), encoding="utf-8"
    )
    return folder


def proposals(pairs: dict[str, str | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "household_id": list(pairs),
            "dwelling_id": pd.array(list(pairs.values()), dtype=object),
            "score": [1.0] * len(pairs),
        }
    )


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{(tmp_path / 'placement.db').as_posix()}"
    db.upgrade(url)
    engine = db.open_engine(url)
    yield engine
    engine.dispose()


def new_version(
    engine: Engine, folder: Path, households: list[str], dwellings: list[str],
    pairs: dict[str, str | None],
) -> tuple[int, int]:
    write_version(folder, households, dwellings)
    dataset_id = store.register_dataset(engine, folder, user="t", dwelling_ids=dwellings)
    run_id = store.save_run(engine, dataset_id, summary=SUMMARY, proposals=proposals(pairs),
                            policy={}, terms=[], user="t")
    return dataset_id, run_id


def test_an_approval_holds_on_the_next_version_of_the_data(engine: Engine, tmp_path: Path):
    folder = tmp_path / "ds"
    ds1, run1 = new_version(engine, folder, ["H1", "H2"], ["D0184", "D2"],
                            {"H1": "D0184", "H2": "D2"})
    store.decide(engine, run_id=run1, household_id="H1", dwelling_id=None, action="approve",
                 user="anna", reason="fits")
    # households.csv changes: a new dataset version, in which D0184 is proposed to H3
    ds2, run2 = new_version(engine, folder, ["H1", "H2", "H3"], ["D0184", "D2", "D3"],
                            {"H1": "D3", "H2": "D2", "H3": "D0184"})
    assert ds2 != ds1
    assert store.municipality_of(engine, ds1) == store.municipality_of(engine, ds2) == "0999"
    with pytest.raises(store.DecisionConflictError, match="D0184 is already approved for "
                       "household H1 by anna"):
        store.decide(engine, run_id=run2, household_id="H3", dwelling_id=None,
                     action="approve", user="bo")
    # and a third version: still once
    ds3, run3 = new_version(engine, folder, ["H1", "H4"], ["D0184", "D2"],
                            {"H1": "D0184", "H4": "D2"})
    with pytest.raises(store.DecisionConflictError):
        store.decide(engine, run_id=run3, household_id="H4", dwelling_id="D0184",
                     action="lock", user="bo")
    held = store.active_allocations(engine, ds3)
    assert held[["household_id", "dwelling_id"]].values.tolist() == [["H1", "D0184"]]
    # the new run proposing the held dwelling shows it as approved, not "proposed"
    status = store.proposal_status(engine, run3).set_index("household_id")
    assert status.loc["H1", "status"] == "approved"
    assert status.loc["H1", "decided_by"] == "anna"
    assert status.loc["H4", "status"] == "proposed"


def test_the_household_side_holds_across_versions_too(engine: Engine, tmp_path: Path):
    folder = tmp_path / "ds"
    _, run1 = new_version(engine, folder, ["H1"], ["D1", "D2"], {"H1": "D1"})
    store.decide(engine, run_id=run1, household_id="H1", dwelling_id=None, action="lock",
                 user="anna")
    _, run2 = new_version(engine, folder, ["H1", "H2"], ["D1", "D2"], {"H1": "D2", "H2": "D1"})
    with pytest.raises(store.DecisionConflictError, match="Household H1 already holds "
                       "dwelling D1"):
        store.decide(engine, run_id=run2, household_id="H1", dwelling_id=None,
                     action="approve", user="bo")


def test_another_municipality_is_not_affected(engine: Engine, tmp_path: Path):
    _, run1 = new_version(engine, tmp_path / "a", ["H1"], ["D1"], {"H1": "D1"})
    store.decide(engine, run_id=run1, household_id="H1", dwelling_id=None, action="approve",
                 user="anna")
    other = write_version(tmp_path / "b", ["H1"], ["D1"])
    text_ = (other / "dataset.toml").read_text(encoding="utf-8").replace('"0999"', '"0326"')
    (other / "dataset.toml").write_text(text_, encoding="utf-8")
    ds = store.register_dataset(engine, other, dwelling_ids=["D1"])
    run = store.save_run(engine, ds, summary=SUMMARY, proposals=proposals({"H1": "D1"}),
                         policy={}, terms=[])
    store.decide(engine, run_id=run, household_id="H1", dwelling_id=None, action="approve",
                 user="bo")
    assert len(store.active_allocations(engine, ds)) == 1


def test_a_dwelling_in_no_dataset_is_refused(engine: Engine, tmp_path: Path):
    _, run = new_version(engine, tmp_path / "ds", ["H1", "H2"], ["D1", "D2"],
                         {"H1": "D1", "H2": None})
    with pytest.raises(store.DecisionError, match="D999 is not a dwelling of the data"):
        store.decide(engine, run_id=run, household_id="H1", dwelling_id="D999",
                     action="approve", user="anna")
    with pytest.raises(store.DecisionError, match="D999 is not a dwelling"):
        store.decide(engine, run_id=run, household_id="H2", dwelling_id="D999",
                     action="reject", user="anna")
    # a dwelling of the dataset that the run did not propose is fine
    store.decide(engine, run_id=run, household_id="H2", dwelling_id="D2", action="approve",
                 user="anna")
    assert store.decisions_for(engine, 1)["dwelling_id"].tolist() == ["D2"]


def test_release_of_a_household_gone_from_the_data_is_a_logged_decision(
    engine: Engine, tmp_path: Path
):
    folder = tmp_path / "ds"
    _, run1 = new_version(engine, folder, ["H1", "H2"], ["D1", "D2"], {"H1": "D1", "H2": "D2"})
    store.decide(engine, run_id=run1, household_id="H1", dwelling_id=None, action="approve",
                 user="anna")
    ds2, _ = new_version(engine, folder, ["H2"], ["D1", "D2"], {"H2": "D1"})
    with pytest.raises(store.DecisionError, match="needs a reason"):
        store.release(engine, dataset_id=ds2, household_id="H1", user="anna", reason=" ")
    decision_id = store.release(engine, dataset_id=ds2, household_id="H1", user="anna",
                                reason="moved to another municipality")
    assert store.active_allocations(engine, ds2).empty
    last = store.decisions_for(engine, ds2).iloc[-1]
    assert (last["decision_id"], last["action"]) == (decision_id, "undo")
    assert pd.isna(last["run_id"])
    entry = store.audit_entries(engine, entity="decision", entity_id=decision_id).iloc[0]
    assert entry["action"] == "decision.undo"
    assert entry["details"]["reason"] == "moved to another municipality"
    with pytest.raises(store.DecisionError, match="nothing to release"):
        store.release(engine, dataset_id=ds2, household_id="H1", user="anna", reason="again")


def test_decisions_cannot_be_edited_or_deleted_in_the_database(engine: Engine, tmp_path: Path):
    _, run = new_version(engine, tmp_path / "ds", ["H1"], ["D1"], {"H1": "D1"})
    store.decide(engine, run_id=run, household_id="H1", dwelling_id=None, action="approve",
                 user="anna", reason="fits")
    before = store.decisions_for(engine, 1)
    for sql in ("UPDATE decisions SET reason = 'edited'", "DELETE FROM decisions"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(sql))
    pd.testing.assert_frame_equal(store.decisions_for(engine, 1), before)


@pytest.mark.parametrize(
    "reason", ["CPR 010190-1234", "ring 0101901234 tilbage"]
)
def test_a_cpr_number_in_a_reason_is_never_stored(engine: Engine, tmp_path: Path, reason: str):
    _, run = new_version(engine, tmp_path / "ds", ["H1"], ["D1"], {"H1": "D1"})
    n_audit = len(store.audit_entries(engine))
    with pytest.raises(store.CprInTextError, match=r"reason: 010190-?\*\*\*\*"):
        store.decide(engine, run_id=run, household_id="H1", dwelling_id=None, action="approve",
                     user="anna", reason=reason)
    assert store.decisions_for(engine, 1).empty
    assert len(store.audit_entries(engine)) == n_audit


def test_cpr_in_audit_details_scenario_and_manifest_is_refused(engine: Engine, tmp_path: Path):
    with pytest.raises(store.CprInTextError, match="audit details"):
        store.record_event(engine, user="anna", action="note", entity="x", entity_id=1,
                           details={"text": "about 010190-1234"})
    with pytest.raises(store.CprInTextError, match="scenario"):
        store.save_scenario(engine, name="for 010190-1234", definition={})
    folder = write_version(tmp_path / "ds", ["H1"], ["D1"])
    manifest = (folder / "dataset.toml").read_text(encoding="utf-8")
    (folder / "dataset.toml").write_text(manifest.replace("Havnsø", "Havnsø 010190-1234"),
                                         encoding="utf-8")
    with pytest.raises(store.CprInTextError, match="dataset name"):
        store.register_dataset(engine, folder)
    assert store.audit_entries(engine).empty
    # hex digests are not texts: never a false alarm on them
    store.check_texts([("x", {"sha256": "ab0101901234cd"})])


def _old_database(path: Path) -> str:
    """A database at revision 0002 in which one dwelling is approved for three households."""
    url = f"sqlite:///{path.as_posix()}"
    db.upgrade(url, revision="0002")
    con = sqlite3.connect(path)
    now = "2026-11-30 10:00:00.000000"
    for i in (1, 2, 3):
        con.execute(
            "INSERT INTO datasets (id, name, source_path, content_sha256, created_at, created_by)"
            f" VALUES ({i}, 'Havnsø', '/nonexistent/{i}', 'h{i}', '{now}', 't')"
        )
        con.execute(
            "INSERT INTO decisions (id, dataset_id, run_id, household_id, dwelling_id, action,"
            f" decided_by, decided_at, reason) VALUES ({i}, {i}, NULL, 'H{i}', 'D0184',"
            f" 'approve', 'anna', '{now}', '')"
        )
        con.execute(
            "INSERT INTO allocations (id, dataset_id, household_id, dwelling_id, action,"
            f" decision_id, active) VALUES ({i}, {i}, 'H{i}', 'D0184', 'approve', {i}, 1)"
        )
    con.commit()
    con.close()
    return url


def test_upgrade_of_an_old_database_releases_double_bookings_in_words(tmp_path: Path):
    url = _old_database(tmp_path / "old.db")
    assert db.upgrade(url) == db.head_revision()
    engine = db.open_engine(url)
    held = store.active_allocations(engine, 3)
    assert held[["household_id", "dwelling_id"]].values.tolist() == [["H1", "D0184"]]
    undone = store.decisions_for(engine, 1)
    undone = undone[undone["action"] == "undo"]
    assert undone["household_id"].tolist() == ["H2", "H3"]
    assert set(undone["decided_by"]) == {"placement db upgrade"}
    assert all("also held by allocation 1" in r for r in undone["reason"])
    logged = store.audit_entries(engine, entity="decision")
    assert logged["action"].tolist() == ["decision.undo", "decision.undo"]
    engine.dispose()


def test_decisions_module_is_the_same_api_as_store():
    assert store.decide is decisions.decide
    assert store.proposal_status is decisions.proposal_status


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.integers(0, 1),  # which version of the data the run is on
            st.integers(0, 3),  # household H0..H3
            st.sampled_from([None, "D0", "D1", "D3"]),
            st.sampled_from(["approve", "lock", "reject", "undo"]),
        ),
        max_size=14,
    )
)
def test_no_dwelling_is_held_twice_across_versions(tmp_path_factory, steps):
    folder = tmp_path_factory.mktemp("versions")
    url = f"sqlite:///{(folder / 'p.db').as_posix()}"
    db.upgrade(url)
    engine = db.open_engine(url)
    dwellings = ["D0", "D1", "D2", "D3"]
    households = ["H0", "H1", "H2", "H3"]
    # two versions: the second proposes every dwelling to another household
    versions = [
        new_version(engine, folder / "ds", households + ["H9"] * shift, dwellings,
                    {h: dwellings[(i + shift) % 4] for i, h in enumerate(households)})
        for shift in (0, 1)
    ]
    assert versions[0][0] != versions[1][0]  # two datasets of one municipality
    runs = [run for _, run in versions]
    held: dict[str, str] = {}  # household -> dwelling, for the whole municipality
    rejected: set[tuple[str, str]] = set()  # pairs whose latest decision is a rejection
    for version, h, dwelling, action in steps:
        household = f"H{h}"
        target = dwelling if dwelling is not None else dwellings[(h + version) % 4]
        if action in ("approve", "lock"):
            holder = next((k for k, v in held.items() if v == target), None)
            refused = holder not in (None, household) or held.get(household, target) != target
        elif action == "undo":
            holds = household in held and (dwelling is None or held[household] == dwelling)
            # nothing held: an undo takes back a standing rejection of the pair instead
            refused = not holds and (household, target) not in rejected
        else:
            refused = False
        try:
            store.decide(engine, run_id=runs[version], household_id=household,
                         dwelling_id=dwelling, action=action, user="t")
        except store.DecisionError:
            assert refused
            continue
        assert not refused
        undo_held = action == "undo" and household in held and (
            dwelling is None or held[household] == dwelling)
        pair = (household, held[household] if undo_held else target)
        if action == "reject":
            rejected.add(pair)
        else:
            rejected.discard(pair)
        if action in ("approve", "lock"):
            held[household] = target
        elif undo_held or (action == "reject" and held.get(household) == target):
            held.pop(household, None)
    frame = store.active_allocations(engine, 1)
    assert dict(zip(frame["household_id"], frame["dwelling_id"], strict=True)) == held
    engine.dispose()


def test_undo_takes_back_a_standing_rejection_as_a_logged_decision(engine: Engine,
                                                                   tmp_path: Path):
    ds, run = new_version(engine, tmp_path / "ds", ["H1", "H2"], ["D1", "D2"],
                          {"H1": "D1", "H2": "D2"})
    store.decide(engine, run_id=run, household_id="H1", dwelling_id=None, action="reject",
                 user="anna", reason="too far")
    assert store.proposal_status(engine, run).set_index("household_id").loc[
        "H1", "status"] == "rejected"
    store.decide(engine, run_id=run, household_id="H1", dwelling_id=None, action="undo",
                 user="anna", reason="the family changed its mind")
    status = store.proposal_status(engine, run).set_index("household_id")
    assert status.loc["H1", "status"] == "proposed"
    log = store.decisions_for(engine, ds)
    assert log["action"].tolist() == ["reject", "undo"]
    assert log["dwelling_id"].tolist() == ["D1", "D1"]
    # nothing held and no standing rejection: nothing to undo, nothing written
    with pytest.raises(decisions.DecisionError, match="nothing to undo"):
        store.decide(engine, run_id=run, household_id="H2", dwelling_id=None, action="undo",
                     user="anna")
    with pytest.raises(decisions.DecisionError, match="nothing to undo"):
        store.decide(engine, run_id=run, household_id="H1", dwelling_id=None, action="undo",
                     user="anna")  # the rejection is already taken back
    assert len(store.decisions_for(engine, ds)) == 2
