"""Running compiled kernels (which release the GIL) on several cores with threads."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from placement._errors import ConfigError

S = TypeVar("S")
T = TypeVar("T")

#: Environment variable that caps the threads (``1`` runs everything in the calling thread).
THREADS_ENV = "PLACEMENT_THREADS"


def n_threads() -> int:
    """Threads to use: ``PLACEMENT_THREADS`` if set, else the cores this process may use."""
    value = os.environ.get(THREADS_ENV, "").strip()
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            msg = f"environment variable {THREADS_ENV} must be a whole number, got {value!r}"
            raise ConfigError(msg) from None
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on every platform
        return max(1, os.cpu_count() or 1)


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
