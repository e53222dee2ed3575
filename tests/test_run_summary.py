"""sim.run_summary: what ``alliance run`` prints, checked against the run's own tables."""

import re

import numpy as np
import pytest

from sim.ensemble import run_ensemble
from sim.initial import build_initial_state
from sim.run import run_scenario
from sim.run_summary import (
    PLAN_YEARS,
    alliance_lines,
    format_run,
    plan_vs_forecast,
    plans_table,
    run_heading,
)
from sim.scenario import load_scenario

ALLIANCE_LABELS = {
    "allies at >= 2% core": ("allies_ge_2pct", "{:.0f}"),
    "allies at >= 3.5% core": ("allies_ge_3_5pct_core", "{:.0f}"),
    "allies at >= 5% total": ("allies_ge_5pct_total", "{:.0f}"),
    "mean core share, % GDP": ("mean_core_pct_gdp", "{:.2f}"),
    "capability gap, share unmet": ("capability_gap", "{:.3f}"),
    "US share of core spending": ("us_share_of_spending", "{:.3f}"),
    "US pressure, 0-1": ("us_pressure", "{:.2f}"),
    "US retrenchment, 0-1": ("us_retrenchment", "{:.2f}"),
}
"""Each alliance line of the summary: its column and format."""


@pytest.fixture(scope="module")
def hague7():
    """hague-2035 run with seed 7."""
    return run_scenario("hague-2035", seed=7)


@pytest.fixture(scope="module")
def printed(hague7):
    """``format_run`` of it, as lines."""
    return format_run(hague7).splitlines()


# --- format_run --------------------------------------------------------------------------------


def test_format_run_opens_with_the_scenario_its_data_and_the_seed(hague7, printed):
    """Scenario and description, edition and years, then which seed and final year."""
    s = hague7.scenario
    assert printed[:2] == [f"hague-2035: {s.description}", "NATO data edition 2026, 2025-2035."]
    assert printed[:2] == run_heading(s)
    assert printed[2].startswith("One run, seed 7: one draw of the shocks")
    assert printed[2].endswith("Final year 2035:")


def test_format_run_lists_every_ally_with_its_final_year_values(hague7, printed):
    """One line per ally: core and total % GDP, capability met and personnel, as in the table."""
    final = hague7.allies[hague7.allies["year"] == 2035]
    for row in final.itertuples():
        label = f"{row.iso3} {row.name[:16]}"
        (line,) = [line for line in printed if line.strip().startswith(label)]
        cells = line.strip().removeprefix(label).split()
        assert cells == [
            f"{row.core_pct_gdp:.2f}",
            f"{row.total_pct_gdp:.2f}",
            f"{row.fulfil_overall:.2f}",
            f"{row.personnel_k:.1f}",
        ], label


def test_format_run_gives_the_alliance_in_the_final_year_with_the_start_in_brackets(
    hague7, printed
):
    """Each alliance line is the final year's value, then the start year's, in its format."""
    end = hague7.alliance.set_index("year").loc[2035]
    start = hague7.alliance.set_index("year").loc[2025]
    text = "\n".join(printed)
    for label, (column, fmt) in ALLIANCE_LABELS.items():
        found = re.search(rf"^  {re.escape(label)}:\s+(\S+)  \((\S+)\)$", text, re.MULTILINE)
        assert found, label
        assert found.groups() == (fmt.format(end[column]), fmt.format(start[column])), label
    assert 0 <= end["capability_gap"] <= 1  # a share, printed as a share


def test_format_run_says_which_allies_the_counts_leave_out(printed):
    """31 allies with armed forces; Iceland has none."""
    (line,) = [line for line in printed if line.startswith("Alliance in 2035")]
    assert "(start 2025 in brackets)" in line
    assert line.endswith("counts are of the 31 allies with armed forces (Iceland has none):")


def test_format_run_ends_with_each_allys_plan_against_the_run(hague7, printed):
    """The plans table: a plan or '-' and the run's core share for 2026, 2029 and 2035."""
    table = plan_vs_forecast(hague7.scenario, hague7.allies)
    at = printed.index(
        "National plans against seed 7, one draw (core % GDP on NATO's basis; announced by "
        "2025-12-31; '-' = no plan that year):"
    )
    header = ["ally", *(word for y in PLAN_YEARS for word in (f"{y}:", "plan", "model"))]
    assert printed[at + 1].split() == header
    rows = printed[at + 2 :]
    assert len(rows) == len(table) == 31
    for line, row in zip(rows, table.itertuples(index=False), strict=True):
        cells = line.split()
        expected = [row.iso3]
        for y in PLAN_YEARS:
            plan = getattr(row, f"plan_{y}")
            expected += [
                "-" if np.isnan(plan) else f"{plan:.2f}",
                f"{getattr(row, f'core_{y}'):.2f}",
            ]
        assert cells == expected


def test_a_run_that_ends_before_any_plan_year_has_no_plans_table():
    """us-demand-2025 (2024-2025) shows none of 2026, 2029, 2035: no plans section."""
    result = run_scenario("us-demand-2025", seed=2)
    assert plans_table(result.scenario, result.allies, "seed 2, one draw") == []
    text = format_run(result)
    assert "National plans" not in text and "Final year 2025:" in text


# --- plan_vs_forecast --------------------------------------------------------------------------


def test_plan_vs_forecast_is_the_runs_core_share_beside_the_plan_on_natos_basis(hague7):
    """Allies with forces in the start state's order; core_<y> from the table, plan_<y> the path."""
    spec = hague7.scenario
    table = plan_vs_forecast(spec, hague7.allies)
    assert list(table.columns) == ["iso3"] + [
        f"{kind}_{y}" for y in PLAN_YEARS for kind in ("plan", "core")
    ]
    s = build_initial_state(spec)
    assert table["iso3"].tolist() == list(s.iso3[s.has_forces]) and "ISL" not in set(table["iso3"])
    core = hague7.allies.set_index(["iso3", "year"])["core_pct_gdp"]
    for y in PLAN_YEARS:
        assert table[f"core_{y}"].tolist() == [core[(iso, y)] for iso in table["iso3"]]
        np.testing.assert_array_equal(table[f"plan_{y}"], s.plan[y - 2026][s.has_forces])
    deu = table.set_index("iso3").loc["DEU"]
    assert not np.isnan(deu["plan_2029"]) and np.isnan(deu["plan_2035"])


def test_plan_vs_forecast_leaves_out_years_outside_the_run():
    """Only years after the start and up to the end year are shown."""
    spec = load_scenario("wales-2014")
    allies = run_scenario(spec, seed=1).allies
    assert list(plan_vs_forecast(spec, allies).columns) == ["iso3"]
    shown = plan_vs_forecast(spec, allies, years=(2014, 2020, 2025, 2030))
    assert list(shown.columns) == ["iso3", "plan_2020", "core_2020", "plan_2025", "core_2025"]


def test_plan_vs_forecast_reads_medians_as_well_as_one_run():
    """A table of medians with the same columns gives the medians' core shares."""
    runs = run_ensemble("hague-2035", [1, 2, 3]).allies
    medians = runs.groupby(["iso3", "year"], as_index=False)["core_pct_gdp"].median()
    table = plan_vs_forecast(load_scenario("hague-2035"), medians).set_index("iso3")
    pol = runs[(runs["iso3"] == "POL") & (runs["year"] == 2029)]["core_pct_gdp"]
    assert table.loc["POL", "core_2029"] == pol.median()


def test_alliance_lines_take_any_formatting_of_the_final_value(hague7):
    """A forecast formats a median and band: each line shows what ``value`` returns."""
    start = hague7.alliance.iloc[0]
    lines = alliance_lines(hague7.scenario, lambda col, fmt: f"<{col}>", start, hague7.allies)
    assert len(lines) == 1 + len(ALLIANCE_LABELS)
    for line, (label, (column, _)) in zip(lines[1:], ALLIANCE_LABELS.items(), strict=True):
        assert line.strip().startswith(label) and f"<{column}>" in line


def test_the_plans_heading_names_the_cut_off_or_the_scenarios_own_plans(hague7, tmp_path):
    """Announced plans count up to the scenario's plans_as_of; plans = "none" says so."""
    later = _write_scenario(tmp_path, "later", "plans_known_by = 2025-06-30\n")
    assert "announced by 2025-06-30;" in plans_table(later, hague7.allies, "x")[1]
    own = _write_scenario(tmp_path, "own", 'plans = "none"\n[allies.DEU]\nplan = { 2029 = 3.0 }\n')
    assert "the scenario's own, no announced plans;" in plans_table(own, hague7.allies, "x")[1]


def _write_scenario(tmp_path, name, text):
    path = tmp_path / f"{name}.toml"
    path.write_text(f'base = "hague-2035"\ndescription = "x"\n{text}')
    return load_scenario(path)
