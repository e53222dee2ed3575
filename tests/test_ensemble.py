"""The ensemble engine reproduces the Mesa model run for run."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strategies import parameter_sets

from sim.ensemble import point_tables, run_ensemble, simulate_points
from sim.parameters import CATEGORIES, check_parameter_set
from sim.run import run_scenario
from sim.scenario import list_scenarios, load_scenario
from sim.shocks import draw_shocks, point_seeds, points_seeds, replication_seeds, stack_shocks

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


@pytest.mark.parametrize("leads", [(8, 8, 8, 8, 8), (1, 8, 3, 5, 2)])
def test_any_lead_times_give_the_mesa_numbers_bit_for_bit(scenarios, leads):
    """The ensemble stores the pipeline lead years first; the numbers stay the Mesa model's,
    bit for bit, also where its lead-time sum has 8 terms (NumPy sums those pairwise)."""
    spec = scenarios["hague-2035"].with_parameters(
        **{f"lead_time_{c}": lead for c, lead in zip(CATEGORIES, leads, strict=True)}
    )
    ensemble = run_ensemble(spec, [3, 2**62])
    for seed in (3, 2**62):
        mesa = run_scenario(spec, seed)
        for name in ("allies", "alliance"):
            got = getattr(ensemble, name)
            got = got[got["seed"] == seed].reset_index(drop=True)
            pd.testing.assert_frame_equal(got, getattr(mesa, name), check_exact=True)


EDGE_SEEDS = [0, 1, 2**32 - 1, 2**32, 2**63 - 1, 2**64 - 1, 2**64, 2**127 + 5, 2**128 - 1, 2**128]
"""Seeds at the edges of NumPy's 32-bit entropy words (2**128 and up take NumPy's own path)."""


def _spawned(seed: int, index: int, replications: int) -> list[int]:
    """Each replication's seed as NumPy spawns it: the first 63 bits of the child's state."""
    children = np.random.SeedSequence(seed, spawn_key=(index,)).spawn(replications)
    return [int(child.generate_state(1, np.uint64)[0] >> 1) for child in children]


@pytest.mark.parametrize("seed", EDGE_SEEDS)
def test_a_chunks_seeds_are_those_numpy_spawns(seed):
    """Seeds computed for many runs at once are ``SeedSequence.spawn``'s, keys included."""
    indices = [0, 1, 7, 99_999, 2**32 - 1]
    got = points_seeds(seed, indices, 20)
    assert got.dtype == np.int64 and got.shape == (5, 20)
    assert got.tolist() == [_spawned(seed, i, 20) for i in indices]
    assert point_seeds(seed, 12, 3) == [(s, (12, r)) for r, s in enumerate(_spawned(seed, 12, 3))]
    assert replication_seeds(seed, 2**32, 20) == _spawned(seed, 2**32, 20)  # NumPy's own path


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**130),
    indices=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=5),
    replications=st.integers(0, 40),
)
def test_seeds_are_numpys_for_any_root_points_and_replications(seed, indices, replications):
    """Whichever path a call takes (arrays, or NumPy's for few runs and large seeds)."""
    got = points_seeds(seed, indices, replications)
    assert got.tolist() == [_spawned(seed, i, replications) for i in indices]


def test_bad_seeds_are_refused_as_numpy_refuses_them():
    with pytest.raises(ValueError):
        replication_seeds(-1, 0, 20)
    with pytest.raises(ValueError):
        points_seeds(5, [-1], 20)
    with pytest.raises(ValueError):
        stack_shocks([3, -1], 2, 2)


@settings(max_examples=40, deadline=None)
@given(seeds=st.lists(st.integers(0, 2**65), min_size=1, max_size=30))
def test_each_runs_generator_is_default_rng_of_its_seed(seeds):
    """A chunk's runs draw exactly what ``default_rng(seed)`` draws, as the Mesa model does."""
    stacked = stack_shocks(seeds, 3, 4)
    for r, seed in enumerate(seeds):
        alone = draw_shocks(np.random.default_rng(seed), 3, 4)
        for name in ("threat", "spending", "gdp"):
            np.testing.assert_array_equal(getattr(stacked, name)[r], getattr(alone, name))


def test_edge_seeds_and_numpy_integers_draw_what_default_rng_draws():
    seeds = [*EDGE_SEEDS, np.int64(2**63 - 1), np.uint64(2**64 - 1), *range(40)]
    stacked = stack_shocks(seeds, 10, 32)
    for r, seed in enumerate(seeds):
        alone = draw_shocks(np.random.default_rng(seed), 10, 32)
        np.testing.assert_array_equal(stacked.gdp[r], alone.gdp)
        np.testing.assert_array_equal(stacked.spending[r], alone.spending)
        np.testing.assert_array_equal(stacked.threat[r], alone.threat)


LEVERS = {
    "us_pressure_capability_weight": 0.7,
    "review_delay": 2,
    "retrenchment_start_year": 2029,
    "us_demand_scale": 1.3,
}
"""The policy levers added for the policy search, each away from its default."""


PLEDGE_LEVERS = {"pledge_core_scale": 1.3, "pledge_delay": -3, "us_demand_delay": 4}
"""The pledge-design levers (the allies' pledge level and deadline, the US demand's deadline),
each away from its default; the earlier pledge falls overdue within every scenario below."""


@pytest.mark.parametrize(
    ("name", "levers"),
    [(n, LEVERS) for n in ("hague-2035", "us-retrenchment", "threat-escalation")]
    + [(n, PLEDGE_LEVERS) for n in ("hague-2035", "us-retrenchment", "wales-2014")],
)
def test_engines_agree_with_the_levers_away_from_their_defaults(scenarios, name, levers):
    """Mesa and the array engine give the same tables with the policy or pledge levers set."""
    spec = scenarios[name].with_parameters(**levers)
    ensemble = run_ensemble(spec, [3, 11])
    for seed in (3, 11):
        mesa = run_scenario(spec, seed)
        for table in ("allies", "alliance"):
            got = getattr(ensemble, table)
            _assert_same(getattr(mesa, table), got[got["seed"] == seed].reset_index(drop=True))


MIXED_LEVERS = {
    "policy": [{}, LEVERS, {"review_delay": -2, "us_pressure_capability_weight": 1.0}],
    "pledge": [
        {},
        PLEDGE_LEVERS,
        {"pledge_delay": 5, "us_demand_delay": -2, "pledge_core_scale": 0.8},
        {"pledge_delay": -3, "review_delay": 1, "us_demand_scale": 1.2},
    ],
}
"""Lever sets that run stacked in one chunk (review years, deadlines, weights, pledge scales)."""


@pytest.mark.parametrize(
    ("name", "sets"),
    [
        ("threat-escalation", "policy"),
        ("threat-escalation", "pledge"),
        ("wales-2014", "pledge"),
    ],
)
def test_runs_with_different_levers_in_one_chunk_match_each_run_alone(scenarios, name, sets):
    """Levers stacked per run give each point's own numbers."""
    base = scenarios[name]
    points = [
        replace(base.with_parameters(**s), name=f"p{i}") for i, s in enumerate(MIXED_LEVERS[sets])
    ]
    allies, alliance = point_tables(points, [[5, 6]] * len(points))
    for point in points:
        alone = run_ensemble(point, [5, 6])
        got = alliance[alliance["scenario"] == point.name].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, alone.alliance.assign(scenario=point.name))
        got = allies[allies["scenario"] == point.name].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, alone.allies.assign(scenario=point.name))


def _mean_by_year(spec, column: str, **parameters) -> pd.Series:
    table = run_ensemble(spec, range(10), **parameters).alliance
    return table.groupby("year")[column].mean()


def test_pressure_aimed_at_capability_follows_capability_shortfalls(scenarios):
    """With no ally behind on spending (a 2 pp tolerance), pressure on spending fades while
    pressure on capability stays high: the raised targets leave most allies short of them."""
    hague = scenarios["hague-2035"]
    spending = _mean_by_year(hague, "us_pressure", us_lag_tolerance_pp=2.0)
    capability = _mean_by_year(
        hague, "us_pressure", us_lag_tolerance_pp=2.0, us_pressure_capability_weight=1.0
    )
    assert spending[2035] < 0.05 < 0.9 < capability[2035]
    assert (capability.loc[2027:] > spending.loc[2027:]).all()


def test_a_later_review_leaves_the_years_before_it_as_without_a_review(scenarios):
    """Review moved to 2032: every year before it equals a run with no revision at all (the
    review capped at 0), and the raised pledge lifts spending only from 2032 on."""
    escalation = scenarios["threat-escalation"]
    later = run_ensemble(escalation, [1, 2], review_delay=3).alliance
    none = run_ensemble(escalation, [1, 2], review_max_change=0.0).alliance
    before = later["year"] < 2032
    pd.testing.assert_frame_equal(
        later[before].reset_index(drop=True), none[before].reset_index(drop=True)
    )
    rise = (
        later.groupby("year")["mean_core_pct_gdp"].mean()
        - none.groupby("year")["mean_core_pct_gdp"].mean()
    )
    assert (rise.loc[2032:] > 0).all()


def test_no_retrenchment_builds_before_the_start_year(scenarios):
    """Retrenchment stays 0 before retrenchment_start_year; by default it builds from 2026."""
    hague = scenarios["hague-2035"]
    default = _mean_by_year(hague, "us_retrenchment")
    delayed = _mean_by_year(hague, "us_retrenchment", retrenchment_start_year=2031)
    assert default[2026] > 0
    assert (delayed.loc[:2030] == 0).all() and delayed[2035] < default[2035]


def test_a_higher_us_demand_brings_more_pressure_and_spending(scenarios):
    """Scaling the demanded core share up leaves more allies behind it: more pressure and a
    higher mean core share in 2035; scaling it down, less pressure."""
    hague = scenarios["hague-2035"]
    low, mid, high = (
        run_ensemble(hague, range(10), us_demand_scale=scale)
        .alliance.groupby("year")
        .mean(numeric_only=True)
        for scale in (0.6, 1.0, 1.4)
    )
    assert low.loc[2035, "us_pressure"] < mid.loc[2035, "us_pressure"]
    assert mid.loc[2035, "us_pressure"] < high.loc[2035, "us_pressure"]
    assert high.loc[2035, "mean_core_pct_gdp"] > mid.loc[2035, "mean_core_pct_gdp"]


def test_a_higher_pledge_raises_spending_toward_it(scenarios):
    """Scaling every ally's core pledge up raises the mean core share from 2028 on (the pull of
    the pledge path grows with its distance); scaling it down lowers it. The start is the same."""
    hague = scenarios["hague-2035"]
    low, mid, high = (
        _mean_by_year(hague, "mean_core_pct_gdp", pledge_core_scale=scale)
        for scale in (0.8, 1.0, 1.2)
    )
    assert low[2025] == mid[2025] == high[2025] and low[2026] == mid[2026] == high[2026]
    assert (low.loc[2028:] < mid.loc[2028:]).all() and (mid.loc[2028:] < high.loc[2028:]).all()


def test_a_later_pledge_deadline_slows_the_path_and_an_earlier_one_is_enforced_sooner(scenarios):
    """Pledge due 2040 (delay 5): lower mean core shares from 2030 on. Due 2032 (delay -3): the
    overdue pledge is enforced under US pressure from 2033, well above the default path.

    With a commitment of 0.3: at the calibrated 0.03 the pull of the pledge path moves the mean
    by about 0.0003 pp, less than the feedback of US pressure on the runs' shocks.
    """
    hague = scenarios["hague-2035"]
    earlier, default, later = (
        _mean_by_year(hague, "mean_core_pct_gdp", pledge_delay=delay, pledge_commitment=0.3)
        for delay in (-3, 0, 5)
    )
    assert (later.loc[2030:] < default.loc[2030:]).all()
    assert (earlier.loc[2028:] > default.loc[2028:]).all()
    assert (earlier.loc[2033:] - default.loc[2033:] > 0.2).all()


def test_a_later_us_demand_deadline_lowers_early_pressure(scenarios):
    """The demand due 2040 (delay 5) leaves fewer allies behind its slower path: less pressure
    from 2027 on and a lower mean core share; due 2032 (delay -3), more of both."""
    hague = scenarios["hague-2035"]
    earlier, default, later = (
        run_ensemble(hague, range(10), us_demand_delay=delay)
        .alliance.groupby("year")
        .mean(numeric_only=True)
        for delay in (-3, 0, 5)
    )
    for column in ("us_pressure", "mean_core_pct_gdp"):
        assert (later.loc[2027:, column] < default.loc[2027:, column]).all()
        assert (earlier.loc[2027:, column] > default.loc[2027:, column]).all()
    assert (later.loc[:2026, "us_pressure"] == default.loc[:2026, "us_pressure"]).all()
