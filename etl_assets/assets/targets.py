"""Target assets: load the input table into a database table or a file."""
from __future__ import annotations

from typing import Any, Callable

import dagster as dg

from .. import incremental
from ..config.models import FileTarget, SqlTarget
from ..metadata import table_metadata
from ..partitions import partition_window, render_placeholders
from ..streamed_load import sql_loader
from ..tables import StoredTable
from ..targets import LoadResult
from ..targets.files import write_file
from . import preload
from .common import AssetContext, inputs_by_name, redacting


def _load_metadata(result: LoadResult, redact: Callable[[str], str]) -> dict[str, Any]:
    return {
        "table": redact(result.table),
        "rows_inserted": dg.MetadataValue.int(result.inserted),
        "rows_updated": dg.MetadataValue.int(result.updated),
        "rows_unchanged": dg.MetadataValue.int(result.unchanged),
        "rows_deleted": dg.MetadataValue.int(result.deleted),
    }


def _streamed_result(context: dg.AssetExecutionContext, key: dg.AssetKey, redact: Callable[[str], str]) -> LoadResult | None:
    """The load the source step streamed for this target, committed; None when there is none or it
    failed (the stored table is then loaded as usual)."""
    pending = preload.take(context.run_id, key)
    if pending is None:
        return None
    try:
        result = pending.commit()
    except Exception as exc:  # noqa: BLE001 - the normal load runs next and reports its own error
        context.log.warning(redact(f"the load streamed during the source step failed ({type(exc).__name__}: {exc}); loading the stored table"))
        return None
    context.log.info("committed the load streamed during the source step")
    return result


def build_target_asset(ctx: AssetContext) -> dg.AssetsDefinition:
    target = ctx.config
    if isinstance(target, SqlTarget):
        resource_key = ctx.connection_resource_key(target.connection)
        kinds, resource_keys = {"sql"}, {resource_key}
    else:
        kinds, resource_keys = {"file"}, set()

    @dg.asset(ins=ctx.ins(), kinds=kinds, required_resource_keys=resource_keys, **ctx.common_kwargs())
    @redacting(ctx.loaded)
    def target_asset(context: dg.AssetExecutionContext, **inputs: StoredTable) -> dg.MaterializeResult:
        data = inputs_by_name(inputs)[target.input]
        data, incremental_meta = incremental.for_target(context, ctx.loaded.config, target.name, data)
        window = partition_window(ctx.loaded.config, context)
        if isinstance(target, SqlTarget):
            result = _streamed_result(context, ctx.key, ctx.loaded.redact)
            if result is None:
                db = getattr(context.resources, resource_key)
                result = sql_loader(target, db.resolved_url(), db.timeout_seconds, context.run_id, window)(data)
        else:
            assert isinstance(target, FileTarget)
            result = write_file(ctx.loaded.resolve_path(render_placeholders(target.path, window)), target.format, data, target.options)
        context.log.info(ctx.loaded.redact(f"loaded {result.table}: {result.inserted} inserted, {result.updated} updated, {result.unchanged} unchanged"))
        return dg.MaterializeResult(metadata={**table_metadata(data, ctx.loaded.redact), **_load_metadata(result, ctx.loaded.redact), **incremental_meta})

    return target_asset
