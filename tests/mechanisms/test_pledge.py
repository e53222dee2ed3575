import numpy as np
from pytest import approx

from sim.mechanisms.pledge import pledge_path, redesigned_goal, review_factor


def test_path_is_linear_from_the_start_share_and_held_after():
    """P(t) = b0 + (T - b0) * min(1, (t - t0) / (tT - t0))."""
    assert pledge_path(2025, 2025, 2.0, 3.5, 2035) == approx(2.0)
    assert pledge_path(2030, 2025, 2.0, 3.5, 2035) == approx(2.75)
    assert pledge_path(2035, 2025, 2.0, 3.5, 2035) == approx(3.5)
    assert pledge_path(2040, 2025, 2.0, 3.5, 2035) == approx(3.5)


def test_a_pledge_never_asks_for_a_cut():
    """An ally above the target keeps its own share as its path."""
    assert pledge_path(2030, 2025, 4.48, 3.5, 2035) == approx(4.48)


def test_review_scales_with_the_threat():
    """f = clip((theta / theta_ref) ** e, 1 - m, 1 + m); 1 without a reference threat."""
    assert review_factor(1.5, 1.0, 0.5, 0.5) == approx(1.5**0.5)
    assert review_factor(0.6, 1.0, 1.0, 0.5) == approx(0.6)
    assert review_factor(0.6, 0.0, 1.0, 0.5) == 1.0
    assert review_factor(0.0, 1.0, 1.0, 0.5) == approx(0.5)
    assert review_factor(9.0, 1.0, 1.0, 0.5) == approx(1.5)
    assert review_factor(0.05, 5e-324, 0.5, 0.5) == approx(1.5)  # overflow is the upper bound
    # A finite ratio whose power overflows (found by the engine-agreement test): no warning.
    assert review_factor(np.array([[0.0476]]), 1.1e-169, 2.0, 0.5) == approx(1.5)


def test_a_path_over_many_years_is_each_years_path():
    """Years as an array give each year's path, as the same years one at a time."""
    years = np.arange(2020, 2041)
    start = np.array([1.2, 2.0, 4.48])
    paths = pledge_path(years[:, None], 2025, start, 3.5, 2035)
    for year, path in zip(years, paths, strict=True):
        np.testing.assert_array_equal(path, pledge_path(int(year), 2025, start, 3.5, 2035))


def test_a_deadline_per_run_gives_each_runs_own_path():
    """t_T as a (runs, 1) array: each row is the path with that row's deadline alone."""
    start = np.array([1.2, 2.0, 4.48])
    deadlines = np.array([[2030.0], [2035.0], [2045.0], [2024.0]])
    paths = pledge_path(2030, 2025, start, 3.5, deadlines)
    assert paths.shape == (4, 3)
    for deadline, path in zip(deadlines[:, 0], paths, strict=True):
        np.testing.assert_array_equal(path, pledge_path(2030, 2025, start, 3.5, int(deadline)))
    assert paths[0, 0] == approx(3.5) and paths[2, 0] == approx(1.2 + 2.3 * 5 / 20)
    np.testing.assert_allclose(paths[3], [3.5, 3.5, 4.48])  # a deadline before the start: at once


def test_a_redesigned_goal_scales_the_target_and_moves_the_deadline():
    """T' = k T, t'_T = t_T + d; k = 1, d = 0 return the goal exactly as agreed."""
    assert redesigned_goal(3.5, 2035, 1.2, -3) == (approx(4.2), 2032)
    targets = np.array([3.5, 2.1])
    core, year = redesigned_goal(targets, 2035, 1.0, 0)
    assert core.tobytes() == targets.tobytes() and year == 2035 and isinstance(year, int)
    core, year = redesigned_goal(targets, 2035, np.array([[0.5], [1.5]]), np.array([[0], [4]]))
    np.testing.assert_allclose(core, [[1.75, 1.05], [5.25, 3.15]])
    np.testing.assert_array_equal(year, [[2035], [2039]])
