"""TableWriter / StoredTable (etl_assets/tables.py): chunked staging in Arrow IPC files with a
writing thread and an observing thread; errors of either reach the caller; nothing is left behind
on failure; small chunks are gathered; Parquet files of earlier versions are still read."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from etl_assets.checks.profile import Profiler, column_profile
from etl_assets.tables import CHUNK_ROWS, SchemaMismatch, StoredTable, TableWriter


class Recorder:
    def __init__(self, fail_at: int | None = None):
        self.rows: list[int] = []
        self.fail_at = fail_at

    def add(self, table: pa.Table) -> None:
        if self.fail_at is not None and len(self.rows) == self.fail_at:
            raise OSError("observer broke")
        self.rows.append(table.num_rows)


ROWS = TableWriter.COALESCE_ROWS + 1000
"""Rows of a chunk that the writer writes as it comes."""


def chunks(n: int, rows: int = ROWS) -> list[pa.Table]:
    return [pa.table({"i": list(range(k * rows, (k + 1) * rows)), "s": [f"v{k}"] * rows}) for k in range(n)]


def test_written_table_equals_the_chunks_and_observers_see_each_one(tmp_path: Path) -> None:
    seen = Recorder()
    with TableWriter(tmp_path / "t.arrow", seen) as writer:
        for chunk in chunks(7):
            writer.write(chunk)
        stored = writer.commit()
    assert stored.read().equals(pa.concat_tables(chunks(7)))
    assert seen.rows == [ROWS] * 7
    sizes = [b.num_rows for b in stored.batches(ROWS // 2 + 1)]
    assert sizes == [ROWS // 2 + 1, ROWS // 2 - 1] * 7 and stored.num_rows == 7 * ROWS


def test_the_stored_file_is_an_arrow_ipc_file(tmp_path: Path) -> None:
    with TableWriter(tmp_path / "t.arrow") as writer:
        for chunk in chunks(2, rows=10):
            writer.write(chunk)
        stored = writer.commit()
    assert stored.path.read_bytes()[:6] == b"ARROW1"
    with pa.OSFile(str(stored.path)) as f:
        assert ipc.open_file(f).read_all().equals(pa.concat_tables(chunks(2, rows=10)))


def test_small_chunks_are_gathered_into_batches_of_about_half_a_chunk(tmp_path: Path) -> None:
    seen = Recorder()
    small = chunks(400, rows=100)  # 40,000 rows
    with TableWriter(tmp_path / "t.arrow", seen) as writer:
        for chunk in small:
            writer.write(chunk)
        writer.write(chunks(1)[0])  # a big one after small ones: the gathered ones go first
        stored = writer.commit()
    gathered = -(-TableWriter.COALESCE_ROWS // 100) * 100
    assert seen.rows == [gathered, gathered, 40_000 - 2 * gathered, ROWS]
    assert [b.num_rows for b in stored.batches(10**9)] == seen.rows
    assert stored.read().equals(pa.concat_tables([*small, chunks(1)[0]]))


def test_a_chunk_made_of_pieces_is_stored_as_whole_batches(tmp_path: Path) -> None:
    """A source hands over chunks concatenated from parsed pieces: the file holds batches of up to
    CHUNK_ROWS rows, not one per piece."""
    pieces = pa.concat_tables(chunks(3, rows=TableWriter.COALESCE_ROWS))
    assert pieces.column("i").num_chunks == 3
    with TableWriter(tmp_path / "t.arrow") as writer:
        writer.write(pieces)
        stored = writer.commit()
    whole = 3 * TableWriter.COALESCE_ROWS
    assert [b.num_rows for b in stored.batches(10**9)] == [CHUNK_ROWS, whole - CHUNK_ROWS]
    assert stored.read().equals(pieces)


def test_the_compression_is_chosen_by_etl_stage_compression(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """zstd is smaller than lz4 (the default), which is smaller than none, on the same data."""
    table = pa.table({"i": [k % 977 for k in range(200_000)], "s": [f"row {k % 1013}" for k in range(200_000)]})
    sizes = {}
    for codec in ("none", "lz4", "zstd", None):
        if codec is None:
            monkeypatch.delenv("ETL_STAGE_COMPRESSION")
        else:
            monkeypatch.setenv("ETL_STAGE_COMPRESSION", codec)
        with TableWriter(tmp_path / f"{codec}.arrow") as writer:
            writer.write(table)
            stored = writer.commit()
        assert stored.read().equals(table)
        sizes[codec] = stored.path.stat().st_size
    assert sizes["none"] > table.nbytes > sizes["lz4"] > sizes["zstd"] and sizes[None] == sizes["lz4"]


def test_an_unknown_compression_is_an_error_that_names_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETL_STAGE_COMPRESSION", "snappy")
    with pytest.raises(ValueError, match=r"ETL_STAGE_COMPRESSION must be one of lz4, zstd, none, not 'snappy'"):
        with TableWriter(tmp_path / "t.arrow") as writer:
            writer.write(pa.table({"i": [1]}))
            writer.commit()
    assert list(tmp_path.iterdir()) == []


def test_dictionary_columns_are_stored_decoded(tmp_path: Path) -> None:
    """An IPC file holds one dictionary per column; chunks bring their own."""
    parts = [pa.table({"c": pa.array(values).dictionary_encode()}) for values in (["x", "y"], ["z", "x"])]
    with TableWriter(tmp_path / "t.arrow") as writer:
        for part in parts:
            writer.write(part)
        stored = writer.commit()
    assert stored.schema.field("c").type == pa.string()
    assert stored.read().column("c").to_pylist() == ["x", "y", "z", "x"]


def test_columns_are_read_in_the_order_asked(tmp_path: Path) -> None:
    with TableWriter(tmp_path / "t.arrow") as writer:
        writer.write(pa.table({"a": [1, 2], "b": ["x", "y"], "c": [1.5, 2.5]}))
        stored = writer.commit()
    assert stored.read(columns=["c", "a"]).column_names == ["c", "a"]
    assert [b.schema.names for b in stored.batches(columns=["b"])] == [["b"]]
    assert stored.read(columns=[]).num_columns == 0


def test_a_parquet_file_of_an_earlier_version_reads_as_before(tmp_path: Path) -> None:
    path = tmp_path / "all.parquet"
    table = pa.concat_tables(chunks(3, rows=1000))
    pq.write_table(table, path, row_group_size=1000)
    stored = StoredTable(path)
    assert stored.schema == table.schema and stored.num_rows == 3000
    assert [b.num_rows for b in stored.batches(2500)] == [2500, 500]
    assert stored.read(columns=["s"]).equals(table.select(["s"]))


def test_an_error_in_the_writing_thread_reaches_the_caller_and_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "t.arrow"
    with pytest.raises(OSError, match="observer broke"):
        with TableWriter(path, Recorder(fail_at=2)) as writer:
            for chunk in chunks(50):
                writer.write(chunk)
            writer.commit()
    assert list(tmp_path.iterdir()) == []


def test_a_busy_observer_does_not_hold_the_file_writing_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writing the file and the observers run in threads of their own: while the observer still
    works on the first chunk, later chunks are written."""
    import etl_assets.tables as tables

    encoded = threading.Semaphore(0)
    new_file = tables.ipc.new_file

    class Counting:
        def __init__(self, *args: object, **kwargs: object) -> None:
            self.writer = new_file(*args, **kwargs)

        def write_table(self, table: pa.Table, **kwargs: object) -> None:
            self.writer.write_table(table, **kwargs)
            encoded.release()

        def close(self) -> None:
            self.writer.close()

    monkeypatch.setattr(tables.ipc, "new_file", Counting)

    class Slow(Recorder):
        def add(self, table: pa.Table) -> None:
            if not self.rows:  # the first chunk: wait until all three are encoded
                assert encoded.acquire(timeout=10) and encoded.acquire(timeout=10) and encoded.acquire(timeout=10)
            super().add(table)

    seen = Slow()
    with TableWriter(tmp_path / "t.arrow", seen) as writer:
        for chunk in chunks(3):
            writer.write(chunk)
        stored = writer.commit()
    assert seen.rows == [ROWS] * 3 and stored.read().equals(pa.concat_tables(chunks(3)))


def test_a_chunk_that_does_not_fit_fails_in_write(tmp_path: Path) -> None:
    with TableWriter(tmp_path / "t.arrow") as writer:
        writer.write(pa.table({"i": [1]}))
        with pytest.raises(SchemaMismatch):
            writer.write(pa.table({"i": ["x"]}))
        writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_profile_gathered_while_writing_equals_one_read_afterwards(tmp_path: Path) -> None:
    with TableWriter(tmp_path / "t.arrow", Profiler()) as writer:
        for chunk in chunks(5):
            writer.write(chunk)
        stored = writer.commit()
    assert column_profile(stored) == column_profile(StoredTable(stored.path))


def test_is_frame_while_another_thread_imports_pandas(monkeypatch: pytest.MonkeyPatch) -> None:
    """A module that another thread is still importing has no DataFrame yet: not an error."""
    import types

    from etl_assets.tables import is_frame

    monkeypatch.setitem(sys.modules, "pandas", types.ModuleType("pandas"))
    assert is_frame(object()) is False


def test_the_memory_pool_decay_is_set_by_etl_jemalloc_decay_ms() -> None:
    """A whole number of milliseconds, 10 s when unset; anything else stops the import with an
    error that names the setting."""

    def decay(value: str | None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "ETL_JEMALLOC_DECAY_MS"}
        if value is not None:
            env["ETL_JEMALLOC_DECAY_MS"] = value
        code = "import etl_assets.tables as t; print(t.JEMALLOC_DECAY_MS)"
        return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)

    assert decay(None).stdout.strip() == "10000"
    assert decay("-1").stdout.strip() == "-1"
    for bad in ("soon", ""):
        error = decay(bad)
        assert error.returncode != 0
        assert f"ETL_JEMALLOC_DECAY_MS must be a whole number of milliseconds (-1: never), not {bad!r}" in error.stderr
