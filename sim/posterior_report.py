"""The posterior report: what the data taught about each parameter, and what is left uncertain.

``python -m sim.posterior_report`` reads ``scenarios/posterior.toml`` and prints, as Markdown,
each parameter's prior range against its posterior (median and 90% interval), the pairs of
parameters that trade off (weighted correlations), and the spread of ``hague-2035``'s 2035
outputs across posterior draws against shocks alone; it writes the plots to ``docs/posterior/``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy.stats import spearmanr

from sim.abc import (
    LEVEL,
    REALISATIONS,
    PanelSimulator,
    beat_shares,
    nato_panel,
    noise_realisations,
)
from sim.data import DEFAULT_EDITION
from sim.ensemble import simulate_points
from sim.parameters import PARAMETERS
from sim.posterior import Posterior, PosteriorFileError, draw, read_posterior, weighted_quantiles
from sim.scenario import load_scenario
from sim.shocks import replication_seeds
from sim.store import atomic_write

OUTPUTS = {
    "allies_ge_3_5pct_core": "allies at >=3.5% core",
    "allies_ge_5pct_total": "allies at >=5% total",
    "allies_ge_2pct": "allies at >=2% core",
    "mean_core_pct_gdp": "mean core % GDP",
    "capability_gap": "capability gap",
    "us_share_of_spending": "US share of spending",
}
"""The alliance outputs of 2035 compared (``ALLIANCE_COLUMNS``) and how the report names them."""


def parameter_table(post: Posterior) -> pd.DataFrame:
    """Prior range, posterior median and 90% interval, and the interval's share of the range.

    One row per parameter; ``point`` is the parameter's default (the point fit);
    ``width_vs_prior`` is the posterior's 90% interval over the prior's (0.9 of the range).
    """
    rows, widths = [], post.width_vs_prior(0.9)
    for j, name in enumerate(post.names):
        p = PARAMETERS[name]
        q05, q50, q95 = weighted_quantiles(post.samples[:, j], post.weights, [0.05, 0.5, 0.95])
        rows.append(
            {
                "parameter": name,
                "prior_low": p.low,
                "prior_high": p.high,
                "point": p.default,
                "median": q50,
                "q05": q05,
                "q95": q95,
                "width_vs_prior": widths[name],
            }
        )
    return pd.DataFrame(rows).set_index("parameter")


def correlations(post: Posterior) -> pd.DataFrame:
    """Weighted correlation matrix of the parameters under the posterior."""
    corr = np.cov(post.samples, rowvar=False, aweights=post.weights)
    sd = np.sqrt(np.diag(corr))
    return pd.DataFrame(corr / np.outer(sd, sd), index=post.names, columns=post.names)


def trade_offs(post: Posterior, top: int = 6) -> pd.DataFrame:
    """The ``top`` pairs of parameters with the strongest posterior correlation."""
    corr = correlations(post)
    pairs = [(a, b, corr.at[a, b]) for i, a in enumerate(post.names) for b in post.names[i + 1 :]]
    pairs.sort(key=lambda x: -abs(x[2]))
    return pd.DataFrame(pairs[:top], columns=["first", "second", "correlation"])


def outputs_2035(
    post: Posterior, runs: int = 1000, seed: int = 1, scenario: str = "hague-2035"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """2035 outputs of a scenario across posterior draws, against shocks alone.

    Both ensembles use the same run seeds (``replication_seeds(seed, 0, runs)``, as a batch):
    the shocks-only runs all take the parameter defaults (the point fit); each posterior run
    takes the draw its seed maps to (``sim.posterior.draw``), so the difference between the two
    is the parameters' uncertainty.

    Args:
        post: The posterior.
        runs: Runs per ensemble.
        seed: Root seed of the runs.
        scenario: The scenario run.

    Returns:
        The 5th, 50th and 95th percentiles of each output in each ensemble; and the Spearman
        correlation of each parameter with each output across the posterior runs.
    """
    spec = load_scenario(scenario)
    seeds = replication_seeds(seed, 0, runs)
    columns = tuple(OUTPUTS)
    point = simulate_points([spec], [seeds], ("core_pct_gdp",), columns)
    index = draw(post, seeds)
    points = [spec.with_parameters(**post.values(i)) for i in index]
    drawn = simulate_points(points, [[s] for s in seeds], ("core_pct_gdp",), columns)
    rows, drivers = [], {}
    for name, label in OUTPUTS.items():
        for kind, rec in (("shocks", point), ("posterior", drawn)):
            final = rec.alliance[name][:, -1]
            q05, q50, q95 = np.quantile(final, [0.05, 0.5, 0.95])
            rows.append({"output": label, "draws": kind, "q05": q05, "median": q50, "q95": q95})
        final = drawn.alliance[name][:, -1]
        drivers[label] = {
            n: spearmanr(post.samples[index, j], final).statistic if final.std() > 0 else 0.0
            for j, n in enumerate(post.names)
        }
    return pd.DataFrame(rows), pd.DataFrame(drivers)


def tolerance_vs_noise(post: Posterior) -> dict[str, float]:
    """Whether the panel's noise could tell the posterior's draws from the point fit.

    As the calibration's selection rule (``sim.abc.within_noise``), with the point fit (the
    parameters' defaults) in place of the best particle: noise realisations from single runs of
    the point fit, the calibration's seeds for the draws' hindcasts.

    Args:
        post: The posterior (``seeds.root``, ``seeds.runs`` and ``data_edition`` are read).

    Returns:
        ``distance_point`` and ``distance_max`` (the point fit's and the worst draw's distance
        to the panel, pp); ``beats_point_mean`` (the weighted mean over draws of the share of
        realisations in which a draw fits better than the point fit) and ``share_beating_5pct``
        (the weighted share of draws doing so in at least ``LEVEL`` of them).
    """
    panel = nato_panel(post.metadata.get("data_edition", DEFAULT_EDITION))
    seeds = post.metadata["seeds"]
    point = np.array([PARAMETERS[n].default for n in post.names])
    simulator = PanelSimulator(panel, post.names, seeds["runs"])
    stats = simulator.statistics(np.vstack([point, post.samples]))
    observed = panel.observed[panel.train]
    noise = noise_realisations(panel, post.names, point, seeds["root"], REALISATIONS)
    beats = beat_shares(stats[1:], stats[0], observed, noise)
    distance = np.sqrt(((stats - observed) ** 2).mean(axis=1))
    return {
        "distance_point": float(distance[0]),
        "distance_max": float(distance[1:].max()),
        "beats_point_mean": float(post.weights @ beats),
        "share_beating_5pct": float(post.weights @ (beats >= LEVEL)),
    }


def plot_marginals(post: Posterior) -> Figure:
    """One panel per parameter: the posterior's weighted histogram over the prior's range."""
    k = len(post.names)
    cols = 5 if k > 6 else k
    fig = Figure(figsize=(3.1 * cols, 2.5 * -(-k // cols)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(-(-k // cols), cols)).ravel()
    table = parameter_table(post)
    for j, (ax, name) in enumerate(zip(axes, post.names, strict=False)):
        p = PARAMETERS[name]
        bins = np.linspace(p.low, p.high, 31)
        ax.hist(post.samples[:, j], bins=bins, weights=post.weights, density=True, color="C0")
        ax.axhline(1 / (p.high - p.low), color="0.3", ls="--", lw=1, label="prior")
        ax.axvspan(table.at[name, "q05"], table.at[name, "q95"], color="C0", alpha=0.12)
        ax.axvline(p.default, color="C3", lw=1.2, label="point fit")
        ax.set_title(name, fontsize=9)
        ax.set_xlim(p.low, p.high)
        ax.tick_params(labelsize=7)
    for ax in axes[k:]:
        ax.set_visible(False)
    axes[0].legend(fontsize=7)
    fig.suptitle("Prior (dashed, uniform) and posterior (histogram, 90% interval shaded)")
    return fig


def plot_trade_offs(post: Posterior, pairs: pd.DataFrame) -> Figure:
    """Scatter plots of the strongest-correlated pairs (point size = weight)."""
    fig = Figure(figsize=(3.2 * len(pairs), 3.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(pairs)))
    size = 4 + 400 * post.weights / post.weights.max() / np.sqrt(len(post.weights))
    for ax, row in zip(axes, pairs.itertuples(), strict=True):
        a, b = post.names.index(row.first), post.names.index(row.second)
        ax.scatter(post.samples[:, a], post.samples[:, b], s=size, alpha=0.4, lw=0)
        ax.set_xlabel(row.first, fontsize=8)
        ax.set_ylabel(row.second, fontsize=8)
        ax.set_title(f"r = {row.correlation:+.2f}", fontsize=9)
        ax.tick_params(labelsize=7)
    return fig


def plot_outputs(table: pd.DataFrame) -> Figure:
    """5-95% ranges of each 2035 output: shocks alone against posterior draws."""
    labels = list(OUTPUTS.values())
    fig = Figure(figsize=(12, 3), layout="constrained")
    axes = fig.subplots(1, len(labels))
    for ax, label in zip(axes, labels, strict=True):
        for y, kind in enumerate(("shocks", "posterior")):
            row = table[(table["output"] == label) & (table["draws"] == kind)].iloc[0]
            ax.plot([row["q05"], row["q95"]], [y, y], lw=6, color=f"C{y}", solid_capstyle="butt")
            ax.plot([row["median"]], [y], "k|", ms=14)
        ax.set_yticks([0, 1], ["shocks", "posterior"], fontsize=8)
        ax.set_ylim(-0.7, 1.7)
        ax.set_title(label, fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
    fig.suptitle("hague-2035 in 2035: 5-95% range and median across runs")
    return fig


def _markdown(frame: pd.DataFrame, digits: int = 3) -> str:
    """A table as Markdown (no extra dependency)."""
    head = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = [
        "| " + " | ".join(f"{v:.{digits}g}" if isinstance(v, float) else str(v) for v in row) + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join([head, rule, *body])


def report(post: Posterior, out: Path, runs: int, seed: int) -> str:
    """Write the plots to ``out`` and return the report's tables as Markdown."""
    params = parameter_table(post)
    pairs = trade_offs(post)
    noise = tolerance_vs_noise(post)
    outputs, drivers = outputs_2035(post, runs, seed)
    figures = {
        "prior_posterior.png": plot_marginals(post),
        "trade_offs.png": plot_trade_offs(post, pairs),
        "outputs_2035.png": plot_outputs(outputs),
    }
    for name, fig in figures.items():
        atomic_write(out / name, lambda tmp, f=fig: f.savefig(tmp, format="png", dpi=110))
    sections = [
        "## Prior and posterior",
        _markdown(params.reset_index()),
        "## Final tolerance against the panel's noise",
        _markdown(pd.DataFrame([noise]), 4),
        "## Strongest posterior correlations",
        _markdown(pairs),
        f"## hague-2035 in 2035 ({runs} runs, seed {seed})",
        _markdown(outputs),
        "Spearman correlation of each parameter with each output across the posterior runs:",
        _markdown(drivers.reset_index().rename(columns={"index": "parameter"}), 2),
    ]
    return "\n\n".join(sections) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the report and write its plots (exit 2 with one line for a bad posterior file)."""
    parser = argparse.ArgumentParser(prog="python -m sim.posterior_report", description=__doc__)
    parser.add_argument("--posterior", type=Path, default=None, help="posterior file")
    parser.add_argument("--out", type=Path, default=Path("docs/posterior"), help="plot folder")
    parser.add_argument("--runs", type=int, default=1000, help="runs per 2035 ensemble")
    parser.add_argument("--seed", type=int, default=1, help="root seed of the 2035 runs")
    args = parser.parse_args(argv)
    if args.runs < 2:
        parser.error("--runs must be at least 2")
    try:
        post = read_posterior(args.posterior)
    except PosteriorFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report(post, args.out, args.runs, args.seed), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
