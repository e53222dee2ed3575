from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest
from pytest import approx

import sim.data
import sim.plans
import sim.rolling
from sim.calibration import FITTED
from sim.data import NO_FORCES, WITHHELD, load_reference
from sim.ensemble import simulate_points
from sim.initial import scenario_data
from sim.noise_fit import NOISE, fit_noise
from sim.posterior import Posterior
from sim.rolling import (
    METHODS,
    QUANTILES,
    Checkpoint,
    CheckpointError,
    baseline_samples,
    crps,
    fit_panel,
    forecast_table,
    known_data,
    known_reference,
    model_samples,
    posterior_at,
    refit,
    rolling_checks,
    rolling_origin,
    rolling_panel,
    rolling_scenario,
    rolling_steps,
    simulate_known,
    summarise,
)
from sim.rolling_report import HEADING, write_rolling
from sim.shock_volatility import gdp_volatility, shock_volatility
from sim.shocks import replication_seeds
from sim.uncertainty import run_scenarios

SEEDS = replication_seeds(5, 0, 6)


def test_crps_of_a_three_member_sample_by_hand():
    # E|X - y| - E|X - X'| / 2 with X uniform on {1, 2, 3}: E|X - X'| = 8/9.
    samples = np.array([[1.0, 2.0, 3.0]] * 3)
    got = crps(np.array([2.0, 0.0, 2.7]), samples)
    assert got == approx([2 / 3 - 4 / 9, 2 - 4 / 9, 0.9 - 4 / 9])


def test_coverage_and_crps_of_a_tiny_table_by_hand():
    # Quantiles of {1, 2, 3} (linear): 50% interval [1.5, 2.5], 90% interval [1.1, 2.9].
    iso3 = np.array(["AAA", "BBB", "CCC", "DDD", "ISL"])
    observed = pd.DataFrame(
        {2020: [1.0, 1.0, 1.0, np.nan, 1.0], 2021: [2.0, 0.0, 2.7, 2.0, 2.0]}, index=iso3
    )
    samples = np.tile([1.0, 2.0, 3.0], (5, 1, 1))
    table = forecast_table(2020, (1,), iso3, {"model": samples}, observed)
    assert table["scored"].tolist() == [True, True, True, False, False]  # no origin; no forces
    assert table[["q0.25", "q0.75", "q0.05", "q0.95"]].iloc[0].tolist() == approx(
        [1.5, 2.5, 1.1, 2.9]
    )
    row = summarise(table).iloc[0]
    assert row["n"] == 3
    assert row["coverage_50"] == approx(1 / 3)  # 2.0 only
    assert row["coverage_90"] == approx(2 / 3)  # 2.0 and 2.7
    assert row["crps"] == approx((2 / 9 + 14 / 9 + (0.9 - 4 / 9)) / 3)


def _recursion_panel(step: float) -> pd.DataFrame:
    """Three allies whose yearly change is exactly 0.1 - 0.05 level + 0.3 change + step (2022+)."""
    years = list(range(2014, 2026))
    rows = {}
    for iso, (first, second) in {"AAA": (1.0, 1.2), "BBB": (2.0, 1.9), "CCC": (1.5, 1.5)}.items():
        values = [first, second]
        for year in years[2:]:
            change = 0.1 - 0.05 * values[-1] + 0.3 * (values[-1] - values[-2])
            values.append(values[-1] + change + step * (year >= 2022))
        rows[iso] = values
    return pd.DataFrame(rows, index=years).T


def test_panel_regression_recovers_an_exact_recursion_and_its_2022_step():
    core = _recursion_panel(step=0.2)
    early, late = fit_panel(core.loc[:, :2021]), fit_panel(core.loc[:, :2023])
    assert not early.step and early.coefficients == approx((0.1, -0.05, 0.3, 0.0), abs=1e-9)
    assert late.step and late.coefficients == approx((0.1, -0.05, 0.3, 0.2), abs=1e-9)
    assert early.error_growth([1, 2]) == approx([1.0, np.sqrt(1 + 1.25**2)])
    samples = baseline_samples(core, 2023, (1, 2))["panel_regression"]
    assert samples[:, :, 0] == approx(core[[2024, 2025]].to_numpy(), abs=1e-9)
    assert np.ptp(samples, axis=-1) == approx(0.0, abs=1e-9)  # no residuals, no spread


def test_no_change_and_last_trend_on_a_tiny_panel():
    core = pd.DataFrame(
        {2014: [1.0, 2.0], 2015: [1.2, 2.0], 2016: [1.1, 2.3], 2017: [1.5, 2.2], 2018: [9.0, 9.0]},
        index=["AAA", "BBB"],
    )
    got = baseline_samples(core, 2017, (1, 2))
    changes = np.array([0.2, 0.0, -0.1, 0.3, 0.4, -0.1])
    no_change = got["no_change"]
    assert no_change.shape == (2, 2, 6)
    assert np.sort(no_change[0, 0] - 1.5) == approx(np.sort(changes - changes.mean()))
    assert no_change.mean(axis=-1) == approx(np.array([[1.5, 1.5], [2.2, 2.2]]))
    assert no_change[0, 1] - 1.5 == approx(np.sqrt(2) * (no_change[0, 0] - 1.5))
    trend = got["last_trend"]
    assert trend.mean(axis=-1) == approx(np.array([[1.9, 2.3], [2.1, 2.0]]))
    assert trend.shape[-1] == 4  # one-step errors of 2016 and 2017 for both allies
    assert trend[0, 1] - 2.3 == approx(np.sqrt(3) * (trend[0, 0] - 1.9))
    without_2018 = baseline_samples(core.drop(columns=2018), 2017, (1, 2))
    assert all(np.array_equal(got[k], without_2018[k]) for k in got)


def test_simulate_known_is_the_engine_with_the_given_start_state():
    spec = rolling_scenario(2019, 2019, 2022)
    expected = simulate_points([spec], [SEEDS], ("core_pct_gdp",), ())
    got = simulate_known(spec, scenario_data(spec), SEEDS)
    assert np.array_equal(got, expected.allies["core_pct_gdp"])
    known = known_data(spec, 2019)
    given = simulate_points([spec], [SEEDS], ("core_pct_gdp",), (), data=known)
    assert np.array_equal(simulate_known(spec, known, SEEDS), given.allies["core_pct_gdp"])
    assert not np.array_equal(got, given.allies["core_pct_gdp"])
    posterior = Posterior(
        ("adjustment_speed", "free_riding"),
        np.array([[0.1, 0.2], [0.5, 0.8], [0.3, 0.4]]),
        np.array([0.2, 0.5, 0.3]),
        {},
    )
    runs, _ = run_scenarios(spec, SEEDS, posterior)
    drawn = simulate_points(runs, [[s] for s in SEEDS], ("core_pct_gdp",), ())
    got = simulate_known(spec, scenario_data(spec), SEEDS, posterior)
    assert np.array_equal(got, drawn.allies["core_pct_gdp"])


def test_the_origin_scenario_knows_only_the_threat_and_shares_up_to_its_origin():
    early, late = rolling_scenario(2021, 2021, 2024), rolling_scenario(2023, 2023, 2026)
    assert max(early.paths["threat"]) == 2014 and early.path_value("threat", 2024) == 0.5
    assert late.path_value("threat", 2024) == 1.0
    core_2014 = load_reference().core[2014]
    for iso in WITHHELD:
        assert late.allies[iso]["core_pct_start"] == core_2014[iso]
    data = known_data(early, 2021)
    assert not data.observed_growth.any() and (data.growth == data.trend_growth).all()


def _after(panel: pd.DataFrame, origin: int, change) -> pd.DataFrame:
    later = np.asarray(panel.columns) > origin
    out = panel.copy()
    out.loc[:, later] = change(panel.loc[:, later].fillna(1.0))
    return out


def _perturbed(monkeypatch, origin: int, plan_announced: date) -> None:
    """Every reference value after ``origin`` changed, and a plan for DEU announced then."""
    ref = load_reference()
    allies = ref.allies.copy()
    for column in [c for c in allies.columns if "2024" in c or "2025" in c]:
        allies[column] = allies[column] * 1.7
    fake = replace(
        ref,
        allies=allies,
        core=_after(ref.core, origin, lambda p: p + 1.0),
        equipment=_after(ref.equipment, origin, lambda p: p * 0.5),
        personnel=_after(ref.personnel, origin, lambda p: p * 2.0),
        gdp_real=_after(ref.gdp_real, origin, lambda p: p * 1.3),
        debt=_after(ref.debt, origin, lambda p: p + 50.0),
    )
    monkeypatch.setattr(sim.data, "_load", lambda directory, edition: fake)
    plans = sim.plans.load_plans()
    extra = plans.iloc[:1].assign(iso3="DEU", year=origin + 2, core_pct_gdp=6.0)
    extra["announced"] = plan_announced
    monkeypatch.setattr(sim.plans, "load_plans", lambda path=None: pd.concat([plans, extra]))


def _forecasts(origin: int):
    known = known_reference(load_reference(), origin).core
    return model_samples(origin, (1, 2, 3), SEEDS)[1], baseline_samples(known, origin, (1, 2, 3))


def test_the_rolling_panel_is_the_published_allies_up_to_its_origin_as_known_then():
    panel = rolling_panel(2019)
    years, iso3 = list(panel.scenario.years), list(panel.data.iso3)
    assert years == list(range(2014, 2020)) and panel.scenario.parameters[NOISE] == 0.05
    assert panel.span(panel.train) == "2015-2019" and panel.span(panel.test) == "none"
    assert not panel.train[0].any()
    for iso in (*WITHHELD, *NO_FORCES):
        assert not panel.train[:, iso3.index(iso)].any()
    known = known_reference(load_reference(), 2019).core.reindex(iso3)
    assert np.array_equal(panel.observed.T, known[years].to_numpy(), equal_nan=True)
    assert panel.train[1:].sum() == 25 * 5  # the 25 published allies with forces, 2015-2019
    runs = panel.run([panel.scenario], [SEEDS])
    assert np.array_equal(runs, simulate_known(panel.scenario, panel.data, SEEDS))


def test_the_per_origin_posterior_is_fitted_on_its_years():
    posterior = posterior_at(2017, particles=20, generations=2, replications=2, seed=3)
    assert posterior.samples.shape == (20, len(FITTED)) and posterior.weights.sum() == approx(1)
    assert posterior.metadata["train"] == "2015-2017" and posterior.metadata["test"] == "none"
    assert posterior.metadata["command"] == (
        "sim.rolling.posterior_at(2017, particles=20, generations=2, replications=2, seed=3, "
        "data_edition='2026')"
    )
    assert (
        "2015-2017, wales-2014-from-2014-as-of-2017 hindcast"
        in (posterior.metadata["summary_statistics"])
    )


def test_nothing_after_the_origin_reaches_a_forecast_or_a_refit(monkeypatch):
    origin = 2019
    model, baselines = _forecasts(origin)
    one = refit(origin, ("adjustment_speed",), replications=2, generations=1, population=5)
    noise = fit_noise(origin, replications=8)
    shocks = shock_volatility(origin)
    budget = {"particles": 10, "generations": 2, "replications": 2, "seed": 3}
    posterior = posterior_at(origin, **budget)
    default_gdp = scenario_data(rolling_scenario(origin, origin, origin + 3)).gdp
    with monkeypatch.context() as m:
        _perturbed(m, origin, date(origin + 1, 1, 15))
        model_p, baselines_p = _forecasts(origin)
        one_p = refit(origin, ("adjustment_speed",), replications=2, generations=1, population=5)
        assert fit_noise(origin, replications=8) == noise
        assert shock_volatility(origin) == shocks
        posterior_p = posterior_at(origin, **budget)
        # The default start state reads GDP after its start year; the rolling one does not.
        assert not np.array_equal(
            scenario_data(rolling_scenario(origin, origin, origin + 3)).gdp, default_gdp
        )
    assert np.array_equal(model, model_p)
    assert all(np.array_equal(baselines[k], baselines_p[k], equal_nan=True) for k in baselines)
    assert one == one_p
    assert np.array_equal(posterior.samples, posterior_p.samples)
    assert np.array_equal(posterior.weights, posterior_p.weights)


def test_the_perturbation_would_show_a_plan_or_a_share_known_at_the_origin(monkeypatch):
    origin = 2019
    model, baselines = _forecasts(origin)
    gdp = gdp_volatility(origin)
    with monkeypatch.context() as m:
        _perturbed(m, origin, date(origin, 6, 1))  # the plan is now known at the origin
        assert not np.array_equal(_forecasts(origin)[0], model)
    with monkeypatch.context() as m:
        _perturbed(m, origin - 1, date(origin + 1, 1, 15))  # the origin's own shares changed
        model_p, baselines_p = _forecasts(origin)
        assert gdp_volatility(origin) != gdp  # the origin's growth moved
        assert not np.array_equal(model_p, model)
        assert not np.array_equal(baselines_p["no_change"], baselines["no_change"], equal_nan=True)


def test_rolling_origin_on_a_small_budget():
    check = rolling_origin(origins=(2021,), replications=8, seed=3)
    table = check.table
    assert set(table["method"]) == set(METHODS) and len(table) == len(METHODS) * 3 * 32
    assert {f"q{q:.2f}" for q in QUANTILES} <= set(table.columns)
    scored = table[table["scored"]]
    assert not scored["iso3"].isin([*WITHHELD, *NO_FORCES]).any()
    assert (scored.groupby(["method", "horizon"]).size() == 25).all()  # 2022-2024 published
    assert scored["crps"].gt(0).all() and table.loc[~table["scored"], "crps"].isna().all()
    model = table[table["method"] == "model"]
    assert (model["q0.05"] <= model["q0.50"]).all() and (model["q0.50"] <= model["q0.95"]).all()
    h = check.by_horizon
    assert h["n"].eq(25).all() and h[["coverage_50", "coverage_90"]].stack().between(0, 1).all()
    assert (h["coverage_90"] >= h["coverage_50"]).all()
    assert check.pooled.set_index("method").loc["model", "n"] == 75
    assert set(check.per_ally["iso3"]) == set(scored["iso3"])
    per = check.per_ally_horizon.set_index(["method", "iso3", "horizon"])
    assert per["n"].eq(1).all() and len(per) == len(METHODS) * 25 * 3
    assert per.loc[("model", "POL", 2), "crps"] == approx(
        scored.set_index(["method", "iso3", "horizon"]).loc[("model", "POL", 2), "crps"]
    )
    assert check.settings["parameters"] == "calibrated"
    posterior = Posterior(("adjustment_speed",), np.array([[0.05], [0.9]]), np.array([0.5, 0.5]))
    drawn = rolling_origin(origins=(2021,), replications=8, seed=3, posterior=posterior)
    assert drawn.settings["parameters"] == "posterior"
    assert not drawn.table["q0.50"].equals(table["q0.50"])
    with pytest.raises(ValueError, match="not both"):
        rolling_origin(origins=(2021,), posterior=posterior, parameters={2021: {}})
    with pytest.raises(ValueError, match="origin 2015"):
        rolling_origin(origins=(2015,), replications=2)


def test_rolling_checks_and_report_section(tmp_path):
    posterior = Posterior(
        ("free_riding",), np.array([[0.2], [0.7]]), np.array([0.4, 0.6]), {"train": "2015-2022"}
    )
    abc, steps = {"particles": 10, "generations": 2, "replications": 2}, []
    result = rolling_checks(
        origins=(2021,),
        replications=8,
        seed=3,
        posterior=posterior,
        fit=("adjustment_speed",),
        refit_replications=2,
        generations=1,
        population=5,
        abc=abc,
        progress=steps.append,
    )
    assert list(result.checks) == ["refit", "refit_posterior", "calibrated", "posterior"]
    sources = list(result.checks)
    assert steps == [
        "refit 2021",
        "posterior 2021, generation 1",
        "posterior 2021, generation 2",
        *(f"noise, {name}" for name in sources),
        *(f"check, {name}" for name in sources),
    ]
    assert len(steps) == rolling_steps((2021,), abc, posterior=True)
    own = result.posteriors[2021]
    assert own.metadata["train"] == "2015-2021" and len(own.weights) == 10
    assert result.checks["refit_posterior"].settings["posteriors"] == {
        2021: {"draws": 10, "date": str(own.metadata["date"]),
               "command": own.metadata["command"], "train": "2015-2021"}
    }  # fmt: skip
    shocks = shock_volatility(2021)  # every row's, and the noise is fitted with them
    assert result.noise["refit_posterior"][2021] == fit_noise(2021, shocks, own, seed=3)
    values = result.refits[2021].values
    assert list(values) == ["adjustment_speed"] and result.refits[2021].evaluations > 0
    assert result.checks["refit"].settings["refit"] == {2021: values}
    for variant, check in result.checks.items():
        fit = result.noise[variant][2021]
        assert fit.as_of == 2021 and check.settings["noise"] == {2021: fit.sd}
        assert check.settings["shocks"] == {2021: shocks}
    assert result.noise["refit"][2021] == fit_noise(2021, shocks | values, seed=3)
    report = tmp_path / "validation.md"
    report.write_text("# Validation\n\n## Findings\n\nText.\n")
    plot = tmp_path / "validation" / "reliability.png"
    write_rolling(result, report, plot, "alliance validate --rolling")
    write_rolling(result, report, plot, "alliance validate --rolling")
    text = report.read_text()
    assert text.startswith("# Validation\n\n## Findings\n\nText.\n\n" + HEADING)
    assert text.count(HEADING) == 1 and "](validation/reliability.png)" in text
    assert plot.stat().st_size > 0
    for variant in result.checks:
        pooled = result.checks[variant].pooled.set_index("method").loc["model"]
        assert f"{pooled['crps']:.3f} pp" in text
    assert "(2 draws), fitted on 2015-2022" in text


def test_a_stopped_check_resumes_from_its_checkpoint_with_the_same_numbers(tmp_path, monkeypatch):
    kept = Checkpoint(tmp_path / "rolling")
    common = {
        "origins": (2021,),
        "replications": 8,
        "seed": 3,
        "fit": ("adjustment_speed",),
        "refit_replications": 2,
        "generations": 1,
        "population": 5,
        "abc": {"particles": 10, "generations": 2, "replications": 2},
    }
    whole = rolling_checks(**common, checkpoint=kept)
    assert sorted(p.name for p in kept.folder.iterdir()) == [
        "posterior-2021.toml", "refit-2021.json", "settings.json"
    ]  # fmt: skip
    assert kept.refit(2021) == whole.refits[2021]
    # Stopped after the refit: the posterior was never written.
    (kept.folder / "posterior-2021.toml").unlink()
    with monkeypatch.context() as m:
        m.setattr(sim.rolling, "refit", lambda *a, **k: pytest.fail("refitted again"))
        steps = []
        resumed = rolling_checks(**common, checkpoint=kept, resume=True, progress=_counted(steps))
        assert sum(steps) == rolling_steps((2021,), common["abc"], posterior=False)
        m.setattr(sim.rolling, "posterior_at", lambda *a, **k: pytest.fail("fitted again"))
        again = rolling_checks(**common, checkpoint=kept, resume=True)
    assert (whole.reused, resumed.reused, again.reused) == (0, 1, 2)
    for result in (resumed, again):
        assert result.refits == whole.refits
        assert np.array_equal(result.posteriors[2021].weights, whole.posteriors[2021].weights)
        for name, check in whole.checks.items():
            pd.testing.assert_frame_equal(result.checks[name].table, check.table)
    with pytest.raises(CheckpointError, match="other seed: run without --resume"):
        rolling_checks(**{**common, "seed": 4}, checkpoint=kept, resume=True)
    (kept.folder / "posterior-2021.toml").write_text("names = [")
    with pytest.raises(CheckpointError, match=r"posterior-2021\.toml.*run without --resume"):
        rolling_checks(**common, checkpoint=kept, resume=True)
    (kept.folder / "refit-2021.json").write_text("{")
    with pytest.raises(CheckpointError, match=r"refit-2021\.json: not a refit"):
        rolling_checks(**common, checkpoint=kept, resume=True)
    kept.start({"seed": 4}, resume=False)  # afresh: the old files go
    assert [p.name for p in kept.folder.iterdir()] == ["settings.json"]


def _counted(steps: list):
    """A progress callback that records how many steps each call reports."""
    return lambda _label, n=1: steps.append(n)
