"""SQLite through the sqlite3 module: one `BEGIN IMMEDIATE` transaction per load (DDL included),
rows inserted with batched `executemany`.

SQLite has no date, timestamp or decimal storage: dates, times and timestamps are stored as
ISO text ('2024-01-31', '2024-01-31 05:00:00.000000', UTC instants with '+00:00'), so they
compare and sort correctly as text; decimals are bound as text into a NUMERIC column.
"""
from __future__ import annotations

import sqlite3
from datetime import date, datetime, time, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from etl_assets.targets import TargetError
from etl_assets.targets.sql.common import NAIVE_US, TableName, arrow_category
from etl_assets.targets.sql.dialect import RowDialect

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
UTC_SUFFIX = "+00:00"


class SQLite(RowDialect):
    param = "?"
    max_identifier = 1024
    fold_case = True
    types = {
        "integer": "BIGINT",
        "float": "REAL",
        "bool": "BOOLEAN",
        "string": "TEXT",
        "binary": "BLOB",
        "date": "DATE",
        "time": "TIME",
        "timestamp": "TIMESTAMP",
        "timestamptz": "TIMESTAMP WITH TIME ZONE",
    }
    hash_type = "BLOB"
    temp_table = "CREATE TEMP TABLE"

    # ------------------------------------------------------------------ connection

    def connect(self) -> None:
        database = self.url.database or ":memory:"
        if database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(database, timeout=self.timeout, isolation_level=None)

    def close(self) -> None:
        self.conn.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.conn.execute(sql, params).rowcount

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self.conn.execute(sql, params).fetchall()

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    def begin(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")  # take the write lock now, not half-way

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    @classmethod
    def quote_name(cls, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def check_table(self, table: TableName) -> None:
        if table.schema is not None and table.schema != "main":
            raise TargetError(f"SQLite has no schema {table.schema!r}; use an unqualified table name or 'main.<table>'")

    # ------------------------------------------------------------------ introspection

    def columns(self, table: TableName) -> dict[str, str] | None:
        rows = self.query("SELECT name, type FROM pragma_table_info(?, ?)", (table.name, table.schema or "main"))
        return dict(rows) if rows else None

    def unique_keys(self, table: TableName) -> list[frozenset[str]]:
        schema = table.schema or "main"
        indexes = self.query(
            "SELECT name FROM pragma_index_list(?, ?) WHERE \"unique\" = 1 AND partial = 0", (table.name, schema)
        )
        return [
            frozenset(c for (c,) in self.query("SELECT name FROM pragma_index_info(?, ?)", (index, schema)))
            for (index,) in indexes
        ]

    def create_unique_index(self, table: TableName, name: str, columns: Sequence[str]) -> None:
        cols = ", ".join(map(self.quote, columns))
        index = self.table_sql(table.with_name(name))  # SQLite: CREATE INDEX schema.index ON table
        self.execute(f"CREATE UNIQUE INDEX {index} ON {self.quote(table.name)} ({cols})")

    # ------------------------------------------------------------------ values

    def param_value(self, value: Any) -> Any:
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                return value.astimezone(timezone.utc).strftime(TIMESTAMP_FORMAT) + UTC_SUFFIX
            return value.strftime(TIMESTAMP_FORMAT)
        if isinstance(value, (date, time)):
            return value.isoformat()
        return str(value) if isinstance(value, Decimal) else value

    def db_values(self, column: pa.Array) -> pa.Array:
        """Dates, times, timestamps and decimals as text (see module docstring)."""
        category = arrow_category(column.type)
        if category in ("timestamp", "timestamptz"):
            text = pc.strftime(column.cast(pa.int64()).cast(NAIVE_US), format="%Y-%m-%d %H:%M:%S")
            return pc.binary_join_element_wise(text, UTC_SUFFIX, "") if category == "timestamptz" else text
        if category in ("date", "time", "decimal"):
            return pc.cast(column, pa.string())
        return column
