"""Per-path claims in the daemon: one upload per path at a time, and nothing lost.

A path is *in flight* while a worker has it. An event (or a scan) that finds it in flight
marks it *dirty* instead of queueing a second upload; when the worker is done, a dirty path
goes back through the settle gate, so the newest content is looked at once more.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable


class Claims:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inflight: set[Hashable] = set()
        self._dirty: set[Hashable] = set()

    def __len__(self) -> int:
        with self._lock:
            return len(self._inflight)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._inflight

    def claim(self, key: Hashable) -> bool:
        """Take `key` for a worker; False (and marked dirty) when one already has it."""
        with self._lock:
            if key in self._inflight:
                self._dirty.add(key)
                return False
            self._inflight.add(key)
            return True

    def unclaim(self, key: Hashable) -> None:
        """Give back a claim that was never worked on (the queue was full)."""
        with self._lock:
            self._inflight.discard(key)

    def release(self, key: Hashable) -> bool:
        """The worker is done with `key`; True when it changed meanwhile (look again)."""
        with self._lock:
            self._inflight.discard(key)
            again = key in self._dirty
            self._dirty.discard(key)
            return again
