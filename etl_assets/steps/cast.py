"""The `cast` step's conversions, one function per column type.

Rules (documented for users):
- Nulls (None, NaN, NA, NaT) stay null. A string that is empty or only whitespace counts as null
  for every type except `string`. Strings are stripped of surrounding whitespace before parsing.
- integer -> nullable Int64. Accepts integers, booleans (1/0), floats and decimals without a
  fraction (1.0 -> 1; 1.5 is an error, never truncated) and numeric strings ("12", "+12", "12.0",
  "1e3"). Values outside the 64-bit range are errors. Dates/times are errors.
- float -> float64. Accepts numbers, booleans (1.0/0.0) and numeric strings, including
  "nan"/"inf"/"-inf" (case-insensitive; "nan" becomes null).
- string -> Python `str` objects: `str(value)` (Int64 1 -> "1", float 1.0 -> "1.0",
  boolean -> "True"/"False", date -> "2013-01-01", datetime -> "2013-01-01 05:00:00[+00:00]").
- boolean -> nullable boolean. Strings true/false, t/f, yes/no, y/n, 1/0 (case-insensitive);
  numbers 1 and 0; anything else is an error.
- date -> `datetime.date` objects. Accepts ISO 8601 dates and date-times (the time of day is
  dropped, as SQL's CAST(... AS DATE) does; a value with a UTC offset is first converted to UTC),
  dates and datetimes.
- datetime -> datetime64[ns]. When any value of the column carries a timezone (a tz-aware column,
  or a string ending in Z / +hh:mm) the result is datetime64[ns, UTC] and naive values are read as
  UTC; otherwise naive datetime64[ns]. Accepts ISO 8601 strings ("2013-01-01", "2013-01-01 05:00",
  "2013-01-01T05:00:00Z"), dates and datetimes.
- decimal -> `decimal.Decimal` objects. Integers exactly; floats by their shortest repr
  (0.1 -> Decimal("0.1")); numeric strings exactly; NaN/Infinity strings are errors.
A value that cannot be converted is an error naming the column, the row (1-based position of the
data row in the table that enters the step, header not counted) and the value.

Speed: the common inputs are converted in Arrow (`pyarrow.compute`): text to datetime when every
value is in a form Arrow's ISO 8601 parser reads (a subset of what pandas reads, with the same
result), text to integer/float/boolean, integers and booleans to text. Any other input, and any
chunk with a value the Arrow conversion rejects, goes through the per-type functions below, which
decide the result and the error.
"""
from __future__ import annotations

import datetime as dt
import math
import re
import warnings
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

import numpy as np
import pandas as pd
import pyarrow as pa
from pandas.api import types as ptypes

from ..tables import to_pandas
from .cast_arrow import fast_cast_series
from .errors import CastProblem

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_SPECIAL_FLOAT = re.compile(r"^[+-]?(inf|infinity|nan)$", re.IGNORECASE)
_TZ_SUFFIX = re.compile(r"(\d:\d\d(:\d\d([.,]\d+)?)?|[T ]\d\d)\s*(z|[+-]\d\d(:?\d\d)?)$", re.IGNORECASE)
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class _Bad(Exception):
    """One value cannot be converted."""


def cast_series(series: pd.Series, type_: str, column: str) -> pd.Series:
    """Convert one column; the series' index holds each row's 0-based position in the table."""
    fast = fast_cast_series(series, type_)
    return fast if fast is not None else _CASTS[type_](series, column)


def cast_array_by_pandas(array: pa.Array, type_: str, column: str, start: int = 0) -> pa.Array:
    """`cast_arrow.cast_array` for the columns Arrow does not decide: the column as `to_pandas`
    reads it, through the pandas cast, stored as Arrow (NaN as null)."""
    series = to_pandas(pa.table({column: array}))[column]
    series.index = pd.RangeIndex(start, start + len(series))
    return pa.array(_CASTS[type_](series, column), from_pandas=True)


def _fail(series: pd.Series, position: int, column: str, type_: str, why: str = "") -> CastProblem:
    label = series.index[position]
    row = int(label) + 1 if isinstance(label, (int, np.integer)) else position + 1
    return CastProblem(column, row, series.iloc[position], type_, why)


def _is_null(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, (float, np.floating)):
        return math.isnan(value)
    if isinstance(value, (np.datetime64, np.timedelta64)):
        return bool(np.isnat(value))
    return False


def _per_value(series: pd.Series, column: str, type_: str, convert: Callable[[Any], Any]) -> list[Any]:
    """Apply `convert` to each non-null value (None for nulls); the first failure is an error."""
    out: list[Any] = []
    for i, value in enumerate(series.array):
        if _is_null(value):
            out.append(None)
            continue
        if isinstance(value, str) and type_ != "string":
            value = value.strip()
            if not value:
                out.append(None)
                continue
        try:
            out.append(convert(value))
        except (_Bad, ValueError, TypeError, ArithmeticError, OverflowError) as exc:
            raise _fail(series, i, column, type_, str(exc) if isinstance(exc, _Bad) else "") from None
    return out


def _is_datetime_like(dtype: Any) -> bool:
    return ptypes.is_datetime64_any_dtype(dtype) or ptypes.is_timedelta64_dtype(dtype) or isinstance(dtype, pd.PeriodDtype)


# ---- integer ---------------------------------------------------------------------------------

def _int_value(value: Any) -> int:
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        number: Any = int(value)
    elif isinstance(value, (float, np.floating)):
        if not math.isfinite(value) or not float(value).is_integer():
            raise _Bad()
        number = int(value)
    elif isinstance(value, Decimal):
        if not value.is_finite() or value != value.to_integral_value():
            raise _Bad()
        number = int(value)
    elif isinstance(value, str):
        if not _NUMBER.match(value):
            raise _Bad()
        d = Decimal(value)
        if d != d.to_integral_value():
            raise _Bad()
        number = int(d)
    else:
        raise _Bad()
    if not _INT64_MIN <= number <= _INT64_MAX:
        raise _Bad("outside the 64-bit integer range")
    return number


def to_integer(series: pd.Series, column: str) -> pd.Series:
    dtype = series.dtype
    if ptypes.is_integer_dtype(dtype) or ptypes.is_bool_dtype(dtype):
        if ptypes.is_unsigned_integer_dtype(dtype):
            too_big = series.to_numpy(dtype="float64", na_value=np.nan) > _INT64_MAX
            if too_big.any():
                raise _fail(series, int(np.argmax(too_big)), column, "integer", "outside the 64-bit integer range")
        return series.astype("Int64")
    if ptypes.is_float_dtype(dtype):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        present = ~np.isnan(values)
        with np.errstate(invalid="ignore"):
            bad = present & (~np.isfinite(values) | (np.floor(values) != values) | (np.abs(values) >= 2.0**63))
        if bad.any():
            raise _fail(series, int(np.argmax(bad)), column, "integer")
        out = np.zeros(len(values), dtype="int64")
        out[present] = values[present].astype("int64")
        return pd.Series(pd.arrays.IntegerArray(out, ~present), index=series.index)
    if _is_datetime_like(dtype):
        raise _fail(series, _first_present(series), column, "integer")
    return pd.Series(pd.array(_per_value(series, column, "integer", _int_value), dtype="Int64"), index=series.index)


def _first_present(series: pd.Series) -> int:
    present = series.notna().to_numpy()
    return int(np.argmax(present)) if present.any() else 0


def _reject_non_null_datetimes(series: pd.Series, column: str, type_: str) -> None:
    if series.notna().any():
        raise _fail(series, _first_present(series), column, type_)


# ---- float -----------------------------------------------------------------------------------

def _float_value(value: Any) -> float:
    if isinstance(value, (bool, np.bool_, int, np.integer, float, np.floating, Decimal)):
        if isinstance(value, Decimal) and value.is_snan():
            raise _Bad()
        return float(value)
    if isinstance(value, str) and (_NUMBER.match(value) or _SPECIAL_FLOAT.match(value)):
        return float(value)
    raise _Bad()


def to_float(series: pd.Series, column: str) -> pd.Series:
    dtype = series.dtype
    if ptypes.is_numeric_dtype(dtype) or ptypes.is_bool_dtype(dtype):
        return pd.Series(series.to_numpy(dtype="float64", na_value=np.nan), index=series.index)
    if _is_datetime_like(dtype):
        _reject_non_null_datetimes(series, column, "float")
    values = _per_value(series, column, "float", _float_value)
    return pd.Series(np.array([np.nan if v is None else v for v in values], dtype="float64"), index=series.index)


# ---- string ----------------------------------------------------------------------------------

def _string_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8")
    return str(value)


def to_string(series: pd.Series, column: str) -> pd.Series:
    if series.dtype == object and all(isinstance(v, str) or _is_null(v) for v in series.array):
        values = [None if _is_null(v) else v for v in series.array]
    else:
        values = _per_value(series, column, "string", _string_value)
    return pd.Series(values, index=series.index, dtype=object)


# ---- boolean ---------------------------------------------------------------------------------

def _bool_value(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer, float, np.floating, Decimal)):
        if value == 1:
            return True
        if value == 0:
            return False
        raise _Bad()
    if isinstance(value, str):
        text = value.lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise _Bad()


def to_boolean(series: pd.Series, column: str) -> pd.Series:
    if ptypes.is_bool_dtype(series.dtype):
        return series.astype("boolean")
    if _is_datetime_like(series.dtype):
        _reject_non_null_datetimes(series, column, "boolean")
    return pd.Series(pd.array(_per_value(series, column, "boolean", _bool_value), dtype="boolean"), index=series.index)


# ---- date and datetime -----------------------------------------------------------------------

def _is_aware(value: Any) -> bool:
    if isinstance(value, str):
        return bool(_TZ_SUFFIX.search(value))
    return isinstance(value, dt.datetime) and value.tzinfo is not None


def _parse_datetimes(series: pd.Series, column: str, type_: str) -> pd.Series:
    """Object values (ISO strings, dates, datetimes) -> datetime64[ns] (UTC when any is aware)."""
    if _is_datetime_like(series.dtype) and not ptypes.is_datetime64_any_dtype(series.dtype):
        _reject_non_null_datetimes(series, column, type_)
    if ptypes.is_datetime64_any_dtype(series.dtype):
        if getattr(series.dtype, "tz", None) is not None:
            return series.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
        return series.astype("datetime64[ns]")
    if not (series.dtype == object or ptypes.is_string_dtype(series.dtype)):
        _reject_non_null_datetimes(series, column, type_)

    values: list[Any] = []
    for i, value in enumerate(series.array):
        if _is_null(value):
            values.append(None)
        elif isinstance(value, str):
            values.append(value.strip() or None)
        elif isinstance(value, (dt.date, pd.Timestamp, np.datetime64)):
            values.append(value)
        else:
            raise _fail(series, i, column, type_)
    present = np.array([v is not None for v in values], dtype=bool)
    aware_mask = present & np.array([_is_aware(v) for v in values], dtype=bool)
    # Parse naive and aware values apart: pandas lets an offset leak onto later naive strings.
    naive_rows = np.flatnonzero(present & ~aware_mask)
    naive, zoned = _naive_timestamps(values, naive_rows)
    if zoned.any():  # zones written in a way the pattern misses
        aware_mask[naive_rows[zoned]] = True
        naive_rows, naive = naive_rows[~zoned], naive[~zoned]
    aware_rows = np.flatnonzero(aware_mask)
    utc = _timestamps(values, aware_rows, utc=True)
    bad = np.concatenate([naive_rows[naive.isna().to_numpy()], aware_rows[utc.isna().to_numpy()]])
    if len(bad):
        raise _fail(series, int(bad.min()), column, type_)
    aware = len(aware_rows) > 0
    out = pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns, UTC]" if aware else "datetime64[ns]")
    if aware:
        out.iloc[aware_rows] = utc.array
        out.iloc[naive_rows] = naive.dt.tz_localize("UTC").array
    else:
        out.iloc[naive_rows] = naive.to_numpy()
    return out


def _timestamps(values: list[Any], rows: np.ndarray, utc: bool) -> pd.Series:
    """The values at `rows` parsed as ISO 8601 (unparseable ones NaT)."""
    chunk = pd.Series([values[i] for i in rows], dtype=object)
    return pd.to_datetime(chunk, format="ISO8601", errors="coerce", utc=utc)


def _naive_timestamps(values: list[Any], rows: np.ndarray) -> tuple[pd.Series, np.ndarray]:
    """`_timestamps` without UTC for values the pattern finds no zone in, and a mask of those
    that pandas reads with a zone after all (NaT in the result)."""
    parsed = _parse_naive(values, rows)
    zoned = np.zeros(len(rows), dtype=bool)
    if parsed is not None and ptypes.is_datetime64_dtype(parsed.dtype):
        return parsed, zoned
    # pandas found a zone, and may carry it on to the values after it: judge the doubtful values alone
    stamps = list(parsed) if parsed is not None else [pd.NaT] * len(rows)
    for k, stamp in enumerate(stamps):
        if parsed is None or stamp is pd.NaT or stamp.tzinfo is not None:
            alone = _parse_naive(values, rows[k : k + 1])
            zoned[k] = alone is None or not ptypes.is_datetime64_dtype(alone.dtype)
            stamps[k] = pd.NaT if zoned[k] else alone.iloc[0]
    return pd.Series(stamps, dtype="datetime64[ns]"), zoned


def _parse_naive(values: list[Any], rows: np.ndarray) -> pd.Series | None:
    """`_timestamps(utc=False)`: object or tz-aware when pandas finds zones (None where pandas
    refuses mixed zones)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # mixed zones: object dtype (an error in later pandas)
            return _timestamps(values, rows, utc=False)
    except ValueError:
        return None


def to_datetime(series: pd.Series, column: str) -> pd.Series:
    try:
        return _parse_datetimes(series, column, "datetime")
    except (pd.errors.OutOfBoundsDatetime, OverflowError) as exc:
        raise _out_of_bounds(series, column, "datetime") from exc


def _out_of_bounds(series: pd.Series, column: str, type_: str) -> CastProblem:
    for i, value in enumerate(series.array):
        if _is_null(value):
            continue
        try:
            pd.Timestamp(value.strip() if isinstance(value, str) else value).as_unit("ns")
        except Exception:  # noqa: BLE001 - any value pandas cannot hold
            return _fail(series, i, column, type_, "outside the supported range 1677-2262")
    return _fail(series, _first_present(series), column, type_)


def to_date(series: pd.Series, column: str) -> pd.Series:
    if series.dtype == object and all(type(v) is dt.date or _is_null(v) for v in series.array):
        return pd.Series([None if _is_null(v) else v for v in series.array], index=series.index, dtype=object)
    if ptypes.is_datetime64_any_dtype(series.dtype):
        stamps = series.dt.tz_convert("UTC") if getattr(series.dtype, "tz", None) is not None else series
    else:
        try:
            stamps = _parse_datetimes(series, column, "date")
        except (pd.errors.OutOfBoundsDatetime, OverflowError):
            raise _out_of_bounds(series, column, "date") from None
    dates = [None if _is_null(v) else v.date() for v in stamps.array]
    return pd.Series(dates, index=series.index, dtype=object)


# ---- decimal ---------------------------------------------------------------------------------

def _decimal_value(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise _Bad()
        return value
    if isinstance(value, (bool, np.bool_)):
        return Decimal(int(value))
    if isinstance(value, (int, np.integer)):
        return Decimal(int(value))
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            raise _Bad()
        return Decimal(repr(float(value)))
    if isinstance(value, str) and _NUMBER.match(value):
        try:
            return Decimal(value)
        except InvalidOperation:
            raise _Bad() from None
    raise _Bad()


def to_decimal(series: pd.Series, column: str) -> pd.Series:
    if _is_datetime_like(series.dtype):
        _reject_non_null_datetimes(series, column, "decimal")
    return pd.Series(_per_value(series, column, "decimal", _decimal_value), index=series.index, dtype=object)


_CASTS: dict[str, Callable[[pd.Series, str], pd.Series]] = {
    "integer": to_integer,
    "float": to_float,
    "string": to_string,
    "boolean": to_boolean,
    "date": to_date,
    "datetime": to_datetime,
    "decimal": to_decimal,
}
