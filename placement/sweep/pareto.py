"""The Pareto front of a sweep: the runs no other run beats on every named measure.

Rule for unknown values: a run whose value of any front measure is unknown (NaN, e.g. no
public-transport times without a GTFS feed) is neither dominated nor dominating. It is not
compared at all and is flagged ``unknown``, never put on the front or taken off it by a number
it does not have. Failed runs are flagged ``failed``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

#: Flags of :func:`pareto_flags`.
ON_FRONT, DOMINATED, UNKNOWN, FAILED = "yes", "no", "unknown", "failed"


def dominated(values: np.ndarray, maximise: np.ndarray) -> np.ndarray:
    """Return which rows are dominated by another row (all values known).

    Row ``a`` dominates row ``b`` when ``a`` is at least as good on every column and strictly
    better on at least one. Equal rows do not dominate each other.

    Parameters
    ----------
    values : numpy.ndarray
        Shape (runs, measures), no NaN.
    maximise : numpy.ndarray
        Bool per column: larger is better (else smaller is better).

    Returns
    -------
    numpy.ndarray
        Bool per row.

    Examples
    --------
    >>> dominated(np.array([[1.0, 1.0], [2.0, 0.5], [0.5, 0.5]]), np.array([True, True]))
    array([False, False,  True])
    """
    v = np.where(maximise, values, -values)  # larger is better everywhere
    n = len(v)
    out = np.zeros(n, dtype=bool)
    for start in range(0, n, 512):  # blocks keep memory at 512 x n x measures
        block = v[start:start + 512]
        geq = (v[None, :, :] >= block[:, None, :]).all(axis=2)
        gt = (v[None, :, :] > block[:, None, :]).any(axis=2)
        out[start:start + len(block)] = (geq & gt).any(axis=1)
    return out


def pareto_flags(table: pd.DataFrame, objectives: Mapping[str, str], *,
                 status: str = "status") -> pd.Series:
    """Flag each run: on the front (``yes``), dominated (``no``), ``unknown`` or ``failed``.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per run with a column per measure and a ``status`` column (``ok`` or
        ``failed``).
    objectives : mapping
        Measure → ``"max"`` or ``"min"``.
    status : str
        Name of the status column.

    Returns
    -------
    pandas.Series
        Flag per row (same index). Only runs whose every front measure is known are compared
        (see the module docstring).
    """
    keys = list(objectives)
    flags = pd.Series(FAILED, index=table.index, dtype=object)
    ok = table[status].eq("ok").to_numpy()
    values = table[keys].to_numpy(dtype=float) if keys else np.zeros((len(table), 0))
    known = ok & ~np.isnan(values).any(axis=1)
    flags[ok & ~known] = UNKNOWN
    if known.any():
        maximise = np.array([objectives[k] == "max" for k in keys])
        beaten = dominated(values[known], maximise)
        idx = table.index[known]
        flags[idx] = np.where(beaten, DOMINATED, ON_FRONT)
    return flags
