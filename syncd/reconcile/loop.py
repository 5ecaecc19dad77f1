"""The one reconcile loop that `sync` and `run` share: walk x records (x listings) ->
actions. It yields, it never executes, and it writes nothing.

A mapping (or a folder in it) is walked folder by folder; each folder's records are read
as the walk reaches it, so memory does not grow with the tree. A folder that is a recorded
folder renamed or moved is handed to the driver's `move_folder` at once (one remote call),
and its outcome decides where its records are read from. For folders with files that have
no record, the remote folder is listed once (adoption), and a new file that is a recorded
file moved becomes a remote move. After a walk that saw every folder, `plan/deletes.py`
decides what becomes of what is gone. State is read through the `Records` port, listings
through `Listings`; bookkeeping (a folder's inode) is yielded as actions.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from syncd.core.actions import (
    Action,
    Blocked,
    ClearIssues,
    FolderInode,
    ForgetMapping,
    Mkdir,
    MoveFolder,
    Outcome,
    PurgeTrash,
    Reason,
    Upload,
)
from syncd.core.errors import NotAskedError, RemoteError
from syncd.core.model import Dentry, DirRow, Issue, Known, LocalFile
from syncd.core.settings import Config, DeleteMode, Mapping, RenameMode
from syncd.local.fs import display
from syncd.local.trees import Trees
from syncd.local.walk import FolderScan, WalkCounters, walk
from syncd.local.walk_forked import walk_forked
from syncd.local.walk_shared import walk_shared
from syncd.plan.decide import (
    CaseGuard,
    Policy,
    case_refusal,
    decide,
    move_action,
    policy_of,
    refuse,
    with_twin,
)
from syncd.plan.deletes import Gone, plan_deletes
from syncd.plan.guards import DeleteLimits, WindowCounts
from syncd.plan.ports import Listings, Records, ScanOptions
from syncd.reconcile.helper_records import HelperRecords
from syncd.reconcile.moves import MoveFinder
from syncd.reconcile.root_marker import RootVerdict, check_root

log = structlog.get_logger(__name__)

Planned = Action
MoveFolderPort = Callable[[MoveFolder], Outcome]  # carries a folder move out at once


@dataclass
class ScanReport:
    """What one walk saw; `complete` when every folder under its start could be read."""

    mapping: Mapping
    start: str
    counters: WalkCounters = field(default_factory=WalkCounters)
    seconds: float = 0.0
    gone: Gone = field(default_factory=Gone)

    @property
    def complete(self) -> bool:
        return not self.counters.failed and not self.counters.stalled


def _under(start: str, path: str) -> bool:
    return not start or path == start or path.startswith(start + "/")


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


@dataclass
class _Walk:
    """One walk's bookkeeping."""

    m: Mapping
    report: ScanReport
    issues: dict[str, Issue]
    dirs: dict[str, DirRow]
    finder: MoveFinder
    by_folder: dict[str, list[str]] = field(default_factory=dict)
    visited: set[str] = field(default_factory=set)
    names: dict[str, list[str]] = field(default_factory=dict)
    renamed: dict[str, str] = field(default_factory=dict)  # dry-run: new prefix -> old
    seen_issues: set[str] = field(default_factory=set)
    notes: list[Action] = field(default_factory=list)  # bookkeeping for the driver to do

    def take_notes(self) -> list[Action]:
        notes, self.notes = self.notes, []
        return notes

    def old_path(self, rel: str) -> str:
        for new, old in self.renamed.items():
            if rel == new or rel.startswith(new + "/"):
                return old + rel[len(new) :]
        return rel


class Reconciler:
    def __init__(
        self,
        config: Config,
        records: Records,
        trees: Trees,
        listings: Listings,
        move_folder: MoveFolderPort,
        options: ScanOptions | None = None,
    ) -> None:
        self.records = records
        self.trees = trees
        self.listings = listings
        self.move_folder = move_folder
        self.options = options or ScanOptions()
        self.unshared: set[str] = set()  # mappings whose last helper stalled: walk alone
        self.reconfigure(config)

    def reconfigure(self, config: Config) -> None:
        self.config = config
        self.policy = policy_of(config, daemon=self.options.daemon)

    def scan(self, m: Mapping, start: str, report: ScanReport) -> Iterator[Planned]:
        """Walk mapping `m` from folder `start` and yield what to do; `report` fills in."""
        started = time.monotonic()
        dirs = self.records.dirs(m.key)
        finder = MoveFinder(
            self.records,
            self.trees,
            m,
            dirs,
            enabled=self.config.sync.renames is RenameMode.MOVE,
            by_content=not start and self.options.content_moves,
        )
        w = _Walk(m, report, self.records.issues(m.key), dirs, finder)
        for issue_path in w.issues:
            parent, _, name = issue_path.rpartition("/")
            w.by_folder.setdefault(parent, []).append(name)
        tree = self.trees.of(m)
        for scan in self._walk(w, start):
            yield from w.take_notes()
            yield from self._folder(w, scan)
            gone = report.gone
            for name in scan.vanished:  # deleted, or excluded now (excluded is not deleted)
                path = _join(w.old_path(scan.rel), name)
                (gone.vanished if tree.file_allowed(path) else gone.stale).append(path)
            gone.stale.extend(_join(w.old_path(scan.rel), n) for n in scan.stale)
            gone.refused.update((r.inode, (r.size, r.mtime_ns)) for r in scan.refusals if r.inode)
        yield from w.take_notes()
        yield from finder.release(report.gone, report.complete)
        report.seconds = time.monotonic() - started
        if report.counters.stalled:
            self.unshared.add(m.key)  # the retry walks alone
        moving = report.counters.moving
        if moving:  # renamed or moved while the walk ran: what is under them is not gone
            log.info(
                "scan.folders_moving",
                mapping=str(m.local),
                folders=[display(p) for p in moving[:5]],
                count=len(moving),
                action="nothing under them is deleted; the next scan pairs their moves",
            )
            held = {p for p in report.gone.vanished if any(_under(d, p) for d in moving)}
            report.gone.vanished = [p for p in report.gone.vanished if p not in held]
        if report.complete:
            olds = set(w.renamed.values())
            reserved = self.trees.of(m).reserved  # the trash is remote-only: never "gone"
            unseen = [
                p
                for p in w.dirs
                if p
                and _under(start, p)
                and p not in w.visited
                and p.split("/", 1)[0] not in reserved
                and not any(p == o or p.startswith(o + "/") for o in olds)
                and not any(_under(d, p) for d in moving)
            ]
            report.gone.dirs = [p for p in unseen if tree.folder_allowed(p)]
            report.gone.excluded = [p for p in unseen if not tree.folder_allowed(p)]
            stale_issues = [p for p in w.issues if _under(start, p) and p not in w.seen_issues]
            if stale_issues:
                yield ClearIssues(m, tuple(stale_issues))

    def _walk(self, w: _Walk, start: str) -> Iterator[FolderScan]:
        tree, counters = self.trees.of(w.m), w.report.counters

        def known_for(rel: str, ino: int) -> Known:
            return self._known(w, rel, ino)

        if start:
            return walk(tree, start, known_for, counters)
        shared = self.records.shared_dir
        stall = self.config.sync.scan_stall_seconds
        if w.m.key in self.unshared:
            self.unshared.discard(w.m.key)
        elif not self.records.has_records_in(w.m.key):
            if self.options.fork_walk and threading.active_count() == 1:  # a fork copies
                return walk_forked(tree, known_for, counters, stall)  # no lock another holds
        elif self.options.split_walk and shared is not None and not tree.follow_symlinks:
            return walk_shared(
                tree,
                known_for,
                HelperRecords(shared, {p: (r.id, r.inode) for p, r in w.dirs.items()}, w.by_folder),
                lambda rel, scan: self._adopt(w, rel, scan),
                counters,
                stall=stall,
            )
        return walk(tree, start, known_for, counters)

    def _adopt(self, w: _Walk, rel: str, scan: FolderScan | None) -> None:
        """A folder the helper walked: what `_known` would have noted of it."""
        if scan is None or scan.ino:  # opened (a folder that could not be is not visited)
            w.visited.add(rel)
        if scan is not None and scan.files and (row := w.dirs.get(rel)) is not None:
            w.names[rel] = list(self.records.known_in(row.id))

    def _known(self, w: _Walk, rel: str, ino: int) -> Known:
        """A folder is open: its records (after moving it remotely if it was renamed)."""
        w.visited.add(rel)
        path = w.old_path(rel)
        row = w.dirs.get(path)
        if row is None and path == rel and (old := w.finder.folder_source(rel, ino)) is not None:
            path = self._move_folder(w, old, rel)
            row = w.dirs.get(path)
        if ino and (row is None or row.inode != ino) and path == rel:
            w.notes.append(FolderInode(w.m, rel, ino))  # bookkeeping: the driver writes it
            ids = (row.dentry_id, row.dentry_uuid) if row is not None else ("", "")
            w.dirs[rel] = DirRow(row.id if row is not None else 0, ino, *ids)
        k = self.records.known_in(row.id) if row is not None and row.id else {}
        w.names[rel] = list(k)
        for name in w.by_folder.get(path, ()):
            k.pop(name, None)  # a file with an issue is looked at every time
        return k

    def _move_folder(self, w: _Walk, old: str, new: str) -> str:
        """Have the driver move a folder at once (one remote call); the path to read its
        records from: the new one once moved, the old one when it was only planned."""
        files = len(self.records.records_under(w.m.key, old))
        outcome = self.move_folder(MoveFolder(w.m, old, new, files))
        if outcome is Outcome.PLANNED:  # dry-run: read the old rows under the new name
            w.renamed[new] = old
            return old
        if outcome is not Outcome.MOVED:  # not as a whole: its files pair one by one
            return new
        w.dirs.clear()
        w.dirs.update(self.records.dirs(w.m.key))
        w.finder.moved(old, new, w.dirs)
        return new

    def _folder(self, w: _Walk, scan: FolderScan) -> Iterator[Planned]:
        m = w.m
        before = w.names.pop(scan.rel, [])  # never kept past its folder: memory stays flat
        for r in scan.refusals:
            if r.rel_path in w.issues:
                w.seen_issues.add(r.rel_path)
            yield refuse(m, r, w.issues.get(r.rel_path))
        if not scan.files:
            return
        now, policy, issues, recorded = time.time(), self.policy, w.issues, scan.recorded
        collisions = _collisions(scan, before)
        old_folder = w.old_path(scan.rel)
        cut = len(scan.rel) + 1 if scan.rel else 0
        listing: dict[str, Dentry] | None = None
        listed = False
        for f in scan.files:
            name = f.rel_path[cut:]
            issue = issues.get(f.rel_path) if issues else None
            if issue is not None:
                w.seen_issues.add(f.rel_path)
            record = (
                self.records.record(m.key, _join(old_folder, name)) if name in recorded else None
            )
            action = decide(m, f, record, issue, policy, now)
            if isinstance(action, Upload) and action.reason is Reason.NEW:
                if collisions and (other := collisions.get(name)) is not None:
                    yield refuse(m, case_refusal(f, other), issue)
                    continue
                if (source := w.finder.file_source(f)) is not None:
                    w.report.gone.moved_sources.add((source[0], source[1].rel_path))
                    yield move_action(m, f, *source)
                    continue
                if not listed:
                    yield from self._early_mkdir(m, scan.rel)
                    listing, listed = self._listing(m, scan.rel), True
                if listing is not None:
                    action = with_twin(action, listing.get(name), policy)
                if (
                    isinstance(action, Upload)
                    and action.reason is Reason.NEW
                    and w.finder.hold(action)
                ):
                    continue  # until the walk has seen what vanished
            if action is not None:
                yield action

    def _listing(self, m: Mapping, folder: str) -> dict[str, Dentry] | None:
        """The remote folder's entries, for adoption; None when unknown or unreadable."""
        try:
            return self.listings.listing(m, folder)
        except NotAskedError:
            return None
        except RemoteError as exc:
            log.warning(
                "remote.list_failed",
                mapping=str(m.local),
                folder=folder,
                error_code=exc.code,
                error=exc.message,
            )
            return None

    def _early_mkdir(self, m: Mapping, folder: str) -> Iterator[Planned]:
        """A folder with a new file, of which nothing is known remotely yet: finding out
        (its parent's listing) and then creating it would be two round trips before its
        first upload; the executor creates it meanwhile, only if nothing is there
        (`FolderResolver.create_new`). Once the parent is listed, the next folders need no
        guess."""
        if folder and self.listings.unseen(m, folder):
            yield Mkdir(m, folder)

    def root_check(self, m: Mapping) -> RootVerdict:
        """With deletes on: why mapping `m`'s root must not be synced, and the marker to
        write at a first sync (`root_marker`)."""
        return check_root(self.records, self.trees.of(m), m, self.config.sync.deletes)

    def finish(self, report: ScanReport, window: WindowCounts | None = None) -> Iterator[Planned]:
        """After a walk that saw everything: what becomes of the records of what is gone.
        After one that did not, nothing is deleted, and pending deletes say why. `window`:
        the daemon's delete window for the mapping (the guards count over it)."""
        s = self.config.sync
        if not report.complete:
            yield from _incomplete(report, s.deletes)
            return
        limits = DeleteLimits(s.max_delete, s.max_delete_percent, self.options.max_delete)
        yield from plan_deletes(
            self.records, report.mapping, report.gone, s.deletes, limits, window
        )

    def removed_mappings(self) -> Iterator[Planned]:
        """Mappings the store knows that the config no longer has: forget them."""
        configured = {m.key for m in self.config.mappings}
        for key in self.records.mapping_keys():
            if key not in configured:
                uuid, _, local = key.partition(":")
                files = self.records.summary(key)["files"]
                yield ForgetMapping(Mapping(Path(local), uuid), files)

    def housekeeping(self, m: Mapping) -> Iterator[Planned]:
        """What a pass does after its scans: purge what syncd trashed longer ago than the
        retention (nothing asked of the remote when nothing is due)."""
        s = self.config.sync
        days = s.trash_retention_days
        if days and self.records.trashed_before(m.key, cutoff_day(days, time.time())):
            yield PurgeTrash(m, days)

    def gone_with_records(self, m: Mapping, rel: str) -> bool:
        """A path that is not there but has a record (a file) or records below it (a folder)."""
        if self.trees.of(m).stat_key(rel) is not None:
            return False
        if self.records.record(m.key, rel) is not None:
            return True
        return self.records.dir_id(m.key, rel, create=False) is not None

    def path(self, m: Mapping, rel: str, *, force: bool = False) -> Iterator[Planned]:
        """Plan one path (the daemon's events): classify it and decide. `force`: its retry
        timer fired, so a quarantine does not hold it back."""
        tree = self.trees.of(m)
        entry = tree.classify(rel)
        issue = self.records.issue(m.key, rel)
        if entry is None:
            if issue is not None:
                yield ClearIssues(m, (rel,))
            return
        if not isinstance(entry, LocalFile):
            yield refuse(m, entry, issue)
            return
        record = self.records.record(m.key, rel)
        policy = self.policy if not force else _unquarantined(self.policy)
        action = decide(m, entry, record, issue, policy, time.time())
        if isinstance(action, Upload) and action.reason is Reason.NEW:
            yield from self._new_path(m, entry, action, issue)
        elif action is not None:
            yield action

    def _new_path(
        self, m: Mapping, f: LocalFile, action: Upload, issue: Issue | None
    ) -> Iterator[Planned]:
        known = self.records.known(m.key, f.folder)
        guard = CaseGuard()
        tree = self.trees.of(m)
        for name in sorted(known):  # `A` renamed to `a` is a rename, never a collision
            if name.casefold() == f.name.casefold():
                now = tree.stat_key(_join(f.folder, name))
                if now is None or now[2] == f.inode:  # gone, or this very file
                    continue
            guard.claim(name)
        if (other := guard.claim(f.name)) is not None:
            yield refuse(m, case_refusal(f, other), issue)
            return
        finder = MoveFinder(
            self.records, self.trees, m, {}, enabled=self.config.sync.renames is RenameMode.MOVE
        )
        source = finder.file_source(f)
        if source is not None:
            yield move_action(m, f, *source)
            return
        listing = self._listing(m, f.folder)
        yield with_twin(action, listing.get(f.name), self.policy) if listing is not None else action


def cutoff_day(days: int, now: float) -> str:
    """The first trash day (YYYY-MM-DD, UTC) a retention of `days` keeps."""
    return time.strftime("%Y-%m-%d", time.gmtime(now - days * 86400))


def _unquarantined(policy: Policy) -> Policy:
    return dataclasses.replace(policy, honour_quarantine=False)


def _collisions(scan: FolderScan, before: list[str]) -> dict[str, str]:
    """New names in a folder that differ only in case from a recorded name, or from a new
    name that sorts first: name -> the name it collides with."""
    cut = len(scan.rel) + 1 if scan.rel else 0
    recorded = scan.recorded
    names = [n for f in scan.files if (n := f.rel_path[cut:]) not in recorded]
    if not names or (not before and len({n.casefold() for n in names}) == len(names)):
        return {}
    new = sorted(names)
    guard = CaseGuard()
    vanished = set(scan.vanished)
    for name in sorted(n for n in before if n not in vanished):
        guard.claim(name)
    return {name: other for name in new if (other := guard.claim(name)) is not None}


def _incomplete(report: ScanReport, mode: DeleteMode) -> Iterator[Planned]:
    gone, m = report.gone, report.mapping
    pending = [p for p in gone.vanished if (m.key, p) not in gone.moved_sources]
    if mode is not DeleteMode.TRASH or not (pending or gone.dirs):
        return
    failed = report.counters.failed
    where = ", ".join(display(f) for f in failed[:3]) + (" …" if len(failed) > 3 else "")
    if report.counters.stalled:
        yield Blocked(
            m,
            "the scan's helper process made no progress and was killed; nothing is deleted "
            "after an incomplete scan",
            len(pending) + len(gone.dirs),
            "the mapping is scanned again at once, without a helper",
        )
        return
    yield Blocked(
        m,
        f"the scan could not read {where}; nothing is deleted after a scan that missed folders",
        len(pending) + len(gone.dirs),
        "make those folders readable by the service user: the next complete scan makes the deletes",
    )
