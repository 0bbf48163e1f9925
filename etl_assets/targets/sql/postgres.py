"""PostgreSQL through psycopg 3.

Rows travel as Arrow record batches through a binary encoder (`pgbinary`: the framework's C
encoder, pgpq's for decimals) into `COPY ... FROM STDIN (FORMAT BINARY)`, with no per-row Python:
straight into the table when its column types read that encoding as is (append, replace,
partition windows into tables of the framework's types), else into a temporary stage and on with
INSERT ... SELECT (merge, dedupe, other column types). Into a table the load's own transaction
created, the bookkeeping constants travel as column defaults and the COPY FREEZEs
(`_copy_into_new`). Types no encoder writes (decimals over 38
digits) go through COPY in CSV. Everything, DDL included, is one transaction.

`replace` is DELETE + INSERT in that transaction: MVCC readers keep seeing the old rows until the
commit and are never blocked. (TRUNCATE would take an ACCESS EXCLUSIVE lock, blocking readers,
and is not MVCC-safe; a drop + rename swap breaks views and fails readers queued on the dropped
table.) The cost: the old rows become dead tuples for autovacuum.
"""
from __future__ import annotations

import io
import math
import uuid
from typing import Any, Iterable, Sequence

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg.copy import LibpqWriter, Writer

from etl_assets.arrow_values import numpy_array, scalar
from etl_assets.targets import TargetError
from etl_assets.targets.sql.common import RUN_ID, TableName, arrow_category, hex_text
from etl_assets.targets.sql.dialect import Created, Dialect, StageColumn
from etl_assets.targets.sql.pgbinary import encoder as binary_encoder
from etl_assets.worker import Worker

SEQ = "_etl_seq"
ENCODE_ROWS = 16384
"""Rows encoded and sent to COPY at a time."""
SEND_QUEUE = 2
"""Encoded slices waiting for the sending thread (bounds the memory the overlap costs)."""


class Postgres(Dialect):
    types = {
        "integer": "BIGINT",
        "float": "DOUBLE PRECISION",
        "bool": "BOOLEAN",
        "string": "TEXT",
        "binary": "BYTEA",
        "date": "DATE",
        "time": "TIME",
        "timestamp": "TIMESTAMP",
        "timestamptz": "TIMESTAMPTZ",
    }
    hash_type = "BYTEA"
    max_identifier = 63
    direct_dedupe = True
    unique_violations = (psycopg.errors.UniqueViolation,)

    def run_id_type(self) -> str:
        """UUID: a Dagster run id is one, and 16 bytes a row cost PostgreSQL less than 37 of text."""
        return "UUID"

    def run_id_value(self, run_id: str, db_type: str) -> Any:
        if db_type.lower() != "uuid":  # a table made before run ids were UUIDs, or by hand
            return run_id
        if not run_id:
            return None
        try:
            return uuid.UUID(run_id)
        except ValueError:
            raise TargetError(f"run id {run_id!r} is not a UUID, as the table's column {RUN_ID} (uuid) needs") from None

    # ------------------------------------------------------------------ connection

    def connect(self) -> None:
        url, ms = self.url, int(self.timeout * 1000)
        query = {k: v for k, v in url.query.items() if isinstance(v, str)}
        options = f"-c TimeZone=UTC -c lock_timeout={ms} {query.pop('options', '')}".strip()
        params: dict[str, Any] = {
            "host": url.host, "port": url.port, "user": url.username, "password": url.password,
            "dbname": url.database, "connect_timeout": max(1, math.ceil(self.timeout)), "options": options,
            # a dead peer or a stalled network fails the load instead of hanging it
            "keepalives": 1, "keepalives_idle": max(1, int(self.timeout)), "keepalives_interval": 5,
            "keepalives_count": 3, "tcp_user_timeout": ms,
            **query,
        }
        self.conn = psycopg.connect(**{k: v for k, v in params.items() if v is not None})

    def close(self) -> None:
        self.conn.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.rowcount

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    @classmethod
    def quote_name(cls, name: str) -> str:
        return psycopg.sql.Identifier(name).as_string(None)

    def fixed_width_values(self, sql: str, width: int, limit: int) -> bytes | None:
        """One binary COPY of the query's rows (read to the end: `sql` should hold a LIMIT),
        parsed as a numpy record array: 6 + `width` bytes a row instead of two Python objects."""
        data = bytearray()
        with self.conn.cursor() as cur, cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT BINARY)") as copy:
            for block in copy:
                data += block
        rows = (len(data) - _COPY_HEADER - 2) // (6 + width)
        if rows > limit or len(data) != _COPY_HEADER + (6 + width) * rows + 2:
            return None  # a NULL or a value of another width
        fields = np.frombuffer(data, np.dtype([("n", ">i2"), ("size", ">i4"), ("value", f"V{width}")]), rows, _COPY_HEADER)
        if not ((fields["n"] == 1).all() and (fields["size"] == width).all()):
            return None
        return fields["value"].tobytes()

    # ------------------------------------------------------------------ introspection

    _COLUMNS = """
        SELECT a.attname, format_type(a.atttypid, a.atttypmod)
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = COALESCE(%s, current_schema()) AND c.relname = %s
          AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum"""

    _UNIQUE = """
        SELECT array_agg(a.attname::text)
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey)
        WHERE n.nspname = COALESCE(%s, current_schema()) AND c.relname = %s
          AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
        GROUP BY i.indexrelid"""

    def columns(self, table: TableName) -> dict[str, str] | None:
        rows = self.query(self._COLUMNS, (table.schema, table.name))
        return dict(rows) if rows else None

    def unique_keys(self, table: TableName) -> list[frozenset[str]]:
        return [frozenset(cols) for (cols,) in self.query(self._UNIQUE, (table.schema, table.name))]

    def ensure_schema(self, schema: str) -> None:
        if not self.query("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)):
            self.execute(f"CREATE SCHEMA {self.quote(schema)}")

    # ------------------------------------------------------------------ data

    def insert_rows(
        self, table: TableName, columns: Sequence[str], stage: Sequence[StageColumn],
        batches: Iterable[pa.RecordBatch], constants: Sequence[Any], created: Created = Created.NO,
    ) -> None:
        """COPY straight into the table when its column types take the binary encoding of the
        values as they are; else COPY into a stage and INSERT ... SELECT (which casts)."""
        scalars = [scalar(v) for v in constants]
        constant_types = [s.type for s in scalars]
        if self._binary_compatible(table, columns, [c.arrow for c in stage] + constant_types):
            if created is not Created.NO:
                self._copy_into_new(table, columns, stage, batches, constants, freeze=created is Created.HERE)
                return
            copy_columns = [*stage, *(StageColumn(n, t, "") for n, t in zip(columns[len(stage):], constant_types))]
            self._copy_into(self._copy_target(table, columns), copy_columns, _with_constants(batches, scalars))
            return
        name = self._copy(stage, batches)
        values = [self.quote(c.name) for c in stage] + [self.param] * len(constants)
        self.execute(
            f"INSERT INTO {self.table_sql(table)} ({', '.join(map(self.quote, columns))}) "
            f"SELECT {', '.join(values)} FROM {name}",
            constants,
        )

    def _copy_into_new(
        self, table: TableName, columns: Sequence[str], stage: Sequence[StageColumn],
        batches: Iterable[pa.RecordBatch], constants: Sequence[Any], freeze: bool,
    ) -> None:
        """COPY into a table this transaction created, which no other session sees before the
        commit: the constants become the columns' defaults for the COPY (dropped again before
        the commit), so PostgreSQL receives and decodes two fields a row fewer (~5% of its work
        on the benchmark's file); with `freeze` (no savepoint since the CREATE) the rows are
        written frozen and all-visible (~5% more of its work), so neither the table's first
        reader nor the vacuum after the load rewrites every page."""
        constant_columns = columns[len(stage):]
        if constant_columns:
            pgsql = psycopg.sql
            defaults = pgsql.SQL(", ").join(
                pgsql.SQL("ALTER COLUMN {} SET DEFAULT {}").format(pgsql.Identifier(c), pgsql.Literal(v))
                for c, v in zip(constant_columns, constants)
            )
            self.execute(f"ALTER TABLE {self.table_sql(table)} {defaults.as_string(self.conn)}")
        self._copy_into(self._copy_target(table, columns[: len(stage)]), stage, batches, freeze=freeze)
        if constant_columns:
            drops = ", ".join(f"ALTER COLUMN {self.quote(c)} DROP DEFAULT" for c in constant_columns)
            self.execute(f"ALTER TABLE {self.table_sql(table)} {drops}")

    def _copy_target(self, table: TableName, columns: Sequence[str]) -> str:
        """`table (columns)` for a COPY statement, which takes no parameters: quoted identifiers."""
        return f"{self.display(table)} ({', '.join(map(self.quote_name, columns))})"

    def _binary_compatible(self, table: TableName, columns: Sequence[str], types: Sequence[pa.DataType]) -> bool:
        """Whether each column's type reads the binary COPY encoding of its Arrow type."""
        existing = self.columns(table) or {}
        return all(_reads_binary(existing.get(name, ""), t) for name, t in zip(columns, types))

    def stage(self, columns: Sequence[StageColumn], batches: Iterable[pa.RecordBatch], key: Sequence[str], keep_last: bool) -> str:
        """A plain stage filled by COPY; DISTINCT ON picks one row per key (the last by load
        order, from a sequence column added to each batch, when `keep_last`)."""
        if keep_last:
            columns = [*columns, StageColumn(SEQ, pa.int64(), "BIGINT")]
            batches = _numbered(batches)
        name = self._copy(columns, batches)
        keys = ", ".join(map(self.quote, key))
        cols = ", ".join(self.quote(c.name) for c in columns if c.name != SEQ)
        if not keep_last:
            return f"SELECT DISTINCT ON ({keys}) {cols} FROM {name}"
        # merge reads the result three times (counts, then the upsert): sort it once
        latest = self._temp_name()
        self.execute(
            f"CREATE TEMPORARY TABLE {latest} ON COMMIT DROP AS SELECT DISTINCT ON ({keys}) {cols} "
            f"FROM {name} ORDER BY {keys}, {self.quote(SEQ)} DESC"
        )
        self.execute(f"ANALYZE {latest}")
        return f"SELECT {cols} FROM {latest}"

    def _temp_name(self) -> str:
        return self.quote(f"_etl_stage_{uuid.uuid4().hex[:12]}")

    def _copy(self, columns: Sequence[StageColumn], batches: Iterable[pa.RecordBatch]) -> str:
        """Create a temporary stage (dropped at commit) and COPY the batches into it."""
        name = self._temp_name()
        defs = ", ".join(f"{self.quote(c.name)} {self.column_type(c.arrow)}" for c in columns)
        self.execute(f"CREATE TEMPORARY TABLE {name} ({defs}) ON COMMIT DROP")
        self._copy_into(name, columns, batches)
        return name

    def _copy_into(self, target: str, columns: Sequence[StageColumn], batches: Iterable[pa.RecordBatch], freeze: bool = False) -> None:
        """COPY FROM STDIN in the binary format (CSV for types no binary encoder writes);
        `freeze`: COPY ... FREEZE (only into a table created in the current subtransaction)."""
        try:
            encoder = binary_encoder(pa.schema([pa.field(c.name, c.arrow) for c in columns]))
        except ValueError:  # e.g. decimals wider than 38 digits
            self._copy_csv(target, batches, freeze)
            return
        options = "FORMAT BINARY, FREEZE" if freeze else "FORMAT BINARY"
        with self.conn.cursor() as cur, cur.copy(f"COPY {target} FROM STDIN ({options})", writer=_SendingThread(cur)) as copy:
            copy.write(encoder.write_header())
            for batch in batches:
                # encode in slices: the encoded bytes of a whole chunk would double its memory
                for start in range(0, batch.num_rows, ENCODE_ROWS):
                    copy.write(encoder.write_batch(batch.slice(start, ENCODE_ROWS)))
            copy.write(encoder.finish())

    def _copy_csv(self, target: str, batches: Iterable[pa.RecordBatch], freeze: bool = False) -> None:
        """COPY in CSV: strings are always quoted, so "" is an empty string and nothing is NULL."""
        import pyarrow.csv as pacsv

        options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
        with self.conn.cursor() as cur, cur.copy(f"COPY {target} FROM STDIN (FORMAT CSV{', FREEZE' if freeze else ''})") as copy:
            for batch in batches:
                columns = [_bytea_text(c) if arrow_category(c.type) == "binary" else c for c in batch.columns]
                buffer = io.BytesIO()
                pacsv.write_csv(pa.RecordBatch.from_arrays(columns, names=batch.schema.names), buffer, options)
                copy.write(buffer.getvalue())


class _SendingThread(Writer):
    """Sends COPY data from a thread: reading and encoding the next slice overlaps the socket
    writes (libpq waits without the GIL), so the server stays busy. At most SEND_QUEUE slices wait."""

    def __init__(self, cursor: psycopg.Cursor[Any]):
        self._libpq = LibpqWriter(cursor)
        self._worker: Worker[bytes] = Worker(lambda data: self._libpq.write(memoryview(data)), SEND_QUEUE, "etl-copy-send")

    def write(self, data: Any) -> None:
        self._worker.put(data)

    def finish(self, exc: BaseException | None = None) -> None:
        self._worker.close()
        if self._worker.error is not None and exc is None:
            raise self._worker.error
        self._libpq.finish(exc)


_BINARY_TYPES = {
    "integer": ("bigint",),
    "float": ("double precision",),
    "bool": ("boolean",),
    "string": ("text", "character varying"),
    "binary": ("bytea",),
    "date": ("date",),
    "time": ("time without time zone",),
    "timestamp": ("timestamp without time zone",),
    "timestamptz": ("timestamp with time zone",),
    "decimal": ("numeric",),
}
"""Column types (as format_type spells them) that read the binary encoding of a category."""


def _reads_binary(db_type: str, type_: pa.DataType) -> bool:
    if db_type == "uuid":  # its binary form is the 16 bytes
        return type_ == pa.binary(16)
    category = arrow_category(type_)
    return any(db_type == base or db_type.startswith(base + "(") for base in _BINARY_TYPES.get(category, ()))


def _bytea_text(column: pa.Array) -> pa.Array:
    """Binary values as bytea hex text (`\\x0aff`)."""
    return pc.binary_join_element_wise("\\x", hex_text(column), "")


_COPY_HEADER = 19
"""PGCOPY signature (11 bytes), flags and header extension length (4 + 4, the extension empty)."""


def _with_constants(batches: Iterable[pa.RecordBatch], constants: Sequence[pa.Scalar]) -> Iterable[pa.RecordBatch]:
    """Each batch with one more column per constant, holding that value in every row."""
    for batch in batches:
        for i, value in enumerate(constants):
            batch = batch.append_column(f"_etl_const{i}", pa.repeat(value, batch.num_rows))
        yield batch


def _numbered(batches: Iterable[pa.RecordBatch]) -> Iterable[pa.RecordBatch]:
    """Append the load-order row number to each batch."""
    offset = 0
    for batch in batches:
        yield batch.append_column(SEQ, numpy_array(np.arange(offset, offset + batch.num_rows, dtype=np.int64)))
        offset += batch.num_rows
