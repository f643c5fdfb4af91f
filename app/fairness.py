"""Fairness audit section: an audit (``placement.fairness``) in the user's language.

Only rendering: the audit is computed by the library (the Retention page caches it). Every
label, measure, group, flag sentence and note goes through :mod:`placement.i18n`; numbers
through its number and percent helpers. Suppressed cells stay ``<5``; unknown stays unknown.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import streamlit as st

from placement.fairness import MEASURES, FairnessAudit
from placement.i18n import markdown_escape, number, percent, t
from placement.retention_rates import suppressed_label
from placement.score import PAIR_TERMS

#: Measures that apply to households with children only.
_FAMILY_MEASURES = ("mean_family", "families_daycare_school_15min")


def measure_label(measure: str, lang: str) -> str:
    """Return the name of an audit measure in ``lang``."""
    if measure.startswith("mean_") and measure[5:] in PAIR_TERMS:
        return t("fairness.m.mean_term", lang, term=t(f"term.{measure[5:]}", lang))
    return t(f"fairness.m.{measure}", lang)


def group_label(group: str, lang: str) -> str:
    """Return the name of a group (household type, step-free need) in ``lang``."""
    key = f"fairness.group.{group}"
    try:
        return t(key, lang)
    except KeyError:  # a household type the data brings: shown as it is
        return str(group)


def plan_label(plan: str, lang: str) -> str:
    """Return a plan's name in ``lang`` (``run 3`` is ``kørsel 3`` in Danish)."""
    m = re.fullmatch(r"run (\d+)", str(plan))
    return t("fairness.run_plan", lang, run=m.group(1)) if m else str(plan)


def value_text(measure: str, value: float, lang: str) -> str:
    """Return one figure of the audit for people (percent for shares)."""
    if measure == "weeks_waited":
        return number(value, lang, digits=1, unit=t("fairness.weeks", lang))
    if MEASURES[measure][0] == "share":
        return percent(value, lang)
    return number(value, lang, digits=2)


def _cell(measure: str, value: Any, n: Any, group: str, lang: str) -> str:
    if isinstance(value, str):  # suppressed
        return value
    if value is None or (isinstance(value, float) and pd.isna(value)):
        if measure in _FAMILY_MEASURES and group in ("single", "couple"):
            return t("field.not_applicable", lang)
        return t("field.no_data", lang)
    n_text = n if isinstance(n, str) else number(n, lang)
    return t("fairness.of", lang, value=value_text(measure, float(value), lang), n=n_text)


def flag_sentences(audit: FairnessAudit, lang: str) -> list[str]:
    """Return every flag of the audit as a sentence in ``lang``."""
    out = []
    for f in audit.flag_records():
        measure, diff = f["measure"], f["difference"]
        if measure == "weeks_waited":
            x = number(abs(diff), lang, digits=1, unit=t("fairness.weeks", lang))
            gap = t("fairness.more_weeks" if diff > 0 else "fairness.less_weeks", lang, x=x)
        else:
            x = (percent(abs(diff), lang, points=True) if MEASURES[measure][0] == "share"
                 else number(abs(diff), lang, digits=2))
            gap = t("fairness.higher" if diff > 0 else "fairness.lower", lang, x=x)
        out.append(t("fairness.flag", lang, plan=plan_label(f["plan"], lang),
                     group=group_label(str(f["group"]), lang),
                     measure=measure_label(measure, lang),
                     value=value_text(measure, f["value"], lang), n=number(f["n"], lang),
                     ref=value_text(measure, f["reference"], lang), gap=gap))
    return out


def validation_sentence(validation: Any, lang: str) -> str:
    """Return the retention model's out-of-time validation in ``lang`` ("" without a model)."""
    if validation is None:
        return ""
    p = validation.pooled
    if not p.get("n"):
        return t("fairness.not_validated", lang)
    cohorts = ", ".join(str(c) for c in p.get("cohorts") or [])
    return t("fairness.validation", lang, n=number(p["n"], lang), cohorts=cohorts,
             auc=number(p["auc"], lang, digits=2), brier=number(p["brier"], lang, digits=3),
             brier_base=number(p["brier_base"], lang, digits=3),
             skill=percent(p["skill"], lang, digits=1, signed=True),
             verdict=t("fairness.better" if validation.better_than_base
                       else "fairness.not_better", lang))


_NOTES = (
    (re.compile(r"Weeks waited are unknown"), "fairness.note.weeks", None),
    (re.compile(r"No residence history"), "fairness.note.no_history", None),
    (re.compile(r"No retention model"), "fairness.note.no_model", None),
    (re.compile(r"Cohort (\d+) not tested"), "fairness.note.cohort", "year"),
    (re.compile(r"(\d+) persons with an ended period were left out"), "fairness.note.left_out",
     "n"),
    (re.compile(r"Fewer than (\d+) persons with an ended period were left out"),
     "fairness.note.left_out_few", "n"),
    (re.compile(r"The model predicts staying better"), "fairness.note.better", None),
    (re.compile(r"The model does not predict staying better"), "fairness.note.not_better",
     None),
    (re.compile(r"No cohort could be tested"), "fairness.note.none_tested", None),
)


def note_sentence(note: str, lang: str) -> str:
    """Return one of the audit's notes in ``lang`` (an unforeseen one is marked as English)."""
    for pattern, key, field in _NOTES:
        m = pattern.match(note)
        if m:
            if field is None:
                return t(key, lang)
            value = m.group(1)
            return t(key, lang, **{field: number(int(value), lang) if field == "n" else value})
    return t("fairness.note.other", lang, text=note)


def tables(audit: FairnessAudit, lang: str) -> list[tuple[str, pd.DataFrame]]:
    """Return one text table per plan and dimension: a row per measure, a column per group."""
    shown = audit.shown()
    out = []
    for plan in dict.fromkeys(shown["plan"]):
        sub = shown.loc[shown["plan"] == plan]
        for dim in dict.fromkeys(sub["dimension"]):
            d = sub.loc[sub["dimension"] == dim]
            groups = [str(g) for g in dict.fromkeys(d["group"])]
            rows = []
            for measure in MEASURES:
                m = d.loc[d["measure"] == measure].set_index("group")
                rows.append([measure_label(measure, lang), *(
                    _cell(measure, m.at[g, "value"], m.at[g, "n"], g, lang) for g in groups)])
            frame = pd.DataFrame(rows, columns=[t("fairness.measure", lang),
                                                *[group_label(g, lang) for g in groups]])
            out.append((f"{plan_label(str(plan), lang)} — {t(f'fairness.dim.{dim}', lang)}",
                        frame))
    return out


def render(audit: FairnessAudit, lang: str = "da") -> None:
    """Show an audit: the model's validation, the flags, one table per plan and dimension.

    Parameters
    ----------
    audit : FairnessAudit
        From the library (:func:`placement.fairness_plans.audit_dataset` or
        :func:`placement.fairness_plans.audit_plans`); its ``validation`` gives the model's figures.
    lang : str
        ``"da"`` or ``"en"``.
    """
    st.subheader(t("fairness.title", lang))
    st.caption(t("fairness.caption", lang, k=audit.settings.min_cell,
                 label=suppressed_label(audit.settings.min_cell)))
    words = validation_sentence(audit.validation, lang)
    if words:
        st.info(words)
    st.markdown(f"**{t('fairness.flags', lang)}**")
    flags = flag_sentences(audit, lang)
    for flag in flags:
        st.warning(flag)
    if not flags:
        st.success(t("fairness.no_flags", lang))
    for heading, frame in tables(audit, lang):
        st.markdown(f"**{markdown_escape(heading)}**")
        st.table(frame.set_index(frame.columns[0]))  # text cells a reader (and test) can see
    if audit.moved:
        ref = plan_label(str(audit.table["plan"].iloc[0]), lang)
        for name, n in audit.moved.items():
            shown_n = number(n, lang) if not 0 < n < audit.settings.min_cell \
                else audit.moved_text(name)
            st.markdown(markdown_escape(t("fairness.moved", lang, plan=plan_label(name, lang),
                                          n=shown_n, ref=ref)))
    for note in audit.notes:
        st.caption(markdown_escape(note_sentence(note, lang)))
