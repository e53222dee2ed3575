"""Tests for sim/limits.py: plans this machine cannot hold are refused before they start."""

import subprocess
import sys
from collections import namedtuple

import pytest

import sim.limits
from sim.cli import _check_calibrate_plan, build_parser, main
from sim.executors import ExecutorError, open_executor
from sim.limits import LONG_S, LimitError, check_plan, estimate, max_workers


def test_an_estimate_scales_with_runs_and_what_is_kept():
    tables = estimate(1000, keep="tables", workers=2)
    outputs = estimate(1000, keep="outputs", workers=2)
    assert tables.disk == 1000 * sim.limits.TABLES_DISK_PER_RUN > outputs.disk
    assert tables.memory > outputs.memory >= 2 * sim.limits.WORKER_MEMORY
    assert estimate(1000, engine="mesa").seconds > estimate(1000).seconds
    assert estimate(10, in_memory=True, keep="none").memory > estimate(10).memory


def test_memory_disk_and_time_limits_each_give_one_line(monkeypatch, tmp_path):
    memory = namedtuple("Memory", "available total")
    monkeypatch.setattr(sim.limits.psutil, "virtual_memory", lambda: memory(10**9, 10**9))
    limit = r"the limit is 800\.0 MB \(80% of the memory available\)$"
    with pytest.raises(LimitError, match=rf"^--replications 9: needs .*; {limit}"):
        check_plan(estimate(10**6, workers=1), "--replications 9", 1)
    usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(sim.limits.shutil, "disk_usage", lambda _: usage(10**6, 0, 10**6))
    with pytest.raises(LimitError, match=f"is free at {tmp_path}"):
        check_plan(estimate(100), "--replications 100", 1, tmp_path / "not-yet" / "batch")
    slow = estimate(int(3 * LONG_S * sim.limits.SECONDS_PER_RUN["mesa"] ** -1), engine="mesa")
    slow = sim.limits.Estimate(slow.runs, 0, 0, slow.seconds)
    with pytest.raises(LimitError, match="add --allow-long"):
        check_plan(slow, "--replications", 1)
    check_plan(slow, "--replications", 1, allow_long=True)


def test_more_workers_than_the_machine_holds_are_refused():
    too_many = open_executor("processes", max_workers() + 1)
    with pytest.raises(ExecutorError, match=f"at most {max_workers()} local workers"), too_many:
        pass


def _cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sim.cli", *argv], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["batch", "hague-2035", "--replications", "1000000000"], "--replications 1000000000"),
        (["batch", "hague-2035", "--replications", str(10**30)], "--replications"),
        (["batch", "hague-2035", "--replications", "10", "--workers", "1000"], "--workers 1000"),
        (["validate", "--replications", "1000000000"], "--replications 1000000000"),
        (["run", "hague-2035", "--replications", "1000000000"], "--replications 1000000000"),
        (["calibrate", "--generations", "1000000000"], "--generations 1000000000"),
        (["calibrate", "--method", "abc", "--particles", str(10**9)], "--particles 1000000000"),
    ],
)
def test_a_plan_that_cannot_fit_exits_2_in_one_line_and_writes_nothing(tmp_path, argv, names):
    out = tmp_path / "out"
    done = _cli(*argv, "--out", str(out))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and names in lines[0], done.stderr
    assert not out.exists()


def test_a_sweep_too_big_for_the_machine_is_refused(tmp_path):
    spec = tmp_path / "big.toml"
    spec.write_text(
        'description = "big"\nscenario = "hague-2035"\ndesign = "lhs"\nsamples = 1000\n'
        "replications = 1000000000\nseed = 1\n[parameters]\nfree_riding = { range = [0.0, 1.0] }"
        '\n[[outputs]]\nname = "n"\ncolumn = "allies_ge_3_5pct_core"\nyear = 2035\n'
    )
    done = _cli("sweep", str(spec), "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and "1000 design points x 1000000000 replications" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_a_long_plan_needs_allow_long(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(sim.limits, "LONG_S", 1e-9)
    argv = ["batch", "hague-2035", "--replications", "2", "--executor", "serial", "--no-progress"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 2
    assert "add --allow-long" in capsys.readouterr().err
    assert main([*argv, "--out", str(tmp_path / "b"), "--allow-long"]) == 0


def _small_machine(monkeypatch, available: int = 10**9) -> None:
    """The machine as the tests shrink it: ``available`` bytes of memory (80% the limit)."""
    memory = namedtuple("Memory", "available total")
    monkeypatch.setattr(sim.limits.psutil, "virtual_memory", lambda: memory(available, available))


def test_a_forecast_is_estimated_at_the_in_process_rate(monkeypatch, tmp_path, capsys):
    """`alliance run` holds every run's tables in one process (about 21 GB for 150,000 runs)."""
    assert estimate(150_000, keep="none", in_memory=True).memory > 20e9
    _small_machine(monkeypatch)
    out = tmp_path / "r"
    assert main(["run", "hague-2035", "--replications", "20000", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("alliance run: --replications 20000: needs about")
    assert err[0].endswith("the limit is 800.0 MB (80% of the memory available)"), err
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["--generations", "100000"], ["--generations 100000", "add --allow-long"]),
        (["--population", "100000"], ["--population 100000", "add --allow-long"]),
        (["--replications", "10000000", "--allow-long"], ["--replications 10000000", "limit"]),
        (["--method", "abc", "--particles", "10000000"], ["--particles 10000000", "limit"]),
        (["--method", "abc", "--generations", "100000"], ["--generations 100000", "limit"]),
    ],
)
def test_a_calibration_too_big_or_long_exits_2_in_one_line(
    monkeypatch, tmp_path, capsys, argv, names
):
    _small_machine(monkeypatch, 8 * 10**9)
    out = tmp_path / "cal.toml"
    assert main(["calibrate", *argv, "--workers", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("alliance calibrate: --"), err
    assert all(name in err for name in names), err
    assert not out.exists()


@pytest.mark.parametrize("method", ["optimize", "abc"])
def test_the_default_calibrations_fit_a_small_machine(monkeypatch, method):
    """The shipped budgets (minutes, under 1 GB) pass the check; nothing is run here."""
    _small_machine(monkeypatch, 8 * 10**9)
    _check_calibrate_plan(
        build_parser().parse_args(["calibrate", "--method", method, "--workers", "2"])
    )


def test_a_1000_by_1000_grid_is_estimated_and_refused_where_it_cannot_fit(
    monkeypatch, tmp_path, capsys
):
    """A million-point grid: with full tables it cannot fit this machine; outputs-only it fits
    a large machine but not a small one. Either way one line, nothing written."""
    values = ", ".join(f"{i / 1000:.3f}" for i in range(1000))
    spec = tmp_path / "grid.toml"
    spec.write_text(
        'description = "grid"\nscenario = "hague-2035"\ndesign = "grid"\nreplications = 50\n'
        f"seed = 1\n[parameters]\nfree_riding = {{ values = [{values}] }}\n"
        f"pledge_commitment = {{ values = [{values}] }}\n"
        '[[outputs]]\nname = "n"\ncolumn = "allies_ge_3_5pct_core"\nyear = 2035\n'
    )
    done = _cli("sweep", str(spec), "--out", str(tmp_path / "tables"), "--keep", "tables")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "1000000 design points x 50 replications: needs about" in done.stderr
    assert "the limit is" in done.stderr and not (tmp_path / "tables").exists()
    _small_machine(monkeypatch)
    assert main(["sweep", str(spec), "--out", str(tmp_path / "outputs")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "1000000 design points x 50 replications" in err[0]
    assert not (tmp_path / "outputs").exists()
