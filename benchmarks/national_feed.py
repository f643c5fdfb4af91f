"""Benchmark: a national-size GTFS feed against a local one, for the same municipality.

Run from the repository root::

    .venv/bin/python benchmarks/national_feed.py              # both cases, one process each
    .venv/bin/python benchmarks/national_feed.py --copies 12

The local feed is the real Porto Alegre feed (``../shared/data/fallback_porto_alegre``). The
national stand-in is that feed plus ``--copies`` copies of it moved far away (each copy 3° of
longitude further east, ids prefixed), so it has the size of Rejseplanen's national feed
(about 50,000 stops) while the area of interest is the same. The "municipality" is the
convex hull of the Porto Alegre OSM extract's walk network.

Timed per case, in its own process: loading the feed with ``load_gtfs(path, boundary=...)``
(clipping included) and computing accessibility for 5,000 synthetic dwellings (walk + PT,
07:00-09:00, one departure every 2 minutes). The OSM network is loaded before the clock
starts (the same for both cases). Cold = clipped copy not cached yet; warm = cached. The
unclipped national feed (the old way) is timed too, for comparison.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import platform
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
POA_OSM = SHARED / "fallback_porto_alegre" / "poa_osm.pbf"
POA_GTFS = SHARED / "fallback_porto_alegre" / "poa_eptc.zip"
N_DWELLINGS = 5_000
_ID_COLUMNS = ("stop_id", "trip_id", "route_id", "service_id", "shape_id", "agency_id",
               "parent_station", "from_stop_id", "to_stop_id", "fare_id", "zone_id")


def national_feed(out: Path, copies: int) -> Path:
    """Write the Porto Alegre feed plus ``copies`` shifted copies as one zip."""
    with zipfile.ZipFile(POA_GTFS) as zf:
        tables = {n: pd.read_csv(io.BytesIO(zf.read(n)), dtype=str, keep_default_na=False)
                  for n in zf.namelist() if n.endswith(".txt")}
    merged: dict[str, list[pd.DataFrame]] = {n: [t] for n, t in tables.items()}
    for k in range(1, copies + 1):
        for name, frame in tables.items():
            if name == "feed_info.txt":
                continue
            f = frame.copy()
            for col in _ID_COLUMNS:
                if col in f.columns:
                    f[col] = np.where(f[col] == "", "", f"c{k}_" + f[col])
            for col in ("stop_lon", "shape_pt_lon"):
                if col in f.columns:
                    f[col] = (pd.to_numeric(f[col]) + 3.0 * k).round(6).astype(str)
            merged[name].append(f)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, parts in merged.items():
            zf.writestr(name, pd.concat(parts).to_csv(index=False))
    return out


def _setup():
    import geopandas as gpd
    import shapely

    from placement.crs import STORAGE_CRS, WORK_CRS
    from placement.osm import amenities_from_file, walk_graph_from_file

    sys.path.insert(0, str(REPO / "benchmarks"))
    from accessibility import synthetic_dwellings

    G = walk_graph_from_file(POA_OSM)
    amenities = amenities_from_file(POA_OSM)
    xy = np.array([(d["x"], d["y"]) for _, d in G.nodes(data=True)])
    hull = shapely.MultiPoint(xy).convex_hull
    boundary = gpd.GeoDataFrame(geometry=[hull], crs=G.graph["crs"]).to_crs(STORAGE_CRS)
    assert str(G.graph["crs"]).upper().endswith("25832") or WORK_CRS
    return G, amenities, boundary, synthetic_dwellings(G, N_DWELLINGS)


def run_case(feed_path: Path, *, clip: bool, cache_dir: Path) -> dict[str, object]:
    from placement import settings
    from placement.accessibility import compute_accessibility
    from placement.gtfs import load_gtfs

    settings.cache_folder = cache_dir
    G, amenities, boundary, dwellings = _setup()
    out: dict[str, object] = {"feed_mb": round(feed_path.stat().st_size / 1e6, 1)}
    rounds = ("cold", "warm") if clip else ("unclipped",)
    for label in rounds:
        started = time.perf_counter()
        feed = load_gtfs(feed_path, boundary=boundary if clip else None)
        load_s = time.perf_counter() - started
        table = compute_accessibility(dwellings, G, amenities, feed=feed, window=("07:00",
                                      "09:00"), step_min=2)
        total = time.perf_counter() - started
        out[f"{label}_load_s"] = round(load_s, 2)
        out[f"{label}_total_s"] = round(total, 2)
        out["stops_loaded"] = len(feed.stops)
        out["trips_loaded"] = len(feed.trips)
        pt = table.filter(like="pt_centre_median_min")
        out["checksum_pt_centre"] = round(float(np.nansum(pt.to_numpy())), 3)
        out["checksum_dep_per_h"] = round(float(np.nansum(table["departures_per_hour_500m"])), 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=12)
    parser.add_argument("--case", choices=("local", "national", "national_unclipped"))
    parser.add_argument("--feed", type=Path)
    parser.add_argument("--cache", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.case:
        feed = POA_GTFS if args.case == "local" else args.feed
        print(json.dumps(run_case(feed, clip=args.case != "national_unclipped",
                                  cache_dir=args.cache)))
        return
    print(f"# {time.strftime('%Y-%m-%d')} on {platform.node()}: {platform.machine()}, "
          f"Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        feed = national_feed(Path(tmp) / "national.zip", args.copies)
        print(f"national feed written in {time.perf_counter() - started:.1f} s")
        rows = {}
        for case in ("local", "national", "national_unclipped"):
            cache = Path(tmp) / f"cache_{case}"
            proc = subprocess.run(
                [sys.executable, __file__, "--case", case, "--feed", str(feed), "--cache",
                 str(cache)], capture_output=True, text=True, check=False)
            if proc.returncode:
                print(f"{case}: failed\n{proc.stderr[-3000:]}")
                continue
            rows[case] = json.loads(proc.stdout.strip().splitlines()[-1])
            print(case, json.dumps(rows[case]))
    if "local" in rows and "national" in rows:
        for label in ("cold", "warm"):
            ratio = rows["national"][f"{label}_total_s"] / rows["local"][f"{label}_total_s"]
            print(f"ratio national/local ({label}): {ratio:.2f}")
    print(pd.DataFrame(rows).to_string())


if __name__ == "__main__":
    main()
