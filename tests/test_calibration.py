import tomllib

import pytest
from pytest import approx

import sim.validation
from sim.calibration import (
    FITTED,
    calibrate,
    calibration_toml,
    format_calibration,
    write_calibration,
)
from sim.noise_fit import NOISE
from sim.parameters import (
    MEAN_FIT,
    PARAMETERS,
    PRIORS,
    CalibrationFileError,
    read_calibration,
)
from sim.shock_volatility import GDP, THREAT, shock_volatility
from sim.validation import hindcast

VALID = 'date = 2026-01-01\ncommand = "alliance calibrate"\n[parameters]\nfree_riding = 0.4\n'


def test_the_defaults_are_the_calibration_files_values():
    cal = read_calibration()
    assert cal, "scenarios/calibration.toml is shipped"
    assert set(cal["parameters"]) == {*FITTED, NOISE, THREAT, GDP}
    for name, value in cal["parameters"].items():
        assert PARAMETERS[name].default == value
        assert PARAMETERS[name].source.startswith(f"calibrated {cal['date']}")
    assert {"rmse_train_pp", "rmse_train_prior_pp", "rmse_test_pp"} <= set(cal["fit"])
    assert cal["command"].startswith("alliance calibrate ")
    untouched = set(PARAMETERS) - {*FITTED, NOISE, THREAT, GDP}
    assert all(PARAMETERS[n].default == PRIORS[n] for n in untouched)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("date = [", "not valid TOML"),
        ('command = "x"\n[parameters]\nfree_riding = 0.4\n', "date: missing"),
        ('date = 2026-01-01\ncommand = "x"\n', "parameters: missing or empty"),
        (VALID.replace("free_riding", "free_ridding"), "parameters.free_ridding: unknown"),
        (VALID.replace("0.4", "1.5"), "parameters.free_riding: 1.5 is outside"),
        (VALID.replace("0.4", '"high"'), "parameters.free_riding: expected a number"),
    ],
)
def test_a_bad_calibration_file_is_named_with_its_field(tmp_path, text, problem):
    path = tmp_path / "calibration.toml"
    path.write_text(text)
    with pytest.raises(CalibrationFileError, match=problem):
        read_calibration(path)
    path.write_text(VALID)
    assert read_calibration(path)["parameters"] == {"free_riding": 0.4}


def test_a_missing_calibration_file_means_the_priors(tmp_path):
    assert read_calibration(tmp_path / "none.toml") == {}


def test_calibration_is_reproducible_never_worse_than_the_priors_and_round_trips(tmp_path):
    """Same seed, same fit, whatever the number of workers; the file reads back."""
    small = {"replications": 2, "generations": 1, "population": 1, "seed": 5}
    one = calibrate(**small, workers=1)
    two = calibrate(**small, workers=2)
    assert one == two
    assert one.rmse_train_pp <= one.rmse_train_prior_pp + 1e-3  # the priors start the search
    path = write_calibration(one, tmp_path / "calibration.toml")
    back = read_calibration(path)
    assert one.shocks == shock_volatility(2022)  # the training years' end, like the noise
    assert back["parameters"] == one.values | one.shocks | {NOISE: one.noise.sd}
    assert back["noise"]["as_of"] == 2022 and back["noise"]["forecasts"]["h1"] > 0
    assert back["command"] == (
        "alliance calibrate --replications 2 --generations 1 --population 1 --seed 5"
    )
    assert back["fit"]["rmse_train_pp"] == approx(one.rmse_train_pp, abs=1e-4)
    assert tomllib.loads(calibration_toml(one, back["date"])) == back
    lines = format_calibration(one, path).splitlines()
    assert lines[0] == (
        f"RMSE 2015-2022 {one.rmse_train_pp:.4f} pp (priors {one.rmse_train_prior_pp:.4f}); "
        f"2023-2024, held out: {one.rmse_test_pp:.4f} pp"
    )
    assert lines[1:-2] == [f"  {name:28} {value:g}" for name, value in one.values.items()] + [
        f"  {name:28} {value:g} (its own history)" for name, value in one.shocks.items()
    ]
    assert lines[-2] == f"Then the forecasts' spread: {one.noise.describe()}"
    assert lines[-1] == f"Written: {path}"


def test_calibration_recovers_known_parameters_from_a_synthetic_panel(monkeypatch):
    """Twin experiment: 'observations' made by the model itself at known values are fitted back."""
    truth = {"adjustment_speed": 0.6, "threat_response_pp": 3.0}
    real = sim.validation.observed_core()
    made, _ = hindcast(8, 11, **MEAN_FIT, **truth)
    synthetic = made.mean.unstack("year").reindex(index=real.index)
    synthetic = synthetic.reindex(columns=real.columns).where(real.notna())
    monkeypatch.setattr(sim.validation, "observed_core", lambda *_, **__: synthetic)
    cal = calibrate(replications=8, generations=12, population=5, seed=11, fit=tuple(truth))
    assert cal.rmse_train_pp < 0.01
    assert cal.values["adjustment_speed"] == approx(0.6, abs=0.05)
    assert cal.values["threat_response_pp"] == approx(3.0, abs=0.25)
    assert cal.command.endswith("--fit adjustment_speed,threat_response_pp")


def test_calibration_rejects_unknown_or_whole_number_parameters():
    with pytest.raises(ValueError, match="lead_time_logistics"):
        calibrate(fit=("lead_time_logistics",))
    with pytest.raises(ValueError, match="nope"):
        calibrate(fit=("nope",))
    with pytest.raises(ValueError, match="fitted after them"):
        calibrate(fit=(NOISE,))
