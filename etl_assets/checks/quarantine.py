"""Where quarantined rows go: a SQL table (loaded with `targets.sql.load_sql`, mode append) or,
without any sql connection, `quarantine/<pipeline>/<asset>/<run_id>.jsonl` beside the config
(no file when no row was quarantined; the SQL table is created even then).

Both hold the same fields: asset (`<pipeline>/<name>`), run_id, reasons (every failed rule of
the row, `; `-separated), row (the original row as JSON text) and quarantined_at (UTC). The SQL
table also gets the loader's bookkeeping columns (`_etl_*`). All rows of one asset and run are
written in one transaction (the JSONL file appears whole, by rename).
"""
from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import math
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..assets.common import AssetContext, connection_resource_key, staged_writer
from ..tables import StoredTable, TableWriter

QUARANTINE_SCHEMA = pa.schema(
    [
        ("asset", pa.string()),
        ("run_id", pa.string()),
        ("reasons", pa.string()),
        ("row", pa.string()),
        ("quarantined_at", pa.timestamp("us", tz="UTC")),
    ]
)


@dataclass(frozen=True)
class QuarantinePlace:
    """A SQL table (by connection name) or a JSONL directory."""

    connection: str | None
    table: str
    directory: Path

    def describe(self, run_id: str) -> str:
        return f"table {self.table} (connection {self.connection})" if self.connection else str(self.directory / f"{run_id}.jsonl")


def quarantine_place(ctx: AssetContext) -> QuarantinePlace:
    cfg = ctx.loaded.config
    settings = cfg.quarantine
    connection = (settings.connection if settings else None) or cfg.first_sql_connection()
    table = (settings.table if settings and settings.table else None) or f"{cfg.pipeline}_quarantine"
    return QuarantinePlace(connection, table, ctx.loaded.base_dir / "quarantine" / cfg.pipeline / ctx.config.name)


def resource_key(ctx: AssetContext) -> str | None:
    """The SQL resource an asset that quarantines needs, if it quarantines into a table."""
    checks = getattr(ctx.config, "checks", None)
    if checks is None or checks.on_failure != "quarantine":
        return None
    connection = quarantine_place(ctx).connection
    return connection_resource_key(ctx.pipeline, connection) if connection else None


def json_value(value: Any) -> Any:
    """A Python value from Arrow as JSON: dates ISO 8601, decimals as text, NaN as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_value(v) for v in value]
    return value


def quarantine_rows(asset: str, run_id: str, at: dt.datetime, rows: pa.Table, reasons: list[str]) -> pa.Table:
    """The quarantine records of some original rows."""
    texts = [json.dumps({k: json_value(v) for k, v in row.items()}, ensure_ascii=False) for row in rows.to_pylist()]
    n = len(texts)
    return pa.table([[asset] * n, [run_id] * n, reasons, texts, pa.array([at] * n, QUARANTINE_SCHEMA.field("quarantined_at").type)], schema=QUARANTINE_SCHEMA)


class QuarantineSink:
    """Collects quarantine records in a staged file; `commit` writes them all at once."""

    def __init__(self, ctx: AssetContext, place: QuarantinePlace, run_id: str, url: str | None, timeout_seconds: float = 30):
        self.ctx, self.place, self.run_id, self.url, self.timeout = ctx, place, run_id, url, timeout_seconds
        self.rows = 0
        self._writer: TableWriter = staged_writer(ctx.key)
        self._writer.write(QUARANTINE_SCHEMA.empty_table())  # typed columns even with no rows
        self._jsonl = place.directory / f"{run_id}.jsonl" if url is None else None

    def write(self, records: pa.Table) -> None:
        self.rows += records.num_rows
        self._writer.write(records)

    def commit(self) -> str | None:
        """Write the records to their place; returns where they went (None: nowhere, no rows)."""
        staged = self._writer.commit()
        try:
            if self.url is not None:
                self._load(staged)
            elif self.rows:
                assert self._jsonl is not None
                _write_jsonl(self._jsonl, staged)
            else:
                return None
        finally:
            staged.path.unlink(missing_ok=True)
        return self.place.describe(self.run_id)

    def _load(self, staged: StoredTable) -> None:
        """Append to the table; once more if the first try fails (e.g. another asset of the run
        created the table at the same moment): each try is atomic, so a retry never duplicates."""
        from ..targets import TargetError
        from ..targets.sql import load_sql

        for attempt in (1, 2):
            try:
                load_sql(self.url or "", self.place.table, "append", staged, run_id=self.run_id, timeout_seconds=self.timeout)
                return
            except TargetError:
                if attempt == 2:
                    raise
                time.sleep(1)

    def abort(self) -> None:
        self._writer.abort()


def _write_jsonl(path: Path, records: StoredTable) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as out:
            for batch in records.batches():
                for record in batch.to_pylist():
                    out.write(json.dumps({k: json_value(v) for k, v in record.items()}, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
