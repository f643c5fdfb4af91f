"""The demo's synthetic residence history: who stayed, and a documented reason why.

The history of the fictional demo municipality is drawn so that staying depends on the
placement and the household in a known way, which lets the retention model
(:mod:`placement.retention_model`) be checked against the truth. Nothing here is real data.

The documented relation (proportional hazards of moving out of the municipality)
--------------------------------------------------------------------------------
A household placed at time 0 leaves the municipality at the first time ``t`` (years) with
``H0(t) * exp(lp) >= E``, ``E`` a standard exponential draw, where

``lp = log(HR_type) + log(HR_per_100m_to_stop) * (min(stop_m, STOP_CAP_M) - 250) / 100
+ log(HR_per_km) * (km_to_centre - 2)``

* ``stop_m`` is the straight-line distance in metres from the dwelling (``dwellings.csv``
  lat/lon) to the nearest stop of the timetable (``stops.txt`` of ``gtfs.zip``), counted up to
  :data:`STOP_CAP_M`;
* ``km_to_centre`` is the straight-line distance from the dwelling to the town centre
  (:data:`placement.demo.CENTRE_LAT_LON`) in km;
* ``HR_type`` is the hazard ratio of the household type (:data:`HAZARD_RATIOS`); the type is
  ``single`` (1 person), ``couple`` (adults only), ``single_parent``, ``family`` (2+ adults with
  children, up to 4 persons) or ``large_family`` (5 persons or more).

The baseline cumulative hazard ``H0`` is piecewise linear: a constant rate over the first three
years, a spike over the first half of year 4 (when the duty to live in the municipality of
placement ends, :data:`SPIKE_SHARE` of the exits of years 4-5 fall in it) and a constant rate
after it. Its two levels are calibrated on the drawn households (weighted by persons) so that
the expected share still living in the municipality is :data:`STAY_3Y` after three years and
:data:`STAY_5Y` after five, the published Danish baselines for refugees placed in a
municipality. Of those who leave, :data:`ABROAD_SHARE` go abroad, the rest to another
municipality; :data:`WITHIN_SHARE` of those who stay move within the municipality once.
Members of a household move together. Moves after the end of the history are not recorded.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Callable

import numpy as np

__all__ = [
    "ABROAD_SHARE",
    "HAZARD_RATIOS",
    "HISTORY_HEADER",
    "SPIKE_SHARE",
    "STAY_3Y",
    "STAY_5Y",
    "STOP_CAP_M",
    "WITHIN_SHARE",
    "baseline_cumulative_hazard",
    "history_rows",
    "history_type",
    "placement_covariates",
    "true_log_hazard",
]

#: Published baselines: share of persons still in the first municipality after 3 and 5 years.
STAY_3Y = 0.81
STAY_5Y = 0.67
#: Share of the exits of years 4-5 that fall in the first half of year 4 (the spike).
SPIKE_SHARE = 0.55
#: Distance to the nearest stop (m) beyond which it makes no further difference.
STOP_CAP_M = 600.0
#: Hazard ratios of moving out (documented truth of the demo).
HAZARD_RATIOS = {
    "per_100m_to_stop": 1.30,
    "per_km_to_centre": 1.12,
    "single": 1.8,
    "couple": 1.3,
    "single_parent": 1.0,
    "family": 0.9,
    "large_family": 0.6,
}
#: Share of leavers who go abroad (the rest go to another municipality).
ABROAD_SHARE = 0.15
#: Share of stayers recorded with one move within the municipality.
WITHIN_SHARE = 0.2
#: Columns of the history file, in order.
HISTORY_HEADER = ("person_id", "household_id", "placement_date", "dwelling_id", "area_id",
                  "integration_end", "moved_out_date", "destination", "household_type",
                  "persons")

_EARTH_M = 6_371_008.8


def history_type(adults: int, children: int) -> str:
    """Return the household type of the demo history from its adults and children.

    Examples
    --------
    >>> [history_type(1, 0), history_type(2, 0), history_type(1, 2), history_type(2, 2),
    ...  history_type(2, 3)]
    ['single', 'couple', 'single_parent', 'family', 'large_family']
    """
    persons = adults + children
    if persons >= 5:
        return "large_family"
    if persons == 1:
        return "single"
    if children == 0:
        return "couple"
    return "single_parent" if adults == 1 else "family"


def _distance_m(lat: np.ndarray, lon: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    p1, p2 = np.radians(lat)[:, None], np.radians(lat2)[None, :]
    dl = np.radians(lon2)[None, :] - np.radians(lon)[:, None]
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * _EARTH_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def placement_covariates(dw_lat: np.ndarray, dw_lon: np.ndarray, stop_lat: np.ndarray,
                         stop_lon: np.ndarray, centre: tuple[float, float]
                         ) -> dict[str, np.ndarray]:
    """Return the documented covariates of each dwelling: ``stop_m`` and ``km_to_centre``.

    Parameters
    ----------
    dw_lat, dw_lon : numpy.ndarray
        Dwelling coordinates (WGS84, as in ``dwellings.csv``).
    stop_lat, stop_lon : numpy.ndarray
        Stop coordinates (``stops.txt``).
    centre : tuple of float
        Town centre (lat, lon).

    Returns
    -------
    dict
        ``stop_m`` (capped at :data:`STOP_CAP_M`) and ``km_to_centre`` per dwelling.
    """
    lat, lon = np.asarray(dw_lat, float), np.asarray(dw_lon, float)
    d = _distance_m(lat, lon, np.asarray(stop_lat, float), np.asarray(stop_lon, float))
    stop_m = np.minimum(d.min(axis=1), STOP_CAP_M)
    km = _distance_m(lat, lon, np.array([centre[0]]), np.array([centre[1]]))[:, 0] / 1000.0
    return {"stop_m": stop_m, "km_to_centre": km}


def true_log_hazard(household_type: np.ndarray, stop_m: np.ndarray,
                    km_to_centre: np.ndarray) -> np.ndarray:
    """Return the documented log hazard ratio ``lp`` of each household (see the module docs)."""
    hr = HAZARD_RATIOS
    types = np.asarray(household_type, dtype=object)
    out = np.array([math.log(hr[str(t)]) for t in types], dtype=float)
    stop = np.minimum(np.asarray(stop_m, float), STOP_CAP_M)
    out += math.log(hr["per_100m_to_stop"]) * (stop - 250.0) / 100.0
    out += math.log(hr["per_km_to_centre"]) * (np.asarray(km_to_centre, float) - 2.0)
    return out


def baseline_cumulative_hazard(t: np.ndarray, h3: float, h5: float) -> np.ndarray:
    """Return ``H0(t)`` for times ``t`` in years given its values at 3 and 5 years."""
    t = np.asarray(t, dtype=float)
    late_rate = (1.0 - SPIKE_SHARE) * (h5 - h3) / 1.5
    return np.where(
        t <= 3.0, h3 * t / 3.0,
        np.where(t <= 3.5, h3 + SPIKE_SHARE * (h5 - h3) * (t - 3.0) / 0.5,
                 h3 + SPIKE_SHARE * (h5 - h3) + late_rate * (t - 3.5)))


def _inverse_h0(target: np.ndarray, h3: float, h5: float) -> np.ndarray:
    """Time (years) at which ``H0`` reaches ``target`` (inverse of the piecewise line)."""
    spike_top = h3 + SPIKE_SHARE * (h5 - h3)
    late_rate = (1.0 - SPIKE_SHARE) * (h5 - h3) / 1.5
    return np.where(
        target <= h3, 3.0 * target / h3,
        np.where(target <= spike_top, 3.0 + 0.5 * (target - h3) / (spike_top - h3),
                 3.5 + (target - spike_top) / late_rate))


def _calibrate(lp: np.ndarray, weight: np.ndarray, stay: float) -> float:
    """Cumulative hazard ``H`` with ``sum(w * exp(-H * exp(lp))) / sum(w) == stay``."""
    r = np.exp(lp)
    lo, hi = 0.0, 10.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if float(np.average(np.exp(-mid * r), weights=weight)) > stay:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def history_rows(
    dwellings_csv: bytes,
    stops_txt: bytes,
    dwelling_areas: list[tuple[str, str]],
    household_sizes: Callable[[np.random.Generator], tuple[int, int, int, int]],
    rng: np.random.Generator,
    *,
    start: dt.date,
    end: dt.date,
    centre: tuple[float, float],
    n_households: int,
) -> list[tuple[object, ...]]:
    """Draw the residence history rows (one per placed person, at most one move each).

    Parameters
    ----------
    dwellings_csv, stops_txt : bytes
        The demo's ``dwellings.csv`` and the ``stops.txt`` of its timetable.
    dwelling_areas : list of (dwelling_id, area_id)
        The dwellings past households were placed in, with their local area.
    household_sizes : callable
        Draws (adults, children 0-5, 6-16, 17+) of one household.
    rng : numpy.random.Generator
        Source of every random draw.
    start, end : datetime.date
        First day of placements and last day of the history.
    centre : tuple of float
        Town centre (lat, lon).
    n_households : int
        Households placed over the history.

    Returns
    -------
    list of tuple
        Rows in the order of :data:`HISTORY_HEADER`.
    """
    dw = _read_csv(dwellings_csv)
    stops = _read_csv(stops_txt)
    pos = {r["dwelling_id"]: i for i, r in enumerate(dw)}
    cov = placement_covariates(np.array([float(r["lat"]) for r in dw]),
                               np.array([float(r["lon"]) for r in dw]),
                               np.array([float(s["stop_lat"]) for s in stops]),
                               np.array([float(s["stop_lon"]) for s in stops]), centre)
    span = (end - start).days
    placements = sorted(int(d) for d in rng.integers(0, span - 20, n_households))
    drawn = []
    for offset in placements:
        adults, c05, c616, c17 = household_sizes(rng)
        dwelling_id, area_id = dwelling_areas[int(rng.integers(len(dwelling_areas)))]
        drawn.append((start + dt.timedelta(days=offset), adults, c05 + c616 + c17, dwelling_id,
                      area_id))
    types = np.array([history_type(a, c) for _, a, c, _, _ in drawn], dtype=object)
    persons = np.array([a + c for _, a, c, _, _ in drawn], dtype=float)
    k = np.array([pos[d] for _, _, _, d, _ in drawn])
    lp = true_log_hazard(types, cov["stop_m"][k], cov["km_to_centre"][k])
    h3 = _calibrate(lp, persons, STAY_3Y)
    h5 = _calibrate(lp, persons, STAY_5Y)
    exit_years = _inverse_h0(rng.exponential(1.0, len(drawn)) / np.exp(lp), h3, h5)
    abroad = rng.random(len(drawn)) < ABROAD_SHARE
    within = rng.random(len(drawn)) < WITHIN_SHARE
    within_frac = rng.uniform(0.05, 0.95, len(drawn))
    rows: list[tuple[object, ...]] = []
    person = 0
    for h, (placed, adults, children, dwelling_id, area_id) in enumerate(drawn):
        integration_end = (placed.replace(year=placed.year + 5)
                           if not (placed.month == 2 and placed.day == 29)
                           else dt.date(placed.year + 5, 2, 28))
        left = (end - placed).days
        exit_day = math.ceil(exit_years[h] * 365.25)
        moved = dest = ""
        if exit_day <= left:
            moved = (placed + dt.timedelta(days=max(exit_day, 1))).isoformat()
            dest = "abroad" if abroad[h] else "other_municipality"
        elif within[h]:
            moved = (placed + dt.timedelta(days=max(1, int(within_frac[h] * left)))).isoformat()
            dest = "within"
        for _ in range(adults + children):
            person += 1
            rows.append((f"P{person:05d}", f"R{h + 1:04d}", placed.isoformat(), dwelling_id,
                         area_id, integration_end.isoformat(), moved, dest, str(types[h]), 1))
    return rows
