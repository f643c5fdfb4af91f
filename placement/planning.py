"""Planning: propose, store, decide, re-optimise and run what-if scenarios on a dataset.

This is the one place where the steps are put together (dataset → accessibility → optimiser →
measures → storage), used by the command line, the app and the notebook alike.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from placement import measures as ms
from placement._errors import ConfigError, DataError
from placement.config import Policy, load_policy
from placement.dataset import Dataset, load_dataset
from placement.scenario import Scenario, check_changes, materialise

logger = logging.getLogger(__name__)

#: Default departure window of the public-transport measures.
DEFAULT_WINDOW = ("07:00", "09:00")


@dataclass
class Plan:
    """A proposal with everything needed to show, store and compare it.

    Attributes
    ----------
    dataset : Dataset
        The loaded dataset.
    dataset_dir : Path
        Its folder.
    access : pandas.DataFrame
        Accessibility table (index dwelling_id).
    policy : Policy
        The policy solved under (with any scenario overrides).
    proposal : placement.optimizer.Proposal
        The optimiser's result.
    caps : pandas.Series
        Cap in persons per area.
    measures : dict
        Policy measures (:func:`placement.measures.plan_measures`).
    area_table : pandas.DataFrame
        Persons placed per area against the cap.
    """

    dataset: Dataset
    dataset_dir: Path
    access: pd.DataFrame
    policy: Policy
    proposal: Any
    caps: pd.Series
    measures: dict[str, float]
    area_table: pd.DataFrame
    parameters: dict[str, Any] = field(default_factory=dict)
    #: Why an approved or locked placement could not be kept in this plan, in words.
    decision_notes: list[str] = field(default_factory=list)
    #: The retention model (:class:`placement.retention_model.RetentionFit`) when the policy
    #: weighs retention; None otherwise.
    retention: Any = None

    @property
    def assignments(self) -> pd.DataFrame:
        """One row per household (the optimiser's assignments)."""
        return self.proposal.assignments


def policy_for(policy: str | Path | Policy, *, weights: Mapping[str, float] | None = None,
               area_caps: Mapping[str, float] | None = None) -> Policy:
    """Load a policy (preset name, file or object) and apply weight and cap overrides.

    Parameters
    ----------
    policy : str, Path or Policy
        A preset name (``stevns``, ``kalundborg``, ...), a TOML file or a loaded policy.
    weights : mapping, optional
        Weights replacing the policy's (transit, community, family, anchor, spread).
    area_caps : mapping, optional
        Cap per area_id as a share of its population, replacing ``rules.max_area_share`` there.

    Returns
    -------
    Policy
    """
    base = policy if isinstance(policy, Policy) else load_policy(policy)
    sections: dict[str, dict[str, Any]] = {}
    if weights:
        sections["weights"] = {k: float(v) for k, v in weights.items()}
    if area_caps:
        merged = dict(base.rules.area_max_share)
        merged.update({str(k): float(v) for k, v in area_caps.items()})
        sections["rules"] = {"area_max_share": merged}
    if not sections:
        return base
    try:
        return base.with_overrides(**sections)
    except TypeError as err:
        msg = f"cannot apply the overrides {sections}: {err}"
        raise ConfigError(msg) from None


def accessibility(dataset_dir: str | Path, *, date: Any = None,
                  window: tuple[str, str] = DEFAULT_WINDOW, use_cache: bool = True
                  ) -> pd.DataFrame:
    """Return the accessibility table of a dataset (cached on disk by input hashes).

    Parameters
    ----------
    dataset_dir : str or Path
        The dataset.
    date : date or str, optional
        Service date (default: a Tuesday/Wednesday with service).
    window : tuple of str
        Departure window.
    use_cache : bool
        Reuse a cached table for the same inputs and parameters.

    Returns
    -------
    pandas.DataFrame
    """
    from placement.accessibility import accessibility_for_dataset

    return accessibility_for_dataset(dataset_dir, date=date, window=window, use_cache=use_cache)


def make_plan(dataset_dir: str | Path, policy: str | Path | Policy = "default", *,
              date: Any = None, window: tuple[str, str] = DEFAULT_WINDOW,
              weights: Mapping[str, float] | None = None,
              area_caps: Mapping[str, float] | None = None,
              locks: Any = None, rejected: Any = None, previous: Any = None,
              time_limit_s: float | None = None, mip_gap: float | None = None,
              dataset: Dataset | None = None, access: pd.DataFrame | None = None,
              use_cache: bool = True) -> Plan:
    """Propose a dwelling for every household of a dataset and measure the plan.

    Parameters
    ----------
    dataset_dir : str or Path
        The dataset.
    policy : str, Path or Policy
        Preset, policy file or policy.
    date, window
        Service date and departure window of the public-transport measures.
    weights, area_caps
        Overrides (see :func:`policy_for`).
    locks, rejected, previous
        Approved placements, rejected pairs and the previous proposal (see
        :func:`placement.optimizer.propose`).
    time_limit_s, mip_gap
        Solver options overriding the policy's.
    dataset, access
        Already loaded dataset and accessibility table (loaded when not given).
    use_cache : bool
        Reuse the cached accessibility table.

    Returns
    -------
    Plan
    """
    from placement.optimizer import propose

    folder = Path(dataset_dir)
    ds = dataset if dataset is not None else load_dataset(folder)
    acc = access if access is not None else accessibility(folder, date=date, window=window,
                                                          use_cache=use_cache)
    pol = policy_for(policy, weights=weights, area_caps=area_caps)
    acc, retention = access_with_retention(ds, acc, pol)
    proposal = propose(ds.households, ds.dwellings, ds.areas, acc, pol, locks=locks,
                       rejected=rejected, previous=previous, time_limit_s=time_limit_s,
                       mip_gap=mip_gap)
    caps = ms.area_caps(ds.areas, pol.rules.max_area_share, pol.rules.area_max_share)
    table = ms.area_table(proposal.assignments, ds.households, ds.dwellings, ds.areas, caps)
    measures = ms.plan_measures(proposal.assignments, ds.households, ds.dwellings, acc, ds.areas,
                                caps, summary=proposal.summary)
    params = {"date": None if date is None else str(date), "window": list(window),
              "weights": dict(weights or {}), "area_caps": dict(area_caps or {}),
              "time_limit_s": time_limit_s, "mip_gap": mip_gap}
    plan = Plan(dataset=ds, dataset_dir=folder, access=acc, policy=pol, proposal=proposal,
                caps=caps, measures=measures, area_table=table, parameters=params,
                retention=retention)
    # known only when the policy weighs retention (a model was fitted); unknown otherwise
    plan.measures["expected_retention"] = expected_retention(plan)
    return plan


def retention_model_for(ds: Dataset, access: pd.DataFrame) -> Any:
    """Fit the retention model of a dataset (its history joined with ``access`` by dwelling).

    Parameters
    ----------
    ds : Dataset
        Loaded dataset; needs a residence history.
    access : pandas.DataFrame
        Accessibility table (the placement measures).

    Returns
    -------
    placement.retention_model.RetentionFit

    Raises
    ------
    ConfigError
        The dataset has no residence history.
    RetentionError
        Too few persons with an ended integration period to fit the model.
    """
    from placement.retention_model import fit_for_dataset

    if ds.history is None:
        msg = ("weights.retention is above 0 but the dataset has no residence history "
               "([history] in dataset.toml): nothing to learn retention from; set it to 0")
        raise ConfigError(msg)
    fit = fit_for_dataset(ds.history, access, dwellings=ds.dwellings, areas=ds.areas)
    logger.info("retention model: %s", fit.validation.words())
    return fit


def with_predicted_retention(access: pd.DataFrame, fit: Any) -> pd.DataFrame:
    """Return ``access`` with the column ``predicted_retention`` (the score's retention term)."""
    from placement.score import RETENTION_COLUMN

    pred = fit.dwelling_prediction.copy()
    pred.index = pred.index.astype(str)
    out = access.copy()
    out[RETENTION_COLUMN] = pred.reindex(out.index.astype(str)).to_numpy()
    return out


def access_with_retention(ds: Dataset, access: pd.DataFrame,
                          policy: Policy) -> tuple[pd.DataFrame, Any]:
    """Return ``access`` with the retention term when the policy weighs it, and the fit.

    Every planner (the plan, the weekly batch, the year replayed) scores through this, so a
    retention weight above 0 never silently drops the term.

    Parameters
    ----------
    ds : Dataset
        Loaded dataset (its residence history trains the model).
    access : pandas.DataFrame
        Accessibility table.
    policy : Policy
        The policy; with ``weights.retention`` 0 nothing is fitted.

    Returns
    -------
    tuple
        The accessibility table (with ``predicted_retention`` when fitted) and the
        :class:`placement.retention_model.RetentionFit` (``None`` when not fitted).

    Raises
    ------
    ConfigError, RetentionError
        As :func:`retention_model_for`.
    """
    if policy.weights.retention <= 0:
        return access, None
    fit = retention_model_for(ds, access)
    return with_predicted_retention(access, fit), fit


def retention_summary(plan: Plan, target: Any = None) -> dict[str, Any]:
    """Return the plan's expected retention against the history's base rate and the target.

    Parameters
    ----------
    plan : Plan
        A plan with a retention model (``plan.retention``).
    target : placement.retention.RetentionTarget, optional
        The target over the base rate (default +10 % relative, Vordingborg's goal).

    Returns
    -------
    dict
        ``expected_retention``, ``base_rate``, ``target``, ``target_words``, the training
        cohorts, the validation figures and ``words`` (a sentence for every use), JSON-ready.
    """
    from placement.retention_rates import RetentionTarget

    goal = target or RetentionTarget()
    fit = plan.retention
    out = fit.summary(expected=expected_retention(plan), target=goal.target_rate(fit.base_rate))
    out["target_words"] = goal.describe().replace("the baseline", "the history's base rate")
    return out


def retention_lines(plan: Plan) -> list[str]:
    """Return the retention figures of a plan in words (empty without a model)."""
    if plan.retention is None:
        return []
    r = retention_summary(plan)
    return [f"Expected retention {r['expected_retention']:.1%} of the persons placed (model "
            f"prediction, an association, not a cause), against a base rate of "
            f"{r['base_rate']:.1%} in the history and a target of {r['target']:.1%} "
            f"({r['target_words']}).", r["words"]]


def expected_retention(plan: Plan) -> float:
    """Mean predicted retention of the persons a plan places (NaN without a model).

    Each placed household counts with its persons and the model's prediction for its
    household type at its dwelling; households with an unknown prediction are left out.
    """
    if plan.retention is None:
        return float("nan")
    from placement.retention_model import household_group, predict_pairs

    a = plan.assignments
    hh = plan.dataset.households.set_index(plan.dataset.households["household_id"].astype(str))
    hid = a["household_id"].astype(str)
    groups = household_group(hh["household_type"].reindex(hid), hh["persons"].reindex(hid))
    p = predict_pairs(plan.retention.model, groups.to_numpy(), a["dwelling_id"].to_numpy(),
                      plan.access, plan.dataset.dwellings, plan.dataset.areas)
    w = a["persons"].to_numpy(dtype=float)
    ok = ~np.isnan(p)
    return float(np.average(p[ok], weights=w[ok])) if ok.any() else float("nan")


def store_plan(engine: Engine, plan: Plan, *, scenario_id: int | None = None,
               user: str | None = None) -> int:
    """Store a plan as a run (dataset registered by content hash); return the run id.

    Parameters
    ----------
    engine : Engine
        Open database (:func:`placement.db.open_engine`).
    plan : Plan
        The plan.
    scenario_id : int, optional
        Scenario the run belongs to.
    user : str, optional
        Who ran it.

    Returns
    -------
    int
        ``run_id``.
    """
    from placement import store
    from placement.score import PAIR_TERMS

    dataset_id = store.register_dataset(engine, plan.dataset_dir, user=user,
                                        dwelling_ids=plan.dataset.dwellings["dwelling_id"])
    summary = dict(plan.proposal.summary)
    summary["measures"] = plan.measures
    if plan.decision_notes:
        summary["decision_notes"] = list(plan.decision_notes)
    return store.save_run(engine, dataset_id, scenario_id, summary=summary,
                          proposals=plan.assignments, policy=plan.policy,
                          parameters=plan.parameters, terms=list(PAIR_TERMS), user=user)


def decisions_for_run(engine: Engine, run_id: int, *, dataset_dir: str | Path | None = None,
                      dataset: Dataset | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the approved/locked placements and the rejected pairs of a run's municipality.

    Decisions hold per municipality, across every version of its data. With ``dataset_dir``
    (or ``dataset``), only placements and pairs whose household and dwelling are in that data
    are returned (see :func:`held_placements` for the words on the others).

    Parameters
    ----------
    engine : Engine
        Open database.
    run_id : int
        A stored run.
    dataset_dir : str or Path, optional
        The data the next plan is made on.
    dataset : Dataset, optional
        The same data, already loaded.

    Returns
    -------
    tuple of pandas.DataFrame
        ``locks`` (household_id, dwelling_id) held by approve/lock decisions, and ``rejected``
        (household_id, dwelling_id) of reject decisions that still stand.
    """
    from placement import store

    run, _ = store.load_run(engine, run_id)
    if dataset is None and dataset_dir is not None:
        dataset = load_dataset(dataset_dir)
    locks, rejected, _ = _decided(engine, run["dataset_id"], dataset)
    return locks, rejected


def _decided(engine: Engine, dataset_id: int, dataset: Dataset | None
             ) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    from placement import store

    held = store.active_allocations(engine, dataset_id)
    decisions = store.decisions_for(engine, dataset_id)
    latest = decisions.drop_duplicates(["household_id", "dwelling_id"], keep="last")
    rejected = latest[latest["action"] == "reject"][["household_id", "dwelling_id"]]
    rejected = rejected.dropna().reset_index(drop=True)
    locks = held[["household_id", "dwelling_id"]].reset_index(drop=True)
    notes: list[str] = []
    if dataset is None:
        return locks, rejected, notes
    households = set(dataset.households["household_id"].astype(str))
    dwellings = set(dataset.dwellings["dwelling_id"].astype(str))
    keep = []
    for row in held.itertuples(index=False):
        gone = []
        if str(row.household_id) not in households:
            gone.append(f"household {row.household_id} is no longer in households.csv")
        if str(row.dwelling_id) not in dwellings:
            gone.append(f"dwelling {row.dwelling_id} is no longer in dwellings.csv")
        keep.append(not gone)
        if gone:
            verb = "approved" if row.action == "approve" else "locked"
            when = pd.Timestamp(row.decided_at).strftime("%Y-%m-%d %H:%M UTC")
            notes.append(
                f"Dwelling {row.dwelling_id} {verb} for household {row.household_id} by "
                f"{row.decided_by} at {when} (decision {row.decision_id}) cannot be kept in "
                f"this plan: {' and '.join(gone)}. It stays held until it is released "
                "(an undo decision)."
            )
    locks = locks[pd.Series(keep, dtype=bool).to_numpy()] if len(locks) else locks
    present = (rejected["household_id"].astype(str).isin(households)
               & rejected["dwelling_id"].astype(str).isin(dwellings))
    return locks.reset_index(drop=True), rejected[present].reset_index(drop=True), notes


def held_placements(engine: Engine, dataset_dir: str | Path, *, dataset: Dataset | None = None,
                    user: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Return what the decisions of the dataset's municipality fix for a new plan on it.

    The dataset is registered (by content hash, with its dwelling ids) so that its municipality
    is known; every approved or locked placement of that municipality, made on any version of
    its data, is returned as a lock when its household and dwelling are still in the data, and
    described in words otherwise.

    Parameters
    ----------
    engine : Engine
        Open database.
    dataset_dir : str or Path
        The data the plan is made on.
    dataset : Dataset, optional
        The same data, already loaded.
    user : str, optional
        Who registers the dataset.

    Returns
    -------
    tuple
        ``locks`` and ``rejected`` (household_id, dwelling_id) for
        :func:`make_plan`, and the notes (list of str) on placements that cannot be kept.
    """
    from placement import store

    ds = dataset if dataset is not None else load_dataset(dataset_dir)
    dataset_id = store.register_dataset(engine, dataset_dir, user=user,
                                        dwelling_ids=ds.dwellings["dwelling_id"])
    return _decided(engine, dataset_id, ds)


def plan_with_decisions(engine: Engine, dataset_dir: str | Path,
                        policy: str | Path | Policy = "default", *, user: str | None = None,
                        **kwargs: Any) -> Plan:
    """Make a plan that keeps every approved and locked placement of the municipality.

    A new run on updated data (a new households.csv, say) keeps earlier approvals and locks
    as they are; one whose household or dwelling is gone from the data is listed in words in
    ``plan.decision_notes`` (and in the stored run's summary).

    Parameters
    ----------
    engine : Engine
        Open database.
    dataset_dir : str or Path
        The data.
    policy : str, Path or Policy
        Policy to solve under.
    user : str, optional
        Who makes the plan.
    **kwargs
        Passed to :func:`make_plan` (not ``locks`` or ``rejected``).

    Returns
    -------
    Plan
    """
    ds = kwargs.pop("dataset", None) or load_dataset(dataset_dir)
    locks, rejected, notes = held_placements(engine, dataset_dir, dataset=ds, user=user)
    plan = make_plan(dataset_dir, policy, locks=locks, rejected=rejected, dataset=ds, **kwargs)
    plan.decision_notes = notes
    return plan


def reoptimise(engine: Engine, run_id: int, dataset_dir: str | Path,
               policy: str | Path | Policy = "default", *, user: str | None = None,
               **kwargs: Any) -> tuple[Plan, int]:
    """Re-optimise a stored run keeping every decision; store and return the new run.

    Approved and locked placements stay fixed, rejected pairs never return, and among the plans
    that house as many and whose quality is within ``objective.keep_tolerance`` of the best,
    the one that keeps the most previous proposals is chosen (the summary's ``kept``).

    Parameters
    ----------
    engine : Engine
        Open database.
    run_id : int
        The run decided on.
    dataset_dir : str or Path
        Its dataset.
    policy : str, Path or Policy
        Policy to solve under.
    user : str, optional
        Who re-optimises.
    **kwargs
        Passed to :func:`make_plan`.

    Returns
    -------
    tuple
        The new plan and its run id.
    """
    from placement import store

    _, previous = store.load_run(engine, run_id)
    locks, rejected = decisions_for_run(engine, run_id, dataset_dir=dataset_dir,
                                        dataset=kwargs.get("dataset"))
    pol = policy_for(policy)
    if pol.objective.mode == "weighted":
        # Keeping the previous plan must be worth more than the solver's stopping tolerance, or
        # a plan within the gap that moves many households could come back instead. The
        # lexicographic objective keeps them in a stage of its own (objective.keep_tolerance).
        bonus = max(pol.solver.stability_bonus, 2.0 * pol.solver.mip_gap)
        pol = pol.with_overrides(solver={"stability_bonus": bonus})
    plan = make_plan(dataset_dir, pol, locks=locks, rejected=rejected,
                     previous=previous[["household_id", "dwelling_id"]], **kwargs)
    return plan, store_plan(engine, plan, user=user)


@dataclass
class ScenarioResult:
    """A scenario's plan and where it went.

    Attributes
    ----------
    scenario : Scenario
        The scenario.
    folder : Path
        Its materialised dataset folder.
    plan : Plan
        The plan.
    run_id : int or None
        The stored run, when a database was given.
    """

    scenario: Scenario
    folder: Path
    plan: Plan
    run_id: int | None = None


def run_scenario(scenario: Scenario, work_dir: str | Path, *, engine: Engine | None = None,
                 user: str | None = None, base_access: pd.DataFrame | None = None,
                 time_limit_s: float | None = None, date: Any = None,
                 window: tuple[str, str] = DEFAULT_WINDOW,
                 solver_threads: int | None = None) -> ScenarioResult:
    """Run a scenario: apply its changes, recompute what they touch, propose and measure.

    Accessibility is reused when the changes touch neither the network nor the feed nor the
    dwellings' locations (``base_access``, or the disk cache keyed by file contents).

    Parameters
    ----------
    scenario : Scenario
        A parsed scenario (:func:`placement.scenario.read_scenario`).
    work_dir : str or Path
        Folder for the scenario's dataset (``work_dir/<name>``).
    engine : Engine, optional
        Database to store the scenario and its run in.
    user : str, optional
        Who runs it.
    base_access : pandas.DataFrame, optional
        The base dataset's accessibility table, reused when nothing it depends on changed.
    time_limit_s : float, optional
        Solver time limit.
    date, window
        Service date and departure window of the public-transport measures; the scenario's
        own date (``[scenario] date`` or a ``date`` change) wins over ``date``.
    solver_threads : int, optional
        Threads of the solver (replaces the policy's ``solver.threads``; a sweep's runs use its
        ``[sweep] solver_threads``).

    Returns
    -------
    ScenarioResult
    """
    base = load_dataset(scenario.dataset_dir)
    check_changes(scenario, base)
    slug = "".join(c if c.isalnum() else "_" for c in scenario.name.lower()).strip("_") or "s"
    folder = materialise(scenario, Path(work_dir) / slug, dataset=base)
    ds = load_dataset(folder)
    touched = scenario.touches
    access = None
    if base_access is not None and not (touched & {"gtfs", "accessibility"}):
        keep = base_access.index.astype(str).isin(ds.dwellings["dwelling_id"].astype(str))
        access = base_access[keep]
    own_date = scenario.effective_date()
    policy = policy_for(scenario.effective_policy())
    if solver_threads is not None:
        policy = policy.with_overrides(solver={"threads": int(solver_threads)})
    plan = make_plan(folder, policy,
                     date=own_date if own_date is not None else date, window=window,
                     weights=scenario.weight_overrides(),
                     area_caps=scenario.area_caps(), dataset=ds, access=access,
                     time_limit_s=time_limit_s)
    run_id = None
    if engine is not None:
        from placement import store

        dataset_id = store.register_dataset(engine, scenario.dataset_dir, user=user,
                                            dwelling_ids=base.dwellings["dwelling_id"])
        scenario_id = store.save_scenario(engine, name=scenario.name, definition=scenario.raw,
                                          dataset_id=dataset_id, user=user)
        run_id = store_plan(engine, plan, scenario_id=scenario_id, user=user)
    return ScenarioResult(scenario=scenario, folder=folder, plan=plan, run_id=run_id)


def compare_plans(plans: Mapping[str, Plan]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Measures side by side with differences, and the households whose proposal changed.

    Parameters
    ----------
    plans : mapping
        Name → plan, the base first.

    Returns
    -------
    tuple of pandas.DataFrame
        The measures table (:func:`placement.measures.compare`) with one row per area added
        (``persons in <area> / cap``), and the changed proposals.
    """
    table = ms.compare({name: p.measures for name, p in plans.items()})
    rows = []
    for name, p in plans.items():
        for rec in p.area_table.itertuples():
            rows.append({"key": f"area_{rec.area_id}", "measure": f"Persons placed in {rec.name}",
                         "unit": f"persons (cap {rec.cap_persons})", "scenario": name,
                         "value": float(rec.persons_placed)})
    if rows:
        long = pd.DataFrame(rows)
        wide = long.pivot_table(index=["key", "measure"], columns="scenario", values="value",
                                aggfunc="first").reset_index()
        units = long.groupby("key")["unit"].first()
        wide["unit"] = wide["key"].map(units)
        wide = wide.set_index("key")
        names = list(plans)
        for name in names[1:]:
            wide[f"Δ {name}"] = wide[name] - wide[names[0]]
        table = pd.concat([table, wide[table.columns]])
    changed = ms.changed_proposals({name: p.assignments for name, p in plans.items()})
    return table, changed


def scenario_names(results: Sequence[ScenarioResult]) -> list[str]:
    """Return unique display names for scenario results (suffixing duplicates)."""
    seen: dict[str, int] = {}
    out = []
    for r in results:
        name = r.scenario.name
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


def _run_parts(engine: Engine, run_id: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return a stored run's proposals and the decision status of each."""
    from placement import store

    _, proposals = store.load_run(engine, run_id)
    return proposals, store.proposal_status(engine, run_id)


def run_table(engine: Engine, run_id: int, dataset: Dataset) -> pd.DataFrame:
    """Return the case-handling table of a stored run (address, area and decisions).

    Parameters
    ----------
    engine : Engine
        Open database.
    run_id : int
        The run.
    dataset : Dataset
        Its dataset (for addresses and area names).

    Returns
    -------
    pandas.DataFrame
        As :func:`placement.export.proposals_table`.
    """
    from placement import export

    proposals, status = _run_parts(engine, run_id)
    return export.proposals_table(proposals, dataset.dwellings, dataset.areas, status=status,
                                  run_id=run_id)


def export_run_csv(engine: Engine, run_id: int, dataset: Dataset, path: str | Path, *,
                   sep: str = ",") -> Path:
    """Write a stored run's proposals CSV for case handling (atomically).

    Parameters
    ----------
    engine : Engine
        Open database.
    run_id : int
        The run.
    dataset : Dataset
        Its dataset.
    path : str or Path
        Target CSV.
    sep : str
        ``,`` or ``;`` (Danish Excel; decimal comma then).

    Returns
    -------
    Path
    """
    from placement import export

    proposals, status = _run_parts(engine, run_id)
    return export.write_proposals_csv(proposals, path, sep=sep, dwellings=dataset.dwellings,
                                      areas=dataset.areas, status=status, run_id=run_id)


def export_run_gpkg(engine: Engine, run_id: int, dataset: Dataset, path: str | Path) -> Path:
    """Write a stored run's proposals, dwellings and areas as a GeoPackage (atomically).

    Parameters
    ----------
    engine : Engine
        Open database.
    run_id : int
        The run.
    dataset : Dataset
        Its dataset.
    path : str or Path
        Target ``.gpkg``.

    Returns
    -------
    Path
    """
    from placement import export

    proposals, status = _run_parts(engine, run_id)
    return export.write_proposals_gpkg(proposals, dataset.dwellings, dataset.areas, path,
                                       status=status, run_id=run_id)


def proposals_for_case_handling(plan: Plan) -> pd.DataFrame:
    """Return the plan's assignments with address and local-area name, for the proposals CSV.

    Parameters
    ----------
    plan : Plan
        The plan.

    Returns
    -------
    pandas.DataFrame
        ``household_id``, ``dwelling_id`` (empty when unplaced), ``address``, ``local_area``,
        ``score``, one column per score term, ``unplaced_reason`` and the optimiser's other
        columns.
    """
    a = plan.assignments.copy()
    dw = plan.dataset.dwellings.set_index(plan.dataset.dwellings["dwelling_id"].astype(str))
    names = dict(zip(plan.dataset.areas["area_id"].astype(str), plan.dataset.areas["name"],
                     strict=True))
    ids = a["dwelling_id"].astype("string")
    a.insert(2, "address", ids.map(dw["address"].to_dict()).astype("string"))
    area = ids.map(dw["area_id"].astype(str).to_dict()).astype("string")
    a.insert(3, "local_area", area.map(names).astype("string"))
    return a


def write_plan(plan: Plan, out_csv: str | Path) -> dict[str, Path]:
    """Write a plan's proposals CSV and its run summary JSON (with the measures) atomically.

    Parameters
    ----------
    plan : Plan
        The plan.
    out_csv : str or Path
        The proposals CSV; ``<stem>.summary.json``, ``<stem>.areas.csv`` and
        ``<stem>.alternatives.csv`` go beside it.

    Returns
    -------
    dict
        Paths written.
    """
    from dataclasses import replace

    from placement.optimizer import write_proposal

    summary = {**plan.proposal.summary, "measures": plan.measures}
    if plan.retention is not None:
        summary["retention"] = retention_summary(plan)
    enriched = replace(plan.proposal, assignments=proposals_for_case_handling(plan),
                       summary=summary)
    return write_proposal(enriched, out_csv)


def policy_of_run(run: Mapping[str, Any]) -> Policy:
    """Rebuild the policy a stored run was solved under (from its JSON).

    Parameters
    ----------
    run : mapping
        From :func:`placement.store.load_run`.

    Returns
    -------
    Policy
    """
    stored = dict(run.get("policy") or {})
    head = {k: stored.pop(k) for k in ("name", "description") if k in stored}
    return Policy.from_dict({"policy": head, **stored}, source=f"run {run.get('run_id')}")


def run_area_table(engine: Engine, run_id: int, dataset: Dataset | None = None
                   ) -> pd.DataFrame:
    """Persons placed per local area against its cap, for a stored run.

    Parameters
    ----------
    engine : Engine
        Open database.
    run_id : int
        The run.
    dataset : Dataset, optional
        Its dataset. Default: the folder the run's dataset was registered from (for a
        scenario or sweep run, its own materialised folder, whose households, dwellings and
        areas may differ from the base's), provided it still holds the same files.

    Returns
    -------
    pandas.DataFrame
        As :func:`placement.measures.area_table`.

    Raises
    ------
    DataError
        ``dataset`` not given and the run's folder is gone or its files changed since.
    """
    from placement import auth, store

    with auth.aggregating():  # reads the proposals only to count persons per area
        run, proposals = store.load_run(engine, run_id)
    if dataset is None:
        folder, sha = store.dataset_folder(engine, int(run["dataset_id"]))
        if not folder.is_dir():
            msg = (f"run {run_id}: its dataset folder is gone; its areas cannot be counted "
                   "(run the scenario again)")
            raise DataError.single(str(folder), msg)
        if store.hash_dataset(folder)[1] != sha:
            msg = (f"run {run_id}: the folder's files changed since the run; its areas "
                   "cannot be counted on them (run the scenario again)")
            raise DataError.single(str(folder), msg)
        dataset = load_dataset(folder)
    pol = policy_of_run(run)
    caps = ms.area_caps(dataset.areas, pol.rules.max_area_share, pol.rules.area_max_share)
    return ms.area_table(proposals, dataset.households, dataset.dwellings, dataset.areas, caps)


def batch_plan(dataset_dir: str | Path, policy: str | Path | Policy = "default", *,
               until: Any, engine: Engine | None = None, date: Any = None,
               window: tuple[str, str] = DEFAULT_WINDOW, dataset: Dataset | None = None,
               access: pd.DataFrame | None = None, **kwargs: Any) -> Any:
    """Decide the batch at ``until`` on a dataset (see ``weekly.propose_batch``).

    With ``engine``, every approved and locked placement of the municipality is kept and every
    rejected pair is left out, as in :func:`plan_with_decisions`; the notes on decisions that
    cannot be kept go to the summary's ``notes``.

    Parameters
    ----------
    dataset_dir : str or Path
        The dataset.
    policy : str, Path or Policy
        Preset, policy file or policy.
    until : date or str
        Batch date.
    engine : Engine, optional
        Database with the decisions.
    date, window
        Service date and departure window of the public-transport measures.
    dataset, access
        Already loaded dataset and accessibility table.
    **kwargs
        Passed on (``quota``, ``vacancies``, ``n_scenarios``, ``seed``, ``cadence_days``,
        ``end``, ``time_limit_s``).

    Returns
    -------
    placement.optimizer.weekly.BatchPlan
    """
    from placement.optimizer.weekly import propose_batch

    folder = Path(dataset_dir)
    ds, acc, pol = _year_inputs(folder, policy, date, window, dataset, access)
    locks = rejected = None
    notes: list[str] = []
    if engine is not None:
        locks, rejected, notes = held_placements(engine, folder, dataset=ds)
    plan = propose_batch(ds.households, ds.dwellings, ds.areas, acc, pol, until, locks=locks,
                         rejected=rejected, **kwargs)
    plan.summary["notes"] = [*plan.summary.get("notes", []), *notes]
    return plan


def _year_inputs(folder: Path, policy: str | Path | Policy, date: Any,
                 window: tuple[str, str], dataset: Dataset | None,
                 access: pd.DataFrame | None) -> tuple[Dataset, pd.DataFrame, Policy]:
    """Dataset, accessibility (with predicted retention when weighed) and policy of a year."""
    ds = dataset if dataset is not None else load_dataset(folder)
    acc = access if access is not None else accessibility(folder, date=date, window=window)
    pol = policy_for(policy)
    acc, _ = access_with_retention(ds, acc, pol)
    return ds, acc, pol


def simulate_year_on(dataset_dir: str | Path, policy: str | Path | Policy = "default", *,
                     date: Any = None, window: tuple[str, str] = DEFAULT_WINDOW,
                     dataset: Dataset | None = None, access: pd.DataFrame | None = None,
                     **kwargs: Any) -> Any:
    """Replay a dataset's year in batches (see :func:`placement.optimizer.year.simulate_year`).

    Returns
    -------
    placement.optimizer.year.YearResult
    """
    from placement.optimizer.year import simulate_year

    folder = Path(dataset_dir)
    ds, acc, pol = _year_inputs(folder, policy, date, window, dataset, access)
    return simulate_year(ds.households, ds.dwellings, ds.areas, acc, pol, **kwargs)
