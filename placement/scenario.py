"""What-if scenarios: a base dataset plus a list of changes, written as TOML.

A scenario file::

    [scenario]
    name = "Line 201 cut, 50 % more arrivals"
    dataset = "../data/geo/demo"     # the base dataset (relative to this file)
    policy = "stevns"                # a preset name or a policy file
    date = "2026-03-02"              # service date for public transport (optional)

    [[change]]
    kind = "arrivals"                # more arrivals: a factor ...
    factor = 1.5
    [[change]]
    kind = "arrivals"                # ... or an extra households file
    file = "extra_households.csv"
    [[change]]
    kind = "withdraw_dwellings"
    dwelling_ids = ["D0012", "D0040"]
    [[change]]
    kind = "add_dwellings"
    file = "new_dwellings.csv"
    [[change]]
    kind = "cut_route"               # a bus line cut ...
    route_id = "201"
    [[change]]
    kind = "thin_route"              # ... or thinned: a share of its trips removed
    route_id = "202"
    share_removed = 0.5
    [[change]]
    kind = "area_cap"                # a new or changed cap on one local area
    area_id = "9003"
    max_share = 0.02
    [[change]]
    kind = "designate"               # a designated area added (from a GeoJSON/GeoPackage) ...
    file = "new_area.geojson"
    [[change]]
    kind = "lift_designation"        # ... or lifted
    designated_id = "V1"
    [[change]]
    kind = "weights"                 # other weights (any of transit, community, family, ...)
    transit = 0.6
    [[change]]
    kind = "preset"                  # another policy preset or file
    policy = "kalundborg"
    [[change]]
    kind = "date"                    # another service date
    date = "2026-06-01"

:func:`read_scenario` parses and checks the file; :func:`check_changes` checks every change
against the base dataset (a route, area, dwelling or file that does not exist is an error
before anything runs); :func:`materialise` writes the scenario's dataset folder, reusing the
base files that no change touches, so the accessibility cache (keyed by file contents) is
reused when the network and the feed are unchanged.
"""

from __future__ import annotations

import csv
import io
import logging
import shutil
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from placement import load
from placement._errors import ConfigError
from placement.dataset import MANIFEST_NAME, Dataset, load_dataset, read_manifest

logger = logging.getLogger(__name__)

#: Change kinds and their keys: (required keys, optional keys).
CHANGE_KINDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "arrivals": (frozenset(), frozenset({"factor", "file", "seed"})),
    "withdraw_dwellings": (frozenset({"dwelling_ids"}), frozenset()),
    "add_dwellings": (frozenset({"file"}), frozenset()),
    "cut_route": (frozenset({"route_id"}), frozenset()),
    "thin_route": (frozenset({"route_id", "share_removed"}), frozenset()),
    "area_cap": (frozenset({"area_id", "max_share"}), frozenset()),
    "designate": (frozenset({"file"}), frozenset({"layer", "kind"})),
    "lift_designation": (frozenset({"designated_id"}), frozenset()),
    "weights": (frozenset(), frozenset({"transit", "community", "family", "anchor", "retention",
                                      "spread"})),
    "preset": (frozenset({"policy"}), frozenset()),
    "date": (frozenset({"date"}), frozenset()),
}
#: Which inputs a change kind touches (what must be recomputed).
TOUCHES: dict[str, frozenset[str]] = {
    "arrivals": frozenset({"households"}),
    "withdraw_dwellings": frozenset({"dwellings"}),
    "add_dwellings": frozenset({"dwellings", "accessibility"}),
    "cut_route": frozenset({"gtfs", "accessibility"}),
    "thin_route": frozenset({"gtfs", "accessibility"}),
    "area_cap": frozenset({"policy"}),
    "designate": frozenset({"designated"}),
    "lift_designation": frozenset({"designated"}),
    "weights": frozenset({"policy"}),
    "preset": frozenset({"policy"}),
    "date": frozenset({"gtfs", "accessibility"}),
}


@dataclass(frozen=True)
class Change:
    """One change of a scenario.

    Attributes
    ----------
    kind : str
        One of :data:`CHANGE_KINDS`.
    params : dict
        Its keys (files resolved to absolute paths).
    index : int
        Position in the file (1-based), for messages.
    """

    kind: str
    params: dict[str, Any]
    index: int

    def describe(self) -> str:
        """Say what the change does, in words."""
        p = self.params
        match self.kind:
            case "arrivals":
                if "factor" in p:
                    return f"arrivals × {p['factor']:g}"
                return f"extra households from {Path(p['file']).name}"
            case "withdraw_dwellings":
                return f"{len(p['dwelling_ids'])} dwelling(s) withdrawn"
            case "add_dwellings":
                return f"dwellings added from {Path(p['file']).name}"
            case "cut_route":
                return f"route {p['route_id']} cut"
            case "thin_route":
                return f"route {p['route_id']}: {p['share_removed']:.0%} of trips removed"
            case "area_cap":
                return f"cap on area {p['area_id']}: {p['max_share']:.1%} of its population"
            case "designate":
                return f"designated area(s) added from {Path(p['file']).name}"
            case "lift_designation":
                return f"designation {p['designated_id']} lifted"
            case "weights":
                return "weights: " + ", ".join(f"{k}={v:g}" for k, v in sorted(p.items()))
            case "preset":
                return f"policy {p['policy']}"
            case _:
                return f"service date {p['date']}"


@dataclass(frozen=True)
class Scenario:
    """A parsed scenario file.

    Attributes
    ----------
    name : str
        Display name.
    path : Path or None
        The TOML file (None for a scenario built in code).
    dataset_dir : Path
        The base dataset.
    policy : str
        Preset name or policy file path of the base.
    date : datetime.date or None
        Service date for public transport (None: the accessibility default).
    changes : tuple of Change
        The changes, in file order.
    """

    name: str
    dataset_dir: Path
    policy: str = "default"
    date: date | None = None
    changes: tuple[Change, ...] = ()
    path: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def touches(self) -> frozenset[str]:
        """The inputs the changes touch (``households``, ``gtfs``, ``policy``, ...)."""
        out: set[str] = set()
        for change in self.changes:
            out |= TOUCHES[change.kind]
        return frozenset(out)

    def effective_policy(self) -> str:
        """Return the preset or file of the last ``preset`` change, else the base policy."""
        chosen = self.policy
        for change in self.changes:
            if change.kind == "preset":
                chosen = str(change.params["policy"])
        return chosen

    def effective_date(self) -> date | None:
        """Return the date of the last ``date`` change, else the scenario's date."""
        chosen = self.date
        for change in self.changes:
            if change.kind == "date":
                chosen = change.params["date"]
        return chosen

    def weight_overrides(self) -> dict[str, float]:
        """Return the weights set by ``weights`` changes (later changes win)."""
        out: dict[str, float] = {}
        for change in self.changes:
            if change.kind == "weights":
                out.update({k: float(v) for k, v in change.params.items()})
        return out

    def area_caps(self) -> dict[str, float]:
        """Return per-area caps (share of population) set by ``area_cap`` changes."""
        return {str(c.params["area_id"]): float(c.params["max_share"])
                for c in self.changes if c.kind == "area_cap"}


def _as_date(value: Any, key: str, problems: list[tuple[str, str]]) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        problems.append((key, f"must be a date YYYY-MM-DD, got {value!r}"))
        return None


def read_scenario(path: str | Path) -> Scenario:
    """Read a scenario TOML file and check its form (not yet against the dataset).

    Parameters
    ----------
    path : str or Path
        The scenario file.

    Returns
    -------
    Scenario

    Raises
    ------
    ConfigError
        Listing every problem as ``file: key: message``.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = f"{path.name}: no such scenario file ({path})"
        raise ConfigError(msg) from None
    except tomllib.TOMLDecodeError as err:
        msg = f"{path.name}: not valid TOML: {err}"
        raise ConfigError(msg) from None
    return scenario_from_dict(data, base=path.parent, source=path.name, path=path)


def scenario_from_dict(data: dict[str, Any], *, base: Path, source: str = "scenario",
                       path: Path | None = None) -> Scenario:
    """Build a :class:`Scenario` from parsed TOML (as :func:`read_scenario` does).

    Parameters
    ----------
    data : dict
        The parsed file.
    base : Path
        Folder that relative paths are resolved against.
    source : str
        Name used in messages.
    path : Path, optional
        The file, if any.

    Returns
    -------
    Scenario
    """
    problems: list[tuple[str, str]] = []
    for key in data:
        if key not in ("scenario", "change"):
            problems.append((key, "unknown table (allowed: scenario, change)"))
    head = data.get("scenario", {})
    if not isinstance(head, dict):
        problems.append(("scenario", "must be a table"))
        head = {}
    for key in head:
        if key not in ("name", "dataset", "policy", "date", "description"):
            problems.append((f"scenario.{key}",
                             "unknown key (allowed: name, dataset, policy, date, description)"))
    if "dataset" not in head:
        problems.append(("scenario.dataset", "is required: the base dataset folder"))
    dataset_dir = (base / str(head.get("dataset", "."))).resolve()
    if "dataset" in head and not (dataset_dir / MANIFEST_NAME).is_file():
        problems.append(("scenario.dataset", f"no {MANIFEST_NAME} in {dataset_dir}"))
    policy = str(head.get("policy", "default"))
    policy = _resolve_policy(policy, base)
    day = _as_date(head["date"], "scenario.date", problems) if "date" in head else None
    raw_changes = data.get("change", [])
    if not isinstance(raw_changes, list):
        problems.append(("change", "must be an array of tables: [[change]]"))
        raw_changes = []
    changes = []
    for i, raw in enumerate(raw_changes, start=1):
        change = _parse_change(raw, i, base, problems)
        if change is not None:
            changes.append(change)
    if problems:
        lines = [f"{source}: {key}: {message}" for key, message in problems]
        raise ConfigError("\n".join(lines))
    return Scenario(name=str(head.get("name", path.stem if path else "scenario")),
                    dataset_dir=dataset_dir, policy=policy, date=day, changes=tuple(changes),
                    path=path, raw=data)


def _resolve_policy(policy: str, base: Path) -> str:
    from placement.config import PRESETS

    if policy in PRESETS:
        return policy
    return str((base / policy).resolve())


def _parse_change(raw: Any, i: int, base: Path, problems: list[tuple[str, str]]) -> Change | None:
    key = f"change[{i}]"
    if not isinstance(raw, dict):
        problems.append((key, "must be a table"))
        return None
    kind = raw.get("kind")
    if kind not in CHANGE_KINDS:
        problems.append((f"{key}.kind", f"must be one of {', '.join(CHANGE_KINDS)}, got {kind!r}"))
        return None
    required, optional = CHANGE_KINDS[kind]
    params = {k: v for k, v in raw.items() if k != "kind"}
    for name in sorted(required - params.keys()):
        problems.append((f"{key}.{name}", f"is required for kind {kind!r}"))
    for name in sorted(params.keys() - required - optional):
        allowed = ", ".join(sorted(required | optional))
        problems.append((f"{key}.{name}", f"unknown key for kind {kind!r} (allowed: {allowed})"))
    n = len(problems)
    if kind == "arrivals":
        if ("factor" in params) == ("file" in params):
            problems.append((key, "give either factor or file for kind 'arrivals'"))
        if "factor" in params and not (isinstance(params["factor"], int | float)
                                       and params["factor"] > 0):
            problems.append((f"{key}.factor", f"must be a number > 0, got {params['factor']!r}"))
    if kind == "thin_route":
        share = params.get("share_removed")
        if not (isinstance(share, int | float) and 0 <= share <= 1):
            problems.append((f"{key}.share_removed", f"must be between 0 and 1, got {share!r}"))
    if kind == "area_cap":
        share = params.get("max_share")
        if not (isinstance(share, int | float) and 0 <= share <= 1):
            problems.append((f"{key}.max_share", f"must be between 0 and 1, got {share!r}"))
    if kind == "weights":
        for name, value in params.items():
            if not (isinstance(value, int | float) and value >= 0):
                problems.append((f"{key}.{name}", f"must be a number >= 0, got {value!r}"))
    if kind == "withdraw_dwellings" and not (isinstance(params.get("dwelling_ids"), list)
                                             and params["dwelling_ids"]):
        problems.append((f"{key}.dwelling_ids", "must be a non-empty list of dwelling ids"))
    if kind == "date" and "date" in params:
        params["date"] = _as_date(params["date"], f"{key}.date", problems)
    if kind == "preset" and "policy" in params:
        params["policy"] = _resolve_policy(str(params["policy"]), base)
    if "file" in params:
        file = (base / str(params["file"])).resolve()
        if not file.is_file():
            problems.append((f"{key}.file", f"no such file: {file}"))
        params["file"] = file
    if len(problems) > n:
        return None
    return Change(kind=kind, params=params, index=i)


def check_changes(scenario: Scenario, dataset: Dataset | None = None) -> Dataset:
    """Check every change against the base dataset, before anything runs.

    Parameters
    ----------
    scenario : Scenario
        The parsed scenario.
    dataset : Dataset, optional
        The loaded base dataset (loaded when not given).

    Returns
    -------
    Dataset
        The base dataset.

    Raises
    ------
    ConfigError
        When a change names a route, area, dwelling, designated area or policy that does not
        exist (all such problems at once).
    """
    ds = dataset if dataset is not None else load_dataset(scenario.dataset_dir)
    source = scenario.path.name if scenario.path else scenario.name
    problems: list[str] = []
    feed = None
    for change in scenario.changes:
        key = f"change[{change.index}]"
        p = change.params
        if change.kind in ("cut_route", "thin_route"):
            if ds.gtfs_path is None:
                problems.append(f"{key}.route_id: the dataset has no GTFS feed")
                continue
            if feed is None:
                from placement.gtfs import load_gtfs

                feed = load_gtfs(ds.gtfs_path, boundary=ds.boundary)
            routes = set(feed.routes["route_id"].astype(str))
            if str(p["route_id"]) not in routes:
                problems.append(f"{key}.route_id: route {p['route_id']!r} is not in the feed "
                                f"(routes: {', '.join(sorted(routes))})")
        elif change.kind == "area_cap":
            areas = set(ds.areas["area_id"].astype(str))
            if str(p["area_id"]) not in areas:
                problems.append(f"{key}.area_id: area {p['area_id']!r} is not a local area of "
                                f"the dataset (areas: {', '.join(sorted(areas))})")
        elif change.kind == "withdraw_dwellings":
            known = set(ds.dwellings["dwelling_id"].astype(str))
            missing = [str(d) for d in p["dwelling_ids"] if str(d) not in known]
            if missing:
                problems.append(f"{key}.dwelling_ids: not in the dataset: {', '.join(missing)}")
        elif change.kind == "lift_designation":
            known = set(ds.designated["designated_id"].astype(str))
            if str(p["designated_id"]) not in known:
                problems.append(f"{key}.designated_id: {p['designated_id']!r} is not a "
                                f"designated area of the dataset (known: "
                                f"{', '.join(sorted(known)) or 'none'})")
        elif change.kind == "preset":
            from placement.config import load_policy

            try:
                load_policy(p["policy"])
            except ConfigError as err:
                problems.append(f"{key}.policy: {err}")
    if problems:
        raise ConfigError("\n".join(f"{source}: {line}" for line in problems))
    return ds


def _raw_table(path: Path) -> pd.DataFrame:
    """Read a CSV as text cells exactly as written (any encoding/separator load accepts)."""
    text, _ = load._decode(path.read_bytes())
    sep = load._sniff_sep(text)
    frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    frame.columns = [c.strip().lower() for c in frame.columns]
    return frame


def _write_table(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False, encoding="utf-8", lineterminator="\n",
                 quoting=csv.QUOTE_MINIMAL)
    return path


def _more_arrivals(households: pd.DataFrame, factor: float, seed: int) -> pd.DataFrame:
    """Scale the arrivals by ``factor``: copies of a deterministic sample with new ids."""
    n = len(households)
    target = round(n * factor)
    if target <= n:
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(n, size=target, replace=False))
        return households.iloc[keep].reset_index(drop=True)
    extra = target - n
    rng = np.random.default_rng(seed)
    picks = rng.choice(n, size=extra, replace=extra > n)
    copies = households.iloc[np.sort(picks)].copy()
    ids = set(households["household_id"])
    new_ids = []
    counter = 1
    for _ in range(extra):
        while f"SX{counter:05d}" in ids:
            counter += 1
        new_ids.append(f"SX{counter:05d}")
        counter += 1
    copies["household_id"] = new_ids
    return pd.concat([households, copies], ignore_index=True)


def materialise(scenario: Scenario, out_dir: str | Path, dataset: Dataset | None = None) -> Path:
    """Write the scenario's dataset folder: the base with the changes applied.

    Files no change touches are referenced by absolute path (not copied), so caches keyed by
    file contents stay valid. Every new file goes through the same loaders as real data before
    the folder counts as written.

    Parameters
    ----------
    scenario : Scenario
        The scenario.
    out_dir : str or Path
        Folder to write (``out_dir/dataset.toml`` and changed files); replaced when it exists.
    dataset : Dataset, optional
        The loaded base dataset.

    Returns
    -------
    Path
        The scenario's dataset folder.
    """
    ds = check_changes(scenario, dataset)
    m = read_manifest(scenario.dataset_dir)
    out = Path(out_dir)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    files: dict[str, Path] = {}
    kinds = {c.kind for c in scenario.changes}

    if kinds & {"arrivals"}:
        households = _raw_table(m.households.file)
        for c in scenario.changes:
            if c.kind != "arrivals":
                continue
            if "factor" in c.params:
                households = _more_arrivals(households, float(c.params["factor"]),
                                            int(c.params.get("seed", 0)))
            else:
                load.load_households(c.params["file"])  # validate with the real loader
                households = pd.concat([households, _raw_table(c.params["file"])],
                                       ignore_index=True).fillna("")
        files["households"] = _write_table(households, tmp / "households.csv")

    if kinds & {"withdraw_dwellings", "add_dwellings"}:
        dwellings = _raw_table(m.dwellings.file)
        for c in scenario.changes:
            if c.kind == "withdraw_dwellings":
                drop = {str(d) for d in c.params["dwelling_ids"]}
                dwellings = dwellings[~dwellings["dwelling_id"].str.strip().isin(drop)]
            elif c.kind == "add_dwellings":
                load.load_dwellings(c.params["file"], crs=m.dwellings.crs, boundary=ds.boundary,
                                    tolerance_m=m.tolerance_m)
                dwellings = pd.concat([dwellings, _raw_table(c.params["file"])],
                                      ignore_index=True).fillna("")
        files["dwellings"] = _write_table(dwellings.reset_index(drop=True), tmp / "dwellings.csv")

    if kinds & {"cut_route", "thin_route"}:
        from placement.gtfs import drop_routes, load_gtfs, thin_route, write_gtfs

        assert m.gtfs_file is not None  # checked in check_changes
        feed = load_gtfs(m.gtfs_file, boundary=ds.boundary)
        for c in scenario.changes:
            if c.kind == "cut_route":
                feed = drop_routes(feed, [str(c.params["route_id"])])
            elif c.kind == "thin_route":
                feed = thin_route(feed, str(c.params["route_id"]),
                                  float(c.params["share_removed"]))
        files["gtfs"] = write_gtfs(feed, tmp / "gtfs.zip")

    if kinds & {"designate", "lift_designation"}:
        designated = ds.designated.copy()
        for c in scenario.changes:
            if c.kind == "lift_designation":
                designated = designated[designated["designated_id"].astype(str)
                                        != str(c.params["designated_id"])]
            elif c.kind == "designate":
                added = load.load_designated(c.params["file"], layer=c.params.get("layer"))
                if "kind" in c.params:
                    added["kind"] = str(c.params["kind"])
                designated = pd.concat([designated, added], ignore_index=True)
        designated = gpd.GeoDataFrame(designated, geometry="geometry", crs="EPSG:4326")
        path = tmp / "designated.gpkg"
        designated.to_file(path, layer="designated_areas", engine="pyogrio")
        files["designated"] = path

    (tmp / MANIFEST_NAME).write_text(_manifest_text(m, files), encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    logger.info("scenario %s written to %s (%s)", scenario.name, out,
                ", ".join(c.describe() for c in scenario.changes) or "no changes")
    return out


def _q(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _manifest_text(m: Any, files: dict[str, Path]) -> str:
    """Return a manifest: absolute paths to base files, relative ones to changed files."""

    def where(part: str, original: Path) -> str:
        return files[part].name if part in files else str(original)

    lines = ["# Scenario dataset written by placement; base files are referenced, not copied.",
             "[municipality]", f"name = {_q(m.name)}", f"code = {_q(m.code)}", ""]

    def section(name: str, file: str, **extra: str | None) -> None:
        lines.append(f"[{name}]")
        lines.append(f"file = {_q(file)}")
        for key, value in extra.items():
            if value is not None:
                lines.append(f"{key} = {_q(value)}")
        lines.append("")

    section("boundary", str(m.boundary.file), layer=m.boundary.layer, crs=m.boundary.crs)
    section("areas", str(m.areas.file), layer=m.areas.layer, crs=m.areas.crs,
            id_field=m.area_id_field, name_field=m.area_name_field,
            population_file=str(m.population_file) if m.population_file else None)
    if "designated" in files:
        section("designated", files["designated"].name, layer="designated_areas")
    elif m.designated is not None:
        section("designated", str(m.designated.file), layer=m.designated.layer,
                crs=m.designated.crs)
    section("osm", str(m.osm_file))
    if m.gtfs_file is not None:
        section("gtfs", where("gtfs", m.gtfs_file))
    section("dwellings", where("dwellings", m.dwellings.file), crs=m.dwellings.crs)
    section("households", where("households", m.households.file))
    if m.history is not None:
        section("history", str(m.history.file))
    return "\n".join(lines)
