"""Forecasts that draw parameters from the posterior: reproducible per seed, engine-agnostic."""

import numpy as np
import pandas as pd
import pytest

from sim.batch import BatchError, make_spec, run_batch
from sim.parameters import DEFAULTS, PARAMETERS
from sim.posterior import Posterior, draw
from sim.run import run_scenario
from sim.scenario import load_scenario
from sim.uncertainty import fingerprint, resolve, run_scenarios, with_draw

NAMES = ("adjustment_speed", "free_riding", "us_pressure_response")
KEYS = ["seed", "year", "iso3"]


@pytest.fixture(scope="module")
def posterior() -> Posterior:
    """Fifty weighted draws spread over the three parameters' documented ranges."""
    rng = np.random.default_rng(0)
    samples = np.column_stack(
        [rng.uniform(PARAMETERS[n].low, PARAMETERS[n].high, 50) for n in NAMES]
    )
    weights = rng.uniform(0.5, 1.5, 50)
    return Posterior(NAMES, samples, weights / weights.sum(), {})


@pytest.fixture(scope="module")
def batches(posterior, tmp_path_factory):
    """hague-2035 x 24 runs drawn from the posterior, by each engine, in different chunks."""
    root = tmp_path_factory.mktemp("uncertainty")
    common = {"uncertainty": "posterior", "posterior": posterior, "progress": False}
    return {
        engine: run_batch(
            ["hague-2035"], 24, 3, engine=engine, out=root / engine, chunk_size=size, **common
        )
        for engine, size in (("ensemble", 16), ("mesa", 8))
    }


def test_each_run_records_its_draw_and_the_manifest_the_posterior(batches, posterior):
    """runs.posterior_draw is draw(posterior, seed); the spec names the posterior's hash."""
    runs = batches["ensemble"].runs
    assert runs["posterior_draw"].tolist() == draw(posterior, runs["seed"].tolist()).tolist()
    spec = batches["ensemble"].manifest["spec"]
    assert spec["uncertainty"] == "posterior"
    assert spec["posterior"] == fingerprint(posterior)


def test_both_engines_and_any_chunking_give_the_same_runs(batches):
    """The array engine in chunks of 16 and Mesa in chunks of 8 agree bit for bit."""
    tables = [
        b.allies.drop(columns=["run_key"]).sort_values(KEYS).reset_index(drop=True)
        for b in batches.values()
    ]
    pd.testing.assert_frame_equal(*tables, check_exact=True)


def test_a_run_is_reproduced_alone_from_its_scenario_and_seed(batches, posterior):
    """run_scenario with the seed's draw gives the batch's rows for that seed."""
    allies = batches["ensemble"].allies
    seed = int(allies["seed"].iloc[-1])
    points, draws = run_scenarios(load_scenario("hague-2035"), [seed], posterior)
    alone = run_scenario(points[0], seed).allies
    mine = allies[allies["seed"] == seed].drop(columns=["replication", "run_key"])
    pd.testing.assert_frame_equal(mine.reset_index(drop=True), alone, check_exact=True)
    assert points[0].parameters["free_riding"] == posterior.samples[draws[0], 1]


def test_the_draws_spread_the_runs_more_than_shocks_alone(batches, tmp_path):
    """Drawing parameters widens the 2035 spread of the mean core share."""
    shocks = run_batch(["hague-2035"], 24, 3, out=tmp_path / "s", progress=False)

    def spread(batch):
        final = batch.alliance.query("year == 2035")["mean_core_pct_gdp"]
        return float(final.quantile(0.95) - final.quantile(0.05))

    assert spread(batches["ensemble"]) > spread(shocks)


def test_a_value_the_scenario_sets_is_kept(posterior):
    """A draw replaces only parameters left at their calibrated defaults."""
    chosen = load_scenario("hague-2035", free_riding=0.123)
    point = with_draw(chosen, posterior, 7)
    assert point.parameters["free_riding"] == 0.123
    assert point.parameters["adjustment_speed"] == posterior.samples[7, 0]
    assert chosen.parameters["adjustment_speed"] == DEFAULTS["adjustment_speed"]


def test_bad_uncertainty_is_one_batch_error(posterior):
    with pytest.raises(BatchError, match="uncertainty must be one of"):
        make_spec(["hague-2035"], uncertainty="bands")
    with pytest.raises(BatchError, match="shocks"):
        make_spec(["hague-2035"], uncertainty="shocks", posterior=posterior)
    assert resolve("shocks") == ("shocks", None)
