"""Runs, per-asset results and logs, read from the Dagster instance's storage."""
from __future__ import annotations

import logging
from typing import Any, Mapping

import dagster as dg

from .models import AssetResult, CheckResult, LogEntry, LogPage, RunDetail, RunInfo

LAUNCHED_BY_TAG = "etl/launched_by"
PARTITION_TAG = "dagster/partition"
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
_E = dg.DagsterEventType
RESULT_EVENTS = {
    _E.ASSET_MATERIALIZATION_PLANNED, _E.ASSET_MATERIALIZATION, _E.ASSET_CHECK_EVALUATION,
    _E.STEP_START, _E.STEP_SUCCESS, _E.STEP_FAILURE, _E.STEP_SKIPPED,
}
ROW_KEYS = {
    "rows": "dagster/row_count", "rows_inserted": "rows_inserted", "rows_updated": "rows_updated",
    "rows_unchanged": "rows_unchanged", "rows_deleted": "rows_deleted", "rows_quarantined": "rows_quarantined",
}


def run_info(record: dg.RunRecord) -> RunInfo:
    run = record.dagster_run
    duration = record.end_time - record.start_time if record.start_time and record.end_time else None
    return RunInfo(
        run_id=run.run_id,
        pipeline=run.job_name,
        status=run.status.value,
        created_at=record.create_timestamp.timestamp(),
        started_at=record.start_time,
        ended_at=record.end_time,
        duration_seconds=duration,
        partition=run.tags.get(PARTITION_TAG),
        assets=sorted(k.to_user_string() for k in run.asset_selection) if run.asset_selection else None,
        launched_by=run.tags.get(LAUNCHED_BY_TAG),
    )


def last_run(instance: dg.DagsterInstance, pipeline: str) -> RunInfo | None:
    records = instance.get_run_records(dg.RunsFilter(job_name=pipeline), limit=1)
    return run_info(records[0]) if records else None


def run_detail(instance: dg.DagsterInstance, run_id: str) -> RunDetail | None:
    """The run with one result per planned asset; None when there is no such run."""
    record = instance.get_run_record_by_id(run_id)
    if record is None:
        return None
    results = asset_results(instance, run_id, finished=record.dagster_run.status in FINISHED)
    return RunDetail(**run_info(record).model_dump(), asset_results=results)


def asset_results(instance: dg.DagsterInstance, run_id: str, finished: bool) -> list[AssetResult]:
    """Status, row counts, checks, time and error of each asset of a run, from its events."""
    results: dict[str, AssetResult] = {}
    by_step: dict[str, list[AssetResult]] = {}
    started: dict[str, float] = {}
    for record in instance.get_records_for_run(run_id, of_type=RESULT_EVENTS).records:
        entry = record.event_log_entry
        event = entry.dagster_event
        if event is None:
            continue
        step = entry.step_key or ""
        if event.event_type == _E.ASSET_MATERIALIZATION_PLANNED and event.asset_key:
            result = results.setdefault(event.asset_key.to_user_string(), AssetResult(asset=event.asset_key.to_user_string(), status="planned"))
            by_step.setdefault(step, []).append(result)
        elif event.event_type == _E.ASSET_MATERIALIZATION:
            mat = event.step_materialization_data.materialization
            result = results.setdefault(mat.asset_key.to_user_string(), AssetResult(asset=mat.asset_key.to_user_string(), status="planned"))
            result.status = "materialized"
            for field, key in ROW_KEYS.items():
                setattr(result, field, _int(mat.metadata.get(key)))
        elif event.event_type == _E.ASSET_CHECK_EVALUATION:
            evaluation = event.asset_check_evaluation_data
            result = results.setdefault(evaluation.asset_key.to_user_string(), AssetResult(asset=evaluation.asset_key.to_user_string(), status="planned"))
            result.checks.append(CheckResult(name=evaluation.check_name, passed=evaluation.passed, severity=evaluation.severity.value, metadata=_scalars(evaluation.metadata)))
        elif event.event_type == _E.STEP_START:
            started[step] = entry.timestamp
            _set_status(by_step.get(step, []), "running")
        elif event.event_type in (_E.STEP_SUCCESS, _E.STEP_FAILURE, _E.STEP_SKIPPED):
            for result in by_step.get(step, []):
                if step in started:
                    result.duration_seconds = entry.timestamp - started[step]
                if event.event_type == _E.STEP_FAILURE:
                    result.status, result.error = "failed", _error_text(event)
                elif event.event_type == _E.STEP_SKIPPED:
                    result.status = "skipped"
    if finished:
        _set_status([r for r in results.values() if r.status in ("planned", "running")], "skipped")
    return sorted(results.values(), key=lambda r: r.asset)


def _set_status(results: list[AssetResult], status: str) -> None:
    for result in results:
        if result.status in ("planned", "running"):
            result.status = status


def _int(value: Any) -> int | None:
    value = getattr(value, "value", value)
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _scalars(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata values that are plain numbers, text or booleans."""
    out = {}
    for key, value in metadata.items():
        raw = getattr(value, "value", value)
        if isinstance(raw, (int, float, str, bool)):
            out[key] = raw
    return out


def _error_text(event: dg.DagsterEvent) -> str | None:
    """The innermost error message of a step failure, first line."""
    error = event.step_failure_data.error
    while error is not None and error.cause is not None:
        error = error.cause
    return error.message.strip().splitlines()[0] if error is not None and error.message.strip() else None


def run_logs(instance: dg.DagsterInstance, run_id: str, cursor: str | None, limit: int) -> LogPage:
    """One page of a run's event log, oldest first."""
    connection = instance.get_records_for_run(run_id, cursor=cursor, limit=limit)
    entries = []
    for record in connection.records:
        entry = record.event_log_entry
        event = entry.dagster_event
        entries.append(
            LogEntry(
                timestamp=entry.timestamp,
                level=logging.getLevelName(entry.level),
                event_type=event.event_type.name if event else None,
                step_key=entry.step_key,
                message=entry.user_message or (event.message if event and event.message else ""),
            )
        )
    return LogPage(run_id=run_id, entries=entries, cursor=connection.cursor, has_more=connection.has_more)
