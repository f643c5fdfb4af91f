"""Retention model and fairness audit on the demo: validation, recovered relation, weight effect.

Run from the repository root (no extra dependency; lifelines is a runtime dependency)::

    .venv/bin/python benchmarks/retention_model.py [--out benchmarks/retention_model.json]

Prints Markdown tables for benchmarks/RESULTS.md:

1. out-of-time validation of the retention model on the demo history (train on cohorts before
   Y, test on Y), with calibration by decile;
2. the documented relation of the demo history (:mod:`placement.demo_history`) against what a
   Cox model (lifelines) and the logistic model recover from the data;
3. the fairness audit of the demo's plan (default policy) and of the transit-weighted and
   retention-weighted plans;
4. the effect of the policy weight ``retention`` on predicted retention and the other measures.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import platform
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from placement import planning
from placement.dataset import load_dataset
from placement.demo import CENTRE_LAT_LON
from placement.demo_history import HAZARD_RATIOS, STOP_CAP_M, placement_covariates
from placement.fairness_plans import audit_dataset
from placement.retention_model import (
    CATEGORICAL,
    ModelSettings,
    fit_retention_model,
    outcome_frame,
    validate_out_of_time,
)
from placement.retention_survival import cox_model, survival_frame

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "geo" / "demo"


def truth_covariates(folder: Path) -> pd.DataFrame:
    """The documented covariates of each demo dwelling, computed from the dataset's files."""
    dw = pd.read_csv(folder / "dwellings.csv", dtype={"dwelling_id": str})
    with zipfile.ZipFile(folder / "gtfs.zip") as z:
        stops = pd.read_csv(io.BytesIO(z.read("stops.txt")))
    cov = placement_covariates(dw["lat"].to_numpy(), dw["lon"].to_numpy(),
                               stops["stop_lat"].to_numpy(), stops["stop_lon"].to_numpy(),
                               CENTRE_LAT_LON)
    out = pd.DataFrame(cov, index=dw["dwelling_id"])
    out["stop_100m"] = (np.minimum(out["stop_m"], STOP_CAP_M) - 250.0) / 100.0
    return out


def recovered_relation(ds, folder: Path) -> pd.DataFrame:
    """Cox log hazard ratios of the documented covariates against the truth."""
    truth = truth_covariates(folder)
    persons = outcome_frame(ds.history, measures=truth[["stop_100m", "km_to_centre"]])
    surv = survival_frame(persons, as_of=persons.attrs["as_of"])
    types = ["single", "couple", "single_parent", "large_family"]  # reference: family
    for t in types:
        surv[f"type_{t}"] = (surv["household_type"] == t).astype(float)
    cox = cox_model(surv, covariates=["stop_100m", "km_to_centre",
                                      *[f"type_{t}" for t in types]])
    ref = math.log(HAZARD_RATIOS["family"])
    true = {"stop_100m": math.log(HAZARD_RATIOS["per_100m_to_stop"]),
            "km_to_centre": math.log(HAZARD_RATIOS["per_km_to_centre"]),
            **{f"type_{t}": math.log(HAZARD_RATIOS[t]) - ref for t in types}}
    cox = cox.assign(true_log_hr=cox["covariate"].map(true),
                     log_hr=np.log(cox["hazard_ratio"]),
                     log_ci_low=np.log(cox["ci_low"]), log_ci_high=np.log(cox["ci_high"]))
    return cox[["covariate", "true_log_hr", "log_hr", "log_ci_low", "log_ci_high", "n",
                "events"]]


def md(frame: pd.DataFrame, floatfmt: str = ".3f") -> str:
    """A frame as a Markdown table."""
    cols = list(frame.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for _, r in frame.astype(object).iterrows():
        cells = []
        for c in cols:
            v = r[c]
            if isinstance(v, float):
                cells.append("–" if math.isnan(v) else format(v, floatfmt))
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    """Run every part and print the tables."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=None, help="Also write the numbers as JSON.")
    args = ap.parse_args()
    started = time.perf_counter()
    print(f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}, Python "
          f"{platform.python_version()}\n")
    ds = load_dataset(DEMO)
    acc = planning.accessibility(DEMO)
    persons = outcome_frame(ds.history, measures=acc, areas=ds.areas, dwellings=ds.dwellings)
    known = persons["stayed"].notna()
    print(f"History: {len(persons)} persons placed 2016-2025, {int(known.sum())} with an ended "
          f"integration period, of whom {persons.loc[known, 'stayed'].mean():.1%} stayed.\n")

    print("## 1. Out-of-time validation (default settings)\n")
    val = validate_out_of_time(persons)
    print(md(val.by_year))
    print()
    print(val.words())
    print()
    print(md(val.calibration))
    print("\nPenalty and features (pooled out-of-time AUC / Brier skill):\n")
    rows = []
    for l2 in (2.0, 20.0, 100.0):
        for cats in (("household_type",), CATEGORICAL):
            v = validate_out_of_time(persons, ModelSettings(l2=l2, categorical=cats))
            rows.append({"l2": l2, "categorical": "+".join(cats), "auc": v.pooled["auc"],
                         "skill": v.pooled["skill"]})
    print(md(pd.DataFrame(rows)))

    print("\n## 2. Documented relation against what is recovered\n")
    rec = recovered_relation(ds, DEMO)
    print(md(rec))
    model = fit_retention_model(persons)
    print("\nLogistic model on the access-table measures (all cohorts with an outcome), "
          "log-odds of staying per SD:\n")
    print(md(model.coefficients()))

    print("\n## 3. Fairness audit of the demo's plans\n")
    audit, words = audit_dataset(DEMO, "default")
    print(words)
    print()
    for flag in audit.flags:
        print(f"- {flag}")
    shown = audit.shown()
    keep = ["share_placed", "mean_score", "mean_transit", "mean_family",
            "share_near_served_stop", "families_daycare_school_15min", "predicted_retention"]
    wide = shown.loc[shown["measure"].isin(keep) & (shown["dimension"] != "step_free")]
    for plan in dict.fromkeys(wide["plan"]):
        p = wide.loc[wide["plan"] == plan]
        t = p.pivot_table(index="group", columns="measure", values="value", aggfunc="first",
                          sort=False)
        n = p.loc[p["measure"] == "share_placed"].set_index("group")["n"]
        t.insert(0, "households", n)
        t = t.reindex(columns=["households", *keep])
        print(f"\n{plan} (households moved against the first plan: "
              f"{audit.moved.get(plan, 0)}):\n")
        print(md(t.reset_index(), ".2f"))

    print("\n## 4. Effect of the retention weight\n")
    rows = []
    base = None
    for w in (0.0, 0.1, 0.25, 0.5, 1.0, 3.0):
        plan = planning.make_plan(DEMO, "default", weights={"retention": w}, dataset=ds,
                                  access=acc)
        if base is None:
            base = plan
        fit = plan.retention or planning.retention_model_for(ds, acc)
        plan.retention = fit
        m = plan.measures
        a = plan.assignments
        rows.append({
            "retention weight": w,
            "expected retention": planning.expected_retention(plan),
            "base rate": fit.base_rate,
            "target (+10 %)": 1.1 * fit.base_rate,
            "persons placed": m["persons_placed"],
            "near served stop": m["share_near_served_stop"],
            "median PT jobcenter (min)": m["median_pt_jobcenter_min"],
            "families daycare/school 15 min": m["families_daycare_school_15min"],
            "mean transit": float(np.nanmean(a["transit"])),
            "mean community": float(np.nanmean(a["community"])),
            "mean family": float(np.nanmean(a["family"])),
            "largest area share of cap": m["largest_area_share_of_cap"],
            "moved vs weight 0": int((a["dwelling_id"].astype("string").fillna("")
                                      != base.assignments["dwelling_id"].astype("string")
                                      .fillna("")).sum()),
        })
    effect = pd.DataFrame(rows)
    print(md(effect))
    print(f"\nTotal time {time.perf_counter() - started:.0f} s.")
    if args.out:
        args.out.write_text(json.dumps({
            "validation": val.by_year.to_dict(orient="records"), "pooled": val.pooled,
            "recovered": rec.to_dict(orient="records"),
            "effect": effect.to_dict(orient="records")}, indent=2, default=str) + "\n",
            encoding="utf-8")


if __name__ == "__main__":
    main()
