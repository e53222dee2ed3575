"""Validation against NATO's published figures: the 2014-2024 hindcast, its metrics, the 2025 step.

The hindcast runs ``wales-2014`` from each ally's 2014 state (the 2% pledge, the threat steps of
2014 and 2022, observed GDP; nothing else observed after 2014) and compares the mean of its
replications with NATO's core % GDP panel. The six withheld allies are simulated like the others;
their 2015-2024 observations are not in the data, so they enter no metric of those years.

Every entry point takes the edition of NATO's tables (``data_edition``, one of
``sim.data.EDITIONS``; the 2026 edition by default): the runs start from that edition and are
compared with it, and the metrics record it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.data import DEFAULT_EDITION, NO_FORCES, WITHHELD, check_edition, load_reference
from sim.ensemble import simulate_points
from sim.indicators import allies_at_or_above
from sim.scenario import Scenario, load_scenario
from sim.shocks import replication_seeds

if TYPE_CHECKING:
    from sim.posterior import Posterior

HINDCAST = "wales-2014"
"""The scenario of the hindcast."""

STEP_2025 = "us-demand-2025"
"""The scenario of the one-year check from 2024 to 2025."""

HINDSIGHT = date(2025, 12, 31)
"""The 2025 step with hindsight knows the national plans announced up to this date: the
decisions taken during 2025 (Denmark's acceleration fund, Belgium's and Spain's 2% in 2025...),
which the step proper, as of 1 January 2025, cannot know."""

YEARS = range(2014, 2025)
TRAIN = range(2015, 2023)
"""Years the calibration fits."""

TEST = range(2023, 2025)
"""Years held out from the calibration."""


def span(years: range) -> str:
    """``2015-2022`` for ``range(2015, 2023)``."""
    return f"{years.start}-{years.stop - 1}"


REPLICATIONS = 500
"""Runs averaged per cell: the largest Monte Carlo standard error of a cell mean is then about
0.005 pp (``mc_se_max_pp`` in the metrics)."""

SEED = 2014

NATO_COUNT_GE_2PCT_2024 = {"2025": 18, "2026": 17}
"""Allies at >=2% in 2024, all allies, per data edition: 18 on the Aug-2025 basis (DOMAIN §2),
17 on the July-2026 basis (scenarios/data/SOURCES.md). The data withhold six allies' 2024 values,
so these counts are NATO's, not computed from the files."""


@dataclass(frozen=True)
class Simulation:
    """Core % GDP of every replication of a scenario.

    Attributes:
        runs: Index (iso3, year), one column per run.
        replications: Runs.
        seed: Root seed of the runs' seeds.
        parameters: The scenario's resolved parameters.
        data_edition: Edition of NATO's tables the runs started from (and are compared with).
    """

    runs: pd.DataFrame
    replications: int
    seed: int
    parameters: Mapping[str, float]
    data_edition: str = DEFAULT_EDITION

    @property
    def mean(self) -> pd.Series:
        """Mean over runs, by (iso3, year)."""
        return self.runs.mean(axis=1)

    @property
    def standard_error(self) -> pd.Series:
        """Monte Carlo standard error of the mean, by (iso3, year)."""
        return self.runs.std(axis=1, ddof=1) / np.sqrt(self.replications)


def simulate(
    scenario: str | Scenario,
    replications: int,
    seed: int,
    posterior: Posterior | None = None,
    **parameters: float,
) -> Simulation:
    """Run ``replications`` runs of a scenario with the ensemble engine.

    Args:
        scenario: Scenario name, or a loaded ``Scenario`` (its ``data_edition`` included).
        replications: Runs (seeds spawned from ``seed`` as in a batch).
        seed: Root seed.
        posterior: Draw each run's parameters from it by its seed, as ``alliance batch`` does
            (``sim.uncertainty.run_scenarios``), or None for the scenario's.
        **parameters: Parameter values replacing the scenario's.

    Returns:
        Every run's core share by ally and year (only that column is recorded).
    """
    seeds = replication_seeds(seed, 0, replications)
    spec = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    spec = spec.with_parameters(**parameters) if parameters else spec
    points, per_point = [spec], [seeds]
    if posterior is not None:  # sim.uncertainty reads posterior files through sim.store
        from sim.uncertainty import run_scenarios

        points, per_point = run_scenarios(spec, seeds, posterior)[0], [[s] for s in seeds]
    rec = simulate_points(points, per_point, ally_columns=("core_pct_gdp",), alliance_columns=())
    n_years, n_allies = len(rec.years), len(rec.iso3)
    index = pd.MultiIndex.from_arrays(
        [np.repeat(rec.iso3, n_years), np.tile(rec.years, n_allies)], names=["iso3", "year"]
    )
    core = rec.allies["core_pct_gdp"].transpose(2, 1, 0).reshape(n_allies * n_years, -1)
    runs = pd.DataFrame(core, index=index, columns=pd.Index(seeds, name="seed"))
    return Simulation(runs, replications, seed, dict(spec.parameters), spec.data_edition)


def observed_core(edition: str = DEFAULT_EDITION) -> pd.DataFrame:
    """NATO's core % GDP in an edition, allies x years 2014-2025 (NaN: not published, withheld)."""
    return load_reference(edition=edition).core


def _scenario(name: str, data_edition: str) -> Scenario:
    """A named scenario on the given data edition (``ValueError`` if the edition is unknown)."""
    return load_scenario(name).with_data_edition(check_edition(data_edition))


def hindcast_table(sim: Simulation) -> pd.DataFrame:
    """Every ally and year 2014-2024: ``iso3, year, core_pct_gdp_sim, core_pct_gdp_obs``.

    The observations are those of the simulation's data edition.
    """
    obs = observed_core(sim.data_edition)
    table = sim.mean.rename("core_pct_gdp_sim").reset_index()
    table = table[table["year"].isin(YEARS)].reset_index(drop=True)
    cells = zip(table["iso3"], table["year"], strict=True)
    table["core_pct_gdp_obs"] = [obs.at[iso, year] for iso, year in cells]
    return table


def hindcast(
    replications: int = REPLICATIONS,
    seed: int = SEED,
    data_edition: str = DEFAULT_EDITION,
    **parameters: float,
) -> tuple[Simulation, pd.DataFrame]:
    """Run the hindcast: the simulation and its comparison table (``hindcast_table``).

    ``data_edition`` is the edition the runs start from and are compared with.
    """
    sim = simulate(_scenario(HINDCAST, data_edition), replications, seed, **parameters)
    return sim, hindcast_table(sim)


def _rmse(error: pd.Series) -> float:
    return float(np.sqrt((error**2).mean()))


def _wide(table: pd.DataFrame, column: str) -> pd.DataFrame:
    return table.pivot(index="iso3", columns="year", values=column)


def baselines(obs: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Naive forecasts of the panel from 2014 data: persistence and the 2014-2016 trend.

    Args:
        obs: Observed core % GDP, allies x years (2014 and 2016 included).

    Returns:
        ``persistence`` (the 2014 value carried forward) and ``trend`` (the 2014-2016 linear
        trend extended), allies x years like ``obs``.
    """
    years = np.asarray(obs.columns, dtype=float)
    start = obs[2014].to_numpy()[:, None]
    slope = ((obs[2016] - obs[2014]) / 2).to_numpy()[:, None]
    shape = np.broadcast_to(start, obs.shape)
    return {
        "persistence": pd.DataFrame(shape, obs.index, obs.columns),
        "trend": pd.DataFrame(start + slope * (years - 2014), obs.index, obs.columns),
    }


def _counts(share: pd.DataFrame, counted: pd.DataFrame) -> pd.Series:
    """Allies at >=2% per year (NATO's two-decimal rounding), among ``counted`` cells."""
    values = np.nan_to_num(share.to_numpy().T)
    return pd.Series(allies_at_or_above(values, 2.0, counted.to_numpy().T), share.columns)


def train_error_rmse(table: pd.DataFrame, years: range = TRAIN) -> float:
    """RMSE (pp) of ``hindcast_table`` over ``years``, published allies with forces.

    Over the training years, the ``rmse_train_pp`` of ``hindcast_metrics``, without its per-ally
    tables (the calibration's objective, evaluated thousands of times); over 2015-2024, the
    posterior's distance (``sim.abc``).
    """
    rows = table[
        table["year"].isin(years)
        & table["core_pct_gdp_obs"].notna()
        & ~table["iso3"].isin(NO_FORCES)
    ]
    return _rmse(rows["core_pct_gdp_sim"] - rows["core_pct_gdp_obs"])


def hindcast_metrics(table: pd.DataFrame, sim: Simulation) -> dict:
    """Fit of the hindcast against the published panel and against naive baselines (pp of GDP).

    Args:
        table: From ``hindcast_table``.
        sim: The simulation behind it.

    Returns:
        The contents of ``metrics.json`` (see ``docs/validation.md``).
    """
    sim_w, obs_w = _wide(table, "core_pct_gdp_sim"), _wide(table, "core_pct_gdp_obs")
    published = obs_w.notna() & ~obs_w.index.isin(NO_FORCES)[:, None]
    error = sim_w - obs_w
    naive = {name: forecast - obs_w for name, forecast in baselines(obs_w).items()}

    def cells(frame: pd.DataFrame, years: range) -> pd.Series:
        return frame[list(years)].where(published[list(years)]).stack()

    per_ally = {}
    for iso in obs_w.index[published[list(TEST)].any(axis=1)]:
        row = {
            "rmse_train_pp": _rmse(cells(error, TRAIN).loc[iso]),
            "rmse_test_pp": _rmse(cells(error, TEST).loc[iso]),
            "bias_test_pp": float(cells(error, TEST).loc[iso].mean()),
        }
        for name, err in naive.items():
            row[f"rmse_{name}_test_pp"] = _rmse(cells(err, TEST).loc[iso])
        per_ally[iso] = row

    counts_sim, counts_obs = _counts(sim_w, published), _counts(obs_w, published)
    with_forces = pd.DataFrame(True, obs_w.index, obs_w.columns).mul(
        ~obs_w.index.isin(NO_FORCES), axis=0
    )
    counts_all = _counts(sim_w, with_forces)
    standard_error = sim.standard_error.loc[pd.IndexSlice[:, list(YEARS)]]
    return {
        "scenario": HINDCAST,
        "data_edition": sim.data_edition,
        "replications": sim.replications,
        "seed": sim.seed,
        "mc_se_max_pp": float(standard_error.max()),
        "rmse_train_pp": train_error_rmse(table),
        "rmse_test_pp": _rmse(cells(error, TEST)),
        "bias_test_pp": float(cells(error, TEST).mean()),
        **{f"rmse_{name}_train_pp": _rmse(cells(err, TRAIN)) for name, err in naive.items()},
        **{f"rmse_{name}_test_pp": _rmse(cells(err, TEST)) for name, err in naive.items()},
        "cells_train": int(published[list(TRAIN)].to_numpy().sum()),
        "cells_test": int(published[list(TEST)].to_numpy().sum()),
        "count_ge_2pct_2024_sim": int(counts_sim[2024]),
        "count_ge_2pct_2024_obs": int(counts_obs[2024]),
        "count_ge_2pct_2024_sim_all_allies": int(counts_all[2024]),
        "count_ge_2pct_2024_nato_all_allies": NATO_COUNT_GE_2PCT_2024[sim.data_edition],
        "count_ge_2pct_by_year": {
            str(year): {
                "sim": int(counts_sim[year]),
                "obs": int(counts_obs[year]),
                "published_allies": int(published[year].sum()),
                "sim_all_allies": int(counts_all[year]),
            }
            for year in YEARS
        },
        "per_ally": per_ally,
        "withheld": list(WITHHELD),
        "parameters": dict(sim.parameters),
    }


def step_2025(
    replications: int = REPLICATIONS,
    seed: int = SEED,
    data_edition: str = DEFAULT_EDITION,
    posterior: Posterior | None = None,
    plans_known_by: date | None = None,
    **parameters: float,
) -> dict:
    """One year from each ally's 2024 state under the post-2024 US demand, against NATO's 2025.

    Compared allies have published 2024 and 2025 values in the edition: not the withheld six
    (their 2024 start is interpolated toward their 2025 value), not Iceland, and on the 2025
    edition not Germany (no 2025 figure there; the 2026 edition publishes it).

    Args:
        replications: Runs averaged.
        seed: Root seed.
        data_edition: Edition the runs start from and are compared with.
        posterior: Draw each run's parameters from it (as the CLI forecasts by default), or None
            for the calibrated ones.
        plans_known_by: Run with the national plans announced up to this date (``HINDSIGHT``:
            with 2025's decisions), or None for those known on 31 December 2024.
        **parameters: Parameter values replacing the scenario's.

    Returns:
        ``table`` (iso3, core_2024_obs, core_2025_sim, core_2025_obs, compared) and metrics:
        ``rmse_2025_pp``, ``rmse_2025_persistence_pp`` (2024 carried forward) and the counts
        at >=2% in 2025 among the compared allies.
    """
    spec = replace(_scenario(STEP_2025, data_edition), plans_known_by=plans_known_by)
    sim = simulate(spec, replications, seed, posterior, **parameters)
    obs = observed_core(sim.data_edition)
    runs = sim.runs.xs(2025, level="year")
    table = pd.DataFrame(
        {
            "core_2024_obs": obs[2024],
            "core_2025_sim": sim.mean.xs(2025, level="year"),
            "core_2025_sim_p05": runs.quantile(0.05, axis=1),
            "core_2025_sim_p95": runs.quantile(0.95, axis=1),
            "core_2025_obs": obs[2025],
        }
    )
    table["compared"] = table[["core_2024_obs", "core_2025_obs"]].notna().all(axis=1) & (
        ~table.index.isin([*WITHHELD, *NO_FORCES])
    )
    c = table[table["compared"]]

    def at_2pct(column: str) -> int:
        return int(allies_at_or_above(c[column].to_numpy(), 2.0, np.ones(len(c), dtype=bool)))

    return {
        "table": table.rename_axis("iso3").reset_index(),
        "scenario": STEP_2025,
        "data_edition": sim.data_edition,
        "plans_known_by": spec.plans_as_of.isoformat(),
        "allies_compared": len(c),
        "rmse_2025_pp": _rmse(c["core_2025_sim"] - c["core_2025_obs"]),
        "rmse_2025_persistence_pp": _rmse(c["core_2024_obs"] - c["core_2025_obs"]),
        "mean_change_2025_sim_pp": float((c["core_2025_sim"] - c["core_2024_obs"]).mean()),
        "mean_change_2025_obs_pp": float((c["core_2025_obs"] - c["core_2024_obs"]).mean()),
        "count_ge_2pct_2024_obs": at_2pct("core_2024_obs"),
        "count_ge_2pct_2025_sim": at_2pct("core_2025_sim"),
        "count_ge_2pct_2025_obs": at_2pct("core_2025_obs"),
    }


def withheld_2025(sim: Simulation) -> dict:
    """The hindcast's 2025 against NATO's 2025 estimates: withheld allies versus the others.

    The hindcast has no 2025 US demand, so both groups are off; the question is whether the
    allies whose 2015-2024 paths were withheld are predicted as well as the rest. The estimates
    are those of the simulation's data edition.
    """
    obs = observed_core(sim.data_edition)[2025]
    simulated = sim.mean.xs(2025, level="year")
    error = (simulated - obs).dropna().drop(list(NO_FORCES), errors="ignore")
    held = error.index.isin(WITHHELD)
    return {
        "rmse_2025_withheld_pp": _rmse(error[held]),
        "rmse_2025_others_pp": _rmse(error[~held]),
        "error_2025_withheld_pp": {iso: float(error[iso]) for iso in error.index[held]},
    }


@dataclass(frozen=True)
class Validation:
    """Everything ``alliance validate`` reports.

    Attributes:
        hindcast: The hindcast's runs.
        table: ``hindcast_table`` of it.
        step: ``step_2025``'s table (one row per ally).
        metrics: ``hindcast_metrics`` plus ``step_2025`` (without its table),
            ``withheld_2025`` and, with a posterior, ``step_2025_posterior``.
    """

    hindcast: Simulation
    table: pd.DataFrame
    step: pd.DataFrame
    metrics: dict


def validate(
    replications: int = REPLICATIONS,
    seed: int = SEED,
    data_edition: str = DEFAULT_EDITION,
    posterior: Posterior | None = None,
) -> Validation:
    """Run the hindcast and the 2025 step with the default (calibrated) parameters.

    Both start from, and are compared with, NATO's ``data_edition`` (recorded in the metrics).
    With a ``posterior``, the 2025 step also runs with each run's parameters drawn from it, as
    ``alliance batch`` and ``alliance run`` forecast by default (``step_2025_posterior``).
    The step runs again with hindsight (``HINDSIGHT``: the plans decided during 2025), with the
    posterior when given; ``step_2025_by_ally`` shows both per ally (posterior draws when given).
    """
    sim, table = hindcast(replications, seed, data_edition)
    step = drawn = step_2025(replications, seed, data_edition)
    metrics = hindcast_metrics(table, sim)
    metrics["step_2025"] = {k: v for k, v in step.items() if k != "table"}
    if posterior is not None:
        drawn = step_2025(replications, seed, data_edition, posterior)
        metrics["step_2025_posterior"] = {k: v for k, v in drawn.items() if k != "table"}
        metrics["step_2025_posterior"]["posterior_train"] = posterior.metadata.get("train")
    hindsight = step_2025(replications, seed, data_edition, posterior, HINDSIGHT)
    metrics["step_2025_hindsight"] = {k: v for k, v in hindsight.items() if k != "table"}
    metrics["step_2025_by_ally"] = step_by_ally(drawn, hindsight)
    metrics["withheld_2025"] = withheld_2025(sim)
    return Validation(sim, table, step["table"], metrics)


def step_by_ally(step: dict, hindsight: dict) -> dict:
    """The 2025 step per compared ally, largest miss first, as the report's table shows it.

    Returns:
        iso3 -> ``core_2024_obs``, the forecast's mean and 5-95% band (``core_2025_sim``,
        ``_p05``, ``_p95``), ``core_2025_hindsight`` (the mean knowing 2025's plans),
        ``core_2025_obs``, ``error_pp`` (forecast - published) and ``revision_pp``: how NATO's
        2025 figure moved from the 2025 edition (June 2025 estimate) to the 2026 edition.
    """
    table = step["table"].set_index("iso3")
    c = table[table["compared"]].copy()
    c["core_2025_hindsight"] = hindsight["table"].set_index("iso3")["core_2025_sim"]
    c["error_pp"] = c["core_2025_sim"] - c["core_2025_obs"]
    c["revision_pp"] = observed_core("2026")[2025] - observed_core("2025")[2025]
    c = c.reindex(c["error_pp"].abs().sort_values(ascending=False).index)
    columns = ["core_2024_obs", "core_2025_sim", "core_2025_sim_p05", "core_2025_sim_p95",
               "core_2025_hindsight", "core_2025_obs", "error_pp", "revision_pp"]  # fmt: skip
    return {
        iso: {k: None if pd.isna(v) else float(v) for k, v in row.items()}
        for iso, row in c[columns].iterrows()
    }
