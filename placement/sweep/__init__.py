"""Scenario sweeps: many what-ifs over a grid or a sample, run on Dask, compared on a front.

- :mod:`placement.sweep.spec`: the sweep file and its sample (grid, random, Latin hypercube);
- :mod:`placement.sweep.engine`: running the runs on a LocalCluster or an existing cluster;
- :mod:`placement.sweep.journal`: the run-by-run record that lets a sweep resume;
- :mod:`placement.sweep.pareto`: the non-dominated runs;
- :mod:`placement.sweep.outputs`: ``runs.csv``, ``pareto.csv`` and the charts of the front.
"""

from placement.sweep.engine import ClusterError, SweepRun, dask_client, run_sweep
from placement.sweep.pareto import dominated, pareto_flags
from placement.sweep.spec import RunSpec, SweepSpec, read_sweep, sample_runs, sweep_from_dict

__all__ = [
    "ClusterError",
    "RunSpec",
    "SweepRun",
    "SweepSpec",
    "dask_client",
    "dominated",
    "pareto_flags",
    "read_sweep",
    "run_sweep",
    "sample_runs",
    "sweep_from_dict",
]
