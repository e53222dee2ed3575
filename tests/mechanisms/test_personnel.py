from pytest import approx

from sim.mechanisms.personnel import affordable_personnel, update_personnel


def test_affordable_headcount_scales_with_the_non_equipment_share():
    """A = P0 b (1 - e) / (b0 (1 - e0))."""
    assert affordable_personnel(100.0, 3.0, 2.0, 0.25, 0.25) == approx(150.0)
    assert affordable_personnel(100.0, 2.0, 2.0, 0.5, 0.25) == approx(200 / 3)
    assert affordable_personnel(0.0, 2.0, 0.0, 0.0, 0.0) == 0.0


def test_growth_is_bounded_by_recruitment_goal_and_budget():
    """P = P + clip(min(goal, A) - P, -x P, r P)."""
    assert update_personnel(186.4, 242.3, 1000.0, 0.03, 0.05) == approx(186.4 * 1.03)
    assert update_personnel(240.0, 242.3, 1000.0, 0.03, 0.05) == approx(242.3)
    assert update_personnel(200.0, 242.3, 201.0, 0.03, 0.05) == approx(201.0)
    assert update_personnel(200.0, 242.3, 100.0, 0.03, 0.05) == approx(190.0)
