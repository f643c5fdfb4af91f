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

from placement.optimizer.formulation import (
    Solution,
    _lagrange_bound,  # noqa: F401
    _pair_entries,  # noqa: F401
    _row_price,  # noqa: F401
    _rows,  # noqa: F401
    pair_objective,
    spread_weight,
)
from placement.optimizer.instance import (
    PAIR_RULES,
    Instance,
    _pair_keys,  # noqa: F401
    build_instance,
    dwelling_rule_masks,
    eligibility_groups,
    eligible_pairs,
    finish_pairs,
    greedy_pass,
    room_bounds,
)
from placement.optimizer.lazy import (
    LAZY_MIN_PAIRS,
    LazyPairs,
    _area_dual,  # noqa: F401
    _score_of,  # noqa: F401
    lazy_greedy,
    lazy_pairs,
    solve_lazy,
)
from placement.optimizer.pricing import PRICING_MIN_PAIRS, build_and_solve
from placement.score import PAIR_TERMS

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
