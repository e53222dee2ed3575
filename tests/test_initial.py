"""sim.initial: the start-year state of every ally, from the reference data and a scenario."""

import dataclasses
from dataclasses import fields
from datetime import date
from functools import cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pytest import approx
from strategies import parameter_sets

import sim.initial
from sim.data import load_reference
from sim.initial import (
    HAGUE_YEAR,
    InitialState,
    ScenarioData,
    build_initial_state,
    scenario_data,
    scenario_plan_points,
)
from sim.mechanisms.targets import fulfilment
from sim.parameters import (
    CATEGORIES,
    category_shortfalls,
    check_parameter_set,
    lead_times,
    requirement_shares,
)
from sim.plans import announced_points
from sim.run import run_scenario
from sim.scenario import MAX_CORE_PCT, Scenario, list_scenarios, load_scenario

SCENARIOS = [name for name, _ in list_scenarios()]
N_ALLIES = 32
ALLIANCE_WIDE = {"recession_loss", "uplift", "capacity", "threat_ref", "mean_burden_ref"}
"""Fields with no allies axis."""
YEARS_BY_ALLY = {"growth", "observed_growth", "plan", "plan_level"}
"""Fields indexed by simulated year, then ally."""


@cache
def _spec(name: str) -> Scenario:
    """A named scenario, loaded once."""
    return load_scenario(name)


@cache
def _data(name: str) -> ScenarioData:
    """The parameter-free part of a named scenario's start state, built once."""
    return scenario_data(_spec(name))


@pytest.fixture(scope="module")
def hague():
    """The hague-2035 start state."""
    return build_initial_state(_spec("hague-2035"))


def _at(s, code: str) -> int:
    return int(np.flatnonzero(s.iso3 == code)[0])


def _consistent(spec, params) -> bool:
    return check_parameter_set(dict(spec.parameters) | params) is None


# --- invariants --------------------------------------------------------------------------------


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(SCENARIOS), params=parameter_sets())
def test_shares_are_in_range_and_nothing_is_negative_for_any_scenario_and_parameters(name, params):
    """Shares within their bounds, quantities >= 0, shapes by allies, categories and years."""
    spec = _spec(name)
    assume(_consistent(spec, params))
    spec = spec.with_parameters(**params)
    p = spec.parameters
    s = build_initial_state(spec, _data(name))
    years, categories = len(spec.years) - 1, len(CATEGORIES)
    assert s.iso3.shape == (N_ALLIES,) and s.growth.shape == (years, N_ALLIES)
    assert s.plan.shape == s.plan_level.shape == s.observed_growth.shape == (years, N_ALLIES)
    assert s.recession_loss.shape == (years,)
    assert s.targets.shape == s.stock.shape == (N_ALLIES, categories)
    assert s.pipeline.shape == (N_ALLIES, categories, max(lead_times(p)))
    assert s.capacity.shape == s.uplift.shape == (categories,)

    assert ((s.cap >= 0) & (s.cap <= MAX_CORE_PCT)).all()
    assert ((s.core >= 0) & (s.core <= s.cap)).all()
    assert (s.cap[~s.has_forces] == 0).all() and (s.core[~s.has_forces] == 0).all()
    assert (s.related >= 0).all() and (s.pledge_core >= 0).all()
    assert ((s.equipment_share >= 0) & (s.equipment_share <= 1)).all()
    assert ((s.proximity >= 0) & (s.proximity <= 1)).all()
    assert ((s.fiscal_space >= 0) & (s.fiscal_space <= 1)).all()
    assert ((s.free_riding >= 0) & (s.free_riding <= p["free_riding"])).all()
    assert ((s.shortfall_ref >= 0) & (s.shortfall_ref <= 1)).all()
    assert (s.gdp > 0).all() and (s.trend_growth > -1).all()
    for name_ in ("personnel", "personnel_goal", "recruit_rate", "spill_ref", "targets"):
        assert (getattr(s, name_) >= 0).all(), name_
    assert (s.stock >= 0).all() and (s.pipeline >= 0).all() and (s.capacity >= 0).all()
    assert (s.uplift >= 0).all() and (s.stock <= s.targets * (1 + 1e-12)).all()
    planned = s.plan[~np.isnan(s.plan)]
    assert (planned >= 0).all()
    for f in fields(InitialState):
        value = np.asarray(getattr(s, f.name))
        if value.dtype.kind == "f" and f.name not in ("plan", "plan_level"):
            assert np.isfinite(value).all(), f.name


def _stack(sets: list[dict]) -> dict:
    """One parameter mapping for one run per set: (runs, 1) arrays where the sets differ."""
    out = {}
    for name in sets[0]:
        values = np.array([p[name] for p in sets], dtype=float)
        out[name] = sets[0][name] if (values == values[0]).all() else values[:, None]
    return out


def _run_of(field: str, value, r: int, single):
    """Run r's part of a field built from per-run parameters (as it has a runs axis or not)."""
    value, single = np.asarray(value), np.asarray(single)
    if value.ndim == single.ndim:
        return value
    if field == "recession_loss":
        return value[:, r].reshape(single.shape)
    return value[r].reshape(single.shape)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(SCENARIOS),
    sets=st.lists(parameter_sets(max_size=15), min_size=2, max_size=4),
)
def test_per_run_parameter_arrays_give_each_run_its_single_run_state(name, sets):
    """(runs, 1) parameter arrays: run r's slice of every field is the state of set r alone."""
    base = _spec(name)
    sets = [{k: v for k, v in ps.items() if not k.startswith("lead_time_")} for ps in sets]
    assume(all(_consistent(base, ps) for ps in sets))
    points = [base.with_parameters(**ps) for ps in sets]
    stacked = build_initial_state(base, _data(name), _stack([pt.parameters for pt in points]))
    for r, point in enumerate(points):
        alone = build_initial_state(point, _data(name))
        for f in fields(InitialState):
            mine = _run_of(f.name, getattr(stacked, f.name), r, getattr(alone, f.name))
            np.testing.assert_array_equal(mine, getattr(alone, f.name), err_msg=f.name)


def test_fields_that_depend_on_parameters_gain_a_runs_axis():
    """Runs first for per-ally fields, after the years for the recession loss."""
    base = load_scenario("recession-2027")
    varied = ((0.01, 0, 0.8), (0.05, 1, 1.0), (0.1, 3, 1.2))
    sets = [
        dict(base.parameters) | {"recruit_rate": r, "consolidation_lag": lag, "threat_scale": t}
        for r, lag, t in varied
    ]
    s = build_initial_state(base, parameters=_stack(sets))
    assert s.recruit_rate.shape == (3, N_ALLIES)
    assert s.recession_loss.shape == (len(base.years) - 1, 3, 1)  # (runs, 1) after the years
    assert s.threat_ref.shape == (3, 1)  # a per-run scalar, as the parameters are
    assert s.core.shape == (N_ALLIES,)  # no parameter enters the observed core share


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(SCENARIOS), params=parameter_sets())
def test_scenario_data_of_a_scenario_that_differs_in_parameters_only_gives_the_same_state(
    name, params
):
    """``data`` built once from the base scenario serves every parameter set of it."""
    base = _spec(name)
    assume(_consistent(base, params))
    point = base.with_parameters(**params)
    shared = build_initial_state(point, data=_data(name))
    alone = build_initial_state(point)
    for f in fields(InitialState):
        np.testing.assert_array_equal(getattr(shared, f.name), getattr(alone, f.name), f.name)


# --- what the state holds ----------------------------------------------------------------------


def test_ally_takes_one_allys_row_and_keeps_the_alliance_wide_fields(hague):
    """Per-ally fields at i, year fields at [:, i], alliance-wide fields unchanged."""
    i = _at(hague, "DEU")
    row = hague.ally(i)
    for f in fields(InitialState):
        whole, mine = getattr(hague, f.name), getattr(row, f.name)
        if f.name in ALLIANCE_WIDE:
            np.testing.assert_array_equal(mine, whole)
        elif f.name in YEARS_BY_ALLY:
            np.testing.assert_array_equal(mine, whole[:, i])
        else:
            np.testing.assert_array_equal(mine, whole[i])
    assert row.iso3 == "DEU" and row.names == "Germany"


def test_the_us_judges_the_allies_with_forces_other_than_itself(hague):
    """``lagging_counted`` leaves out the US and Iceland, and no one else."""
    counted = hague.lagging_counted
    assert set(hague.iso3[~counted]) == {"USA", "ISL"}


def test_start_references_are_the_scenarios_and_the_datas(hague):
    """theta_ref = s x path(start - 1); mean burden of allies with forces; the start year's data."""
    spec, p = _spec("hague-2035"), _spec("hague-2035").parameters
    assert hague.threat_ref == approx(p["threat_scale"] * spec.path_value("threat", 2024))
    assert hague.mean_burden_ref == approx(hague.core[hague.has_forces].mean())
    ref = load_reference()
    np.testing.assert_allclose(
        hague.core[hague.has_forces], ref.core.loc[hague.iso3[hague.has_forces], 2025]
    )
    assert list(hague.iso3) == list(ref.allies.index)


def test_targets_are_apportioned_by_gdp_and_the_stock_is_the_steady_state_of_equipment_spend(
    hague,
):
    """T_i by GDP; stock = E / delta split by requirement shares, short of T by g_c per category."""
    p = _spec("hague-2035").parameters
    forces = hague.has_forces
    per_ally = hague.targets.sum(axis=1)
    np.testing.assert_allclose(
        per_ally[forces] / per_ally[forces].sum(), hague.gdp[forces] / hague.gdp[forces].sum()
    )
    assert (hague.targets[~forces] == 0).all() and (hague.stock[~forces] == 0).all()
    spend = np.where(forces, hague.core / 100 * hague.gdp * hague.equipment_share, 0.0)
    assert hague.stock.sum() == approx(spend.sum() / p["depreciation_rate"], rel=1e-12)
    by_category = hague.stock.sum(axis=0) / hague.stock.sum()
    np.testing.assert_allclose(by_category, requirement_shares(p), rtol=1e-12)
    # hague-2035 adopts the raised targets in its start year: the uplift is already in them
    old = hague.targets / (1 + hague.uplift)
    shortfalls = np.array(category_shortfalls(p, p["initial_shortfall"]))
    np.testing.assert_allclose(
        1 - hague.stock[forces] / old[forces], np.broadcast_to(shortfalls, old[forces].shape)
    )
    _, met = fulfilment(hague.stock, old)
    np.testing.assert_allclose(1 - met, hague.shortfall_ref, rtol=1e-12)


def test_targets_are_not_raised_before_the_adoption_year():
    """Without an adoption at or before the start, the targets are the old ones."""
    s = build_initial_state(_spec("wales-2014"))
    assert _spec("wales-2014").targets_adoption_year is None
    _, met = fulfilment(s.stock, s.targets)
    np.testing.assert_allclose(1 - met, s.shortfall_ref, rtol=1e-12)


def test_the_pipeline_holds_each_categorys_steady_flow_for_its_lead_time(hague):
    """Slots 0..L_c-1 hold the equipment spend times the category's share; capacity covers it."""
    p = _spec("hague-2035").parameters
    spend = np.where(hague.has_forces, hague.core / 100 * hague.gdp * hague.equipment_share, 0)
    flow = spend[:, None] * np.array(requirement_shares(p))
    for c, lead in enumerate(lead_times(p)):
        np.testing.assert_allclose(hague.pipeline[:, c, :lead], np.repeat(flow[:, [c]], lead, 1))
        assert (hague.pipeline[:, c, lead:] == 0).all()
    np.testing.assert_allclose(hague.capacity, (1 + p["capacity_headroom"]) * flow.sum(axis=0))


def test_growth_is_observed_where_published_and_the_trend_elsewhere(hague):
    """A hindcast grows as published; a forecast at each ally's trend."""
    assert not hague.observed_growth.any()
    np.testing.assert_array_equal(
        hague.growth, np.broadcast_to(hague.trend_growth, hague.growth.shape)
    )
    wales = build_initial_state(_spec("wales-2014"))
    assert wales.observed_growth[:10].all()  # 2015-2024: NATO's real GDP table


def test_the_recession_loss_is_lagged_by_the_consolidation_lag():
    """L_t = 100 (1 - prod (1 + s/100)) of the shocks up to l years before (2027 -3, 2028 -1)."""
    spec = _spec("recession-2027")  # simulated years 2026-2035
    for lag, first in ((0, 1), (1, 2), (3, 4)):
        s = build_initial_state(spec.with_parameters(consolidation_lag=lag))
        loss = s.recession_loss
        assert (loss[:first] == 0).all()
        assert loss[first] == approx(3.0)
        assert loss[first + 1 :] == approx([100 * (1 - 0.97 * 0.99)] * len(loss[first + 1 :]))
    assert (build_initial_state(_spec("hague-2035")).recession_loss == 0).all()


def test_a_sovereign_cap_and_an_own_pledge_bind_one_ally():
    """spain-opt-out: Spain's cap and pledge are 2.1%, its start share within them."""
    s = build_initial_state(_spec("spain-opt-out"))
    esp = _at(s, "ESP")
    assert s.cap[esp] == 2.1 and s.pledge_core[esp] == 2.1 and s.core[esp] <= 2.1
    others = np.delete(np.arange(N_ALLIES), esp)
    assert (s.pledge_core[others] == 3.5).all()
    assert (s.cap[others][s.has_forces[others]] == MAX_CORE_PCT).all()


def test_a_scenarios_per_ally_value_replaces_the_computed_one(hague):
    """hague-2035 gives Germany full fiscal space (the debt brake exemption)."""
    p = _spec("hague-2035").parameters
    assert hague.fiscal_space[_at(hague, "DEU")] == 1.0
    assert hague.fiscal_space.min() >= p["fiscal_space_floor"]


def test_no_related_spending_is_counted_before_the_hague_pledge(hague):
    """Start before 2025: related 0; from 2025: documented shares, else related_start_pct."""
    assert HAGUE_YEAR == 2025
    wales = build_initial_state(_spec("wales-2014"))
    assert (wales.related == 0).all()
    default = _spec("hague-2035").parameters["related_start_pct"]
    assert hague.related[_at(hague, "EST")] == 1.4
    assert hague.related[_at(hague, "ALB")] == default


def test_scenario_plan_points_are_the_announced_plans_unless_the_scenario_says_otherwise(
    tmp_path,
):
    """National plans by the start year's end; a per-ally table replaces, "none" drops."""
    national = scenario_plan_points(_spec("hague-2035"))
    assert national["DEU"][2029][0] == 3.5
    (tmp_path / "own.toml").write_text(
        'base = "hague-2035"\ndescription = "x"\n[allies.DEU]\nplan = { 2030 = 3.0 }\n'
        '[allies.POL]\nplan = "none"\n'
    )
    own = scenario_plan_points(load_scenario(tmp_path / "own.toml"))
    assert own["DEU"] == {2030: (3.0, "scenario", "target")}
    assert own["POL"] == {}
    assert own["FRA"] == national["FRA"]
    (tmp_path / "none.toml").write_text('base = "hague-2035"\ndescription = "x"\nplans = "none"\n')
    assert scenario_plan_points(load_scenario(tmp_path / "none.toml")) == {}


def test_plans_known_by_sets_which_announcements_count(tmp_path):
    """From 2024, Denmark's 2025 plan of February 2025 counts only with a later cut-off."""
    step = scenario_plan_points(_spec("us-demand-2025"))
    assert step["DNK"][2025][0] == 2.0  # "2% from 2025", announced in 2023
    (tmp_path / "later.toml").write_text(
        'base = "us-demand-2025"\ndescription = "x"\nplans_known_by = 2025-02-19\n'
    )
    later = scenario_plan_points(load_scenario(tmp_path / "later.toml"))
    assert later["DNK"][2025][0] == 3.2
    assert announced_points(date(2025, 2, 19))["DNK"] == later["DNK"]


# --- moved from tests/test_model.py ------------------------------------------------------------


def _scramble_after_2014(panel, value):
    out = panel.copy()
    out.loc[:, [c for c in out.columns if c > 2014]] = value
    return out


def test_hindcast_uses_nothing_observed_after_2014(monkeypatch):
    """wales-2014 gives the same tables when every post-2014 observation but GDP is scrambled."""
    original = run_scenario("wales-2014", seed=4)
    ref = load_reference()
    scrambled = dataclasses.replace(
        ref,
        core=_scramble_after_2014(ref.core, 7.7),
        equipment=_scramble_after_2014(ref.equipment, 77.0),
        personnel=_scramble_after_2014(ref.personnel, 1.0),
        debt=_scramble_after_2014(ref.debt, 500.0),
    )
    monkeypatch.setattr(sim.initial, "load_reference", lambda **_: scrambled)
    again = run_scenario("wales-2014", seed=4)
    pd.testing.assert_frame_equal(original.allies, again.allies)
    pd.testing.assert_frame_equal(original.alliance, again.alliance)
    changed = run_scenario("hague-2035", seed=4)
    monkeypatch.undo()
    assert not changed.allies.equals(run_scenario("hague-2035", seed=4).allies)
