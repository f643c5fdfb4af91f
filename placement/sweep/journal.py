"""The sweep's journal: one JSON line per finished run, appended and flushed to disk at once.

The journal (``DIR/runs.jsonl``) is what makes an interrupted sweep resume where it stopped:
a run whose key (``run_hash``) is in it is not run again. A line cut off by a crash (no final
newline) is dropped when the journal is opened again.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

JOURNAL_NAME = "runs.jsonl"


def _clean(value: Any) -> Any:
    """NaN and infinities become null/strings (JSON has neither); numpy scalars become floats."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
    return value


def _unclean(value: Any) -> Any:
    if value is None:
        return float("nan")
    if value == "inf":
        return float("inf")
    if value == "-inf":
        return float("-inf")
    return value


class Journal:
    """Append-only record of a sweep's finished runs.

    Parameters
    ----------
    path : str or Path
        The ``runs.jsonl`` file (created with its folder when absent).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._repair()

    def _repair(self) -> None:
        """Cut a last line left half-written by a crash."""
        if not self.path.is_file():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data[: data.rfind(b"\n") + 1]
            logger.warning("%s: dropped an unfinished last line (%d bytes)", self.path,
                           len(data) - len(keep))
            with self.path.open("r+b") as fh:
                fh.truncate(len(keep))
                fh.flush()
                os.fsync(fh.fileno())

    def records(self) -> dict[str, dict[str, Any]]:
        """Return the recorded runs by ``run_hash`` (the last record of a key wins).

        Returns
        -------
        dict
            run_hash → record (measures with NaN where unknown).
        """
        out: dict[str, dict[str, Any]] = {}
        if not self.path.is_file():
            return out
        with self.path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    logger.warning("%s:%d: not a JSON line; ignored", self.path.name, n)
                    continue
                if not isinstance(rec, dict) or "run_hash" not in rec:
                    continue
                rec["measures"] = {k: _unclean(v) for k, v in
                                   (rec.get("measures") or {}).items()}
                out[str(rec["run_hash"])] = rec
        return out

    def append(self, record: dict[str, Any]) -> None:
        """Append one run's record and force it to disk (``fsync``) before returning.

        Parameters
        ----------
        record : dict
            Must have ``run_hash``; values must be JSON-serialisable (NaN allowed).
        """
        line = json.dumps(_clean(record), sort_keys=True, ensure_ascii=False) + "\n"
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
