"""Placement optimiser: a MILP over eligible (household, dwelling) pairs, solved with HiGHS.

``propose`` builds and solves the model (:mod:`placement.optimizer.model`), explains the result
(:mod:`placement.optimizer.explain`) and ``write_proposal`` writes it for the CLI.
``greedy_assign`` is the first-come-first-served baseline used in the benchmarks.
"""

from __future__ import annotations

from placement.optimizer.greedy import greedy_assign
from placement.optimizer.propose import Proposal, propose, write_proposal

__all__ = ["Proposal", "greedy_assign", "propose", "write_proposal"]
