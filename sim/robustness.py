"""Robustness of policy designs: re-evaluation across sampled futures, satisficing and regret.

Each design the search found is run in every future of a Latin hypercube of the uncertainties
(and, if asked, a draw of the posterior's parameters per future). Every design meets the same
future with the same seeds (common random numbers), so differences between designs in a future
are the designs' and not the shocks'. The runs go to workers in chunks of consecutive futures
and are written to a ``BatchStore`` as they finish, so an interrupted re-evaluation resumes
from the chunks it has.

Robustness metrics (McPhail et al. 2018, "Robustness metrics: how are they calculated, when
should they be used and why do they give different results?", Earth's Future 6):

- satisficing: the share of futures in which a design meets every objective's threshold;
- maximum regret: per objective, the largest shortfall of the design against the best design in
  the same future, ``max_f |best_f - value_df|``.

Layout of the store (``<out>/reeval``)::

    manifest.json                 fingerprint, designs, futures, status counts
    outcomes/part-<chunk>.parquet design, future, replication, one column per objective
    runs/part-<chunk>.parquet     design, future, replication, seed, status (written last)
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from sim.batch import FORMAT, chunk_status, execute_chunks
from sim.designs import sample
from sim.discovery import DiscoveryResult, discover
from sim.policy_spec import Objective, PolicySpec, simulate_objectives
from sim.posterior import Posterior, draw
from sim.provenance import git_commit, versions
from sim.scenario import Scenario
from sim.shocks import points_seeds
from sim.store import BatchStore, StoreError, encode
from sim.uncertainty import fingerprint as posterior_fingerprint
from sim.uncertainty import with_draw

TABLES = ("outcomes", "runs")
"""The re-evaluation store's tables, written in this order for each chunk."""
CHUNK_RUNS = 1000
"""Runs per task (whole futures): about half a second of work on one core."""


@dataclass(frozen=True)
class Futures:
    """The sampled futures.

    Attributes:
        values: One row per future (index ``future``): the parameters each future sets.
        seeds: (futures, replications) seeds; every design meets future f with ``seeds[f]``.
        draws: The posterior draw of each future, or None.
    """

    values: pd.DataFrame
    seeds: np.ndarray
    draws: np.ndarray | None


def sample_futures(spec: PolicySpec, posterior: Posterior | None) -> Futures:
    """The Latin hypercube of the uncertainties, with each future's seeds (and draw).

    Future f's seeds are ``points_seeds(spec.seed, [f + 1], replications)`` (index 0 is the
    reference future of the search). With a posterior, future f also takes the draw its first
    seed picks (``sim.posterior.draw``), for the parameters the scenario leaves at their defaults
    and the spec does not vary.
    """
    r = spec.robustness
    values = sample(
        "lhs",
        spec.uncertainties,
        samples=r.futures,
        levels=2,
        seed=spec.seed,
        baseline=spec.scenario.parameters,
    ).rename_axis("future")
    seeds = points_seeds(spec.seed, list(range(1, r.futures + 1)), r.replications)
    if posterior is None:
        return Futures(values, seeds, None)
    draws = draw(posterior, seeds[:, 0].tolist())
    varied = set(values.columns) | set(spec.lever_names)
    names = [n for n in posterior.names if n not in varied]
    drawn = [with_draw(spec.scenario, posterior, int(d)).parameters for d in draws]
    for name in names:
        values[name] = [p[name] for p in drawn]
    return Futures(values, seeds, draws)


@dataclass(frozen=True)
class ReevalChunk:
    """A task: every design in a range of consecutive futures.

    Attributes:
        id: The chunk's id (its first future, zero-padded).
        base: The scenario.
        levers: The lever names.
        designs: (designs, levers) values.
        futures: The futures' indices.
        columns: The parameters the futures set.
        values: (futures, columns) values.
        seeds: (futures, replications) seeds.
        objectives: What to measure.
    """

    id: str
    base: Scenario
    levers: tuple[str, ...]
    designs: np.ndarray
    futures: tuple[int, ...]
    columns: tuple[str, ...]
    values: np.ndarray
    seeds: np.ndarray
    objectives: tuple[Objective, ...]

    @property
    def size(self) -> int:
        """Runs in the chunk."""
        return len(self.futures) * len(self.designs) * self.seeds.shape[1]


def plan_chunks(
    spec: PolicySpec, designs: pd.DataFrame, futures: Futures, chunk_runs: int = CHUNK_RUNS
) -> list[ReevalChunk]:
    """Every chunk of the re-evaluation, in future order."""
    per_future = len(designs) * spec.robustness.replications
    per_chunk = max(1, chunk_runs // per_future)
    n = len(futures.values)
    width = max(5, len(str(n)))
    values = futures.values.to_numpy(dtype=float)
    lever_values = designs[spec.lever_names].to_numpy(dtype=float)
    return [
        ReevalChunk(
            f"{first:0{width}d}",
            spec.scenario,
            tuple(spec.lever_names),
            lever_values,
            tuple(range(first, min(first + per_chunk, n))),
            tuple(futures.values.columns),
            values[first : first + per_chunk],
            futures.seeds[first : first + per_chunk],
            spec.objectives,
        )
        for first in range(0, n, per_chunk)
    ]


def run_reeval_chunk(chunk: ReevalChunk) -> tuple[dict[str, bytes | None], int]:
    """The task a worker runs: every design in the chunk's futures, one row per run.

    Returns:
        (Parquet bytes of each table; failed runs, always 0: a failure stops the command).
    """
    n_designs, reps = len(chunk.designs), chunk.seeds.shape[1]
    parameters, seeds = [], []
    for future, seeds_of_future in zip(chunk.values.tolist(), chunk.seeds.tolist(), strict=True):
        setting = dict(zip(chunk.columns, future, strict=True))
        for design in chunk.designs.tolist():
            parameters.append(setting | dict(zip(chunk.levers, design, strict=True)))
            seeds.append(seeds_of_future)
    got = simulate_objectives(chunk.base, parameters, seeds, chunk.objectives)
    keys = {
        "design": np.tile(np.repeat(np.arange(n_designs), reps), len(chunk.futures)),
        "future": np.repeat(np.array(chunk.futures), n_designs * reps),
        "replication": np.tile(np.arange(reps), len(chunk.futures) * n_designs),
    }
    keys = {k: v.astype("int64") for k, v in keys.items()}
    flat = got.reshape(-1, len(chunk.objectives))
    outcomes = pd.DataFrame(keys | {o.name: flat[:, i] for i, o in enumerate(chunk.objectives)})
    runs = pd.DataFrame(keys | {"seed": np.repeat(chunk.seeds, n_designs, axis=0).reshape(-1)})
    runs["status"] = "ok"
    return {"outcomes": encode(outcomes), "runs": encode(runs)}, 0


def fingerprint(spec: PolicySpec, designs: pd.DataFrame, futures: Futures) -> str:
    """Hash of what fixes the re-evaluation's runs (a resumed one must have the same)."""
    content = {
        "designs": hashlib.sha256(designs[spec.lever_names].to_numpy().tobytes()).hexdigest(),
        "futures": hashlib.sha256(futures.values.to_numpy().tobytes()).hexdigest(),
        "columns": list(futures.values.columns),
        "seeds": hashlib.sha256(futures.seeds.tobytes()).hexdigest(),
        "objectives": [vars(o) | {"threshold": None} for o in spec.objectives],
        "scenario": spec.scenario.to_dict(),
        "chunk_runs": CHUNK_RUNS,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]


def reevaluate(
    spec: PolicySpec,
    designs: pd.DataFrame,
    futures: Futures,
    out: Path,
    pool: Executor,
    *,
    progress: bool | None,
    posterior: Posterior | None,
) -> pd.DataFrame:
    """Run (or complete) every design in every future; return the replication means.

    Args:
        spec: The spec.
        designs: One row per design (index ``design``), the levers as columns.
        futures: From ``sample_futures``.
        out: The store's folder (``<out>/reeval``).
        pool: The executor.
        progress: Show a progress bar (default: when stderr is a terminal).
        posterior: The posterior the futures drew from, or None.

    Returns:
        ``design, future`` and each objective's mean over the replications.

    Raises:
        StoreError: ``out`` holds the re-evaluation of other designs or futures.
        BatchInterrupted, KeyboardInterrupt: Finished chunks are saved; resuming completes.
    """
    store = BatchStore(out, tables=TABLES)
    old = store.read_manifest()
    key = fingerprint(spec, designs, futures)
    if old is not None and old.get("fingerprint") != key:
        raise StoreError(f"{out}: holds the re-evaluation of other designs or futures")
    chunks = plan_chunks(spec, designs, futures)
    store.check_writable()
    store.remove_unfinished()
    store.verify_chunks({c.id: c.size for c in chunks})
    done = store.done_chunks()
    now = datetime.now(UTC).isoformat(timespec="seconds")
    manifest = {
        "format": FORMAT,
        "fingerprint": key,
        "kind": "policy re-evaluation",
        "tables": list(TABLES),
        "spec": {
            "policy_search": spec.name,
            "scenario": spec.scenario.name,
            "designs": len(designs),
            "futures": len(futures.values),
            "replications": spec.robustness.replications,
            "seed": spec.seed,
            "posterior": posterior_fingerprint(posterior),
        },
        "created_utc": (old or {}).get("created_utc", now),
        "updated_utc": now,
        "versions": versions(),
        "git_commit": git_commit(),
        "status": chunk_status(store, sum(c.size for c in chunks)),
    }
    store.write_manifest(manifest)
    todo = [c for c in chunks if c.id not in done]
    execute_chunks(todo, store, pool, progress, manifest, run_reeval_chunk)
    runs = store.read("outcomes")
    means = runs.groupby(["design", "future"], sort=True)[spec.objective_names].mean()
    return means.reset_index()


# --- robustness metrics ------------------------------------------------------------------------
def satisficing(outcomes: pd.DataFrame, objectives: tuple[Objective, ...]) -> pd.Series:
    """Share of futures in which each design meets every threshold.

    Args:
        outcomes: ``design, future`` and one column per objective.
        objectives: The objectives (those without a threshold always count as met).

    Returns:
        The share per design (index ``design``).
    """
    met = np.ones(len(outcomes), dtype=bool)
    for o in objectives:
        met &= o.meets(outcomes[o.name].to_numpy())
    return pd.Series(met, index=outcomes.index).groupby(outcomes["design"]).mean()


def regret(outcomes: pd.DataFrame, objectives: tuple[Objective, ...]) -> pd.DataFrame:
    """Each design's regret in each future: its shortfall against the best design there.

    Returns:
        ``design, future`` and one column per objective (>= 0, in the objective's units).
    """
    out = outcomes[["design", "future"]].copy()
    for o in objectives:
        by_future = outcomes.groupby("future")[o.name]
        best = by_future.transform("max" if o.direction == "max" else "min")
        out[o.name] = (best - outcomes[o.name]).abs()
    return out


def robustness_table(outcomes: pd.DataFrame, objectives: tuple[Objective, ...]) -> pd.DataFrame:
    """Per design: satisficing share, and each objective's mean and maximum regret.

    Rows are ranked by satisficing share (highest first), ties by the first objective's
    maximum regret (lowest first).

    Returns:
        Index ``design``; columns ``satisficing``, ``<objective>_mean``,
        ``<objective>_max_regret``.
    """
    table = pd.DataFrame({"satisficing": satisficing(outcomes, objectives)})
    worst = regret(outcomes, objectives).groupby("design").max()
    means = outcomes.groupby("design").mean()
    for o in objectives:
        table[f"{o.name}_mean"] = means[o.name]
        table[f"{o.name}_max_regret"] = worst[o.name]
    first = f"{objectives[0].name}_max_regret"
    return table.sort_values(["satisficing", first], ascending=[False, True], kind="stable")


def breaking_futures(
    futures: pd.DataFrame, outcomes: pd.DataFrame, design: int, objectives: tuple[Objective, ...]
) -> DiscoveryResult | None:
    """PRIM (and CART) on the futures in which ``design`` misses a threshold.

    Args:
        futures: The futures' parameters (index ``future``).
        outcomes: ``design, future`` and one column per objective.
        design: The design.
        objectives: The objectives.

    Returns:
        The discovery result, or None when the design fails in no future or in every one.
    """
    mine = outcomes[outcomes["design"] == design].set_index("future").reindex(futures.index)
    met = np.ones(len(mine), dtype=bool)
    for o in objectives:
        met &= o.meets(mine[o.name].to_numpy())
    if met.all() or not met.any():
        return None
    varying = [c for c in futures.columns if futures[c].nunique() > 1]
    return discover(futures[varying], ~met)
