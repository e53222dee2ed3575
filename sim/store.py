"""A batch's results on disk: a Parquet dataset that survives interruption, queried with DuckDB.

Layout of a batch directory::

    manifest.json                 batch spec, root seed, versions, git commit, status counts
    allies/part-<chunk>.parquet   one row per run, year and ally
    alliance/part-<chunk>.parquet one row per run and year
    runs/part-<chunk>.parquet     one row per run: seed, spawn key, status, error, duration

Each file is written under a temporary name and renamed into place; a chunk's ``runs`` part is
written last, so a chunk counts as done exactly when its ``runs`` part exists. Parts of a chunk
cut off before that are ignored by readers and rewritten on resume.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

TABLES = ("allies", "alliance", "runs")
"""The tables of a batch, written in this order for each chunk (``runs`` marks it done)."""
MANIFEST = "manifest.json"
SPEC = "spec.json"
"""The batch spec with every scenario fully resolved, written once (the manifest, rewritten after
every chunk, keeps a summary so that sweeps of thousands of design points stay cheap)."""


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


def part_name(chunk: str) -> str:
    """File name of a chunk's part in every table."""
    return f"part-{chunk}.parquet"


class BatchStore:
    """The results directory of one batch.

    Args:
        root: The batch directory.
        tables: Its tables, ``runs`` last (default: those its manifest names, else ``TABLES``).
    """

    def __init__(self, root: str | Path, tables: tuple[str, ...] | None = None):
        """Point at ``root`` (nothing is created until something is written)."""
        self.root = Path(root)
        if tables is None:
            manifest = self.read_manifest()
            tables = tuple(manifest.get("tables", TABLES)) if manifest else TABLES
        self.tables = tables

    def check_writable(self) -> None:
        """Create the directory and prove it is writable, or raise ``StoreError``."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            atomic_write(self.root / ".write-test", lambda tmp: Path(tmp).write_text(""))
            (self.root / ".write-test").unlink()
        except OSError as exc:
            raise StoreError(f"--out {self.root}: not writable ({exc.strerror})") from None

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
        """An in-memory DuckDB connection with a view per table (a batch's: ``allies``...)."""
        con = duckdb.connect()
        for table in self.tables:
            files = [str(f) for f in self.files(table)]
            if not files:
                raise StoreError(f"{self.root}: no finished runs (is it a batch directory?)")
            listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet([{listed}])")
        return con

    def query(self, sql: str) -> pd.DataFrame:
        """Run DuckDB ``sql`` over the views; raise ``StoreError`` on an SQL error."""
        con = self.connect()
        try:
            return con.execute(sql).df()
        except duckdb.Error as exc:
            message = " ".join(str(exc).split())
            raise StoreError(f"query failed: {message}") from None
        finally:
            con.close()
