"""The annual retention report: HTML, CSV and PDF content, suppression and determinism."""

from __future__ import annotations

import base64
import csv
import html
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixtures_data import HISTORY_HEADER, write_dataset
from test_retention import CRAFTED, synthetic_history

from placement._errors import DataError
from placement.report import (
    ASSOCIATION_NOTE,
    ReportPaths,
    retention_report_for_dataset,
    summary_sentences,
    write_retention_report,
)
from placement.retention import RetentionError, RetentionTarget, retention_summary

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def value(rows: list[dict[str, str]], table: str, group: str, measure: str) -> str:
    found = [
        r["value"]
        for r in rows
        if (r["table"], r["group"], r["measure"]) == (table, group, measure)
    ]
    assert len(found) == 1, (table, group, measure, found)
    return found[0]


@pytest.fixture(scope="module")
def synthetic() -> tuple[pd.DataFrame, pd.DataFrame]:
    return synthetic_history(n=300)


@pytest.fixture(scope="module")
def written(tmp_path_factory, synthetic) -> ReportPaths:
    history, measures = synthetic
    out = tmp_path_factory.mktemp("report") / "report.html"
    return write_retention_report(
        history, year=2023, baseline_year=2021, measures=measures, out=out, pdf=True
    )


def test_html_is_self_contained_with_charts(written):
    text = written.html.read_text(encoding="utf-8")
    assert not re.search(r"(src|href)=\"https?:", text)
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    # trend, cohort, area bars; KM curves overall and per grouping
    assert len(images) >= 6
    for b64 in images:
        assert base64.b64decode(b64).startswith(PNG_SIGNATURE)
    assert "Kaplan–Meier curve, everyone" in text
    assert "Comparison with the target" in text
    assert "association, not cause" in text
    assert "Cox model" in text


def test_csv_holds_the_numbers_of_the_summary(written, synthetic):
    history, measures = synthetic
    s = retention_summary(history, year=2023, baseline_year=2021, measures=measures)
    rows = read_csv_rows(written.csv)
    o = s.overall
    assert value(rows, "overall", "all", "n") == str(o.n)
    assert value(rows, "overall", "all", "stayers") == str(o.stayers)
    assert float(value(rows, "overall", "all", "rate")) == o.rate
    assert float(value(rows, "overall", "all", "ci_low")) == o.ci_low
    c = s.comparison
    assert float(value(rows, "target", "2023 vs 2021", "target_rate")) == c.target_rate
    assert value(rows, "target", "2023 vs 2021", "met") == ("yes" if c.met else "no")
    assert value(rows, "meta", "", "year") == "2023"
    # every shown count is 0 or at least 5; the hidden ones read "<5"
    counts = [
        r["value"]
        for r in rows
        if r["measure"] in ("n", "stayers", "leavers", "censored")
        and not r["table"].startswith(("km_", "cox", "logrank"))
    ]
    assert all(v == "<5" or int(v) == 0 or int(v) >= 5 for v in counts)
    # group sizes of the area table add up to the overall n (none hidden here)
    area_n = [int(r["value"]) for r in rows if r["table"] == "area_id" and r["measure"] == "n"]
    assert sum(area_n) == o.n
    # the Kaplan–Meier points are in the CSV and never rest on fewer than 5 at risk
    at_risk = [int(r["value"]) for r in rows if r["measure"].startswith("at_risk@")]
    assert at_risk
    assert min(at_risk) >= 5
    assert {r["table"] for r in rows} >= {"km_overall", "logrank", "cox", "near_served_stop"}


def test_pdf_written(written):
    data = written.pdf.read_bytes()
    assert data.startswith(b"%PDF")
    assert data.count(b"/Type /Page\n") + data.count(b"/Type /Page ") >= 3


def test_output_is_byte_for_byte_deterministic(tmp_path, synthetic):
    history, measures = synthetic
    paths = [
        write_retention_report(
            history, year=2023, measures=measures, out=tmp_path / d / "r.html", pdf=True
        )
        for d in ("one", "two")
    ]
    for attr in ("html", "csv", "pdf"):
        a, b = (getattr(p, attr).read_bytes() for p in paths)
        assert a == b, attr


def test_small_numbers_are_not_shown(tmp_path):
    path = tmp_path / "residence_history.csv"
    path.write_text(CRAFTED, encoding="utf-8")
    from placement.load import load_history

    history = load_history(path)
    paths = write_retention_report(
        history, year=2024, baseline_year=2023, out=tmp_path / "small.html"
    )
    text = paths.html.read_text(encoding="utf-8")
    # 3 of 5 stayed: the 2 leavers are below 5, so the 60 % rate must not appear anywhere
    assert "60.0 %" not in text
    assert "is not shown because a count is below 5" in text
    assert "(a count is below 5)" in text  # the comparison with the target is withheld
    rows = read_csv_rows(paths.csv)
    assert value(rows, "overall", "all", "n") == "5"
    assert value(rows, "overall", "all", "stayers") == "<5"
    assert value(rows, "overall", "all", "rate") == "<5"
    assert value(rows, "target", "2024 vs 2023", "rate") == "<5"
    assert value(rows, "area_id", "A1", "n") == "<5"
    assert value(rows, "area_id", "A2", "n") == "<5"  # complementary
    # no Kaplan–Meier curve: fewer than 5 persons remain at risk quickly
    assert not any(r["measure"].startswith("at_risk@") and int(r["value"]) < 5 for r in rows)


def test_summary_sentences_report_target_and_censoring(synthetic):
    history, measures = synthetic
    s = retention_summary(
        history,
        year=2023,
        baseline_year=2021,
        target=RetentionTarget("points", 0.0),
        measures=measures,
        as_of="2023-09-30",
    )
    text = " ".join(summary_sentences(s, municipality="Havnsø"))
    o = s.overall
    assert f"Of the {o.n} persons whose integration period ended in 2023" in text
    assert "lived in Havnsø" in text
    assert o.censored > 0
    assert "not yet counted" in text
    verdict = "was met" if s.comparison.met else "was not met"
    assert verdict in text


def test_errors_write_nothing(tmp_path, synthetic):
    history, _ = synthetic
    with pytest.raises(RetentionError, match=r"must end in \.html"):
        write_retention_report(history, year=2023, out=tmp_path / "r.txt")
    with pytest.raises(RetentionError, match="choose another"):
        write_retention_report(history, year=2012, out=tmp_path / "r.html")
    bad = history.copy()
    bad.loc[0, "destination"] = "moon"
    with pytest.raises(DataError):
        write_retention_report(bad, year=2023, out=tmp_path / "r.html")
    assert list(tmp_path.iterdir()) == []


def crafted_rows(n: int = 40, seed: int = 7) -> list[list[str]]:
    """History rows for the tiny dataset's areas A1/A2, with ends in 2024."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        placed = pd.Timestamp("2019-01-01") + pd.Timedelta(days=int(rng.integers(0, 360)))
        area = "A1" if i % 2 else "A2"
        move = rng.random()
        moved, dest = "", ""
        if move < 0.4:
            moved = (placed + pd.Timedelta(days=int(rng.integers(30, 1700)))).date().isoformat()
            dest = "other_municipality"
        rows.append(
            [f"P{i}", f"H{i}", placed.date().isoformat(), "", area, "", moved, dest, "single", "1"]
        )
    return rows


def test_report_for_a_dataset_folder(tmp_path):
    folder = write_dataset(tmp_path / "ds", history=(HISTORY_HEADER, crafted_rows()))
    out = tmp_path / "out" / "retention.html"
    # the last move of this history is in 2023: the data date is given, else 2024 is censored
    paths = retention_report_for_dataset(folder, year=2024, out=out, pdf=True,
                                         as_of="2024-12-31")
    assert paths.html == out
    assert paths.pdf == out.with_suffix(".pdf")
    text = out.read_text(encoding="utf-8")
    assert "Testkommune" in text
    rows = read_csv_rows(paths.csv)
    assert value(rows, "overall", "all", "n") == "40"
    assert {r["group"] for r in rows if r["table"] == "area_id"} == {"A1 Vest", "A2 Øst"}


def test_dataset_without_history(tmp_path):
    folder = write_dataset(tmp_path / "ds", manifest={"history": {}})
    with pytest.raises(RetentionError, match=r"\[history\]"):
        retention_report_for_dataset(folder, year=2024, out=tmp_path / "r.html")


def test_association_note_is_plain():
    assert "association, not cause" in ASSOCIATION_NOTE


def test_demo_dataset_report(demo_dir, tmp_path):
    if not (demo_dir / "residence_history.csv").is_file():
        pytest.skip("the demo dataset has no residence_history.csv yet (run placement demo-data)")
    paths = retention_report_for_dataset(
        demo_dir, year=2025, out=tmp_path / "demo.html", baseline_year=2024, pdf=True
    )
    text = paths.html.read_text(encoding="utf-8")
    rows = read_csv_rows(paths.csv)
    n = value(rows, "overall", "all", "n")
    if n == "0":  # the demo's periods end from 2026: no rate yet, but the curves are there
        assert "there is no retention rate for 2025 yet" in text
    else:
        assert "persons whose integration period ended in 2025" in text
    assert "Kaplan–Meier curve, everyone" in text
    assert any(r["table"] == "km_overall" for r in rows)
    assert paths.pdf.read_bytes().startswith(b"%PDF")


# --- the report in Danish ---------------------------------------------------------------------
def _visible_text(page: str) -> str:
    """The text a reader sees: no tags, no embedded images, no style."""
    page = re.sub(r"<style>.*?</style>", " ", page, flags=re.DOTALL)
    page = re.sub(r'src="data:[^"]+"', " ", page)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_danish_report_has_the_same_numbers_in_danish_words(tmp_path, synthetic):
    history, measures = synthetic
    kw = {"year": 2023, "baseline_year": 2021, "measures": measures, "pdf": True}
    en = write_retention_report(history, out=tmp_path / "en" / "r.html", **kw)
    da = write_retention_report(history, out=tmp_path / "da" / "r.html", language="da", **kw)
    # the CSV is for machines: the same bytes in both languages
    assert da.csv.read_bytes() == en.csv.read_bytes()
    assert da.pdf is not None
    assert da.pdf.read_bytes().startswith(b"%PDF")
    page = da.html.read_text(encoding="utf-8")
    assert '<html lang="da">' in page
    text = _visible_text(page)
    s = retention_summary(history, year=2023, baseline_year=2021, measures=measures)
    o = s.overall
    rate = f"{o.rate * 100:.1f}".replace(".", ",") + " %"
    assert f"Af de {o.n} personer, hvis integrationsperiode sluttede i 2023" in text
    assert f"boede {o.stayers} ({rate}" in text
    for words in ("Fastholdelse efter integrationsperioden 2023", "Sammenligning med målet",
                  "Kaplan–Meier-kurve, alle", "Diagrammer", "Noter", "Husstandstype",
                  "sammenhæng, ikke årsag", "Blev boende"):
        assert words in text, words
    # no English sentence is left: none of the English report's words of more than 3 letters
    # that Danish does not share appear in the Danish text
    english = set(re.findall(r"[A-Za-z]{4,}", _visible_text(en.html.read_text("utf-8"))))
    danish = set(re.findall(r"[A-Za-z]{4,}", text))
    shared = {"Kaplan", "Meier", "Wilson", "Greenwood", "score", "rank", "Hazard", "ratio",
              "step_free_needed", "step", "free", "needed",
              "Data", "model", "hazard", "ratios", "time"}  # Danish words too ("time": hour)
    left = (english & danish) - shared
    assert not left, sorted(left)


def test_every_report_text_has_both_languages_with_the_same_fields():
    from string import Formatter

    from placement import report_text

    for key, (en, da) in report_text._TEXT.items():
        assert en.strip(), key
        assert da.strip(), key
        fields = [{f for _, f, _, _ in Formatter().parse(x) if f} for x in (en, da)]
        assert fields[0] == fields[1], key


def test_unknown_report_language_is_a_clear_error(tmp_path, synthetic):
    from placement._errors import ConfigError

    history, _ = synthetic
    with pytest.raises(ConfigError, match="language: expected one of en, da"):
        write_retention_report(history, year=2023, out=tmp_path / "r.html", language="sv")
    assert not list(tmp_path.iterdir())
