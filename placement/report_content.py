"""What the retention report shows: the summary in words, suppressed tables, charts and notes.

:func:`report_content` lays out the numbers of :func:`placement.retention.retention_summary`
in English or Danish (the words come from :mod:`placement.report_text`); the app's Retention
page shows exactly this content and :mod:`placement.report` writes it to HTML and PDF, so the
screen and the files agree (small counts as ``<5`` in both, rates as percent).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from placement.report_text import check_language, group_text, pct, say, when
from placement.retention import RetentionSummary, suppressed_label

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ASSOCIATION_NOTE", "MEASURE_LABELS", "TABLE_HEADINGS", "ReportContent",
           "report_content", "summary_sentences"]

_COLUMNS = ("group", "n", "stayers", "leavers", "censored", "rate", "ci_low", "ci_high")
#: Columns of a retention table, with the headings shown in English reports.
TABLE_HEADINGS = {c: say(f"col.{c}", "en") for c in _COLUMNS}
#: Statement printed with every Cox model (English; Danish in ``report_text``).
ASSOCIATION_NOTE = say("note.association", "en")
_MEASURES = ("departures_per_hour_500m", "n_association_within_15min",
             "area_integration_share", "walk_stop_min")
#: Cox covariates in words (English).
MEASURE_LABELS = {m: say(f"measure.{m}", "en") for m in _MEASURES}


def _num(value: object, lang: str) -> str:
    """Format a table cell for people (thousands with a thin space)."""
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}".replace(",", " ")
    text = f"{float(value):.3g}"
    return text.replace(".", ",") if lang == "da" else text


def _dec(value: float, digits: int, lang: str) -> str:
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if lang == "da" else text


def _display_table(table: pd.DataFrame, mask: pd.DataFrame, min_cell: int,
                   lang: str) -> pd.DataFrame:
    """Suppressed table with rates formatted as percent and counts as integers."""
    label = suppressed_label(min_cell)
    out = pd.DataFrame(index=table.index)
    for col in table.columns:
        values = []
        for i in table.index:
            v = table.at[i, col]
            if bool(mask.at[i, col]):
                values.append(label)
            elif col in ("rate", "ci_low", "ci_high"):
                values.append(pct(float(v), lang))
            elif col == "group":
                values.append(group_text(v, lang))
            else:
                values.append(_num(int(v), lang))
        out[say(f"col.{col}", lang) if col in _COLUMNS else col] = values
    return out


def summary_sentences(summary: RetentionSummary, *, municipality: str = "",
                      language: str = "en") -> list[str]:
    """Return the summary of the report in words (respecting small-cell suppression).

    Parameters
    ----------
    summary
        Output of :func:`placement.retention.retention_summary`.
    municipality
        Name used in the sentences; "the municipality" ("kommunen") when empty.
    language
        ``"en"`` or ``"da"``.

    Returns
    -------
    list of str
        Plain sentences, the first one about the report year's retention.
    """
    lang = check_language(language)
    where = municipality or say("word.the_municipality", lang)
    o = summary.overall
    k = summary.min_cell
    label = suppressed_label(k)
    day = when(summary.as_of, lang)
    out: list[str] = []
    if o.n == 0:
        out.append(say("s.none_ended", lang, year=summary.year, date=day, where=where))
    elif o.n < k:
        out.append(say("s.too_few", lang, k=k, year=summary.year))
    elif min(o.stayers, o.leavers) < k:
        out.append(say("s.count_hidden", lang, n=o.n, year=summary.year, where=where, k=k,
                       label=label))
    else:
        out.append(say("s.rate", lang, n=o.n, year=summary.year, stayers=o.stayers,
                       rate=pct(o.rate, lang), low=pct(o.ci_low, lang),
                       high=pct(o.ci_high, lang), where=where, leavers=o.leavers))
    p = summary.pooled
    if p is not None and summary.pooled_years is not None:
        span = f"{summary.pooled_years[0]}-{summary.pooled_years[1]}"
        if p.n == 0:
            out.append(say("s.pooled_none", lang, span=span))
        elif min(p.n, p.stayers, p.leavers) < k:
            out.append(say("s.pooled_hidden", lang, span=span, k=k))
        else:
            out.append(say("s.pooled", lang, span=span, n=p.n, stayers=p.stayers,
                           rate=pct(p.rate, lang), low=pct(p.ci_low, lang),
                           high=pct(p.ci_high, lang), where=where, leavers=p.leavers))
    if o.censored:
        count = (str(o.censored) if o.censored >= k
                 else say("word.fewer_than_lower", lang, k=k))
        out.append(say("s.censored", lang, count=count[:1].upper() + count[1:],
                       year=summary.year, date=day))
    c = summary.comparison
    if c is not None:
        target = c.target.describe(lang)
        if c.suppressed:
            out.append(say("s.cmp_hidden", lang, base=c.baseline_year, target=target, k=k))
        else:
            out.append(say("s.cmp", lang, year=c.year, target_rate=pct(c.target_rate, lang),
                           target=target, base=c.baseline_year,
                           base_rate=pct(c.baseline_rate, lang), rate=pct(c.rate, lang),
                           verdict=say("s.met" if c.met else "s.not_met", lang),
                           diff=("+" if c.difference_points >= 0 else "")
                           + _dec(c.difference_points, 1, lang)))
    significant = [t for t in summary.logrank if t.p_value < 0.05]
    if summary.logrank:
        if significant:
            names = ", ".join(
                summary.titles.get(t.grouping, t.grouping).lower() for t in significant
            )
            out.append(say("s.logrank_differs", lang, names=names))
        else:
            out.append(say("s.logrank_same", lang))
    return out


# --------------------------------------------------------------------------------------------
# Charts (matplotlib Figure objects, no pyplot state)
# --------------------------------------------------------------------------------------------
def figure(width_in: float = 7.0, height_in: float = 3.6) -> Figure:
    """Return an empty matplotlib figure of the report's style (no pyplot state)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), dpi=100, layout="constrained")


def _rate_chart(table: pd.DataFrame, mask: pd.DataFrame, *, title: str, xlabel: str,
                lang: str, target_pct: float | None = None) -> Figure | None:
    """Bar chart of shown retention rates with their Wilson intervals (None if none shown)."""
    shown = table.loc[~mask["rate"]]
    if shown.empty:
        return None
    fig = figure()
    ax = fig.add_subplot()
    x = np.arange(len(shown))
    rate = shown["rate"].to_numpy(dtype=float) * 100
    low = rate - shown["ci_low"].to_numpy(dtype=float) * 100
    high = shown["ci_high"].to_numpy(dtype=float) * 100 - rate
    ax.bar(x, rate, color="#4c78a8", yerr=np.vstack([low, high]), capsize=4)
    ax.set_xticks(x, [group_text(g, lang) for g in shown["group"].astype(str)],
                  rotation=0 if len(x) < 8 else 45)
    ax.set_ylim(0, 100)
    ax.set_ylabel(say("chart.still_resident", lang))
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    if target_pct is not None:
        ax.axhline(target_pct, color="#e45756", linestyle="--",
                   label=say("chart.target", lang, x=pct(target_pct / 100, lang)))
        ax.legend(loc="lower right", fontsize="small")
    return fig


def _km_chart(km: pd.DataFrame, *, grouping: str, title: str, lang: str) -> Figure | None:
    """Step plot of the Kaplan–Meier curves of one grouping (None if no curve is shown)."""
    part = km.loc[km["grouping"] == grouping]
    if part.empty:
        return None
    fig = figure()
    ax = fig.add_subplot()
    for group, curve in part.groupby("group", sort=True):
        t = curve["time_years"].to_numpy(dtype=float)
        label = (say("word.everyone", lang) if grouping == "overall"
                 else f"{group_text(group, lang)} (n={curve['n_group'].iloc[0]})")
        ax.step(t, curve["survival"].to_numpy(dtype=float) * 100, where="post", label=label)
        ax.fill_between(t, curve["ci_low"].to_numpy(dtype=float) * 100,
                        curve["ci_high"].to_numpy(dtype=float) * 100, step="post", alpha=0.15)
    ax.set_ylim(0, 100)
    ax.set_xlim(left=0)
    ax.set_xlabel(say("chart.years_since", lang))
    ax.set_ylabel(say("chart.still_in", lang))
    ax.set_title(title)
    ax.legend(loc="lower left", fontsize="small")
    return fig


# --------------------------------------------------------------------------------------------
# Building the report content
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ReportContent:
    """What the report shows, in one language.

    Attributes
    ----------
    title : str
    sentences : list of str
        The summary in words.
    tables : list of (str, pandas.DataFrame)
        Heading and display frame (text cells, small counts as ``<5``).
    charts : list of (str, matplotlib.figure.Figure)
        Caption and chart.
    notes : list of str
        Definitions, suppression, method and the analysis' own remarks.
    language : str
        ``"en"`` or ``"da"``.
    """

    title: str
    sentences: list[str]
    tables: list[tuple[str, pd.DataFrame]]
    charts: list[tuple[str, Figure]]
    notes: list[str]
    language: str = "en"


def _comparison_table(summary: RetentionSummary, lang: str) -> pd.DataFrame | None:
    c, k = summary.comparison, summary.min_cell
    if c is None:
        return None
    rows = {say("cmp.report_year", lang): str(c.year),
            say("cmp.baseline_year", lang): str(c.baseline_year),
            say("cmp.target", lang): c.target.describe(lang)}
    if c.suppressed:
        rows[say("cmp.result", lang)] = say("cmp.not_shown", lang, k=k)
    else:
        sign = "+" if c.difference_points >= 0 else ""
        rows |= {
            say("cmp.retention", lang, year=c.baseline_year): pct(c.baseline_rate, lang),
            say("cmp.target_rate", lang): pct(c.target_rate, lang),
            say("cmp.retention", lang, year=c.year): pct(c.rate, lang),
            say("cmp.change", lang): sign + _dec(c.difference_points, 1, lang),
            say("cmp.met", lang): say("word.yes" if c.met else "word.no", lang),
        }
    return pd.DataFrame({"": list(rows), say("word.value", lang): list(rows.values())})


def report_content(summary: RetentionSummary, *, municipality: str = "",
                   language: str = "en") -> ReportContent:
    """Return what the report shows: title, summary in words, suppressed tables, charts, notes.

    The app's Retention page shows exactly this, so the screen and the downloads agree
    (small counts as ``<5`` in both; rates as percent).

    Parameters
    ----------
    summary
        Output of :func:`placement.retention.retention_summary` (computed with the same
        ``language``, so that its titles and notes read in it too).
    municipality
        Name shown in the title and the sentences.
    language
        ``"en"`` or ``"da"``.

    Returns
    -------
    ReportContent
    """
    lang = check_language(language)
    k = summary.min_cell
    where = f" — {municipality}" if municipality else ""
    title = say("title", lang, year=summary.year, where=where)
    tables: list[tuple[str, pd.DataFrame]] = []
    charts: list[tuple[str, Figure]] = []
    c = summary.comparison
    cmp_table = _comparison_table(summary, lang)
    if cmp_table is not None:
        tables.append((say("cmp.heading", lang), cmp_table))
    for key, table in summary.tables.items():
        tables.append((summary.titles.get(key, key),
                       _display_table(table, summary.mask(key), k, lang)))
    fig = _rate_chart(summary.tables["trend"], summary.mask("trend"),
                      title=say("chart.trend_title", lang), xlabel=say("chart.trend_x", lang),
                      lang=lang,
                      target_pct=None if c is None or c.suppressed else c.target_rate * 100)
    if fig is not None:
        charts.append((say("chart.trend_caption", lang), fig))
    for key, xkey in (("cohort", "chart.cohort_x"), ("area_id", "chart.area_x")):
        table = summary.tables.get(key)
        if table is None:
            continue
        what = summary.titles[key].lower()
        fig = _rate_chart(table, summary.mask(key), lang=lang, xlabel=say(xkey, lang),
                          title=say("chart.rate_title", lang, year=summary.year, what=what))
        if fig is not None:
            charts.append((say("chart.rate_caption", lang, year=summary.year, what=what), fig))
    for grouping in ["overall", *[g for g in summary.tables if g not in ("overall", "trend")]]:
        name = (say("word.everyone", lang) if grouping == "overall"
                else summary.titles[grouping].lower())
        fig = _km_chart(summary.km, grouping=grouping, lang=lang,
                        title=say("chart.km_title", lang, what=name))
        if fig is not None:
            charts.append((say("chart.km_caption", lang, what=name), fig))
    if summary.logrank:
        tables.append((say("lr.heading", lang), pd.DataFrame({
            say("lr.grouping", lang): [summary.titles.get(t.grouping, t.grouping)
                                       for t in summary.logrank],
            say("lr.groups", lang): [str(t.n_groups) for t in summary.logrank],
            say("lr.chi2", lang): [_dec(t.statistic, 2, lang) for t in summary.logrank],
            say("lr.df", lang): [str(t.degrees_freedom) for t in summary.logrank],
            say("lr.p", lang): [_dec(t.p_value, 3, lang) for t in summary.logrank],
        })))
    if summary.cox is not None:
        cox = summary.cox
        tables.append((say("cox.heading", lang), pd.DataFrame({
            say("cox.measure", lang): [say(f"measure.{v}", lang) if v in _MEASURES else v
                                       for v in cox["covariate"]],
            say("cox.hr", lang): [_dec(v, 3, lang) for v in cox["hazard_ratio"]],
            say("cox.ci", lang): [f"{_dec(a, 3, lang)}–{_dec(b, 3, lang)}"
                                  for a, b in zip(cox["ci_low"], cox["ci_high"], strict=True)],
            say("lr.p", lang): [_dec(v, 3, lang) for v in cox["p_value"]],
        })))
    notes = [say("note.definition", lang, date=when(summary.as_of, lang)),
             say("note.suppression", lang, k=k, label=suppressed_label(k)),
             say("note.intervals", lang)]
    if summary.cox is not None:
        notes.append(say("note.association", lang))
    notes.extend(summary.notes)
    sentences = summary_sentences(summary, municipality=municipality, language=lang)
    return ReportContent(title, sentences, tables, charts, notes, lang)
