"""Stored datasets, runs and decisions: transactions, double-booking guard, audit log."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from placement import db, decisions, runs, store
from placement.db import Allocation, AuditLog, Decision, Proposal, Run

TERMS = ["transit", "community", "family", "anchor", "spread"]


def make_proposals(n: int = 6, *, unplaced: tuple[int, ...] = (2,)) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "household_id": [f"H{i:03d}" for i in range(n)],
            "dwelling_id": pd.array([f"D{i:03d}" for i in range(n)], dtype=object),
        }
    )
    parts = rng.normal(size=(n, len(TERMS)))
    for j, term in enumerate(TERMS):
        frame[term] = parts[:, j]
    frame["score"] = parts.sum(axis=1)
    frame["unplaced_reason"] = None
    for i in unplaced:
        frame.loc[i, "dwelling_id"] = pd.NA
        frame.loc[i, ["score", *TERMS]] = np.nan
        frame.loc[i, "unplaced_reason"] = "no dwelling with 4 rooms left"
    return frame[["household_id", "dwelling_id", "score", *TERMS, "unplaced_reason"]]


SUMMARY = {"status": "optimal", "objective": 12.5, "bound": 12.75, "gap": 0.02, "solve_s": 1.25}


def upgraded_url(folder: Path) -> str:
    url = f"sqlite:///{(folder / 'placement.db').as_posix()}"
    db.upgrade(url)
    return url


@pytest.fixture
def url(tmp_path: Path) -> str:
    return upgraded_url(tmp_path)


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    engine = db.open_engine(url)
    yield engine
    engine.dispose()


def write_dataset(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dataset.toml").write_text(
        '[municipality]\nname = "Havnsø"\ncode = "0999"\n'
        '[dwellings]\nfile = "dwellings.csv"\n[households]\nfile = "households.csv"\n',
        encoding="utf-8",
    )
    (folder / "dwellings.csv").write_text("dwelling_id,address\nD000,Åvej 1\n", encoding="utf-8")
    (folder / "households.csv").write_text("household_id,adults\nH000,2\n", encoding="utf-8")
    (folder / "notes.txt").write_text("not named in the manifest", encoding="utf-8")
    return folder


@pytest.fixture
def dataset_id(engine: Engine, tmp_path: Path) -> int:
    return store.register_dataset(engine, write_dataset(tmp_path / "ds"), user="anna")


def count(engine: Engine, model: type) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)))


# --- datasets and scenarios ------------------------------------------------------------------


def test_register_dataset_records_file_hashes(engine: Engine, tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "ds")
    first = store.register_dataset(engine, folder, user="anna")
    files = store.dataset_files(engine, first)
    assert files["path"].tolist() == ["dataset.toml", "dwellings.csv", "households.csv"]
    for row in files.itertuples():
        data = (folder / row.path).read_bytes()
        assert row.sha256 == hashlib.sha256(data).hexdigest()
        assert row.size_bytes == len(data)
    assert store.register_dataset(engine, folder, user="bo") == first
    (folder / "notes.txt").write_text("changed, but not part of the dataset", encoding="utf-8")
    assert store.register_dataset(engine, folder, user="bo") == first
    (folder / "dwellings.csv").write_text("dwelling_id,address\nD000,Åvej 2\n", encoding="utf-8")
    assert store.register_dataset(engine, folder, user="bo") != first
    registered = store.audit_entries(engine, entity="dataset")
    assert registered["action"].tolist() == ["dataset.register"] * 2


def test_register_dataset_reports_missing_files(engine: Engine, tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "ds")
    (folder / "households.csv").unlink()
    with pytest.raises(store.DataError, match=r"households.csv.*no such file"):
        store.register_dataset(engine, folder)
    assert count(engine, db.Dataset) == 0


def test_scenario_round_trip(engine: Engine, dataset_id: int) -> None:
    definition = {"max_share_per_area": 0.05, "excluded": frozenset({"b", "a"}), "x": np.int64(3)}
    sid = store.save_scenario(
        engine, name="Tighter cap", definition=definition, dataset_id=dataset_id, user="anna"
    )
    loaded = store.load_scenario(engine, sid)
    assert loaded["definition"] == {"max_share_per_area": 0.05, "excluded": ["a", "b"], "x": 3}
    assert loaded["name"] == "Tighter cap"
    assert loaded["created_by"] == "anna"


# --- runs ------------------------------------------------------------------------------------


def test_save_and_load_run_gives_back_the_same_numbers(engine: Engine, dataset_id: int) -> None:
    proposals = make_proposals()
    proposals["rooms_needed"] = np.arange(len(proposals))  # extra numeric column: a term
    proposals["note"] = "text columns are not terms"
    run_id = store.save_run(
        engine,
        dataset_id,
        summary=SUMMARY,
        proposals=proposals,
        policy={"max_walk_to_stop_m": 800.0, "seed": 0},
        parameters={"time_limit_s": 60},
        user="anna",
    )
    summary, loaded = store.load_run(engine, run_id)
    assert summary["terms"] == [*TERMS, "rooms_needed"]
    for key in ("status", "objective", "bound", "gap", "solve_s"):
        assert summary[key] == SUMMARY[key]
    assert summary["build_s"] is None
    assert summary["summary"] == SUMMARY
    assert summary["n_households"] == 6
    assert summary["n_placed"] == 5
    assert summary["policy"] == {"max_walk_to_stop_m": 800.0, "seed": 0}
    assert summary["package_version"]
    expected = proposals.drop(columns="note")
    assert loaded.columns.tolist() == [
        "household_id",
        "dwelling_id",
        "score",
        *TERMS,
        "rooms_needed",
        "unplaced_reason",
    ]
    assert loaded["household_id"].tolist() == expected["household_id"].tolist()
    assert loaded["dwelling_id"].isna().tolist() == expected["dwelling_id"].isna().tolist()
    placed = expected["dwelling_id"].notna()
    assert loaded["dwelling_id"][placed].tolist() == expected["dwelling_id"][placed].tolist()
    for column in ["score", *TERMS, "rooms_needed"]:
        # bit-for-bit equal, NaN where NaN
        np.testing.assert_array_equal(
            loaded[column].to_numpy(float), expected[column].to_numpy(float)
        )
    assert loaded["unplaced_reason"].tolist() == expected["unplaced_reason"].tolist()
    assert store.list_runs(engine, dataset_id)["run_id"].tolist() == [run_id]


def test_explicit_terms_are_the_only_terms(engine: Engine, dataset_id: int) -> None:
    run_id = store.save_run(
        engine,
        dataset_id,
        summary=SUMMARY,
        proposals=make_proposals(),
        policy={},
        terms=["spread", "transit"],
    )
    _, loaded = store.load_run(engine, run_id)
    assert loaded.columns.tolist() == [
        "household_id",
        "dwelling_id",
        "score",
        "spread",
        "transit",
        "unplaced_reason",
    ]
    with pytest.raises(store.StoreError, match="not score terms"):
        store.save_run(
            engine,
            dataset_id,
            summary=SUMMARY,
            proposals=make_proposals(),
            policy={},
            terms=["nope"],
        )


def tables_are_empty_after_failed_save(engine: Engine) -> None:
    assert count(engine, Run) == 0
    assert count(engine, Proposal) == 0
    # only the dataset registration is in the audit log
    assert store.audit_entries(engine)["action"].tolist() == ["dataset.register"]


@pytest.mark.parametrize("failure", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_a_failure_mid_save_leaves_no_rows(
    engine: Engine, dataset_id: int, monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    def fail(*_args: object, **_kwargs: object) -> None:
        # the run and its proposals are already flushed when the audit entry is written
        with Session(engine) as other:  # another connection sees nothing yet
            assert other.scalar(select(func.count()).select_from(Run)) == 0
        raise failure

    monkeypatch.setattr(runs, "_audit", fail)
    with pytest.raises(type(failure)):
        store.save_run(engine, dataset_id, summary=SUMMARY, proposals=make_proposals(), policy={})
    monkeypatch.undo()
    tables_are_empty_after_failed_save(engine)


def test_bad_proposals_are_refused_before_writing(engine: Engine, dataset_id: int) -> None:
    twice = pd.concat([make_proposals(3), make_proposals(3).iloc[[1]]], ignore_index=True)
    with pytest.raises(store.StoreError, match="H001 appear more than once"):
        store.save_run(engine, dataset_id, summary=SUMMARY, proposals=twice, policy={})
    no_id = make_proposals(3)
    no_id.loc[1, "household_id"] = None
    with pytest.raises(store.StoreError, match=r"row\(s\) 3 \(header"):
        store.save_run(engine, dataset_id, summary=SUMMARY, proposals=no_id, policy={})
    with pytest.raises(store.StoreError, match="status"):
        store.save_run(engine, dataset_id, summary={}, proposals=make_proposals(3), policy={})
    with pytest.raises(store.StoreError, match="dwelling_id"):
        store.save_run(
            engine,
            dataset_id,
            summary=SUMMARY,
            proposals=make_proposals(3).drop(columns="dwelling_id"),
            policy={},
        )
    tables_are_empty_after_failed_save(engine)


def test_database_refusal_rolls_back_the_run(engine: Engine) -> None:
    # dataset 999 does not exist: the foreign key refuses the run row
    with pytest.raises(store.StoreError, match="nothing was written"):
        store.save_run(engine, 999, summary=SUMMARY, proposals=make_proposals(), policy={})
    assert count(engine, Run) == 0
    assert count(engine, Proposal) == 0
    assert count(engine, AuditLog) == 0


# --- decisions -------------------------------------------------------------------------------


@pytest.fixture
def run_id(engine: Engine, dataset_id: int) -> int:
    return store.save_run(
        engine, dataset_id, summary=SUMMARY, proposals=make_proposals(), policy={}, user="anna"
    )


def test_approve_then_conflict_names_the_holder(engine: Engine, run_id: int) -> None:
    store.decide(
        engine,
        run_id=run_id,
        household_id="H000",
        dwelling_id=None,
        action="approve",
        user="anna",
        reason="fits the family",
    )
    with pytest.raises(store.DecisionConflictError) as info:
        store.decide(
            engine,
            run_id=run_id,
            household_id="H001",
            dwelling_id="D000",
            action="approve",
            user="bo",
        )
    err = info.value
    assert err.holder_household_id == "H000"
    assert err.decided_by == "anna"
    assert "Dwelling D000 is already approved for household H000 by anna" in str(err)
    with pytest.raises(store.DecisionConflictError, match="Household H000 already holds"):
        store.decide(
            engine, run_id=run_id, household_id="H000", dwelling_id="D001", action="lock", user="bo"
        )
    held = store.active_allocations(engine, 1)
    assert held[["household_id", "dwelling_id", "action"]].values.tolist() == [
        ["H000", "D000", "approve"]
    ]
    # the refused decisions left nothing behind
    assert store.decisions_for(engine, 1)["decided_by"].tolist() == ["anna"]


def test_undo_releases_the_dwelling_and_status_follows(engine: Engine, run_id: int) -> None:
    store.decide(
        engine, run_id=run_id, household_id="H000", dwelling_id=None, action="lock", user="anna"
    )
    store.decide(
        engine,
        run_id=run_id,
        household_id="H001",
        dwelling_id=None,
        action="reject",
        user="bo",
        reason="needs ground floor",
    )
    status = store.proposal_status(engine, run_id).set_index("household_id")
    assert status.loc["H000", "status"] == "locked"
    assert status.loc["H000", "decided_by"] == "anna"
    assert status.loc["H001", "status"] == "rejected"
    assert status.loc["H001", "decision_reason"] == "needs ground floor"
    assert status.loc["H002", "status"] == "unplaced"
    assert status.loc["H003", "status"] == "proposed"
    assert pd.isna(status.loc["H003", "decided_by"])
    assert set(status["status"]) <= set(store.STATUSES)

    store.decide(
        engine,
        run_id=run_id,
        household_id="H000",
        dwelling_id=None,
        action="undo",
        user="anna",
        reason="mistake",
    )
    assert (
        store.proposal_status(engine, run_id).set_index("household_id").loc["H000", "status"]
        == "proposed"
    )
    store.decide(
        engine, run_id=run_id, household_id="H001", dwelling_id="D000", action="approve", user="bo"
    )
    assert store.active_allocations(engine, 1)["household_id"].tolist() == ["H001"]
    with pytest.raises(store.DecisionError, match="nothing to undo"):
        store.decide(
            engine, run_id=run_id, household_id="H003", dwelling_id=None, action="undo", user="bo"
        )
    actions = store.audit_entries(engine, entity="decision")["action"].tolist()
    assert actions == ["decision.lock", "decision.reject", "decision.undo", "decision.approve"]


def test_decision_input_errors(engine: Engine, run_id: int) -> None:
    with pytest.raises(store.DecisionError, match="not in run"):
        store.decide(
            engine, run_id=run_id, household_id="X", dwelling_id=None, action="approve", user="anna"
        )
    with pytest.raises(store.DecisionError, match="proposes no dwelling"):
        store.decide(
            engine,
            run_id=run_id,
            household_id="H002",
            dwelling_id=None,
            action="approve",
            user="anna",
        )
    with pytest.raises(store.DecisionError, match="name of the person"):
        store.decide(
            engine, run_id=run_id, household_id="H000", dwelling_id=None, action="approve", user=" "
        )
    with pytest.raises(store.DecisionError, match="action must be"):
        store.decide(
            engine, run_id=run_id, household_id="H000", dwelling_id=None, action="book", user="anna"
        )  # type: ignore[arg-type]
    with pytest.raises(store.DecisionError, match="no run with id 99"):
        store.decide(
            engine, run_id=99, household_id="H000", dwelling_id=None, action="approve", user="anna"
        )
    assert count(engine, Decision) == 0


def test_the_database_itself_refuses_a_second_active_allocation(
    engine: Engine, run_id: int
) -> None:
    first = store.decide(
        engine, run_id=run_id, household_id="H000", dwelling_id=None, action="approve", user="anna"
    )
    with pytest.raises(IntegrityError, match="UNIQUE"), db.write_session(engine) as session:
        session.add(
            Allocation(
                dataset_id=1,
                municipality="0999",
                household_id="H005",
                dwelling_id="D000",
                action="approve",
                decision_id=first,
                active=True,
            )
        )
    # an inactive (released) allocation of the same dwelling is allowed
    with db.write_session(engine) as session:
        session.add(
            Allocation(
                dataset_id=1,
                municipality="0999",
                household_id="H005",
                dwelling_id="D000",
                action="approve",
                decision_id=first,
                active=False,
            )
        )


def test_two_people_deciding_at_once_on_two_connections(url: str, run_id: int) -> None:
    """Anna's transaction is open when Bo decides: Bo waits, then gets a clear conflict."""
    anna_engine = db.open_engine(url)
    bo_engine = db.open_engine(url)
    anna_decided = threading.Event()
    errors: list[BaseException] = []

    def anna() -> None:
        try:
            with db.write_session(anna_engine) as session:
                store.decide(
                    session,
                    run_id=run_id,
                    household_id="H000",
                    dwelling_id="D000",
                    action="approve",
                    user="anna",
                )
                anna_decided.set()
                time.sleep(0.3)  # still not committed while Bo starts
        except BaseException as err:  # reported below
            errors.append(err)
            anna_decided.set()

    thread = threading.Thread(target=anna)
    thread.start()
    assert anna_decided.wait(10)
    with pytest.raises(store.DecisionConflictError, match="already approved for household H000"):
        store.decide(
            bo_engine,
            run_id=run_id,
            household_id="H001",
            dwelling_id="D000",
            action="approve",
            user="bo",
        )
    thread.join(10)
    assert errors == []
    held = store.active_allocations(bo_engine, 1)
    assert held[["household_id", "dwelling_id"]].values.tolist() == [["H000", "D000"]]
    anna_engine.dispose()
    bo_engine.dispose()


def test_racing_deciders_book_a_dwelling_once(url: str, run_id: int) -> None:
    engines = [db.open_engine(url) for _ in range(4)]
    barrier = threading.Barrier(len(engines))
    outcome: dict[str, str] = {}

    def decide(i: int) -> None:
        barrier.wait(10)
        try:
            store.decide(
                engines[i],
                run_id=run_id,
                household_id=f"H00{i}",
                dwelling_id="D005",
                action="approve",
                user=f"user{i}",
            )
            outcome[f"H00{i}"] = "booked"
        except store.DecisionConflictError:
            outcome[f"H00{i}"] = "conflict"

    threads = [threading.Thread(target=decide, args=(i,)) for i in range(len(engines))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcome.values()) == ["booked", "conflict", "conflict", "conflict"]
    held = store.active_allocations(engines[0], 1)
    winner = next(h for h, o in outcome.items() if o == "booked")
    assert held[["household_id", "dwelling_id"]].values.tolist() == [[winner, "D005"]]
    assert count(engines[0], Decision) == 1
    for e in engines:
        e.dispose()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),  # household H000..H003
            st.sampled_from([None, "D000", "D001", "D003"]),
            st.sampled_from(["approve", "lock", "reject", "undo"]),
        ),
        max_size=12,
    )
)
@example(steps=[(3, "D001", "reject"), (3, "D001", "undo")])  # undo of a rejection
def test_no_dwelling_or_household_is_ever_held_twice(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[int, str | None, str]]
) -> None:
    folder = tmp_path_factory.mktemp("prop")
    url = upgraded_url(folder)
    engine = db.open_engine(url)
    dataset_id = store.register_dataset(engine, write_dataset(folder / "ds"), user="t")
    run_id = store.save_run(
        engine, dataset_id, summary=SUMMARY, proposals=make_proposals(4, unplaced=()), policy={}
    )
    held: dict[str, str] = {}  # household -> dwelling, an independent model of the rules
    rejected: set[tuple[str, str]] = set()  # pairs whose latest decision is a rejection
    for h, dwelling, action in steps:
        household = f"H00{h}"
        target = dwelling if dwelling is not None else f"D00{h}"  # None: the proposed one
        if action in ("approve", "lock"):
            holder = next((k for k, v in held.items() if v == target), None)
            expected: type[Exception] | None = (
                store.DecisionConflictError
                if holder not in (None, household) or held.get(household, target) != target
                else None
            )
        elif action == "undo":
            holds = household in held and (dwelling is None or held[household] == dwelling)
            # nothing held: an undo takes back a standing rejection of the pair instead
            refused = not holds and (household, target) not in rejected
            expected = store.DecisionError if refused else None
        else:
            expected = None
        caught: store.DecisionError | None = None
        try:
            store.decide(
                engine,
                run_id=run_id,
                household_id=household,
                dwelling_id=dwelling,
                action=action,
                user="t",
            )  # type: ignore[arg-type]
        except store.DecisionError as err:
            caught = err
        if expected is not None:
            assert isinstance(caught, expected)
            continue
        assert caught is None
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
    frame = store.active_allocations(engine, dataset_id)
    assert dict(zip(frame["household_id"], frame["dwelling_id"], strict=True)) == held
    assert frame["dwelling_id"].is_unique
    engine.dispose()


# --- residence history -----------------------------------------------------------------------


def test_history_round_trip(engine: Engine, dataset_id: int) -> None:
    history = pd.DataFrame(
        {
            "person_id": ["P1", "P2", "P3"],
            "placement_date": pd.to_datetime(["2020-01-15", "2021-03-01", "2022-06-30"]),
            "area_id": ["A", "B", "A"],
            "moved_out_date": pd.to_datetime(["2021-01-01", None, None]),
            "destination": ["other_municipality", None, None],
            "persons": [1, 3, 2],
        }
    )
    assert store.save_history(engine, dataset_id=dataset_id, history=history, user="anna") == 3
    # stored once per dataset
    assert store.save_history(engine, dataset_id=dataset_id, history=history, user="anna") == 3
    loaded = store.load_history(engine, dataset_id)
    assert list(loaded.columns) == list(store.HISTORY_COLUMNS)
    pd.testing.assert_series_equal(loaded["placement_date"], history["placement_date"])
    pd.testing.assert_series_equal(loaded["moved_out_date"], history["moved_out_date"])
    assert loaded["persons"].tolist() == [1, 3, 2]
    assert loaded["household_id"].isna().all()
    assert loaded["destination"].tolist() == ["other_municipality", None, None]


def test_a_race_past_the_check_is_still_reported_as_a_conflict(
    engine: Engine, run_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If both deciders pass the check (no queueing, e.g. PostgreSQL), the index decides."""
    store.decide(
        engine, run_id=run_id, household_id="H000", dwelling_id=None, action="approve", user="anna"
    )
    real = decisions._active_for
    calls = {"n": 0}

    def blind_check(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        return None if calls["n"] <= 2 else real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(decisions, "_active_for", blind_check)
    with pytest.raises(store.DecisionConflictError, match="already approved for household H000"):
        store.decide(
            engine,
            run_id=run_id,
            household_id="H001",
            dwelling_id="D000",
            action="approve",
            user="bo",
        )
    assert calls["n"] > 2  # the conflict was found after the database refused the row
    monkeypatch.undo()
    assert store.decisions_for(engine, 1)["decided_by"].tolist() == ["anna"]
    assert store.active_allocations(engine, 1)["household_id"].tolist() == ["H000"]


def test_household_rows_are_refused_to_planners_and_viewers_in_the_library(
    engine: Engine, run_id: int
) -> None:
    from placement import auth

    store.decide(
        engine, run_id=run_id, household_id="H000", dwelling_id=None, action="approve", user="a"
    )
    for role in ("planner", "viewer"):
        with auth.acting_as(auth.User("p", "P", role)):
            for call in (
                lambda: store.load_run(engine, run_id),
                lambda: store.proposal_status(engine, run_id),
                lambda: store.decisions_for(engine, 1),
                lambda: store.active_allocations(engine, 1),
                lambda: store.audit_entries(engine),
                lambda: store.decide(
                    engine, run_id=run_id, household_id="H001", dwelling_id=None,
                    action="approve", user="p",
                ),
            ):
                with pytest.raises(auth.PermissionDeniedError, match=f"p \\({role}\\) may not"):
                    call()
            summary = store.run_summary(engine, run_id)
            assert summary["n_households"] == 6
    with auth.acting_as(auth.User("c", "C", "coordinator")):
        assert len(store.load_run(engine, run_id)[1]) == 6
    assert len(store.active_allocations(engine, 1)) == 1
