"""Parquet, streamed by record batches."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator, Mapping

import pyarrow as pa
import pyarrow.parquet as pq

from ._common import Scan, check_columns, check_names, str_list
from .errors import SourceError

_PANDAS_INDEX = re.compile(r"__index_level_\d+__")


class ParquetReader:
    null_type = pa.null()

    def __init__(self, path: Path, options: Mapping[str, Any], chunk_rows: int):
        self.path = path
        self.columns = str_list(options, "columns", path)
        self.chunk_rows = chunk_rows

    def scan(self, keep: bool) -> Scan:
        """The schema from the file's footer (pandas' unnamed index columns left out)."""
        try:
            schema = pq.read_schema(self.path).remove_metadata()
        except (pa.ArrowInvalid, OSError) as exc:
            raise SourceError(f"not a readable Parquet file: {exc}", path=self.path) from None
        names = [n for n in schema.names if not _PANDAS_INDEX.fullmatch(n)]
        check_names(names, self.path)
        check_columns(self.columns, names, self.path)
        return Scan(pa.schema([schema.field(n) for n in self.columns or names]))

    def read(self, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        with pq.ParquetFile(self.path, pre_buffer=False) as file:
            yield from file.iter_batches(batch_size=self.chunk_rows, columns=schema.names, use_threads=False)  # as tables.StoredTable.batches
