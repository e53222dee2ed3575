import shutil

import numpy as np
import pytest

from sim.data import (
    WITHHELD,
    ReferenceDataError,
    data_dir,
    initial_allies,
    load_reference,
    observed_growth,
)


def test_reference_has_32_allies_and_documented_gaps():
    ref = load_reference()
    assert len(ref.allies) == 32
    assert np.isnan(ref.core.loc["DEU", 2025])
    for iso in WITHHELD:
        assert ref.core.loc[iso, 2015:2024].isna().all()
        assert np.isfinite(ref.core.loc[iso, [2014, 2025]]).all()


@pytest.mark.parametrize("year", range(2014, 2026))
def test_initial_state_is_complete_for_every_start_year(year):
    df = initial_allies(load_reference(), year)
    assert not df.isna().any().any()
    assert df.loc["ISL", ["core_pct", "personnel_k"]].tolist() == [0.0, 0.0]
    assert not df.loc["ISL", "has_forces"]


def test_start_values_come_from_the_start_year():
    ref = load_reference()
    assert initial_allies(ref, 2014).loc["POL", "core_pct"] == ref.core.loc["POL", 2014]
    assert initial_allies(ref, 2025).loc["DEU", "core_pct"] == 2.4
    assert initial_allies(ref, 2025).loc["FRA", "personnel_k"] == ref.personnel.loc["FRA", 2024]


def test_luxembourg_series_break_is_mended():
    assert observed_growth(load_reference()).min().min() > -0.2


def test_an_unexpected_gap_stops_the_load(tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(data_dir(), folder)
    path = folder / "nato_core_pct_gdp_2014_2025.csv"
    lines = path.read_text().splitlines()
    lines = [
        ",".join([*ln.split(",")[:2], "", ln.split(",")[3]]) if ln.startswith("FRA,2019") else ln
        for ln in lines
    ]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ReferenceDataError, match=r"FRA has no value for \[2019\]"):
        load_reference(str(folder))


def test_a_missing_file_stops_the_load(tmp_path):
    folder = tmp_path / "data2"
    shutil.copytree(data_dir(), folder)
    (folder / "gov_debt_pct_gdp.csv").unlink()
    with pytest.raises(ReferenceDataError, match="not found"):
        load_reference(str(folder))
