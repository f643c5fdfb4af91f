"""Benchmark: loading the walk network of an OSM file, osmnx path against the arrays loader.

Run from the repository root (no extra dependency)::

    nice -n 10 .venv/bin/python benchmarks/osm_load.py                 # every case
    nice -n 10 .venv/bin/python benchmarks/osm_load.py --tiles 1,16    # tiled Porto Alegre

Each (input, loader) runs in its own process. The process imports placement (and osmnx), then
resets its peak resident memory (Linux ``clear_refs``) and loads the file with
``placement.osm.walk_network_from_file(path, loader=...)``, i.e. up to the ``WalkNetwork`` the
accessibility stage uses. Reported: wall time, peak resident memory above the memory after the
imports (``VmHWM`` minus ``VmRSS`` at the reset), and that peak per *raw walk-way node* (nodes
referenced by the walkable ways before simplification).

Inputs: the Samsø extract (OSM XML, bz2), the Porto Alegre PBF, and that PBF tiled ``s`` times
on a grid (``--tiles``; every node and way copied with new ids, shifted 0.05° per tile), written
to a temporary folder.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
SAMSO_OSM = SHARED / "osm" / "samsoe_2020-03-09.osm.bz2"
POA_OSM = SHARED / "fallback_porto_alegre" / "poa_osm.pbf"
LOADERS = ("osmnx", "arrays")
#: Id offset between tiles (larger than any OSM id).
ID_STEP = 20_000_000_000
TILE_DEG = 0.05


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_one(path: Path, loader: str) -> dict:
    """Load ``path`` with ``loader`` in this process; return time and memory."""
    import gc

    from placement import osm, osm_arrays

    gc.collect()
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    base = _status_mb("VmRSS")
    t0 = time.perf_counter()
    net = osm.walk_network_from_file(path, loader=loader)
    seconds = time.perf_counter() - t0
    peak = _status_mb("VmHWM") - base
    n_raw = osm_arrays.walk_arrays_from_file(path).n_raw_nodes  # after the peak was read
    return {
        "loader": loader, "seconds": round(seconds, 2), "peak_mb": round(peak, 1),
        "raw_nodes": n_raw, "kb_per_raw_node": round(peak * 1024 / n_raw, 2),
        "nodes": int(net.n_nodes), "edges": len(net.edge_u),
    }


def tiled_pbf(src: Path, n_tiles: int, out: Path) -> Path:
    """Write ``src`` copied ``n_tiles`` times on a grid (new ids, shifted) as a PBF."""
    import osmium

    side = int(n_tiles**0.5 + 0.999)
    shifts = [((k % side) * TILE_DEG, (k // side) * TILE_DEG) for k in range(n_tiles)]
    writer = osmium.SimpleWriter(str(out), overwrite=True)
    try:
        for kind in ("node", "way"):
            for k, (dx, dy) in enumerate(shifts):
                off = k * ID_STEP
                entities = osmium.osm.NODE if kind == "node" else osmium.osm.WAY
                for obj in osmium.FileProcessor(str(src), entities):
                    if kind == "node":
                        loc = obj.location
                        new_loc = osmium.osm.Location(loc.lon + dx, loc.lat + dy)
                        writer.add_node(obj.replace(id=obj.id + off, location=new_loc))
                    else:
                        refs = [n.ref + off for n in obj.nodes]
                        writer.add_way(obj.replace(id=obj.id + off, nodes=refs))
    finally:
        writer.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", nargs=2, metavar=("PATH", "LOADER"), help=argparse.SUPPRESS)
    parser.add_argument("--tiles", default="", help="tile counts of Porto Alegre, e.g. 4,16")
    parser.add_argument("--loaders", default=",".join(LOADERS))
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(Path(args.one[0]), args.one[1])))
        return
    loaders = [x for x in args.loaders.split(",") if x]
    print(f"# {platform.node()} {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}")
    with tempfile.TemporaryDirectory(prefix="osm-load-") as tmp:
        cases = [("Samsø (.osm.bz2)", SAMSO_OSM), ("Porto Alegre (.pbf)", POA_OSM)]
        for s in [int(x) for x in args.tiles.split(",") if x]:
            t0 = time.perf_counter()
            path = tiled_pbf(POA_OSM, s, Path(tmp) / f"poa_x{s}.osm.pbf")
            print(f"# tiled x{s} written in {time.perf_counter() - t0:.1f} s")
            cases.append((f"Porto Alegre tiled ×{s} (.pbf)", path))
        print("| Input | Loader | Raw walk-way nodes | Nodes / edges after simplification "
              "| Wall s | Peak memory | Per raw node |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for name, path in cases:
            if not path.is_file():
                print(f"# {name}: {path} absent, skipped")
                continue
            for loader in loaders:
                proc = subprocess.run(
                    [sys.executable, __file__, "--one", str(path), loader],
                    capture_output=True, text=True, check=False, cwd=REPO)
                if proc.returncode != 0:
                    print(f"# {name} {loader} failed: {proc.stderr.strip()[-400:]}")
                    continue
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                print(f"| {name} | {loader} | {r['raw_nodes']:,} | {r['nodes']:,} / "
                      f"{r['edges']:,} | {r['seconds']} | {r['peak_mb']:,} MB | "
                      f"{r['kb_per_raw_node']} KB |", flush=True)


if __name__ == "__main__":
    main()
