"""First-come-first-served baseline: what a coordinator does by hand, for comparison."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from placement.config import Policy
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
    eligible_pairs(inst, policy)
    finish_pairs(inst, policy.with_overrides(solver={"candidate_limit": 0}), locks=[],
                 rejected=[])
    order = np.lexsort((np.arange(inst.n_households), inst.arrival))
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
