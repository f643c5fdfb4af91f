"""Hostile text in the input never becomes script or markup on the map, nor a formula in Excel."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess

import fixtures_data as fd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from placement import mapview
from placement.dataset import load_dataset

BASE = "/app/static/vendor"
#: Values a person could type into an id, a name or a reason.
HOSTILE = [
    "${alert(document.cookie)}",
    "`;alert(1);`",
    "<img src=x onerror=alert(1)>",
    "\\x3cimg src=x onerror=alert(1)\\x3e",
    "</script><script>alert(1)</script>",
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    folder = fd.write_dataset(tmp_path_factory.mktemp("tiny") / "ds")
    return load_dataset(folder)


def _template_literals(page: str) -> list[str]:
    """Bodies of the JavaScript template literals of the page (folium's popups and tooltips)."""
    return re.findall(r"`([^`]*)`", page, flags=re.S)


def _hostile_map(ds, value: str) -> str:
    areas = ds.areas.assign(name=[f"{value} {i}" for i in range(len(ds.areas))])
    designated = ds.designated.assign(name=value) if len(ds.designated) else ds.designated
    ds = dataclasses.replace(ds, areas=areas, designated=designated)
    ids = list(ds.dwellings["dwelling_id"].astype(str))
    proposals = pd.DataFrame({"household_id": [value, "H2"], "dwelling_id": ids[:2],
                              "persons": [1, 2], "score": [0.5, 0.4]})
    alternatives = pd.DataFrame({"household_id": [value], "rank": [1], "dwelling_id": [value],
                                 "score": [0.3], "score_diff": [-0.2]})
    access = pd.DataFrame({"dwelling_id": ids, "score": np.linspace(0, 1, len(ids))})
    m = mapview.build_map(ds, access=access, proposals=proposals, alternatives=alternatives,
                          asset_base=BASE, language="en")
    return m.get_root().render()


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_text_is_inert_in_every_template_literal(tiny, value):
    page = _hostile_map(tiny, value)
    for body in _template_literals(page):
        assert "${" not in body.replace("${aliases[i]}", "").replace(
            "${handleObject(layer.feature.properties[v])}", "")
        assert "\\x3c" not in body
        assert "<img" not in body
        assert "<script" not in body.lower()
    # outside JSON strings (inert data), a raw backquote from the input would end a literal
    code = re.sub(r'"(?:[^"\\\n]|\\.)*"', '""', page)
    assert "`;alert(1);`" not in code


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_text_is_escaped_html_in_geojson_properties(tiny, value):
    # GeoJsonTooltip copies property values into innerHTML: they must arrive escaped
    page = _hostile_map(tiny, value)
    assert "<img src=x" not in page
    assert "\\u003cimg src=x" not in page  # JSON-escaped form of the same markup
    assert "</script><script>alert" not in page


def test_household_tooltip_shows_the_id_as_text(tiny):
    import json

    page = _hostile_map(tiny, "${alert(document.cookie)}")
    # the proposal rings come as JSON data (never a template literal), their HTML escaped
    rows = [row for blob in re.findall(r"var rows = (\[.*?\]);\n", page)
            for row in json.loads(blob)]
    tooltips = [row[3] for row in rows]
    assert any("&#36;{alert(document.cookie)}" in tip for tip in tooltips)
    assert not any("${alert" in row[3] or "${alert" in row[4] for row in rows)


# ---------------------------------------------------------------------------------------------
# CSV (formula) injection
# ---------------------------------------------------------------------------------------------
FORMULAS = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx",
            "'=already quoted"]


def _case_handling_table():
    from placement import export

    proposals = pd.DataFrame({"household_id": ["H1", "H2", "H3"], "dwelling_id": ["D1", "D2", "D3"],
                              "score": [-0.5, 0.25, -1.0], "transit": [-0.1, 0.2, 0.3]})
    dwellings = pd.DataFrame({"dwelling_id": ["D1", "D2", "D3"],
                              "address": [FORMULAS[0], "Åvej 2", FORMULAS[3]],
                              "area_id": ["A1", "A1", "A1"]})
    status = pd.DataFrame({"household_id": ["H1", "H2", "H3"],
                           "status": ["approved", "rejected", "approved"],
                           "decided_by": ["anna", "=cmd|' /C calc'!A0", "bo"],
                           "decided_at": pd.to_datetime(["2026-01-02"] * 3, utc=True),
                           "decision_reason": [FORMULAS[1], FORMULAS[2], FORMULAS[6]]})
    return export, proposals, dwellings, status


def _cells(path, sep):
    import csv

    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh, delimiter=sep))


@pytest.mark.parametrize("sep", [",", ";"])
def test_case_handling_csv_has_no_cell_a_spreadsheet_runs(tmp_path, sep):
    export, proposals, dwellings, status = _case_handling_table()
    path = export.write_proposals_csv(proposals, tmp_path / "p.csv", sep=sep,
                                      dwellings=dwellings, status=status)
    rows = _cells(path, sep)
    header, body = rows[0], rows[1:]
    numeric = {"score", "transit", "run_id"}
    for row in body:
        for name, cell in zip(header, row, strict=True):
            if name in numeric:
                continue
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (name, cell)
    # negative numbers stay numbers
    scores = [row[header.index("score")] for row in body]
    assert scores[0] in ("-0.5", "-0,5")
    assert body[0][header.index("address")] == "'" + FORMULAS[0]
    # and the case handler's text comes back exactly
    back = export.read_proposals_csv(path, sep=sep)
    assert back["address"].tolist() == [FORMULAS[0], "Åvej 2", FORMULAS[3]]
    assert back["decision_reason"].tolist() == [FORMULAS[1], FORMULAS[2], FORMULAS[6]]
    assert back["decided_by"].tolist()[1] == "=cmd|' /C calc'!A0"
    np.testing.assert_array_equal(back["score"], [-0.5, 0.25, -1.0])


def test_run_files_of_propose_are_neutralised(tmp_path):
    from placement.optimizer.propose import Proposal, write_proposal

    assignments = pd.DataFrame({"household_id": ["H1"], "dwelling_id": ["D1"],
                                "address": ["=1+2"], "score": [-0.5]})
    areas = pd.DataFrame({"area_id": ["A1"], "name": ["@evil"], "share_of_cap": [-0.0]})
    alternatives = pd.DataFrame({"household_id": ["H1"], "dwelling_id": ["D2"],
                                 "score_diff": [-0.25]})
    paths = write_proposal(Proposal(assignments=assignments, areas=areas,
                                    alternatives=alternatives, summary={"status": "Optimal"}),
                           tmp_path / "proposals.csv")
    assert _cells(paths["assignments"], ",")[1] == ["H1", "D1", "'=1+2", "-0.5"]
    assert _cells(paths["areas"], ",")[1][1] == "'@evil"
    assert _cells(paths["alternatives"], ",")[1][2] == "-0.25"


@pytest.mark.parametrize("value", [*FORMULAS, "plain", "-", "'", "''=x"])
def test_neutralise_and_restore_round_trip(value):
    from placement import export

    frame = pd.DataFrame({"t": pd.array([value], dtype="string"), "n": [-3]})
    out = export.neutralise_formulas(frame)
    assert not str(out.loc[0, "t"]).startswith(("=", "+", "-", "@", "\t", "\r"))
    assert out.loc[0, "n"] == -3
    assert export.restore_formulas(out, ["t"]).loc[0, "t"] == value


def test_retention_csv_and_html_keep_group_labels_inert(tmp_path):
    from test_retention import synthetic_history

    from placement.report import write_retention_report

    history, measures = synthetic_history(n=300)
    kinds = sorted(history["household_type"].dropna().unique())
    evil = {kinds[0]: "=cmd|' /C calc'!A0", kinds[-1]: "<img src=x onerror=alert(1)>"}
    history = history.assign(household_type=history["household_type"].replace(evil))
    paths = write_retention_report(history, year=2023, measures=measures,
                                   out=tmp_path / "r.html")
    rows = _cells(paths.csv, ",")
    groups = [r[1] for r in rows[1:]]
    assert "'=cmd|' /C calc'!A0" in groups
    assert not [g for g in groups if g.startswith(("=", "+", "@", "\t", "\r"))]
    assert "<img src=x" not in paths.html.read_text(encoding="utf-8")


def test_scenario_comparison_csvs_are_neutralised(tmp_path):
    from placement.pipeline import write_compare

    table = pd.DataFrame({"measure": ["placed", "=evil"], "unit": ["", ""],
                          "base": [1.0, -2.0], "cut": [2.0, -3.0]})
    changed = pd.DataFrame({"household_id": ["@H1"], "base": ["D1"], "cut": ["-D2"]})
    write_compare(table, changed, tmp_path)
    compare = _cells(tmp_path / "compare.csv", ",")
    assert compare[2][1] == "'=evil"
    assert compare[2][-1] == "-3.0"  # a negative number stays a number
    assert _cells(tmp_path / "changed.csv", ",")[1] == ["'@H1", "D1", "'-D2"]


# ---------------------------------------------------------------------------------------------
# the page's own scripts, run in node with Leaflet and jQuery stubbed: alert must never run
# ---------------------------------------------------------------------------------------------
NODE_HARNESS = r"""
const fs = require("fs");
const vm = require("vm");
const code = fs.readFileSync(process.argv[2], "utf8");
let calls = 0;
const handler = {
  get: (t, p) => (p === Symbol.toPrimitive ? () => "" : stub),
  apply: () => stub,
  construct: () => stub,
};
const stub = new Proxy(function () {}, handler);
const context = { L: stub, $: stub, jQuery: stub, document: stub, window: stub,
                  console: console, alert: () => { calls += 1; } };
vm.createContext(context);
try { vm.runInContext(code + "\n;globalThis.__end = true;", context); }
catch (err) { console.error(String(err)); }
console.log(JSON.stringify({ alerts: calls, ran_to_the_end: context.__end === true }));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("value", ["${alert(document.cookie)}", "`+alert(1)+`",
                                   "\\`+alert(1)+\\`"])
def test_page_scripts_never_run_input_text(tiny, tmp_path, value):
    page = _hostile_map(tiny, value)
    scripts = re.findall(r"<script>(.*?)</script>", page, flags=re.S)
    assert scripts
    (tmp_path / "page.js").write_text("\n".join(scripts), encoding="utf-8")
    (tmp_path / "harness.js").write_text(NODE_HARNESS, encoding="utf-8")
    done = subprocess.run(["node", str(tmp_path / "harness.js"), str(tmp_path / "page.js")],
                          capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "alerts": 0, "ran_to_the_end": True}, done.stderr
    # the harness itself sees a script that does call alert
    (tmp_path / "evil.js").write_text("var x = `${alert(1)}`;", encoding="utf-8")
    done = subprocess.run(["node", str(tmp_path / "harness.js"), str(tmp_path / "evil.js")],
                          capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"alerts": 1,
                                                                  "ran_to_the_end": True}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("=+-@'\t\rab1 ;,\"")), max_size=8))
def test_neutralised_text_never_starts_a_formula_and_comes_back_exactly(value):
    from placement import export

    frame = pd.DataFrame({"t": pd.array([value], dtype="string")})
    cell = export.neutralise_formulas(frame).loc[0, "t"]
    assert not cell.startswith(export.FORMULA_TRIGGERS)
    assert export.restore_formulas(pd.DataFrame({"t": pd.array([cell], dtype="string")}),
                                   ["t"]).loc[0, "t"] == value


@pytest.mark.parametrize("value", HOSTILE)
def test_what_if_difference_map_keeps_hostile_ids_and_names_inert(tiny, value):
    from placement import mapcompare

    ids = [f"{value}{i}" for i in range(len(tiny.dwellings))]
    ds = dataclasses.replace(
        tiny, areas=tiny.areas.assign(name=[f"{value} {i}" for i in range(len(tiny.areas))]),
        dwellings=tiny.dwellings.assign(dwelling_id=ids))
    changes = pd.DataFrame({"area_id": ds.areas["area_id"].astype(str), "change": 1.0})
    changed = pd.DataFrame({"dwelling_id": ids[:2]})
    page = mapcompare.difference_map(ds, changes, changed, language="en",
                                     asset_base=BASE).get_root().render()
    for body in _template_literals(page):
        assert "${" not in body.replace("${aliases[i]}", "").replace(
            "${handleObject(layer.feature.properties[v])}", "")
        assert "\\x3c" not in body
        assert "<img" not in body
    assert "<img src=x" not in page
    assert "\\u003cimg src=x" not in page
    assert "</script><script>alert" not in page
    code = re.sub(r'"(?:[^"\\\n]|\\.)*"', '""', page)
    assert "`;alert(1);`" not in code
