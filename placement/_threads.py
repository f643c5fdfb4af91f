"""Running compiled kernels (which release the GIL) on several cores with threads."""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from placement._errors import ConfigError

S = TypeVar("S")
T = TypeVar("T")

#: Environment variable that caps the threads (``1`` runs everything in the calling thread).
THREADS_ENV = "PLACEMENT_THREADS"


#: Where Linux states a CPU quota (cgroup v2; then v1's quota and period).
CGROUP_FILES = (Path("/sys/fs/cgroup/cpu.max"),
                Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
                Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us"))


def cgroup_cpus(files: Sequence[Path] = CGROUP_FILES) -> int | None:
    """Cores a Linux CPU quota allows (a container limited to 1.5 CPUs: 2), None without one.

    Parameters
    ----------
    files : sequence of Path
        cgroup v2's ``cpu.max``, then v1's ``cpu.cfs_quota_us`` and ``cpu.cfs_period_us``.
    """
    v2, quota_v1, period_v1 = files
    try:
        quota, _, period = v2.read_text().strip().partition(" ")
    except OSError:
        try:
            quota, period = quota_v1.read_text().strip(), period_v1.read_text().strip()
        except OSError:
            return None
    try:
        q, p = int(quota), int(period or 100_000)
    except ValueError:  # "max": no quota
        return None
    return max(1, math.ceil(q / p)) if q > 0 and p > 0 else None


@functools.cache
def _system_quota() -> int | None:
    """:func:`cgroup_cpus` of this machine, read once (a quota does not change under a run)."""
    return cgroup_cpus()


def n_threads() -> int:
    """Threads to use: ``PLACEMENT_THREADS`` if set, else the cores this process may use.

    The cores this process may use are those of its CPU affinity, fewer when a Linux CPU
    quota (a container's limit) allows fewer.
    """
    value = os.environ.get(THREADS_ENV, "").strip()
    if value:
        try:
            n = int(value)
        except ValueError:
            n = 0
        if n < 1:
            msg = (f"environment variable {THREADS_ENV} must be a whole number of 1 or more, "
                   f"got {value!r}")
            raise ConfigError(msg) from None
        return n
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        cores = os.cpu_count() or 1
    quota = _system_quota()
    return max(1, min(cores, quota) if quota else cores)


def chunks(n: int, parts: int, minimum: int) -> list[slice]:
    """Split ``range(n)`` into at most ``parts`` contiguous slices of at least ``minimum``."""
    k = max(1, min(parts, n // max(minimum, 1)))
    bounds = [round(i * n / k) for i in range(k + 1)]
    return [slice(bounds[i], bounds[i + 1]) for i in range(k)]


def run_parts(fn: Callable[[S], T], parts: Sequence[S], workers: int | None = None) -> list[T]:
    """``[fn(p) for p in parts]``, on threads when there is more than one part (same order).

    Parameters
    ----------
    fn : callable
        Work on one part; it should spend its time in compiled code that releases the GIL.
    parts : sequence
        The parts (slices of the input, categories, ...).
    workers : int, optional
        At most this many threads (default: one per part).

    Returns
    -------
    list
        ``fn`` of each part, in the order of ``parts``.
    """
    workers = len(parts) if workers is None else min(workers, len(parts))
    if workers <= 1:
        return [fn(p) for p in parts]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, parts))


def call(fn: Callable[[], T]) -> T:
    """Run ``fn()`` (for :func:`run_parts` over a list of tasks)."""
    return fn()
