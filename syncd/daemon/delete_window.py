"""The daemon's delete windows: in `run`, a rm -rf arrives as many small scans (one per
folder the events name), so the delete guards count over a sliding window rather than per
pass (product §4.8). The window is at least the rescan interval or an hour, whichever is
longer; its base is the mapping's size when the window opened. Past a limit, every delete
of the window is held, and the guard speaks once per window (one `deletes.blocked`).

This module only keeps the counts; the pure guard (`plan.guards.window_block`) decides from
them, as values.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from syncd.plan.guards import WindowCounts

MIN_WINDOW = 3600.0


def window_seconds(rescan_interval: float) -> float:
    return max(rescan_interval, MIN_WINDOW)


@dataclass
class _Window:
    base: int
    trashed: deque[tuple[float, int]] = field(default_factory=deque)  # (when, files)
    held_until: float = 0.0  # a guard held the window's deletes until then

    def expire(self, now: float, length: float) -> None:
        while self.trashed and self.trashed[0][0] <= now - length:
            self.trashed.popleft()

    @property
    def deleted(self) -> int:
        return sum(n for _, n in self.trashed)

    def open(self, now: float) -> bool:
        return bool(self.trashed) or self.held_until > now


class DeleteWindows:
    """Per mapping key: the deletes carried out and the holds of the current window.
    `length()` gives the window's length now (the config may be reloaded)."""

    def __init__(self, length: Callable[[], float]) -> None:
        self.length = length
        self._windows: dict[str, _Window] = {}

    def _current(self, key: str, total: int, now: float) -> _Window:
        w = self._windows.get(key)
        if w is not None:
            w.expire(now, self.length())
            if not w.open(now):
                w = None
        if w is None:  # a new window opens: its base is the mapping's size now
            w = self._windows[key] = _Window(total)
        return w

    def counts(self, key: str, total: int, now: float) -> WindowCounts:
        """The window's counts for the guard; `total`: the mapping's recorded files now."""
        w = self._current(key, total, now)
        return WindowCounts(w.deleted, w.base, held=w.held_until > now)

    def trashed(self, key: str, files: int, now: float) -> None:
        if files:
            w = self._windows.get(key)
            if w is None:
                w = self._windows[key] = _Window(files)
            w.trashed.append((now, files))

    def held(self, key: str, now: float) -> bool:
        """A guard held deletes of mapping `key`: True when this opens the hold (say so),
        False when the window's hold was already said."""
        w = self._windows.setdefault(key, _Window(0))
        first = w.held_until <= now
        if first:
            w.held_until = now + self.length()
        return first

    def forget(self, key: str) -> None:
        self._windows.pop(key, None)
