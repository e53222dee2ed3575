"""The browser app's interactive charts: Vega-Lite specifications built with Altair.

Each function takes the long tables of ``sim.dashboard`` and returns a Vega-Lite specification
(a dict) that solara's ``VegaLite`` widget draws with the vega-embed shipped in
``solara-assets``, offline. Every chart has tooltips (run, ally or measure, year, value), the
vega-embed menu keeps only its PNG and SVG export (no link to the online editor), and the
spending charts draw the 2%, 3.5% and 5% lines.

A chart's structure is built with Altair once per shape (``functools.cache`` on the arguments
that change it) and its data are put in as named datasets on every call, so a step costs a
table's conversion to records, not Altair's compilation.
"""

from __future__ import annotations

import copy
import json
import math
import re
from functools import cache
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import solara.server.settings
import traitlets
from solara.widgets import VegaLite

from sim.dashboard import AGGREGATE_PANELS, BAND_MEASURES, THIS_RUN

VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.2.0.json"
"""The Vega-Lite the app's front end ships (solara-assets 1.58: vega-lite 5.2.0)."""
REFERENCE_LINES = ((2.0, "2% (Wales)"), (3.5, "3.5% core (The Hague)"), (5.0, "5% total"))
"""Spending bars drawn on the spending charts (% GDP)."""
HIGHLIGHT = "#d62728"
"""Colour of the picked ally."""
COMPARE = "#1f77b4"
"""Colour of the comparison run."""
PANEL_WIDTH = 330
PANEL_HEIGHT = 190
EXPORT_ACTIONS = {"export": True, "source": False, "compiled": False, "editor": False}
"""vega-embed's menu: PNG and SVG only (its editor link would leave the machine)."""


LIBRARIES = {"vega": 5, "vega-lite": 5, "vega-embed": 6}
"""The libraries solara's ``VegaLite`` widget loads, and the major version it asks for."""


def shipped_version(library: str, major: int, cdn: Path | None = None) -> str | None:
    """The newest ``library@major.x.y`` in solara's CDN cache (``solara-assets``), or None."""
    cdn = solara.server.settings.assets.proxy_cache_dir if cdn is None else cdn
    pattern = re.compile(rf"^{re.escape(library)}@({major}\.\d+\.\d+)$")
    found = [m.group(1) for d in Path(cdn).glob(f"{library}@*") if (m := pattern.match(d.name))]
    return max(found, key=lambda v: tuple(int(x) for x in v.split("."))) if found else None


TEMPLATE_EDITS = {
    "...this.spec,": "...JSON.parse(this.spec_json),",
    "        spec() {": "        spec_json() {",
    "const { view } = await vegaEmbed(this.$refs.plotElement, spec);": (
        "if (this.embedded) { this.embedded.finalize(); }\n"
        "                    this.embedded = await vegaEmbed(this.$refs.plotElement, spec);\n"
        "                    const view = this.embedded.view;"
    ),
    "    destroyed() {\n": (
        "    destroyed() {\n        if (this.embedded) { this.embedded.finalize(); }\n"
    ),
}
"""Edits of solara's template: read the specification from ``spec_json``, and finalize the
previous Vega view before drawing the next (solara's leaves each step's view and its listeners
behind in the page)."""


def offline_template(cdn: Path | None = None) -> str:
    """Solara's ``VegaLite`` Vue template, loading the exact versions ``solara-assets`` ships.

    Solara 1.58's widget asks its CDN proxy for ``vega@5``, ``vega-lite@5`` and
    ``vega-embed@6``; the proxy has only exact versions on disk (``vega@5.21.0``...) and would
    fetch a major-only name from jsdelivr, so offline the chart never loads. A library missing
    from the cache keeps solara's own name. The template also reads the specification as JSON
    text (``OfflineVegaLite.spec_json``).

    Raises:
        RuntimeError: Solara's template is not the one these edits expect.
    """
    text = Path(VegaLite.template_file).read_text(encoding="utf-8")
    for old, new in TEMPLATE_EDITS.items():
        if text.count(old) != 1:
            raise RuntimeError(f"solara's vegalite.vue has changed: {old.strip()!r} not found once")
        text = text.replace(old, new)
    for library, major in LIBRARIES.items():
        version = shipped_version(library, major, cdn)
        if version is not None:
            text = text.replace(f"/{library}@{major}/", f"/{library}@{version}/")
    return text


class OfflineVegaLite(VegaLite):
    """Solara's ``VegaLite`` widget with ``offline_template``: charts render with no internet.

    The specification travels as JSON text (``spec_json``), so neither reacton's reconciliation
    nor traitlets walk its thousands of data values on every step.
    """

    template_file = None
    spec_json = traitlets.Unicode("{}").tag(sync=True)

    def __init__(self, **kwargs):
        """Build the widget with the offline template unless one is given."""
        kwargs.setdefault("template", offline_template_text())
        super().__init__(**kwargs)


@cache
def offline_template_text() -> str:
    """``offline_template`` of the installed solara, read once."""
    return offline_template()


def records(frame: pd.DataFrame) -> list[dict]:
    """A table as JSON-ready records: NumPy scalars as Python numbers, NaN as None."""
    columns = {}
    for name in frame.columns:
        values = frame[name].to_numpy()
        if values.dtype.kind == "f":
            columns[name] = [None if math.isnan(v) else v for v in values.tolist()]
        else:
            columns[name] = values.tolist()
    return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def as_json(spec: dict) -> str:
    """A specification as the JSON text ``OfflineVegaLite`` takes."""
    return json.dumps(spec, separators=(",", ":"), allow_nan=False)


def _finish(chart: alt.TopLevelMixin, filename: str) -> dict:
    spec = chart.to_dict(validate=False)
    spec["$schema"] = VEGA_LITE_SCHEMA
    options = {"actions": EXPORT_ACTIONS, "downloadFileName": filename, "renderer": "svg"}
    spec["usermeta"] = {"embedOptions": options}
    return spec


def _with_data(template: dict, **frames: pd.DataFrame) -> dict:
    spec = copy.copy(template)
    own = {name: records(frame) for name, frame in frames.items()}
    spec["datasets"] = {**template.get("datasets", {}), **own}  # Altair's inline data stays
    return spec


def _years(start: int, end: int, title: str | None = "year") -> alt.X:
    return alt.X(
        "year:Q",
        title=title,
        scale=alt.Scale(domain=[start, end], nice=False),
        axis=alt.Axis(format="d", tickMinStep=1),
    )


def _reference_rules(start: int) -> alt.LayerChart:
    frame = pd.DataFrame({"value": [v for v, _ in REFERENCE_LINES]})
    frame["label"] = [label for _, label in REFERENCE_LINES]
    frame["year"] = start
    base = alt.Chart(frame)
    rules = base.mark_rule(color="black", strokeDash=[4, 3], size=0.8).encode(
        y="value:Q", tooltip=[alt.Tooltip("label:N", title="bar")]
    )
    text = base.mark_text(align="left", dx=3, dy=-6, fontSize=9).encode(
        x="year:Q", y="value:Q", text="label:N"
    )
    return rules + text


def _run_dash(runs: tuple[str, ...]) -> alt.StrokeDash:
    return alt.StrokeDash(
        "run:N",
        scale=alt.Scale(domain=list(runs), range=[[1, 0], [6, 3]][: len(runs)]),
        legend=alt.Legend(title="run") if len(runs) > 1 else None,
    )


# --- alliance ----------------------------------------------------------------------------------
@cache
def _aggregates_template(start: int, end: int, runs: tuple[str, ...]) -> dict:
    data = alt.Data(name="aggregates")
    charts = []
    for panel in AGGREGATE_PANELS:
        chart = (
            alt.Chart(data)
            .transform_filter(alt.datum.panel == panel)
            .mark_line(point=alt.OverlayMarkDef(size=25))
            .encode(
                x=_years(start, end, None),
                y=alt.Y("value:Q", title=None),
                color=alt.Color("series:N", title=None, legend=alt.Legend(orient="top")),
                strokeDash=_run_dash(runs),
                tooltip=[
                    alt.Tooltip("run:N"),
                    alt.Tooltip("series:N", title="measure"),
                    alt.Tooltip("year:Q", format="d"),
                    alt.Tooltip("value:Q", format=".2f"),
                ],
            )
            .properties(title=panel, width=PANEL_WIDTH, height=PANEL_HEIGHT - 30)
        )
        charts.append(chart)
    rows = [alt.hconcat(*charts[k : k + 2]).resolve_scale(color="independent") for k in (0, 2)]
    return _finish(alt.vconcat(*rows).resolve_scale(color="independent"), "alliance")


def aggregates_spec(frame: pd.DataFrame, start: int, end: int) -> dict:
    """The alliance chart: allies at each bar, capability gap, US share, threat and pressure.

    Args:
        frame: ``sim.dashboard.aggregates_long`` of the run on screen (and a comparison).
        start: First year of the axis.
        end: Last year of the axis.
    """
    runs = tuple(dict.fromkeys(frame["run"]))
    return _with_data(_aggregates_template(start, end, runs), aggregates=frame)


# --- every ally --------------------------------------------------------------------------------
ALLY_LEGEND = alt.Legend(
    title="ally (click to highlight)",
    orient="bottom",
    direction="horizontal",
    columns=4,
    labelFontSize=9,
    symbolSize=40,
    symbolType="stroke",
    labelLimit=95,
    titleLimit=400,
    symbolLimit=0,  # every ally (Vega drops entries past 30 by default)
)
"""The trajectories chart's legend of allies, bound to the ``legend_pick`` selection."""
MARK_CLICK = "click[event.item && indexof(event.item.mark.role, 'legend') < 0]"
"""A click on a mark that is not the legend's (a legend entry has no ally's ``name``)."""


@cache
def _trajectories_template(start: int, end: int, ally: str, compare: str | None) -> dict:
    data = alt.Data(name="allies")
    pick = alt.selection_point(
        name="pick", fields=["name"], on=MARK_CLICK, clear="dblclick", empty=False
    )
    # Its own selection: Vega-Lite 5.2 drops the first legend click of a selection that is
    # bound to the legend and also has ``on``.
    legend_pick = alt.selection_point(
        name="legend_pick", fields=["name"], bind="legend", empty=False
    )
    picked = pick | legend_pick
    x = _years(start, end)
    panels = []
    for column, title in (
        ("core", "Core spending (% GDP)"),
        ("fulfil", "Capability targets met (%)"),
    ):
        value = alt.Y(f"{column}:Q", title=title)
        tooltip = [
            alt.Tooltip("run:N"),
            alt.Tooltip("name:N", title="ally"),
            alt.Tooltip("year:Q", format="d"),
            alt.Tooltip(f"{column}:Q", title=title, format=".2f"),
        ]
        others = alt.Chart(data).transform_filter(alt.datum.run == THIS_RUN)
        legend = ALLY_LEGEND if column == "core" else None
        lines = others.mark_line(strokeWidth=1).encode(
            x=x,
            y=value,
            detail="name:N",
            color=alt.condition(picked, alt.Color("name:N", legend=legend), alt.value("#bbbbbb")),
            opacity=alt.condition(picked, alt.value(1.0), alt.value(0.6)),
        )
        if column == "core":
            # pick: a click on any mark of the panel; legend_pick: on the legend these lines draw
            lines = lines.add_params(pick, legend_pick)
        points = others.mark_circle(size=45, opacity=0).encode(x=x, y=value, tooltip=tooltip)
        mine = alt.Chart(data).transform_filter(alt.datum.name == ally)
        layers = [lines, points]
        runs = [(THIS_RUN, HIGHLIGHT)] + ([(compare, COMPARE)] if compare else [])
        for run, colour in runs:
            dash = [1, 0] if run == THIS_RUN else [6, 3]
            own = mine.transform_filter(alt.datum.run == run)
            layers.append(
                own.mark_line(
                    color=colour,
                    strokeWidth=2.5,
                    strokeDash=dash,
                    point=alt.OverlayMarkDef(color=colour, size=30),
                ).encode(x=x, y=value, tooltip=tooltip)
            )
            if column == "core":
                layers.append(
                    own.mark_line(color=colour, strokeWidth=1.2, strokeDash=[2, 2]).encode(
                        x=x,
                        y="total:Q",
                        tooltip=[*tooltip[:3], alt.Tooltip("total:Q", format=".2f")],
                    )
                )
        if column == "core":
            layers.append(_reference_rules(start))
        chart = alt.layer(*layers).properties(
            width=PANEL_WIDTH, height=PANEL_HEIGHT + 60, title=title
        )
        panels.append(chart)
    return _finish(alt.hconcat(*panels).resolve_scale(color="independent"), "allies")


def trajectories_spec(
    frame: pd.DataFrame, start: int, end: int, ally: str, compare: str | None = None
) -> dict:
    """Every ally's core spending and fulfilment; click a line or a legend entry to colour one.

    The picked ``ally`` is drawn in red (its total dotted), and in blue dashed in the
    ``compare`` run; the others are grey until clicked (double-click clears).

    Args:
        frame: ``sim.dashboard.trajectories_long``.
        start: First year of the axis.
        end: Last year of the axis.
        ally: The picked ally.
        compare: The comparison run's label, or None.
    """
    return _with_data(_trajectories_template(start, end, ally, compare), allies=frame)


# --- capabilities ------------------------------------------------------------------------------
@cache
def _heatmap_template(runs: tuple[str, ...], allies: tuple[str, ...], low: float, high: float):
    data = alt.Data(name="heatmap")
    charts = []
    for run in runs:
        base = (
            alt.Chart(data)
            .transform_filter(alt.datum.run == run)
            .encode(
                x=alt.X("category:N", title=None, sort=None, axis=alt.Axis(labelAngle=-40)),
                y=alt.Y("ally:N", title=None, sort=list(allies)),
            )
        )
        cells = base.mark_rect().encode(
            color=alt.Color(
                "value:Q",
                title="% met",
                scale=alt.Scale(scheme="redyellowgreen", domain=[low, high]),
            ),
            tooltip=[
                alt.Tooltip("run:N"),
                alt.Tooltip("ally:N"),
                alt.Tooltip("category:N"),
                alt.Tooltip("value:Q", title="% of target met", format=".1f"),
            ],
        )
        text = base.mark_text(fontSize=8).encode(text=alt.Text("value:Q", format=".0f"))
        charts.append((cells + text).properties(title=run, width=230, height=14 * len(allies)))
    return _finish(alt.hconcat(*charts).resolve_scale(color="shared"), "capabilities")


def heatmap_spec(frame: pd.DataFrame) -> dict:
    """Allies x categories, the share of each target met, coloured over this year's range.

    Args:
        frame: ``sim.dashboard.heatmap_long``; allies in the order of the first run's rows.
    """
    runs = tuple(dict.fromkeys(frame["run"]))
    allies = tuple(dict.fromkeys(frame.loc[frame["run"] == runs[0], "ally"]))
    low, high = heatmap_domain(frame["value"].to_numpy())
    return _with_data(_heatmap_template(runs, allies, low, high), heatmap=frame)


def heatmap_domain(values: np.ndarray) -> tuple[float, float]:
    """The colour scale's range: this year's lowest and highest value, to whole percent."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return 0.0, 100.0
    low, high = math.floor(finite.min()), math.ceil(finite.max())
    return float(low), float(max(high, low + 1))


# --- uncertainty -------------------------------------------------------------------------------
@cache
def _bands_template(start: int, end: int, runs: tuple[str, ...], label: str) -> dict:
    bands, lines = alt.Data(name="bands"), alt.Data(name="runs")
    x = _years(start, end, None)
    charts = []
    for measure in BAND_MEASURES.values():
        band = alt.Chart(bands).transform_filter(alt.datum.measure == measure)
        area = band.mark_area(opacity=0.3, color=COMPARE).encode(
            x=x, y=alt.Y("low:Q", title=None), y2="high:Q"
        )
        median = band.mark_line(
            color=COMPARE, point=alt.OverlayMarkDef(color=COMPARE, size=20)
        ).encode(
            x=x,
            y="median:Q",
            tooltip=[
                alt.Tooltip("year:Q", format="d"),
                alt.Tooltip("low:Q", title="5%", format=".2f"),
                alt.Tooltip("median:Q", format=".2f"),
                alt.Tooltip("high:Q", title="95%", format=".2f"),
            ],
        )
        run = (
            alt.Chart(lines)
            .transform_filter(alt.datum.measure == measure)
            .mark_line(
                color=HIGHLIGHT, strokeWidth=1.2, point=alt.OverlayMarkDef(color=HIGHLIGHT, size=15)
            )
            .encode(
                x=x,
                y="value:Q",
                strokeDash=_run_dash(runs),
                tooltip=[
                    alt.Tooltip("run:N"),
                    alt.Tooltip("year:Q", format="d"),
                    alt.Tooltip("value:Q", format=".2f"),
                ],
            )
        )
        title = f"{measure} (% of targets)" if measure == "Capability gap" else measure
        charts.append(
            alt.layer(area, median, run).properties(
                title=title, width=PANEL_WIDTH, height=PANEL_HEIGHT - 40
            )
        )
    grid = alt.vconcat(alt.hconcat(*charts[:2]), alt.hconcat(*charts[2:]))
    title = alt.TitleParams(label, anchor="start", offset=14)
    return _finish(grid.properties(title=title), "uncertainty")


def bands_spec(bands: pd.DataFrame, runs: pd.DataFrame, start: int, end: int, label: str) -> dict:
    """Median and 5-95% band of four alliance measures, the run on screen (and a comparison).

    Args:
        bands: ``sim.dashboard.bands_long``.
        runs: ``sim.dashboard.band_runs_long`` of the run on screen and a comparison.
        start: First year of the axis.
        end: Last year of the axis.
        label: The chart's title (what the bands are drawn from).
    """
    names = tuple(dict.fromkeys(runs["run"]))
    return _with_data(_bands_template(start, end, names, label), bands=bands, runs=runs)


# --- one ally ----------------------------------------------------------------------------------
SPENDING_SERIES = {
    "core": HIGHLIGHT,
    "total": "#ff7f0e",
    "national plan": "#2ca02c",
    "pledge path": "#000000",
}
"""Colours of the ally view's spending series."""


@cache
def _ally_template(start: int, end: int, name: str, runs: tuple[str, ...], goal: float) -> dict:
    x = _years(start, end)
    spending, band = alt.Data(name="spending"), alt.Data(name="band")
    colour = alt.Color(
        "series:N",
        title=None,
        scale=alt.Scale(domain=list(SPENDING_SERIES), range=list(SPENDING_SERIES.values())),
        legend=alt.Legend(orient="top"),
    )
    area = (
        alt.Chart(band)
        .mark_area(opacity=0.2)
        .encode(x=x, y=alt.Y("low:Q", title="% GDP"), y2="high:Q", color=colour)
    )
    lines = (
        alt.Chart(spending)
        .mark_line(point=alt.OverlayMarkDef(size=25))
        .encode(
            x=x,
            y=alt.Y("value:Q", title="% GDP"),
            color=colour,
            strokeDash=_run_dash(runs),
            tooltip=[
                alt.Tooltip("run:N"),
                alt.Tooltip("series:N"),
                alt.Tooltip("year:Q", format="d"),
                alt.Tooltip("value:Q", title="% GDP", format=".2f"),
            ],
        )
    )
    money = alt.layer(area, lines, _reference_rules(start)).properties(
        title=f"{name}: spending against its plan and pledge path",
        width=PANEL_WIDTH + 30,
        height=PANEL_HEIGHT + 40,
    )
    categories = (
        alt.Chart(alt.Data(name="categories"))
        .mark_line(point=alt.OverlayMarkDef(size=20))
        .encode(
            x=x,
            y=alt.Y("value:Q", title="% of target met"),
            color=alt.Color("category:N", title=None, legend=alt.Legend(orient="top", columns=2)),
            tooltip=[
                alt.Tooltip("category:N"),
                alt.Tooltip("year:Q", format="d"),
                alt.Tooltip("value:Q", title="% met", format=".1f"),
            ],
        )
        .properties(
            title="Capability targets met", width=PANEL_WIDTH - 70, height=PANEL_HEIGHT + 40
        )
    )
    goal_frame = pd.DataFrame({"goal": [goal], "label": [f"goal {goal:.0f}k"]})
    personnel = alt.layer(
        alt.Chart(alt.Data(name="personnel"))
        .mark_line(color=HIGHLIGHT, point=alt.OverlayMarkDef(color=HIGHLIGHT))
        .encode(
            x=x,
            y=alt.Y("value:Q", title="thousands", scale=alt.Scale(zero=False)),
            tooltip=[
                alt.Tooltip("year:Q", format="d"),
                alt.Tooltip("value:Q", title="personnel (k)", format=".1f"),
            ],
        ),
        alt.Chart(goal_frame)
        .mark_rule(strokeDash=[4, 3])
        .encode(y="goal:Q", tooltip=[alt.Tooltip("goal:Q", title="goal (k)", format=".1f")]),
        alt.Chart(goal_frame)
        .mark_text(align="left", x=3, dy=-6, fontSize=9)
        .encode(y="goal:Q", text="label:N"),
    ).properties(title="Active personnel", width=PANEL_WIDTH - 130, height=PANEL_HEIGHT + 40)
    chart = alt.hconcat(money, categories, personnel).resolve_scale(color="independent")
    return _finish(chart, f"ally-{name}")


def ally_spec(view, start: int, end: int) -> dict:
    """The ally view: spending against plan, pledge path and band; capabilities; personnel.

    Args:
        view: A ``sim.dashboard.AllyView``.
        start: First year of the axis.
        end: Last year of the axis.
    """
    runs = tuple(dict.fromkeys(view.spending["run"]))
    template = _ally_template(start, end, view.name, runs, round(view.personnel_goal, 6))
    return _with_data(
        template,
        spending=view.spending,
        band=view.band,
        categories=view.categories,
        personnel=view.personnel,
    )
