from datetime import date

import numpy as np
import pandas as pd
import pytest
from pytest import approx

from sim.data import WITHHELD, load_reference
from sim.initial import build_initial_state
from sim.parameters import PRIORS
from sim.plans import PlansError, announced_points, delivery_evidence, load_plans, plan_paths
from sim.scenario import load_scenario

CUTOFF = date(2025, 12, 31)


def test_every_ally_has_a_row_and_every_plan_a_date_and_a_source():
    plans = load_plans()
    raw = pd.read_csv("scenarios/data/national_plans.csv")
    assert set(raw["iso3"]) == set(load_reference().allies.index)
    assert plans["source"].str.strip().astype(bool).all()
    assert (plans["announced"] <= CUTOFF).all()  # the forecast is as of 1 January 2026
    assert plans["core_pct_gdp"].between(0, 15).all()


def test_only_plans_announced_by_the_forecast_date_count():
    late = announced_points(date(2024, 12, 31))
    now = announced_points(CUTOFF)
    assert 2026 not in late.get("DEU", {})  # Germany's path to 3.5% dates from 2025
    assert now["DEU"][2029][0] == 3.5
    assert now["POL"][2026][0] == 4.8
    # Of two figures for one year, the latest announced by the date counts.
    assert late["DEU"][2025][0] == 2.05
    assert now["DEU"][2025][0] == 2.4


def test_plan_paths_interpolate_anchor_to_the_panel_and_stop_at_the_horizon():
    points = {
        "AAA": {2025: (4.7, "national", "budget"), 2026: (4.8, "national", "budget")},
        "BBB": {2027: (3.0, "nato", "plan"), 2029: (3.5, "nato", "target")},
        "CCC": {2025: (2.0, "nato", "plan"), 2035: (3.5, "nato", "target")},
    }
    paths = plan_paths(
        points, ["AAA", "BBB", "CCC", "DDD"], np.array([4.25, 2.0, 2.5, 1.0]), 2025, 2031
    )
    # AAA: its own 2025 figure is 0.45 above NATO's, so its 2026 budget reads 4.35.
    assert paths.plan[0, 0] == approx(4.35)
    assert np.isnan(paths.plan[1:, 0]).all()
    np.testing.assert_allclose(paths.level[:, 0], 4.35)
    # BBB: linear from its start share, then to the target, none after 2029.
    np.testing.assert_allclose(paths.plan[:4, 1], [2.5, 3.0, 3.25, 3.5])
    assert np.isnan(paths.plan[4:, 1]).all()
    np.testing.assert_allclose(paths.level[4:, 1], 3.5)
    # CCC: a political target is never shifted by the start-year gap.
    assert paths.plan[0, 2] == approx(2.5 + 1.0 / 10)
    assert np.isnan(paths.plan[:, 3]).all() and np.isnan(paths.level[:, 3]).all()


def test_a_scenario_can_drop_or_replace_plans(tmp_path):
    base = build_initial_state(load_scenario("hague-2035"))
    deu = list(base.iso3).index("DEU")
    assert not np.isnan(base.plan[:4, deu]).any()
    (tmp_path / "none.toml").write_text('base = "hague-2035"\ndescription = "x"\nplans = "none"\n')
    dropped = build_initial_state(load_scenario(tmp_path / "none.toml"))
    assert np.isnan(dropped.plan).all()
    (tmp_path / "own.toml").write_text(
        'base = "hague-2035"\ndescription = "x"\n[allies.DEU]\nplan = { 2030 = 3.0 }\n'
        '[allies.POL]\nplan = "none"\n'
    )
    own = build_initial_state(load_scenario(tmp_path / "own.toml"))
    pol = list(own.iso3).index("POL")
    assert np.isnan(own.plan[:, pol]).all()
    assert own.plan[4, deu] == approx(3.0)
    assert np.isnan(own.plan[5:, deu]).all()


def test_a_malformed_plans_file_is_refused(tmp_path):
    good = pd.read_csv("scenarios/data/national_plans.csv")
    bad = good.copy()
    bad.loc[0, "kind"] = "wish"
    bad.to_csv(tmp_path / "kind.csv", index=False)
    with pytest.raises(PlansError, match="kind 'wish'"):
        load_plans(str(tmp_path / "kind.csv"))
    bad = good[good["iso3"] != "ALB"]
    bad.to_csv(tmp_path / "gap.csv", index=False)
    with pytest.raises(PlansError, match="ALB"):
        load_plans(str(tmp_path / "gap.csv"))
    bad = good.copy()
    bad.loc[0, "announced"] = "soon"
    bad.to_csv(tmp_path / "date.csv", index=False)
    with pytest.raises(PlansError, match="not a date"):
        load_plans(str(tmp_path / "date.csv"))


def test_the_delivery_share_is_what_nato_estimates_and_outturns_give():
    share, table = delivery_evidence()
    assert len(table) == 24 and not set(table["iso3"]) & set(WITHHELD)
    assert share == approx(PRIORS["plan_delivery"], abs=0.005)
    assert table.set_index("iso3").loc["POL", "announced_pp"] == approx(4.12 - 3.27, abs=0.01)
