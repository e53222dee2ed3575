"""Mechanism 3: how much each ally spends, core and defence-related (DOMAIN §4.1-4.4, §5)."""

from __future__ import annotations

import numpy as np


def fiscal_space(debt_pct, threshold_pct, ceiling_pct, floor):
    """Fiscal space from government debt.

    F_i = clip(1 - (debt_i - d_0) / (d_max - d_0), F_min, 1)

    Fiscal capacity (headroom to EU debt rules) explains changes in defence burden better than
    growth (Christie 2019); tighter fiscal rules cut defence spending (Becker 2019).

    Args:
        debt_pct: General government gross debt (% GDP).
        threshold_pct: d_0, debt with full space (Maastricht's 60%).
        ceiling_pct: d_max, debt at which space reaches its floor.
        floor: F_min.

    Returns:
        F_i in [F_min, 1].
    """
    return np.clip(1.0 - (debt_pct - threshold_pct) / (ceiling_pct - threshold_pct), floor, 1.0)


def spill_in(spending_usd, gdp_usd, commitment):
    """Allied burden available to each ally: the others' spending over the others' GDP.

    S_i = 100 * (sum_j c_j q_j - c_i q_i) / (sum_j Y_j - Y_i)

    The spill-in of the public good "alliance security" (Olson & Zeckhauser 1966; Sandler 1993);
    c_j < 1 for the US when it retrenches, so its forces count less for Europe.

    Args:
        spending_usd: Core spending q_j (USD bn); allies on the last axis.
        gdp_usd: GDP Y_j (USD bn).
        commitment: c_j in [0, 1].

    Returns:
        S_i (% GDP), one per ally.
    """
    committed = commitment * spending_usd
    others = committed.sum(axis=-1, keepdims=True) - committed
    others_gdp = gdp_usd.sum(axis=-1, keepdims=True) - gdp_usd
    return 100.0 * others / others_gdp


def free_riding_weight(proximity, gdp_share, strength):
    """How strongly an ally free-rides on allied spending.

    lambda_i = lambda * (1 - phi_i) * (1 - y_i)

    Small allies rely on large ones (Olson & Zeckhauser's "exploitation of the great by the
    small", share of alliance GDP y_i); a front-line state's forces are largely a private good
    (territorial defence), so its slope is near 0 (Sandler's joint products; George & Sandler
    2018 find free riding in all periods since 1968).

    Args:
        proximity: phi_i in [0, 1].
        gdp_share: y_i, the ally's share of alliance GDP.
        strength: lambda, the slope for a small, distant ally.

    Returns:
        lambda_i in [0, lambda].
    """
    return strength * (1.0 - proximity) * (1.0 - gdp_share)


def desired_core_share(
    anchor,
    perceived_threat,
    threat_response,
    shortfall,
    shortfall_ref,
    capability_response,
    spill,
    spill_ref,
    free_riding,
    mean_burden,
    mean_burden_ref,
    conformity,
    pledge_path,
    pledge_commitment,
    demand_path,
    pressure,
    pressure_response,
    consolidation=0.0,
    rivalry=0.0,
    capability_weight=0.0,
    allowed_shortfall=0.0,
):
    """The core share (% GDP) an ally wants this year.

    n_i = max(h_i, k_T T_i + V_i) + k_C max(0, G_i - G_i0) - lambda_i (S_i - S_i0)
          + w (m - m_0) - K_i
    b*_i = n_i + nu * max(0, P_i - n_i) + pi * U * max(0, D_i - n_i)             (omega = 0)
    b*_i = n_i + nu * max(0, P_i - n_i)
           + pi * U * [(1 - omega) max(0, D_i - n_i) + omega k_C max(0, G_i - G^D_i)]

    A linearisation of the reduced-form demand q_i(I, S, T, U) of the joint-product model
    (Sandler; DOMAIN §4.2) and the composite rule of DOMAIN §4.4 around the ally's habit h_i: its
    start share, or the highest level its national plan has reached (a legislated budget becomes
    the new baseline). Perceived threat T sets a security requirement k_T T: an ally below it
    rises to it, one above it keeps its habit (Christie 2019: the nearer Russia, the larger the
    rise; after 2014 Lithuania rose from 0.9% to 2% while Estonia, already at 1.9%, stayed). A
    documented secondary rivalry adds V_i to that requirement, whatever Russia does (Greece spends
    against Turkiye: Oneal 1990; Kollias & Makrydakis 1997; ``scenarios/data/rivalries.csv``). A
    capability-target shortfall G above the one before the targets were raised adds to the
    share; meeting the targets takes nothing away (the Hague's 3.5% is a floor, "at least", and
    Wales asked allies to "halt any decline"). The share rises with the alliance's mean burden m
    (peer conformity, Odehnal et al. 2021), falls with allied spill-in S (free riding) and with
    a fiscal consolidation K after a recession (``consolidation``). It is then pulled toward its
    own pledge path P by its commitment nu, and toward the US-demanded path D in proportion to US
    pressure U. When the US aims a share omega of its pressure at capability-target shortfalls
    (``us_pressure_capability_weight``; The Hague ties the 3.5% to meeting the targets, DOMAIN
    §1), that share presses the ally to close its shortfall beyond the one the demanded
    capability path allows, G^D_i, valued as the ally values a shortfall (k_C pp per unit).

    Args:
        anchor: h_i, the habit (% GDP).
        perceived_threat: T_i this year.
        threat_response: k_T (% GDP required per unit of perceived threat).
        shortfall: G_i, last year's capability shortfall (1 - fulfilment).
        shortfall_ref: G_i0, the shortfall before the targets were raised.
        capability_response: k_C (pp per unit of shortfall).
        spill: S_i, last year's spill-in (% GDP).
        spill_ref: S_i0, at the start.
        free_riding: lambda_i from ``free_riding_weight``.
        mean_burden: m, last year's mean core share of allies with forces.
        mean_burden_ref: m_0, at the start.
        conformity: w.
        pledge_path: P_i this year (% GDP).
        pledge_commitment: nu in [0, 1].
        demand_path: D_i, the US-demanded core share this year (% GDP).
        pressure: U in [0, 1].
        pressure_response: pi in [0, 1].
        consolidation: K_i, pp of GDP (``consolidation_cut``).
        rivalry: V_i, pp of GDP (0 without a documented rival).
        capability_weight: omega in [0, 1], the share of US pressure aimed at capability.
        allowed_shortfall: G^D_i, the shortfall the demanded capability path allows this year.

    Returns:
        b*_i (% GDP), not yet bounded.
    """
    natural = (
        np.maximum(anchor, threat_response * perceived_threat + rivalry)
        + capability_response * np.maximum(0.0, shortfall - shortfall_ref)
        - free_riding * (spill - spill_ref)
        + conformity * (mean_burden - mean_burden_ref)
        - consolidation
    )
    pressed = np.maximum(0.0, demand_path - natural)
    if np.ndim(capability_weight) or capability_weight != 0:  # pressure aimed at capability too
        capability_gap = capability_response * np.maximum(0.0, shortfall - allowed_shortfall)
        pressed = (1.0 - capability_weight) * pressed + capability_weight * capability_gap
    return (
        natural
        + pledge_commitment * np.maximum(0.0, pledge_path - natural)
        + pressure_response * pressure * pressed
    )


def consolidation_cut(output_loss_pct, response):
    """Fiscal consolidation after a recession: the cut it brings to the desired core share.

    K_i = c * max(0, L_{t-l})

    After the 2009 recession European allies cut defence budgets in 2010-2013 as they
    consolidated (DOMAIN §5: fiscal space drives changes in defence burdens, Christie 2019;
    tighter fiscal rules cut defence, Becker 2019). L is the percent of GDP a scenario's recession
    has cost by year t - l (``recession_loss``), l the lag before consolidation. The cut lowers
    the desired share, and its yearly increase is taken from the budget in the year it comes
    (consolidation packages cut budgets at once, as in 2010).

    Args:
        output_loss_pct: L_{t-l}, % of GDP lost to the recession.
        response: c, pp of GDP per % of GDP lost.

    Returns:
        K_i (pp of GDP).
    """
    return response * np.maximum(0.0, output_loss_pct)


def plan_habit(start_share, plan_level):
    """The habit an ally's spending returns to: its start share or its plan's highest level.

    h_i,t = max(b_i0, max_{s <= t} P^nat_i,s)

    A budget once legislated is the base of the next (incremental budgeting); beyond its plan's
    horizon an ally keeps the level it planned, not the one it started from.

    Args:
        start_share: b_i0 (% GDP).
        plan_level: The highest national-plan level reached so far (NaN without a plan).

    Returns:
        h_i,t (% GDP).
    """
    return np.where(np.isnan(plan_level), start_share, np.fmax(start_share, plan_level))


def committed_change(share_prev, plan, delivery, pledge, pressure, enforcement, overdue):
    """The change an ally has committed to this year: its national plan, or an overdue pledge.

    c = max(delta (P^nat_t - b_{t-1}), o e U max(0, P - b_{t-1}))   (NaN when neither applies)

    A national plan for the year (``sim.plans``: budget laws, ministries; DOMAIN §8) is delivered
    at a share delta of the announced change (NATO's current-year estimates against the outturn:
    77% of announced rises delivered in 2024; ``plan_delivery``). Once an agreed pledge's
    deadline has passed (o = 1), US pressure U enforces it: the shortfall against the pledge P
    closes at e U a year (2025, the year after the Wales deadline, under a US demand of 5%:
    Belgium, Spain, Portugal, Luxembourg, Italy and Canada announced 2% for the year).

    Args:
        share_prev: b_{t-1} (% GDP).
        plan: P^nat_t, the national plan for this year (% GDP, NaN without one).
        delivery: delta in [0, 1].
        pledge: P, the agreed pledge (% GDP).
        pressure: U in [0, 1].
        enforcement: e in [0, 1].
        overdue: o, whether the pledge's deadline has passed.

    Returns:
        c (pp), NaN when the ally has neither a plan for the year nor an overdue pledge.
    """
    planned = delivery * (plan - share_prev)
    if np.ndim(overdue) == 0 and not overdue:  # no enforcement anywhere: skip computing it
        return np.fmax(planned, np.nan)
    enforced = np.where(
        overdue, enforcement * pressure * np.maximum(0.0, pledge - share_prev), np.nan
    )
    return np.fmax(planned, enforced)


def adjust_core_share(share_prev, desired, speed, max_rise, max_cut, noise, cap, committed=np.nan):
    """This year's core share: its commitment or partial adjustment, bounded by fiscal space.

    step = max(c, a (b* - b_{t-1}))  with a commitment c (``committed_change``),
           a (b* - b_{t-1})           without one;
    b_t = clip(b_{t-1} + clip(step + e, -c_max, F_i r), 0, cap_i)

    An ally that has committed to a change this year (a national plan, an overdue pledge) makes
    it, unless its behavioural rule wants more. Without one, or beyond its plan's horizon,
    budgets move only part of the way to the desired share b* each year (partial adjustment,
    DOMAIN §4.4). The yearly rise is limited by fiscal space F_i times the largest rise r, cuts
    by c_max; e is the implementation error (planned and spent differ, e.g. Poland 2024). cap_i
    is a sovereign ceiling (Spain's declared 2.1%, DOMAIN §1) or the 15% modelling bound.

    Args:
        share_prev: b_{t-1} (% GDP).
        desired: b* from ``desired_core_share``.
        speed: a, in (0, 1].
        max_rise: F_i r, largest rise this year (pp).
        max_cut: c_max, largest cut (pp).
        noise: e, implementation error (pp).
        cap: cap_i (% GDP).
        committed: c from ``committed_change`` (pp, NaN without a commitment).

    Returns:
        b_t (% GDP).
    """
    behaviour = speed * (desired - share_prev)
    step = np.where(np.isnan(committed), behaviour, np.fmax(committed, behaviour))
    step = np.clip(step + noise, -max_cut, max_rise)
    return np.clip(share_prev + step, 0.0, cap)


def adjust_related_share(share_prev, path, speed, fiscal_space):
    """Defence-related spending (infrastructure, resilience, industry) toward its pledge path.

    r_t = r_{t-1} + F_i a (P^r_t - r_{t-1})

    The Hague's "up to 1.5%" basket follows its own, simpler path (DESIGN mechanism 3).

    Args:
        share_prev: r_{t-1} (% GDP).
        path: P^r_t, the related pledge path (% GDP).
        speed: a, in [0, 1].
        fiscal_space: F_i in [0, 1].

    Returns:
        r_t (% GDP).
    """
    return np.maximum(0.0, share_prev + fiscal_space * speed * (path - share_prev))
