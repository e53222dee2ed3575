"""Calibration: fit the free behavioural parameters to the 2015-2022 hindcast.

Differential evolution (``scipy.optimize.differential_evolution``) minimises the RMSE of the
hindcast's mean core % GDP against NATO's published panel over 2015-2022 only (the training
years; 2023-2024 are held out, and the 2025 step is a further check). Parameters are
alliance-wide: ally differences come only from observable attributes the mechanisms already use
(distance to Russia, a border, a coast, a documented rival, GDP, debt). The runs
use fixed seeds, so the objective is deterministic and a calibration is reproducible from its
command. The behavioural parameters are fitted with the implementation noise at its prior
(``MEAN_FIT``); the exogenous shocks' volatility is then set from their own history up to the
training years' end (``sim.shock_volatility``), and the noise is fitted, with them, to the fitted
model's 1-3 year forecast errors over the training years (``sim.noise_fit``): together they set
the forecasts' spread. The result is written to
``scenarios/calibration.toml``, which the parameter defaults read (``sim.parameters``).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from types import MappingProxyType

from sim.data import DEFAULT_EDITION, check_edition
from sim.executors import worker_init
from sim.noise_fit import NOISE, NoiseFit, fit_noise
from sim.parameters import MEAN_FIT, PARAMETERS, PRIORS, calibration_file
from sim.shock_volatility import shock_volatility
from sim.store import atomic_write
from sim.validation import (
    SEED,
    TEST,
    TRAIN,
    hindcast,
    hindcast_metrics,
    span,
    train_error_rmse,
)

FITTED: tuple[str, ...] = (
    "adjustment_speed",
    "threat_response_pp",
    "pledge_commitment",
    "us_pressure_response",
    "free_riding",
    "peer_conformity",
    "capability_response_pp",
    "fiscal_max_rise_pp",
    "fiscal_max_cut_pp",
    "fiscal_space_floor",
)
"""The free behavioural parameters of the spending choice (DOMAIN §5: the literature gives signs,
not portable elasticities). Sourced values (distances, lead times, Richardson coefficients,
debt thresholds) and scenario levers stay fixed."""


@dataclass(frozen=True)
class Calibration:
    """A finished calibration.

    Attributes:
        values: Fitted value of each parameter fitted.
        rmse_train_pp: Objective at the optimum (2015-2022).
        rmse_test_pp: The same fit on 2023-2024 (held out, never optimised).
        rmse_train_prior_pp: Objective at the documented prior values.
        evaluations: Objective evaluations.
        generations: Differential-evolution generations run.
        max_generations: The largest number allowed.
        population: Population size per parameter.
        replications: Runs averaged per evaluation.
        seed: Seed of the optimiser and root seed of the runs.
        data_edition: Edition of NATO's tables the hindcast started from and was fitted to.
        noise: The implementation noise fitted after the parameters (None: not fitted).
        shocks: The exogenous shocks' volatility (``shock_volatility``) the noise was fitted
            with (empty: not set).
    """

    values: dict[str, float]
    rmse_train_pp: float
    rmse_test_pp: float
    rmse_train_prior_pp: float
    evaluations: int
    generations: int
    max_generations: int
    population: int
    replications: int
    seed: int
    data_edition: str = DEFAULT_EDITION
    noise: NoiseFit | None = None
    shocks: dict[str, float] = field(default_factory=dict)

    @property
    def command(self) -> str:
        """The command that reproduces this calibration."""
        fit = "" if tuple(self.values) == FITTED else f" --fit {','.join(self.values)}"
        edition = (
            "" if self.data_edition == DEFAULT_EDITION else f" --data-edition {self.data_edition}"
        )
        return (
            f"alliance calibrate --replications {self.replications} --generations "
            f"{self.max_generations} --population {self.population} --seed {self.seed}{fit}"
            f"{edition}"
        )


def train_rmse(
    x: Sequence[float],
    names: Sequence[str],
    replications: int,
    seed: int,
    data_edition: str = DEFAULT_EDITION,
) -> float:
    """The objective: hindcast RMSE (pp) over 2015-2022 with parameters ``names`` set to ``x``.

    The other parameters keep their defaults, but the noise its prior (``MEAN_FIT``).
    """
    values = {**MEAN_FIT, **dict(zip(names, map(float, x), strict=True))}
    _, table = hindcast(replications, seed, data_edition, **values)
    return train_error_rmse(table)


BUDGET = MappingProxyType({"replications": 32, "generations": 30, "population": 10})
"""The point fit's default budget (``alliance calibrate``; the rolling-origin refits)."""


def calibrate(
    replications: int = BUDGET["replications"],
    generations: int = BUDGET["generations"],
    population: int = BUDGET["population"],
    seed: int = SEED,
    workers: int = 1,
    callback: Callable[[int, float], None] | None = None,
    fit: Sequence[str] = FITTED,
    data_edition: str = DEFAULT_EDITION,
) -> Calibration:
    """Fit parameters to the 2015-2022 hindcast, then the noise to the fit's forecast errors.

    Args:
        replications: Runs averaged per objective evaluation (seeds fixed).
        generations: Largest number of differential-evolution generations.
        population: Population size per parameter.
        seed: Seed of the optimiser and root seed of the runs.
        workers: Processes evaluating a generation in parallel (results do not depend on it).
        callback: Called after each generation with (generation, best RMSE so far).
        fit: The parameters to fit (``FITTED`` by default); the others keep their defaults.
        data_edition: Edition of NATO's tables the hindcast starts from and is fitted to.

    Returns:
        The fitted values, their fit and the noise fitted with them.
    """
    unknown = [n for n in fit if n not in PARAMETERS or PARAMETERS[n].integer or n == NOISE]
    if unknown or not fit:
        raise ValueError(
            f"cannot fit {unknown or 'no parameter'}: name continuous behavioural parameters "
            f"({NOISE} is fitted after them)"
        )
    check_edition(data_edition)
    shocks = shock_volatility(TRAIN.stop - 1, data_edition)  # before the fit: it may refuse
    bounds = [(PARAMETERS[n].low, PARAMETERS[n].high) for n in fit]
    prior = [PRIORS[n] for n in fit]
    objective = partial(
        train_rmse,
        names=tuple(fit),
        replications=replications,
        seed=seed,
        data_edition=data_edition,
    )
    generation = 0

    def report(intermediate_result) -> None:  # scipy passes an OptimizeResult by this name
        nonlocal generation
        generation += 1
        if callback:
            callback(generation, float(intermediate_result.fun))

    from scipy.optimize import differential_evolution  # 0.3 s to import: only when fitting

    context = multiprocessing.get_context("forkserver")
    pool = (
        ProcessPoolExecutor(
            workers, mp_context=context, initializer=worker_init, initargs=(os.getpid(),)
        )
        if workers > 1
        else _Serial()
    )
    with pool:
        result = differential_evolution(
            objective,
            bounds,
            x0=prior,
            seed=seed,
            maxiter=generations,
            popsize=population,
            tol=1e-4,
            polish=False,
            updating="deferred",
            workers=pool.map,
            callback=report,
        )
    # Stored to 4 decimals; the fit is that of the stored values.
    values = {n: round(float(v), 4) for n, v in zip(fit, result.x, strict=True)}
    sim, table = hindcast(replications, seed, data_edition, **MEAN_FIT, **values)
    fit = hindcast_metrics(table, sim)
    noise = fit_noise(TRAIN.stop - 1, values | shocks, seed=seed, data_edition=data_edition)
    return Calibration(
        values=values,
        rmse_train_pp=fit["rmse_train_pp"],
        rmse_test_pp=fit["rmse_test_pp"],
        rmse_train_prior_pp=objective(prior),
        evaluations=int(result.nfev),
        generations=generation,
        max_generations=generations,
        population=population,
        replications=replications,
        seed=seed,
        data_edition=data_edition,
        noise=noise,
        shocks=shocks,
    )


class _Serial:
    """Stand-in for a process pool when one worker is asked for."""

    map = staticmethod(map)

    def __enter__(self) -> _Serial:
        return self

    def __exit__(self, *exc) -> None:
        return None


def calibration_toml(cal: Calibration, when: date) -> str:
    """The calibration file's text: values, fit, date and the command that produced them."""
    lines = [
        "# Written by `alliance calibrate`; do not edit by hand. The parameter defaults read this",
        "# file (sim/parameters.py). Rerun the command below to reproduce it.",
        f"date = {when.isoformat()}",
        f'command = "{cal.command}"',
        'method = "scipy.optimize.differential_evolution (deferred updating, no polish)"',
        f'objective = "RMSE of the mean core % GDP, wales-2014 hindcast, published allies, '
        f'{TRAIN.start}-{TRAIN.stop - 1}"',
        f"replications = {cal.replications}",
        f"seed = {cal.seed}",
        f'data_edition = "{cal.data_edition}"',
        f"evaluations = {cal.evaluations}",
        f"generations = {cal.generations}",
        "",
        "[fit]",
        f"rmse_train_pp = {cal.rmse_train_pp:.4f}",
        f"rmse_train_prior_pp = {cal.rmse_train_prior_pp:.4f}",
        f"# {TEST.start}-{TEST.stop - 1}, never optimised; `alliance validate` reports it in full.",
        f"rmse_test_pp = {cal.rmse_test_pp:.4f}",
        "",
        "[parameters]",
        *(f"{name} = {value!r}" for name, value in cal.values.items()),
        *_shock_lines(cal.shocks, TRAIN.stop - 1),
        *_noise_lines(cal.noise),
    ]
    return "\n".join(lines) + "\n"


def _shock_lines(shocks: dict[str, float], as_of: int) -> list[str]:
    """The exogenous shocks' volatility under [parameters], with where it comes from."""
    if not shocks:
        return []
    return [
        f"# Set from their own history up to {as_of} (sim/shock_volatility.py): the threat path's "
        "yearly changes, real GDP growth around trend.",
        *(f"{name} = {value!r}" for name, value in shocks.items()),
    ]


def _noise_lines(noise: NoiseFit | None) -> list[str]:
    """The noise's value under [parameters] and how it was fitted, in a [noise] table."""
    if noise is None:
        return []
    per_horizon = {
        "forecasts": noise.forecasts,
        "rmse_pp": noise.rmse_pp,
        "model_sd_pp": noise.model_sd_pp,
        "gain": noise.gain,
    }
    return [
        f"# Fitted after the parameters above: {noise.describe()}.",
        f"{NOISE} = {noise.sd!r}",
        "",
        "[noise]",
        'method = "method of moments on the 1-3 year forecast errors (sim/noise_fit.py)"',
        f"as_of = {noise.as_of}",
        f"replications = {noise.replications}",
        f"seed = {noise.seed}",
        *(
            f"{key} = {{ {', '.join(f'h{h} = {v!r}' for h, v in values.items())} }}"
            for key, values in per_horizon.items()
        ),
    ]


def write_calibration(cal: Calibration, path: Path | None = None) -> Path:
    """Write the calibration file (atomically) and return its path."""
    path = path or calibration_file()
    text = calibration_toml(cal, date.today())
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))
    return path


def format_calibration(cal: Calibration, path: Path) -> str:
    """``alliance calibrate``'s summary: the fit's RMSEs, the values, the noise, the file."""
    return "\n".join(
        [
            f"RMSE {span(TRAIN)} {cal.rmse_train_pp:.4f} pp "
            f"(priors {cal.rmse_train_prior_pp:.4f}); "
            f"{span(TEST)}, held out: {cal.rmse_test_pp:.4f} pp",
            *(f"  {name:28} {value:g}" for name, value in cal.values.items()),
            *(f"  {name:28} {value:g} (its own history)" for name, value in cal.shocks.items()),
            f"Then the forecasts' spread: {cal.noise.describe()}",
            f"Written: {path}",
        ]
    )
