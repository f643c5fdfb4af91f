"""First-come-first-served baseline: what a coordinator does by hand, for comparison."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from placement.config import Policy
from placement.optimizer import lazy, model
from placement.optimizer.model import build_instance, eligible_pairs, finish_pairs, greedy_pass

__all__ = ["greedy_assign"]


def greedy_assign(
    households: pd.DataFrame,
    dwellings: pd.DataFrame,
    areas: pd.DataFrame,
    access: pd.DataFrame,
    policy: Policy,
    *,
    pick: Literal["first_free", "best_score"] = "first_free",
) -> pd.DataFrame:
    """Place households one by one in order of arrival under the same hard rules.

    Parameters
    ----------
    households, dwellings, areas, access, policy
        As for :func:`placement.optimizer.propose`.
    pick : {"first_free", "best_score"}
        ``first_free``: the suitable dwelling that became free first (ties by id), as a
        coordinator filling vacancies does; ``best_score``: the suitable dwelling with the best
        score at that moment (a myopic greedy).

    Returns
    -------
    pandas.DataFrame
        One row per household, sorted by ``household_id``: ``household_id``, ``dwelling_id``
        (NA when unplaced), ``score`` and the term columns.
    """
    inst = build_instance(households, dwellings, areas, access, policy)
    groups = model.eligibility_groups(inst, policy)
    order = np.lexsort((np.arange(inst.n_households), inst.arrival))
    if int(inst.n_eligible.sum()) > lazy.LAZY_MIN_PAIRS:
        return _greedy_lazy(inst, policy, groups, order, pick)
    eligible_pairs(inst, policy)
    finish_pairs(inst, policy.with_overrides(solver={"candidate_limit": 0}), locks=[],
                 rejected=[])
    chosen = greedy_pass(inst, policy, inst.pair_h, inst.pair_d, inst.pair_score, order,
                         pick=pick)
    placed = chosen >= 0
    out = pd.DataFrame({
        "household_id": pd.array(inst.hh_ids.astype(str), dtype="string"),
        "dwelling_id": pd.array([inst.dw_ids[inst.pair_d[c]] if c >= 0 else pd.NA
                                 for c in chosen], dtype="string"),
        "score": np.where(placed, inst.pair_score[np.maximum(chosen, 0)], np.nan),
    })
    for t, v in inst.pair_terms.items():
        out[t] = np.where(placed, v[np.maximum(chosen, 0)], np.nan)
    return out


def _greedy_lazy(inst: model.Instance, policy: Policy, groups: list, order: np.ndarray,
                 pick: str) -> pd.DataFrame:
    """Run the same pass for very large rounds, without listing every eligible pair."""
    lz = model.lazy_pairs(inst, policy, groups, [])
    chosen = model.lazy_greedy(inst, lz, policy, order, pick=pick)
    placed = np.flatnonzero(chosen >= 0)
    terms, score = model._score_of(inst, policy, placed, chosen[placed])
    out = pd.DataFrame({"household_id": pd.array(inst.hh_ids.astype(str), dtype="string"),
                        "dwelling_id": pd.array([pd.NA] * inst.n_households, dtype="string")})
    out.loc[placed, "dwelling_id"] = inst.dw_ids[chosen[placed]].astype(str)
    out["score"] = np.nan
    out.loc[placed, "score"] = score
    for t, v in terms.items():
        out[t] = np.nan
        out.loc[placed, t] = v
    return out
