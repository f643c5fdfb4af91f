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
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from placement.retention_persons import (
    BASE_GROUPINGS,
    DAYS_PER_YEAR,
    DEFAULT_COX_COVARIATES,
    EXIT_DESTINATIONS,
    HISTORY_FILE,
    SUPPRESSED,
    UNKNOWN,
    MeasureSplit,
    RetentionError,
    RetentionSettings,
    data_date,
    fairness_groupings,
    household_type_from_size,
    measure_groupings,
    prepare_persons,
    report_years,
)
from placement.retention_rates import (
    TABLE_COLUMNS,
    UNGROUPED_TABLES,
    Z_95,
    RetentionRate,
    RetentionTarget,
    TargetComparison,
    _as_of,
    compare_with_target,
    pool_label,
    pooled_rate,
    pooled_table,
    rate_hidden,
    retention_rate,
    retention_table,
    retention_trend,
    rolling_trend,
    suppress_table,
    suppressed_label,
    suppression_mask,
    wilson_interval,
)
from placement.retention_survival import (
    COX_COLUMNS,
    KM_COLUMNS,
    LogRankResult,
    cox_model,
    kaplan_meier,
    logrank,
    survival_frame,
)

__all__ = [
    "BASE_GROUPINGS",
    "COX_COLUMNS",
    "DAYS_PER_YEAR",
    "DEFAULT_COX_COVARIATES",
    "EXIT_DESTINATIONS",
    "HISTORY_FILE",
    "KM_COLUMNS",
    "SUPPRESSED",
    "TABLE_COLUMNS",
    "UNGROUPED_TABLES",
    "UNKNOWN",
    "Z_95",
    "LogRankResult",
    "MeasureSplit",
    "RetentionError",
    "RetentionRate",
    "RetentionSettings",
    "RetentionSummary",
    "RetentionTarget",
    "TargetComparison",
    "compare_with_target",
    "cox_model",
    "data_date",
    "household_type_from_size",
    "kaplan_meier",
    "logrank",
    "measure_groupings",
    "pool_label",
    "pooled_rate",
    "pooled_table",
    "prepare_persons",
    "rate_hidden",
    "report_years",
    "retention_rate",
    "retention_summary",
    "retention_table",
    "retention_trend",
    "rolling_trend",
    "suppress_table",
    "suppressed_label",
    "suppression_mask",
    "survival_frame",
    "wilson_interval",
]

logger = logging.getLogger(__name__)


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
    pooled : RetentionRate or None
        When the report year's rate cannot be published: the rate of the pooled period
        ``pooled_years`` (also in ``tables["pooled"]``, with ``pooled_<grouping>`` tables and
        the rolling ``trend_pooled``).
    pooled_years : tuple of int or None
        First and last year of the pooled period.
    years : list of int
        The years the data covers (some period ended in them by the data date).
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
    pooled: RetentionRate | None = None
    pooled_years: tuple[int, int] | None = None
    years: list[int] = field(default_factory=list)

    def mask(self, key: str) -> pd.DataFrame:
        """Return the suppression mask of table ``key`` (see :func:`suppression_mask`).

        The fairness tables by household type (``audit_household_type``, also pooled) are the
        household-type tables with the persons of households of 5 or more moved to
        ``large_family``: when a cell of that group is hidden, every group whose figures
        differ from its row in the household-type table is hidden too (the difference of the
        two published rows would give the hidden figure away).
        """
        mask = suppression_mask(
            self.tables[key], min_cell=self.min_cell, complementary=key not in UNGROUPED_TABLES
        )
        pair = {"audit_household_type": "household_type",
                "pooled_audit_household_type": "pooled_household_type"}.get(key)
        table = self.tables[key]
        if pair is None or pair not in self.tables or not len(table):
            return mask
        large = (table["group"] == "large_family").to_numpy()
        if not mask.loc[large].to_numpy().any():
            return mask
        other = self.tables[pair].set_index("group")
        cols = [c for c in ("n", "stayers", "leavers", "censored") if c in table.columns]
        for i, row in enumerate(table.itertuples(index=False)):
            g = row.group
            same = g in other.index and all(
                other.at[g, c] == getattr(row, c) for c in cols)
            if not same:
                mask.loc[mask.index[i], [c for c in mask.columns if c != "group"]] = True
        return mask

    def shown_tables(self) -> dict[str, pd.DataFrame]:
        """Return the group tables with small cells suppressed (what a report may show)."""
        label = suppressed_label(self.min_cell)
        return {k: v.astype(object).mask(self.mask(k), label) for k, v in self.tables.items()}


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
    dwellings: pd.DataFrame | None = None,
    language: str = "en",
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
        Data date; default 31 December of ``year``, or the last date in the history
        (:func:`placement.retention_persons.data_date`) when that is earlier: periods ending
        after it are censored, never counted as stayers.
    settings
        Analysis settings.
    cox
        Fit the Cox model when covariates and enough exits are available.
    dwellings
        Dwellings with ``dwelling_id`` and ``area_id``: the area of first placement for
        history rows that name a dwelling and no area.
    language
        Language of the titles and notes (``"en"`` or ``"da"``, see
        :mod:`placement.report_text`); the numbers and group ids are the same in both.

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
    from placement.report_text import check_language, count_text, has_text, say, when

    lang = check_language(language)
    settings = settings or RetentionSettings()
    if history is None or len(history) == 0:
        msg = "the residence history has no rows; nothing to report"
        raise RetentionError(msg)
    persons = prepare_persons(history, measures=measures, areas=areas, settings=settings,
                              dwellings=dwellings)
    last = data_date(persons)
    stop = _as_of(year, as_of)
    notes: list[str] = []
    if as_of is None and last < stop:
        stop = last
        notes.append(say("n.data_date", lang, date=when(stop, lang)))
    years = report_years(persons, as_of=stop)
    overall = retention_rate(persons, year=year, as_of=stop)
    if not (persons["placement_date"] <= stop).any():
        msg = (
            f"nobody in the residence history was placed by {stop.date()}; placements run from "
            f"{persons['placement_date'].min().date()} to {persons['placement_date'].max().date()}"
            "; choose another --year"
        )
        raise RetentionError(msg)
    if overall.n == 0:
        ends = persons["integration_end"].dt.year
        covered = (say("n.covers", lang, first=years[0], last=years[-1]) if years
                   else say("n.none_by_then", lang))
        notes.append(say("n.no_rate", lang, year=year, date=when(stop, lang), covered=covered,
                         first=int(ends.min()), last=int(ends.max())))
    k = settings.min_cell
    if persons.attrs.get("area_from_dwelling"):
        notes.append(say("n.area_from_dwelling", lang,
                         count=count_text(persons.attrs["area_from_dwelling"], k, lang)))
    if persons.attrs.get("type_from_size"):
        notes.append(say("n.type_from_size", lang,
                         count=count_text(persons.attrs["type_from_size"], k, lang)))
    if overall.censored:
        notes.append(say("n.censored", lang, count=count_text(overall.censored, k, lang),
                         year=year, date=when(stop, lang)))
    groupings = measure_groupings(persons, settings)
    fair = fairness_groupings(persons)
    groupings.update(fair)
    if "step_free_need" not in fair:
        notes.append(say("n.no_step_free", lang))
    elif (persons["step_free_need"] == UNKNOWN).any():
        no_need = int(persons.loc[persons["step_free_need"] == UNKNOWN, "persons"].sum())
        notes.append(say("n.step_free_unknown", lang, count=count_text(no_need, k, lang)))
    tables: dict[str, pd.DataFrame] = {
        "overall": pd.DataFrame(
            [{"group": "all", **{k: getattr(overall, k) for k in TABLE_COLUMNS[1:]}}],
            columns=list(TABLE_COLUMNS),
        ),
        "trend": retention_trend(persons, year=year, as_of=stop),
    }
    titles = {"overall": say("grouping.overall", lang, year=year),
              "trend": say("grouping.trend", lang)}
    for col, title in groupings.items():  # a split of the settings keeps its own title
        if has_text(f"grouping.{col}") and (lang != "en" or not title):
            groupings[col] = title = say(f"grouping.{col}", lang)
        tables[col] = retention_table(persons, year=year, by=col, as_of=stop)
        titles[col] = title
    if "area_id" in tables and areas is not None and "name" in areas.columns:
        names = dict(zip(areas["area_id"].astype(str), areas["name"].astype(str), strict=True))
        tables["area_id"]["group"] = [f"{g} {names[g]}" if g in names else g
                                      for g in tables["area_id"]["group"]]

    pooled = None
    pooled_years = None
    first_end = int(persons["integration_end"].min().year)
    if settings.pool_years > 1 and rate_hidden(overall, k):
        start = max(year - settings.pool_years + 1, first_end)
        pooled_years = (start, year)
        span = pool_label(start, year)
        pooled = pooled_rate(persons, first_year=start, year=year, as_of=stop)
        tables["pooled"] = pd.DataFrame(
            [{"group": span, **{c: getattr(pooled, c) for c in TABLE_COLUMNS[1:]}}],
            columns=list(TABLE_COLUMNS))
        titles["pooled"] = say("grouping.pooled", lang, span=span, n=year - start + 1)
        for col, title in groupings.items():
            if col == "cohort":
                continue
            tables[f"pooled_{col}"] = pooled_table(persons, first_year=start, year=year, by=col,
                                                   as_of=stop)
            titles[f"pooled_{col}"] = say("grouping.pooled_of", lang, title=title, span=span)
        tables["trend_pooled"] = rolling_trend(persons, year=year, years=settings.pool_years,
                                               as_of=stop)
        titles["trend_pooled"] = say("grouping.trend_pooled", lang, n=settings.pool_years)
        notes.append(say("n.pooled", lang, year=year, k=k, span=span, n=settings.pool_years))
    if "area_id" in tables and areas is not None and "name" in areas.columns:
        names = dict(zip(areas["area_id"].astype(str), areas["name"].astype(str), strict=True))
        for key in ("pooled_area_id",):
            if key in tables:
                tables[key]["group"] = [f"{g} {names[g]}" if g in names else g
                                        for g in tables[key]["group"]]

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
            notes.append(say("n.no_comparison", lang, year=empty))
        else:
            comparison = compare_with_target(overall, base, target, min_cell=settings.min_cell)

    surv = survival_frame(persons, as_of=stop)
    hid = surv["household_id"]
    if hid.notna().all() and hid.duplicated().any():
        notes.append(say("n.households", lang))
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
            notes.append(say("n.cox_no_measures", lang))
        elif n_events < settings.min_events_cox:
            notes.append(say("n.cox_few_exits", lang, n=n_events, k=settings.min_events_cox))
        else:
            try:
                cox_table = cox_model(surv, covariates=present, notes=notes, language=lang)
            except RetentionError as err:
                notes.append(say("n.cox_failed", lang, err=err))
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
        pooled=pooled,
        pooled_years=pooled_years,
        years=years,
    )
