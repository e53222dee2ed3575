"""sim.columns: the output columns both engines record, a contract later layers rely on."""

import numpy as np
import pytest

from sim.columns import ALLIANCE_COLUMNS, ALLIANCE_TABLE, ALLIES_TABLE, ALLY_COLUMNS
from sim.dynamics import alliance_measures, ally_measures
from sim.ensemble import run_ensemble
from sim.initial import build_initial_state
from sim.parameters import CATEGORIES
from sim.run import run_scenario
from sim.scenario import load_scenario

KEYS = ("scenario", "seed", "year")
"""What identifies a row of either table: the run and the year."""


@pytest.fixture(scope="module")
def one_year():
    """us-demand-2025 (2024 -> 2025) run by both engines with seed 4: (Mesa, ensemble)."""
    return run_scenario("us-demand-2025", seed=4), run_ensemble("us-demand-2025", [4])


def test_ally_columns_are_the_budget_the_forces_and_one_fulfilment_per_category():
    """Money and personnel first, then fulfil_<category> in CATEGORIES order, then overall."""
    assert ALLY_COLUMNS[:6] == (
        "gdp_usd_bn",
        "core_pct_gdp",
        "related_pct_gdp",
        "total_pct_gdp",
        "spending_usd_bn",
        "personnel_k",
    )
    assert ALLY_COLUMNS[6:] == (*(f"fulfil_{c}" for c in CATEGORIES), "fulfil_overall")
    assert len(set(ALLY_COLUMNS)) == len(ALLY_COLUMNS) == 6 + len(CATEGORIES) + 1


def test_alliance_columns_name_every_alliance_measure_once():
    """Threat and the US first, then the counts, the gap and the burden measures, no repeats."""
    assert ALLIANCE_COLUMNS[:3] == ("threat", "us_pressure", "us_retrenchment")
    assert len(set(ALLIANCE_COLUMNS)) == len(ALLIANCE_COLUMNS) == 10
    assert {"capability_gap", "mean_core_pct_gdp", "burden_gdp_spearman"} <= set(ALLIANCE_COLUMNS)


def test_tables_are_the_keys_then_the_measures():
    """Allies: run, year, iso3 and name, then ALLY_COLUMNS; alliance: run, year, the rest."""
    assert (*KEYS, "iso3", "name", *ALLY_COLUMNS) == ALLIES_TABLE
    assert (*KEYS, *ALLIANCE_COLUMNS) == ALLIANCE_TABLE
    assert set(ALLIES_TABLE).isdisjoint(ALLIANCE_COLUMNS)
    assert set(ALLIANCE_TABLE).isdisjoint(ALLY_COLUMNS)


@pytest.mark.parametrize("engine", ["mesa", "ensemble"])
def test_both_engines_record_exactly_these_columns_in_this_order(one_year, engine):
    """Each engine's tables have the contract's columns, integer keys and integer counts."""
    result = one_year[0] if engine == "mesa" else one_year[1]
    allies, alliance = result.allies, result.alliance
    assert tuple(allies.columns) == ALLIES_TABLE
    assert tuple(alliance.columns) == ALLIANCE_TABLE
    for table in (allies, alliance):
        assert table["seed"].dtype == np.int64 and table["year"].dtype == np.int64
        assert set(table["scenario"]) == {"us-demand-2025"}
    for column in ALLY_COLUMNS:
        assert allies[column].dtype == np.float64, column
    for column in ALLIANCE_COLUMNS:
        kind = np.int64 if column.startswith("allies_ge") else np.float64
        assert alliance[column].dtype == kind, column


def test_the_measure_functions_compute_the_columns_in_the_contracts_order():
    """``ally_measures`` gives ALLY_COLUMNS; ``alliance_measures`` the rest of ALLIANCE_COLUMNS."""
    s = build_initial_state(load_scenario("hague-2035"))
    total = s.core + s.related
    allies = ally_measures(s.gdp, s.core, s.related, s.personnel, s.stock, s.targets)
    assert tuple(allies) == ALLY_COLUMNS
    alliance = alliance_measures(s.core, total, s.gdp, s.stock, s.targets, 0.0, s)
    assert tuple(alliance) == ALLIANCE_COLUMNS[3:]
