"""Random shocks of one run, drawn up front from the run's own generator."""

from __future__ import annotations

from collections.abc import Sequence
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
    return _split(_draws(rng, n_years, n_allies), n_allies)


def _draws(rng: np.random.Generator, n_years: int, n_allies: int) -> np.ndarray:
    """Every draw of one run: years x (threat, spending per ally, GDP per ally)."""
    return rng.standard_normal((n_years, 1 + 2 * n_allies))


def _split(z: np.ndarray, n_allies: int) -> Shocks:
    """The shocks in draws laid out as ``_draws``' (with any leading axes)."""
    return Shocks(threat=z[..., 0], spending=z[..., 1 : 1 + n_allies], gdp=z[..., 1 + n_allies :])


def stack_shocks(seeds: Sequence[int], n_years: int, n_allies: int) -> Shocks:
    """Every run's shocks, each drawn by ``draw_shocks`` from its own seed, stacked runs first.

    Run r sees exactly the numbers ``AllianceModel(rng=seeds[r])`` draws.
    """
    z = np.stack([_draws(np.random.default_rng(seed), n_years, n_allies) for seed in seeds])
    return _split(z, n_allies)
