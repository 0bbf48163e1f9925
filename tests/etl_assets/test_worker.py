"""etl_assets/worker.py: items handled in order in another thread; its error reaches the caller."""
from __future__ import annotations

import threading

import pytest

from etl_assets.worker import Worker


def test_items_are_handled_in_order_by_one_other_thread() -> None:
    seen: list[tuple[int, str]] = []
    worker: Worker[int] = Worker(lambda i: seen.append((i, threading.current_thread().name)), 2, "w")
    for i in range(100):
        worker.put(i)
    worker.close()
    assert [i for i, _ in seen] == list(range(100))
    assert {name for _, name in seen} == {"w"}
    worker.close()  # a second close does nothing


def test_an_error_is_raised_by_a_later_put_and_later_items_are_dropped() -> None:
    seen: list[int] = []

    def handle(i: int) -> None:
        if i == 3:
            raise ValueError("bad item 3")
        seen.append(i)

    worker: Worker[int] = Worker(handle, 1, "w")
    with pytest.raises(ValueError, match="bad item 3"):
        for i in range(1000):
            worker.put(i)
    worker.close()
    assert seen == [0, 1, 2]
    assert isinstance(worker.error, ValueError)
