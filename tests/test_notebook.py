"""The walkthrough notebook runs from top to bottom, so it never goes stale."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def test_planners_year_notebook_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("PLACEMENT_CACHE", str(tmp_path / "cache"))  # the kernel's cache
    nb = nbformat.read(NOTEBOOKS / "planners_year.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "Optimal" in text
    assert "households get another proposal when line 201 is cut" in text
