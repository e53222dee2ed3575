"""Seeds of every run, and the random shocks of one run drawn up front from its own generator.

One root seed per batch (or sweep). Scenario (or design point) i gets
``SeedSequence(seed).spawn(n)[i]`` and its replication r gets that sequence's r-th child, so
adding scenarios or replications never changes the seeds of existing runs.
"""

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


def run_seeds(seed: int, n_scenarios: int, replications: int) -> list[list[tuple[int, tuple]]]:
    """(seed, spawn key) of every run, by scenario then replication.

    Args:
        seed: The batch's root seed.
        n_scenarios: Scenarios in the batch.
        replications: Runs per scenario.

    Returns:
        ``out[i][r]`` for scenario i, replication r.
    """
    return [point_seeds(seed, i, replications) for i in range(n_scenarios)]


def point_seeds(seed: int, index: int, replications: int) -> list[tuple[int, tuple]]:
    """(seed, spawn key) of each replication of scenario (or design point) ``index``.

    Its ``SeedSequence`` is ``SeedSequence(seed).spawn(n)[index]`` for any n > ``index``
    (entropy ``seed``, spawn key ``(index,)``), so a worker can make a point's seeds alone.
    """
    child = np.random.SeedSequence(seed, spawn_key=(index,))
    runs = child.spawn(replications)
    return [(int(ss.generate_state(1, np.uint64)[0] >> 1), ss.spawn_key) for ss in runs]


def replication_seeds(seed: int, index: int, replications: int) -> list[int]:
    """The seeds alone of ``point_seeds``: one per replication of scenario or point ``index``."""
    return [run_seed for run_seed, _ in point_seeds(seed, index, replications)]
