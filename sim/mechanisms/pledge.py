"""Pledges and demands: the paths allies promise (or are told) to follow (DOMAIN §1-2)."""

from __future__ import annotations

import numpy as np


def pledge_path(year, start_year, start_value, target, target_year):
    """A credible incremental path from the start-year share to a target.

    P(t) = b_0 + max(0, T - b_0) * min(1, (t - t_0) / (t_T - t_0))

    Linear from the ally's own start share b_0 to the target T by the target year, held after
    it (The Hague: "annual plans showing a credible, incremental path"). An ally already at or
    above the target has its own share as its path: a pledge never asks for a cut.

    Args:
        year: t.
        start_year: t_0, the year the path starts from.
        start_value: b_0 (% GDP).
        target: T (% GDP).
        target_year: t_T.

    Returns:
        Path value in year t (% GDP).
    """
    span = target_year - start_year  # a deadline moved per run is a (runs, 1) array
    span = np.maximum(span, 1) if np.ndim(span) else max(span, 1)
    frac = (year - start_year) / span
    frac = np.clip(frac, 0.0, 1.0) if np.ndim(frac) else min(max(frac, 0.0), 1.0)
    return start_value + np.maximum(0.0, target - start_value) * frac


def redesigned_goal(target, target_year, scale, delay):
    """A pledge or demand as a policy lever redesigns it: its level scaled, its deadline moved.

    T' = k T,   t'_T = t_T + d

    The level and the deadline of a spending goal are negotiated (DOMAIN §1: Rutte's draft set
    2032 for 3.5% core, Italy, the UK and others won 2035; the White House insisted every ally
    reach 5%), so a policy search may set them: k = 1 and d = 0 leave the goal as agreed.

    Args:
        target: T, the agreed target (% GDP; one value or one per ally).
        target_year: t_T, the agreed deadline.
        scale: k, the multiplier of the target.
        delay: d, years the deadline is moved (negative: earlier).

    Returns:
        (T', t'_T).
    """
    return target * scale, target_year + delay


def review_factor(theta, theta_ref, elasticity, max_change):
    """Revision of the pledge and targets at a scheduled review (The Hague: 2029).

    f = clip((theta / theta_ref) ** e, 1 - m, 1 + m)     (f = 1 when theta_ref = 0)

    "The trajectory and balance of spending ... will be reviewed in 2029, in light of the
    strategic environment" (DOMAIN §1): a higher threat raises what is asked, a lower one eases it.

    Args:
        theta: Threat at the review.
        theta_ref: Threat when the pledge was made.
        elasticity: e.
        max_change: m, the largest revision either way (a review re-plans, it does not scrap).

    Returns:
        Factor applied to the core pledge and the capability targets.
    """
    safe_ref = np.where(theta_ref > 0, theta_ref, 1.0)
    with np.errstate(over="ignore"):  # a tiny theta_ref overflows to inf, clipped below
        ratio = np.maximum(theta, 0.0) / safe_ref
        factor = np.where(theta_ref > 0, ratio**elasticity, 1.0)
    return np.clip(factor, 1.0 - max_change, 1.0 + max_change)
