"""File targets: csv, json (an array of records), jsonl, parquet, excel.

A file is written under a temporary name in the target's directory and moved into place with
`os.replace`, so readers see the old file or the new one, never half a file; a failure leaves the
old file untouched. csv, jsonl, json and parquet are streamed chunk by chunk; excel is built in
memory (a sheet holds at most 1,048,575 rows).
"""
from __future__ import annotations

import base64
import json
import os
import uuid
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Callable, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from etl_assets.tables import CHUNK_ROWS, StoredTable
from etl_assets.targets import LoadResult, TargetError

EXTENSIONS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".parquet": "parquet", ".pq": "parquet", ".xlsx": "excel", ".xlsm": "excel",
}
OPTIONS = {
    "csv": {"delimiter", "header"},
    "json": set(),
    "jsonl": set(),
    "parquet": {"compression"},
    "excel": {"sheet"},
}
EXCEL_MAX_ROWS = 1_048_575


def write_file(path: Path, fmt: str | None, data: StoredTable, options: dict | None = None) -> LoadResult:
    """Write `data` to `path` in `fmt` (default: from the extension), atomically.

    csv: header, no index; options `delimiter` (default "," or tab for .tsv) and `header`.
    json/jsonl: ISO 8601 dates and timestamps, nulls (and NaN) as null, decimals as numbers,
    bytes as base64. parquet: option `compression` (default snappy). excel: option `sheet`;
    timezone-aware timestamps are written as UTC wall-clock time (Excel has no timezones).
    """
    path = Path(path)
    fmt = _format(path, fmt)
    opts = _options(path, fmt, options or {})
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        WRITERS[fmt](tmp, data, opts)
        os.replace(tmp, path)
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        raise TargetError(f"writing {path} ({fmt}) failed: {type(exc).__name__}: {exc}") from exc
    return LoadResult(str(path), data.num_rows)


def _format(path: Path, fmt: str | None) -> str:
    if fmt is None:
        fmt = EXTENSIONS.get(path.suffix.lower())
        if fmt is None:
            raise TargetError(f"{path}: cannot tell the format from the extension {path.suffix!r}; set format to one of {', '.join(OPTIONS)}")
    if fmt not in OPTIONS:
        raise TargetError(f"{path}: format {fmt!r} is not one of {', '.join(OPTIONS)}")
    return fmt


def _options(path: Path, fmt: str, options: dict) -> dict:
    unknown = sorted(set(options) - OPTIONS[fmt])
    if unknown:
        allowed = ", ".join(sorted(OPTIONS[fmt])) or "none"
        raise TargetError(f"{path}: unknown {fmt} option(s) {', '.join(unknown)} (allowed: {allowed})")
    if fmt == "csv" and "delimiter" not in options:
        return {**options, "delimiter": "\t" if path.suffix.lower() == ".tsv" else ","}
    return options


# ---------------------------------------------------------------------------- writers


def _csv(tmp: Path, data: StoredTable, options: dict) -> None:
    import pyarrow.csv as pacsv

    write = pacsv.WriteOptions(include_header=bool(options.get("header", True)), delimiter=options["delimiter"])
    schema = _plain_schema(data.schema)
    with pacsv.CSVWriter(tmp, schema, write_options=write) as writer:
        for batch in data.batches(CHUNK_ROWS):
            writer.write_batch(_plain(batch, schema))


def _parquet(tmp: Path, data: StoredTable, options: dict) -> None:
    import pyarrow.parquet as pq

    with pq.ParquetWriter(tmp, data.schema, compression=options.get("compression", "snappy")) as writer:
        for batch in data.batches(CHUNK_ROWS):
            writer.write_batch(batch)


def _jsonl(tmp: Path, data: StoredTable, options: dict) -> None:
    with open(tmp, "w", encoding="utf-8") as out:
        for line in _json_records(data):
            out.write(line + "\n")


def _json(tmp: Path, data: StoredTable, options: dict) -> None:
    with open(tmp, "w", encoding="utf-8") as out:
        _write_json_array(out, _json_records(data))


def _write_json_array(out: IO[str], records: Iterator[str]) -> None:
    out.write("[")
    for i, record in enumerate(records):
        out.write(",\n" if i else "\n")
        out.write(record)
    out.write("\n]\n")


def _excel(tmp: Path, data: StoredTable, options: dict) -> None:
    import pandas as pd

    if data.num_rows > EXCEL_MAX_ROWS:
        raise TargetError(f"{data.num_rows} rows do not fit an Excel sheet (at most {EXCEL_MAX_ROWS})")
    frame = data.to_pandas()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column].dt.tz_convert("UTC").dt.tz_localize(None)
    with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
        frame.to_excel(writer, sheet_name=str(options.get("sheet", "Sheet1")), index=False)


WRITERS: dict[str, Callable[[Path, StoredTable, dict], None]] = {
    "csv": _csv, "json": _json, "jsonl": _jsonl, "parquet": _parquet, "excel": _excel,
}


# ---------------------------------------------------------------------------- helpers


def _plain_schema(schema: pa.Schema) -> pa.Schema:
    """Dictionary columns as their values (CSV writes plain values)."""
    return pa.schema([pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type) for f in schema])


def _plain(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    return batch if batch.schema == schema else batch.cast(schema)


def _json_records(data: StoredTable) -> Iterator[str]:
    """One JSON object per row (column order kept)."""
    names = data.schema.names
    for batch in data.batches(CHUNK_ROWS):
        columns = [_json_column(c).to_pylist() for c in batch.columns]
        for row in zip(*columns):
            yield json.dumps(dict(zip(names, row)), default=_json_value, ensure_ascii=False, allow_nan=False)


def _json_column(column: pa.Array) -> pa.Array:
    """NaN and infinities become null (JSON has no such numbers)."""
    if pa.types.is_floating(column.type):
        return pc.if_else(pc.is_finite(column), column, pa.scalar(None, column.type))
    return column


def _json_value(value: Any) -> Any:
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
