import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.cli import main
from sim.parameters import PARAMETERS
from sim.run import ALLIANCE_TABLE, ALLIES_TABLE

ALLIANCE = str(Path(sys.executable).parent / "alliance")


def _bad(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


BAD_FILES = [
    (
        "hague-x.toml",
        'base = "hague-2035"\n[parameters]\nbogus_key = 1\n',
        "hague-x.toml: parameters.bogus_key: unknown parameter",
    ),
    ("t.toml", 'base = "hague-2035"\nbogus = 1\n', "t.toml: bogus: unknown field"),
    (
        "t.toml",
        'base = "hague-2035"\n[parameters]\nadjustment_speed = "fast"\n',
        "t.toml: parameters.adjustment_speed: expected a number",
    ),
    (
        "t.toml",
        'base = "hague-2035"\nstart_year = 2025.5\n',
        "t.toml: start_year: expected a whole",
    ),
    (
        "t.toml",
        'base = "hague-2035"\n[parameters]\nlead_time_logistics = 2.5\n',
        "t.toml: parameters.lead_time_logistics: expected a whole number",
    ),
    (
        "t.toml",
        'base = "hague-2035"\n[parameters]\nadjustment_speed = 5\n',
        "t.toml: parameters.adjustment_speed: 5 is outside the allowed range",
    ),
    (
        "t.toml",
        'base = "hague-2035"\n[allies.XXX]\nrecruit_rate = 0.05\n',
        "t.toml: allies.XXX: unknown ally code",
    ),
    (
        "t.toml",
        'base = "hague-2035"\n[allies.DEU]\nwishes = 1\n',
        "t.toml: allies.DEU.wishes: unknown field",
    ),
    (
        "t.toml",
        'base = "hague-2035"\n[allies.ISL]\nrecruit_rate = 0.05\n',
        "t.toml: allies.ISL.recruit_rate: this ally has no armed forces",
    ),
    (
        "t.toml",
        'base = "hague-2035"\n[parameters]\nfree_riding = nan\n',
        "t.toml: parameters.free_riding: must be finite",
    ),
    (
        "t.toml",
        'base = "hague-2035"\n[paths]\nthreat = { 2027 = nan }\n',
        "t.toml: paths.threat.2027: must be finite",
    ),
    (
        "t.toml",
        'base = "hague-2035"\n[allies.POL]\nrecruit_rate = nan\n',
        "t.toml: allies.POL.recruit_rate: must be finite",
    ),
    (
        "t.toml",
        'base = "hague-2035"\nstart_year = 2025\nend_year = 2024\n',
        "t.toml: end_year: 2024 is before start_year 2025",
    ),
    ("t.toml", 'base = "hague-2035"\nstart_year = 2030\n', "t.toml: start_year: 2030 is after"),
    (
        "t.toml",
        'base = "hague-2035"\n[paths]\nweather = { 2027 = 1.0 }\n',
        "t.toml: paths.weather: unknown path",
    ),
    (
        "t.toml",
        'base = "hague-2035"\n[paths]\nthreat = { soon = 1.0 }\n',
        "t.toml: paths.threat.soon: expected a year",
    ),
    ("t.toml", 'base = "hague-2035"\n[parameters\n', "t.toml: invalid TOML"),
    ("t.toml", 'base = "nowhere"\n', "t.toml: base: unknown scenario"),
    ("t.toml", "start_year = 2025\n", "t.toml: description: missing"),
    (
        "t.toml",
        'base = "hague-2035"\n[parameters]\ndebt_threshold_pct = 160\n',
        "t.toml: parameters.debt_ceiling_pct: 150 must exceed debt_threshold_pct",
    ),
]


@pytest.mark.parametrize(("name", "text", "message"), BAD_FILES)
def test_bad_scenario_file_exits_2_with_one_line_naming_the_field(
    tmp_path, capsys, name, text, message
):
    path = _bad(tmp_path, name, text)
    assert main(["run", path, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(message), err
    assert not (tmp_path / "out" / "allies.parquet").exists()


def test_scenarios_that_inherit_in_a_loop_are_refused(tmp_path, capsys):
    (tmp_path / "a.toml").write_text('base = "b.toml"\ndescription = "a"\n')
    (tmp_path / "b.toml").write_text('base = "a.toml"\ndescription = "b"\n')
    assert main(["run", str(tmp_path / "a.toml")]) == 2
    assert "base: scenarios inherit from each other in a loop" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "nope"], "nope: unknown scenario"),
        (["run", "hague-2035", "--seed", "x"], "--seed: expected a whole number"),
        (["run", "hague-2035", "--seed", "-1"], "--seed: must be between"),
        (["run", "hague-2035", "--set", "bogus=1"], "--set: bogus: unknown parameter"),
        (["run", "hague-2035", "--set", "adjustment_speed=9"], "adjustment_speed: 9.0 is outside"),
        (["run", "hague-2035", "--set", "adjustment_speed"], "expected NAME=VALUE"),
        ([], "the following arguments are required: command"),
    ],
)
def test_bad_flags_exit_2_with_one_line(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_unwritable_out_exits_2_before_running(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["run", "hague-2035", "--out", str(blocker / "sub")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out" in err and "not writable" in err


def test_scenarios_and_parameters_are_listed(capsys):
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out
    for name in (
        "hague-2035",
        "status-quo-2pct",
        "us-retrenchment",
        "threat-escalation",
        "threat-de-escalation",
        "recession-2027",
        "spain-opt-out",
        "wales-2014",
    ):
        assert name in out
    assert main(["parameters"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in PARAMETERS)


def _read(out):
    return pd.read_parquet(out / "allies.parquet"), pd.read_parquet(out / "alliance.parquet")


def test_run_writes_contract_tables_and_manifest(tmp_path, capsys):
    out = tmp_path / "h7"
    assert main(["run", "hague-2035", "--seed", "7", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "allies at >= 3.5% core" in printed and "capability gap" in printed
    allies, alliance = _read(out)
    assert tuple(allies.columns) == ALLIES_TABLE
    assert tuple(alliance.columns) == ALLIANCE_TABLE
    assert len(allies) == 32 * 11 and sorted(alliance["year"]) == list(range(2025, 2036))
    assert np.isfinite(allies.select_dtypes("number").to_numpy()).all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 7
    assert set(manifest["scenario"]["parameters"]) == set(PARAMETERS)
    assert {"versions", "git_commit", "scenario_file"} <= set(manifest)
    assert manifest["versions"]["mesa"] == "3.5.1"

    again = tmp_path / "again"
    assert main(["run", "hague-2035", "--seed", "7", "--out", str(again)]) == 0
    for x, y in zip(_read(out), _read(again), strict=True):
        pd.testing.assert_frame_equal(x, y)
    other = tmp_path / "other"
    assert (
        main(
            [
                "run",
                "hague-2035",
                "--seed",
                "8",
                "--set",
                "adjustment_speed=0.5",
                "--out",
                str(other),
            ]
        )
        == 0
    )
    assert not _read(other)[0]["core_pct_gdp"].equals(allies["core_pct_gdp"])
    manifest = json.loads((other / "manifest.json").read_text())
    assert manifest["scenario"]["parameters"]["adjustment_speed"] == 0.5


def test_console_script_end_to_end(tmp_path):
    good = subprocess.run(
        [ALLIANCE, "run", "wales-2014", "--out", str(tmp_path / "w")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert good.returncode == 0, good.stderr
    assert "Alliance in 2025 (start 2014" in good.stdout
    bad = subprocess.run(
        [ALLIANCE, "run", "hague-2035", "--seed", "x"], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr and bad.stderr.count("\n") == 1
