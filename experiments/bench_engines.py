"""Benchmark of the two engines and of the batch executors on the hague-2035 scenario.

What it measures, with the batch seed 1 and the default worker count (all CPUs):

1. Engine throughput, in runs per second:

   - batches on the same executor: ``run_batch(engine="mesa")`` and ``run_batch(engine=
     "ensemble")`` on the same number of runs (``--mesa-runs``), and the ensemble engine on a
     large batch (``--large-runs``), all with ``executor="processes"``, each into a fresh
     temporary directory (pool start-up and the Parquet store included);
   - serial, in memory: a ``run_scenario`` loop against one ``run_ensemble`` call on the same
     seeds, in this process, with no store.

2. A large batch as a user runs it: ``alliance batch hague-2035 --replications N --out TMP
   --no-progress`` in a subprocess. Wall time includes interpreter start-up; peak memory is the
   largest total RSS of the process tree (driver and all its descendants), sampled every 50 ms.
   A sum of RSS counts memory shared between processes once per process, so it errs high.

3. Executors: the large ensemble batch on Dask (a ``LocalCluster`` started by ``run_batch``)
   against the same batch on local processes (the timing of item 1).

An untimed warm-up first starts the forkserver that later process pools reuse, so the first
batch timed does not bear it. Every timing is repeated ``--repeat`` times; the report gives
the median and the minimum. The report, in Markdown, lists the machine, versions and command
line, the results, and whether each target is met: ensemble >= 50x Mesa runs/s; a 10,000-run
batch in < 10 s wall and < 2 GiB peak; Dask within 1.5x of processes.

Run it from the repository root, on an otherwise idle machine (the full run takes minutes)::

    source .venv/bin/activate
    python experiments/bench_engines.py                       # full benchmark
    python experiments/bench_engines.py --markdown bench.md   # also write the report
    python experiments/bench_engines.py --quick               # smoke check: small, 1 repeat
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import psutil

from sim.batch import CHUNK_SIZE, run_batch
from sim.ensemble import run_ensemble
from sim.executors import default_workers
from sim.provenance import git_commit
from sim.run import run_scenario
from sim.scenario import Scenario, load_scenario
from sim.shocks import replication_seeds

SCENARIO = "hague-2035"
SEED = 1
PACKAGES = ("mesa", "numpy", "pandas", "pyarrow", "dask", "distributed")
SAMPLE_INTERVAL_S = 0.05
GIB = 2**30
FULL = {"mesa_runs": 200, "large_runs": 10_000, "repeat": 3}
QUICK = {"mesa_runs": 20, "large_runs": 1_000, "repeat": 1}
TARGET_SPEEDUP = 50.0
TARGET_RUNS = 10_000
TARGET_WALL_S = 10.0
TARGET_PEAK_GIB = 2.0
TARGET_DASK_RATIO = 1.5


@dataclass(frozen=True)
class Sizes:
    """How much the benchmark runs.

    Attributes:
        mesa_runs: Runs of the Mesa batch, of the equal-size ensemble batch and of the serial loop.
        large_runs: Runs of the large ensemble batch, the CLI batch and the Dask batch.
        repeat: Repetitions of every timing.
        quick: Whether these are the ``--quick`` smoke-check sizes.
    """

    mesa_runs: int
    large_runs: int
    repeat: int
    quick: bool


@dataclass(frozen=True)
class Timing:
    """The wall times of one measurement, repeated.

    Attributes:
        label: What was timed.
        runs: Runs per repetition.
        seconds: Wall time of each repetition.
        peak_gib: Largest peak RSS of the process tree over the repetitions (GiB), if sampled.
    """

    label: str
    runs: int
    seconds: tuple[float, ...]
    peak_gib: float | None = None

    @property
    def median(self) -> float:
        """Median wall time (s)."""
        return statistics.median(self.seconds)

    @property
    def best(self) -> float:
        """Shortest wall time (s)."""
        return min(self.seconds)

    @property
    def runs_per_s(self) -> float:
        """Runs per second at the median wall time."""
        return self.runs / self.median


@dataclass(frozen=True)
class Results:
    """Every measurement of the benchmark.

    Attributes:
        mesa_batch: Mesa engine, processes executor, ``mesa_runs`` runs.
        ensemble_batch: Ensemble engine, processes executor, ``mesa_runs`` runs.
        ensemble_large: Ensemble engine, processes executor, ``large_runs`` runs.
        mesa_serial: ``run_scenario`` loop in this process, ``mesa_runs`` seeds.
        ensemble_serial: One ``run_ensemble`` call in this process, the same seeds.
        cli: ``alliance batch`` in a subprocess, ``large_runs`` runs, with peak memory.
        dask: Ensemble engine, Dask ``LocalCluster``, ``large_runs`` runs.
        cli_dask: ``alliance batch --executor dask`` in a subprocess, ``large_runs`` runs.
    """

    mesa_batch: Timing
    ensemble_batch: Timing
    ensemble_large: Timing
    mesa_serial: Timing
    ensemble_serial: Timing
    cli: Timing
    dask: Timing
    cli_dask: Timing


# --- measurements -----------------------------------------------------------------------------
def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def measure(label: str, runs: int, once: Callable[[], float], repeat: int) -> Timing:
    """Time ``once`` (which returns its own wall time) ``repeat`` times."""
    _log(f"{label}: {runs} runs x {repeat}")
    return Timing(label, runs, tuple(once() for _ in range(repeat)))


def _check_complete(status: dict[str, int], runs: int) -> None:
    if status["ok"] != runs:
        raise RuntimeError(f"batch incomplete: {status} (expected {runs} runs ok)")


def time_batch(engine: str, executor: str, runs: int) -> float:
    """Wall time of one hague-2035 batch written to a fresh temporary directory."""
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        tic = time.perf_counter()
        result = run_batch(
            [SCENARIO],
            runs,
            SEED,
            engine=engine,
            executor=executor,
            out=Path(tmp) / "batch",
            progress=False,
        )
        elapsed = time.perf_counter() - tic
        _check_complete(result.manifest["status"], runs)
    return elapsed


def time_mesa_serial(scenario: Scenario, seeds: Sequence[int]) -> float:
    """Wall time of one ``run_scenario`` per seed, in this process."""
    tic = time.perf_counter()
    for seed in seeds:
        run_scenario(scenario, seed)
    return time.perf_counter() - tic


def time_ensemble_serial(scenario: Scenario, seeds: Sequence[int]) -> float:
    """Wall time of one ``run_ensemble`` call on all the seeds, in this process."""
    tic = time.perf_counter()
    run_ensemble(scenario, seeds)
    return time.perf_counter() - tic


def tree_rss(process: psutil.Process) -> int:
    """Total resident memory (bytes) of a process and all its descendants."""
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for member in members:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):  # ended meanwhile
            total += member.memory_info().rss
    return total


class PeakTreeRss:
    """Samples a process tree's total RSS in a background thread while in its ``with`` block.

    Args:
        pid: The root process.
        interval: Seconds between samples.

    Attributes:
        peak: The largest total seen so far (bytes).
    """

    def __init__(self, pid: int, interval: float = SAMPLE_INTERVAL_S):
        """Prepare to sample the tree rooted at ``pid``."""
        self.peak = 0
        self._process = psutil.Process(pid)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakTreeRss:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, tree_rss(self._process))
            if self._stop.wait(self._interval):
                return


def alliance_command() -> str:
    """The ``alliance`` command installed beside this Python, else the one on ``PATH``."""
    beside = Path(sys.executable).with_name("alliance")
    found = str(beside) if beside.exists() else shutil.which("alliance")
    if found is None:
        raise SystemExit("bench_engines: no `alliance` command (install with pip install -e .)")
    return found


def cli_arguments(runs: int, out: str, executor: str = "processes") -> list[str]:
    """Arguments of ``alliance`` for the CLI batch."""
    return [
        "batch", SCENARIO, "--replications", str(runs), "--out", out, "--no-progress",
        "--executor", executor,
    ]  # fmt: skip


def time_cli(runs: int, executor: str) -> tuple[float, int]:
    """Run the CLI batch in a subprocess.

    Returns:
        (wall time in seconds, start-up included; peak total RSS of its process tree in bytes).

    Raises:
        RuntimeError: The command failed (its output is in the message).
    """
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        argv = [alliance_command(), *cli_arguments(runs, str(Path(tmp) / "batch"), executor)]
        log = Path(tmp) / "output.txt"
        with log.open("w", encoding="utf-8") as sink:
            tic = time.perf_counter()
            child = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT)
            with PeakTreeRss(child.pid) as memory:
                returncode = child.wait()
            elapsed = time.perf_counter() - tic
        if returncode != 0:
            output = log.read_text(encoding="utf-8")
            raise RuntimeError(f"{shlex.join(argv)} exited with {returncode}:\n{output}")
    return elapsed, memory.peak


def measure_cli(runs: int, repeat: int, executor: str = "processes") -> Timing:
    """Time the CLI batch ``repeat`` times; keep the largest peak memory."""
    _log(f"alliance batch (CLI, {executor}): {runs} runs x {repeat}")
    samples = [time_cli(runs, executor) for _ in range(repeat)]
    seconds = tuple(elapsed for elapsed, _ in samples)
    peak = max(peak for _, peak in samples) / GIB
    label = f"`alliance batch --executor {executor}` (CLI subprocess), ensemble"
    return Timing(label, runs, seconds, peak)


def warm_up(scenario: Scenario, seed: int) -> None:
    """Pay one-off costs before any timing, so that no measurement bears them for the others.

    The first process pool starts the forkserver (which imports ``sim.batch``), and later pools
    of this process reuse it; the first runs in this process load data and compile caches.
    """
    _log("warm-up")
    time_batch("ensemble", "processes", 1)
    run_scenario(scenario, seed)
    run_ensemble(scenario, [seed])


def run_benchmark(sizes: Sizes) -> Results:
    """Take every measurement, in a fixed order."""
    n, big, rep = sizes.mesa_runs, sizes.large_runs, sizes.repeat
    scenario = load_scenario(SCENARIO)
    seeds = replication_seeds(SEED, 0, n)
    warm_up(scenario, seeds[0])
    return Results(
        mesa_batch=measure(
            "Mesa batch, processes", n, lambda: time_batch("mesa", "processes", n), rep
        ),
        ensemble_batch=measure(
            "Ensemble batch, processes", n, lambda: time_batch("ensemble", "processes", n), rep
        ),
        ensemble_large=measure(
            "Ensemble batch (large), processes",
            big,
            lambda: time_batch("ensemble", "processes", big),
            rep,
        ),
        mesa_serial=measure(
            "Mesa `run_scenario` loop, serial, in memory",
            n,
            lambda: time_mesa_serial(scenario, seeds),
            rep,
        ),
        ensemble_serial=measure(
            "Ensemble `run_ensemble`, serial, in memory",
            n,
            lambda: time_ensemble_serial(scenario, seeds),
            rep,
        ),
        cli=measure_cli(big, rep),
        dask=measure(
            "Ensemble batch (large), Dask LocalCluster",
            big,
            lambda: time_batch("ensemble", "dask", big),
            rep,
        ),
        cli_dask=measure_cli(big, rep, "dask"),
    )


# --- the report -------------------------------------------------------------------------------
def cpu_model() -> str:
    """The CPU model named in ``/proc/cpuinfo`` (else what ``platform`` knows)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                return value.strip()
    return platform.processor() or "unknown"


def package_version(name: str) -> str:
    """Installed version of a distribution, or "not installed"."""
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def machine_section() -> list[str]:
    """Markdown table of the machine and the software versions."""
    rows = [
        ("CPU", cpu_model()),
        ("Cores available", f"{len(os.sched_getaffinity(0))} (os.cpu_count: {os.cpu_count()})"),
        ("RAM", f"{psutil.virtual_memory().total / GIB:.1f} GiB"),
        ("OS", platform.platform()),
        ("Python", platform.python_version()),
        *((name, package_version(name)) for name in PACKAGES),
    ]
    return ["| Item | Value |", "|---|---|", *(f"| {key} | {value} |" for key, value in rows)]


def results_section(results: Results) -> list[str]:
    """Markdown table of every timing."""
    lines = [
        "| Measurement | Runs | Median s | Min s | Runs/s (median) | Peak RSS GiB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for t in (getattr(results, field.name) for field in fields(results)):
        peak = "" if t.peak_gib is None else f"{t.peak_gib:.2f}"
        lines.append(
            f"| {t.label} | {t.runs:,} | {t.median:.2f} | {t.best:.2f} | "
            f"{t.runs_per_s:,.0f} | {peak} |"
        )
    return lines


def _verdict(met: bool) -> str:
    return "yes" if met else "**no**"


def speedup_rows(r: Results) -> list[tuple[str, ...]]:
    """Ensemble / Mesa runs per second, like with like, against the 50x target."""
    pairs = (
        (
            f"Ensemble / Mesa runs/s, batches of {r.mesa_batch.runs:,}",
            r.ensemble_batch,
            r.mesa_batch,
        ),
        (
            f"Ensemble ({r.ensemble_large.runs:,}) / Mesa ({r.mesa_batch.runs:,}) runs/s, batches",
            r.ensemble_large,
            r.mesa_batch,
        ),
        ("Ensemble / Mesa runs/s, serial in memory", r.ensemble_serial, r.mesa_serial),
    )
    rows = []
    for name, ensemble, mesa in pairs:
        speedup = ensemble.runs_per_s / mesa.runs_per_s
        rows.append(
            (
                name,
                f"{speedup:.1f}x",
                f">= {TARGET_SPEEDUP:g}x",
                _verdict(speedup >= TARGET_SPEEDUP),
            )
        )
    return rows


def cli_rows(cli: Timing) -> list[tuple[str, ...]]:
    """Wall time and peak memory of the CLI batch against the 10,000-run targets."""
    peak = cli.peak_gib or 0.0  # always sampled for the CLI batch
    if cli.runs == TARGET_RUNS:
        wall_met = _verdict(cli.median < TARGET_WALL_S)
        peak_met = _verdict(peak < TARGET_PEAK_GIB)
    else:
        wall_met = peak_met = f"not assessed ({cli.runs:,} runs, target is for {TARGET_RUNS:,})"
    return [
        (
            f"CLI batch of {cli.runs:,}: wall (median)",
            f"{cli.median:.2f} s",
            f"< {TARGET_WALL_S:g} s",
            wall_met,
        ),
        (
            f"CLI batch of {cli.runs:,}: peak RSS of the process tree",
            f"{peak:.2f} GiB",
            f"< {TARGET_PEAK_GIB:g} GiB",
            peak_met,
        ),
    ]


def dask_row(dask: Timing, processes: Timing, how: str) -> tuple[str, ...]:
    """Dask / processes wall time on the same ensemble batch against the 1.5x target."""
    ratio = dask.median / processes.median
    return (
        f"Dask / processes wall (median), ensemble batch of {dask.runs:,}, {how}",
        f"{ratio:.2f}x",
        f"<= {TARGET_DASK_RATIO:g}x",
        _verdict(ratio <= TARGET_DASK_RATIO),
    )


def targets_section(r: Results) -> list[str]:
    """Markdown table of the ratios and of whether each target is met."""
    rows = [
        *speedup_rows(r),
        *cli_rows(r.cli),
        dask_row(r.cli_dask, r.cli, "CLI, both from a cold start"),
        dask_row(r.dask, r.ensemble_large, "in process (the process pool's forkserver warm)"),
    ]
    header = ["| Comparison | Measured | Target | Met |", "|---|---:|---|---|"]
    return header + [f"| {' | '.join(row)} |" for row in rows]


def render(results: Results, sizes: Sizes) -> str:
    """The whole Markdown report."""
    mode = "quick (smoke-check sizes: not representative)" if sizes.quick else "full"
    cli = shlex.join(["alliance", *cli_arguments(sizes.large_runs, "TMP")])
    lines = [
        f"# Engine benchmark: {SCENARIO}",
        "",
        f"- Date (UTC): {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"- Command: `{shlex.join(sys.orig_argv)}`",
        f"- Mode: {mode}; every timing repeated {sizes.repeat}x (median and min reported)",
        f"- Git commit: {git_commit() or 'unknown'}",
        f"- Batch seed {SEED}; processes and Dask executors: {default_workers()} workers (default)",
        f"- CLI batch run as: `{cli}`",
        "",
        "## Machine",
        "",
        *machine_section(),
        "",
        "## Results",
        "",
        *results_section(results),
        "",
        "## Targets",
        "",
        *targets_section(results),
        "",
        "Notes:",
        "",
        "- Batch timings include pool start-up and writing the Parquet store to a temp directory,",
        "  not the forkserver's start (a warm-up batch pays it once); the CLI timing includes",
        "  interpreter start-up, imports and the forkserver, as a user sees them.",
        f"- A batch of at most {CHUNK_SIZE['ensemble']} ensemble runs is one task on one worker;",
        "  the large batch shows the ensemble engine with every worker busy.",
        "- Peak RSS is the sum over the process tree sampled every "
        f"{SAMPLE_INTERVAL_S * 1000:.0f} ms; shared pages count once per process.",
    ]
    return "\n".join(lines)


# --- command line -----------------------------------------------------------------------------
def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> tuple[Sizes, Path | None]:
    """Read the options.

    Returns:
        (what to run, where to write the report or None).
    """
    parser = argparse.ArgumentParser(
        description="Benchmark the Mesa and ensemble engines and the batch executors.",
    )
    parser.add_argument(
        "--mesa-runs", type=_positive, help=f"Mesa batch size (default {FULL['mesa_runs']})"
    )
    parser.add_argument(
        "--large-runs",
        type=_positive,
        help=f"large ensemble, CLI and Dask batch size (default {FULL['large_runs']:,})",
    )
    parser.add_argument(
        "--repeat", type=_positive, help=f"repetitions per timing (default {FULL['repeat']})"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke check: defaults of "
        + ", ".join(f"{key.replace('_', '-')} {value}" for key, value in QUICK.items()),
    )
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write the report")
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else FULL
    chosen = {key: getattr(args, key) or default for key, default in preset.items()}
    return Sizes(**chosen, quick=args.quick), args.markdown


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the report and optionally write it to a file."""
    sizes, markdown = parse_args(argv)
    report = render(run_benchmark(sizes), sizes)
    print(report)
    if markdown is not None:
        markdown.write_text(report + "\n", encoding="utf-8")
        _log(f"report written to {markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
