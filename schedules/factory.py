"""`schedule` -> `<pipeline>_schedule`: cron in a time zone, only between `start` and `end`.

Ticks are computed by Dagster in the schedule's time zone (so "0 6 * * *" stays 06:00 local across
DST changes). A tick before `start` or after `end` is skipped (no run). A partitioned pipeline runs
the latest partition that is complete at the tick's time.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg

from etl_assets.config import LoadedPipeline
from etl_assets.partitions import partitions_def

STATUS = {"running": dg.DefaultScheduleStatus.RUNNING, "stopped": dg.DefaultScheduleStatus.STOPPED}


def moment(text: str | None, timezone: str) -> datetime | None:
    """A config date/time; without an offset it is local time in the schedule's time zone."""
    if text is None:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=ZoneInfo(timezone))


def build_schedule(loaded: LoadedPipeline, job: dg.UnresolvedAssetJobDefinition) -> dg.ScheduleDefinition:
    cfg = loaded.config
    sched = cfg.schedule
    assert sched is not None
    start, end = moment(sched.start, sched.timezone), moment(sched.end, sched.timezone)
    parts = partitions_def(cfg)

    @dg.schedule(
        name=f"{cfg.pipeline}_schedule",
        cron_schedule=sched.cron,
        execution_timezone=sched.timezone,
        job=job,
        default_status=STATUS[sched.default_status],
        description=f"Runs {cfg.pipeline} at '{sched.cron}' ({sched.timezone})",
    )
    def evaluate(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        when = context.scheduled_execution_time
        if start is not None and when < start:
            return dg.SkipReason(f"{when.isoformat()} is before the schedule's start ({sched.start})")
        if end is not None and when > end:
            return dg.SkipReason(f"{when.isoformat()} is after the schedule's end ({sched.end})")
        if parts is None:
            return dg.RunRequest()
        with dg.partition_loading_context(effective_dt=when):
            key = parts.get_last_partition_key()
        if key is None:
            return dg.SkipReason(f"no partition of {cfg.pipeline} is complete at {when.isoformat()}")
        return dg.RunRequest(partition_key=key)

    return evaluate
