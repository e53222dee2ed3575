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


def budget_surprise(gdp_prev, trend_growth, gdp):
    """How much larger a budget is as a share of GDP than planned, because GDP surprised.

    z_t = Y_{t-1} (1 + g^trend_i) / Y_t

    Defence budgets are voted in money on the growth expected; when GDP falls short, the same
    money is a larger share (the "denominator effect": allies' shares jumped in 2009 and 2020).
    The realised share is the chosen one times z_t.

    Args:
        gdp_prev: Y_{t-1} (USD bn).
        trend_growth: g^trend_i, the growth the budget was planned on (fraction).
        gdp: Y_t (USD bn).

    Returns:
        z_t (1 when GDP grows at trend).
    """
    return gdp_prev * (1.0 + trend_growth) / gdp


def recession_loss(shocks_pp):
    """Percent of GDP a scenario's recession has cost so far.

    L_t = 100 * (1 - prod_{s <= t} (1 + s_s / 100))

    Args:
        shocks_pp: The scenario's growth shocks s_s (pp), years so far on the last axis.

    Returns:
        L_t (% GDP; negative after a boom).
    """
    return 100.0 * (1.0 - np.prod(1.0 + np.asarray(shocks_pp, dtype=float) / 100.0, axis=-1))
