"""The checks every input file shares: one error, one reader, one set of value checks."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.experiment import ExperimentError
from sim.parameters import CalibrationFileError
from sim.scenario import ScenarioError
from sim.spec_checks import (
    SpecError,
    printable,
    range_problem,
    read_toml,
    type_problem,
    unknown_problem,
)


@pytest.mark.parametrize("error", [ScenarioError, ExperimentError, CalibrationFileError])
def test_every_file_error_is_one_spec_error(error):
    """Scenario, experiment and calibration errors share the base and its one-line message."""
    exc = error("f.toml", "a.b", "bad")
    assert isinstance(exc, SpecError) and isinstance(exc, ValueError)
    assert str(exc) == "f.toml: a.b: bad"
    assert str(error("f.toml", "", "bad")) == "f.toml: bad"


@pytest.mark.parametrize(
    ("text", "problem"),
    [("a = [", "not valid TOML"), (b"\xff\xfe = 1", "not UTF-8")],
)
def test_read_toml_reports_a_bad_file_in_one_line(tmp_path, text, problem):
    path = tmp_path / "x.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ScenarioError, match=problem) as info:
        read_toml(path, ScenarioError, "x.toml")
    assert info.value.source == "x.toml" and "\n" not in str(info.value)


def test_read_toml_names_a_folder_and_a_missing_file(tmp_path):
    with pytest.raises(SpecError, match="not a file"):
        read_toml(tmp_path)
    with pytest.raises(SpecError, match="cannot read"):
        read_toml(tmp_path / "missing.toml")
    (tmp_path / "ok.toml").write_text("a = 1\n")
    assert read_toml(tmp_path / "ok.toml") == {"a": 1}


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_a_float_is_a_number_only_when_finite(x):
    problem = type_problem(x, float)
    assert (problem is None) == math.isfinite(x)


@pytest.mark.parametrize(
    ("value", "kind", "ok"),
    [
        (True, float, False),
        (True, int, False),
        (3, int, True),
        (3.0, int, False),
        (3, float, True),
        ("3", float, False),
        ("x", str, True),
        ({}, dict, True),
        ([], list, True),
        ([], dict, False),
    ],
)
def test_type_problem_names_the_expected_kind(value, kind, ok):
    problem = type_problem(value, kind)
    assert (problem is None) == ok
    if not ok:
        assert problem.startswith("expected ") and repr(value) in problem


@given(st.floats(-10, 10), st.floats(-10, 0), st.floats(0, 10))
def test_range_problem_is_none_exactly_inside(x, low, high):
    assert (range_problem(x, low, high) is None) == (low <= x <= high)


def test_unknown_problem_lists_the_allowed_fields():
    assert unknown_problem("a", ("a", "b")) is None
    assert unknown_problem("c", ("a", "b")) == "unknown field (expected one of a, b)"


def test_printable_escapes_bytes_that_are_not_utf8():
    assert printable("plain") == "plain"
    assert printable("bad\udcffname") == "bad\\xffname"
