from pytest import approx

from sim.mechanisms.economy import grow_gdp


def test_gdp_grows_by_trend_shock_and_noise():
    """Y = Y (1 + g + s/100 + e), never below half of last year."""
    assert grow_gdp(100.0, 0.02, 0.0, 0.0) == approx(102.0)
    assert grow_gdp(100.0, 0.02, -3.0, 0.005) == approx(99.5)
    assert grow_gdp(100.0, 0.0, -80.0, 0.0) == approx(50.0)
