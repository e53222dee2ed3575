"""Reference data: the 32 allies, the documented gaps and the checks that stop a bad load."""

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.data import (
    DEFAULT_EDITION,
    EDITIONS,
    FIRST_YEAR,
    GERMANY_2025_CORE_PCT,
    LAST_YEAR,
    ReferenceDataError,
    data_dir,
    initial_allies,
    load_reference,
    observed_growth,
    revision_table_markdown,
    revisions,
)

WITHHELD = ("CAN", "HUN", "ITA", "LVA", "NOR", "ROU")
START_YEARS = range(2014, 2026)
CORE = "nato_core_pct_gdp_2014_2025.csv"
EQUIPMENT = "nato_equipment_share_pct_2014_2025.csv"
CORE_26 = "nato_core_pct_gdp_2014_2025_ed2026.csv"
EQUIPMENT_26 = "nato_equipment_share_pct_2014_2025_ed2026.csv"
SHARED = (
    "nato_allies.csv",
    "nato_personnel_k_2014_2025.csv",
    "nato_gdp_real_2014_2024.csv",
    "gov_debt_pct_gdp.csv",
)
CSV_FILES = {"2025": (*SHARED, CORE, EQUIPMENT), "2026": (*SHARED, CORE_26, EQUIPMENT_26)}
"""The files each edition reads."""
DOCS = Path(__file__).resolve().parents[1] / "docs" / "data.md"


def _copy(tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(data_dir(), folder)
    return folder


def _blank(folder, file, iso, year):
    path = folder / file
    df = pd.read_csv(path)
    row = (df["iso3"] == iso) & (df["year"] == year)
    assert row.sum() == 1
    assert df.loc[row, df.columns[2]].notna().all()
    df[df.columns[2]] = df[df.columns[2]].astype(float)
    df.loc[row, df.columns[2]] = np.nan
    df.to_csv(path, index=False)


# --- editions --------------------------------------------------------------------------------


def test_the_default_edition_is_2026():
    """Without an edition, the July-2026 edition loads; both editions are known."""
    assert EDITIONS == ("2025", "2026") and DEFAULT_EDITION == "2026"
    assert load_reference().edition == "2026"
    assert load_reference() is load_reference(edition="2026")  # one cached load per edition
    assert load_reference(edition="2025").edition == "2025"


@pytest.mark.parametrize("edition", ["1999", "2024", "", "ed2026", 2026])
def test_an_unknown_edition_raises_naming_the_allowed_ones(edition):
    with pytest.raises(ValueError, match=r"unknown data edition.*'2025', '2026'") as info:
        load_reference(edition=edition)
    assert not isinstance(info.value, ReferenceDataError)
    assert "\n" not in str(info.value)


def test_editions_differ_in_core_and_equipment_only():
    """Allies, personnel, GDP and debt are shared; core and equipment come from each edition."""
    old, new = load_reference(edition="2025"), load_reference(edition="2026")
    pd.testing.assert_frame_equal(old.allies, new.allies)
    for panel in ("personnel", "gdp_real", "debt"):
        pd.testing.assert_frame_equal(getattr(old, panel), getattr(new, panel))
    for panel, file in (("core", CORE_26), ("equipment", EQUIPMENT_26)):
        df = pd.read_csv(data_dir() / file)
        value = df.columns[2]
        for iso, year, v in df[["iso3", "year", value]].dropna().itertuples(index=False):
            assert getattr(new, panel).at[iso, year] == v, (panel, iso, year)
        assert not getattr(old, panel).equals(getattr(new, panel))
    assert old.core.loc["POL", 2025] == pytest.approx(4.48, abs=0.005)
    assert new.core.loc["POL", 2025] == 4.25


def test_the_2026_files_hold_no_year_after_2025():
    """The 2026 edition's own 2026 figures are withheld: the files stop at 2025."""
    for file in (CORE_26, EQUIPMENT_26):
        years = pd.read_csv(data_dir() / file)["year"]
        assert years.max() == 2025 and years.min() == 2014, file


@pytest.mark.parametrize("edition", EDITIONS)
def test_reference_has_32_allies(edition):
    """The reference data has the 32 allies, each once, in every table."""
    ref = load_reference(edition=edition)
    assert len(ref.allies) == 32 and ref.allies.index.is_unique
    assert {"USA", "DEU", "ISL", "SWE", "FIN", "POL"} <= set(ref.allies.index)
    for panel in (ref.core, ref.equipment, ref.personnel, ref.gdp_real, ref.debt):
        assert list(panel.index) == list(ref.allies.index)
    assert list(ref.core.columns) == list(range(FIRST_YEAR, LAST_YEAR + 1))


@pytest.mark.parametrize("edition", EDITIONS)
def test_iceland_has_no_forces(edition):
    """Iceland's force panels are blank; its start state has no core spending or personnel."""
    ref = load_reference(edition=edition)
    for panel in (ref.core, ref.equipment, ref.personnel):
        assert panel.loc["ISL"].isna().all()
    assert np.isfinite(ref.gdp_real.loc["ISL"]).all()
    for year in START_YEARS:
        isl = initial_allies(ref, year).loc["ISL"]
        assert (isl["core_pct"], isl["personnel_k"], isl["equipment_share"]) == (0.0, 0.0, 0.0)
        assert not isl["has_forces"]


def test_germany_2025_core_is_the_plan_in_the_2025_edition_only():
    """Germany's 2025 core share: blank in the 2025 edition (the plan's 2.4% is used), 2.22 in
    the 2026 edition (used as published)."""
    old = load_reference(edition="2025")
    assert math.isnan(old.core.loc["DEU", 2025])
    assert GERMANY_2025_CORE_PCT == 2.4
    assert initial_allies(old, 2025).loc["DEU", "core_pct"] == 2.4
    assert initial_allies(old, 2024).loc["DEU", "core_pct"] == old.core.loc["DEU", 2024]
    new = load_reference(edition="2026")
    assert new.core.loc["DEU", 2025] == 2.22
    assert initial_allies(new, 2025).loc["DEU", "core_pct"] == 2.22
    assert initial_allies(new, 2024).loc["DEU", "core_pct"] == new.core.loc["DEU", 2024]


@pytest.mark.parametrize("edition", EDITIONS)
def test_blank_2025_personnel_carries_forward(edition):
    """Blank 2025 personnel (a file both editions share) takes the 2024 value."""
    ref = load_reference(edition=edition)
    start = initial_allies(ref, 2025)
    for iso in ("FRA", "GBR", "USA"):
        assert math.isnan(ref.personnel.loc[iso, 2025])
        assert start.loc[iso, "personnel_k"] == ref.personnel.loc[iso, 2024]


def test_blank_2025_equipment_carries_forward_in_the_2025_edition_only():
    """Germany's and Denmark's 2025 equipment shares: 2024 carried forward in the 2025 edition,
    published in the 2026 edition."""
    old, new = load_reference(edition="2025"), load_reference(edition="2026")
    start_old, start_new = initial_allies(old, 2025), initial_allies(new, 2025)
    for iso in ("DEU", "DNK"):
        assert math.isnan(old.equipment.loc[iso, 2025])
        assert start_old.loc[iso, "equipment_share"] == pytest.approx(
            old.equipment.loc[iso, 2024] / 100
        )
        assert np.isfinite(new.equipment.loc[iso, 2025])
        assert start_new.loc[iso, "equipment_share"] == pytest.approx(
            new.equipment.loc[iso, 2025] / 100
        )
    assert new.equipment.drop(index="ISL").notna().all().all()


@pytest.mark.parametrize("edition", EDITIONS)
def test_withheld_allies_are_blank_in_the_panel(edition):
    """The six withheld allies have no 2015-2024 core share but do have 2014 and 2025."""
    ref = load_reference(edition=edition)
    for iso in WITHHELD:
        assert ref.core.loc[iso, 2015:2024].isna().all(), iso
        assert np.isfinite(ref.core.loc[iso, [2014, 2025]].to_numpy(dtype=float)).all(), iso
    others = ref.core.drop(index=[*WITHHELD, "ISL"])
    assert others.isna().sum().sum() == (1 if edition == "2025" else 0)  # DEU 2025 in ed2025
    assert others.drop(index="DEU").notna().all().all()


@pytest.mark.parametrize("edition", EDITIONS)
@pytest.mark.parametrize("year", START_YEARS)
def test_initial_state_is_complete_for_every_start_year(year, edition):
    """initial_allies has no NaN in any start year and withheld allies get finite core shares."""
    ref = load_reference(edition=edition)
    df = initial_allies(ref, year)
    assert len(df) == 32
    assert not df.isna().any().any()
    assert np.isfinite(df.drop(columns=["name", "has_forces"]).to_numpy(dtype=float)).all()
    for iso in WITHHELD:
        lo, hi = sorted(ref.core.loc[iso, [2014, 2025]])
        assert lo <= df.loc[iso, "core_pct"] <= hi, iso
    assert (df["gdp_usd_bn"] > 0).all()


def test_withheld_allies_interpolate_between_2014_and_2025():
    """A withheld ally's start core share runs linearly from its 2014 to its 2025 value."""
    ref = load_reference()
    can14, can25 = ref.core.loc["CAN", 2014], ref.core.loc["CAN", 2025]
    assert initial_allies(ref, 2014).loc["CAN", "core_pct"] == can14
    assert initial_allies(ref, 2025).loc["CAN", "core_pct"] == can25
    mid = initial_allies(ref, 2020).loc["CAN", "core_pct"]
    assert mid == pytest.approx(can14 + (can25 - can14) * 6 / 11)


def test_start_values_come_from_the_start_year():
    """initial_allies(2014) uses 2014 values, not later ones."""
    ref = load_reference()
    start = initial_allies(ref, 2014)
    assert start.loc["POL", "core_pct"] == ref.core.loc["POL", 2014]
    assert start.loc["POL", "core_pct"] != ref.core.loc["POL", 2024]
    assert start.loc["POL", "personnel_k"] == ref.personnel.loc["POL", 2014]
    assert start.loc["POL", "equipment_share"] == pytest.approx(
        ref.equipment.loc["POL", 2014] / 100
    )
    assert start.loc["POL", "debt_pct"] == ref.debt.loc["POL", 2014]
    assert initial_allies(ref, 2019).loc["FRA", "core_pct"] == ref.core.loc["FRA", 2019]


@pytest.mark.parametrize("year", [2013, 2026])
def test_start_year_without_data_is_refused(year):
    """A start year outside 2014-2025 raises ValueError."""
    with pytest.raises(ValueError, match=str(year)):
        initial_allies(load_reference(), year)


def test_luxembourg_series_break_is_mended():
    """Luxembourg's 2023 GDP break is replaced; its observed growth never falls below -10%."""
    ref = load_reference()
    raw = ref.gdp_real.loc["LUX", 2023] / ref.gdp_real.loc["LUX", 2022] - 1
    assert raw < -0.3  # the break is in the data
    lux = observed_growth(ref).loc["LUX"]
    assert lux.min() >= -0.10
    assert lux[2023] == pytest.approx(lux.drop(2023).mean())
    assert list(lux.index) == list(range(2015, 2025))


@pytest.mark.parametrize("edition", EDITIONS)
def test_an_unchanged_copy_loads_the_same(tmp_path, edition):
    """A copy of the data folder loads and matches the packaged data."""
    ref = load_reference(str(_copy(tmp_path)), edition)
    pd.testing.assert_frame_equal(ref.core, load_reference(edition=edition).core)
    pd.testing.assert_frame_equal(ref.equipment, load_reference(edition=edition).equipment)
    pd.testing.assert_frame_equal(ref.gdp_real, load_reference(edition=edition).gdp_real)


@pytest.mark.parametrize(
    ("edition", "file", "iso", "year"),
    [
        ("2025", CORE, "FRA", 2019),
        ("2025", CORE, "DEU", 2024),
        ("2025", CORE, "CAN", 2014),
        ("2025", CORE, "NOR", 2025),
        ("2025", EQUIPMENT, "POL", 2025),
        ("2026", CORE_26, "FRA", 2019),
        ("2026", CORE_26, "DEU", 2025),  # published in 2026: no longer an expected gap
        ("2026", CORE_26, "CAN", 2025),
        ("2026", EQUIPMENT_26, "DNK", 2025),
        ("2026", EQUIPMENT_26, "DEU", 2025),
        ("2025", "nato_personnel_k_2014_2025.csv", "FRA", 2024),
        ("2026", "nato_personnel_k_2014_2025.csv", "FRA", 2024),
        ("2026", "nato_gdp_real_2014_2024.csv", "LUX", 2023),
        ("2026", "gov_debt_pct_gdp.csv", "ITA", 2024),
    ],
)
def test_an_unexpected_blank_stops_the_load(tmp_path, edition, file, iso, year):
    """A blank value that the edition's documented gaps do not explain raises an error."""
    folder = _copy(tmp_path)
    _blank(folder, file, iso, year)
    with pytest.raises(ReferenceDataError, match=rf"{file}: {iso} has no value for \[{year}\]"):
        load_reference(str(folder), edition)


@pytest.mark.parametrize(("file", "other"), [(CORE, "2026"), (EQUIPMENT_26, "2025")])
def test_an_editions_file_is_not_read_by_the_other(tmp_path, file, other):
    """A blank in one edition's own file does not affect the other edition's load."""
    folder = _copy(tmp_path)
    _blank(folder, file, "FRA", 2019)
    assert load_reference(str(folder), other).edition == other


@pytest.mark.parametrize(
    ("edition", "file"), [(e, f) for e, files in CSV_FILES.items() for f in files]
)
def test_a_missing_file_stops_the_load(tmp_path, edition, file):
    """Any missing CSV file of the edition raises ReferenceDataError."""
    folder = _copy(tmp_path)
    (folder / file).unlink()
    with pytest.raises(ReferenceDataError, match="not found"):
        load_reference(str(folder), edition)


@pytest.mark.parametrize(("edition", "file"), [("2025", CORE), ("2026", CORE_26)])
def test_a_negative_value_stops_the_load(tmp_path, edition, file):
    """A negative value raises ReferenceDataError."""
    folder = _copy(tmp_path)
    path = folder / file
    df = pd.read_csv(path)
    df.loc[(df["iso3"] == "FRA") & (df["year"] == 2019), "core_pct_gdp"] = -1.0
    df.to_csv(path, index=False)
    with pytest.raises(ReferenceDataError, match="negative"):
        load_reference(str(folder), edition)


# --- revisions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("iso", "year", "ed2025", "ed2026"),
    [
        ("POL", 2025, 4.48, 4.25),
        ("SWE", 2025, 2.51, 2.85),
        ("EST", 2025, 3.38, 3.93),
        ("ALB", 2025, 2.01, 1.48),
        ("SVN", 2025, 2.02, 1.57),
        ("NOR", 2025, 3.35, 3.16),
        ("FIN", 2024, 2.40, 2.11),
    ],
)
def test_revisions_match_the_two_files(iso, year, ed2025, ed2026):
    """Hand-checked cells (SOURCES.md): both editions and the difference, 2026 minus 2025."""
    rev = revisions()
    assert rev.loc[iso, (year, "ed2025")] == pytest.approx(ed2025, abs=0.005)
    assert rev.loc[iso, (year, "ed2026")] == ed2026
    assert rev.loc[iso, (year, "diff")] == pytest.approx(
        ed2026 - rev.loc[iso, (year, "ed2025")], abs=1e-4
    )
    for edition, file in (("ed2025", CORE), ("ed2026", CORE_26)):
        df = pd.read_csv(data_dir() / file)
        cell = df[(df["iso3"] == iso) & (df["year"] == year)]["core_pct_gdp"]
        assert rev.loc[iso, (year, edition)] == cell.item()


def test_revisions_shape_and_blanks():
    """One row per ally with forces; blanks stay blank (no fallback for Germany's 2025)."""
    rev = revisions()
    assert len(rev) == 31 and "ISL" not in rev.index
    assert list(rev.columns.levels[0]) == [2023, 2024, 2025]
    assert math.isnan(rev.loc["DEU", (2025, "ed2025")]) and rev.loc["DEU", (2025, "ed2026")] == 2.22
    assert math.isnan(rev.loc["DEU", (2025, "diff")])
    assert rev.loc[list(WITHHELD), [(2023, "ed2026"), (2024, "ed2025")]].isna().all().all()
    assert list(revisions(years=[2014]).columns) == [
        (2014, "ed2025"),
        (2014, "ed2026"),
        (2014, "diff"),
    ]
    with pytest.raises(ValueError, match="2026"):
        revisions(years=[2026])


def test_docs_data_md_holds_the_current_revision_table():
    """docs/data.md shows exactly what ``revision_table_markdown()`` generates now."""
    table = revision_table_markdown()
    assert (
        "| POL Poland | 3.27 | 3.26 | -0.01 | 3.79 | 3.75 | -0.04 | 4.48 | 4.25 | -0.23 |" in table
    )
    assert table in DOCS.read_text(encoding="utf-8")
