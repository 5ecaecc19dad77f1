"""`sync.trash_retention_days`: empty trash days older than that, each file logged.

The only permanent delete syncd ever makes, and only inside its own trash folder: a day
folder (`<trash_folder>/YYYY-MM-DD`) older than the retention is listed (every file in it is
logged as `trash.purged`) and then deleted remotely in one call.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from syncd.core.actions import Outcome, PurgeTrash
from syncd.core.errors import RemoteError
from syncd.core.model import Dentry
from syncd.core.settings import DeleteMode, Mapping
from syncd.execute.context import Context

if TYPE_CHECKING:
    from syncd.remote.dentries import DentryApi

log = structlog.get_logger(__name__)
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def purge(ctx: Context, a: PurgeTrash) -> Outcome:
    if ctx.blocked_reason(a.mapping) is not None:
        return Outcome.ABANDONED
    purge_trash(ctx, a.mapping, a.retention_days)
    return Outcome.UNCHANGED


def purge_trash(ctx: Context, m: Mapping, days: int, now: datetime | None = None) -> int:
    """Delete the trash days of mapping `m` older than `days`; the files purged."""
    s = ctx.config.sync
    if s.deletes is not DeleteMode.TRASH or not days:
        return 0
    cutoff = ((now or datetime.now(UTC)) - timedelta(days=days)).strftime("%Y-%m-%d")
    remote = ctx.remote()
    t = ctx.target(m)
    try:
        root = remote.folders.root(t)
        trash = next(
            (
                d
                for d in remote.dentries.list(root.space_id, root.dentry_id)
                if d.is_folder and d.name == s.trash_folder
            ),
            None,
        )
        if trash is None:
            return 0
        purged = 0
        for day in list(remote.dentries.list(root.space_id, trash.id)):
            if day.is_folder and DAY.fullmatch(day.name) and day.name < cutoff:
                gone = f"{s.trash_folder}/{day.name}"
                purged += _purge_day(remote.dentries, root.space_id, day, gone, m)
                remote.folders.forget(t, gone)
                ctx.write("trash", functools.partial(ctx.state.forget_dir, m.key, gone))
        return purged
    except RemoteError as exc:
        log.warning(
            "trash.purge_failed", mapping=str(m.local), error_code=exc.code, error=exc.message
        )
        return 0


def _purge_day(api: DentryApi, space: str, day: Dentry, path: str, m: Mapping) -> int:
    count = 0
    for rel in _files(api, space, day, path):
        log.info("trash.purged", mapping=str(m.local), path=rel)
        count += 1
    api.delete(space, day.id)
    return count


def _files(api: DentryApi, space: str, folder: Dentry, path: str) -> Iterator[str]:
    for d in api.list(space, folder.id):
        if d.is_folder:
            yield from _files(api, space, d, f"{path}/{d.name}")
        else:
            yield f"{path}/{d.name}"
