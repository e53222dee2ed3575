"""A scenario's forecast as an analyst should read it: medians and 5-95% bands over replications.

One seeded run is one draw of the random shocks. ``alliance run`` shows this forecast instead:
``replications`` runs of the scenario with the ensemble engine, seeded as ``alliance batch
SCENARIO --replications N --seed SEED`` seeds them (``sim.shocks.replication_seeds``), so the
two agree run for run. Quantiles are linear (as DuckDB's ``quantile_cont`` in batch summaries).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sim.columns import ALLIANCE_COLUMNS, ALLY_COLUMNS
from sim.parameters import PARAMETERS
from sim.posterior import Posterior
from sim.run_summary import alliance_lines, plans_table, run_heading
from sim.scenario import Scenario
from sim.shocks import replication_seeds
from sim.store import atomic_write
from sim.uncertainty import run_scenarios

REPLICATIONS = 200
"""Runs behind ``alliance run``'s medians and bands (0.1-0.2 s with the ensemble engine)."""
QUANTILES = (0.05, 0.5, 0.95)
"""The band's lower edge, the median and the upper edge."""
FORECAST_FILES = {"allies": "forecast_allies.parquet", "alliance": "forecast_alliance.parquet"}
"""Where ``write_forecast`` puts each table, inside a run's folder."""


@dataclass(frozen=True)
class Forecast:
    """Quantiles of every measure over a scenario's replications.

    Attributes:
        scenario: The resolved scenario.
        seed: Root seed of the runs' seeds.
        replications: Runs.
        allies: ``iso3, name, year, quantile`` then every ``ALLY_COLUMNS`` measure.
        alliance: ``year, quantile`` then every ``ALLIANCE_COLUMNS`` measure.
        uncertainty: ``shocks`` or ``posterior``: what the runs differ in.
    """

    scenario: Scenario
    seed: int
    replications: int
    allies: pd.DataFrame
    alliance: pd.DataFrame
    uncertainty: str = "shocks"

    def at(self, q: float) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The allies and alliance rows of quantile ``q`` (one of ``QUANTILES``)."""
        return (
            self.allies[self.allies["quantile"] == q].reset_index(drop=True),
            self.alliance[self.alliance["quantile"] == q].reset_index(drop=True),
        )


def make_forecast(
    scenario: Scenario,
    seed: int = 1,
    replications: int = REPLICATIONS,
    posterior: Posterior | None = None,
) -> Forecast:
    """Run ``replications`` runs of ``scenario`` and take each measure's quantiles.

    Args:
        scenario: A resolved scenario.
        seed: Root seed; the runs are those of ``alliance batch`` with this seed.
        replications: Number of runs (at least 1).
        posterior: The posterior each run draws its parameters from (``sim.uncertainty``), or
            None for shocks alone.

    Returns:
        The forecast.
    """
    from sim.ensemble import point_tables  # the engine loads only when a forecast is made

    seeds = replication_seeds(seed, 0, replications)
    if posterior is None:
        allies, alliance = point_tables([scenario], [seeds])
    else:
        points, _ = run_scenarios(scenario, seeds, posterior)
        allies, alliance = point_tables(points, [[s] for s in seeds])
    allies = (
        allies.groupby(["iso3", "name", "year"], sort=False)[list(ALLY_COLUMNS)]
        .quantile(list(QUANTILES))
        .rename_axis(["iso3", "name", "year", "quantile"])
        .reset_index()
    )
    alliance = (
        alliance.groupby("year", sort=False)[list(ALLIANCE_COLUMNS)]
        .quantile(list(QUANTILES))
        .rename_axis(["year", "quantile"])
        .reset_index()
    )
    uncertainty = "shocks" if posterior is None else "posterior"
    return Forecast(scenario, seed, replications, allies, alliance, uncertainty)


def write_forecast(forecast: Forecast, out: Path) -> dict:
    """Write the forecast's tables into a run's folder; return what the manifest records."""
    for table, name in FORECAST_FILES.items():
        frame = getattr(forecast, table)
        atomic_write(out / name, lambda p, frame=frame: frame.to_parquet(p, index=False))
    return {
        "engine": "ensemble",
        "replications": forecast.replications,
        "uncertainty": forecast.uncertainty,
        "seed": forecast.seed,
        "quantiles": list(QUANTILES),
        "seeds": "sim.shocks.replication_seeds(seed, 0, replications), as alliance batch",
        "tables": dict(FORECAST_FILES),
    }


def _band(lo: float, mid: float, hi: float, fmt: str) -> str:
    return f"{fmt.format(mid)} [{fmt.format(lo)}-{fmt.format(hi)}]"


SPREAD = {
    "spending_noise_sd": ("each year's implementation noise", "{:.2f} pp", "calibrated to the "
                          "model's past forecast errors"),
    "threat_noise_sd": ("the threat's yearly innovation", "{:.2f} threat units", "as large as the "
                        "threat path's record"),
    "gdp_growth_noise_sd": ("GDP growth around trend", "{:.1%} a year", "as in the record"),
}  # fmt: skip
"""The shocks that spread a forecast: what each is, its format, its calibrated size's source."""


def _shocks(spec: Scenario) -> str:
    """Each shock's size and where it comes from (the calibration, its prior, or the scenario)."""
    parts = []
    for name, (label, fmt, source) in SPREAD.items():
        value, p = spec.parameters[name], PARAMETERS[name]
        if value != p.default:
            origin = "set by the scenario"
        elif p.source.startswith("calibrated"):  # sim.parameters marks what the file set
            origin = source
        else:
            origin = "its documented prior: no calibration file"
        parts.append(f"{label} ({fmt.format(value)}, {origin})")
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def format_forecast(forecast: Forecast) -> str:
    """The final year per ally and for the alliance, as median [5%-95%], and the plans."""
    s, final = forecast.scenario, forecast.scenario.end_year
    allies = {q: forecast.at(q)[0] for q in QUANTILES}
    alliance = {q: forecast.at(q)[1].set_index("year") for q in QUANTILES}
    last = {q: a[a["year"] == final].reset_index(drop=True) for q, a in allies.items()}
    median = last[0.5]
    cells = {
        "core %GDP": ("core_pct_gdp", "{:.2f}"),
        "total %GDP": ("total_pct_gdp", "{:.2f}"),
        "capability met": ("fulfil_overall", "{:.2f}"),
        "personnel k": ("personnel_k", "{:.0f}"),
    }
    table = pd.DataFrame({"ally": median["iso3"] + " " + median["name"].str.slice(0, 16)})
    for label, (column, fmt) in cells.items():
        rows = zip(*(last[q][column] for q in QUANTILES), strict=True)
        table[label] = [_band(lo, mid, hi, fmt) for lo, mid, hi in rows]
    spread = {
        "shocks": "random shocks only: parameter uncertainty is not in these bands",
        "posterior": "random shocks and parameters drawn from the posterior",
    }[forecast.uncertainty]
    heading = (
        f"Median [5%-95%] of {forecast.replications} runs ({spread}), the runs of `alliance "
        f"batch {s.name} --replications {forecast.replications} --seed {forecast.seed} "
        f"--uncertainty {forecast.uncertainty}` (`--single` shows one seeded run). The shocks "
        f"are {_shocks(s)}. Final year {final}:"
    )
    return "\n".join(
        [
            *run_heading(s),
            heading,
            "",
            table.to_string(index=False),
            "",
            *alliance_lines(
                s,
                lambda column, fmt: _band(*(alliance[q].at[final, column] for q in QUANTILES), fmt),
                alliance[0.5].loc[s.start_year],
                median,
            ),
            *plans_table(s, allies[0.5], "the median"),
        ]
    )
