"""Retrying transient errors of network calls with exponential backoff."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, TypeVar

T = TypeVar("T")

MAX_RETRY_AFTER_SECONDS = 300.0
"""A server asking to wait longer than this fails the call instead of blocking the run."""


class TransientError(Exception):
    """An error worth retrying (connection reset, timeout, HTTP 429/5xx); may carry Retry-After."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Backoff:
    """`retries` extra attempts, waiting base, 2*base, 4*base ... (at most max_seconds) in between."""

    retries: int = 3
    base_seconds: float = 1.0
    max_seconds: float = 60.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before attempt `attempt + 1` (attempt counts from 0)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), MAX_RETRY_AFTER_SECONDS)
        return min(self.base_seconds * (2**attempt), self.max_seconds)

    def call(
        self,
        fn: Callable[[], T],
        is_transient: Callable[[BaseException], bool],
        log: Callable[[str], None] = lambda _: None,
        what: str = "call",
        sleep: Callable[[float], None] = time.sleep,
    ) -> T:
        """Run fn; on a transient error wait and try again, up to `retries` times; re-raise the last."""
        attempt = 0
        while True:
            try:
                return fn()
            except Exception as exc:  # noqa: BLE001 - classified by is_transient
                if attempt >= self.retries or not is_transient(exc):
                    raise
                wait = self.delay(attempt, getattr(exc, "retry_after", None))
                log(f"{what} failed ({describe(exc)}); retry {attempt + 1}/{self.retries} in {wait:.1f}s")
                sleep(wait)
                attempt += 1


def describe(exc: BaseException) -> str:
    """`Type: message` (or only the type when there is no message)."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
