from pytest import approx

from sim.mechanisms.economy import budget_surprise, grow_gdp, recession_loss


def test_gdp_grows_by_trend_shock_and_noise():
    """Y = Y (1 + g + s/100 + e), never below half of last year."""
    assert grow_gdp(100.0, 0.02, 0.0, 0.0) == approx(102.0)
    assert grow_gdp(100.0, 0.02, -3.0, 0.005) == approx(99.5)
    assert grow_gdp(100.0, 0.0, -80.0, 0.0) == approx(50.0)


def test_budget_surprise_is_planned_over_actual_gdp():
    """z = Y_{t-1} (1 + g_trend) / Y_t: 1 on trend, above 1 in a recession."""
    assert budget_surprise(100.0, 0.02, 102.0) == approx(1.0)
    assert budget_surprise(100.0, 0.02, 99.0) == approx(102 / 99)


def test_recession_loss_compounds_the_shocks():
    assert recession_loss([]) == approx(0.0)
    assert recession_loss([-3.0, -1.0]) == approx(100 * (1 - 0.97 * 0.99))
    assert recession_loss([0.0, 2.0]) < 0
