"""Benchmark a year in weekly batches: ratio to hindsight per method, wall time per batch.

Usage: python benchmarks/year.py [--demo] [--synthetic 1000x4000] [--seeds 3] [--scenarios 3]
       [--threads 1] [--out DIR]

For the bundled demo municipality (``--demo``: its 96 households and 360 dwellings over
2026) and for a synthetic year (placement.optimizer.synthetic.make_year: households arriving
and dwellings freeing evenly over 364 days, a tenth of the dwellings free on the first day),
every method of placement.optimizer.year (hindsight, myopic, greedy, foresight) runs on the
same arrivals; each final assignment is scored with the same year objective J (1 point per
person housed plus the pair's score, less objective.waiting_cost_per_week per household per
week waited) and divided by the hindsight optimum's J. The per-batch wall time covers drawing
the scenarios and solving the batch. HiGHS runs with --threads threads (default 1: other jobs
share the machine). Writes DIR/<name>/methods.csv, households.csv and ratios.png, and prints
the table recorded in benchmarks/RESULTS.md. No extra dependency (matplotlib is a runtime one).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import time
from pathlib import Path

import pandas as pd

from placement.config import load_policy
from placement.optimizer.synthetic import make_year
from placement.optimizer.year import simulate_year, write_year


def summarise(t: pd.DataFrame) -> pd.DataFrame:
    """Mean and minimum ratio, placements, waits and batch times per method over the seeds."""
    g = t.groupby("method", sort=False)
    return pd.DataFrame({
        "ratio_mean": g["ratio_to_hindsight"].mean(),
        "ratio_min": g["ratio_to_hindsight"].min(),
        "placed": g["households_placed"].mean(),
        "weeks_waited": g["mean_weeks_waited"].mean(),
        "batch_s_mean": g["mean_batch_s"].mean(),
        "batch_s_max": g["max_batch_s"].max(),
        "stop_share": g["share_near_served_stop"].mean(),
        "largest_load_vs_cap": g["largest_area_share_of_cap"].mean(),
    })


def run(name: str, frames, policy, args) -> None:
    hh, dw, ar, acc = frames
    t0 = time.perf_counter()
    res = simulate_year(hh, dw, ar, acc, policy, seeds=list(range(args.seeds)),
                        n_scenarios=args.scenarios, mip_gap=args.gap,
                        progress=lambda m: print(f"  {name}: {m}", flush=True))
    wall = time.perf_counter() - t0
    write_year(res, Path(args.out) / name)
    print(f"\n{name}: {len(hh)} households, {len(dw)} dwellings, "
          f"{res.parameters['batches']} batches of {res.parameters['cadence_days']} days, "
          f"{args.seeds} seeds, {args.scenarios} scenarios, total {wall:.0f} s")
    print(summarise(res.methods).to_string(float_format=lambda v: f"{v:.4f}"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demo", action="store_true", help="run the bundled demo municipality")
    ap.add_argument("--synthetic", default="1000x4000", help="HxD of the synthetic year ('' none)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--scenarios", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--gap", type=float, default=1e-5)
    ap.add_argument("--out", default="year-bench")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    policy = load_policy("default").with_overrides(solver={"threads": args.threads})
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"HiGHS threads {args.threads}")
    if args.demo:
        from placement import planning
        from placement.cli import REPO_DEMO_DIR
        from placement.dataset import load_dataset

        ds = load_dataset(REPO_DEMO_DIR)
        acc = planning.accessibility(REPO_DEMO_DIR)
        run("demo", (ds.households, ds.dwellings, ds.areas, acc), policy, args)
    if args.synthetic:
        n_h, n_d = (int(x) for x in args.synthetic.lower().split("x"))
        run(f"synthetic_{n_h}x{n_d}", make_year(n_h, n_d, seed=1), policy, args)


if __name__ == "__main__":
    main()
