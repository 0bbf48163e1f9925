"""Write what flows on after the checks: without quarantined rows and dropped columns, with
declared types applied; quarantined rows go to the sink in the same pass."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from ..tables import StoredTable, TableWriter, to_pandas
from .data import positioned_batches
from .quarantine import QuarantineSink, quarantine_rows

if TYPE_CHECKING:
    import pandas as pd


def _convert(chunk: pa.Table, conversions: dict[str, str]) -> pa.Table:
    from ..steps.cast import cast_series  # it imports pandas

    for column, declared in conversions.items():
        series = to_pandas(chunk.select([column]))[column]
        converted = pa.Array.from_pandas(cast_series(series, declared, column))
        chunk = chunk.set_column(chunk.schema.get_field_index(column), column, converted)
    return chunk


def rewrite(
    table: StoredTable,
    writer: TableWriter,
    reasons: pd.Series | None,
    dropped: list[str],
    conversions: dict[str, str],
    sink: QuarantineSink | None,
    asset: str,
    run_id: str,
) -> StoredTable:
    """One pass over `table`; `reasons` (row position -> reasons text, sorted) are the rows to
    quarantine (None: no row; always None without a `sink`)."""
    positions = np.empty(0, np.int64) if reasons is None else reasons.index.to_numpy(dtype="int64")
    texts = np.empty(0, object) if reasons is None else reasons.to_numpy()
    at = dt.datetime.now(dt.timezone.utc)
    with writer:
        for offset, batch in positioned_batches(table):
            lo, hi = np.searchsorted(positions, [offset, offset + batch.num_rows])
            local = positions[lo:hi] - offset
            chunk = pa.Table.from_batches([batch])
            if len(local) and sink is not None:
                sink.write(quarantine_rows(asset, run_id, at, chunk.take(pa.array(local)), list(texts[lo:hi])))
                keep = np.ones(batch.num_rows, dtype=bool)
                keep[local] = False
                chunk = chunk.filter(pa.array(keep))
            writer.write(_convert(chunk.drop_columns(dropped), conversions))
        if not table.num_rows:
            writer.write(_convert(table.schema.empty_table().drop_columns(dropped), conversions))
        return writer.commit()
