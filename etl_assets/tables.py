"""Tables between assets: chunked Arrow data staged in Parquet files.

Every asset that produces data writes it with a `TableWriter` (chunk by chunk, so memory stays
bounded) and every asset that consumes data reads a `StoredTable` (chunk by chunk, or whole when a
step needs the whole table).
"""
from __future__ import annotations

import os
import sys
import uuid
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from .worker import Worker

if TYPE_CHECKING:
    import pandas as pd

if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
    # jemalloc hands freed memory back to the system sooner than Arrow's default (mimalloc keeps
    # a heap per thread): about 60 MB less peak RSS for a streamed load (docs/benchmarks.md)
    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
        # freed pages go back after 100 ms: ~20 MB less peak than jemalloc's default (1 s), and
        # without the system time of returning every page at once (0 ms: +1.2 s CPU on 3.4M rows)
        pa.jemalloc_set_decay_ms(100)
    except NotImplementedError:  # a pyarrow built without jemalloc
        pass

CHUNK_ROWS = int(os.environ.get("ETL_CHUNK_ROWS", "32768"))
"""Rows per chunk read from a source or a stored table."""


@cache
def _pandas_types() -> dict[pa.DataType, Any]:
    import pandas as pd

    return {
        pa.int8(): pd.Int64Dtype(),
        pa.int16(): pd.Int64Dtype(),
        pa.int32(): pd.Int64Dtype(),
        pa.int64(): pd.Int64Dtype(),
        pa.uint8(): pd.Int64Dtype(),
        pa.uint16(): pd.Int64Dtype(),
        pa.uint32(): pd.Int64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
    }


def is_frame(value: object) -> bool:
    """Whether `value` is a pandas DataFrame (never one while pandas is not imported, and this
    does not import it)."""
    # another thread may be importing pandas: a partly made module has no DataFrame yet, and
    # then no value can be one
    frame = getattr(sys.modules.get("pandas"), "DataFrame", None)
    return frame is not None and isinstance(value, frame)


def to_pandas(data: pa.Table | pa.RecordBatch) -> pd.DataFrame:
    """Arrow -> pandas: integers and booleans become nullable (Int64, boolean), so a null never
    turns an integer column into floats; strings stay Python objects; dates stay dates."""
    return data.to_pandas(types_mapper=_pandas_types().get, date_as_object=True)


def to_arrow(frame: pd.DataFrame) -> pa.Table:
    """pandas -> Arrow without the pandas index."""
    return pa.Table.from_pandas(frame, preserve_index=False)


class Observer(Protocol):
    """Sees every chunk a TableWriter writes, as written (e.g. to gather column statistics)."""

    def add(self, table: pa.Table) -> None: ...


@dataclass(frozen=True)
class StoredTable:
    """A table staged as one Parquet file, read in chunks."""

    path: Path
    observers: tuple[Any, ...] = field(default=(), compare=False, repr=False, kw_only=True)
    """The Observers that saw the table being written, if any (e.g. a profile: saves a pass)."""

    @property
    def schema(self) -> pa.Schema:
        return pq.read_schema(self.path)

    @property
    def num_rows(self) -> int:
        return pq.ParquetFile(self.path).metadata.num_rows

    def batches(self, rows: int = CHUNK_ROWS, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        """Record batches of at most `rows` rows."""
        # Column chunks read as decoded, on this thread: pre-buffering whole row groups and
        # decoding them in parallel cost ~70 MB more peak memory and were no faster (benchmarks.md).
        with pq.ParquetFile(self.path, pre_buffer=False) as f:
            yield from f.iter_batches(batch_size=rows, columns=columns, use_threads=False)

    def frames(self, rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
        """pandas chunks of at most `rows` rows (at least one, possibly empty, frame)."""
        empty = True
        for batch in self.batches(rows):
            empty = False
            yield to_pandas(batch)
        if empty:
            yield to_pandas(self.schema.empty_table())

    def read(self) -> pa.Table:
        return pq.read_table(self.path)

    def to_pandas(self) -> pd.DataFrame:
        return to_pandas(self.read())

    def head(self, rows: int = 5) -> pa.Table:
        """The first `rows` rows."""
        for batch in self.batches(rows):
            return pa.Table.from_batches([batch])
        return self.schema.empty_table()


class SchemaMismatch(ValueError):
    """A chunk whose columns or types do not fit the earlier chunks."""


class TableWriter:
    """Writes chunks to a temporary Parquet file and moves it into place on `commit`; every
    written chunk is shown to the `observers` too.

    Chunks are held until every column has a non-null type (or 1M rows arrived); the unified
    schema of those chunks is then fixed and later chunks are cast to it (SchemaMismatch when a
    value does not fit). Readers and steps deliver chunks of one schema; this is the safety net.

    Encoding Parquet runs in one thread and the observers' work in another (both mostly without
    the GIL), so the caller produces the next chunk meanwhile and neither waits for the other;
    at most WRITE_QUEUE chunks wait for each. An error of either thread is raised by the next
    `write` or by `commit`.
    """

    WRITE_QUEUE = 1

    def __init__(self, path: Path, *observers: Observer):
        self.path = path
        self.observers = observers
        self._tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        self._chunks: list[pa.Table] = []
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self._workers: list[Worker[pa.Table]] = []
        self.rows = 0

    def write(self, chunk: pa.Table | pa.RecordBatch | pd.DataFrame) -> None:
        table = to_arrow(chunk) if is_frame(chunk) else pa.Table.from_batches([chunk]) if isinstance(chunk, pa.RecordBatch) else chunk
        self.rows += table.num_rows
        if self._writer is None:
            # Hold chunks until every column has a real type (or the stream ends).
            self._chunks.append(table)
            if any(pa.types.is_null(f.type) for f in _unify([c.schema for c in self._chunks])):
                if sum(c.num_rows for c in self._chunks) < 1_000_000:
                    return
            self._open(_unify([c.schema for c in self._chunks]))
            return
        self._write(table)

    def _open(self, schema: pa.Schema) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._schema = schema
        writer = self._writer = pq.ParquetWriter(self._tmp, schema, compression="lz4")
        self._workers = [Worker(writer.write_table, self.WRITE_QUEUE, "etl-table-writer")]
        if self.observers:
            self._workers.append(Worker(self._observe, self.WRITE_QUEUE, "etl-table-observers"))
        pending, self._chunks = self._chunks, []
        for table in pending:
            self._write(table)

    def _write(self, table: pa.Table) -> None:
        assert self._writer is not None and self._schema is not None
        if table.schema.names != self._schema.names:
            raise SchemaMismatch(f"chunk columns {table.schema.names} differ from the first chunk's {self._schema.names}")
        try:
            table = table.cast(self._schema)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise SchemaMismatch(f"a later chunk does not fit the types of the first ({exc}); cast the column explicitly") from exc
        if table.num_rows:
            for worker in self._workers:
                worker.put(table)

    def _observe(self, table: pa.Table) -> None:
        for observer in self.observers:
            observer.add(table)

    def _stop(self) -> None:
        for worker in self._workers:
            worker.close()

    def commit(self) -> StoredTable:
        """Finish the file and atomically put it at `path`."""
        if self._writer is None:
            self._open(_unify([c.schema for c in self._chunks]) if self._chunks else pa.schema([]))
        assert self._writer is not None
        self._stop()
        error = next((w.error for w in self._workers if w.error is not None), None)
        if error is not None:
            raise error
        self._writer.close()
        os.replace(self._tmp, self.path)
        return StoredTable(self.path, observers=self.observers)

    def abort(self) -> None:
        self._stop()
        if self._writer is not None:
            self._writer.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "TableWriter":
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is not None:
            self.abort()


def _unify(schemas: Iterable[pa.Schema]) -> pa.Schema:
    schemas = list(schemas)
    if len(schemas) == 1:
        return schemas[0]
    return pa.unify_schemas(schemas, promote_options="permissive")


def write_table(path: Path, chunks: Iterable[pa.Table | pa.RecordBatch | pd.DataFrame]) -> StoredTable:
    """Write all chunks to `path` atomically."""
    with TableWriter(path) as writer:
        for chunk in chunks:
            writer.write(chunk)
        return writer.commit()
