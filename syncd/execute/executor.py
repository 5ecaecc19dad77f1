"""Carry out one action. The only writer of records and issues, the only place that logs
the canonical per-file line, and the one dry-run switch.

Dry-run: every action is printed (`plan.*`) and nothing is done — no request, no state
write. Otherwise each action returns an `Outcome`. Failures are bookkept here: a file that
fails is quarantined with escalating back-off; a refusal is reported once per version of
the file; a mapping whose remote root is missing or forbidden fails once, not per file;
rejected credentials stop everything; a state store that cannot record an upload stops
uploads (nothing is uploaded that cannot be recorded).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

from syncd.core.actions import (
    Action,
    Adopt,
    Blocked,
    ClearIssues,
    Defer,
    Forget,
    Hold,
    Outcome,
    Refuse,
    ResolveRemoteChange,
    Reupload,
    Touch,
    Upload,
    Verify,
)
from syncd.core.errors import MappingFailedError, StateError
from syncd.core.model import Issue, IssueKind, LocalFile, Record
from syncd.core.settings import Config, Mapping
from syncd.execute.concurrency import AdaptiveLimit
from syncd.execute.dry_run import print_plan
from syncd.local.fs import LocalTree
from syncd.obs.progress import Progress
from syncd.obs.stats import Stats
from syncd.plan.decide import NEW_EMPTY_WAIT, Policy
from syncd.remote.folders import Target
from syncd.state.store import StateStore

if TYPE_CHECKING:
    from syncd.remote.facade import Remote

log = structlog.get_logger(__name__)

RemoteFactory = Callable[[], "Remote"]


def remote_path(m: Mapping, rel: str) -> str:
    return f"{m.parent_dentry_uuid}/{rel}"


def tree_of(m: Mapping, config: Config) -> LocalTree:
    from syncd.core.filters import ExcludeRules
    from syncd.plan.guards import MARKER

    reserved = frozenset({MARKER, config.sync.trash_folder})
    excludes = ExcludeRules(m.exclude)
    return LocalTree(m.local, excludes, m.subfolders, config.sync.follow_symlinks, reserved)


def policy_of(config: Config, *, daemon: bool) -> Policy:
    """The planner's policy. The daemon honours quarantines (an explicit `sync` retries
    failures) and lets a new empty file wait for its content (writers that stall)."""
    return Policy(
        allow_empty_overwrite=config.sync.allow_empty_overwrite,
        honour_quarantine=daemon,
        adopt=config.sync.adopt,
        on_remote_change=config.sync.on_remote_change,
        new_empty_wait=max(config.sync.settle_seconds, NEW_EMPTY_WAIT) if daemon else 0.0,
    )


class Executor:
    def __init__(
        self,
        config: Config,
        state: StateStore,
        *,
        dry_run: bool = False,
        honour_quarantine: bool = True,
        remote_factory: RemoteFactory | None = None,
        progress: Progress | None = None,
        stats: Stats | None = None,
    ) -> None:
        self.state = state
        self.dry_run = dry_run
        self.honour_quarantine = honour_quarantine
        self.progress = progress or Progress()
        self.stats = stats or Stats()
        self.fatal: BaseException | None = None  # rejected credentials stop everything
        self.state_broken: StateError | None = None
        # committed while the store could not record them: written first when it can again
        # (`record_pending`), so a committed file is never uploaded again as new
        self.unrecorded: list[tuple[str, Record]] = []
        self.stopping = threading.Event()  # a stop was requested: queued work is abandoned
        self.failed_mappings: dict[str, MappingFailedError] = {}
        self._remote_factory = remote_factory
        self._remote: Remote | None = None
        self._setup = threading.Lock()
        self.concurrency = AdaptiveLimit(config.sync.workers, config.dingtalk.qps)
        self._planned: dict[tuple[str, str], tuple[int, int]] = {}  # dry-run: said once
        self._remote_folders: dict[str, set[str]] = {}  # dry-run: folders known remotely
        self.reconfigure(config)
        self._handlers = self._dispatch_table()

    def _dispatch_table(self) -> dict[type, Callable[[Any], Outcome]]:
        """Which method carries out each kind of action."""
        from syncd.execute.files import FileActions
        from syncd.execute.tree import TreeActions

        self.files = FileActions(self)
        self.tree_actions = TreeActions(self)
        handlers: dict[type, Callable[[Any], Outcome]] = {
            Upload: self.files.upload,
            Reupload: self.files.reupload,
            ResolveRemoteChange: self.files.resolve,
            Verify: self.files.verify,
            Touch: self.files.touch,
            Adopt: self.files.adopt,
            Refuse: self.refuse,
            Hold: self.hold,
            Defer: lambda a: Outcome.DEFERRED,
            Forget: self.forget,
            ClearIssues: self.clear,
            Blocked: self.tree_actions.blocked,
        }
        return handlers | self.tree_actions.handlers()

    # -- configuration and the lazily built remote side --------------------------------
    def reconfigure(self, config: Config) -> None:
        """Apply a (reloaded) config; a new client when the DingTalk settings changed."""
        old = getattr(self, "config", None)
        self.config = config
        self.policy = policy_of(config, daemon=self.honour_quarantine)
        self.trees = {m.key: tree_of(m, config) for m in config.mappings}
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
        return self.trees.get(m.key) or tree_of(m, self.config)

    # -- the one entry point -----------------------------------------------------------
    def execute(self, action: Action | Defer) -> Outcome:
        if self.dry_run:
            return print_plan(self, action)
        return self._handlers[type(action)](action)

    def blocked_reason(self, m: Mapping) -> Outcome | None:
        """Why nothing may be sent for mapping `m` right now (None: go ahead)."""
        if self.fatal is not None or self.stopping.is_set() or self.state_broken is not None:
            return Outcome.ABANDONED
        if m.key in self.failed_mappings:
            return Outcome.ABANDONED
        return None

    # -- bookkeeping shared by the file actions ----------------------------------------
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

    def refuse(self, a: Refuse) -> Outcome:
        r = a.refusal
        if a.report:
            if self.dry_run:
                from syncd.obs.plan_lines import flush

                flush()
            log.warning(
                "upload.skipped",
                mapping=str(a.mapping.local),
                path=r.rel_path,
                reason=r.reason,
                **({"rule": r.detail} if r.detail else {}),
            )
            issue = Issue(
                r.rel_path,
                IssueKind.REFUSED,
                r.reason,
                r.size,
                r.mtime_ns,
                message=r.detail,
                ctime_ns=r.ctime_ns,
            )
            self.write("refusal", lambda: self.state.put_issue(a.mapping.key, issue))
        self.stats.add(refused=1)  # after the store: a scrape never sees it ahead of the gauge
        return Outcome.REFUSED

    def hold(self, a: Hold) -> Outcome:
        if a.report:
            log.warning(
                "upload.skipped",
                mapping=str(a.mapping.local),
                path=a.file.rel_path,
                reason=a.reason,
                **({"hint": a.hint} if a.hint else {}),
            )
            issue = Issue(a.file.rel_path, IssueKind.HELD, a.reason, a.file.size, a.file.mtime_ns)
            self.write("hold", lambda: self.state.put_issue(a.mapping.key, issue))
        self.stats.add(held=1)
        return Outcome.HELD

    def forget(self, a: Forget) -> Outcome:
        def drop() -> None:
            for folder in a.folders:
                self.state.forget_dir(a.mapping.key, folder)
            if a.paths:
                self.state.forget(a.mapping.key, a.paths)

        if self.write("forget", drop):
            log.debug(
                "records.forgotten",
                mapping=str(a.mapping.local),
                files=len(a.paths),
                folders=len(a.folders),
                why=a.why,
            )
        return Outcome.FORGOTTEN

    def clear(self, a: ClearIssues) -> Outcome:
        self.write("issues", lambda: self.state.clear_issues(a.mapping.key, a.paths))
        log.debug("issues.cleared", mapping=str(a.mapping.local), paths=len(a.paths))
        return Outcome.UNCHANGED

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

    def dry_memo(self, m: Mapping, f: LocalFile) -> bool:
        """Dry-run: True the first time this version of a file is planned (no repeats on
        the daemon's rescans); the memo is emptied at every full rescan."""
        memo = (m.key, f.rel_path)
        if self._planned.get(memo) == (f.size, f.mtime_ns):
            return False
        self._planned[memo] = (f.size, f.mtime_ns)
        return True

    def remote_folders(self, m: Mapping) -> set[str]:
        """Dry-run: the remote folders the state knows, loaded once per mapping per round."""
        known = self._remote_folders.get(m.key)
        if known is None:
            known = self._remote_folders[m.key] = set(self.state.folders(m.key))
        return known

    def new_round(self) -> None:
        self._planned.clear()
        self._remote_folders.clear()
