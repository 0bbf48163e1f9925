"""The transform step engine: applies a transform's parsed steps to its input table.

    run_steps(transform, data, steps, inputs, writer, chunk_rows=CHUNK_ROWS, *, import_paths=())

Execution: consecutive row-wise steps (select, drop, rename, cast, filter, derive, fill_null,
drop_null, trim, replace) run chunk by chunk, so memory stays bounded; a streamed run of only
select/drop/rename/cast works on Arrow batches without pandas (`columnar`), with the same result. A step from
`whole_table_steps()` (dedupe, sort, aggregate, join, union, pivot, unpivot, scale, one_hot,
python) first materialises the data so far; every later step then runs on that frame. A `filter` or
`derive` whose expression looks at other rows (`x - x.mean()`, `x.shift()`, anything but
element-wise operators, `.str`/`.dt` methods, isna/notna/abs/round/astype/between/isin/clip/
where/mask/fillna and pandas' math functions) also runs on the whole table. Either way the result
is what pandas computes on the whole table: streamed chunks are given one type per column before
they are written (an integer result that meets a null somewhere becomes float, as in pandas).

Semantics, as in pandas on frames from `StoredTable.to_pandas()`:
- select / drop / rename: columns in the given order; rename onto an existing name is an error.
- cast: see `etl_assets.steps.cast` (types, accepted inputs, nulls, row numbers in errors).
- filter: `DataFrame.query` (python engine); a null comparison result counts as false; an
  expression that is not true/false per row is an error.
- derive: `DataFrame.eval` per column, in the mapping's order (later ones see earlier ones);
  a scalar is broadcast. Only columns and `index` are visible, never `@variables`.
- In expressions `index` is the row's 0-based position in the table entering the step.
- fill_null: `fillna({col: value})`. drop_null: `dropna(subset=cols)`; `all` drops a row with a
  null in any column (`dropna()`).
- dedupe: `drop_duplicates(subset, keep)`; `{}` compares whole rows; nulls equal each other.
- trim: strips strings; other values (and non-text columns) unchanged; `all` = every text column.
- replace: `Series.replace(mapping)`; keys are fitted to the column: in a numeric column "1" also
  matches 1, in a boolean column "true"/"false" match True/False, in a text column 1 matches "1".
- sort: stable (mergesort), nulls last for both directions.
- aggregate: `groupby(by, sort=True, dropna=False)` with named aggregation (null keys form a group,
  sorted last); count(col) counts non-null values, count(*) rows; first/last skip nulls;
  std is the sample sd (ddof=1); columns are `by` then metrics. Without `by`: one row (for an
  empty table count/nunique/sum are 0 and the rest null).
- join: `pd.merge(how, on=cols | left_on/right_on)`, suffixes _x/_y; the other asset read whole.
- union: `pd.concat(ignore_index=True)`: columns matched by name, in order of appearance; a
  column missing on one side is null there.
- pivot: `pivot_table(index, columns, values, aggfunc)`; new columns named `str(value)`,
  sorted; rows with a null index value and all-null new columns are left out.
- unpivot: `pd.melt` (column-major order); without value_columns every non-id column.
- scale: whole-table statistics, nulls ignored and kept; standard = (x - mean) / population sd,
  minmax = (x - min) / (max - min); a constant column becomes 0.0; float64 results.
- one_hot: `pd.get_dummies(dtype=int64)`: `<col>_<value>` per distinct non-null value (sorted),
  appended after the other columns; a null is 0 in all of them.
- python: "module:function" imported with `import_paths` (the config's directory) in front of
  sys.path; gets the whole DataFrame, must return a DataFrame.
After every step column names are strings (a duplicate is an error) and the index is a RangeIndex.
Unknown columns, bad expressions and pandas errors raise `StepError` naming the transform, step
number (1-based) and name; unconvertible values raise `CastError` (a StepError with column, row
and value attributes).
"""
from .engine import STEPS, run_steps, whole_table_steps
from .errors import CastError, StepError

__all__ = ["CastError", "STEPS", "StepError", "run_steps", "whole_table_steps"]
