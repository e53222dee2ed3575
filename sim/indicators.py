"""Alliance-level measures reported each year, computed from the allies' arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd


def allies_at_or_above(share_pct, threshold_pct, counted):
    """How many counted allies spend at least ``threshold_pct`` of GDP.

    Shares are compared at NATO's published precision (two decimals), so 1.996% counts as 2.00%.

    Args:
        share_pct: Shares (% GDP); allies on the last axis.
        threshold_pct: The threshold (% GDP).
        counted: Which allies count (those with armed forces).

    Returns:
        The count, one per run.
    """
    return ((np.round(share_pct, 2) >= threshold_pct) & counted).sum(axis=-1)


def mean_burden(core_pct, counted):
    """Unweighted mean core share (% GDP) of the counted allies."""
    return np.where(counted, core_pct, 0.0).sum(axis=-1) / np.sum(counted, axis=-1)


def us_share(spending_usd, is_us):
    """Share of the alliance's core spending done by the US."""
    return np.where(is_us, spending_usd, 0.0).sum(axis=-1) / spending_usd.sum(axis=-1)


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks along the last axis, ties sharing their mean rank (pandas ``rank``, as scipy's)."""
    rows = values.reshape(-1, values.shape[-1])
    return pd.DataFrame(rows).rank(axis=1).to_numpy().reshape(values.shape)


def burden_gdp_spearman(gdp, core_pct, counted):
    """Spearman correlation of GDP with core share across counted allies, one per run.

    rho = Pearson correlation of the ranks (ties ranked by their mean); 0 when either is constant.
    Olson and Zeckhauser's "exploitation of the great by the small" predicts a positive value;
    NATO's was 0.22 in 2014 and about 0 in 2024-25 (DOMAIN §4.1).

    Args:
        gdp: GDP per ally; allies on the last axis.
        core_pct: Core share per ally (% GDP).
        counted: Which allies count (those with armed forces).

    Returns:
        rho in [-1, 1], one per run.
    """
    x, y = _ranks(gdp[..., counted]), _ranks(core_pct[..., counted])
    x = x - x.mean(axis=-1, keepdims=True)
    y = y - y.mean(axis=-1, keepdims=True)
    norm = np.sqrt((x * x).sum(axis=-1) * (y * y).sum(axis=-1))
    return np.where(norm > 0, (x * y).sum(axis=-1) / np.where(norm > 0, norm, 1.0), 0.0)
