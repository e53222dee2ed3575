"""The ensemble engine: many replications of one scenario advanced together as arrays.

It runs the same phase functions as the Mesa model (``sim.dynamics``), in the same order, on
arrays with runs first and allies next (runs x allies [x categories [x lead years]]). Each run
draws its shocks from its own seed exactly as ``AllianceModel(rng=seed)`` does, so for the same
(scenario, parameters, seed) both engines give the same tables (a test checks it to 1e-9).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

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
from sim.initial import InitialState, build_initial_state
from sim.mechanisms.targets import fulfilment
from sim.parameters import requirement_shares
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
    s = build_initial_state(spec)
    allies, alliance = _simulate(spec, s, seeds)
    return EnsembleResult(spec, seeds, *_tables(spec, s, seeds, allies, alliance))


def _simulate(spec: Scenario, s: InitialState, seeds: tuple[int, ...]) -> tuple[dict, dict]:
    """Advance every run from the start year to the end year; return the recorded series.

    The order of phases mirrors ``AllianceModel.step``; every quantity is computed by the phase
    functions both engines share.
    """
    p = dict(spec.parameters)
    runs, n_allies = len(seeds), len(s.iso3)
    start, years = spec.start_year, len(spec.years) - 1
    shocks = stack_shocks(seeds, years, n_allies)
    profile = np.array(requirement_shares(p))

    def per_run(values):
        return np.broadcast_to(values, (runs, *np.shape(values))).copy()

    gdp, core, related = per_run(s.gdp), per_run(s.core), per_run(s.related)
    personnel = per_run(s.personnel)
    stock, targets, pipeline = per_run(s.stock), per_run(s.targets), per_run(s.pipeline)
    backlog, capacity = np.zeros_like(stock), per_run(s.capacity)
    pressure = np.full((runs, 1), float(p["us_pressure_start"]))
    retrenchment = np.full((runs, 1), spec.path_value("us_retrenchment", start))
    threat = np.full((runs, 1), p["threat_scale"] * spec.path_value("threat", start))
    deviation, effort, review = np.zeros((runs, 1)), np.ones((runs, 1)), np.ones((runs, 1))
    stock0 = s.stock.sum(axis=(-2, -1))

    allies = {name: [] for name in ALLY_COLUMNS}
    alliance = {name: [] for name in ALLIANCE_COLUMNS}

    def observe(year):
        row = ally_measures(gdp, core, related, personnel, stock, targets)
        for name in ALLY_COLUMNS:
            allies[name].append(row[name])
        total = row["total_pct_gdp"]
        spill, lagging, ratio = alliance_view(
            core, total, gdp, stock, retrenchment, review, year, s, spec, p, stock0
        )
        measures = alliance_measures(core, total, gdp, stock, targets, retrenchment, s)
        measures |= {"threat": threat, "us_pressure": pressure, "us_retrenchment": retrenchment}
        for name in ALLIANCE_COLUMNS:
            alliance[name].append(np.reshape(measures[name], runs))
        burden = measures["mean_core_pct_gdp"][:, None]
        return spill, burden, lagging[:, None], ratio[:, None]

    spill, burden, lagging, ratio = observe(start)
    for k in range(years):
        year = start + 1 + k
        pressure, retrenchment = us_update(
            pressure, retrenchment, lagging, spec.path_value("us_retrenchment", year), p
        )
        path = spec.path_value("threat", year)
        if spec.threat_mode == "adversary":
            effort = adversary_update(effort, ratio, p)
            path = spec.path_value("threat", start) * effort
        threat, deviation = threat_update(path, deviation, shocks.threat[:, k, None], p)
        for kind, factor in target_factors(year, spec, threat, s.threat_ref, p):
            if kind == "review":
                review = factor
                factor = np.reshape(factor, (-1, 1, 1))
            targets = targets * factor
        shortfall = 1.0 - fulfilment(stock, targets)[1]

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


def _tables(
    spec: Scenario, s: InitialState, seeds: tuple[int, ...], allies: dict, alliance: dict
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tidy tables, rows ordered by run, then year, then ally (as ``run_scenario`` per run)."""
    runs, n_years, n_allies = len(seeds), len(spec.years), len(s.iso3)
    years = np.asarray(spec.years, dtype="int64")
    seed_col = np.asarray(seeds, dtype="int64")
    a = {
        "scenario": spec.name,
        "seed": np.repeat(seed_col, n_years * n_allies),
        "year": np.tile(np.repeat(years, n_allies), runs),
        "iso3": np.tile(s.iso3, runs * n_years),
        "name": np.tile(s.names, runs * n_years),
    }
    for name in ALLY_COLUMNS:
        a[name] = np.stack(allies[name], axis=1).reshape(-1)
    b = {"scenario": spec.name, "seed": np.repeat(seed_col, n_years), "year": np.tile(years, runs)}
    for name in ALLIANCE_COLUMNS:
        values = np.stack(alliance[name], axis=1).reshape(-1)
        b[name] = values.astype("int64") if name.startswith("allies_ge") else values
    return pd.DataFrame(a, columns=list(ALLIES_TABLE)), pd.DataFrame(
        b, columns=list(ALLIANCE_TABLE)
    )
