"""The app's Vega-Lite charts: offline assets, tooltips, reference lines, export, data in."""

import json
import math
from functools import cache

import jsonschema
import numpy as np
import pandas as pd
import pytest
import solara.server.settings

from sim import app_charts as charts
from sim.dashboard import (
    THIS_RUN,
    aggregates_long,
    ally_view,
    band_runs_long,
    bands_long,
    fulfilment_matrix,
    heatmap_long,
    run_tables,
    trajectories_long,
    uncertainty_bands,
)
from sim.model import AllianceModel


@pytest.fixture(scope="module")
def run():
    model = AllianceModel("us-retrenchment", rng=2)
    model.run_for(5)
    allies, alliance = run_tables(model)
    return model, allies, alliance


def _walk(node):
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _tooltips(spec):
    return [
        {t["field"] for t in node["tooltip"]}
        for node in _walk(spec)
        if isinstance(node, dict) and isinstance(node.get("tooltip"), list)
    ]


@cache
def _shipped_schema():
    """The JSON schema of the Vega-Lite solara-assets ships, the one ``$schema`` names."""
    version = charts.shipped_version("vega-lite", 5)
    assert charts.VEGA_LITE_SCHEMA.endswith(f"/v{version}.json")
    cdn = solara.server.settings.assets.proxy_cache_dir
    schema = json.loads((cdn / f"vega-lite@{version}/build/vega-lite-schema.json").read_text())
    return jsonschema.Draft7Validator(schema)


def _common(spec, filename):
    assert spec["$schema"].endswith("v5.2.0.json")  # the Vega-Lite solara-assets ships
    errors = [
        f"{list(e.absolute_path)}: {e.message[:200]}" for e in _shipped_schema().iter_errors(spec)
    ]
    assert not errors, errors
    options = spec["usermeta"]["embedOptions"]
    assert options["actions"] == {
        "export": True,
        "source": False,
        "compiled": False,
        "editor": False,
    }
    assert options["downloadFileName"] == filename and options["renderer"] == "svg"
    text = charts.as_json(spec)
    assert "http" not in text.replace(charts.VEGA_LITE_SCHEMA, "")  # nothing fetched from outside
    assert json.loads(text) == spec


def test_the_template_loads_the_exact_versions_solara_assets_ships():
    cdn = solara.server.settings.assets.proxy_cache_dir
    text = charts.offline_template()
    for library, major in charts.LIBRARIES.items():
        version = charts.shipped_version(library, major)
        assert version is not None and (cdn / f"{library}@{version}").is_dir()
        assert f"/{library}@{version}/build/" in text and f"/{library}@{major}/" not in text
    assert "JSON.parse(this.spec_json)" in text and "spec_json() {" in text
    assert text.count("this.embedded.finalize()") == 2  # on redraw and when the chart goes
    widget = charts.OfflineVegaLite(spec_json="{}")
    assert widget.template == text
    widget.close()


def test_a_missing_library_keeps_solaras_name(tmp_path):
    (tmp_path / "vega@5.21.0").mkdir()
    (tmp_path / "vega@4.9.9").mkdir()
    assert charts.shipped_version("vega", 5, tmp_path) == "5.21.0"
    assert charts.shipped_version("vega-embed", 6, tmp_path) is None
    text = charts.offline_template(tmp_path)
    assert "/vega@5.21.0/" in text and "/vega-embed@6/" in text


def test_records_are_json_ready_with_nan_as_null():
    frame = pd.DataFrame({"a": [1, 2], "b": [0.5, math.nan], "c": ["x", "y"]})
    rows = charts.records(frame)
    assert rows == [{"a": 1, "b": 0.5, "c": "x"}, {"a": 2, "b": None, "c": "y"}]
    assert type(rows[0]["a"]) is int


def test_alliance_chart_has_four_panels_tooltips_and_both_runs(run):
    _, _, alliance = run
    frame = aggregates_long({THIS_RUN: alliance, "other": alliance})
    spec = charts.aggregates_spec(frame, 2025, 2035)
    _common(spec, "alliance")
    panels = [c for row in spec["vconcat"] for c in row["hconcat"]]
    assert len(panels) == 4
    assert all({"run", "series", "year", "value"} <= fields for fields in _tooltips(spec))
    assert spec["datasets"]["aggregates"] == charts.records(frame)
    dash = panels[0]["encoding"]["strokeDash"]
    assert dash["scale"]["domain"] == [THIS_RUN, "other"] and dash["legend"] is not None


def test_allies_chart_draws_the_three_bars_a_click_selection_and_the_pick(run):
    _, allies, _ = run
    frame = trajectories_long({THIS_RUN: allies})
    spec = charts.trajectories_spec(frame, 2025, 2035, "Poland")
    _common(spec, "allies")
    values = [row["value"] for rows in spec["datasets"].values() for row in rows if "label" in row]
    assert values == [2.0, 3.5, 5.0]
    assert [p["name"] for p in spec["params"]] == ["pick", "legend_pick"]
    assert spec["params"][0]["select"]["on"] == charts.MARK_CLICK
    text = json.dumps(spec)
    assert "datum.name === 'Poland'" in text
    assert any({"name", "year", "core"} <= fields for fields in _tooltips(spec))
    assert spec["datasets"]["allies"] == charts.records(frame)
    again = charts.trajectories_spec(frame.iloc[:10], 2025, 2035, "Poland")
    assert again["datasets"]["allies"] == charts.records(frame.iloc[:10])  # data swapped only
    assert spec["datasets"]["allies"] == charts.records(frame)  # the first is untouched


def test_heatmap_colours_span_the_years_range(run):
    model, _, _ = run
    matrix = fulfilment_matrix(model)
    frame = heatmap_long({THIS_RUN: matrix})
    spec = charts.heatmap_spec(frame)
    _common(spec, "capabilities")
    low, high = charts.heatmap_domain(frame["value"].to_numpy())
    assert low == math.floor(100 * matrix.to_numpy().min())
    assert high == math.ceil(100 * matrix.to_numpy().max())
    scales = [
        n["scale"] for n in _walk(spec) if isinstance(n, dict) and "scheme" in n.get("scale", {})
    ]
    assert scales and all(s["domain"] == [low, high] for s in scales)
    assert charts.heatmap_domain(np.array([np.nan])) == (0.0, 100.0)
    assert charts.heatmap_domain(np.array([50.0, 50.0])) == (50.0, 51.0)


def test_bands_and_ally_charts_carry_their_tables(run):
    model, allies, alliance = run
    bands = uncertainty_bands(model.spec, model.seed, 20)
    spec = charts.bands_spec(
        bands_long(bands), band_runs_long({THIS_RUN: alliance}), 2025, 2035, bands.description
    )
    _common(spec, "uncertainty")
    assert spec["title"]["text"] == bands.description
    assert len(spec["datasets"]["bands"]) == 4 * len(model.spec.years)
    view = ally_view(model, "Germany", {THIS_RUN: allies}, bands.forecast)
    spec = charts.ally_spec(view, 2025, 2035)
    _common(spec, "ally-Germany")
    assert spec["datasets"]["spending"] == charts.records(view.spending)
    assert spec["datasets"]["band"] == charts.records(view.band)
    goal = [r for rows in spec["datasets"].values() for r in rows if "goal" in r]
    assert goal[0]["goal"] == pytest.approx(view.personnel_goal)


def test_a_click_on_the_allies_legend_highlights_that_ally_as_a_click_on_its_line_does(run):
    _, allies, _ = run
    spec = charts.trajectories_spec(trajectories_long({THIS_RUN: allies}), 2025, 2035, "Poland")
    pick, legend = spec["params"]
    assert legend["bind"] == "legend" and legend["select"] == {"type": "point", "fields": ["name"]}
    assert "on" not in legend["select"]  # with ``on``, Vega-Lite 5.2 drops the first legend click
    assert pick["select"]["fields"] == ["name"] and "bind" not in pick
    assert "'legend') < 0" in pick["select"]["on"]  # a legend click is not a click on a line
    assert pick["views"] == legend["views"]  # the lines that draw the legend hold both
    core, fulfil = spec["hconcat"]
    lines = [layer for layer in core["layer"] if layer.get("name") in legend["views"]]
    assert len(lines) == 1
    colour = lines[0]["encoding"]["color"]
    test = {"or": [{"param": "pick", "empty": False}, {"param": "legend_pick", "empty": False}]}
    assert colour["condition"]["test"] == test and colour["value"] == "#bbbbbb"
    assert colour["condition"]["field"] == "name"
    assert colour["condition"]["legend"]["symbolLimit"] == 0  # all 32 allies, not Vega's 30
    assert fulfil["layer"][0]["encoding"]["color"]["condition"]["test"] == test
    assert fulfil["layer"][0]["encoding"]["color"]["condition"]["legend"] is None
    assert spec["resolve"]["scale"]["color"] == "independent"  # the legend stays the core's
