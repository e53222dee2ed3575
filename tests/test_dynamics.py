"""sim.dynamics: each phase function's documented equation on a small hand-computed case.

The mechanisms themselves are tested in ``tests/mechanisms/``; these tests pin how a phase
reads the parameters, the start state and the scenario, and what it returns.
"""

from dataclasses import replace

import numpy as np
import pytest
from pytest import approx

from sim.dynamics import (
    adversary_update,
    alliance_measures,
    alliance_view,
    ally_measures,
    chosen_spending,
    commitment,
    core_path,
    delivered_stock,
    grown_gdp,
    industry_update,
    placed_orders,
    recruited,
    spending_usd,
    target_factors,
    threat_update,
    us_capability_demand,
    us_demand,
    us_update,
)
from sim.initial import build_initial_state
from sim.parameters import CATEGORIES, requirement_shares
from sim.scenario import load_scenario


@pytest.fixture(scope="module")
def hague():
    """The hague-2035 scenario (start 2025, pledge 3.5% + 1.5% by 2035, review 2029)."""
    return load_scenario("hague-2035")


@pytest.fixture(scope="module")
def state(hague):
    """Its start state."""
    return build_initial_state(hague)


@pytest.fixture(scope="module")
def p(hague):
    """Its parameters, as a plain dict the tests extend."""
    return dict(hague.parameters)


def _at(s, code: str) -> int:
    return int(np.flatnonzero(s.iso3 == code)[0])


def _small(s, **fields):
    """The start state with a few per-ally fields replaced by a small hand-made alliance."""
    return replace(s, **{name: np.asarray(value) for name, value in fields.items()})


# --- the US, the adversary, the threat ---------------------------------------------------------


def test_us_update_moves_pressure_toward_its_stance_and_retrenchment_reads_last_years(p):
    """U = U' + a (s L - U'); R = max(F, min(1, R' + r max(0, U' - u*) L)), with U' last year's."""
    q = p | {
        "us_pressure_strength": 0.8,
        "us_pressure_adjust": 0.5,
        "retrenchment_threshold": 0.4,
        "retrenchment_rate": 0.2,
    }
    pressure, retrenchment = us_update(0.6, 0.1, 0.5, 0.0, 2026, q)
    assert pressure == approx(0.6 + 0.5 * (0.8 * 0.5 - 0.6))  # 0.5
    assert retrenchment == approx(0.1 + 0.2 * (0.6 - 0.4) * 0.5)  # 0.12, from U' = 0.6
    assert us_update(0.6, 0.1, 0.5, 0.3, 2026, q)[1] == 0.3  # the scenario's floor
    assert us_update(0.3, 0.1, 0.5, 0.0, 2026, q)[1] == 0.1  # below the threshold nothing builds
    pressure, retrenchment = us_update(1.0, 0.99, 1.0, 0.0, 2026, q | {"retrenchment_rate": 1.0})
    assert retrenchment == 1.0 and pressure == approx(0.9)


def test_us_update_works_per_run(p):
    """Arrays of runs give each run its own pressure and retrenchment."""
    pressure, retrenchment = us_update(
        np.array([0.6, 0.2]), np.array([0.1, 0.0]), np.array([0.5, 1.0]), 0.0, 2026, p
    )
    for r in range(2):
        alone = us_update([0.6, 0.2][r], [0.1, 0.0][r], [0.5, 1.0][r], 0.0, 2026, p)
        assert (pressure[r], retrenchment[r]) == approx(alone)


def test_us_update_builds_retrenchment_only_from_the_start_year_on(p):
    """a_t = 1(t >= retrenchment_start_year): before it only the scenario's floor applies."""
    q = p | {
        "us_pressure_strength": 0.8,
        "retrenchment_threshold": 0.4,
        "retrenchment_rate": 0.2,
        "retrenchment_start_year": 2028,
    }
    assert us_update(0.6, 0.1, 0.5, 0.0, 2027, q)[1] == 0.1
    assert us_update(0.6, 0.1, 0.5, 0.3, 2027, q)[1] == 0.3  # the floor still holds
    assert us_update(0.6, 0.1, 0.5, 0.0, 2028, q)[1] == approx(0.12)
    per_run = q | {"retrenchment_start_year": np.array([[2027], [2029]])}
    _, retrenchment = us_update(np.full((2, 1), 0.6), np.full((2, 1), 0.1), 0.5, 0.0, 2028, per_run)
    np.testing.assert_allclose(retrenchment, [[0.12], [0.1]])


def test_us_demand_scales_the_demanded_core_share_only(hague, p):
    """D_core = us_demand.core_pct * us_demand_scale; related share and year unchanged."""
    demand = us_demand(hague, p | {"us_demand_scale": 1.2})
    assert demand.core_pct == approx(3.5 * 1.2)
    assert (demand.related_pct, demand.year) == (1.5, 2035)
    assert us_demand(hague, p) == hague.us_demand


def test_us_demand_delay_moves_the_demanded_year_only(hague, p):
    """t_D = us_demand.year + us_demand_delay; both shares unchanged; per run, one year each."""
    demand = us_demand(hague, p | {"us_demand_delay": 3, "pledge_delay": -2})
    assert (demand.core_pct, demand.related_pct, demand.year) == (3.5, 1.5, 2038)
    per_run = us_demand(hague, p | {"us_demand_delay": np.array([[-3.0], [4.0]])})
    np.testing.assert_array_equal(per_run.year, [[2032], [2039]])


def test_adversary_update_is_richardson_with_fatigue_and_a_cap(p):
    """y = clip(y' + k (C/C0 - 1) - a (y' - 1), 0, y_max)."""
    q = p | {"adversary_response": 0.4, "adversary_fatigue": 0.25, "adversary_effort_cap": 3.0}
    assert adversary_update(1.2, 1.5, q) == approx(1.2 + 0.4 * 0.5 - 0.25 * 0.2)  # 1.35
    assert adversary_update(1.0, 1.0, q) == 1.0  # the start is an equilibrium
    assert adversary_update(2.9, 3.0, q) == 3.0  # the economy's cap
    assert adversary_update(0.1, 0.0, q | {"adversary_response": 1.0}) == 0.0


def test_threat_update_is_the_path_plus_an_ar1_deviation_floored_at_zero(p):
    """x = rho x' + sigma eps; theta = max(0, s path + x); the deviation is not floored."""
    q = p | {"threat_persistence": 0.5, "threat_noise_sd": 0.1, "threat_scale": 1.2}
    threat, deviation = threat_update(1.0, 0.2, 0.5, q)
    assert deviation == approx(0.15) and threat == approx(1.2 + 0.15)
    threat, deviation = threat_update(0.5, -1.0, -1.0, q | {"threat_scale": 1.0})
    assert deviation == approx(-0.6) and threat == 0.0


# --- targets and pledges -----------------------------------------------------------------------


def test_target_factors_apply_the_review_in_the_review_year_only(hague, p):
    """Review year: f = clip((theta / theta_ref) ** e, 1 - m, 1 + m); other years: nothing."""
    q = p | {"review_threat_elasticity": 0.5, "review_max_change": 0.2}
    assert target_factors(2026, hague, 1.21, 1.0, q) == []
    for threat, factor in ((1.21, 1.1), (4.0, 1.2), (0.25, 0.8)):
        ((kind, value),) = target_factors(2029, hague, threat, 1.0, q)
        assert kind == "review" and value == approx(factor)
    ((_, value),) = target_factors(2029, hague, 1.5, 0.0, q)
    assert value == 1.0  # no reference threat, no revision


def test_target_factors_move_the_review_by_the_review_delay(hague, p):
    """The review falls in review_year + review_delay; per run, 1 where it falls elsewhere."""
    q = p | {"review_threat_elasticity": 0.5, "review_max_change": 0.2, "review_delay": 2}
    assert target_factors(2029, hague, 1.21, 1.0, q) == []
    ((kind, value),) = target_factors(2031, hague, 1.21, 1.0, q)
    assert kind == "review" and value == approx(1.1)
    q |= {"review_delay": np.array([[0], [2]])}
    threat = np.full((2, 1), 1.21)
    for year, expected in ((2029, [[1.1], [1.0]]), (2031, [[1.0], [1.1]])):
        ((kind, value),) = target_factors(year, hague, threat, 1.0, q)
        np.testing.assert_allclose(value, expected)
    assert target_factors(2030, hague, threat, 1.0, q) == []


def test_target_factors_apply_the_uplift_in_the_adoption_year_then_the_review(hague, p):
    """Adoption year after the start: (1 + u_c) per category, before a review the same year."""
    q = p | {"target_uplift": 0.3, "review_threat_elasticity": 1.0, "review_max_change": 0.5}
    q |= {f"uplift_weight_{c}": 1.0 for c in CATEGORIES}  # equal weights: u_c = u
    ((kind, factor),) = target_factors(2027, replace(hague, targets_adoption_year=2027), 1, 1, q)
    assert kind == "uplift" and factor.shape == (len(CATEGORIES),)
    np.testing.assert_allclose(factor, 1.3, rtol=1e-15)
    both = target_factors(2029, replace(hague, targets_adoption_year=2029), 1.2, 1.0, q)
    assert [kind for kind, _ in both] == ["uplift", "review"] and both[1][1] == approx(1.2)
    assert target_factors(2025, hague, 1.0, 1.0, q) == []  # at the start: in the start state


def test_the_uplifts_keep_the_target_uplift_as_their_requirement_weighted_mean(hague, p):
    """With the calibrated weights, sum_c s_c u_c = u and air defence rises the most."""
    spec = replace(hague, targets_adoption_year=2027)
    ((_, factor),) = target_factors(2027, spec, 1.0, 1.0, p)
    uplift = factor - 1
    assert np.dot(requirement_shares(p), uplift) == approx(p["target_uplift"])
    assert uplift.argmax() == CATEGORIES.index("air_missile_defence")


def test_core_path_runs_from_the_start_share_to_the_revised_pledge(hague, state):
    """P(t) = b0 + max(0, T f - b0) min(1, (t - t0) / (tT - t0)); allies above keep their share."""
    path = core_path(2030, state, hague, 1.0)
    bel, pol = _at(state, "BEL"), _at(state, "POL")
    b0 = state.core[bel]
    assert b0 < 3.5 < state.core[pol]
    assert path[bel] == approx(b0 + (3.5 - b0) * 5 / 10)
    assert path[pol] == state.core[pol]
    assert core_path(2029, state, hague, 1.2)[bel] == approx(b0 + (4.2 - b0) * 4 / 10)
    np.testing.assert_allclose(core_path(2040, state, hague, 1.0)[bel], 3.5)
    np.testing.assert_array_equal(core_path(2025, state, hague, 1.0), state.core)


def test_core_path_follows_the_pledge_levers(hague, state, p):
    """T = pledge_core * pledge_core_scale * f, reached by the pledge year + pledge_delay."""
    bel = _at(state, "BEL")
    b0 = state.core[bel]
    q = p | {"pledge_core_scale": 1.2, "pledge_delay": 5, "us_demand_delay": 3}
    assert core_path(2030, state, hague, 1.0, q)[bel] == approx(b0 + (4.2 - b0) * 5 / 15)
    assert core_path(2030, state, hague, 1.1, q)[bel] == approx(b0 + (4.62 - b0) * 5 / 15)
    np.testing.assert_allclose(core_path(2040, state, hague, 1.0, q)[bel], 4.2)
    later = hague.with_parameters(pledge_delay=5)  # p defaults to the scenario's parameters
    assert core_path(2030, state, later, 1.0)[bel] == approx(b0 + (3.5 - b0) * 5 / 15)
    default = core_path(2030, state, hague, 1.0)
    assert core_path(2030, state, hague, 1.0, p).tobytes() == default.tobytes()
    own = replace(state, pledge_core=np.where(state.iso3 == "ESP", 2.1, 3.5))  # Spain's own 2.1%
    np.testing.assert_allclose(core_path(2045, own, hague, 1.0, q)[_at(state, "ESP")], 2.1 * 1.2)
    per_run = p | {"pledge_delay": np.array([[0.0], [5.0]]), "pledge_core_scale": 1.2}
    paths = core_path(2030, state, hague, 1.0, per_run)
    assert paths.shape == (2, len(state.iso3))
    for row, delay in zip(paths, (0, 5), strict=True):
        alone = per_run | {"pledge_delay": delay}
        np.testing.assert_array_equal(row, core_path(2030, state, hague, 1.0, alone))


# --- spending ----------------------------------------------------------------------------------


def _chosen(hague, state, p, surprise, year=2026):
    return chosen_spending(
        state.core,
        state.related,
        state.shortfall_ref,
        s=state,
        spec=hague,
        year=year,
        threat=1.0,
        retrenchment=0.0,
        pressure=0.8,
        spill=state.spill_ref,
        burden=state.mean_burden_ref,
        review=1.0,
        fiscal_factor=1.0,
        surprise=surprise,
        innovation=np.zeros(len(state.iso3)),
        p=p,
    )


def test_chosen_core_share_is_the_choice_times_the_budget_surprise(hague, state, p):
    """Budgets are set in money: a GDP surprise z scales the chosen share, within the cap."""
    core, related = _chosen(hague, state, p, 1.0)
    z = np.linspace(0.9, 1.2, len(state.iso3))
    scaled, related_scaled = _chosen(hague, state, p, z)
    forces = state.has_forces
    np.testing.assert_array_equal(scaled[forces], np.clip(core * z, 0, state.cap)[forces])
    np.testing.assert_array_equal(related_scaled, related)  # related spending is not rescaled
    assert ((core >= 0) & (core <= state.cap)).all()


def test_allies_without_forces_keep_their_core_share(hague, state, p):
    """Iceland's core share is passed through unchanged (0), whatever the surprise."""
    isl = _at(state, "ISL")
    assert not state.has_forces[isl]
    core, _ = _chosen(hague, state, p, np.full(len(state.iso3), 1.3))
    assert core[isl] == state.core[isl] == 0.0


def test_related_share_moves_toward_its_pledge_path_at_the_fiscal_speed(hague, state, p):
    """r = max(0, r' + F a (P^r - r')), P^r from the start share to 1.5% by 2035."""
    _, related = _chosen(hague, state, p, 1.0)
    r0 = state.related
    path = r0 + np.maximum(0.0, 1.5 - r0) * 1 / 10
    expected = np.maximum(0.0, r0 + state.fiscal_space * p["related_adjust"] * (path - r0))
    np.testing.assert_allclose(related, expected, rtol=1e-14)
    assert (related >= r0).all()


def test_a_delayed_deadline_is_the_scenarios_year_moved(hague, state, p):
    """pledge_delay d (us_demand_delay d) chooses as the scenario with its pledge (demand) year
    moved by d: the core and related paths, and the overdue pledge's enforcement after it."""
    for delay in (-5, -1, 0, 3):
        moved = replace(hague, pledge=replace(hague.pledge, year=2030 + delay))
        for year in (2026, 2028):
            np.testing.assert_array_equal(
                _chosen(
                    replace(hague, pledge=replace(hague.pledge, year=2030)),
                    state,
                    p | {"pledge_delay": delay},
                    1.0,
                    year,
                ),
                _chosen(moved, state, p, 1.0, year),
            )
        moved = replace(hague, us_demand=replace(hague.us_demand, year=2035 + delay))
        np.testing.assert_array_equal(
            _chosen(hague, state, p | {"us_demand_delay": delay}, 1.0),
            _chosen(moved, state, p, 1.0),
        )


def test_a_later_pledge_deadline_or_a_smaller_pledge_lowers_the_chosen_core_share(hague, state, p):
    """The pledge path pulls less with a later deadline or a lower pledge; no ally chooses more."""
    q = p | {"pledge_commitment": 1.0}
    core, related = _chosen(hague, state, q, 1.0)
    later, later_related = _chosen(hague, state, q | {"pledge_delay": 5}, 1.0)
    smaller, _ = _chosen(hague, state, q | {"pledge_core_scale": 0.7}, 1.0)
    higher, _ = _chosen(hague, state, q | {"pledge_core_scale": 1.5}, 1.0)
    assert (later <= core).all() and (later < core).any()
    assert (later_related <= related).all() and (later_related < related).any()
    assert (smaller <= core).all() and (smaller < core).any()
    assert (higher >= core).all() and (higher > core).any()


# --- economy -----------------------------------------------------------------------------------


def test_grown_gdp_adds_noise_to_projected_years_only_and_gives_the_surprise(p):
    """Y = Y' max(0.5, 1 + g + s/100 + e) with e = sd eps unless observed; z = Y'(1 + g^T)/Y."""
    q = p | {"gdp_growth_noise_sd": 0.01}
    two = np.array([100.0, 100.0])
    growth, trend, innovation = np.full(2, 0.02), np.full(2, 0.02), np.ones(2)
    observed = np.array([True, False])
    gdp, surprise = grown_gdp(two, growth, observed, innovation, 0.0, trend, q)
    assert gdp.tolist() == approx([102.0, 103.0])
    assert surprise.tolist() == approx([1.0, 102.0 / 103.0])
    gdp, surprise = grown_gdp(two, growth, observed, innovation, -3.0, trend, q)
    assert gdp.tolist() == approx([99.0, 100.0])
    assert surprise[0] == approx(102.0 / 99.0)  # a recession raises the share of a set budget
    gdp, _ = grown_gdp(two, np.full(2, -0.9), observed, innovation, 0.0, trend, q)
    assert gdp.tolist() == [50.0, 50.0]  # the floor keeps GDP positive


def test_spending_usd_is_the_share_of_gdp():
    """Core spending (USD bn) = share / 100 x GDP."""
    assert spending_usd(2.0, 300.0) == 6.0
    np.testing.assert_allclose(
        spending_usd(np.array([1.5, 3.5]), np.array([200.0, 100.0])), [3, 3.5]
    )


# --- equipment and industry --------------------------------------------------------------------


def test_placed_orders_split_the_equipment_budget_by_shortfall_and_book_them_by_lead_time(p):
    """Gap from stock + pipeline + backlog; O_c = B w_c / sum w; each order lands at L_c - 1."""
    leads = (1, 2, 1, 1, 1)
    q = p | {"build_shortfall_focus": 2.0}
    q |= {f"lead_time_{c}": lead for c, lead in zip(CATEGORIES, leads, strict=True)}
    stock = np.array([5.0, 5.0, 10.0, 10.0, 10.0])
    pipeline = np.zeros((5, 2))
    pipeline[1, 0] = 5.0  # category 1's gap is already on order, due now
    targets, profile = np.full(5, 10.0), np.full(5, 0.2)
    due, booked = placed_orders(12.0, 0.5, stock, pipeline, np.zeros(5), targets, profile, q)
    # budget 6; gaps (0.5, 0, 0, 0, 0); weights (2, 1, 1, 1, 1)/6 of it
    np.testing.assert_array_equal(due, [0.0, 5.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(booked, [[2, 0], [0, 1], [1, 0], [1, 0], [1, 0]], rtol=1e-15)
    assert booked.sum() == approx(12.0 * 0.5)


def test_industry_update_rations_deliveries_and_ramps_capacity_toward_demand(p):
    """phi_c = min(1, K_c / D_c) with D summed over allies; K' = K clip(D/K, 1 - delta, 1 + g)."""
    q = p | {"industrial_ramp_rate": 0.2, "capacity_decline_rate": 0.1}
    due = np.array([[1.0, 2.0, 0, 0, 0], [3.0, 0.0, 0, 0, 0]])
    backlog = np.array([[0.0, 0.0, 0, 0, 0], [0.0, 2.0, 0, 0, 0]])
    capacity = np.array([2.0, 8.0, 1.0, 1.0, 1.0])
    fill, after = industry_update(due, backlog, capacity, q)
    np.testing.assert_allclose(fill, [0.5, 1, 1, 1, 1])
    np.testing.assert_allclose(after, [2.4, 7.2, 0.9, 0.9, 0.9])


def test_delivered_stock_receives_the_filled_share_and_depreciates(p):
    """d = phi (due + B); B' = (1 - phi)(due + B); K = (1 - delta) K' + d."""
    q = p | {"depreciation_rate": 0.1}
    due = np.array([[1.0, 2.0, 0, 0, 0], [3.0, 0.0, 0, 0, 0]])
    backlog = np.array([[0.0, 0.0, 0, 0, 0], [0.0, 2.0, 0, 0, 0]])
    fill = np.array([0.5, 1.0, 1.0, 1.0, 1.0])
    stock, waiting = delivered_stock(due, backlog, np.full((2, 5), 10.0), fill, q)
    np.testing.assert_allclose(stock, [[9.5, 11, 9, 9, 9], [10.5, 11, 9, 9, 9]])
    np.testing.assert_allclose(waiting, [[0.5, 0, 0, 0, 0], [1.5, 0, 0, 0, 0]])


# --- personnel ---------------------------------------------------------------------------------


def test_recruited_moves_toward_the_affordable_goal_within_recruitment_and_attrition(state, p):
    """A = P0 b(1-e) / (b0(1-e0)); P = P' + clip(min(P*, A) - P', -x P', r P')."""
    s = _small(
        state,
        personnel=[100.0] * 4,
        core=[2.0] * 4,
        equipment_share=[0.25] * 4,
        personnel_goal=[150.0, 150.0, 90.0, 150.0],
        recruit_rate=[0.05, 0.5, 0.05, 0.05],
    )
    q = p | {"personnel_attrition_max": 0.1}
    core = np.array([2.0, 4.0, 2.0, 1.0])  # affordable: 100, 200, 100, 50
    personnel = recruited(np.full(4, 100.0), core, np.full(4, 0.25), s, q)
    np.testing.assert_allclose(personnel, [100.0, 150.0, 90.0, 90.0])
    more_equipment = recruited(np.full(4, 100.0), core, np.full(4, 0.625), s, q)
    assert more_equipment[1] == approx(100.0)  # affordable 4 x 0.375 / 1.5 x 100 = 100


# --- what the alliance observes ----------------------------------------------------------------


def test_commitment_is_one_minus_retrenchment_for_the_us_only(state):
    """c = 1 - R for the US, 1 for every other ally."""
    c = commitment(state, 0.3)
    us = _at(state, "USA")
    assert c[us] == approx(0.7) and np.delete(c, us).tolist() == [1.0] * (len(c) - 1)


def _three(state):
    """The US and two allies with forces, with hand-made start shares."""
    return _small(
        state,
        core=[3.0, 2.0, 1.0],
        related=[1.0, 0.5, 0.0],
        has_forces=[True, True, True],
        is_us=[True, False, False],
    )


def test_alliance_view_gives_spill_in_laggards_and_capability_ratio(hague, state, p):
    """Spill-in of the others' committed spending; laggards against the demand; C/C0."""
    s = _three(state)
    q = p | {"us_lag_tolerance_pp": 0.1}
    core, gdp = np.array([3.0, 2.0, 1.0]), np.array([100.0, 50.0, 50.0])
    total = np.array([4.6, 3.6, 3.0])  # demanded in 2030: 4.5, 3.75, 3.0
    stock = np.full((3, 5), 2.0)
    spill, lagging, ratio = alliance_view(
        core, total, gdp, stock, stock, 0.5, 1.0, 2030, s, hague, q, 20.0
    )
    # committed spending (1.5, 1, 0.5): each ally sees the others' over the others' GDP
    np.testing.assert_allclose(spill, [1.5, 100 * 2.0 / 150, 100 * 2.5 / 150], rtol=1e-14)
    assert lagging == 0.5  # the second ally lags; the US is not counted
    assert ratio == 30.0 / 20.0


def test_alliance_view_reads_the_stated_pressure_as_laggards_in_the_start_year(hague, state, p):
    """In the start year L = min(1, U0 / s) (0 when s = 0), not the share behind the path."""
    s = _three(state)
    args = (np.array([3.0, 2.0, 1.0]), np.array([4.0, 2.5, 1.0]), np.full(3, 50.0))
    stock = np.ones((3, 5))
    q = p | {"us_pressure_start": 0.8, "us_pressure_strength": 1.0}
    _, lagging, _ = alliance_view(*args, stock, stock, 0.0, 1.0, 2025, s, hague, q, 15.0)
    assert lagging == approx(0.8)
    q |= {"us_pressure_strength": 0.0}
    assert alliance_view(*args, stock, stock, 0.0, 1.0, 2025, s, hague, q, 15.0)[1] == 0.0


def test_alliance_view_counts_fewer_laggards_against_a_later_us_demand(hague, state, p):
    """D(2030) with the demand's year 2035 + 5: 5/15 of the way; the second ally no longer lags."""
    s = _three(state)
    core, gdp = np.array([3.0, 2.0, 1.0]), np.array([100.0, 50.0, 50.0])
    total = np.array([4.6, 3.6, 3.0])  # demanded in 2030: 4.5, 3.75, 3.0 by 2035; 2.5 + 2.5 / 3
    stock = np.full((3, 5), 2.0)
    args = (core, total, gdp, stock, stock, 0.5, 1.0, 2030, s, hague)
    q = p | {"us_lag_tolerance_pp": 0.1}
    assert alliance_view(*args, q, 20.0)[1] == 0.5
    assert alliance_view(*args, q | {"us_demand_delay": 5}, 20.0)[1] == 0.0
    assert (
        alliance_view(*args, q | {"us_demand_delay": -3}, 20.0)[1] == 1.0
    )  # 2032: 3.0 + 2 * 5 / 7


def test_us_capability_demand_is_a_path_from_start_fulfilment_to_the_targets(hague, state, p):
    """G^D_i = 1 - F_i(t), F_i linear from f_i0 to 1 by the demand year; {} at weight 0."""
    assert us_capability_demand(2030, state, hague, p) == {}
    s = _small(state, stock=np.full((2, 5), 1.0), targets=[[2.0] * 5, [4.0] * 5])
    got = us_capability_demand(2030, s, hague, p | {"us_pressure_capability_weight": 0.5})
    assert got["capability_weight"] == 0.5
    np.testing.assert_allclose(got["allowed_shortfall"], [0.5 / 2, 0.75 / 2])  # half-way in 2030
    q = p | {"us_pressure_capability_weight": 0.5, "us_demand_delay": 5}
    later = us_capability_demand(2030, s, hague, q)  # a third of the way by the demand's 2040
    np.testing.assert_allclose(later["allowed_shortfall"], [0.5 * 2 / 3, 0.75 * 2 / 3])


def test_alliance_view_counts_capability_laggards_in_the_capability_weights_share(hague, state, p):
    """Spending laggards (ally 1) and capability laggards (allies 1 and 2) mixed by the weight."""
    s = replace(_three(state), stock=np.full((3, 5), 1.0), targets=np.full((3, 5), 2.0))
    core, gdp = np.array([3.0, 2.0, 1.0]), np.array([100.0, 50.0, 50.0])
    total = np.array([4.6, 3.6, 3.0])  # demanded in 2030: 4.5, 3.75, 3.0
    stock = np.array([[2.0] * 5, [1.0] * 5, [1.0] * 5])  # shortfalls 0, 0.5, 0.5 > 0.25 allowed
    targets = np.full((3, 5), 2.0)
    args = (core, total, gdp, stock, targets, 0.0, 1.0, 2030, s, hague)
    for weight, expected in ((0.0, 0.5), (1.0, 1.0), (0.5, 0.75)):
        q = p | {"us_lag_tolerance_pp": 0.1, "us_pressure_capability_weight": weight}
        assert alliance_view(*args, q, 20.0)[1] == approx(expected)


def test_ally_measures_are_the_columns_of_one_ally():
    """Total = core + related; spending = core/100 GDP; fulfilment per category and overall."""
    stock, targets = np.array([1.0, 2, 3, 4, 5]), np.array([2.0, 2, 2, 2, 0])
    m = ally_measures(200.0, 2.0, 1.0, 10.0, stock, targets)
    assert m["gdp_usd_bn"] == 200.0 and m["personnel_k"] == 10.0
    assert m["total_pct_gdp"] == 3.0 and m["spending_usd_bn"] == 4.0
    assert [float(m[f"fulfil_{c}"]) for c in CATEGORIES] == [0.5, 1.0, 1.0, 1.0, 1.0]
    assert m["fulfil_overall"] == approx(7 / 8)  # a surplus does not fill another gap
    some = ally_measures(200.0, 2.0, 1.0, 10.0, stock, targets, ["spending_usd_bn", "core_pct_gdp"])
    assert some == {"spending_usd_bn": 4.0, "core_pct_gdp": 2.0}


def test_alliance_measures_count_average_and_rank_the_allies_with_forces(state):
    """Counts at NATO's precision, the gap with the US's commitment, the US share, Spearman."""
    s = _small(
        state,
        has_forces=[True, True, True, False],
        is_us=[True, False, False, False],
    )
    core = np.array([3.5, 1.996, 5.2, 0.0])
    total = np.array([4.0, 3.0, 5.0, 0.5])
    gdp = np.array([100.0, 10.0, 20.0, 1.0])
    stock = np.array([[1.0] * 5, [0.5] * 5, [2.0] * 5, [0.0] * 5])
    targets = np.array([[1.0] * 5, [1.0] * 5, [1.0] * 5, [0.0] * 5])
    m = alliance_measures(core, total, gdp, stock, targets, 0.5, s)
    assert (m["allies_ge_2pct"], m["allies_ge_3_5pct_core"], m["allies_ge_5pct_total"]) == (3, 2, 1)
    assert m["mean_core_pct_gdp"] == approx((3.5 + 1.996 + 5.2) / 3)
    assert m["us_share_of_spending"] == approx(3.5 / (3.5 + 0.1996 + 1.04))
    assert m["capability_gap"] == approx(1 - (2.5 + 2.5 + 5) / 15)
    assert m["burden_gdp_spearman"] == approx(0.5)  # ranks (3, 1, 2) against (2, 1, 3)
    only = alliance_measures(core, total, gdp, stock, targets, 0.5, s, ["capability_gap"])
    assert list(only) == ["capability_gap"]
