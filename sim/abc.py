"""Bayesian calibration: a posterior over the fitted parameters by ABC-SMC (pyABC).

The point fit (``sim.calibration``) finds one parameter set, but some parameters are barely
identified by the data, and bands drawn around one set understate what is not known. This module
computes a posterior over the same free parameters (``FITTED``) from the same data: the
``wales-2014`` hindcast against NATO's core % GDP panel, fitted on every year of the 2015-2024
panel (``POSTERIOR_TRAIN``), with 2025 held out and reported as a check. The point fit keeps
2015-2022 so that the hindcast has a two-year held-out window (``sim.validation``); the posterior,
which forecasts draw from, learns from the years after 2022 too, and the rolling-origin check
tests this method out of sample (``sim.rolling.posterior_at``: a posterior per origin, fitted on
the years up to it). ``sim.posterior`` writes and reads the result.

Method: approximate Bayesian computation by sequential Monte Carlo (ABC-SMC; Toni et al. 2009,
Del Moral et al. 2012) with pyABC (Schälte et al. 2022):

- priors: uniform on each parameter's documented range (``PARAMETERS[name].low/high``);
- summary statistics: the mean core % GDP over the replications in every training year of every
  published ally with forces (the cells of the point fit's objective, ``train_error_rmse``, over
  2015-2024);
- distance: the RMSE (pp of GDP) of those statistics against the panel, i.e. the point fit's
  objective over those years, so an epsilon reads as a hindcast error;
- epsilon: the median of the previous generation's distances (``QuantileEpsilon(alpha=0.5)``),
  the first from a sample of the prior; the kernel is pyABC's default, a multivariate normal
  fitted to the previous generation. A generation holds parameter sets whose mean hindcast lies
  within its epsilon of the panel, weighted by prior over proposal density;
- the posterior: the model misses the panel by about 0.27 pp whatever the parameters, so
  epsilon never reaches zero, and running on would keep only the sets that best fit this one
  noisy realisation of the panel. The posterior is the first generation that the panel's noise
  mostly cannot tell from the best fit: at least half its weight on particles that beat the best
  fit in at least 5% of noise realisations of the panel (``within_noise``, ``SELECTION``).

Why pyABC: the model has no tractable likelihood (32 allies with thresholds, caps and lags), so
inference must be simulation-based. pyABC is maintained, documented, pip-installable and pure
Python over numpy/scipy/pandas, and implements ABC-SMC with adaptive thresholds and kernels and a
sampler interface. ``sbi`` (neural posterior estimation) needs torch, which this machine cannot
install; emulator-based history matching adds an emulator whose own error must be checked, for a
model cheap enough to run directly.

Speed and reproducibility: the ensemble engine runs many parameter sets at once
(``simulate_points``), about three times faster per run than one set per call. ``BatchSampler``
lets pyABC propose a batch of particles as usual, runs all their simulations in one call, then
lets pyABC evaluate them in order; with numpy's generator state saved before the proposals and
restored after the simulations, the particles are exactly those of pyABC's single-core sampler.
Every particle is simulated with the same replication seeds (``replication_seeds(seed, 0,
replications)``, those of ``hindcast(replications, seed)``), so the distance is a deterministic
function of the parameters (common random numbers, as in the point fit), and pyABC's proposals
come from numpy's global generator seeded with ``seed`` (its state is restored afterwards): the
same command gives the same posterior. pyABC is imported only when a calibration runs.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from types import MappingProxyType

import numpy as np

from sim.calibration import FITTED
from sim.data import DEFAULT_EDITION, NO_FORCES, check_edition
from sim.ensemble import simulate_points
from sim.initial import ScenarioData, scenario_data
from sim.parameters import MEAN_FIT, PARAMETERS
from sim.posterior import Posterior, weighted_quantiles, write_posterior
from sim.scenario import Scenario, load_scenario
from sim.shocks import replication_seeds
from sim.validation import HINDCAST, SEED, observed_core

SUMMARY_STATISTICS = (
    "mean core % GDP over the replications, per published ally with forces and training year "
    "({years}, {scenario} hindcast)"
)
DISTANCE = "RMSE (pp of GDP) of the summary statistics against the panel"
METHOD = (
    "ABC-SMC: uniform priors on the documented ranges, QuantileEpsilon(alpha=0.5) (the first from "
    "a prior sample), MultivariateNormalTransition, UniformAcceptor; BatchSampler (sim.abc)"
)
LEVEL = 0.05
"""A particle is told apart from the best fit by the panel's noise when it fits better than the
best fit in fewer than this share of noise realisations."""
MAJORITY = 0.5
"""The posterior is the first generation with at least this weight on particles not told apart
from the best fit."""
REALISATIONS = 200
"""Noise realisations of the panel made to tell particles apart."""
SELECTION = (
    f"the first generation with at least {MAJORITY:.0%} of its weight on particles that fit "
    "better than the best fit (the last generation's particle closest to the panel) in at least "
    f"{LEVEL:.0%} of {REALISATIONS} noise realisations of the panel (the panel plus single runs' "
    "deviations from their mean at the best fit, seeds replication_seeds(root, 1, "
    f"{REALISATIONS})); else the last"
)
MAX_RUNS = 8192
"""Runs per ``simulate_points`` call (bounds memory; a call's runs share the year loop)."""
MAX_BATCH = 4000
"""Particles proposed, then simulated together, at most per batch of the sampler."""
BUDGET = MappingProxyType({"particles": 1000, "generations": 10, "replications": 16})
"""ABC-SMC's default budget (``alliance calibrate --method abc``; the rolling-origin check's
per-origin posteriors)."""


@dataclass(frozen=True)
class Panel:
    """What a calibration fits and checks: core % GDP by year and ally, and the cells used.

    Attributes:
        scenario: The hindcast scenario (its data edition included).
        observed: Core % GDP (years of the run x allies, in the engine's ally order).
        train: Cells fitted (training years, published allies with forces).
        test: Cells held out (test years, same allies).
        source: What the panel is, for the posterior file.
        data: The runs' start state when not the scenario's own ``scenario_data`` (a rolling
            origin's, built from what was known at it: ``sim.rolling.rolling_panel``).
    """

    scenario: Scenario
    observed: np.ndarray
    train: np.ndarray
    test: np.ndarray
    source: str
    data: ScenarioData | None = None

    def span(self, cells: np.ndarray) -> str:
        """The years of some cells: ``2015-2022``, ``2025`` for one year, ``none`` without any."""
        years = np.asarray(self.scenario.years)[cells.any(axis=1)]
        if not len(years):
            return "none"
        return str(years.min()) if years.min() == years.max() else f"{years.min()}-{years.max()}"

    def run(self, specs: Sequence[Scenario], seeds: Sequence[Sequence[int]]) -> np.ndarray:
        """Core % GDP of ``seeds[i]`` runs of each of ``specs`` from the panel's start state."""
        rec = simulate_points(specs, seeds, ("core_pct_gdp",), (), data=self.data)
        return rec.allies["core_pct_gdp"]


POSTERIOR_TRAIN = range(2015, 2025)
"""Years the posterior is fitted on: the whole 2015-2024 panel, the post-2022 rise included."""

POSTERIOR_TEST = range(2025, 2026)
"""Its held-out final window: 2025."""


def nato_panel(data_edition: str = DEFAULT_EDITION) -> Panel:
    """NATO's panel in an edition, on the hindcast's years and allies, run at ``MEAN_FIT``.

    Fitted on ``POSTERIOR_TRAIN``, ``POSTERIOR_TEST`` held out. The withheld allies' 2015-2024
    values are not in the data, so they are in no training cell; their 2025 values are held out
    like the others'.
    """
    spec = load_scenario(HINDCAST).with_data_edition(check_edition(data_edition))
    spec = spec.with_parameters(**MEAN_FIT)
    iso3 = scenario_data(spec).iso3
    obs = observed_core(spec.data_edition).reindex(index=iso3, columns=list(spec.years))
    values = obs.to_numpy(dtype=float).T
    published = np.isfinite(values) & ~np.isin(iso3, NO_FORCES)[None, :]
    years = np.asarray(spec.years)[:, None]
    return Panel(
        spec,
        values,
        published & np.isin(years, POSTERIOR_TRAIN),
        published & np.isin(years, POSTERIOR_TEST),
        f"NATO core % GDP, {spec.data_edition} edition",
    )


def twin_panel(truth: Mapping[str, float], seed: int, data_edition: str = DEFAULT_EDITION) -> Panel:
    """A panel the model made itself: one hindcast run with parameters ``truth``.

    It has NATO's cells (same allies and years fitted and held out), filled by the run with seed
    ``seed``: a twin experiment checks that the calibration recovers ``truth`` from it.
    """
    nato = nato_panel(data_edition)
    run = nato.run([nato.scenario.with_parameters(**truth)], [[seed]])
    observed = np.where(nato.train | nato.test, run[0], np.nan)
    values = ", ".join(f"{n}={v:g}" for n, v in truth.items())
    return replace(nato, observed=observed, source=f"twin: {HINDCAST} run, seed {seed}, {values}")


class PanelSimulator:
    """Mean core % GDP over fixed seeds, for many parameter sets at once.

    Args:
        panel: The panel (its scenario is run).
        names: The parameters that vary; the others keep the scenario's values.
        seeds: Replication seeds, the same for every parameter set.
    """

    def __init__(self, panel: Panel, names: Sequence[str], seeds: Sequence[int]):
        """Keep what every call shares."""
        self.panel, self.names, self.seeds = panel, tuple(names), list(seeds)

    def means(self, points: np.ndarray) -> np.ndarray:
        """Mean over the seeds of each parameter set's core % GDP.

        Args:
            points: One parameter set per row, columns in ``names`` order (m, k).

        Returns:
            (m, years, allies).
        """
        per_call = max(1, MAX_RUNS // len(self.seeds))
        out = []
        for start in range(0, len(points), per_call):
            chunk = points[start : start + per_call]
            specs = [
                self.panel.scenario.with_parameters(
                    **dict(zip(self.names, map(float, row), strict=True))
                )
                for row in chunk
            ]
            core = self.panel.run(specs, [self.seeds] * len(specs))
            out.append(core.reshape(len(specs), len(self.seeds), *core.shape[1:]).mean(axis=1))
        return np.concatenate(out)

    def statistics(self, points: np.ndarray) -> np.ndarray:
        """The summary statistics (training cells of ``means``) of each parameter set, (m, n)."""
        return self.means(points)[:, self.panel.train]

    def rmse(self, means: np.ndarray, cells: np.ndarray) -> np.ndarray:
        """RMSE (pp) of each of ``means`` (m, years, allies) against the panel at ``cells``."""
        error = means[:, cells] - self.panel.observed[cells]
        return np.sqrt((error**2).mean(axis=1))


def rmse_distance(x: Mapping[str, np.ndarray], x_0: Mapping[str, np.ndarray]) -> float:
    """The ABC distance: RMSE (pp) between simulated and observed summary statistics."""
    return float(np.sqrt(np.mean((x["core"] - x_0["core"]) ** 2)))


class PlannedModel:
    """pyABC's model, in two passes: record the parameter sets pyABC proposes, then serve them.

    While ``plan`` calls the proposal function, each call records its parameter set and returns
    the observed statistics as a placeholder; ``plan`` then simulates them all at once. Later calls
    return the simulated statistics in the same order, checking that the parameters are the same.

    Args:
        simulator: Computes the summary statistics.
        observed: The observed summary statistics.
    """

    def __init__(self, simulator: PanelSimulator, observed: np.ndarray):
        """Start with nothing planned."""
        self.simulator, self.observed = simulator, observed
        self._planning: list[np.ndarray] | None = None
        self._planned: deque[tuple[np.ndarray, np.ndarray]] = deque()

    def __call__(self, pars: Mapping[str, float]) -> dict[str, np.ndarray]:
        """The summary statistics of one parameter set (pyABC's ``sample``)."""
        x = np.array([pars[n] for n in self.simulator.names], dtype=float)
        if self._planning is not None:
            self._planning.append(x)
            return {"core": self.observed}
        planned, stats = self._planned.popleft()
        if not np.array_equal(planned, x):
            raise RuntimeError("pyABC proposed other particles on replay than when planning")
        return {"core": stats}

    def plan(self, propose: Callable[[], object], size: int) -> None:
        """Call ``propose`` ``size`` times recording its parameter sets, then simulate them."""
        self._planning = []
        try:
            for _ in range(size):
                propose()
            points = np.array(self._planning)
        finally:
            self._planning = None
        self._planned = deque(zip(points, self.simulator.statistics(points), strict=True))

    def discard(self) -> None:
        """Forget simulated sets not served (the batch overshot the accepted particles needed)."""
        self._planned.clear()


Progress = Callable[[int, float, int, int], None]
"""Called after each generation with (generation, epsilon, accepted, evaluations)."""


def uniform_prior(names: Sequence[str]):
    """The prior for pyABC: independent uniforms on the parameters' documented ranges.

    Its densities are plain comparisons: pyABC evaluates the prior density of every proposal,
    and with ``pyabc.RV("uniform")`` each is a ``scipy.stats`` call per parameter, which took
    more time than the simulations when profiled.

    Returns:
        A ``pyabc.Distribution``.
    """
    from pyabc import Distribution
    from pyabc.random_variables import RVBase

    class Uniform(RVBase):
        """Uniform on [low, high]."""

        def __init__(self, low: float, high: float) -> None:
            self.low, self.high = low, high

        def copy(self) -> Uniform:
            return Uniform(self.low, self.high)

        def rvs(self, *args, **kwargs) -> float:
            return float(np.random.uniform(self.low, self.high))

        def pmf(self, x, *args, **kwargs) -> float:
            return 0.0  # continuous: no mass at a point

        def pdf(self, x, *args, **kwargs) -> float:
            return 1.0 / (self.high - self.low) if self.low <= x <= self.high else 0.0

        def cdf(self, x, *args, **kwargs) -> float:
            return float(np.clip((x - self.low) / (self.high - self.low), 0.0, 1.0))

    return Distribution(**{n: Uniform(PARAMETERS[n].low, PARAMETERS[n].high) for n in names})


def single_model():
    """The model prior for pyABC when there is one model: always model 0.

    pyABC evaluates the model prior's mass for every proposal; its default
    (``RV("randint", 0, 1)``) makes that a ``scipy.stats`` call.

    Returns:
        A ``pyabc.random_variables.RVBase``.
    """
    from pyabc.random_variables import RVBase

    class One(RVBase):
        """The single model's index, 0, with probability 1."""

        def copy(self) -> One:
            return One()

        def rvs(self, *args, **kwargs) -> int:
            return 0

        def pmf(self, x, *args, **kwargs) -> float:
            return 1.0 if x == 0 else 0.0

        def pdf(self, x, *args, **kwargs) -> float:
            return self.pmf(x)

        def cdf(self, x, *args, **kwargs) -> float:
            return 1.0 if x >= 0 else 0.0

    return One()


def normal_transition():
    """The kernel: pyABC's default (``MultivariateNormalTransition``), proposing without pandas.

    A proposal draws the same numbers from numpy's generator as pyABC's and returns the same
    values, without indexing a DataFrame and building a Series for each one as pyABC does.

    Returns:
        A ``pyabc.MultivariateNormalTransition``.
    """
    from pyabc import MultivariateNormalTransition, Parameter

    class ArrayNormalTransition(MultivariateNormalTransition):
        """``MultivariateNormalTransition`` whose single proposals index a numpy array."""

        def rvs_single(self) -> Parameter:
            i = np.random.choice(self._range, p=self.w, replace=True)
            step = np.random.multivariate_normal(np.zeros(self.cov.shape[0]), self.cov)
            return Parameter(dict(zip(self.X.columns, self._X_arr[i] + step, strict=True)))

    return ArrayNormalTransition()


def batch_sampler(model: PlannedModel, progress: Progress | None = None):
    """A pyABC sampler that simulates a batch of particles in one call.

    It returns exactly the sample of pyABC's ``SingleCoreSampler``: particles are proposed and
    evaluated in the same order from the same generator state, and evaluation stops at the n-th
    accepted one (later particles of the batch are simulated but discarded, and not counted).

    Args:
        model: The model pyABC calls (planned in batches).
        progress: Called after each generation.

    Returns:
        A ``pyabc.sampler.Sampler``.
    """
    from pyabc.sampler import Sampler

    class BatchSampler(Sampler):
        """Propose a batch, simulate it at once, evaluate it in order (see ``batch_sampler``)."""

        def __init__(self) -> None:
            super().__init__()
            self.rate = 0.5  # acceptance rate expected for the first batch of a generation

        def sample_until_n_accepted(
            self, n, simulate_one, t, *, max_eval=np.inf, all_accepted=False, ana_vars=None
        ):
            sample = self._create_empty_sample()
            evaluations = 0
            while sample.n_accepted < n and evaluations < max_eval:
                missing = n - sample.n_accepted
                size = missing if all_accepted else math.ceil(1.2 * missing / self.rate)
                size = int(min(size, MAX_BATCH, max_eval - evaluations))
                state = np.random.get_state()
                model.plan(simulate_one, size)
                np.random.set_state(state)
                for _ in range(size):
                    sample.append(simulate_one())
                    evaluations += 1
                    if sample.n_accepted == n:
                        break
                model.discard()
                if not all_accepted:
                    self.rate = max(sample.n_accepted, 1) / evaluations
            self.nr_evaluations_ = evaluations
            if sample.n_accepted < n:
                sample.ok = False
            if progress is not None and t >= 0 and ana_vars is not None:
                progress(t, float(ana_vars.eps(t)), sample.n_accepted, evaluations)
            return sample

    return BatchSampler()


def noise_realisations(
    panel: Panel, names: Sequence[str], values: Sequence[float], seed: int, count: int
) -> np.ndarray:
    """The panel's noise as the model makes it: single runs' deviations from their mean.

    Args:
        panel: The panel (its scenario is run; training cells are kept).
        names: Parameters set to ``values`` (the others keep the scenario's values).
        values: Their values.
        seed: Root seed; the runs take ``replication_seeds(seed, 1, count)``, which no particle
            uses (particles take index 0).
        count: Realisations.

    Returns:
        (count, training cells).
    """
    spec = panel.scenario.with_parameters(**dict(zip(names, map(float, values), strict=True)))
    seeds = replication_seeds(seed, 1, count)
    cells = panel.run([spec], [seeds])[:, panel.train]
    return cells - cells.mean(axis=0)


def beat_shares(
    stats: np.ndarray, reference: np.ndarray, observed: np.ndarray, noise: np.ndarray
) -> np.ndarray:
    """For each row of ``stats``, the share of noise realisations it fits better than ``reference``.

    Args:
        stats: Summary statistics of some parameter sets (m, n).
        reference: Those of the reference set (n,).
        observed: The observed statistics (n,).
        noise: Noise realisations (K, n); realisation k is ``observed + noise[k]``.

    Returns:
        (m,) shares in [0, 1].
    """

    def squared(s: np.ndarray) -> np.ndarray:  # mean squared error to each realisation (m, K)
        error = s - observed
        cross = error @ noise.T / error.shape[1]
        return (error**2).mean(axis=1)[:, None] - 2 * cross + (noise**2).mean(axis=1)[None, :]

    return (squared(stats) < squared(reference[None, :])).mean(axis=1)


def within_noise(
    stats: np.ndarray,
    weights: np.ndarray,
    best: np.ndarray,
    observed: np.ndarray,
    noise: np.ndarray,
) -> float:
    """Weight of the particles that the panel's noise cannot tell from the best fit.

    A particle is not told apart when it fits better than the best fit (statistics ``best``)
    in at least ``LEVEL`` of the noise realisations.
    """
    return float(weights @ (beat_shares(stats, best, observed, noise) >= LEVEL))


@dataclass(frozen=True)
class AbcCalibration:
    """A finished Bayesian calibration.

    Attributes:
        names: The parameters sampled.
        samples: The posterior: the selected generation, one row per particle (n, k).
        weights: Their importance weights, summing to 1.
        selected: Index of the selected generation (the first within noise, else the last).
        epsilons: Each generation's threshold (pp RMSE).
        accepted: Particles accepted in each generation.
        evaluations: Particles simulated and evaluated in each generation.
        ess: Effective sample size of each generation's weights.
        within_noise: Each generation's weight on particles not told from its best by noise.
        prior_evaluations: Prior draws simulated to set the first epsilon.
        fit: RMSE (pp) on the training and held-out cells (no ``test`` keys without any), of
            the posterior mean, the posterior median, the posterior predictive mean and the point
            fit (``fit`` keys ``rmse_{train,test}_pp_{mean,median,predictive,point}``).
        particles: Particles per generation.
        generations: Generations run.
        replications: Runs averaged per particle.
        seed: Root seed of the runs' seeds and seed of pyABC's proposals.
        seeds: The replication seeds every particle ran with.
        data_edition: Edition of NATO's tables.
        panel: What was fitted (``Panel.source``).
        scenario: The hindcast scenario run.
        train_years: The years fitted (``2015-2024``).
        test_years: The years held out and reported (``none`` without any).
        wall_time_s: Seconds the calibration took (the fit summary included).
        library_version: pyABC's version.
    """

    names: tuple[str, ...]
    samples: np.ndarray
    weights: np.ndarray
    selected: int
    epsilons: tuple[float, ...]
    accepted: tuple[int, ...]
    evaluations: tuple[int, ...]
    ess: tuple[float, ...]
    within_noise: tuple[float, ...]
    prior_evaluations: int
    fit: dict[str, float]
    particles: int
    generations: int
    replications: int
    seed: int
    seeds: tuple[int, ...]
    data_edition: str
    panel: str
    scenario: str
    train_years: str
    test_years: str
    wall_time_s: float
    library_version: str

    @property
    def command(self) -> str:
        """The command that reproduces this calibration (of NATO's panel)."""
        fit = "" if self.names == FITTED else f" --fit {','.join(self.names)}"
        edition = (
            "" if self.data_edition == DEFAULT_EDITION else f" --data-edition {self.data_edition}"
        )
        return (
            f"alliance calibrate --method abc --particles {self.particles} --generations "
            f"{self.generations} --replications {self.replications} --seed {self.seed}"
            f"{fit}{edition}"
        )

    def interval(self, q: float = 0.9) -> dict[str, tuple[float, float]]:
        """Each parameter's central credible interval of mass ``q`` (``Posterior.interval``)."""
        return Posterior(self.names, self.samples, self.weights).interval(q)


def _fit_summary(
    simulator: PanelSimulator, samples: np.ndarray, weights: np.ndarray
) -> dict[str, float]:
    """RMSE (pp) on the training and held-out cells (if any), with the calibration's seeds.

    Of the posterior mean, the posterior median (per parameter), the posterior predictive mean
    (the weighted mean of the particles' hindcasts) and the point fit (the defaults).
    """
    names = simulator.names
    mean = weights @ samples
    median = np.array(
        [weighted_quantiles(samples[:, j], weights, [0.5])[0] for j in range(len(names))]
    )
    point = np.array([PARAMETERS[n].default for n in names])
    means = simulator.means(np.vstack([mean, median, point, samples]))
    predictive = np.tensordot(weights, means[3:], axes=1)[None]
    cases = {
        "mean": means[0:1],
        "median": means[1:2],
        "predictive": predictive,
        "point": means[2:3],
    }
    panel = simulator.panel
    return {
        f"rmse_{part}_pp_{case}": float(simulator.rmse(m, cells)[0])
        for case, m in cases.items()
        for part, cells in (("train", panel.train), ("test", panel.test))
        if cells.any()
    }


@dataclass(frozen=True)
class _Generation:
    """One generation of a pyABC history: particles in ``names`` order, weights, statistics."""

    samples: np.ndarray
    weights: np.ndarray
    stats: np.ndarray
    distances: np.ndarray


def _generation(history, t: int, names: Sequence[str]) -> _Generation:
    particles = history.get_population(t).particles
    weights = np.array([p.weight for p in particles], dtype=float)
    return _Generation(
        np.array([[p.parameter[n] for n in names] for p in particles], dtype=float),
        weights / weights.sum(),
        np.array([p.sum_stat["core"] for p in particles], dtype=float),
        np.array([p.distance for p in particles], dtype=float),
    )


def calibrate_abc(
    particles: int = BUDGET["particles"],
    generations: int = BUDGET["generations"],
    replications: int = BUDGET["replications"],
    seed: int = SEED,
    fit: Sequence[str] = FITTED,
    data_edition: str = DEFAULT_EDITION,
    progress: Progress | None = None,
    panel: Panel | None = None,
) -> AbcCalibration:
    """Compute a posterior over parameters by ABC-SMC on the 2015-2024 hindcast.

    pyABC runs ``generations`` generations. The posterior is the first generation whose
    particles the panel's noise mostly cannot tell from the best fit (the last generation's
    particle closest to the panel): ``within_noise`` at least ``MAJORITY``, with noise from
    ``noise_realisations`` at the best fit. Later generations would only keep the particles
    that fit this one realisation of the panel best. If none qualifies, the last is kept.

    Args:
        particles: Particles accepted per generation (the posterior's sample size).
        generations: Generations run.
        replications: Runs averaged per particle (seeds fixed, the same for every particle).
        seed: Root seed of the runs' seeds and seed of pyABC's proposals.
        fit: The parameters to sample (``FITTED`` by default); the others keep their defaults.
        data_edition: Edition of NATO's tables the hindcast starts from and is fitted to.
        progress: Called after each generation.
        panel: The panel to fit (``nato_panel(data_edition)`` by default; ``twin_panel`` for a
            twin experiment).

    Returns:
        The selected generation's weighted particles, the schedule and the fit.

    Raises:
        ValueError: Unknown or whole-number parameters, or a budget that is not positive.
    """
    unknown = [n for n in fit if n not in PARAMETERS or PARAMETERS[n].integer]
    if unknown or not fit:
        raise ValueError(f"cannot fit {unknown or 'no parameter'}: name continuous parameters")
    if min(particles, generations, replications) < 1:
        raise ValueError("particles, generations and replications must be positive")
    import pyabc  # 6 s to import: only when calibrating
    from pyabc.weighted_statistics import effective_sample_size

    logging.getLogger("ABC").setLevel(logging.WARNING)  # progress goes to ``progress`` instead

    started = time.perf_counter()
    panel = panel or nato_panel(data_edition)
    names = tuple(fit)
    seeds = tuple(replication_seeds(seed, 0, replications))
    simulator = PanelSimulator(panel, names, seeds)
    observed = panel.observed[panel.train]
    model = PlannedModel(simulator, observed)
    abc = pyabc.ABCSMC(
        model,
        uniform_prior(names),
        rmse_distance,
        population_size=particles,
        model_prior=single_model(),
        transitions=normal_transition(),
        eps=pyabc.QuantileEpsilon(alpha=0.5),
        sampler=batch_sampler(model, progress),
    )
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        abc.new("sqlite://", {"core": observed})
        history = abc.run(max_nr_populations=generations)
    finally:
        np.random.set_state(state)
    runs = [_generation(history, t, names) for t in range(history.max_t + 1)]
    best = np.argmin(runs[-1].distances)
    noise = noise_realisations(panel, names, runs[-1].samples[best], seed, REALISATIONS)
    shares = [within_noise(g.stats, g.weights, runs[-1].stats[best], observed, noise) for g in runs]
    selected = next((t for t, share in enumerate(shares) if share >= MAJORITY), len(runs) - 1)
    chosen = runs[selected]
    populations = history.get_all_populations()
    done = populations[populations["t"] >= 0]
    return AbcCalibration(
        names=names,
        samples=chosen.samples,
        weights=chosen.weights,
        selected=selected,
        epsilons=tuple(float(e) for e in done["epsilon"]),
        accepted=tuple(int(p) for p in done["particles"]),
        evaluations=tuple(int(s) for s in done["samples"]),
        ess=tuple(float(effective_sample_size(g.weights)) for g in runs),
        within_noise=tuple(shares),
        prior_evaluations=int(populations.loc[populations["t"] < 0, "samples"].sum()),
        fit=_fit_summary(simulator, chosen.samples, chosen.weights),
        particles=particles,
        generations=generations,
        replications=replications,
        seed=seed,
        seeds=seeds,
        data_edition=panel.scenario.data_edition,
        panel=panel.source,
        scenario=panel.scenario.name,
        train_years=panel.span(panel.train),
        test_years=panel.span(panel.test),
        wall_time_s=time.perf_counter() - started,
        library_version=pyabc.__version__,
    )


def to_posterior(cal: AbcCalibration, when: date) -> Posterior:
    """The posterior file's contents: samples, weights and how they were made."""
    return Posterior(
        cal.names,
        cal.samples,
        cal.weights,
        {
            "date": when,
            "command": cal.command,
            "method": METHOD,
            "library": "pyabc",
            "library_version": cal.library_version,
            "scenario": cal.scenario,
            "panel": cal.panel,
            "data_edition": cal.data_edition,
            "train": cal.train_years,
            "test": cal.test_years,
            "summary_statistics": SUMMARY_STATISTICS.format(
                years=cal.train_years, scenario=cal.scenario
            ),
            "distance": DISTANCE,
            "prior": "uniform on each parameter's documented range (sim/parameters.py)",
            "selection": SELECTION,
            "wall_time_s": round(cal.wall_time_s, 1),
            "budget": {
                "particles": cal.particles,
                "generations": cal.generations,
                "replications": cal.replications,
            },
            "seeds": {"root": cal.seed, "runs": list(cal.seeds)},
            "schedule": {
                "selected_generation": cal.selected,
                "epsilon_pp": list(cal.epsilons),
                "accepted": list(cal.accepted),
                "evaluations": list(cal.evaluations),
                "ess": [round(e, 1) for e in cal.ess],
                "within_noise": [round(w, 4) for w in cal.within_noise],
                "prior_evaluations": cal.prior_evaluations,
            },
            "fit": {k: round(v, 4) for k, v in cal.fit.items()},
        },
    )


def write_abc(cal: AbcCalibration, path: Path | None = None) -> Path:
    """Write the posterior file of a calibration (atomically); return its path."""
    header = [
        "Written by `alliance calibrate --method abc`; do not edit by hand. Forecasts draw",
        "parameters from it (sim/posterior.py). Rerun the command below to reproduce it.",
    ]
    return write_posterior(to_posterior(cal, date.today()), path, header)


def format_abc(cal: AbcCalibration, generations: int, path: Path) -> str:
    """``alliance calibrate --method abc``'s summary: the posterior, its fits, its intervals."""
    fit = cal.fit
    lines = [
        f"Posterior: {len(cal.samples)} weighted draws (generation {cal.selected + 1} of "
        f"{generations}, epsilon {cal.epsilons[cal.selected]:.4f} pp, {cal.wall_time_s:.0f} s)."
    ]
    labels = {"mean": "posterior mean", "median": "posterior median"}
    labels |= {"predictive": "predictive mean", "point": "point fit"}
    for case, label in labels.items():
        held_out = fit.get(f"rmse_test_pp_{case}")
        lines.append(
            f"  RMSE, {label:16} {cal.train_years} {fit[f'rmse_train_pp_{case}']:.4f} pp"
            + ("" if held_out is None else f"; {cal.test_years}, held out: {held_out:.4f} pp")
        )
    lines.append("90% credible interval [prior range]:")
    for name, (low, high) in cal.interval(0.9).items():
        p = PARAMETERS[name]
        lines.append(f"  {name:28} [{low:.4g}, {high:.4g}]  [{p.low:g}, {p.high:g}]")
    lines.append(f"Written: {path}")
    return "\n".join(lines)
