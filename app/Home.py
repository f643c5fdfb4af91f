"""The placement app: sign in, then review proposals, run what-ifs, follow retention, export.

Start it with ``placement app`` (or ``streamlit run app/Home.py``). Settings come from the
environment (see the README): ``PLACEMENT_DATASET``, ``PLACEMENT_DB``, ``PLACEMENT_USERS``,
``PLACEMENT_POLICY``, ``PLACEMENT_TILES``. The app computes nothing itself: every number comes
from the ``placement`` library.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

import views

from placement.auth import acting_as
from placement.i18n import LANGUAGES, t

# Never show a traceback (with server paths) to a user, however the app was started.
st.set_option("client.showErrorDetails", "none")
st.set_page_config(page_title="placement", page_icon="🏠", layout="wide")

lang = st.sidebar.selectbox("Sprog / Language", LANGUAGES, key="lang",
                            format_func=lambda code: {"da": "Dansk", "en": "English"}[code])
st.sidebar.markdown(f"**{t('app.title', lang)}**")
# Less padding above the page: the Review page's map, list and card fit 1366x768.
st.markdown("<style>.block-container{padding-top:2.2rem;padding-bottom:1rem}"
            "h2{padding-top:0.2rem !important}</style>", unsafe_allow_html=True)

views.widget_texts(lang)  # Streamlit's own texts (table toolbar, menus) in Danish too
user = views.current_user(lang)
if user is None:
    st.stop()

pages = views.pages_for(user)
keys = list(pages)
# The page survives a language switch (the radio's label changes with the language).
chosen = st.session_state.get("page_choice")
if st.session_state.get("page") not in keys:
    st.session_state["page"] = chosen if chosen in keys else keys[0]
page = st.sidebar.radio(t("app.page", lang), keys, key="page",
                        format_func=lambda key: t(f"page.{key}", lang))
st.session_state["page_choice"] = page
st.sidebar.caption(t("app.signed_in_as", lang, name=user.name, role=t(f"role.{user.role}", lang)))
if st.sidebar.button(t("app.sign_out", lang), key="sign_out"):
    views.sign_out()
    st.rerun()
with acting_as(user):  # the library refuses household rows to a role without them
    pages[page](user, lang)
