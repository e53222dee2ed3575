"""The ensemble engine reproduces the Mesa model run for run."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strategies import parameter_sets

from sim.ensemble import run_ensemble
from sim.parameters import check_parameter_set
from sim.run import run_scenario
from sim.scenario import list_scenarios, load_scenario

NAMED = [name for name, _ in list_scenarios()]
ADVERSARY = 'base = "hague-2035"\ndescription = "endogenous threat"\nthreat_mode = "adversary"\n'


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory):
    """Every named scenario plus one with the endogenous (Richardson) threat."""
    path = tmp_path_factory.mktemp("adv") / "adversary.toml"
    path.write_text(ADVERSARY)
    return {name: load_scenario(name) for name in NAMED} | {"adversary": load_scenario(path)}


def _assert_same(mesa: pd.DataFrame, ensemble: pd.DataFrame) -> None:
    assert list(mesa.columns) == list(ensemble.columns)
    assert (mesa.dtypes == ensemble.dtypes).all()
    numbers = mesa.select_dtypes("number").columns
    keys = mesa.columns.difference(numbers)
    pd.testing.assert_frame_equal(mesa[keys], ensemble[keys])
    np.testing.assert_allclose(
        ensemble[numbers].to_numpy(float), mesa[numbers].to_numpy(float), rtol=1e-9, atol=1e-9
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from([*NAMED, "adversary"]),
    params=parameter_sets(max_size=15),
    seeds=st.lists(st.integers(0, 2**63 - 1), min_size=1, max_size=3, unique=True),
)
def test_ensemble_equals_mesa_for_any_scenario_parameters_and_seeds(scenarios, name, params, seeds):
    """Same (scenario, parameters, seed): same tables to 1e-9, every run of the ensemble."""
    spec = scenarios[name]
    assume(check_parameter_set(dict(spec.parameters) | params) is None)
    spec = spec.with_parameters(**params)
    ensemble = run_ensemble(spec, seeds)
    for seed in seeds:
        mesa = run_scenario(spec, seed)
        _assert_same(
            mesa.allies, ensemble.allies[ensemble.allies["seed"] == seed].reset_index(drop=True)
        )
        _assert_same(
            mesa.alliance,
            ensemble.alliance[ensemble.alliance["seed"] == seed].reset_index(drop=True),
        )


def test_a_run_does_not_depend_on_the_others_in_its_ensemble():
    """Run r's numbers are the same alone and among 50 others (chunking cannot change results)."""
    many = run_ensemble("hague-2035", range(50))
    alone = run_ensemble("hague-2035", [17])
    pd.testing.assert_frame_equal(
        many.allies[many.allies["seed"] == 17].reset_index(drop=True),
        alone.allies,
        check_exact=True,
    )
    pd.testing.assert_frame_equal(
        many.alliance[many.alliance["seed"] == 17].reset_index(drop=True),
        alone.alliance,
        check_exact=True,
    )


def test_rows_are_ordered_by_run_year_ally():
    """Rows run by seed order, then year, then ally (as each Mesa run's table)."""
    r = run_ensemble("wales-2014", [5, 3])
    assert r.allies["seed"].tolist() == [5] * 32 * 12 + [3] * 32 * 12
    assert r.allies["year"].iloc[:33].tolist() == [2014] * 32 + [2015]
    assert r.alliance["year"].tolist() == list(range(2014, 2026)) * 2


def test_parameters_and_bad_input():
    """Keyword parameters are applied and validated; no seeds is an error."""
    low = run_ensemble("hague-2035", [1], threat_response_pp=0.0).alliance
    high = run_ensemble("hague-2035", [1], threat_response_pp=6.0).alliance
    assert high["mean_core_pct_gdp"].iloc[-1] > low["mean_core_pct_gdp"].iloc[-1]
    with pytest.raises(ValueError, match="at least one seed"):
        run_ensemble("hague-2035", [])
    with pytest.raises(Exception, match="threat_response_pp"):
        run_ensemble("hague-2035", [1], threat_response_pp=-1.0)
