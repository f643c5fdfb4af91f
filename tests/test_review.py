"""The work queue's library: rules per pair, real alternatives, one rule away, the card."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from placement import review
from placement.i18n import kroner, local_time, number, percent


@pytest.fixture(scope="module")
def base(demo_plan):
    return review.review_base(demo_plan.dataset, demo_plan.access, demo_plan.policy)


@pytest.fixture(scope="module")
def plan(demo_plan):
    return demo_plan.assignments[["household_id", "dwelling_id", "score", "transit",
                                  "community", "family", "anchor", "unplaced_reason"]].copy()


def proposed_status(plan: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"household_id": plan["household_id"].astype(str),
                         "status": np.where(plan["dwelling_id"].isna(), "unplaced",
                                            "proposed")})


def test_rule_masks_give_exactly_the_eligible_dwellings(base):
    inst = base.inst
    for h, hid in enumerate(inst.hh_ids.astype(str)):
        masks = review.rule_masks(base, hid)
        ok = np.logical_and.reduce(list(masks.values())) if masks else np.ones(
            inst.n_dwellings, bool)
        assert set(np.flatnonzero(ok)) == set(inst.pair_d[inst.pair_h == h]), hid


def test_alternatives_are_the_optimisers_and_meet_every_rule(base, plan, demo_plan):
    got = review.all_alternatives(base, plan)
    want = demo_plan.proposal.alternatives
    cols = ["household_id", "rank", "dwelling_id"]
    a = got[cols].astype(str).sort_values(cols).reset_index(drop=True)
    b = want[cols].astype(str).sort_values(cols).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    np.testing.assert_allclose(got.sort_values(cols)["score"].to_numpy(),
                               want.sort_values(cols)["score"].to_numpy())
    assert (got.groupby("household_id").size() <= base.policy.solver.alternatives).all()
    for row in got.head(40).itertuples(index=False):
        assert review.check_assignment(base, row.household_id, row.dwelling_id) == []
        mine = plan.set_index("household_id").loc[row.household_id, "dwelling_id"]
        assert row.dwelling_id != mine
    # one household at a time gives the same rows
    one = review.alternatives(base, plan, str(plan["household_id"].iloc[0]))
    same = got[got["household_id"] == str(plan["household_id"].iloc[0])]
    assert one["dwelling_id"].tolist() == same["dwelling_id"].tolist()


def test_rejected_and_held_dwellings_are_never_offered(base, plan):
    hid = str(plan["household_id"].iloc[0])
    first = review.alternatives(base, plan, hid)
    top = str(first["dwelling_id"].iloc[0])
    again = review.alternatives(base, plan, hid, rejected=[(hid, top)])
    assert top not in set(again["dwelling_id"])
    held = review.alternatives(base, plan, hid, held={top: "H9999"})
    assert top not in set(held["dwelling_id"])
    mine = review.alternatives(base, plan, hid, held={top: hid})
    assert top in set(mine["dwelling_id"])


def test_score_diff_is_against_the_proposed_dwelling(base, plan):
    got = review.all_alternatives(base, plan)
    scores = plan.set_index(plan["household_id"].astype(str))["score"]
    diff = got["score"] - got["household_id"].map(scores)
    np.testing.assert_allclose(got["score_diff"].to_numpy(), diff.to_numpy(), atol=1e-9)


def test_a_dwelling_one_rule_away_fails_exactly_that_rule(base):
    inst = base.inst
    checked = 0
    for hid in inst.hh_ids.astype(str)[:30]:
        away = review.one_rule_away(base, hid, language="en")
        for row in away.itertuples(index=False):
            broken = review.check_assignment(base, hid, row.dwelling_id, "en")
            assert broken == [row.rule_text]
            checked += 1
    assert checked > 0


def test_check_assignment_names_the_broken_rule(base):
    inst = base.inst
    h = int(np.argmax(inst.persons))
    hid = str(inst.hh_ids[h])
    small = int(np.argmin(inst.rooms))
    words = review.check_assignment(base, hid, str(inst.dw_ids[small]), "en")
    assert any("rooms" in w and f"{int(inst.persons[h])} persons" in w for w in words)
    with pytest.raises(KeyError):
        review.check_assignment(base, hid, "no-such-dwelling")


def test_work_queue_lists_every_household_unplaced_first(base, plan):
    p = plan.copy()
    p.loc[p.index[5], "dwelling_id"] = None
    p.loc[p.index[5], "unplaced_reason"] = "no dwelling with 4 or more rooms"
    p.loc[p.index[5], "score"] = np.nan
    status = proposed_status(p)
    status.loc[status.index[7], "status"] = "approved"
    q = review.work_queue(base, p, status, "da")
    assert sorted(q["household_id"]) == sorted(p["household_id"].astype(str))
    assert q["status"].iloc[0] == "unplaced"
    assert q["status_text"].iloc[0] == "Uplaceret"
    assert q["score_text"].iloc[0] == "ingen data"  # unknown, never 0
    assert q["status"].iloc[-1] == "approved"
    proposed = q[q["status"] == "proposed"]["score"].to_numpy()
    assert (np.diff(proposed) >= 0).all()  # the weakest proposals first


def test_a_manual_assignment_replaces_the_proposal_in_queue_and_card(base, plan):
    hid = str(plan["household_id"].iloc[0])
    alt = review.alternatives(base, plan, hid).iloc[0]
    held = pd.DataFrame({"household_id": [hid], "dwelling_id": [alt["dwelling_id"]],
                         "action": ["approve"]})
    status = proposed_status(plan)
    q = review.work_queue(base, plan, status, held=held).set_index("household_id")
    assert q.loc[hid, "dwelling_id"] == alt["dwelling_id"]
    assert q.loc[hid, "status"] == "approved"
    assert q.loc[hid, "score"] == pytest.approx(alt["score"])
    card = review.household_card(base, plan, status, hid, allocations=held, language="en")
    assert card["dwelling_id"] == alt["dwelling_id"]
    assert card["status"] == "approved"
    assert card["reason"] == "Assigned by hand (meets every rule)."
    assert alt["dwelling_id"] not in set(card["alternatives"]["dwelling_id"])


def test_card_says_the_household_dwelling_terms_and_reason(base, plan, demo_plan):
    hid = str(plan["household_id"].iloc[0])
    card = review.household_card(base, plan, proposed_status(plan), hid, language="da")
    facts = dict(card["household"])
    hh = demo_plan.dataset.households.set_index("household_id").loc[hid]
    assert facts["Personer"] == str(int(hh["persons"]))
    assert facts["Ankomst"] == local_time(hh["arrival_date"], "da", date_only=True)
    dwelling = dict(card["dwelling"])
    dw = demo_plan.dataset.dwellings.set_index("dwelling_id").loc[card["dwelling_id"]]
    assert dwelling["Husleje"] == kroner(dw["rent_dkk"], "da", per_month=True)
    assert dwelling["Areal"].endswith("m²")
    terms = {name: value for name, value, _ in card["terms"]}
    assert terms["Kollektiv trafik"].endswith("%")
    assert card["reason"]
    assert len(card["alternatives"]) == base.policy.solver.alternatives


def test_unplaced_card_says_why_and_what_would_place_it(base, plan):
    p = plan.copy()
    hid = str(p["household_id"].iloc[3])
    p.loc[p.index[3], ["dwelling_id", "unplaced_reason"]] = [None, "every dwelling is taken"]
    card = review.household_card(base, p, proposed_status(p), hid, language="en")
    assert card["dwelling_id"] is None
    assert card["reason"] == "every dwelling is taken"
    assert isinstance(card["one_rule_away"], pd.DataFrame)
    assert len(card["alternatives"])  # every dwelling it may get is listed, none proposed
    assert card["alternatives"]["score_diff"].isna().all()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([None, "D1", "D2", "D3"]),
                          st.sampled_from([None, "D1", "D2", "D3"])), min_size=1, max_size=12))
def test_run_changes_count_every_household_once(pairs):
    ids = [f"H{i}" for i in range(len(pairs))]
    old = pd.DataFrame({"household_id": ids, "dwelling_id": [a for a, _ in pairs]})
    new = pd.DataFrame({"household_id": ids, "dwelling_id": [b for _, b in pairs]})
    c = review.run_changes(old, new, "en")
    both_none = sum(a is None and b is None for a, b in pairs)
    assert c["kept"] + c["moved"] + c["newly_placed"] + c["now_unplaced"] + both_none == len(
        pairs)
    assert c["kept"] == sum(a is not None and a == b for a, b in pairs)
    assert f"{c['kept']} kept" in c["text"]


def test_decision_words():
    assert review.decision_preview(3, "reject", "da") == "3 husstand(e) bliver afvist"
    assert review.decision_preview(3, "reject", "en") == "3 household(s) will be rejected"

    class Conflict:
        dwelling_id, household_id = "D2", "H2"
        holder_household_id, holder_dwelling_id = "H1", "D2"
        decided_by = "anna"
        decided_at = pd.Timestamp("2026-07-01 10:00", tz="UTC")

    text = review.conflict_words(Conflict(), "da")
    assert "H1" in text
    assert "Fortryd" in text
    assert "1. jul. 2026 12:00" in text  # Copenhagen summer time


def test_numbers_and_dates_for_people():
    assert number(1234.56, "da", digits=1) == "1.234,6"
    assert number(1234.56, "en", digits=1) == "1,234.6"
    assert number(None, "da") == "ingen data"
    assert number(float("nan"), "en") == "no data"
    assert percent(0.8529, "da") == "85 %"
    assert percent(0.8529, "en") == "85%"
    assert percent(0.035, "da", digits=1) == "3,5 %"
    assert percent(0.0, "da", signed=True, points=True) == "±0 point"
    assert kroner(7500, "da", per_month=True) == "7.500 kr./md."
    assert kroner(float("inf"), "en") == "no limit"
    assert local_time(pd.Timestamp("2026-01-15 12:00", tz="UTC"), "da") == "15. jan. 2026 13:00"
    assert local_time(pd.Timestamp("2026-07-15 12:00", tz="UTC"), "en") == "15 Jul 2026 14:00"
    assert local_time("2026-03-02", "da", date_only=True) == "2. mar. 2026"


def test_every_score_term_has_a_label_in_both_languages():
    from placement.i18n import LABELS, LANGUAGES
    from placement.score import PAIR_TERMS

    for term in (*PAIR_TERMS, "spread"):
        assert set(LABELS[f"term.{term}"]) >= set(LANGUAGES), term


def _with(base, *, caps=None, **rules):
    import dataclasses
    inst = base.inst if caps is None else dataclasses.replace(base.inst, area_cap=caps)
    pol = base.policy.with_overrides(rules=rules) if rules else base.policy
    return review.ReviewBase(inst=inst, policy=pol, dataset=base.dataset)


def test_a_dwelling_in_a_full_area_is_refused_and_not_offered(base, plan, demo_plan):
    ds = demo_plan.dataset
    persons = dict(zip(ds.households["household_id"].astype(str), ds.households["persons"],
                       strict=True))
    area_of = dict(zip(ds.dwellings["dwelling_id"].astype(str),
                       ds.dwellings["area_id"].astype("string"), strict=True))
    placed = plan.dropna(subset=["dwelling_id"])
    for hid, mine in zip(placed["household_id"].astype(str), placed["dwelling_id"].astype(str),
                         strict=True):
        alts = review.alternatives(base, plan, hid)
        other = [d for d in alts["dwelling_id"] if pd.notna(area_of[d])
                 and area_of[d] != area_of[mine]]
        if other:
            break
    target = other[0]
    area = str(area_of[target])
    # independent count: persons the other households are proposed in that area
    others = sum(int(persons[h]) for h, d in zip(placed["household_id"].astype(str),
                                                   placed["dwelling_id"].astype(str),
                                                   strict=True)
                 if h != hid and str(area_of[d]) == area)
    a = list(base.inst.area_ids.astype(str)).index(area)
    cap = base.inst.area_cap.astype(float).copy()
    cap[a] = others + int(persons[hid]) - 1  # one person short
    full = _with(base, caps=cap)
    words = review.check_assignment(full, hid, target, "en", proposals=plan)
    assert any("cap" in w for w in words), words
    words_da = review.check_assignment(full, hid, target, "da", proposals=plan)
    assert any("loftet" in w for w in words_da), words_da
    listed = review.alternatives(full, plan, hid, k=10_000)
    assert not any(str(area_of[d]) == area for d in listed["dwelling_id"])
    every = review.all_alternatives(full, plan, k=10_000)
    mine_rows = every[every["household_id"] == hid]
    assert mine_rows["dwelling_id"].tolist() == listed["dwelling_id"].tolist()
    # one person more room: allowed again, and listed
    cap[a] += 1
    roomy = _with(base, caps=cap)
    assert review.check_assignment(roomy, hid, target, "en", proposals=plan) == []
    assert target in set(review.alternatives(roomy, plan, hid, k=10_000)["dwelling_id"])
    # without the cap rule the area does not matter
    off = _with(base, caps=cap - 1, area_cap=False)
    assert review.check_assignment(off, hid, target, "en", proposals=plan) == []


def test_a_full_building_is_refused_and_not_offered(base, plan):
    inst = base.inst
    placed = plan.dropna(subset=["dwelling_id"])
    import dataclasses
    hid = str(placed["household_id"].iloc[0])
    mine = str(placed["dwelling_id"].iloc[0])
    d = str(review.alternatives(base, plan, hid)["dwelling_id"].iloc[0])
    mate = next(str(x) for x in inst.dw_ids if str(x) not in (d, mine))
    # the demo's dwellings are each their own building: put ``mate`` in the building of ``d``
    building = inst.dw_building.copy()
    building[base.dwelling_pos(mate)] = building[base.dwelling_pos(d)]
    shared = review.ReviewBase(inst=dataclasses.replace(inst, dw_building=building),
                               policy=base.policy, dataset=base.dataset)
    one = _with(shared, max_households_per_building=1)
    solo = plan[plan["household_id"].astype(str) == hid]  # nobody else placed
    assert review.check_assignment(one, hid, d, "en", proposals=solo) == []
    assert d in set(review.alternatives(one, solo, hid, k=10_000)["dwelling_id"])
    # another household holds a dwelling in the same building: the building is full
    neighbour = next(h for h in placed["household_id"].astype(str) if h != hid)
    held = {mate: neighbour}
    words = review.check_assignment(one, hid, d, "en", proposals=solo, held=held)
    assert words == ["at most 1 households in one building (1 already there)"]
    assert d not in set(review.alternatives(one, solo, hid, k=10_000, held=held)["dwelling_id"])
    every = review.all_alternatives(one, solo, k=10_000, held=held)
    assert d not in set(every.loc[every["household_id"] == hid, "dwelling_id"])
    # without the building limit it may be chosen
    off = _with(one, building_limit=False)
    assert review.check_assignment(off, hid, d, "en", proposals=solo, held=held) == []


def test_one_rule_away_free_excludes_dwellings_held_by_others(base, plan):
    p = plan.copy()
    hid = str(p["household_id"].iloc[3])
    p.loc[p.index[3], ["dwelling_id", "unplaced_reason"]] = [None, "every dwelling is taken"]
    card = review.household_card(base, p, proposed_status(p), hid, language="en")
    away = card["one_rule_away"]
    free = away[away["free"]]
    if not len(free):
        pytest.skip("no free dwelling one rule away in the demo")
    d = str(free["dwelling_id"].iloc[0])
    other = str(p["household_id"].iloc[0])
    card = review.household_card(base, p, proposed_status(p), hid, language="en",
                                 held={d: other})
    got = card["one_rule_away"]
    assert not got.loc[got["dwelling_id"] == d, "free"].any()
    held = pd.DataFrame({"household_id": [other], "dwelling_id": [d], "action": ["approve"]})
    card = review.household_card(base, p, proposed_status(p), hid, language="en",
                                 allocations=held)
    got = card["one_rule_away"]
    assert not got.loc[got["dwelling_id"] == d, "free"].any()


def test_one_rule_away_counts_the_area_cap_and_the_building_limit(base, plan, demo_plan):
    """Against an independent count: persons per area and households per building by hand."""
    ds = demo_plan.dataset
    p = plan.copy()
    hid = str(p["household_id"].iloc[3])
    p.loc[p.index[3], ["dwelling_id", "unplaced_reason", "score"]] = [None, "x", np.nan]
    inst = base.inst
    persons = dict(zip(ds.households["household_id"].astype(str), ds.households["persons"],
                       strict=True))
    area_of = dict(zip(ds.dwellings["dwelling_id"].astype(str),
                       ds.dwellings["area_id"].astype("string"), strict=True))
    placed = p.dropna(subset=["dwelling_id"])
    in_area: dict[str, int] = {}
    for h, d in zip(placed["household_id"].astype(str), placed["dwelling_id"].astype(str),
                    strict=True):
        a = area_of[d]
        if pd.notna(a):
            in_area[str(a)] = in_area.get(str(a), 0) + int(persons[h])
    # every other area is exactly at its cap: nobody more fits there
    area_ids = list(inst.area_ids.astype(str))
    full_areas = set(area_ids[::2])
    cap = np.array([float(in_area.get(a, 0)) if a in full_areas else 1e9 for a in area_ids])
    # one household per building: a dwelling proposed for another household fills its building
    tight = _with(base, caps=cap, max_households_per_building=1)
    building_of = dict(zip(inst.dw_ids.astype(str), inst.dw_building, strict=True))
    full_buildings = {building_of[d] for d in placed["dwelling_id"].astype(str)}
    pair_fail = {rule: ~mask for rule, mask in review.rule_masks(tight, hid).items()}
    want: dict[str, str] = {}
    for j, d in enumerate(inst.dw_ids.astype(str)):
        broken = [rule for rule, fail in pair_fail.items() if fail[j]]
        a = area_of[d]
        if pd.notna(a) and str(a) in full_areas:
            broken.append("area_cap")
        if building_of[d] in full_buildings:
            broken.append("building_limit")
        if len(broken) == 1:
            want[d] = broken[0]
    assert "area_cap" in want.values()
    assert "building_limit" in want.values()
    got = review.one_rule_away(tight, hid, language="en", limit=10_000, proposals=p)
    assert dict(zip(got["dwelling_id"], got["rule"], strict=True)) == want
    counts = got.groupby("rule_text")["dwelling_id"].size()
    assert (got["n_dwellings"] == got["rule_text"].map(counts)).all()
    for row in got.itertuples(index=False):
        assert review.check_assignment(tight, hid, row.dwelling_id, "en",
                                       proposals=p) == [row.rule_text]
    # the card says the same (a dwelling held by a decision counts like a proposal)
    card = review.household_card(tight, p, proposed_status(p), hid, language="en")
    assert set(card["one_rule_away"]["rule"]) >= {"area_cap", "building_limit"}
    # with both rules off, only the pair rules are left
    off = _with(base, caps=cap, area_cap=False, building_limit=False)
    rules = set(review.one_rule_away(off, hid, limit=10_000, proposals=p)["rule"])
    assert not rules & {"area_cap", "building_limit"}


@pytest.mark.parametrize("text", ["![x](http://e)", "[link](http://e.example/a)",
                                  "**bold** _it_ `code`", "# heading", "1. list", "- item",
                                  "> quote", "<img src=x>", "a | b", "\\*", "line\n# two",
                                  "    code", "Søndergade 4, 2. th."])
def test_markdown_escape_keeps_the_text_literal(text):
    from markdown_it import MarkdownIt

    from placement.i18n import markdown_escape

    out = markdown_escape(text)
    html = MarkdownIt("commonmark").enable("table").render(out)
    # independent check: rendered as one plain paragraph, no element but <p>
    assert html.startswith("<p>")
    assert html.rstrip().endswith("</p>")
    inner = html.strip()[3:-4]
    assert "<" not in inner.replace("&lt;", "")
    import html as html_lib
    assert html_lib.unescape(inner) == " ".join(text.splitlines()).lstrip()


def test_markdown_escape_of_nothing_is_empty():
    from placement.i18n import markdown_escape

    assert markdown_escape(None) == ""
    assert markdown_escape(12) == "12"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab1 æ\\`*_{}[]()#+-.!|<>~$:=\"'&/@%^?,;", min_size=1, max_size=30)
       .map(str.strip).filter(bool))
def test_markdown_escape_is_literal_for_any_text(text):
    import html as html_lib

    from markdown_it import MarkdownIt

    from placement.i18n import markdown_escape

    html = MarkdownIt("commonmark").enable("table").render(markdown_escape(text)).strip()
    assert html.startswith("<p>"), html
    assert html.endswith("</p>"), html
    inner = html[3:-4]
    assert "<" not in inner
    assert " ".join(html_lib.unescape(inner).split()) == " ".join(text.split())
