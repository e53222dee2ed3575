"""What ``alliance run`` prints: the final year per ally and for the alliance, and the plans.

Shared by a single seeded run (``format_run``) and a forecast's medians and bands
(``sim.forecast.format_forecast``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd

from sim.data import NO_FORCES
from sim.initial import build_initial_state
from sim.scenario import Scenario

if TYPE_CHECKING:
    from sim.run import RunResult

PLAN_YEARS = (2026, 2029, 2035)
"""Years ``plan_vs_forecast`` shows by default."""


def plan_vs_forecast(
    scenario: Scenario, allies: pd.DataFrame, years: tuple[int, ...] = PLAN_YEARS
) -> pd.DataFrame:
    """Each ally's national plan against the forecast core share in some years.

    Args:
        scenario: The scenario run (its plans, start year and data edition).
        allies: An allies table of that scenario (one run, or medians with the same columns).
        years: Years to show; those outside the run are left out.

    Returns:
        One row per ally with forces: ``iso3``, then ``plan_<year>`` (the plan on NATO's basis,
        NaN where the ally has none for that year) and ``core_<year>`` for each year.
    """
    s = build_initial_state(scenario)
    shown = [y for y in years if scenario.start_year < y <= scenario.end_year]
    core = allies.pivot_table(index="iso3", columns="year", values="core_pct_gdp")
    out = pd.DataFrame({"iso3": s.iso3[s.has_forces]})
    for year in shown:
        k = year - scenario.start_year - 1
        out[f"plan_{year}"] = s.plan[k][s.has_forces]
        out[f"core_{year}"] = core[year].reindex(out["iso3"]).to_numpy()
    return out


def run_heading(s: Scenario) -> list[str]:
    """The first lines of a run's or a forecast's summary: the scenario and its data."""
    return [
        f"{s.name}: {s.description}",
        f"NATO data edition {s.data_edition}, {s.start_year}-{s.end_year}.",
    ]


def alliance_lines(
    s: Scenario, value: Callable[[str, str], str], start: pd.Series, allies: pd.DataFrame
) -> list[str]:
    """The alliance in the final year, with the start year in brackets.

    Args:
        s: The scenario.
        value: Formats a final-year alliance column with a format string (one run's value, or a
            median and its band).
        start: The alliance row of the start year.
        allies: The allies (``iso3``, ``name``), to say which the counts leave out.
    """
    absent = allies["iso3"].isin(NO_FORCES)
    return [
        f"Alliance in {s.end_year} (start {s.start_year} in brackets); counts are of the "
        f"{int((~absent).sum())} allies with armed forces "
        f"({', '.join(allies.loc[absent, 'name'])} has none):",
        f"  allies at >= 2% core:        {value('allies_ge_2pct', '{:.0f}')}"
        f"  ({start.allies_ge_2pct:.0f})",
        f"  allies at >= 3.5% core:      {value('allies_ge_3_5pct_core', '{:.0f}')}"
        f"  ({start.allies_ge_3_5pct_core:.0f})",
        f"  allies at >= 5% total:       {value('allies_ge_5pct_total', '{:.0f}')}"
        f"  ({start.allies_ge_5pct_total:.0f})",
        f"  mean core share, % GDP:      {value('mean_core_pct_gdp', '{:.2f}')}"
        f"  ({start.mean_core_pct_gdp:.2f})",
        f"  capability gap, share unmet: {value('capability_gap', '{:.3f}')}"
        f"  ({start.capability_gap:.3f})",
        f"  US share of core spending:   {value('us_share_of_spending', '{:.3f}')}"
        f"  ({start.us_share_of_spending:.3f})",
        f"  US pressure, 0-1:            {value('us_pressure', '{:.2f}')}"
        f"  ({start.us_pressure:.2f})",
        f"  US retrenchment, 0-1:        {value('us_retrenchment', '{:.2f}')}"
        f"  ({start.us_retrenchment:.2f})",
    ]


def plans_table(s: Scenario, allies: pd.DataFrame, what: str) -> list[str]:
    """Each ally's national plan against ``allies``' core share in ``PLAN_YEARS``.

    Args:
        s: The scenario.
        allies: An allies table of that scenario (one run, or the medians).
        what: What ``allies`` holds, for the heading ("seed 1, one draw", "the median").
    """
    table = plan_vs_forecast(s, allies)
    years = [int(c.split("_")[1]) for c in table.columns if c.startswith("core_")]
    if not years:
        return []
    known = (
        f"announced by {s.plans_as_of.isoformat()}"
        if s.plans == "national"
        else "the scenario's own, no announced plans"
    )
    lines = [
        "",
        f"National plans against {what} (core % GDP on NATO's basis; {known}; '-' = no plan "
        "that year):",
        "  ally" + "".join(f"  {y}: plan  model" for y in years),
    ]
    for row in table.itertuples(index=False):
        cells = ""
        for y in years:
            plan = getattr(row, f"plan_{y}")
            plan_text = "    -" if pd.isna(plan) else f"{plan:5.2f}"
            cells += f"        {plan_text}  {getattr(row, f'core_{y}'):5.2f}"
        lines.append(f"  {row.iso3}{cells}")
    return lines


def format_run(result: RunResult, draw: int | None = None) -> str:
    """One seeded run: every ally and the alliance in the final year, and the plans.

    ``draw`` is the posterior draw the run's parameters came from (None: the scenario's own).
    """
    s, final = result.scenario, result.scenario.end_year
    a = result.allies[result.allies["year"] == final]
    table = pd.DataFrame(
        {
            "ally": a["iso3"] + " " + a["name"].str.slice(0, 16),
            "core %GDP": a["core_pct_gdp"].map("{:5.2f}".format),
            "total %GDP": a["total_pct_gdp"].map("{:5.2f}".format),
            "capability met": a["fulfil_overall"].map("{:4.2f}".format),
            "personnel k": a["personnel_k"].map("{:8.1f}".format),
        }
    )
    end = result.alliance.set_index("year").loc[final]
    return "\n".join(
        [
            *run_heading(s),
            f"One run, seed {result.seed}: one draw of the shocks"
            + ("" if draw is None else f" and of the parameters (posterior draw {draw})")
            + f" (without --single, `alliance run` shows medians and bands). Final year {final}:",
            "",
            table.to_string(index=False),
            "",
            *alliance_lines(
                s,
                lambda column, fmt: fmt.format(end[column]),
                result.alliance.iloc[0],
                a,
            ),
            *plans_table(s, result.allies, f"seed {result.seed}, one draw"),
        ]
    )
