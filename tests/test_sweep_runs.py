"""sim.sweep_runs: an outputs-only sweep's chunks, the task a worker runs, and the driver."""

import io
import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.ensemble import run_ensemble
from sim.experiment import load_experiment
from sim.shocks import point_seeds, replication_seeds
from sim.store import StoreError
from sim.sweep import design, point_scenarios
from sim.sweep_runs import (
    CHUNK_RUNS,
    FORMAT,
    TABLES,
    fingerprint,
    plan_point_chunks,
    run_points,
    run_points_chunk,
)

SPEC = """
description = "test sweep"
scenario = "hague-2035"
design = "morris"
samples = 3
replications = 2
seed = 5

[parameters]
threat_response_pp = { range = [1.0, 6.0] }
adjustment_speed = { range = [0.1, 0.8] }
recruit_rate = { range = [0.01, 0.08] }

[[outputs]]
name = "allies_ge_3_5pct_core_2035"
column = "allies_ge_3_5pct_core"

[[outputs]]
name = "germany_personnel_k_2035"
column = "personnel_k"
ally = "DEU"

[series]
columns = ["capability_gap"]
"""


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    """A Morris screening of three parameters: 12 design points x 2 replications, seed 5."""
    path = tmp_path_factory.mktemp("spec") / "screen.toml"
    path.write_text(SPEC)
    return load_experiment(path)


@pytest.fixture(scope="module")
def samples(experiment):
    """Its design points."""
    return design(experiment)


@pytest.fixture(scope="module")
def swept(experiment, samples, tmp_path_factory):
    """The sweep's runs, run serially in chunks of 8 runs (4 points): the store."""
    out = tmp_path_factory.mktemp("sweep") / "runs"
    return run_points(experiment, samples, out, executor="serial", progress=False, chunk_runs=8)


def _table(part: bytes) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(part))


# --- chunks ------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    points=st.integers(1, 60),
    first=st.integers(0, 200_000),
    replications=st.integers(1, 20),
    chunk_runs=st.integers(1, 100),
)
def test_chunks_take_whole_points_in_order_and_cover_each_once(
    experiment, points, first, replications, chunk_runs
):
    """Consecutive whole points, at most ``chunk_runs`` runs (one point at least), ids padded."""
    e = replace(experiment, replications=replications)
    index = pd.RangeIndex(first, first + points)
    frame = pd.DataFrame({"a": np.arange(points) * 0.5, "b": -np.arange(points)}, index=index)
    chunks = plan_point_chunks(e, frame, chunk_runs)
    per_chunk = max(1, chunk_runs // replications)
    assert [s for c in chunks for s in c.samples] == list(index)
    width = max(5, len(str(points)))
    for c in chunks[:-1]:
        assert len(c.samples) == per_chunk
    for c in chunks:
        assert 1 <= len(c.samples) <= per_chunk
        assert c.size == len(c.samples) * replications
        assert c.id == f"{c.samples[0]:0{width}d}"
        assert c.names == ("a", "b") and c.values.shape == (len(c.samples), 2)
        np.testing.assert_array_equal(c.values, frame.loc[list(c.samples)].to_numpy(float))
        assert (c.base, c.seed, c.replications) == (e.scenario, e.seed, replications)
        assert (c.outputs, c.series) == (e.outputs, e.series)


def test_the_default_chunk_holds_about_a_thousand_runs(experiment, samples):
    """``CHUNK_RUNS`` runs a task: all 24 runs of this sweep in one chunk."""
    assert CHUNK_RUNS == 1000
    (chunk,) = plan_point_chunks(experiment, samples)
    assert chunk.size == len(samples) * experiment.replications == 24
    assert chunk.id == "00000"


# --- the task ----------------------------------------------------------------------------------


def test_a_chunks_outputs_are_each_runs_numbers_with_the_batchs_seeds(experiment, samples):
    """Run (i, r) has point i's parameters and seed r of ``replication_seeds``: its numbers."""
    chunk = plan_point_chunks(experiment, samples, chunk_runs=6)[1]  # points 3, 4, 5
    parts, failed = run_points_chunk(chunk)
    assert failed == 0 and set(parts) == set(TABLES)
    outputs, series, runs = (_table(parts[t]) for t in TABLES)
    points = point_scenarios(experiment, samples.loc[list(chunk.samples)])
    for i, point in zip(chunk.samples, points, strict=True):
        seeds = replication_seeds(5, i, 2)
        alone = run_ensemble(point, seeds)
        a, al = alone.allies, alone.alliance
        deu = a[(a["iso3"] == "DEU") & (a["year"] == 2035)]["personnel_k"].to_numpy()
        count = al[al["year"] == 2035]["allies_ge_3_5pct_core"].to_numpy()
        mine = outputs[outputs["sample"] == i].sort_values("replication")
        np.testing.assert_array_equal(mine["germany_personnel_k_2035"], deu)
        np.testing.assert_array_equal(mine["allies_ge_3_5pct_core_2035"], count)
        gap = al.groupby("year")["capability_gap"].mean()
        point_series = series[series["sample"] == i].set_index("year")["capability_gap"]
        np.testing.assert_allclose(point_series, gap.reindex(point_series.index), rtol=1e-15)
        assert point_series.index.tolist() == list(point.years)
        assert runs[runs["sample"] == i]["seed"].tolist() == seeds
    assert list(outputs.columns) == [
        "sample",
        "replication",
        "allies_ge_3_5pct_core_2035",
        "germany_personnel_k_2035",
    ]
    assert list(runs.columns) == ["sample", "replication", "seed", "status", "error"]
    assert (runs["status"] == "ok").all() and runs["error"].isna().all()
    assert len(runs) == len(outputs) == chunk.size


def test_a_chunk_is_the_same_whichever_points_share_it(experiment, samples):
    """Point 4's outputs are the same in a chunk of one point and in a chunk of three."""
    wide = plan_point_chunks(experiment, samples, chunk_runs=6)[1]
    narrow = plan_point_chunks(experiment, samples, chunk_runs=2)[4]
    assert narrow.samples == (4,) and 4 in wide.samples
    together = _table(run_points_chunk(wide)[0]["outputs"])
    alone = _table(run_points_chunk(narrow)[0]["outputs"])
    pd.testing.assert_frame_equal(
        together[together["sample"] == 4].reset_index(drop=True), alone.reset_index(drop=True)
    )


# moved from tests/test_sweep.py
def test_a_point_whose_runs_fail_is_recorded_not_lost(experiment, samples, monkeypatch):
    """A chunk that raises is retried run by run: the failing runs are listed with their error,
    the others keep their outputs."""
    import sim.sweep_runs

    real = sim.sweep_runs.simulate_points

    def fail_for_seed(points, seeds, *args):
        if any(bad_seed in s for s in seeds):
            raise RuntimeError("boom")
        return real(points, seeds, *args)

    chunk = plan_point_chunks(experiment, samples)[0]
    bad_seed = point_seeds(5, chunk.samples[1], 2)[0][0]
    monkeypatch.setattr(sim.sweep_runs, "simulate_points", fail_for_seed)
    parts, failed = run_points_chunk(chunk)
    assert failed == 1
    runs = pd.read_parquet(io.BytesIO(parts["runs"]))
    bad = runs[runs["status"] == "failed"]
    assert bad["seed"].tolist() == [bad_seed] and bad["error"].tolist() == ["RuntimeError: boom"]
    outputs = pd.read_parquet(io.BytesIO(parts["outputs"]))
    failed_run = (outputs["sample"] == chunk.samples[1]) & (outputs["replication"] == 0)
    assert len(outputs) == chunk.size - 1 and not failed_run.any()
    monkeypatch.setattr(sim.sweep_runs, "simulate_points", real)
    whole = pd.read_parquet(io.BytesIO(run_points_chunk(chunk)[0]["outputs"]))
    lost = (whole["sample"] == chunk.samples[1]) & (whole["replication"] == 0)
    pd.testing.assert_frame_equal(
        outputs.reset_index(drop=True), whole[~lost].reset_index(drop=True)
    )


# --- the driver --------------------------------------------------------------------------------


def test_the_fingerprint_changes_with_what_fixes_the_numbers_and_chunks(experiment, samples):
    """Same inputs, same 16-hex fingerprint; another seed, count, design or chunk size: another."""
    key = fingerprint(experiment, samples, 8)
    assert re.fullmatch(r"[0-9a-f]{16}", key)
    assert fingerprint(experiment, samples.copy(), 8) == key
    others = [
        fingerprint(experiment, samples, 9),
        fingerprint(replace(experiment, seed=6), samples, 8),
        fingerprint(replace(experiment, replications=3), samples, 8),
        fingerprint(experiment, samples.assign(recruit_rate=0.05), 8),
        fingerprint(experiment, samples.iloc[:-1], 8),
        fingerprint(replace(experiment, series=()), samples, 8),
    ]
    assert key not in others and len(set(others)) == len(others)


def test_run_points_stores_every_run_and_a_manifest_of_the_sweep(swept, experiment, samples):
    """Outputs, series and runs for 24 runs in 3 chunks; the manifest names the sweep."""
    assert swept.tables == TABLES
    assert swept.done_chunks() == {"00000", "00004", "00008"}
    runs = swept.read("runs").sort_values(["sample", "replication"])
    assert len(runs) == 24 and (runs["status"] == "ok").all()
    assert runs["seed"].tolist() == [s for i in samples.index for s in replication_seeds(5, i, 2)]
    assert len(swept.read("outputs")) == 24
    assert len(swept.read("series")) == len(samples) * len(experiment.scenario.years)
    m = swept.read_manifest()
    assert m["format"] == FORMAT and m["keep"] == "outputs" and m["tables"] == list(TABLES)
    assert m["fingerprint"] == fingerprint(experiment, samples, 8)
    assert m["spec"]["points"] == 12 and m["spec"]["replications"] == 2 and m["spec"]["seed"] == 5
    assert m["spec"]["chunk_runs"] == 8 and m["spec"]["design"] == "morris"
    assert m["spec"]["outputs"] == [o.name for o in experiment.outputs]
    assert m["status"] == {"runs": 24, "ok": 24, "failed": 0, "pending": 0}


def test_run_points_gives_the_same_runs_whatever_the_chunks(swept, experiment, samples, tmp_path):
    """One chunk of everything stores the very outputs of three chunks."""
    whole = run_points(experiment, samples, tmp_path / "runs", executor="serial", progress=False)
    assert whole.done_chunks() == {"00000"}
    key = ["sample", "replication"]
    for table in ("outputs", "runs"):
        pd.testing.assert_frame_equal(
            whole.read(table).sort_values(key).reset_index(drop=True),
            swept.read(table).sort_values(key).reset_index(drop=True),
        )


def test_resuming_a_finished_sweep_runs_nothing(swept, experiment, samples):
    """``resume`` of a complete store keeps its parts and its own chunk size."""
    parts = {p: p.stat().st_mtime_ns for p in sorted(swept.root.rglob("part-*.parquet"))}
    again = run_points(
        experiment, samples, swept.root, executor="serial", progress=False, resume=True
    )
    assert again.read_manifest()["spec"]["chunk_runs"] == 8
    assert {p: p.stat().st_mtime_ns for p in sorted(swept.root.rglob("part-*.parquet"))} == parts


def test_a_folder_is_refused_for_another_sweep_or_another_chunk_size(swept, experiment, samples):
    """Another experiment, a second start, or a resume with other chunks: one clean error."""
    out = swept.root
    with pytest.raises(StoreError, match="holds a different sweep"):
        run_points(replace(experiment, seed=6), samples, out, executor="serial", progress=False)
    with pytest.raises(StoreError, match=r"holds this sweep already \(--resume completes it\)"):
        run_points(experiment, samples, out, executor="serial", progress=False, chunk_runs=8)
    with pytest.raises(StoreError, match="--chunk-size"):
        run_points(
            experiment, samples, out, executor="serial", progress=False, resume=True, chunk_runs=9
        )
