"""The whole job on one dataset, in the order the data flows; used by ``placement demo``.

Each step reads what the previous ones produced and writes its outputs into one folder:

1. load and validate the dataset (``validation.json``);
2. accessibility of every dwelling (``accessibility.csv``);
3. proposals under the policy (``proposals.csv`` with ``proposals.summary.json``);
4. the run stored in a SQLite database (``placement.db``) and exported for case handling
   (``proposals_case_handling.csv``, ``proposals.gpkg``);
5. the fairness audit of the proposals by household type and step-free need
   (``fairness.html`` and ``.csv``);
6. a what-if scenario (a bus line cut, more arrivals) compared with the base
   (``scenario/compare.csv``, ``scenario/changed.csv``);
7. the annual retention report (``retention_<year>.html`` and ``.csv``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from placement._errors import DataError
from placement.dataset import validate_dataset

logger = logging.getLogger(__name__)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def write_json(data: dict[str, Any], path: Path) -> Path:
    """Write ``data`` as indented UTF-8 JSON atomically (temporary file, then rename).

    Parameters
    ----------
    data : dict
        JSON-serialisable mapping (dates become ISO strings).
    path : Path
        Target file.

    Returns
    -------
    Path
        The written file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(_jsonable(data), indent=2, ensure_ascii=False) + "\n",
                   encoding="utf-8")
    tmp.replace(path)
    return path


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """Render a validation summary as ``key: value`` lines for the terminal.

    Parameters
    ----------
    summary : dict
        ``ValidationReport.summary``.

    Returns
    -------
    list of str
        One line per entry; nested mappings are written ``k=v, ...``.
    """
    lines = []
    for key, value in summary.items():
        if key == "warnings":  # listed after the summary, one per line, by the caller
            continue
        if isinstance(value, dict):
            text = ", ".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list | tuple):
            text = " to ".join(str(v) for v in value)
        else:
            text = str(value)
        lines.append(f"{key}: {text}")
    return lines


def run_demo(
    dataset_dir: str | Path,
    out_dir: str | Path,
    *,
    policy: str = "default",
    report_year: int = 2025,
    progress: Callable[[str], None] | None = None,
) -> list[str]:
    """Run every step of the pipeline on a dataset and write the outputs to ``out_dir``.

    Parameters
    ----------
    dataset_dir : str or Path
        Folder with ``dataset.toml`` (the bundled demo by default in the CLI).
    out_dir : str or Path
        Folder for the outputs; created when missing.
    policy : str
        Policy preset or file for the proposals.
    report_year : int
        Latest year of the retention report (the last year with ended periods up to it).
    progress : callable, optional
        Called with a short message as each step starts.

    Returns
    -------
    list of str
        A summary for the terminal.

    Raises
    ------
    DataError
        When the dataset is invalid (nothing is written then).
    """
    say = progress or (lambda msg: logger.info("%s", msg))
    dataset_dir, out = Path(dataset_dir), Path(out_dir)
    say("load and validate the dataset")
    report = validate_dataset(dataset_dir)
    if report.problems:
        raise DataError(report.problems)
    lines = [f"Dataset {dataset_dir} is valid.", *summary_lines(report.summary)]
    write_json(report.summary, out / "validation.json")

    from placement import db, planning
    from placement.accessibility import write_access_table
    from placement.dataset import load_dataset

    say("measure accessibility")
    ds = load_dataset(dataset_dir)
    access = planning.accessibility(dataset_dir)
    write_access_table(access, None, out / "accessibility.csv")
    lines.append(f"Accessibility of {len(access)} dwellings: {out / 'accessibility.csv'}")

    say(f"propose placements (policy {policy})")
    plan = planning.make_plan(dataset_dir, policy, dataset=ds, access=access)
    planning.write_plan(plan, out / "proposals.csv")
    s = plan.proposal.summary
    lines.append(f"Proposals: {s['n_placed']} of {s['n_households']} households placed, "
                 f"{s['status']}, gap {s['gap']:.2%}: {out / 'proposals.csv'}")

    say("store the run and export it for case handling")
    url = f"sqlite:///{(out / 'placement.db').resolve()}"
    db.upgrade(url)
    engine = db.open_engine(url)
    run_id = planning.store_plan(engine, plan)
    planning.export_run_csv(engine, run_id, ds, out / "proposals_case_handling.csv", sep=";")
    planning.export_run_gpkg(engine, run_id, ds, out / "proposals.gpkg")
    lines.append(f"Stored as run {run_id} in {out / 'placement.db'}; exports: "
                 f"{out / 'proposals_case_handling.csv'}, {out / 'proposals.gpkg'}")

    say("fairness audit of the proposals")
    lines.append(fairness_step(plan, out / "fairness.html"))

    if ds.gtfs_path is not None:
        say("what-if: a bus line cut and 25 % more arrivals")
        from placement.gtfs import load_gtfs
        from placement.scenario import scenario_from_dict

        feed = load_gtfs(ds.gtfs_path)
        buses = feed.routes[feed.routes["route_type"].astype(int) == 3]
        route = str(sorted(buses["route_id"].astype(str))[0])
        definition = {"scenario": {"name": f"line {route} cut, 25 % more arrivals",
                                   "dataset": str(Path(dataset_dir).resolve()),
                                   "policy": str(policy)},
                      "change": [{"kind": "cut_route", "route_id": route},
                                 {"kind": "arrivals", "factor": 1.25}]}
        scen = scenario_from_dict(definition, base=Path(dataset_dir))
        result = planning.run_scenario(scen, out / "scenario" / "datasets", engine=engine)
        table, changed = planning.compare_plans({"base": plan, scen.name: result.plan})
        write_compare(table, changed, out / "scenario")
        m = result.plan.measures
        lines.append(f"What-if '{scen.name}': {m['households_placed']:.0f} households placed, "
                     f"{m['share_near_served_stop']:.0%} of persons near a served stop "
                     f"(base {plan.measures['share_near_served_stop']:.0%}): "
                     f"{out / 'scenario' / 'compare.csv'}")

    if ds.history is not None:
        say("annual retention report")
        from placement import store
        from placement.report import write_retention_report

        # the history is kept in the database; the report reads it back from there, with the
        # accessibility of each dwelling at placement joined from the measured table
        dataset_id = store.register_dataset(engine, dataset_dir)
        store.save_history(engine, dataset_id=dataset_id, history=ds.history)
        history = store.load_history(engine, dataset_id)
        year = int(ds.history["integration_end"].dropna().dt.year.clip(upper=report_year).max())
        paths = write_retention_report(history, year=year, baseline_year=year - 1,
                                       out=out / f"retention_{year}.html", measures=access,
                                       municipality=ds.manifest.name, areas=ds.areas)
        lines.append(f"Retention report {year}: {paths.html}")
    lines.append(f"Outputs written to {out}")
    return lines


def fairness_step(plan: Any, out: Path) -> str:
    """Audit a plan by household type and step-free need; write ``out`` (+ ``.csv``).

    The retention model is fitted when the dataset has a history (its validation is shown
    beside the predictions); without one, predicted retention is unknown.

    Returns
    -------
    str
        A line for the terminal.
    """
    from placement.fairness import write_fairness_report
    from placement.fairness_plans import audit_plans

    audit, words = audit_plans({f"as proposed ({plan.policy.name})": plan})
    html, csv = write_fairness_report(audit, out, title=plan.dataset.manifest.name,
                                      validation_words=words)
    flags = f", {len(audit.flags)} disparity flag(s)" if audit.flags else ""
    return f"Fairness audit{flags}: {html} (numbers: {csv})"


def write_compare(table: Any, changed: Any, out_dir: str | Path) -> list[str]:
    """Write a scenario comparison as CSV (``compare.csv``, ``changed.csv``) and render it.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`placement.planning.compare_plans`.
    changed : pandas.DataFrame
        Households whose proposal changed.
    out_dir : str or Path
        Folder to write into.

    Returns
    -------
    list of str
        Lines for the terminal.
    """
    from placement.export import atomic_path, neutralise_formulas

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in (("compare.csv", table), ("changed.csv", changed)):
        with atomic_path(out / name) as tmp:
            neutralise_formulas(frame).to_csv(tmp, index=name == "compare.csv",
                                              encoding="utf-8-sig")
    shown = table.drop(columns=["unit"]).set_index("measure")
    text = shown.to_string(float_format=lambda v: f"{v:.3g}")
    return [text, "", f"{len(changed)} household(s) with a changed proposal.",
            f"Written: {out / 'compare.csv'}, {out / 'changed.csv'}"]
