"""The `checks` block of a source or transform."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from .common import ColumnType, Model


class RowCountRule(Model):
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)


class ColumnRule(Model):
    """Pandera rules for one column."""

    type: ColumnType | None = None
    nullable: bool = True
    unique: bool = False
    ge: float | None = None
    le: float | None = None
    gt: float | None = None
    lt: float | None = None
    isin: list[Any] | None = None
    notin: list[Any] | None = None
    regex: str | None = None
    min_length: int | None = Field(default=None, ge=0)
    max_length: int | None = Field(default=None, ge=0)

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            import re

            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from exc
        return value


def _null_kwargs(value: Any) -> Any:
    """`- expect_table_columns_to_match_set:` with nothing after it means no kwargs."""
    if isinstance(value, dict):
        return {k: ({} if v is None else v) for k, v in value.items()}
    return value


def _known_expectation(value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """One `{expect_name: {kwargs}}` mapping whose name and kwargs Great Expectations accepts
    (checked against a static catalog, so validation never imports GX)."""
    from ...checks.gx_args import expectation_problems

    if len(value) != 1:
        raise ValueError("each expectation is a one-key mapping: {expect_name: {kwargs}}")
    ((name, kwargs),) = value.items()
    problems = expectation_problems(name, kwargs)
    if problems:
        raise ValueError("; ".join(problems))
    return value


Expectation = Annotated[dict[str, dict[str, Any]], BeforeValidator(_null_kwargs), AfterValidator(_known_expectation)]


class AnomalyRule(Model):
    column: str
    method: Literal["zscore", "iqr"]
    threshold: float = Field(default=3.0, gt=0)


class ChecksConfig(Model):
    on_failure: Literal["fail", "warn", "quarantine"] = "fail"
    strict: bool | Literal["filter"] = False
    row_count: RowCountRule | None = None
    columns: dict[str, ColumnRule] = Field(default_factory=dict)
    expectations: list[Expectation] = Field(default_factory=list)
    anomalies: list[AnomalyRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _nonempty(self) -> "ChecksConfig":
        if not (self.row_count or self.columns or self.expectations or self.anomalies or self.strict):
            raise ValueError("checks has no rules: add row_count, columns, expectations, anomalies or strict")
        return self
