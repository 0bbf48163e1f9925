"""TableWriter / StoredTable (etl_assets/tables.py): chunked staging with a writing thread and
an observing thread; errors of either reach the caller; nothing is left behind on failure."""
from __future__ import annotations

import sys
import threading
from pathlib import Path

import pyarrow as pa
import pytest

from etl_assets.checks.profile import Profiler, column_profile
from etl_assets.tables import SchemaMismatch, StoredTable, TableWriter


class Recorder:
    def __init__(self, fail_at: int | None = None):
        self.rows: list[int] = []
        self.fail_at = fail_at

    def add(self, table: pa.Table) -> None:
        if self.fail_at is not None and len(self.rows) == self.fail_at:
            raise OSError("observer broke")
        self.rows.append(table.num_rows)


def chunks(n: int, rows: int = 1000) -> list[pa.Table]:
    return [pa.table({"i": list(range(k * rows, (k + 1) * rows)), "s": [f"v{k}"] * rows}) for k in range(n)]


def test_written_table_equals_the_chunks_and_observers_see_each_one(tmp_path: Path) -> None:
    seen = Recorder()
    with TableWriter(tmp_path / "t.parquet", seen) as writer:
        for chunk in chunks(7):
            writer.write(chunk)
        stored = writer.commit()
    assert stored.read().equals(pa.concat_tables(chunks(7)))
    assert seen.rows == [1000] * 7
    assert [b.num_rows for b in stored.batches(2500)] == [2500, 2500, 2000]


def test_an_error_in_the_writing_thread_reaches_the_caller_and_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    with pytest.raises(OSError, match="observer broke"):
        with TableWriter(path, Recorder(fail_at=2)) as writer:
            for chunk in chunks(50):
                writer.write(chunk)
            writer.commit()
    assert list(tmp_path.iterdir()) == []


def test_a_busy_observer_does_not_hold_the_parquet_encoding_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parquet encoding and the observers run in threads of their own: while the observer still
    works on the first chunk, later chunks are encoded."""
    import pyarrow.parquet as pq

    encoded = threading.Semaphore(0)
    original = pq.ParquetWriter.write_table
    monkeypatch.setattr(pq.ParquetWriter, "write_table", lambda self, table, *a, **k: (original(self, table, *a, **k), encoded.release()))

    class Slow(Recorder):
        def add(self, table: pa.Table) -> None:
            if not self.rows:  # the first chunk: wait until all three are encoded
                assert encoded.acquire(timeout=10) and encoded.acquire(timeout=10) and encoded.acquire(timeout=10)
            super().add(table)

    seen = Slow()
    with TableWriter(tmp_path / "t.parquet", seen) as writer:
        for chunk in chunks(3):
            writer.write(chunk)
        stored = writer.commit()
    assert seen.rows == [1000] * 3 and stored.read().equals(pa.concat_tables(chunks(3)))


def test_a_chunk_that_does_not_fit_fails_in_write(tmp_path: Path) -> None:
    with TableWriter(tmp_path / "t.parquet") as writer:
        writer.write(pa.table({"i": [1]}))
        with pytest.raises(SchemaMismatch):
            writer.write(pa.table({"i": ["x"]}))
        writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_profile_gathered_while_writing_equals_one_read_afterwards(tmp_path: Path) -> None:
    with TableWriter(tmp_path / "t.parquet", Profiler()) as writer:
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
