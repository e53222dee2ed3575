"""Scenario batches: replications of one or more scenarios, chunked, run anywhere, stored safely.

One root seed per batch (``sim.shocks.run_seeds``): scenario i gets
``SeedSequence(seed).spawn(n)[i]`` and its replication r gets that child's ``spawn(R)[r]``, whose
first 63 bits are the run's seed: ``alliance run SCENARIO --seed SEED`` re-runs it alone.
Runs go to workers in chunks (one scenario, consecutive replications); every finished chunk is
written to the store at once, so an interrupted batch resumes from the chunks it has, with no run
lost or repeated.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from sim.data import N_ALLIES, NO_FORCES
from sim.ensemble import point_tables, run_ensemble
from sim.executors import deferred_stop, open_executor
from sim.posterior import Posterior
from sim.provenance import git_commit, versions
from sim.scenario import Scenario, load_scenario
from sim.shocks import run_seeds
from sim.store import SPEC, BatchStore, StoreError, encode
from sim.uncertainty import fingerprint, resolve, run_scenarios

ENGINES = ("ensemble", "mesa")
CHUNK_SIZE = {"ensemble": 500, "mesa": 10}
"""Runs per task by engine: about 0.25 s (ensemble) and 1 s (Mesa) of work on one core."""
FORMAT = "alliance-sim batch 1"
STOP_POLL_S = 0.2
"""How often the driver checks for Ctrl-C or SIGTERM while it waits for tasks."""
SUMMARY_MEASURES = ("allies_ge_3_5pct_core", "capability_gap", "mean_core_pct_gdp")


class BatchError(Exception):
    """A batch cannot run as asked (reported as one line, exit status 2)."""


class BatchInterrupted(Exception):  # noqa: N818 (an event, not an error of the caller)
    """The batch stopped before every run was done; what finished is saved."""


@dataclass(frozen=True)
class PlannedRun:
    """One run of a batch.

    Attributes:
        scenario: The scenario's name.
        replication: Its replication number within the scenario (0-based).
        seed: The run's seed (``alliance run SCENARIO --seed SEED`` reproduces it).
        spawn_key: The ``SeedSequence`` spawn key the seed came from.
    """

    scenario: str
    replication: int
    seed: int
    spawn_key: tuple[int, ...]

    @property
    def run_key(self) -> str:
        """Unique key of the run in its batch."""
        return f"{self.scenario}/{self.replication}"


@dataclass(frozen=True)
class Chunk:
    """A task: consecutive replications of one scenario, run by one engine."""

    id: str
    scenario: Scenario
    engine: str
    runs: tuple[PlannedRun, ...]
    posterior: Posterior | None = field(default=None, compare=False)

    @property
    def size(self) -> int:
        """Runs in the chunk."""
        return len(self.runs)


@dataclass(frozen=True)
class BatchSpec:
    """Everything that fixes a batch's results (the executor does not).

    Attributes:
        scenarios: The resolved scenarios, parameters included.
        replications: Runs per scenario.
        seed: The root seed.
        engine: ``ensemble`` or ``mesa``.
        chunk_size: Runs per task.
        uncertainty: ``shocks`` or ``posterior`` (``sim.uncertainty``).
        posterior: The posterior runs draw parameters from (None with shocks alone).
    """

    scenarios: tuple[Scenario, ...]
    replications: int
    seed: int
    engine: str
    chunk_size: int
    uncertainty: str = "shocks"
    posterior: Posterior | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        """Default directory name: the scenario names joined by ``+``."""
        return "+".join(s.name for s in self.scenarios)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, resolved scenarios included."""
        return {
            "scenarios": [s.name for s in self.scenarios],
            "replications": self.replications,
            "seed": self.seed,
            "engine": self.engine,
            "chunk_size": self.chunk_size,
            "uncertainty": self.uncertainty,
            "posterior": fingerprint(self.posterior),
            "data_editions": {s.name: s.data_edition for s in self.scenarios},
            "plans": {s.name: s.plans for s in self.scenarios},
            "definitions": [s.to_dict() for s in self.scenarios],
        }

    @property
    def fingerprint(self) -> str:
        """Hash of ``to_dict``: a resumed batch must have the same."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def plan_chunks(spec: BatchSpec) -> list[Chunk]:
    """Every chunk of the batch, in scenario and replication order."""
    chunks = []
    seeds_by_scenario = run_seeds(spec.seed, len(spec.scenarios), spec.replications)
    width = max(3, len(str(len(spec.scenarios) - 1)))  # chunk ids sort in scenario order
    for i, (scenario, seeds) in enumerate(zip(spec.scenarios, seeds_by_scenario, strict=True)):
        for first in range(0, spec.replications, spec.chunk_size):
            runs = tuple(
                PlannedRun(scenario.name, r, *seeds[r])
                for r in range(first, min(first + spec.chunk_size, spec.replications))
            )
            chunk_id = f"{i:0{width}d}-{first:07d}"
            chunks.append(Chunk(chunk_id, scenario, spec.engine, runs, spec.posterior))
    return chunks


# --- the task a worker runs -------------------------------------------------------------------
def _simulate(engine: str, points: list[Scenario], seeds: list[int]) -> tuple[pd.DataFrame, ...]:
    """Run ``seeds[r]`` with ``points[r]``: one scenario for all, or each run's posterior draw."""
    if engine == "ensemble" and len(set(map(id, points))) == 1:
        result = run_ensemble(points[0], seeds)
        return result.allies, result.alliance
    if engine == "ensemble":
        return point_tables(points, [[seed] for seed in seeds])
    from sim.run import run_scenario  # Mesa, imported only where Mesa runs are asked for

    results = [run_scenario(point, seed) for point, seed in zip(points, seeds, strict=True)]
    return (
        pd.concat([r.allies for r in results], ignore_index=True),
        pd.concat([r.alliance for r in results], ignore_index=True),
    )


def _error(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


def run_chunk(chunk: Chunk) -> tuple[dict[str, bytes | None], int]:
    """The task a worker runs: a chunk's tables, encoded as Parquet where they are computed.

    Returns:
        (Parquet bytes of each table, or None if empty; number of failed runs).
    """
    tables = chunk_tables(chunk)
    failed = int((tables["runs"]["status"] == "failed").sum())
    return {name: encode(table) for name, table in tables.items()}, failed


def chunk_tables(chunk: Chunk) -> dict[str, pd.DataFrame]:
    """Run a chunk's runs; a run that raises is recorded with its error, the others go on.

    The ensemble engine runs the chunk at once; if that raises, each run is retried alone so
    only the failing runs are lost. A run's duration is its share of the time spent on it.

    Returns:
        The chunk's ``allies``, ``alliance`` and ``runs`` tables.
    """
    seeds = [run.seed for run in chunk.runs]
    points, draws = run_scenarios(chunk.scenario, seeds, chunk.posterior)
    draws = [None] * len(seeds) if draws is None else draws.tolist()
    tic = time.perf_counter()
    errors: dict[int, str] = {}
    try:
        frames = [_simulate(chunk.engine, points, seeds)]
        durations = [(time.perf_counter() - tic) / len(seeds)] * len(seeds)
    except Exception:
        frames, durations = [], []
        for run, point in zip(chunk.runs, points, strict=True):
            tic = time.perf_counter()
            try:
                frames.append(_simulate(chunk.engine, [point], [run.seed]))
            except Exception as exc:
                errors[run.seed] = _error(exc)
            durations.append(time.perf_counter() - tic)
    tables = {"allies": pd.DataFrame(), "alliance": pd.DataFrame()}  # every run failed
    if frames:
        for name, parts in zip(("allies", "alliance"), zip(*frames, strict=True), strict=True):
            tables[name] = _with_run_keys(pd.concat(parts, ignore_index=True), chunk)
    tables["runs"] = pd.DataFrame(
        {
            "run_key": [run.run_key for run in chunk.runs],
            "scenario": chunk.scenario.name,
            "replication": np.array([run.replication for run in chunk.runs], dtype="int64"),
            "seed": np.array(seeds, dtype="int64"),
            "spawn_key": [list(run.spawn_key) for run in chunk.runs],
            "engine": chunk.engine,
            "posterior_draw": pd.array(draws, dtype="Int64"),
            "status": ["failed" if run.seed in errors else "ok" for run in chunk.runs],
            "error": pd.Series([errors.get(run.seed) for run in chunk.runs], dtype="string"),
            "duration_s": durations,
        }
    )
    return tables


def _with_run_keys(table: pd.DataFrame, chunk: Chunk) -> pd.DataFrame:
    """Insert ``replication`` and ``run_key`` after ``seed``."""
    which = pd.Index([run.seed for run in chunk.runs]).get_indexer(table["seed"])
    replications = np.array([run.replication for run in chunk.runs], dtype="int64")
    at = table.columns.get_loc("seed") + 1
    table.insert(at, "replication", replications[which])
    keys = [run.run_key for run in chunk.runs]
    table.insert(at + 1, "run_key", pd.Categorical.from_codes(which, keys).astype(str))
    return table


# --- the driver -------------------------------------------------------------------------------
class BatchResult:
    """A batch directory's results, read on demand.

    Args:
        root: The batch directory.
    """

    def __init__(self, root: str | Path):
        """Open the batch stored in ``root``."""
        self.store = BatchStore(root)
        self.root = self.store.root
        manifest = self.store.read_manifest()
        if manifest is None:
            raise StoreError(f"{self.root}: not a batch directory (no manifest.json)")
        self.manifest = manifest

    @cached_property
    def allies(self) -> pd.DataFrame:
        """One row per run, year and ally."""
        return self.store.read("allies")

    @cached_property
    def alliance(self) -> pd.DataFrame:
        """One row per run and year."""
        return self.store.read("alliance")

    @cached_property
    def runs(self) -> pd.DataFrame:
        """One row per run: seed, spawn key, status, error, duration."""
        return self.store.read("runs")

    def query(self, sql: str) -> pd.DataFrame:
        """DuckDB SQL over the views ``allies``, ``alliance`` and ``runs``."""
        return self.store.query(sql)

    def summary(self) -> pd.DataFrame:
        """Per scenario, in its final year: median and 5-95% band of the headline measures."""
        parts = [f"quantile_cont({m}, [0.05, 0.5, 0.95]) AS {m}" for m in SUMMARY_MEASURES]
        sql = (
            f"SELECT scenario, max(year) AS year, count(*) AS runs, {', '.join(parts)} "
            "FROM alliance a WHERE year = (SELECT max(year) FROM alliance b "
            "WHERE b.scenario = a.scenario) GROUP BY scenario"
        )
        table = self.query(sql)
        order = {name: i for i, name in enumerate(self.manifest["spec"]["scenarios"])}
        return table.sort_values("scenario", key=lambda s: s.map(order)).reset_index(drop=True)


def format_summary(result: BatchResult) -> str:
    """The per-scenario summary as readable lines."""
    status = result.manifest["status"]
    lines = [
        f"{status['ok']} runs ok, {status['failed']} failed, {status['pending']} pending "
        f"(results in {result.root}/)."
    ]
    if status["ok"] == 0:
        return lines[0]
    lines.append(
        f"Median [5%-95%] in the final year; counts are of the {N_ALLIES - len(NO_FORCES)} "
        f"allies with armed forces (not {', '.join(NO_FORCES)}):"
    )
    labels = {
        "allies_ge_3_5pct_core": ("allies >= 3.5% core", "{:.0f}"),
        "capability_gap": ("capability gap, share", "{:.3f}"),
        "mean_core_pct_gdp": ("mean core % GDP", "{:.2f}"),
    }
    for row in result.summary().itertuples():
        lines.append(f"  {row.scenario} ({row.year}, {row.runs} runs):")
        for m, (label, fmt) in labels.items():
            lo, mid, hi = getattr(row, m)
            lines.append(f"    {label:22} {fmt.format(mid)} [{fmt.format(lo)} - {fmt.format(hi)}]")
    return "\n".join(lines)


def _manifest(spec: BatchSpec, store: BatchStore, chunks: list[Chunk], **extra) -> dict:
    """The manifest as the batch (re)starts, with status counts from the chunks already done."""
    old = store.read_manifest() or {}
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return {
        "format": FORMAT,
        "fingerprint": spec.fingerprint,
        "spec": {k: v for k, v in spec.to_dict().items() if k != "definitions"}
        | {"definitions": SPEC},
        "created_utc": old.get("created_utc", now),
        "updated_utc": now,
        "versions": versions(),
        "git_commit": git_commit(),
        "status": chunk_status(store, sum(len(c.runs) for c in chunks)),
        **extra,
    }


def chunk_status(store: BatchStore, total: int) -> dict[str, int]:
    """Status counts of a batch (or sweep) of ``total`` runs, from the chunks its store holds."""
    runs = store.read("runs")
    ok = int((runs["status"] == "ok").sum()) if len(runs) else 0
    return {"runs": total, "ok": ok, "failed": len(runs) - ok, "pending": total - len(runs)}


def make_spec(
    scenarios: Sequence[str | Scenario],
    replications: int = 100,
    seed: int = 1,
    engine: str = "ensemble",
    chunk_size: int | None = None,
    uncertainty: str | None = "shocks",
    posterior: Posterior | None = None,
    **parameters: float,
) -> BatchSpec:
    """Resolve and check a batch's scenarios and settings.

    ``uncertainty`` is ``shocks``, ``posterior`` or None (posterior if the project has one);
    ``posterior`` replaces the project's (``sim.uncertainty.resolve``).

    Raises:
        ScenarioError: Unknown scenario or invalid parameter.
        BatchError: Any other bad setting.
    """
    if not scenarios:
        raise BatchError("no scenario given")
    if engine not in ENGINES:
        raise BatchError(f"unknown engine {engine!r} (expected one of {', '.join(ENGINES)})")
    if replications < 1:
        raise BatchError(f"replications must be at least 1, got {replications}")
    if chunk_size is not None and chunk_size < 1:
        raise BatchError(f"chunk size must be at least 1, got {chunk_size}")
    if not 0 <= seed < 2**63:
        raise BatchError(f"seed must be between 0 and 2**63-1, got {seed}")
    resolved = tuple(
        s.with_parameters(**parameters)
        if isinstance(s, Scenario)
        else load_scenario(s, **parameters)
        for s in scenarios
    )
    names = [s.name for s in resolved]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise BatchError(f"scenario listed twice: {', '.join(twice)}")
    try:
        uncertainty, posterior = resolve(uncertainty, posterior)
    except ValueError as exc:
        raise BatchError(str(exc)) from None
    size = chunk_size or CHUNK_SIZE[engine]
    return BatchSpec(resolved, replications, seed, engine, size, uncertainty, posterior)


def run_batch(
    scenarios: Sequence[str | Scenario],
    replications: int = 100,
    seed: int = 1,
    *,
    engine: str = "ensemble",
    executor: str = "processes",
    workers: int | None = None,
    scheduler: str | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    chunk_size: int | None = None,
    progress: bool | None = None,
    uncertainty: str | None = "shocks",
    posterior: Posterior | None = None,
    **parameters: float,
) -> BatchResult:
    """Run (or complete) a batch and return its results.

    Args:
        scenarios: Scenario names, TOML paths or loaded scenarios.
        replications: Runs per scenario.
        seed: Root seed of the batch.
        engine: ``ensemble`` (default) or ``mesa``; both give the same numbers.
        executor: ``processes`` (default), ``serial`` or ``dask``.
        workers: Worker processes (default: all CPUs).
        scheduler: Address of an existing Dask scheduler (implies ``dask``).
        out: Batch directory (default ``results/batch-<scenarios>``).
        resume: Complete the batch already in ``out``; it must have the same spec.
        chunk_size: Runs per task (default 500 for the ensemble engine, 10 for Mesa).
        progress: Show a progress bar (default: when stderr is a terminal).
        uncertainty: ``shocks``, ``posterior``, or None for the posterior if the project has one
            (``sim.uncertainty``).
        posterior: A posterior to draw from instead of the project's.
        **parameters: Parameter values that replace every scenario's.

    Returns:
        The batch's results. Runs that raised are in ``runs`` with status ``failed``.

    Raises:
        BatchError, ScenarioError, StoreError, ExecutorError: Bad input (nothing is run).
        BatchInterrupted: A worker died before the end; finished chunks are saved.
        Stopped: Ctrl-C or SIGTERM (a ``KeyboardInterrupt``); finished chunks are saved.
    """
    spec = make_spec(
        scenarios, replications, seed, engine, chunk_size, uncertainty, posterior, **parameters
    )
    store = BatchStore(out if out is not None else Path("results") / f"batch-{spec.name}")
    old = store.read_manifest()
    hint = "--resume needs the same scenarios, parameters, replications, seed, engine, uncertainty"
    store.check_start(old, spec.fingerprint, resume, "batch spec", hint)
    store.check_writable()
    chunks = plan_chunks(spec)
    with store.lock(), open_executor("dask" if scheduler else executor, workers, scheduler) as pool:
        store.check_unchanged(old)
        store.remove_unfinished()
        store.verify_chunks({c.id: c.size for c in chunks})
        done = store.done_chunks()
        manifest = _manifest(spec, store, chunks, executor="dask" if scheduler else executor)
        store.write_spec(spec.to_dict())
        store.write_manifest(manifest)
        todo = [c for c in chunks if c.id not in done]
        execute_chunks(todo, store, pool, progress, manifest, run_chunk)
    return BatchResult(store.root)


def execute_chunks(
    todo: Sequence,
    store: BatchStore,
    pool: Executor,
    progress: bool | None,
    manifest: dict,
    task: Callable[[Any], tuple[dict[str, bytes | None], int]],
) -> None:
    """Run ``task`` on each chunk on ``pool``; write each, and the manifest's counts, as it ends.

    Args:
        todo: Chunks (with ``id`` and ``size``, the runs they hold).
        store: Where finished chunks go.
        pool: The executor.
        progress: Show a progress bar (default: when stderr is a terminal).
        manifest: The manifest, its ``status`` counts kept current.
        task: Runs a chunk: (Parquet bytes per table, failed runs).
    """
    total = sum(c.size for c in todo)
    bar = tqdm(total=total, unit="run", disable=None if progress is None else not progress)
    status = manifest["status"]
    chunk_of: dict[Future, Any] = {pool.submit(task, c): c for c in todo}
    pending = set(chunk_of)
    try:
        with deferred_stop() as check_stop:
            while pending:
                check_stop()
                finished, pending = wait(pending, STOP_POLL_S, return_when="FIRST_COMPLETED")
                for future in finished:
                    try:
                        parts, chunk_failed = future.result()
                    except Exception as exc:  # the task itself died (run errors are caught)
                        raise BatchInterrupted(f"a task failed ({_error(exc)})") from None
                    runs = chunk_of[future].size
                    store.write_chunk(chunk_of[future].id, parts)
                    status["ok"] += runs - chunk_failed
                    status["failed"] += chunk_failed
                    status["pending"] -= runs
                    manifest["updated_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
                    store.write_manifest(manifest)
                    bar.set_postfix(failed=status["failed"], refresh=False)
                    bar.update(runs)
    except BaseException:
        for future in pending:  # stop now: runs not started are left for --resume
            future.cancel()
        # The signal may have come between a chunk's write and its count: recount from the store.
        manifest["status"] = chunk_status(store, status["runs"])
        store.write_manifest(manifest)
        raise
    finally:
        bar.close()
