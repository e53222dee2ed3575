"""A sweep's runs, outputs only: chunks that mix design points, reduced inside the worker.

Each task runs every replication of a range of consecutive design points at once
(``simulate_points``: one parameter set per run) and keeps only what the experiment reads:
one row per run with its scalar outputs, and per design point and year the replication mean
of each series column. Seeds are the batch's (``sim.shocks.points_seeds``), so a point's numbers
are those of ``alliance batch`` (and ``alliance sweep --keep tables``) of the same runs.

Layout of the folder (a ``BatchStore`` with these tables)::

    manifest.json                 spec summary, fingerprint, versions, status counts
    outputs/part-<chunk>.parquet  sample, replication, one column per output (runs ok)
    series/part-<chunk>.parquet   sample, year, one column per series (replication means)
    runs/part-<chunk>.parquet     sample, replication, seed, status, error (written last)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from sim.batch import chunk_status, execute_chunks
from sim.ensemble import Recorded, simulate_points
from sim.executors import open_executor
from sim.experiment import Experiment, Output
from sim.provenance import git_commit, versions
from sim.scenario import Scenario
from sim.shocks import points_seeds
from sim.store import BatchStore, encode

FORMAT = "alliance-sim sweep outputs 1"
KEEP = ("outputs", "tables")
"""What a sweep stores: each run's outputs only (this module), or every run's full tables."""
TABLES = ("outputs", "series", "runs")
"""The tables of an outputs-only sweep, written in this order for each chunk."""
CHUNK_RUNS = 1000
"""Runs per task: about 0.3 s of work on one core, and arrays that stay small."""


@dataclass(frozen=True)
class PointsChunk:
    """A task: every replication of a range of consecutive design points.

    Attributes:
        id: The chunk's id (its first design point, zero-padded).
        base: The experiment's scenario.
        samples: Design point indices.
        names: The varied parameters.
        values: Their values, one row per point.
        replications: Runs per point.
        seed: The sweep's root seed.
        outputs: The scalar outputs to keep.
        series: Alliance columns to keep per year (replication means).
    """

    id: str
    base: Scenario
    samples: tuple[int, ...]
    names: tuple[str, ...]
    values: np.ndarray
    replications: int
    seed: int
    outputs: tuple[Output, ...]
    series: tuple[str, ...]

    @property
    def size(self) -> int:
        """Runs in the chunk."""
        return len(self.samples) * self.replications


def plan_point_chunks(
    experiment: Experiment, samples: pd.DataFrame, chunk_runs: int = CHUNK_RUNS
) -> list[PointsChunk]:
    """Every chunk of the sweep, in design point order."""
    per_chunk = max(1, chunk_runs // experiment.replications)
    width = max(5, len(str(len(samples))))
    index = samples.index.to_numpy()
    names = tuple(samples.columns)
    values = samples.to_numpy(dtype=float)
    chunks = []
    for first in range(0, len(samples), per_chunk):
        last = min(first + per_chunk, len(samples))
        chunks.append(
            PointsChunk(
                f"{index[first]:0{width}d}",
                experiment.scenario,
                tuple(int(i) for i in index[first:last]),
                names,
                values[first:last],
                experiment.replications,
                experiment.seed,
                experiment.outputs,
                experiment.series,
            )
        )
    return chunks


# --- the task a worker runs -------------------------------------------------------------------
def run_points_chunk(chunk: PointsChunk) -> tuple[dict[str, bytes | None], int]:
    """The task a worker runs: a chunk's outputs, series and runs tables, encoded as Parquet.

    The chunk's runs go at once; if that raises, each run is retried alone so only the failing
    runs are lost (their outputs are NaN and their status ``failed``).

    Returns:
        (Parquet bytes of each table, or None if empty; number of failed runs).
    """
    points = [
        chunk.base.with_parameters(**dict(zip(chunk.names, row, strict=True)))
        for row in chunk.values.tolist()
    ]
    seeds = points_seeds(chunk.seed, chunk.samples, chunk.replications).tolist()
    ally_columns = sorted({o.column for o in chunk.outputs if o.table == "allies"})
    alliance_columns = sorted(
        {o.column for o in chunk.outputs if o.table == "alliance"} | set(chunk.series)
    )

    def simulate(which: list[int], seeds_of: list[list[int]]) -> Recorded:
        return simulate_points([points[i] for i in which], seeds_of, ally_columns, alliance_columns)

    errors: dict[tuple[int, int], str] = {}
    everything = list(range(len(points)))
    try:
        rec = simulate(everything, seeds)
        recorded = [(rec.point, np.arange(len(rec.seeds)) % chunk.replications, rec)]
    except Exception:
        recorded = []
        for i, seeds_of_point in enumerate(seeds):
            for r, seed in enumerate(seeds_of_point):
                try:
                    recorded.append(([i], [r], simulate([i], [[seed]])))
                except Exception as exc:
                    errors[(i, r)] = f"{type(exc).__name__}: {exc}"
    outputs, series = _reduce(chunk, seeds, recorded, errors)
    runs = pd.DataFrame(
        {
            "sample": np.repeat(np.array(chunk.samples, dtype="int64"), chunk.replications),
            "replication": np.tile(np.arange(chunk.replications, dtype="int64"), len(points)),
            "seed": np.array([s for ss in seeds for s in ss], dtype="int64"),
        }
    )
    failed = [(i, r) in errors for i in range(len(points)) for r in range(chunk.replications)]
    runs["status"] = np.where(failed, "failed", "ok")
    runs["error"] = pd.Series(
        [errors.get((i, r)) for i in range(len(points)) for r in range(chunk.replications)],
        dtype="string",
    )
    parts = {"outputs": encode(outputs), "series": encode(series), "runs": encode(runs)}
    return parts, len(errors)


def _reduce(
    chunk: PointsChunk,
    seeds: list[list[int]],
    recorded: list[tuple[np.ndarray, np.ndarray, Recorded]],
    errors: dict,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each run's outputs and each point's series means, from what the runs recorded.

    ``recorded`` holds, for each call that succeeded, its runs' points and replications.
    """
    n_points, reps = len(chunk.samples), chunk.replications
    years = np.asarray(chunk.base.years, dtype="int64")
    values = {o.name: np.full((n_points, reps), np.nan) for o in chunk.outputs}
    sums = {c: np.zeros((n_points, len(years))) for c in chunk.series}
    for point, replication, rec in recorded:
        for o in chunk.outputs:
            at = int(np.flatnonzero(years == o.year)[0])
            if o.table == "alliance":
                got = rec.alliance[o.column][:, at]
            else:
                got = rec.allies[o.column][:, at, int(np.flatnonzero(rec.iso3 == o.ally)[0])]
            values[o.name][point, replication] = got
        for c in chunk.series:
            np.add.at(sums[c], point, rec.alliance[c])
    failed = np.array([[(i, r) in errors for r in range(reps)] for i in range(n_points)])
    ok = reps - failed.sum(axis=1)
    samples = np.array(chunk.samples, dtype="int64")
    outputs = pd.DataFrame(
        {
            "sample": np.repeat(samples, reps),
            "replication": np.tile(np.arange(reps, dtype="int64"), n_points),
            **{name: v.reshape(-1) for name, v in values.items()},
        }
    )[~failed.reshape(-1)]
    kept = ok > 0
    series = pd.DataFrame(
        {
            "sample": np.repeat(samples[kept], len(years)),
            "year": np.tile(years, int(kept.sum())),
            **{c: (sums[c][kept] / ok[kept, None]).reshape(-1) for c in chunk.series},
        }
    )
    return outputs, series


# --- the driver -------------------------------------------------------------------------------
def fingerprint(experiment: Experiment, samples: pd.DataFrame, chunk_runs: int) -> str:
    """Hash of what fixes the sweep's numbers and chunks (a resumed sweep must have the same)."""
    spec = {
        "chunk_runs": chunk_runs,
        "scenario": experiment.scenario.to_dict(),
        "replications": experiment.replications,
        "seed": experiment.seed,
        "outputs": [vars(o) for o in experiment.outputs],
        "series": list(experiment.series),
        "samples": hashlib.sha256(pd.util.hash_pandas_object(samples).to_numpy()).hexdigest(),
        "columns": list(samples.columns),
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def run_points(
    experiment: Experiment,
    samples: pd.DataFrame,
    out: Path,
    *,
    executor: str = "processes",
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool | None = None,
    chunk_runs: int | None = None,
) -> BatchStore:
    """Run (or complete) an outputs-only sweep into ``out``.

    Args:
        experiment: The experiment.
        samples: Its design points (index: sample number; columns: parameters).
        out: The folder of the runs (``<sweep>/runs``).
        executor: ``processes`` (default), ``serial`` or ``dask``.
        workers: Worker processes (default: all CPUs).
        scheduler: Address of an existing Dask scheduler (implies ``dask``).
        resume: Complete the sweep already in ``out``.
        progress: Show a progress bar (default: when stderr is a terminal).
        chunk_runs: Runs per task, whole design points (default ``CHUNK_RUNS``, or on resume
            the sweep's own).

    Returns:
        The store, every chunk done.

    Raises:
        StoreError: ``out`` holds another sweep, or nothing to resume.
        BatchInterrupted, KeyboardInterrupt: Finished chunks are saved; ``resume`` completes.
    """
    store = BatchStore(out, tables=TABLES)
    old = store.read_manifest()
    if chunk_runs is None:
        chunk_runs = old["spec"].get("chunk_runs", CHUNK_RUNS) if resume and old else CHUNK_RUNS
    key = fingerprint(experiment, samples, chunk_runs)
    hint = "--resume needs the same experiment and --chunk-size"
    store.check_start(old, key, resume, "sweep", hint, out.parent)
    store.check_writable()
    chunks = plan_point_chunks(experiment, samples, chunk_runs)
    kind = "dask" if scheduler else executor
    with store.lock(), open_executor(kind, workers, scheduler) as pool:
        store.check_unchanged(old)
        store.remove_unfinished()
        store.verify_chunks({c.id: c.size for c in chunks})
        done = store.done_chunks()
        manifest = _manifest(experiment, samples, key, store, chunks, kind, old)
        manifest["spec"]["chunk_runs"] = chunk_runs
        store.write_manifest(manifest)
        todo = [c for c in chunks if c.id not in done]
        execute_chunks(todo, store, pool, progress, manifest, run_points_chunk)
    return store


def _manifest(experiment, samples, key, store, chunks, executor, old) -> dict:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return {
        "format": FORMAT,
        "fingerprint": key,
        "keep": "outputs",
        "tables": list(TABLES),
        "spec": {
            "experiment": experiment.name,
            "scenario": experiment.scenario.name,
            "data_edition": experiment.scenario.data_edition,
            "plans": experiment.scenario.plans,
            "design": experiment.design,
            "points": len(samples),
            "replications": experiment.replications,
            "seed": experiment.seed,
            "outputs": [o.name for o in experiment.outputs],
            "series": list(experiment.series),
        },
        "created_utc": (old or {}).get("created_utc", now),
        "updated_utc": now,
        "versions": versions(),
        "git_commit": git_commit(),
        "executor": executor,
        "status": chunk_status(store, sum(c.size for c in chunks)),
    }
