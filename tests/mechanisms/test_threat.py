import math

import numpy as np
from pytest import approx

from sim.mechanisms.threat import (
    adversary_effort,
    perceived_threat,
    threat_level,
    threat_proximity,
)


def test_proximity_follows_the_log_distance_line():
    """phi = ln(reach/d)/ln(reach/near), clipped to [0, 1]."""
    assert threat_proximity(100.0, 5870.0, 100.0) == approx(1.0)
    assert threat_proximity(1000.0, 5870.0, 100.0) == approx(math.log(5.87) / math.log(58.7))
    assert threat_proximity(24.0, 5870.0, 100.0) == 1.0
    assert threat_proximity(7000.0, 5870.0, 100.0) == 0.0


def test_threat_is_path_plus_ar1_deviation():
    """x = rho x_prev + sigma eps; theta = max(0, s path + x)."""
    theta, x = threat_level(1.0, 0.1, 2.0, 0.5, 0.05, 1.5)
    assert x == approx(0.5 * 0.1 + 0.05 * 2.0)
    assert theta == approx(1.5 + 0.15)
    theta, _ = threat_level(0.1, -1.0, 0.0, 0.9, 0.05, 1.0)
    assert theta == 0.0


def test_adversary_is_at_rest_at_the_start_and_arms_against_growth():
    """y' = y + k (C - 1) - a (y - 1), capped by its economy."""
    assert adversary_effort(1.0, 1.0, 0.05, 0.04, 1.5) == approx(1.0)
    assert adversary_effort(1.0, 1.2, 0.05, 0.04, 1.5) == approx(1.01)
    assert adversary_effort(1.2, 1.0, 0.05, 0.04, 1.5) == approx(1.2 - 0.008)
    assert adversary_effort(1.49, 3.0, 0.5, 0.0, 1.5) == 1.5


def test_retrenchment_raises_perceived_threat():
    """theta_i = theta phi (1 + g R)."""
    assert perceived_threat(1.0, 0.5, 0.0, 0.5) == approx(0.5)
    assert perceived_threat(1.0, 0.5, 0.6, 0.5) == approx(0.65)


def test_threat_functions_broadcast_over_runs():
    """Array inputs give the elementwise scalar results."""
    d = np.array([[50.0, 500.0], [2000.0, 6000.0]])
    expected = [[threat_proximity(x, 5870.0, 100.0) for x in row] for row in d]
    np.testing.assert_array_equal(threat_proximity(d, 5870.0, 100.0), expected)


def test_a_land_border_and_a_coast_raise_proximity():
    """phi = clip(distance term + b B + c C, 0, 1): Norway's border counts, not only Oslo."""
    base = threat_proximity(783.0, 5870.0, 100.0)
    border = threat_proximity(783.0, 5870.0, 100.0, 1.0, 0.0, 0.32, 0.12)
    both = threat_proximity(783.0, 5870.0, 100.0, 1.0, 1.0, 0.32, 0.12)
    assert border == approx(base + 0.32)
    assert both == approx(base + 0.44)
    assert threat_proximity(50.0, 5870.0, 100.0, 1.0, 1.0, 0.32, 0.12) == 1.0
    assert threat_proximity(9000.0, 5870.0, 100.0, 0.0, 1.0, 0.32, 0.12) == approx(0.12)
