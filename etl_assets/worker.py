"""A thread that handles items in order while the caller produces the next ones (the caller's
work and the handler's overlap where either runs without the GIL)."""
from __future__ import annotations

import queue
import threading
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class Worker(Generic[T]):
    """Runs `handle` on each item `put`, in order, in one thread; at most `depth` items wait.

    An error of `handle` is raised by the next `put` (and kept in `error`); the items after it
    are dropped. `close` waits for the items before it."""

    def __init__(self, handle: Callable[[T], None], depth: int, name: str):
        self._handle = handle
        self._queue: queue.Queue[tuple[T] | None] = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while (item := self._queue.get()) is not None:
                self._handle(item[0])
        except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
            self.error = exc
            while self._queue.get() is not None:  # keep put() from blocking
                pass

    def put(self, item: T) -> None:
        if self.error is not None:
            raise self.error
        self._queue.put((item,))

    def close(self) -> None:
        """Wait until every item put so far is handled (or dropped after an error)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
