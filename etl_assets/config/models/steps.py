"""Transform steps: each is a one-key mapping such as `{filter: "x > 0"}`."""
from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, Tag, field_validator

from .common import ColumnType, Model, Name

AGG_FUNCTIONS = ("count", "sum", "mean", "min", "max", "median", "nunique", "std", "first", "last")
_METRIC = re.compile(r"^\s*([a-z]+)\(\s*(\*|[^()]+?)\s*\)\s*$")


def parse_metric(text: str) -> tuple[str, str | None]:
    """'sum(distance)' -> ('sum', 'distance'); 'count(*)' -> ('count', None)."""
    m = _METRIC.match(text)
    if not m or m.group(1) not in AGG_FUNCTIONS:
        raise ValueError(f"'{text}' is not fn(column) with fn one of {', '.join(AGG_FUNCTIONS)}")
    fn, col = m.group(1), m.group(2)
    if col == "*":
        if fn != "count":
            raise ValueError(f"'{text}': only count(*) may use *")
        return fn, None
    return fn, col


Columns = list[str]
ColumnsOrAll = Union[Columns, Literal["all"]]


class SelectStep(Model):
    select: Columns = Field(min_length=1)


class DropStep(Model):
    drop: Columns = Field(min_length=1)


class RenameStep(Model):
    rename: dict[str, str] = Field(min_length=1)


class CastStep(Model):
    cast: dict[str, ColumnType] = Field(min_length=1)


class FilterStep(Model):
    filter: str = Field(min_length=1)


class DeriveStep(Model):
    derive: dict[str, str] = Field(min_length=1)


class FillNullStep(Model):
    fill_null: dict[str, Any] = Field(min_length=1)


class DropNullStep(Model):
    drop_null: ColumnsOrAll


class DedupeArgs(Model):
    subset: Columns | None = None
    keep: Literal["first", "last"] = "first"


class DedupeStep(Model):
    dedupe: DedupeArgs


class TrimStep(Model):
    trim: ColumnsOrAll


class ReplaceStep(Model):
    replace: dict[str, dict[Any, Any]] = Field(min_length=1)


class SortArgs(Model):
    by: Columns = Field(min_length=1)
    descending: bool = False


class SortStep(Model):
    sort: SortArgs


class AggregateArgs(Model):
    by: Columns = Field(default_factory=list)
    metrics: dict[str, str] = Field(min_length=1)

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, value: dict[str, str]) -> dict[str, str]:
        for text in value.values():
            parse_metric(text)
        return value


class AggregateStep(Model):
    aggregate: AggregateArgs


class JoinArgs(Model):
    with_: Name = Field(alias="with")
    on: Union[Columns, dict[str, str]]
    how: Literal["inner", "left", "right", "outer"] = "inner"


class JoinStep(Model):
    join: JoinArgs


class UnionStep(Model):
    union: list[Name] = Field(min_length=1)


class PivotArgs(Model):
    index: Columns = Field(min_length=1)
    columns: str
    values: str
    agg: Literal[AGG_FUNCTIONS] = "first"  # type: ignore[valid-type]


class PivotStep(Model):
    pivot: PivotArgs


class UnpivotArgs(Model):
    id_columns: Columns
    value_columns: Columns | None = None
    variable: str = "variable"
    value: str = "value"


class UnpivotStep(Model):
    unpivot: UnpivotArgs


class ScaleArgs(Model):
    columns: Columns = Field(min_length=1)
    method: Literal["standard", "minmax"] = "standard"


class ScaleStep(Model):
    scale: ScaleArgs


class OneHotArgs(Model):
    columns: Columns = Field(min_length=1)
    drop_original: bool = True


class OneHotStep(Model):
    one_hot: OneHotArgs


class PythonStep(Model):
    python: Annotated[str, Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")]


STEP_MODELS: dict[str, type[Model]] = {
    "select": SelectStep,
    "drop": DropStep,
    "rename": RenameStep,
    "cast": CastStep,
    "filter": FilterStep,
    "derive": DeriveStep,
    "fill_null": FillNullStep,
    "drop_null": DropNullStep,
    "dedupe": DedupeStep,
    "trim": TrimStep,
    "replace": ReplaceStep,
    "sort": SortStep,
    "aggregate": AggregateStep,
    "join": JoinStep,
    "union": UnionStep,
    "pivot": PivotStep,
    "unpivot": UnpivotStep,
    "scale": ScaleStep,
    "one_hot": OneHotStep,
    "python": PythonStep,
}


def _step_name(value: Any) -> str | None:
    if isinstance(value, dict) and len(value) == 1:
        (key,) = value
        return key if key in STEP_MODELS else None
    if isinstance(value, Model):
        return step_name(value)
    return None


def step_name(step: Model) -> str:
    """The YAML key of a parsed step ('filter', 'join', ...)."""
    (name,) = type(step).model_fields
    return name


Step = Annotated[
    Union[tuple(Annotated[model, Tag(name)] for name, model in STEP_MODELS.items())],  # type: ignore[misc]
    Discriminator(
        _step_name,
        custom_error_type="unknown_step",
        custom_error_message="a step is a one-key mapping whose key is one of " + ", ".join(STEP_MODELS),
    ),
]
