"""The MILP's rows and columns, HiGHS set-up, duals and Lagrangian bounds.

See :mod:`placement.optimizer.model` for the formulation.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from placement.config import Policy
from placement.optimizer.instance import Instance

logger = logging.getLogger(__name__)

# --- the MILP -------------------------------------------------------------------------------


@dataclass
class Solution:
    """Raw solver result.

    ``bound`` is a valid bound on the optimum over *all* eligible pairs, also when only a part of
    them entered the MILP (``n_cols``): see :func:`build_and_solve`.
    """

    status: str
    x: np.ndarray  # 0/1 per pair
    objective: float
    bound: float
    gap: float
    build_s: float
    solve_s: float
    n_rows: int
    n_cols: int
    n_nonzeros: int
    #: pairs that entered the MILP (all eligible pairs when no pricing was done)
    n_model_pairs: int = 0
    #: LP rounds of the pricing loop (0: the MILP was built over all pairs at once)
    pricing_rounds: int = 0
    #: bound of the LP relaxation over all eligible pairs (maximisation), NaN without pricing
    lp_bound: float = math.nan
    #: seconds spent in the pricing loop (part of ``solve_s``)
    pricing_s: float = 0.0


def spread_weight(policy: Policy) -> float:
    """Share ``omega`` of the spread term among the weights (for reports)."""
    w = policy.weights
    return w.spread / w.total


def spread_points(policy: Policy) -> float:
    """Score points one person placed off the population-proportional distribution costs.

    ``weights.spread / (sum of the other weights)``: with the defaults 0.1 / 0.9 = 0.11, so a
    household of 4 placed in an area already at its share costs 0.44 points, more than most
    score differences between two dwellings. Only the spread weight set: 1 point per person.
    """
    w = policy.weights
    rest = w.total - w.spread
    return w.spread / rest if rest > 0 else 1.0


@dataclass
class GroupRow:
    """A row whose coefficient on pair ``(h, d)`` is ``hh_coef[h] + score_coef * score[h, d]``.

    Earlier stages of the lexicographic objective (and the fairness guard) enter later stages
    as such rows; ``extra`` holds the coefficients on the area columns (dev) and on extra
    columns, as ``(column offset, value)`` pairs.
    """

    hh_coef: np.ndarray
    score_coef: float
    lo: float
    hi: float
    extra: list[tuple[int, float]] = field(default_factory=list)
    name: str = ""


@dataclass
class Stage:
    """One objective of the lexicographic sequence (maximised).

    The value of a plan is ``sum_p x[p] (hh_value[h] + score_mult score[p] + bonus[p]) -
    spread_cost sum_a dev[a]``; ``bonus`` (per pair) is passed beside it because it follows the
    pairs (the kept stage gives 1 to each previous pair). ``rows`` are the constraints earlier
    stages leave. ``abs_gap`` is the absolute gap at which the stage counts as optimal (just
    below 1 when its values are whole numbers).
    """

    name: str
    hh_value: np.ndarray
    score_mult: float
    spread_cost: float
    spread: bool
    rows: list[GroupRow] = field(default_factory=list)
    abs_gap: float = 1e-9
    #: persons placed in areas when an earlier stage fixes it: the proportional targets are
    #: then constants (a stronger model); None: they follow the persons placed (a variable)
    spread_total: float | None = None
    #: binary extra columns (fairness guard): count; their entries are in ``rows``' extra
    n_binary: int = 0
    #: relative gap of this stage; None: the policy's ``solver.mip_gap``. A stage of whole
    #: numbers (persons placed, placements kept) uses 0: its absolute gap below 1 proves the
    #: maximum, and a relative gap would let it leave a person out (5 % of 26 persons is 1.3)
    rel_gap: float | None = None

    def mip_gap(self, policy_gap: float) -> float:
        """Return the relative gap to solve this stage to, given the policy's."""
        return float(policy_gap) if self.rel_gap is None else float(self.rel_gap)


def stage_value(inst: Instance, stage: Stage, bonus: np.ndarray) -> np.ndarray:
    """Objective coefficient of each pair (maximise): ``hh_value + score_mult score + bonus``."""
    return stage.hh_value[inst.pair_h] + stage.score_mult * inst.pair_score + bonus


def weighted_stage(inst: Instance, policy: Policy) -> Stage:
    """Return the single-solve objective: ``unplaced_penalty`` per household, plus quality."""
    H = inst.n_households
    return Stage(name="weighted", hh_value=np.full(H, float(policy.solver.unplaced_penalty)),
                 score_mult=1.0, spread_cost=spread_points(policy),
                 spread=spread_points(policy) > 0 and len(inst.area_ids) > 1)


def pair_objective(inst: Instance, policy: Policy, bonus: np.ndarray) -> np.ndarray:
    """Objective coefficient of each pair in the weighted objective (see :func:`weighted_stage`)."""
    return stage_value(inst, weighted_stage(inst, policy), bonus)


_BANNER_SHOWN = False
_THREADS: tuple[int, int] | None = None  # (thread count, Python thread) of the pool
#: One solve at a time per process: HiGHS's thread pool is global and restarting it (for
#: another thread count or Python thread) under a running solve would break that solve. The
#: app runs each browser session in its own thread; two sessions solving queue here.
SOLVER_LOCK = threading.RLock()

_F = TypeVar("_F", bound=Callable[..., Any])


def one_solve_at_a_time(fn: _F) -> _F:
    """Decorate a function that creates and runs HiGHS models to hold :data:`SOLVER_LOCK`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with SOLVER_LOCK:
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _new_highs() -> Any:
    """Make a HiGHS instance; the first one of a process is made with stdout muted.

    HiGHS prints its version banner to the C-level stdout once per process, which would end up
    in the middle of CLI output.
    """
    import os
    import sys

    import highspy

    global _BANNER_SHOWN  # once per process, like the banner itself
    if _BANNER_SHOWN:
        return highspy.Highs()
    _BANNER_SHOWN = True
    sys.stdout.flush()
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return highspy.Highs()
    saved = os.dup(fd)
    try:
        with Path(os.devnull).open("w", encoding="utf-8") as null:
            os.dup2(null.fileno(), fd)
            h = highspy.Highs()
    finally:
        os.dup2(saved, fd)
        os.close(saved)
    return h


def _highs(policy: Policy, *, time_limit_s: float, mip_gap: float) -> Any:
    """Make a quiet HiGHS instance with the policy's solver options.

    HiGHS starts its thread pool once per process; asking a later instance for another thread
    count makes ``run`` fail, and so does running from another Python thread than the one the
    pool was last started from (the app solves in a script thread, a test or a command in the
    main one: seen as status "Not Set"). The pool is restarted when either changes.
    """
    import highspy

    global _THREADS
    wanted = (int(policy.solver.threads), threading.get_ident())
    if _THREADS is not None and wanted != _THREADS:
        highspy.Highs.resetGlobalScheduler(True)
    _THREADS = wanted
    threads = wanted[0]
    h = _new_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("log_to_console", False)
    h.setOptionValue("random_seed", int(policy.solver.seed))
    h.setOptionValue("threads", threads)
    h.setOptionValue("time_limit", max(float(time_limit_s), 1e-3))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    h.setOptionValue("mip_abs_gap", 1e-9)
    return h


@dataclass
class _Rows:
    """Row layout of the model; the same for every subset of pairs (pricing adds columns)."""

    n_rows: int
    rlo: np.ndarray
    rhi: np.ndarray
    h_row: np.ndarray  # row of household h
    d_row: np.ndarray  # row of dwelling d
    b_row: np.ndarray  # row of building b, -1 when the building has no limit row
    a_row: np.ndarray  # load row of area a (sum persons x - L[a] = 0), -1 without load rows
    # extra columns: L[a] (integer persons placed in area a), dev[a], then binaries
    extra_cost: np.ndarray
    extra_lo: np.ndarray
    extra_hi: np.ndarray
    extra_int: np.ndarray
    extra_row: np.ndarray  # (row, column offset, value) triplets of the extra columns
    extra_col: np.ndarray
    extra_val: np.ndarray
    offset: float
    spread_share: np.ndarray  # share[a] of the population (spread), empty without spread
    spread_tol: float
    dev_cost: float
    spread_total: float | None = None  # see Stage.spread_total
    #: (row index, GroupRow) of the stage and fairness rows
    g_rows: list[tuple[int, GroupRow]] = field(default_factory=list)
    n_binary: int = 0


def _rows(inst: Instance, policy: Policy, *, caps: bool, buildings: bool,
          stage: Stage | None = None) -> _Rows:
    """Rows (1)-(4), (6), the stage rows and the area columns ``L``/``dev``."""
    r = policy.rules
    stage = weighted_stage(inst, policy) if stage is None else stage
    H, D, A = inst.n_households, inst.n_dwellings, len(inst.area_ids)
    use_spread = stage.spread and A > 1
    use_caps = caps and r.area_cap and A > 0
    use_buildings = buildings and r.building_limit and D > 0
    rlo = [np.full(H + D, -np.inf)]
    rhi = [np.ones(H + D)]
    n = H + D
    h_row = np.arange(H)
    d_row = H + np.arange(D)
    nb = int(inst.dw_building.max()) + 1 if D else 0
    b_row = np.full(nb, -1, dtype=np.int64)
    if use_buildings:
        locked_b = np.bincount(inst.dw_building[inst.pair_d[inst.pair_locked]], minlength=nb)
        size = np.bincount(inst.dw_building, minlength=nb)
        big = np.flatnonzero(size > r.max_households_per_building)
        b_row[big] = n + np.arange(len(big))
        n += len(big)
        rlo.append(np.full(len(big), -np.inf))
        rhi.append(np.maximum(float(r.max_households_per_building), locked_b[big]))
    a_row = np.full(A, -1, dtype=np.int64)
    e_cost, e_lo, e_hi, e_int = [], [], [], []
    eR, eC, eV = [], [], []
    share = np.zeros(0)
    tol = float(policy.scoring.spread_tolerance_persons)
    dev_cost = 0.0
    n_extra = 0
    if use_caps or use_spread:
        # (5') L[a] = sum_{p in a} persons x[p]: integer, at most the cap
        a_row = n + np.arange(A)
        n += A
        rlo.append(np.zeros(A))
        rhi.append(np.zeros(A))
        if use_caps:
            sel = inst.pair_locked & (inst.dw_area[inst.pair_d] >= 0)
            locked_load = np.bincount(inst.dw_area[inst.pair_d[sel]],
                                      weights=inst.persons[inst.pair_h[sel]], minlength=A)
            # an area already over its cap takes nobody new (upper bound 0)
            cap_hi = np.maximum(np.maximum(inst.area_cap, locked_load), 0.0)
        else:
            cap_hi = np.full(A, np.inf)
        e_cost.append(np.zeros(A))
        e_lo.append(np.zeros(A))
        e_hi.append(np.floor(cap_hi + 1e-9))
        e_int.append(np.ones(A, dtype=np.int32))
        eR.append(a_row)
        eC.append(np.arange(A))
        eV.append(-np.ones(A))
        n_extra = A
    if use_spread:
        share = inst.area_population / max(inst.area_population.sum(), 1.0)
        dev_cost = float(stage.spread_cost)
        # (6) L[a] - share[a] sum_b L[b] - dev[a] <= tol: persons above the proportional
        # share of the persons placed
        s_row = n + np.arange(A)
        n += A
        rlo.append(np.full(A, -np.inf))
        rhi.append(np.full(A, tol))
        e_cost.append(np.full(A, dev_cost))
        e_lo.append(np.zeros(A))
        e_hi.append(np.full(A, np.inf))
        e_int.append(np.zeros(A, dtype=np.int32))
        if stage.spread_total is not None:
            # (6') L[a] - dev[a] <= share[a] total + tol
            rhi[-1] = share * float(stage.spread_total) + tol
            eR += [s_row, s_row]
            eC += [np.arange(A), A + np.arange(A)]
            eV += [np.ones(A), -np.ones(A)]
        else:
            ra, cb = np.meshgrid(np.arange(A), np.arange(A), indexing="ij")
            eR += [s_row[ra.ravel()], s_row]
            eC += [cb.ravel(), A + np.arange(A)]
            eV += [(ra == cb).astype(float).ravel() - share[ra.ravel()], -np.ones(A)]
        n_extra = 2 * A
    g_rows: list[tuple[int, GroupRow]] = []
    base_binary = n_extra
    if stage.n_binary:
        e_cost.append(np.zeros(stage.n_binary))
        e_lo.append(np.zeros(stage.n_binary))
        e_hi.append(np.ones(stage.n_binary))
        e_int.append(np.ones(stage.n_binary, dtype=np.int32))
    for g in stage.rows:
        g_rows.append((n, g))
        rlo.append(np.array([g.lo]))
        rhi.append(np.array([g.hi]))
        for off, val in g.extra:
            # offsets: >= 0 the dev column of area off (A + off); < 0 binary -off - 1
            col = (A + off) if off >= 0 else base_binary - off - 1
            if off >= 0 and not use_spread:
                continue
            eR.append(np.array([n]))
            eC.append(np.array([col]))
            eV.append(np.array([val]))
        n += 1

    def cat(x: list[np.ndarray], dtype: Any = float) -> np.ndarray:
        return np.concatenate(x).astype(dtype) if x else np.zeros(0, dtype=dtype)

    return _Rows(n_rows=n, rlo=cat(rlo), rhi=cat(rhi), h_row=h_row, d_row=d_row, b_row=b_row,
                 a_row=a_row, extra_cost=cat(e_cost), extra_lo=cat(e_lo), extra_hi=cat(e_hi),
                 extra_int=cat(e_int, np.int32), extra_row=cat(eR, np.int64),
                 extra_col=cat(eC, np.int64), extra_val=cat(eV), offset=0.0,
                 spread_share=share, spread_tol=tol, dev_cost=dev_cost, g_rows=g_rows,
                 spread_total=stage.spread_total if use_spread else None,
                 n_binary=stage.n_binary)


def area_extra_values(inst: Instance, rows: _Rows, load: np.ndarray) -> np.ndarray:
    """Values of the area columns (``L``, ``dev``) for the persons ``load`` per area."""
    A = len(inst.area_ids)
    n_e = len(rows.extra_cost) - rows.n_binary
    out = np.zeros(n_e)
    if n_e:
        out[:A] = load
        if len(rows.spread_share):
            out[A:2 * A] = spread_excess(rows, load)
    return out


def spread_excess(rows: _Rows, load: np.ndarray) -> np.ndarray:
    """Persons per area above the proportional share of ``load`` beyond the tolerance."""
    total = load.sum() if rows.spread_total is None else rows.spread_total
    return np.maximum(load - rows.spread_share * total - rows.spread_tol, 0.0)


def _pair_entries(inst: Instance, rows: _Rows, sel: np.ndarray) -> tuple[np.ndarray, ...]:
    """CSC arrays (start, row index, value) of the pair columns ``sel`` (pair positions)."""
    ph, pd_ = inst.pair_h[sel], inst.pair_d[sel]
    n = len(sel)
    parts_r = [rows.h_row[ph], rows.d_row[pd_]]
    parts_v = [np.ones(n), np.ones(n)]
    parts_c = [np.arange(n), np.arange(n)]
    br = rows.b_row[inst.dw_building[pd_]] if len(rows.b_row) else np.full(n, -1)
    ok = br >= 0
    parts_r.append(br[ok])
    parts_v.append(np.ones(int(ok.sum())))
    parts_c.append(np.flatnonzero(ok))
    area = inst.dw_area[pd_]
    ar = np.where(area >= 0, rows.a_row[np.maximum(area, 0)], -1) if len(rows.a_row) else \
        np.full(n, -1)
    ok = ar >= 0
    parts_r.append(ar[ok])
    parts_v.append(inst.persons[ph[ok]].astype(float))
    parts_c.append(np.flatnonzero(ok))
    for row, g in rows.g_rows:
        v = g.hh_coef[ph] + (g.score_coef * inst.pair_score[sel] if g.score_coef else 0.0)
        v = np.broadcast_to(v, (n,))
        ok = v != 0
        parts_r.append(np.full(int(ok.sum()), row))
        parts_v.append(v[ok])
        parts_c.append(np.flatnonzero(ok))
    R = np.concatenate(parts_r)
    C = np.concatenate(parts_c)
    V = np.concatenate(parts_v)
    order = np.lexsort((R, C))
    start = np.searchsorted(C[order], np.arange(n + 1))
    return start, R[order], V[order]


def _pass(h: Any, rows: _Rows, inst: Instance, sel: np.ndarray, cost: np.ndarray,
          lower: np.ndarray, *, integer: bool) -> int:
    """Load the model over the pairs ``sel`` (then the area columns) into ``h``; nonzeros."""
    import highspy

    inf = highspy.kHighsInf
    start, R, V = _pair_entries(inst, rows, sel)
    n_p = len(sel)
    n_e = len(rows.extra_cost)
    # area columns: their entries sorted by column
    eo = np.lexsort((rows.extra_row, rows.extra_col))
    eC, eR, eV = rows.extra_col[eo], rows.extra_row[eo], rows.extra_val[eo]
    e_start = np.searchsorted(eC, np.arange(n_e + 1))
    starts = np.concatenate([start[:-1], len(R) + e_start]).astype(np.int32)  # n_cols + 1
    index = np.concatenate([R, eR]).astype(np.int32)
    value = np.concatenate([V, eV]).astype(float)
    col_cost = np.concatenate([cost[sel], rows.extra_cost])
    col_lo = np.concatenate([lower[sel], rows.extra_lo])
    col_hi = np.concatenate([np.ones(n_p), rows.extra_hi])
    integ = (np.concatenate([np.ones(n_p, dtype=np.int32), rows.extra_int]) if integer
             else np.zeros(n_p + n_e, dtype=np.int32))
    h.passModel(
        int(n_p + n_e), int(rows.n_rows), len(value), int(highspy.MatrixFormat.kColwise),
        int(highspy.ObjSense.kMinimize), float(rows.offset),
        col_cost.astype(float), col_lo.astype(float), np.where(np.isinf(col_hi), inf, col_hi),
        np.where(np.isinf(rows.rlo), -inf, rows.rlo), np.where(np.isinf(rows.rhi), inf, rows.rhi),
        starts, index, value, integ,
    )
    return len(value)


def _row_price(inst: Instance, rows: _Rows, pi: np.ndarray, sel: np.ndarray | None = None,
               ) -> np.ndarray:
    """``A_p^T pi`` of each pair column (all pairs, or the pairs ``sel``)."""
    ph = inst.pair_h if sel is None else inst.pair_h[sel]
    pd_ = inst.pair_d if sel is None else inst.pair_d[sel]
    out = pi[rows.h_row[ph]] + pi[rows.d_row[pd_]]
    if len(rows.b_row):
        br = rows.b_row[inst.dw_building[pd_]]
        out += np.where(br >= 0, pi[np.maximum(br, 0)], 0.0)
    if len(rows.a_row) and (rows.a_row >= 0).any():
        area = inst.dw_area[pd_]
        ar = np.where(area >= 0, rows.a_row[np.maximum(area, 0)], -1)
        out += np.where(ar >= 0, pi[np.maximum(ar, 0)] * inst.persons[ph], 0.0)
    for row, g in rows.g_rows:
        if pi[row] != 0:
            sc = inst.pair_score if sel is None else inst.pair_score[sel]
            out += pi[row] * (g.hh_coef[ph] + g.score_coef * sc)
    return out


def group_prices(rows: _Rows, pi: np.ndarray, n_households: int) -> tuple[np.ndarray, float]:
    """Return what the stage rows add to a pair's row price: per household, per score point."""
    hh = np.zeros(n_households)
    per_score = 0.0
    for row, g in rows.g_rows:
        if pi[row] != 0:
            hh += pi[row] * g.hh_coef
            per_score += pi[row] * g.score_coef
    return hh, per_score


def _safe_duals(rows: _Rows, pi: np.ndarray) -> np.ndarray:
    """Row duals (minimisation) with every sign that would need an infinite row side set to 0."""
    pi = pi.copy()
    pi[(pi > 0) & np.isinf(rows.rlo)] = 0.0
    pi[(pi < 0) & np.isinf(rows.rhi)] = 0.0
    return pi


def _lagrange_bound(rows: _Rows, pi: np.ndarray, rc_pairs: np.ndarray, lower_pairs: np.ndarray,
                    ) -> float:
    """Lower bound (minimisation) on the model over all pairs from row prices ``pi``.

    For any feasible ``x``: ``c x = pi A x + (c - pi A) x >= sum_r pi_r side_r +
    sum_j min(rc_j l_j, rc_j u_j)``, whatever ``pi`` (with signs fitting the row sides).
    """
    side = np.where(pi > 0, rows.rlo, rows.rhi)
    dual = float(np.dot(pi[pi != 0], side[pi != 0]))
    pairs = float(np.minimum(rc_pairs * lower_pairs, rc_pairs).sum())
    # area columns: reduced cost against their bounds
    n_e = len(rows.extra_cost)
    if n_e:
        rc_e = rows.extra_cost - np.bincount(rows.extra_col, weights=pi[rows.extra_row] *
                                             rows.extra_val, minlength=n_e)
        rc_e[np.abs(rc_e) < 1e-12] = 0.0
        if ((rc_e < 0) & np.isinf(rows.extra_hi)).any():
            return -math.inf
        hi = np.where(np.isinf(rows.extra_hi), 0.0, rows.extra_hi)
        pairs += float(np.minimum(rc_e * rows.extra_lo, rc_e * hi).sum())
    return dual + pairs + rows.offset


