"""The mapping root's marker: the guard against deleting everything from a root that is not
mounted (`sync.deletes: trash`).

The first sync with deletes on has the driver write `.syncd-root` (an empty file syncd never
uploads, like Syncthing's `.stfolder`) and note the root's file system (`WriteMarker`);
later, a root that has records but is empty, on another file system or without its marker
looks unmounted, and nothing is deleted or uploaded (`guards.root_problem` decides from
these facts). Only reads here.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from syncd.core.actions import WriteMarker
from syncd.core.model import MARKER
from syncd.core.settings import DeleteMode, Mapping
from syncd.local.fs import LocalTree
from syncd.plan.guards import RootFacts, root_problem
from syncd.plan.ports import Records


class RootVerdict(NamedTuple):
    problem: str | None = None  # why the mapping must not be synced now
    marker: WriteMarker | None = None  # the marker to write first (a first sync)


def check_root(records: Records, tree: LocalTree, m: Mapping, deletes: DeleteMode) -> RootVerdict:
    """With deletes on: why mapping `m`'s root must not be synced (None: go ahead), and the
    marker to write when none was written yet."""
    if deletes is not DeleteMode.TRASH:
        return RootVerdict()
    info = records.mapping_info(m.key)
    with tree.root() as root:
        marker = _exists(root.fd, MARKER)
        with os.scandir(root.fd) as entries:  # `any` stops early: close it, not the GC
            empty = not any(e.name != MARKER for e in entries)
        seen = bool(info.first_synced)  # the marker was written once: it must be there
        facts = RootFacts(
            records.has_records_in(m.key),
            marker or not seen,
            empty,
            root.dev,
            info.dev if seen else 0,
        )
        problem = root_problem(facts)
        if problem is None and not (marker and info.first_synced):
            return RootVerdict(None, WriteMarker(m, root.dev))
    return RootVerdict(problem)


def _exists(dir_fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        return True
    except FileNotFoundError:
        return False
