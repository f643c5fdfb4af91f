"""Score terms in [0, 1] per dwelling and per (household, dwelling) pair under a policy.

Normalisation (all terms are 1 = best, 0 = worst; a missing value scores 0):

- ``decay(t, full, zero)`` is 1 for ``t <= full``, 0 for ``t >= zero`` and linear between.
- **transit** (per dwelling): mean of
  ``min(1, departures_per_hour_500m / good_departures_per_hour)``,
  ``decay(walk_stop_min, walk_stop_full_min, walk_stop_zero_min)`` and
  ``decay(pt_{jobcenter,language_school}_median_min, pt_full_min, pt_zero_min)``.
- **community** (per dwelling): mean of ``decay(walk_association_min)``,
  ``decay(walk_library_culture_min)`` (both with ``community_full_min``/``community_zero_min``) and
  ``min(1, n_association_within_15min / good_associations_15min)``.
- **family** (per pair): mean of ``decay(walk_daycare_min)`` when the household has children 0–5
  and ``decay(walk_school_min)`` when it has children 6–16 (thresholds ``family_full_min`` and
  ``family_zero_min``); not applicable to households without children 0–16.
- **anchor** (per pair): ``decay(distance_m, anchor_full_m, anchor_zero_m)`` with the great-circle
  distance between dwelling and anchor place; not applicable without an anchor.

Access columns that are absent from the table (for example no GTFS feed: no ``pt_*``) are left out
of the mean, not scored 0. A pair's **score** is the weighted mean of the terms applicable to the
household, ``sum(w_t * s_t) / sum(w_t)`` over applicable terms, so it lies in [0, 1] for every
household and the weights mean what the policy file says.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from placement.config import Policy, Scoring

__all__ = ["PAIR_TERMS", "combine", "decay", "dwelling_terms", "pair_terms"]

logger = logging.getLogger(__name__)

#: Terms of a pair's score, in the order of the output columns.
PAIR_TERMS = ("transit", "community", "family", "anchor")

EARTH_RADIUS_M = 6_371_008.8


def decay(t: np.ndarray | pd.Series, full: float, zero: float) -> np.ndarray:
    """Linear decay: 1 at or below ``full``, 0 at or above ``zero``; NaN scores 0.

    Examples
    --------
    >>> decay(np.array([0.0, 10.0, 20.0, np.nan]), 0.0, 20.0).tolist()
    [1.0, 0.5, 0.0, 0.0]
    """
    t = np.asarray(t, dtype=float)
    out = np.clip((zero - t) / (zero - full), 0.0, 1.0)
    return np.where(np.isnan(out), 0.0, out)


def _mean_of(parts: list[np.ndarray], n: int) -> np.ndarray:
    if not parts:
        return np.zeros(n)
    return np.mean(np.vstack(parts), axis=0)


def dwelling_terms(access: pd.DataFrame, *, scoring: Scoring) -> pd.DataFrame:
    """Per-dwelling score terms from the accessibility table.

    Parameters
    ----------
    access
        Accessibility table indexed by ``dwelling_id`` (columns per ``placement.schema``).
    scoring
        Thresholds (``Policy.scoring``).

    Returns
    -------
    pandas.DataFrame
        Same index; columns ``transit``, ``community``, ``daycare``, ``school`` in [0, 1].
    """
    n = len(access)
    s = scoring

    def col(name: str) -> np.ndarray | None:
        if name not in access.columns:
            return None
        return pd.to_numeric(access[name], errors="coerce").to_numpy(dtype=float)

    transit: list[np.ndarray] = []
    if (dep := col("departures_per_hour_500m")) is not None:
        transit.append(np.nan_to_num(np.minimum(1.0, dep / s.good_departures_per_hour)))
    if (ws := col("walk_stop_min")) is not None:
        transit.append(decay(ws, s.walk_stop_full_min, s.walk_stop_zero_min))
    for dest in ("jobcenter", "language_school"):
        if (pt := col(f"pt_{dest}_median_min")) is not None:
            transit.append(decay(pt, s.pt_full_min, s.pt_zero_min))
    community: list[np.ndarray] = []
    for cat in ("association", "library_culture"):
        if (w := col(f"walk_{cat}_min")) is not None:
            community.append(decay(w, s.community_full_min, s.community_zero_min))
    if (na := col("n_association_within_15min")) is not None:
        community.append(np.nan_to_num(np.minimum(1.0, na / s.good_associations_15min)))
    out = pd.DataFrame(
        {
            "transit": _mean_of(transit, n),
            "community": _mean_of(community, n),
            "daycare": decay(c, s.family_full_min, s.family_zero_min)
            if (c := col("walk_daycare_min")) is not None else np.zeros(n),
            "school": decay(c, s.family_full_min, s.family_zero_min)
            if (c := col("walk_school_min")) is not None else np.zeros(n),
        },
        index=access.index,
    )
    return out


def haversine_m(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray,
                lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance in metres between WGS84 points (broadcasting)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def pair_terms(
    *,
    h: np.ndarray,
    d: np.ndarray,
    has_0_5: np.ndarray,
    has_6_16: np.ndarray,
    anchor_lat: np.ndarray,
    anchor_lon: np.ndarray,
    dw_lat: np.ndarray,
    dw_lon: np.ndarray,
    dterms: pd.DataFrame,
    scoring: Scoring,
) -> dict[str, np.ndarray]:
    """Score terms for pairs ``(h[i], d[i])`` given as positional indices.

    Parameters
    ----------
    h, d
        Household and dwelling positions (same length).
    has_0_5, has_6_16, anchor_lat, anchor_lon
        Per household (indexed by ``h``): children present, anchor place (NaN: none).
    dw_lat, dw_lon, dterms
        Per dwelling (indexed by ``d``): coordinates and :func:`dwelling_terms`.
    scoring
        Thresholds.

    Returns
    -------
    dict
        ``transit``, ``community``, ``family``, ``anchor`` (NaN where not applicable).
    """
    day = dterms["daycare"].to_numpy()[d]
    sch = dterms["school"].to_numpy()[d]
    a, b = has_0_5[h], has_6_16[h]
    n_app = a.astype(float) + b.astype(float)
    fam = np.where(n_app > 0, (np.where(a, day, 0.0) + np.where(b, sch, 0.0))
                   / np.maximum(n_app, 1.0), np.nan)
    alat, alon = anchor_lat[h], anchor_lon[h]
    has_anchor = ~(np.isnan(alat) | np.isnan(alon))
    anchor = np.full(len(h), np.nan)
    if has_anchor.any():
        dist = haversine_m(alat[has_anchor], alon[has_anchor], dw_lat[d][has_anchor],
                           dw_lon[d][has_anchor])
        anchor[has_anchor] = decay(dist, scoring.anchor_full_m, scoring.anchor_zero_m)
    return {
        "transit": dterms["transit"].to_numpy()[d],
        "community": dterms["community"].to_numpy()[d],
        "family": fam,
        "anchor": anchor,
    }


def combine(terms: dict[str, np.ndarray], policy: Policy) -> np.ndarray:
    """Weighted mean of the applicable terms (NaN = not applicable), in [0, 1].

    Examples
    --------
    >>> from placement.config import Policy
    >>> t = {"transit": np.array([1.0]), "community": np.array([0.0]),
    ...      "family": np.array([np.nan]), "anchor": np.array([np.nan])}
    >>> round(float(combine(t, Policy())[0]), 4)  # 0.35 / (0.35 + 0.2)
    0.6364
    """
    w = policy.weights
    num = np.zeros(len(terms["transit"]))
    den = np.zeros_like(num)
    for name in PAIR_TERMS:
        wt = getattr(w, name)
        if wt == 0:
            continue
        v = terms[name]
        ok = ~np.isnan(v)
        num += np.where(ok, wt * np.nan_to_num(v), 0.0)
        den += np.where(ok, wt, 0.0)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)
