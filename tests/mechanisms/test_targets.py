import numpy as np
from pytest import approx

from sim.mechanisms.targets import (
    apportion_targets,
    capability_gap,
    fulfilment,
    initial_stock,
    overall_fulfilment,
)


def test_targets_are_apportioned_by_gdp_among_allies_with_forces():
    """T_ic = R_c Y_i / sum Y."""
    t = apportion_targets(
        np.array([10.0, 20.0]), np.array([1.0, 3.0, 5.0]), np.array([True, True, False])
    )
    np.testing.assert_allclose(t, [[2.5, 5.0], [7.5, 15.0], [0.0, 0.0]])


def test_initial_stock_is_short_of_targets():
    """K = (1 - s) T."""
    np.testing.assert_allclose(
        initial_stock(np.array([[10.0, 20.0]]), np.array([0.3])), [[7.0, 14.0]]
    )


def test_fulfilment_caps_surplus_per_category():
    """f_c = min(1, K/T); overall = sum min(K, T) / sum T; no target -> 1."""
    per, overall = fulfilment(np.array([5.0, 30.0]), np.array([10.0, 20.0]))
    np.testing.assert_allclose(per, [0.5, 1.0])
    assert overall == approx(25 / 30)
    per, overall = fulfilment(np.zeros(2), np.zeros(2))
    np.testing.assert_allclose(per, [1.0, 1.0])
    assert overall == 1.0


def test_gap_discounts_withdrawn_forces():
    """gap = 1 - sum min(c K, T) / sum T."""
    stock = np.array([[10.0, 10.0], [8.0, 8.0]])
    targets = np.full((2, 2), 10.0)
    assert capability_gap(stock, targets, np.array([1.0, 1.0])) == approx(0.1)
    assert capability_gap(stock, targets, np.array([0.5, 1.0])) == approx(1 - 26 / 40)


def test_overall_fulfilment_alone_is_fulfilments_overall_value_bit_for_bit():
    """The array engine's shortfall reads f_i alone; it is ``fulfilment``'s, no target -> 1."""
    rng = np.random.default_rng(7)
    stock, targets = rng.random((50, 32, 5)), rng.random((50, 32, 5))
    targets[:, 3] = 0.0  # an ally without forces
    per_cat, overall = fulfilment(stock, targets)
    alone = overall_fulfilment(stock, targets)
    np.testing.assert_array_equal(alone, overall)
    assert (alone[:, 3] == 1.0).all() and (per_cat[:, 3] == 1.0).all()
    np.testing.assert_array_equal(per_cat[:, 0], np.minimum(stock, targets)[:, 0] / targets[:, 0])
