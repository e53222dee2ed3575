"""Rolling-origin check: forecasts from several origins, each from what was known at its origin.

From each origin year o (2017, 2019, 2021 and 2023 by default) the model and three baselines
forecast every ally's core % GDP for o + 1, o + 2 and o + 3, and the forecasts are scored against
NATO's panel (``observed_core``): the coverage of central predictive intervals (50% and 90%, and
every decile for the reliability plot) and the CRPS, per horizon, per ally and pooled.

**Only data up to the origin.** A forecast from o reads nothing NATO or the GDP tables report for
a year after o (``known_reference`` masks it); a test perturbs every later value and finds the
forecasts unchanged, bit for bit. The model run is ``wales-2014`` moved to start in o
(``rolling_scenario``, ``known_data``):

- start state: each ally's o values of core share, equipment share and personnel (the latest
  earlier value where o is blank, as for any start year);
- GDP: the o level of real GDP (constant 2015 USD, the panel's own units; the model reads GDP only
  in ratios, so the unit does not matter) instead of the 2024 USD level deflated by the growth
  after o; growth after o is each ally's compound trend over 2015-o with the engine's GDP noise,
  not the observed growth (which would tell a 2019 forecast about 2020's recession); the budgets'
  planned growth (``trend_growth``) is that same trend;
- debt: the latest debt figure by o (2014's: the data hold 2014 and 2024), not the 2014-2024
  interpolation;
- threat: the ``wales-2014`` path up to o only (0.5 from 2014 on before 2022; the 2022 step to 1.0
  enters only from origin 2022 on);
- national plans announced by 31 December of o (as every run starting in o);
- the Wales pledge (2% by 2024) and the scenario's other settings, known since 2014;
- the six withheld allies (CAN, HUN, ITA, LVA, NOR, ROU): their 2015-2024 shares are not in the
  data, so their start share is their 2014 value (the latest held by o), not the 2014-2025
  interpolation a start year uses by default, which would bring their 2025 value into every
  forecast through the alliance-wide terms. They are never scored (no published value at o).

**Parameters.** ``scenarios/calibration.toml`` was fitted on 2015-2022, after origins 2017-2021,
and the posterior of ``sim.abc`` on 2015-2024, after every origin. ``refit`` fits the same
parameters by the same method (differential evolution on the hindcast RMSE) on 2015-o only, with
a hindcast from 2014 that itself knows only what was known at o;
``rolling_origin(parameters=...)`` forecasts with them. ``posterior_at`` fits a posterior on the
same years and hindcast (``rolling_panel``) by the calibration's ABC-SMC (``sim.abc``);
``rolling_origin`` given one posterior per origin draws each run's parameters from its origin's
own.

**Noise.** The spread of the model's forecasts comes from the implementation noise
``spending_noise_sd``, fitted per origin by ``sim.noise_fit`` to the model's own 1-3 year forecast
errors over the years up to the origin, with that check's parameters (the refit, the calibrated
values or the posterior draws); ``rolling_checks`` records each fit. Every row's exogenous
shocks (the threat's innovation, GDP growth around trend) have the volatility their own history
shows up to the origin (``sim.shock_volatility``), and the noise is fitted with them. The refits,
like the calibration, fit the mean path with the noise and the shocks at their priors
(``MEAN_FIT``).

**Remaining leaks.** Every figure up to o is the latest edition's (restated, revised), not what
was published at o: the repository holds no real-time vintages. Static attributes (distance, land
border, coast, documented rivalries, the related-spending file, which only enters runs from 2025)
are taken as known. With the calibrated parameters or the posterior, their fit window after o.

**Baselines** (per ally, from the panel up to o): no change (the o value), last trend (the o
value plus h times the last yearly change) and a pooled panel regression of the yearly change on
last year's level and last year's change, with a step dummy for the years from 2022 on when the
training years include 2022 (origins 2022 and later; earlier the data cannot identify it). Their
predictive distributions come from their own past errors: the method's one-step errors over the
panel up to o (pooled over allies and years, centred on zero), scaled to horizon h by the error
growth of the method's own model with independent yearly shocks: sqrt(h) for no change (a random
walk), sqrt(h (1 + h) / 2) for last trend (a random walk whose drift is one observed change: the
h-step error sum_k e_k - h e_0 against the one-step e_1 - e_0), and sqrt(sum_{j<h} psi_j^2) for
the regression (psi its impulse responses).

**Scores.** A forecast is a sample (the model's runs; a baseline's scaled errors added to its
point forecast). Quantiles are linear (``numpy.quantile``); a central interval at level c runs
from the (1 - c)/2 to the (1 + c)/2 quantile, ends included. The CRPS is that of the sample's
empirical distribution (``scoringrules.crps_ensemble``), in pp of GDP. An ally-year is scored
when the ally has forces and NATO publishes its share in both o and the target year (so not the
withheld allies, and not 2026, which the data do not hold).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from sim.abc import BUDGET, Panel, PanelSimulator, Progress, calibrate_abc, to_posterior
from sim.calibration import BUDGET as FIT_BUDGET
from sim.calibration import FITTED
from sim.data import (
    DEFAULT_EDITION,
    FIRST_YEAR,
    NO_FORCES,
    WITHHELD,
    Reference,
    check_edition,
    load_reference,
    observed_growth,
    trend_growth,
)
from sim.ensemble import simulate_points
from sim.initial import ScenarioData, scenario_data
from sim.mechanisms.spending import spill_in
from sim.noise_fit import NOISE, NoiseFit, origin_posterior, per_origin
from sim.parameters import MEAN_FIT, PARAMETERS, PRIORS
from sim.posterior import Posterior, PosteriorFileError, read_posterior, write_posterior
from sim.scenario import Scenario, load_scenario
from sim.shock_volatility import shock_volatility
from sim.shocks import replication_seeds
from sim.store import atomic_write
from sim.uncertainty import run_scenarios
from sim.validation import HINDCAST, SEED

ORIGINS = (2017, 2019, 2021, 2023)
HORIZONS = (1, 2, 3)
REPLICATIONS = 500
"""Runs per origin."""
STEP_YEAR = 2022
"""First year of the panel regression's step dummy (the full-scale invasion)."""
LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
"""Nominal levels of the central intervals scored (the reliability plot's x axis)."""
QUANTILES = tuple(
    sorted(
        {round((1 - c) / 2, 4) for c in LEVELS} | {0.5} | {round((1 + c) / 2, 4) for c in LEVELS}
    )
)
"""Quantiles kept per forecast: both ends of every interval in ``LEVELS`` and the median."""
METHODS = ("model", "no_change", "last_trend", "panel_regression")
BASELINES = METHODS[1:]


def quantile_column(q: float) -> str:
    """The table's column of quantile ``q``: ``q0.05`` for 0.05."""
    return f"q{q:.2f}"


def known_reference(ref: Reference, as_of: int) -> Reference:
    """``ref`` with its panels' values of the years after ``as_of`` blanked (same shapes).

    The panels are core and equipment shares, personnel, real GDP and debt. The allies table is
    kept: its dated columns (2024 GDP in USD, the 2024-2025 estimates) reach no rolling forecast
    (``known_data`` replaces the one field built from them, and a test checks it).
    """

    def known(panel: pd.DataFrame) -> pd.DataFrame:
        return panel.loc[:, panel.columns <= as_of].reindex(columns=panel.columns)

    return replace(
        ref,
        core=known(ref.core),
        equipment=known(ref.equipment),
        personnel=known(ref.personnel),
        gdp_real=known(ref.gdp_real),
        debt=known(ref.debt),
    )


def _check_origin(origin: int, earliest: int = FIRST_YEAR + 2) -> None:
    if not earliest <= origin <= 2024:
        raise ValueError(
            f"origin {origin} outside {earliest}-2024 (the baselines need two earlier years, "
            "the model the origin's published figures)"
        )


def rolling_scenario(
    start: int, as_of: int, end: int, data_edition: str = DEFAULT_EDITION
) -> Scenario:
    """``wales-2014`` from ``start`` to ``end`` as it could be set up at the end of ``as_of``.

    The threat path keeps its points up to ``as_of``; the withheld allies start from their latest
    share held by ``start`` (2014's). Everything else is ``wales-2014``'s.
    """
    base = load_scenario(HINDCAST).with_data_edition(check_edition(data_edition))
    threat = {y: v for y, v in base.paths["threat"].items() if y <= as_of}
    core = known_reference(load_reference(edition=base.data_edition), start).core
    held = core.loc[list(WITHHELD), :start].ffill(axis=1)[start]
    allies = dict(base.allies)
    for iso, share in held.items():
        allies[iso] = MappingProxyType({**allies.get(iso, {}), "core_pct_start": float(share)})
    return replace(
        base,
        name=f"{HINDCAST}-from-{start}-as-of-{as_of}",
        description=f"{base.description}; from {start}, with what was known in {as_of}",
        start_year=start,
        end_year=end,
        paths=MappingProxyType({**base.paths, "threat": MappingProxyType(threat)}),
        allies=MappingProxyType(allies),
    )


def known_data(spec: Scenario, as_of: int) -> ScenarioData:
    """``scenario_data(spec)`` with the fields that read years after ``as_of`` rebuilt from before.

    GDP, its growth, the trend growth, debt and the start spill-in (which reads GDP) come from
    ``known_reference``: observed growth up to ``as_of``, the 2015-``as_of`` trend after it (not
    flagged observed, so the engine adds its GDP noise), the start year's real GDP and the latest
    debt figure by the start year. The other fields read nothing after the start year.
    """
    full = scenario_data(spec)
    known = known_reference(load_reference(edition=spec.data_edition), as_of)
    iso3, start = full.iso3, spec.start_year
    trend = trend_growth(known).reindex(iso3).to_numpy()
    growth = observed_growth(known)
    years = list(spec.years)[1:]
    seen = np.array([y <= as_of for y in years])
    rows = [growth[y].reindex(iso3).to_numpy() if y <= as_of else trend for y in years]
    gdp = known.gdp_real[start].reindex(iso3).to_numpy(dtype=float)
    debt = known.debt.loc[:, :start].ffill(axis=1).iloc[:, -1].reindex(iso3).to_numpy()
    retrenchment = spec.path_value("us_retrenchment", start)
    commitment = np.where(full.is_us, 1 - retrenchment, 1.0)
    return replace(
        full,
        gdp=gdp,
        growth=np.array(rows).reshape(len(years), len(iso3)),
        observed_growth=np.repeat(seen[:, None], len(iso3), axis=1),
        trend_growth=trend,
        debt_pct=debt,
        spill_ref=spill_in(full.core / 100 * gdp, gdp, commitment),
    )


def simulate_known(
    spec: Scenario, data: ScenarioData, seeds: Sequence[int], posterior: Posterior | None = None
) -> np.ndarray:
    """Core % GDP of one run per seed from a given start state, with the ensemble engine.

    Run r is that of ``simulate_points([spec], [seeds])`` (with the posterior draw of
    ``run_scenarios``), except that its start state is built from ``data``.

    Returns:
        (runs, years, allies), the start year first.
    """
    runs, _ = run_scenarios(spec, seeds, posterior)
    rec = simulate_points(runs, [[seed] for seed in seeds], ("core_pct_gdp",), (), data=data)
    return rec.allies["core_pct_gdp"]


def model_samples(
    origin: int,
    horizons: Sequence[int],
    seeds: Sequence[int],
    data_edition: str = DEFAULT_EDITION,
    posterior: Posterior | None = None,
    parameters: Mapping[str, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The model's forecast from ``origin``: (allies' ISO3 codes, samples (allies, horizons, runs)).

    Args:
        origin: The origin year.
        horizons: Years ahead.
        seeds: One run per seed.
        data_edition: Edition of NATO's tables.
        posterior: Draw each run's parameters from it (``sim.uncertainty``), or None.
        parameters: Parameter values replacing the calibrated ones (e.g. ``refit``'s).
    """
    _check_origin(origin, FIRST_YEAR + 1)
    spec = rolling_scenario(origin, origin, origin + max(horizons), data_edition)
    spec = spec.with_parameters(**(parameters or {}))
    data = known_data(spec, origin)
    runs = simulate_known(spec, data, seeds, posterior)
    return data.iso3, runs[:, list(horizons), :].transpose(2, 1, 0)


def _panel_rows(core: pd.DataFrame) -> pd.DataFrame:
    """Every (ally, year) with its change, last year's level and last year's change, all known."""
    change = core.diff(axis=1)
    frame = pd.DataFrame(
        {
            "change": change.stack(),
            "last_level": core.shift(axis=1).stack(),
            "last_change": change.shift(axis=1).stack(),
        }
    )
    return frame.dropna().rename_axis(["iso3", "year"]).reset_index()


@dataclass(frozen=True)
class PanelFit:
    """The panel regression change_t = a + b level_{t-1} + c change_{t-1} + d step_t + e_t.

    Attributes:
        coefficients: (a, b, c, d); d is 0 when the training years have no step year.
        residuals: Its in-sample residuals.
        step: Whether the step dummy was fitted.
    """

    coefficients: tuple[float, float, float, float]
    residuals: np.ndarray
    step: bool

    def path(self, level: np.ndarray, change: np.ndarray, years: Sequence[int]) -> np.ndarray:
        """Point forecasts (allies, years) iterated from the origin's level and change."""
        a, b, c, d = self.coefficients
        out = []
        for year in years:
            change = a + b * level + c * change + d * (year >= STEP_YEAR)
            level = level + change
            out.append(level)
        return np.stack(out, axis=-1)

    def error_growth(self, horizons: Sequence[int]) -> np.ndarray:
        """sqrt(sum_{j<h} psi_j^2) per horizon, psi the level's responses to a unit shock."""
        _, b, c, _ = self.coefficients
        level, change, psi = 0.0, 0.0, []
        for j in range(max(horizons)):
            change = b * level + c * change + (1.0 if j == 0 else 0.0)
            level += change
            psi.append(level)
        cumulative = np.sqrt(np.cumsum(np.square(psi)))
        return cumulative[np.asarray(horizons) - 1]


def fit_panel(core: pd.DataFrame) -> PanelFit:
    """Pooled OLS of the yearly change over every known (ally, year) of ``core``.

    Args:
        core: Core % GDP, allies x years, NaN where not known.
    """
    rows = _panel_rows(core)
    step = bool((rows["year"] >= STEP_YEAR).any())
    columns = [np.ones(len(rows)), rows["last_level"], rows["last_change"]]
    if step:
        columns.append((rows["year"] >= STEP_YEAR).astype(float))
    x = np.column_stack(columns)
    y = rows["change"].to_numpy()
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    a, b, c, *d = (float(v) for v in beta)
    return PanelFit((a, b, c, d[0] if d else 0.0), y - x @ beta, step)


def _centred(errors: np.ndarray) -> np.ndarray:
    errors = errors[np.isfinite(errors)]
    return errors - errors.mean()


def baseline_samples(
    core: pd.DataFrame, origin: int, horizons: Sequence[int]
) -> dict[str, np.ndarray]:
    """Each baseline's forecast from ``origin`` as samples (allies, horizons, errors).

    Args:
        core: Core % GDP, allies x years, NaN where not published (Iceland, the withheld
            allies). Only the years up to ``origin`` are read.
        origin: The origin year.
        horizons: Years ahead.

    Returns:
        ``no_change``, ``last_trend`` and ``panel_regression``: the point forecast plus the
        method's centred one-step errors scaled to each horizon (see the module docstring).
        Allies without a value in ``origin`` (or, for the last two, the year before) get NaN.
    """
    known = core.loc[:, :origin]
    h = np.asarray(horizons, dtype=float)
    level = known[origin].to_numpy()
    change = (known[origin] - known[origin - 1]).to_numpy()
    steps = known.diff(axis=1)
    fit = fit_panel(known)
    points = {
        "no_change": np.repeat(level[:, None], len(h), axis=1),
        "last_trend": level[:, None] + h[None, :] * change[:, None],
        "panel_regression": fit.path(level, change, [origin + int(k) for k in h]),
    }
    errors = {
        "no_change": _centred(steps.to_numpy().ravel()),
        "last_trend": _centred(steps.diff(axis=1).to_numpy().ravel()),
        "panel_regression": _centred(fit.residuals),
    }
    growth = {
        "no_change": np.sqrt(h),
        "last_trend": np.sqrt(h * (1 + h) / 2),
        "panel_regression": fit.error_growth(horizons),
    }
    return {
        name: points[name][:, :, None] + growth[name][None, :, None] * errors[name][None, None, :]
        for name in BASELINES
    }


def crps(observed: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """The CRPS of each sample's empirical distribution at its observation (last axis: members).

    ``scoringrules.crps_ensemble``: E|X - y| - E|X - X'| / 2 over the members. NaN where the
    observation or any member is NaN.
    """
    import scoringrules  # 2 s to import: only when scoring

    return np.asarray(scoringrules.crps_ensemble(observed, samples), dtype=float)


def covered(table: pd.DataFrame, level: float) -> pd.Series:
    """Whether each row's observation lies in its central interval at ``level`` (ends included)."""
    low = table[quantile_column(round((1 - level) / 2, 4))]
    high = table[quantile_column(round((1 + level) / 2, 4))]
    return (low <= table["observed"]) & (table["observed"] <= high)


def score_rows(
    samples: np.ndarray, observed: np.ndarray, scored: np.ndarray
) -> dict[str, np.ndarray]:
    """Quantile columns and CRPS (NaN where not scored) of forecasts given as samples (n, m)."""
    with np.errstate(invalid="ignore"):
        q = np.quantile(samples, QUANTILES, axis=-1)
    out = {quantile_column(p): q[i] for i, p in enumerate(QUANTILES)}
    score = np.full(len(observed), np.nan)
    if scored.any():
        score[scored] = crps(observed[scored], samples[scored])
    out["crps"] = score
    return out


def forecast_table(
    origin: int,
    horizons: Sequence[int],
    iso3: np.ndarray,
    forecasts: Mapping[str, np.ndarray],
    observed: pd.DataFrame,
) -> pd.DataFrame:
    """One row per method, horizon and ally: the forecast's quantiles, observation and scores.

    Args:
        origin: The origin year.
        horizons: Years ahead (the second axis of every forecast).
        iso3: The allies (the first axis).
        forecasts: Method -> samples (allies, horizons, members).
        observed: NATO's core % GDP, allies x years (all published years).
    """
    obs = observed.reindex(index=iso3)
    has_forces = ~np.isin(iso3, NO_FORCES)
    at_origin = obs[origin].notna().to_numpy() if origin in obs else np.zeros(len(iso3), bool)
    frames = []
    for method, samples in forecasts.items():
        for k, h in enumerate(horizons):
            year = origin + h
            target = obs[year].to_numpy(dtype=float) if year in obs else np.full(len(iso3), np.nan)
            scored = has_forces & at_origin & np.isfinite(target)
            frame = pd.DataFrame(
                {
                    "method": method,
                    "origin": origin,
                    "horizon": h,
                    "year": year,
                    "iso3": iso3,
                    "observed": target,
                    "scored": scored,
                }
            )
            frames.append(frame.assign(**score_rows(samples[:, k, :], target, scored)))
    return pd.concat(frames, ignore_index=True)


def summarise(table: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Scored ally-years, 50% and 90% coverage and mean CRPS per method (and per ``by``)."""
    rows = table[table["scored"]].assign(
        covered_50=lambda t: covered(t, 0.5), covered_90=lambda t: covered(t, 0.9)
    )
    keys = ["method", *by]
    out = rows.groupby(keys, sort=False).agg(
        n=("crps", "size"),
        coverage_50=("covered_50", "mean"),
        coverage_90=("covered_90", "mean"),
        crps=("crps", "mean"),
    )
    return out.reset_index()


def reliability(table: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Observed coverage of the central interval at each nominal level in ``LEVELS``."""
    rows = table[table["scored"]]
    frames = [
        rows.assign(nominal=level, observed_coverage=covered(rows, level)) for level in LEVELS
    ]
    keys = ["method", *by, "nominal"]
    out = pd.concat(frames).groupby(keys, sort=False)["observed_coverage"].mean()
    return out.reset_index()


@dataclass(frozen=True)
class RollingCheck:
    """A rolling-origin check and its scores.

    Attributes:
        table: One row per method, origin, horizon and ally (``forecast_table``).
        by_horizon: ``summarise`` per method and horizon.
        pooled: ``summarise`` per method, horizons pooled.
        per_ally: ``summarise`` per method and ally, horizons pooled.
        per_ally_horizon: ``summarise`` per method, ally and horizon.
        reliability: Observed against nominal coverage per method, horizons pooled.
        settings: Origins, horizons, replications, seed, data edition, parameter source, the
            parameters per origin where they replace the calibrated ones and, with a posterior,
            its number of draws and its date, command and training years where it states them.
    """

    table: pd.DataFrame
    by_horizon: pd.DataFrame
    pooled: pd.DataFrame
    per_ally: pd.DataFrame
    per_ally_horizon: pd.DataFrame
    reliability: pd.DataFrame
    settings: dict

    @classmethod
    def scored(cls, table: pd.DataFrame, settings: dict) -> RollingCheck:
        """The check of ``table`` (``forecast_table``) with every summary computed from it."""
        return cls(
            table,
            summarise(table, ["horizon"]),
            summarise(table),
            summarise(table, ["iso3"]),
            summarise(table, ["iso3", "horizon"]),
            reliability(table),
            settings,
        )


def rolling_origin(
    origins: Sequence[int] = ORIGINS,
    horizons: Sequence[int] = HORIZONS,
    replications: int = REPLICATIONS,
    seed: int = SEED,
    data_edition: str = DEFAULT_EDITION,
    posterior: Posterior | Mapping[int, Posterior] | None = None,
    parameters: Mapping[int, Mapping[str, float]] | None = None,
    noise: Mapping[int, float] | None = None,
    shocks: Mapping[int, Mapping[str, float]] | None = None,
) -> RollingCheck:
    """Forecast from every origin with the model and the baselines, and score the forecasts.

    Args:
        origins: Origin years (2016-2024).
        horizons: Years ahead (positive).
        replications: Model runs per origin (seeds ``replication_seeds(seed, 0, replications)``,
            the same at every origin).
        seed: Root seed.
        data_edition: Edition of NATO's tables the runs start from and are scored against.
        posterior: Draw each run's parameters from it (one for every origin, or one per origin:
            ``posterior_at``), or None for the calibrated parameters (random shocks alone).
        parameters: Per origin, parameter values replacing the calibrated ones (``refit``'s);
            not with a posterior.
        noise: Per origin, the implementation noise ``spending_noise_sd`` fitted on the years up
            to it (``sim.noise_fit.per_origin``), or None for the calibrated one.
        shocks: Per origin, the exogenous shocks' volatility as of the origin
            (``sim.shock_volatility``), or None for the calibrated one.

    Returns:
        The table and its scores.
    """
    if posterior is not None and parameters:
        raise ValueError("give a posterior or per-origin parameters, not both")
    if not horizons or min(horizons) < 1:
        raise ValueError(f"horizons must be positive, got {list(horizons)}")
    for origin in origins:
        _check_origin(origin)
    check_edition(data_edition)
    observed = load_reference(edition=data_edition).core
    seeds = replication_seeds(seed, 0, replications)
    frames = []
    for origin in origins:
        own = {**(shocks or {}).get(origin, {}), **(parameters or {}).get(origin, {})}
        if noise:
            own[NOISE] = noise[origin]
        post = origin_posterior(posterior, origin)
        iso3, samples = model_samples(origin, horizons, seeds, data_edition, post, own)
        known = known_reference(load_reference(edition=data_edition), origin).core
        forecasts = {"model": samples} | baseline_samples(known.reindex(iso3), origin, horizons)
        frames.append(forecast_table(origin, horizons, iso3, forecasts, observed))
    table = pd.concat(frames, ignore_index=True)
    source = "posterior" if posterior is not None else "refit" if parameters else "calibrated"
    settings = {
        "origins": list(origins),
        "horizons": list(horizons),
        "replications": replications,
        "seed": seed,
        "data_edition": data_edition,
        "parameters": source,
        "refit": {int(o): dict(v) for o, v in (parameters or {}).items()},
        "noise": {int(o): float(v) for o, v in (noise or {}).items()},
        "shocks": {int(o): dict(v) for o, v in (shocks or {}).items()},
    }
    if isinstance(posterior, Posterior):
        settings["posterior"] = _about(posterior)
    elif posterior is not None:
        settings["posteriors"] = {int(o): _about(origin_posterior(posterior, o)) for o in origins}
    return RollingCheck.scored(table, settings)


def _about(posterior: Posterior) -> dict:
    """A posterior's number of draws and its date, command and training years."""
    about = ("date", "command", "train")
    return {"draws": len(posterior.weights)} | {
        k: str(posterior.metadata[k]) for k in about if k in posterior.metadata
    }


@dataclass(frozen=True)
class Refit:
    """Parameters fitted on the years up to an origin.

    Attributes:
        origin: The last year fitted (2015 to ``origin``).
        values: Fitted value of each parameter (4 decimals, as the calibration stores them).
        rmse_pp: The hindcast RMSE at ``values`` over the fitted years.
        evaluations: Objective evaluations.
    """

    origin: int
    values: dict[str, float]
    rmse_pp: float
    evaluations: int


def rolling_panel(origin: int, data_edition: str = DEFAULT_EDITION) -> Panel:
    """The calibration's panel as it could be fitted at the end of ``origin``.

    The hindcast runs from 2014 to ``origin`` knowing only what was known at ``origin``
    (``rolling_scenario``, ``known_data``), with the noise at its prior (``MEAN_FIT``); its cells
    are NATO's published allies with forces, 2015-``origin``; none is held out.
    """
    _check_origin(origin)
    spec = rolling_scenario(FIRST_YEAR, origin, origin, data_edition).with_parameters(**MEAN_FIT)
    data = known_data(spec, origin)
    known = known_reference(load_reference(edition=data_edition), origin).core
    observed = known.reindex(index=data.iso3, columns=list(spec.years)).to_numpy(float).T
    train = np.isfinite(observed) & ~np.isin(data.iso3, NO_FORCES)[None, :]
    train[0] = False  # the start year is the runs' start state, not simulated
    source = f"NATO core % GDP, {spec.data_edition} edition, as known at the end of {origin}"
    return Panel(spec, observed, train, np.zeros_like(train), source, data)


def refit(
    origin: int,
    fit: Sequence[str],
    replications: int = FIT_BUDGET["replications"],
    generations: int = FIT_BUDGET["generations"],
    population: int = FIT_BUDGET["population"],
    seed: int = SEED,
    data_edition: str = DEFAULT_EDITION,
) -> Refit:
    """Fit ``fit`` on 2015-``origin`` as ``alliance calibrate`` does on 2015-2022.

    The objective is the RMSE (pp) of the mean core % GDP of a hindcast from 2014 against NATO's
    published allies with forces, 2015-``origin``; the hindcast knows only what was known at
    ``origin`` (``rolling_scenario(2014, origin, origin)``, ``known_data``). Differential evolution
    as in ``sim.calibration.calibrate``: starts from the documented priors, deferred updating, no
    polish, the runs' seeds fixed, the implementation noise at its prior (``MEAN_FIT``).

    Args:
        origin: The last year fitted.
        fit: Continuous parameters to fit (``sim.calibration.FITTED`` in the check).
        replications: Runs averaged per evaluation.
        generations: Largest number of generations.
        population: Population size per parameter.
        seed: Seed of the optimiser and root seed of the runs.
        data_edition: Edition of NATO's tables.
    """
    from scipy.optimize import differential_evolution  # 0.3 s to import: only when fitting

    panel = rolling_panel(origin, data_edition)
    simulator = PanelSimulator(panel, fit, replication_seeds(seed, 0, replications))

    def rmse(x: Sequence[float]) -> float:
        means = simulator.means(np.asarray(x, dtype=float)[None, :])
        return float(simulator.rmse(means, panel.train)[0])

    result = differential_evolution(
        rmse,
        [(PARAMETERS[n].low, PARAMETERS[n].high) for n in fit],
        x0=[PRIORS[n] for n in fit],
        seed=seed,
        maxiter=generations,
        popsize=population,
        tol=1e-4,
        polish=False,
        updating="deferred",
    )
    values = {n: round(float(v), 4) for n, v in zip(fit, result.x, strict=True)}
    return Refit(origin, values, rmse(list(values.values())), int(result.nfev))


def posterior_at(
    origin: int,
    particles: int = BUDGET["particles"],
    generations: int = BUDGET["generations"],
    replications: int = BUDGET["replications"],
    seed: int = SEED,
    data_edition: str = DEFAULT_EDITION,
    progress: Progress | None = None,
) -> Posterior:
    """A posterior fitted on 2015-``origin`` as ``alliance calibrate --method abc`` on 2015-2024.

    ``sim.abc.calibrate_abc`` (ABC-SMC, its selection rule, its seeds) on ``rolling_panel``:
    the hindcast and the panel know only what was known at the end of ``origin``.

    Args:
        origin: The last year fitted.
        particles: Particles per generation.
        generations: Generations run.
        replications: Runs averaged per particle.
        seed: Root seed of the runs' seeds and seed of pyABC's proposals.
        data_edition: Edition of NATO's tables.
        progress: Called after each generation.
    """
    panel = rolling_panel(origin, data_edition)
    cal = calibrate_abc(particles, generations, replications, seed, progress=progress, panel=panel)
    posterior = to_posterior(cal, date.today())
    call = (
        f"sim.rolling.posterior_at({origin}, particles={particles}, generations={generations}, "
        f"replications={replications}, seed={seed}, data_edition={data_edition!r})"
    )
    return replace(posterior, metadata={**posterior.metadata, "command": call})


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed (other settings, or an unreadable file)."""


class Checkpoint:
    """A folder that keeps a rolling check's refits and posteriors, so a stopped check resumes.

    ``settings.json`` holds what they were made with; ``refit-<origin>.json`` and
    ``posterior-<origin>.toml`` (``sim.posterior``'s file format) each origin's, written
    atomically as each is made.

    Args:
        folder: The folder (created when needed).
    """

    def __init__(self, folder: Path):
        """Keep the folder; nothing is read or written before ``start``."""
        self.folder = Path(folder)

    def start(self, settings: dict, resume: bool) -> None:
        """Begin afresh (forgetting what the folder holds), or resume with the same settings.

        Raises:
            CheckpointError: ``resume`` and the folder holds a check with other settings.
        """
        path = self.folder / "settings.json"
        settings = json.loads(json.dumps(settings))  # as read back: lists, string keys
        if resume and path.exists():
            held = json.loads(path.read_text())
            if held != settings:
                differ = sorted(k for k in {*held, *settings} if held.get(k) != settings.get(k))
                raise CheckpointError(
                    f"{self.folder} holds a check made with other {', '.join(differ)}: "
                    "run without --resume to start again"
                )
            return
        for old in [*self.folder.glob("refit-*.json"), *self.folder.glob("posterior-*.toml")]:
            old.unlink()
        text = json.dumps(settings, indent=1)
        atomic_write(path, lambda tmp: Path(tmp).write_text(text))

    def has(self, kind: str, origin: int) -> bool:
        """Whether the refit (``kind`` "refit") or the posterior of ``origin`` is kept."""
        return self._path(kind, origin).exists()

    def refit(self, origin: int) -> Refit:
        """The kept refit of ``origin``.

        Raises:
            CheckpointError: The file is not a refit.
        """
        path = self._path("refit", origin)
        try:
            return Refit(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError) as exc:
            raise CheckpointError(f"{path}: not a refit ({exc}); run without --resume") from None

    def keep_refit(self, fitted: Refit) -> None:
        """Keep a refit."""
        text = json.dumps(asdict(fitted), indent=1)
        atomic_write(self._path("refit", fitted.origin), lambda tmp: Path(tmp).write_text(text))

    def posterior(self, origin: int) -> Posterior:
        """The kept posterior of ``origin``.

        Raises:
            CheckpointError: The file is not a posterior file.
        """
        try:
            return read_posterior(self._path("posterior", origin))
        except PosteriorFileError as exc:
            raise CheckpointError(f"{exc}; run without --resume") from None

    def keep_posterior(self, origin: int, posterior: Posterior) -> Posterior:
        """Keep the posterior of ``origin``; return it as read back.

        Reading normalises the weights, so a resumed check draws from exactly what an
        uninterrupted one drew from.
        """
        write_posterior(posterior, self._path("posterior", origin))
        return self.posterior(origin)

    def _path(self, kind: str, origin: int) -> Path:
        suffix = "json" if kind == "refit" else "toml"
        return self.folder / f"{kind}-{origin}.{suffix}"


def rolling_steps(origins: Sequence[int], abc: Mapping[str, int] | None, posterior: bool) -> int:
    """Steps ``rolling_checks`` reports: refits, ABC-SMC generations, noise fits and checks."""
    sources = 2 + bool(abc) + posterior
    return len(origins) * (1 + (abc["generations"] if abc else 0)) + 2 * sources


@dataclass(frozen=True)
class RollingChecks:
    """The rolling-origin check with each source of parameters.

    Attributes:
        checks: ``refit`` (parameters fitted per origin on 2015-origin: no leak),
            ``refit_posterior`` when per-origin posteriors were fitted (draws from each origin's
            own posterior: no leak), ``calibrated`` (``scenarios/calibration.toml``, fitted on
            2015-2022) and, when one is given, ``posterior`` (draws from it); in that order.
        refits: The refit of each origin.
        noise: Per check, the implementation noise fitted at each origin on the years up to it,
            with that check's parameters (``sim.noise_fit``).
        budget: Each refit's ``replications``, ``generations`` and ``population``.
        seconds: Wall time of the refits and checks (a resumed check's: what it did itself).
        posteriors: The posterior fitted at each origin (``posterior_at``), if any.
        abc: Their ABC-SMC budget (``particles``, ``generations``, ``replications``).
        reused: Refits and posteriors taken from a checkpoint instead of fitted by this call.
    """

    checks: dict[str, RollingCheck]
    refits: dict[int, Refit]
    noise: dict[str, dict[int, NoiseFit]]
    budget: dict[str, int]
    seconds: float
    posteriors: dict[int, Posterior] = field(default_factory=dict)
    abc: dict[str, int] = field(default_factory=dict)
    reused: int = 0


def rolling_checks(
    origins: Sequence[int] = ORIGINS,
    horizons: Sequence[int] = HORIZONS,
    replications: int = REPLICATIONS,
    seed: int = SEED,
    data_edition: str = DEFAULT_EDITION,
    posterior: Posterior | None = None,
    fit: Sequence[str] | None = None,
    refit_replications: int = FIT_BUDGET["replications"],
    generations: int = FIT_BUDGET["generations"],
    population: int = FIT_BUDGET["population"],
    abc: Mapping[str, int] | None = None,
    progress: Callable[..., None] | None = None,
    checkpoint: Checkpoint | None = None,
    resume: bool = False,
) -> RollingChecks:
    """Refit per origin, fit the noise per origin, then run ``rolling_origin`` with each source.

    Args:
        origins: Origin years.
        horizons: Years ahead.
        replications: Model runs per origin.
        seed: Root seed of the runs and of the refits.
        data_edition: Edition of NATO's tables.
        posterior: Also forecast with draws from it (``checks["posterior"]``).
        fit: Parameters refitted (default: those of the calibration, ``FITTED``).
        refit_replications: Runs averaged per evaluation of a refit (the calibration's 32).
        generations: Largest number of generations of a refit (the calibration's 30).
        population: Population size per parameter of a refit (the calibration's 10).
        abc: Also fit a posterior per origin (``posterior_at``) with this budget (``particles``,
            ``generations``, ``replications``; ``sim.abc.BUDGET``) and forecast with its draws.
        progress: Called with what was done (and how many of ``rolling_steps`` steps, when
            more than one) after a refit, an ABC-SMC generation, a noise fit or a check.
        checkpoint: Keep each refit and posterior there as it is made.
        resume: Reuse those the checkpoint already holds (made with the same settings).

    Raises:
        CheckpointError: ``resume`` with a checkpoint made with other settings, or an unreadable
            one.
    """
    started = time.perf_counter()
    shocks = {o: shock_volatility(o, data_edition) for o in origins}  # before the refits
    budget = {
        "replications": refit_replications,
        "generations": generations,
        "population": population,
    }
    done = progress or (lambda _label, _steps=1: None)
    names = tuple(fit or FITTED)
    if checkpoint is not None:
        made_with = {"origins": list(origins), "fit": list(names), "refit": budget}
        made_with |= {"abc": dict(abc or {}), "seed": seed, "data_edition": data_edition}
        checkpoint.start(made_with, resume)
    refits, reused = {}, 0
    for o in origins:
        if checkpoint and checkpoint.has("refit", o):
            refits[o] = checkpoint.refit(o)
            reused += 1
        else:
            refits[o] = refit(o, names, seed=seed, data_edition=data_edition, **budget)
            if checkpoint:
                checkpoint.keep_refit(refits[o])
        done(f"refit {o}")
    common = {
        "origins": origins,
        "horizons": horizons,
        "replications": replications,
        "seed": seed,
        "data_edition": data_edition,
    }
    fitted = {o: r.values for o, r in refits.items()}
    sources = {"refit": {"parameters": fitted}}
    posteriors = {}
    for o in origins if abc else ():
        if checkpoint and checkpoint.has("posterior", o):
            posteriors[o] = checkpoint.posterior(o)
            reused += 1
            done(f"posterior {o}, stored", abc["generations"])
            continue

        def generation(t: int, *_, origin: int = o) -> None:
            done(f"posterior {origin}, generation {t + 1}")

        posteriors[o] = posterior_at(
            o, **abc, seed=seed, data_edition=data_edition, progress=generation
        )
        if checkpoint:
            posteriors[o] = checkpoint.keep_posterior(o, posteriors[o])
    if posteriors:
        sources["refit_posterior"] = {"posterior": posteriors}
    sources["calibrated"] = {}
    if posterior is not None:
        sources["posterior"] = {"posterior": posterior}
    noise, checks = {}, {}
    for name, source in sources.items():
        own = {o: shocks[o] | source.get("parameters", {}).get(o, {}) for o in origins}
        with_shocks = source | {"parameters": own}
        noise[name] = per_origin(origins, seed=seed, data_edition=data_edition, **with_shocks)
        done(f"noise, {name}")
    for name, source in sources.items():
        sd = {o: fit.sd for o, fit in noise[name].items()}
        checks[name] = rolling_origin(**common, **source, noise=sd, shocks=shocks)
        done(f"check, {name}")
    seconds = time.perf_counter() - started
    return RollingChecks(
        checks, refits, noise, budget, seconds, posteriors, dict(abc or {}), reused
    )
