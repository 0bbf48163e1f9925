"""Steps that need the whole table: the engine materialises the data before running them."""
from __future__ import annotations

import importlib
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np

from ..config.models.steps import AggregateArgs, DedupeArgs, JoinArgs, OneHotArgs, ScaleArgs, SortArgs, parse_metric
from .context import StepContext, StepFunction
from .errors import StepProblem, require_columns, require_unique

if TYPE_CHECKING:
    import pandas as pd


def dedupe(frame: pd.DataFrame, args: DedupeArgs, ctx: StepContext) -> pd.DataFrame:
    if args.subset is not None:
        if not args.subset:
            raise StepProblem("subset is empty; leave it out to compare whole rows")
        require_columns(frame, args.subset)
    return frame.drop_duplicates(subset=args.subset, keep=args.keep)


def sort(frame: pd.DataFrame, args: SortArgs, ctx: StepContext) -> pd.DataFrame:
    require_columns(frame, args.by)
    return frame.sort_values(args.by, ascending=not args.descending, kind="mergesort", na_position="last")


def aggregate(frame: pd.DataFrame, args: AggregateArgs, ctx: StepContext) -> pd.DataFrame:
    metrics = {out: parse_metric(text) for out, text in args.metrics.items()}
    require_columns(frame, args.by)
    require_unique(args.by, "by")
    require_columns(frame, [col for _, col in metrics.values() if col is not None], " in metrics")
    clash = [out for out in metrics if out in args.by]
    if clash:
        raise StepProblem(f"metric {clash[0]!r} has the name of a group column")
    if not args.by:
        return _aggregate_all(frame, metrics)
    named = {
        out: (args.by[0], "size") if col is None else (col, fn)
        for out, (fn, col) in metrics.items()
    }
    return frame.groupby(args.by, sort=True, dropna=False).agg(**named).reset_index()


def _aggregate_all(frame: pd.DataFrame, metrics: dict[str, tuple[str, str | None]]) -> pd.DataFrame:
    """Without `by`: one row over the whole table (also for an empty table: counts 0, sums 0)."""
    import pandas as pd
    from pandas.api import types as ptypes

    if len(frame):
        key = "__etl_all__"
        named = {out: (key, "size") if col is None else (col, fn) for out, (fn, col) in metrics.items()}
        return frame.assign(**{key: 0}).groupby(key).agg(**named).reset_index(drop=True)
    row: dict[str, Any] = {}
    for out, (fn, col) in metrics.items():
        if col is None or fn in ("count", "nunique"):
            row[out] = pd.Series([0], dtype="int64")
        elif fn == "sum":
            row[out] = pd.Series([frame[col].sum()])
        else:
            dtype = frame[col].dtype
            keep = fn in ("min", "max", "first", "last") or ptypes.is_float_dtype(dtype)
            row[out] = pd.Series([None], dtype=dtype if keep else "float64")
    return pd.DataFrame(row)


def join(frame: pd.DataFrame, args: JoinArgs, ctx: StepContext) -> pd.DataFrame:
    import pandas as pd

    right = ctx.input_frame(args.with_, "join: the")
    if isinstance(args.on, dict):
        left_on, right_on = list(args.on), list(args.on.values())
    else:
        left_on = right_on = list(args.on)
    require_columns(frame, left_on)
    require_columns(right, right_on, f" in {args.with_!r} (the right side of the join)")
    if isinstance(args.on, dict):
        return pd.merge(frame, right, how=args.how, left_on=left_on, right_on=right_on)
    return pd.merge(frame, right, how=args.how, on=left_on)


def union(frame: pd.DataFrame, names: list[str], ctx: StepContext) -> pd.DataFrame:
    import pandas as pd

    others = [ctx.input_frame(name, "union: the") for name in names]
    return pd.concat([frame, *others], ignore_index=True)


def _numeric_values(frame: pd.DataFrame, column: str) -> np.ndarray:
    from pandas.api import types as ptypes

    series = frame[column]
    if not (ptypes.is_numeric_dtype(series.dtype) or ptypes.is_bool_dtype(series.dtype)):
        raise StepProblem(f"column {column!r} is not numeric (it holds {series.dtype}); cast it first")
    return series.to_numpy(dtype="float64", na_value=np.nan)


def scale(frame: pd.DataFrame, args: ScaleArgs, ctx: StepContext) -> pd.DataFrame:
    """standard: (x - mean) / population sd; minmax: (x - min) / (max - min). Statistics over the
    whole table, nulls ignored and kept null; a constant column becomes 0.0 (as scikit-learn)."""
    import pandas as pd

    require_columns(frame, args.columns)
    out = frame.copy()
    for column in dict.fromkeys(args.columns):
        values = pd.Series(_numeric_values(frame, column), index=frame.index)
        lo, hi = values.min(), values.max()
        if pd.isna(lo) or lo == hi:
            scaled = values.where(values.isna(), 0.0) if not pd.isna(lo) else values
        elif args.method == "standard":
            scaled = (values - values.mean()) / values.std(ddof=0)
        else:
            scaled = (values - lo) / (hi - lo)
        out[column] = scaled.astype("float64")
    return out


def one_hot(frame: pd.DataFrame, args: OneHotArgs, ctx: StepContext) -> pd.DataFrame:
    """`pd.get_dummies`: one int 0/1 column `<col>_<value>` per distinct non-null value (sorted),
    appended after the other columns, column by column; a null row is 0 everywhere."""
    import pandas as pd

    require_columns(frame, args.columns)
    require_unique(args.columns, "one_hot")
    dummies = pd.get_dummies(frame[args.columns], columns=args.columns, prefix_sep="_", dtype="int64")
    base = frame.drop(columns=args.columns) if args.drop_original else frame
    clash = [c for c in dummies.columns if c in set(base.columns)]
    if clash:
        raise StepProblem(f"the new column {clash[0]!r} already exists")
    return pd.concat([base, dummies], axis=1)


@contextmanager
def _import_paths(paths: Sequence[Path]) -> Iterator[None]:
    added = [str(p) for p in paths if str(p) not in sys.path]
    sys.path[:0] = added
    try:
        yield
    finally:
        for p in added:
            try:
                sys.path.remove(p)
            except ValueError:
                pass


def python(frame: pd.DataFrame, target: str, ctx: StepContext) -> pd.DataFrame:
    import pandas as pd

    module_name, function_name = target.split(":", 1)
    with _import_paths(ctx.import_paths):
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # noqa: BLE001 - any failure of the user's module
            raise StepProblem(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}") from exc
        function = getattr(module, function_name, None)
        if not callable(function):
            raise StepProblem(f"module {module_name!r} has no function {function_name!r}")
        try:
            result = function(frame)
        except Exception as exc:  # noqa: BLE001
            raise StepProblem(f"{target} raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(result, pd.DataFrame):
        raise StepProblem(f"{target} returned {type(result).__name__}, not a pandas DataFrame")
    return result


TABLE_STEPS: dict[str, StepFunction] = {
    "dedupe": dedupe,
    "sort": sort,
    "aggregate": aggregate,
    "join": join,
    "union": union,
    "scale": scale,
    "one_hot": one_hot,
    "python": python,
}
