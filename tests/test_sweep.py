"""Scenario sweeps: the sweep file, the sample, the Pareto front, and sweeps run on Dask."""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import test_real_data as real
from hypothesis import given, settings
from hypothesis import strategies as st

from placement import planning, store
from placement._errors import ConfigError
from placement.scenario import scenario_from_dict
from placement.sweep import pareto_flags, read_sweep, run_sweep, sample_runs
from placement.sweep.journal import Journal
from placement.sweep.spec import run_definition


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def head(dataset: Path, name: str = "Sweep") -> str:
    return f'[scenario]\nname = "{name}"\ndataset = "{dataset}"\n'


# --- the sweep file ------------------------------------------------------------------------


def test_bad_sweep_file_lists_every_problem_with_its_key(tmp_path, demo_dir):
    path = write(tmp_path / "bad.toml", head(demo_dir) + """
[sweep]
sample = "sobol"
colour = "red"
solver_threads = 0

[[axis]]
kind = "weight"
term = "beauty"
values = [0.1]

[[axis]]
kind = "cap"
min = 0.5
max = 0.1

[[axis]]
kind = "arrivals"
values = [1.0, -2]

[[axis]]
kind = "teleport"

[pareto]
happiness = "max"
households_placed = "more"
""")
    with pytest.raises(ConfigError) as exc:
        read_sweep(path)
    text = str(exc.value)
    for expected in ("bad.toml: sweep.sample: must be one of grid, random, lhs",
                     "bad.toml: sweep.colour: unknown key",
                     "bad.toml: sweep.solver_threads: must be a whole number >= 1, got 0",
                     "bad.toml: axis[1].term: must be one of transit",
                     "bad.toml: axis[2].min: is above max",
                     "bad.toml: axis[3].values[2]: an arrivals factor must be > 0",
                     "bad.toml: axis[4].kind: must be one of weight",
                     "bad.toml: pareto.happiness: unknown measure",
                     'bad.toml: pareto.households_placed: must be "max" or "min"'):
        assert expected in text
    assert "Traceback" not in text


def test_levels_that_do_not_exist_in_the_dataset_are_named_by_axis_key(tmp_path, demo_dir):
    path = write(tmp_path / "s.toml", head(demo_dir) + """
[[axis]]
kind = "cut_route"
values = ["", "L201", "NOPE"]

[[axis]]
kind = "cap"
area_id = "0000"
values = [0.02]
""")
    with pytest.raises(ConfigError) as exc:
        read_sweep(path)
    text = str(exc.value)
    assert "s.toml: axis[1].values[3].route_id: route 'NOPE' is not in the feed" in text
    assert "s.toml: axis[2].values[1].area_id: area '0000' is not a local area" in text
    assert "L201" not in text.split("(routes:")[0]  # the good level is not reported


def test_grid_is_the_full_product_in_order_and_is_limited(tmp_path, demo_dir):
    path = write(tmp_path / "g.toml", head(demo_dir) + """
[[axis]]
kind = "weight"
term = "transit"
min = 0.2
max = 0.6
steps = 3

[[axis]]
kind = "preset"
values = ["default", "stevns"]
""")
    runs = sample_runs(read_sweep(path))
    assert [r.params for r in runs] == [
        {"weight_transit": t, "preset": p} for t in (0.2, 0.4, 0.6) for p in ("default", "stevns")]
    assert [r.index for r in runs] == list(range(1, 7))
    assert len({r.run_hash for r in runs}) == 6
    too_big = write(tmp_path / "big.toml", path.read_text() + "[sweep]\nruns = 5\n")
    with pytest.raises(ConfigError, match=r"big.toml: sweep.runs: the grid has 6 runs"):
        read_sweep(too_big)


def test_lhs_sample_is_seeded_and_stratified(tmp_path, demo_dir):
    body = """
[sweep]
sample = "lhs"
runs = 10
seed = {seed}

[[axis]]
kind = "weight"
term = "transit"
min = 0.0
max = 1.0

[[axis]]
kind = "arrivals"
min = 1.0
max = 2.0
"""
    a = sample_runs(read_sweep(write(tmp_path / "a.toml", head(demo_dir) + body.format(seed=3))))
    b = sample_runs(read_sweep(write(tmp_path / "b.toml", head(demo_dir) + body.format(seed=3))))
    c = sample_runs(read_sweep(write(tmp_path / "c.toml", head(demo_dir) + body.format(seed=4))))
    assert [r.params for r in a] == [r.params for r in b]
    assert [r.run_hash for r in a] == [r.run_hash for r in b]
    assert [r.params for r in a] != [r.params for r in c]
    transit = np.array([r.params["weight_transit"] for r in a])
    arrivals = np.array([r.params["arrivals"] for r in a])
    # a Latin hypercube: one value in each tenth of each range
    assert sorted(np.floor(transit * 10).astype(int)) == list(range(10))
    assert sorted(np.floor((arrivals - 1.0) * 10).astype(int)) == list(range(10))


def test_run_hash_changes_with_the_dataset(tmp_path, demo_dir):
    path = write(tmp_path / "h.toml", head(demo_dir) + """
[[axis]]
kind = "weight"
term = "spread"
values = [0.1, 0.3]
""")
    spec = read_sweep(path)
    assert [r.run_hash for r in sample_runs(spec, "a")] != [r.run_hash
                                                            for r in sample_runs(spec, "b")]


def test_cap_on_every_area_and_a_named_area_cap_wins(tmp_path, demo_dir):
    path = write(tmp_path / "c.toml", head(demo_dir) + """
[[axis]]
kind = "cap"
area_id = "9004"
values = [0.01]

[[axis]]
kind = "cap"
values = [0.03]
""")
    spec = read_sweep(path)
    (run,) = sample_runs(spec)
    definition = run_definition(spec, run, ["9001", "9004"])
    scen = scenario_from_dict(definition, base=tmp_path)
    assert scen.area_caps() == {"9001": 0.03, "9004": 0.01}


# --- the Pareto front ----------------------------------------------------------------------


def brute_force_front(values: np.ndarray, maximise: list[bool]) -> list[bool]:
    """On the front: no other point at least as good everywhere and better somewhere."""
    signs = [1.0 if m else -1.0 for m in maximise]
    out = []
    for i in range(len(values)):
        beaten = False
        for j in range(len(values)):
            at_least = all(signs[k] * values[j][k] >= signs[k] * values[i][k]
                           for k in range(len(signs)))
            better = any(signs[k] * values[j][k] > signs[k] * values[i][k]
                         for k in range(len(signs)))
            beaten |= i != j and at_least and better
        out.append(not beaten)
    return out


def test_pareto_flags_small_example_with_unknown_and_failed():
    table = pd.DataFrame({
        "status": ["ok", "ok", "ok", "ok", "failed", "ok"],
        "a": [1.0, 2.0, 0.5, 2.0, np.nan, 9.0],
        "b": [1.0, 0.5, 0.5, 0.5, np.nan, np.nan],
    })
    flags = pareto_flags(table, {"a": "max", "b": "min"})
    # run 2 (2.0, 0.5) beats run 1 on both and run 3 on a; its twin, run 4, does not beat it;
    # run 6 would beat everyone on a but its b is unknown: it is not compared
    assert flags.tolist() == ["no", "yes", "no", "yes", "failed", "unknown"]


@settings(deadline=None, max_examples=60)
@given(st.lists(st.tuples(st.sampled_from([0.0, 1.0, 2.0, np.nan]),
                          st.floats(-5, 5, allow_nan=False), st.integers(0, 3)),
                min_size=1, max_size=25),
       st.lists(st.booleans(), min_size=3, max_size=3))
def test_pareto_flags_agree_with_brute_force(points, maximise):
    values = np.array(points, dtype=float)
    table = pd.DataFrame(values, columns=["a", "b", "c"])
    table["status"] = "ok"
    objectives = {k: "max" if m else "min" for k, m in zip("abc", maximise, strict=True)}
    flags = pareto_flags(table, objectives)
    known = ~np.isnan(values).any(axis=1)
    assert (flags[~known] == "unknown").all()
    expected = brute_force_front(values[known].tolist(), maximise)
    assert (flags[known] == "yes").tolist() == expected
    if known.any():
        assert (flags == "yes").any()  # a non-empty set always has a front


# --- the journal ---------------------------------------------------------------------------


def test_journal_drops_a_half_written_line_and_keeps_unknown_as_nan(tmp_path):
    journal = Journal(tmp_path / "runs.jsonl")
    journal.append({"run_hash": "a", "status": "ok", "measures": {"x": float("nan"), "y": 1.5}})
    with (tmp_path / "runs.jsonl").open("a", encoding="utf-8") as fh:
        fh.write('{"run_hash": "b", "sta')  # a crash in the middle of a line
    again = Journal(tmp_path / "runs.jsonl")
    records = again.records()
    assert list(records) == ["a"]
    assert math.isnan(records["a"]["measures"]["x"])
    assert records["a"]["measures"]["y"] == 1.5
    again.append({"run_hash": "c", "status": "failed", "measures": {}})
    assert list(Journal(tmp_path / "runs.jsonl").records()) == ["a", "c"]


# --- sweeps on a LocalCluster with 2 worker processes --------------------------------------


@pytest.fixture(scope="module")
def client():
    from placement.sweep import dask_client

    with dask_client(workers=2) as c:
        yield c


@pytest.fixture
def engine(tmp_path):
    from placement import db

    url = f"sqlite:///{(tmp_path / 'sweep.db').as_posix()}"
    db.upgrade(url)
    eng = db.open_engine(url)
    yield eng
    eng.dispose()


DEMO_SWEEP = """
[sweep]
sample = "grid"

[[axis]]
kind = "cut_route"
values = ["", "L201"]

[[axis]]
kind = "designate"
values = ["", "broken.geojson"]

[pareto]
share_near_served_stop = "max"
largest_area_share_of_cap = "min"
families_daycare_school_15min = "max"
"""


@pytest.fixture
def demo_sweep(tmp_path, demo_dir) -> Path:
    write(tmp_path / "broken.geojson", '{"type": "FeatureCollection", "features": [')
    return write(tmp_path / "demo_sweep.toml", head(demo_dir, "Demo sweep") + DEMO_SWEEP)


def _spy_accessibility(on: bool) -> list[str]:
    """Count ``planning.accessibility`` calls in this process (on) and return them (off)."""
    import placement.planning as pl

    if on and not hasattr(pl, "_real_accessibility"):
        pl._real_accessibility = pl.accessibility
        pl._accessibility_calls = []

        def counting(folder, **kwargs):
            pl._accessibility_calls.append(str(folder))
            return pl._real_accessibility(folder, **kwargs)

        pl.accessibility = counting
    calls = list(getattr(pl, "_accessibility_calls", []))
    if not on and hasattr(pl, "_real_accessibility"):
        pl.accessibility = pl._real_accessibility
        del pl._real_accessibility, pl._accessibility_calls
    return calls


@contextlib.contextmanager
def count_accessibility(client):
    """Yield a list that holds, on exit, every accessibility computed here or on a worker."""
    made: list[str] = []
    client.run(_spy_accessibility, True)
    _spy_accessibility(True)
    try:
        yield made
    finally:
        made += [c for calls in client.run(_spy_accessibility, False).values() for c in calls]
        made += _spy_accessibility(False)


def test_sweep_on_two_workers_runs_fronts_stores_and_resumes(
        client, engine, demo_sweep, tmp_path, monkeypatch):
    out = tmp_path / "out"
    seen = []
    with count_accessibility(client) as made:
        result = run_sweep(demo_sweep, out, client=client, engine=engine,
                           progress=lambda done, total, rec: seen.append((done, total)))
    # accessibility once per network variant (base, line L201 cut), not once per run
    assert len(made) == 2, made
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    table = pd.read_csv(out / "runs.csv", keep_default_na=False, na_values=[""])
    assert table["run"].tolist() == [1, 2, 3, 4]
    assert table["cut_route"].fillna("").tolist() == ["", "", "L201", "L201"]
    assert table["status"].tolist() == ["ok", "failed", "ok", "failed"]
    failed = table[table["status"] == "failed"]
    assert failed["error"].str.contains("broken.geojson").all()
    assert failed["households_placed"].isna().all()  # unknown, not 0
    ok = table[table["status"] == "ok"]
    assert (ok["households_placed"] > 0).all()
    assert ok["gap"].notna().all()
    # the flags agree with an independent check of dominance
    keys = ["share_near_served_stop", "largest_area_share_of_cap",
            "families_daycare_school_15min"]
    expected = brute_force_front(ok[keys].to_numpy().tolist(), [True, False, True])
    assert (ok["pareto"] == "yes").tolist() == expected
    assert set(failed["pareto"]) == {"failed"}
    front = pd.read_csv(out / "pareto.csv")
    assert sorted(front["run"]) == sorted(ok.loc[ok["pareto"] == "yes", "run"])
    assert (out / "front.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "front.html").read_text(encoding="utf-8")
    assert "<svg" in page
    assert 'href="#run-1"' in page
    assert "http" not in page  # works offline: nothing to fetch
    assert "src=" not in page

    # the runs that worked are stored as scenarios with their run
    runs_db = store.list_runs(engine)
    assert len(runs_db) == 2
    cut = ok[ok["cut_route"] == "L201"].iloc[0]
    scenario = store.load_scenario(engine, int(cut["scenario_id"]))
    assert scenario["definition"]["sweep"]["params"]["cut_route"] == "L201"
    assert scenario["name"] == "Demo sweep #3"

    # the same scenario run alone gives the same numbers
    spec = read_sweep(demo_sweep)
    run = next(r for r in result.runs if r.index == 3)
    definition = run_definition(spec, run, [])
    assert spec.solver_threads == 1  # the default: a worker is one core
    alone = planning.run_scenario(scenario_from_dict(definition, base=tmp_path),
                                  tmp_path / "alone", solver_threads=spec.solver_threads)
    for key, value in alone.plan.measures.items():
        assert cut[key] == pytest.approx(value, rel=1e-12, nan_ok=True), key
    _, stored = store.load_run(engine, int(cut["run_id"]))
    pairs = alone.plan.assignments[["household_id", "dwelling_id"]].astype("string")
    back = stored[["household_id", "dwelling_id"]].astype("string")
    pd.testing.assert_frame_equal(back.sort_values("household_id").reset_index(drop=True),
                                  pairs.sort_values("household_id").reset_index(drop=True))

    # resume: a run lost before it was written, and a line cut off by a crash
    journal = out / "runs.jsonl"
    lines = journal.read_text(encoding="utf-8").splitlines(keepends=True)
    lost = next(json.loads(ln) for ln in lines if json.loads(ln)["run"] == 1)
    kept = [ln for ln in lines if json.loads(ln)["run"] != 1]
    journal.write_text("".join(kept) + '{"run_hash": "' + lost["run_hash"][:5],
                       encoding="utf-8")
    with count_accessibility(client) as made:
        again = run_sweep(demo_sweep, out, client=client)
    assert again.new == 1
    assert again.resumed == 3
    assert len(made) == 1  # only the base network was needed
    table2 = pd.read_csv(out / "runs.csv", keep_default_na=False, na_values=[""])
    num = [*keys, "households_placed", "objective", "gap"]
    pd.testing.assert_frame_equal(table2[num], table[num])
    assert table2["pareto"].tolist() == table["pareto"].tolist()


def test_a_killed_sweep_resumes_where_it_stopped(client, demo_sweep, tmp_path):
    out = tmp_path / "killed"
    journal = out / "runs.jsonl"
    # the sweep runs in its own process on the test's cluster (--scheduler), and is killed
    cmd = [sys.executable, "-m", "placement.cli", "scenario", "sweep", str(demo_sweep),
           "--out", str(out), "--scheduler", client.scheduler.address, "--no-store"]
    env = {**os.environ, "PLACEMENT_CACHE": str(tmp_path / "cache")}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if journal.is_file() and journal.read_text(encoding="utf-8").count("\n") >= 1:
                break
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    done_before = Journal(journal).records()
    assert 1 <= len(done_before) < 4, "the sweep was not interrupted in the middle"
    result = run_sweep(demo_sweep, out, client=client)
    assert result.resumed == len(done_before)
    assert result.new == 4 - len(done_before)
    table = pd.read_csv(out / "runs.csv", keep_default_na=False, na_values=[""])
    assert table["status"].tolist() == ["ok", "failed", "ok", "failed"]


def test_a_retention_weight_axis_runs_on_workers(client, demo_dir, tmp_path):
    """The model is fitted on the worker from the run's residence history."""
    sweep = write(tmp_path / "ret.toml", head(demo_dir, "Retention weight") + """
[[axis]]
kind = "weight"
term = "retention"
values = [0.0, 1.0]

[pareto]
households_placed = "max"
largest_area_share_of_cap = "min"
""")
    result = run_sweep(sweep, tmp_path / "out", client=client)
    table = result.table
    assert table["status"].tolist() == ["ok", "ok"]
    assert table["weight_retention"].astype(float).tolist() == [0.0, 1.0]
    off, on = table.iloc[0], table.iloc[1]
    assert math.isnan(off["expected_retention"])  # no model without the weight: unknown
    # the worker's figure equals the same plan made here
    here = planning.make_plan(demo_dir, "default", weights={"retention": 1.0})
    assert on["expected_retention"] == pytest.approx(planning.expected_retention(here),
                                                     abs=1e-9)
    assert 0 < on["expected_retention"] < 1
    written = pd.read_csv(result.paths["runs"])
    assert written["expected_retention"].notna().tolist() == [False, True]


# --- real data: Samsø (OpenStreetMap 2020, DAGI parishes) -----------------------------------

case_files = real.case_files  # the real-data fixture: boundary, parishes, population per case


@pytest.mark.shared_data
def test_sweep_on_real_samsoe_data(client, case_files, shared_data, tmp_path):
    case = case_files["0741"]
    osm_file = (shared_data / real.SAMSOE_OSM).resolve()  # absolute path, not copied
    folder = real._write_dataset(tmp_path / "samsoe", case, osm_file,
                                 real._dwelling_rows(case["sogne"]))
    sweep = write(tmp_path / "samsoe.toml", head(folder, "Samsø caps") + """
[[axis]]
kind = "cap"
values = [0.02, 0.06]

[pareto]
households_placed = "max"
largest_area_share_of_cap = "min"
median_pt_jobcenter_min = "min"
""")
    result = run_sweep(sweep, tmp_path / "out", client=client)
    table = result.table
    assert table["status"].tolist() == ["ok", "ok"]
    tight, loose = table.iloc[0], table.iloc[1]
    # a cap of 2 % of about 100 residents (2 persons) leaves the larger households unplaced
    assert tight["households_placed"] < loose["households_placed"]
    assert tight["households_placed"] + tight["households_unplaced"] == 3
    # no GTFS feed: public-transport times are unknown, so no run is compared on the front
    assert table["median_pt_jobcenter_min"].isna().all()
    assert table["pareto"].tolist() == ["unknown", "unknown"]


def test_the_example_sweep_file_is_valid(repo_root):
    spec = read_sweep(repo_root / "scenarios" / "sweep_transit_caps.toml")
    runs = sample_runs(spec)
    assert len(runs) == 24
    assert {r.params["cut_route"] for r in runs} == {"", "L201"}
    assert all(0.04 <= r.params["cap"] <= 0.08 for r in runs)


# --- the app's What-if page: a small sweep, its front, a run opened --------------------------


@pytest.fixture
def fresh_app_cache():
    """The app caches its database engine per process: use this test's database."""
    import streamlit as st

    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


@pytest.mark.usefixtures("fresh_app_cache")
def test_app_starts_a_small_sweep_and_opens_a_run(client, tmp_path, monkeypatch, demo_dir):
    from streamlit.testing.v1 import AppTest
    from test_app import APP, go, sign_in

    from placement import auth, db

    url = f"sqlite:///{(tmp_path / 'app.db').as_posix()}"
    db.upgrade(url)
    users = tmp_path / "users.toml"
    auth.add_user(users, "per", "planner-password", "planner")
    monkeypatch.setenv("PLACEMENT_DB", url)
    monkeypatch.setenv("PLACEMENT_USERS", str(users))
    monkeypatch.setenv("PLACEMENT_DATASET", str(demo_dir))
    monkeypatch.setenv("PLACEMENT_TILES", "none")
    monkeypatch.setenv("PLACEMENT_SWEEP_SCHEDULER", client.scheduler.address)
    at = AppTest.from_file(str(APP), default_timeout=600)
    at.run()
    sign_in(at, "per", "planner-password")
    go(at, "whatif")
    at.slider(key="sw_runs").set_value(2)
    at.slider(key="sw_range").set_value((0.3, 0.5))
    at.multiselect(key="sw_measures").set_value(["share_near_served_stop",
                                                 "largest_area_share_of_cap"])
    start = next(b for b in at.button if b.label == "Start sweep")
    start.click().run()
    assert not at.exception, at.exception
    sweep = next(df.value for df in at.dataframe if "pareto" in df.value.columns)
    assert sweep["status"].tolist() == ["ok", "ok"]
    assert set(sweep["pareto"]) <= {"yes", "no"}
    assert (sweep["pareto"] == "yes").any()
    # the runs are stored as scenarios: opening one shows its measures and its change
    engine = db.open_engine(url)
    runs = store.list_runs(engine)
    assert len(runs) == 2
    assert runs["scenario_id"].notna().all()
    at.selectbox(key="sweep_open").set_value(2).run()
    assert not at.exception, at.exception
    changes = next(df.value for df in at.dataframe if "kind" in df.value.columns)
    assert changes["kind"].tolist() == ["weights"]
    from placement.i18n import markdown_escape

    # the name is input text: shown literally, escaped for markdown
    assert any(m.value == f"**{markdown_escape('sweep by per #2')}**" for m in at.markdown)
    engine.dispose()
