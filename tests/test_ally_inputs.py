"""sim.ally_inputs: documented related spending, secondary rivalries and the exposure fit."""

import numpy as np
import pandas as pd
import pytest

from sim.ally_inputs import (
    RELATED_FILE,
    RIVALRIES_FILE,
    exposure_regression,
    has_rival,
    related_start,
    related_start_shares,
    rivalries,
)
from sim.data import data_dir, load_reference


@pytest.fixture(scope="module")
def related_csv():
    """The related-spending file as written, by ally."""
    return pd.read_csv(data_dir() / RELATED_FILE).set_index("iso3")


def test_related_start_is_the_files_values_by_ally_nan_where_none_was_found(related_csv):
    """Every ally of the file once; its value where given, NaN where the cell is blank."""
    values = related_start()
    assert values.index.is_unique and set(values.index) == set(load_reference().allies.index)
    pd.testing.assert_series_equal(
        values, related_csv["related_pct_gdp"].astype(float), check_names=False
    )
    assert values.notna().any() and values.isna().any()


def test_documented_related_shares_are_in_range_and_sourced(related_csv):
    """Documented values lie in [0, 2] % GDP and each has a source."""
    values = related_start()
    documented = values.dropna()
    assert documented.between(0.0, 2.0).all()
    assert related_csv.loc[documented.index, "source"].notna().all()
    assert related_start()["EST"] == 1.4  # "more or less accounted for" (foreign minister)


def test_related_start_shares_take_the_documented_share_else_the_default():
    """In the order asked: documented values where known, ``default_pct`` elsewhere."""
    documented = related_start()
    iso3 = np.array(["USA", "ALB", "EST", "XXX", "BEL"])
    shares = related_start_shares(iso3, 0.25)
    assert shares.dtype == np.float64
    assert shares.tolist() == [documented["USA"], 0.25, documented["EST"], 0.25, 0.25]
    every = documented.index.to_numpy()
    np.testing.assert_array_equal(
        related_start_shares(every, 0.1), documented.fillna(0.1).to_numpy()
    )
    assert np.isnan(related_start_shares(every, np.nan)).sum() == documented.isna().sum()


def test_rivalries_name_a_rival_and_a_source_for_each_ally_listed():
    """One row per ally with a documented secondary rival, each with its rival and source."""
    table = rivalries()
    written = pd.read_csv(data_dir() / RIVALRIES_FILE)
    assert list(table.index) == written["iso3"].tolist() and table.index.is_unique
    assert table["rival"].notna().all() and table["source"].notna().all()
    assert table.loc["GRC", "rival"] == "TUR"  # Greece against Turkiye, not the reverse


def test_has_rival_flags_exactly_the_allies_listed():
    """1.0 for each ally in the rivalries file, 0.0 for the others (and unknown codes)."""
    iso3 = load_reference().allies.index.to_numpy()
    flags = has_rival(iso3)
    assert flags.dtype == np.float64 and set(np.unique(flags)) <= {0.0, 1.0}
    assert set(iso3[flags == 1.0]) == set(rivalries().index)
    assert has_rival(np.array(["TUR", "GRC", "XXX"])).tolist() == [0.0, 1.0, 0.0]


def test_exposure_regression_is_the_fit_the_threat_proximity_docstring_quotes():
    """2026 edition: 3.50 - 0.384 ln(km) + 0.50 B + 0.19 C pp, R^2 0.65, 29 European allies."""
    fit = exposure_regression()
    assert set(fit) == {"const", "ln_km", "border", "coast", "r2", "n"}
    assert fit["n"] == 32 - 3  # the US, Canada and Iceland (no forces) left out
    assert fit["const"] == pytest.approx(3.50, abs=0.005)
    assert fit["ln_km"] == pytest.approx(-0.384, abs=0.0005)
    assert fit["border"] == pytest.approx(0.50, abs=0.005)
    assert fit["coast"] == pytest.approx(0.19, abs=0.005)
    assert fit["r2"] == pytest.approx(0.65, abs=0.005)


@pytest.mark.parametrize("edition", ["2025", "2026"])
def test_exposure_regression_is_the_least_squares_fit_of_the_rise_2014_2025(edition):
    """Residuals of the stated equation are orthogonal to every regressor; R^2 is theirs."""
    fit = exposure_regression(edition)
    ref = load_reference(edition=edition)
    a = ref.allies.drop(index=["USA", "CAN"])
    rise = (ref.core[2025] - ref.core[2014]).reindex(a.index)
    x = pd.DataFrame(
        {
            "const": 1.0,
            "ln_km": np.log(a["capital_to_russia_or_belarus_km"].astype(float)),
            "border": ((a["borders_russia"] + a["borders_belarus"]) > 0).astype(float),
            "coast": ((a["baltic_sea_coast"] + a["black_sea_coast"]) > 0).astype(float),
        }
    )[rise.notna()]
    y = rise.dropna()
    assert len(y) == fit["n"]
    residual = y - x @ pd.Series({k: fit[k] for k in x.columns})
    np.testing.assert_allclose(x.T @ residual, 0.0, atol=1e-9)
    r2 = 1 - (residual**2).sum() / ((y - y.mean()) ** 2).sum()
    assert fit["r2"] == pytest.approx(r2, rel=1e-12)


def test_the_2025_edition_fits_one_ally_fewer():
    """Germany has no 2025 figure in the 2025 edition, so that fit has 28 allies."""
    assert np.isnan(load_reference(edition="2025").core.at["DEU", 2025])
    assert exposure_regression("2025")["n"] == 28
    assert exposure_regression("2025") != exposure_regression("2026")
