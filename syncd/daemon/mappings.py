"""The daemon's mappings: their watches, and the health of their local roots.

A mapping root that vanishes while the daemon runs (`mv share share.gone`, an unmounted
disk) must not be scanned as empty every hour: it is reported once (`mapping.failed`,
reason `local folder missing`), looked at every few seconds, and when it is back (or was
replaced by another folder) it is watched again and rescanned at once.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

from syncd.core.errors import MappingFailedError, RootUnavailable
from syncd.core.settings import Config, Mapping, WatchMode
from syncd.daemon.messages import ScanRequest
from syncd.local.fs import open_root
from syncd.local.fstype import filesystem_type, is_network

if TYPE_CHECKING:
    from syncd.daemon.settle import SettleGate
    from syncd.local.watcher import WatchSet
    from syncd.reconcile.root_marker import RootVerdict

log = structlog.get_logger(__name__)


class Mappings:
    def __init__(
        self,
        config: Config,
        fail: Callable[[Mapping, MappingFailedError], None],
        failed: dict[str, MappingFailedError],
    ) -> None:
        """`fail` reports a mapping failed (once); `failed` is where failures are kept."""
        self.by_key: dict[str, Mapping] = {m.key: m for m in config.mappings}
        self.fail, self.failed = fail, failed
        self.config = config
        self.identity: dict[str, tuple[int, int]] = {}
        self.local_failed: dict[str, str] = {}
        self.local_since: dict[str, float] = {}  # when the root went missing (wall clock)
        self.polled: dict[str, float] = {}  # mapping key -> when it is polled next

    def _identity(self, m: Mapping) -> tuple[int, int]:
        root = open_root(m.local)
        try:
            return (root.dev, root.ino)
        finally:
            root.close()

    def start_watching(self, m: Mapping, watches: WatchSet) -> None:
        try:
            self.identity[m.key] = self._identity(m)
        except RootUnavailable as exc:
            self.root_failed(m, exc.reason)
            return
        why = self._poll_reason(m)
        if why is None:
            watches.add(m.key, m.local, m.subfolders)
            return
        every = self.config.watch.poll_interval_seconds
        self.polled[m.key] = time.monotonic() + every
        log.info("watch.polling", mapping=str(m.local), every_seconds=every, reason=why)

    def _poll_reason(self, m: Mapping) -> str | None:
        """Why mapping `m` is polled instead of watched (None: it is watched)."""
        mode = self.config.watch.mode
        return poll_reason(mode, filesystem_type(m.local) if mode is WatchMode.AUTO else "")

    def due_polls(self, now: float) -> list[str]:
        """Polled mappings whose next poll is due (their timers move on)."""
        due = [k for k, t in self.polled.items() if t <= now and k not in self.local_failed]
        for k in due:
            self.polled[k] = now + self.config.watch.poll_interval_seconds
        return due

    def next_poll(self) -> float | None:
        return min(self.polled.values(), default=None)

    def root_failed(self, m: Mapping, reason: str) -> None:
        if m.key in self.local_failed:
            return
        self.local_failed[m.key] = reason
        self.local_since[m.key] = time.time()
        hint = f"syncd looks for {m.local} every few seconds and rescans it when it is back"
        self.fail(m, MappingFailedError(reason, hint=hint))

    def check_roots(
        self,
        watches: WatchSet,
        request: Callable[[ScanRequest], None],
        guard: Callable[[Mapping], RootVerdict],
    ) -> None:
        """Vanished, replaced or back? (`guard`: the delete guards on the root, if any.)"""
        for key, m in self.by_key.items():
            try:
                now = self._identity(m)
                problem = guard(m).problem if key in self.local_failed else None
            except RootUnavailable as exc:
                problem = exc.reason
            if problem is not None:
                if key not in self.local_failed:
                    watches.remove(key)
                    self.root_failed(m, problem)
                continue
            if key in self.local_failed or self.identity.get(key) != now:
                back = key in self.local_failed
                self.local_failed.pop(key, None)
                self.local_since.pop(key, None)
                self.failed.pop(key, None)
                self.identity[key] = now
                watches.remove(key)
                if key not in self.polled:
                    watches.add(key, m.local, m.subfolders)
                log.warning(
                    "mapping.recovered" if back else "mapping.replaced",
                    mapping=str(m.local),
                    action="watching and rescanning it",
                )
                request(
                    ScanRequest(
                        key, "", "local folder is back" if back else "local folder replaced"
                    )
                )

    def failures(self) -> dict[str, dict[str, object]]:
        """The mappings failing now, by key: local, reason, code, since (for `status`)."""
        out: dict[str, dict[str, object]] = {}
        for key, err in list(self.failed.items()):
            m = self.by_key.get(key)
            if m is not None:
                out[key] = {"local": str(m.local), "reason": err.reason, "code": err.code}
                out[key]["since"] = self.local_since.get(key, err.at)
        for key, reason in list(self.local_failed.items()):
            m = self.by_key.get(key)
            if m is not None and key not in out:
                since = self.local_since.get(key, 0.0)
                out[key] = {"local": str(m.local), "reason": reason, "code": "", "since": since}
        return out

    def reload(self, new: Config, watches: WatchSet, gate: SettleGate) -> tuple[int, int]:
        """Apply the mappings of a reloaded config; returns (added, removed)."""
        old = self.by_key
        old_keys, new_keys = set(old), {m.key for m in new.mappings}
        for key in old_keys - new_keys:
            watches.remove(key)
            gate.clear(functools.partial(_in_mapping, key=key))
            self.identity.pop(key, None)
            self.local_failed.pop(key, None)
            self.local_since.pop(key, None)
            self.polled.pop(key, None)
        self.by_key = {m.key: m for m in new.mappings}
        self.config = new
        for key, m in self.by_key.items():
            before = old.get(key)
            if before is not None and before.subfolders != m.subfolders:
                watches.remove(key)  # recursive or not: schedule the watch again
                self.polled.pop(key, None)
            if before is None or before.subfolders != m.subfolders:
                self.start_watching(m, watches)
        return len(new_keys - old_keys), len(old_keys - new_keys)


def poll_reason(mode: WatchMode, fs_kind: str) -> str | None:
    """Why a mapping on a `fs_kind` file system is polled under `watch.mode` (None: it is
    watched with inotify)."""
    if mode is WatchMode.EVENTS:
        return None
    if mode is WatchMode.POLL:
        return "watch.mode: poll"
    if is_network(fs_kind):
        return f"a {fs_kind} file system: writes by other machines raise no inotify event"
    return None


def _in_mapping(k: Any, *, key: str) -> bool:
    return bool(k[0] == key)
