"""Files of ``alliance validate``: hindcast table, metrics, PNG plots and a Markdown report."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.data import DEFAULT_EDITION, NO_FORCES, WITHHELD, load_reference
from sim.parameters import PRIORS, calibration_file, read_calibration
from sim.store import atomic_write
from sim.validation import TEST, TRAIN, YEARS, Validation, observed_core, span

EDITION_NAMES = {
    "2025": "Aug-2025 edition (*Defence Expenditure of NATO Countries 2014-2025*)",
    "2026": "July-2026 edition (*Defence Investment of NATO Countries 2014-2026*, restated)",
}
"""How the report names each data edition."""
_BASIS = {"2025": "Aug-2025 basis", "2026": "July-2026 basis"}

PLOTS = {
    "fit_by_ally": "fit_by_ally.png",
    "count_ge_2pct": "count_ge_2pct.png",
    "residuals": "residuals.png",
    "step_2025": "step_2025.png",
}


def write_validation(result: Validation, out: Path, report: Path | None = None) -> Path:
    """Write ``hindcast.parquet``, ``metrics.json``, the plots and the report.

    A rolling-origin section already in the report (``sim.rolling_report``) is kept.

    Args:
        result: From ``sim.validation.validate``.
        out: Folder for the table, the metrics and the plots.
        report: Markdown report; ``out/validation.md`` by default. Plots are linked relative
            to it.

    Returns:
        The report's path.
    """
    out.mkdir(parents=True, exist_ok=True)
    report = report or out / "validation.md"
    report.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "hindcast.parquet", lambda tmp: result.table.to_parquet(tmp, index=False))
    text = json.dumps(result.metrics, indent=2) + "\n"
    atomic_write(out / "metrics.json", lambda tmp: Path(tmp).write_text(text))
    figures = {
        "fit_by_ally": plot_fit_by_ally(result),
        "count_ge_2pct": plot_counts(result.metrics),
        "residuals": plot_residuals(result.metrics),
        "step_2025": plot_step_2025(result.step),
    }
    for name, fig in figures.items():
        atomic_write(out / PLOTS[name], lambda tmp, f=fig: f.savefig(tmp, format="png", dpi=110))
    files = {name: out / file for name, file in PLOTS.items()} | {"calibration": calibration_file()}
    links = {name: Path(os.path.relpath(f, report.parent)).as_posix() for name, f in files.items()}
    markdown = report_markdown(result.metrics, links)
    if report.exists():  # keep the section `alliance validate --rolling` wrote (about 20 min)
        from sim.rolling_report import current_section, replace_section

        rolling = current_section(report.read_text())
        markdown = replace_section(markdown, rolling) if rolling else markdown
    atomic_write(report, lambda tmp: Path(tmp).write_text(markdown))
    return report


def _shade_test(ax) -> None:
    ax.axvspan(TEST.start - 0.5, TEST.stop - 0.5, color="0.93", zorder=0)


def plot_fit_by_ally(result: Validation) -> Figure:
    """Small multiples: simulated mean and 5-95% band against NATO's figures, 2014-2025."""
    runs = result.hindcast.runs
    obs = observed_core(result.hindcast.data_edition)
    allies = [iso for iso in obs.index if iso not in NO_FORCES]
    fig = Figure(figsize=(13, 14), layout="constrained")
    axes = fig.subplots(8, 4, sharex=True).ravel()
    for ax, iso in zip(axes, allies, strict=False):
        years = runs.loc[iso].index.to_numpy()
        band = runs.loc[iso].quantile([0.05, 0.95], axis=1).to_numpy()
        _shade_test(ax)
        ax.fill_between(years, band[0], band[1], color="tab:blue", alpha=0.2, lw=0)
        ax.plot(years, runs.loc[iso].mean(axis=1), color="tab:blue", lw=1.5)
        ax.plot(obs.columns, obs.loc[iso], "o", color="black", ms=3)
        ax.axhline(2.0, color="tab:red", lw=0.6, ls="--")
        title = f"{iso} (withheld 2015-24)" if iso in WITHHELD else iso
        ax.set_title(title, fontsize=9, loc="left")
        ax.tick_params(labelsize=7)
    for ax in axes[len(allies) :]:
        ax.set_visible(False)
    fig.suptitle(
        "Core defence spending, % GDP: hindcast mean and 5-95% band (blue) vs NATO (dots); "
        f"grey = test years {TEST.start}-{TEST.stop - 1}, dashed = 2%",
        fontsize=10,
    )
    return fig


def plot_counts(metrics: dict) -> Figure:
    """Allies at >=2% per year: hindcast and NATO on the same allies, and the hindcast for all."""
    by_year = pd.DataFrame(metrics["count_ge_2pct_by_year"]).T
    years = by_year.index.astype(int)
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    _shade_test(ax)
    ax.plot(years, by_year["obs"], "o-", color="black", label="NATO, published allies")
    ax.plot(years, by_year["sim"], "s-", color="tab:blue", label="hindcast, same allies")
    ax.plot(years, by_year["sim_all_allies"], "--", color="tab:blue", label="hindcast, all allies")
    basis = _BASIS[metrics.get("data_edition", DEFAULT_EDITION)]
    ax.plot([2024], [metrics["count_ge_2pct_2024_nato_all_allies"]], "D", color="tab:orange",
            label=f"NATO 2024, all allies ({basis})")  # fmt: skip
    ax.set_xlabel("year")
    ax.set_ylabel("allies at >=2% of GDP")
    ax.legend(fontsize=8)
    return fig


def plot_residuals(metrics: dict) -> Figure:
    """Each ally's mean test-period error against distance to Russia and against GDP."""
    allies = load_reference().allies
    bias = pd.Series({iso: m["bias_test_pp"] for iso, m in metrics["per_ally"].items()})
    distance = allies.loc[bias.index, "capital_to_russia_or_belarus_km"].clip(lower=10)
    gdp = allies.loc[bias.index, "gdp_usd_bn_2024"]
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    for ax, x, label in zip(
        fig.subplots(1, 2),
        (distance, gdp),
        ("capital to Russia or Belarus, km (log)", "GDP 2024, USD bn (log)"),
        strict=True,
    ):
        ax.axhline(0, color="0.5", lw=0.8)
        ax.scatter(x, bias, color="tab:blue", s=18)
        for iso in bias.index:
            ax.annotate(
                iso, (x[iso], bias[iso]), fontsize=7, xytext=(3, 2), textcoords="offset points"
            )
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel(f"mean error {TEST.start}-{TEST.stop - 1}, pp (sim - obs)")
    return fig


def plot_step_2025(step: pd.DataFrame) -> Figure:
    """The 2025 step: simulated against published 2025 core % GDP, with the 2024 start."""
    c = step[step["compared"]]
    fig = Figure(figsize=(6, 6), layout="constrained")
    ax = fig.subplots()
    low, high = 0.8, float(np.nanmax(c[["core_2025_sim", "core_2025_obs"]].to_numpy())) + 0.3
    ax.plot([low, high], [low, high], color="0.5", lw=0.8)
    ax.scatter(
        c["core_2025_obs"], c["core_2024_obs"], marker="x", color="0.6", label="2024 (start)"
    )
    ax.scatter(c["core_2025_obs"], c["core_2025_sim"], color="tab:blue", label="2025 simulated")
    for _, row in c.iterrows():
        ax.annotate(row["iso3"], (row["core_2025_obs"], row["core_2025_sim"]), fontsize=7,
                    xytext=(3, 2), textcoords="offset points")  # fmt: skip
    ax.set_xlabel("NATO 2025 estimate, % GDP")
    ax.set_ylabel("% GDP")
    ax.legend(fontsize=8)
    return fig


def _pp(x: float) -> str:
    return f"{x:.2f} pp"


def findings(metrics: dict, calibrated: bool) -> str:
    """One paragraph of plain-language findings, generated from the numbers."""
    m, step, held = metrics, metrics["step_2025"], metrics["withheld_2025"]
    best_naive = min(m["rmse_persistence_test_pp"], m["rmse_trend_test_pp"])
    verdict = "beats" if m["rmse_test_pp"] < best_naive else "does not beat"
    worst = sorted(m["per_ally"].items(), key=lambda kv: -kv[1]["rmse_test_pp"])[:3]
    worst_text = ", ".join(
        f"{iso} ({_pp(v['rmse_test_pp'])}, {'over' if v['bias_test_pp'] > 0 else 'under'}"
        f"-predicted by {_pp(abs(v['bias_test_pp']))} on average)"
        for iso, v in worst
    )
    held_verdict = (
        "about as well as"
        if held["rmse_2025_withheld_pp"] <= 1.5 * held["rmse_2025_others_pp"]
        else "worse than"
    )
    return (
        f"Started from 2014{f' and fitted on {span(TRAIN)} only' if calibrated else ''}, "
        "the model tracks "
        f"{TEST.start}-{TEST.stop - 1} with an RMSE of {_pp(m['rmse_test_pp'])} per ally-year, "
        f"which {verdict} carrying each ally's 2014 share forward "
        f"({_pp(m['rmse_persistence_test_pp'])}) and extending its 2014-2016 trend "
        f"({_pp(m['rmse_trend_test_pp'])}). On average it is {_pp(abs(m['bias_test_pp']))} "
        f"{'too high' if m['bias_test_pp'] > 0 else 'too low'} in the test years. In 2024 it puts "
        f"{m['count_ge_2pct_2024_sim']} of the "
        f"{m['count_ge_2pct_by_year']['2024']['published_allies']} allies with published "
        f"figures at 2% or more, against {m['count_ge_2pct_2024_obs']} observed "
        f"({m['count_ge_2pct_2024_sim_all_allies']} of all allies against NATO's "
        f"{m['count_ge_2pct_2024_nato_all_allies']}). The worst-fitting allies are {worst_text}. "
        f"The six allies whose paths were withheld are predicted {held_verdict} the others in "
        f"2025 (RMSE {_pp(held['rmse_2025_withheld_pp'])} against "
        f"{_pp(held['rmse_2025_others_pp'])}). One year from 2024 under the US demand for 5%, "
        f"the model raises the compared allies by {_pp(step['mean_change_2025_sim_pp'])} on "
        f"average against {_pp(step['mean_change_2025_obs_pp'])} published, and puts "
        f"{step['count_ge_2pct_2025_sim']} of {step['allies_compared']} at 2% or more against "
        f"{step['count_ge_2pct_2025_obs']}.{_step_posterior_finding(m)}"
    )


def _step_posterior_finding(metrics: dict) -> str:
    """One sentence: the 2025 step's change and RMSE with posterior draws ("" without them)."""
    drawn = metrics.get("step_2025_posterior")
    if drawn is None:
        return ""
    return (
        " With parameters drawn from the posterior, as the CLI forecasts by default, it raises "
        f"them by {_pp(drawn['mean_change_2025_sim_pp'])} (RMSE {_pp(drawn['rmse_2025_pp'])}, "
        f"against {_pp(metrics['step_2025']['rmse_2025_pp'])} with the calibrated values)."
    )


def _calibration_text(cal: dict, link: str, edition: str = DEFAULT_EDITION) -> str:
    if not cal:
        return "- **Calibration:** none; every parameter is at its documented prior."
    fit = cal["fit"]
    # A file without the key predates the 2026 edition: it was fitted on the 2025 edition.
    fitted_on = str(cal.get("data_edition", "2025"))
    note = (
        ""
        if fitted_on == edition
        else f"\n  The calibration was fitted on the {fitted_on} edition's panel, not on the "
        f"{edition} edition\n  validated here."
    )
    return (
        f"- **Calibration:** `{cal['command']}` ({cal['date']}) fitted the parameters below on\n"
        f"  {span(TRAIN)} only: training RMSE {fit['rmse_train_pp']:.4f} pp with its "
        f"{cal['replications']} replications,\n  {fit['rmse_train_prior_pp']:.4f} pp at the "
        "documented priors. They are alliance-wide; allies differ\n  only through data: distance "
        "to Russia, a land border, a coast, a documented rival, national plans,\n  GDP and debt. "
        f"Values: [`scenarios/calibration.toml`]({link})."
        f"{note}"
    )


def _table(rows: list[list[str]], header: list[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join([*lines, *("| " + " | ".join(r) + " |" for r in rows)])


def report_markdown(metrics: dict, links: dict[str, str]) -> str:
    """The validation report (Markdown), every figure taken from ``metrics``."""
    m, step = metrics, metrics["step_2025"]
    edition = m.get("data_edition", DEFAULT_EDITION)
    germany = ", and not Germany, which has no 2025 figure in this edition" * (edition == "2025")
    cal = read_calibration()
    rows = [
        ("model (calibrated defaults)", ""),
        ("persistence (2014 value)", "persistence_"),
        ("trend (2014-2016, extended)", "trend_"),
    ]
    headline = _table(
        [[label, _pp(m[f"rmse_{k}train_pp"]), _pp(m[f"rmse_{k}test_pp"])] for label, k in rows],
        ["forecast", f"RMSE train {span(TRAIN)}", f"RMSE test {span(TEST)}"],
    )
    counts = _table(
        [
            [
                year,
                str(c["obs"]),
                str(c["sim"]),
                str(c["published_allies"]),
                str(c["sim_all_allies"]),
            ]
            for year, c in m["count_ge_2pct_by_year"].items()
        ],
        ["year", "NATO", "hindcast", "allies published", "hindcast, all allies"],
    )
    columns = ["rmse_train_pp", "rmse_test_pp", "bias_test_pp"]
    columns += ["rmse_persistence_test_pp", "rmse_trend_test_pp"]
    per_ally = _table(
        [
            [iso, *(f"{v[c]:+.2f}" if c.startswith("bias") else _pp(v[c]) for c in columns)]
            for iso, v in sorted(m["per_ally"].items(), key=lambda kv: -kv[1]["rmse_test_pp"])
        ],
        ["ally", "RMSE train", "RMSE test", "bias test (pp)", "persistence test", "trend test"],
    )
    held = m["withheld_2025"]
    values = cal.get("parameters", {})
    calibrated = (
        _table(
            [[name, f"{value:g}", f"{PRIORS[name]:g}"] for name, value in values.items()],
            ["parameter", "calibrated value", "prior"],
        )
        if values
        else ""
    )
    return f"""# Validation: hindcast 2014-2024 against NATO's published figures

Generated by `alliance validate` ({m["replications"]} replications, seed {m["seed"]}); do not
edit by hand. Numbers: `metrics.json`; per ally and year: `hindcast.parquet`.

## Findings

{findings(m, bool(cal))}

## Set-up

- **Data:** data edition `{edition}`, NATO's
  {EDITION_NAMES[edition]}. Every run starts from it
  and is compared with it (`--data-edition`; the editions and their revisions: `docs/data.md`).
- **Hindcast:** scenario `{m["scenario"]}`, from each ally's 2014 state: the Wales pledge (2% within
  a decade), the threat steps of 2014 and 2022 and observed GDP growth; nothing else observed
  after 2014 enters. Each cell is the mean of {m["replications"]} runs; its largest Monte Carlo
  standard error is {m["mc_se_max_pp"]:.4f} pp.
- **Cells:** allies with a published figure ({m["cells_train"]} ally-years in
  {TRAIN.start}-{TRAIN.stop - 1}, {m["cells_test"]} in {TEST.start}-{TEST.stop - 1}). Iceland has no
  forces. The paths of {", ".join(m["withheld"])} are withheld from the data: they are simulated
  like every other ally and enter no {YEARS.start + 1}-{YEARS.stop - 1} metric.
{_calibration_text(cal, links["calibration"], edition)}

{calibrated}

## Error against naive baselines

{headline}

![Hindcast and NATO figures per ally]({links["fit_by_ally"]})

## Allies at 2% or more

NATO's 2024 count over all allies is {m["count_ge_2pct_2024_nato_all_allies"]}; the data
withhold six allies' 2024 values, so the like-for-like count uses the allies published in each
year.

{counts}

![Allies at 2% or more per year]({links["count_ge_2pct"]})

## Residuals against observable attributes

A pattern here would mean a missing alliance-wide dependence (on distance or on size).

![Mean test-period error against distance and GDP]({links["residuals"]})

## Per ally

{per_ally}

## Withheld allies in 2025

The hindcast, which knows nothing of the 2025 US demand, against NATO's 2025 estimates: RMSE
{_pp(held["rmse_2025_withheld_pp"])} for the six withheld allies, {_pp(held["rmse_2025_others_pp"])}
for the others. Errors of the withheld allies (pp, sim - obs):
{", ".join(f"{iso} {e:+.2f}" for iso, e in held["error_2025_withheld_pp"].items())}.

## The 2025 step

Scenario `{step["scenario"]}`: from each ally's published 2024 share, one year under the US demand
for 5%, with the national plans announced by 31 December 2024 and the Wales pledge (2%) overdue.
The enforcement of an overdue pledge under US pressure (`pledge_enforcement`) was added after
seeing this step's residuals, so the step is not a clean out-of-sample test of it; the parameters
fitted on 2015-2022 never see it.
{step["allies_compared"]} allies are compared (published in 2024 and 2025; not the withheld six,
whose 2024 start is interpolated toward their 2025 value{germany}).
RMSE {_pp(step["rmse_2025_pp"])} against {_pp(step["rmse_2025_persistence_pp"])} for carrying 2024
forward; mean change
{step["mean_change_2025_sim_pp"]:+.2f} pp simulated, {step["mean_change_2025_obs_pp"]:+.2f} pp
published; allies at 2% or more: {step["count_ge_2pct_2024_obs"]} in 2024,
{step["count_ge_2pct_2025_sim"]} simulated and {step["count_ge_2pct_2025_obs"]} published in
2025.{_step_posterior(m)}{_step_hindsight(m)}

![The 2025 step]({links["step_2025"]})
{_step_table(m)}"""


def _step_hindsight(metrics: dict) -> str:
    """The 2025 step again, knowing the plans decided during 2025 ("" when it was not run)."""
    seen = metrics.get("step_2025_hindsight")
    if seen is None:
        return ""
    return (
        f"\n\nWith hindsight, knowing the national plans announced up to {seen['plans_known_by']} "
        "(the decisions of 2025, which the step cannot know; scenario field `plans_known_by`), "
        f"with {_step_parameters(metrics)}: RMSE {_pp(seen['rmse_2025_pp'])}; mean change "
        f"{seen['mean_change_2025_sim_pp']:+.2f} pp simulated. What remains is the model's own "
        "error and NATO's revisions of its 2025 figures between editions (table)."
    )


def _step_parameters(metrics: dict) -> str:
    """The parameters the hindsight step and the per-ally table ran with (``validate``)."""
    return "posterior draws" if "step_2025_posterior" in metrics else "the calibrated values"


def _step_table(metrics: dict) -> str:
    """The 2025 step per ally, largest miss first ("" for metrics that predate it)."""
    rows = metrics.get("step_2025_by_ally")
    if not rows:
        return ""

    def pp(x: float | None, sign: str = "") -> str:
        return "n/a" if x is None else f"{x:{sign}.2f}"

    lines = [
        "",
        f"Per ally (% GDP; forecast: mean of the runs with {_step_parameters(metrics)}, 5-95% of "
        "runs in brackets; "
        "hindsight: knowing 2025's plans; revision: NATO's 2025 figure in the 2026 edition "
        "less its June 2025 estimate in the 2025 edition), largest miss first:",
        "",
        "| Ally | 2024 | 2025 forecast | with hindsight | 2025 published | error | revision |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for iso, r in rows.items():
        lines.append(
            f"| {iso} | {pp(r['core_2024_obs'])} | {pp(r['core_2025_sim'])} "
            f"[{pp(r['core_2025_sim_p05'])}-{pp(r['core_2025_sim_p95'])}] | "
            f"{pp(r['core_2025_hindsight'])} | {pp(r['core_2025_obs'])} | "
            f"{pp(r['error_pp'], '+')} | {pp(r['revision_pp'], '+')} |"
        )
    return "\n".join(lines) + "\n"


def _step_posterior(metrics: dict) -> str:
    """The 2025 step with parameters drawn from the posterior ("" when it was not run)."""
    drawn = metrics.get("step_2025_posterior")
    if drawn is None:
        return ""
    years = drawn.get("posterior_train") or "years the file does not state"
    return (
        "\n\nWith each run's parameters drawn from the posterior (`scenarios/posterior.toml`, "
        f"fitted on {years}: it knows the step's start, not 2025), as `alliance run` and "
        f"`alliance batch` forecast by default: RMSE {_pp(drawn['rmse_2025_pp'])}; mean change "
        f"{drawn['mean_change_2025_sim_pp']:+.2f} pp simulated; allies at 2% or more: "
        f"{drawn['count_ge_2pct_2025_sim']} simulated."
    )


def _step_lines(metrics: dict) -> list[str]:
    """The 2025 step's RMSE and mean change, calibrated and (when run) with posterior draws."""
    obs = metrics["step_2025"]["mean_change_2025_obs_pp"]
    steps = {
        "calibrated": metrics["step_2025"],
        "posterior": metrics.get("step_2025_posterior"),
        "with hindsight (2025's plans)": metrics.get("step_2025_hindsight"),
    }
    return [
        f"2025 step, {name}: RMSE {step['rmse_2025_pp']:.3f} pp, mean change "
        f"{step['mean_change_2025_sim_pp']:+.3f} pp (published {obs:+.3f})"
        for name, step in steps.items()
        if step is not None
    ]


def format_validation(result: Validation, edition: str, out: Path, report: Path) -> str:
    """``alliance validate``'s summary: the RMSEs, the 2024 count of allies at 2%, the files."""
    m = result.metrics
    return "\n".join(
        [
            f"RMSE train {span(TRAIN)} {m['rmse_train_pp']:.3f} pp; held out {span(TEST)} "
            f"{m['rmse_test_pp']:.3f} pp (persistence {m['rmse_persistence_test_pp']:.3f}, "
            f"trend {m['rmse_trend_test_pp']:.3f})",
            f"Allies at >=2% in 2024: {m['count_ge_2pct_2024_sim']} simulated, "
            f"{m['count_ge_2pct_2024_obs']} observed (allies with published figures)",
            *_step_lines(m),
            f"NATO data edition {edition}",
            f"Written: {out}/ (hindcast.parquet, metrics.json, plots) and {report}",
        ]
    )
