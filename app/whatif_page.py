"""The What-if page: named scenarios that are stored, reopened and compared; sweeps.

Thin: the scenario runs in ``placement.planning``, the lines' names, the measures table in words
and the change per local area come from ``placement.whatif``.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
import views

from placement import auth, planning, store, whatif
from placement._errors import PlacementError
from placement.i18n import local_time, markdown_escape, t


def whatif_page(user: auth.User, lang: str) -> None:
    """Build a named scenario, run and store it; compare any two stored runs."""
    from placement.config import load_policy
    from placement.scenario import scenario_from_dict

    st.header(t("page.whatif", lang))
    folder = str(views.dataset_dir())
    ds = views.dataset(folder)
    policy = load_policy(views.policy_name())
    fd = views.feed(folder)
    routes = dict(whatif.route_choices(fd, lang))
    stored = whatif.stored_scenarios(views.engine())
    form_col, map_col = st.columns([3, 2]) if routes else (st.container(), None)
    if map_col is not None:
        with map_col:  # drawn first: a line clicked here is the form's choice below
            _line_picker(ds, fd, routes, lang)
    with form_col, st.form("whatif"):
        name = st.text_input(t("whatif.name", lang),
                             value=t("whatif.default_name", lang, n=len(stored) + 1),
                             key="wf_name")
        factor = st.slider(t("whatif.arrivals", lang), 1.0, 3.0, 1.0, 0.25, key="wf_factor",
                           format="%.2f")
        route = st.selectbox(t("whatif.cut_route", lang), ["", *routes], key="wf_route",
                             format_func=lambda r: routes.get(r, t("whatif.none", lang)))
        area_names = dict(zip(ds.areas["area_id"].astype(str), ds.areas["name"], strict=True))
        cap_area = st.selectbox(t("whatif.cap_area", lang), ["", *area_names],
                                format_func=lambda a: area_names.get(a, t("whatif.none", lang)),
                                key="wf_cap_area")
        # in percent with one decimal: a stored 0.035 is shown as 3.5 %, never rounded
        share_pct = round(100.0 * float(policy.rules.max_area_share), 1)
        # up to 10 %, or the policy's own cap rounded up to a whole percent when higher
        cap_max = max(10.0, float(math.ceil(round(share_pct, 6))))
        cap_pct = st.slider(t("whatif.cap_share", lang), 0.0, cap_max, share_pct, 0.1,
                            format="%.1f %%", key="wf_cap_share")
        st.caption(t("whatif.cap_zero_note", lang))
        st.caption(t("whatif.weights", lang))
        cols = st.columns(5)
        weights = {}
        for col, term in zip(cols, ("transit", "community", "family", "anchor", "spread"),
                             strict=True):
            weights[term] = col.slider(t(f"term.{term}", lang), 0.0, 1.0,
                                       float(getattr(policy.weights, term)), 0.01,
                                       format="%.2f", key=f"wf_w_{term}")
        submitted = st.form_submit_button(t("whatif.run", lang))
    if submitted:
        changes: list[dict[str, Any]] = []
        if factor != 1.0:
            changes.append({"kind": "arrivals", "factor": factor})
        if route in routes:
            changes.append({"kind": "cut_route", "route_id": route})
        if cap_area:
            changes.append({"kind": "area_cap", "area_id": cap_area,
                            "max_share": round(cap_pct / 100.0, 6)})
        if any(abs(weights[k] - getattr(policy.weights, k)) > 1e-9 for k in weights):
            changes.append({"kind": "weights", **weights})
        label = (name or "").strip() or t("whatif.default_name", lang, n=len(stored) + 1)
        definition = {"scenario": {"name": label, "dataset": folder,
                                   "policy": views.policy_name()}, "change": changes}
        with st.status(t("whatif.running", lang), expanded=False) as box:
            try:
                scen = scenario_from_dict(definition, base=Path(folder))
                work = Path(tempfile.mkdtemp(prefix="placement-whatif-"))
                result = planning.run_scenario(scen, work, engine=views.engine(),
                                               user=user.username,
                                               base_access=views.access(folder))
            except PlacementError as err:
                box.update(state="error")
                st.error(str(err))
                return
            box.update(state="complete")
        st.success(t("whatif.stored_as", lang, name=label, run=result.run_id))
        st.session_state["wf_compare"] = ("base", int(result.run_id))
        stored = whatif.stored_scenarios(views.engine())
    compare_section(stored, user, lang)
    sweep_section(user, lang)


def _line_picker(ds: Any, fd: Any, routes: dict[str, str], lang: str) -> None:
    """The feed's lines on a map: a click on one makes it the line the scenario cuts."""
    import json

    from streamlit_folium import st_folium

    from placement.mapcompare import line_picker_map, picked_route
    from placement.mapview import DEFAULT_ASSET_BASE

    st.markdown(f"**{t('whatif.pick_map', lang)}**")
    if not views.assets_ready():
        st.error(t("map.assets_missing", lang))
        return
    chosen = st.session_state.get("wf_route") or None
    m = line_picker_map(ds, fd, selected=chosen,
                        language=lang, tiles=views.tiles(), asset_base=DEFAULT_ASSET_BASE)
    got = st_folium(m, height=380, use_container_width=True, key="wf_line_map",
                    returned_objects=["last_active_drawing", "last_object_clicked"])
    rid = picked_route(got)
    # a click is new when the line or the point clicked differs from the last one handled
    click = json.dumps([rid, (got or {}).get("last_object_clicked")], sort_keys=True,
                       default=str)
    if rid in routes and click != st.session_state.get("wf_line_click"):
        st.session_state["wf_line_click"] = click
        if rid != chosen:
            st.session_state["wf_route"] = rid
            st.rerun()  # draw the map again with the picked line marked
    if chosen in routes:
        st.caption(t("whatif.picked", lang, name=markdown_escape(routes[chosen])))


def _base_run() -> int | None:
    runs = views.runs()
    base = runs[runs["scenario_id"].isna()] if len(runs) else runs
    return int(base["run_id"].iloc[-1]) if len(base) else None


def compare_section(stored: pd.DataFrame, user: auth.User, lang: str) -> None:
    """Any two of base and stored scenarios: measures in words, maps, change per area."""
    st.subheader(t("whatif.stored", lang))
    if not len(stored):
        st.info(t("whatif.no_scenarios", lang))
        return
    base_run = _base_run()
    options: dict[str, int] = {}
    labels: dict[str, str] = {}
    if base_run is not None:
        options["base"] = base_run
        labels["base"] = t("whatif.base_run", lang, run=base_run)
    for r in stored.itertuples(index=False):
        key = f"run{r.run_id}"
        options[key] = int(r.run_id)
        labels[key] = t("whatif.scenario_label", lang, name=r.name, run=r.run_id,
                        by=r.created_by or "–", when=local_time(r.created_at, lang))
    keys = list(options)
    first, second = st.session_state.pop("wf_compare", (keys[0], keys[-1]))
    if isinstance(second, int):
        second = f"run{second}"
    if first in keys:
        st.session_state["wf_a"] = first
    if second in keys:
        st.session_state["wf_b"] = second
    c1, c2 = st.columns(2)
    a = c1.selectbox(t("whatif.compare_a", lang), keys, key="wf_a",
                     format_func=lambda k: labels[k])
    b = c2.selectbox(t("whatif.compare_b", lang), keys, key="wf_b",
                     index=len(keys) - 1, format_func=lambda k: labels[k])
    run_a, run_b = views.run_summary(options[a]), views.run_summary(options[b])
    name_a, name_b = labels[a], labels[b]
    if name_a == name_b:
        name_b = f"{name_b} "
    areas_a, areas_b = views.area_table(run_a), views.area_table(run_b)
    table = whatif.measures_table({
        name_a: (run_a.get("summary") or {}).get("measures", {}),
        name_b: (run_b.get("summary") or {}).get("measures", {})}, lang,
        areas={name_a: areas_a, name_b: areas_b})
    st.table(table.set_index(table.columns[0]))  # text a reader (and a test) can see
    st.markdown(f"**{t('whatif.difference', lang)}**")
    diff = whatif.area_changes(areas_a, areas_b)
    st.dataframe(pd.DataFrame({
        t("col.area", lang): diff["name"],
        name_a: diff["persons_before"].astype("Int64"),
        name_b: diff["persons_after"].astype("Int64"),
        t("field.change", lang): [f"{int(v):+d}" if pd.notna(v) else "–"
                                  for v in diff["change"]],
    }), hide_index=True, key="whatif_area_changes")
    _difference_map(stored, options[a], options[b], diff, user, lang)
    left, right = st.columns(2)
    left.caption(name_a)
    right.caption(name_b)
    views.show_synced_maps(areas_a, areas_b, lang, f"map_synced_{options[a]}_{options[b]}")
    if user.can("households"):
        from placement.measures import changed_proposals

        _, props_a = store.load_run(views.engine(), options[a])
        _, props_b = store.load_run(views.engine(), options[b])
        changed = changed_proposals({name_a: props_a, name_b: props_b})
        st.markdown(f"**{t('whatif.changed', lang)}**")
        st.dataframe(changed, hide_index=True, key="whatif_changed")


def _difference_map(stored: pd.DataFrame, run_a: int, run_b: int, diff: pd.DataFrame,
                    user: auth.User, lang: str) -> None:
    """One map of the change: areas by persons placed, the lines the second run cuts (and the
    first does not) drawn as removed, and (for a role that sees households) the dwellings
    whose household changed."""
    from streamlit_folium import st_folium

    from placement.mapcompare import changed_dwellings, cut_routes, difference_map
    from placement.mapview import DEFAULT_ASSET_BASE

    st.markdown(f"**{t('whatif.difference_map', lang)}**")
    if not views.assets_ready():
        st.error(t("map.assets_missing", lang))
        return
    scenario_of = dict(zip(stored["run_id"].astype(int), stored["scenario_id"].astype(int),
                           strict=True))

    def cuts(run_id: int) -> set[str]:
        if run_id not in scenario_of:
            return set()
        return set(cut_routes(store.load_scenario(views.engine(),
                                                  scenario_of[run_id])["definition"]))

    removed = sorted(cuts(run_b) - cuts(run_a))
    changed = None
    if user.can("households"):  # where households moved is household-level
        _, props_a = store.load_run(views.engine(), run_a)
        _, props_b = store.load_run(views.engine(), run_b)
        changed = changed_dwellings(props_a, props_b)
    folder = str(views.dataset_dir())
    m = difference_map(views.dataset(folder), diff, changed,
                       feed=views.feed(folder) if removed else None, cut=removed,
                       language=lang, tiles=views.tiles(), asset_base=DEFAULT_ASSET_BASE)
    st_folium(m, height=420, use_container_width=True, returned_objects=[],
              key=f"map_difference_{run_a}_{run_b}")


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
    folder = str(views.dataset_dir())
    fd = views.feed(folder)
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
                             "policy": views.policy_name()},
                "sweep": {"sample": "lhs", "runs": int(runs), "seed": 0}, "axis": axes,
                "pareto": {k: MEASURE_DIRECTIONS[k] for k in chosen}}
        bar = st.progress(0.0)

        def progress(done: int, total: int, record: dict[str, Any]) -> None:
            bar.progress(done / total, text=_sw("running", lang, done=done, total=total))

        try:
            spec = sweep_from_dict(data, folder=Path(folder), source="sweep")
            out = Path(tempfile.mkdtemp(prefix="placement-sweep-"))
            workers = views.setting("sweep_workers", "")
            result = run_sweep(spec, out, engine=views.engine(), user=user.username,
                               scheduler=views.setting("sweep_scheduler", "") or None,
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
    run = views.run_summary(int(row["run_id"]))  # aggregates only: open to every role
    scenario = store.load_scenario(views.engine(), int(row["scenario_id"]))
    st.markdown(f"**{markdown_escape(scenario['name'])}**")
    views.metrics(run, lang)
    definition = scenario["definition"]
    st.caption(_sw("changes", lang))
    st.dataframe(pd.DataFrame(definition.get("change", [])), hide_index=True,
                 key="sweep_changes")
    areas = views.area_table(run)
    st.dataframe(views.area_display(areas, lang), hide_index=True, key="sweep_areas")
