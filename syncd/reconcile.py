"""The one reconcile loop that `sync` and `run` share: walk, read state, plan, yield actions.

A mapping (or a folder in it) is walked folder by folder; each folder's records are read
as the walk reaches it, so memory does not grow with the tree. For folders with files that
have no record, the remote folder is listed once (adoption); nothing else is asked of the
remote while planning. At the end of a walk that saw every folder, records of files that
are gone are dropped and refusals that no longer apply are cleared — never for anything
under a folder that could not be read.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import structlog

from syncd.actions import Action, ClearIssues, Forget, Mkdir, Reason, Upload
from syncd.config import Mapping
from syncd.errors import RemoteError
from syncd.executor import Executor
from syncd.model import Dentry, Issue, LocalFile
from syncd.planner import CaseGuard, Defer, case_refusal, decide, refuse, with_twin
from syncd.state import StateStore
from syncd.walk import FolderScan, Known, WalkCounters, walk

log = structlog.get_logger(__name__)

Planned = Action | Defer


@dataclass
class ScanReport:
    """What one walk saw; `complete` when every folder under its start could be read."""

    mapping: Mapping
    start: str
    counters: WalkCounters = field(default_factory=WalkCounters)
    seconds: float = 0.0
    vanished: list[str] = field(default_factory=list)  # records whose file is gone
    stale: list[str] = field(default_factory=list)  # records of entries that are no files now
    gone_dirs: list[str] = field(default_factory=list)  # recorded folders that are gone

    @property
    def complete(self) -> bool:
        return not self.counters.failed


def _under(start: str, path: str) -> bool:
    return not start or path == start or path.startswith(start + "/")


class Reconciler:
    def __init__(self, ex: Executor) -> None:
        self.ex = ex

    @property
    def state(self) -> StateStore:
        return self.ex.state

    def scan(self, m: Mapping, start: str, report: ScanReport) -> Iterator[Planned]:
        """Walk mapping `m` from folder `start` and yield what to do; `report` fills in."""
        started = time.monotonic()
        tree = self.ex.tree(m)
        issues = self.state.issues(m.key)
        by_folder: dict[str, list[str]] = {}
        for rel in issues:
            by_folder.setdefault(rel.rpartition("/")[0], []).append(rel.rpartition("/")[2])
        visited: set[str] = set()
        names: dict[str, list[str]] = {}

        def known_for(rel: str, ino: int) -> Known:
            visited.add(rel)
            k = self.state.known(m.key, rel)
            names[rel] = list(k)
            for name in by_folder.get(rel, ()):
                k.pop(name, None)  # a file with an issue is looked at every time
            return k

        seen_issues: set[str] = set()
        mkdirs: set[str] = set()
        for folder in walk(tree, start, known_for, report.counters):
            yield from self._folder(
                m, folder, issues, names.pop(folder.rel, []), seen_issues, mkdirs
            )
            report.vanished.extend(_join(folder.rel, n) for n in folder.vanished)
            report.stale.extend(_join(folder.rel, n) for n in folder.stale)
        report.seconds = time.monotonic() - started
        if report.complete:
            report.gone_dirs = [
                p for p in self.state.dirs(m.key) if p and _under(start, p) and p not in visited
            ]
            stale_issues = [p for p in issues if _under(start, p) and p not in seen_issues]
            if stale_issues:
                yield ClearIssues(m, tuple(stale_issues))

    def _folder(
        self,
        m: Mapping,
        scan: FolderScan,
        issues: dict[str, Issue],
        before: list[str],
        seen_issues: set[str],
        mkdirs: set[str],
    ) -> Iterator[Planned]:
        for r in scan.refusals:
            if r.rel_path in issues:
                seen_issues.add(r.rel_path)
            yield refuse(m, r, issues.get(r.rel_path))
        if not scan.files:
            return
        now = time.time()
        collisions = _collisions(scan, before)
        listing: dict[str, Dentry] | None = None
        listed = False
        for f in scan.files:
            issue = issues.get(f.rel_path)
            if issue is not None:
                seen_issues.add(f.rel_path)
            record = self.state.record(m.key, f.rel_path) if f.name in scan.recorded else None
            action = decide(m, f, record, issue, self.ex.policy, now)
            if isinstance(action, Upload) and action.reason is Reason.NEW:
                if (other := collisions.get(f.name)) is not None:
                    yield refuse(m, case_refusal(f, other), issue)
                    continue
                if not listed:
                    listing, listed = self._listing(m, scan.rel), True
                if listing is not None:
                    action = with_twin(action, listing.get(f.name), self.ex.policy)
            if action is not None:
                if isinstance(action, Upload):
                    yield from self._mkdirs(m, f, mkdirs)
                yield action

    def _listing(self, m: Mapping, folder: str) -> dict[str, Dentry] | None:
        """The remote folder's entries, for adoption; None in dry-run or when unreadable."""
        if self.ex.dry_run or self.ex.blocked_reason(m) is not None:
            return None
        try:
            return self.ex.remote().index.listing(self.ex.target(m), folder)
        except RemoteError as exc:
            log.warning(
                "remote.list_failed",
                mapping=str(m.local),
                folder=folder,
                error_code=exc.code,
                error=exc.message,
            )
            return None

    def _mkdirs(self, m: Mapping, f: LocalFile, done: set[str]) -> Iterator[Planned]:
        """Dry-run only: the remote folders an upload would create, each said once."""
        if not self.ex.dry_run or not f.folder or f.folder in done:
            return
        known = self.ex.remote_folders(m)
        parts = f.folder.split("/")
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            if sub not in done and sub not in known:
                done.add(sub)
                yield Mkdir(m, sub)
        done.add(f.folder)

    def finish(self, report: ScanReport) -> Iterator[Planned]:
        """After a walk: drop records of what is gone (deletes are not propagated here)."""
        m = report.mapping
        if not report.complete:
            return
        if report.vanished or report.stale or report.gone_dirs:
            paths = tuple(report.vanished + report.stale)
            yield Forget(m, paths, tuple(report.gone_dirs))

    def path(self, m: Mapping, rel: str) -> Iterator[Planned]:
        """Plan one path (the daemon's events): classify it and decide."""
        tree = self.ex.tree(m)
        entry = tree.classify(rel)
        issue = self.state.issue(m.key, rel)
        if entry is None:
            if issue is not None:
                yield ClearIssues(m, (rel,))
            return
        if not isinstance(entry, LocalFile):
            yield refuse(m, entry, issue)
            return
        record = self.state.record(m.key, rel)
        action = decide(m, entry, record, issue, self.ex.policy, time.time())
        if isinstance(action, Upload) and action.reason is Reason.NEW:
            guard = CaseGuard()
            for name in sorted(self.state.known(m.key, entry.folder)):
                guard.claim(name)
            if (other := guard.claim(entry.name)) is not None:
                yield refuse(m, case_refusal(entry, other), issue)
                return
            listing = self._listing(m, entry.folder)
            if listing is not None:
                action = with_twin(action, listing.get(entry.name), self.ex.policy)
        if action is not None:
            yield action


def _collisions(scan: FolderScan, before: list[str]) -> dict[str, str]:
    """New names in a folder that differ only in case from a recorded name, or from a new
    name that sorts first: name -> the name it collides with."""
    new = sorted(f.name for f in scan.files if f.name not in scan.recorded)
    if not new:
        return {}
    guard = CaseGuard()
    vanished = set(scan.vanished)
    for name in sorted(n for n in before if n not in vanished):
        guard.claim(name)
    return {name: other for name in new if (other := guard.claim(name)) is not None}


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name
