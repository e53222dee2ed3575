"""Policy-search specs: the levers a decision maker sets, the futures they face, the objectives.

A spec (TOML, e.g. ``experiments/policy_search.toml``) separates **levers** (parameters the user
controls, searched over) from **uncertainties** (parameters nobody controls, sampled as futures
when the designs found are re-evaluated), names the **objectives** (a column of the run tables
reduced over the years, to maximise or minimise) and sets the search and the re-evaluation. It
is checked against the parameter definitions and the run tables before anything runs; a problem
raises ``PolicySpecError`` naming the file and the field.

Example::

    description = "Which US stance gets the most allies to 3.5%, robustly?"
    scenario = "hague-2035"
    seed = 2035

    [search]
    algorithm = "eps-nsga2"     # or "nsga2" (Platypus)
    nfe = 5000                  # designs evaluated in all
    population = 50
    replications = 20           # runs per design in the reference future (common seeds)

    [levers]
    retrenchment_threshold = { range = [0.2, 1.0] }

    [uncertainties]
    threat_scale = { range = [0.6, 1.6] }

    [[objectives]]
    name = "allies_at_3_5pct_2035"
    column = "allies_ge_3_5pct_core"   # a column of the alliance or allies table
    year = 2035                        # default: the scenario's last year
    measure = "at"                     # at (the year's value) | mean | years_above (after the
                                       #   start year, through year); years_above needs above = x
    direction = "max"                  # or "min"
    epsilon = 0.25                     # resolution of the epsilon-dominance archive
    threshold = 12                     # satisficing: at least (max) or at most (min) this

    [robustness]
    futures = 500                # Latin hypercube of the uncertainties
    replications = 5             # runs per design and future (common seeds across designs)
    posterior = false            # also draw the calibrated parameters from the posterior
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.columns import ALLIANCE_COLUMNS, ALLY_COLUMNS
from sim.data import load_reference
from sim.ensemble import Recorded, simulate_points
from sim.experiment import Varied, open_spec
from sim.parameters import ORDERED, PARAMETERS
from sim.scenario import Scenario
from sim.spec_checks import MISSING, SpecError, get_field, type_problem, unknown_problem

ALGORITHMS = ("eps-nsga2", "nsga2")
"""Platypus's epsilon-NSGA-II (with adaptive restarts) and NSGA-II (with an epsilon archive)."""
MEASURES = ("at", "mean", "years_above")
DIRECTIONS = ("max", "min")
_TOP = (
    "description", "scenario", "seed", "search", "levers", "uncertainties", "objectives",
    "robustness",
)  # fmt: skip
_SEARCH = ("algorithm", "nfe", "population", "replications")
_ROBUSTNESS = ("futures", "replications", "posterior")
_OBJECTIVE = (
    "name", "column", "ally", "year", "measure", "above", "direction", "epsilon", "threshold",
)  # fmt: skip


class PolicySpecError(SpecError):
    """An invalid policy-search spec: the file, the field and what is wrong."""


@dataclass(frozen=True)
class Objective:
    """A scalar the search maximises or minimises, from one column of the run tables.

    Attributes:
        name: Its name in the result tables.
        column: A column of the ``alliance`` or ``allies`` table.
        table: ``alliance`` or ``allies``.
        ally: ISO3 code, for ``allies`` columns.
        year: The last year read.
        measure: ``at`` (the value in ``year``), ``mean`` (mean over the years after the start
            year, through ``year``) or ``years_above`` (how many of those years exceed
            ``above``).
        above: The level ``years_above`` counts years above, else None.
        direction: ``max`` or ``min``.
        epsilon: Resolution of the epsilon-dominance archive, in the objective's units.
        threshold: Satisficing level (at least this for ``max``, at most for ``min``), or None.
    """

    name: str
    column: str
    table: str
    ally: str | None
    year: int
    measure: str
    above: float | None
    direction: str
    epsilon: float
    threshold: float | None

    def values(self, rec: Recorded) -> np.ndarray:
        """The objective of each run recorded in ``rec`` (runs,)."""
        at = int(np.flatnonzero(rec.years == self.year)[0])
        if self.table == "alliance":
            series = rec.alliance[self.column]
        else:
            series = rec.allies[self.column][:, :, int(np.flatnonzero(rec.iso3 == self.ally)[0])]
        if self.measure == "at":
            return series[:, at]
        window = series[:, 1 : at + 1]
        if self.measure == "mean":
            return window.mean(axis=1)
        return (window > self.above).sum(axis=1).astype(float)

    def meets(self, values: np.ndarray) -> np.ndarray:
        """Whether each value meets the threshold (all True without one)."""
        values = np.asarray(values, dtype=float)
        if self.threshold is None:
            return np.ones(values.shape, dtype=bool)
        return values >= self.threshold if self.direction == "max" else values <= self.threshold

    @property
    def label(self) -> str:
        """The objective and its goal in words."""
        if self.threshold is None:
            return f"{self.direction} {self.name}"
        sign = ">=" if self.direction == "max" else "<="
        return f"{self.direction} {self.name} ({sign} {self.threshold:g})"


@dataclass(frozen=True)
class Search:
    """The multi-objective search in the reference future.

    Attributes:
        algorithm: One of ``ALGORITHMS``.
        nfe: Designs evaluated in all (the search stops at the first generation reaching it).
        population: Designs per generation.
        replications: Runs per design (the same seeds for every design).
    """

    algorithm: str
    nfe: int
    population: int
    replications: int


@dataclass(frozen=True)
class Robustness:
    """The re-evaluation of the designs found, across sampled futures.

    Attributes:
        futures: Points of the Latin hypercube of the uncertainties.
        replications: Runs per design and future (the same seeds for every design).
        posterior: Whether each future also takes a draw of the posterior's parameters.
    """

    futures: int
    replications: int
    posterior: bool


@dataclass(frozen=True)
class PolicySpec:
    """A checked policy-search spec.

    Attributes:
        name: The file's stem.
        description: The question it answers.
        scenario: The reference future (uncertainties at the scenario's values).
        seed: Root seed of the search, the futures and every run.
        search: The search settings.
        levers: The parameters searched over.
        uncertainties: The parameters sampled as futures.
        objectives: The objectives, in order.
        robustness: The re-evaluation settings.
        source: The spec file.
    """

    name: str
    description: str
    scenario: Scenario
    seed: int
    search: Search
    levers: tuple[Varied, ...]
    uncertainties: tuple[Varied, ...]
    objectives: tuple[Objective, ...]
    robustness: Robustness
    source: str

    @property
    def lever_names(self) -> list[str]:
        """The levers' names, in order."""
        return [v.name for v in self.levers]

    @property
    def objective_names(self) -> list[str]:
        """The objectives' names, in order."""
        return [o.name for o in self.objectives]


def load_policy_spec(path: str | Path) -> PolicySpec:
    """Read and check a policy-search spec.

    Raises:
        PolicySpecError: The file is missing, not TOML, or a field is invalid.
    """
    path, src, raw, scenario = open_spec(path, PolicySpecError, _TOP, "policy-search spec")
    seed = _get(src, raw, "seed", int, 1)
    if seed < 0:
        raise PolicySpecError(src, "seed", f"must be at least 0, got {seed}")
    levers = _ranges(src, "levers", _get(src, raw, "levers", dict))
    uncertainties = _ranges(src, "uncertainties", _get(src, raw, "uncertainties", dict))
    for v in uncertainties:
        if v.name in {lever.name for lever in levers}:
            raise PolicySpecError(src, f"uncertainties.{v.name}", "is also a lever")
    _check_ordered(src, scenario, {"levers": levers, "uncertainties": uncertainties})
    objectives = _objectives(src, _get(src, raw, "objectives", list), scenario)
    return PolicySpec(
        name=path.stem,
        description=_get(src, raw, "description", str),
        scenario=scenario,
        seed=seed,
        search=_search(src, _get(src, raw, "search", dict)),
        levers=levers,
        uncertainties=uncertainties,
        objectives=objectives,
        robustness=_robustness(src, _get(src, raw, "robustness", dict)),
        source=str(path),
    )


def _get(src: str, table: Mapping, key: str, kind: type, default: Any = MISSING) -> Any:
    return get_field(PolicySpecError, src, dict(table), key, kind, default)


def _field(src: str, where: str, table: Mapping, key: str, kind: type, default: Any = MISSING):
    """``_get`` for a field of a sub-table, named ``where.key`` in errors."""
    try:
        return _get(src, table, key, kind, default)
    except PolicySpecError as exc:
        raise PolicySpecError(src, f"{where}.{key}", exc.problem) from None


def _check_fields(src: str, where: str, table: Mapping, allowed: Sequence[str]) -> None:
    for key in table:
        problem = unknown_problem(key, allowed)
        if problem:
            raise PolicySpecError(src, f"{where}.{key}", problem)


def _at_least(src: str, where: str, value: int, low: int) -> int:
    if value < low:
        raise PolicySpecError(src, where, f"must be at least {low}, got {value}")
    return value


def _ranges(src: str, section: str, table: dict) -> tuple[Varied, ...]:
    """The parameters of ``[levers]`` or ``[uncertainties]``, each ``{ range = [low, high] }``."""
    if not table:
        raise PolicySpecError(src, section, "name at least one parameter")
    out = []
    for name, spec in table.items():
        where = f"{section}.{name}"
        if name not in PARAMETERS:
            raise PolicySpecError(src, where, "unknown parameter (see `alliance parameters`)")
        if not isinstance(spec, dict) or "range" not in spec:
            raise PolicySpecError(src, where, "expected { range = [low, high] }")
        _check_fields(src, where, spec, ("range",))
        values = spec["range"]
        if not isinstance(values, list) or len(values) != 2:
            raise PolicySpecError(src, f"{where}.range", "expected [low, high]")
        for value in values:
            problem = type_problem(value, float) or PARAMETERS[name].check(value)
            if problem:
                raise PolicySpecError(src, f"{where}.range", problem)
        low, high = float(values[0]), float(values[1])
        if low >= high:
            raise PolicySpecError(src, f"{where}.range", f"empty range [{low:g}, {high:g}]")
        out.append(Varied(name, low, high, None, PARAMETERS[name].integer))
    return tuple(out)


def _check_ordered(src: str, scenario: Scenario, sections: Mapping[str, Sequence[Varied]]) -> None:
    """Refuse ranges that let a parameter that must stay below another reach it."""
    bounds = {v.name: (section, v.low, v.high) for section, vs in sections.items() for v in vs}
    for low_name, high_name in ORDERED:
        if low_name not in bounds and high_name not in bounds:
            continue
        top = bounds[low_name][2] if low_name in bounds else scenario.parameters[low_name]
        bottom = bounds[high_name][1] if high_name in bounds else scenario.parameters[high_name]
        if top >= bottom:
            name = high_name if high_name in bounds else low_name
            problem = f"{high_name} must stay above {low_name} ({bottom:g} <= {top:g})"
            raise PolicySpecError(src, f"{bounds[name][0]}.{name}", problem)


def _search(src: str, table: dict) -> Search:
    _check_fields(src, "search", table, _SEARCH)
    algorithm = _field(src, "search", table, "algorithm", str, "eps-nsga2")
    if algorithm not in ALGORITHMS:
        problem = f"unknown algorithm {algorithm!r} (expected one of {', '.join(ALGORITHMS)})"
        raise PolicySpecError(src, "search.algorithm", problem)
    population = _at_least(
        src, "search.population", _field(src, "search", table, "population", int, 50), 4
    )
    nfe = _at_least(src, "search.nfe", _field(src, "search", table, "nfe", int), population)
    replications = _field(src, "search", table, "replications", int, 10)
    replications = _at_least(src, "search.replications", replications, 1)
    return Search(algorithm, nfe, population, replications)


def _robustness(src: str, table: dict) -> Robustness:
    _check_fields(src, "robustness", table, _ROBUSTNESS)
    futures = _field(src, "robustness", table, "futures", int)
    replications = _field(src, "robustness", table, "replications", int, 5)
    posterior = table.get("posterior", False)
    if not isinstance(posterior, bool):
        got = f"{type(posterior).__name__} {posterior!r}"
        raise PolicySpecError(src, "robustness.posterior", f"expected true or false, got {got}")
    return Robustness(
        _at_least(src, "robustness.futures", futures, 10),
        _at_least(src, "robustness.replications", replications, 1),
        posterior,
    )


def _objectives(src: str, items: list, scenario: Scenario) -> tuple[Objective, ...]:
    if len(items) < 2:
        raise PolicySpecError(src, "objectives", "name at least two objectives (a trade-off)")
    out: list[Objective] = []
    for i, item in enumerate(items):
        where = f"objectives[{i}]"
        if not isinstance(item, dict):
            raise PolicySpecError(src, where, "expected a table")
        _check_fields(src, where, item, _OBJECTIVE)
        out.append(_objective(src, where, item, scenario, {o.name for o in out}))
    if all(o.threshold is None for o in out):
        problem = "give at least one objective a threshold (satisficing counts the futures "
        raise PolicySpecError(src, "objectives", problem + "that meet every threshold)")
    return tuple(out)


def _objective(src: str, where: str, item: dict, scenario: Scenario, taken: set) -> Objective:
    name = _field(src, where, item, "name", str)
    if not name.isidentifier() or name in taken:
        raise PolicySpecError(src, f"{where}.name", f"{name!r}: not a unique identifier")
    column = _field(src, where, item, "column", str)
    if column in ALLIANCE_COLUMNS:
        table = "alliance"
    elif column in ALLY_COLUMNS:
        table = "allies"
    else:
        raise PolicySpecError(src, f"{where}.column", f"unknown output column {column!r}")
    ally = item.get("ally")
    if table == "allies" and ally not in set(load_reference().allies.index):
        raise PolicySpecError(src, f"{where}.ally", f"{column} needs a known ally, got {ally!r}")
    if table == "alliance" and ally is not None:
        raise PolicySpecError(src, f"{where}.ally", f"{column} is alliance-wide")
    year = _field(src, where, item, "year", int, scenario.end_year)
    measure = _field(src, where, item, "measure", str, "at")
    if measure not in MEASURES:
        problem = f"unknown measure {measure!r} (expected one of {', '.join(MEASURES)})"
        raise PolicySpecError(src, f"{where}.measure", problem)
    first = scenario.start_year + (measure != "at")
    if not first <= year <= scenario.end_year:
        problem = f"{year} is outside {first}-{scenario.end_year} (measure {measure})"
        raise PolicySpecError(src, f"{where}.year", problem)
    above = _field(src, where, item, "above", float, None)
    if (above is None) == (measure == "years_above"):
        problem = "give above = x with measure years_above only"
        raise PolicySpecError(src, f"{where}.above" if above is not None else where, problem)
    direction = _field(src, where, item, "direction", str)
    if direction not in DIRECTIONS:
        problem = f"expected one of {', '.join(DIRECTIONS)}, got {direction!r}"
        raise PolicySpecError(src, f"{where}.direction", problem)
    epsilon = float(_field(src, where, item, "epsilon", float))
    if epsilon <= 0:
        raise PolicySpecError(src, f"{where}.epsilon", f"must be above 0, got {epsilon:g}")
    threshold = _field(src, where, item, "threshold", float, None)
    return Objective(
        name=name,
        column=column,
        table=table,
        ally=ally,
        year=year,
        measure=measure,
        above=None if above is None else float(above),
        direction=direction,
        epsilon=epsilon,
        threshold=None if threshold is None else float(threshold),
    )


def simulate_objectives(
    base: Scenario,
    parameters: Sequence[Mapping[str, float]],
    seeds: Sequence[Sequence[int]],
    objectives: Sequence[Objective],
) -> np.ndarray:
    """Every objective of every run of some parameter sets, all advanced at once.

    Args:
        base: The scenario every parameter set modifies.
        parameters: One mapping per parameter set (levers and, in a future, uncertainties).
        seeds: The seeds of each set's runs, as many for every set.
        objectives: What to measure.

    Returns:
        (sets, runs per set, objectives) array.
    """
    points = [base.with_parameters(**values) for values in parameters]
    rec = simulate_points(
        points,
        [list(s) for s in seeds],
        sorted({o.column for o in objectives if o.table == "allies"}),
        sorted({o.column for o in objectives if o.table == "alliance"}),
    )
    values = np.stack([o.values(rec) for o in objectives], axis=-1)
    return values.reshape(len(points), -1, len(objectives))
