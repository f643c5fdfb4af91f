"""Time from a decision's click until the Review page shows it, on the demo and at 4,000+ dwellings.

    python benchmarks/review_latency.py [--dwelling-copies 12] [--household-copies 2]
                                        [--decisions 6] [--large-only]

Runs the app (`streamlit run app/Home.py`) against a stored run and drives Debian's chromium
with Playwright as a coordinator would: choose a household, approve, undo; the time is from the
click on *Godkend* / *Fortryd* until the household's card shows the new status (the list and the
map's proposal layer are redrawn in the same run of the queue). The larger municipality is the
demo with each dwelling repeated ``--dwelling-copies`` times (12: 4,320 dwellings) and each
household ``--household-copies`` times (``placement.demo_scale.enlarge_dataset``). The browser
helpers are those of the browser test (tests/test_browser.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import test_browser as tb  # noqa: E402  (the browser test's helpers)

from placement import auth, db, planning  # noqa: E402
from placement.demo_scale import enlarge_dataset  # noqa: E402

DEMO = REPO / "data" / "geo" / "demo"


def _start_app(folder: Path, dataset: Path) -> tuple[subprocess.Popen, str, int]:
    url = f"sqlite:///{folder / 'placement.db'}"
    db.upgrade(url)
    t0 = time.perf_counter()
    plan = planning.make_plan(dataset, "default")
    print(f"  plan: {time.perf_counter() - t0:.1f} s", flush=True)
    planning.store_plan(db.open_engine(url), plan, user="setup")
    users = folder / "users.toml"
    auth.add_user(users, "mette", tb.PASSWORDS["mette"], "coordinator")
    port = tb._free_port()
    env = dict(os.environ, PLACEMENT_DB=url, PLACEMENT_USERS=str(users),
               PLACEMENT_DATASET=str(dataset), PLACEMENT_TILES="none",
               PLACEMENT_CACHE=str(folder / "cache"))
    log = (folder / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO / "app" / "Home.py"),
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--server.headless", "true", "--server.enableStaticServing", "true",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
         "--client.toolbarMode", "viewer"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=folder)
    base = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    placed = sorted(plan.assignments.dropna(subset=["dwelling_id"])["household_id"])
    return proc, base, placed


def measure(name: str, dataset: Path, decisions: int) -> dict[str, float | int | str]:
    """Approve and undo ``decisions`` households; seconds until each shows."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="placement-latency-") as tmp:
        folder = Path(tmp)
        proc, base, _ = _start_app(folder, dataset)
        timings: list[float] = []
        try:
            with sync_playwright() as p:
                browser = tb._browser(p)
                page = browser.new_page(viewport=tb.SIZES["1440x900"])
                page.set_default_timeout(tb.T)
                tb._sign_in(page, base, "mette")
                tb._map_drawn(page)
                # one decision first: the caches of the queue are warm, as in a working day
                warm = tb._pick_in_list(page, 1)
                tb._decide(page, "Godkend", "Godkendt", warm)
                tb._decide(page, "Fortryd", "Foreslået", warm)
                # then the first rows of the list in turn, as a coordinator works down the
                # queue (approve, then undo: each row keeps its place)
                for i in range(decisions):
                    hid = tb._pick_in_list(page, i % 2)
                    timings.append(tb._decide(page, "Godkend", "Godkendt", hid))
                    timings.append(tb._decide(page, "Fortryd", "Foreslået", hid))
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    import pandas as pd

    n_dw = len(pd.read_csv(dataset / "dwellings.csv", usecols=["dwelling_id"]))
    n_hh = len(pd.read_csv(dataset / "households.csv", usecols=["household_id"]))
    return {"case": name, "dwellings": n_dw, "households": n_hh, "n": len(timings),
            "median_s": statistics.median(timings), "max_s": max(timings),
            "min_s": min(timings)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dwelling-copies", type=int, default=12)
    parser.add_argument("--household-copies", type=int, default=2)
    parser.add_argument("--decisions", type=int, default=6)
    parser.add_argument("--large-only", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="placement-large-") as tmp:
        if not args.large_only:
            print("demo …", flush=True)
            rows.append(measure("demo", DEMO, args.decisions))
        large = enlarge_dataset(DEMO, Path(tmp) / "large", dwelling_copies=args.dwelling_copies,
                                household_copies=args.household_copies)
        print("large …", flush=True)
        rows.append(measure("large", large, args.decisions))
    print("| Case | Dwellings | Households | Decisions | Median | Min | Max |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['case']} | {r['dwellings']:,} | {r['households']:,} | {r['n']} | "
              f"{r['median_s']:.2f} s | {r['min_s']:.2f} s | {r['max_s']:.2f} s |")


if __name__ == "__main__":
    main()
