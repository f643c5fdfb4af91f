"""The placement model: eligible pairs, their scores, and the MILP solved with HiGHS.

Sets and symbols (the code uses the same names):

- ``H`` households ``h`` with ``persons[h]``; ``D`` dwellings ``d``; ``A`` local areas ``a`` with
  population share ``share[a] = population[a] / sum(population)`` and cap ``cap[a]`` (persons);
  ``B`` buildings ``b`` with limit ``k``.
- ``P`` the eligible pairs ``p = (h, d)``: every pair that passes the switched-on pair rules (size
  fit, rent ceiling, step-free, availability, permanent only, excluded designated areas), minus
  rejected pairs, plus approved (locked) pairs. Only these pairs get a variable.
- ``score[p]`` in [0, 1]: the weighted mean of the applicable pair terms (:mod:`placement.score`).
- ``omega = w_spread / sum(w)``: the share of the spread term in the objective.

Variables: ``x[p]`` binary (household ``h`` gets dwelling ``d``); ``T >= 0`` placed persons in
areas; ``dev[a] >= 0`` the persons by which area ``a`` exceeds its population-proportional share
beyond the tolerance ``tol`` (``scoring.spread_tolerance_persons``).

Maximise::

    sum_p x[p] * (M + (1 - omega) * score[p] + bonus[p])
      - omega * |H| / persons_total * sum_a dev[a]
      - M * |H|                                     (constant: M per unplaced household)

subject to::

    (1) sum_{d} x[h, d] <= 1                    for every household h (one dwelling at most)
    (2) sum_{h} x[h, d] <= 1                    for every dwelling d (one household at most)
    (3) sum_{p in a} persons[h] x[p] <= cap[a]  for every area a       (rules.area_cap)
    (4) sum_{p in b} x[p] <= k                  for every building b   (rules.building_limit)
    (5) T = sum_{p in any area} persons[h] x[p]
    (6) dev[a] >= sum_{p in a} persons[h] x[p] - share[a] T - tol    for every area a
    x[p] = 1 for approved (locked) pairs

``M`` is ``solver.unplaced_penalty`` (default 100): far larger than any household's score, so
the optimum places as many households as the rules allow. The persons above their share summed
over the areas equal the persons below it, so with ``tol = 0`` ``sum_a dev[a] / T`` is the share
of placed persons that would have to move for a distribution exactly proportional to population
(the total-variation distance). With the constant ``persons_total`` in place of ``T`` the term is
linear, and (6) with the positive cost on ``dev`` makes it exact at the optimum. The tolerance
(a few persons) absorbs the rounding that whole households force; without it the solver spends
most of its time proving that no integer plan matches fractional targets. ``bonus[p]`` is
``solver.stability_bonus`` for the pair proposed last time (ties go to the previous plan) and 0
otherwise. Per household the objective is thus ``(1 - omega) * mean score - omega * spread
deviation``: the weights mean what the policy says.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from placement._errors import DataError, Problem
from placement.config import Policy, area_shares
from placement.score import PAIR_TERMS, combine, dwelling_terms, pair_terms

logger = logging.getLogger(__name__)

#: Rules checked per (household, dwelling) pair, in the order the explanations apply them.
PAIR_RULES = ("size_fit", "rent_ceiling", "step_free", "availability", "permanent_only",
              "excluded_areas")

HOUSEHOLD_COLUMNS = ("household_id", "persons", "household_type", "children_0_5",
                     "children_6_16", "step_free_needed", "arrival_date")
DWELLING_COLUMNS = ("dwelling_id", "area_id", "designated_kinds", "rooms", "rent_dkk",
                    "available_from", "permanent", "step_free")
AREA_COLUMNS = ("area_id", "population")


@dataclass
class Instance:
    """A placement instance as arrays, sorted by id (households, dwellings, areas).

    Attributes are positional arrays; ``pair_h``/``pair_d`` index households/dwellings.
    """

    hh_ids: np.ndarray
    persons: np.ndarray
    household_type: np.ndarray
    has_0_5: np.ndarray
    has_6_16: np.ndarray
    step_free_needed: np.ndarray
    arrival: np.ndarray
    anchor_lat: np.ndarray
    anchor_lon: np.ndarray
    dw_ids: np.ndarray
    dw_area: np.ndarray  # area position, -1 when outside every area
    dw_building: np.ndarray  # building position (a dwelling without building is its own)
    rooms: np.ndarray
    rent: np.ndarray
    available: np.ndarray
    permanent: np.ndarray
    step_free: np.ndarray
    designated: np.ndarray
    dw_lat: np.ndarray
    dw_lon: np.ndarray
    area_ids: np.ndarray
    area_population: np.ndarray
    area_residents: np.ndarray
    area_cap: np.ndarray  # persons that may still be placed (may be negative: over the cap)
    dterms: pd.DataFrame
    pair_h: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    pair_d: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    pair_locked: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    pair_terms: dict[str, np.ndarray] = field(default_factory=dict)
    pair_score: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: per household: the first pair rule that leaves no dwelling ("" when some remain)
    blocking_rule: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    #: per household: eligible dwellings before rejections and the candidate limit
    n_eligible: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    notes: list[str] = field(default_factory=list)

    @property
    def n_households(self) -> int:
        """Number of households."""
        return len(self.hh_ids)

    @property
    def n_dwellings(self) -> int:
        """Number of dwellings."""
        return len(self.dw_ids)


# --- input checks -------------------------------------------------------------------------


def _missing_columns(df: pd.DataFrame, cols: tuple[str, ...], name: str) -> list[Problem]:
    present = set(df.columns) | ({df.index.name} if df.index.name else set())
    return [Problem(name, None, c, f"column '{c}' is missing; the optimiser needs it")
            for c in cols if c not in present]


def _ids(df: pd.DataFrame, col: str) -> pd.Series:
    s = df[col] if col in df.columns else df.index.to_series()
    return s.astype(str).reset_index(drop=True)


def _duplicates(ids: pd.Series, name: str, col: str) -> list[Problem]:
    dup = ids[ids.duplicated(keep="first")]
    return [Problem(name, int(i) + 2, col, f"duplicate id {v!r}; ids must be unique")
            for i, v in dup.head(20).items()]


def _bool(s: pd.Series) -> np.ndarray:
    return s.fillna(False).astype(bool).to_numpy()


def _dates(s: pd.Series) -> np.ndarray:
    return pd.to_datetime(s).to_numpy(dtype="datetime64[D]")


def build_instance(
    households: pd.DataFrame,
    dwellings: pd.DataFrame,
    areas: pd.DataFrame,
    access: pd.DataFrame,
    policy: Policy,
) -> Instance:
    """Check the inputs and turn them into sorted arrays with per-dwelling score terms.

    Raises
    ------
    DataError
        A needed column is missing, an id is duplicated or a dwelling has no accessibility row.
    """
    problems = (_missing_columns(households, HOUSEHOLD_COLUMNS, "households")
                + _missing_columns(dwellings, DWELLING_COLUMNS, "dwellings")
                + _missing_columns(areas, AREA_COLUMNS, "areas"))
    if problems:
        raise DataError(problems)
    hh = households.copy()
    hh["household_id"] = _ids(households, "household_id").to_numpy()
    dw = dwellings.copy()
    dw["dwelling_id"] = _ids(dwellings, "dwelling_id").to_numpy()
    problems = (_duplicates(hh["household_id"].reset_index(drop=True), "households",
                            "household_id")
                + _duplicates(dw["dwelling_id"].reset_index(drop=True), "dwellings",
                              "dwelling_id"))
    acc = access.copy()
    if "dwelling_id" in acc.columns:
        acc = acc.set_index("dwelling_id")
    acc.index = acc.index.astype(str)
    missing = sorted(set(dw["dwelling_id"]) - set(acc.index))
    problems += [Problem("accessibility", None, "dwelling_id",
                         f"no accessibility row for dwelling {m!r}; recompute the "
                         "accessibility table for this dataset") for m in missing[:20]]
    if problems:
        raise DataError(problems)

    hh = hh.sort_values("household_id", kind="stable").reset_index(drop=True)
    dw = dw.sort_values("dwelling_id", kind="stable").reset_index(drop=True)
    ar = pd.DataFrame({"area_id": _ids(areas, "area_id"),
                       "population": pd.to_numeric(areas["population"]).to_numpy()})
    ar["integration_residents"] = (
        pd.to_numeric(areas["integration_residents"]).fillna(0).to_numpy()
        if "integration_residents" in areas.columns else 0)
    ar = ar.sort_values("area_id", kind="stable").reset_index(drop=True)
    area_pos = pd.Series(np.arange(len(ar)), index=ar["area_id"])
    dw_area = dw["area_id"].astype("string").map(area_pos).fillna(-1).astype(int).to_numpy()

    if "building_id" in dw.columns:
        bid = dw["building_id"].astype("string")
        bid = bid.where(bid.notna(), "\0dwelling:" + dw["dwelling_id"])
    else:
        bid = "\0dwelling:" + dw["dwelling_id"]
    dw_building = pd.factorize(bid, sort=True)[0]

    r = policy.rules
    shares = area_shares(r, ar["area_id"].astype(str))
    cap = np.floor(shares * ar["population"].to_numpy(dtype=float) + 1e-9)
    area_cap = cap - ar["integration_residents"].to_numpy(dtype=float)

    if "lat" in dw.columns and "lon" in dw.columns:
        lat, lon = dw["lat"].to_numpy(dtype=float), dw["lon"].to_numpy(dtype=float)
    elif "geometry" in dw.columns:
        lat = dw.geometry.y.to_numpy(dtype=float)
        lon = dw.geometry.x.to_numpy(dtype=float)
    else:
        lat = lon = np.full(len(dw), np.nan)

    def hcol(name: str) -> np.ndarray:
        if name in hh.columns:
            return pd.to_numeric(hh[name], errors="coerce").to_numpy(dtype=float)
        return np.full(len(hh), np.nan)

    return Instance(
        hh_ids=hh["household_id"].to_numpy(dtype=object),
        persons=hh["persons"].to_numpy(dtype=np.int64),
        household_type=hh["household_type"].astype(str).to_numpy(dtype=object),
        has_0_5=hh["children_0_5"].fillna(0).to_numpy(dtype=float) > 0,
        has_6_16=hh["children_6_16"].fillna(0).to_numpy(dtype=float) > 0,
        step_free_needed=_bool(hh["step_free_needed"]),
        arrival=_dates(hh["arrival_date"]),
        anchor_lat=hcol("anchor_lat"),
        anchor_lon=hcol("anchor_lon"),
        dw_ids=dw["dwelling_id"].to_numpy(dtype=object),
        dw_area=dw_area,
        dw_building=dw_building,
        rooms=dw["rooms"].to_numpy(dtype=float),
        rent=dw["rent_dkk"].to_numpy(dtype=float),
        available=_dates(dw["available_from"]),
        permanent=_bool(dw["permanent"]),
        step_free=_bool(dw["step_free"]),
        designated=dw["designated_kinds"].fillna("").astype(str).to_numpy(dtype=object),
        dw_lat=lat,
        dw_lon=lon,
        area_ids=ar["area_id"].to_numpy(dtype=object),
        area_population=ar["population"].to_numpy(dtype=float),
        area_residents=ar["integration_residents"].to_numpy(dtype=float),
        area_cap=area_cap,
        dterms=dwelling_terms(acc.reindex(dw["dwelling_id"]), scoring=policy.scoring),
    )


# --- eligibility ----------------------------------------------------------------------------


def room_bounds(persons: np.ndarray, policy: Policy) -> tuple[np.ndarray, np.ndarray]:
    """Fewest and most rooms a household of ``persons`` may get under the size rule."""
    r = policy.rules
    lo = np.ceil(persons / r.max_persons_per_room - 1e-9)
    hi = (np.floor(persons / r.min_persons_per_room + 1e-9) if r.min_persons_per_room > 0
          else np.full(len(persons), np.inf))
    return lo, hi


def dwelling_rule_masks(inst: Instance, policy: Policy) -> dict[str, np.ndarray]:
    """Rules that depend on the dwelling only: permanent, excluded designated areas."""
    r = policy.rules
    n = inst.n_dwellings
    perm = inst.permanent.copy() if r.permanent_only else np.ones(n, dtype=bool)
    excl = set(r.excluded_area_kinds)
    if excl:
        ok = np.array([not (set(filter(None, str(k).split(","))) & excl)
                       for k in inst.designated], dtype=bool)
    else:
        ok = np.ones(n, dtype=bool)
    return {"permanent_only": perm, "excluded_areas": ok}


def eligible_pairs(inst: Instance, policy: Policy) -> None:
    """Fill ``pair_h``, ``pair_d``, ``blocking_rule`` and ``n_eligible`` of ``inst``.

    Households with the same size, type, step-free need and arrival date share one vectorised
    check over all dwellings.
    """
    r = policy.rules
    dmask = dwelling_rule_masks(inst, policy)
    lo, hi = room_bounds(inst.persons.astype(float), policy)
    ceilings = np.array([r.rent_ceiling_dkk.for_type(t) if t in ("single", "couple",
                         "single_parent", "family") else np.inf for t in inst.household_type])
    tol = np.timedelta64(int(r.availability_tolerance_days), "D")
    keys = pd.DataFrame({"p": inst.persons, "c": ceilings, "s": inst.step_free_needed,
                         "a": inst.arrival})
    groups = keys.groupby(["p", "c", "s", "a"], sort=True).indices
    hs: list[np.ndarray] = []
    ds: list[np.ndarray] = []
    blocking = np.full(inst.n_households, "", dtype=object)
    n_elig = np.zeros(inst.n_households, dtype=np.int64)
    for (_, ceil_, sf, arr), members in groups.items():
        h0 = members[0]
        steps = {
            "size_fit": ((inst.rooms >= lo[h0]) & (inst.rooms <= hi[h0])) if r.size_fit
            else None,
            "rent_ceiling": (inst.rent <= ceil_ + 1e-9) if r.rent_ceiling else None,
            "step_free": inst.step_free if (r.step_free and sf) else None,
            "availability": (inst.available <= np.datetime64(arr, "D") + tol)
            if r.availability else None,
            "permanent_only": dmask["permanent_only"] if r.permanent_only else None,
            "excluded_areas": dmask["excluded_areas"] if r.excluded_area_kinds else None,
        }
        ok = np.ones(inst.n_dwellings, dtype=bool)
        block = ""
        for rule in PAIR_RULES:
            m = steps[rule]
            if m is None:
                continue
            ok &= m
            if not block and not ok.any():
                block = rule
        idx = np.flatnonzero(ok)
        blocking[members] = block
        n_elig[members] = len(idx)
        if len(idx):
            hs.append(np.repeat(members, len(idx)))
            ds.append(np.tile(idx, len(members)))
    inst.pair_h = np.concatenate(hs) if hs else np.zeros(0, dtype=np.int64)
    inst.pair_d = np.concatenate(ds) if ds else np.zeros(0, dtype=np.int64)
    inst.blocking_rule = blocking
    inst.n_eligible = n_elig


def _pair_keys(pairs: Any, inst: Instance, what: str) -> list[tuple[int, int]]:
    """Turn ``(household_id, dwelling_id)`` pairs (frame or iterable) into positions."""
    if pairs is None:
        return []
    if isinstance(pairs, pd.DataFrame):
        rows = list(zip(pairs["household_id"].astype(str), pairs["dwelling_id"], strict=True))
    elif isinstance(pairs, dict):
        rows = [(str(k), v) for k, v in pairs.items()]
    else:
        rows = [(str(a), b) for a, b in pairs]
    hpos = pd.Series(np.arange(inst.n_households), index=inst.hh_ids)
    dpos = pd.Series(np.arange(inst.n_dwellings), index=inst.dw_ids)
    out: list[tuple[int, int]] = []
    problems: list[Problem] = []
    for i, (h, d) in enumerate(rows):
        if d is None or (not isinstance(d, str) and pd.isna(d)):
            continue
        d = str(d)
        if h not in hpos.index:
            problems.append(Problem(what, i + 2, "household_id", f"unknown household {h!r}"))
        elif d not in dpos.index:
            problems.append(Problem(what, i + 2, "dwelling_id", f"unknown dwelling {d!r}"))
        else:
            out.append((int(hpos[h]), int(dpos[d])))
    if problems:
        raise DataError(problems)
    return out


def finish_pairs(
    inst: Instance,
    policy: Policy,
    *,
    locks: list[tuple[int, int]],
    rejected: list[tuple[int, int]],
) -> None:
    """Apply rejections, locks and the candidate limit; score the pairs; sort by (h, d)."""
    nd = max(inst.n_dwellings, 1)
    code = inst.pair_h.astype(np.int64) * nd + inst.pair_d
    if rejected:
        rej = np.array([h * nd + d for h, d in rejected], dtype=np.int64)
        keep = ~np.isin(code, rej)
        code = code[keep]
    lock_codes = np.array(sorted({h * nd + d for h, d in locks}), dtype=np.int64)
    extra = np.setdiff1d(lock_codes, code)
    if len(extra):
        inst.notes.append(f"{len(extra)} approved placement(s) break a rule of the current "
                          "policy and are kept as approved")
    code = np.union1d(code, lock_codes)
    h = code // nd
    d = code % nd
    terms = pair_terms(h=h, d=d, has_0_5=inst.has_0_5, has_6_16=inst.has_6_16,
                       anchor_lat=inst.anchor_lat, anchor_lon=inst.anchor_lon,
                       dw_lat=inst.dw_lat, dw_lon=inst.dw_lon, dterms=inst.dterms,
                       scoring=policy.scoring)
    score = combine(terms, policy)
    locked = np.isin(code, lock_codes)
    k = policy.solver.candidate_limit
    if k > 0 and len(code):
        # the k best dwellings of each household and the k best households of each dwelling,
        # plus the dwellings that greedy passes in k different household orders give each
        # household: scores are mostly a property of the dwelling, so top-k lists alone give
        # every household the same few dwellings; the greedy passes guarantee each household
        # dwellings that can be had together. Ties go to the lower position (= lower id).
        keep = np.zeros(len(code), dtype=bool)
        for a_, b_ in ((h, d), (d, h)):
            order = np.lexsort((b_, -score, a_))
            sa = a_[order]
            rank = np.arange(len(sa)) - np.searchsorted(sa, sa, side="left")
            keep[order[rank < k]] = True
        rng = np.random.default_rng(policy.solver.seed)
        base = np.lexsort((np.arange(inst.n_households), inst.arrival))
        for i in range(k):
            hh_order = base if i == 0 else rng.permutation(inst.n_households)
            picked = greedy_pass(inst, policy, h, d, score, hh_order)
            keep[picked[picked >= 0]] = True
        keep |= locked
        code, h, d, score, locked = code[keep], h[keep], d[keep], score[keep], locked[keep]
        terms = {t: v[keep] for t, v in terms.items()}
    inst.pair_h, inst.pair_d, inst.pair_locked = h, d, locked
    inst.pair_terms, inst.pair_score = terms, score


def greedy_pass(
    inst: Instance,
    policy: Policy,
    pair_h: np.ndarray,
    pair_d: np.ndarray,
    score: np.ndarray,
    order: np.ndarray,
    *,
    pick: str = "best_score",
) -> np.ndarray:
    """Place households one by one in ``order`` under the area cap and building limit.

    ``pair_h`` must be sorted. ``pick`` is ``best_score`` (the best free suitable dwelling) or
    ``first_free`` (the one free earliest, ties by id). Returns the chosen pair index per
    household (-1: none).
    """
    r = policy.rules
    H = inst.n_households
    starts = np.searchsorted(pair_h, np.arange(H + 1))
    taken = np.zeros(inst.n_dwellings, dtype=bool)
    room = inst.area_cap.astype(float).copy()
    nb = int(inst.dw_building.max()) + 1 if inst.n_dwellings else 0
    bload = np.zeros(nb, dtype=np.int64)
    chosen = np.full(H, -1)
    avail = inst.available.astype("int64")
    for hh in order:
        p = np.arange(starts[hh], starts[hh + 1])
        if not len(p):
            continue
        dd = pair_d[p]
        ok = ~taken[dd]
        a = inst.dw_area[dd]
        if r.area_cap:
            ok &= (a < 0) | (room[np.maximum(a, 0)] >= inst.persons[hh] - 1e-9)
        if r.building_limit:
            ok &= bload[inst.dw_building[dd]] < r.max_households_per_building
        if not ok.any():
            continue
        p, dd = p[ok], dd[ok]
        j = (np.lexsort((dd, avail[dd])) if pick == "first_free"
             else np.lexsort((dd, -score[p])))[0]
        chosen[hh] = p[j]
        taken[dd[j]] = True
        if inst.dw_area[dd[j]] >= 0:
            room[inst.dw_area[dd[j]]] -= inst.persons[hh]
        bload[inst.dw_building[dd[j]]] += 1
    return chosen


# --- the MILP -------------------------------------------------------------------------------


@dataclass
class Solution:
    """Raw solver result."""

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


def spread_weight(policy: Policy) -> float:
    """Share ``omega`` of the spread term in the objective."""
    w = policy.weights
    return w.spread / w.total


def pair_objective(inst: Instance, policy: Policy, bonus: np.ndarray) -> np.ndarray:
    """Objective coefficient of each pair (maximise): ``M + (1 - omega) score + bonus``."""
    omega = spread_weight(policy)
    return policy.solver.unplaced_penalty + (1.0 - omega) * inst.pair_score + bonus


_BANNER_SHOWN = False


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


def build_and_solve(
    inst: Instance,
    policy: Policy,
    *,
    bonus: np.ndarray,
    time_limit_s: float,
    mip_gap: float,
    caps: bool = True,
    buildings: bool = True,
) -> Solution:
    """Build the MILP of the module docstring over the pairs of ``inst`` and solve it."""
    import highspy

    t0 = time.perf_counter()
    r = policy.rules
    n_p = len(inst.pair_h)
    H, D = inst.n_households, inst.n_dwellings
    omega = spread_weight(policy)
    use_spread = omega > 0 and len(inst.area_ids) > 1
    use_caps = caps and r.area_cap
    use_buildings = buildings and r.building_limit
    ph, pd_ = inst.pair_h, inst.pair_d
    parea = inst.dw_area[pd_]
    pers = inst.persons[ph].astype(float)
    A = len(inst.area_ids)

    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    row_lo: list[np.ndarray] = []
    row_hi: list[np.ndarray] = []
    n_rows = 0
    pidx = np.arange(n_p)

    def add(r_: np.ndarray, c_: np.ndarray, v_: np.ndarray, lo: np.ndarray,
            hi: np.ndarray) -> None:
        nonlocal n_rows
        rows.append(r_ + n_rows)
        cols.append(c_)
        vals.append(v_)
        row_lo.append(lo)
        row_hi.append(hi)
        n_rows += len(lo)

    # (1) households and (2) dwellings: at most one each
    add(ph, pidx, np.ones(n_p), np.full(H, -np.inf), np.ones(H))
    add(pd_, pidx, np.ones(n_p), np.full(D, -np.inf), np.ones(D))
    in_area = parea >= 0
    if use_caps and A:
        locked_load = np.bincount(parea[inst.pair_locked & in_area],
                                  weights=pers[inst.pair_locked & in_area], minlength=A)
        cap = np.maximum(inst.area_cap, locked_load)
        add(parea[in_area], pidx[in_area], pers[in_area], np.full(A, -np.inf), cap)
    if use_buildings:
        nb = int(inst.dw_building.max()) + 1 if D else 0
        pb = inst.dw_building[pd_]
        size = np.bincount(inst.dw_building, minlength=nb)
        big = size > r.max_households_per_building
        if big.any():
            bpos = np.cumsum(big) - 1
            sel = big[pb]
            locked_b = np.bincount(pb[inst.pair_locked], minlength=nb)[big]
            add(bpos[pb[sel]], pidx[sel], np.ones(sel.sum()), np.full(int(big.sum()), -np.inf),
                np.maximum(float(r.max_households_per_building), locked_b))
    n_cols = n_p
    cost = -pair_objective(inst, policy, bonus)
    lower = inst.pair_locked.astype(float)
    upper = np.ones(n_p)
    integrality = np.ones(n_p, dtype=np.int32)
    offset = policy.solver.unplaced_penalty * H
    if use_spread:
        share = inst.area_population / max(inst.area_population.sum(), 1.0)
        tol = float(policy.scoring.spread_tolerance_persons)
        persons_total = max(float(inst.persons.sum()), 1.0)
        dev_cols = n_cols + np.arange(A)
        n_cols += A
        # (5) sum_{p in a} persons x - dev[a] <= share[a] * persons_total + tol
        ia = pidx[in_area]
        ar_ = np.arange(A)
        add(np.concatenate([parea[in_area], ar_]), np.concatenate([ia, dev_cols]),
            np.concatenate([pers[in_area], -np.ones(A)]),
            np.full(A, -np.inf), share * persons_total + tol)
        dev_cost = omega * H / persons_total
        cost = np.concatenate([cost, np.full(A, dev_cost)])
        lower = np.concatenate([lower, np.zeros(A)])
        upper = np.concatenate([upper, np.full(A, np.inf)])
        integrality = np.concatenate([integrality, np.zeros(A, dtype=np.int32)])

    R = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    C = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    V = np.concatenate(vals) if vals else np.zeros(0)
    order = np.lexsort((R, C))
    R, C, V = R[order], C[order], V[order]
    start = np.searchsorted(C, np.arange(n_cols + 1)).astype(np.int32)
    rlo = np.concatenate(row_lo) if row_lo else np.zeros(0)
    rhi = np.concatenate(row_hi) if row_hi else np.zeros(0)

    h = _new_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("log_to_console", False)
    h.setOptionValue("random_seed", int(policy.solver.seed))
    h.setOptionValue("threads", int(policy.solver.threads))
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    h.setOptionValue("mip_abs_gap", 1e-9)
    inf = highspy.kHighsInf
    h.passModel(
        int(n_cols), int(n_rows), len(V), int(highspy.MatrixFormat.kColwise),
        int(highspy.ObjSense.kMinimize), float(offset),
        cost.astype(float), lower.astype(float), np.where(np.isinf(upper), inf, upper),
        np.where(np.isinf(rlo), -inf, rlo), np.where(np.isinf(rhi), inf, rhi),
        start, R.astype(np.int32), V.astype(float), integrality,
    )
    build_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    h.run()
    solve_s = time.perf_counter() - t1
    status = h.modelStatusToString(h.getModelStatus())
    info = h.getInfo()
    sol = h.getSolution()
    if n_cols and sol.value_valid:
        x = np.round(np.asarray(sol.col_value)[:n_p]).astype(np.int8)
        objective = -float(info.objective_function_value)
        bound = -float(info.mip_dual_bound) if n_p else objective
        gap = float(info.mip_gap) if n_p else 0.0
    else:
        x = np.zeros(n_p, dtype=np.int8)
        objective = bound = gap = math.nan
    if n_cols == 0:
        status, objective, bound, gap = "Optimal", -offset, -offset, 0.0
    logger.info("MILP %s rows x %s columns solved in %.2f s: %s", f"{n_rows:,}",
                f"{n_cols:,}", solve_s, status)
    return Solution(status=status, x=x, objective=objective, bound=bound, gap=gap,
                    build_s=build_s, solve_s=solve_s, n_rows=n_rows, n_cols=n_cols,
                    n_nonzeros=len(V))


__all__ = [
    "PAIR_RULES",
    "PAIR_TERMS",
    "Instance",
    "Solution",
    "build_and_solve",
    "build_instance",
    "dwelling_rule_masks",
    "eligible_pairs",
    "finish_pairs",
    "greedy_pass",
    "pair_objective",
    "room_bounds",
    "spread_weight",
]
