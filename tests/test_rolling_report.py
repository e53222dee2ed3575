"""sim.rolling_report: the rolling-origin section, its tables and plot, from hand-made scores."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from sim.noise_fit import NoiseFit
from sim.parameters import DEFAULTS
from sim.posterior import Posterior
from sim.rolling import (
    Refit,
    RollingCheck,
    RollingChecks,
    forecast_table,
)
from sim.rolling_report import (
    HEADING,
    current_section,
    findings,
    format_rolling,
    plot_reliability,
    replace_section,
    section_markdown,
    write_rolling,
)


def test_replace_section_keeps_the_rest_of_the_report():
    text = f"# T\n\n## A\n\na\n\n{HEADING}\n\nold\n\n## B\n\nb\n"
    new = replace_section(text, f"{HEADING}\n\nnew\n")
    assert new == f"# T\n\n## A\n\na\n\n{HEADING}\n\nnew\n\n## B\n\nb\n"
    assert current_section(new) == f"{HEADING}\n\nnew\n"
    assert current_section(f"# T\n\n{HEADING}\n\n### sub\n\nx\n\n") == (
        f"{HEADING}\n\n### sub\n\nx\n"
    )
    assert current_section("# T\n\n## A\n") is None
    assert replace_section("# T\n", f"{HEADING}\n\nx\n") == f"# T\n\n{HEADING}\n\nx\n"
    assert replace_section("\n", f"{HEADING}\n\nx\n") == f"{HEADING}\n\nx\n"


# --- a hand-made check: one origin, two horizons, three scored allies ----------------------------
# Observed core % GDP; ISL has no forces, so it is forecast but never scored.
ISO3 = np.array(["AAA", "BBB", "CCC", "ISL"])
OBSERVED = pd.DataFrame(
    {2021: [1.0, 1.0, 1.0, 1.0], 2022: [2.0, 0.0, 2.7, 1.0], 2023: [2.0, 2.0, 4.0, 1.0]},
    index=ISO3,
)


def _constant(values_h1, values_h2) -> np.ndarray:
    """Samples (allies, horizons, 3 members) equal to one value per ally and horizon."""
    per = np.column_stack([np.broadcast_to(values_h1, 4), np.broadcast_to(values_h2, 4)])
    return np.repeat(per[:, :, None], 3, axis=2).astype(float)


def _check(model: np.ndarray, posterior: dict | None = None) -> RollingCheck:
    forecasts = {
        "model": model,
        "no_change": _constant(2.1, [2.0, 2.0, 4.0, 1.0]),  # exact at horizon 2
        "last_trend": _constant(1.0, 1.0),
        "panel_regression": _constant(10.0, 10.0),
    }
    table = forecast_table(2021, (1, 2), ISO3, forecasts, OBSERVED)
    settings = {
        "origins": [2021],
        "horizons": [1, 2],
        "replications": 3,
        "seed": 3,
        "data_edition": "test-edition",
        "shocks": {2021: {"threat_noise_sd": 0.1061, "gdp_growth_noise_sd": 0.0367}},
    }
    if posterior is not None:
        settings["posterior"] = posterior
    return RollingCheck.scored(table, settings)


def _noise(sd: float) -> dict[int, NoiseFit]:
    fit = NoiseFit(
        sd, 2021, {1: 20, 2: 18}, {1: 0.25, 2: 0.4}, {1: 0.1, 2: 0.2}, {1: 1, 2: 2}, 8, 3
    )
    return {2021: fit}


# A posterior fitted at 2021: adjustment_speed 0.1 (weight 0.25) or 0.3; free_riding 0.5 or 0.9.
ORIGIN_POSTERIOR = Posterior(
    ("adjustment_speed", "free_riding"),
    np.array([[0.1, 0.5], [0.3, 0.9]]),
    np.array([0.25, 0.75]),
    {"schedule": {"selected_generation": 1, "epsilon_pp": [0.3, 0.2, 0.1],
                  "within_noise": [0.1, 0.6, 0.9]}},
)  # fmt: skip


def result(with_posterior: bool = False, per_origin: bool = False) -> RollingChecks:
    """The refitted model forecasts {1, 2, 3} everywhere; the calibrated one 2.0 exactly.

    With ``per_origin``, the per-origin posterior's model forecasts 2.0 exactly too.
    """
    checks = {"refit": _check(np.tile([1.0, 2.0, 3.0], (4, 2, 1)))}
    noise = {"refit": _noise(0.3)}
    if per_origin:
        checks["refit_posterior"] = _check(_constant(2.0, 2.0))
        noise["refit_posterior"] = _noise(0.35)
    checks["calibrated"] = _check(_constant(2.0, 2.0))
    noise["calibrated"] = _noise(0.45)
    if with_posterior:
        about = {"draws": 2, "command": "alliance calibrate --method abc", "train": "2015-2022"}
        checks["posterior"] = _check(np.tile([1.0, 3.0, 5.0], (4, 2, 1)), about)
        noise["posterior"] = _noise(0.5)
    refits = {2021: Refit(2021, {"adjustment_speed": 0.1234}, 0.456, 10)}
    budget = {"replications": 2, "generations": 1, "population": 5}
    if not per_origin:
        return RollingChecks(checks, refits, noise, budget, 12.0)
    abc = {"particles": 2, "generations": 3, "replications": 4}
    return RollingChecks(checks, refits, noise, budget, 12.0, {2021: ORIGIN_POSTERIOR}, abc)


# By hand (CRPS of {1, 2, 3} against y: E|X - y| - 4/9; of a constant c: |c - y|):
# refit model, horizon 1 (y = 2, 0, 2.7): 2/9, 14/9, 0.9 - 4/9, mean 0.744; 50% interval
#   [1.5, 2.5] covers 2.0 only, 90% interval [1.1, 2.9] covers 2.0 and 2.7
# refit model, horizon 2 (y = 2, 2, 4): 2/9, 2/9, 14/9, mean 2/3; both intervals cover 2.0 twice
# pooled: 6 ally-years, 50% covers 3, 90% covers 4, CRPS (12/9 + 0.9 + 2) / 6 = 0.706
# no change: 2.1 then exact: (0.1 + 2.1 + 0.6 + 0) / 6 = 0.467; last trend 1.0: 8.7 / 6 = 1.45;
#   panel regression 10.0: 47.3 / 6 = 7.883; calibrated 2.0: (0 + 2 + 0.7 + 0 + 0 + 2) / 6 = 0.783
def test_findings_read_the_pooled_and_per_horizon_scores():
    text = findings(result())
    assert text.startswith(
        "From origins 2021, with its parameters refitted on the years up to each origin, the "
        "model's 90% intervals cover 67% of the 6 scored ally-years (horizons pooled; the issue's "
        "target is 80-97%: too narrow) and its 50% intervals 50% (target 40-60%: within). "
        "Its CRPS, 0.706 pp, is lower than last trend, panel regression but not no change "
        "(0.467 pp (no change), 1.450 pp (last trend), 7.883 pp (panel regression)); "
        "it beats every baseline at horizon 1. "
    )
    assert "the CRPS is 0.783 pp and the 90% and 50% intervals cover 50% and 50%." in text
    assert (  # 4.0 above [1.1, 2.9] at horizon 2, 0.0 below it at horizon 1
        "Misses of the 90% interval: 1 above it (a published share higher than forecast), "
        "1 below it." in text
    )
    assert "posterior" not in text
    with_posterior = findings(result(with_posterior=True))
    # {1, 3, 5}: 50% interval [2, 4] and 90% interval [1.2, 4.8] cover all but 0.0; CRPS:
    # mean E|X - y| - 8/9 = (5/3 + 3 + 4.3/3 + 5/3 + 5/3 + 5/3) / 6 - 8/9 = 0.961
    assert (
        "With parameters drawn from the posterior (fitted on 2015-2022), the 90% and 50% "
        "intervals cover 83% and 83% and the CRPS is 0.961 pp."
    ) in with_posterior


def test_the_section_tables_hold_the_hand_computed_scores():
    text = section_markdown(result(), "validation/reliability.png", "alliance validate --rolling")
    lines = text.splitlines()
    assert lines[0] == HEADING
    assert lines[2].startswith(
        "Generated by `alliance validate --rolling` (3 runs per origin, seed 3, data edition "
        "`test-edition`; about 12 s)"
    )
    h1 = lines.index("Horizon 1:")
    assert lines[h1 + 4 : h1 + 10] == [
        "| model, refitted per origin | 3 | 33% | 67% | 0.744 pp |",
        "| model, calibrated on 2015-2022 | 3 | 33% | 33% | 0.900 pp |",
        "| no change | 3 | 0% | 0% | 0.933 pp |",
        "| last trend | 3 | 0% | 0% | 1.233 pp |",
        "| panel regression | 3 | 0% | 0% | 8.433 pp |",
        "",
    ]
    h2 = lines.index("Horizon 2:")
    assert lines[h2 + 4 : h2 + 6] == [
        "| model, refitted per origin | 3 | 67% | 67% | 0.667 pp |",
        "| model, calibrated on 2015-2022 | 3 | 67% | 67% | 0.667 pp |",
    ]
    assert lines[h2 + 6] == "| no change | 3 | 100% | 100% | 0.000 pp |"
    pooled = lines.index("Horizons pooled:")
    assert lines[pooled + 4] == "| model, refitted per origin | 6 | 50% | 67% | 0.706 pp |"
    assert "| forecast | from 2021 |" in lines
    assert "| model, refitted per origin | 50% / 67% / 0.706 |" in lines
    assert "| no change | 50% / 50% / 0.467 |" in lines
    assert "![Reliability: nominal against observed coverage](validation/reliability.png)" in lines
    # refits and noise
    assert "| parameter | fitted 2015-2021 | calibrated 2015-2022 |" in lines
    assert f"| adjustment_speed | 0.1234 | {DEFAULTS['adjustment_speed']:.4g} |" in lines
    assert "| hindcast RMSE over the years fitted | 0.456 pp | |" in lines
    assert "| model, refitted per origin | 0.300 pp |" in lines
    assert "| model, calibrated on 2015-2022 | 0.450 pp |" in lines
    assert "| RMSE of the refitted model's forecasts (pp) | h1 0.25, h2 0.40 |" in lines
    # sqrt(v0 + g s^2) at s = 0.3: sqrt(0.01 + 0.09) and sqrt(0.04 + 2 x 0.09)
    assert "| their spread at the fitted noise (pp) | h1 0.32, h2 0.47 |" in lines
    assert "| ally-forecasts fitted | 38 |" in lines
    assert "| threat innovation sd (threat units), every row | 0.1061 |" in lines
    assert "| GDP growth sd around trend, every row | 0.0367 |" in lines
    # per ally, worst model CRPS first; ISL (no forces) never appears
    ally = lines.index("### Per ally (model, refitted per origin, horizons pooled; CRPS in pp)")
    assert lines[ally + 4 :] == [
        "| CCC | 2 | 1.006 | 0.300 | 2.350 | 6.650 | 0% | 50% |",
        "| BBB | 2 | 0.889 | 1.050 | 1.000 | 9.000 | 50% | 50% |",
        "| AAA | 2 | 0.222 | 0.050 | 1.000 | 8.000 | 100% | 100% |",
    ]
    assert "ISL |" not in text and "posterior" not in text


def test_the_section_names_the_posterior_rows_and_their_leak():
    text = section_markdown(result(with_posterior=True), "r.png", "alliance validate --rolling")
    assert (
        "The posterior rows draw each run's parameters from `scenarios/posterior.toml` "
        "(2 draws, `alliance calibrate --method abc`), fitted on 2015-2022, after the origins: "
        "it knows years it forecasts."
    ) in text
    assert "| model, posterior draws | 0.500 pp |" in text.splitlines()
    assert sum(line.startswith("| model, posterior draws | ") for line in text.splitlines()) == 5


def test_plot_reliability_draws_observed_against_nominal_coverage():
    checks = result()
    fig = plot_reliability(checks)
    pooled, h1, h2 = fig.axes
    assert [ax.get_title() for ax in fig.axes] == [
        "horizons pooled",
        "horizon 1 year",
        "horizon 2 years",
    ]
    labels = [line.get_label() for line in pooled.get_lines()][:5]
    assert labels == [
        "model, refitted per origin",
        "model, calibrated on 2015-2022",
        "no change",
        "last trend",
        "panel regression",
    ]
    model = pooled.get_lines()[0]
    assert model.get_xdata().tolist() == pytest.approx(
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    )
    # 2.0 (3 times) is in every central interval of {1, 2, 3}; 2.7 from 80% on; 0, 4 never
    y = model.get_ydata()
    assert y[0] == pytest.approx(3 / 6) and y[-1] == pytest.approx(4 / 6)
    # horizon 1 alone: 2.0 at every level, 2.7 from 80% on
    h1_model = h1.get_lines()[0].get_ydata()
    assert h1_model[0] == pytest.approx(1 / 3) and h1_model[-1] == pytest.approx(2 / 3)
    # horizon 2 alone: 2.0 twice of three, at every level
    assert h2.get_lines()[0].get_ydata().tolist() == pytest.approx([2 / 3] * 9)
    # no change at horizon 2 is exact: covered at every level
    assert h2.get_lines()[2].get_ydata().tolist() == pytest.approx([1.0] * 9)


def test_write_rolling_creates_a_missing_report_and_links_the_plot(tmp_path):
    report = tmp_path / "docs" / "validation.md"
    report.parent.mkdir()
    plot = tmp_path / "docs" / "validation" / "reliability.png"
    write_rolling(result(), report, plot, "alliance validate --rolling")
    assert plot.stat().st_size > 0
    expected = section_markdown(
        result(), "validation/reliability.png", "alliance validate --rolling"
    )
    assert report.read_text() == expected


def test_format_rolling_prints_the_refitted_models_pooled_scores_and_the_files(tmp_path):
    checks = result()
    lines = format_rolling(checks, tmp_path / "v.md", tmp_path / "r.png").splitlines()
    assert lines[0] == "model, refitted per origin, horizons pooled:"
    assert lines[1:-1] == checks.checks["refit"].pooled.to_string().splitlines()
    assert (
        lines[-1]
        == f"Written: {tmp_path / 'v.md'} (section 'Rolling-origin check') and {tmp_path / 'r.png'}"
    )


def test_findings_lead_with_the_per_origin_posterior_when_fitted():
    text = findings(result(per_origin=True))
    # The per-origin posterior's model forecasts 2.0: the calibrated row's scores.
    assert text.startswith(
        "From origins 2021, with each run's parameters drawn from a posterior fitted on the years "
        "up to its origin, the model's 90% intervals cover 50% of the 6 scored ally-years"
    )
    assert "Its CRPS, 0.783 pp," in text
    assert (
        "With one parameter set refitted per origin instead (differential evolution), the 90% "
        "and 50% intervals cover 67% and 50% and the CRPS is 0.706 pp."
    ) in text


def test_the_section_tables_the_per_origin_posteriors():
    text = section_markdown(result(per_origin=True), "r.png", "alliance validate --rolling")
    lines = text.splitlines()
    assert "about 12 s), which rewrites" in lines[2]
    resumed = section_markdown(replace(result(per_origin=True), reused=2), "r.png", "cmd")
    assert (
        "about 12 s, reusing 2 refits and posteriors kept by an earlier run (--resume))" in resumed
    )
    assert (
        "The rows 'posterior fitted per origin' draw each run's parameters from a posterior "
        "fitted for its origin on 2015-o by the calibration's ABC-SMC (`sim/abc.py`; 2 "
        "particles, 3 generations, 4 replications per particle;"
    ) in text
    table = lines.index("### Posteriors fitted per origin")
    # Weighted 5% and 95% quantiles (inverted CDF): the lighter value, then the heavier one.
    assert lines[table + 4 : table + 10] == [
        "| parameter | prior | fitted 2015-2021 |",
        "|---|---|---:|",
        "| adjustment_speed | 0.05-1 | 0.1-0.3 (0.23) |",
        "| free_riding | 0-1 | 0.5-0.9 (0.44) |",
        "| generation kept | | 2 of 3, 0.60 within noise |",
        "| parameters at most half the prior's width | | 2 |",
    ]
    assert "| model, posterior fitted per origin | 0.350 pp |" in lines
    assert "### Per ally (model, posterior fitted per origin, horizons pooled; CRPS in pp)" in lines
