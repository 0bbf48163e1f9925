"""Transform assets: run the declared steps over the input table."""
from __future__ import annotations

import dagster as dg

from ..checks.asset import check_resource_keys, check_specs, run_checks
from ..metadata import table_metadata
from ..steps import run_steps
from ..tables import StoredTable
from . import preload
from .common import AssetContext, inputs_by_name, redacting, staged_writer


def build_transform_asset(ctx: AssetContext) -> dg.AssetsDefinition:
    transform = ctx.config

    resource_keys = check_resource_keys(ctx) | preload.resource_keys(ctx)

    @dg.asset(ins=ctx.ins(), kinds={"pandas"}, required_resource_keys=resource_keys, check_specs=check_specs(ctx), **ctx.common_kwargs())
    @redacting(ctx.loaded)
    def transform_asset(context: dg.AssetExecutionContext, **inputs: StoredTable):  # no return annotation: Dagster would take it as the output type
        tables = inputs_by_name(inputs)
        loads = preload.start_loads(ctx, context)
        try:
            with staged_writer(ctx.key, *loads) as writer:
                run_steps(transform.name, tables[transform.input], transform.steps, tables, writer, import_paths=[ctx.loaded.base_dir])
                table = writer.commit()
            for load in loads:
                load.end_input()
            checked = run_checks(ctx, context, table)
        except BaseException:
            preload.abort_all(loads)
            raise
        preload.hand_over(loads, table, checked.table, checked.results)
        metadata = {**table_metadata(checked.table, ctx.loaded.redact), **checked.metadata}
        return dg.MaterializeResult(value=checked.table, metadata=metadata, check_results=checked.results)

    return transform_asset
