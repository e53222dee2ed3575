"""A policy search's plots (PNG) and ``report.md``, with findings generated from the numbers."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.store import atomic_write

if TYPE_CHECKING:  # sim.policy writes the report
    from sim.policy import OptimizeResult


def _save(fig: Figure, path: Path) -> str:
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight"))
    return path.name


def plot_convergence(result: OptimizeResult) -> Figure:
    """Epsilon progress and hypervolume against the designs evaluated."""
    c = result.convergence
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.plot(c["nfe"], c["epsilon_progress"], color="tab:blue")
    left.set_xlabel("designs evaluated (nfe)")
    left.set_ylabel("epsilon progress (archive improvements)")
    hv = c.dropna(subset=["hypervolume"])
    right.plot(hv["nfe"], hv["hypervolume"], marker="o", color="tab:orange")
    right.set_xlabel("designs evaluated (nfe)")
    right.set_ylabel("hypervolume (normalised)")
    fig.suptitle(f"{result.spec.name}: convergence of the search", fontsize=10)
    return fig


def plot_parcoords(result: OptimizeResult) -> Figure:
    """Levers and objectives of every design (EMA's ``ParallelAxes``), coloured by robustness.

    Axes of objectives to minimise are flipped, so a line higher up is better on every
    objective; the most robust design is drawn thick and red.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis.parcoords import ParallelAxes, get_limits
    spec = result.spec
    data = result.designs[[*spec.lever_names, *spec.objective_names]].copy()
    data["satisficing"] = result.robustness["satisficing"].reindex(data.index)
    limits = get_limits(data)
    for v in spec.levers:  # levers on their whole searched range
        limits[v.name] = [v.low, v.high]
    limits["satisficing"] = [0.0, 1.0]
    with matplotlib.rc_context():  # ParallelAxes sets seaborn's style globally
        axes = ParallelAxes(limits, fontsize=8, rot=60)
        colours = matplotlib.colormaps["viridis"](data["satisficing"].to_numpy())
        for (_, row), colour in zip(data.iterrows(), colours, strict=True):
            axes.plot(row, color=colour, linewidth=1)
        best = int(result.robustness.index[0])
        axes.plot(data.loc[best], color="red", linewidth=3, label=f"design {best} (most robust)")
        axes.invert_axis([o.name for o in spec.objectives if o.direction == "min"])
        axes.legend()
        axes.fig.set_size_inches(1.2 * len(data.columns) + 2, 5)
    return axes.fig


def lever_text(value) -> str:
    """A lever's value in words: a whole-number lever (a year) as is, others to 3 digits."""
    return str(value) if isinstance(value, int | np.integer) else f"{value:.3g}"


def _ranges(varied) -> str:
    return ", ".join(f"`{v.name}` {v.low:g}-{v.high:g}" for v in varied)


def _table(frame: pd.DataFrame) -> str:
    """A DataFrame as a Markdown table, numbers to three significant digits."""
    head = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = [
        "| " + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in row) + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join([head, rule, *rows])


def findings(result: OptimizeResult) -> list[str]:
    """Findings in words: which designs stay good, what breaks them, which levers matter."""
    spec, r, designs = result.spec, result.robustness, result.designs
    n_futures = len(result.futures)
    goals = ", ".join(o.label for o in spec.objectives if o.threshold is not None)
    out = [
        f"Satisficing (every threshold met: {goals}) ranges from {r['satisficing'].min():.0%} to "
        f"{r['satisficing'].max():.0%} of the {n_futures} futures across the {len(r)} designs."
    ]
    for design in list(result.breaking):
        levers = ", ".join(f"`{n}` {lever_text(designs.loc[design, n])}" for n in spec.lever_names)
        regrets = ", ".join(
            f"{o.name} {r.loc[design, f'{o.name}_max_regret']:.3g}" for o in spec.objectives
        )
        line = (
            f"Design {design} ({levers}) meets every threshold in "
            f"{r.loc[design, 'satisficing']:.0%} of futures; maximum regret {regrets}."
        )
        found = result.breaking[design]
        if found is None:
            share = r.loc[design, "satisficing"]
            line += " It fails in " + ("no future." if share == 1 else "every future.")
        else:
            box = "; ".join(
                f"`{b.parameter}` {b.low:.3g}-{b.high:.3g}" for b in found.box.itertuples()
            )
            line += (
                f" It misses a threshold in {found.cases} futures; PRIM puts "
                f"{found.coverage:.0%} of them in {box or 'no narrower box than the whole space'}"
                f" (density {found.density:.0%}: the share of futures there that break it)."
            )
        out.append(line)
    if len(r) >= 5:
        rho = designs[spec.lever_names].corrwith(r["satisficing"], method="spearman").dropna()
        if len(rho):
            ranked = rho.reindex(rho.abs().sort_values(ascending=False).index)
            listed = ", ".join(f"`{n}` {v:+.2f}" for n, v in ranked.items())
            out.append(f"Rank correlation of each lever with satisficing across designs: {listed}.")
    return out


def write_report(result: OptimizeResult) -> Path:
    """Write the plots and ``report.md`` into the search's folder."""
    out, spec = result.out, result.spec
    convergence = _save(plot_convergence(result), out / "convergence.png")
    fig = plot_parcoords(result)
    try:
        parcoords = _save(fig, out / "parcoords.png")
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
    c = result.convergence
    last = c.iloc[-1]
    late = c[c["nfe"] >= 0.9 * last["nfe"]]
    gained = int(last["epsilon_progress"] - late["epsilon_progress"].iloc[0])
    hv = c.dropna(subset=["hypervolume"])
    reached = hv[hv["hypervolume"] >= 0.95 * hv["hypervolume"].iloc[-1]]["nfe"].iloc[0]
    lines = [
        f"# Policy search: {spec.name}",
        "",
        spec.description,
        "",
        f"Scenario `{spec.scenario.name}` (the reference future); seed {spec.seed}; "
        f"`alliance optimize {spec.source}`.",
        f"Levers: {_ranges(spec.levers)}.",
        f"Uncertainties: {_ranges(spec.uncertainties)}"
        + (" and the posterior's draws." if spec.robustness.posterior else "."),
        f"Objectives: {', '.join(o.label for o in spec.objectives)}.",
        "",
        "## Search",
        "",
        f"{spec.search.algorithm} (Platypus), population {spec.search.population}: "
        f"{int(last['nfe'])} designs over {int(last['generation'])} generations, each the mean of "
        f"{spec.search.replications} runs in the reference future (the same seeds for every "
        f"design). The final archive holds {len(result.designs)} designs. Epsilon progress: "
        f"{int(last['epsilon_progress'])} archive improvements in all, {gained} in the last 10% "
        f"of evaluations; the hypervolume reached 95% of its final value after {int(reached)} "
        "designs.",
        "",
        f"![convergence]({convergence})",
        "",
        "## Designs on the front (reference future)",
        "",
        _table(result.designs.reset_index()),
        "",
        f"## Robustness across {len(result.futures)} futures x {spec.robustness.replications} runs",
        "",
        "Satisficing: share of futures meeting every threshold. Maximum regret: largest shortfall "
        "against the best design in the same future, in the objective's units. Ranked by "
        "satisficing, then by the first objective's maximum regret.",
        "",
        _table(result.robustness.reset_index()),
        "",
        "## Findings",
        "",
        *(f"- {line}" for line in findings(result)),
        "",
        f"![parallel coordinates]({parcoords})",
        "",
        "Files: `designs.csv`, `convergence.csv`, `futures.parquet`, `outcomes.parquet`, "
        "`robustness.csv`, `prim_design_<d>.csv`; checkpoints in `search/`, runs in `reeval/`.",
        "",
    ]
    path = out / "report.md"
    text = "\n".join(lines)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path
