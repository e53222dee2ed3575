"""Alliance-level measures."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import spearmanr

from sim.indicators import allies_at_or_above, burden_gdp_spearman, mean_burden, us_share


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    levels=st.integers(2, 40),
    runs=st.integers(1, 4),
)
def test_spearman_matches_scipy_per_run_with_ties(seed, levels, runs):
    """Per-run Spearman equals scipy's (ties by mean rank); 0 where a series is constant."""
    rng = np.random.default_rng(seed)
    gdp = rng.integers(0, levels, (runs, 31)).astype(float)
    core = rng.integers(0, levels, (runs, 31)).astype(float)
    counted = rng.random(31) > 0.2
    got = burden_gdp_spearman(gdp, core, counted)
    for r in range(runs):
        want = spearmanr(gdp[r, counted], core[r, counted]).statistic
        assert abs(got[r] - (want if np.isfinite(want) else 0.0)) < 1e-12


def test_counts_means_and_shares():
    """Hand-computed: NATO's two-decimal rounding, counted allies only, US share."""
    share = np.array([1.996, 3.5, 5.2, 9.0])
    counted = np.array([True, True, True, False])
    assert allies_at_or_above(share, 2.0, counted) == 3
    assert allies_at_or_above(share, 3.5, counted) == 2
    assert mean_burden(share, counted) == (1.996 + 3.5 + 5.2) / 3
    assert us_share(np.array([1.0, 3.0]), np.array([False, True])) == 0.75
