"""propose and scenario use the date and window of `placement access` (or --date/--window)."""

from __future__ import annotations

from pathlib import Path

import pytest
from gtfs_tiny import Feed, Trip, write_feed

import placement.accessibility as acc
from placement import settings as placement_settings
from placement.cli import main

H = 3600


@pytest.fixture
def dataset(tmp_path: Path, monkeypatch) -> Path:
    import fixtures_data as fd

    monkeypatch.setattr(placement_settings, "cache_folder", tmp_path / "cache")
    folder = fd.write_dataset(tmp_path / "ds", manifest={"gtfs": {"file": "gtfs.zip"}})
    trips = [Trip(f"T{k}", [("A", 6 * H + k * 600, 6 * H + k * 600),
                            ("B", 6 * H + k * 600 + 900, None)]) for k in range(40)]
    write_feed(Feed(stops=[("A", 55.3805, 11.7710), ("B", 55.4095, 11.8290)], trips=trips),
               folder / "gtfs.zip")
    return folder


@pytest.fixture
def calls(monkeypatch) -> list[dict]:
    """Every call of accessibility_for_dataset (kwargs) and of compute_accessibility."""
    seen: list[dict] = []
    table_fn, compute_fn = acc.accessibility_for_dataset, acc.compute_accessibility

    def table(*args, **kwargs):
        seen.append({"what": "table", **kwargs})
        return table_fn(*args, **kwargs)

    def compute(*args, **kwargs):
        seen.append({"what": "compute", "window": kwargs.get("window")})
        return compute_fn(*args, **kwargs)

    monkeypatch.setattr(acc, "accessibility_for_dataset", table)
    monkeypatch.setattr(acc, "compute_accessibility", compute)
    return seen


def test_propose_reuses_the_table_of_the_last_access_run(dataset, tmp_path, calls, capsys):
    assert main(["access", str(dataset), "--out", str(tmp_path / "a.csv"), "--date",
                 "2024-01-09", "--window", "08:00-10:00"]) == 0
    calls.clear()
    assert main(["propose", str(dataset), "--out", str(tmp_path / "p.csv")]) == 0
    assert "window 08:00-10:00 and date 2024-01-09 of the last" in capsys.readouterr().err
    (call,) = calls  # one table, read from the cache: nothing recomputed
    assert call["what"] == "table"
    assert (call["date"], tuple(call["window"])) == ("2024-01-09", ("08:00", "10:00"))


def test_propose_window_option_wins(dataset, tmp_path, calls):
    assert main(["access", str(dataset), "--out", str(tmp_path / "a.csv"), "--window",
                 "08:00-10:00"]) == 0
    calls.clear()
    assert main(["propose", str(dataset), "--out", str(tmp_path / "p.csv"), "--window",
                 "06:30-07:30"]) == 0
    assert [c["window"] for c in calls] == [("06:30", "07:30"), ("06:30", "07:30")]


def test_propose_without_an_access_run_uses_the_default_window(dataset, tmp_path, calls):
    assert main(["propose", str(dataset), "--out", str(tmp_path / "p.csv")]) == 0
    assert calls[0]["window"] == ("07:00", "09:00")


def test_scenario_run_uses_the_same_window_for_base_and_scenario(dataset, tmp_path, calls):
    assert main(["access", str(dataset), "--out", str(tmp_path / "a.csv"), "--window",
                 "08:00-10:00"]) == 0
    scen = tmp_path / "s.toml"
    scen.write_text(f'[scenario]\nname = "cut"\ndataset = "{dataset.as_posix()}"\n'
                    '[[change]]\nkind = "thin_route"\nroute_id = "R1"\nshare_removed = 0.5\n',
                    encoding="utf-8")
    calls.clear()
    assert main(["scenario", "run", str(scen), "--out", str(tmp_path / "o")]) == 0
    tables = [c for c in calls if c["what"] == "table"]
    assert len(tables) == 2  # the base (cached) and the thinned feed (recomputed)
    assert {tuple(c["window"]) for c in tables} == {("08:00", "10:00")}
    assert [c["window"] for c in calls if c["what"] == "compute"] == [("08:00", "10:00")]
