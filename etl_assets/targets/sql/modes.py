"""The load modes (append, replace, merge, dedupe, partition window), written once against the
`Dialect` interface.

Atomicity: everything of a load runs in one transaction, DDL included, on databases whose DDL is
transactional (PostgreSQL, SQLite). Where DDL commits implicitly (MySQL/MariaDB), the table is
prepared first (and the preparation undone when the load fails), the rows are written in one
InnoDB transaction, and `replace` loads a new table that an atomic RENAME swaps into place.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterator, Literal, Protocol, Sequence

import numpy as np
import pyarrow as pa

from etl_assets.arrow_values import numpy_array
from etl_assets.targets import LoadResult, TargetError
from etl_assets.targets.sql.common import (
    LOADED_AT,
    ROW_HASH,
    RUN_ID,
    UTC_US,
    TableName,
    accepts,
    arrow_category,
    cast_column,
    derived_name,
    row_hash,
    value_type_for,
    window_bounds,
)
from etl_assets.targets.sql.dialect import Created, Dialect, StageColumn

Mode = Literal["append", "replace", "merge", "dedupe"]
Undo = list[Callable[[], None]]


class Table(Protocol):
    """What a load reads: a StoredTable, or a table streamed once (`streamed_load.ChunkFeed`)."""

    @property
    def schema(self) -> pa.Schema: ...
    @property
    def num_rows(self) -> int: ...
    def batches(self, rows: int = ..., columns: list[str] | None = None) -> Iterator[pa.RecordBatch]: ...


@dataclass(frozen=True)
class Window:
    """A partition window: rows with `column >= lo and column < hi` (bounds already typed)."""

    column: str
    lo: object
    hi: object


@dataclass(frozen=True)
class Job:
    """One validated load."""

    table: TableName
    mode: Mode
    data: Table
    fields: list[pa.Field]
    """The load's columns with their canonical Arrow types."""
    primary_key: list[str]
    run_id: str
    window: Window | None
    chunk_rows: int
    loaded_at: datetime

    @property
    def key_sources(self) -> set[str]:
        return set(self.primary_key) if self.mode == "merge" else set()


@dataclass(frozen=True)
class Column:
    """A column of the load and where it goes."""

    source: str
    """Name in the load."""
    name: str
    """Name in the table."""
    arrow: pa.DataType
    """Arrow type the values are cast to before writing (and hashing)."""
    category: str
    """Category of the table column."""
    table_type: str
    new: bool


@dataclass(frozen=True)
class Layout:
    """The load's columns mapped onto the table; shapes record batches for the dialect."""

    columns: list[Column]
    hashed: bool
    run_id_type: str
    """The table's type of `_etl_run_id`."""
    created: bool = False
    """The load's transaction created the table."""

    def column(self, source: str) -> Column:
        return next(c for c in self.columns if c.source == source)

    def stage_columns(self, hash_type: str) -> list[StageColumn]:
        stage = [StageColumn(f"c{i}", c.arrow, c.table_type) for i, c in enumerate(self.columns)]
        return stage + ([StageColumn(ROW_HASH, pa.binary(16), hash_type)] if self.hashed else [])

    def stage_name(self, source: str) -> str:
        return f"c{[c.source for c in self.columns].index(source)}"

    def shape(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """Columns in layout order, cast to their write types, named c0..cN (+ the row hash)."""
        arrays = [cast_column(batch.column(c.source), c.arrow) for c in self.columns]
        names = [f"c{i}" for i in range(len(arrays))]
        if self.hashed:
            arrays.append(row_hash([(c.name, a, c.category) for c, a in zip(self.columns, arrays)]))
            names.append(ROW_HASH)
        return pa.RecordBatch.from_arrays(arrays, names=names)


def batches(job: Job, layout: Layout) -> Iterator[pa.RecordBatch]:
    for batch in job.data.batches(job.chunk_rows):
        if batch.num_rows:
            yield layout.shape(batch)


SEEN_CAP = 2_000_000
"""Distinct row hashes a dedupe load remembers (16 bytes each) to drop repeats before staging."""
TABLE_HASHES_CAP = 500_000
"""Up to this many rows, a dedupe load first reads the table's row hashes, so rows the table
already holds are dropped before staging too (a re-run of the same data stages nothing)."""


class SeenOverflow(Exception):
    """A strict FirstSight met more distinct rows than it remembers."""


class FirstSight:
    """Drops rows whose row hash an earlier row of the same load had, so repeats never reach the
    stage (the database still deduplicates: this only saves it work). Remembers up to SEEN_CAP
    hashes, sorted by their first 64 bits; a row is dropped only when all 128 bits match."""

    def __init__(self, cap: int = SEEN_CAP):
        self.cap = cap
        self.strict = False
        """Raise SeenOverflow instead of passing rows on unremembered (every row it passes is then
        distinct from every other it passed)."""
        self.knows_table = False
        """Whether it was told every row hash the table held when the load read them."""
        self.passed = 0
        self._high = np.empty(0, np.uint64)
        self._low = np.empty(0, np.uint64)

    def remember(self, hashes: bytes) -> None:
        """Treat these (concatenated 16-byte) row hashes as seen."""
        words = np.frombuffer(hashes, np.uint64).reshape(-1, 2)
        high = np.concatenate([self._high, words[:, 0]])
        low = np.concatenate([self._low, words[:, 1]])
        order = np.lexsort((low, high))
        self._high, self._low = high[order], low[order]

    def filter(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            keep = self._new_rows(batch.column(ROW_HASH))
            out = batch if keep.all() else batch.filter(numpy_array(keep))
            self.passed += out.num_rows
            yield out

    def _new_rows(self, hashes: pa.Array) -> np.ndarray:
        words = np.frombuffer(hashes.buffers()[1], np.uint64, len(hashes) * 2, hashes.offset * 16).reshape(-1, 2)
        high, low = words[:, 0], words[:, 1]
        order = np.lexsort((low, high))
        h, l = high[order], low[order]
        first = np.ones(len(order), bool)
        first[1:] = (h[1:] != h[:-1]) | (l[1:] != l[:-1])
        at = np.searchsorted(self._high, h)
        end = np.searchsorted(self._high, h, side="right")
        known = np.zeros(len(order), bool)
        single = end - at == 1
        known[single] = self._low[at[single]] == l[single]
        for i in np.flatnonzero(end - at > 1):  # first 64 bits shared by several remembered rows: rare
            known[i] = bool((self._low[at[i] : end[i]] == l[i]).any())
        fresh = first & ~known
        keep = np.zeros(len(order), bool)
        keep[order[fresh]] = True
        if len(self._high) + int(fresh.sum()) <= self.cap:
            self._high = np.insert(self._high, at[fresh], h[fresh])
            self._low = np.insert(self._low, at[fresh], l[fresh])
        elif self.strict:
            raise SeenOverflow(f"more than {self.cap:,} distinct rows")
        return keep


# ---------------------------------------------------------------------------- the table


def plan_columns(d: Dialect, job: Job, existing: dict[str, str] | None) -> list[Column]:
    """Map each load column onto an existing column (checking the types fit) or a new one."""
    by_fold = {d.fold(name): (name, type_) for name, type_ in (existing or {}).items()}
    planned = []
    for field in job.fields:
        category = arrow_category(field.type)
        hit = by_fold.get(d.fold(field.name))
        if hit is None:
            arrow = pa.string() if category == "null" else field.type
            type_ = d.column_type(arrow, key=field.name in job.key_sources)
            planned.append(Column(field.name, field.name, arrow, arrow_category(arrow), type_, new=True))
            continue
        name, db_type = hit
        table_category = d.classify(db_type)
        if not accepts(table_category, category):
            raise TargetError(f"column {name!r} has type {db_type} in the table but {field.type} in the data")
        planned.append(Column(field.name, name, value_type_for(table_category, field.type), table_category, db_type, new=False))
    return planned


def _bookkeeping(d: Dialect, job: Job) -> list[tuple[str, str]]:
    columns = [(LOADED_AT, d.column_type(UTC_US)), (RUN_ID, d.run_id_type())]
    return columns + ([(ROW_HASH, d.hash_type)] if job.mode == "dedupe" else [])


def prepare_table(d: Dialect, job: Job, table: TableName, undo: Undo) -> Layout:
    """Create the table, or add missing columns to it; make sure the merge/dedupe key is unique.
    Each change registers its inverse in `undo` (used where DDL is not transactional)."""
    if table.schema:
        d.ensure_schema(table.schema)
    existing = d.columns(table)
    columns = plan_columns(d, job, existing)
    names = {c.source: c.name for c in columns}
    key = [names[k] for k in job.primary_key] if job.mode == "merge" else [ROW_HASH] if job.mode == "dedupe" else []
    extra = _bookkeeping(d, job)
    if existing is None:
        d.create_table(table, [(c.name, c.table_type) for c in columns] + extra, key if job.mode == "merge" else [])
        undo.append(lambda: d.drop_table(table))
    else:
        have = {d.fold(n) for n in existing}
        for name, type_ in [(c.name, c.table_type) for c in columns if c.new] + extra:
            if d.fold(name) not in have:
                d.add_column(table, name, type_)
                undo.append(lambda name=name: d.drop_column(table, name))
    if key and not (existing is None and job.mode == "merge"):
        _ensure_unique(d, table, key, undo)
    run_id_type = next((t for n, t in (existing or {}).items() if d.fold(n) == d.fold(RUN_ID)), d.run_id_type())
    return Layout(columns, hashed=job.mode == "dedupe", run_id_type=run_id_type, created=existing is None)


def _ensure_unique(d: Dialect, table: TableName, key: list[str], undo: Undo) -> None:
    wanted = frozenset(map(d.fold, key))
    if any(frozenset(map(d.fold, cols)) == wanted for cols in d.unique_keys(table)):
        return
    index = d.index_name(table, key)
    d.create_unique_index(table, index, key)
    undo.append(lambda: d.drop_index(table, index))


# ---------------------------------------------------------------------------- the modes


def run_load(d: Dialect, job: Job, before_commit: Callable[[], None] = lambda: None) -> LoadResult:
    """Run one load atomically. `before_commit` runs when everything but the commit is done (an
    error from it rolls the load back)."""
    if job.mode == "replace" and job.window is None and not d.transactional_ddl:
        return _replace_by_swap(d, job, before_commit)
    undo: Undo = []
    try:
        d.begin()
        layout = prepare_table(d, job, job.table, undo)
        deleted = _delete(d, job, layout)
        inserted, updated, unchanged = _write(d, job, layout)
        before_commit()
        d.commit()
    except BaseException:
        _abort(d, undo)
        raise
    return LoadResult(d.display(job.table), inserted, updated, unchanged, deleted)


def _abort(d: Dialect, undo: Undo) -> None:
    """Roll back; where DDL was not part of the transaction, undo it (best effort)."""
    for action in [d.rollback] + ([] if d.transactional_ddl else undo[::-1]):
        try:
            action()
        except Exception:  # noqa: BLE001 - the load's own error is the one to report
            pass


def _delete(d: Dialect, job: Job, layout: Layout) -> int:
    """replace: every row; a partitioned load: the rows of the window."""
    target = d.table_sql(job.table)
    if job.window is not None:
        column = d.quote(layout.column(job.window.column).name)
        bounds = (d.param_value(job.window.lo), d.param_value(job.window.hi))
        return d.execute(f"DELETE FROM {target} WHERE {column} >= {d.param} AND {column} < {d.param}", bounds)
    if job.mode == "replace":
        return d.execute(f"DELETE FROM {target}")
    return 0


def _constants(d: Dialect, job: Job, layout: Layout) -> tuple[object, object]:
    return d.param_value(job.loaded_at), d.run_id_value(job.run_id, layout.run_id_type)


def _write(d: Dialect, job: Job, layout: Layout) -> tuple[int, int, int]:
    """Insert the rows; returns (inserted, updated, unchanged)."""
    if job.mode in ("merge", "dedupe"):
        return _upsert(d, job, layout)
    _insert_all(d, job, layout, job.table)
    return job.data.num_rows, 0, 0


def _insert_all(d: Dialect, job: Job, layout: Layout, table: TableName) -> None:
    names = [c.name for c in layout.columns] + [LOADED_AT, RUN_ID]
    created = Created.HERE if layout.created else Created.NO
    d.insert_rows(table, names, layout.stage_columns(d.hash_type), batches(job, layout), _constants(d, job, layout), created)


def _upsert(d: Dialect, job: Job, layout: Layout) -> tuple[int, int, int]:
    """merge: the last row per key of the load, inserted or updating the table's row.
    dedupe: one row per row hash, inserted unless the table holds it already."""
    merge = job.mode == "merge"
    stage_key = [layout.stage_name(k) for k in job.primary_key] if merge else [ROW_HASH]
    table_key = [layout.column(k).name for k in job.primary_key] if merge else [ROW_HASH]
    stage = layout.stage_columns(d.hash_type)
    target = d.table_sql(job.table)
    if not merge:
        seen = _first_sight(d, target)
        if d.direct_dedupe and seen.knows_table and job.data.num_rows <= SEEN_CAP:
            inserted = _dedupe_directly(d, job, layout, seen)
            if inserted is not None:
                return inserted, 0, job.data.num_rows - inserted
            seen = _first_sight(d, target)  # the first remembers the rows of the COPY that was undone
    rows = batches(job, layout) if merge else seen.filter(batches(job, layout))
    select = d.stage(stage, rows, stage_key, keep_last=merge)
    on = " AND ".join(f"s.{d.quote(s)} = t.{d.quote(t)}" for s, t in zip(stage_key, table_key))
    columns = [c.name for c in layout.columns] + [LOADED_AT, RUN_ID] + ([ROW_HASH] if layout.hashed else [])
    values = [f"s.{d.quote(c.name)}" for c in stage[: len(layout.columns)]] + [d.param, d.param]
    values += [f"s.{d.quote(ROW_HASH)}"] if layout.hashed else []
    insert = f"INSERT INTO {target} ({', '.join(map(d.quote, columns))}) SELECT {', '.join(values)} FROM ({select}) s"
    total = job.data.num_rows
    if merge:
        distinct = d.scalar(f"SELECT COUNT(*) FROM ({select}) s")
        existing = d.scalar(f"SELECT COUNT(*) FROM ({select}) s JOIN {target} t ON {on}")
        update = [c for c in columns if c not in table_key]
        d.execute(f"{insert} WHERE 1 = 1 {d.on_conflict(table_key, update)}", _constants(d, job, layout))
        return distinct - existing, existing, total - distinct
    conflict = d.on_conflict(table_key, None) if d.targeted_conflicts else ""
    inserted = d.execute(f"{insert} WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {on}) {conflict}", _constants(d, job, layout))
    return inserted, 0, total - inserted


def _first_sight(d: Dialect, target: str) -> FirstSight:
    """A FirstSight that knows the table's row hashes when there are at most TABLE_HASHES_CAP."""
    seen = FirstSight(SEEN_CAP)
    sql = f"SELECT {d.quote(ROW_HASH)} FROM {target} WHERE {d.quote(ROW_HASH)} IS NOT NULL LIMIT {TABLE_HASHES_CAP + 1}"
    hashes = d.fixed_width_values(sql, 16, TABLE_HASHES_CAP)
    if hashes is not None:  # None: too many, or some hash was written by other means: let the database compare
        seen.remember(hashes)
        seen.knows_table = True
    return seen


def _dedupe_directly(d: Dialect, job: Job, layout: Layout, seen: FirstSight) -> int | None:
    """dedupe without a stage, for a dialect that allows it (`direct_dedupe`) when `seen` knows
    every row hash of the table: made strict, every row it passes is new, and the rows go straight
    into the table (PostgreSQL: COPY). Rows inserted; None when the table's unique index refused a
    row (a concurrent writer inserted it after the hashes were read) or FirstSight overflowed:
    then nothing of it is left (savepoint) and the caller stages. Its rows are read again then: a
    streamed table cannot be, so such a load fails and the target step loads the stored table."""
    seen.strict = True
    names = [c.name for c in layout.columns] + [ROW_HASH, LOADED_AT, RUN_ID]
    d.execute("SAVEPOINT etl_dedupe")
    try:
        created = Created.BEFORE_SAVEPOINT if layout.created else Created.NO
        d.insert_rows(job.table, names, layout.stage_columns(d.hash_type), seen.filter(batches(job, layout)), _constants(d, job, layout), created)
    except (SeenOverflow, *d.unique_violations):
        d.execute("ROLLBACK TO SAVEPOINT etl_dedupe")
        return None
    d.execute("RELEASE SAVEPOINT etl_dedupe")
    return seen.passed


def _replace_by_swap(d: Dialect, job: Job, before_commit: Callable[[], None]) -> LoadResult:
    """Load `<table>__etl_new` (same structure as the table) in a transaction, then swap it in
    with one atomic rename and drop the old table. A failure drops the new table."""
    table = job.table
    new = table.with_name(derived_name(table.name, "__etl_new", d.max_identifier))
    old = table.with_name(derived_name(table.name, "__etl_old", d.max_identifier))
    d.lock(table)
    if table.schema:
        d.ensure_schema(table.schema)
    for leftover in (new, old):
        d.drop_table(leftover)
    exists = d.columns(table) is not None
    try:
        if exists:
            d.copy_structure(table, new)
        layout = prepare_table(d, job, new, [])
        d.begin()
        _insert_all(d, job, layout, new)
        before_commit()
        d.commit()
        deleted = d.scalar(f"SELECT COUNT(*) FROM {d.table_sql(table)}") if exists else 0
        d.swap(table, new, old if exists else None)
    except BaseException:
        _abort(d, [])
        _drop_quietly(d, new)
        raise
    if exists:
        d.drop_table(old)
    return LoadResult(d.display(table), job.data.num_rows, 0, 0, deleted)


def _drop_quietly(d: Dialect, table: TableName) -> None:
    try:
        d.drop_table(table)
    except Exception:  # noqa: BLE001
        pass


def resolve_window(fields: Sequence[pa.Field], column: str, start: datetime, end: datetime) -> Window:
    """Typed bounds for the partition column (a date or timestamp column of the load)."""
    field = next((f for f in fields if f.name == column), None)
    if field is None:
        raise TargetError(f"the partition column {column!r} is not in the data")
    try:
        lo, hi = window_bounds(arrow_category(field.type), start, end)
    except TypeError as exc:
        raise TargetError(f"partition column {column!r}: {exc}") from None
    return Window(column, lo, hi)
