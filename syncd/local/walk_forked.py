"""The same walk, run in a forked child process: listing and stat on the second core.

A first `sync --dry-run` over a big share is CPU-bound in one process: the walk (a listdir
per folder, a stat and a classification per entry) took ~45 % of it, planning and printing
the rest. Here `walk()` itself runs in a child forked for the purpose (`helper`) and
sends each folder's `FolderScan` back through a pipe, pickled in batches, while the parent
plans the folders it already has. The child reads exactly what the in-process walk reads
(the same code: descriptors opened with O_NOFOLLOW from the root). A full pipe blocks it,
so it runs at most a pipe's worth ahead and memory stays flat.

The caller decides where it is used (see `Reconciler.fork_walk`): a process that runs no
other thread and a full walk of a mapping that has no records yet, so the child needs no
records to compare with. `known_for` is still called in the parent for each folder, in
walk order, for its side effects; should it return records after all, that folder's
comparison is left to the next walk and the scan counts as incomplete (nothing is deleted
after it).
"""

from __future__ import annotations

from collections.abc import Iterator

from syncd.core.errors import RootUnavailable
from syncd.local import helper as proc
from syncd.local.fs import LocalTree
from syncd.local.helper import BATCH_ENTRIES, DONE, ENDED, SCANS, STALLED, Packed, Send
from syncd.local.walk import FolderScan, KnownFor, WalkCounters, walk


def walk_forked(
    tree: LocalTree,
    known_for: KnownFor | None,
    counters: WalkCounters,
    stall: float | None = None,
) -> Iterator[FolderScan]:
    """`walk(tree, "", known_for, counters)`, listed by a child process (killed when it
    sends nothing for `stall` seconds)."""
    helper = proc.start(lambda send: _walk_into(tree, send), stall)
    try:
        while True:
            kind, payload = helper.receive()
            if kind == SCANS:
                for packed in payload:
                    scan = proc.unpack(packed)
                    if known_for is not None and known_for(scan.rel, scan.ino):
                        counters.failed.append(scan.rel)  # records appeared: compare next time
                    yield scan
            elif kind == DONE:
                helper.done = True
                proc.merge(counters, payload)
                return
            elif kind == ENDED:
                raise RootUnavailable(tree.path, "the scan's worker process ended early")
            elif kind == STALLED:
                counters.stalled = True
                raise RootUnavailable(
                    tree.path, f"the scan's worker process made no progress for {payload:g} s"
                )
            else:
                raise RootUnavailable(tree.path, f"the scan's worker process failed: {payload}")
    finally:
        helper.close()


def _walk_into(tree: LocalTree, send: Send) -> None:  # pragma: no cover - runs in the child
    counters = WalkCounters()
    batch: list[Packed] = []
    entries = 0
    for scan in walk(tree, "", None, counters):
        batch.append(proc.pack(scan))
        entries += 1 + len(scan.files) + len(scan.refusals)
        if entries >= BATCH_ENTRIES:
            send(SCANS, batch)
            batch, entries = [], 0
    send(SCANS, batch)
    send(DONE, counters)
