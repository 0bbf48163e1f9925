"""Materialization metadata: row count, column schema and a preview of the first rows."""
from __future__ import annotations

from typing import Any, Callable

import dagster as dg
import pyarrow as pa

from .tables import StoredTable

PREVIEW_ROWS = 10


def column_schema(schema: pa.Schema) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name=f.name, type=str(f.type)) for f in schema])


def table_metadata(table: StoredTable, redact: Callable[[str], str] = lambda s: s) -> dict[str, Any]:
    """`dagster/row_count`, `dagster/column_schema` and a markdown preview."""
    preview = table.head(PREVIEW_ROWS)
    return {
        "dagster/row_count": dg.MetadataValue.int(table.num_rows),
        "dagster/column_schema": column_schema(table.schema),
        "preview": dg.MetadataValue.md(redact(preview.to_markdown(index=False)) if len(preview.columns) else "(no columns)"),
    }
