"""A year replayed batch by batch: hindsight, myopic, greedy and foresight on the same arrivals.

:func:`simulate_year` replays a year of arrivals and vacancies with a batch every
``cadence_days`` days and runs every method of :mod:`placement.optimizer.batch` on the same
households and dwellings. Each method's final assignment is scored with the same year
objective ``J`` (:func:`placement.optimizer.batch.year_objective`: 1 point per person housed
plus the pair's score, less ``objective.waiting_cost_per_week`` per household per week waited,
households never placed waiting until the end of the year), and
``ratio_to_hindsight = J(method) / J(hindsight)``.

Arrivals are the dataset's own (every seed the same) unless ``quota`` is given: then ``quota``
households are drawn with replacement from the dataset's households (their make-up) with
arrival dates drawn from the dataset's arrival dates, anew for each seed. The foresight
method knows the year's totals (the quota, and the vacancies the housing associations give
the municipality in the year: ``vacancies``, by default the dataset's dwellings freeing after
the first batch) but not who comes when: its scenarios draw households from those arrived so
far and dwellings from those freed so far (:func:`placement.optimizer.foresight.sample_scenario`).

Approved (locked) pairs are placed in the first batch at which both are there, by every
method; rejected pairs are never made. A batch's placements are final: later batches build on
them (caps, building limits and dwellings taken).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from placement import measures as ms
from placement._errors import ConfigError
from placement.config import Policy
from placement.optimizer.batch import (
    BatchDecision,
    Clock,
    State,
    Universe,
    _lock_pairs,
    build_universe,
    greedy_batch,
    hindsight_plan,
    myopic_batch,
    weeks_waited,
    year_objective,
)
from placement.optimizer.foresight import Scenario, foresight_batch, sample_scenario

logger = logging.getLogger(__name__)

__all__ = ["METHODS", "YearResult", "run_batches", "simulate_year", "write_year"]

#: Methods compared, in the order of the table.
METHODS = ("hindsight", "myopic", "greedy", "foresight")

#: Columns of ``methods.csv`` (besides the measures of :data:`MEASURE_COLUMNS`).
METHOD_COLUMNS = ("method", "seed", "objective", "ratio_to_hindsight", "households",
                  "households_placed", "persons_placed", "mean_weeks_waited",
                  "max_weeks_waited", "batches", "mean_batch_s", "max_batch_s")
#: Policy measures copied from :func:`placement.measures.plan_measures`.
MEASURE_COLUMNS = ("persons_near_served_stop", "share_near_served_stop",
                   "persons_with_stop_data", "largest_area_share_of_cap",
                   "families_daycare_school_15min", "families_with_walk_data",
                   "mean_associations_15min", "households_with_association_data")


@dataclass
class YearResult:
    """Result of :func:`simulate_year`.

    Attributes
    ----------
    methods : pandas.DataFrame
        One row per method and seed: :data:`METHOD_COLUMNS` then :data:`MEASURE_COLUMNS`.
        ``objective`` is ``J``; ``mean_weeks_waited`` is over every household, a household
        never placed counting its weeks until the end of the year; ``mean_batch_s`` and
        ``max_batch_s`` the wall time of a batch decision (hindsight: its one solve).
    households : pandas.DataFrame
        One row per method, seed and household: ``method``, ``seed``, ``household_id``,
        ``persons``, ``arrival_date``, ``dwelling_id`` (NA when never placed),
        ``decided`` (batch date), ``move_in``, ``weeks_waited`` (arrival to move-in, or to the
        end of the year when never placed) and ``censored`` (never placed: the wait went on
        past the year).
    parameters : dict
        Batch dates, cadence, quota, vacancies, scenarios, seeds, waiting cost.
    """

    methods: pd.DataFrame
    households: pd.DataFrame
    parameters: dict[str, Any] = field(default_factory=dict)


def _draw_households(households: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """``n`` households drawn with replacement, arrival dates drawn from the dataset's."""
    rng = np.random.default_rng([int(seed), 7919])
    rows = rng.integers(0, len(households), size=n)
    out = households.iloc[rows].reset_index(drop=True).copy()
    dates = pd.to_datetime(households["arrival_date"]).to_numpy()
    out["arrival_date"] = dates[rng.integers(0, len(dates), size=n)]
    out["household_id"] = [f"Y{seed}-{i:05d}" for i in range(n)]
    return out


def run_batches(uni: Universe, clock: Clock, method: str, *, seed: int = 0,
                n_scenarios: int = 4, quota: int | None = None, vacancies: int | None = None,
                locks: Sequence[tuple[int, int]] = (), oracle: bool = False,
                time_limit_s: float = 60.0, mip_gap: float = 1e-6,
                on_batch: Callable[[int, BatchDecision], None] | None = None,
                ) -> tuple[State, list[float]]:
    """Run one online method (``myopic``, ``greedy``, ``foresight``) batch by batch.

    ``oracle`` gives foresight one scenario equal to the real future (for checks). Returns the
    decisions and the wall time of each batch that had households waiting.
    """
    inst = uni.inst
    H, D = inst.n_households, inst.n_dwellings
    bh = clock.batch_of(inst.arrival)
    bd = clock.batch_of(uni.offer_date)
    lock_p = _lock_pairs(uni, list(locks))
    lock_b = (np.maximum(bh[inst.pair_h[lock_p]], bd[inst.pair_d[lock_p]]) if len(lock_p)
              else np.zeros(0, dtype=np.int64))
    quota = H if quota is None else int(quota)
    vacancies = int((bd > 0).sum()) if vacancies is None else int(vacancies)
    state = State.empty(H)
    times: list[float] = []
    for b in range(clock.n_batches):
        hh = np.flatnonzero((bh <= b) & (state.dwelling < 0))
        if not len(hh):
            continue
        t0 = time.perf_counter()
        taken = state.taken(D)
        dw = np.flatnonzero((bd <= b) & ~taken)
        forced = lock_p[(lock_b <= b) & (state.dwelling[inst.pair_h[lock_p]] < 0)] \
            if len(lock_p) else np.zeros(0, dtype=np.int64)
        if len(lock_p):
            # an approved pair holds its household and its dwelling until both are there
            held = lock_p[lock_b > b]
            hh = hh[~np.isin(hh, inst.pair_h[held])]
            dw = dw[~np.isin(dw, inst.pair_d[held])]
        if method == "greedy":
            dec = greedy_batch(uni, clock, b, hh, dw, state, forced=forced)
        elif method == "myopic":
            dec = myopic_batch(uni, clock, b, hh, dw, state, forced=forced,
                               time_limit_s=time_limit_s, mip_gap=mip_gap)
        elif method == "foresight":
            if oracle:
                scen = [Scenario.truth(uni, clock, b)]
            else:
                seen_hh = np.flatnonzero(bh <= b)
                seen_dw = np.flatnonzero(bd <= b)
                scen = [sample_scenario(uni, clock, b, np.random.default_rng([seed, b, k]),
                                        seen_hh=seen_hh, seen_dw=seen_dw, quota=quota,
                                        vacancies=vacancies, n_arrived=len(seen_hh),
                                        n_freed=int(((bd > 0) & (bd <= b)).sum()))
                        for k in range(n_scenarios)]
            dec = foresight_batch(uni, clock, b, hh, dw, state, scen, forced=forced,
                                  time_limit_s=time_limit_s, mip_gap=mip_gap)
        else:
            msg = f"unknown method {method!r} (known: {', '.join(METHODS)})"
            raise ConfigError(msg)
        state.place(uni, dec.pairs, clock.date(b), b)
        times.append(time.perf_counter() - t0)
        logger.info("%s batch %d: %d waiting, %d free, %d placed in %.2f s", method, b,
                    len(hh), len(dw), len(dec.pairs), times[-1])
        if on_batch is not None:
            on_batch(b, dec)
    return state, times


def _household_rows(uni: Universe, clock: Clock, state: State, method: str,
                    seed: int) -> pd.DataFrame:
    inst = uni.inst
    placed = state.dwelling >= 0
    decided = np.array([clock.date(b) if b >= 0 else np.datetime64("NaT")
                        for b in state.batch], dtype="datetime64[D]")
    return pd.DataFrame({
        "method": method, "seed": seed, "household_id": inst.hh_ids,
        "persons": inst.persons, "arrival_date": inst.arrival,
        "dwelling_id": pd.array(np.where(placed, inst.dw_ids[np.maximum(state.dwelling, 0)],
                                         None), dtype="string"),
        "decided": decided, "move_in": state.movein,
        "weeks_waited": weeks_waited(uni, state, clock.end), "censored": ~placed,
    })


def _measures(plan: pd.DataFrame, households: pd.DataFrame, dwellings: pd.DataFrame,
              access: pd.DataFrame, areas: pd.DataFrame, caps: pd.Series) -> dict[str, float]:
    m = ms.plan_measures(plan, households, dwellings, access, areas, caps)
    share, base = m.get("share_near_served_stop", math.nan), m.get("persons_with_stop_data",
                                                                    math.nan)
    m["persons_near_served_stop"] = (float(round(share * base)) if math.isfinite(share)
                                     else math.nan)
    return {k: float(m.get(k, math.nan)) for k in MEASURE_COLUMNS}


def simulate_year(households: pd.DataFrame, dwellings: pd.DataFrame, areas: pd.DataFrame,
                  access: pd.DataFrame, policy: Policy, *, quota: int | None = None,
                  vacancies: int | None = None, cadence_days: int = 7,
                  seeds: Sequence[int] = (0,), n_scenarios: int = 4,
                  methods: Sequence[str] = METHODS, locks: Any = None, rejected: Any = None,
                  time_limit_s: float = 60.0, mip_gap: float = 1e-6,
                  progress: Callable[[str], None] | None = None) -> YearResult:
    """Replay a year with a batch every ``cadence_days`` days and compare the methods.

    Parameters
    ----------
    households, dwellings, areas, access, policy
        As for :func:`placement.optimizer.propose`; ``arrival_date`` and ``available_from``
        give when each household comes and each dwelling frees up.
    quota
        Households arriving in the year; given, they are drawn from the dataset's households
        and arrival dates for each seed (module docstring). Default: the dataset's arrivals.
    vacancies
        Dwellings freeing in the year after the first batch, as the foresight method expects
        them (default: as many as in the data).
    cadence_days
        Days between batches.
    seeds
        Seeds of the scenarios (and of the drawn arrivals with ``quota``).
    n_scenarios
        Sampled futures per foresight batch.
    methods
        Any of :data:`METHODS`; ``hindsight`` is always solved (the ratios need it).
    locks, rejected
        Approved pairs (placed by every method as soon as both are there) and rejected pairs.
    time_limit_s, mip_gap
        Per solve.
    progress
        Called with a line of text after each method.

    Returns
    -------
    YearResult

    Raises
    ------
    DataError
        Bad columns or ids (as :func:`placement.optimizer.propose`).
    ConfigError
        An unknown method or a cadence below one day.
    """
    bad = [m for m in methods if m not in METHODS]
    if bad:
        msg = f"unknown method(s) {', '.join(bad)} (known: {', '.join(METHODS)})"
        raise ConfigError(msg)
    if int(cadence_days) < 1:
        msg = f"the cadence must be at least 1 day, got {cadence_days}"
        raise ConfigError(msg)
    if quota is not None and int(quota) < 1:
        msg = f"the quota must be at least 1 household, got {quota}"
        raise ConfigError(msg)
    caps = ms.area_caps(areas, policy.rules.max_area_share, policy.rules.area_max_share)
    rows: list[dict[str, Any]] = []
    hrows: list[pd.DataFrame] = []
    cached: tuple[Universe, list[tuple[int, int]], pd.DataFrame] | None = None
    clock: Clock | None = None
    for seed in seeds:
        if quota is None:
            if cached is None:
                uni, lock_pos = build_universe(households, dwellings, areas, access, policy,
                                               locks=locks, rejected=rejected)
                cached = (uni, lock_pos, households)
            uni, lock_pos, hh_frame = cached
        else:
            hh_frame = _draw_households(households, int(quota), int(seed))
            uni, lock_pos = build_universe(hh_frame, dwellings, areas, access, policy,
                                           locks=None, rejected=rejected)
        inst = uni.inst
        first = inst.arrival.min()
        last = max(inst.arrival.max(), uni.offer_date.max())
        clock = Clock.covering(first, last, int(cadence_days))
        t0 = time.perf_counter()
        hs = hindsight_plan(uni, clock, locks=lock_pos, time_limit_s=max(time_limit_s, 600.0),
                            mip_gap=mip_gap)
        hs_s = time.perf_counter() - t0
        j_h = year_objective(uni, hs, clock.end)
        results: list[tuple[str, State, list[float]]] = [("hindsight", hs, [hs_s])]
        if progress:
            progress(f"seed {seed}: hindsight J = {j_h:.2f} ({hs_s:.1f} s)")
        for method in methods:
            if method == "hindsight":
                continue
            state, times = run_batches(uni, clock, method, seed=int(seed),
                                       n_scenarios=n_scenarios, quota=quota,
                                       vacancies=vacancies, locks=lock_pos,
                                       time_limit_s=time_limit_s, mip_gap=mip_gap)
            results.append((method, state, times))
            if progress:
                j = year_objective(uni, state, clock.end)
                progress(f"seed {seed}: {method} J = {j:.2f}, ratio {j / j_h:.4f}, "
                         f"max batch {max(times, default=0.0):.2f} s")
        for method, state, times in results:
            if method not in methods and method != "hindsight":
                continue
            j = year_objective(uni, state, clock.end)
            hrow = _household_rows(uni, clock, state, method, int(seed))
            hrows.append(hrow)
            plan = hrow[["household_id", "dwelling_id"]]
            w = hrow["weeks_waited"].to_numpy(dtype=float)
            row = {"method": method, "seed": int(seed), "objective": j,
                   "ratio_to_hindsight": j / j_h if j_h > 0 else math.nan,
                   "households": len(hrow), "households_placed": int((~hrow["censored"]).sum()),
                   "persons_placed": int(hrow.loc[~hrow["censored"], "persons"].sum()),
                   "mean_weeks_waited": float(w.mean()) if len(w) else math.nan,
                   "max_weeks_waited": float(w.max()) if len(w) else math.nan,
                   "batches": len(times),
                   "mean_batch_s": float(np.mean(times)) if times else math.nan,
                   "max_batch_s": float(np.max(times)) if times else math.nan}
            row.update(_measures(plan, hh_frame, dwellings, access, areas, caps))
            rows.append(row)
    assert clock is not None
    params = {"first_batch": str(clock.start), "batches": clock.n_batches,
              "cadence_days": int(cadence_days), "year_end": str(clock.end),
              "quota": quota, "vacancies": vacancies, "n_scenarios": int(n_scenarios),
              "seeds": [int(s) for s in seeds],
              "waiting_cost_per_week": float(policy.objective.waiting_cost_per_week),
              "objective": OBJECTIVE_WORDS}
    table = pd.DataFrame(rows, columns=[*METHOD_COLUMNS, *MEASURE_COLUMNS])
    return YearResult(methods=table, households=pd.concat(hrows, ignore_index=True),
                      parameters=params)


#: The objective in words (written to summary.json and the README).
OBJECTIVE_WORDS = ("J = sum over placed households of (1 point per person + the pair's score) "
                   "- waiting_cost_per_week x weeks waited summed over every household "
                   "(arrival to move-in; to the end of the year when never placed); "
                   "ratio_to_hindsight = J / J(hindsight)")


def write_year(result: YearResult, out_dir: str | Path) -> dict[str, Path]:
    """Write ``methods.csv``, ``households.csv``, ``ratios.png`` and ``summary.json``.

    The files are one set (``summary.json``, written last, names each with its SHA-256); no
    text cell of the CSVs can run as a spreadsheet formula.

    Returns
    -------
    dict
        Paths keyed ``methods``, ``households``, ``chart``, ``summary``.
    """
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from placement.export import neutralise_formulas, write_file_set

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"methods": out / "methods.csv", "households": out / "households.csv",
             "chart": out / "ratios.png", "summary": out / "summary.json"}
    fig, ax = plt.subplots(figsize=(6.5, 3.6), dpi=120)
    t = result.methods
    names = [m for m in METHODS if m in set(t["method"])]
    for i, m in enumerate(names):
        r = t.loc[t["method"] == m, "ratio_to_hindsight"].to_numpy(dtype=float)
        ax.bar(i, np.nanmean(r) if len(r) else np.nan, color="#9ecae1", width=0.6)
        ax.plot(np.full(len(r), i), r, "o", color="#08519c", ms=4)
        ax.text(i, np.nanmean(r), f"{np.nanmean(r):.3f}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(names)), names)
    lo = float(np.nanmin(t["ratio_to_hindsight"])) if len(t) else 0.9
    ax.set_ylim(max(0.0, min(lo, 0.98) - 0.02), 1.01)
    ax.axhline(0.98, color="grey", lw=0.8, ls="--")
    ax.set_ylabel("objective / hindsight optimum")
    ax.set_title("Year replayed in batches: ratio to hindsight (bars: mean, dots: seeds)",
                 fontsize=9)
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png")
    plt.close(fig)
    write_file_set(
        {paths["methods"].name: neutralise_formulas(result.methods).to_csv(
            index=False, float_format="%.6g"),
         paths["households"].name: neutralise_formulas(result.households).to_csv(
            index=False, float_format="%.4g"),
         paths["chart"].name: png.getvalue()},
        paths["summary"],
        lambda digests: json.dumps({**result.parameters, "files": digests}, indent=2,
                                   default=str) + "\n",
    )
    return paths
