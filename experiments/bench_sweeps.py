"""Benchmark of sweeps at array speed: per-run parameters, outputs-only stores, a million runs.

What it measures, in one run, on the machine it runs on (2 cores on CI):

1. In process, one core, on hague-2035 (2025-2035, 32 allies), runs per second of the
   process's CPU time (so other work on a shared machine does not count) of:

   - ``run_ensemble`` with its full tables (what a sweep point cost before outputs-only runs);
   - ``simulate_points`` recording every column, and recording only a sweep's outputs (one
     parameter set);
   - ``run_points_chunk`` on the Sobol sweep's first chunks (100 design points x 10
     replications per chunk): everything a sweep's worker does, from the design rows to the
     Parquet bytes.

2. ``alliance sweep experiments/sobol_2035.toml`` (30,720 runs) against ``alliance batch
   hague-2035 --replications 30720`` as a user runs them (subprocesses, interpreter start-up
   included, alternating, ``--repeat`` times each), with the ratio of medians and the size of
   each folder on disk.

3. With ``--million``: ``alliance sweep experiments/million_futures.toml`` (100,000 LHS points x
   10 replications), killed with SIGKILL once ``--kill-after`` chunks are stored, then resumed
   with ``--resume``: wall time of both parts, peak total RSS of each process tree (sampled
   every 50 ms), disk, and the runs stored.

Run it from the repository root, on an otherwise idle machine::

    source .venv/bin/activate
    python experiments/bench_sweeps.py --million --markdown bench.md
    python experiments/bench_sweeps.py --quick      # smoke check: small, no million
    python experiments/bench_sweeps.py --in-process # part 1 only (a minute, no CLI runs)
    python experiments/bench_sweeps.py --profile    # where an outputs-only run's time goes
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
from bench_engines import GIB, PeakTreeRss, alliance_command

from sim.ensemble import run_ensemble, simulate_points
from sim.experiment import load_experiment
from sim.provenance import git_commit
from sim.scenario import load_scenario
from sim.shocks import replication_seeds
from sim.store import BatchStore
from sim.sweep import design
from sim.sweep_runs import plan_point_chunks, run_points_chunk

ROOT = Path(__file__).resolve().parents[1]
SOBOL = ROOT / "experiments" / "sobol_2035.toml"
MILLION = ROOT / "experiments" / "million_futures.toml"
OUTPUTS = {"ally_columns": ["personnel_k"], "alliance_columns": ["allies_ge_3_5pct_core",
           "capability_gap", "us_share_of_spending"]}  # fmt: skip
"""What the Sobol sweep records: its four outputs' columns."""
TARGETS = {"ratio": 1.25, "sweep_s": 15.0, "million_s": 180.0, "million_gib": 2.0,
           "million_gb_disk": 1.0, "runs_per_s": 15_000}  # fmt: skip


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def best_rate(runs: int, once, repeat: int) -> float:
    """Runs per CPU second at the fastest of ``repeat`` calls of ``once``."""
    best = float("inf")
    for _ in range(repeat):
        tic = time.process_time()
        once()
        best = min(best, time.process_time() - tic)
    return runs / best


def in_process(runs: int, repeat: int) -> dict[str, float]:
    """Runs per second of each in-process path, on this process's single core."""
    scenario = load_scenario("hague-2035")
    seeds = replication_seeds(1, 0, runs)
    simulate_points([scenario], [seeds[:10]])  # load data and warm caches
    experiment = load_experiment(SOBOL)
    chunks = plan_point_chunks(experiment, design(experiment))[:repeat]
    run_points_chunk(chunks[0])
    _log(f"in process: {runs} runs, best of {repeat}")
    tic = time.process_time()
    for chunk in chunks:
        run_points_chunk(chunk)
    chunk_rate = sum(c.size for c in chunks) / (time.process_time() - tic)
    return {
        "full tables (run_ensemble)": best_rate(
            runs, lambda: run_ensemble(scenario, seeds), repeat
        ),
        "every column, no tables (simulate_points)": best_rate(
            runs, lambda: simulate_points([scenario], [seeds]), repeat
        ),
        "outputs only, one parameter set (simulate_points)": best_rate(
            runs, lambda: simulate_points([scenario], [seeds], **OUTPUTS), repeat
        ),
        "outputs only, Sobol chunks of 100 points x 10 (run_points_chunk)": chunk_rate,
    }


PHASES = {
    "stack_shocks": "drawing each run's shocks (its own generator)",
    "placed_orders": "placing orders (split, pipeline moved on and summed)",
    "observe": "the yearly measures both engines read",
    "chosen_spending": "the spending choice",
    "industry_update": "industry: fill and capacity",
    "delivered_stock": "deliveries and depreciation",
    "recruited": "personnel",
}
"""The engine's phases (functions ``simulate_points`` calls), as the profile names them."""


def profile(runs: int) -> str:
    """Share of ``simulate_points``'s time (outputs only, ``runs`` runs) in each phase."""
    import cProfile
    import pstats

    scenario, seeds = load_scenario("hague-2035"), replication_seeds(1, 0, runs)
    simulate_points([scenario], [seeds[:10]], **OUTPUTS)  # load data and warm caches
    profiler = cProfile.Profile()
    profiler.runcall(simulate_points, [scenario], [seeds], **OUTPUTS)
    stats = pstats.Stats(profiler).stats
    total = max(cumulative for _, _, _, cumulative, _ in stats.values())
    rows = [f"cProfile of simulate_points, {runs} runs of hague-2035, outputs only: "
            f"{total:.3f} s\n", "| Phase | Share |", "|---|---:|"]  # fmt: skip
    for name, label in PHASES.items():
        cumulative = sum(v[3] for (_, _, fn), v in stats.items() if fn == name)
        rows.append(f"| {label} (`{name}`) | {cumulative / total:.0%} |")
    return "\n".join(rows)


def du_mb(path: Path) -> float:
    """Disk use of a folder (MB), as ``du -sk``."""
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0]) / 1024


def run_cli(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, peak tree RSS GiB) of one ``alliance`` command; raise if it fails."""
    tic = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    with PeakTreeRss(child.pid) as memory:
        _, stderr = child.communicate()
    elapsed = time.perf_counter() - tic
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {child.returncode}: {stderr}")
    return elapsed, memory.peak / GIB


def sweep_vs_batch(repeat: int, tmp: Path) -> dict:
    """The Sobol sweep and the batch of as many runs, alternating."""
    alliance = alliance_command()
    runs = 3072 * 10
    sweeps, batches = [], []
    for i in range(repeat):
        _log(f"sobol sweep vs batch of {runs} runs, round {i + 1} of {repeat}")
        sweep_out, batch_out = tmp / f"sweep{i}", tmp / f"batch{i}"
        sweeps.append(run_cli([alliance, "sweep", str(SOBOL), "--out", str(sweep_out),
                               "--no-progress"]))  # fmt: skip
        batches.append(run_cli([alliance, "batch", "hague-2035", "--replications", str(runs),
                                "--uncertainty", "shocks",  # a sweep's runs draw no posterior
                                "--out", str(batch_out), "--no-progress"]))  # fmt: skip
    result = {
        "sweep_s": [round(s, 2) for s, _ in sweeps],
        "batch_s": [round(s, 2) for s, _ in batches],
        "sweep_peak_gib": round(max(m for _, m in sweeps), 2),
        "batch_peak_gib": round(max(m for _, m in batches), 2),
        "sweep_mb": round(du_mb(tmp / "sweep0"), 1),
        "batch_mb": round(du_mb(tmp / "batch0"), 1),
    }
    result["ratio"] = round(
        statistics.median(result["sweep_s"]) / statistics.median(result["batch_s"]), 3
    )
    for i in range(repeat):
        shutil.rmtree(tmp / f"batch{i}")
    return result


def million(tmp: Path, kill_after: int) -> dict:
    """The million-run sweep, killed with SIGKILL after ``kill_after`` chunks, then resumed."""
    alliance, out = alliance_command(), tmp / "million"
    argv = [alliance, "sweep", str(MILLION), "--out", str(out), "--no-progress"]
    _log(f"million-run sweep: kill -9 after {kill_after} chunks")
    tic = time.perf_counter()
    child = subprocess.Popen(argv, start_new_session=True, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)  # fmt: skip
    store = BatchStore(out / "runs")
    with PeakTreeRss(child.pid) as first:
        while len(store.done_chunks()) < kill_after:
            if child.poll() is not None:
                raise RuntimeError("the million-run sweep ended before it could be killed")
            time.sleep(0.05)
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    killed_s = time.perf_counter() - tic
    orphans = [p.pid for p in psutil.process_iter(["cmdline"]) if str(MILLION) in
               " ".join(p.info["cmdline"] or [])]  # fmt: skip
    _log(f"killed after {killed_s:.1f} s; resuming")
    resumed_s, resumed_gib = run_cli([*argv, "--resume"])
    manifest = json.loads((out / "runs" / "manifest.json").read_text())
    return {
        "killed_after_s": round(killed_s, 1),
        "killed_chunks": kill_after,
        "first_peak_gib": round(first.peak / GIB, 2),
        "resumed_s": round(resumed_s, 1),
        "resumed_peak_gib": round(resumed_gib, 2),
        "total_s": round(killed_s + resumed_s, 1),
        "disk_mb": round(du_mb(out), 1),
        "status": manifest["status"],
        "orphans_after_kill": orphans,
    }


def markdown(args: argparse.Namespace, rates: dict, sobol: dict | None, big: dict | None) -> str:
    """The report."""
    full = rates["full tables (run_ensemble)"]
    lines = [
        "### Sweep benchmark",
        "",
        f"- Date (UTC): {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"- Command: `python experiments/bench_sweeps.py {' '.join(sys.argv[1:])}`",
        f"- Git commit: {git_commit() or 'unknown'}",
        f"- Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / GIB:.1f} GiB, Python {platform.python_version()}",
        "",
        f"#### In process, one core ({args.runs} runs of hague-2035, best of {args.repeat}, "
        "CPU time)",
        "",
        "| Path | Runs/s | x full tables |",
        "|---|---|---|",
    ]
    for label, rate in rates.items():
        lines.append(f"| {label} | {rate:,.0f} | {rate / full:.2f} |")
    target = TARGETS["runs_per_s"]
    best = rates["outputs only, one parameter set (simulate_points)"]
    lines += [
        "",
        f"Target >= {target:,} runs/s outputs-only: {'met' if best >= target else 'NOT met'}.",
    ]
    if sobol is None:
        return "\n".join(lines) + "\n"
    lines += [
        "",
        f"#### Sobol sweep vs batch of 30,720 runs (CLI, {args.repeat} rounds, alternating)",
        "",
        "| Command | Wall s (each round) | Peak RSS GiB | Disk MB |",
        "|---|---|---|---|",
        f"| `alliance sweep experiments/sobol_2035.toml` | {sobol['sweep_s']} | "
        f"{sobol['sweep_peak_gib']} | {sobol['sweep_mb']} |",
        f"| `alliance batch hague-2035 --replications 30720` | {sobol['batch_s']} | "
        f"{sobol['batch_peak_gib']} | {sobol['batch_mb']} |",
        "",
        f"Ratio of medians (sweep / batch): {sobol['ratio']} (target <= {TARGETS['ratio']}: "
        f"{'met' if sobol['ratio'] <= TARGETS['ratio'] else 'NOT met'}); sweep median "
        f"{statistics.median(sobol['sweep_s']):.1f} s (target < {TARGETS['sweep_s']:.0f} s: "
        f"{'met' if statistics.median(sobol['sweep_s']) < TARGETS['sweep_s'] else 'NOT met'}).",
    ]
    if big is not None:
        peak = max(big["first_peak_gib"], big["resumed_peak_gib"])
        lines += [
            "",
            "#### A million runs: `alliance sweep experiments/million_futures.toml`",
            "",
            f"Killed with SIGKILL after {big['killed_chunks']} chunks ({big['killed_after_s']} s),"
            f" resumed with `--resume`: {big['resumed_s']} s; total {big['total_s']} s "
            f"(target < {TARGETS['million_s']:.0f} s: "
            f"{'met' if big['total_s'] < TARGETS['million_s'] else 'NOT met'}). Peak RSS of the "
            f"process tree {peak} GiB (target < {TARGETS['million_gib']}), disk "
            f"{big['disk_mb']} MB (target < 1 GB). Stored: {big['status']}. Processes left "
            f"after the kill: {big['orphans_after_kill'] or 'none'}.",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Parse arguments, measure, print (and write) the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000, help="in-process runs (2000)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions (3)")
    parser.add_argument("--million", action="store_true", help="also the million-run sweep")
    parser.add_argument("--kill-after", type=int, default=300, help="chunks before kill -9")
    parser.add_argument("--quick", action="store_true", help="small sizes, one repetition")
    parser.add_argument("--in-process", action="store_true", help="only the in-process rates")
    parser.add_argument("--markdown", type=Path, help="also write the report here")
    parser.add_argument("--profile", action="store_true", help="only where the time goes")
    args = parser.parse_args()
    if args.profile:
        print(profile(1000))
        return
    if args.quick:
        args.runs, args.repeat, args.million = 200, 1, False
    rates = in_process(args.runs, args.repeat)
    sobol = big = None
    if not args.in_process:
        with tempfile.TemporaryDirectory(prefix="bench-sweeps-") as tmp:
            sobol = sweep_vs_batch(args.repeat, Path(tmp))
            big = million(Path(tmp), args.kill_after) if args.million else None
    report = markdown(args, rates, sobol, big)
    print(report)
    if args.markdown:
        args.markdown.write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
