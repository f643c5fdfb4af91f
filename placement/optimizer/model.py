"""The placement model: eligible pairs, their scores, and the MILP solved with HiGHS.

Sets and symbols (the code uses the same names):

- ``H`` households ``h`` with ``persons[h]``; ``D`` dwellings ``d``; ``A`` local areas ``a`` with
  population share ``share[a] = population[a] / sum(population)`` and cap ``cap[a]`` (persons);
  ``B`` buildings ``b`` with limit ``k``.
- ``P`` the eligible pairs ``p = (h, d)``: every pair that passes the switched-on pair rules (size
  fit, rent ceiling, step-free, availability, permanent only, excluded designated areas), minus
  rejected pairs, plus approved (locked) pairs. Only these pairs get a variable.
- ``score[p]`` in [0, 1]: the weighted mean of the applicable pair terms (:mod:`placement.score`).
- ``lam = w_spread / (sum(w) - w_spread)``: score points per person off the proportional share.
- ``v[h]``: the stage-1 value of housing ``h`` (``objective.first``: persons, 1, or
  1 + waiting days / 365).

Variables: ``x[p]`` binary (household ``h`` gets dwelling ``d``); ``L[a]`` integer, the persons
placed in area ``a``; ``dev[a] >= 0`` the persons by which area ``a`` exceeds its
population-proportional share of the persons placed beyond the tolerance ``tol``
(``scoring.spread_tolerance_persons``).

Every stage has the rows::

    (1) sum_{d} x[h, d] <= 1                    for every household h (one dwelling at most)
    (2) sum_{h} x[h, d] <= 1                    for every dwelling d (one household at most)
    (3) 0 <= L[a] <= cap[a]                     for every area a       (rules.area_cap)
    (4) sum_{p in b} x[p] <= k                  for every building b   (rules.building_limit)
    (5) L[a] = sum_{p in a} persons[h] x[p]     for every area a
    (6) dev[a] >= L[a] - share[a] sum_b L[b] - tol                     for every area a
    x[p] = 1 for approved (locked) pairs

and maximises, stage by stage (:mod:`placement.optimizer.stages`)::

    placed:   sum_p v[h] x[p]                                  -> z1
    quality:  sum_p score[p] x[p] - lam sum_a dev[a]           s.t. placed >= z1       -> q
    kept:     sum_{p previous} x[p]        s.t. placed >= z1, quality >= q - keep_tolerance |q|

When stage 1 fixes the persons placed (``first = persons``, every dwelling in an area), (6)
uses the constant ``z1`` for ``sum_b L[b]``. Earlier stages enter later ones as rows whose
coefficient on a pair is ``v[h]`` or ``score[p]`` (:class:`formulation.GroupRow`), priced in
the column generation like every other row; the fairness guard adds such rows to every stage.
``objective.mode = "weighted"`` solves one model instead: ``sum_p x[p] (M + score[p] +
bonus[p]) - lam sum_a dev[a]`` with ``M = solver.unplaced_penalty`` and ``bonus`` the
``solver.stability_bonus`` of previous pairs.

Rows (5) exist when the caps or the spread term are on; (6) only with the spread term. ``L`` is
integer anyway (whole persons); declaring it so lets HiGHS branch on area loads. An area
already over its cap (``cap[a] < 0``) gets the bound 0: it takes nobody new. Buildings with at
most ``k`` dwellings get no row (4). The persons above their share summed over the areas equal
the persons below it, so with ``tol = 0`` ``sum_a dev[a]`` is the number of placed persons that
would have to move for a distribution exactly proportional to population; (6) with the positive
cost on ``dev`` makes it exact at the optimum. The tolerance (a few persons) absorbs the
rounding that whole households force.

The code is split by job: :mod:`~placement.optimizer.instance` (inputs, eligible pairs,
scores, greedy plans), :mod:`~placement.optimizer.formulation` (rows, columns, HiGHS, duals,
bounds), :mod:`~placement.optimizer.pricing` (column generation over listed pairs),
:mod:`~placement.optimizer.lazy` (pairs generated group by group),
:mod:`~placement.optimizer.stages` (the lexicographic driver); this module keeps the names.

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
    building_codes,
    dwelling_rule_masks,
    eligibility_groups,
    eligible_pairs,
    finish_pairs,
    greedy_pass,
    room_bounds,
    unknown_exclusion_masks,
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
    "building_codes",
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
    "unknown_exclusion_masks",
]
