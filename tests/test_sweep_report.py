"""sim.sweep_report: a sweep's plots and ``report.md``, every number taken from its tables."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from sim.discovery import DiscoveryResult
from sim.experiment import Discovery, load_experiment
from sim.sweep import run_sweep
from sim.sweep_report import (
    findings,
    plot_fans,
    plot_grid,
    plot_indices,
    plot_morris,
    plot_prim_box,
    plot_prim_tradeoff,
    write_report,
)

MORRIS = """
description = "test sweep"
scenario = "hague-2035"
design = "morris"
samples = 3
replications = 2
seed = 5

[parameters]
threat_response_pp = { range = [1.0, 6.0] }
adjustment_speed = { range = [0.1, 0.8] }
recruit_rate = { range = [0.01, 0.08] }

[[outputs]]
name = "allies_ge_3_5pct_core_2035"
column = "allies_ge_3_5pct_core"

[[outputs]]
name = "germany_personnel_k_2035"
column = "personnel_k"
ally = "DEU"

[series]
columns = ["capability_gap"]
"""

GRID = """
description = "US stance x threat"
scenario = "hague-2035"
design = "grid"
replications = 1
seed = 3

[parameters]
us_pressure_strength = { values = [0.0, 0.5, 1.0] }
threat_scale = { values = [0.8, 1.2] }

[[outputs]]
name = "capability_gap_2035"
column = "capability_gap"

[[outputs]]
name = "mean_core_2035"
column = "mean_core_pct_gdp"
"""

PNG = b"\x89PNG"


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A Morris sweep, 12 points x 2 replications with one series, run serially."""
    tmp = tmp_path_factory.mktemp("morris")
    (tmp / "screen.toml").write_text(MORRIS)
    return run_sweep(load_experiment(tmp / "screen.toml"), tmp / "out", executor="serial")


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    """A 3 x 2 grid sweep of one replication, without series."""
    tmp = tmp_path_factory.mktemp("grid")
    (tmp / "stance.toml").write_text(GRID)
    return run_sweep(load_experiment(tmp / "stance.toml"), tmp / "out", executor="serial")


@pytest.fixture(scope="module")
def discovered(small, tmp_path_factory):
    """The Morris sweep's points with an outcome (fewer allies at 3.5% than its median).

    Reported anew without series or indices, so only the PRIM plots are drawn.

    Its scenario discovery is a box on one parameter with coverage and density counted from
    the sweep's own points (PRIM itself is exercised by tests/test_sweep.py; importing the EMA
    Workbench would take most of this file's time).
    """
    y = small.output("allies_ge_3_5pct_core_2035")
    holds = y < y.median()
    assert 0 < holds.sum() < len(holds)
    x = small.samples["threat_response_pp"]
    low, high = float(x.min()), float(x.median())
    inside = (x >= low) & (x <= high)
    cases_in = int((holds & inside).sum())
    trajectory = pd.DataFrame(
        {
            "coverage": [1.0, cases_in / holds.sum()],
            "density": [holds.mean(), cases_in / inside.sum()],
            "mass": [1.0, inside.mean()],
            "res_dim": [0, 1],
        }
    )
    found = DiscoveryResult(
        cases=int(holds.sum()),
        points=len(holds),
        trajectory=trajectory,
        box=pd.DataFrame({"parameter": ["threat_response_pp"], "low": [low], "high": [high]}),
        coverage=float(trajectory.loc[1, "coverage"]),
        density=float(trajectory.loc[1, "density"]),
        cart=pd.DataFrame(
            columns=["leaf", "parameter", "low", "high", "coverage", "density", "mass"]
        ),
    )
    outcome = Discovery("allies_ge_3_5pct_core_2035", float(y.median()), below=True)
    result = replace(
        small,
        experiment=replace(small.experiment, discovery=outcome),
        out=tmp_path_factory.mktemp("discovered"),
        series=small.series.iloc[:0, :2],
        indices=None,
        discovery=found,
    )
    return result, write_report(result)


def _summary(result, output: str) -> tuple[float, float, float]:
    means = result.outputs[result.outputs["output"] == output]["mean"]
    return means.median(), means.quantile(0.05), means.quantile(0.95)


# moved from tests/test_sweep.py
def test_the_report_and_plots_come_from_the_numbers(small):
    """The largest mu* in report.md is the indices table's; each plot is a PNG it links."""
    text = (small.out / "report.md").read_text()
    top = small.indices[small.indices["output"] == "allies_ge_3_5pct_core_2035"]
    best = top.nlargest(1, "mu_star").iloc[0]
    assert f"{best['parameter']} ({best['mu_star']:.3g})" in text
    for png in ("fan_charts.png", "indices.png", "morris.png"):
        assert (small.out / png).read_bytes().startswith(b"\x89PNG")
        assert f"]({png})" in text


# --- report.md ---------------------------------------------------------------------------------


def test_the_report_names_the_sweep_its_design_and_how_to_rerun_it(small):
    """Title, description and one line of set-up, all from the experiment."""
    e = small.experiment
    lines = (small.out / "report.md").read_text().splitlines()
    assert lines[:3] == ["# Sweep `screen`", "", "test sweep"]
    assert lines[4] == (
        f"Generated by `alliance sweep {e.source}`. Scenario `hague-2035`, morris design, "
        "12 design points x 2 replications, seed 5."
    )
    assert lines[6:8] == ["## Findings", ""]
    assert lines[8] == findings(small, None)


def test_the_report_tables_are_the_indices_and_the_output_summary(small):
    """Every index row, and each output's median, 5-95% and mean replication sd (4 digits)."""
    text = (small.out / "report.md").read_text()
    for row in small.indices.itertuples(index=False):
        cells = [f"{v:.4g}" if isinstance(v, float) else str(v) for v in row]
        assert "| " + " | ".join(cells) + " |" in text
    for output in ("allies_ge_3_5pct_core_2035", "germany_personnel_k_2035"):
        median, p05, p95 = _summary(small, output)
        sd = small.outputs[small.outputs["output"] == output]["sd"].mean()
        assert f"| {output} | {median:.4g} | {p05:.4g} | {p95:.4g} | {sd:.4g} |" in text


def test_findings_give_the_first_outputs_spread_and_the_top_three_parameters(small):
    """Median and 5-95% across points, then each output's three largest mu* in order."""
    text = findings(small, None)
    median, p05, p95 = _summary(small, "allies_ge_3_5pct_core_2035")
    assert text.startswith(
        f"Across the 12 design points, allies_ge_3_5pct_core_2035 has a median of {median:.3g} "
        f"(5-95%: {p05:.3g} to {p95:.3g})."
    )
    for output in ("allies_ge_3_5pct_core_2035", "germany_personnel_k_2035"):
        top = small.indices[small.indices["output"] == output].nlargest(3, "mu_star")
        ranked = ", ".join(f"{r.parameter} ({r.mu_star:.3g})" for r in top.itertuples())
        assert f"For {output}, the largest mean absolute elementary effects are {ranked}." in text


def test_a_grid_reports_rank_correlations_and_a_heatmap_and_no_missing_plot(grid):
    """No indices: Spearman correlations with each parameter; grid.png; no fans without series."""
    text = (grid.out / "report.md").read_text()
    y = grid.output("capability_gap_2035")
    rho = grid.samples.assign(y=y).corr(method="spearman")["y"].drop("y")
    order = rho.abs().sort_values(ascending=False).index
    ranked = ", ".join(f"{name} ({rho[name]:+.2f})" for name in order)
    assert f"Rank correlations of capability_gap_2035 with the parameters: {ranked}." in text
    assert "![Outputs over the grid](grid.png)" in text
    assert (grid.out / "grid.png").read_bytes().startswith(PNG)
    for absent in ("fan_charts.png", "indices.png", "morris.png", "prim_box.png"):
        assert not (grid.out / absent).exists() and absent not in text
    assert "## Indices" not in text and "Scenario discovery" not in text


def test_an_outcome_adds_prim_to_the_findings_the_tables_and_the_plots(discovered):
    """Cases of points, PRIM's box, coverage and density; the box table; both PRIM plots."""
    result, path = discovered
    found = result.discovery
    assert path == result.out / "report.md"
    text = path.read_text()
    where = "; ".join(f"{r.parameter} {r.low:.3g} to {r.high:.3g}" for r in found.box.itertuples())
    label = result.experiment.discovery.label
    assert (
        f"The outcome {label} holds in {found.cases} of 12 points. PRIM finds it where "
        f"{where or 'no range is restricted'}: this box holds {found.coverage:.0%} of those cases, "
        f"and {found.density:.0%} of its points are cases."
    ) in text
    assert f"## Scenario discovery: {label}" in text and "CART leaves" not in text
    for row in found.box.itertuples(index=False):
        assert f"| {row.parameter} | {row.low:.4g} | {row.high:.4g} |" in text
    for png in ("prim_tradeoff.png", "prim_box.png"):
        assert (result.out / png).read_bytes().startswith(PNG) and f"]({png})" in text
    assert sorted(p.name for p in result.out.glob("*.png")) == ["prim_box.png", "prim_tradeoff.png"]


def test_write_report_leaves_no_temporary_file(discovered):
    """Every file is renamed into place: no ``.*.tmp`` is left in the folder."""
    result, _ = discovered
    assert not list(result.out.glob(".*.tmp"))


# --- plots -------------------------------------------------------------------------------------


def test_fan_charts_have_one_panel_per_series_column(small):
    """One panel titled by its column, with a median line and two bands over the years."""
    fig = plot_fans(small)
    (ax,) = fig.axes
    assert ax.get_title() == "capability_gap"
    (median,) = ax.get_lines()
    years = sorted(small.series["year"].unique())
    assert list(median.get_xdata()) == years
    expected = small.series.groupby("year")["capability_gap"].median()
    np.testing.assert_allclose(median.get_ydata(), expected.to_numpy())
    assert len(ax.collections) == 2


def test_index_and_morris_plots_have_one_panel_per_output_and_a_mark_per_parameter(small):
    """Bars of mu* per parameter (sorted), and a mu*-sigma scatter labelled by parameter."""
    outputs = ["allies_ge_3_5pct_core_2035", "germany_personnel_k_2035"]
    bars, scatter = plot_indices(small), plot_morris(small)
    assert [ax.get_title() for ax in bars.axes] == outputs
    assert [ax.get_title() for ax in scatter.axes] == outputs
    for ax, output in zip(bars.axes, outputs, strict=True):
        t = small.indices[small.indices["output"] == output].sort_values("mu_star")
        assert [label.get_text() for label in ax.get_yticklabels()] == t["parameter"].tolist()
        np.testing.assert_allclose([p.get_width() for p in ax.patches], t["mu_star"])
    for ax in scatter.axes:
        assert sorted(text.get_text() for text in ax.texts) == sorted(
            v.name for v in small.experiment.parameters
        )


def test_the_grid_plot_is_a_heatmap_of_each_output_over_both_parameters(grid):
    """One heatmap per output: first parameter across, second up, values from the outputs."""
    fig = plot_grid(grid)
    heatmaps = [ax for ax in fig.axes if ax.get_images()]
    assert [ax.get_title() for ax in heatmaps] == ["capability_gap_2035", "mean_core_2035"]
    ax = heatmaps[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "0.5", "1"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0.8", "1.2"]
    image = ax.get_images()[0].get_array()
    y = grid.output("capability_gap_2035")
    table = grid.samples.assign(v=y).pivot_table(
        index="threat_scale", columns="us_pressure_strength", values="v"
    )
    np.testing.assert_allclose(image, table.to_numpy())


def test_the_prim_plots_show_the_trajectory_and_the_reported_box(discovered):
    """A point per peeling step; a bar per restricted parameter within its sampled range."""
    result, _ = discovered
    found = result.discovery
    trade = plot_prim_tradeoff(found)
    steps = trade.axes[0].collections[0].get_offsets()
    np.testing.assert_allclose(steps, found.trajectory[["coverage", "density"]].to_numpy())
    box = plot_prim_box(found, result.samples)
    ax = box.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == found.box["parameter"].tolist()
    assert len(ax.patches) == len(found.box)
    for patch in ax.patches:
        assert patch.get_x() >= 0 and patch.get_x() + patch.get_width() <= 1 + 1e-12
    assert ax.get_title() == f"coverage {found.coverage:.2f}, density {found.density:.2f}"
