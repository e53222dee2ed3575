"""The exogenous shocks' volatility from their own history (sim/shock_volatility.py)."""

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from pytest import approx

import sim.data
import sim.shock_volatility
from sim.cli import main
from sim.data import load_reference
from sim.parameters import MEAN_FIT, PARAMETERS, PRIORS
from sim.shock_volatility import GDP, THREAT, gdp_volatility, shock_volatility, threat_volatility


def test_the_threat_volatility_counts_the_path_s_steps_over_its_years():
    # wales-2014's path: 0.2 in 2013, 0.5 from 2014, 1.0 from 2022 (scenarios/wales-2014.toml)
    assert threat_volatility(2014) == approx(0.3)
    assert threat_volatility(2021) == approx(0.3 / math.sqrt(8))  # calm years dilute the step
    assert threat_volatility(2022) == approx(math.sqrt((0.3**2 + 0.5**2) / 9))
    with pytest.raises(ValueError, match="no change up to 2013"):
        threat_volatility(2013)


def test_gdp_volatility_is_growth_around_the_trend_known_then(monkeypatch):
    calm, with_2020 = gdp_volatility(2019), gdp_volatility(2021)
    assert 0.005 < calm < 0.02 < with_2020  # the 2020 recession enters the panel in 2020
    ref = load_reference()
    years = ref.gdp_real.columns
    steady = pd.DataFrame(
        [1.02 ** (years - years[0])] * len(ref.gdp_real), ref.gdp_real.index, years
    )
    shocked = steady.copy()
    shocked.loc["FRA", years >= 2016] *= 0.9  # one ally falls 10% in 2016, then grows as before
    for gdp, expected in ((steady, 0.0), (shocked, None)):
        fake = replace(ref, gdp_real=gdp)
        monkeypatch.setattr(sim.data, "_load", lambda directory, edition, fake=fake: fake)
        got = gdp_volatility(2019)
        if expected is not None:
            assert got == approx(expected, abs=1e-12)
            continue
        g = np.array([0.02, 1.02 * 0.9 - 1, 0.02, 0.02, 0.02])  # FRA, 2015-2019
        trend = np.exp(np.log1p(g).mean()) - 1
        assert got == approx(np.sqrt(((g - trend) ** 2).sum() / (32 * 5)))
    with pytest.raises(ValueError, match="outside 2015-2025"):
        gdp_volatility(2014)


def test_shock_volatility_gives_parameter_values_within_their_ranges():
    values = shock_volatility(2022)
    assert set(values) == {THREAT, GDP}
    for name, value in values.items():
        assert PARAMETERS[name].low <= value <= PARAMETERS[name].high
        assert value == round(value, 4) and value != PRIORS[name]
    assert values[THREAT] == round(threat_volatility(2022), 4)


def test_the_mean_fits_keep_the_shocks_at_their_priors():
    assert MEAN_FIT[THREAT] == PRIORS[THREAT] and MEAN_FIT[GDP] == PRIORS[GDP]


def test_an_estimate_outside_its_range_is_refused_not_clamped(monkeypatch, capsys, tmp_path):
    """A volatility the parameter cannot take stops the calibration, in one line, before the fit."""
    monkeypatch.setattr(sim.shock_volatility, "threat_volatility", lambda as_of: 0.7)
    with pytest.raises(
        ValueError, match=r"threat_noise_sd estimated .* up to 2022: 0.7 is outside"
    ):
        shock_volatility(2022)
    out = tmp_path / "calibration.toml"
    assert main(["calibrate", "--generations", "1", "--replications", "1", "--out", str(out)]) == 2
    assert not out.exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "alliance calibrate: threat_noise_sd estimated from the record up to 2022: 0.7 is outside "
        "the allowed range [0, 0.5]"
    ]
