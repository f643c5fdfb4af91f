"""The command line: validate prints every problem as file:row:column and sets the exit code."""

from __future__ import annotations

import json
from pathlib import Path

from fixtures_data import DWELLINGS_HEADER, DWELLINGS_ROWS, HOUSEHOLDS_HEADER, write_dataset

from placement.cli import main


def test_help_lists_the_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("validate", "demo-data", "demo"):
        assert command in out


def test_validate_clean_dataset_exits_0_with_summary(tmp_path, capsys):
    folder = write_dataset(tmp_path / "ds")
    assert main(["validate", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "dwellings: 4" in out
    assert "households: 3" in out
    assert "The dataset is valid" in out  # warnings follow after "valid" when there are any


def test_validate_reports_problems_of_every_file_and_exits_1(tmp_path, capsys):
    rows = [list(r) for r in DWELLINGS_ROWS]
    rows[1][DWELLINGS_HEADER.index("rooms")] = "0"
    rows[2][DWELLINGS_HEADER.index("available_from")] = "2025/13/01"
    hh_rows = [["H1", "2", "0", "1", "0", "2025-03-01", "no"],
               ["H1", "1", "0", "0", "0", "2025-03-02", "maybe"]]
    folder = write_dataset(tmp_path / "ds", dwellings=(DWELLINGS_HEADER, rows),
                           households=(HOUSEHOLDS_HEADER[:7], hh_rows))
    before = sorted(p.name for p in folder.iterdir())
    assert main(["validate", str(folder)]) == 1
    captured = capsys.readouterr()
    lines = [ln for ln in captured.out.splitlines() if ln.startswith(("dwellings", "households"))]
    assert "dwellings.csv:3:rooms: " in "\n".join(lines)
    assert "dwellings.csv:4:available_from: " in "\n".join(lines)
    assert "households.csv:3:household_id: " in "\n".join(lines)
    assert "households.csv:3:step_free_needed: " in "\n".join(lines)
    assert "4 problems found." in captured.err
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing written


def test_validate_missing_manifest(tmp_path, capsys):
    assert main(["validate", str(tmp_path)]) == 1
    assert "dataset.toml" in capsys.readouterr().out


def test_validate_unknown_epsg_in_manifest(tmp_path, capsys):
    folder = write_dataset(tmp_path / "ds",
                           manifest={"dwellings": {"file": "dwellings.csv", "crs": "EPSG:99999"}})
    assert main(["validate", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "dataset.toml" in out
    assert "EPSG:99999" in out


def test_truncated_osm_file_is_a_problem_not_a_traceback(tmp_path, capsys):
    folder = write_dataset(tmp_path / "ds")
    text = (folder / "streets.osm").read_text(encoding="utf-8")
    (folder / "streets.osm").write_text(text[: len(text) // 2], encoding="utf-8")
    assert main(["validate", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "streets.osm" in out


def test_demo_command_writes_the_validation_summary(tmp_path, capsys):
    folder = write_dataset(tmp_path / "ds")
    out = tmp_path / "out"
    assert main(["demo", "--dataset", str(folder), "--out", str(out)]) == 0
    summary = json.loads((out / "validation.json").read_text(encoding="utf-8"))
    assert summary["dwellings"] == 4
    assert summary["municipality"] == "Testkommune (0999)"
    assert "Outputs written to" in capsys.readouterr().out


def test_demo_on_invalid_dataset_fails_cleanly_and_writes_nothing(tmp_path, capsys):
    rows = [list(r) for r in DWELLINGS_ROWS]
    rows[0][DWELLINGS_HEADER.index("rent_dkk")] = "-5"
    folder = write_dataset(tmp_path / "ds", dwellings=(DWELLINGS_HEADER, rows))
    out = tmp_path / "out"
    assert main(["demo", "--dataset", str(folder), "--out", str(out)]) == 1
    assert "dwellings.csv:2:rent_dkk" in capsys.readouterr().err
    assert not out.exists()


def test_readme_documents_every_input_column(repo_root: Path):
    from placement import schema

    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    for table in (schema.DWELLINGS, schema.HOUSEHOLDS, schema.HISTORY, schema.POPULATION):
        for col in table:
            assert f"| `{col.name}` |" in readme, col.name


def test_access_command_writes_the_table(tmp_path, demo_dir, monkeypatch, capsys):
    import pandas as pd

    from placement import settings

    monkeypatch.setattr(settings, "cache_folder", tmp_path / "cache")
    out = tmp_path / "access.csv"
    assert main(["access", str(demo_dir), "--out", str(out), "--window", "07:00-08:00"]) == 0
    table = pd.read_csv(out)
    assert len(table) == 360
    assert {"walk_school_min", "pt_jobcenter_median_min", "departures_per_hour_500m"} <= set(
        table.columns)
    assert "Accessibility of 360 dwellings" in capsys.readouterr().out
    assert main(["access", str(demo_dir), "--out", str(out), "--window", "7-"]) != 0


def test_report_retention_command(tmp_path, demo_dir, capsys):
    out = tmp_path / "rep" / "retention.html"
    assert main(["report", "retention", str(demo_dir), "--year", "2025",
                 "--baseline-year", "2024", "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert "2025" in html
    assert "<img" in html
    assert out.with_suffix(".csv").exists()
    assert "Report written to" in capsys.readouterr().out
    da = tmp_path / "da" / "fastholdelse.html"
    assert main(["report", "retention", str(demo_dir), "--year", "2025",
                 "--baseline-year", "2024", "--out", str(da), "--language", "da"]) == 0
    page = da.read_text(encoding="utf-8")
    assert '<html lang="da">' in page
    assert "Fastholdelse efter integrationsperioden 2025" in page
    assert "Sammenligning med målet" in page
    assert da.with_suffix(".csv").read_bytes() == out.with_suffix(".csv").read_bytes()
    assert main(["report", "retention", str(demo_dir), "--year", "2025", "--out",
                 str(tmp_path / "sv.html"), "--language", "sv"]) != 0
    assert "language: expected one of en, da" in capsys.readouterr().err
    assert not (tmp_path / "sv.html").exists()


def test_propose_command_writes_proposals_and_summary(tmp_path, demo_dir, capsys):
    import pandas as pd

    out = tmp_path / "proposals.csv"
    db_url = f"sqlite:///{tmp_path / 'p.db'}"
    assert main(["db", "upgrade", "--db", db_url]) == 0
    assert main(["propose", str(demo_dir), "--policy", "stevns", "--out", str(out),
                 "--db", db_url]) == 0
    table = pd.read_csv(out, dtype={"dwelling_id": "string"})
    for column in ("household_id", "dwelling_id", "address", "local_area", "score", "transit",
                   "community", "family", "anchor", "unplaced_reason"):
        assert column in table.columns
    assert len(table) == 96
    summary = json.loads(out.with_name("proposals.summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "Optimal"
    assert {"objective", "bound", "gap", "build_s", "solve_s"} <= set(summary)
    assert "Stored as run 1" in capsys.readouterr().out


def test_scenario_compare_command(tmp_path, repo_root, capsys):
    import pandas as pd

    out = tmp_path / "cmp"
    assert main(["scenario", "compare", str(repo_root / "scenarios" / "base.toml"),
                 str(repo_root / "scenarios" / "cut_line_201.toml"), "--out", str(out)]) == 0
    table = pd.read_csv(out / "compare.csv", index_col=0, encoding="utf-8-sig")
    assert "Δ line 201 cut, 202 halved" in table.columns
    assert table.loc["households_placed", "base"] == 96
    printed = capsys.readouterr().out
    assert "Placed persons within 500 m" in printed
    assert (out / "changed.csv").exists()


def test_scenario_with_unknown_route_fails_before_running(tmp_path, repo_root, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(f'[scenario]\ndataset = "{repo_root / "data/geo/demo"}"\n'
                   '[[change]]\nkind = "cut_route"\nroute_id = "X99"\n', encoding="utf-8")
    assert main(["scenario", "run", str(bad), "--out", str(tmp_path / "o")]) == 1
    assert "route 'X99' is not in the feed" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_demo_on_the_bundled_dataset_runs_every_step(tmp_path, demo_dir, capsys):
    out = tmp_path / "demo-output"
    assert main(["demo", "--out", str(out)]) == 0
    for name in ("validation.json", "accessibility.csv", "proposals.csv",
                 "proposals.summary.json", "placement.db", "proposals_case_handling.csv",
                 "proposals.gpkg", "scenario/compare.csv", "retention_2025.html",
                 "retention_2025.csv"):
        assert (out / name).exists(), name


def test_readme_documents_every_policy_key(repo_root: Path):
    from placement.config import describe_policy

    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    for row in describe_policy():
        assert f"| `{row['key']}` |" in readme, row["key"]
