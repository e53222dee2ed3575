"""The app as a new user meets it: `alliance app`, opened in Debian's headless Chromium.

Playwright drives /usr/bin/chromium (`make test` and `.ci/run` install it with apt when it is
missing). Every request that is not for the local server is aborted and recorded, so the test
fails if the page reaches for the internet. With ALLIANCE_SCREENSHOTS=DIR (`make screenshots`)
it also saves a screenshot of each view to DIR.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from experiments import bench_app
from sim.parameters import PARAMETERS

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWS = {
    "aggregates": 0,
    "trajectories": 1,
    "heatmap": 2,
    "table": 3,
    "uncertainty": 4,
}
"""Screenshot name of each card of the grid, in the order of ``app.COMPONENTS``."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("app") / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sim.cli", "app", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                assert response.status == 200
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                pytest.fail(f"alliance app did not serve {url}:\n{log.read_text()}")
            time.sleep(0.5)
    yield url
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def _pick(page, select_label: str, option: str) -> None:
    page.locator(".v-select", has_text=select_label).first.click()
    page.get_by_role("option", name=option, exact=True).click()


def test_a_new_user_picks_a_scenario_steps_plays_and_asks_for_the_bands(server, tmp_path):
    assert CHROMIUM.exists(), "needs Debian's chromium: apt-get install chromium (make test does)"
    shots = Path(os.environ.get("ALLIANCE_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    failed, errors, outside = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1300})
        page.set_default_timeout(60_000)
        expect.set_options(timeout=60_000)
        page.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}"))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))

        def only_local(route):
            if route.request.url.startswith(server):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        page.route("**/*", only_local)
        page.goto(server)
        expect(page.get_by_text("Year 2025")).to_be_visible()
        pending = page.get_by_text("Press Reset to run these settings.")
        expect(pending).to_have_count(0)  # the sliders hold the model's values, unrounded

        _pick(page, "Scenario", "us-retrenchment")
        expect(page.get_by_text("The US withdraws from Europe")).to_be_visible()
        expect(pending).to_be_visible()
        page.get_by_role("button", name="Reset").click()
        expect(page.get_by_text("Running us-retrenchment, 2025-2035, seed 1")).to_be_visible()
        expect(pending).to_have_count(0)
        calibrated = PARAMETERS["free_riding"].default  # four decimals, not the slider's rounding
        expect(page.get_by_text(f"Free-riding strength (pp/pp): {calibrated:.4g}")).to_be_visible()
        for year in (2026, 2027, 2028):
            page.get_by_role("button", name="Step").click()
            expect(page.get_by_text(f"Year {year}", exact=True)).to_be_visible()
        expect(page.get_by_text("Allies in 2028, furthest below")).to_be_visible()
        expect(page.get_by_text("3 of 10 years run", exact=True)).to_be_visible()
        expect(page.get_by_text(re.compile(r"^Time"))).to_have_count(0)  # not Mesa's "Time: 3.0"
        rendered = "imgs => imgs.filter(i => i.complete && i.naturalWidth > 0).length"
        assert page.locator(".vue-grid-item img").evaluate_all(rendered) == 3
        page.screenshot(path=str(tmp_path / "after-three-steps.png"), full_page=True)

        page.get_by_role("button", name="▶").click()  # play to the end year
        expect(page.get_by_text("Year 2035", exact=True)).to_be_visible()
        expect(page.get_by_role("button", name="Step")).to_be_disabled()
        _pick(page, "Highlight ally", "France")
        _pick(page, "Highlight ally", "Germany")
        expect(page.locator(".v-select", has_text="Highlight ally")).to_contain_text("Germany")

        page.get_by_role("button", name="Run 200 replications").click()
        expect(page.get_by_text("200 replications in")).to_be_visible()
        expect(page.locator(".vue-grid-item img")).to_have_count(4)
        page.wait_for_function(
            "() => [...document.querySelectorAll('.vue-grid-item img')]"
            ".every(i => i.complete && i.naturalWidth > 0)"
        )
        assert not page.get_by_text("error in step").count()

        page.screenshot(path=str(shots / "app.png"), full_page=True)
        page.locator(".v-navigation-drawer").screenshot(path=str(shots / "sidebar.png"))
        cards = page.locator(".vue-grid-item")
        for name, index in VIEWS.items():
            cards.nth(index).screenshot(path=str(shots / f"{name}.png"))
        browser.close()

    assert (shots / "app.png").stat().st_size > 10_000
    assert not outside, f"requests left the machine: {outside}"
    assert not failed, f"requests failed: {failed}"
    assert not errors, f"console errors: {errors}"


def test_bench_app_times_steps_as_the_browser_sees_them(server):
    with bench_app.chromium() as browser:
        page = bench_app.open_session(browser, server)
        latencies = bench_app.step_latencies(page, 2)
        expect(page.get_by_text("Year 2027", exact=True)).to_be_visible()
    assert len(latencies) == 2
    assert all(0 < shown <= redrawn < 60 for shown, redrawn in latencies)
