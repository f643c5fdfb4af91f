"""Weekly batch: who is placed now, who waits, which dwellings are kept free and why.

:func:`propose_batch` decides the batch at ``until`` with the foresight model of
:mod:`placement.optimizer.batch`: households that have arrived by ``until`` are placed or
wait (in temporary housing); households arriving later in the data are *announced*: they are
not placed now but enter every scenario as they are, as do dwellings announced free after
``until``. When the year's totals are given (``quota`` households, ``vacancies`` dwellings),
each scenario adds the unannounced rest: households drawn from the mix of the year so far,
dwellings drawn from those freed so far, on dates drawn evenly over the weeks left until
``end`` (default: 31 December of the year of ``until``, or the last date in the data if
later).

The result says, in words, why each free dwelling is kept ("kept for an expected family of 6;
2 expected before June") and how long each household has waited (``weeks_waited``).
:func:`batch_summary` gives the tables the app's Review page shows.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from placement._errors import ConfigError
from placement.config import Policy
from placement.optimizer.batch import (
    BatchDecision,
    Clock,
    State,
    Universe,
    _lock_pairs,
    build_universe,
    current_pairs,
)
from placement.optimizer.foresight import Scenario, foresight_batch, sample_scenario

__all__ = ["BatchPlan", "batch_summary", "propose_batch", "write_batch"]

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
#: A dwelling is said to be kept for expected arrivals when the scenarios give it to one in
#: at least this share of them (on average); below, it is kept by its potential alone.
KEPT_FOR_SHARE = 0.5


@dataclass
class BatchPlan:
    """Result of :func:`propose_batch`.

    Attributes
    ----------
    assignments : pandas.DataFrame
        One row per household, sorted by ``household_id``: ``household_id``, ``persons``,
        ``arrival_date``, ``status`` (``placed`` in this batch, ``waits`` in temporary housing,
        ``later``: arrives after the batch date), ``dwelling_id`` (NA unless placed),
        ``area_id``, ``score``, ``move_in``, ``weeks_waited`` (arrival to move-in when placed,
        arrival to the batch date when waiting; NA for ``later``), ``locked``, ``reason``
        (words; "" when placed).
    kept : pandas.DataFrame
        Free dwellings left free although a household of this batch (placed elsewhere or
        waiting) could have had one:
        ``dwelling_id``, ``area_id``, ``rooms``, ``potential`` (points: the LP dual of the
        dwelling in the scenarios, its marginal value to later arrivals), ``expected_use``
        (share of the scenarios that give it to an expected arrival), ``expected_value``
        (points those arrivals get from it, averaged over the scenarios), ``reason`` (words).
    expected : pandas.DataFrame
        Expected arrivals after the batch per month and size: ``month`` (YYYY-MM),
        ``persons`` (1-5 or "6+"), ``expected`` (mean over the scenarios).
    areas : pandas.DataFrame
        ``area_id``, ``cap_left`` (persons before this batch), ``placed_persons`` (in it),
        ``potential_per_person`` (points: the value of a person's room under the cap).
    summary : dict
        ``batch_date``, ``year_end``, ``cadence_days``, counts (``n_households``, ``n_placed``,
        ``n_waiting``, ``n_later``, ``n_free_dwellings``, ``n_kept``), ``mean_weeks_waited``
        (of those waiting), ``waiting_cost_per_week``, ``quota``, ``vacancies``,
        ``n_scenarios``, ``seed``, ``whole_recourse`` (scenarios solved whole), ``solve_s``,
        ``notes``.
    """

    assignments: pd.DataFrame
    kept: pd.DataFrame
    expected: pd.DataFrame
    areas: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


def _noun(persons: int, household_type: str) -> str:
    if household_type in ("family", "single_parent"):
        return f"family of {persons}"
    if household_type == "couple":
        return "couple"
    if household_type == "single":
        return "single person"
    return f"household of {persons}"


def _size_label(p: np.ndarray) -> np.ndarray:
    return np.where(p >= 6, "6+", p.astype(str))


def kept_words(uni: Universe, clock: Clock, dec: BatchDecision, scenarios: list[Scenario],
               waiting: np.ndarray) -> pd.DataFrame:
    """Say which free dwellings the batch keeps free although one of ``waiting`` could have one.

    For each: its potential, the share of the scenarios that give it to an expected arrival,
    and words: the make-up most often expected for it and how many such households (same size,
    able to take it) are expected before the start of the month after they come.
    """
    inst = uni.inst
    cols = ["dwelling_id", "area_id", "rooms", "potential", "expected_use", "expected_value",
            "reason"]
    used = set(inst.pair_d[dec.pairs].tolist()) if len(dec.pairs) else set()
    if not len(dec.dwellings) or not len(waiting):
        return pd.DataFrame(columns=cols)
    pairs = current_pairs(uni, waiting, dec.dwellings)
    could = set(inst.pair_d[pairs].tolist())
    K = max(len(scenarios), 1)
    rows = []
    for i, d in enumerate(dec.dwellings):
        d = int(d)
        if d in used or d not in could:
            continue
        u = dec.uses[dec.uses["dwelling"] == d] if len(dec.uses) else dec.uses
        share = float(u["weight"].sum()) / K if len(u) else 0.0
        worth = float((u["weight"] * u["value"]).sum()) / K if len(u) else 0.0
        pot = float(dec.potential[i]) if len(dec.potential) else 0.0
        if share >= KEPT_FOR_SHARE:
            persons = inst.persons[u["src"].to_numpy()]
            w = u["weight"].to_numpy()
            sizes = np.unique(persons)
            best = int(sizes[np.argmax([w[persons == s].sum() for s in sizes])])
            pick = u[persons == best]
            kinds = inst.household_type[pick["src"].to_numpy()]
            kind = str(pd.Series(kinds).mode().iloc[0])
            when = np.datetime64(clock.date(int(np.median(pick["batch"]))), "M") + 1
            before = np.datetime64(when, "D")
            n = 0.0
            for sc in scenarios:
                t_sc = clock.start + (sc.hh_batch * clock.cadence_days).astype("timedelta64[D]")
                same = (np.minimum(inst.persons[sc.hh_src], 6) == min(best, 6)) & (t_sc < before)
                fits = uni.E[sc.hh_src[same], d].toarray().ravel() > 0 if same.any() else []
                n += float(np.sum(fits))
            n /= K
            month = MONTHS[int(str(when)[5:7]) - 1]
            reason = (f"kept for an expected {_noun(best, kind)}; {n:.0f} expected before "
                      f"{month} (worth {worth:.2f} points to them)")
        else:
            reason = (f"kept: worth {pot:.2f} points to later arrivals, more than to the "
                      "households waiting now (under the caps and building limits)")
        area = inst.area_ids[inst.dw_area[d]] if inst.dw_area[d] >= 0 else None
        rows.append({"dwelling_id": inst.dw_ids[d], "area_id": area,
                     "rooms": float(inst.rooms[d]), "potential": pot, "expected_use": share,
                     "expected_value": worth, "reason": reason})
    return pd.DataFrame(rows, columns=cols)


def expected_table(uni: Universe, clock: Clock, scenarios: list[Scenario]) -> pd.DataFrame:
    """Count the expected arrivals after the batch by month and size (mean over the scenarios)."""
    cols = ["month", "persons", "expected"]
    if not scenarios:
        return pd.DataFrame(columns=cols)
    parts = []
    for k, sc in enumerate(scenarios):
        t = clock.start + (sc.hh_batch * clock.cadence_days).astype("timedelta64[D]")
        parts.append(pd.DataFrame({"k": k, "month": t.astype("datetime64[M]").astype(str),
                                   "persons": _size_label(uni.inst.persons[sc.hh_src])}))
    allp = pd.concat(parts, ignore_index=True)
    if allp.empty:
        return pd.DataFrame(columns=cols)
    n = allp.groupby(["month", "persons"]).size() / len(scenarios)
    return n.rename("expected").reset_index()


def propose_batch(households: pd.DataFrame, dwellings: pd.DataFrame, areas: pd.DataFrame,
                  access: pd.DataFrame, policy: Policy, until: Any, *,
                  quota: int | None = None, vacancies: int | None = None,
                  n_scenarios: int = 4, seed: int = 0, cadence_days: int = 7,
                  end: Any = None, locks: Any = None, rejected: Any = None,
                  time_limit_s: float | None = None, mip_gap: float = 1e-6) -> BatchPlan:
    """Decide the batch at ``until``: place or keep waiting, keep room for who comes next.

    Parameters
    ----------
    households, dwellings, areas, access, policy
        As for :func:`placement.optimizer.propose`.
    until
        Batch date (``YYYY-MM-DD``): households arrived by then are placed or wait;
        dwellings free by then (within ``rules.availability_tolerance_days``) may be let.
    quota, vacancies
        The year's households and vacancies; the unannounced rest is drawn in each scenario
        (module docstring). Default: only the announced ones (those in the data).
    n_scenarios, seed
        Sampled futures and their seed (same inputs and seed, same batch).
    cadence_days
        Days between batches.
    end
        End of the year (default: 31 December of ``until``'s year, or later data).
    locks, rejected
        Approved placements (placed in this batch when both are there; the household and the
        dwelling are held otherwise) and rejected pairs (never proposed).
    time_limit_s, mip_gap
        Solver options (default: ``solver.time_limit_s``).

    Returns
    -------
    BatchPlan

    Raises
    ------
    ConfigError
        A bad date, quota, cadence or scenario count.
    DataError
        Bad columns or ids.
    """
    t0 = time.perf_counter()
    try:
        t = np.datetime64(pd.Timestamp(until).date(), "D")
    except (ValueError, TypeError) as err:
        msg = f"--batch-until must be a date YYYY-MM-DD, got {until!r}"
        raise ConfigError(msg) from err
    if int(cadence_days) < 1 or int(n_scenarios) < 0:
        msg = "the cadence must be at least 1 day and the scenarios at least 0"
        raise ConfigError(msg)
    uni, lock_pos = build_universe(households, dwellings, areas, access, policy, locks=locks,
                                   rejected=rejected)
    inst = uni.inst
    year_end = (np.datetime64(f"{str(t)[:4]}-12-31", "D") if end is None
                else np.datetime64(pd.Timestamp(end).date(), "D"))
    # batches on or before the year end; what arrives or frees after it is next year's
    clock = Clock.until(t, year_end, int(cadence_days))
    bh = clock.batch_of(inst.arrival)
    bd = clock.batch_of(uni.offer_date)
    early = inst.arrival <= t
    bh[early] = 0
    bd[uni.offer_date <= t] = 0
    lock_p = _lock_pairs(uni, lock_pos)
    lh = inst.pair_h[lock_p] if len(lock_p) else np.zeros(0, dtype=np.int64)
    ld = inst.pair_d[lock_p] if len(lock_p) else np.zeros(0, dtype=np.int64)
    now_lock = (bh[lh] == 0) & (bd[ld] == 0) if len(lock_p) else np.zeros(0, dtype=bool)
    held_h = np.zeros(inst.n_households, dtype=bool)
    held_h[lh[~now_lock]] = True
    held_d = np.zeros(inst.n_dwellings, dtype=bool)
    held_d[ld[~now_lock]] = True
    hh = np.flatnonzero((bh == 0) & ~held_h)
    dw = np.flatnonzero((bd == 0) & ~held_d)
    forced = lock_p[now_lock] if len(lock_p) else np.zeros(0, dtype=np.int64)
    state = State.empty(inst.n_households)
    ann_h = np.flatnonzero((bh > 0) & (bh < clock.n_batches) & ~held_h)
    ann_d = np.flatnonzero((bd > 0) & (bd < clock.n_batches) & ~held_d)
    seen_hh = np.flatnonzero(bh == 0)
    seen_dw = np.flatnonzero(bd == 0)
    q = len(hh) + len(ann_h) if quota is None else int(quota)
    v = len(ann_d) if vacancies is None else int(vacancies)
    scenarios = [sample_scenario(uni, clock, 0, np.random.default_rng([int(seed), k]),
                                 seen_hh=seen_hh, seen_dw=seen_dw, quota=q, vacancies=v,
                                 n_arrived=len(seen_hh), n_freed=0, announced_hh=ann_h,
                                 announced_dw=ann_d)
                 for k in range(int(n_scenarios))]
    tl = float(policy.solver.time_limit_s if time_limit_s is None else time_limit_s)
    dec = foresight_batch(uni, clock, 0, hh, dw, state, scenarios, forced=forced,
                          time_limit_s=tl, mip_gap=mip_gap)
    state.place(uni, dec.pairs, t, 0)
    placed = state.dwelling >= 0
    waiting = np.flatnonzero((bh == 0) & ~placed)
    kept = kept_words(uni, clock, dec, scenarios, np.flatnonzero(bh == 0))
    # the rows of the assignments
    H = inst.n_households
    status = np.where(placed, "placed", np.where(bh == 0, "waits", "later")).astype(object)
    score = np.full(H, np.nan)
    if len(dec.pairs):
        score[inst.pair_h[dec.pairs]] = inst.pair_score[dec.pairs]
    weeks = np.where(placed, (state.movein - inst.arrival).astype("timedelta64[D]")
                     .astype(float) / 7.0,
                     np.where(bh == 0, (t - inst.arrival).astype("timedelta64[D]")
                              .astype(float) / 7.0, np.nan))
    free_pairs = current_pairs(uni, waiting, dw)
    has_free = np.zeros(H, dtype=bool)
    has_free[inst.pair_h[free_pairs]] = True
    reason = np.where(placed, "", np.where(
        bh > 0, "arrives after the batch date",
        np.where(held_h, "holds an approved placement in a dwelling not free yet",
                 np.where(has_free, "waits: the suitable free dwellings go to others in this "
                          "batch or are kept for expected arrivals (see kept dwellings)",
                          "waits: no suitable dwelling is free")))).astype(object)
    locked = np.zeros(H, dtype=bool)
    locked[lh] = True
    d_of = np.maximum(state.dwelling, 0)
    area = np.where(placed & (inst.dw_area[d_of] >= 0),
                    inst.area_ids[np.maximum(inst.dw_area[d_of], 0)], None)
    assignments = pd.DataFrame({
        "household_id": inst.hh_ids, "persons": inst.persons,
        "arrival_date": inst.arrival, "status": status,
        "dwelling_id": pd.array(np.where(placed, inst.dw_ids[d_of], None), dtype="string"),
        "area_id": pd.array(area, dtype="string"), "score": score,
        "move_in": state.movein, "weeks_waited": weeks, "locked": locked, "reason": reason})
    A = len(inst.area_ids)
    cap0 = (np.maximum(inst.area_cap, 0.0) if uni.policy.rules.area_cap
            else np.full(A, np.inf))
    ph = np.flatnonzero(placed)
    a_ph = inst.dw_area[state.dwelling[ph]]
    ok = a_ph >= 0
    load = np.bincount(a_ph[ok], weights=inst.persons[ph][ok], minlength=A)
    areas_df = pd.DataFrame({"area_id": inst.area_ids, "cap_left": cap0,
                             "placed_persons": load,
                             "potential_per_person": dec.area_potential if len(
                                 dec.area_potential) else np.zeros(A)})
    wait_w = weeks[waiting]
    summary = {
        "batch_date": str(t), "year_end": str(clock.end), "cadence_days": int(cadence_days),
        "n_households": int(H), "n_placed": int(placed.sum()), "n_waiting": len(waiting),
        "n_later": int((bh > 0).sum()), "n_free_dwellings": len(dw), "n_kept": len(kept),
        "mean_weeks_waited": float(wait_w.mean()) if len(wait_w) else math.nan,
        "waiting_cost_per_week": uni.waiting_cost, "quota": quota, "vacancies": vacancies,
        "n_announced_households": len(ann_h), "n_announced_dwellings": len(ann_d),
        "n_scenarios": int(n_scenarios), "seed": int(seed),
        "whole_recourse": bool(dec.whole_recourse), "solve_s": time.perf_counter() - t0,
        "notes": list(inst.notes),
    }
    return BatchPlan(assignments=assignments, kept=kept,
                     expected=expected_table(uni, clock, scenarios), areas=areas_df,
                     summary=summary)


def batch_summary(plan: BatchPlan) -> dict[str, Any]:
    """Summarise a batch for the Review page: placements, kept dwellings, expected arrivals.

    Returns
    -------
    dict
        ``headline`` (words), ``batch`` (placed and waiting households: ``household_id``,
        ``persons``, ``status``, ``dwelling_id``, ``weeks_waited``, ``reason``), ``kept`` and
        ``expected`` (as in :class:`BatchPlan`).
    """
    s = plan.summary
    a = plan.assignments
    batch = a[a["status"] != "later"][["household_id", "persons", "status", "dwelling_id",
                                       "weeks_waited", "reason"]].reset_index(drop=True)
    mean_w = s.get("mean_weeks_waited")
    waits = (f"; those waiting have waited {mean_w:.1f} weeks on average"
             if mean_w is not None and math.isfinite(mean_w) else "")
    headline = (f"Batch of {s['batch_date']}: {s['n_placed']} placed, {s['n_waiting']} wait in "
                f"temporary housing{waits}; {s['n_kept']} of {s['n_free_dwellings']} free "
                f"dwellings kept for expected arrivals; {s['n_later']} households announced "
                "for later.")
    return {"headline": headline, "batch": batch, "kept": plan.kept.copy(),
            "expected": plan.expected.copy()}


def write_batch(plan: BatchPlan, out_csv: str | Path) -> dict[str, Path]:
    """Write the batch as one set of files, the summary last.

    The assignments CSV, ``<stem>.kept.csv``, ``<stem>.expected.csv``, ``<stem>.areas.csv``
    and ``<stem>.summary.json``.

    Returns
    -------
    dict
        Paths keyed ``assignments``, ``kept``, ``expected``, ``areas``, ``summary``.
    """
    from placement.export import neutralise_formulas, write_file_set

    out = Path(out_csv)
    paths = {"assignments": out, "kept": out.with_name(f"{out.stem}.kept.csv"),
             "expected": out.with_name(f"{out.stem}.expected.csv"),
             "areas": out.with_name(f"{out.stem}.areas.csv"),
             "summary": out.with_name(f"{out.stem}.summary.json")}

    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, np.generic):
            return clean(v.item())
        return v

    summary = {k: clean(v) for k, v in plan.summary.items()}
    frames = {"assignments": plan.assignments, "kept": plan.kept,
              "expected": plan.expected, "areas": plan.areas}
    write_file_set(
        {paths[k].name: neutralise_formulas(f).to_csv(index=False, float_format="%.6g")
         for k, f in frames.items()},
        paths["summary"],
        lambda digests: json.dumps({**summary, "files": digests}, indent=2,
                                   ensure_ascii=False, default=str) + "\n",
    )
    return paths
