"""`sync.trash_retention_days`: delete for good what syncd moved into its trash that long ago.

The only permanent delete syncd ever makes, and only of what it moved there itself: each
thing the trash's ledger holds (`trashed`, written by each move into the trash) from a day
before the retention's cutoff is deleted remotely, one call each, and logged
(`trash.purged`). Whatever else is in the trash folder — a colleague's file dropped there —
is never touched, and a pass with nothing due makes no call at all.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

import structlog

from syncd.core.actions import Outcome, PurgeTrash
from syncd.core.errors import RemoteError
from syncd.execute.context import Context

log = structlog.get_logger(__name__)


def cutoff_day(days: int, now: datetime | None = None) -> str:
    """The first trash day (YYYY-MM-DD, UTC) a retention of `days` keeps."""
    return ((now or datetime.now(UTC)) - timedelta(days=days)).strftime("%Y-%m-%d")


def purge(ctx: Context, a: PurgeTrash) -> Outcome:
    m = a.mapping
    if ctx.blocked_reason(m) is not None:
        return Outcome.ABANDONED
    due = ctx.state.trashed_before(m.key, cutoff_day(a.retention_days))
    if not due:
        return Outcome.UNCHANGED
    if not ctx.can_afford(len(due)):  # uploads come first; the trash waits (§4.11)
        log.info(
            "trash.purge_skipped",
            mapping=str(m.local),
            due=len(due),
            reason="the month's call budget cannot pay for it; the next pass tries again",
        )
        return Outcome.UNCHANGED
    dentries = ctx.remote().dentries
    try:
        for t in due:
            dentries.delete(t.space_id, t.dentry_id)  # one already gone is fine
            ctx.write("trash", functools.partial(ctx.state.forget_trashed, m.key, t.dentry_id))
            log.info(
                "trash.purged",
                mapping=str(m.local),
                path=t.path + ("/" if t.is_folder else ""),
                trashed_on=t.day,
            )
    except RemoteError as exc:
        log.warning(
            "trash.purge_failed", mapping=str(m.local), error_code=exc.code, error=exc.message
        )
        return Outcome.FAILED
    return Outcome.UNCHANGED
