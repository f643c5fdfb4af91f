"""Placement instances: input checks, arrays, eligible pairs, their scores, greedy plans."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from placement._errors import DataError, Problem
from placement.config import Policy, area_shares
from placement.score import combine, dwelling_terms, pair_terms

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
    # not given: counted as 0 under the caps (propose() says so in the run's notes)
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


