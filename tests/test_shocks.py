"""sim.shocks: every run's seed, and the shocks a run draws up front from its own generator."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.model import AllianceModel
from sim.shocks import (
    Shocks,
    draw_shocks,
    point_seeds,
    points_seeds,
    replication_seeds,
    run_seeds,
    stack_shocks,
)

SEEDS = st.integers(0, 2**63 - 1)
SIZES = {"n_years": st.integers(1, 12), "n_allies": st.integers(1, 32)}


def _assert_same(a: Shocks, b: Shocks) -> None:
    for name in ("threat", "spending", "gdp"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


@settings(max_examples=30, deadline=None)
@given(seed=SEEDS, **SIZES)
def test_draw_shocks_gives_one_shape_per_term_and_the_same_draws_for_the_same_seed(
    seed, n_years, n_allies
):
    """Threat (years), spending and GDP (years x allies); one seed, one set of draws."""
    shocks = draw_shocks(np.random.default_rng(seed), n_years, n_allies)
    assert shocks.threat.shape == (n_years,)
    assert shocks.spending.shape == shocks.gdp.shape == (n_years, n_allies)
    for values in (shocks.threat, shocks.spending, shocks.gdp):
        assert values.dtype == np.float64 and np.isfinite(values).all()
    _assert_same(shocks, draw_shocks(np.random.default_rng(seed), n_years, n_allies))


def test_draw_shocks_differ_between_seeds_and_between_terms():
    """Another seed draws other numbers; spending and GDP shocks are distinct draws."""
    a = draw_shocks(np.random.default_rng(1), 10, 32)
    b = draw_shocks(np.random.default_rng(2), 10, 32)
    assert not np.array_equal(a.spending, b.spending)
    assert not np.array_equal(a.threat, b.threat)
    assert not np.array_equal(a.spending, a.gdp)


def test_the_draws_look_standard_normal():
    """Many draws have mean about 0 and standard deviation about 1."""
    shocks = draw_shocks(np.random.default_rng(11), 2000, 32)
    values = np.concatenate([shocks.threat, shocks.spending.ravel(), shocks.gdp.ravel()])
    assert abs(values.mean()) < 0.01 and abs(values.std() - 1) < 0.01


@settings(max_examples=30, deadline=None)
@given(seeds=st.lists(st.integers(0, 2**130), min_size=1, max_size=20), **SIZES)
def test_stack_shocks_puts_runs_first_and_each_run_draws_from_its_own_seed(
    seeds, n_years, n_allies
):
    """Run r of ``stack_shocks`` is ``draw_shocks`` of ``default_rng(seeds[r])``."""
    stacked = stack_shocks(seeds, n_years, n_allies)
    runs = len(seeds)
    assert stacked.threat.shape == (runs, n_years)
    assert stacked.spending.shape == stacked.gdp.shape == (runs, n_years, n_allies)
    for r, seed in enumerate(seeds):
        alone = draw_shocks(np.random.default_rng(seed), n_years, n_allies)
        _assert_same(Shocks(stacked.threat[r], stacked.spending[r], stacked.gdp[r]), alone)


@pytest.mark.parametrize("scenario", ["hague-2035", "wales-2014"])
def test_stacked_shocks_are_what_the_mesa_model_draws(scenario):
    """Run r sees exactly the numbers ``AllianceModel(rng=seeds[r])`` draws."""
    seeds = [3, 2**40 + 1]
    models = [AllianceModel(scenario, rng=seed) for seed in seeds]
    n_years, n_allies = len(models[0].spec.years) - 1, len(models[0].initial.iso3)
    stacked = stack_shocks(seeds, n_years, n_allies)
    for r, model in enumerate(models):
        _assert_same(model.shocks, Shocks(stacked.threat[r], stacked.spending[r], stacked.gdp[r]))


@settings(max_examples=40, deadline=None)
@given(seed=SEEDS, index=st.integers(0, 50), replications=st.integers(1, 20))
def test_replication_seeds_are_the_seeds_of_point_seeds(seed, index, replications):
    """``replication_seeds`` is ``point_seeds`` without the spawn keys."""
    pairs = point_seeds(seed, index, replications)
    assert replication_seeds(seed, index, replications) == [s for s, _ in pairs]


@settings(max_examples=40, deadline=None)
@given(seed=SEEDS, index=st.integers(0, 50), replications=st.integers(1, 20))
def test_point_seeds_are_63_bit_distinct_and_keyed_by_point_then_replication(
    seed, index, replications
):
    """Replication r of point i has spawn key (i, r) and a distinct seed in [0, 2**63)."""
    pairs = point_seeds(seed, index, replications)
    assert [key for _, key in pairs] == [(index, r) for r in range(replications)]
    seeds = [s for s, _ in pairs]
    assert all(isinstance(s, int) and 0 <= s < 2**63 for s in seeds)
    assert len(set(seeds)) == replications
    assert point_seeds(seed, index, replications) == pairs


@settings(max_examples=40, deadline=None)
@given(
    seed=SEEDS,
    index=st.integers(0, 20),
    replications=st.integers(1, 10),
    more=st.integers(1, 10),
)
def test_adding_replications_keeps_the_first_seeds(seed, index, replications, more):
    """More replications of a point append seeds and never change the existing ones."""
    first = replication_seeds(seed, index, replications)
    assert replication_seeds(seed, index, replications + more)[:replications] == first


@settings(max_examples=25, deadline=None)
@given(
    seed=SEEDS,
    n_scenarios=st.integers(1, 6),
    replications=st.integers(1, 6),
    extra=st.integers(1, 4),
)
def test_run_seeds_is_point_seeds_by_scenario_and_adding_scenarios_keeps_them(
    seed, n_scenarios, replications, extra
):
    """``run_seeds(...)[i]`` is point i's seeds; more scenarios leave the first ones alone."""
    seeds = run_seeds(seed, n_scenarios, replications)
    assert len(seeds) == n_scenarios
    for i, per_scenario in enumerate(seeds):
        assert per_scenario == point_seeds(seed, i, replications)
    assert run_seeds(seed, n_scenarios + extra, replications)[:n_scenarios] == seeds


@settings(max_examples=25, deadline=None)
@given(seed=SEEDS, index=st.integers(0, 9), n=st.integers(10, 30), replications=st.integers(1, 5))
def test_a_points_sequence_is_the_spawned_child_of_the_root_for_any_number_of_points(
    seed, index, n, replications
):
    """Point i's sequence is ``SeedSequence(seed).spawn(n)[i]`` for any n > i."""
    spawned = np.random.SeedSequence(seed).spawn(n)[index].spawn(replications)
    for (_, key), child in zip(point_seeds(seed, index, replications), spawned, strict=True):
        assert key == child.spawn_key
        again = np.random.SeedSequence(seed, spawn_key=key)
        np.testing.assert_array_equal(again.generate_state(4), child.generate_state(4))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**130),
    index=st.integers(0, 2**32 - 1),
    replications=st.integers(1, 40),
)
def test_each_seed_is_the_first_64_bits_its_replications_child_generates_shifted_right(
    seed, index, replications
):
    """Replication r's seed: ``SeedSequence(seed, spawn_key=(i,)).spawn(R)[r]``'s word >> 1."""
    children = np.random.SeedSequence(seed, spawn_key=(index,)).spawn(replications)
    expected = [int(c.generate_state(1, np.uint64)[0] >> 1) for c in children]
    assert replication_seeds(seed, index, replications) == expected


@settings(max_examples=30, deadline=None)
@given(
    seed=SEEDS,
    indices=st.lists(st.integers(0, 1000), min_size=1, max_size=8),
    replications=st.integers(1, 12),
)
def test_points_seeds_are_each_points_replication_seeds_as_one_array(seed, indices, replications):
    """Row i of ``points_seeds`` is ``replication_seeds`` of ``indices[i]``, as int64."""
    table = points_seeds(seed, indices, replications)
    assert table.dtype == np.int64 and table.shape == (len(indices), replications)
    for row, index in zip(table.tolist(), indices, strict=True):
        assert row == replication_seeds(seed, index, replications)


def test_numpy_integers_seed_as_python_integers_do():
    """A root seed or index given as a NumPy integer gives the same seeds."""
    assert point_seeds(np.int64(5), np.int64(3), 20) == point_seeds(5, 3, 20)
    assert replication_seeds(np.uint64(2**63), 1, 4) == replication_seeds(2**63, 1, 4)


def test_points_and_roots_give_different_seeds():
    """Another point or another root seed gives other seeds."""
    base = replication_seeds(5, 0, 4)
    assert set(base).isdisjoint(replication_seeds(5, 1, 4))
    assert set(base).isdisjoint(replication_seeds(6, 0, 4))
