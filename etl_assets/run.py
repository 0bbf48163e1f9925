"""`etl run`: execute a pipeline's job in this process and summarise each asset."""
from __future__ import annotations

import gc
import sys
from dataclasses import dataclass, field
from typing import Any, Sequence

import dagster as dg

from . import head_start
from .config import ConfigError, LoadedPipeline


@dataclass
class AssetSummary:
    key: str
    status: str = "skipped"
    rows: int | None = None
    inserted: int | None = None
    updated: int | None = None
    unchanged: int | None = None
    checks: list[str] = field(default_factory=list)
    seconds: float | None = None
    error: str | None = None


def _int(meta: dict[str, Any], key: str) -> int | None:
    value = meta.get(key)
    return None if value is None else int(getattr(value, "value", value))


def summarise(records: Sequence[Any], keys: Sequence[dg.AssetKey]) -> list[AssetSummary]:
    """One summary per selected asset, from the run's event log records."""
    rows = {k: AssetSummary(k.to_user_string()) for k in keys}
    started: dict[str, float] = {}
    for record in records:
        event = record.dagster_event
        if event is None:
            continue
        step = event.step_key
        if event.event_type == dg.DagsterEventType.STEP_START and step:
            started[step] = record.timestamp
        elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            mat = event.event_specific_data.materialization
            summary = rows.setdefault(mat.asset_key, AssetSummary(mat.asset_key.to_user_string()))
            meta = dict(mat.metadata)
            summary.status = "ok"
            summary.rows = _int(meta, "dagster/row_count")
            summary.inserted = _int(meta, "rows_inserted")
            summary.updated = _int(meta, "rows_updated")
            summary.unchanged = _int(meta, "rows_unchanged")
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            summary = rows.setdefault(evaluation.asset_key, AssetSummary(evaluation.asset_key.to_user_string()))
            verdict = "passed" if evaluation.passed else ("warn" if evaluation.severity == dg.AssetCheckSeverity.WARN else "FAILED")
            summary.checks.append(f"{evaluation.check_name}:{verdict}")
        elif event.event_type == dg.DagsterEventType.STEP_FAILURE and step:
            for key in _step_assets(list(rows), step):
                rows[key].status = "FAILED"
                rows[key].error = event.event_specific_data.error.message.strip().splitlines()[0] if event.event_specific_data.error else None
        if event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE) and step in started:
            for key in _step_assets(list(rows), step):
                rows[key].seconds = record.timestamp - started[step]
    return list(rows.values())


def _step_assets(keys: Sequence[dg.AssetKey], step: str) -> list[dg.AssetKey]:
    """Assets computed by a step (an @asset's step key is its key path joined with '__')."""
    return [k for k in keys if "__".join(k.path) == step]


def print_summary(summaries: list[AssetSummary]) -> None:
    header = f"{'asset':<40} {'status':<8} {'rows':>10} {'inserted':>9} {'updated':>8} {'unchanged':>9} {'time':>7}  checks"
    print(header)
    print("-" * len(header))
    for s in summaries:
        def num(v: int | None) -> str:
            return "" if v is None else str(v)

        secs = "" if s.seconds is None else f"{s.seconds:.1f}s"
        print(f"{s.key:<40} {s.status:<8} {num(s.rows):>10} {num(s.inserted):>9} {num(s.updated):>8} {num(s.unchanged):>9} {secs:>7}  {' '.join(s.checks)}")
        if s.error:
            print(f"    error: {s.error}")


def resolve_selection(pipeline: str, select: Sequence[str], job: dg.JobDefinition) -> list[dg.AssetKey]:
    """Asset names or `<pipeline>/<name>` -> keys of this pipeline's job."""
    known = set(job.asset_layer.executable_asset_keys)
    keys = []
    for item in select:
        key = dg.AssetKey.from_user_string(item if "/" in item else f"{pipeline}/{item}")
        if key not in known:
            names = ", ".join(sorted(k.path[-1] for k in known))
            raise SystemExit(f"etl run: {item!r} is not an asset of pipeline {pipeline} (assets: {names})")
        keys.append(key)
    return keys


def run_pipeline(
    pipeline: str,
    select: Sequence[str],
    partition: str | None,
    exits_after: bool = False,
    run_id: str | None = None,
    configs: tuple[list[LoadedPipeline], list[ConfigError]] | None = None,
) -> int:
    """Execute; print a summary per asset; 0 only when every step and check succeeded.

    `exits_after`: the process ends after the run, so the definitions and the instance live as
    long as it does: they are frozen out of the garbage collector's walks, which the caller kept
    off while they were made, and the collector is turned on for the run (see `etl_assets.console`).
    `run_id`: the run's id, chosen beforehand (a head start began under it); a head start the run
    did not take over is rolled back when the run ends. `configs`: the configs directory as
    `load_all` read it (default: read it now)."""
    try:
        return _run(pipeline, select, partition, exits_after, run_id, configs)
    finally:
        head_start.discard()


def _run(
    pipeline: str, select: Sequence[str], partition: str | None, exits_after: bool, run_id: str | None, configs: tuple[list[LoadedPipeline], list[ConfigError]] | None
) -> int:
    from .definitions import build_definitions, load_definitions

    defs = build_definitions(*configs) if configs is not None else load_definitions()
    try:
        job = defs.resolve_job_def(pipeline)
    except Exception:  # noqa: BLE001 - unknown job name
        names = ", ".join(sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__")))
        print(f"etl run: no pipeline named {pipeline!r} (pipelines: {names or 'none'}); see `etl validate`", file=sys.stderr)
        return 2
    keys = resolve_selection(pipeline, select, job)
    with dg.DagsterInstance.get() as instance:
        if exits_after:
            gc.freeze()
            gc.enable()
        result = job.execute_in_process(
            instance=instance,
            asset_selection=keys or None,
            partition_key=partition,
            run_id=run_id,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        )
        records = instance.all_logs(result.run_id)
    executable = set(job.asset_layer.executable_asset_keys)
    in_order = [k for k in job.asset_layer.asset_graph.toposorted_asset_keys if k in executable]
    selected = [k for k in in_order if not keys or k in keys]
    summaries = summarise(records, selected)
    print_summary(summaries)
    failed_checks = any(c.endswith(":FAILED") for s in summaries for c in s.checks)
    print(f"run {result.run_id}: {'success' if result.success and not failed_checks else 'FAILED'}")
    return 0 if result.success and not failed_checks else 1
