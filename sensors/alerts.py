"""Alert sensors of a pipeline with `alerts`:

- `<pipeline>_alerts_sensor` (a run-failure sensor): one alert per failed run of the pipeline, whether
  started by its job, a sensor, a schedule, a backfill or an asset materialization. It is a
  check_failure when a blocking check failed, an sla_miss when run monitoring stopped the run for
  exceeding `sla.max_runtime_minutes`, else a run_failure.
- `<pipeline>_freshness_sensor` (with `sla.freshness_minutes`): an sla_miss once per target that has
  not been loaded for longer than that (again after each new load that then goes stale).

Both are running by default: writing `alerts` is the opt-in. They start no runs.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from etl_assets.alerts import Alert, send_alert
from etl_assets.assets.common import asset_key
from etl_assets.config import LoadedPipeline
from etl_assets.sla import MAX_RUNTIME_MESSAGE

FRESHNESS_INTERVAL_SECONDS = 60
_FAILURE_EVENTS = {
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
    dg.DagsterEventType.RUN_CANCELING,
    dg.DagsterEventType.RUN_FAILURE,
}


def belongs(run: dg.DagsterRun, pipeline: str) -> bool:
    """Whether a run is the pipeline's job or materializes any of its assets."""
    if run.job_name == pipeline:
        return True
    return any(key.path[0] == pipeline for key in run.asset_selection or ())


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _step_failure(event: dg.DagsterEvent) -> tuple[str, str]:
    """(asset, error) of a STEP_FAILURE event; asset step keys are the key path joined by `__`."""
    data = event.event_specific_data
    user = getattr(data, "user_failure_data", None)
    message = (user.description if user and user.description else None) or (data.error.message if data.error else "failed")
    return (event.step_key or "").replace("__", "/"), _first_line(message)


def _check_failure(ev: Any) -> str:
    """`check <name> failed: <description>; <n> failing row(s); <first table-level failure>`."""
    meta = {k: getattr(v, "value", v) for k, v in (ev.metadata or {}).items()}
    details = [_first_line(ev.description or "")]
    if meta.get("failing_rows"):
        details.append(f"{meta['failing_rows']} failing row(s)")
    if meta.get("table_failures"):
        details.append(_first_line(str(meta["table_failures"])).removeprefix("- "))
    shown = "; ".join(d for d in details if d)
    return f"check {ev.check_name} failed" + (f": {shown}" if shown else "")


@dataclass
class RunFailures:
    """What went wrong in a run: failed blocking checks and steps, as (asset, text), and an overrun."""

    checks: list[tuple[str, str]] = field(default_factory=list)
    steps: list[tuple[str, str]] = field(default_factory=list)
    overran: str = ""


def run_failures(instance: dg.DagsterInstance, run_id: str) -> RunFailures:
    found = RunFailures()
    for entry in instance.all_logs(run_id, of_type=_FAILURE_EVENTS):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            ev = event.event_specific_data
            if not ev.passed and ev.severity == dg.AssetCheckSeverity.ERROR:
                found.checks.append((ev.asset_key.to_user_string(), _check_failure(ev)))
        elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
            found.steps.append(_step_failure(event))
        elif MAX_RUNTIME_MESSAGE in (event.message or "").lower() and not found.overran:
            found.overran = _first_line(event.message or "")
    return found


def failure_alert(loaded: LoadedPipeline, instance: dg.DagsterInstance, run: dg.DagsterRun, run_message: str) -> Alert | None:
    """The alert for a failed run of this pipeline, or None when `alerts.on` wants none."""
    cfg = loaded.config
    assert cfg.alerts is not None
    failures = run_failures(instance, run.run_id)
    if failures.checks:
        kind, found = "check_failure", failures.checks
    elif failures.overran:
        kind = "sla_miss"
        found = [("", f"run exceeded sla.max_runtime_minutes ({failures.overran})")] + [(a, "") for a, _ in failures.steps]
    else:
        kind, found = "run_failure", failures.steps or [("", _first_line(run_message) or "run failed")]
    if kind not in cfg.alerts.on:
        if "run_failure" not in cfg.alerts.on:
            return None
        kind = "run_failure"
    assets = list(dict.fromkeys(a for a, _ in found if a))
    what = "; ".join(f"{a}: {w}" if a else w for a, w in found if w)
    return Alert(kind=kind, pipeline=cfg.pipeline, what=what, assets=assets, run_id=run.run_id)


def build_failure_sensor(loaded: LoadedPipeline) -> dg.SensorDefinition:
    pipeline = loaded.config.pipeline

    @dg.run_failure_sensor(
        name=f"{pipeline}_alerts_sensor",
        monitor_all_code_locations=True,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Alerts on failed runs of {pipeline} (run failure, blocking check failure, max runtime).",
    )
    def alerts_sensor(context: dg.RunFailureSensorContext) -> None:
        run = context.dagster_run
        if not belongs(run, pipeline):
            return
        alert = failure_alert(loaded, context.instance, run, context.failure_event.message or "")
        if alert is not None:
            sent = send_alert(loaded, alert)
            context.log.info(f"{alert.kind} alert for run {run.run_id} sent by {', '.join(sent)}")

    return alerts_sensor


def stale_alerts(loaded: LoadedPipeline, instance: dg.DagsterInstance, cursor: dict[str, Any], now: float) -> tuple[list[Alert], dict[str, Any]]:
    """SLA-miss alerts for targets older than `freshness_minutes`, and the next cursor.

    Cursor: `since` (first evaluation; a target never loaded is stale from then) and, per target,
    the materialization time already alerted on, so each stale episode alerts once.
    """
    cfg = loaded.config
    assert cfg.sla is not None and cfg.sla.freshness_minutes is not None
    window = cfg.sla.freshness_minutes * 60
    since = float(cursor.get("since", now))
    alerted: dict[str, float] = dict(cursor.get("alerted", {}))
    alerts = []
    for target in cfg.targets:
        key = asset_key(cfg.pipeline, target.name)
        latest = instance.get_latest_materialization_event(key)
        loaded_at = latest.timestamp if latest else 0.0
        name = key.to_user_string()
        if now - max(loaded_at, since) < window or alerted.get(name) == loaded_at:
            continue
        alerted[name] = loaded_at
        minutes = cfg.sla.freshness_minutes
        what = f"not loaded for more than {minutes:g} minutes" + (
            f" (last load {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(loaded_at))})" if latest else " (never loaded)"
        )
        alerts.append(Alert(kind="sla_miss", pipeline=cfg.pipeline, what=what, assets=[name], run_id=latest.run_id if latest else None))
    return alerts, {"since": since, "alerted": alerted}


def build_freshness_sensor(loaded: LoadedPipeline) -> dg.SensorDefinition:
    pipeline = loaded.config.pipeline

    def evaluate(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        cursor = json.loads(context.cursor) if context.cursor else {}
        alerts, new_cursor = stale_alerts(loaded, context.instance, cursor, time.time())
        for alert in alerts:
            send_alert(loaded, alert)
        skip = None if alerts else "every target is fresh (or already alerted)"
        return dg.SensorResult(cursor=json.dumps(new_cursor, sort_keys=True), skip_reason=skip)

    return dg.SensorDefinition(
        name=f"{pipeline}_freshness_sensor",
        evaluation_fn=evaluate,
        minimum_interval_seconds=FRESHNESS_INTERVAL_SECONDS,
        description=f"Alerts when a target of {pipeline} is older than sla.freshness_minutes.",
        default_status=dg.DefaultSensorStatus.RUNNING,
    )


def build_alert_sensors(loaded: LoadedPipeline) -> list[dg.SensorDefinition]:
    """The alert sensors a pipeline's `alerts` and `sla` call for."""
    cfg = loaded.config
    if cfg.alerts is None:
        return []
    sensors = [build_failure_sensor(loaded)]
    if "sla_miss" in cfg.alerts.on and cfg.sla is not None and cfg.sla.freshness_minutes is not None:
        sensors.append(build_freshness_sensor(loaded))
    return sensors
