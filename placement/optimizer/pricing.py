"""Column generation for rounds with many eligible pairs (all pairs listed).

See :func:`build_and_solve`.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np

from placement.config import Policy
from placement.optimizer.formulation import (
    Solution,
    Stage,
    _highs,
    _lagrange_bound,
    _pair_entries,
    _pass,
    _row_price,
    _Rows,
    _rows,
    _safe_duals,
    area_extra_values,
    one_solve_at_a_time,
    stage_value,
    weighted_stage,
)
from placement.optimizer.instance import Instance, greedy_pass

logger = logging.getLogger(__name__)
#: Models with more eligible pairs than this are solved by pricing (see build_and_solve).
PRICING_MIN_PAIRS = 20_000
#: Smaller models (from PRICING_LOOSE_MIN_PAIRS pairs) are priced too when the gap asked is at
#: least PRICING_LOOSE_GAP: the proof step is then short (demo: 1.0 s instead of 2.5 s at 5e-4),
#: while at tighter gaps it needs most pairs and the whole model is faster.
PRICING_LOOSE_GAP = 5e-4
PRICING_LOOSE_MIN_PAIRS = 2_000
#: Pairs per household in the first restricted model; pairs added per household and per
#: dwelling per LP round (the most negative reduced costs: few rounds, 5-6 at 1.6 M pairs).
START_PER_HOUSEHOLD = 8
ADD_PER_HOUSEHOLD = 30
ADD_PER_DWELLING = 8
#: Fix the pairs at 1 in the final pricing LP and solve a small MILP for the rest first; when
#: that plan is within the gap of the LP bound over all pairs, no further MILP is needed.
FIX_LP_ONES = True
#: HiGHS simplex strategy of the pricing LP (1: dual); rounds adding fewer than
#: PRIMAL_MAX_ADD columns use primal simplex (4): the basis stays primal feasible.
PRICING_SIMPLEX_STRATEGY = 1
PRIMAL_MAX_ADD = 5000
#: Pairs per household (of the smallest reduced cost) in the first MILP of the pricing path.
MIP_PER_HOUSEHOLD = 6
#: Most pairs the MILP of the pricing path may grow to while proving optimality.
MAX_MODEL_PAIRS = 200_000


def _most_negative(inst: Instance, new: np.ndarray, rc_new: np.ndarray) -> np.ndarray:
    """Pick the pairs to add to the pricing LP.

    Of the pairs ``new``: the :data:`ADD_PER_HOUSEHOLD` of most negative reduced cost per
    household and the :data:`ADD_PER_DWELLING` per dwelling.
    """
    keep = np.zeros(len(new), dtype=bool)
    for a_, b_, k in ((inst.pair_h[new], inst.pair_d[new], ADD_PER_HOUSEHOLD),
                      (inst.pair_d[new], inst.pair_h[new], ADD_PER_DWELLING)):
        if k <= 0:
            continue
        order = np.lexsort((b_, rc_new, a_))
        sa = a_[order]
        rank = np.arange(len(sa)) - np.searchsorted(sa, sa, side="left")
        keep[order[rank < k]] = True
    return new[keep]


def _mip_pairs(inst: Instance, rc: np.ndarray) -> np.ndarray:
    """Mask of the pairs of smallest reduced cost: :data:`MIP_PER_HOUSEHOLD` per household."""
    order = np.lexsort((inst.pair_d, rc, inst.pair_h))
    sh = inst.pair_h[order]
    rank = np.arange(len(sh)) - np.searchsorted(sh, sh, side="left")
    keep = np.zeros(len(rc), dtype=bool)
    keep[order[rank < MIP_PER_HOUSEHOLD]] = True
    return keep


def _start_pairs(inst: Instance, cost: np.ndarray, start: np.ndarray,
                 bonus: np.ndarray) -> np.ndarray:
    """First restricted pair set: locks, bonus pairs, a greedy plan and each household's best."""
    n_p = len(inst.pair_h)
    keep = inst.pair_locked | (bonus > 0)
    keep[start[start >= 0]] = True
    for a_, b_ in ((inst.pair_h, inst.pair_d), (inst.pair_d, inst.pair_h)):
        order = np.lexsort((b_, cost, a_))
        sa = a_[order]
        rank = np.arange(n_p) - np.searchsorted(sa, sa, side="left")
        keep[order[rank < START_PER_HOUSEHOLD]] = True
    return np.flatnonzero(keep)


def _warm_start(inst: Instance, policy: Policy, bonus: np.ndarray) -> np.ndarray:
    """Find a plan to start from: approved pairs first, then greedy by score by arrival.

    Returns the chosen pair per household (-1: none).
    """
    order = np.lexsort((np.arange(inst.n_households), inst.arrival))
    return greedy_pass(inst, policy, inst.pair_h, inst.pair_d, inst.pair_score + bonus, order,
                       fixed=np.flatnonzero(inst.pair_locked))


def _set_start(h: Any, inst: Instance, rows: _Rows, sel: np.ndarray, start: np.ndarray) -> None:
    """Give HiGHS the plan ``start`` (pair per household) restricted to the columns ``sel``."""
    import highspy

    chosen = start[start >= 0]
    x = np.isin(sel, chosen).astype(float)
    A = len(inst.area_ids)
    pa = inst.dw_area[inst.pair_d[chosen]]
    ok = pa >= 0
    load = np.bincount(pa[ok], weights=inst.persons[inst.pair_h[chosen[ok]]], minlength=A)
    extra = np.concatenate([area_extra_values(inst, rows, load),
                            binary_values(inst, rows, chosen)])
    s = highspy.HighsSolution()
    s.col_value = np.concatenate([x, extra]).tolist()
    s.value_valid = True
    h.setSolution(s)


def binary_values(inst: Instance, rows: _Rows, chosen: np.ndarray) -> np.ndarray:
    """Values of the binary columns for the plan ``chosen`` (pairs): 1 where 0 breaks a row."""
    y = np.zeros(rows.n_binary)
    if not rows.n_binary:
        return y
    placed = np.zeros(inst.n_households)
    placed[inst.pair_h[chosen]] = 1.0
    base = len(rows.extra_cost) - rows.n_binary
    for row, g in rows.g_rows:
        act = float(np.dot(g.hh_coef, placed))
        cols = (rows.extra_row == row) & (rows.extra_col >= base)
        if cols.any() and not (g.lo - 1e-9 <= act <= g.hi + 1e-9):
            y[rows.extra_col[cols] - base] = 1.0
    return y


def _solve_mip(inst: Instance, policy: Policy, rows: _Rows, sel: np.ndarray, cost: np.ndarray,
               start: np.ndarray | None, *, time_limit_s: float, mip_gap: float,
               lower: np.ndarray | None = None, abs_gap: float = 1e-9,
               ) -> tuple[str, np.ndarray, float, float, int]:
    """MILP over the pairs ``sel``: (status, x over sel, objective, bound (min), nonzeros).

    ``lower`` (per pair) fixes pairs at 1; by default only the approved ones.
    """
    h = _highs(policy, time_limit_s=time_limit_s, mip_gap=mip_gap)
    h.setOptionValue("mip_abs_gap", float(abs_gap))
    lower = inst.pair_locked.astype(float) if lower is None else lower
    nnz = _pass(h, rows, inst, sel, cost, lower, integer=True)
    if start is not None:
        _set_start(h, inst, rows, sel, start)
    t0 = time.perf_counter()
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    info = h.getInfo()
    sol = h.getSolution()
    logger.info("MILP over %s pairs: %s in %.2f s, objective %.6f, bound %.6f", f"{len(sel):,}",
                status, time.perf_counter() - t0, -info.objective_function_value,
                -info.mip_dual_bound)
    if sol.value_valid and len(sel) + len(rows.extra_cost):
        col = np.asarray(sol.col_value)
        x = np.round(col[: len(sel)]).astype(np.int8)
        obj = float(info.objective_function_value)
        own = float(np.dot(cost[sel], x) + np.dot(rows.extra_cost, col[len(sel):])) + rows.offset
        if start is not None and abs(own - obj) > 1e-7 * max(1.0, abs(obj)):
            # HiGHS returned the start's values with another plan's objective: solve again
            # without the start (seen with HiGHS 1.16 when the start proves optimal at once)
            logger.info("MILP: the solution returned does not match its objective; again "
                        "without the start plan")
            return _solve_mip(inst, policy, rows, sel, cost, None, time_limit_s=time_limit_s,
                              mip_gap=mip_gap, lower=lower, abs_gap=abs_gap)
        return status, x, obj, float(info.mip_dual_bound), nnz
    return status, np.zeros(len(sel), dtype=np.int8), math.nan, math.nan, nnz


@one_solve_at_a_time
def build_and_solve(
    inst: Instance,
    policy: Policy,
    *,
    bonus: np.ndarray,
    time_limit_s: float,
    mip_gap: float,
    caps: bool = True,
    buildings: bool = True,
    pricing: bool | None = None,
    stage: Stage | None = None,
    start_plan: np.ndarray | None = None,
) -> Solution:
    """Build the MILP of the module docstring over the pairs of ``inst`` and solve it.

    Small models (at most :data:`PRICING_MIN_PAIRS` pairs, unless a loose ``mip_gap`` is asked,
    see :data:`PRICING_LOOSE_GAP`) go to HiGHS whole. Larger ones are solved over a subset of
    the pairs without giving up exactness:

    1. Start from the approved pairs, a greedy plan and the best pairs of each household and
       dwelling; solve the LP relaxation over them and price every eligible pair with the row
       duals; add the pairs with a positive reduced cost; repeat until none is left. The row
       duals then give a bound over all pairs (``lp_bound``).
    2. Solve the MILP over the generated pairs (warm-started with the greedy plan).
    3. A pair whose reduced cost exceeds the distance between that plan and the LP bound cannot
       be part of any better plan; add every other pair and solve again, starting from the plan
       found. The result is optimal over all eligible pairs (up to ``mip_gap``), and the bound
       reported holds for all of them.

    ``pricing`` forces (True) or skips (False) the pricing path. ``stage`` is the objective and
    the rows of earlier stages (default: the weighted objective); ``start_plan`` (pair per
    household, -1: none) a plan that satisfies them, given to the MILP as its start.
    """
    t0 = time.perf_counter()
    n_p = len(inst.pair_h)
    stage = weighted_stage(inst, policy) if stage is None else stage
    abs_gap = stage.abs_gap
    rows = _rows(inst, policy, caps=caps, buildings=buildings, stage=stage)
    cost = -stage_value(inst, stage, bonus)  # minimise
    lower = inst.pair_locked.astype(float)
    if pricing is None:
        pricing = n_p > PRICING_MIN_PAIRS or (mip_gap >= PRICING_LOOSE_GAP
                                              and n_p >= PRICING_LOOSE_MIN_PAIRS)
    use_pricing = pricing and n_p > 0
    build_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    deadline = t1 + float(time_limit_s)
    rounds = 0
    lp_bound = math.nan
    pricing_s = 0.0
    if n_p == 0 and len(rows.extra_cost) == 0:
        return Solution(status="Optimal", x=np.zeros(0, dtype=np.int8),
                        objective=-rows.offset, bound=-rows.offset, gap=0.0, build_s=build_s,
                        solve_s=0.0, n_rows=rows.n_rows, n_cols=0, n_nonzeros=0)
    if not use_pricing:
        sel = np.arange(n_p)
        status, xs, obj, bound, nnz = _solve_mip(inst, policy, rows, sel, cost, start_plan,
                                                 time_limit_s=time_limit_s, mip_gap=mip_gap,
                                                 abs_gap=abs_gap)
    else:
        start = _warm_start(inst, policy, bonus) if start_plan is None else start_plan
        support, lp_min, (rc_all, rounds, ones) = _price(inst, policy, rows, cost, lower, start,
                                                   bonus, deadline)
        pricing_s = time.perf_counter() - t1
        lp_bound = -lp_min
        # a plan that uses pair j costs at least lp_min + rc[j]: solve over the pairs with a
        # small reduced cost, then widen to every pair that could still beat the plan found
        inside = _mip_pairs(inst, rc_all)
        inside[support] = True
        inside |= inst.pair_locked
        inside[start[start >= 0]] = True
        # the greedy plan as a start slowed HiGHS down in every test; a plan of the earlier
        # stage is given: it meets the rows that stage leaves, which are hard to meet
        incumbent = start_plan
        close = False
        fixed_plan = None
        if len(ones) and FIX_LP_ONES:
            # a plan close to the LP: the pairs at 1 in the LP fixed, a small MILP for the rest
            fix = lower.copy()
            fix[ones] = 1.0
            sel = np.flatnonzero(inside)
            status, xs, obj, bound, nnz = _solve_mip(
                inst, policy, rows, sel, cost, None, lower=fix,
                time_limit_s=max(deadline - time.perf_counter(), 1e-3), mip_gap=mip_gap,
                abs_gap=abs_gap)
            if not math.isnan(obj):
                # close enough: no further MILP; otherwise the MILP below starts from scratch
                # (with this plan as its start it settled on worse plans at 1e-4)
                close = obj - lp_min <= max(mip_gap * abs(obj), abs_gap) + 1e-9
                # its MILP bound holds only with the pairs fixed: never report it
                fixed_plan = (sel, xs, obj, nnz)
                bound = math.nan
                if close:
                    status = "Optimal"  # proven against the LP bound over all pairs
                logger.info("pricing: plan with the LP's whole pairs fixed: %.6f, %.2e from "
                            "the LP bound", -obj, (obj - lp_min) / max(abs(obj), 1e-9))
        while not close:
            sel = np.flatnonzero(inside)
            status, xs, obj, bound, nnz = _solve_mip(
                inst, policy, rows, sel, cost, incumbent,
                time_limit_s=deadline - time.perf_counter(), mip_gap=mip_gap, abs_gap=abs_gap)
            if math.isnan(obj) or status != "Optimal":
                break
            slack = obj - lp_min - max(mip_gap * abs(obj), abs_gap)
            more = np.flatnonzero(~inside & (rc_all <= slack + 1e-9))
            if not len(more):
                break
            if len(more) + len(sel) > MAX_MODEL_PAIRS:
                logger.info("pricing: %s pairs could still improve the plan; stopping with the "
                            "gap to the LP bound", f"{len(more):,}")
                status = "Pair limit reached"
                break
            logger.info("pricing: %s more pairs within reach of the plan; solving again",
                        f"{len(more):,}")
            incumbent = np.full(inst.n_households, -1)
            incumbent[inst.pair_h[sel[xs > 0]]] = sel[xs > 0]
            inside[more] = True
        if math.isnan(obj) and fixed_plan is not None:  # the MILP below found no plan
            sel, xs, obj, nnz = fixed_plan
            bound = math.nan
        outside = rc_all[~inside]
        reach = lp_min + max(float(outside.min()), 0.0) if len(outside) else math.inf
        mip_b = bound if math.isfinite(bound) else -math.inf
        bound = max(lp_min, min(mip_b, reach))
    solve_s = time.perf_counter() - t1
    x = np.zeros(n_p, dtype=np.int8)
    x[sel] = xs
    if math.isnan(obj):
        objective = best = gap = math.nan
    else:
        objective, best = -obj, -bound
        gap = abs(obj - bound) / max(abs(obj), 1e-9) if not math.isnan(bound) else math.nan
    logger.info("MILP %s rows x %s of %s pairs solved in %.2f s (%s LP rounds, %.2f s): %s",
                f"{rows.n_rows:,}", f"{len(sel):,}", f"{n_p:,}", solve_s, rounds, pricing_s,
                status)
    return Solution(status=status, x=x, objective=objective, bound=best, gap=gap,
                    build_s=build_s, solve_s=solve_s, n_rows=rows.n_rows,
                    n_cols=len(sel) + len(rows.extra_cost), n_nonzeros=nnz,
                    n_model_pairs=len(sel), pricing_rounds=rounds, lp_bound=lp_bound,
                    pricing_s=pricing_s)


def _price(inst: Instance, policy: Policy, rows: _Rows, cost: np.ndarray, lower: np.ndarray,
           start: np.ndarray, bonus: np.ndarray, deadline: float,
           ) -> tuple[np.ndarray, float, tuple[np.ndarray, int]]:
    """Column generation on the LP relaxation (step 1 of :func:`build_and_solve`).

    Returns the pairs used by the last LP solution, the LP lower bound over all pairs
    (minimisation) and the reduced cost of every pair with the row prices of that bound (and the
    number of LP rounds).
    """
    n_p = len(inst.pair_h)
    sel = _start_pairs(inst, cost, start, bonus)
    inside = np.zeros(n_p, dtype=bool)
    inside[sel] = True
    rounds = 0
    best_bound = -math.inf
    best_rc = np.zeros(n_p)
    support = ones = np.zeros(0, dtype=np.int64)
    h = _highs(policy, time_limit_s=max(deadline - time.perf_counter(), 1e-3), mip_gap=0.0)
    h.setOptionValue("presolve", "off")  # keep the basis between rounds
    h.setOptionValue("solver", "simplex")
    h.setOptionValue("simplex_strategy", PRICING_SIMPLEX_STRATEGY)
    _pass(h, rows, inst, sel, cost, lower, integer=False)
    col_pair = np.concatenate([sel, np.full(len(rows.extra_cost), -1)])  # pair of each LP column
    while True:
        rounds += 1
        h.setOptionValue("time_limit", max(deadline - time.perf_counter(), 1e-3))
        t_lp = time.perf_counter()
        h.run()  # from the previous basis: the new columns start at 0
        t_lp = time.perf_counter() - t_lp
        status = h.modelStatusToString(h.getModelStatus())
        if status != "Optimal":
            break
        pi = _safe_duals(rows, np.asarray(h.getSolution().row_dual))
        rc = cost - _row_price(inst, rows, pi)
        bound = _lagrange_bound(rows, pi, rc, lower)
        if bound > best_bound:
            best_bound, best_rc = bound, rc
        xlp = np.asarray(h.getSolution().col_value)
        support = np.sort(col_pair[(xlp > 1e-9) & (col_pair >= 0)])
        ones = np.sort(col_pair[(xlp > 1 - 1e-6) & (col_pair >= 0)])
        new = np.flatnonzero(~inside & (rc < -1e-9))
        logger.debug("pricing round %s: %s pairs, LP %.6f (%.2f s), bound %.6f, %s priced in",
                     rounds, f"{len(sel):,}", h.getInfo().objective_function_value, t_lp, bound,
                     f"{len(new):,}")
        if not len(new) or time.perf_counter() > deadline:
            break
        # the most attractive few per household
        add = _most_negative(inst, new, rc[new])
        inside[add] = True
        # few new columns: primal simplex from the (still primal feasible) basis is faster
        h.setOptionValue("simplex_strategy", 4 if len(add) < PRIMAL_MAX_ADD else
                         PRICING_SIMPLEX_STRATEGY)
        start_, idx, val = _pair_entries(inst, rows, add)
        h.addCols(len(add), cost[add].astype(float), lower[add].astype(float),
                  np.ones(len(add)), len(val), start_[:-1].astype(np.int32),
                  idx.astype(np.int32), val.astype(float))
        col_pair = np.concatenate([col_pair, add])
        sel = np.flatnonzero(inside)
    return support, best_bound, (best_rc, rounds, ones)



