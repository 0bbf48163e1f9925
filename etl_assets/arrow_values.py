"""Arrow values from Python and numpy values, and back, without importing pandas.

pyarrow imports pandas (~0.25 s, ~40 MB) at its first conversion of a Python value: `pa.scalar`,
`pa.array` of a list or numpy array, `to_numpy`, `as_py()` of a timestamp. A run's code paths build
such values here instead, from bytes and buffers (docs/architecture.md).
"""
from __future__ import annotations

import struct
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

import numpy as np
import pyarrow as pa

_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)


def scalar(value: Any) -> pa.Scalar:
    """`pa.scalar(value)` for bool, str, int, float and datetime (naive or UTC) values; a UUID
    becomes its 16 bytes (`binary(16)`)."""
    if isinstance(value, bool):
        return pa.Array.from_buffers(pa.bool_(), 1, [None, pa.py_buffer(bytes([value]))])[0]
    if isinstance(value, str):
        return string_array([value])[0]
    if isinstance(value, int) and -(2**63) <= value < 2**63:
        return int64_array([value])[0]
    if isinstance(value, uuid.UUID):
        return pa.Array.from_buffers(pa.binary(16), 1, [None, pa.py_buffer(value.bytes)])[0]
    if isinstance(value, float):
        return pa.Array.from_buffers(pa.float64(), 1, [None, pa.py_buffer(struct.pack("<d", value))])[0]
    if isinstance(value, datetime) and value.tzinfo in (None, timezone.utc):
        micros = (value.replace(tzinfo=None) - _EPOCH) // _MICROSECOND
        type_ = pa.timestamp("us", tz="UTC" if value.tzinfo else None)
        return pa.Array.from_buffers(type_, 1, [None, pa.py_buffer(struct.pack("<q", micros))])[0]
    return pa.scalar(value)


def string_array(values: Sequence[str]) -> pa.Array:
    """`pa.array(values, pa.string())`."""
    data = [v.encode() for v in values]
    offsets = [0]
    for item in data:
        offsets.append(offsets[-1] + len(item))
    return pa.Array.from_buffers(pa.string(), len(data), [None, pa.py_buffer(struct.pack(f"<{len(offsets)}i", *offsets)), pa.py_buffer(b"".join(data))])


def int64_array(values: Sequence[int]) -> pa.Array:
    """`pa.array(values, pa.int64())`; the values must fit in int64."""
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(struct.pack(f"<{len(values)}q", *values))])


_PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}


def python_value(value: pa.Scalar) -> Any:
    """`value.as_py()`; a naive or UTC timestamp is made here (pyarrow imports pandas for it)."""
    t = value.type
    if pa.types.is_timestamp(t) and value.is_valid and t.tz in (None, "UTC"):
        ticks, per = value.cast(pa.int64()).as_py(), _PER_SECOND[t.unit]
        if per <= 10**6 or ticks % 1000 == 0:  # else nanoseconds: a pandas Timestamp holds them
            moment = _EPOCH + timedelta(microseconds=ticks * (10**6 // per) if per <= 10**6 else ticks // 1000)
            return moment.replace(tzinfo=timezone.utc) if t.tz else moment
    return value.as_py()


def python_values(column: pa.Array | pa.ChunkedArray) -> list[Any]:
    """`column.to_pylist()`, naive and UTC timestamps made as by `python_value`."""
    if pa.types.is_timestamp(column.type):
        return [python_value(v) for v in column]
    return column.to_pylist()


def numpy_array(values: np.ndarray) -> pa.Array:
    """`pa.array(values)` for a 1-d numpy array of bools or int64s."""
    if values.dtype == np.bool_:
        return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(np.packbits(values, bitorder="little"))])
    if values.dtype == np.int64:
        return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(np.ascontiguousarray(values))])
    return pa.array(values)
