"""Foresight batches: sampled futures, the two-stage model and the potentials it prices with.

Symbols as in :mod:`placement.optimizer.batch` (batch dates ``t_b``, year end ``T``, pair
value ``v(h, d, t) = U p[h] + s[h, d] + c (T - max(t, f[d])) / 7``, ``cap_left[a]`` the persons
area ``a`` may still take). At batch ``b`` the waiting households and the free dwellings are
known; the future is not.

**Scenarios** (:func:`sample_scenario`): ``K`` sampled futures ``k``. Arrivals: the quota less
the households arrived so far, each a copy of a household seen so far (the household mix),
arriving at a batch drawn evenly among those left; vacancies: the year's vacancies less those
freed so far, copies of dwellings seen freeing (same area, size, rent and access), freeing at
a batch drawn evenly. Announced households and dwellings come as they are. An expected
vacancy counts under its area's cap and is a building of its own.

**The two-stage model.** First stage: binaries ``x`` over the pairs of waiting households
and free dwellings that can be made now (a pair whose area has less room than the
household's persons, or whose building is full, cannot be in any plan and is left out),
value ``v(h, d, t_b)``. Second stage, per scenario: columns ``y^k`` over the pairs of the
scenario's households (those waiting now, from the next batch on, and the expected arrivals)
and dwellings (those free now, from the next batch on, and the expected vacancies), each at
the batch both are there, value ``v``; a waiting household's pair with a dwelling free now is
first-stage only (made later it is worth ``c`` a week less). Per scenario::

    sum_d x[h, d] + sum_d y^k[h, d] <= 1      waiting household h
    sum_h x[h, d] + sum_h y^k[h, d] <= 1      free dwelling d (and every expected one)
    sum p x + sum p y^k <= cap_left[a]        area a;   the building rows alike

and it maximises ``sum v x + (1 / K) sum_k sum v y^k``. The **potentials** are the LP duals
of the scenario rows summed over the scenarios (each scenario's columns carry the weight
``1 / K``): ``pi[d]`` (points) the expected value of keeping free dwelling ``d`` for later,
``mu[a]`` (points per person) that of a person's room under area ``a``'s cap, ``beta[g]``
(points) that of a household's place under building ``g``'s limit.

*Small scenarios* (at most :data:`INTEGER_RECOURSE_MAX` second-stage columns): the model is
solved as it is, ``x`` and ``y`` whole; the potentials come from the LP of the future with
``x`` fixed at the batch. *Large scenarios*: the LP relaxation of the whole model gives the
potentials, and the batch is the best plan of the waiting households (the MILP with every
hard rule, over **every** pair that can be made now) at the **priced values**
``v - pi[d] - mu[a] p[h] - beta[g]`` (each capacity the pair uses, priced); pairs whose
priced value is not positive are not made. So a
dwelling stays free when some expected arrival values it more than any waiting household
does (net of that arrival's other options), and a household waits when every dwelling it
could have now is worth more to those who come later, as in the dynamic potentials of Ahani,
Gölz, Procaccia, Teytelboym and Trapp (Operations Research 2024) and of Bansak and Paulson
(Operations Research 2024). *No future* (no second-stage column: the last batch of the year,
or nothing expected within the look-ahead): the model is the myopic MILP of the batch, solved
over every pair, so the year never ends with a household waiting that the dwellings left free
could house.

**The first stage is priced, not pruned.** A batch with more than
:data:`FIRST_STAGE_EXACT_MAX` first-stage pairs starts the LP from each waiting household's
:data:`FIRST_STAGE_PER_HOUSEHOLD` best pairs that can be made now (and each dwelling's best
:data:`FIRST_STAGE_PER_DWELLING`); every other first-stage pair is priced with the LP's row
duals (reduced cost ``v - sum_k (sigma^k[h] + pi^k[d] + p[h] mu^k[a] + beta^k[building])``) and
those with a positive one join until none is left (at most :data:`FIRST_STAGE_ROUNDS`
rounds, within the time limit), so the LP, and its potentials, are those over every
first-stage pair. (Keeping only the best pairs by unpriced value, as an earlier
version did, gave households of the same make-up the same few dwellings, most of them in
full buildings or areas, and left households unplaced at the year's end that the myopic
batch houses.) The small-scenario MILP takes its first-stage columns from that LP.

With one scenario equal to the truth and whole ``y`` (no pair left out, the year within the
look-ahead below), the batch model is the hindsight MILP of what is left, so batch after
batch the plan reaches the hindsight optimum (tested). Each expected household keeps its
:data:`RECOURSE_PER_HOUSEHOLD` best pairs (and each dwelling its
:data:`RECOURSE_PER_DWELLING` best) when a scenario has more than :data:`EXACT_RECOURSE_MAX`
pairs. The scenarios look :data:`LOOKAHEAD_DAYS` ahead (a rolling horizon): later arrivals
and vacancies do not enter the batch model, which keeps it small (the year's end beyond the
horizon weighs the same on both sides: households and dwellings are both left out).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from placement._errors import InfeasibleError
from placement.optimizer.batch import (
    POINTS_PER_PERSON,
    BatchDecision,
    Clock,
    State,
    Universe,
    _Model,
    _solve_pairs,
    _top,
    building_left,
    cap_left,
    current_pairs,
)

logger = logging.getLogger(__name__)

__all__ = ["Scenario", "foresight_batch", "sample_scenario"]

#: Second-stage columns up to which the scenarios are solved whole (exact); above: the LP.
INTEGER_RECOURSE_MAX = 3_000
#: Pairs of a scenario up to which every pair enters; above, each expected household keeps
#: its RECOURSE_PER_HOUSEHOLD best pairs (and each dwelling its RECOURSE_PER_DWELLING best).
EXACT_RECOURSE_MAX = 20_000
RECOURSE_PER_HOUSEHOLD = 50
RECOURSE_PER_DWELLING = 3
#: Days after the batch that the scenarios look ahead (a rolling horizon: expected households
#: and dwellings later than this are left out of the batch model).
LOOKAHEAD_DAYS = 91
#: First-stage pairs up to which every one enters the model at once; above, the LP starts
#: from each waiting household's FIRST_STAGE_PER_HOUSEHOLD best (and each dwelling's
#: FIRST_STAGE_PER_DWELLING best) and prices the rest in, FIRST_STAGE_ADD per household a round.
FIRST_STAGE_EXACT_MAX = 2_000
FIRST_STAGE_PER_HOUSEHOLD = 40
FIRST_STAGE_PER_DWELLING = 2
FIRST_STAGE_ADD = 20
#: Pricing rounds of the first stage at most (each adds the pairs of positive reduced cost).
FIRST_STAGE_ROUNDS = 30


# --- scenarios -----------------------------------------------------------------------------


@dataclass
class Scenario:
    """One sampled future: households and dwellings that come after the batch.

    ``hh_src``/``dw_src`` are the universe positions copied (a household of the same make-up,
    a dwelling of the same area, size, rent and access), ``hh_batch``/``dw_batch`` the batch
    each is there from. ``dw_real`` marks dwellings that are real ones of the universe (an
    announced vacancy, or the truth in tests): they keep their own date and building.
    """

    hh_src: np.ndarray
    hh_batch: np.ndarray
    dw_src: np.ndarray
    dw_batch: np.ndarray
    dw_real: np.ndarray

    @classmethod
    def truth(cls, uni: Universe, clock: Clock, b: int) -> Scenario:
        """Return the real future after batch ``b``: the households and dwellings that do come."""
        bh = clock.batch_of(uni.inst.arrival)
        bd = clock.batch_of(uni.offer_date)
        h = np.flatnonzero((bh > b) & (bh < clock.n_batches))
        d = np.flatnonzero((bd > b) & (bd < clock.n_batches))
        return cls(h, bh[h], d, bd[d], np.ones(len(d), dtype=bool))


def sample_scenario(uni: Universe, clock: Clock, b: int, rng: np.random.Generator, *,
                    seen_hh: np.ndarray, seen_dw: np.ndarray, quota: int, vacancies: int,
                    n_arrived: int, n_freed: int, announced_hh: np.ndarray | None = None,
                    announced_dw: np.ndarray | None = None) -> Scenario:
    """Draw the future after batch ``b``.

    Arrivals: ``quota - n_arrived`` households (less the announced ones), each a copy of a
    household drawn from ``seen_hh`` (the year so far: the household mix), arriving at a
    batch drawn evenly among the batches left. Vacancies: ``vacancies - n_freed`` dwellings
    (less the announced ones), copies of dwellings drawn from ``seen_dw`` (the stock seen
    freeing: the observed turnover), freeing at a batch drawn evenly. Announced households and
    dwellings (known future dates) come as they are.
    """
    left = np.arange(b + 1, clock.n_batches)
    ann_h = np.zeros(0, dtype=np.int64) if announced_hh is None else announced_hh
    ann_d = np.zeros(0, dtype=np.int64) if announced_dw is None else announced_dw
    n_h = max(int(quota) - int(n_arrived) - len(ann_h), 0) if len(left) and len(seen_hh) else 0
    n_d = (max(int(vacancies) - int(n_freed) - len(ann_d), 0) if len(left) and len(seen_dw)
           else 0)
    hs = rng.choice(seen_hh, size=n_h) if n_h else np.zeros(0, dtype=np.int64)
    hb = rng.choice(left, size=n_h) if n_h else np.zeros(0, dtype=np.int64)
    ds = rng.choice(seen_dw, size=n_d) if n_d else np.zeros(0, dtype=np.int64)
    db = rng.choice(left, size=n_d) if n_d else np.zeros(0, dtype=np.int64)
    bh = clock.batch_of(uni.inst.arrival[ann_h])
    bd = clock.batch_of(uni.offer_date[ann_d])
    return Scenario(np.concatenate([ann_h, hs]).astype(np.int64),
                    np.concatenate([np.maximum(bh, b + 1), hb]).astype(np.int64),
                    np.concatenate([ann_d, ds]).astype(np.int64),
                    np.concatenate([np.maximum(bd, b + 1), db]).astype(np.int64),
                    np.concatenate([np.ones(len(ann_d), bool), np.zeros(n_d, bool)]))

def _scenario_pairs(uni: Universe, clock: Clock, b: int, hh_src: np.ndarray,
                    hh_batch: np.ndarray, dw_src: np.ndarray, dw_batch: np.ndarray,
                    dw_date: np.ndarray, n_wait: int, n_free: int,
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Second-stage pairs of one scenario: (household node, dwelling node, value).

    Nodes ``< n_wait`` are the waiting households and ``< n_free`` the free dwellings (their
    pairs with each other are first-stage only).
    """
    if not len(hh_src) or not len(dw_src):
        z = np.zeros(0, dtype=np.int64)
        return z, z, np.zeros(0)
    sub = uni.E[hh_src][:, dw_src].tocoo()
    i, j, p = sub.row.astype(np.int64), sub.col.astype(np.int64), sub.data.astype(np.int64) - 1
    keep = ~((i < n_wait) & (j < n_free))
    tb = np.maximum(hh_batch[i], dw_batch[j])
    keep &= tb < clock.n_batches
    i, j, p, tb = i[keep], j[keep], p[keep], tb[keep]
    t = clock.start + (tb * clock.cadence_days).astype("timedelta64[D]")
    movein = np.maximum(t, dw_date[j])
    inst = uni.inst
    weeks_left = (clock.end - movein).astype(np.int64) / 7.0
    v = (POINTS_PER_PERSON * inst.persons[inst.pair_h[p]] + inst.pair_score[p]
         + uni.waiting_cost * weeks_left)
    if len(i) > EXACT_RECOURSE_MAX:
        keep = np.zeros(len(i), dtype=bool)
        for a_, k in ((i, RECOURSE_PER_HOUSEHOLD), (j, RECOURSE_PER_DWELLING)):
            order = np.lexsort((-v, a_))
            sa = a_[order]
            rank = np.arange(len(sa)) - np.searchsorted(sa, sa, side="left")
            keep[order[rank < k]] = True
        i, j, v = i[keep], j[keep], v[keep]
    return i, j, v


# --- the foresight batch ------------------------------------------------------------------


def _makeable(uni: Universe, state: State, pairs: np.ndarray) -> np.ndarray:
    """Mask of the pairs that can be made on top of ``state``: room under the cap, building."""
    inst = uni.inst
    h, d = inst.pair_h[pairs], inst.pair_d[pairs]
    ok = building_left(uni, state)[inst.dw_building[d]] >= 1
    if uni.policy.rules.area_cap and len(inst.area_ids):
        a = inst.dw_area[d]
        room = cap_left(uni, state)
        ok &= (a < 0) | (room[np.maximum(a, 0)] >= inst.persons[h] - 1e-9)
    return ok


def foresight_batch(uni: Universe, clock: Clock, b: int, hh: np.ndarray, dw: np.ndarray,
                    state: State, scenarios: list[Scenario], *, forced: np.ndarray,
                    time_limit_s: float = 60.0, mip_gap: float = 1e-6,
                    t: np.datetime64 | None = None) -> BatchDecision:
    """Decide a batch with the two-stage model over ``scenarios`` (equal weights).

    ``hh``/``dw`` are the waiting households and free dwellings (universe positions),
    ``forced`` the pairs placed in this batch whatever (approved placements).

    Parameters
    ----------
    uni, clock, b
        The year, its batches and this batch's number.
    hh, dw
        Waiting households and free dwellings (universe positions).
    state
        Placements of earlier batches.
    scenarios
        Sampled futures (:func:`sample_scenario`), weighed equally.
    forced
        Pair positions placed in this batch whatever (approved placements).
    time_limit_s, mip_gap
        Per solve; the first stage's pricing rounds stop once ``time_limit_s`` has passed
        (the LP then covers the pairs priced in so far).
    t
        Batch date (default: ``clock.date(b)``).

    Returns
    -------
    BatchDecision
        The chosen pairs, the potentials of the free dwellings and areas, and the expected
        households the scenarios give a free dwelling.
    """
    t0 = time.perf_counter()
    t_end = t0 + float(time_limit_s)
    inst = uni.inst
    t = clock.date(b) if t is None else t
    hh = np.sort(hh)
    dw = np.sort(dw)
    forced = np.asarray(forced, dtype=np.int64)
    K = max(len(scenarios), 1)
    pairs = current_pairs(uni, hh, dw)
    # a forced pair takes its household and dwelling out of the choice
    fh, fd = inst.pair_h[forced], inst.pair_d[forced]
    forced_set = np.isin(pairs, forced)
    clash = (np.isin(inst.pair_h[pairs], fh) | np.isin(inst.pair_d[pairs], fd)) & ~forced_set
    pairs = pairs[~clash]
    # the pairs that can be made now (every plan of the batch is made of these)
    pairs = pairs[_makeable(uni, state, pairs) | np.isin(pairs, forced)]
    value = uni.value(pairs, t, clock.end)
    is_forced = np.isin(pairs, forced)
    p_h, p_d = inst.pair_h[pairs], inst.pair_d[pairs]
    hpos = np.searchsorted(hh, p_h)
    dpos = np.searchsorted(dw, p_d)
    persons_x = inst.persons[p_h].astype(float)
    room = cap_left(uni, state)
    bleft = building_left(uni, state)
    A = len(inst.area_ids)
    use_caps = bool(uni.policy.rules.area_cap) and A > 0
    use_b = bool(uni.policy.rules.building_limit)
    ax = inst.dw_area[p_d]
    bx = inst.dw_building[p_d]
    parts = []
    n_y = 0
    horizon = b + max(math.ceil(LOOKAHEAD_DAYS / clock.cadence_days), 1)
    for sc in scenarios:
        near_h = sc.hh_batch <= horizon
        near_d = sc.dw_batch <= horizon
        sc = Scenario(sc.hh_src[near_h], sc.hh_batch[near_h], sc.dw_src[near_d],
                      sc.dw_batch[near_d], sc.dw_real[near_d])
        # households: waiting ones (from the next batch), then expected ones; dwellings alike
        hs = np.concatenate([hh, sc.hh_src])
        hb = np.concatenate([np.full(len(hh), b + 1), sc.hh_batch])
        ds = np.concatenate([dw, sc.dw_src])
        db = np.concatenate([np.full(len(dw), b + 1), sc.dw_batch])
        real = np.concatenate([np.ones(len(dw), bool), sc.dw_real])
        t_d = clock.start + (db * clock.cadence_days).astype("timedelta64[D]")
        ddate = np.where(real, np.maximum(inst.available[ds], t_d) if len(ds) else t_d, t_d)
        i, j, v = _scenario_pairs(uni, clock, b, hs, hb, ds, db, ddate, len(hh), len(dw))
        by = np.where(real[j], inst.dw_building[ds[j]], -1)
        blds = np.unique(np.concatenate([bx, by[by >= 0]])) if use_b else np.zeros(0, np.int64)
        parts.append((hs, hb, ds, real, i, j, v, by, blds))
        n_y += len(i)

    if n_y == 0:
        # no future within reach (the year's last batch, or nothing expected): the batch model
        # is the myopic MILP, solved over every pair that can be made now
        after = State(state.dwelling.copy(), state.movein.copy(), state.batch.copy())
        after.place(uni, forced, t, b)
        free = ~is_forced & (after.dwelling[p_h] < 0) & ~after.taken(inst.n_dwellings)[p_d]
        got, _ = _solve_pairs(uni, pairs[free], value[free], after,
                              time_limit_s=time_limit_s,
                              mip_gap=mip_gap)
        return BatchDecision(pairs=np.concatenate([forced, got]).astype(np.int64),
                             solve_s=time.perf_counter() - t0, dwellings=dw,
                             potential=np.zeros(len(dw)), area_potential=np.zeros(A),
                             uses=pd.DataFrame(columns=_USES_COLUMNS), n_columns=len(pairs),
                             whole_recourse=True)

    whole = n_y <= INTEGER_RECOURSE_MAX

    def build(sel: np.ndarray, integer: bool) -> tuple[_Model, np.ndarray, list[tuple]]:
        """Build the two-stage model with first-stage columns ``pairs[sel]``."""
        m = _Model()
        xc = m.cols(value[sel], is_forced[sel].astype(float), True)
        rows = []
        for hs, _hb, ds, _real, i, j, v, by, blds in parts:
            yc = m.cols(v / K, np.zeros(len(v)), integer)
            h_rows = m.rows(np.ones(len(hs)))
            d_rows = m.rows(np.ones(len(ds)))
            m.entries(h_rows[hpos[sel]], xc, 1.0)
            m.entries(d_rows[dpos[sel]], xc, 1.0)
            m.entries(h_rows[i], yc, 1.0)
            m.entries(d_rows[j], yc, 1.0)
            a_rows = b_rows = None
            if use_caps:
                a_rows = m.rows(room)
                ok = ax[sel] >= 0
                m.entries(a_rows[ax[sel][ok]], xc[ok], persons_x[sel][ok])
                ay = inst.dw_area[ds[j]]
                ok = ay >= 0
                m.entries(a_rows[ay[ok]], yc[ok], inst.persons[hs[i]][ok])
            if len(blds):
                b_rows = m.rows(bleft[blds])
                m.entries(b_rows[np.searchsorted(blds, bx[sel])], xc, 1.0)
                ok = by >= 0
                m.entries(b_rows[np.searchsorted(blds, by[ok])], yc[ok], 1.0)
            rows.append((yc, h_rows, d_rows, a_rows, b_rows, blds))
        return m, xc, rows

    def reduced(duals: np.ndarray, rows: list[tuple]) -> np.ndarray:
        """Reduced cost of every first-stage pair at the LP's row prices (``-dual``)."""
        rc = value.copy()
        for _yc, h_rows, d_rows, a_rows, b_rows, blds in rows:
            price = -duals
            rc -= price[h_rows[hpos]] + price[d_rows[dpos]]
            if a_rows is not None:
                rc -= np.where(ax >= 0, price[a_rows[np.maximum(ax, 0)]], 0.0) * persons_x
            if b_rows is not None:
                rc -= price[b_rows[np.searchsorted(blds, bx)]]
        return rc

    def priced_lp() -> tuple[np.ndarray, _Model, np.ndarray, list[tuple], np.ndarray,
                             np.ndarray]:
        """Solve the LP over every first-stage pair by pricing; return columns in, model, rows."""
        if len(pairs) > FIRST_STAGE_EXACT_MAX:
            inside = (_top(p_h, value, FIRST_STAGE_PER_HOUSEHOLD)
                      | _top(p_d, value, FIRST_STAGE_PER_DWELLING) | is_forced)
        else:
            inside = np.ones(len(pairs), dtype=bool)
        for _round in range(FIRST_STAGE_ROUNDS + 1):
            sel = np.flatnonzero(inside)
            m, xc, rows = build(sel, False)
            status, col, duals = m.solve(uni.policy,
                                         time_limit_s=time_limit_s,
                                         mip_gap=mip_gap, relax=True)
            if status != "Optimal" or len(col) != m.n_cols:
                msg = f"the foresight batch LP ended with status '{status}'"
                raise InfeasibleError([msg])
            if inside.all() or _round == FIRST_STAGE_ROUNDS or time.perf_counter() > t_end:
                break
            rc = reduced(duals, rows)
            new = (rc > 1e-7) & ~inside
            if not new.any():
                break
            idx = np.flatnonzero(new)
            inside[idx[_top(p_h[idx], rc[idx], FIRST_STAGE_ADD)]] = True
            logger.info("foresight LP: %s of %s first-stage pairs, %s more priced in",
                        f"{len(sel):,}", f"{len(pairs):,}", f"{len(idx):,}")
        return sel, m, xc, rows, col, duals

    t_mip = time.perf_counter()
    pot = np.zeros(len(dw))
    apot = np.zeros(A)
    bpot = np.zeros(len(bleft))

    def potentials(duals: np.ndarray, rows: list[tuple]) -> None:
        for _yc, _h_rows, d_rows, a_rows, b_rows, blds in rows:
            pot[:] += -duals[d_rows[:len(dw)]]
            if a_rows is not None:
                apot[:] += -duals[a_rows]
            if b_rows is not None:
                bpot[blds] += -duals[b_rows]

    if whole:
        # small: the two-stage MILP itself (first-stage columns from the priced LP when the
        # batch has many pairs), then the LP of the future given the batch
        if len(pairs) > FIRST_STAGE_EXACT_MAX:
            sel, *_lp = priced_lp()
            # the LP's columns: each household's best pairs and those the pricing brought in
            keep = np.zeros(len(pairs), dtype=bool)
            keep[sel] = True
        else:
            keep = np.ones(len(pairs), dtype=bool)
        sel = np.flatnonzero(keep)
        m, xc, rows = build(sel, True)
        status, col, _ = m.solve(uni.policy, time_limit_s=time_limit_s,
                                 mip_gap=mip_gap)
        if status not in ("Optimal", "Time limit reached") or len(col) != m.n_cols:
            msg = f"the foresight batch model ended with status '{status}'"
            raise InfeasibleError([msg])
        xval = col[xc] > 0.5
        chosen = pairs[sel][xval]
        col_y = col
        lo_all = np.zeros(m.n_cols)
        lo_all[xc] = xval
        hi_all = np.ones(m.n_cols)
        hi_all[xc] = xval
        st2, col2, duals = m.solve(uni.policy, time_limit_s=time_limit_s,
                                   mip_gap=mip_gap, relax=True, lo=lo_all, hi=hi_all)
        potentials(duals, rows)
        if st2 == "Optimal":
            col_y = col2
    else:
        # large: the LP of the two-stage model prices the free dwellings and the caps; the
        # batch is the best plan of the waiting households at the priced values, over every
        # pair that can be made now
        sel, m, xc, rows, col_y, duals = priced_lp()
        potentials(duals, rows)
        net = value - np.maximum(pot[dpos], 0.0)
        if use_caps:
            net -= np.where(ax >= 0, np.maximum(apot[np.maximum(ax, 0)], 0.0), 0.0) * persons_x
        if use_b:
            net -= np.maximum(bpot[bx], 0.0)
        after = State(state.dwelling.copy(), state.movein.copy(), state.batch.copy())
        after.place(uni, forced, t, b)
        free = ~is_forced & (after.dwelling[p_h] < 0) & ~after.taken(inst.n_dwellings)[p_d]
        ok = free & (net > 1e-9)
        logger.info("foresight batch %d: priced LP in %.2f s", b, time.perf_counter() - t_mip)
        got, _ = _solve_pairs(uni, pairs[ok], net[ok], after,
                              time_limit_s=time_limit_s,
                              mip_gap=mip_gap)
        chosen = np.concatenate([forced, got]).astype(np.int64)
    logger.info("foresight batch %d: %s columns (%s first-stage of %s), solved in %.2f s", b,
                f"{m.n_cols:,}", f"{len(xc):,}", f"{len(pairs):,}", time.perf_counter() - t_mip)
    rows_uses = []
    for k, (yc, *_rest) in enumerate(rows):
        hs, hb, _ds, _real, i, j, vk, _by, _blds = parts[k]
        yv = col_y[yc]
        use = (j < len(dw)) & (i >= len(hh)) & (yv > 1e-6)
        for ii, jj, w, val in zip(i[use], j[use], yv[use], vk[use], strict=True):
            rows_uses.append((k, int(dw[jj]), int(hs[ii]), int(hb[ii]), float(w), float(val)))
    uses = pd.DataFrame(rows_uses, columns=_USES_COLUMNS)
    return BatchDecision(pairs=chosen.astype(np.int64), solve_s=time.perf_counter() - t0,
                         dwellings=dw, potential=np.maximum(pot, 0.0),
                         area_potential=np.maximum(apot, 0.0), uses=uses, n_columns=m.n_cols,
                         whole_recourse=whole)


_USES_COLUMNS = ["scenario", "dwelling", "src", "batch", "weight", "value"]
