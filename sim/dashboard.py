"""The numbers behind the browser app's views, as tables (so they are tested without a browser).

Each function reads a running ``AllianceModel``, its tables (``sim.run.model_tables``), the
project's data or a forecast; none computes a mechanism of its own: the pledged path is
``sim.dynamics.core_path``, the national plan is the model's own ``initial.plan``
(``sim.plans``), the personnel goal is ``initial.personnel_goal``, and the bands are
``sim.forecast.make_forecast``, the forecast ``alliance run`` prints (with the posterior when the
project has one, ``sim.uncertainty.resolve``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.dynamics import core_path
from sim.forecast import Forecast, make_forecast
from sim.model import AllianceModel
from sim.parameters import CATEGORIES
from sim.posterior import PosteriorFileError
from sim.run import model_tables
from sim.scenario import Scenario
from sim.uncertainty import resolve

CATEGORY_LABELS: dict[str, str] = {
    "air_missile_defence": "Air & missile defence",
    "long_range_strike": "Long-range strike",
    "logistics": "Logistics",
    "land_formations": "Land formations",
    "command_control": "Command & control",
}
"""Readable names of the five capability categories (``CATEGORIES``)."""

BAND_MEASURES: dict[str, str] = {
    "allies_ge_3_5pct_core": "Allies at >= 3.5% core",
    "allies_ge_2pct": "Allies at >= 2% core",
    "capability_gap": "Capability gap",
    "mean_core_pct_gdp": "Mean core spending (% GDP)",
}
"""Alliance measures drawn with uncertainty bands, with their labels."""

BAND_QUANTILES = (0.05, 0.5, 0.95)
"""The band's lower edge, median and upper edge."""


def ally_table(model: AllianceModel) -> pd.DataFrame:
    """Allies with forces in the current year, the furthest below its pledged path first.

    Args:
        model: A running model.

    Returns:
        One row per ally, indexed by rank from 1: name, core, pledged path and distance to it
        (core - path, pp; negative is behind), total % GDP, overall fulfilment of its capability
        targets (%) and personnel (thousands).
    """
    path = core_path(model.year, model.initial, model.spec, model.review)
    allies = [(a, path[a.index]) for a in model.by_index if a.has_forces]
    table = pd.DataFrame(
        {
            "Ally": [a.name for a, _ in allies],
            "Core % GDP": [a.core_pct_gdp for a, _ in allies],
            "Path % GDP": [p for _, p in allies],
            "Distance (pp)": [a.core_pct_gdp - p for a, p in allies],
            "Total % GDP": [a.total_pct_gdp for a, _ in allies],
            "Fulfilment %": [100 * a.fulfil_overall for a, _ in allies],
            "Personnel (k)": [a.personnel_k for a, _ in allies],
        }
    )
    table = table.sort_values(["Distance (pp)", "Ally"], kind="stable", ignore_index=True)
    table.index = pd.RangeIndex(1, len(table) + 1, name="Rank")
    return table


def fulfilment_matrix(model: AllianceModel) -> pd.DataFrame:
    """Capability fulfilment in the current year: allies with forces x the five categories.

    Args:
        model: A running model.

    Returns:
        Share of each target met (0-1), rows ordered from the lowest overall fulfilment.
    """
    allies = sorted((a for a in model.by_index if a.has_forces), key=lambda a: a.fulfil_overall)
    return pd.DataFrame(
        [[getattr(a, f"fulfil_{c}") for c in CATEGORIES] for a in allies],
        index=pd.Index([a.name for a in allies], name="Ally"),
        columns=[CATEGORY_LABELS[c] for c in CATEGORIES],
    )


def fulfilment_table(allies: pd.DataFrame, year: int) -> pd.DataFrame:
    """``fulfilment_matrix`` from a run's allies table (a comparison run has no model at hand).

    Args:
        allies: A run's allies table (``sim.run.model_tables``).
        year: The year to read.

    Returns:
        Share of each target met (0-1) per ally in ``year``, rows from the lowest overall
        fulfilment; every ally of the table (those without forces included).
    """
    rows = allies[allies["year"] == year].sort_values(["fulfil_overall", "name"], kind="stable")
    matrix = rows.set_index("name")[[f"fulfil_{c}" for c in CATEGORIES]]
    matrix.columns = [CATEGORY_LABELS[c] for c in CATEGORIES]
    return matrix.rename_axis("Ally").astype(np.float64)


@dataclass(frozen=True)
class Bands:
    """Quantiles over replications of one setting: ``sim.forecast.make_forecast``'s, as a view.

    Attributes:
        forecast: The forecast (every ally and alliance measure's quantiles).
        quantiles: Index year; columns (measure, quantile) for ``BAND_MEASURES`` and
            ``BAND_QUANTILES`` (the alliance rows of ``forecast``).
        fallback: Why the default posterior was not used (empty when it was, or not asked for).
    """

    forecast: Forecast
    quantiles: pd.DataFrame
    fallback: str = ""

    @property
    def scenario(self) -> Scenario:
        """The resolved scenario the replications ran."""
        return self.forecast.scenario

    @property
    def seed(self) -> int:
        """Root seed; the runs are those of ``alliance batch SCENARIO --seed SEED``."""
        return self.forecast.seed

    @property
    def runs(self) -> int:
        """Number of replications."""
        return self.forecast.replications

    @property
    def uncertainty(self) -> str:
        """``shocks`` or ``posterior``: what the runs differ in."""
        return self.forecast.uncertainty

    @property
    def description(self) -> str:
        """What the bands are drawn from, as the page says it."""
        if self.uncertainty == "posterior":
            return f"bands: parameter draws from the posterior and shocks, {self.runs} runs"
        if self.fallback:
            return f"bands: shocks only, {self.runs} runs ({self.fallback})"
        return f"bands: shocks only, {self.runs} runs"


def uncertainty_bands(
    scenario: Scenario, seed: int, runs: int, uncertainty: str | None = None
) -> Bands:
    """The forecast of ``alliance run`` for these settings, with its alliance bands as a table.

    Args:
        scenario: The resolved scenario (parameters included).
        seed: Root seed of the replications.
        runs: Number of replications (at least 1).
        uncertainty: ``shocks``, ``posterior`` or None for the project's default (the posterior
            when ``scenarios/posterior.toml`` exists, ``sim.uncertainty.resolve``). With the
            default, an unusable posterior file gives shocks only, and the bands say why.

    Returns:
        The forecast and the quantiles of each ``BAND_MEASURES`` measure in each year.

    Raises:
        ValueError: ``runs`` below 1, or an unknown ``uncertainty``.
        PosteriorFileError: ``posterior`` asked for by name, and its file is unusable.
    """
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    fallback = ""
    try:
        _, posterior = resolve(uncertainty)
    except PosteriorFileError as error:
        if uncertainty is not None:  # asked for by name: the caller's to handle
            raise
        fallback, posterior = f"the posterior file is unusable: {error}", None
    forecast = make_forecast(scenario, seed, runs, posterior)
    rows = forecast.alliance.set_index(["year", "quantile"])[list(BAND_MEASURES)]
    quantiles = rows.unstack("quantile")
    quantiles.columns = quantiles.columns.set_names(["measure", "quantile"])
    quantiles = quantiles.loc[:, [(m, q) for m in BAND_MEASURES for q in BAND_QUANTILES]]
    return Bands(forecast, quantiles.sort_index().astype(np.float64), fallback)


# --- the app's charts, as long tables ----------------------------------------------------------
AGGREGATE_PANELS: dict[str, dict[str, str]] = {
    "Allies meeting each bar": {
        "allies_ge_2pct": ">= 2% core",
        "allies_ge_3_5pct_core": ">= 3.5% core",
        "allies_ge_5pct_total": ">= 5% total",
    },
    "Capability gap (% of targets unmet)": {"capability_gap": "capability gap"},
    "US share of alliance spending (%)": {"us_share_of_spending": "US share"},
    "Threat and US pressure": {"threat": "threat (1 = 2022)", "us_pressure": "US pressure (0-1)"},
}
"""The alliance chart's four panels: alliance columns and their labels."""
PERCENT_MEASURES = ("capability_gap", "us_share_of_spending")
"""Alliance shares (0-1) the charts show in %."""
THIS_RUN = "this run"
"""The run label of the run on screen in long tables."""


def run_tables(model: AllianceModel) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The model's allies and alliance tables so far (``sim.run.model_tables``)."""
    return model_tables(model, model.seed)


def aggregates_long(runs: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The alliance chart's series of one or more runs, one row per value.

    Args:
        runs: Alliance tables by run label (``THIS_RUN`` and a comparison).

    Returns:
        ``run, panel, series, year, value`` (shares in %).
    """
    frames = []
    for run, alliance in runs.items():
        for panel, columns in AGGREGATE_PANELS.items():
            for column, label in columns.items():
                scale = 100.0 if column in PERCENT_MEASURES else 1.0
                frames.append(
                    pd.DataFrame(
                        {
                            "run": run,
                            "panel": panel,
                            "series": label,
                            "year": alliance["year"].to_numpy(),
                            "value": scale * alliance[column].to_numpy(dtype=float),
                        }
                    )
                )
    return pd.concat(frames, ignore_index=True)


def trajectories_long(runs: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every ally's core and total spending and overall fulfilment, of one or more runs.

    Args:
        runs: Allies tables by run label.

    Returns:
        ``run, name, year, core, total, fulfil`` (fulfilment in %).
    """
    frames = [
        pd.DataFrame(
            {
                "run": run,
                "name": allies["name"].to_numpy(),
                "year": allies["year"].to_numpy(),
                "core": allies["core_pct_gdp"].to_numpy(),
                "total": allies["total_pct_gdp"].to_numpy(),
                "fulfil": 100 * allies["fulfil_overall"].to_numpy(),
            }
        )
        for run, allies in runs.items()
    ]
    return pd.concat(frames, ignore_index=True)


def heatmap_long(matrices: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Fulfilment matrices (``fulfilment_matrix``) as ``run, ally, category, value`` (%)."""
    frames = []
    for run, matrix in matrices.items():
        long = (100 * matrix).rename_axis(index="ally", columns="category").stack()
        frames.append(long.rename("value").reset_index().assign(run=run))
    return pd.concat(frames, ignore_index=True)[["run", "ally", "category", "value"]]


def category_spread(matrix: pd.DataFrame) -> float:
    """The largest gap between an ally's best and worst category (percentage points)."""
    return float(100 * (matrix.max(axis=1) - matrix.min(axis=1)).max()) if len(matrix) else 0.0


def bands_long(bands: Bands) -> pd.DataFrame:
    """The bands as ``measure, year, low, median, high`` (capability gap in %)."""
    low, mid, high = BAND_QUANTILES
    q = bands.quantiles
    frames = []
    for measure, label in BAND_MEASURES.items():
        scale = 100.0 if measure in PERCENT_MEASURES else 1.0
        frames.append(
            pd.DataFrame(
                {
                    "measure": label,
                    "year": q.index.to_numpy(),
                    "low": scale * q[(measure, low)].to_numpy(),
                    "median": scale * q[(measure, mid)].to_numpy(),
                    "high": scale * q[(measure, high)].to_numpy(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def band_runs_long(runs: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The ``BAND_MEASURES`` of one or more runs, as ``run, measure, year, value``."""
    frames = []
    for run, alliance in runs.items():
        for measure, label in BAND_MEASURES.items():
            scale = 100.0 if measure in PERCENT_MEASURES else 1.0
            frames.append(
                pd.DataFrame(
                    {
                        "run": run,
                        "measure": label,
                        "year": alliance["year"].to_numpy(),
                        "value": scale * alliance[measure].to_numpy(dtype=float),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


# --- one ally ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class AllyView:
    """One ally's spending against its plan and pledge, its capabilities and its personnel.

    Attributes:
        name: The ally.
        spending: ``run, series, year, value``: core and total (% GDP) of each run so far, the
            national plan (the model's ``initial.plan``, from the observed start share) and the
            pledge path (``core_path`` with the review factor as it stands).
        band: ``series, year, low, median, high``: the 5-95% band of core and total over the
            forecast's runs (empty without a forecast).
        categories: ``category, year, value``: each capability target met (%) in this run.
        personnel: ``year, value``: active personnel (thousands) in this run.
        personnel_goal: The ally's personnel goal (thousands).
        has_plan: Whether the ally has a national plan in this scenario.
    """

    name: str
    spending: pd.DataFrame
    band: pd.DataFrame
    categories: pd.DataFrame
    personnel: pd.DataFrame
    personnel_goal: float
    has_plan: bool


def ally_view(
    model: AllianceModel,
    name: str,
    runs: dict[str, pd.DataFrame],
    forecast: Forecast | None = None,
) -> AllyView:
    """The numbers of the ally view.

    Args:
        model: The running model (its start state holds the plan and the goal).
        name: The ally's name.
        runs: Allies tables by run label, ``THIS_RUN`` first.
        forecast: A forecast of the same settings, for the band (None: no band).

    Returns:
        The view's tables.

    Raises:
        KeyError: An unknown ally.
    """
    s, spec = model.initial, model.spec
    names = list(s.names)
    if name not in names:
        raise KeyError(f"unknown ally {name!r}")
    i = names.index(name)
    frames = []
    for run, allies in runs.items():
        mine = allies[allies["name"] == name]
        for column, series in (("core_pct_gdp", "core"), ("total_pct_gdp", "total")):
            frames.append(
                pd.DataFrame(
                    {
                        "run": run,
                        "series": series,
                        "year": mine["year"].to_numpy(),
                        "value": mine[column].to_numpy(),
                    }
                )
            )
    years = np.array(spec.years)
    plan = s.plan[:, i]
    planned = ~np.isnan(plan)
    if planned.any():
        frames.append(
            pd.DataFrame(
                {
                    "run": THIS_RUN,
                    "series": "national plan",
                    "year": np.concatenate([[spec.start_year], years[1:][planned]]),
                    "value": np.concatenate([[s.core[i]], plan[planned]]),
                }
            )
        )
    path = [core_path(int(y), s, spec, model.review)[i] for y in years]
    frames.append(
        pd.DataFrame({"run": THIS_RUN, "series": "pledge path", "year": years, "value": path})
    )
    band = pd.DataFrame(columns=["series", "year", "low", "median", "high"])
    if forecast is not None:
        rows = forecast.allies[forecast.allies["name"] == name]
        parts = []
        for column, series in (("core_pct_gdp", "core"), ("total_pct_gdp", "total")):
            wide = rows.pivot(index="year", columns="quantile", values=column)
            low, mid, high = (wide[q].to_numpy() for q in BAND_QUANTILES)
            parts.append(
                pd.DataFrame(
                    {
                        "series": series,
                        "year": wide.index.to_numpy(),
                        "low": low,
                        "median": mid,
                        "high": high,
                    }
                )
            )
        band = pd.concat(parts, ignore_index=True)
    mine = runs[THIS_RUN][runs[THIS_RUN]["name"] == name]
    categories = pd.concat(
        [
            pd.DataFrame(
                {
                    "category": CATEGORY_LABELS[c],
                    "year": mine["year"].to_numpy(),
                    "value": 100 * mine[f"fulfil_{c}"].to_numpy(),
                }
            )
            for c in CATEGORIES
        ],
        ignore_index=True,
    )
    personnel = pd.DataFrame(
        {"year": mine["year"].to_numpy(), "value": mine["personnel_k"].to_numpy()}
    )
    return AllyView(
        name,
        pd.concat(frames, ignore_index=True),
        band,
        categories,
        personnel,
        float(s.personnel_goal[i]),
        bool(planned.any()),
    )


# --- comparison --------------------------------------------------------------------------------
COMPARE_YEARS = (2030, 2035)
"""The years the comparison table sets side by side (those both runs have)."""


def compare_years(this: pd.DataFrame, other: pd.DataFrame) -> list[int]:
    """``COMPARE_YEARS`` both runs reach, or their last common year when they share neither."""
    common = sorted(set(this["year"]) & set(other["year"]))
    chosen = [y for y in COMPARE_YEARS if y in common]
    return chosen or common[-1:]


def compare_table(this: pd.DataFrame, other: pd.DataFrame, label: str) -> pd.DataFrame:
    """Per ally, core and total spending of two runs and their difference in the compared years.

    Args:
        this: The allies table of the run on screen (run to its end).
        other: The allies table of the comparison run.
        label: The comparison's name, for the column titles.

    Returns:
        One row per ally: for each year of ``compare_years``, core (this
        run, ``label``), the difference (this - ``label``, pp) and the total's difference.
    """
    years = compare_years(this, other)
    table = pd.DataFrame({"Ally": this.loc[this["year"] == years[0], "name"].to_numpy()})
    for year in years:
        a = this[this["year"] == year].set_index("name")
        b = other[other["year"] == year].set_index("name")
        core_a, core_b = a["core_pct_gdp"].reindex(table["Ally"]), b["core_pct_gdp"]
        core_b = core_b.reindex(table["Ally"])
        total_diff = a["total_pct_gdp"].reindex(table["Ally"]) - b["total_pct_gdp"].reindex(
            table["Ally"]
        )
        table[f"Core {year}"] = core_a.to_numpy()
        table[f"Core {year} {label}"] = core_b.to_numpy()
        table[f"Core diff {year} (pp)"] = (core_a - core_b).to_numpy()
        table[f"Total diff {year} (pp)"] = total_diff.to_numpy()
    return table
