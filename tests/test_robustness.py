"""sim.robustness: robustness metrics on a hand-computed table, breaking futures, re-evaluation."""

import io

import numpy as np
import pandas as pd
import pytest

from sim.executors import SerialExecutor
from sim.policy_spec import Objective, load_policy_spec, simulate_objectives
from sim.posterior import Posterior, draw
from sim.robustness import (
    TABLES,
    breaking_futures,
    plan_chunks,
    reevaluate,
    regret,
    robustness_table,
    run_reeval_chunk,
    sample_futures,
    satisficing,
)
from sim.shocks import points_seeds
from sim.store import BatchStore, part_name


def objective(name, direction, threshold):
    return Objective(
        name, "capability_gap", "alliance", None, 2035, "at", None, direction, 1.0, threshold
    )


A = objective("a", "max", 10.0)
B = objective("b", "min", 2.0)

# design, future, a (max, >= 10), b (min, <= 2)
TINY = pd.DataFrame(
    [
        (0, 0, 12, 1),
        (0, 1, 8, 1),
        (1, 0, 10, 3),
        (1, 1, 11, 2),
        (2, 0, 9, 0),
        (2, 1, 14, 5),
    ],
    columns=["design", "future", "a", "b"],
).astype({"a": float, "b": float})


def test_satisficing_is_the_share_of_futures_meeting_every_threshold():
    # design 0 meets both in future 0 only (a = 8 < 10 in future 1); design 1 in future 1 only
    # (b = 3 > 2 in future 0); design 2 in neither (a = 9, then b = 5)
    assert satisficing(TINY, (A, B)).to_dict() == {0: 0.5, 1: 0.5, 2: 0.0}
    assert satisficing(TINY, (A,)).to_dict() == {0: 0.5, 1: 1.0, 2: 0.5}


def test_regret_is_the_shortfall_against_the_best_design_in_the_same_future():
    # best a: 12 in future 0, 14 in future 1; best b: 0 in future 0, 1 in future 1
    got = regret(TINY, (A, B)).set_index(["design", "future"])
    assert got["a"].tolist() == [0, 6, 2, 3, 3, 0]
    assert got["b"].tolist() == [1, 0, 3, 1, 0, 4]


def test_the_robustness_table_equals_hand_computed_values_and_ranks_designs():
    table = robustness_table(TINY, (A, B))
    # satisficing 0.5, 0.5, 0; the tie between designs 0 and 1 goes to the lower max regret on a
    assert table.index.tolist() == [1, 0, 2]
    expected = pd.DataFrame(
        {
            "satisficing": [0.5, 0.5, 0.0],
            "a_mean": [10.5, 10.0, 11.5],
            "a_max_regret": [3.0, 6.0, 3.0],
            "b_mean": [2.5, 1.0, 2.5],
            "b_max_regret": [3.0, 1.0, 4.0],
        },
        index=pd.Index([1, 0, 2], name="design"),
    )
    pd.testing.assert_frame_equal(table, expected)


def test_prim_finds_the_futures_that_break_a_design():
    rng = np.random.default_rng(4)
    futures = pd.DataFrame(rng.random((300, 3)), columns=["x", "y", "z"]).rename_axis("future")
    outcomes = pd.DataFrame(
        {"design": 0, "future": futures.index, "a": 20 * futures["x"], "b": 0.0}
    )  # a >= 10 fails exactly when x < 0.5
    found = breaking_futures(futures, outcomes, 0, (A, B))
    assert found.cases == int((futures["x"] < 0.5).sum())
    box = found.box.set_index("parameter")
    assert "x" in box.index and box.loc["x", "high"] == pytest.approx(0.5, abs=0.05)
    assert found.coverage >= 0.8 and found.density >= 0.9
    safe = outcomes.assign(a=20.0)
    assert breaking_futures(futures, safe, 0, (A, B)) is None


SPEC = """
description = "re-evaluation test"
scenario = "hague-2035"
seed = 21

[search]
nfe = 8
population = 4
replications = 1

[levers]
us_pressure_strength = { range = [0.0, 1.0] }
retrenchment_threshold = { range = [0.2, 1.0] }

[uncertainties]
threat_scale = { range = [0.6, 1.6] }
free_riding = { range = [0.0, 1.0] }

[[objectives]]
name = "allies"
column = "allies_ge_3_5pct_core"
direction = "max"
epsilon = 0.5
threshold = 10

[[objectives]]
name = "germany_personnel"
column = "personnel_k"
ally = "DEU"
measure = "mean"
direction = "max"
epsilon = 1.0

[robustness]
futures = 10
replications = 2
"""

DESIGNS = pd.DataFrame(
    {"us_pressure_strength": [0.2, 0.9], "retrenchment_threshold": [0.9, 0.3]}
).rename_axis("design")


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    path = tmp_path_factory.mktemp("spec") / "reeval.toml"
    path.write_text(SPEC)
    return load_policy_spec(path)


def test_futures_are_a_reproducible_latin_hypercube_with_their_own_seeds(spec):
    futures = sample_futures(spec, None)
    again = sample_futures(spec, None)
    pd.testing.assert_frame_equal(futures.values, again.values)
    assert futures.values.shape == (10, 2)
    assert futures.values["threat_scale"].between(0.6, 1.6).all()
    # one value per tenth of each range: a Latin hypercube
    assert sorted((futures.values["free_riding"] * 10).astype(int)) == list(range(10))
    np.testing.assert_array_equal(futures.seeds, points_seeds(21, list(range(1, 11)), 2))
    assert futures.draws is None


def test_with_a_posterior_each_future_also_takes_the_draw_its_first_seed_picks(spec):
    samples = np.array([[0.1, 0.2], [0.5, 0.6], [0.9, 0.3]])
    posterior = Posterior(("pledge_commitment", "free_riding"), samples, np.array([0.2, 0.3, 0.5]))
    futures = sample_futures(spec, posterior)
    np.testing.assert_array_equal(futures.draws, draw(posterior, futures.seeds[:, 0].tolist()))
    # free_riding is an uncertainty of the spec: its Latin hypercube values stay
    assert list(futures.values.columns) == ["threat_scale", "free_riding", "pledge_commitment"]
    pd.testing.assert_frame_equal(futures.values.iloc[:, :2], sample_futures(spec, None).values)
    assert futures.values["pledge_commitment"].tolist() == samples[futures.draws, 0].tolist()


def test_a_chunk_runs_each_design_in_each_future_with_the_futures_seeds(spec):
    futures = sample_futures(spec, None)
    chunks = plan_chunks(spec, DESIGNS, futures, chunk_runs=8)  # 2 designs x 2 runs x 2 futures
    assert [c.futures for c in chunks] == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    parts, failed = run_reeval_chunk(chunks[1])
    assert failed == 0
    got = pd.read_parquet(io.BytesIO(parts["outcomes"]))
    runs = pd.read_parquet(io.BytesIO(parts["runs"]))
    assert len(got) == len(runs) == chunks[1].size == 8
    for (design, future), rows in got.groupby(["design", "future"]):
        setting = futures.values.loc[future].to_dict() | DESIGNS.loc[design].to_dict()
        seeds = futures.seeds[future].tolist()
        alone = simulate_objectives(spec.scenario, [setting], [seeds], spec.objectives)[0]
        np.testing.assert_array_equal(rows[["allies", "germany_personnel"]].to_numpy(), alone)
        mine = runs[(runs["design"] == design) & (runs["future"] == future)]
        assert mine["seed"].tolist() == seeds


def test_an_interrupted_reevaluation_completes_the_missing_chunks_only(spec, tmp_path):
    futures = sample_futures(spec, None)
    store = tmp_path / "reeval"
    whole = reevaluate(
        spec, DESIGNS, futures, store, SerialExecutor(), progress=False, posterior=None
    )
    assert whole.shape == (20, 4)
    lost = sorted(BatchStore(store, tables=TABLES).done_chunks())[0]
    (store / "runs" / part_name(lost)).unlink()  # the chunk was cut off before its runs part
    before = {p: p.stat().st_mtime_ns for p in (store / "outcomes").iterdir()}
    again = reevaluate(
        spec, DESIGNS, futures, store, SerialExecutor(), progress=False, posterior=None
    )
    pd.testing.assert_frame_equal(again, whole)
    rewritten = [p for p in (store / "outcomes").iterdir() if p.stat().st_mtime_ns != before[p]]
    assert [p.name for p in rewritten] == [part_name(lost)]
