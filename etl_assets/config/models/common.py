"""Shared building blocks of the config models."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
"""A pipeline, source, transform or target name."""

ColumnType = Literal["string", "integer", "float", "boolean", "date", "datetime", "decimal"]
COLUMN_TYPES: tuple[str, ...] = ColumnType.__args__  # type: ignore[attr-defined]


class Model(BaseModel):
    """Base of every config model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RetryConfig(Model):
    """Retry policy for an asset (or the pipeline default)."""

    max_retries: int = Field(default=3, ge=0, le=100)
    delay_seconds: float = Field(default=2, ge=0)
    backoff: Literal["linear", "exponential"] = "exponential"
