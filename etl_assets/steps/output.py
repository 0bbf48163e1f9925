"""Handing a transform's result to the TableWriter.

A whole frame is converted to Arrow once (so every slice has the same column types) and written
in slices. Streamed chunks are converted one by one, and a column's type can differ between chunks
where pandas infers it from the values (an integer result becomes float in a chunk that has a
null, an all-null column has no type): those chunks are staged in temporary Parquet files beside
the target and written once their types are unified (int + float -> float, null + x -> x), which
is what pandas gives for the whole table. A single chunk goes straight to the writer.

The engine's Arrow path (`columnar`) hands over Arrow chunks whose types are known up front (but
for a datetime column's timezone); they go straight to the writer (`write_tables`).
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from ..tables import TableWriter, to_arrow
from .errors import StepProblem

if TYPE_CHECKING:
    import pandas as pd


def _arrow(frame: pd.DataFrame) -> pa.Table:
    try:
        return to_arrow(frame)
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise StepProblem(f"the result cannot be stored: {exc}; cast the column to one type") from exc


def write_frame(writer: TableWriter, frame: pd.DataFrame, rows: int) -> None:
    table = _arrow(frame)
    if table.num_rows == 0:
        writer.write(table)
        return
    for start in range(0, table.num_rows, rows):
        writer.write(table.slice(start, rows))


class _Staging:
    """Chunks in temporary Parquet files, one file per run of chunks with the same types."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.files: list[Path] = []
        self.schemas: list[pa.Schema] = []
        self._writer: pq.ParquetWriter | None = None

    def add(self, table: pa.Table) -> None:
        schema = table.schema.remove_metadata()
        if self._writer is None or not schema.equals(self.schemas[-1]):
            self._close()
            path = self.directory / f"{len(self.files):06d}.parquet"
            self._writer = pq.ParquetWriter(path, schema)
            self.files.append(path)
            self.schemas.append(schema)
        self._writer.write_table(table.replace_schema_metadata(None))

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def tables(self, schema: pa.Schema) -> Iterator[pa.Table]:
        self._close()
        for path in self.files:
            with pq.ParquetFile(path, pre_buffer=False) as f:
                for batch in f.iter_batches(use_threads=False):
                    try:
                        yield pa.Table.from_batches([batch]).cast(schema)
                    except (pa.ArrowException, ValueError, TypeError) as exc:
                        raise StepProblem(f"the result cannot be stored with one type per column: {exc}") from exc


def _unified(schemas: list[pa.Schema]) -> pa.Schema:
    """One schema for chunks of these schemas (in order), or the StepProblem saying why not."""
    if len({tuple(s.names) for s in schemas}) > 1:
        raise StepProblem("parts of the result have different columns")
    try:
        return pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise StepProblem(f"a column has different types in different parts of the data ({exc}); cast it to one type") from exc


def write_tables(writer: TableWriter, tables: Iterable[pa.Table]) -> None:
    """Arrow chunks that should share one schema, written as they come. The one difference their
    types can have (a datetime column naive in one chunk, UTC in another) fails as in
    `write_chunks`: once every chunk was converted, so an error in a later chunk comes first."""
    schemas: list[pa.Schema] = []
    for table in tables:
        if table.num_rows == 0:
            continue
        if not schemas or not table.schema.equals(schemas[-1]):
            schemas.append(table.schema)
        if len(schemas) == 1:
            writer.write(table)
    if len(schemas) > 1:
        _unified(schemas)
        raise StepProblem("parts of the result have different column types; cast the columns to one type")


def write_chunks(writer: TableWriter, chunks: Iterable[pd.DataFrame]) -> None:
    first: pa.Table | None = None
    empty: pa.Table | None = None
    staging: _Staging | None = None
    directory: Path | None = None
    try:
        for frame in chunks:
            table = _arrow(frame)
            if table.num_rows == 0:
                empty = empty or table
                continue
            if first is None:
                first = table
                continue
            if staging is None:
                writer.path.parent.mkdir(parents=True, exist_ok=True)
                directory = Path(tempfile.mkdtemp(prefix=".steps-", dir=writer.path.parent))
                staging = _Staging(directory)
                staging.add(first)
            staging.add(table)
        if staging is None:
            writer.write(first if first is not None else empty)  # type: ignore[arg-type]
            return
        for table in staging.tables(_unified(staging.schemas)):
            writer.write(table)
    finally:
        if staging is not None:
            staging._close()
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
