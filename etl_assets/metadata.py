"""Materialization metadata: row count, column schema and a preview of the first rows."""
from __future__ import annotations

from typing import Any, Callable

import dagster as dg
import pyarrow as pa

from .arrow_values import python_values
from .tables import StoredTable

PREVIEW_ROWS = 10


def column_schema(schema: pa.Schema) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name=f.name, type=str(f.type)) for f in schema])


def _cell(value: object) -> str:
    if value is None:
        return ""
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def markdown_table(table: pa.Table) -> str:
    """A markdown table of every row of `table` (nulls as empty cells), built from Arrow: a
    preview does not import pandas."""
    if not table.num_columns:
        return "(no columns)"
    lines = ["| " + " | ".join(_cell(n) for n in table.column_names) + " |", "|" + "---|" * table.num_columns]
    columns = [python_values(column) for column in table.columns]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in zip(*columns)]
    return "\n".join(lines)


def table_metadata(table: StoredTable, redact: Callable[[str], str] = lambda s: s) -> dict[str, Any]:
    """`dagster/row_count`, `dagster/column_schema` and a markdown preview."""
    return {
        "dagster/row_count": dg.MetadataValue.int(table.num_rows),
        "dagster/column_schema": column_schema(table.schema),
        "preview": dg.MetadataValue.md(redact(markdown_table(table.head(PREVIEW_ROWS)))),
    }
