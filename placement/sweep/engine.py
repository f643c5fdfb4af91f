"""Running a sweep on Dask: one machine (a LocalCluster) or an existing cluster, unchanged.

The client (the process that runs :func:`run_sweep`) draws the runs and groups them by
network or timetable variant; the accessibility table of each variant is computed once, as a
task on a worker (the variants side by side), and each worker fetches it once for the runs of
that variant, which are submitted as soon as their table is ready; every run is one task that
materialises the run's dataset, solves it once with the optimiser and measures the plan. The
client itself does no heavy work, so N workers use N cores. Each finished run is
appended to ``DIR/runs.jsonl`` at once (see :mod:`placement.sweep.journal`), so an interrupted
sweep resumes where it stopped. A run that fails is recorded with its error; the sweep goes on.

On a cluster every worker must see the dataset folder and ``DIR`` at the same paths (a shared
file system): the workers read the dataset and write each run's changed files there.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from placement._errors import PlacementError
from placement.scenario import TOUCHES
from placement.sweep.journal import JOURNAL_NAME, Journal
from placement.sweep.spec import RunSpec, SweepSpec, check_sweep, read_sweep, run_definition

logger = logging.getLogger(__name__)

#: Change kinds after which the accessibility table must be computed again.
ACCESS_KINDS = frozenset(k for k, t in TOUCHES.items() if t & {"gtfs", "accessibility"})
#: Change kinds after which the run's tables (households, dwellings, designated areas, areas)
#: are the base's own files, so the base's loaded tables serve the run.
SAME_TABLES_KINDS = frozenset({"cut_route", "thin_route", "date", "weights", "area_cap",
                               "preset"})
#: Seconds to wait for an existing scheduler.
CONNECT_TIMEOUT_S = 15

ProgressFn = Callable[[int, int, dict[str, Any]], None]


class ClusterError(PlacementError):
    """The Dask cluster cannot be started or reached, or cannot see the files."""


@dataclass
class SweepRun:
    """What :func:`run_sweep` did.

    Attributes
    ----------
    spec : SweepSpec
        The sweep.
    runs : list of RunSpec
        Every run of the sample, in order.
    records : dict
        run_hash → recorded result (for every run of the sample that has one).
    new : int
        Runs computed now.
    resumed : int
        Runs found in the journal and not run again.
    paths : dict
        Files written (``runs``, ``pareto``, ``png``, ``html``, ``journal``).
    table : pandas.DataFrame
        ``runs.csv`` as a frame (with the ``pareto`` flag).
    """

    spec: SweepSpec
    runs: list[RunSpec]
    records: dict[str, dict[str, Any]]
    new: int = 0
    resumed: int = 0
    paths: dict[str, Path] = field(default_factory=dict)
    table: pd.DataFrame | None = None

    @property
    def failed(self) -> int:
        """Runs of the sample recorded as failed."""
        return sum(1 for r in self.records.values() if r.get("status") != "ok")


@contextlib.contextmanager
def _bare_main() -> Iterator[None]:
    """Hide the ``__main__`` module while worker processes are spawned.

    A spawned process runs the parent's main script again unless it is guarded; in Streamlit
    the main module is the app's page, which must not run in a worker. The tasks need nothing
    from ``__main__`` (they are functions of this module).
    """
    import sys
    import types

    saved = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if saved is not None:
            sys.modules["__main__"] = saved


@contextlib.contextmanager
def _settings_in_environment() -> Iterator[None]:
    """Give spawned worker processes this process's cache folder and network switch.

    The workers compute the network variants' accessibility, so they must read and write the
    same cache as a run in this process would (the settings may have been changed in code).
    """
    from placement import settings

    wanted = {"PLACEMENT_CACHE": str(settings.cache_folder),
              "PLACEMENT_ALLOW_NETWORK": "1" if settings.allow_network else "0"}
    saved = {k: os.environ.get(k) for k in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None) -> Iterator[Any]:
    """Yield a Dask client: of an existing cluster, or of a LocalCluster closed afterwards.

    Parameters
    ----------
    workers : int, optional
        Worker processes of the LocalCluster (default: one per core), one thread each.
    scheduler : str, optional
        Address of a running scheduler (``tcp://HOST:PORT``); then ``workers`` must be None.

    Yields
    ------
    distributed.Client
    """
    from distributed import Client, LocalCluster

    if scheduler is not None and workers is not None:
        msg = "give either --workers (a cluster on this machine) or --scheduler, not both"
        raise ClusterError(msg)
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as err:
            msg = f"cannot reach the Dask scheduler at {scheduler}: {err}"
            raise ClusterError(msg) from None
        try:
            yield client
        finally:
            client.close()
        return
    n = workers if workers is not None else (os.cpu_count() or 1)
    if n < 1:
        msg = f"--workers must be at least 1, got {n}"
        raise ClusterError(msg)
    with _bare_main(), _settings_in_environment():
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=":0",
                               silence_logs=logging.ERROR)
    try:
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def _error_text(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    if not isinstance(err, PlacementError):
        text = f"{type(err).__name__}: {text}"
    return " | ".join(line.strip() for line in text.splitlines() if line.strip())


def _warm_up() -> None:
    """Import the solver's modules on a worker (once, before its first run)."""
    import highspy  # noqa: F401

    import placement.optimizer.propose
    import placement.planning  # noqa: F401


_BASE: dict[tuple[str, str], Any] = {}


def _base_dataset(folder: Path, key: str) -> Any:
    """Load the base dataset once per worker process and content hash."""
    from placement.dataset import load_dataset

    if not key:
        return load_dataset(folder)
    wanted = (str(folder), key)
    if wanted not in _BASE:
        _BASE.clear()  # one sweep's base at a time
        _BASE[wanted] = load_dataset(folder)
    return _BASE[wanted]


def _worker_name() -> str | None:
    try:
        from distributed import get_worker

        return str(get_worker().name)
    except ValueError:  # not on a worker
        return None


def solve_run(definition: dict[str, Any], folder: str, work_dir: str,
              access: pd.DataFrame, base_key: str = "",
              solver_threads: int | None = None) -> dict[str, Any]:
    """Run one sweep run (on a worker): materialise its dataset, solve once, measure.

    The steps are those of :func:`placement.planning.run_scenario`, with the accessibility
    table given (the rows of the run's dwellings are used), so a run's numbers are the same as
    those of the same scenario run alone.

    Parameters
    ----------
    definition : dict
        The run's scenario tables (:func:`placement.sweep.spec.run_definition`).
    folder : str
        Folder the definition's relative paths are resolved against.
    work_dir : str
        Folder to write the run's dataset into (replaced).
    access : pandas.DataFrame
        Accessibility table of the run's network, timetable and dwellings.
    base_key : str
        Content hash of the base dataset: the worker loads the base once per key (it does not
        change during a sweep). Empty: loaded for this run.
    solver_threads : int, optional
        Threads of the run's solver (replaces the policy's ``solver.threads``).

    Returns
    -------
    dict
        ``status`` ("ok" or "failed"), ``error``, ``elapsed_s``, and for a run that worked
        ``assignments``, ``summary``, ``measures``, ``policy``, ``parameters``, ``folder``.
    """
    from placement import planning
    from placement.dataset import load_dataset, read_manifest
    from placement.scenario import materialise, scenario_from_dict

    start = time.perf_counter()
    try:
        scen = scenario_from_dict(definition, base=Path(folder),
                                  source=str(definition["scenario"]["name"]))
        base = _base_dataset(scen.dataset_dir, base_key)
        out = materialise(scen, Path(work_dir), dataset=base)
        if {c.kind for c in scen.changes} <= SAME_TABLES_KINDS:
            # the run's folder names the base's tables: load only its manifest
            manifest = read_manifest(out)
            ds = replace(base, root=manifest.root, manifest=manifest,
                         gtfs_path=manifest.gtfs_file)
        else:
            ds = load_dataset(out)
        keep = access.index.astype(str).isin(ds.dwellings["dwelling_id"].astype(str))
        policy = planning.policy_for(scen.effective_policy())
        if solver_threads is not None:
            policy = policy.with_overrides(solver={"threads": int(solver_threads)})
        plan = planning.make_plan(out, policy, date=scen.effective_date(),
                                  window=planning.DEFAULT_WINDOW,
                                  weights=scen.weight_overrides(), area_caps=scen.area_caps(),
                                  dataset=ds, access=access[keep])
    except Exception as err:  # recorded as the run's error; the sweep goes on
        logger.warning("run %s failed: %s", definition["scenario"].get("name"), err)
        return {"status": "failed", "error": _error_text(err),
                "elapsed_s": time.perf_counter() - start}
    return {"status": "ok", "error": None, "elapsed_s": time.perf_counter() - start,
            "worker": _worker_name(),
            "assignments": plan.assignments, "summary": dict(plan.proposal.summary),
            "measures": dict(plan.measures), "policy": plan.policy,
            "parameters": dict(plan.parameters), "folder": str(out)}


def _access_key(definition: dict[str, Any]) -> str:
    """Return what the run's accessibility depends on (network, timetable, dwellings)."""
    changes = [c for c in definition.get("change", []) if c.get("kind") in ACCESS_KINDS]
    head = definition.get("scenario", {})
    return json.dumps({"date": str(head.get("date")), "changes": changes}, sort_keys=True,
                      default=str)


def _group_access(definition: dict[str, Any], spec_folder: str, spec_source: str,
                  spec_name: str, folder: str, base_key: str) -> pd.DataFrame:
    """Compute (or read from the cache) the accessibility of one network/timetable variant.

    Runs on a worker, so that the variants of a sweep are computed side by side and the client
    does no heavy work; the table stays on the workers (each fetches it once) for the runs.
    """
    from placement import planning
    from placement.scenario import materialise, scenario_from_dict

    changes = [c for c in definition.get("change", []) if c.get("kind") in ACCESS_KINDS]
    head = dict(definition.get("scenario", {}))
    head["name"] = f"{spec_name} (network variant)"
    scen = scenario_from_dict({"scenario": head, "change": changes}, base=Path(spec_folder),
                              source=spec_source)
    if changes:
        base = _base_dataset(scen.dataset_dir, base_key)
        out = materialise(scen, Path(folder), dataset=base)
    else:
        out = scen.dataset_dir
    return planning.accessibility(out, date=scen.effective_date(),
                                  window=planning.DEFAULT_WINDOW)


def _check_workers_see(client: Any, paths: Sequence[Path]) -> None:
    """Raise when a worker cannot see a folder the runs need (no shared file system)."""
    wanted = [str(p) for p in paths]

    def missing(folders: list[str]) -> list[str]:
        return [f for f in folders if not Path(f).is_dir()]

    seen = client.run(missing, wanted)
    bad = {worker: gone for worker, gone in seen.items() if gone}
    if bad:
        lines = [f"worker {w} cannot see {', '.join(gone)}" for w, gone in sorted(bad.items())]
        msg = ("the workers must see the dataset and the output folder at the same paths (a "
               "shared file system): " + "; ".join(lines))
        raise ClusterError(msg)


class _Store:
    """Stores finished runs in the database as scenarios, one transaction per run."""

    def __init__(self, engine: Any, spec: SweepSpec, user: str | None) -> None:
        self.engine = engine
        self.spec = spec
        self.user = user
        self._base_id: int | None = None
        self._dwelling_ids: list[str] = []

    def save(self, run: RunSpec, definition: dict[str, Any], result: dict[str, Any]
             ) -> tuple[int, int]:
        from placement import store
        from placement.score import PAIR_TERMS

        if self._base_id is None:
            from placement.dataset import load_dataset

            # no sweep axis adds or withdraws dwellings: every run has the base's dwellings,
            # recorded so that decisions on a sweep run can only name dwellings that exist
            self._dwelling_ids = list(load_dataset(self.spec.base_scenario.dataset_dir)
                                      .dwellings["dwelling_id"].astype(str))
            self._base_id = store.register_dataset(self.engine,
                                                   self.spec.base_scenario.dataset_dir,
                                                   user=self.user,
                                                   dwelling_ids=self._dwelling_ids)
        stored = {**definition, "sweep": {"name": self.spec.name, "run": run.index,
                                          "run_hash": run.run_hash, "params": run.params,
                                          "file": str(self.spec.path or "")}}
        scenario_id = store.save_scenario(self.engine, name=definition["scenario"]["name"],
                                          definition=stored, dataset_id=self._base_id,
                                          user=self.user)
        dataset_id = store.register_dataset(self.engine, result["folder"], user=self.user,
                                            dwelling_ids=self._dwelling_ids)
        summary = {**result["summary"], "measures": result["measures"]}
        run_id = store.save_run(self.engine, dataset_id, scenario_id, summary=summary,
                                proposals=result["assignments"], policy=result["policy"],
                                parameters=result["parameters"], terms=list(PAIR_TERMS),
                                user=self.user)
        return scenario_id, run_id


def _record(run: RunSpec, result: dict[str, Any]) -> dict[str, Any]:
    summary = result.get("summary") or {}
    return {"run": run.index, "run_hash": run.run_hash, "params": run.params,
            "status": result["status"], "error": result.get("error"),
            "solver_status": summary.get("status"), "measures": result.get("measures") or {},
            "elapsed_s": result.get("elapsed_s"), "worker": result.get("worker"),
            "scenario_id": None, "run_id": None}


def run_sweep(sweep: SweepSpec | str | Path, out_dir: str | Path, *, client: Any = None,
              workers: int | None = None, scheduler: str | None = None, engine: Any = None,
              user: str | None = None, retry_failed: bool = False,
              progress: ProgressFn | None = None) -> SweepRun:
    """Run a sweep (or the part of it not yet recorded) and write its outputs.

    Parameters
    ----------
    sweep : SweepSpec, str or Path
        The sweep, or its file.
    out_dir : str or Path
        Output folder: ``runs.jsonl`` (the journal), ``runs.csv``, ``pareto.csv``,
        ``front.png``, ``front.html`` and ``work/`` (each run's dataset folder).
    client : distributed.Client, optional
        A client to use (left open); else one is made from ``workers`` / ``scheduler``.
    workers : int, optional
        Worker processes of a LocalCluster (default: one per core).
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://HOST:PORT``).
    engine : sqlalchemy.Engine, optional
        Database in which each run that worked is stored as a scenario and its run.
    user : str, optional
        Who runs the sweep (for the database).
    retry_failed : bool
        Run again the runs the journal records as failed.
    progress : callable, optional
        Called as ``progress(done, total, record)`` after each run recorded now.

    Returns
    -------
    SweepRun

    Raises
    ------
    ConfigError
        A bad sweep file (every problem at once), before anything runs.
    ClusterError
        The cluster cannot be started or reached.
    """
    from placement import store
    from placement.sweep.outputs import write_outputs
    from placement.sweep.spec import sample_runs

    spec = sweep if isinstance(sweep, SweepSpec) else read_sweep(sweep)
    base = check_sweep(spec)
    _, dataset_sha, _ = store.hash_dataset(spec.base_scenario.dataset_dir)
    runs = sample_runs(spec, dataset_sha)
    out = Path(out_dir).resolve()
    journal = Journal(out / JOURNAL_NAME)
    recorded = journal.records()
    wanted = {r.run_hash for r in runs}
    records = {h: rec for h, rec in recorded.items() if h in wanted}
    todo = [r for r in runs if r.run_hash not in records
            or (retry_failed and records[r.run_hash].get("status") != "ok")]
    result = SweepRun(spec=spec, runs=runs, records=records, resumed=len(runs) - len(todo))
    logger.info("sweep %s: %d runs, %d recorded before, %d to run", spec.name, len(runs),
                result.resumed, len(todo))
    if todo:
        area_ids = sorted(base.areas["area_id"].astype(str))
        keeper = _Store(engine, spec, user) if engine is not None else None
        if client is not None:
            _submit_all(client, spec, todo, area_ids, base, dataset_sha, out, journal, result,
                        keeper, progress)
        else:
            with dask_client(workers, scheduler) as own:
                _submit_all(own, spec, todo, area_ids, base, dataset_sha, out, journal,
                            result, keeper, progress)
    result.paths = write_outputs(spec, runs, result.records, out)
    result.paths["journal"] = journal.path
    from placement.sweep.outputs import runs_table

    result.table = runs_table(spec, runs, result.records)
    return result


def _submit_all(client: Any, spec: SweepSpec, todo: list[RunSpec], area_ids: list[str],
                base: Any, base_key: str, out: Path, journal: Journal, result: SweepRun,
                keeper: _Store | None, progress: ProgressFn | None) -> None:
    """Compute each network variant's accessibility, scatter it, submit its runs, collect."""
    from distributed import as_completed

    definitions = {r.run_hash: run_definition(spec, r, area_ids) for r in todo}
    groups: dict[str, list[RunSpec]] = {}
    for r in todo:
        groups.setdefault(_access_key(definitions[r.run_hash]), []).append(r)
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    _check_workers_see(client, [spec.base_scenario.dataset_dir, work])
    warm = [client.submit(_warm_up, workers=[address], pure=False)  # imports, while the
            for address in client.scheduler_info().get("workers", {})]  # client makes access
    pending: dict[Any, RunSpec] = {}
    total = len(todo)
    count = [0]

    def finish(run: RunSpec, outcome: dict[str, Any]) -> None:
        rec = _record(run, outcome)
        if keeper is not None and outcome["status"] == "ok":
            try:
                rec["scenario_id"], rec["run_id"] = keeper.save(
                    run, definitions[run.run_hash], outcome)
            except PlacementError as err:
                rec["status"], rec["error"] = "failed", f"not stored: {_error_text(err)}"
        journal.append(rec)
        result.records[run.run_hash] = rec
        result.new += 1
        count[0] += 1
        if progress is not None:
            progress(count[0], total, rec)

    def collect(fut: Any) -> None:
        run = pending.pop(fut)
        try:
            outcome = fut.result()
        except Exception as err:  # a lost worker or a task error: the run failed
            outcome = {"status": "failed", "error": _error_text(err), "elapsed_s": None}
        finish(run, outcome)

    access: dict[Any, tuple[int, str, list[RunSpec]]] = {}
    for n, (key, runs) in enumerate(sorted(groups.items()), start=1):
        fut = client.submit(_group_access, definitions[runs[0].run_hash], str(spec.folder),
                            spec.source, spec.name, str(work / f"network-{n}"), base_key,
                            pure=False, priority=10)  # before any run
        access[fut] = (n, key, runs)
    done = as_completed(list(access))
    try:
        for fut in done:
            if fut in access:
                n, key, runs = access.pop(fut)
                try:
                    fut.result()
                except Exception as err:  # every run of the variant fails with its reason
                    for run in runs:
                        finish(run, {"status": "failed", "elapsed_s": None,
                                     "error": f"accessibility: {_error_text(err)}"})
                    continue
                logger.info("network variant %d (%s): %d runs", n, key, len(runs))
                for run in runs:  # the table moves to each worker once, not per task
                    task = client.submit(solve_run, definitions[run.run_hash],
                                         str(spec.folder), str(work / run.run_hash), fut,
                                         base_key, spec.solver_threads, pure=False)
                    pending[task] = run
                    done.add(task)
            else:
                collect(fut)
    finally:
        for fut in [*pending, *access, *warm]:
            fut.cancel()
