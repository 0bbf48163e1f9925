"""The `type` rule: value by value, with the same conversions as the `cast` step.

A non-null value that the cast step cannot convert to the declared type fails its row. Values are
converted only where that can fail value by value: text (and untyped null) columns, and
numbers/booleans to another number or boolean type (1.5 is not an integer, 2 is not a boolean).
Any other mismatch (a date column declared integer, numbers declared date) is a table-level
failure. Any column converts to `string`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from ..steps.errors import CastProblem

if TYPE_CHECKING:
    import pandas as pd

ARROW_TYPES: dict[str, pa.DataType] = {
    "integer": pa.int64(),
    "float": pa.float64(),
    "string": pa.string(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
}
"""The Arrow type a declared type is stored as (datetime and decimal vary: checked by family)."""

_NUMERIC_TARGETS = {"integer", "float", "boolean", "decimal"}


def has_type(arrow_type: pa.DataType, declared: str) -> bool:
    """True when a column of this Arrow type already holds the declared type."""
    if declared == "integer":
        return pa.types.is_integer(arrow_type)
    if declared == "float":
        return pa.types.is_floating(arrow_type)
    if declared == "string":
        return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)
    if declared == "boolean":
        return pa.types.is_boolean(arrow_type)
    if declared == "date":
        return pa.types.is_date(arrow_type)
    if declared == "datetime":
        return pa.types.is_timestamp(arrow_type)
    return pa.types.is_decimal(arrow_type)


def value_level(arrow_type: pa.DataType, declared: str) -> bool:
    """True when a mismatch is judged value by value (failing rows), not for the whole column."""
    if declared == "string" or pa.types.is_null(arrow_type):
        return True
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return True
    numeric = pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_boolean(arrow_type) or pa.types.is_decimal(arrow_type)
    return numeric and declared in _NUMERIC_TARGETS


def convert(series: pd.Series, declared: str, column: str) -> tuple[pd.Series, np.ndarray]:
    """(converted series, index labels of the values that cannot be converted).

    Unconvertible values are null in the converted series. The index must hold row positions.
    """
    from ..steps.cast import cast_series  # imports pandas: only for chunks that need converting

    try:
        return cast_series(series, declared, column), np.empty(0, dtype="int64")
    except CastProblem:
        pass
    bad = _unconvertible(series, declared, column)
    cleaned = series.mask(series.index.isin(bad))
    return cast_series(cleaned, declared, column), bad


def _unconvertible(series: pd.Series, declared: str, column: str) -> np.ndarray:
    """Labels of every value that fails: the failing value a cast reports is taken out, and the
    rest is split in halves until each part converts (O(n log n) casts at worst)."""
    from ..steps.cast import cast_series

    bad: list[int] = []
    pending = [series]
    while pending:
        part = pending.pop()
        try:
            cast_series(part, declared, column)
            continue
        except CastProblem as problem:
            label = problem.row - 1
        if label in part.index:
            bad.append(label)
            part = part.drop(label)
        elif len(part) == 1:
            bad.append(int(part.index[0]))
            continue
        if len(part):
            middle = len(part) // 2
            pending += [part.iloc[middle:], part.iloc[:middle]] if middle else [part]
    return np.array(sorted(bad), dtype="int64")
