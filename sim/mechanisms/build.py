"""Mechanism 4: what each ally orders with its equipment budget (DOMAIN §3, §6)."""

from __future__ import annotations

import numpy as np

from sim.arrays import sum_last


def allocate_orders(budget, position, targets, profile, focus):
    """Split the equipment budget across the capability categories by their shortfall.

    g_c = max(0, 1 - P_c / T_c);   w_c = p_c (1 + phi g_c);   O_c = B w_c / sum_c w_c

    P_c is the ally's position in the category: stock plus everything on order, so it does not
    order twice for one gap. p_c is its priority profile (by default the requirement's weights),
    phi how strongly it steers money to its largest gaps.

    Args:
        budget: B, the equipment budget (USD bn).
        position: P_c, stock + pipeline + backlog; categories last.
        targets: T_c.
        profile: p_c, non-negative weights.
        focus: phi >= 0.

    Returns:
        O_c (USD bn), summing to B.
    """
    has = targets > 0
    gap = np.divide(position, np.where(has, targets, 1.0))  # in place from here: one array
    gap = np.where(has, np.subtract(1.0, gap, out=gap), 0.0)
    weights = np.multiply(focus, np.maximum(0.0, gap, out=gap), out=gap)
    weights = np.multiply(profile, np.add(1.0, weights, out=weights), out=weights)
    orders = np.multiply(np.asarray(budget)[..., None], weights)
    return np.divide(orders, sum_last(weights)[..., None], out=orders)
