"""Benchmark the placement optimiser against two greedy baselines.

Usage: python benchmarks/optimizer.py [--sizes 100x400,1000x4000] [--candidate-limit K]
       [--time-limit S] [--threads N] [--gap G] [--no-tracemalloc] [--verbose]

Instances come from placement.optimizer.synthetic.make_instance (seed 0). For each size the
script reports model build time, solve time (of which the LP pricing loop), gap (against a bound
that holds over all eligible pairs), eligible pairs and the pairs the MILP was built over, peak
memory (tracemalloc: Python-side allocations; plus the process's max RSS), and for the MILP and
both baselines in the same run: persons placed, the quality part of the objective (scores less
the spread penalty, as the optimiser defines it) and policy measures. The baselines place
households one by one in order of arrival: "greedy FCFS" takes the suitable dwelling that
became free first, "greedy best" the suitable dwelling with the best score. ``--demo`` runs the
bundled demo dataset.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

import numpy as np
import pandas as pd

from placement.config import load_policy
from placement.optimizer import greedy_assign, propose
from placement.optimizer.synthetic import make_instance


def quality(plan: pd.DataFrame, hh, dw, ar, policy) -> float:
    """Scores less the spread penalty (README, "The objective, stage by stage")."""
    placed = plan[plan["dwelling_id"].notna()]
    w = policy.weights
    points = w.spread / (w.total - w.spread) if w.total > w.spread else 1.0
    persons = hh.set_index("household_id").loc[placed["household_id"], "persons"].to_numpy()
    area = dw.set_index("dwelling_id").loc[placed["dwelling_id"], "area_id"].to_numpy()
    ar_i = ar.set_index("area_id")
    load = pd.Series(persons, index=area).groupby(level=0).sum().reindex(ar_i.index).fillna(0)
    share = ar_i["population"] / ar_i["population"].sum()
    tol = policy.scoring.spread_tolerance_persons
    off = np.maximum(load - share * load.sum() - tol, 0.0).sum() if w.spread > 0 else 0.0
    return float(placed["score"].sum() - points * off)


def measures(plan: pd.DataFrame, hh, dw, ar, acc, policy) -> dict[str, float]:
    a = plan.merge(hh[["household_id", "persons", "children_0_5", "children_6_16"]],
                   on=["household_id"], suffixes=("", "_h"))
    placed = a[a["dwelling_id"].notna()].copy()
    persons = placed["persons"]
    acc = acc.reindex(placed["dwelling_id"])
    near = ((acc["walk_stop_min"].to_numpy() <= 500 / 80)  # 500 m at 4.8 km/h = 6.25 min
            & (acc["departures_per_hour_500m"].to_numpy() >= 2))
    share_near = float((persons.to_numpy() * near).sum() / max(persons.sum(), 1))
    area = dw.set_index("dwelling_id").loc[placed["dwelling_id"], "area_id"].to_numpy()
    load = pd.Series(persons.to_numpy(), index=area).groupby(level=0).sum()
    ar_i = ar.set_index("area_id")
    cap = np.floor(policy.rules.max_area_share * ar_i["population"] + 1e-9)
    share_cap = ((ar_i["integration_residents"] + load.reindex(ar_i.index).fillna(0)) / cap)
    kids = placed[["children_0_5", "children_6_16"]].sum(axis=1).to_numpy() > 0
    fam_ok = (((placed["children_0_5"].to_numpy() == 0) | (acc["walk_daycare_min"].to_numpy()
                                                          <= 15))
              & ((placed["children_6_16"].to_numpy() == 0) | (acc["walk_school_min"].to_numpy()
                                                              <= 15)))
    return {
        "share_persons_near_stop": share_near,
        "max_area_load_vs_cap": float(share_cap.max()),
        "mean_community": float(placed["community"].mean()),
        "families_daycare_school_15min": float(fam_ok[kids].mean()) if kids.any() else np.nan,
        "mean_score": float(placed["score"].mean()),
        "quality": round(quality(plan, hh, dw, ar, policy), 4),
        "persons_placed": int(persons.sum()),
        "unplaced": int(a["dwelling_id"].isna().sum()),
        "unplaced_4plus": int((a["dwelling_id"].isna() & (a["persons"] >= 4)).sum()),
    }


def run(h: int, d: int, args: argparse.Namespace) -> list[dict]:
    hh, dw, ar, acc = make_instance(h, d, seed=0)
    solver = {"time_limit_s": args.time_limit, "candidate_limit": args.candidate_limit,
              "threads": args.threads}
    if args.gap is not None:
        solver["mip_gap"] = args.gap
    policy = load_policy("default").with_overrides(solver=solver)
    if not args.no_tracemalloc:
        tracemalloc.start()
    t = time.perf_counter()
    res = propose(hh, dw, ar, acc, policy)
    wall = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1] / 2**20 if not args.no_tracemalloc else np.nan
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    s = res.summary
    out = [{"size": f"{h}x{d}", "method": "MILP", "status": s["status"],
            "stages": " / ".join(f"{x['stage']} {x['status']} {x['solve_s']:.1f} s"
                                 for x in s["stages"]),
            "build_s": s["build_s"], "solve_s": s["solve_s"], "pricing_s": s["pricing_s"],
            "wall_s": round(wall, 2), "quality_bound": round(s["quality_bound"], 4),
            "quality_gap": s["quality_gap"], "persons_max": s["persons_placed_max"],
            "pairs": s["n_pairs"], "model_pairs": s["n_model_pairs"],
            "peak_py_MiB": round(peak) if peak == peak else None, "max_rss_MiB": round(rss),
            **measures(res.assignments, hh, dw, ar, acc, policy)}]
    for pick, name in (("first_free", "greedy FCFS"), ("best_score", "greedy best")):
        t = time.perf_counter()
        g = greedy_assign(hh, dw, ar, acc, policy, pick=pick)
        out.append({"size": f"{h}x{d}", "method": name, "status": "-",
                    "wall_s": round(time.perf_counter() - t, 2),
                    "max_rss_MiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                         / 1024),
                    **measures(g, hh, dw, ar, acc, policy)})
    for row in out:
        print(row, flush=True)
    return out


def demo(args: argparse.Namespace) -> None:
    from placement import planning

    for gap in dict.fromkeys((1e-4 if args.gap is None else args.gap, 5e-4, 1e-3)):
        t = time.perf_counter()
        plan = planning.make_plan("data/geo/demo", "default", mip_gap=gap,
                                  time_limit_s=args.time_limit)
        s = plan.proposal.summary
        print({"case": "demo", "mip_gap": gap, "status": s["status"], "build_s": s["build_s"],
               "solve_s": s["solve_s"], "wall_s": round(time.perf_counter() - t, 2),
               "quality": round(s["quality"], 4), "quality_bound": round(s["quality_bound"], 4),
               "quality_gap": s["quality_gap"], "persons_placed": s["persons_placed"],
               "persons_max": s["persons_placed_max"], "pairs": s["n_pairs"],
               "model_pairs": s["n_model_pairs"]}, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--demo", action="store_true", help="time the bundled demo instead")
    ap.add_argument("--sizes", default="100x400,1000x4000")
    ap.add_argument("--candidate-limit", type=int, default=0)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--gap", type=float, default=None,
                    help="solver.mip_gap (default: the policy's, 5e-4)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-tracemalloc", action="store_true",
                    help="skip tracemalloc (it slows numpy-heavy code; max RSS is still given)")
    ap.add_argument("--verbose", action="store_true", help="log the solver's progress")
    args = ap.parse_args()
    if args.verbose:
        import logging

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.demo:
        demo(args)
        return
    rows = []
    for size in args.sizes.split(","):
        h, d = map(int, size.split("x"))
        rows += run(h, d, args)
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
