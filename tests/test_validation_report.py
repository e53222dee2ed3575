"""sim.validation_report: the files of ``alliance validate``, every figure from the metrics."""

import copy
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.cli import main
from sim.data import NO_FORCES, WITHHELD
from sim.parameters import PRIORS, calibration_file, read_calibration
from sim.validation import TEST, YEARS, validate
from sim.validation_report import (
    EDITION_NAMES,
    PLOTS,
    findings,
    plot_counts,
    plot_fit_by_ally,
    plot_residuals,
    plot_step_2025,
    report_markdown,
    write_validation,
)

LINKS = {name: f"img/{name}.png" for name in PLOTS} | {"calibration": "cal/calibration.toml"}
"""Links handed to ``report_markdown``: every image and the calibration file."""


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    """``alliance validate --replications 6`` with the report in another folder: (out, report)."""
    tmp = tmp_path_factory.mktemp("validate")
    out, report = tmp / "val", tmp / "docs" / "validation.md"
    args = ["validate", "--out", str(out), "--report", str(report), "--replications", "6"]
    assert main(args) == 0
    return out, report


@pytest.fixture(scope="module")
def metrics(validated):
    """The metrics it wrote."""
    return json.loads((validated[0] / "metrics.json").read_text())


@pytest.fixture(scope="module")
def small():
    """A validation of two replications, in memory, for the plots."""
    return validate(replications=2, seed=3)


def _edited(metrics: dict, **changes) -> dict:
    """A deep copy of ``metrics`` with top-level keys replaced."""
    return copy.deepcopy(metrics) | changes


# moved from tests/test_validation.py (its run is the fixture above)
def test_alliance_validate_writes_table_metrics_plots_and_report(validated):
    """The hindcast table, the metrics, four PNG plots and a report that links them."""
    out, report = validated
    table = pd.read_parquet(out / "hindcast.parquet")
    assert len(table) == 32 * len(YEARS)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["replications"] == 6
    assert metrics["data_edition"] == "2026" == metrics["step_2025"]["data_edition"]
    for key in ("rmse_train_pp", "rmse_test_pp", "rmse_persistence_test_pp", "rmse_trend_test_pp"):
        assert metrics[key] > 0
    assert {"step_2025", "withheld_2025", "per_ally", "count_ge_2pct_by_year"} <= set(metrics)
    for png in ("fit_by_ally", "count_ge_2pct", "residuals", "step_2025"):
        data = (out / f"{png}.png").read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000
        assert f"](../val/{png}.png)" in report.read_text()
    text = report.read_text()
    assert f"{metrics['rmse_test_pp']:.2f} pp" in text
    assert "data edition `2026`" in text and "which has no 2025 figure" not in text
    assert (
        f"| 2024 | {metrics['count_ge_2pct_2024_obs']} | {metrics['count_ge_2pct_2024_sim']} |"
        in text
    )


# --- the files ---------------------------------------------------------------------------------


def test_the_written_report_is_report_markdown_of_the_written_metrics(validated, metrics):
    """The report on disk is the metrics' report, linked relative to its folder."""
    out, report = validated
    links = {name: f"../val/{file}" for name, file in PLOTS.items()}
    links["calibration"] = Path(os.path.relpath(calibration_file(), report.parent)).as_posix()
    assert report.read_text() == report_markdown(metrics, links)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["hindcast.parquet", "metrics.json", *PLOTS.values()]
    )


def test_the_hindcast_table_has_a_row_per_ally_and_year_with_nato_where_published(validated):
    """hindcast.parquet: iso3, year, simulated and published core share."""
    table = pd.read_parquet(validated[0] / "hindcast.parquet")
    assert list(table.columns) == ["iso3", "year", "core_pct_gdp_sim", "core_pct_gdp_obs"]
    later = table[table["iso3"].isin(WITHHELD) & (table["year"] > 2014)]
    assert later["core_pct_gdp_obs"].isna().all()  # the withheld allies' paths stay withheld


# --- report_markdown ---------------------------------------------------------------------------


def test_the_report_tables_are_the_metrics(metrics):
    """Error table, counts per year, per-ally rows (worst first) and the withheld errors."""
    text = report_markdown(metrics, LINKS)
    m = metrics
    model = f"| {m['rmse_train_pp']:.2f} pp | {m['rmse_test_pp']:.2f} pp |"
    assert f"| model (calibrated defaults) {model}" in text
    assert (
        f"| persistence (2014 value) | {m['rmse_persistence_train_pp']:.2f} pp | "
        f"{m['rmse_persistence_test_pp']:.2f} pp |" in text
    )
    for year, c in m["count_ge_2pct_by_year"].items():
        cells = (year, c["obs"], c["sim"], c["published_allies"], c["sim_all_allies"])
        assert "| " + " | ".join(map(str, cells)) + " |" in text
    worst_first = sorted(m["per_ally"], key=lambda iso: -m["per_ally"][iso]["rmse_test_pp"])
    hindcast = text.split("## The 2025 step")[0]
    rows = [
        line for line in hindcast.splitlines() if line[2:5] in m["per_ally"] and line[5:8] == " | "
    ]
    assert [line[2:5] for line in rows] == worst_first
    step = text.split("## The 2025 step")[1].split("\n## ")[0]
    step_rows = [line[2:5] for line in step.splitlines() if line[5:8] == " | "]
    assert step_rows == list(m["step_2025_by_ally"]) and step_rows
    first = m["step_2025_by_ally"][step_rows[0]]
    assert (
        f"| {step_rows[0]} | {first['core_2024_obs']:.2f} | {first['core_2025_sim']:.2f} "
        f"[{first['core_2025_sim_p05']:.2f}-{first['core_2025_sim_p95']:.2f}] | "
        f"{first['core_2025_hindsight']:.2f} | {first['core_2025_obs']:.2f} | "
        f"{first['error_pp']:+.2f} |" in step
    )
    seen = m["step_2025_hindsight"]
    assert f"announced up to {seen['plans_known_by']}" in step
    assert f"RMSE {seen['rmse_2025_pp']:.2f} pp; mean change" in step
    pol = m["per_ally"]["POL"]
    assert f"| POL | {pol['rmse_train_pp']:.2f} pp | {pol['rmse_test_pp']:.2f} pp | " in text
    errors = ", ".join(
        f"{i} {e:+.2f}" for i, e in m["withheld_2025"]["error_2025_withheld_pp"].items()
    )
    assert errors + "." in text
    assert f"Generated by `alliance validate` (6 replications, seed {m['seed']})" in text


def test_the_report_links_the_images_and_the_calibration_as_given(metrics):
    """Each plot is an image at its link; the calibration file is linked by name."""
    text = report_markdown(metrics, LINKS)
    for name in PLOTS:
        assert f"]({LINKS[name]})" in text
    assert "[`scenarios/calibration.toml`](cal/calibration.toml)" in text


def test_the_report_lists_each_calibrated_parameter_with_its_prior(metrics):
    """The calibration's values beside the documented priors, and its training fit."""
    calibration = read_calibration()
    text = report_markdown(metrics, LINKS)
    for name, value in calibration["parameters"].items():
        assert f"| {name} | {value:g} | {PRIORS[name]:g} |" in text
    assert f"training RMSE {calibration['fit']['rmse_train_pp']:.4f} pp" in text
    assert f"`{calibration['command']}`" in text


def test_the_report_names_its_data_edition_and_what_it_lacks(metrics):
    """2026: its edition's title; 2025: that title, Germany without a 2025 figure, a note."""
    text = report_markdown(metrics, LINKS)
    assert EDITION_NAMES["2026"] in text and "which has no 2025 figure" not in text
    old = report_markdown(_edited(metrics, data_edition="2025"), LINKS)
    assert EDITION_NAMES["2025"] in old and "data edition `2025`" in old
    assert "and not Germany, which has no 2025 figure in this edition" in old
    assert read_calibration()["data_edition"] == "2026"
    assert "The calibration was fitted on the 2026 edition's panel, not on the 2025 edition" in old
    assert "The calibration was fitted on" not in text


# --- findings ----------------------------------------------------------------------------------


def test_findings_say_whether_the_model_beats_the_naive_forecasts(metrics):
    """'beats' only when its test RMSE is below both persistence and trend."""
    best = min(metrics["rmse_persistence_test_pp"], metrics["rmse_trend_test_pp"])
    good = _edited(metrics, rmse_test_pp=best / 2)
    bad = _edited(metrics, rmse_test_pp=best * 2)
    assert f"{best / 2:.2f} pp per ally-year, which beats carrying" in findings(good, True)
    assert "which does not beat carrying" in findings(bad, True)


def test_findings_give_the_bias_the_counts_and_the_worst_allies(metrics):
    """Sign of the bias, the 2024 counts and the three worst allies, over or under."""
    m = metrics
    text = findings(m, True)
    side = "too high" if m["bias_test_pp"] > 0 else "too low"
    assert f"{abs(m['bias_test_pp']):.2f} pp {side} in the test years" in text
    assert (
        f"puts {m['count_ge_2pct_2024_sim']} of the "
        f"{m['count_ge_2pct_by_year']['2024']['published_allies']} allies" in text
    )
    worst = sorted(m["per_ally"].items(), key=lambda kv: -kv[1]["rmse_test_pp"])[:3]
    for iso, v in worst:
        word = "over" if v["bias_test_pp"] > 0 else "under"
        assert f"{iso} ({v['rmse_test_pp']:.2f} pp, {word}-predicted by" in text
    flipped = _edited(m, bias_test_pp=-abs(m["bias_test_pp"]) - 0.01)
    assert "too low in the test years" in findings(flipped, True)


def test_findings_compare_the_withheld_allies_with_the_others(metrics):
    """'about as well as' up to 1.5 times the others' 2025 RMSE, else 'worse than'."""
    held = dict(metrics["withheld_2025"], rmse_2025_others_pp=0.4)
    close = _edited(metrics, withheld_2025=held | {"rmse_2025_withheld_pp": 0.6})
    far = _edited(metrics, withheld_2025=held | {"rmse_2025_withheld_pp": 0.61})
    assert "are predicted about as well as the others" in findings(close, True)
    assert "are predicted worse than the others" in findings(far, True)


def test_findings_mention_the_training_years_only_when_calibrated(metrics):
    """A calibrated model says it was fitted on 2015-2022 only."""
    assert findings(metrics, True).startswith("Started from 2014 and fitted on 2015-2022 only,")
    assert findings(metrics, False).startswith("Started from 2014, the model tracks")


def test_the_2025_step_with_posterior_draws_is_reported_when_run(metrics):
    """The CLI runs it with the project's posterior; without it, neither text mentions it."""
    drawn = metrics["step_2025_posterior"]
    assert drawn["posterior_train"] == "2015-2024" and drawn["allies_compared"] == 25
    text = report_markdown(metrics, LINKS)
    assert (
        "With each run's parameters drawn from the posterior (`scenarios/posterior.toml`, fitted "
        f"on 2015-2024: it knows the step's start, not 2025), as `alliance run` and `alliance "
        f"batch` forecast by default: RMSE {drawn['rmse_2025_pp']:.2f} pp; mean change "
        f"{drawn['mean_change_2025_sim_pp']:+.2f} pp simulated"
    ) in text
    assert f"it raises them by {drawn['mean_change_2025_sim_pp']:.2f} pp (RMSE" in findings(
        metrics, True
    )
    without = {k: v for k, v in metrics.items() if k != "step_2025_posterior"}
    assert "posterior" not in findings(without, True)
    assert "drawn from the posterior" not in report_markdown(without, LINKS)


def test_writing_the_report_again_keeps_its_rolling_origin_section(small, tmp_path):
    """``alliance validate`` rewrites the report but not what ``--rolling`` put in it."""
    report = tmp_path / "validation.md"
    report.write_text("# Old\n\n## Rolling-origin check\n\nkept\n\n### Scores\n\n1\n")
    write_validation(small, tmp_path / "val", report)
    text = report.read_text()
    assert text.startswith("# Validation: hindcast 2014-2024") and "# Old" not in text
    assert text.endswith("\n\n## Rolling-origin check\n\nkept\n\n### Scores\n\n1\n")
    write_validation(small, tmp_path / "val", tmp_path / "new.md")
    assert "Rolling-origin" not in (tmp_path / "new.md").read_text()


# --- plots -------------------------------------------------------------------------------------


def test_the_fit_plot_has_one_panel_per_ally_with_forces(small):
    """31 panels titled by ally, the withheld six marked, the mean, NATO's points, test years."""
    fig = plot_fit_by_ally(small)
    shown = [ax for ax in fig.axes if ax.get_visible()]
    titles = [ax.get_title(loc="left") for ax in shown]
    assert len(shown) == 32 - len(NO_FORCES)
    assert {t for t in titles if "withheld" in t} == {f"{i} (withheld 2015-24)" for i in WITHHELD}
    pol = shown[[t.split()[0] for t in titles].index("POL")]
    mean_line, dots = pol.get_lines()[:2]
    np.testing.assert_allclose(
        mean_line.get_ydata(), small.hindcast.runs.loc["POL"].mean(axis=1).to_numpy()
    )
    assert len(dots.get_xdata()) == 2025 - 2014 + 1
    (test_years,) = pol.patches  # the grey band of the test years 2023-2024
    assert (test_years.get_x(), test_years.get_x() + test_years.get_width()) == (
        TEST.start - 0.5,
        TEST.stop - 0.5,
    )


def test_the_count_plot_draws_nato_and_the_hindcast_per_year(small):
    """Published count, the hindcast on the same allies, on all allies, and NATO's 2024 count."""
    (ax,) = plot_counts(small.metrics).axes
    by_year = small.metrics["count_ge_2pct_by_year"]
    obs, sim, everyone, nato = ax.get_lines()
    assert list(obs.get_ydata()) == [c["obs"] for c in by_year.values()]
    assert list(sim.get_ydata()) == [c["sim"] for c in by_year.values()]
    assert list(everyone.get_ydata()) == [c["sim_all_allies"] for c in by_year.values()]
    assert list(nato.get_ydata()) == [small.metrics["count_ge_2pct_2024_nato_all_allies"]]
    assert "July-2026 basis" in nato.get_label()


def test_the_residual_plot_puts_each_allys_bias_against_distance_and_gdp(small):
    """Two log-scaled panels, one point and one label per ally in the metrics."""
    axes = plot_residuals(small.metrics).axes
    assert len(axes) == 2 and all(ax.get_xscale() == "log" for ax in axes)
    bias = [v["bias_test_pp"] for v in small.metrics["per_ally"].values()]
    for ax in axes:
        np.testing.assert_allclose(ax.collections[0].get_offsets()[:, 1], bias)
        assert sorted(t.get_text() for t in ax.texts) == sorted(small.metrics["per_ally"])


def test_the_step_plot_shows_the_compared_allies_only(small):
    """The 2025 step: a point per compared ally, simulated and 2024 start against NATO 2025."""
    (ax,) = plot_step_2025(small.step).axes
    compared = small.step[small.step["compared"]]
    start, simulated = ax.collections
    np.testing.assert_allclose(
        simulated.get_offsets(), compared[["core_2025_obs", "core_2025_sim"]].to_numpy()
    )
    np.testing.assert_allclose(
        start.get_offsets(), compared[["core_2025_obs", "core_2024_obs"]].to_numpy()
    )
    assert sorted(t.get_text() for t in ax.texts) == sorted(compared["iso3"])
