"""MySQL / MariaDB through pymysql: batched multi-row `executemany` inside one InnoDB transaction.

DDL commits implicitly here, so a load prepares the table first (undoing that preparation when it
fails), and `replace` fills `<table>__etl_new` and swaps it in with one atomic RENAME TABLE.
A "schema" is a database. Timezone-aware timestamps are stored in DATETIME(6) as UTC.
"""
from __future__ import annotations

import hashlib
import math
import os
import tempfile
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from etl_assets.targets import TargetError
from etl_assets.targets.sql.common import NAIVE_US, TableName, arrow_category, db_category, hex_text
from etl_assets.targets.sql.dialect import Created, RowDialect, StageColumn

SQL_MODE = "STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"


class MySQL(RowDialect):
    max_identifier = 64
    fold_case = True
    transactional_ddl = False
    targeted_conflicts = False
    types = {
        "integer": "BIGINT",
        "float": "DOUBLE",
        "bool": "BOOLEAN",
        "string": "LONGTEXT",
        "binary": "LONGBLOB",
        "date": "DATE",
        "time": "TIME(6)",
        "timestamp": "DATETIME(6)",
        "timestamptz": "DATETIME(6)",
    }
    key_types = {
        # InnoDB indexes at most 3072 bytes: 3 such columns of 255 4-byte characters
        "string": "VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
        "binary": "VARBINARY(255)",
    }
    hash_type = "BINARY(16)"
    create_suffix = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"

    # ------------------------------------------------------------------ connection

    def connect(self) -> None:
        import pymysql

        url = self.url
        query = {k: v for k, v in url.query.items() if isinstance(v, str)}
        self.conn = pymysql.connect(
            host=url.host or "localhost", port=url.port or 3306, user=url.username or "",
            password=url.password or "", database=url.database, charset=query.get("charset", "utf8mb4"),
            connect_timeout=self.timeout, read_timeout=self.timeout, write_timeout=self.timeout,
            autocommit=False, local_infile=True,
        )
        # pymysql sends whatever file the server asks for: allow that only while our own LOAD DATA runs
        self.conn._local_infile = False
        self.bulk = self.scalar("SELECT @@local_infile") in (1, "1", "ON")
        wait = max(1, math.ceil(self.timeout))
        self.execute(
            f"SET SESSION sql_mode = %s, time_zone = '+00:00', "
            f"innodb_lock_wait_timeout = {wait}, lock_wait_timeout = {wait}",
            (SQL_MODE,),
        )

    def close(self) -> None:
        self.conn.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self.conn.cursor() as cur:
            return cur.execute(sql, tuple(params))  # always with args: `%%` in identifiers -> `%`

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self.conn.cursor() as cur:
            cur.execute(sql, tuple(params))
            return list(cur.fetchall())

    def _streaming_cursor(self) -> Any:
        import pymysql.cursors

        return self.conn.cursor(pymysql.cursors.SSCursor)  # the default cursor reads every row first

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(sql, list(rows))

    @classmethod
    def quote_name(cls, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    # ------------------------------------------------------------------ bulk path

    def insert_rows(
        self, table: TableName, columns: Sequence[str], stage: Sequence[StageColumn],
        batches: Iterable[pa.RecordBatch], constants: Sequence[Any], created: Created = Created.NO,
    ) -> None:
        """LOAD DATA LOCAL INFILE per batch (see the module docstring), else `executemany`."""
        if not self.bulk or not all(arrow_category(c.arrow) in _CSV_CATEGORIES for c in stage):
            super().insert_rows(table, columns, stage, batches, constants)
            return
        names = list(columns)
        targets = [f"@v{i}" if arrow_category(c.arrow) == "binary" else self.quote(n) for i, (n, c) in enumerate(zip(names, stage))]
        sets = [f"{self.quote(n)} = UNHEX(@v{i})" for i, (n, c) in enumerate(zip(names, stage)) if arrow_category(c.arrow) == "binary"]
        sets += [f"{self.quote(n)} = %s" for n in names[len(stage):]]
        fd, path = tempfile.mkstemp(prefix="etl-mysql-", suffix=".csv")
        os.close(fd)
        sql = (
            f"LOAD DATA LOCAL INFILE %s INTO TABLE {self.table_sql(table)} CHARACTER SET utf8mb4 "
            "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' "
            f"({', '.join(targets)})" + (f" SET {', '.join(sets)}" if sets else "")
        )
        try:
            for batch in batches:
                with open(path, "wb") as out:
                    out.write(_csv_lines(batch, self))
                self._load_file(sql, (path, *[self.param_value(c) for c in constants]), batch.num_rows)
        finally:
            os.unlink(path)

    def _load_file(self, sql: str, params: Sequence[Any], rows: int) -> None:
        """Run one LOAD DATA LOCAL INFILE; with LOCAL the server downgrades bad values and
        duplicate keys to warnings, so any warning (or a missing row) fails the load."""
        self.conn._local_infile = True
        try:
            loaded = self.execute(sql, params)
        finally:
            self.conn._local_infile = False
        warnings = self.query("SHOW WARNINGS LIMIT 3")
        if warnings or loaded != rows:
            detail = "; ".join(f"{w[2]}" for w in warnings) or f"{loaded} of {rows} rows loaded"
            raise TargetError(f"LOAD DATA refused values: {detail}")

    # ------------------------------------------------------------------ types

    def column_type(self, t: pa.DataType, key: bool = False) -> str:
        category = arrow_category(t)
        if key and category in self.key_types:
            return self.key_types[category]
        return super().column_type(t, key)

    def classify(self, db_type: str) -> str:
        t = db_type.lower()
        if t.startswith("tinyint(1)") or t == "bool" or t == "boolean":
            return "bool"
        if t.startswith(("datetime", "timestamp")):
            return "datetime"  # naive values, and UTC instants stored as their UTC time
        return db_category(t)

    def param_value(self, value: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.astimezone(timezone.utc).replace(tzinfo=None)
        return value

    def db_values(self, column: pa.Array) -> pa.Array:
        """UTC instants as naive UTC datetimes (DATETIME has no timezone)."""
        if arrow_category(column.type) == "timestamptz":
            return column.cast(pa.int64()).cast(NAIVE_US)
        return column

    # ------------------------------------------------------------------ introspection

    def columns(self, table: TableName) -> dict[str, str] | None:
        where = "TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND TABLE_NAME = %s"
        args = (table.schema, table.name)
        kinds = self.query(f"SELECT TABLE_TYPE, ENGINE FROM information_schema.TABLES WHERE {where}", args)
        if not kinds:
            return None
        kind, engine = kinds[0]
        if kind != "BASE TABLE" or (engine or "").lower() != "innodb":
            raise TargetError(f"{self.display(table)} is a {kind} with engine {engine}; loads need an InnoDB table (transactions)")
        rows = self.query(
            "SELECT COLUMN_NAME, CONCAT(COLUMN_TYPE, IF(COLLATION_NAME IS NULL, '', "
            "CONCAT(' CHARACTER SET ', CHARACTER_SET_NAME, ' COLLATE ', COLLATION_NAME))) "
            f"FROM information_schema.COLUMNS WHERE {where} ORDER BY ORDINAL_POSITION",
            args,
        )
        return dict(rows)  # types keep their collation: a stage keyed like the table compares alike

    def unique_keys(self, table: TableName) -> list[frozenset[str]]:
        rows = self.query(
            "SELECT INDEX_NAME, COLUMN_NAME, SUB_PART FROM information_schema.STATISTICS "
            "WHERE TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND TABLE_NAME = %s AND NON_UNIQUE = 0",
            (table.schema, table.name),
        )
        keys: dict[str, set[str]] = {}
        prefixed = {index for index, _, sub_part in rows if sub_part is not None}
        for index, column, _ in rows:
            keys.setdefault(index, set()).add(column)
        return [frozenset(cols) for index, cols in keys.items() if index not in prefixed]

    def ensure_schema(self, schema: str) -> None:
        if not self.query("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (schema,)):
            self.execute(f"CREATE DATABASE IF NOT EXISTS {self.quote(schema)} CHARACTER SET utf8mb4")

    # ------------------------------------------------------------------ DDL

    def create_unique_index(self, table: TableName, name: str, columns: Sequence[str]) -> None:
        cols = ", ".join(map(self.quote, columns))
        self.execute(f"ALTER TABLE {self.table_sql(table)} ADD UNIQUE INDEX {self.quote(name)} ({cols})")

    def drop_index(self, table: TableName, name: str) -> None:
        self.execute(f"ALTER TABLE {self.table_sql(table)} DROP INDEX {self.quote(name)}")

    def copy_structure(self, source: TableName, target: TableName) -> None:
        self.execute(f"CREATE TABLE {self.table_sql(target)} LIKE {self.table_sql(source)}")

    def lock(self, table: TableName) -> None:
        """Serialise replaces of one table (they share the `__etl_new` name); freed on close."""
        name = "etl:" + hashlib.sha1(f"{self.url.database}.{table}".encode()).hexdigest()
        if self.scalar("SELECT GET_LOCK(%s, %s)", (name, max(1, math.ceil(self.timeout)))) != 1:
            raise TargetError(f"another load of {self.display(table)} is running (waited {self.timeout:g}s)")

    def swap(self, table: TableName, new: TableName, old: TableName | None) -> None:
        moves = [(table, old)] if old is not None else []
        moves.append((new, table))
        self.execute("RENAME TABLE " + ", ".join(f"{self.table_sql(a)} TO {self.table_sql(b)}" for a, b in moves))

    def on_conflict(self, key: Sequence[str], update: Sequence[str] | None) -> str:
        """ON DUPLICATE KEY UPDATE (any unique key of the table triggers it)."""
        if not update:
            first = self.quote(key[0])
            return f"ON DUPLICATE KEY UPDATE {first} = {first}"
        return "ON DUPLICATE KEY UPDATE " + ", ".join(f"{self.quote(c)} = VALUES({self.quote(c)})" for c in update)


_CSV_CATEGORIES = frozenset({"integer", "float", "bool", "string", "binary", "date", "time", "timestamp", "timestamptz", "decimal", "null"})
"""Column categories `_csv_lines` writes."""


def _csv_lines(batch: pa.RecordBatch, dialect: MySQL) -> bytes | memoryview:
    """The batch as LOAD DATA text: fields separated by commas, strings quoted with backslash
    escapes, NULL as \\N, binary as hex (UNHEX'ed by the statement), one line per row."""
    fields = [pc.fill_null(_field_text(dialect.db_values(column)), "\\N") for column in batch.columns]
    lines = pc.binary_join_element_wise(*fields, ",")
    lines = pc.binary_join_element_wise(lines, "", "\n").cast(pa.large_string())  # each line + "\n"
    _, offsets, data = lines.buffers()
    ends = pa.Array.from_buffers(pa.int64(), len(lines) + 1, [None, offsets], offset=lines.offset)
    return memoryview(data)[ends[0].as_py() : ends[-1].as_py()] if data is not None else b""


def _field_text(column: pa.Array) -> pa.Array:
    category = arrow_category(column.type)
    if category == "null":
        return pa.nulls(len(column), pa.string())
    if category == "bool":
        return pc.if_else(column, "1", "0")
    if category == "binary":
        return hex_text(column)
    if category == "string":
        text = column.cast(pa.string())
        for old, new in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\0", "\\0")):
            text = pc.replace_substring(text, old, new)
        return pc.binary_join_element_wise('"', text, '"', "")
    return column.cast(pa.string())
