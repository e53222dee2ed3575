"""The exogenous shocks' volatility, estimated from their own history up to a year.

Besides the implementation noise (``sim.noise_fit``), two exogenous shocks spread a forecast:
the threat's yearly innovation (``threat_noise_sd``, mechanism 1) and real GDP growth's
deviation from its trend in projected years (``gdp_growth_noise_sd``, mechanism 8). Their
documented values are assumptions (0.05 threat units, 1% a year). Here each is the root mean
square of what its own history shows up to ``as_of``, the way the model uses it:

- **Threat:** sigma_T = sqrt(mean_t (P_t - P_{t-1})^2) over the hindcast's threat path from its
  first year to ``as_of`` (``wales-2014``: 0.2 in 2013, 0.5 from 2014, Crimea; 1.0 from 2022, the
  full-scale invasion; DOMAIN §4.3). Each year's change counts as one innovation of the threat
  process; the steps of 2014 and 2022 are its draws, the calm years its zeros. The deviation
  still reverts at ``threat_persistence`` (an assumption), while the two steps persisted.
- **GDP:** sigma_g = sqrt(mean_{i,t} (g_it - gbar_i)^2) over every ally and the years
  2015-``as_of``, g_it the observed real growth, gbar_i the trend growth a forecast made at
  ``as_of`` projects (``trend_growth`` of the panel known then): the forecast's own growth error
  had the past repeated itself. Up to 2019 it is about 1%, the assumption; with 2020 in the
  panel, about 3.5%.

The same rule sets them per origin in the rolling-origin check (``sim.rolling``: only what was
known at the origin) and for the calibrated defaults (``alliance calibrate``: as of 2022, the
training years' end, like the implementation noise fitted after them). The mean-fitting stages
keep them at their priors (``MEAN_FIT``). They were made data-based after the rolling-origin
check showed most of its misses above the 90% band (its report counts them, docs/validation.md).
"""

from __future__ import annotations

import numpy as np

from sim.data import DEFAULT_EDITION, FIRST_YEAR, load_reference, observed_growth, trend_growth
from sim.parameters import PARAMETERS
from sim.scenario import load_scenario
from sim.validation import HINDCAST

THREAT, GDP = "threat_noise_sd", "gdp_growth_noise_sd"


def threat_volatility(as_of: int) -> float:
    """sigma_T: the root mean square of the hindcast threat path's yearly changes up to ``as_of``.

    Raises:
        ValueError: ``as_of`` before the path's second year (no change to measure).
    """
    spec = load_scenario(HINDCAST)
    first = min(spec.paths["threat"])
    if as_of <= first:
        raise ValueError(f"the threat path starts in {first}: no change up to {as_of}")
    path = [spec.path_value("threat", year) for year in range(first, as_of + 1)]
    return float(np.sqrt(np.mean(np.diff(path) ** 2)))


def gdp_volatility(as_of: int, data_edition: str = DEFAULT_EDITION) -> float:
    """sigma_g: real growth's root mean square deviation from trend, every ally, 2015-``as_of``.

    Raises:
        ValueError: ``as_of`` outside 2015-2025.
    """
    from sim.rolling import known_reference  # sim.rolling imports this module

    if not FIRST_YEAR < as_of <= 2025:
        raise ValueError(f"as_of {as_of} outside {FIRST_YEAR + 1}-2025")
    known = known_reference(load_reference(edition=data_edition), as_of)
    growth = observed_growth(known).loc[:, :as_of]
    deviation = growth.sub(trend_growth(known), axis=0).to_numpy(dtype=float)
    return float(np.sqrt(np.nanmean(deviation**2)))


def shock_volatility(as_of: int, data_edition: str = DEFAULT_EDITION) -> dict[str, float]:
    """Both volatilities as of ``as_of``, as parameter values (4 decimals).

    Raises:
        ValueError: An estimate outside its parameter's range (named), not clamped into it.
    """
    values = {THREAT: threat_volatility(as_of), GDP: gdp_volatility(as_of, data_edition)}
    for name, value in values.items():
        problem = PARAMETERS[name].check(round(value, 4))
        if problem:
            raise ValueError(f"{name} estimated from the record up to {as_of}: {problem}")
    return {name: round(value, 4) for name, value in values.items()}
