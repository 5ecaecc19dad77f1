"""Dry-run: print each action as a `plan.*` line and do nothing else.

No request of any kind and no state write. The line for an upload keeps the fields
operators script against (path, remote folder, reason, size); every line carries the
action's own text. A touch is told from an edit by hashing the file (a local read).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import structlog

from syncd.core.actions import (
    Action,
    Adopt,
    Blocked,
    ClearIssues,
    Defer,
    Forget,
    Hold,
    Mkdir,
    Move,
    MoveFolder,
    Outcome,
    Refuse,
    ResolveRemoteChange,
    Reupload,
    Touch,
    Trash,
    Upload,
    Verify,
)
from syncd.obs.plan_lines import emit, emit_upload, flush
from syncd.plan.decide import decide

if TYPE_CHECKING:
    from syncd.execute.executor import Executor

log = structlog.get_logger(__name__)


_EVENTS: dict[type, str] = {
    Adopt: "plan.adopt",
    Forget: "plan.forget",
    Move: "plan.move",
    MoveFolder: "plan.move",
    Trash: "plan.trash",
    ResolveRemoteChange: "plan.resolve",
}

# isinstance with a tuple: `A | B` would build a union object at every call (a hot path)
_UPLOADS = (Upload, Reupload)
_REFUSALS = (Refuse, Hold)
_SILENT = (Touch, ClearIssues, Defer)


def print_plan(ex: Executor, a: Action | Defer) -> Outcome:
    if isinstance(a, _UPLOADS):
        return _upload(ex, a)
    if isinstance(a, Verify):
        return _verify(ex, a)
    if isinstance(a, _REFUSALS):
        return ex.refuse(a) if isinstance(a, Refuse) else ex.hold(a)
    if isinstance(a, Mkdir):
        remote = f"{a.mapping.parent_dentry_uuid}/{a.folder}"
        emit("plan.mkdir", mapping=str(a.mapping.local), remote_folder=remote)
        return Outcome.PLANNED
    if isinstance(a, _SILENT) or (isinstance(a, Forget) and not a.paths):
        return Outcome.UNCHANGED
    flush()
    if isinstance(a, Blocked):
        log.warning(
            "plan.blocked",
            mapping=str(a.mapping.local),
            action=str(a),
            reason=a.reason,
            **({"hint": a.hint} if a.hint else {}),
        )
        return Outcome.PLANNED
    log.info(_EVENTS.get(type(a), "plan.action"), mapping=str(a.mapping.local), action=str(a))
    return Outcome.PLANNED


def _upload(ex: Executor, a: Upload | Reupload) -> Outcome:
    m, f = a.mapping, a.file
    if ex.honour_quarantine and not ex.dry_memo(m, f):
        return Outcome.PLANNED  # the daemon's rescans do not repeat a plan line
    reason: str = a.reason if isinstance(a, Upload) else "deleted remotely"  # a StrEnum
    folder = f.rel_path.rpartition("/")[0]
    remote = f"{m.parent_dentry_uuid}/{folder}" if folder else m.parent_dentry_uuid
    emit_upload(str(m.local), f.rel_path, remote, reason, f.size)
    return Outcome.PLANNED


def _verify(ex: Executor, a: Verify) -> Outcome:
    try:
        sha = ex.tree(a.mapping).hash(a.file)
    except (OSError, Exception):  # noqa: BLE001 - a dry-run never fails on one file
        return Outcome.UNCHANGED
    nxt = decide(a.mapping, a.file, a.record, None, ex.policy, time.time(), sha256=sha)
    if isinstance(nxt, Upload):
        return _upload(ex, nxt)
    return Outcome.UNCHANGED
