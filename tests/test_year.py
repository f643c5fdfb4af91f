"""Batches through the year: hindsight is optimal, foresight with the true future reaches it,
hard rules hold in every batch, results repeat for a seed, decisions carry between batches."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from placement.config import load_policy
from placement.optimizer.batch import (
    POINTS_PER_PERSON,
    Clock,
    State,
    build_universe,
    hindsight_plan,
    pair_index,
    year_objective,
)
from placement.optimizer.synthetic import make_instance, make_year
from placement.optimizer.weekly import batch_summary, propose_batch, write_batch
from placement.optimizer.year import run_batches, simulate_year, write_year

ONLINE = ("myopic", "greedy", "foresight")


def _policy(share: float = 0.05, per_building: int = 2, cost: float = 0.05):
    return load_policy("default").with_overrides(
        rules={"max_area_share": share, "max_households_per_building": per_building},
        objective={"waiting_cost_per_week": cost}, solver={"threads": 1})


def _year(seed: int, n_h: int, n_d: int, policy, days: int = 42):
    hh, dw, ar, acc = make_year(n_h, n_d, n_areas=2, seed=seed, days=days, initial_share=0.3)
    # few buildings, so that the building limit binds
    dw["building_id"] = [f"B{i % max(n_d // 2, 1)}" for i in range(n_d)]
    uni, _locks = build_universe(hh, dw, ar, acc, policy)
    clock = Clock.covering(uni.inst.arrival.min(),
                           max(uni.inst.arrival.max(), uni.offer_date.max()), 7)
    return uni, clock, (hh, dw, ar, acc)


def _brute_force(uni, clock) -> float:
    """Best J over every assignment (each household: one of its eligible dwellings or none)."""
    inst = uni.inst
    H = inst.n_households
    bh = clock.batch_of(inst.arrival)
    bd = clock.batch_of(uni.offer_date)
    options = []
    for h in range(H):
        row = uni.E.getrow(h)
        ok = [int(d) for d in row.indices if max(bh[h], bd[d]) < clock.n_batches]
        options.append([-1, *ok])
    best = -np.inf
    cap = np.maximum(inst.area_cap, 0.0) if uni.policy.rules.area_cap else None
    k = uni.policy.rules.max_households_per_building
    for choice in itertools.product(*options):
        ds = [d for d in choice if d >= 0]
        if len(set(ds)) < len(ds):
            continue
        if cap is not None:
            load = np.zeros(len(cap))
            for h, d in enumerate(choice):
                if d >= 0 and inst.dw_area[d] >= 0:
                    load[inst.dw_area[d]] += inst.persons[h]
            if (load > cap + 1e-9).any():
                continue
        if uni.policy.rules.building_limit:
            counts = np.bincount(inst.dw_building[ds], minlength=1) if ds else np.zeros(1)
            if (counts > k).any():
                continue
        state = State.empty(H)
        for h, d in enumerate(choice):
            if d >= 0:
                b = int(max(bh[h], bd[d]))
                p = int(uni.E[h, d]) - 1
                state.place(uni, np.array([p]), clock.date(b), b)
        best = max(best, year_objective(uni, state, clock.end))
    return best


tiny = {"seed": st.integers(0, 10_000), "n_h": st.integers(1, 4), "n_d": st.integers(1, 5),
        "share": st.sampled_from([0.05, 0.0015]), "per_building": st.sampled_from([1, 2]),
        "cost": st.sampled_from([0.0, 0.05, 0.5])}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**tiny)
def test_hindsight_equals_brute_force(seed, n_h, n_d, share, per_building, cost):
    uni, clock, _ = _year(seed, n_h, n_d, _policy(share, per_building, cost))
    got = year_objective(uni, hindsight_plan(uni, clock), clock.end)
    assert got == pytest.approx(_brute_force(uni, clock), abs=1e-6)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**tiny)
def test_foresight_with_the_true_future_equals_hindsight(seed, n_h, n_d, share, per_building,
                                                          cost):
    uni, clock, _ = _year(seed, n_h + 1, n_d + 1, _policy(share, per_building, cost))
    hind = year_objective(uni, hindsight_plan(uni, clock), clock.end)
    state, _ = run_batches(uni, clock, "foresight", oracle=True)
    assert year_objective(uni, state, clock.end) == pytest.approx(hind, abs=1e-6)


def _check_rules(uni, clock, state: State, batches: dict[int, np.ndarray]) -> None:
    inst = uni.inst
    placed = np.flatnonzero(state.dwelling >= 0)
    d = state.dwelling[placed]
    assert len(set(d.tolist())) == len(d), "a dwelling let twice"
    # every placement is an eligible pair, made in a batch where both were there
    assert (pair_index(uni, placed, d) >= 0).all()
    for b, pairs in batches.items():
        t = clock.date(b)
        assert (inst.arrival[inst.pair_h[pairs]] <= t).all()
        assert (uni.offer_date[inst.pair_d[pairs]] <= t).all()
    assert (state.movein[placed] >= inst.available[d]).all()
    assert (state.movein[placed] >= inst.arrival[placed]).all()
    if uni.policy.rules.area_cap:
        a = inst.dw_area[d]
        load = np.bincount(a[a >= 0], weights=inst.persons[placed][a >= 0],
                           minlength=len(inst.area_ids))
        assert (load <= np.maximum(inst.area_cap, 0) + 1e-9).all()
    if uni.policy.rules.building_limit:
        assert np.bincount(inst.dw_building[d]).max(initial=0) <= \
            uni.policy.rules.max_households_per_building


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n_h=st.integers(3, 12), n_d=st.integers(3, 20),
       share=st.sampled_from([0.05, 0.002]), per_building=st.sampled_from([1, 2]),
       cost=st.sampled_from([0.0, 0.05, 0.5]))
def test_hard_rules_hold_in_every_batch(seed, n_h, n_d, share, per_building, cost):
    uni, clock, _ = _year(seed, n_h, n_d, _policy(share, per_building, cost), days=70)
    hs = hindsight_plan(uni, clock)
    _check_rules(uni, clock, hs, {})
    j_h = year_objective(uni, hs, clock.end)
    for method in ONLINE:
        batches: dict[int, np.ndarray] = {}
        state, _ = run_batches(uni, clock, method, seed=seed, n_scenarios=2,
                               on_batch=lambda b, dec, out=batches: out.__setitem__(b, dec.pairs))
        _check_rules(uni, clock, state, batches)
        # decisions are final: each placement was made once, in the batch recorded
        made = np.concatenate(list(batches.values())) if batches else np.zeros(0, int)
        assert len(made) == int((state.dwelling >= 0).sum())
        assert len(set(uni.inst.pair_h[made].tolist())) == len(made)
        for b, pairs in batches.items():
            assert (state.batch[uni.inst.pair_h[pairs]] == b).all()
        # nothing beats hindsight
        assert year_objective(uni, state, clock.end) <= j_h + 1e-6


def test_year_objective_is_the_documented_sum():
    uni, clock, _ = _year(3, 6, 10, _policy())
    hs = hindsight_plan(uni, clock)
    inst = uni.inst
    h = np.flatnonzero(hs.dwelling >= 0)
    score = np.array([inst.pair_score[int(uni.E[i, hs.dwelling[i]]) - 1] for i in h])
    stop = np.where(hs.dwelling >= 0, hs.movein, clock.end)
    weeks = (stop - inst.arrival).astype(int) / 7
    want = (POINTS_PER_PERSON * inst.persons[h]).sum() + score.sum() - 0.05 * weeks.sum()
    assert year_objective(uni, hs, clock.end) == pytest.approx(want)


def _trap():
    """A couple now, a family of 6 next week; one 3-room dwelling now, a 2-room one later."""
    _, dw0, ar, acc0 = make_instance(1, 2, n_areas=1, seed=0)
    hh = pd.DataFrame({"household_id": ["C1", "F6"], "persons": [2, 6],
                       "household_type": ["couple", "family"], "children_0_5": [0, 2],
                       "children_6_16": [0, 2], "step_free_needed": [False, False],
                       "arrival_date": pd.to_datetime(["2025-03-03", "2025-03-10"])})
    dw = dw0.copy()
    dw["dwelling_id"] = ["BIG", "MID"]
    dw["rooms"] = [3, 2]
    dw["rent_dkk"] = [6000, 5000]
    dw["available_from"] = pd.to_datetime(["2025-03-03", "2025-03-31"])
    dw["permanent"] = True
    dw["designated_kinds"] = ""
    dw["building_id"] = ["B1", "B2"]
    acc = acc0.copy()
    acc.index = pd.Index(["BIG", "MID"], name="dwelling_id")
    return hh, dw, ar, acc


def test_foresight_keeps_the_large_dwelling_myopic_gives_away():
    hh, dw, ar, acc = _trap()
    pol = _policy()
    uni, _ = build_universe(hh, dw, ar, acc, pol)
    clock = Clock.covering(uni.inst.arrival.min(), uni.offer_date.max(), 7)
    myo, _ = run_batches(uni, clock, "myopic")
    fore, _ = run_batches(uni, clock, "foresight", oracle=True)
    ids = list(uni.inst.dw_ids)
    assert ids[myo.dwelling[0]] == "BIG"
    assert myo.dwelling[1] < 0
    assert ids[fore.dwelling[1]] == "BIG"
    assert ids[fore.dwelling[0]] == "MID"
    # the weekly proposal, with the family announced, says why BIG stays free
    bp = propose_batch(hh, dw, ar, acc, pol, "2025-03-03")
    a = bp.assignments.set_index("household_id")
    assert a.loc["C1", "status"] == "waits"
    assert a.loc["F6", "status"] == "later"
    assert a.loc["C1", "weeks_waited"] == 0
    kept = bp.kept.set_index("dwelling_id")
    assert "expected family of 6" in kept.loc["BIG", "reason"]
    assert "1 expected before April" in kept.loc["BIG", "reason"]
    s = batch_summary(bp)
    assert "1 of 1 free dwellings kept" in s["headline"]


def test_weekly_batch_places_locks_and_never_rejected_pairs(tmp_path):
    hh, dw, ar, acc = make_year(30, 80, seed=4, days=60)
    pol = _policy()
    until = "2025-01-29"
    first = propose_batch(hh, dw, ar, acc, pol, until, n_scenarios=2)
    placed = first.assignments.dropna(subset=["dwelling_id"])
    assert len(placed) > 2
    lock = placed.iloc[[0]][["household_id", "dwelling_id"]]
    reject = placed.iloc[[1]][["household_id", "dwelling_id"]]
    again = propose_batch(hh, dw, ar, acc, pol, until, n_scenarios=2, locks=lock,
                          rejected=reject)
    a = again.assignments.set_index("household_id")
    h0, d0 = lock.iloc[0]
    h1, d1 = reject.iloc[0]
    assert a.loc[h0, "dwelling_id"] == d0
    assert bool(a.loc[h0, "locked"])
    assert a.loc[h1, "dwelling_id"] != d1
    # arrivals after the batch date are never placed; the waits are measured
    assert (a.loc[a["arrival_date"] > pd.Timestamp(until), "status"] == "later").all()
    waits = a[a["status"] == "waits"]
    want = (pd.Timestamp(until) - pd.to_datetime(waits["arrival_date"])).dt.days / 7
    assert np.allclose(waits["weeks_waited"], want)
    paths = write_batch(again, tmp_path / "batch.csv")
    back = pd.read_csv(paths["assignments"])
    assert "weeks_waited" in back.columns
    assert len(back) == 30
    assert paths["summary"].exists()
    assert paths["kept"].exists()


def test_the_batch_calendar_ends_on_31_december():
    until = np.datetime64("2026-06-03")
    clock = Clock.until(until, np.datetime64("2026-12-31"), 7)
    last = clock.date(clock.n_batches - 1)
    assert last <= np.datetime64("2026-12-31") < last + np.timedelta64(7, "D")
    assert clock.end == np.datetime64("2026-12-31")
    hh, dw, ar, acc = make_year(30, 80, seed=4, days=60)
    bp = propose_batch(hh, dw, ar, acc, _policy(), "2025-06-03", n_scenarios=2, quota=60)
    assert bp.summary["year_end"] == "2025-12-31"
    assert len(bp.expected) > 0
    assert (bp.expected["month"] <= "2025-12").all()  # nothing expected in January


def test_a_time_limit_without_a_solution_is_an_error_not_an_empty_batch(monkeypatch):
    import placement.optimizer.batch as batch_mod
    from placement._errors import InfeasibleError

    hh, dw, ar, acc = make_year(30, 80, seed=4, days=60)
    pol = _policy()
    uni, _ = build_universe(hh, dw, ar, acc, pol)
    clock = Clock.covering(uni.inst.arrival.min(),
                           max(uni.inst.arrival.max(), uni.offer_date.max()), 7)
    real = batch_mod._highs

    def no_time(policy, *, time_limit_s, mip_gap):
        h = real(policy, time_limit_s=time_limit_s, mip_gap=mip_gap)
        h.setOptionValue("time_limit", 0.0)  # HiGHS stops before it has any plan
        return h

    monkeypatch.setattr(batch_mod, "_highs", no_time)
    with pytest.raises(InfeasibleError, match=r"no feasible batch plan .* time limit"):
        propose_batch(hh, dw, ar, acc, pol, "2025-01-29", n_scenarios=2)
    with pytest.raises(InfeasibleError, match="no feasible batch plan"):
        run_batches(uni, clock, "myopic")


def test_locks_carry_through_the_year_for_every_method():
    hh, dw, ar, acc = make_year(12, 30, seed=8, days=56)
    pol = _policy()
    uni0, _ = build_universe(hh, dw, ar, acc, pol)
    clock = Clock.covering(uni0.inst.arrival.min(),
                           max(uni0.inst.arrival.max(), uni0.offer_date.max()), 7)
    free, _ = run_batches(uni0, clock, "myopic")
    inst = uni0.inst
    h = int(np.flatnonzero(free.dwelling >= 0)[0])
    others = [int(d) for d in uni0.E.getrow(h).indices if d != free.dwelling[h]]
    assert others, "the test needs a household with a second eligible dwelling"
    lock = [(inst.hh_ids[h], inst.dw_ids[others[0]])]
    reject = [(inst.hh_ids[h2], inst.dw_ids[free.dwelling[h2]])
              for h2 in np.flatnonzero(free.dwelling >= 0)[1:3]]
    uni, lock_pos = build_universe(hh, dw, ar, acc, pol, locks=lock, rejected=reject)
    bh = clock.batch_of(uni.inst.arrival)
    bd = clock.batch_of(uni.offer_date)
    states = {"hindsight": hindsight_plan(uni, clock, locks=lock_pos)}
    for method in ONLINE:
        states[method], _ = run_batches(uni, clock, method, locks=lock_pos, n_scenarios=2)
    for method, state in states.items():
        assert state.dwelling[h] == others[0], method
        assert state.batch[h] == max(bh[h], bd[others[0]]), method
        for hid, did in reject:
            h2 = list(uni.inst.hh_ids).index(hid)
            assert state.dwelling[h2] < 0 or uni.inst.dw_ids[state.dwelling[h2]] != did


def test_simulation_repeats_for_a_seed_and_writes_its_files(tmp_path):
    hh, dw, ar, acc = make_year(25, 70, seed=5, days=70)
    pol = _policy()
    runs = [simulate_year(hh, dw, ar, acc, pol, seeds=[1, 2], n_scenarios=2) for _ in range(2)]
    timing = ["mean_batch_s", "max_batch_s"]
    pd.testing.assert_frame_equal(runs[0].methods.drop(columns=timing),
                                  runs[1].methods.drop(columns=timing))
    pd.testing.assert_frame_equal(runs[0].households, runs[1].households)
    t = runs[0].methods
    assert set(t["method"]) == {"hindsight", "myopic", "greedy", "foresight"}
    assert (t.loc[t["method"] == "hindsight", "ratio_to_hindsight"] == 1).all()
    assert (t["ratio_to_hindsight"] <= 1 + 1e-9).all()
    # weeks_waited per household agrees with the mean in methods.csv
    h = runs[0].households
    for (m, s), g in h.groupby(["method", "seed"]):
        row = t[(t["method"] == m) & (t["seed"] == s)].iloc[0]
        assert g["weeks_waited"].mean() == pytest.approx(row["mean_weeks_waited"])
        assert row["households_placed"] == int((~g["censored"]).sum())
    paths = write_year(runs[0], tmp_path / "year")
    back = pd.read_csv(paths["methods"])
    assert list(back["method"].unique()) == ["hindsight", "myopic", "greedy", "foresight"]
    assert paths["chart"].stat().st_size > 1000
    # with a quota the arrivals are drawn anew per seed, the same for every method
    q = simulate_year(hh, dw, ar, acc, pol, seeds=[3], quota=20, n_scenarios=2)
    assert (q.methods["households"] == 20).all()


def test_year_files_are_one_set_and_no_cell_runs_as_a_formula(tmp_path):
    from placement.export import check_file_set, restore_formulas

    hh, dw, ar, acc = make_year(10, 24, seed=5, days=28)
    hh = hh.copy()
    first = str(hh["household_id"].iloc[0])
    hh.loc[hh.index[0], "household_id"] = "=HYPERLINK(1)"
    run = simulate_year(hh, dw, ar, acc, _policy(), seeds=[1], n_scenarios=1)
    assert "=HYPERLINK(1)" in set(run.households["household_id"])
    paths = write_year(run, tmp_path / "year")
    text = paths["households"].read_text(encoding="utf-8")
    assert "\n=HYPERLINK" not in text
    assert "'=HYPERLINK(1)" in text
    back = restore_formulas(pd.read_csv(paths["households"], dtype={"household_id": str}))
    assert "=HYPERLINK(1)" in set(back["household_id"])
    assert first not in set(back["household_id"])
    digests = json.loads(paths["summary"].read_text(encoding="utf-8"))["files"]
    assert set(digests) == {"methods.csv", "households.csv", "ratios.png"}
    assert check_file_set(paths["summary"], digests) == []


def test_cli_year_simulate_and_batch_until(tmp_path, capsys):
    from fixtures_data import write_dataset

    from placement.cli import main

    folder = write_dataset(tmp_path / "ds")
    out = tmp_path / "year"
    assert main(["year", "simulate", str(folder), "--out", str(out), "--scenarios", "2"]) == 0
    t = pd.read_csv(out / "methods.csv")
    assert list(t["method"]) == ["hindsight", "myopic", "greedy", "foresight"]
    assert "ratio to hindsight" in capsys.readouterr().out
    h = pd.read_csv(out / "households.csv")
    assert {"household_id", "weeks_waited", "censored"} <= set(h.columns)
    batch = tmp_path / "batch.csv"
    assert main(["propose", str(folder), "--batch-until", "2025-03-12", "--out",
                 str(batch)]) == 0
    b = pd.read_csv(batch).set_index("household_id")
    assert b.loc["H3", "status"] == "later"
    assert "Batch of 2025-03-12" in capsys.readouterr().out
    # bad input: a message, no traceback
    assert main(["propose", str(folder), "--batch-until", "someday", "--out",
                 str(batch)]) == 1
    assert "--batch-until must be a date" in capsys.readouterr().err


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_priced_batches_of_large_futures_keep_the_hard_rules(monkeypatch, seed):
    """Large futures take the LP-priced path; its batches keep every hard rule too."""
    from placement.optimizer import foresight

    monkeypatch.setattr(foresight, "INTEGER_RECOURSE_MAX", 0)
    monkeypatch.setattr(foresight, "FIRST_STAGE_EXACT_MAX", 10)
    uni, clock, _ = _year(seed, 15, 40, _policy(0.002, 1, 0.05), days=70)
    batches: dict[int, np.ndarray] = {}
    seen: list[bool] = []
    state, _ = run_batches(uni, clock, "foresight", seed=seed, n_scenarios=3,
                           on_batch=lambda b, dec: (batches.__setitem__(b, dec.pairs),
                                                    seen.append(dec.whole_recourse)))
    assert seen
    assert not all(seen)
    _check_rules(uni, clock, state, batches)
    j_h = year_objective(uni, hindsight_plan(uni, clock), clock.end)
    assert year_objective(uni, state, clock.end) <= j_h + 1e-6


def test_batch_and_year_score_the_retention_term_when_it_is_weighed(demo_dir, monkeypatch):
    import placement.optimizer.weekly as weekly_mod
    import placement.optimizer.year as year_mod
    from placement import planning
    from placement.score import RETENTION_COLUMN

    seen: dict[str, pd.DataFrame] = {}

    def capture(name):
        def run(households, dwellings, areas, access, policy, *args, **kwargs):
            seen[name] = access
            return weekly_mod.BatchPlan(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(),
                                        pd.DataFrame(), {})
        return run

    monkeypatch.setattr(weekly_mod, "propose_batch", capture("batch"))
    monkeypatch.setattr(year_mod, "simulate_year", capture("year"))
    ds = planning.load_dataset(demo_dir)
    acc = planning.accessibility(demo_dir)
    pol = planning.policy_for("default", weights={"retention": 0.5})
    planning.batch_plan(demo_dir, pol, until="2026-03-02", dataset=ds, access=acc)
    planning.simulate_year_on(demo_dir, pol, dataset=ds, access=acc)
    for name in ("batch", "year"):
        pred = seen[name][RETENTION_COLUMN]
        assert pred.notna().any(), name  # the term is scored, not all unknown
        assert ((pred.dropna() > 0) & (pred.dropna() < 1)).all(), name
    # with the weight at 0 nothing is fitted and the term stays absent
    planning.batch_plan(demo_dir, planning.policy_for("default", weights={"retention": 0.0}),
                        until="2026-03-02", dataset=ds, access=acc)
    assert RETENTION_COLUMN not in seen["batch"].columns


def _unhoused_but_housable(uni, state: State) -> list[int]:
    """Households never placed that a dwelling left free at the year's end could house.

    Independent of the optimiser: for each unplaced household, an eligible dwelling that no
    one has, whose building may take one more household and whose area's cap has room for
    the household's persons (after every placement of the year).
    """
    inst = uni.inst
    rules = uni.policy.rules
    placed = np.flatnonzero(state.dwelling >= 0)
    taken = set(state.dwelling[placed].tolist())
    load = np.zeros(len(inst.area_ids))
    per_building: dict[int, int] = {}
    for h in placed:
        d = int(state.dwelling[h])
        if inst.dw_area[d] >= 0:
            load[inst.dw_area[d]] += inst.persons[h]
        b = int(inst.dw_building[d])
        per_building[b] = per_building.get(b, 0) + 1
    out = []
    for h in np.flatnonzero(state.dwelling < 0):
        for d in uni.E.getrow(int(h)).indices:
            if int(d) in taken:
                continue
            a = int(inst.dw_area[d])
            if rules.area_cap and a >= 0 and load[a] + inst.persons[h] > inst.area_cap[a] + 1e-9:
                continue
            if (rules.building_limit and per_building.get(int(inst.dw_building[d]), 0)
                    >= rules.max_households_per_building):
                continue
            out.append(int(h))
            break
    return out


@pytest.mark.parametrize("whole", [True, False])
@pytest.mark.parametrize("seed", [1, 2])
def test_foresight_houses_at_the_years_end_everyone_the_free_dwellings_can(monkeypatch, seed,
                                                                            whole):
    """Many free dwellings in full buildings: the year ends with no household left unhoused.

    An earlier version kept each waiting household's best pairs by unpriced value, in every
    batch including the last; households of the same make-up then shared the same few
    dwellings, most of them in buildings already full, and the year ended with households
    unhoused that free dwellings could house (and that myopic houses): 18-21 of them on these
    instances. What this test holds is the year's-end guarantee (a batch with no future is
    solved over every pair that can be made), with the first stage cut to one pair per
    household before pricing; that the pricing itself recovers the LP over every pair is
    checked by the ratio to hindsight in the tests above and in benchmarks/year.py.
    """
    from placement.optimizer import foresight

    monkeypatch.setattr(foresight, "FIRST_STAGE_EXACT_MAX", 1)
    monkeypatch.setattr(foresight, "FIRST_STAGE_PER_HOUSEHOLD", 1)
    monkeypatch.setattr(foresight, "FIRST_STAGE_PER_DWELLING", 0)
    if not whole:
        monkeypatch.setattr(foresight, "INTEGER_RECOURSE_MAX", 0)
    hh, dw, ar, acc = make_year(24, 60, n_areas=2, seed=seed, days=35, initial_share=0.6)
    hh["persons"] = 1  # one make-up: the same best dwellings for all
    hh["household_type"] = "single"
    hh[["children_0_5", "children_6_16"]] = 0
    # buildings of six dwellings that take one household each
    dw["building_id"] = [f"B{i // 6}" for i in range(len(dw))]
    pol = _policy(0.05, 1, 0.05)
    uni, _ = build_universe(hh, dw, ar, acc, pol)
    clock = Clock.covering(uni.inst.arrival.min(),
                           max(uni.inst.arrival.max(), uni.offer_date.max()), 7)
    batches: dict[int, np.ndarray] = {}
    state, _ = run_batches(uni, clock, "foresight", seed=seed, n_scenarios=2,
                           on_batch=lambda b, dec: batches.__setitem__(b, dec.pairs))
    _check_rules(uni, clock, state, batches)
    myo, _ = run_batches(uni, clock, "myopic")
    assert _unhoused_but_housable(uni, myo) == []
    assert _unhoused_but_housable(uni, state) == []
