from pathlib import Path

import pytest

from sim.cli import main
from sim.experiment import ExperimentError, load_experiment
from sim.policy_spec import load_policy_spec

EXPERIMENTS = Path(__file__).parents[1] / "experiments"

GOOD = """
description = "test"
scenario = "hague-2035"
design = "morris"
samples = 4
replications = 2
seed = 3

[parameters]
free_riding = { range = [0.0, 1.0] }
adjustment_speed = { range = [0.1, 0.8] }

[[outputs]]
name = "gap_2035"
column = "capability_gap"

[[outputs]]
name = "deu_personnel_2030"
column = "personnel_k"
ally = "DEU"
year = 2030

[series]
columns = ["capability_gap"]

[discovery]
output = "gap_2035"
above = 0.5
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.toml"
    path.write_text(text)
    return path


def test_a_good_spec_is_read_in_full(tmp_path):
    e = load_experiment(_write(tmp_path, GOOD))
    assert (e.name, e.design, e.samples, e.levels, e.replications, e.seed) == (
        "exp", "morris", 4, 4, 2, 3,
    )  # fmt: skip
    assert [v.name for v in e.parameters] == ["free_riding", "adjustment_speed"]
    assert e.outputs[0].year == 2035 and e.outputs[0].table == "alliance"
    assert (e.outputs[1].table, e.outputs[1].ally, e.outputs[1].year) == ("allies", "DEU", 2030)
    assert e.discovery.label == "gap_2035 > 0.5" and e.series == ("capability_gap",)


@pytest.mark.parametrize("name", sorted(p.name for p in EXPERIMENTS.glob("*.toml")))
def test_shipped_experiments_are_valid(name):
    """Every shipped spec loads: a sweep's with load_experiment, a policy search's (levers)."""
    path = EXPERIMENTS / name
    if "[levers]" in path.read_text():
        assert load_policy_spec(path).levers
    else:
        assert load_experiment(path).parameters


@pytest.mark.parametrize(
    ("old", "new", "where", "problem"),
    [
        ('design = "morris"', 'design = "taguchi"', "design", "unknown design"),
        ("free_riding =", "free_ridding =", "parameters.free_ridding", "unknown parameter"),
        ("[0.0, 1.0]", "[0.0, 1.5]", "parameters.free_riding.range", "outside the allowed range"),
        ("[0.1, 0.8]", "[0.8, 0.1]", "parameters.adjustment_speed.range", "low < high"),
        (
            "{ range = [0.0, 1.0] }",
            "{ values = [0.0, 1.0] }",
            "parameters.free_riding.values",
            "needs a range",
        ),
        ('column = "capability_gap"', 'column = "gap"', "outputs[0].column", "unknown output"),
        ('ally = "DEU"', 'ally = "XXX"', "outputs[1].ally", "known ally"),
        ("year = 2030", "year = 2040", "outputs[1].year", "outside 2025-2035"),
        ("samples = 4", "samples = 0", "samples", "at least 1"),
        ('"morris"\nsamples = 4', '"sobol"\nsamples = 6', "samples", "power of 2"),
        ('scenario = "hague-2035"', 'scenario = "nowhere"', "scenario", "unknown scenario"),
        ("seed = 3", "seed = 3\ncolour = 1", "colour", "unknown field"),
        ('output = "gap_2035"', 'output = "gap"', "discovery.output", "not one of the outputs"),
        ('name = "gap_2035"', 'name = "gap 2035"', "outputs[0].name", "not a unique identifier"),
    ],
)
def test_a_bad_spec_names_its_field(tmp_path, old, new, where, problem):
    assert old in GOOD
    with pytest.raises(ExperimentError) as info:
        load_experiment(_write(tmp_path, GOOD.replace(old, new, 1)))
    assert info.value.where == where and problem in info.value.problem


def test_alliance_sweep_rejects_a_bad_spec_in_one_line(tmp_path, capsys):
    path = _write(tmp_path, GOOD.replace("free_riding =", "free_ridding =", 1))
    assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "parameters.free_ridding: unknown parameter" in err[0]
    assert main(["sweep", str(tmp_path / "absent.toml")]) == 2
    assert "no such experiment file" in capsys.readouterr().err
