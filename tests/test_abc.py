import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyabc
import pytest

from sim.abc import (
    MAJORITY,
    POSTERIOR_TRAIN,
    PanelSimulator,
    PlannedModel,
    batch_sampler,
    beat_shares,
    calibrate_abc,
    format_abc,
    nato_panel,
    normal_transition,
    rmse_distance,
    to_posterior,
    twin_panel,
    uniform_prior,
    within_noise,
)
from sim.data import NO_FORCES, WITHHELD
from sim.parameters import MEAN_FIT, PARAMETERS
from sim.posterior import read_posterior, write_posterior
from sim.shocks import replication_seeds
from sim.validation import TRAIN, hindcast, hindcast_metrics, observed_core, train_error_rmse

TWIN_FREE = ("adjustment_speed", "threat_response_pp")
"""The twin experiments' free parameters (the others keep their defaults)."""


def test_importing_sim_abc_leaves_pyabc_unimported():
    code = "import sys, sim.abc, sim.cli; print('pyabc' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_statistics_and_distance_are_the_point_fit_objective_over_2015_2024():
    """The ABC distance at any parameter set is ``train_error_rmse`` over 2015-2024 of the
    hindcast with the same replications and seed; the held-out RMSE is that of 2025, where the
    withheld allies are published too."""
    values = {"adjustment_speed": 0.4, "free_riding": 0.2, "fiscal_max_rise_pp": 0.9}
    sim, table = hindcast(3, 7, **MEAN_FIT, **values)  # as the point fit's objective runs it
    panel = nato_panel()
    assert panel.span(panel.train) == "2015-2024" and panel.span(panel.test) == "2025"
    simulator = PanelSimulator(panel, tuple(values), replication_seeds(7, 0, 3))
    point = np.array([list(values.values())])
    stats = simulator.statistics(point)[0]
    observed = panel.observed[panel.train]
    assert rmse_distance({"core": stats}, {"core": observed}) == pytest.approx(
        train_error_rmse(table, POSTERIOR_TRAIN), rel=1e-12
    )
    assert train_error_rmse(table, TRAIN) == hindcast_metrics(table, sim)["rmse_train_pp"]
    obs = observed_core()[2025].drop(list(NO_FORCES)).dropna()
    error = sim.mean.xs(2025, level="year").reindex(obs.index) - obs
    assert set(WITHHELD) <= set(obs.index)
    test = simulator.rmse(simulator.means(point), panel.test)[0]
    assert test == pytest.approx(float(np.sqrt((error**2).mean())), rel=1e-12)


def run_abc(model, names, sampler, observed, seed: int, particles: int, generations: int):
    abc = pyabc.ABCSMC(
        model,
        uniform_prior(names),
        rmse_distance,
        population_size=particles,
        transitions=normal_transition(),
        eps=pyabc.QuantileEpsilon(alpha=0.5),
        sampler=sampler,
    )
    np.random.seed(seed)
    abc.new("sqlite://", {"core": observed})
    history = abc.run(max_nr_populations=generations)
    return history.get_distribution(m=0, t=history.max_t), history.get_all_populations()


def test_batch_sampler_gives_the_single_core_samplers_particles():
    """Proposing, simulating in one call and evaluating in order changes nothing."""
    names = ("adjustment_speed", "peer_conformity")
    panel = nato_panel()
    simulator = PanelSimulator(panel, names, replication_seeds(3, 0, 2))
    observed = panel.observed[panel.train]

    def one_at_a_time(pars):
        point = np.array([[pars[n] for n in names]])
        return {"core": simulator.statistics(point)[0]}

    planned = PlannedModel(simulator, observed)
    (batch, w_batch), pops_batch = run_abc(
        planned, names, batch_sampler(planned), observed, 5, 40, 3
    )
    (single, w_single), pops_single = run_abc(
        one_at_a_time, names, pyabc.SingleCoreSampler(), observed, 5, 40, 3
    )
    np.testing.assert_array_equal(batch[list(names)], single[list(names)])
    np.testing.assert_array_equal(w_batch, w_single)
    np.testing.assert_array_equal(pops_batch["samples"], pops_single["samples"])
    np.testing.assert_array_equal(pops_batch["epsilon"], pops_single["epsilon"])


def test_normal_transition_proposes_as_pyabcs():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.random((30, 3)), columns=["a", "b", "c"])
    w = rng.random(30)
    ours, theirs = normal_transition(), pyabc.MultivariateNormalTransition()
    ours.fit(frame, w / w.sum())
    theirs.fit(frame, w / w.sum())
    np.random.seed(3)
    mine = [ours.rvs() for _ in range(20)]
    np.random.seed(3)
    reference = [theirs.rvs() for _ in range(20)]
    for a, b in zip(mine, reference, strict=True):
        assert dict(a) == pytest.approx(dict(b), rel=0, abs=0)


def test_uniform_prior_is_the_documented_range():
    prior = uniform_prior(["free_riding", "threat_response_pp"])
    p = PARAMETERS["threat_response_pp"]
    width = (p.high - p.low) * (PARAMETERS["free_riding"].high - PARAMETERS["free_riding"].low)
    assert prior.pdf({"free_riding": 0.5, "threat_response_pp": 3.0}) == pytest.approx(1 / width)
    assert prior.pdf({"free_riding": 1.01, "threat_response_pp": 3.0}) == 0.0
    assert prior.pdf({"free_riding": 0.5, "threat_response_pp": -0.01}) == 0.0
    np.random.seed(0)
    draws = np.array([prior.rvs()["threat_response_pp"] for _ in range(500)])
    assert p.low <= draws.min() and draws.max() <= p.high
    assert draws.std() == pytest.approx((p.high - p.low) / np.sqrt(12), rel=0.1)


def test_calibration_is_reproducible_and_round_trips(tmp_path):
    state = np.random.get_state()
    kwargs = {"particles": 30, "generations": 2, "replications": 2, "seed": 11, "fit": TWIN_FREE}
    first, second = calibrate_abc(**kwargs), calibrate_abc(**kwargs)
    after = np.random.get_state()
    assert after[0] == state[0] and np.array_equal(after[1], state[1])  # global state restored
    np.testing.assert_array_equal(first.samples, second.samples)
    np.testing.assert_array_equal(first.weights, second.weights)
    assert first.epsilons == second.epsilons and len(first.epsilons) == 2
    assert first.epsilons[1] < first.epsilons[0]
    assert first.accepted == (30, 30) and all(e >= 30 for e in first.evaluations)
    assert first.seeds == tuple(replication_seeds(11, 0, 2))
    assert first.weights.sum() == pytest.approx(1.0)
    # The posterior is the first generation within noise, else the last.
    assert all(share < MAJORITY for share in first.within_noise[: first.selected])
    lines = format_abc(first, 2, Path("posterior.toml")).splitlines()
    assert lines[0].startswith(
        f"Posterior: 30 weighted draws (generation {first.selected + 1} of 2"
    )
    assert lines[1].startswith("  RMSE, posterior mean   2015-2024 ")
    assert lines[5] == "90% credible interval [prior range]:"
    low, high = first.interval(0.9)[TWIN_FREE[0]]
    assert lines[6].startswith(f"  {TWIN_FREE[0]:28} [{low:.4g}, {high:.4g}]")
    assert len(lines) == 6 + len(TWIN_FREE) + 1 and lines[-1] == "Written: posterior.toml"
    assert first.within_noise[first.selected] >= MAJORITY or first.selected == 1
    assert "--fit adjustment_speed,threat_response_pp" in first.command
    for name, (low, high) in first.interval().items():
        assert PARAMETERS[name].low <= low <= high <= PARAMETERS[name].high
    post = to_posterior(first, date(2026, 11, 28))
    back = read_posterior(write_posterior(post, tmp_path / "posterior.toml"))
    assert back.names == TWIN_FREE
    np.testing.assert_allclose(back.samples, first.samples, rtol=0, atol=0)
    assert back.metadata["schedule"]["epsilon_pp"] == list(first.epsilons)
    assert back.metadata["seeds"]["runs"] == list(first.seeds)
    assert back.metadata["library_version"] == pyabc.__version__
    assert back.metadata["fit"]["rmse_test_pp_mean"] == pytest.approx(
        first.fit["rmse_test_pp_mean"], abs=1e-4
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fit": ["no_such"]}, "cannot fit"),
        ({"fit": ["consolidation_lag"]}, "cannot fit"),
        ({"fit": []}, "cannot fit"),
        ({"particles": 0}, "must be positive"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        calibrate_abc(**kwargs)


def test_twin_experiments_recover_known_parameters():
    """Calibrate against panels the model made itself (one run each, with a seed the calibration
    does not use). The 90% credible intervals cover the true values in at least 5 of the 6 cases
    (3 twins x 2 parameters; 5.4 expected of calibrated intervals), every one is narrower than
    the prior's 90% interval, and on average they are at most half as wide."""
    rng = np.random.default_rng(2024)
    covered, widths = 0, []
    for twin in range(3):
        truth = {
            n: float(PARAMETERS[n].low + (PARAMETERS[n].high - PARAMETERS[n].low) * u)
            for n, u in zip(TWIN_FREE, rng.uniform(0.15, 0.6, len(TWIN_FREE)), strict=True)
        }
        panel = twin_panel(truth, seed=900 + twin)
        cal = calibrate_abc(
            particles=100, generations=5, replications=2, seed=twin, fit=TWIN_FREE, panel=panel
        )
        for name, (low, high) in cal.interval(0.9).items():
            covered += low <= truth[name] <= high
            widths.append((high - low) / (0.9 * (PARAMETERS[name].high - PARAMETERS[name].low)))
    assert covered >= 5, f"{covered} of 6 true values inside the 90% intervals"
    assert max(widths) < 1, widths
    assert np.mean(widths) <= 0.5, widths


def test_beat_shares_compare_distances_to_each_realisation():
    rng = np.random.default_rng(5)
    observed, reference = rng.random(30), rng.random(30)
    stats, noise = rng.random((6, 30)), 0.3 * rng.standard_normal((50, 30))

    def rmse(x, y):
        return np.sqrt(((x - y) ** 2).mean())

    brute = [
        np.mean([rmse(s, observed + e) < rmse(reference, observed + e) for e in noise])
        for s in stats
    ]
    np.testing.assert_allclose(beat_shares(stats, reference, observed, noise), brute)
    weights = np.full(6, 1 / 6)
    assert within_noise(stats, weights, reference, observed, noise) == pytest.approx(
        np.mean(np.array(brute) >= 0.05)
    )
