"""Benchmark: a national-size GTFS feed against a local one, for the same municipality.

Run from the repository root::

    .venv/bin/python benchmarks/national_feed.py
    .venv/bin/python benchmarks/national_feed.py --copies 12

The local feed is the real Porto Alegre feed (``../shared/data/fallback_porto_alegre``). The
national stand-in is that feed plus ``--copies`` copies of it moved far away (each copy 3° of
longitude further east, ids prefixed), so it has the size of Rejseplanen's national feed
(about 50,000 stops) while the area of interest is the same. The "municipality" is the
convex hull of the Porto Alegre OSM extract's walk network.

Timed in one process, the cases alternating (best of ``--repeats``): loading the feed with
``load_gtfs(path, boundary=...)`` (clipping included) and computing accessibility for 5,000
synthetic dwellings (walk + PT, 12:00-14:00, inside the feed's service hours 11:20-17:50; one
departure every 2 minutes). The OSM network
is loaded before the clock starts (the same for both cases). Cold = clipped copy not cached
yet; warm = cached. The unclipped national feed (the old way) is timed too, for comparison.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import platform
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

    from placement.crs import STORAGE_CRS
    from placement.osm import amenities_from_file, walk_graph_from_file

    sys.path.insert(0, str(REPO / "benchmarks"))
    from accessibility import synthetic_dwellings

    G = walk_graph_from_file(POA_OSM)
    amenities = amenities_from_file(POA_OSM)
    xy = np.array([(d["x"], d["y"]) for _, d in G.nodes(data=True)])
    hull = shapely.MultiPoint(xy).convex_hull
    boundary = gpd.GeoDataFrame(geometry=[hull], crs=G.graph["crs"]).to_crs(STORAGE_CRS)
    return G, amenities, boundary, synthetic_dwellings(G, N_DWELLINGS)


def timed(feed_path: Path, setup, *, clip: bool) -> tuple[float, float, object]:
    """Seconds to load the feed and for load + accessibility; the table."""
    from placement.accessibility import compute_accessibility
    from placement.gtfs import load_gtfs

    G, amenities, boundary, dwellings = setup
    started = time.perf_counter()
    feed = load_gtfs(feed_path, boundary=boundary if clip else None)
    load_s = time.perf_counter() - started
    table = compute_accessibility(dwellings, G, amenities, feed=feed,
                                  window=("12:00", "14:00"), step_min=2)
    return load_s, time.perf_counter() - started, (table, len(feed.stops), len(feed.trips))


def main() -> None:
    from placement import settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(f"# {time.strftime('%Y-%m-%d')} on {platform.node()}: {platform.machine()}, "
          f"Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        national = national_feed(Path(tmp) / "national.zip", args.copies)
        setup = _setup()
        feeds = {"local": POA_GTFS, "national": national}
        best: dict[str, float] = {}
        tables = {}
        # alternate the cases, so that a busy moment of the machine hits both
        for rep in range(args.repeats):
            for case, path in feeds.items():
                settings.cache_folder = Path(tmp) / f"cache_{case}_{rep}"  # cold: empty cache
                for label in ("cold", "warm"):
                    load_s, total_s, (table, n_stops, n_trips) = timed(path, setup, clip=True)
                    for key, v in ((f"{case}_{label}_load_s", load_s),
                                   (f"{case}_{label}_total_s", total_s)):
                        best[key] = min(best.get(key, np.inf), v)
                    tables[case] = table
                    best[f"{case}_stops_loaded"] = n_stops
                    best[f"{case}_trips_loaded"] = n_trips
        load_s, total_s, (table, n_stops, n_trips) = timed(national, setup, clip=False)
        best |= {"unclipped_load_s": load_s, "unclipped_total_s": total_s,
                 "unclipped_stops_loaded": n_stops}
        tables["unclipped"] = table
    same = all(tables["local"].equals(tables[k]) for k in ("national", "unclipped"))
    print(json.dumps({k: round(float(v), 2) for k, v in best.items()}))
    print(f"tables identical (local, national clipped, national unclipped): {same}")
    for label in ("cold", "warm"):
        ratio = best[f"national_{label}_total_s"] / best[f"local_{label}_total_s"]
        load = best[f"national_{label}_load_s"] / best[f"local_{label}_load_s"]
        print(f"ratio national/local ({label}): total {ratio:.2f}, loading the feed {load:.2f}")
    old = best["unclipped_total_s"] / best["local_cold_total_s"]
    print(f"unclipped national/local (cold): {old:.2f}")


if __name__ == "__main__":
    main()
