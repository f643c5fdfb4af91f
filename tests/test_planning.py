"""Planning on the demo dataset: propose, store, decide, re-optimise, export, scenarios."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from placement import db, export, planning, store
from placement.gtfs import load_gtfs
from placement.scenario import read_scenario
from placement.transit import build_timetable, stop_departures


@pytest.fixture
def engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'placement.db'}"
    db.upgrade(url)
    return db.open_engine(url)


def rules_hold(plan: planning.Plan) -> None:
    """Independent checks of the hard rules on a plan's assignments."""
    a = plan.assignments.dropna(subset=["dwelling_id"])
    assert a["dwelling_id"].is_unique
    assert plan.assignments["household_id"].is_unique
    dw = plan.dataset.dwellings.set_index("dwelling_id")
    hh = plan.dataset.households.set_index("household_id")
    joined = a.join(dw, on="dwelling_id", rsuffix="_dw").join(hh, on="household_id",
                                                               rsuffix="_hh")
    r = plan.policy.rules
    assert (joined["persons_hh"] <= joined["rooms"] * r.max_persons_per_room + 1e-9).all()
    assert joined["permanent"].all()
    assert not joined["designated_kinds"].str.contains("vulnerable").any()
    assert (~joined["step_free_needed"] | joined["step_free"]).all()
    table = plan.area_table
    assert (table["integration_residents"] + table["persons_placed"]
            <= table["cap_persons"]).all()


def test_demo_plan_places_everyone_within_the_rules(demo_plan):
    s = demo_plan.proposal.summary
    assert s["status"] == "Optimal"
    assert demo_plan.measures["households_placed"] == len(demo_plan.dataset.households)
    rules_hold(demo_plan)
    # the measures agree with the optimiser's own count
    assert demo_plan.measures["persons_placed"] == s["persons_placed"]


def test_store_decide_reoptimise_export_round_trip(demo_plan, demo_dir, engine, tmp_path):
    run_id = planning.store_plan(engine, demo_plan, user="tester")
    run, stored = store.load_run(engine, run_id)
    assert run["status"] == "Optimal"
    original = demo_plan.assignments.set_index("household_id")["dwelling_id"]
    again = stored.set_index("household_id")["dwelling_id"]
    assert again.astype("string").equals(original.astype("string").reindex(again.index))
    np.testing.assert_allclose(stored["score"].to_numpy(dtype=float),
                               demo_plan.assignments.set_index("household_id")
                               .loc[stored["household_id"], "score"].to_numpy(dtype=float))

    placed = demo_plan.assignments.dropna(subset=["dwelling_id"]).sort_values("household_id")
    approved, rejected = placed.iloc[0], placed.iloc[1]
    store.decide(engine, run_id=run_id, household_id=approved["household_id"], dwelling_id=None,
                 action="approve", user="mette", reason="fits the family")
    store.decide(engine, run_id=run_id, household_id=rejected["household_id"], dwelling_id=None,
                 action="reject", user="mette", reason="too far from work")
    locks, rej = planning.decisions_for_run(engine, run_id)
    assert locks.to_dict("records") == [{"household_id": approved["household_id"],
                                         "dwelling_id": approved["dwelling_id"]}]
    assert rej.to_dict("records") == [{"household_id": rejected["household_id"],
                                       "dwelling_id": rejected["dwelling_id"]}]

    new_plan, new_run = planning.reoptimise(engine, run_id, demo_dir, "default", user="mette",
                                            dataset=demo_plan.dataset, access=demo_plan.access)
    assert new_run != run_id
    new = new_plan.assignments.set_index("household_id")["dwelling_id"]
    assert new[approved["household_id"]] == approved["dwelling_id"]
    assert new[rejected["household_id"]] != rejected["dwelling_id"]
    # every other proposal that is still optimal is kept: most households keep their dwelling
    kept = (new.astype("string") == original.reindex(new.index).astype("string")).mean()
    assert kept >= 0.95
    rules_hold(new_plan)

    csv = planning.export_run_csv(engine, new_run, new_plan.dataset, tmp_path / "p.csv", sep=";")
    assert csv.read_bytes().startswith(b"\xef\xbb\xbf")
    back = export.read_proposals_csv(csv, sep=";")
    assert len(back) == len(new_plan.assignments)
    row = back.set_index("household_id").loc[approved["household_id"]]
    assert row["status"] == "approved"
    assert row["decided_by"] == "mette"
    table = planning.run_table(engine, new_run, new_plan.dataset)
    np.testing.assert_allclose(back.sort_values("household_id")["score"].to_numpy(dtype=float),
                               table.sort_values("household_id")["score"].to_numpy(dtype=float),
                               rtol=1e-9)
    gpkg = planning.export_run_gpkg(engine, new_run, new_plan.dataset, tmp_path / "p.gpkg")
    import pyogrio

    assert {name for name, _ in pyogrio.list_layers(gpkg)} >= {"proposals", "dwellings", "areas"}


def _scenario(tmp_path: Path, demo_dir: Path, body: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(f'[scenario]\nname = "what if"\ndataset = "{demo_dir}"\n{body}',
                    encoding="utf-8")
    return path


def test_cut_line_stops_lose_their_departures(demo_dir, tmp_path):
    feed = load_gtfs(next(demo_dir.glob("*.zip")))
    route = sorted(feed.routes["route_id"].astype(str))[1]
    scen = read_scenario(_scenario(tmp_path, demo_dir,
                                   f'[[change]]\nkind = "cut_route"\nroute_id = "{route}"\n'))
    from placement.scenario import materialise

    folder = materialise(scen, tmp_path / "cut")
    cut = load_gtfs(folder / "gtfs.zip")
    day = "2026-03-03"
    base_tt, cut_tt = build_timetable(feed, day), build_timetable(cut, day)
    base_dep = pd.Series(stop_departures(base_tt, 6 * 3600, 20 * 3600), index=base_tt.stop_ids)
    cut_dep = pd.Series(stop_departures(cut_tt, 6 * 3600, 20 * 3600), index=cut_tt.stop_ids)
    # independent count: departures of the route's trips at each stop on that day
    st = feed.stop_times.merge(feed.trips[["trip_id", "route_id", "service_id"]], on="trip_id")
    from placement.gtfs import active_services

    st = st[st["service_id"].isin(active_services(feed, day))]
    secs = st["departure_time"].str.split(":", expand=True).astype(int)
    st = st.assign(s=secs[0] * 3600 + secs[1] * 60 + secs[2])
    last = st.groupby("trip_id")["stop_sequence"].transform("max")
    st = st[(st["stop_sequence"] < last) & (st["s"] >= 6 * 3600) & (st["s"] < 20 * 3600)]
    route_dep = st[st["route_id"].astype(str) == route].groupby("stop_id").size()
    assert len(route_dep) > 0
    lost = base_dep.reindex(route_dep.index).fillna(0) - cut_dep.reindex(route_dep.index).fillna(0)
    np.testing.assert_array_equal(lost.to_numpy(), route_dep.to_numpy())


def test_scenario_cap_binds_and_compare(demo_plan, demo_dir, tmp_path, engine):
    table = demo_plan.area_table
    busiest = table.sort_values("persons_placed").iloc[-1]
    # a new cap below today's load on the busiest area
    allowed = int(busiest["persons_placed"]) // 2
    share = (int(busiest["integration_residents"]) + allowed) / int(busiest["population"])
    scen = read_scenario(_scenario(tmp_path, demo_dir, f"""
[[change]]
kind = "area_cap"
area_id = "{busiest['area_id']}"
max_share = {share:.6f}
"""))
    result = planning.run_scenario(scen, tmp_path / "work", engine=engine,
                                   base_access=demo_plan.access)
    new_table = result.plan.area_table.set_index("area_id")
    row = new_table.loc[busiest["area_id"]]
    cap = int(np.floor(share * busiest["population"] + 1e-9))
    assert row["cap_persons"] == cap
    assert row["integration_residents"] + row["persons_placed"] <= cap
    # the cap binds: the area is filled to within one household of it
    biggest = int(demo_plan.dataset.households["persons"].max())
    assert row["integration_residents"] + row["persons_placed"] > cap - biggest
    rules_hold(result.plan)
    assert result.run_id is not None
    compared, changed = planning.compare_plans({"base": demo_plan, "cap": result.plan})
    assert compared.loc["households_placed", "base"] == len(demo_plan.dataset.households)
    area_key = f"area_{busiest['area_id']}"
    assert compared.loc[area_key, "Δ cap"] == row["persons_placed"] - busiest["persons_placed"]
    assert len(changed) > 0


def test_area_table_agrees_with_the_optimiser_own_count(demo_plan):
    ours = demo_plan.area_table.set_index("area_id")
    theirs = demo_plan.proposal.areas.set_index("area_id")
    theirs.index = theirs.index.astype(str)
    assert (ours["persons_placed"] == theirs.loc[ours.index, "placed_persons"]).all()
    assert (ours["cap_persons"] == theirs.loc[ours.index, "cap_persons"]).all()


def test_a_new_run_on_updated_data_keeps_approved_and_locked(demo_plan, demo_dir, engine,
                                                              tmp_path):
    import shutil

    run_id = planning.store_plan(engine, demo_plan, user="tester")
    placed = demo_plan.assignments.dropna(subset=["dwelling_id"]).sort_values("household_id")
    approved, locked, other = placed.iloc[0], placed.iloc[1], placed.iloc[2]
    store.decide(engine, run_id=run_id, household_id=approved["household_id"], dwelling_id=None,
                 action="approve", user="mette", reason="fits")
    store.decide(engine, run_id=run_id, household_id=locked["household_id"], dwelling_id=None,
                 action="lock", user="mette", reason="signed")
    # households.csv is updated: the locked household has left the data
    folder = tmp_path / "v2"
    shutil.copytree(demo_dir, folder)
    path = folder / "households.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(ln for ln in lines if not ln.startswith(f"{locked['household_id']},")),
                    encoding="utf-8")
    plan = planning.plan_with_decisions(engine, folder, "default", user="mette",
                                        access=demo_plan.access)
    new = plan.assignments.set_index("household_id")["dwelling_id"]
    assert new[approved["household_id"]] == approved["dwelling_id"]
    assert locked["household_id"] not in new.index
    assert len(plan.decision_notes) == 1
    note = plan.decision_notes[0]
    assert f"household {locked['household_id']} is no longer in households.csv" in note
    assert "stays held until it is released" in note
    new_run = planning.store_plan(engine, plan, user="mette")
    summary, _ = store.load_run(engine, new_run)
    assert summary["summary"]["decision_notes"] == plan.decision_notes
    status = store.proposal_status(engine, new_run).set_index("household_id")
    assert status.loc[approved["household_id"], "status"] == "approved"
    assert status.loc[approved["household_id"], "decided_by"] == "mette"
    # the new version cannot book the approved dwelling for anybody else
    with pytest.raises(store.DecisionConflictError):
        store.decide(engine, run_id=new_run, household_id=other["household_id"],
                     dwelling_id=approved["dwelling_id"], action="approve", user="bo")
    held = store.active_allocations(engine, summary["dataset_id"])
    assert set(held["household_id"]) == {approved["household_id"], locked["household_id"]}


def test_a_stored_scenario_run_counts_its_areas_on_its_own_dataset(demo_plan, demo_dir,
                                                                   tmp_path, engine):
    from placement._errors import DataError

    scen = read_scenario(_scenario(tmp_path, demo_dir, """
[[change]]
kind = "arrivals"
factor = 1.3
"""))
    result = planning.run_scenario(scen, tmp_path / "work", engine=engine,
                                   base_access=demo_plan.access)
    table = planning.run_area_table(engine, result.run_id).set_index("area_id")
    # every person the run placed is counted, the extra arrivals included
    assert table["persons_placed"].sum() == result.plan.measures["persons_placed"]
    assert result.plan.measures["persons_placed"] > demo_plan.measures["persons_placed"]
    ours = result.plan.area_table.set_index("area_id")
    assert (table["persons_placed"] == ours.loc[table.index, "persons_placed"]).all()
    # counted on the base dataset, the arrivals the scenario added would be missing
    on_base = planning.run_area_table(engine, result.run_id, demo_plan.dataset)
    assert on_base["persons_placed"].sum() < table["persons_placed"].sum()
    # the run's folder changed afterwards: said, not counted on other data
    households = result.folder / "households.csv"
    households.write_text(households.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="changed since the run"):
        planning.run_area_table(engine, result.run_id)
