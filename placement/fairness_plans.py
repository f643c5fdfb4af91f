"""Fairness audit of datasets, stored runs and plans already made (:mod:`placement.fairness`).

:func:`audit_dataset` proposes (or loads) a plan and, if asked, the plans of the two targets;
:func:`audit_plans` and :func:`write_plan_fairness` audit plans a command has already made (a
proposal, a scenario beside its base) without another solve.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from placement.fairness import (
    FairnessAudit,
    FairnessSettings,
    PlanInput,
    fairness_audit,
    write_fairness_report,
)
from placement.retention_model import household_group

__all__ = [
    "FAIRNESS_FILE",
    "TARGETS",
    "audit_dataset",
    "audit_plans",
    "plan_input",
    "write_plan_fairness",
]


# --------------------------------------------------------------------------------------------
# A dataset or a stored run
# --------------------------------------------------------------------------------------------
#: Weights of the two targets compared (the spread weight of the policy is kept).
TARGETS = {
    "transit-weighted": {"transit": 1.0, "community": 0.0, "family": 0.0, "anchor": 0.0,
                         "retention": 0.0},
    "retention-weighted": {"transit": 0.0, "community": 0.0, "family": 0.0, "anchor": 0.0,
                           "retention": 1.0},
}


def _predicted(fit: Any, assignments: pd.DataFrame, households: pd.DataFrame,
               access: pd.DataFrame, ds: Any) -> np.ndarray | None:
    if fit is None:
        return None
    from placement.retention_model import predict_pairs

    hh = households.set_index(households["household_id"].astype(str))
    hid = assignments["household_id"].astype(str)
    groups = household_group(hh["household_type"].reindex(hid), hh["persons"].reindex(hid))
    return predict_pairs(fit.model, groups.to_numpy(), assignments["dwelling_id"].to_numpy(),
                         access, ds.dwellings, ds.areas)


def plan_input(plan: Any, fit: Any = None) -> PlanInput:
    """Return the audit input of a :class:`placement.planning.Plan` (``fit``: retention model)."""
    ds = plan.dataset
    return PlanInput(plan.assignments, ds.households, plan.access,
                     _predicted(fit, plan.assignments, ds.households, plan.access, ds))


def audit_dataset(dataset_dir: str | Path, policy: Any = "default", *,
                  run: tuple[Any, int] | None = None, targets: bool = True,
                  settings: FairnessSettings | None = None) -> tuple[FairnessAudit, str]:
    """Audit the plan of a dataset (or a stored run of it) and the plans of the two targets.

    Parameters
    ----------
    dataset_dir : str or Path
        The dataset.
    policy : str, Path or Policy
        Policy of the plan (ignored for a stored run, which keeps its own).
    run : tuple of (Engine, int), optional
        Audit this stored run instead of proposing a plan.
    targets : bool
        Also propose and audit the transit-weighted and retention-weighted plans
        (:data:`TARGETS`; the retention-weighted one only when a model could be fitted).
    settings : FairnessSettings, optional

    Returns
    -------
    tuple
        The audit and the retention model's validation in words ("" without a model).
    """
    from placement import planning
    from placement.dataset import load_dataset
    from placement.retention_persons import RetentionError

    folder = Path(dataset_dir)
    ds = load_dataset(folder)
    stored = None
    if run is not None:
        from placement import store

        stored = store.load_run(run[0], run[1])
        params = stored[0].get("parameters") or {}
        window = params.get("window") or planning.DEFAULT_WINDOW
        # the measures of the run: its service date and departure window
        acc = planning.accessibility(folder, date=params.get("date"),
                                     window=(str(window[0]), str(window[1])))
    else:
        acc = planning.accessibility(folder)
    notes: list[str] = []
    fit = None
    words = ""
    if ds.history is None:
        notes.append("No residence history: predicted retention is unknown.")
    else:
        try:
            fit = planning.retention_model_for(ds, acc)
            words = fit.validation.words()
            notes += fit.validation.notes
        except RetentionError as err:
            notes.append(f"No retention model: {err}. Predicted retention is unknown.")
    plans: dict[str, PlanInput] = {}
    if run is not None and stored is not None:
        summary, proposals = stored
        pol = planning.policy_of_run(summary)
        name = f"run {run[1]}"
        plans[name] = PlanInput(proposals, ds.households, acc,
                                _predicted(fit, proposals, ds.households, acc, ds))
    else:
        plan = planning.make_plan(folder, policy, dataset=ds, access=acc)
        pol = plan.policy
        name = f"as proposed ({pol.name})"
        plans[name] = PlanInput(plan.assignments, ds.households, acc,
                                _predicted(fit, plan.assignments, ds.households, acc, ds))
    if targets:
        for target, weights in TARGETS.items():
            if weights["retention"] > 0 and fit is None:
                notes.append(f"No {target} plan: there is no retention model.")
                continue
            tp = planning.make_plan(folder, pol, weights=weights, dataset=ds, access=acc)
            plans[target] = PlanInput(tp.assignments, ds.households, tp.access,
                                      _predicted(fit, tp.assignments, ds.households, acc, ds))
    return fairness_audit(plans, settings=settings, notes=notes,
                          validation=None if fit is None else fit.validation), words


# --------------------------------------------------------------------------------------------
# Plans already made: a proposal, a scenario beside its base
# --------------------------------------------------------------------------------------------
#: File name of the audit written beside a plan's outputs (the CSV gets ``.csv``).
FAIRNESS_FILE = "fairness.html"


def _retention_fit(plan: Any, notes: list[str]) -> tuple[Any, str]:
    """Return the plan's retention model, or one fitted from its dataset's history (no solve)."""
    if plan.retention is not None:
        return plan.retention, plan.retention.validation.words()
    if plan.dataset.history is None:
        notes.append("No residence history: predicted retention is unknown.")
        return None, ""
    from placement import planning
    from placement.retention_persons import RetentionError

    try:
        fit = planning.retention_model_for(plan.dataset, plan.access)
    except RetentionError as err:
        notes.append(f"No retention model: {err}. Predicted retention is unknown.")
        return None, ""
    notes.extend(fit.validation.notes)
    return fit, fit.validation.words()


def audit_plans(plans: Mapping[str, Any], *, settings: FairnessSettings | None = None,
                retention: bool = True) -> tuple[FairnessAudit, str]:
    """Audit plans already made (no extra solve), the first being the reference.

    Parameters
    ----------
    plans : mapping of str to placement.planning.Plan
        Plans by name, e.g. ``{"base": base, "<scenario>": scenario_plan}``.
    settings : FairnessSettings, optional
    retention : bool
        Predict retention with the first plan's retention model, or one fitted from its
        dataset's residence history (a regression fit, not a solve); without a history, or
        with ``False``, predicted retention is unknown.

    Returns
    -------
    tuple
        The audit and the retention model's validation in words ("" without a model).
    """
    names = list(plans)
    if not names:
        msg = "audit_plans: give at least one plan"
        raise ValueError(msg)
    notes: list[str] = []
    fit, words = (_retention_fit(plans[names[0]], notes) if retention else (None, ""))
    if not retention:
        notes.append("Predicted retention was not asked for: it is unknown.")
    inputs = {}
    for name, plan in plans.items():
        ds = plan.dataset
        inputs[name] = PlanInput(plan.assignments, ds.households, plan.access,
                                 _predicted(fit, plan.assignments, ds.households, plan.access,
                                            ds))
    return fairness_audit(inputs, settings=settings, notes=notes,
                          validation=None if fit is None else fit.validation), words


def write_plan_fairness(plans: Mapping[str, Any], folder: str | Path, *,
                        settings: FairnessSettings | None = None, title: str = "",
                        retention: bool = True) -> tuple[FairnessAudit, tuple[Path, Path]]:
    """Audit plans (:func:`audit_plans`) and write ``fairness.html`` and ``fairness.csv``.

    Parameters
    ----------
    plans : mapping of str to placement.planning.Plan
        Plans by name, the reference first.
    folder : str or Path
        Folder of the plan's outputs (created if missing); both files are written atomically.
    settings : FairnessSettings, optional
    title : str
        Heading (e.g. the dataset or the scenario).
    retention : bool
        As in :func:`audit_plans`.

    Returns
    -------
    tuple
        The audit and the paths (HTML, CSV).
    """
    audit, words = audit_plans(plans, settings=settings, retention=retention)
    paths = write_fairness_report(audit, Path(folder) / FAIRNESS_FILE, title=title,
                                  validation_words=words)
    return audit, paths
