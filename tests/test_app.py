"""The Solara app, rendered in-process with solara's test utilities: find widgets, click, read."""

import asyncio
import gc
import json
import time
import types
import weakref
from collections.abc import Iterator

import ipyvuetify as v
import ipywidgets
import numpy as np
import pytest
import solara
import solara.lifecycle
import solara.server.settings
import solara.toestand
import solara.util
from solara.components.datatable import DataTableWidget
from solara.server import kernel, kernel_context

import app
from experiments import bench_app
from sim.app_charts import OfflineVegaLite
from sim.columns import ALLIES_TABLE
from sim.parameters import PARAMETERS
from sim.plans import load_plans
from sim.scenario import list_scenarios, load_scenario


@solara.component
def _Layout():  # noqa: N802 (a component)
    with solara.AppLayout():  # SolaraViz and the scenario card put their controls in its sidebar
        app.Page()


@pytest.fixture
def rc():
    app.highlighted.set(app.DEFAULT_ALLY)
    app.computed_bands.set(None)
    app.session_model.set(None)
    app.compared.set(app.COMPARE_NONE)
    app.tab.set(0)
    _, rc = solara.render(_Layout(), handle_error=False)
    yield rc
    rc.close()


def _button(rc, label):
    return rc.find(v.Btn, children=[label]).widget


def _select(rc, label):
    return rc.find(v.Select, label=label).widget


def _slider(rc, label_start):
    sliders = [w for w in rc.find(v.Slider).widgets if w.label.startswith(label_start)]
    assert len(sliders) == 1, [w.label for w in rc.find(v.Slider).widgets]
    return sliders[0]


def _widgets(widget):
    yield widget
    for name in ("children", "items"):  # a grid (GridDraggable) holds its cards as items
        value = getattr(widget, name, ())
        for child in value if isinstance(value, list | tuple) else ():
            if isinstance(child, ipywidgets.Widget):
                yield from _widgets(child)


def _texts(rc):
    """Every text in the page (solara's finder stops at the first match, so walk the tree)."""
    return [
        w.children[0]
        for w in _widgets(rc.container)
        if isinstance(w, v.Html) and w.children and isinstance(w.children[0], str)
    ]


def _charts(rc):
    """The Vega-Lite specifications of the charts on the open tab."""
    return [
        json.loads(w.spec_json) for w in _widgets(rc.container) if isinstance(w, OfflineVegaLite)
    ]


def _data(spec, name):
    return spec["datasets"][name]


def _year(rc):
    years = [t for t in _texts(rc) if t.startswith("Year ")]
    assert len(years) == 1
    return int(years[0].removeprefix("Year "))


def _pending(rc):
    return bool(rc.find(v.Alert, type="warning").widgets)


def _running(rc):
    (line,) = [t for t in _texts(rc) if t.startswith("Running ")]
    return line


def _model(rc):
    """The model the page runs."""
    return app.session_model.value


def _open(rc, name):
    app.tab.set(app.TABS.index(name))


def test_controls_list_every_scenario_and_the_levers_with_their_units(rc):
    assert _select(rc, "Scenario").items == [name for name, _ in list_scenarios()]
    assert _select(rc, "Scenario").v_model == app.DEFAULT_SCENARIO
    spec = load_scenario(app.DEFAULT_SCENARIO)
    for name, title in app.SLIDERS.items():
        p = PARAMETERS[name]
        slider = _slider(rc, title)
        value = spec.parameters[name]
        assert slider.label == f"{app.lever_label(name)}: {app.lever_text(name, value)}"
        assert float(slider.label.rsplit(": ", 1)[1]) == value  # the value run, not rounded
        assert (slider.min, slider.max) == (p.low, p.high)
        assert slider.v_model == pytest.approx(value)
    seed = _slider(rc, "Seed")
    assert seed.v_model == app.DEFAULT_SEED and seed.step == 1
    for label in ("Reset", "▶", "Step"):
        _button(rc, label)
    assert spec.description in _texts(rc)
    assert not _pending(rc)


def test_step_advances_the_year_shown_and_the_views(rc):
    start = load_scenario(app.DEFAULT_SCENARIO).start_year
    assert _year(rc) == start
    before = _charts(rc)
    assert len(before) == 2  # the Overview: alliance measures and every ally
    for _ in range(3):
        _button(rc, "Step").click()
    assert _year(rc) == start + 3
    after = _charts(rc)
    assert len(after) == 2 and all(a != b for a, b in zip(before, after, strict=True))
    years = {row["year"] for row in _data(after[0], "aggregates")}
    assert years == set(range(start, start + 4))
    _open(rc, "Table")
    assert f"Allies in {start + 3}, furthest below their path" in " ".join(_texts(rc))


def test_the_table_states_the_pledge_as_the_pledge_levers_set_it(rc):
    model = _model(rc)
    model.p["pledge_core_scale"], model.p["pledge_delay"] = 1.2, 2  # as a scenario file may set
    _open(rc, "Table")
    pledge = model.spec.pledge
    expected = f"path to {pledge.core_pct * 1.2:g}% core by {pledge.year + 2} first"
    assert expected in " ".join(_texts(rc))


def test_a_picked_scenario_brings_its_own_lever_values_and_reset_runs_it(rc):
    _button(rc, "Step").click()
    _select(rc, "Scenario").v_model = "status-quo-2pct"
    spec = load_scenario("status-quo-2pct")
    assert spec.description in _texts(rc)
    for name, title in app.SLIDERS.items():
        assert _slider(rc, title).v_model == pytest.approx(spec.parameters[name])
    assert _slider(rc, "US pressure strength").v_model == pytest.approx(0.3)  # not the 1.0 default
    assert _pending(rc) and _running(rc).startswith("Running hague-2035")  # until Reset
    _button(rc, "Reset").click()
    assert not _pending(rc)
    assert _running(rc).startswith("Running status-quo-2pct")
    assert _year(rc) == spec.start_year
    model = _model(rc)
    assert model.spec.name == "status-quo-2pct"
    assert {name: model.p[name] for name in app.SLIDERS} == app.scenario_levers(spec.name)


def test_reset_rebuilds_the_model_from_the_levers_and_an_integer_seed(rc):
    _button(rc, "Step").click()
    _slider(rc, "Threat level").v_model = 1.5
    _slider(rc, "Seed").v_model = 7
    assert _pending(rc)
    _button(rc, "Reset").click()
    assert not _pending(rc)
    assert _year(rc) == load_scenario(app.DEFAULT_SCENARIO).start_year
    assert _running(rc).endswith("seed 7")
    _button(rc, "Step").click()  # the rebuilt model runs
    model = _model(rc)
    assert model.seed == 7 and isinstance(model.seed, int)
    assert model.p["threat_scale"] == 1.5
    assert model.year == load_scenario(app.DEFAULT_SCENARIO).start_year + 1


def test_stepping_to_the_end_disables_step_without_an_error(rc):
    spec = load_scenario("us-demand-2025")  # one year
    _select(rc, "Scenario").v_model = spec.name
    _button(rc, "Reset").click()
    _button(rc, "Step").click()
    assert _year(rc) == spec.end_year
    assert _button(rc, "Step").disabled
    assert not rc.find(v.Alert, type="error").widgets


def test_ally_picker_lists_every_ally_and_sets_the_highlight(rc):
    picker = _select(rc, "Ally")
    assert picker.v_model == "Germany"
    assert len(picker.items) == 32 and "United States" in picker.items
    picker.v_model = "Poland"
    assert app.highlighted.value == "Poland"
    assert _select(rc, "Ally").v_model == "Poland"
    trajectories = _charts(rc)[1]
    filters = json.dumps(trajectories)
    assert "datum.name === 'Poland'" in filters and "datum.name === 'Germany'" not in filters


def test_uncertainty_panel_runs_n_replications_of_the_current_settings(rc):
    _open(rc, "Uncertainty")
    assert not [t for t in _texts(rc) if "replications in" in t]
    _slider(rc, "Replications (N)").v_model = 50
    _button(rc, "Run 50 replications").click()
    model, bands, seconds = app.computed_bands.value
    assert bands.runs == 50 and bands.seed == model.seed and bands.scenario == model.spec
    assert bands.uncertainty == "posterior"  # scenarios/posterior.toml exists
    assert seconds > 0
    assert f"50 replications in {seconds:.2f} s" in _texts(rc)
    said = " ".join(_texts(rc))
    assert "Bands: parameter draws from the posterior and shocks, 50 runs" in said
    assert f"--replications 50 --seed {model.seed} --uncertainty posterior" in said
    (chart,) = _charts(rc)
    assert chart["title"]["text"].endswith(bands.description)
    assert len(_data(chart, "bands")) == 4 * len(model.spec.years)
    _button(rc, "Step").click()  # the same run, one year on: the bands still apply
    assert app.computed_bands.value[0] is model
    _button(rc, "Reset").click()  # a new run: the panel asks for a new ensemble
    info = rc.find(v.Alert, type="info").widgets
    assert any("Runs N replications" in w.children[0] for w in info)


def test_the_information_card_counts_the_years_run_instead_of_mesas_time(rc):
    spec = load_scenario(app.DEFAULT_SCENARIO)
    span = spec.end_year - spec.start_year
    assert f"0 of {span} years run" in _texts(rc)
    _button(rc, "Step").click()
    _button(rc, "Step").click()
    assert f"2 of {span} years run" in _texts(rc)
    assert _year(rc) == spec.start_year + 2
    assert not [t for t in _texts(rc) if t.startswith("Time")]


def test_a_closed_tabs_session_is_freed_minutes_after_not_a_day(monkeypatch):
    monkeypatch.delenv(app.CULL_TIMEOUT_VARIABLE, raising=False)
    monkeypatch.setattr(solara.server.settings.kernel, "cull_timeout", "24h")  # solara's default
    assert app.apply_cull_timeout() == app.KERNEL_CULL_TIMEOUT
    assert solara.server.settings.kernel.cull_timeout == app.KERNEL_CULL_TIMEOUT
    assert solara.util.parse_timedelta(solara.server.settings.kernel.cull_timeout) <= 300


def test_solaras_own_cull_timeout_variable_wins(monkeypatch):
    monkeypatch.setenv(app.CULL_TIMEOUT_VARIABLE, "10m")
    monkeypatch.setattr(solara.server.settings.kernel, "cull_timeout", "10m")  # as solara read it
    assert app.apply_cull_timeout() == "10m"


def test_a_closing_session_has_what_it_left_in_cycles_collected(monkeypatch):
    starts = solara.lifecycle._on_kernel_start_callbacks
    assert [e.callback for e in starts].count(app.release_after_close) == 1
    monkeypatch.setattr(app, "RELEASE_DELAY_S", 0.0)

    class Node:
        other: object

    first, second = Node(), Node()
    first.other, second.other = second, first
    left = weakref.ref(first)
    del first, second
    gc.disable()  # only the release may collect the cycle
    try:
        assert left() is not None
        app.release_after_close()()  # a session starts and closes
        deadline = time.monotonic() + 10
        while left() is not None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        gc.enable()
    assert left() is None


def _reachable(root: object) -> Iterator[object]:
    """What ``root`` leads to, short of modules, classes, module namespaces and kernel contexts."""
    seen = {id(root)}
    stack = [root]
    while stack:
        obj = stack.pop()
        yield obj
        for ref in gc.get_referents(obj):
            stop = isinstance(ref, types.ModuleType | type | kernel_context.VirtualKernelContext)
            if stop or id(ref) in seen or (isinstance(ref, dict) and "__builtins__" in ref):
                continue
            seen.add(id(ref))
            stack.append(ref)


def test_a_closed_page_leaves_its_model_nowhere_the_server_keeps_for_good(monkeypatch):
    """Solara 1.58 keeps every ``use_task``'s first closures, Mesa's Step among them, in a list
    for the life of the server (widgetti/solara#1180); through them it kept each tab's model."""
    monkeypatch.setattr(solara.toestand, "_using_solara_server", lambda: True)  # as when served
    loop = asyncio.new_event_loop()
    session = kernel_context.VirtualKernelContext(
        id="closed-tab", kernel=kernel.Kernel(), session_id="tab", event_loop=loop
    )
    try:
        with session:
            _, rc = solara.render(_Layout(), handle_error=False)
            _button(rc, "Step").click()
            model = app.session_model.value
            assert model.year == load_scenario(app.DEFAULT_SCENARIO).start_year + 1
            rc.close()
        kept = list(_reachable(solara.lifecycle._on_kernel_start_callbacks))
    finally:
        loop.close()
    controller = [
        o for o in kept if isinstance(o, types.FunctionType) and "ModelController" in o.__qualname__
    ]
    assert controller  # the path exists in this solara
    assert not any(o is model for o in kept)


def test_bench_app_times_the_server_side_work_of_a_step():
    rows = bench_app.server_side(repeat=1)
    names = [name for name, _, _ in rows]
    assert names[-3].startswith("One step: model and the Overview's views")
    assert names[-1].startswith("One step through the rendered page")
    assert len(rows) == 12
    assert all(0 < best <= median for _, median, best in rows)


def test_views_sit_on_named_tabs_not_mesas_page_0(rc):
    tabs = [w for w in _widgets(rc.container) if isinstance(w, v.Tab)]
    assert [w.children[0] for w in tabs] == list(app.TABS)
    assert not [t for t in _texts(rc) if t.startswith("Page ")]


def test_the_year_sits_above_the_levers_not_under_the_last_slider(rc):
    texts = _texts(rc)
    card = next(
        w
        for w in _widgets(rc.container)
        if isinstance(w, v.Html) and w.children and str(w.children[0]).startswith("Year ")
    )
    assert card.children == [f"Year {_year(rc)}"] and "margin-bottom" in card.style_
    assert texts.index(card.children[0]) < texts.index(
        load_scenario(app.DEFAULT_SCENARIO).description
    )


def test_a_moved_lever_is_set_and_shown_to_its_precision(rc):
    slider = _slider(rc, "Free-riding strength")
    assert slider.label.endswith(": 0.9413")  # the calibrated default, in full
    slider.v_model = 0.93456  # a drag lands between the slider's fine steps
    slider = _slider(rc, "Free-riding strength")
    assert slider.label.endswith(": 0.93")
    _slider(rc, "Adjustment speed").v_model = 0.24681  # range 0.05-1: three decimals
    assert _slider(rc, "Adjustment speed").label.endswith(": 0.247")
    _button(rc, "Reset").click()
    assert _model(rc).p["free_riding"] == 0.93 and _model(rc).p["adjustment_speed"] == 0.247


@pytest.mark.parametrize(
    ("name", "low", "high", "decimals"),
    [("free_riding", 0, 1, 2), ("adjustment_speed", 0.05, 1, 3), ("threat_scale", 0, 3, 2)],
)
def test_lever_precision_is_a_hundredth_of_its_range(name, low, high, decimals):
    assert (PARAMETERS[name].low, PARAMETERS[name].high) == (low, high)
    assert app.lever_decimals(name) == decimals
    assert app.lever_text(name, 0.5) == f"{0.5:.{decimals}f}"


def test_compare_with_the_baseline_puts_both_runs_on_every_chart_and_the_table(rc):
    _select(rc, "Scenario").v_model = "us-retrenchment"
    _button(rc, "Reset").click()
    for _ in range(4):
        _button(rc, "Step").click()
    picker = _select(rc, "Compare with")
    assert picker.items[:2] == [app.COMPARE_NONE, f"baseline: {app.BASELINE}"]
    picker.v_model = f"baseline: {app.BASELINE}"
    label = f"{app.BASELINE} (compare)"
    assert any(t.startswith(f"Compared with {app.BASELINE}") for t in _texts(rc))
    aggregates, trajectories = _charts(rc)
    rows = _data(aggregates, "aggregates")
    assert {r["run"] for r in rows} == {"this run", label}
    assert max(r["year"] for r in rows if r["run"] == label) == _model(rc).year
    baseline = app.comparison_run(app.BASELINE, _model(rc).seed).alliance.set_index("year")
    gap = next(
        r["value"]
        for r in rows
        if r["run"] == label and r["series"] == "capability gap" and r["year"] == 2027
    )
    assert gap == pytest.approx(100 * baseline.at[2027, "capability_gap"])
    assert {r["run"] for r in _data(trajectories, "allies")} == {"this run", label}
    _open(rc, "Capabilities")
    (heatmap,) = _charts(rc)
    assert {r["run"] for r in _data(heatmap, "heatmap")} == {"this run", label}
    _open(rc, "Table")
    said = " ".join(_texts(rc))
    assert f"This run against {app.BASELINE}" in said
    tables = rc.find(DataTableWidget).widgets
    assert any("Core diff 2035 (pp)" in [h["text"] for h in t.headers] for t in tables)
    _open(rc, "Uncertainty")
    _button(rc, f"Run {app.BAND_RUNS} replications").click()
    (bands,) = _charts(rc)
    assert {r["run"] for r in _data(bands, "runs")} == {"this run", label}


def test_the_ally_view_draws_germanys_plan_pledge_path_band_and_goal(rc):
    _open(rc, "Ally")
    (chart,) = _charts(rc)
    model = _model(rc)
    spending = _data(chart, "spending")
    plan = [r for r in spending if r["series"] == "national plan"]
    germany = load_plans()
    assert plan and {"DEU"} <= set(germany["iso3"])
    i = list(model.initial.names).index("Germany")
    planned = model.initial.plan[:, i]
    assert [r["value"] for r in plan[1:]] == pytest.approx(list(planned[~np.isnan(planned)]))
    assert {r["series"] for r in spending} >= {"core", "total", "pledge path", "national plan"}
    assert {r["series"] for r in _data(chart, "band")} == {"core", "total"}
    said = " ".join(_texts(rc))
    assert "bands: parameter draws from the posterior and shocks, 200 runs" in said
    assert f"its goal of {model.initial.personnel_goal[i]:.0f}k" in said
    categories = {r["category"] for r in _data(chart, "categories")}
    assert len(categories) == 5
    _select(rc, "Ally").v_model = "Iceland"  # no forces, and no plan
    said = " ".join(_texts(rc))
    assert "no national plan in this scenario" in said


def test_the_csv_download_is_the_runs_allies_table(rc):
    from solara.components.file_download import FileDownloadWidget

    _button(rc, "Step").click()
    widgets = [w for w in _widgets(rc.container) if isinstance(w, FileDownloadWidget)]
    allies = next(w for w in widgets if w.filename == "allies-hague-2035-seed1.csv")
    allies.request_download = True
    deadline = time.monotonic() + 30
    while allies.bytes is None and time.monotonic() < deadline:
        time.sleep(0.05)
    header, *rows = allies.bytes.decode().splitlines()
    assert header.split(",") == list(ALLIES_TABLE)
    assert len(rows) == 2 * 32  # 2025 and 2026: the run as it stands at the click
