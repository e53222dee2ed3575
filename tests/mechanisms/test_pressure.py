import numpy as np
from pytest import approx

from sim.mechanisms.pressure import lagging_share, start_lagging, us_pressure, us_retrenchment


def test_lagging_share_counts_only_counted_allies_below_path_less_tolerance():
    """L = #{counted: b < D - tol} / #counted."""
    total = np.array([1.0, 2.95, 3.0, 1.0])
    demand = np.array([3.0, 3.0, 3.0, 3.0])
    counted = np.array([True, True, True, False])
    assert lagging_share(total, demand, 0.1, counted) == approx(1 / 3)
    assert lagging_share(total, demand, 0.0, counted) == approx(2 / 3)


def test_lagging_share_per_run():
    """One share per run on a runs x allies array."""
    total = np.array([[1.0, 4.0], [1.0, 1.0]])
    counted = np.array([True, True])
    np.testing.assert_allclose(lagging_share(total, 3.0, 0.0, counted), [0.5, 1.0])


def test_pressure_moves_toward_stance_times_laggards():
    """U' = U + a (s L - U), within [0, 1]."""
    assert us_pressure(0.8, 0.5, 1.0, 0.5) == approx(0.65)
    assert us_pressure(0.2, 1.0, 1.0, 1.0) == approx(1.0)
    assert us_pressure(0.5, 0.0, 1.0, 0.5) == approx(0.25)


def test_retrenchment_builds_only_above_threshold_and_respects_floor():
    """R' = max(F, min(1, R + r max(0, U - u*) L))."""
    assert us_retrenchment(0.0, 0.5, 1.0, 0.6, 0.2, 0.0) == 0.0
    assert us_retrenchment(0.1, 0.8, 0.5, 0.6, 0.2, 0.0) == approx(0.12)
    assert us_retrenchment(0.1, 0.8, 0.5, 0.6, 0.2, 0.3) == approx(0.3)
    assert us_retrenchment(0.99, 1.0, 1.0, 0.0, 1.0, 0.0) == 1.0


def test_start_lagging_keeps_the_stated_start_pressure():
    """L0 = min(1, U0 / s): the first year's update leaves U0 where the scenario put it."""
    for u0, strength in ((0.8, 1.0), (0.3, 0.3), (0.5, 0.8)):
        lag = start_lagging(u0, strength)
        assert us_pressure(u0, lag, strength, 0.5) == approx(u0)
    assert start_lagging(1.0, 0.5) == 1.0
    assert start_lagging(0.4, 0.0) == 0.0


def test_lagging_share_judges_capability_in_the_capability_weights_share():
    """L = sum [(1 - w) 1(b < D - tol) + w 1(G > G^D)] / #counted."""
    total = np.array([1.0, 3.0, 3.0, 1.0])  # ally 0 behind on spending
    shortfall = np.array([0.1, 0.5, 0.4, 0.9])  # allies 1 and 2 behind on capability
    counted = np.array([True, True, True, False])
    args = (total, 3.0, 0.0, counted)
    assert lagging_share(*args, 0.0, shortfall, 0.3) == approx(1 / 3)
    assert lagging_share(*args, 1.0, shortfall, 0.3) == approx(2 / 3)
    assert lagging_share(*args, 0.5, shortfall, 0.3) == approx(0.5)
    per_run = lagging_share(*args, np.array([[0.0], [1.0]]), shortfall, 0.3)
    np.testing.assert_allclose(per_run, [1 / 3, 2 / 3])


def test_retrenchment_builds_only_once_active_and_the_floor_holds_before():
    """a_t = 0 before the withdrawal deadline: R = max(F, R'); per run when runs differ."""
    assert us_retrenchment(0.1, 0.8, 0.5, 0.6, 0.2, 0.0, False) == 0.1
    assert us_retrenchment(0.1, 0.8, 0.5, 0.6, 0.2, 0.3, False) == 0.3
    assert us_retrenchment(0.1, 0.8, 0.5, 0.6, 0.2, 0.0, True) == approx(0.12)
    got = us_retrenchment(0.1, 0.8, 0.5, 0.6, 0.2, 0.0, np.array([True, False]))
    np.testing.assert_allclose(got, [0.12, 0.1])
