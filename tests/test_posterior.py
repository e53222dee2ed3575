from datetime import date
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.parameters import PARAMETERS
from sim.posterior import (
    Posterior,
    PosteriorFileError,
    draw,
    posterior_file,
    posterior_toml,
    read_posterior,
    weighted_quantiles,
    write_posterior,
)

NAMES = ("adjustment_speed", "free_riding", "threat_response_pp")


def metadata() -> dict:
    return {
        "date": date(2026, 11, 28),
        "command": "alliance calibrate --method abc --particles 3",
        "method": "ABC-SMC",
        "library": "pyabc",
        "library_version": "0.13.0",
        "summary_statistics": "mean core % GDP per ally and year",
        "distance": "RMSE",
        "wall_time_s": 1.5,
        "seeds": {"root": 2014, "runs": [11, 12]},
        "schedule": {"epsilon_pp": [0.5, 0.3], "accepted": [3, 3]},
        "fit": {"rmse_test_pp_mean": 0.31},
    }


def posterior(n: int = 3, seed: int = 0) -> Posterior:
    rng = np.random.default_rng(seed)
    lows = np.array([PARAMETERS[n].low for n in NAMES])
    highs = np.array([PARAMETERS[n].high for n in NAMES])
    samples = lows + (highs - lows) * rng.random((n, len(NAMES)))
    weights = rng.random(n) + 0.1
    return Posterior(NAMES, samples, weights / weights.sum(), metadata())


def test_round_trip(tmp_path):
    post = posterior(50)
    path = write_posterior(post, tmp_path / "posterior.toml", header=["a header", ""])
    back = read_posterior(path)
    assert back.names == post.names
    np.testing.assert_array_equal(back.samples, post.samples)
    np.testing.assert_allclose(back.weights, post.weights, rtol=1e-15)
    assert back.metadata == post.metadata
    assert path.read_text().startswith("# a header\n#\n")
    assert back.values(7) == dict(zip(NAMES, post.samples[7].tolist(), strict=True))


def test_default_path_is_in_scenarios():
    assert posterior_file().name == "posterior.toml"
    assert posterior_file().parent.name == "scenarios"


def text_with(tmp_path: Path, old: str, new: str) -> Path:
    text = posterior_toml(posterior())
    assert old in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(old, new, 1))
    return path


def samples_line(post: Posterior, name: str) -> str:
    return next(line for line in posterior_toml(post).splitlines() if line.startswith(name))


BAD = {
    "missing command": (lambda p: ('command = "', 'commandx = "'), "command: missing"),
    "date as a string": (lambda p: ("date = 2026-11-28", 'date = "2026-11-28"'), "date: expected"),
    "seeds not a table": (lambda p: ("[seeds]", "seeds = 1\n[seedsx]"), "seeds: expected a table"),
    "no weights": (lambda p: ("weight = [", "weightx = ["), "samples.weight: missing"),
    "unknown parameter": (lambda p: ("free_riding = [", "free_ridin = ["), "unknown parameter"),
    "whole-number parameter": (
        lambda p: ("free_riding = [", "consolidation_lag = ["),
        "samples.consolidation_lag: a whole-number",
    ),
    "short array": (
        lambda p: (samples_line(p, "free_riding"), "free_riding = [0.5]"),
        "samples.free_riding: 1 values, but weight has 3",
    ),
    "not numbers": (
        lambda p: (samples_line(p, "free_riding"), 'free_riding = ["a", "b", "c"]'),
        "samples.free_riding: expected numbers, got str",
    ),
    "non-finite": (
        lambda p: (samples_line(p, "free_riding"), "free_riding = [0.5, nan, 0.5]"),
        "samples.free_riding[1]: must be finite",
    ),
    "zero weight": (
        lambda p: (samples_line(p, "weight"), "weight = [0.5, 0.0, 0.5]"),
        "samples.weight[1]: must be positive",
    ),
    "negative weight": (
        lambda p: (samples_line(p, "weight"), "weight = [0.5, 0.6, -0.1]"),
        "samples.weight[2]: must be positive",
    ),
    "out of range": (
        lambda p: (samples_line(p, "free_riding"), "free_riding = [0.5, 0.5, 1.5]"),
        "samples.free_riding[2]: 1.5 is outside the allowed range [0, 1]",
    ),
    "not TOML": (lambda p: ("[samples]", "[samples"), "not valid TOML"),
    "no samples table": (lambda p: ("[samples]", "[samplesx]"), "samples: missing"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_file_is_one_line_naming_file_and_field(tmp_path, case):
    change, message = BAD[case]
    path = text_with(tmp_path, *change(posterior()))
    with pytest.raises(PosteriorFileError) as err:
        read_posterior(path)
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith(f"{path}: ")
    assert message in text


def test_missing_file_and_folder(tmp_path):
    for path, message in ((tmp_path / "none.toml", "not found"), (tmp_path, "not a file")):
        with pytest.raises(PosteriorFileError, match=message):
            read_posterior(path)


def test_writing_a_non_finite_value_is_refused(tmp_path):
    post = posterior()
    post.metadata["fit"]["rmse_test_pp_mean"] = float("nan")
    with pytest.raises(ValueError, match="cannot write nan"):
        write_posterior(post, tmp_path / "p.toml")
    assert not (tmp_path / "p.toml").exists()


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
    runs=st.lists(st.integers(0, 2**63 - 1), min_size=1, max_size=30),
)
def test_draws_are_in_range_deterministic_and_per_seed(n, seed, runs):
    post = posterior(n, seed)
    index = draw(post, runs)
    assert index.dtype == np.int64
    assert ((index >= 0) & (index < n)).all()
    np.testing.assert_array_equal(index, draw(post, runs))
    # Each seed's draw depends on that seed alone, not on the others run with it.
    np.testing.assert_array_equal(index, [draw(post, [s])[0] for s in runs])


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 30), seed=st.integers(0, 2**32 - 1))
def test_read_weights_sum_to_one(tmp_path_factory, n, seed):
    post = posterior(n, seed)
    unnormalised = Posterior(post.names, post.samples, post.weights * 7.3, post.metadata)
    path = write_posterior(unnormalised, tmp_path_factory.mktemp("w") / "p.toml")
    back = read_posterior(path)
    assert back.weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert (back.weights > 0).all()
    np.testing.assert_allclose(back.weights, post.weights, rtol=1e-12)


def test_draws_follow_the_weights():
    weights = np.array([0.7, 0.2, 0.1, 0.0 + 1e-9])
    post = Posterior(NAMES[:1], np.full((4, 1), 0.5), weights / weights.sum(), {})
    index = draw(post, range(20_000))
    share = np.bincount(index, minlength=4) / 20_000
    np.testing.assert_allclose(share, weights, atol=0.015)


def test_weighted_quantiles_and_intervals_follow_the_weights():
    values, weights = np.array([1.0, 2.0, 3.0]), np.array([0.1, 0.1, 0.8])
    np.testing.assert_array_equal(weighted_quantiles(values, weights, [0.05, 0.5, 0.95]), [1, 3, 3])
    post = Posterior(("adjustment_speed",), values[:, None] / 10, weights)
    assert post.interval(0.9) == {"adjustment_speed": (0.1, 0.3)}
    assert post.interval(0.5) == {"adjustment_speed": (0.3, 0.3)}
    # adjustment_speed's prior is 0.05-1: its 90% interval is 0.855 wide
    assert post.width_vs_prior(0.9)["adjustment_speed"] == pytest.approx(0.2 / 0.855)
    assert post.width_vs_prior(0.5)["adjustment_speed"] == 0.0
