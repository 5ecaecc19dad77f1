"""Writing the mapping root's `.syncd-root` marker (`WriteMarker`): an empty file syncd
never uploads, like Syncthing's `.stfolder`, and the root's file system noted with it."""

from __future__ import annotations

import os
import time

import structlog

from syncd.core.actions import Outcome, WriteMarker
from syncd.core.model import MARKER
from syncd.execute.context import Context

log = structlog.get_logger(__name__)


def write_marker(ctx: Context, a: WriteMarker) -> Outcome:
    m = a.mapping
    try:
        with ctx.tree(m).root() as root:
            fd = os.open(
                MARKER,
                os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o644,
                dir_fd=root.fd,
            )
            os.close(fd)
    except OSError as exc:
        log.warning(
            "marker.failed",
            error=exc.strerror,
            hint="deletes need write access to the mapping root for the marker",
        )
        return Outcome.UNCHANGED
    now = time.time()
    ctx.write("marker", lambda: ctx.state.set_mapping_info(m.key, first_synced=now, dev=a.dev))
    return Outcome.UNCHANGED
