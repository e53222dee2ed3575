import numpy as np
from pytest import approx

from sim.mechanisms.delivery import (
    advance_pipeline,
    delivery_fill,
    depreciate,
    ramp_capacity,
    receive,
)


def test_orders_fall_due_after_their_lead_time():
    """An order with lead time L is due L years later."""
    pipeline = np.zeros((2, 3))
    leads = (1, 3)
    due, pipeline = advance_pipeline(pipeline, np.array([1.0, 2.0]), leads)
    np.testing.assert_array_equal(due, [0.0, 0.0])
    seen = []
    for _ in range(3):
        due, pipeline = advance_pipeline(pipeline, np.zeros(2), leads)
        seen.append(due.copy())
    np.testing.assert_array_equal(seen, [[1.0, 0.0], [0.0, 0.0], [0.0, 2.0]])


def test_fill_rations_deliveries_when_capacity_binds():
    """phi = min(1, K / demand)."""
    np.testing.assert_allclose(
        delivery_fill(np.array([10.0, 5.0, 0.0]), np.full(3, 8.0)), [0.8, 1.0, 1.0]
    )


def test_unfilled_orders_wait_as_backlog():
    """d = phi (due + B); B' = (1 - phi)(due + B)."""
    delivered, backlog = receive(np.array([6.0]), np.array([4.0]), np.array([0.8]))
    assert delivered[0] == approx(8.0)
    assert backlog[0] == approx(2.0)


def test_capacity_ramps_at_a_bounded_rate():
    """K' = K clip(D / K, 1 - delta, 1 + g)."""
    np.testing.assert_allclose(
        ramp_capacity(np.array([10.0, 10.0, 10.0]), np.array([30.0, 11.0, 1.0]), 0.2, 0.05),
        [12.0, 11.0, 9.5],
    )


def test_stock_depreciates_and_receives():
    """K = (1 - delta) K + d."""
    assert depreciate(100.0, 7.0, 0.05) == approx(102.0)


def test_the_pipeline_moves_on_in_place_and_what_falls_due_is_kept():
    """Q' is the pipeline itself, moved on; ``due`` is a copy later moves leave alone."""
    pipeline = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    due, moved = advance_pipeline(pipeline, np.array([10.0, 20.0]), (3, 1))
    assert moved is pipeline
    np.testing.assert_array_equal(due, [1.0, 4.0])
    np.testing.assert_array_equal(moved, [[2.0, 3.0, 10.0], [25.0, 6.0, 0.0]])
    advance_pipeline(moved, np.zeros(2), (3, 1))
    np.testing.assert_array_equal(due, [1.0, 4.0])


def test_a_pipeline_stored_lead_years_first_moves_to_the_same_numbers():
    """The array engine stores lead years outermost; every number is the C-ordered one's."""
    rng = np.random.default_rng(4)
    c_order = rng.random((6, 3, 5, 4))
    lead_first = np.moveaxis(np.moveaxis(c_order, -1, 0).copy(), 0, -1)
    for _ in range(5):
        orders = rng.random((6, 3, 5))
        due, c_order = advance_pipeline(c_order, orders, (1, 4, 2, 3, 4))
        due_lf, lead_first = advance_pipeline(lead_first, orders, (1, 4, 2, 3, 4))
        np.testing.assert_array_equal(due_lf, due)
        np.testing.assert_array_equal(lead_first, c_order)
    assert lead_first.strides[-1] > lead_first.strides[0]  # still lead years first


def test_receive_takes_floats_as_well_as_arrays():
    delivered, backlog = receive(6.0, 4.0, 0.8)
    assert (delivered, backlog) == (approx(8.0), approx(2.0))
