"""Pages of the placement app. Thin: every number comes from the placement library."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from placement import auth, planning, store
from placement._errors import PlacementError
from placement.i18n import t

APP_DIR = Path(__file__).resolve().parent
REPO_DEMO = APP_DIR.parent / "data" / "geo" / "demo"


# --- settings ----------------------------------------------------------------------------------
def setting(name: str, default: str) -> str:
    """Read a setting from the environment (``PLACEMENT_<NAME>``)."""
    return os.environ.get(f"PLACEMENT_{name.upper()}", default)


def dataset_dir() -> Path:
    """The dataset the app works on."""
    return Path(setting("dataset", str(REPO_DEMO)))


def policy_name() -> str:
    """The policy preset or file."""
    return setting("policy", "default")


def tiles() -> str | None:
    """Tile source: a preset name, a URL template, or none (vector layers only)."""
    value = setting("tiles", "openstreetmap")
    return None if value.lower() in ("", "none", "off") else value


# --- cached library calls ----------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def engine() -> Any:
    """The database (created/upgraded to the current schema on first use)."""
    from placement import db

    url = os.environ.get("PLACEMENT_DB") or db.default_db_url()
    db.upgrade(url)
    return db.open_engine(url)


@st.cache_resource(show_spinner=False)
def dataset(folder: str) -> Any:
    """The loaded dataset."""
    from placement.dataset import load_dataset

    return load_dataset(folder)


@st.cache_resource(show_spinner=False)
def access(folder: str) -> pd.DataFrame:
    """The accessibility table (disk-cached by the library too)."""
    return planning.accessibility(folder)


@st.cache_resource(show_spinner=False)
def amenities(folder: str) -> Any:
    """Amenities from the dataset's OSM file."""
    from placement.osm import amenities_from_file

    ds = dataset(folder)
    return amenities_from_file(ds.osm_path, boundary=ds.boundary)


@st.cache_resource(show_spinner=False)
def feed(folder: str) -> Any:
    """The GTFS feed, or None."""
    from placement.gtfs import load_gtfs
    from placement.gtfs_area import is_stop_list

    ds = dataset(folder)
    if ds.gtfs_path is None or is_stop_list(ds.gtfs_path):
        return None
    return load_gtfs(ds.gtfs_path, boundary=ds.boundary)


def users() -> auth.UserStore:
    """The users file as it is now (read again whenever it changes: no restart needed)."""
    return auth.users_file(setting("users", "users.toml")).current()


# --- sign-in -----------------------------------------------------------------------------------
def _sso_configured() -> bool:
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, KeyError, AttributeError, st.errors.StreamlitAPIException):
        return False
    except Exception:  # no secrets file at all
        return False


def _client() -> str:
    """The client's address: as Streamlit sees it, or from the proxy when it is trusted.

    Behind a reverse proxy Streamlit sees the proxy's address; with ``PLACEMENT_TRUST_PROXY=1``
    the first address of the proxy's ``X-Forwarded-For`` header is used instead (set it only
    when the proxy overwrites that header, or a client could choose its own address).
    """
    try:
        if setting("trust_proxy", "") == "1":
            forwarded = str(st.context.headers.get("X-Forwarded-For") or "").split(",")[0]
            if forwarded.strip():
                return forwarded.strip()
        return str(st.context.ip_address or "unknown")
    except Exception:  # no request context (e.g. AppTest)
        return "unknown"


def _still_valid(user: auth.User) -> auth.User | None:
    """The signed-in user as the users file has it now; None when removed or re-passworded."""
    current = users()
    fresh = current.current(user)
    known_hash = st.session_state.get("password_hash")
    if fresh is None or (known_hash is not None
                         and current.password_hash(user.username) != known_hash):
        return None
    return fresh


def current_user(lang: str) -> auth.User | None:
    """Return the signed-in user, or show the sign-in form and return None."""
    from placement import signin

    if "user" in st.session_state:
        fresh = _still_valid(st.session_state["user"])
        if fresh is not None:
            st.session_state["user"] = fresh
            return fresh
        sign_out()
        st.warning(t("app.signed_out_changed", lang))
    if _sso_configured():
        if getattr(st.user, "is_logged_in", False):
            found = users().by_email(str(st.user.get("email", "")))
            if found is not None:
                signin.record_sso_sign_in(engine(), found, client=_client())
                st.session_state["user"] = found
                st.session_state.pop("password_hash", None)
                return found
            st.error(t("app.unknown_sso_user", lang))
            return None
        st.button(t("app.sign_in_sso", lang), on_click=st.login, key="sso")
    with st.form("sign_in"):
        username = st.text_input(t("app.username", lang), key="username")
        password = st.text_input(t("app.password", lang), type="password", key="password")
        submitted = st.form_submit_button(t("app.sign_in", lang))
    if submitted:
        result = signin.sign_in(engine(), users(), username, password, client=_client())
        if result.status == "locked":
            minutes = max(1, round(result.retry_after_s / 60))
            st.error(t("app.locked", lang, minutes=minutes))
            return None
        if result.user is None:
            st.error(t("app.wrong_password", lang))
            return None
        st.session_state["user"] = result.user
        st.session_state["password_hash"] = result.password_hash
        st.rerun()
    return None


def sign_out() -> None:
    """Forget the signed-in user."""
    for key in ("user", "password_hash", "run_id", "whatif_result"):
        st.session_state.pop(key, None)


def pages_for(user: auth.User) -> dict[str, Callable[[auth.User, str], None]]:
    """The pages the user's role may open, in menu order."""
    pages: dict[str, Callable[[auth.User, str], None]] = {"review": review_page}
    if user.can("scenarios"):
        pages["whatif"] = whatif_page
    pages["retention"] = retention_page
    pages["export"] = export_page
    return pages


# --- shared pieces -----------------------------------------------------------------------------
def _runs() -> pd.DataFrame:
    from placement import store

    return store.list_runs(engine())


def _selected_run(lang: str) -> int | None:
    runs = _runs()
    base = runs[runs["scenario_id"].isna()] if len(runs) else runs
    if not len(base):
        return None
    ids = base["run_id"].astype(int).tolist()[::-1]
    current = st.session_state.get("run_id")
    index = ids.index(current) if current in ids else 0
    run_id = st.selectbox(t("review.run", lang), ids, index=index, key="run_select")
    st.session_state["run_id"] = run_id
    return int(run_id)


def _plan_from_run(run_id: int) -> tuple[dict[str, Any], pd.DataFrame]:
    from placement import store

    return store.load_run(engine(), run_id)


def _run_summary(run_id: int) -> dict[str, Any]:
    from placement import store

    return store.run_summary(engine(), run_id)


def _metrics(run: dict[str, Any], lang: str) -> None:
    summary = run.get("summary") or {}
    measures = summary.get("measures", {})
    cols = st.columns(4)
    cols[0].metric(t("measure.placed", lang), run.get("n_placed"))
    cols[1].metric(t("measure.unplaced", lang),
                   int(run.get("n_households") or 0) - int(run.get("n_placed") or 0))
    gap = run.get("gap")
    cols[2].metric(t("measure.gap", lang), "–" if gap is None else f"{gap:.2%}")
    served = measures.get("share_near_served_stop")
    cols[3].metric(t("measure.served", lang), "–" if served is None else f"{served:.0%}")


def _area_table(run: dict[str, Any]) -> pd.DataFrame:
    """Per-area persons against cap of a stored run (computed by the library)."""
    return planning.run_area_table(engine(), int(run["run_id"]), dataset(str(dataset_dir())))


def _show_map(proposals: pd.DataFrame | None, areas: pd.DataFrame | None, lang: str,
              key: str, *, households: bool) -> None:
    from streamlit_folium import st_folium

    from placement.mapview import DEFAULT_ASSET_BASE, build_map, install_assets

    folder = str(dataset_dir())
    try:
        install_assets(APP_DIR)
        asset_base: str | None = DEFAULT_ASSET_BASE
    except PlacementError:
        asset_base = None
    m = build_map(dataset(folder), access=access(folder),
                  proposals=proposals if households else None, area_table=areas,
                  amenities=amenities(folder), feed=feed(folder), language=lang,
                  tiles=tiles(), asset_base=asset_base)
    st_folium(m, height=560, use_container_width=True, returned_objects=[], key=key)


# --- pages -------------------------------------------------------------------------------------
def review_page(user: auth.User, lang: str) -> None:
    """Review proposals: filter, sort, decide, re-optimise."""
    st.header(t("page.review", lang))
    run_id = _selected_run(lang)
    if run_id is None:
        st.info(t("review.no_run", lang))
        if user.can("decide") and st.button(t("review.propose", lang), key="propose"):
            with st.spinner(t("whatif.running", lang)):
                plan = planning.plan_with_decisions(engine(), dataset_dir(), policy_name(),
                                                    user=user.username)
                st.session_state["run_id"] = planning.store_plan(engine(), plan,
                                                                 user=user.username)
            st.rerun()
        return
    run = _run_summary(run_id)
    _metrics(run, lang)
    for info in ((run.get("summary") or {}).get("unknown") or {}).values():
        if isinstance(info, dict) and info.get("dwellings_no_data"):
            st.caption(f"{t('field.no_data', lang)}: {info.get('words', '')}")
    areas = _area_table(run)
    if not user.can("households"):
        st.caption(t("review.aggregates_only", lang))
        _show_map(None, areas, lang, "map_review", households=False)
        st.subheader(t("review.areas", lang))
        st.dataframe(areas, hide_index=True, key="areas_table")
        return
    _, proposals = _plan_from_run(run_id)
    status = store.proposal_status(engine(), run_id)
    table = proposals.merge(status, on="household_id", how="left")
    ds = dataset(str(dataset_dir()))
    table = table.merge(ds.dwellings[["dwelling_id", "address", "area_id"]], on="dwelling_id",
                        how="left")
    from placement.config import load_policy
    from placement.score import no_data_for_plan

    table[t("field.no_data", lang)] = no_data_for_plan(
        table, ds.households, access(str(dataset_dir())),
        scoring=load_policy(policy_name()).scoring).to_numpy()
    c1, c2, c3 = st.columns(3)
    statuses = sorted(table["status"].dropna().unique())
    chosen = c1.multiselect(t("review.filter_status", lang), statuses, key="filter_status")
    area_ids = sorted(table["area_id"].dropna().astype(str).unique())
    chosen_areas = c2.multiselect(t("review.filter_area", lang), area_ids, key="filter_area")
    sort_by = c3.selectbox(t("review.sort", lang), ["score", "household_id", "status"],
                           key="sort_by")
    shown = table
    if chosen:
        shown = shown[shown["status"].isin(chosen)]
    if chosen_areas:
        shown = shown[shown["area_id"].astype(str).isin(chosen_areas)]
    shown = shown.sort_values(sort_by, ascending=sort_by != "score", kind="stable")
    _show_map(proposals, areas, lang, "map_review", households=True)
    st.dataframe(shown, hide_index=True, key="proposals_table")
    if user.can("decide"):
        _decision_form(run_id, shown, user, lang)


def _decision_form(run_id: int, shown: pd.DataFrame, user: auth.User, lang: str) -> None:
    placed = shown.dropna(subset=["dwelling_id"])["household_id"].astype(str).tolist()
    with st.form("decide"):
        picked = st.multiselect(t("review.households", lang), placed, key="decide_households")
        action = st.radio(t("review.action", lang), ["approve", "reject", "lock"],
                          horizontal=True, key="decide_action")
        reason = st.text_input(t("review.reason", lang), key="decide_reason")
        submitted = st.form_submit_button(t("review.decide", lang))
    if submitted and picked:
        done = 0
        for household_id in picked:
            try:
                store.decide(engine(), run_id=run_id, household_id=household_id,
                             dwelling_id=None, action=action, user=user.username,
                             reason=reason)
                done += 1
            except PlacementError as err:
                st.error(str(err))
        if done:
            st.success(t("review.decided", lang, n=done))
    if st.button(t("review.reoptimise", lang), key="reoptimise"):
        with st.spinner(t("whatif.running", lang)):
            try:
                _, new_run = planning.reoptimise(engine(), run_id, dataset_dir(), policy_name(),
                                                 user=user.username)
            except PlacementError as err:
                st.error(str(err))
                return
        st.session_state["run_id"] = new_run
        st.success(t("review.new_run", lang, run=new_run))
        st.rerun()


def whatif_page(user: auth.User, lang: str) -> None:
    """Build a scenario, run it and compare it with the base side by side."""
    from placement.config import load_policy
    from placement.scenario import scenario_from_dict

    st.header(t("page.whatif", lang))
    folder = str(dataset_dir())
    ds = dataset(folder)
    policy = load_policy(policy_name())
    fd = feed(folder)
    routes = [] if fd is None else sorted(fd.routes["route_id"].astype(str))
    with st.form("whatif"):
        factor = st.slider(t("whatif.arrivals", lang), 1.0, 3.0, 1.0, 0.25, key="wf_factor")
        route = st.selectbox(t("whatif.cut_route", lang), [t("whatif.none", lang), *routes],
                             key="wf_route")
        area_names = dict(zip(ds.areas["area_id"].astype(str), ds.areas["name"], strict=True))
        cap_area = st.selectbox(t("whatif.cap_area", lang), ["", *area_names],
                                format_func=lambda a: area_names.get(a, t("whatif.none", lang)),
                                key="wf_cap_area")
        cap_share = st.slider(t("whatif.cap_share", lang), 0.0, 0.1,
                              float(policy.rules.max_area_share), 0.005, key="wf_cap_share")
        st.caption(t("whatif.weights", lang))
        cols = st.columns(5)
        weights = {}
        for col, name in zip(cols, ("transit", "community", "family", "anchor", "spread"),
                             strict=True):
            weights[name] = col.slider(t(f"term.{name}", lang), 0.0, 1.0,
                                       float(getattr(policy.weights, name)), 0.05,
                                       key=f"wf_w_{name}")
        submitted = st.form_submit_button(t("whatif.run", lang))
    if submitted:
        changes: list[dict[str, Any]] = []
        if factor != 1.0:
            changes.append({"kind": "arrivals", "factor": factor})
        if route in routes:
            changes.append({"kind": "cut_route", "route_id": route})
        if cap_area:
            changes.append({"kind": "area_cap", "area_id": cap_area, "max_share": cap_share})
        if any(abs(weights[k] - getattr(policy.weights, k)) > 1e-9 for k in weights):
            changes.append({"kind": "weights", **weights})
        definition = {"scenario": {"name": f"what-if by {user.username}", "dataset": folder,
                                   "policy": policy_name()}, "change": changes}
        with st.status(t("whatif.running", lang), expanded=False) as box:
            try:
                scen = scenario_from_dict(definition, base=Path(folder))
                base_plan = _base_plan(folder)
                work = Path(tempfile.mkdtemp(prefix="placement-whatif-"))
                result = planning.run_scenario(scen, work, engine=engine(), user=user.username,
                                               base_access=access(folder))
            except PlacementError as err:
                box.update(state="error")
                st.error(str(err))
                return
            box.update(state="complete")
        table, changed = planning.compare_plans({t("whatif.base", lang): base_plan,
                                                 t("whatif.scenario", lang): result.plan})
        st.session_state["whatif_result"] = {"table": table, "changed": changed,
                                      "areas": (base_plan.area_table, result.plan.area_table)}
    state = st.session_state.get("whatif_result")
    if state:
        left, right = st.columns(2)
        with left:
            st.subheader(t("whatif.base", lang))
            _show_map(None, state["areas"][0], lang, "map_base", households=False)
        with right:
            st.subheader(t("whatif.scenario", lang))
            _show_map(None, state["areas"][1], lang, "map_scenario", households=False)
        st.subheader(t("whatif.measures", lang))
        st.dataframe(state["table"], key="whatif_measures")
        if user.can("households"):
            st.subheader(t("whatif.changed", lang))
            st.dataframe(state["changed"], hide_index=True, key="whatif_changed")
    sweep_section(user, lang)


@st.cache_resource(show_spinner=False)
def _base_plan(folder: str) -> planning.Plan:
    return planning.make_plan(folder, policy_name(), dataset=dataset(folder),
                              access=access(folder))


def retention_page(user: auth.User, lang: str) -> None:
    """Retention by cohort and area, the curves and the report download."""
    from placement.report import write_retention_report
    from placement.retention import retention_summary

    st.header(t("page.retention", lang))
    ds = dataset(str(dataset_dir()))
    if ds.history is None:
        st.info(t("retention.no_history", lang))
        return
    from placement.retention import prepare_persons, report_years

    years = report_years(prepare_persons(ds.history))  # the years the data covers
    if not years:
        st.info(t("retention.no_history", lang))
        return
    c1, c2 = st.columns(2)
    year = c1.selectbox(t("retention.year", lang), years[::-1], key="ret_year")
    earlier = [y for y in years if y < year]
    baseline = c2.selectbox(t("retention.baseline", lang), [None, *earlier[::-1]],
                            key="ret_baseline")
    summary = retention_summary(ds.history, year=int(year), baseline_year=baseline,
                                areas=ds.areas)
    for name, table in summary.tables.items():
        st.subheader(summary.titles.get(name, name))
        st.dataframe(table, hide_index=True, key=f"ret_{name}")
    out = Path(tempfile.mkdtemp(prefix="placement-report-")) / f"retention_{year}.html"
    paths = write_retention_report(ds.history, year=int(year), out=out, baseline_year=baseline,
                                   municipality=ds.manifest.name, areas=ds.areas)
    st.download_button(t("retention.download_html", lang), paths.html.read_bytes(),
                       file_name=paths.html.name, mime="text/html", key="dl_report")
    st.download_button(t("retention.download_csv", lang), paths.csv.read_bytes(),
                       file_name=paths.csv.name, mime="text/csv", key="dl_report_csv")


def _household_file(user: auth.User, run_id: int, kind: str, sep: str) -> Callable[[], bytes]:
    """A generator of a household-level export, run on click for this signed-in user."""
    folder = str(dataset_dir())

    def make() -> bytes:
        # Runs on Streamlit's download thread: check again that this user may have it now.
        current = _still_valid_for_download(user)
        with auth.acting_as(current), tempfile.TemporaryDirectory() as tmp:
            ds = dataset(folder)
            if kind == "csv":
                path = planning.export_run_csv(engine(), run_id, ds,
                                               Path(tmp) / f"proposals_run{run_id}.csv", sep=sep)
            else:
                path = planning.export_run_gpkg(engine(), run_id, ds,
                                                Path(tmp) / f"proposals_run{run_id}.gpkg")
            return path.read_bytes()

    return make


def _still_valid_for_download(user: auth.User) -> auth.User:
    fresh = users().current(user)
    if fresh is None or not fresh.can("households"):
        msg = f"user {user.username} may no longer download household-level files"
        raise auth.PermissionDeniedError(msg)
    return fresh


def export_page(user: auth.User, lang: str) -> None:
    """Downloads: proposals CSV and GeoPackage (coordinators), run summary (everyone)."""
    st.header(t("page.export", lang))
    run_id = _selected_run(lang)
    if run_id is None:
        st.info(t("review.no_run", lang))
        return
    run = _run_summary(run_id)
    if user.can("households"):
        sep = st.radio(t("export.sep", lang), [";", ","], horizontal=True, key="export_sep")
        # Household-level files are made only when the signed-in coordinator clicks: nothing
        # waits at a /media/ address for anyone who might learn it.
        st.download_button(t("export.csv", lang), _household_file(user, run_id, "csv", sep),
                           file_name=f"proposals_run{run_id}.csv", mime="text/csv",
                           key="dl_csv")
        st.download_button(t("export.gpkg", lang), _household_file(user, run_id, "gpkg", sep),
                           file_name=f"proposals_run{run_id}.gpkg",
                           mime="application/geopackage+sqlite3", key="dl_gpkg")
    summary = {k: v for k, v in run.items() if k not in ("policy",)}
    st.download_button(t("export.summary", lang),
                       json.dumps(summary, default=str, indent=2, ensure_ascii=False),
                       file_name=f"run{run_id}_summary.json", mime="application/json",
                       key="dl_summary")


# --- sweeps on the What-if page ------------------------------------------------------------------
#: At most this many runs from the app (larger sweeps: ``placement scenario sweep``).
APP_SWEEP_MAX_RUNS = 16


def _sw(key: str, lang: str, **values: object) -> str:
    return t(f"sweep.{key}", lang, **values)


def sweep_section(user: auth.User, lang: str) -> None:
    """Start a small sweep, show its Pareto front and open a run of it as a scenario."""
    from placement.measures import MEASURES
    from placement.sweep import run_sweep, sweep_from_dict
    from placement.sweep.spec import DEFAULT_OBJECTIVES, MEASURE_DIRECTIONS, WEIGHT_TERMS

    st.divider()
    st.subheader(_sw("title", lang))
    folder = str(dataset_dir())
    fd = feed(folder)
    routes = [] if fd is None else sorted(fd.routes["route_id"].astype(str))
    with st.form("sweep"):
        c1, c2 = st.columns(2)
        term = c1.selectbox(_sw("term", lang), WEIGHT_TERMS, key="sw_term",
                            format_func=lambda name: t(f"term.{name}", lang))
        low, high = c2.slider(_sw("range", lang), 0.0, 1.0, (0.2, 0.6), 0.05, key="sw_range")
        vary_cap = c1.checkbox(_sw("vary_cap", lang), key="sw_vary_cap")
        cap_low, cap_high = c2.slider(_sw("caps", lang), 0.0, 0.1, (0.03, 0.06), 0.005,
                                      key="sw_caps")
        cut = c1.multiselect(_sw("routes", lang), routes, key="sw_routes")
        runs = c2.slider(_sw("runs", lang), 2, APP_SWEEP_MAX_RUNS, 8, key="sw_runs")
        chosen = st.multiselect(_sw("measures", lang), list(MEASURE_DIRECTIONS),
                                default=list(DEFAULT_OBJECTIVES), key="sw_measures",
                                format_func=lambda k: MEASURES[k][0])
        started = st.form_submit_button(_sw("start", lang))
    if started:
        axes: list[dict[str, Any]] = [{"kind": "weight", "term": term, "min": low, "max": high}]
        if vary_cap:
            axes.append({"kind": "cap", "min": cap_low, "max": cap_high})
        if cut:
            axes.append({"kind": "cut_route", "values": ["", *cut]})
        data = {"scenario": {"name": f"sweep by {user.username}", "dataset": folder,
                             "policy": policy_name()},
                "sweep": {"sample": "lhs", "runs": int(runs), "seed": 0}, "axis": axes,
                "pareto": {k: MEASURE_DIRECTIONS[k] for k in chosen}}
        bar = st.progress(0.0)

        def progress(done: int, total: int, record: dict[str, Any]) -> None:
            bar.progress(done / total, text=_sw("running", lang, done=done, total=total))

        try:
            spec = sweep_from_dict(data, folder=Path(folder), source="sweep")
            out = Path(tempfile.mkdtemp(prefix="placement-sweep-"))
            workers = setting("sweep_workers", "")
            result = run_sweep(spec, out, engine=engine(), user=user.username,
                               scheduler=setting("sweep_scheduler", "") or None,
                               workers=int(workers) if workers else None, progress=progress)
        except PlacementError as err:
            st.error(str(err))
            return
        st.session_state["sweep_result"] = {"table": result.table,
                                            "objectives": dict(spec.objectives),
                                            "params": [a.name for a in spec.axes]}
    state = st.session_state.get("sweep_result")
    if state:
        _sweep_front(state, lang)


def _sweep_front(state: dict[str, Any], lang: str) -> None:
    import altair as alt

    from placement import store

    table: pd.DataFrame = state["table"]
    objectives: dict[str, str] = state["objectives"]
    params: list[str] = state["params"]
    keys = list(objectives)
    ok = int((table["status"] == "ok").sum())
    front = table[table["pareto"] == "yes"]
    st.caption(_sw("front", lang, front=len(front), ok=ok))
    failed = int((table["status"] != "ok").sum())
    if failed:
        st.warning(_sw("failed", lang, n=failed))
    unknown = int((table["pareto"] == "unknown").sum())
    if unknown:
        st.info(_sw("unknown", lang, n=unknown))
    shown = table[table["pareto"].isin(["yes", "no"])]
    picked_run = None
    if len(shown) and keys:
        x = keys[0]
        y = keys[1] if len(keys) > 1 else "run"
        pick = alt.selection_point(fields=["run"], name="pick")
        chart = (alt.Chart(shown[["run", *params, *keys, "pareto"]])
                 .mark_circle(size=90)
                 .encode(x=alt.X(x, scale=alt.Scale(zero=False)),
                         y=alt.Y(y, scale=alt.Scale(zero=False)),
                         color=alt.Color("pareto", scale=alt.Scale(
                             domain=["yes", "no"], range=["#d62728", "#9e9e9e"])),
                         tooltip=["run", *params, *keys])
                 .add_params(pick))
        event = st.altair_chart(chart, on_select="rerun", selection_mode="pick",
                                key="sweep_chart", use_container_width=True)
        points = (event.get("selection", {}) or {}).get("pick", []) if event else []
        if points:
            picked_run = points[0].get("run")
    st.dataframe(table[["run", *params, "status", "pareto", *keys, "gap", "error"]],
                 hide_index=True, key="sweep_table")
    stored = table.dropna(subset=["run_id"])
    if not len(stored):
        return
    choices = stored["run"].astype(int).tolist()
    index = choices.index(int(picked_run)) if picked_run in choices else 0
    run_no = st.selectbox(_sw("open", lang), choices, index=index, key="sweep_open",
                          format_func=lambda r: _sw("run", lang, run=r))
    row = stored[stored["run"] == run_no].iloc[0]
    run = _run_summary(int(row["run_id"]))  # aggregates only: open to every role
    scenario = store.load_scenario(engine(), int(row["scenario_id"]))
    st.markdown(f"**{scenario['name']}**")
    _metrics(run, lang)
    definition = scenario["definition"]
    st.caption(_sw("changes", lang))
    st.dataframe(pd.DataFrame(definition.get("change", [])), hide_index=True,
                 key="sweep_changes")
    try:  # counted on the run's own dataset folder (its arrivals, dwellings, areas)
        areas = planning.run_area_table(engine(), int(run["run_id"]))
    except PlacementError as err:
        st.warning(str(err))
        return
    st.dataframe(areas, hide_index=True, key="sweep_areas")
