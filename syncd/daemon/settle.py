"""The settle gate: a file is handed on only after it has been quiet for `settle` seconds.

Quiet means no event for `settle` seconds *and* the same (size, mtime_ns, inode) on two
stats at least `settle` seconds apart (ownCloud's minimum file age plus Syncthing's
aggregation). Events only reset the clock, so duplicates cost nothing. Pure: the caller
passes the time and a stat function.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass

Stat = tuple[int, int, int]  # (size, mtime_ns, inode)


@dataclass
class _Pending:
    last_event: float
    snapshot: Stat | None
    snapshot_at: float


class SettleGate:
    def __init__(self, settle: float) -> None:
        self.settle = settle
        self._pending: dict[Hashable, _Pending] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._pending

    def touch(self, key: Hashable, now: float, stat: Stat | None) -> None:
        """Something happened to `key`: start (or restart) its quiet period."""
        self._pending[key] = _Pending(now, stat, now)

    def discard(self, key: Hashable) -> None:
        self._pending.pop(key, None)

    def clear(self, predicate: Callable[[Hashable], bool] | None = None) -> None:
        if predicate is None:
            self._pending.clear()
            return
        for key in [k for k in self._pending if predicate(k)]:
            del self._pending[key]

    def next_deadline(self) -> float | None:
        """When the earliest pending key may become due (None when nothing is pending)."""
        if not self._pending:
            return None
        return min(max(p.last_event, p.snapshot_at) + self.settle for p in self._pending.values())

    def due(self, now: float, stat: Callable[[Hashable], Stat | None]) -> list[Hashable]:
        """Keys that are settled now; they leave the gate. A key that is gone and stays
        gone is settled too (its deletion is the change)."""
        ready: list[Hashable] = []
        for key, p in list(self._pending.items()):
            if now < p.last_event + self.settle or now < p.snapshot_at + self.settle:
                continue
            current = stat(key)
            if current == p.snapshot:
                del self._pending[key]
                ready.append(key)
            else:  # still changing: take a new snapshot and wait another period
                p.snapshot, p.snapshot_at = current, now
        return ready
