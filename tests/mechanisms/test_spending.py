import numpy as np
from pytest import approx

from sim.mechanisms.spending import (
    adjust_core_share,
    adjust_related_share,
    committed_change,
    consolidation_cut,
    desired_core_share,
    fiscal_space,
    free_riding_weight,
    plan_habit,
    spill_in,
)

NEUTRAL = {
    "anchor": 2.0,
    "perceived_threat": 0.5,
    "threat_response": 1.5,
    "shortfall": 0.3,
    "shortfall_ref": 0.3,
    "capability_response": 2.0,
    "spill": 2.5,
    "spill_ref": 2.5,
    "free_riding": 0.3,
    "mean_burden": 2.4,
    "mean_burden_ref": 2.4,
    "conformity": 0.2,
    "pledge_path": 0.0,
    "pledge_commitment": 0.5,
    "demand_path": 0.0,
    "pressure": 0.8,
    "pressure_response": 0.5,
}


def test_fiscal_space_falls_linearly_with_debt_between_threshold_and_ceiling():
    """F = clip(1 - (debt - 60) / (150 - 60), floor, 1)."""
    assert fiscal_space(40.0, 60.0, 150.0, 0.25) == 1.0
    assert fiscal_space(105.0, 60.0, 150.0, 0.25) == approx(0.5)
    assert fiscal_space(180.0, 60.0, 150.0, 0.25) == 0.25


def test_spill_in_is_the_others_burden_with_us_commitment():
    """S_i = 100 (sum c q - c_i q_i) / (sum Y - Y_i)."""
    q = np.array([1.0, 3.0, 30.0])
    y = np.array([50.0, 100.0, 1000.0])
    c = np.array([1.0, 1.0, 0.5])
    s = spill_in(q, y, c)
    assert s[0] == approx(100 * (3 + 15) / 1100)
    assert s[2] == approx(100 * 4 / 150)


def test_free_riding_is_strongest_for_small_distant_allies():
    """lambda_i = lambda (1 - phi) (1 - y)."""
    assert free_riding_weight(0.0, 0.0, 0.3) == approx(0.3)
    assert free_riding_weight(1.0, 0.0, 0.3) == 0.0
    assert free_riding_weight(0.5, 0.5, 0.4) == approx(0.1)


def test_desired_share_is_the_anchor_when_nothing_changed_and_paths_are_met():
    """With every driver at its reference and no path above, b* = b0."""
    assert desired_core_share(**NEUTRAL) == approx(2.0)


def test_each_driver_moves_the_desired_share_by_its_coefficient():
    """Shortfall, free riding and conformity enter linearly."""
    assert desired_core_share(**NEUTRAL | {"shortfall": 0.4}) == approx(2.2)
    assert desired_core_share(**NEUTRAL | {"spill": 3.5}) == approx(1.7)
    assert desired_core_share(**NEUTRAL | {"mean_burden": 3.4}) == approx(2.2)


def test_threat_raises_the_share_to_its_security_floor_only_from_below():
    """n = max(b0, k_T T): the floor k_T T binds above the habit b0 and is ignored below it."""
    assert desired_core_share(**NEUTRAL | {"perceived_threat": 1.0}) == approx(2.0)
    assert desired_core_share(**NEUTRAL | {"perceived_threat": 2.0}) == approx(3.0)
    assert desired_core_share(**NEUTRAL | {"perceived_threat": 2.0, "anchor": 3.5}) == approx(3.5)


def test_pledge_and_us_pressure_pull_toward_their_paths():
    """b* = n + nu max(0, P - n) + pi U max(0, D - n)."""
    assert desired_core_share(**NEUTRAL | {"pledge_path": 3.0}) == approx(2.5)
    assert desired_core_share(**NEUTRAL | {"demand_path": 3.0}) == approx(2.4)
    both = NEUTRAL | {"pledge_path": 3.0, "demand_path": 3.0}
    assert desired_core_share(**both) == approx(2.9)


def test_adjustment_is_partial_and_bounded():
    """b = clip(b + clip(a (b* - b) + e, -cut, rise), 0, cap)."""
    assert adjust_core_share(2.0, 3.0, 0.35, 0.6, 0.3, 0.0, 15.0) == approx(2.35)
    assert adjust_core_share(2.0, 5.0, 0.35, 0.6, 0.3, 0.0, 15.0) == approx(2.6)
    assert adjust_core_share(2.0, 0.0, 0.35, 0.6, 0.3, 0.0, 15.0) == approx(1.7)
    assert adjust_core_share(2.0, 3.0, 0.35, 0.6, 0.3, 0.0, 2.1) == approx(2.1)
    assert adjust_core_share(2.0, 2.0, 0.35, 0.6, 0.3, 0.05, 15.0) == approx(2.05)
    assert adjust_core_share(0.1, 0.0, 1.0, 0.6, 0.3, -1.0, 15.0) == 0.0


def test_related_spending_follows_its_path_scaled_by_fiscal_space():
    """r = r + F a (P - r)."""
    assert adjust_related_share(0.0, 1.0, 0.5, 1.0) == approx(0.5)
    assert adjust_related_share(0.0, 1.0, 0.5, 0.5) == approx(0.25)


def test_meeting_the_targets_takes_nothing_away():
    """k_C max(0, G - G0): a shortfall below the pre-uplift one no longer lowers the share."""
    met = desired_core_share(**(NEUTRAL | {"shortfall": 0.0, "pledge_commitment": 0.0}))
    ref = desired_core_share(**(NEUTRAL | {"pledge_commitment": 0.0}))
    wider = desired_core_share(**(NEUTRAL | {"shortfall": 0.5, "pledge_commitment": 0.0}))
    assert met == approx(ref)
    assert wider == approx(ref + 2.0 * 0.2)


def test_consolidation_lowers_the_desired_share_by_its_cut():
    base = desired_core_share(**(NEUTRAL | {"pledge_commitment": 0.0}))
    cut = desired_core_share(**(NEUTRAL | {"pledge_commitment": 0.0, "consolidation": 0.16}))
    assert cut == approx(base - 0.16)
    assert consolidation_cut(4.0, 0.04) == approx(0.16)
    assert consolidation_cut(-2.0, 0.04) == 0.0  # a boom brings no consolidation


def test_plan_habit_is_the_start_share_or_the_highest_planned_level():
    np.testing.assert_allclose(plan_habit(np.array([2.0, 2.0, 4.0]), [np.nan, 3.0, 3.0]), [2, 3, 4])


def test_a_commitment_is_made_unless_behaviour_wants_more():
    """step = max(c, a (b* - b)); without a commitment: a (b* - b)."""
    common = {"speed": 0.5, "max_rise": 2.0, "max_cut": 1.0, "noise": 0.0, "cap": 15.0}
    assert adjust_core_share(2.0, 2.2, committed=0.77, **common) == approx(2.77)
    assert adjust_core_share(2.0, 5.0, committed=0.17, **common) == approx(2.0 + 0.5 * 3.0)
    assert adjust_core_share(2.0, 2.2, **common) == approx(2.1)
    capped = adjust_core_share(2.0, 2.2, committed=3.0, **(common | {"max_rise": 0.6}))
    assert capped == approx(2.6)  # fiscal space still bounds a commitment
    assert adjust_core_share(4.5, 4.5, committed=-0.4, **common) == approx(4.5)  # no forced cut


def test_committed_change_is_the_plan_or_an_overdue_pledge_under_pressure():
    """c = max(delta (P_nat - b), o e U max(0, P - b))."""
    assert committed_change(2.0, 3.0, 0.77, 2.0, 0.8, 1.0, False) == approx(0.77)
    assert np.isnan(committed_change(1.3, np.nan, 0.77, 2.0, 0.8, 1.0, False))
    assert committed_change(1.3, np.nan, 0.77, 2.0, 0.8, 1.0, True) == approx(0.8 * 0.7)
    assert committed_change(1.3, 1.4, 0.77, 2.0, 0.8, 1.0, True) == approx(0.8 * 0.7)
    assert committed_change(2.5, np.nan, 0.77, 2.0, 0.8, 1.0, True) == 0.0


def test_a_rivalry_raises_the_security_requirement_whatever_russia_does():
    """max(h, k_T T + V): V lifts an ally whose requirement then exceeds its habit."""
    calm = NEUTRAL | {"pledge_commitment": 0.0, "perceived_threat": 0.0}
    assert desired_core_share(**calm) == approx(2.0)
    assert desired_core_share(**(calm | {"rivalry": 1.0})) == approx(2.0)  # habit above it
    assert desired_core_share(**(calm | {"rivalry": 2.6})) == approx(2.6)


def test_no_overdue_pledge_anywhere_gives_the_plan_alone_bit_for_bit():
    """Whether the deadline is one flag or one per ally, c is the same when none has passed."""
    rng = np.random.default_rng(5)
    share, pledge = rng.random((20, 32)) * 3, rng.random((20, 32)) * 4
    pressure = rng.random((20, 1))
    plan = np.where(rng.random(32) < 0.5, np.nan, rng.random(32) * 4)
    one = committed_change(share, plan, 0.77, pledge, pressure, 0.5, False)
    each = committed_change(share, plan, 0.77, pledge, pressure, 0.5, np.zeros(32, bool))
    assert one.shape == each.shape == (20, 32)
    np.testing.assert_array_equal(one, each)
    assert np.isnan(one[:, np.isnan(plan)]).all()


def test_pressure_aimed_at_capability_presses_the_capability_shortfall():
    """pi U [(1 - omega) max(0, D - n) + omega k_C max(0, G - G^D)], here n = 2.4, pi U = 0.4."""
    pressed = NEUTRAL | {"demand_path": 3.0, "shortfall": 0.5, "pledge_commitment": 0.0}
    assert desired_core_share(**pressed) == approx(2.4 + 0.4 * 0.6)  # the spending gap
    capability = pressed | {"capability_weight": 1.0, "allowed_shortfall": 0.4}
    assert desired_core_share(**capability) == approx(2.4 + 0.4 * 2.0 * 0.1)
    half = capability | {"capability_weight": 0.5}
    assert desired_core_share(**half) == approx(2.4 + 0.4 * (0.5 * 0.6 + 0.5 * 0.2))
    on_track = capability | {"demand_path": 10.0, "allowed_shortfall": 0.6}
    assert desired_core_share(**on_track) == approx(2.4)  # spending gap ignored, targets on path
    per_run = desired_core_share(**(capability | {"capability_weight": np.array([0.0, 1.0])}))
    np.testing.assert_allclose(per_run, [2.64, 2.48])
