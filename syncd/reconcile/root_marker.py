"""The mapping root's marker: the guard against deleting everything from a root that is not
mounted (`sync.deletes: trash`).

The first sync with deletes on writes `.syncd-root` (an empty file syncd never uploads, like
Syncthing's `.stfolder`) and notes the root's file system; later, a root that has records but
is empty, on another file system or without its marker looks unmounted, and nothing is deleted
or uploaded (`guards.root_problem` decides from these facts).
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import structlog

from syncd.core.settings import DeleteMode, Mapping
from syncd.plan.guards import MARKER, RootFacts, root_problem

if TYPE_CHECKING:
    from syncd.execute.executor import Executor

log = structlog.get_logger(__name__)


def check_root(ex: Executor, m: Mapping) -> str | None:
    """With deletes on: why mapping `m`'s root must not be synced (None: go ahead).

    The first sync with deletes on writes the `.syncd-root` marker (never uploaded) and
    notes the file system; later, a root that has records but is empty, on another file
    system or without its marker looks unmounted, and nothing is deleted or uploaded.
    """
    if ex.config.sync.deletes is not DeleteMode.TRASH:
        return None
    info = ex.state.mapping_info(m.key)
    with ex.tree(m).root() as root:
        marker = _exists(root.fd, MARKER)
        empty = not any(e.name != MARKER for e in os.scandir(root.fd))
        seen = bool(info.first_synced)  # the marker was written once: it must be there
        facts = RootFacts(
            ex.state.has_records_in(m.key),
            marker or not seen,
            empty,
            root.dev,
            info.dev if seen else 0,
        )
        problem = root_problem(facts)
        if problem is None and not ex.dry_run and not (marker and info.first_synced):
            _write_marker(root.fd)
            ex.write(
                "marker",
                lambda: ex.state.set_mapping_info(m.key, first_synced=time.time(), dev=root.dev),
            )
    return problem


def _exists(dir_fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        return True
    except FileNotFoundError:
        return False


def _write_marker(dir_fd: int) -> None:
    """The `.syncd-root` marker: an empty file syncd never uploads (Syncthing's .stfolder)."""
    try:
        fd = os.open(
            MARKER, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=dir_fd
        )
    except OSError as exc:
        log.warning(
            "marker.failed",
            error=exc.strerror,
            hint="deletes need write access to the mapping root for the marker",
        )
        return
    os.close(fd)
