"""When to try quarantined files again, in `syncd run`.

Each failed file waits until its back-off ends (the state store's `next_retry`). After an
outage the waiting would be needless: when an upload succeeds after at least two different
files failed for transient reasons with no success in between, those files are tried again
at once. Each file is fast-tracked at most once per series of failures, so a file that keeps
failing on a busy share still follows its back-off. Pure and thread-safe: time is passed in.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable

OUTAGE_MIN_FILES = 2


class RetryTimers:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._due: dict[Hashable, tuple[float, bool]] = {}
        self._streak: set[Hashable] = set()  # failed transiently since the last success
        self._fast_tracked: set[Hashable] = set()

    def __len__(self) -> int:
        with self._lock:
            return len(self._due)

    def schedule(self, key: Hashable, due: float, *, transient: bool) -> None:
        with self._lock:
            self._due[key] = (due, transient)

    def failed(self, key: Hashable, *, transient: bool) -> None:
        if transient:
            with self._lock:
                self._streak.add(key)

    def succeeded(self, key: Hashable, now: float) -> list[Hashable]:
        """An upload of `key` succeeded; return the files brought forward to `now`."""
        with self._lock:
            self._fast_tracked.discard(key)
            self._due.pop(key, None)
            streak, self._streak = self._streak - {key}, set()
            if len(streak) < OUTAGE_MIN_FILES:
                return []
            moved = []
            for k in streak:
                entry = self._due.get(k)
                if entry is None or k in self._fast_tracked or not entry[1] or entry[0] <= now:
                    continue
                self._due[k] = (now, True)
                self._fast_tracked.add(k)
                moved.append(k)
            return moved

    def next_due(self) -> float | None:
        with self._lock:
            return min((due for due, _ in self._due.values()), default=None)

    def pop_due(self, now: float) -> list[Hashable]:
        with self._lock:
            ready = [k for k, (due, _) in self._due.items() if due <= now]
            for k in ready:
                del self._due[k]
            return ready

    def discard(self, key: Hashable) -> None:
        with self._lock:
            self._due.pop(key, None)
            self._streak.discard(key)
            self._fast_tracked.discard(key)
