"""Reference data: the 32 allies, the documented gaps and the checks that stop a bad load."""

import math
import shutil

import numpy as np
import pandas as pd
import pytest

from sim.data import (
    FIRST_YEAR,
    GERMANY_2025_CORE_PCT,
    LAST_YEAR,
    ReferenceDataError,
    data_dir,
    initial_allies,
    load_reference,
    observed_growth,
)

WITHHELD = ("CAN", "HUN", "ITA", "LVA", "NOR", "ROU")
START_YEARS = range(2014, 2026)
CORE = "nato_core_pct_gdp_2014_2025.csv"
CSV_FILES = (
    "nato_allies.csv",
    CORE,
    "nato_equipment_share_pct_2014_2025.csv",
    "nato_personnel_k_2014_2025.csv",
    "nato_gdp_real_2014_2024.csv",
    "gov_debt_pct_gdp.csv",
)


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


def test_reference_has_32_allies():
    """The reference data has the 32 allies, each once, in every table."""
    ref = load_reference()
    assert len(ref.allies) == 32 and ref.allies.index.is_unique
    assert {"USA", "DEU", "ISL", "SWE", "FIN", "POL"} <= set(ref.allies.index)
    for panel in (ref.core, ref.equipment, ref.personnel, ref.gdp_real, ref.debt):
        assert list(panel.index) == list(ref.allies.index)
    assert list(ref.core.columns) == list(range(FIRST_YEAR, LAST_YEAR + 1))


def test_iceland_has_no_forces():
    """Iceland's force panels are blank; its start state has no core spending or personnel."""
    ref = load_reference()
    for panel in (ref.core, ref.equipment, ref.personnel):
        assert panel.loc["ISL"].isna().all()
    assert np.isfinite(ref.gdp_real.loc["ISL"]).all()
    for year in START_YEARS:
        isl = initial_allies(ref, year).loc["ISL"]
        assert (isl["core_pct"], isl["personnel_k"], isl["equipment_share"]) == (0.0, 0.0, 0.0)
        assert not isl["has_forces"]


def test_germany_2025_core_is_the_plan():
    """Germany's blank 2025 core share becomes the planned 2.4%."""
    ref = load_reference()
    assert math.isnan(ref.core.loc["DEU", 2025])
    assert GERMANY_2025_CORE_PCT == 2.4
    assert initial_allies(ref, 2025).loc["DEU", "core_pct"] == 2.4
    assert initial_allies(ref, 2024).loc["DEU", "core_pct"] == ref.core.loc["DEU", 2024]


def test_blank_2025_equipment_and_personnel_carry_forward():
    """Blank 2025 equipment shares and personnel take the 2024 value."""
    ref = load_reference()
    start = initial_allies(ref, 2025)
    for iso in ("FRA", "GBR", "USA"):
        assert math.isnan(ref.personnel.loc[iso, 2025])
        assert start.loc[iso, "personnel_k"] == ref.personnel.loc[iso, 2024]
    for iso in ("DEU", "DNK"):
        assert math.isnan(ref.equipment.loc[iso, 2025])
        assert start.loc[iso, "equipment_share"] == pytest.approx(
            ref.equipment.loc[iso, 2024] / 100
        )


def test_withheld_allies_are_blank_in_the_panel():
    """The six withheld allies have no 2015-2024 core share but do have 2014 and 2025."""
    ref = load_reference()
    for iso in WITHHELD:
        assert ref.core.loc[iso, 2015:2024].isna().all(), iso
        assert np.isfinite(ref.core.loc[iso, [2014, 2025]].to_numpy(dtype=float)).all(), iso
    others = ref.core.drop(index=[*WITHHELD, "ISL", "DEU"])
    assert others.notna().all().all()


@pytest.mark.parametrize("year", START_YEARS)
def test_initial_state_is_complete_for_every_start_year(year):
    """initial_allies has no NaN in any start year and withheld allies get finite core shares."""
    ref = load_reference()
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


def test_an_unchanged_copy_loads_the_same(tmp_path):
    """A copy of the data folder loads and matches the packaged data."""
    ref = load_reference(str(_copy(tmp_path)))
    pd.testing.assert_frame_equal(ref.core, load_reference().core)
    pd.testing.assert_frame_equal(ref.gdp_real, load_reference().gdp_real)


@pytest.mark.parametrize(
    ("file", "iso", "year"),
    [
        (CORE, "FRA", 2019),
        (CORE, "DEU", 2024),
        (CORE, "CAN", 2014),
        (CORE, "NOR", 2025),
        ("nato_personnel_k_2014_2025.csv", "FRA", 2024),
        ("nato_gdp_real_2014_2024.csv", "LUX", 2023),
        ("gov_debt_pct_gdp.csv", "ITA", 2024),
    ],
)
def test_an_unexpected_blank_stops_the_load(tmp_path, file, iso, year):
    """A blank value that the documented gaps do not explain raises ReferenceDataError."""
    folder = _copy(tmp_path)
    _blank(folder, file, iso, year)
    with pytest.raises(ReferenceDataError, match=rf"{iso} has no value for \[{year}\]"):
        load_reference(str(folder))


@pytest.mark.parametrize("file", CSV_FILES)
def test_a_missing_file_stops_the_load(tmp_path, file):
    """Any missing CSV file raises ReferenceDataError."""
    folder = _copy(tmp_path)
    (folder / file).unlink()
    with pytest.raises(ReferenceDataError, match="not found"):
        load_reference(str(folder))


def test_a_negative_value_stops_the_load(tmp_path):
    """A negative value raises ReferenceDataError."""
    folder = _copy(tmp_path)
    path = folder / CORE
    df = pd.read_csv(path)
    df.loc[(df["iso3"] == "FRA") & (df["year"] == 2019), "core_pct_gdp"] = -1.0
    df.to_csv(path, index=False)
    with pytest.raises(ReferenceDataError, match="negative"):
        load_reference(str(folder))
