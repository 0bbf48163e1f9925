"""pandas query/eval expressions (`filter`, `derive`) and whether they can run chunk by chunk.

Expressions are evaluated with `DataFrame.eval(expr, engine="python")` (the same engine pandas
picks when numexpr is absent, and the one that understands nullable Int64/boolean columns and
`.str`/`.dt` methods). Only the frame's columns, `index` and pandas' built-in names (True, inf,
sin, ...) are visible: `@name` and Python variables are not.

An expression can only be applied chunk by chunk when each row's result depends on that row alone.
`x - x.mean()`, `x.shift()`, `x.rank()` look at other rows, so a step holding such an expression
runs on the whole table instead (see `is_row_wise`).
"""
from __future__ import annotations

import ast
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import StepProblem, column_list

if TYPE_CHECKING:
    import pandas as pd

# Methods whose result for a row depends only on that row (and on scalar arguments).
_ROW_METHODS = frozenset(
    {"isna", "notna", "isnull", "notnull", "abs", "round", "astype", "between", "isin", "clip",
     "where", "mask", "fillna", "__invert__", "__neg__"}
)
# Functions pandas eval supports; all element-wise.
_ROW_FUNCTIONS = frozenset(
    {"sin", "cos", "tan", "exp", "log", "expm1", "log1p", "sqrt", "sinh", "cosh", "tanh", "arcsin",
     "arccos", "arctan", "arccosh", "arcsinh", "arctanh", "abs", "log10", "floor", "ceil", "arctan2"}
)
_ACCESSORS = frozenset({"str", "dt"})
_NOT_ROW_WISE_ACCESSOR_METHODS = frozenset({"cat"})  # str.cat() joins the whole column
_BACKTICKS = re.compile(r"`[^`]*`")
_UNDEFINED = re.compile(r"name '(.+)' is not defined")


def is_row_wise(expr: str) -> bool:
    """True when the expression only combines values of one row (so chunking cannot change it)."""
    text = _BACKTICKS.sub(" _quoted_name_ ", expr).replace("@", "")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return False  # let the whole-table evaluation report the error
    return all(_node_is_row_wise(node) for node in ast.walk(tree))


def _is_accessor(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr in _ACCESSORS


def _node_is_row_wise(node: ast.AST) -> bool:
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name):
            return func.id in _ROW_FUNCTIONS
        if isinstance(func, ast.Attribute):
            if _is_accessor(func.value):
                return func.attr not in _NOT_ROW_WISE_ACCESSOR_METHODS
            if func.attr == "fillna" and any(k.arg in ("method", "limit") for k in node.keywords):
                return False
            return func.attr in _ROW_METHODS
        return False
    if isinstance(node, ast.Attribute):
        # `.str` / `.dt` accessors, `.dt.year`-style properties, and the methods checked above.
        return node.attr in _ACCESSORS or _is_accessor(node.value) or node.attr in _ROW_METHODS or node.attr == "values"
    if isinstance(node, ast.Subscript):
        return _is_accessor(node.value)  # x.str[0] is per row, x[0] is not
    return isinstance(
        node,
        (ast.Expression, ast.Name, ast.Constant, ast.Load, ast.BinOp, ast.BoolOp, ast.UnaryOp, ast.Compare,
         ast.List, ast.Tuple, ast.Slice, ast.keyword, ast.operator, ast.boolop, ast.unaryop, ast.cmpop),
    )


def evaluate(frame: pd.DataFrame, expr: str) -> Any:
    """`frame.eval(expr)`, with an unknown name reported as an unknown column.

    Decimal columns (SQL NUMERIC) are seen as floats, as `pandas.read_sql` (coerce_float) gives
    them: pandas cannot do arithmetic on object columns in expressions. The frame keeps its decimals.
    """
    from pandas.errors import UndefinedVariableError

    try:
        return _with_decimals_as_floats(frame).eval(expr, engine="python", local_dict={}, global_dict={})
    except UndefinedVariableError as exc:
        m = _UNDEFINED.search(str(exc))
        name = m.group(1) if m else str(exc)
        raise StepProblem(
            f"unknown column {name!r} in expression {expr!r}; columns are: {column_list(frame.columns)}"
        ) from exc


def _with_decimals_as_floats(frame: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    decimal_columns = [c for c in frame.columns if frame[c].dtype == object and _holds_decimals(frame[c])]
    if not decimal_columns:
        return frame
    return frame.assign(**{c: pd.to_numeric(frame[c], errors="raise").astype("float64") for c in decimal_columns})


def _holds_decimals(column: pd.Series) -> bool:
    first = column.first_valid_index()
    return first is not None and isinstance(column[first], Decimal)


def row_mask(frame: pd.DataFrame, expr: str) -> np.ndarray:
    """The rows where a query expression is true; null (NA) counts as false, as in `DataFrame.query`."""
    import pandas as pd

    result = evaluate(frame, expr)
    if isinstance(result, (bool, np.bool_)):
        return np.full(len(frame), bool(result))
    if isinstance(result, pd.Series) and len(result) == len(frame):
        if pd.api.types.is_bool_dtype(result.dtype):
            return result.fillna(False).to_numpy(dtype=bool) if result.hasnans else result.to_numpy(dtype=bool)
        if result.dtype == object and all(v is True or v is False or v is np.True_ or v is np.False_ or pd.isna(v) for v in result):
            return np.array([bool(v) if not pd.isna(v) else False for v in result], dtype=bool)
    what = type(result).__name__ if not isinstance(result, pd.Series) else f"values of type {result.dtype}"
    raise StepProblem(f"filter expression {expr!r} must be true or false for each row, but gives {what}")
