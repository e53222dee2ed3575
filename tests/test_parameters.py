"""Tests for sim/parameters.py: the calibration file, read when used and reported in one line."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sim.parameters import CalibrationFileError, read_calibration

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def test_a_directory_in_place_of_the_calibration_file_is_refused(tmp_path):
    (tmp_path / "calibration.toml").mkdir()
    with pytest.raises(CalibrationFileError, match="not a file"):
        read_calibration(tmp_path / "calibration.toml")


def _alliance(tmp_path: Path, calibration: str | None, *argv: str) -> subprocess.CompletedProcess:
    """``alliance ARGV`` with a copy of the scenarios whose calibration file is ``calibration``
    (file text; "DIR" for a directory; None for no file)."""
    copy = tmp_path / "scenarios"
    if not copy.exists():
        shutil.copytree(SCENARIOS, copy)
    target = copy / "calibration.toml"
    if target.is_dir():
        target.rmdir()
    else:
        target.unlink(missing_ok=True)
    if calibration == "DIR":
        target.mkdir()
    elif calibration is not None:
        target.write_text(calibration)
    cmd = [sys.executable, "-m", "sim.cli", *argv]
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)


@pytest.mark.parametrize(
    ("calibration", "problem"),
    [("parameters = 3\n", "date: missing"), ("date = [", "not valid TOML"), ("DIR", "not a file")],
)
def test_an_unusable_calibration_file_stops_commands_in_one_line_but_not_help(
    tmp_path, calibration, problem
):
    run = _alliance(tmp_path, calibration, "run", "hague-2035", "--out", str(tmp_path / "r"))
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "calibration.toml" in lines[0] and problem in lines[0], run.stderr
    assert not (tmp_path / "r").exists()
    for argv in (["--help"], ["run", "--help"]):
        shown = _alliance(tmp_path, calibration, *argv)
        assert shown.returncode == 0 and "usage: alliance" in shown.stdout, shown.stderr


def test_without_a_calibration_file_every_command_says_the_priors_are_used(tmp_path):
    listed = _alliance(tmp_path, None, "parameters")
    assert listed.returncode == 0, listed.stderr
    assert "not found; parameters take their uncalibrated priors" in listed.stderr
    assert "adjustment_speed" in listed.stdout
