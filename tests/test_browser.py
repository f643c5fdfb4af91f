"""End to end in a real browser: Debian's chromium driven by Playwright against `streamlit run`.

Signs in, opens each page, approves a proposal, downloads the proposals CSV and compares it
with the library's export, and saves a screenshot of the map. The map's assets (Leaflet,
jQuery, marker clusters) come from the app itself: no request leaves 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from placement import auth, db, planning
from placement.export import read_proposals_csv

pytestmark = pytest.mark.browser
#: Milliseconds to wait for the app (the first page load computes and caches the map layers).
T = 120_000

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[1]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory, demo_plan, demo_dir):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    folder = tmp_path_factory.mktemp("browser")
    url = f"sqlite:///{folder / 'placement.db'}"
    db.upgrade(url)
    run_id = planning.store_plan(db.open_engine(url), demo_plan, user="setup")
    users = folder / "users.toml"
    auth.add_user(users, "mette", "coordinator-password", "coordinator")
    port = _free_port()
    env = dict(os.environ, PLACEMENT_DB=url, PLACEMENT_USERS=str(users),
               PLACEMENT_DATASET=str(demo_dir), PLACEMENT_TILES="none",
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
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.terminate()
        pytest.fail("streamlit did not start:\n" + (folder / "streamlit.log").read_text())
    yield {"base": base, "url": url, "run_id": run_id, "folder": folder}
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


def test_sign_in_review_approve_download_and_map(server, demo_plan, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page.on("request", lambda req: outside.append(req.url)
                if not req.url.startswith(("http://127.0.0.1", "data:", "blob:", "about:"))
                else None)
        page.set_default_timeout(120_000)
        page.goto(server["base"])
        page.get_by_label("Brugernavn").fill("mette")
        page.get_by_label("Adgangskode").fill("coordinator-password")
        page.get_by_role("button", name="Log ind").click()
        expect(page.get_by_text("Placerede husstande", exact=True)).to_be_visible(timeout=T)

        # the map: Leaflet served by the app itself draws the vector layers
        frame = page.frame_locator("iframe[title*='st_folium']").first
        expect(frame.locator(".leaflet-container")).to_be_visible(timeout=T)
        expect(frame.locator(".leaflet-interactive").first).to_be_attached(timeout=T)
        page.wait_for_timeout(1500)
        shot = tmp_path / "map.png"
        map_frame = page.locator("iframe[title*='st_folium']").first
        map_frame.scroll_into_view_if_needed()
        map_frame.screenshot(path=str(shot))
        assert shot.stat().st_size > 20_000
        if os.environ.get("PLACEMENT_SCREENSHOT"):  # the README's picture
            page.screenshot(path=os.environ["PLACEMENT_SCREENSHOT"], full_page=False)

        # approve one proposal
        household = sorted(demo_plan.assignments.dropna(subset=["dwelling_id"])
                           ["household_id"])[0]
        picker = page.locator("div[data-testid='stMultiSelect']").filter(
            has_text="Husstande").locator("input")
        picker.click()
        picker.fill(household)
        picker.press("Enter")
        page.get_by_label("Begrundelse").fill("fits the family")
        page.get_by_role("button", name="Gem beslutning").click()
        expect(page.get_by_text("1 beslutning(er) gemt.")).to_be_visible(timeout=T)

        # every page opens
        for label in ("Hvad nu hvis", "Fastholdelse", "Eksport"):
            page.locator("section[data-testid='stSidebar']").get_by_text(label, exact=True).click()
            expect(page.get_by_role("heading", name=label)).to_be_visible(timeout=T)

        # download the proposals CSV and compare it with the library's export
        with page.expect_download() as info:
            page.get_by_role("button", name="Forslag til sagsbehandling (CSV)").click()
        downloaded = tmp_path / "download.csv"
        info.value.save_as(downloaded)
        browser.close()

    engine = db.open_engine(server["url"])
    expected = planning.export_run_csv(engine, server["run_id"], demo_plan.dataset,
                                       tmp_path / "library.csv", sep=";")
    got, want = read_proposals_csv(downloaded, sep=";"), read_proposals_csv(expected, sep=";")
    assert got.equals(want)
    row = got.set_index("household_id").loc[household]
    assert row["status"] == "approved"
    assert row["decided_by"] == "mette"
    assert outside == []
