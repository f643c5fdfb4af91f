"""The Review page: a work queue of households with map, list and the selected household's card.

Thin: the queue, the card, the alternatives, the checks of a manual assignment and every
sentence come from ``placement.review``; decisions are stored by ``placement.store``. The
queue is a fragment: a decision, a filter or a selection reruns it alone, not the page.
"""

from __future__ import annotations

import time
from typing import Any

import batch
import pandas as pd
import streamlit as st
import views

from placement import auth, planning, review, store
from placement._errors import PlacementError
from placement.decisions import DecisionConflictError, DecisionError
from placement.i18n import markdown_escape, t

#: Height of the map and of the right-hand column (fits 1366x768 below the metrics).
MAP_HEIGHT = 460
LIST_HEIGHT = 165
CARD_HEIGHT = 290
#: The decisions a coordinator can take, in the order the card and the form offer them.
ACTIONS = ("approve", "reject", "lock", "undo")


@st.cache_resource(show_spinner=False, max_entries=4)
def _review_base(folder: str, run_id: int) -> review.ReviewBase:
    """Every eligible pair of the dataset under the run's policy (computed once per run)."""
    run = store.run_summary(views.engine(), run_id)
    return review.review_base(views.dataset(folder), views.access(folder),
                              planning.policy_of_run(run))


def _flash(kind: str, text: str) -> None:
    st.session_state["review_flash"] = (kind, text, time.monotonic())


def _show_flash() -> None:
    flash = st.session_state.pop("review_flash", None)
    if flash:
        kind, text, _ = flash
        {"success": st.success, "error": st.error, "info": st.info}[kind](text)


def _allocations(run_id: int) -> pd.DataFrame:
    """The dwellings held by decisions in the run's municipality (approved, locked)."""
    return store.active_allocations(views.engine(), int(views.run_summary(run_id)["dataset_id"]))


def _decided_context(run_id: int) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """Rejected pairs and held dwellings (dwelling -> household) of the run's municipality."""
    locks, rejected = planning.decisions_for_run(views.engine(), run_id,
                                                 dataset_dir=views.dataset_dir(),
                                                 dataset=views.dataset(str(views.dataset_dir())))
    held = {str(d): str(h) for h, d in zip(locks["household_id"], locks["dwelling_id"],
                                           strict=True)}
    pairs = [(str(h), str(d)) for h, d in zip(rejected["household_id"], rejected["dwelling_id"],
                                              strict=True)]
    return pairs, held


def review_page(user: auth.User, lang: str) -> None:
    """Review proposals: the work queue (map, list, card), decisions, re-optimise."""
    st.header(t("page.review", lang))
    top = st.columns([2, 1, 1, 1, 1])
    with top[0]:
        run_id = views.selected_run(lang)
    if run_id is None:
        st.info(t("review.no_run", lang))
        if user.can("decide") and st.button(t("review.propose", lang), key="propose"):
            with st.spinner(t("whatif.running", lang)):
                try:
                    plan = planning.plan_with_decisions(views.engine(), views.dataset_dir(),
                                                        views.policy_name(),
                                                        user=user.username)
                    new_run = planning.store_plan(views.engine(), plan, user=user.username)
                except PlacementError as err:
                    st.error(str(err))
                    return
                views.open_run(new_run)
            st.rerun()
        return
    changes = st.session_state.get("run_changes")
    if changes and changes.get("run_id") == run_id:
        st.success(changes["text"])
    run = views.run_summary(run_id)
    views.metrics(run, lang, columns=top[1:])
    for info in ((run.get("summary") or {}).get("unknown") or {}).values():
        if isinstance(info, dict) and info.get("dwellings_no_data"):
            st.caption(f"{t('field.no_data', lang)}: {info.get('words', '')}")
    if not user.can("households"):
        areas = views.area_table(run)
        st.caption(t("review.aggregates_only", lang))
        views.show_map(None, areas, lang, "map_review", households=False)
        st.subheader(t("review.areas", lang))
        st.dataframe(views.area_display(areas, lang), hide_index=True, key="areas_table")
        batch.batch_section(user, lang, views.dataset_dir(), views.policy_name(), views.engine())
        return
    work_queue(run_id, user, lang)
    if user.can("decide") and st.button(t("review.reoptimise", lang), key="reoptimise"):
        _reoptimise(run_id, user, lang)
    batch.batch_section(user, lang, views.dataset_dir(), views.policy_name(), views.engine())


def _reoptimise(run_id: int, user: auth.User, lang: str) -> None:
    with st.spinner(t("whatif.running", lang)):
        try:
            _, previous = store.load_run(views.engine(), run_id)
            plan, new_run = planning.reoptimise(views.engine(), run_id, views.dataset_dir(),
                                                views.policy_name(), user=user.username,
                                                dataset=views.dataset(str(views.dataset_dir())),
                                                access=views.access(str(views.dataset_dir())))
        except PlacementError as err:
            st.error(str(err))
            return
    changed = review.run_changes(previous, plan.assignments, lang)
    st.session_state["run_changes"] = {"run_id": new_run, "text": changed["text"]}
    views.open_run(new_run)
    st.rerun()


@st.fragment
def work_queue(run_id: int, user: auth.User, lang: str) -> None:
    """Map, list and card of the selected household; reruns alone on every interaction."""
    with auth.acting_as(views.users().current(user) or user):
        _work_queue(run_id, user, lang)


def _work_queue(run_id: int, user: auth.User, lang: str) -> None:
    folder = str(views.dataset_dir())
    try:
        base = _review_base(folder, run_id)
    except PlacementError as err:
        st.error(str(err))
        return
    _, proposals = store.load_run(views.engine(), run_id)
    status = store.proposal_status(views.engine(), run_id)
    allocations = _allocations(run_id)
    queue = review.work_queue(base, proposals, status, lang, held=allocations)
    _show_flash()

    c1, c2, c3 = st.columns([2, 2, 1])
    statuses = [s for s in review.QUEUE_ORDER if s in set(queue["status"])]
    chosen = c1.multiselect(t("review.filter_status", lang), statuses, key="filter_status",
                            format_func=lambda s: t(f"status.{s}", lang),
                            placeholder=t("widget.choose", lang))
    names = dict(zip(base.dataset.areas["area_id"].astype(str),
                     base.dataset.areas["name"].astype(str), strict=True))
    area_ids = sorted(queue["area_id"].dropna().astype(str).unique(),
                      key=lambda a: names.get(a, a))
    chosen_areas = c2.multiselect(t("review.filter_area", lang), area_ids, key="filter_area",
                                  format_func=lambda a: names.get(a, a),
                                  placeholder=t("widget.choose", lang))
    shown = queue
    if chosen:
        shown = shown[shown["status"].isin(chosen)]
    if chosen_areas:
        shown = shown[shown["area_id"].astype(str).isin(chosen_areas)]
    shown = shown.reset_index(drop=True)

    ids = shown["household_id"].astype(str).tolist()
    previous = st.session_state.get("selected_household")
    selected = previous if previous in ids else None
    box = st.session_state.get("queue_pick")
    focus = False  # chosen outside the map: the map goes to it
    if box in ids and box != previous:  # chosen in the household box
        selected, focus = box, True
    # picked in the list (its selection is known before the list is drawn again); the list
    # then starts anew without a selection (a selection left in it reran the page when it
    # went away, e.g. on opening Export, and cancelled the download clicked there)
    picked = _list_pick(st.session_state.get(_list_key(run_id)), shown)
    if picked:
        st.session_state["queue_list_version"] = st.session_state.get(
            "queue_list_version", 0) + 1
        selected, focus = picked, True

    left, right = st.columns([11, 9])
    with left:
        clicked = _queue_map(base, review.effective(proposals, status, allocations), shown,
                             selected, run_id, lang, focus=focus)
    if clicked in ids and clicked != selected:  # clicked on the map
        selected = clicked
    with right:
        _queue_list(shown, selected, run_id, lang)
        st.session_state["selected_household"] = selected
        st.session_state["queue_pick"] = selected  # before the box exists: allowed
        c3.selectbox(t("review.household_box", lang), ids, key="queue_pick",
                     placeholder=t("widget.choose", lang))
        with st.container(height=CARD_HEIGHT, key="household_card"):
            if selected is None:
                st.caption(t("card.pick", lang))
            else:
                _card(base, proposals, status, allocations, selected, run_id, user, lang)
    if user.can("decide"):
        _bulk_form(run_id, shown, user, lang)


def _queue_map(base: review.ReviewBase, decided: pd.DataFrame, shown: pd.DataFrame,
               selected: str | None, run_id: int, lang: str, *,
               focus: bool = False) -> str | None:
    """The map of the shown households; returns the household clicked on it (or None).

    With ``focus`` (chosen in the list or the box) the map pans and zooms to the selected
    household's proposal through ``st_folium``'s ``center``/``zoom``: the drawn map moves, it
    is not drawn again.
    """
    from placement.mapview import (
        household_at,
        household_view,
        proposal_layer,
        proposal_positions,
    )

    rows = decided[decided["household_id"].isin(set(shown["household_id"]))].drop(
        columns=["manual"])
    rejected, held = _decided_context(run_id)
    alts = review.all_alternatives(base, decided, rejected=rejected, held=held)
    positions = proposal_positions(base.dataset, rows)
    view = st.session_state.get("queue_view")
    if view is None or view.get("run_id") != run_id:
        view = {"run_id": run_id, "center": None, "zoom": None, "n": 0}
    goto = household_view(positions, selected) if focus else None
    if goto is not None:
        # st_folium moves the map only when center or zoom differ from the last ones sent:
        # a zoom a hair off the whole level (Leaflet snaps it) makes every new choice count,
        # also after the user has zoomed out since.
        n = view["n"] + 1
        view = {"run_id": run_id, "center": list(goto[0]), "zoom": goto[1] + (n % 2) * 1e-3,
                "n": n}
    st.session_state["queue_view"] = view
    center, zoom = view["center"], view["zoom"]
    # The base map stays as drawn; the proposals (and the ring of the selected one) come as
    # layers that the map swaps without being drawn again: a decision shows at once.
    # (the ring of the selected household is part of that layer: zooming the drawn map or
    # adding a second layer blanked it in streamlit-folium 0.27)
    layers = [proposal_layer(base.dataset, rows, alts, lang, selected=selected)]
    out = views.show_map(None, views.area_table(views.run_summary(run_id)), lang,
                         f"map_queue_{run_id}", households=False, proposal_legend=True,
                         center=center, zoom=zoom, feature_group=layers,
                         returned=["last_object_clicked"], height=MAP_HEIGHT)
    click = (out or {}).get("last_object_clicked") if isinstance(out, dict) else None
    if not click:
        return None
    marker = (round(float(click["lat"]), 7), round(float(click["lng"]), 7))
    if marker == st.session_state.get("queue_last_click"):
        return None  # the same click as before: the list may have chosen since
    st.session_state["queue_last_click"] = marker
    return household_at(positions, marker[0], marker[1])


def _list_key(run_id: int) -> str:
    return f"queue_{run_id}_{st.session_state.get('queue_list_version', 0)}"


def _list_pick(event: Any, shown: pd.DataFrame) -> str | None:
    """The household of the list's selected row (None when no row is selected)."""
    selection = (event.get("selection") if isinstance(event, dict)
                 else getattr(event, "selection", None))
    rows = (selection.get("rows") if isinstance(selection, dict)
            else getattr(selection, "rows", None))
    rows = list(rows or [])
    if rows and 0 <= int(rows[0]) < len(shown):
        return str(shown["household_id"].iloc[int(rows[0])])
    return None


def _queue_list(shown: pd.DataFrame, selected: str | None, run_id: int, lang: str) -> None:
    """The list of the shown households (a row picked in it selects the household)."""
    display = pd.DataFrame({
        "": ["▶" if h == selected else "" for h in shown["household_id"]],
        t("col.household", lang): shown["household_id"],
        t("col.status", lang): shown["status_text"],
        t("col.persons", lang): shown["persons"],
        t("col.area", lang): shown["area"],
        t("col.score", lang): shown["score_text"],
        t("col.reason", lang): shown["unplaced_reason"].fillna(""),
    })
    st.dataframe(display, hide_index=True, key=_list_key(run_id), on_select="rerun",
                 selection_mode="single-row", height=LIST_HEIGHT, width="stretch")


def _facts(lines: list[tuple[str, str]]) -> str:
    return "\n".join(f"- **{k}:** {markdown_escape(v)}" for k, v in lines)


def _card(base: review.ReviewBase, proposals: pd.DataFrame, status: pd.DataFrame,
          allocations: pd.DataFrame, hid: str, run_id: int, user: auth.User,
          lang: str) -> None:
    rejected, held = _decided_context(run_id)
    card = review.household_card(base, proposals, status, hid, language=lang,
                                 rejected=rejected, held=held, allocations=allocations)
    title = t("card.household", lang, household=markdown_escape(hid))
    st.markdown(f"**{title}** · {card['status_text']} · "
                f"{t('card.score', lang, score=card['score_text'])}")
    c1, c2 = st.columns(2)
    c1.markdown(_facts(card["household"]))
    if card["dwelling_id"] is not None:
        dwelling = markdown_escape(card["dwelling_id"])
        c2.markdown(f"**{t('card.proposed', lang, dwelling=dwelling)}**\n"
                    + _facts(card["dwelling"]))
    st.markdown(f"**{t('card.reason', lang)}:** {markdown_escape(card['reason'])}")
    if card["terms"]:
        st.markdown(" · ".join(f"{name} {value} ({t('card.weight', lang).lower()} {w})"
                               for name, value, w in card["terms"]))
    if user.can("decide"):
        _card_decisions(card, run_id, user, lang)
    st.markdown(f"**{t('card.alternatives', lang)}**")
    alts = card["alternatives"]
    if not len(alts):
        st.caption(t("card.no_alternatives", lang))
    for a in alts.itertuples(index=False):
        diff = a.diff_text or ""
        if pd.notna(a.taken_by):
            taken = t("card.alt_taken", lang, household=markdown_escape(a.taken_by))
            diff = f"{diff}, {taken}".strip(", ")
        line = t("card.alt_line", lang, dwelling=markdown_escape(a.dwelling_id),
                 address=markdown_escape(a.address), area=markdown_escape(a.area) or "–",
                 rooms=int(a.rooms) if pd.notna(a.rooms) else "–",
                 rent=a.rent_text, score=a.score_text, diff=diff or "–")
        c_text, c_btn = st.columns([4, 1])
        c_text.caption(line)
        if user.can("decide"):
            c_btn.button(t("card.choose", lang, dwelling=markdown_escape(a.dwelling_id)),
                         key=f"choose_{hid}_{a.dwelling_id}", on_click=_assign,
                         args=(base, run_id, hid, str(a.dwelling_id), user, lang))
    if card["dwelling_id"] is None:
        st.markdown(f"**{t('card.would_place', lang)}**")
        away = card["one_rule_away"]
        if not len(away):
            st.caption(t("card.nothing_close", lang))
        for rule, group in away.groupby("rule_text", sort=False):
            examples = ", ".join(markdown_escape(d) for d in group["dwelling_id"].head(3))
            st.caption(t("card.would_place_line", lang, n=int(group["n_dwellings"].iloc[0]),
                         rule=rule, examples=examples))


def _card_decisions(card: dict[str, Any], run_id: int, user: auth.User, lang: str) -> None:
    hid = card["household_id"]
    version = st.session_state.get("decision_version", 0)
    st.text_input(t("review.reason", lang), key=f"card_reason_{hid}_{version}")
    cols = st.columns(4)
    reason_key = f"card_reason_{hid}_{version}"
    for col, action in zip(cols, ACTIONS, strict=True):
        col.button(t(f"action.{action}", lang), key=f"card_{action}_{hid}",
                   on_click=_card_decision,
                   args=(run_id, hid, action, card["dwelling_id"], reason_key, user, lang))


def _card_is_current(hid: str, lang: str) -> bool:
    """Whether a click on a button of ``hid``'s card may still decide for ``hid``.

    While the page is drawn again, the browser still shows the previous card's buttons (faded)
    until the new ones arrive; a click on one of them would decide for the household that was
    on the card before, not for the one just chosen. Such a click is refused with a message:
    the household whose card was drawn last, and the one in the household box, must be ``hid``.
    """
    shown = st.session_state.get("selected_household")
    box = st.session_state.get("queue_pick")
    if shown == hid and box in (None, hid):
        return True
    now = box if box not in (None, hid) else shown
    _flash("error", t("review.card_changed", lang, household=markdown_escape(hid),
                      shown=markdown_escape(str(now or "–"))))
    return False


def _card_decision(run_id: int, hid: str, action: str, dwelling_id: str | None,
                   reason_key: str, user: auth.User, lang: str) -> None:
    """Button callback: store the card's decision before the queue is drawn again."""
    if not _card_is_current(hid, lang):
        return
    if action != "undo" and dwelling_id is None:
        _flash("error", t("review.no_proposal", lang, household=markdown_escape(hid)))
        return
    _save(run_id, [hid], action, str(st.session_state.get(reason_key) or ""), user, lang,
          dwelling_id=None if action == "undo" else dwelling_id)


def _save(run_id: int, households: list[str], action: str, reason: str, user: auth.User,
          lang: str, *, dwelling_id: str | None = None) -> int:
    """Store one decision per household; say what happened (conflicts with what to do)."""
    with auth.acting_as(views.users().current(user) or user):
        return _save_as(run_id, households, action, reason, user, lang, dwelling_id=dwelling_id)


def _save_as(run_id: int, households: list[str], action: str, reason: str, user: auth.User,
             lang: str, *, dwelling_id: str | None = None) -> int:
    done = 0
    errors: list[str] = []
    for hid in households:
        try:
            store.decide(views.engine(), run_id=run_id, household_id=hid,
                         dwelling_id=dwelling_id, action=action, user=user.username,
                         reason=reason)
            done += 1
        except DecisionConflictError as err:
            errors.append(review.conflict_words(err, lang))
        except DecisionError as err:
            if action == "undo" and "nothing to undo" in str(err).lower():
                errors.append(t("review.nothing_to_undo", lang,
                                household=markdown_escape(hid)))
            else:
                errors.append(str(err))
        except PlacementError as err:
            errors.append(str(err))
    st.session_state["decision_version"] = st.session_state.get("decision_version", 0) + 1
    if errors:
        _flash("error", " ".join(errors))
    elif done:
        _flash("success", t("review.decided", lang, n=done))
    return done


def _assign(base: review.ReviewBase, run_id: int, hid: str, dwelling_id: str, user: auth.User,
            lang: str) -> None:
    """A manual assignment: checked against every hard rule, stored as an approval.

    The area cap and the building limit count what the run's proposals and the decisions
    already place (the household itself moves, it is not counted twice).
    """
    if not _card_is_current(hid, lang):
        return
    try:
        _, proposals = store.load_run(views.engine(), run_id)
        status = store.proposal_status(views.engine(), run_id)
        decided = review.effective(proposals, status, _allocations(run_id))
        _, held = _decided_context(run_id)
        broken = review.check_assignment(base, hid, dwelling_id, lang, proposals=decided,
                                         held=held)
    except PlacementError as err:
        _flash("error", str(err))
        return
    if broken:
        _flash("error", t("card.breaks", lang, dwelling=markdown_escape(dwelling_id),
                            rules="; ".join(broken)))
    elif _save(run_id, [hid], "approve", t("card.manual_reason", lang), user, lang,
               dwelling_id=dwelling_id):
        _flash("success", t("card.assigned", lang, dwelling=markdown_escape(dwelling_id),
                            household=markdown_escape(hid)))


def _bulk_form(run_id: int, shown: pd.DataFrame, user: auth.User, lang: str) -> None:
    """One decision on several chosen households: said before saving, cleared after."""
    version = st.session_state.get("decision_version", 0)
    if not st.toggle(t("review.bulk", lang), key="bulk_open"):
        return
    with st.container(border=True):
        placed = shown.dropna(subset=["dwelling_id"])["household_id"].astype(str).tolist()
        picked = st.multiselect(t("review.households", lang), placed,
                                key=f"decide_households_{version}",
                                placeholder=t("widget.choose", lang))
        c1, c2 = st.columns(2)
        action = c1.radio(t("review.action", lang), list(ACTIONS),
                          horizontal=True, key=f"decide_action_{version}",
                          format_func=lambda a: t(f"action.{a}", lang))
        c2.text_input(t("review.reason", lang), key=f"decide_reason_{version}")
        if picked:
            st.warning(review.decision_preview(len(picked), str(action), lang))
        st.button(t("review.decide", lang), key=f"decide_save_{version}", disabled=not picked,
                  on_click=_bulk_save, args=(run_id, version, user, lang))


def _bulk_save(run_id: int, version: int, user: auth.User, lang: str) -> None:
    """Button callback: save what the form's fields hold at the click.

    The households, action and reason are read when the button is clicked, not bound when it
    was drawn: a change made just before the click (while the page was still being drawn)
    is what gets saved, as the form shows it.
    """
    picked = [str(h) for h in st.session_state.get(f"decide_households_{version}") or []]
    action = st.session_state.get(f"decide_action_{version}")
    if not picked or action not in ACTIONS:
        return
    reason = str(st.session_state.get(f"decide_reason_{version}") or "")
    _save(run_id, picked, str(action), reason, user, lang)
