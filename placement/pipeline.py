"""The whole job on one dataset, in the order the data flows; used by ``placement demo``.

Each step reads what the previous ones produced and writes its outputs into one folder:

1. load and validate the dataset (``validation.json``);
2. accessibility of every dwelling (``accessibility.csv``) when the accessibility engine is
   available for the dataset;
3. later steps (proposals, stored run, exports, retention report) are added as they land.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from placement._errors import DataError
from placement.dataset import validate_dataset

logger = logging.getLogger(__name__)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def write_json(data: dict[str, Any], path: Path) -> Path:
    """Write ``data`` as indented UTF-8 JSON atomically (temporary file, then rename).

    Parameters
    ----------
    data : dict
        JSON-serialisable mapping (dates become ISO strings).
    path : Path
        Target file.

    Returns
    -------
    Path
        The written file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(_jsonable(data), indent=2, ensure_ascii=False) + "\n",
                   encoding="utf-8")
    tmp.replace(path)
    return path


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """Render a validation summary as ``key: value`` lines for the terminal.

    Parameters
    ----------
    summary : dict
        ``ValidationReport.summary``.

    Returns
    -------
    list of str
        One line per entry; nested mappings are written ``k=v, ...``.
    """
    lines = []
    for key, value in summary.items():
        if isinstance(value, dict):
            text = ", ".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list | tuple):
            text = " to ".join(str(v) for v in value)
        else:
            text = str(value)
        lines.append(f"{key}: {text}")
    return lines


def run_demo(
    dataset_dir: str | Path,
    out_dir: str | Path,
    *,
    progress: Callable[[str], None] | None = None,
) -> list[str]:
    """Run every step of the pipeline on a dataset and write the outputs to ``out_dir``.

    Parameters
    ----------
    dataset_dir : str or Path
        Folder with ``dataset.toml`` (the bundled demo by default in the CLI).
    out_dir : str or Path
        Folder for the outputs; created when missing.
    progress : callable, optional
        Called with a short message as each step starts.

    Returns
    -------
    list of str
        A summary for the terminal.

    Raises
    ------
    DataError
        When the dataset is invalid (nothing is written then).
    """
    say = progress or (lambda msg: logger.info("%s", msg))
    dataset_dir, out = Path(dataset_dir), Path(out_dir)
    say("load and validate the dataset")
    report = validate_dataset(dataset_dir)
    if report.problems:
        raise DataError(report.problems)
    lines = [f"Dataset {dataset_dir} is valid.", *summary_lines(report.summary)]
    write_json(report.summary, out / "validation.json")
    lines.append(f"Outputs written to {out}")
    return lines
