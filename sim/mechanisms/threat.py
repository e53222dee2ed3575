"""Mechanism 1: the threat the allies face and how each perceives it (DOMAIN §4.3, §5)."""

from __future__ import annotations

import numpy as np


def threat_proximity(
    distance_km,
    reach_km: float,
    near_km: float,
    land_border=0.0,
    sea_coast=0.0,
    border_exposure: float = 0.0,
    sea_exposure: float = 0.0,
):
    """Threat proximity of an ally: its capital's distance, a land border and a coast.

    phi_i = clip(ln(reach / d_i) / ln(reach / near) + b B_i + c C_i, 0, 1)

    Christie (2019) finds European burdens rose after 2014 the more the closer the capital is to
    Russian forces, "and particularly so" with a land border. Across 29 European allies (2026
    edition) the 2014-2025 rise is 3.50 - 0.384 ln(km) + 0.50 B + 0.19 C pp (R^2 = 0.65; B a
    land border with Russia or Belarus, C a Baltic or Black Sea coast; own calc, DOMAIN §5): the
    distance term is that line scaled to 1 at ``near_km`` and 0 at ``reach_km``; b and c are the
    border and coast coefficients in the same units. Norway, 783 km from Oslo to Russia, borders
    it in the north.

    Args:
        distance_km: Capital-to-Russia-or-Belarus distance (km).
        reach_km: Distance at which the distance term falls to 0 (km).
        near_km: Distance at which the distance term reaches 1 (km).
        land_border: B_i, 1 for a land border with Russia or Belarus.
        sea_coast: C_i, 1 for a Baltic or Black Sea coast.
        border_exposure: b.
        sea_exposure: c.

    Returns:
        Proximity in [0, 1].
    """
    d = np.maximum(distance_km, 1.0)
    distance = np.log(reach_km / d) / np.log(reach_km / near_km)
    return np.clip(
        np.clip(distance, 0.0, None) + border_exposure * land_border + sea_exposure * sea_coast,
        0.0,
        1.0,
    )


def threat_level(path_value, deviation_prev, innovation, persistence, noise_sd, scale):
    """Alliance-wide threat: a scenario path plus a persistent AR(1) deviation.

    x_t = rho * x_{t-1} + sigma * eps_t;   theta_t = max(0, s * path_t + x_t)

    Args:
        path_value: The scenario's threat path in year t (1 = the 2022-25 level).
        deviation_prev: Last year's deviation x_{t-1}.
        innovation: Standard normal draw eps_t.
        persistence: rho, in [0, 1).
        noise_sd: sigma.
        scale: s, multiplies the path.

    Returns:
        (theta_t, x_t).
    """
    deviation = persistence * deviation_prev + noise_sd * innovation
    return np.maximum(0.0, scale * path_value + deviation), deviation


def adversary_effort(effort_prev, capability_ratio, response, fatigue, effort_cap):
    """Adversary effort with Richardson dynamics, limited by its economy.

    y_t = clip(y_{t-1} + k (C_{t-1}/C_0 - 1) - a (y_{t-1} - 1), 0, y_max)

    The discrete Richardson equation X_{t+1} = X_t + k Y_t - a X_t + g (DOMAIN §4.3) with the
    grievance g = a - k chosen so the start (y = 1, C = C_0) is an equilibrium: the adversary
    arms when allied capability C grows and relaxes by fatigue otherwise.

    Args:
        effort_prev: Last year's effort y (1 = start level).
        capability_ratio: Allied capability relative to the start, C_{t-1}/C_0.
        response: k, fear coefficient (1/yr).
        fatigue: a, fatigue coefficient (1/yr).
        effort_cap: y_max, the most effort its economy sustains.

    Returns:
        Effort y_t.
    """
    step = response * (capability_ratio - 1.0) - fatigue * (effort_prev - 1.0)
    return np.clip(effort_prev + step, 0.0, effort_cap)


def perceived_threat(theta, proximity, retrenchment, gain):
    """Threat as one ally perceives it.

    theta_i = theta * phi_i * (1 + g * R)

    Allies feel more exposed when the US retrenches from Europe (R in [0, 1]).

    Args:
        theta: Alliance-wide threat.
        proximity: phi_i from ``threat_proximity``.
        retrenchment: US retrenchment R.
        gain: g, rise of perceived threat per unit of retrenchment.

    Returns:
        Perceived threat.
    """
    return theta * proximity * (1.0 + gain * retrenchment)
