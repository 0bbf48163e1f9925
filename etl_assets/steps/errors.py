"""Errors of the step engine and the column checks every step makes before it touches the data."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Sequence

from ..tables import is_frame

if TYPE_CHECKING:
    import pandas as pd


class StepError(Exception):
    """A transform step failed. The message names the transform, the step (1-based number and
    name) and what went wrong, e.g.
    ``transform clean_flights, step 3 (rename): unknown column 'dep_dely'; columns are: year, ...``.
    """

    def __init__(self, transform: str, step: int | None, name: str | None, problem: str):
        self.transform = transform
        self.step = step
        self.step_name = name
        self.problem = problem
        where = f"transform {transform}" if step is None else f"transform {transform}, step {step} ({name})"
        super().__init__(f"{where}: {problem}")


class CastError(StepError):
    """A value that a `cast` step cannot convert (carries column, 1-based row and value)."""

    def __init__(self, transform: str, step: int | None, name: str | None, problem: "CastProblem"):
        super().__init__(transform, step, name, str(problem))
        self.column = problem.column
        self.row = problem.row
        self.value = problem.value
        self.type = problem.type


class StepProblem(Exception):
    """Raised inside a step function; the engine adds the transform and step to the message."""


class CastProblem(StepProblem):
    def __init__(self, column: str, row: int, value: Any, type_: str, why: str = ""):
        self.column, self.row, self.value, self.type = column, row, value, type_
        super().__init__(
            f"column {column!r}: cannot convert {show_value(value)} (row {row}) to {type_}" + (f" ({why})" if why else "")
        )


def show_value(value: Any) -> str:
    """A value as it appears in messages: strings quoted, long ones shortened."""
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def column_list(columns: Iterable[Any]) -> str:
    return ", ".join(str(c) for c in columns) or "(none)"


def require_columns(frame: pd.DataFrame | Sequence[str], columns: Iterable[str], where: str = "") -> None:
    """Fail with the missing names and the columns that exist (of a frame, or these names), before
    pandas raises a KeyError."""
    names_there = frame.columns if is_frame(frame) else frame
    existing = set(names_there)
    missing = [c for c in dict.fromkeys(columns) if c not in existing]
    if missing:
        names = ", ".join(repr(c) for c in missing)
        noun = "column" if len(missing) == 1 else "columns"
        raise StepProblem(f"unknown {noun} {names}{where}; columns are: {column_list(names_there)}")


def require_unique(columns: Iterable[str], what: str) -> None:
    seen: set[str] = set()
    for c in columns:
        if c in seen:
            raise StepProblem(f"{what} lists column {c!r} twice")
        seen.add(c)
