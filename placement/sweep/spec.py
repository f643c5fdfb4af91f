"""Sweep files: parse and check a sweep (TOML) and draw its runs (grid, random or LHS).

A sweep file is a scenario file (its ``[scenario]`` and ``[[change]]`` tables are the base of
every run) plus ``[sweep]``, one ``[[axis]]`` table per parameter varied and ``[pareto]``::

    [scenario]
    name = "Transit against spread"
    dataset = "../data/geo/demo"
    policy = "default"

    [sweep]
    sample = "lhs"          # grid, random or lhs
    runs = 40               # random/lhs: runs drawn; grid: the most runs allowed
    seed = 7

    [[axis]]
    kind = "weight"
    term = "transit"
    min = 0.1
    max = 0.7               # random/lhs draw from [min, max]; add steps = N for N levels

    [[axis]]
    kind = "cut_route"
    values = ["", "L201"]   # "" = no cut

    [pareto]
    share_near_served_stop = "max"
    largest_area_share_of_cap = "min"

Every problem of the file is reported at once as ``file: key: message``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np

from placement._errors import ConfigError
from placement.scenario import Scenario, check_changes, scenario_from_dict

#: Axis kinds and their keys besides ``kind``, ``values``, ``min``, ``max``, ``steps``, ``name``.
AXIS_KINDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "weight": (frozenset({"term"}), frozenset()),
    "cap": (frozenset(), frozenset({"area_id"})),
    "arrivals": (frozenset(), frozenset({"seed"})),
    "cut_route": (frozenset(), frozenset()),
    "thin_route": (frozenset({"route_id"}), frozenset()),
    "designate": (frozenset(), frozenset({"layer"})),
    "lift_designation": (frozenset(), frozenset()),
    "preset": (frozenset(), frozenset()),
    "date": (frozenset(), frozenset()),
}
#: Kinds whose levels are numbers (and may be given as a range ``min``/``max``).
NUMERIC_KINDS = frozenset({"weight", "cap", "arrivals", "thin_route"})
WEIGHT_TERMS = ("transit", "community", "family", "anchor", "spread", "retention")
SAMPLES = ("grid", "random", "lhs")
#: The most runs a grid may have when ``runs`` is not given.
DEFAULT_MAX_RUNS = 1000
#: The front's measures when the file has no ``[pareto]`` table.
DEFAULT_OBJECTIVES: dict[str, str] = {
    "share_near_served_stop": "max",
    "largest_area_share_of_cap": "min",
    "families_daycare_school_15min": "max",
    "households_placed": "max",
}
#: The direction in which each measure is better, for fronts chosen from a list.
MEASURE_DIRECTIONS: dict[str, str] = {
    "households_placed": "max",
    "households_unplaced": "min",
    "persons_placed": "max",
    "share_near_served_stop": "max",
    "median_pt_jobcenter_min": "min",
    "median_pt_language_school_min": "min",
    "families_daycare_school_15min": "max",
    "mean_associations_15min": "max",
    "largest_area_share_of_cap": "min",
}
#: Decimals kept of a value drawn from a range (so files and hashes stay readable).
DRAW_DECIMALS = 6
_COMMON_KEYS = frozenset({"kind", "values", "min", "max", "steps", "name"})


@dataclass(frozen=True)
class Axis:
    """One parameter a sweep varies.

    Attributes
    ----------
    kind : str
        One of :data:`AXIS_KINDS`.
    name : str
        Column name in ``runs.csv`` (e.g. ``weight_transit``, ``cap``, ``cut_route``).
    levels : tuple or None
        The values to choose from (None for a continuous range).
    low, high : float or None
        The range of a continuous axis.
    options : dict
        The kind's other keys (``term``, ``area_id``, ``route_id``, ``seed``, ``layer``).
    """

    kind: str
    name: str
    levels: tuple[Any, ...] | None
    low: float | None = None
    high: float | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def value_at(self, u: float) -> Any:
        """Map ``u`` in [0, 1) to a level (stratified) or a point of the range."""
        if self.levels is not None:
            k = len(self.levels)
            return self.levels[min(int(u * k), k - 1)]
        assert self.low is not None
        assert self.high is not None
        return round(self.low + u * (self.high - self.low), DRAW_DECIMALS)

    def changes(self, value: Any, area_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Return the scenario changes (``[[change]]`` tables) for one value of the axis."""
        o = self.options
        match self.kind:
            case "weight":
                return [{"kind": "weights", o["term"]: float(value)}]
            case "cap":
                ids = [str(o["area_id"])] if "area_id" in o else list(area_ids)
                return [{"kind": "area_cap", "area_id": a, "max_share": float(value)}
                        for a in ids]
            case "arrivals":
                if float(value) == 1.0:
                    return []
                change = {"kind": "arrivals", "factor": float(value)}
                if "seed" in o:
                    change["seed"] = int(o["seed"])
                return [change]
            case "cut_route":
                routes = value if isinstance(value, list) else [value] if value else []
                return [{"kind": "cut_route", "route_id": str(r)} for r in routes]
            case "thin_route":
                if float(value) == 0.0:
                    return []
                return [{"kind": "thin_route", "route_id": str(o["route_id"]),
                         "share_removed": float(value)}]
            case "designate":
                if not value:
                    return []
                change = {"kind": "designate", "file": str(value)}
                if "layer" in o:
                    change["layer"] = str(o["layer"])
                return [change]
            case "lift_designation":
                ids = value if isinstance(value, list) else [value] if value else []
                return [{"kind": "lift_designation", "designated_id": str(d)} for d in ids]
            case "preset":
                return [{"kind": "preset", "policy": str(value)}]
            case _:
                return [{"kind": "date", "date": str(value)}]


@dataclass(frozen=True)
class SweepSpec:
    """A parsed sweep file.

    Attributes
    ----------
    name : str
        The sweep's name (the base scenario's name).
    path : Path or None
        The file.
    folder : Path
        Relative paths of the file are resolved against it.
    base : dict
        The base scenario (``scenario`` and ``change`` tables, as written).
    base_scenario : Scenario
        The base, parsed.
    axes : tuple of Axis
    sample : {"grid", "random", "lhs"}
    runs : int or None
        Runs drawn (random, lhs) or the most allowed (grid).
    seed : int
    objectives : dict
        Measure key → ``"max"`` or ``"min"``, in file order.
    solver_threads : int
        Threads each run's solver may use (``[sweep] solver_threads``, default 1: a worker is one
        core, so the workers of a machine do not compete for its cores).
    """

    name: str
    path: Path | None
    folder: Path
    base: dict[str, Any]
    base_scenario: Scenario
    axes: tuple[Axis, ...]
    sample: Literal["grid", "random", "lhs"]
    runs: int | None
    seed: int
    objectives: dict[str, str]
    solver_threads: int = 1

    @property
    def source(self) -> str:
        """Name of the file in messages."""
        return self.path.name if self.path else self.name


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: its number, its parameter values and its key.

    Attributes
    ----------
    index : int
        1-based position in the sample.
    params : dict
        Axis name → value.
    run_hash : str
        SHA-256 (first 16 hex digits) of the base, the parameters and the dataset's content:
        the key under which the run's result is recorded (and found again on resume).
    """

    index: int
    params: dict[str, Any]
    run_hash: str


def read_sweep(path: str | Path) -> SweepSpec:
    """Read a sweep TOML file and check it, form and dataset (routes, areas, files, presets).

    Parameters
    ----------
    path : str or Path
        The sweep file.

    Returns
    -------
    SweepSpec

    Raises
    ------
    ConfigError
        Listing every problem as ``file: key: message``.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = f"{path.name}: no such sweep file ({path})"
        raise ConfigError(msg) from None
    except (OSError, UnicodeDecodeError) as err:
        msg = f"{path.name}: cannot read the sweep file ({err})"
        raise ConfigError(msg) from None
    except tomllib.TOMLDecodeError as err:
        msg = f"{path.name}: not valid TOML: {err}"
        raise ConfigError(msg) from None
    spec = sweep_from_dict(data, folder=path.parent.resolve(), source=path.name, path=path)
    check_sweep(spec)
    return spec


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_level(kind: str, value: Any, key: str, problems: list[tuple[str, str]]) -> None:
    if kind in NUMERIC_KINDS:
        if not _number(value):
            problems.append((key, f"must be a number, got {value!r}"))
        elif kind == "weight" and value < 0:
            problems.append((key, f"a weight must be >= 0, got {value!r}"))
        elif kind in ("cap", "thin_route") and not 0 <= value <= 1:
            problems.append((key, f"must be between 0 and 1, got {value!r}"))
        elif kind == "arrivals" and value <= 0:
            problems.append((key, f"an arrivals factor must be > 0, got {value!r}"))
    elif kind in ("cut_route", "lift_designation"):
        ok = isinstance(value, str) or (isinstance(value, list)
                                        and all(isinstance(v, str) for v in value))
        if not ok:
            problems.append((key, f"must be an id, \"\" (none) or a list of ids, got {value!r}"))
    elif kind == "date":
        try:
            date.fromisoformat(str(value))
        except ValueError:
            problems.append((key, f"must be a date YYYY-MM-DD, got {value!r}"))
    elif not isinstance(value, str):
        what = "a file (or \"\" for none)" if kind == "designate" else "a preset or policy file"
        problems.append((key, f"must be {what}, got {value!r}"))


def _axis_name(kind: str, raw: Mapping[str, Any]) -> str:
    if "name" in raw and isinstance(raw["name"], str):
        return raw["name"]
    match kind:
        case "weight":
            return f"weight_{raw.get('term')}"
        case "cap":
            return f"cap_{raw['area_id']}" if "area_id" in raw else "cap"
        case "thin_route":
            return f"thin_{raw.get('route_id')}"
        case _:
            return kind


def _parse_axis(raw: Any, i: int, problems: list[tuple[str, str]], sample: str) -> Axis | None:
    key = f"axis[{i}]"
    if not isinstance(raw, dict):
        problems.append((key, "must be a table: [[axis]]"))
        return None
    kind = raw.get("kind")
    if kind not in AXIS_KINDS:
        problems.append((f"{key}.kind", f"must be one of {', '.join(AXIS_KINDS)}, got {kind!r}"))
        return None
    required, optional = AXIS_KINDS[kind]
    n = len(problems)
    for name in sorted(required - raw.keys()):
        problems.append((f"{key}.{name}", f"is required for kind {kind!r}"))
    allowed = _COMMON_KEYS | required | optional
    for name in sorted(raw.keys() - allowed):
        problems.append((f"{key}.{name}", f"unknown key for kind {kind!r} "
                         f"(allowed: {', '.join(sorted(allowed))})"))
    if kind == "weight" and "term" in raw and raw["term"] not in WEIGHT_TERMS:
        problems.append((f"{key}.term", f"must be one of {', '.join(WEIGHT_TERMS)}, "
                         f"got {raw['term']!r}"))
    if "name" in raw and not (isinstance(raw["name"], str) and raw["name"].strip()):
        problems.append((f"{key}.name", f"must be a non-empty text, got {raw['name']!r}"))
    has_values = "values" in raw
    has_range = "min" in raw or "max" in raw
    levels: tuple[Any, ...] | None = None
    low = high = None
    if has_values == has_range:
        problems.append((key, "give either values = [...] or min and max"
                         if kind in NUMERIC_KINDS else f"give values = [...] for kind {kind!r}"))
    elif has_values:
        values = raw["values"]
        if not isinstance(values, list) or not values:
            problems.append((f"{key}.values", "must be a non-empty list"))
        else:
            for j, value in enumerate(values, start=1):
                _check_level(kind, value, f"{key}.values[{j}]", problems)
            canon = [json.dumps(v, sort_keys=True) for v in values]
            if len(set(canon)) < len(canon):
                problems.append((f"{key}.values", "lists a value twice"))
            levels = tuple(values)
        if "steps" in raw:
            problems.append((f"{key}.steps", "only goes with min and max"))
    else:
        if kind not in NUMERIC_KINDS:
            problems.append((key, f"kind {kind!r} takes values = [...], not a range"))
        elif "min" not in raw or "max" not in raw:
            problems.append((key, "a range needs both min and max"))
        else:
            for bound in ("min", "max"):
                _check_level(kind, raw[bound], f"{key}.{bound}", problems)
            if _number(raw["min"]) and _number(raw["max"]) and raw["min"] > raw["max"]:
                problems.append((f"{key}.min", f"is above max ({raw['min']!r} > {raw['max']!r})"))
            low, high = raw["min"], raw["max"]
            if "steps" in raw:
                steps = raw["steps"]
                if not (isinstance(steps, int) and not isinstance(steps, bool) and steps >= 1):
                    problems.append((f"{key}.steps", f"must be a whole number >= 1, got {steps!r}"))
                elif _number(low) and _number(high):
                    grid = np.linspace(float(low), float(high), steps) if steps > 1 else [low]
                    levels = tuple(round(float(v), DRAW_DECIMALS) for v in grid)
            elif sample == "grid":
                problems.append((f"{key}.steps", "is required for a range when sample = "
                                 "\"grid\" (how many evenly spaced values)"))
    if len(problems) > n:
        return None
    options = {k: raw[k] for k in sorted(required | optional) if k in raw}
    return Axis(kind=kind, name=_axis_name(kind, raw), levels=levels,
                low=None if levels is not None else float(low),
                high=None if levels is not None else float(high), options=options)


def sweep_from_dict(data: Mapping[str, Any], *, folder: Path, source: str = "sweep",
                    path: Path | None = None) -> SweepSpec:
    """Build a :class:`SweepSpec` from a parsed sweep file (form checks only).

    Parameters
    ----------
    data : mapping
        The parsed TOML.
    folder : Path
        Folder that relative paths are resolved against.
    source : str
        Name used in messages.
    path : Path, optional
        The file, if any.

    Returns
    -------
    SweepSpec

    Raises
    ------
    ConfigError
        Listing every problem of the file as ``source: key: message``.
    """
    from placement.measures import MEASURES

    problems: list[tuple[str, str]] = []
    for key in data:
        if key not in ("scenario", "change", "sweep", "axis", "pareto"):
            problems.append((key, "unknown table (allowed: scenario, change, sweep, axis, "
                             "pareto)"))
    head = data.get("sweep", {})
    if not isinstance(head, dict):
        problems.append(("sweep", "must be a table"))
        head = {}
    for key in head:
        if key not in ("sample", "runs", "seed", "solver_threads"):
            problems.append((f"sweep.{key}", "unknown key (allowed: runs, sample, seed, "
                             "solver_threads)"))
    sample = head.get("sample", "grid")
    if sample not in SAMPLES:
        problems.append(("sweep.sample", f"must be one of {', '.join(SAMPLES)}, got {sample!r}"))
    runs = head.get("runs")
    if runs is not None and not (isinstance(runs, int) and not isinstance(runs, bool)
                                 and runs >= 1):
        problems.append(("sweep.runs", f"must be a whole number >= 1, got {runs!r}"))
        runs = None
    if runs is None and sample in ("random", "lhs") and "runs" not in head:
        problems.append(("sweep.runs", f"is required when sample = {sample!r}: how many runs"))
    seed = head.get("seed", 0)
    if not (isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0):
        problems.append(("sweep.seed", f"must be a whole number >= 0, got {seed!r}"))
        seed = 0
    threads = head.get("solver_threads", 1)
    if not (isinstance(threads, int) and not isinstance(threads, bool) and threads >= 1):
        problems.append(("sweep.solver_threads", f"must be a whole number >= 1, got {threads!r}"))
        threads = 1
    raw_axes = data.get("axis", [])
    if not isinstance(raw_axes, list):
        problems.append(("axis", "must be an array of tables: [[axis]]"))
        raw_axes = []
    if not raw_axes:
        problems.append(("axis", "a sweep needs at least one [[axis]]"))
    axes = [_parse_axis(raw, i, problems, str(sample)) for i, raw in enumerate(raw_axes, 1)]
    named: dict[str, int] = {}
    for i, axis in enumerate(axes, start=1):
        if axis is None:
            continue
        if axis.name in named:
            problems.append((f"axis[{i}]", f"varies {axis.name!r} like axis[{named[axis.name]}]"
                             " (give each axis its own parameter, or a distinct name)"))
        named.setdefault(axis.name, i)
    objectives: dict[str, str] = {}
    pareto = data.get("pareto", DEFAULT_OBJECTIVES)
    if not isinstance(pareto, dict) or not pareto:
        problems.append(("pareto", "must be a table of measure = \"max\" or \"min\""))
        pareto = {}
    for key, direction in pareto.items():
        if key not in MEASURES:
            problems.append((f"pareto.{key}", f"unknown measure (known: {', '.join(MEASURES)})"))
        elif direction not in ("max", "min"):
            problems.append((f"pareto.{key}", f"must be \"max\" or \"min\", got {direction!r}"))
        else:
            objectives[key] = direction
    base = {k: data[k] for k in ("scenario", "change") if k in data}
    base_scenario = None
    try:
        base_scenario = scenario_from_dict(dict(base), base=folder, source=source, path=path)
    except ConfigError as err:
        prefix = f"{source}: "
        for line in str(err).splitlines():
            text = line.removeprefix(prefix)
            key, _, message = text.partition(": ")
            problems.append((key, message))
    if problems:
        raise ConfigError("\n".join(f"{source}: {key}: {message}" for key, message in problems))
    assert base_scenario is not None
    spec = SweepSpec(name=base_scenario.name, path=path, folder=folder, base=dict(base),
                     base_scenario=base_scenario, axes=tuple(a for a in axes if a is not None),
                     sample=sample, runs=runs, seed=int(seed), objectives=objectives,
                     solver_threads=int(threads))
    if spec.sample == "grid":
        size = math.prod(len(a.levels or ()) for a in spec.axes)
        limit = spec.runs or DEFAULT_MAX_RUNS
        if size > limit:
            msg = (f"{source}: sweep.runs: the grid has {size:,} runs, more than the limit of "
                   f"{limit:,}: raise runs, use fewer levels, or sample = \"lhs\"")
            raise ConfigError(msg)
    return spec


def check_sweep(spec: SweepSpec, dataset: Any = None) -> Any:
    """Check every axis level against the base dataset (routes, areas, designations, files).

    Parameters
    ----------
    spec : SweepSpec
        The sweep.
    dataset : Dataset, optional
        The loaded base dataset (loaded when not given).

    Returns
    -------
    Dataset
        The base dataset.

    Raises
    ------
    ConfigError
        Every problem at once, each named by the sweep file's key (``axis[2].values[3]``).
    """
    from placement.dataset import load_dataset

    ds = dataset if dataset is not None else load_dataset(spec.base_scenario.dataset_dir)
    area_ids = sorted(ds.areas["area_id"].astype(str))
    changes = list(spec.base.get("change", []))
    where = {i: f"change[{i}]" for i in range(1, len(changes) + 1)}
    for i, axis in enumerate(spec.axes, start=1):
        if axis.levels is None:
            probes = [(f"axis[{i}].min", axis.low), (f"axis[{i}].max", axis.high)]
        else:
            probes = [(f"axis[{i}].values[{j}]", v) for j, v in enumerate(axis.levels, 1)]
        if axis.kind == "cap" and "area_id" not in axis.options:
            continue  # every area of the dataset: nothing to check
        for key, value in probes:
            for change in axis.changes(value, area_ids):
                changes.append(change)
                where[len(changes)] = key
    probe = {"scenario": dict(spec.base.get("scenario", {})), "change": changes}
    try:
        scen = scenario_from_dict(probe, base=spec.folder, source=spec.source, path=spec.path)
        check_changes(scen, ds)
    except ConfigError as err:
        def rename(match: re.Match[str]) -> str:
            return where.get(int(match.group(1)), match.group(0))

        text = re.sub(r"change\[(\d+)\]", rename, str(err))
        raise ConfigError(text) from None
    return ds


def _unit_sample(spec: SweepSpec) -> np.ndarray:
    """Points in [0, 1)^d of a random or Latin-hypercube sample (rows = runs)."""
    assert spec.runs is not None
    d = len(spec.axes)
    rng = np.random.default_rng(spec.seed)
    if spec.sample == "lhs":
        from scipy.stats import qmc

        return qmc.LatinHypercube(d=d, rng=rng).random(spec.runs)
    return rng.random((spec.runs, d))


def run_hash(base: Mapping[str, Any], params: Mapping[str, Any], dataset_sha256: str) -> str:
    """Return the key of one run: SHA-256 of its base, parameters and dataset (16 hex digits).

    Parameters
    ----------
    base : mapping
        The base scenario tables.
    params : mapping
        Axis name → value.
    dataset_sha256 : str
        Content hash of the base dataset.

    Returns
    -------
    str
    """
    text = json.dumps({"base": base, "params": params, "dataset": dataset_sha256},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def sample_runs(spec: SweepSpec, dataset_sha256: str = "") -> list[RunSpec]:
    """Draw the runs of a sweep: the full grid, or a seeded random or Latin-hypercube sample.

    The same file and seed always give the same runs in the same order. A drawn parameter set
    that repeats an earlier one (possible when every axis has a few levels) is dropped.

    Parameters
    ----------
    spec : SweepSpec
        The sweep.
    dataset_sha256 : str
        Content hash of the base dataset (part of each run's key).

    Returns
    -------
    list of RunSpec
    """
    names = [a.name for a in spec.axes]
    if spec.sample == "grid":
        combos = list(itertools.product(*(a.levels or () for a in spec.axes)))
    else:
        points = _unit_sample(spec)
        combos = [tuple(a.value_at(float(u)) for a, u in zip(spec.axes, row, strict=True))
                  for row in points]
    out: list[RunSpec] = []
    seen: set[str] = set()
    for combo in combos:
        params = dict(zip(names, combo, strict=True))
        h = run_hash(spec.base, params, dataset_sha256)
        if h in seen:
            continue
        seen.add(h)
        out.append(RunSpec(index=len(out) + 1, params=params, run_hash=h))
    return out


def run_definition(spec: SweepSpec, run: RunSpec, area_ids: Sequence[str]) -> dict[str, Any]:
    """Return the scenario file (as a dict) of one run: the base plus the axis changes.

    Changes setting a cap on every area come before caps on one area, so that an axis naming an
    area wins there.

    Parameters
    ----------
    spec : SweepSpec
        The sweep.
    run : RunSpec
        The run.
    area_ids : sequence of str
        The base dataset's areas (for a cap on every area).

    Returns
    -------
    dict
        ``scenario`` and ``change`` tables, for :func:`placement.scenario.scenario_from_dict`.
    """
    head = dict(spec.base.get("scenario", {}))
    head["name"] = f"{spec.name} #{run.index}"
    changes = [dict(c) for c in spec.base.get("change", [])]
    all_caps: list[dict[str, Any]] = []
    rest: list[dict[str, Any]] = []
    for axis in spec.axes:
        made = axis.changes(run.params[axis.name], area_ids)
        (all_caps if axis.kind == "cap" and "area_id" not in axis.options else rest).extend(made)
    return {"scenario": head, "change": changes + all_caps + rest}
