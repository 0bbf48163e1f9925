"""`etl run`'s head start: a file source that feeds PostgreSQL targets begins reading, and their
loads begin, while Dagster starts.

Dagster's start-up in an `etl run` process (importing it, building the definitions, opening the
instance, creating the run and logging its first events) takes about 2 s of one core, before the
first step runs. When the run is a whole unpartitioned pipeline with a file source that streams
into PostgreSQL targets (the rules of `streamed_load.streamed_targets`), `begin` reads the first
such source in a thread from the process's first moments: into a staged table, showing every chunk
to the targets' streamed loads, whose transactions stay open. The run id is chosen beforehand and
given to Dagster for the run, so the rows carry the run's id.

The source's step takes the head start over (`take`, then `HeadStart.mismatch` and `result`, in
`assets.preload.adopt`) only where it is exactly what the step would do itself: the same config,
the same files, unchanged since the read began, the same targets with the same connection URLs and
timeouts, the same run. Anything else, or a head start that failed, is rolled back and the step
reads as usual (a bad row is then reported by the step, as always). The checks, the hand-over to
the target steps and their commits are unchanged, so what Dagster reports and retries is the same:
only the reading began earlier. A head start nobody took is rolled back when the run ends.

This module and what it uses are free of Dagster, so the read starts before Dagster is imported.
"""
from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterator, Sequence

import pyarrow as pa

from .config import LoadedPipeline
from .config.models import SqlTarget
from .sources.files import expand_paths, file_stamps, read_files
from .streamed_load import Planned, StreamedLoad, Waiting, new_load, postgres_loads, stage
from .tables import StoredTable

THREAD_NAME = "etl-head-start"


class _Cancelled(Exception):
    pass


class HeadStart:
    """One source's read, with its targets' loads, running in a thread ahead of the run."""

    def __init__(self, run_id: str, loaded: LoadedPipeline, source: Any, paths: list[Path], targets: list[tuple[SqlTarget, Planned]]):
        self.run_id = run_id
        self.loaded = loaded
        self.source = source
        self.key = (loaded.config.pipeline, source.name)
        self.paths = paths
        self.stamps = file_stamps(paths)
        self.planned = [p for _, p in targets]
        self.loads = [new_load(run_id, t, p) for t, p in targets]
        self.began = time.monotonic()
        self.table: StoredTable | None = None
        self.error: BaseException | None = None
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._read, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            self.table = stage(self.key, self._chunks(), self.loads)
        except BaseException as exc:  # noqa: BLE001 - the step reads again and reports its own error
            self.error = exc

    def _chunks(self) -> Iterator[pa.Table]:
        for chunk in read_files(self.paths, self.source.format, self.source.options, stream=True):
            if self._cancel.is_set():
                raise _Cancelled()
            yield chunk

    def mismatch(self, loaded: LoadedPipeline, paths: Sequence[Path], planned: Sequence[Planned]) -> str | None:
        """Why the step cannot take this head start over (None: it can)."""
        if loaded.file != self.loaded.file or loaded.base_dir != self.loaded.base_dir or loaded.config != self.loaded.config:
            return "the pipeline's config changed"
        if list(paths) != self.paths:
            return "the source's files are not the ones it read"
        try:
            if file_stamps(paths) != self.stamps:
                return "a file changed after the read began"
        except OSError:
            return "a file changed after the read began"
        if list(planned) != self.planned:
            return "the targets to load differ"
        return None

    def result(self) -> tuple[StoredTable, list[StreamedLoad]]:
        """The staged table and the fed loads (waiting for the read); raises the read's error."""
        self._thread.join()
        if self.error is not None:
            raise self.error
        assert self.table is not None
        return self.table, self.loads

    @property
    def seconds_ahead(self) -> float:
        return time.monotonic() - self.began

    def abort(self) -> None:
        """Stop reading, roll the loads back, remove the staged table."""
        self._cancel.set()
        for load in self.loads:
            load.abort()
        self._thread.join()
        if self.table is not None:
            self.table.path.unlink(missing_ok=True)


_WAITING: Waiting[HeadStart] = Waiting()


def begin(pipeline: str, select: Sequence[str], partition: str | None, pipelines: Sequence[LoadedPipeline]) -> HeadStart | None:
    """Start the head start of a run of `pipeline` (one of the loaded `pipelines`), if it has one:
    no selection, no partition, a file source streaming into PostgreSQL targets."""
    if select or partition:
        return None
    loaded = next((p for p in pipelines if p.config.pipeline == pipeline), None)
    if loaded is None:
        return None
    try:
        for source in loaded.config.sources:
            if source.type != "file":
                continue
            targets = _postgres_targets(loaded, source.name)
            if targets:
                paths = expand_paths(source.path, loaded.base_dir)
                head = HeadStart(str(uuid.uuid4()), loaded, source, paths, targets)
                _WAITING.put((head.run_id, head.key), head)
                return head
    except Exception:  # noqa: BLE001 - no head start; the run reports any problem itself
        return None
    return None


def _postgres_targets(loaded: LoadedPipeline, source: str) -> list[tuple[SqlTarget, Planned]]:
    """The source's streamed targets in PostgreSQL, with the connection URLs as loading the config
    resolved them (the step compares them with what its resources resolve)."""
    connections = loaded.config.connections
    return postgres_loads(loaded, source, lambda t: (connections[t.connection].url, connections[t.connection].timeout_seconds))


def take(run_id: str, key: Sequence[str]) -> HeadStart | None:
    """The head start of this run's source `key`, if there is one (it is the caller's from now on)."""
    return _WAITING.take((run_id, tuple(key)))


def discard() -> None:
    """Roll back every head start nobody took (also done when the process exits)."""
    _WAITING.abort_all()
