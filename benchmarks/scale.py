"""Benchmark: the accessibility engine on real data tiled up to the size of a Danish region.

Run from the repository root (heavy at the largest size: run it alone, with ``nice``)::

    nice -n 10 .venv/bin/python benchmarks/scale.py --tiles 1,4,9,16 --per-tile 5000
    nice -n 10 .venv/bin/python benchmarks/scale.py --tiles 1,4,16 --per-tile 37500
    .venv/bin/python benchmarks/scale.py --tiles 4 --per-tile 5000 --profile

The input is the real Porto Alegre walk network (OSM), its amenities and its EPTC timetable,
laid out ``s`` times side by side on a grid (each tile its own copy: network, amenities,
stops, trips, ``--per-tile`` synthetic dwellings near network nodes). ``s = 16`` with 37,500
dwellings per tile has the size of a Danish region: 600,000 dwellings and about 2 million
stop times a day. Each size runs in its own process (its peak memory is its own); the clock
covers ``compute_accessibility`` (walk and public transport, 12:00-14:00, a departure every 2
minutes, the centre plus four named destinations) on the tiled inputs, after they are built.
Stops the run at a size whose projected peak memory (from the sizes before) exceeds
``--max-gb``. Prints time, peak memory and the ratios to the smallest size, and the cost
projected for Denmark (about 3 million addresses) from the growth between the two largest
sizes.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import logging
import math
import platform
import pstats
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from accessibility import POA_GTFS, POA_OSM, POA_WINDOW, Collect  # noqa: E402

DENMARK_ADDRESSES = 3_000_000
_ID_COLUMNS = ("stop_id", "trip_id", "route_id", "service_id", "shape_id", "agency_id",
               "parent_station", "from_stop_id", "to_stop_id", "fare_id", "zone_id")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> float:
    """Reset the process's peak RSS to its current RSS (Linux ``clear_refs``); current MB."""
    import gc

    gc.collect()
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return _status_mb("VmRSS")


def offsets(n_tiles: int, width: float, height: float) -> np.ndarray:
    """Tile offsets (metres, EPSG:25832) on a near-square grid, tile 0 at (0, 0)."""
    side = math.ceil(math.sqrt(n_tiles))
    k = np.arange(n_tiles)
    return np.c_[(k % side) * width, (k // side) * height]


def tiled_network(net, offs: np.ndarray):
    import shapely

    from placement.network import WalkNetwork

    n = net.n_nodes
    geoms = []
    for dx, dy in offs:
        geoms.append(shapely.transform(net.edge_geometry, lambda c, d=(dx, dy): c + d))
    return WalkNetwork(
        np.vstack([net.xy + o for o in offs]),
        np.concatenate([net.edge_u + k * n for k in range(len(offs))]),
        np.concatenate([net.edge_v + k * n for k in range(len(offs))]),
        np.tile(net.edge_length_m, len(offs)),
        np.concatenate(geoms),
        walk_speed_kmh=net.walk_speed_kmh,
    )


def tiled_points(gdf, offs: np.ndarray, id_col: str | None):
    import geopandas as gpd
    import shapely

    g = gdf.to_crs("EPSG:25832")
    pts = g.geometry.where(g.geometry.geom_type == "Point", g.geometry.representative_point())
    xy = np.c_[pts.x.to_numpy(), pts.y.to_numpy()]
    parts = []
    for k, o in enumerate(offs):
        part = pd.DataFrame(g.drop(columns="geometry")).copy()
        if id_col is not None:
            part[id_col] = f"t{k}_" + part[id_col].astype(str)
        parts.append(gpd.GeoDataFrame(part, geometry=shapely.points(xy + o), crs="EPSG:25832"))
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs="EPSG:25832")


def tiled_feed(out: Path, offs: np.ndarray) -> Path:
    """The Porto Alegre feed once per tile: ids prefixed, stops moved by the tile's offset."""
    from pyproj import Transformer

    to_xy = Transformer.from_crs("EPSG:4326", "EPSG:25832", always_xy=True)
    to_ll = Transformer.from_crs("EPSG:25832", "EPSG:4326", always_xy=True)
    with zipfile.ZipFile(POA_GTFS) as zf:
        tables = {n: pd.read_csv(io.BytesIO(zf.read(n)), dtype=str, keep_default_na=False)
                  for n in zf.namelist() if n.endswith(".txt")}
    merged: dict[str, list[pd.DataFrame]] = {n: [] for n in tables}
    for k, (dx, dy) in enumerate(offs):
        for name, frame in tables.items():
            if name == "feed_info.txt" and k:
                continue
            f = frame.copy()
            for col in _ID_COLUMNS:
                if col in f.columns:
                    f[col] = np.where(f[col] == "", "", f"t{k}_" + f[col])
            for lat_c, lon_c in (("stop_lat", "stop_lon"), ("shape_pt_lat", "shape_pt_lon")):
                if lon_c in f.columns:
                    x, y = to_xy.transform(pd.to_numeric(f[lon_c]).to_numpy(),
                                           pd.to_numeric(f[lat_c]).to_numpy())
                    lon, lat = to_ll.transform(x + dx, y + dy)
                    f[lon_c] = [repr(float(v)) for v in lon]
                    f[lat_c] = [repr(float(v)) for v in lat]
            merged[name].append(f)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, parts in merged.items():
            zf.writestr(name, pd.concat(parts).to_csv(index=False))
    return out


def run_size(n_tiles: int, per_tile: int, profile: bool) -> dict:
    from accessibility import synthetic_dwellings

    from placement.accessibility import compute_accessibility
    from placement.gtfs import load_gtfs
    from placement.network import WalkNetwork
    from placement.osm import amenities_from_file, walk_graph_from_file

    started = time.perf_counter()
    G = walk_graph_from_file(POA_OSM)
    amenities = amenities_from_file(POA_OSM)
    dwellings = synthetic_dwellings(G, per_tile)
    net = WalkNetwork.from_graph(G)
    del G
    lo, hi = net.xy.min(axis=0), net.xy.max(axis=0)
    offs = offsets(n_tiles, hi[0] - lo[0] + 3000.0, hi[1] - lo[1] + 3000.0)
    big = tiled_network(net, offs)
    del net
    am = tiled_points(amenities, offs, None)
    dw = tiled_points(dwellings, offs, "dwelling_id")
    poi = pd.read_csv(POA_OSM.parent / "poa_points_of_interest.csv")
    poi = poi[poi["id"].isin(["bus_central_station", "santa_casa_hospital", "ufrgs", "pucrs"])]
    points = {r.id: (r.lat, r.lon) for r in poi.itertuples()}
    with tempfile.TemporaryDirectory() as tmp:
        feed = load_gtfs(tiled_feed(Path(tmp) / "tiled.zip", offs))
    n_stop_times = len(feed.stop_times)
    build_s = time.perf_counter() - started
    from placement import _kernels  # load the compiled kernels before the clock (one-off)

    _ = _kernels
    peak_loading = peak_mb()
    rss_before = reset_peak()
    handler = Collect()
    for name in ("placement.accessibility", "placement.transit"):
        lg = logging.getLogger(name)
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    prof = cProfile.Profile() if profile else None
    t0, c0 = time.perf_counter(), time.process_time()
    if prof:
        prof.enable()
    table = compute_accessibility(dw, big, am, feed=feed, window=POA_WINDOW, step_min=2,
                                  extra_points=points)
    if prof:
        prof.disable()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    out = {
        "tiles": n_tiles,
        "dwellings": len(dw),
        "network_nodes": big.n_nodes,
        "amenities": len(am),
        "stop_times_in_feed": n_stop_times,
        "connections_scanned": handler.scanned,
        "connections_per_s_scan": round(handler.scanned / handler.scan_s)
        if handler.scan_s else None,
        "compute_s": round(seconds, 2),
        "compute_cpu_s": round(cpu, 2),
        "build_inputs_s": round(build_s, 1),
        "peak_rss_loading_mb": round(peak_loading),
        "rss_before_compute_mb": round(rss_before),
        "peak_rss_compute_mb": round(_status_mb("VmHWM")),
        "share_pt_known": float(table.filter(like="_median_min").notna().to_numpy().mean()),
        **{f"stage_{k}_s": round(v, 2) for k, v in handler.stages.items()},
    }
    if prof:
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(15)
        # work on threads shows as lock waits above: the library's own calls by total time
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats("placement", 20)
        out["profile"] = buf.getvalue()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", default="1,4,9,16")
    parser.add_argument("--per-tile", type=int, default=5000)
    parser.add_argument("--max-gb", type=float, default=14.0)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.one is not None:
        print("\n" + json.dumps(run_size(args.one, args.per_tile, args.profile)))
        return
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} on {platform.node()}: {platform.machine()}, "
          f"Python {platform.python_version()}, {args.per_tile:,} dwellings per tile")
    rows: list[dict] = []
    for s in (int(x) for x in args.tiles.split(",")):
        if rows:  # memory grows about linearly: do not start a size that would not fit
            last = rows[-1]
            projected_gb = max(last["peak_rss_compute_mb"], last["peak_rss_loading_mb"]
                               ) / 1024 * s / last["tiles"]
            if projected_gb > args.max_gb:
                print(f"stopped before {s} tiles: projected peak {projected_gb:.1f} GB "
                      f"> {args.max_gb} GB")
                break
        cmd = [sys.executable, __file__, "--one", str(s), "--per-tile", str(args.per_tile)]
        if args.profile:
            cmd.append("--profile")
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode:
            print(f"{s} tiles: failed\n{proc.stderr[-3000:]}")
            break
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        profile = row.pop("profile", None)
        rows.append(row)
        print(json.dumps(row), flush=True)
        if profile:
            print(profile)
    if not rows:
        return
    base = rows[0]
    table = pd.DataFrame(rows).set_index("tiles")
    table["time_ratio"] = table["compute_s"] / base["compute_s"]
    table["input_ratio"] = table["dwellings"] / base["dwellings"]
    table["cpu_ratio"] = table["compute_cpu_s"] / base["compute_cpu_s"]
    table["memory_ratio"] = table["peak_rss_compute_mb"] / base["peak_rss_compute_mb"]
    print(table.T.to_string())
    if len(rows) >= 2:
        a, b = rows[-2], rows[-1]
        scale = math.log(b["dwellings"] / a["dwellings"])
        growth = math.log(b["compute_cpu_s"] / a["compute_cpu_s"]) / scale
        mem_growth = math.log(b["peak_rss_compute_mb"] / a["peak_rss_compute_mb"]) / scale
        # linear extrapolation from the two largest sizes (fixed cost + cost per dwelling)
        n_dk = DENMARK_ADDRESSES
        per_cpu = (b["compute_cpu_s"] - a["compute_cpu_s"]) / (b["dwellings"] - a["dwellings"])
        per_mb = (b["peak_rss_compute_mb"] - a["peak_rss_compute_mb"]) / (
            b["dwellings"] - a["dwellings"])
        cpu_dk = b["compute_cpu_s"] + per_cpu * (n_dk - b["dwellings"])
        gb_dk = (b["peak_rss_compute_mb"] + per_mb * (n_dk - b["dwellings"])) / 1024
        print(f"growth exponent between the two largest sizes: CPU time {growth:.2f}, "
              f"memory {mem_growth:.2f}")
        print(f"projected for Denmark ({n_dk:,} addresses, linear from the two largest "
              f"sizes): {cpu_dk / 60:.0f} CPU min, {gb_dk:.1f} GB peak")

if __name__ == "__main__":
    main()
