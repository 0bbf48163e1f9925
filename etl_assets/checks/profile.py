"""A small column profile for every materialization: null share, distinct count, min/max/mean.

Gathered while the table is written (a `Profiler` is the TableWriter's observer), else in one pass
over the stored table, chunk by chunk, with Arrow compute: memory is one chunk plus a fixed
amount per column (see `distinct` for how distinct values are counted). Min and max are
given for numbers, dates and times; mean for numbers.

Dagster is imported only to build the metadata, so a `Profiler` can gather while `etl run`'s head
start reads a file before Dagster is loaded (`etl_assets.head_start`).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from ..arrow_values import python_value
from ..tables import StoredTable
from .distinct import DistinctCounter

if TYPE_CHECKING:
    import dagster as dg


def _numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def _ordered(t: pa.DataType) -> bool:
    return _numeric(t) or pa.types.is_temporal(t)


@dataclass
class _ColumnStats:
    type: pa.DataType
    nulls: int = 0
    distinct: DistinctCounter | None = field(default_factory=DistinctCounter)
    low: Any = None
    high: Any = None
    total: float = 0.0
    """The sum of the values: an int (exact) while every integer chunk's sum fits in int64."""
    count: int = 0

    def add(self, values: pa.Array | pa.ChunkedArray) -> None:
        self.nulls += values.null_count
        if self.distinct is not None:
            try:
                self.distinct.add(values)
            except (pa.ArrowNotImplementedError, pa.ArrowInvalid, TypeError):
                self.distinct = None  # nested types: no distinct count
        low = high = None
        if _ordered(self.type) and len(values) > values.null_count:
            bounds = pc.min_max(values)
            low, high = python_value(bounds["min"]), python_value(bounds["max"])
            self.low = low if self.low is None else min(self.low, low)
            self.high = high if self.high is None else max(self.high, high)
        if _numeric(self.type):
            if pa.types.is_integer(self.type) and (low is None or max(abs(low), abs(high)) * len(values) < 2**63):
                self.total += pc.sum(values).as_py() or 0  # exact, and no float copy of the chunk
            else:
                self.total += pc.sum(values.cast(pa.float64(), safe=False)).as_py() or 0.0  # past 2**53: nearest float
            self.count += len(values) - values.null_count


def _show(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if value is None or isinstance(value, (int, float, str, bool)):
        return value
    return str(value)


def _schema() -> dg.TableSchema:
    import dagster as dg

    names = {"column": "string", "type": "string", "null_share": "float", "distinct": "int", "distinct_exact": "bool", "min": "string", "max": "string", "mean": "float"}
    return dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind in names.items()])


class Profiler:
    """Column statistics of a table, chunk by chunk (a `tables.Observer`)."""

    def __init__(self) -> None:
        self.schema: pa.Schema | None = None
        self.rows = 0
        self._stats: list[_ColumnStats] = []

    def add(self, table: pa.Table | pa.RecordBatch) -> None:
        if self.schema is None:
            self.schema = table.schema
            self._stats = [_ColumnStats(f.type) for f in table.schema]
        self.rows += table.num_rows
        for column, values in zip(self._stats, table.columns):
            column.add(values)

    def metadata(self, schema: pa.Schema) -> dg.TableMetadataValue:
        import dagster as dg

        stats = self._stats if self.schema is not None else [_ColumnStats(f.type) for f in schema]
        rows = self.rows
        records = [
            dg.TableRecord(
                {
                    "column": f.name,
                    "type": str(f.type),
                    "null_share": round(s.nulls / rows, 4) if rows else 0.0,
                    "distinct": s.distinct.count() if s.distinct is not None else None,
                    "distinct_exact": s.distinct.is_exact if s.distinct is not None else None,
                    "min": _show(s.low),
                    "max": _show(s.high),
                    "mean": round(s.total / s.count, 6) if s.count else None,
                }
            )
            for f, s in zip(schema, stats)
        ]
        return dg.MetadataValue.table(records=records, schema=_schema())


@dataclass(frozen=True)
class KnownProfile:
    """The profile of a stored table that was profiled before (an unchanged file's table reused)."""

    value: dg.TableMetadataValue


def column_profile(table: StoredTable) -> dg.TableMetadataValue:
    """The profile of every column, as table metadata (from the writer's Profiler when it had one)."""
    known = next((o for o in table.observers if isinstance(o, KnownProfile)), None)
    if known is not None:
        return known.value
    schema = table.schema
    profiler = next((o for o in table.observers if isinstance(o, Profiler)), None)
    if profiler is None or (profiler.schema is not None and not profiler.schema.equals(schema)):
        profiler = Profiler()
        for batch in table.batches():
            profiler.add(batch)
    return profiler.metadata(schema)
