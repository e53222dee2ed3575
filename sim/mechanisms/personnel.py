"""Mechanism 6: active personnel toward a goal, bounded by recruitment and budget (DOMAIN §6)."""

from __future__ import annotations

import numpy as np


def affordable_personnel(personnel_start, core_pct, core_start, equipment_share, equipment_start):
    """Headcount the non-equipment budget pays for.

    A_t = P_0 * b_t (1 - e_t) / (b_0 (1 - e_0))

    Pay per soldier grows with GDP, so the headcount a budget affords scales with the
    non-equipment share of GDP relative to the start year, when the observed force was paid for.

    Args:
        personnel_start: P_0 (thousands).
        core_pct: b_t (% GDP).
        core_start: b_0 (% GDP).
        equipment_share: e_t (fraction of core spending).
        equipment_start: e_0.

    Returns:
        A_t (thousands).
    """
    base = core_start * (1.0 - equipment_start)
    ratio = np.where(
        base > 0, core_pct * (1.0 - equipment_share) / np.where(base > 0, base, 1.0), 0
    )
    return personnel_start * ratio


def update_personnel(personnel_prev, goal, affordable, recruit_rate, attrition_max):
    """Active personnel next year.

    P_t = P_{t-1} + clip(min(P*, A_t) - P_{t-1}, -x P_{t-1}, r P_{t-1})

    Forces grow toward the goal P* (Germany: +50,000-60,000, DOMAIN §3) no faster than net
    recruitment allows (r: ~1.5%/yr today, 3-5%/yr with the new service; Poland's 8-10%/yr is
    the upper envelope) and only as far as the budget pays (A_t); unaffordable forces shrink by
    at most x per year through attrition.

    Args:
        personnel_prev: P_{t-1} (thousands).
        goal: P* (thousands).
        affordable: A_t (thousands).
        recruit_rate: r (1/yr).
        attrition_max: x (1/yr).

    Returns:
        P_t (thousands).
    """
    step = np.minimum(goal, affordable) - personnel_prev
    return personnel_prev + np.clip(
        step, -attrition_max * personnel_prev, recruit_rate * personnel_prev
    )
