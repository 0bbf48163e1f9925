"""The `cast` step's fast paths: conversions done in Arrow (`pyarrow.compute`).

Each function returns the Arrow form of what `cast` gives (see `etl_assets.steps.cast`: float NaN
stored as null, datetimes in ns), or None when it cannot decide: an input type it does not handle,
or a value that Arrow's parser rejects. Then the per-value functions of `cast` run and decide the
result or the error. Arrow's parsers accept a subset of what those functions accept, with the same
value; the extra checks below exclude the forms where they would differ (hex integers, a timestamp
at the NaT sentinel). Text is tried as it is, then with ASCII whitespace stripped and empty strings
as null (Python's `str.strip` strips a superset; a value with other whitespace is rejected).
"""
from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, Callable

import pyarrow as pa
import pyarrow.compute as pc

from ..arrow_values import scalar

if TYPE_CHECKING:
    import pandas as pd

_ASCII_SPACE = " \t\n\r\x0b\x0c"
_INT64_MIN = -(2**63)
_TIMESTAMPS = (pa.timestamp("ns"), pa.timestamp("ns", tz="UTC"))


@cache
def _pandas_types() -> dict[pa.DataType, Any]:
    import pandas as pd

    return {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}


def _is_int(t: pa.DataType) -> bool:
    """Integer types `to_pandas` reads as Int64 (uint64 can become float there)."""
    return pa.types.is_integer(t) and t != pa.uint64()


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _stripped(a: pa.Array) -> pa.Array:
    """ASCII whitespace stripped, empty strings null."""
    trimmed = pc.utf8_trim(a, characters=_ASCII_SPACE)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, a.type), trimmed)


def _parse(a: pa.Array, to: pa.DataType) -> pa.Array | None:
    """Text -> `to` with Arrow's parser; None when a value is rejected even once stripped."""
    try:
        return pc.cast(a, to)
    except pa.ArrowInvalid:
        pass
    try:
        return pc.cast(_stripped(a), to)
    except pa.ArrowInvalid:
        return None


def _null_nan(a: pa.Array) -> pa.Array:
    """Float NaN as null, as pandas hands NaN to Arrow."""
    nan = pc.is_nan(a)
    return pc.if_else(nan, pa.scalar(None, a.type), a) if pc.any(nan).as_py() else a


def converts_to_string(t: pa.DataType) -> bool:
    """Input types `fast_cast` turns into text (null exactly where the input is null)."""
    return _is_text(t) or _is_int(t) or pa.types.is_boolean(t)


def _to_string(a: pa.Array) -> pa.Array | None:
    if not converts_to_string(a.type):
        return None
    if pa.types.is_boolean(a.type):
        return pc.if_else(a, "True", "False")
    return a.cast(pa.string())


def _to_integer(a: pa.Array) -> pa.Array | None:
    if _is_int(a.type) or pa.types.is_boolean(a.type):
        return pc.cast(a, pa.int64())
    if not _is_text(a.type):
        return None
    out = _parse(a, pa.int64())
    if out is None or pc.any(pc.match_substring(a, "x", ignore_case=True)).as_py():  # Arrow reads 0x1F
        return None
    return out


def _to_float(a: pa.Array) -> pa.Array | None:
    t = a.type
    if _is_int(t) or pa.types.is_boolean(t) or pa.types.is_floating(t):
        return _null_nan(pc.cast(a, pa.float64(), safe=False))
    out = _parse(a, pa.float64()) if _is_text(t) else None
    return None if out is None else _null_nan(out)


def _to_boolean(a: pa.Array) -> pa.Array | None:
    t = a.type
    if pa.types.is_boolean(t):
        return a
    if _is_int(t):
        low, high = pc.min_max(a).values()
        ok = low.as_py() is None or (low.as_py() >= 0 and high.as_py() <= 1)
        return pc.cast(a, pa.bool_()) if ok else None
    return _parse(a, pa.bool_()) if _is_text(t) else None


def _to_datetime(a: pa.Array) -> pa.Array | None:
    """All values naive (-> timestamp[ns]) or all with a zone (-> timestamp[ns, UTC]); a column
    that mixes them, or any other form, is left to `cast`."""
    if not _is_text(a.type):
        return None
    if a.null_count == len(a):
        return pa.nulls(len(a), _TIMESTAMPS[0])
    first = a[pc.index(a.is_valid(), scalar(True)).as_py()].as_py().rstrip()
    order = _TIMESTAMPS[::-1] if first.endswith("Z") or "+" in first[10:] or "-" in first[10:] else _TIMESTAMPS
    for to in order:
        out = _parse(a, to)
        if out is not None:
            low = pc.min(out.cast(pa.int64())).as_py()
            return out if low != _INT64_MIN else None  # pandas reads that value as NaT
    return None


_FAST: dict[str, Callable[[pa.Array], pa.Array | None]] = {
    "string": _to_string,
    "integer": _to_integer,
    "float": _to_float,
    "boolean": _to_boolean,
    "datetime": _to_datetime,
}


def fast_cast(array: pa.Array, type_: str) -> pa.Array | None:
    """The Arrow result of casting `array` (as `to_pandas` reads it) to `type_`, or None."""
    convert = _FAST.get(type_)
    return convert(array) if convert is not None else None


def cast_array(array: pa.Array | pa.ChunkedArray, type_: str, column: str, start: int = 0) -> pa.Array:
    """Convert one Arrow column whose first value is row `start` (0-based) of the table: what
    `cast.cast_series` gives for the column as `to_pandas` reads it, stored as Arrow (NaN as null).
    pandas is imported only for a column `fast_cast` does not decide."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    fast = fast_cast(array, type_)
    if fast is not None:
        return fast
    from .cast import cast_array_by_pandas

    return cast_array_by_pandas(array, type_, column, start)


def fast_cast_series(series: pd.Series, type_: str) -> pd.Series | None:
    """`fast_cast` for a pandas column of text (or integers/booleans to string), or None."""
    import pandas as pd
    from pandas.api import types as ptypes

    dtype = series.dtype
    textual = dtype == object or ptypes.is_string_dtype(dtype)
    if type_ not in _FAST or not (textual or (type_ == "string" and (ptypes.is_integer_dtype(dtype) or ptypes.is_bool_dtype(dtype)))):
        return None
    try:
        array = pa.array(series, from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError, OverflowError, UnicodeError):
        return None
    out = fast_cast(array, type_)
    if out is None:
        return None
    return pd.Series(out.to_pandas(types_mapper=_pandas_types().get).array, index=series.index)
