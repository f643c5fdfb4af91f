"""Fairness audit page section: render an audit (``placement.fairness``) in Streamlit.

Only a render function; the page that calls it (and caches the audit) lives in the app's views.
"""

from __future__ import annotations

import streamlit as st

from placement.fairness import MEASURES, FairnessAudit


def render(audit: FairnessAudit, validation_words: str = "") -> None:
    """Show an audit: the retention model's validation, the flags and one table per plan.

    Parameters
    ----------
    audit : FairnessAudit
        From :func:`placement.fairness.fairness_audit` or :func:`~placement.fairness.audit_dataset`.
    validation_words : str
        The retention model's out-of-time validation in words, shown beside its figures.
    """
    st.subheader("Fairness audit")
    st.caption("Per household type and step-free need. Each figure says of how many households "
               f"it is; counts below {audit.settings.min_cell} are hidden. Predicted retention "
               "is an association, not a cause.")
    if validation_words:
        st.info(validation_words)
    if audit.flags:
        for flag in audit.flags:
            st.warning(flag)
    else:
        st.success("No disparity beyond the settings.")
    shown = audit.shown()
    shown["measure"] = shown["measure"].map(lambda m: MEASURES[m][2])
    for plan in dict.fromkeys(shown["plan"]):
        st.markdown(f"**{plan}**")
        part = shown.loc[shown["plan"] == plan].drop(columns=["plan"])
        part = part.astype({"value": str, "count": str, "n": str})
        st.dataframe(part, hide_index=True, use_container_width=True)
    if audit.moved:
        st.markdown("; ".join(f"{k}: {v} households get another dwelling"
                              for k, v in audit.moved.items()))
    for note in audit.notes:
        st.caption(note)
