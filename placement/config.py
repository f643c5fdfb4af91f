"""Placement policy: hard rules, score weights, scoring thresholds and solver options.

A policy is a TOML file with the tables ``[policy]``, ``[rules]`` (with
``[rules.rent_ceiling_dkk]``), ``[weights]``, ``[scoring]``, ``[unknown]``, ``[objective]`` and
``[solver]``.
Every key is optional (defaults below); unknown keys and bad values are errors.
:func:`load_policy` accepts a path or the name of a bundled preset (``default``, ``stevns``,
``kalundborg``, ``vordingborg``, ``norddjurs``).

Every setting is a dataclass field whose metadata carries its unit, its documentation and the
policy goal it serves; :func:`describe_policy` turns them into a table for the README.
"""

from __future__ import annotations

import math
import tomllib
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from placement._errors import ConfigError
from placement.schema import DESIGNATED_KINDS

__all__ = [
    "PRESETS",
    "HardRules",
    "Objective",
    "Policy",
    "RentCeiling",
    "Scoring",
    "SolverOptions",
    "UnknownPolicy",
    "Weights",
    "describe_policy",
    "load_policy",
]

#: Names of the bundled presets (``placement/presets/<name>.toml``).
PRESETS = ("default", "stevns", "kalundborg", "vordingborg", "norddjurs")

HOUSEHOLD_TYPES = ("single", "couple", "single_parent", "family")

#: What an unknown score term means (see :class:`UnknownPolicy`).
UNKNOWN_CHOICES = ("leave_out", "exclude", "neutral")


def _f(
    default: Any,
    doc: str,
    *,
    unit: str = "",
    goal: str = "",
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    choices: tuple[str, ...] = (),
    optional: bool = False,
) -> Any:
    """Declare a policy setting with its unit, documentation, goal and bounds."""
    meta = {"doc": doc, "unit": unit, "goal": goal, "ge": ge, "gt": gt, "le": le,
            "choices": choices, "optional": optional}
    return field(default=default, metadata=meta)


def _meta(doc: str, *, unit: str = "", goal: str = "") -> dict[str, Any]:
    """Metadata of a settings table (a nested dataclass)."""
    return {"doc": doc, "unit": unit, "goal": goal}


@dataclass(frozen=True, slots=True)
class RentCeiling:
    """Highest monthly rent a household can pay, by household type (DKK/month)."""

    single: float = _f(5_500.0, "Rent ceiling for one adult without children.", unit="DKK/month",
                       goal="affordable housing", gt=0)
    couple: float = _f(7_000.0, "Rent ceiling for two or more adults without children.",
                       unit="DKK/month", goal="affordable housing", gt=0)
    single_parent: float = _f(7_500.0, "Rent ceiling for one adult with children.",
                              unit="DKK/month", goal="affordable housing", gt=0)
    family: float = _f(9_000.0, "Rent ceiling for two or more adults with children.",
                       unit="DKK/month", goal="affordable housing", gt=0)

    def for_type(self, household_type: str) -> float:
        """Return the ceiling for ``household_type`` (one of ``HOUSEHOLD_TYPES``)."""
        return float(getattr(self, household_type))


@dataclass(frozen=True, slots=True)
class HardRules:
    """Rules every proposal obeys. Each rule has an on/off switch and its parameters.

    One dwelling holds at most one household and a household gets at most one dwelling: these
    two are the structure of the model and cannot be switched off.
    """

    size_fit: bool = _f(True, "Persons per room must lie within the bounds below.",
                        goal="no overcrowding, no under-use of large dwellings")
    min_persons_per_room: float = _f(0.34, "Fewest persons per room: a household of p persons "
                                     "gets at most p / this many rooms (0.34: 1 person up to 2 "
                                     "rooms, 2 persons up to 5).", unit="persons/room",
                                     goal="large dwellings go to large households", ge=0)
    max_persons_per_room: float = _f(2.0, "Most persons per room: a household of p persons needs "
                                     "at least p / this many rooms (2.0: 5 persons need 3).",
                                     unit="persons/room",
                                     goal="no overcrowding", gt=0)
    rent_ceiling: bool = _f(True, "Rent must not exceed the household type's ceiling.",
                            goal="affordable housing")
    rent_ceiling_dkk: RentCeiling = field(
        default_factory=RentCeiling,
        metadata=_meta("Ceiling table by household type.", unit="DKK/month",
                       goal="affordable housing"))
    step_free: bool = _f(True, "A household that needs step-free access gets a step-free dwelling.",
                         goal="accessibility for disabled persons")
    availability: bool = _f(True, "The dwelling must be free on or before arrival plus tolerance.",
                            goal="permanent housing from arrival")
    availability_tolerance_days: int = _f(14, "Days a dwelling may become free after arrival.",
                                          unit="days", goal="permanent housing from arrival", ge=0)
    permanent_only: bool = _f(True, "Only permanent dwellings (temporary housing is not used).",
                              goal="permanent housing from arrival")
    excluded_area_kinds: tuple[str, ...] = _f(
        ("vulnerable", "parallel_society"),
        "Designated area kinds where nobody is placed (empty list: none).",
        goal="no placement in designated vulnerable areas", choices=DESIGNATED_KINDS)
    area_cap: bool = _f(True, "Cap on programme residents per local area.",
                        goal="geographic spread, mixed housing areas")
    max_area_share: float = _f(0.05, "Persons placed now plus residents already under the "
                               "programme must stay within this share of the area's population.",
                               unit="share of population", goal="mixed housing areas", gt=0, le=1)
    area_max_share: dict[str, float] = field(
        default_factory=dict,
        metadata={**_meta("Cap per local area, replacing max_area_share there: a table "
                          "area_id = share, e.g. [rules.area_max_share] \"9003\" = 0.02.",
                          unit="share of population", goal="mixed housing areas")})
    building_limit: bool = _f(True, "At most this many new households per building.",
                              goal="mixed neighbourhoods")
    max_households_per_building: int = _f(2, "Households placed per building.",
                                          unit="households", goal="mixed neighbourhoods", ge=1)


@dataclass(frozen=True, slots=True)
class Weights:
    """Relative weights of the objective's terms (any non-negative numbers; normalised to sum 1)."""

    transit: float = _f(0.35, "Public transport: stop service and travel time to jobcenter and "
                        "language school.", goal="reach jobcenter, language school, work", ge=0)
    community: float = _f(0.2, "Associations, library and culture within walking distance.",
                          goal="local community, retention", ge=0)
    family: float = _f(0.25, "Daycare (children 0–5) and school (6–16) within walking distance.",
                       goal="families: daycare and school within reach", ge=0)
    anchor: float = _f(0.1, "Closeness to the household's anchor place (work, education).",
                       goal="keep existing jobs and studies", ge=0)
    retention: float = _f(0.0, "Predicted retention: the probability, learned from the "
                          "municipality's own residence history, that a household placed in "
                          "the dwelling still lives in the municipality at the end of the "
                          "integration period (an association, not a cause; off by default; "
                          "see the retention model's out-of-time validation before using it).",
                          goal="retention after the integration period", ge=0)
    spread: float = _f(0.1, "Penalty on the persons placed off a population-proportional "
                       "distribution over local areas: each such person costs spread / (sum of "
                       "the other weights) score points (0.1 with the defaults: 0.11 points).",
                       goal="geographic spread", ge=0)

    @property
    def total(self) -> float:
        """Sum of all weights."""
        return (self.transit + self.community + self.family + self.anchor + self.retention
                + self.spread)


@dataclass(frozen=True, slots=True)
class Scoring:
    """Thresholds that turn minutes, departures and metres into scores in [0, 1].

    A time term is 1 at or below its ``*_full_min`` and falls linearly to 0 at ``*_zero_min``.
    """

    good_departures_per_hour: float = _f(4.0, "Departures per hour within 500 m that count as "
                                         "full service.", unit="departures/h",
                                         goal="near public transport", gt=0)
    walk_stop_full_min: float = _f(5.0, "Walk to a stop that scores 1.", unit="min", ge=0)
    walk_stop_zero_min: float = _f(15.0, "Walk to a stop that scores 0.", unit="min", gt=0)
    pt_full_min: float = _f(20.0, "Transit time to jobcenter/language school that scores 1.",
                            unit="min", ge=0)
    pt_zero_min: float = _f(75.0, "Transit time to jobcenter/language school that scores 0.",
                            unit="min", gt=0)
    community_full_min: float = _f(5.0, "Walk to an association/library that scores 1.",
                                   unit="min", ge=0)
    community_zero_min: float = _f(30.0, "Walk to an association/library that scores 0.",
                                   unit="min", gt=0)
    good_associations_15min: int = _f(5, "Associations within 15 min walk that count as full "
                                      "access.", unit="associations", ge=1)
    family_full_min: float = _f(5.0, "Walk to daycare/school that scores 1.", unit="min", ge=0)
    family_zero_min: float = _f(20.0, "Walk to daycare/school that scores 0.", unit="min", gt=0)
    anchor_full_m: float = _f(1_000.0, "Distance to the anchor place that scores 1.",
                              unit="m", ge=0)
    anchor_zero_m: float = _f(25_000.0, "Distance to the anchor place that scores 0.",
                              unit="m", gt=0)
    spread_tolerance_persons: float = _f(5.0, "Persons an area may be above its population-"
                                         "proportional share before the spread term counts "
                                         "(households come in whole persons; a small band "
                                         "lets the solver prove optimality quickly).",
                                         unit="persons", goal="geographic spread", ge=0)


_UNKNOWN_DOC = ("What an unknown {what} term means: leave_out (the term is left out and the "
                "weights are renormalised over the known terms), exclude (the dwelling is "
                "never proposed to a household the term applies to) or neutral "
                "(the term counts as unknown.neutral_value).")


@dataclass(frozen=True, slots=True)
class UnknownPolicy:
    """What a score term means when it could not be measured for a dwelling.

    A term is *unknown* when the data to measure it is missing (the dwelling lies outside the
    OSM extract or off the walk network, no GTFS feed, no place of a category in the data);
    that is not the same as *not applicable* (no children: no family term). An unknown term is
    never scored 0. Whatever the choice, proposals, alternatives, the summary and the map say
    "no data" where a term is unknown.
    """

    transit: str = _f("leave_out", _UNKNOWN_DOC.format(what="transit"),
                      goal="honest scores on incomplete data", choices=UNKNOWN_CHOICES)
    community: str = _f("leave_out", _UNKNOWN_DOC.format(what="community"),
                        goal="honest scores on incomplete data", choices=UNKNOWN_CHOICES)
    family: str = _f("leave_out", _UNKNOWN_DOC.format(what="family"),
                     goal="honest scores on incomplete data", choices=UNKNOWN_CHOICES)
    neutral_value: float = _f(0.5, "Value of an unknown term under neutral; also the score "
                              "of a pair none of whose applicable terms is known.",
                              unit="score", goal="honest scores on incomplete data",
                              ge=0, le=1)

    def mode(self, term: str) -> str:
        """Return the choice for ``term`` (``anchor`` is always known: leave_out)."""
        return str(getattr(self, term, "leave_out"))


@dataclass(frozen=True, slots=True)
class Objective:
    """What the optimiser maximises, stage by stage (lexicographic: an earlier stage always wins).

    1. House as many as possible (``first``); 2. the best plan quality (scores less the spread
    penalty) among the plans that do; 3. when re-optimising, keep as many previous placements as
    possible among the plans within ``keep_tolerance`` of that quality.
    """

    mode: str = _f("lexicographic", "lexicographic: the stages in order, each solved with the "
                   "earlier stages' optimum as a constraint; weighted: one solve with "
                   "solver.unplaced_penalty per unplaced household and solver.stability_bonus "
                   "per kept placement (the objective before stages existed).",
                   goal="house people first", choices=("lexicographic", "weighted"))
    first: str = _f("persons", "Stage 1 maximises: persons (persons housed), households "
                    "(households housed) or waiting (households housed, each counting 1 + days "
                    "since arrival / 365, so who waited longest goes first).",
                    goal="house people first, no size left behind",
                    choices=("persons", "households", "waiting"))
    keep_tolerance: float = _f(5e-4, "Share of the stage-2 quality a re-optimised plan may give "
                               "up to keep more previous placements (0: keep only among plans "
                               "of equal quality).", unit="share", goal="fewer moves", ge=0,
                               le=1)
    fairness_guard: bool = _f(False, "No household-size class (1, 2, 3, 4, 5, 6+ persons) or "
                              "arrival month is left unplaced at a rate more than "
                              "fairness_max_unplaced_share above that of a smaller size class "
                              "or a later month (households no dwelling suits, and approved "
                              "placements, are not counted).", goal="no size left behind")
    fairness_max_unplaced_share: float = _f(0.25, "How much higher the unplaced rate of a "
                                            "size class or arrival month may be than that of "
                                            "a smaller or later one under the fairness guard.",
                                            unit="share", goal="no size left behind", ge=0,
                                            le=1)
    waiting_cost_per_week: float = _f(0.05, "Cost of a household waiting one week in "
                                      "temporary housing, in batch decisions through the "
                                      "year (propose --batch-until, year simulate); a person "
                                      "housed counts 1 point and a dwelling's score at most "
                                      "1, so 0.05 trades 4 weeks of waiting for 0.2 score "
                                      "points.", unit="points per household-week",
                                      goal="house people soon", ge=0)


@dataclass(frozen=True, slots=True)
class SolverOptions:
    """Options of the MILP solve (HiGHS)."""

    time_limit_s: float = _f(60.0, "Wall-clock limit of the solve.", unit="s", gt=0)
    mip_gap: float = _f(5e-4, "Relative gap at which each stage stops, proven against every "
                        "eligible pair; for the quality stage measured on the quality part "
                        "alone (5e-4 of the demo's 84 points: 0.04 points).",
                        unit="share", ge=0, le=1)
    threads: int = _f(2, "Solver threads.", unit="threads", ge=1)
    seed: int = _f(0, "Random seed of the solver (same inputs, same result).", ge=0)
    unplaced_penalty: float = _f(100.0, "Cost of leaving a household unplaced, only with "
                                 "objective.mode = weighted (a household's score is at most "
                                 "1).", unit="score points", gt=0)
    candidate_limit: int = _f(0, "Keep only the pairs among the k best dwellings of a household "
                              "or the k best households of a dwelling (0: all pairs, exact). "
                              "Not needed for speed (large rounds are priced exactly); the "
                              "result may lie below the true optimum.",
                              unit="dwellings", ge=0)
    stability_bonus: float = _f(1e-4, "Bonus for keeping a previous proposal when re-optimising, "
                                "only with objective.mode = weighted (the lexicographic "
                                "objective keeps them in a stage of its own).",
                                unit="score points", ge=0)
    alternatives: int = _f(3, "Alternative dwellings listed per proposal.", unit="dwellings",
                           ge=0)


@dataclass(frozen=True, slots=True)
class Policy:
    """Municipal placement policy: rules, weights, scoring thresholds and solver options."""

    name: str = _f("default", "Name of the policy, shown in reports.")
    description: str = _f("", "What the policy aims at, in words.")
    rules: HardRules = field(default_factory=HardRules, metadata=_meta("Hard rules."))
    weights: Weights = field(default_factory=Weights, metadata=_meta("Objective weights."))
    scoring: Scoring = field(default_factory=Scoring, metadata=_meta("Score thresholds."))
    unknown: UnknownPolicy = field(default_factory=UnknownPolicy,
                                   metadata=_meta("Meaning of unknown score terms."))
    objective: Objective = field(default_factory=Objective,
                                 metadata=_meta("Objective stages."))
    solver: SolverOptions = field(default_factory=SolverOptions, metadata=_meta("Solver options."))

    def __post_init__(self) -> None:
        """Check the settings; raise ConfigError listing every problem."""
        problems = _check(self, "")
        problems += _cross_checks(self.rules, self.weights, self.scoring)
        if problems:
            raise ConfigError(_render("policy", problems))

    @classmethod
    def from_toml(cls, path: str | Path) -> Policy:
        """Read a policy TOML file.

        Parameters
        ----------
        path
            The file. ``[policy]`` holds ``name`` and ``description``; the tables ``[rules]``,
            ``[rules.rent_ceiling_dkk]``, ``[weights]``, ``[scoring]`` and ``[solver]`` hold the
            settings of the same names.

        Returns
        -------
        Policy

        Raises
        ------
        ConfigError
            Unreadable TOML, unknown keys or bad values; every problem is listed, each as
            ``file: key: message``.
        """
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as err:
            msg = f"{path.name}: cannot read the policy file ({err.strerror})"
            raise ConfigError(msg) from err
        except tomllib.TOMLDecodeError as err:
            msg = f"{path.name}: not valid TOML: {err}"
            raise ConfigError(msg) from err
        return cls.from_dict(data, source=path.name)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "policy") -> Policy:
        """Build a policy from a parsed TOML document (see :meth:`from_toml`)."""
        data = dict(data)
        head = data.pop("policy", {})
        problems: list[tuple[str, str]] = []
        if not isinstance(head, dict):
            problems.append(("policy", f"must be a table, got {head!r}"))
            head = {}
        top: dict[str, Any] = {}
        for key, value in head.items():
            if key in ("name", "description") and isinstance(value, str):
                top[key] = value
            elif key in ("name", "description"):
                problems.append((f"policy.{key}", f"must be text, got {value!r}"))
            else:
                problems.append((f"policy.{key}", "unknown key (allowed: description, name)"))
        hints = typing.get_type_hints(cls)
        sections = {f.name for f in fields(cls) if is_dataclass(hints[f.name])}
        for key in data:
            if key not in sections:
                allowed = ", ".join(["policy", *sorted(sections)])
                problems.append((key, f"unknown table (allowed: {allowed})"))
        for name in sorted(sections):
            obj, more = _parse(hints[name], data.get(name, {}), f"{name}.")
            problems += more + _check(obj, f"{name}.")
            top[name] = obj
        problems += _cross_checks(top["rules"], top["weights"], top["scoring"])
        if problems:
            raise ConfigError(_render(source, problems))
        return cls(**top)

    def with_overrides(self, **sections: dict[str, Any]) -> Policy:
        """Return a copy with some settings changed, e.g. ``rules={"area_cap": False}``."""
        changes: dict[str, Any] = {}
        for name, values in sections.items():
            if name in ("name", "description"):
                changes[name] = values
            else:
                changes[name] = replace(getattr(self, name), **values)
        return replace(self, **changes)


# --- parsing and checking ----------------------------------------------------------------


def area_shares(rules: HardRules, area_ids: Any) -> np.ndarray:
    """Return the cap share of each area: ``rules.area_max_share`` where set, else the default.

    Parameters
    ----------
    rules : HardRules
        The policy's rules.
    area_ids : sequence of str
        Area ids in the order wanted.

    Returns
    -------
    numpy.ndarray
        Share of the population per area.
    """
    return np.array([float(rules.area_max_share.get(str(a), rules.max_area_share))
                     for a in area_ids], dtype=float)


def _render(source: str, problems: list[tuple[str, str]]) -> str:
    lines = [f"{source}: {key}: {msg}" for key, msg in problems]
    if len(lines) > 1:
        lines.insert(0, f"{len(lines)} problems in the policy:")
    return "\n".join(lines)


def _type_name(tp: Any) -> str:
    return {float: "a number", int: "a whole number", bool: "true or false",
            str: "text"}.get(tp, "a list of text")


def _parse(cls: type, data: Any, prefix: str) -> tuple[Any, list[tuple[str, str]]]:
    """Turn a TOML table into an instance of ``cls`` (bad keys left at their defaults).

    Returns the instance and the problems found, each as (dotted key, message).
    """
    problems: list[tuple[str, str]] = []
    where = prefix.rstrip(".") or "policy"
    if not isinstance(data, dict):
        return cls(), [(where, f"must be a table, got {data!r}")]
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    for key in data:
        if key not in known:
            allowed = ", ".join(sorted(known))
            problems.append((f"{prefix}{key}", f"unknown key (allowed: {allowed})"))
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        tp = hints[f.name]
        key = f"{prefix}{f.name}"
        if is_dataclass(tp):
            sub, more = _parse(tp, value, f"{key}.")
            problems += more
            kwargs[f.name] = sub
            continue
        if tp is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        ok = (
            (tp is float and isinstance(value, float))
            or (tp is int and isinstance(value, int) and not isinstance(value, bool))
            or (tp is bool and isinstance(value, bool))
            or (tp is str and isinstance(value, str))
        )
        if typing.get_origin(tp) is dict:
            ok = isinstance(value, dict) and all(
                isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1
                for v in value.values())
            if ok:
                value = {str(k): float(v) for k, v in value.items()}
            else:
                problems.append((key, f"must be a table of area_id = share between 0 and 1, "
                                      f"got {value!r}"))
                continue
        if typing.get_origin(tp) is tuple:
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
            if ok:
                value = tuple(value)
        if not ok:
            problems.append((key, f"must be {_type_name(tp)}, got {value!r}"))
            continue
        kwargs[f.name] = value
    return cls(**kwargs), problems


def _check(obj: Any, prefix: str) -> list[tuple[str, str]]:
    """Check the bounds and choices declared in the field metadata."""
    problems: list[tuple[str, str]] = []
    for f in fields(obj):
        value = getattr(obj, f.name)
        key = f"{prefix}{f.name}"
        if is_dataclass(value):
            problems += _check(value, f"{key}.")
            continue
        m = f.metadata
        if isinstance(value, dict):
            continue
        if isinstance(value, float) and not math.isfinite(value):
            problems.append((key, f"must be a finite number, got {value}"))
            continue
        if m.get("gt") is not None and not value > m["gt"]:
            problems.append((key, f"must be > {m['gt']:g}, got {value:g}"))
        if m.get("ge") is not None and not value >= m["ge"]:
            problems.append((key, f"must be >= {m['ge']:g}, got {value:g}"))
        if m.get("le") is not None and not value <= m["le"]:
            problems.append((key, f"must be <= {m['le']:g}, got {value:g}"))
        if m.get("choices") and isinstance(value, str) and value not in m["choices"]:
            problems.append((key, f"must be one of {', '.join(m['choices'])}, got {value!r}"))
        if m.get("choices") and isinstance(value, tuple):
            bad = [v for v in value if v not in m["choices"]]
            if bad:
                problems.append((key, f"unknown kind(s) {', '.join(map(repr, bad))} "
                                 f"(allowed: {', '.join(m['choices'])})"))
    return problems


def _cross_checks(r: HardRules, w: Weights, s: Scoring) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if r.min_persons_per_room > r.max_persons_per_room:
        problems.append(("rules.min_persons_per_room",
                         f"must be <= rules.max_persons_per_room ({r.max_persons_per_room:g}), "
                         f"got {r.min_persons_per_room:g}"))
    for full, zero in (("walk_stop_full_min", "walk_stop_zero_min"),
                       ("pt_full_min", "pt_zero_min"),
                       ("community_full_min", "community_zero_min"),
                       ("family_full_min", "family_zero_min"),
                       ("anchor_full_m", "anchor_zero_m")):
        if getattr(s, full) >= getattr(s, zero):
            problems.append((f"scoring.{full}",
                             f"must be < scoring.{zero} ({getattr(s, zero):g}), "
                             f"got {getattr(s, full):g}"))
    if max(w.transit, w.community, w.family, w.anchor, w.retention, w.spread) <= 0:
        problems.append(("weights", "at least one weight must be > 0"))
    return problems


def load_policy(path_or_preset: str | Path) -> Policy:
    """Load a policy from a TOML file or a bundled preset name.

    Parameters
    ----------
    path_or_preset
        A path to a TOML file, or one of :data:`PRESETS`.

    Returns
    -------
    Policy

    Examples
    --------
    >>> load_policy("kalundborg").rules.excluded_area_kinds
    ('vulnerable', 'parallel_society', 'prevention')
    """
    name = str(path_or_preset)
    if name in PRESETS:
        text = resources.files("placement").joinpath("presets", f"{name}.toml").read_text(
            encoding="utf-8")
        return Policy.from_dict(tomllib.loads(text), source=f"{name}.toml")
    path = Path(path_or_preset)
    if not path.exists():
        msg = (f"{path.name}: no such policy file, and not a preset name "
               f"(presets: {', '.join(PRESETS)})")
        raise ConfigError(msg)
    return Policy.from_toml(path)


def _toml_value(v: Any) -> str:
    """Write a default as it would appear in a policy file."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, tuple):
        return "[" + ", ".join(f'"{x}"' for x in v) + "]"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, dict):
        return "{" + ", ".join(f'"{k}" = {x:g}' for k, x in v.items()) + "}"
    return str(v)


def describe_policy(cls: type = Policy, prefix: str = "") -> list[dict[str, str]]:
    """List every setting with key, unit, default, goal and documentation (for the README)."""
    rows: list[dict[str, str]] = []
    hints = typing.get_type_hints(cls)
    for f in fields(cls):
        tp = hints[f.name]
        key = f"{prefix}{f.name}"
        if is_dataclass(tp):
            rows += describe_policy(tp, f"{key}.")
            continue
        default = f.default if f.default is not MISSING else None
        if default is None and f.default_factory is not MISSING:
            default = f.default_factory()
        rows.append({"key": key, "unit": f.metadata.get("unit", ""),
                     "default": _toml_value(default),
                     "goal": f.metadata.get("goal", ""), "doc": f.metadata.get("doc", "")})
    return rows
