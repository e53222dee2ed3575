"""The implementation noise fitted to the model's own forecast errors (the forecast's spread).

The behavioural parameters are fitted to the mean path (``alliance calibrate``: the RMSE of a
mean hindcast; its ABC posterior: the same statistics), with the noise held at its documented
prior (``MEAN_FIT``), so no fit depends on a noise an earlier calibration wrote. The spread of a
forecast then comes from ``spending_noise_sd`` (the yearly implementation error of the core share,
``sim.mechanisms.spending.adjust_core_share``), fitted here by the method of moments on what the
model got wrong before: the spread of its 1-3 year forecasts should match their mean squared
error (the model's structural error as well as the budgets' implementation error; Kennedy and
O'Hagan 2001 on model discrepancy; Williams and Goodman 1971 on prediction intervals from past
forecast errors).

**Errors.** From every origin t from 2015 to ``as_of`` - 1, the model forecasts core % GDP for
t + h, h = 1-3 with t + h <= ``as_of``, knowing only what was known at t (``sim.rolling``:
``rolling_scenario``, ``known_data``), once with no noise and once with the noise at
``REFERENCE_SD``. Per horizon h, over the published allies with forces: m_h, the mean squared
error of the no-noise median; v0_h, the mean variance of the no-noise runs (GDP and threat
shocks at their size, ``sim.shock_volatility``; posterior draws); g_h = (vR_h - v0_h) /
REFERENCE_SD^2, the variance the noise adds per unit of its own (less than h where budgets revert
to their habit or hit a fiscal bound).

**Fit.** The spread at noise s is v0_h + g_h s^2; least squares over the ally-forecasts,

    s^2 = sum_h n_h g_h (m_h - v0_h) / sum_h n_h g_h^2,

bounded by the parameter's range and stored to 4 decimals. ``alliance calibrate`` fits it on the
training years (errors up to 2022) with the fitted parameters and writes it to
``scenarios/calibration.toml``; the rolling-origin check (``sim.rolling``) fits it per origin on
the years up to that origin, and so tests the method out of sample.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sim.data import DEFAULT_EDITION, FIRST_YEAR, NO_FORCES, load_reference
from sim.parameters import PARAMETERS
from sim.posterior import Posterior
from sim.shocks import replication_seeds
from sim.validation import SEED

NOISE = "spending_noise_sd"
HORIZONS = (1, 2, 3)
REFERENCE_SD = 0.2
"""Noise (pp) at which the spread it adds is measured."""
REPLICATIONS = 200
"""Runs per origin and noise."""


@dataclass(frozen=True)
class NoiseFit:
    """A fitted implementation noise and the errors it was fitted to.

    Attributes:
        sd: The fitted ``spending_noise_sd`` (pp GDP, 4 decimals, within its range).
        as_of: The last year whose figures were used.
        forecasts: Ally-forecasts per horizon (n_h).
        rmse_pp: Root mean squared error of the no-noise median per horizon (sqrt m_h).
        model_sd_pp: The no-noise spread per horizon (sqrt v0_h).
        gain: The variance the noise adds per unit of its own, per horizon (g_h).
        replications: Runs per origin and noise.
        seed: Root seed of the runs.
    """

    sd: float
    as_of: int
    forecasts: dict[int, int]
    rmse_pp: dict[int, float]
    model_sd_pp: dict[int, float]
    gain: dict[int, float]
    replications: int
    seed: int

    def describe(self) -> str:
        """One line: the value, the errors and the years."""
        n = sum(self.forecasts.values())
        rmse = ", ".join(f"h{h} {v:.3f}" for h, v in self.rmse_pp.items())
        return (
            f"{NOISE} = {self.sd:.4f} pp, fitted on {n} ally-forecasts of 1-3 years from "
            f"{FIRST_YEAR + 1}-{self.as_of - 1} up to {self.as_of} (RMSE {rmse} pp)"
        )


def forecast_moments(
    as_of: int,
    parameters: Mapping[str, float] | None = None,
    posterior: Posterior | None = None,
    replications: int = REPLICATIONS,
    seed: int = SEED,
    data_edition: str = DEFAULT_EDITION,
) -> dict[int, dict[str, float]]:
    """Per horizon: n, m (mean squared error), v0 and vR (mean run variance at noise 0 and R).

    Args:
        as_of: The last year whose figures are used (origins from 2015 to ``as_of`` - 1).
        parameters: Values replacing the calibrated ones (the noise is set here).
        posterior: Draw each run's parameters from it, or None.
        replications: Runs per origin and noise.
        seed: Root seed (the runs' seeds are ``replication_seeds(seed, 0, replications)``).
        data_edition: Edition of NATO's tables.

    Raises:
        ValueError: ``as_of`` leaves no forecast to score.
    """
    from sim.rolling import known_reference, model_samples  # sim.rolling imports this module

    if not FIRST_YEAR + 2 <= as_of <= 2025:
        raise ValueError(f"as_of {as_of} outside {FIRST_YEAR + 2}-2025")
    known = known_reference(load_reference(edition=data_edition), as_of).core
    seeds = replication_seeds(seed, 0, replications)
    sums = {h: np.zeros(4) for h in HORIZONS}
    for origin in range(FIRST_YEAR + 1, as_of):
        horizons = [h for h in HORIZONS if origin + h <= as_of]
        runs = {}
        for sd in (0.0, REFERENCE_SD):
            own = {**(parameters or {}), NOISE: sd}
            iso3, runs[sd] = model_samples(origin, horizons, seeds, data_edition, posterior, own)
        panel = known.reindex(iso3)
        for k, h in enumerate(horizons):
            y = panel[origin + h].to_numpy(float)
            ok = np.isfinite(y) & np.isfinite(panel[origin].to_numpy(float))
            ok &= ~np.isin(iso3, NO_FORCES)
            base, noisy = runs[0.0][ok, k, :], runs[REFERENCE_SD][ok, k, :]
            error = y[ok] - np.median(base, axis=1)
            sums[h] += [ok.sum(), np.sum(error**2), base.var(axis=1).sum(), noisy.var(axis=1).sum()]
    return {
        h: {"n": int(s[0]), "m": s[1] / s[0], "v0": s[2] / s[0], "vR": s[3] / s[0]}
        for h, s in sums.items()
        if s[0]
    }


def fit_noise(
    as_of: int,
    parameters: Mapping[str, float] | None = None,
    posterior: Posterior | None = None,
    replications: int = REPLICATIONS,
    seed: int = SEED,
    data_edition: str = DEFAULT_EDITION,
) -> NoiseFit:
    """Fit ``spending_noise_sd`` to the model's 1-3 year forecast errors up to ``as_of``.

    Args and errors as ``forecast_moments``; see the module docstring for the fit.
    """
    moments = forecast_moments(as_of, parameters, posterior, replications, seed, data_edition)
    n = np.array([m["n"] for m in moments.values()], dtype=float)
    excess = np.array([m["m"] - m["v0"] for m in moments.values()])
    gain = np.array([(m["vR"] - m["v0"]) / REFERENCE_SD**2 for m in moments.values()])
    variance = float(np.sum(n * gain * excess) / np.sum(n * gain**2))
    bound = PARAMETERS[NOISE].high
    sd = round(float(np.sqrt(np.clip(variance, 0.0, bound**2))), 4)
    return NoiseFit(
        sd=sd,
        as_of=as_of,
        forecasts={h: m["n"] for h, m in moments.items()},
        rmse_pp={h: round(float(np.sqrt(m["m"])), 4) for h, m in moments.items()},
        model_sd_pp={h: round(float(np.sqrt(m["v0"])), 4) for h, m in moments.items()},
        gain={h: round(float(g), 4) for h, g in zip(moments, gain, strict=True)},
        replications=replications,
        seed=seed,
    )


def fitted_spread(fit: NoiseFit) -> dict[int, float]:
    """Per horizon, the forecasts' spread at the fitted noise: sqrt(v0_h + g_h s^2) (pp).

    Set against ``fit.rmse_pp``, it shows how well one noise level fits every horizon.
    """
    return {h: float(np.sqrt(fit.model_sd_pp[h] ** 2 + fit.gain[h] * fit.sd**2)) for h in fit.gain}


def origin_posterior(
    posterior: Posterior | Mapping[int, Posterior] | None, origin: int
) -> Posterior | None:
    """The posterior a forecast from ``origin`` draws from: one for all origins, or its own."""
    return posterior.get(origin) if isinstance(posterior, Mapping) else posterior


def per_origin(
    origins: Sequence[int],
    parameters: Mapping[int, Mapping[str, float]] | None = None,
    posterior: Posterior | Mapping[int, Posterior] | None = None,
    seed: int = SEED,
    data_edition: str = DEFAULT_EDITION,
) -> dict[int, NoiseFit]:
    """``fit_noise`` at each origin, on the years up to it, with that origin's parameters.

    ``posterior`` is one posterior for every origin or one per origin (fitted on the years up
    to it: ``sim.rolling.posterior_at``).
    """
    return {
        o: fit_noise(
            o,
            (parameters or {}).get(o),
            origin_posterior(posterior, o),
            seed=seed,
            data_edition=data_edition,
        )
        for o in origins
    }
