"""The output columns both engines record: a contract later layers and users rely on."""

from __future__ import annotations

from sim.parameters import CATEGORIES

ALLY_COLUMNS = (
    "gdp_usd_bn",
    "core_pct_gdp",
    "related_pct_gdp",
    "total_pct_gdp",
    "spending_usd_bn",
    "personnel_k",
    *(f"fulfil_{name}" for name in CATEGORIES),
    "fulfil_overall",
)
"""Per-ally measures recorded each year (``sim.dynamics.ally_measures``; agent attributes)."""

ALLIANCE_COLUMNS = (
    "threat",
    "us_pressure",
    "us_retrenchment",
    "allies_ge_2pct",
    "allies_ge_3_5pct_core",
    "allies_ge_5pct_total",
    "capability_gap",
    "us_share_of_spending",
    "mean_core_pct_gdp",
    "burden_gdp_spearman",
)
"""Alliance measures recorded each year (``sim.dynamics.alliance_measures``; model attributes)."""

ALLIES_TABLE = ("scenario", "seed", "year", "iso3", "name", *ALLY_COLUMNS)
"""Columns of the allies table."""
ALLIANCE_TABLE = ("scenario", "seed", "year", *ALLIANCE_COLUMNS)
"""Columns of the alliance table."""
