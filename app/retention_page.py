"""The Retention page: the downloadable report, its downloads and the run's fairness audit.

Thin: the summary in words, the suppressed tables (small counts as ``<5``), the target
comparison, the charts and the notes come from ``placement.report.report_content``, computed
from the same call as the downloaded report, so the screen and the files agree. The fairness
audit of the run under review (by household type and step-free need) comes from
``placement.fairness`` and is shown in the user's language by ``fairness.render``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st
import views

from placement import auth
from placement._errors import PlacementError
from placement.i18n import markdown_escape, t


@st.cache_resource(show_spinner=False, max_entries=8)
def _report(folder: str, year: int, baseline: int | None,
            lang: str) -> tuple[object, bytes, bytes, str]:
    """The report content and its two files (HTML, CSV) for one year, baseline and language."""
    from placement.report import report_content, write_retention_report
    from placement.retention import retention_summary

    ds = views.dataset(folder)
    kwargs = {"year": int(year), "baseline_year": baseline, "areas": ds.areas,
              "dwellings": ds.dwellings, "language": lang}
    summary = retention_summary(ds.history, **kwargs)
    content = report_content(summary, municipality=ds.manifest.name, language=lang)
    out = Path(tempfile.mkdtemp(prefix="placement-report-")) / f"retention_{year}.html"
    paths = write_retention_report(ds.history, out=out, municipality=ds.manifest.name,
                                   **kwargs)
    return content, paths.html.read_bytes(), paths.csv.read_bytes(), paths.html.name


@st.cache_resource(show_spinner=False, max_entries=8)
def _fairness(folder: str, run_id: int, db_key: str) -> object:
    """The fairness audit of a stored run, from the library (no other plan is solved)."""
    from placement.fairness_plans import audit_dataset

    audit, _ = audit_dataset(folder, run=(views.engine(), int(run_id)), targets=False)
    return audit


def fairness_section(lang: str) -> None:
    """The audit of the run the coordinator looks at, in the user's language."""
    import fairness

    run_id = views.selected_run(lang)
    if run_id is None:
        st.subheader(t("fairness.title", lang))
        st.info(t("fairness.no_run", lang))
        return
    try:
        audit = _fairness(str(views.dataset_dir()), run_id, str(views.engine().url))
    except PlacementError as err:
        st.error(str(err))
        return
    fairness.render(audit, lang)


def retention_page(user: auth.User, lang: str) -> None:
    """Retention of the report year: words, target comparison, tables, charts, downloads."""
    from placement.retention import prepare_persons, report_years

    st.header(t("page.retention", lang))
    folder = str(views.dataset_dir())
    ds = views.dataset(folder)
    if ds.history is None:
        st.info(t("retention.no_history", lang))
        fairness_section(lang)
        return
    years = report_years(prepare_persons(ds.history))  # only the years the data covers
    if not years:
        st.info(t("retention.no_history", lang))
        fairness_section(lang)
        return
    c1, c2 = st.columns(2)
    year = c1.selectbox(t("retention.year", lang), years[::-1], key="ret_year")
    earlier = [y for y in years if y < year]
    baseline = c2.selectbox(t("retention.baseline", lang), [None, *earlier[::-1]],
                            key="ret_baseline",
                            format_func=lambda y: t("whatif.none", lang) if y is None else str(y))
    try:
        content, html_bytes, csv_bytes, name = _report(
            folder, int(year), None if baseline is None else int(baseline), lang)
    except PlacementError as err:
        st.error(str(err))
        return
    st.caption(t("retention.report_language", lang))
    st.subheader(content.title)
    with st.container(border=True):
        for sentence in content.sentences:
            st.markdown(markdown_escape(sentence))
    d1, d2 = st.columns(2)
    d1.download_button(t("retention.download_html", lang), html_bytes, file_name=name,
                       mime="text/html", key="dl_report", on_click="ignore")
    d2.download_button(t("retention.download_csv", lang), csv_bytes,
                       file_name=name.replace(".html", ".csv"), mime="text/csv",
                       key="dl_report_csv", on_click="ignore")
    for heading, frame in content.tables:
        st.markdown(f"**{heading}**")
        st.table(frame.set_index(frame.columns[0]))  # text cells a reader (and test) can see
    for caption, fig in content.charts:
        st.pyplot(fig, clear_figure=False)
        st.caption(caption)
    with st.expander(t("retention.notes", lang)):
        for note in content.notes:
            st.markdown(markdown_escape(note))
    fairness_section(lang)
