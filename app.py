"""alliance-sim in the browser: pick a scenario, move the levers, step the allies, see the bands.

Run it with ``alliance app`` (or ``make app``, or ``solara run app.py``); it serves on
127.0.0.1 and needs no internet. Built on Mesa's ``SolaraViz``: Reset / play / Step and the seed
are its own; the card above them picks the scenario (which puts its own values on the levers) and
moves the levers (read from ``sim.parameters``). Reset rebuilds the model from them.

Each browser tab is a session (a solara virtual kernel) with its own model. A session whose tab
has gone is freed ``KERNEL_CULL_TIMEOUT`` later (solara's default keeps it 24 h).
"""

from __future__ import annotations

import ctypes
import gc
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import solara
import solara.lifecycle
import solara.server.settings
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from mesa.visualization import SolaraViz, solara_viz
from mesa.visualization.utils import update_counter

from sim.dashboard import (
    BAND_MEASURES,
    BAND_QUANTILES,
    Bands,
    ally_table,
    fulfilment_matrix,
    uncertainty_bands,
)
from sim.model import AllianceModel
from sim.parameters import PARAMETERS
from sim.run import model_tables
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
"""Lever slider step: fine enough that the browser does not round a calibrated default."""
REFERENCE_LINES = ((2.0, "2% (Wales)"), (3.5, "3.5% core (The Hague)"), (5.0, "5% total"))
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
    """A lever's title and the parameter's unit."""
    return f"{SLIDERS[name]} ({PARAMETERS[name].unit})"


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
def _years_axis(ax, model: AllianceModel) -> None:
    ax.set_xlim(model.spec.start_year, model.spec.end_year)
    ax.axvline(model.year, color="0.6", lw=0.8, ls=":")
    ax.grid(alpha=0.3)


def aggregates_figure(model: AllianceModel) -> Figure:
    """Alliance measures from the start year to now."""
    _, alliance = model_tables(model, model.seed)
    year = alliance["year"]
    fig = Figure(figsize=(8, 5.4))
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.06, top=0.88, hspace=0.3, wspace=0.25)
    axes = fig.subplots(2, 2, sharex=True)
    ax = axes[0, 0]
    for col, label in (
        ("allies_ge_2pct", ">= 2% core"),
        ("allies_ge_3_5pct_core", ">= 3.5% core"),
        ("allies_ge_5pct_total", ">= 5% total"),
    ):
        ax.plot(year, alliance[col], marker="o", ms=3, label=label)
    ax.set(title="Allies meeting each bar", ylabel="allies", ylim=(0, len(model.by_index) + 1))
    ax.legend(fontsize="small")
    ax = axes[0, 1]
    ax.plot(year, 100 * alliance["capability_gap"], marker="o", ms=3, color="C3")
    ax.set(title="Capability gap", ylabel="% of targets unmet", ylim=(0, None))
    ax = axes[1, 0]
    ax.plot(year, 100 * alliance["us_share_of_spending"], marker="o", ms=3, color="C4")
    ax.set(title="US share of alliance spending", ylabel="%")
    ax = axes[1, 1]
    ax.plot(year, alliance["threat"], marker="o", ms=3, color="C1", label="threat (1 = 2022)")
    ax.plot(year, alliance["us_pressure"], marker="o", ms=3, color="C0", label="US pressure (0-1)")
    ax.set(title="Threat and US pressure", ylim=(0, None))
    ax.legend(fontsize="small")
    for ax in axes.flat:
        _years_axis(ax, model)
    fig.suptitle(f"Alliance, {model.spec.start_year}-{model.year}", fontweight="bold")
    return fig


def trajectories_figure(model: AllianceModel, ally: str) -> Figure:
    """Every ally's core share and capability fulfilment, one ally highlighted."""
    allies, _ = model_tables(model, model.seed)
    fig = Figure(figsize=(8, 4.8))
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.08, top=0.86, wspace=0.2)
    ax_core, ax_fill = fig.subplots(1, 2)
    for name, rows in allies.groupby("name", sort=False):
        if name != ally:
            ax_core.plot(rows["year"], rows["core_pct_gdp"], color="0.75", lw=0.7)
            ax_fill.plot(rows["year"], 100 * rows["fulfil_overall"], color="0.75", lw=0.7)
    mine = allies[allies["name"] == ally]
    ax_core.plot(mine["year"], mine["core_pct_gdp"], color="C3", lw=2.5, label=f"{ally}, core")
    ax_core.plot(mine["year"], mine["total_pct_gdp"], color="C3", ls="--", label=f"{ally}, total")
    ax_fill.plot(mine["year"], 100 * mine["fulfil_overall"], color="C3", lw=2.5, label=ally)
    for value, label in REFERENCE_LINES:
        ax_core.axhline(value, color="k", lw=0.8, ls=(0, (4, 3)))
        ax_core.annotate(
            label,
            (model.spec.start_year, value),
            xytext=(2, 2),
            textcoords="offset points",
            fontsize="x-small",
        )
    ax_core.set(title="Defence spending (% GDP)", ylabel="% GDP", ylim=(0, None))
    ax_fill.set(title="Capability targets met (%)", ylabel="%", ylim=(0, 105))
    for ax in (ax_core, ax_fill):
        _years_axis(ax, model)
        ax.legend(fontsize="small", loc="lower right")
    fig.suptitle(
        f"Allies, {model.spec.start_year}-{model.year} (grey: the others)", fontweight="bold"
    )
    return fig


def heatmap_figure(model: AllianceModel) -> Figure:
    """Share of each capability target met, per ally, in the current year."""
    matrix = fulfilment_matrix(model).T
    values = 100 * matrix.to_numpy()
    fig = Figure(figsize=(8, 5))
    fig.subplots_adjust(left=0.24, right=1.0, bottom=0.25, top=0.93)
    ax = fig.subplots()
    image = ax.imshow(values, cmap="RdYlGn", vmin=40, vmax=100, aspect="auto")
    ax.set_xticks(range(matrix.shape[1]), matrix.columns, rotation=90, fontsize="small")
    ax.set_yticks(range(matrix.shape[0]), matrix.index)
    for (i, j), value in np.ndenumerate(values):
        ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=6)
    fig.colorbar(image, ax=ax, label="% of target met", pad=0.02)
    ax.set_title(
        f"Capability targets met in {model.year}, % (allies from least to most)",
        fontweight="bold",
    )
    return fig


def bands_figure(model: AllianceModel, bands: Bands) -> Figure:
    """Median and 5-95% band of the main alliance measures, this run drawn on top."""
    _, alliance = model_tables(model, model.seed)
    q = bands.quantiles
    low, mid, high = BAND_QUANTILES
    fig = Figure(figsize=(8, 4.2))
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.07, top=0.87, hspace=0.4, wspace=0.2)
    for ax, (col, label) in zip(fig.subplots(2, 2).flat, BAND_MEASURES.items(), strict=True):
        gap = col == "capability_gap"
        scale = 100 if gap else 1
        ax.fill_between(
            q.index,
            scale * q[(col, low)],
            scale * q[(col, high)],
            alpha=0.3,
            color="C0",
            label=f"{low:.0%}-{high:.0%} of runs",
        )
        ax.plot(q.index, scale * q[(col, mid)], color="C0", label="median")
        ax.plot(alliance["year"], scale * alliance[col], color="C3", lw=1, label="this run")
        ax.set_title(f"{label} (% of targets)" if gap else label)
        if col.startswith("allies_ge"):
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlim(model.spec.start_year, model.spec.end_year)
        ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.suptitle(f"Uncertainty over {bands.runs} runs (seed {bands.seed})", fontweight="bold")
    return fig


def _figure(build, dependencies: list) -> None:
    figure = solara.use_memo(build, dependencies)
    solara.FigureMatplotlib(figure, dependencies=dependencies, format="png", dpi=90)


@solara.component
def AllianceAggregates(model: AllianceModel):
    """Allies at 2%, 3.5% and 5%, capability gap, US share, threat and US pressure over time."""
    update_counter.get()
    _figure(lambda: aggregates_figure(model), [model, model.year])


@solara.component
def AllyTrajectories(model: AllianceModel):
    """Core % GDP and capability fulfilment of every ally, one highlighted from a picker."""
    update_counter.get()
    names = [a.name for a in model.by_index]
    ally = highlighted.value if highlighted.value in names else names[0]
    solara.Select("Highlight ally", values=sorted(names), value=ally, on_value=highlighted.set)
    _figure(lambda: trajectories_figure(model, ally), [model, model.year, ally])


@solara.component
def CapabilityHeatmap(model: AllianceModel):
    """Allies x the five capability categories, in the current year."""
    update_counter.get()
    _figure(lambda: heatmap_figure(model), [model, model.year])


@solara.component
def AllyTable(model: AllianceModel):
    """Allies sorted by their distance to the pledged 2035 path, furthest behind first."""
    update_counter.get()
    pledge = model.spec.pledge
    solara.v.Html(
        tag="p",
        children=[
            f"Allies in {model.year}, furthest below their path to {pledge.core_pct:g}% core by"
            f" {pledge.year} first (distance = core - path, pp)."
        ],
    )
    solara.DataFrame(ally_table(model).round(2), items_per_page=40, scrollable=True)


@solara.component
def UncertaintyPanel(model: AllianceModel):
    """On demand: N replications of the current settings, median and 5-95% band."""
    update_counter.get()
    runs = solara.use_reactive(200)

    def run():
        start = time.perf_counter()
        bands = uncertainty_bands(model.spec, model.seed, runs.value)
        computed_bands.set((model, bands, time.perf_counter() - start))

    current = computed_bands.value
    solara.SliderInt("Replications (N)", value=runs, min=10, max=1000, step=10)
    with solara.Row(style={"align-items": "center"}):
        solara.Button(f"Run {runs.value} replications", color="primary", on_click=run)
        if current is not None and current[0] is model:
            solara.Text(f"{current[1].runs} replications in {current[2]:.2f} s")
    if current is None or current[0] is not model:
        solara.Info(
            "Runs N replications of the current scenario, levers and seed with the ensemble"
            " engine and draws the median and the 5-95% band of the alliance measures."
        )
        return
    BandsChart(model, current[1])


@solara.component
def BandsChart(model: AllianceModel, bands: Bands):
    """The bands of ``bands`` with this run on top (a component: drawn only once run)."""
    _figure(lambda: bands_figure(model, bands), [model, model.year, bands])


COMPONENTS = [AllianceAggregates, AllyTrajectories, CapabilityHeatmap, AllyTable, UncertaintyPanel]


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
def SettingsCard(model: solara.Reactive[AllianceModel], settings: Settings):
    """The scenario picker, the levers and the current year, at the top of the sidebar."""
    update_counter.get()
    m = model.value
    _, rerender = solara.use_state(0)

    def pick(name: str) -> None:
        settings.pick(name)
        rerender(lambda n: n + 1)

    def move(name: str, value: float) -> None:
        settings.levers = {**settings.levers, name: value}
        rerender(lambda n: n + 1)

    with solara.Sidebar(), solara.Card("Scenario and levers"):
        solara.Select("Scenario", values=list(SCENARIOS), value=settings.scenario, on_value=pick)
        solara.v.Html(tag="p", children=[SCENARIOS[settings.scenario]])
        for name in SLIDERS:
            p = PARAMETERS[name]
            solara.SliderFloat(
                f"{lever_label(name)}: {settings.levers[name]:.4g}",
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
        solara.v.Html(
            tag="div", style_="font-size: 2rem; font-weight: 700", children=[f"Year {m.year}"]
        )
        solara.Text(f"Running {m.spec.name}, {m.spec.start_year}-{m.spec.end_year}, seed {m.seed}")


@solara.component
def Page():
    """The app: the settings card above SolaraViz's controls, and the views."""
    settings = solara.use_memo(Settings, [])
    solara.use_memo(lambda: session_model.set(AppModel(settings)), [])
    SettingsCard(session_model, settings)
    SolaraViz(
        session_model,
        components=COMPONENTS,
        model_params=model_params(settings),
        name="alliance-sim",
    )


apply_cull_timeout()
solara.lifecycle.on_kernel_start(release_after_close)
page = Page()
page  # noqa: B018
