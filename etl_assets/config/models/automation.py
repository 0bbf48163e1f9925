"""Schedule, partitions, quarantine, alerts and sla."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .common import Model, Name


def _valid_timezone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"'{value}' is not an IANA time zone (e.g. UTC, Europe/Berlin)") from exc
    return value


def _moment(value: str | None) -> str | None:
    if value is not None:
        try:
            datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"'{value}' is not a date/time like '2026-01-01 00:00'") from exc
    return value


class _TimeWindow(Model):
    """A time zone and an optional start/end moment (validated)."""

    timezone: str = "UTC"
    start: str | None = None
    end: str | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return _valid_timezone(value)

    @field_validator("start", "end")
    @classmethod
    def _moments(cls, value: str | None) -> str | None:
        return _moment(value)


class ScheduleConfig(_TimeWindow):
    cron: str
    default_status: Literal["running", "stopped"] = "stopped"


    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from dagster._utils.schedules import is_valid_cron_string

        if not is_valid_cron_string(value):
            raise ValueError(f"'{value}' is not a valid cron expression")
        return value


class PartitionsConfig(_TimeWindow):
    type: Literal["hourly", "daily", "weekly", "monthly"]
    start: str
    column: str



class QuarantineConfig(Model):
    connection: Name | None = None
    table: str | None = None


class EmailAlert(Model):
    smtp_host: str
    smtp_port: int = Field(default=25, ge=1, le=65535)
    sender: str
    to: list[str] = Field(min_length=1)
    username: str | None = None
    password: str | None = None
    starttls: bool = False


class AlertsConfig(Model):
    on: list[Literal["run_failure", "check_failure", "sla_miss"]] = Field(
        default_factory=lambda: ["run_failure", "check_failure", "sla_miss"], min_length=1
    )
    webhook: str | None = None
    email: EmailAlert | None = None
    ui_base_url: str = "http://localhost:3000"

    @model_validator(mode="after")
    def _somewhere(self) -> "AlertsConfig":
        if not self.webhook and not self.email:
            raise ValueError("alerts need a webhook or email")
        return self


class SlaConfig(Model):
    max_runtime_minutes: float | None = Field(default=None, gt=0)
    freshness_minutes: float | None = Field(default=None, gt=0)


class ExecutorConfig(Model):
    """How the pipeline's job runs its steps (an addition to the contract).

    `in_process` (default): one process runs the steps one after another — no per-step start-up
    cost. `multiprocess`: a process per step, up to `max_concurrent` at once (Dagster's default).
    """

    type: Literal["in_process", "multiprocess"] = "in_process"
    max_concurrent: int | None = Field(default=None, ge=1)
