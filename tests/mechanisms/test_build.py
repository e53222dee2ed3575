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
