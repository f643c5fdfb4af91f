"""Fairness audit of a plan: who gains and who loses, by household type and step-free need.

For every plan given (a plan as proposed, and the same inputs under a transit-weighted and a
retention-weighted objective, to show what the choice of target does), and for every group of
households (all; by household type: ``single``, ``couple``, ``single_parent``, ``family``,
``large_family`` = 5 persons or more; by step-free need) the audit gives:

``share_placed``
    Households placed / households in the group.
``weeks_waited``
    Mean of the plan's ``weeks_waited`` column over placed households where known; unknown (no
    number, never 0) when the plan has no such column.
``mean_score`` and ``mean_<term>`` for every score term (:data:`placement.score.PAIR_TERMS`)
    Mean over the placed households for which the term is known and applies (NaN-aware).
``share_near_served_stop``
    Placed households with >= 2 departures/h within 500 m walk, of those with timetable data.
``families_daycare_school_15min``
    Placed households with children 0-16 whose daycare (children 0-5) and school (6-16) are
    within 15 min walk, of the families with walk data.
``predicted_retention``
    Mean predicted retention (:mod:`placement.retention_model`, by household type at the
    dwelling) of the placed households; an association, not a cause, with its out-of-time
    validation shown beside it.

Every figure says of how many it is (``n``; ``count`` for shares). Small cells are suppressed
with the rules of the retention report (:func:`placement.retention_rates.suppression_mask`,
threshold ``min_cell``): a share is treated as stayers/leavers of ``n``, a mean as a count of
``n``; a count of 0 is shown unless ``hide_zero_counts`` is set. A group whose figure differs
from that of all households by more than the setting
(:class:`FairnessSettings`) is flagged in words.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from placement.measures import FAMILY_REACH_MIN, SERVED_DEPARTURES_PER_HOUR
from placement.retention_model import HOUSEHOLD_GROUPS, household_group
from placement.retention_rates import suppressed_label, suppression_mask
from placement.score import PAIR_TERMS

__all__ = [
    "AUDIT_COLUMNS",
    "MEASURES",
    "FairnessAudit",
    "FairnessSettings",
    "PlanInput",
    "audit_plan",
    "csv_rows",
    "display_tables",
    "fairness_audit",
    "flag_records",
    "write_fairness_report",
]

logger = logging.getLogger(__name__)

#: Columns of the audit table.
AUDIT_COLUMNS = ("plan", "dimension", "group", "measure", "value", "count", "n", "unit")
#: Measures: name -> (kind, unit, words).
MEASURES: dict[str, tuple[str, str, str]] = {
    "share_placed": ("share", "share of households", "share placed"),
    "weeks_waited": ("mean", "weeks", "weeks waited"),
    "mean_score": ("mean", "score 0-1", "mean score"),
    **{f"mean_{t}": ("mean", "score 0-1", f"mean {t} score") for t in PAIR_TERMS},
    "share_near_served_stop": ("share", "share of placed households",
                               "share near a served stop"),
    "families_daycare_school_15min": ("share", "share of placed families",
                                      "families with daycare/school within 15 min"),
    "predicted_retention": ("mean", "probability", "predicted retention"),
}
STEP_FREE_GROUPS = ("needs step-free", "no step-free need")


@dataclass(frozen=True, slots=True)
class FairnessSettings:
    """Settings of the audit.

    Attributes
    ----------
    min_cell : int
        Smallest count shown (as in the retention report).
    share_gap : float
        Flag a share that differs from all households' by more than this (absolute).
    score_gap : float
        Flag a mean score term that differs by more than this.
    weeks_gap : float
        Flag mean weeks waited that differ by more than this.
    retention_gap : float
        Flag a mean predicted retention that differs by more than this.
    hide_zero_counts : bool
        Treat a count of 0 (nobody, or everybody, of a group placed or near a stop) as a small
        cell, as the retention report does for its stayers and leavers. Off by default: a plan
        is a proposal, and "everyone of the group is placed" is what the audit is for; counts
        from 1 to ``min_cell - 1`` are hidden either way.
    """

    min_cell: int = 5
    share_gap: float = 0.10
    score_gap: float = 0.10
    weeks_gap: float = 4.0
    retention_gap: float = 0.05
    hide_zero_counts: bool = False

    def gap(self, measure: str) -> float:
        """Return the flag threshold of a measure."""
        if measure == "weeks_waited":
            return self.weeks_gap
        if measure == "predicted_retention":
            return self.retention_gap
        if MEASURES[measure][0] == "share":
            return self.share_gap
        return self.score_gap


@dataclass
class PlanInput:
    """One plan to audit.

    Attributes
    ----------
    assignments : pandas.DataFrame
        One row per household: ``household_id``, ``dwelling_id`` (NA: unplaced), ``score``,
        the term columns, optionally ``weeks_waited``.
    households : pandas.DataFrame
        ``household_id``, ``persons``, ``household_type``, ``children_0_5``,
        ``children_6_16``, ``step_free_needed``.
    access : pandas.DataFrame
        Accessibility table indexed by ``dwelling_id``.
    predicted_retention : numpy.ndarray, optional
        Per row of ``assignments`` (NaN: unknown); None: no model.
    """

    assignments: pd.DataFrame
    households: pd.DataFrame
    access: pd.DataFrame
    predicted_retention: np.ndarray | None = None


def _walk_known(acc: pd.DataFrame, cat: str) -> np.ndarray:
    cols = [c for c in acc.columns if str(c).startswith(f"n_{cat}_within_")]
    if cols:
        return acc[cols[0]].notna().to_numpy()
    return np.zeros(len(acc), dtype=bool)


def _household_frame(p: PlanInput) -> pd.DataFrame:
    """Per household of the plan: group, step-free need, placed and each measure's value."""
    a = p.assignments.reset_index(drop=True)
    hh = p.households.copy()
    hh.index = hh["household_id"].astype(str)
    hid = a["household_id"].astype(str)
    h = hh.reindex(hid)
    out = pd.DataFrame({"household_id": hid.to_numpy()})
    out["household_type"] = household_group(h["household_type"].fillna("unknown"),
                                            h["persons"]).to_numpy()
    sf = h["step_free_needed"] if "step_free_needed" in h.columns else pd.Series(
        pd.NA, index=h.index)
    out["step_free"] = np.where(sf.isna().to_numpy(), "unknown",
                                np.where(sf.fillna(False).astype(bool).to_numpy(),
                                         STEP_FREE_GROUPS[0], STEP_FREE_GROUPS[1]))
    did = a["dwelling_id"].astype("string")
    placed = did.notna().to_numpy()
    out["placed"] = placed
    acc = p.access.copy()
    acc.index = acc.index.astype(str)
    rows = acc.reindex(did.fillna("").to_numpy())

    def col(name: str) -> np.ndarray:
        return (pd.to_numeric(rows[name], errors="coerce").to_numpy(dtype=float)
                if name in rows.columns else np.full(len(rows), np.nan))

    def placed_only(v: np.ndarray) -> np.ndarray:
        return np.where(placed, v, np.nan)

    weeks = None
    for frame in (a, h.reset_index(drop=True)):
        if "weeks_waited" in frame.columns:
            weeks = pd.to_numeric(frame["weeks_waited"], errors="coerce").to_numpy(dtype=float)
            break
    out["weeks_waited"] = placed_only(weeks) if weeks is not None else np.nan
    out.attrs["weeks_known"] = weeks is not None
    out["mean_score"] = placed_only(pd.to_numeric(a.get("score"), errors="coerce")
                                    .to_numpy(dtype=float)) if "score" in a else np.nan
    for t in PAIR_TERMS:
        out[f"mean_{t}"] = (placed_only(pd.to_numeric(a[t], errors="coerce").to_numpy(float))
                            if t in a.columns else np.nan)
    dep = col("departures_per_hour_500m")
    out["share_near_served_stop"] = placed_only(
        np.where(np.isnan(dep), np.nan, (dep >= SERVED_DEPARTURES_PER_HOUR).astype(float)))
    c05 = pd.to_numeric(h["children_0_5"], errors="coerce").to_numpy(dtype=float)
    c616 = pd.to_numeric(h["children_6_16"], errors="coerce").to_numpy(dtype=float)
    small, school = c05 > 0, c616 > 0  # NaN > 0 is False; such rows are left out below
    known = ((~small | _walk_known(rows, "daycare")) & (~school | _walk_known(rows, "school"))
             & ~np.isnan(c05) & ~np.isnan(c616))  # unknown children: not known a family
    ok = ((~small | (col("walk_daycare_min") <= FAMILY_REACH_MIN))
          & (~school | (col("walk_school_min") <= FAMILY_REACH_MIN)))
    fam = placed & (small | school) & known
    out["families_daycare_school_15min"] = np.where(fam, ok.astype(float), np.nan)
    pr = p.predicted_retention
    out["predicted_retention"] = (placed_only(np.asarray(pr, dtype=float)) if pr is not None
                                  else np.nan)
    return out


def audit_plan(p: PlanInput, *, name: str = "plan") -> pd.DataFrame:
    """Return the unsuppressed audit of one plan (columns :data:`AUDIT_COLUMNS`).

    Parameters
    ----------
    p : PlanInput
        The plan.
    name : str
        Name in the ``plan`` column.

    Returns
    -------
    pandas.DataFrame
        One row per dimension (``all``, ``household_type``, ``step_free``), group and measure.
        ``value`` is NaN where nothing is known (``n`` = 0); ``count`` is the numerator of a
        share (NaN for means). ``attrs["weeks_known"]`` says whether weeks waited were given.
    """
    f = _household_frame(p)
    rows: list[dict[str, Any]] = []
    dims: list[tuple[str, pd.Series, tuple[str, ...]]] = [
        ("all", pd.Series("all", index=f.index), ("all",)),
        ("household_type", f["household_type"],
         tuple(HOUSEHOLD_GROUPS) + tuple(sorted(set(f["household_type"]) - set(HOUSEHOLD_GROUPS)))),
        ("step_free", f["step_free"],
         STEP_FREE_GROUPS + (("unknown",) if (f["step_free"] == "unknown").any() else ())),
    ]
    for dim, key, groups in dims:
        for g in groups:
            sub = f.loc[key == g]
            for measure, (kind, unit, _) in MEASURES.items():
                if measure == "share_placed":
                    n = len(sub)
                    count = float(sub["placed"].sum())
                    value = count / n if n else np.nan
                else:
                    v = sub[measure].to_numpy(dtype=float)
                    v = v[~np.isnan(v)]
                    n = len(v)
                    value = float(v.mean()) if n else np.nan
                    count = float(v.sum()) if kind == "share" else np.nan
                rows.append({"plan": name, "dimension": dim, "group": g, "measure": measure,
                             "value": value, "count": count, "n": n, "unit": unit})
    out = pd.DataFrame(rows, columns=list(AUDIT_COLUMNS))
    out.attrs["weeks_known"] = f.attrs["weeks_known"]
    return out


def _mask(table: pd.DataFrame, min_cell: int, hide_zero: bool = False) -> pd.DataFrame:
    """Suppression of the audit rows, per (plan, dimension, measure), with the report's rules."""
    hide = pd.DataFrame(False, index=table.index, columns=["value", "count", "n"])
    for (_, dim, measure), part in table.groupby(["plan", "dimension", "measure"], sort=False):
        n = part["n"].astype(int)
        if MEASURES[measure][0] == "share":
            count = part["count"].fillna(0).round().astype(int)
            stayers, leavers = count, n - count
            if not hide_zero:  # a count of 0 is not a small cell here (see the settings)
                stayers = stayers.where(stayers > 0, min_cell)
                leavers = leavers.where(leavers > 0, min_cell)
        else:  # a mean: hidden with its count
            stayers, leavers = n, n
        t = pd.DataFrame({"group": part["group"], "n": n, "stayers": stayers,
                          "leavers": leavers, "censored": 0, "rate": part["value"],
                          "ci_low": np.nan, "ci_high": np.nan})
        m = suppression_mask(t, min_cell=min_cell, complementary=dim != "all")
        hide.loc[part.index, "value"] = m["rate"].to_numpy()
        hide.loc[part.index, "count"] = m["stayers"].to_numpy()
        hide.loc[part.index, "n"] = m["n"].to_numpy()
    # the other measures of a group count its placed households (``n`` of a mean, ``n`` and
    # ``count`` of a share among the placed): where the group's share placed is hidden, they
    # would give away what it hides (group size - placed), so they are hidden too
    placed = table["measure"] == "share_placed"
    keys = ["plan", "dimension", "group"]
    secret = table.loc[placed & (hide["value"] | hide["count"]), keys]
    if len(secret):
        marked = table[keys].merge(secret.assign(_hide=True), on=keys, how="left")["_hide"]
        rows = marked.fillna(False).to_numpy(dtype=bool) & ~placed.to_numpy()
        hide.loc[rows, "n"] = True
        hide.loc[rows, "count"] = True
    return hide


@dataclass
class FairnessAudit:
    """The audit of one or more plans.

    Attributes
    ----------
    table : pandas.DataFrame
        Unsuppressed figures (:data:`AUDIT_COLUMNS`) of every plan.
    hidden : pandas.DataFrame
        Which ``value``/``count``/``n`` cells are suppressed.
    flags : list of str
        Disparities beyond the settings, in words (shown figures only).
    changes : pandas.DataFrame
        The shown figures side by side per plan (rows: dimension, group, measure), with the
        difference of the last plan against the first where both are shown.
    moved : dict
        Households with another dwelling in each plan than in the first one.
    notes : list of str
        Remarks (unknown weeks waited, the retention model's validation).
    settings : FairnessSettings
    """

    table: pd.DataFrame
    hidden: pd.DataFrame
    flags: list[str]
    changes: pd.DataFrame
    moved: dict[str, int]
    notes: list[str] = field(default_factory=list)
    settings: FairnessSettings = field(default_factory=FairnessSettings)
    #: The retention model's out-of-time validation
    #: (:class:`placement.retention_model.Validation`), when predicted retention is known.
    validation: Any = None

    def flag_records(self) -> list[dict[str, Any]]:
        """Return the flags as records (see :func:`flag_records`)."""
        return flag_records(self.table, self.hidden, self.settings)

    def moved_text(self, name: str) -> str:
        """Return how many households plan ``name`` houses elsewhere than the first plan.

        For a sentence: a count from 1 to ``min_cell - 1`` is said as the small-cell label.
        """
        n = int(self.moved[name])
        return suppressed_label(self.settings.min_cell) if 0 < n < self.settings.min_cell \
            else str(n)

    def shown(self) -> pd.DataFrame:
        """Return the table as it may be published: suppressed cells as ``"<5"``."""
        label = suppressed_label(self.settings.min_cell)
        out = self.table.astype(object).copy()
        out["count"] = pd.Series([int(v) if pd.notna(v) and float(v).is_integer() else v
                                  for v in self.table["count"]], index=out.index, dtype=object)
        for c in ("value", "count", "n"):
            out[c] = out[c].mask(self.hidden[c], label)
        return out


def fairness_audit(plans: Mapping[str, PlanInput], *, settings: FairnessSettings | None = None,
                   notes: list[str] | None = None, validation: Any = None) -> FairnessAudit:
    """Audit every plan and compare them (the first is the reference of the comparison).

    Parameters
    ----------
    plans : mapping of str to PlanInput
        Plans by name, e.g. as proposed, transit-weighted, retention-weighted.
    settings : FairnessSettings, optional
    notes : list of str, optional
        Remarks to carry (e.g. the retention model's validation in words).
    validation : placement.retention_model.Validation, optional
        The retention model's validation, kept with the audit (e.g. for words in Danish).

    Returns
    -------
    FairnessAudit
    """
    s = settings or FairnessSettings()
    notes = list(notes or [])
    tables = [audit_plan(p, name=name) for name, p in plans.items()]
    table = pd.concat(tables, ignore_index=True)
    if not all(t.attrs["weeks_known"] for t in tables):
        notes.append("Weeks waited are unknown: the plan has no weeks_waited column (they are "
                     "not counted as 0).")
    hidden = _mask(table, s.min_cell, s.hide_zero_counts)
    flags = _flags(table, hidden, s)
    changes = _changes(table, hidden, list(plans))
    first = next(iter(plans.values()))
    ref = first.assignments.set_index(first.assignments["household_id"].astype(str))[
        "dwelling_id"].astype("string")
    moved = {}
    for name, p in list(plans.items())[1:]:
        other = p.assignments.set_index(p.assignments["household_id"].astype(str))[
            "dwelling_id"].astype("string").reindex(ref.index)
        moved[name] = int((ref.fillna("") != other.fillna("")).sum())
    return FairnessAudit(table, hidden, flags, changes, moved, notes, s, validation)


def _fmt(measure: str, value: float) -> str:
    if measure == "weeks_waited":
        return f"{value:.1f} weeks"
    if MEASURES[measure][0] == "share":
        return f"{value:.0%}"
    return f"{value:.2f}"


def flag_records(table: pd.DataFrame, hidden: pd.DataFrame,
                 s: FairnessSettings) -> list[dict[str, Any]]:
    """Return the disparities beyond the settings as records (for words in any language).

    Each record has ``plan``, ``dimension``, ``group``, ``measure``, ``value``, ``n`` (of
    how many), ``reference`` (all households' figure) and ``difference``. Suppressed and
    unknown figures are never flagged.
    """
    out = []
    shown = table.loc[~hidden["value"] & table["value"].notna()]
    for (plan, measure), part in shown.groupby(["plan", "measure"], sort=False):
        overall = part.loc[part["dimension"] == "all", "value"]
        if overall.empty:
            continue
        ref = float(overall.iloc[0])
        for _, r in part.loc[part["dimension"] != "all"].iterrows():
            diff = float(r["value"]) - ref
            if abs(diff) > s.gap(measure) + 1e-12:
                out.append({"plan": plan, "dimension": r["dimension"], "group": r["group"],
                            "measure": measure, "value": float(r["value"]), "n": int(r["n"]),
                            "reference": ref, "difference": diff})
    return out


def _flags(table: pd.DataFrame, hidden: pd.DataFrame, s: FairnessSettings) -> list[str]:
    out = []
    for f in flag_records(table, hidden, s):
        measure, diff = f["measure"], f["difference"]
        words = MEASURES[measure][2]
        if measure == "weeks_waited":
            gap_words = f"{abs(diff):.1f} weeks {'more' if diff > 0 else 'less'}"
        elif MEASURES[measure][0] == "share":
            gap_words = f"{abs(diff) * 100:.0f} points {'higher' if diff > 0 else 'lower'}"
        else:
            gap_words = f"{abs(diff):.2f} {'higher' if diff > 0 else 'lower'}"
        out.append(f"{f['plan']}: {str(f['group']).replace('_', ' ')} households — {words} "
                   f"{_fmt(measure, f['value'])} (of {f['n']}) against "
                   f"{_fmt(measure, f['reference'])} for all households: {gap_words}.")
    return out


def _changes(table: pd.DataFrame, hidden: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    t = table.assign(value=table["value"].where(~hidden["value"]))
    wide = t.pivot_table(index=["dimension", "group", "measure"], columns="plan",
                         values="value", sort=False, dropna=False)
    wide = wide.reindex(columns=names)
    if len(names) >= 2:
        wide[f"{names[-1]} - {names[0]}"] = wide[names[-1]] - wide[names[0]]
    return wide.reset_index()


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------
#: Measures that apply to households with children only.
_FAMILY_MEASURES = ("mean_family", "families_daycare_school_15min")


def _cell(measure: str, value: Any, n: Any, group: str) -> str:
    if isinstance(value, str):
        return html.escape(value)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        if measure in _FAMILY_MEASURES and group in ("single", "couple"):
            return "not applicable"
        return "unknown (no data)"
    n_text = html.escape(str(n)) if isinstance(n, str) else f"{int(n)}"
    return f"{html.escape(_fmt(measure, float(value)))} <small>(of {n_text})</small>"


def write_fairness_report(audit: FairnessAudit, out: str | Path, *, title: str = "",
                          validation_words: str = "") -> tuple[Path, Path]:
    """Write the audit as HTML and a CSV of every (shown) number beside it.

    Parameters
    ----------
    audit : FairnessAudit
    out : str or Path
        HTML file; the CSV gets the same name with ``.csv``.
    title : str
        Heading (e.g. the municipality).
    validation_words : str
        The retention model's out-of-time validation in words, shown beside its figures.

    Returns
    -------
    tuple of Path
        HTML and CSV written.
    """
    from placement.export import atomic_path, neutralise_formulas

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    shown = audit.shown()
    csv_path = out.with_suffix(".csv")
    with atomic_path(csv_path) as tmp:
        neutralise_formulas(shown).to_csv(tmp, index=False, encoding="utf-8-sig")
    label = suppressed_label(audit.settings.min_cell)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Fairness audit {html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:75em;margin:2em auto}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
        "padding:.25em .5em;text-align:right}th:first-child,td:first-child{text-align:left}"
        ".flag{color:#8a1c00}</style></head><body>",
        f"<h1>Fairness audit {html.escape(title)}</h1>",
        "<p>Who gains and who loses under each plan, by household type and step-free need. "
        "Each figure says of how many households it is; counts below "
        f"{audit.settings.min_cell} are hidden ({html.escape(label)}), with the rules of the "
        "retention report. Predicted retention is an <b>association, not a cause</b>.</p>",
    ]
    if validation_words:
        parts.append(f"<p><b>Retention model:</b> {html.escape(validation_words)}</p>")
    parts.append("<h2>Disparities beyond the settings</h2>")
    if audit.flags:
        parts.append("<ul>" + "".join(f"<li class='flag'>{html.escape(f)}</li>"
                                      for f in audit.flags) + "</ul>")
    else:
        parts.append("<p>None: every shown group lies within the settings of all households.</p>")
    plans = list(dict.fromkeys(shown["plan"]))
    for plan in plans:
        sub = shown.loc[shown["plan"] == plan]
        parts.append(f"<h2>Plan: {html.escape(str(plan))}</h2>")
        for dim in dict.fromkeys(sub["dimension"]):
            d = sub.loc[sub["dimension"] == dim]
            groups = list(dict.fromkeys(d["group"]))
            parts.append("<table><tr><th>measure</th>" + "".join(
                f"<th>{html.escape(str(g))}</th>" for g in groups) + "</tr>")
            for measure in MEASURES:
                m = d.loc[d["measure"] == measure].set_index("group")
                parts.append(f"<tr><td>{html.escape(MEASURES[measure][2])}</td>" + "".join(
                    f"<td>{_cell(measure, m.at[g, 'value'], m.at[g, 'n'], str(g))}</td>"
                    for g in groups) + "</tr>")
            parts.append("</table>")
    if len(plans) >= 2:
        parts.append("<h2>When the objective's target changes</h2><p>"
                     + "; ".join(f"{html.escape(k)}: {html.escape(audit.moved_text(k))} "
                                 f"households get another dwelling than under "
                                 f"{html.escape(plans[0])}" for k in audit.moved)
                     + ".</p>")
        ch = audit.changes
        cols = [c for c in ch.columns if c not in ("dimension", "group", "measure")]
        parts.append("<table><tr><th>group</th><th>measure</th>" + "".join(
            f"<th>{html.escape(str(c))}</th>" for c in cols) + "</tr>")
        for _, r in ch.iterrows():
            cells = []
            for c in cols:
                v = r[c]
                cells.append("<td>–</td>" if pd.isna(v) else
                             f"<td>{html.escape(_fmt(r['measure'], float(v)))}</td>")
            parts.append(f"<tr><td>{html.escape(str(r['group']))}</td>"
                         f"<td>{html.escape(MEASURES[r['measure']][2])}</td>" + "".join(cells)
                         + "</tr>")
        parts.append("</table>")
    if audit.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>"
                                                    for n in audit.notes) + "</ul>")
    parts.append("</body></html>")
    with atomic_path(out) as tmp:
        Path(tmp).write_text("\n".join(parts), encoding="utf-8")
    return out, csv_path


def display_tables(audit: FairnessAudit) -> list[tuple[str, pd.DataFrame]]:
    """Return the audit as text tables (heading, frame) for another report, e.g. retention's.

    One table per plan and dimension: a row per measure, a column per group, each cell the
    figure with the count it is of (``"<5"`` where suppressed, ``unknown (no data)`` where
    nothing is known).
    """
    shown = audit.shown()
    out = []
    for plan in dict.fromkeys(shown["plan"]):
        sub = shown.loc[shown["plan"] == plan]
        for dim in dict.fromkeys(sub["dimension"]):
            d = sub.loc[sub["dimension"] == dim]
            groups = list(dict.fromkeys(d["group"]))
            rows = []
            for measure in MEASURES:
                m = d.loc[d["measure"] == measure].set_index("group")
                rows.append([MEASURES[measure][2], *(
                    html.unescape(_cell(measure, m.at[g, "value"], m.at[g, "n"], str(g)))
                    .replace("<small>", "").replace("</small>", "") for g in groups)])
            frame = pd.DataFrame(rows, columns=["Measure", *[str(g) for g in groups]])
            out.append((f"Fairness audit, {plan}: {dim.replace('_', ' ')}", frame))
    return out


def csv_rows(audit: FairnessAudit) -> list[tuple[str, str, str, str]]:
    """Return the audit as rows ``(table, group, measure, value)`` of a long-format CSV.

    ``table`` is ``fairness_<dimension>``, ``group`` is ``<plan>: <group>``; every measure has
    its value, ``<measure>@n`` and, for shares, ``<measure>@count`` (suppressed as ``"<5"``,
    unknown as empty).
    """
    shown = audit.shown()
    rows = []
    for r in shown.itertuples(index=False):
        table, group = f"fairness_{r.dimension}", f"{r.plan}: {r.group}"
        items = [(r.measure, r.value), (f"{r.measure}@n", r.n)]
        if MEASURES[r.measure][0] == "share":
            items.append((f"{r.measure}@count", r.count))
        for measure, v in items:
            text = ("" if v is None or (isinstance(v, float) and np.isnan(v))
                    else v if isinstance(v, str) else f"{v:.6g}")
            rows.append((table, group, measure, text))
    return rows
