"""What a command will take, estimated before it starts: refuse what this machine cannot hold.

The per-run figures are measured on the CI-class machine (2 cores; ``docs/benchmarks.md`` and
``experiments/bench_sweeps.py``) and rounded up. A plan that cannot fit in memory or on disk is
refused; one that merely takes long is refused unless the user says ``--allow-long``.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import psutil

TABLES_DISK_PER_RUN = 21_000
"""Bytes of Parquet per stored run with full tables (631 MB for 30,720 hague-2035 runs)."""
OUTPUTS_DISK_PER_RUN = 100
"""Bytes per run of an outputs-only sweep (58.8 MB for a million runs with four outputs)."""
PLAN_MEMORY_PER_RUN = {"tables": 1_000, "outputs": 50, "none": 0}
"""Bytes the driver holds per planned run: a batch plans every run (seeds, chunks: ~480
measured); an outputs-only sweep holds its design points (a few hundred bytes each)."""
TABLE_MEMORY_PER_RUN = 150_000
"""Bytes per run of tables built in one process: validation ~110k; ``alliance run``'s forecast
(``make_forecast``) ~145k, peak resident memory (``/usr/bin/time -v alliance run hague-2035
--replications N``, 2026-11-28) 501 MB at N = 2,000, 791 MB at 4,000 and 1,353 MB at 8,000."""
SECONDS_PER_RUN = {"ensemble": 1 / 2000, "mesa": 1 / 15, "hindcast": 1 / 500}
"""Seconds per run on one worker (``docs/benchmarks.md``: ensemble 2,201-2,885 runs/s with
tables in one process; a Mesa batch 32 runs/s on two workers). ``hindcast``: ``alliance
calibrate``'s differential evolution, a 32-run hindcast with its tables per evaluation: 1,080
runs/s on one worker measured (``--population 1 --replications 32 --workers 1``, generations 2
then 8: 60 more evaluations in 1.8 s), but the README's default fit (about 102,000 runs) takes
about 3 min on 2 cores, 280 runs/s a worker; 500 runs/s between the two."""
ABC_SIMULATED_PER_PARTICLE = 5
"""Particles ABC-SMC simulates per particle accepted, in a generation after the first (a prior
sample, all accepted). ``sim.abc``'s sampler has no bound (pyABC's ``max_eval`` is infinite); the
shipped posterior (``docs/posterior.md``) simulated 2.1-4.2 per accepted particle per generation,
and the sampler simulates up to 1.2 times what it expects to need."""
ABC_PARTICLE_RUNS = 10
"""The time ABC-SMC spends on a particle besides its runs (proposal, kernel, pyABC's database),
in runs: 4-5 ms a particle measured (``docs/posterior.md``: 11.4 ms a particle of 16 runs;
``alliance calibrate --method abc --particles 800 --generations 6 --replications 2``: 14,801
particles in 85 s)."""
ABC_PARTICLE_MEMORY = 30_000
"""Bytes per particle and generation of an ABC-SMC history held in memory (pyABC's in-memory
database, every generation's statistics). Peak resident memory of ``alliance calibrate --method
abc --particles 800 --replications 2`` (2026-11-28): 470 MB with ``--generations 1``, 515 MB with
3, 593 MB with 6, 22-31 kB per particle and generation; the shipped posterior peaked at 677 MB
for 1,000 particles x 11 generations (the prior sample included)."""
WORKER_MEMORY = 400 * 2**20
"""Resident memory of one worker process (model, data, one chunk)."""
LONG_S = 12 * 3600
"""Plans estimated to take longer need ``--allow-long``."""
MEMORY_SHARE = 0.8
"""Share of the machine's available memory a plan may use."""


class LimitError(Exception):
    """A plan that cannot (or should not, without ``--allow-long``) run here (one line)."""


@dataclass(frozen=True)
class Estimate:
    """What a plan will take.

    Attributes:
        runs: Runs in the plan.
        memory: Peak memory of the driver and its workers (bytes).
        disk: Bytes written.
        seconds: Wall time on the workers given.
    """

    runs: int
    memory: int
    disk: int
    seconds: float

    def describe(self, workers: int) -> str:
        """The estimate in words."""
        return (
            f"about {_bytes(self.memory)} of memory, {_bytes(self.disk)} on disk and "
            f"{_duration(self.seconds)} on {workers} worker{'s' if workers > 1 else ''}"
        )


def estimate(
    runs: int,
    *,
    engine: str = "ensemble",
    keep: str = "tables",
    workers: int = 1,
    in_memory: bool = False,
    held: int | None = None,
    memory: int = 0,
) -> Estimate:
    """Estimate a plan of ``runs`` runs.

    Args:
        runs: Runs in the plan.
        engine: ``ensemble``, ``mesa`` or ``hindcast`` (calibration's evaluations).
        keep: ``tables`` (every run's tables on disk), ``outputs`` (a sweep's outputs only) or
            ``none`` (nothing written).
        workers: Worker processes.
        in_memory: Whether the runs' tables are held in memory (``alliance run``'s forecast,
            validation, calibration).
        held: The runs held in memory at once, over all processes (default: every run).
        memory: Bytes held besides the runs (an ABC-SMC history).
    """
    per_run_disk = {"tables": TABLES_DISK_PER_RUN, "outputs": OUTPUTS_DISK_PER_RUN, "none": 0}
    per_run = TABLE_MEMORY_PER_RUN if in_memory else PLAN_MEMORY_PER_RUN[keep]
    memory += (runs if held is None else held) * per_run
    return Estimate(
        runs=runs,
        memory=memory + workers * WORKER_MEMORY,
        disk=runs * per_run_disk[keep],
        seconds=runs * SECONDS_PER_RUN[engine] / max(1, workers),
    )


def check_plan(
    plan: Estimate, flag: str, workers: int, out: Path | None = None, allow_long: bool = False
) -> None:
    """Refuse a plan this machine cannot hold, or one that takes long without ``--allow-long``.

    Args:
        plan: The estimate.
        flag: What the user typed that sets its size (named in the message).
        workers: Worker processes.
        out: Where it writes (free space is checked at its nearest existing folder).
        allow_long: The user accepts a long run.

    Raises:
        LimitError: One line naming the flag, the estimate and the limit.
    """
    memory = int(psutil.virtual_memory().available * MEMORY_SHARE)
    if plan.memory > memory:
        limit = f"the limit is {_bytes(memory)} ({MEMORY_SHARE:.0%} of the memory available)"
        raise LimitError(f"{flag}: needs {plan.describe(workers)}; {limit}")
    if out is not None and plan.disk:
        free = shutil.disk_usage(_existing(out)).free
        if plan.disk > free:
            where = f"{_bytes(free)} is free at {_existing(out)}"
            raise LimitError(f"{flag}: needs {plan.describe(workers)}; {where}")
    if plan.seconds > LONG_S and not allow_long:
        hint = f"add --allow-long to run plans longer than {_duration(LONG_S)}"
        raise LimitError(f"{flag}: needs {plan.describe(workers)}; {hint}")


def check_workers(workers: int, cluster: bool = True) -> None:
    """Refuse more local workers than ``max_workers()``.

    Args:
        workers: The local workers asked for.
        cluster: Whether the command can run on a cluster instead (``--scheduler``).

    Raises:
        LimitError: One line naming ``--workers``, the limit and, with ``cluster``, the way out.
    """
    most = max_workers()
    if workers > most:
        remedy = (
            "use --scheduler to run on a cluster" if cluster else f"use --workers {most} or fewer"
        )
        raise LimitError(
            f"--workers {workers}: this machine holds at most {most} local workers (four per "
            f"CPU, within its free memory); {remedy}"
        )


def max_workers() -> int:
    """The most local worker processes this machine can hold: four per CPU, within memory."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    room = int(psutil.virtual_memory().available * MEMORY_SHARE) // WORKER_MEMORY
    return max(1, min(4 * (cpus or 1), room))


def _existing(path: Path) -> Path:
    path = Path(path).resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _bytes(n: float) -> str:
    if n < 1000:
        return f"{n:.0f} B"
    for unit in ("kB", "MB", "GB", "TB"):
        n /= 1000
        if n < 1000:
            return f"{n:.1f} {unit}"
    return f"{n / 1000:.1f} PB"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.0f} days"
