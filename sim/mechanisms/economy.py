"""Mechanism 8: the economy each ally spends from (DESIGN mechanism 8)."""

from __future__ import annotations

import numpy as np


def grow_gdp(gdp_prev, growth, shock_pp, noise):
    """Real GDP next year.

    Y_t = Y_{t-1} * max(0.5, 1 + g_i + s_t / 100 + e_it)

    g_i is the observed growth where NATO's table has it (hindcasts) and the ally's 2014-2024
    trend otherwise; s_t is a scenario shock (a recession, pp); e_it is noise, applied to
    projected years only. The floor keeps GDP positive under any shock.

    Args:
        gdp_prev: Y_{t-1} (USD bn).
        growth: g_i (fraction).
        shock_pp: s_t (pp).
        noise: e_it (fraction).

    Returns:
        Y_t (USD bn).
    """
    return gdp_prev * np.maximum(0.5, 1.0 + growth + shock_pp / 100.0 + noise)
