"""Retention rates with Wilson intervals, the target comparison and small-cell suppression.

Definitions: see :mod:`placement.retention`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd

from placement._errors import ConfigError
from placement.retention_persons import RetentionError

#: Two-sided 95 % normal quantile used by the Wilson interval.
Z_95 = 1.959964
#: Tables whose rows do not add up to a shown total: no complementary suppression.
UNGROUPED_TABLES = ("overall", "trend", "pooled", "trend_pooled")

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

    def describe(self, language: str = "en") -> str:
        """Return the target in words, e.g. ``+10 % relative to the baseline``."""
        from placement.report_text import say

        x = f"{self.amount * 100:g}"
        x = x.replace(".", ",") if language == "da" else x
        return say("target.relative" if self.mode == "relative" else "target.points",
                   language, x=x)


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
# Retention rates
# --------------------------------------------------------------------------------------------
def _count_text(count: int, min_cell: int) -> str:
    """Return a count for a sentence, or "Fewer than 5" when it is suppressed."""
    from placement.report_text import count_text

    return count_text(count, min_cell, "en")


def _as_of(year: int, as_of: date | pd.Timestamp | str | None) -> pd.Timestamp:
    if as_of is None:
        return pd.Timestamp(year=year, month=12, day=31)
    return pd.Timestamp(as_of).normalize()


def _year_frame(
    persons: pd.DataFrame, year: int, as_of: pd.Timestamp, first_year: int | None = None
) -> pd.DataFrame:
    """Persons whose period ends in ``year`` (or ``first_year``..``year``), flagged.

    Adds ``stayed`` and ``censored`` (period ends after ``as_of``: outcome not known).
    """
    end_year = persons["integration_end"].dt.year
    in_year = end_year.between(year if first_year is None else first_year, year)
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


def pool_label(first_year: int, last_year: int) -> str:
    """Return the name of a pooled period, e.g. ``"2023-2025"``."""
    return f"{first_year}-{last_year}"


def pooled_rate(
    persons: pd.DataFrame, *, first_year: int, year: int, as_of: pd.Timestamp
) -> RetentionRate:
    """Return the retention of the persons whose period ended in ``first_year``..``year``.

    Official statistics pool years when one year is too small to publish: the persons of
    every year of the period are counted together, with the same rules as one year.

    Parameters
    ----------
    persons
        Output of :func:`placement.retention_persons.prepare_persons`.
    first_year, year
        First and last year of the pooled period (inclusive).
    as_of
        Data date: periods ending after it are censored.

    Returns
    -------
    RetentionRate
        ``year`` is the last year of the period.
    """
    row = _rate_row(_year_frame(persons, year, as_of, first_year))
    return RetentionRate(year=year, **row)  # type: ignore[arg-type]


def pooled_table(
    persons: pd.DataFrame, *, first_year: int, year: int, by: str, as_of: pd.Timestamp
) -> pd.DataFrame:
    """Return :func:`retention_table` over the pooled period ``first_year``..``year``.

    Returns
    -------
    pandas.DataFrame
        Columns of :data:`TABLE_COLUMNS`, one row per group.
    """
    sub = _year_frame(persons, year, as_of, first_year)
    records = [{"group": str(g), **_rate_row(part)}
               for g, part in sub.groupby(sub[by].astype(str), sort=True)]
    return pd.DataFrame(records, columns=list(TABLE_COLUMNS))


def rolling_trend(
    persons: pd.DataFrame, *, year: int, years: int, as_of: pd.Timestamp
) -> pd.DataFrame:
    """Return the retention of every rolling period of ``years`` years ending by ``year``.

    Returns
    -------
    pandas.DataFrame
        Columns of :data:`TABLE_COLUMNS`; ``group`` is the period, e.g. ``"2021-2023"``.
    """
    ends = persons["integration_end"]
    if ends.isna().all():
        return pd.DataFrame(columns=list(TABLE_COLUMNS))
    first = int(ends.min().year)
    records = []
    for last in range(first + years - 1, year + 1):
        stop = min(as_of, pd.Timestamp(year=last, month=12, day=31))
        row = _rate_row(_year_frame(persons, last, stop, last - years + 1))
        if row["n"] or row["censored"]:
            records.append({"group": pool_label(last - years + 1, last), **row})
    return pd.DataFrame(records, columns=list(TABLE_COLUMNS))


def rate_hidden(rate: RetentionRate, min_cell: int) -> bool:
    """Whether a rate may not be published (a count of it is below ``min_cell``)."""
    return rate.n > 0 and min(rate.n, rate.stayers, rate.leavers) < min_cell


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

