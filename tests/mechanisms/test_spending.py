import numpy as np
from pytest import approx

from sim.mechanisms.spending import (
    adjust_core_share,
    adjust_related_share,
    desired_core_share,
    fiscal_space,
    free_riding_weight,
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
