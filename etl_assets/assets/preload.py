"""Loading SQL targets while their input is produced: one pass over the data, with parsing or the
transform's steps, staging and the database's work (COPY) overlapped on the machine's cores.

When a run executes a source or transform and, later in the same process (the `in_process`
executor), a SQL target whose input it is, the producing step starts the target's load in a thread
as soon as the first chunk is staged and hands it every chunk the stored table receives. The
load's transaction stays open until the target step runs: it commits it and reports the load as
its own materialization. If anything in between goes wrong (the step fails, one of its checks
fails or changes the rows, the run stops) the transaction is rolled back; a target step that finds
no ready load (or a load that failed) loads the stored table as usual. Either way the target holds
exactly the stored table's rows, in one transaction.

Only where one streamed pass equals the normal load and an open transaction cannot hold up another
step: PostgreSQL targets (row-level locks; SQLite would lock the whole database file), whose table
no other target of the pipeline writes; no partitions (the window check reads the data first), no
incremental source (targets filter rows by cursor); modes append, replace and dedupe (merge checks
its key before loading). The load itself (`StreamedLoad`) and these rules are in `streamed_load`;
`etl run` may have begun a source's read and loads before Dagster started (`head_start`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg

from .. import head_start
from ..config.models import SqlTarget
from ..streamed_load import Planned, StreamedLoad, Waiting, new_load, postgres_loads, streamed_targets
from ..tables import StoredTable
from .common import AssetContext, asset_key


def resource_keys(ctx: AssetContext) -> set[str]:
    """The connections of the targets the asset's step may load."""
    return {ctx.connection_resource_key(t.connection) for t in streamed_targets(ctx.loaded, ctx.config.name)}


def planned_loads(ctx: AssetContext, context: dg.AssetExecutionContext) -> list[tuple[SqlTarget, Planned]]:
    """The streamed targets of the asset that this run executes and that are PostgreSQL tables."""

    def connection(target: SqlTarget) -> tuple[str, float] | None:
        if not will_run(context, asset_key(ctx.pipeline, target.name)):
            return None
        db = getattr(context.resources, ctx.connection_resource_key(target.connection))
        return db.resolved_url(), db.timeout_seconds

    return postgres_loads(ctx.loaded, ctx.config.name, connection)


def start_loads(ctx: AssetContext, context: dg.AssetExecutionContext) -> list[StreamedLoad]:
    """A load for each streamed target this run executes; feed them as the writer's observers."""
    return [new_load(context.run_id, target, planned) for target, planned in planned_loads(ctx, context)]


def adopt(ctx: AssetContext, context: dg.AssetExecutionContext, paths: list[Path], meta: dict[str, Any]) -> tuple[StoredTable, list[StreamedLoad]] | None:
    """The staged table and fed loads of this source's head start (`etl run` began reading while
    Dagster started), when it is exactly what this step would do; else None (it is rolled back)."""
    head = head_start.take(context.run_id, ctx.key.path)
    if head is None:
        return None
    ahead = head.seconds_ahead
    reason = head.mismatch(ctx.loaded, paths, [p for _, p in planned_loads(ctx, context)])
    if reason is None:
        try:
            table, loads = head.result()
        except Exception as exc:  # noqa: BLE001 - the step reads again and reports its own error
            reason = f"its read failed: {type(exc).__name__}"
        else:
            context.log.info(f"took over the read and loads that etl run began {ahead:.1f} s before this step (head start)")
            meta["head_start_seconds"] = dg.MetadataValue.float(round(ahead, 3))
            return table, loads
    head.abort()
    context.log.info(f"reading the files in this step: the head start does not apply ({reason})")
    return None


def abort_all(loads: list[StreamedLoad]) -> None:
    for load in loads:
        load.abort()


def hand_over(loads: list[StreamedLoad], written: StoredTable, passed_on: StoredTable, results: list[dg.AssetCheckResult]) -> None:
    """Leave the loads for their target steps when the checks passed every written row on; else
    roll them back."""
    clean = passed_on.path == written.path and all(r.passed for r in results)
    for load in loads:
        if clean and load.started:
            offer(load)
        else:
            load.abort()


_PENDING: Waiting[StreamedLoad] = Waiting()


def offer(load: StreamedLoad) -> None:
    """Leave a fed load for its target step; loads left over by other runs are rolled back."""
    _PENDING.put((load.run_id, load.target), load, stale=lambda k: k[0] != load.run_id)


def take(run_id: str, target: dg.AssetKey) -> StreamedLoad | None:
    """The load the source step left for this target in this run, if any."""
    return _PENDING.take((run_id, tuple(target.path)))


def will_run(context: dg.AssetExecutionContext, target: dg.AssetKey) -> bool:
    """Whether this run executes the target's step (after this one, in this process)."""
    plan = context.get_step_execution_context().execution_plan
    return target.to_python_identifier() in plan.step_keys_to_execute
