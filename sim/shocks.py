"""Random shocks of one run, drawn up front from the run's own generator."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Shocks:
    """Standard normal draws for every stochastic term of one run.

    Attributes:
        threat: Threat innovations, one per simulated year.
        spending: Core-share implementation errors, years x allies.
        gdp: GDP growth innovations, years x allies.
    """

    threat: np.ndarray
    spending: np.ndarray
    gdp: np.ndarray


def draw_shocks(rng: np.random.Generator, n_years: int, n_allies: int) -> Shocks:
    """Draw a run's shocks in one call, so any engine seeded alike sees the same numbers.

    Args:
        rng: The run's generator (``numpy.random.default_rng(seed)``).
        n_years: Simulated years (the start year is observed, not simulated).
        n_allies: Number of allies.

    Returns:
        The run's shocks.
    """
    z = rng.standard_normal((n_years, 1 + 2 * n_allies))
    return Shocks(threat=z[:, 0], spending=z[:, 1 : 1 + n_allies], gdp=z[:, 1 + n_allies :])
