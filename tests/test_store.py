"""The batch store: read-only queries, verifying parts on resume, the folder lock."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from sim.batch import BatchResult, run_batch
from sim.cli import main
from sim.store import LOCK, BatchStore, StoreError

REPO = Path(__file__).resolve().parent.parent
RUNS, SEED, CHUNK = 6, 5, 2
"""The batch of these tests: hague-2035 x 6 runs in chunks of 2 (chunks 000-000000{0,2,4})."""
YEARS = 11


def _batch(out: Path, **options) -> BatchResult:
    return run_batch(
        ["hague-2035"], RUNS, SEED, executor="serial", out=out, chunk_size=CHUNK, **options
    )


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Path:
    """A finished batch, never modified (copy it to damage it)."""
    out = tmp_path_factory.mktemp("store") / "b"
    _batch(out)
    return out


@pytest.fixture
def copy(batch, tmp_path) -> Path:
    """A copy of the finished batch to damage."""
    return Path(shutil.copytree(batch, tmp_path / "copy"))


def _part(root: Path, table: str, chunk: str) -> Path:
    return root / table / f"part-{chunk}.parquet"


def _damage(root: Path) -> list[str]:
    """Truncate chunk 0's runs part; make chunk 2's allies part empty. Returns their ids."""
    runs = _part(root, "runs", "000-0000000")
    runs.write_bytes(runs.read_bytes()[: runs.stat().st_size // 2])
    _part(root, "allies", "000-0000002").write_bytes(b"")
    return ["000-0000000", "000-0000002"]


def _tables(root: Path) -> dict[str, pd.DataFrame]:
    result = BatchResult(root)
    tables = {"allies": result.allies, "alliance": result.alliance, "runs": result.runs}
    tables["runs"] = tables["runs"].drop(columns="duration_s")
    keys = ["run_key", "year", "iso3"]
    return {
        name: t.sort_values([k for k in keys if k in t]).reset_index(drop=True)
        for name, t in tables.items()
    }


def _files(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root``: (inode, mtime), to show what was (re)written."""
    return {
        str(p.relative_to(root)): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }


def _one_line(exc: pytest.ExceptionInfo, *names: str) -> str:
    message = str(exc.value)
    assert "\n" not in message and "Traceback" not in message, message
    for name in names:
        assert name in message, (name, message)
    return message


# --- read-only queries --------------------------------------------------------------------------


def test_query_selects_over_the_views(batch, monkeypatch):
    """SELECTs (joins, PIVOT, DESCRIBE) work over the views, with a relative batch path too."""
    monkeypatch.chdir(batch.parent)
    store = BatchStore(batch.name)
    counts = store.query(
        "SELECT r.status, count(*) AS n FROM alliance a JOIN runs r USING (run_key) "
        "GROUP BY r.status"
    )
    assert counts.to_dict("records") == [{"status": "ok", "n": RUNS * YEARS}]
    pivot = store.query("SELECT * FROM (PIVOT runs ON status USING count(*))")
    assert pivot["ok"].sum() == RUNS
    assert "iso3" in store.query("DESCRIBE allies")["column_name"].tolist()
    assert store.query("SELECT 1 AS a; SELECT 2 AS b").to_dict("records") == [{"b": 2}]


@pytest.mark.parametrize(
    ("sql", "names"),
    [
        ("COPY (SELECT 1) TO '{outside}/x.csv'", ["query refused", "COPY"]),
        ("COPY alliance TO '{root}/alliance.csv'", ["query refused", "COPY"]),
        ("COPY (SELECT 1 AS x) TO '{runs_part}' (FORMAT parquet)", ["query refused", "COPY"]),
        ("SELECT 1; COPY (SELECT 1) TO '{root}/x.csv'", ["query refused", "COPY"]),
        ("EXPORT DATABASE '{root}/export'", ["query refused", "EXPORT"]),
        ("SELECT * FROM query('COPY (SELECT 1) TO ''{root}/x.csv''')", ["query failed"]),
        ("SELECT * FROM read_csv('/etc/passwd')", ["query failed", "/etc/passwd"]),
        (
            "SELECT * FROM read_parquet('{outside}/other.parquet')",
            ["query failed", "other.parquet"],
        ),
        ("SELECT * FROM read_text('{root}/manifest.json')", ["query failed", "manifest.json"]),
        ("SELECT * FROM glob('/etc/*')", ["query failed", "/etc/*"]),
        ("SELECT * FROM 'https://example.com/x.parquet'", ["query failed", "example.com"]),
        ("INSTALL httpfs", ["query refused", "LOAD"]),
        ("LOAD httpfs", ["query refused", "LOAD"]),
        ("ATTACH '{outside}/db.duckdb' AS d", ["query refused", "ATTACH"]),
        ("ATTACH ':memory:' AS m", ["query refused", "ATTACH"]),
        ("SET enable_external_access = true", ["query refused", "SET"]),
        ("RESET lock_configuration", ["query refused", "SET"]),
        ("CREATE TABLE t AS SELECT 1", ["query refused", "CREATE"]),
        ("SELEC 1", ["query failed", "syntax error"]),
        ("SELECT nope FROM allies", ["query failed", "nope"]),
    ],
)
def test_query_refuses_what_is_not_reading_the_batch(batch, tmp_path, sql, names):
    """Writes, other files, extensions, attachments and settings: one-line StoreError."""
    outside = tmp_path / "outside"
    outside.mkdir()
    pd.DataFrame({"x": [1]}).to_parquet(outside / "other.parquet")
    before = _files(batch)
    runs_part = _part(batch, "runs", "000-0000000")
    with pytest.raises(StoreError) as exc:
        BatchStore(batch).query(sql.format(root=batch, outside=outside, runs_part=runs_part))
    _one_line(exc, *names)
    assert _files(batch) == before
    assert sorted(p.name for p in outside.iterdir()) == ["other.parquet"]


@pytest.mark.parametrize("sql", ["", "  ", ";", "-- x", "/* nothing */ ;"])
def test_query_without_a_statement(batch, sql):
    """No SQL statement: one-line StoreError."""
    with pytest.raises(StoreError) as exc:
        BatchStore(batch).query(sql)
    assert _one_line(exc) == "query: no SQL statement"


@pytest.mark.parametrize(
    "sql",
    [
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "RESET allowed_paths",
        "SET autoload_known_extensions = true",
        "INSTALL httpfs",
        "LOAD httpfs",
        "COPY (SELECT 1) TO '{tmp}/x.csv'",
        "ATTACH '{tmp}/db.duckdb'",
        "SELECT * FROM read_csv('/etc/passwd')",
    ],
)
def test_connection_is_locked_down_by_duckdb(batch, tmp_path, sql):
    """Without the statement check, DuckDB's own settings refuse these on ``connect()``."""
    con = BatchStore(batch).connect()
    try:
        with pytest.raises(duckdb.Error):
            con.execute(sql.format(tmp=tmp_path))
        assert con.execute("SELECT count(*) FROM runs").fetchone() == (RUNS,)
    finally:
        con.close()
    assert list(tmp_path.iterdir()) == []


# --- a sweep's folder ---------------------------------------------------------------------------

SWEEP_SPEC = """
description = "a 2 x 3 grid to query"
scenario = "hague-2035"
design = "grid"
replications = 3
seed = 5

[parameters]
threat_scale = { values = [0.8, 1.2] }
recruit_rate = { values = [0.02, 0.05, 0.08] }

[[outputs]]
name = "allies_ge_3_5pct_core_2035"
column = "allies_ge_3_5pct_core"
year = 2035

[[outputs]]
name = "germany_personnel_k_2035"
column = "personnel_k"
ally = "DEU"
year = 2035
"""
POINTS, REPLICATIONS, OUTPUTS = 6, 3, 2
SPEARMAN = """
WITH m AS (
  SELECT * FROM samples JOIN point_outputs USING (sample)
  WHERE output = 'allies_ge_3_5pct_core_2035'
),
long AS (
  UNPIVOT m ON COLUMNS(* EXCLUDE (sample, output, mean, sd, min, max, runs))
  INTO NAME parameter VALUE value
),
ranked AS (
  SELECT parameter,
    rank() OVER (PARTITION BY parameter ORDER BY value)
      + (count(*) OVER (PARTITION BY parameter, value) - 1) / 2 AS x,
    rank() OVER (PARTITION BY parameter ORDER BY mean)
      + (count(*) OVER (PARTITION BY parameter, mean) - 1) / 2 AS y
  FROM long
)
SELECT parameter, corr(x, y) AS spearman FROM ranked GROUP BY parameter ORDER BY parameter
"""
"""Spearman over the design points (average ranks for ties), as in experiments/README.md."""


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """A finished sweep's folder (6 points x 3 runs, outputs kept), never modified."""
    from sim.experiment import load_experiment
    from sim.sweep import run_sweep

    tmp = tmp_path_factory.mktemp("sweep")
    (tmp / "grid.toml").write_text(SWEEP_SPEC)
    return run_sweep(load_experiment(tmp / "grid.toml"), tmp / "out", executor="serial").out


@pytest.mark.parametrize("where", ["folder", "runs"])
def test_query_a_sweep_joins_its_samples_outputs_and_runs(sweep, where):
    """A sweep's folder, or its store, has views of samples.parquet and outputs.parquet too."""
    store = BatchStore.for_query(sweep if where == "folder" else sweep / "runs")
    assert store.root == sweep / "runs" and set(store.views) == {"samples", "point_outputs"}
    joined = store.query(
        "SELECT s.*, p.output, p.mean, p.min, p.runs FROM samples s "
        "JOIN point_outputs p USING (sample) ORDER BY p.output, s.sample"
    )
    assert len(joined) == POINTS * OUTPUTS and (joined["runs"] == REPLICATIONS).all()
    samples = pd.read_parquet(sweep / "samples.parquet")
    outputs = pd.read_parquet(sweep / "outputs.parquet")
    assert len(samples) == POINTS and sorted(samples["threat_scale"].unique()) == [0.8, 1.2]
    for _, table in joined.groupby("output"):
        pd.testing.assert_frame_equal(table[samples.columns].reset_index(drop=True), samples)
    want = outputs.sort_values(["output", "sample"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        joined[want.columns.drop(["sd", "max"])], want.drop(columns=["sd", "max"])
    )

    by_threat = store.query(
        "SELECT s.threat_scale, count(*) AS n, count(DISTINCT r.seed) AS seeds FROM samples s "
        "JOIN runs r USING (sample) WHERE r.status = 'ok' GROUP BY ALL ORDER BY 1"
    )
    runs = POINTS // 2 * REPLICATIONS
    assert by_threat.values.tolist() == [[0.8, runs, runs], [1.2, runs, runs]]
    per_run = store.query(
        "SELECT p.mean, o.m FROM point_outputs p JOIN (SELECT sample, avg(germany_personnel_k_2035)"
        " AS m FROM outputs GROUP BY sample) o USING (sample) "
        "WHERE p.output = 'germany_personnel_k_2035'"
    )
    assert len(per_run) == POINTS and per_run["mean"].tolist() == per_run["m"].tolist()


def test_the_spearman_query_gives_pandas_rank_correlations(sweep):
    """The rank correlation of experiments/README.md: pandas' Spearman (average ranks)."""
    got = BatchStore.for_query(sweep).query(SPEARMAN).set_index("parameter")["spearman"]
    samples = pd.read_parquet(sweep / "samples.parquet")
    outputs = pd.read_parquet(sweep / "outputs.parquet")
    y = outputs[outputs["output"] == "allies_ge_3_5pct_core_2035"].set_index("sample")["mean"]
    want = samples.set_index("sample").corrwith(y, method="spearman")
    assert got.index.tolist() == ["recruit_rate", "threat_scale"]
    assert got.to_numpy() == pytest.approx(want[got.index].to_numpy(), abs=1e-12)
    assert got["threat_scale"] > 0.2  # not a degenerate sweep: the threat moves the count


@pytest.mark.parametrize(
    ("sql", "names"),
    [
        ("SELECT * FROM read_parquet('{root}/series.parquet')", ["query failed", "series"]),
        ("SELECT * FROM read_parquet('{outside}/other.parquet')", ["query failed", "other"]),
        ("SELECT * FROM read_text('{root}/experiment.toml')", ["query failed", "experiment"]),
        ("COPY samples TO '{root}/samples.csv'", ["query refused", "COPY"]),
        ("COPY (SELECT 1 AS x) TO '{root}/outputs.parquet' (FORMAT parquet)", ["COPY"]),
        ("SELECT 1; COPY point_outputs TO '{outside}/x.csv'", ["query refused", "COPY"]),
        ("CREATE VIEW v AS SELECT * FROM samples", ["query refused", "CREATE"]),
        ("SET allowed_paths = ['{root}/series.parquet']", ["query refused", "SET"]),
    ],
)
@pytest.mark.parametrize("where", ["folder", "runs"])
def test_query_a_sweep_stays_read_only(sweep, tmp_path, where, sql, names):
    """The sweep's views add its two files and nothing else: other files, writes and settings
    are refused as in a batch."""
    outside = tmp_path / "outside"
    outside.mkdir()
    pd.DataFrame({"x": [1]}).to_parquet(outside / "other.parquet")
    before = _files(sweep)
    store = BatchStore.for_query(sweep if where == "folder" else sweep / "runs")
    with pytest.raises(StoreError) as exc:
        store.query(sql.format(root=sweep, outside=outside))
    _one_line(exc, *names)
    assert _files(sweep) == before
    assert sorted(p.name for p in outside.iterdir()) == ["other.parquet"]
    con = store.connect()  # and DuckDB itself refuses, without the statement check
    try:
        for refused in (
            f"SELECT * FROM read_parquet('{sweep}/series.parquet')",
            f"COPY samples TO '{tmp_path}/x.csv'",
            "SET enable_external_access = true",
        ):
            with pytest.raises(duckdb.Error):
                con.execute(refused)
        assert con.execute("SELECT count(*) FROM samples").fetchone() == (POINTS,)
    finally:
        con.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outside"]


def test_a_batch_folder_has_no_sweep_views(batch):
    """A batch is queried as before: its three tables, no samples or point_outputs."""
    store = BatchStore.for_query(batch)
    assert (
        store.root == batch and store.views == {} and store.tables == ("allies", "alliance", "runs")
    )
    assert store.query("SELECT count(*) AS n FROM runs")["n"].tolist() == [RUNS]
    for view in ("samples", "point_outputs"):
        with pytest.raises(StoreError) as exc:
            store.query(f"SELECT * FROM {view}")
        _one_line(exc, "query failed", view)


def test_a_sweep_cut_off_before_its_analysis(sweep, tmp_path):
    """Without outputs.parquet the folder is refused in one line naming it; its store is
    queried as before, without the sweep's views."""
    cut = Path(shutil.copytree(sweep, tmp_path / "cut"))
    (cut / "outputs.parquet").unlink()
    with pytest.raises(StoreError) as exc:
        BatchStore.for_query(cut)
    _one_line(exc, str(cut), "outputs.parquet", "--resume", str(cut / "runs"))
    store = BatchStore.for_query(cut / "runs")
    assert store.views == {}
    n = store.query("SELECT count(*) AS n FROM runs")["n"].item()
    assert n == POINTS * REPLICATIONS


# --- verifying parts ----------------------------------------------------------------------------


def test_verify_chunks_keeps_a_sound_batch(copy):
    """Nothing is removed from a finished batch."""
    before = _files(copy)
    store = BatchStore(copy)
    assert store.verify_chunks(dict.fromkeys(store.done_chunks(), CHUNK)) == []
    assert _files(copy) == before


def test_verify_chunks_removes_damaged_chunks(batch, copy, tmp_path):
    """Truncated, empty, missing and short parts, and a runs part of the wrong size."""
    store = BatchStore(copy)
    damaged = _damage(copy)
    alliance = _part(copy, "alliance", "000-0000004")
    pq.write_table(pq.read_table(alliance).slice(1), alliance)  # a row short
    assert store.verify_chunks() == [*damaged, "000-0000004"]
    assert store.done_chunks() == set()
    assert sorted(p.name for p in copy.rglob("*.parquet")) == []

    fresh = Path(shutil.copytree(batch, tmp_path / "fresh"))
    _part(fresh, "allies", "000-0000002").unlink()  # missing though its runs are ok
    assert BatchStore(fresh).verify_chunks({"000-0000000": 3}) == ["000-0000000", "000-0000002"]
    assert BatchStore(fresh).done_chunks() == {"000-0000004"}


def test_verify_chunks_accepts_chunks_whose_runs_all_failed(copy):
    """A chunk with no ok run has no allies or alliance part: that is sound."""
    runs = _part(copy, "runs", "000-0000004")
    table = pq.read_table(runs).to_pandas()
    table["status"] = "failed"
    table.to_parquet(runs, index=False)
    for name in ("allies", "alliance"):
        _part(copy, name, "000-0000004").unlink()
    assert BatchStore(copy).verify_chunks() == []


def test_query_names_a_damaged_part(copy, capsys):
    """``query`` and ``alliance query``: one line naming the part and suggesting --resume."""
    _damage(copy)
    with pytest.raises(StoreError) as exc:
        BatchStore(copy).query("SELECT count(*) FROM runs")
    message = _one_line(exc, "damaged part", "and 1 more", "--resume")
    parts = [_part(copy, "runs", "000-0000000"), _part(copy, "allies", "000-0000002")]
    assert message.startswith((f"{parts[0]}: ", f"{parts[1]}: ")), message
    assert main(["query", str(copy), "SELECT count(*) FROM allies"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "alliance query" in err and "--resume" in err and "part-000-000000" in err


def test_resume_redoes_exactly_the_damaged_chunks(batch, copy):
    """--resume rewrites the damaged chunks only; the tables equal an uninterrupted batch's."""
    damaged = _damage(copy)
    before = _files(copy)
    _batch(copy, resume=True)
    after = _files(copy)
    redone = {p for p in after if before.get(p) != after[p] and p.endswith(".parquet")}
    assert redone == {
        f"{t}/part-{c}.parquet" for c in damaged for t in ("allies", "alliance", "runs")
    }
    for name, table in _tables(batch).items():
        pd.testing.assert_frame_equal(_tables(copy)[name], table, check_exact=True, obj=name)
    assert BatchResult(copy).manifest["status"] == {
        "runs": RUNS, "ok": RUNS, "failed": 0, "pending": 0
    }  # fmt: skip


# --- the folder lock ----------------------------------------------------------------------------


def test_lock_refuses_a_second_command(copy, tmp_path):
    """While the folder is locked, run_batch raises and writes nothing; after release it runs."""
    fresh = tmp_path / "fresh"
    with BatchStore(fresh).lock():
        with pytest.raises(StoreError) as exc:
            _batch(fresh)
        _one_line(exc, str(fresh), "in use by another alliance command", f"pid {os.getpid()}")
        assert [p.name for p in fresh.iterdir()] == [LOCK]
    _damage(copy)
    with BatchStore(copy).lock():
        before = _files(copy)
        with pytest.raises(StoreError, match="in use"):
            _batch(copy, resume=True)
        assert _files(copy) == before
    assert len(_batch(fresh).runs) == RUNS
    _batch(copy, resume=True)
    assert BatchStore(copy).done_chunks() == BatchStore(fresh).done_chunks()


def test_lock_is_released_when_its_process_dies(tmp_path):
    """Another process holds the lock (its pid is named); killed with -9, it holds it no more."""
    script = (
        "import sys, time; from sim.store import BatchStore\n"
        "with BatchStore(sys.argv[1]).lock():\n    print('locked', flush=True); time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline() == "locked\n"
        held = f"in use by another alliance command \\(pid {proc.pid}\\)"
        with pytest.raises(StoreError, match=held), BatchStore(tmp_path).lock():
            pass
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    with BatchStore(tmp_path).lock():
        assert (tmp_path / LOCK).read_text() == f"{os.getpid()}\n"


def test_a_folder_written_between_the_checks_and_the_lock_is_refused(tmp_path):
    store = BatchStore(tmp_path / "b")
    store.write_manifest({"fingerprint": "a"})
    store.check_unchanged({"fingerprint": "a"})
    with pytest.raises(StoreError, match="changed by another alliance command"):
        store.check_unchanged(None)


@pytest.mark.parametrize("existed", [False, True])
def test_a_command_that_wrote_nothing_leaves_no_trace(tmp_path, existed):
    """A failure before anything is written (say, an unreachable scheduler) removes the lock
    file, and the folder too when the command made it; a folder the user made stays."""
    out = tmp_path / "out"
    if existed:
        out.mkdir()
    store = BatchStore(out)
    store.check_writable()
    with pytest.raises(RuntimeError), store.lock():
        assert (out / LOCK).is_file()
        raise RuntimeError("scheduler unreachable")
    assert out.is_dir() == existed
    assert not existed or list(out.iterdir()) == []


def test_a_command_that_wrote_something_keeps_its_folder(tmp_path):
    """Once anything is written, the folder and its files stay after the lock is released."""
    store = BatchStore(tmp_path / "out")
    store.check_writable()
    with store.lock():
        store.write_manifest({"status": {}})
    assert (tmp_path / "out" / "manifest.json").is_file()
