"""A quick Arrow look at one chunk of a column: do its `columns` rules surely pass?

pandera decides every failure; this only spares it (and the conversion to pandas) the chunks of
a column where nothing can fail. `surely_passes` answers True only when each row-level rule is
one it can judge on this column's Arrow type and no value breaks it:
- `nullable: false` on integers, booleans, text, dates and floats: no null (and no NaN, which
  pandas reads as null);
- ge/gt/le/lt on integers and floats (no NaN): the minimum/maximum against the bound, compared
  exactly (pandas compares in float64/float32, and rounding to those keeps `>=` and `<=`);
- isin/notin on text with text values, or on integers with integer values (`pc.is_in` matches
  as `Series.isin` does for those);
- min_length/max_length on text: `utf8_length` counts code points, as `len` does.
Any other rule or type (regex, booleans, dates, a column to convert first) goes to pandera.
Nulls pass every rule but `nullable: false`, as pandera's `ignore_na`.
"""
from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..config.models import ColumnRule
from ..arrow_values import int64_array, string_array

_RANGES = ("ge", "gt", "le", "lt")


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _is_int(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) and t != pa.uint64()


def _nulls_are_arrow_nulls(t: pa.DataType) -> bool:
    """Types where pandas sees a null exactly where Arrow has one (floats: also NaN)."""
    return pa.types.is_integer(t) or pa.types.is_boolean(t) or _is_text(t) or pa.types.is_date(t) or pa.types.is_floating(t)


def _has_nan(a: pa.Array) -> bool:
    return pa.types.is_floating(a.type) and bool(pc.any(pc.is_nan(a)).as_py())


def _in_range(a: pa.Array, rule: ColumnRule) -> bool:
    low, high = (s.as_py() for s in pc.min_max(a).values())
    if low is None:
        return True
    return all(
        bound is None or {"ge": low >= bound, "gt": low > bound, "le": high <= bound, "lt": high < bound}[key]
        for key, bound in ((k, getattr(rule, k)) for k in _RANGES)
    )


def _value_set(a: pa.Array, values: list[Any]) -> pa.Array | None:
    """The rule's values as an Arrow set of the column's kind, or None when they are not all of it."""
    if _is_text(a.type) and all(isinstance(v, str) for v in values):
        return string_array(values)
    if _is_int(a.type) and all(type(v) is int and -(2**63) <= v < 2**63 for v in values):
        return int64_array(values)
    return None


def _membership(a: pa.Array, values: list[Any] | None, wanted: bool) -> bool:
    """isin (wanted=True) / notin: every non-null value in / out of `values`."""
    if values is None:
        return True
    allowed = _value_set(a, values)
    if allowed is None:
        return False
    found = pc.sum(pc.is_in(a.cast(allowed.type), value_set=allowed)).as_py() or 0  # nulls are not found
    return found == len(a) - a.null_count if wanted else found == 0


def _lengths(a: pa.Array, rule: ColumnRule) -> bool:
    if rule.min_length is None and rule.max_length is None:
        return True
    if not _is_text(a.type):
        return False
    low, high = (s.as_py() for s in pc.min_max(pc.utf8_length(a)).values())
    return low is None or ((rule.min_length is None or low >= rule.min_length) and (rule.max_length is None or high <= rule.max_length))


def surely_passes(a: pa.Array, rule: ColumnRule) -> bool:
    """True when no value of this chunk of the column fails a row-level rule (see the module)."""
    if rule.regex is not None:
        return False
    if not rule.nullable and (not _nulls_are_arrow_nulls(a.type) or a.null_count or _has_nan(a)):
        return False
    if any(getattr(rule, k) is not None for k in _RANGES):
        if not (pa.types.is_integer(a.type) or pa.types.is_floating(a.type)) or _has_nan(a) or not _in_range(a, rule):
            return False
    return _membership(a, rule.isin, True) and _membership(a, rule.notin, False) and _lengths(a, rule)
