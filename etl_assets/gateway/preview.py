"""The first rows of an asset: a SQL target's table, a file target's file, or the stored table."""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import sqlalchemy as sa

from ..assets.common import asset_key, connection_resource_key
from ..config import LoadedPipeline
from ..config.models import FileTarget, SqlTarget
from ..factory import build_pipeline
from ..io_manager import TableIOManager
from ..storage import LEGACY_SUFFIX, SUFFIX
from ..tables import StoredTable
from ..targets.sql import quote_table
from ..targets.sql.common import RESERVED_PREFIX, parse_table
from .models import Preview

if TYPE_CHECKING:
    import pandas as pd


class PreviewUnavailable(Exception):
    """Nothing to show yet (no such asset, or it was never loaded); the message says which."""


def preview(loaded: LoadedPipeline, asset: str, limit: int) -> Preview:
    """Up to `limit` rows of the asset, framework (`_etl_*`) columns left out."""
    cfg = loaded.config
    name = asset.split("/", 1)[1] if asset.startswith(f"{cfg.pipeline}/") else asset
    items = {item.name: item for section in (cfg.sources, cfg.transforms, cfg.targets) for item in section}
    item = items.get(name)
    if item is None:
        raise PreviewUnavailable(f"pipeline {cfg.pipeline} has no asset {name!r} (assets: {', '.join(sorted(items))})")
    if isinstance(item, SqlTarget):
        source, frame = _sql(loaded, item, limit)
    elif isinstance(item, FileTarget):
        source, frame = _file(loaded.resolve_path(item.path), item.format, limit)
    else:
        source, frame = _stored(asset_key(cfg.pipeline, name), limit)
    frame = frame[[c for c in frame.columns if not str(c).startswith(RESERVED_PREFIX)]].head(limit)
    data = json.loads(frame.to_json(orient="split", index=False, date_format="iso", double_precision=15, default_handler=str))
    return Preview(asset=f"{cfg.pipeline}/{name}", source=loaded.redact(source), columns=[str(c) for c in data["columns"]], rows=data["data"])


def _sql(loaded: LoadedPipeline, target: SqlTarget, limit: int) -> tuple[str, pd.DataFrame]:
    import pandas as pd

    resource = build_pipeline(loaded).resources[connection_resource_key(loaded.config.pipeline, target.connection)]
    url = resource.resolved_url()
    table = quote_table(url, target.table)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            name = parse_table(target.table)
            if not sa.inspect(conn).has_table(name.name, schema=name.schema):
                raise PreviewUnavailable(f"table {table} does not exist yet: run the pipeline first")
            result = conn.execute(sa.text(f"SELECT * FROM {table} LIMIT :limit"), {"limit": limit})  # a quoted identifier
            frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    finally:
        engine.dispose()
    return f"table {table}", frame


def _file(path: Path, fmt: str | None, limit: int) -> tuple[str, pd.DataFrame]:
    if not path.exists():
        raise PreviewUnavailable(f"{path.name} does not exist yet: run the pipeline first")
    from ..sources.files import detect_format, read_file_frames

    frames = read_file_frames([path], detect_format(path, fmt), {}, chunk_rows=limit)
    return f"file {path.name}", next(frames)


def _stored(key: dg.AssetKey, limit: int) -> tuple[str, pd.DataFrame]:
    """The newest stored table of a source or transform (any partition)."""
    import pandas as pd

    folder = TableIOManager().path_for(key, None).parent
    found = [*folder.glob(f"*{SUFFIX}"), *folder.glob(f"*{LEGACY_SUFFIX}")] if folder.is_dir() else []
    files = sorted(found, key=lambda p: p.stat().st_mtime)
    if not files:
        raise PreviewUnavailable(f"{key.to_user_string()} has no stored data yet: run the pipeline first")
    batch = next(StoredTable(files[-1]).batches(limit), None)
    frame = batch.to_pandas() if batch is not None else pd.DataFrame()
    return f"stored table {files[-1].stem}", frame

