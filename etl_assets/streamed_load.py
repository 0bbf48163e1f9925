"""A target's load running in a thread while its input is still being produced, fed chunk by
chunk and committed (or rolled back) later by someone else; which targets may be loaded so; and
staging a table while feeding such loads.

Free of Dagster, so `etl run`'s head start (`etl_assets.head_start`) can begin a load before
Dagster is imported; `assets.preload` hands these loads from the producing step to the target step.
"""
from __future__ import annotations

import atexit
import queue
import threading
from collections import Counter
from typing import Callable, Generic, Iterable, Iterator, NamedTuple, Protocol, Sequence, TypeVar

import pyarrow as pa
from sqlalchemy.engine import make_url

from .checks.profile import Profiler
from .config import LoadedPipeline
from .config.models import SqlTarget
from .storage import data_dir, staging_path
from .tables import Observer, StoredTable, TableWriter
from .targets import LoadResult
from .targets.sql import Window, load_sql
from .targets.sql.modes import Table

STREAMED_MODES = ("append", "replace", "dedupe")
QUEUE_CHUNKS = 1
"""Chunks waiting for the loading thread (bounds the memory the overlap costs)."""

Loader = Callable[["ChunkFeed", Callable[[], None]], LoadResult]
"""Runs a target's load of a table, calling its second argument just before the commit."""

KeyPath = Sequence[str]
"""An asset key's path (`dagster.AssetKey.path`)."""


class Planned(NamedTuple):
    """A streamed target to load: its asset key path, its connection's resolved URL and timeout."""

    key: tuple[str, ...]
    url: str
    timeout_seconds: float


def new_load(run_id: str, target: SqlTarget, planned: Planned) -> "StreamedLoad":
    """The streamed load of `target` in the run `run_id` (started by its first chunk)."""
    return StreamedLoad(run_id, planned.key, sql_loader(target, planned.url, planned.timeout_seconds, run_id, None))


def sql_loader(target: SqlTarget, url: str, timeout_seconds: float, run_id: str, window: Window | None) -> Loader:
    """The target's load of a table into the database at `url` (its connection's resolved URL)."""

    def load(data: Table, before_commit: Callable[[], None] = lambda: None) -> LoadResult:
        return load_sql(
            url,
            target.table,
            target.mode,
            data,
            primary_key=target.primary_key,
            run_id=run_id,
            partition=window,
            timeout_seconds=timeout_seconds,
            before_commit=before_commit,
        )

    return load


def streamed_targets(loaded: LoadedPipeline, producer: str) -> list[SqlTarget]:
    """The SQL targets a step may load while it produces `producer`: where one streamed pass equals
    the normal load and an open transaction cannot hold up another step (see `assets.preload`)."""
    cfg = loaded.config
    if cfg.partitions is not None or cfg.executor.type != "in_process":
        return []
    if any(getattr(s, "incremental", None) is not None for s in cfg.sources):
        return []
    sql = [t for t in cfg.targets if isinstance(t, SqlTarget)]
    shared = {k for k, n in Counter((t.connection, t.table) for t in sql).items() if n > 1}
    return [t for t in sql if t.input == producer and t.mode in STREAMED_MODES and (t.connection, t.table) not in shared]


def postgres_loads(
    loaded: LoadedPipeline, producer: str, connection: Callable[[SqlTarget], tuple[str, float] | None]
) -> list[tuple[SqlTarget, Planned]]:
    """The streamed targets of `producer` whose connection is PostgreSQL; `connection` gives a
    target's resolved URL and timeout, or None when it is not loaded now."""
    out = []
    for target in streamed_targets(loaded, producer):
        found = connection(target)
        if found is not None and make_url(found[0]).get_backend_name() == "postgresql":
            out.append((target, Planned((loaded.config.pipeline, target.name), *found)))
    return out


def staged_writer(key: KeyPath, *observers: Observer) -> TableWriter:
    """A TableWriter into the staging area for the asset `key` (gathering the column profile as it
    writes, and showing the chunks to `observers`); the IO manager moves the file into place."""
    return TableWriter(staging_path(data_dir(), key), Profiler(), *observers)


def stage(key: KeyPath, chunks: Iterable[pa.Table], loads: Sequence["StreamedLoad"]) -> StoredTable:
    """Stage `chunks` as the asset `key`'s table, feeding `loads`; their input is ended after the
    last chunk, or they are rolled back if anything fails."""
    try:
        with staged_writer(key, *loads) as writer:
            for chunk in chunks:
                writer.write(chunk)
            table = writer.commit()
    except BaseException:
        for load in loads:
            load.abort()
        raise
    for load in loads:
        load.end_input()
    return table


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

    def __init__(self, run_id: str, target: KeyPath, loader: Loader):
        self.run_id = run_id
        self.target = tuple(target)
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
            self._thread = threading.Thread(target=self._run, name=f"etl-load-{'/'.join(self.target)}", daemon=True)
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


class Abortable(Protocol):
    def abort(self) -> None: ...


A = TypeVar("A", bound=Abortable)
RunKey = tuple[str, tuple[str, ...]]
"""(run id, asset key path)."""


class Waiting(Generic[A]):
    """Work left by one step of a run for a later one, by (run id, asset key path); what is still
    here when the process exits is aborted (rolled back)."""

    def __init__(self) -> None:
        self._items: dict[RunKey, A] = {}
        self._lock = threading.Lock()
        atexit.register(self.abort_all)

    def put(self, key: RunKey, item: A, stale: Callable[[RunKey], bool] = lambda _: False) -> None:
        """Leave `item` under `key`, aborting what was there and every item whose key is `stale`."""
        with self._lock:
            old = [self._items.pop(k) for k in [k for k in self._items if k == key or stale(k)]]
            self._items[key] = item
        for item in old:
            item.abort()

    def take(self, key: RunKey) -> A | None:
        with self._lock:
            return self._items.pop(key, None)

    def __bool__(self) -> bool:
        return bool(self._items)

    def abort_all(self) -> None:
        with self._lock:
            left = list(self._items.values())
            self._items.clear()
        for item in left:
            item.abort()
