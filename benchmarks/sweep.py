"""Benchmark scenario sweeps on Dask: 1 against 2 workers, and per run against a run alone.

Usage: python benchmarks/sweep.py [--runs 32] [--workers 1,2] [--alone 6] [--floor 12]
                                 [--large | --large-only] [--solver-threads 1]

The sweep is a seeded Latin-hypercube sample over the transit and family weights and the
arrivals factor (the spread weight stays at the preset's, whose share of the weights sets how
hard the MILP is: raised to a quarter, one demo solve takes a minute), crossed with a bus
line cut (none or line L201), so it has two network variants whose accessibility is computed
once each. The floor is what this machine gives for this work without Dask: the same runs
(``--floor`` of them, no line cut, accessibility given) in a plain process pool of 1 and of 2
processes, warmed up first; its speed-up is the most two workers can reach here.
"Alone" is ``planning.run_scenario`` of runs of the sample without the line cut,
one after the other in this process, with the base accessibility table given (the best case
for a single run: nothing but the run's own work). The sweep's time includes starting the
LocalCluster and the workers' first imports. ``--large`` repeats it on a larger synthetic
municipality: the demo with three times the arrivals and twice the dwellings (copies at the
same addresses).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from placement import planning
from placement.scenario import scenario_from_dict
from placement.sweep import read_sweep, run_sweep, sample_runs
from placement.sweep.spec import run_definition

DEMO = Path(__file__).resolve().parents[1] / "data" / "geo" / "demo"

SWEEP = """[scenario]
name = "{name}"
dataset = "{dataset}"
{changes}
[sweep]
sample = "lhs"
runs = {runs}
seed = 1
solver_threads = {threads}

[[axis]]
kind = "weight"
term = "transit"
min = 0.35
max = 0.8

[[axis]]
kind = "weight"
term = "family"
min = 0.25
max = 0.5

[[axis]]
kind = "arrivals"
min = 0.9
max = 1.1

[[axis]]
kind = "cut_route"
values = ["", "L201"]

[pareto]
share_near_served_stop = "max"
largest_area_share_of_cap = "min"
families_daycare_school_15min = "max"
households_placed = "max"
"""


def large_changes(folder: Path) -> str:
    """A base scenario 3x the arrivals and 2x the dwellings (copies with new ids)."""
    dw = pd.read_csv(DEMO / "dwellings.csv", dtype=str, keep_default_na=False)
    extra = dw.copy()
    extra["dwelling_id"] = "X" + extra["dwelling_id"]
    extra["building_id"] = ""
    extra.to_csv(folder / "more_dwellings.csv", index=False)
    return ('[[change]]\nkind = "arrivals"\nfactor = 3.0\n\n'
            '[[change]]\nkind = "add_dwellings"\nfile = "more_dwellings.csv"\n')


def _floor_warm(_: int) -> int:
    import placement.optimizer.propose
    import placement.planning  # noqa: F401

    return os.getpid()


def _floor_run(job: tuple[dict, str, str, pd.DataFrame, int]) -> float:
    definition, folder, work, access, threads = job
    t = time.perf_counter()
    planning.run_scenario(scenario_from_dict(definition, base=Path(folder)), Path(work),
                          base_access=access, solver_threads=threads)
    return time.perf_counter() - t


def floor(definitions: list[dict], folder: Path, access: pd.DataFrame, processes: int,
          threads: int) -> float:
    """Wall time of the runs in a warmed-up plain process pool (no Dask)."""
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(processes, mp_context=ctx) as pool:
        list(pool.map(_floor_warm, range(processes * 4)))
        jobs = [(d, str(folder), str(folder / f"floor-{processes}-{i}"), access, threads)
                for i, d in enumerate(definitions)]
        t = time.perf_counter()
        list(pool.map(_floor_run, jobs))
        return time.perf_counter() - t


def bench(name: str, folder: Path, dataset: Path, changes: str, args: argparse.Namespace
          ) -> list[dict]:
    sweep = folder / f"{name}.toml"
    sweep.write_text(SWEEP.format(name=name, dataset=dataset, runs=args.runs, changes=changes,
                                  threads=args.solver_threads), encoding="utf-8")
    spec = read_sweep(sweep)
    runs = sample_runs(spec)
    rows = []
    # alone: the first runs of the sample, one after the other, base accessibility given
    base_def = {"scenario": dict(spec.base["scenario"]), "change": spec.base.get("change", [])}
    base = planning.run_scenario(scenario_from_dict(base_def, base=folder), folder / "alone")
    areas = sorted(base.plan.dataset.areas["area_id"].astype(str))
    alone = []
    same_network = [r for r in runs if r.params["cut_route"] == ""]  # no access to compute
    matched = same_network[: args.alone]
    for run in matched:
        scen = scenario_from_dict(run_definition(spec, run, areas), base=folder)
        t = time.perf_counter()
        planning.run_scenario(scen, folder / "alone", base_access=base.plan.access,
                              solver_threads=args.solver_threads)
        alone.append(time.perf_counter() - t)
    alone_s = statistics.mean(alone)
    floor_defs = [run_definition(spec, r, areas) for r in same_network[: args.floor]]
    floors = {n: floor(floor_defs, folder, base.plan.access, n, args.solver_threads)
              for n in args.workers}
    floor_speed_up = floors[args.workers[0]] / floors[args.workers[-1]]
    print(f"  floor (plain process pool, {len(floor_defs)} runs): "
          + ", ".join(f"{n} process(es) {w:.1f} s" for n, w in floors.items())
          + f"; speed-up {floor_speed_up:.2f}x", flush=True)
    print(f"{name}: {len(base.plan.dataset.households)} households, "
          f"{len(base.plan.dataset.dwellings)} dwellings; one run alone {alone_s:.2f} s "
          f"(mean of {len(alone)})", flush=True)
    walls = {}
    for n in args.workers:
        out = folder / f"{name}-w{n}"
        t = time.perf_counter()
        result = run_sweep(sweep, out, workers=n)
        wall = time.perf_counter() - t
        walls[n] = wall
        table = result.table
        assert table is not None
        tasks = table["elapsed_s"].dropna()
        same = table.set_index("run").loc[[r.index for r in matched], "elapsed_s"]
        per_run = wall * n / len(runs)
        row = {"case": name, "workers": n, "runs": len(runs),
               "ok": int((table["status"] == "ok").sum()),
               "front": int((table["pareto"] == "yes").sum()), "wall_s": wall,
               "per_run_s": per_run, "task_median_s": float(tasks.median()),
               "alone_s": alone_s, "overhead": per_run / alone_s - 1,
               "task_overhead": float(tasks.median()) / alone_s - 1,
               "matched_task_s": float(same.mean()),
               "matched_overhead": float(same.mean()) / alone_s - 1,
               "speed_up": walls[args.workers[0]] / wall,
               "floor_speed_up": floors[args.workers[0]] / floors[n]}
        rows.append(row)
        print(f"  {n} worker(s): {wall:.1f} s for {len(runs)} runs ({row['ok']} ok, "
              f"{row['front']} on the front); {per_run:.2f} s per run per worker "
              f"({row['overhead']:+.0%} against alone), task median "
              f"{row['task_median_s']:.2f} s; the runs timed alone took "
              f"{row['matched_task_s']:.2f} s as tasks ({row['matched_overhead']:+.0%}); speed-up "
              f"{row['speed_up']:.2f}x", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=32)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--alone", type=int, default=6)
    parser.add_argument("--floor", type=int, default=12)
    parser.add_argument("--large", action="store_true")
    parser.add_argument("--large-only", action="store_true", help="the larger case only")
    parser.add_argument("--solver-threads", type=int, default=1,
                        help="the sweep's solver_threads (also alone and in the floor)")
    args = parser.parse_args()
    args.workers = [int(w) for w in args.workers.split(",")]
    print(f"cores: {os.cpu_count()}, load average before: "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        from placement import settings

        settings.cache_folder = folder / "cache"  # cold accessibility, as a first sweep
        rows = [] if args.large_only else bench("demo", folder, DEMO, "", args)
        if args.large or args.large_only:
            rows += bench("large", folder, DEMO, large_changes(folder), args)
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"load average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
