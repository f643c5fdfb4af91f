"""Review page: this week's batch, the dwellings kept free and why, the expected arrivals.

The Review page calls :func:`batch_section` in one line; the numbers come from
:func:`placement.planning.batch_plan` and :func:`placement.optimizer.weekly.batch_summary`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import streamlit as st

from placement import planning
from placement._errors import PlacementError
from placement.i18n import t
from placement.optimizer.weekly import batch_summary


@st.cache_data(show_spinner=False, max_entries=8)
def _summary(folder: str, policy: str, until: str, scenarios: int, _engine: Any) -> dict:
    plan = planning.batch_plan(folder, policy, until=until, engine=_engine,
                               n_scenarios=scenarios)
    return batch_summary(plan)


def batch_section(user: Any, lang: str, folder: Path, policy: str, engine: Any = None) -> None:
    """Show the weekly batch: placements and waits, kept dwellings with reasons, expected arrivals.

    Household rows are shown only to users who may see households (``user.can("households")``);
    others see the headline, the kept dwellings and the expected arrivals.
    """
    with st.expander(t("batch.title", lang), expanded=False):
        c1, c2 = st.columns(2)
        until = c1.date_input(t("batch.until", lang), value=dt.date.today(), key="batch_until",
                              format="DD.MM.YYYY" if lang == "da" else "YYYY-MM-DD")
        scenarios = int(c2.number_input(t("batch.scenarios", lang), min_value=1, max_value=16,
                                        value=4, step=1, key="batch_scenarios"))
        if not st.button(t("batch.compute", lang), key="batch_compute"):
            return
        try:
            with st.spinner(t("batch.running", lang)):
                s = _summary(str(folder), policy, str(until), scenarios, engine)
        except PlacementError as err:
            st.error(str(err))
            return
        st.write(s["headline"])
        if user.can("households"):
            st.subheader(t("batch.households", lang))
            st.dataframe(s["batch"], hide_index=True, key="batch_table")
        st.subheader(t("batch.kept", lang))
        if len(s["kept"]):
            st.dataframe(s["kept"], hide_index=True, key="batch_kept")
        else:
            st.caption(t("batch.none_kept", lang))
        st.subheader(t("batch.expected", lang))
        st.dataframe(s["expected"], hide_index=True, key="batch_expected")
