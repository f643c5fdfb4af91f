"""Retention after the integration period: rates, intervals, survival curves and models.

Definitions (also in ``docs/readme/retention.md``)
--------------------------------------------------
Person
    One row of the prepared frame per ``person_id`` (or ``household_id`` when the history has no
    person ids). A row of the history stands for ``persons`` persons (default 1); every count
    below is a count of persons, so a household row with ``persons = 4`` counts four times.
Integration period
    Ends on ``integration_end`` when the history gives it, else on ``placement_date`` plus
    ``integration_years`` (default 5, a setting; 29 February rolls back to 28 February).
Exit
    The first move whose destination is ``other_municipality`` or ``abroad``. A move ``within``
    the municipality is not an exit (the person may change local area; the analysis keeps the
    area *at placement*).
Retention rate for report year Y
    Denominator: every person whose integration period ends in calendar year Y (1 January to
    31 December) on or before the data date ``as_of`` (default: 31 December of Y).
    Numerator: those with no exit on or before their ``integration_end`` (an exit on that very
    day counts as leaving). Persons whose period has not ended by ``as_of`` are *censored*: they
    are reported as a count but never counted as stayers or leavers.
Wilson interval
    95 % Wilson score interval with ``z = 1.959964`` on the person counts.
Survival
    Time from ``placement_date`` to the exit, censored at ``as_of`` for persons who had not left
    by then; persons placed after ``as_of`` are left out. Kaplan–Meier curves, log-rank tests
    and an optional Cox model (association, not cause).
Small cells
    Any count below ``min_cell`` (default 5) is suppressed together with every number derived
    from it; see :func:`suppress_table` for the complementary rule.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd

from placement._errors import ConfigError, DataError, PlacementError, Problem
from placement.schema import DESTINATIONS

logger = logging.getLogger(__name__)

#: Two-sided 95 % normal quantile used by the Wilson interval.
Z_95 = 1.959964
#: Destinations that end residence in the municipality.
EXIT_DESTINATIONS = ("other_municipality", "abroad")
#: Text shown instead of a suppressed number.
SUPPRESSED = "<5"
#: File name used in error messages about the history.
HISTORY_FILE = "residence_history.csv"
#: Days per year used to express durations in years.
DAYS_PER_YEAR = 365.25
#: Cox covariates used by default, in this order, when the data has them.
DEFAULT_COX_COVARIATES = (
    "departures_per_hour_500m",
    "n_association_within_15min",
    "area_integration_share",
)
#: Groupings reported besides the overall figure: column → title.
BASE_GROUPINGS = {
    "cohort": "Placement year (arrival cohort)",
    "area_id": "Local area at first placement",
    "household_type": "Household type",
}
UNKNOWN = "unknown"
#: Tables whose rows do not add up to a shown total: no complementary suppression.
UNGROUPED_TABLES = ("overall", "trend")


class RetentionError(PlacementError, ValueError):
    """The retention figures cannot be computed for the requested year or settings."""


@dataclass(frozen=True, slots=True)
class RetentionTarget:
    """The retention target relative to a baseline year.

    Attributes
    ----------
    mode : {"relative", "points"}
        ``relative``: target = baseline rate x (1 + amount); ``points``: target = baseline rate +
        amount (a share, so 0.10 is ten percentage points). Capped at 1.
    amount : float
        Size of the improvement, a share (0.10 = 10 % or 10 points).
    """

    mode: Literal["relative", "points"] = "relative"
    amount: float = 0.10

    def __post_init__(self) -> None:
        if self.mode not in ("relative", "points"):
            msg = f"retention.target_mode: must be 'relative' or 'points', got {self.mode!r}"
            raise ConfigError(msg)
        if not (isinstance(self.amount, (int, float)) and math.isfinite(self.amount)) or (
            self.amount < 0
        ):
            msg = f"retention.target_amount: must be a share >= 0 (0.10 = 10), got {self.amount!r}"
            raise ConfigError(msg)

    def target_rate(self, baseline_rate: float) -> float:
        """Return the rate the report year must reach, given the baseline rate."""
        if self.mode == "relative":
            return min(1.0, baseline_rate * (1.0 + self.amount))
        return min(1.0, baseline_rate + self.amount)

    def describe(self) -> str:
        """Return the target in words, e.g. ``+10 % relative to the baseline``."""
        if self.mode == "relative":
            return f"+{self.amount * 100:g} % relative to the baseline"
        return f"+{self.amount * 100:g} percentage points over the baseline"


@dataclass(frozen=True, slots=True)
class MeasureSplit:
    """A yes/no grouping of persons by an accessibility measure of their placement dwelling.

    Attributes
    ----------
    name : str
        Column of the prepared frame holding ``"yes"``, ``"no"`` or ``"unknown"``.
    column : str
        Measure column (from the accessibility table or the history).
    threshold : float
        Cut-off, in the measure's unit.
    at_least : bool
        ``True``: yes when value >= threshold; ``False``: yes when value <= threshold.
    title : str
        Heading for tables and charts.
    """

    name: str
    column: str
    threshold: float
    at_least: bool = True
    title: str = ""


@dataclass(frozen=True, slots=True)
class RetentionSettings:
    """Settings of the retention analysis.

    Attributes
    ----------
    integration_years : int
        Length of the integration period when ``integration_end`` is not given, in years.
    min_cell : int
        Smallest count shown; smaller counts (and numbers derived from them) are suppressed.
    splits : tuple of MeasureSplit
        Groupings by placement measures; those whose column is missing are skipped.
    cox_covariates : tuple of str
        Covariates of the Cox model; those missing from the data are skipped.
    min_events_cox : int
        Fewest exits for which the Cox model is fitted.
    """

    integration_years: int = 5
    min_cell: int = 5
    splits: tuple[MeasureSplit, ...] = (
        MeasureSplit(
            "near_served_stop",
            "departures_per_hour_500m",
            2.0,
            at_least=True,
            title="Near a served stop (>= 2 departures/h within 500 m)",
        ),
        MeasureSplit(
            "stop_within_10_min",
            "walk_stop_min",
            10.0,
            at_least=False,
            title="Stop within 10 min walk",
        ),
    )
    cox_covariates: tuple[str, ...] = DEFAULT_COX_COVARIATES
    min_events_cox: int = 10

    def __post_init__(self) -> None:
        if not isinstance(self.integration_years, int) or self.integration_years < 1:
            msg = (
                "retention.integration_years: must be a whole number of years >= 1, "
                f"got {self.integration_years!r}"
            )
            raise ConfigError(msg)
        if not isinstance(self.min_cell, int) or self.min_cell < 1:
            msg = f"retention.min_cell: must be a whole number >= 1, got {self.min_cell!r}"
            raise ConfigError(msg)
        if self.min_events_cox < 1:
            msg = f"retention.min_events_cox: must be at least 1, got {self.min_events_cox!r}"
            raise ConfigError(msg)
        names = [split.name for split in self.splits]
        if len(set(names)) != len(names) or set(names) & set(BASE_GROUPINGS):
            msg = f"retention.splits: names must be unique and not {list(BASE_GROUPINGS)}"
            raise ConfigError(msg)


@dataclass(frozen=True, slots=True)
class RetentionRate:
    """Retention of the persons whose integration period ended in one year.

    Attributes
    ----------
    year : int
        Report year.
    n : int
        Persons whose period ended in ``year`` by the data date (the denominator).
    stayers : int
        Of those, persons with no exit on or before their period's end.
    leavers : int
        ``n - stayers``.
    censored : int
        Persons whose period ends in ``year`` but after the data date (not counted).
    rate : float
        ``stayers / n`` (NaN when ``n == 0``).
    ci_low, ci_high : float
        95 % Wilson score interval of ``rate``.
    """

    year: int
    n: int
    stayers: int
    leavers: int
    censored: int
    rate: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True, slots=True)
class TargetComparison:
    """The report year's rate against the baseline year and the target.

    Attributes
    ----------
    year, baseline_year : int
        Report and baseline years.
    rate, baseline_rate, target_rate : float
        Shares in [0, 1].
    met : bool
        ``rate >= target_rate`` (point estimates).
    difference_points : float
        ``rate - baseline_rate`` in percentage points.
    target : RetentionTarget
        The target used.
    suppressed : bool
        Whether either rate rests on a suppressed cell; reports then withhold the rates.
    """

    year: int
    baseline_year: int
    rate: float
    baseline_rate: float
    target_rate: float
    met: bool
    difference_points: float
    target: RetentionTarget
    suppressed: bool


@dataclass(frozen=True, slots=True)
class LogRankResult:
    """Log-rank test of equal survival across the groups of one grouping.

    Attributes
    ----------
    grouping : str
        Column the persons were grouped by.
    statistic : float
        Chi-square test statistic.
    degrees_freedom : int
        Number of groups minus one.
    p_value : float
        P-value of the test.
    n_groups : int
        Groups compared.
    """

    grouping: str
    statistic: float
    degrees_freedom: int
    p_value: float
    n_groups: int


@dataclass(frozen=True, slots=True)
class RetentionSummary:
    """Every number of the retention report, ready for a report, an app page or a CSV.

    Attributes
    ----------
    year : int
        Report year.
    as_of : pandas.Timestamp
        Data date: later period ends are censored, later exits are not yet known.
    overall : RetentionRate
        Retention of the report year.
    tables : dict of str to DataFrame
        Unsuppressed group tables (see :func:`retention_table`) by grouping column, including
        ``"overall"`` and ``"trend"`` (one row per year of period end up to ``year``).
    titles : dict of str to str
        Heading of each table.
    comparison : TargetComparison or None
        Comparison with the baseline year, when one was asked for.
    km : DataFrame
        Kaplan–Meier points of every shown curve (see :func:`kaplan_meier`).
    logrank : list of LogRankResult
        One test per grouping with at least two shown groups.
    cox : DataFrame or None
        Hazard ratios (see :func:`cox_model`), or None when not estimable (see ``notes``).
    notes : list of str
        Plain-language remarks (skipped analyses, censoring, warnings).
    min_cell : int
        Suppression threshold used.
    n_persons : int
        Persons in the prepared history.
    """

    year: int
    as_of: pd.Timestamp
    overall: RetentionRate
    tables: dict[str, pd.DataFrame]
    titles: dict[str, str]
    comparison: TargetComparison | None
    km: pd.DataFrame
    logrank: list[LogRankResult]
    cox: pd.DataFrame | None
    notes: list[str] = field(default_factory=list)
    min_cell: int = 5
    n_persons: int = 0

    def mask(self, key: str) -> pd.DataFrame:
        """Return the suppression mask of table ``key`` (see :func:`suppression_mask`)."""
        return suppression_mask(
            self.tables[key], min_cell=self.min_cell, complementary=key not in UNGROUPED_TABLES
        )

    def shown_tables(self) -> dict[str, pd.DataFrame]:
        """Return the group tables with small cells suppressed (what a report may show)."""
        label = suppressed_label(self.min_cell)
        return {k: v.astype(object).mask(self.mask(k), label) for k, v in self.tables.items()}


# --------------------------------------------------------------------------------------------
# Wilson interval
# --------------------------------------------------------------------------------------------
def wilson_interval(successes: float, n: float, *, z: float = Z_95) -> tuple[float, float]:
    """Return the Wilson score interval of a proportion.

    Parameters
    ----------
    successes
        Number of successes (here: stayers), ``0 <= successes <= n``.
    n
        Number of trials (persons).
    z
        Normal quantile; the default gives a two-sided 95 % interval.

    Returns
    -------
    tuple of float
        ``(low, high)`` in [0, 1]; ``(nan, nan)`` when ``n == 0``.

    Examples
    --------
    >>> [round(v, 4) for v in wilson_interval(8, 10)]
    [0.4902, 0.9433]
    """
    if n < 0 or successes < 0 or successes > n:
        msg = f"wilson_interval: need 0 <= successes <= n, got {successes} of {n}"
        raise ValueError(msg)
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denom
    half = z / denom * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n))
    # exact ends at 0 and n; never let rounding put the estimate outside its interval
    low = 0.0 if successes == 0 else min(p, max(0.0, centre - half))
    high = 1.0 if successes == n else max(p, min(1.0, centre + half))
    return (low, high)


# --------------------------------------------------------------------------------------------
# Preparation: one row per person
# --------------------------------------------------------------------------------------------
def _dates(series: pd.Series, column: str, problems: list[Problem]) -> pd.Series:
    """Parse a date column (ISO text or datetime) and record unparseable cells as problems."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return pd.to_datetime(series).dt.normalize()
    text = series.astype("string").str.strip()
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
    bad = text.notna() & (text != "") & parsed.isna()
    for pos in np.flatnonzero(bad.to_numpy()):
        problems.append(
            Problem(
                HISTORY_FILE,
                int(pos) + 2,
                column,
                f"expected a date like 2020-03-01, got {text.iloc[pos]!r}",
            )
        )
    return parsed.dt.normalize()


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    """Return a column as stripped strings with NA for empty cells (all NA when absent)."""
    if column not in frame.columns:
        return pd.Series(pd.NA, index=frame.index, dtype="string")
    s = frame[column].astype("string").str.strip()
    return s.mask(s == "")


def _measures_by_dwelling(measures: pd.DataFrame) -> pd.DataFrame:
    """Return the measures indexed by ``dwelling_id`` (as str)."""
    m = measures
    if "dwelling_id" in m.columns:
        m = m.set_index("dwelling_id")
    elif m.index.name != "dwelling_id":
        msg = "measures: expected an index or a column named 'dwelling_id'"
        raise RetentionError(msg)
    m = m.copy()
    m.index = m.index.astype(str)
    if m.index.has_duplicates:
        dup = m.index[m.index.duplicated()][0]
        msg = f"measures: dwelling_id {dup!r} appears more than once"
        raise RetentionError(msg)
    return m


def prepare_persons(
    history: pd.DataFrame,
    *,
    measures: pd.DataFrame | None = None,
    areas: pd.DataFrame | None = None,
    settings: RetentionSettings | None = None,
) -> pd.DataFrame:
    """Reduce a residence history (one row per move) to one row per person.

    Parameters
    ----------
    history
        Rows of ``schema.HISTORY``: a person with no move has one row with empty
        ``moved_out_date``; a person with several moves has one row per move, each repeating
        ``placement_date`` and the dwelling/area *at placement*. Dates may be datetimes or ISO
        text. Extra columns (measures joined from a stored run) are kept.
    measures
        Optional accessibility table (index or column ``dwelling_id``); its columns are joined
        on the placement dwelling and override history columns of the same name.
    areas
        Optional areas table with ``area_id``, ``population`` and ``integration_residents``;
        adds ``area_integration_share`` (integration residents / population of the area).
    settings
        Analysis settings (integration period length, measure splits).

    Returns
    -------
    pandas.DataFrame
        Sorted by ``person_id``; columns ``person_id``, ``household_id``, ``placement_date``,
        ``dwelling_id``, ``area_id`` (``"unknown"`` when absent), ``household_type``
        (``"unknown"`` when absent), ``persons`` (int weight), ``cohort`` (placement year, int),
        ``integration_end``, ``exit_date`` (NaT: no exit), ``exit_destination``,
        ``moved_within`` (bool: any move within the municipality), one column per measure
        split (``"yes"``/``"no"``/``"unknown"``) and any measure columns.

    Raises
    ------
    DataError
        Missing ids or placement dates, unparseable dates, unknown destinations, a move date
        without a destination (or the reverse), a move or period end before the placement,
        non-positive ``persons``, or rows of one person that disagree on the placement date.
    """
    settings = settings or RetentionSettings()
    if "placement_date" not in history.columns:
        raise DataError.single(
            HISTORY_FILE,
            "the column placement_date is missing; add the date of each first placement",
            column="placement_date",
        )
    problems: list[Problem] = []
    h = history.reset_index(drop=True)
    rows = pd.Series(np.arange(len(h)) + 2, index=h.index)

    pid = _text(h, "person_id")
    hid = _text(h, "household_id")
    key = pid.fillna(hid)
    for pos in np.flatnonzero(key.isna().to_numpy()):
        problems.append(
            Problem(
                HISTORY_FILE,
                int(rows.iloc[pos]),
                "person_id",
                "each row needs a person_id or a household_id",
            )
        )
    placed = _dates(h["placement_date"], "placement_date", problems)
    for pos in np.flatnonzero(_text(h, "placement_date").isna().to_numpy()):
        problems.append(
            Problem(
                HISTORY_FILE,
                int(rows.iloc[pos]),
                "placement_date",
                "the placement date is empty; every row needs it",
            )
        )
    end_given = (
        _dates(h["integration_end"], "integration_end", problems)
        if "integration_end" in h.columns
        else pd.Series(pd.NaT, index=h.index, dtype="datetime64[ns]")
    )
    moved = (
        _dates(h["moved_out_date"], "moved_out_date", problems)
        if "moved_out_date" in h.columns
        else pd.Series(pd.NaT, index=h.index, dtype="datetime64[ns]")
    )
    dest = _text(h, "destination").str.lower()
    for pos in np.flatnonzero((dest.notna() & ~dest.isin(DESTINATIONS)).to_numpy()):
        problems.append(
            Problem(
                HISTORY_FILE,
                int(rows.iloc[pos]),
                "destination",
                f"expected one of {', '.join(DESTINATIONS)}, got {dest.iloc[pos]!r}",
            )
        )
    for pos in np.flatnonzero((moved.notna() & dest.isna()).to_numpy()):
        problems.append(
            Problem(
                HISTORY_FILE,
                int(rows.iloc[pos]),
                "destination",
                "a move date is given without a destination (within, other_municipality or abroad)",
            )
        )
    for pos in np.flatnonzero((moved.isna() & dest.notna()).to_numpy()):
        problems.append(
            Problem(
                HISTORY_FILE,
                int(rows.iloc[pos]),
                "moved_out_date",
                "a destination is given without the date of the move",
            )
        )
    for pos in np.flatnonzero((moved < placed).fillna(False).to_numpy()):
        problems.append(
            Problem(
                HISTORY_FILE,
                int(rows.iloc[pos]),
                "moved_out_date",
                f"the move ({moved.iloc[pos].date()}) is before the placement "
                f"({placed.iloc[pos].date()})",
            )
        )
    for pos in np.flatnonzero((end_given < placed).fillna(False).to_numpy()):
        problems.append(
            Problem(
                HISTORY_FILE,
                int(rows.iloc[pos]),
                "integration_end",
                "the integration period ends before the placement date",
            )
        )
    if "persons" in h.columns:
        weight = pd.to_numeric(h["persons"], errors="coerce")
        bad_w = h["persons"].notna() & ~((weight > 0) & (weight == weight.round()))
        for pos in np.flatnonzero(bad_w.to_numpy()):
            problems.append(
                Problem(
                    HISTORY_FILE,
                    int(rows.iloc[pos]),
                    "persons",
                    f"expected a whole number above 0, got {h['persons'].iloc[pos]!r}",
                )
            )
        weight = weight.where(weight > 0).fillna(1).round().astype(int)
    else:
        weight = pd.Series(1, index=h.index, dtype=int)
    if problems:
        raise DataError(problems)

    work = pd.DataFrame(
        {
            "person_id": key,
            "household_id": hid,
            "placement_date": placed,
            "dwelling_id": _text(h, "dwelling_id"),
            "area_id": _text(h, "area_id"),
            "household_type": _text(h, "household_type"),
            "persons": weight,
            "integration_end": end_given,
            "moved_out_date": moved,
            "destination": dest,
            "_row": rows,
        }
    )
    extra_cols = [c for c in h.columns if c not in work.columns and c not in _HISTORY_NAMES]

    # one person, one placement: rows of a person must agree on the placement date
    n_dates = work.groupby("person_id", sort=False)["placement_date"].transform("nunique")
    for pos in np.flatnonzero((n_dates > 1).to_numpy()):
        problems.append(
            Problem(
                HISTORY_FILE,
                int(rows.iloc[pos]),
                "placement_date",
                f"person {work['person_id'].iloc[pos]!r} has rows with different "
                "placement dates; repeat the first placement date on every row",
            )
        )
    if problems:
        raise DataError(problems)

    grouped = work.groupby("person_id", sort=True)
    first = grouped.first()  # first non-null value per column, in file order
    is_exit = work["destination"].isin(EXIT_DESTINATIONS)
    exits = work[is_exit].sort_values(["person_id", "moved_out_date"], kind="stable")
    first_exit = exits.groupby("person_id", sort=True).first()
    out = pd.DataFrame(index=first.index)
    out["household_id"] = first["household_id"]
    out["placement_date"] = first["placement_date"]
    out["dwelling_id"] = first["dwelling_id"]
    out["area_id"] = first["area_id"]
    out["household_type"] = first["household_type"].fillna(UNKNOWN)
    out["persons"] = grouped["persons"].max().astype(int)
    out["cohort"] = out["placement_date"].dt.year.astype(int)
    default_end = out["placement_date"] + pd.DateOffset(years=settings.integration_years)
    out["integration_end"] = first["integration_end"].fillna(default_end)
    out["exit_date"] = first_exit["moved_out_date"].reindex(out.index)
    out["exit_destination"] = first_exit["destination"].reindex(out.index)
    within = work.loc[work["destination"] == "within", "person_id"].unique()
    out["moved_within"] = out.index.isin(within)
    for col in extra_cols:
        out[col] = grouped[col].first()
    out = out.reset_index()

    if measures is not None:
        m = _measures_by_dwelling(measures)
        joined = m.reindex(out["dwelling_id"].fillna("").astype(str).to_numpy())
        joined.index = out.index
        for col in m.columns:
            if col == "area_id":
                out["area_id"] = out["area_id"].fillna(joined[col].astype("string"))
            else:
                out[col] = joined[col]
    if areas is not None:
        a = pd.DataFrame(areas).drop(columns="geometry", errors="ignore")
        if {"area_id", "population", "integration_residents"} <= set(a.columns):
            pop = pd.to_numeric(a["population"], errors="coerce")
            share = pd.to_numeric(a["integration_residents"], errors="coerce") / pop.where(pop > 0)
            share.index = a["area_id"].astype(str)
            out["area_integration_share"] = out["area_id"].map(share).astype(float)
    out["area_id"] = out["area_id"].fillna(UNKNOWN).astype(str)
    out["household_type"] = out["household_type"].astype(str)
    for split in settings.splits:
        if split.column not in out.columns:
            continue
        values = pd.to_numeric(out[split.column], errors="coerce")
        yes = values >= split.threshold if split.at_least else values <= split.threshold
        out[split.name] = np.where(values.isna(), UNKNOWN, np.where(yes, "yes", "no"))
    logger.info(
        "prepared %s persons (%s history rows, %s exits)",
        f"{len(out):,}",
        f"{len(h):,}",
        f"{int(out['exit_date'].notna().sum()):,}",
    )
    return out


_HISTORY_NAMES = frozenset(
    {
        "person_id",
        "household_id",
        "placement_date",
        "dwelling_id",
        "area_id",
        "integration_end",
        "moved_out_date",
        "destination",
        "household_type",
        "persons",
    }
)


def measure_groupings(persons: pd.DataFrame, settings: RetentionSettings) -> dict[str, str]:
    """Return the groupings available in ``persons``: column → title."""
    out = dict(BASE_GROUPINGS)
    for split in settings.splits:
        if split.name in persons.columns:
            out[split.name] = split.title or split.name
    return out


# --------------------------------------------------------------------------------------------
# Retention rates
# --------------------------------------------------------------------------------------------
def _count_text(count: int, min_cell: int) -> str:
    """Return a count for a sentence, or "Fewer than 5" when it is suppressed."""
    return str(count) if count >= min_cell else f"Fewer than {min_cell}"


def _as_of(year: int, as_of: date | pd.Timestamp | str | None) -> pd.Timestamp:
    if as_of is None:
        return pd.Timestamp(year=year, month=12, day=31)
    return pd.Timestamp(as_of).normalize()


def _year_frame(persons: pd.DataFrame, year: int, as_of: pd.Timestamp) -> pd.DataFrame:
    """Persons whose period ends in ``year`` by ``as_of``, with ``stayed`` and ``censored``."""
    in_year = persons["integration_end"].dt.year == year
    sub = persons.loc[in_year].copy()
    sub["censored"] = sub["integration_end"] > as_of
    left = sub["exit_date"].notna() & (sub["exit_date"] <= sub["integration_end"])
    sub["stayed"] = ~left
    return sub


def _rate_row(sub: pd.DataFrame) -> dict[str, float | int]:
    counted = sub.loc[~sub["censored"]]
    n = int(counted["persons"].sum())
    stayers = int(counted.loc[counted["stayed"], "persons"].sum())
    low, high = wilson_interval(stayers, n)
    return {
        "n": n,
        "stayers": stayers,
        "leavers": n - stayers,
        "censored": int(sub.loc[sub["censored"], "persons"].sum()),
        "rate": stayers / n if n else math.nan,
        "ci_low": low,
        "ci_high": high,
    }


def retention_rate(
    persons: pd.DataFrame, *, year: int, as_of: date | pd.Timestamp | str | None = None
) -> RetentionRate:
    """Return the retention of the persons whose integration period ended in ``year``.

    Parameters
    ----------
    persons
        Output of :func:`prepare_persons`.
    year
        Report year.
    as_of
        Data date; periods ending after it are censored. Default: 31 December of ``year``.

    Returns
    -------
    RetentionRate
        Counts (persons), rate and 95 % Wilson interval.
    """
    row = _rate_row(_year_frame(persons, year, _as_of(year, as_of)))
    return RetentionRate(year=year, **row)  # type: ignore[arg-type]


TABLE_COLUMNS = ("group", "n", "stayers", "leavers", "censored", "rate", "ci_low", "ci_high")


def retention_table(
    persons: pd.DataFrame,
    *,
    year: int,
    by: str,
    as_of: date | pd.Timestamp | str | None = None,
) -> pd.DataFrame:
    """Return the retention of ``year`` per group of column ``by``.

    Parameters
    ----------
    persons
        Output of :func:`prepare_persons`.
    year
        Report year.
    by
        Grouping column, e.g. ``cohort``, ``area_id``, ``household_type``, ``near_served_stop``.
    as_of
        Data date (see :func:`retention_rate`).

    Returns
    -------
    pandas.DataFrame
        Columns ``group`` (str), ``n``, ``stayers``, ``leavers``, ``censored`` (persons),
        ``rate``, ``ci_low``, ``ci_high`` (shares); one row per group with anyone whose
        period ends in ``year``, sorted by group. Unsuppressed: see :func:`suppress_table`.
    """
    if by not in persons.columns:
        msg = f"retention_table: no column {by!r}; available: {', '.join(persons.columns)}"
        raise RetentionError(msg)
    sub = _year_frame(persons, year, _as_of(year, as_of))
    records = [
        {"group": str(g), **_rate_row(part)}
        for g, part in sub.groupby(sub[by].astype(str), sort=True)
    ]
    return pd.DataFrame(records, columns=list(TABLE_COLUMNS))


def retention_trend(
    persons: pd.DataFrame, *, year: int, as_of: date | pd.Timestamp | str | None = None
) -> pd.DataFrame:
    """Return the retention of every year of period end from the first one up to ``year``.

    Returns
    -------
    pandas.DataFrame
        Columns as :func:`retention_table`, ``group`` being the year of period end.
    """
    stop = _as_of(year, as_of)
    ends = persons["integration_end"]
    if ends.isna().all():
        return pd.DataFrame(columns=list(TABLE_COLUMNS))
    first = int(ends.min().year)
    records = []
    for y in range(first, year + 1):
        row = _rate_row(_year_frame(persons, y, min(stop, pd.Timestamp(year=y, month=12, day=31))))
        if row["n"] or row["censored"]:
            records.append({"group": str(y), **row})
    return pd.DataFrame(records, columns=list(TABLE_COLUMNS))


def compare_with_target(
    current: RetentionRate,
    baseline: RetentionRate,
    target: RetentionTarget | None = None,
    *,
    min_cell: int = 5,
) -> TargetComparison:
    """Compare the report year's rate with the baseline year and the target.

    Parameters
    ----------
    current, baseline
        Rates of the report and baseline years.
    target
        Target; default +10 % relative.
    min_cell
        Suppression threshold; decides ``suppressed``.

    Returns
    -------
    TargetComparison
        ``met`` is ``rate >= target_rate`` on the point estimates.

    Raises
    ------
    RetentionError
        When the baseline year has nobody whose period ended in it.
    """
    target = target or RetentionTarget()
    if baseline.n == 0:
        msg = (
            f"baseline year {baseline.year}: nobody's integration period ended that year, "
            "so there is no baseline rate; choose another baseline year"
        )
        raise RetentionError(msg)
    target_rate = target.target_rate(baseline.rate)
    suppressed = any(min(r.n, r.stayers, r.leavers) < min_cell for r in (current, baseline))
    return TargetComparison(
        year=current.year,
        baseline_year=baseline.year,
        rate=current.rate,
        baseline_rate=baseline.rate,
        target_rate=target_rate,
        met=bool(current.rate >= target_rate - 1e-12),
        difference_points=(current.rate - baseline.rate) * 100.0,
        target=target,
        suppressed=suppressed,
    )


# --------------------------------------------------------------------------------------------
# Suppression
# --------------------------------------------------------------------------------------------
def _hide_complement(hidden: np.ndarray, n: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Return the rows to hide besides ``hidden`` so that no hidden cell stands alone.

    While exactly one row is hidden, the eligible unhidden row with the smallest ``n`` (first
    in table order on ties) is hidden too.
    """
    out = hidden.copy()
    while out.sum() == 1:
        candidates = np.flatnonzero(~out & eligible)
        if candidates.size == 0:
            break
        out[candidates[np.argmin(n[candidates])]] = True
    return out


def suppression_mask(
    table: pd.DataFrame, *, min_cell: int = 5, complementary: bool = True
) -> pd.DataFrame:
    """Return which cells of a retention table must be hidden (True = hide).

    Parameters
    ----------
    table
        A retention table (columns of :data:`TABLE_COLUMNS`).
    min_cell
        Smallest count that may be shown.
    complementary
        Apply rule 2; use False for tables whose rows do not add up to a shown total (the
        trend over years, the overall row).

    Returns
    -------
    pandas.DataFrame
        Booleans of the shape of ``table``.

    Notes
    -----
    1. Primary: ``n`` is hidden when ``0 < n < min_cell``; ``stayers``, ``leavers``, ``rate`` and
       the interval are hidden when any of ``n``, ``stayers`` or ``leavers`` is below
       ``min_cell`` (a small count of leavers would follow from n minus stayers, and a rate of
       0 % or 100 % tells what happened to everyone in the group); a group with ``n = 0`` has
       nothing to hide (its rate is empty). ``censored`` is hidden when
       it is between 1 and ``min_cell - 1`` (zero is shown).
    2. Complementary: the groups of a table add up to the overall figure, so when exactly one
       group has a hidden ``n``, the group with the next smallest ``n`` has its ``n`` (and
       everything else) hidden too; when exactly one group has hidden stayers/leavers, the
       group with the next smallest ``n`` has its stayers, leavers, rate and interval hidden
       (its ``n`` stays). Likewise a lone hidden ``censored`` count takes the smallest
       non-zero one with it.

    Examples
    --------
    >>> t = pd.DataFrame({"group": ["a", "b", "c"], "n": [3, 40, 20], "stayers": [2, 30, 12],
    ...                   "leavers": [1, 10, 8], "censored": [0, 0, 0], "rate": [.7, .75, .6],
    ...                   "ci_low": [.2, .6, .4], "ci_high": [.9, .9, .8]})
    >>> suppression_mask(t)["n"].tolist()
    [True, False, True]
    """
    n = table["n"].to_numpy(dtype=float)
    if len(table):
        counts = table[["n", "stayers", "leavers"]].to_numpy(dtype=float)
        small_counts = (counts < min_cell).any(axis=1)
    else:
        small_counts = np.zeros(0, dtype=bool)
    counted = n > 0  # a group of nobody (only censored persons) reveals nothing
    hide_n = counted & (n < min_cell)
    hide_rest = counted & small_counts
    if complementary and len(table) > 1:
        hide_n = _hide_complement(hide_n, n, counted)
        hide_rest = hide_rest | hide_n
        hide_rest = _hide_complement(hide_rest, n, counted)
    mask = pd.DataFrame(False, index=table.index, columns=table.columns)
    mask["n"] = hide_n
    for col in ("stayers", "leavers", "rate", "ci_low", "ci_high"):
        if col in mask.columns:
            mask[col] = hide_rest
    if "censored" in mask.columns:
        c = table["censored"].to_numpy(dtype=float)
        hide_c = (c > 0) & (c < min_cell)
        if complementary and len(table) > 1:
            hide_c = _hide_complement(hide_c, c, c > 0)
        mask["censored"] = hide_c
    return mask


def suppress_table(
    table: pd.DataFrame, *, min_cell: int = 5, complementary: bool = True
) -> pd.DataFrame:
    """Return a copy of a retention table with hidden cells replaced by ``"<5"``.

    The label is ``f"<{min_cell}"``. The result has object columns; shown numbers keep their
    type. See :func:`suppression_mask` for the rules.
    """
    mask = suppression_mask(table, min_cell=min_cell, complementary=complementary)
    out = table.astype(object).copy()
    return out.mask(mask, suppressed_label(min_cell))


def suppressed_label(min_cell: int = 5) -> str:
    """Return the text shown instead of a suppressed number, e.g. ``"<5"``."""
    return f"<{min_cell}"


# --------------------------------------------------------------------------------------------
# Survival
# --------------------------------------------------------------------------------------------
def survival_frame(persons: pd.DataFrame, *, as_of: date | pd.Timestamp | str) -> pd.DataFrame:
    """Return time to leaving the municipality for every person placed by ``as_of``.

    Returns
    -------
    pandas.DataFrame
        ``persons`` with ``duration_days`` (int, placement to exit or to ``as_of``),
        ``duration_years`` (days / 365.25) and ``event`` (bool: left by ``as_of``).
    """
    stop = pd.Timestamp(as_of).normalize()
    sub = persons.loc[persons["placement_date"] <= stop].copy()
    event = sub["exit_date"].notna() & (sub["exit_date"] <= stop)
    end = sub["exit_date"].where(event, stop)
    sub["duration_days"] = (end - sub["placement_date"]).dt.days.astype(int)
    sub["duration_years"] = sub["duration_days"] / DAYS_PER_YEAR
    sub["event"] = event.astype(bool)
    return sub


KM_COLUMNS = (
    "grouping",
    "group",
    "time_days",
    "time_years",
    "survival",
    "ci_low",
    "ci_high",
    "at_risk",
    "n_group",
)


def kaplan_meier(surv: pd.DataFrame, *, by: str | None = None, min_cell: int = 5) -> pd.DataFrame:
    """Kaplan–Meier estimate of staying in the municipality, overall or per group.

    Parameters
    ----------
    surv
        Output of :func:`survival_frame`.
    by
        Grouping column, or None for one curve of everyone.
    min_cell
        Groups with fewer persons are left out, and each curve stops before the first time
        at which fewer than ``min_cell`` persons remain at risk (nobody can be singled out).

    Returns
    -------
    pandas.DataFrame
        Columns ``grouping`` (``"overall"`` or ``by``), ``group``, ``time_days``,
        ``time_years``, ``survival`` (share still resident), ``ci_low``, ``ci_high``
        (lifelines' 95 % exponential Greenwood interval), ``at_risk`` (persons) and
        ``n_group``; the first row of each curve is time 0 with survival 1.
    """
    from lifelines import KaplanMeierFitter

    parts = (
        [("overall", "all", surv)]
        if by is None
        else [(by, str(g), part) for g, part in surv.groupby(surv[by].astype(str), sort=True)]
    )
    frames = []
    for grouping, group, part in parts:
        n_group = int(part["persons"].sum())
        if n_group < min_cell or part.empty:
            continue
        kmf = KaplanMeierFitter()
        kmf.fit(
            part["duration_days"].to_numpy(dtype=float),
            event_observed=part["event"].to_numpy(dtype=bool),
            weights=part["persons"].to_numpy(dtype=float),
            label="s",
        )
        sf = kmf.survival_function_["s"]
        ci = kmf.confidence_interval_
        at_risk = kmf.event_table["at_risk"]
        curve = pd.DataFrame(
            {
                "grouping": grouping,
                "group": group,
                "time_days": sf.index.to_numpy().astype(int),
                "time_years": sf.index.to_numpy() / DAYS_PER_YEAR,
                "survival": sf.to_numpy(),
                "ci_low": ci.iloc[:, 0].to_numpy(),
                "ci_high": ci.iloc[:, 1].to_numpy(),
                "at_risk": at_risk.reindex(sf.index).to_numpy().round().astype(int),
                "n_group": n_group,
            }
        )
        curve = curve.loc[curve["at_risk"] >= min_cell]
        frames.append(curve)
    if not frames:
        return pd.DataFrame(columns=list(KM_COLUMNS))
    return pd.concat(frames, ignore_index=True)[list(KM_COLUMNS)]


def logrank(surv: pd.DataFrame, *, by: str, min_cell: int = 5) -> LogRankResult | None:
    """Log-rank test that the groups of ``by`` have the same time-to-exit distribution.

    Groups with fewer than ``min_cell`` persons are left out (as in the curves). Uses
    ``lifelines.statistics.multivariate_logrank_test`` (for two groups it equals
    ``logrank_test``).

    Returns
    -------
    LogRankResult or None
        None when fewer than two groups remain.
    """
    from lifelines.statistics import multivariate_logrank_test

    groups = surv[by].astype(str)
    sizes = surv.groupby(groups)["persons"].sum()
    keep = groups.isin(sizes.index[sizes >= min_cell])
    sub = surv.loc[keep]
    n_groups = int(groups[keep].nunique())
    if n_groups < 2:
        return None
    res = multivariate_logrank_test(
        sub["duration_days"].to_numpy(dtype=float),
        groups[keep].to_numpy(),
        event_observed=sub["event"].to_numpy(dtype=bool),
        weights=sub["persons"].to_numpy(dtype=float),
    )
    return LogRankResult(
        grouping=by,
        statistic=float(res.test_statistic),
        degrees_freedom=n_groups - 1,
        p_value=float(res.p_value),
        n_groups=n_groups,
    )


COX_COLUMNS = ("covariate", "hazard_ratio", "ci_low", "ci_high", "p_value", "n", "events")


def cox_model(
    surv: pd.DataFrame, *, covariates: Sequence[str], notes: list[str] | None = None
) -> pd.DataFrame:
    """Fit a Cox proportional-hazards model of leaving the municipality.

    The hazard ratios show *association*, not cause: households are not placed at random,
    and what drew them to a dwelling may also make them stay or leave.

    Parameters
    ----------
    surv
        Output of :func:`survival_frame`, with the covariate columns.
    covariates
        Numeric columns, hazard ratio per one unit of each. Rows with a missing covariate are
        left out; a covariate without variation is dropped.
    notes
        List that receives plain-language remarks (dropped rows, lifelines warnings).

    Returns
    -------
    pandas.DataFrame
        Columns ``covariate``, ``hazard_ratio``, ``ci_low``, ``ci_high`` (95 %), ``p_value``,
        ``n`` (persons) and ``events``. When the history has several persons per household,
        robust (sandwich) intervals clustered on ``household_id`` are used.

    Raises
    ------
    RetentionError
        No usable covariate, or the model does not converge.
    """
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError

    notes = notes if notes is not None else []
    cols = [c for c in covariates if c in surv.columns]
    if not cols:
        msg = "Cox model: none of the covariates " + ", ".join(covariates) + " is in the data"
        raise RetentionError(msg)
    data = surv[[*cols, "duration_days", "event", "persons", "household_id"]].copy()
    for c in cols:
        data[c] = pd.to_numeric(data[c], errors="coerce").astype(float)
    complete = data[cols].notna().all(axis=1)
    if (~complete).any():
        notes.append(f"Cox model: {int((~complete).sum())} persons without measures left out.")
    data = data.loc[complete]
    constant = [c for c in cols if data[c].nunique() < 2]
    if constant:
        notes.append("Cox model: no variation in " + ", ".join(constant) + "; left out.")
    cols = [c for c in cols if c not in constant]
    if not cols:
        msg = "Cox model: no covariate varies between persons"
        raise RetentionError(msg)
    data["duration_days"] = data["duration_days"].clip(lower=0.5)
    data["event"] = data["event"].astype(int)
    fit_cols = [*cols, "duration_days", "event", "persons"]
    cluster = None
    hid = data["household_id"]
    if hid.notna().all() and hid.duplicated().any():
        cluster = "household_id"
        fit_cols.append("household_id")
    frame = data[fit_cols].reset_index(drop=True)
    cph = CoxPHFitter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            cph.fit(
                frame,
                duration_col="duration_days",
                event_col="event",
                weights_col="persons",
                cluster_col=cluster,
                robust=cluster is not None,
            )
        except (ConvergenceError, np.linalg.LinAlgError, ZeroDivisionError) as err:
            msg = f"Cox model did not converge: {err}".split("\n")[0]
            raise RetentionError(msg) from err
    for w in caught:
        text = str(w.message).strip().split("\n")[0]
        notes.append(f"Cox model warning: {text}")
    s = cph.summary
    return pd.DataFrame(
        {
            "covariate": list(s.index),
            "hazard_ratio": s["exp(coef)"].to_numpy(),
            "ci_low": s["exp(coef) lower 95%"].to_numpy(),
            "ci_high": s["exp(coef) upper 95%"].to_numpy(),
            "p_value": s["p"].to_numpy(),
            "n": int(frame["persons"].sum()),
            "events": int(frame.loc[frame["event"] == 1, "persons"].sum()),
        },
        columns=list(COX_COLUMNS),
    )


# --------------------------------------------------------------------------------------------
# Everything for one report year
# --------------------------------------------------------------------------------------------
def retention_summary(
    history: pd.DataFrame,
    *,
    year: int,
    baseline_year: int | None = None,
    target: RetentionTarget | None = None,
    measures: pd.DataFrame | None = None,
    areas: pd.DataFrame | None = None,
    as_of: date | pd.Timestamp | str | None = None,
    settings: RetentionSettings | None = None,
    cox: bool = True,
) -> RetentionSummary:
    """Compute every number of the annual retention report (for the report, CLI and app).

    Parameters
    ----------
    history
        Residence history (``schema.HISTORY`` rows, see :func:`prepare_persons`).
    year
        Report year: persons whose integration period ended in it.
    baseline_year
        Year to compare with; None for no comparison.
    target
        Target over the baseline; default +10 % relative (used only with ``baseline_year``).
    measures
        Accessibility table per ``dwelling_id`` for the measure groupings and the Cox model.
    areas
        Areas table (``area_id``, ``population``, ``integration_residents``) for the area
        concentration covariate.
    as_of
        Data date; default 31 December of ``year``.
    settings
        Analysis settings.
    cox
        Fit the Cox model when covariates and enough exits are available.

    Returns
    -------
    RetentionSummary
        Unsuppressed numbers; use :meth:`RetentionSummary.shown_tables` for display.

    Raises
    ------
    DataError
        Invalid history rows.
    RetentionError
        Nobody in the history was placed by ``as_of``, or the baseline year is not before
        ``year``. (A year in which no period ended gives a summary without a rate, with a note.)
    """
    settings = settings or RetentionSettings()
    if history is None or len(history) == 0:
        msg = "the residence history has no rows; nothing to report"
        raise RetentionError(msg)
    stop = _as_of(year, as_of)
    persons = prepare_persons(history, measures=measures, areas=areas, settings=settings)
    overall = retention_rate(persons, year=year, as_of=stop)
    if not (persons["placement_date"] <= stop).any():
        msg = (
            f"nobody in the residence history was placed by {stop.date()}; placements run from "
            f"{persons['placement_date'].min().date()} to {persons['placement_date'].max().date()}"
            "; choose another --year"
        )
        raise RetentionError(msg)
    notes: list[str] = []
    if overall.n == 0:
        ends = persons["integration_end"].dt.year
        notes.append(
            f"No person's integration period ended in {year} by {stop.date()}, so there is no "
            f"retention rate for {year}; in this history periods end between {int(ends.min())} "
            f"and {int(ends.max())}. The survival curves below still show how many have moved "
            "out so far."
        )
    if overall.censored:
        notes.append(
            f"{_count_text(overall.censored, settings.min_cell)} persons whose period ends in "
            f"{year} after {stop.date()} are censored: not counted as stayers or leavers."
        )
    groupings = measure_groupings(persons, settings)
    tables: dict[str, pd.DataFrame] = {
        "overall": pd.DataFrame(
            [{"group": "all", **{k: getattr(overall, k) for k in TABLE_COLUMNS[1:]}}],
            columns=list(TABLE_COLUMNS),
        ),
        "trend": retention_trend(persons, year=year, as_of=stop),
    }
    titles = {"overall": f"Retention {year}", "trend": "Retention by year of period end"}
    for col, title in groupings.items():
        tables[col] = retention_table(persons, year=year, by=col, as_of=stop)
        titles[col] = title
    if "area_id" in tables and areas is not None and "name" in areas.columns:
        names = dict(zip(areas["area_id"].astype(str), areas["name"].astype(str), strict=True))
        tables["area_id"]["group"] = [f"{g} {names[g]}" if g in names else g
                                      for g in tables["area_id"]["group"]]

    comparison = None
    if baseline_year is not None:
        if baseline_year >= year:
            msg = f"the baseline year must come before the report year {year}, got {baseline_year}"
            raise RetentionError(msg)
        base = retention_rate(
            persons, year=baseline_year, as_of=min(stop, _as_of(baseline_year, None))
        )
        if base.n == 0 or overall.n == 0:
            empty = baseline_year if base.n == 0 else year
            notes.append(
                f"No comparison with the target: nobody's integration period ended in {empty}, "
                "so that year has no retention rate."
            )
        else:
            comparison = compare_with_target(overall, base, target, min_cell=settings.min_cell)

    surv = survival_frame(persons, as_of=stop)
    hid = surv["household_id"]
    if hid.notna().all() and hid.duplicated().any():
        notes.append(
            "Persons of one household usually move together; the log-rank tests count persons "
            "as independent, so their p-values are too small when households are large. The "
            "Cox model's intervals allow for households."
        )
    km_frames = [kaplan_meier(surv, by=None, min_cell=settings.min_cell)]
    tests: list[LogRankResult] = []
    for col in groupings:
        km_frames.append(kaplan_meier(surv, by=col, min_cell=settings.min_cell))
        res = logrank(surv, by=col, min_cell=settings.min_cell)
        if res is not None:
            tests.append(res)
    km = pd.concat([f for f in km_frames if not f.empty] or km_frames[:1], ignore_index=True)

    cox_table = None
    if cox:
        present = [c for c in settings.cox_covariates if c in surv.columns]
        n_events = int(surv.loc[surv["event"], "persons"].sum())
        if not present:
            notes.append("Cox model skipped: no placement measures in the history.")
        elif n_events < settings.min_events_cox:
            notes.append(
                f"Cox model skipped: {n_events} exits, fewer than {settings.min_events_cox}."
            )
        else:
            try:
                cox_table = cox_model(surv, covariates=present, notes=notes)
            except RetentionError as err:
                notes.append(f"Cox model not estimated: {err}")
    logger.info(
        "retention %s: %s of %s persons stayed", year, f"{overall.stayers:,}", f"{overall.n:,}"
    )
    return RetentionSummary(
        year=year,
        as_of=stop,
        overall=overall,
        tables=tables,
        titles=titles,
        comparison=comparison,
        km=km,
        logrank=tests,
        cox=cox_table,
        notes=notes,
        min_cell=settings.min_cell,
        n_persons=int(persons["persons"].sum()),
    )
