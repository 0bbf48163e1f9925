"""Shared by the SQL dialects: table names, Arrow types -> column categories, and the row hash.

A *category* is the dialect-neutral kind of a column: integer, float, decimal, bool, string,
binary, date, time, timestamp (naive), timestamptz (UTC instant); "null" for an all-null column
of the load; and for existing tables "datetime" (MySQL DATETIME: holds naive and UTC values)
and "other" (a type the framework does not write, e.g. uuid or json).
"""
from __future__ import annotations

import binascii

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from etl_assets.arrow_values import scalar
from etl_assets.targets import TargetError

try:
    from etl_assets.targets.sql import _rowhash  # C, built by pip install (setup.py)
except ImportError:  # no compiler at install: numpy and pandas hash alike
    _rowhash = None  # type: ignore[assignment]

RESERVED_PREFIX = "_etl_"
LOADED_AT = "_etl_loaded_at"
RUN_ID = "_etl_run_id"
ROW_HASH = "_etl_row_hash"
HASH_BYTES = 16
HASH_TYPE = pa.binary(HASH_BYTES)

UTC_US = pa.timestamp("us", tz="UTC")
NAIVE_US = pa.timestamp("us")


# ---------------------------------------------------------------------------- table names


@dataclass(frozen=True)
class TableName:
    """`schema.table` split on the first dot; `schema` is None for an unqualified name."""

    schema: str | None
    name: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name

    def with_name(self, name: str) -> "TableName":
        return TableName(self.schema, name)


def parse_table(table: str) -> TableName:
    """`analytics.flights` -> (analytics, flights); `flights` -> (None, flights)."""
    schema, dot, name = table.partition(".")
    if not dot:
        schema, name = "", table
    if not name or (dot and not schema):
        raise TargetError(f"table {table!r}: expected 'table' or 'schema.table'")
    return TableName(schema or None, name)


def derived_name(base: str, suffix: str, limit: int) -> str:
    """`base + suffix`, shortened with a hash of `base` when longer than `limit` characters."""
    if len(base) + len(suffix) <= limit:
        return base + suffix
    digest = hashlib.sha1(base.encode()).hexdigest()[:8]
    return f"{base[: limit - len(suffix) - 9]}_{digest}{suffix}"


# ---------------------------------------------------------------------------- Arrow types


def arrow_category(t: pa.DataType) -> str:
    """The category of a canonical Arrow type (see `canonical_type`)."""
    checks = [
        (pa.types.is_null, "null"),
        (pa.types.is_boolean, "bool"),
        (pa.types.is_integer, "integer"),
        (pa.types.is_floating, "float"),
        (pa.types.is_decimal, "decimal"),
        (lambda x: pa.types.is_string(x) or pa.types.is_large_string(x), "string"),
        (lambda x: pa.types.is_binary(x) or pa.types.is_large_binary(x) or pa.types.is_fixed_size_binary(x), "binary"),
        (pa.types.is_date, "date"),
        (pa.types.is_time, "time"),
    ]
    for check, category in checks:
        if check(t):
            return category
    if pa.types.is_timestamp(t):
        return "timestamptz" if t.tz else "timestamp"
    raise TypeError(f"unsupported type {t}")


def canonical_type(t: pa.DataType) -> pa.DataType:
    """The Arrow type the framework writes: int64, float64, microsecond timestamps in UTC, ...

    Raises TypeError for nested and other types no SQL column holds (lists, structs, durations).
    """
    if pa.types.is_dictionary(t):
        return canonical_type(t.value_type)
    if pa.types.is_integer(t):
        return pa.int64()
    if pa.types.is_floating(t):
        return pa.float64()
    if pa.types.is_decimal(t):
        return pa.decimal128(t.precision, t.scale) if t.precision <= 38 else t
    if pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_binary_view(t) or pa.types.is_fixed_size_binary(t):
        return pa.binary()
    if pa.types.is_date(t):
        return pa.date32()
    if pa.types.is_time(t):
        return pa.time64("us")
    if pa.types.is_timestamp(t):
        return UTC_US if t.tz else NAIVE_US
    arrow_category(t)  # raises for anything else
    return t


def cast_column(column: pa.Array | pa.ChunkedArray, to: pa.DataType) -> pa.Array:
    """Cast to `to`; sub-microsecond timestamp digits are truncated (SQL stores microseconds)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if column.type == to:
        return column
    if pa.types.is_null(column.type):
        return pa.nulls(len(column), to)
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    lossy = pa.types.is_timestamp(to) or pa.types.is_time(to)
    return pc.cast(column, to, safe=not lossy)


# ---------------------------------------------------------------------------- existing tables

TABLE_ACCEPTS: dict[str, frozenset[str]] = {
    "integer": frozenset({"integer"}),
    "float": frozenset({"float", "integer"}),
    "decimal": frozenset({"decimal", "integer"}),
    "datetime": frozenset({"timestamp", "timestamptz"}),
}
"""Load categories a table column of a category accepts (besides its own and all-null)."""

TABLE_ARROW: dict[str, pa.DataType] = {
    "integer": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "string": pa.string(),
    "binary": pa.binary(),
    "date": pa.date32(),
    "time": pa.time64("us"),
    "timestamp": NAIVE_US,
    "timestamptz": UTC_US,
    "datetime": NAIVE_US,
    "decimal": pa.decimal128(38, 10),
    "other": pa.string(),
}
"""The Arrow type an all-null load column takes in an existing column of a category."""


def db_category(db_type: str) -> str:
    """Best-effort category of a column type as the database reports it."""
    t = db_type.lower().strip()
    if t.startswith("timestamp"):
        return "timestamptz" if "with time zone" in t or t.startswith("timestamptz") else "timestamp"
    if t.startswith("datetime"):
        return "timestamp"
    rules = [
        (("bool", "boolean"), "bool"),
        (("date",), "date"),
        (("time",), "time"),
        (("bigint", "int", "smallint", "tinyint", "mediumint", "integer", "int2", "int4", "int8", "serial", "bigserial"), "integer"),
        (("numeric", "decimal", "number"), "decimal"),
        (("double", "float", "real", "float4", "float8"), "float"),
        (("text", "varchar", "character", "char", "bpchar", "clob", "string", "nvarchar", "nchar", "longtext", "mediumtext", "tinytext"), "string"),
        (("bytea", "blob", "binary", "varbinary", "longblob", "mediumblob", "tinyblob"), "binary"),
    ]
    head = t.split("(")[0].split()[0] if t else ""
    for names, category in rules:
        if head in names:
            return category
    return "other"


def accepts(table_category: str, load_category: str) -> bool:
    """Whether values of `load_category` may be written into a column of `table_category`."""
    if load_category == "null" or load_category == table_category:
        return True
    return load_category in TABLE_ACCEPTS.get(table_category, frozenset())


def value_type_for(table_category: str, load_type: pa.DataType) -> pa.DataType:
    """The Arrow type load values are cast to before they are written to (and hashed for) an
    existing column: all-null columns take the column's type, integers written to a float column
    become floats; everything else keeps its load type."""
    load_category = arrow_category(load_type)
    if load_category == "null":
        return TABLE_ARROW.get(table_category, pa.string())
    if table_category == "float" and load_category == "integer":
        return pa.float64()
    return load_type


# ---------------------------------------------------------------------------- partition windows


def window_bounds(category: str, start: datetime, end: datetime) -> tuple[object, object]:
    """The window's bounds as values comparable with a column of `category`.

    timestamptz: UTC instants (naive bounds are taken as UTC); timestamp: the bounds' wall-clock
    time (naive values are local to the partition's timezone); date: the first date at or after
    each bound, so `d >= lo and d < hi` selects exactly the dates whose midnight is in the window.
    """
    if category == "timestamptz":
        return tuple(_utc(b) for b in (start, end))  # type: ignore[return-value]
    if category in ("timestamp", "datetime"):
        return start.replace(tzinfo=None), end.replace(tzinfo=None)
    if category == "date":
        return _date_at_or_after(start), _date_at_or_after(end)
    raise TypeError(f"a partition column must be a date or timestamp, not {category}")


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _date_at_or_after(value: datetime) -> date:
    day = value.date()
    return day if value.time() == datetime.min.time() else day + timedelta(days=1)


def rows_outside(column: pa.Array, lo: object, hi: object) -> int:
    """Rows of `column` that are null or not in [lo, hi)."""
    inside = pc.and_(pc.greater_equal(column, pa.scalar(lo, column.type)), pc.less(column, pa.scalar(hi, column.type)))
    return len(column) - pc.sum(pc.fill_null(inside, False)).as_py() if len(column) else 0


def hex_text(column: pa.Array) -> pa.Array:
    """Binary values as lower-case hex text, vectorised: the data buffer is hex-encoded whole and
    the offsets doubled."""
    column = column.cast(pa.binary())
    validity, offsets, data = column.buffers()
    doubled = np.frombuffer(offsets, dtype=np.int32) * 2
    hexed = binascii.hexlify(data.to_pybytes() if data is not None else b"")
    return pa.Array.from_buffers(pa.string(), len(column), [validity, pa.py_buffer(doubled.tobytes()), pa.py_buffer(hexed)], offset=column.offset)


# ---------------------------------------------------------------------------- row hash

_HASH_KEYS = ("etl-row-hash-k01", "etl-row-hash-k02")  # siphash keys of the two 64-bit lanes
_LANE_SEEDS = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F))
_INT_LIKE = frozenset({"integer", "bool", "date", "time", "timestamp", "timestamptz", "datetime"})


def _mix(values: np.ndarray, own: bool = False) -> np.ndarray:
    """splitmix64's finaliser (uint64 in, uint64 out; wraps modulo 2**64); with `own`, in place."""
    v = values if own and values.dtype == np.uint64 else values.astype(np.uint64, copy=True)
    shifted = np.empty_like(v)
    for shift, factor in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB), (31, None)):
        np.right_shift(v, np.uint64(shift), out=shifted)
        v ^= shifted
        if factor is not None:
            v *= np.uint64(factor)
    return v


def _bytes_hashes(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """siphash-2-4 (pandas' hash_array, the lanes' fixed keys) of each UTF-8 string / byte string;
    each distinct value is hashed once (a null's hash is arbitrary: callers mask nulls)."""
    import pandas as pd

    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type) or pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type):
        encoded = pc.dictionary_encode(values)
        distinct = encoded.dictionary.to_numpy(zero_copy_only=False)
        codes = pc.fill_null(encoded.indices, 0).to_numpy(zero_copy_only=False)
        if not len(distinct):
            return np.zeros(len(values), np.uint64), np.zeros(len(values), np.uint64)
        return tuple(pd.util.hash_array(distinct, encoding="utf8", hash_key=key, categorize=False)[codes] for key in _HASH_KEYS)  # type: ignore[return-value]
    objects = pc.fill_null(values, "" if arrow_category(values.type) == "string" else b"").to_numpy(zero_copy_only=False)
    return tuple(pd.util.hash_array(objects, encoding="utf8", hash_key=key) for key in _HASH_KEYS)  # type: ignore[return-value]


def _decimal_text(values: pa.Array) -> pa.Array:
    """Decimal or integer values as text without trailing fractional zeros: 1.50 and 1.5 and
    (in a decimal column) the integer 1 vs 1.00 hash alike."""
    text = pc.cast(values, pa.string())
    text = pc.replace_substring_regex(text, r"(\.\d*?)0+$", r"\1")
    text = pc.replace_substring_regex(text, r"\.$", "")
    return pc.replace_substring_regex(text, r"^-0$", "0")


def _fixed_numpy(values: pa.Array, dtype: type) -> np.ndarray:
    """The values of a fixed-width array without nulls, as a numpy view of its data buffer
    (pyarrow's `to_numpy` imports pandas)."""
    if pa.types.is_boolean(values.type):
        bits = np.unpackbits(np.frombuffer(values.buffers()[1], np.uint8), bitorder="little")
        return bits[values.offset : values.offset + len(values)].astype(dtype)
    size = np.dtype(dtype).itemsize
    return np.frombuffer(values.buffers()[1], dtype, len(values), values.offset * size)


def _value_bits(values: pa.Array, category: str) -> np.ndarray:
    """Nulls filled; a 64-bit integer per value of a fixed-width category (no pandas import:
    the fill values come from `tables.scalar`, the numbers from the buffers)."""
    if category == "float":
        floats = _fixed_numpy(pc.fill_null(values.cast(pa.float64()), scalar(0.0)), np.float64)
        floats = np.where(np.isnan(floats), np.nan, floats + 0.0)  # one NaN; -0.0 == 0.0
        return floats.view(np.uint64)
    if category == "bool":
        return _fixed_numpy(pc.fill_null(values, scalar(False)), np.uint64)
    if pa.types.is_date32(values.type):
        values = values.view(pa.int32()).cast(pa.int64())
    elif not pa.types.is_integer(values.type):
        values = values.view(pa.int64())  # timestamps and time64: epoch / midnight microseconds
    return _fixed_numpy(pc.fill_null(values.cast(pa.int64()), scalar(0)), np.int64).view(np.uint64)


def column_hashes(values: pa.Array, category: str) -> tuple[np.ndarray, np.ndarray]:
    """A 64-bit hash of each value of one column per lane, computed from its typed value:
    integers, booleans, dates, times and timestamps (UTC epoch microseconds) by their integer,
    floats by their bit pattern, strings and bytes by siphash, decimals by their normalised text."""
    if category in ("string", "binary", "other"):
        return _bytes_hashes(values)
    if category == "decimal":
        return _bytes_hashes(_decimal_text(values))
    if category in _INT_LIKE or category == "float":
        bits = _value_bits(values, category)
        return _mix(bits ^ _LANE_SEEDS[0], own=True), _mix(bits ^ _LANE_SEEDS[1], own=True)
    raise TypeError(f"cannot hash a {category} column")


def row_hash(columns: list[tuple[str, pa.Array, str]]) -> pa.FixedSizeBinaryArray:
    """A 128-bit hash per row over (column name, typed value) pairs, as 16 bytes.

    `columns` holds (table column name, values, table column category). Only non-null values
    contribute, and they are summed, so column order does not matter, NULL equals NULL, NULL
    differs from an empty string, and a row missing a column hashes like a row where it is NULL
    (what the table stores). Two independent 64-bit lanes make collisions negligible.

    Each column's terms come from the C extension `_rowhash` (without the GIL) where it is built
    and the column's values are strings, bytes, decimals or fixed-width, else from numpy and
    pandas; both give the same hashes (a test compares them).
    """
    rows = len(columns[0][1]) if columns else 0
    totals = [np.zeros(rows, dtype=np.uint64), np.zeros(rows, dtype=np.uint64)]
    for name, values, category in columns:
        if not (_rowhash is not None and _add_native(totals, name, values, category)):
            _add_numpy(totals, name, values, category)
    lanes = [_mix(np.bitwise_xor(total, _LANE_SEEDS[lane], out=total), own=True) for lane, total in enumerate(totals)]
    raw = np.stack(lanes, axis=1).astype(">u8").tobytes()
    return pa.FixedSizeBinaryArray.from_buffers(HASH_TYPE, rows, [None, pa.py_buffer(raw)])


def _name_hash(name: str, lane: int) -> int:
    """pandas' hash_array of the column name with the lane's key."""
    if _rowhash is not None:
        return _rowhash.siphash(_HASH_KEYS[lane].encode(), name.encode())
    import pandas as pd

    return int(pd.util.hash_array(np.array([name], dtype=object), hash_key=_HASH_KEYS[lane])[0])


def _add_numpy(totals: list[np.ndarray], name: str, values: pa.Array, category: str) -> None:
    valid = ~np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    for lane, hashes in enumerate(column_hashes(values, category)):
        term = _mix(np.bitwise_xor(hashes, np.uint64(_name_hash(name, lane)), out=hashes), own=True)
        term[~valid] = 0
        totals[lane] += term


_VAR_WIDTH = {pa.string(): False, pa.binary(): False, pa.large_string(): True, pa.large_binary(): True}
"""Variable-width Arrow types `_rowhash.add_bytes` reads -> whether their offsets are 64-bit."""


def _add_native(totals: list[np.ndarray], name: str, values: pa.Array, category: str) -> bool:
    """Add the column's terms with `_rowhash`; False (nothing added) for values it does not read."""
    if not isinstance(values, pa.Array):
        return False
    if category in ("string", "binary", "other", "decimal"):
        if category == "decimal":
            values = _decimal_text(values)
        wide = _VAR_WIDTH.get(values.type)
        if wide is None:
            return False
        validity, offsets, data = values.buffers()
        for lane in (0, 1):
            _rowhash.add_bytes(totals[lane], _HASH_KEYS[lane].encode(), _name_hash(name, lane), len(values), values.offset, validity, offsets, data, wide)
        return True
    if category in _INT_LIKE or category == "float":
        bits = np.ascontiguousarray(_value_bits(values, category), dtype=np.uint64)
        validity = values.buffers()[0]
        for lane in (0, 1):
            _rowhash.add_bits(totals[lane], int(_LANE_SEEDS[lane]), _name_hash(name, lane), len(values), values.offset, validity, bits)
        return True
    return False
