"""Transform assets: run the declared steps over the input table."""
from __future__ import annotations

import dagster as dg

from ..checks.asset import check_resource_keys, check_specs, run_checks
from ..metadata import table_metadata
from ..steps import run_steps
from ..tables import StoredTable
from .common import AssetContext, inputs_by_name, redacting, staged_writer


def build_transform_asset(ctx: AssetContext) -> dg.AssetsDefinition:
    transform = ctx.config

    @dg.asset(ins=ctx.ins(), kinds={"pandas"}, required_resource_keys=check_resource_keys(ctx), check_specs=check_specs(ctx), **ctx.common_kwargs())
    @redacting(ctx.loaded)
    def transform_asset(context: dg.AssetExecutionContext, **inputs: StoredTable):  # no return annotation: Dagster would take it as the output type
        tables = inputs_by_name(inputs)
        with staged_writer(ctx.key) as writer:
            run_steps(transform.name, tables[transform.input], transform.steps, tables, writer, import_paths=[ctx.loaded.base_dir])
            table = writer.commit()
        checked = run_checks(ctx, context, table)
        metadata = {**table_metadata(checked.table, ctx.loaded.redact), **checked.metadata}
        return dg.MaterializeResult(value=checked.table, metadata=metadata, check_results=checked.results)

    return transform_asset
