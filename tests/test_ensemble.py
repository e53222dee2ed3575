"""The ensemble engine reproduces the Mesa model run for run."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strategies import parameter_sets

from sim.ensemble import point_tables, run_ensemble, simulate_points
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


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from([*NAMED, "adversary"]),
    sets=st.lists(parameter_sets(max_size=12), min_size=2, max_size=4),
    replications=st.integers(1, 3),
    data=st.data(),
)
def test_a_mixed_chunk_gives_exactly_each_points_own_rows(
    scenarios, name, sets, replications, data
):
    """Runs of several parameter sets advanced together: the same numbers, bit for bit, as each
    set run alone; and one of them agrees with the Mesa model."""
    base = scenarios[name]
    for params in sets:
        assume(check_parameter_set(dict(base.parameters) | params) is None)
    points = [
        replace(base.with_parameters(**params), name=f"{name}/{i}") for i, params in enumerate(sets)
    ]
    seeds = [
        data.draw(
            st.lists(
                st.integers(0, 2**63 - 1), min_size=replications, max_size=replications, unique=True
            )
        )
        for _ in points
    ]
    allies, alliance = point_tables(points, seeds)
    alone = [
        run_ensemble(point, point_seeds) for point, point_seeds in zip(points, seeds, strict=True)
    ]
    for got, name_of in ((allies, "allies"), (alliance, "alliance")):
        expected = pd.concat(
            [getattr(r, name_of).assign(scenario=r.scenario.name) for r in alone],
            ignore_index=True,
        )
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
    last = points[-1]
    mesa = run_scenario(last, seeds[-1][0])
    mixed = alliance[(alliance["scenario"] == last.name) & (alliance["seed"] == seeds[-1][0])]
    _assert_same(mesa.alliance, mixed.reset_index(drop=True))


def test_points_must_differ_in_parameters_only(scenarios):
    other = replace(scenarios["hague-2035"], end_year=2030)
    with pytest.raises(ValueError, match="more than parameters"):
        simulate_points([scenarios["hague-2035"], other], [[1], [2]])
