"""sim.run: a single Mesa run's tables, and the run written to disk with its manifest."""

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.columns import ALLIANCE_TABLE, ALLIES_TABLE
from sim.model import AllianceModel
from sim.provenance import versions
from sim.run import RunResult, manifest, model_tables, run_scenario, write_run
from sim.scenario import list_scenarios, load_scenario, scenarios_dir

SCENARIOS = [name for name, _ in list_scenarios()]
FILES = ("allies.parquet", "alliance.parquet", "manifest.json")


@pytest.fixture(scope="module")
def hague7():
    """hague-2035 run with seed 7 and one parameter changed."""
    return run_scenario("hague-2035", seed=7, adjustment_speed=0.4)


@pytest.fixture(scope="module")
def written(hague7, tmp_path_factory):
    """hague7 written with ``write_run`` into a fresh nested folder: (folder returned, folder)."""
    out = tmp_path_factory.mktemp("run") / "nested" / "h7"
    return write_run(hague7, out), out


# --- moved from tests/test_model.py ------------------------------------------------------------


@settings(max_examples=10, deadline=None)
@given(scenario=st.sampled_from(SCENARIOS), seed=st.integers(0, 2**32 - 1))
def test_same_seed_same_tables(scenario, seed):
    """(scenario, parameters, seed) fixes every number."""
    a, b = run_scenario(scenario, seed), run_scenario(scenario, seed)
    pd.testing.assert_frame_equal(a.allies, b.allies)
    pd.testing.assert_frame_equal(a.alliance, b.alliance)


def test_different_seeds_differ():
    """The seed drives the shocks."""
    a, b = run_scenario("hague-2035", 1), run_scenario("hague-2035", 2)
    assert not np.allclose(a.allies["core_pct_gdp"], b.allies["core_pct_gdp"])


# --- tables ------------------------------------------------------------------------------------


def test_run_scenario_returns_the_resolved_scenario_the_seed_and_both_tables(hague7):
    """The scenario with the override, the seed, one allies row per ally and year."""
    assert isinstance(hague7, RunResult) and hague7.seed == 7
    assert hague7.scenario.parameters["adjustment_speed"] == 0.4
    assert hague7.scenario == load_scenario("hague-2035").with_parameters(adjustment_speed=0.4)
    years = list(hague7.scenario.years)
    assert tuple(hague7.allies.columns) == ALLIES_TABLE
    assert tuple(hague7.alliance.columns) == ALLIANCE_TABLE
    assert hague7.alliance["year"].tolist() == years
    assert len(hague7.allies) == 32 * len(years)
    assert set(hague7.allies["seed"]) == {7} == set(hague7.alliance["seed"])
    assert set(hague7.allies["scenario"]) == {"hague-2035"}


def test_run_scenario_takes_a_name_a_toml_path_or_a_scenario():
    """The three ways to name a scenario give the same run."""
    by_name = run_scenario("us-demand-2025", seed=3)
    by_path = run_scenario(str(scenarios_dir() / "us-demand-2025.toml"), seed=3)
    by_spec = run_scenario(load_scenario("us-demand-2025"), seed=3)
    for other in (by_path, by_spec):
        pd.testing.assert_frame_equal(other.allies, by_name.allies)
        pd.testing.assert_frame_equal(other.alliance, by_name.alliance)


def test_allies_rows_run_by_year_then_by_the_allies_order(hague7):
    """Each year lists the allies in the start state's order, with their names."""
    model = AllianceModel("hague-2035", rng=7, adjustment_speed=0.4)
    for _, group in hague7.allies.groupby("year"):
        assert group["iso3"].tolist() == list(model.initial.iso3)
        assert group["name"].tolist() == list(model.initial.names)
    assert hague7.allies["year"].is_monotonic_increasing


def test_model_tables_of_a_running_model_hold_the_years_so_far():
    """After three steps: the start year and three more, and the same rows as the full run."""
    model = AllianceModel("hague-2035", rng=5)
    model.run_for(3)
    allies, alliance = model_tables(model, 5)
    assert alliance["year"].tolist() == [2025, 2026, 2027, 2028]
    assert sorted(allies["year"].unique()) == [2025, 2026, 2027, 2028]
    full = run_scenario("hague-2035", seed=5)
    head = full.allies[full.allies["year"] <= 2028].reset_index(drop=True)
    pd.testing.assert_frame_equal(allies, head)
    pd.testing.assert_frame_equal(alliance, full.alliance.iloc[:4].reset_index(drop=True))


def test_model_tables_types_keys_as_integers(hague7):
    """Year, seed and the counts of allies are int64; text columns are strings."""
    a, al = hague7.allies, hague7.alliance
    for table in (a, al):
        assert table["year"].dtype == np.int64 and table["seed"].dtype == np.int64
    for column in ("allies_ge_2pct", "allies_ge_3_5pct_core", "allies_ge_5pct_total"):
        assert al[column].dtype == np.int64
    assert a[["scenario", "iso3", "name"]].map(type).eq(str).all().all()


# --- manifest and files ------------------------------------------------------------------------


def test_manifest_records_the_scenario_its_parameters_the_seed_and_provenance(hague7):
    """Everything needed to reproduce the run, JSON-ready."""
    m = manifest(hague7)
    assert m["seed"] == 7 and m["engine"] == "mesa"
    assert m["scenario"] == hague7.scenario.to_dict()
    assert m["scenario"]["parameters"]["adjustment_speed"] == 0.4
    assert m["scenario"]["parameters"] == dict(hague7.scenario.parameters)
    assert m["scenario_file"] == hague7.scenario.source
    assert m["scenario_file"].endswith("hague-2035.toml")
    assert m["versions"] == versions()
    assert m["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}(-dirty)?", m["git_commit"])
    created = datetime.fromisoformat(m["created_utc"])
    assert created.tzinfo is not None and created.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=5)
    assert m["tables"] == {"allies": list(ALLIES_TABLE), "alliance": list(ALLIANCE_TABLE)}
    assert "forecast" not in m
    assert json.loads(json.dumps(m)) == m


def test_manifest_records_a_forecast_written_beside_the_run(hague7):
    """``forecast`` is kept as given; an empty one is left out."""
    forecast = {"replications": 200, "files": ["forecast_allies.parquet"]}
    assert manifest(hague7, forecast)["forecast"] == forecast
    assert "forecast" not in manifest(hague7, {})


def test_write_run_writes_the_three_files_and_nothing_else(written, hague7):
    """Two tables and the manifest, in the folder returned; no temporary file is left."""
    returned, out = written
    assert returned == out
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "allies.parquet"), hague7.allies)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "alliance.parquet"), hague7.alliance)


def test_the_written_manifest_is_the_runs_manifest_and_is_written_last(written, hague7):
    """manifest.json holds ``manifest(result)`` and is no older than either table."""
    _, out = written
    saved = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    expected = manifest(hague7)
    assert {k: v for k, v in saved.items() if k != "created_utc"} == {
        k: v for k, v in expected.items() if k != "created_utc"
    }
    assert saved["seed"] == 7 and saved["scenario"]["parameters"]["adjustment_speed"] == 0.4
    written_at = {name: (out / name).stat().st_mtime_ns for name in FILES}
    assert written_at["manifest.json"] >= max(
        written_at["allies.parquet"], written_at["alliance.parquet"]
    )


def test_write_run_records_the_forecast_in_the_manifest(hague7, tmp_path):
    """What ``write_forecast`` wrote is recorded under ``forecast``."""
    forecast = {"replications": 40, "seed": 7}
    write_run(hague7, tmp_path, forecast)
    assert json.loads((tmp_path / "manifest.json").read_text())["forecast"] == forecast


def test_an_interrupted_write_leaves_the_previous_run_whole(hague7, tmp_path):
    """A table that cannot be written raises; the earlier files stay complete, no temp file."""
    first = run_scenario("us-demand-2025", seed=1)
    write_run(first, tmp_path)
    before = {name: (tmp_path / name).read_bytes() for name in FILES}
    broken = replace(hague7, alliance=hague7.alliance.assign(threat=object()))
    with pytest.raises(Exception, match=r"(?i)object|convert|type"):
        write_run(broken, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILES)
    allies = pd.read_parquet(tmp_path / "allies.parquet")  # either run's table, whole
    assert allies.equals(first.allies) or allies.equals(hague7.allies)
    assert (tmp_path / "alliance.parquet").read_bytes() == before["alliance.parquet"]
    assert (tmp_path / "manifest.json").read_bytes() == before["manifest.json"]
    assert json.loads(before["manifest.json"])["scenario"]["name"] == "us-demand-2025"
