"""Scenario files: the named scenarios, inheritance, parameter overrides and every bad input."""

import math
import os
import pickle
from datetime import date

import pytest

from sim.data import DEFAULT_EDITION
from sim.parameters import DEFAULTS, PARAMETERS
from sim.scenario import ScenarioError, list_scenarios, load_scenario, scenarios_dir

NAMED = (
    "hague-2035",
    "recession-2027",
    "spain-opt-out",
    "status-quo-2pct",
    "threat-de-escalation",
    "threat-escalation",
    "us-demand-2025",
    "us-retrenchment",
    "wales-2014",
)


def _write(tmp_path, text, name="t.toml"):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _error(target, **overrides):
    with pytest.raises(ScenarioError) as info:
        load_scenario(target, **overrides)
    err = info.value
    assert type(err) is ScenarioError
    assert "\n" not in str(err)
    return err


# --- the named scenarios ---------------------------------------------------------------------


def test_list_scenarios_names_every_scenario_with_its_description():
    """list_scenarios gives exactly the eight named scenarios, sorted, each with its description."""
    listed = list_scenarios()
    assert [name for name, _ in listed] == sorted(NAMED)
    assert {p.stem for p in scenarios_dir().glob("*.toml")} == {*NAMED, "calibration", "posterior"}
    for name, description in listed:
        assert description == load_scenario(name).description


@pytest.mark.parametrize("name", NAMED)
def test_every_named_scenario_loads_complete(name):
    """Each named scenario loads with a description, a valid span and every parameter."""
    s = load_scenario(name)
    assert s.name == name
    assert isinstance(s.description, str) and len(s.description) > 10
    assert s.description == s.description.strip()
    assert 2014 <= s.start_year <= 2025 and s.start_year <= s.end_year
    assert list(s.years) == list(range(s.start_year, s.end_year + 1))
    assert s.pledge.year >= s.start_year
    assert set(s.parameters) == set(PARAMETERS)
    assert all(PARAMETERS[k].check(v) is None for k, v in s.parameters.items())
    assert s.threat_mode in ("path", "adversary")


def test_hague_baseline_values():
    """The baseline has its file's values, defaults elsewhere, and us_demand equal to the pledge."""
    s = load_scenario("hague-2035")
    assert (s.start_year, s.end_year) == (2025, 2035)
    assert (s.pledge.core_pct, s.pledge.related_pct, s.pledge.year) == (3.5, 1.5, 2035)
    assert s.us_demand == s.pledge
    assert (s.review_year, s.targets_adoption_year) == (2029, 2025)
    assert s.parameters["us_pressure_start"] == 0.8
    assert s.parameters["adjustment_speed"] == DEFAULTS["adjustment_speed"]
    assert dict(s.allies["DEU"]) == {"fiscal_space": 1.0}
    assert s.path_value("threat", 2030) == 1.0
    assert s.path_value("us_retrenchment", 2030) == 0.0
    assert s.path_value("fiscal_space_factor", 2030) == 1.0


# --- inheritance -----------------------------------------------------------------------------


def test_base_inheritance_keeps_the_base_and_adds_the_child():
    """spain-opt-out inherits hague-2035's years, pledge, paths, parameters and allies."""
    base, child = load_scenario("hague-2035"), load_scenario("spain-opt-out")
    assert child.description != base.description
    for attr in ("start_year", "end_year", "pledge", "us_demand", "review_year", "threat_mode"):
        assert getattr(child, attr) == getattr(base, attr), attr
    assert child.targets_adoption_year == base.targets_adoption_year
    assert child.parameters == base.parameters
    assert dict(child.allies["DEU"]) == dict(base.allies["DEU"])
    assert dict(child.allies["ESP"]) == {"sovereign_cap_pct": 2.1, "pledge_core_pct": 2.1}
    assert "ESP" not in base.allies


def test_base_inheritance_merges_nested_tables():
    """A child's [pledge], [parameters] and [paths] merge key by key into the base's."""
    sq = load_scenario("status-quo-2pct")
    assert (sq.pledge.core_pct, sq.pledge.related_pct) == (2.0, 0.0)
    assert sq.pledge.year == 2035 and sq.review_year == 2029
    assert sq.parameters["us_pressure_start"] == 0.3
    assert sq.parameters["target_uplift"] == 0.0
    assert sq.parameters["adjustment_speed"] == DEFAULTS["adjustment_speed"]

    rec = load_scenario("recession-2027")
    assert set(rec.paths) == {"threat", "gdp_growth_shock_pp", "fiscal_space_factor"}
    assert rec.path_value("threat", 2030) == 1.0
    assert rec.path_value("gdp_growth_shock_pp", 2026) == 0.0
    assert rec.path_value("gdp_growth_shock_pp", 2027) == -3.0
    assert rec.path_value("gdp_growth_shock_pp", 2028) == -1.0
    assert rec.path_value("gdp_growth_shock_pp", 2033) == 0.0
    assert rec.path_value("fiscal_space_factor", 2030) == 0.75
    assert rec.parameters["us_pressure_start"] == 0.8


def test_a_user_file_can_inherit_and_override(tmp_path):
    """A file outside the package can name a base and override a parameter and an ally."""
    path = _write(
        tmp_path,
        'base = "hague-2035"\ndescription = "mine"\nend_year = 2030\n'
        "[parameters]\nadjustment_speed = 0.5\n[allies.DEU]\nrecruit_rate = 0.05\n",
        "mine.toml",
    )
    s = load_scenario(path)
    assert (s.name, s.description, s.start_year, s.end_year) == ("mine", "mine", 2025, 2030)
    assert s.parameters["adjustment_speed"] == 0.5
    assert s.parameters["us_pressure_start"] == 0.8
    assert dict(s.allies["DEU"]) == {"fiscal_space": 1.0, "recruit_rate": 0.05}
    assert (
        load_scenario("hague-2035").parameters["adjustment_speed"] == DEFAULTS["adjustment_speed"]
    )


def test_a_relative_base_is_found_next_to_the_file(tmp_path, monkeypatch):
    """A relative base path means the file beside the child, not one in the working folder."""
    _write(tmp_path, 'base = "hague-2035"\ndescription = "decoy"\n', "parent.toml")
    _write(tmp_path, 'base = "hague-2035"\ndescription = "right"\n', "sub/parent.toml")
    child = _write(tmp_path, 'base = "parent.toml"\nend_year = 2031\n', "sub/child.toml")
    monkeypatch.chdir(tmp_path)
    s = load_scenario(child)
    assert (s.description, s.end_year) == ("right", 2031)
    monkeypatch.chdir(tmp_path / "sub")
    assert load_scenario("child.toml").description == "right"


# --- parameter overrides ---------------------------------------------------------------------


def test_with_parameters_returns_a_changed_copy():
    """with_parameters changes only the named parameters and leaves the original alone."""
    s = load_scenario("hague-2035")
    t = s.with_parameters(adjustment_speed=0.5, lead_time_logistics=4)
    assert t.parameters["adjustment_speed"] == 0.5 and t.parameters["lead_time_logistics"] == 4
    assert s.parameters["adjustment_speed"] == DEFAULTS["adjustment_speed"]
    assert t != s
    assert {k for k in PARAMETERS if t.parameters[k] != s.parameters[k]} == {
        "adjustment_speed",
        "lead_time_logistics",
    }
    assert (t.pledge, t.paths, t.allies, t.name) == (s.pledge, s.paths, s.allies, s.name)
    assert load_scenario("hague-2035", adjustment_speed=0.5).parameters == t.parameters | {
        "lead_time_logistics": s.parameters["lead_time_logistics"]
    }


@pytest.mark.parametrize(
    ("overrides", "field", "phrase"),
    [
        ({"bogus_key": 1.0}, "parameters.bogus_key", "unknown parameter"),
        ({"adjustment_speed": 5.0}, "parameters.adjustment_speed", "outside the allowed range"),
        ({"adjustment_speed": 0.0}, "parameters.adjustment_speed", "outside the allowed range"),
        ({"adjustment_speed": "fast"}, "parameters.adjustment_speed", "expected a number"),
        ({"adjustment_speed": True}, "parameters.adjustment_speed", "expected a number"),
        ({"adjustment_speed": math.nan}, "parameters.adjustment_speed", "must be finite"),
        ({"lead_time_logistics": 2.5}, "parameters.lead_time_logistics", "whole number"),
        ({"debt_threshold_pct": 160.0}, "parameters.debt_ceiling_pct", "must exceed"),
        (
            {"threat_near_km": 1000.0, "threat_reach_km": 1000.0},
            "parameters.threat_reach_km",
            "must exceed",
        ),
    ],
)
def test_with_parameters_validates(overrides, field, phrase):
    """Bad overrides raise ScenarioError naming the parameter, through both entry points."""
    s = load_scenario("hague-2035")
    with pytest.raises(ScenarioError) as info:
        s.with_parameters(**overrides)
    assert info.value.where == field
    assert phrase in info.value.problem
    assert str(info.value).startswith(f"hague-2035.toml: {field}: ")
    assert _error("hague-2035", **overrides).where == field


# --- bad files -------------------------------------------------------------------------------

BASE = 'base = "hague-2035"\n'
BAD = [
    # (id, text, field, phrase in the problem)
    ("unknown-top-key", BASE + "bogus = 1\n", "bogus", "unknown field"),
    ("unknown-pledge-key", BASE + "[pledge]\ngoal = 1\n", "pledge.goal", "unknown field"),
    (
        "unknown-parameter",
        BASE + "[parameters]\nbogus_key = 1\n",
        "parameters.bogus_key",
        "unknown parameter",
    ),
    (
        "string-parameter",
        BASE + '[parameters]\nadjustment_speed = "fast"\n',
        "parameters.adjustment_speed",
        "expected a number",
    ),
    ("string-pledge", BASE + '[pledge]\ncore_pct = "3.5"\n', "pledge.core_pct", "a number"),
    ("float-start-year", BASE + "start_year = 2025.0\n", "start_year", "a whole number"),
    ("float-end-year", BASE + "end_year = 2035.5\n", "end_year", "a whole number"),
    ("float-pledge-year", BASE + "[pledge]\nyear = 2035.0\n", "pledge.year", "a whole number"),
    (
        "float-lead-time",
        BASE + "[parameters]\nlead_time_logistics = 2.5\n",
        "parameters.lead_time_logistics",
        "whole number",
    ),
    (
        "bool-parameter",
        BASE + "[parameters]\nadjustment_speed = true\n",
        "parameters.adjustment_speed",
        "expected a number",
    ),
    ("bool-start-year", BASE + "start_year = true\n", "start_year", "bool"),
    (
        "bool-ally-field",
        BASE + "[allies.DEU]\nfiscal_space = true\n",
        "allies.DEU.fiscal_space",
        "bool",
    ),
    ("bool-path", BASE + "[paths]\nthreat = { 2027 = true }\n", "paths.threat.2027", "bool"),
    ("string-description", BASE + "description = 1\n", "description", "a string"),
    ("parameters-not-table", BASE + "parameters = 1\n", "parameters", "a table"),
    ("ally-not-table", BASE + "[allies]\nDEU = 1\n", "allies.DEU", "table"),
    ("path-not-table", BASE + "[paths]\nthreat = 1.0\n", "paths.threat", "table"),
    (
        "parameter-too-high",
        BASE + "[parameters]\nadjustment_speed = 5\n",
        "parameters.adjustment_speed",
        "5 is outside the allowed range [0.05, 1]",
    ),
    (
        "parameter-too-low",
        BASE + "[parameters]\nfree_riding = -0.1\n",
        "parameters.free_riding",
        "outside the allowed range",
    ),
    (
        "parameters-inconsistent",
        BASE + "[parameters]\ndebt_threshold_pct = 160\n",
        "parameters.debt_ceiling_pct",
        "must exceed debt_threshold_pct",
    ),
    ("pledge-out-of-range", BASE + "[pledge]\ncore_pct = 20.0\n", "pledge.core_pct", "outside"),
    (
        "path-out-of-range",
        BASE + "[paths]\nthreat = { 2027 = 9.0 }\n",
        "paths.threat.2027",
        "outside",
    ),
    (
        "ally-out-of-range",
        BASE + "[allies.DEU]\nrecruit_rate = 0.9\n",
        "allies.DEU.recruit_rate",
        "outside",
    ),
    ("unknown-ally", BASE + "[allies.XXX]\nrecruit_rate = 0.05\n", "allies.XXX", "unknown ally"),
    ("lowercase-ally", BASE + "[allies.deu]\nrecruit_rate = 0.05\n", "allies.deu", "unknown ally"),
    (
        "unknown-ally-field",
        BASE + "[allies.DEU]\nwishes = 1\n",
        "allies.DEU.wishes",
        "unknown field",
    ),
    (
        "iceland-recruits",
        BASE + "[allies.ISL]\nrecruit_rate = 0.05\n",
        "allies.ISL.recruit_rate",
        "no armed forces",
    ),
    (
        "iceland-core",
        BASE + "[allies.ISL]\ncore_pct_start = 1.0\n",
        "allies.ISL.core_pct_start",
        "no armed forces",
    ),
    (
        "nan-parameter",
        BASE + "[parameters]\nfree_riding = nan\n",
        "parameters.free_riding",
        "must be finite",
    ),
    (
        "inf-parameter",
        BASE + "[parameters]\nfree_riding = inf\n",
        "parameters.free_riding",
        "must be finite",
    ),
    (
        "nan-path",
        BASE + "[paths]\nthreat = { 2027 = nan }\n",
        "paths.threat.2027",
        "must be finite",
    ),
    (
        "nan-ally",
        BASE + "[allies.POL]\nrecruit_rate = nan\n",
        "allies.POL.recruit_rate",
        "must be finite",
    ),
    ("nan-pledge", BASE + "[pledge]\ncore_pct = nan\n", "pledge.core_pct", "must be finite"),
    (
        "start-after-end",
        BASE + "start_year = 2025\nend_year = 2024\n",
        "end_year",
        "2024 is before start_year 2025",
    ),
    (
        "end-equals-start",
        BASE + "start_year = 2025\nend_year = 2025\n",
        "end_year",
        "must be after start_year 2025, got 2025",
    ),
    ("start-after-data", BASE + "start_year = 2026\n", "start_year", "after the last year"),
    ("start-before-data", BASE + "start_year = 2013\n", "start_year", "outside"),
    ("pledge-before-start", BASE + "[pledge]\nyear = 2024\n", "pledge.year", "before start_year"),
    (
        "demand-before-start",
        BASE + "[us_demand]\nyear = 2020\n",
        "us_demand.year",
        "before start_year",
    ),
    ("unknown-path", BASE + "[paths]\nweather = { 2027 = 1.0 }\n", "paths.weather", "unknown path"),
    ("non-year-key", BASE + "[paths]\nthreat = { soon = 1.0 }\n", "paths.threat.soon", "a year"),
    ("bad-threat-mode", BASE + 'threat_mode = "chaos"\n', "threat_mode", "adversary"),
    (
        "unknown-data-edition",
        BASE + 'data_edition = "1999"\n',
        "data_edition",
        "expected '2025' or '2026', got '1999'",
    ),
    (
        "number-data-edition",
        BASE + "data_edition = 2025\n",
        "data_edition",
        "expected '2025' or '2026', got 2025",
    ),
    ("unknown-plans", BASE + 'plans = "some"\n', "plans", "'national' or 'none'"),
    (
        "plan-not-a-table",
        BASE + "[allies.DEU]\nplan = 3.0\n",
        "allies.DEU.plan",
        "'none' or a table",
    ),
    (
        "plan-share-text",
        BASE + '[allies.DEU]\nplan = { 2030 = "high" }\n',
        "allies.DEU.plan.2030",
        "a number",
    ),
    (
        "plan-share-range",
        BASE + "[allies.DEU]\nplan = { 2030 = 40.0 }\n",
        "allies.DEU.plan.2030",
        "outside the allowed range",
    ),
    (
        "plan-in-the-past",
        BASE + "[allies.DEU]\nplan = { 2024 = 3.0 }\n",
        "allies.DEU.plan.2024",
        "not after start_year",
    ),
    (
        "cap-below-observed-start",
        BASE + "[allies.POL]\nsovereign_cap_pct = 3.0\n",
        "allies.POL.sovereign_cap_pct",
        "3 is below Poland's observed 2025 core share 4.25% GDP (2026 data)",
    ),
    (
        "cap-below-own-start",
        BASE + "[allies.POL]\nsovereign_cap_pct = 3.0\ncore_pct_start = 3.5\n",
        "allies.POL.sovereign_cap_pct",
        "3 is below this ally's core_pct_start 3.5",
    ),
    ("plan-for-iceland", BASE + '[allies.ISL]\nplan = "none"\n', "allies.ISL.plan", "no armed"),
    ("plans-known-by-text", BASE + 'plans_known_by = "2025"\n', "plans_known_by", "a date"),
    (
        "plans-known-by-time",
        BASE + "plans_known_by = 2025-06-30T12:00:00\n",
        "plans_known_by",
        "not a time",
    ),
    (
        "plans-known-by-without-plans",
        BASE + 'plans = "none"\nplans_known_by = 2025-06-30\n',
        "plans_known_by",
        "no effect",
    ),
    ("missing-description", "start_year = 2025\n", "description", "missing"),
    (
        "missing-pledge-year",
        'description = "d"\nstart_year = 2025\nend_year = 2030\n'
        "[pledge]\ncore_pct = 2.0\nrelated_pct = 0.0\n",
        "pledge.year",
        "missing",
    ),
    ("unknown-base", 'base = "nowhere"\ndescription = "d"\n', "base", "unknown scenario"),
    ("missing-base-file", 'base = "gone.toml"\ndescription = "d"\n', "base", "no such"),
]


@pytest.mark.parametrize(("text", "field", "phrase"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_scenario_file_names_the_field(tmp_path, text, field, phrase):
    """Each bad file raises ScenarioError whose FIELD is exactly the offending one."""
    err = _error(_write(tmp_path, text))
    assert (err.source, err.where) == ("t.toml", field)
    assert phrase in err.problem
    assert str(err) == f"t.toml: {field}: {err.problem}"


def test_invalid_toml_is_a_scenario_error(tmp_path):
    """A TOML syntax error is reported as the file with no field."""
    err = _error(_write(tmp_path, BASE + "[parameters\n"))
    assert (err.source, err.where) == ("t.toml", "")
    assert err.problem.startswith("not valid TOML")
    assert str(err).startswith("t.toml: not valid TOML")


def test_error_in_a_base_file_names_the_base(tmp_path):
    """A problem inside a base file is reported against that file."""
    _write(tmp_path, BASE + "[parameters]\nbogus_key = 1\n", "parent.toml")
    err = _error(_write(tmp_path, 'base = "parent.toml"\n', "child.toml"))
    assert (err.source, err.where) == ("parent.toml", "parameters.bogus_key")


def test_a_base_loop_is_refused(tmp_path):
    """Two files naming each other as base raise ScenarioError at the base field."""
    _write(tmp_path, 'base = "b.toml"\ndescription = "a"\n', "a.toml")
    _write(tmp_path, 'base = "a.toml"\ndescription = "b"\n', "b.toml")
    err = _error(tmp_path / "a.toml")
    assert err.where == "base"
    assert "loop" in err.problem


def test_a_file_naming_itself_as_base_is_refused(tmp_path):
    """A file that is its own base is a loop too."""
    err = _error(_write(tmp_path, 'base = "t.toml"\ndescription = "t"\n'))
    assert (err.where, "loop" in err.problem) == ("base", True)


def test_unknown_scenario_and_missing_file(tmp_path):
    """An unknown name lists the known ones; a missing file says so."""
    err = _error("no-such-scenario")
    assert (err.source, err.where) == ("no-such-scenario", "")
    assert "unknown scenario" in err.problem and "hague-2035" in err.problem
    assert "calibration" not in err.problem  # the calibrated defaults are not a scenario
    assert "unknown scenario" in _error("calibration").problem
    err = _error(tmp_path / "absent.toml")
    assert err.where == "" and "no such scenario file" in err.problem


@pytest.mark.parametrize(
    "name", ["...toml", "..toml", " .toml", "a\\b.toml", os.fsdecode(b"bad\xff.toml")]
)
def test_a_file_name_unfit_for_a_results_folder_is_refused(tmp_path, name):
    """A scenario's name (its file's stem) names ``results/<name>``: "..", ".", a blank, a
    separator or bytes that are not UTF-8 are refused in one printable line."""
    try:
        path = _write(tmp_path, BASE, name)
    except (OSError, UnicodeEncodeError):
        pytest.skip(f"this file system refuses the name {name!r}")
    err = _error(path)
    assert err.where == ""
    assert "rename the file" in err.problem
    str(err).encode("utf-8")  # printable: no lone surrogates
    if name.endswith("\udcff.toml"):
        assert str(err) == "bad\\xff.toml: the file name is not valid UTF-8 (rename the file)"


def test_a_cap_at_or_above_the_start_share_is_kept(tmp_path):
    """A cap with core_pct_start below it, or above the observed share, loads unchanged."""
    text = BASE + "[allies.POL]\nsovereign_cap_pct = 3.0\ncore_pct_start = 2.5\n"
    s = load_scenario(_write(tmp_path, text))
    assert dict(s.allies["POL"]) == {"sovereign_cap_pct": 3.0, "core_pct_start": 2.5}
    s = load_scenario(_write(tmp_path, BASE + "[allies.ESP]\nsovereign_cap_pct = 2.0\n"))
    assert s.allies["ESP"]["sovereign_cap_pct"] == 2.0  # Spain's observed 2025 share is 2.0


def test_iceland_may_set_its_economy(tmp_path):
    """Fields not about forces are allowed for Iceland."""
    s = load_scenario(_write(tmp_path, BASE + "[allies.ISL]\nfiscal_space = 0.5\n"))
    assert dict(s.allies["ISL"]) == {"fiscal_space": 0.5}


@pytest.mark.parametrize(
    ("section", "field"), [("pledge", "review_year"), ("targets", "adoption_year")]
)
def test_event_year_before_start_is_rejected(tmp_path, section, field):
    """A review or target adoption before the start year names the field."""
    path = _write(tmp_path, f'base = "hague-2035"\n[{section}]\n{field} = 2020\n')
    err = _error(path)
    assert str(err).startswith(f"t.toml: {section}.{field}:") and "2020" in str(err)


def test_whole_number_in_file_takes_the_parameter_type(tmp_path):
    """`lead_time_logistics = 4.0` is recorded as int 4; `adjustment_speed = 1` as float 1.0."""
    path = _write(
        tmp_path,
        'base = "hague-2035"\n[parameters]\nlead_time_logistics = 4.0\nadjustment_speed = 1\n',
    )
    params = load_scenario(path).parameters
    assert params["lead_time_logistics"] == 4 and type(params["lead_time_logistics"]) is int
    assert params["adjustment_speed"] == 1.0 and type(params["adjustment_speed"]) is float


# --- data edition ----------------------------------------------------------------------------


def test_data_edition_defaults_to_2026_and_is_in_to_dict():
    """Every named scenario uses the default edition unless its file sets one; to_dict says so."""
    s = load_scenario("hague-2035")
    assert s.data_edition == DEFAULT_EDITION == "2026"
    assert s.to_dict()["data_edition"] == "2026"


def test_data_edition_in_a_file_is_read_and_inherited(tmp_path):
    """`data_edition = "2025"` sets the edition; a child inherits it unless it sets its own."""
    parent = _write(tmp_path, BASE + 'description = "old data"\ndata_edition = "2025"\n', "p.toml")
    s = load_scenario(parent)
    assert s.data_edition == "2025" and s.to_dict()["data_edition"] == "2025"
    child = load_scenario(_write(tmp_path, 'base = "p.toml"\nend_year = 2030\n', "c.toml"))
    assert (child.data_edition, child.end_year) == ("2025", 2030)
    back = _write(tmp_path, 'base = "p.toml"\ndata_edition = "2026"\n', "back.toml")
    assert load_scenario(back).data_edition == "2026"
    assert s.with_parameters(adjustment_speed=0.5).data_edition == "2025"


def test_a_bad_data_edition_in_a_base_names_the_base(tmp_path):
    _write(tmp_path, BASE + 'data_edition = "2027"\n', "parent.toml")
    err = _error(_write(tmp_path, 'base = "parent.toml"\n', "child.toml"))
    assert str(err) == "parent.toml: data_edition: expected '2025' or '2026', got '2027'"


def test_with_data_edition_returns_a_validated_copy():
    """with_data_edition changes only the edition; an unknown one is a one-line ScenarioError."""
    s = load_scenario("hague-2035")
    t = s.with_data_edition("2025")
    assert (t.data_edition, s.data_edition) == ("2025", "2026")
    assert t != s and t.with_data_edition("2026") == s
    assert (t.parameters, t.paths, t.allies, t.pledge) == (
        s.parameters,
        s.paths,
        s.allies,
        s.pledge,
    )
    assert t.to_dict() == s.to_dict() | {"data_edition": "2025"}
    for bad in ("1999", "", 2025, None):
        with pytest.raises(ScenarioError) as info:
            s.with_data_edition(bad)
        assert info.value.where == "data_edition"
        assert str(info.value).startswith("hague-2035.toml: data_edition: expected '2025' or")
        assert "\n" not in str(info.value)


def test_with_data_edition_checks_the_caps_against_that_edition(tmp_path):
    """Germany's 2025 core share is 2.22 in the 2026 edition, 2.4 in the 2025 edition: a cap of
    2.3 loads on the first and is refused on the second."""
    s = load_scenario(_write(tmp_path, BASE + "[allies.DEU]\nsovereign_cap_pct = 2.3\n"))
    with pytest.raises(ScenarioError) as info:
        s.with_data_edition("2025")
    assert info.value.where == "allies.DEU.sovereign_cap_pct"
    assert "below Germany's observed 2025 core share 2.4% GDP (2025 data)" in info.value.problem


def test_the_data_edition_survives_pickling():
    """Worker processes get the scenario by pickle: the edition goes with it."""
    t = load_scenario("hague-2035").with_data_edition("2025")
    back = pickle.loads(pickle.dumps(t))
    assert back == t and back.data_edition == "2025"


def test_plans_known_by_is_read_inherited_and_in_to_dict_only_when_set(tmp_path):
    """A TOML date sets the plans' cut-off; unset, it is 31 December of the start year and the
    manifest (so a batch's fingerprint) is as before the field existed."""
    default = load_scenario("us-demand-2025")
    assert default.plans_known_by is None and default.plans_as_of == date(2024, 12, 31)
    assert "plans_known_by" not in default.to_dict()
    parent = _write(tmp_path, 'base = "us-demand-2025"\nplans_known_by = 2025-06-30\n', "p.toml")
    s = load_scenario(parent)
    assert s.plans_as_of == s.plans_known_by == date(2025, 6, 30)
    assert s.to_dict()["plans_known_by"] == "2025-06-30"
    child = load_scenario(_write(tmp_path, 'base = "p.toml"\n', "c.toml"))
    assert child.plans_as_of == date(2025, 6, 30)
