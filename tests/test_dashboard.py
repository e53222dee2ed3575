"""The numbers behind the app's views: tables, the heatmap, the bands, the ally view, comparison."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.batch import run_batch
from sim.dashboard import (
    BAND_MEASURES,
    BAND_QUANTILES,
    CATEGORY_LABELS,
    THIS_RUN,
    aggregates_long,
    ally_table,
    ally_view,
    band_runs_long,
    bands_long,
    category_spread,
    compare_table,
    compare_years,
    fulfilment_matrix,
    fulfilment_table,
    heatmap_long,
    run_tables,
    trajectories_long,
    uncertainty_bands,
)
from sim.dynamics import core_path
from sim.forecast import make_forecast
from sim.model import AllianceModel
from sim.parameters import CATEGORIES
from sim.posterior import PosteriorFileError, posterior_file
from sim.run import run_scenario
from sim.scenario import list_scenarios
from sim.shocks import run_seeds
from sim.uncertainty import resolve


def _model(scenario="hague-2035", seed=3, years=2):
    model = AllianceModel(scenario, rng=seed)
    if years:
        model.run_for(years)
    return model


def test_ally_table_measures_the_distance_to_each_allys_own_path():
    model = _model(years=2)  # 2027: before the 2029 review, so the path is the pledge's
    table = ally_table(model).set_index("Ally")
    s = model.initial
    for i, name in enumerate(s.names):
        if not s.has_forces[i]:
            assert name not in table.index
            continue
        b0, pledge = s.core[i], s.pledge_core[i]
        path = b0 + max(0.0, pledge - b0) * 2 / 10  # 2 of the 10 years to 2035
        row = table.loc[name]
        assert row["Path % GDP"] == pytest.approx(path)
        assert row["Core % GDP"] == pytest.approx(model.by_index[i].core_pct_gdp)
        assert row["Distance (pp)"] == pytest.approx(row["Core % GDP"] - path)
        assert row["Personnel (k)"] == pytest.approx(model.by_index[i].personnel_k)


def test_ally_table_puts_the_furthest_behind_first_and_ranks_from_one():
    table = ally_table(_model(years=4))
    assert list(table.columns) == [
        "Ally",
        "Core % GDP",
        "Path % GDP",
        "Distance (pp)",
        "Total % GDP",
        "Fulfilment %",
        "Personnel (k)",
    ]
    assert table["Distance (pp)"].is_monotonic_increasing
    assert list(table.index) == list(range(1, len(table) + 1))
    assert "Iceland" not in set(table["Ally"])  # no forces, no core spending to compare


def test_spains_opt_out_path_is_its_own_ceiling_not_natos_target():
    model = _model("spain-opt-out", years=10)  # 2035: the pledge year
    i = list(model.initial.names).index("Spain")
    spain = ally_table(model).set_index("Ally").loc["Spain"]
    b0, pledge = model.initial.core[i], 2.1 * model.review  # revised at the 2029 review
    assert spain["Path % GDP"] == pytest.approx(b0 + max(0.0, pledge - b0))
    assert spain["Path % GDP"] < 3.0


def test_fulfilment_matrix_is_allies_with_forces_by_category_in_the_current_year():
    model = _model(years=5)
    matrix = fulfilment_matrix(model)
    with_forces = [a for a in model.by_index if a.has_forces]
    assert matrix.shape == (len(with_forces), len(CATEGORIES))
    assert list(matrix.columns) == [CATEGORY_LABELS[c] for c in CATEGORIES]
    germany = next(a for a in with_forces if a.name == "Germany")
    assert matrix.loc["Germany"].to_numpy() == pytest.approx(
        [getattr(germany, f"fulfil_{c}") for c in CATEGORIES]
    )
    overall = [next(a for a in with_forces if a.name == n).fulfil_overall for n in matrix.index]
    assert overall == sorted(overall)
    assert ((matrix >= 0) & (matrix <= 1)).all().all()


def test_one_replication_band_is_that_run_of_the_mesa_model():
    model = _model(years=0)
    bands = uncertainty_bands(model.spec, seed=11, runs=1, uncertainty="shocks")
    seed = run_seeds(11, 1, 1)[0][0][0]
    run = run_scenario(model.spec, seed).alliance.set_index("year")
    for measure in BAND_MEASURES:
        for q in BAND_QUANTILES:
            np.testing.assert_allclose(bands.quantiles[(measure, q)], run[measure], atol=1e-9)


def test_bands_are_ordered_and_reproducible():
    spec = _model("us-retrenchment", years=0).spec
    a = uncertainty_bands(spec, seed=5, runs=50)
    b = uncertainty_bands(spec, seed=5, runs=50)
    assert a.quantiles.equals(b.quantiles)
    assert list(a.quantiles.index) == list(spec.years)
    low, mid, high = BAND_QUANTILES
    for measure in BAND_MEASURES:
        assert (a.quantiles[(measure, low)] <= a.quantiles[(measure, mid)]).all()
        assert (a.quantiles[(measure, mid)] <= a.quantiles[(measure, high)]).all()
    assert not a.quantiles.equals(uncertainty_bands(spec, seed=6, runs=50).quantiles)


@pytest.mark.parametrize("uncertainty", ["shocks", "posterior"])
def test_bands_are_the_batch_a_user_runs_with_the_same_settings(tmp_path, uncertainty):
    """As the README says: `alliance batch SCENARIO --replications N --seed S --set ...`."""
    spec = AllianceModel("us-retrenchment", rng=1, threat_scale=1.4).spec
    bands = uncertainty_bands(spec, seed=9, runs=30, uncertainty=uncertainty)
    assert bands.uncertainty == uncertainty
    batch = run_batch(
        ["us-retrenchment"],
        replications=30,
        seed=9,
        executor="serial",
        out=tmp_path / "b",
        progress=False,
        uncertainty=uncertainty,
        threat_scale=1.4,
    )
    grouped = batch.alliance.groupby("year")[list(BAND_MEASURES)]
    expected = grouped.quantile(list(BAND_QUANTILES)).unstack()
    np.testing.assert_allclose(bands.quantiles.to_numpy(), expected.to_numpy(), atol=1e-12)


def test_bands_need_at_least_one_run():
    with pytest.raises(ValueError, match="at least 1"):
        uncertainty_bands(_model(years=0).spec, seed=1, runs=0)


@settings(max_examples=15, deadline=None)
@given(
    scenario=st.sampled_from([name for name, _ in list_scenarios()]),
    seed=st.integers(0, 2**32 - 1),
    years=st.integers(0, 12),
)
def test_views_stay_in_range_whatever_the_scenario_and_year(scenario, seed, years):
    model = _model(scenario, seed, years)  # past the end year the model stays where it ended
    assert model.year == min(model.spec.start_year + years, model.spec.end_year)
    table = ally_table(model)
    assert (table.drop(columns=["Ally", "Distance (pp)"]) >= 0).all().all()
    assert np.allclose(table["Distance (pp)"], table["Core % GDP"] - table["Path % GDP"])
    assert (table["Total % GDP"] >= table["Core % GDP"] - 1e-12).all()
    matrix = fulfilment_matrix(model).to_numpy()
    assert ((matrix >= 0) & (matrix <= 1)).all()


def test_bands_are_the_forecast_alliance_run_prints_with_the_posterior_by_default():
    spec = _model("us-retrenchment", years=0).spec
    bands = uncertainty_bands(spec, seed=4, runs=40)
    assert posterior_file().exists() and bands.uncertainty == "posterior"
    assert bands.description == "bands: parameter draws from the posterior and shocks, 40 runs"
    _, posterior = resolve(None)
    forecast = make_forecast(spec, 4, 40, posterior)
    assert bands.forecast.alliance.equals(forecast.alliance)
    assert bands.forecast.allies.equals(forecast.allies)
    for measure in BAND_MEASURES:
        for q in BAND_QUANTILES:
            rows = forecast.alliance[forecast.alliance["quantile"] == q].set_index("year")
            np.testing.assert_array_equal(bands.quantiles[(measure, q)], rows[measure])
    shocks = uncertainty_bands(spec, seed=4, runs=40, uncertainty="shocks")
    assert shocks.description == "bands: shocks only, 40 runs"
    assert not shocks.quantiles.equals(bands.quantiles)


def test_long_tables_carry_each_runs_values_in_the_charts_units():
    model = _model("us-retrenchment", years=3)
    allies, alliance = run_tables(model)
    other = run_scenario("hague-2035", 3)
    runs = {THIS_RUN: alliance, "hague-2035 (compare)": other.alliance}
    long = aggregates_long(runs)
    assert set(long["run"]) == set(runs)
    gap = long[(long["run"] == THIS_RUN) & (long["series"] == "capability gap")]
    np.testing.assert_allclose(gap["value"], 100 * alliance["capability_gap"])
    counts = long[(long["run"] == THIS_RUN) & (long["series"] == ">= 3.5% core")]
    np.testing.assert_array_equal(counts["value"], alliance["allies_ge_3_5pct_core"])
    traj = trajectories_long({THIS_RUN: allies})
    np.testing.assert_allclose(traj["fulfil"], 100 * allies["fulfil_overall"])
    assert list(traj.columns) == ["run", "name", "year", "core", "total", "fulfil"]
    bands = uncertainty_bands(model.spec, 3, 20)
    wide = bands_long(bands)
    assert (wide["low"] <= wide["median"]).all() and (wide["median"] <= wide["high"]).all()
    assert set(band_runs_long(runs)["measure"]) == set(BAND_MEASURES.values())


def test_heatmap_tables_from_a_model_and_from_a_runs_table_agree():
    model = _model(years=6)
    allies, _ = run_tables(model)
    matrix = fulfilment_matrix(model)
    table = fulfilment_table(allies, model.year).loc[matrix.index]
    np.testing.assert_allclose(table.to_numpy(), matrix.to_numpy())
    long = heatmap_long({THIS_RUN: matrix})
    assert len(long) == matrix.size
    spread = category_spread(matrix)
    assert spread == pytest.approx(100 * (matrix.max(axis=1) - matrix.min(axis=1)).max())
    assert spread > 1  # the categories differ: the heatmap has something to show


def test_the_ally_view_reads_the_models_plan_pledge_path_goal_and_the_forecast():
    model = _model("hague-2035", years=4)
    allies, _ = run_tables(model)
    bands = uncertainty_bands(model.spec, model.seed, 30)
    view = ally_view(model, "Germany", {THIS_RUN: allies}, bands.forecast)
    s, i = model.initial, list(model.initial.names).index("Germany")
    assert view.has_plan and view.personnel_goal == pytest.approx(s.personnel_goal[i])
    spending = view.spending
    plan = spending[spending["series"] == "national plan"]
    assert plan["year"].iloc[0] == model.spec.start_year
    assert plan["value"].iloc[0] == pytest.approx(s.core[i])  # the plan starts from the data
    planned = s.plan[:, i]
    np.testing.assert_allclose(plan["value"].iloc[1:], planned[~np.isnan(planned)])
    path = spending[spending["series"] == "pledge path"].set_index("year")["value"]
    for year in (2026, 2030, 2035):
        assert path[year] == pytest.approx(core_path(year, s, model.spec, model.review)[i])
    core = spending[spending["series"] == "core"]
    assert list(core["year"]) == list(range(2025, model.year + 1))
    q = bands.forecast.allies
    row = q[(q["name"] == "Germany") & (q["year"] == 2035) & (q["quantile"] == 0.95)]
    band = view.band[(view.band["series"] == "core") & (view.band["year"] == 2035)]
    assert band["high"].iloc[0] == pytest.approx(row["core_pct_gdp"].iloc[0])
    assert set(view.categories["category"]) == set(CATEGORY_LABELS.values())
    np.testing.assert_allclose(
        view.personnel["value"], allies.loc[allies["name"] == "Germany", "personnel_k"]
    )
    assert ally_view(model, "Germany", {THIS_RUN: allies}).band.empty  # no forecast, no band
    with pytest.raises(KeyError, match="Atlantis"):
        ally_view(model, "Atlantis", {THIS_RUN: allies})


def test_compare_table_differences_are_this_run_minus_the_other():
    this = run_scenario("us-retrenchment", 2).allies
    other = run_scenario("hague-2035", 2).allies
    assert compare_years(this, other) == [2030, 2035]
    table = compare_table(this, other, "hague-2035")
    assert len(table) == 32
    a = this[this["year"] == 2035].set_index("name")
    b = other[other["year"] == 2035].set_index("name")
    row = table.set_index("Ally").loc["Germany"]
    assert row["Core 2035"] == pytest.approx(a.at["Germany", "core_pct_gdp"])
    assert row["Core 2035 hague-2035"] == pytest.approx(b.at["Germany", "core_pct_gdp"])
    diff = a.at["Germany", "total_pct_gdp"] - b.at["Germany", "total_pct_gdp"]
    assert row["Total diff 2035 (pp)"] == pytest.approx(diff)
    np.testing.assert_allclose(
        table["Core diff 2030 (pp)"], table["Core 2030"] - table["Core 2030 hague-2035"]
    )
    hindcast = run_scenario("wales-2014", 2).allies  # 2014-2025: shares no 2030
    assert compare_years(hindcast, other) == [2025]


def test_an_unusable_default_posterior_gives_shocks_and_says_why(monkeypatch):
    import sim.uncertainty

    def unusable(path=None):
        raise PosteriorFileError("posterior.toml", "samples", "not a table")

    monkeypatch.setattr(sim.uncertainty, "read_posterior", unusable)
    spec = _model(years=0).spec
    bands = uncertainty_bands(spec, seed=2, runs=10)
    assert bands.uncertainty == "shocks"
    assert bands.description == (
        "bands: shocks only, 10 runs (the posterior file is unusable:"
        " posterior.toml: samples: not a table)"
    )
    assert bands.quantiles.equals(uncertainty_bands(spec, 2, 10, "shocks").quantiles)
    with pytest.raises(PosteriorFileError):
        uncertainty_bands(spec, seed=2, runs=10, uncertainty="posterior")
