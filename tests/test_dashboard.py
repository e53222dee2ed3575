"""The numbers behind the app's views: the ally table, the heatmap matrix and the bands."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.batch import run_batch
from sim.dashboard import (
    BAND_MEASURES,
    BAND_QUANTILES,
    CATEGORY_LABELS,
    ally_table,
    fulfilment_matrix,
    uncertainty_bands,
)
from sim.model import AllianceModel
from sim.parameters import CATEGORIES
from sim.run import run_scenario
from sim.scenario import list_scenarios
from sim.shocks import run_seeds


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
    bands = uncertainty_bands(model.spec, seed=11, runs=1)
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


def test_bands_are_the_batch_a_user_runs_with_the_same_settings(tmp_path):
    """As the README says: `alliance batch SCENARIO --replications N --seed S --set ...`."""
    spec = AllianceModel("us-retrenchment", rng=1, threat_scale=1.4).spec
    bands = uncertainty_bands(spec, seed=9, runs=30)
    batch = run_batch(
        ["us-retrenchment"],
        replications=30,
        seed=9,
        executor="serial",
        out=tmp_path / "b",
        progress=False,
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
