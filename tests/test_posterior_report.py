"""sim.posterior_report: the parameter, correlation and 2035 tables and plots of a posterior."""

import numpy as np
import pandas as pd
import pytest

from sim.parameters import PARAMETERS
from sim.posterior import Posterior, read_posterior, write_posterior
from sim.posterior_report import (
    OUTPUTS,
    _markdown,
    correlations,
    outputs_2035,
    parameter_table,
    plot_marginals,
    plot_outputs,
    plot_trade_offs,
    tolerance_vs_noise,
    trade_offs,
)
from sim.posterior_report import main as report_main
from tests.test_posterior import NAMES, metadata, posterior


def test_report_tables_read_the_weighted_samples():
    rng = np.random.default_rng(3)
    a = rng.uniform(0.05, 1.0, 4000)
    b = np.clip(0.5 - 0.4 * (a - 0.5) + 0.05 * rng.standard_normal(4000), 0, 1)
    post = Posterior(
        ("adjustment_speed", "free_riding"), np.column_stack([a, b]), np.full(4000, 1 / 4000), {}
    )
    table = parameter_table(post)
    assert table.at["adjustment_speed", "width_vs_prior"] == pytest.approx(1.0, abs=0.03)
    assert table.at["adjustment_speed", "median"] == pytest.approx(0.525, abs=0.03)
    corr = correlations(post).at["adjustment_speed", "free_riding"]
    assert corr == pytest.approx(np.corrcoef(a, b)[0, 1], abs=1e-9)
    assert corr < -0.8
    pairs = trade_offs(post)
    assert list(pairs.iloc[0][["first", "second"]]) == ["adjustment_speed", "free_riding"]


def test_report_exits_2_with_one_line_for_a_bad_file(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text("date = 2026-11-28\n")
    assert report_main(["--posterior", str(path), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {path}: command: missing")


# --- small posteriors, values by hand ------------------------------------------------------------
WEIGHTS = np.array([0.1, 0.15, 0.3, 0.45])
SMALL = Posterior(
    ("adjustment_speed", "free_riding"),
    np.array([[0.1, 0.9], [0.2, 0.1], [0.3, 0.5], [0.4, 0.7]]),
    WEIGHTS,
    {},
)


def test_parameter_table_is_the_weighted_quantiles_against_the_prior():
    table = parameter_table(SMALL)
    assert table.index.tolist() == ["adjustment_speed", "free_riding"]
    # adjustment_speed: cumulative weights 0.1, 0.25, 0.55, 1 at 0.1, 0.2, 0.3, 0.4
    speed = table.loc["adjustment_speed"]
    assert (speed["prior_low"], speed["prior_high"], speed["point"]) == (0.05, 1.0, 0.1531)
    assert (speed["q05"], speed["median"], speed["q95"]) == (0.1, 0.3, 0.4)
    assert speed["width_vs_prior"] == pytest.approx(0.3 / (0.9 * 0.95))
    # free_riding sorted: 0.1 (0.15), 0.5 (0.3), 0.7 (0.45), 0.9 (0.1): cumulative 0.15, 0.45, 0.9
    riding = table.loc["free_riding"]
    assert (riding["q05"], riding["median"], riding["q95"]) == (0.1, 0.7, 0.9)
    assert riding["width_vs_prior"] == pytest.approx(0.8 / 0.9)
    assert riding["point"] == PARAMETERS["free_riding"].default


def test_correlations_are_weighted_and_trade_offs_ranked_by_strength():
    a = np.array([0.1, 0.2, 0.3, 0.4])
    post = Posterior(
        NAMES,
        np.column_stack([a, 1 - 2 * a, [1.0, 3.0, 3.0, 1.0]]),  # b = 1 - 2a; c symmetric in a
        np.full(4, 0.25),
        {},
    )
    corr = correlations(post)
    assert corr.index.tolist() == corr.columns.tolist() == list(NAMES)
    np.testing.assert_allclose(np.diag(corr), 1.0)
    assert corr.at["adjustment_speed", "free_riding"] == pytest.approx(-1.0)
    assert corr.at["adjustment_speed", "threat_response_pp"] == pytest.approx(0.0, abs=1e-12)
    assert corr.at["free_riding", "threat_response_pp"] == pytest.approx(0.0, abs=1e-12)
    pairs = trade_offs(post, top=2)
    assert pairs[["first", "second"]].values.tolist() == [
        ["adjustment_speed", "free_riding"],
        ["adjustment_speed", "threat_response_pp"],  # ties keep the parameters' order
    ]
    assert pairs["correlation"].tolist() == pytest.approx([-1.0, 0.0], abs=1e-12)
    # an outlier with almost no weight does not count: b = a on the weighted samples
    outlier = Posterior(
        ("adjustment_speed", "free_riding"),
        np.array([[0.1, 0.1], [0.2, 0.2], [0.3, 0.3], [0.9, 0.0]]),
        np.array([1, 1, 1, 1e-9]) / (3 + 1e-9),
        {},
    )
    assert correlations(outlier).at["adjustment_speed", "free_riding"] == pytest.approx(1.0)
    equal = Posterior(outlier.names, outlier.samples, np.full(4, 0.25), {})
    assert correlations(equal).at["adjustment_speed", "free_riding"] < 0


def test_markdown_rounds_floats_and_keeps_the_rest():
    frame = pd.DataFrame({"name": ["a", "b"], "x": [1234.5678, 0.012345], "n": [3, 40]})
    assert _markdown(frame) == (
        "| name | x | n |\n|---|---|---|\n| a | 1.23e+03 | 3 |\n| b | 0.0123 | 40 |"
    )
    assert _markdown(frame, 2).splitlines()[3] == "| b | 0.012 | 40 |"


def test_plot_marginals_has_a_panel_per_parameter_over_its_prior():
    fig = plot_marginals(SMALL)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["adjustment_speed", "free_riding"]
    assert visible[0].get_xlim() == (0.05, 1.0)
    assert visible[1].get_xlim() == (0.0, 1.0)
    # the point fit's line sits at the parameter's default
    lines = visible[1].get_lines()
    assert any(line.get_xdata()[0] == PARAMETERS["free_riding"].default for line in lines)


def test_plot_trade_offs_titles_each_pair_with_its_correlation():
    pairs = pd.DataFrame(
        [("adjustment_speed", "free_riding", -0.456), ("free_riding", "adjustment_speed", 0.2)],
        columns=["first", "second", "correlation"],
    )
    fig = plot_trade_offs(SMALL, pairs)
    assert [ax.get_title() for ax in fig.axes] == ["r = -0.46", "r = +0.20"]
    assert [ax.get_xlabel() for ax in fig.axes] == ["adjustment_speed", "free_riding"]
    x, y = fig.axes[0].collections[0].get_offsets().T
    assert x.tolist() == [0.1, 0.2, 0.3, 0.4] and y.tolist() == [0.9, 0.1, 0.5, 0.7]


def test_plot_outputs_draws_each_ensembles_5_95_range():
    rows = []
    for i, label in enumerate(OUTPUTS.values()):
        rows.append({"output": label, "draws": "shocks", "q05": i, "median": i + 1, "q95": i + 2})
        rows.append({"output": label, "draws": "posterior", "q05": -i, "median": 0, "q95": 10 * i})
    fig = plot_outputs(pd.DataFrame(rows))
    assert [ax.get_title() for ax in fig.axes] == list(OUTPUTS.values())
    for i, ax in enumerate(fig.axes):
        shocks, _, drawn, _ = ax.get_lines()
        assert shocks.get_xdata().tolist() == [i, i + 2]
        assert shocks.get_ydata().tolist() == [0, 0]
        assert drawn.get_xdata().tolist() == [-i, 10 * i]
        assert drawn.get_ydata().tolist() == [1, 1]


# The point fit as a one-sample posterior: its draws are the defaults the shocks-only runs take.
AT_THE_POINT = Posterior(
    NAMES,
    np.array([[PARAMETERS[n].default for n in NAMES]]),
    np.array([1.0]),
    metadata(),
)


@pytest.mark.filterwarnings("ignore::scipy.stats.ConstantInputWarning")
def test_outputs_2035_of_a_posterior_at_the_point_fit_match_shocks_alone():
    table, drivers = outputs_2035(AT_THE_POINT, runs=4, seed=7)
    assert table["output"].tolist() == [label for label in OUTPUTS.values() for _ in range(2)]
    assert table["draws"].tolist() == ["shocks", "posterior"] * len(OUTPUTS)
    shocks = table[table["draws"] == "shocks"][["q05", "median", "q95"]].to_numpy()
    drawn = table[table["draws"] == "posterior"][["q05", "median", "q95"]].to_numpy()
    np.testing.assert_array_equal(shocks, drawn)  # the same seeds, the same parameters
    assert (shocks[:, 0] <= shocks[:, 1]).all() and (shocks[:, 1] <= shocks[:, 2]).all()
    assert drivers.index.tolist() == list(NAMES)
    assert drivers.columns.tolist() == list(OUTPUTS.values())


def test_a_posterior_at_the_point_fit_never_beats_it_in_the_noise():
    got = tolerance_vs_noise(AT_THE_POINT)
    assert got["distance_point"] > 0
    assert got["distance_max"] == got["distance_point"]
    assert got["beats_point_mean"] == 0.0 and got["share_beating_5pct"] == 0.0


@pytest.mark.filterwarnings("ignore::scipy.stats.ConstantInputWarning")
def test_main_prints_every_table_and_writes_the_three_plots(tmp_path, capsys):
    post = posterior(3, seed=5)
    path = write_posterior(post, tmp_path / "posterior.toml")
    out = tmp_path / "plots"
    out.mkdir()
    assert (
        report_main(["--posterior", str(path), "--out", str(out), "--runs", "4", "--seed", "2"])
        == 0
    )
    text = capsys.readouterr().out
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Prior and posterior",
        "## Final tolerance against the panel's noise",
        "## Strongest posterior correlations",
        "## hague-2035 in 2035 (4 runs, seed 2)",
    ]
    table = parameter_table(read_posterior(path))
    for name in NAMES:
        p = PARAMETERS[name]
        row = f"| {name} | {p.low:.3g} | {p.high:.3g} | {p.default:.3g} | "
        assert f"{row}{table.at[name, 'median']:.3g} | " in text
    assert "| distance_point | distance_max | beats_point_mean | share_beating_5pct |" in text
    assert sum(line.startswith("| allies at >=3.5% core | ") for line in text.splitlines()) == 2
    for name in ("prior_posterior.png", "trade_offs.png", "outputs_2035.png"):
        assert (out / name).stat().st_size > 0
