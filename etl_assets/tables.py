"""Tables between assets: chunked Arrow data staged in Arrow IPC files (LZ4-compressed).

Every asset that produces data writes it with a `TableWriter` (chunk by chunk, so memory stays
bounded) and every asset that consumes data reads a `StoredTable` (chunk by chunk, or whole when a
step needs the whole table). The Arrow IPC file format (Feather v2) is Arrow's own memory layout
on disk: writing and reading cost about half what Parquet's encoding and decoding do, for files
about 3x larger than Parquet's (docs/benchmarks.md). A `StoredTable` also reads the Parquet files
earlier versions staged.
"""
from __future__ import annotations

import os
import sys
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Protocol

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from .settings import int_setting
from .worker import Worker

if TYPE_CHECKING:
    import pandas as pd


JEMALLOC_DECAY_MS = int_setting("ETL_JEMALLOC_DECAY_MS", 10_000, "a whole number of milliseconds (-1: never)")
"""How long Arrow's memory pool (jemalloc) keeps freed pages before handing them back to the
system ($ETL_JEMALLOC_DECAY_MS; -1: never). 10 s is jemalloc's own default: a run reuses its
chunks' memory all the time, and with 100 ms (until 2026-12-04) the pages went back and were
faulted in again, ~0.5 s of system CPU per 3.4M-row load, for 20-50 MB less peak RSS; an idle
long-lived process still gets its memory back (docs/benchmarks.md)."""

if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
    # jemalloc hands freed memory back to the system; mimalloc (Arrow's default) keeps a heap per
    # thread: about 60 MB more peak RSS for a streamed load (docs/benchmarks.md)
    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
        pa.jemalloc_set_decay_ms(JEMALLOC_DECAY_MS)
    except NotImplementedError:  # a pyarrow built without jemalloc
        pass

CHUNK_ROWS = int_setting("ETL_CHUNK_ROWS", 32_768, "a whole number of rows")
"""Rows per chunk read from a source or a stored table."""
COMPRESSIONS = {"lz4": "lz4", "zstd": "zstd", "none": None}
"""$ETL_STAGE_COMPRESSION -> the codec of stored tables' buffers. lz4 (the default) stores the
flights table at 0.65x the CSV's size; zstd at 0.37x for twice lz4's CPU; none at 1.8x."""
_IPC_MAGIC = b"ARROW1"


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
    """A table staged as one Arrow IPC file (or an earlier version's Parquet file), read in chunks."""

    path: Path
    observers: tuple[Any, ...] = field(default=(), compare=False, repr=False, kw_only=True)
    """The Observers that saw the table being written, if any (e.g. a profile: saves a pass)."""

    @property
    def schema(self) -> pa.Schema:
        if not self._ipc:
            return pq.read_schema(self.path)
        with _ipc_file(self.path) as reader:
            return reader.schema

    @property
    def num_rows(self) -> int:
        if not self._ipc:
            return pq.ParquetFile(self.path).metadata.num_rows
        with _ipc_file(self.path) as reader:
            return reader.count_rows()

    @property
    def _ipc(self) -> bool:
        with open(self.path, "rb") as f:
            return f.read(len(_IPC_MAGIC)) == _IPC_MAGIC

    def batches(self, rows: int = CHUNK_ROWS, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        """Record batches of at most `rows` rows."""
        if not self._ipc:
            # Column chunks read as decoded, on this thread: pre-buffering whole row groups and
            # decoding them in parallel cost ~70 MB more peak memory and were no faster (benchmarks.md).
            with pq.ParquetFile(self.path, pre_buffer=False) as f:
                yield from f.iter_batches(batch_size=rows, columns=columns, use_threads=False)
            return
        with _ipc_file(self.path, columns) as reader:
            for i in range(reader.num_record_batches):
                batch = reader.get_batch(i)
                if columns is not None:
                    batch = batch.select(columns)
                if batch.num_rows <= rows:
                    yield batch
                    continue
                for start in range(0, batch.num_rows, rows):
                    yield batch.slice(start, rows)

    def frames(self, rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
        """pandas chunks of at most `rows` rows (at least one, possibly empty, frame)."""
        empty = True
        for batch in self.batches(rows):
            empty = False
            yield to_pandas(batch)
        if empty:
            yield to_pandas(self.schema.empty_table())

    def read(self, columns: list[str] | None = None) -> pa.Table:
        """The whole table (or these columns of it), in memory."""
        if not self._ipc:
            return pq.read_table(self.path, columns=columns)
        with _ipc_file(self.path, columns) as reader:
            table = reader.read_all()
        return table if columns is None else table.select(columns)

    def to_pandas(self) -> pd.DataFrame:
        return to_pandas(self.read())

    def head(self, rows: int = 5) -> pa.Table:
        """The first `rows` rows."""
        for batch in self.batches(rows):
            return pa.Table.from_batches([batch])
        return self.schema.empty_table()


@contextmanager
def _ipc_file(path: Path, columns: list[str] | None = None) -> Iterator[ipc.RecordBatchFileReader]:
    """The IPC file's reader, reading only `columns` (by name; all when None) from disk."""
    with pa.OSFile(str(path)) as source:
        reader = ipc.open_file(source)
        if columns:
            names = reader.schema.names
            fields = sorted({names.index(c) for c in columns if c in names})
            if len(fields) < len(names):
                reader = ipc.open_file(source, options=ipc.IpcReadOptions(included_fields=fields))
        yield reader


class SchemaMismatch(ValueError):
    """A chunk whose columns or types do not fit the earlier chunks."""


class TableWriter:
    """Writes chunks to a temporary Arrow IPC file and moves it into place on `commit`; every
    written chunk is shown to the `observers` too.

    Chunks are held until every column has a non-null type (or 1M rows arrived); the unified
    schema of those chunks is then fixed and later chunks are cast to it (SchemaMismatch when a
    value does not fit). Readers and steps deliver chunks of one schema; this is the safety net.
    Dictionary columns are stored decoded (an IPC file holds one dictionary per column). Chunks
    under COALESCE_ROWS rows (a filter's output, say) are gathered into one before they are
    written, and a chunk made of pieces is written as one batch, so a stored table's batches stay
    near CHUNK_ROWS rows, as a source's chunks are.

    Writing the file runs in one thread and the observers' work in another (both mostly without
    the GIL), so the caller produces the next chunk meanwhile and neither waits for the other;
    at most WRITE_QUEUE chunks wait for each. An error of either thread is raised by the next
    `write` or by `commit`.
    """

    WRITE_QUEUE = 1
    COALESCE_ROWS = CHUNK_ROWS // 2

    def __init__(self, path: Path, *observers: Observer):
        self.path = path
        self.observers = observers
        self._tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        self._chunks: list[pa.Table] = []
        self._small: list[pa.Table] = []
        self._small_rows = 0
        self._writer: ipc.RecordBatchFileWriter | None = None
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
        options = ipc.IpcWriteOptions(compression=_compression(), use_threads=False)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._schema = schema = _decoded(schema)
        writer = self._writer = ipc.new_file(str(self._tmp), schema, options=options)
        self._workers = [Worker(lambda t: writer.write_table(t.combine_chunks(), max_chunksize=CHUNK_ROWS), self.WRITE_QUEUE, "etl-table-writer")]
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
        if not table.num_rows:
            return
        if table.num_rows >= self.COALESCE_ROWS:
            self._flush()
            self._put(table)
            return
        self._small.append(table)
        self._small_rows += table.num_rows
        if self._small_rows >= self.COALESCE_ROWS:
            self._flush()

    def _flush(self) -> None:
        """Write the gathered small chunks as one."""
        if self._small:
            table, self._small, self._small_rows = pa.concat_tables(self._small).combine_chunks(), [], 0
            self._put(table)

    def _put(self, table: pa.Table) -> None:
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
        self._flush()
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


def _compression() -> str | None:
    name = os.environ.get("ETL_STAGE_COMPRESSION", "lz4")
    if name not in COMPRESSIONS:
        raise ValueError(f"ETL_STAGE_COMPRESSION must be one of {', '.join(COMPRESSIONS)}, not {name!r}")
    return COMPRESSIONS[name]


def _decoded(schema: pa.Schema) -> pa.Schema:
    """The schema with dictionary columns as their value type."""
    if not any(pa.types.is_dictionary(f.type) for f in schema):
        return schema
    return pa.schema([f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in schema], metadata=schema.metadata)


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
