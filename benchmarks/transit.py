"""Benchmark of the public-transport scan: compiled against the pure-Python reference.

Run from the repository root::

    .venv/bin/python benchmarks/transit.py

For the real Porto Alegre feed (window 12:00-14:00 plus 3 hours of travel, inside its service
hours 11:20-17:50) and the demo feed (07:00-09:00 plus 3 hours), towards a few destinations
at busy stops: the backward profile connection scan of ``placement.transit`` compiled
(``_profile_scan``) and the pure-Python scan it replaces (``_profile_scan_reference``), best
of ``--repeats``, in connections scanned per second (wall and CPU time), with a check that
both give the same profiles. Walking between stops and to the destination is the straight
line at 1.1 m/s (footpaths up to 400 m, egress up to 900 m). The one-off load of the
compiled code is reported apart.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
H = 3600


def inputs(tt, lo: int, hi: int, n_dest: int):
    from placement import transit

    lat0 = np.nanmean(tt.stop_lat)
    xy = np.c_[np.radians(tt.stop_lon) * math.cos(math.radians(lat0)), np.radians(tt.stop_lat)]
    xy *= 6_371_000.0
    xy[~np.isfinite(xy)] = 1e12
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    fp = sp.csr_matrix(np.where(d <= 400, d / 1.1 + 1e-3, 0.0))
    busy = np.argsort(-transit.stop_departures(tt, lo, hi), kind="stable")
    egresses = []
    for k in range(n_dest):
        dest = xy[busy[k * 37 % len(busy)]] + 40.0
        eg_m = np.hypot(*(xy - dest).T)
        egresses.append(np.where(eg_m <= 900, eg_m / 1.1, np.inf))
    return fp, egresses


def bench(name: str, tt, lo: int, hi: int, n_dest: int, repeats: int) -> dict:
    from placement import transit

    fp, egresses = inputs(tt, lo, hi, n_dest)
    started = time.perf_counter()
    transit._profile_scan(tt, egresses[0], fp, 60, lo, hi)  # loads the compiled code
    load_s = time.perf_counter() - started
    best: dict[str, float] = {}
    scanned = 0
    same = True
    for _ in range(repeats):
        for label, fn in (("compiled", transit._profile_scan),
                          ("python", transit._profile_scan_reference)):
            t0, c0 = time.perf_counter(), time.thread_time()
            results = [fn(tt, eg, fp, 60, lo, hi) for eg in egresses]
            wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
            best[f"{label}_s"] = min(best.get(f"{label}_s", np.inf), wall)
            best[f"{label}_cpu_s"] = min(best.get(f"{label}_cpu_s", np.inf), cpu)
            if label == "compiled":
                compiled = results
                scanned = sum(r[3] for r in results)
            else:
                same &= all(np.array_equal(a[k], b[k]) for a, b in zip(compiled, results,
                                                                       strict=True)
                            for k in range(3))
    return {
        "feed": name,
        "connections_in_day": tt.n_connections,
        "window": f"{lo // H:02d}:00-{hi // H:02d}:00",
        "destinations": n_dest,
        "connections_scanned": scanned,
        "compiled_load_s": round(load_s, 3),
        **{k: round(v, 4) for k, v in best.items()},
        "compiled_conn_per_s": round(scanned / best["compiled_s"]),
        "compiled_conn_per_cpu_s": round(scanned / best["compiled_cpu_s"]),
        "python_conn_per_s": round(scanned / best["python_s"]),
        "speedup": round(best["python_s"] / best["compiled_s"], 1),
        "same_profiles": bool(same),
    }


def main() -> None:
    import gtfs_kit as gk

    from placement import transit
    from placement.accessibility import default_service_date

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} on {platform.node()}: {platform.machine()}, "
          f"Python {platform.python_version()}")
    demo = gk.read_feed(REPO / "data" / "geo" / "demo" / "gtfs.zip", dist_units="km")
    tt = transit.build_timetable(demo, default_service_date(demo))
    print(json.dumps(bench("demo", tt, 7 * H, 12 * H, 5, args.repeats)))
    poa = SHARED / "fallback_porto_alegre" / "poa_eptc.zip"
    if poa.is_file():
        feed = gk.read_feed(poa, dist_units="km")
        tt = transit.build_timetable(feed, default_service_date(feed))
        print(json.dumps(bench("porto_alegre", tt, 12 * H, 17 * H, 5, args.repeats)))


if __name__ == "__main__":
    main()
