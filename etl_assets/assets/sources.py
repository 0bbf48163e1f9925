"""Source assets: read from a file, SFTP server, API or database into a stored table."""
from __future__ import annotations

from typing import Any, Callable, Iterator

import dagster as dg
import pyarrow as pa

from ..metadata import table_metadata
from ..sources.files import expand_paths, read_files
from .common import AssetContext, redacting, staged_writer

SourceReader = Callable[[AssetContext, dg.AssetExecutionContext, dict[str, Any]], Iterator[pa.Table]]
"""Yields the chunks of a source; may add metadata (where it read, files, bytes) to the dict."""


def read_file_source(ctx: AssetContext, context: dg.AssetExecutionContext, meta: dict[str, Any]) -> Iterator[pa.Table]:
    src = ctx.config
    paths = expand_paths(src.path, ctx.loaded.base_dir)
    meta["files"] = dg.MetadataValue.json([str(p) for p in paths])
    meta["bytes"] = dg.MetadataValue.int(sum(p.stat().st_size for p in paths))
    context.log.info(f"reading {len(paths)} file(s) matching {src.path}")
    return read_files(paths, src.format, src.options)


READERS: dict[str, SourceReader] = {"file": read_file_source}


def build_source_asset(ctx: AssetContext) -> dg.AssetsDefinition:
    src = ctx.config
    reader = READERS[src.type]

    @dg.asset(kinds={src.type}, **ctx.common_kwargs())
    @redacting(ctx.loaded)
    def source_asset(context: dg.AssetExecutionContext) -> dg.Output:
        meta: dict[str, Any] = {}
        with staged_writer(ctx.key) as writer:
            for chunk in reader(ctx, context, meta):
                writer.write(chunk)
            table = writer.commit()
        return dg.Output(table, metadata={**table_metadata(table, ctx.loaded.redact), **meta})

    return source_asset
