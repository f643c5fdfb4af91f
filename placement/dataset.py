"""A dataset folder: its ``dataset.toml`` manifest, loading all parts, and validating them.

A dataset is a folder with a ``dataset.toml`` naming the municipality's geodata, OSM extract,
GTFS feed and the dwellings, households and residence-history tables (see
``docs/readme/dataset.md``). :func:`load_dataset` loads the tables and geodata (OSM and GTFS are
only located) and raises one :class:`~placement._errors.DataError` with the problems of every
file; :func:`validate_dataset` returns a report instead of raising and, with ``deep=True``,
also reads the OSM extract and the GTFS feed.
"""

from __future__ import annotations

import logging
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from placement import load
from placement._errors import DataError, Problem
from placement.crs import parse_crs

__all__ = [
    "MANIFEST_NAME",
    "Dataset",
    "GeoSource",
    "Manifest",
    "ValidationReport",
    "load_dataset",
    "read_manifest",
    "validate_dataset",
]

logger = logging.getLogger(__name__)

#: File name of the manifest inside a dataset folder.
MANIFEST_NAME = "dataset.toml"

# section -> (allowed keys, required keys); sections not listed in _OPTIONAL are required
_SECTIONS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "municipality": (frozenset({"name", "code"}), frozenset({"name", "code"})),
    "boundary": (frozenset({"file", "layer", "crs", "code_field"}), frozenset({"file"})),
    "areas": (
        frozenset({"file", "layer", "crs", "id_field", "name_field", "population_file",
                   "code_field"}),
        frozenset({"file"}),
    ),
    "designated": (frozenset({"file", "layer", "crs"}), frozenset({"file"})),
    "osm": (frozenset({"file"}), frozenset({"file"})),
    "gtfs": (frozenset({"file"}), frozenset({"file"})),
    "dwellings": (frozenset({"file", "crs", "columns", "tolerance_m"}), frozenset({"file"})),
    "households": (frozenset({"file", "columns"}), frozenset({"file"})),
    "history": (frozenset({"file"}), frozenset({"file"})),
}
_OPTIONAL = frozenset({"designated", "gtfs", "history"})
#: Keys whose value is a table (column name mappings) or a number, not text.
_TABLE_KEYS = frozenset({"columns"})
_NUMBER_KEYS = frozenset({"tolerance_m"})
#: Default of ``[dwellings] tolerance_m``: generalised (1:500 000) boundaries cut off real
#: coastal addresses by up to a few hundred metres.
DEFAULT_TOLERANCE_M = 300.0


@dataclass(frozen=True, slots=True)
class GeoSource:
    """Where one geodata part (or table) is: file, optional GeoPackage layer, optional CRS.

    Attributes
    ----------
    file : Path
        Absolute path of the file.
    layer : str or None
        GeoPackage layer (None for GeoJSON and CSV).
    crs : str or None
        ``crs`` key of the section (for files without one, or x/y columns), e.g. "EPSG:25832".
    """

    file: Path
    layer: str | None = None
    crs: str | None = None


@dataclass(frozen=True, slots=True)
class Manifest:
    """The parsed ``dataset.toml`` (all paths absolute).

    Attributes
    ----------
    root : Path
        The dataset folder.
    name, code : str
        Municipality display name and 4-digit code ("0390").
    boundary, areas, designated : GeoSource
        Geodata; ``designated`` is None when the section is absent.
    area_id_field, area_name_field : str
        Attributes of the areas layer holding id and name (default ``area_id`` and ``name``).
    population_file : Path or None
        Population CSV per area_id, when given.
    osm_file : Path
        OSM extract (.osm, .osm.bz2 or .osm.pbf).
    gtfs_file : Path or None
        GTFS zip, when given.
    dwellings, households : GeoSource
        The CSV tables (``dwellings.crs`` is the CRS of x/y columns).
    history : GeoSource or None
        Residence history CSV, when given.
    boundary_code_field, areas_code_field : str or None
        Field of a national boundary / parish file holding the municipality code (default:
        ``KOMKODE`` when present); the features of ``code`` are selected.
    tolerance_m : float
        Dwellings this close outside the boundary are accepted (with a warning).
    dwelling_columns, household_columns : dict
        Schema column → the file's own header (``[dwellings.columns]``,
        ``[households.columns]``).
    """

    root: Path
    name: str
    code: str
    boundary: GeoSource
    areas: GeoSource
    area_id_field: str
    area_name_field: str
    population_file: Path | None
    designated: GeoSource | None
    osm_file: Path
    gtfs_file: Path | None
    dwellings: GeoSource
    households: GeoSource
    history: GeoSource | None
    boundary_code_field: str | None = None
    areas_code_field: str | None = None
    tolerance_m: float = DEFAULT_TOLERANCE_M
    dwelling_columns: dict[str, str] = field(default_factory=dict)
    household_columns: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Dataset:
    """A loaded dataset (frames as described in ``docs/readme/CONTRACTS.md``).

    Attributes
    ----------
    root : Path
        The dataset folder.
    manifest : Manifest
    boundary, areas, designated, dwellings : geopandas.GeoDataFrame
        EPSG:4326.
    households : pandas.DataFrame
    history : pandas.DataFrame or None
    osm_path : Path
        OSM extract (not loaded here: see ``placement.osm``).
    gtfs_path : Path or None
        GTFS zip (not loaded here: see ``placement.gtfs``).
    """

    root: Path
    manifest: Manifest
    boundary: gpd.GeoDataFrame
    areas: gpd.GeoDataFrame
    designated: gpd.GeoDataFrame
    dwellings: gpd.GeoDataFrame
    households: pd.DataFrame
    history: pd.DataFrame | None
    osm_path: Path
    gtfs_path: Path | None


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """Result of :func:`validate_dataset`.

    Attributes
    ----------
    problems : tuple of Problem
        Every problem found (empty when the dataset is usable).
    summary : dict
        Counts, CRSs and date ranges of what could be read, e.g. ``{"dwellings": 4,
        "available_from": ("2025-01-01", "2025-06-01"), ...}``.
    warnings : tuple of placement.checks.DataWarning
        What does not stop a run but leaves score terms unknown (:mod:`placement.checks`).
    """

    problems: tuple[Problem, ...]
    summary: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[Any, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether no problem was found."""
        return not self.problems


def _manifest_problem(column: str | None, message: str) -> Problem:
    return Problem(file=MANIFEST_NAME, row=None, column=column, message=message)


def _manifest_cpr_problems(doc: dict[str, Any]) -> list[Problem]:
    """CPR-shaped values (or keys) anywhere in the manifest, masked."""
    from placement.validate import cpr_problem, find_cpr

    problems: list[Problem] = []

    def walk(value: Any, where: str) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                hit = find_cpr(str(key))
                if hit:
                    problems.append(cpr_problem(MANIFEST_NAME, None, where or None, hit))
                walk(inner, f"{where}.{key}" if where else str(key))
        elif isinstance(value, list):
            for inner in value:
                walk(inner, where)
        elif isinstance(value, str | int):
            hit = find_cpr(str(value))
            if hit:
                problems.append(cpr_problem(MANIFEST_NAME, None, where, hit))

    walk(doc, "")
    return problems


def _parse_manifest(dataset_dir: Path) -> tuple[Manifest | None, list[Problem]]:
    """Parse the manifest; return (manifest or None, problems)."""
    root = dataset_dir.resolve()
    path = root / MANIFEST_NAME
    if not path.is_file():
        msg = f"no {MANIFEST_NAME} in {root}; a dataset is a folder with this manifest"
        return None, [_manifest_problem(None, msg)]
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        return None, [_manifest_problem(None, f"not valid TOML: {err}")]
    except UnicodeDecodeError:
        return None, [_manifest_problem(None, "not valid TOML: the file must be UTF-8")]

    problems: list[Problem] = _manifest_cpr_problems(doc)
    for section in doc:
        if section not in _SECTIONS:
            problems.append(
                _manifest_problem(
                    section, f"unknown section [{section}]; known: {', '.join(_SECTIONS)}"
                )
            )
    sections: dict[str, dict[str, Any]] = {}
    for section, (allowed, required) in _SECTIONS.items():
        body = doc.get(section)
        if body is None:
            if section not in _OPTIONAL:
                problems.append(
                    _manifest_problem(section, f"required section [{section}] is missing")
                )
            continue
        if not isinstance(body, dict):
            problems.append(_manifest_problem(section, f"[{section}] must be a table of keys"))
            continue
        for key in body:
            if key not in allowed:
                problems.append(
                    _manifest_problem(
                        f"{section}.{key}",
                        f"unknown key {key!r} in [{section}]; "
                        f"allowed: {', '.join(sorted(allowed))}",
                    )
                )
        for key in sorted(required):
            if key not in body:
                problems.append(
                    _manifest_problem(f"{section}.{key}", f"{section}.{key} is missing")
                )
        for key, value in body.items():
            if key in _TABLE_KEYS and key in allowed:
                if not isinstance(value, dict) or not all(
                    isinstance(v, str) for v in value.values()
                ):
                    problems.append(
                        _manifest_problem(
                            f"{section}.{key}",
                            f"[{section}.{key}] must map column names to the file's own "
                            f'headers in quotes, e.g. dwelling_id = "Lejemål nr", got {value!r}',
                        )
                    )
                continue
            if key in _NUMBER_KEYS and key in allowed:
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    problems.append(
                        _manifest_problem(
                            f"{section}.{key}",
                            f"{section}.{key} must be a number of metres >= 0, got {value!r}",
                        )
                    )
                continue
            if key in allowed and not isinstance(value, str):
                problems.append(
                    _manifest_problem(
                        f"{section}.{key}",
                        f"{section}.{key} must be text in quotes, got {value!r}",
                    )
                )
        sections[section] = body

    def text(section: str, key: str) -> str | None:
        value = sections.get(section, {}).get(key)
        return value if isinstance(value, str) else None

    code = text("municipality", "code")
    if code is not None and not re.fullmatch(r"\d{4}", code):
        problems.append(
            _manifest_problem(
                "municipality.code", f'municipality.code must be 4 digits like "0390", got {code!r}'
            )
        )

    def file_of(section: str, key: str = "file") -> Path | None:
        value = text(section, key)
        if value is None:
            return None
        candidate = Path(value)
        resolved = candidate if candidate.is_absolute() else root / candidate
        if not resolved.is_file():
            problems.append(
                _manifest_problem(
                    f"{section}.{key}",
                    f"file not found: {value} (paths are relative to {root})",
                )
            )
        return resolved

    def crs_of(section: str) -> str | None:
        value = text(section, "crs")
        if value is None:
            return None
        try:
            parse_crs(value, file=MANIFEST_NAME, key=f"{section}.crs")
        except DataError as err:
            problems.extend(err.problems)
            return None
        return value

    def source(section: str, *, layered: bool = True) -> GeoSource | None:
        if section not in sections:
            return None
        file = file_of(section)
        crs = crs_of(section) if "crs" in _SECTIONS[section][0] else None
        layer = text(section, "layer") if layered else None
        return GeoSource(file=file, layer=layer, crs=crs) if file is not None else None

    boundary = source("boundary")
    areas = source("areas")
    designated = source("designated")
    population_file = file_of("areas", "population_file")
    osm = file_of("osm")
    gtfs = file_of("gtfs")
    dwellings = source("dwellings", layered=False)
    households = source("households", layered=False)
    history = source("history", layered=False)
    if problems:
        return None, problems
    if boundary is None or areas is None or osm is None or dwellings is None or households is None:
        return None, [_manifest_problem(None, "incomplete manifest")]  # unreachable: reported above
    manifest = Manifest(
        root=root,
        name=text("municipality", "name") or "",
        code=code or "",
        boundary=boundary,
        areas=areas,
        area_id_field=text("areas", "id_field") or "area_id",
        area_name_field=text("areas", "name_field") or "name",
        population_file=population_file,
        designated=designated,
        osm_file=osm,
        gtfs_file=gtfs,
        dwellings=dwellings,
        households=households,
        history=history,
        boundary_code_field=text("boundary", "code_field"),
        areas_code_field=text("areas", "code_field"),
        tolerance_m=float(sections.get("dwellings", {}).get("tolerance_m",
                                                            DEFAULT_TOLERANCE_M)),
        dwelling_columns=dict(sections.get("dwellings", {}).get("columns", {})),
        household_columns=dict(sections.get("households", {}).get("columns", {})),
    )
    return manifest, []


def read_manifest(dataset_dir: str | Path) -> Manifest:
    """Read and check ``dataset.toml`` in ``dataset_dir``.

    Parameters
    ----------
    dataset_dir : str or Path
        The dataset folder.

    Returns
    -------
    Manifest
        With absolute paths.

    Raises
    ------
    DataError
        Every problem of the manifest (file ``dataset.toml``, column = the key, e.g.
        ``dwellings.crs``): unknown sections or keys, missing sections, files that do not exist,
        unknown EPSG codes.
    """
    manifest, problems = _parse_manifest(Path(dataset_dir))
    if manifest is None:
        raise DataError(problems)
    return manifest


def _load_parts(manifest: Manifest) -> tuple[dict[str, Any], list[Problem]]:
    """Load every tabular/geodata part, collecting the problems of all files."""
    parts: dict[str, Any] = {}
    problems: list[Problem] = []

    def attempt(part: str, func: Any, *args: Any, **kwargs: Any) -> None:
        try:
            parts[part] = func(*args, **kwargs)
        except DataError as err:
            problems.extend(err.problems)
            parts[part] = None

    m = manifest
    attempt(
        "boundary",
        load.load_boundary,
        m.boundary.file,
        layer=m.boundary.layer,
        crs=m.boundary.crs,
        name=m.name,
        code=m.code,
        code_field=m.boundary_code_field,
    )
    attempt(
        "areas",
        load.load_areas,
        m.areas.file,
        layer=m.areas.layer,
        id_field=m.area_id_field,
        name_field=m.area_name_field,
        population_file=m.population_file,
        crs=m.areas.crs,
        municipality_code=m.code,
        code_field=m.areas_code_field,
        boundary=parts["boundary"],
        population_required=False,
    )
    if m.designated is not None:
        attempt(
            "designated",
            load.load_designated,
            m.designated.file,
            layer=m.designated.layer,
            crs=m.designated.crs,
        )
    else:
        parts["designated"] = load.load_designated(None)
    attempt(
        "dwellings",
        load.load_dwellings,
        m.dwellings.file,
        crs=m.dwellings.crs,
        boundary=parts["boundary"],
        areas=parts["areas"],
        designated=parts["designated"],
        tolerance_m=m.tolerance_m,
        columns=m.dwelling_columns or None,
    )
    attempt("households", load.load_households, m.households.file,
            columns=m.household_columns or None)
    if parts.get("areas") is not None and parts.get("dwellings") is not None:
        parts["areas"] = estimate_population(parts["areas"], parts["dwellings"])
    if m.history is not None:
        attempt("history", load.load_history, m.history.file)
    else:
        parts["history"] = None
    return parts, problems


#: What placement does without population per local area, in words (summary and report).
POPULATION_FALLBACK_WORDS = (
    "no population per local area was given: the area caps are off, and the spread over "
    "local areas follows the number of available dwellings in each area instead of its "
    "population"
)


def estimate_population(areas: gpd.GeoDataFrame, dwellings: pd.DataFrame) -> gpd.GeoDataFrame:
    """Stand-in population for areas loaded without one: the available dwellings per area.

    Areas with ``population_estimated`` get ``population`` = the number of dwellings in the
    area (the spread then follows the housing on offer); the optimiser switches the area caps
    off for such areas (:data:`POPULATION_FALLBACK_WORDS`). Other areas are unchanged.

    Parameters
    ----------
    areas : geopandas.GeoDataFrame
        From :func:`placement.load.load_areas`.
    dwellings : pandas.DataFrame
        With ``area_id``.

    Returns
    -------
    geopandas.GeoDataFrame
    """
    if "population_estimated" not in areas.columns or not areas["population_estimated"].any():
        return areas
    counts = dwellings["area_id"].astype("string").value_counts()
    out = areas.copy()
    est = out["population_estimated"].to_numpy(dtype=bool)
    ids = out["area_id"].astype(str)
    # a count: an area with no available dwelling has 0 of them (measured, not unknown)
    out.loc[est, "population"] = ids[est].map(counts).fillna(0).astype("int64").to_numpy()
    logger.info("%s", POPULATION_FALLBACK_WORDS)  # validate lists it once, as a warning
    return out


def load_dataset(dataset_dir: str | Path) -> Dataset:
    """Load a dataset folder: manifest, boundary, areas, designated areas, tables.

    The OSM extract and GTFS feed are only located (their files must exist); read them with
    ``placement.osm`` and ``placement.gtfs``. Nothing is written.

    Parameters
    ----------
    dataset_dir : str or Path
        Folder with ``dataset.toml``.

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        One error listing the problems of every file (file, spreadsheet row, column).
    """
    manifest = read_manifest(dataset_dir)
    parts, problems = _load_parts(manifest)
    if problems:
        raise DataError(problems)
    logger.info(
        "loaded dataset %s (%s): %d areas, %d dwellings, %d households",
        manifest.name,
        manifest.code,
        len(parts["areas"]),
        len(parts["dwellings"]),
        len(parts["households"]),
    )
    return Dataset(
        root=manifest.root,
        manifest=manifest,
        boundary=parts["boundary"],
        areas=parts["areas"],
        designated=parts["designated"],
        dwellings=parts["dwellings"],
        households=parts["households"],
        history=parts["history"],
        osm_path=manifest.osm_file,
        gtfs_path=manifest.gtfs_file,
    )


def _date_range(series: pd.Series) -> tuple[str, str] | None:
    valid = series.dropna()
    if valid.empty:
        return None
    return (valid.min().date().isoformat(), valid.max().date().isoformat())


def _crs_name(gdf: gpd.GeoDataFrame | None) -> str | None:
    return None if gdf is None or gdf.crs is None else gdf.crs.to_string()


def validate_dataset(dataset_dir: str | Path, *, deep: bool = True) -> ValidationReport:
    """Check a dataset folder and summarise it, without raising on bad data.

    Parameters
    ----------
    dataset_dir : str or Path
        Folder with ``dataset.toml``.
    deep : bool
        Also read the OSM extract (walk network and amenities) and the GTFS feed; slower.

    Returns
    -------
    ValidationReport
        ``problems`` from every file; ``summary`` with ``municipality``, counts
        (``areas``, ``designated``, ``dwellings``, ``households``, ``history_rows``),
        ``population``, ``crs`` (of the loaded frames and the manifest keys), date ranges
        (``available_from``, ``arrival_date``, ``placement_date``) and, when ``deep``,
        ``walk_nodes``, ``walk_edges`` (undirected), ``amenities`` (count per category) and
        ``gtfs_service`` (first and last service date).
    """
    manifest, problems = _parse_manifest(Path(dataset_dir))
    summary: dict[str, Any] = {}
    if manifest is None:
        return ValidationReport(problems=tuple(problems), summary=summary)
    parts, problems = _load_parts(manifest)
    summary["municipality"] = f"{manifest.name} ({manifest.code})"
    for name in ("areas", "designated", "dwellings", "households"):
        if parts.get(name) is not None:
            summary[name] = len(parts[name])
    if parts.get("history") is not None:
        summary["history_rows"] = len(parts["history"])
    if parts.get("areas") is not None:
        a = parts["areas"]
        summary["population"] = (
            "not given (area caps off; spread over available dwellings)"
            if "population_estimated" in a.columns and a["population_estimated"].any()
            else int(a["population"].sum()))
    summary["crs"] = {
        "boundary": _crs_name(parts.get("boundary")),
        "areas": _crs_name(parts.get("areas")),
        "dwellings": _crs_name(parts.get("dwellings")),
        "dwellings_xy": manifest.dwellings.crs,
    }
    for part, col in (
        ("dwellings", "available_from"),
        ("households", "arrival_date"),
        ("history", "placement_date"),
    ):
        frame = parts.get(part)
        if frame is not None and len(frame):
            summary[col] = _date_range(frame[col])
    from placement import checks

    ctx = checks.CheckContext(
        manifest=manifest, boundary=parts.get("boundary"), areas=parts.get("areas"),
        dwellings=parts.get("dwellings"), households=parts.get("households"), deep=deep)
    if deep:
        problems += _deep_checks(manifest, parts.get("boundary"), summary, ctx)
    warnings = checks.run_checks(ctx)
    # the feed's own warnings (placement.gtfs_area.gtfs_warnings); "no feed" is said once
    no_feed = manifest.gtfs_file is None and any(w.topic == "gtfs" for w in warnings)
    warnings += [checks.DataWarning("gtfs", text) for text in summary.pop("warnings", [])
                 if not (no_feed and text.startswith("no GTFS feed"))]
    return ValidationReport(problems=tuple(problems), summary=summary, warnings=tuple(warnings))


def _deep_checks(
    manifest: Manifest, boundary: gpd.GeoDataFrame | None, summary: dict[str, Any],
    ctx: Any = None,
) -> list[Problem]:
    """Read OSM and GTFS with their own loaders; return their problems."""
    problems: list[Problem] = []
    from placement import osm  # imported here: heavy, and only needed for deep checks

    try:
        graph = osm.walk_network_from_file(manifest.osm_file, boundary=boundary)
        summary["walk_nodes"] = graph.n_nodes
        summary["walk_edges"] = len(graph.edge_u)  # undirected: a street is one edge
        amenities = osm.amenities_from_file(manifest.osm_file, boundary=boundary)
        counts = amenities["category"].value_counts()
        summary["amenities"] = {str(k): int(v) for k, v in sorted(counts.items())}
        if ctx is not None:
            ctx.graph, ctx.amenities = graph, amenities
    except DataError as err:  # one report per broken file, not one per reader
        problems.extend(err.problems)
    feed = None
    from placement import gtfs_area

    if manifest.gtfs_file is not None and gtfs_area.is_stop_list(manifest.gtfs_file):
        try:
            summary["stops"] = len(gtfs_area.load_stop_list(manifest.gtfs_file))
        except DataError as err:
            problems.extend(err.problems)
    elif manifest.gtfs_file is not None:
        from placement import gtfs

        # the part of the feed that is used (a national feed is clipped to the municipality)
        coverage = None if boundary is None else gtfs_area.stop_coverage(manifest.gtfs_file,
                                                                          boundary)
        clip = boundary if coverage is not None and coverage["near"] else None
        try:
            feed = gtfs.load_gtfs(manifest.gtfs_file, boundary=clip)
            first, last = gtfs.service_date_range(feed)
            summary["gtfs_service"] = (_iso(first), _iso(last))
            if ctx is not None:
                ctx.feed = feed
        except DataError as err:
            problems.extend(err.problems)
    dates = [d for k in ("available_from", "arrival_date") for d in summary.get(k) or ()]
    if manifest.gtfs_file is None or feed is not None or gtfs_area.is_stop_list(
            manifest.gtfs_file):
        summary.setdefault("warnings", []).extend(gtfs_area.gtfs_warnings(
            manifest.gtfs_file, boundary, dates=dates, feed=feed))
    return problems


def _iso(value: date | Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
