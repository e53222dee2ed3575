"""The numbers behind the browser app's views, as tables (so they are tested without a browser).

Each function reads a running ``AllianceModel`` or runs the ensemble engine; none computes a
mechanism of its own: the pledged path is ``sim.dynamics.core_path``, the replications are
``run_ensemble`` seeded as ``alliance batch`` seeds them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.dynamics import core_path
from sim.ensemble import run_ensemble
from sim.model import AllianceModel
from sim.parameters import CATEGORIES
from sim.scenario import Scenario
from sim.shocks import replication_seeds

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


@dataclass(frozen=True)
class Bands:
    """Quantiles of the alliance measures over replications of one setting.

    Attributes:
        scenario: The resolved scenario the replications ran.
        seed: Root seed; the runs are those of ``alliance batch SCENARIO --seed SEED``.
        runs: Number of replications.
        quantiles: Index year; columns (measure, quantile) for ``BAND_MEASURES`` and
            ``BAND_QUANTILES``.
    """

    scenario: Scenario
    seed: int
    runs: int
    quantiles: pd.DataFrame


def uncertainty_bands(scenario: Scenario, seed: int, runs: int) -> Bands:
    """Run ``runs`` replications with the ensemble engine and take the bands' quantiles.

    Args:
        scenario: The resolved scenario (parameters included).
        seed: Root seed of the replications.
        runs: Number of replications (at least 1).

    Returns:
        The quantiles of each measure in each year.

    Raises:
        ValueError: ``runs`` below 1.
    """
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    seeds = replication_seeds(seed, 0, runs)
    alliance = run_ensemble(scenario, seeds).alliance
    grouped = alliance.groupby("year")[list(BAND_MEASURES)]
    quantiles = grouped.quantile(list(BAND_QUANTILES)).unstack()
    quantiles.columns = quantiles.columns.set_names(["measure", "quantile"])
    return Bands(scenario, seed, runs, quantiles.astype(np.float64))
