"""Policy measures against hand computations on a small plan."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from placement import measures as ms


@pytest.fixture
def world():
    households = pd.DataFrame({
        "household_id": ["H1", "H2", "H3", "H4"],
        "persons": [1, 4, 2, 3],
        "children_0_5": [0, 1, 0, 0],
        "children_6_16": [0, 1, 0, 1],
    })
    dwellings = pd.DataFrame({"dwelling_id": ["D1", "D2", "D3", "D4"],
                              "area_id": ["A", "A", "B", "B"]})
    access = pd.DataFrame({
        "departures_per_hour_500m": [4.0, 1.0, 2.0, 0.0],
        "pt_jobcenter_median_min": [10.0, 30.0, 20.0, np.nan],
        "pt_language_school_median_min": [15.0, 25.0, 35.0, 40.0],
        "walk_daycare_min": [3.0, 12.0, 20.0, 30.0],
        "walk_school_min": [5.0, 14.0, 16.0, 10.0],
        "n_association_within_15min": [3, 1, 0, 2],
    }, index=pd.Index(["D1", "D2", "D3", "D4"], name="dwelling_id"))
    areas = pd.DataFrame({"area_id": ["A", "B"], "name": ["Nord", "Syd"],
                          "population": [1000, 500], "integration_residents": [10, 20]})
    plan = pd.DataFrame({"household_id": ["H1", "H2", "H3", "H4"],
                         "dwelling_id": ["D1", "D2", "D3", pd.NA]})
    return plan, households, dwellings, access, areas


def test_measures_match_hand_computation(world):
    plan, households, dwellings, access, areas = world
    caps = ms.area_caps(areas, 0.05, {"B": 0.04})
    assert caps.to_dict() == {"A": 50, "B": 20}
    m = ms.plan_measures(plan, households, dwellings, access, areas, caps,
                         summary={"objective": 1.5, "gap": 0.0})
    assert m["households_placed"] == 3
    assert m["households_unplaced"] == 1
    assert m["persons_placed"] == 7
    # served: D1 (4/h) and D3 (2/h): persons 1 + 2 of 7
    assert m["share_near_served_stop"] == pytest.approx(3 / 7)
    # jobcenter times of persons: 10 ×1, 30 ×4, 20 ×2 → sorted 10,20,20,30,30,30,30 → 30
    assert m["median_pt_jobcenter_min"] == 30.0
    # language school: 15×1, 25×4, 35×2 → 15,25,25,25,25,35,35 → 25
    assert m["median_pt_language_school_min"] == 25.0
    # one family (H2 at D2): daycare 12 ≤ 15 and school 14 ≤ 15 → 1.0
    assert m["families_daycare_school_15min"] == 1.0
    assert m["mean_associations_15min"] == pytest.approx((3 + 1 + 0) / 3)
    # area A: 10 + 1 + 4 = 15 of 50; B: 20 + 2 = 22 of 20 → 1.1
    assert m["largest_area_share_of_cap"] == pytest.approx(1.1)
    assert m["objective"] == 1.5


def test_area_table(world):
    plan, households, dwellings, _, areas = world
    table = ms.area_table(plan, households, dwellings, areas, ms.area_caps(areas, 0.05))
    assert table["persons_placed"].tolist() == [5, 2]
    assert table["households_placed"].tolist() == [2, 1]
    assert table["cap_persons"].tolist() == [50, 25]


def test_compare_and_changed(world):
    plan, households, dwellings, access, areas = world
    caps = ms.area_caps(areas, 0.05)
    other = plan.copy()
    other.loc[0, "dwelling_id"] = "D4"
    m1 = ms.plan_measures(plan, households, dwellings, access, areas, caps)
    m2 = ms.plan_measures(other, households, dwellings, access, areas, caps)
    table = ms.compare({"base": m1, "cut": m2})
    assert table.loc["share_near_served_stop", "Δ cut"] == pytest.approx(2 / 7 - 3 / 7)
    changed = ms.changed_proposals({"base": plan, "cut": other})
    assert changed.to_dict("records") == [{"household_id": "H1", "base": "D1", "cut": "D4"}]


@settings(deadline=None, max_examples=60)
@given(st.lists(st.tuples(st.floats(0, 200, allow_nan=False), st.integers(1, 9)),
                min_size=1, max_size=30))
def test_weighted_median_equals_median_of_expanded_list(pairs):
    values = np.array([v for v, _ in pairs])
    weights = np.array([w for _, w in pairs], dtype=float)
    expanded = np.repeat(values, weights.astype(int))
    assert math.isclose(ms._weighted_median(values, weights), float(np.median(expanded)),
                        rel_tol=1e-12, abs_tol=1e-12)
