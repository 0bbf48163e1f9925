"""Failed-login limits per client address and per user name (sliding windows, in memory)."""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable

from .settings import RateLimit

MAX_KEYS = 100_000


class SlidingWindow:
    """Counts events per key over the last `window_seconds`."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self._clock = clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> float:
        """Seconds until the key may try again; 0 when it may now."""
        with self._lock:
            events = self._prune(key)
            if len(events) < self.limit.attempts:
                return 0.0
            return max(0.0, events[0] + self.limit.window_seconds - self._clock())

    def hit(self, key: str) -> None:
        with self._lock:
            if len(self._events) >= MAX_KEYS:
                self._events = {k: v for k, v in self._events.items() if v and v[-1] > self._clock() - self.limit.window_seconds}
            self._prune(key).append(self._clock())

    def reset(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)

    def _prune(self, key: str) -> deque[float]:
        events = self._events.setdefault(key, deque())
        horizon = self._clock() - self.limit.window_seconds
        while events and events[0] <= horizon:
            events.popleft()
        return events


class LoginGuard:
    """Blocks an address or a user name after too many failed logins; a success clears the user's count."""

    def __init__(self, per_user: RateLimit, per_ip: RateLimit, clock: Callable[[], float] = time.monotonic):
        self.users = SlidingWindow(per_user, clock)
        self.ips = SlidingWindow(per_ip, clock)

    def retry_after(self, ip: str, user: str) -> float:
        return max(self.ips.retry_after(ip), self.users.retry_after(user))

    def failed(self, ip: str, user: str) -> None:
        self.ips.hit(ip)
        self.users.hit(user)

    def succeeded(self, user: str) -> None:
        self.users.reset(user)
