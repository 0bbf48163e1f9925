"""The small interface each database kind implements (like dlt's destinations): connection,
identifier quoting, column types, introspection, staging and the few statements that differ.
The load modes (`modes.py`) are written once against it.
"""
from __future__ import annotations

import enum
import itertools
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable, Mapping, Sequence

import pyarrow as pa
from sqlalchemy.engine import URL

from etl_assets.targets.sql.common import TableName, arrow_category, db_category, derived_name


@dataclass(frozen=True)
class StageColumn:
    """A column of a stage table: a safe generated name, the Arrow type of the values written to
    it, and the type of the target column it feeds."""

    name: str
    arrow: pa.DataType
    table_type: str


class Created(enum.Enum):
    """Whether the load's own transaction created the table it inserts into."""

    NO = "no"
    """The table was there before the load."""
    HERE = "here"
    """Created in the current (sub)transaction: no other session sees it before the commit."""
    BEFORE_SAVEPOINT = "before a savepoint"
    """Created by the transaction, but a savepoint has begun since."""


class Dialect(ABC):
    """One database kind. An instance holds one open connection (see `connect`)."""

    param: ClassVar[str] = "%s"
    """Placeholder of a query parameter."""
    direct_dedupe: ClassVar[bool] = False
    """Whether a dedupe load may insert straight into the table (`modes._dedupe_directly`)."""
    unique_violations: ClassVar[tuple[type[BaseException], ...]] = ()
    """The driver's errors for a row a unique index refuses."""
    max_identifier: ClassVar[int] = 63
    fold_case: ClassVar[bool] = False
    """Column names compare case-insensitively."""
    transactional_ddl: ClassVar[bool] = True
    """CREATE/ALTER happen inside the load's transaction (else they commit at once)."""
    targeted_conflicts: ClassVar[bool] = True
    """`on_conflict` names the unique key it applies to (PostgreSQL, SQLite), not any key."""
    types: ClassVar[Mapping[str, str]]
    """Column type per category (see common.py)."""
    hash_type: ClassVar[str]
    create_suffix: ClassVar[str] = ""
    temp_table: ClassVar[str] = "CREATE TEMPORARY TABLE"

    def __init__(self, url: URL, timeout_seconds: float):
        self.url = url
        self.timeout = timeout_seconds

    # ------------------------------------------------------------------ connection

    @abstractmethod
    def connect(self) -> None:
        """Open the connection (not in autocommit mode: statements run in a transaction)."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; return its row count."""

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]: ...

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.query(sql, params)[0][0]

    FETCH_ROWS: ClassVar[int] = 10_000

    def fixed_width_values(self, sql: str, width: int, limit: int) -> bytes | None:
        """The values of `sql`'s one binary column, concatenated, read FETCH_ROWS rows at a time
        (never every row as Python objects at once); None when a value is NULL or not `width`
        bytes long, or there are more than `limit` rows (`sql` should hold a LIMIT of `limit` + 1)."""
        out = bytearray()
        cur = self._streaming_cursor()
        try:
            cur.execute(sql)
            while rows := cur.fetchmany(self.FETCH_ROWS):
                for (value,) in rows:
                    if value is None or len(value) != width:
                        return None
                    out += value
                if len(out) > width * limit:
                    return None
        finally:
            cur.close()
        return bytes(out)

    def _streaming_cursor(self) -> Any:
        """A DB-API cursor that fetches rows from the server as `fetchmany` asks for them."""
        return self.conn.cursor()

    def begin(self) -> None:
        """Start the load's transaction (drivers open one implicitly unless told otherwise)."""

    conn: Any
    """The open DB-API connection."""

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()

    # ------------------------------------------------------------------ identifiers

    @classmethod
    @abstractmethod
    def quote_name(cls, name: str) -> str:
        """`name` as a quoted identifier, for display."""

    def quote(self, name: str) -> str:
        """`name` as a quoted identifier inside SQL text that is run with parameters."""
        quoted = self.quote_name(name)
        return quoted.replace("%", "%%") if self.param == "%s" else quoted

    @classmethod
    def display(cls, table: TableName) -> str:
        parts = [table.schema, table.name] if table.schema else [table.name]
        return ".".join(cls.quote_name(p) for p in parts)

    def table_sql(self, table: TableName) -> str:
        parts = [table.schema, table.name] if table.schema else [table.name]
        return ".".join(self.quote(p) for p in parts)

    def fold(self, name: str) -> str:
        return name.lower() if self.fold_case else name

    def check_table(self, table: TableName) -> None:
        """Raise TargetError for a name the database cannot hold."""

    def index_name(self, table: TableName, columns: Sequence[str]) -> str:
        return derived_name(f"{table.name}__{'_'.join(columns)}", "__etl_key", self.max_identifier)

    # ------------------------------------------------------------------ types

    def column_type(self, t: pa.DataType, key: bool = False) -> str:
        """The column type created for values of Arrow type `t` (`key`: part of a unique key)."""
        category = arrow_category(t)
        if category == "decimal":
            return f"NUMERIC({t.precision},{t.scale})"
        return self.types["string" if category == "null" else category]

    def run_id_type(self) -> str:
        """The column type created for `_etl_run_id`."""
        return self.column_type(pa.string())

    def run_id_value(self, run_id: str, db_type: str) -> Any:
        """The run id as a value of the table's `_etl_run_id` column of type `db_type`."""
        return run_id

    def classify(self, db_type: str) -> str:
        """The category of an existing column's type."""
        return db_category(db_type)

    def param_value(self, value: Any) -> Any:
        """A Python value (bound, timestamp) as this driver should receive it."""
        return value

    # ------------------------------------------------------------------ introspection

    @abstractmethod
    def columns(self, table: TableName) -> dict[str, str] | None:
        """{column: type} of an existing table in column order, or None when it does not exist."""

    @abstractmethod
    def unique_keys(self, table: TableName) -> list[frozenset[str]]:
        """Column sets of the table's primary key and (non-partial) unique indexes."""

    def ensure_schema(self, schema: str) -> None:
        """Create the schema when missing."""

    # ------------------------------------------------------------------ DDL

    def create_table(self, table: TableName, columns: Sequence[tuple[str, str]], primary_key: Sequence[str]) -> None:
        defs = [f"{self.quote(name)} {type_}" for name, type_ in columns]
        if primary_key:
            defs.append(f"PRIMARY KEY ({', '.join(map(self.quote, primary_key))})")
        self.execute(f"CREATE TABLE {self.table_sql(table)} ({', '.join(defs)}){self.create_suffix}")

    def add_column(self, table: TableName, name: str, type_: str) -> None:
        self.execute(f"ALTER TABLE {self.table_sql(table)} ADD COLUMN {self.quote(name)} {type_}")

    def drop_column(self, table: TableName, name: str) -> None:
        self.execute(f"ALTER TABLE {self.table_sql(table)} DROP COLUMN {self.quote(name)}")

    def create_unique_index(self, table: TableName, name: str, columns: Sequence[str]) -> None:
        cols = ", ".join(map(self.quote, columns))
        self.execute(f"CREATE UNIQUE INDEX {self.quote(name)} ON {self.table_sql(table)} ({cols})")

    def drop_index(self, table: TableName, name: str) -> None:
        self.execute(f"DROP INDEX {self.table_sql(table.with_name(name))}")

    def drop_table(self, table: TableName) -> None:
        self.execute(f"DROP TABLE IF EXISTS {self.table_sql(table)}")

    def copy_structure(self, source: TableName, target: TableName) -> None:
        """Create `target` with the columns and indexes of `source` (for replace by swap)."""
        raise NotImplementedError

    def lock(self, table: TableName) -> None:
        """Wait until no other load of `table` holds its lock, then hold it until `close`."""

    def swap(self, table: TableName, new: TableName, old: TableName | None) -> None:
        """Atomically rename `table` to `old` (when given) and `new` to `table`."""
        raise NotImplementedError

    # ------------------------------------------------------------------ data

    @abstractmethod
    def insert_rows(
        self, table: TableName, columns: Sequence[str], stage: Sequence[StageColumn],
        batches: Iterable[pa.RecordBatch], constants: Sequence[Any], created: Created = Created.NO,
    ) -> None:
        """Insert every row of `batches` (laid out as `stage`) into `columns` of `table`; the
        last `len(constants)` columns get the same value in every row. `created`: whether this
        transaction created the table (a dialect may then use ways that are only safe for a table
        no other session sees yet)."""

    @abstractmethod
    def stage(self, columns: Sequence[StageColumn], batches: Iterable[pa.RecordBatch], key: Sequence[str], keep_last: bool) -> str:
        """Load `batches` into a temporary stage table; return a SELECT over it with one row per
        `key` (the last row of the load per key when `keep_last`, else any one)."""

    def on_conflict(self, key: Sequence[str], update: Sequence[str] | None) -> str:
        """The INSERT suffix that updates `update` columns (or does nothing, when None) for rows
        whose `key` already exists."""
        cols = ", ".join(map(self.quote, key))
        if not update:
            return f"ON CONFLICT ({cols}) DO NOTHING"
        sets = ", ".join(f"{self.quote(c)} = excluded.{self.quote(c)}" for c in update)
        return f"ON CONFLICT ({cols}) DO UPDATE SET {sets}"


class RowDialect(Dialect):
    """A database loaded with batched `executemany` (SQLite, MySQL/MariaDB)."""

    @abstractmethod
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run `sql` for every row, inside the current transaction."""

    def db_values(self, column: pa.Array) -> pa.Array:
        """Convert a column (vectorised) to values the driver binds as the right type."""
        return column

    def rows(self, batch: pa.RecordBatch, constants: Sequence[Any] = ()) -> list[tuple]:
        columns = [self.db_values(c).to_pylist() for c in batch.columns]
        columns += [itertools.repeat(c, batch.num_rows) for c in constants]
        return list(zip(*columns))

    def _insert_sql(self, target: str, columns: Sequence[str], suffix: str = "") -> str:
        marks = ", ".join([self.param] * len(columns))
        return f"INSERT INTO {target} ({', '.join(map(self.quote, columns))}) VALUES ({marks}) {suffix}".rstrip()

    def insert_rows(
        self, table: TableName, columns: Sequence[str], stage: Sequence[StageColumn],
        batches: Iterable[pa.RecordBatch], constants: Sequence[Any], created: Created = Created.NO,
    ) -> None:
        sql = self._insert_sql(self.table_sql(table), columns)
        for batch in batches:
            self.executemany(sql, self.rows(batch, constants))

    def stage(self, columns: Sequence[StageColumn], batches: Iterable[pa.RecordBatch], key: Sequence[str], keep_last: bool) -> str:
        """A temporary table keyed by `key`; an upsert keeps the last row per key, or the first."""
        name = self.quote(f"_etl_stage_{uuid.uuid4().hex[:12]}")
        defs = ", ".join(f"{self.quote(c.name)} {c.table_type}" for c in columns)
        self.execute(f"{self.temp_table} {name} ({defs}, PRIMARY KEY ({', '.join(map(self.quote, key))}))")
        names = [c.name for c in columns]
        update = [n for n in names if n not in key] if keep_last else None
        sql = self._insert_sql(name, names, self.on_conflict(key, update))
        for batch in batches:
            self.executemany(sql, self.rows(batch))
        return f"SELECT {', '.join(map(self.quote, names))} FROM {name}"
