"""Loading SQL targets while their input is produced: one pass over the data, with parsing or the
transform's steps, staging and the database's work (COPY) overlapped on the machine's cores.

When a run executes a source or transform and, later in the same process (the `in_process`
executor), a SQL target whose input it is, the producing step starts the target's load in a thread
as soon as the first chunk is staged and hands it every chunk the stored table receives. The
load's transaction stays open until the target step runs: it commits it and reports the load as
its own materialization. If anything in between goes wrong (the step fails, one of its checks
fails or changes the rows, the run stops) the transaction is rolled back; a target step that finds
no ready load (or a load that failed) loads the stored table as usual. Either way the target holds
exactly the stored table's rows, in one transaction.

Only where one streamed pass equals the normal load and an open transaction cannot hold up another
step: PostgreSQL targets (row-level locks; SQLite would lock the whole database file), whose table
no other target of the pipeline writes; no partitions (the window check reads the data first), no
incremental source (targets filter rows by cursor); modes append, replace and dedupe (merge checks
its key before loading).
"""
from __future__ import annotations

import atexit
import queue
import threading
from collections import Counter
from typing import Any, Callable, Iterator

import dagster as dg
import pyarrow as pa
from sqlalchemy.engine import make_url

from ..config import LoadedPipeline
from ..config.models import SqlTarget
from ..partitions import PartitionWindow
from ..tables import StoredTable
from ..targets import LoadResult
from ..targets.sql import load_sql
from ..targets.sql.modes import Table
from .common import AssetContext, asset_key

STREAMED_MODES = ("append", "replace", "dedupe")
QUEUE_CHUNKS = 1
"""Chunks waiting for the loading thread (bounds the memory the overlap costs)."""

Loader = Callable[["ChunkFeed", Callable[[], None]], LoadResult]
"""Runs a target's load of a table, calling its second argument just before the commit."""


def sql_loader(target: SqlTarget, db: Any, run_id: str, window: PartitionWindow | None) -> Loader:
    """The target's load of a table into its database (`db`: its SqlConnection resource)."""

    def load(data: Table, before_commit: Callable[[], None] = lambda: None) -> LoadResult:
        return load_sql(
            db.resolved_url(),
            target.table,
            target.mode,
            data,
            primary_key=target.primary_key,
            run_id=run_id,
            partition=window,
            timeout_seconds=db.timeout_seconds,
            before_commit=before_commit,
        )

    return load


def streamed_targets(loaded: LoadedPipeline, producer: str) -> list[SqlTarget]:
    """The SQL targets a step may load while it produces `producer` (see the module docstring)."""
    cfg = loaded.config
    if cfg.partitions is not None or cfg.executor.type != "in_process":
        return []
    if any(getattr(s, "incremental", None) is not None for s in cfg.sources):
        return []
    sql = [t for t in cfg.targets if isinstance(t, SqlTarget)]
    shared = {k for k, n in Counter((t.connection, t.table) for t in sql).items() if n > 1}
    return [t for t in sql if t.input == producer and t.mode in STREAMED_MODES and (t.connection, t.table) not in shared]


def resource_keys(ctx: AssetContext) -> set[str]:
    """The connections of the targets the asset's step may load."""
    return {ctx.connection_resource_key(t.connection) for t in streamed_targets(ctx.loaded, ctx.config.name)}


def start_loads(ctx: AssetContext, context: dg.AssetExecutionContext) -> list["StreamedLoad"]:
    """A load for each streamed target this run executes; feed them as the writer's observers."""
    loads = []
    for target in streamed_targets(ctx.loaded, ctx.config.name):
        key = asset_key(ctx.pipeline, target.name)
        db = getattr(context.resources, ctx.connection_resource_key(target.connection))
        if will_run(context, key) and make_url(db.resolved_url()).get_backend_name() == "postgresql":
            loads.append(StreamedLoad(context.run_id, key, sql_loader(target, db, context.run_id, None)))
    return loads


def abort_all(loads: list["StreamedLoad"]) -> None:
    for load in loads:
        load.abort()


def hand_over(loads: list["StreamedLoad"], written: StoredTable, passed_on: StoredTable, results: list[dg.AssetCheckResult]) -> None:
    """Leave the loads for their target steps when the checks passed every written row on; else
    roll them back."""
    clean = passed_on.path == written.path and all(r.passed for r in results)
    for load in loads:
        if clean and load.started:
            offer(load)
        else:
            load.abort()


class ChunkFeed:
    """A table arriving chunk by chunk from another thread; readable once, like a StoredTable."""

    def __init__(self, schema: pa.Schema):
        self.schema = schema
        self.num_rows = 0
        self._queue: queue.Queue[pa.Table | None] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self._read = False

    def put(self, table: pa.Table | None, alive: Callable[[], bool]) -> None:
        """Hand on a chunk (None: the end); gives up when the reader is gone."""
        while alive():
            try:
                self._queue.put(table, timeout=0.5)
                return
            except queue.Full:
                continue

    def wake(self) -> None:
        """End a wait for chunks that will not come (when there is room for the end marker)."""
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass

    def batches(self, rows: int = 0, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        if self._read:
            raise RuntimeError("a streamed table can be read only once")
        self._read = True
        while (table := self._queue.get()) is not None:
            self.num_rows += table.num_rows
            for batch in (table.select(columns) if columns else table).to_batches():
                yield batch


class _Abandoned(Exception):
    """The load is not wanted any more: roll it back."""


class StreamedLoad:
    """One target's load running in a thread, fed chunk by chunk, committed by the target step."""

    def __init__(self, run_id: str, target: dg.AssetKey, loader: Loader):
        self.run_id = run_id
        self.target = target
        self._loader = loader
        self._feed: ChunkFeed | None = None
        self._thread: threading.Thread | None = None
        self._decided = threading.Event()
        self._commit = False
        self.result: LoadResult | None = None
        self.error: BaseException | None = None

    def add(self, table: pa.Table) -> None:
        """Feed a chunk (the first one starts the load)."""
        if self._feed is None:
            self._feed = ChunkFeed(table.schema)
            self._thread = threading.Thread(target=self._run, name=f"etl-load-{self.target.to_user_string() if self.target else ''}", daemon=True)
            self._thread.start()
        self._feed.put(table, self._alive)

    def _alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        assert self._feed is not None
        try:
            self.result = self._loader(self._feed, self._await_commit)
        except BaseException as exc:  # noqa: BLE001 - kept for the target step
            self.error = exc

    def _await_commit(self) -> None:
        self._decided.wait()
        if not self._commit:
            raise _Abandoned()

    @property
    def started(self) -> bool:
        return self._feed is not None

    def end_input(self) -> None:
        """No more chunks."""
        if self._feed is not None:
            self._feed.put(None, self._alive)

    def commit(self) -> LoadResult:
        """Commit the load (waiting for it); raises its error if it failed."""
        self._finish(True)
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result

    def abort(self) -> None:
        """Roll the load back (waiting for the thread to end)."""
        self._finish(False)

    def _finish(self, commit: bool) -> None:
        self._commit = commit
        self._decided.set()
        if self._thread is not None:
            while self._thread.is_alive():
                if self._feed is not None:
                    self._feed.wake()
                self._thread.join(timeout=0.1)


_PENDING: dict[tuple[str, dg.AssetKey], StreamedLoad] = {}
_LOCK = threading.Lock()


def offer(load: StreamedLoad) -> None:
    """Leave a fed load for its target step; loads left over by other runs are rolled back."""
    with _LOCK:
        stale = [k for k in _PENDING if k[0] != load.run_id or k[1] == load.target]
        old = [_PENDING.pop(k) for k in stale]
        _PENDING[(load.run_id, load.target)] = load
    for pending in old:
        pending.abort()


def take(run_id: str, target: dg.AssetKey) -> StreamedLoad | None:
    """The load the source step left for this target in this run, if any."""
    with _LOCK:
        return _PENDING.pop((run_id, target), None)


@atexit.register
def _abort_all() -> None:
    with _LOCK:
        pending = list(_PENDING.values())
        _PENDING.clear()
    for load in pending:
        load.abort()


def will_run(context: dg.AssetExecutionContext, target: dg.AssetKey) -> bool:
    """Whether this run executes the target's step (after this one, in this process)."""
    plan = context.get_step_execution_context().execution_plan
    return target.to_python_identifier() in plan.step_keys_to_execute
