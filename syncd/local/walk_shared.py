"""A full rescan shared with a helper process: two cores stat the tree.

A rescan of a quiet tree is a stat per entry and a comparison with that folder's records;
in one process it took ~2.5x `find` at 100,000 files, half of it the kernel's stat. Here
the walk is split by subtree:

1. The parent walks the top of the mapping itself (the root, then one level after another
   while it has fewer than `WANT` folders, at most `MAX_DEPTH`), through the same `walk()`,
   and stops at the folders below: those are the *frontier*.
2. It deals the frontier into at most `MAX_CHUNKS` runs of neighbours, puts their numbers
   in a pipe, and starts a helper (`helper`): forked where no other thread runs
   (`sync`), else a new interpreter (`syncd run`: a fork could copy a lock another thread
   holds, SQLite's among them). Parent and helper each take the next number from the pipe
   (a 4-byte read: the kernel hands each to one of them) and walk that run's subtrees,
   until none is left: whoever is faster walks more.
3. The helper compares each folder with its records on a read-only SQLite connection of its
   own (`HelperRecords`). A folder that is not as recorded (no row, or another inode: it may
   be a recorded folder moved, and only the parent acts) is handed back, unread, and the
   parent walks it and what is below it. Of a quiet folder only its name comes back; a
   folder with anything new, changed, gone or refused comes back whole, and the parent
   plans it as its own.

Every folder is walked once, by one of the two, with the code of the single walk; only the
order differs, and nothing that plans a walk depends on it (a move waits for the end of the
walk). Should the helper fail or die, the parent takes the runs that are left and counts
those the helper had taken as unread: the scan is incomplete and nothing is deleted after
it. The helper is supervised: one that sends nothing for `stall` seconds (stopped, hung on
a dead mount) is killed, and the same holds (`counters.stalled` says so). Used for a full
walk of a mapping that has records and does not follow symlinks (a followed link may lead
above the subtree it is found in, and a subtree walked on its own would not know the
folders above it).
"""

from __future__ import annotations

import functools
import os
import struct
import threading
from collections import deque
from collections.abc import Callable, Iterator

import structlog

from syncd.core.model import Known
from syncd.local import helper as proc
from syncd.local.fs import LocalTree, Root
from syncd.local.helper import BATCH_ENTRIES, DONE, ERROR, SCANS, STALLED, Helper, Packed, Send
from syncd.local.walk import FolderScan, KnownFor, WalkCounters, walk

log = structlog.get_logger(__name__)

WANT = 16  # frontier folders enough to share the work
MAX_DEPTH = 3  # levels the parent walks alone, at most, to find them
MAX_CHUNKS = 1024  # runs of the frontier: 4 KiB of numbers, one page of a pipe
_TOKEN = struct.Struct("<I")

Adopt = Callable[[str, FolderScan | None], None]  # a folder the helper walked (its scan)
ChildKnown = Callable[[], KnownFor]  # builds the helper's `known_for`, in the helper
# the helper's SCANS: quiet folders, whole scans, folders handed back, runs done, unread
# folders, folders gone between their listing and their opening
Message = tuple[list[str], list[Packed], list[str], list[int], list[str], list[str]]


def walk_shared(
    tree: LocalTree,
    known_for: KnownFor,
    child_known: ChildKnown,
    adopt: Adopt,
    counters: WalkCounters,
    *,
    spawn: bool = False,
    stall: float | None = None,
) -> Iterator[FolderScan]:
    """`walk(tree, "", known_for, counters)`, shared with a helper process: forked where
    no other thread runs, else (or with `spawn`) a new interpreter, as in `syncd run`.

    The parent calls `known_for` for the folders it walks; `child_known()` is called in the
    helper and gives its own (None: hand the folder back); `adopt(rel, scan)` tells the
    parent of each folder the helper walked, with its scan when there is something to plan
    (that scan is then yielded as well).
    """
    with tree.root() as root:  # opened once: each subtree's walk starts from it
        top, frontier = _top(tree, root, known_for, counters)
        runs = _runs(frontier)
        claims = _Claims.offer(len(runs)) if len(runs) > 1 else None
        helper = None
        if claims is not None:
            helper = _start(tree, root, runs, claims, child_known, spawn, stall)
        if claims is None or helper is None:
            yield from top
            for rel in frontier:
                yield from walk(tree, rel, known_for, counters, root=root)
            return
        shared = _Shared(tree, root, known_for, adopt, counters, runs, claims, helper)
        try:
            yield from shared.run(top)
        finally:
            claims.close()
            helper.close()


def _start(
    tree: LocalTree,
    root: Root,
    runs: list[list[str]],
    claims: _Claims,
    child_known: ChildKnown,
    spawn: bool,
    stall: float | None,
) -> Helper | None:
    """The helper, or None (the claims closed) when no process can be had."""
    work = functools.partial(_help, tree, root, runs, claims, child_known)
    try:
        if spawn or threading.active_count() > 1:  # a fork copies no lock another thread holds
            return proc.spawn(work, (root.fd, claims.fd), stall)
        return proc.start(work, stall)
    except OSError as exc:  # EAGAIN, ENOMEM: the parent walks alone
        log.debug("scan.unshared", error=exc.strerror)
        claims.close()
        return None


def _top(
    tree: LocalTree, root: Root, known_for: KnownFor, counters: WalkCounters
) -> tuple[list[FolderScan], list[str]]:
    """The parent's own walk of the top levels: their scans, and the frontier below."""
    scans: list[FolderScan] = []
    level = [""]
    for depth in range(MAX_DEPTH):
        below: list[str] = []
        for start in level:
            scans.extend(walk(tree, start, known_for, counters, root=root, frontier=below))
        if len(below) >= WANT or not below or depth == MAX_DEPTH - 1:
            return scans, below
        level = below
    return scans, []  # pragma: no cover - the loop always returns


def _runs(frontier: list[str]) -> list[list[str]]:
    if not frontier:
        return []
    size = -(-len(frontier) // MAX_CHUNKS)
    return [frontier[i : i + size] for i in range(0, len(frontier), size)]


class _Claims:
    """The runs still to walk, as numbers in a pipe both processes read from."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    @classmethod
    def offer(cls, n: int) -> _Claims | None:
        """A pipe holding 0..n-1; None when it cannot take them without blocking."""
        read_fd, write_fd = os.pipe()
        data = b"".join(_TOKEN.pack(i) for i in range(n))
        try:
            os.set_blocking(write_fd, False)
            written = os.write(write_fd, data)
        except BlockingIOError:
            written = 0
        finally:
            os.close(write_fd)
        if written == len(data):
            return cls(read_fd)
        os.close(read_fd)
        return None

    def take(self) -> int | None:
        data = os.read(self.fd, _TOKEN.size)
        return _TOKEN.unpack(data)[0] if data else None

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class _Shared:
    """The parent's side: its own walks, the helper's messages, what is handed back."""

    def __init__(
        self,
        tree: LocalTree,
        root: Root,
        known_for: KnownFor,
        adopt: Adopt,
        counters: WalkCounters,
        runs: list[list[str]],
        claims: _Claims,
        helper: Helper,
    ) -> None:
        self.tree, self.root, self.known_for = tree, root, known_for
        self.adopt, self.counters = adopt, counters
        self.runs, self.claims, self.helper = runs, claims, helper
        self.mine: set[int] = set()
        self.theirs: set[int] = set()  # runs the helper finished
        self.back: deque[str] = deque()  # folders handed back, to walk here
        self.over = False  # the helper said it was done, failed or ended
        self.handed_back = 0

    def run(self, top: list[FolderScan]) -> Iterator[FolderScan]:
        for scan in top:
            yield scan
            yield from self._poll()
        while (rel := self._next()) is not None:
            yield from self._walk(rel)
        if len(self.mine) == len(self.runs):
            self.over = True  # the helper took nothing (a spawned one may not have started)
        while not self.over:
            yield from self._take()
            while self.back:
                yield from self._walk(self.back.popleft())
        self._count_lost()
        log.debug(
            "scan.shared",
            runs=len(self.runs),
            by_helper=len(self.theirs),
            handed_back=self.handed_back,
        )

    def _next(self) -> str | None:
        """A folder handed back, else the first of the next run (its others are queued)."""
        if self.back:
            return self.back.popleft()
        n = self.claims.take()
        if n is None:
            return None
        self.mine.add(n)
        first, *rest = self.runs[n]
        self.back.extend(rest)
        return first

    def _walk(self, start: str) -> Iterator[FolderScan]:
        for scan in walk(self.tree, start, self.known_for, self.counters, root=self.root):
            yield scan
            yield from self._poll()

    def _poll(self) -> Iterator[FolderScan]:
        while not self.over and self.helper.ready():
            yield from self._take()

    def _take(self) -> Iterator[FolderScan]:
        kind, payload = self.helper.receive()
        if kind == SCANS:
            quiet, scans, back, done, failed, moving = payload
            self.counters.failed.extend(failed)  # with the runs it finished, not at the end
            self.counters.moving.extend(moving)
            for rel in quiet:
                self.adopt(rel, None)
            self.back.extend(back)
            self.handed_back += len(back)
            self.theirs.update(done)
            for packed in scans:
                scan = proc.unpack(packed)
                self.adopt(scan.rel, scan)
                yield scan
        elif kind == DONE:
            self.helper.done = self.over = True
            proc.merge(self.counters, payload)
        elif kind == STALLED:
            self.over = self.counters.stalled = True
            log.warning(
                "scan.helper_stalled",
                pid=self.helper.pid,
                seconds=payload,
                action="killed; nothing is deleted after this scan, and the mapping is "
                "scanned again without a helper",
            )
        else:  # ERROR, or the pipe ended without a word
            self.over = True
            log.warning(
                "scan.helper_failed",
                error=payload if kind == ERROR else "the helper process ended",
                action="the folders it had taken are read at the next scan",
            )

    def _count_lost(self) -> None:
        """Runs the helper took but did not finish: unread, so the scan is incomplete."""
        for n in range(len(self.runs)):
            if n not in self.mine and n not in self.theirs:
                self.counters.failed.extend(self.runs[n])


def _help(  # pragma: no cover - runs in the helper; checked through the parent
    tree: LocalTree,
    root: Root,
    runs: list[list[str]],
    claims: _Claims,
    child_known: ChildKnown,
    send: Send,
) -> None:
    known = child_known()
    back: list[str] = []

    def known_for(rel: str, ino: int) -> Known | None:
        k = known(rel, ino)
        if k is None:
            back.append(rel)
        return k

    counters = WalkCounters()
    out = _Batch(counters)
    while (n := claims.take()) is not None:
        for start in runs[n]:
            for scan in walk(tree, start, known_for, counters, root=root):
                out.add(scan)
                if out.entries >= BATCH_ENTRIES:
                    send(SCANS, out.take(back))
            if back:  # the parent walks these meanwhile
                send(SCANS, out.take(back))
        out.done.append(n)
    send(SCANS, out.take(back))
    counters.failed, counters.moving = [], []  # sent already, each with its runs
    send(DONE, counters)


class _Batch:  # pragma: no cover - runs in the helper
    """The helper's next message: quiet folders by name, the others whole."""

    def __init__(self, counters: WalkCounters) -> None:
        self.counters = counters
        self.sent_failed = 0  # of counters.failed
        self.sent_moving = 0  # of counters.moving
        self.quiet: list[str] = []
        self.scans: list[Packed] = []
        self.done: list[int] = []
        self.entries = 0

    def add(self, scan: FolderScan) -> None:
        if scan.files or scan.refusals or scan.vanished or scan.stale:
            self.scans.append(proc.pack(scan))
            self.entries += 1 + len(scan.files) + len(scan.refusals) + len(scan.vanished)
        else:
            self.quiet.append(scan.rel)
            self.entries += 1

    def take(self, back: list[str]) -> Message:
        """The message; the folders that could not be read go with it, so that a run
        reported done has its unread folders with it, should the helper die before DONE."""
        failed = self.counters.failed[self.sent_failed :]
        self.sent_failed = len(self.counters.failed)
        moving = self.counters.moving[self.sent_moving :]
        self.sent_moving = len(self.counters.moving)
        message = (self.quiet, self.scans, back[:], self.done, failed, moving)
        back.clear()
        self.quiet, self.scans, self.done, self.entries = [], [], [], 0
        return message
