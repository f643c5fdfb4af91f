"""Reports for planners: the annual retention report (HTML, CSV of every number, PDF).

Every number comes from :func:`placement.retention.retention_summary`;
:mod:`placement.report_content` lays the numbers out in English or Danish and suppresses small
cells (see :func:`placement.retention.suppression_mask`); this module writes the files
atomically (temporary file, then ``os.replace``): on any error nothing is written.
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

from placement.report_content import (
    ASSOCIATION_NOTE,
    MEASURE_LABELS,
    TABLE_HEADINGS,
    ReportContent,
    figure,
    report_content,
    summary_sentences,
)
from placement.report_text import check_language, say, when
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

__all__ = ["ASSOCIATION_NOTE", "MEASURE_LABELS", "TABLE_HEADINGS", "ReportPaths",
           "load_measures", "report_content", "retention_report_for_dataset",
           "summary_sentences", "write_retention_report"]

logger = logging.getLogger(__name__)


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


def _png_base64(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


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


def _html(content: ReportContent, summary: RetentionSummary) -> str:
    esc = html.escape
    lang = content.language
    as_of = say("word.data_as_of", lang, date=when(summary.as_of, lang), n=summary.n_persons)
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{lang}"><head><meta charset="utf-8">',
        f"<title>{esc(content.title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{esc(content.title)}</h1>",
        f"<p>{esc(as_of)}</p>",
        '<div class="summary">',
        *[f"<p>{esc(s)}</p>" for s in content.sentences],
        "</div>",
    ]
    for heading, frame in content.tables:
        parts.append(f"<h2>{esc(heading)}</h2>")
        parts.append(frame.to_html(index=False, escape=True, border=0, na_rep="–"))
    if content.charts:
        parts.append(f"<h2>{esc(say('word.charts', lang))}</h2>")
    for caption, fig in content.charts:
        parts.append(
            f'<figure><img alt="{esc(caption)}" src="data:image/png;base64,'
            f'{_png_base64(fig)}"><figcaption>{esc(caption)}</figcaption></figure>'
        )
    parts.append(f'<h2>{esc(say("word.notes", lang))}</h2><div class="notes">')
    parts.extend(f"<p>{esc(n)}</p>" for n in content.notes)
    parts.append("</div></body></html>")
    return "\n".join(parts) + "\n"


def _pdf(content: ReportContent) -> bytes:
    import textwrap

    from matplotlib.backends.backend_pdf import PdfPages

    buf = io.BytesIO()
    with PdfPages(buf, metadata={"CreationDate": None, "Title": content.title}) as pdf:
        fig = figure(8.27, 11.69)
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
            fig = figure(8.27, min(11.69, 1.2 + 0.28 * rows))
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
    language: str = "en",
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
    language
        ``"en"`` or ``"da"``: the words of the HTML and PDF (the CSV's names stay the same).

    Returns
    -------
    ReportPaths
        Paths of the written files.

    Raises
    ------
    ConfigError
        An unknown ``language``.
    DataError
        Invalid history rows (nothing is written).
    RetentionError
        Nothing to report for ``year`` or a bad output path (nothing is written).
    """
    lang = check_language(language)
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
        language=lang,
    )
    content = report_content(summary, municipality=municipality, language=lang)
    content.notes.extend(notes)  # e.g. what was done without population per area
    extra_rows: list[tuple[str, str, str, str]] = []
    if audit is not None:
        from placement.fairness import csv_rows, display_tables

        content.tables.extend(display_tables(audit))
        content.notes.extend(say("n.fairness", lang, note=n)
                             for n in [*audit.flags, *audit.notes])
        if audit_words:
            content.notes.append(say("n.fairness_model", lang, words=audit_words))
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
    language: str = "en",
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
    baseline_year, target, measures, pdf, as_of, settings, audit, audit_words, language
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
        areas = areas.assign(population=pd.NA)  # unknown: no share of residents per area
        extra_notes.append(say("n.population_unknown", language))
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
        language=language,
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
