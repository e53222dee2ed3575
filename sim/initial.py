"""The start-year state of every ally, built from the reference data and a scenario.

Engine-independent: the Mesa model hands each agent its row; array engines take the arrays whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

import numpy as np

from sim.ally_inputs import has_rival, related_start_shares
from sim.arrays import by_category, per_category
from sim.data import initial_allies, load_reference, observed_growth
from sim.mechanisms.economy import recession_loss
from sim.mechanisms.spending import fiscal_space, free_riding_weight, spill_in
from sim.mechanisms.targets import apportion_targets, fulfilment, initial_stock
from sim.mechanisms.threat import threat_proximity
from sim.parameters import (
    PARAMETERS,
    category_shortfalls,
    category_uplifts,
    lead_times,
    requirement_shares,
)
from sim.plans import announced_points, plan_paths
from sim.scenario import MAX_CORE_PCT, Scenario

US = "USA"


@dataclass(frozen=True)
class InitialState:
    """Arrays over allies (N), categories (C) and simulated years (Y) at the start.

    Attributes:
        iso3: Ally codes (N).
        names: Ally names (N).
        has_forces: Whether the ally has armed forces (N).
        is_us: Which ally is the United States (N).
        gdp: GDP, constant 2024 USD bn (N).
        growth: Base real growth per simulated year, observed or trend (Y, N).
        observed_growth: Whether that growth was observed (Y, N); noise applies otherwise.
        trend_growth: The growth budgets are planned on (N).
        recession_loss: % of GDP the scenario's recession has cost, lagged by the
            consolidation lag, per simulated year (Y).
        core: Core share, % GDP (N).
        related: Defence-related share, % GDP (N).
        equipment_share: Equipment share of core spending (N).
        personnel: Active personnel, thousands (N).
        personnel_goal: Personnel goal, thousands (N).
        recruit_rate: Largest yearly net personnel growth (N).
        proximity: Threat proximity (N).
        rival: 1 for an ally with a documented secondary rival, else 0 (N).
        fiscal_space: Fiscal space before scenario shocks (N).
        free_riding: Free-riding weight lambda_i (N).
        cap: Ceiling on the core share, % GDP (N).
        pledge_core: Each ally's core pledge target, % GDP (N).
        plan: National plan per simulated year, % GDP, NaN outside its horizon (Y, N).
        plan_level: Highest planned level reached by each year, NaN before any plan (Y, N).
        uplift: Rise of each category's target in the adoption year (C).
        targets: Capability targets in the start year, after any uplift due then (N, C).
        stock: Capability stock (N, C).
        pipeline: Orders by years to delivery (N, C, max lead time).
        capacity: Alliance industrial capacity, USD bn/yr (C).
        shortfall_ref: Shortfall against the targets before the uplift (N).
        threat_ref: Alliance threat the start shares reflect.
        spill_ref: Spill-in at the start, % GDP (N).
        mean_burden_ref: Mean core share of allies with forces at the start.
    """

    iso3: np.ndarray
    names: np.ndarray
    has_forces: np.ndarray
    is_us: np.ndarray
    gdp: np.ndarray
    growth: np.ndarray
    observed_growth: np.ndarray
    trend_growth: np.ndarray
    recession_loss: np.ndarray
    core: np.ndarray
    related: np.ndarray
    equipment_share: np.ndarray
    personnel: np.ndarray
    personnel_goal: np.ndarray
    recruit_rate: np.ndarray
    proximity: np.ndarray
    rival: np.ndarray
    fiscal_space: np.ndarray
    free_riding: np.ndarray
    cap: np.ndarray
    pledge_core: np.ndarray
    plan: np.ndarray
    plan_level: np.ndarray
    uplift: np.ndarray
    targets: np.ndarray
    stock: np.ndarray
    pipeline: np.ndarray
    capacity: np.ndarray
    shortfall_ref: np.ndarray
    threat_ref: float
    spill_ref: np.ndarray
    mean_burden_ref: float

    @property
    def lagging_counted(self) -> np.ndarray:
        """Allies the US judges against its demand: those with forces, other than itself."""
        return self.has_forces & ~self.is_us

    def ally(self, i: int) -> InitialState:
        """Ally ``i``'s row: per-ally fields indexed at ``i``, alliance-wide fields unchanged."""
        rows = {f.name: getattr(self, f.name)[i] for f in fields(self) if f.name not in _ALLIANCE}
        for name in _YEARS_BY_ALLY:
            rows[name] = getattr(self, name)[:, i]
        return replace(self, **rows)


_YEARS_BY_ALLY = ("growth", "observed_growth", "plan", "plan_level")
"""Fields of ``InitialState`` indexed by simulated year, then ally."""
_ALLIANCE = (
    *_YEARS_BY_ALLY,
    "recession_loss",
    "uplift",
    "capacity",
    "threat_ref",
    "mean_burden_ref",
)
"""Fields of ``InitialState`` that are not indexed by ally first."""


def _override(values: np.ndarray, iso3: np.ndarray, scenario: Scenario, key: str, scale=1.0):
    out = values.astype(float).copy()
    for i, code in enumerate(iso3):
        if key in scenario.allies.get(code, {}):
            out[i] = scenario.allies[code][key] * scale
    return out


def _own(iso3: np.ndarray, scenario: Scenario, key: str) -> np.ndarray:
    """The scenario's per-ally value of ``key``, NaN where it gives none."""
    return _override(np.full(len(iso3), np.nan), iso3, scenario, key)


def _or(own: np.ndarray, default) -> np.ndarray:
    """``own`` where given, else ``default``."""
    return np.where(np.isnan(own), default, own)


HAGUE_YEAR = 2025
"""The year the defence-related basket was agreed: no related spending is counted before it."""


def _lagged_recession_loss(scenario: Scenario, lag: int) -> np.ndarray:
    """% of GDP lost to the scenario's growth shocks ``lag`` years before each simulated year."""
    years = list(scenario.years)
    shocks = [scenario.path_value("gdp_growth_shock_pp", y) for y in years[1:]]
    loss = [float(recession_loss(shocks[: max(0, k + 1 - lag)])) for k in range(len(shocks))]
    return np.array(loss)


def scenario_plan_points(scenario: Scenario) -> dict:
    """The plan points a scenario runs with: {iso3: {year: (% GDP, basis, kind)}}.

    The national plans announced by the scenario's ``plans_as_of`` (31 December of the start
    year unless it sets ``plans_known_by``; ``sim.plans``), unless the scenario drops them
    (``plans = "none"``); a scenario's per-ally ``plan`` replaces an ally's (a table of
    year = % GDP, read as announced) or drops it (``"none"``).
    """
    points = {}
    if scenario.plans == "national":
        points = announced_points(scenario.plans_as_of)
    for iso, values in scenario.allies.items():
        own = values.get("plan")
        if own is not None:
            own = {} if own == "none" else own
            points[iso] = {int(y): (float(v), "scenario", "target") for y, v in own.items()}
    return points


@dataclass(frozen=True)
class ScenarioData:
    """The parameter-free part of a start state: built once for the parameter sets of a sweep.

    Attributes are ``InitialState``'s of the same names, plus the inputs of the parameter part:
    capital distance, land border and coast flags, public debt, documented related spending
    (NaN where none), the scenario's own per-ally values of parameter-based fields (``own_*``,
    NaN where it gives none) and the recession loss for each possible consolidation lag.
    """

    iso3: np.ndarray
    names: np.ndarray
    has_forces: np.ndarray
    is_us: np.ndarray
    gdp: np.ndarray
    growth: np.ndarray
    observed_growth: np.ndarray
    trend_growth: np.ndarray
    core: np.ndarray
    equipment_share: np.ndarray
    personnel: np.ndarray
    distance_km: np.ndarray
    land_border: np.ndarray
    sea_coast: np.ndarray
    debt_pct: np.ndarray
    related_documented: np.ndarray
    own_shortfall: np.ndarray
    own_personnel_goal: np.ndarray
    own_recruit_rate: np.ndarray
    own_fiscal_space: np.ndarray
    recession_loss_by_lag: tuple[np.ndarray, ...]
    rival: np.ndarray
    cap: np.ndarray
    pledge_core: np.ndarray
    plan: np.ndarray
    plan_level: np.ndarray
    spill_ref: np.ndarray


def scenario_data(scenario: Scenario) -> ScenarioData:
    """The parameter-free part of a scenario's start state (data, overrides, plans)."""
    ref = load_reference(edition=scenario.data_edition)
    start = scenario.start_year
    df = initial_allies(ref, start)
    iso3 = df.index.to_numpy()
    has_forces = df["has_forces"].to_numpy()
    is_us = iso3 == US

    years = list(scenario.years)[1:]
    observed = observed_growth(ref)
    trend = _override(df["trend_growth"].to_numpy(), iso3, scenario, "gdp_growth_pct", 0.01)
    growth = np.array(
        [observed[y].to_numpy() if y in observed.columns else trend for y in years]
    ).reshape(len(years), len(iso3))
    was_observed = np.array([[y in observed.columns] * len(iso3) for y in years], dtype=bool)
    was_observed = was_observed.reshape(len(years), len(iso3))

    core = _override(df["core_pct"].to_numpy(), iso3, scenario, "core_pct_start")
    cap = _override(np.full(len(iso3), MAX_CORE_PCT), iso3, scenario, "sovereign_cap_pct")
    cap = np.where(has_forces, cap, 0.0)
    core = np.minimum(core, cap)
    gdp = df["gdp_usd_bn"].to_numpy(dtype=float)
    geo = ref.allies.loc[iso3]
    retrench0 = scenario.path_value("us_retrenchment", start)
    plans = plan_paths(scenario_plan_points(scenario), iso3, core, start, scenario.end_year)
    return ScenarioData(
        iso3=iso3,
        names=df["name"].to_numpy(),
        has_forces=has_forces,
        is_us=is_us,
        gdp=gdp,
        growth=growth,
        observed_growth=was_observed,
        trend_growth=trend,
        core=core,
        equipment_share=_override(
            df["equipment_share"].to_numpy(), iso3, scenario, "equipment_share_pct", 0.01
        ),
        personnel=_override(df["personnel_k"].to_numpy(), iso3, scenario, "personnel_k_start"),
        distance_km=df["distance_km"].to_numpy(),
        land_border=((geo["borders_russia"] + geo["borders_belarus"]) > 0).to_numpy(float),
        sea_coast=((geo["baltic_sea_coast"] + geo["black_sea_coast"]) > 0).to_numpy(float),
        debt_pct=df["debt_pct"].to_numpy(),
        related_documented=(
            related_start_shares(iso3, np.nan) if start >= HAGUE_YEAR else np.zeros(len(iso3))
        ),
        own_shortfall=_own(iso3, scenario, "initial_shortfall"),
        own_personnel_goal=_own(iso3, scenario, "personnel_goal_k"),
        own_recruit_rate=_own(iso3, scenario, "recruit_rate"),
        own_fiscal_space=_own(iso3, scenario, "fiscal_space"),
        recession_loss_by_lag=tuple(
            _lagged_recession_loss(scenario, lag)
            for lag in range(int(PARAMETERS["consolidation_lag"].high) + 1)
        ),
        rival=has_rival(iso3),
        cap=cap,
        pledge_core=_override(
            np.full(len(iso3), scenario.pledge.core_pct), iso3, scenario, "pledge_core_pct"
        ),
        plan=plans.plan,
        plan_level=plans.level,
        spill_ref=spill_in(core / 100 * gdp, gdp, np.where(is_us, 1 - retrench0, 1.0)),
    )


def build_initial_state(
    scenario: Scenario, data: ScenarioData | None = None, parameters: Mapping | None = None
) -> InitialState:
    """Build the start-year state for a scenario.

    Args:
        scenario: A validated scenario.
        data: ``scenario_data`` of a scenario that differs from this one in parameters only
            (default: built from this one).
        parameters: The parameters (default: the scenario's). Values may be (runs, 1) arrays,
            one per run (``sim.ensemble.stack_parameters``): every field that depends on them
            then has a runs axis first (after the year axis for ``recession_loss``).

    Returns:
        The initial state. Uses no reference datum observed after the start year except GDP
        (an exogenous path) and the 2025 core share of the six withheld allies when a run
        starts inside 2015-2024 (see ``sim.data``).
    """
    d = scenario_data(scenario) if data is None else data
    p = scenario.parameters if parameters is None else parameters
    iso3, has_forces, gdp, core = d.iso3, d.has_forces, d.gdp, d.core
    start = scenario.start_year
    goal = _or(d.own_personnel_goal, d.personnel * (1 + p["personnel_goal_uplift"]))
    recruit = _or(d.own_recruit_rate, np.zeros(len(iso3)) + p["recruit_rate"])
    related = _or(d.related_documented, p["related_start_pct"])
    proximity = threat_proximity(
        d.distance_km,
        p["threat_reach_km"],
        p["threat_near_km"],
        land_border=d.land_border,
        sea_coast=d.sea_coast,
        border_exposure=p["threat_border_exposure"],
        sea_exposure=p["threat_sea_exposure"],
    )
    space = _or(
        d.own_fiscal_space,
        fiscal_space(
            d.debt_pct, p["debt_threshold_pct"], p["debt_ceiling_pct"], p["fiscal_space_floor"]
        ),
    )
    lam = free_riding_weight(proximity, gdp / gdp.sum(), p["free_riding"])

    # Capability: the alliance requirement is what start-year equipment spending would sustain
    # in steady state (E / depreciation), divided by (1 - the category's shortfall); apportioned
    # by GDP. Categories differ in their shortfall and in their uplift (``category_uplifts``).
    # Per-category values are (categories,) for one parameter set, (runs, 1, categories) for many.
    shares = by_category(requirement_shares(p))
    equip = d.equipment_share
    equipment_spend = np.where(has_forces, core / 100 * gdp * equip, 0.0)
    steady = equipment_spend.sum() / np.maximum(p["depreciation_rate"], 1e-3)
    mean_gap = by_category(category_shortfalls(p, p["initial_shortfall"]))
    requirement = shares * per_category(steady) / (1 - mean_gap)
    old_targets = apportion_targets(
        requirement[..., 0, :] if requirement.ndim > 1 else requirement, gdp, has_forces
    )
    mean_shortfall = _or(d.own_shortfall, p["initial_shortfall"])
    shortfall = np.stack(category_shortfalls(p, mean_shortfall), axis=-1)
    stock = initial_stock(old_targets, shortfall)
    uplift = by_category(category_uplifts(p))
    adoption = scenario.targets_adoption_year
    uplift_now = adoption is not None and adoption <= start
    targets = old_targets * (1 + uplift) if uplift_now else old_targets

    leads = lead_times(p)
    flow = equipment_spend[:, None] * shares
    pipeline = np.zeros((*flow.shape, max(leads)))
    for c, lead in enumerate(leads):
        pipeline[..., c, :lead] = flow[..., [c]]
    capacity = (1 + p["capacity_headroom"]) * flow.sum(axis=-2)
    _, overall_old = fulfilment(stock, old_targets)
    lag = np.asarray(p["consolidation_lag"]).astype(int)
    recession = np.stack(d.recession_loss_by_lag)[lag]
    recession = np.moveaxis(recession, -1, 0) if lag.ndim else recession
    return InitialState(
        iso3=iso3,
        names=d.names,
        has_forces=has_forces,
        is_us=d.is_us,
        gdp=gdp,
        growth=d.growth,
        observed_growth=d.observed_growth,
        trend_growth=d.trend_growth,
        recession_loss=recession,
        core=core,
        related=related,
        equipment_share=equip,
        personnel=d.personnel,
        personnel_goal=goal,
        recruit_rate=recruit,
        proximity=proximity,
        rival=d.rival,
        fiscal_space=space,
        free_riding=lam,
        cap=d.cap,
        pledge_core=d.pledge_core,
        plan=d.plan,
        plan_level=d.plan_level,
        uplift=uplift,
        targets=targets,
        stock=stock,
        pipeline=pipeline,
        capacity=capacity,
        shortfall_ref=1 - overall_old,
        threat_ref=p["threat_scale"] * scenario.path_value("threat", start - 1),
        spill_ref=d.spill_ref,
        mean_burden_ref=float(core[has_forces].mean()),
    )
