"""Policy search (many-objective robust decision making): ``alliance optimize SPEC.toml``.

1. **Search.** Platypus's epsilon-NSGA-II (or NSGA-II with an epsilon archive) searches the
   levers for designs on the Pareto front of the objectives in the reference future (the
   scenario as written), as EMA Workbench's ``optimize`` does, on its ``Problem``. Each
   generation's designs are run at once by the array engine (``simulate_objectives``), split
   across the workers, every design with the same seeds (common random numbers), so the
   objectives are deterministic in the levers. After every generation the algorithm's state
   (population, archive, counters and Python's ``random`` state, which Platypus draws from) is
   written atomically to ``search/generation-NNNNN.json``; ``--resume`` restores the last one and
   continues, giving the numbers of an uninterrupted search.
2. **Convergence.** Epsilon progress (the archive's improvements) per generation, and the
   hypervolume of the archive, normalised to the final archive's ranges, at up to
   ``HYPERVOLUME_POINTS`` generations.
3. **Re-evaluation** of every design of the final archive across a Latin hypercube of the
   uncertainties, and robustness metrics (``sim.robustness``).
4. **Report**: tables, a convergence plot, a parallel-coordinates plot and ``report.md``
   (``sim.policy_report``).

EMA's own ``optimize`` is not called: it runs the whole search in one call with nothing to
resume from, and its evaluators call the model once per design, where the array engine runs a
generation at once (about 110 runs/s for one design's 20 runs against about 2,400 runs/s for
100 designs on one core, measured on hague-2035).

Files in the folder (default ``results/optimize-<name>``)::

    manifest.json           fingerprint, spec summary, seeds, versions, git commit, stage
    policy_search.toml      the spec as run
    search/                 one checkpoint per generation
    designs.csv             the final archive: levers and objectives in the reference future
    convergence.csv, .png   nfe, epsilon progress, archive size, hypervolume
    futures.parquet         the futures (their parameters, and the posterior draw if any)
    reeval/                 the re-evaluation store (``sim.robustness``)
    outcomes.parquet        design x future: each objective's mean over replications
    robustness.csv          per design: satisficing share, mean and maximum regret
    prim_design_<d>.csv     PRIM box of the futures that break design d
    parcoords.png, report.md
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
import warnings
from collections.abc import Callable
from concurrent.futures import Executor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import platypus
from tqdm import tqdm

from sim.batch import STOP_POLL_S, BatchInterrupted
from sim.discovery import DiscoveryResult
from sim.executors import default_workers, deferred_stop, open_executor
from sim.limits import check_plan, estimate
from sim.policy_report import lever_text, write_report
from sim.policy_spec import PolicySpec, load_policy_spec, simulate_objectives
from sim.posterior import Posterior, read_posterior
from sim.provenance import git_commit, versions
from sim.robustness import (
    Futures,
    breaking_futures,
    reevaluate,
    robustness_table,
    sample_futures,
)
from sim.scenario import Scenario
from sim.shocks import replication_seeds
from sim.store import BatchStore, StoreError, atomic_write
from sim.uncertainty import fingerprint as posterior_fingerprint

FORMAT = "alliance-sim policy search 2"
CHUNK_RUNS = 1000
"""Runs per task when a generation is split across workers."""
HYPERVOLUME_POINTS = 10
"""Generations at which the hypervolume is computed (evenly spaced, the last included): exact
hypervolume in four objectives takes about a second for a 100-design archive."""
HYPERVOLUME_MARGIN = 0.1
"""Share of each objective's range on the final front added beyond it for the hypervolume."""
TOP_DESIGNS = 3
"""Designs (the most robust) whose breaking futures PRIM describes."""


def _ema():
    """EMA Workbench's optimisation pieces (imported late: it warns that ipyparallel is missing)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench import IntegerParameter, RealParameter, ScalarOutcome
        from ema_workbench.em_framework.optimization import Problem, rebuild_platypus_population
    return Problem, RealParameter, IntegerParameter, ScalarOutcome, rebuild_platypus_population


def make_problem(spec: PolicySpec):
    """EMA Workbench's ``Problem`` over the spec's levers and objectives.

    A whole-number lever (a year, a delay) is an ``IntegerParameter`` (Platypus's ``Integer``,
    a Gray-coded bit string), the others ``RealParameter``s.
    """
    problem, real, integer, outcome, _ = _ema()
    levers = [
        integer(v.name, int(v.low), int(v.high)) if v.integer else real(v.name, v.low, v.high)
        for v in spec.levers
    ]
    kinds = {"max": outcome.MAXIMIZE, "min": outcome.MINIMIZE}
    objectives = [outcome(o.name, kind=kinds[o.direction]) for o in spec.objectives]
    return problem("levers", levers, objectives)


# --- evaluating a generation --------------------------------------------------------------------
def design_task(
    base: Scenario, names: tuple[str, ...], rows: list[list[float]], seeds: list[int], objectives
) -> np.ndarray:
    """The task a worker runs: each design's objectives, averaged over its runs (designs, k)."""
    parameters = [dict(zip(names, row, strict=True)) for row in rows]
    got = simulate_objectives(base, parameters, [seeds] * len(rows), objectives)
    return got.mean(axis=1)


class GenerationEvaluator(platypus.Evaluator):
    """Evaluates a generation's designs at once, split across an executor's workers.

    Args:
        evaluate: Maps (designs, levers) values to (designs, objectives) values.
    """

    def __init__(self, evaluate: Callable[[list[list[float]]], np.ndarray]):
        """Keep the function that evaluates designs."""
        super().__init__()
        self.evaluate = evaluate

    def evaluate_all(self, jobs, **kwargs):
        """Set every job's objectives (Platypus's ``Evaluator`` interface)."""
        if not jobs:
            return jobs
        problem = jobs[0].solution.problem
        rows = [
            [t.decode(v) for t, v in zip(problem.types, job.solution.variables, strict=True)]
            for job in jobs
        ]
        for job, values in zip(jobs, self.evaluate(rows), strict=True):
            solution = job.solution
            solution.objectives[:] = [float(v) for v in values]
            solution.constraint_violation = 0.0
            solution.feasible = True
            solution.evaluated = True
        return jobs


def pooled_evaluation(
    spec: PolicySpec, pool: Executor, workers: int, check_stop: Callable[[], None]
) -> Callable[[list[list[float]]], np.ndarray]:
    """A function evaluating designs in the reference future on ``pool``.

    Every design runs ``spec.search.replications`` runs with the seeds
    ``replication_seeds(spec.seed, 0, replications)``; the designs are split into at least
    ``workers`` tasks of at most ``CHUNK_RUNS`` runs. ``check_stop`` is polled while waiting.
    """
    seeds = replication_seeds(spec.seed, 0, spec.search.replications)
    names = tuple(spec.lever_names)

    def evaluate(rows: list[list[float]]) -> np.ndarray:
        per_task = max(1, CHUNK_RUNS // len(seeds))
        per_task = min(per_task, math.ceil(len(rows) / workers))
        parts = [rows[i : i + per_task] for i in range(0, len(rows), per_task)]
        futures = [
            pool.submit(design_task, spec.scenario, names, part, seeds, spec.objectives)
            for part in parts
        ]
        pending = set(futures)
        try:
            while pending:
                check_stop()
                _, pending = wait(pending, STOP_POLL_S)
            return np.concatenate([f.result() for f in futures])
        except Exception as exc:
            raise BatchInterrupted(f"a task failed ({type(exc).__name__}: {exc})") from None
        finally:
            for future in pending:
                future.cancel()

    return evaluate


# --- the algorithm and its checkpoints ----------------------------------------------------------
def make_algorithm(spec: PolicySpec, problem, evaluator: platypus.Evaluator):
    """Platypus's epsilon-NSGA-II, or NSGA-II keeping an epsilon archive.

    Real levers cross over by SBX and mutate by polynomial mutation; whole-number levers, when
    there are any, by half-uniform crossover and bit flips of their bit strings (Platypus's
    operators for mixed types each change only the types they know). Platypus's logging
    extension is removed: it logs nothing a user sees, and its wall-clock start time would make
    checkpoints of the same search differ.
    """
    epsilons = [o.epsilon for o in spec.objectives]
    if any(v.integer for v in spec.levers):
        variator = platypus.CompoundOperator(
            platypus.SBX(), platypus.HUX(), platypus.PM(), platypus.BitFlip()
        )
    else:
        variator = platypus.GAOperator(platypus.SBX(), platypus.PM())
    if spec.search.algorithm == "eps-nsga2":
        algorithm = platypus.EpsNSGAII(
            problem,
            epsilons,
            population_size=spec.search.population,
            variator=variator,
            evaluator=evaluator,
        )
    else:
        algorithm = platypus.NSGAII(
            problem,
            population_size=spec.search.population,
            variator=variator,
            archive=platypus.EpsilonBoxArchive(epsilons),
            evaluator=evaluator,
        )
    algorithm.remove_extension(platypus.LoggingExtension)
    return algorithm


def _rows(solutions) -> list[list[float]]:
    """Each solution's decoded levers, then its objectives."""
    out = []
    for s in solutions:
        levers = [t.decode(v) for t, v in zip(s.problem.types, s.variables, strict=True)]
        out.append([float(v) for v in (*levers, *s.objectives)])
    return out


def _bits(solutions) -> list[list[list[int]]]:
    """Each solution's whole-number levers as Platypus stores them: their bit strings.

    Platypus's ``Integer`` maps several bit strings to one value when its range is not a power
    of two, and crossover and mutation act on the bits, so a checkpoint keeps the bits.
    """
    out = []
    for s in solutions:
        pairs = zip(s.problem.types, s.variables, strict=True)
        out.append([[int(b) for b in v] for t, v in pairs if isinstance(t, platypus.Integer)])
    return out


def _solutions(rows: list[list[float]], problem, bits: list) -> list[platypus.Solution]:
    """Evaluated solutions rebuilt from ``_rows`` and, for whole-number levers, ``_bits``."""
    out = []
    for i, row in enumerate(rows):
        s = platypus.Solution(problem)
        levers = row[: problem.nvars]
        stored = iter(bits[i])
        s.variables[:] = [
            [bool(b) for b in next(stored)] if isinstance(t, platypus.Integer) else t.encode(v)
            for t, v in zip(problem.types, levers, strict=True)
        ]
        s.objectives[:] = row[problem.nvars :]
        s.constraint_violation = 0.0
        s.feasible = True
        s.evaluated = True
        out.append(s)
    return out


def _extension_state(algorithm) -> list[dict]:
    """The numeric counters of the algorithm's extensions (restart windows and the like).

    Platypus keeps its extensions in ``_extensions`` and offers no other way to reach them; the
    search drives the extensions itself (``run`` would reset their counters on resume).
    """
    return [
        {k: v for k, v in vars(e).items() if type(v) in (int, float)} for e in algorithm._extensions
    ]


def checkpoint(algorithm, generation: int) -> dict:
    """Everything the search needs to continue exactly after ``generation``."""
    version, internal, gauss = random.getstate()
    return {
        "format": FORMAT,
        "generation": generation,
        "nfe": algorithm.nfe,
        "population_size": algorithm.population_size,
        "population": _rows(algorithm.population),
        "archive": _rows(algorithm.archive),
        "population_bits": _bits(algorithm.population),
        "archive_bits": _bits(algorithm.archive),
        "improvements": algorithm.archive.improvements,
        "extensions": _extension_state(algorithm),
        "random": [version, list(internal), gauss],
    }


def restore(algorithm, state: dict) -> None:
    """Put ``algorithm`` (freshly made, never run) and ``random`` in a checkpoint's state."""
    problem = algorithm.problem
    algorithm.nfe = state["nfe"]
    algorithm.population_size = state["population_size"]
    algorithm.population = _solutions(state["population"], problem, state["population_bits"])
    algorithm.archive.extend(_solutions(state["archive"], problem, state["archive_bits"]))
    algorithm.archive.improvements = state["improvements"]
    algorithm.result = algorithm.archive
    for extension, counters in zip(algorithm._extensions, state["extensions"], strict=True):
        for name, value in counters.items():
            setattr(extension, name, value)
    version, internal, gauss = state["random"]
    random.setstate((version, tuple(internal), gauss))


def _write_json(path: Path, content: dict) -> None:
    text = json.dumps(content)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def generation_file(folder: Path, generation: int) -> Path:
    """The checkpoint of ``generation``."""
    return folder / f"generation-{generation:05d}.json"


def read_generations(folder: Path) -> list[dict]:
    """Every checkpoint in ``folder``, in order (a half-written one cannot exist: atomic)."""
    paths = sorted(folder.glob("generation-*.json")) if folder.is_dir() else []
    out = []
    for path in paths:
        try:
            out.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as exc:
            raise StoreError(f"{path}: unreadable checkpoint ({exc})") from None
    return out


def search(
    spec: PolicySpec,
    folder: Path,
    evaluate: Callable[[list[list[float]]], np.ndarray],
    *,
    progress: bool | None,
    check_stop: Callable[[], None],
) -> dict:
    """Run (or continue) the search, one checkpoint per generation; return the last checkpoint.

    Python's ``random`` (Platypus's generator) is seeded with ``spec.seed`` on a fresh start and
    restored from the checkpoint on resume; its previous state is put back afterwards.
    """
    problem = make_problem(spec)
    algorithm = make_algorithm(spec, problem, GenerationEvaluator(evaluate))
    for tmp in folder.glob(".generation-*.tmp"):  # a checkpoint's write cut off by kill -9
        tmp.unlink()
    saved = read_generations(folder)
    outer = random.getstate()
    bar = tqdm(
        total=spec.search.nfe, unit="design", disable=None if progress is None else not progress
    )
    try:
        if saved:
            restore(algorithm, saved[-1])
            generation = saved[-1]["generation"]
        else:
            random.seed(spec.seed)
            generation = 0
            for extension in algorithm._extensions:
                extension.start_run(algorithm)
        bar.update(min(algorithm.nfe, spec.search.nfe))
        state = saved[-1] if saved else None
        while algorithm.nfe < spec.search.nfe:
            check_stop()
            for extension in algorithm._extensions:
                extension.pre_step(algorithm)
            algorithm.step()
            for extension in algorithm._extensions:
                extension.post_step(algorithm)
            generation += 1
            state = checkpoint(algorithm, generation)
            _write_json(generation_file(folder, generation), state)
            bar.set_postfix(archive=len(algorithm.archive), refresh=False)
            bar.update(min(algorithm.nfe, spec.search.nfe) - bar.n)
    finally:
        bar.close()
        random.setstate(outer)
    return state


# --- after the search ----------------------------------------------------------------------------
def archive_table(spec: PolicySpec, rows: list[list[float]]) -> pd.DataFrame:
    """An archive's designs: levers and objectives, best on the first objective first.

    Whole-number levers are integer columns.
    """
    table = pd.DataFrame(rows, columns=[*spec.lever_names, *spec.objective_names])
    whole = [v.name for v in spec.levers if v.integer]
    table[whole] = table[whole].round().astype("int64")
    first = spec.objectives[0]
    table = table.sort_values(first.name, ascending=first.direction == "min", kind="stable")
    return table.reset_index(drop=True).rename_axis("design")


def convergence(spec: PolicySpec, generations: list[dict]) -> pd.DataFrame:
    """Per generation: nfe, epsilon progress, archive size and (at some) the hypervolume.

    The hypervolume (Platypus's, exact) is that of the generation's archive with each objective
    normalised to the final archive's range widened by ``HYPERVOLUME_MARGIN`` on both sides, so
    that the reference point lies beyond the final archive's worst values and every design on
    its edges adds volume. It is computed at ``HYPERVOLUME_POINTS`` evenly spaced generations,
    NaN elsewhere.
    """
    *_, rebuild = _ema()
    problem = make_problem(spec)
    final = archive_table(spec, generations[-1]["archive"])[spec.objective_names]
    epsilons = np.array([o.epsilon for o in spec.objectives])
    span = np.maximum((final.max() - final.min()).to_numpy(), epsilons)
    low = final.min().to_numpy() - HYPERVOLUME_MARGIN * span
    high = final.max().to_numpy() + HYPERVOLUME_MARGIN * span
    hypervolume = platypus.Hypervolume(minimum=low.tolist(), maximum=high.tolist())
    n = len(generations)
    at = set(np.linspace(0, n - 1, min(n, HYPERVOLUME_POINTS)).round().astype(int).tolist())
    rows = []
    for i, g in enumerate(generations):
        value = np.nan
        if i in at:
            value = hypervolume.calculate(rebuild(archive_table(spec, g["archive"]), problem))
        rows.append(
            {
                "generation": g["generation"],
                "nfe": g["nfe"],
                "epsilon_progress": g["improvements"],
                "archive_size": len(g["archive"]),
                "hypervolume": value,
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class OptimizeResult:
    """A finished policy search.

    Attributes:
        spec: The spec.
        out: Its folder.
        designs: The final archive (index ``design``): levers, objectives in the reference future.
        convergence: Per generation: nfe, epsilon progress, archive size, hypervolume.
        futures: The futures' parameters (index ``future``).
        outcomes: ``design, future`` and each objective's replication mean.
        robustness: Per design (ranked): satisficing share, each objective's mean and max regret.
        breaking: For the most robust designs: PRIM on the futures that break them (None when a
            design fails in no future or in all).
    """

    spec: PolicySpec
    out: Path
    designs: pd.DataFrame
    convergence: pd.DataFrame
    futures: pd.DataFrame
    outcomes: pd.DataFrame
    robustness: pd.DataFrame
    breaking: dict[int, DiscoveryResult | None]


def fingerprint(spec: PolicySpec, posterior: Posterior | None) -> str:
    """Hash of what fixes the search and the re-evaluation.

    Thresholds are left out: they change only the analysis, so ``--resume`` with new thresholds
    re-analyses the runs already made.
    """
    content = {
        "format": FORMAT,
        "scenario": spec.scenario.to_dict(),
        "seed": spec.seed,
        "search": vars(spec.search),
        "levers": [vars(v) for v in spec.levers],
        "uncertainties": [vars(v) for v in spec.uncertainties],
        "objectives": [vars(o) | {"threshold": None} for o in spec.objectives],
        "robustness": vars(spec.robustness),
        "posterior": posterior_fingerprint(posterior),
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]


def planned_runs(spec: PolicySpec, designs: int | None = None) -> int:
    """Runs of the search and of the re-evaluation of ``designs`` designs.

    Before the search, ``designs`` defaults to the population size, the usual order of an
    archive's size; the plan is checked again with the archive found.
    """
    r = spec.robustness
    designs = spec.search.population if designs is None else designs
    return spec.search.nfe * spec.search.replications + designs * r.futures * r.replications


def _check_runs(spec: PolicySpec, runs: int, workers: int, out: Path, allow_long: bool) -> None:
    flag = (
        f"{Path(spec.source).name}: search.nfe x search.replications + designs x "
        "robustness.futures x robustness.replications"
    )
    check_plan(estimate(runs, keep="outputs", workers=workers), flag, workers, out, allow_long)


def run_optimize(
    spec_path: str | Path,
    out: str | Path | None = None,
    *,
    resume: bool = False,
    workers: int | None = None,
    progress: bool | None = None,
    allow_long: bool = False,
    executor: str = "processes",
) -> OptimizeResult:
    """Search the levers, re-evaluate the designs across futures, and write the report.

    Args:
        spec_path: The policy-search spec (TOML).
        out: Folder (default ``results/optimize-<name>``).
        resume: Continue (or re-analyse) the search already in ``out``.
        workers: Worker processes (default: all CPUs).
        progress: Show progress bars (default: when stderr is a terminal).
        allow_long: Run a plan estimated to take over ``sim.limits.LONG_S``.
        executor: ``processes`` (default) or ``serial`` (in this process).

    Returns:
        The designs, convergence, robustness and breaking futures.

    Raises:
        PolicySpecError: The spec is invalid (one line naming the field).
        PosteriorFileError: The spec asks for the posterior and it is missing or invalid.
        LimitError: The plan does not fit this machine.
        StoreError: ``out`` holds another search, or nothing to resume.
        ExecutorError: The workers cannot start.
        BatchInterrupted, KeyboardInterrupt: Finished generations and chunks are saved;
            ``resume`` continues.
    """
    spec = load_policy_spec(spec_path)
    posterior = read_posterior() if spec.robustness.posterior else None
    out = Path(out) if out is not None else Path("results") / f"optimize-{spec.name}"
    workers = 1 if executor == "serial" else (workers or default_workers())
    _check_runs(spec, planned_runs(spec), workers, out, allow_long)
    root = BatchStore(out, tables=())
    old = root.read_manifest()
    key = fingerprint(spec, posterior)
    hint = "--resume needs the same spec; only thresholds may change"
    root.check_start(old, key, resume, "policy-search spec", hint)
    root.check_writable()
    with root.lock(), open_executor(executor, workers) as pool:
        root.check_unchanged(old)
        root.remove_unfinished()  # temporary files of writes cut off by kill -9
        manifest = _manifest(spec, key, posterior, old)
        root.write_manifest(manifest)
        atomic_write(out / f"{spec.name}.toml", lambda t: shutil.copyfile(spec.source, t))
        with deferred_stop() as check_stop:  # Ctrl-C stops between generations
            evaluate = pooled_evaluation(spec, pool, workers, check_stop)
            last = search(spec, out / "search", evaluate, progress=progress, check_stop=check_stop)
        designs = archive_table(spec, last["archive"])
        _check_runs(spec, planned_runs(spec, len(designs)), workers, out, allow_long)
        manifest["stage"] = "re-evaluation"
        root.write_manifest(manifest)
        futures = sample_futures(spec, posterior)
        outcomes = reevaluate(
            spec, designs, futures, out / "reeval", pool, progress=progress, posterior=posterior
        )
        result = _analyse(spec, out, designs, futures, outcomes)
        manifest["stage"] = "done"
        manifest["updated_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
        root.write_manifest(manifest)
    return result


def _analyse(
    spec: PolicySpec,
    out: Path,
    designs: pd.DataFrame,
    futures: Futures,
    outcomes: pd.DataFrame,
) -> OptimizeResult:
    """Robustness, breaking futures, convergence; every table, plot and the report written."""
    robustness = robustness_table(outcomes, spec.objectives)
    breaking = {
        int(d): breaking_futures(futures.values, outcomes, int(d), spec.objectives)
        for d in robustness.index[:TOP_DESIGNS]
    }
    table = futures.values.reset_index()
    if futures.draws is not None:
        table["draw"] = futures.draws
    atomic_write(out / "designs.csv", lambda t: designs.reset_index().to_csv(t, index=False))
    atomic_write(out / "futures.parquet", lambda t: table.to_parquet(t, index=False))
    atomic_write(out / "outcomes.parquet", lambda t: outcomes.to_parquet(t, index=False))
    atomic_write(out / "robustness.csv", lambda t: robustness.reset_index().to_csv(t, index=False))
    for design, found in breaking.items():
        if found is not None:
            atomic_write(
                out / f"prim_design_{design}.csv", lambda t, f=found: f.box.to_csv(t, index=False)
            )
    generations = read_generations(out / "search")
    history = convergence(spec, generations)
    atomic_write(out / "convergence.csv", lambda t: history.to_csv(t, index=False))
    result = OptimizeResult(
        spec, out, designs, history, futures.values, outcomes, robustness, breaking
    )
    write_report(result)
    return result


def _manifest(spec: PolicySpec, key: str, posterior: Posterior | None, old: dict | None) -> dict:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return {
        "format": FORMAT,
        "fingerprint": key,
        "kind": "policy search",
        "spec": {
            "policy_search": spec.name,
            "scenario": spec.scenario.name,
            "algorithm": spec.search.algorithm,
            "nfe": spec.search.nfe,
            "population": spec.search.population,
            "levers": spec.lever_names,
            "uncertainties": [v.name for v in spec.uncertainties],
            "objectives": [o.label for o in spec.objectives],
            "futures": spec.robustness.futures,
        },
        "seeds": {
            "root": spec.seed,
            "platypus_random": spec.seed,
            "search_runs": replication_seeds(spec.seed, 0, spec.search.replications),
            "futures_lhs": spec.seed,
            "future_runs": "sim.shocks.points_seeds(root, [f + 1], robustness.replications)",
        },
        "posterior": posterior_fingerprint(posterior),
        "stage": "search",
        "created_utc": (old or {}).get("created_utc", now),
        "updated_utc": now,
        "versions": versions(),
        "git_commit": git_commit(),
    }


def format_optimize(result: OptimizeResult) -> str:
    """What ``alliance optimize`` prints: the search, the most robust designs, the files."""
    spec, r = result.spec, result.robustness
    last = result.convergence.iloc[-1]
    lines = [
        f"{spec.name}: {spec.search.algorithm}, {int(last['nfe'])} designs evaluated over "
        f"{int(last['generation'])} generations; {len(result.designs)} on the final front, each "
        f"re-evaluated in {len(result.futures)} futures x {spec.robustness.replications} runs",
    ]
    for design in r.index[:TOP_DESIGNS]:
        levers = ", ".join(
            f"{n} {lever_text(result.designs.loc[design, n])}" for n in spec.lever_names
        )
        lines.append(
            f"  design {design}: meets every threshold in {r.loc[design, 'satisficing']:.0%} of "
            f"futures ({levers})"
        )
    lines.append(f"Written: {result.out}/report.md, with its tables and plots")
    return "\n".join(lines)
