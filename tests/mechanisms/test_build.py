import numpy as np
from pytest import approx

from sim.mechanisms.build import allocate_orders


def test_orders_follow_profile_when_no_gap():
    """No gap: O = B p / sum p."""
    o = allocate_orders(
        10.0, np.array([5.0, 5.0]), np.array([5.0, 5.0]), np.array([0.25, 0.75]), 2.0
    )
    np.testing.assert_allclose(o, [2.5, 7.5])


def test_orders_lean_to_the_largest_gap_and_add_up():
    """w = p (1 + phi gap); orders sum to the budget."""
    o = allocate_orders(
        9.0, np.array([0.0, 10.0]), np.array([10.0, 10.0]), np.array([0.5, 0.5]), 2.0
    )
    np.testing.assert_allclose(o, [9.0 * 1.5 / 2.0, 9.0 * 0.5 / 2.0])
    assert o.sum() == approx(9.0)


def test_orders_are_the_equation_bit_for_bit_on_arrays_of_runs():
    """g = max(0, 1 - P/T) (0 without a target); w = p (1 + phi g); O = B w / sum w."""
    rng = np.random.default_rng(11)
    budget, position = rng.random((40, 32)), rng.random((40, 32, 5)) * 2
    targets, profile = rng.random((40, 32, 5)), rng.random(5)
    targets[:, 5] = 0.0
    gap = np.where(targets > 0, 1.0 - position / np.where(targets > 0, targets, 1.0), 0.0)
    weights = profile * (1.0 + 0.7 * np.maximum(0.0, gap))
    want = budget[..., None] * weights / weights.sum(axis=-1)[..., None]
    full_profile = np.broadcast_to(profile, targets.shape).copy()
    for p in (profile, full_profile):
        np.testing.assert_array_equal(allocate_orders(budget, position, targets, p, 0.7), want)
