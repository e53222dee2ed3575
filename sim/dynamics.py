"""One year of the model, phase by phase: the mechanisms composed once for every engine.

Each function is one decision or update of one actor (an ally, the US, the adversary, industry,
the alliance as observed). It works on plain floats for one ally (the Mesa agents) and on numpy
arrays with allies on the last axis and runs in front (the ensemble engine), so both engines run
exactly this code. The equations and their sources are in the ``sim.mechanisms`` functions called.

``s`` is the run's ``InitialState`` (or one ally's row of it, ``InitialState.ally(i)``); ``p``
maps parameter names to values; per-run scalars (threat, pressure...) broadcast against allies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from sim.arrays import by_category, per_category, sum_allies, sum_last
from sim.indicators import allies_at_or_above, burden_gdp_spearman, mean_burden, us_share
from sim.initial import InitialState
from sim.mechanisms.build import allocate_orders
from sim.mechanisms.delivery import (
    advance_pipeline,
    delivery_fill,
    depreciate,
    ramp_capacity,
    receive,
)
from sim.mechanisms.economy import budget_surprise, grow_gdp
from sim.mechanisms.personnel import affordable_personnel, update_personnel
from sim.mechanisms.pledge import pledge_path, redesigned_goal, review_factor
from sim.mechanisms.pressure import lagging_share, start_lagging, us_pressure, us_retrenchment
from sim.mechanisms.spending import (
    adjust_core_share,
    adjust_related_share,
    committed_change,
    consolidation_cut,
    desired_core_share,
    plan_habit,
    spill_in,
)
from sim.mechanisms.targets import capability_gap, fulfilment, overall_fulfilment
from sim.mechanisms.threat import adversary_effort, perceived_threat, threat_level
from sim.parameters import CATEGORIES, category_uplifts, lead_times
from sim.scenario import Pledge, Scenario

Params = Mapping[str, float]
"""Parameter values: floats, or arrays of shape (runs, 1) when each run has its own set."""


def us_update(pressure, retrenchment, lagging, floor, year: int, p: Params):
    """The US's pressure and retrenchment in ``year``, from last year's laggards (mechanism 2).

    Retrenchment builds only from ``retrenchment_start_year`` on; the scenario's floor applies
    every year.

    Returns:
        (pressure U_t, retrenchment R_t); retrenchment reads last year's pressure.
    """
    retrenchment = us_retrenchment(
        retrenchment,
        pressure,
        lagging,
        p["retrenchment_threshold"],
        p["retrenchment_rate"],
        floor,
        year >= p["retrenchment_start_year"],
    )
    pressure = us_pressure(pressure, lagging, p["us_pressure_strength"], p["us_pressure_adjust"])
    return pressure, retrenchment


def adversary_update(effort, capability_ratio, p: Params):
    """The adversary's effort this year, answering last year's allied capability (mechanism 1)."""
    return adversary_effort(
        effort,
        capability_ratio,
        p["adversary_response"],
        p["adversary_fatigue"],
        p["adversary_effort_cap"],
    )


def threat_update(path_value, deviation, innovation, p: Params):
    """This year's alliance threat and its deviation from the path (mechanism 1).

    Returns:
        (threat theta_t, deviation x_t).
    """
    return threat_level(
        path_value,
        deviation,
        innovation,
        p["threat_persistence"],
        p["threat_noise_sd"],
        p["threat_scale"],
    )


def target_factors(year: int, spec: Scenario, threat, threat_ref, p: Params) -> list:
    """Factors applied to every capability target this year, in order (mechanism 7).

    The uplift (1 + u_c, one per category: ``category_uplifts``) in the adoption year, then the
    review factor (``review_factor``, one per run) in the review year: the scenario's review
    year moved by ``review_delay`` (a review moved outside the run does not happen in it). Runs
    whose review falls in another year get the factor 1. The review factor, multiplied into
    the revision so far (1 before the review), also scales the pledge and the US demand from
    then on.

    Returns:
        A list of (kind, factor) with kind ``"uplift"`` (categories last) or ``"review"``.
    """
    factors = []
    if spec.targets_adoption_year == year and year > spec.start_year:
        factors.append(("uplift", 1 + by_category(category_uplifts(p))))
    due = spec.review_year is not None and spec.review_year + p["review_delay"] == year
    if np.any(due):
        review = review_factor(
            threat, threat_ref, p["review_threat_elasticity"], p["review_max_change"]
        )
        factors.append(("review", review if np.all(due) else np.where(due, review, 1.0)))
    return factors


def grown_gdp(gdp, growth, observed, innovation, shock_pp, trend, p: Params):
    """GDP this year and its budget surprise (mechanism 8).

    Observed growth as published, projected growth with noise; the surprise (``budget_surprise``)
    against the trend growth the budgets were planned on.

    Returns:
        (GDP Y_t, surprise z_t).
    """
    noise = np.where(observed, 0.0, p["gdp_growth_noise_sd"] * innovation)
    grown = grow_gdp(gdp, growth, shock_pp, noise)
    return grown, budget_surprise(gdp, trend, grown)


def ally_pledge(s: InitialState, spec: Scenario, p: Params) -> tuple:
    """Each ally's core pledge and the pledge's deadline, as the pledge levers set them.

    ``redesigned_goal`` of the ally's own core pledge (the scenario's, or its ``pledge_core_pct``)
    times ``pledge_core_scale`` and of the scenario's pledge year moved by ``pledge_delay``
    (DOMAIN §1); the deadline applies to the core and related paths alike.

    Returns:
        (core pledge, % GDP, per ally; deadline year, or a (runs, 1) array of them).
    """
    return redesigned_goal(
        s.pledge_core, spec.pledge.year, p["pledge_core_scale"], p["pledge_delay"]
    )


def core_path(
    year: int, s: InitialState, spec: Scenario, review, p: Params | None = None
) -> np.ndarray:
    """Each ally's pledged core path this year (% GDP): its own pledge, revised at the review.

    The incremental path of ``pledge_path`` from the ally's start share to its core pledge
    (``ally_pledge``) times the review factor, reached in the pledge's deadline (DOMAIN §1).
    ``p`` defaults to the scenario's parameters.
    """
    target, deadline = ally_pledge(s, spec, spec.parameters if p is None else p)
    return pledge_path(year, spec.start_year, s.core, target * review, deadline)


def us_demand(spec: Scenario, p: Params) -> Pledge:
    """What the US demands: the scenario's ``us_demand`` as the demand levers set it.

    ``redesigned_goal``: its core share times ``us_demand_scale``, its year moved by
    ``us_demand_delay``; the related share stays the scenario's (mechanism 2).
    """
    demand = spec.us_demand
    core, year = redesigned_goal(
        demand.core_pct, demand.year, p["us_demand_scale"], p["us_demand_delay"]
    )
    return replace(demand, core_pct=core, year=year)


def us_capability_demand(year: int, s: InitialState, spec: Scenario, p: Params) -> dict:
    """The capability side of US pressure this year, as keyword arguments of the mechanisms.

    The demanded capability path F_i(t) = ``pledge_path`` from the ally's start fulfilment f_i0
    to 1 (its targets met) by the US demand's year (``us_demand``, moved by ``us_demand_delay``):
    The Hague's 3.5% is "to meet the NATO Capability Targets" by 2035 (DOMAIN §1). It allows the
    shortfall G^D_i = 1 - F_i(t), which ``lagging_share`` and ``desired_core_share`` compare
    with the ally's shortfall.

    Args:
        year: This year.
        s: The start state (or an ally's row of it).
        spec: The scenario.
        p: Parameters.

    Returns:
        ``{}`` when the US presses on spending alone (``us_pressure_capability_weight`` 0 in
        every run), else ``capability_weight`` (omega) and ``allowed_shortfall`` (G^D_i).
    """
    weight = p["us_pressure_capability_weight"]
    if not np.any(weight):
        return {}
    start = overall_fulfilment(s.stock, s.targets)
    path = pledge_path(year, spec.start_year, start, 1.0, us_demand(spec, p).year)
    return {"capability_weight": weight, "allowed_shortfall": 1.0 - path}


def chosen_spending(
    core,
    related,
    shortfall,
    *,
    s: InitialState,
    spec: Scenario,
    year: int,
    threat,
    retrenchment,
    pressure,
    spill,
    burden,
    review,
    fiscal_factor,
    surprise,
    innovation,
    p: Params,
):
    """An ally's core and defence-related shares this year (mechanisms 3 and 9).

    Args:
        core: Last year's core share (% GDP).
        related: Last year's defence-related share (% GDP).
        shortfall: Last year's capability shortfall (1 - fulfilment).
        s: The start state (or the ally's row of it).
        spec: The scenario (pledge, US demand, years).
        year: This year.
        threat: This year's alliance threat.
        retrenchment: This year's US retrenchment.
        pressure: This year's US pressure.
        spill: Last year's spill-in to the ally (% GDP).
        burden: Last year's mean core share of allies with forces.
        review: Revision factor of the pledge and US demand (1 before any review).
        fiscal_factor: The scenario's multiplier of fiscal space this year.
        surprise: The budget surprise z_t of this year's GDP (``budget_surprise``).
        innovation: Standard normal draw of the ally's implementation error.
        p: Parameters.

    Returns:
        (core share, related share), % GDP; allies without forces keep core 0. The core share is
        the one chosen (national plan or behaviour) times the surprise, as budgets are set in
        money, less this year's new consolidation cut, which finance ministries impose at once
        (the desired share keeps the whole cut, so partial adjustment does not undo it).
    """
    k = year - spec.start_year - 1
    space = s.fiscal_space * fiscal_factor
    consolidation = consolidation_cut(s.recession_loss[k], p["consolidation_response_pp"])
    earlier = consolidation_cut(
        s.recession_loss[k - 1] if k else 0.0, p["consolidation_response_pp"]
    )
    demand, start = us_demand(spec, p), spec.start_year
    pledge_core, deadline = ally_pledge(s, spec, p)
    related_path = pledge_path(year, start, s.related, spec.pledge.related_pct, deadline)
    related = adjust_related_share(related, related_path, p["related_adjust"], space)
    desired = desired_core_share(
        anchor=plan_habit(s.core, s.plan_level[k]),
        perceived_threat=perceived_threat(
            threat, s.proximity, retrenchment, p["retrenchment_threat_gain"]
        ),
        threat_response=p["threat_response_pp"],
        shortfall=shortfall,
        shortfall_ref=s.shortfall_ref,
        capability_response=p["capability_response_pp"],
        spill=spill,
        spill_ref=s.spill_ref,
        free_riding=s.free_riding,
        mean_burden=burden,
        mean_burden_ref=s.mean_burden_ref,
        conformity=p["peer_conformity"],
        pledge_path=core_path(year, s, spec, review, p),
        pledge_commitment=p["pledge_commitment"],
        demand_path=pledge_path(year, start, s.core, demand.core_pct * review, demand.year),
        pressure=pressure,
        pressure_response=p["us_pressure_response"],
        consolidation=consolidation,
        rivalry=s.rival * p["rivalry_pp"],
        **us_capability_demand(year, s, spec, p),
    )
    chosen = adjust_core_share(
        core,
        desired,
        p["adjustment_speed"],
        space * p["fiscal_max_rise_pp"],
        p["fiscal_max_cut_pp"],
        p["spending_noise_sd"] * innovation,
        s.cap,
        committed_change(
            core,
            s.plan[k],
            p["plan_delivery"],
            pledge_core * review,
            pressure,
            p["pledge_enforcement"],
            year > deadline,
        ),
    )
    realised = np.clip(chosen * surprise - (consolidation - earlier), 0.0, s.cap)
    return np.where(s.has_forces, realised, core), related


def placed_orders(spending, equipment_share, stock, pipeline, backlog, targets, profile, p):
    """Equipment orders by category shortfall, booked into the pipeline (mechanisms 4-5).

    Returns:
        (orders falling due this year, the pipeline moved on: ``pipeline``, updated in place).
    """
    position = np.add(stock, sum_last(pipeline))
    position = np.add(position, backlog, out=position)
    orders = allocate_orders(
        spending * equipment_share,
        position,
        targets,
        profile,
        per_category(p["build_shortfall_focus"]),
    )
    return advance_pipeline(pipeline, orders, lead_times(p))


def industry_update(due, backlog, capacity, p: Params):
    """Alliance-wide delivery fill this year and next year's capacity (mechanism 5).

    Args:
        due: Orders due per ally and category (allies, categories on the last two axes).
        backlog: Orders waiting per ally and category.
        capacity: Industrial capacity per category.
        p: Parameters.

    Returns:
        (fill phi_c, next capacity).
    """
    demand = sum_allies(due + backlog)
    fill = delivery_fill(demand, capacity)
    capacity = ramp_capacity(
        capacity, demand, p["industrial_ramp_rate"], p["capacity_decline_rate"]
    )
    return fill, capacity


def delivered_stock(due, backlog, stock, fill, p: Params):
    """Stock after this year's deliveries and retirements, and what still waits (mechanism 5).

    Returns:
        (stock, backlog).
    """
    delivered, backlog = receive(due, backlog, fill)
    stock = depreciate(stock, delivered, per_category(p["depreciation_rate"]))
    return stock, backlog


def recruited(personnel, core, equipment_share, s: InitialState, p: Params):
    """Active personnel this year: toward the goal, within recruitment and budget (mechanism 6)."""
    affordable = affordable_personnel(s.personnel, core, s.core, equipment_share, s.equipment_share)
    return update_personnel(
        personnel, s.personnel_goal, affordable, s.recruit_rate, p["personnel_attrition_max"]
    )


def spending_usd(core_pct, gdp):
    """Core defence spending (USD bn) from its share (% GDP) and GDP (USD bn)."""
    return core_pct / 100 * gdp


def commitment(s: InitialState, retrenchment):
    """Share of each ally's forces committed to NATO: 1 - R for the US, 1 for the others."""
    return np.where(s.is_us, 1.0 - retrenchment, 1.0)


def alliance_view(core, total, gdp, stock, targets, retrenchment, review, year, s, spec, p, stock0):
    """What next year's decisions read from the alliance as it stands this year.

    Returns:
        (spill-in per ally, share of allies lagging the US demand, allied capability over its
        start value). The US judges total spending against ``us_demand``'s path and, with
        ``us_pressure_capability_weight`` above 0, capability against its demanded path
        (``us_capability_demand``). In the start year the lagging share is
        ``start_lagging``'s. The mean burden they also read is ``mean_core_pct_gdp`` of
        ``alliance_measures``.
    """
    demand = us_demand(spec, p)
    demanded_total = pledge_path(
        year,
        spec.start_year,
        s.core + s.related,
        demand.core_pct * review + demand.related_pct,
        demand.year,
    )
    spill = spill_in(spending_usd(core, gdp), gdp, commitment(s, retrenchment))
    capability = us_capability_demand(year, s, spec, p)
    if capability:
        capability["shortfall"] = 1.0 - overall_fulfilment(stock, targets)
    lagging = lagging_share(
        total, demanded_total, p["us_lag_tolerance_pp"], s.lagging_counted, **capability
    )
    if year == spec.start_year:
        start = start_lagging(p["us_pressure_start"], p["us_pressure_strength"])
        lagging = np.broadcast_to(np.reshape(start, np.shape(start)[:1]), np.shape(lagging))
    return spill, lagging, stock.sum(axis=(-2, -1)) / stock0


def ally_measures(gdp, core, related, personnel, stock, targets, names=None) -> dict:
    """The per-ally columns of the output (``ALLY_COLUMNS``), in that order.

    Works on one ally (categories last for stock and targets) or on arrays with allies before
    the categories; fulfilment is ``fulfilment``'s (per category and overall). ``names``
    limits the columns computed (default: all).
    """
    if names is None or any(name.startswith("fulfil_") for name in names):
        per_category, overall = fulfilment(stock, targets)
    measures = {
        "gdp_usd_bn": lambda: gdp,
        "core_pct_gdp": lambda: core,
        "related_pct_gdp": lambda: related,
        "total_pct_gdp": lambda: core + related,
        "spending_usd_bn": lambda: spending_usd(core, gdp),
        "personnel_k": lambda: personnel,
        **{f"fulfil_{name}": lambda c=c: per_category[..., c] for c, name in enumerate(CATEGORIES)},
        "fulfil_overall": lambda: overall,
    }
    return {name: measures[name]() for name in (measures if names is None else names)}


def alliance_measures(
    core, total, gdp, stock, targets, retrenchment, s: InitialState, names=None
) -> dict:
    """The alliance columns of the output (``ALLIANCE_COLUMNS`` less threat, pressure, R).

    Allies on the last axis (categories after them for stock and targets); one value per run.
    ``names`` limits the columns computed (default: all).
    """
    measures = {
        "allies_ge_2pct": lambda: allies_at_or_above(core, 2.0, s.has_forces),
        "allies_ge_3_5pct_core": lambda: allies_at_or_above(core, 3.5, s.has_forces),
        "allies_ge_5pct_total": lambda: allies_at_or_above(total, 5.0, s.has_forces),
        "capability_gap": lambda: capability_gap(stock, targets, commitment(s, retrenchment)),
        "us_share_of_spending": lambda: us_share(spending_usd(core, gdp), s.is_us),
        "mean_core_pct_gdp": lambda: mean_burden(core, s.has_forces),
        "burden_gdp_spearman": lambda: burden_gdp_spearman(gdp, core, s.has_forces),
    }
    return {name: measures[name]() for name in (measures if names is None else names)}
