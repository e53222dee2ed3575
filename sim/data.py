"""Reference data: NATO's 2014-2025 figures for the 32 allies, loaded and checked.

The CSV files and their provenance (``SOURCES.md``, ``gov_debt_SOURCES.md``) live in
``scenarios/data/``. Every gap in them is known and handled here explicitly; any other missing or
implausible value stops the load with a ``ReferenceDataError``:

* Iceland has no armed forces: NATO publishes no defence, equipment or personnel figure for it.
  It is modelled as an ally with no forces (core share 0, no personnel, no capability targets).
* Germany's 2025 core share is blank in NATO's table (budget not passed at the cut-off); the
  government's plan of 2.4% is used (DOMAIN §1).
* Germany's and Denmark's 2025 equipment shares, and France's, the UK's and the US's 2025
  personnel, are blank: the 2024 value is carried forward.
* Luxembourg's real GDP drops 34% from 2022 to 2023 in NATO's table: a series break, not a
  recession. That year's growth is replaced by Luxembourg's mean growth in the other years.
* Six allies' 2015-2024 core shares are withheld for out-of-sample validation (CAN, HUN, ITA,
  LVA, NOR, ROU). A start year inside that window interpolates linearly between 2014 and 2025.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd

FIRST_YEAR = 2014
"""First year with reference data (a run may start here)."""
LAST_YEAR = 2025
"""Last year with reference data (a run may start here)."""
N_ALLIES = 32
NO_FORCES = ("ISL",)
"""Allies without armed forces."""
WITHHELD = ("CAN", "HUN", "ITA", "LVA", "NOR", "ROU")
"""Allies whose 2015-2024 core shares are withheld for out-of-sample validation."""
SERIES_BREAKS = (("LUX", 2023),)
"""(ally, year) whose real GDP growth in the reference table is a series break."""
GERMANY_2025_CORE_PCT = 2.4
"""Germany's planned 2025 core share (DOMAIN §1: 2.4% in 2025, rising to 3.5% by 2029)."""

# Gaps that are expected, by (file, iso3) -> years with no value.
_EXPECTED_GAPS = {
    ("core", "DEU"): {2025},
    ("equipment", "DEU"): {2025},
    ("equipment", "DNK"): {2025},
    ("personnel", "FRA"): {2025},
    ("personnel", "GBR"): {2025},
    ("personnel", "USA"): {2025},
    **{("core", iso): set(range(2015, 2025)) for iso in WITHHELD},
}


_FORCE_PANELS = ("core", "equipment", "personnel")


class ReferenceDataError(ValueError):
    """The reference data is missing, malformed or has an unexpected gap."""


@dataclass(frozen=True)
class Reference:
    """The checked reference data.

    Attributes:
        allies: One row per ally, indexed by ISO3 code, in file order.
        core: Core defence spending, % GDP, allies x years 2014-2025 (NaN where documented).
        equipment: Equipment share of defence spending, %, allies x years 2014-2025.
        personnel: Military personnel, thousands, allies x years 2014-2025.
        gdp_real: Real GDP, constant 2015 USD bn, allies x years 2014-2024.
        debt: General government gross debt, % GDP, allies x years (2014, 2024).
    """

    allies: pd.DataFrame
    core: pd.DataFrame
    equipment: pd.DataFrame
    personnel: pd.DataFrame
    gdp_real: pd.DataFrame
    debt: pd.DataFrame


def data_dir() -> Path:
    """Folder holding the reference CSV files."""
    return Path(str(files("scenarios") / "data"))


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise ReferenceDataError(f"{path}: reference file not found")
    return pd.read_csv(path)


def _panel(path: Path, value: str, iso3: pd.Index, years: range, name: str) -> pd.DataFrame:
    """Read a long (iso3, year, value) file into a checked allies x years table."""
    df = _read(path)
    for col in ("iso3", "year", value):
        if col not in df.columns:
            raise ReferenceDataError(f"{path.name}: missing column {col!r}")
    if df.duplicated(["iso3", "year"]).any():
        raise ReferenceDataError(f"{path.name}: duplicated (iso3, year) rows")
    unknown = set(df["iso3"]) - set(iso3)
    if unknown:
        raise ReferenceDataError(f"{path.name}: unknown allies {sorted(unknown)}")
    wide = df.pivot(index="iso3", columns="year", values=value).reindex(index=iso3, columns=years)
    for iso in iso3:
        missing = {int(y) for y in wide.columns[wide.loc[iso].isna()]}
        expected = set(years) if iso in NO_FORCES and name in _FORCE_PANELS else set()
        expected |= _EXPECTED_GAPS.get((name, iso), set())
        if missing - expected:
            raise ReferenceDataError(
                f"{path.name}: {iso} has no value for {sorted(missing - expected)}"
            )
    values = wide.to_numpy(dtype=float)
    if (values[np.isfinite(values)] < 0).any():
        raise ReferenceDataError(f"{path.name}: negative {value}")
    return wide


@cache
def load_reference(directory: str | None = None) -> Reference:
    """Load and check the reference data.

    Args:
        directory: Folder with the CSV files; the packaged ``scenarios/data`` by default.

    Returns:
        The checked data.

    Raises:
        ReferenceDataError: A file is missing or a value is absent, negative or duplicated
            where the documented gaps do not explain it.
    """
    d = Path(directory) if directory else data_dir()
    allies = _read(d / "nato_allies.csv")
    if len(allies) != N_ALLIES or allies["iso3"].duplicated().any():
        raise ReferenceDataError(f"nato_allies.csv: expected {N_ALLIES} distinct allies")
    allies = allies.set_index("iso3", drop=False)
    for col in ("name", "gdp_usd_bn_2024", "capital_to_russia_or_belarus_km", "frontline_flag"):
        if col not in allies.columns or allies[col].isna().any():
            raise ReferenceDataError(f"nato_allies.csv: column {col!r} missing or incomplete")
    if (allies["gdp_usd_bn_2024"] <= 0).any():
        raise ReferenceDataError("nato_allies.csv: gdp_usd_bn_2024 must be positive")
    iso3 = allies.index
    years = range(FIRST_YEAR, LAST_YEAR + 1)
    return Reference(
        allies=allies,
        core=_panel(d / "nato_core_pct_gdp_2014_2025.csv", "core_pct_gdp", iso3, years, "core"),
        equipment=_panel(
            d / "nato_equipment_share_pct_2014_2025.csv",
            "equipment_share_pct",
            iso3,
            years,
            "equipment",
        ),
        personnel=_panel(
            d / "nato_personnel_k_2014_2025.csv", "personnel_k", iso3, years, "personnel"
        ),
        gdp_real=_panel(
            d / "nato_gdp_real_2014_2024.csv",
            "gdp_real_2015_usd_bn",
            iso3,
            range(FIRST_YEAR, 2025),
            "gdp",
        ),
        debt=_panel(
            d / "gov_debt_pct_gdp.csv", "gov_debt_pct_gdp", iso3, range(2014, 2025, 10), "debt"
        ),
    )


def _carry_forward(panel: pd.DataFrame, year: int) -> pd.Series:
    """Values in ``year``, taking the latest earlier value where ``year`` is blank."""
    return panel.loc[:, :year].ffill(axis=1)[year]


def observed_growth(ref: Reference) -> pd.DataFrame:
    """Observed real GDP growth (fraction) by ally and year, 2015-2024, series breaks mended."""
    g = ref.gdp_real
    growth = (g / g.shift(axis=1) - 1).iloc[:, 1:]
    for iso, year in SERIES_BREAKS:
        growth.loc[iso, year] = growth.loc[iso].drop(year).mean()
    return growth


def trend_growth(ref: Reference) -> pd.Series:
    """Trend real GDP growth per ally (fraction per year): the 2014-2024 compound rate."""
    return np.exp(np.log1p(observed_growth(ref)).mean(axis=1)) - 1


def _real_gdp_index(ref: Reference, year: int) -> pd.Series:
    """Real GDP in ``year`` relative to 2024, chained from the mended growth rates."""
    growth = observed_growth(ref)
    later = [y for y in growth.columns if y > year]
    return 1 / (1 + growth[later]).prod(axis=1)


def initial_allies(ref: Reference, start_year: int) -> pd.DataFrame:
    """The allies' state in ``start_year``, from the reference data only.

    Args:
        ref: The reference data.
        start_year: A year from 2014 to 2025.

    Returns:
        One row per ally (index ISO3) with ``name``, ``has_forces``, ``gdp_usd_bn`` (constant
        2024 USD bn), ``trend_growth`` (fraction/yr), ``core_pct``, ``equipment_share``
        (fraction), ``personnel_k``, ``debt_pct`` and ``distance_km`` (capital to Russia or
        Belarus). Nothing observed after ``start_year`` is used except GDP (an exogenous path)
        and, for the six withheld allies inside 2015-2024, their 2025 core share.
    """
    if not FIRST_YEAR <= start_year <= LAST_YEAR:
        raise ValueError(
            f"start year {start_year} has no reference data ({FIRST_YEAR}-{LAST_YEAR})"
        )
    a = ref.allies
    trend = trend_growth(ref)
    if start_year <= 2024:
        gdp = a["gdp_usd_bn_2024"] * _real_gdp_index(ref, start_year)
    else:
        gdp = a["gdp_usd_bn_2024"] * (1 + trend) ** (start_year - 2024)
    core = ref.core[start_year].copy()
    if start_year == 2025:
        core["DEU"] = GERMANY_2025_CORE_PCT
    gap = core.isna() & core.index.isin(WITHHELD)
    w = (start_year - 2014) / (2025 - 2014)
    core[gap] = (1 - w) * ref.core.loc[gap, 2014] + w * ref.core.loc[gap, 2025]
    debt = ref.debt[2014] + (ref.debt[2024] - ref.debt[2014]) * min(start_year - 2014, 10) / 10
    has_forces = ~a.index.isin(NO_FORCES)
    out = pd.DataFrame(
        {
            "name": a["name"],
            "has_forces": has_forces,
            "gdp_usd_bn": gdp,
            "trend_growth": trend,
            "core_pct": core,
            "equipment_share": _carry_forward(ref.equipment, start_year) / 100,
            "personnel_k": _carry_forward(ref.personnel, start_year),
            "debt_pct": debt,
            "distance_km": a["capital_to_russia_or_belarus_km"].astype(float),
        }
    )
    out.loc[~has_forces, ["core_pct", "equipment_share", "personnel_k"]] = 0.0
    if out.drop(columns="name").isna().any().any():
        raise ReferenceDataError(f"initial state for {start_year} has unexplained gaps")
    return out
