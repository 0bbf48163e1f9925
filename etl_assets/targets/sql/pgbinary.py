"""Arrow record batches -> PostgreSQL's binary COPY format.

The framework's own encoder (`_pgcopy`, a C extension built at install) writes the column types
the loads produce (int64, float64, bool, text and bytea, date, time and timestamps in
microseconds) and releases the GIL while it works, so parsing and staging go on beside it. Other
types (decimals), or an install without the extension, use pgpq's encoder: the same bytes,
though pgpq holds the GIL throughout (about 1 s per million rows of 21 columns).
"""
from __future__ import annotations

from typing import Protocol

import pyarrow as pa

try:
    from etl_assets.targets.sql import _pgcopy
except ImportError:  # built without a C compiler: pgpq does all the encoding
    _pgcopy = None

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"

# the kinds of _pgcopy.c
_INT64, _FLOAT64, _BOOL, _VAR32, _VAR64, _FIXED, _DATE32, _TIME64_US, _TIMESTAMP_US = range(1, 10)


class Encoder(Protocol):
    """pgpq's encoder interface."""

    def write_header(self) -> bytes: ...
    def write_batch(self, batch: pa.RecordBatch) -> bytes: ...
    def finish(self) -> bytes: ...


def _kind(t: pa.DataType) -> int | None:
    if t == pa.int64():
        return _INT64
    if t == pa.float64():
        return _FLOAT64
    if t == pa.bool_():
        return _BOOL
    if t in (pa.string(), pa.binary()):
        return _VAR32
    if t in (pa.large_string(), pa.large_binary()):
        return _VAR64
    if pa.types.is_fixed_size_binary(t):
        return _FIXED
    if t == pa.date32():
        return _DATE32
    if t == pa.time64("us"):
        return _TIME64_US
    if pa.types.is_timestamp(t) and t.unit == "us":
        return _TIMESTAMP_US
    return None


class NativeEncoder:
    """Binary COPY encoding of batches of one schema, by `_pgcopy`, without the GIL."""

    def __init__(self, schema: pa.Schema, kinds: list[int]):
        self.schema = schema
        self._kinds = kinds

    def write_header(self) -> bytes:
        return HEADER

    def write_batch(self, batch: pa.RecordBatch) -> bytes:
        if batch.schema.types != self.schema.types:
            raise ValueError(f"batch types {batch.schema.types} differ from the encoder's {self.schema.types}")
        columns = []
        for kind, column in zip(self._kinds, batch.columns):
            buffers = column.buffers()
            validity = buffers[0] if column.null_count else None
            offsets, data = (buffers[1], buffers[2]) if kind in (_VAR32, _VAR64) else (None, buffers[1])
            width = column.type.byte_width if kind == _FIXED else 0
            columns.append((kind, column.offset, width, validity, offsets, data))
        assert _pgcopy is not None
        return _pgcopy.encode_rows(batch.num_rows, columns)

    def finish(self) -> bytes:
        return TRAILER


def encoder(schema: pa.Schema) -> Encoder:
    """The native encoder where it writes every column of `schema`, else pgpq's (ValueError
    for types neither can encode)."""
    kinds = [_kind(f.type) for f in schema]
    if _pgcopy is not None and all(k is not None for k in kinds):
        return NativeEncoder(schema, kinds)  # type: ignore[arg-type]
    from pgpq import ArrowToPostgresBinaryEncoder

    return ArrowToPostgresBinaryEncoder(schema)
