"""What-if for people: named stored scenarios, lines by public name, measures in words.

The What-if page shows what these functions return:

- :func:`stored_scenarios` lists the scenarios stored with their runs, to reopen and compare;
- :func:`route_choices` names public-transport lines as riders know them, with their mode;
- :func:`measures_table` puts the measures of two or more runs side by side in Danish or
  English, with units, percentages and signed differences (never the raw objective);
- :func:`area_changes` is the change in persons placed per local area between two runs (the
  difference map), and :func:`area_display` a run's area table for people.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from placement.i18n import number, percent, t

__all__ = ["MEASURE_KEYS", "area_changes", "area_display", "measures_table", "route_choices",
           "stored_scenarios"]

#: Measures shown on the What-if page, in order (``placement.measures.MEASURES`` keys).
MEASURE_KEYS = ("households_placed", "households_unplaced", "persons_placed",
                "share_near_served_stop", "median_pt_jobcenter_min",
                "median_pt_language_school_min", "families_daycare_school_15min",
                "mean_associations_15min", "households_no_data", "largest_area_share_of_cap")
#: How each measure is written: "count", "share", "minutes" or "mean".
_KINDS = {"households_placed": "count", "households_unplaced": "count",
          "persons_placed": "count", "share_near_served_stop": "share",
          "median_pt_jobcenter_min": "minutes", "median_pt_language_school_min": "minutes",
          "families_daycare_school_15min": "share", "mean_associations_15min": "mean",
          "households_no_data": "count", "largest_area_share_of_cap": "share"}
#: GTFS route_type → mode key (``mode.<key>`` labels); extended types by their hundreds.
_MODES = {0: "tram", 1: "metro", 2: "train", 3: "bus", 4: "ferry", 5: "cable", 6: "cable",
          7: "funicular", 11: "trolleybus", 12: "monorail"}
_EXTENDED = {1: "train", 4: "metro", 7: "bus", 8: "trolleybus", 9: "tram", 10: "ferry",
             12: "ferry", 13: "cable", 14: "funicular", 15: "taxi"}


def _mode(route_type: Any) -> str:
    try:
        code = int(route_type)
    except (TypeError, ValueError):
        return "other"
    if code in _MODES:
        return _MODES[code]
    return _EXTENDED.get(code // 100, "other")


def route_choices(feed: Any, language: str = "da") -> list[tuple[str, str]]:
    """Name each line of a GTFS feed as riders know it, with its mode.

    Returns
    -------
    list of (route_id, label)
        ``label`` is e.g. ``"201 Kildeholm – Ravnstrup (bus)"``: the short name, the long
        name, the mode in words; sorted by mode, then name.
    """
    if feed is None or getattr(feed, "routes", None) is None or not len(feed.routes):
        return []
    routes = feed.routes
    out = []
    for row in routes.itertuples(index=False):
        short = str(getattr(row, "route_short_name", "") or "").strip()
        long = str(getattr(row, "route_long_name", "") or "").strip()
        if short.lower() == "nan":
            short = ""
        if long.lower() == "nan":
            long = ""
        mode = _mode(getattr(row, "route_type", None))
        name = " ".join(p for p in (short, long) if p) or str(row.route_id)
        out.append((mode, name, str(row.route_id),
                    f"{name} ({t(f'mode.{mode}', language)})"))
    out.sort()
    return [(rid, label) for _, _, rid, label in out]


def _value_text(key: str, value: Any, language: str) -> str:
    kind = _KINDS.get(key, "mean")
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return t("field.no_data", language)
    v = float(value)
    if key == "largest_area_share_of_cap" and np.isinf(v):
        return t("field.over_zero_cap", language)
    if kind == "count":
        return number(v, language)
    if kind == "share":
        return percent(v, language)
    if kind == "minutes":
        return number(v, language, unit="min")
    return number(v, language, digits=1)


def _diff_text(key: str, diff: float, language: str) -> str:
    kind = _KINDS.get(key, "mean")
    if diff is None or not np.isfinite(diff):
        return "–"
    if kind == "share":
        return percent(diff, language, signed=True, points=True)
    digits = 1 if kind == "mean" else 0
    text = number(abs(diff), language, digits=digits)
    sign = "±" if round(abs(diff), digits) == 0 else ("+" if diff > 0 else "-")
    unit = " min" if kind == "minutes" else ""
    return f"{sign}{text}{unit}"


def measures_table(measures: Mapping[str, Mapping[str, float]],
                   language: str = "da", *,
                   areas: Mapping[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Measures of runs side by side, in words, with signed differences against the first.

    Parameters
    ----------
    measures
        Name → measures (``Plan.measures`` or a stored run's ``summary["measures"]``), the
        one compared against first.
    language
        ``"da"`` or ``"en"``.
    areas
        Name → area table (``planning.run_area_table``): the largest share of a cap is taken
        from it (a stored summary cannot hold the infinite share of an area with cap 0).

    Returns
    -------
    pandas.DataFrame
        Columns: the measure (``measure.<key>`` label), its unit, one text column per name and
        ``Δ <name>`` for every name after the first. Unknown values say "no data"; the
        objective value of the solver is not shown.
    """
    names = list(measures)
    measures = {n: dict(measures[n]) for n in names}
    for n, table in (areas or {}).items():
        if n in measures and table is not None and len(table) and "share_of_cap" in table:
            share = pd.to_numeric(table["share_of_cap"], errors="coerce")
            if share.notna().any():
                measures[n]["largest_area_share_of_cap"] = float(share.max())
    rows = []
    for key in MEASURE_KEYS:
        row: dict[str, str] = {t("whatif.col_measure", language): t(f"wm.{key}", language),
                               t("whatif.col_unit", language): t(f"wu.{_KINDS[key]}",
                                                                 language)}
        values = [measures[n].get(key) for n in names]
        for n, v in zip(names, values, strict=True):
            row[n] = _value_text(key, v, language)
        first = values[0]
        for n, v in zip(names[1:], values[1:], strict=True):
            try:
                diff = float(v) - float(first)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                diff = float("nan")
            row[f"Δ {n}"] = _diff_text(key, diff, language)
        rows.append(row)
    return pd.DataFrame(rows)


def area_changes(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Change in persons placed per local area between two runs' area tables.

    Returns
    -------
    pandas.DataFrame
        ``area_id``, ``name``, ``persons_before``, ``persons_after``, ``change`` (after minus
        before), ``cap_before``, ``cap_after``.
    """
    def pick(df: pd.DataFrame) -> pd.DataFrame:
        col = "persons_placed" if "persons_placed" in df.columns else "placed_persons"
        return df.assign(area_id=df["area_id"].astype(str)).set_index("area_id")[
            [col, "cap_persons"]].rename(columns={col: "persons"})

    a, b = pick(before), pick(after)
    out = a.join(b, how="outer", lsuffix="_before", rsuffix="_after")
    out["change"] = out["persons_after"] - out["persons_before"]
    names = {}
    for df in (before, after):
        if "name" in df.columns:
            names.update(dict(zip(df["area_id"].astype(str), df["name"].astype(str),
                                  strict=True)))
    out = out.reset_index()
    out.insert(1, "name", out["area_id"].map(names).fillna(""))
    return out.rename(columns={"cap_persons_before": "cap_before",
                               "cap_persons_after": "cap_after"})


def area_display(areas: pd.DataFrame, language: str = "da") -> pd.DataFrame:
    """Write a run's area table for people: area, persons placed, cap, share of the cap."""
    placed = areas["persons_placed"] if "persons_placed" in areas.columns else areas.get(
        "placed_persons")
    share = areas["share_of_cap"] if "share_of_cap" in areas.columns else pd.Series(
        np.nan, index=areas.index)
    return pd.DataFrame({
        t("col.area", language): areas.get("name", areas["area_id"]).astype(str),
        t("field.persons_placed", language): [number(v, language) for v in placed],
        t("field.cap_persons", language): [number(v, language) for v in areas["cap_persons"]],
        t("field.share_of_cap", language): [
            t("field.over_zero_cap", language) if np.isinf(float(v)) and float(v) > 0
            else percent(v, language) for v in share],
    })


def stored_scenarios(engine: Any) -> pd.DataFrame:
    """Scenarios stored with a run, newest first: to reopen and compare on the What-if page.

    Returns
    -------
    pandas.DataFrame
        ``run_id``, ``scenario_id``, ``name``, ``created_by``, ``created_at`` (UTC).
    """
    from placement import store

    runs = store.list_runs(engine)
    runs = runs[runs["scenario_id"].notna()] if len(runs) else runs
    rows = []
    for r in runs.itertuples(index=False):
        scen = store.load_scenario(engine, int(r.scenario_id))
        rows.append({"run_id": int(r.run_id), "scenario_id": int(r.scenario_id),
                     "name": str(scen.get("name", "")), "created_by": r.created_by,
                     "created_at": r.created_at})
    out = pd.DataFrame(rows, columns=["run_id", "scenario_id", "name", "created_by",
                                      "created_at"])
    return out.iloc[::-1].reset_index(drop=True)
