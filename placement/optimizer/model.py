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

Variables: ``x[p]`` binary (household ``h`` gets dwelling ``d``); ``L[a]`` integer, the persons
placed in area ``a``; ``dev[a] >= 0`` the persons by which area ``a`` exceeds its
population-proportional share beyond the tolerance ``tol`` (``scoring.spread_tolerance_persons``).

Maximise::

    sum_p x[p] * (M + (1 - omega) * score[p] + bonus[p])
      - omega * |H| / persons_total * sum_a dev[a]
      - M * |H|                                     (constant: M per unplaced household)

subject to::

    (1) sum_{d} x[h, d] <= 1                    for every household h (one dwelling at most)
    (2) sum_{h} x[h, d] <= 1                    for every dwelling d (one household at most)
    (3) 0 <= L[a] <= cap[a]                     for every area a       (rules.area_cap)
    (4) sum_{p in b} x[p] <= k                  for every building b   (rules.building_limit)
    (5) L[a] = sum_{p in a} persons[h] x[p]     for every area a
    (6) dev[a] >= L[a] - share[a] persons_total - tol                  for every area a
    x[p] = 1 for approved (locked) pairs

Rows (5) exist when the caps or the spread term are on; (6) only with the spread term. ``L`` is
integer anyway (whole persons); declaring it so lets HiGHS branch on area loads. An area
already over its cap (``cap[a] < 0``) gets the bound 0: it takes nobody new. Buildings with at
most ``k`` dwellings get no row (4).

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

Large models (more than :data:`PRICING_MIN_PAIRS` eligible pairs) are solved without building
the MILP over every pair: column generation on the LP relaxation (row duals price every eligible
pair; those with a positive reduced cost join, the most attractive few per household and per
dwelling each round), then a small MILP with the pairs the LP takes whole fixed at 1: when its
plan is within ``mip_gap`` of the LP bound (valid for every pair) it is taken as it is.
Otherwise the MILP over the pairs of smallest reduced cost, then a reduced-cost argument that
adds every pair that could still improve the plan.
See :func:`build_and_solve`; the bound reported always holds for all eligible pairs.
Rounds with more than :data:`LAZY_MIN_PAIRS` eligible pairs never list them: the same steps run
in :func:`solve_lazy`, which prices the pairs group by group (households sharing their eligible
dwellings and their score class) and generates only the pairs that enter the model. Its
first bound relaxes the dwelling rows and prices the area caps: a small LP over areas and
household classes (:func:`_area_dual`), tight when the caps bind (10,000 x 40,000: 0.6 %).
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
              "excluded_areas", "unknown_excluded")

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
    #: eligible pairs when only a part of them is listed in ``pair_h``/``pair_d`` (None: all)
    n_pairs_total: int | None = None

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

    dw_building = building_codes(dw, acc)

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


def building_codes(dw: pd.DataFrame, access: pd.DataFrame | None = None) -> np.ndarray:
    """Return the building position of each dwelling (rows of ``dw``, sorted by dwelling_id).

    ``building_id`` where given; else the OSM building the dwelling lies in
    (``osm_building`` of the accessibility table); else the dwelling is its own building.
    Never one building for all: a missing id is no id.
    """
    n = len(dw)
    bid = (dw["building_id"].astype("string").str.strip().replace("", pd.NA)
           if "building_id" in dw.columns else pd.Series(pd.NA, index=dw.index, dtype="string"))
    bid = bid.reset_index(drop=True)
    if access is not None and "osm_building" in access.columns:
        osm_b = (access["osm_building"].reindex(dw["dwelling_id"].astype(str)).astype("string")
                 .replace("", pd.NA).reset_index(drop=True))
        bid = bid.where(bid.notna(), "osm:" + osm_b)
    codes = np.asarray(pd.factorize(bid, sort=True)[0], dtype=np.int64).copy()
    missing = codes < 0
    start = int(codes.max()) + 1 if n and (~missing).any() else 0
    codes[missing] = start + np.arange(int(missing.sum()))
    return codes


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


def unknown_exclusion_masks(inst: Instance, policy: Policy) -> dict[str, np.ndarray]:
    """Dwellings with the data that ``unknown = "exclude"`` terms need (True: measured).

    Keys: ``all`` (transit and community, which apply to every household), ``daycare`` and
    ``school`` (family, for households with children 0–5 and 6–16); only for terms whose
    policy is ``exclude``.
    """
    u = policy.unknown
    out: dict[str, np.ndarray] = {}
    for term in ("transit", "community"):
        if u.mode(term) == "exclude":
            ok = ~np.isnan(inst.dterms[term].to_numpy(dtype=float))
            out["all"] = ok if "all" not in out else out["all"] & ok
    if u.mode("family") == "exclude":
        for part in ("daycare", "school"):
            out[part] = ~np.isnan(inst.dterms[part].to_numpy(dtype=float))
    return out


def eligibility_groups(inst: Instance, policy: Policy,
                       ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Group households by what decides their eligible dwellings; fill the per-household counts.

    Households with the same size, rent ceiling, step-free need and arrival date share one
    vectorised check over all dwellings. Fills ``blocking_rule`` and ``n_eligible`` of ``inst``
    (not the pairs). Returns ``(members, eligible dwelling positions)`` per group, sorted.
    """
    r = policy.rules
    dmask = dwelling_rule_masks(inst, policy)
    lo, hi = room_bounds(inst.persons.astype(float), policy)
    ceilings = np.array([r.rent_ceiling_dkk.for_type(t) if t in ("single", "couple",
                         "single_parent", "family") else np.inf for t in inst.household_type])
    tol = np.timedelta64(int(r.availability_tolerance_days), "D")
    keys = pd.DataFrame({"p": inst.persons, "c": ceilings, "s": inst.step_free_needed,
                         "a": inst.arrival})
    known = unknown_exclusion_masks(inst, policy)
    by = ["p", "c", "s", "a"]
    if "daycare" in known:  # family = exclude: households with children differ
        keys["k"] = inst.has_0_5.astype(int) + 2 * inst.has_6_16.astype(int)
        by.append("k")
    groups = keys.groupby(by, sort=True).indices
    out: list[tuple[np.ndarray, np.ndarray]] = []
    blocking = np.full(inst.n_households, "", dtype=object)
    n_elig = np.zeros(inst.n_households, dtype=np.int64)
    for key, members in groups.items():
        _, ceil_, sf, arr = key[:4]
        h0 = members[0]
        excl_mask = known.get("all")
        if "daycare" in known and inst.has_0_5[h0]:
            excl_mask = known["daycare"] if excl_mask is None else excl_mask & known["daycare"]
        if "school" in known and inst.has_6_16[h0]:
            excl_mask = known["school"] if excl_mask is None else excl_mask & known["school"]
        steps = {
            "size_fit": ((inst.rooms >= lo[h0]) & (inst.rooms <= hi[h0])) if r.size_fit
            else None,
            "rent_ceiling": (inst.rent <= ceil_ + 1e-9) if r.rent_ceiling else None,
            "step_free": inst.step_free if (r.step_free and sf) else None,
            "availability": (inst.available <= np.datetime64(arr, "D") + tol)
            if r.availability else None,
            "permanent_only": dmask["permanent_only"] if r.permanent_only else None,
            "excluded_areas": dmask["excluded_areas"] if r.excluded_area_kinds else None,
            "unknown_excluded": excl_mask,
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
        out.append((np.asarray(members, dtype=np.int64), idx))
    inst.blocking_rule = blocking
    inst.n_eligible = n_elig
    return out


def eligible_pairs(inst: Instance, policy: Policy, *,
                   groups: list[tuple[np.ndarray, np.ndarray]] | None = None) -> None:
    """Fill ``pair_h``, ``pair_d``, ``blocking_rule`` and ``n_eligible`` of ``inst``.

    Every eligible pair is listed; ``groups`` (from :func:`eligibility_groups` on the same
    instance) saves computing the groups again.
    """
    hs: list[np.ndarray] = []
    ds: list[np.ndarray] = []
    for members, idx in groups if groups is not None else eligibility_groups(inst, policy):
        if len(idx):
            hs.append(np.repeat(members, len(idx)))
            ds.append(np.tile(idx, len(members)))
    inst.pair_h = np.concatenate(hs) if hs else np.zeros(0, dtype=np.int64)
    inst.pair_d = np.concatenate(ds) if ds else np.zeros(0, dtype=np.int64)


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
    # sorted and unique (np.union1d/np.setdiff1d would hash 1.6 M codes: seconds, not 0.1 s)
    code = np.sort(code)
    code = code[np.concatenate([[True], code[1:] != code[:-1]])] if len(code) else code
    extra = lock_codes[~np.isin(lock_codes, code)]
    if len(extra):
        inst.notes.append(f"{len(extra)} approved placement(s) break a rule of the current "
                          "policy and are kept as approved")
        code = np.sort(np.concatenate([code, extra]))
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
    fixed: np.ndarray | None = None,
) -> np.ndarray:
    """Place households one by one in ``order`` under the area cap and building limit.

    ``pair_h`` must be sorted. ``pick`` is ``best_score`` (the best free suitable dwelling) or
    ``first_free`` (the one free earliest, ties by id). ``fixed`` are pair indices placed first
    whatever the rules say (approved placements). Returns the chosen pair index per household
    (-1: none).
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
    for p in () if fixed is None else fixed:
        hh, dd = int(pair_h[p]), int(pair_d[p])
        if chosen[hh] >= 0 or taken[dd]:
            continue
        chosen[hh] = p
        taken[dd] = True
        if inst.dw_area[dd] >= 0:
            room[inst.dw_area[dd]] -= inst.persons[hh]
        bload[inst.dw_building[dd]] += 1
    for hh in order:
        if chosen[hh] >= 0:
            continue
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
    extra = np.zeros(len(rows.extra_cost))
    if len(extra):
        pa = inst.dw_area[inst.pair_d[chosen]]
        ok = pa >= 0
        load = np.bincount(pa[ok], weights=inst.persons[inst.pair_h[chosen[ok]]], minlength=A)
        extra[:A] = load
        if len(rows.spread_t):
            extra[A:] = np.maximum(load - rows.spread_t, 0.0)
    s = highspy.HighsSolution()
    s.col_value = np.concatenate([x, extra]).tolist()
    s.value_valid = True
    h.setSolution(s)


def _solve_mip(inst: Instance, policy: Policy, rows: _Rows, sel: np.ndarray, cost: np.ndarray,
               start: np.ndarray | None, *, time_limit_s: float, mip_gap: float,
               lower: np.ndarray | None = None) -> tuple[str, np.ndarray, float, float, int]:
    """MILP over the pairs ``sel``: (status, x over sel, objective, bound (min), nonzeros).

    ``lower`` (per pair) fixes pairs at 1; by default only the approved ones.
    """
    h = _highs(policy, time_limit_s=time_limit_s, mip_gap=mip_gap)
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
        x = np.round(np.asarray(sol.col_value)[: len(sel)]).astype(np.int8)
        return status, x, float(info.objective_function_value), float(info.mip_dual_bound), nnz
    return status, np.zeros(len(sel), dtype=np.int8), math.nan, math.nan, nnz


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

    ``pricing`` forces (True) or skips (False) the pricing path.
    """
    t0 = time.perf_counter()
    n_p = len(inst.pair_h)
    rows = _rows(inst, policy, caps=caps, buildings=buildings)
    cost = -pair_objective(inst, policy, bonus)  # minimise
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
        status, xs, obj, bound, nnz = _solve_mip(inst, policy, rows, sel, cost, None,
                                                 time_limit_s=time_limit_s, mip_gap=mip_gap)
    else:
        start = _warm_start(inst, policy, bonus)
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
        incumbent = None  # the greedy plan as a start slowed HiGHS down in every test
        close = False
        fixed_plan = None
        if len(ones) and FIX_LP_ONES:
            # a plan close to the LP: the pairs at 1 in the LP fixed, a small MILP for the rest
            fix = lower.copy()
            fix[ones] = 1.0
            sel = np.flatnonzero(inside)
            status, xs, obj, bound, nnz = _solve_mip(
                inst, policy, rows, sel, cost, None, lower=fix,
                time_limit_s=max(deadline - time.perf_counter(), 1e-3), mip_gap=mip_gap)
            if not math.isnan(obj):
                # close enough: no further MILP; otherwise the MILP below starts from scratch
                # (with this plan as its start it settled on worse plans at 1e-4)
                close = obj - lp_min <= mip_gap * abs(obj) + 1e-9
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
                time_limit_s=deadline - time.perf_counter(), mip_gap=mip_gap)
            if math.isnan(obj) or status != "Optimal":
                break
            slack = obj - lp_min - mip_gap * abs(obj)
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
          ) -> _Scan:
    """Price every eligible pair with the row prices ``pi`` (minimisation), group by group.

    Returns pairs outside ``inside`` (sorted codes) with reduced cost ``<= thr``: the
    ``per_h`` smallest per household, or all of them (``per_h`` None; none at all when there
    are more than ``limit``), and the sum of the negative reduced costs over all eligible pairs.
    """
    D = inst.n_dwellings
    omega = spread_weight(policy)
    M = policy.solver.unplaced_penalty
    u_all = pi[rows.h_row]
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
        base = -M - vd
        for k, members in g.classes:
            c = base - (1.0 - omega) * lz.class_score[k, g.elig]
            u = u_all[members]
            hmin[members] = min(float(c.min()), 0.0)
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
            rc = base - (1.0 - omega) * g.anchor_score[i] - u_all[h]
            min_rc = min(min_rc, float(rc.min()))
            hmin[h] = min(float(rc.min()) + u_all[h], 0.0)
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
               cost: np.ndarray, bonus: np.ndarray) -> np.ndarray | None:
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
    omega = spread_weight(policy)
    M = policy.solver.unplaced_penalty
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
        base = -M - vd0[g.elig]
        for k, members in g.classes:
            m = per_area(base - (1.0 - omega) * lz.class_score[k, g.elig], a_sorted, order)
            plain = members[~special[members]]
            for sub in ([plain] if len(plain) else []) + [np.array([h]) for h in
                                                          members[special[members]]]:
                key_of[sub] = len(keys_m)
                keys_m.append(m)
                keys_n.append(len(sub))
                keys_p.append(g.persons)
        for i, h in enumerate(g.anchors):
            key_of[h] = len(keys_m)
            keys_m.append(per_area(base - (1.0 - omega) * g.anchor_score[i], a_sorted, order))
            keys_n.append(1)
            keys_p.append(g.persons)
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
        d = inst.pair_d[j]
        m_all[k, dw_a[d]] = min(m_all[k, dw_a[d]], cost[j] - vd0[d])
    K = len(m_all)
    n_k = np.asarray(keys_n, dtype=float)
    p_k = np.asarray(keys_p, dtype=float)
    use_spread = len(rows.spread_t) > 0
    cap = rows.extra_hi[:A]
    # columns: t (K), w (A), s (A), z (A)
    inf = highspy.kHighsInf
    nc = K + 3 * A
    c_obj = np.concatenate([-n_k, np.zeros(A),
                            -rows.spread_t if use_spread else np.zeros(A),
                            -np.where(np.isinf(cap), 0.0, cap)])
    lo = np.concatenate([np.full(K, -inf), np.full(A, -inf),
                         np.full(A, -rows.dev_cost if use_spread else 0.0),
                         np.full(A, -inf)])
    hi = np.concatenate([np.minimum(m_all[:, A], 0.0), np.zeros(A), np.zeros(A),
                         np.zeros(A)])
    hi = np.where(np.isinf(hi), inf, hi)
    kk, aa = np.nonzero(np.isfinite(m_all[:, :A]))
    n1 = len(kk)
    # t[k] + p[k] w[a] <= m[k, a]
    R = [np.arange(n1), np.arange(n1)]
    C = [kk, K + aa]
    V = [np.ones(n1), p_k[kk]]
    rhi = [m_all[kk, aa]]
    rlo = [np.full(n1, -inf)]
    # z[a] - w[a] + s[a] <= 0 (with an unlimited area: w[a] - s[a] >= 0, z[a] = 0)
    ar = n1 + np.arange(A)
    R += [ar, ar, ar]
    C += [K + 2 * A + np.arange(A), K + np.arange(A), K + A + np.arange(A)]
    V += [np.ones(A), -np.ones(A), np.ones(A)]
    rhi.append(np.zeros(A))
    rlo.append(np.full(A, -inf))
    lo[K + 2 * A:] = np.where(np.isinf(cap), 0.0, -inf)
    R_, C_, V_ = np.concatenate(R), np.concatenate(C), np.concatenate(V)
    o = np.lexsort((R_, C_))
    starts = np.searchsorted(C_[o], np.arange(nc + 1)).astype(np.int32)
    h = _highs(policy, time_limit_s=60.0, mip_gap=0.0)
    h.passModel(int(nc), int(n1 + A), len(V_), int(highspy.MatrixFormat.kColwise),
                int(highspy.ObjSense.kMinimize), 0.0, c_obj.astype(float), lo.astype(float),
                hi.astype(float), np.concatenate(rlo).astype(float),
                np.concatenate(rhi).astype(float), starts, R_[o].astype(np.int32),
                V_[o].astype(float), np.zeros(nc, dtype=np.int32))
    h.run()
    if h.modelStatusToString(h.getModelStatus()) != "Optimal":
        return None
    col = np.asarray(h.getSolution().col_value)
    t, w, s = col[:K], col[K:K + A], col[K + A:K + 2 * A]
    # back inside the bounds the bound needs (the LP solution may be off by its tolerances)
    s = np.clip(s, -rows.dev_cost, 0.0) if use_spread else np.zeros(A)
    w = np.where(np.isinf(cap), np.maximum(w, s), np.minimum(w, 0.0))
    # the exact minima for these area prices
    t = np.minimum(t, np.min(np.where(np.isfinite(m_all[:, :A]), m_all[:, :A] - p_k[:, None] *
                                      w[None, :], np.inf), axis=1))
    t = np.minimum(t, np.minimum(m_all[:, A], 0.0))
    out = pi.copy()
    out[rows.h_row] = np.where(key_of >= 0, t[np.maximum(key_of, 0)], 0.0)
    out[rows.a_row] = w
    if use_spread:
        out[rows.a_row + A] = s
    return out


def _plan_cost(inst: Instance, rows: _Rows, cost: np.ndarray, plan: np.ndarray) -> float:
    """Objective (minimisation, constant included) of ``plan``: the pair chosen per household."""
    p = plan[plan >= 0]
    out = rows.offset + float(cost[p].sum())
    if len(rows.spread_t):
        a = inst.dw_area[inst.pair_d[p]]
        ok = a >= 0
        load = np.bincount(a[ok], weights=inst.persons[inst.pair_h[p[ok]]],
                           minlength=len(inst.area_ids))
        out += rows.dev_cost * float(np.maximum(load - rows.spread_t, 0.0).sum())
    return out


def solve_lazy(
    inst: Instance,
    lz: LazyPairs,
    policy: Policy,
    *,
    locks: list[tuple[int, int]],
    previous: list[tuple[int, int]],
    time_limit_s: float,
    mip_gap: float,
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
    """
    t0 = time.perf_counter()
    bonus_v = float(policy.solver.stability_bonus)
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
    if previous and bonus_v > 0:
        ph = np.array([h for h, _ in previous], dtype=np.int64)
        pd_ = np.array([d for _, d in previous], dtype=np.int64)
        ok = _is_eligible(lz, ph, pd_) & ~np.isin(ph * nd + pd_, lz.rejected)
        idx = pool.add(ph[ok], pd_[ok], bonus=bonus_v)
        pool.bonus[idx] = bonus_v
    rows = _rows(inst, policy, caps=True, buildings=True)
    order = np.lexsort((np.arange(inst.n_households), inst.arrival))
    # two greedy plans: by arrival, and smallest households first (when the area caps bind,
    # the plan that places the most households is the one that fills them with small ones)
    plans = []
    small_first = np.lexsort((np.arange(inst.n_households), inst.arrival, inst.persons))
    for o in [order] + ([small_first] if LAZY_SMALL_FIRST else []):
        greedy_d = lazy_greedy(inst, lz, policy, o, fixed=list(locks))
        gh = np.flatnonzero(greedy_d >= 0)
        plan = np.full(inst.n_households, -1)
        plan[gh] = pool.add(gh, greedy_d[gh])
        plans.append(plan)
    zero = np.zeros(rows.n_rows)
    first = _scan(inst, lz, policy, rows, zero, math.inf, START_PER_HOUSEHOLD, pool.codes)
    pool.add(first.h, first.d)

    def cost_now() -> np.ndarray:
        return -pair_objective(inst, policy, pool.bonus)

    cost = cost_now()
    plan_costs = [_plan_cost(inst, rows, cost, p_) for p_ in plans]
    start = plans[int(np.argmin(plan_costs))]
    start_cost = min(plan_costs)
    # a bound before any LP: the area relaxation with free dwellings (no dwelling prices)
    zero = np.zeros(rows.n_rows)
    best_bound, best_pi = -math.inf, zero
    pi_a = _area_dual(inst, lz, policy, rows, zero, cost, pool.bonus) if LAZY_AREA_DUAL else None
    if pi_a is not None:
        best_bound = _lagrange_bound(rows, pi_a, cost - _row_price(inst, rows, pi_a),
                                     inst.pair_locked.astype(float))
        best_pi = pi_a
        logger.info("lazy: area bound %.6f, greedy plans %s", best_bound,
                    ", ".join(f"{c:.6f}" for c in plan_costs))
    build_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    deadline = t1 + float(time_limit_s)
    price_deadline = t1 + LAZY_PRICING_SHARE * float(time_limit_s)

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
        sc = _scan(inst, lz, policy, rows, pi, -1e-9, LAZY_ADD_PER_HOUSEHOLD, pool.codes)
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
        if near - best_bound <= LAZY_STOP_GAP_SHARE * mip_gap * abs(near):
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
    more = _scan(inst, lz, policy, rows, best_pi, math.inf, MIP_PER_HOUSEHOLD, pool.codes)
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
            time_limit_s=deadline - time.perf_counter(), mip_gap=mip_gap)
        if math.isnan(obj) or status != "Optimal":
            break
        slack = obj - lp_min - mip_gap * abs(obj)
        in_pool = np.flatnonzero(~inside & (rc_all <= slack + 1e-9))
        sc = _scan(inst, lz, policy, rows, best_pi, slack + 1e-9, None, pool.codes,
                   limit=MAX_MODEL_PAIRS)
        n_more = len(in_pool) + (sc.count if sc.too_many else len(sc.h))
        if not n_more:
            proved = True
            break
        if sc.too_many or n_more + len(sel) > MAX_MODEL_PAIRS:
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
        out_min = _scan(inst, lz, policy, rows, best_pi, -math.inf, 0, pool.codes).min_rc
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
    x, bonus = x[order], pool.bonus[order]
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


__all__ = [
    "LAZY_MIN_PAIRS",
    "PAIR_RULES",
    "PAIR_TERMS",
    "PRICING_MIN_PAIRS",
    "Instance",
    "LazyPairs",
    "Solution",
    "build_and_solve",
    "build_instance",
    "dwelling_rule_masks",
    "eligibility_groups",
    "eligible_pairs",
    "finish_pairs",
    "greedy_pass",
    "lazy_greedy",
    "lazy_pairs",
    "pair_objective",
    "room_bounds",
    "solve_lazy",
    "spread_weight",
]
