"""Reading parts of a stored table: one column whole, or a few rows by position."""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import numpy as np
import pyarrow as pa

from ..tables import CHUNK_ROWS, StoredTable, to_pandas

if TYPE_CHECKING:
    import pandas as pd


def read_column(table: StoredTable, column: str) -> pd.Series:
    """One column of the table, whole, indexed by row position."""
    return to_pandas(table.read(columns=[column]))[column]


def positioned_batches(table: StoredTable, rows: int = CHUNK_ROWS) -> Iterator[tuple[int, pa.RecordBatch]]:
    """(offset of the first row, batch) for every batch of the table."""
    offset = 0
    for batch in table.batches(rows):
        yield offset, batch
        offset += batch.num_rows


def take_rows(table: StoredTable, positions: np.ndarray) -> pd.DataFrame:
    """The rows at these sorted 0-based positions, indexed by position; reads only as far as needed."""
    import pandas as pd

    parts: list[pd.DataFrame] = []
    if len(positions):
        last = int(positions[-1])
        for offset, batch in positioned_batches(table):
            local = positions[(positions >= offset) & (positions < offset + batch.num_rows)] - offset
            if len(local):
                part = to_pandas(batch.take(pa.array(local)))
                part.index = local + offset
                parts.append(part)
            if offset + batch.num_rows > last:
                break
    return pd.concat(parts) if parts else to_pandas(table.schema.empty_table())
