"""Hostile text in the input never becomes script or markup on the map, nor a formula in Excel."""

from __future__ import annotations

import dataclasses
import re

import fixtures_data as fd
import numpy as np
import pandas as pd
import pytest

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
    page = _hostile_map(tiny, "${alert(document.cookie)}")
    assert "&#36;{alert(document.cookie)}" in page
