"""The ensemble engine: many runs, of one parameter set or of many, advanced together as arrays.

It runs the same phase functions as the Mesa model (``sim.dynamics``), in the same order, on
arrays with runs first and allies next (runs x allies [x categories [x lead years]]). Each run
has its own parameter set (parameters that differ between runs are (runs, 1) arrays, the others
floats) and draws its shocks from its own seed exactly as ``AllianceModel(rng=seed)`` does, so
for the same (scenario, parameters, seed) both engines give the same tables (a test checks it
to 1e-9), whichever runs share a call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from types import MappingProxyType

import numpy as np
import pandas as pd

from sim.arrays import by_category, keep_freed_memory
from sim.columns import ALLIANCE_COLUMNS, ALLIANCE_TABLE, ALLIES_TABLE, ALLY_COLUMNS
from sim.dynamics import (
    adversary_update,
    alliance_measures,
    alliance_view,
    ally_measures,
    chosen_spending,
    delivered_stock,
    grown_gdp,
    industry_update,
    placed_orders,
    recruited,
    spending_usd,
    target_factors,
    threat_update,
    us_update,
)
from sim.initial import InitialState, ScenarioData, build_initial_state, scenario_data
from sim.mechanisms.targets import overall_fulfilment
from sim.parameters import lead_times, requirement_shares
from sim.scenario import Scenario, load_scenario
from sim.shocks import stack_shocks


@dataclass(frozen=True)
class EnsembleResult:
    """The tables of a set of replications, runs in the order of their seeds.

    Attributes:
        scenario: The resolved scenario, parameters included.
        seeds: One seed per run.
        allies: One row per run, year and ally (``ALLIES_TABLE``).
        alliance: One row per run and year (``ALLIANCE_TABLE``).
    """

    scenario: Scenario
    seeds: tuple[int, ...]
    allies: pd.DataFrame
    alliance: pd.DataFrame


@dataclass(frozen=True)
class Recorded:
    """Every series of a set of runs, as arrays (runs in the order given).

    Attributes:
        iso3: Ally codes (allies axis).
        names: Ally names.
        years: The years recorded, start year first.
        point: Index of each run's parameter set among those given.
        seeds: Each run's seed.
        allies: ``ALLY_COLUMNS`` name -> array (runs, years, allies).
        alliance: ``ALLIANCE_COLUMNS`` name -> array (runs, years).
    """

    iso3: np.ndarray
    names: np.ndarray
    years: np.ndarray
    point: np.ndarray
    seeds: np.ndarray
    allies: dict[str, np.ndarray]
    alliance: dict[str, np.ndarray]


def run_ensemble(
    scenario: str | Scenario, seeds: Sequence[int], **parameters: float
) -> EnsembleResult:
    """Run one replication per seed of a scenario, all at once.

    Args:
        scenario: A scenario name, a TOML path, or a loaded ``Scenario``.
        seeds: One seed per run; run r equals ``run_scenario(scenario, seeds[r])``.
        **parameters: Parameter values that replace the scenario's.

    Returns:
        The runs' tables.

    Raises:
        ScenarioError: Unknown scenario or invalid parameter.
        ValueError: No seeds.
    """
    spec = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    spec = spec.with_parameters(**parameters) if parameters else spec
    seeds = tuple(int(seed) for seed in seeds)
    if not seeds:
        raise ValueError("run_ensemble needs at least one seed")
    allies, alliance = point_tables([spec], [seeds])
    return EnsembleResult(spec, seeds, allies, alliance)


def simulate_points(
    points: Sequence[Scenario],
    seeds: Sequence[Sequence[int]],
    ally_columns: Sequence[str] = ALLY_COLUMNS,
    alliance_columns: Sequence[str] = ALLIANCE_COLUMNS,
    data: ScenarioData | None = None,
) -> Recorded:
    """Run ``seeds[i]`` replications of each parameter set ``points[i]``, all at once.

    Points must differ in their parameters only (as a sweep's design points do). Runs with the
    same lead times advance together; each run's numbers are those of ``run_ensemble`` of its
    point and seed alone.

    Args:
        points: Resolved scenarios, one per parameter set.
        seeds: Each point's seeds.
        ally_columns: The per-ally columns to record (default: all).
        alliance_columns: The alliance columns to record (default: all).
        data: The start state's data, when not the points' own ``scenario_data`` (the
            rolling-origin check's, built from what was known at its origin).

    Returns:
        Every run's series, runs in point order, then seed order.

    Raises:
        ValueError: No runs, or points that differ in more than their parameters.
    """
    if len(points) != len(seeds):
        raise ValueError(f"{len(points)} points but {len(seeds)} seed lists")
    first = points[0] if points else None
    if first is None or not any(seeds):
        raise ValueError("simulate_points needs at least one run")
    for point in points:
        if _differs_beyond_parameters(point, first):
            raise ValueError(
                f"point {point.name} differs from {first.name} in more than parameters"
            )
    keep_freed_memory()
    data = _shared_data(first) if data is None else data
    counts = np.array([len(s) for s in seeds])
    point_of_run = np.repeat(np.arange(len(points)), counts)
    seed_of_run = np.array([int(seed) for ss in seeds for seed in ss], dtype="int64")
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, point in enumerate(points):
        groups.setdefault(lead_times(point.parameters), []).append(i)
    runs, n_years = len(seed_of_run), len(first.years)
    allies = {name: np.empty((runs, n_years, len(data.iso3))) for name in ally_columns}
    alliance = {name: np.empty((runs, n_years)) for name in alliance_columns}
    for members in groups.values():
        rows = np.flatnonzero(np.isin(point_of_run, members))
        p = stack_parameters([points[i].parameters for i in members], counts[members])
        s = build_initial_state(first, data, p)
        got_allies, got_alliance = _simulate(
            first, s, tuple(seed_of_run[rows]), p, ally_columns, alliance_columns
        )
        for name, values in got_allies.items():
            allies[name][rows] = np.stack(values, axis=1)
        for name, values in got_alliance.items():
            alliance[name][rows] = np.stack(values, axis=1)
    return Recorded(
        data.iso3,
        data.names,
        np.asarray(first.years, dtype="int64"),
        point_of_run,
        seed_of_run,
        allies,
        alliance,
    )


def _differs_beyond_parameters(point: Scenario, first: Scenario) -> bool:
    """Whether two scenarios differ in more than their names and parameters.

    ``replace(point, name=.., parameters=..) != first``, field by field: a sweep's points share
    their other fields with the base scenario, so most are the same objects.
    """
    return any(
        a is not b and a != b
        for f in fields(Scenario)
        if f.compare and f.name not in ("name", "parameters")
        for a, b in [(getattr(point, f.name), getattr(first, f.name))]
    )


_DATA: dict[str, ScenarioData] = {}


def _shared_data(spec: Scenario) -> ScenarioData:
    """``scenario_data`` of ``spec``, kept while calls differ from it in parameters only.

    A sweep's chunks and a calibration's evaluations share it; one scenario is kept at a time.
    """
    key = repr(replace(spec, name="", parameters=MappingProxyType({})))
    if key not in _DATA:
        _DATA.clear()
        _DATA[key] = scenario_data(spec)
    return _DATA[key]


def stack_parameters(params: Sequence, counts: Sequence[int]) -> dict:
    """One parameter mapping for the runs of several parameter sets.

    A float where every set agrees, else a (runs, 1) array with each set's value repeated for
    its ``counts`` runs.
    """
    out = {}
    for name in params[0]:
        values = np.array([p[name] for p in params], dtype=float)
        same = (values == values[0]).all()
        out[name] = params[0][name] if same else np.repeat(values, counts)[:, None]
    return out


def _simulate(
    spec: Scenario,
    s: InitialState,
    seeds: tuple[int, ...],
    p,
    ally_columns: Sequence[str] = ALLY_COLUMNS,
    alliance_columns: Sequence[str] = ALLIANCE_COLUMNS,
) -> tuple[dict, dict]:
    """Advance every run from the start year to the end year; return the recorded series.

    The order of phases mirrors ``AllianceModel.step``; every quantity is computed by the phase
    functions both engines share. ``p`` holds per-run arrays where runs differ
    (``stack_parameters``), and ``s`` a runs axis in the fields built from them. Only the
    columns asked for are computed and recorded, each a list over years.
    """
    runs = len(seeds)
    start, years = spec.start_year, len(spec.years) - 1
    shocks = stack_shocks(seeds, years, len(s.iso3))

    def per_run(value, ndim: int = 1):
        """One copy per run of a start value with ``ndim`` axes of its own."""
        shape = np.shape(value)
        own = np.broadcast_to(value, (runs, *shape[len(shape) - ndim :]))
        return own.astype(float, order="C")  # C order: sums over allies add as for one run

    gdp, core, related, personnel = (per_run(x) for x in (s.gdp, s.core, s.related, s.personnel))
    stock, targets = per_run(s.stock, 2), per_run(s.targets, 2)
    pipeline = _lead_first(s.pipeline, runs)
    backlog, capacity = np.zeros_like(stock), per_run(s.capacity)
    # the order profile at full shape once, so ordering multiplies contiguous arrays
    profile = np.broadcast_to(by_category(requirement_shares(p)), stock.shape).copy()
    pressure = per_run(np.reshape(p["us_pressure_start"], (-1, 1)))
    retrenchment = np.full((runs, 1), spec.path_value("us_retrenchment", start))
    threat = per_run(np.reshape(p["threat_scale"] * spec.path_value("threat", start), (-1, 1)))
    deviation, effort, review = np.zeros((runs, 1)), np.ones((runs, 1)), np.ones((runs, 1))
    stock0 = s.stock.sum(axis=(-2, -1))

    allies = {name: [] for name in ally_columns}
    alliance = {name: [] for name in alliance_columns}
    state = ("threat", "us_pressure", "us_retrenchment")
    computed = [c for c in alliance_columns if c not in state and c != "mean_core_pct_gdp"]

    def observe(year):
        for name, values in ally_measures(
            gdp, core, related, personnel, stock, targets, ally_columns
        ).items():
            allies[name].append(values)
        total = core + related
        spill, lagging, ratio = alliance_view(
            core, total, gdp, stock, targets, retrenchment, review, year, s, spec, p, stock0
        )
        measures = alliance_measures(
            core, total, gdp, stock, targets, retrenchment, s, ["mean_core_pct_gdp", *computed]
        )
        measures |= {"threat": threat, "us_pressure": pressure, "us_retrenchment": retrenchment}
        for name in alliance_columns:
            alliance[name].append(np.reshape(measures[name], runs))
        burden = measures["mean_core_pct_gdp"][:, None]
        return spill, burden, lagging[:, None], ratio[:, None]

    spill, burden, lagging, ratio = observe(start)
    for k in range(years):
        year = start + 1 + k
        pressure, retrenchment = us_update(
            pressure, retrenchment, lagging, spec.path_value("us_retrenchment", year), year, p
        )
        path = spec.path_value("threat", year)
        if spec.threat_mode == "adversary":
            effort = adversary_update(effort, ratio, p)
            path = spec.path_value("threat", start) * effort
        threat, deviation = threat_update(path, deviation, shocks.threat[:, k, None], p)
        for kind, factor in target_factors(year, spec, threat, s.threat_ref, p):
            if kind == "review":
                review = review * factor
                factor = np.reshape(factor, (-1, 1, 1))
            targets = targets * factor
        shortfall = 1.0 - overall_fulfilment(stock, targets)

        gdp, surprise = grown_gdp(
            gdp,
            s.growth[k],
            s.observed_growth[k],
            shocks.gdp[:, k],
            spec.path_value("gdp_growth_shock_pp", year),
            s.trend_growth,
            p,
        )
        core, related = chosen_spending(
            core,
            related,
            shortfall,
            s=s,
            spec=spec,
            year=year,
            threat=threat,
            retrenchment=retrenchment,
            pressure=pressure,
            spill=spill,
            burden=burden,
            review=review,
            fiscal_factor=spec.path_value("fiscal_space_factor", year),
            surprise=surprise,
            innovation=shocks.spending[:, k],
            p=p,
        )
        due, pipeline = placed_orders(
            spending_usd(core, gdp),
            s.equipment_share,
            stock,
            pipeline,
            backlog,
            targets,
            profile,
            p,
        )
        fill, capacity = industry_update(due, backlog, capacity, p)
        stock, backlog = delivered_stock(due, backlog, stock, fill[:, None, :], p)
        personnel = recruited(personnel, core, s.equipment_share, s, p)
        spill, burden, lagging, ratio = observe(year)
    return allies, alliance


def _lead_first(pipeline: np.ndarray, runs: int) -> np.ndarray:
    """One copy per run of a start pipeline (allies, categories, lead years), lead years first.

    The result is (runs, allies, categories, lead years), a view of a C-ordered (lead years,
    runs, allies, categories) array. Its slices by years to delivery are then contiguous, so
    moving it on a year (``advance_pipeline``) and adding its slices (``sum_last``) run at
    memory speed.
    """
    lead_first = np.moveaxis(pipeline, -1, 0)  # (lead years, [runs,] allies, categories)
    if lead_first.ndim == 3:
        lead_first = lead_first[:, None]
    shape = (lead_first.shape[0], runs, *lead_first.shape[-2:])
    return np.moveaxis(np.broadcast_to(lead_first, shape).copy(), 0, -1)


def point_tables(
    points: Sequence[Scenario], seeds: Sequence[Sequence[int]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The allies and alliance tables of ``simulate_points``.

    Rows are ordered by point, seed, year and ally (as ``run_scenario`` per run); each run is
    named by its point's scenario name.
    """
    rec = simulate_points(points, seeds)
    runs, n_years, n_allies = len(rec.seeds), len(rec.years), len(rec.iso3)
    scenario = np.array([p.name for p in points], dtype=object)[rec.point]
    a = {
        "scenario": np.repeat(scenario, n_years * n_allies),
        "seed": np.repeat(rec.seeds, n_years * n_allies),
        "year": np.tile(np.repeat(rec.years, n_allies), runs),
        "iso3": np.tile(rec.iso3, runs * n_years),
        "name": np.tile(rec.names, runs * n_years),
    }
    for name in ALLY_COLUMNS:
        a[name] = rec.allies[name].reshape(-1)
    b = {
        "scenario": np.repeat(scenario, n_years),
        "seed": np.repeat(rec.seeds, n_years),
        "year": np.tile(rec.years, runs),
    }
    for name in ALLIANCE_COLUMNS:
        values = rec.alliance[name].reshape(-1)
        b[name] = values.astype("int64") if name.startswith("allies_ge") else values
    return pd.DataFrame(a, columns=list(ALLIES_TABLE)), pd.DataFrame(
        b, columns=list(ALLIANCE_TABLE)
    )
