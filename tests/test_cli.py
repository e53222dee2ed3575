"""The `alliance` command line, in-process through main() and as the installed console script."""

import contextlib
import importlib.util
import io
import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.cli import build_parser, main
from sim.columns import ALLIANCE_TABLE, ALLIES_TABLE
from sim.data import load_reference
from sim.parameters import DEFAULTS, PARAMETERS
from sim.scenario import load_scenario
from sim.uncertainty import resolve, run_scenarios

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
FILES = (
    "allies.parquet",
    "alliance.parquet",
    "forecast_allies.parquet",
    "forecast_alliance.parquet",
    "manifest.json",
)
SINGLE_FILES = ("allies.parquet", "alliance.parquet", "manifest.json")


def _console_script() -> str:
    local = Path(sys.executable).parent / "alliance"
    found = str(local) if local.is_file() else shutil.which("alliance")
    assert found, "the alliance console script is not installed"
    return found


def _tables(out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.read_parquet(out / "allies.parquet"), pd.read_parquet(out / "alliance.parquet")


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def _run(out: Path, *extra: str) -> str:
    """Run hague-2035 in-process into ``out`` and return what it printed."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["run", "hague-2035", "--out", str(out), *extra])
    assert code == 0
    return buf.getvalue()


def _drawn(scenario, seed: int) -> dict:
    """The parameters run ``seed`` of ``scenario`` takes by default (its posterior draw)."""
    (point,), _ = run_scenarios(scenario, [seed], resolve(None)[1])
    return dict(point.parameters)


@pytest.fixture(scope="module")
def hague7(tmp_path_factory):
    """One run of hague-2035 with seed 7: (output folder, printed summary)."""
    out = tmp_path_factory.mktemp("hague7") / "out"
    return out, _run(out, "--seed", "7")


# --- listing ---------------------------------------------------------------------------------


def test_scenarios_lists_all_eight(capsys):
    """`alliance scenarios` prints one line per named scenario with its description."""
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert [line.split()[0] for line in lines] == sorted(NAMED)
    for line in lines:
        name = line.split()[0]
        assert line.endswith(load_scenario(name).description)


def test_parameters_lists_every_parameter_with_unit_range_and_source(capsys):
    """`alliance parameters` gives each parameter's default, unit, range, meaning and source."""
    assert main(["parameters"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 * len(PARAMETERS)
    for p, (head, meaning, source) in zip(
        PARAMETERS.values(), itertools.batched(lines, 3), strict=True
    ):
        unit = p.unit or "(no unit)"
        assert head.startswith(f"{p.name} = {p.default:g} {unit}, range [{p.low:g}, {p.high:g}]")
        assert meaning == f"    {p.description}"
        assert source == f"    Source: {p.source}"


# --- a run -----------------------------------------------------------------------------------


def test_run_prints_medians_and_bands_of_the_forecast_tables(hague7):
    """Without --single, the summary is the forecast's: medians and 5-95% bands in 2035."""
    out, printed = hague7
    assert printed.startswith("hague-2035: ")
    assert "NATO data edition 2026, 2025-2035." in printed
    assert (
        "Median [5%-95%] of 200 runs (random shocks and parameters drawn from the posterior)"
        in printed
    )
    assert (
        "the runs of `alliance batch hague-2035 --replications 200 --seed 7 "
        "--uncertainty posterior`" in printed
    )
    noise, threat, gdp = (DEFAULTS[f"{n}_noise_sd"] for n in ("spending", "threat", "gdp_growth"))
    assert f"implementation noise ({noise:.2f} pp, calibrated to the model's past" in printed
    assert f"({threat:.2f} threat units, as large as the threat path's record)" in printed
    assert f"around trend ({gdp:.1%} a year, as in the record)" in printed
    alliance = pd.read_parquet(out / "forecast_alliance.parquet").set_index(["year", "quantile"])
    lo, mid, hi = (alliance.loc[(2035, q)] for q in (0.05, 0.5, 0.95))
    m = re.search(r"allies at >= 3\.5% core:\s+(\d+) \[(\d+)-(\d+)\]", printed)
    assert m, printed
    band = (mid, lo, hi)  # printed as median [5%-95%]
    assert [int(g) for g in m.groups()] == [round(b["allies_ge_3_5pct_core"]) for b in band]
    assert "counts are of the 31 allies with armed forces (Iceland has none)" in printed
    m = re.search(r"capability gap, share unmet:\s+([\d.]+) \[([\d.]+)-([\d.]+)\]", printed)
    assert m, printed
    assert [float(g) for g in m.groups()] == pytest.approx(
        [b["capability_gap"] for b in band], abs=0.0006
    )
    allies = pd.read_parquet(out / "forecast_allies.parquet")
    deu = allies[(allies["iso3"] == "DEU") & (allies["year"] == 2035)].set_index("quantile")
    core = deu["core_pct_gdp"]
    assert f"DEU Germany {core[0.5]:.2f} [{core[0.05]:.2f}-{core[0.95]:.2f}]" in printed
    assert "National plans against the median" in printed
    assert f"Tables written to {out}/" in printed


def test_run_single_prints_the_seeded_run(tmp_path):
    """--single prints one run, says it is one draw, and writes no forecast."""
    printed = _run(tmp_path, "--seed", "7", "--single")
    end = _tables(tmp_path)[1].iloc[-1]
    assert "One run, seed 7: one draw of the shocks" in printed
    m = re.search(r"allies at >= 3\.5% core:\s+(\d+)  \(", printed)
    assert m, printed
    assert int(m.group(1)) == end["allies_ge_3_5pct_core"]
    m = re.search(r"capability gap, share unmet:\s+([\d.]+)", printed)
    assert float(m.group(1)) == pytest.approx(end["capability_gap"], abs=0.0006)
    assert "National plans against seed 7, one draw" in printed
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(SINGLE_FILES)
    assert "forecast" not in _manifest(tmp_path)


def test_run_forecast_is_the_batch_of_the_same_seed(hague7, tmp_path):
    """The forecast's runs are `alliance batch`'s: same medians and bands in the final year."""
    out = tmp_path / "batch"
    with contextlib.redirect_stdout(io.StringIO()):
        argv = ["batch", "hague-2035", "--replications", "200", "--seed", "7", "--out", str(out)]
        assert main([*argv, "--no-progress"]) == 0
    batch = pd.read_parquet(out / "alliance").query("year == 2035")
    forecast = pd.read_parquet(hague7[0] / "forecast_alliance.parquet").query("year == 2035")
    for column in ("allies_ge_3_5pct_core", "capability_gap", "mean_core_pct_gdp"):
        expected = batch[column].quantile([0.05, 0.5, 0.95]).to_numpy()
        assert forecast[column].to_numpy() == pytest.approx(expected, rel=1e-12), column
    assert _manifest(hague7[0])["forecast"]["replications"] == 200


def test_run_writes_the_contract_tables(hague7):
    """allies/alliance parquet have exactly the contract columns; the folder has the three files."""
    out, _ = hague7
    assert {p.name for p in out.iterdir()} == set(FILES)
    allies, alliance = _tables(out)
    assert tuple(allies.columns) == ALLIES_TABLE
    assert tuple(alliance.columns) == ALLIANCE_TABLE


def test_run_covers_32_allies_over_11_years(hague7):
    """One row per ally per year 2025-2035 and one alliance row per year."""
    allies, alliance = _tables(hague7[0])
    years = list(range(2025, 2036))
    assert len(allies) == 32 * 11
    assert alliance["year"].tolist() == years
    codes = set(load_reference().allies.index)
    for year, group in allies.groupby("year"):
        assert year in years
        assert len(group) == 32 and set(group["iso3"]) == codes
    assert set(allies["scenario"]) == {"hague-2035"} == set(alliance["scenario"])
    assert set(allies["seed"]) == {7} == set(alliance["seed"])


def test_run_values_are_finite(hague7):
    """Every numeric value of both tables is finite and no text cell is empty."""
    for table in _tables(hague7[0]):
        numbers = table.select_dtypes("number")
        assert numbers.shape[1] >= 3
        assert np.isfinite(numbers.to_numpy(dtype=float)).all()
        text = table.drop(columns=numbers.columns)
        assert text.notna().all().all()


def test_run_manifest_records_everything(hague7):
    """The manifest has the scenario with every parameter, the seed, versions and the commit."""
    manifest = _manifest(hague7[0])
    assert {"scenario", "seed", "versions", "git_commit"} <= set(manifest)
    assert manifest["seed"] == 7
    scenario = manifest["scenario"]
    assert scenario["name"] == "hague-2035"
    assert scenario["data_edition"] == "2026"  # the default edition
    assert scenario["parameters"] == _drawn(load_scenario("hague-2035"), 7)
    assert set(scenario["parameters"]) == set(PARAMETERS)
    assert manifest["versions"]["mesa"] == "3.5.1"
    assert manifest["versions"]["python"] == ".".join(map(str, sys.version_info[:3]))
    commit = manifest["git_commit"]
    repo = Path(sim.__file__).resolve().parent.parent
    if (repo / ".git").exists() and shutil.which("git"):
        assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", commit), commit
    assert manifest["tables"] == {"allies": list(ALLIES_TABLE), "alliance": list(ALLIANCE_TABLE)}


def test_same_seed_gives_identical_tables(hague7, tmp_path):
    """Running again with the same seed reproduces both tables exactly."""
    _run(tmp_path, "--seed", "7")
    for first, again in zip(_tables(hague7[0]), _tables(tmp_path), strict=True):
        pd.testing.assert_frame_equal(first, again)


def test_different_seed_gives_different_tables(hague7, tmp_path):
    """Another seed changes the allies' spending."""
    _run(tmp_path, "--seed", "8")
    first, other = _tables(hague7[0])[0], _tables(tmp_path)[0]
    assert set(other["seed"]) == {8}
    with pytest.raises(AssertionError):
        pd.testing.assert_frame_equal(first.drop(columns="seed"), other.drop(columns="seed"))
    assert not np.allclose(first["core_pct_gdp"], other["core_pct_gdp"])


def test_set_changes_the_result_and_is_recorded(hague7, tmp_path):
    """--set adjustment_speed=0.5 (same seed) changes the run and is in the manifest."""
    _run(tmp_path, "--seed", "7", "--set", "adjustment_speed=0.5")
    base, changed = _tables(hague7[0])[0], _tables(tmp_path)[0]
    assert not np.allclose(base["core_pct_gdp"], changed["core_pct_gdp"])
    params = _manifest(tmp_path)["scenario"]["parameters"]
    assert params["adjustment_speed"] == 0.5
    assert params == _drawn(load_scenario("hague-2035", adjustment_speed=0.5), 7)
    assert params["adjustment_speed"] == 0.5  # a value the user set is not drawn


def _start(allies: pd.DataFrame, iso: str) -> float:
    first = allies[(allies["iso3"] == iso) & (allies["year"] == allies["year"].min())]
    return float(first["core_pct_gdp"].item())


def test_run_data_edition_2025_is_recorded_and_starts_germany_at_the_plan(hague7, tmp_path):
    """--data-edition 2025: the manifest records it and Germany starts at the plan's 2.4%;
    the default (2026) edition starts Germany at its published 2.22%."""
    printed = _run(tmp_path, "--seed", "7", "--data-edition", "2025")
    assert "NATO data edition 2025, 2025-2035." in printed
    assert _manifest(tmp_path)["scenario"]["data_edition"] == "2025"
    allies = _tables(tmp_path)[0]
    assert _start(allies, "DEU") == 2.4
    assert _start(allies, "POL") == pytest.approx(4.48, abs=0.005)
    default = _tables(hague7[0])[0]
    assert _start(default, "DEU") == 2.22 and _start(default, "POL") == 4.25
    assert "NATO data edition 2026, 2025-2035." in hague7[1]


def test_run_data_edition_2026_is_the_default(hague7, tmp_path):
    """--data-edition 2026 gives exactly the default run."""
    _run(tmp_path, "--seed", "7", "--data-edition", "2026")
    for default, explicit in zip(_tables(hague7[0]), _tables(tmp_path), strict=True):
        pd.testing.assert_frame_equal(default, explicit)


def test_run_takes_the_edition_from_the_scenario_file_unless_told(tmp_path):
    """A file's `data_edition = "2025"` holds without the flag; the flag overrides it."""
    path = tmp_path / "old.toml"
    path.write_text('base = "hague-2035"\nend_year = 2026\ndata_edition = "2025"\n')
    assert main(["run", str(path), "--out", str(tmp_path / "a")]) == 0
    assert _manifest(tmp_path / "a")["scenario"]["data_edition"] == "2025"
    assert _start(_tables(tmp_path / "a")[0], "DEU") == 2.4
    argv = ["run", str(path), "--out", str(tmp_path / "b"), "--data-edition", "2026"]
    assert main(argv) == 0
    assert _manifest(tmp_path / "b")["scenario"]["data_edition"] == "2026"
    assert _start(_tables(tmp_path / "b")[0], "DEU") == 2.22


def test_set_whole_number_parameter(tmp_path):
    """--set of a lead time records a whole number."""
    _run(tmp_path, "--set", "lead_time_logistics=4", "--set", "recruit_rate=0.05")
    params = _manifest(tmp_path)["scenario"]["parameters"]
    assert params["lead_time_logistics"] == 4 and isinstance(params["lead_time_logistics"], int)
    assert params["recruit_rate"] == 0.05


# --- bad input -------------------------------------------------------------------------------

POLICY_SPEC = Path(__file__).resolve().parents[1] / "experiments" / "policy_search.toml"


def _assert_one_line(err: str, *names: str) -> None:
    assert err.count("\n") == 1 and err.endswith("\n"), repr(err)
    assert "Traceback" not in err
    for name in names:
        assert name in err, (name, err)


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["run", "nope"], ["nope", "unknown scenario"]),
        (["run", "hague-2035", "--seed", "x"], ["--seed", "'x'"]),
        (["run", "hague-2035", "--seed", "-1"], ["--seed", "-1"]),
        (["run", "hague-2035", "--seed", str(2**63)], ["--seed"]),
        (["run", "hague-2035", "--set", "bogus=1"], ["--set", "bogus", "unknown parameter"]),
        (["run", "hague-2035", "--set", "adjustment_speed=9"], ["--set", "adjustment_speed", "9"]),
        (["run", "hague-2035", "--set", "adjustment_speed"], ["--set", "NAME=VALUE"]),
        (["run", "hague-2035", "--set", "adjustment_speed=fast"], ["adjustment_speed", "'fast'"]),
        (["run", "hague-2035", "--set", "adjustment_speed=nan"], ["adjustment_speed", "finite"]),
        (["run", "hague-2035", "--set", "lead_time_logistics=2.5"], ["lead_time_logistics"]),
        (["batch", "nope"], ["nope", "unknown scenario"]),
        (["batch", "hague-2035", "--replications", "0"], ["--replications", "at least 1"]),
        (["batch", "hague-2035", "--replications", "-3"], ["--replications"]),
        (["batch", "hague-2035", "--workers", "0"], ["--workers"]),
        (["calibrate", "--workers", "100000"], ["--workers 100000", "or fewer"]),
        (
            ["optimize", str(POLICY_SPEC), "--workers", "100000"],
            ["--workers 100000", "or fewer"],
        ),
        (["batch", "hague-2035", "--engine", "netlogo"], ["--engine", "netlogo"]),
        (["batch", "hague-2035", "--executor", "ray"], ["--executor", "ray"]),
        (["batch", "hague-2035", "hague-2035"], ["listed twice", "hague-2035"]),
        (["batch", "hague-2035", "--set", "free_riding=7"], ["free_riding"]),
        (
            ["batch", "hague-2035", "--executor", "serial", "--scheduler", "tcp://127.0.0.1:9"],
            ["--scheduler", "--executor dask"],
        ),
        (
            [
                *("batch", "hague-2035", "--replications", "2", "--executor", "dask"),
                *("--scheduler", "not a url"),
            ],
            ["--scheduler not a url", "not a scheduler address", "missing port number"],
        ),
        (
            ["batch", "hague-2035", "--scheduler", "foo://x:1"],
            ["--scheduler foo://x:1", "unknown address scheme"],
        ),
        (["batch", "hague-2035", "--scheduler", ""], ["--scheduler: empty address"]),
        (["run", "hague-2035", "--out", ""], ["alliance run", "--out: empty path"]),
        (["batch", "hague-2035", "--out", ""], ["alliance batch", "--out: empty path"]),
        (["sweep", "x.toml", "--out", ""], ["alliance sweep", "--out: empty path"]),
        (["validate", "--out", ""], ["alliance validate", "--out: empty path"]),
        (["validate", "--report", ""], ["alliance validate", "--report: empty path"]),
        (["calibrate", "--out", ""], ["alliance calibrate", "--out: empty path"]),
        (["run", "hague-2035", "--data-edition", "1999"], ["--data-edition", "'1999'", "'2026'"]),
        (["batch", "hague-2035", "--data-edition", "2024"], ["--data-edition", "'2024'"]),
        (["validate", "--data-edition", "1999"], ["--data-edition", "'1999'"]),
        (["calibrate", "--data-edition", "ed2026"], ["--data-edition", "'ed2026'"]),
        (["sweep", "x.toml", "--data-edition", "1999"], ["--data-edition", "'1999'"]),
        (["app", "--port", "70000"], ["--port", "65535"]),
        (["app", "--port", "http"], ["--port", "'http'"]),
        (["batch"], ["SCENARIO"]),
        (["run"], ["scenario"]),
        (["bogus"], ["command", "bogus"]),
        ([], ["command"]),
    ],
)
def test_bad_flags_exit_2_with_one_line(tmp_path, capsys, monkeypatch, argv, names):
    """Each bad command line (run or batch) exits 2 with one stderr line, writing nothing."""
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    captured = capsys.readouterr()
    _assert_one_line(captured.err, *names)
    assert captured.out == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'base = "hague-2035"\n[parameters]\nbogus_key = 1\n',
            "bad.toml: parameters.bogus_key: unknown parameter",
        ),
        (
            'base = "hague-2035"\n[parameters]\nadjustment_speed = 5\n',
            "bad.toml: parameters.adjustment_speed: 5 is outside the allowed range [0.05, 1]",
        ),
        (
            'base = "hague-2035"\n[allies.ISL]\nrecruit_rate = 0.1\n',
            "bad.toml: allies.ISL.recruit_rate",
        ),
        ('base = "hague-2035"\n[parameters\n', "bad.toml: not valid TOML"),
        (
            'base = "hague-2035"\nend_year = 2025\n',
            "bad.toml: end_year: must be after start_year 2025, got 2025\n",
        ),
        (
            'base = "hague-2035"\n[allies.POL]\nsovereign_cap_pct = 3.0\n',
            "bad.toml: allies.POL.sovereign_cap_pct: 3 is below Poland's observed 2025 core share "
            "4.25% GDP (2026 data); raise the cap or set core_pct_start\n",
        ),
    ],
)
def test_malformed_scenario_file_exits_2_with_one_line(tmp_path, capsys, text, expected):
    """A bad scenario file exits 2 with one line FILE: FIELD: problem and writes no tables."""
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    _assert_one_line(captured.err)
    assert captured.err.startswith(expected), captured.err
    assert captured.out == ""
    assert not out.exists()


def test_validate_report_naming_a_folder_exits_2_before_running(tmp_path, capsys):
    """--report naming an existing folder: one line naming --report, nothing run or written."""
    folder = tmp_path / "reports"
    folder.mkdir()
    out = tmp_path / "v"
    assert main(["validate", "--report", str(folder), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    _assert_one_line(captured.err, "alliance validate", f"--report {folder}", "is a folder")
    assert captured.out == ""
    assert not out.exists() and list(folder.iterdir()) == []


def test_scenario_file_name_not_utf8_exits_2_with_one_line(tmp_path, capsys, monkeypatch):
    """A scenario file whose name is not UTF-8: one printable line, nothing written."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / os.fsdecode(b"bad\xff.toml")
    try:
        path.write_text('base = "hague-2035"\n', encoding="utf-8")
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system refuses names that are not UTF-8")
    assert main(["run", str(path)]) == 2
    captured = capsys.readouterr()
    _assert_one_line(captured.err, "bad\\xff.toml", "not valid UTF-8")
    assert captured.out == ""
    assert list(tmp_path.iterdir()) == [path]


def test_out_path_not_utf8_exits_2_with_one_line(tmp_path, capsys):
    """--out that is not UTF-8 (pyarrow cannot write there): one line, nothing written."""
    out = tmp_path / os.fsdecode(b"out\xff")
    assert main(["run", "hague-2035", "--out", str(out)]) == 2
    _assert_one_line(capsys.readouterr().err, "--out", "out\\xff", "not valid UTF-8")
    assert list(tmp_path.iterdir()) == []


def test_scenario_named_dot_dot_never_writes_into_the_current_folder(tmp_path, capsys, monkeypatch):
    """A file literally named `...toml` (name "..") is refused: results/.. is the current folder,
    whose manifest.json it used to overwrite."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "path" / "to").mkdir(parents=True)
    (tmp_path / "path" / "to" / "...toml").write_text('base = "hague-2035"\n', encoding="utf-8")
    (tmp_path / "manifest.json").write_text("{}", encoding="utf-8")
    assert main(["run", "path/to/...toml"]) == 2
    captured = capsys.readouterr()
    _assert_one_line(captured.err, "...toml", "no usable scenario name", "'..'")
    assert captured.out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", "path"]
    assert (tmp_path / "manifest.json").read_text(encoding="utf-8") == "{}"


def test_app_listens_on_this_machine_only_unless_asked():
    args = build_parser().parse_args(["app"])
    assert (args.host, args.port) == ("127.0.0.1", 8765)


def test_app_on_a_busy_port_exits_2_with_one_line(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["app", "--port", str(port)]) == 2
    _assert_one_line(capsys.readouterr().err, "alliance app", f"127.0.0.1:{port}", "--port")


def test_app_on_an_unknown_host_exits_2_with_one_line(capsys):
    assert main(["app", "--host", "nowhere.invalid"]) == 2
    _assert_one_line(capsys.readouterr().err, "alliance app", "nowhere.invalid", "--host")


def test_unwritable_out_exits_2_before_running(tmp_path, capsys):
    """--out under a regular file exits 2 with one line naming --out."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    target = blocker / "sub"
    assert main(["run", "hague-2035", "--out", str(target)]) == 2
    captured = capsys.readouterr()
    _assert_one_line(captured.err, "--out", str(target), "not writable")
    assert captured.out == ""
    assert blocker.read_text() == "x"


# --- the installed console script ------------------------------------------------------------


def test_console_script_run_matches_in_process_run(hague7, tmp_path):
    """The installed `alliance` writes the same tables as main() for the same seed."""
    out = tmp_path / "cli"
    done = subprocess.run(
        [_console_script(), "run", "hague-2035", "--seed", "7", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "allies at >= 3.5% core" in done.stdout and "capability gap" in done.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    for in_process, console in zip(_tables(hague7[0]), _tables(out), strict=True):
        pd.testing.assert_frame_equal(in_process, console)
    assert _manifest(out)["scenario"] == _manifest(hague7[0])["scenario"]


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["run", "hague-2035", "--seed", "x"], ["--seed"]),
        (["run", "hague-2035", "--set", "adjustment_speed=9"], ["adjustment_speed"]),
    ],
)
def test_console_script_bad_input_exits_2_without_traceback(tmp_path, argv, names):
    """The installed `alliance` reports bad input on one stderr line with status 2."""
    done = subprocess.run(
        [_console_script(), *argv],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 2
    _assert_one_line(done.stderr, *names)
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_console_script_survives_a_closed_pipe():
    """`alliance parameters | head -1` ends quietly: no BrokenPipeError traceback."""
    done = subprocess.run(
        f"'{_console_script()}' parameters | head -1",
        shell=True,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.stdout.startswith("threat_scale")
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr


# --- alliance batch / alliance query ----------------------------------------------------------


@pytest.fixture(scope="module")
def small_batch(tmp_path_factory):
    """`alliance batch` of 4 replications, serial."""
    out = tmp_path_factory.mktemp("batch") / "b"
    argv = ["batch", "hague-2035", "--replications", "4", "--executor", "serial", "--out", str(out)]
    assert main(argv) == 0
    return out


def test_batch_prints_the_summary_and_writes_the_store(small_batch, capsys):
    """The batch's tables are queryable; re-running it without --resume is refused."""
    assert (small_batch / "manifest.json").is_file()
    assert main(["query", str(small_batch), "SELECT count(*) AS n FROM runs"]) == 0
    assert capsys.readouterr().out.split() == ["n", "4"]
    assert main(["query", str(small_batch), "SELECT year FROM alliance LIMIT 2", "--csv"]) == 0
    assert capsys.readouterr().out == "year\n2025\n2026\n"


def test_batch_summary_lines(tmp_path, capsys):
    """The end-of-batch summary: counts, then median [5%-95%] per scenario."""
    argv = ["batch", "wales-2014", "--replications", "3", "--executor", "serial"]
    assert main([*argv, "--out", str(tmp_path / "w")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("3 runs ok, 0 failed, 0 pending")
    assert "wales-2014 (2025, 3 runs):" in out
    for label in ("allies >= 3.5% core", "capability gap", "mean core % GDP"):
        assert label in out


def test_batch_unwritable_out_exits_2(tmp_path, capsys):
    """--out under a regular file: one line naming --out."""
    (tmp_path / "file").write_text("")
    argv = ["batch", "hague-2035", "--replications", "2", "--out", str(tmp_path / "file" / "b")]
    assert main(argv) == 2
    _assert_one_line(capsys.readouterr().err, "--out", "not writable")


def test_batch_unreachable_scheduler_exits_2_within_seconds(tmp_path, capsys):
    """A scheduler nobody listens on: one line, exit 2, in a few seconds, nothing stored."""
    out = tmp_path / "b"
    tic = time.monotonic()
    argv = ["batch", "hague-2035", "--scheduler", "tcp://127.0.0.1:9", "--out", str(out)]
    assert main(argv) == 2
    assert time.monotonic() - tic < 15
    _assert_one_line(capsys.readouterr().err, "--scheduler", "tcp://127.0.0.1:9", "unreachable")
    assert not out.exists()  # no empty folder with a lock file left behind


@pytest.mark.skipif(
    any(importlib.util.find_spec(m) for m in ("ucp", "ucxx", "distributed_ucxx")),
    reason="UCX is installed here",
)
def test_batch_scheduler_on_a_transport_this_machine_lacks_exits_2(tmp_path, capsys):
    """ucx:// without UCX: one line naming the transport, before anything is written."""
    out = tmp_path / "b"
    argv = ["batch", "hague-2035", "--scheduler", "ucx://127.0.0.1:8786", "--out", str(out)]
    assert main(argv) == 2
    _assert_one_line(capsys.readouterr().err, "--scheduler", "ucx://", "not usable here")
    assert not out.exists()


def test_batch_into_a_run_folder_says_it_holds_a_run(hague7, capsys):
    """--out holding `alliance run` output: one line saying so (not "a different batch"), with or
    without --resume, and the run's files untouched."""
    out = hague7[0]
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    argv = ["batch", "hague-2035", "--replications", "2", "--executor", "serial", "--out", str(out)]
    for extra in ([], ["--resume"]):
        assert main([*argv, *extra]) == 2
        err = capsys.readouterr().err
        _assert_one_line(err, f"--out {out}", "holds a single run (`alliance run` output)")
        assert "not a batch" in err and "different" not in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_batch_resume_checks_the_directory(small_batch, tmp_path, capsys):
    """--resume needs the same batch spec; a batch is never overwritten."""
    base = ["batch", "hague-2035", "--executor", "serial", "--out", str(small_batch)]
    cases = [
        ([*base, "--replications", "5", "--resume"], ["--resume", "different batch spec"]),
        ([*base, "--replications", "4", "--seed", "2", "--resume"], ["different batch spec"]),
        ([*base, "--replications", "4", "--set", "free_riding=0.1", "--resume"], ["different"]),
        ([*base, "--replications", "4"], ["--out", "--resume"]),
        ([*base, "--replications", "5"], ["--out", "different batch"]),
        (
            ["batch", "hague-2035", "--resume", "--out", str(tmp_path / "empty")],
            ["--resume", "no batch"],
        ),
    ]
    for argv, names in cases:
        assert main(argv) == 2, argv
        _assert_one_line(capsys.readouterr().err, *names)
    assert main([*base, "--replications", "4", "--resume"]) == 0


def test_batch_data_edition_reaches_the_runs_and_the_spec(small_batch, tmp_path, capsys):
    """--data-edition 2025 travels inside each scenario: spec.json records it, the runs start
    from it, and --resume refuses the folder under another edition."""
    out = tmp_path / "b25"
    base = ["batch", "hague-2035", "--replications", "2", "--executor", "serial", "--out", str(out)]
    assert main([*base, "--data-edition", "2025"]) == 0
    spec = json.loads((out / "spec.json").read_text())
    assert [d["data_edition"] for d in spec["definitions"]] == ["2025"]
    default_spec = json.loads((small_batch / "spec.json").read_text())
    assert [d["data_edition"] for d in default_spec["definitions"]] == ["2026"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["spec"]["data_editions"] == {"hague-2035": "2025"}
    assert manifest["spec"]["plans"] == {"hague-2035": "national"}
    assert (
        manifest["fingerprint"]
        != json.loads((small_batch / "manifest.json").read_text())["fingerprint"]
    )
    sql = "SELECT core_pct_gdp FROM allies WHERE iso3 = 'DEU' AND year = 2025"
    capsys.readouterr()
    assert main(["query", str(out), sql, "--csv"]) == 0
    assert capsys.readouterr().out.split() == ["core_pct_gdp", "2.4", "2.4"]
    for other in ([], ["--data-edition", "2026"]):
        assert main([*base, *other, "--resume"]) == 2
        _assert_one_line(capsys.readouterr().err, "--resume", "different batch spec")
    assert main([*base, "--data-edition", "2025", "--resume"]) == 0


@pytest.mark.parametrize(
    ("sql", "names"),
    [
        ("SELECT nope FROM allies", ["query failed", "nope"]),
        ("DROP TABLE x; garbage", ["query failed"]),
    ],
)
def test_query_bad_sql_exits_2(small_batch, capsys, sql, names):
    """Bad SQL: one line, exit 2."""
    assert main(["query", str(small_batch), sql]) == 2
    _assert_one_line(capsys.readouterr().err, *names)


def test_query_on_a_non_batch_folder_exits_2(tmp_path, capsys):
    """A folder with no finished runs: one line, exit 2."""
    assert main(["query", str(tmp_path), "SELECT 1"]) == 2
    _assert_one_line(capsys.readouterr().err, "alliance query", "no finished runs")


def test_query_a_sweep_folder_or_its_store(tmp_path, capsys):
    """`alliance query` takes a sweep's folder or its runs store: samples and point_outputs
    (samples.parquet, outputs.parquet) beside the store's tables; a sweep folder without them
    is one line, exit 2."""
    spec = tmp_path / "g.toml"
    spec.write_text(
        'description = "query"\nscenario = "hague-2035"\ndesign = "grid"\nreplications = 2\n'
        "seed = 3\n[parameters]\nthreat_scale = { values = [0.7, 1.3] }\n[[outputs]]\n"
        'name = "gap"\ncolumn = "capability_gap"\n'
    )
    out = tmp_path / "sweep"
    argv = ["sweep", str(spec), "--out", str(out), "--executor", "serial", "--no-progress"]
    assert main(argv) == 0
    capsys.readouterr()
    samples = pd.read_parquet(out / "samples.parquet")
    gap = pd.read_parquet(out / "outputs.parquet")["mean"]
    sql = (
        "SELECT s.sample, s.threat_scale, p.mean, count(*) AS runs FROM samples s "
        "JOIN point_outputs p USING (sample) JOIN outputs o USING (sample) GROUP BY ALL ORDER BY 1"
    )
    for folder in (out, out / "runs"):
        assert main(["query", str(folder), sql, "--csv"]) == 0
        table = pd.read_csv(io.StringIO(capsys.readouterr().out))
        assert table["threat_scale"].tolist() == samples["threat_scale"].tolist() == [0.7, 1.3]
        assert table["mean"].to_numpy() == pytest.approx(gap.to_numpy(), rel=1e-12)
        assert table["runs"].tolist() == [2, 2]
    assert main(["query", str(out), "COPY samples TO 'x.csv'"]) == 2
    _assert_one_line(capsys.readouterr().err, "alliance query", "refused", "COPY")
    (out / "samples.parquet").unlink()
    assert main(["query", str(out), "SELECT 1"]) == 2
    _assert_one_line(capsys.readouterr().err, "alliance query", "samples.parquet", "--resume")
    help_text = build_parser()._subparsers._group_actions[0].choices["query"].format_help()
    for name in ("sweep folder", "samples", "point_outputs", "outputs.parquet"):
        assert name in " ".join(help_text.split()), name


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (None, ["no such policy-search spec"]),
        ('scenario = "hague-2035"\n[levers]\nbogus = { range = [0, 1] }\n', ["levers.bogus"]),
        ("[levers\n", ["not valid TOML"]),
    ],
)
def test_optimize_bad_spec_exits_2_in_one_line(tmp_path, capsys, text, words):
    """`alliance optimize` refuses a missing or bad spec in one line naming the field."""
    spec = tmp_path / "p.toml"
    if text is not None:
        spec.write_text(text)
    assert main(["optimize", str(spec), "--out", str(tmp_path / "o")]) == 2
    _assert_one_line(capsys.readouterr().err, "alliance optimize", *words)
    assert not (tmp_path / "o").exists()


def test_calibrate_abc_writes_a_posterior_the_project_can_read(tmp_path, capsys):
    """`alliance calibrate --method abc` (tiny budget) writes a file read_posterior accepts."""
    from sim.posterior import read_posterior

    out = tmp_path / "posterior.toml"
    argv = ["calibrate", "--method", "abc", "--particles", "12", "--generations", "2"]
    assert (
        main(
            [
                *argv,
                "--replications",
                "2",
                "--fit",
                "free_riding,adjustment_speed",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    posterior = read_posterior(out)
    assert posterior.names == ("free_riding", "adjustment_speed") and len(posterior.samples) == 12
    assert posterior.metadata["command"].startswith("alliance calibrate --method abc")
    printed = capsys.readouterr().out
    assert "90% credible interval" in printed and f"Written: {out}" in printed


def test_a_bad_posterior_file_stops_forecasts_in_one_line(tmp_path, capsys, monkeypatch):
    """--uncertainty posterior with an unusable posterior file: one line, exit 2."""
    bad = tmp_path / "posterior.toml"
    bad.write_text("date = [\n")
    monkeypatch.setattr("sim.uncertainty.posterior_file", lambda: bad)
    monkeypatch.setattr("sim.posterior.posterior_file", lambda: bad)
    argv = ["run", "hague-2035", "--uncertainty", "posterior", "--out", str(tmp_path / "r")]
    assert main(argv) == 2
    _assert_one_line(capsys.readouterr().err, "alliance run", "--uncertainty", str(bad))


def test_a_bad_posterior_file_stops_validate_in_one_line_naming_the_file(
    tmp_path, capsys, monkeypatch
):
    """validate reads the project's posterior for its 2025 step; it has no --uncertainty flag."""
    bad = tmp_path / "posterior.toml"
    bad.write_text("date = [\n")
    monkeypatch.setattr("sim.uncertainty.posterior_file", lambda: bad)
    monkeypatch.setattr("sim.posterior.posterior_file", lambda: bad)
    for extra in ([], ["--rolling"]):
        out = tmp_path / f"val{len(extra)}"
        assert main(["validate", "--out", str(out), "--replications", "2", *extra]) == 2
        err = capsys.readouterr().err
        _assert_one_line(err, "alliance validate", str(bad))
        assert "--uncertainty" not in err and not out.exists()


def test_a_bad_calibration_file_stops_calibrate_in_one_line_but_not_query(
    tmp_path, capsys, monkeypatch
):
    """calibrate's hindcasts load scenarios, which refuse the file; a query never reads it."""
    from sim.parameters import CalibrationFileError

    bad = CalibrationFileError("scenarios/calibration.toml", "parameters", "missing or empty table")
    monkeypatch.setattr("sim.parameters._CALIBRATION_PROBLEM", bad)
    out = tmp_path / "cal.toml"
    argv = ["calibrate", "--generations", "1", "--population", "1", "--replications", "1"]
    assert main([*argv, "--workers", "1", "--out", str(out)]) == 2
    _assert_one_line(capsys.readouterr().err, "calibration.toml", "missing or empty table")
    assert not out.exists()
    assert main(["query", str(tmp_path), "SELECT 1"]) == 2  # not a store: the store says so
    err = capsys.readouterr().err
    assert err.startswith("alliance query:") and "calibration.toml" not in err


def test_the_readme_batch_table_lists_every_batch_option_and_help_shows_defaults():
    """The README's batch options table and `alliance batch --help` describe the same flags;
    every option that takes a value says its default in --help."""
    batch = build_parser()._subparsers._group_actions[0].choices["batch"]
    flags = {a.option_strings[-1] for a in batch._actions if a.option_strings} - {"--help"}
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = readme.split("| option | default | meaning |", 1)[1].split("\n\n", 1)[0]
    listed = set(re.findall(r"^\| `(--[a-z-]+)", table, flags=re.MULTILINE))
    assert listed == flags
    for action in batch._actions:
        if action.option_strings and action.nargs != 0 and "--set" not in action.option_strings:
            assert "default" in action.help, action.option_strings


def test_validate_resume_goes_with_rolling_and_its_own_settings(tmp_path, capsys):
    """--resume without --rolling, or over a check made with other settings: one line, exit 2."""
    out = tmp_path / "v"
    assert main(["validate", "--resume", "--out", str(out)]) == 2
    _assert_one_line(capsys.readouterr().err, "alliance validate", "--resume goes with --rolling")
    kept = out / "rolling"
    kept.mkdir(parents=True)
    (kept / "settings.json").write_text('{"seed": 1}')
    assert main(["validate", "--rolling", "--resume", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    _assert_one_line(captured.err, "alliance validate", f"{kept} holds a check made with other")
    assert "seed" in captured.err and "run without --resume" in captured.err
    assert sorted(p.name for p in out.rglob("*")) == ["rolling", "settings.json"]


def test_validate_estimates_the_simulations_it_will_run(tmp_path, capsys, monkeypatch):
    """The hindcast, the 2025 step and its hindsight run, plus posterior draws with a posterior."""
    from sim.limits import LimitError

    seen = []

    def refuse(runs, **kind):
        seen.append(runs)
        raise LimitError("refused here")

    monkeypatch.setattr("sim.cli.estimate", refuse)
    argv = ["validate", "--out", str(tmp_path / "v"), "--replications", "5"]
    assert main(argv) == 2
    monkeypatch.setattr("sim.uncertainty.posterior_file", lambda: tmp_path / "none.toml")
    monkeypatch.setattr("sim.posterior.posterior_file", lambda: tmp_path / "none.toml")
    assert main(argv) == 2
    assert seen == [20, 15]
    assert "refused here" in capsys.readouterr().err and not (tmp_path / "v").exists()
