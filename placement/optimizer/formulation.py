"""The MILP's rows and columns, HiGHS set-up, duals and Lagrangian bounds.

See :mod:`placement.optimizer.model` for the formulation.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    """Share ``omega`` of the spread term in the objective."""
    w = policy.weights
    return w.spread / w.total


def pair_objective(inst: Instance, policy: Policy, bonus: np.ndarray) -> np.ndarray:
    """Objective coefficient of each pair (maximise): ``M + (1 - omega) score + bonus``."""
    omega = spread_weight(policy)
    return policy.solver.unplaced_penalty + (1.0 - omega) * inst.pair_score + bonus


_BANNER_SHOWN = False
_THREADS: int | None = None


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
    count makes ``run`` fail, so the pool is restarted when the count changes.
    """
    import highspy

    global _THREADS
    threads = int(policy.solver.threads)
    if _THREADS is not None and threads != _THREADS:
        highspy.Highs.resetGlobalScheduler(True)
    _THREADS = threads
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
    # extra columns: L[a] (integer persons placed in area a) and dev[a]
    extra_cost: np.ndarray
    extra_lo: np.ndarray
    extra_hi: np.ndarray
    extra_int: np.ndarray
    extra_row: np.ndarray  # (row, column offset, value) triplets of the extra columns
    extra_col: np.ndarray
    extra_val: np.ndarray
    offset: float
    spread_t: np.ndarray  # share[a] * persons_total + tol (spread), empty without spread
    dev_cost: float


def _rows(inst: Instance, policy: Policy, *, caps: bool, buildings: bool) -> _Rows:
    """Rows (1)-(4), (6) and the area columns ``L``/``dev`` of the module docstring."""
    r = policy.rules
    H, D, A = inst.n_households, inst.n_dwellings, len(inst.area_ids)
    omega = spread_weight(policy)
    use_spread = omega > 0 and A > 1
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
    spread_t = np.zeros(0)
    dev_cost = 0.0
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
    if use_spread:
        share = inst.area_population / max(inst.area_population.sum(), 1.0)
        tol = float(policy.scoring.spread_tolerance_persons)
        persons_total = max(float(inst.persons.sum()), 1.0)
        spread_t = share * persons_total + tol
        dev_cost = omega * H / persons_total
        # (6) L[a] - dev[a] <= share[a] * persons_total + tol
        s_row = n + np.arange(A)
        n += A
        rlo.append(np.full(A, -np.inf))
        rhi.append(spread_t)
        e_cost.append(np.full(A, dev_cost))
        e_lo.append(np.zeros(A))
        e_hi.append(np.full(A, np.inf))
        e_int.append(np.zeros(A, dtype=np.int32))
        eR += [s_row, s_row]
        eC += [np.arange(A), A + np.arange(A)]
        eV += [np.ones(A), -np.ones(A)]

    def cat(x: list[np.ndarray], dtype: Any = float) -> np.ndarray:
        return np.concatenate(x).astype(dtype) if x else np.zeros(0, dtype=dtype)

    return _Rows(n_rows=n, rlo=cat(rlo), rhi=cat(rhi), h_row=h_row, d_row=d_row, b_row=b_row,
                 a_row=a_row, extra_cost=cat(e_cost), extra_lo=cat(e_lo), extra_hi=cat(e_hi),
                 extra_int=cat(e_int, np.int32), extra_row=cat(eR, np.int64),
                 extra_col=cat(eC, np.int64), extra_val=cat(eV),
                 offset=policy.solver.unplaced_penalty * H, spread_t=spread_t,
                 dev_cost=dev_cost)


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
    return out


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


