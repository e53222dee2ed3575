import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pytest import approx

from sim.cli import main
from sim.data import WITHHELD, load_reference
from sim.ensemble import simulate_points
from sim.posterior import Posterior
from sim.scenario import load_scenario
from sim.shocks import replication_seeds
from sim.uncertainty import run_scenarios
from sim.validation import (
    HINDSIGHT,
    NATO_COUNT_GE_2PCT_2024,
    TEST,
    TRAIN,
    YEARS,
    Simulation,
    baselines,
    hindcast,
    hindcast_metrics,
    hindcast_table,
    observed_core,
    step_2025,
    step_by_ally,
    train_error_rmse,
    withheld_2025,
)


def _fake(offset: float, edition: str = "2026") -> Simulation:
    """Two identical 'runs' equal to NATO's panel plus ``offset`` (0 where nothing published)."""
    obs = load_reference(edition=edition).core.loc[:, list(YEARS)]
    long = (obs + offset).fillna(0.0).stack()
    long.index.names = ["iso3", "year"]
    return Simulation(pd.concat([long, long], axis=1, keys=[1, 2]), 2, 0, {}, edition)


@pytest.fixture(scope="module")
def small_hindcast():
    return hindcast(replications=8, seed=3)


def test_hindcast_table_has_every_ally_and_year_and_nato_where_published(small_hindcast):
    _, table = small_hindcast
    obs = load_reference().core
    assert list(table.columns) == ["iso3", "year", "core_pct_gdp_sim", "core_pct_gdp_obs"]
    assert len(table) == 32 * len(YEARS) and not table.duplicated(["iso3", "year"]).any()
    assert table["core_pct_gdp_sim"].notna().all()
    for iso, year, value in table[["iso3", "year", "core_pct_gdp_obs"]].itertuples(index=False):
        assert value == obs.at[iso, year] or (np.isnan(value) and np.isnan(obs.at[iso, year]))
    withheld = table[table["iso3"].isin(WITHHELD) & (table["year"] > 2014)]
    assert withheld["core_pct_gdp_obs"].isna().all()


def test_hindcast_mean_is_the_mean_of_its_runs(small_hindcast):
    sim, table = small_hindcast
    assert sim.runs.shape[1] == 8
    cell = table.set_index(["iso3", "year"]).loc[("POL", 2022), "core_pct_gdp_sim"]
    assert cell == approx(sim.runs.loc[("POL", 2022)].mean())


def test_baselines_carry_2014_forward_and_extend_the_2014_2016_trend():
    obs = pd.DataFrame(
        [[1.0, 1.5, 2.0, 9.0, 9.0]], index=["X"], columns=[2014, 2015, 2016, 2017, 2024]
    )
    b = baselines(obs)
    assert b["persistence"].loc["X"].tolist() == [1.0] * 5
    assert b["trend"].loc["X"].tolist() == approx([1.0, 1.5, 2.0, 2.5, 6.0])


@pytest.mark.parametrize("edition", ["2025", "2026"])
def test_metrics_are_zero_for_a_perfect_hindcast_and_the_offset_for_a_shifted_one(edition):
    perfect = _fake(0.0, edition)
    m = hindcast_metrics(hindcast_table(perfect), perfect)
    assert m["data_edition"] == edition
    assert m["count_ge_2pct_2024_nato_all_allies"] == {"2025": 18, "2026": 17}[edition]
    assert m["rmse_train_pp"] == 0 and m["rmse_test_pp"] == 0 and m["mc_se_max_pp"] == 0
    assert m["count_ge_2pct_2024_sim"] == m["count_ge_2pct_2024_obs"]
    assert all(c["sim"] == c["obs"] for c in m["count_ge_2pct_by_year"].values())
    assert m["count_ge_2pct_by_year"]["2014"]["obs"] == 3  # US, UK, Greece (DOMAIN §2)
    shifted = _fake(0.1, edition)
    m = hindcast_metrics(hindcast_table(shifted), shifted)
    assert m["rmse_train_pp"] == approx(0.1) and m["rmse_test_pp"] == approx(0.1)
    assert m["bias_test_pp"] == approx(0.1)
    assert m["per_ally"]["POL"]["rmse_test_pp"] == approx(0.1)
    assert set(m["per_ally"]).isdisjoint(WITHHELD) and "ISL" not in m["per_ally"]
    assert m["cells_train"] == 25 * len(TRAIN) and m["cells_test"] == 25 * len(TEST)


def test_baseline_metrics_match_a_direct_computation(small_hindcast):
    sim, table = small_hindcast
    m = hindcast_metrics(table, sim)
    obs = load_reference().core.drop(index=["ISL", *WITHHELD])
    test = obs.loc[:, list(TEST)]
    persistence = np.sqrt(((test.sub(obs[2014], axis=0)) ** 2).stack().mean())
    assert m["rmse_persistence_test_pp"] == approx(persistence)
    t = table.dropna()
    train = t[t["year"].isin(TRAIN) & (t["iso3"] != "ISL")]
    direct = np.sqrt(((train["core_pct_gdp_sim"] - train["core_pct_gdp_obs"]) ** 2).mean())
    assert m["rmse_train_pp"] == approx(direct)


def test_the_hindcast_compares_with_its_own_edition():
    """hindcast(data_edition=...) starts from and is compared with that edition's panel."""
    sim, table = hindcast(replications=2, seed=3, data_edition="2025")
    assert sim.data_edition == "2025"
    obs = observed_core("2025").loc[:, list(YEARS)].stack()
    cells = table.set_index(["iso3", "year"])["core_pct_gdp_obs"].dropna()
    assert cells.equals(obs.reindex(cells.index)) and len(cells) == len(obs.dropna())
    assert not cells.equals(observed_core().loc[:, list(YEARS)].stack().reindex(cells.index))
    assert hindcast_metrics(table, sim)["data_edition"] == "2025"
    assert withheld_2025(sim) != withheld_2025(replace(sim, data_edition="2026"))
    with pytest.raises(ValueError, match="unknown data edition"):
        hindcast(replications=2, seed=3, data_edition="1999")


def test_nato_count_is_per_edition():
    assert NATO_COUNT_GE_2PCT_2024 == {"2025": 18, "2026": 17}


@pytest.mark.parametrize(("edition", "compared_n"), [("2025", 24), ("2026", 25)])
def test_step_2025_compares_allies_published_in_2024_and_2025_only(edition, compared_n):
    """Germany has a 2025 figure in the 2026 edition only, so it is compared only there."""
    step = step_2025(replications=4, seed=1, data_edition=edition)
    assert step["data_edition"] == edition
    table = step["table"].set_index("iso3")
    compared = set(table.index[table["compared"]])
    assert compared.isdisjoint({*WITHHELD, "ISL"}) and len(compared) == step["allies_compared"]
    assert ("DEU" in compared) == (edition == "2026")
    assert len(compared) == compared_n
    obs = load_reference(edition=edition).core
    c = table.loc[sorted(compared)]
    assert step["rmse_2025_persistence_pp"] == approx(
        np.sqrt(((obs.loc[c.index, 2024] - obs.loc[c.index, 2025]) ** 2).mean())
    )


def test_alliance_validate_rejects_an_unwritable_folder(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["validate", "--out", str(blocker / "sub")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("alliance validate:")


def test_alliance_validate_on_the_2025_edition(tmp_path, capsys):
    """--data-edition 2025: recorded in the metrics and the report; NATO's 2024 count is 18."""
    out = tmp_path / "val"
    argv = ["validate", "--out", str(out), "--replications", "2", "--data-edition", "2025"]
    assert main(argv) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("RMSE train 2015-2022 ") and "held out 2023-2024" in printed[0]
    assert printed[2].startswith("2025 step, calibrated: RMSE ")
    assert printed[3].startswith("2025 step, posterior: RMSE ")  # the project's posterior
    assert printed[4].startswith("2025 step, with hindsight (2025's plans): RMSE ")
    assert printed[5:] == [
        "NATO data edition 2025",
        f"Written: {out}/ (hindcast.parquet, metrics.json, plots) and {out / 'validation.md'}",
    ]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data_edition"] == "2025" == metrics["step_2025"]["data_edition"]
    assert metrics["count_ge_2pct_2024_nato_all_allies"] == 18
    assert metrics["step_2025"]["allies_compared"] == 24
    text = (out / "validation.md").read_text()
    assert "data edition `2025`" in text and "which has no 2025 figure in this edition" in text


def test_the_calibration_objective_is_the_metrics_training_rmse(small_hindcast):
    sim, table = small_hindcast
    assert train_error_rmse(table) == approx(hindcast_metrics(table, sim)["rmse_train_pp"])


def test_importing_validation_loads_no_batch_store_or_duckdb():
    """Seeding lives in sim/shocks.py: the hindcast needs neither the batch stack nor DuckDB."""
    heavy = ["duckdb", "sim.batch", "sim.executors", "sim.store"]
    code = f"import sys, sim.validation; print([m for m in {heavy!r} if m in sys.modules])"
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_2025_step_with_posterior_draws_averages_the_runs_the_cli_would_make():
    """Each run takes its seed's draw (``run_scenarios``): the step's mean is those runs' mean."""
    post = Posterior(("adjustment_speed",), np.array([[0.1], [0.9]]), np.array([0.5, 0.5]), {})
    step = step_2025(replications=6, seed=2, posterior=post)
    seeds = replication_seeds(2, 0, 6)
    runs, draws = run_scenarios(load_scenario("us-demand-2025"), seeds, post)
    assert set(draws) == {0, 1}  # both draws taken: the runs differ in their parameters
    rec = simulate_points(runs, [[s] for s in seeds], ("core_pct_gdp",), ())
    mean = rec.allies["core_pct_gdp"][:, list(rec.years).index(2025), :].mean(axis=0)
    table = step["table"].set_index("iso3")
    np.testing.assert_allclose(table.loc[list(rec.iso3), "core_2025_sim"], mean, rtol=1e-12)
    assert step["rmse_2025_pp"] != step_2025(replications=6, seed=2)["rmse_2025_pp"]


def test_the_2025_step_with_hindsight_knows_2025s_plans():
    """With the plans announced up to 31 December 2025, Denmark's February 2025 fund counts."""
    now = step_2025(replications=4, seed=1)
    seen = step_2025(replications=4, seed=1, plans_known_by=HINDSIGHT)
    assert (now["plans_known_by"], seen["plans_known_by"]) == ("2024-12-31", "2025-12-31")
    dnk = [r.set_index("iso3").loc["DNK", "core_2025_sim"] for r in (now["table"], seen["table"])]
    assert dnk[1] > dnk[0] + 0.3


def test_step_by_ally_puts_the_largest_miss_first_with_its_revision():
    """Error = forecast - published; revision = 2026 edition's 2025 figure - 2025 edition's."""
    step = step_2025(replications=4, seed=1)
    rows = step_by_ally(step, step)
    errors = [abs(r["error_pp"]) for r in rows.values()]
    assert errors == sorted(errors, reverse=True) and len(rows) == step["allies_compared"]
    est = rows["EST"]
    assert est["error_pp"] == approx(est["core_2025_sim"] - est["core_2025_obs"])
    assert est["revision_pp"] == approx(3.93 - 3.38, abs=0.006)  # docs/data.md, by hand
    assert rows["DEU"]["revision_pp"] is None  # no 2025 figure in the 2025 edition
    assert est["core_2025_sim_p05"] <= est["core_2025_sim"] <= est["core_2025_sim_p95"]
