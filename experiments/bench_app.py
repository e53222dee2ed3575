"""Benchmark of the browser app: server-side work, the step a browser sees, memory per session.

Run it from the repository root (``source .venv/bin/activate`` first). Without options it times,
in this process and without a browser:

1. the bands, ``sim.dashboard.uncertainty_bands`` (``sim.forecast.make_forecast`` with the
   project's default uncertainty: the posterior when ``scenarios/posterior.toml`` exists), for
   N = 200 and N = 1,000 replications of ``us-retrenchment`` with seed 1;
2. each view's numbers and chart, as the app makes them after a step (the tables of
   ``sim.dashboard`` and the Vega-Lite specification of ``sim.app_charts``, serialised to JSON as
   the widget sends it), in 2030 of the same scenario, and the ally table;
3. one Step as the server does it: the model's step from 2029 to 2030 and the default tab's
   views (Overview: two charts), with and without a comparison with the baseline;
4. one Step through the rendered page (``solara.render`` in this process, as the tests do): the
   click on Step, Mesa's controller, solara's re-render and the widgets' updates, on the default
   tab (the time a session's server spends on a step; no browser or network).

Each timing is repeated ``--repeat`` times after one untimed warm-up; the report gives the
median and the minimum in seconds.

``--browser`` then serves the app (``alliance app``) and drives Debian's Chromium
(``/usr/bin/chromium``) with Playwright. It opens the page and clicks Step ``--steps`` times
(``hague-2035``, from 2025), timing in the page, every animation frame, from the click to the
new "Year N" shown, and to the two charts of the default tab redrawn.

``--concurrent N`` serves the app and opens N tabs at once, each in its own thread, picking a
different scenario, pressing Reset and stepping to its end year, then ``--cycles`` times Reset
and Step; it reports each session's step latencies seen by the browser (median, max) and the
server's RSS after the first and the last cycle.

``--sessions N`` serves the app and opens N tabs, one after another, each loading the page,
stepping once and closing (the server sees its connection drop), for ``--rounds`` rounds. It
reports the resident memory (RSS) of the server process before any tab, with the first tab
open, after each round's tabs are closed, and after the cull period that follows each round
(the app's cull timeout plus a margin). ``--app FILE`` serves another app file instead (such as
an earlier ``app.py`` from git) with ``solara run`` and the options ``alliance app`` passes, for a
before-and-after comparison::

    python experiments/bench_app.py [--repeat 10] [--browser [--steps 10]]
    python experiments/bench_app.py --concurrent 6 [--cycles 30]
    python experiments/bench_app.py --sessions 30 [--rounds 2] [--app FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

import ipyvuetify as v
import psutil
import solara
import solara.util
from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # app.py lives at the root

import app  # noqa: E402
from sim.app_charts import (  # noqa: E402
    aggregates_spec,
    ally_spec,
    as_json,
    bands_spec,
    heatmap_spec,
    trajectories_spec,
)
from sim.dashboard import (  # noqa: E402
    THIS_RUN,
    aggregates_long,
    ally_table,
    ally_view,
    band_runs_long,
    bands_long,
    fulfilment_matrix,
    heatmap_long,
    trajectories_long,
    uncertainty_bands,
)
from sim.scenario import load_scenario  # noqa: E402

SCENARIO = "us-retrenchment"
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_TIMEOUT_S = 120.0
"""How long the server may take to answer its first request."""
PAGE_TIMEOUT_MS = 120_000
"""How long the page may take to load or to show a step."""
SETTLE_S = 5.0
"""Pause after a round's last tab closes, before its RSS is read."""
CULL_MARGIN_S = 30.0
"""Wait beyond the cull timeout, for the last session's cull and release."""
STEP_SCRIPT = """async ([year, limit]) => {
  const step = [...document.querySelectorAll('button')]
    .find((b) => b.textContent.trim() === 'Step');
  const charts = () => [...document.querySelectorAll('.vega-embed svg.marks')];
  const before = charts();
  const shown = () => document.evaluate(`boolean(//*[text()='Year ${year}'])`, document,
    null, XPathResult.BOOLEAN_TYPE, null).booleanValue;
  const redrawn = () => {
    const now = charts();
    return now.length === before.length && now.every((svg) => !before.includes(svg));
  };
  const start = performance.now();
  step.click();
  let yearAt = null;
  const chartsAt = await new Promise((resolve, reject) => {
    const poll = () => {
      const now = performance.now();
      if (yearAt === null && shown()) yearAt = now;
      if (yearAt !== null && redrawn()) return resolve(now);
      if (now - start > limit) return reject(new Error(`Year ${year} not shown`));
      requestAnimationFrame(poll);
    };
    requestAnimationFrame(poll);
  });
  return [(yearAt - start) / 1000, (chartsAt - start) / 1000];
}"""
"""Clicks Step and returns the seconds to the year shown and to every chart redrawn."""
YEAR = re.compile(r"^Year \d{4}$")
"""The sidebar's current year."""
CHARTS = 2
"""Charts a step redraws on the default tab: alliance aggregates, ally trajectories."""
CHARTS_DRAWN = """(count) => {
  return document.querySelectorAll('.vega-embed svg.marks').length === count;
}"""
"""True once the page shows ``count`` charts, drawn."""


# --- server side -------------------------------------------------------------------------------
def _time(
    fn: Callable[..., object], repeat: int, setup: Callable[[], object] | None = None
) -> tuple[float, float]:
    """(median, min) seconds of ``fn()``, or of ``fn(setup())`` untimed setup, after a warm-up."""
    times = []
    for run in range(repeat + 1):
        args = () if setup is None else (setup(),)
        start = time.perf_counter()
        fn(*args)
        if run:
            times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def _send(spec: dict) -> None:
    as_json(spec)  # the text the widget takes


def _model_in(year: int, scenario: str = SCENARIO) -> app.AppModel:
    model = app.AppModel(app.Settings(scenario), rng=1)
    model.run_for(year - model.spec.start_year)
    return model


def _overview(frame: app.Frame) -> None:
    _send(aggregates_spec(aggregates_long(frame.runs("alliance")), frame.start, frame.end))
    allies = trajectories_long(frame.runs("allies"))
    _send(trajectories_spec(allies, frame.start, frame.end, app.DEFAULT_ALLY, frame.compare))


def _step_and_redraw(model: app.AppModel, compare: str | None = None) -> None:
    model.step()
    _overview(app.make_frame(model, compare))


@solara.component
def _Layout():  # noqa: N802 (a component)
    with solara.AppLayout():
        app.Page()


def rendered_steps(repeat: int) -> tuple[float, float]:
    """(median, min) seconds of a click on Step in the page rendered in this process."""
    app.session_model.set(None)
    app.tab.set(0)
    app.compared.set(app.COMPARE_NONE)
    # Outside `solara run`, the app bar's title and theme toggle print their reprs to stdout
    # when first rendered; keep them out of the report's table.
    with redirect_stdout(io.StringIO()):
        _, rc = solara.render(_Layout(), handle_error=False)
    try:
        step = rc.find(v.Btn, children=["Step"]).widget
        times = []
        for run in range(repeat + 1):
            if step.disabled:  # at the end year: start again (untimed)
                rc.find(v.Btn, children=["Reset"]).widget.click()
            start = time.perf_counter()
            step.click()
            if run:
                times.append(time.perf_counter() - start)
    finally:
        rc.close()
    return statistics.median(times), min(times)


def server_side(repeat: int) -> list[tuple[str, float, float]]:
    """Time the app's server-side work in this process.

    Args:
        repeat: Timed repetitions of each case.

    Returns:
        (measurement, median seconds, minimum seconds) per case.
    """
    model = _model_in(2030)
    bands = uncertainty_bands(model.spec, model.seed, 200)
    frame = app.make_frame(model, None)
    runs = frame.runs("allies")
    matrix = {THIS_RUN: fulfilment_matrix(model)}
    cases = {
        f"Bands, N = 200 ({bands.uncertainty})": lambda: uncertainty_bands(model.spec, 1, 200),
        f"Bands, N = 1,000 ({bands.uncertainty})": lambda: uncertainty_bands(model.spec, 1, 1000),
        "The run's tables (sim.run.model_tables)": lambda: app.make_frame(model, None),
        "Alliance aggregates chart": lambda: _send(
            aggregates_spec(aggregates_long(frame.runs("alliance")), 2025, 2035)
        ),
        "Ally trajectories chart": lambda: _send(
            trajectories_spec(trajectories_long(runs), 2025, 2035, "Germany")
        ),
        "Capability heatmap": lambda: _send(heatmap_spec(heatmap_long(matrix))),
        "Ally view (Germany)": lambda: _send(
            ally_spec(ally_view(model, "Germany", runs, bands.forecast), 2025, 2035)
        ),
        "Ally table": lambda: ally_table(model),
        "Uncertainty chart": lambda: _send(
            bands_spec(bands_long(bands), band_runs_long(frame.runs("alliance")), 2025, 2035, "")
        ),
    }
    rows = [(name, *_time(fn, repeat)) for name, fn in cases.items()]
    step = _time(_step_and_redraw, repeat, setup=lambda: _model_in(2029))
    compare = _time(
        lambda m: _step_and_redraw(m, app.BASELINE), repeat, setup=lambda: _model_in(2029)
    )
    return [
        *rows,
        ("One step: model and the Overview's views (2 charts)", *step),
        ("One step, compared with the baseline", *compare),
        ("One step through the rendered page (solara, default tab)", *rendered_steps(repeat)),
    ]


# --- the served app ----------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _command(port: int, app_file: Path | None) -> list[str]:
    if app_file is None:
        return [sys.executable, "-m", "sim.cli", "app", "--port", str(port)]
    options = ["--host", "127.0.0.1", "--port", str(port), "--production", "--no-open"]
    return [sys.executable, "-m", "solara", "run", str(app_file), *options, "--no-check-version"]


def _solara_process(root: psutil.Process) -> psutil.Process:
    """The process that serves the app: ``solara run`` (``alliance app``'s child)."""
    for process in [root, *root.children(recursive=True)]:
        if "solara" in process.cmdline():
            return process
    raise RuntimeError("no solara process under the server")


@contextmanager
def serve(app_file: Path | None = None) -> Iterator[tuple[str, psutil.Process]]:
    """Serve the app on a free port until the block ends.

    Args:
        app_file: An app file to serve with ``solara run``; None serves ``alliance app``.

    Yields:
        The page's URL and the serving process.
    """
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    env = os.environ | {"SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"}
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(
            _command(port, app_file),
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                try:
                    with urllib.request.urlopen(url, timeout=5):
                        break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        raise RuntimeError(f"the app did not serve {url}:\n{log.read()}") from None
                    time.sleep(0.5)
            yield url, _solara_process(psutil.Process(proc.pid))
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's headless Chromium, driven by Playwright."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def open_session(browser: Browser, url: str) -> Page:
    """A new tab on the app, once it shows the start year and its charts."""
    page = browser.new_page(viewport={"width": 1600, "height": 1300})
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    page.goto(url)
    start = load_scenario(app.DEFAULT_SCENARIO).start_year
    page.get_by_text(f"Year {start}", exact=True).wait_for()
    page.wait_for_function(CHARTS_DRAWN, arg=CHARTS)
    return page


def step_latencies(page: Page, steps: int) -> list[tuple[float, float]]:
    """Click Step ``steps`` times, each once the previous step is drawn.

    Args:
        page: A tab on the app (from ``open_session``), with charts drawn.
        steps: How many steps (at most the years left in the run).

    Returns:
        Per step, seconds from the click to the new year shown and to every chart replaced.
    """
    year = int(page.get_by_text(YEAR).inner_text().removeprefix("Year "))
    return [
        tuple(page.evaluate(STEP_SCRIPT, [year + k, PAGE_TIMEOUT_MS])) for k in range(1, steps + 1)
    ]


def _mib(process: psutil.Process) -> float:
    return process.memory_info().rss / 2**20


def session_memory(
    url: str, server: psutil.Process, tabs: int, rounds: int, cull_s: float
) -> list[tuple[str, float]]:
    """Open and close ``tabs`` tabs per round and read the server's RSS along the way.

    Args:
        url: The served app.
        server: The process that serves it.
        tabs: Tabs per round, opened one after another, each stepped once and closed.
        rounds: Rounds of ``tabs`` tabs, each followed by a wait of ``cull_s`` plus a margin.
        cull_s: The server's cull timeout in seconds.

    Returns:
        (moment, RSS in MiB) pairs, in order.
    """
    rows = [("Before any tab", _mib(server))]
    with chromium() as browser:
        for number in range(1, rounds + 1):
            for tab in range(tabs):
                page = open_session(browser, url)
                step_latencies(page, 1)
                if number == 1 and tab == 0:
                    rows.append(("First tab open, one step", _mib(server)))
                page.close()
            time.sleep(SETTLE_S)
            closed = f"Round {number}: {tabs * number} tabs closed"
            rows.append((f"{closed}, {SETTLE_S:.0f} s on", _mib(server)))
            time.sleep(cull_s + CULL_MARGIN_S)
            rows.append((f"{closed}, {SETTLE_S + cull_s + CULL_MARGIN_S:.0f} s on", _mib(server)))
    return rows


# --- concurrent sessions ----------------------------------------------------------------------
CONCURRENT_SCENARIOS = (
    "hague-2035",
    "us-retrenchment",
    "status-quo-2pct",
    "threat-escalation",
    "threat-de-escalation",
    "recession-2027",
)
"""One scenario per concurrent session (each 2025-2035)."""
PICK_SCRIPT = """(label) => [...document.querySelectorAll('.v-select')]
  .find((s) => s.textContent.includes(label))"""


@dataclass
class SessionReport:
    """One concurrent session: its scenario, step latencies and what its page shows at the end."""

    scenario: str
    latencies: list[float] = field(default_factory=list)
    running: str = ""
    year: str = ""


async def _session(browser, url: str, scenario: str, report: SessionReport):
    page = await browser.new_page(viewport={"width": 1600, "height": 1300})
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    await page.goto(url)
    start = load_scenario(scenario).start_year
    await page.get_by_text(
        f"Year {load_scenario(app.DEFAULT_SCENARIO).start_year}"
    ).first.wait_for()
    await page.wait_for_function(CHARTS_DRAWN, arg=CHARTS)
    await page.locator(".v-select", has_text="Scenario").first.click()
    await page.get_by_role("option", name=scenario, exact=True).click()
    await page.get_by_role("button", name="Reset").click()
    await page.get_by_text(f"Running {scenario}, ").wait_for()
    await page.wait_for_function(CHARTS_DRAWN, arg=CHARTS)
    end = load_scenario(scenario).end_year
    for year in range(start + 1, end + 1):
        shown, _ = await page.evaluate(STEP_SCRIPT, [year, PAGE_TIMEOUT_MS])
        report.latencies.append(shown)
    return page


async def _cycle(page, scenario: str) -> None:
    start = load_scenario(scenario).start_year
    await page.get_by_role("button", name="Reset").click()
    await page.get_by_text(f"Year {start}", exact=True).wait_for()
    await page.wait_for_function(CHARTS_DRAWN, arg=CHARTS)
    await page.evaluate(STEP_SCRIPT, [start + 1, PAGE_TIMEOUT_MS])


async def _concurrent(url: str, server: psutil.Process, sessions: int, cycles: int):
    from playwright.async_api import async_playwright

    scenarios = [CONCURRENT_SCENARIOS[k % len(CONCURRENT_SCENARIOS)] for k in range(sessions)]
    reports = [SessionReport(name) for name in scenarios]
    memory = [("Before any session", _mib(server))]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            started = time.perf_counter()
            pages = await asyncio.gather(
                *(_session(browser, url, n, r) for n, r in zip(scenarios, reports, strict=True))
            )
            wall = time.perf_counter() - started
            for page, report in zip(pages, reports, strict=True):
                report.running = await page.get_by_text("Running ").first.inner_text()
                report.year = await page.get_by_text(YEAR).first.inner_text()
            memory.append((f"{sessions} sessions stepped to the end ({wall:.0f} s)", _mib(server)))
            for cycle in range(1, cycles + 1):
                await asyncio.gather(
                    *(_cycle(page, n) for page, n in zip(pages, scenarios, strict=True))
                )
                if cycle == 1 or cycle == cycles:
                    memory.append(
                        (f"After Reset+Step cycle {cycle} in every session", _mib(server))
                    )
        finally:
            await browser.close()
    return reports, memory


def concurrent_sessions(
    url: str, server: psutil.Process, sessions: int, cycles: int
) -> tuple[list[SessionReport], list[tuple[str, float]]]:
    """Drive ``sessions`` tabs at once, each its own scenario to its end, then Reset+Step cycles.

    Args:
        url: The served app.
        server: The process that serves it.
        sessions: Tabs open at once (one browser, one page each, driven concurrently).
        cycles: Reset+Step cycles per session after the run to the end.

    Returns:
        Each session's report, and (moment, server RSS in MiB) pairs.
    """
    return asyncio.run(_concurrent(url, server, sessions, cycles))


def _print_concurrent(sessions: int, cycles: int) -> None:
    with serve() as (url, server):
        reports, memory = concurrent_sessions(url, server, sessions, cycles)
    print(
        f"alliance app: {sessions} sessions at once in one Chromium, each picking its scenario,"
        f" pressing Reset and stepping to 2035, then {cycles} Reset+Step cycles each\n"
    )
    print("| Session | Shows at the end | Steps | Median s | Max s |\n|---|---|---:|---:|---:|")
    for r in reports:
        print(
            f"| {r.scenario} | {r.running}; {r.year} | {len(r.latencies)} |"
            f" {statistics.median(r.latencies):.3f} | {max(r.latencies):.3f} |"
        )
    print("\n| Moment | Server RSS MiB |\n|---|---:|")
    for moment, mib in memory:
        print(f"| {moment} | {mib:.0f} |")
    first, last = memory[-2][1], memory[-1][1]
    print(f"\nRSS after the last cycle / after the first: {last / first:.3f}")


# --- report ------------------------------------------------------------------------------------
def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"needs a whole number of at least 1, not {text!r}")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=_positive, default=10, help="timed repetitions (10)")
    parser.add_argument("--browser", action="store_true", help="also time steps in Chromium")
    parser.add_argument("--steps", type=_positive, default=10, help="steps timed in Chromium (10)")
    parser.add_argument("--sessions", type=_positive, metavar="N", help="memory over N tabs")
    parser.add_argument("--rounds", type=_positive, default=2, help="rounds of N tabs (2)")
    parser.add_argument("--app", type=Path, metavar="FILE", help="serve FILE with solara run")
    parser.add_argument("--concurrent", type=_positive, metavar="N", help="N sessions at once")
    parser.add_argument("--cycles", type=_positive, default=30, help="Reset+Step cycles (30)")
    return parser


def _print_browser(app_file: Path | None, steps: int) -> None:
    with serve(app_file) as (url, _), chromium() as browser:
        latencies = step_latencies(open_session(browser, url), steps)
    print(f"\nIn Chromium: {app.DEFAULT_SCENARIO}, {len(latencies)} steps from the start year\n")
    print("| From the click on Step to | Median s | Min s | Max s |\n|---|---:|---:|---:|")
    for k, name in enumerate(("the new year shown", "both charts of the Overview redrawn")):
        times = [latency[k] for latency in latencies]
        print(f"| {name} | {statistics.median(times):.3f} | {min(times):.3f} | {max(times):.3f} |")


def _print_sessions(app_file: Path | None, tabs: int, rounds: int) -> None:
    cull = app.apply_cull_timeout()
    with serve(app_file) as (url, server):
        rows = session_memory(url, server, tabs, rounds, solara.util.parse_timedelta(cull))
    served = f"solara run {app_file}" if app_file else "alliance app"
    print(
        f"{served}: {rounds} rounds of {tabs} tabs, each loaded, stepped once and closed; after"
        f" each round a wait of app.py's cull timeout ({cull}) + {CULL_MARGIN_S:.0f} s\n"
    )
    print("| Moment | Server RSS MiB |\n|---|---:|")
    for moment, mib in rows:
        print(f"| {moment} | {mib:.0f} |")


def main() -> None:
    """Print the benchmark as Markdown tables."""
    parser = _parser()
    args = parser.parse_args()
    if (args.browser or args.sessions or args.concurrent) and not CHROMIUM.exists():
        parser.error(f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    if args.app is not None and not args.app.is_file():
        parser.error(f"--app: no file {args.app}")
    if args.sessions:
        _print_sessions(args.app, args.sessions, args.rounds)
        return
    if args.concurrent:
        _print_concurrent(args.concurrent, args.cycles)
        return
    print(f"{SCENARIO}, seed 1, frames in 2030; {args.repeat} repetitions\n")
    print("| Measurement | Median s | Min s |\n|---|---:|---:|")
    for name, median, best in server_side(args.repeat):
        print(f"| {name} | {median:.3f} | {best:.3f} |")
    if args.browser:
        _print_browser(args.app, args.steps)


if __name__ == "__main__":
    main()
