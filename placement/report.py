"""Reports for planners: the annual retention report (HTML, CSV of every number, PDF).

Every number comes from :func:`placement.retention.retention_summary`; this module only lays
the numbers out, suppresses small cells (see :func:`placement.retention.suppression_mask`) and
writes the files atomically (temporary file, then ``os.replace``): on any error nothing is
written.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import html
import io
import logging
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from placement.retention import (
    RetentionError,
    RetentionSettings,
    RetentionSummary,
    RetentionTarget,
    retention_summary,
    suppressed_label,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

#: Columns of a retention table, with the headings shown in reports.
TABLE_HEADINGS = {
    "group": "Group",
    "n": "Persons",
    "stayers": "Stayed",
    "leavers": "Left",
    "censored": "Not yet ended",
    "rate": "Retention",
    "ci_low": "95 % CI low",
    "ci_high": "95 % CI high",
}
#: Statement printed with every Cox model.
ASSOCIATION_NOTE = (
    "Hazard ratios show association, not cause: households are not placed at random, and "
    "whatever drew a household to a dwelling may also make it stay or leave. A ratio above 1 "
    "means more moves out of the municipality per year at higher values of the measure."
)
MEASURE_LABELS = {
    "departures_per_hour_500m": "Departures per hour within 500 m (per departure/h)",
    "n_association_within_15min": "Associations within 15 min walk (per association)",
    "area_integration_share": "Share of integration residents in the area (per 1.0 = 100 %)",
    "walk_stop_min": "Walk to the nearest served stop (per minute)",
}


@dataclass(frozen=True, slots=True)
class ReportPaths:
    """Files written by :func:`write_retention_report`.

    Attributes
    ----------
    html : Path
        The self-contained HTML report.
    csv : Path
        Every number of the report, long format ``table, group, measure, value``.
    pdf : Path or None
        The PDF version, when asked for.
    """

    html: Path
    csv: Path
    pdf: Path | None = None


# --------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------
def _pct(x: float) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x * 100:.1f} %"


def _num(value: object) -> str:
    """Format a table cell for people (shares as percent)."""
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}".replace(",", " ")
    return f"{float(value):.3g}"


def _display_table(table: pd.DataFrame, mask: pd.DataFrame, min_cell: int) -> pd.DataFrame:
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
                values.append(_pct(float(v)))
            elif col == "group":
                values.append(str(v))
            else:
                values.append(_num(int(v)))
        out[TABLE_HEADINGS.get(col, col)] = values
    return out


def _csv_value(value: object) -> str:
    """Exact text of a number for the CSV (round-trips to the same float)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return repr(float(value))


def summary_sentences(summary: RetentionSummary, *, municipality: str = "") -> list[str]:
    """Return the summary of the report in words (respecting small-cell suppression).

    Parameters
    ----------
    summary
        Output of :func:`placement.retention.retention_summary`.
    municipality
        Name used in the sentences; ``"the municipality"`` when empty.

    Returns
    -------
    list of str
        Plain sentences, the first one about the report year's retention.
    """
    where = municipality or "the municipality"
    o = summary.overall
    k = summary.min_cell
    label = suppressed_label(k)
    out: list[str] = []
    if o.n == 0:
        out.append(
            f"No person's integration period ended in {summary.year} by "
            f"{summary.as_of.date()}, so there is no retention rate for {summary.year} yet; "
            "the survival curves show how many have moved out of "
            f"{where} so far."
        )
    elif o.n < k:
        out.append(
            f"Fewer than {k} persons' integration period ended in {summary.year}; the "
            "retention rate is not shown, so that no one can be recognised."
        )
    elif min(o.stayers, o.leavers) < k:
        out.append(
            f"Of the {o.n} persons whose integration period ended in {summary.year}, the number "
            f"who still lived in {where} is not shown because a count is below {k} ({label})."
        )
    else:
        out.append(
            f"Of the {o.n} persons whose integration period ended in {summary.year}, "
            f"{o.stayers} ({_pct(o.rate)}, 95 % CI {_pct(o.ci_low)}–{_pct(o.ci_high)}) still "
            f"lived in {where} at the end of the period; {o.leavers} had moved to another "
            "municipality or abroad."
        )
    p = summary.pooled
    if p is not None and summary.pooled_years is not None:
        span = f"{summary.pooled_years[0]}-{summary.pooled_years[1]}"
        if p.n == 0:
            out.append(f"Pooled over {span}, nobody's integration period has ended yet.")
        elif min(p.n, p.stayers, p.leavers) < k:
            out.append(
                f"Even pooled over {span} (as official statistics do when a year is too small), "
                f"a count is below {k}, so the pooled rate is not shown either."
            )
        else:
            out.append(
                f"As official statistics do when a year is too small, the years {span} are "
                f"pooled: of the {p.n} persons whose integration period ended in {span}, "
                f"{p.stayers} ({_pct(p.rate)}, 95 % CI {_pct(p.ci_low)}–{_pct(p.ci_high)}) still "
                f"lived in {where} at the end of the period; {p.leavers} had moved away."
            )
    if o.censored:
        count = str(o.censored) if o.censored >= k else f"fewer than {k}"
        out.append(
            f"{count.capitalize()} persons whose period ends later in {summary.year} (after "
            f"{summary.as_of.date()}) are not yet counted."
        )
    c = summary.comparison
    if c is not None:
        if c.suppressed:
            out.append(
                f"The comparison with {c.baseline_year} and the target "
                f"({c.target.describe()}) is not shown: a count is below {k}."
            )
        else:
            verdict = "was met" if c.met else "was not met"
            out.append(
                f"The target for {c.year} was {_pct(c.target_rate)} ({c.target.describe()}; "
                f"{c.baseline_year}: {_pct(c.baseline_rate)}); at {_pct(c.rate)} it {verdict} "
                f"({c.difference_points:+.1f} points against {c.baseline_year})."
            )
    significant = [t for t in summary.logrank if t.p_value < 0.05]
    if summary.logrank:
        if significant:
            names = ", ".join(
                summary.titles.get(t.grouping, t.grouping).lower() for t in significant
            )
            out.append(
                f"Time until moving out differs between groups by {names} (log-rank p < 0.05)."
            )
        else:
            out.append(
                "Time until moving out does not differ clearly between the groups compared "
                "(every log-rank p >= 0.05)."
            )
    return out


# --------------------------------------------------------------------------------------------
# Charts (matplotlib Figure objects, no pyplot state)
# --------------------------------------------------------------------------------------------
def _figure(width_in: float = 7.0, height_in: float = 3.6) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), dpi=100, layout="constrained")


def _rate_chart(
    table: pd.DataFrame,
    mask: pd.DataFrame,
    *,
    title: str,
    xlabel: str,
    target_pct: float | None = None,
) -> Figure | None:
    """Bar chart of shown retention rates with their Wilson intervals (None if none shown)."""
    shown = table.loc[~mask["rate"]]
    if shown.empty:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    x = np.arange(len(shown))
    rate = shown["rate"].to_numpy(dtype=float) * 100
    low = rate - shown["ci_low"].to_numpy(dtype=float) * 100
    high = shown["ci_high"].to_numpy(dtype=float) * 100 - rate
    ax.bar(x, rate, color="#4c78a8", yerr=np.vstack([low, high]), capsize=4)
    ax.set_xticks(x, shown["group"].astype(str).tolist(), rotation=0 if len(x) < 8 else 45)
    ax.set_ylim(0, 100)
    ax.set_ylabel("Still resident (%)")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    if target_pct is not None:
        ax.axhline(target_pct, color="#e45756", linestyle="--", label=f"target {target_pct:.1f} %")
        ax.legend(loc="lower right", fontsize="small")
    return fig


def _km_chart(km: pd.DataFrame, *, grouping: str, title: str) -> Figure | None:
    """Step plot of the Kaplan–Meier curves of one grouping (None if no curve is shown)."""
    part = km.loc[km["grouping"] == grouping]
    if part.empty:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    for group, curve in part.groupby("group", sort=True):
        t = curve["time_years"].to_numpy(dtype=float)
        label = "everyone" if grouping == "overall" else f"{group} (n={curve['n_group'].iloc[0]})"
        ax.step(t, curve["survival"].to_numpy(dtype=float) * 100, where="post", label=label)
        ax.fill_between(
            t,
            curve["ci_low"].to_numpy(dtype=float) * 100,
            curve["ci_high"].to_numpy(dtype=float) * 100,
            step="post",
            alpha=0.15,
        )
    ax.set_ylim(0, 100)
    ax.set_xlim(left=0)
    ax.set_xlabel("Years since placement")
    ax.set_ylabel("Still in the municipality (%)")
    ax.set_title(title)
    ax.legend(loc="lower left", fontsize="small")
    return fig


def _png_base64(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


# --------------------------------------------------------------------------------------------
# Building the report content
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Content:
    title: str
    sentences: list[str]
    tables: list[tuple[str, pd.DataFrame]]  # (heading, display frame)
    charts: list[tuple[str, Figure]]  # (caption, chart)
    notes: list[str]


def _content(summary: RetentionSummary, municipality: str) -> _Content:
    k = summary.min_cell
    where = f" — {municipality}" if municipality else ""
    title = f"Retention after the integration period {summary.year}{where}"
    tables: list[tuple[str, pd.DataFrame]] = []
    charts: list[tuple[str, Figure]] = []
    c = summary.comparison
    if c is not None:
        rows = {
            "Report year": str(c.year),
            "Baseline year": str(c.baseline_year),
            "Target": c.target.describe(),
        }
        if c.suppressed:
            rows["Result"] = f"not shown (a count is below {k})"
        else:
            rows |= {
                f"Retention {c.baseline_year}": _pct(c.baseline_rate),
                "Target rate": _pct(c.target_rate),
                f"Retention {c.year}": _pct(c.rate),
                "Change (points)": f"{c.difference_points:+.1f}",
                "Target met": "yes" if c.met else "no",
            }
        tables.append(
            (
                "Comparison with the target",
                pd.DataFrame({"": list(rows), "Value": list(rows.values())}),
            )
        )
    for key, table in summary.tables.items():
        heading = summary.titles.get(key, key)
        tables.append((heading, _display_table(table, summary.mask(key), k)))
    trend = summary.tables["trend"]
    fig = _rate_chart(
        trend,
        summary.mask("trend"),
        title="Retention by year the integration period ended",
        xlabel="Year of period end",
        target_pct=None if c is None or c.suppressed else c.target_rate * 100,
    )
    if fig is not None:
        charts.append(("Retention by year of period end (cohort), with 95 % intervals", fig))
    for key, xlabel in (("cohort", "Placement year"), ("area_id", "Local area")):
        table = summary.tables.get(key)
        if table is None:
            continue
        fig = _rate_chart(
            table,
            summary.mask(key),
            title=f"Retention {summary.year}: {summary.titles[key].lower()}",
            xlabel=xlabel,
        )
        if fig is not None:
            charts.append((f"Retention {summary.year} by {summary.titles[key].lower()}", fig))
    for grouping in ["overall", *[g for g in summary.tables if g not in ("overall", "trend")]]:
        name = "everyone" if grouping == "overall" else summary.titles[grouping].lower()
        fig = _km_chart(summary.km, grouping=grouping, title=f"Staying in the municipality: {name}")
        if fig is not None:
            charts.append((f"Kaplan–Meier curve, {name}", fig))
    if summary.logrank:
        tables.append(
            (
                "Log-rank tests (time until moving out, by group)",
                pd.DataFrame(
                    {
                        "Grouping": [
                            summary.titles.get(t.grouping, t.grouping) for t in summary.logrank
                        ],
                        "Groups": [str(t.n_groups) for t in summary.logrank],
                        "Chi-square": [f"{t.statistic:.2f}" for t in summary.logrank],
                        "df": [str(t.degrees_freedom) for t in summary.logrank],
                        "p-value": [f"{t.p_value:.3f}" for t in summary.logrank],
                    }
                ),
            )
        )
    if summary.cox is not None:
        cox = summary.cox
        tables.append(
            (
                "Cox model: hazard ratios of moving out (association, not cause)",
                pd.DataFrame(
                    {
                        "Measure": [MEASURE_LABELS.get(v, v) for v in cox["covariate"]],
                        "Hazard ratio": [f"{v:.3f}" for v in cox["hazard_ratio"]],
                        "95 % CI": [
                            f"{a:.3f}–{b:.3f}"
                            for a, b in zip(cox["ci_low"], cox["ci_high"], strict=True)
                        ],
                        "p-value": [f"{v:.3f}" for v in cox["p_value"]],
                    }
                ),
            )
        )
    label = suppressed_label(k)
    notes = [
        "Retention: of the persons whose integration period ended in the year, the share with "
        "no move to another municipality or abroad on or before the period's end. Moves within "
        "the municipality do not count as leaving. Persons whose period had not ended by "
        f"{summary.as_of.date()} are not counted.",
        f"Counts below {k} are shown as '{label}', together with the rates derived from them; "
        "when one group alone is hidden, the next smallest group is hidden too, so that it "
        "cannot be worked out from the total. Kaplan–Meier curves leave out groups of fewer "
        f"than {k} persons and stop where fewer than {k} remain at risk.",
        "Intervals: 95 % Wilson score intervals for rates; 95 % Greenwood (exponential) "
        "intervals for the curves.",
    ]
    if summary.cox is not None:
        notes.append(ASSOCIATION_NOTE)
    notes.extend(summary.notes)
    return _Content(
        title, summary_sentences(summary, municipality=municipality), tables, charts, notes
    )


def report_content(summary: RetentionSummary, *, municipality: str = "") -> _Content:
    """Return what the report shows: title, summary in words, suppressed tables, charts, notes.

    The app's Retention page shows exactly this, so the screen and the downloads agree
    (small counts as ``<5`` in both; rates as percent).

    Returns
    -------
    _Content
        ``title``, ``sentences``, ``tables`` (heading, display frame of text cells),
        ``charts`` (caption, matplotlib figure), ``notes``.
    """
    return _content(summary, municipality)


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:60rem;margin:2rem auto;
padding:0 1rem;color:#222;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5rem 0 1rem}
th,td{border:1px solid #ccc;padding:.25rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f2f2f2}
figure{margin:1rem 0}figure img{max-width:100%}figcaption{font-size:.9rem;color:#555}
.summary{background:#f5f8fc;border-left:4px solid #4c78a8;padding:.5rem 1rem}
.notes{font-size:.9rem;color:#444}
"""


def _html(content: _Content, summary: RetentionSummary) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(content.title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{esc(content.title)}</h1>",
        f"<p>Data as of {summary.as_of.date()}; {summary.n_persons} persons in the history.</p>",
        '<div class="summary">',
        *[f"<p>{esc(s)}</p>" for s in content.sentences],
        "</div>",
    ]
    for heading, frame in content.tables:
        parts.append(f"<h2>{esc(heading)}</h2>")
        parts.append(frame.to_html(index=False, escape=True, border=0, na_rep="–"))
    if content.charts:
        parts.append("<h2>Charts</h2>")
    for caption, fig in content.charts:
        parts.append(
            f'<figure><img alt="{esc(caption)}" src="data:image/png;base64,'
            f'{_png_base64(fig)}"><figcaption>{esc(caption)}</figcaption></figure>'
        )
    parts.append('<h2>Notes</h2><div class="notes">')
    parts.extend(f"<p>{esc(n)}</p>" for n in content.notes)
    parts.append("</div></body></html>")
    return "\n".join(parts) + "\n"


def _pdf(content: _Content) -> bytes:
    import textwrap

    from matplotlib.backends.backend_pdf import PdfPages

    buf = io.BytesIO()
    with PdfPages(buf, metadata={"CreationDate": None, "Title": content.title}) as pdf:
        fig = _figure(8.27, 11.69)
        y = 0.95
        fig.text(0.07, y, textwrap.fill(content.title, 70), fontsize=14, weight="bold", va="top")
        y -= 0.07
        for sentence in content.sentences:
            wrapped = textwrap.fill(sentence, 95)
            fig.text(0.07, y, wrapped, fontsize=9.5, va="top")
            y -= 0.022 * (wrapped.count("\n") + 1) + 0.012
        y -= 0.02
        for note in content.notes:
            wrapped = textwrap.fill(note, 110)
            fig.text(0.07, y, wrapped, fontsize=7.5, va="top", color="#444444")
            y -= 0.017 * (wrapped.count("\n") + 1) + 0.008
        pdf.savefig(fig)
        for heading, frame in content.tables:
            rows = max(1, len(frame))
            fig = _figure(8.27, min(11.69, 1.2 + 0.28 * rows))
            ax = fig.add_subplot()
            ax.axis("off")
            ax.set_title(heading, loc="left", fontsize=11)
            cells = frame.astype(str).to_numpy().tolist() or [[""] * len(frame.columns)]
            tab = ax.table(
                cellText=cells, colLabels=[str(c) for c in frame.columns], loc="upper center"
            )
            tab.auto_set_font_size(False)
            tab.set_fontsize(8)
            pdf.savefig(fig)
        for caption, chart in content.charts:
            chart.suptitle(caption, fontsize=9)
            pdf.savefig(chart)
    return buf.getvalue()


def _csv(summary: RetentionSummary, extra: Sequence[tuple[str, str, str, str]] = ()) -> str:
    """Every number of the report in long format (suppressed cells as '<5')."""
    k = summary.min_cell
    label = suppressed_label(k)
    rows: list[tuple[str, str, str, str]] = [
        ("meta", "", "year", str(summary.year)),
        ("meta", "", "as_of", str(summary.as_of.date())),
        ("meta", "", "min_cell", str(k)),
    ]
    for key, table in summary.tables.items():
        mask = summary.mask(key)
        for i in table.index:
            group = str(table.at[i, "group"])
            for col in table.columns:
                if col == "group":
                    continue
                value = label if bool(mask.at[i, col]) else _csv_value(table.at[i, col])
                rows.append((key, group, col, value))
    c = summary.comparison
    if c is not None:
        group = f"{c.year} vs {c.baseline_year}"
        rows.append(("target", group, "target", c.target.describe()))
        values = {
            "baseline_rate": c.baseline_rate,
            "target_rate": c.target_rate,
            "rate": c.rate,
            "difference_points": c.difference_points,
            "met": c.met,
        }
        for measure, value in values.items():
            rows.append(("target", group, measure, label if c.suppressed else _csv_value(value)))
    for _, point in summary.km.iterrows():
        table = f"km_{point['grouping']}"
        day = f"day_{int(point['time_days'])}"
        for col in ("survival", "ci_low", "ci_high", "at_risk"):
            rows.append((table, str(point["group"]), f"{col}@{day}", _csv_value(point[col])))
    for t in summary.logrank:
        for measure in ("statistic", "degrees_freedom", "p_value", "n_groups"):
            rows.append(("logrank", t.grouping, measure, _csv_value(getattr(t, measure))))
    if summary.cox is not None:
        for _, r in summary.cox.iterrows():
            for measure in ("hazard_ratio", "ci_low", "ci_high", "p_value", "n", "events"):
                rows.append(("cox", str(r["covariate"]), measure, _csv_value(r[measure])))
    rows.extend(extra)  # e.g. the fairness audit of a plan
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(("table", "group", "measure", "value"))
    from placement.export import neutralise_text  # group labels come from the input files

    writer.writerows((t, neutralise_text(g), m, v) for t, g, m, v in rows)
    return buf.getvalue()


def _write_atomically(files: dict[Path, bytes]) -> None:
    """Write every file to a temporary sibling first, then move them all into place."""
    temps: dict[Path, Path] = {}
    try:
        for path, data in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            temps[path] = Path(tmp)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            Path(tmp).chmod(0o644)  # mkstemp creates 0600; a report is meant to be shared
        for path, tmp in temps.items():
            tmp.replace(path)  # os.replace: atomic on the same filesystem
    finally:
        for tmp in temps.values():
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def write_retention_report(
    history: pd.DataFrame,
    *,
    year: int,
    out: str | Path,
    baseline_year: int | None = None,
    target: RetentionTarget | None = None,
    measures: pd.DataFrame | None = None,
    pdf: bool = False,
    municipality: str = "",
    areas: pd.DataFrame | None = None,
    as_of: date | pd.Timestamp | str | None = None,
    settings: RetentionSettings | None = None,
    dwellings: pd.DataFrame | None = None,
    notes: Sequence[str] = (),
    audit: Any = None,
    audit_words: str = "",
) -> ReportPaths:
    """Write the annual retention report: HTML, a CSV of every number and optionally a PDF.

    Parameters
    ----------
    history
        Residence history (``schema.HISTORY`` rows; see
        :func:`placement.retention.prepare_persons`).
    year
        Report year: persons whose integration period ended in it.
    out
        Path of the HTML file; the CSV (and PDF) get the same name with ``.csv`` (``.pdf``).
    baseline_year
        Year to compare with the target; None for no comparison.
    target
        Target over the baseline (default +10 % relative).
    measures
        Accessibility table per ``dwelling_id`` (for grouping by e.g. near a served stop, and
        the Cox model).
    pdf
        Also write a PDF (tables and charts).
    municipality
        Name shown in the title and summary.
    areas
        Areas table with ``population`` and ``integration_residents`` (area concentration).
    as_of
        Data date; default 31 December of ``year``, or the last date in the history when that
        is earlier (see :func:`placement.retention.retention_summary`).
    settings
        Analysis settings (integration period, suppression threshold, splits, pooling).
    dwellings
        Dwellings with ``dwelling_id`` and ``area_id``: the area of first placement where the
        history names a dwelling and no area.
    notes
        Further remarks for the notes section.
    audit
        A plan's fairness audit (:class:`placement.fairness.FairnessAudit`), added as tables,
        flags and CSV rows (``fairness_<dimension>``).
    audit_words
        The audit's retention model validation in words.

    Returns
    -------
    ReportPaths
        Paths of the written files.

    Raises
    ------
    DataError
        Invalid history rows (nothing is written).
    RetentionError
        Nothing to report for ``year`` or a bad output path (nothing is written).
    """
    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        msg = f"the report file must end in .html, got {out.name!r}"
        raise RetentionError(msg)
    if out.exists() and out.is_dir():
        msg = f"{out} is a folder; give a file name such as report.html"
        raise RetentionError(msg)
    summary = retention_summary(
        history,
        year=year,
        baseline_year=baseline_year,
        target=target,
        measures=measures,
        areas=areas,
        as_of=as_of,
        settings=settings,
        dwellings=dwellings,
    )
    content = _content(summary, municipality)
    content.notes.extend(notes)  # e.g. what was done without population per area
    extra_rows: list[tuple[str, str, str, str]] = []
    if audit is not None:
        from placement.fairness import csv_rows, display_tables

        content.tables.extend(display_tables(audit))
        content.notes.extend(f"Fairness audit: {n}" for n in [*audit.flags, *audit.notes])
        if audit_words:
            content.notes.append(f"Fairness audit, retention model: {audit_words}")
        extra_rows = csv_rows(audit)
    files = {
        out: _html(content, summary).encode("utf-8"),
        out.with_suffix(".csv"): _csv(summary, extra_rows).encode("utf-8"),
    }
    pdf_path = out.with_suffix(".pdf") if pdf else None
    if pdf_path is not None:
        files[pdf_path] = _pdf(content)
    _write_atomically(files)
    logger.info("retention report %s written to %s", year, out)
    return ReportPaths(html=out, csv=out.with_suffix(".csv"), pdf=pdf_path)


def retention_report_for_dataset(
    dataset_dir: str | Path,
    *,
    year: int,
    out: str | Path,
    baseline_year: int | None = None,
    target: RetentionTarget | None = None,
    measures: pd.DataFrame | None = None,
    pdf: bool = False,
    as_of: date | pd.Timestamp | str | None = None,
    settings: RetentionSettings | None = None,
    audit: Any = None,
    audit_words: str = "",
) -> ReportPaths:
    """Write the annual retention report of a dataset folder (``placement report retention``).

    Reads ``dataset.toml``, the residence history named in its ``[history]`` section and the
    local areas (for the municipality name and the share of integration residents per area),
    then calls :func:`write_retention_report`.

    Parameters
    ----------
    dataset_dir
        Folder with ``dataset.toml``.
    year
        Report year.
    out
        Path of the HTML file (``.html``); the CSV and PDF are written beside it.
    baseline_year, target, measures, pdf, as_of, settings, audit, audit_words
        As in :func:`write_retention_report`. ``measures`` is the accessibility table of a
        stored run (indexed or keyed by ``dwelling_id``), when there is one.

    Returns
    -------
    ReportPaths
        Paths of the written files.

    Raises
    ------
    DataError
        Problems in the manifest, the history or the areas (nothing is written).
    RetentionError
        The dataset has no residence history, or nothing to report for ``year``.
    """
    from placement import load
    from placement.dataset import read_manifest

    manifest = read_manifest(dataset_dir)
    if manifest.history is None:
        msg = (
            f"the dataset in {manifest.root} has no residence history: add a [history] section "
            'with file = "residence_history.csv" to dataset.toml'
        )
        raise RetentionError(msg)
    history = load.load_history(manifest.history.file)
    boundary = load.load_boundary(manifest.boundary.file, layer=manifest.boundary.layer,
                                  crs=manifest.boundary.crs, code=manifest.code,
                                  code_field=manifest.boundary_code_field)
    areas = load.load_areas(
        manifest.areas.file,
        layer=manifest.areas.layer,
        id_field=manifest.area_id_field,
        name_field=manifest.area_name_field,
        population_file=manifest.population_file,
        crs=manifest.areas.crs,
        municipality_code=manifest.code,
        code_field=manifest.areas_code_field,
        boundary=boundary,
        population_required=False,
    )
    extra_notes: list[str] = []
    if "population_estimated" in areas.columns and areas["population_estimated"].any():
        from placement.dataset import POPULATION_FALLBACK_WORDS

        areas = areas.assign(population=pd.NA)  # unknown: no share of residents per area
        extra_notes.append(POPULATION_FALLBACK_WORDS[0].upper() + POPULATION_FALLBACK_WORDS[1:]
                           + "; the share of integration residents per area is unknown.")
    dwellings = _dwelling_areas(manifest, areas)
    return write_retention_report(
        history,
        year=year,
        out=Path(out),
        baseline_year=baseline_year,
        target=target,
        measures=measures,
        pdf=pdf,
        municipality=manifest.name,
        areas=pd.DataFrame(areas.drop(columns="geometry")),
        as_of=as_of,
        settings=settings,
        dwellings=dwellings,
        notes=extra_notes,
        audit=audit,
        audit_words=audit_words,
    )


def _dwelling_areas(manifest: Any, areas: pd.DataFrame) -> pd.DataFrame | None:
    """``dwelling_id`` → ``area_id`` of the dataset's dwellings file (None if it does not load)."""
    from placement import load
    from placement._errors import DataError

    try:
        dw = load.load_dwellings(manifest.dwellings.file, crs=manifest.dwellings.crs, areas=areas,
                                 columns=manifest.dwelling_columns or None)
    except DataError as err:
        logger.warning("dwellings not used for the areas of first placement: %s", err)
        return None
    return pd.DataFrame(dw[["dwelling_id", "area_id"]])


def load_measures(path: str | Path) -> pd.DataFrame:
    """Read an accessibility table written by ``placement access`` (CSV, Parquet or GeoPackage).

    Parameters
    ----------
    path
        ``.csv`` (first column ``dwelling_id``), ``.parquet`` or ``.gpkg`` (layer
        ``accessibility``).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``dwelling_id`` (str), the measure columns as written.

    Raises
    ------
    RetentionError
        When the file is missing, of another kind, or has no ``dwelling_id``.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"measures: file not found: {path}"
        raise RetentionError(msg)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".gpkg"):
        msg = f"measures: {path.name}: use a .csv, .parquet or .gpkg from `placement access`"
        raise RetentionError(msg)
    try:
        if suffix == ".csv":
            table = pd.read_csv(path, dtype={"dwelling_id": str})
        elif suffix == ".parquet":
            table = pd.read_parquet(path)
        else:
            import geopandas as gpd

            table = pd.DataFrame(gpd.read_file(path, layer="accessibility").drop(
                columns="geometry"))
    except (OSError, ValueError) as err:
        msg = f"measures: cannot read {path.name}: {err}"
        raise RetentionError(msg) from err
    if "dwelling_id" in table.columns:
        table = table.set_index("dwelling_id")
    if table.index.name != "dwelling_id":
        msg = f"measures: {path.name} has no dwelling_id column; write it with `placement access`"
        raise RetentionError(msg)
    table.index = table.index.astype(str)
    return table
