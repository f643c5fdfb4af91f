"""Explanations in words: why households stay unplaced, alternatives, load per local area."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from placement.config import Policy, area_shares
from placement.optimizer.model import Instance, room_bounds
from placement.score import any_measured, no_data_words

__all__ = [
    "alternatives",
    "area_table",
    "cap_needed",
    "lock_conflicts",
    "rule_words",
    "shortage_reasons",
    "trade_off",
    "unknown_summary",
    "unplaced_reasons",
]

#: What each ``[unknown]`` choice does, in words.
UNKNOWN_WORDS = {
    "leave_out": "left out of the score, weights renormalised over the known terms",
    "exclude": "dwellings without the data are not proposed to households the term applies to",
    "neutral": "counted as the neutral value {neutral:g}",
}


def _dkk(v: float) -> str:
    return f"{v:,.0f} DKK/month"


def rule_words(rule: str, inst: Instance, h: int, policy: Policy) -> str:
    """Describe in words what pair rule ``rule`` asks of a dwelling for household ``h``."""
    r = policy.rules
    if rule == "size_fit":
        lo, hi = room_bounds(inst.persons[[h]].astype(float), policy)
        top = "or more" if np.isinf(hi[0]) else f"to {int(hi[0])}"
        return f"{int(lo[0])} {top} rooms for {int(inst.persons[h])} persons"
    if rule == "rent_ceiling":
        t = str(inst.household_type[h])
        ceiling = r.rent_ceiling_dkk.for_type(t) if hasattr(r.rent_ceiling_dkk, t) else np.inf
        return f"rent at most {_dkk(ceiling)} (ceiling for {t.replace('_', ' ')})"
    if rule == "step_free":
        return "step-free access"
    if rule == "availability":
        last = inst.arrival[h] + np.timedelta64(int(r.availability_tolerance_days), "D")
        return f"free by {pd.Timestamp(last).date().isoformat()}"
    if rule == "permanent_only":
        return "permanent housing"
    if rule == "excluded_areas":
        return f"outside designated areas ({', '.join(r.excluded_area_kinds)})"
    if rule == "unknown_excluded":
        terms = [t for t in ("transit", "community", "family")
                 if policy.unknown.mode(t) == "exclude"]
        return f"data for the {', '.join(terms)} score (unknown = exclude)"
    return rule


def _rules_on(policy: Policy) -> list[str]:
    r = policy.rules
    on = {"size_fit": r.size_fit, "rent_ceiling": r.rent_ceiling, "step_free": r.step_free,
          "availability": r.availability, "permanent_only": r.permanent_only,
          "excluded_areas": bool(r.excluded_area_kinds),
          "unknown_excluded": any(policy.unknown.mode(t) == "exclude"
                                  for t in ("transit", "community", "family"))}
    return [k for k, v in on.items() if v]


def no_dwelling_reason(inst: Instance, h: int, policy: Policy) -> str:
    """Reason for a household that no dwelling passes the pair rules for."""
    from placement.optimizer.model import PAIR_RULES

    block = str(inst.blocking_rule[h])
    on = [r for r in PAIR_RULES if r in _rules_on(policy)]
    upto = on[: on.index(block) + 1] if block in on else on
    words = " and ".join(rule_words(r, inst, h, policy) for r in upto)
    return f"no dwelling with {words}"


def shortage_reasons(inst: Instance, policy: Policy) -> list[str]:
    """Demand against supply for groups of households (pre-check, before solving).

    For every household size ``p`` present: the households of ``p`` or more persons against the
    distinct dwellings any of them may get; likewise for households that need step-free access.
    A group with more households than such dwellings cannot all be placed (Hall's condition).
    """
    out: list[str] = []
    rules = _rules_on(policy)
    what = "that pass the rules"
    if "size_fit" in rules and "rent_ceiling" in rules:
        what = "with enough rooms within their rent ceiling"
    elif "size_fit" in rules:
        what = "with enough rooms"
    ph, pd_ = inst.pair_h, inst.pair_d
    for p in sorted(set(inst.persons.tolist()), reverse=True):
        group = inst.persons >= p
        n = int(group.sum())
        m = len(np.unique(pd_[group[ph]]))
        if n > m:
            lo, _ = room_bounds(np.array([float(p)]), policy)
            rooms = f"{int(lo[0])} or more rooms" if "size_fit" in rules else "dwellings"
            who = f"{n} households of {p} or more persons"
            out.append(f"{who}, but only {m} dwellings ({rooms}) {what}")
            break  # the largest group that is short says it best
    sf = inst.step_free_needed
    if sf.any() and policy.rules.step_free:
        n = int(sf.sum())
        m = len(np.unique(pd_[sf[ph]]))
        if n > m:
            out.append(f"{n} households need step-free access, but only {m} step-free dwellings "
                       "pass the other rules for them")
    n_total, m_total = inst.n_households, len(np.unique(pd_))
    if n_total > m_total:
        out.append(f"{n_total} households, but only {m_total} dwellings pass the rules for any "
                   "of them")
    return out


def _area_name(inst: Instance, a: int) -> str:
    return str(inst.area_ids[a])


def _span(values: np.ndarray) -> str:
    lo, hi = int(values.min()), int(values.max())
    return f"{lo}" if lo == hi else f"{lo}–{hi}"


def _pct(share: float) -> str:
    return f"{share * 100:.3g} %"


def cap_needed(inst: Instance, policy: Policy, a: int, load: float, persons: int) -> str:
    """Words for the cap area ``a`` would need to also take ``persons`` more persons."""
    share = float(area_shares(policy.rules, inst.area_ids[[a]])[0])
    pop = float(inst.area_population[a])
    if pop <= 0:
        return f"{_area_name(inst, a)} has no population, so no cap admits anyone"
    need = (inst.area_residents[a] + load + persons) / pop
    need = math.ceil(need * 1000 - 1e-9) / 1000  # to 0.1 % up
    return f"a cap of {_pct(share)} on {_area_name(inst, a)} would have to rise to {_pct(need)}"


def unplaced_reasons(
    inst: Instance,
    policy: Policy,
    x: np.ndarray,
    *,
    rejected_count: np.ndarray,
    optimal: bool,
) -> np.ndarray:
    """Reason in words for every unplaced household ("" for placed ones).

    Either no dwelling passes the pair rules ("no eligible dwelling": the rule that leaves none),
    or eligible dwellings exist but were given to others: who got them (their sizes, how many
    arrived later), which are in areas whose cap is reached and the cap that would have to
    rise, which are in full buildings.
    """
    H = inst.n_households
    reasons = np.full(H, "", dtype=object)
    chosen = x.astype(bool)
    placed_h = np.zeros(H, dtype=bool)
    placed_h[inst.pair_h[chosen]] = True
    holder = np.full(inst.n_dwellings, -1)
    holder[inst.pair_d[chosen]] = inst.pair_h[chosen]
    taken = holder >= 0
    A = len(inst.area_ids)
    pers = inst.persons[inst.pair_h].astype(float)
    parea = inst.dw_area[inst.pair_d]
    load = np.zeros(A)
    sel = chosen & (parea >= 0)
    np.add.at(load, parea[sel], pers[sel])
    room = inst.area_cap - load
    nb = int(inst.dw_building.max()) + 1 if inst.n_dwellings else 0
    bload = np.bincount(inst.dw_building[inst.pair_d[chosen]], minlength=nb)
    r = policy.rules
    starts = np.searchsorted(inst.pair_h, np.arange(H + 1))
    for h in np.flatnonzero(~placed_h):
        lo, hi = starts[h], starts[h + 1]
        if hi == lo:
            if inst.n_eligible[h] == 0:
                reasons[h] = "no eligible dwelling: " + no_dwelling_reason(inst, h, policy)
            else:
                reasons[h] = (f"all {int(inst.n_eligible[h])} dwellings that pass the rules "
                              "were rejected for this household")
            continue
        d = inst.pair_d[lo:hi]
        n_taken = int(taken[d].sum())
        free = d[~taken[d]]
        parts = []
        if n_taken:
            who = holder[d[taken[d]]]
            later = int((inst.arrival[who] > inst.arrival[h]).sum())
            smaller = int((inst.persons[who] < inst.persons[h]).sum())
            extra = [f"{later} arrived later"] if later else []
            if smaller:
                extra.append(f"{smaller} smaller")
            parts.append(f"{n_taken} of {len(d)} suitable dwellings are taken by other "
                         f"households (of {_span(inst.persons[who])} persons"
                         + (f"; {', '.join(extra)}" if extra else "") + ")")
        capped: dict[int, int] = {}
        n_building = 0
        n_open = 0
        for dd in free:
            a = inst.dw_area[dd]
            if r.area_cap and a >= 0 and room[a] < inst.persons[h] - 1e-9:
                capped[a] = capped.get(a, 0) + 1
            elif r.building_limit and bload[inst.dw_building[dd]] >= r.max_households_per_building:
                n_building += 1
            else:
                n_open += 1
        order = sorted(capped, key=lambda a: (-capped[a], inst.area_ids[a]))
        for a in order[:3]:
            cap = inst.area_cap[a] + inst.area_residents[a]
            parts.append(f"the cap on {_area_name(inst, a)} is reached "
                         f"({int(inst.area_residents[a] + load[a])} of {int(cap)} persons; "
                         f"{capped[a]} suitable dwelling{'s' if capped[a] > 1 else ''} there; "
                         f"{cap_needed(inst, policy, a, load[a], int(inst.persons[h]))})")
        if len(order) > 3:
            rest = sum(capped[a] for a in order[3:])
            parts.append(f"{rest} more suitable dwellings in {len(order) - 3} other areas at "
                         "their cap")
        if n_building:
            parts.append(f"{n_building} suitable dwelling{'s are' if n_building > 1 else ' is'} "
                         f"in buildings that already have {r.max_households_per_building} "
                         "new household(s)")
        if n_open:
            parts.append(f"{n_open} suitable dwelling{'s are' if n_open > 1 else ' is'} still "
                         "free; " + ("placing the household there would break a rule the "
                                     "approved placements already fill"
                                     if optimal else "the solver stopped before optimality"))
        if rejected_count[h]:
            parts.append(f"{int(rejected_count[h])} rejected")
        reasons[h] = "eligible dwellings exist but went to others: " + "; ".join(parts)
    return reasons


def unknown_summary(inst: Instance, policy: Policy, d_of_h: np.ndarray,
                    limit: int = 50) -> dict[str, dict[str, object]]:
    """Per score term: the dwellings and placed households without data, and the policy.

    Parameters
    ----------
    inst
        The instance (its ``dterms`` hold NaN where a dwelling's term is unknown).
    policy
        The policy (its ``[unknown]`` choices).
    d_of_h
        Dwelling position of each household, -1 when unplaced.
    limit
        Longest list of dwelling ids given per term.

    Returns
    -------
    dict
        ``term -> {"policy", "dwellings_no_data", "dwellings", "placed_no_data", "dwelling_ids",
        "words"}`` for ``transit``, ``community`` and ``family`` (family: dwellings without
        daycare or school data; placed households with children whose term is unknown).
    """
    out: dict[str, dict[str, object]] = {}
    dt = inst.dterms
    placed = d_of_h >= 0
    dpos = np.maximum(d_of_h, 0)
    for term in ("transit", "community", "family"):
        if term == "family":
            day = np.isnan(dt["daycare"].to_numpy(dtype=float))
            sch = np.isnan(dt["school"].to_numpy(dtype=float))
            unknown_d = day | sch
            hh_unknown = placed & ((inst.has_0_5 & day[dpos]) | (inst.has_6_16 & sch[dpos]))
        else:
            unknown_d = np.isnan(dt[term].to_numpy(dtype=float))
            hh_unknown = placed & unknown_d[dpos]
        mode = policy.unknown.mode(term)
        n_d, n_h = int(unknown_d.sum()), int(hh_unknown.sum())
        how = UNKNOWN_WORDS[mode].format(neutral=policy.unknown.neutral_value)
        words = (f"{term}: no data for {n_d} of {inst.n_dwellings} dwellings "
                 f"({n_h} of {int(placed.sum())} placed households); {how}"
                 if n_d else f"{term}: measured for every dwelling")
        out[term] = {
            "policy": mode,
            "dwellings_no_data": n_d,
            "dwellings": int(inst.n_dwellings),
            "placed_no_data": n_h,
            "dwelling_ids": [str(x) for x in inst.dw_ids[unknown_d][:limit]],
            "words": words,
        }
    return out


def trade_off(inst: Instance, policy: Policy, x: np.ndarray) -> list[str]:
    """Describe the plan's trade-off: who stays unplaced while whom the plan places instead."""
    chosen = x.astype(bool)
    placed = np.zeros(inst.n_households, dtype=bool)
    placed[inst.pair_h[chosen]] = True
    has_pair = np.zeros(inst.n_households, dtype=bool)
    has_pair[inst.pair_h] = True
    left = ~placed & has_pair
    if not left.any():
        return []
    out = []
    n = int(left.sum())
    sizes = _span(inst.persons[left])
    later = placed & (inst.arrival > inst.arrival[left].min())
    smaller = placed & (inst.persons < inst.persons[left].min())
    first = policy.objective.first if policy.objective.mode == "lexicographic" else "weighted"
    goal = {"persons": "the most persons", "households": "the most households",
            "waiting": "the most households, longest waiting first",
            "weighted": "the most households (each counts solver.unplaced_penalty)"}[first]
    out.append(f"{n} household(s) of {sizes} persons have suitable dwellings but stay unplaced, "
               f"while {int(smaller.sum())} households smaller than any of them and "
               f"{int(later.sum())} arriving after the first of them are placed: the plan "
               f"places {goal} the caps and limits allow")
    if not policy.objective.fairness_guard and (smaller.any() or later.any()):
        out.append("objective.fairness_guard = true limits how many of one household size or "
                   "arrival month may be left out while smaller or later ones are placed")
    return out


def alternatives(
    inst: Instance,
    x: np.ndarray,
    k: int,
    policy: Policy | None = None,
) -> pd.DataFrame:
    """List the ``k`` best other suitable dwellings per placed household.

    Returns
    -------
    pandas.DataFrame
        ``household_id``, ``rank`` (1 = best), ``dwelling_id``, ``score``, ``score_diff``
        (alternative minus proposal; negative is worse), ``taken_by`` (household proposed for
        that dwelling, or NA), ``no_data`` (terms of the pair that could not be measured).
    """
    cols = ["household_id", "rank", "dwelling_id", "score", "score_diff", "taken_by", "no_data"]
    chosen = x.astype(bool)
    if k <= 0 or not chosen.any():
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    H = inst.n_households
    chosen_score = np.full(H, np.nan)
    chosen_score[inst.pair_h[chosen]] = inst.pair_score[chosen]
    holder = np.full(inst.n_dwellings, -1)
    holder[inst.pair_d[chosen]] = inst.pair_h[chosen]
    cand = ~chosen & ~np.isnan(chosen_score[inst.pair_h])
    h, d, s = inst.pair_h[cand], inst.pair_d[cand], inst.pair_score[cand]
    nd = (inst.pair_terms["no_data"][cand] if "no_data" in inst.pair_terms
          else np.zeros(len(h), np.int64))
    order = np.lexsort((d, -s, h))  # dwellings are sorted by id: ties go to the lower id
    meas = any_measured({t: v[cand] for t, v in inst.pair_terms.items()},
                        policy if policy is not None else Policy())
    h, d, s, nd, meas = h[order], d[order], s[order], nd[order], meas[order]
    first = np.searchsorted(h, h, side="left")
    rank = np.arange(len(h)) - first + 1
    keep = rank <= k
    h, d, s, rank, nd, meas = h[keep], d[keep], s[keep], rank[keep], nd[keep], meas[keep]
    taken_by = pd.array([inst.hh_ids[j] if j >= 0 else pd.NA for j in holder[d]], dtype="string")
    return pd.DataFrame({
        "household_id": pd.array(inst.hh_ids[h].astype(str), dtype="string"),
        "rank": rank.astype(np.int64),
        "dwelling_id": pd.array(inst.dw_ids[d].astype(str), dtype="string"),
        "score": np.where(meas, s, np.nan),
        "score_diff": np.where(meas, s - chosen_score[h], np.nan),
        "taken_by": taken_by,
        "no_data": pd.array(no_data_words(nd).astype(str), dtype="string"),
    })


def area_table(inst: Instance, policy: Policy, x: np.ndarray) -> pd.DataFrame:
    """Persons placed per local area against its cap and its population-proportional target.

    Returns
    -------
    pandas.DataFrame
        ``area_id``, ``population``, ``integration_residents``, ``cap_persons`` (the share of
        the population allowed under the programme, in persons), ``placed_households``,
        ``placed_persons``, ``load_persons`` (residents plus placed), ``share_of_cap``
        (load / cap), ``target_persons`` (placed persons spread in proportion to population),
        ``deviation_persons`` (placed minus target).
    """
    chosen = x.astype(bool)
    A = len(inst.area_ids)
    parea = inst.dw_area[inst.pair_d]
    sel = chosen & (parea >= 0)
    placed_p = np.bincount(parea[sel], weights=inst.persons[inst.pair_h[sel]].astype(float),
                           minlength=A)
    placed_h = np.bincount(parea[sel], minlength=A)
    cap = np.floor(area_shares(policy.rules, inst.area_ids) * inst.area_population + 1e-9)
    load = inst.area_residents + placed_p
    share = inst.area_population / max(inst.area_population.sum(), 1.0)
    target = share * placed_p.sum()
    return pd.DataFrame({
        "area_id": pd.array(inst.area_ids.astype(str), dtype="string"),
        "population": inst.area_population.astype(np.int64),
        "integration_residents": inst.area_residents.astype(np.int64),
        "cap_persons": cap.astype(np.int64),
        "placed_households": placed_h.astype(np.int64),
        "placed_persons": placed_p.astype(np.int64),
        "load_persons": load.astype(np.int64),
        "share_of_cap": np.divide(load, cap, out=np.full(A, np.nan), where=cap > 0),
        "target_persons": target,
        "deviation_persons": placed_p - target,
    })


def lock_conflicts(inst: Instance, policy: Policy, locks: list[tuple[int, int]]) -> list[str]:
    """Reasons why the approved placements alone cannot all hold (empty when they can)."""
    out: list[str] = []
    hs = pd.Series([h for h, _ in locks])
    ds = pd.Series([d for _, d in locks])
    for h in sorted(set(hs[hs.duplicated()])):
        out.append(f"household {inst.hh_ids[h]} has more than one approved dwelling")
    for d in sorted(set(ds[ds.duplicated()])):
        out.append(f"dwelling {inst.dw_ids[d]} is approved for more than one household")
    r = policy.rules
    if r.area_cap and locks:
        load: dict[int, float] = {}
        for h, d in set(locks):
            a = inst.dw_area[d]
            if a >= 0:
                load[a] = load.get(a, 0.0) + float(inst.persons[h])
        for a in sorted(load):
            if load[a] > inst.area_cap[a] + 1e-9:
                cap = inst.area_cap[a] + inst.area_residents[a]
                out.append(f"the approved placements alone exceed the cap on "
                           f"{_area_name(inst, a)} ({int(inst.area_residents[a] + load[a])} "
                           f"of {int(cap)} persons)")
    if r.building_limit and locks:
        b = pd.Series([inst.dw_building[d] for _, d in set(locks)]).value_counts()
        for n in b.sort_index().to_numpy():
            if n > r.max_households_per_building:
                out.append(f"{n} approved placements in one building (limit "
                           f"{r.max_households_per_building})")
    return out
