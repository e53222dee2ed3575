"""Experiment specs: the TOML files in ``experiments/`` that define a sensitivity sweep.

A spec names the scenario, the parameters that vary (a range, or a list of values), the design,
the replications per design point and the outputs of interest. Everything is checked against the
parameter definitions and the run tables before anything runs; a problem raises
``ExperimentError`` naming the file and the field.

Example::

    description = "Which assumptions drive the 2035 outcome?"
    scenario = "hague-2035"
    design = "morris"          # grid | oat | lhs | sobol | morris
    samples = 20               # lhs: points; sobol: N (a power of 2); morris: trajectories
    replications = 10
    seed = 1

    [parameters]
    threat_scale = { range = [0.5, 1.5] }
    us_pressure_strength = { values = [0.0, 0.5, 1.0] }   # grid and oat only

    [[outputs]]
    name = "germany_personnel_2035"
    column = "personnel_k"     # a column of the allies or alliance table
    ally = "DEU"               # allies-table columns only
    year = 2035                # default: the scenario's last year

    [series]
    columns = ["allies_ge_3_5pct_core", "capability_gap"]

    [discovery]                # scenario discovery of a yes/no outcome
    output = "allies_ge_3_5pct_core_2035"
    below = 24                 # or: above = ...
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.columns import ALLIANCE_COLUMNS, ALLY_COLUMNS
from sim.data import load_reference
from sim.parameters import PARAMETERS
from sim.scenario import Scenario, ScenarioError, load_scenario
from sim.spec_checks import (
    MISSING,
    SpecError,
    get_field,
    read_toml,
    type_problem,
    unknown_problem,
)

DESIGNS = ("grid", "oat", "lhs", "sobol", "morris")
"""Full factorial grid, one-at-a-time, Latin hypercube, Sobol (Saltelli), Morris."""

_NEEDS_RANGES = ("lhs", "sobol", "morris")
_TOP = {
    "description", "scenario", "design", "samples", "levels", "replications", "seed",
    "parameters", "outputs", "series", "discovery",
}  # fmt: skip


class ExperimentError(SpecError):
    """An invalid experiment spec: the file, the field and what is wrong."""


@dataclass(frozen=True)
class Varied:
    """A parameter the design varies.

    Attributes:
        name: The parameter.
        low: Lower bound (the smallest value when ``values`` is given).
        high: Upper bound (the largest value when ``values`` is given).
        values: Explicit values (grid and one-at-a-time designs), or None for a uniform range.
        integer: Whether the parameter takes whole numbers (sampled values are rounded).
    """

    name: str
    low: float
    high: float
    values: tuple[float, ...] | None
    integer: bool


@dataclass(frozen=True)
class Output:
    """A scalar output: one column of the run tables in one year (and for one ally).

    Attributes:
        name: Its name in ``outputs.parquet`` and ``indices.csv``.
        column: A column of the ``alliance`` or ``allies`` table.
        table: ``alliance`` or ``allies``.
        year: The year read.
        ally: ISO3 code, for ``allies`` columns.
    """

    name: str
    column: str
    table: str
    year: int
    ally: str | None


@dataclass(frozen=True)
class Discovery:
    """A yes/no outcome for scenario discovery: ``output`` below (or above) ``threshold``."""

    output: str
    threshold: float
    below: bool

    @property
    def label(self) -> str:
        """Plain statement of the outcome."""
        return f"{self.output} {'<' if self.below else '>'} {self.threshold:g}"


@dataclass(frozen=True)
class Experiment:
    """A checked experiment spec.

    Attributes:
        name: The file's stem.
        description: What question it answers.
        scenario: The scenario every design point starts from.
        design: One of ``DESIGNS``.
        samples: Points (lhs), N (sobol), trajectories (morris); unused by grid and oat.
        levels: Points per range (grid, oat) or Morris levels.
        replications: Runs per design point.
        seed: Root seed of the design and of the runs.
        parameters: The varied parameters.
        outputs: The scalar outputs.
        series: Alliance columns kept per year for fan charts.
        discovery: The yes/no outcome to explain, or None.
        source: The spec file.
    """

    name: str
    description: str
    scenario: Scenario
    design: str
    samples: int
    levels: int
    replications: int
    seed: int
    parameters: tuple[Varied, ...]
    outputs: tuple[Output, ...]
    series: tuple[str, ...]
    discovery: Discovery | None
    source: str


def load_experiment(path: str | Path) -> Experiment:
    """Read and check an experiment spec.

    Raises:
        ExperimentError: The file is missing, not TOML, or a field is invalid.
    """
    path, src, raw, scenario = open_spec(path, ExperimentError, _TOP, "experiment file")
    design = _get(src, raw, "design", str)
    if design not in DESIGNS:
        raise ExperimentError(src, "design", f"unknown design {design!r} (expected {DESIGNS})")
    samples = _get(src, raw, "samples", int, 0 if design in ("grid", "oat") else None)
    levels = _get(src, raw, "levels", int, 4)
    replications = _get(src, raw, "replications", int, 10)
    seed = _get(src, raw, "seed", int, 1)
    for field, value, low in (
        ("samples", samples, 0 if design in ("grid", "oat") else 1),
        ("levels", levels, 2),
        ("replications", replications, 1),
        ("seed", seed, 0),
    ):
        if value < low:
            raise ExperimentError(src, field, f"must be at least {low}, got {value}")
    if design == "sobol" and samples & (samples - 1):
        raise ExperimentError(src, "samples", f"Sobol needs a power of 2, got {samples}")
    if design == "morris" and levels % 2:
        raise ExperimentError(src, "levels", f"Morris needs an even number of levels, got {levels}")
    parameters = _parameters(src, _get(src, raw, "parameters", dict), design)
    outputs = _outputs(src, _get(src, raw, "outputs", list), scenario)
    series = _series(src, _get(src, raw, "series", dict, {}))
    discovery = _discovery(src, _get(src, raw, "discovery", dict, None), outputs)
    return Experiment(
        name=path.stem,
        description=_get(src, raw, "description", str),
        scenario=scenario,
        design=design,
        samples=samples,
        levels=levels,
        replications=replications,
        seed=seed,
        parameters=parameters,
        outputs=outputs,
        series=series,
        discovery=discovery,
        source=str(path),
    )


def open_spec(
    path: str | Path, error: type[SpecError], top, what: str
) -> tuple[Path, str, dict, Scenario]:
    """Read a spec that names a scenario: (path, its name for messages, its TOML, the scenario).

    Shared by experiment specs and policy-search specs (``sim.policy_spec``).

    Raises:
        error: The file is missing or not TOML, has a field not in ``top``, or names a bad
            scenario (a scenario file is looked up next to the spec first).
    """
    path = Path(path)
    src = path.name
    if not path.is_file():
        raise error(str(path), "", f"no such {what}")
    raw = read_toml(path, error, src)
    for key in raw:
        problem = unknown_problem(key, top)
        if problem:
            raise error(src, key, problem)
    ref = get_field(error, src, raw, "scenario", str)
    if ref.endswith(".toml") and not Path(ref).is_absolute():
        ref = path.parent / ref  # a scenario file next to the spec
    try:
        scenario = load_scenario(ref)
    except ScenarioError as exc:
        raise error(src, "scenario", str(exc)) from None
    return path, src, raw, scenario


def _get(src: str, table: dict, key: str, kind: type, default: Any = MISSING) -> Any:
    """``get_field`` for experiment specs; a default of None means required (but for tables)."""
    required = default is None and kind is not dict
    return get_field(ExperimentError, src, table, key, kind, MISSING if required else default)


def _number(src: str, where: str, value: Any) -> float:
    problem = type_problem(value, float)
    if problem:
        raise ExperimentError(src, where, problem)
    return float(value)


def _parameters(src: str, table: dict, design: str) -> tuple[Varied, ...]:
    if not table:
        raise ExperimentError(src, "parameters", "name at least one parameter to vary")
    out = []
    for name, spec in table.items():
        where = f"parameters.{name}"
        if name not in PARAMETERS:
            raise ExperimentError(src, where, "unknown parameter (see `alliance parameters`)")
        p = PARAMETERS[name]
        if not isinstance(spec, dict) or len({"range", "values"} & set(spec)) != 1:
            raise ExperimentError(src, where, "give either range = [low, high] or values = [...]")
        unknown = set(spec) - {"range", "values", "distribution"}
        if unknown:
            raise ExperimentError(src, f"{where}.{sorted(unknown)[0]}", "unknown field")
        if spec.get("distribution", "uniform") != "uniform":
            raise ExperimentError(src, f"{where}.distribution", "only 'uniform' is supported")
        key = "range" if "range" in spec else "values"
        raw = spec[key]
        if not isinstance(raw, list) or not raw:
            raise ExperimentError(src, f"{where}.{key}", "expected a list of numbers")
        values = [_number(src, f"{where}.{key}", v) for v in raw]
        for v in values:
            problem = p.check(v)
            if problem:
                raise ExperimentError(src, f"{where}.{key}", problem)
        if key == "range":
            if len(values) != 2 or values[0] >= values[1]:
                raise ExperimentError(src, f"{where}.range", "expected [low, high] with low < high")
            out.append(Varied(name, values[0], values[1], None, p.integer))
        else:
            if design in _NEEDS_RANGES:
                raise ExperimentError(src, f"{where}.values", f"the {design} design needs a range")
            out.append(Varied(name, min(values), max(values), tuple(values), p.integer))
    return tuple(out)


def _outputs(src: str, items: list, scenario: Scenario) -> tuple[Output, ...]:
    if not items:
        raise ExperimentError(src, "outputs", "name at least one output")
    allies = set(load_reference().allies.index)
    out, names = [], set()
    for i, item in enumerate(items):
        where = f"outputs[{i}]"
        if not isinstance(item, dict):
            raise ExperimentError(src, where, "expected a table")
        unknown = set(item) - {"name", "column", "year", "ally"}
        if unknown:
            raise ExperimentError(src, f"{where}.{sorted(unknown)[0]}", "unknown field")
        name = _get(src, item, "name", str)
        if not name.isidentifier() or name in names:
            raise ExperimentError(src, f"{where}.name", f"{name!r}: not a unique identifier")
        names.add(name)
        column = _get(src, item, "column", str)
        if column in ALLIANCE_COLUMNS:
            table = "alliance"
        elif column in ALLY_COLUMNS:
            table = "allies"
        else:
            raise ExperimentError(src, f"{where}.column", f"unknown output column {column!r}")
        ally = item.get("ally")
        if table == "allies" and ally not in allies:
            raise ExperimentError(
                src, f"{where}.ally", f"{column} needs a known ally, got {ally!r}"
            )
        if table == "alliance" and ally is not None:
            raise ExperimentError(src, f"{where}.ally", f"{column} is alliance-wide")
        year = _get(src, item, "year", int, scenario.end_year)
        if year not in scenario.years:
            raise ExperimentError(
                src, f"{where}.year", f"{year} is outside {scenario.start_year}-{scenario.end_year}"
            )
        out.append(Output(name, column, table, year, ally))
    return tuple(out)


def _series(src: str, table: dict) -> tuple[str, ...]:
    columns = _get(src, table, "columns", list, [])
    for c in columns:
        if c not in ALLIANCE_COLUMNS:
            raise ExperimentError(src, "series.columns", f"unknown alliance column {c!r}")
    return tuple(columns)


def _discovery(src: str, table: dict | None, outputs: tuple[Output, ...]) -> Discovery | None:
    if table is None:
        return None
    output = _get(src, table, "output", str)
    if output not in {o.name for o in outputs}:
        raise ExperimentError(src, "discovery.output", f"{output!r} is not one of the outputs")
    sides = {"below", "above"} & set(table)
    if len(sides) != 1 or set(table) - {"output", "below", "above"}:
        raise ExperimentError(src, "discovery", "give output and one of below = x or above = x")
    side = sides.pop()
    return Discovery(output, _number(src, f"discovery.{side}", table[side]), side == "below")
