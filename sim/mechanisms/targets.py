"""Mechanism 7: capability targets, apportioned by fair share, and their fulfilment (DOMAIN §3)."""

from __future__ import annotations

import numpy as np

from sim.arrays import sum_last


def apportion_targets(requirement, gdp, counted):
    """Each ally's capability targets: its fair share (by GDP) of the alliance requirement.

    T_ic = R_c * Y_i / sum_{j counted} Y_j

    The NDPP "apportions requirements to each Ally as Capability Targets on the basis of a fair
    share of the overall requirement" (DOMAIN §3). Allies without forces get no targets.

    Args:
        requirement: R_c per category (capability units = USD bn of equipment); categories last.
        gdp: Y_i (USD bn); allies last.
        counted: Which allies get targets.

    Returns:
        T_ic, shape (..., allies, categories).
    """
    y = np.where(counted, gdp, 0.0)
    share = y / y.sum(axis=-1, keepdims=True)
    return share[..., :, None] * np.expand_dims(requirement, -2)


def initial_stock(targets, shortfall):
    """Start-year capability stock: the targets less the observed shortfall.

    K_ic = (1 - s_ic) T_ic

    Args:
        targets: T_ic before any uplift.
        shortfall: s_ic, per category (``category_shortfalls``: a value-weighted mean of 30%,
            "a gap of 30%" on the old targets, DOMAIN §3), categories last like ``targets``.

    Returns:
        K_ic.
    """
    return (1.0 - np.asarray(shortfall)) * targets


def fulfilment(stock, targets):
    """Share of the targets met, per category and overall.

    f_ic = min(1, K_ic / T_ic);   f_i = sum_c min(K_ic, T_ic) / sum_c T_ic

    A surplus in one category does not make up for a gap in another. Where there is no target
    (an ally without forces) fulfilment is 1 by convention.

    Args:
        stock: K_ic.
        targets: T_ic.

    Returns:
        (f_ic, f_i).
    """
    met = np.minimum(stock, targets)
    overall = _overall(met, targets)
    has = targets > 0
    per_cat = np.where(has, np.divide(met, np.where(has, targets, 1.0), out=met), 1.0)
    return per_cat, overall


def overall_fulfilment(stock, targets):
    """The overall share of the targets met, f_i, alone (``fulfilment``'s second value)."""
    return _overall(np.minimum(stock, targets), targets)


def _overall(met, targets):
    """f_i = sum_c min(K_ic, T_ic) / sum_c T_ic (1 without targets), from min(K_ic, T_ic)."""
    total = sum_last(targets)
    has = total > 0
    return np.where(has, sum_last(met) / np.where(has, total, 1.0), 1.0)


def capability_gap(stock, targets, commitment):
    """The alliance's capability gap: the share of all targets not met.

    gap = 1 - sum_ic min(c_i K_ic, T_ic) / sum_ic T_ic

    c_i < 1 for the US when it retrenches: withdrawn forces no longer fill NATO's targets.

    Args:
        stock: K_ic; allies and categories on the last two axes.
        targets: T_ic.
        commitment: c_i per ally.

    Returns:
        The gap in [0, 1], one per run.
    """
    met = np.multiply(np.asarray(commitment)[..., None], stock)
    met = np.minimum(met, targets, out=met)
    return 1.0 - met.sum(axis=(-2, -1)) / targets.sum(axis=(-2, -1))
