"""Steps whose result for a row depends on that row alone; the engine runs them chunk by chunk.

Each function takes the frame, the step's argument (the value under the step's key) and the
context, and returns a new frame. The frame's index holds each row's 0-based position in the table
that enters the step (also when the step gets one chunk of it).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .context import StepContext, StepFunction
from .errors import StepProblem, require_columns, require_unique
from .expressions import evaluate, row_mask

if TYPE_CHECKING:
    import pandas as pd


def select(frame: pd.DataFrame, columns: list[str], ctx: StepContext) -> pd.DataFrame:
    require_columns(frame, columns)
    require_unique(columns, "select")
    return frame[columns]


def drop(frame: pd.DataFrame, columns: list[str], ctx: StepContext) -> pd.DataFrame:
    require_columns(frame, columns)
    return frame.drop(columns=columns)


def rename(frame: pd.DataFrame, mapping: dict[str, str], ctx: StepContext) -> pd.DataFrame:
    require_columns(frame, mapping)
    seen: set[str] = set()
    for name in (mapping.get(c, c) for c in frame.columns):
        if name in seen:
            raise StepProblem(f"rename would give two columns named {name!r}")
        seen.add(name)
    return frame.rename(columns=mapping)


def cast(frame: pd.DataFrame, types: dict[str, str], ctx: StepContext) -> pd.DataFrame:
    from .cast import cast_series  # it imports pandas

    require_columns(frame, types)
    out = frame.copy()
    for column, type_ in types.items():
        out[column] = cast_series(frame[column], type_, column)
    return out


def filter_(frame: pd.DataFrame, expr: str, ctx: StepContext) -> pd.DataFrame:
    return frame[row_mask(frame, expr)]


def derive(frame: pd.DataFrame, expressions: dict[str, str], ctx: StepContext) -> pd.DataFrame:
    import pandas as pd

    out = frame.copy()
    for column, expr in expressions.items():
        value = evaluate(out, expr)
        if isinstance(value, pd.DataFrame):
            raise StepProblem(f"expression {expr!r} for {column!r} gives a table, not one value per row")
        if isinstance(value, (pd.Series, np.ndarray, pd.api.extensions.ExtensionArray)) and len(value) != len(out):
            raise StepProblem(f"expression {expr!r} for {column!r} gives {len(value)} values for {len(out)} rows")
        out[column] = value
    return out


def fill_null(frame: pd.DataFrame, values: dict[str, Any], ctx: StepContext) -> pd.DataFrame:
    require_columns(frame, values)
    return frame.fillna(values)


def drop_null(frame: pd.DataFrame, columns: Any, ctx: StepContext) -> pd.DataFrame:
    if columns == "all":
        return frame.dropna()  # a null in any column drops the row
    require_columns(frame, columns)
    return frame.dropna(subset=columns)


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def trim(frame: pd.DataFrame, columns: Any, ctx: StepContext) -> pd.DataFrame:
    from pandas.api import types as ptypes

    if columns == "all":
        columns = [c for c in frame.columns if frame[c].dtype == object or ptypes.is_string_dtype(frame[c].dtype)]
    else:
        require_columns(frame, columns)
    out = frame.copy()
    for column in columns:
        series = frame[column]
        if series.dtype == object or ptypes.is_string_dtype(series.dtype):
            out[column] = series.map(_strip)
    return out


def replace(frame: pd.DataFrame, mappings: dict[str, dict[Any, Any]], ctx: StepContext) -> pd.DataFrame:
    require_columns(frame, mappings)
    out = frame.copy()
    for column, mapping in mappings.items():
        out[column] = frame[column].replace(replace_keys(frame[column], mapping))
    return out


def replace_keys(series: pd.Series, mapping: dict[Any, Any]) -> dict[Any, Any]:
    """YAML keys fitted to the column: in a numeric column the key "1" also means 1, in a boolean
    column "true"/"false" mean True/False, in a text column the key 1 also means "1"."""
    from pandas.api import types as ptypes

    dtype = series.dtype
    out: dict[Any, Any] = {}
    for key, new in mapping.items():
        out.setdefault(key, new)
        if ptypes.is_bool_dtype(dtype) and isinstance(key, str):
            low = key.strip().lower()
            if low in ("true", "false"):
                out.setdefault(low == "true", new)
        elif ptypes.is_numeric_dtype(dtype) and not ptypes.is_bool_dtype(dtype) and isinstance(key, str):
            number = _number(key)
            if number is not None:
                out.setdefault(number, new)
        elif (dtype == object or ptypes.is_string_dtype(dtype)) and isinstance(key, (int, float)) and not isinstance(key, bool):
            out.setdefault(str(key), new)
    return out


def _number(text: str) -> int | float | None:
    try:
        return int(text.strip())
    except ValueError:
        try:
            return float(text.strip())
        except ValueError:
            return None


ROW_STEPS: dict[str, StepFunction] = {
    "select": select,
    "drop": drop,
    "rename": rename,
    "cast": cast,
    "filter": filter_,
    "derive": derive,
    "fill_null": fill_null,
    "drop_null": drop_null,
    "trim": trim,
    "replace": replace,
}
