"""Batch decisions through the year: waiting, hindsight, myopic, greedy and foresight.

Households arrive week by week and dwellings free up; the coordinator decides in batches at
dates ``t_0 < t_1 < ... < t_{B-1}`` (every ``cadence`` days), and the year ends at the
horizon ``T``. Symbols (the code uses the same names):

- ``a[h]`` arrival date of household ``h``; ``p[h]`` its persons; ``f[d]`` the date dwelling
  ``d`` is free (``available_from``); ``tol`` the availability tolerance in days
  (``rules.availability_tolerance_days``, 0 when the availability rule is off).
- A pair ``(h, d)`` may be decided at batch ``t`` when ``a[h] <= t`` and ``f[d] <= t + tol``
  and it passes every other pair rule of the policy (size, rent, step-free, permanent,
  excluded areas: the eligible pairs of :mod:`placement.optimizer.instance`; the
  availability rule is replaced by this timing). The household moves in at
  ``m = max(t, f[d])`` and has waited ``w[h] = (m - a[h]) / 7`` weeks in temporary housing.
  A household never placed waits until ``T``: ``w[h] = (T - a[h]) / 7`` (censored).
- ``s[h, d]`` the pair's score in [0, 1] (:func:`placement.score.combine`), ``U`` = 1 point
  per person housed (:data:`POINTS_PER_PERSON`), ``c`` = ``objective.waiting_cost_per_week``
  (points per household per week waited).

**The year objective** of a final assignment (every method is scored with it)::

    J = sum_{h placed in d} (U p[h] + s[h, d])  -  c sum_{all h} w[h]

Writing ``w[h] = (T - a[h]) / 7 - (T - m) / 7`` for a placed household, ``J`` is, up to the
constant ``-c sum_h (T - a[h]) / 7``, the sum over placed pairs of the **pair value at batch
t**::

    v(h, d, t) = U p[h] + s[h, d] + c (T - max(t, f[d])) / 7

which falls with ``t``: a week's delay costs ``c``. Every model below maximises a sum of such
values under the hard rules that bind across pairs: one dwelling per household, one household
per dwelling, each area's remaining cap in persons (``rules.area_cap``), the households per
building (``rules.building_limit``); placements of earlier batches and approved (locked)
pairs are fixed.

- **Hindsight** (everything known): one MILP over every eligible pair of the year, each at its
  earliest batch ``b(h, d)`` (the first batch at which both are there): the value cannot be
  beaten by any method that decides batch by batch, since deciding later only lowers ``v``.
- **Myopic**: at each batch the same MILP over the households waiting and the dwellings free
  at ``t`` only (what running the optimiser every week does).
- **Greedy** (first come, first served): waiting households in arrival order each take the
  suitable free dwelling that became free first (ties by id), under the caps and the limit.
- **Foresight**: at each batch, a two-stage model over sampled futures whose LP duals price
  the free dwellings and the areas' caps for those who come later
  (:mod:`placement.optimizer.foresight`, whose docstring gives its maths).

The plain assignments (hindsight, myopic, and the priced foresight batch) are solved by
:func:`_solve_pairs`: column generation over the LP relaxation, every pair priced by the row
duals, until no pair is left with a positive reduced cost (an LP bound over every pair), then
the MILP over the pairs that could still improve it against that bound. The module also holds
the sparse model the batch solvers build (:class:`_Model`, one HiGHS solve).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from placement._errors import InfeasibleError
from placement.config import Policy
from placement.optimizer.formulation import _highs, one_solve_at_a_time
from placement.optimizer.instance import (
    Instance,
    _pair_keys,
    build_instance,
    eligibility_groups,
    eligible_pairs,
    finish_pairs,
)

logger = logging.getLogger(__name__)

__all__ = [
    "POINTS_PER_PERSON",
    "BatchDecision",
    "Clock",
    "Universe",
    "build_universe",
    "greedy_batch",
    "hindsight_plan",
    "myopic_batch",
    "pair_index",
    "year_objective",
]

#: Points per person housed in the year objective (more than any score difference).
POINTS_PER_PERSON = 1.0
DAY = np.timedelta64(1, "D")


@dataclass(frozen=True)
class Clock:
    """Batch dates ``t_b = start + b * cadence`` for ``b < n_batches``; the year ends at ``end``."""

    start: np.datetime64
    cadence_days: int
    n_batches: int
    end: np.datetime64

    def date(self, b: int) -> np.datetime64:
        """Date of batch ``b``."""
        return self.start + np.timedelta64(int(b) * self.cadence_days, "D")

    def batch_of(self, dates: np.ndarray) -> np.ndarray:
        """First batch on or after each date (``n_batches`` when after the last batch)."""
        days = (np.asarray(dates, dtype="datetime64[D]") - self.start).astype(np.int64)
        b = np.ceil(np.maximum(days, 0) / self.cadence_days).astype(np.int64)
        return np.minimum(b, self.n_batches)

    @classmethod
    def covering(cls, first: np.datetime64, last: np.datetime64, cadence_days: int,
                 end: np.datetime64 | None = None) -> Clock:
        """Make batches from ``first`` until one on or after ``last``.

        The year ends one cadence after the last batch, or at ``end`` when that is later.
        """
        first = np.datetime64(first, "D")
        span = max(int((np.datetime64(last, "D") - first).astype(np.int64)), 0)
        n = span // cadence_days + 1 + (span % cadence_days > 0)
        stop = first + np.timedelta64(n * cadence_days, "D")
        return cls(first, int(cadence_days), int(n),
                   stop if end is None else max(np.datetime64(end, "D"), stop))

    @classmethod
    def until(cls, first: np.datetime64, end: np.datetime64, cadence_days: int) -> Clock:
        """Make batches from ``first`` on or before ``end``; the year ends at ``end``.

        There is always the batch at ``first`` (and the year then ends no earlier).
        """
        first = np.datetime64(first, "D")
        end = max(np.datetime64(end, "D"), first)
        span = int((end - first).astype(np.int64))
        return cls(first, int(cadence_days), span // int(cadence_days) + 1, end)


@dataclass
class Universe:
    """Every household and dwelling of a year with every eligible pair, scored once.

    ``inst`` lists the pairs sorted by (household, dwelling) (no candidate limit, no
    availability rule: timing is the batches'); ``E[h, d]`` is the pair's position + 1 (0: not
    eligible). ``waiting_cost`` is ``c`` and ``tol`` the availability tolerance in days.
    """

    inst: Instance
    policy: Policy
    E: sp.csr_matrix
    waiting_cost: float
    tol: int

    @property
    def offer_date(self) -> np.ndarray:
        """Earliest batch date at which each dwelling may be offered (``f[d] - tol``)."""
        return self.inst.available - np.timedelta64(self.tol, "D")

    def movein(self, d: np.ndarray, t: Any) -> np.ndarray:
        """Move-in date of dwelling(s) ``d`` decided at date(s) ``t``: ``max(t, f[d])``."""
        return np.maximum(np.asarray(t, dtype="datetime64[D]"), self.inst.available[d])

    def value(self, pairs: np.ndarray, t: Any, end: np.datetime64) -> np.ndarray:
        """Pair values ``v(h, d, t)`` of the module docstring (``t`` per pair or one date)."""
        inst = self.inst
        h, d = inst.pair_h[pairs], inst.pair_d[pairs]
        weeks_left = (end - self.movein(d, t)).astype(np.int64) / 7.0
        return (POINTS_PER_PERSON * inst.persons[h] + inst.pair_score[pairs]
                + self.waiting_cost * weeks_left)


def build_universe(households: pd.DataFrame, dwellings: pd.DataFrame, areas: pd.DataFrame,
                   access: pd.DataFrame, policy: Policy, *, locks: Any = None,
                   rejected: Any = None) -> tuple[Universe, list[tuple[int, int]]]:
    """Score every eligible pair of the year once; return it and the lock positions.

    Raises
    ------
    DataError
        As :func:`placement.optimizer.propose` (missing columns, duplicate or unknown ids).
    """
    estimated = ("population_estimated" in areas.columns
                 and bool(pd.Series(areas["population_estimated"]).fillna(False).astype(bool)
                          .any()))
    rules: dict[str, Any] = {"availability": False}
    if estimated:
        rules["area_cap"] = False
    pol = policy.with_overrides(rules=rules, solver={"candidate_limit": 0})
    inst = build_instance(households, dwellings, areas, access, pol)
    eligible_pairs(inst, pol, groups=eligibility_groups(inst, pol))
    lock_pos = _pair_keys(locks, inst, "locks")
    rej_pos = _pair_keys(rejected, inst, "rejected")
    finish_pairs(inst, pol, locks=lock_pos, rejected=rej_pos)
    P = len(inst.pair_h)
    E = sp.csr_matrix((np.arange(1, P + 1, dtype=np.int64), (inst.pair_h, inst.pair_d)),
                      shape=(inst.n_households, inst.n_dwellings))
    tol = int(policy.rules.availability_tolerance_days) if policy.rules.availability else 0
    # decisions keep the policy's own rules (availability timing included) and its solver
    return Universe(inst=inst, policy=pol, E=E,
                    waiting_cost=float(policy.objective.waiting_cost_per_week), tol=tol), \
        lock_pos


# --- the state between batches --------------------------------------------------------------


@dataclass
class State:
    """What earlier batches decided: dwelling and move-in per household (-1 / NaT: none)."""

    dwelling: np.ndarray
    movein: np.ndarray
    batch: np.ndarray
    #: for the hindsight plan: an upper bound on ``J`` over every plan (LP bound)
    bound: float = math.nan

    @classmethod
    def empty(cls, n_households: int) -> State:
        """No household placed yet."""
        return cls(np.full(n_households, -1, dtype=np.int64),
                   np.full(n_households, np.datetime64("NaT"), dtype="datetime64[D]"),
                   np.full(n_households, -1, dtype=np.int64))

    def taken(self, n_dwellings: int) -> np.ndarray:
        """Dwellings already let."""
        out = np.zeros(n_dwellings, dtype=bool)
        out[self.dwelling[self.dwelling >= 0]] = True
        return out

    def place(self, uni: Universe, pairs: np.ndarray, t: np.datetime64, b: int) -> None:
        """Record the pairs as decided at date ``t`` (batch ``b``)."""
        h, d = uni.inst.pair_h[pairs], uni.inst.pair_d[pairs]
        self.dwelling[h] = d
        self.movein[h] = uni.movein(d, t)
        self.batch[h] = b


def cap_left(uni: Universe, state: State) -> np.ndarray:
    """Persons each area may still take (``+inf`` without the cap rule; never below 0)."""
    inst = uni.inst
    A = len(inst.area_ids)
    if not uni.policy.rules.area_cap:
        return np.full(A, np.inf)
    placed = np.flatnonzero(state.dwelling >= 0)
    a = inst.dw_area[state.dwelling[placed]]
    ok = a >= 0
    load = np.bincount(a[ok], weights=inst.persons[placed][ok], minlength=A)
    return np.maximum(inst.area_cap - load, 0.0)


def building_left(uni: Universe, state: State) -> np.ndarray:
    """Households each building may still take (``+inf`` without the building rule)."""
    inst = uni.inst
    nb = int(inst.dw_building.max()) + 1 if inst.n_dwellings else 0
    if not uni.policy.rules.building_limit:
        return np.full(nb, np.inf)
    used = np.bincount(inst.dw_building[state.dwelling[state.dwelling >= 0]], minlength=nb)
    return np.maximum(float(uni.policy.rules.max_households_per_building) - used, 0.0)


def pair_index(uni: Universe, h: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Pair position of each ``(h[i], d[i])`` (-1: not an eligible pair)."""
    h = np.asarray(h, dtype=np.int64)
    if not len(h):
        return np.zeros(0, dtype=np.int64)
    got = uni.E[h, np.asarray(d, dtype=np.int64)]
    arr = got.toarray().ravel() if sp.issparse(got) else np.asarray(got).ravel()
    return arr.astype(np.int64) - 1


def current_pairs(uni: Universe, hh: np.ndarray, dw: np.ndarray) -> np.ndarray:
    """Positions of the eligible pairs between households ``hh`` and dwellings ``dw``."""
    if not len(hh) or not len(dw):
        return np.zeros(0, dtype=np.int64)
    sub = uni.E[np.sort(hh)][:, np.sort(dw)]
    return np.sort(sub.data.astype(np.int64) - 1)


# --- the year objective ---------------------------------------------------------------------


def weeks_waited(uni: Universe, state: State, end: np.datetime64) -> np.ndarray:
    """Weeks from arrival to move-in (to ``end`` when never placed) per household."""
    stop = np.where(state.dwelling >= 0, state.movein, end)
    return (stop - uni.inst.arrival).astype(np.int64) / 7.0


def year_objective(uni: Universe, state: State, end: np.datetime64) -> float:
    """``J`` of the module docstring for the decisions in ``state`` (year ending ``end``)."""
    inst = uni.inst
    h = np.flatnonzero(state.dwelling >= 0)
    pairs = pair_index(uni, h, state.dwelling[h])
    if (pairs < 0).any():
        msg = "a placement is not an eligible pair"
        raise ValueError(msg)
    gain = float((POINTS_PER_PERSON * inst.persons[h] + inst.pair_score[pairs]).sum())
    return gain - uni.waiting_cost * float(weeks_waited(uni, state, end).sum())


# --- the sparse model of a batch ------------------------------------------------------------


class _Model:
    """A sparse model under construction: columns with values, rows with an upper side."""

    def __init__(self) -> None:
        self.cost: list[np.ndarray] = []
        self.lo: list[np.ndarray] = []
        self.integer: list[np.ndarray] = []
        self.R: list[np.ndarray] = []
        self.C: list[np.ndarray] = []
        self.V: list[np.ndarray] = []
        self.rhi: list[np.ndarray] = []
        self.n_cols = 0
        self.n_rows = 0

    def cols(self, value: np.ndarray, lo: np.ndarray, integer: bool) -> np.ndarray:
        n = len(value)
        self.cost.append(-np.asarray(value, dtype=float))
        self.lo.append(np.asarray(lo, dtype=float))
        self.integer.append(np.full(n, int(integer), dtype=np.int32))
        idx = self.n_cols + np.arange(n)
        self.n_cols += n
        return idx

    def rows(self, hi: np.ndarray) -> np.ndarray:
        idx = self.n_rows + np.arange(len(hi))
        self.rhi.append(np.asarray(hi, dtype=float))
        self.n_rows += len(hi)
        return idx

    def entries(self, r: np.ndarray, c: np.ndarray, v: np.ndarray | float) -> None:
        self.R.append(np.asarray(r, dtype=np.int64))
        self.C.append(np.asarray(c, dtype=np.int64))
        self.V.append(np.broadcast_to(np.asarray(v, dtype=float), (len(r),)).copy())

    @one_solve_at_a_time
    def solve(self, policy: Policy, *, time_limit_s: float, mip_gap: float, relax: bool = False,
              lo: np.ndarray | None = None, hi: np.ndarray | None = None,
              ) -> tuple[str, np.ndarray, np.ndarray]:
        """Minimise; return status, column values and row duals (LP only, else zeros).

        ``lo``/``hi`` replace the column bounds (default: the columns' own, and 1).
        """
        import highspy

        if self.n_cols == 0:  # nothing to decide (HiGHS calls such a model "Empty")
            return "Optimal", np.zeros(0), np.zeros(self.n_rows)
        inf = highspy.kHighsInf
        cost = np.concatenate(self.cost) if self.cost else np.zeros(0)
        if lo is None:
            lo = np.concatenate(self.lo) if self.lo else np.zeros(0)
        if hi is None:
            hi = np.ones(self.n_cols)
        integ = (np.zeros(self.n_cols, np.int32) if relax
                 else (np.concatenate(self.integer) if self.integer else np.zeros(0, np.int32)))
        R = np.concatenate(self.R) if self.R else np.zeros(0, np.int64)
        C = np.concatenate(self.C) if self.C else np.zeros(0, np.int64)
        V = np.concatenate(self.V) if self.V else np.zeros(0)
        A = sp.csc_matrix((V, (R, C)), shape=(self.n_rows, self.n_cols))
        A.sum_duplicates()
        A.sort_indices()
        rhi = np.concatenate(self.rhi) if self.rhi else np.zeros(0)
        h = _highs(policy, time_limit_s=time_limit_s, mip_gap=mip_gap)
        h.setOptionValue("mip_abs_gap", 1e-7)
        h.passModel(int(self.n_cols), int(self.n_rows), int(A.nnz),
                    int(highspy.MatrixFormat.kColwise), int(highspy.ObjSense.kMinimize), 0.0,
                    cost, lo, hi, np.full(self.n_rows, -inf),
                    np.where(np.isinf(rhi), inf, rhi), A.indptr.astype(np.int32),
                    A.indices.astype(np.int32), A.data.astype(float), integ)
        h.run()
        status = h.modelStatusToString(h.getModelStatus())
        sol = h.getSolution()
        if status != "Optimal" and not _has_primal(h, sol):
            # a time limit reached before any feasible plan: its column values are not a plan
            if status == "Time limit reached" and not relax:
                msg = (f"no feasible batch plan was found within the time limit of "
                       f"{time_limit_s:g} s, so no placement is proposed; raise "
                       "solver.time_limit_s")
                raise InfeasibleError([msg])
            status = f"{status} (no feasible solution)"
        x = np.asarray(sol.col_value, dtype=float) if self.n_cols else np.zeros(0)
        duals = (np.asarray(sol.row_dual, dtype=float)
                 if (relax or not integ.any()) and self.n_rows else np.zeros(self.n_rows))
        if len(x) != self.n_cols:
            x = np.zeros(self.n_cols)
        if len(duals) != self.n_rows:
            duals = np.zeros(self.n_rows)
        return status, x, duals


def _has_primal(h: Any, sol: Any) -> bool:
    """Whether HiGHS holds a feasible primal solution (not just the zeros of none)."""
    import highspy

    feasible = int(highspy.SolutionStatus.kSolutionStatusFeasible)
    return bool(sol.value_valid) and int(h.getInfo().primal_solution_status) == feasible



# --- solving plain assignments (hindsight, myopic) ----------------------------------------


def _top(key: np.ndarray, value: np.ndarray, k: int) -> np.ndarray:
    """Mask of the ``k`` entries of highest ``value`` per ``key`` (ties by position)."""
    order = np.lexsort((np.arange(len(key)), -value, key))
    sk = key[order]
    rank = np.arange(len(sk)) - np.searchsorted(sk, sk, side="left")
    out = np.zeros(len(key), dtype=bool)
    out[order[rank < k]] = True
    return out


#: Pairs per household and per dwelling in the first restricted LP of :func:`_solve_pairs`,
#: and pairs per household added per pricing round.
START_PER_HOUSEHOLD = 8
START_PER_DWELLING = 4
ADD_PER_HOUSEHOLD = 20


def _solve_pairs(uni: Universe, pairs: np.ndarray, value: np.ndarray, state: State,
                 *, time_limit_s: float, mip_gap: float) -> tuple[np.ndarray, float]:
    """Best set of ``pairs`` (values ``value``) on top of the placements in ``state``.

    Column generation, exact over every pair given: the LP relaxation over a few pairs per
    household and dwelling; its row prices give each pair a reduced cost, pairs with a
    positive one join, until none is left or the Lagrangian bound ``pi b + sum max(rc, 0)``
    (valid for every pair) is within a tenth of the gap of the restricted LP. The MILP
    over those pairs gives a plan of value ``z``; every pair whose reduced cost exceeds
    ``z - bound`` could still be in a better plan and joins; the MILP is solved again until
    none is left. Returns the chosen pairs and the LP bound.
    """
    inst = uni.inst
    t_end = time.perf_counter() + float(time_limit_s)
    n = len(pairs)
    if n == 0:
        return np.zeros(0, dtype=np.int64), 0.0
    h = inst.pair_h[pairs]
    d = inst.pair_d[pairs]
    hu, hi = np.unique(h, return_inverse=True)
    du, di = np.unique(d, return_inverse=True)
    room = cap_left(uni, state)
    bleft = building_left(uni, state)
    area = inst.dw_area[d]
    persons = inst.persons[h].astype(float)
    use_caps = bool(uni.policy.rules.area_cap) and len(inst.area_ids) > 0
    bld = inst.dw_building[d]
    # a building row only where the building's dwellings here exceed what it may still take
    nb = len(bleft)
    n_dw_in_b = np.bincount(inst.dw_building[du], minlength=nb)
    b_need = (n_dw_in_b > bleft) if uni.policy.rules.building_limit else np.zeros(nb, bool)
    b_ids = np.flatnonzero(b_need)
    b_row = np.full(nb, -1)
    b_row[b_ids] = np.arange(len(b_ids))
    nh, nd, na = len(hu), len(du), (len(inst.area_ids) if use_caps else 0)
    r_h, r_d, r_a, r_b = 0, nh, nh + nd, nh + nd + na
    rhs = np.concatenate([np.ones(nh + nd), room if use_caps else np.zeros(0),
                          bleft[b_ids]])

    def model(sel: np.ndarray, integer: bool) -> _Model:
        m = _Model()
        c = m.cols(value[sel], np.zeros(len(sel)), integer)
        m.rows(rhs)
        m.entries(r_h + hi[sel], c, 1.0)
        m.entries(r_d + di[sel], c, 1.0)
        if use_caps:
            ok = area[sel] >= 0
            m.entries(r_a + area[sel][ok], c[ok], persons[sel][ok])
        br = b_row[bld[sel]]
        ok = br >= 0
        m.entries(r_b + br[ok], c[ok], 1.0)
        return m

    def reduced(pi: np.ndarray) -> np.ndarray:
        rc = value - pi[r_h + hi] - pi[r_d + di]
        if use_caps:
            rc -= np.where(area >= 0, pi[r_a + np.maximum(area, 0)] * persons, 0.0)
        if len(b_ids):
            br = b_row[bld]
            rc -= np.where(br >= 0, pi[r_b + np.maximum(br, 0)], 0.0)
        return rc

    inside = _top(hi, value, START_PER_HOUSEHOLD) | _top(di, value, START_PER_DWELLING)
    bound = math.inf
    while True:
        sel = np.flatnonzero(inside)
        status, col, duals = model(sel, False).solve(
            uni.policy, time_limit_s=max(t_end - time.perf_counter(), 1.0), mip_gap=mip_gap,
            relax=True)
        if status != "Optimal":
            break
        pi = np.maximum(-duals, 0.0)  # minimisation duals of <= rows: price = -dual
        rc = reduced(pi)
        new = (rc > 1e-7) & ~inside
        lp = float(np.dot(value[sel], col))
        # Lagrangian bound over every pair (any prices >= 0 give one): pi b + sum max(rc, 0)
        finite = np.isfinite(rhs)
        lagrange = float(np.dot(pi[finite], rhs[finite]) + np.maximum(rc, 0.0).sum())
        if not new.any() or lagrange - lp <= max(1e-6, 0.1 * mip_gap * abs(lp)):
            bound = min(lagrange, lp) if not new.any() else lagrange
            break
        idx = np.flatnonzero(new)
        inside[idx[_top(hi[idx], rc[idx], ADD_PER_HOUSEHOLD)]] = True
        logger.info("batch LP: %s of %s pairs, %s more with a positive reduced cost",
                    f"{len(sel):,}", f"{n:,}", f"{len(idx):,}")
    while True:
        sel = np.flatnonzero(inside)
        status, col, _ = model(sel, True).solve(
            uni.policy, time_limit_s=max(t_end - time.perf_counter(), 1.0), mip_gap=mip_gap)
        if status not in ("Optimal", "Time limit reached") or len(col) != len(sel):
            msg = f"the batch model ended with status '{status}'"
            raise InfeasibleError([msg])
        chosen = sel[col > 0.5]
        z = float(value[chosen].sum())
        if (status != "Optimal" or not math.isfinite(bound)
                or bound - z <= mip_gap * abs(z) + 1e-9):
            break  # proven within the gap against the LP bound over every pair
        more = ~inside & (rc >= -(bound - z) - 1e-9)
        logger.info("batch MILP over %s pairs: %.4f (LP bound %.4f); %s more could improve",
                    f"{len(sel):,}", z, bound, f"{int(more.sum()):,}")
        if not more.any() or time.perf_counter() > t_end:
            break
        inside |= more
    return pairs[chosen], bound


def hindsight_plan(uni: Universe, clock: Clock, *, locks: list[tuple[int, int]] = (),
                   time_limit_s: float = 600.0, mip_gap: float = 1e-6) -> State:
    """Solve the hindsight optimum: every pair at its earliest batch, in one MILP."""
    inst = uni.inst
    bh = clock.batch_of(inst.arrival)
    bd = clock.batch_of(uni.offer_date)
    P = np.arange(len(inst.pair_h))
    b = np.maximum(bh[inst.pair_h], bd[inst.pair_d])
    ok = b < clock.n_batches
    pairs = P[ok]
    t = clock.start + (b[ok] * clock.cadence_days).astype("timedelta64[D]")
    value = uni.value(pairs, t, clock.end)
    fixed = _lock_pairs(uni, locks)
    state = State.empty(inst.n_households)
    # a lock is forced here too, at its earliest batch
    _place_at_earliest(uni, state, fixed, bh, bd, clock)
    keep = ~(np.isin(inst.pair_h[pairs], inst.pair_h[fixed])
             | np.isin(inst.pair_d[pairs], inst.pair_d[fixed]))
    chosen, bound = _solve_pairs(uni, pairs[keep], value[keep], state,
                                 time_limit_s=time_limit_s, mip_gap=mip_gap)
    _place_at_earliest(uni, state, chosen, bh, bd, clock)
    # the bound on J: the LP bound of the free pairs, the locks' values, less the constant
    fixed_t = np.array([clock.date(int(max(bh[inst.pair_h[p]], bd[inst.pair_d[p]])))
                        for p in fixed], dtype="datetime64[D]")
    fixed_v = float(uni.value(fixed, fixed_t, clock.end).sum()) if len(fixed) else 0.0
    const = uni.waiting_cost * float((clock.end - inst.arrival).astype(np.int64).sum()) / 7.0
    state.bound = bound + fixed_v - const
    return state


def _place_at_earliest(uni: Universe, state: State, pairs: np.ndarray, bh: np.ndarray,
                       bd: np.ndarray, clock: Clock) -> None:
    inst = uni.inst
    for p in np.asarray(pairs, dtype=np.int64):
        bp = int(max(bh[inst.pair_h[p]], bd[inst.pair_d[p]]))
        state.place(uni, np.array([p]), clock.date(bp), bp)


def _lock_pairs(uni: Universe, locks: Any) -> np.ndarray:
    """Pair positions of lock positions ``(h, d)`` (locks are always eligible pairs)."""
    if not len(locks):
        return np.zeros(0, dtype=np.int64)
    hs = np.array([h for h, _ in locks], dtype=np.int64)
    ds = np.array([d for _, d in locks], dtype=np.int64)
    return pair_index(uni, hs, ds)


@dataclass
class BatchDecision:
    """Pairs chosen in one batch, and for foresight the potentials and scenario uses.

    ``potential`` (per free dwelling, points) and ``area_potential`` (per area, points per
    person) are the summed scenario duals; ``uses`` lists, per scenario, the expected
    households that the second stage gives a free dwelling: rows ``scenario``, ``dwelling``
    (universe position), ``src`` (the household copied), ``batch`` (its arrival batch),
    ``weight`` (the LP value, 0-1), ``value`` (the pair value ``v`` it would get).
    Duals of a degenerate LP may put a dwelling's value on its expected user's row instead:
    a potential of 0 does not say a kept dwelling is worth nothing (``uses`` does).
    """

    pairs: np.ndarray
    solve_s: float = 0.0
    dwellings: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    potential: np.ndarray = field(default_factory=lambda: np.zeros(0))
    area_potential: np.ndarray = field(default_factory=lambda: np.zeros(0))
    uses: pd.DataFrame = field(default_factory=pd.DataFrame)
    n_columns: int = 0
    whole_recourse: bool = True


def myopic_batch(uni: Universe, clock: Clock, b: int, hh: np.ndarray, dw: np.ndarray,
                 state: State, *, forced: np.ndarray, time_limit_s: float = 60.0,
                 mip_gap: float = 1e-6, t: np.datetime64 | None = None) -> BatchDecision:
    """Best batch over the waiting households ``hh`` and free dwellings ``dw`` alone.

    ``forced`` (pair positions) are placed in this batch whatever; earlier placements are fixed.
    """
    t0 = time.perf_counter()
    t = clock.date(b) if t is None else t
    inst = uni.inst
    pairs = current_pairs(uni, hh, dw)
    after = State(state.dwelling.copy(), state.movein.copy(), state.batch.copy())
    after.place(uni, forced, t, b)
    pairs = pairs[(after.dwelling[inst.pair_h[pairs]] < 0)
                  & ~after.taken(inst.n_dwellings)[inst.pair_d[pairs]]]
    value = uni.value(pairs, t, clock.end)
    chosen, _ = _solve_pairs(uni, pairs, value, after, time_limit_s=time_limit_s,
                             mip_gap=mip_gap)
    return BatchDecision(pairs=np.concatenate([forced, chosen]).astype(np.int64),
                         solve_s=time.perf_counter() - t0)


def greedy_batch(uni: Universe, clock: Clock, b: int, hh: np.ndarray, dw: np.ndarray,
                 state: State, *, forced: np.ndarray) -> BatchDecision:
    """First come, first served: in arrival order, the suitable dwelling free first."""
    t0 = time.perf_counter()
    inst = uni.inst
    room = cap_left(uni, state)
    bleft = building_left(uni, state)
    free = np.zeros(inst.n_dwellings, dtype=bool)
    free[dw] = True
    chosen: list[int] = []
    done = np.zeros(inst.n_households, dtype=bool)

    def take(p: int) -> None:
        h, d = int(inst.pair_h[p]), int(inst.pair_d[p])
        chosen.append(p)
        done[h] = True
        free[d] = False
        if inst.dw_area[d] >= 0:
            room[inst.dw_area[d]] -= inst.persons[h]
        bleft[inst.dw_building[d]] -= 1

    for p in forced:
        take(int(p))
    order = hh[np.lexsort((hh, inst.arrival[hh]))]
    for h in order:
        if done[h]:
            continue
        row = uni.E.getrow(h)
        ds = row.indices
        ok = free[ds]
        a = inst.dw_area[ds]
        ok &= (a < 0) | (room[np.maximum(a, 0)] >= inst.persons[h] - 1e-9)
        ok &= bleft[inst.dw_building[ds]] >= 1
        if not ok.any():
            continue
        cand = ds[ok]
        j = np.lexsort((cand, inst.available[cand]))[0]
        take(int(row.data[ok][j] - 1))
    return BatchDecision(pairs=np.array(chosen, dtype=np.int64),
                         solve_s=time.perf_counter() - t0)


#: Names defined in :mod:`placement.optimizer.foresight`, still importable from here.
_FORESIGHT_NAMES = ("Scenario", "foresight_batch", "sample_scenario")


def __getattr__(name: str) -> Any:
    """Import the foresight names from :mod:`placement.optimizer.foresight` on first use."""
    if name in _FORESIGHT_NAMES:
        from placement.optimizer import foresight

        return getattr(foresight, name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
