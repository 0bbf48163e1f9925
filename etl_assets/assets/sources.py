"""Source assets: read from a file, SFTP server, API or database into a stored table."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import dagster as dg
import pyarrow as pa

from sensors.runs import triggered_files, watched_paths

from .. import streamed_load
from ..checks.asset import check_resource_keys, check_specs, run_checks
from ..metadata import table_metadata
from ..partitions import partition_window, render_placeholders
from ..sources.api import read_api_source
from ..sources.errors import Rescan
from ..sources.files import expand_paths, read_files
from ..sources.sftp import read_sftp_source
from ..sources.sql import read_sql_source
from ..streamed_load import StreamedLoad
from ..tables import StoredTable
from . import preload, reuse
from .common import AssetContext, redacting

SourceReader = Callable[..., Iterator[pa.Table]]
"""(ctx, context, meta) -> the chunks of a source; may add metadata (where it read, files, bytes)
to `meta`. The file reader also takes `stream` (see `read_files`) and the `paths` already found."""


def file_paths(ctx: AssetContext, context: dg.AssetExecutionContext, meta: dict[str, Any]) -> list[Path]:
    """The files a file source reads in this run (the watched ones when a sensor started it)."""
    src = ctx.config
    pattern = render_placeholders(src.path, partition_window(ctx.loaded.config, context))
    names = triggered_files(context.run.tags, src.name)
    paths = expand_paths(pattern, ctx.loaded.base_dir) if names is None else watched_paths(ctx.loaded.resolve_path(pattern), names)
    meta["files"] = dg.MetadataValue.json([ctx.loaded.redact(str(p)) for p in paths])
    meta["bytes"] = dg.MetadataValue.int(sum(p.stat().st_size for p in paths))
    return paths


def read_file_source(
    ctx: AssetContext, context: dg.AssetExecutionContext, meta: dict[str, Any], stream: bool = False, paths: list[Path] | None = None
) -> Iterator[pa.Table]:
    src = ctx.config
    paths = file_paths(ctx, context, meta) if paths is None else paths
    context.log.info(ctx.loaded.redact(f"reading {len(paths)} file(s) matching {src.path}"))
    return read_files(paths, src.format, src.options, stream=stream)


READERS: dict[str, SourceReader] = {"file": read_file_source, "sftp": read_sftp_source, "api": read_api_source, "sql": read_sql_source}


def build_source_asset(ctx: AssetContext) -> dg.AssetsDefinition:
    src = ctx.config
    reader = READERS[src.type]

    connection = getattr(src, "connection", None)
    resource_keys = {ctx.connection_resource_key(connection)} if connection else set()
    resource_keys |= preload.resource_keys(ctx)

    def stage(
        context: dg.AssetExecutionContext, meta: dict[str, Any], stream: bool, paths: list[Path] | None
    ) -> tuple[StoredTable, list[StreamedLoad]]:
        """Read the source into a staged table, feeding the loads of the streamed targets."""
        loads = preload.start_loads(ctx, context)
        chunks = reader(ctx, context, meta, **({"stream": stream, "paths": paths} if src.type == "file" else {}))
        return streamed_load.stage(ctx.key.path, chunks, loads), loads

    @dg.asset(kinds={src.type}, required_resource_keys=resource_keys | check_resource_keys(ctx), check_specs=check_specs(ctx), **ctx.common_kwargs())
    @redacting(ctx.loaded)
    def source_asset(context: dg.AssetExecutionContext):  # no return annotation: Dagster would take it as the output type
        meta: dict[str, Any] = {}
        read = table = paths = None
        loads: list[StreamedLoad] = []
        if src.type == "file":
            paths = file_paths(ctx, context, meta)  # once: the fingerprint must describe the files read
            read = reuse.fingerprint(ctx.code_version(), paths)
            adopted = preload.adopt(ctx, context, paths, meta)
            if adopted is not None:
                table, loads = adopted
            elif (table := reuse.stored_table(context, ctx.key, read)) is not None:
                context.log.info("the files have not changed since the last materialization: reusing the table it stored")
        if table is None:
            try:
                table, loads = stage(context, meta, True, paths)
            except Rescan:
                context.log.info("a later block of the file needs wider column types than the first: reading it again with whole-file types")
                table, loads = stage(context, meta, False, paths)
        try:
            checked = run_checks(ctx, context, table)
        except BaseException:
            preload.abort_all(loads)
            raise
        preload.hand_over(loads, table, checked.table, checked.results)
        metadata = {**table_metadata(checked.table, ctx.loaded.redact), **meta, **checked.metadata}
        if read is not None and checked.table.path == table.path:
            metadata.update(reuse.metadata(read, table))
        return dg.MaterializeResult(value=checked.table, metadata=metadata, check_results=checked.results)

    return source_asset
