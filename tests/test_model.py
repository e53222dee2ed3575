import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strategies import parameter_sets

from sim.dynamics import core_path
from sim.model import AllianceModel
from sim.parameters import check_parameter_set
from sim.run import model_tables, run_scenario
from sim.scenario import MAX_CORE_PCT, list_scenarios, load_scenario

SCENARIOS = [name for name, _ in list_scenarios()]
FRONTLINE = ["POL", "EST", "LVA", "LTU"]


def _consistent(scenario, params):
    return check_parameter_set(dict(load_scenario(scenario).parameters) | params) is None


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scenario=st.sampled_from(SCENARIOS),
    params=parameter_sets(),
    seed=st.integers(0, 2**32 - 1),
)
def test_invariants_hold_for_any_scenario_parameters_and_seed(scenario, params, seed):
    """No negative or non-finite value, shares in range, budget parts add up."""
    assume(_consistent(scenario, params))
    r = run_scenario(scenario, seed=seed, **params)
    a, al = r.allies, r.alliance
    spec = r.scenario
    assert len(a) == 32 * len(spec.years)
    assert sorted(a["year"].unique()) == list(spec.years)
    numeric = a.select_dtypes("number")
    assert np.isfinite(numeric.to_numpy()).all()
    assert np.isfinite(al.select_dtypes("number").to_numpy()).all()
    assert (numeric >= 0).all().all()
    assert a["core_pct_gdp"].between(0, MAX_CORE_PCT).all()
    np.testing.assert_allclose(a["total_pct_gdp"], a["core_pct_gdp"] + a["related_pct_gdp"])
    np.testing.assert_allclose(a["spending_usd_bn"], a["core_pct_gdp"] / 100 * a["gdp_usd_bn"])
    fulfil = a.filter(like="fulfil_")
    assert ((fulfil >= 0) & (fulfil <= 1 + 1e-12)).all().all()
    for col in ("us_pressure", "us_retrenchment", "capability_gap", "us_share_of_spending"):
        assert al[col].between(0, 1).all(), col
    for col in ("allies_ge_2pct", "allies_ge_3_5pct_core", "allies_ge_5pct_total"):
        assert al[col].between(0, 31).all(), col


@pytest.mark.parametrize("scenario", ["hague-2035", "us-retrenchment", "wales-2014"])
def test_agent_order_cannot_change_results(scenario):
    """Synchronous decisions: shuffling the allies' activation order changes nothing."""
    ordered = AllianceModel(scenario, rng=5)
    shuffled = AllianceModel(scenario, rng=5)
    shuffled.allies.sort(key=lambda a: a.index, ascending=False, inplace=True)
    assert [a.index for a in shuffled.allies] != [a.index for a in ordered.allies]
    years = ordered.spec.end_year - ordered.spec.start_year
    ordered.run_for(years)
    shuffled.run_for(years)
    for x, y in zip(model_tables(ordered, 5), model_tables(shuffled, 5), strict=True):
        pd.testing.assert_frame_equal(x, y)


@pytest.fixture(scope="module")
def hague7():
    return run_scenario("hague-2035", seed=7)


def test_hague_covers_every_ally_every_year(hague7):
    """32 allies for every year 2025-2035, all values finite."""
    a = hague7.allies
    assert a.groupby("year")["iso3"].nunique().to_dict() == dict.fromkeys(range(2025, 2036), 32)
    assert np.isfinite(a.select_dtypes("number").to_numpy()).all()


def test_germany_grows_toward_its_goal_within_the_recruitment_bound(hague7):
    """Personnel moves within the recruitment and attrition bounds, never past the goal."""
    deu = hague7.allies.query("iso3 == 'DEU'")["personnel_k"].to_numpy()
    p = hague7.scenario.parameters
    goal = deu[0] * (1 + p["personnel_goal_uplift"])
    growth = np.diff(deu) / deu[:-1]
    assert (growth <= p["recruit_rate"] + 1e-12).all()
    assert (growth >= -p["personnel_attrition_max"] - 1e-12).all()
    assert deu[0] < deu[-1] <= goal + 1e-9


def test_frontline_allies_stay_above_the_alliance_mean(hague7):
    """Poland and the Baltic states spend more than the mean ally every year."""
    a = hague7.allies.merge(hague7.alliance[["year", "mean_core_pct_gdp"]], on="year")
    front = a[a["iso3"].isin(FRONTLINE)]
    assert (front["core_pct_gdp"] > front["mean_core_pct_gdp"]).all()


def test_iceland_has_no_forces_but_counts_related_spending(hague7):
    """Iceland: core 0, personnel 0, related spending follows the pledge."""
    isl = hague7.allies.query("iso3 == 'ISL'")
    assert (isl["core_pct_gdp"] == 0).all() and (isl["personnel_k"] == 0).all()
    assert isl["related_pct_gdp"].iloc[-1] > 0


def test_retrenchment_raises_european_spending_and_the_gap(hague7):
    """US withdrawal: Europeans spend more; withdrawn forces widen the capability gap."""
    retrench = run_scenario("us-retrenchment", seed=7)
    end = hague7.alliance.iloc[-1]
    end_r = retrench.alliance.iloc[-1]
    assert end_r["us_retrenchment"] >= 0.6
    assert end_r["capability_gap"] > end["capability_gap"]
    eu = hague7.allies.query("year == 2035 and iso3 != 'USA'")["core_pct_gdp"].mean()
    eu_r = retrench.allies.query("year == 2035 and iso3 != 'USA'")["core_pct_gdp"].mean()
    assert eu_r > eu


def test_spain_opt_out_respects_the_sovereign_cap():
    """Spain never exceeds its declared 2.1%."""
    r = run_scenario("spain-opt-out", seed=3)
    assert (r.allies.query("iso3 == 'ESP'")["core_pct_gdp"] <= 2.1 + 1e-12).all()


def test_threat_escalation_raises_spending():
    """A higher threat path raises the mean core share by 2035."""
    base = run_scenario("hague-2035", seed=3).alliance.iloc[-1]["mean_core_pct_gdp"]
    high = run_scenario("threat-escalation", seed=3).alliance.iloc[-1]["mean_core_pct_gdp"]
    assert high > base


def test_adversary_mode_answers_allied_buildup(tmp_path):
    """Endogenous threat: the Adversary arms as allied capability grows."""
    spec = tmp_path / "adversary.toml"
    spec.write_text(
        'base = "hague-2035"\nthreat_mode = "adversary"\n[parameters]\nthreat_noise_sd = 0.0\n'
    )
    model = AllianceModel(str(spec), rng=1)
    assert model.adversary is not None
    model.run_for(10)
    assert model.capability_ratio > 1.0
    assert model.adversary.effort > 1.0
    assert model.threat == pytest.approx(model.adversary.effort)


def test_a_step_past_the_end_year_changes_nothing():
    model = AllianceModel("us-demand-2025", rng=2)  # one year, 2024 -> 2025
    model.step()
    assert not model.running and model.year == 2025
    before = model_tables(model, 2)
    model.step()
    assert model.year == 2025
    for a, b in zip(before, model_tables(model, 2), strict=True):
        pd.testing.assert_frame_equal(a, b)


def test_the_models_pledge_path_reads_its_pledge_levers():
    """A Mesa model built with a later pledge: its pledged path (what the dashboard shows,
    ``core_path`` with the scenario's parameters) is the one its allies choose against, below the
    default's in 2030 for allies below the pledge (none above), and its run differs."""
    default = AllianceModel("hague-2035", rng=4)
    model = AllianceModel("hague-2035", rng=4, pledge_delay=5)
    for m in (default, model):
        for _ in range(5):
            m.step()
    assert model.year == 2030
    shown = core_path(model.year, model.initial, model.spec, model.review)
    np.testing.assert_array_equal(
        shown, core_path(model.year, model.initial, model.spec, model.review, model.p)
    )
    base = core_path(default.year, default.initial, default.spec, default.review)
    assert model.review == default.review  # the threat, and so the review, are the same
    below = model.initial.core < 3.5 * model.review
    assert below.any() and (shown[below] < base[below]).all()
    np.testing.assert_array_equal(shown[~below], base[~below])
    got, was = (model_tables(m, 4)[0]["core_pct_gdp"] for m in (model, default))
    assert not got.equals(was)
