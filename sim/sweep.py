"""Sensitivity sweeps: an experiment's design points run, then outputs and indices.

Each design point is the experiment's scenario with the point's parameters, named
``<experiment>/<sample>``. By default only what the experiment reads is kept: tasks mix design
points (one parameter set per run, ``sim.sweep_runs``) and reduce each run to its outputs in
the worker. With ``keep="tables"`` the batch layer runs every point as a scenario and stores
its full tables. Either way seeds are spawned per point, then per replication (the same runs,
the same numbers), on any executor, and an interrupted sweep resumes exactly. Outputs are read
back from the store with DuckDB and matched to design points by sample index.

Files in the sweep's folder:
    experiment.toml   the spec as run
    samples.parquet   one row per design point (``sample`` and the varied parameters)
    runs/             the store: outputs, series, runs (``--keep tables``: a batch's allies,
                      alliance, runs and spec.json); manifest.json records which
    outputs.parquet   per design point and output: mean, sd, min, max over replications
    series.parquet    per design point and year: the replication mean of each series column
    indices.csv       sensitivity indices (Sobol and Morris designs)
    prim_trajectory.csv, prim_box.csv, cart_leaves.csv   scenario discovery (when asked)
    *.png, report.md  plots and a report with findings generated from the numbers
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from sim.batch import run_batch
from sim.designs import analyse, sample
from sim.discovery import DiscoveryResult, discover
from sim.experiment import Experiment, ExperimentError
from sim.parameters import ORDERED, check_parameter_set
from sim.scenario import Scenario, ScenarioError
from sim.store import BatchStore, StoreError, atomic_write
from sim.sweep_report import write_report
from sim.sweep_runs import KEEP, run_points


class SweepError(Exception):
    """The sweep ran but cannot be analysed (design points without a successful run)."""


@dataclass(frozen=True)
class SweepResult:
    """A finished sweep.

    Attributes:
        experiment: The spec.
        out: Its folder.
        samples: The design points (index ``sample``).
        outputs: ``sample, output, mean, sd, min, max, runs``.
        series: ``sample, year`` and the series columns (replication means).
        indices: ``parameter, output`` and the design's indices, or None (grid, oat, lhs).
        discovery: PRIM and CART results for the spec's yes/no outcome, or None.
        failed: Runs that raised (left out of the outputs; listed in the runs table).
    """

    experiment: Experiment
    out: Path
    samples: pd.DataFrame
    outputs: pd.DataFrame
    series: pd.DataFrame
    indices: pd.DataFrame | None
    discovery: DiscoveryResult | None
    failed: int

    def output(self, name: str) -> pd.Series:
        """Replication mean of one output per design point, by sample."""
        table = self.outputs[self.outputs["output"] == name]
        return table.set_index("sample")["mean"].sort_index()


def point_name(experiment: Experiment, index: int) -> str:
    """The scenario name of design point ``index``."""
    return f"{experiment.name}/{index:05d}"


def design(experiment: Experiment) -> pd.DataFrame:
    """The experiment's design points."""
    return sample(
        experiment.design,
        experiment.parameters,
        samples=experiment.samples,
        levels=experiment.levels,
        seed=experiment.seed,
        baseline=experiment.scenario.parameters,
    )


def check_points(experiment: Experiment, samples: pd.DataFrame) -> None:
    """Check every design point against the constraints between parameters.

    The same check as ``point_scenarios`` (ranges are the experiment's, checked when it was
    loaded), without building a scenario per point.

    Raises:
        ExperimentError: A point breaks a constraint.
    """
    paired = sorted({name for pair in ORDERED for name in pair} & set(samples.columns))
    if not paired:
        return
    base = dict(experiment.scenario.parameters)
    for i, row in enumerate(samples[paired].to_dict("records")):
        if check_parameter_set(base | row):
            point_scenarios(experiment, samples.iloc[[i]])  # raises, naming the point's problem


def point_scenarios(experiment: Experiment, samples: pd.DataFrame) -> list[Scenario]:
    """One scenario per design point.

    Raises:
        ExperimentError: A point breaks a constraint between parameters.
    """
    out = []
    for index, row in samples.iterrows():
        try:
            point = experiment.scenario.with_parameters(**row.to_dict())
        except ScenarioError as exc:
            raise ExperimentError(experiment.source, "parameters", str(exc)) from None
        out.append(replace(point, name=point_name(experiment, int(index))))
    return out


def run_sweep(
    experiment: Experiment,
    out: str | Path | None = None,
    *,
    executor: str = "processes",
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool | None = None,
    keep: str = "outputs",
    chunk_runs: int | None = None,
) -> SweepResult:
    """Run an experiment and write its samples, outputs and indices.

    Args:
        experiment: From ``load_experiment``.
        out: Folder (default ``results/sweep-<name>``).
        executor: ``serial``, ``processes`` or ``dask`` (as for a batch).
        workers: Worker processes.
        scheduler: Address of a Dask scheduler.
        resume: Complete the sweep already in ``out``.
        progress: Show a progress bar (default: when on a terminal).
        keep: ``outputs`` (default): each run's outputs and each point's series, reduced in the
            worker (``sim.sweep_runs``); ``tables``: every run's full tables, as a batch.
        chunk_runs: Runs per task, whole design points (default ``sim.sweep_runs.CHUNK_RUNS``;
            with ``keep="tables"`` a task is one point's replications).

    Returns:
        The sweep's tables.

    Raises:
        ExperimentError: A design point is invalid.
        StoreError, BatchError, ExecutorError: As for ``run_batch``.
        BatchInterrupted, KeyboardInterrupt: Finished points are saved; ``resume`` completes.
    """
    if keep not in KEEP:
        raise ExperimentError(experiment.source, "", f"--keep {keep!r}: expected one of {KEEP}")
    out = Path(out) if out is not None else Path("results") / f"sweep-{experiment.name}"
    samples = design(experiment)
    old = BatchStore(out / "runs").read_manifest()
    stored = None if old is None else old.get("keep", "tables")
    if stored not in (None, keep):
        raise StoreError(f"--keep {keep}: {out} holds a sweep run with --keep {stored}")
    execution = {"executor": executor, "workers": workers, "scheduler": scheduler}
    execution["resume"] = resume
    if keep == "outputs":
        check_points(experiment, samples)
        run_points(
            experiment, samples, out / "runs", progress=progress, chunk_runs=chunk_runs, **execution
        )
    else:
        run_batch(
            point_scenarios(experiment, samples),
            experiment.replications,
            experiment.seed,
            engine="ensemble",
            out=out / "runs",
            chunk_size=experiment.replications,
            progress=progress,
            **execution,
        )
    atomic_write(out / "experiment.toml", lambda tmp: shutil.copyfile(experiment.source, tmp))
    return analyse_sweep(experiment, out, samples)


def analyse_sweep(experiment: Experiment, out: Path, samples: pd.DataFrame) -> SweepResult:
    """Read the outputs from a finished sweep's store, compute indices and write the tables."""
    store = BatchStore(out / "runs")
    outputs = read_outputs(experiment, store)
    lost = set(samples.index) - set(outputs["sample"])
    if lost:
        first = point_name(experiment, min(lost))
        raise SweepError(
            f"{len(lost)} design points have no successful run, e.g. {first}"
            f" (see `alliance query {out / 'runs'} \"SELECT * FROM runs WHERE status = 'failed'\"`)"
        )
    series = read_series(experiment, store)
    tables = []
    for o in experiment.outputs:
        y = outputs[outputs["output"] == o.name].set_index("sample")["mean"]
        table = analyse(
            experiment.design,
            experiment.parameters,
            samples,
            y,
            levels=experiment.levels,
            seed=experiment.seed,
        )
        if table is not None:
            table.insert(1, "output", o.name)
            tables.append(table)
    indices = pd.concat(tables, ignore_index=True) if tables else None
    _write_parquet(samples.reset_index(), out / "samples.parquet")
    _write_parquet(outputs, out / "outputs.parquet")
    _write_parquet(series, out / "series.parquet")
    if indices is not None:
        _write_csv(indices, out / "indices.csv")
    found = None
    if experiment.discovery is not None:
        d = experiment.discovery
        y = (
            outputs[outputs["output"] == d.output]
            .set_index("sample")["mean"]
            .reindex(samples.index)
        )
        holds = (y < d.threshold) if d.below else (y > d.threshold)
        if holds.all() or not holds.any():
            problem = (
                f"{d.label} holds in {int(holds.sum())} of {len(holds)} design points, so there is "
                "nothing to explain; change the threshold and rerun with --resume"
            )
            raise ExperimentError(experiment.source, "discovery", problem)
        found = discover(samples, holds)
        _write_csv(found.trajectory, out / "prim_trajectory.csv")
        _write_csv(found.box, out / "prim_box.csv")
        _write_csv(found.cart, out / "cart_leaves.csv")
    failed = store.read_manifest()["status"]["failed"]
    result = SweepResult(experiment, out, samples, outputs, series, indices, found, failed)
    write_report(result)
    return result


def _write_csv(table: pd.DataFrame, path: Path) -> None:
    text = table.to_csv(index=False, float_format="%.6g")
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def _write_parquet(table: pd.DataFrame, path: Path) -> None:
    atomic_write(path, lambda tmp: table.to_parquet(tmp, index=False))


def _sample_index(names: pd.Series) -> pd.Series:
    return names.str.rsplit("/", n=1).str[1].astype("int64")


def read_outputs(experiment: Experiment, store: BatchStore) -> pd.DataFrame:
    """Each output's replication statistics per design point (successful runs only)."""
    outputs_only = "outputs" in store.tables
    frames = []
    for o in experiment.outputs:
        # names, columns and ally codes are checked against fixed lists by load_experiment
        value = o.name if outputs_only else o.column
        stats = (
            f"avg({value}) AS mean, stddev_samp({value}) AS sd, min({value}) AS min, "
            f"max({value}) AS max, count(*) AS runs"
        )
        if outputs_only:
            frame = store.query(f"SELECT sample, {stats} FROM outputs GROUP BY sample")
        else:
            where = f"year = {o.year}" + (f" AND iso3 = '{o.ally}'" if o.ally else "")
            frame = store.query(
                f"SELECT scenario, {stats} FROM {o.table} WHERE {where} GROUP BY scenario"
            )
            frame.insert(0, "sample", _sample_index(frame.pop("scenario")))
        frame.insert(0, "output", o.name)
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    table.insert(0, "sample", table.pop("sample").astype("int64"))
    return table.sort_values(["output", "sample"], kind="stable").reset_index(drop=True)


def read_series(experiment: Experiment, store: BatchStore) -> pd.DataFrame:
    """Replication mean of each series column per design point and year."""
    if not experiment.series:
        return pd.DataFrame({"sample": pd.Series(dtype="int64"), "year": pd.Series(dtype="int64")})
    columns = ", ".join(experiment.series)
    if "series" in store.tables:
        table = store.query(f"SELECT sample, year, {columns} FROM series")
    else:
        means = ", ".join(f"avg({c}) AS {c}" for c in experiment.series)
        table = store.query(f"SELECT scenario, year, {means} FROM alliance GROUP BY scenario, year")
        table.insert(0, "sample", _sample_index(table.pop("scenario")))
    return table.sort_values(["sample", "year"]).reset_index(drop=True)


def format_sweep(result: SweepResult) -> str:
    """What ``alliance sweep`` prints: the design, the most influential parameters, the files."""
    e = result.experiment
    lines = [
        f"{e.name}: {e.design} design, {len(result.samples)} points x {e.replications} "
        f"replications of {e.scenario.name}",
    ]
    if result.indices is not None:
        key = "ST" if e.design == "sobol" else "mu_star"
        for name, table in result.indices.groupby("output", sort=False):
            top = table.sort_values(key, ascending=False).head(3)
            ranked = ", ".join(f"{r.parameter} ({getattr(r, key):.3g})" for r in top.itertuples())
            lines.append(f"  {name}: {key} {ranked}")
    if result.discovery is not None:
        found = result.discovery
        box = "; ".join(f"{r.parameter} {r.low:.3g}-{r.high:.3g}" for r in found.box.itertuples())
        lines.append(
            f"  {e.discovery.label}: {found.cases} of {found.points} points; PRIM box {box} "
            f"(coverage {found.coverage:.2f}, density {found.density:.2f})"
        )
    if result.failed:
        lines.append(f"  {result.failed} runs failed and are left out (see the runs table)")
    lines.append(f"Written: {result.out}/report.md, with its tables and plots")
    return "\n".join(lines)
