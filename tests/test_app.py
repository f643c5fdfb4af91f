"""The Streamlit app through Streamlit's AppTest: sign-in, role limits, decisions, pages.

AppTest cannot look inside ``st_folium``; the map's layers are tested in test_mapview.py
through the library function that builds the ``folium.Map``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from placement import auth, db, planning, store

APP = Path(__file__).resolve().parents[1] / "app" / "Home.py"
PASSWORDS = {"mette": "coordinator-password", "per": "planner-password", "vera": "viewer-password"}


@pytest.fixture(scope="module")
def app_env(tmp_path_factory, demo_plan):
    """A database with one stored run of the demo, and a users file with three roles."""
    folder = tmp_path_factory.mktemp("app")
    url = f"sqlite:///{folder / 'placement.db'}"
    db.upgrade(url)
    run_id = planning.store_plan(db.open_engine(url), demo_plan, user="setup")
    users = folder / "users.toml"
    for name, role in (("mette", "coordinator"), ("per", "planner"), ("vera", "viewer")):
        auth.add_user(users, name, PASSWORDS[name], role)
    return {"url": url, "users": users, "run_id": run_id}


@pytest.fixture
def app(app_env, monkeypatch, demo_dir):
    monkeypatch.setenv("PLACEMENT_DB", app_env["url"])
    monkeypatch.setenv("PLACEMENT_USERS", str(app_env["users"]))
    monkeypatch.setenv("PLACEMENT_DATASET", str(demo_dir))
    monkeypatch.setenv("PLACEMENT_TILES", "none")
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.run()
    return at


def sign_in(at: AppTest, user: str, password: str | None = None) -> AppTest:
    at.text_input(key="username").input(user)
    at.text_input(key="password").input(password or PASSWORDS[user])
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def go(at: AppTest, page: str) -> AppTest:
    at.sidebar.radio(key="page").set_value(page).run()
    assert not at.exception, at.exception
    return at


def table_columns(at: AppTest) -> list[set[str]]:
    return [set(df.value.columns) for df in at.dataframe]


def test_wrong_password_gets_a_plain_message_and_is_logged(app, caplog):
    with caplog.at_level(logging.WARNING, logger="placement.auth"):
        sign_in(app, "mette", "nope")
    assert [e.value for e in app.error] == ["Forkert brugernavn eller adgangskode."]
    assert "failed sign-in for user 'mette'" in caplog.text
    assert len(app.sidebar.radio) == 0  # no page is reachable


def test_coordinator_reviews_and_decides(app, app_env):
    sign_in(app, "mette")
    assert app.sidebar.radio(key="page").options == ["Gennemgang", "Hvad nu hvis",
                                                     "Fastholdelse", "Eksport"]
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Placerede husstande"] == "96"
    assert any({"Husstand", "Status", "Lokalområde", "Score"} <= cols
               for cols in table_columns(app))
    engine = db.open_engine(app_env["url"])
    _, proposals = store.load_run(engine, app_env["run_id"])
    household = sorted(proposals.dropna(subset=["dwelling_id"])["household_id"])[0]
    app.selectbox(key="queue_pick").set_value(household).run()
    assert not app.exception, app.exception
    assert any(f"Husstand {household}" in m.value for m in app.markdown)
    app.text_input(key=f"card_reason_{household}_0").input("fits the family")
    app.button(key=f"card_approve_{household}").click().run()
    assert not app.exception, app.exception
    assert [s.value for s in app.success] == ["1 beslutning(er) gemt."]
    assert any(f"**Husstand {household}** · Godkendt" in m.value for m in app.markdown)
    decisions = store.decisions_for(engine, store.load_run(engine, app_env["run_id"])[0]
                                    ["dataset_id"])
    last = decisions.iloc[-1]
    assert (last["household_id"], last["action"], last["decided_by"]) == (household, "approve",
                                                                         "mette")
    assert last["reason"] == "fits the family"


def _decisions_of(app_env, households: list[str]) -> list[tuple[str, str]]:
    engine = db.open_engine(app_env["url"])
    log = store.decisions_for(engine, store.load_run(engine, app_env["run_id"])[0]["dataset_id"])
    log = log[log["household_id"].isin(households)]
    return list(zip(log["household_id"], log["action"], strict=True))


def test_a_click_on_the_previous_cards_button_decides_nothing(app, app_env):
    # The browser shows the previous card's buttons until the new card arrives: a click on
    # one of them (sent with the household box already changed) must not decide for the
    # household that was on the card before.
    sign_in(app, "mette")
    _, proposals = store.load_run(db.open_engine(app_env["url"]), app_env["run_id"])
    placed = sorted(proposals.dropna(subset=["dwelling_id"])["household_id"])
    was, now = placed[10], placed[11]
    app.selectbox(key="queue_pick").set_value(was).run()
    choose = [b.key for b in app.button if b.key.startswith(f"choose_{was}_")]
    assert choose, "no alternative to choose"
    app.selectbox(key="queue_pick").set_value(now)
    app.button(key=f"card_reject_{was}").click().run()
    assert not app.exception, app.exception
    assert [e.value for e in app.error] == [
        f"Intet er besluttet for {was}: kortet skiftede til {now}, før klikket nåede frem. "
        "Se kortet, og klik igen."]
    assert _decisions_of(app_env, [was, now]) == []
    assert any(f"**Husstand {now}** · Foreslået" in m.value for m in app.markdown)
    # the same for an alternative of the previous card
    app.selectbox(key="queue_pick").set_value(was).run()
    app.selectbox(key="queue_pick").set_value(now)
    app.button(key=choose[0]).click().run()
    assert len(app.error) == 1
    assert _decisions_of(app_env, [was, now]) == []
    # the card's own button decides
    app.button(key=f"card_reject_{now}").click().run()
    assert not app.error
    assert _decisions_of(app_env, [was, now]) == [(now, "reject")]


def test_the_bulk_decision_saves_what_the_form_holds_at_the_click(app, app_env):
    sign_in(app, "mette")
    _, proposals = store.load_run(db.open_engine(app_env["url"]), app_env["run_id"])
    placed = sorted(proposals.dropna(subset=["dwelling_id"])["household_id"])
    chosen = [placed[12], placed[13]]
    app.toggle(key="bulk_open").set_value(True).run()
    version = next(m.key for m in app.multiselect if m.key.startswith("decide_households_"))
    version = version.rsplit("_", 1)[1]
    app.multiselect(key=f"decide_households_{version}").set_value(chosen).run()
    assert app.radio(key=f"decide_action_{version}").value == "approve"
    # changed just before the click, while the page was still drawn with "approve"
    app.radio(key=f"decide_action_{version}").set_value("reject")
    app.text_input(key=f"decide_reason_{version}").input("no lift")
    app.button(key=f"decide_save_{version}").click().run()
    assert not app.exception, app.exception
    assert _decisions_of(app_env, chosen) == [(h, "reject") for h in chosen]
    engine = db.open_engine(app_env["url"])
    log = store.decisions_for(engine, store.load_run(engine, app_env["run_id"])[0]["dataset_id"])
    assert log[log["household_id"].isin(chosen)]["reason"].tolist() == ["no lift", "no lift"]


def test_planner_sees_aggregates_only(app):
    sign_in(app, "per")
    assert "Hvad nu hvis" in app.sidebar.radio(key="page").options
    assert all("household_id" not in cols for cols in table_columns(app))
    assert any({"Lokalområde", "Placerede personer", "Loft (personer)"} <= cols
               for cols in table_columns(app))
    assert len(app.multiselect) == 0  # no decision form
    go(app, "export")
    labels = [b.label for b in app.get("download_button")] if app.get("download_button") else []
    assert "Forslag til sagsbehandling (CSV)" not in str(labels)


def test_viewer_cannot_open_what_if(app):
    sign_in(app, "vera")
    assert app.sidebar.radio(key="page").options == ["Gennemgang", "Fastholdelse", "Eksport"]
    assert all("household_id" not in cols for cols in table_columns(app))


def test_language_switch(app):
    app.sidebar.selectbox(key="lang").set_value("en").run()
    sign_in(app, "per")
    assert app.sidebar.radio(key="page").options == ["Review", "What-if", "Retention", "Export"]


def test_what_if_cut_line_compares_with_base(app):
    sign_in(app, "per")
    go(app, "whatif")
    app.selectbox(key="wf_route").set_value("L201")
    app.button[0].click().run()  # the form's submit button
    assert not app.exception, app.exception
    measures = [tb.value for tb in app.table if tb.value.index.name == "Nøgletal"]
    assert measures, "no measures table"
    table = measures[0]
    assert "Placerede husstande" in table.index
    assert "Objective" not in " ".join(table.index)  # no raw objective value
    assert any(col.startswith("Δ ") for col in table.columns)
    assert table.loc["Placerede husstande", "Enhed"] == "antal"


def test_retention_page_tables_and_downloads(app):
    sign_in(app, "vera")
    go(app, "retention")
    assert len(app.table) >= 2
    shown = " ".join(tb.value.to_string() for tb in app.table)
    assert "<5" in shown  # small counts suppressed on screen as in the downloads
    downloads = app.get("download_button")
    assert len(downloads) == 2
    # the report in the app's language: Danish words, and English after switching
    assert any("Fastholdelse efter integrationsperioden" in h.value for h in app.subheader)
    assert "Personer" in app.table[1].value.columns
    app.sidebar.selectbox(key="lang").select("en").run()
    assert any("Retention after the integration period" in h.value for h in app.subheader)
    assert any("Persons" in tb.value.columns for tb in app.table)


def test_export_page_for_coordinator_offers_csv_gpkg_and_summary(app):
    sign_in(app, "mette")
    go(app, "export")
    assert len(app.get("download_button")) == 3
    assert app.radio(key="export_sep").options == [";", ","]


def test_tracebacks_are_never_shown_to_a_user(app):
    import streamlit as st

    assert st.get_option("client.showErrorDetails") == "none"


def test_household_files_are_made_on_click_only(app):
    sign_in(app, "mette")
    go(app, "export")
    buttons = {b.proto.label: b.proto for b in app.get("download_button")}
    for label in ("Forslag til sagsbehandling (CSV)", "GeoPackage til GIS"):
        assert buttons[label].url == ""  # nothing waits at a /media/ address
        assert buttons[label].HasField("deferred_file_id")


def test_sign_ins_are_logged_and_repeated_failures_lock_out(app, app_env):
    from placement import signin

    engine = db.open_engine(app_env["url"])
    auth.add_user(app_env["users"], "lena", "lena-long-password", "viewer")
    for _ in range(signin.MAX_FAILURES_PER_USER):
        app.text_input(key="username").input("lena")
        app.text_input(key="password").input("wrong")
        app.button[0].click().run()
    sign_in(app, "lena", "lena-long-password")
    assert [e.value for e in app.error][-1].startswith("For mange forkerte forsøg")
    assert len(app.sidebar.radio) == 0
    log = store.audit_entries(engine)
    lena = log[log["entity_id"] == "lena"]["action"].tolist()
    assert lena == ["signin.failed"] * 5 + ["signin.locked"]
    assert "signin.ok" in log["action"].tolist()  # earlier sign-ins of this module


def test_a_removed_user_is_signed_out_without_a_restart(app, app_env, tmp_path, monkeypatch):
    users = tmp_path / "users.toml"
    auth.add_user(users, "tove", "tove-long-password", "coordinator")
    monkeypatch.setenv("PLACEMENT_USERS", str(users))
    sign_in(app, "tove", "tove-long-password")
    assert "Eksport" in app.sidebar.radio(key="page").options
    import tomllib

    import tomli_w

    content = tomllib.loads(users.read_text(encoding="utf-8"))
    content["users"]["tove"]["role"] = "viewer"  # the role changes, the password does not
    users.write_text(tomli_w.dumps(content), encoding="utf-8")
    app.run()
    assert app.sidebar.radio(key="page").options == ["Gennemgang", "Fastholdelse", "Eksport"]
    assert all("household_id" not in cols for cols in table_columns(app))
    auth.remove_user(users, "tove")
    app.run()
    assert not app.exception, app.exception
    assert len(app.sidebar.radio) == 0
    assert [w.value for w in app.warning] == [
        "Du er logget ud, fordi din bruger er ændret eller fjernet."]


def test_what_if_cap_slider_reaches_a_policy_cap_above_ten_percent(app, tmp_path, monkeypatch):
    policy = tmp_path / "wide.toml"
    policy.write_text("[rules]\nmax_area_share = 0.153\n", encoding="utf-8")
    monkeypatch.setenv("PLACEMENT_POLICY", str(policy))
    sign_in(app, "per")
    go(app, "whatif")
    slider = app.slider(key="wf_cap_share")
    assert slider.value == pytest.approx(15.3)
    assert slider.max == pytest.approx(16.0)


def test_a_failing_proposal_or_review_base_is_said_not_thrown(app_env, tmp_path, monkeypatch,
                                                               demo_dir):
    import streamlit as st

    from placement import review
    from placement._errors import DataError, Problem

    def broken(*args, **kwargs):
        raise DataError([Problem("dwellings.csv", 3, "rooms", "rooms must be a number")])

    # no run yet: the Propose button (nothing cached from the other tests' databases)
    st.cache_data.clear()
    st.cache_resource.clear()
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    db.upgrade(url)
    monkeypatch.setenv("PLACEMENT_DB", url)
    monkeypatch.setenv("PLACEMENT_USERS", str(app_env["users"]))
    monkeypatch.setenv("PLACEMENT_DATASET", str(demo_dir))
    monkeypatch.setenv("PLACEMENT_TILES", "none")
    monkeypatch.setattr(planning, "plan_with_decisions", broken)
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.run()
    sign_in(at, "mette")
    go(at, "review")
    at.button(key="propose").click().run()
    assert not at.exception, at.exception
    assert any("rooms must be a number" in e.value for e in at.error)
    # a stored run whose review base cannot be made
    st.cache_data.clear()
    st.cache_resource.clear()
    monkeypatch.setenv("PLACEMENT_DB", app_env["url"])
    monkeypatch.setattr(review, "review_base", broken)
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.run()
    sign_in(at, "mette")
    go(at, "review")
    assert not at.exception, at.exception
    assert any("rooms must be a number" in e.value for e in at.error)
    st.cache_data.clear()
    st.cache_resource.clear()
