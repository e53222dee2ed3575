import numpy as np
import pytest
from pytest import approx

import sim.noise_fit
from sim.noise_fit import NOISE, REFERENCE_SD, fit_noise, forecast_moments
from sim.parameters import PARAMETERS
from sim.rolling import model_samples
from sim.shocks import replication_seeds


def _moments(*rows):
    """Moments per horizon from (n, excess m - v0, gain g) with v0 = 0.01."""
    return {
        h: {"n": n, "m": 0.01 + excess, "v0": 0.01, "vR": 0.01 + gain * REFERENCE_SD**2}
        for h, (n, excess, gain) in enumerate(rows, start=1)
    }


@pytest.mark.parametrize(
    ("rows", "sd"),
    [
        # s^2 = sum n g (m - v0) / sum n g^2 = (10*1*0.04 + 30*2*0.08) / (10*1 + 30*4) = 0.04
        (((10, 0.04, 1.0), (30, 0.08, 2.0)), 0.2),
        (((10, 0.09, 1.0),), 0.3),
        (((10, -0.01, 1.0),), 0.0),  # the model already spreads more than it errs
        (((10, 5.0, 1.0),), PARAMETERS[NOISE].high),  # bounded by the parameter's range
    ],
)
def test_the_fit_is_least_squares_on_the_variances_by_hand(monkeypatch, rows, sd):
    monkeypatch.setattr(sim.noise_fit, "forecast_moments", lambda *a, **k: _moments(*rows))
    fit = fit_noise(2020)
    assert fit.sd == approx(sd, abs=1e-4)
    assert fit.forecasts == {h: n for h, (n, _, _) in enumerate(rows, start=1)}


def test_moments_count_every_published_ally_forecast_up_to_as_of():
    moments = forecast_moments(2018, replications=8, seed=4)
    # Origins 2015-2017: horizon 1 from three origins, 2 from two, 3 from one; 25 allies each.
    assert {h: m["n"] for h, m in moments.items()} == {1: 75, 2: 50, 3: 25}
    assert all(m["vR"] > m["v0"] > 0 and m["m"] > 0 for m in moments.values())
    assert fit_noise(2018, replications=8, seed=4) == fit_noise(2018, replications=8, seed=4)
    with pytest.raises(ValueError, match="as_of 2015"):
        forecast_moments(2015)


def test_the_spread_grows_with_the_noise_as_the_fit_assumes():
    """v(s) = v0 + g s^2: the gain measured at REFERENCE_SD predicts the spread at 0.3."""
    seeds = replication_seeds(2, 0, 400)

    def spread(sd: float) -> np.ndarray:
        _, runs = model_samples(2018, (1, 2, 3), seeds, parameters={NOISE: sd})
        return np.nanmean(runs.var(axis=2), axis=0)

    v0, v_ref, v3 = spread(0.0), spread(REFERENCE_SD), spread(0.3)
    gain = (v_ref - v0) / REFERENCE_SD**2
    assert v3 == approx(v0 + gain * 0.3**2, rel=0.15)
    assert (np.diff(gain) > 0).all()  # the error accumulates over the years
