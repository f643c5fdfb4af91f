"""The larger demo municipality: repeated dwellings and households, the original a part of it."""

from __future__ import annotations

import pandas as pd
import pytest

from placement._errors import ConfigError
from placement.dataset import load_dataset
from placement.demo_scale import enlarge_dataset


def test_copies_are_counted_unique_and_keep_the_original(demo_dir, tmp_path):
    out = enlarge_dataset(demo_dir, tmp_path / "big", dwelling_copies=3, household_copies=2)
    src_d = pd.read_csv(demo_dir / "dwellings.csv", dtype=str, keep_default_na=False)
    src_h = pd.read_csv(demo_dir / "households.csv", dtype=str, keep_default_na=False)
    big_d = pd.read_csv(out / "dwellings.csv", dtype=str, keep_default_na=False)
    big_h = pd.read_csv(out / "households.csv", dtype=str, keep_default_na=False)
    assert len(big_d) == 3 * len(src_d)
    assert big_d["dwelling_id"].is_unique
    assert len(big_h) == 2 * len(src_h)
    assert big_h["household_id"].is_unique
    # the original rows are there unchanged
    pd.testing.assert_frame_equal(big_d.iloc[:len(src_d)], src_d)
    pd.testing.assert_frame_equal(big_h.iloc[:len(src_h)], src_h)
    # each copy is its own building, a few metres away, with the same rooms and rent
    first = big_d[big_d["dwelling_id"] == src_d["dwelling_id"].iloc[0]].iloc[0]
    copy = big_d[big_d["dwelling_id"] == src_d["dwelling_id"].iloc[0] + "-02"].iloc[0]
    assert copy["building_id"] != first["building_id"]
    assert (copy["rooms"], copy["rent_dkk"]) == (first["rooms"], first["rent_dkk"])
    metres = (float(copy["lon"]) - float(first["lon"])) * 111_320 * 0.566
    assert 4.0 < metres < 8.0
    ds = load_dataset(out)  # a valid dataset folder
    assert len(ds.dwellings) == len(big_d)


def test_never_empties_a_folder_it_did_not_write(demo_dir, tmp_path):
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    with pytest.raises(ConfigError, match="not a dataset folder"):
        enlarge_dataset(demo_dir, other)
    assert (other / "keep.txt").exists()
    with pytest.raises(ConfigError, match="1 or more"):
        enlarge_dataset(demo_dir, tmp_path / "x", dwelling_copies=0)
