"""Incremental sources: where the cursor state lives and when it advances (docs/incremental.md).

The state is kept in Dagster's own event log (the instance's run/event storage under
DAGSTER_HOME), as materialization metadata, so it survives restarts and needs no extra table:

- the source asset records `incremental_cursor`: the largest cursor value it read (or, with no new
  rows, the lower bound it read from);
- each target, once its load committed, records `incremental_loaded`: for each incremental source
  upstream of it, the `incremental_cursor` of the source materialization whose rows it just loaded
  (found through Dagster's data provenance, so transforms in between are followed exactly);
- the next read of a source starts after the *committed* cursor: the smallest `incremental_loaded`
  value over every target downstream of the source, or `initial_value` when any of them has none.

A run that fails after the source read leaves the targets' records as they were, so the next run
reads the same rows again. A target that had already loaded some of them (one of several targets
succeeded) drops the rows it already has: rows whose cursor column is not past its own record.
"""
from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from .config.models import PipelineConfig, SqlSource
from .storage import SUFFIX, data_dir
from .tables import StoredTable, TableWriter

CURSOR_KEY = "incremental_cursor"
"""Source materialization metadata: the cursor value up to which the source has read."""
FROM_KEY = "incremental_from"
"""Source materialization metadata: the (exclusive) lower bound of that read."""
LOADED_KEY = "incremental_loaded"
"""Target materialization metadata: {source asset key: cursor value of the rows loaded}."""


# --- cursor values as JSON ------------------------------------------------------------------------

_ENCODERS: list[tuple[type, str, Any]] = [
    (bool, "bool", bool),
    (int, "int", int),
    (float, "float", float),
    (Decimal, "decimal", str),
    (dt.datetime, "datetime", dt.datetime.isoformat),
    (dt.date, "date", dt.date.isoformat),
    (dt.time, "time", dt.time.isoformat),
    (str, "str", str),
    (bytes, "bytes", lambda b: base64.b64encode(b).decode()),
]
_DECODERS: dict[str, Any] = {
    "bool": bool,
    "int": int,
    "float": float,
    "decimal": Decimal,
    "datetime": dt.datetime.fromisoformat,
    "date": dt.date.fromisoformat,
    "time": dt.time.fromisoformat,
    "str": str,
    "bytes": base64.b64decode,
}


def encode(value: Any) -> dict[str, Any] | None:
    """A cursor value as JSON-able `{type, value}` (None stays None)."""
    if value is None:
        return None
    for kind, name, convert in _ENCODERS:
        if isinstance(value, kind):
            return {"type": name, "value": convert(value)}
    raise TypeError(f"an incremental cursor cannot hold a {type(value).__name__} ({value!r})")


def decode(data: Any) -> Any:
    """The value `encode` wrote."""
    if not isinstance(data, dict) or "type" not in data:
        return None
    return _DECODERS[data["type"]](data["value"])


def shown(value: Any) -> str:
    return "the beginning" if value is None else repr(value)


# --- lineage in the config ------------------------------------------------------------------------


def _items(cfg: PipelineConfig) -> dict[str, Any]:
    return {item.name: item for item in (*cfg.sources, *cfg.transforms, *cfg.targets)}


def upstream_closure(cfg: PipelineConfig, name: str) -> set[str]:
    """Every asset `name` reads from, directly or through others."""
    items = _items(cfg)
    seen: set[str] = set()
    todo = list(cfg.upstream_of(items[name]))
    while todo:
        current = todo.pop()
        if current not in seen and current in items:
            seen.add(current)
            todo.extend(cfg.upstream_of(items[current]))
    return seen


def incremental_sources(cfg: PipelineConfig, names: Iterable[str]) -> list[SqlSource]:
    wanted = set(names)
    return [s for s in cfg.sources if isinstance(s, SqlSource) and s.incremental and s.name in wanted]


def downstream_targets(cfg: PipelineConfig, source: str) -> list[str]:
    return [t.name for t in cfg.targets if source in upstream_closure(cfg, t.name)]


# --- event log queries ------------------------------------------------------------------------------


def _key(cfg: PipelineConfig, name: str) -> dg.AssetKey:
    return dg.AssetKey([cfg.pipeline, name])


def latest_record(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None) -> Any:
    """The newest materialization record of an asset (of one partition), or None."""
    flt = dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition] if partition else None)
    records = instance.fetch_materializations(flt, limit=1).records
    return records[0] if records else None


def _record_by_id(instance: dg.DagsterInstance, key: dg.AssetKey, storage_id: int) -> Any:
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key, storage_ids=[storage_id]), limit=1).records
    return records[0] if records else None


def record_metadata(record: Any, name: str) -> Any:
    """The value of one metadata entry of a materialization record (None when absent)."""
    if record is None or record.asset_materialization is None:
        return None
    value = record.asset_materialization.metadata.get(name)
    return None if value is None else getattr(value, "value", value)


def _partition(context: dg.AssetExecutionContext) -> str | None:
    return context.partition_key if context.has_partition_key else None


# --- the source side ----------------------------------------------------------------------------------


def committed_cursor(context: dg.AssetExecutionContext, cfg: PipelineConfig, source: SqlSource) -> Any:
    """The value after which the next read of `source` starts (None: read everything)."""
    assert source.incremental is not None
    initial = source.incremental.initial_value
    instance, partition = context.instance, _partition(context)
    source_key = _key(cfg, source.name).to_user_string()
    targets = downstream_targets(cfg, source.name)
    if not targets:
        own = decode(record_metadata(latest_record(instance, _key(cfg, source.name), partition), CURSOR_KEY))
        return initial if own is None else own
    values = []
    for target in targets:
        loaded = record_metadata(latest_record(instance, _key(cfg, target), partition), LOADED_KEY) or {}
        value = decode(loaded.get(source_key))
        if value is None:
            return initial
        values.append(value)
    try:
        return min(values)
    except TypeError:  # the cursor column changed type: start over
        return initial


def source_metadata(lower: Any, read_max: Any) -> dict[str, Any]:
    """What a source records after an incremental read."""
    upto = lower if read_max is None else read_max
    return {CURSOR_KEY: dg.MetadataValue.json(encode(upto)), FROM_KEY: dg.MetadataValue.json(encode(lower))}


# --- the target side ----------------------------------------------------------------------------------


def loaded_cursors(context: dg.AssetExecutionContext, cfg: PipelineConfig, target: str) -> dict[str, Any]:
    """{source key: encoded cursor} of the data a target is loading, following data provenance."""
    sources = {_key(cfg, s.name) for s in incremental_sources(cfg, upstream_closure(cfg, target))}
    if not sources:
        return {}
    partition = _partition(context)
    found: dict[str, Any] = {}
    items = _items(cfg)
    for parent in cfg.upstream_of(items[target]):
        record = latest_record(context.instance, _key(cfg, parent), partition)
        _collect(context.instance, cfg, parent, record, sources, partition, found)
    return found


def _collect(instance: dg.DagsterInstance, cfg: PipelineConfig, name: str, record: Any, sources: set[dg.AssetKey], partition: str | None, found: dict[str, Any]) -> None:
    """Walk up from one materialization record to the incremental sources' records it came from."""
    key = _key(cfg, name)
    if key in sources:
        _keep_lowest(found, key.to_user_string(), record_metadata(record, CURSOR_KEY))
        return
    if not sources & {_key(cfg, n) for n in upstream_closure(cfg, name)}:
        return
    provenance = record.asset_materialization and _provenance(record)
    for parent in cfg.upstream_of(_items(cfg)[name]):
        parent_key = _key(cfg, parent)
        storage_id = provenance.input_storage_ids.get(parent_key) if provenance else None
        parent_record = _record_by_id(instance, parent_key, storage_id) if storage_id else latest_record(instance, parent_key, partition)
        _collect(instance, cfg, parent, parent_record, sources, partition, found)


def _provenance(record: Any) -> Any:
    from dagster._core.definitions.data_version import extract_data_provenance_from_entry

    return extract_data_provenance_from_entry(record.event_log_entry)


def _keep_lowest(found: dict[str, Any], key: str, encoded: Any) -> None:
    """Two paths from one source: keep the lower cursor (or None when either has none)."""
    if key not in found:
        found[key] = encoded
        return
    old, new = decode(found[key]), decode(encoded)
    if old is None or new is None:
        found[key] = None
    elif new < old:
        found[key] = encoded


def for_target(context: dg.AssetExecutionContext, cfg: PipelineConfig, target: str, data: StoredTable) -> tuple[StoredTable, dict[str, Any]]:
    """(the rows this target still needs, metadata to record once they are loaded).

    Call before the load; put the metadata on the target's materialization. Rows this target
    already loaded (a re-read after another target failed) are dropped when the source's cursor
    column is in the data.
    """
    loaded = loaded_cursors(context, cfg, target)
    if not loaded:
        return data, {}
    meta = {LOADED_KEY: dg.MetadataValue.json(loaded)}
    sources = incremental_sources(cfg, upstream_closure(cfg, target))
    if len(sources) != 1:
        return data, meta
    source = sources[0]
    assert source.incremental is not None
    previous = record_metadata(latest_record(context.instance, _key(cfg, target), _partition(context)), LOADED_KEY) or {}
    done = decode(previous.get(_key(cfg, source.name).to_user_string()))
    if done is None or source.incremental.cursor not in data.schema.names:
        return data, meta
    kept = rows_after(data, source.incremental.cursor, done, _filtered_path(cfg, target, _partition(context)), context.log)
    return kept, meta


def rows_after(data: StoredTable, column: str, after: Any, path: Path, log: Any) -> StoredTable:
    """The rows whose `column` is greater than `after` (all rows when they cannot be compared)."""
    if data.num_rows == 0:
        return data
    try:
        bound = pa.scalar(after, type=data.schema.field(column).type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        log.warning(f"cannot compare column {column} with the loaded cursor {after!r}; loading every row")
        return data
    dropped = 0
    with TableWriter(path) as writer:
        for batch in data.batches():
            keep = pc.fill_null(pc.greater(batch.column(column), bound), False)
            dropped += batch.num_rows - pc.sum(keep).as_py() if batch.num_rows else 0
            writer.write(batch.filter(keep))
        kept = writer.commit()
    if dropped:
        log.info(f"skipping {dropped} row(s) with {column} <= {after!r}: this target loaded them in an earlier run")
    return kept


def _filtered_path(cfg: PipelineConfig, target: str, partition: str | None) -> Path:
    name = (partition or "all").replace("/", "_").replace(":", "-")
    return data_dir() / ".staging" / f"{cfg.pipeline}__{target}" / f"incremental-{name}{SUFFIX}"
