"""Policy measures of a placement plan: the numbers a planner compares between scenarios.

Every measure is computed from the plan (household → dwelling), the households, the dwellings
with their local area, the accessibility table and the areas with their caps. The same
functions serve ``placement scenario compare``, the benchmarks (MILP against a greedy baseline)
and the app, so a number means the same thing everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

#: A stop counts as served at this many departures per hour (06–20) within 500 m.
SERVED_DEPARTURES_PER_HOUR = 2.0
#: Walking minutes within which daycare/school count as "within reach" for families.
FAMILY_REACH_MIN = 15.0

#: Measure keys in display order, with a label and unit.
MEASURES: dict[str, tuple[str, str]] = {
    "households_placed": ("Households placed", "households"),
    "households_unplaced": ("Households unplaced", "households"),
    "persons_placed": ("Persons placed", "persons"),
    "share_near_served_stop": ("Placed persons within 500 m of a stop with ≥ 2 departures/h",
                               "share"),
    "median_pt_jobcenter_min": ("Median public-transport time to the jobcenter", "min"),
    "median_pt_language_school_min": ("Median public-transport time to the language school",
                                      "min"),
    "persons_with_stop_data": ("Placed persons whose service level is known (base of the "
                               "share near a served stop)", "persons"),
    "families_daycare_school_15min": ("Families with daycare and school within 15 min walk",
                                      "share"),
    "families_with_walk_data": ("Placed families whose daycare/school walk is known (base of "
                                "the families share)", "households"),
    "mean_associations_15min": ("Associations within 15 min walk (mean per placed household)",
                                "associations"),
    "households_with_association_data": ("Placed households whose associations within 15 min "
                                         "are known (base of the mean)", "households"),
    "households_no_data": ("Placed households with at least one score term unknown (no data)",
                           "households"),
    "largest_area_share_of_cap": ("Largest area: persons under the programme against its cap",
                                  "share of cap"),
    "expected_retention": ("Expected retention of the persons placed (retention model; an "
                           "association, not a cause)", "share"),
    "objective": ("Objective", "score"),
    "gap": ("Optimality gap", "share"),
}


def area_caps(areas: pd.DataFrame, max_area_share: float,
              overrides: Mapping[str, float] | None = None) -> pd.Series:
    """Return the cap in persons per area: ``floor(share × population)``.

    Parameters
    ----------
    areas : pandas.DataFrame
        Columns ``area_id`` and ``population``.
    max_area_share : float
        Default share of the population.
    overrides : mapping, optional
        Share per ``area_id`` replacing the default.

    Returns
    -------
    pandas.Series
        Cap in persons (int), indexed by area_id.
    """
    share = pd.Series(float(max_area_share), index=areas["area_id"].astype(str))
    for area_id, value in (overrides or {}).items():
        share[str(area_id)] = float(value)
    pop = areas.set_index(areas["area_id"].astype(str))["population"].astype(float)
    return np.floor(share * pop + 1e-9).astype(int)


def area_table(plan: pd.DataFrame, households: pd.DataFrame, dwellings: pd.DataFrame,
               areas: pd.DataFrame, caps: pd.Series) -> pd.DataFrame:
    """Persons placed per local area against its cap.

    Parameters
    ----------
    plan : pandas.DataFrame
        ``household_id`` and ``dwelling_id`` (NA when unplaced).
    households : pandas.DataFrame
        ``household_id`` and ``persons``.
    dwellings : pandas.DataFrame
        ``dwelling_id`` and ``area_id``.
    areas : pandas.DataFrame
        ``area_id``, ``name``, ``population``, ``integration_residents``.
    caps : pandas.Series
        Cap in persons by area_id (:func:`area_caps`).

    Returns
    -------
    pandas.DataFrame
        One row per area: area_id, name, population, integration_residents, persons_placed,
        households_placed, cap_persons, share_of_cap ((resident + placed) / cap; inf when the
        cap is 0 and someone is there).
    """
    placed = _placed(plan, households, dwellings)
    by_area = placed.groupby("area_id").agg(persons_placed=("persons", "sum"),
                                            households_placed=("household_id", "count"))
    out = areas[["area_id", "name", "population", "integration_residents"]].copy()
    out["area_id"] = out["area_id"].astype(str)
    out = out.merge(by_area, left_on="area_id", right_index=True, how="left")
    out[["persons_placed", "households_placed"]] = (
        out[["persons_placed", "households_placed"]].fillna(0).astype(int))
    out["cap_persons"] = out["area_id"].map(caps).astype(int)
    used = out["integration_residents"] + out["persons_placed"]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(out["cap_persons"] > 0, used / out["cap_persons"].clip(lower=1),
                         np.where(used > 0, np.inf, 0.0))
    out["share_of_cap"] = share
    return out.sort_values("area_id").reset_index(drop=True)


def _placed(plan: pd.DataFrame, households: pd.DataFrame,
            dwellings: pd.DataFrame) -> pd.DataFrame:
    """Placed rows joined with household size/children and dwelling area."""
    p = plan[["household_id", "dwelling_id"]].dropna(subset=["dwelling_id"]).copy()
    p["household_id"] = p["household_id"].astype(str)
    p["dwelling_id"] = p["dwelling_id"].astype(str)
    hh_cols = [c for c in ("household_id", "persons", "children_0_5", "children_6_16")
               if c in households.columns]
    hh = households[hh_cols].copy()
    hh["household_id"] = hh["household_id"].astype(str)
    dw = pd.DataFrame({"dwelling_id": dwellings["dwelling_id"].astype(str).to_numpy(),
                       "area_id": dwellings["area_id"].astype(str).to_numpy()})
    return p.merge(hh, on="household_id", how="left").merge(dw, on="dwelling_id", how="left")


def _walk_known(acc: pd.DataFrame, cat: str) -> np.ndarray:
    from placement.score import walk_known

    return walk_known(acc, cat)


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    ok = ~np.isnan(values)
    values, weights = values[ok], weights[ok]
    if not len(values):
        return float("nan")
    order = np.argsort(values, kind="stable")
    values, weights = values[order], weights[order]
    cum = np.cumsum(weights)
    half = cum[-1] / 2.0
    i = int(np.searchsorted(cum, half))
    if np.isclose(cum[i], half) and i + 1 < len(values):
        return float((values[i] + values[i + 1]) / 2.0)
    return float(values[i])


def plan_measures(plan: pd.DataFrame, households: pd.DataFrame, dwellings: pd.DataFrame,
                  access: pd.DataFrame, areas: pd.DataFrame, caps: pd.Series, *,
                  summary: Mapping[str, object] | None = None) -> dict[str, float]:
    """Compute the policy measures of a plan.

    Parameters
    ----------
    plan : pandas.DataFrame
        ``household_id``, ``dwelling_id`` (NA when unplaced).
    households : pandas.DataFrame
        ``household_id``, ``persons``, ``children_0_5``, ``children_6_16``.
    dwellings : pandas.DataFrame
        ``dwelling_id``, ``area_id``.
    access : pandas.DataFrame
        Accessibility table indexed by dwelling_id (missing columns give NaN measures).
    areas : pandas.DataFrame
        Areas with population and integration_residents.
    caps : pandas.Series
        Cap in persons per area (:func:`area_caps`).
    summary : mapping, optional
        Solver summary with ``objective`` and ``gap``.

    Returns
    -------
    dict
        The measures of :data:`MEASURES` (NaN where not computable). Medians over placed
        persons weight each household by its persons. Unknown values (no data) never count
        as 0: shares and means are over the placed households with data, and the
        ``*_with_*_data`` measures say how many that is.
    """
    placed = _placed(plan, households, dwellings)
    acc = access.copy()
    acc.index = acc.index.astype(str)
    acc = acc.reindex(placed["dwelling_id"])

    def col(name: str) -> np.ndarray:
        if name in acc.columns:
            return acc[name].to_numpy(dtype=float)
        return np.full(len(acc), np.nan)

    persons = placed["persons"].to_numpy(dtype=float)
    n_persons = persons.sum()
    out: dict[str, float] = {
        "households_placed": float(len(placed)),
        "households_unplaced": float(plan["dwelling_id"].isna().sum()),
        "persons_placed": float(n_persons),
    }
    # unknown is never 0: every share is over the placed households with data, and says
    # of how many (the *_with_*_data measures)
    dep = col("departures_per_hour_500m")
    dep_known = ~np.isnan(dep)
    served = dep_known & (dep >= SERVED_DEPARTURES_PER_HOUR)  # NaN compares False
    base = persons[dep_known].sum()
    out["share_near_served_stop"] = (float(persons[served].sum() / base) if base
                                     else float("nan"))
    out["persons_with_stop_data"] = float(base)
    for key, name in (("median_pt_jobcenter_min", "pt_jobcenter_median_min"),
                      ("median_pt_language_school_min", "pt_language_school_median_min")):
        if name not in acc.columns:  # the destination is not in the data: unknown
            out[key] = float("nan")
            continue
        pt = col(name)
        # measured but no journey in time counts as slowest; not measured is left out
        pt = np.where(np.isnan(pt) & dep_known, np.inf, pt)
        out[key] = _weighted_median(pt, persons)
    small = placed.get("children_0_5", pd.Series(0, index=placed.index)).to_numpy() > 0
    school = placed.get("children_6_16", pd.Series(0, index=placed.index)).to_numpy() > 0
    families = small | school
    known_day = _walk_known(acc, "daycare")
    known_sch = _walk_known(acc, "school")
    known = (~small | known_day) & (~school | known_sch)
    ok_daycare = ~small | (col("walk_daycare_min") <= FAMILY_REACH_MIN)
    ok_school = ~school | (col("walk_school_min") <= FAMILY_REACH_MIN)
    fam_known = families & known
    out["families_daycare_school_15min"] = (float((ok_daycare & ok_school)[fam_known].mean())
                                            if fam_known.any() else float("nan"))
    out["families_with_walk_data"] = float(fam_known.sum())
    assoc = col("n_association_within_15min")
    n_assoc = int((~np.isnan(assoc)).sum())
    out["mean_associations_15min"] = float(np.nanmean(assoc)) if n_assoc else float("nan")
    out["households_with_association_data"] = float(n_assoc)
    if "no_data" in plan.columns:
        nd = plan.loc[plan["dwelling_id"].notna(), "no_data"].fillna("").astype(str)
        out["households_no_data"] = float((nd != "").sum())
    else:
        out["households_no_data"] = float("nan")
    table = area_table(plan, households, dwellings, areas, caps)
    out["largest_area_share_of_cap"] = float(table["share_of_cap"].max()) if len(table) else 0.0
    if "population_estimated" in areas.columns and bool(areas["population_estimated"].any()):
        out["largest_area_share_of_cap"] = float("nan")  # no population: no cap to compare
    s = summary or {}
    out["objective"] = float(s.get("objective", float("nan")))  # type: ignore[arg-type]
    out["gap"] = float(s.get("gap", float("nan")))  # type: ignore[arg-type]
    return out


def compare(measures: Mapping[str, Mapping[str, float]],
            keys: Sequence[str] | None = None) -> pd.DataFrame:
    """Side-by-side table of measures with differences against the first scenario.

    Parameters
    ----------
    measures : mapping
        Scenario name → measures (from :func:`plan_measures`), the base first.
    keys : sequence of str, optional
        Measures to show (default: all of :data:`MEASURES`).

    Returns
    -------
    pandas.DataFrame
        Index = measure key; columns ``measure``, ``unit``, one per scenario, and
        ``Δ <name>`` for every scenario after the first.
    """
    names = list(measures)
    keys = list(keys or MEASURES)
    table = pd.DataFrame({"measure": [MEASURES.get(k, (k, ""))[0] for k in keys],
                          "unit": [MEASURES.get(k, (k, ""))[1] for k in keys]}, index=keys)
    for name in names:
        table[name] = [measures[name].get(k, float("nan")) for k in keys]
    for name in names[1:]:
        table[f"Δ {name}"] = table[name] - table[names[0]]
    table.index.name = "key"
    return table


def changed_proposals(plans: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Households whose proposed dwelling differs between the base plan and any other.

    Parameters
    ----------
    plans : mapping
        Scenario name → plan (``household_id``, ``dwelling_id``), the base first.

    Returns
    -------
    pandas.DataFrame
        One row per changed household: household_id and the dwelling in each scenario
        (empty when unplaced or absent from that scenario).
    """
    names = list(plans)
    merged: pd.DataFrame | None = None
    for name in names:
        p = plans[name][["household_id", "dwelling_id"]].copy()
        p["household_id"] = p["household_id"].astype(str)
        p = p.rename(columns={"dwelling_id": name})
        merged = p if merged is None else merged.merge(p, on="household_id", how="outer")
    assert merged is not None
    filled = merged[names].astype("string").fillna("")
    changed = (filled.ne(filled[names[0]], axis=0)).any(axis=1)
    out = merged.loc[changed, ["household_id"]].copy()
    for name in names:
        out[name] = filled.loc[changed, name]
    return out.sort_values("household_id").reset_index(drop=True)
