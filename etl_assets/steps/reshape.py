"""Long <-> wide: `pivot` and `unpivot` (both whole-table: their row order spans the table)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..config.models.steps import PivotArgs, UnpivotArgs
from .context import StepContext, StepFunction
from .errors import StepProblem, require_columns, require_unique

if TYPE_CHECKING:
    import pandas as pd


def pivot(frame: pd.DataFrame, args: PivotArgs, ctx: StepContext) -> pd.DataFrame:
    """`pivot_table(index, columns, values, aggfunc=agg)`; the new columns are named `str(value)`
    of the `columns` column's values (sorted); rows with a null index value are left out, and so
    are new columns that are null everywhere (pandas defaults); the index columns come first."""
    require_columns(frame, [*args.index, args.columns, args.values])
    require_unique(args.index, "index")
    if args.columns in args.index:
        raise StepProblem(f"column {args.columns!r} is both in index and columns")
    wide = frame.pivot_table(index=args.index, columns=args.columns, values=args.values, aggfunc=args.agg)
    names = [str(c) for c in wide.columns]
    clash = [n for n in names if n in args.index]
    if clash:
        raise StepProblem(f"the new column {clash[0]!r} has the name of an index column")
    wide.columns = names
    if len(wide) == 0:  # pandas gives a frame without the index columns
        return frame[args.index].iloc[:0]
    return wide.reset_index()


def unpivot(frame: pd.DataFrame, args: UnpivotArgs, ctx: StepContext) -> pd.DataFrame:
    """`pd.melt(id_vars, value_vars, var_name=variable, value_name=value)`: for each value column
    in turn, all rows (so the order is column-major); without value_columns every other column."""
    import pandas as pd

    require_columns(frame, args.id_columns)
    if args.value_columns is not None:
        require_columns(frame, args.value_columns)
    for name in (args.variable, args.value):
        if name in args.id_columns:
            raise StepProblem(f"{name!r} is an id column and cannot also name the variable or value column")
    if args.variable == args.value:
        raise StepProblem("variable and value must have different names")
    return pd.melt(
        frame, id_vars=args.id_columns, value_vars=args.value_columns, var_name=args.variable, value_name=args.value
    )


RESHAPE_STEPS: dict[str, StepFunction] = {
    "pivot": pivot,
    "unpivot": unpivot,
}
