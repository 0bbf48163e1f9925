"""Load a staged table into PostgreSQL, MySQL/MariaDB or SQLite (`load_sql`), and read one back
(`read_table`).

Modes: `append` inserts every row; `replace` leaves exactly this load's rows; `merge` upserts by
`primary_key` (the last row of a key within the load wins); `dedupe` inserts the rows whose
`_etl_row_hash` (over all data columns) is not in the table yet. With a `partition` window, the
rows of that window are deleted first, in the same transaction. See modes.py for atomicity.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Literal, Protocol, Sequence

import pyarrow as pa
from sqlalchemy.engine import URL, make_url

from etl_assets.redact import redact
from etl_assets.tables import CHUNK_ROWS
from etl_assets.targets import LoadResult, TargetError
from etl_assets.targets.sql.common import RESERVED_PREFIX, TableName, canonical_type, cast_column, parse_table, rows_outside
from etl_assets.targets.sql.dialect import Dialect
from etl_assets.targets.sql.modes import Job, Mode, Table, resolve_window, run_load

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PartitionWindow", "load_sql", "read_table", "quote_table", "LoadResult", "TargetError"]

MODES: tuple[Mode, ...] = ("append", "replace", "merge", "dedupe")


@dataclass(frozen=True)
class PartitionWindow:
    """Rows whose `column` is in [start, end). Naive bounds of a timezone-aware column are UTC."""

    column: str
    start: datetime
    end: datetime


class Window(Protocol):
    """Anything with a partition window's fields (e.g. `etl_assets.partitions.PartitionWindow`)."""

    @property
    def column(self) -> str: ...
    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...


def load_sql(
    url: str,
    table: str,
    mode: Literal["append", "replace", "merge", "dedupe"],
    data: Table,
    *,
    primary_key: Sequence[str] | None = None,
    run_id: str = "",
    partition: Window | None = None,
    timeout_seconds: float = 30,
    chunk_rows: int = CHUNK_ROWS,
    before_commit: Callable[[], None] = lambda: None,
) -> LoadResult:
    """Load `data` into `table` (maybe `schema.table`) of the database at SQLAlchemy `url`,
    atomically. Raises TargetError naming the table and what went wrong. `before_commit` runs
    when only the commit is left; an error from it rolls the load back and is raised as is.

    A streamed `data` (read once) works for modes append, replace and dedupe without a partition."""
    dialect = _dialect(url, timeout_seconds)
    name = parse_table(table)
    try:
        dialect.check_table(name)
        job = _job(dialect, name, mode, data, list(primary_key or []), run_id, partition, chunk_rows)
        dialect.connect()
        try:
            return run_load(dialect, job, lambda: _hook(before_commit))
        finally:
            dialect.close()
    except _HookError as exc:
        raise exc.error from None
    except Exception as exc:
        raise _error(dialect, name, f"{mode} load failed", exc) from None


class _HookError(Exception):
    def __init__(self, error: BaseException):
        self.error = error


def _hook(before_commit: Callable[[], None]) -> None:
    try:
        before_commit()
    except BaseException as exc:
        raise _HookError(exc) from exc


def read_table(url: str, table: str, timeout_seconds: float = 30) -> pd.DataFrame:
    """The data columns (not `_etl_*`) of a table, for tests and previews: integers as Int64,
    booleans as boolean, timestamps as datetime64 (UTC for timezone-aware columns), dates as
    `datetime.date`."""
    import pandas as pd

    dialect = _dialect(url, timeout_seconds)
    name = parse_table(table)
    try:
        dialect.check_table(name)
        dialect.connect()
        try:
            columns = dialect.columns(name)
            if columns is None:
                raise TargetError("the table does not exist")
            data = {c: t for c, t in columns.items() if not c.startswith(RESERVED_PREFIX)}
            rows = dialect.query(f"SELECT {', '.join(map(dialect.quote, data))} FROM {dialect.table_sql(name)}")
        finally:
            dialect.close()
    except Exception as exc:
        raise _error(dialect, name, "reading failed", exc) from None
    frame = pd.DataFrame.from_records(rows, columns=list(data))
    for column, type_ in data.items():
        frame[column] = _python_values(frame[column], dialect.classify(type_))
    return frame


def quote_table(url: str, table: str) -> str:
    """The table's name as that database quotes it, e.g. `"analytics"."flights"`."""
    return _dialect_class(_parse_url(url)).display(parse_table(table))


# ---------------------------------------------------------------------------- internals


def _parse_url(url: str) -> URL:
    try:
        return make_url(url)
    except Exception:  # noqa: BLE001 - the parser's message repeats the URL, password included
        raise TargetError("the connection URL is not a valid SQLAlchemy URL") from None


def _dialect_class(url: URL) -> type[Dialect]:
    backend = url.get_backend_name()
    if backend == "postgresql":
        from etl_assets.targets.sql.postgres import Postgres

        return Postgres
    if backend in ("mysql", "mariadb"):
        from etl_assets.targets.sql.mysql import MySQL

        return MySQL
    if backend == "sqlite":
        from etl_assets.targets.sql.sqlite import SQLite

        return SQLite
    raise TargetError(f"unsupported database {backend!r}: use postgresql, mysql/mariadb or sqlite")


def _dialect(url: str, timeout_seconds: float) -> Dialect:
    parsed = _parse_url(url)
    return _dialect_class(parsed)(parsed, timeout_seconds)


def _error(dialect: Dialect, table: TableName, what: str, exc: Exception) -> TargetError:
    """A TargetError naming the table and the database (password hidden)."""
    detail = str(exc) if isinstance(exc, TargetError) else f"{type(exc).__name__}: {exc}".strip()
    where = f"{dialect.display(table)} at {dialect.url.render_as_string(hide_password=True)}"
    secrets = [dialect.url.password] if dialect.url.password else []
    return TargetError(redact(f"{where}: {what}: {detail}", [str(s) for s in secrets]))


def _job(
    d: Dialect, table: TableName, mode: str, data: Table, primary_key: list[str],
    run_id: str, partition: Window | None, chunk_rows: int,
) -> Job:
    """Validate the load before connecting."""
    if mode not in MODES:
        raise TargetError(f"mode {mode!r} is not one of {', '.join(MODES)}")
    for part in filter(None, (table.schema, table.name)):
        _check_identifier(d, part, "table")
    fields = _fields(d, data.schema)
    names = [f.name for f in fields]
    if mode == "merge":
        _check_key(data, names, primary_key, chunk_rows)
    window = None
    if partition is not None:
        if partition.end <= partition.start:
            raise TargetError(f"the partition window ends ({partition.end}) before it starts ({partition.start})")
        window = resolve_window(fields, partition.column, partition.start, partition.end)
        outside = sum(
            rows_outside(cast_column(b.column(0), canonical_type(b.schema.field(0).type)), window.lo, window.hi)
            for b in data.batches(chunk_rows, columns=[partition.column])
        )
        if outside:
            raise TargetError(
                f"{outside} of {data.num_rows} rows have {partition.column!r} outside the partition window "
                f"[{partition.start.isoformat()}, {partition.end.isoformat()}) (or null)"
            )
    loaded_at = datetime.now(timezone.utc)
    return Job(table, mode, data, fields, primary_key, run_id, window, chunk_rows, loaded_at)  # type: ignore[arg-type]


def _check_identifier(d: Dialect, name: str, what: str) -> None:
    if not name:
        raise TargetError(f"a {what} name is empty")
    if len(name.encode("utf-8")) > d.max_identifier:
        raise TargetError(f"{what} name {name!r} is longer than {d.max_identifier} bytes")


def _fields(d: Dialect, schema: pa.Schema) -> list[pa.Field]:
    """The load's columns with canonical types; reserved, duplicate and unsupported ones fail."""
    fields, seen = [], set()
    for field in schema:
        _check_identifier(d, field.name, "column")
        if field.name.lower().startswith(RESERVED_PREFIX):
            raise TargetError(f"column {field.name!r}: names starting with {RESERVED_PREFIX} are reserved for the framework")
        if d.fold(field.name) in seen:
            raise TargetError(f"column {field.name!r} appears twice")
        seen.add(d.fold(field.name))
        try:
            fields.append(pa.field(field.name, canonical_type(field.type)))
        except TypeError:
            raise TargetError(f"column {field.name!r} has type {field.type}, which no SQL column holds; cast or drop it") from None
    return fields


def _check_key(data: Table, names: list[str], key: list[str], chunk_rows: int) -> None:
    if not key:
        raise TargetError("mode merge needs a primary_key")
    missing = [k for k in key if k not in names]
    if missing:
        raise TargetError(f"primary_key column(s) {', '.join(map(repr, missing))} not in the data")
    nulls = {k: 0 for k in key}
    for batch in data.batches(chunk_rows, columns=list(key)):
        for k in key:
            nulls[k] += batch.column(k).null_count
    bad = {k: n for k, n in nulls.items() if n}
    if bad:
        raise TargetError("primary_key values must not be null: " + ", ".join(f"{n} null(s) in {k!r}" for k, n in bad.items()))


def _python_values(series: pd.Series, category: str) -> Any:
    """Database values (driver types, or SQLite text) as typed pandas values."""
    import pandas as pd

    if category == "integer":
        return series.astype("Int64")
    if category == "bool":
        return series.map(lambda v: None if pd.isna(v) else bool(v)).astype("boolean")
    if category == "float":
        return series.astype("float64")
    if category == "timestamptz":
        return pd.to_datetime(series, utc=True, format="ISO8601")
    if category in ("timestamp", "datetime"):
        return pd.to_datetime(series, format="ISO8601")
    if category == "date":
        return series.map(lambda v: date.fromisoformat(v) if isinstance(v, str) else v)
    return series
