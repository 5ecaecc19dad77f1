"""The watchdog adapter: file-system events become hints on a queue, nothing more.

Handlers run on watchdog's observer thread, so they only enqueue and return; the daemon
re-stats and re-plans. Events are hints: duplicates are harmless, lost ones are caught by
the rescan (watchdog drops inotify overflows silently). When the kernel refuses more
watches (ENOSPC/EMFILE) the failure is reported once, with the numbers an operator needs.
"""

from __future__ import annotations

import enum
import errno
import os
import queue
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

log = structlog.get_logger(__name__)

# Our own reads open and close files: opened/closed-no-write events must not be watched.
WATCHED_EVENTS = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileClosedEvent,
    FileDeletedEvent,
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
]
WATCHES_SYSCTL = "/proc/sys/fs/inotify/max_user_watches"


class HintKind(enum.Enum):
    FILE = "file"  # a file may have changed (or appeared)
    GONE = "gone"  # a file or folder was deleted (or moved out of the mapping)
    MOVED_FROM = "moved_from"  # the source of a move within the mapping: not a delete
    DIR = "dir"  # a folder appeared (created or moved in): scan it whole
    ROOT = "root"  # the mapping's root itself went away or was replaced


@dataclass(frozen=True)
class Hint:
    """Something may have changed at `rel` under mapping `key`."""

    key: str  # mapping key
    rel: str  # relative path, "/"-separated ("" for the root)
    kind: HintKind


def _relative(root: str, path: str) -> str | None:
    if path == root:
        return None
    if not path.startswith(root + os.sep):
        return None
    return path[len(root) + 1 :].replace(os.sep, "/")


class HintHandler(FileSystemEventHandler):
    """Turns one mapping's events into hints on the daemon's queue."""

    def __init__(self, key: str, root: Path, hints: queue.Queue[Any]) -> None:
        self.key = key
        self.root = str(root)
        self.hints = hints

    def _put(self, path: str | bytes, kind: HintKind) -> None:
        rel = _relative(self.root, os.fsdecode(path))
        if rel is not None:
            self.hints.put(Hint(self.key, rel, kind))
        elif kind is not HintKind.FILE and os.fsdecode(path) == self.root:
            self.hints.put(Hint(self.key, "", HintKind.ROOT))

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_synthetic:
            return  # the contents of a moved-in folder: the scan of that folder covers them
        if isinstance(event, DirMovedEvent):
            self._put(event.src_path, HintKind.MOVED_FROM)
            self._put(event.dest_path, HintKind.DIR)
        elif isinstance(event, DirCreatedEvent):
            self._put(event.src_path, HintKind.DIR)
        elif isinstance(event, FileMovedEvent):
            self._put(event.src_path, HintKind.MOVED_FROM)
            self._put(event.dest_path, HintKind.FILE)  # an atomic save: the target changed
        elif isinstance(event, FileDeletedEvent | DirDeletedEvent):
            self._put(event.src_path, HintKind.GONE)
        elif not event.is_directory:
            self._put(event.src_path, HintKind.FILE)


class WatchSet:
    """One observer for all mappings; schedules and unschedules watches by mapping key."""

    def __init__(self, hints: queue.Queue[Any], observer_factory: Any = Observer) -> None:
        self.hints = hints
        self.observer = observer_factory()
        self.observer.daemon = True
        self.watches: dict[str, Any] = {}
        self.failed: set[str] = set()
        self.started = False

    def start(self) -> None:
        self.observer.start()
        self.started = True

    def add(self, key: str, root: Path, recursive: bool) -> bool:
        """Watch `root`; False (after one clear error) when the kernel refuses watches."""
        try:
            self.watches[key] = self.observer.schedule(
                HintHandler(key, root, self.hints),
                str(root),
                recursive=recursive,
                event_filter=WATCHED_EVENTS,
            )
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EMFILE, errno.ENOMEM):
                raise
            self.failed.add(key)
            report_watch_limit(root, recursive, exc)
            return False
        self.failed.discard(key)
        return True

    def check_health(self, roots: dict[str, tuple[Path, bool]]) -> None:
        """Report mappings whose watcher thread died (e.g. the watch limit was reached while
        adding a new subfolder); the periodic rescan keeps them in sync from then on."""
        for emitter in list(self.observer.emitters):
            if emitter.is_alive():
                continue
            for key, watch in list(self.watches.items()):
                if watch == emitter.watch and key not in self.failed:
                    self.failed.add(key)
                    root, recursive = roots.get(key, (Path(watch.path), True))
                    report_watch_limit(root, recursive, OSError(errno.ENOSPC, "watcher stopped"))

    def remove(self, key: str) -> None:
        watch = self.watches.pop(key, None)
        self.failed.discard(key)
        if watch is not None:
            try:
                self.observer.unschedule(watch)
            except (KeyError, OSError):
                pass

    def stop(self) -> None:
        if self.started:
            self.observer.stop()
            self.observer.join(timeout=5)


def count_dirs(root: Path, recursive: bool) -> int:
    if not recursive:
        return 1
    return sum(1 for _ in os.walk(root))


def report_watch_limit(root: Path, recursive: bool, exc: OSError) -> None:
    """One actionable error: how many folders, the current limit, the sysctl to raise."""
    try:
        limit = Path(WATCHES_SYSCTL).read_text().strip()
    except OSError:
        limit = "unknown"
    dirs = count_dirs(root, recursive)
    suggested = max(524288, dirs * 2)
    log.error(
        "watch.failed",
        mapping=str(root),
        error=os.strerror(exc.errno or 0),
        directories=dirs,
        max_user_watches=limit,
        hint=(
            f"inotify watch limit reached: {dirs} folders need watching and "
            f"fs.inotify.max_user_watches is {limit}; raise it with "
            f"`sysctl fs.inotify.max_user_watches={suggested}` (persist it in "
            f"/etc/sysctl.d/90-syncd.conf). Until then changes are picked up by the "
            f"periodic rescan only."
        ),
    )
