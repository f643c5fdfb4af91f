"""Command-line interface: a thin shell over the library (``placement --help``)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from placement._errors import DataError, PlacementError

app = typer.Typer(
    name="placement",
    help=(
        "Plan permanent housing for newly arrived refugee households: validate a dataset, "
        "measure accessibility, propose placements, compare scenarios, report retention."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

REPO_DEMO_DIR = Path(__file__).resolve().parents[1] / "data" / "geo" / "demo"

DatasetDir = Annotated[
    Path,
    typer.Argument(help="Folder with a dataset.toml manifest.", show_default=False),
]


def _fail(err: PlacementError) -> typer.Exit:
    """Print a library error for a person and return the exit to raise."""
    if isinstance(err, DataError):
        for problem in err.problems:
            typer.echo(str(problem), err=True)
        n = len(err.problems)
        typer.echo(f"{n} problem{'s' if n != 1 else ''}: nothing was written.", err=True)
    else:
        typer.echo(f"error: {err}", err=True)
    return typer.Exit(code=1)


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@app.command("validate")
def validate_cmd(dataset_dir: DatasetDir) -> None:
    """Check every file of a dataset; print each problem as file:row:column: message."""
    from placement.dataset import validate_dataset
    from placement.pipeline import summary_lines

    report = validate_dataset(dataset_dir)
    for problem in report.problems:
        typer.echo(str(problem))
    for warning in report.warnings:
        typer.echo(str(warning))
    for line in summary_lines(report.summary):
        typer.echo(line)
    if report.problems:
        n = len(report.problems)
        typer.echo(f"{n} problem{'s' if n != 1 else ''} found.", err=True)
        raise typer.Exit(code=1)
    n_warn = len(report.warnings)
    typer.echo("The dataset is valid" + (f", with {n_warn} warning{'s' if n_warn != 1 else ''}"
                                         " (see above)." if n_warn else "."))


@app.command("demo-data")
def demo_data_cmd(
    seed: Annotated[int, typer.Option(help="Seed of the generator.")] = 42,
    out: Annotated[Path, typer.Option(help="Folder to write the dataset into.")] = REPO_DEMO_DIR,
) -> None:
    """Generate the fictional demo municipality (same seed, same bytes)."""
    from placement.demo import generate_demo

    path = generate_demo(out, seed=seed)
    typer.echo(f"Demo dataset written to {path}")


@app.command("demo")
def demo_cmd(
    out: Annotated[Path, typer.Option(help="Folder for the outputs.")] = Path("demo-output"),
    dataset: Annotated[Path, typer.Option(help="Dataset folder.")] = REPO_DEMO_DIR,
) -> None:
    """Run the whole pipeline on the bundled demo dataset and write its outputs to OUT."""
    from placement.pipeline import run_demo

    try:
        summary = run_demo(dataset, out, progress=lambda msg: typer.echo(f"… {msg}", err=True))
    except PlacementError as err:
        raise _fail(err) from None
    for line in summary:
        typer.echo(line)


def _window(text: str) -> tuple[str, str]:
    parts = [p.strip() for p in text.split("-")]
    if len(parts) != 2 or not all(parts):
        msg = f"--window must look like 07:00-09:00, got {text!r}"
        raise typer.BadParameter(msg)
    return parts[0], parts[1]


@app.command("access")
def access_cmd(
    dataset_dir: DatasetDir,
    out: Annotated[Path, typer.Option(help="Table to write: .csv or .gpkg.")],
    date: Annotated[
        str | None,
        typer.Option(help="Service date YYYY-MM-DD (default: a Tuesday/Wednesday with service)."),
    ] = None,
    window: Annotated[
        str, typer.Option(help="Departure window, e.g. 07:00-09:00.")
    ] = "07:00-09:00",
    step_min: Annotated[float, typer.Option(help="Minutes between departures.")] = 2.0,
    walk_speed_kmh: Annotated[float, typer.Option(help="Walking speed.")] = 4.5,
) -> None:
    """Measure walking and public-transport access from every dwelling; write the table."""
    from placement.accessibility import accessibility_for_dataset, write_access_table
    from placement.dataset import load_dataset

    try:
        table = accessibility_for_dataset(
            dataset_dir, date=date, window=_window(window), step_min=step_min,
            walk_speed_kmh=walk_speed_kmh,
        )
        dwellings = load_dataset(dataset_dir).dwellings if out.suffix == ".gpkg" else None
        path = write_access_table(table, dwellings, out)
    except PlacementError as err:
        raise _fail(err) from None
    from placement.accessibility import WALK_UNKNOWN_REASONS, unknown_counts

    typer.echo(f"Accessibility of {len(table)} dwellings written to {path}.")
    for reason, n in unknown_counts(table).items():
        typer.echo(f"{n} dwelling(s) lie {WALK_UNKNOWN_REASONS[reason]}: no walk or transit "
                   "data (left empty, never 0).")
    missing = table.attrs.get("categories_without_places") or []
    if missing:
        typer.echo(f"No place of {', '.join(missing)} in the OSM data: unknown for every "
                   "dwelling.")


def _access_params(dataset_dir: Path, date: str | None, window: str | None
                   ) -> tuple[str | None, tuple[str, str]]:
    """Date and window for propose/scenario: as given, else those of the last ``access`` run."""
    from placement.accessibility import last_access_params
    from placement.planning import DEFAULT_WINDOW

    win = _window(window) if window is not None else None
    if date is None or win is None:
        last = last_access_params(dataset_dir)
        if last is not None:
            taken = []
            if win is None:
                win = (str(last["window"][0]), str(last["window"][1]))
                taken.append(f"window {win[0]}-{win[1]}")
            if date is None and last.get("date") is not None:
                date = str(last["date"])
                taken.append(f"date {date}")
            if taken:
                typer.echo(f"Using the {' and '.join(taken)} of the last `placement access` run "
                           "on this dataset (give --date/--window to choose).", err=True)
    return date, win if win is not None else DEFAULT_WINDOW


WindowOpt = Annotated[
    str | None,
    typer.Option(help="Departure window, e.g. 07:00-09:00 (default: that of the last "
                 "`placement access` run on the dataset, else 07:00-09:00)."),
]
DateOpt = Annotated[
    str | None,
    typer.Option(help="Service date YYYY-MM-DD (default: that of the last `placement access` "
                 "run, else a Tuesday/Wednesday with service)."),
]

PolicyOpt = Annotated[
    str,
    typer.Option("--policy", help="Policy file or preset (default, stevns, kalundborg, "
                 "vordingborg, norddjurs)."),
]


FairnessOpt = Annotated[
    bool,
    typer.Option("--fairness/--no-fairness",
                 help="Write the fairness audit (fairness.html and fairness.csv) beside the "
                 "outputs: by household type and step-free need, no extra solve."),
]


def _print_fairness(audit: Any, paths: tuple[Path, Path]) -> None:
    for flag in audit.flags:
        typer.echo(f"  fairness flag: {flag}")
    typer.echo(f"Fairness audit written to {paths[0]} (numbers: {paths[1]}).")


@app.command("propose")
def propose_cmd(
    dataset_dir: DatasetDir,
    out: Annotated[Path, typer.Option(help="Proposals CSV to write.")] = Path("proposals.csv"),
    policy: PolicyOpt = "default",
    date: DateOpt = None,
    window: WindowOpt = None,
    time_limit_s: Annotated[float | None, typer.Option(help="Solver time limit (s).")] = None,
    mip_gap: Annotated[float | None, typer.Option(help="Target relative gap.")] = None,
    db_url: DbUrl = None,
    store_run: Annotated[bool, typer.Option("--store/--no-store", help="Store the run.")] = False,
    batch_until: Annotated[
        str | None,
        typer.Option(help="Decide the weekly batch at this date YYYY-MM-DD: households "
                     "arrived by then are placed or wait; dwellings are kept free for "
                     "expected arrivals (see README, Batches through the year)."),
    ] = None,
    quota: Annotated[int | None, typer.Option(help="With --batch-until: households expected "
                                              "in the year (default: those in the data).")
                     ] = None,
    vacancies: Annotated[int | None, typer.Option(help="With --batch-until: dwellings "
                                                  "expected to free in the year after the "
                                                  "batch date (default: those in the data).")
                         ] = None,
    scenarios: Annotated[int, typer.Option(help="With --batch-until: sampled futures.")] = 4,
    seed: Annotated[int, typer.Option(help="With --batch-until: seed of the futures.")] = 0,
    fairness: FairnessOpt = True,
) -> None:
    """Propose a dwelling for every household; write proposals CSV, summary and fairness audit.

    The run summary (JSON) and the plan's fairness audit (fairness.html, fairness.csv) go
    beside the proposals.
    """
    from placement import planning

    if batch_until is not None:
        _batch_cmd(dataset_dir, out, policy, date, window, time_limit_s, db_url, batch_until,
                   quota, vacancies, scenarios, seed)
        return
    try:
        date, win = _access_params(dataset_dir, date, window)
        engine = None
        if store_run or db_url:
            from placement import db

            # With a database, every approved and locked placement of the municipality is kept.
            engine = db.open_engine(db_url)
            plan = planning.plan_with_decisions(engine, dataset_dir, policy, date=date,
                                                window=win, time_limit_s=time_limit_s,
                                                mip_gap=mip_gap)
        else:
            plan = planning.make_plan(dataset_dir, policy, date=date, window=win,
                                      time_limit_s=time_limit_s, mip_gap=mip_gap)
        paths = planning.write_plan(plan, out)
        run_id = None if engine is None else planning.store_plan(engine, plan)
    except PlacementError as err:
        raise _fail(err) from None
    fair = None
    if fairness:  # an optional output: its failure never loses the plan or its stored run
        from placement.fairness_plans import write_plan_fairness

        try:
            fair = write_plan_fairness({f"as proposed ({plan.policy.name})": plan}, out.parent,
                                       title=plan.dataset.manifest.name)
        except Exception as err:  # reported in words: the plan stands
            logging.getLogger(__name__).debug("fairness audit failed", exc_info=True)
            typer.echo(f"warning: the fairness audit was not written: {err}", err=True)
    s = plan.proposal.summary
    typer.echo(f"{s['n_placed']} of {s['n_households']} households placed "
               f"({s['status']}, objective {s['objective']:.4g}, gap {s['gap']:.2%}, "
               f"solved in {s['solve_s']:.1f} s).")
    for reason in s.get("reasons", []):
        typer.echo(f"  {reason}")
    for note in s.get("notes", []):
        typer.echo(f"  note: {note}")
    for info in (s.get("unknown") or {}).values():
        if info.get("dwellings_no_data"):
            typer.echo(f"  no data: {info['words']}")
    for note in plan.decision_notes:
        typer.echo(f"  {note}")
    for line in planning.retention_lines(plan):
        typer.echo(f"  {line}")
    typer.echo(f"Proposals written to {paths['assignments']}, summary {paths['summary']}.")
    if fair is not None:
        _print_fairness(*fair)
    if run_id is not None:
        typer.echo(f"Stored as run {run_id}.")


def _batch_cmd(dataset_dir: Path, out: Path, policy: str, date: str | None,
               window: str | None, time_limit_s: float | None, db_url: str | None,
               until: str, quota: int | None, vacancies: int | None, scenarios: int,
               seed: int) -> None:
    """``propose --batch-until``: decide one batch and write it."""
    from placement import planning
    from placement.optimizer.weekly import write_batch

    try:
        date, win = _access_params(dataset_dir, date, window)
        engine = None
        if db_url:
            from placement import db

            engine = db.open_engine(db_url)
        plan = planning.batch_plan(dataset_dir, policy, until=until, engine=engine, date=date,
                                   window=win, quota=quota, vacancies=vacancies,
                                   n_scenarios=scenarios, seed=seed, time_limit_s=time_limit_s)
        paths = write_batch(plan, out)
    except PlacementError as err:
        raise _fail(err) from None
    s = plan.summary
    typer.echo(f"Batch of {s['batch_date']}: {s['n_placed']} placed, {s['n_waiting']} wait in "
               f"temporary housing, {s['n_later']} arrive later; {s['n_kept']} of "
               f"{s['n_free_dwellings']} free dwellings kept for expected arrivals "
               f"({s['solve_s']:.1f} s).")
    for _, row in plan.kept.iterrows():
        typer.echo(f"  {row['dwelling_id']}: {row['reason']}")
    for note in s.get("notes", []):
        typer.echo(f"  note: {note}")
    typer.echo(f"Batch written to {paths['assignments']}, summary {paths['summary']}.")


year_app = typer.Typer(help="A year of arrivals in weekly batches.", no_args_is_help=True)
app.add_typer(year_app, name="year")


@year_app.command("simulate")
def year_simulate_cmd(
    dataset_dir: DatasetDir,
    out: Annotated[Path, typer.Option(help="Folder for methods.csv, households.csv and the "
                                      "chart.")] = Path("year-output"),
    policy: PolicyOpt = "default",
    quota: Annotated[int | None, typer.Option(help="Households arriving in the year, drawn "
                                              "from the dataset's mix per seed (default: the "
                                              "dataset's own arrivals).")] = None,
    vacancies: Annotated[int | None, typer.Option(help="Dwellings freeing in the year as the "
                                                  "foresight method expects them (default: "
                                                  "as in the data).")] = None,
    cadence: Annotated[int, typer.Option(help="Days between batches.")] = 7,
    seeds: Annotated[int, typer.Option(help="Seeds (0 .. K-1).")] = 1,
    scenarios: Annotated[int, typer.Option(help="Sampled futures per foresight batch.")] = 4,
    date: DateOpt = None,
    window: WindowOpt = None,
    time_limit_s: Annotated[float, typer.Option(help="Time limit per solve (s).")] = 60.0,
) -> None:
    """Replay a year in batches: hindsight, myopic, greedy and foresight on the same arrivals."""
    from placement import planning
    from placement.optimizer.year import write_year

    if seeds < 1 or scenarios < 1:
        typer.echo("error: --seeds and --scenarios must be at least 1", err=True)
        raise typer.Exit(code=2)
    try:
        date, win = _access_params(dataset_dir, date, window)
        result = planning.simulate_year_on(
            dataset_dir, policy, date=date, window=win, quota=quota, vacancies=vacancies,
            cadence_days=cadence, seeds=list(range(seeds)), n_scenarios=scenarios,
            time_limit_s=time_limit_s, progress=lambda msg: typer.echo(f"… {msg}", err=True))
        paths = write_year(result, out)
    except PlacementError as err:
        raise _fail(err) from None
    t = result.methods
    mean = t.groupby("method", sort=False)[["ratio_to_hindsight", "households_placed",
                                            "mean_weeks_waited"]].mean()
    for method, row in mean.iterrows():
        typer.echo(f"{method:>10}: ratio to hindsight {row['ratio_to_hindsight']:.4f}, "
                   f"{row['households_placed']:.0f} households placed, "
                   f"{row['mean_weeks_waited']:.1f} weeks waited on average")
    typer.echo(f"Written: {paths['methods']}, {paths['households']}, {paths['chart']}.")


scenario_app = typer.Typer(help="What-if scenarios.", no_args_is_help=True)
app.add_typer(scenario_app, name="scenario")


def _print_compare(table: Any, changed: Any, out_dir: Path) -> None:
    from placement.pipeline import write_compare

    for line in write_compare(table, changed, out_dir):
        typer.echo(line)


@scenario_app.command("run")
def scenario_run_cmd(
    file: Annotated[Path, typer.Argument(help="Scenario TOML file.", show_default=False)],
    out: Annotated[Path, typer.Option(help="Folder for outputs.")] = Path("scenario-output"),
    db_url: DbUrl = None,
    date: DateOpt = None,
    window: WindowOpt = None,
    fairness: FairnessOpt = True,
) -> None:
    """Run a scenario and compare it with its base; print and write the comparison as CSV.

    The fairness audit of both plans, side by side, goes in the same folder (fairness.html,
    fairness.csv).
    """
    from placement import planning
    from placement.scenario import check_changes, read_scenario

    try:
        scen = read_scenario(file)
        check_changes(scen)  # a bad route, area or file is an error before anything runs
        engine = None
        if db_url:
            from placement import db

            engine = db.open_engine(db_url)
        date, win = _access_params(scen.dataset_dir, date, window)
        base_date = scen.date if scen.date is not None else date
        base = planning.make_plan(scen.dataset_dir, scen.policy, date=base_date, window=win)
        result = planning.run_scenario(scen, out / "datasets", engine=engine,
                                       base_access=base.access, date=date, window=win)
        planning.write_plan(result.plan, out / "proposals.csv")
        # the plans are named in the tables; a scenario called "base" must not replace the base
        label = scen.name if scen.name != "base" else "scenario base"
        plans = {"base": base, label: result.plan}
        table, changed = planning.compare_plans(plans)
    except PlacementError as err:
        raise _fail(err) from None
    fair = _plan_fairness(plans, out, scen.name) if fairness else None
    _print_compare(table, changed, out)
    if fair is not None:
        _print_fairness(*fair)


def _plan_fairness(plans: dict[str, Any], out: Path, title: str) -> Any:
    """Write the fairness audit of ``plans``; a failure is a warning (the plans stand)."""
    from placement.fairness_plans import write_plan_fairness

    try:
        return write_plan_fairness(plans, out, title=title)
    except Exception as err:  # reported in words: the plans and their files stand
        logging.getLogger(__name__).debug("fairness audit failed", exc_info=True)
        typer.echo(f"warning: the fairness audit was not written: {err}", err=True)
        return None


@scenario_app.command("compare")
def scenario_compare_cmd(
    files: Annotated[
        list[Path], typer.Argument(help="Scenario files; the first is the base.",
                                   show_default=False)
    ],
    out: Annotated[Path, typer.Option(help="Folder for outputs.")] = Path("scenario-output"),
    db_url: DbUrl = None,
    date: DateOpt = None,
    window: WindowOpt = None,
    fairness: FairnessOpt = True,
) -> None:
    """Run scenarios and show their measures side by side, with differences to the first.

    Their fairness audit, side by side, goes in the same folder (fairness.html, fairness.csv).
    """
    from placement import planning
    from placement.scenario import check_changes, read_scenario

    if len(files) < 2:
        typer.echo("error: give at least two scenario files", err=True)
        raise typer.Exit(code=2)
    try:
        scenarios = [read_scenario(f) for f in files]
        for scen in scenarios:
            check_changes(scen)
        engine = None
        if db_url:
            from placement import db

            engine = db.open_engine(db_url)
        params = [_access_params(s.dataset_dir, date, window) for s in scenarios]
        results = [planning.run_scenario(s, out / "datasets", engine=engine, date=d, window=w)
                   for s, (d, w) in zip(scenarios, params, strict=True)]
        names = planning.scenario_names(results)
        plans = {n: r.plan for n, r in zip(names, results, strict=True)}
        table, changed = planning.compare_plans(plans)
    except PlacementError as err:
        raise _fail(err) from None
    fair = _plan_fairness(plans, out, " / ".join(names)) if fairness else None
    _print_compare(table, changed, out)
    if fair is not None:
        _print_fairness(*fair)


@scenario_app.command("sweep")
def scenario_sweep_cmd(
    file: Annotated[Path, typer.Argument(help="Sweep TOML file.", show_default=False)],
    out: Annotated[Path, typer.Option(help="Folder for outputs.")] = Path("sweep-output"),
    workers: Annotated[
        int | None, typer.Option(help="Worker processes on this machine (default: one per "
                                 "core).")
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="An existing Dask scheduler, tcp://HOST:PORT.")
    ] = None,
    db_url: Annotated[
        str | None,
        typer.Option("--db", help="Database to store the runs in as scenarios (default: "
                     "$PLACEMENT_DB, else OUT/placement.db)."),
    ] = None,
    store_runs: Annotated[
        bool, typer.Option("--store/--no-store", help="Store the runs in the database.")
    ] = True,
    retry_failed: Annotated[
        bool, typer.Option(help="Run again the runs recorded as failed.")
    ] = False,
) -> None:
    """Run many what-ifs (a grid or a sample) on Dask; write runs.csv, pareto.csv and charts."""
    import os

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from placement.sweep import read_sweep, run_sweep

    if workers is not None and scheduler is not None:
        typer.echo("error: give either --workers or --scheduler, not both", err=True)
        raise typer.Exit(code=2)
    console = Console(stderr=True)
    if logging.getLogger().getEffectiveLevel() > logging.INFO:  # Dask's own logs only with -v
        logging.getLogger("distributed").setLevel(logging.ERROR)
    try:
        spec = read_sweep(file)  # every problem of the file, before anything is written
        engine = None
        if store_runs:
            from placement import db

            url = db_url or os.environ.get("PLACEMENT_DB")
            if url is None:
                out.mkdir(parents=True, exist_ok=True)
                url = f"sqlite:///{(out.resolve() / 'placement.db').as_posix()}"
                db.upgrade(url)
            engine = db.open_engine(url)
        with Progress("{task.description}", BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, transient=False) as bar:
            task = bar.add_task("runs", total=None)

            def progress(done: int, total: int, record: dict[str, Any]) -> None:
                bar.update(task, completed=done, total=total)
                if record["status"] != "ok":
                    bar.console.print(f"run {record['run']} failed: {record['error']}")

            result = run_sweep(spec, out, workers=workers, scheduler=scheduler, engine=engine,
                               retry_failed=retry_failed, progress=progress)
    except PlacementError as err:
        raise _fail(err) from None
    except KeyboardInterrupt:
        typer.echo(f"Interrupted: finished runs are recorded in {out / 'runs.jsonl'}; run the "
                   "same command again to go on.", err=True)
        raise typer.Exit(code=130) from None
    table = result.table
    assert table is not None
    front = int((table["pareto"] == "yes").sum())
    ok = int((table["status"] == "ok").sum())
    typer.echo(f"{len(result.runs)} runs: {ok} worked, {result.failed} failed "
               f"({result.new} run now, {result.resumed} recorded before); {front} on the "
               "Pareto front.")
    unknown = int((table["pareto"] == "unknown").sum())
    if unknown:
        typer.echo(f"{unknown} run(s) have an unknown front measure and are not compared.")
    for name in ("runs", "pareto", "png", "html"):
        typer.echo(f"  {result.paths[name]}")
    if engine is not None:
        stored = table["run_id"].dropna()
        if len(stored):
            typer.echo(f"Stored as runs {int(stored.min())}–{int(stored.max())} in the "
                       "database (one scenario each).")


report_app = typer.Typer(help="Reports for planners.", no_args_is_help=True)
app.add_typer(report_app, name="report")


@report_app.command("retention")
def report_retention_cmd(
    dataset_dir: DatasetDir,
    year: Annotated[int, typer.Option(help="Report year.")],
    out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("retention.html"),
    baseline_year: Annotated[
        int | None, typer.Option(help="Earlier year to compare with.")
    ] = None,
    target_mode: Annotated[str, typer.Option(help="relative or points.")] = "relative",
    target_amount: Annotated[
        float, typer.Option(help="0.10 = +10 % (relative) or +10 points.")
    ] = 0.10,
    pdf: Annotated[bool, typer.Option(help="Also write a PDF.")] = False,
    measures: Annotated[
        Path | None,
        typer.Option(help="Accessibility table from `placement access` (.csv, .parquet, "
                     ".gpkg): groups by near-stop measures and the Cox model."),
    ] = None,
    run: Annotated[
        int | None,
        typer.Option(help="A stored run: its accessibility measures (same date and window) "
                     "are used, as with --measures, and its fairness audit is added."),
    ] = None,
    db_url: DbUrl = None,
    as_of: Annotated[
        str | None,
        typer.Option(help="Data date YYYY-MM-DD (default: the last date in the history, at "
                     "most 31 December of the year); later period ends are censored."),
    ] = None,
    language: Annotated[
        str, typer.Option(help="Language of the HTML and PDF: en (English) or da (Danish); "
                          "the CSV is the same in both.")] = "en",
) -> None:
    """Write the annual retention report (HTML, a CSV of every number, optional PDF)."""
    from placement.report import load_measures, retention_report_for_dataset
    from placement.retention import RetentionTarget

    try:
        table = None
        if measures is not None and run is not None:
            typer.echo("error: give --measures or --run, not both", err=True)
            raise typer.Exit(code=2)
        audit, words = None, ""
        if measures is not None:
            table = load_measures(measures)
        elif run is not None:
            from placement import db
            from placement.fairness_plans import audit_dataset

            table = _run_measures(dataset_dir, run, db_url)
            # the run's fairness audit goes into the report (no other plan is solved)
            audit, words = audit_dataset(dataset_dir, run=(db.open_engine(db_url), run),
                                         targets=False)
        paths = retention_report_for_dataset(
            dataset_dir, year=year, out=out, baseline_year=baseline_year,
            target=RetentionTarget(target_mode, target_amount), pdf=pdf, measures=table,
            as_of=as_of, audit=audit, audit_words=words, language=language,
        )
    except PlacementError as err:
        raise _fail(err) from None
    typer.echo(f"Report written to {paths.html} (numbers: {paths.csv})")
    if pdf:
        typer.echo(f"PDF: {paths.pdf}")


@report_app.command("fairness")
def report_fairness_cmd(
    run_or_dataset: Annotated[
        str, typer.Argument(help="A dataset folder, or the id of a stored run (with --db and "
                            "--dataset).", show_default=False)],
    out: Annotated[Path, typer.Option(help="HTML file to write (a CSV of every number "
                                      "goes beside it).")] = Path("fairness.html"),
    policy: Annotated[str, typer.Option(help="Policy preset or file of the plan (a dataset "
                                        "only).")] = "default",
    dataset: Annotated[Path | None, typer.Option(help="Dataset folder of a stored run.")] = None,
    targets: Annotated[bool, typer.Option("--targets/--no-targets", help="Also audit the "
                                          "transit-weighted and retention-weighted plans.")
                       ] = True,
    min_cell: Annotated[int, typer.Option(help="Smallest count shown.")] = 5,
    share_gap: Annotated[float, typer.Option(help="Flag shares this far (absolute) from all "
                                             "households'.")] = 0.10,
    db_url: DbUrl = None,
) -> None:
    """Fairness audit: per household type and step-free need, who gains and who loses."""
    from placement.fairness import FairnessSettings, write_fairness_report
    from placement.fairness_plans import audit_dataset

    try:
        settings = FairnessSettings(min_cell=min_cell, share_gap=share_gap)
        run = None
        folder = Path(run_or_dataset)
        if run_or_dataset.isdigit() and not folder.is_dir():
            if dataset is None:
                typer.echo("error: a stored run needs --dataset (the folder it was made from)",
                           err=True)
                raise typer.Exit(code=2)
            from placement import db

            run, folder = (db.open_engine(db_url), int(run_or_dataset)), dataset
        elif not (folder / "dataset.toml").is_file():
            typer.echo(f"error: {run_or_dataset} is neither a dataset folder (with dataset.toml) "
                       "nor a run id", err=True)
            raise typer.Exit(code=2)
        audit, words = audit_dataset(folder, policy, run=run, targets=targets,
                                     settings=settings)
        html_path, csv_path = write_fairness_report(audit, out, title=folder.name,
                                                    validation_words=words)
    except PlacementError as err:
        raise _fail(err) from None
    if words:
        typer.echo(f"Retention model: {words}")
    for flag in audit.flags:
        typer.echo(f"  flag: {flag}")
    typer.echo(f"Fairness audit written to {html_path} (numbers: {csv_path})")


def _run_measures(dataset_dir: Path, run_id: int, db_url: str | None) -> Any:
    """Return the accessibility table of a stored run (the run's date and window)."""
    from placement import db, store
    from placement.accessibility import accessibility_for_dataset

    summary, _ = store.load_run(db.open_engine(db_url), run_id)
    params = summary.get("parameters") or {}
    window = params.get("window") or ("07:00", "09:00")
    return accessibility_for_dataset(dataset_dir, date=params.get("date"),
                                     window=(str(window[0]), str(window[1])))


db_app = typer.Typer(help="Create or upgrade the placement database.", no_args_is_help=True)
app.add_typer(db_app, name="db")

DbUrl = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: $PLACEMENT_DB or ./placement.db)."),
]


@db_app.command("upgrade")
def db_upgrade_cmd(db_url: DbUrl = None) -> None:
    """Create the database or upgrade it to this version's schema (back it up first)."""
    from placement import db

    try:
        revision = db.upgrade(db_url)
    except PlacementError as err:
        raise _fail(err) from None
    shown = db.display_url(db_url or db.default_db_url())
    typer.echo(f"Database {shown} is at schema revision {revision}.")


APP_SCRIPT = Path(__file__).resolve().parents[1] / "app" / "Home.py"


@app.command("app")
def app_cmd(
    dataset: Annotated[Path, typer.Option(help="Dataset folder.")] = REPO_DEMO_DIR,
    db_url: DbUrl = None,
    users: Annotated[Path, typer.Option(help="Users file (placement user add).")] = Path(
        "users.toml"),
    policy: Annotated[str, typer.Option(help="Policy preset or file.")] = "default",
    tiles: Annotated[
        str, typer.Option(help="Tile preset (openstreetmap), a URL template, or none.")
    ] = "openstreetmap",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8501,
    address: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
) -> None:
    """Start the map app for coordinators and planners (Streamlit)."""
    import os
    import subprocess

    env = dict(os.environ)
    env.update({"PLACEMENT_DATASET": str(dataset.resolve()), "PLACEMENT_USERS": str(
        users.resolve()), "PLACEMENT_POLICY": policy, "PLACEMENT_TILES": tiles})
    if db_url:
        env["PLACEMENT_DB"] = db_url
    if not users.exists():
        typer.echo(f"No users file at {users}; create one with `placement user add NAME "
                   "--role coordinator`.", err=True)
        raise typer.Exit(code=1)
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT),
           "--server.port", str(port), "--server.address", address,
           "--server.headless", "true", "--server.enableStaticServing", "true",
           "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer",
           "--client.showErrorDetails", "none"]
    raise typer.Exit(code=subprocess.call(cmd, env=env))


user_app = typer.Typer(help="Users of the app.", no_args_is_help=True)
app.add_typer(user_app, name="user")


@user_app.command("add")
def user_add_cmd(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option(help="coordinator, planner or viewer.")],
    users: Annotated[Path, typer.Option(help="Users file.")] = Path("users.toml"),
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    email: Annotated[str, typer.Option(help="E-mail for identity-provider sign-in.")] = "",
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True,
                          help="Password (asked for when not given).")
    ] = "",
) -> None:
    """Add a user (or set a new password); only a salted hash is stored."""
    from placement.auth import add_user

    try:
        path = add_user(users, username, password, role, name=name, email=email)
    except PlacementError as err:
        raise _fail(err) from None
    typer.echo(f"User {username} ({role}) saved in {path}.")


@user_app.command("passwd")
def user_passwd_cmd(
    username: Annotated[str, typer.Argument(help="Login name.")],
    users: Annotated[Path, typer.Option(help="Users file.")] = Path("users.toml"),
    password: Annotated[
        str, typer.Option(prompt="New password", hide_input=True, confirmation_prompt=True,
                          help="New password (asked for when not given).")
    ] = "",
) -> None:
    """Give a user a new password; the app ends the user's open sessions at the next click."""
    from placement.auth import set_password

    try:
        path = set_password(users, username, password)
    except PlacementError as err:
        raise _fail(err) from None
    typer.echo(f"New password of {username} saved in {path}.")


@user_app.command("remove")
def user_remove_cmd(
    username: Annotated[str, typer.Argument(help="Login name.")],
    users: Annotated[Path, typer.Option(help="Users file.")] = Path("users.toml"),
) -> None:
    """Remove a user; the app signs the user out at the next click (no restart needed)."""
    from placement.auth import remove_user

    try:
        path = remove_user(users, username)
    except PlacementError as err:
        raise _fail(err) from None
    typer.echo(f"User {username} removed from {path}.")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` and return the exit code (for tests and ``python -m``)."""
    try:
        rv = app(args=argv, standalone_mode=False)
    except typer.TyperException as err:  # usage errors: bad option values, unknown commands
        show = getattr(err, "show", None)
        if callable(show):
            show()
        else:
            typer.echo(f"error: {err}", err=True)
        return int(getattr(err, "exit_code", 2))
    except typer.Exit as exit_:
        return int(exit_.exit_code)
    except PlacementError as err:
        return int(_fail(err).exit_code)
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
