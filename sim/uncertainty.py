"""What a forecast's bands are drawn from: random shocks alone, or shocks and the posterior.

With ``shocks`` every run uses the scenario's parameters (the calibrated point values unless the
scenario or ``--set`` says otherwise) and differs only in its random shocks. With ``posterior``
run r with seed s also takes the parameter values of posterior draw ``sim.posterior.draw(post,
[s])``: a draw depends on the posterior and the seed alone, so (scenario, seed, uncertainty)
still fixes a run whatever the engine, chunking or number of workers. A draw replaces only the
parameters the scenario leaves at their calibrated defaults: a value a scenario file or ``--set``
chose is the user's and stays.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from sim.parameters import DEFAULTS
from sim.posterior import Posterior, draw, posterior_file, read_posterior
from sim.scenario import Scenario

UNCERTAINTY = ("shocks", "posterior")
"""The sources of a forecast's spread (``--uncertainty``)."""


def resolve(
    uncertainty: str | None, posterior: Posterior | None = None
) -> tuple[str, Posterior | None]:
    """The uncertainty to use and its posterior (None with shocks).

    Args:
        uncertainty: ``shocks``, ``posterior`` or None for the default: ``posterior`` when
            ``scenarios/posterior.toml`` exists, else ``shocks``.
        posterior: The posterior to use instead of the project's file.

    Raises:
        PosteriorFileError: The posterior is asked for (or the default) but its file is
            unusable, or is asked for and there is none.
        ValueError: An unknown ``uncertainty``, or a ``posterior`` given with shocks.
    """
    if uncertainty not in (None, *UNCERTAINTY):
        raise ValueError(f"uncertainty must be one of {UNCERTAINTY}, got {uncertainty!r}")
    if uncertainty == "shocks":
        if posterior is not None:
            raise ValueError("a posterior was given with uncertainty 'shocks'")
        return "shocks", None
    if posterior is not None:
        return "posterior", posterior
    if uncertainty is None and not posterior_file().exists():
        return "shocks", None
    return "posterior", read_posterior()


def fingerprint(posterior: Posterior | None) -> str | None:
    """A short hash of a posterior's draws and weights (None for shocks), for batch manifests."""
    if posterior is None:
        return None
    digest = hashlib.sha256(repr(posterior.names).encode())
    digest.update(np.ascontiguousarray(posterior.samples).tobytes())
    digest.update(np.ascontiguousarray(posterior.weights).tobytes())
    return digest.hexdigest()[:16]


def with_draw(scenario: Scenario, posterior: Posterior, index: int) -> Scenario:
    """``scenario`` with draw ``index``'s values for the parameters it leaves at their defaults."""
    values = posterior.values(index)
    kept = {n: v for n, v in values.items() if scenario.parameters[n] == DEFAULTS[n]}
    return scenario.with_parameters(**kept)


def run_scenarios(
    scenario: Scenario, seeds: Sequence[int], posterior: Posterior | None
) -> tuple[list[Scenario], np.ndarray | None]:
    """Each run's scenario, and the posterior draw each run took (None with shocks alone).

    Runs that take the same draw share one ``Scenario`` object.
    """
    if posterior is None:
        return [scenario] * len(seeds), None
    draws = draw(posterior, seeds)
    made = {int(d): with_draw(scenario, posterior, int(d)) for d in np.unique(draws)}
    return [made[int(d)] for d in draws], draws
