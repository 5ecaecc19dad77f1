"""What the action handlers share: the state store, the remote (built on first need), the
trees, the counters, and the bookkeeping every handler does the same way.

Failures are bookkept here: a mapping whose remote root is missing or forbidden fails once,
not per file; rejected credentials stop everything (`fatal`); a state store that cannot
record stops uploads (`state_broken`: nothing is uploaded that cannot be recorded), and what
was committed meanwhile is kept to be recorded first when the store works again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog

from syncd.core.actions import Outcome, Resolution
from syncd.core.errors import MappingFailedError, StateError
from syncd.core.model import LocalFile, Record
from syncd.core.settings import Config, Mapping
from syncd.execute.concurrency import AdaptiveLimit
from syncd.local.fs import LocalTree
from syncd.local.trees import Trees
from syncd.obs.progress import Progress
from syncd.obs.stats import Stats
from syncd.plan.decide import Policy, policy_of
from syncd.remote.folders import Target
from syncd.state.store import StateStore

if TYPE_CHECKING:
    from syncd.remote.facade import Remote

log = structlog.get_logger(__name__)

RemoteFactory = Callable[[], "Remote"]


class Context:
    def __init__(
        self,
        config: Config,
        state: StateStore,
        *,
        daemon: bool = False,
        remote_factory: RemoteFactory | None = None,
        progress: Progress | None = None,
        stats: Stats | None = None,
    ) -> None:
        """`daemon`: the daemon's policy (quarantines honoured, new empty files wait)."""
        self.state = state
        self.daemon = daemon
        self.progress = progress or Progress()
        self.stats = stats or Stats()
        self.trees = Trees(config)
        self.fatal: BaseException | None = None  # rejected credentials stop everything
        self.state_broken: StateError | None = None
        # committed while the store could not record them: written first when it can again
        # (`record_pending`), so a committed file is never uploaded again as new
        self.unrecorded: list[tuple[str, Record]] = []
        self.stopping = threading.Event()  # a stop was requested: queued work is abandoned
        self.failed_mappings: dict[str, MappingFailedError] = {}
        # mappings whose remote space has no folder API: only their root files are sent
        self.failed_subfolders: dict[str, MappingFailedError] = {}
        # `syncd resolve` requests, by (mapping key, path): taken by the file's next upload
        self.resolutions: dict[tuple[str, str], Resolution] = {}
        self._remote_factory = remote_factory
        self._remote: Remote | None = None
        self._setup = threading.Lock()
        self.concurrency = AdaptiveLimit(config.sync.workers, config.dingtalk.qps)
        self.reconfigure(config)

    # -- configuration and the lazily built remote side --------------------------------
    def reconfigure(self, config: Config) -> None:
        """Apply a (reloaded) config; a new client when the DingTalk settings changed."""
        old = getattr(self, "config", None)
        self.config = config
        self.policy: Policy = policy_of(config, daemon=self.daemon)
        self.trees.reconfigure(config)
        with self._setup:
            if old is not None and config.dingtalk != old.dingtalk and self._remote is not None:
                self._remote = None  # uploads in flight finish on the old one

    def remote(self) -> Remote:
        """The remote side, built on first need (imports requests only then: a pass over
        unchanged files never pays for it)."""
        with self._setup:
            if self._remote is None:
                if self._remote_factory is not None:
                    self._remote = self._remote_factory()
                else:
                    from syncd.remote.facade import build_remote

                    self._remote = build_remote(self.config, self.state, self.stats)
            return self._remote

    def has_remote(self) -> bool:
        return self._remote is not None

    def close(self) -> None:
        if self._remote is not None:
            self._remote.close()

    @staticmethod
    def target(m: Mapping) -> Target:
        return Target(m.key, m.parent_dentry_uuid)

    def tree(self, m: Mapping) -> LocalTree:
        return self.trees.of(m)

    def mapping(self, key: str) -> Mapping | None:
        """The configured mapping whose key is `key` (None: no longer configured)."""
        return next((m for m in self.config.mappings if m.key == key), None)

    def blocked_reason(self, m: Mapping, folder: str = "") -> Outcome | None:
        """Why nothing may be sent for mapping `m` (into its subfolder `folder`) right now
        (None: go ahead)."""
        if self.fatal is not None or self.stopping.is_set() or self.state_broken is not None:
            return Outcome.ABANDONED
        if m.key in self.failed_mappings:
            return Outcome.ABANDONED
        if folder and m.key in self.failed_subfolders:
            return Outcome.ABANDONED
        return None

    # -- bookkeeping -------------------------------------------------------------------
    def write(self, what: str, fn: Callable[[], object]) -> bool:
        """Run one state write; a failure stops uploads with one clear error."""
        try:
            fn()
            return True
        except StateError as exc:
            self.state_failed(exc, what)
            return False

    def state_failed(self, exc: StateError, what: str = "") -> None:
        """The state store cannot record: stop uploads (one `state.write_failed`)."""
        if self.state_broken is not None:
            return
        self.state_broken = exc
        log.error(
            "state.write_failed",
            path=str(self.state.path),
            error=str(exc),
            **({"writing": what} if what else {}),
            action="uploads stop until the state store can record them",
        )

    def mapping_failed(self, m: Mapping, err: MappingFailedError) -> None:
        if m.key in self.failed_mappings:
            return
        self.failed_mappings[m.key] = err
        log.error(
            "mapping.failed",
            mapping=str(m.local),
            parent_dentry_uuid=m.parent_dentry_uuid,
            reason=err.reason,
            **({"error_code": err.code} if err.code else {}),
            **({"hint": err.hint} if err.hint else {}),
        )

    def subfolders_failed(self, m: Mapping, err: MappingFailedError) -> None:
        """Mapping `m`'s subfolders cannot be made remotely: one `mapping.failed`, then its
        subfolder files wait quietly (its root files go on)."""
        if m.key in self.failed_subfolders:
            return
        self.failed_subfolders[m.key] = err
        log.error(
            "mapping.failed",
            mapping=str(m.local),
            parent_dentry_uuid=m.parent_dentry_uuid,
            reason=err.reason,
            scope="subfolders",
            capability="add_folder",
            **({"error_code": err.code} if err.code else {}),
            **({"hint": err.hint} if err.hint else {}),
        )

    def record(
        self, m: Mapping, f: LocalFile, sha: str, uuid: str, dentry_id: str, version: int
    ) -> bool:
        rec = Record(
            f.rel_path, f.size, f.mtime_ns, f.inode, sha, uuid, dentry_id, version, time.time()
        )
        if self.write("record", lambda: self.state.put_record(m.key, rec)):
            return True
        self.unrecorded.append((m.key, rec))
        return False

    def record_pending(self) -> None:
        """Write the records of commits made while the store failed (raises StateError)."""
        while self.unrecorded:
            key, rec = self.unrecorded[0]
            self.state.put_record(key, rec)
            self.unrecorded.pop(0)
