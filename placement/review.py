"""The coordinator's work queue: one row per household, its card, real alternatives, what-ifs.

Everything the Review page shows about a household is computed here from the dataset, the
accessibility table, the policy and a stored run:

- :func:`review_base` checks every (household, dwelling) pair against the hard rules once and
  scores the eligible pairs exactly as the optimiser does (no candidate limit);
- :func:`work_queue` lists every household of a run, placed or not, with its status, the
  proposed dwelling and, for an unplaced household, its reason in words;
- :func:`alternatives` lists the best other suitable dwellings of a household (who holds
  them, how much better or worse they score), :func:`one_rule_away` the dwellings that fail
  only one rule (and which), :func:`check_assignment` the rules a chosen dwelling breaks;
- :func:`household_card` puts the household, the proposed dwelling, the score by term in words
  and the reason it was chosen together;
- :func:`run_changes` says what a re-optimised run kept, moved and newly placed;
- :func:`decision_preview` and :func:`conflict_words` are the sentences around a decision.

Numbers are rounded for people here (percent, kroner, m²) with :mod:`placement.i18n`'s
formatters; unknown values are said as "no data", never as 0.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from placement.config import Policy
from placement.dataset import Dataset
from placement.i18n import kroner, local_time, number, percent, t
from placement.optimizer.instance import (
    PAIR_RULES,
    Instance,
    build_instance,
    dwelling_rule_masks,
    eligible_pairs,
    finish_pairs,
    room_bounds,
    unknown_exclusion_masks,
)
from placement.score import PAIR_TERMS

__all__ = [
    "ReviewBase",
    "all_alternatives",
    "alternatives",
    "check_assignment",
    "conflict_words",
    "decision_preview",
    "effective",
    "household_card",
    "occupancy",
    "one_rule_away",
    "pair_score",
    "pair_term_values",
    "review_base",
    "rule_masks",
    "rule_text",
    "run_changes",
    "work_queue",
]

#: Statuses of the queue, in the order a coordinator works through them.
QUEUE_ORDER = ("unplaced", "proposed", "rejected", "approved", "locked")


@dataclass
class ReviewBase:
    """Every eligible pair of a dataset, scored under a policy (see :func:`review_base`).

    Attributes
    ----------
    inst : Instance
        The optimiser's instance with *all* eligible pairs (``pair_h``, ``pair_d``,
        ``pair_score``, ``pair_terms``), sorted by (household, dwelling).
    policy : Policy
        The policy the pairs were checked and scored under.
    dataset : Dataset
        The loaded dataset (households, dwellings, areas).
    """

    inst: Instance
    policy: Policy
    dataset: Dataset

    @functools.cached_property
    def area_names(self) -> dict[str, str]:
        """``area_id -> name`` of the dataset's local areas (computed once)."""
        areas = self.dataset.areas
        return dict(zip(areas["area_id"].astype(str), areas["name"].astype(str), strict=True))

    def household_pos(self, household_id: str) -> int:
        """Position of a household in the instance (KeyError when unknown)."""
        pos = np.searchsorted(self.inst.hh_ids.astype(str), str(household_id))
        if pos >= self.inst.n_households or str(self.inst.hh_ids[pos]) != str(household_id):
            raise KeyError(household_id)
        return int(pos)

    def dwelling_pos(self, dwelling_id: str) -> int:
        """Position of a dwelling in the instance (KeyError when unknown)."""
        pos = np.searchsorted(self.inst.dw_ids.astype(str), str(dwelling_id))
        if pos >= self.inst.n_dwellings or str(self.inst.dw_ids[pos]) != str(dwelling_id):
            raise KeyError(dwelling_id)
        return int(pos)

    def pairs_of(self, household_id: str) -> slice:
        """Slice of the pair arrays that belong to a household."""
        h = self.household_pos(household_id)
        lo = int(np.searchsorted(self.inst.pair_h, h, side="left"))
        hi = int(np.searchsorted(self.inst.pair_h, h, side="right"))
        return slice(lo, hi)


def review_base(dataset: Dataset, access: pd.DataFrame, policy: Policy) -> ReviewBase:
    """Check every pair against the hard rules and score the eligible ones.

    Parameters
    ----------
    dataset
        Loaded dataset.
    access
        Accessibility table of its dwellings.
    policy
        Policy of the run under review (``planning.policy_of_run``).

    Returns
    -------
    ReviewBase
    """
    pol = policy.with_overrides(solver={"candidate_limit": 0})
    inst = build_instance(dataset.households, dataset.dwellings, dataset.areas, access, pol)
    eligible_pairs(inst, pol)
    finish_pairs(inst, pol, locks=[], rejected=[])
    return ReviewBase(inst=inst, policy=pol, dataset=dataset)


# --- rules -------------------------------------------------------------------------------------


def rule_masks(base: ReviewBase, household_id: str) -> dict[str, np.ndarray]:
    """Per hard rule that is switched on: which dwellings pass it for this household.

    The dwellings passing every mask are exactly the household's eligible dwellings of
    :func:`review_base` (the optimiser's ``eligibility_groups``).
    """
    inst, pol = base.inst, base.policy
    r = pol.rules
    h = base.household_pos(household_id)
    lo, hi = room_bounds(inst.persons[[h]].astype(float), pol)
    htype = str(inst.household_type[h])
    ceiling = (r.rent_ceiling_dkk.for_type(htype)
               if htype in ("single", "couple", "single_parent", "family") else np.inf)
    tol = np.timedelta64(int(r.availability_tolerance_days), "D")
    dmask = dwelling_rule_masks(inst, pol)
    known = unknown_exclusion_masks(inst, pol)
    excl = known.get("all")
    for part, has in (("daycare", inst.has_0_5[h]), ("school", inst.has_6_16[h])):
        if part in known and has:
            excl = known[part] if excl is None else excl & known[part]
    steps: dict[str, np.ndarray | None] = {
        "size_fit": ((inst.rooms >= lo[0]) & (inst.rooms <= hi[0])) if r.size_fit else None,
        "rent_ceiling": (inst.rent <= ceiling + 1e-9) if r.rent_ceiling else None,
        "step_free": inst.step_free.copy() if (r.step_free and inst.step_free_needed[h])
        else None,
        "availability": (inst.available <= inst.arrival[h] + tol) if r.availability else None,
        "permanent_only": dmask["permanent_only"] if r.permanent_only else None,
        "excluded_areas": dmask["excluded_areas"] if r.excluded_area_kinds else None,
        "unknown_excluded": excl,
    }
    return {k: v for k in PAIR_RULES if (v := steps[k]) is not None}


def rule_text(base: ReviewBase, rule: str, household_id: str, language: str = "da") -> str:
    """Say what a hard rule asks of a dwelling for this household, in words."""
    inst, r = base.inst, base.policy.rules
    h = base.household_pos(household_id)
    if rule == "size_fit":
        lo, hi = room_bounds(inst.persons[[h]].astype(float), base.policy)
        top = (t("rule.rooms_or_more", language, lo=int(lo[0])) if np.isinf(hi[0])
               else t("rule.rooms_range", language, lo=int(lo[0]), hi=int(hi[0])))
        return t("rule.size_fit", language, rooms=top, persons=int(inst.persons[h]))
    if rule == "rent_ceiling":
        htype = str(inst.household_type[h])
        ceiling = (r.rent_ceiling_dkk.for_type(htype)
                   if htype in ("single", "couple", "single_parent", "family") else np.inf)
        return t("rule.rent_ceiling", language, ceiling=kroner(ceiling, language))
    if rule == "availability":
        last = inst.arrival[h] + np.timedelta64(int(r.availability_tolerance_days), "D")
        return t("rule.availability", language,
                 date=local_time(pd.Timestamp(last), language, date_only=True))
    return t(f"rule.{rule}", language)


def occupancy(base: ReviewBase, proposals: pd.DataFrame | None = None,
              held: Mapping[str, str] | None = None) -> np.ndarray:
    """Dwelling position each household of the instance occupies (-1: none).

    A household occupies its proposed dwelling (``proposals``: ``household_id``,
    ``dwelling_id``, optional ``status``; a rejected proposal occupies nothing) unless a
    decision holds another dwelling for it (``held``: ``dwelling_id -> household_id``).
    Households and dwellings outside the dataset are left out.
    """
    inst = base.inst
    hpos = pd.Series(np.arange(inst.n_households), index=inst.hh_ids.astype(str))
    dpos = pd.Series(np.arange(inst.n_dwellings), index=inst.dw_ids.astype(str))
    occ = np.full(inst.n_households, -1, dtype=np.int64)
    if proposals is not None and len(proposals):
        prop = proposals.dropna(subset=["dwelling_id"])
        if "status" in prop.columns:
            prop = prop[prop["status"].astype(str) != "rejected"]
        hh = prop["household_id"].astype(str)
        dw = prop["dwelling_id"].astype(str)
        ok = (hh.isin(hpos.index) & dw.isin(dpos.index)).to_numpy()
        occ[hpos[hh[ok]].to_numpy()] = dpos[dw[ok]].to_numpy()
    for dw_id, hh_id in (held or {}).items():
        if str(dw_id) in dpos.index and str(hh_id) in hpos.index:
            occ[hpos[str(hh_id)]] = dpos[str(dw_id)]
    return occ


def _loads(base: ReviewBase, occ: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Persons per area and households per building of the occupied dwellings."""
    inst = base.inst
    on = occ >= 0
    n_areas = len(inst.area_cap)
    nb = int(inst.dw_building.max()) + 1 if inst.n_dwellings else 0
    a = inst.dw_area[occ[on]]
    inside = a >= 0
    aload = np.bincount(a[inside], weights=inst.persons[on][inside].astype(float),
                        minlength=n_areas)
    bload = np.bincount(inst.dw_building[occ[on]], minlength=nb)
    return aload, bload


def _capacity_ok(base: ReviewBase, h: np.ndarray, d: np.ndarray, occ: np.ndarray,
                 aload: np.ndarray, bload: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per pair (h, d): area cap kept, building limit kept, others' persons, others' households.

    The household itself is not counted among the others (it would move, not add).
    """
    inst, r = base.inst, base.policy.rules
    own = occ[h]
    a = inst.dw_area[d]
    a0 = np.maximum(a, 0)
    persons = inst.persons[h].astype(float)
    if len(inst.area_cap):
        own_a = np.where(own >= 0, inst.dw_area[np.maximum(own, 0)], -1)
        others_p = aload[a0] - np.where((own_a == a) & (a >= 0), persons, 0.0)
        area_ok = (a < 0) | (others_p + persons <= inst.area_cap[a0] + 1e-9)
    else:
        others_p = np.zeros(len(d))
        area_ok = np.ones(len(d), dtype=bool)
    b = inst.dw_building[d]
    own_b = np.where(own >= 0, inst.dw_building[np.maximum(own, 0)], -1)
    others_b = bload[b] - ((own_b == b) & (own >= 0)).astype(np.int64)
    building_ok = others_b + 1 <= int(r.max_households_per_building)
    if not r.area_cap:
        area_ok = np.ones(len(d), dtype=bool)
    if not r.building_limit:
        building_ok = np.ones(len(d), dtype=bool)
    return area_ok, building_ok, others_p, others_b


def check_assignment(base: ReviewBase, household_id: str, dwelling_id: str,
                     language: str = "da", *, proposals: pd.DataFrame | None = None,
                     held: Mapping[str, str] | None = None) -> list[str]:
    """List the hard rules a dwelling breaks for a household, in words (empty: it may be chosen).

    Besides the rules on the pair itself, the area cap (persons of the area's integration
    residents plus those placed or held there by others, plus this household, at most the
    cap) and the building limit (households per building) are checked against what
    ``proposals`` and ``held`` already place (see :func:`occupancy`).

    Parameters
    ----------
    base
        From :func:`review_base`.
    household_id, dwelling_id
        The pair to check.
    language
        Language of the rule texts.
    proposals
        The run's proposals as decided (:func:`effective`); None: nobody else is placed.
    held
        ``dwelling_id -> household_id`` of dwellings held by decisions.

    Raises
    ------
    KeyError
        Unknown household or dwelling.
    """
    d = base.dwelling_pos(dwelling_id)
    h = base.household_pos(household_id)
    out = [rule_text(base, rule, household_id, language)
           for rule, mask in rule_masks(base, household_id).items() if not mask[d]]
    occ = occupancy(base, proposals, held)
    aload, bload = _loads(base, occ)
    area_ok, building_ok, others_p, others_b = _capacity_ok(
        base, np.array([h]), np.array([d]), occ, aload, bload)
    out += _capacity_words(base, h, d, bool(area_ok[0]), bool(building_ok[0]),
                           float(others_p[0]), int(others_b[0]), language)
    return out


def _capacity_words(base: ReviewBase, h: int, d: int, area_ok: bool, building_ok: bool,
                    others_p: float, others_b: int, language: str) -> list[str]:
    """Say the area cap and building limit a pair breaks (see :func:`_capacity_ok`)."""
    inst = base.inst
    out = []
    if not area_ok:
        a = int(inst.dw_area[d])
        area_id = str(inst.area_ids[a])
        names = _area_names(base)
        free = max(float(inst.area_cap[a] - others_p), 0.0)
        out.append(t("rule.area_cap", language, area=names.get(area_id, area_id),
                     free=number(free, language), persons=int(inst.persons[h])))
    if not building_ok:
        out.append(t("rule.building_limit", language,
                     limit=int(base.policy.rules.max_households_per_building), n=others_b))
    return out


def _area_names(base: ReviewBase) -> dict[str, str]:
    return base.area_names


def one_rule_away(base: ReviewBase, household_id: str, *, taken: Iterable[str] = (),
                  language: str = "da", limit: int = 5,
                  proposals: pd.DataFrame | None = None,
                  held: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Dwellings that fail exactly one hard rule for this household: what would place it.

    The rules are those of :func:`check_assignment`: the rules on the pair itself
    (:func:`rule_masks`) and, when switched on, the area cap and the building limit against
    what ``proposals`` and ``held`` already place. A dwelling in an area at its cap fails the
    cap rule; one in a full building fails the building limit.

    Parameters
    ----------
    base
        From :func:`review_base`.
    household_id
        The household (usually unplaced).
    taken
        Dwellings proposed or held for other households (``free`` is False for them).
    language
        Language of the rule texts.
    limit
        At most this many dwellings per rule text are listed (``n_dwellings`` counts them
        all).
    proposals
        The run's proposals as decided (:func:`effective`) for the area cap and the building
        limit; None: nobody else is placed.
    held
        ``dwelling_id -> household_id`` of dwellings held by decisions.

    Returns
    -------
    pandas.DataFrame
        One row per listed dwelling: ``rule`` (key: a pair rule, ``area_cap`` or
        ``building_limit``), ``rule_text`` (what the rule asks, exactly as
        :func:`check_assignment` says it for that dwelling), ``n_dwellings`` (dwellings failing
        only this rule with this text), ``dwelling_id``, ``free``; sorted by the rules with the
        most dwellings first, then free dwellings, then id.
    """
    inst = base.inst
    cols = ["rule", "rule_text", "n_dwellings", "dwelling_id", "free"]
    h = base.household_pos(household_id)
    masks = rule_masks(base, household_id)
    occ = occupancy(base, proposals, held)
    aload, bload = _loads(base, occ)
    every = np.arange(inst.n_dwellings)
    area_ok, building_ok, others_p, others_b = _capacity_ok(
        base, np.full(inst.n_dwellings, h), every, occ, aload, bload)
    r = base.policy.rules
    if r.area_cap:
        masks["area_cap"] = area_ok
    if r.building_limit:
        masks["building_limit"] = building_ok
    if not masks or not inst.n_dwellings:
        return pd.DataFrame(columns=cols)
    stack = np.vstack(list(masks.values()))
    fails = (~stack).sum(axis=0)
    taken_set = {str(x) for x in taken}
    rows = []
    for i, rule in enumerate(masks):
        only = np.flatnonzero((fails == 1) & ~stack[i])
        if not len(only):
            continue
        if rule in ("area_cap", "building_limit"):
            texts = [_capacity_words(base, h, int(d), rule != "area_cap",
                                     rule != "building_limit", float(others_p[d]),
                                     int(others_b[d]), language)[0] for d in only]
        else:
            texts = [rule_text(base, rule, household_id, language)] * len(only)
        by_text: dict[str, list[str]] = {}
        for d, text in zip(only, texts, strict=True):
            by_text.setdefault(text, []).append(str(inst.dw_ids[d]))
        for text, ids in by_text.items():
            free = [x not in taken_set for x in ids]
            order = sorted(range(len(ids)), key=lambda j: (not free[j], ids[j]))[:limit]
            rows += [(rule, text, len(ids), ids[j], free[j]) for j in order]
    out = pd.DataFrame(rows, columns=cols)
    if len(out):
        out = out.sort_values(["n_dwellings", "rule", "rule_text", "free", "dwelling_id"],
                              ascending=[False, True, True, False, True], kind="stable")
    return out.reset_index(drop=True)


# --- alternatives ------------------------------------------------------------------------------


def alternatives(base: ReviewBase, proposals: pd.DataFrame, household_id: str, *,
                 k: int | None = None, rejected: Iterable[tuple[str, str]] = (),
                 held: Mapping[str, str] | None = None) -> pd.DataFrame:
    """List the ``k`` best other dwellings that pass every hard rule for a household.

    Parameters
    ----------
    base
        From :func:`review_base`.
    proposals
        The run's ``household_id``, ``dwelling_id`` (who each dwelling is proposed for).
    household_id
        The household.
    k
        How many (default: the policy's ``solver.alternatives``).
    rejected
        ``(household_id, dwelling_id)`` pairs turned down: never offered again.
    held
        ``dwelling_id -> household_id`` of dwellings held by a decision (approved or locked);
        they are not offered.

    Only dwellings that also keep the area cap and the building limit (counting what the
    proposals and ``held`` already place there, see :func:`check_assignment`) are listed.

    Returns
    -------
    pandas.DataFrame
        ``rank`` (1 = best), ``dwelling_id``, ``score`` (0–1, NaN when nothing of it could be
        measured), ``score_diff`` (alternative minus the proposed dwelling's score; NaN for an
        unplaced household), ``taken_by`` (household the run proposes it for, or NA).
    """
    k = base.policy.solver.alternatives if k is None else int(k)
    cols = ["rank", "dwelling_id", "score", "score_diff", "taken_by"]
    sl = base.pairs_of(household_id)
    inst = base.inst
    d = inst.pair_d[sl]
    s = inst.pair_score[sl]
    prop = proposals.assign(household_id=proposals["household_id"].astype(str))
    by_dw = {str(dw): str(hh) for hh, dw in zip(prop["household_id"], prop["dwelling_id"],
                                                 strict=True) if dw is not None and pd.notna(dw)}
    mine = prop.loc[prop["household_id"] == str(household_id), "dwelling_id"]
    current = str(mine.iloc[0]) if len(mine) and pd.notna(mine.iloc[0]) else None
    no = {str(dw) for hh, dw in rejected if str(hh) == str(household_id)}
    held_by = {str(a): str(b) for a, b in (held or {}).items()}
    ids = inst.dw_ids[d].astype(str)
    keep = np.array([x != current and x not in no and held_by.get(x, str(household_id))
                     == str(household_id) for x in ids], dtype=bool)
    occ = occupancy(base, proposals, held_by)
    aload, bload = _loads(base, occ)
    area_ok, building_ok, _, _ = _capacity_ok(
        base, np.full(len(d), base.household_pos(household_id)), d, occ, aload, bload)
    keep &= area_ok & building_ok
    d, s, ids = d[keep], s[keep], ids[keep]
    order = np.lexsort((d, -np.nan_to_num(s, nan=-np.inf)))[:k]
    cur_score = np.nan
    if current is not None:
        try:
            cd = base.dwelling_pos(current)
            hit = np.flatnonzero(inst.pair_d[sl] == cd)
            cur_score = float(inst.pair_score[sl][hit[0]]) if len(hit) else np.nan
        except KeyError:
            pass
    out = pd.DataFrame({
        "rank": np.arange(1, len(order) + 1, dtype=np.int64),
        "dwelling_id": ids[order],
        "score": s[order].astype(float),
        "score_diff": s[order].astype(float) - cur_score,
        "taken_by": pd.array([by_dw.get(x, pd.NA) for x in ids[order]], dtype="string"),
    }, columns=cols)
    return out


def all_alternatives(base: ReviewBase, proposals: pd.DataFrame, *, k: int | None = None,
                     rejected: Iterable[tuple[str, str]] = (),
                     held: Mapping[str, str] | None = None) -> pd.DataFrame:
    """:func:`alternatives` of every household of ``proposals``, with ``household_id``.

    Computed for all households at once (the same rows as calling :func:`alternatives` per
    household, in household order).
    """
    k = base.policy.solver.alternatives if k is None else int(k)
    cols = ["household_id", "rank", "dwelling_id", "score", "score_diff", "taken_by"]
    inst = base.inst
    hh_ids = inst.hh_ids.astype(str)
    dw_ids = inst.dw_ids.astype(str)
    dpos = pd.Series(np.arange(inst.n_dwellings), index=dw_ids)
    hpos = pd.Series(np.arange(inst.n_households), index=hh_ids)
    prop = proposals.assign(household_id=proposals["household_id"].astype(str))
    prop = prop[prop["household_id"].isin(hpos.index)]
    current = np.full(inst.n_households, -1)
    placed = prop.dropna(subset=["dwelling_id"])
    placed = placed[placed["dwelling_id"].astype(str).isin(dpos.index)]
    current[hpos[placed["household_id"]].to_numpy()] = dpos[
        placed["dwelling_id"].astype(str)].to_numpy()
    holder = np.full(inst.n_dwellings, -1)
    holder[current[current >= 0]] = np.flatnonzero(current >= 0)
    held_by = np.full(inst.n_dwellings, -1)
    for dw, hh in (held or {}).items():
        if str(dw) in dpos.index and str(hh) in hpos.index:
            held_by[dpos[str(dw)]] = hpos[str(hh)]
    h, d, s = inst.pair_h, inst.pair_d, inst.pair_score
    ok = (d != current[h]) & ((held_by[d] < 0) | (held_by[d] == h))
    occ = occupancy(base, proposals, held)
    aload, bload = _loads(base, occ)
    area_ok, building_ok, _, _ = _capacity_ok(base, h, d, occ, aload, bload)
    ok &= area_ok & building_ok
    nd = max(inst.n_dwellings, 1)
    rej = [hpos[str(a)] * nd + dpos[str(b)] for a, b in rejected
           if str(a) in hpos.index and str(b) in dpos.index]
    if rej:
        ok &= ~np.isin(h.astype(np.int64) * nd + d, np.asarray(rej, dtype=np.int64))
    wanted = np.zeros(inst.n_households, dtype=bool)
    wanted[hpos[prop["household_id"]].to_numpy()] = True
    ok &= wanted[h]
    h, d, s = h[ok], d[ok], s[ok]
    order = np.lexsort((d, -np.nan_to_num(s, nan=-np.inf), h))
    h, d, s = h[order], d[order], s[order]
    rank = np.arange(len(h)) - np.searchsorted(h, h, side="left") + 1
    keep = rank <= k
    h, d, s, rank = h[keep], d[keep], s[keep], rank[keep]
    cur_score = np.full(inst.n_households, np.nan)
    has = current >= 0
    if has.any():
        code = inst.pair_h.astype(np.int64) * nd + inst.pair_d
        want = np.flatnonzero(has).astype(np.int64) * nd + current[has]
        idx = np.searchsorted(code, want)
        idx = np.clip(idx, 0, max(len(code) - 1, 0))
        hit = (code[idx] == want) if len(code) else np.zeros(len(want), dtype=bool)
        vals = np.where(hit, inst.pair_score[idx] if len(code) else np.nan, np.nan)
        cur_score[np.flatnonzero(has)] = vals
    taken = holder[d]
    return pd.DataFrame({
        "household_id": hh_ids[h],
        "rank": rank.astype(np.int64),
        "dwelling_id": dw_ids[d],
        "score": s.astype(float),
        "score_diff": s.astype(float) - cur_score[h],
        "taken_by": pd.array([hh_ids[j] if j >= 0 else pd.NA for j in taken], dtype="string"),
    }, columns=cols)


# --- the queue ---------------------------------------------------------------------------------


def effective(proposals: pd.DataFrame, status: pd.DataFrame,
              held: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return the run's proposals as decided: a held dwelling replaces the proposal.

    Parameters
    ----------
    proposals
        The run's proposals (``store.load_run``).
    status
        ``store.proposal_status`` of the run (decisions on the proposed dwellings).
    held
        ``store.active_allocations`` (``household_id``, ``dwelling_id``, ``action``): a
        household holding another dwelling than proposed (a manual assignment) gets that
        dwelling and the status of that decision.

    Returns
    -------
    pandas.DataFrame
        ``proposals`` with ``household_id`` as text, ``status`` and ``manual`` (True where the
        dwelling is a held one other than the proposal); the score columns of a manual row are
        those of the proposed dwelling until :func:`household_card` scores the held pair.
    """
    out = proposals.assign(household_id=proposals["household_id"].astype(str)).copy()
    st = status[["household_id", "status"]].assign(
        household_id=status["household_id"].astype(str))
    out = out.drop(columns=[c for c in ("status",) if c in out.columns]).merge(
        st, on="household_id", how="left")
    out["status"] = out["status"].fillna(pd.Series(
        np.where(out["dwelling_id"].isna(), "unplaced", "proposed"), index=out.index))
    out["manual"] = False
    if held is not None and len(held):
        h = held.assign(household_id=held["household_id"].astype(str),
                        dwelling_id=held["dwelling_id"].astype(str)).drop_duplicates(
            "household_id", keep="last").set_index("household_id")
        for i, hid in enumerate(out["household_id"]):
            if hid not in h.index:
                continue
            did = str(h.at[hid, "dwelling_id"])
            current = out.at[i, "dwelling_id"]
            if current is None or pd.isna(current) or str(current) != did:
                out.at[i, "dwelling_id"] = did
                out.at[i, "manual"] = True
                out.at[i, "status"] = "locked" if h.at[hid, "action"] == "lock" else "approved"
    return out



def work_queue(base: ReviewBase, proposals: pd.DataFrame, status: pd.DataFrame,
               language: str = "da", *, held: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every household of a run, in the order a coordinator works through them.

    Parameters
    ----------
    base
        From :func:`review_base`.
    proposals
        The run's proposals (``store.load_run``): ``household_id``, ``dwelling_id``, ``score``,
        ``unplaced_reason``.
    status
        ``store.proposal_status`` of the run.
    language
        Language of the status words.
    held
        ``store.active_allocations``: manual assignments replace the proposal (see
        :func:`effective`).

    Returns
    -------
    pandas.DataFrame
        ``household_id``, ``status`` (key), ``status_text``, ``persons``, ``dwelling_id``,
        ``address``, ``area_id``, ``area``, ``score`` (0–1 or NaN), ``score_text`` (percent or
        "no data"), ``unplaced_reason``; unplaced first, then proposed, rejected, approved,
        locked; within a status the lowest score first (the ones to look at), then by id.
    """
    ds = base.dataset
    q = effective(proposals, status, held)[["household_id", "dwelling_id", "score",
                                            "unplaced_reason", "status", "manual"]]
    for i in np.flatnonzero(q["manual"].to_numpy()):
        q.at[i, "score"] = pair_score(base, q.at[i, "household_id"], q.at[i, "dwelling_id"])
    hh = ds.households[["household_id", "persons"]].assign(
        household_id=ds.households["household_id"].astype(str))
    q = q.merge(hh, on="household_id", how="left")
    dw = ds.dwellings[["dwelling_id", "address", "area_id"]].assign(
        dwelling_id=ds.dwellings["dwelling_id"].astype(str),
        area_id=ds.dwellings["area_id"].astype("string"))
    q["dwelling_id"] = q["dwelling_id"].astype("string")
    q = q.merge(dw, on="dwelling_id", how="left")
    names = dict(zip(ds.areas["area_id"].astype(str), ds.areas["name"].astype(str),
                     strict=True))
    q["area"] = q["area_id"].map(lambda a: names.get(str(a), "") if pd.notna(a) else "")
    q["status_text"] = q["status"].map(lambda s: t(f"status.{s}", language))
    q["score_text"] = q["score"].map(lambda v: percent(v, language))
    rank = {s: i for i, s in enumerate(QUEUE_ORDER)}
    q["_o"] = q["status"].map(rank).fillna(len(rank))
    q = q.sort_values(["_o", "score", "household_id"], na_position="first", kind="stable")
    return q.drop(columns="_o").reset_index(drop=True)[
        ["household_id", "status", "status_text", "persons", "dwelling_id", "address",
         "area_id", "area", "score", "score_text", "unplaced_reason"]]


# --- the card ----------------------------------------------------------------------------------


def pair_score(base: ReviewBase, household_id: str, dwelling_id: str) -> float:
    """Score (0–1) of a pair that passes the hard rules; NaN for any other pair."""
    terms = pair_term_values(base, household_id, dwelling_id)
    return float(terms.get("score", np.nan))


def pair_term_values(base: ReviewBase, household_id: str, dwelling_id: str
                     ) -> dict[str, float]:
    """``score`` and the term values of an eligible pair (empty for any other pair)."""
    try:
        sl = base.pairs_of(household_id)
        d = base.dwelling_pos(dwelling_id)
    except KeyError:
        return {}
    hit = np.flatnonzero(base.inst.pair_d[sl] == d)
    if not len(hit):
        return {}
    j = sl.start + int(hit[0])
    out = {"score": float(base.inst.pair_score[j])}
    for term in PAIR_TERMS:
        if term in base.inst.pair_terms:
            out[term] = float(base.inst.pair_terms[term][j])
    return out


def _yes_no(value: Any, language: str) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return t("field.no_data", language)
    return t("word.yes" if bool(value) else "word.no", language)


def household_card(base: ReviewBase, proposals: pd.DataFrame, status: pd.DataFrame,
                   household_id: str, *, language: str = "da",
                   rejected: Iterable[tuple[str, str]] = (),
                   held: Mapping[str, str] | None = None,
                   allocations: pd.DataFrame | None = None) -> dict[str, Any]:
    """Everything the card of one household shows, in words, rounded for people.

    ``held`` maps dwellings held by decisions to their household (not offered as
    alternatives); ``allocations`` (``store.active_allocations``) makes a manual assignment
    the card's dwelling (see :func:`effective`).

    Returns
    -------
    dict
        ``household_id``, ``status`` (key), ``status_text``, ``household`` (list of
        ``(label, text)``), ``dwelling_id`` (None when unplaced), ``dwelling`` (list of
        ``(label, text)``), ``terms`` (list of ``(term label, value text, weight text)``),
        ``score_text``, ``reason`` (why this dwelling, or why none, in words),
        ``alternatives`` (:func:`alternatives` with ``address``, ``area``, ``rooms``,
        ``rent_text``, ``score_text``, ``diff_text``), ``one_rule_away``
        (:func:`one_rule_away`, for an unplaced household; else empty).
    """
    lang = language
    ds = base.dataset
    hid = str(household_id)
    hh = ds.households.assign(household_id=ds.households["household_id"].astype(str))
    row = hh.set_index("household_id").loc[hid]
    decided = effective(proposals, status, allocations)
    prop = decided.set_index("household_id").loc[hid].copy()
    stat = str(prop["status"])
    if bool(prop["manual"]):  # the held dwelling's own score and terms
        values = pair_term_values(base, hid, str(prop["dwelling_id"]))
        for key in ("score", *PAIR_TERMS):
            if key in prop.index:
                prop[key] = values.get(key, np.nan)

    kids = []
    for col, key in (("children_0_5", "card.children_0_5"), ("children_6_16",
                                                            "card.children_6_16"),
                     ("children_17_plus", "card.children_17_plus")):
        n = row.get(col)
        if n is not None and pd.notna(n) and int(n) > 0:
            kids.append(t(key, lang, n=int(n)))
    ceiling = np.nan
    r = base.policy.rules
    htype = str(row.get("household_type", ""))
    if r.rent_ceiling and htype in ("single", "couple", "single_parent", "family"):
        ceiling = r.rent_ceiling_dkk.for_type(htype)
    household = [
        (t("field.persons", lang), number(row.get("persons"), lang)),
        (t("card.children", lang), ", ".join(kids) if kids else t("field.none", lang)),
        (t("card.step_free_needed", lang), _yes_no(row.get("step_free_needed"), lang)),
        (t("card.arrival", lang), local_time(row.get("arrival_date"), lang, date_only=True)),
        (t("card.rent_ceiling", lang), kroner(ceiling, lang)),
    ]
    did = prop["dwelling_id"]
    did = None if did is None or pd.isna(did) else str(did)
    dwellings = ds.dwellings.assign(dwelling_id=ds.dwellings["dwelling_id"].astype(str)
                                    ).set_index("dwelling_id")
    names = dict(zip(ds.areas["area_id"].astype(str), ds.areas["name"].astype(str),
                     strict=True))
    dwelling: list[tuple[str, str]] = []
    if did is not None and did in dwellings.index:
        dwelling = _dwelling_facts(dwellings.loc[did], names, lang)

    terms: list[tuple[str, str, str]] = []
    unknown = set()
    nd = prop.get("no_data") if "no_data" in prop.index else None
    if nd is not None and pd.notna(nd):
        unknown = {s.strip() for s in str(nd).split(",") if s.strip()}
    w = base.policy.weights
    for term in (*PAIR_TERMS, "spread"):
        if term not in prop.index:
            continue
        v = prop[term]
        if v is not None and pd.notna(v):
            shown = percent(float(v), lang)
        else:
            shown = t("field.no_data" if term in unknown else "field.not_applicable", lang)
        terms.append((t(f"term.{term}", lang), shown,
                      number(float(getattr(w, term)), lang, digits=2)))

    alts = alternatives(base, decided, hid, rejected=rejected, held=held)
    alts = _describe_alternatives(alts, dwellings, names, lang)
    if did is None:
        reason_raw = prop.get("unplaced_reason")
        reason = (str(reason_raw) if reason_raw is not None and pd.notna(reason_raw)
                  and str(reason_raw) else t("card.unplaced_no_reason", lang))
        taken = {str(x) for x in proposals["dwelling_id"].dropna().astype(str)}
        taken |= {str(d) for d, h in (held or {}).items() if str(h) != hid}
        if allocations is not None and len(allocations):
            taken |= {str(d) for d, h in zip(allocations["dwelling_id"],
                                             allocations["household_id"], strict=True)
                      if str(h) != hid}
        holds = dict(held or {})
        if allocations is not None and len(allocations):
            holds.update({str(d): str(h) for d, h in zip(allocations["dwelling_id"],
                                                         allocations["household_id"],
                                                         strict=True)})
        away = one_rule_away(base, hid, taken=taken, language=lang, proposals=decided,
                             held=holds)
    else:
        reason = (t("card.why_manual", lang) if bool(prop["manual"])
                  else _why_this(base, hid, alts, stat, lang))
        away = pd.DataFrame(columns=["rule", "rule_text", "n_dwellings", "dwelling_id", "free"])
    return {
        "household_id": hid, "status": stat, "status_text": t(f"status.{stat}", lang),
        "household": household, "dwelling_id": did, "dwelling": dwelling, "terms": terms,
        "score_text": percent(prop.get("score"), lang), "reason": reason,
        "alternatives": alts, "one_rule_away": away,
    }


def _dwelling_facts(d: pd.Series, names: Mapping[str, str], lang: str) -> list[tuple[str, str]]:
    area = d.get("area_id")
    return [
        (t("field.address", lang), str(d.get("address") or t("field.no_data", lang))),
        (t("field.rooms", lang), number(d.get("rooms"), lang)),
        (t("card.floor_area", lang), number(d.get("floor_area_m2"), lang, unit="m²")),
        (t("card.rent", lang), kroner(d.get("rent_dkk"), lang, per_month=True)),
        (t("card.available_from", lang), local_time(d.get("available_from"), lang,
                                                    date_only=True)),
        (t("field.area", lang), names.get(str(area), t("field.no_data", lang))
         if area is not None and pd.notna(area) else t("card.outside_areas", lang)),
    ]


def _describe_alternatives(alts: pd.DataFrame, dwellings: pd.DataFrame,
                           names: Mapping[str, str], lang: str) -> pd.DataFrame:
    out = alts.copy()
    facts = dwellings.reindex(out["dwelling_id"].astype(str))
    out["address"] = facts["address"].fillna("").astype(str).to_numpy()
    out["area"] = [names.get(str(a), "") if pd.notna(a) else "" for a in facts["area_id"]]
    out["rooms"] = facts["rooms"].to_numpy()
    out["rent_text"] = [kroner(v, lang, per_month=True) for v in facts["rent_dkk"]]
    out["score_text"] = [percent(v, lang) for v in out["score"]]
    out["diff_text"] = [percent(v, lang, signed=True, points=True) if pd.notna(v) else ""
                        for v in out["score_diff"]]
    return out


def _why_this(base: ReviewBase, hid: str, alts: pd.DataFrame, status: str, lang: str) -> str:
    sl = base.pairs_of(hid)
    n = int(sl.stop - sl.start)
    if status in ("approved", "locked"):
        return t("card.why_decided", lang, n=n)
    better = alts[alts["score_diff"] > 1e-9] if len(alts) else alts
    if not len(better):
        return t("card.why_best", lang, n=n)
    taken = better.dropna(subset=["taken_by"])
    if len(taken) == len(better):
        first = taken.iloc[0]
        return t("card.why_taken", lang, n=n, dwelling=first["dwelling_id"],
                 household=first["taken_by"])
    return t("card.why_tradeoff", lang, n=n)


# --- changes and words around decisions --------------------------------------------------------


def run_changes(previous: pd.DataFrame, new: pd.DataFrame,
                language: str = "da") -> dict[str, Any]:
    """Count what a new run changed against the previous one.

    Returns
    -------
    dict
        ``kept`` (same dwelling), ``moved`` (another dwelling), ``newly_placed`` (placed now,
        unplaced before), ``now_unplaced`` (placed before, unplaced now), ``text`` (one line).
    """
    a = previous[["household_id", "dwelling_id"]].assign(
        household_id=previous["household_id"].astype(str)).set_index("household_id")
    b = new[["household_id", "dwelling_id"]].assign(
        household_id=new["household_id"].astype(str)).set_index("household_id")
    j = a.join(b, how="outer", lsuffix="_old", rsuffix="_new")
    old, now = j["dwelling_id_old"], j["dwelling_id_new"]
    was, is_ = old.notna(), now.notna()
    same = was & is_ & (old.astype("string") == now.astype("string")).fillna(False)
    out = {"kept": int(same.sum()), "moved": int((was & is_ & ~same).sum()),
           "newly_placed": int((~was & is_).sum()), "now_unplaced": int((was & ~is_).sum())}
    out["text"] = t("changes.line", language, **out)
    return out


def decision_preview(n: int, action: str, language: str = "da") -> str:
    """"3 households will be rejected": what saving a decision on ``n`` households does."""
    return t(f"preview.{action}", language, n=n)


def conflict_words(err: Any, language: str = "da") -> str:
    """Say a conflict (``DecisionConflictError``) in words, with what the coordinator can do."""
    when = local_time(getattr(err, "decided_at", None), language)
    return t("conflict.text", language, dwelling=err.dwelling_id,
             holder=err.holder_household_id, holder_dwelling=err.holder_dwelling_id,
             household=err.household_id, by=err.decided_by, when=when)
