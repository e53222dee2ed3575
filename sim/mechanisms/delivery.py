"""Mechanism 5: orders delivered through lead times and limited industrial capacity (DOMAIN §6)."""

from __future__ import annotations

import numpy as np


def advance_pipeline(pipeline, orders, lead_times):
    """Move the order pipeline one year on and book this year's orders.

    due = Q[..., 0];  Q' = shift(Q, -1);  Q'[..., c, L_c - 1] += O_c

    Q[..., c, k] holds the orders of category c that fall due in k + 1 years; an order placed
    now falls due after its category's lead time L_c (Patriot and IRIS-T 1-3 years, major
    platforms about 3, Kiel: delays of three years or more).

    Args:
        pipeline: Q, shape (..., categories, max lead time); moved on in place.
        orders: O_c, shape (..., categories).
        lead_times: L_c (years, >= 1), one per category.

    Returns:
        (due this year, a copy; Q', which is ``pipeline`` itself).
    """
    due = pipeline[..., 0].copy()
    for k in range(pipeline.shape[-1] - 1):  # year by year: each slice copied once, no overlap
        pipeline[..., k] = pipeline[..., k + 1]
    pipeline[..., -1] = 0.0
    for c, lead in enumerate(lead_times):
        pipeline[..., c, lead - 1] += orders[..., c]
    return due, pipeline


def delivery_fill(demand, capacity):
    """Share of what is due that industry can deliver this year, per category.

    phi_c = min(1, K^ind_c / sum_i (due_ic + backlog_ic))

    Capacity is alliance-wide ("Russia produces in three months what the whole of NATO produces
    in a year"); every ally waits in proportion when it binds.

    Args:
        demand: Alliance-wide due + backlog per category (USD bn).
        capacity: K^ind_c, deliverable value per year (USD bn).

    Returns:
        phi_c in [0, 1].
    """
    return np.where(demand > capacity, capacity / np.where(demand > 0, demand, 1.0), 1.0)


def receive(due, backlog, fill):
    """What an ally receives this year and what it keeps waiting for.

    d_ic = phi_c (due_ic + B_ic);   B'_ic = (1 - phi_c)(due_ic + B_ic)

    Args:
        due: Orders falling due this year.
        backlog: B_ic, earlier orders not yet delivered.
        fill: phi_c from ``delivery_fill``.

    Returns:
        (delivered, new backlog).
    """
    waiting = np.asarray(np.add(due, backlog))  # an array even for floats: updated in place
    delivered = np.multiply(fill, waiting)
    return delivered, np.subtract(waiting, delivered, out=waiting)


def ramp_capacity(capacity, demand, ramp_rate, decline_rate):
    """Industrial capacity follows the order book at a bounded rate.

    K'_c = K_c * clip(D_c / K_c, 1 - delta, 1 + g)

    Multi-year orders let producers expand: PAC-3 MSE output rose 20%/yr, 155 mm shells about
    doubled yearly for 2-3 years (DOMAIN §6); idle capacity shrinks slowly.

    Args:
        capacity: K_c (USD bn/yr).
        demand: D_c, this year's due + backlog (USD bn).
        ramp_rate: g, the largest yearly growth.
        decline_rate: delta, the largest yearly shrinkage.

    Returns:
        Next year's capacity.
    """
    ratio = demand / np.where(capacity > 0, capacity, 1.0)
    return capacity * np.clip(ratio, 1.0 - decline_rate, 1.0 + ramp_rate)


def depreciate(stock, delivered, rate):
    """Capability stock after retirements and deliveries.

    K_t = (1 - delta) K_{t-1} + d_t

    Args:
        stock: K_{t-1}.
        delivered: d_t.
        rate: delta, share retired per year.

    Returns:
        K_t.
    """
    return (1.0 - rate) * stock + delivered
