"""Propose placements: build the model, solve it, explain the result, write it out."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from placement._errors import InfeasibleError
from placement.config import Policy
from placement.optimizer import explain
from placement.optimizer.formulation import Stage, one_solve_at_a_time, spread_points
from placement.optimizer.instance import greedy_pass
from placement.optimizer.lazy import new_pool
from placement.optimizer.model import (
    PAIR_TERMS,
    Instance,
    Solution,
    build_and_solve,
    build_instance,
    eligibility_groups,
    eligible_pairs,
    finish_pairs,
    lazy_pairs,
    solve_lazy,
    spread_weight,
)
from placement.optimizer.stages import (
    Stages,
    fairness_rows,
    plan_quality,
    solve_stages,
    start_order,
)
from placement.score import any_measured, no_data_words

__all__ = ["Proposal", "propose", "write_proposal"]

logger = logging.getLogger(__name__)

PairsLike = pd.DataFrame | Iterable[tuple[str, str]] | Mapping[str, str] | None

OK_STATUSES = ("Optimal", "Time limit reached", "Interrupted by user", "Iteration limit reached",
               "Solution limit reached", "Pair limit reached")


@dataclass
class Proposal:
    """Result of :func:`propose`.

    Attributes
    ----------
    assignments : pandas.DataFrame
        One row per household, sorted by ``household_id``: ``household_id``, ``dwelling_id``
        (NA when unplaced), ``area_id``, ``persons``, ``score`` (weighted mean of the applicable
        terms, 0-1; empty when none of them could be measured), one column per term
        (``transit``, ``community``, ``family``, ``anchor``; 0-1, NA where not applicable or
        unknown), ``no_data`` (the terms that apply but could not be measured, e.g.
        "transit, community"; "" when all are known), ``locked`` (approved placement),
        ``kept`` (same dwelling as the previous proposal), ``unplaced_reason`` (words; ""
        when placed).
    areas : pandas.DataFrame
        Per local area: persons placed against the cap (see :func:`explain.area_table`).
    alternatives : pandas.DataFrame
        Per placed household the best other suitable dwellings and their score difference.
    summary : dict
        ``status`` (``Optimal`` only when every stage is), ``objective``/``bound``/``gap`` (of
        the quality part, as ``quality``/``quality_bound``/``quality_gap``), ``stages`` (per
        stage: status, value, bound, gap, seconds), ``persons_placed`` against
        ``persons_placed_max`` (proven most), ``placed_value``/``placed_bound`` (stage 1 in
        its own unit), ``kept``/``kept_bound``/``n_previous`` (re-optimising), ``build_s``,
        ``solve_s``, ``n_pairs`` (eligible pairs), ``n_model_pairs`` (pairs in the MILP),
        ``pricing_rounds``, ``pricing_s``, ``lp_bound`` (NaN when no pricing was needed),
        ``n_households``, ``n_dwellings``, ``n_placed``, ``n_unplaced``, ``persons_placed``,
        ``mean_score`` (over placed households with a measured score), ``n_placed_no_data``
        (placed households none of whose terms is known: score shown empty),
        ``spread_deviation`` (share of placed persons off the proportional
        distribution), ``reasons`` (words), ``notes``, ``unknown`` (per term: the policy
        choice, how many dwellings and placed households have no data, and words; see
        :func:`explain.unknown_summary`), ``policy``, the solver options.
    """

    assignments: pd.DataFrame
    areas: pd.DataFrame
    alternatives: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


def _previous_map(previous: Any) -> PairsLike:
    if isinstance(previous, Proposal):
        return previous.assignments[["household_id", "dwelling_id"]]
    return previous


@one_solve_at_a_time
def propose(
    households: pd.DataFrame,
    dwellings: pd.DataFrame,
    areas: pd.DataFrame,
    access: pd.DataFrame,
    policy: Policy,
    *,
    locks: PairsLike = None,
    rejected: PairsLike = None,
    previous: PairsLike | Proposal = None,
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
) -> Proposal:
    """Propose a dwelling for every household under the policy's rules and weights.

    Parameters
    ----------
    households
        One row per household (``docs/readme/CONTRACTS.md``): ``household_id``, ``persons``,
        ``household_type``, ``children_0_5``, ``children_6_16``, ``step_free_needed``,
        ``arrival_date``, optional ``anchor_lat``/``anchor_lon`` (degrees, NaN: none).
    dwellings
        One row per dwelling: ``dwelling_id``, ``area_id``, ``designated_kinds``, ``rooms``,
        ``rent_dkk`` (DKK/month), ``available_from``, ``permanent``, ``step_free``, optional
        ``building_id``, ``lat``/``lon`` (or a point geometry in EPSG:4326).
    areas
        Local areas: ``area_id``, ``population``, optional ``integration_residents``.
    access
        Accessibility table, one row per dwelling (index or column ``dwelling_id``).
    policy
        Rules, weights, scoring thresholds and solver options.
    locks
        Approved placements ``(household_id, dwelling_id)`` (frame with these columns, pairs or a
        mapping): fixed in the result.
    rejected
        Rejected pairs: never proposed again.
    previous
        The previous proposal (a :class:`Proposal`, a frame or a mapping household → dwelling):
        a last stage keeps as many of its pairs as possible among the plans within
        ``objective.keep_tolerance`` of the best quality (with ``objective.mode = "weighted"``:
        each pair still proposed gets ``solver.stability_bonus``).
    time_limit_s, mip_gap
        Override ``policy.solver.time_limit_s`` (seconds) and ``policy.solver.mip_gap`` (share).

    Returns
    -------
    Proposal

    Raises
    ------
    DataError
        A needed column is missing, ids repeat, or a lock/rejection names an unknown id.
    InfeasibleError
        The approved placements alone break a rule (two households in one dwelling, an area
        cap or a building limit exceeded); the reasons say which.
    """
    t0 = time.perf_counter()
    time_limit_s = policy.solver.time_limit_s if time_limit_s is None else float(time_limit_s)
    mip_gap = policy.solver.mip_gap if mip_gap is None else float(mip_gap)
    estimated = ("population_estimated" in areas.columns
                 and bool(pd.Series(areas["population_estimated"]).fillna(False).astype(bool)
                          .any()))
    if estimated and policy.rules.area_cap:
        policy = policy.with_overrides(rules={"area_cap": False})
    inst = build_instance(households, dwellings, areas, access, policy)
    if estimated:
        from placement.dataset import POPULATION_FALLBACK_WORDS

        inst.notes.append(POPULATION_FALLBACK_WORDS)
    if policy.rules.area_cap and not estimated:
        res = (pd.to_numeric(areas["integration_residents"], errors="coerce")
               if "integration_residents" in areas.columns
               else pd.Series(np.nan, index=areas.index))
        if int(res.isna().sum()):
            inst.notes.append(
                f"residents already under the integration programme are not given for "
                f"{int(res.isna().sum())} of {len(res)} local areas: the caps there count them "
                "as 0, so those caps may let in more than the policy means")
    dep = access.get("departures_per_hour_500m")
    if dep is None or pd.to_numeric(dep, errors="coerce").isna().all():
        inst.notes.append("no timetable (GTFS): departures and public-transport times are "
                          "unknown; the transit term is measured from the walk to the nearest "
                          "stop only, where that is known")
    groups = eligibility_groups(inst, policy)
    # very large rounds: the eligible pairs are priced group by group, never all listed
    lazy = policy.solver.candidate_limit <= 0 and int(inst.n_eligible.sum()) > _lazy_min()
    if not lazy:
        eligible_pairs(inst, policy, groups=groups)
    lock_pos = explain_keys(locks, inst, "locks")
    rej_pos = explain_keys(rejected, inst, "rejected")
    conflicts = explain.lock_conflicts(inst, policy, lock_pos)
    if conflicts:
        raise InfeasibleError(conflicts)
    rej_count = np.bincount(np.array([h for h, _ in set(rej_pos)], dtype=np.int64),
                            minlength=inst.n_households)
    prev_pos = explain_keys(_previous_map(previous), inst, "previous")
    nd = max(inst.n_dwellings, 1)
    if lazy:
        lz = lazy_pairs(inst, policy, groups, rej_pos)
        del groups
        prep_s = time.perf_counter() - t0
        pool = new_pool(inst, lz, policy, locks=lock_pos, previous=prev_pos)
        has_prev = bool(pool.prev.any())
        notes = (["the fairness guard is not applied to rounds of more than "
                  f"{_lazy_min():,} eligible pairs"] if policy.objective.fairness_guard else [])

        def solve_lz(stage: Stage, bonus_value: float, start: np.ndarray | None,
                     tl: float) -> tuple[Solution, np.ndarray]:
            sol, _ = solve_lazy(inst, lz, policy, locks=lock_pos, previous=prev_pos,
                                time_limit_s=tl, mip_gap=stage.mip_gap(mip_gap),
                                stage=stage, pool=pool,
                                start_dw=start, bonus_value=bonus_value)
            return sol, _plan_of(inst, sol.x)

        stages = solve_stages(inst, policy, solve_lz, has_previous=has_prev,
                              time_limit_s=time_limit_s)
        sol = stages.solution
        if sol is None or sol.status not in OK_STATUSES or math.isnan(sol.objective):
            status = "no solve" if sol is None else sol.status
            reason = (f"no plan found within the time limit of {time_limit_s:g} s; raise "
                      "solver.time_limit_s" if status == "Time limit reached"
                      else f"the solver ended with status '{status}'")
            raise InfeasibleError([reason])
        stages.notes += notes
        return _result(inst, policy, stages, prev_pos=prev_pos, rej_count=rej_count,
                       prep_s=prep_s, time_limit_s=time_limit_s, mip_gap=mip_gap)
    del groups
    finish_pairs(inst, policy, locks=lock_pos, rejected=rej_pos)
    code = inst.pair_h * nd + inst.pair_d
    prev_codes = np.array([h * nd + d for h, d in prev_pos], dtype=np.int64)
    prev_mask = np.isin(code, prev_codes).astype(float)
    prep_s = time.perf_counter() - t0
    fair = fairness_rows(inst, policy)

    def solve_listed(stage: Stage, bonus_value: float, start: np.ndarray | None,
                     tl: float) -> tuple[Solution, np.ndarray]:
        start_plan = None if start is None else _pairs_of(inst, start)
        sol = build_and_solve(inst, policy, bonus=prev_mask * bonus_value, time_limit_s=tl,
                              mip_gap=stage.mip_gap(mip_gap), stage=stage,
                              start_plan=start_plan)
        return sol, _plan_of(inst, sol.x)

    greedy = greedy_pass(inst, policy, inst.pair_h, inst.pair_d, inst.pair_score,
                         start_order(inst, policy), fixed=np.flatnonzero(inst.pair_locked))
    stages = solve_stages(inst, policy, solve_listed, has_previous=bool(prev_mask.any()),
                          time_limit_s=time_limit_s, fair=fair,
                          start=_plan_of(inst, np.isin(np.arange(len(inst.pair_h)),
                                                       greedy[greedy >= 0])))
    sol = stages.solution
    if sol is None or sol.status not in OK_STATUSES or (len(sol.x) and
                                                        math.isnan(sol.objective)):
        raise InfeasibleError(_diagnose_failure(inst, policy, prev_mask * 0.0, sol,
                                                time_limit_s, mip_gap))
    return _result(inst, policy, stages, prev_pos=prev_pos, rej_count=rej_count,
                   prep_s=prep_s, time_limit_s=time_limit_s, mip_gap=mip_gap)


def _plan_of(inst: Instance, x: np.ndarray) -> np.ndarray:
    """Dwelling per household (-1: none) of the 0/1 vector ``x`` over ``inst.pair_*``."""
    plan = np.full(inst.n_households, -1)
    chosen = np.asarray(x).astype(bool)
    plan[inst.pair_h[chosen]] = inst.pair_d[chosen]
    return plan


def _pairs_of(inst: Instance, plan: np.ndarray) -> np.ndarray:
    """Pair position per household (-1: none) of a plan (dwelling per household)."""
    nd = max(inst.n_dwellings, 1)
    code = inst.pair_h * nd + inst.pair_d  # sorted
    h = np.flatnonzero(plan >= 0)
    pos = np.searchsorted(code, h * nd + plan[h])
    out = np.full(inst.n_households, -1)
    ok = (pos < len(code)) & (code[np.minimum(pos, max(len(code) - 1, 0))] == h * nd + plan[h])
    out[h[ok]] = pos[ok]
    return out


def _lazy_min() -> int:
    from placement.optimizer import lazy

    return int(lazy.LAZY_MIN_PAIRS)


def explain_keys(pairs: Any, inst: Instance, what: str) -> list[tuple[int, int]]:
    """Positions of ``(household_id, dwelling_id)`` pairs; DataError for unknown ids."""
    from placement.optimizer.model import _pair_keys

    return _pair_keys(pairs, inst, what)


def _diagnose_failure(inst: Instance, policy: Policy, bonus: np.ndarray, sol: Solution | None,
                      time_limit_s: float, mip_gap: float) -> list[str]:
    """Relax one rule group at a time to find what makes the model fail."""
    if sol is not None and sol.status == "Time limit reached":
        return [f"no plan found within the time limit of {time_limit_s:g} s; raise "
                "solver.time_limit_s or set solver.candidate_limit"]
    reasons = []
    for label, kw in (("the area caps", {"caps": False}),
                      ("the building limit", {"buildings": False})):
        trial = build_and_solve(inst, policy, bonus=bonus, time_limit_s=time_limit_s,
                                mip_gap=mip_gap, **kw)
        if trial.status == "Optimal":
            reasons.append(f"the approved placements cannot all hold under {label}")
    status = "no solve" if sol is None else sol.status
    return reasons or [f"the solver ended with status '{status}'"]


def _result(inst: Instance, policy: Policy, stages: Stages, *,
            prev_pos: list[tuple[int, int]], rej_count: np.ndarray, prep_s: float,
            time_limit_s: float, mip_gap: float) -> Proposal:
    H = inst.n_households
    sol = stages.solution
    assert sol is not None
    pos = _pairs_of(inst, stages.plan)
    x = np.zeros(len(inst.pair_h), dtype=np.int8)
    x[pos[pos >= 0]] = 1
    chosen = x.astype(bool)
    d_of_h = np.full(H, -1)
    d_of_h[inst.pair_h[chosen]] = inst.pair_d[chosen]
    score = np.full(H, np.nan)
    shown = np.where(any_measured({t: v[chosen] for t, v in inst.pair_terms.items()}, policy),
                     inst.pair_score[chosen], np.nan) if chosen.any() else np.zeros(0)
    score[inst.pair_h[chosen]] = shown
    placed = d_of_h >= 0
    optimal = stages.status == "Optimal"
    reasons = explain.unplaced_reasons(inst, policy, x, rejected_count=rej_count,
                                       optimal=optimal)
    prev = dict(prev_pos)
    lock_h = np.zeros(H, dtype=bool)
    lock_h[inst.pair_h[chosen & inst.pair_locked]] = True
    dw = pd.array([inst.dw_ids[d] if d >= 0 else pd.NA for d in d_of_h], dtype="string")
    area = pd.array([inst.area_ids[inst.dw_area[d]] if d >= 0 and inst.dw_area[d] >= 0
                     else pd.NA for d in d_of_h], dtype="string")
    a = pd.DataFrame({
        "household_id": pd.array(inst.hh_ids.astype(str), dtype="string"),
        "dwelling_id": dw,
        "area_id": area,
        "persons": inst.persons.astype(np.int64),
        "score": score,
    })
    for t in PAIR_TERMS:
        v = np.full(H, np.nan)
        v[inst.pair_h[chosen]] = inst.pair_terms[t][chosen]
        a[t] = v
    nd_mask = np.zeros(H, dtype=np.int64)
    if "no_data" in inst.pair_terms:
        nd_mask[inst.pair_h[chosen]] = inst.pair_terms["no_data"][chosen]
    a["no_data"] = pd.array(no_data_words(nd_mask).astype(str), dtype="string")
    a["locked"] = lock_h
    a["kept"] = np.array([prev.get(h, -2) == d_of_h[h] for h in range(H)], dtype=bool)
    a["unplaced_reason"] = pd.array(reasons.astype(str), dtype="string")
    areas_df = explain.area_table(inst, policy, x)
    if any("no population per local area" in n for n in inst.notes):
        # the "population" is the number of available dwellings: no cap, no share of it
        areas_df["population"] = pd.array([pd.NA] * len(areas_df), dtype="Int64")
        areas_df["cap_persons"] = pd.array([pd.NA] * len(areas_df), dtype="Int64")
        areas_df["share_of_cap"] = np.nan
    alts = explain.alternatives(inst, x, policy.solver.alternatives, policy)
    placed_p = areas_df["placed_persons"].sum()
    spread_dev = (float(np.abs(areas_df["deviation_persons"]).sum() / (2 * placed_p))
                  if placed_p else 0.0)
    shortage = explain.shortage_reasons(inst, policy)
    unplaced_words = [f"{int((~placed).sum())} of {H} households stay unplaced"] if (
        ~placed).any() else []
    capped = areas_df.loc[(areas_df["share_of_cap"] >= 1.0 - 1e-9)
                          & (areas_df["placed_persons"] > 0), "area_id"]
    cap_words = [f"the cap on {x} is reached" for x in capped] if (~placed).any() else []
    quality = plan_quality(inst, policy, d_of_h, score)
    q2 = stages.get("quality")
    q_bound = q2.bound if q2 is not None else stages.results[-1].bound
    if policy.objective.mode == "weighted":
        q_bound = math.nan  # the weighted objective mixes placing and quality
    q_gap = (max(q_bound - quality, 0.0) / max(abs(quality), 1e-9)
             if math.isfinite(q_bound) else math.nan)
    s1 = stages.get("placed")
    n_prev_possible = len(_prev_possible(inst, prev_pos))
    kept_n = int(a["kept"].sum())
    s3 = stages.get("kept")
    persons_max = (math.floor(s1.bound + 1e-6) if s1 is not None and math.isfinite(s1.bound)
                   and policy.objective.first == "persons" else math.nan)
    summary: dict[str, Any] = {
        "status": stages.status,
        "objective": quality,
        "bound": q_bound,
        "gap": q_gap,
        "objective_mode": policy.objective.mode,
        "first_stage": policy.objective.first,
        "stages": [{"stage": r.name, "status": r.status, "value": r.value, "bound": r.bound,
                    "gap": r.gap, "solve_s": round(r.solve_s, 4)} for r in stages.results],
        "placed_value": s1.value if s1 is not None else math.nan,
        "placed_bound": s1.bound if s1 is not None else math.nan,
        "placed_status": s1.status if s1 is not None else stages.status,
        "persons_placed_max": persons_max,
        "quality": quality,
        "quality_bound": q_bound,
        "quality_gap": q_gap,
        "quality_status": q2.status if q2 is not None else stages.status,
        "keep_tolerance": policy.objective.keep_tolerance if s3 is not None else math.nan,
        "kept": kept_n,
        "kept_bound": (math.floor(s3.bound + 1e-6) if s3 is not None
                       and math.isfinite(s3.bound) else math.nan),
        "n_previous": n_prev_possible,
        "keep_status": s3.status if s3 is not None else "",
        "build_s": round(prep_s + sol.build_s, 4),
        "solve_s": round(sum(r.solve_s for r in stages.results), 4),
        "n_pairs": (inst.n_pairs_total if inst.n_pairs_total is not None
                    else len(inst.pair_h)),
        "n_model_pairs": sol.n_model_pairs,
        "pricing_rounds": sol.pricing_rounds,
        "pricing_s": round(sol.pricing_s, 4),
        "lp_bound": sol.lp_bound,
        "n_rows": sol.n_rows,
        "n_nonzeros": sol.n_nonzeros,
        "n_households": H,
        "n_dwellings": inst.n_dwellings,
        "n_placed": int(placed.sum()),
        "n_unplaced": int((~placed).sum()),
        "n_locked": int(lock_h.sum()),
        "n_kept": int(a["kept"].sum()),
        "persons_placed": int(inst.persons[placed].sum()),
        "mean_score": float(np.nanmean(score)) if np.isfinite(score).any() else math.nan,
        "n_placed_no_data": int((placed & np.isnan(score)).sum()),
        "spread_deviation": spread_dev,
        "spread_weight": spread_weight(policy),
        "spread_points_per_person": spread_points(policy),
        "reasons": (unplaced_words + shortage + cap_words + explain.trade_off(inst, policy, x)
                    if (~placed).any() else []),
        "notes": list(inst.notes) + list(stages.notes),
        "unknown": explain.unknown_summary(inst, policy, d_of_h),
        "policy": policy.name,
        "time_limit_s": time_limit_s,
        "mip_gap": mip_gap,
        "threads": policy.solver.threads,
        "random_seed": policy.solver.seed,
        "candidate_limit": policy.solver.candidate_limit,
    }
    logger.info("proposed %s of %s households (%s)", f"{summary['n_placed']:,}", f"{H:,}",
                sol.status)
    return Proposal(assignments=a, areas=areas_df, alternatives=alts, summary=summary)


def _prev_possible(inst: Instance, prev_pos: list[tuple[int, int]]) -> np.ndarray:
    """Return the previous pairs that are still eligible pairs of this round."""
    nd = max(inst.n_dwellings, 1)
    code = inst.pair_h * nd + inst.pair_d
    prev = np.array(sorted({h * nd + d for h, d in prev_pos}), dtype=np.int64)
    return prev[np.isin(prev, code)]


def write_proposal(proposal: Proposal, out_csv: str | Path) -> dict[str, Path]:
    """Write the proposal: assignments CSV, summary JSON, areas and alternatives CSVs.

    Parameters
    ----------
    proposal
        Result of :func:`propose`.
    out_csv
        Path of the assignments CSV, e.g. ``proposals.csv``. Beside it go
        ``<stem>.summary.json``, ``<stem>.areas.csv`` and ``<stem>.alternatives.csv``.
        The four files are written as one set (:func:`placement.export.write_file_set`):
        the summary, moved into place last, lists the other files with their SHA-256 under
        ``files``. Text cells that would run as a spreadsheet formula get a leading ``'``.

    Returns
    -------
    dict
        The paths written, keyed ``assignments``, ``summary``, ``areas``, ``alternatives``.
    """
    out = Path(out_csv)
    paths = {
        "assignments": out,
        "summary": out.with_name(f"{out.stem}.summary.json"),
        "areas": out.with_name(f"{out.stem}.areas.csv"),
        "alternatives": out.with_name(f"{out.stem}.alternatives.csv"),
    }

    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, np.generic):
            return clean(v.item())
        if isinstance(v, list):
            return [clean(x) for x in v]
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        return v

    summary = {k: clean(v) for k, v in proposal.summary.items()}
    from placement.export import neutralise_formulas, write_file_set

    def csv_text(frame: pd.DataFrame) -> str:
        return neutralise_formulas(frame).to_csv(index=False, float_format="%.6g")

    # one set: the summary names the files of its run (with SHA-256) and is moved in last
    write_file_set(
        {paths[k].name: csv_text(getattr(proposal, k))
         for k in ("assignments", "areas", "alternatives")},
        paths["summary"],
        lambda digests: json.dumps({**summary, "files": digests}, indent=2,
                                   ensure_ascii=False) + "\n",
    )
    return paths
