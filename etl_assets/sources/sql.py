"""SQL sources: a query or a table, streamed with a server-side cursor in chunks of `chunk_rows`.

- `table` is quoted (`schema.table` is split on the first dot); `query` is the user's own SQL.
- `{partition_start}`, `{partition_end}`, `{partition_key}` in a query become bound parameters
  (`:_etl_partition_start`, ...; a quoted `'{partition_start}'` too), never pasted text. They are
  bound as the ISO 8601 strings of the contract; cast them in the query if the database needs it.
  The query goes through SQLAlchemy `text()`: a literal colon before a word must be written `\\:`.
- `incremental: {cursor: col}` wraps the table or query as
  `SELECT * FROM (...) AS _etl_source WHERE "col" > :_etl_cursor ORDER BY "col"`, with the
  committed cursor of `etl_assets.incremental` bound as a parameter.
"""
from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import dagster as dg
import pyarrow as pa

from resources.backoff import Backoff
from resources.sql import SqlResource

from .. import incremental
from ..config.models import SqlSource
from ..partitions import PartitionWindow, partition_window
from .errors import SourceError

if TYPE_CHECKING:
    from ..assets.common import AssetContext

CURSOR_PARAM = "_etl_cursor"
SUBQUERY_ALIAS = "_etl_source"
_NATIVE = (bool, int, float, str, bytes, Decimal, dt.datetime, dt.date, dt.time, dt.timedelta)


def build_query(src: SqlSource, dialect: Any, window: PartitionWindow | None, after: Any) -> tuple[str, dict[str, Any]]:
    """(SQL text, bound parameters) of a read."""
    quote = dialect.identifier_preparer.quote_identifier
    if src.table:
        from ..targets.sql.common import parse_table

        name = parse_table(src.table)
        sql = "SELECT * FROM " + (f"{quote(name.schema)}." if name.schema else "") + quote(name.name)
        params: dict[str, Any] = {}
    else:
        assert src.query is not None
        sql, params = bind_placeholders(src.query.strip().rstrip(";").strip(), window)
    if src.incremental is None:
        return sql, params
    cursor = quote(src.incremental.cursor)
    where = f" WHERE {cursor} > :{CURSOR_PARAM}" if after is not None else ""
    if after is not None:
        params[CURSOR_PARAM] = after
    return f"SELECT * FROM ({sql}) AS {SUBQUERY_ALIAS}{where} ORDER BY {cursor}", params


def bind_placeholders(query: str, window: PartitionWindow | None) -> tuple[str, dict[str, Any]]:
    """`{partition_*}` (quoted or not) -> `:_etl_partition_*` bound parameters."""
    if window is None:
        return query, {}
    params: dict[str, Any] = {}
    for name, value in window.placeholders().items():
        bind = f":_etl_{name}"
        for form in (f"'{{{name}}}'", f"{{{name}}}"):
            if form in query:
                query = query.replace(form, bind)
                params[f"_etl_{name}"] = value
    return query, params


# --- rows -> Arrow ---------------------------------------------------------------------------------


class ArrowChunks:
    """Driver rows -> Arrow tables whose column types stay those of the first typed chunk."""

    def __init__(self, names: Sequence[str], description: Sequence[Any] | None):
        duplicated = [n for n, c in Counter(names).items() if c > 1]
        if duplicated:
            raise SourceError(f"the query returns the column name(s) {', '.join(duplicated)} more than once; give them aliases")
        self.names = list(names)
        self.scales = [_scale(d) for d in description] if description else [None] * len(self.names)
        self.types: dict[str, pa.DataType] = {}

    def table(self, rows: Sequence[Sequence[Any]]) -> pa.Table:
        columns = list(zip(*rows)) if rows else [()] * len(self.names)
        return pa.table({name: self._array(name, list(values), scale) for name, values, scale in zip(self.names, columns, self.scales)})

    def _array(self, name: str, values: list[Any], scale: int | None) -> pa.Array:
        values = _plain(values)
        fixed = self.types.get(name)
        try:
            array = pa.array(values, type=fixed or _decimal_type(values, scale))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            raise SourceError(f"column {name}: values of a later chunk do not fit its type {fixed} ({exc}); cast it in the query") from None
        if pa.types.is_timestamp(array.type) and array.type.tz and array.type.tz != "UTC":
            array = array.cast(pa.timestamp(array.type.unit, "UTC"))
        if fixed is None and not pa.types.is_null(array.type):
            self.types[name] = array.type
        return array


def _scale(column: Any) -> int | None:
    """The DB-API `scale` of a result column (None when unknown)."""
    try:
        scale = column[5]
    except (IndexError, TypeError, KeyError):
        return None
    return scale if isinstance(scale, int) and 0 <= scale <= 38 else None


def _decimal_type(values: list[Any], scale: int | None) -> pa.DataType | None:
    """decimal128(38, scale) for a numeric column (scale from the driver, else from the values)."""
    decimals = [v for v in values if isinstance(v, Decimal) and v.is_finite()]
    if not decimals:
        return None
    if scale is None:
        scale = max(max(-int(d.as_tuple().exponent), 0) for d in decimals)
    return pa.decimal128(38, min(scale, 38))


def _plain(values: list[Any]) -> list[Any]:
    """Values Arrow cannot hold as they are: JSON documents and arrays as JSON text, UUIDs and others as text."""
    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, dt.datetime) and sample.tzinfo is not None:
        # Convert to UTC here: Arrow's own conversion of zoneinfo values depends on its tz database.
        return [None if v is None else v.astimezone(dt.timezone.utc) for v in values]
    if sample is None or isinstance(sample, _NATIVE):
        return values
    if isinstance(sample, (dict, list, tuple)):
        return [None if v is None else json.dumps(v, default=str, ensure_ascii=False) for v in values]
    return [None if v is None else str(v) for v in values]


def column_max(values: Sequence[Any]) -> Any:
    present = [v for v in values if v is not None]
    return max(present) if present else None


# --- reading ---------------------------------------------------------------------------------------------


def _engine(db: SqlResource) -> Any:
    """An engine without a pool, with a connect timeout."""
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    url = sa.engine.make_url(db.resolved_url())
    timeout = max(1, int(db.timeout_seconds))
    connect_args = {"sqlite": {"timeout": db.timeout_seconds}}.get(url.get_backend_name(), {"connect_timeout": timeout})
    return sa.create_engine(url, poolclass=NullPool, connect_args=connect_args)


def _is_transient(exc: BaseException) -> bool:
    """A connection that could not be made (not a refused login)."""
    import sqlalchemy as sa

    text = str(exc).lower()
    refused = any(s in text for s in ("authentication", "access denied", "password", "does not exist", "unknown database"))
    return isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError)) and not refused


def read_rows(
    engine: Any,
    sql: str,
    params: dict[str, Any],
    chunk_rows: int,
    cursor_column: str | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> Iterator[tuple[pa.Table, Any]]:
    """(chunk, max cursor value in it) for each chunk of the result, streamed from the server.
    An empty result is one empty chunk with the result's column names."""
    import sqlalchemy as sa

    shown = engine.url.render_as_string(hide_password=True)
    conn = Backoff().call(engine.connect, _is_transient, log, f"connecting to {shown}")
    with conn:
        result = conn.execution_options(yield_per=chunk_rows).execute(sa.text(sql), params)
        names = list(result.keys())
        if cursor_column is not None and cursor_column not in names:
            raise SourceError(f"incremental.cursor: the result has no column {cursor_column!r} (it has {', '.join(names)})")
        chunks = ArrowChunks(names, getattr(result.cursor, "description", None))
        position = names.index(cursor_column) if cursor_column else None
        empty = True
        for rows in result.partitions(chunk_rows):
            empty = False
            yield chunks.table(rows), column_max([r[position] for r in rows]) if position is not None else None
        if empty:
            yield chunks.table([]), None


def read_sql_source(ctx: AssetContext, context: dg.AssetExecutionContext, meta: dict[str, Any]) -> Iterator[pa.Table]:
    """The `sql` source reader (see `assets.sources.READERS`)."""
    src: SqlSource = ctx.config
    cfg = ctx.loaded.config
    db: SqlResource = getattr(context.resources, ctx.connection_resource_key(src.connection))
    after = incremental.committed_cursor(context, cfg, src) if src.incremental else None
    cursor_column = src.incremental.cursor if src.incremental else None
    where = ctx.loaded.redact(db.display_name())
    engine = _engine(db)
    try:
        sql, params = build_query(src, engine.dialect, partition_window(cfg, context), after)
        what = f"table {src.table}" if src.table else "query"
        since = f", rows with {cursor_column} > {incremental.shown(after)}" if cursor_column else ""
        context.log.info(ctx.loaded.redact(f"reading {what} from {where}{since}"))
        rows = nbytes = 0
        read_max = None
        warn = lambda text: context.log.warning(ctx.loaded.redact(text))  # noqa: E731
        for chunk, upto in read_rows(engine, sql, params, src.chunk_rows, cursor_column, warn):
            rows += chunk.num_rows
            nbytes += chunk.nbytes
            read_max = upto if read_max is None or (upto is not None and upto > read_max) else read_max
            yield chunk
    finally:
        engine.dispose()
    meta.update({"database": dg.MetadataValue.text(where), "read": dg.MetadataValue.text(ctx.loaded.redact(src.table or "query")), "bytes": dg.MetadataValue.int(nbytes)})
    if src.incremental:
        meta.update(incremental.source_metadata(after, read_max))
        upto = incremental.shown(read_max if read_max is not None else after)
        context.log.info(f"read {rows} new row(s); {cursor_column} is now up to {upto}")
