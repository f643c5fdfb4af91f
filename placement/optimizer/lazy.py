"""Very large rounds: eligible pairs priced group by group, never all listed.

See :func:`solve_lazy`.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np

from placement.config import Policy
from placement.optimizer import pricing as _pr
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
    group_prices,
    one_solve_at_a_time,
    spread_excess,
    stage_value,
    weighted_stage,
)
from placement.optimizer.instance import Instance
from placement.optimizer.pricing import _mip_pairs, _solve_mip
from placement.score import combine, pair_terms

logger = logging.getLogger(__name__)
# --- very large rounds: pairs generated group by group --------------------------------------

#: Rounds with more eligible pairs than this never materialise them all (see :func:`solve_lazy`).
LAZY_MIN_PAIRS = 5_000_000
#: Share of the time limit the LP pricing loop of :func:`solve_lazy` may use.
LAZY_PRICING_SHARE = 0.5
#: New pairs per household per LP round of :func:`solve_lazy`.
LAZY_ADD_PER_HOUSEHOLD = 8
#: Also start :func:`solve_lazy` from a greedy plan that takes the smallest households first.
LAZY_SMALL_FIRST = True
#: Start the LP pricing of :func:`solve_lazy` from the area-price bound of :func:`_area_dual`.
LAZY_AREA_DUAL = True
#: Stop the LP pricing of :func:`solve_lazy` once the LP over the generated pairs is within this
#: share of ``mip_gap`` of the bound over all pairs.
LAZY_STOP_GAP_SHARE = 0.5


@dataclass
class _Group:
    """Households that share their eligible dwellings ``elig``, split by score class."""

    elig: np.ndarray  # eligible dwelling positions (sorted)
    persons: int
    classes: list[tuple[int, np.ndarray]]  # (children class, households without anchor)
    anchors: np.ndarray  # households with an anchor place
    anchor_score: np.ndarray  # score of each anchor household for each dwelling of ``elig``


@dataclass
class LazyPairs:
    """All eligible pairs of a round, kept as groups instead of one long list.

    For a household without an anchor place the score of a pair depends on the dwelling and on
    which children the household has (0-5, 6-16) only, so one score vector per children class
    serves every household; anchor households get their own row.
    """

    groups: list[_Group]
    class_score: np.ndarray  # (4, n_dwellings): class = has_0_5 + 2 * has_6_16
    group_of: np.ndarray  # group position of each household
    rejected: np.ndarray  # sorted codes h * n_dwellings + d of rejected pairs
    n_pairs: int


def _score_of(inst: Instance, policy: Policy, h: np.ndarray, d: np.ndarray,
              ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    terms = pair_terms(h=h, d=d, has_0_5=inst.has_0_5, has_6_16=inst.has_6_16,
                       anchor_lat=inst.anchor_lat, anchor_lon=inst.anchor_lon,
                       dw_lat=inst.dw_lat, dw_lon=inst.dw_lon, dterms=inst.dterms,
                       scoring=policy.scoring)
    return terms, combine(terms, policy)


def lazy_pairs(inst: Instance, policy: Policy, groups: list[tuple[np.ndarray, np.ndarray]],
               rejected: list[tuple[int, int]]) -> LazyPairs:
    """Prepare group-wise pricing for the groups of :func:`eligibility_groups`."""
    D = inst.n_dwellings
    cls = inst.has_0_5.astype(int) + 2 * inst.has_6_16.astype(int)
    anchored = ~(np.isnan(inst.anchor_lat) | np.isnan(inst.anchor_lon))
    class_score = np.zeros((4, D))
    for k in range(4):
        sub = Instance(**{**inst.__dict__, "has_0_5": np.array([bool(k & 1)]),
                          "has_6_16": np.array([bool(k & 2)]),
                          "anchor_lat": np.array([np.nan]), "anchor_lon": np.array([np.nan])})
        class_score[k] = _score_of(sub, policy, np.zeros(D, dtype=np.int64), np.arange(D))[1]
    out: list[_Group] = []
    group_of = np.zeros(inst.n_households, dtype=np.int64)
    for g, (members, idx) in enumerate(groups):
        group_of[members] = g
        anc = members[anchored[members]]
        plain = members[~anchored[members]]
        classes = [(k, plain[cls[plain] == k]) for k in range(4) if (cls[plain] == k).any()]
        if len(anc) and len(idx):
            sc = _score_of(inst, policy, np.repeat(anc, len(idx)), np.tile(idx, len(anc)))[1]
            sc = sc.reshape(len(anc), len(idx))
        else:
            sc = np.zeros((len(anc), len(idx)))
        out.append(_Group(elig=idx.astype(np.int64), persons=int(inst.persons[members[0]]),
                          classes=classes, anchors=anc, anchor_score=sc))
    nd = max(D, 1)
    rej = np.unique(np.array([h * nd + d for h, d in rejected], dtype=np.int64))
    return LazyPairs(groups=out, class_score=class_score, group_of=group_of, rejected=rej,
                     n_pairs=int(inst.n_eligible.sum()))


def _is_eligible(lz: LazyPairs, h: np.ndarray, d: np.ndarray) -> np.ndarray:
    ok = np.zeros(len(h), dtype=bool)
    for i, (hh, dd) in enumerate(zip(h, d, strict=True)):
        e = lz.groups[lz.group_of[hh]].elig
        j = np.searchsorted(e, dd)
        ok[i] = j < len(e) and e[j] == dd
    return ok


@dataclass
class _Scan:
    h: np.ndarray
    d: np.ndarray
    rc: np.ndarray
    neg_sum: float  # sum of min(rc, 0) over every eligible pair (inside ones too)
    count: int  # eligible pairs with rc <= thr (inside ones too)
    min_rc: float  # smallest reduced cost of any eligible pair
    #: per household: min(0, smallest cost less dwelling-side prices over its eligible pairs)
    hmin: np.ndarray = field(default_factory=lambda: np.zeros(0))
    too_many: bool = False


def _scan(inst: Instance, lz: LazyPairs, policy: Policy, rows: _Rows, pi: np.ndarray,
          thr: float, per_h: int | None, inside: np.ndarray, *, limit: int | None = None,
          stage: Stage | None = None) -> _Scan:
    """Price every eligible pair with the row prices ``pi`` (minimisation), group by group.

    Returns pairs outside ``inside`` (sorted codes) with reduced cost ``<= thr``: the
    ``per_h`` smallest per household, or all of them (``per_h`` None; none at all when there
    are more than ``limit``), and the sum of the negative reduced costs over all eligible pairs.
    """
    D = inst.n_dwellings
    stage = weighted_stage(inst, policy) if stage is None else stage
    # rc of pair (h, d) = c[d] - u_all[h] with c = -(dwelling-side prices) - sm * score: the
    # stage's value per household and the stage rows' prices go into u_all
    hv_g, sm_g = group_prices(rows, pi, inst.n_households)
    sm = stage.score_mult + sm_g
    hv = stage.hh_value + hv_g
    pi_h = pi[rows.h_row]
    u_all = pi_h + hv
    vd0 = pi[rows.d_row].copy()
    if len(rows.b_row):
        br = rows.b_row[inst.dw_building]
        vd0 += np.where(br >= 0, pi[np.maximum(br, 0)], 0.0)
    wa = np.zeros(D)
    if len(rows.a_row) and (rows.a_row >= 0).any():
        ar = np.where(inst.dw_area >= 0, rows.a_row[np.maximum(inst.dw_area, 0)], -1)
        wa = np.where(ar >= 0, pi[np.maximum(ar, 0)], 0.0)
    kin = np.bincount(inst.pair_h, minlength=inst.n_households)
    T = max(thr, 0.0)
    neg_sum, count, min_rc = 0.0, 0, math.inf
    hmin = np.zeros(inst.n_households)
    hs: list[np.ndarray] = []
    ds: list[np.ndarray] = []
    rcs: list[np.ndarray] = []
    for g in lz.groups:
        if not len(g.elig):
            continue
        vd = vd0[g.elig] + g.persons * wa[g.elig]
        base = -vd
        for k, members in g.classes:
            c = base - sm * lz.class_score[k, g.elig]
            u = u_all[members]
            hmin[members] = np.minimum(float(c.min()) - hv[members], 0.0)
            min_rc = min(min_rc, float(c.min() - u.max()))
            cidx = np.flatnonzero(c < u.max() + T) if math.isfinite(T) else np.arange(len(c))
            order = np.argsort(c[cidx], kind="stable")
            cidx = cidx[order]
            cs = c[cidx]
            cum = np.concatenate([[0.0], np.cumsum(cs)])
            n0 = np.searchsorted(cs, u, side="left")
            neg_sum += float((cum[n0] - n0 * u).sum())
            n = np.searchsorted(cs, u + thr, side="right") if math.isfinite(thr) else \
                np.full(len(u), len(cs))
            count += int(n.sum())
            m = n if per_h is None else np.minimum(n, per_h + kin[members])
            if per_h is None and limit is not None and count > limit + len(inst.pair_h):
                return _Scan(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0),
                             neg_sum, count, min_rc, hmin, too_many=True)
            tot = int(m.sum())
            if tot:
                first = np.repeat(np.cumsum(m) - m, m)
                pos = np.arange(tot) - first
                hs.append(np.repeat(members, m))
                ds.append(g.elig[cidx[pos]])
                rcs.append(cs[pos] - np.repeat(u, m))
        for i, h in enumerate(g.anchors):
            rc = base - sm * g.anchor_score[i] - u_all[h]
            min_rc = min(min_rc, float(rc.min()))
            hmin[h] = min(float(rc.min()) + pi_h[h], 0.0)
            neg_sum += float(np.minimum(rc, 0.0).sum())
            sel = np.flatnonzero(rc <= thr)
            count += len(sel)
            if per_h is not None and len(sel) > per_h + kin[h]:
                kk = per_h + int(kin[h])
                sel = sel[np.argpartition(rc[sel], kk - 1)[:kk]] if kk > 0 else sel[:0]
            hs.append(np.full(len(sel), h))
            ds.append(g.elig[sel])
            rcs.append(rc[sel])
    if not hs:
        return _Scan(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), neg_sum, count,
                     min_rc, hmin)
    h = np.concatenate(hs).astype(np.int64)
    d = np.concatenate(ds).astype(np.int64)
    rc = np.concatenate(rcs)
    code = h * max(D, 1) + d
    keep = ~np.isin(code, inside) & ~np.isin(code, lz.rejected)
    h, d, rc = h[keep], d[keep], rc[keep]
    if per_h is not None and len(h):
        order = np.lexsort((d, rc, h))
        sh = h[order]
        rank = np.arange(len(sh)) - np.searchsorted(sh, sh, side="left")
        order = order[rank < per_h]
        h, d, rc = h[order], d[order], rc[order]
    return _Scan(h, d, rc, neg_sum, count, min_rc, hmin)


class _Pool:
    """The pairs generated so far; ``inst.pair_*`` hold them in the order they came."""

    def __init__(self, inst: Instance, policy: Policy, lz: LazyPairs) -> None:
        self.inst, self.policy, self.lz = inst, policy, lz
        self.nd = max(inst.n_dwellings, 1)
        self.codes = np.sort(inst.pair_h * self.nd + inst.pair_d)
        self.bonus = np.zeros(len(inst.pair_h))
        self.elig = np.ones(len(inst.pair_h), dtype=bool)
        self.prev = np.zeros(len(inst.pair_h), dtype=bool)  # pairs of the previous plan

    def reorder(self, order: np.ndarray) -> None:
        """Follow a reordering of ``inst.pair_*``."""
        self.bonus, self.elig, self.prev = self.bonus[order], self.elig[order], self.prev[order]

    def add(self, h: np.ndarray, d: np.ndarray, *, locked: bool = False, bonus: float = 0.0,
            eligible: bool = True) -> np.ndarray:
        """Add pairs not in the pool yet; returns the positions of all the pairs asked for."""
        inst = self.inst
        code = h.astype(np.int64) * self.nd + d
        code, first = np.unique(code, return_index=True)
        new = ~np.isin(code, self.codes)
        if new.any():
            nh, ndw = code[new] // self.nd, code[new] % self.nd
            terms, score = _score_of(inst, self.policy, nh, ndw)
            inst.pair_h = np.concatenate([inst.pair_h, nh])
            inst.pair_d = np.concatenate([inst.pair_d, ndw])
            inst.pair_locked = np.concatenate([inst.pair_locked, np.full(len(nh), locked)])
            inst.pair_score = np.concatenate([inst.pair_score, score])
            inst.pair_terms = {t: np.concatenate([inst.pair_terms.get(t, np.zeros(0)), v])
                               for t, v in terms.items()}
            self.bonus = np.concatenate([self.bonus, np.full(len(nh), bonus)])
            el = eligible if isinstance(eligible, bool) else np.asarray(eligible)[first][new]
            self.elig = np.concatenate([self.elig, np.broadcast_to(el, len(nh))])
            self.prev = np.concatenate([self.prev, np.zeros(len(nh), dtype=bool)])
            self.codes = np.union1d(self.codes, code[new])
        allc = inst.pair_h * self.nd + inst.pair_d
        srt = np.argsort(allc, kind="stable")
        return srt[np.searchsorted(allc[srt], h.astype(np.int64) * self.nd + d)]


def lazy_greedy(inst: Instance, lz: LazyPairs, policy: Policy, order: np.ndarray, *,
                pick: str = "best_score", fixed: list[tuple[int, int]] | None = None,
                ) -> np.ndarray:
    """:func:`greedy_pass` over all eligible pairs without listing them: dwelling per household.

    Returns the dwelling position chosen for each household (-1: none).
    """
    r = policy.rules
    taken = np.zeros(inst.n_dwellings, dtype=bool)
    room = inst.area_cap.astype(float).copy()
    nb = int(inst.dw_building.max()) + 1 if inst.n_dwellings else 0
    bload = np.zeros(nb, dtype=np.int64)
    chosen = np.full(inst.n_households, -1)
    avail = inst.available.astype("int64")
    cls = inst.has_0_5.astype(int) + 2 * inst.has_6_16.astype(int)

    def put(hh: int, dd: int) -> None:
        chosen[hh] = dd
        taken[dd] = True
        if inst.dw_area[dd] >= 0:
            room[inst.dw_area[dd]] -= inst.persons[hh]
        bload[inst.dw_building[dd]] += 1

    for hh, dd in fixed or []:
        if chosen[hh] < 0 and not taken[dd]:
            put(hh, dd)
    rej = set(lz.rejected.tolist())
    nd = max(inst.n_dwellings, 1)
    for hh in order:
        if chosen[hh] >= 0:
            continue
        g = lz.groups[lz.group_of[hh]]
        e = g.elig
        if not len(e):
            continue
        ok = ~taken[e]
        a = inst.dw_area[e]
        if r.area_cap:
            ok &= (a < 0) | (room[np.maximum(a, 0)] >= inst.persons[hh] - 1e-9)
        if r.building_limit:
            ok &= bload[inst.dw_building[e]] < r.max_households_per_building
        if rej:
            ok &= ~np.isin(hh * nd + e, lz.rejected)
        if not ok.any():
            continue
        j = np.flatnonzero(ok)
        if pick == "first_free":
            best = j[np.lexsort((e[j], avail[e[j]]))[0]]
        else:
            pos = np.flatnonzero(g.anchors == hh)
            sc = g.anchor_score[pos[0]] if len(pos) else lz.class_score[cls[hh], e]
            best = j[np.lexsort((e[j], -sc[j]))[0]]
        put(int(hh), int(e[best]))
    return chosen


def _area_dual(inst: Instance, lz: LazyPairs, policy: Policy, rows: _Rows, pi: np.ndarray,
               cost: np.ndarray, bonus: np.ndarray, stage: Stage | None = None,
               ) -> np.ndarray | None:
    """Best household, area-load and spread prices for the dwelling and building prices of ``pi``.

    The Lagrangian of the module's model with the dwelling and building rows priced at ``pi``
    and every household choosing its best dwelling on its own is a small LP in the area prices
    ``w[a]`` (rows (5)), the spread prices ``s[a]`` (rows (6)) and one price ``t`` per household
    (its best reduced cost, at most 0), because a household's best dwelling in an area depends
    on the area only through ``persons[h] * w[a]``. Households that share their eligible dwellings
    and score class share their per-area minima, so that LP has one row per area and class::

        max  sum_a cap[a] z[a] + sum_a spread_t[a] s[a] + sum_k n[k] t[k]
        s.t. t[k] + persons[k] w[a] <= m[k, a]      (m: best cost less dwelling prices in a)
             z[a] <= w[a] - s[a],  z[a] <= 0,  -dev_cost <= s[a] <= 0,  t[k] <= 0

    Returns row prices (``pi`` with the household, load and spread prices replaced) under
    which no eligible pair has a negative reduced cost, so :func:`_lagrange_bound` over the
    generated pairs is a bound for all of them; None when the LP does not solve.
    """
    import highspy

    A = len(inst.area_ids)
    if A == 0 or not len(rows.a_row) or (rows.a_row < 0).any():
        return None
    stage = weighted_stage(inst, policy) if stage is None else stage
    sm = stage.score_mult
    vd0 = pi[rows.d_row].copy()
    if len(rows.b_row):
        br = rows.b_row[inst.dw_building]
        vd0 += np.where(br >= 0, pi[np.maximum(br, 0)], 0.0)
    dw_a = np.where(inst.dw_area >= 0, inst.dw_area, A)  # A: outside every area
    special = np.zeros(inst.n_households, dtype=bool)  # own pairs cost less than their class
    special[inst.pair_h[inst.pair_locked | (bonus > 0)]] = True
    keys_m: list[np.ndarray] = []
    keys_n: list[int] = []
    keys_p: list[int] = []
    keys_h: list[int] = []  # a household of each key
    key_of = np.full(inst.n_households, -1)

    def per_area(c: np.ndarray, a_sorted: np.ndarray, order: np.ndarray) -> np.ndarray:
        out = np.full(A + 1, np.inf)
        if len(c):
            st = np.flatnonzero(np.r_[True, a_sorted[1:] != a_sorted[:-1]])
            out[a_sorted[st]] = np.minimum.reduceat(c[order], st)
        return out

    for g in lz.groups:
        if not len(g.elig):
            continue
        ga = dw_a[g.elig]
        order = np.argsort(ga, kind="stable")
        a_sorted = ga[order]
        base = -vd0[g.elig]
        for k, members in g.classes:
            # the stage's value of a household is the same for every member of a group
            m = per_area(base - sm * lz.class_score[k, g.elig], a_sorted, order) \
                - stage.hh_value[members[0]]
            plain = members[~special[members]]
            for sub in ([plain] if len(plain) else []) + [np.array([h]) for h in
                                                          members[special[members]]]:
                key_of[sub] = len(keys_m)
                keys_m.append(m)
                keys_n.append(len(sub))
                keys_p.append(g.persons)
                keys_h.append(int(sub[0]))
        for i, h in enumerate(g.anchors):
            key_of[h] = len(keys_m)
            keys_m.append(per_area(base - sm * g.anchor_score[i], a_sorted, order)
                          - stage.hh_value[h])
            keys_n.append(1)
            keys_p.append(g.persons)
            keys_h.append(int(h))
    if not keys_m:
        return None
    m_all = np.vstack(keys_m)  # (K, A + 1)
    # households with approved or previous pairs: those pairs' own cost (bonus included)
    own = np.flatnonzero(special[inst.pair_h])
    for j in own:
        k = key_of[inst.pair_h[j]]
        if k < 0:  # no eligible dwelling at all: a row of its own
            key_of[inst.pair_h[j]] = k = len(m_all)
            m_all = np.vstack([m_all, np.full(A + 1, np.inf)])
            keys_n.append(1)
            keys_p.append(int(inst.persons[inst.pair_h[j]]))
            keys_h.append(int(inst.pair_h[j]))
        d = inst.pair_d[j]
        m_all[k, dw_a[d]] = min(m_all[k, dw_a[d]], cost[j] - vd0[d])
    K = len(m_all)
    n_k = np.asarray(keys_n, dtype=float)
    p_k = np.asarray(keys_p, dtype=float)
    use_spread = len(rows.spread_share) > 0
    cap = rows.extra_hi[:A]
    # the stage-1 row of later stages (placed >= z1): priced too, by rho >= 0 (column K + 3A)
    prow = next((r_ for r_, g_ in rows.g_rows if g_.score_coef == 0 and not g_.extra
                 and math.isfinite(g_.lo) and math.isinf(g_.hi)), None)
    v_k = (rows.g_rows[[r_ for r_, _ in rows.g_rows].index(prow)][1].hh_coef[
        np.asarray(keys_h, dtype=np.int64)] if prow is not None else np.zeros(K))
    # columns: t (K), w (A), s (A), z (A), rho (1, when priced)
    inf = highspy.kHighsInf
    n_rho = 1 if prow is not None else 0
    nc = K + 3 * A + n_rho
    c_obj = np.concatenate([-n_k, np.zeros(A),
                            -rows.rhi[rows.a_row + A] if use_spread else np.zeros(A),
                            -np.where(np.isinf(cap), 0.0, cap),
                            -rows.rlo[[prow]] if n_rho else np.zeros(0)])
    lo = np.concatenate([np.full(K, -inf), np.full(A, -inf),
                         np.full(A, -rows.dev_cost if use_spread else 0.0),
                         np.full(A, -inf), np.zeros(n_rho)])
    hi = np.concatenate([np.minimum(m_all[:, A], 0.0) if not n_rho else np.zeros(K),
                         np.zeros(A), np.zeros(A), np.zeros(A), np.full(n_rho, np.inf)])
    hi = np.where(np.isinf(hi), inf, hi)
    kk, aa = np.nonzero(np.isfinite(m_all[:, :A]))
    n1 = len(kk)
    # t[k] + p[k] w[a] <= m[k, a]
    R = [np.arange(n1), np.arange(n1)]
    C = [kk, K + aa]
    V = [np.ones(n1), p_k[kk]]
    rhi = [m_all[kk, aa]]
    rlo = [np.full(n1, -inf)]
    # z[b] - w[b] + s[b] - sum_a share[a] s[a] <= 0 (the reduced cost of L[b]; with an
    # unlimited area it must be >= 0 and z[b] = 0)
    share = (rows.spread_share if use_spread and rows.spread_total is None else np.zeros(A))
    ar = n1 + np.arange(A)
    rb, ca = np.meshgrid(np.arange(A), np.arange(A), indexing="ij")
    R += [ar, ar, n1 + rb.ravel()]
    C += [K + 2 * A + np.arange(A), K + np.arange(A), K + A + ca.ravel()]
    V += [np.ones(A), -np.ones(A), (rb == ca).astype(float).ravel() - share[ca.ravel()]]
    rhi.append(np.zeros(A))
    rlo.append(np.full(A, -inf))
    lo[K + 2 * A:K + 3 * A] = np.where(np.isinf(cap), 0.0, -inf)
    n_rows = n1 + A
    if n_rho:
        # rho in every (k, a) row; t[k] + v[k] rho <= m[k, outside] as rows
        R.append(np.arange(n1))
        C.append(np.full(n1, K + 3 * A))
        V.append(v_k[kk])
        ko = np.flatnonzero(np.isfinite(m_all[:, A]))
        ro = n_rows + np.arange(len(ko))
        R += [ro, ro]
        C += [ko, np.full(len(ko), K + 3 * A)]
        V += [np.ones(len(ko)), v_k[ko]]
        rhi.append(m_all[ko, A])
        rlo.append(np.full(len(ko), -inf))
        n_rows += len(ko)
    R_, C_, V_ = np.concatenate(R), np.concatenate(C), np.concatenate(V)
    o = np.lexsort((R_, C_))
    starts = np.searchsorted(C_[o], np.arange(nc + 1)).astype(np.int32)
    h = _highs(policy, time_limit_s=60.0, mip_gap=0.0)
    h.passModel(int(nc), int(n_rows), len(V_), int(highspy.MatrixFormat.kColwise),
                int(highspy.ObjSense.kMinimize), 0.0, c_obj.astype(float), lo.astype(float),
                hi.astype(float), np.concatenate(rlo).astype(float),
                np.concatenate(rhi).astype(float), starts, R_[o].astype(np.int32),
                V_[o].astype(float), np.zeros(nc, dtype=np.int32))
    h.run()
    if h.modelStatusToString(h.getModelStatus()) != "Optimal":
        return None
    col = np.asarray(h.getSolution().col_value)
    t, w, s = col[:K], col[K:K + A], col[K + A:K + 2 * A]
    rho = max(float(col[K + 3 * A]), 0.0) if n_rho else 0.0
    # back inside the bounds the bound needs (the LP solution may be off by its tolerances)
    s = np.clip(s, -rows.dev_cost, 0.0) if use_spread else np.zeros(A)
    w = np.where(np.isinf(cap), np.maximum(w, s - float(np.dot(share, s))), np.minimum(w, 0.0))
    # the exact minima for these area prices
    t = np.minimum(t, np.min(np.where(np.isfinite(m_all[:, :A]), m_all[:, :A] - p_k[:, None] *
                                      w[None, :], np.inf), axis=1) - v_k * rho)
    t = np.minimum(t, np.minimum(m_all[:, A] - v_k * rho, 0.0))
    out = pi.copy()
    out[rows.h_row] = np.where(key_of >= 0, t[np.maximum(key_of, 0)], 0.0)
    out[rows.a_row] = w
    if n_rho:
        out[prow] = rho
    if use_spread:
        out[rows.a_row + A] = s
    return out


def _plan_cost(inst: Instance, rows: _Rows, cost: np.ndarray, plan: np.ndarray) -> float:
    """Objective (minimisation, constant included) of ``plan``: the pair chosen per household."""
    p = plan[plan >= 0]
    out = rows.offset + float(cost[p].sum())
    if len(rows.spread_share):
        a = inst.dw_area[inst.pair_d[p]]
        ok = a >= 0
        load = np.bincount(a[ok], weights=inst.persons[inst.pair_h[p[ok]]],
                           minlength=len(inst.area_ids))
        out += rows.dev_cost * float(spread_excess(rows, load).sum())
    return out


@one_solve_at_a_time
def solve_lazy(
    inst: Instance,
    lz: LazyPairs,
    policy: Policy,
    *,
    locks: list[tuple[int, int]],
    previous: list[tuple[int, int]],
    time_limit_s: float,
    mip_gap: float,
    stage: Stage | None = None,
    pool: _Pool | None = None,
    start_dw: np.ndarray | None = None,
    bonus_value: float | None = None,
) -> tuple[Solution, np.ndarray]:
    """:func:`build_and_solve` for rounds whose eligible pairs are too many to list.

    The same three steps (LP pricing, MILP over promising pairs, proof by reduced costs), but
    the pairs are priced group by group (:func:`_scan`) and only those that enter the model are
    generated; ``inst.pair_*`` end up holding them (sorted by household, dwelling). The bound
    reported holds for all eligible pairs. Returns the solution and the bonus per pair.

    Before the LP: two greedy plans (by arrival; smallest households first, which places the
    most households when the area caps bind), the better one the MILP's start, and the area
    bound of :func:`_area_dual`. The LP pricing stops early once the LP over the generated pairs
    or the start plan is within ``LAZY_STOP_GAP_SHARE * mip_gap`` of the best bound.

    ``stage`` is the objective with the rows of earlier stages (default: the weighted one);
    ``pool`` the pairs generated by an earlier stage (from :func:`new_pool`; a new one when
    None); ``start_dw`` (dwelling per household) a plan of the earlier stage to start from;
    ``bonus_value`` the value of each previous pair (default ``solver.stability_bonus``).
    """
    t0 = time.perf_counter()
    stage = weighted_stage(inst, policy) if stage is None else stage
    bonus_v = float(policy.solver.stability_bonus if bonus_value is None else bonus_value)
    abs_gap = stage.abs_gap
    if pool is None:
        pool = new_pool(inst, lz, policy, locks=locks, previous=previous)
    pool.bonus = np.where(pool.prev, bonus_v, 0.0)
    rows = _rows(inst, policy, caps=True, buildings=True, stage=stage)
    order = np.lexsort((np.arange(inst.n_households), inst.arrival))
    # greedy plans: by arrival, smallest households first (when the area caps bind, the plan
    # that places the most households is the one that fills them with small ones) and largest
    # first (the most persons); or the plan of the earlier stage
    plans = []
    small_first = np.lexsort((np.arange(inst.n_households), inst.arrival, inst.persons))
    large_first = np.lexsort((np.arange(inst.n_households), inst.arrival, -inst.persons))
    orders = [order] + ([small_first, large_first] if LAZY_SMALL_FIRST else [])
    dws = ([start_dw] if start_dw is not None else
           [lazy_greedy(inst, lz, policy, o, fixed=list(locks)) for o in orders])
    for greedy_d in dws:
        gh = np.flatnonzero(greedy_d >= 0)
        plan = np.full(inst.n_households, -1)
        plan[gh] = pool.add(gh, greedy_d[gh])
        plans.append(plan)
    zero = np.zeros(rows.n_rows)
    first = _scan(inst, lz, policy, rows, zero, math.inf, _pr.START_PER_HOUSEHOLD, pool.codes,
                  stage=stage)
    pool.add(first.h, first.d)

    def cost_now() -> np.ndarray:
        return -stage_value(inst, stage, pool.bonus)

    cost = cost_now()
    plan_costs = [_plan_cost(inst, rows, cost, p_) for p_ in plans]
    start = plans[int(np.argmin(plan_costs))]
    start_cost = min(plan_costs)
    return _solve_lazy_steps(inst, lz, policy, pool, rows, stage, start, start_cost, t0,
                             time_limit_s=time_limit_s, mip_gap=mip_gap, abs_gap=abs_gap)


def new_pool(inst: Instance, lz: LazyPairs, policy: Policy, *, locks: list[tuple[int, int]],
             previous: list[tuple[int, int]]) -> _Pool:
    """Start the pairs of :func:`solve_lazy`: the approved pairs and the previous plan's."""
    inst.pair_h = np.zeros(0, dtype=np.int64)
    inst.pair_d = np.zeros(0, dtype=np.int64)
    inst.pair_locked = np.zeros(0, dtype=bool)
    inst.pair_score = np.zeros(0)
    inst.pair_terms = {}
    pool = _Pool(inst, policy, lz)
    nd = pool.nd
    if locks:
        lh = np.array([h for h, _ in locks], dtype=np.int64)
        ld = np.array([d for _, d in locks], dtype=np.int64)
        el = _is_eligible(lz, lh, ld)
        if (~el).any():
            inst.notes.append(f"{int((~el).sum())} approved placement(s) break a rule of the "
                              "current policy and are kept as approved")
        pool.add(lh, ld, locked=True, eligible=el)
    if previous:
        ph = np.array([h for h, _ in previous], dtype=np.int64)
        pd_ = np.array([d for _, d in previous], dtype=np.int64)
        ok = _is_eligible(lz, ph, pd_) & ~np.isin(ph * nd + pd_, lz.rejected)
        idx = pool.add(ph[ok], pd_[ok])
        pool.prev[idx] = True
    return pool


def _lazy_done(inst: Instance, lz: LazyPairs, pool: _Pool, rows: _Rows, start: np.ndarray,
               start_cost: float, bound: float, build_s: float, solve_s: float,
               ) -> tuple[Solution, np.ndarray]:
    """Return the start plan as the solution (proven against ``bound``), pairs sorted."""
    x = np.zeros(len(inst.pair_h), dtype=np.int8)
    x[start[start >= 0]] = 1
    order = np.lexsort((inst.pair_d, inst.pair_h))
    inst.pair_h, inst.pair_d = inst.pair_h[order], inst.pair_d[order]
    inst.pair_locked, inst.pair_score = inst.pair_locked[order], inst.pair_score[order]
    inst.pair_terms = {t: v[order] for t, v in inst.pair_terms.items()}
    inst.n_pairs_total = lz.n_pairs
    pool.reorder(order)
    objective, best = -start_cost, -bound
    gap = abs(start_cost - bound) / max(abs(start_cost), 1e-9)
    return Solution(status="Optimal", x=x[order], objective=objective, bound=best, gap=gap,
                    build_s=build_s, solve_s=solve_s, n_rows=rows.n_rows,
                    n_cols=int(x.sum()) + len(rows.extra_cost), n_nonzeros=0,
                    n_model_pairs=int(x.sum()), pricing_rounds=0, lp_bound=-bound,
                    pricing_s=0.0), pool.bonus


def _solve_lazy_steps(inst: Instance, lz: LazyPairs, policy: Policy, pool: _Pool, rows: _Rows,
                      stage: Stage, start: np.ndarray, start_cost: float, t0: float, *,
                      time_limit_s: float, mip_gap: float, abs_gap: float,
                      ) -> tuple[Solution, np.ndarray]:
    """Bound, LP pricing, MILP and proof of :func:`solve_lazy`."""

    def cost_now() -> np.ndarray:
        return -stage_value(inst, stage, pool.bonus)

    cost = cost_now()
    # a bound before any LP: the area relaxation with free dwellings (no dwelling prices)
    zero = np.zeros(rows.n_rows)
    best_bound, best_pi = -math.inf, zero
    pi_a = (_area_dual(inst, lz, policy, rows, zero, cost, pool.bonus, stage=stage)
            if LAZY_AREA_DUAL else None)
    if pi_a is not None:
        best_bound = _lagrange_bound(rows, pi_a, cost - _row_price(inst, rows, pi_a),
                                     inst.pair_locked.astype(float))
        best_pi = pi_a
        logger.info("lazy: area bound %.6f, start plan %.6f", best_bound, start_cost)
    build_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    deadline = t1 + float(time_limit_s)
    price_deadline = t1 + LAZY_PRICING_SHARE * float(time_limit_s)
    if start_cost - best_bound <= max(mip_gap * abs(start_cost), abs_gap) + 1e-9:
        # the start plan is already within the gap of a bound over all pairs
        logger.info("lazy: the start plan is within the gap of the area bound")
        return _lazy_done(inst, lz, pool, rows, start, start_cost, best_bound, build_s,
                          time.perf_counter() - t1)

    # step 1: LP pricing
    cost = cost_now()
    lower = inst.pair_locked.astype(float)
    h = _highs(policy, time_limit_s=max(price_deadline - time.perf_counter(), 1e-3),
               mip_gap=0.0)
    h.setOptionValue("presolve", "off")
    h.setOptionValue("solver", "simplex")
    n_lp = len(inst.pair_h)
    _pass(h, rows, inst, np.arange(n_lp), cost, lower, integer=False)
    col_pair = np.concatenate([np.arange(n_lp), np.full(len(rows.extra_cost), -1)])
    rounds = 0
    support = np.zeros(0, dtype=np.int64)
    while True:
        rounds += 1
        h.setOptionValue("time_limit", max(price_deadline - time.perf_counter(), 1e-3))
        h.run()
        if h.modelStatusToString(h.getModelStatus()) != "Optimal":
            break
        pi = _safe_duals(rows, np.asarray(h.getSolution().row_dual))
        cost = cost_now()
        rc = cost - _row_price(inst, rows, pi)
        sc = _scan(inst, lz, policy, rows, pi, -1e-9, LAZY_ADD_PER_HOUSEHOLD, pool.codes,
                   stage=stage)
        # pairs in the pool: their own term; the scan counted them without bonus, at most 0
        own = np.minimum(rc + pool.bonus, 0.0)[pool.elig].sum()
        bound = _lagrange_bound(rows, pi, rc, inst.pair_locked.astype(float)) + sc.neg_sum - own
        if bound > best_bound:
            best_bound, best_pi = bound, pi
        # the same dwelling, area and building prices with each household's own best choice
        # as its price: every eligible pair then has a reduced cost >= 0 (outside pairs add
        # nothing), a bound that holds long before the column generation has converged
        pi2 = pi.copy()
        pi2[rows.h_row] = sc.hmin
        rc2 = cost - _row_price(inst, rows, pi2)
        bound2 = _lagrange_bound(rows, pi2, rc2, inst.pair_locked.astype(float))
        if bound2 > best_bound:
            best_bound, best_pi = bound2, pi2
        lp_val = float(h.getInfo().objective_function_value)
        xlp = np.asarray(h.getSolution().col_value)
        support = np.sort(col_pair[(xlp > 1e-9) & (col_pair >= 0)])
        logger.info("lazy pricing round %s: %s pairs, LP %.6f, bounds %.6f / %.6f (best %.6f), "
                    "%s priced in", rounds, f"{len(inst.pair_h):,}", lp_val, bound, bound2,
                    best_bound, f"{len(sc.h):,}")
        if not len(sc.h) or time.perf_counter() > price_deadline:
            break
        # the LP over the pairs so far (or the start plan) is already close to the bound over
        # all pairs: the MILP can take over
        near = min(lp_val, start_cost)
        if near - best_bound <= LAZY_STOP_GAP_SHARE * max(mip_gap * abs(near), abs_gap):
            break
        n0 = len(inst.pair_h)
        pool.add(sc.h, sc.d)
        add = np.arange(n0, len(inst.pair_h))
        cost = cost_now()
        st, idx, val = _pair_entries(inst, rows, add)
        h.addCols(len(add), cost[add].astype(float), np.zeros(len(add)), np.ones(len(add)),
                  len(val), st[:-1].astype(np.int32), idx.astype(np.int32), val.astype(float))
        col_pair = np.concatenate([col_pair, add])
    pricing_s = time.perf_counter() - t1
    lp_min = best_bound
    # step 2: MILP over the promising pairs
    more = _scan(inst, lz, policy, rows, best_pi, math.inf, _pr.MIP_PER_HOUSEHOLD, pool.codes,
                 stage=stage)
    pool.add(more.h, more.d)
    cost = cost_now()
    rc_all = cost - _row_price(inst, rows, best_pi)
    inside = _mip_pairs(inst, rc_all)
    inside[support] = True
    inside |= inst.pair_locked
    inside[start[start >= 0]] = True
    incumbent = start if LAZY_SMALL_FIRST else None
    proved = False
    while True:
        sel = np.flatnonzero(inside)
        status, xs, obj, bound_m, nnz = _solve_mip(
            inst, policy, rows, sel, cost, incumbent,
            time_limit_s=deadline - time.perf_counter(), mip_gap=mip_gap, abs_gap=abs_gap)
        if math.isnan(obj) or status != "Optimal":
            break
        slack = obj - lp_min - max(mip_gap * abs(obj), abs_gap)
        in_pool = np.flatnonzero(~inside & (rc_all <= slack + 1e-9))
        sc = _scan(inst, lz, policy, rows, best_pi, slack + 1e-9, None, pool.codes,
                   limit=_pr.MAX_MODEL_PAIRS, stage=stage)
        n_more = len(in_pool) + (sc.count if sc.too_many else len(sc.h))
        if not n_more:
            proved = True
            break
        if sc.too_many or n_more + len(sel) > _pr.MAX_MODEL_PAIRS:
            logger.info("pricing: %s pairs could still improve the plan; stopping with the "
                        "gap to the LP bound", f"{n_more:,}")
            status = "Pair limit reached"
            break
        incumbent = np.full(inst.n_households, -1)
        incumbent[inst.pair_h[sel[xs > 0]]] = sel[xs > 0]
        n0 = len(inst.pair_h)
        pool.add(sc.h, sc.d)
        cost = cost_now()
        rc_all = cost - _row_price(inst, rows, best_pi)
        inside = np.concatenate([inside, np.zeros(len(inst.pair_h) - n0, dtype=bool)])
        inside[in_pool] = True
        inside[n0:] = True
    if proved:
        out_min = slack  # every pair outside has a larger reduced cost
    else:
        # cut short: any pair outside may help; the lowest reduced cost of all bounds them
        out_min = _scan(inst, lz, policy, rows, best_pi, -math.inf, 0, pool.codes,
                        stage=stage).min_rc
        if (~inside).any():
            out_min = min(out_min, float(rc_all[~inside].min()))
    reach = lp_min + max(out_min, 0.0)
    mip_b = bound_m if math.isfinite(bound_m) else -math.inf
    bound = max(lp_min, min(mip_b, reach))
    solve_s = time.perf_counter() - t1
    x = np.zeros(len(inst.pair_h), dtype=np.int8)
    x[sel] = xs
    # sort the pool by (household, dwelling) as the rest of the package expects
    order = np.lexsort((inst.pair_d, inst.pair_h))
    inst.pair_h, inst.pair_d = inst.pair_h[order], inst.pair_d[order]
    inst.pair_locked, inst.pair_score = inst.pair_locked[order], inst.pair_score[order]
    inst.pair_terms = {t: v[order] for t, v in inst.pair_terms.items()}
    inst.n_pairs_total = lz.n_pairs
    x = x[order]
    pool.reorder(order)
    bonus = pool.bonus
    if math.isnan(obj):
        objective = best = gap = math.nan
    else:
        objective, best = -obj, -bound
        gap = abs(obj - bound) / max(abs(obj), 1e-9)
    logger.info("lazy MILP over %s of %s pairs in %.2f s (%s LP rounds, %.2f s): %s",
                f"{len(sel):,}", f"{lz.n_pairs:,}", solve_s, rounds, pricing_s, status)
    return Solution(status=status, x=x, objective=objective, bound=best, gap=gap,
                    build_s=build_s, solve_s=solve_s, n_rows=rows.n_rows,
                    n_cols=len(sel) + len(rows.extra_cost), n_nonzeros=nnz,
                    n_model_pairs=len(sel), pricing_rounds=rounds, lp_bound=-lp_min,
                    pricing_s=pricing_s), bonus


