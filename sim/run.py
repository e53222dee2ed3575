"""Single runs: tidy tables from a model, and a run written to disk with its manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from sim.columns import ALLIANCE_COLUMNS, ALLIANCE_TABLE, ALLIES_TABLE
from sim.model import AllianceModel
from sim.provenance import git_commit, versions
from sim.scenario import Scenario, load_scenario
from sim.store import atomic_write


@dataclass(frozen=True)
class RunResult:
    """One run's outputs.

    Attributes:
        scenario: The resolved scenario, parameters included.
        seed: The run's seed.
        allies: One row per ally per year (``ALLIES_TABLE``).
        alliance: One row per year (``ALLIANCE_TABLE``).
    """

    scenario: Scenario
    seed: int
    allies: pd.DataFrame
    alliance: pd.DataFrame


def model_tables(model: AllianceModel, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The allies and alliance tables of a (finished or running) model."""
    dc = model.datacollector
    start, name = model.spec.start_year, model.spec.name
    alliance = dc.get_model_vars_dataframe().assign(scenario=name, seed=seed)
    alliance["year"] = alliance["year"].astype("int64")
    index_of = {a.unique_id: a.index for a in model.by_index}
    frames = [dc.get_agenttype_vars_dataframe(kind) for kind in dc.agenttype_reporters]
    allies = pd.concat(frames).reset_index()
    allies["year"] = (start + allies["Step"]).astype("int64")
    allies["order"] = allies["AgentID"].map(index_of)
    allies = allies.sort_values(["year", "order"], kind="stable").reset_index(drop=True)
    allies["iso3"] = model.initial.iso3[allies["order"]]
    allies["name"] = model.initial.names[allies["order"]]
    allies = allies.assign(scenario=name, seed=seed)
    for col in ALLIANCE_COLUMNS:
        if col.startswith("allies_ge"):
            alliance[col] = alliance[col].astype("int64")
    return (
        allies[list(ALLIES_TABLE)].astype({"seed": "int64"}),
        alliance[list(ALLIANCE_TABLE)].astype({"seed": "int64"}).reset_index(drop=True),
    )


def run_scenario(scenario: str | Scenario, seed: int = 1, **parameters: float) -> RunResult:
    """Run one scenario to its end year with the Mesa model.

    Args:
        scenario: A scenario name, a TOML path, or a loaded ``Scenario``.
        seed: The run's seed; the same (scenario, parameters, seed) gives the same tables.
        **parameters: Parameter values that replace the scenario's.

    Returns:
        The run's tables.
    """
    spec = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    model = AllianceModel(spec, rng=seed, **parameters)
    model.run_for(model.spec.end_year - model.spec.start_year)
    allies, alliance = model_tables(model, seed)
    return RunResult(model.spec, seed, allies, alliance)


def manifest(result: RunResult, forecast: dict | None = None) -> dict:
    """Everything needed to reproduce a run: scenario, full parameters, seed, versions, commit.

    ``forecast`` (what ``sim.forecast.write_forecast`` wrote beside the run) is recorded too.
    """
    return {
        "scenario": result.scenario.to_dict(),
        "scenario_file": result.scenario.source,
        "seed": result.seed,
        "engine": "mesa",
        "versions": versions(),
        "git_commit": git_commit(),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "tables": {"allies": list(ALLIES_TABLE), "alliance": list(ALLIANCE_TABLE)},
    } | ({"forecast": forecast} if forecast else {})


def write_run(result: RunResult, out_dir: str | Path, forecast: dict | None = None) -> Path:
    """Write ``allies.parquet``, ``alliance.parquet`` and ``manifest.json`` to ``out_dir``.

    ``forecast`` is what ``sim.forecast.write_forecast`` wrote there, for the manifest. Each file
    is written to a temporary name and renamed, so an interrupted write never leaves a
    half-written table; the manifest is written last.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "allies.parquet", lambda p: result.allies.to_parquet(p, index=False))
    atomic_write(out / "alliance.parquet", lambda p: result.alliance.to_parquet(p, index=False))
    text = json.dumps(manifest(result, forecast), indent=2)
    atomic_write(out / "manifest.json", lambda p: Path(p).write_text(text, encoding="utf-8"))
    return out
