"""Batches: seeds, executors, the Parquet store, failures, interruption and resume."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim.batch
from sim.batch import BatchResult, format_summary, make_spec, plan_chunks, run_batch
from sim.run import run_scenario
from sim.shocks import run_seeds
from sim.store import BatchStore

VOLATILE = ["duration_s"]


def _tables(root: Path) -> dict[str, pd.DataFrame]:
    result = BatchResult(root)
    return {
        "allies": result.allies,
        "alliance": result.alliance,
        "runs": result.runs.drop(columns=VOLATILE),
    }


def _assert_same_batch(a: Path, b: Path) -> None:
    ta, tb = _tables(a), _tables(b)
    for name in ta:
        pd.testing.assert_frame_equal(ta[name], tb[name], check_exact=True, obj=name)


@pytest.fixture(scope="module")
def serial_batch(tmp_path_factory):
    """Two scenarios x 6 replications, serial, chunks of 4 (so scenarios span two chunks)."""
    out = tmp_path_factory.mktemp("serial") / "b"
    run_batch(
        ["hague-2035", "us-retrenchment"], 6, seed=11, executor="serial", out=out, chunk_size=4
    )
    return out


# --- seeds --------------------------------------------------------------------------------------


def test_seeds_come_from_spawned_seed_sequences():
    """Scenario i, replication r: SeedSequence(root).spawn(n)[i].spawn(R)[r]; 63-bit seeds."""
    seeds = run_seeds(5, 2, 3)
    child = np.random.SeedSequence(5).spawn(2)[1].spawn(3)[2]
    assert seeds[1][2] == (int(child.generate_state(1, np.uint64)[0] >> 1), (1, 2))
    flat = [s for per in seeds for s, _ in per]
    assert len(set(flat)) == 6 and all(0 <= s < 2**63 for s in flat)
    assert run_seeds(5, 2, 3) == seeds
    assert run_seeds(5, 2, 5)[1][:3] == seeds[1]  # more replications keep the first ones


def test_any_run_reruns_alone_with_its_seed(serial_batch):
    """The recorded seed reproduces the run with `run_scenario` (what `alliance run` does)."""
    result = BatchResult(serial_batch)
    run = result.runs.iloc[8]
    alone = run_scenario(run["scenario"], int(run["seed"]))
    rows = result.allies[result.allies["run_key"] == run["run_key"]].reset_index(drop=True)
    rows = rows.drop(columns=["replication", "run_key"])
    pd.testing.assert_frame_equal(rows, alone.allies, check_exact=False, rtol=1e-9)


# --- the store ----------------------------------------------------------------------------------


def test_store_layout_tables_and_manifest(serial_batch):
    """One part per chunk and table; run tables plus replication and run_key; a full manifest."""
    for table in ("allies", "alliance", "runs"):
        parts = sorted(p.name for p in (serial_batch / table).iterdir())
        assert parts == [
            f"part-{c}.parquet"
            for c in ("000-0000000", "000-0000004", "001-0000000", "001-0000004")
        ]
    result = BatchResult(serial_batch)
    assert list(result.allies.columns[:5]) == ["scenario", "seed", "replication", "run_key", "year"]
    assert len(result.allies) == 12 * 11 * 32 and len(result.alliance) == 12 * 11
    runs = result.runs
    assert runs["run_key"].tolist() == [
        f"{s}/{r}" for s in ("hague-2035", "us-retrenchment") for r in range(6)
    ]
    assert (runs["status"] == "ok").all() and runs["error"].isna().all()
    assert runs["spawn_key"].map(list).tolist()[7] == [1, 1]
    assert (runs["duration_s"] > 0).all()
    m = json.loads((serial_batch / "manifest.json").read_text())
    assert m["status"] == {"runs": 12, "ok": 12, "failed": 0, "pending": 0}
    assert m["spec"]["scenarios"] == ["hague-2035", "us-retrenchment"]
    assert m["spec"]["seed"] == 11 and m["spec"]["replications"] == 6
    assert m["spec"]["definitions"] == "spec.json"
    spec = json.loads((serial_batch / "spec.json").read_text())
    assert spec["definitions"][0]["parameters"]["threat_scale"] == 1.0
    assert m["versions"]["mesa"] == "3.5.1" and "git_commit" in m and m["executor"] == "serial"


def test_query_and_summary(serial_batch):
    """DuckDB views over the store; the summary gives median and 5-95% per scenario."""
    result = BatchResult(serial_batch)
    counts = result.query(
        "SELECT scenario, count(DISTINCT run_key) AS n FROM allies GROUP BY 1 ORDER BY 1"
    )
    assert counts["n"].tolist() == [6, 6]
    summary = result.summary()
    assert summary["scenario"].tolist() == ["hague-2035", "us-retrenchment"]
    final = result.alliance[result.alliance["year"] == 2035]
    for row in summary.itertuples():
        gap = final.loc[final["scenario"] == row.scenario, "capability_gap"]
        lo, mid, hi = row.capability_gap
        assert mid == pytest.approx(gap.median()) and lo <= mid <= hi
    text = format_summary(result).splitlines()
    assert text[1] == (
        "Median [5%-95%] in the final year; counts are of the 31 allies with armed forces "
        "(not ISL):"
    )
    assert text[2] == "  hague-2035 (2035, 6 runs):"


# --- engines and executors give the same numbers ------------------------------------------------


def test_mesa_engine_batch_equals_ensemble_batch(serial_batch, tmp_path):
    """The Mesa engine's batch matches the ensemble's (to 1e-9; the run tables exactly)."""
    run_batch(
        ["hague-2035", "us-retrenchment"], 6, seed=11, engine="mesa", executor="serial",
        out=tmp_path / "m", chunk_size=4,
    )  # fmt: skip
    mesa, ens = _tables(tmp_path / "m"), _tables(serial_batch)
    pd.testing.assert_frame_equal(mesa["allies"], ens["allies"], rtol=1e-9)
    pd.testing.assert_frame_equal(mesa["alliance"], ens["alliance"], rtol=1e-9)
    runs = ens["runs"].assign(engine="mesa")
    pd.testing.assert_frame_equal(mesa["runs"], runs, check_exact=True)


@pytest.mark.parametrize("workers", [1, 2])
def test_process_pool_gives_identical_results(serial_batch, tmp_path, workers):
    """Local processes, any worker count: bit for bit the serial batch."""
    run_batch(
        ["hague-2035", "us-retrenchment"], 6, seed=11, executor="processes", workers=workers,
        out=tmp_path / "p", chunk_size=4,
    )  # fmt: skip
    _assert_same_batch(tmp_path / "p", serial_batch)


def test_dask_local_cluster_and_scheduler_address_give_identical_results(serial_batch, tmp_path):
    """A real Dask LocalCluster, started by the batch and joined by address: same bits."""
    from distributed import LocalCluster

    run_batch(
        ["hague-2035", "us-retrenchment"], 6, seed=11, executor="dask", workers=2,
        out=tmp_path / "d", chunk_size=4,
    )  # fmt: skip
    _assert_same_batch(tmp_path / "d", serial_batch)
    assert BatchResult(tmp_path / "d").manifest["executor"] == "dask"
    with LocalCluster(
        n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        run_batch(
            ["hague-2035", "us-retrenchment"], 6, seed=11, scheduler=cluster.scheduler_address,
            out=tmp_path / "s", chunk_size=4,
        )  # fmt: skip
    _assert_same_batch(tmp_path / "s", serial_batch)


# --- failures, interruption, resume -------------------------------------------------------------


def test_a_failing_run_is_recorded_and_the_batch_goes_on(monkeypatch, tmp_path):
    """A run that raises gets status 'failed' and its error; every other run is stored."""
    bad = run_seeds(3, 1, 5)[0][2][0]
    simulate = sim.batch._simulate

    def flaky(scenario, engine, seeds):
        if bad in seeds:
            raise FloatingPointError("boom")
        return simulate(scenario, engine, seeds)

    monkeypatch.setattr(sim.batch, "_simulate", flaky)
    result = run_batch(["hague-2035"], 5, seed=3, executor="serial", out=tmp_path / "f")
    runs = result.runs
    assert runs["status"].tolist() == ["ok", "ok", "failed", "ok", "ok"]
    assert runs.loc[2, "error"] == "FloatingPointError: boom"
    assert sorted(result.allies["replication"].unique()) == [0, 1, 3, 4]
    assert result.manifest["status"] == {"runs": 5, "ok": 4, "failed": 1, "pending": 0}


INTERRUPTED_RUNS = 40
"""Runs of the interrupted batches: enough that none finishes before its signal arrives."""


def _batch_cmd(out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "sim.cli", "batch", "hague-2035", "--replications",
        str(INTERRUPTED_RUNS),
        "--engine", "mesa", "--chunk-size", "1", "--seed", "4", "--out", str(out),
        "--no-progress", *extra,
    ]  # fmt: skip


def test_kill_9_then_resume_equals_an_uninterrupted_batch(tmp_path):
    """SIGKILL the batch (driver and workers) mid-way; --resume completes it exactly."""
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        _batch_cmd(out, "--workers", "2"),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while len(BatchStore(out).done_chunks()) < 3:
        assert proc.poll() is None, "the batch ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = BatchStore(out).done_chunks()
    assert 3 <= len(done_before) < INTERRUPTED_RUNS
    status = json.loads((out / "manifest.json").read_text())["status"]
    # counts kept current chunk by chunk, written after each:
    assert status["ok"] + status["pending"] == INTERRUPTED_RUNS
    assert len(done_before) - 1 <= status["ok"] <= len(done_before)

    resumed = subprocess.run(
        _batch_cmd(out, "--resume", "--executor", "serial"), capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"{INTERRUPTED_RUNS} runs ok, 0 failed, 0 pending" in resumed.stdout
    assert not list(out.rglob("*.tmp"))
    _assert_same_batch(out, _uninterrupted(tmp_path))
    runs = BatchResult(out).runs
    assert runs["run_key"].is_unique and len(runs) == INTERRUPTED_RUNS


def test_unfinished_chunk_parts_are_ignored_and_rewritten(serial_batch, tmp_path):
    """A chunk cut off before its runs part is invisible to readers and redone on resume."""
    out = tmp_path / "cut"
    run_batch(["hague-2035"], 8, seed=2, executor="serial", out=out, chunk_size=4)
    (out / "runs" / "part-000-0000004.parquet").unlink()
    (out / "alliance" / ".part-x.parquet.tmp").write_bytes(b"junk")
    (out / ".manifest.json.x.tmp").write_text("{")  # a manifest write cut off by kill -9
    assert len(BatchResult(out).runs) == 4
    assert BatchStore(out).query("SELECT count(*) AS n FROM alliance")["n"][0] == 4 * 11
    run_batch(["hague-2035"], 8, seed=2, executor="serial", out=out, chunk_size=4, resume=True)
    whole = tmp_path / "whole"
    run_batch(["hague-2035"], 8, seed=2, executor="serial", out=whole, chunk_size=4)
    _assert_same_batch(out, whole)
    assert not list(out.rglob("*.tmp"))


def test_resume_of_a_complete_batch_runs_nothing(serial_batch, tmp_path):
    """--resume on a finished batch rewrites no part."""
    mtimes = {p: p.stat().st_mtime_ns for p in serial_batch.rglob("part-*.parquet")}
    run_batch(
        ["hague-2035", "us-retrenchment"], 6, seed=11, executor="serial", out=serial_batch,
        chunk_size=4, resume=True,
    )  # fmt: skip
    assert {p: p.stat().st_mtime_ns for p in serial_batch.rglob("part-*.parquet")} == mtimes


def test_chunks_cover_every_run_once():
    """Chunks partition the runs, in scenario and replication order."""
    spec = make_spec(["hague-2035", "wales-2014"], 7, seed=1, chunk_size=3)
    chunks = plan_chunks(spec)
    assert [len(c.runs) for c in chunks] == [3, 3, 1, 3, 3, 1]
    keys = [r.run_key for c in chunks for r in c.runs]
    assert keys == [f"{s}/{r}" for s in ("hague-2035", "wales-2014") for r in range(7)]


def _interactive_signals() -> None:
    """In the child: SIGINT as in a terminal, even if the test runs as a background job (which
    inherits SIGINT ignored, and Python then never raises KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_and_wait(out: Path, chunks: int, *extra: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        _batch_cmd(out, *extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_interactive_signals,
    )
    deadline = time.monotonic() + 120
    while len(BatchStore(out).done_chunks()) < chunks:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return proc


def _resume_and_compare(out: Path, tmp_path: Path) -> None:
    resumed = subprocess.run(_batch_cmd(out, "--resume"), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    _assert_same_batch(out, _uninterrupted(tmp_path))


def _uninterrupted(tmp_path: Path) -> Path:
    """The interrupted tests' batch, run serially without interruption."""
    whole = tmp_path / "whole"
    run_batch(
        ["hague-2035"], INTERRUPTED_RUNS, seed=4, engine="mesa", executor="serial", out=whole,
        chunk_size=1, uncertainty=None,  # the CLI's default: the posterior, when there is one
    )  # fmt: skip
    return whole


@pytest.mark.parametrize(
    ("signum", "message"),
    [(signal.SIGINT, "interrupted;"), (signal.SIGTERM, "terminated (SIGTERM);")],
)
def test_a_stop_signal_saves_finished_runs_and_resume_completes(tmp_path, signum, message):
    """Ctrl-C or SIGTERM: exit 128+signal with a resume hint, finished chunks kept and counted;
    --resume completes exactly."""
    out = tmp_path / "interrupted"
    proc = _start_and_wait(out, 2, "--workers", "2")
    proc.send_signal(signum)
    try:
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signum, stderr
    assert stderr.strip().splitlines()[-1].startswith(f"alliance batch: {message}")
    assert "--resume" in stderr and "Traceback" not in stderr
    status = json.loads((out / "manifest.json").read_text())["status"]
    assert status["ok"] >= 2 and status["pending"] > 0
    _resume_and_compare(out, tmp_path)


def test_a_dead_worker_stops_the_batch_and_resume_completes(tmp_path):
    """SIGKILL of one worker process: exit 1 naming the failure; --resume completes exactly."""
    import psutil

    out = tmp_path / "dead-worker"
    proc = _start_and_wait(out, 2, "--workers", "2")
    server = [p for p in psutil.Process(proc.pid).children() if "forkserver" in p.cmdline()[-1]]
    workers = server[0].children()  # the pool's workers are forked by the forkserver
    assert workers
    workers[0].kill()
    try:
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 1, stderr
    assert "a task failed" in stderr and "--resume" in stderr
    _resume_and_compare(out, tmp_path)
