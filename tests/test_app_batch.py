"""The Review page's batch section (app/batch.py) through Streamlit's AppTest."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP_DIR = Path(__file__).resolve().parents[1] / "app"


def test_batch_section_shows_kept_dwellings_and_expected_arrivals(tmp_path):
    from fixtures_data import write_dataset

    folder = write_dataset(tmp_path / "ds")
    for can_see in (True, False):
        at = AppTest.from_function(_section, args=(str(folder), can_see, str(APP_DIR)),
                                   default_timeout=300)
        at.run()
        at.date_input(key="batch_until").set_value(__import__("datetime").date(2025, 3, 12))
        at.button(key="batch_compute").click()
        at.run()
        assert not at.exception
        text = " ".join(m.value for m in at.markdown)
        assert "Batch of 2025-03-12" in text
        heads = [h.value for h in at.subheader]
        assert ("Households in the batch" in heads) is can_see
        assert "Dwellings kept free, and why" in heads
        assert "Expected arrivals (mean over the scenarios)" in heads
        # household ids only for those who may see households
        tables = [d.value for d in at.dataframe]
        assert any("household_id" in t.columns for t in tables) is can_see


def _section(folder: str, can_see: bool, app_dir: str) -> None:
    import sys

    sys.path.insert(0, app_dir)
    from batch import batch_section

    class User:
        def can(self, what: str) -> bool:
            return can_see

    batch_section(User(), "en", folder, "default")
