"""The dashboard in a real browser: ``severity dashboard`` on a free loopback port, every page loaded in Debian's
headless Chromium (driven by Playwright, no browser download), a screenshot of each kept under the test's temp folder.

With DASHBOARD_SCREENSHOTS_TO set to a folder, the screenshots are copied there too (how docs/dashboard-*.png are made).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Each page's own text, shown once its data has loaded. The first page is the app's default, served at "/".
PAGES = {
    "model": ("Model", "Registry version"),
    "explain": ("Explain an accident", "Original: fatal probability"),
    "triage": ("Triage queue", "Upload a CSV of events"),
    "monitoring": ("Monitoring", "Fairness and weak slices"),
    "governance": ("Governance", "Registered versions of"),
}
START_SECONDS = 60
PAGE_SECONDS = 90


@pytest.fixture
def chromium():
    if not CHROMIUM.exists():
        if os.environ.get("SEVERITY_REQUIRE_CHROMIUM"):
            pytest.fail(f"Chromium is required (SEVERITY_REQUIRE_CHROMIUM) but {CHROMIUM} is not there")
        pytest.skip("Chromium not installed (apt-get install chromium)")
    return CHROMIUM


def wait_until_healthy(url: str, server: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"severity dashboard exited with {server.returncode}: {server.stdout.read()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    raise AssertionError(f"The dashboard did not answer {url}/_stcore/health within {seconds} s")


def test_every_page_loads_in_a_headless_browser(dashboard_project, chromium, tmp_path):
    from playwright.sync_api import sync_playwright

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(Path(sys.executable).with_name("severity")), "dashboard", "--port", str(port)]
    server = subprocess.Popen(
        command,
        cwd=dashboard_project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        wait_until_healthy(url, server, START_SECONDS)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True)
            context = browser.new_context(viewport={"width": 1400, "height": 2200})
            page = context.new_page()
            for name, (title, own_text) in PAGES.items():
                path = "" if name == next(iter(PAGES)) else name
                page.goto(f"{url}/{path}", timeout=PAGE_SECONDS * 1000)
                page.get_by_role("heading", name=title).first.wait_for(timeout=PAGE_SECONDS * 1000)
                page.get_by_text(own_text).first.wait_for(timeout=PAGE_SECONDS * 1000)
                # The script has finished its run and every Plotly chart has drawn its SVG.
                page.wait_for_selector(
                    '[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=PAGE_SECONDS * 1000
                )
                page.wait_for_function(
                    "() => [...document.querySelectorAll('[data-testid=\"stPlotlyChart\"]')]"
                    ".every(chart => chart.querySelector('.main-svg'))",
                    timeout=PAGE_SECONDS * 1000,
                )
                assert page.get_by_text("Page not found").count() == 0, name
                assert page.locator('[data-testid="stException"]').count() == 0, (
                    f"{name}: {page.inner_text('body')[:3000]}"
                )
                shot = tmp_path / f"dashboard-{name}.png"
                page.screenshot(path=str(shot))  # the viewport: Streamlit scrolls its own pane
                assert shot.stat().st_size > 10_000
            browser.close()
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
    target = os.environ.get("DASHBOARD_SCREENSHOTS_TO")
    if target:
        for shot in tmp_path.glob("dashboard-*.png"):
            shutil.copy2(shot, Path(target) / shot.name)
    assert sorted(p.name for p in tmp_path.glob("dashboard-*.png")) == sorted(f"dashboard-{n}.png" for n in PAGES)
