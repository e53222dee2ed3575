"""The app as a new user meets it: `alliance app`, opened in Debian's headless Chromium.

Playwright drives /usr/bin/chromium (`make test` and `.ci/run` install it with apt when it is
missing). Every request that is not for the local server is aborted and recorded, so the test
fails if the page reaches for the internet, or logs an error. With ALLIANCE_SCREENSHOTS=DIR
(`make screenshots`) it also saves a screenshot of the page and of each view to DIR.
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

import psutil
import pytest
from playwright.sync_api import expect, sync_playwright

from experiments import bench_app
from sim.columns import ALLIES_TABLE
from sim.parameters import PARAMETERS

CHROMIUM, FLAGS = bench_app.CHROMIUM, bench_app.FLAGS  # one browser set-up for both
VIEWS = ("Overview", "Ally", "Capabilities", "Table", "Uncertainty")
"""The views' tabs (``app.TABS``); the screenshot of each is saved as its lower-case name."""
CHART = ".vega-embed svg.marks"
"""A Vega-Lite chart drawn (vega-embed renders SVG)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """``alliance app`` on a free port: its URL and the process that serves it."""
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
    yield url, bench_app._solara_process(psutil.Process(proc.pid))
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server(served):
    return served[0]


def _pick(page, select_label: str, option: str) -> None:
    page.locator(".v-select", has_text=select_label).first.click()
    page.get_by_role("option", name=option, exact=True).click()


def _tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def _svg_text(chart, text: str):
    """A chart's text (a legend entry, a title), once drawn."""
    return chart.locator("svg text").filter(has_text=text).first


def _charts_drawn(page, count: int) -> None:
    page.wait_for_function(
        "([css, n]) => document.querySelectorAll(css).length === n", arg=[CHART, count]
    )


COLOURED_LINES = """chart => Array.from(chart.querySelectorAll('.mark-line path'))
    .map(path => path.getAttribute('stroke')).filter(stroke => stroke !== '#bbbbbb')"""
"""The strokes of a chart's lines that are not the grey of an ally nobody picked."""
LEGEND_COLOUR = """(chart, ally) => {
    const labels = Array.from(chart.querySelectorAll('.name_legend_labels text'));
    const symbols = chart.querySelectorAll('.name_legend_symbols path');
    return symbols[labels.findIndex(label => label.textContent === ally)].getAttribute('stroke');
}"""
"""The colour of an ally's entry in the trajectories chart's legend."""
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _highlights_from_the_legend(page, chart, ally: str) -> None:
    """Click ``ally`` in the trajectories chart's legend: its two lines take its colour."""
    before = chart.evaluate(COLOURED_LINES)
    colour = chart.evaluate(LEGEND_COLOUR, ally)
    assert colour not in before and colour.startswith("#")
    chart.locator(".name_legend_labels text", has_text=ally).first.click()
    page.wait_for_function(
        f"([chart, n]) => ({COLOURED_LINES})(chart).length === n",
        arg=[chart.element_handle(), len(before) + 2],
    )
    after = chart.evaluate(COLOURED_LINES)
    assert sorted(after) == sorted([*before, colour, colour])  # core and fulfilment panels


def _exports(page, chart, tmp_path) -> None:
    """The chart's "⋯" menu saves it as SVG and PNG, drawn in the page."""
    for kind, head in (("SVG", b"<svg"), ("PNG", PNG_SIGNATURE)):
        menu = chart.locator("details")
        if menu.get_attribute("open") is None:  # vega-embed leaves it open after a save
            menu.locator("summary").click()
        with page.expect_download() as download:
            chart.get_by_text(f"Save as {kind}").click()
        path = tmp_path / download.value.suggested_filename
        download.value.save_as(path)
        assert path.name == f"allies.{kind.lower()}"
        assert path.read_bytes().startswith(head) and path.stat().st_size > 10_000


def test_an_analyst_compares_hovers_opens_an_ally_and_downloads_the_tables(server, tmp_path):
    assert CHROMIUM.exists(), "needs Debian's chromium: apt-get install chromium (make test does)"
    shots = Path(os.environ.get("ALLIANCE_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    failed, errors, outside = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1300}, accept_downloads=True)
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
        expect(page.get_by_role("tab", name="Overview")).to_be_visible()  # not Mesa's "Page 0"
        expect(page.get_by_text("Page 0")).to_have_count(0)
        _charts_drawn(page, 2)  # Vega-Lite from solara-assets, offline

        _pick(page, "Scenario", "us-retrenchment")
        expect(page.get_by_text("The US withdraws from Europe")).to_be_visible()
        expect(pending).to_be_visible()
        page.get_by_role("button", name="Reset").click()
        expect(page.get_by_text("Running us-retrenchment, 2025-2035, seed 1")).to_be_visible()
        expect(pending).to_have_count(0)
        calibrated = PARAMETERS["free_riding"].default  # four decimals, not the slider's rounding
        expect(page.get_by_text(f"Free-riding strength (pp/pp): {calibrated:g}")).to_be_visible()
        expect(page.get_by_text("Threat level (× path): 1.00", exact=True)).to_be_visible()
        for year in (2026, 2027, 2028):
            page.get_by_role("button", name="Step").click()
            expect(page.get_by_text(f"Year {year}", exact=True)).to_be_visible()
        expect(page.get_by_text("3 of 10 years run", exact=True)).to_be_visible()
        expect(page.get_by_text(re.compile(r"^Time"))).to_have_count(0)  # not Mesa's "Time: 3.0"
        page.screenshot(path=str(tmp_path / "after-three-steps.png"), full_page=True)

        _pick(page, "Compare with", "baseline: hague-2035")
        expect(page.get_by_text("Compared with hague-2035")).to_be_visible()
        charts = page.locator(".vega-embed")
        expect(_svg_text(charts.first, "hague-2035 (compare)")).to_be_attached()  # runs' legend
        germany = charts.nth(1).locator("path[aria-label*='ally: Germany']")
        expect(germany.first).to_be_attached()
        germany.last.hover(force=True)
        tooltip = page.locator("#vg-tooltip-element")
        expect(tooltip).to_be_visible()
        expect(tooltip).to_contain_text("Germany")
        expect(tooltip).to_contain_text("year")
        _highlights_from_the_legend(page, charts.nth(1), "Poland")
        _exports(page, charts.nth(1), tmp_path)

        page.get_by_role("button", name="▶").click()  # play to the end year
        expect(page.get_by_text("Year 2035", exact=True)).to_be_visible()
        expect(page.get_by_role("button", name="Step")).to_be_disabled()
        _charts_drawn(page, 2)

        with page.expect_download() as download:
            page.get_by_role("button", name="Allies table (CSV)").click()
        path = tmp_path / "allies.csv"
        download.value.save_as(path)
        header, *rows = path.read_text().splitlines()
        assert header.split(",") == list(ALLIES_TABLE)
        assert len(rows) == 32 * 11  # every ally, 2025-2035

        _tab(page, "Ally")
        expect(page.get_by_text("Germany: core and total spending")).to_be_visible()
        expect(
            page.get_by_text(re.compile(r"bands: parameter draws from the posterior"))
        ).to_be_visible()
        _charts_drawn(page, 1)
        ally = page.locator(".vega-embed")
        expect(ally.locator("path[aria-label*='series: national plan']").first).to_be_attached()
        expect(_svg_text(ally, "national plan")).to_be_attached()
        expect(_svg_text(ally, "pledge path")).to_be_attached()
        page.screenshot(path=str(shots / "ally.png"), full_page=True)

        _tab(page, "Capabilities")
        _charts_drawn(page, 1)
        expect(page.get_by_text(re.compile(r"Colours span this year's range"))).to_be_visible()
        page.screenshot(path=str(shots / "capabilities.png"), full_page=True)

        _tab(page, "Table")
        expect(page.get_by_text("This run against hague-2035")).to_be_visible()
        expect(page.get_by_text("Core diff 2035 (pp)")).to_be_visible()
        page.screenshot(path=str(shots / "table.png"), full_page=True)

        _tab(page, "Uncertainty")
        page.get_by_role("button", name="Run 200 replications").click()
        expect(page.get_by_text("200 replications in")).to_be_visible()
        _charts_drawn(page, 1)
        assert not page.get_by_text("error in step").count()
        page.screenshot(path=str(shots / "uncertainty.png"), full_page=True)

        _tab(page, "Overview")
        _charts_drawn(page, 2)
        page.screenshot(path=str(shots / "app.png"), full_page=True)
        page.locator(".v-navigation-drawer").screenshot(path=str(shots / "sidebar.png"))
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


def test_sessions_at_once_stay_independent_and_their_memory_settles(served):
    url, process = served
    reports, memory = bench_app.concurrent_sessions(url, process, sessions=2, cycles=2)
    for report in reports:
        assert report.running.startswith(
            f"Running {report.scenario}, "
        )  # its own run, not the other's
        assert report.year == "Year 2035" and len(report.latencies) == 10
        assert all(0 < shown < 60 for shown in report.latencies)
    moments = [moment for moment, _ in memory]
    assert moments[-2:] == [
        "After Reset+Step cycle 1 in every session",
        "After Reset+Step cycle 2 in every session",
    ]
    assert all(mib > 0 for _, mib in memory)
