"""Runs a transform's steps: row-wise steps chunk by chunk, whole-table steps on the whole frame.

The step list is walked in order. Row-wise steps (see `rowwise.ROW_STEPS`; a `filter`/`derive`
only when its expressions look at one row at a time) are collected and applied to each chunk of
the input as it is read. The first whole-table step materialises the data so far (the chunks,
concatenated) and runs on it; every later step runs on that frame. When no step needs the whole
table, the chunks flow from the input to the writer and memory stays bounded. When those steps
are only select/drop/rename/cast, the chunks stay Arrow batches (`columnar.arrow_ready` says
when that gives the same table as pandas) and skip the pandas conversion both ways.

Before each step the frame's index is a RangeIndex of the rows' 0-based positions in the table
entering that step (chunks get their offset), so `index` in an expression and the row numbers in
cast errors mean the same whether or not the data was chunked.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence

import pyarrow as pa

from ..config.models.steps import step_name
from ..tables import CHUNK_ROWS, StoredTable, TableWriter
from .cast_arrow import cast_array
from .columnar import arrow_ready, normalised
from .context import StepContext, StepFunction
from .errors import CastError, CastProblem, StepError, StepProblem, require_columns
from .expressions import is_row_wise
from .output import write_chunks, write_frame, write_tables
from .reshape import RESHAPE_STEPS
from .rowwise import ROW_STEPS
from .table import TABLE_STEPS

if TYPE_CHECKING:
    import pandas as pd

STEPS: dict[str, StepFunction] = {**ROW_STEPS, **TABLE_STEPS, **RESHAPE_STEPS}


def whole_table_steps() -> frozenset[str]:
    """Steps that always need the whole table. (`filter` and `derive` also run on the whole table
    when an expression looks at other rows, e.g. `x - x.mean()`.)"""
    return frozenset(TABLE_STEPS) | frozenset(RESHAPE_STEPS)


@dataclass(frozen=True)
class PlannedStep:
    number: int  # 1-based
    name: str
    args: Any
    streamable: bool


def plan(steps: Sequence[Any]) -> list[PlannedStep]:
    out = []
    for number, step in enumerate(steps, start=1):
        name = step_name(step)
        args = getattr(step, name)
        out.append(PlannedStep(number, name, args, _streamable(name, args)))
    return out


def _streamable(name: str, args: Any) -> bool:
    if name not in ROW_STEPS:
        return False
    if name == "filter":
        return is_row_wise(args)
    if name == "derive":
        return all(is_row_wise(expr) for expr in args.values())
    return True


def run_steps(
    transform: str,
    data: StoredTable,
    steps: Sequence[Any],
    inputs: Mapping[str, StoredTable],
    writer: TableWriter,
    chunk_rows: int = CHUNK_ROWS,
    *,
    import_paths: Sequence[Path] = (),
) -> None:
    """Apply `steps` to `data` and write the result to `writer` (not committed)."""
    ctx = StepContext(transform=transform, inputs=inputs, import_paths=tuple(import_paths))
    planned = plan(steps)
    pending: list[PlannedStep] = []  # row-wise steps not yet applied (while streaming)
    frame: pd.DataFrame | None = None
    for step in planned:
        if frame is None and step.streamable:
            pending.append(step)
            continue
        if frame is None:
            frame = _materialise(_stream(data.frames(chunk_rows), pending, ctx)) if pending else data.to_pandas()
        frame = apply_step(step, frame, ctx)
    last = planned[-1] if planned else None
    try:
        if frame is None and arrow_ready(data, pending):
            write_tables(writer, _stream_arrow(data, pending, ctx, chunk_rows))
        elif frame is None:
            write_chunks(writer, _stream(data.frames(chunk_rows), pending, ctx))
        else:
            write_frame(writer, frame, chunk_rows)
    except StepProblem as exc:
        where = f"the result of step {last.number} ({last.name})" if last else "the result"
        raise StepError(transform, None, None, str(exc).replace("the result", where, 1)) from exc


def apply_step(step: PlannedStep, frame: pd.DataFrame, ctx: StepContext, start: int = 0) -> pd.DataFrame:
    """Run one step on a frame whose first row is row `start` (0-based) of the step's input."""
    with _reported(step, ctx):
        out = STEPS[step.name](_positioned(frame, start), step.args, ctx)
    return _checked(out, step, ctx)


def apply_arrow_step(step: PlannedStep, table: pa.Table, ctx: StepContext, start: int = 0) -> pa.Table:
    """`apply_step` for a step of `columnar.ARROW_STEPS` on an Arrow table (see `columnar`)."""
    names = table.column_names
    if step.name == "cast":
        with _reported(step, ctx):
            require_columns(names, step.args)
            columns = table.columns
            for column, type_ in step.args.items():
                columns[names.index(column)] = cast_array(table.column(column), type_, column, start)
        return pa.Table.from_arrays(columns, names=names)
    import pandas as pd

    with _reported(step, ctx):  # the pandas step on an empty frame gives the columns (and the errors)
        out = STEPS[step.name](pd.DataFrame(columns=names), step.args, ctx)
    renamed = list(_checked(out, step, ctx).columns)
    return table.rename_columns(renamed) if step.name == "rename" else table.select(renamed)


@contextmanager
def _reported(step: PlannedStep, ctx: StepContext) -> Iterator[None]:
    """A step's failure as a StepError (CastError) naming the transform and the step."""
    try:
        yield
    except StepError:
        raise
    except CastProblem as exc:
        raise CastError(ctx.transform, step.number, step.name, exc) from exc
    except StepProblem as exc:
        raise StepError(ctx.transform, step.number, step.name, str(exc)) from exc
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - pandas' own errors, reported with the step
        raise StepError(ctx.transform, step.number, step.name, f"{type(exc).__name__}: {exc}") from exc


def _positioned(frame: pd.DataFrame, start: int) -> pd.DataFrame:
    import pandas as pd

    index = frame.index
    if isinstance(index, pd.RangeIndex) and index.start == start and index.step == 1:
        return frame
    out = frame.copy(deep=False)
    out.index = pd.RangeIndex(start, start + len(frame))
    return out


def _checked(frame: pd.DataFrame, step: PlannedStep, ctx: StepContext) -> pd.DataFrame:
    """String column names, no duplicates, a fresh RangeIndex."""
    import pandas as pd

    names = [str(c) for c in frame.columns]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise StepError(ctx.transform, step.number, step.name, f"the result has two columns named {name!r}")
        seen.add(name)
    out = frame.copy(deep=False)
    out.columns = names
    out.index = pd.RangeIndex(len(out))
    return out


def _stream(chunks: Iterable[pd.DataFrame], steps: list[PlannedStep], ctx: StepContext) -> Iterator[pd.DataFrame]:
    offsets = [0] * len(steps)
    for chunk in chunks:
        for i, step in enumerate(steps):
            rows = len(chunk)
            chunk = apply_step(step, chunk, ctx, start=offsets[i])
            offsets[i] += rows
        yield chunk


def _stream_arrow(data: StoredTable, steps: list[PlannedStep], ctx: StepContext, chunk_rows: int) -> Iterator[pa.Table]:
    """`_stream` on Arrow batches (only for what `columnar.arrow_ready` accepts)."""
    offsets = [0] * len(steps)
    for batch in data.batches(chunk_rows):
        table = normalised(batch)
        for i, step in enumerate(steps):
            rows = table.num_rows
            table = apply_arrow_step(step, table, ctx, start=offsets[i])
            offsets[i] += rows
        yield table


def _materialise(chunks: Iterable[pd.DataFrame]) -> pd.DataFrame:
    import pandas as pd

    frames = list(chunks)
    full = [f for f in frames if len(f)]
    if not full:
        return frames[-1]
    if len(full) == 1:
        return full[0]
    return pd.concat(full, ignore_index=True)
