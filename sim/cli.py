"""The ``alliance`` command line: scenarios, runs, batches, queries, validation and calibration.

Bad input (an unknown scenario, an invalid scenario file, a bad flag, an unwritable output
folder, an unreachable scheduler) prints one line on stderr naming what is wrong and exits with
status 2. A batch with failed runs exits with 1; an interrupted one with 1 (or 130 on Ctrl-C),
after saying how to resume it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from sim.abc import BUDGET as ABC_BUDGET
from sim.abc import POSTERIOR_TRAIN
from sim.batch import CHUNK_SIZE, ENGINES, BatchError, BatchInterrupted, run_batch
from sim.batch import format_summary as format_batch_summary
from sim.calibration import BUDGET as FIT_BUDGET
from sim.calibration import FITTED
from sim.data import DEFAULT_EDITION, EDITIONS, FIRST_YEAR
from sim.executors import (
    EXECUTORS,
    SCHEDULER_ENV,
    ExecutorError,
    check_scheduler,
    default_workers,
)
from sim.experiment import Experiment, ExperimentError, load_experiment
from sim.forecast import REPLICATIONS as FORECAST_REPLICATIONS
from sim.limits import (
    ABC_PARTICLE_MEMORY,
    ABC_PARTICLE_RUNS,
    ABC_SIMULATED_PER_PARTICLE,
    LONG_S,
    LimitError,
    check_plan,
    check_workers,
    estimate,
)
from sim.parameters import (
    PARAMETERS,
    CalibrationFileError,
    calibration_file,
    check_calibration,
)
from sim.posterior import Posterior, PosteriorFileError
from sim.scenario import ScenarioError, list_scenarios, load_scenario
from sim.spec_checks import SpecError, printable
from sim.store import BatchStore, StoreError, check_writable
from sim.sweep_runs import CHUNK_RUNS, KEEP
from sim.uncertainty import UNCERTAINTY
from sim.validation import REPLICATIONS, SEED, TRAIN, span

# Each command imports what only it needs (Mesa, SALib and matplotlib take seconds to load).

EXIT_USAGE = 2
CALIBRATE_DEFAULTS = {"optimize": FIT_BUDGET, "abc": ABC_BUDGET}
"""``alliance calibrate``'s budget per --method (--replications, --generations when not given)."""
APP = Path(__file__).resolve().parents[1] / "app.py"
"""The browser app ``alliance app`` serves."""


class UsageError(Exception):
    """A command-line problem reported as one line with exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse prints usage + traceback-free exit 2
        raise UsageError(f"{self.prog}: {message}")


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2**63-1, got {value}")
    return value


def _assignment(text: str) -> tuple[str, float]:
    name, sep, raw = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    if name not in PARAMETERS:
        raise argparse.ArgumentTypeError(f"{name}: unknown parameter")
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name}: expected a number, got {raw!r}") from None
    problem = PARAMETERS[name].check(value)
    if problem:
        raise argparse.ArgumentTypeError(f"{name}: {problem}")
    return name, PARAMETERS[name].coerce(value)


def _names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    for name in names:
        if name not in PARAMETERS or PARAMETERS[name].integer:
            raise argparse.ArgumentTypeError(f"{name!r} is not a continuous parameter")
    if not names:
        raise argparse.ArgumentTypeError("name at least one parameter")
    return names


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    if value >= 2**63:
        raise argparse.ArgumentTypeError(f"must be at most 2**63-1, got {value}")
    return value


def _path(text: str) -> Path:
    """A file or folder to write, refused if empty (the current folder) or not UTF-8 (pyarrow).

    An empty path would mean the current folder; pyarrow writes only to UTF-8 paths.
    """
    if not text:
        raise argparse.ArgumentTypeError("empty path")
    if printable(text) != text:
        raise argparse.ArgumentTypeError(f"{printable(text)}: not valid UTF-8")
    return Path(text)


def _address(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("empty address")
    return text


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 0 and 65535, got {value}")
    return value


def _add_set(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        type=_assignment,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a parameter (repeatable)",
    )


def _add_edition(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--data-edition",
        choices=EDITIONS,
        help=f"edition of NATO's reference tables to start from (default: {default})",
    )


def _add_execution(parser: argparse.ArgumentParser, what: str, default_out: str) -> None:
    """Where and how a batch or sweep runs: executor, workers, scheduler, folder, resume."""
    parser.add_argument("--executor", choices=EXECUTORS, help="where runs go (default: processes)")
    parser.add_argument("--workers", type=_positive, help="worker processes (default: all CPUs)")
    parser.add_argument(
        "--scheduler",
        type=_address,
        help="join a Dask cluster at this address, e.g. tcp://HOST:8786 "
        f"(default: ${SCHEDULER_ENV} if set; none: this machine)",
    )
    parser.add_argument("--out", type=_path, help=f"{what} folder (default: {default_out})")
    parser.add_argument("--resume", action="store_true", help=f"complete the {what} in --out")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _add_allow_long(parser)


def _add_uncertainty(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--uncertainty",
        choices=UNCERTAINTY,
        help="what the runs differ in: random shocks, or shocks and parameters drawn from the "
        "posterior (default: posterior when scenarios/posterior.toml exists, else shocks)",
    )


def _add_allow_long(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-long",
        action="store_true",
        help=f"run a plan estimated to take over {LONG_S // 3600} h (memory and disk still bound)",
    )


def _executor(args: argparse.Namespace) -> str:
    """The executor a batch or sweep asked for (a scheduler address implies Dask)."""
    if args.scheduler and args.executor not in (None, "dask"):
        problem = f"--scheduler needs --executor dask, not {args.executor}"
        raise UsageError(f"alliance {args.command}: {problem}")
    if args.scheduler:
        try:
            check_scheduler(args.scheduler)
        except ExecutorError as exc:
            raise UsageError(f"alliance {args.command}: {exc}") from None
    return args.executor or ("dask" if args.scheduler else "processes")


def build_parser() -> argparse.ArgumentParser:
    """The ``alliance`` argument parser."""
    parser = _Parser(prog="alliance", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("scenarios", help="list the named scenarios")
    sub.add_parser("parameters", help="list every parameter with its default, unit and range")
    run = sub.add_parser("run", help="run one scenario and write its tables")
    run.add_argument("scenario", help="a scenario name (see `alliance scenarios`) or a TOML file")
    run.add_argument(
        "--seed",
        type=_seed,
        default=1,
        help="root seed of the runs, or the single run's seed (default 1)",
    )
    run.add_argument(
        "--replications",
        type=_positive,
        default=FORECAST_REPLICATIONS,
        help=f"runs behind the medians and bands (default {FORECAST_REPLICATIONS})",
    )
    run.add_argument(
        "--single", action="store_true", help="show one seeded run (one draw) instead of bands"
    )
    run.add_argument("--out", type=_path, help="output folder (default: results/<scenario>)")
    _add_uncertainty(run)
    _add_allow_long(run)
    _add_set(run)
    _add_edition(run, f"the scenario's, {DEFAULT_EDITION} unless it sets data_edition")

    batch = sub.add_parser("batch", help="run replications of one or more scenarios")
    batch.add_argument("scenarios", nargs="+", metavar="SCENARIO", help="names or TOML files")
    batch.add_argument(
        "--replications", type=_positive, default=100, help="runs per scenario (default: 100)"
    )
    batch.add_argument("--seed", type=_seed, default=1, help="root seed of the batch (default: 1)")
    batch.add_argument(
        "--engine",
        choices=ENGINES,
        default="ensemble",
        help="the array engine, or the Mesa model run by run; same numbers (default: ensemble)",
    )
    _add_execution(batch, "batch", "results/batch-<names>")
    chunks = ", ".join(f"{n} for {e}" for e, n in CHUNK_SIZE.items())
    batch.add_argument("--chunk-size", type=_positive, help=f"runs per task (default: {chunks})")
    _add_uncertainty(batch)
    _add_set(batch)
    _add_edition(batch, f"each scenario's, {DEFAULT_EDITION} unless it sets data_edition")

    query = sub.add_parser(
        "query",
        help="SQL (DuckDB) over a batch (allies, alliance, runs) or a sweep (its store's tables, "
        "samples, point_outputs)",
    )
    query.add_argument(
        "dir",
        type=Path,
        help="a batch folder, or a sweep folder or its runs store: the views of its store "
        "(outputs, series, runs; --keep tables: allies, alliance, runs) and samples "
        "(samples.parquet), point_outputs (outputs.parquet)",
    )
    query.add_argument("sql", help='e.g. "SELECT scenario, avg(capability_gap) FROM alliance ..."')
    query.add_argument("--csv", action="store_true", help="print CSV instead of a table")

    sweep = sub.add_parser("sweep", help="run a sensitivity sweep defined in experiments/*.toml")
    sweep.add_argument("spec", type=Path, help="an experiment spec (TOML)")
    _add_execution(sweep, "sweep", "results/sweep-<name>")
    sweep.add_argument(
        "--chunk-size",
        type=_positive,
        help=f"runs per task, whole design points (default {CHUNK_RUNS}; tables: one point)",
    )
    sweep.add_argument(
        "--keep",
        choices=KEEP,
        default="outputs",
        help="store each run's outputs only (default), or every run's full tables",
    )
    _add_edition(sweep, f"the experiment scenario's, {DEFAULT_EDITION} unless it sets one")

    validate = sub.add_parser("validate", help="hindcast 2014-2024 against NATO's figures")
    validate.add_argument(
        "--out",
        type=_path,
        default=Path("results/validation"),
        help="folder for hindcast.parquet, metrics.json and plots (default results/validation)",
    )
    validate.add_argument("--report", type=_path, help="report file (default OUT/validation.md)")
    validate.add_argument(
        "--replications",
        type=_positive,
        default=REPLICATIONS,
        help=f"runs averaged (default {REPLICATIONS})",
    )
    validate.add_argument("--seed", type=_seed, default=SEED, help=f"root seed (default {SEED})")
    validate.add_argument(
        "--rolling",
        action="store_true",
        help="instead, the rolling-origin check: forecasts from 2017, 2019, 2021 and 2023 "
        "with parameters refitted and a posterior fitted per origin, 1-3 years ahead, against "
        "baselines (about 20 minutes)",
    )
    validate.add_argument(
        "--resume",
        action="store_true",
        help="with --rolling: reuse the refits and posteriors an interrupted check kept in "
        "OUT/rolling (made with the same settings) (default: start afresh)",
    )
    _add_edition(validate, DEFAULT_EDITION)
    _add_allow_long(validate)

    optimize = sub.add_parser(
        "optimize", help="search policy levers for designs that stay good across futures"
    )
    optimize.add_argument("spec", type=Path, help="a policy-search spec (experiments/*.toml)")
    optimize.add_argument(
        "--out", type=_path, help="output folder (default: results/optimize-<name>)"
    )
    optimize.add_argument("--workers", type=_positive, help="worker processes (default: all CPUs)")
    optimize.add_argument(
        "--resume", action="store_true", help="continue (or re-analyse) the search in --out"
    )
    optimize.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    _add_allow_long(optimize)

    calibrate = sub.add_parser("calibrate", help="fit the free parameters to NATO's panel")
    calibrate.add_argument(
        "--method",
        choices=("optimize", "abc"),
        default="optimize",
        help=f"optimize: a point fit to {span(TRAIN)} by differential evolution "
        f"(scenarios/calibration.toml); abc: a posterior fitted to {span(POSTERIOR_TRAIN)} by "
        "ABC-SMC (scenarios/posterior.toml) (default optimize)",
    )
    calibrate.add_argument(
        "--replications",
        type=_positive,
        help="runs averaged per evaluation or particle (default "
        f"{FIT_BUDGET['replications']} optimize, {ABC_BUDGET['replications']} abc)",
    )
    calibrate.add_argument(
        "--generations",
        type=_positive,
        help="largest number of generations (default "
        f"{FIT_BUDGET['generations']} optimize, {ABC_BUDGET['generations']} abc)",
    )
    calibrate.add_argument(
        "--population",
        type=_positive,
        default=FIT_BUDGET["population"],
        help=f"optimize: population per parameter (default {FIT_BUDGET['population']})",
    )
    calibrate.add_argument(
        "--particles",
        type=_positive,
        default=ABC_BUDGET["particles"],
        help=f"abc: particles per generation, the posterior's size (default "
        f"{ABC_BUDGET['particles']})",
    )
    calibrate.add_argument("--seed", type=_seed, default=SEED, help=f"seed (default {SEED})")
    calibrate.add_argument(
        "--fit",
        type=_names,
        default=FITTED,
        help="comma-separated parameters to fit (default: the free behavioural ones)",
    )
    calibrate.add_argument(
        "--workers",
        type=_positive,
        default=os.cpu_count() or 1,
        help="optimize: processes (default: all CPUs; results do not depend on it)",
    )
    calibrate.add_argument(
        "--out",
        type=_path,
        help="file to write (default: scenarios/calibration.toml, or scenarios/posterior.toml "
        "with abc; the project reads both)",
    )
    _add_edition(calibrate, DEFAULT_EDITION)
    _add_allow_long(calibrate)
    app = sub.add_parser("app", help="serve the browser app (offline, on this machine only)")
    app.add_argument("--port", type=_port, default=8765, help="port (default 8765; 0: any free)")
    app.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 exposes it)",
    )
    return parser


def _run(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario, **dict(args.overrides))
    if args.data_edition is not None:
        scenario = scenario.with_data_edition(args.data_edition)
    out = args.out if args.out is not None else Path("results") / scenario.name
    if not args.single:  # the forecast holds every run's tables in this process
        flag = f"--replications {args.replications}"
        _check_plan(args, flag, args.replications, out, keep="none", in_memory=True)
    _check_writable(out)
    _, posterior = _uncertainty(args)
    from sim.run import run_scenario, write_run
    from sim.run_summary import format_run
    from sim.uncertainty import run_scenarios

    (point,), draws = run_scenarios(scenario, [args.seed], posterior)
    result = run_scenario(point, seed=args.seed)
    if args.single:
        write_run(result, out)
        print(format_run(result, None if draws is None else int(draws[0])))
    else:
        from sim.forecast import format_forecast, make_forecast, write_forecast

        forecast = make_forecast(scenario, args.seed, args.replications, posterior)
        write_run(result, out, write_forecast(forecast, out))
        print(format_forecast(forecast))
    files = "allies.parquet, alliance.parquet" + ("" if args.single else ", forecast_*.parquet")
    print(f"\nTables written to {out}/ ({files}, manifest.json)")
    return 0


def _uncertainty(args: argparse.Namespace):
    """``--uncertainty`` resolved: (``shocks`` or ``posterior``, the posterior or None)."""
    from sim.uncertainty import resolve

    try:
        return resolve(args.uncertainty)
    except ValueError as exc:  # PosteriorFileError is one
        raise UsageError(f"alliance {args.command}: --uncertainty: {exc}") from None


def _default_posterior(command: str) -> Posterior | None:
    """The project's posterior for a command without ``--uncertainty`` (None without a file)."""
    from sim.uncertainty import resolve

    try:
        return resolve(None)[1]
    except ValueError as exc:  # an unusable file: PosteriorFileError
        raise UsageError(f"alliance {command}: {exc}") from None


def _check_plan(
    args: argparse.Namespace,
    flag: str,
    runs: int,
    out: Path | None,
    workers: int | None = None,
    **kind: object,
) -> None:
    """Refuse, in one line, a plan this machine cannot hold (``sim.limits``).

    Local workers (``workers``, else ``--workers``; one for a command without it) count against
    memory; a cluster's (``--scheduler``) do not.
    """
    executor, scheduler = getattr(args, "executor", None), getattr(args, "scheduler", None)
    if workers is None:
        workers = 1 if executor == "serial" or not hasattr(args, "workers") else args.workers
    try:
        if workers and not scheduler:
            check_workers(workers, cluster=hasattr(args, "scheduler"))
        workers = workers or default_workers()
        plan = estimate(runs, workers=0 if scheduler else workers, **kind)
        check_plan(plan, flag, workers, out, allow_long=args.allow_long)
    except LimitError as exc:
        raise UsageError(f"alliance {args.command}: {exc}") from None


def _batch(args: argparse.Namespace) -> int:
    executor = _executor(args)
    runs = len(args.scenarios) * args.replications
    flag = f"--replications {args.replications}" + (
        f" x {len(args.scenarios)} scenarios" if len(args.scenarios) > 1 else ""
    )
    _check_plan(args, flag, runs, args.out or Path("results"), engine=args.engine)
    _check_not_a_run(args.out)
    uncertainty, posterior = _uncertainty(args)
    scenarios = args.scenarios
    if args.data_edition is not None:  # the edition reaches the workers inside each Scenario
        scenarios = [load_scenario(s).with_data_edition(args.data_edition) for s in scenarios]
    result, code = _resumable(
        "batch",
        lambda: run_batch(
            scenarios,
            args.replications,
            args.seed,
            engine=args.engine,
            executor=executor,
            workers=args.workers,
            scheduler=args.scheduler,
            out=args.out,
            resume=args.resume,
            chunk_size=args.chunk_size,
            progress=False if args.no_progress else None,
            uncertainty=uncertainty,
            posterior=posterior,
            **dict(args.overrides),
        ),
    )
    if result is None:
        return code
    print(format_batch_summary(result))
    failed = result.manifest["status"]["failed"]
    if failed:
        print(f"alliance batch: {failed} runs failed (see the runs table)", file=sys.stderr)
        return 1
    return 0


def _experiment(args: argparse.Namespace) -> Experiment:
    """The sweep's experiment, its scenario on ``--data-edition`` when given."""
    experiment = load_experiment(args.spec)
    if args.data_edition is None:
        return experiment
    return replace(experiment, scenario=experiment.scenario.with_data_edition(args.data_edition))


def _sweep(args: argparse.Namespace) -> int:
    from sim.designs import design_size
    from sim.sweep import SweepError, format_sweep, run_sweep

    executor = _executor(args)
    try:
        experiment = _experiment(args)
    except ExperimentError as exc:
        raise UsageError(f"alliance sweep: {exc}") from None
    e = experiment
    points = design_size(e.design, e.parameters, samples=e.samples, levels=e.levels)
    flag = f"{args.spec}: {points} design points x {experiment.replications} replications"
    out = args.out or Path("results")
    _check_plan(args, flag, points * experiment.replications, out, keep=args.keep)
    result, code = _resumable(
        "sweep",
        lambda: run_sweep(
            experiment,
            args.out,
            executor=executor,
            workers=args.workers,
            scheduler=args.scheduler,
            resume=args.resume,
            progress=False if args.no_progress else None,
            keep=args.keep,
            chunk_runs=args.chunk_size,
        ),
        (SweepError,),
    )
    if result is None:
        return code
    print(format_sweep(result))
    return 1 if result.failed else 0


def _resumable[T](
    command: str, run: Callable[[], T], unanalysable: tuple[type[Exception], ...] = ()
) -> tuple[T | None, int]:
    """Run a batch, sweep or search: (its result, 0), or (None, exit status) when it stopped early.

    Bad input raises ``UsageError`` (exit 2). An interruption says how to resume: exit 1 when a
    worker died, 128 + the signal on Ctrl-C or SIGTERM. A sweep whose runs cannot be analysed
    (``unanalysable``) exits 1.
    """
    hint = "finished work is saved; add --resume to the same command to continue"
    try:
        return run(), 0
    except (
        SpecError,
        PosteriorFileError,
        BatchError,
        StoreError,
        ExecutorError,
        LimitError,
    ) as exc:
        raise UsageError(f"alliance {command}: {exc}") from None
    except BatchInterrupted as exc:
        print(f"alliance {command}: interrupted: {exc}; {hint}", file=sys.stderr)
        return None, 1
    except unanalysable as exc:
        print(f"alliance {command}: {exc}", file=sys.stderr)
        return None, 1
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        what = "terminated (SIGTERM)" if signum == signal.SIGTERM else "interrupted"
        print(f"alliance {command}: {what}; {hint}", file=sys.stderr)
        return None, 128 + signum


def _optimize(args: argparse.Namespace) -> int:
    from sim.policy import format_optimize, run_optimize

    def search():
        if args.workers:
            check_workers(args.workers, cluster=False)
        return run_optimize(
            args.spec,
            args.out,
            resume=args.resume,
            workers=args.workers,
            progress=False if args.no_progress else None,
            allow_long=args.allow_long,
        )

    result, code = _resumable("optimize", search)
    if result is None:
        return code
    print(format_optimize(result))
    return 0


def _query(args: argparse.Namespace) -> int:
    try:
        table = BatchStore.for_query(args.dir).query(args.sql)
    except StoreError as exc:
        raise UsageError(f"alliance query: {exc}") from None
    if args.csv:
        table.to_csv(sys.stdout, index=False)
    else:
        print(table.to_string(index=False) if len(table.columns) else "(no columns)")
    return 0


def _validate(args: argparse.Namespace) -> int:
    flag = f"--replications {args.replications}"
    if args.resume and not args.rolling:
        raise UsageError("alliance validate: --resume goes with --rolling")
    posterior = _default_posterior("validate")
    # the hindcast, the 2025 step calibrated and with hindsight, and with posterior draws
    simulations = 3 + (posterior is not None)
    _check_plan(args, flag, simulations * args.replications, None, keep="none", in_memory=True)
    if args.report is not None:
        _check_file(args.report, "validate", "--report")
    _check_writable(args.out, "validate")
    edition = args.data_edition or DEFAULT_EDITION
    if args.rolling:
        return _rolling(args, edition, posterior)
    from sim.validation import validate
    from sim.validation_report import format_validation, write_validation

    result = validate(args.replications, args.seed, edition, posterior)
    report = write_validation(result, args.out, args.report)
    print(format_validation(result, edition, args.out, report))
    return 0


def _rolling(args: argparse.Namespace, edition: str, posterior: Posterior | None) -> int:
    """``alliance validate --rolling``: the check's section in the report, its plot in --out."""
    from sim.rolling import (
        HORIZONS,
        ORIGINS,
        Checkpoint,
        rolling_checks,
        rolling_steps,
    )
    from sim.rolling_report import format_rolling, write_rolling

    report = args.report or args.out / "validation.md"
    command = f"alliance validate --rolling --out {args.out} --report {report}"
    command += f" --replications {args.replications} --seed {args.seed} --data-edition {edition}"
    steps = rolling_steps(ORIGINS, ABC_BUDGET, posterior is not None)
    bar = tqdm(total=steps, unit="step", disable=None)

    def step(done: str, steps: int = 1) -> None:
        bar.set_postfix_str(done)
        bar.update(steps)

    try:
        with bar:
            result = rolling_checks(
                ORIGINS,
                HORIZONS,
                args.replications,
                args.seed,
                edition,
                posterior,
                abc=ABC_BUDGET,
                progress=step,
                checkpoint=Checkpoint(args.out / "rolling"),
                resume=args.resume,
            )
    except ValueError as exc:  # CheckpointError is one; so is a shock's volatility out of range
        raise UsageError(f"alliance validate: {exc}") from None
    write_rolling(result, report, args.out / "reliability.png", command)
    print(format_rolling(result, report, args.out / "reliability.png"))
    return 0


def _check_calibrate_plan(args: argparse.Namespace) -> None:
    """Refuse a calibration this machine cannot hold, or a long one without ``--allow-long``.

    Differential evolution (scipy) evaluates population x parameters members in each generation
    and the first population (the shipped fit: 10 x 10 x 31 = 3,100 evaluations), then two more
    hindcasts, each of ``--replications`` runs held in its worker; then the noise fit
    (``sim.noise_fit``: two noise levels per origin, 2015-2021). ABC-SMC (``sim.abc``) simulates
    a prior sample of ``--particles``, then about ``ABC_SIMULATED_PER_PARTICLE`` per particle
    accepted in each generation, then the posterior's hindcasts and the noise realisations, in
    one process (each particle's time counts ``ABC_PARTICLE_RUNS`` runs more); its history grows
    with particles x generations.
    """
    replications, generations = _calibrate_budget(args)
    budget = f"--generations {generations} x --replications {replications}"
    if args.method == "optimize":
        from sim.noise_fit import REPLICATIONS as NOISE_RUNS

        evaluations = args.population * len(args.fit) * (generations + 1) + 2
        noise = 2 * len(range(FIRST_YEAR + 1, TRAIN.stop - 1)) * NOISE_RUNS
        flag = f"--population {args.population} x {len(args.fit)} parameters x {budget}"
        runs, held = evaluations * replications + noise, args.workers * replications
        _check_plan(
            args, flag, runs, None, engine="hindcast", keep="none", in_memory=True, held=held
        )
        return
    from sim.abc import REALISATIONS

    simulated = args.particles * (ABC_SIMULATED_PER_PARTICLE * generations + 2) + 3
    history = args.particles * (generations + 1) * ABC_PARTICLE_MEMORY
    flag = f"--particles {args.particles} x {budget}"
    runs = simulated * (replications + ABC_PARTICLE_RUNS) + REALISATIONS
    kind = {"keep": "none", "in_memory": True, "held": replications, "memory": history}
    _check_plan(args, flag, runs, None, workers=1, **kind)


def _calibrate_budget(args: argparse.Namespace) -> tuple[int, int]:
    """``alliance calibrate``'s replications and generations, the method's defaults if not given."""
    budget = CALIBRATE_DEFAULTS[args.method]
    return args.replications or budget["replications"], args.generations or budget["generations"]


def _calibrate(args: argparse.Namespace) -> int:
    _check_calibrate_plan(args)
    if args.method == "abc":
        return _calibrate_abc(args)
    from sim.calibration import calibrate, format_calibration, write_calibration

    path = args.out or calibration_file()
    _check_file(path, "calibrate")
    replications, generations = _calibrate_budget(args)
    bar = tqdm(total=generations, unit="generation", disable=None)

    def progress(generation: int, best: float) -> None:
        bar.set_postfix(rmse_train_pp=f"{best:.4f}", refresh=False)
        bar.update(generation - bar.n)

    try:
        with bar:
            cal = calibrate(
                replications,
                generations,
                args.population,
                args.seed,
                args.workers,
                progress,
                args.fit,
                args.data_edition or DEFAULT_EDITION,
            )
    except ValueError as exc:  # e.g. a shock's volatility outside its parameter's range
        raise UsageError(f"alliance calibrate: {exc}") from None
    write_calibration(cal, path)
    print(format_calibration(cal, path))
    return 0


def _calibrate_abc(args: argparse.Namespace) -> int:
    """``alliance calibrate --method abc``: a posterior by ABC-SMC (``sim.abc``)."""
    from sim.abc import calibrate_abc, format_abc, write_abc
    from sim.posterior import posterior_file

    path = args.out or posterior_file()
    _check_file(path, "calibrate")
    replications, generations = _calibrate_budget(args)
    bar = tqdm(total=generations, unit="generation", disable=None)

    def progress(generation: int, epsilon: float, accepted: int, evaluations: int) -> None:
        bar.set_postfix(epsilon_pp=f"{epsilon:.4f}", acceptance=f"{accepted / evaluations:.2f}")
        bar.update(generation + 1 - bar.n)

    try:
        with bar:
            cal = calibrate_abc(
                args.particles,
                generations,
                replications,
                args.seed,
                args.fit,
                args.data_edition or DEFAULT_EDITION,
                progress,
            )
    except ValueError as exc:
        raise UsageError(f"alliance calibrate: {exc}") from None
    write_abc(cal, path)
    print(format_abc(cal, generations, path))
    return 0


def _check_writable(out: Path, command: str = "run", flag: str = "--out") -> None:
    """Fail early, before running, if ``out`` cannot be created or written."""
    try:
        check_writable(out, flag)
    except StoreError as exc:
        raise UsageError(f"alliance {command}: {exc}") from None


def _check_file(path: Path, command: str, flag: str = "--out") -> None:
    """Fail early if the file ``path`` cannot be written: a folder, or in an unwritable one."""
    if path.is_dir():
        raise UsageError(f"alliance {command}: {flag} {path}: is a folder (give a file name)")
    _check_writable(path.parent, command, flag)


def _check_not_a_run(out: Path | None) -> None:
    """Refuse a batch ``--out`` that holds a single run (``alliance run`` wrote it)."""
    if out is None:
        return
    try:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):  # no manifest; an unreadable one is the batch store's to report
        return
    if (
        isinstance(manifest, dict)
        and manifest.get("engine") == "mesa"
        and "tables" in manifest
        and "fingerprint" not in manifest
    ):
        problem = f"--out {out}: holds a single run (`alliance run` output), not a batch"
        raise UsageError(f"alliance batch: {problem} (choose another --out)")


def _app(args: argparse.Namespace) -> int:
    """Serve ``app.py`` with solara: no version check, no telemetry, no browser opened."""
    if not APP.is_file():
        raise UsageError(f"alliance app: {APP} not found (the app runs from a source checkout)")
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((args.host, args.port))
        except OSError as exc:
            problem = (
                f"cannot listen on {args.host}:{args.port} ({exc.strerror}); check --host/--port"
            )
            raise UsageError(f"alliance app: {problem}") from None
    quiet = "ignore:Cookies with samesite=none:UserWarning"  # solara's note on plain-http hosts
    command = [sys.executable, "-W", quiet, "-m", "solara", "run", str(APP), "--host", args.host]
    command += ["--port", str(args.port), "--production", "--no-open", "--no-check-version"]
    env = os.environ | {"SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"}
    return subprocess.run(command, cwd=APP.parent, env=env, check=False).returncode


def _check_calibration(notify: bool = True) -> None:
    """Refuse an unusable calibration file in one line; say so when there is none (``notify``)."""
    try:
        notice = check_calibration()
    except CalibrationFileError as exc:
        raise UsageError(f"alliance: {exc}") from None
    if notice and notify:
        print(f"alliance: {notice}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``alliance`` command."""
    try:
        args = build_parser().parse_args(argv)
        if args.command != "query":  # a query reads a store, not the parameters
            # calibrate writes the file, but its hindcasts load scenarios, which refuse a bad one
            _check_calibration(notify=args.command != "calibrate")
        if args.command == "scenarios":
            for name, description in list_scenarios():
                print(f"{name:22} {description}")
            return 0
        if args.command == "parameters":
            print("\n".join(p.describe() for p in PARAMETERS.values()))
            return 0
        commands = {"run": _run, "batch": _batch, "query": _query}
        commands |= {"sweep": _sweep, "validate": _validate, "calibrate": _calibrate, "app": _app}
        commands |= {"optimize": _optimize}
        return commands[args.command](args)
    except (UsageError, ScenarioError) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("alliance: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `alliance parameters | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
