"""Benchmark of the accessibility engine against the per-pair networkx baseline.

Run from the repository root::

    .venv/bin/python benchmarks/accessibility.py            # every case, one process each
    .venv/bin/python benchmarks/accessibility.py --case demo_walk

Each case runs in its own process so that its peak memory (``ru_maxrss``) is its own. The
baseline is what most osmnx users write: for every dwelling and every amenity, snap both to the
nearest graph node and call ``networkx.shortest_path_length(G, a, b, weight="length")``. It is
timed on a random sample of pairs in the same run and extrapolated linearly to all pairs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
DEMO = REPO / "data" / "geo" / "demo"
SAMSO_OSM = SHARED / "osm" / "samsoe_2020-03-09.osm.bz2"
POA_OSM = SHARED / "fallback_porto_alegre" / "poa_osm.pbf"
POA_GTFS = SHARED / "fallback_porto_alegre" / "poa_eptc.zip"
BASELINE_PAIRS = 300
N_SYNTHETIC = 5_000


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StageTimes(logging.Handler):
    """Collects the per-stage seconds that compute_accessibility logs."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.stages: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        self.stages.update(getattr(record, "stage_times_s", {}))


def timed_compute(*args, **kwargs):
    from placement.accessibility import compute_accessibility

    acc_logger = logging.getLogger("placement.accessibility")
    handler = StageTimes()
    acc_logger.addHandler(handler)
    old = acc_logger.level
    acc_logger.setLevel(logging.INFO)
    rss_before = peak_mb()
    started = time.perf_counter()
    try:
        table = compute_accessibility(*args, **kwargs)
    finally:
        acc_logger.removeHandler(handler)
        acc_logger.setLevel(old)
    seconds = time.perf_counter() - started
    stages = {f"stage_{k}_s": round(v, 3) for k, v in handler.stages.items()}
    return table, seconds, {"peak_rss_before_compute_mb": rss_before, **stages}


def synthetic_dwellings(G: nx.MultiDiGraph, n: int, seed: int = 0) -> gpd.GeoDataFrame:
    """``n`` points within 150 m of random graph nodes (EPSG:25832), like addresses."""
    rng = np.random.default_rng(seed)
    nodes = list(G.nodes)
    picks = rng.choice(len(nodes), size=n, replace=True)
    xy = np.array([(G.nodes[nodes[i]]["x"], G.nodes[nodes[i]]["y"]) for i in picks])
    xy += rng.uniform(-150, 150, size=xy.shape)
    return gpd.GeoDataFrame(
        {"dwelling_id": [f"S{i:05d}" for i in range(n)]},
        geometry=shapely.points(xy),
        crs="EPSG:25832",
    )


def baseline_per_pair(
    G: nx.MultiDiGraph, dwellings: gpd.GeoDataFrame, amenities: gpd.GeoDataFrame, seed: int = 0
) -> dict[str, float]:
    """Time the per-pair networkx baseline on a sample and extrapolate to all pairs."""
    import osmnx as ox

    started = time.perf_counter()
    dw = dwellings.to_crs("EPSG:25832")
    am = amenities.to_crs("EPSG:25832")
    Gu = ox.convert.to_undirected(G)
    dw_nodes = ox.distance.nearest_nodes(Gu, dw.geometry.x.to_numpy(), dw.geometry.y.to_numpy())
    am_nodes = ox.distance.nearest_nodes(Gu, am.geometry.x.to_numpy(), am.geometry.y.to_numpy())
    snap_s = time.perf_counter() - started
    rng = np.random.default_rng(seed)
    i = rng.integers(0, len(dw_nodes), BASELINE_PAIRS)
    j = rng.integers(0, len(am_nodes), BASELINE_PAIRS)
    started = time.perf_counter()
    for a, b in zip(i, j, strict=True):
        with contextlib.suppress(nx.NetworkXNoPath):
            nx.shortest_path_length(Gu, dw_nodes[a], am_nodes[b], weight="length")
    per_pair = (time.perf_counter() - started) / BASELINE_PAIRS
    n_pairs = len(dw_nodes) * len(am_nodes)
    return {
        "baseline_pairs_timed": BASELINE_PAIRS,
        "baseline_s_per_pair": per_pair,
        "baseline_pairs_total": n_pairs,
        "baseline_extrapolated_s": snap_s + per_pair * n_pairs,
    }


def run_walk(G, dwellings, amenities, label: str) -> dict[str, object]:
    table, walk_s, extra = timed_compute(dwellings, G, amenities)
    result = {
        "case": label,
        "dwellings": len(dwellings),
        "amenities": len(amenities),
        "graph_nodes": G.number_of_nodes(),
        "off_network": int(table["off_network"].sum()),
        "walk_s": walk_s,
        **extra,
    }
    result.update(baseline_per_pair(G, dwellings, amenities))
    result["speedup"] = result["baseline_extrapolated_s"] / walk_s
    return result


def run_pt(G, dwellings, amenities, feed, date, label: str, extra_points=None) -> dict:
    table, total_s, extra = timed_compute(
        dwellings, G, amenities, feed=feed, date=date, window=("07:00", "09:00"), step_min=2,
        extra_points=extra_points,
    )
    pt = table.filter(like="_median_min")
    return {
        "case": label,
        "dwellings": len(dwellings),
        "graph_nodes": G.number_of_nodes(),
        "departures": table.attrs["n_departures"],
        "service_date": table.attrs["service_date"],
        "destinations": pt.columns.str.removeprefix("pt_").str.removesuffix("_median_min").tolist(),
        "share_reachable": float(pt.notna().to_numpy().mean()),
        "total_s": total_s,
        **extra,
    }


def case_demo(kind: str) -> dict[str, object]:
    from placement.dataset import load_dataset
    from placement.gtfs import load_gtfs
    from placement.osm import amenities_from_file, walk_graph_from_file

    started = time.perf_counter()
    ds = load_dataset(DEMO)
    G = walk_graph_from_file(ds.osm_path, boundary=ds.boundary)
    amenities = amenities_from_file(ds.osm_path, boundary=ds.boundary)
    load_s = time.perf_counter() - started
    if kind == "walk":
        out = run_walk(G, ds.dwellings, amenities, "demo_walk")
    else:
        dwellings = ds.dwellings if kind == "pt" else synthetic_dwellings(G, N_SYNTHETIC)
        feed = load_gtfs(ds.gtfs_path)
        out = run_pt(G, dwellings, amenities, feed, None, f"demo_{kind}")
    out["load_s"] = load_s
    return out


def case_samso() -> dict[str, object]:
    from placement.osm import amenities_from_file, walk_graph_from_file

    started = time.perf_counter()
    G = walk_graph_from_file(SAMSO_OSM)
    amenities = amenities_from_file(SAMSO_OSM)
    load_s = time.perf_counter() - started
    out = run_walk(G, synthetic_dwellings(G, N_SYNTHETIC), amenities, "samso_walk")
    out["load_s"] = load_s
    return out


def case_poa() -> dict[str, object]:
    from placement.gtfs import load_gtfs
    from placement.osm import amenities_from_file, walk_graph_from_file

    started = time.perf_counter()
    G = walk_graph_from_file(POA_OSM)
    amenities = amenities_from_file(POA_OSM)
    feed = load_gtfs(POA_GTFS)
    load_s = time.perf_counter() - started
    poi = pd.read_csv(POA_OSM.parent / "poa_points_of_interest.csv")
    poi = poi[poi["id"].isin(["bus_central_station", "santa_casa_hospital", "ufrgs", "pucrs"])]
    points = {r.id: (r.lat, r.lon) for r in poi.itertuples()}
    out = run_pt(
        G, synthetic_dwellings(G, N_SYNTHETIC), amenities, feed, None, "poa_pt_5000", points
    )
    out["load_s"] = load_s
    return out


CASES = {
    "demo_walk": lambda: case_demo("walk"),
    "demo_pt": lambda: case_demo("pt"),
    "demo_pt_5000": lambda: case_demo("pt_5000"),
    "samso_walk": case_samso,
    "poa_pt_5000": case_poa,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(CASES))
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    if args.case:
        out = CASES[args.case]()
        out["peak_rss_mb"] = peak_mb()
        print(json.dumps(out))
        return
    print(f"# {time.strftime('%Y-%m-%d')} on {platform.node()}: {platform.processor() or ''} "
          f"{platform.machine()}, Python {platform.python_version()}")
    rows = []
    for name in CASES:
        proc = subprocess.run(
            [sys.executable, __file__, "--case", name], capture_output=True, text=True, check=False
        )
        if proc.returncode:
            print(f"{name}: failed\n{proc.stderr[-2000:]}")
            continue
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(json.dumps(row))
    print(pd.DataFrame(rows).set_index("case").T.to_string())


if __name__ == "__main__":
    main()
