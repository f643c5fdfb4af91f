"""The lexicographic objective: a sequence of solves, each earlier optimum a constraint.

1. **placed**: house as many as possible (``objective.first``: persons, households, or
   households weighted by waiting time).
2. **quality**: the best plan quality (the households' scores less the spread penalty) among
   the plans that place the stage-1 value.
3. **kept** (only when re-optimising): the most previous placements among the plans of stage 1's
   value whose quality is within ``objective.keep_tolerance`` of stage 2's.

Each stage is solved by :func:`placement.optimizer.pricing.build_and_solve` (all pairs listed)
or :func:`placement.optimizer.lazy.solve_lazy` (very large rounds), so column generation and
its bounds over all eligible pairs serve every stage. Stage ``k`` enters stage ``k + 1`` as a
row ``value >= found value`` (:class:`~placement.optimizer.formulation.GroupRow`).

The policy's relative gap (``solver.mip_gap``) applies to the quality stage only. The stages
of whole numbers (persons or households placed, placements kept) are solved to an absolute gap
below 1, which proves their maximum: a relative gap there would let a loose setting leave a
person (often of a large family, the hardest to fit) unhoused for a better score.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from placement.config import Policy
from placement.optimizer.formulation import (
    GroupRow,
    Solution,
    Stage,
    spread_points,
    weighted_stage,
)
from placement.optimizer.instance import Instance

logger = logging.getLogger(__name__)

__all__ = [
    "SIZE_CLASSES",
    "StageResult",
    "Stages",
    "fairness_rows",
    "first_values",
    "plan_quality",
    "solve_stages",
    "start_order",
]

#: Household-size classes of the fairness guard: 1, 2, 3, 4, 5 and 6 or more persons.
SIZE_CLASSES = (1, 2, 3, 4, 5, 6)

#: Share of the time limit stage 1 may use, and the share kept back for stage 3.
FIRST_SHARE = 0.4
KEEP_SHARE = 0.2
#: Stage 2 and 3 use constant proportional targets when stage 1 fixes the persons placed.
CONSTANT_TARGETS = True


@dataclass
class StageResult:
    """One stage's outcome: its value for the plan found, the bound and the status."""

    name: str
    status: str
    value: float
    bound: float
    gap: float
    solve_s: float
    n_model_pairs: int = 0
    pricing_rounds: int = 0


@dataclass
class Stages:
    """The final plan (dwelling per household, -1: none) and every stage's result."""

    plan: np.ndarray
    results: list[StageResult] = field(default_factory=list)
    solution: Solution | None = None  # of the last stage that found a plan
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``Optimal`` when every stage is; else the first other status."""
        for r in self.results:
            if r.status != "Optimal":
                return r.status
        return "Optimal"

    def get(self, name: str) -> StageResult | None:
        """Return the result of stage ``name``, if it ran."""
        return next((r for r in self.results if r.name == name), None)


def first_values(inst: Instance, policy: Policy) -> np.ndarray:
    """Value of housing each household in stage 1 (``objective.first``).

    ``persons``: its persons; ``households``: 1; ``waiting``: 1 + days between its arrival and
    the round's latest arrival / 365 (a household that has waited a year counts 2).
    """
    first = policy.objective.first
    if first == "persons":
        return inst.persons.astype(float)
    if first == "households":
        return np.ones(inst.n_households)
    if inst.n_households == 0:
        return np.zeros(0)
    days = (inst.arrival.max() - inst.arrival).astype("timedelta64[D]").astype(float)
    return 1.0 + days / 365.0


def start_order(inst: Instance, policy: Policy) -> np.ndarray:
    """Household order of a greedy plan for stage 1 to start from.

    Largest households first for ``persons`` (and under the fairness guard: larger ones are
    the ones left out otherwise), smallest first for ``households``, by arrival for
    ``waiting``; ties by arrival, then position.
    """
    idx = np.arange(inst.n_households)
    first = policy.objective.first
    if policy.objective.fairness_guard or first == "persons":
        return np.lexsort((idx, inst.arrival, -inst.persons))
    if first == "households":
        return np.lexsort((idx, inst.arrival, inst.persons))
    return np.lexsort((idx, inst.arrival))


def _size_class(persons: np.ndarray) -> np.ndarray:
    return np.minimum(persons, SIZE_CLASSES[-1])


def fairness_rows(inst: Instance, policy: Policy) -> tuple[list[GroupRow], int]:
    """Rows of the fairness guard (``objective.fairness_guard``); no extra columns.

    For every household-size class ``c`` and every smaller class ``k`` (and every arrival month
    ``c`` and every later month ``k``), with ``n`` the households of a class and ``P`` those
    placed::

        P[k] / n[k] - P[c] / n[c] <= share

    i.e. a class is never left unplaced at a rate more than ``share`` above that of a smaller
    (later) class. Households with no eligible dwelling (not the optimiser's choice) and
    approved placements (a person's decision) are left out of the classes. Placing nobody new
    meets every row, so the guard never makes a round infeasible.
    """
    if not policy.objective.fairness_guard or inst.n_households == 0:
        return [], 0
    share = float(policy.objective.fairness_max_unplaced_share)
    has_pair = np.zeros(inst.n_households, dtype=bool)
    has_pair[inst.pair_h] = True
    locked = np.zeros(inst.n_households, dtype=bool)
    locked[inst.pair_h[inst.pair_locked]] = True
    free = has_pair & ~locked
    size = _size_class(inst.persons)
    month = inst.arrival.astype("datetime64[M]")
    rows: list[GroupRow] = []
    for what, key, words in (("size", size.astype(np.int64), "persons"),
                             ("month", month.astype(np.int64), "arrival month")):
        classes = np.unique(key[free])
        for i, c in enumerate(classes):
            for k in classes[:i]:
                # size: k is smaller than c; month: c is later than k, so swap
                lo_, hi_ = (k, c) if what == "size" else (c, k)
                better = free & (key == lo_)
                worse = free & (key == hi_)
                coef = better / better.sum() - worse / worse.sum()
                rows.append(GroupRow(hh_coef=coef.astype(float), score_coef=0.0, lo=-math.inf,
                                     hi=share, name=f"{words} {lo_} vs {hi_}"))
    return rows, 0


def plan_quality(inst: Instance, policy: Policy, plan: np.ndarray,
                 score: np.ndarray | None = None) -> float:
    """Quality of a plan (dwelling per household): scores less the spread penalty.

    ``score`` is the score of each household's pair in the plan (NaN where unplaced); computed
    from ``inst.pair_*`` when not given.
    """
    placed = plan >= 0
    if score is None:
        score = pair_scores(inst, plan)
    total = float(np.nansum(score[placed]))
    sp = spread_points(policy)
    A = len(inst.area_ids)
    if sp > 0 and A > 1:
        a = inst.dw_area[plan[placed]]
        ok = a >= 0
        load = np.bincount(a[ok], weights=inst.persons[placed][ok], minlength=A)
        share = inst.area_population / max(inst.area_population.sum(), 1.0)
        tol = float(policy.scoring.spread_tolerance_persons)
        total -= sp * float(np.maximum(load - share * load.sum() - tol, 0.0).sum())
    return total


def pair_scores(inst: Instance, plan: np.ndarray) -> np.ndarray:
    """Score of each household's pair in ``plan`` (NaN where unplaced or the pair is unknown)."""
    out = np.full(inst.n_households, np.nan)
    nd = max(inst.n_dwellings, 1)
    code = inst.pair_h * nd + inst.pair_d
    h = np.flatnonzero(plan >= 0)
    want = h * nd + plan[h]
    pos = np.searchsorted(code, want)
    ok = (pos < len(code)) & (code[np.minimum(pos, len(code) - 1)] == want)
    out[h[ok]] = inst.pair_score[pos[ok]]
    return out


#: solve(stage, value of each previous pair, start plan or None, time limit) -> (solution, plan)
SolveFn = Callable[[Stage, float, "np.ndarray | None", float], tuple[Solution, np.ndarray]]


def _result(name: str, sol: Solution, *, abs_gap: float) -> StageResult:
    gap = sol.gap
    if name in ("placed", "kept") and math.isfinite(sol.objective) and math.isfinite(sol.bound):
        gap = max(sol.bound - sol.objective, 0.0)  # whole numbers: an absolute gap
    status = sol.status
    if (status != "Optimal" and math.isfinite(sol.bound) and math.isfinite(sol.objective)
            and sol.bound - sol.objective <= abs_gap):
        status = "Optimal"
    return StageResult(name=name, status=status, value=sol.objective, bound=sol.bound, gap=gap,
                       solve_s=sol.solve_s, n_model_pairs=sol.n_model_pairs,
                       pricing_rounds=sol.pricing_rounds)


def solve_stages(inst: Instance, policy: Policy, solve: SolveFn, *, has_previous: bool,
                 time_limit_s: float, fair: tuple[list[GroupRow], int] = ([], 0),
                 start: np.ndarray | None = None) -> Stages:
    """Run the stages of the module docstring with ``solve``; return the final plan.

    ``start`` (dwelling per household) is a plan for stage 1 to start from. A stage that finds
    no plan (time limit) leaves the earlier stage's plan in place.
    """
    t0 = time.perf_counter()
    deadline = t0 + float(time_limit_s)
    H = inst.n_households
    if policy.objective.mode == "weighted":
        st = weighted_stage(inst, policy)
        st.rows, st.n_binary = list(fair[0]), fair[1]
        sol, plan = solve(st, float(policy.solver.stability_bonus), None, time_limit_s)
        return Stages(plan=plan, results=[_result("weighted", sol, abs_gap=1e-9)],
                      solution=sol)
    fair_rows, n_bin = fair
    v1 = first_values(inst, policy)
    whole = policy.objective.first in ("persons", "households")
    gap1 = 1.0 - 1e-6 if whole else 1e-9
    st1 = Stage(name="placed", hh_value=v1, score_mult=0.0, spread_cost=0.0, spread=False,
                rows=list(fair_rows), abs_gap=gap1, n_binary=n_bin,
                rel_gap=0.0 if whole else None)
    t1 = max(FIRST_SHARE * time_limit_s, 1e-3)
    sol1, plan1 = solve(st1, 0.0, start, t1)
    out = Stages(plan=plan1, solution=sol1, results=[_result("placed", sol1, abs_gap=gap1)])
    if math.isnan(sol1.objective):
        return out
    z1 = float(np.dot(v1, plan1 >= 0))
    row1 = GroupRow(hh_coef=v1, score_coef=0.0, lo=z1 - (0.5 if whole else 1e-7), hi=math.inf,
                    name="placed")
    sp = spread_points(policy)
    A = len(inst.area_ids)
    spread = sp > 0 and A > 1
    # persons first and every dwelling in an area: stage 2 places exactly z1 persons in areas
    total = (z1 if CONSTANT_TARGETS and policy.objective.first == "persons"
             and (inst.dw_area >= 0).all() else None)
    st2 = Stage(name="quality", hh_value=np.zeros(H), score_mult=1.0, spread_cost=sp,
                spread=spread, rows=[row1, *fair_rows], n_binary=n_bin, spread_total=total)
    left = deadline - time.perf_counter()
    t2 = max(left - (KEEP_SHARE * time_limit_s if has_previous else 0.0), 1e-3)
    sol2, plan2 = solve(st2, 0.0, plan1, t2)
    out.results.append(_result("quality", sol2, abs_gap=1e-9))
    if math.isnan(sol2.objective):
        out.notes.append("the quality stage found no plan within the time limit; the plan is "
                         "the one of the first stage")
        return out
    out.plan, out.solution = plan2, sol2
    if not has_previous:
        return out
    q = float(sol2.objective)
    tol = float(policy.objective.keep_tolerance) * abs(q)
    row2 = GroupRow(hh_coef=np.zeros(H), score_coef=1.0, lo=q - tol - 1e-7, hi=math.inf,
                    extra=[(a, -sp) for a in range(A)] if spread else [], name="quality")
    st3 = Stage(name="kept", hh_value=np.zeros(H), score_mult=0.0, spread_cost=0.0,
                spread=spread, rows=[row1, row2, *fair_rows], abs_gap=1.0 - 1e-6,
                n_binary=n_bin, spread_total=total, rel_gap=0.0)
    left = max(deadline - time.perf_counter(), 1e-3)
    sol3, plan3 = solve(st3, 1.0, plan2, left)
    out.results.append(_result("kept", sol3, abs_gap=1.0 - 1e-6))
    if math.isnan(sol3.objective):
        out.notes.append("the stage that keeps previous placements found no plan within the "
                         "time limit; the plan is the one of the quality stage")
        return out
    out.plan, out.solution = plan3, sol3
    return out
