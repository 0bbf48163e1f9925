"""The engine's Arrow path: `select`, `drop`, `rename` and `cast` on Arrow batches, no pandas.

`run_steps` takes it when nothing but these steps runs (no other step, and the data streams to
the writer), and gives the same table as the pandas path would, so it applies only when that
result is known without pandas:
- every input column has a type whose pandas round trip (`to_pandas` -> `to_arrow`) is known:
  integers but uint64 (-> int64), booleans, floats (NaN -> null), text (-> string), dates, and
  timestamps naive or UTC (the NaT sentinel -> null); `normalised` applies that round trip;
- no column is null in every row (pandas would store it with the null type), seen in the first
  batches; the table has rows and no repeated column names;
- casts are to integer, float, boolean or datetime (always typed results), or to string from
  text, integers or booleans (`cast_arrow` converts those; null exactly where the input is).
Casts run through `cast_arrow.cast_array`: Arrow conversions where they decide, the pandas functions
of `cast` where they do not, so values and errors are those of the pandas path.
"""
from __future__ import annotations

from typing import Any, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from ..tables import StoredTable
from .cast_arrow import converts_to_string

ARROW_STEPS = frozenset({"select", "drop", "rename", "cast"})
_CAST_RESULTS: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "float": pa.float64(),
    "boolean": pa.bool_(),
    "datetime": pa.timestamp("ns"),
}
_INT64_MIN = -(2**63)


def _known(t: pa.DataType) -> bool:
    """Types whose pandas round trip `normalised` reproduces."""
    if pa.types.is_timestamp(t):
        return t.tz in (None, "UTC")
    return (
        (pa.types.is_integer(t) and t != pa.uint64())
        or pa.types.is_boolean(t)
        or t in (pa.float32(), pa.float64(), pa.date32())
        or pa.types.is_string(t)
        or pa.types.is_large_string(t)
    )


def _all_null_column(data: StoredTable, names: Sequence[str]) -> bool:
    """True when one of the columns `names` is null in every row (reading until each showed a value)."""
    unseen = set(names)
    for batch in data.batches():
        unseen = {name for name in unseen if batch.column(name).null_count == batch.num_rows}
        if not unseen:
            return False
    return True


def arrow_ready(data: StoredTable, steps: Sequence[Any]) -> bool:
    """True when the Arrow path gives the pandas path's result for these steps (`PlannedStep`s)."""
    if any(step.name not in ARROW_STEPS for step in steps):
        return False
    schema = data.schema
    names = schema.names
    if data.num_rows == 0 or len(set(names)) != len(names) or not all(_known(t) for t in schema.types):
        return False
    types = dict(zip(names, schema.types))
    for step in steps:  # follow the column types to each cast (an unknown name fails when the step runs)
        if step.name == "select":
            types = {name: types[name] for name in step.args if name in types}
        elif step.name == "drop":
            types = {name: t for name, t in types.items() if name not in step.args}
        elif step.name == "rename":
            types = {step.args.get(name, name): t for name, t in types.items()}
        elif step.name == "cast":
            for column, type_ in step.args.items():
                if type_ not in _CAST_RESULTS or (type_ == "string" and column in types and not converts_to_string(types[column])):
                    return False
                types[column] = _CAST_RESULTS[type_]
    return not _all_null_column(data, names)


def normalised(batch: pa.RecordBatch) -> pa.Table:
    """The batch as the pandas path holds it: `to_arrow(to_pandas(batch))`, no schema metadata."""
    return pa.Table.from_arrays([_round_trip(column) for column in batch.columns], names=batch.schema.names)


def _round_trip(a: pa.Array) -> pa.Array:
    t = a.type
    if pa.types.is_integer(t):
        return a.cast(pa.int64())
    if pa.types.is_large_string(t):
        return a.cast(pa.string())
    if pa.types.is_floating(t):
        nan = pc.is_nan(a)
        return pc.if_else(nan, pa.scalar(None, t), a) if pc.any(nan).as_py() else a
    if pa.types.is_timestamp(t):
        sentinel = pc.equal(a.view(pa.int64()), _INT64_MIN)
        return pc.if_else(sentinel, pa.scalar(None, t), a) if pc.any(sentinel).as_py() else a
    return a
