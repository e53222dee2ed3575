"""Reference data: NATO's 2014-2025 figures for the 32 allies, loaded and checked.

The CSV files and their provenance (``SOURCES.md``, ``gov_debt_SOURCES.md``) live in
``scenarios/data/``. Two editions of NATO's core-share and equipment-share tables are held
(``EDITIONS``); the 2026 edition (July 2026, restated series) is the default, the Aug-2025
edition stays selectable (``load_reference(edition="2025")``). Both share the allies table, the
personnel (2025 edition), the real GDP (2024 edition) and the debt. See ``docs/data.md``.

Every gap in the files is known and handled here explicitly (``_EXPECTED_GAPS``, per edition);
any other missing or implausible value stops the load with a ``ReferenceDataError``:

* Iceland has no armed forces: NATO publishes no defence, equipment or personnel figure for it.
  It is modelled as an ally with no forces (core share 0, no personnel, no capability targets).
* 2025 edition only: Germany's 2025 core share is blank in NATO's table (budget not passed at
  the cut-off); the government's plan of 2.4% is used (DOMAIN §1). The 2026 edition publishes it
  (2.22) and no fallback applies.
* 2025 edition only: Germany's and Denmark's 2025 equipment shares are blank; the 2024 value is
  carried forward.
* Both editions: France's, the UK's and the US's 2025 personnel are blank (one shared file); the
  2024 value is carried forward.
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

from sim.indicators import allies_at_or_above

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
EDITIONS = ("2025", "2026")
"""Editions of NATO's core and equipment tables: Aug 2025 (2014-2025) and July 2026 (restated)."""
DEFAULT_EDITION = "2026"
"""The edition every run, batch and validation uses unless told otherwise."""
GERMANY_2025_CORE_PCT = 2.4
"""Germany's planned 2025 core share (DOMAIN §1: 2.4% in 2025, rising to 3.5% by 2029).

**Used with the 2025 edition only**, where NATO's 2025 cell for Germany is blank. The 2026
edition publishes Germany's 2025 core share (2.22), which is used as is."""

_EDITION_FILES = {
    "2025": {
        "core": "nato_core_pct_gdp_2014_2025.csv",
        "equipment": "nato_equipment_share_pct_2014_2025.csv",
    },
    "2026": {
        "core": "nato_core_pct_gdp_2014_2025_ed2026.csv",
        "equipment": "nato_equipment_share_pct_2014_2025_ed2026.csv",
    },
}
"""Per edition, the files of the core and equipment panels (the other panels are shared)."""

_SHARED_GAPS = {
    ("personnel", "FRA"): {2025},
    ("personnel", "GBR"): {2025},
    ("personnel", "USA"): {2025},
    **{("core", iso): set(range(2015, 2025)) for iso in WITHHELD},
}
# Gaps that are expected, per edition: (panel, iso3) -> years with no value. Iceland's force
# panels are blank in every edition (``NO_FORCES``).
_EXPECTED_GAPS = {
    "2025": {
        **_SHARED_GAPS,
        ("core", "DEU"): {2025},
        ("equipment", "DEU"): {2025},
        ("equipment", "DNK"): {2025},
    },
    "2026": dict(_SHARED_GAPS),
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
        edition: The edition of ``core`` and ``equipment`` (one of ``EDITIONS``).
    """

    allies: pd.DataFrame
    core: pd.DataFrame
    equipment: pd.DataFrame
    personnel: pd.DataFrame
    gdp_real: pd.DataFrame
    debt: pd.DataFrame
    edition: str = DEFAULT_EDITION


def data_dir() -> Path:
    """Folder holding the reference CSV files."""
    return Path(str(files("scenarios") / "data"))


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise ReferenceDataError(f"{path}: reference file not found")
    return pd.read_csv(path)


def check_edition(edition: str) -> str:
    """Return ``edition`` if it is one of ``EDITIONS``.

    Raises:
        ValueError: Any other value; the message names the allowed editions.
    """
    if edition not in EDITIONS:
        allowed = ", ".join(repr(e) for e in EDITIONS)
        raise ValueError(f"unknown data edition {edition!r} (expected one of {allowed})")
    return edition


def _panel(
    path: Path, value: str, iso3: pd.Index, years: range, name: str, gaps: dict
) -> pd.DataFrame:
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
        expected |= gaps.get((name, iso), set())
        if missing - expected:
            raise ReferenceDataError(
                f"{path.name}: {iso} has no value for {sorted(missing - expected)}"
            )
    values = wide.to_numpy(dtype=float)
    if (values[np.isfinite(values)] < 0).any():
        raise ReferenceDataError(f"{path.name}: negative {value}")
    return wide


def load_reference(directory: str | None = None, edition: str = DEFAULT_EDITION) -> Reference:
    """Load and check the reference data of one edition (cached).

    Args:
        directory: Folder with the CSV files; the packaged ``scenarios/data`` by default.
        edition: Edition of the core and equipment panels, one of ``EDITIONS``
            (``DEFAULT_EDITION``, "2026", by default). Personnel, GDP, debt and the allies
            table are the same in every edition.

    Returns:
        The checked data.

    Raises:
        ValueError: An unknown edition.
        ReferenceDataError: A file is missing or a value is absent, negative or duplicated
            where the edition's documented gaps do not explain it.
    """
    return _load(directory, check_edition(edition))


@cache
def _load(directory: str | None, edition: str) -> Reference:
    d = Path(directory) if directory else data_dir()
    files_ = _EDITION_FILES[edition]
    gaps = _EXPECTED_GAPS[edition]
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
        core=_panel(d / files_["core"], "core_pct_gdp", iso3, years, "core", gaps),
        equipment=_panel(
            d / files_["equipment"], "equipment_share_pct", iso3, years, "equipment", gaps
        ),
        personnel=_panel(
            d / "nato_personnel_k_2014_2025.csv", "personnel_k", iso3, years, "personnel", gaps
        ),
        gdp_real=_panel(
            d / "nato_gdp_real_2014_2024.csv",
            "gdp_real_2015_usd_bn",
            iso3,
            range(FIRST_YEAR, 2025),
            "gdp",
            gaps,
        ),
        debt=_panel(
            d / "gov_debt_pct_gdp.csv",
            "gov_debt_pct_gdp",
            iso3,
            range(2014, 2025, 10),
            "debt",
            gaps,
        ),
        edition=edition,
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
        and, for the six withheld allies inside 2015-2024, their 2025 core share. On the 2025
        edition only, Germany's blank 2025 core share is the plan's ``GERMANY_2025_CORE_PCT``.
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
    if start_year == 2025 and ref.edition == "2025":
        core["DEU"] = GERMANY_2025_CORE_PCT  # blank in the 2025 edition only
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


REVISION_YEARS = (2023, 2024, 2025)
"""Years ``revisions`` compares by default: where the 2026 edition's restatement bites."""


def revisions(years=REVISION_YEARS, directory: str | None = None) -> pd.DataFrame:
    """Each ally's core share in both editions and the revision, for some years.

    Cells are NATO's published figures as held in the files: a blank (the six withheld allies'
    2015-2024 shares, Germany's 2025 share in the 2025 edition) stays NaN, and so does its
    revision. No fallback (such as ``GERMANY_2025_CORE_PCT``) enters. Iceland (no forces) is
    left out.

    Args:
        years: Years from ``FIRST_YEAR`` to ``LAST_YEAR`` (default 2023, 2024, 2025).
        directory: Folder with the CSV files; the packaged ``scenarios/data`` by default.

    Returns:
        One row per ally with forces (index ``iso3``, file order). Columns are a MultiIndex
        (``year``, ``measure``) with, per year, ``ed2025`` and ``ed2026`` (core % GDP in each
        edition) and ``diff`` (2026 minus 2025 edition, pp, rounded to 4 decimals).
    """
    years = tuple(int(y) for y in years)
    bad = [y for y in years if not FIRST_YEAR <= y <= LAST_YEAR]
    if bad or not years:
        raise ValueError(f"years must lie in {FIRST_YEAR}-{LAST_YEAR}, got {list(years)}")
    old = load_reference(directory, "2025").core
    new = load_reference(directory, "2026").core
    allies = [iso for iso in old.index if iso not in NO_FORCES]
    columns = {}
    for year in years:
        columns[(year, "ed2025")] = old.loc[allies, year]
        columns[(year, "ed2026")] = new.loc[allies, year]
        columns[(year, "diff")] = (new.loc[allies, year] - old.loc[allies, year]).round(4)
    out = pd.DataFrame(columns)
    out.columns = pd.MultiIndex.from_tuples(out.columns, names=["year", "measure"])
    out.index.name = "iso3"
    return out


def _count_ge_2pct(core: pd.Series) -> tuple[int, int]:
    """(allies at >= 2% at NATO's two-decimal precision, allies with a published figure)."""
    published = core.dropna().to_numpy()
    counted = np.ones(len(published), dtype=bool)
    return int(allies_at_or_above(published, 2.0, counted)), len(published)


def revision_table_markdown(years=REVISION_YEARS, directory: str | None = None) -> str:
    """The revision table of ``docs/data.md`` and its summary, as Markdown.

    ``docs/data.md`` holds its output; regenerate it with::

        python -c "from sim.data import revision_table_markdown as t; print(t(), end='')"

    Args:
        years: As for ``revisions``.
        directory: As for ``revisions``.

    Returns:
        A table (one row per ally with forces: both editions and the difference per year; "w"
        marks a withheld cell, "-" a cell NATO left blank) followed by a paragraph naming the
        largest revisions and the allies at >= 2% per edition and year.
    """
    rev = revisions(years, directory)
    names = load_reference(directory).allies["name"]
    withheld = set(WITHHELD)

    def cell(iso: str, year: int, value: float) -> str:
        if np.isnan(value):
            return "w" if iso in withheld and 2015 <= year <= 2024 else "-"
        return f"{value:.2f}"

    def change(value: float) -> str:
        if np.isnan(value):
            return ""
        text = f"{value:+.2f}"
        return "0.00" if text in ("+0.00", "-0.00") else text

    header = ["ally"]
    for year in rev.columns.levels[0]:
        header += [f"{year} ed2025", f"{year} ed2026", f"{year} diff"]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for iso in rev.index:
        row = [f"{iso} {names[iso]}"]
        for year in rev.columns.levels[0]:
            r = rev.loc[iso, year]
            row += [cell(iso, year, r["ed2025"]), cell(iso, year, r["ed2026"]), change(r["diff"])]
        lines.append("| " + " | ".join(row) + " |")

    diffs = rev.xs("diff", axis=1, level="measure").stack().dropna()
    largest = diffs.reindex(diffs.abs().sort_values(ascending=False, kind="stable").index)[:6]
    named = ", ".join(
        f"{iso} {year} {rev.loc[iso, (year, 'ed2025')]:.2f} -> "
        f"{rev.loc[iso, (year, 'ed2026')]:.2f} ({d:+.2f})"
        for (iso, year), d in largest.items()
    )
    means = ", ".join(
        f"{year} {rev.loc[:, (year, 'diff')].abs().mean():.3f}" for year in rev.columns.levels[0]
    )
    counts = []
    for year in rev.columns.levels[0]:
        (n25, p25), (n26, p26) = (
            _count_ge_2pct(rev.loc[:, (year, m)]) for m in ("ed2025", "ed2026")
        )
        counts.append(f"{year}: {n25} of {p25} (2025 edition), {n26} of {p26} (2026 edition)")
    summary = (
        f"The largest revisions (pp) are {named}. The mean absolute revision per ally is "
        f"{means} pp. Allies at >= 2% of GDP among those with a published figure (two "
        f"decimals, as NATO rounds): {'; '.join(counts)}."
    )
    return "\n".join(lines) + "\n\n" + summary + "\n"
