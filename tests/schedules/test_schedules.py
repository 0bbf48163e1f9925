"""`<pipeline>_schedule`: tick times in the configured time zone across DST, and the start/end window."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
from dagster._utils.schedules import cron_string_iterator  # the iterator the scheduler daemon uses

from etl_assets.config import load_pipeline
from schedules import build_schedule

BERLIN = ZoneInfo("Europe/Berlin")
CONFIG = """\
pipeline: nightly
sources: [{{name: raw, type: file, path: raw.csv}}]
targets: [{{name: out, input: raw, type: file, path: out.csv}}]
schedule: {schedule}
{extra}
"""


def schedule_for(tmp_path: Path, schedule: str, extra: str = "") -> dg.ScheduleDefinition:
    path = tmp_path / "nightly.yaml"
    path.write_text(CONFIG.format(schedule=schedule, extra=extra))
    loaded = load_pipeline(path)
    return build_schedule(loaded, dg.define_asset_job("nightly", selection=dg.AssetSelection.groups("nightly")))


def ticks(schedule: dg.ScheduleDefinition, start: datetime, count: int) -> list[tuple[str, bool]]:
    """(local tick time, whether it requests a run) for the next `count` ticks after start."""
    out = []
    times = cron_string_iterator(start.timestamp(), schedule.cron_schedule, schedule.execution_timezone)
    for _ in range(count):
        when = next(times)
        with dg.instance_for_test() as instance:
            data = schedule.evaluate_tick(dg.build_schedule_context(instance=instance, scheduled_execution_time=when))
        out.append((when.isoformat(), bool(data.run_requests)))
    return out


def test_name_timezone_and_default_status(tmp_path: Path) -> None:
    stopped = schedule_for(tmp_path, '{cron: "0 6 * * *", timezone: Europe/Berlin}')
    assert stopped.name == "nightly_schedule"
    assert stopped.execution_timezone == "Europe/Berlin"
    assert stopped.default_status == dg.DefaultScheduleStatus.STOPPED
    running = schedule_for(tmp_path, '{cron: "0 6 * * *", default_status: running}')
    assert running.default_status == dg.DefaultScheduleStatus.RUNNING
    assert running.execution_timezone == "UTC"


def test_local_time_is_kept_across_dst_and_start_is_respected(tmp_path: Path) -> None:
    schedule = schedule_for(tmp_path, '{cron: "30 2 * * *", timezone: Europe/Berlin, start: "2026-03-29 03:00"}')
    assert ticks(schedule, datetime(2026, 3, 26, 12, tzinfo=BERLIN), 4) == [
        ("2026-03-27T02:30:00+01:00", False),  # before start
        ("2026-03-28T02:30:00+01:00", False),
        ("2026-03-29T03:00:00+02:00", True),  # 02:30 does not exist that night: Dagster runs at 03:00, once
        ("2026-03-30T02:30:00+02:00", True),
    ]
    daily = schedule_for(tmp_path, '{cron: "0 6 * * *", timezone: Europe/Berlin}')
    assert [t for t, _ in ticks(daily, datetime(2026, 10, 24, 12, tzinfo=BERLIN), 2)] == [
        "2026-10-25T06:00:00+01:00",  # still 06:00 local after the clocks went back
        "2026-10-26T06:00:00+01:00",
    ]


def test_end_is_respected_across_the_october_change(tmp_path: Path) -> None:
    schedule = schedule_for(tmp_path, '{cron: "0 * * * *", timezone: Europe/Berlin, end: "2026-10-25 03:00"}')
    assert ticks(schedule, datetime(2026, 10, 25, 0, 30, tzinfo=BERLIN), 5) == [
        ("2026-10-25T01:00:00+02:00", True),
        ("2026-10-25T02:00:00+02:00", True),
        ("2026-10-25T02:00:00+01:00", True),  # the repeated hour runs twice with an hourly cron
        ("2026-10-25T03:00:00+01:00", True),  # at the end moment: still inside
        ("2026-10-25T04:00:00+01:00", False),  # after end
    ]


def test_a_start_with_an_offset_is_taken_as_given(tmp_path: Path) -> None:
    schedule = schedule_for(tmp_path, '{cron: "0 6 * * *", timezone: Europe/Berlin, start: "2026-06-02T04:00:00+00:00"}')
    assert ticks(schedule, datetime(2026, 6, 1, 12, tzinfo=BERLIN), 2) == [
        ("2026-06-02T06:00:00+02:00", True),  # 04:00 UTC is exactly 06:00 CEST
        ("2026-06-03T06:00:00+02:00", True),
    ]


def test_a_partitioned_pipeline_runs_the_latest_complete_partition(tmp_path: Path) -> None:
    schedule = schedule_for(
        tmp_path,
        '{cron: "0 6 * * *", timezone: Europe/Berlin}',
        'partitions: {type: daily, start: "2024-01-01", column: day}',
    )
    # called directly: the partition key is checked against the assets only inside a code location
    first = schedule(dg.build_schedule_context(scheduled_execution_time=datetime(2024, 1, 1, 6, tzinfo=BERLIN)))
    later = schedule(dg.build_schedule_context(scheduled_execution_time=datetime(2024, 1, 3, 6, tzinfo=BERLIN)))
    assert isinstance(first, dg.SkipReason) and "no partition" in (first.skip_message or "")
    assert isinstance(later, dg.RunRequest) and later.partition_key == "2024-01-02"
