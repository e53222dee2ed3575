"""A batch's results on disk: a Parquet dataset that survives interruption, queried with DuckDB.

Layout of a batch directory::

    manifest.json                 batch spec, root seed, versions, git commit, status counts
    allies/part-<chunk>.parquet   one row per run, year and ally
    alliance/part-<chunk>.parquet one row per run and year
    runs/part-<chunk>.parquet     one row per run: seed, spawn key, status, error, duration

Each file is written under a temporary name and renamed into place; a chunk's ``runs`` part is
written last, so a chunk counts as done exactly when its ``runs`` part exists. Parts of a chunk
cut off before that are ignored by readers and rewritten on resume, and so are done chunks whose
parts turn out unreadable or inconsistent (``verify_chunks``). A command that writes holds
``.lock`` (``lock``); queries are read-only and see only the batch's own finished parts.

A sweep's folder (``sim.sweep``) holds its store in ``runs/`` beside ``samples.parquet`` and
``outputs.parquet``; ``BatchStore.for_query`` opens either folder with views of those two as well
(``SWEEP_VIEWS``).
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

TABLES = ("allies", "alliance", "runs")
"""The tables of a batch, written in this order for each chunk (``runs`` marks it done)."""
MANIFEST = "manifest.json"
SPEC = "spec.json"
"""The batch spec with every scenario fully resolved, written once (the manifest, rewritten after
every chunk, keeps a summary so that sweeps of thousands of design points stay cheap)."""
LOCK = ".lock"
"""Held (``flock``) by the command writing the batch; holds its pid."""
OUTCOME = ("status", "error", "duration_s")
"""Columns of ``runs`` that describe how a run went, not which run it is."""
READ_ONLY = (duckdb.StatementType.SELECT, duckdb.StatementType.MULTI)
"""Statements a query may hold (DuckDB makes ``MULTI`` of a ``PIVOT`` only: a type + a SELECT)."""
SWEEP_VIEWS = {"samples": "samples.parquet", "point_outputs": "outputs.parquet"}
"""Views of a sweep folder's files, beside its store's tables (whose ``outputs`` is per run)."""


class StoreError(Exception):
    """A batch directory cannot be used as asked (reported as one line)."""


def atomic_write(path: Path, write) -> None:
    """Write ``path`` through a temporary file in the same folder, then rename it into place.

    Args:
        path: The file to create or replace.
        write: Called with the temporary file's path to fill it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _put(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def encode(table: pd.DataFrame) -> bytes | None:
    """A table as Parquet bytes, or None when it has no rows (nothing to write).

    zstd level 1, dictionary encoding for keys only (floats gain nothing from it but time).
    """
    if table.empty:
        return None
    sink = pa.BufferOutputStream()
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    keys = [f.name for f in arrow.schema if not pa.types.is_floating(f.type)]
    pq.write_table(arrow, sink, compression="zstd", compression_level=1, use_dictionary=keys)
    return sink.getvalue().to_pybytes()


def _rows_agree(part: pa.Table, runs: pa.Table, keys: list[str]) -> bool:
    """Whether ``part`` has the same number of rows for each of ``runs``' ``keys``, and no other."""
    if not keys:
        return (part.num_rows > 0) == (runs.num_rows > 0)
    counts = part.group_by(keys).aggregate([([], "count_all")])
    got = {tuple(row.values()) for row in counts.select(keys).to_pylist()}
    want = {tuple(row.values()) for row in runs.select(keys).to_pylist()}
    return got == want and len(set(counts["count_all"].to_pylist())) <= 1


def check_writable(folder: Path, flag: str = "--out") -> None:
    """Create ``folder`` and prove it is writable, or raise ``StoreError`` naming ``flag``."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(folder / ".write-test", lambda tmp: Path(tmp).write_text(""))
        (folder / ".write-test").unlink()
    except OSError as exc:
        raise StoreError(f"{flag} {folder}: not writable ({exc.strerror})") from None


def part_name(chunk: str) -> str:
    """File name of a chunk's part in every table."""
    return f"part-{chunk}.parquet"


class BatchStore:
    """The results directory of one batch.

    Args:
        root: The batch directory.
        tables: Its tables, ``runs`` last (default: those its manifest names, else ``TABLES``).
        views: More Parquet files for queries to read, by view name (see ``for_query``).
    """

    def __init__(
        self,
        root: str | Path,
        tables: tuple[str, ...] | None = None,
        views: Mapping[str, Path] | None = None,
    ):
        """Point at ``root`` (nothing is created until something is written)."""
        self.root = Path(root)
        if tables is None:
            manifest = self.read_manifest()
            tables = tuple(manifest.get("tables", TABLES)) if manifest else TABLES
        self.tables = tables
        self.views = dict(views or {})
        self._created = False

    @classmethod
    def for_query(cls, folder: str | Path) -> BatchStore:
        """The store to query in ``folder``: a batch, or a sweep's folder or its ``runs`` store.

        A sweep's folder holds its store's manifest in ``runs/``; its store gets ``SWEEP_VIEWS``.

        Raises:
            StoreError: A sweep folder without them (the sweep was cut off or not analysed).
        """
        folder = Path(folder)
        sweep = folder.parent if folder.name == "runs" and (folder / MANIFEST).is_file() else folder
        views = {name: sweep / file for name, file in SWEEP_VIEWS.items()}
        missing = [f.name for f in views.values() if not f.is_file()]
        if sweep == folder and (folder / "runs" / MANIFEST).is_file():
            if missing:
                raise StoreError(
                    f"{folder}: a sweep without {missing[0]} (complete it with `alliance sweep "
                    f"--resume`, or query its runs: {folder / 'runs'})"
                )
            return cls(folder / "runs", views=views)
        return cls(folder, views=None if missing or sweep == folder else views)

    def check_writable(self) -> None:
        """Create the directory and prove it is writable, or raise ``StoreError``."""
        self._created = self._created or not self.root.exists()
        check_writable(self.root)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the directory for this process, or raise ``StoreError`` if another holds it.

        An exclusive, non-blocking ``flock`` on ``.lock`` (which records the holder's pid); the
        kernel releases it when the process ends, however it ends. A command that wrote nothing
        leaves no ``.lock`` (nor the directory, if it made it).
        """
        path = self.root / LOCK
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"{path}: cannot lock ({exc.strerror})") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                raise StoreError(
                    f"{self.root}: in use by another alliance command (pid {pid})"
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            try:
                yield
            finally:
                self._discard_if_empty(path)
        finally:
            os.close(fd)  # releases the lock

    def _discard_if_empty(self, lock: Path) -> None:
        """Leave no trace of a command that wrote nothing (say, its scheduler was unreachable).

        Called while holding the lock: if the directory holds only ``lock``, it goes, and so does
        the directory if this command created it.
        """
        if [p.name for p in self.root.iterdir()] != [lock.name]:
            return
        lock.unlink()
        if self._created:
            self.root.rmdir()

    def check_start(
        self,
        old: dict[str, Any] | None,
        fingerprint: str,
        resume: bool,
        what: str,
        hint: str,
        folder: Path | None = None,
    ) -> None:
        """Refuse to resume nothing, to resume something else, or to start over a finished one.

        Args:
            old: The folder's manifest (None when empty).
            fingerprint: The fingerprint of what is asked.
            resume: Whether ``--resume`` was given.
            what: What the folder holds ("batch spec", "sweep").
            hint: What ``--resume`` needs to match.
            folder: The folder the user named with ``--out`` (default: this store's).

        Raises:
            StoreError: One line naming the flag and the folder.
        """
        name, folder = what.split()[0], folder or self.root
        if resume and old is None:
            raise StoreError(f"--resume: {folder} holds no {name} to resume")
        if old is not None and old.get("fingerprint") != fingerprint:
            if resume:
                raise StoreError(f"--resume: {folder} was made by a different {what} ({hint})")
            raise StoreError(f"--out {folder}: holds a different {name} (choose another --out)")
        if old is not None and not resume:
            raise StoreError(f"--out {folder}: holds this {name} already (--resume completes it)")

    def check_unchanged(self, manifest: dict[str, Any] | None) -> None:
        """Under the lock: raise ``StoreError`` if the manifest is no longer ``manifest``.

        A command checks the folder, then locks it; another command may have written it in
        between.
        """
        if self.read_manifest() != manifest:
            raise StoreError(f"{self.root}: changed by another alliance command; run again")

    # --- manifest --------------------------------------------------------------------------
    def read_manifest(self) -> dict[str, Any] | None:
        """The manifest, or None when the directory holds no batch."""
        path = self.root / MANIFEST
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise StoreError(f"{path}: unreadable manifest ({exc})") from None

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Replace the manifest atomically."""
        text = json.dumps(manifest, indent=2, sort_keys=False)
        atomic_write(self.root / MANIFEST, lambda tmp: Path(tmp).write_text(text + "\n"))

    def write_spec(self, spec: dict[str, Any]) -> None:
        """Write the full batch spec (``spec.json``) atomically."""
        text = json.dumps(spec, indent=1)
        atomic_write(self.root / SPEC, lambda tmp: Path(tmp).write_text(text + "\n"))

    # --- chunks ----------------------------------------------------------------------------
    def done_chunks(self) -> set[str]:
        """Chunks whose every table is written."""
        folder = self.root / "runs"
        names = folder.glob("part-*.parquet") if folder.is_dir() else ()
        return {p.name[len("part-") : -len(".parquet")] for p in names}

    def write_chunk(self, chunk: str, parts: dict[str, bytes | None]) -> None:
        """Write a chunk's tables (from ``encode``), ``runs`` last, each atomically."""
        for name in self.tables:
            data = parts[name]
            if data is not None:
                atomic_write(self.root / name / part_name(chunk), lambda tmp, d=data: _put(tmp, d))

    def remove_unfinished(self) -> None:
        """Delete temporary files and parts of chunks cut off before their ``runs`` part."""
        for path in self.root.glob("*.tmp"):  # a manifest write cut off by kill -9
            path.unlink()
        done = self.done_chunks()
        for name in self.tables:
            folder = self.root / name
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                chunk = path.name[len("part-") : -len(".parquet")]
                if path.name.endswith(".tmp") or chunk not in done:
                    path.unlink()

    def verify_chunks(self, sizes: Mapping[str, int] | None = None) -> list[str]:
        """Remove every done chunk whose parts are missing, unreadable or inconsistent.

        A chunk passes when its ``runs`` part reads (with ``sizes[chunk]`` rows, if given) and
        every other table's part reads and holds, for each ``ok`` run, the same number of rows
        per value of the columns it shares with ``runs`` (e.g. ``run_key``, or ``sample``):
        none when no run is ``ok``, and then the part may be absent.

        Args:
            sizes: Runs per chunk id, as planned.

        Returns:
            The ids of the chunks removed (``runs`` part first), for the caller to run again.
        """
        bad = sorted(c for c in self.done_chunks() if not self._chunk_ok(c, sizes))
        for chunk in bad:
            for name in ("runs", *self.tables):
                (self.root / name / part_name(chunk)).unlink(missing_ok=True)
        return bad

    def _chunk_ok(self, chunk: str, sizes: Mapping[str, int] | None) -> bool:
        """Whether a done chunk's parts read and agree (see ``verify_chunks``)."""
        try:
            with pq.ParquetFile(self.root / "runs" / part_name(chunk)) as part:
                runs = part.read(use_threads=False)
            if sizes is not None and chunk in sizes and runs.num_rows != sizes[chunk]:
                return False
            if "status" in runs.column_names:
                runs = runs.filter(pc.equal(runs["status"], "ok"))
            for name in self.tables:
                path = self.root / name / part_name(chunk)
                if name == "runs" or (runs.num_rows == 0 and not path.exists()):
                    continue
                with pq.ParquetFile(path) as part:
                    names = part.schema_arrow.names
                    keys = [c for c in names if c in runs.column_names and c not in OUTCOME]
                    table = part.read(columns=keys or names[:1], use_threads=False)
                    if not _rows_agree(table, runs, keys):
                        return False
        except (OSError, pa.ArrowException):
            return False
        return True

    def files(self, table: str) -> list[Path]:
        """Parts of ``table`` that belong to finished chunks, in chunk order."""
        paths = (self.root / table / part_name(c) for c in sorted(self.done_chunks()))
        return [p for p in paths if p.is_file()]

    # --- reading ---------------------------------------------------------------------------
    def read(self, table: str) -> pd.DataFrame:
        """One table of the finished chunks as a DataFrame (in run order)."""
        files = self.files(table)
        if not files:
            return pd.DataFrame()
        return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A read-only in-memory DuckDB connection with a view per table (``allies``...).

        It may read the finished parts (and the files of ``views``) and nothing else: no other
        file, no extension to install or load, and its configuration is locked so that SQL
        cannot undo this.
        """
        files = {table: [os.path.abspath(f) for f in self.files(table)] for table in self.tables}
        if not all(files.values()):
            raise StoreError(f"{self.root}: no finished runs (is it a batch or sweep folder?)")
        files |= {name: [os.path.abspath(path)] for name, path in self.views.items()}
        con = duckdb.connect(
            config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
        )
        try:
            con.execute("SET allowed_paths = ?", [[f for fs in files.values() for f in fs]])
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
            for table, paths in files.items():
                listed = ", ".join("'" + f.replace("'", "''") + "'" for f in paths)
                con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet([{listed}])")
        except duckdb.Error as exc:
            con.close()
            raise self._query_error(exc) from None
        return con

    def query(self, sql: str) -> pd.DataFrame:
        """Run DuckDB ``sql`` (SELECT statements only) over the views of ``connect``.

        Raises:
            StoreError: No statement, one that is not a SELECT, an SQL error, or a damaged part.
        """
        con = self.connect()
        try:
            statements = con.extract_statements(sql)
            if not statements:
                raise StoreError("query: no SQL statement")
            refused = [s.type.name for s in statements if s.type not in READ_ONLY]
            if refused:
                raise StoreError(
                    f"query refused: {refused[0]} (queries are read-only: SELECT only)"
                )
            for statement in statements:
                result = con.execute(statement)
            return result.df()
        except duckdb.Error as exc:
            raise self._query_error(exc) from None
        finally:
            con.close()

    def _query_error(self, exc: duckdb.Error) -> StoreError:
        """The one-line error for ``exc``: the damaged parts (DuckDB's first), or its message."""
        message = " ".join(str(exc).split("\n\nLINE ")[0].split())
        damaged = {}
        paths = [f for table in self.tables for f in self.files(table)] + list(self.views.values())
        for path in paths:
            try:
                pq.read_metadata(path)
            except (OSError, pa.ArrowException) as bad:
                damaged[path] = " ".join(str(bad).split())
        if not damaged:
            return StoreError(f"query failed: {message}")
        path = next((p for p in damaged if os.path.abspath(p) in message), next(iter(damaged)))
        more = f" and {len(damaged) - 1} more" if len(damaged) > 1 else ""
        return StoreError(
            f"{path}: damaged part ({damaged[path]}){more}; run its batch again with --resume"
            " to redo it"
        )
