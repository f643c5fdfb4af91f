"""Residence history → one row per person: cohorts, areas, household types, data date.

Also holds the settings of the retention analysis and the constants the other retention
modules share. Definitions: see :mod:`placement.retention`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from placement._errors import ConfigError, DataError, PlacementError, Problem
from placement.schema import DESTINATIONS, HISTORY

logger = logging.getLogger(__name__)

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
#: Groupings of the fairness section (the audit's household groups and step-free need).
FAIRNESS_GROUPINGS = {
    "audit_household_type": "Fairness: household type (5 persons or more: large family)",
    "step_free_need": "Fairness: step-free need",
}
#: Groups of ``step_free_need`` (as in :mod:`placement.fairness`), besides ``unknown``.
STEP_FREE_GROUPS = ("needs step-free", "no step-free need")


class RetentionError(PlacementError, ValueError):
    """The retention figures cannot be computed for the requested year or settings."""


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
    pool_years : int
        When the report year alone is too small to publish its rate (a count below
        ``min_cell``), the report adds the rate of this many years pooled (ending with the
        report year) and a rolling trend, as official statistics do; 1 switches it off.
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
    pool_years: int = 3

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
        if not isinstance(self.pool_years, int) or self.pool_years < 1:
            msg = f"retention.pool_years: must be a whole number >= 1, got {self.pool_years!r}"
            raise ConfigError(msg)
        if self.min_events_cox < 1:
            msg = f"retention.min_events_cox: must be at least 1, got {self.min_events_cox!r}"
            raise ConfigError(msg)
        names = [split.name for split in self.splits]
        if len(set(names)) != len(names) or set(names) & set(BASE_GROUPINGS):
            msg = f"retention.splits: names must be unique and not {list(BASE_GROUPINGS)}"
            raise ConfigError(msg)


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


def _yes_no(frame: pd.DataFrame, column: str) -> pd.Series:
    """Return a yes/no column as True/False/NA (text as the loader reads it; else unknown)."""
    if column not in frame.columns:
        return pd.Series(pd.NA, index=frame.index, dtype="boolean")
    col = frame[column]
    if pd.api.types.is_bool_dtype(col):
        return col.astype("boolean")
    text = col.astype("string").str.strip().str.lower()
    yes = text.isin(["yes", "ja", "true", "1", "y", "j"])
    no = text.isin(["no", "nej", "false", "0", "n"])
    return pd.Series(np.where(yes, True, np.where(no, False, pd.NA)), index=frame.index,
                     dtype="boolean")


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
    dwellings: pd.DataFrame | None = None,
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
    dwellings
        Optional dwellings with ``dwelling_id`` and ``area_id`` (the local area the dwelling
        lies in, as :func:`placement.load.load_dwellings` gives it): a person whose history
        names a dwelling but no area gets the area of that dwelling.

    Returns
    -------
    pandas.DataFrame
        Sorted by ``person_id``; columns ``person_id``, ``household_id``, ``placement_date``,
        ``dwelling_id``, ``area_id`` (``"unknown"`` when absent), ``household_type``
        (``"unknown"`` when absent), ``persons`` (int weight), ``cohort`` (placement year, int),
        ``integration_end``, ``exit_date`` (NaT: no exit), ``exit_destination``,
        ``moved_within`` (bool: any move within the municipality), one column per measure
        split (``"yes"``/``"no"``/``"unknown"``) and any measure columns. A missing
        ``household_type`` is derived from the persons per household: ``single`` (1 person),
        ``2 persons``, ``3-4 persons``, ``5+ persons``. ``attrs`` records ``last_date`` (the
        latest placement or move date: the data date) and how many persons got their area
        from the dwelling (``area_from_dwelling``) and their type from the household size
        (``type_from_size``).

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
            "step_free_needed": _yes_no(h, "step_free_needed"),
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
    out["household_type"] = first["household_type"]
    out["persons"] = grouped["persons"].max().astype(int)
    out["cohort"] = out["placement_date"].dt.year.astype(int)
    default_end = out["placement_date"] + pd.DateOffset(years=settings.integration_years)
    out["integration_end"] = first["integration_end"].fillna(default_end)
    out["exit_date"] = first_exit["moved_out_date"].reindex(out.index)
    out["exit_destination"] = first_exit["destination"].reindex(out.index)
    within = work.loc[work["destination"] == "within", "person_id"].unique()
    out["moved_within"] = out.index.isin(within)
    sf = first["step_free_needed"]
    out["step_free_need"] = np.where(sf.isna(), UNKNOWN,
                                     np.where(sf.fillna(False).astype(bool), STEP_FREE_GROUPS[0],
                                              STEP_FREE_GROUPS[1]))
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
    from_dwelling = 0
    if dwellings is not None and {"dwelling_id", "area_id"} <= set(dwellings.columns):
        d = pd.DataFrame(dwellings)[["dwelling_id", "area_id"]].dropna()
        d = d.drop_duplicates("dwelling_id")
        by_dwelling = pd.Series(d["area_id"].astype(str).to_numpy(),
                                index=d["dwelling_id"].astype(str).to_numpy())
        gap = out["area_id"].isna() & out["dwelling_id"].notna()
        found = out.loc[gap, "dwelling_id"].astype(str).map(by_dwelling)
        out.loc[gap, "area_id"] = found
        from_dwelling = int(out.loc[gap & out["area_id"].notna(), "persons"].sum())
    # the size is known from the household's rows, or from `persons` when a row is a household
    untyped = out["household_type"].isna() & (out["household_id"].notna()
                                              | ("persons" in h.columns))
    if untyped.any():
        size = out.groupby(out["household_id"].fillna(out["person_id"]), sort=False)[
            "persons"].transform("sum")
        out.loc[untyped, "household_type"] = size[untyped].map(household_type_from_size)
    out["area_id"] = out["area_id"].fillna(UNKNOWN).astype(str)
    out["household_type"] = out["household_type"].fillna(UNKNOWN).astype(str)
    # the fairness audit's groups: a household of 5 persons or more is a large family
    hh_size = out.groupby(out["household_id"].fillna(out["person_id"]), sort=False)[
        "persons"].transform("sum")
    if "household_id" not in h.columns and "persons" not in h.columns:
        hh_size = pd.Series(np.nan, index=out.index)  # the household's size is not known
    out["audit_household_type"] = out["household_type"].where(~(hh_size >= 5), "large_family")
    dates = pd.concat([placed, moved]).dropna()
    out.attrs["last_date"] = dates.max() if len(dates) else pd.NaT
    out.attrs["area_from_dwelling"] = from_dwelling
    out.attrs["type_from_size"] = int(out.loc[untyped, "persons"].sum())
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


def household_type_from_size(persons: int) -> str:
    """Return the household type used when the history gives none, from its size.

    Parameters
    ----------
    persons
        Persons in the household (all rows of one ``household_id``).

    Returns
    -------
    str
        ``single`` (1), ``2 persons``, ``3-4 persons`` or ``5+ persons``.

    Examples
    --------
    >>> [household_type_from_size(n) for n in (1, 2, 4, 7)]
    ['single', '2 persons', '3-4 persons', '5+ persons']
    """
    n = int(persons)
    if n <= 1:
        return "single"
    if n == 2:
        return "2 persons"
    return "3-4 persons" if n <= 4 else "5+ persons"


def data_date(persons: pd.DataFrame) -> pd.Timestamp:
    """Return the last date the history knows about (its latest placement or move).

    Parameters
    ----------
    persons
        Output of :func:`prepare_persons`.

    Returns
    -------
    pandas.Timestamp
        The data date; periods that end after it have no known outcome yet (censored).
    """
    last = persons.attrs.get("last_date")
    if last is None or pd.isna(last):
        dates = pd.concat([persons["placement_date"], persons["exit_date"]]).dropna()
        last = dates.max()
    return pd.Timestamp(last).normalize()


def report_years(persons: pd.DataFrame, *, as_of: object = None) -> list[int]:
    """Return the years that have a retention rate: some period ended in them by the data date.

    Parameters
    ----------
    persons
        Output of :func:`prepare_persons`.
    as_of
        Data date; default :func:`data_date`.

    Returns
    -------
    list of int
        Sorted years; empty when no period has ended yet.
    """
    stop = data_date(persons) if as_of is None else pd.Timestamp(as_of).normalize()
    ends = persons.loc[persons["integration_end"] <= stop, "integration_end"]
    return sorted({int(y) for y in ends.dt.year})


#: The history file's own columns (:data:`placement.schema.HISTORY`).
_HISTORY_NAMES = frozenset(c.name for c in HISTORY)


def measure_groupings(persons: pd.DataFrame, settings: RetentionSettings) -> dict[str, str]:
    """Return the groupings available in ``persons``: column → title."""
    out = dict(BASE_GROUPINGS)
    for split in settings.splits:
        if split.name in persons.columns:
            out[split.name] = split.title or split.name
    return out


def fairness_groupings(persons: pd.DataFrame) -> dict[str, str]:
    """Return the fairness section's groupings that the history has: column → title.

    Step-free need is a grouping only when the history records it for someone; otherwise it is
    unknown for everyone and not shown as a group (never as a rate of 0).
    """
    out = {}
    for col, title in FAIRNESS_GROUPINGS.items():
        if col in persons.columns and (persons[col] != UNKNOWN).any():
            out[col] = title
    return out

