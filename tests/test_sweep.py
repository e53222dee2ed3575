import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from sim.cli import main
from sim.ensemble import run_ensemble
from sim.experiment import ExperimentError, load_experiment
from sim.shocks import run_seeds
from sim.store import BatchStore, StoreError
from sim.sweep import SweepError, analyse_sweep, point_scenarios, run_sweep

SPEC = """
description = "test sweep"
scenario = "hague-2035"
design = "morris"
samples = {samples}
replications = {replications}
seed = 5

[parameters]
threat_response_pp = {{ range = [1.0, 6.0] }}
adjustment_speed = {{ range = [0.1, 0.8] }}
recruit_rate = {{ range = [0.01, 0.08] }}

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


def _spec(tmp_path: Path, samples: int = 3, replications: int = 2) -> Path:
    path = tmp_path / "screen.toml"
    path.write_text(SPEC.format(samples=samples, replications=replications))
    return path


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sweep")
    return run_sweep(load_experiment(_spec(tmp)), tmp / "out", executor="serial")


def test_sweep_writes_samples_outputs_series_and_indices(small):
    out = small.out
    for name in ("samples.parquet", "outputs.parquet", "series.parquet", "indices.csv"):
        assert (out / name).is_file()
    samples = pd.read_parquet(out / "samples.parquet")
    assert len(samples) == 3 * (3 + 1) and samples["sample"].tolist() == list(range(12))
    indices = pd.read_csv(out / "indices.csv")
    assert list(indices.columns) == ["parameter", "output", "mu_star", "mu_star_conf", "sigma"]
    assert len(indices) == 3 * 2 and (indices["mu_star"] >= 0).all()
    series = pd.read_parquet(out / "series.parquet")
    assert len(series) == 12 * 11 and set(series.columns) == {"sample", "year", "capability_gap"}


def test_outputs_are_the_replication_means_of_each_design_point(small):
    """Matched by sample index: point i's runs carry its parameters and seeds, and give its
    output (checked against the point run alone, with the batch's seeds)."""
    i = 7
    point = point_scenarios(small.experiment, small.samples.loc[[i]])[0]
    seeds = [seed for seed, _ in run_seeds(5, i + 1, 2)[i]]
    alone = run_ensemble(point, seeds).allies
    deu = alone[(alone["iso3"] == "DEU") & (alone["year"] == 2035)]["personnel_k"]
    assert small.output("germany_personnel_k_2035")[i] == deu.mean()
    store = BatchStore(small.out / "runs")
    runs = store.query(f"SELECT seed FROM runs WHERE sample = {i} ORDER BY replication")
    assert runs["seed"].tolist() == seeds
    manifest = store.read_manifest()
    assert manifest["keep"] == "outputs" and manifest["spec"]["replications"] == 2
    assert small.outputs.groupby("output")["runs"].min().min() == 2


def test_keeping_full_tables_gives_the_same_numbers(small, tmp_path):
    """--keep tables stores every run's tables (a batch per point) and reads the same outputs,
    series and indices from them."""
    tables = run_sweep(small.experiment, tmp_path / "tables", executor="serial", keep="tables")
    pd.testing.assert_frame_equal(tables.outputs, small.outputs)
    pd.testing.assert_frame_equal(tables.series, small.series)
    pd.testing.assert_frame_equal(tables.indices, small.indices)
    store = BatchStore(tables.out / "runs")
    assert store.read_manifest()["spec"]["scenarios"][7] == "screen/00007"
    deu = store.query("SELECT count(*) AS n FROM allies WHERE iso3 = 'DEU'")["n"].item()
    assert deu == len(small.samples) * 2 * 11
    with pytest.raises(StoreError, match=r"--keep outputs: .* --keep tables"):
        run_sweep(small.experiment, tmp_path / "tables", executor="serial", resume=True)


def test_same_spec_same_numbers_whatever_the_executor(small, tmp_path):
    again = run_sweep(small.experiment, tmp_path / "again", executor="processes", workers=2)
    pd.testing.assert_frame_equal(again.outputs, small.outputs)
    pd.testing.assert_frame_equal(again.indices, small.indices)


def _cmd(spec: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "sim.cli", "sweep", str(spec), "--out", str(out), "--workers", "2",
        "--no-progress", *extra,
    ]  # fmt: skip


def test_a_killed_sweep_resumes_to_the_same_indices(tmp_path):
    spec = _spec(tmp_path, samples=40, replications=4)  # 160 points: still running when killed
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        _cmd(spec, out, "--chunk-size", "8"),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while len(BatchStore(out / "runs").done_chunks()) < 5:
        assert proc.poll() is None, "the sweep ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "indices.csv").exists()
    other = subprocess.run(
        _cmd(spec, out, "--resume", "--chunk-size", "9"), capture_output=True, text=True
    )
    assert other.returncode == 2 and "--chunk-size" in other.stderr  # chunks would overlap
    resumed = subprocess.run(_cmd(spec, out, "--resume"), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    whole = run_sweep(load_experiment(spec), tmp_path / "whole", executor="serial")
    pd.testing.assert_frame_equal(
        pd.read_csv(out / "indices.csv"), pd.read_csv(whole.out / "indices.csv")
    )
    pd.testing.assert_frame_equal(pd.read_parquet(out / "outputs.parquet"), whole.outputs)


def test_sigterm_stops_a_sweep_like_ctrl_c_and_its_workers_with_it(tmp_path):
    """SIGTERM to the driver alone: exit 143 with the resume hint, no worker left, and --resume
    completes to the uninterrupted sweep's outputs."""
    spec = _spec(tmp_path, samples=40, replications=4)
    out = tmp_path / "terminated"
    proc = subprocess.Popen(
        _cmd(spec, out, "--chunk-size", "8"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while len(BatchStore(out / "runs").done_chunks()) < 5:
        assert proc.poll() is None, "the sweep ended before it could be stopped"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGTERM)
    try:
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("alliance sweep: terminated (SIGTERM);") and "--resume" in last
    assert "Traceback" not in stderr
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"left running: {alive}"
    resumed = subprocess.run(_cmd(spec, out, "--resume"), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    whole = run_sweep(load_experiment(spec), tmp_path / "whole", executor="serial")
    pd.testing.assert_frame_equal(pd.read_parquet(out / "outputs.parquet"), whole.outputs)


def test_a_design_point_without_runs_is_named_not_analysed(small):
    extra = pd.concat([small.samples, small.samples.iloc[[0]].rename(index={0: 12})])
    with pytest.raises(SweepError, match=r"1 design points have no successful run") as info:
        analyse_sweep(small.experiment, small.out, extra)
    assert "e.g. screen/00012" in str(info.value)


def test_a_discovery_threshold_that_explains_nothing_exits_2_and_resume_completes(tmp_path, capsys):
    text = _spec(tmp_path).read_text() + (
        '\n[discovery]\noutput = "allies_ge_3_5pct_core_2035"\nbelow = 100\n'
    )
    spec = tmp_path / "screen.toml"
    spec.write_text(text)
    args = ["sweep", str(spec), "--out", str(tmp_path / "out"), "--executor", "serial"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1 and "discovery: allies_ge_3_5pct_core_2035 < 100 holds in 12 of 12" in err[0]
    )
    outputs = pd.read_parquet(tmp_path / "out" / "outputs.parquet")
    means = sorted(set(outputs[outputs["output"] == "allies_ge_3_5pct_core_2035"]["mean"]))
    split = (means[len(means) // 2 - 1] + means[len(means) // 2]) / 2  # some points below, some not
    spec.write_text(text.replace("below = 100", f"below = {split}"))
    assert main([*args, "--resume"]) == 0  # the runs were kept; only the analysis is redone
    assert (tmp_path / "out" / "prim_box.csv").is_file()


@pytest.mark.parametrize("keep", ["outputs", "tables"])
def test_a_design_point_that_breaks_a_constraint_is_refused_before_any_run(tmp_path, keep):
    path = tmp_path / "bad.toml"
    text = SPEC.format(samples=3, replications=1).replace(
        "recruit_rate = {", "debt_threshold_pct = { range = [100.0, 200.0] }\nrecruit_rate = {"
    )  # the default debt ceiling is 150% of GDP
    path.write_text(text)
    with pytest.raises(ExperimentError, match="150 must exceed debt_threshold_pct"):
        run_sweep(load_experiment(path), tmp_path / "out", executor="serial", keep=keep)
    assert not (tmp_path / "out" / "runs").exists()
