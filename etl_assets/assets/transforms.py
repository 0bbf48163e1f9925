"""Transform assets: run the declared steps over the input table."""
from __future__ import annotations

import dagster as dg

from ..metadata import table_metadata
from ..steps import run_steps
from ..tables import StoredTable
from .common import AssetContext, inputs_by_name, redacting, staged_writer


def build_transform_asset(ctx: AssetContext) -> dg.AssetsDefinition:
    transform = ctx.config

    @dg.asset(ins=ctx.ins(), kinds={"pandas"}, **ctx.common_kwargs())
    @redacting(ctx.loaded)
    def transform_asset(context: dg.AssetExecutionContext, **inputs: StoredTable) -> dg.Output:
        tables = inputs_by_name(inputs)
        with staged_writer(ctx.key) as writer:
            run_steps(transform.name, tables[transform.input], transform.steps, tables, writer, import_paths=[ctx.loaded.base_dir])
            table = writer.commit()
        return dg.Output(table, metadata=table_metadata(table, ctx.loaded.redact))

    return transform_asset
