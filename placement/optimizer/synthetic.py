"""Synthetic placement instances from a seed (for tests and benchmarks; no personal data)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from placement.schema import PT_DESTINATIONS, WALK_THRESHOLDS_MIN

__all__ = ["make_instance", "make_year"]

CATEGORIES = ("school", "daycare", "association", "library_culture", "supermarket", "doctor")


def make_instance(
    n_households: int,
    n_dwellings: int,
    *,
    n_areas: int | None = None,
    seed: int = 0,
    start: str = "2025-03-01",
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Generate households, dwellings, areas and an accessibility table.

    Dwellings lie in a 30 km x 30 km square; each local area has a centre, and access gets worse
    with the distance to the nearest centre. Same arguments, same tables.

    Parameters
    ----------
    n_households, n_dwellings
        Sizes.
    n_areas
        Local areas (default: one per 100 dwellings, between 3 and 40).
    seed
        Seed of ``numpy.random.default_rng``.
    start
        First arrival date (ISO).

    Returns
    -------
    tuple
        ``(households, dwellings, areas, access)`` with the columns the optimiser reads.

    Examples
    --------
    >>> hh, dw, ar, acc = make_instance(5, 12, seed=1)
    >>> len(hh), len(dw), len(acc) == len(dw)
    (5, 12, True)
    """
    rng = np.random.default_rng(seed)
    A = n_areas if n_areas is not None else int(np.clip(n_dwellings // 100, 3, 40))
    t0 = np.datetime64(start, "D")
    # areas
    centre = rng.uniform(0, 30_000, size=(A, 2))
    population = rng.integers(800, 9_000, size=A)
    areas = pd.DataFrame({
        "area_id": [f"A{i:03d}" for i in range(A)],
        "name": [f"Area {i}" for i in range(A)],
        "population": population.astype(np.int64),
        "integration_residents": np.floor(population * rng.uniform(0, 0.02, size=A)).astype(
            np.int64),
    })
    # dwellings: clustered around the area centres
    home = rng.integers(0, A, size=n_dwellings)
    xy = centre[home] + rng.normal(0, 2_500, size=(n_dwellings, 2))
    dist_km = np.linalg.norm(xy - centre[home], axis=1) / 1000
    rooms = rng.choice([1, 2, 3, 4, 5, 6], size=n_dwellings, p=[0.12, 0.3, 0.3, 0.18, 0.07, 0.03])
    rent = np.round(2_000 + 1_250 * rooms + rng.normal(0, 700, size=n_dwellings), -1)
    rent = np.maximum(rent, 1_500)
    n_build = max(1, n_dwellings // 3)
    building = rng.integers(0, n_build, size=n_dwellings)
    vulnerable_area = rng.random(A) < 0.15
    designated = np.where(vulnerable_area[home] & (rng.random(n_dwellings) < 0.5),
                          "vulnerable", "")
    lat = 55.3 + xy[:, 1] / 111_320
    lon = 12.0 + xy[:, 0] / (111_320 * np.cos(np.radians(55.3)))
    dwellings = pd.DataFrame({
        "dwelling_id": [f"D{i:06d}" for i in range(n_dwellings)],
        "area_id": [f"A{i:03d}" for i in home],
        "designated_kinds": designated,
        "rooms": rooms.astype(np.int64),
        "rent_dkk": rent,
        "available_from": pd.to_datetime(t0 + rng.integers(-60, 90, size=n_dwellings)),
        "permanent": rng.random(n_dwellings) < 0.92,
        "step_free": rng.random(n_dwellings) < 0.25,
        "building_id": [f"B{i:06d}" for i in building],
        "lat": lat,
        "lon": lon,
    })
    # households
    persons = rng.choice([1, 2, 3, 4, 5, 6, 7], size=n_households,
                         p=[0.3, 0.2, 0.15, 0.15, 0.1, 0.06, 0.04])
    adults = np.where(persons == 1, 1, np.minimum(persons, rng.choice([1, 2], size=n_households,
                                                                       p=[0.3, 0.7])))
    kids = persons - adults
    c05 = rng.binomial(kids, 0.4)
    c616 = kids - c05
    htype = np.where(kids > 0, np.where(adults == 1, "single_parent", "family"),
                     np.where(adults == 1, "single", "couple"))
    has_anchor = rng.random(n_households) < 0.2
    households = pd.DataFrame({
        "household_id": [f"H{i:05d}" for i in range(n_households)],
        "adults": adults.astype(np.int64),
        "children_0_5": c05.astype(np.int64),
        "children_6_16": c616.astype(np.int64),
        "children_17_plus": np.zeros(n_households, dtype=np.int64),
        "persons": persons.astype(np.int64),
        "household_type": htype,
        "arrival_date": pd.to_datetime(t0 + rng.integers(0, 90, size=n_households)),
        "step_free_needed": rng.random(n_households) < 0.05,
        "anchor_lat": np.where(has_anchor, 55.3 + rng.uniform(0, 30_000, n_households) / 111_320,
                               np.nan),
        "anchor_lon": np.where(has_anchor, 12.0 + rng.uniform(0, 30_000, n_households) / 63_400,
                               np.nan),
    })
    # accessibility: worse with the distance to the area centre
    acc = {}
    for cat in CATEGORIES:
        w = np.maximum(1.0, dist_km * rng.uniform(6, 14) + rng.gamma(2.0, 2.5, n_dwellings))
        acc[f"walk_{cat}_min"] = np.round(w, 1)
        for t in WALK_THRESHOLDS_MIN:
            acc[f"n_{cat}_within_{t}min"] = rng.poisson(np.maximum(0.0, (t - w) / 4)).astype(
                np.int64)
    acc["walk_stop_min"] = np.round(np.maximum(1.0, dist_km * 5 + rng.gamma(1.5, 2.0,
                                                                            n_dwellings)), 1)
    acc["departures_per_hour_500m"] = np.round(np.maximum(0.0, 6 - dist_km * 2
                                                          + rng.normal(0, 1.5, n_dwellings)), 1)
    for dest in PT_DESTINATIONS:
        med = 15 + dist_km * 8 + rng.gamma(2.0, 6.0, n_dwellings)
        med = np.where(rng.random(n_dwellings) < 0.03, np.nan, med)
        acc[f"pt_{dest}_median_min"] = np.round(med, 1)
        acc[f"pt_{dest}_p80_min"] = np.round(med * 1.3, 1)
    acc["snap_dist_m"] = np.round(rng.gamma(2.0, 20.0, n_dwellings), 1)
    acc["off_network"] = acc["snap_dist_m"] > 500
    access = pd.DataFrame(acc, index=pd.Index(dwellings["dwelling_id"], name="dwelling_id"))
    return households, dwellings, areas, access


def make_year(
    n_households: int,
    n_dwellings: int,
    *,
    n_areas: int | None = None,
    seed: int = 0,
    start: str = "2025-01-01",
    days: int = 364,
    initial_share: float = 0.1,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Make a synthetic year: households arriving and dwellings freeing evenly over ``days`` days.

    As :func:`make_instance`, with arrival dates drawn evenly over the year and
    ``available_from`` drawn evenly too, except a share ``initial_share`` of the dwellings
    that is free on the first day (the vacancies at the start of the year).

    Examples
    --------
    >>> hh, dw, ar, acc = make_year(10, 40, seed=1)
    >>> bool(hh["arrival_date"].between("2025-01-01", "2025-12-31").all())
    True
    """
    hh, dw, ar, acc = make_instance(n_households, n_dwellings, n_areas=n_areas, seed=seed,
                                    start=start)
    rng = np.random.default_rng([seed, 365])
    t0 = np.datetime64(start, "D")
    hh["arrival_date"] = pd.to_datetime(t0 + rng.integers(0, days, size=n_households))
    free = np.where(rng.random(n_dwellings) < initial_share, 0,
                    rng.integers(0, days, size=n_dwellings))
    dw["available_from"] = pd.to_datetime(t0 + free)
    return hh, dw, ar, acc
