"""What-if for people: lines by public name and mode, measures in words, cap 0 on the map."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd

from placement import whatif
from placement.mapview import build_map


def test_lines_are_named_as_riders_know_them_with_their_mode():
    routes = pd.DataFrame({"route_id": ["L201", "R10", "X"],
                           "route_short_name": ["201", "R", None],
                           "route_long_name": ["Kildeholm – Ravnstrup", "Regionaltog", None],
                           "route_type": [3, 2, 715]})
    got = dict(whatif.route_choices(SimpleNamespace(routes=routes), "da"))
    assert got["L201"] == "201 Kildeholm – Ravnstrup (bus)"
    assert got["R10"] == "R Regionaltog (tog)"  # a train is not a bus line
    assert got["X"] == "X (bus)"  # extended type 7xx: bus; no name: its id
    assert whatif.route_choices(None) == []


def test_measures_in_words_with_units_signs_and_no_objective():
    base = {"households_placed": 96.0, "households_unplaced": 0.0, "persons_placed": 277.0,
            "share_near_served_stop": 0.99, "median_pt_jobcenter_min": 15.2,
            "median_pt_language_school_min": float("nan"),
            "families_daycare_school_15min": 0.96, "mean_associations_15min": 2.93,
            "households_no_data": 0.0, "largest_area_share_of_cap": 0.86, "objective": 77.6}
    other = dict(base, households_placed=90.0, share_near_served_stop=0.93,
                 median_pt_jobcenter_min=17.0, mean_associations_15min=2.5)
    table = whatif.measures_table({"Basis": base, "Scenarie": other}, "da").set_index(
        "Nøgletal")
    assert "Objective" not in " ".join(table.index)
    assert len(table) == len(whatif.MEASURE_KEYS)
    row = table.loc["Placerede husstande"]
    assert (row["Enhed"], row["Basis"], row["Scenarie"], row["Δ Scenarie"]) == (
        "antal", "96", "90", "-6")
    share = table.loc["Personer inden for 500 m af et stoppested med mindst 2 afgange i timen"]
    assert (share["Basis"], share["Δ Scenarie"]) == ("99 %", "-6 point")
    assert table.loc["Mediantid med kollektiv trafik til jobcentret", "Δ Scenarie"] == "+2 min"
    unknown = table.loc["Mediantid med kollektiv trafik til sprogcentret"]
    assert (unknown["Basis"], unknown["Δ Scenarie"]) == ("ingen data", "–")  # never 0


def test_a_cap_of_zero_is_said_in_words_not_as_infinity():
    m = {"largest_area_share_of_cap": float("nan")}
    areas = pd.DataFrame({"area_id": ["A", "B"], "share_of_cap": [0.5, math.inf]})
    table = whatif.measures_table({"a": m, "b": m}, "en", areas={"b": areas}).set_index(
        "Measure")
    row = table.loc["Largest local area: load against its cap"]
    assert row["b"] == "over the cap (cap 0)"
    assert row["a"] == "no data"


def test_area_changes_are_after_minus_before():
    before = pd.DataFrame({"area_id": ["1", "2"], "name": ["Nord", "Syd"],
                           "persons_placed": [10, 5], "cap_persons": [20, 10]})
    after = before.assign(persons_placed=[0, 15], cap_persons=[0, 10])
    got = whatif.area_changes(before, after).set_index("area_id")
    assert got["change"].tolist() == [-10, 10]
    assert got["change"].sum() == after["persons_placed"].sum() - before["persons_placed"].sum()
    assert got.loc["1", "cap_after"] == 0


def test_map_of_a_plan_with_a_cap_of_zero_draws(demo_plan):
    # an area with cap 0 and someone there has an infinite share of its cap: the colour scale
    # stays finite (this raised "ValueError: Thresholds are not sorted." before)
    areas = demo_plan.area_table.copy()
    areas.loc[areas.index[0], ["cap_persons", "share_of_cap"]] = [0, np.inf]
    page = build_map(demo_plan.dataset, area_table=areas, language="da").get_root().render()
    assert "over loftet (loft 0)" in page
    shown = whatif.area_display(areas, "da")
    assert shown.iloc[0]["Andel af loft"] == "over loftet (loft 0)"
