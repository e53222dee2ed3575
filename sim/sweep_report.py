"""A sweep's plots (PNG, matplotlib) and ``report.md`` with findings generated from the numbers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.discovery import DiscoveryResult
from sim.store import atomic_write

if TYPE_CHECKING:  # sim.sweep writes the report
    from sim.sweep import SweepResult


def _save(fig: Figure, path: Path) -> str:
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    return path.name


def plot_fans(result: SweepResult) -> Figure:
    """Trajectory fan charts: median and 5-95% / 25-75% bands across design points, by year."""
    columns = [c for c in result.series.columns if c not in ("sample", "year")]
    fig = Figure(figsize=(5 * len(columns), 3.6), layout="constrained")
    for ax, column in zip(np.atleast_1d(fig.subplots(1, len(columns))), columns, strict=True):
        by_year = result.series.groupby("year")[column]
        q = by_year.quantile([0.05, 0.25, 0.5, 0.75, 0.95]).unstack()
        ax.fill_between(q.index, q[0.05], q[0.95], color="tab:blue", alpha=0.15, label="5-95%")
        ax.fill_between(q.index, q[0.25], q[0.75], color="tab:blue", alpha=0.3, label="25-75%")
        ax.plot(q.index, q[0.5], color="tab:blue", label="median")
        ax.set_title(column, fontsize=10)
        ax.set_xlabel("year")
    fig.axes[0].legend(fontsize=8)
    fig.suptitle("Across design points (each the mean of its replications)", fontsize=10)
    return fig


def plot_indices(result: SweepResult) -> Figure:
    """Index bars with 95% confidence intervals, one panel per output."""
    sobol = result.experiment.design == "sobol"
    outputs = list(dict.fromkeys(result.indices["output"]))
    k = len(result.experiment.parameters)
    fig = Figure(figsize=(6 * len(outputs), 0.32 * k + 1.5), layout="constrained")
    for ax, name in zip(np.atleast_1d(fig.subplots(1, len(outputs))), outputs, strict=True):
        t = result.indices[result.indices["output"] == name]
        t = t.sort_values("ST" if sobol else "mu_star")
        pos = np.arange(len(t))
        if sobol:
            ax.barh(pos + 0.2, t["ST"], 0.4, xerr=t["ST_conf"], label="ST", color="tab:blue")
            ax.barh(pos - 0.2, t["S1"], 0.4, xerr=t["S1_conf"], label="S1", color="tab:orange")
            ax.legend(fontsize=8)
        else:
            ax.barh(pos, t["mu_star"], 0.6, xerr=t["mu_star_conf"], color="tab:blue")
            ax.set_xlabel("mu* (output units)")
        ax.set_yticks(pos, t["parameter"], fontsize=8)
        ax.set_title(name, fontsize=10)
    return fig


def plot_morris(result: SweepResult) -> Figure:
    """Morris mu* against sigma: far right = influential, high = interacting or non-linear."""
    outputs = list(dict.fromkeys(result.indices["output"]))
    fig = Figure(figsize=(5 * len(outputs), 4.2), layout="constrained")
    for ax, name in zip(np.atleast_1d(fig.subplots(1, len(outputs))), outputs, strict=True):
        t = result.indices[result.indices["output"] == name]
        ax.scatter(t["mu_star"], t["sigma"], color="tab:blue", s=18)
        for row in t.itertuples():
            ax.annotate(row.parameter, (row.mu_star, row.sigma), fontsize=7, xytext=(3, 2),
                        textcoords="offset points")  # fmt: skip
        ax.set_xlabel("mu*")
        ax.set_ylabel("sigma")
        ax.set_title(name, fontsize=10)
    return fig


def plot_grid(result: SweepResult) -> Figure:
    """For a two-parameter grid: each output's replication mean as a heatmap."""
    (a, b) = [v.name for v in result.experiment.parameters]
    outputs = [o.name for o in result.experiment.outputs]
    fig = Figure(figsize=(4.8 * len(outputs), 4), layout="constrained")
    for ax, name in zip(np.atleast_1d(fig.subplots(1, len(outputs))), outputs, strict=True):
        table = result.samples.assign(value=result.output(name)).pivot_table(
            index=b, columns=a, values="value"
        )
        image = ax.imshow(table.to_numpy(), origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(table.columns)), [f"{v:g}" for v in table.columns], fontsize=8)
        ax.set_yticks(range(len(table.index)), [f"{v:g}" for v in table.index], fontsize=8)
        ax.set_xlabel(a)
        ax.set_ylabel(b)
        ax.set_title(name, fontsize=10)
        fig.colorbar(image, ax=ax)
    return fig


def plot_prim_tradeoff(found: DiscoveryResult) -> Figure:
    """PRIM's peeling trajectory: coverage against density, coloured by restricted dimensions."""
    fig = Figure(figsize=(5.5, 4.2), layout="constrained")
    ax = fig.subplots()
    t = found.trajectory
    points = ax.scatter(t["coverage"], t["density"], c=t["res_dim"], cmap="viridis", s=18)
    ax.scatter([found.coverage], [found.density], marker="o", facecolor="none", color="red", s=90,
               label="reported box")  # fmt: skip
    fig.colorbar(points, ax=ax, label="restricted parameters")
    ax.set_xlabel("coverage")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    return fig


def plot_prim_box(found: DiscoveryResult, samples: pd.DataFrame) -> Figure:
    """The reported PRIM box: each restricted parameter's range within its sampled range."""
    box = found.box
    fig = Figure(figsize=(6, 0.5 * max(len(box), 1) + 1.4), layout="constrained")
    ax = fig.subplots()
    for i, row in enumerate(box.itertuples()):
        lo, hi = samples[row.parameter].min(), samples[row.parameter].max()
        start, end = (row.low - lo) / (hi - lo), (row.high - lo) / (hi - lo)
        ax.barh(i, end - start, left=start, color="tab:blue", alpha=0.6)
        ax.text(start, i + 0.3, f"{row.low:.3g}", fontsize=7)
        ax.text(end, i + 0.3, f"{row.high:.3g}", fontsize=7, ha="right")
    ax.set_yticks(range(len(box)), box["parameter"], fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the sampled range")
    ax.set_title(f"coverage {found.coverage:.2f}, density {found.density:.2f}", fontsize=10)
    return fig


def write_report(result: SweepResult) -> Path:
    """Write the plots and ``report.md`` into the sweep's folder; return the report's path."""
    out, e, found = result.out, result.experiment, result.discovery
    images = []
    if not result.series.empty and len(result.series.columns) > 2:
        images.append(("Trajectories", _save(plot_fans(result), out / "fan_charts.png")))
    if result.indices is not None:
        images.append(("Sensitivity indices", _save(plot_indices(result), out / "indices.png")))
        if e.design == "morris":
            images.append(("Morris mu* and sigma", _save(plot_morris(result), out / "morris.png")))
    if e.design == "grid" and len(e.parameters) == 2:
        images.append(("Outputs over the grid", _save(plot_grid(result), out / "grid.png")))
    if found is not None:
        images.append(
            ("PRIM trade-off", _save(plot_prim_tradeoff(found), out / "prim_tradeoff.png"))
        )
        images.append(
            ("PRIM box", _save(plot_prim_box(found, result.samples), out / "prim_box.png"))
        )
    text = [
        f"# Sweep `{e.name}`",
        "",
        e.description,
        "",
        f"Generated by `alliance sweep {e.source}`. Scenario `{e.scenario.name}`, {e.design} "
        f"design, {len(result.samples)} design points x {e.replications} replications, "
        f"seed {e.seed}.",
        "",
        "## Findings",
        "",
        findings(result, found),
        "",
    ]
    if result.indices is not None:
        text += ["## Indices (`indices.csv`)", "", _markdown(result.indices), ""]
    text += ["## Outputs across design points (replication means; sd within points)", "",
             _markdown(_output_summary(result)), ""]  # fmt: skip
    if found is not None:
        text += [f"## Scenario discovery: {e.discovery.label}", "", _markdown(found.box), ""]
        if len(found.cart):
            text += ["CART leaves where the outcome dominates:", "", _markdown(found.cart), ""]
    for title, name in images:
        text += [f"## {title}", "", f"![{title}]({name})", ""]
    path = out / "report.md"
    report = "\n".join(text)
    atomic_write(path, lambda tmp: Path(tmp).write_text(report))
    return path


def _output_summary(result: SweepResult) -> pd.DataFrame:
    g = result.outputs.groupby("output", sort=False)
    means = g["mean"]
    return pd.DataFrame(
        {
            "median": means.median(),
            "p05": means.quantile(0.05),
            "p95": means.quantile(0.95),
            "replication_sd": g["sd"].mean(),  # spread of the runs within a design point
        }
    )


def _markdown(table: pd.DataFrame) -> str:
    t = table.reset_index() if table.index.name else table
    rows = [[f"{v:.4g}" if isinstance(v, float) else str(v) for v in r] for r in t.to_numpy()]
    lines = ["| " + " | ".join(map(str, t.columns)) + " |", "|" + "---|" * len(t.columns)]
    return "\n".join([*lines, *("| " + " | ".join(r) + " |" for r in rows)])


def findings(result: SweepResult, found: DiscoveryResult | None) -> str:
    """One paragraph of plain-language findings from the sweep's numbers."""
    e = result.experiment
    parts = []
    summary = _output_summary(result)
    first = e.outputs[0].name
    s = summary.loc[first]
    parts.append(
        f"Across the {len(result.samples)} design points, {first} has a median of "
        f"{s['median']:.3g} (5-95%: {s['p05']:.3g} to {s['p95']:.3g})."
    )
    if result.indices is not None:
        key = "ST" if e.design == "sobol" else "mu_star"
        label = "total-order Sobol index" if key == "ST" else "mean absolute elementary effect"
        for name in dict.fromkeys(result.indices["output"]):
            t = result.indices[result.indices["output"] == name].nlargest(3, key)
            ranked = ", ".join(f"{r.parameter} ({getattr(r, key):.3g})" for r in t.itertuples())
            parts.append(f"For {name}, the largest {label}s are {ranked}.")
    else:
        rho = result.samples.assign(y=result.output(first)).corr(method="spearman")["y"].drop("y")
        ranked = ", ".join(
            f"{n} ({r:+.2f})" for n, r in rho[rho.abs().sort_values().index[::-1]].items()
        )
        parts.append(f"Rank correlations of {first} with the parameters: {ranked}.")
    if found is not None:
        where = "; ".join(
            f"{r.parameter} {r.low:.3g} to {r.high:.3g}" for r in found.box.itertuples()
        )
        parts.append(
            f"The outcome {e.discovery.label} holds in {found.cases} of {found.points} points. "
            f"PRIM finds it where {where or 'no range is restricted'}: this box holds "
            f"{found.coverage:.0%} of those cases, and {found.density:.0%} of its points are cases."
        )
    return " ".join(parts)
