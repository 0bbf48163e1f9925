"""`partitions` -> a Dagster time-window partitions definition, and the placeholders of a run.

`{partition_start}` / `{partition_end}` (ISO 8601, end exclusive) and `{partition_key}` may be used
in a source's path, query, params and endpoint.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import dagster as dg

from .config.models import PartitionsConfig, PipelineConfig

_DEFS = {
    "hourly": dg.HourlyPartitionsDefinition,
    "daily": dg.DailyPartitionsDefinition,
    "weekly": dg.WeeklyPartitionsDefinition,
    "monthly": dg.MonthlyPartitionsDefinition,
}
_FORMATS = {"hourly": "%Y-%m-%d-%H:%M", "daily": "%Y-%m-%d", "weekly": "%Y-%m-%d", "monthly": "%Y-%m-%d"}


def partitions_def(cfg: PipelineConfig) -> dg.TimeWindowPartitionsDefinition | None:
    """The pipeline's partitions (every asset shares them), or None."""
    p: PartitionsConfig | None = cfg.partitions
    if p is None:
        return None
    start = datetime.fromisoformat(p.start)
    end = datetime.fromisoformat(p.end) if p.end else None
    return _DEFS[p.type](start_date=start, end_date=end, timezone=p.timezone, fmt=_FORMATS[p.type])


@dataclass(frozen=True)
class PartitionWindow:
    """The time window of one partition: `column` in [start, end)."""

    key: str
    column: str
    start: datetime
    end: datetime

    def placeholders(self) -> dict[str, str]:
        return {"partition_key": self.key, "partition_start": self.start.isoformat(), "partition_end": self.end.isoformat()}


def partition_window(cfg: PipelineConfig, context: dg.AssetExecutionContext) -> PartitionWindow | None:
    """The window of the partition being materialized (None for an unpartitioned pipeline)."""
    if cfg.partitions is None or not context.has_partition_key:
        return None
    window = context.partition_time_window
    return PartitionWindow(context.partition_key, cfg.partitions.column, window.start, window.end)


def render_placeholders(value: Any, window: PartitionWindow | None) -> Any:
    """Replace `{partition_*}` in a string (or in the strings of a list/dict); other braces stay."""
    if window is None:
        return value
    if isinstance(value, str):
        for name, text in window.placeholders().items():
            value = value.replace("{" + name + "}", text)
        return value
    if isinstance(value, dict):
        return {k: render_placeholders(v, window) for k, v in value.items()}
    if isinstance(value, list):
        return [render_placeholders(v, window) for v in value]
    return value
