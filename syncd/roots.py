"""The daemon's mappings: their watches, and the health of their local roots.

A mapping root that vanishes while the daemon runs (`mv share share.gone`, an unmounted
disk) must not be scanned as empty every hour: it is reported once (`mapping.failed`,
reason `local folder missing`), looked at every few seconds, and when it is back (or was
replaced by another folder) it is watched again and rescanned at once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

from syncd.config import Config, Mapping
from syncd.errors import MappingFailedError
from syncd.localfs import RootUnavailable, open_root

if TYPE_CHECKING:
    from syncd.daemon_scan import Scanner
    from syncd.executor import Executor
    from syncd.settle import SettleGate
    from syncd.watcher import WatchSet

log = structlog.get_logger(__name__)


class Mappings:
    def __init__(self, config: Config, ex: Executor) -> None:
        self.by_key: dict[str, Mapping] = {m.key: m for m in config.mappings}
        self.ex = ex
        self.identity: dict[str, tuple[int, int]] = {}
        self.local_failed: dict[str, str] = {}

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
        watches.add(m.key, m.local, m.subfolders)

    def root_failed(self, m: Mapping, reason: str) -> None:
        if m.key in self.local_failed:
            return
        self.local_failed[m.key] = reason
        hint = f"syncd looks for {m.local} every few seconds and rescans it when it is back"
        self.ex.mapping_failed(m, MappingFailedError(reason, hint=hint))

    def check_roots(
        self, watches: WatchSet, scanner: Scanner, guard: Callable[[Mapping], str | None]
    ) -> None:
        """Vanished, replaced or back? (`guard`: the delete guards on the root, if any.)"""
        from syncd.daemon_scan import ScanRequest

        for key, m in self.by_key.items():
            try:
                now = self._identity(m)
                problem = guard(m) if key in self.local_failed else None
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
                self.ex.failed_mappings.pop(key, None)
                self.identity[key] = now
                watches.remove(key)
                watches.add(key, m.local, m.subfolders)
                log.warning(
                    "mapping.recovered" if back else "mapping.replaced",
                    mapping=str(m.local),
                    action="watching and rescanning it",
                )
                scanner.request(
                    ScanRequest(
                        key, "", "local folder is back" if back else "local folder replaced"
                    )
                )

    def reload(self, new: Config, watches: WatchSet, gate: SettleGate) -> tuple[int, int]:
        """Apply the mappings of a reloaded config; returns (added, removed)."""
        old = self.by_key
        old_keys, new_keys = set(old), {m.key for m in new.mappings}
        for key in old_keys - new_keys:
            watches.remove(key)
            gate.clear(functools.partial(_in_mapping, key=key))
            self.identity.pop(key, None)
            self.local_failed.pop(key, None)
        self.by_key = {m.key: m for m in new.mappings}
        for key, m in self.by_key.items():
            before = old.get(key)
            if before is not None and before.subfolders != m.subfolders:
                watches.remove(key)  # recursive or not: schedule the watch again
            if before is None or before.subfolders != m.subfolders:
                self.start_watching(m, watches)
        return len(new_keys - old_keys), len(old_keys - new_keys)


def _in_mapping(k: Any, *, key: str) -> bool:
    return bool(k[0] == key)
