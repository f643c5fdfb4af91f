"""Score terms in [0, 1] per dwelling and per (household, dwelling) pair under a policy.

Normalisation (all terms are 1 = best, 0 = worst):

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
- **retention** (per dwelling): the predicted probability of staying in the municipality to the
  end of the integration period, already in [0, 1], from the column ``predicted_retention`` of
  the accessibility table (:func:`placement.retention_model.predict_dwellings` fills it from the
  municipality's own residence history; an association, not a cause). Without that column the
  term is not applicable to anybody (no model); a dwelling with NaN in it is unknown. The
  policy weight ``retention`` is 0 by default.

Unknown is never zero. A part of a term is *measured* or *unknown*:

- a walk time (``walk_{cat}_min``) is unknown where the dwelling's counts of that category
  (``n_{cat}_within_*``) are NA: the dwelling lies outside the OSM coverage or off the walk
  network, or the data holds no place of the category at all. A missing walk time with known
  counts means "no such place within reach" and scores 0;
- ``departures_per_hour_500m`` is unknown where it is NaN (no timetable); a public-transport
  time ``pt_*`` is unknown where the departures are unknown, and scores 0 where the departures
  are known but no journey arrives in time;
- a column absent from the table is unknown for every dwelling.

A term is the mean of its measured parts; it is unknown (NaN) when no part is measured. What an
unknown term means for the score is the policy's ``[unknown]`` choice (:func:`combine`). A
pair's **score** is the weighted mean of the terms applicable to the household,
``sum(w_t * s_t) / sum(w_t)``, so it lies in [0, 1] and the weights mean what the policy file
says.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from placement.config import Policy, Scoring

__all__ = ["NO_DATA_BITS", "PAIR_TERMS", "RETENTION_COLUMN", "any_measured", "combine", "decay",
           "dwelling_terms", "no_data_for_plan", "no_data_words", "pair_terms", "walk_known"]

logger = logging.getLogger(__name__)

#: Terms of a pair's score, in the order of the output columns.
PAIR_TERMS = ("transit", "community", "family", "anchor", "retention")
#: Bit of each term in the ``no_data`` mask of :func:`pair_terms` (set: the term is unknown).
NO_DATA_BITS = {"transit": 1, "community": 2, "family": 4, "anchor": 8, "retention": 16}
#: Column of the accessibility table with the predicted retention of each dwelling.
RETENTION_COLUMN = "predicted_retention"

EARTH_RADIUS_M = 6_371_008.8


def decay(t: np.ndarray | pd.Series, full: float, zero: float) -> np.ndarray:
    """Linear decay: 1 at or below ``full``, 0 at or above ``zero``; NaN stays NaN.

    Examples
    --------
    >>> decay(np.array([0.0, 10.0, 20.0, np.inf, np.nan]), 0.0, 20.0).tolist()
    [1.0, 0.5, 0.0, 0.0, nan]
    """
    t = np.asarray(t, dtype=float)
    return np.clip((zero - t) / (zero - full), 0.0, 1.0)


def _mean_known(parts: list[np.ndarray], n: int) -> np.ndarray:
    """Mean over the parts that are not NaN; NaN where none is."""
    if not parts:
        return np.full(n, np.nan)
    stack = np.vstack(parts)
    known = ~np.isnan(stack)
    count = known.sum(axis=0)
    total = np.where(known, stack, 0.0).sum(axis=0)
    return np.divide(total, count, out=np.full(n, np.nan), where=count > 0)


def _count_cols(access: pd.DataFrame, cat: str) -> list[str]:
    prefix = f"n_{cat}_within_"
    return [c for c in access.columns if str(c).startswith(prefix)]


def walk_known(access: pd.DataFrame, cat: str) -> np.ndarray:
    """Whether each dwelling's walk access to ``cat`` was measured (see the module docs).

    Parameters
    ----------
    access : pandas.DataFrame
        Accessibility table.
    cat : str
        Amenity category.

    Returns
    -------
    numpy.ndarray of bool
        True where measured; a missing walk time there means "none within reach".
    """
    n = len(access)
    cols = _count_cols(access, cat)
    if cols:
        return access[cols[0]].notna().to_numpy(dtype=bool)
    walk = f"walk_{cat}_min"
    if walk not in access.columns:
        return np.zeros(n, dtype=bool)
    return pd.to_numeric(access[walk], errors="coerce").notna().to_numpy(dtype=bool)


def dwelling_terms(access: pd.DataFrame, *, scoring: Scoring) -> pd.DataFrame:
    """Per-dwelling score terms from the accessibility table (NaN = unknown).

    Parameters
    ----------
    access
        Accessibility table indexed by ``dwelling_id`` (columns per ``placement.schema``).
    scoring
        Thresholds (``Policy.scoring``).

    Returns
    -------
    pandas.DataFrame
        Same index; columns ``transit``, ``community``, ``daycare``, ``school`` in [0, 1],
        NaN where the term could not be measured for the dwelling, and ``retention`` when the
        table has the column ``predicted_retention`` (absent otherwise: no model).
    """
    n = len(access)
    s = scoring

    def col(name: str) -> np.ndarray | None:
        if name not in access.columns:
            return None
        return pd.to_numeric(access[name], errors="coerce").to_numpy(dtype=float)

    def walk(cat: str, full: float, zero: float) -> np.ndarray:
        t = col(f"walk_{cat}_min")
        known = walk_known(access, cat)
        if t is None:
            return np.full(n, np.nan)
        # measured but no place within reach: 0; not measured: unknown
        return np.where(known, np.nan_to_num(decay(t, full, zero), nan=0.0), np.nan)

    transit: list[np.ndarray] = []
    dep = col("departures_per_hour_500m")
    dep_known = np.zeros(n, bool) if dep is None else ~np.isnan(dep)
    if dep is not None:
        transit.append(np.minimum(1.0, dep / s.good_departures_per_hour))
    if col("walk_stop_min") is not None or _count_cols(access, "stop"):
        transit.append(walk("stop", s.walk_stop_full_min, s.walk_stop_zero_min))
    for dest in ("jobcenter", "language_school"):
        if (pt := col(f"pt_{dest}_median_min")) is not None:
            transit.append(np.where(dep_known, np.nan_to_num(decay(pt, s.pt_full_min,
                                                                   s.pt_zero_min), nan=0.0),
                                    np.nan))
    community: list[np.ndarray] = []
    for cat in ("association", "library_culture"):
        if col(f"walk_{cat}_min") is not None:
            community.append(walk(cat, s.community_full_min, s.community_zero_min))
    if (na := col("n_association_within_15min")) is not None:
        community.append(np.minimum(1.0, na / s.good_associations_15min))
    out = pd.DataFrame(
        {
            "transit": _mean_known(transit, n),
            "community": _mean_known(community, n),
            "daycare": walk("daycare", s.family_full_min, s.family_zero_min),
            "school": walk("school", s.family_full_min, s.family_zero_min),
        },
        index=access.index,
    )
    if (ret := col(RETENTION_COLUMN)) is not None:
        out["retention"] = np.clip(ret, 0.0, 1.0)
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
        ``transit``, ``community``, ``family``, ``anchor``, ``retention`` (NaN where not
        applicable or unknown) and ``no_data``: a bit mask (:data:`NO_DATA_BITS`) of the terms
        that apply to the pair but could not be measured.
    """
    day = dterms["daycare"].to_numpy()[d]
    sch = dterms["school"].to_numpy()[d]
    a, b = has_0_5[h], has_6_16[h]
    use_day = a & ~np.isnan(day)
    use_sch = b & ~np.isnan(sch)
    n_known = use_day.astype(float) + use_sch.astype(float)
    fam = np.divide(np.where(use_day, day, 0.0) + np.where(use_sch, sch, 0.0), n_known,
                    out=np.full(len(h), np.nan), where=n_known > 0)
    fam_unknown = (a | b) & (n_known == 0)
    alat, alon = anchor_lat[h], anchor_lon[h]
    has_anchor = ~(np.isnan(alat) | np.isnan(alon))
    anchor = np.full(len(h), np.nan)
    if has_anchor.any():
        dist = haversine_m(alat[has_anchor], alon[has_anchor], dw_lat[d][has_anchor],
                           dw_lon[d][has_anchor])
        anchor[has_anchor] = decay(dist, scoring.anchor_full_m, scoring.anchor_zero_m)
    transit = dterms["transit"].to_numpy()[d]
    community = dterms["community"].to_numpy()[d]
    anchor_unknown = has_anchor & np.isnan(anchor)
    if "retention" in dterms.columns:
        retention = dterms["retention"].to_numpy(dtype=float)[d]
        retention_unknown = np.isnan(retention)
    else:  # no model: the term applies to nobody
        retention = np.full(len(h), np.nan)
        retention_unknown = np.zeros(len(h), dtype=bool)
    no_data = (np.isnan(transit) * NO_DATA_BITS["transit"]
               + np.isnan(community) * NO_DATA_BITS["community"]
               + fam_unknown * NO_DATA_BITS["family"]
               + anchor_unknown * NO_DATA_BITS["anchor"]
               + retention_unknown * NO_DATA_BITS["retention"]).astype(np.int8)
    return {
        "transit": transit,
        "community": community,
        "family": fam,
        "anchor": anchor,
        "retention": retention,
        "no_data": no_data,
    }


def any_measured(terms: dict[str, np.ndarray], policy: Policy) -> np.ndarray:
    """Whether at least one weighted, applicable term of each pair was measured.

    A pair without any (all its applicable terms unknown) gets a score from the policy's
    ``[unknown]`` choice only; outputs show its score as empty ("no data"), not as a number
    that looks measured.
    """
    n = len(terms["transit"])
    out = np.zeros(n, dtype=bool)
    for name in PAIR_TERMS:
        if getattr(policy.weights, name) > 0 and terms.get(name) is not None:
            out |= ~np.isnan(np.asarray(terms[name], dtype=float))
    return out


def no_data_for_plan(plan: pd.DataFrame, households: pd.DataFrame, access: pd.DataFrame,
                     *, scoring: Scoring) -> pd.Series:
    """Return the unknown terms of each placed household of a plan ("" when all are known).

    For plans read back from storage, which keep the terms but not this column.

    Parameters
    ----------
    plan : pandas.DataFrame
        ``household_id``, ``dwelling_id`` (NA when unplaced).
    households : pandas.DataFrame
        ``household_id``, ``children_0_5``, ``children_6_16``.
    access : pandas.DataFrame
        Accessibility table indexed by dwelling_id.
    scoring : Scoring
        Thresholds.

    Returns
    -------
    pandas.Series
        Aligned with ``plan``.
    """
    acc = access.copy()
    acc.index = acc.index.astype(str)
    dt = dwelling_terms(acc, scoring=scoring)
    hh = households.assign(household_id=households["household_id"].astype(str)).set_index(
        "household_id")
    hid = plan["household_id"].astype(str)
    did = plan["dwelling_id"].astype("string")
    placed = did.notna().to_numpy() & did.fillna("").isin(dt.index).to_numpy()
    rows = dt.reindex(did.fillna("").to_numpy())
    kids_0_5 = hh["children_0_5"].reindex(hid).fillna(0).to_numpy(dtype=float) > 0
    kids_6_16 = hh["children_6_16"].reindex(hid).fillna(0).to_numpy(dtype=float) > 0
    family_known = ((kids_0_5 & rows["daycare"].notna().to_numpy())
                    | (kids_6_16 & rows["school"].notna().to_numpy()))
    family_unknown = (kids_0_5 | kids_6_16) & ~family_known
    mask = (rows["transit"].isna().to_numpy() * NO_DATA_BITS["transit"]
            + rows["community"].isna().to_numpy() * NO_DATA_BITS["community"]
            + family_unknown * NO_DATA_BITS["family"])
    words = np.where(placed, no_data_words(mask), "")
    return pd.Series(words, index=plan.index, dtype=object)


def no_data_words(mask: np.ndarray | pd.Series) -> np.ndarray:
    """Turn ``no_data`` bit masks into text: the unknown terms, e.g. ``"transit, family"``.

    Examples
    --------
    >>> no_data_words(np.array([0, 1, 6])).tolist()
    ['', 'transit', 'community, family']
    """
    m = np.nan_to_num(np.asarray(mask, dtype=float), nan=0.0).astype(np.int64)
    out = np.full(len(m), "", dtype=object)
    for value in np.unique(m):
        names = [t for t in PAIR_TERMS if int(value) & NO_DATA_BITS[t]]
        out[m == value] = ", ".join(names)
    return out


def combine(terms: dict[str, np.ndarray], policy: Policy) -> np.ndarray:
    """Weighted mean of the applicable terms, in [0, 1], with unknown terms per the policy.

    NaN means not applicable, unless the term's bit is set in ``terms["no_data"]``: then it is
    unknown and counts as ``policy.unknown`` says: ``leave_out`` and ``exclude`` leave it out
    (the weights are renormalised over the known terms; under ``exclude`` such pairs are not
    eligible in the first place), ``neutral`` counts it as ``unknown.neutral_value``. A pair
    none of whose applicable terms is known scores ``unknown.neutral_value``.

    Examples
    --------
    >>> from placement.config import Policy
    >>> t = {"transit": np.array([1.0]), "community": np.array([0.0]),
    ...      "family": np.array([np.nan]), "anchor": np.array([np.nan])}
    >>> round(float(combine(t, Policy())[0]), 4)  # 0.35 / (0.35 + 0.2)
    0.6364
    """
    w = policy.weights
    n = len(terms["transit"])
    no_data = terms.get("no_data")
    mask = np.zeros(n, np.int64) if no_data is None else np.asarray(no_data, np.int64)
    neutral = float(policy.unknown.neutral_value)
    num = np.zeros(n)
    den = np.zeros_like(num)
    any_unknown = np.zeros(n, dtype=bool)
    for name in PAIR_TERMS:
        wt = getattr(w, name)
        if wt == 0 or terms.get(name) is None:  # a term not computed applies to nobody
            continue
        v = np.asarray(terms[name], dtype=float)
        unknown = (mask & NO_DATA_BITS[name]) != 0
        any_unknown |= unknown
        if policy.unknown.mode(name) == "neutral":
            v = np.where(unknown, neutral, v)
        ok = ~np.isnan(v)
        num += np.where(ok, wt * np.nan_to_num(v), 0.0)
        den += np.where(ok, wt, 0.0)
    out = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return np.where((den <= 0) & any_unknown, neutral, out)
