from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from placement.config import Policy, Scoring
from placement.score import combine, decay, dwelling_terms, haversine_m, pair_terms


def test_decay_is_linear_between_thresholds():
    out = decay(np.array([2.0, 5.0, 10.0, 15.0, 30.0, np.nan]), 5.0, 15.0)
    np.testing.assert_allclose(out, [1.0, 1.0, 0.5, 0.0, 0.0, np.nan])  # unknown stays unknown


def test_dwelling_terms_by_hand():
    s = Scoring()
    access = pd.DataFrame({
        "departures_per_hour_500m": [8.0, 2.0],
        "walk_stop_min": [5.0, 10.0],
        "pt_jobcenter_median_min": [20.0, 47.5],
        "pt_language_school_median_min": [np.nan, 75.0],
        "walk_association_min": [5.0, 17.5],
        "walk_library_culture_min": [30.0, 5.0],
        "n_association_within_15min": [10, 1],
        "walk_daycare_min": [5.0, 12.5],
        "walk_school_min": [20.0, 5.0],
    }, index=pd.Index(["a", "b"], name="dwelling_id"))
    t = dwelling_terms(access, scoring=s)
    # transit: mean(min(1, dep/4), decay(walk 5..15), decay(pt 20..75) x2)
    assert t.loc["a", "transit"] == pytest.approx((1 + 1 + 1 + 0) / 4)
    assert t.loc["b", "transit"] == pytest.approx((0.5 + 0.5 + 0.5 + 0) / 4)
    # community: mean(decay(assoc 5..30), decay(library 5..30), min(1, n/5))
    assert t.loc["a", "community"] == pytest.approx((1 + 0 + 1) / 3)
    assert t.loc["b", "community"] == pytest.approx((0.5 + 1 + 0.2) / 3)
    assert t.loc["b", "daycare"] == pytest.approx(0.5)
    assert t.loc["a", "school"] == pytest.approx(0.0)


def test_absent_columns_are_left_out_not_scored_zero():
    access = pd.DataFrame({"walk_stop_min": [5.0]}, index=["a"])
    t = dwelling_terms(access, scoring=Scoring())
    assert t.loc["a", "transit"] == 1.0


def test_pair_terms_family_and_anchor():
    dterms = pd.DataFrame({"transit": [0.4], "community": [0.6], "daycare": [1.0],
                           "school": [0.0]})
    lat0, lon0 = 55.0, 12.0
    lat_km = lat0 + 13_000 / 111_195  # about 13 km north
    out = pair_terms(h=np.array([0, 1, 2]), d=np.array([0, 0, 0]),
                     has_0_5=np.array([True, True, False]),
                     has_6_16=np.array([True, False, False]),
                     anchor_lat=np.array([np.nan, lat_km, np.nan]),
                     anchor_lon=np.array([np.nan, lon0, np.nan]),
                     dw_lat=np.array([lat0]), dw_lon=np.array([lon0]),
                     dterms=dterms, scoring=Scoring())
    np.testing.assert_allclose(out["family"][:2], [0.5, 1.0])
    assert np.isnan(out["family"][2])
    dist = haversine_m(lat_km, lon0, lat0, lon0)
    assert dist == pytest.approx(13_000, rel=1e-3)
    assert out["anchor"][1] == pytest.approx((25_000 - dist) / 24_000)
    assert np.isnan(out["anchor"][0])


def test_combine_is_weighted_mean_of_applicable_terms():
    p = Policy()
    w = p.weights
    t = {"transit": np.array([1.0, 0.5]), "community": np.array([0.0, 0.5]),
         "family": np.array([np.nan, 0.5]), "anchor": np.array([np.nan, 0.5])}
    out = combine(t, p)
    assert out[0] == pytest.approx(w.transit / (w.transit + w.community))
    assert out[1] == pytest.approx(0.5)
