"""alliance-sim in the browser: pick a scenario, move the levers, step the allies, see the bands.

Run it with ``alliance app`` (or ``make app``, or ``solara run app.py``); it serves on
127.0.0.1 and needs no internet. Built on Mesa's ``SolaraViz``: Reset / play / Step and the seed
are its own; the card above them picks the scenario (which puts its own values on the levers) and
moves the levers (read from ``sim.parameters``). Reset rebuilds the model from them.

The views sit in named tabs (Overview, Ally, Capabilities, Table, Uncertainty) under a toolbar
that picks a run to compare with, the ally, and downloads the run's tables as CSV. Their numbers
come from ``sim.dashboard``, their interactive Vega-Lite charts from ``sim.app_charts``; the
bands are ``sim.forecast.make_forecast``'s, the CLI's forecast. Only the open tab is drawn.

Each browser tab is a session (a solara virtual kernel) with its own model. A session whose tab
has gone is freed ``KERNEL_CULL_TIMEOUT`` later (solara's default keeps it 24 h).
"""

from __future__ import annotations

import ctypes
import gc
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import pandas as pd
import solara
import solara.lab
import solara.lifecycle
import solara.server.settings
from mesa.visualization import SolaraViz, solara_viz
from mesa.visualization.utils import update_counter

from sim.app_charts import (
    OfflineVegaLite,
    aggregates_spec,
    ally_spec,
    as_json,
    bands_spec,
    heatmap_domain,
    heatmap_spec,
    trajectories_spec,
)
from sim.dashboard import (
    THIS_RUN,
    Bands,
    aggregates_long,
    ally_table,
    ally_view,
    band_runs_long,
    bands_long,
    category_spread,
    compare_table,
    fulfilment_matrix,
    fulfilment_table,
    heatmap_long,
    run_tables,
    trajectories_long,
    uncertainty_bands,
)
from sim.mechanisms.pledge import redesigned_goal
from sim.model import AllianceModel
from sim.parameters import PARAMETERS
from sim.run import RunResult, run_scenario
from sim.scenario import list_scenarios, load_scenario

DEFAULT_SCENARIO = "hague-2035"
DEFAULT_SEED = 1
DEFAULT_ALLY = "Germany"
SLIDERS: dict[str, str] = {
    "threat_scale": "Threat level",
    "us_pressure_strength": "US pressure strength",
    "target_uplift": "Capability-target uplift",
    "free_riding": "Free-riding strength",
    "adjustment_speed": "Adjustment speed",
}
"""The parameters on sliders, with their titles (units and ranges come from ``PARAMETERS``)."""
SCENARIOS: dict[str, str] = dict(list_scenarios())
"""Every named scenario and its description."""
LEVER_STEP = 0.0001
"""Lever slider step: fine enough that the browser does not round a calibrated default (a moved
lever is then rounded to its precision, ``lever_decimals``)."""
KERNEL_CULL_TIMEOUT = "2m"
"""How long solara keeps a session whose tab has gone (for a reconnect) before freeing it."""
CULL_TIMEOUT_VARIABLE = "SOLARA_KERNEL_CULL_TIMEOUT"
"""Solara's own setting of that time; when set, it is used instead."""

# The module-level reactives below are kernel-scoped: each session's values live in its kernel
# and are freed with it.
highlighted = solara.reactive(DEFAULT_ALLY)
"""The ally drawn in colour (one per browser session, kept across scenarios)."""
computed_bands = solara.reactive(None)
"""The last uncertainty run: (model it was run for, ``Bands``, seconds), or None."""
compared = solara.reactive("none")
"""The comparison picker's entry (a key of ``COMPARE_OPTIONS``)."""
tab = solara.reactive(0)
"""The open tab of the views."""
session_model = solara.reactive(None)
"""The model the session runs (SolaraViz's Reset puts a new one here), or None before the page.

Kernel-scoped rather than ``solara.use_reactive``: solara 1.58's ``use_task`` (in Mesa's
``ModelController``) keeps the controller's first closures, and so the reactive it controls,
until the process ends (widgetti/solara#1180); a reactive held by the page would keep each closed
session's model with it.
"""


def apply_cull_timeout() -> str:
    """Set solara's kernel cull timeout to ``KERNEL_CULL_TIMEOUT``, unless its variable is set.

    Solara reads the setting each time a session's last tab goes, so setting it when the app is
    loaded applies to ``alliance app`` and ``solara run app.py`` alike.

    Returns:
        The cull timeout in force.
    """
    if CULL_TIMEOUT_VARIABLE not in {name.upper() for name in os.environ}:
        solara.server.settings.kernel.cull_timeout = KERNEL_CULL_TIMEOUT
    return solara.server.settings.kernel.cull_timeout


def _malloc_trim() -> Callable[[int], int] | None:
    """The C library's ``malloc_trim`` (glibc), or None where it has none (macOS, musl, Windows)."""
    try:
        return ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError, TypeError):
        return None


MALLOC_TRIM = _malloc_trim()
RELEASE_DELAY_S = 5.0
"""Seconds from a session's close to ``release_memory`` (solara tears the kernel down meanwhile)."""


def release_memory() -> None:
    """Free what closed sessions left and hand the freed heap back to the system.

    A closed kernel sits in reference cycles that only a full collection frees, which an idle
    server may not run for a long time; glibc then keeps the freed pages unless asked to return
    them.
    """
    gc.collect()
    if MALLOC_TRIM is not None:
        MALLOC_TRIM(0)


def release_after_close() -> Callable[[], None]:
    """On a session's start: have ``release_memory`` run ``RELEASE_DELAY_S`` after it closes."""

    def closed() -> None:
        timer = threading.Timer(RELEASE_DELAY_S, release_memory)
        timer.daemon = True
        timer.start()

    return closed


@dataclass
class Settings:
    """What the next Reset builds: a scenario and the levers' values (one per browser session).

    SolaraViz holds this object as a fixed model parameter and passes it to ``AppModel`` on every
    Reset; the sidebar's scenario picker and lever sliders change it in place. Picking a scenario
    puts that scenario's own values on the levers.
    """

    scenario: str = DEFAULT_SCENARIO
    levers: dict[str, float] = field(default_factory=dict)

    def __post_init__(self):
        """Start with the scenario's own lever values."""
        self.levers = self.levers or scenario_levers(self.scenario)

    def pick(self, scenario: str) -> None:
        """Choose a scenario, with its own lever values."""
        self.scenario, self.levers = scenario, scenario_levers(scenario)


def scenario_levers(scenario: str) -> dict[str, float]:
    """The values a named scenario gives the levers."""
    parameters = load_scenario(scenario).parameters
    return {name: parameters[name] for name in SLIDERS}


class AppModel(AllianceModel):
    """``AllianceModel`` built from the app's settings, as SolaraViz's Reset calls it.

    The model's own ``scenario`` argument would clash with the Mesa scenario SolaraViz passes to
    models that take one, so the app's model takes ``settings`` and ``rng`` only.
    """

    def __init__(self, settings: Settings | None = None, rng: int = DEFAULT_SEED):
        """Build the settings' scenario, with their lever values, in its start year.

        Args:
            settings: Scenario and levers (default: the baseline scenario's own).
            rng: Seed of the run.
        """
        settings = settings or Settings()
        super().__init__(settings.scenario, rng=int(rng), **settings.levers)


def lever_label(name: str) -> str:
    """A lever's title and the parameter's unit (if it has one)."""
    unit = PARAMETERS[name].unit
    return f"{SLIDERS[name]} ({unit})" if unit else SLIDERS[name]


def lever_decimals(name: str) -> int:
    """Decimals a lever is set to: a hundredth of its range (0-1: 2 decimals, 0.05-1: 3)."""
    p = PARAMETERS[name]
    return max(0, math.ceil(-math.log10((p.high - p.low) / 100)))


def lever_value(name: str, value: float) -> float:
    """A value from a lever's slider, rounded to the lever's precision."""
    return round(float(value), lever_decimals(name))


def lever_text(name: str, value: float) -> str:
    """A lever's value as its label shows it: to its precision, or in full if finer (a default)."""
    text = f"{value:.{lever_decimals(name)}f}"
    return text if float(text) == value else f"{value:.6g}"


def model_params(settings: Settings) -> dict:
    """SolaraViz's model parameters: the session's settings and the seed."""
    return {
        "settings": settings,
        # A SliderInt: Mesa 3.5.1's InputText returns a str once edited, and Reset then fails.
        "rng": {
            "type": "SliderInt",
            "value": DEFAULT_SEED,
            "label": "Seed",
            "min": 0,
            "max": 999,
            "step": 1,
        },
    }


# --- views -------------------------------------------------------------------------------------
TABS = ("Overview", "Ally", "Capabilities", "Table", "Uncertainty")
"""The views' tabs, in order (the first is the default layout)."""
COMPARE_NONE = "none"
BASELINE = DEFAULT_SCENARIO
COMPARE_OPTIONS: dict[str, str | None] = {
    COMPARE_NONE: None,
    f"baseline: {BASELINE}": BASELINE,
    **{name: name for name in SCENARIOS if name != BASELINE},
}
"""The comparison picker's entries and the scenario each runs (None: no comparison)."""
BAND_RUNS = 200
"""Replications behind the bands until the user asks for another number."""
COMPARE_SUFFIX = " (compare)"
"""Added to the comparison's scenario name to label its run in the charts."""
CHART_MENU_NOTE = "Each chart's ⋯ menu saves it as PNG or SVG; hover a point for its values."


@lru_cache(maxsize=16)
def comparison_run(scenario: str, seed: int) -> RunResult:
    """A named scenario with its own lever values, run to its end with ``seed`` (cached)."""
    return run_scenario(scenario, seed)


def full_run(model: AllianceModel) -> RunResult:
    """The run on screen to its end year (same scenario, levers and seed: the same numbers)."""
    return run_scenario(model.spec, model.seed)


def _until(table: pd.DataFrame, year: int) -> pd.DataFrame:
    return table[table["year"] <= year]


@dataclass(frozen=True)
class Frame:
    """What every view of one step reads: the run so far and the comparison to the same year."""

    model: AllianceModel
    allies: pd.DataFrame
    alliance: pd.DataFrame
    compare: str | None
    compare_allies: pd.DataFrame | None
    compare_alliance: pd.DataFrame | None

    @property
    def start(self) -> int:
        """First year of the charts' axis (both runs')."""
        years = [self.model.spec.start_year]
        if self.compare_alliance is not None:
            years.append(int(self.compare_alliance["year"].min()))
        return min(years)

    @property
    def end(self) -> int:
        """Last year of the charts' axis (both runs')."""
        years = [self.model.spec.end_year]
        if self.compare_alliance is not None:
            years.append(int(self.compare_alliance["year"].max()))
        return max(years)

    @property
    def compared_scenario(self) -> str | None:
        """The comparison's scenario name (None without a comparison)."""
        return None if self.compare is None else self.compare.removesuffix(COMPARE_SUFFIX)

    def runs(self, table: str) -> dict[str, pd.DataFrame]:
        """``allies`` or ``alliance`` of this run and the comparison, by run label."""
        runs = {THIS_RUN: getattr(self, table)}
        other = getattr(self, f"compare_{table}")
        if other is not None:
            runs[self.compare] = other
        return runs


def make_frame(model: AllianceModel, compare: str | None) -> Frame:
    """The run so far and, when asked, the comparison run up to the same year."""
    allies, alliance = run_tables(model)
    if compare is None:
        return Frame(model, allies, alliance, None, None, None)
    other = comparison_run(compare, model.seed)
    label = f"{compare}{COMPARE_SUFFIX}"
    return Frame(
        model,
        allies,
        alliance,
        label,
        _until(other.allies, model.year),
        _until(other.alliance, model.year),
    )


def use_frame(model_ref: solara.Reactive[AllianceModel]) -> tuple[Frame, str]:
    """A view's hook: this step's ``Frame`` and the picked ally.

    The frame is re-made only when the year, the run or the comparison changes. Only the open
    tab's view calls it, so a step redraws that tab alone.
    """
    update_counter.get()
    model = model_ref.value
    compare = COMPARE_OPTIONS.get(compared.value)
    frame = solara.use_memo(lambda: make_frame(model, compare), [model, model.year, compare])
    names = list(model.initial.names)
    return frame, highlighted.value if highlighted.value in names else names[0]


def Chart(spec: str, name: str):
    """A Vega-Lite chart (its specification as JSON text), drawn offline by ``OfflineVegaLite``."""
    return OfflineVegaLite.element(spec_json=spec).key(name)


@solara.component
def Overview(model_ref: solara.Reactive[AllianceModel]):
    """The alliance's measures over time, and every ally's spending with one picked."""
    frame, ally = use_frame(model_ref)
    spec = solara.use_memo(
        lambda: as_json(
            aggregates_spec(aggregates_long(frame.runs("alliance")), frame.start, frame.end)
        ),
        [frame],
    )
    Chart(spec, "aggregates")
    solara.Text(
        "Allies: grey lines are the others (click one, or its name in the legend, to colour"
        " it; double-click a plot, or click beside the legend, to clear);"
        f" {ally} in red, its total spending dotted."
        + (f" {frame.compare}: dashed blue." if frame.compare else "")
    )
    spec = solara.use_memo(
        lambda: as_json(
            trajectories_spec(
                trajectories_long(frame.runs("allies")), frame.start, frame.end, ally, frame.compare
            )
        ),
        [frame, ally],
    )
    Chart(spec, "trajectories")


@solara.component
def CapabilityHeatmap(model_ref: solara.Reactive[AllianceModel]):
    """Allies x the five capability categories, in the current year (and the comparison's)."""
    frame, _ = use_frame(model_ref)
    model = frame.model
    matrices = {THIS_RUN: fulfilment_matrix(model)}
    if frame.compare is not None:
        year = int(frame.compare_allies["year"].max())
        matrices[frame.compare] = fulfilment_table(frame.compare_allies, year).reindex(
            matrices[THIS_RUN].index
        )
    long = heatmap_long(matrices)
    low, high = heatmap_domain(long["value"].to_numpy())
    spread = category_spread(matrices[THIS_RUN])
    solara.Text(
        f"Share of each capability target met in {model.year}, allies from the least to the most"
        f" fulfilled. Colours span this year's range, {low:.0f}-{high:.0f}%; within one ally the"
        f" categories differ by up to {spread:.0f} percentage points."
    )
    Chart(as_json(heatmap_spec(long)), "heatmap")


@solara.component
def AllyTable(model_ref: solara.Reactive[AllianceModel]):
    """The comparison per ally (when one is picked), then the allies by distance to their path."""
    frame, _ = use_frame(model_ref)
    model = frame.model
    wanted = frame.compare is not None
    this = solara.use_memo(lambda: full_run(model).allies if wanted else None, [model, wanted])
    if wanted:
        name = frame.compared_scenario
        compared = compare_table(this, comparison_run(name, model.seed).allies, name)
        solara.v.Html(
            tag="p",
            children=[
                f"This run against {name} (its own lever values, seed {model.seed}), both run to"
                " their end year with the same settings as on screen; diff = this run - "
                f"{name}, in pp of GDP."
            ],
        )
        solara.FileDownload(
            lambda: compared.to_csv(index=False),
            filename=f"comparison-{model.spec.name}-vs-{name}.csv",
            label="Download the comparison (CSV)",
        )
        solara.DataFrame(compared.round(2), items_per_page=10, scrollable=True)
    else:
        solara.Text("Pick a scenario in 'Compare with' to see the differences per ally.")
    pledge = model.spec.pledge
    core, deadline = redesigned_goal(
        pledge.core_pct, pledge.year, model.p["pledge_core_scale"], model.p["pledge_delay"]
    )
    table = ally_table(model)
    solara.v.Html(
        tag="p",
        children=[
            f"Allies in {model.year}, furthest below their path to {core:g}% core by"
            f" {deadline} first (distance = core - path, pp)."
        ],
    )
    solara.FileDownload(
        lambda: table.to_csv(index_label="Rank"),
        filename=f"allies-by-distance-{model.year}.csv",
        label="Download this table (CSV)",
    )
    solara.DataFrame(table.round(2), items_per_page=40, scrollable=True)


def _current_bands(model: AllianceModel) -> tuple[Bands, float] | None:
    current = computed_bands.value
    if current is not None and current[0] is model:
        return current[1], current[2]
    return None


@solara.component
def AllyPanel(model_ref: solara.Reactive[AllianceModel]):
    """One ally: spending against its plan, pledge path and band; capabilities; personnel."""
    frame, ally = use_frame(model_ref)
    model = frame.model
    current = _current_bands(model)

    def compute() -> tuple[Bands, float] | None:
        if current is not None:
            return None
        start = time.perf_counter()
        bands = uncertainty_bands(model.spec, model.seed, BAND_RUNS)
        return bands, time.perf_counter() - start

    made = solara.use_memo(compute, [model, current is None])
    bands, _ = current if current is not None else made
    view = ally_view(model, ally, frame.runs("allies"), bands.forecast)
    plan = (
        "its national plan (green) as announced by the start year"
        if view.has_plan
        else "no national plan in this scenario"
    )
    solara.Text(
        f"{ally}: core and total spending (% GDP) against {plan}, its pledge path (black) and the"
        f" 5-95% band of core and total ({bands.description}); its five capability targets and"
        f" its active personnel against its goal of {view.personnel_goal:.0f}k."
    )
    Chart(as_json(ally_spec(view, frame.start, frame.end)), "ally")


@solara.component
def UncertaintyPanel(model_ref: solara.Reactive[AllianceModel]):
    """On demand: N replications of the current settings, median and 5-95% band."""
    frame, _ = use_frame(model_ref)
    model = frame.model
    runs = solara.use_reactive(BAND_RUNS)

    def run():
        start = time.perf_counter()
        bands = uncertainty_bands(model.spec, model.seed, runs.value)
        computed_bands.set((model, bands, time.perf_counter() - start))

    current = _current_bands(model)
    spec = solara.use_memo(
        lambda: (
            None
            if current is None
            else as_json(
                bands_spec(
                    bands_long(current[0]),
                    band_runs_long(frame.runs("alliance")),
                    frame.start,
                    frame.end,
                    f"Uncertainty: {current[0].description}",
                )
            )
        ),
        [frame, None if current is None else current[0]],
    )
    solara.SliderInt("Replications (N)", value=runs, min=10, max=1000, step=10)
    with solara.Row(style={"align-items": "center"}):
        solara.Button(f"Run {runs.value} replications", color="primary", on_click=run)
        if current is not None:
            solara.Text(f"{current[0].runs} replications in {current[1]:.2f} s")
    if current is None:
        solara.Info(
            "Runs N replications of the current scenario, levers and seed (the forecast of"
            " `alliance run`) and draws the median and the 5-95% band of the alliance measures."
        )
        return
    bands = current[0]
    solara.Text(
        f"{bands.description.capitalize()}: the runs of `alliance batch {model.spec.name}"
        f" --replications {bands.runs} --seed {bands.seed} --uncertainty {bands.uncertainty}`"
        " with the levers on screen."
    )
    Chart(spec, "bands")
    forecast = bands.forecast
    with solara.Row():
        solara.FileDownload(
            lambda: forecast.allies.to_csv(index=False),
            filename=f"forecast_allies-{model.spec.name}.csv",
            label="Download the forecast per ally (CSV)",
        )
        solara.FileDownload(
            lambda: forecast.alliance.to_csv(index=False),
            filename=f"forecast_alliance-{model.spec.name}.csv",
            label="Download the alliance forecast (CSV)",
        )


@solara.component
def Views(model_ref: solara.Reactive[AllianceModel]):
    """The toolbar (comparison, ally, downloads) and the views' tabs.

    A step redraws the open tab's view only: the toolbar changes with the run, not the year.
    """
    model = model_ref.value
    compare = COMPARE_OPTIONS.get(compared.value)
    names = sorted(model.initial.names)
    ally = highlighted.value if highlighted.value in names else model.initial.names[0]

    def table(which: str) -> str:
        allies, alliance = run_tables(model_ref.value)  # the run as it stands at the click
        return (allies if which == "allies" else alliance).to_csv(index=False)

    with solara.Row(style={"align-items": "center", "flex-wrap": "wrap"}):
        with solara.Column(style={"min-width": "260px"}):
            solara.Select(
                "Compare with",
                values=list(COMPARE_OPTIONS),
                value=compared.value,
                on_value=compared.set,
            )
        with solara.Column(style={"min-width": "220px"}):
            solara.Select("Ally", values=names, value=ally, on_value=highlighted.set)
        stem = f"{model.spec.name}-seed{model.seed}"
        solara.FileDownload(
            lambda: table("allies"), filename=f"allies-{stem}.csv", label="Allies table (CSV)"
        )
        solara.FileDownload(
            lambda: table("alliance"),
            filename=f"alliance-{stem}.csv",
            label="Alliance table (CSV)",
        )
    if compare is not None:
        solara.Text(
            f"Compared with {compare} (its own lever values, seed {model.seed}) up to the year on"
            " screen, drawn dashed."
        )
    solara.Text(CHART_MENU_NOTE)
    with solara.lab.Tabs(value=tab, lazy=True):
        for name, view in zip(TABS, VIEWS, strict=True):
            with solara.lab.Tab(name):
                view(model_ref)


VIEWS = (Overview, AllyPanel, CapabilityHeatmap, AllyTable, UncertaintyPanel)
"""The view of each of ``TABS``."""


@solara.component
def YearsRun(model: AllianceModel):
    """SolaraViz's Information card: the years run so far, in place of Mesa's ``Time: 10.0``.

    Mesa 3.5.1's ``SolaraViz`` always shows its ``ShowSteps`` there, the model's Mesa time
    ("Time: 10.0" in 2035), and has no option to leave it out; beside "Year 2035" it read as a
    second clock.
    """
    update_counter.get()
    span = model.spec.end_year - model.spec.start_year
    solara.Text(f"{model.year - model.spec.start_year} of {span} years run")


solara_viz.ShowSteps = YearsRun


@solara.component
def CurrentYear(model: solara.Reactive[AllianceModel]):
    """The current year, large, above the levers, and what is running."""
    update_counter.get()
    m = model.value
    solara.v.Html(
        tag="div",
        style_="font-size: 2rem; font-weight: 700; line-height: 1.2; margin-bottom: 4px",
        children=[f"Year {m.year}"],
    )
    solara.Text(f"Running {m.spec.name}, {m.spec.start_year}-{m.spec.end_year}, seed {m.seed}")


@solara.component
def SettingsCard(model: solara.Reactive[AllianceModel], settings: Settings):
    """The current year, the scenario picker and the levers, at the top of the sidebar.

    Only the year (``CurrentYear``) follows a step; the rest changes with Reset or the user.
    """
    m = model.value
    _, rerender = solara.use_state(0)

    def pick(name: str) -> None:
        settings.pick(name)
        rerender(lambda n: n + 1)

    def move(name: str, value: float) -> None:
        settings.levers = {**settings.levers, name: lever_value(name, value)}
        rerender(lambda n: n + 1)

    with solara.Sidebar(), solara.Card("Scenario and levers"):
        CurrentYear(model)
        solara.Select("Scenario", values=list(SCENARIOS), value=settings.scenario, on_value=pick)
        solara.v.Html(tag="p", children=[SCENARIOS[settings.scenario]])
        for name in SLIDERS:
            p = PARAMETERS[name]
            solara.SliderFloat(
                f"{lever_label(name)}: {lever_text(name, settings.levers[name])}",
                value=settings.levers[name],
                on_value=lambda value, name=name: move(name, value),
                min=p.low,
                max=p.high,
                step=LEVER_STEP,
            )
        pending = settings.scenario != m.spec.name or any(
            settings.levers[name] != m.p[name] for name in SLIDERS
        )
        if pending:
            solara.Warning("Press Reset to run these settings.", dense=True)


@solara.component
def Page():
    """The app: the settings card above SolaraViz's controls, and the views in tabs."""
    settings = solara.use_memo(Settings, [])
    solara.use_memo(lambda: session_model.set(AppModel(settings)), [])
    SettingsCard(session_model, settings)
    SolaraViz(
        session_model,
        components=[],  # the views are below, in named tabs (Mesa 3.5.1 names them "Page 0")
        model_params=model_params(settings),
        name="alliance-sim",
    )
    Views(session_model)


apply_cull_timeout()
solara.lifecycle.on_kernel_start(release_after_close)
page = Page()
page  # noqa: B018
