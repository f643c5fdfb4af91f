"""A sweep's outputs: ``runs.csv``, ``pareto.csv`` and the front as PNG and offline HTML.

The HTML page is self-contained (inline SVG and CSS, no script, nothing fetched), so it opens
on a closed network: hovering a point shows the run's parameters and measures, clicking it
jumps to the run's row in the table below the charts.
"""

from __future__ import annotations

import html
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from placement.measures import MEASURES
from placement.sweep.pareto import ON_FRONT, pareto_flags
from placement.sweep.spec import RunSpec, SweepSpec

#: At most this many pairs of front measures are drawn.
MAX_PANELS = 6
_FRONT, _OTHER = "#d62728", "#9e9e9e"


def _param_text(value: Any) -> Any:
    if isinstance(value, list):
        return "+".join(str(v) for v in value)
    return value


def runs_table(spec: SweepSpec, runs: Sequence[RunSpec],
               records: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per run: parameters, status, error, every measure, ids and the front flag.

    Parameters
    ----------
    spec : SweepSpec
        The sweep.
    runs : sequence of RunSpec
        The sample, in order.
    records : mapping
        run_hash → journal record.

    Returns
    -------
    pandas.DataFrame
        Columns ``run``, ``run_hash``, one per axis, ``status`` (ok, failed, or not run),
        ``error``, ``solver_status``, every key of :data:`placement.measures.MEASURES` (NaN
        where unknown or failed), ``elapsed_s``, ``scenario_id``, ``run_id``, ``pareto``
        (yes, no, unknown, failed; see :mod:`placement.sweep.pareto`).
    """
    rows = []
    for run in runs:
        rec = records.get(run.run_hash, {})
        row: dict[str, Any] = {"run": run.index, "run_hash": run.run_hash}
        row.update({k: _param_text(v) for k, v in run.params.items()})
        row["status"] = rec.get("status", "not run")
        row["error"] = rec.get("error") or ""
        row["solver_status"] = rec.get("solver_status") or ""
        measures = rec.get("measures") or {}
        for key in MEASURES:
            value = measures.get(key)
            row[key] = float("nan") if value is None else float(value)
        for key in ("elapsed_s", "scenario_id", "run_id"):
            value = rec.get(key)
            row[key] = float("nan") if value is None else value
        rows.append(row)
    table = pd.DataFrame(rows)
    for key in ("scenario_id", "run_id"):
        table[key] = table[key].astype("Int64")
    table["pareto"] = pareto_flags(table, spec.objectives) if len(table) else []
    return table


def _write_csv(frame: pd.DataFrame, path: Path) -> Path:
    from placement.export import atomic_path, neutralise_formulas

    with atomic_path(path) as tmp:
        neutralise_formulas(frame).to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
    return path


def _label(key: str, direction: str) -> str:
    label, unit = MEASURES.get(key, (key, ""))
    arrow = "higher is better" if direction == "max" else "lower is better"
    return f"{label} ({unit}; {arrow})" if unit else f"{label} ({arrow})"


def _short(key: str, direction: str) -> str:
    return f"{key} ({'higher' if direction == 'max' else 'lower'} is better)"


def _wrapped(key: str, direction: str) -> str:
    import textwrap

    return textwrap.fill(_label(key, direction), 46)


def _pairs(objectives: Mapping[str, str]) -> list[tuple[str, str | None]]:
    keys = list(objectives)
    if len(keys) == 1:
        return [(keys[0], None)]
    return list(itertools.combinations(keys, 2))[:MAX_PANELS]


def _png(table: pd.DataFrame, spec: SweepSpec, path: Path) -> Path:
    from matplotlib.figure import Figure

    from placement.export import atomic_path

    pairs = _pairs(spec.objectives)
    cols = min(len(pairs), 3)
    rows = math.ceil(len(pairs) / cols)
    fig = Figure(figsize=(5.2 * cols, 4.4 * rows), dpi=100, layout="constrained")
    shown = table[table["pareto"].isin(["yes", "no"])]
    front = shown[shown["pareto"] == ON_FRONT]
    rest = shown[shown["pareto"] != ON_FRONT]
    for i, (xk, yk) in enumerate(pairs, start=1):
        ax = fig.add_subplot(rows, cols, i)
        if yk is None:
            ax.scatter(rest["run"], rest[xk], s=18, color=_OTHER, label="dominated")
            ax.scatter(front["run"], front[xk], s=28, color=_FRONT, label="on the front")
            ax.set_xlabel("run")
            ax.set_ylabel(_wrapped(xk, spec.objectives[xk]), fontsize="small")
        else:
            ax.scatter(rest[xk], rest[yk], s=18, color=_OTHER, label="dominated")
            ax.scatter(front[xk], front[yk], s=28, color=_FRONT, label="on the front")
            if len(spec.objectives) == 2 and len(front):
                line = front.sort_values(xk)
                ax.plot(line[xk], line[yk], color=_FRONT, linewidth=1, alpha=0.6)
            ax.set_xlabel(_wrapped(xk, spec.objectives[xk]), fontsize="small")
            ax.set_ylabel(_wrapped(yk, spec.objectives[yk]), fontsize="small")
        ax.grid(alpha=0.3)
        if i == 1:
            ax.legend(fontsize="small")
    n_ok = int(table["status"].eq("ok").sum())
    fig.suptitle(f"{spec.name}: {len(front)} of {n_ok} runs on the front")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    return path


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "unknown"
        return f"{value:.4g}"
    return str(value)


def _svg_panel(table: pd.DataFrame, spec: SweepSpec, xk: str, yk: str | None,
               params: Sequence[str]) -> str:
    w, h, left, right, top, bottom = 440, 330, 62, 14, 14, 52
    shown = table[table["pareto"].isin(["yes", "no"])]
    xs = shown["run"].to_numpy(dtype=float) if yk is None else shown[xk].to_numpy(dtype=float)
    ys = shown[xk if yk is None else yk].to_numpy(dtype=float)

    def scale(values: np.ndarray, lo_px: float, hi_px: float) -> tuple[Any, np.ndarray]:
        lo, hi = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
        if hi - lo < 1e-12:
            lo, hi = lo - 0.5 * max(abs(lo), 1.0) * 0.1, hi + 0.5 * max(abs(hi), 1.0) * 0.1
        pad = (hi - lo) * 0.06
        lo, hi = lo - pad, hi + pad
        ticks = np.linspace(lo + pad, hi - pad, 5)

        def to_px(v: np.ndarray) -> np.ndarray:
            return lo_px + (np.asarray(v, dtype=float) - lo) / (hi - lo) * (hi_px - lo_px)

        return to_px, ticks

    to_x, xt = scale(xs, left, w - right)
    to_y, yt = scale(ys, h - bottom, top)
    parts = [f'<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img">',
             f'<rect x="{left}" y="{top}" width="{w - left - right}" '
             f'height="{h - top - bottom}" class="plot"/>']
    for t in xt:
        x = float(to_x(t))
        parts.append(f'<line x1="{x:.1f}" y1="{h - bottom}" x2="{x:.1f}" y2="{h - bottom + 4}" '
                     f'class="tick"/><text x="{x:.1f}" y="{h - bottom + 16}" '
                     f'text-anchor="middle">{html.escape(f"{t:.3g}")}</text>')
    for t in yt:
        y = float(to_y(t))
        parts.append(f'<line x1="{left - 4}" y1="{y:.1f}" x2="{left}" y2="{y:.1f}" '
                     f'class="tick"/><text x="{left - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{html.escape(f"{t:.3g}")}</text>')
    xlabel = "run" if yk is None else _short(xk, spec.objectives[xk])
    ylabel = _short(xk if yk is None else yk, spec.objectives[xk if yk is None else yk])
    parts.append(f'<text x="{(left + w - right) / 2:.0f}" y="{h - 10}" text-anchor="middle" '
                 f'class="axis">{html.escape(xlabel)}</text>')
    parts.append(f'<text transform="translate(14 {(top + h - bottom) / 2:.0f}) rotate(-90)" '
                 f'text-anchor="middle" class="axis">{html.escape(ylabel)}</text>')
    order = np.argsort((shown["pareto"] == ON_FRONT).to_numpy(), kind="stable")
    for i in order:
        rec = shown.iloc[int(i)]
        on = rec["pareto"] == ON_FRONT
        tip = [f"run {rec['run']} ({'on the front' if on else 'dominated'})"]
        tip += [f"{p} = {_fmt(rec[p])}" for p in params]
        tip += [f"{MEASURES[k][0]}: {_fmt(rec[k])}" for k in spec.objectives]
        px, py = float(to_x(xs[i])), float(to_y(ys[i]))
        parts.append(f'<a href="#run-{int(rec["run"])}"><circle cx="{px:.1f}" cy="{py:.1f}" '
                     f'r="{5 if on else 3.5}" fill="{_FRONT if on else _OTHER}">'
                     f'<title>{html.escape(chr(10).join(tip))}</title></circle></a>')
    parts.append("</svg>")
    return "".join(parts)


def _html(table: pd.DataFrame, spec: SweepSpec, path: Path) -> Path:
    from placement.export import atomic_path

    params = [a.name for a in spec.axes]
    n_ok = int(table["status"].eq("ok").sum())
    n_front = int(table["pareto"].eq(ON_FRONT).sum())
    n_unknown = int(table["pareto"].eq("unknown").sum())
    panels = "".join(f'<figure>{_svg_panel(table, spec, xk, yk, params)}</figure>'
                     for xk, yk in _pairs(spec.objectives))
    head = ["run", *params, "pareto", "status", *spec.objectives, "gap", "error"]
    rows = []
    for rec in table.to_dict(orient="records"):
        cls = ' class="front"' if rec["pareto"] == ON_FRONT else ""
        cells = "".join(f"<td>{html.escape(_fmt(rec[c]))}</td>" for c in head)
        rows.append(f'<tr id="run-{int(rec["run"])}"{cls}>{cells}</tr>')
    directions = ", ".join(f"{html.escape(MEASURES[k][0])} ({'max' if d == 'max' else 'min'})"
                           for k, d in spec.objectives.items())
    note = (f"<p>{n_unknown} run(s) have an unknown value of a front measure: they are neither "
            "dominated nor dominating and are listed as <em>unknown</em>.</p>"
            if n_unknown else "")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(spec.name)}: Pareto front</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; color: #222; }}
figure {{ display: inline-block; margin: 0 1em 1em 0; }}
svg text {{ font-size: 11px; fill: #333; }} svg text.axis {{ font-size: 12px; }}
rect.plot {{ fill: #fafafa; stroke: #bbb; }} line.tick {{ stroke: #888; }}
circle {{ stroke: #fff; stroke-width: 0.8; }} a:hover circle {{ stroke: #000; stroke-width: 2; }}
table {{ border-collapse: collapse; font-size: 13px; }}
td, th {{ border: 1px solid #ddd; padding: 2px 6px; text-align: right; }}
tr.front td {{ background: #fde8e8; }} tr:target td {{ background: #ffe08a; }}
</style></head><body>
<h1>{html.escape(spec.name)}</h1>
<p>{n_front} of {n_ok} runs that worked are on the Pareto front over: {directions}.
Red points are on the front; hover a point for its run, click it to see its row.</p>
{note}
{panels}
<table><thead><tr>{"".join(f"<th>{html.escape(c)}</th>" for c in head)}</tr></thead>
<tbody>{"".join(rows)}</tbody></table>
</body></html>
"""
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path


def write_outputs(spec: SweepSpec, runs: Sequence[RunSpec],
                  records: Mapping[str, Mapping[str, Any]], out_dir: str | Path
                  ) -> dict[str, Path]:
    """Write ``runs.csv``, ``pareto.csv``, ``front.png`` and ``front.html`` (atomically).

    Parameters
    ----------
    spec : SweepSpec
        The sweep.
    runs : sequence of RunSpec
        The sample.
    records : mapping
        run_hash → journal record.
    out_dir : str or Path
        Output folder.

    Returns
    -------
    dict
        ``runs``, ``pareto``, ``png``, ``html`` → path.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = runs_table(spec, runs, records)
    front = table[table["pareto"] == ON_FRONT]
    first = next(iter(spec.objectives))
    front = front.sort_values([first, "run"], ascending=[spec.objectives[first] == "min", True],
                              kind="stable")
    paths = {"runs": _write_csv(table, out / "runs.csv"),
             "pareto": _write_csv(front, out / "pareto.csv"),
             "png": _png(table, spec, out / "front.png"),
             "html": _html(table, spec, out / "front.html")}
    (out / "sweep.json").write_text(json.dumps(
        {"name": spec.name, "objectives": spec.objectives, "sample": spec.sample,
         "seed": spec.seed, "runs": len(runs)}, indent=2) + "\n", encoding="utf-8")
    paths["meta"] = out / "sweep.json"
    return paths
