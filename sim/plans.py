"""National plans: each ally's announced core-spending path, as known on a forecast's date.

``scenarios/data/national_plans.csv`` holds, per ally and planned year, the core share (% GDP)
its government announced or legislated, the date it was announced and a source
(``national_plans_SOURCES.md``). A run starting in year t uses only what was announced by 31
December of t: the forecast "as of 1 January t + 1" (DOMAIN §8). Allies with no plan have one
row of kind ``none``.

A plan is read on the panel's basis: where an ally's plan also states a figure for the start
year in a budget or plan, its later budget and plan figures on the same basis (``basis``: NATO's
definition, a national one...) are shifted by the gap between that figure and NATO's (Poland
budgeted 4.7% for 2025 on its national definition, NATO's core figure is 4.25%; France's
programming law counts less than NATO does). Figures on another basis, and political targets
(a share by a year, stated in NATO's terms), count as announced. Between
announced years the path is linear, from the start share to the first planned year; beyond the
last planned year there is no plan and the behavioural rule decides (``adjust_core_share``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from sim.data import data_dir

PLANS_FILE = "national_plans.csv"
KINDS = ("budget", "plan", "target", "none")
"""``budget``: an annual budget adopted or tabled; ``plan``: a multi-year path or programming
law; ``target``: a political target without a budget behind it; ``none``: no plan found."""
ANCHORED = ("budget", "plan")
"""Kinds read as changes from the ally's own start-year figure when it gives one."""
COLUMNS = ("iso3", "year", "core_pct_gdp", "kind", "announced", "basis", "source", "note")


class PlansError(ValueError):
    """The national plans file is missing or malformed."""


@dataclass(frozen=True)
class PlanPaths:
    """Every ally's plan over the simulated years (years x allies, % GDP, NaN without a plan).

    Attributes:
        plan: The plan for each year, NaN outside its horizon.
        level: The highest planned level reached by each year, NaN before any plan.
    """

    plan: np.ndarray
    level: np.ndarray


def _announced(text: str) -> date:
    """An announcement date; a month alone counts from its last day."""
    parts = [int(x) for x in str(text).split("-")]
    if len(parts) == 3:
        return date(*parts)
    if len(parts) == 2:
        year, month = parts
        following = date(year + month // 12, month % 12 + 1, 1)
        return date.fromordinal(following.toordinal() - 1)
    raise ValueError(text)


@cache
def load_plans(path: str | None = None) -> pd.DataFrame:
    """Read and check the national plans.

    Args:
        path: The CSV file; ``scenarios/data/national_plans.csv`` by default.

    Returns:
        The rows with a plan (kind other than ``none``), ``announced`` as a date.

    Raises:
        PlansError: Missing file or column, an unknown ally or kind, a share outside 0-15%, a
            plan row without a year, date or source, or an ally absent from the file.
    """
    from sim.data import load_reference

    file = Path(path) if path else data_dir() / PLANS_FILE
    if not file.is_file():
        raise PlansError(f"{file}: national plans file not found")
    df = pd.read_csv(file, dtype={"announced": str, "source": str})
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise PlansError(f"{file.name}: missing columns {missing}")
    allies = set(load_reference().allies.index)
    for n, row in df.iterrows():
        where = f"{file.name}: row {n + 2} ({row['iso3']})"
        if row["iso3"] not in allies:
            raise PlansError(f"{where}: unknown ally")
        if row["kind"] not in KINDS:
            raise PlansError(f"{where}: kind {row['kind']!r} is not one of {', '.join(KINDS)}")
        if row["kind"] == "none":
            continue
        if pd.isna(row["year"]) or pd.isna(row["core_pct_gdp"]):
            raise PlansError(f"{where}: a plan needs a year and a core_pct_gdp")
        if not 0.0 <= float(row["core_pct_gdp"]) <= 15.0:
            raise PlansError(f"{where}: core_pct_gdp {row['core_pct_gdp']} outside [0, 15]")
        if pd.isna(row["source"]) or not str(row["source"]).strip():
            raise PlansError(f"{where}: a plan needs a source")
        try:
            _announced(row["announced"])
        except (TypeError, ValueError):
            raise PlansError(f"{where}: announced {row['announced']!r} is not a date") from None
    absent = allies - set(df["iso3"])
    if absent:
        raise PlansError(f"{file.name}: no row for {sorted(absent)} (write kind 'none')")
    plans = df[df["kind"] != "none"].copy()
    plans["year"] = plans["year"].astype(int)
    plans["core_pct_gdp"] = plans["core_pct_gdp"].astype(float)
    plans["announced"] = plans["announced"].map(_announced)
    return plans


Points = Mapping[str, Mapping[int, tuple[float, str, str]]]
"""Plans by ally: {iso3: {year: (core % GDP, basis, kind)}}."""


def announced_points(as_of: date, plans: pd.DataFrame | None = None) -> dict:
    """Each ally's planned shares known on ``as_of``: {iso3: {year: (% GDP, basis, kind)}}.

    Where several rows give one year, the latest announced by ``as_of`` counts.
    """
    plans = load_plans() if plans is None else plans
    known = plans[plans["announced"] <= as_of].sort_values("announced", kind="stable")
    points: dict[str, dict[int, tuple[float, str, str]]] = {}
    columns = ("iso3", "year", "core_pct_gdp", "basis", "kind")
    for iso, year, share, basis, kind in zip(*(known[c] for c in columns), strict=True):
        points.setdefault(iso, {})[int(year)] = (float(share), str(basis), str(kind))
    return points


def plan_paths(
    points: Points, iso3: Sequence[str], start_core: np.ndarray, start_year: int, end_year: int
) -> PlanPaths:
    """Plans as arrays over the simulated years (start year + 1 to the end year).

    Args:
        points: {iso3: {year: (planned core share, basis, kind)}}.
        iso3: The allies, in the model's order.
        start_core: Each ally's observed start share (% GDP).
        start_year: The start year.
        end_year: The last simulated year.

    Returns:
        The plan and its running highest level.
    """
    years = np.arange(start_year + 1, end_year + 1)
    plan = np.full((len(years), len(iso3)), np.nan)
    for i, iso in enumerate(iso3):
        own = dict(points.get(iso, {}))
        anchor = own.get(start_year)
        later = []
        for year, (share, basis, kind) in sorted(own.items()):
            if year > start_year:
                same = anchor is not None and anchor[1] == basis
                same = same and kind in ANCHORED and anchor[2] in ANCHORED
                later.append((year, share + (float(start_core[i]) - anchor[0] if same else 0.0)))
        if not later:
            continue
        xs = [start_year, *(y for y, _ in later)]
        ys = [float(start_core[i]), *(v for _, v in later)]
        inside = years <= xs[-1]
        plan[inside, i] = np.interp(years[inside], xs, ys)
    with np.errstate(invalid="ignore"):
        level = np.fmax.accumulate(plan, axis=0)
    return PlanPaths(plan=plan, level=level)


def delivery_evidence() -> tuple[float, pd.DataFrame]:
    """How much of an announced rise was delivered: NATO's 2024 estimate against its outturn.

    NATO's June-2024 edition estimated each ally's 2024 share from its budget; the Aug-2025
    edition published the outturn. For every ally whose estimate rose above its 2023 share
    (Aug-2025 edition) by more than 0.05 pp: announced rise = estimate - 2023, delivered rise =
    outturn - 2023. The six withheld allies have no 2024 figures and do not enter.

    Returns:
        (delivered share: the sum of delivered rises over the sum of announced ones, the table
        ``iso3, core_2023, estimate_2024, outturn_2024, announced_pp, delivered_pp``).
    """
    from sim.data import load_reference

    ref = load_reference(edition="2025")
    a = ref.allies
    table = pd.DataFrame(
        {
            "core_2023": ref.core[2023],
            "estimate_2024": a["defence_exp_pct_gdp_2024"],
            "outturn_2024": a["defence_exp_pct_gdp_2024_ed2025"],
        }
    ).dropna()
    table["announced_pp"] = table["estimate_2024"] - table["core_2023"]
    table["delivered_pp"] = table["outturn_2024"] - table["core_2023"]
    table = table[table["announced_pp"] > 0.05].rename_axis("iso3").reset_index()
    return float(table["delivered_pp"].sum() / table["announced_pp"].sum()), table
