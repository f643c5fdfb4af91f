"""Proposals CSV and GeoPackage: columns, Excel-friendliness, atomic writes, round trips."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point, box

from placement import db, export, store

TERMS = ["transit", "community", "family", "anchor", "spread"]


@pytest.fixture
def proposals() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 5
    parts = rng.uniform(-1, 1, size=(n, len(TERMS)))
    frame = pd.DataFrame(
        {
            "household_id": [f"H{i}" for i in range(n)],
            "dwelling_id": pd.array(["D0", "D1", None, "D3", "D4"], dtype=object),
        }
    )
    frame["score"] = parts.sum(axis=1)
    for j, term in enumerate(TERMS):
        frame[term] = parts[:, j]
    frame.loc[2, ["score", *TERMS]] = np.nan
    frame["unplaced_reason"] = [None, None, "no dwelling with 5 rooms", None, None]
    return frame


@pytest.fixture
def dwellings() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "dwelling_id": ["D0", "D1", "D2", "D3", "D4"],
            "address": ["Åvej 1, st. tv.", 'Østergade 2; 1. "th"', "Bøgevej 3", "Ærøvej 4", "Å 5"],
            "area_id": ["7001", "7001", "7002", "7002", "7003"],
            "rooms": [2, 3, 4, 2, 1],
            "available_from": pd.to_datetime(["2026-01-01"] * 5),
            "building_id": pd.array([pd.NA, "B1", "B1", pd.NA, pd.NA], dtype=object),
        },
        geometry=[Point(11.0 + i / 100, 55.0 + i / 100) for i in range(5)],
        crs="EPSG:4326",
    )


@pytest.fixture
def areas() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"area_id": ["7001", "7002", "7003"], "name": ["Sankt Jørgens", "Bøgely", "Nørreå"]},
        geometry=[
            box(10.9, 54.9, 11.015, 55.1),
            box(11.015, 54.9, 11.035, 55.1),
            box(11.035, 54.9, 11.2, 55.1),
        ],
        crs="EPSG:4326",
    )


def test_table_has_one_row_per_household_with_address_and_area(
    proposals: pd.DataFrame, dwellings: gpd.GeoDataFrame, areas: gpd.GeoDataFrame
) -> None:
    table = export.proposals_table(proposals, dwellings, areas, run_id=4)
    assert table.columns.tolist() == [
        *export.LEADING_COLUMNS,
        *TERMS,
        *export.TRAILING_COLUMNS,
    ]
    assert table["household_id"].tolist() == proposals["household_id"].tolist()
    assert table["run_id"].tolist() == [4] * 5
    assert table.loc[1, "address"] == 'Østergade 2; 1. "th"'
    assert table.loc[1, "local_area"] == "Sankt Jørgens"
    assert table.loc[4, "local_area"] == "Nørreå"
    assert pd.isna(table.loc[2, "address"])
    assert table["status"].tolist() == ["proposed", "proposed", "unplaced", "proposed", "proposed"]
    np.testing.assert_array_equal(table["score"], proposals["score"])
    # the score is the sum of its parts in this fixture, and stays so
    placed = table["dwelling_id"].notna()
    np.testing.assert_allclose(table.loc[placed, TERMS].sum(axis=1), table.loc[placed, "score"])


def test_dwellings_indexed_by_id_and_integer_ids(proposals: pd.DataFrame) -> None:
    dwellings = pd.DataFrame(
        {"address": ["a", "b", "c", "d", "e"], "area_id": [1, 1, 2, 2, 3]},
        index=pd.Index(["D0", "D1", "D2", "D3", "D4"], name="dwelling_id"),
    )
    areas = pd.DataFrame({"area_id": [1, 2, 3], "name": ["one", "two", "three"]})
    table = export.proposals_table(proposals, dwellings, areas)
    assert table["local_area"].tolist()[:2] == ["one", "one"]
    assert table["area_id"].tolist()[3] == "2"
    assert table["run_id"].isna().all()


def test_csv_is_excel_friendly_and_reads_back(
    tmp_path: Path,
    proposals: pd.DataFrame,
    dwellings: gpd.GeoDataFrame,
    areas: gpd.GeoDataFrame,
) -> None:
    path = tmp_path / "proposals.csv"
    assert export.write_proposals_csv(proposals, path, dwellings=dwellings, areas=areas) == path
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM
    text = raw.decode("utf-8-sig")
    assert text.splitlines()[0].split(",")[:3] == ["run_id", "household_id", "dwelling_id"]
    assert '"Østergade 2; 1. ""th"""' in text
    back = export.read_proposals_csv(path)
    pd.testing.assert_frame_equal(back, export.proposals_table(proposals, dwellings, areas))


def test_danish_excel_variant_uses_semicolon_and_decimal_comma(
    tmp_path: Path, proposals: pd.DataFrame, dwellings: gpd.GeoDataFrame
) -> None:
    path = export.write_proposals_csv(
        proposals, tmp_path / "forslag.csv", sep=";", dwellings=dwellings
    )
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    first = lines[1].split(";")
    header = lines[0].split(";")
    score = first[header.index("score")]
    assert re.fullmatch(r"-?\d+,\d+(e-?\d+)?", score)
    assert float(score.replace(",", ".")) == proposals.loc[0, "score"]
    back = export.read_proposals_csv(path, sep=";")
    np.testing.assert_array_equal(back["score"], proposals["score"])
    with pytest.raises(ValueError, match="must differ"):
        export.write_proposals_csv(proposals, tmp_path / "x.csv", sep=",", decimal=",")


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, proposals: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "proposals.csv"
    path.write_text("previous export\n", encoding="utf-8")

    def broken_to_csv(self: pd.DataFrame, target: Path, **kwargs: object) -> None:
        Path(target).write_text("half a fi", encoding="utf-8")
        msg = "disk full"
        raise OSError(msg)

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken_to_csv)
    with pytest.raises(OSError, match="disk full"):
        export.write_proposals_csv(proposals, path)
    assert path.read_text(encoding="utf-8") == "previous export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proposals.csv"]


def test_geopackage_has_three_layers_and_points_at_dwellings(
    tmp_path: Path,
    proposals: pd.DataFrame,
    dwellings: gpd.GeoDataFrame,
    areas: gpd.GeoDataFrame,
) -> None:
    path = export.write_proposals_gpkg(proposals, dwellings, areas, tmp_path / "p.gpkg", run_id=9)
    assert [name for name, _ in pyogrio.list_layers(path)] == list(export.GPKG_LAYERS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.gpkg"]
    layer = gpd.read_file(path, layer="proposals")
    assert layer.crs.to_epsg() == 4326
    assert layer["household_id"].tolist() == proposals["household_id"].tolist()
    assert layer.geometry.isna().tolist() == [False, False, True, False, False]
    by_id = dwellings.set_index("dwelling_id").geometry
    for row in layer[layer.geometry.notna()].itertuples():
        assert row.geometry.equals(by_id[row.dwelling_id])
    np.testing.assert_array_equal(layer["score"], proposals["score"])
    assert (layer["run_id"] == 9).all()
    read_dwellings = gpd.read_file(path, layer="dwellings")
    assert read_dwellings["address"].tolist() == dwellings["address"].tolist()
    assert len(gpd.read_file(path, layer="areas")) == 3
    # written again over the old file: still three layers, not six
    export.write_proposals_gpkg(proposals, dwellings, areas, path)
    assert len(pyogrio.list_layers(path)) == 3


def test_run_stored_exported_and_reread_gives_the_same_numbers(
    tmp_path: Path,
    proposals: pd.DataFrame,
    dwellings: gpd.GeoDataFrame,
    areas: gpd.GeoDataFrame,
) -> None:
    url = f"sqlite:///{(tmp_path / 'placement.db').as_posix()}"
    db.upgrade(url)
    engine = db.open_engine(url)
    folder = tmp_path / "ds"
    folder.mkdir()
    (folder / "households.csv").write_text("household_id\nH0\n", encoding="utf-8")
    dataset_id = store.register_dataset(engine, folder, user="anna")
    run_id = store.save_run(
        engine,
        dataset_id,
        summary={"status": "optimal", "objective": float(np.nansum(proposals["score"]))},
        proposals=proposals,
        policy={"seed": 0},
        user="anna",
    )
    store.decide(
        engine,
        run_id=run_id,
        household_id="H1",
        dwelling_id=None,
        action="approve",
        user="Bo Ærø",
        reason="near school",
    )
    store.decide(
        engine, run_id=run_id, household_id="H3", dwelling_id=None, action="reject", user="anna"
    )
    summary, stored = store.load_run(engine, run_id)
    status = store.proposal_status(engine, run_id)
    path = export.write_proposals_csv(
        stored,
        tmp_path / "forslag.csv",
        sep=";",
        dwellings=dwellings,
        areas=areas,
        status=status,
        run_id=run_id,
        terms=summary["terms"],
    )
    back = export.read_proposals_csv(path, sep=";")
    engine.dispose()

    for column in ["score", *TERMS]:
        np.testing.assert_array_equal(back[column].to_numpy(), proposals[column].to_numpy())
    assert back["dwelling_id"].isna().tolist() == proposals["dwelling_id"].isna().tolist()
    assert back["status"].tolist() == ["proposed", "approved", "unplaced", "rejected", "proposed"]
    assert back.loc[1, "decided_by"] == "Bo Ærø"
    assert back.loc[1, "decision_reason"] == "near school"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", back.loc[1, "decided_at_utc"])
    assert pd.isna(back.loc[0, "decided_at_utc"])
    assert (back["run_id"] == run_id).all()
    assert np.nansum(back["score"]) == summary["objective"]


def optimiser_shaped(proposals: pd.DataFrame) -> pd.DataFrame:
    """The frame as placement.optimizer.propose returns it (dtypes included)."""
    frame = pd.DataFrame(
        {
            "household_id": pd.array(proposals["household_id"], dtype="string"),
            "dwelling_id": pd.array(proposals["dwelling_id"], dtype="string"),
            "area_id": pd.array(["7001", "7001", None, "7002", "7003"], dtype="string"),
            "persons": np.array([1, 4, 6, 2, 1], dtype=np.int64),
            "score": proposals["score"],
        }
    )
    for term in TERMS[:4]:
        frame[term] = proposals[term]
    frame["locked"] = [False, True, False, False, False]
    frame["kept"] = [False, False, False, True, False]
    reasons = proposals["unplaced_reason"].fillna("")
    frame["unplaced_reason"] = pd.array(reasons, dtype="string")
    return frame


def test_optimiser_frame_stores_and_exports_only_the_score_terms(
    tmp_path: Path, proposals: pd.DataFrame, dwellings: gpd.GeoDataFrame
) -> None:
    frame = optimiser_shaped(proposals)
    url = f"sqlite:///{(tmp_path / 'placement.db').as_posix()}"
    db.upgrade(url)
    engine = db.open_engine(url)
    folder = tmp_path / "ds"
    folder.mkdir()
    (folder / "a.csv").write_text("x\n", encoding="utf-8")
    dataset_id = store.register_dataset(engine, folder, user="anna")
    run_id = store.save_run(
        engine, dataset_id, summary={"status": "Optimal"}, proposals=frame, policy={}
    )
    summary, stored = store.load_run(engine, run_id)
    engine.dispose()
    assert summary["terms"] == TERMS[:4]
    assert stored["unplaced_reason"].tolist()[1:3] == ["", "no dwelling with 5 rooms"]
    table = export.proposals_table(frame, dwellings, run_id=run_id)
    assert table.columns.tolist() == [
        *export.LEADING_COLUMNS,
        *TERMS[:4],
        *export.TRAILING_COLUMNS,
    ]
    back = export.read_proposals_csv(export.write_proposals_csv(stored, tmp_path / "p.csv"))
    for column in ["score", *TERMS[:4]]:
        np.testing.assert_array_equal(back[column].to_numpy(), frame[column].to_numpy())


# ---------------------------------------------------------------------------------------------
# a run's files as one set; temporaries of killed exports
# ---------------------------------------------------------------------------------------------
def _proposal(tag: str):
    from placement.optimizer.propose import Proposal

    return Proposal(
        assignments=pd.DataFrame({"household_id": ["H1"], "dwelling_id": [tag], "score": [1.0]}),
        areas=pd.DataFrame({"area_id": ["A1"], "persons_placed": [1]}),
        alternatives=pd.DataFrame({"household_id": ["H1"], "dwelling_id": [f"{tag}x"]}),
        summary={"status": "Optimal", "tag": tag},
    )


def test_a_kill_between_renames_never_leaves_a_new_file_beside_an_old_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from placement.optimizer.propose import write_proposal

    out = tmp_path / "proposals.csv"
    paths = write_proposal(_proposal("OLD"), out)
    summary = json.loads(paths["summary"].read_text(encoding="utf-8"))
    assert export.check_file_set(paths["summary"], summary["files"]) == []
    real_replace = Path.replace
    calls = {"n": 0}

    def dying_replace(self: Path, target: Path) -> Path:
        calls["n"] += 1
        if calls["n"] == 2:  # killed after the first file of the run was moved in
            msg = "killed"
            raise KeyboardInterrupt(msg)
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", dying_replace)
    with pytest.raises(KeyboardInterrupt):
        write_proposal(_proposal("NEW"), out)
    monkeypatch.undo()
    assert "NEW" in out.read_text(encoding="utf-8")
    # the old summary no longer claims the files: the set is visibly incomplete
    assert not paths["summary"].exists()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    # the next write gives a complete set again
    paths = write_proposal(_proposal("NEW"), out)
    summary = json.loads(paths["summary"].read_text(encoding="utf-8"))
    assert summary["tag"] == "NEW"
    assert sorted(summary["files"]) == ["proposals.alternatives.csv", "proposals.areas.csv",
                                        "proposals.csv"]
    assert export.check_file_set(paths["summary"], summary["files"]) == []
    (tmp_path / "proposals.areas.csv").write_text("area_id\nother run\n", encoding="utf-8")
    assert export.check_file_set(paths["summary"], summary["files"]) == ["proposals.areas.csv"]


def test_temporaries_of_a_killed_export_are_removed(
    tmp_path: Path, proposals: pd.DataFrame
) -> None:
    import subprocess
    import sys

    # a process that has ended: its pid is free (or reused by someone else, which keeps files)
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid = int(done.stdout)
    hexa = "0" * 32
    left = tmp_path / f".proposals.csv.{pid}-{hexa}.part.csv"
    left.write_text("household_id\nH1\n", encoding="utf-8")
    run_dir = tmp_path / f".proposals.summary.json.{pid}-{hexa}.run"
    run_dir.mkdir()
    (run_dir / "proposals.csv").write_text("household_id\nH1\n", encoding="utf-8")
    mine = tmp_path / f".other.csv.{__import__('os').getpid()}-{hexa}.part.csv"
    mine.write_text("in progress\n", encoding="utf-8")
    export.write_proposals_csv(proposals, tmp_path / "proposals.csv")
    assert not left.exists()
    assert not run_dir.exists()
    assert mine.exists()  # a running process's file is never touched
