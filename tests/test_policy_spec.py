"""sim.policy_spec: the spec's checks, its defaults, the objectives' measures and labels."""

import numpy as np
import pytest

from sim.ensemble import Recorded
from sim.policy_spec import PolicySpecError, load_policy_spec, simulate_objectives
from tests.test_policy import SPEC, write_spec


# --- the spec ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("us_pressure_strength = {", "bogus_lever = {", "levers.bogus_lever: unknown parameter"),
        ("[0.0, 1.0] }\nretrench", "[0.5, 0.5] }\nretrench", "levers.us_pressure_strength.range: "),
        ("[0.2, 1.0]", "[0.2, 1.5]", "levers.retrenchment_threshold.range: 1.5 is outside"),
        ('"allies_ge_3_5pct_core"', '"allies_at_4pct"', "objectives[0].column: unknown output"),
        ('direction = "max"', 'direction = "up"', "objectives[0].direction: expected one of"),
        ("epsilon = 0.5", "epsilon = 0.0", "objectives[0].epsilon: must be above 0"),
        ('measure = "years_above"', 'measure = "median"', "objectives[1].measure: unknown"),
        ("above = 0.0\n", "", "objectives[1]: give above = x with measure years_above only"),
        ("threshold = 10\n", "threshold = 10\nally = 'DEU'\n", "objectives[0].ally: allies_ge"),
        ("adjustment_speed = {", "us_pressure_strength = {", "uncertainties.us_pressure_strength"),
        (
            "us_pressure_strength = { range = [0.0, 1.0] }",
            "review_delay = { range = [0, 2.5] }",
            "levers.review_delay.range: expected a whole number, got 2.5",
        ),
        (
            "us_pressure_strength = { range = [0.0, 1.0] }",
            "retrenchment_start_year = { range = [2000, 2030] }",
            "levers.retrenchment_start_year.range: 2000 is outside the allowed range",
        ),
        (
            "us_pressure_strength = { range = [0.0, 1.0] }",
            "us_pressure_capability_weight = { range = [0.0, 1.2] }",
            "levers.us_pressure_capability_weight.range: 1.2 is outside the allowed range",
        ),
        (
            "us_pressure_strength = { range = [0.0, 1.0] }",
            "pledge_core_scale = { range = [0.8, 2.5] }",
            "levers.pledge_core_scale.range: 2.5 is outside the allowed range",
        ),
        (
            "us_pressure_strength = { range = [0.0, 1.0] }",
            "pledge_delay = { range = [-6, 3] }",
            "levers.pledge_delay.range: -6 is outside the allowed range",
        ),
        (
            "us_pressure_strength = { range = [0.0, 1.0] }",
            "us_demand_delay = { range = [0, 1.5] }",
            "levers.us_demand_delay.range: expected a whole number, got 1.5",
        ),
        ("nfe = 24", "nfe = 6", "search.nfe: must be at least 12"),
        ('"eps-nsga2"', '"borg"', "search.algorithm: unknown algorithm 'borg'"),
        ("futures = 10", "futures = 'many'", "robustness.futures: expected a whole number"),
        ("[robustness]", "[robustness]\nposterior = 1", "robustness.posterior: expected true"),
        ("seed = 11", "seed = 11\nlever = 1", "lever: unknown field"),
    ],
)
def test_a_bad_lever_or_objective_is_one_line_naming_the_field(tmp_path, old, new, field):
    assert old in SPEC
    path = write_spec(tmp_path, SPEC.replace(old, new, 1))
    with pytest.raises(PolicySpecError) as info:
        load_policy_spec(path)
    message = str(info.value)
    assert message.startswith(f"search.toml: {field}")
    assert "\n" not in message


def test_a_threshold_is_required_and_an_empty_lever_table_refused(tmp_path):
    no_threshold = SPEC.replace("threshold = 10\n", "").replace("threshold = 2\n", "")
    with pytest.raises(PolicySpecError, match=r"^search.toml: objectives: give at least one"):
        load_policy_spec(write_spec(tmp_path, no_threshold))
    start = SPEC.index("us_pressure_strength = {")
    end = SPEC.index("[uncertainties]")
    no_levers = SPEC[:start] + SPEC[end:]
    with pytest.raises(PolicySpecError, match=r"^search.toml: levers: name at least one"):
        load_policy_spec(write_spec(tmp_path, no_levers))


def test_the_spec_reads_levers_objectives_and_settings(tmp_path):
    spec = load_policy_spec(write_spec(tmp_path))
    assert spec.lever_names == ["us_pressure_strength", "retrenchment_threshold"]
    assert [v.name for v in spec.uncertainties] == ["threat_scale", "adjustment_speed"]
    allies, years = spec.objectives
    assert (allies.year, allies.measure, allies.table, allies.threshold) == (
        2035,
        "at",
        "alliance",
        10,
    )
    assert (years.measure, years.above, years.direction, years.epsilon) == (
        "years_above",
        0,
        "min",
        1,
    )
    assert (spec.search.nfe, spec.search.population, spec.search.replications) == (24, 12, 2)
    assert (spec.robustness.futures, spec.robustness.replications) == (10, 1)
    assert spec.robustness.posterior is False


def test_objective_measures_read_the_year_the_mean_and_the_years_above(tmp_path):
    spec = load_policy_spec(write_spec(tmp_path))
    years = np.arange(2025, 2036)
    series = np.array([np.zeros(11), [0, 0, 0, 0.1, 0.2, 0.2, 0.3, 0.3, 0.3, 0.3, 0.4]])
    rec = Recorded(
        iso3=np.array(["DEU"]),
        names=np.array(["Germany"]),
        years=years,
        point=np.array([0, 1]),
        seeds=np.array([1, 2]),
        allies={},
        alliance={"us_retrenchment": series, "allies_ge_3_5pct_core": series * 10},
    )
    allies, retrenchment = spec.objectives
    assert allies.values(rec).tolist() == [0, 4]
    assert retrenchment.values(rec).tolist() == [0, 8]  # 2028-2035 are above 0
    mean = type(allies)(**{**vars(allies), "measure": "mean", "year": 2030})
    assert mean.values(rec).tolist() == pytest.approx([0, 10 * (0 + 0 + 0.1 + 0.2 + 0.2) / 5])
    assert allies.meets(np.array([9.5, 10, 12])).tolist() == [False, True, True]
    assert retrenchment.meets(np.array([0, 2, 3])).tolist() == [True, True, False]


# --- more of the checks --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ('name = "retrenchment_years"', 'name = "allies"', "objectives[1].name: 'allies': not a"),
        ('name = "allies"', 'name = "3 allies"', "objectives[0].name: '3 allies': not a unique"),
        (
            "threshold = 10\n",
            "threshold = 10\nyear = 2040\n",
            "objectives[0].year: 2040 is outside",
        ),
        (
            "threshold = 10\n",
            "threshold = 10\nmeasure = 'mean'\nyear = 2025\n",
            "objectives[0].year: 2025 is outside 2026-2035 (measure mean)",
        ),
        (
            '"allies_ge_3_5pct_core"',
            '"personnel_k"',
            "objectives[0].ally: personnel_k needs a known ally, got None",
        ),
        ("threshold = 10\n", "threshold = 10\nabove = 1.0\n", "objectives[0].above: give above"),
        ("population = 12", "population = 3", "search.population: must be at least 4, got 3"),
        ("replications = 2", "replications = 0", "search.replications: must be at least 1"),
        ("futures = 10", "futures = 9", "robustness.futures: must be at least 10, got 9"),
        ("[search]", "[search]\nseeds = 1", "search.seeds: unknown field"),
        ("seed = 11", "seed = -1", "seed: must be at least 0, got -1"),
        (
            "threat_scale = { range = [0.6, 1.6] }",
            "threat_scale = { range = [0.6, 1.6], step = 0.1 }",
            "uncertainties.threat_scale.step: unknown field",
        ),
        (
            "threat_scale = { range = [0.6, 1.6] }",
            "threat_scale = [0.6, 1.6]",
            "uncertainties.threat_scale: expected { range = [low, high] }",
        ),
    ],
)
def test_more_bad_fields_are_one_line_naming_the_field(tmp_path, old, new, field):
    assert old in SPEC
    path = write_spec(tmp_path, SPEC.replace(old, new, 1))
    with pytest.raises(PolicySpecError) as info:
        load_policy_spec(path)
    assert str(info.value).startswith(f"search.toml: {field}")
    assert "\n" not in str(info.value)


def test_a_single_objective_is_refused(tmp_path):
    start = SPEC.index('[[objectives]]\nname = "retrenchment_years"')
    one = SPEC[:start] + SPEC[SPEC.index("[robustness]") :]
    with pytest.raises(PolicySpecError, match=r"^search.toml: objectives: name at least two"):
        load_policy_spec(write_spec(tmp_path, one))


@pytest.mark.parametrize(
    ("levers", "uncertainty", "field"),
    [
        # the scenario's debt_ceiling_pct is 150: the threshold may not reach it
        (
            "debt_threshold_pct = { range = [0.0, 160.0] }",
            "",
            "levers.debt_threshold_pct: debt_ceiling_pct must stay above debt_threshold_pct "
            "(150 <= 160)",
        ),
        # both ranged: the ceiling's low end must stay above the threshold's high end
        (
            "debt_threshold_pct = { range = [0.0, 100.0] }",
            "debt_ceiling_pct = { range = [90.0, 200.0] }\n",
            "uncertainties.debt_ceiling_pct: debt_ceiling_pct must stay above debt_threshold_pct "
            "(90 <= 100)",
        ),
        (
            "threat_reach_km = { range = [1000.0, 2000.0] }",
            "threat_near_km = { range = [10.0, 1000.0] }\n",
            "levers.threat_reach_km: threat_reach_km must stay above threat_near_km (1000 <= 1000)",
        ),
    ],
)
def test_ordered_parameters_may_not_meet_across_levers_and_uncertainties(
    tmp_path, levers, uncertainty, field
):
    text = SPEC.replace("retrenchment_threshold = { range = [0.2, 1.0] }", levers).replace(
        "[uncertainties]\n", "[uncertainties]\n" + uncertainty
    )
    with pytest.raises(PolicySpecError) as info:
        load_policy_spec(write_spec(tmp_path, text))
    assert str(info.value) == f"search.toml: {field}"


def test_ordered_parameters_that_stay_apart_are_accepted(tmp_path):
    text = SPEC.replace(
        "retrenchment_threshold = { range = [0.2, 1.0] }",
        "debt_threshold_pct = { range = [0.0, 100.0] }",
    ).replace("[uncertainties]\n", "[uncertainties]\ndebt_ceiling_pct = { range = [100.5, 200] }\n")
    spec = load_policy_spec(write_spec(tmp_path, text))
    assert spec.lever_names == ["us_pressure_strength", "debt_threshold_pct"]
    ceiling = spec.uncertainties[0]
    assert (ceiling.name, ceiling.low, ceiling.high, ceiling.integer) == (
        "debt_ceiling_pct",
        100.5,
        200.0,
        False,
    )


def test_left_out_settings_take_their_defaults(tmp_path):
    text = (
        SPEC.replace('algorithm = "eps-nsga2"\n', "")
        .replace("nfe = 24\npopulation = 12\nreplications = 2\n", "nfe = 60\n")
        .replace("futures = 10\nreplications = 1\n", "futures = 12\nposterior = true\n")
    )
    spec = load_policy_spec(write_spec(tmp_path, text, name="defaults.toml"))
    assert (spec.name, spec.seed, spec.description) == ("defaults", 11, "test policy search")
    assert spec.source == str(tmp_path / "defaults.toml")
    assert spec.scenario.name == "hague-2035"
    assert (spec.search.algorithm, spec.search.nfe, spec.search.population) == ("eps-nsga2", 60, 50)
    assert spec.search.replications == 10
    assert (spec.robustness.futures, spec.robustness.replications) == (12, 5)
    assert spec.robustness.posterior is True
    assert [o.year for o in spec.objectives] == [2035, 2035]  # the scenario's last year
    assert spec.objective_names == ["allies", "retrenchment_years"]


def test_an_ally_objective_reads_its_own_allys_column(tmp_path):
    text = SPEC.replace(
        'column = "allies_ge_3_5pct_core"',
        'column = "personnel_k"\nally = "POL"\nmeasure = "mean"\nyear = 2027',
    )
    spec = load_policy_spec(write_spec(tmp_path, text))
    personnel = spec.objectives[0]
    assert (personnel.table, personnel.ally, personnel.measure, personnel.year) == (
        "allies",
        "POL",
        "mean",
        2027,
    )
    # two runs x three years x two allies; DEU's column must not be read
    personnel_k = np.array(
        [
            [[100.0, 180.0], [900.0, 190.0], [900.0, 200.0]],
            [[100.0, 150.0], [900.0, 160.0], [900.0, 230.0]],
        ]
    )
    rec = Recorded(
        iso3=np.array(["DEU", "POL"]),
        names=np.array(["Germany", "Poland"]),
        years=np.array([2025, 2026, 2027]),
        point=np.array([0, 0]),
        seeds=np.array([1, 2]),
        allies={"personnel_k": personnel_k},
        alliance={},
    )
    assert personnel.values(rec).tolist() == [195.0, 195.0]  # 2026-2027, not the start year
    at = type(personnel)(**{**vars(personnel), "measure": "at", "year": 2025})
    assert at.values(rec).tolist() == [180.0, 150.0]
    above = type(personnel)(**{**vars(personnel), "measure": "years_above", "above": 185.0})
    assert above.values(rec).tolist() == [2.0, 1.0]


def test_labels_and_meets_with_and_without_a_threshold(tmp_path):
    allies, years = load_policy_spec(write_spec(tmp_path)).objectives
    assert allies.label == "max allies (>= 10)"
    assert years.label == "min retrenchment_years (<= 2)"
    free = type(years)(**{**vars(years), "threshold": None})
    assert free.label == "min retrenchment_years"
    assert free.meets([0.0, 5.0, 99.0]).tolist() == [True, True, True]


def test_simulate_objectives_runs_every_set_at_once_as_each_alone(tmp_path):
    spec = load_policy_spec(write_spec(tmp_path))
    sets = [
        {"us_pressure_strength": 0.0, "retrenchment_threshold": 0.3, "threat_scale": 0.7},
        {"us_pressure_strength": 1.0, "retrenchment_threshold": 0.9, "threat_scale": 1.5},
    ]
    seeds = [[101, 102], [201, 202]]
    both = simulate_objectives(spec.scenario, sets, seeds, spec.objectives)
    assert both.shape == (2, 2, 2)  # sets, runs, objectives
    for i in range(2):
        alone = simulate_objectives(spec.scenario, [sets[i]], [seeds[i]], spec.objectives)
        np.testing.assert_array_equal(both[i], alone[0])
    allies, years = both[..., 0], both[..., 1]
    assert ((allies >= 0) & (allies <= 32) & (allies == np.round(allies))).all()  # a count
    assert ((years >= 0) & (years <= 10) & (years == np.round(years))).all()  # 2026-2035
