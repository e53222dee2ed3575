"""Mechanism 2: US pressure on lagging allies, and retrenchment (DOMAIN §1, §5)."""

from __future__ import annotations

import numpy as np


def lagging_share(
    total_pct,
    demanded_pct,
    tolerance_pp,
    counted,
    capability_weight=0.0,
    shortfall=0.0,
    allowed_shortfall=0.0,
):
    """Share of allies the US counts as lagging behind its demand.

    L = sum_{i counted} [(1 - w) 1(b_i < D_i - tol) + w 1(G_i > G^D_i)] / #{i counted}

    With w = 0 the US judges spending: an ally lags when its total share b_i is below the
    demanded path D_i by more than the tolerance. With w > 0 it judges capability as well, in
    that share: an ally lags when its capability-target shortfall G_i exceeds the one the
    demanded capability path allows, G^D_i (``sim.dynamics.us_capability_demand``). The Hague
    ties the 3.5% to meeting the capability targets, and Spain argued that 2.1% meets its own
    (DOMAIN §1): a US that judges capability presses a different set of allies.

    Args:
        total_pct: Each ally's total (core + related) spending, % GDP; allies on the last axis.
        demanded_pct: The demanded total for each ally this year (% GDP).
        tolerance_pp: Margin below the path still accepted (pp).
        counted: Which allies count (True for allies with forces other than the US).
        capability_weight: w in [0, 1], the share of the judgement on capability.
        shortfall: G_i, each ally's capability shortfall (1 - fulfilment).
        allowed_shortfall: G^D_i, the shortfall the demanded capability path allows this year.

    Returns:
        L in [0, 1], one per run.
    """
    behind = (total_pct < demanded_pct - tolerance_pp) & counted
    if np.ndim(capability_weight) == 0 and capability_weight == 0:  # spending alone
        return behind.sum(axis=-1) / np.maximum(np.sum(counted, axis=-1), 1)
    short = (np.asarray(shortfall) > allowed_shortfall) & counted
    judged = (1.0 - capability_weight) * behind + capability_weight * short
    return judged.sum(axis=-1) / np.maximum(np.sum(counted, axis=-1), 1)


def start_lagging(pressure_start, strength):
    """Share of laggards the US reads in the start year: the one its stated pressure implies.

    L_0 = min(1, U_0 / s)   (0 when s = 0)

    A demanded path starts at each ally's own start share, so nobody is behind it in the start
    year; reading L_0 = 0 there would halve the scenario's start pressure in the first year
    (0.8 -> 0.4 under The Hague). The scenario's U_0 is the US's stance toward the allies as they
    stand (DOMAIN §1: the US demanded 5% of every ally in 2025), so the first year keeps it.

    Args:
        pressure_start: U_0.
        strength: s.

    Returns:
        L_0 in [0, 1].
    """
    return np.where(strength > 0, np.minimum(1.0, pressure_start / np.maximum(strength, 1e-12)), 0)


def us_pressure(pressure_prev, lagging, strength, adjust):
    """US pressure moves toward its stance times the share of laggards.

    U_t = U_{t-1} + a * (s * L_{t-1} - U_{t-1}),   U in [0, 1]

    Washington raises pressure when many allies are behind the demanded path and relaxes it when
    they comply (RAND via Cato: threats to withdraw troops were among the most effective levers;
    War on the Rocks 2024: negotiated pledges raise spending).

    Args:
        pressure_prev: U_{t-1}.
        lagging: L_{t-1}, from ``lagging_share``.
        strength: s, the pressure applied when every ally lags.
        adjust: a, share of the gap closed per year.

    Returns:
        U_t.
    """
    return np.clip(pressure_prev + adjust * (strength * lagging - pressure_prev), 0.0, 1.0)


def us_retrenchment(retrench_prev, pressure_prev, lagging, threshold, rate, floor, active=True):
    """US retrenchment from Europe after sustained high pressure with laggards.

    R_t = max(F_t, min(1, R_{t-1} + a_t r max(0, U_{t-1} - u*) L_{t-1}))

    Retrenchment never reverses within a run; a scenario may impose a floor path F_t. a_t is 1
    once the US's withdrawal threat may be carried out (``retrenchment_start_year``: a deadline
    it announces, as Congress's threats to withdraw troops did, DOMAIN §5) and 0 before.

    Args:
        retrench_prev: R_{t-1} in [0, 1] (share of US capability withdrawn from Europe).
        pressure_prev: U_{t-1}.
        lagging: L_{t-1}.
        threshold: u*, pressure above which retrenchment builds.
        rate: r (1/yr).
        floor: F_t, the scenario's imposed retrenchment.
        active: a_t, whether retrenchment may build this year (True or False, per run).

    Returns:
        R_t.
    """
    built = retrench_prev + rate * active * np.maximum(0.0, pressure_prev - threshold) * lagging
    return np.maximum(floor, np.minimum(1.0, built))
