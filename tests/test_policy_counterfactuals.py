"""experiments/policy_counterfactuals.py: a design as found reproduces its robustness row."""

import pandas as pd
import pytest

from experiments import policy_counterfactuals
from sim.policy import run_optimize
from tests.test_policy import write_spec


@pytest.fixture(scope="module")
def optimized(tmp_path_factory):
    """A finished tiny search (2 levers, 10 futures x 1 run) and its spec."""
    folder = tmp_path_factory.mktemp("policy")
    spec = write_spec(folder)
    run_optimize(spec, folder / "out", executor="serial", progress=False)
    return folder / "out", spec


def test_as_found_reproduces_the_robustness_table_and_a_variant_changes_it(optimized, capsys):
    out, spec = optimized
    robustness = pd.read_csv(out / "robustness.csv").set_index("design")
    design = int(robustness.index[0])
    policy_counterfactuals.main(
        [str(out), str(design), "us_pressure_strength=0", "--spec", str(spec)]
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"design {design}: {{'us_pressure_strength': ")
    as_found = lines[1]
    assert as_found.startswith(
        f"as found: satisficing {robustness.loc[design, 'satisficing']:.3f}; median allies "
    )
    failing = round((1 - robustness.loc[design, "satisficing"]) * 10)
    assert as_found.endswith(f"failing futures {failing}")
    assert lines[2].startswith("us_pressure_strength=0: satisficing ")
    assert len(lines) == 3


def test_an_unknown_lever_is_refused_in_one_line(optimized, capsys):
    out, spec = optimized
    with pytest.raises(SystemExit) as exc:
        policy_counterfactuals.main([str(out), "0", "bogus=1", "--spec", str(spec)])
    assert exc.value.code == 2
    assert "'bogus=1': expected LEVER=VALUE with a known parameter" in capsys.readouterr().err
